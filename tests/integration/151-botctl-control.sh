#!/bin/sh
# 151-botctl-control: start, stop and restart with --wait (answered by
# botd when the bots get there, not by polling), --timeout with the
# reason, fast failure when a bot exits, unknown bots (nothing is done),
# all, usage errors, waiters alongside other clients, logs -n and -f,
# reload.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botctl.sh"

t_plan 32 151-botctl-control
SOCK=$W/ctl.sock
ctl_bots
ctl_conf "$W/botd.ini" good good2 slow once
botd_up "$W/botd.ini"
wait_until 20 "running good && running good2" || bail "bots not running"

# ------------------------------------------------------------ stop/start
old=$(field good pid)
bc stop --wait good
expect "stop --wait: exit 0" '[ "$RC" -eq 0 ]'
is "stop --wait: STOPPED when botctl returns" "$(field good state)" STOPPED
expect "stop --wait: the process is gone" '! alive "$old"'
bc start --wait good
expect "start --wait: exit 0" '[ "$RC" -eq 0 ]'
is "start --wait: RUNNING when botctl returns" "$(field good state)" RUNNING
is "start --wait: ready" "$(field good ready)" true
bc start --wait good
is "start --wait of a RUNNING bot: exit 0 at once" "$RC" 0

old=$(field good pid)
r0=$(field good restarts)
bc restart --wait good
new=$(field good pid)
expect "restart --wait: a new RUNNING process" '[ "$RC" -eq 0 ] &&
    [ -n "$new" ] && [ "$new" != "$old" ] && ! alive "$old" &&
    [ "$(field good state)" = RUNNING ]'
is "restart counted" "$(field good restarts)" $((r0 + 1))

# ------------------------------------------------------------ failures
t0=$(now_ms)
bc start --wait --timeout 1.5 slow
t1=$(now_ms)
expect "--timeout: exit 1 with the reason" '[ "$RC" -eq 1 ] &&
    contains "$OUT" "botctl: timeout after 1.5 s: slow is STARTING"'
expect "--timeout: after the timeout, not much later" \
    '[ $((t1 - t0)) -ge 1400 ] && [ $((t1 - t0)) -lt 8000 ]'
t0=$(now_ms)
bc start --wait --timeout 60 once
t1=$(now_ms)
expect "a bot that exits: exit 1 at once, with its exit code" \
    '[ "$RC" -eq 1 ] && contains "$OUT" "once is EXITED (code 1)" &&
    [ $((t1 - t0)) -lt 10000 ]'
pid=$(field good pid)
bc stop good nosuch
expect "unknown bot: exit 1, named" \
    '[ "$RC" -eq 1 ] && contains "$OUT" "unknown bot: nosuch"'
expect "unknown bot: nothing was done" \
    '[ "$(field good state)" = RUNNING ] && [ "$(field good pid)" = "$pid" ]'

# ------------------------------------------------------------ usage
bc start
is "start without a bot: usage error" "$RC" 2
bc stop good all
is "all with names: usage error" "$RC" 2
bc start --wait --timeout 0 good
is "--timeout 0: usage error" "$RC" 2
bc start --timeout abc good
is "--timeout abc: usage error" "$RC" 2

# ------------------------------------------------------------ waiters
# A pending --wait blocks neither botd nor other clients.
t_spawn "$W/w1.out" "$W/w1.err" "$BOTCTL" -s "$SOCK" start --wait \
    --timeout 30 slow
w1=$T_PID
wait_until 10 '[ "$(field slow state)" = STARTING ]'
t0=$(now_ms)
bc status good
t1=$(now_ms)
expect "status answered while another client waits" \
    '[ "$RC" -eq 0 ] && [ $((t1 - t0)) -lt 3000 ] && alive "$w1"'
# Two clients waiting for the same bot both get their answer.
t_spawn "$W/w2.out" "$W/w2.err" "$BOTCTL" -s "$SOCK" stop --wait slow
w2=$T_PID
t_wait "$w1" 20
expect "a waiter whose bot is stopped meanwhile: exit 1, why" \
    '[ "$T_RC" = 1 ] && contains "$(cat "$W/w1.err")" "slow was stopped"'
t_wait "$w2" 20
is "the stop waiter: exit 0" "$T_RC" 0
# A waiter that goes away does not disturb botd.
bc start slow
t_spawn /dev/null /dev/null "$BOTCTL" -s "$SOCK" stop --wait --timeout 2 \
    good2
t_stop "$T_PID"
bc stop --wait slow
expect "a waiter killed mid-wait: botd serves on" \
    '[ "$RC" -eq 0 ] && alive "$BOTD_PID"'

# ------------------------------------------------------------ all
bc stop --wait all
expect "stop --wait all: exit 0, nothing left running" '[ "$RC" -eq 0 ] &&
    ! "$BOTCTL" -s "$SOCK" status --json | grep -q "\"pid\":[0-9]"'
bc status
is "status after stop all: exit 3" "$RC" 3
bc start --wait good good2
is "start --wait of two bots: exit 0" "$RC" 0
bc status good good2
is "both RUNNING" "$RC" 0

# ------------------------------------------------------------ logs
bc logs -n 2 good
expect "logs -n 2: the last two lines" \
    '[ "$RC" -eq 0 ] && [ "$(printf "%s\n" "$OUT" | wc -l)" -eq 2 ] &&
    contains "$OUT" "good: ready"'
bc logs nosuch
expect "logs of an unknown bot: exit 1" '[ "$RC" -eq 1 ]'
# The reply (the last line) comes once the follower is registered.
t_spawn "$W/follow.out" "$W/follow.err" "$BOTCTL" -s "$SOCK" logs -n 1 -f \
    good
fol=$T_PID
wait_until 10 '[ -s "$W/follow.out" ]'
bc restart --wait good
new=$(field good pid)
expect "logs -f: streams the new lines" \
    'wait_until 10 "grep -q \"good: starting as $new\" \"$W/follow.out\""'
t_stop "$fol"

# ------------------------------------------------------------ reload
bc reload
is "reload: exit 0" "$RC" 0
pid=$(field good pid)
cp "$W/botd.ini" "$W/botd.ini.good"
echo "[bot broken" >>"$W/botd.ini"
bc reload
expect "reload of a broken file: exit 1, old config kept" \
    '[ "$RC" -eq 1 ] && contains "$OUT" "reload failed" &&
    [ "$(field good pid)" = "$pid" ] && alive "$BOTD_PID"'
cp "$W/botd.ini.good" "$W/botd.ini"

botd_down
t_done
