#!/bin/sh
# 120-botd-ready: readiness and heartbeats over BOTD_NOTIFY_FD. A bot
# that stops sending WATCHDOG=1 is killed when the watchdog expires and
# restarted; one that never sends READY=1 is killed at start_timeout and
# never counts as RUNNING; with ready = none a bot is RUNNING after
# start_seconds alive, and one that dies sooner never is. STATUS= text
# shows in the status; BOTD_WATCHDOG_SEC is passed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 10 120-botd-ready

bd_conf "$W/botd.ini"
bd_bot "$W/botd.ini" hang "-r -w 100 -W 4 -e $W/hang.env" "watchdog = 500ms
backoff_initial = 50ms"
bd_bot "$W/botd.ini" mute "" "start_timeout = 300ms
backoff_initial = 50ms"
bd_bot "$W/botd.ini" late "-R 300 -s hello" "start_timeout = 5s"
bd_bot "$W/botd.ini" none "" "ready = none
start_seconds = 600ms"
bd_bot "$W/botd.ini" early "-x 1 -t 100" "ready = none
start_seconds = 1s
backoff_initial = 50ms"
botd_start "$W/botd.ini"

# late: STARTING until its READY=1 after 300 ms.
is "late: STARTING before READY=1" "$(st late state) $(st late ready)" \
    "STARTING false"
wait_state late RUNNING
is "late: RUNNING and ready after READY=1, STATUS= text shown" \
    "$(st late ready) $(st late status)" "true hello"

# The status file is written at the transition: uptime_ms then.
wait_state none RUNNING
t=$(st none uptime_ms)
check "none: RUNNING after start_seconds (600 ms; $t ms)" \
    [ "$t" -ge 600 -a "$t" -lt 2000 ]
t=$(st late uptime_ms)
check "late: RUNNING at READY=1 after 300 ms ($t ms)" [ "$t" -ge 300 ]

wait_until 10 "[ \$(starts hang) -ge 2 ]"
wait_until 5 "[ \"\$(st hang last_exit_cause)\" = watchdog ]"
# botd's own measure: the uptime of the killed child, from its spawn.
up=$(st hang last_uptime_ms)
if [ "$up" -ge 900 ] && [ "$up" -le 3000 ]; then
	ok "hang: killed after 4 beats and a 500 ms watchdog ($up ms up)"
else
	not_ok "hang: killed after 4 beats and a 500 ms watchdog"
	diag "uptime $up"
fi
is "hang: the last exit was the watchdog's SIGKILL" \
    "$(st hang last_exit_cause) $(st hang last_exit_signal)" "watchdog KILL"
first=$(head -n 1 "$W/hang/starts" | cut -d' ' -f1)
check "hang: the hung process is gone" sh -c "! kill -0 $first 2>/dev/null"
check "hang: BOTD_WATCHDOG_SEC=0.500 was passed" \
    grep -qx 'env BOTD_WATCHDOG_SEC=0.500' "$W/hang.env"

wait_until 10 "[ \$(starts mute) -ge 2 ] &&
    [ \"\$(st mute last_exit_cause)\" = start-timeout ]"
up=$(st mute last_uptime_ms)
if [ "$(st mute last_exit_cause)" = start-timeout ] && [ "$up" -ge 300 ] &&
    [ "$up" -le 2000 ] && ! grep -q 'bot mute: running' "$W/botd.err"; then
	ok "mute: killed at start_timeout ($up ms up), never RUNNING"
else
	not_ok "mute: killed at start_timeout, never RUNNING"
	diag "cause $(st mute last_exit_cause) uptime $up"
fi

wait_until 10 "[ \$(starts early) -ge 3 ]"
if ! grep -q 'bot early: running' "$W/botd.err" &&
    [ "$(st early deaths)" -ge 2 ]; then
	ok "early: dying before start_seconds is never RUNNING"
else
	not_ok "early: dying before start_seconds is never RUNNING"
	diag "$(cat "$STATE/early.status")"
fi
t_stop "$BOTD_PID"
t_done
