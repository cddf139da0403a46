#!/bin/sh
# 121-botd-env: a bot gets a clean environment (nothing of botd's own)
# plus its env_file (KEY=VALUE lines taken literally, comments, export),
# BOTD_NOTIFY_FD on fd 3 and BOTD_BOT; user = nobody sets its uid, gid,
# groups, HOME and USER, and it does not inherit botd's OOM score; nofile sets RLIMIT_NOFILE; workdir its cwd. The
# status never shows an environment value. memory_max without a cgroup
# is RLIMIT_AS. An env_file that disappears
# makes the next start fail cleanly (logged, backoff), not botd.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 14 121-botd-env
chmod 0711 "$W"

cat >"$W/bot.env" <<'EOF'
# a comment
GREETING=hello world
export EXPORTED=yes
EMPTY=
QUOTED="kept as is"
SECRET_TOKEN=s3cr3t-XYZ-121
PATH=/custom/bin:/usr/bin
EOF
chmod 0600 "$W/bot.env"
mkdir -p "$W/u"
chmod 0777 "$W/u"
bd_conf "$W/botd.ini"
bd_bot "$W/botd.ini" envbot "-r -e $W/envbot.env" "env_file = $W/bot.env
nofile = 77
workdir = $W
backoff_initial = 50ms
watchdog = 0"
cat >>"$W/botd.ini" <<EOF
[bot lim]
exec = /bin/sh
args = -c 'echo "\$(ulimit -v) \$(ulimit -n)" >$W/lim.out; exec sleep 1000'
ready = none
start_seconds = 0
memory_max = 64M

[bot u]
exec = $TCHILD
args = -d $W/u -r -e $W/u/env
user = nobody
EOF
FOO_LEAK=leaky-121 botd_start "$W/botd.ini"
wait_state envbot RUNNING
wait_state u RUNNING
e=$(cat "$W/envbot.env")

check "env_file values, taken literally" contains "$e" \
    "env GREETING=hello world" "env EXPORTED=yes" "env EMPTY=" \
    'env QUOTED="kept as is"' "env SECRET_TOKEN=s3cr3t-XYZ-121"
check "env_file may set PATH" contains "$e" "env PATH=/custom/bin:/usr/bin"
if tr '\0' '\n' <"/proc/$BOTD_PID/environ" | grep -q FOO_LEAK=leaky &&
    ! grep -q FOO_LEAK "$W/envbot.env"; then
	ok "botd's own environment is not passed"
else
	not_ok "botd's own environment is not passed"
fi
check "BOTD_NOTIFY_FD=3 (open), BOTD_BOT, no BOTD_WATCHDOG_SEC" contains \
    "$e" "env BOTD_NOTIFY_FD=3" "fd3 open" "env BOTD_BOT=envbot"
check "no watchdog: no BOTD_WATCHDOG_SEC" sh -c \
    "! grep -q BOTD_WATCHDOG_SEC '$W/envbot.env'"
check "nofile and workdir" contains "$e" "nofile 77" "cwd $W"
check "root's bot: HOME and USER" contains "$e" "env USER=root" \
    "env HOME=$(getent passwd root | cut -d: -f6)"

u=$(cat "$W/u/env")
nhome=$(getent passwd nobody | cut -d: -f6)
check "user = nobody: uid, gid, HOME, USER, cwd /" contains "$u" \
    "uid 65534" "gid 65534" "env HOME=$nhome" "env USER=nobody" "cwd /"
check "user = nobody: only nobody's groups" sh -c \
    "! grep '^group ' '$W/u/env' | grep -vq ' 65534$'"

# botd's own OOM score is not the bots'. The unit's -500 needs
# CAP_SYS_RESOURCE, which a container may lack; 300 takes the same path.
echo 300 >"/proc/$BOTD_PID/oom_score_adj"
: >"$W/u/pids"
bctl restart --wait u
upid=$(tail -n 1 "$W/u/pids")
is "a bot does not inherit botd's oom_score_adj" \
    "$(cat "/proc/$BOTD_PID/oom_score_adj") $(cat "/proc/$upid/oom_score_adj" \
    2>&1)" "300 0"

wait_until 10 "[ -s '$W/lim.out' ]"
is "memory_max without a cgroup: RLIMIT_AS; nofile default 1024" \
    "$(cat "$W/lim.out")" "65536 1024"

bctl status --json envbot
if ! grep -q 's3cr3t' "$STATE/envbot.status" &&
    ! contains "$OUT" s3cr3t >/dev/null && contains "$OUT" '"envbot"'; then
	ok "status file and botctl status show no env value"
else
	not_ok "status file and botctl status show no env value"
fi

# The env file goes away: the next start fails cleanly.
rm -f "$W/bot.env"
bctl restart envbot
wait_until 10 "grep -q 'bot envbot: cannot start' '$W/botd.err'"
if grep -q "bot envbot: cannot start: .*bot.env" "$W/botd.err" &&
    alive "$BOTD_PID"; then
	ok "a missing env_file at start: logged, botd keeps running"
else
	not_ok "a missing env_file at start: logged, botd keeps running"
	diag "$(tail -n 5 "$W/botd.err")"
fi
wait_until 10 "[ \"\$(st envbot state)\" = BACKOFF ] ||
    [ \"\$(st envbot state)\" = FATAL ]"
is "... and the bot backs off" "$(st envbot last_exit_code)" 111
t_stop "$BOTD_PID"
t_done
