#!/bin/sh
# 140-botd-kill9: single instance and crash recovery. A second botd on
# the same state directory exits 100 with a clear message. After SIGKILL
# of botd, the bots' main processes die with it, but a bot's
# grandchildren (holding the bot's lock and its own single-instance lock)
# survive; the next botd removes the stale socket, kills that old tree
# before it starts the bot, and never runs two copies: the bot's own
# lock never finds another holder.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 8 140-botd-kill9

bd_conf "$W/botd.ini"
bd_bot "$W/botd.ini" k "-r -g -l $W/k.applock" "stop_timeout = 300ms"
bd_bot "$W/botd.ini" m "-r"
botd_start "$W/botd.ini" first
FIRST=$BOTD_PID
wait_state k RUNNING && wait_state m RUNNING
wait_until 10 "[ \$(wc -l <'$W/k/pids') -ge 3 ]"

out=$("$BOTD" -c "$W/botd.ini" 2>&1)
rc=$?
if [ "$rc" = 100 ] && contains "$out" "another botd is running" \
    "pid $FIRST"; then
	ok "a second botd exits 100: another botd is running (pid $FIRST)"
else
	not_ok "a second botd exits 100 with a clear message"
	diag "exit $rc: $out"
fi

kmain=$(st k pid)
mmain=$(st m pid)
old=$(cat "$W/k/pids")
kill -KILL "$FIRST"
t_wait "$FIRST" 10
wait_until 5 "[ -z \"\$(still_alive $kmain $mmain)\" ]"
is "the bots' main processes die with botd" "$(still_alive $kmain $mmain)" ""
grand=$(still_alive $old)
check "the grandchildren survive it (the case to handle)" [ -n "$grand" ]
check "the socket is left behind" [ -S "$SOCK" ]

botd_start "$W/botd.ini" second
wait_state k RUNNING
wait_state m RUNNING
if grep -q "removed stale socket" "$W/second.err"; then
	ok "the stale socket is removed and bound again"
else
	not_ok "the stale socket is removed and bound again"
	diag "$(head -n 5 "$W/second.err")"
fi
is "the old tree is gone" "$(still_alive $old)" ""
check "botd says it killed the old instance" \
    grep -q "bot k: killed .* processes of an old instance" "$W/second.err"
if [ ! -e "$W/k/dup" ] && [ "$(starts k)" = 2 ] &&
    [ ! -e "$W/k/errors" ]; then
	ok "never two copies: the new k got its own lock and port first time"
else
	not_ok "never two copies"
	diag "$(cat "$W/k/dup" "$W/k/errors" 2>/dev/null)" \
	    "starts $(starts k)"
fi
t_stop "$BOTD_PID"
t_done
