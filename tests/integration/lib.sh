# tests/integration/lib.sh: shared helpers of the integration tests.
# Sourced (". lib.sh") by the numbered scripts, which tests/run starts with
# BOTFLEET_BUILD, BOTFLEET_TOP, BOTFLEET_TEST_PG and BOTFLEET_TEST_PGDIR set.
#
#   t_plan N NAME        TAP plan, work dir $W, EXIT trap
#   ok / not_ok / check  TAP lines; t_done at the end
#   t_spawn OUT ERR CMD  a background process the trap will kill (t_track
#                        for one started by hand); t_wait, t_stop, alive
#   wait_until SECS CMD  poll CMD (a shell command) until true or deadline
#   fake_start ARGS      tgfake on an ephemeral port: $FAKE_URL, $FAKE_PID
#   ctl / ctl_json       the fake's /_ctl/ API
#   db_create NAME       a fresh database: $DB (a libpq conninfo)
#   token_file / bot_conf / bot_start   an echobot and its configuration
#   json_sql FILE SQL    query a JSON document with PostgreSQL (no jq)
#   queue_messages / fetch_chats   many users' messages in, their chats out
#
# Nothing here sleeps for correctness: sleeps only pace a poll that has a
# deadline. Every process started goes into T_PIDS and is killed (TERM,
# then KILL) by pid on exit; databases made by db_create are dropped.
set -u

: "${BOTFLEET_BUILD:?run through tests/run}"
: "${BOTFLEET_TEST_PG:?run through tests/run}"
TOP=${BOTFLEET_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
FAKE=$BOTFLEET_BUILD/tests/fakes/tgfake
ECHOBOT=$BOTFLEET_BUILD/tests/example/echobot

T_N=0
T_FAILED=0
T_PLAN=0
T_PIDS=
T_DBS=
W=

# ------------------------------------------------------------------ TAP

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
not_ok() {
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_N - $1"
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }

# check DESCRIPTION CMD...: ok when the command succeeds.
check() {
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

# is DESCRIPTION GOT WANT: string equality, with a diagnostic.
is() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1"
		diag "got:  $(printf %s "$2" | cut -c1-300)" \
		    "want: $(printf %s "$3" | cut -c1-300)"
	fi
}

# contains TEXT PATTERN...: every pattern occurs in TEXT.
contains() {
	c_t=$1
	shift
	for c_p in "$@"; do
		case $c_t in
		*"$c_p"*) ;;
		*) diag "missing: $c_p" \
		    "in: $(printf %s "$c_t" | head -c 400)"; return 1 ;;
		esac
	done
	return 0
}

bail() {
	echo "Bail out! $*"
	exit 1
}

# t_plan N NAME: print the plan, make the work dir, set the trap.
t_plan() {
	T_PLAN=$1
	W=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX") || exit 1
	# The single-instance lock files go here, not in /run/botfleet.
	RUNTIME_DIRECTORY=$W
	export RUNTIME_DIRECTORY
	trap t_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	echo "1..$T_PLAN"
}

# t_done: the exit status of the test.
t_done() {
	if [ "$T_N" -ne "$T_PLAN" ]; then
		diag "planned $T_PLAN tests, ran $T_N"
		return 1
	fi
	[ "$T_FAILED" -eq 0 ]
}

# ------------------------------------------------------------------ time

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_until SECS CMD: run the shell command CMD every 50 ms until it
# succeeds (0) or SECS seconds have passed (1).
wait_until() {
	wu_end=$(($(now_ms) + $1 * 1000))
	while ! eval "$2"; do
		[ "$(now_ms)" -ge "$wu_end" ] && return 1
		sleep 0.05
	done
	return 0
}

# ------------------------------------------------------------------ processes

# t_spawn OUT ERR CMD...: start CMD in the background with its output in
# the files OUT and ERR; its pid is in $T_PID and in T_PIDS.
t_spawn() {
	ts_out=$1
	ts_err=$2
	shift 2
	"$@" >"$ts_out" 2>"$ts_err" &
	T_PID=$!
	T_PIDS="$T_PIDS $T_PID"
}

# alive PID: the process runs (a zombie, exited but not reaped, does not).
alive() {
	a_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$a_st" ] && [ "$a_st" != Z ]
}

# t_wait PID SECS: wait for PID to exit, at most SECS seconds; its exit
# status in $T_RC, or T_RC=timeout (the process is then still running).
t_wait() {
	if ! wait_until "$2" "! alive $1"; then
		T_RC=timeout
		return 1
	fi
	wait "$1"
	T_RC=$?
	t_forget "$1"
	return 0
}

t_forget() {
	tf_l=
	for tf_p in $T_PIDS; do
		[ "$tf_p" = "$1" ] || tf_l="$tf_l $tf_p"
	done
	T_PIDS=$tf_l
}

# t_stop PID: TERM, up to 10 s, then KILL; reaped either way.
t_stop() {
	kill -TERM "$1" 2>/dev/null
	if ! wait_until 10 "! alive $1"; then
		kill -KILL "$1" 2>/dev/null
		wait_until 5 "! alive $1"
	fi
	wait "$1" 2>/dev/null
	t_forget "$1"
}

t_cleanup() {
	for tc_p in $T_PIDS; do
		kill -TERM "$tc_p" 2>/dev/null
	done
	for tc_p in $T_PIDS; do
		if ! wait_until 10 "! alive $tc_p"; then
			kill -KILL "$tc_p" 2>/dev/null
		fi
		wait "$tc_p" 2>/dev/null
	done
	T_PIDS=
	for tc_d in $T_DBS; do
		psql -X -q "$BOTFLEET_TEST_PG" -c \
		    "DROP DATABASE IF EXISTS $tc_d WITH (FORCE)" \
		    >/dev/null 2>&1
	done
	# BOTFLEET_KEEP=1 keeps the work directory (logs) for a post-mortem.
	if [ -n "$W" ] && [ "${BOTFLEET_KEEP:-0}" = 1 ]; then
		echo "# kept $W" >&2
	elif [ -n "$W" ]; then
		rm -rf "$W"
	fi
}

# ------------------------------------------------------------------ the fake

# fake_start ARGS...: tgfake on 127.0.0.1:0; waits for its port file.
fake_start() {
	rm -f "$W/fake.port"
	t_spawn "$W/fake.out" "$W/fake.err" "$FAKE" -p "$W/fake.port" "$@"
	FAKE_PID=$T_PID
	wait_until 20 '[ -s "$W/fake.port" ]' ||
	    bail "tgfake did not start: $(cat "$W/fake.err")"
	FAKE_URL=http://127.0.0.1:$(cat "$W/fake.port")
}

# ctl PATH [curl args...]: the fake's control API; the body on stdout.
ctl() {
	c_p=$1
	shift
	curl -sS --max-time 120 "$FAKE_URL/_ctl/$c_p" "$@"
}

# ctl_json PATH JSON: POST a JSON body.
ctl_json() {
	curl -sS --max-time 120 -H 'Content-Type: application/json' \
	    --data-binary "$2" "$FAKE_URL/_ctl/$1"
}

# ------------------------------------------------------------------ database

# db_create NAME: a fresh database; $DB is its conninfo. It commits
# synchronously: the run's cluster has synchronous_commit=off, and with
# that an immediate restart (tests/lib/pgtmp restart) forgets the last
# commits, which a bot had every right to believe durable.
db_create() {
	dc_name=$(printf '%s_%s' "$1" "$$" | tr -c 'a-z0-9_\n' _)
	psql -X -q -v ON_ERROR_STOP=1 "$BOTFLEET_TEST_PG" >/dev/null <<EOF ||
SET client_min_messages = warning;
DROP DATABASE IF EXISTS $dc_name WITH (FORCE);
CREATE DATABASE $dc_name;
ALTER DATABASE $dc_name SET synchronous_commit = on;
EOF
	    bail "cannot create database $dc_name"
	T_DBS="$T_DBS $dc_name"
	DB="$BOTFLEET_TEST_PG dbname=$dc_name"
}

# q SQL: one query on $DB, unaligned, tuples only.
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$DB" -c "$1"; }

# json_sql FILE SQL: run SQL with :'j' standing for the text of FILE (a
# JSON document); unaligned output, tuples only.
json_sql() {
	{
		printf "\\\\set j \`cat '%s'\`\n" "$1"
		printf '%s\n' "$2"
	} | psql -X -q -At -v ON_ERROR_STOP=1 "$BOTFLEET_TEST_PG"
}

# ------------------------------------------------------------------ the bot

# token_file PATH TOKEN: the token in a 0600 file.
token_file() {
	(umask 077 && printf '%s\n' "$2" >"$1")
	chmod 0600 "$1"
}

# bot_conf FILE TOKENFILE: an echobot configuration for the fake and $DB.
# $TG_EXTRA goes into [telegram], $CONF_EXTRA at the end (more sections).
bot_conf() {
	cat >"$1" <<EOF
; written by $(basename "$0")
[telegram]
api_url = $FAKE_URL
token_file = $2
poll_timeout = 10
${TG_EXTRA:-}

[database]
url = $DB
migrations = $TOP/sql

[log]
level = info
${CONF_EXTRA:-}
EOF
}

# bot_start NAME CONF [ENV=VALUE...]: run the echobot in the background,
# stderr in $W/NAME.log; its pid in $BOT_PID.
bot_start() {
	bs_name=$1
	bs_conf=$2
	shift 2
	t_spawn "$W/$bs_name.out" "$W/$bs_name.log" env "$@" "$ECHOBOT" \
	    -c "$bs_conf"
	BOT_PID=$T_PID
}

# bot_ready LOG [SECS]: the bot logged its "ready" line.
bot_ready() {
	wait_until "${2:-60}" "grep -q 'msg=ready' '$1'"
}

# t_track PID: a process started by hand, to be killed by the trap.
t_track() { T_PIDS="$T_PIDS $1"; }

# ------------------------------------------------------------------ load

# queue_messages USERS MSGS CHUNK: user u (1..USERS, id and private chat
# 20000+u) writes "u<u>-m<i>" for i in 1..MSGS: CHUNK texts per
# /_ctl/send (texts[]), the users taking turns, all through one curl.
queue_messages() {
	awk -v url="$FAKE_URL/_ctl/send" -v users="$1" -v msgs="$2" \
	    -v chunk="$3" 'BEGIN {
		q = "\\\""
		for (r = 0; r * chunk < msgs; r++)
			for (u = 1; u <= users; u++) {
				t = ""
				for (i = r * chunk + 1; i <= msgs &&
				    i <= (r + 1) * chunk; i++)
					t = t (t == "" ? "" : ",") q "u" u \
					    "-m" i q
				if (r > 0 || u > 1)
					print "next"
				print "url = \"" url "\""
				print "header = \"Content-Type: " \
				    "application/json\""
				printf "data-binary = \"{%sfrom%s:{%sid%s:%d," \
				    "%sfirst_name%s:%sU%d%s},%stexts%s:[%s]}\"\n",
				    q, q, q, q, 20000 + u, q, q, q, u, q, q, q, t
				print "output = /dev/null"
				print "write-out = \"%{http_code}\\n\""
			}
	}' >"$W/queue.curl"
	curl -sS --max-time 120 -K "$W/queue.curl" >"$W/queue.codes" ||
	    bail "cannot queue the messages"
	[ "$(grep -vc '^200$' "$W/queue.codes")" -eq 0 ] ||
	    bail "the fake refused some messages"
}

# fetch_chats USERS FILE: the bot's messages in the chats of users
# 1..USERS, as one JSON array of /_ctl/messages answers in FILE.
fetch_chats() {
	awk -v url="$FAKE_URL/_ctl/messages?chat_id=" -v users="$1" 'BEGIN {
		for (u = 1; u <= users; u++) {
			if (u > 1)
				print "next"
			print "url = \"" url (20000 + u) "\""
			print "write-out = \",\""
		}
	}' >"$W/fetch.curl"
	{
		printf '['
		curl -sS --max-time 120 -K "$W/fetch.curl"
		printf 'null]'
	} >"$2"
}

# The bot's messages of a fetch_chats file as rows (chat, i, text), i
# counting the chat's messages in order from 1. Use as
# json_sql FILE "WITH got AS ($GOT_SQL) ...".
GOT_SQL="SELECT (m->'chat'->>'id')::bigint AS chat,
    row_number() OVER (PARTITION BY m->'chat'->>'id'
    ORDER BY (m->>'message_id')::bigint) AS i, m->>'text' AS text
    FROM jsonb_array_elements(:'j'::jsonb) d,
    jsonb_array_elements(d->'result') m WHERE d <> 'null'::jsonb"
