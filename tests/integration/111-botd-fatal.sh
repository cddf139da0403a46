#!/bin/sh
# 111-botd-fatal: crashloop_deaths deaths within crashloop_window make a
# bot FATAL with one "gave up" warning; fatal_retry retries it slowly
# (the warning is not repeated); with fatal_retry = 0 it stays FATAL
# until `botctl start` clears it. Exit code 100 is FATAL at once, with no
# retry at all. start/stop/restart hammered at a crash-looping bot leave
# botd serving.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 12 111-botd-fatal

LOOP="ready = none
start_seconds = 0
backoff_initial = 30ms
backoff_max = 100ms
crashloop_deaths = 3
crashloop_window = 30s"
bd_conf "$W/botd.ini"
bd_bot "$W/botd.ini" retry "-x 1" "$LOOP
fatal_retry = 700ms"
bd_bot "$W/botd.ini" never "-x 1 -H $W/healthy" "$LOOP
fatal_retry = 0"
bd_bot "$W/botd.ini" perm "-x 100" "ready = none
start_seconds = 0
backoff_initial = 30ms"
bd_bot "$W/botd.ini" fuzz "-x 3" "ready = none
start_seconds = 0
backoff_initial = 10ms
backoff_max = 20ms
crashloop_deaths = 64
fatal_retry = 100ms"
botd_start "$W/botd.ini"

wait_state never FATAL
wait_state perm FATAL
is "perm: FATAL after exit 100, one start" \
    "$(st perm state) $(starts perm) $(st perm last_exit_code)" "FATAL 1 100"
check "perm: the reason says permanent failure" \
    contains "$(st perm fatal_reason)" "permanent failure"

wait_state retry FATAL
is "retry: FATAL after 3 deaths" "$(starts retry)" 3
contains "$(st retry fatal_reason)" "crash loop: 3 deaths" &&
    ok "retry: the reason says crash loop" ||
    not_ok "retry: the reason says crash loop"
# The slow retry: two more starts, each one fatal_retry apart.
wait_until 10 "[ \$(starts retry) -ge 5 ]"
gaps=$(start_times retry | awk 'NR > 3 { print $1 - p } { p = $1 }' |
    tr '\n' ' ')
set -- $gaps
if [ $# -ge 2 ] && [ "$1" -ge 600 ] && [ "$2" -ge 600 ] &&
    [ "$1" -le 1500 ] && [ "$2" -le 1500 ]; then
	ok "retry: slow retries every fatal_retry (gaps $gaps)"
else
	not_ok "retry: slow retries every fatal_retry"
	diag "gaps: $gaps"
fi
wait_state retry FATAL
is "retry: one 'gave up' warning for the whole loop" \
    "$(grep -c 'bot retry: gave up' "$W/botd.err")" 1

# never: no retry; botctl start clears FATAL (and the bot is healthy now).
n=$(starts never)
sleep 0.5
is "never: no retry with fatal_retry = 0" "$(starts never) $(st never state)" \
    "$n FATAL"
: >"$W/healthy"
bctl start --wait --timeout 20 never
is "never: botctl start clears FATAL" \
    "$RC $(st never state) $(st never deaths) $(st never fatal_reason)" \
    "0 RUNNING 0 null"
is "perm: still one start, no hammering" "$(starts perm)" 1

# Hammer the crash-looping bot with requests; botd keeps serving.
i=0
while [ $i -lt 8 ]; do
	"$BOTCTL" -s "$SOCK" restart fuzz >/dev/null 2>&1
	"$BOTCTL" -s "$SOCK" stop fuzz >/dev/null 2>&1
	"$BOTCTL" -s "$SOCK" start fuzz >/dev/null 2>&1
	i=$((i + 1))
done
bctl status never
if alive "$BOTD_PID" && [ "$RC" = 0 ]; then
	ok "fuzz: botd survives start/stop/restart during a crash loop"
else
	not_ok "fuzz: botd survives start/stop/restart during a crash loop"
	diag "rc $RC: $OUT"
fi
bctl stop --wait fuzz
is "fuzz: it stops and stays stopped" "$RC $(st fuzz state)" "0 STOPPED"
kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 20
is "botd exits 0" "$T_RC" 0
t_done
