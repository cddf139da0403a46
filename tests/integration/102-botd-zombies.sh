#!/bin/sh
# 102-botd-zombies: bots double-fork short-lived grandchildren (their
# parent exits at once, so they are reparented to botd, the subreaper):
# no zombie is left 1 s later, also while one of the bots crash-loops.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 4 102-botd-zombies

bd_conf "$W/botd.ini"
bd_bot "$W/botd.ini" z "-r -z 200"
bd_bot "$W/botd.ini" zcrash "-z 20 -x 1" "ready = none
start_seconds = 0
backoff_initial = 20ms
backoff_max = 40ms
crashloop_deaths = 64"
botd_start "$W/botd.ini"
wait_state z RUNNING
wait_until 10 "[ \$(starts zcrash) -ge 10 ]"
n=$(wc -l <"$W/z/zpids")
is "200 grandchildren were made" "$n" 200

if wait_until 2 "[ \$(botd_zombies $BOTD_PID) = 0 ]"; then
	ok "no zombie children of botd"
else
	not_ok "no zombie children of botd"
	diag "$(botd_zombies "$BOTD_PID") zombies"
fi

# Every grandchild is gone: reaped, not a zombie anywhere. zcrash goes
# on making grandchildren, so one may be a zombie for an instant before
# botd reaps it: a zombie seen again 1 s later is one left behind.
zgc() { zombies | grep -Fx -h -f - "$W/z/zpids" "$W/zcrash/zpids"; }
zgc >"$W/z1"
sleep 1
zl=$(zgc | grep -Fx -f "$W/z1" | tr '\n' ' ')
is "no grandchild is left a zombie" "$zl" ""

kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 20
is "botd exits 0 on SIGTERM" "$T_RC" 0
t_done
