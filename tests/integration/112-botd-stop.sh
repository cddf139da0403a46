#!/bin/sh
# 112-botd-stop: a user's stop sticks (no restart, not after a reload
# either) until a start, also when it comes during a backoff; a killed
# bot is restarted and its status tells the signal and when; the restart
# policies: on-failure restarts only failures, never restarts nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 10 112-botd-stop

bd_conf "$W/botd.ini"
bd_bot "$W/botd.ini" a "-r" "backoff_initial = 50ms"
bd_bot "$W/botd.ini" c "-x 1" "ready = none
start_seconds = 0
backoff_initial = 400ms"
bd_bot "$W/botd.ini" e "-x 0" "ready = none
start_seconds = 0
restart = on-failure
backoff_initial = 50ms"
bd_bot "$W/botd.ini" f "-x 2" "ready = none
start_seconds = 0
restart = on-failure
backoff_initial = 50ms"
bd_bot "$W/botd.ini" g "-x 2" "ready = none
start_seconds = 0
restart = never"
botd_start "$W/botd.ini"
wait_state a RUNNING

bctl stop --wait a
n=$(starts a)
kill -HUP "$BOTD_PID"
wait_until 10 "grep -q 'reloaded' '$W/botd.err'"
sleep 0.5
is "a: stop sticks, across a reload" \
    "$RC $(st a state) $(st a wanted) $(starts a)" "0 STOPPED down $n"
bctl start --wait a
is "a: start brings it back" "$RC $(st a state) $(starts a)" \
    "0 RUNNING $((n + 1))"

# Killed behind botd's back: restarted, and the status says how it died.
pid=$(st a pid)
kill -KILL "$pid"
# Two reads of the status file may see two versions: wait for the
# restart count first, then for the state.
wait_until 10 "[ \"\$(st a restarts)\" = 2 ]"
wait_state a RUNNING
is "a: killed, restarted (restarts, last exit signal)" \
    "$(st a state) $(st a restarts) $(st a last_exit_signal)" \
    "RUNNING 2 KILL"
check "a: the time of the last exit is recorded" \
    contains "$(st a last_exit_time)" "$(date -u +%Y-%m-%dT)"

# A stop during the backoff cancels the restart.
wait_state c BACKOFF
bctl stop c
n=$(starts c)
sleep 0.6
is "c: stop during BACKOFF sticks" "$(st c state) $(starts c)" "STOPPED $n"

wait_state e EXITED
sleep 0.2
is "e: on-failure after exit 0: EXITED, no restart" \
    "$(st e state) $(starts e) $(st e last_exit_code)" "EXITED 1 0"
wait_until 10 "[ \$(starts f) -ge 3 ]"
check "f: on-failure after exit 2: restarted" [ "$(starts f)" -ge 3 ]
wait_state g EXITED
sleep 0.2
is "g: never: EXITED after one run" "$(st g state) $(starts g)" "EXITED 1"

bctl status a
is "botctl status of a RUNNING bot: exit 0" "$RC" 0
bctl status g
is "botctl status of an EXITED bot: exit 3" "$RC" 3
t_stop "$BOTD_PID"
t_done
