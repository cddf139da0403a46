#!/bin/sh
# 154-botctl-socket: the control socket's life. A second botd on the same
# socket is refused while the first answers (and the first keeps its
# socket); a non-socket file at the path is refused and left alone; after
# SIGKILL of botd the stale socket is detected (connect refused), replaced
# on restart, and no bot runs twice; a clean exit removes the socket.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botctl.sh"

t_plan 13 154-botctl-socket
SOCK=$W/ctl.sock
ctl_bots
ctl_conf "$W/botd.ini" good
botd_up "$W/botd.ini" a
wait_until 20 "running good" || bail "good not running"
old=$(field good pid)
ino=$(stat -c %i "$SOCK")

# A second botd, another lock and state dir, the same socket.
mkdir "$W/b"
cat >"$W/b.ini" <<EOF2
[botd]
socket = $SOCK
lock_file = $W/b/botd.lock
log_dir = $W/b/log
state_dir = $W/b/state
cgroup = no
EOF2
timeout 30 "$BOTD" -c "$W/b.ini" >"$W/b.out" 2>"$W/b.err"
rc=$?
expect "second botd on a live socket: refused" \
    '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] &&
    contains "$(cat "$W/b.err")" "another botd is running: $SOCK answers"'
expect "the first keeps its socket and serves" \
    '[ "$(stat -c %i "$SOCK")" = "$ino" ] && running good'
# The same configuration: refused too (by the lock, before the socket).
timeout 30 "$BOTD" -c "$W/botd.ini" >"$W/c.out" 2>"$W/c.err"
rc=$?
expect "second botd with the same config: refused" \
    '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && running good &&
    [ "$(stat -c %i "$SOCK")" = "$ino" ] && [ "$(field good pid)" = "$old" ]'

# Not a socket: never removed.
echo "precious" >"$W/file.sock"
sed "s|^socket = .*|socket = $W/file.sock|" "$W/b.ini" >"$W/f.ini"
timeout 30 "$BOTD" -c "$W/f.ini" >"$W/f.out" 2>"$W/f.err"
rc=$?
expect "a regular file at the socket path: refused, kept" \
    '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] &&
    contains "$(cat "$W/f.err")" "$W/file.sock exists and is not a socket" &&
    [ "$(cat "$W/file.sock")" = precious ]'

# SIGKILL: the socket stays behind, stale.
kill -KILL "$BOTD_PID"
t_wait "$BOTD_PID" 10
bc status
expect "stale socket: botctl says botd is not running" '[ -S "$SOCK" ] &&
    [ "$RC" -eq 1 ] && contains "$OUT" "Connection refused (is botd running?)"'
botd_up "$W/botd.ini" a2
expect "restart after SIGKILL: the stale socket is replaced" \
    'contains "$(cat "$W/a2.err")" "removed stale socket $SOCK"'
expect "the bot runs again" 'wait_until 20 "running good"'
new=$(field good pid)
expect "never two copies: the orphan of the killed botd is gone" \
    '[ "$new" != "$old" ] && wait_until 20 "! alive $old"'
# The bots' processes are those with good.env's secret in their
# environment: exactly one.
secret=$(sed 's/^SECRET_TOKEN=//' "$W/good.env")
copies() {
	for e in /proc/[0-9]*/environ; do
		grep -aqs "SECRET_TOKEN=$secret" "$e" && echo "$e"
	done | wc -l
}
expect "exactly one copy of the bot runs" 'wait_until 20 "[ \$(copies) -eq 1 ]"'
bc status good
is "status works on the new socket" "$RC" 0

# A clean exit removes the socket.
botd_down
expect "the socket is gone after a clean exit" '[ ! -e "$SOCK" ]'
expect "its bot is gone too" '! alive "$new"'
t_done
