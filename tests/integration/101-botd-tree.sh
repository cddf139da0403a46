#!/bin/sh
# 101-botd-tree: a bot leaves grandchildren (one ignoring SIGTERM, one
# setsid'd and double-forked, ignoring SIGTERM and holding a TCP port on
# 127.0.0.1). After `botctl stop` none of them is left, and `start` and
# `restart` succeed the first time: the port is free again (the child
# binds the same port at every start and exits 111 if it cannot). Once
# with the process-group and descendant sweep, once with a cgroup v2 per
# bot (cgroup.kill) where a writable cgroup2 hierarchy exists. A bot
# started through a shell wrapper (no exec) is stopped whole as well.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 14 101-botd-tree

# tree_test LABEL: the stop/start/restart cycle with $BD_CGROUP.
tree_test() {
	rm -rf "$W/tree" "$STATE" "$LOGD"
	bd_conf "$W/botd.ini"
	bd_bot "$W/botd.ini" tree "-r -g" "stop_timeout = 500ms"
	botd_start "$W/botd.ini" "botd-$1"
	wait_state tree RUNNING && wait_until 10 \
	    "[ \$(wc -l <'$W/tree/pids') -ge 3 ] && [ -s '$W/tree/port' ]"
	pids=$(cat "$W/tree/pids")
	n=0
	for p in $pids; do alive "$p" && n=$((n + 1)); done
	is "$1: the bot and its 2 grandchildren run" "$n" 3

	if [ "$BD_CGROUP" != no ]; then
		cgp=$(sort "$BD_CGROUP/bot-tree/cgroup.procs" 2>/dev/null |
		    tr '\n' ' ')
		is "$1: all three are in the bot's cgroup" "$cgp" \
		    "$(printf '%s\n' $pids | sort | tr '\n' ' ')"
	fi

	bctl stop --wait --timeout 20 tree
	left=$(still_alive $pids)
	if [ "$RC" = 0 ] && [ -z "$left" ] &&
	    [ "$(st tree state)" = STOPPED ]; then
		ok "$1: stop --wait: no descendant left"
	else
		not_ok "$1: stop --wait: no descendant left"
		diag "rc $RC: $OUT" "left:$left" "state $(st tree state)"
	fi

	bctl start --wait --timeout 20 tree
	if [ "$RC" = 0 ] && [ "$(starts tree)" = 2 ] &&
	    [ ! -e "$W/tree/errors" ]; then
		ok "$1: start succeeds the first time (port free)"
	else
		not_ok "$1: start succeeds the first time (port free)"
		diag "rc $RC: $OUT" "starts $(starts tree)" \
		    "$(cat "$W/tree/errors" 2>/dev/null)"
	fi
	wait_until 10 "[ \$(wc -l <'$W/tree/pids') -ge 6 ]"
	pids=$(cat "$W/tree/pids")
	bctl restart --wait --timeout 20 tree
	left=$(still_alive $pids)
	if [ "$RC" = 0 ] && [ "$(starts tree)" = 3 ] && [ -z "$left" ] &&
	    [ ! -e "$W/tree/errors" ] && [ "$(st tree state)" = RUNNING ]; then
		ok "$1: restart: the old tree is gone, the new one binds"
	else
		not_ok "$1: restart: the old tree is gone, the new one binds"
		diag "rc $RC: $OUT" "starts $(starts tree) left:$left" \
		    "$(cat "$W/tree/errors" 2>/dev/null)"
	fi
	wait_until 10 "[ \$(wc -l <'$W/tree/pids') -ge 9 ]"
	pids=$(cat "$W/tree/pids")
	t_stop "$BOTD_PID"
	left=$(still_alive $pids)
	is "$1: botd stopped by SIGTERM leaves nothing" "$left" ""
}

tree_test sweep

# A writable cgroup2 hierarchy: a fresh directory for this test.
cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
if [ -n "$cg" ] && [ -w "$cg" ] && mkdir "$cg/botd-test-$$" 2>/dev/null &&
    [ -e "$cg/botd-test-$$/cgroup.kill" ]; then
	rmdir "$cg/botd-test-$$"
	BD_CGROUP=$cg/botd-test-$$
	BD_CGDIRS=$BD_CGROUP
	tree_test cgroup
	wait_until 5 "[ ! -d '$BD_CGROUP' ]"
	check "cgroup: botd removed its cgroups at exit" [ ! -d "$BD_CGROUP" ]
	BD_CGROUP=no
else
	[ -n "$cg" ] && rmdir "$cg/botd-test-$$" 2>/dev/null
	for i in 1 2 3 4 5 6 7; do
		ok "# SKIP no writable cgroup2 hierarchy with cgroup.kill"
	done
fi

# A shell wrapper without exec: the real binary must go too.
bd_conf "$W/botd.ini"
mkdir -p "$W/wrap"
cat >>"$W/botd.ini" <<EOF
[bot wrap]
exec = /bin/sh
args = -c "$TCHILD -d $W/wrap -r -i; echo wrapper done"
stop_timeout = 300ms
EOF
botd_start "$W/botd.ini" botd-wrap
wait_state wrap RUNNING
real=$(cat "$W/wrap/pids" 2>/dev/null)
shpid=$(st wrap pid)
if [ -n "$real" ] && [ "$real" != "$shpid" ] && alive "$real"; then
	ok "wrapper: the real binary runs under the shell"
else
	not_ok "wrapper: the real binary runs under the shell"
	diag "real $real shell $shpid"
fi
bctl stop --wait wrap
if [ "$RC" = 0 ] && ! alive "$real" && ! alive "$shpid"; then
	ok "wrapper: stop kills the shell and the real binary"
else
	not_ok "wrapper: stop kills the shell and the real binary"
	diag "rc $RC $OUT"
fi
t_stop "$BOTD_PID"
t_done
