#!/bin/sh
# 152-botctl-garbage: abuse of the control socket. Random bytes, invalid
# JSON, deep nesting, NUL bytes, a wrong or missing "v", unknown
# commands and a 100 KiB line without a newline each get an error reply
# on a connection that stays usable; a client stuck in mid-line, and one
# that floods requests and never reads its replies (dropped at the
# output cap), block nobody; the per-uid connection cap; botd keeps its
# bots and leaks no fds.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botctl.sh"

t_plan 23 152-botctl-garbage
SOCK=$W/ctl.sock
ctl_bots
ctl_conf "$W/botd.ini" good
cat >"$W/flood.sh" <<'EOF2'
#!/bin/bash
i=0
while :; do
	echo "flood: line $((i += 1)) ........................................"
done
EOF2
chmod 0755 "$W/flood.sh"
cat >>"$W/botd.ini" <<EOF2
[bot flood]
exec = $W/flood.sh
ready = none
autostart = no
watchdog = 0
log_max_bytes = 1M
log_files = 1
EOF2
botd_up "$W/botd.ini"
wait_until 20 "running good" || bail "good not running"
pid=$(field good pid)
nfd() { ls "/proc/$BOTD_PID/fd" | wc -l; }
fd0=$(nfd)

# replies FILE N: send FILE on one connection, N reply lines in $OUT.
replies() {
	OUT=$(client send "$1" "$2" 2>&1)
	RC=$?
}

# ------------------------------------------------------------ garbage
head -c 8192 /dev/urandom >"$W/random"
printf '\n' >>"$W/random"
n=$(tr -dc '\n' <"$W/random" | wc -c)
replies "$W/random" "$n"
errs() { printf "%s\n" "$OUT" | grep -c '^{"v":1,"ok":false,"error":'; }
expect "random bytes: one error reply per line ($n)" \
    '[ "$RC" -eq 0 ] && [ "$(errs)" -eq "$n" ]'

{
	printf '{nope\n'
	printf '{"v":2,"cmd":"status"}\n'
	printf '{"cmd":"status"}\n'
	printf '{"v":1,"cmd":"explode"}\n'
	printf '{"v":1,"cmd":"stop","bots":["../../etc"]}\n'
	printf '{"v":1,"cmd":"st\000op"}\n'
	printf '{"v":1,"cmd":"status","bots":["good"],"all":"yes"}\n'
	printf '{"v":1,"cmd":"reload","all":true}\n'
	head -c 60000 /dev/zero | tr '\0' '['
	printf '\n\n'
	printf '{"v":1,"cmd":"status","bots":["good"]}\n'
} >"$W/bad"
replies "$W/bad" 11
line() { printf '%s\n' "$OUT" | sed -n "${1}p"; }
expect "invalid JSON: error" \
    'contains "$(line 1)" "\"ok\":false" "invalid JSON"'
expect "wrong version: error" \
    'contains "$(line 2)" "unsupported protocol version (this side speaks 1)"'
expect "missing version: error" 'contains "$(line 3)" "no protocol version"'
expect "unknown command: error" \
    'contains "$(line 4)" "unknown command: explode"'
expect "bad bot name: error" 'contains "$(line 5)" "invalid bot name"'
expect "NUL byte: error" 'contains "$(line 6)" "\"ok\":false"'
expect "\"all\" not a boolean: error" \
    'contains "$(line 7)" "\\\"all\\\" must be true or false"'
expect "\"all\" for a command without bots: error" \
    'contains "$(line 8)" "reload does not take \\\"all\\\""'
expect "60000 brackets, an empty line: errors" \
    'contains "$(line 9)$(line 10)" "\"ok\":false" "invalid JSON"'
expect "the same connection still answers a good request" \
    'contains "$(line 11)" "{\"v\":1,\"ok\":true,\"bots\":[{\"name\":"'


OUT=$(client oversize 102400 2>&1)
long='{"v":1,"ok":false,"error":"request line too long (limit 65536 bytes)"}'

expect "100 KiB line: an error before its newline, then service" \
    '[ "$(line 1)" = "$long" ] && contains "$(line 2)" "\"ok\":true"'

# Many requests, then end of input: every one answered (in turns of the
# loop), the unfinished last line too, then botd closes.
i=0
while [ $i -lt 100 ]; do
	printf '{"v":1,"cmd":"status","bots":["good"]}\n'
	i=$((i + 1))
done >"$W/many"
printf '{"v":1,' >>"$W/many"
OUT=$(client sendeof "$W/many" 2>&1)
inc='"error":"incomplete request at end of input (no newline)"}'
expect "100 requests then EOF: 100 replies, an error for the rest, close" \
    '[ "$(printf "%s\n" "$OUT" | grep -c "\"ok\":true")" -eq 100 ] &&
    [ "$(line 101)" = "{\"v\":1,\"ok\":false,$inc" ] &&
    [ "$(line 102)" = EOF ]'

# ------------------------------------------------------------ stuck clients
t_spawn "$W/hold.out" /dev/null perl "$W/client.pl" "$SOCK" hold
hold=$T_PID
wait_until 10 '[ -s "$W/hold.out" ]'
t_spawn "$W/flood.out" "$W/flood.err" perl "$W/client.pl" "$SOCK" flood 60
flood=$T_PID
t0=$(now_ms)
bc status good
t1=$(now_ms)
expect "status answered beside a stuck and a flooding client" \
    '[ "$RC" -eq 0 ] && [ $((t1 - t0)) -lt 5000 ]'
t_wait "$flood" 90
expect "the client that never reads is dropped" \
    '[ "$T_RC" = 0 ] && contains "$(cat "$W/flood.out")" "dropped after"'
t_stop "$hold"

expect "no fd leaked by the clients so far" \
    'wait_until 10 "[ \$(nfd) -le $fd0 ]"'

# ------------------------------------------------------------ a stuck follower
# A follower that stops reading while its bot floods the log: botd skips
# lines for it (and says so later) instead of buffering without end or
# blocking.
bc start flood
wait_until 10 '[ "$(field flood log_bytes)" -gt 0 ]'
t_spawn "$W/fol.out" "$W/fol.err" "$BOTCTL" -s "$SOCK" logs -n 1 -f flood
fol=$T_PID
wait_until 10 '[ -s "$W/fol.out" ]'
kill -STOP "$fol"
# The number of the flood's last line: 100000 lines are about 9 MB.
lastno() {
	"$BOTCTL" -s "$SOCK" logs -n 1 flood |
	    sed -n 's/.*line \([0-9]*\) .*/\1/p'
}
wait_until 60 '[ "$(lastno)" -gt 100000 ]'
t0=$(now_ms)
bc status good
t1=$(now_ms)
expect "status answered while a stopped follower's bot floods" \
    '[ "$RC" -eq 0 ] && [ $((t1 - t0)) -lt 5000 ]'
bc stop --wait flood
kill -CONT "$fol"
expect "the follower is told that lines were skipped" \
    'wait_until 30 "grep -q \"lines skipped: reading too\" \"$W/fol.err\""'
t_stop "$fol"
# The flood bot's lock file stays open from now on: one more fd.
wait_until 10 "[ \$(nfd) -le $((fd0 + 1)) ]"
fd0=$(nfd)

# ------------------------------------------------------------ per-uid cap
mkfifo "$W/go"
t_spawn "$W/conns.out" "$W/conns.err" sh -c \
    "perl '$W/client.pl' '$SOCK' conns 20 <'$W/go'"
conns=$T_PID
exec 3>"$W/go"
wait_until 30 '[ "$(wc -l <"$W/conns.out")" -ge 20 ]'
expect "16 connections per uid, the rest refused" \
    '[ "$(grep -c "\"ok\":true" "$W/conns.out")" -eq 16 ] &&
    [ "$(grep -c "too many connections" "$W/conns.out")" -eq 4 ]'
bc status good
expect "over the cap: botctl refused with the reason" \
    '[ "$RC" -eq 1 ] && contains "$OUT" "too many connections"'
# A client that died early must fail the checks, not SIGPIPE the script.
(trap '' PIPE; echo go >&3) 2>/dev/null
exec 3>&-
t_wait "$conns" 20
expect "below the cap again: served" \
    'wait_until 10 "\"$BOTCTL\" -s \"$SOCK\" status good >/dev/null 2>&1"'

expect "botd and its bot untouched, no fd leaked" 'alive "$BOTD_PID" &&
    [ "$(field good pid)" = "$pid" ] && wait_until 10 "[ \$(nfd) -le $fd0 ]"'

botd_down
t_done
