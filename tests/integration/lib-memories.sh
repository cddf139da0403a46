# tests/integration/lib-memories.sh: helpers of the memories tests
# (300-memories*.sh), sourced after lib.sh.
#
#   mem_conf FILE          a configuration for the fake and $DB, key $W/key
#   mem_start / mem_stop   the bot (pid $MEM_PID, log $W/mem.log), with
#                          the clock in $W/clock (MEMORIES_CLOCK_FILE)
#   clock_set 'DATE'       move the bot's clock (date -d syntax, UTC)
#   say USER TEXT          USER writes TEXT in their private chat
#   texts USER [all]       the bot's (all: and the user's) messages there
#   last_id USER           the id of the bot's last message there
#   has USER PATTERN       a visible message of the bot contains PATTERN
#   sent PATTERN           a message the bot ever sent contains PATTERN

MEMBOT=$BOTFLEET_BUILD/bots/memories
MEM_TOKEN=223344:MemoriesTEST-token_x

mem_conf() {
	cat >"$1" <<EOF
[telegram]
api_url = $FAKE_URL
token_file = $W/token
poll_timeout = 10
; Telegram's 1/s per chat is the library's and 010's business: here it
; would only stretch every exchange (both sides lift it, see mem_setup).
chat_interval = 1ms
chat_burst = 1000

[database]
url = $DB
migrations = $TOP/sql

[http]
listen = 127.0.0.1:0

[log]
level = info

[memories]
key_file = $W/key
session_idle = 10m
max_password_failures = 3
lockout = 15m
confirm_delete = 2s
error_delete = 1s
reminder_check = 200ms
reminder_grace = 1d
${MEM_EXTRA:-}
EOF
}

mem_setup() {
	fake_start -t "$MEM_TOKEN"
	ctl_json limits '{"chat":"off"}' >/dev/null
	token_file "$W/token" "$MEM_TOKEN"
	(umask 077 && openssl rand -hex 32 >"$W/key")
	mem_conf "$W/mem.ini"
}

mem_start() {
	: >"$W/mem.log"
	t_spawn "$W/mem.out" "$W/mem.log" env MEMORIES_CLOCK_FILE="$W/clock" \
	    "$MEMBOT" -c "$W/mem.ini"
	MEM_PID=$T_PID
	bot_ready "$W/mem.log" || bail "memories not ready: $(cat "$W/mem.log")"
	MEM_PORT=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' \
	    "$W/mem.log")
}

mem_stop() {
	t_stop "$MEM_PID"
}

clock_set() {
	date -u -d "$1" +%s >"$W/clock.new" && mv "$W/clock.new" "$W/clock"
}

# metric NAME: the bot's counter value (0 when absent).
metric() {
	curl -sS "http://127.0.0.1:$MEM_PORT/metrics" |
	    awk -v n="$1" '$1 == n { v = $2 } END { print v + 0 }'
}

# checks_after N: wait until the reminder check ran twice more than N.
checks_after() {
	wait_until 30 "[ \$(metric memories_reminder_checks_total) -ge \
	    $(($1 + 2)) ]"
}

say() {
	ctl send --data-urlencode "text=$2" \
	    --data-urlencode "from={\"id\":$1,\"first_name\":\"U$1\"}" \
	    >/dev/null
}

texts() {
	ctl "messages?chat_id=$1${2:+&all=1}" >"$W/msgs.json"
	json_sql "$W/msgs.json" "SELECT m->>'text' FROM
	    jsonb_array_elements((:'j'::jsonb)->'result') m
	    ORDER BY (m->>'message_id')::bigint"
}

last_id() {
	ctl "messages?chat_id=$1" >"$W/msgs.json"
	json_sql "$W/msgs.json" "SELECT max((m->>'message_id')::bigint) FROM
	    jsonb_array_elements((:'j'::jsonb)->'result') m"
}

has() {
	texts "$1" | grep -qF -- "$2"
}

# sent PATTERN: the bot sent a message containing PATTERN (even one that
# has deleted itself since).
sent() {
	ctl 'calls?method=sendMessage' | grep -qF -- "$1"
}

# press USER MESSAGE_ID DATA
press() {
	ctl_json press "{\"chat_id\":$1,\"message_id\":$2,\"data\":\"$3\",
	    \"from\":{\"id\":$1,\"first_name\":\"U$1\"}}" >/dev/null
}
