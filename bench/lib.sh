# bench/lib.sh: what the benchmark drivers share, sourced by them with ME
# (the name in messages), ROOT (the source tree) and KEEP set.
#
# say / die MESSAGE; stop_pid PID; and the cleanup on exit, on Ctrl-C and
# on SIGTERM: the load driver, the bot and the fake ($DRIVE_PID, $BOT_PID,
# $FAKE_PID, each stopped by pid), the PostgreSQL cluster in $TMP/pg, and
# $TMP itself unless KEEP=1.

die() { echo "$ME: $*" >&2; exit 1; }
say() { echo "$ME: $*" >&2; }

TMP=
BOT_PID=
FAKE_PID=
DRIVE_PID=

# Stop one process by pid: TERM, up to 10 s, then KILL; reap it.
stop_pid() {
	[ -n "$1" ] || return 0
	if ! kill -TERM "$1" 2>/dev/null; then
		wait "$1" 2>/dev/null || true
		return 0
	fi
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 200 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

cleanup() {
	trap - EXIT INT TERM
	stop_pid "$DRIVE_PID"
	stop_pid "$BOT_PID"
	stop_pid "$FAKE_PID"
	if [ -n "$TMP" ]; then
		[ -d "$TMP/pg" ] && "$ROOT/tests/lib/pgtmp" stop "$TMP/pg" \
		    >/dev/null 2>&1 || true
		if [ "$KEEP" = 1 ]; then
			say "kept $TMP"
		else
			rm -rf "$TMP"
		fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
