# tests/integration/lib-botd.sh: helpers of the 1[0-4]x-botd-* tests,
# sourced after lib.sh. The supervised children are tests/helper/tchild
# (see its header for the options): each bot NAME records its starts in
# $W/NAME/starts and the pid of every process it makes in $W/NAME/pids.
#
#   bd_plan N NAME        t_plan, plus $SOCK $STATE $LOGD and a trap that
#                         also kills every recorded tchild process and
#                         fails on a sanitizer report in $W/*.err
#   bd_conf FILE          the [botd] section ($BD_CGROUP: cgroup, "no")
#   bd_bot FILE NAME ARGS [LINES]   a [bot NAME] running tchild -d
#                         $W/NAME ARGS, with extra key lines
#   botd_start CONF [TAG] botd in the background ($BOTD_PID), stderr in
#                         $W/TAG.err; waits until it has started its bots
#   bctl ARGS             botctl on $SOCK: output in $OUT, exit in $RC
#   st NAME KEY           a member of STATE/NAME.status
#   wait_state NAME STATE [SECS]    until the status file says so
#   starts NAME           how many times NAME was started
#   start_times NAME      the monotonic ms of each start, one a line
#   tree_alive NAME       some recorded process of NAME still runs
set -u

BOTD=$BOTFLEET_BUILD/botd
BOTCTL=$BOTFLEET_BUILD/botctl
TCHILD=$BOTFLEET_BUILD/tests/helper/tchild

[ -x "$BOTD" ] && [ -x "$BOTCTL" ] && [ -x "$TCHILD" ] ||
    bail "botd, botctl and tests/helper/tchild must be built"

bd_plan() {
	t_plan "$1" "$2"
	SOCK=$W/run/ctl.sock
	STATE=$W/state
	LOGD=$W/log
	BD_CGROUP=no
	BD_CGDIRS=
	trap bd_cleanup EXIT
}

# A recorded pid is killed only while it is still a tchild of this test.
bd_kill_recorded() {
	for bk_f in "$W"/*/pids; do
		[ -f "$bk_f" ] || continue
		for bk_p in $(cat "$bk_f"); do
			{ tr '\0' ' ' <"/proc/$bk_p/cmdline"; } 2>/dev/null |
			    grep -q "tchild -d $W/" || continue
			kill -KILL "$bk_p" 2>/dev/null
		done
	done
}

bd_cleanup() {
	for bc_p in $T_PIDS; do
		kill -TERM "$bc_p" 2>/dev/null
	done
	for bc_p in $T_PIDS; do
		wait_until 10 "! alive $bc_p" || kill -KILL "$bc_p" 2>/dev/null
		wait "$bc_p" 2>/dev/null
	done
	T_PIDS=
	[ -n "$W" ] && bd_kill_recorded
	bc_rc=0
	bc_re='ERROR: (Address|Leak)Sanitizer|runtime error:'
	if [ -n "$W" ] && grep -q -E "$bc_re" "$W"/*.err 2>/dev/null; then
		echo "not ok - a sanitizer report in botd's stderr"
		grep -h -A 20 -E "$bc_re" "$W"/*.err | head -n 40 |
		    sed 's/^/# /'
		bc_rc=1
	fi
	for bc_d in $BD_CGDIRS; do
		for bc_c in "$bc_d"/*/; do
			[ -d "$bc_c" ] && rmdir "$bc_c" 2>/dev/null
		done
		rmdir "$bc_d" 2>/dev/null
	done
	t_cleanup
	[ "$bc_rc" = 0 ] || exit 1
}

bd_conf() {
	cat >"$1" <<EOF
; written by $(basename "$0")
[botd]
socket = $SOCK
log_dir = $LOGD
state_dir = $STATE
cgroup = $BD_CGROUP
EOF
}

# bd_bot FILE NAME ARGS [LINES]
bd_bot() {
	mkdir -p "$W/$2"
	printf '\n[bot %s]\nexec = %s\nargs = -d %s %s\n%s\n' "$2" "$TCHILD" \
	    "$W/$2" "$3" "${4:-}" >>"$1"
}

# botd_start CONF [TAG]
botd_start() {
	t_spawn "$W/${2:-botd}.out" "$W/${2:-botd}.err" "$BOTD" -c "$1"
	BOTD_PID=$T_PID
	wait_until 20 "grep -q 'msg=\"botd running' '$W/${2:-botd}.err' ||
	    ! alive $BOTD_PID" ||
	    bail "botd did not start: $(tail -n 20 "$W/${2:-botd}.err")"
	alive "$BOTD_PID" ||
	    bail "botd exited: $(tail -n 20 "$W/${2:-botd}.err")"
}

bctl() {
	OUT=$(timeout 60 "$BOTCTL" -s "$SOCK" "$@" 2>&1)
	RC=$?
}

# st NAME KEY: the compact JSON has scalar members only.
st() {
	sed -n "s/.*\"$2\":\\(\"[^\"]*\"\\|[^,}]*\\).*/\\1/p" \
	    "$STATE/$1.status" 2>/dev/null | tr -d '"'
}

wait_state() {
	wait_until "${3:-10}" "[ \"\$(st $1 state)\" = $2 ]"
}

starts() {
	if [ -f "$W/$1/starts" ]; then
		wc -l <"$W/$1/starts" | tr -d ' '
	else
		echo 0
	fi
}

start_times() { cut -d' ' -f2 "$W/$1/starts"; }

tree_alive() {
	for ta_p in $(cat "$W/$1/pids" 2>/dev/null); do
		alive "$ta_p" && return 0
	done
	return 1
}

# zombies: the pids of every zombie, one a line.
zombies() {
	cat /proc/[0-9]*/stat 2>/dev/null | sed -n 's/^\([0-9]*\) .*) Z .*/\1/p'
}

# botd_zombies PID: how many zombie children PID has.
botd_zombies() {
	cat /proc/[0-9]*/stat 2>/dev/null | sed 's/.*) //' |
	    awk -v p="$1" '$1 == "Z" && $2 == p' | wc -l | tr -d ' '
}

# still_alive PID...: the ones that still run (a zombie does not).
still_alive() {
	for sa_p in "$@"; do
		[ -d "/proc/$sa_p" ] && alive "$sa_p" && printf ' %s' "$sa_p"
	done
	return 0
}

# ------------------------------------------------------------------ alerts
# Helpers of the 17x-botd-alerts* and metrics tests.
#
#   al_fake [ARGS]        tgfake knowing the alert bot $AL_TOKEN ($FAKE_URL),
#                         the token in $W/alert.token (0600)
#   al_conf FILE          bd_conf plus the alert keys: chats $AL_CHATS,
#                         $AL_EXTRA lines, metrics on 127.0.0.1:0
#   al_crasher NAME CODE  a bash bot $W/NAME.sh: it exits CODE while
#                         $W/NAME/crashes (a number) is above 0, counting
#                         it down, after logging an HTML-hostile line;
#                         then READY=1 and sleeps
#   al_bot FILE NAME CODE [LINES]  its [bot NAME] section
#   al_msgs CHAT          the alert bot's messages in CHAT: $W/msgs.json
#   al_count CHAT [LIKE]  how many there are (whose text is LIKE, SQL)
#   al_texts CHAT         their texts, oldest first, one a line
#   metrics_port [TAG]    botd's metrics port (from its log): $MPORT
#   scrape [PATH]         GET PATH (/metrics) into $W/metrics.txt; prints
#                         the HTTP status
#   mval NAME{LABELS}     a sample's value in $W/metrics.txt ("" if none)
AL_TOKEN=123456:ALERTtokenSECRET_xyz-987
AL_CHATS="111, 222"

al_fake() {
	fake_start -t "$AL_TOKEN" "$@"
	token_file "$W/alert.token" "$AL_TOKEN"
}

al_conf() {
	bd_conf "$1"
	cat >>"$1" <<EOF
alert_token_file = $W/alert.token
alert_chat_ids = $AL_CHATS
alert_api_url = $FAKE_URL
metrics_listen = 127.0.0.1:0
${AL_EXTRA:-}
EOF
}

al_crasher() {
	mkdir -p "$W/$1"
	cat >"$W/$1.sh" <<EOF
#!/bin/bash
n=\$(cat "$W/$1/crashes" 2>/dev/null || echo 0)
echo "$1: starting <x1> & \"co\" \$n crashes to go"
if [ "\$n" -gt 0 ]; then
	echo \$((n - 1)) >"$W/$1/crashes"
	echo "$1: fatal: the database is on fire" >&2
	exit $2
fi
echo "$1: ready"
[ -n "\${BOTD_NOTIFY_FD:-}" ] && echo READY=1 >&"\$BOTD_NOTIFY_FD"
exec sleep 100000
EOF
	chmod 0755 "$W/$1.sh"
}

al_bot() {
	al_crasher "$2" "$3"
	printf '\n[bot %s]\nexec = %s\nstop_timeout = 5s\n%s\n' "$2" \
	    "$W/$2.sh" "${4:-}" >>"$1"
}

al_msgs() {
	curl -sS --max-time 60 "$FAKE_URL/_ctl/messages?chat_id=$1" \
	    >"$W/msgs.json" 2>/dev/null || echo '{"result":[]}' >"$W/msgs.json"
}

al_count() {
	al_msgs "$1"
	json_sql "$W/msgs.json" "SELECT count(*) FROM
	    jsonb_array_elements(:'j'::jsonb->'result') m
	    WHERE m->>'text' LIKE '${2:-%}'" 2>/dev/null || echo -1
}

al_texts() {
	al_msgs "$1"
	json_sql "$W/msgs.json" "SELECT replace(m->>'text', E'\\n', ' | ')
	    FROM jsonb_array_elements(:'j'::jsonb->'result') m
	    ORDER BY (m->>'message_id')::bigint"
}

metrics_port() {
	wait_until 20 "grep -q 'metrics: listening' '$W/${1:-botd}.err'" ||
	    bail "no metrics port in botd's log"
	MPORT=$(sed -n 's/.*metrics: listening.*(port \([0-9]*\)).*/\1/p' \
	    "$W/${1:-botd}.err" | tail -n 1)
}

scrape() {
	curl -sS --max-time 30 -o "$W/metrics.txt" -w '%{http_code}' \
	    "http://127.0.0.1:$MPORT${1:-/metrics}"
}

mval() {
	awk -v k="$1" '$1 == k { print $2 }' "$W/metrics.txt"
}
