#!/bin/sh
# 100-botd-check: botd -c FILE --check exits 0 on a good configuration and
# 100 with "FILE:LINE: reason" on every kind of bad one; a bad env_file
# names its own line. Usage errors exit 100 too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 16 100-botd-check
C=$W/botd.ini

# check_bad DESC SECTIONS EXPECT: --check on [botd] plus SECTIONS exits
# 100 and its message holds EXPECT.
check_bad() {
	bd_conf "$C"
	printf '%s\n' "$2" >>"$C"
	out=$("$BOTD" -c "$C" --check 2>&1)
	rc=$?
	if [ "$rc" = 100 ] && contains "$out" "$3"; then
		ok "$1"
	else
		not_ok "$1"
		diag "exit $rc: $out"
	fi
}

bd_conf "$C"
bd_bot "$C" one "-r" "backoff_initial = 250ms
stop_signal = INT"
bd_bot "$C" two "-x 1" "ready = none
restart = on-failure
user = nobody"
out=$("$BOTD" -c "$C" --check 2>&1)
rc=$?
if [ "$rc" = 0 ] && contains "$out" "ok, 2 bots"; then
	ok "a good configuration: exit 0"
else
	not_ok "a good configuration: exit 0"
	diag "exit $rc: $out"
fi

# Line 7 is [bot x] (the [botd] section takes lines 1-6).
check_bad "no exec: the section's line" "[bot x]
args = -r" "botd.ini:7: [bot x]: exec is required"
check_bad "relative exec" "[bot x]
exec = bin/tchild" \
    "botd.ini:8: [bot x] exec: bin/tchild: must be an absolute path"
check_bad "missing exec file" "[bot x]
exec = $W/nothere" "botd.ini:8: [bot x] exec: $W/nothere: No such file"
check_bad "bad duration" "[bot x]
exec = $TCHILD
backoff_initial = 5 parsecs" "botd.ini:9: [bot x] backoff_initial:"
check_bad "unknown key" "[bot x]
exec = $TCHILD
restart_delay = 5s" "botd.ini:9: [bot x] unknown key 'restart_delay'"
check_bad "bad restart policy" "[bot x]
exec = $TCHILD
restart = sometimes" "botd.ini:9: [bot x] restart: 'sometimes' is not"
check_bad "bad stop signal" "[bot x]
exec = $TCHILD
stop_signal = SEGV" "botd.ini:9: [bot x] stop_signal:"
check_bad "bad bot name" "[bot Big Bot]
exec = $TCHILD" "botd.ini:7: [bot Big Bot]: a bot name has only"
check_bad "unknown section" "[bots x]
exec = $TCHILD" "botd.ini:7: unknown section [bots x]"
check_bad "unknown user" "[bot x]
exec = $TCHILD
user = no-such-user-here" "botd.ini:9: [bot x] user: no such user"

check_bad "unknown socket_group" "socket_group = no-such-group-x" \
    "botd.ini:7: [botd] socket_group: no such group"
check_bad "a section defined twice" "[botd]" "botd.ini:7:"

printf 'GOOD=1\n# comment\nBAD LINE\n' >"$W/x.env"
check_bad "bad env_file: its own line" "[bot x]
exec = $TCHILD
env_file = $W/x.env" "$W/x.env:3: expected KEY=VALUE"

out=$("$BOTD" -c "$W/none.ini" --check 2>&1)
rc=$?
if [ "$rc" = 100 ] && contains "$out" "none.ini"; then
	ok "a missing file: exit 100"
else
	not_ok "a missing file: exit 100"
	diag "exit $rc: $out"
fi

out=$("$BOTD" --check 2>&1)
rc=$?
if [ "$rc" = 100 ] && contains "$out" "usage: botd"; then
	ok "no -c: usage, exit 100"
else
	not_ok "no -c: usage, exit 100"
	diag "exit $rc: $out"
fi
t_done
