#!/bin/sh
# 020-echobot: the example bot against the fake Bot API and PostgreSQL,
# for its behaviour and bc_bot_run()'s contract: --check-config and its
# one-line errors, readiness (BOTD_NOTIFY_FD, /health/ready) only after
# getMe, the commands and the echo, /metrics, the single-instance lock, a
# clean SIGTERM that flushes pending replies, and a rejected token (exit
# 100, never logged).
. "$(dirname "$0")/lib.sh"

TOKEN=123456:EchoTEST-token_x
BAD=987654:NotKnownToTheFake_zz

t_plan 21 020-echobot
fake_start -t "$TOKEN"
db_create echo020
token_file "$W/token" "$TOKEN"

# texts CHAT: the bot's messages in the chat, one text a line.
texts() {
	ctl "messages?chat_id=$1" >"$W/msgs.json"
	json_sql "$W/msgs.json" "SELECT m->>'text' FROM
	    jsonb_array_elements((:'j'::jsonb)->'result') m
	    ORDER BY (m->>'message_id')::bigint"
}

# say USER TEXT: USER writes TEXT in their private chat.
say() {
	ctl send --data-urlencode "text=$2" \
	    --data-urlencode "from={\"id\":$1,\"first_name\":\"U$1\"}" \
	    >/dev/null
}

# nreplies CHAT N: the bot has sent at least N messages there.
nreplies() { [ "$(texts "$1" | wc -l)" -ge "$2" ]; }

# ------------------------------------------------------------ --check-config

# conf_check NAME: --check-config on $W/NAME.ini; exit code in $rc, the
# output in $out, its line count in $lines.
conf_check() {
	"$ECHOBOT" -c "$W/$1.ini" --check-config >"$W/$1.out" 2>&1
	rc=$?
	out=$(cat "$W/$1.out")
	lines=$(wc -l <"$W/$1.out")
}

# conf_bad DESCRIPTION NAME PATTERN...: exit 100 and one line with all.
conf_bad() {
	cb_d=$1
	cb_n=$2
	shift 2
	conf_check "$cb_n"
	if [ "$rc" -eq 100 ] && [ "$lines" -eq 1 ] &&
	    contains "$out" "$@"; then
		ok "$cb_d"
	else
		not_ok "$cb_d"
		diag "exit $rc, $lines lines: $out"
	fi
}

bot_conf "$W/good.ini" "$W/token"
conf_check good
if [ "$rc" -eq 0 ] && contains "$out" "configuration ok"; then
	ok "--check-config: a good file, exit 0"
else
	not_ok "--check-config: a good file, exit 0"
	diag "exit $rc: $out"
fi

# The line numbers below are those of bot_conf's layout: [telegram] on 2,
# its keys on 3-5, then TG_EXTRA on 6, [database] on 8, url on 9,
# migrations on 10, [log] on 12, level on 13, then CONF_EXTRA on 14.
CONF_EXTRA='[database2]' bot_conf "$W/section.ini" "$W/token"
TG_EXTRA='colour = blue' bot_conf "$W/key.ini" "$W/token"
CONF_EXTRA='[bot]
stop_timeout = 5 s' bot_conf "$W/duration.ini" "$W/token"
bot_conf "$W/nourl.ini" "$W/token"
sed -i '/^url = /d' "$W/nourl.ini"
cp "$W/token" "$W/token.public"
chmod 0644 "$W/token.public"
bot_conf "$W/public.ini" "$W/token.public"

conf_bad "--check-config: a bad duration names file, line and key" \
    duration "$W/duration.ini:15: [bot] stop_timeout: '5 s'"
conf_bad "--check-config: an unknown key names file, line and key" \
    key "$W/key.ini:6: [telegram] unknown key 'colour'"
conf_bad "--check-config: an unknown section names file, line and section" \
    section "$W/section.ini:14: unknown section [database2]"
conf_bad "--check-config: a missing [database] url names file and key" \
    nourl "$W/nourl.ini: [database] url is required"
conf_bad "--check-config: a world-readable token file is refused" \
    public "$W/public.ini:4: [telegram] token_file:" "$W/token.public" \
    "0644"

# ------------------------------------------------------------ readiness

# getMe is held for a while by the fake: the bot must not be ready before
# it is answered, and READY=1 must come after it.
ctl_json faults '{"method":"getMe","delay_ms":2500,"count":1}' >/dev/null
CONF_EXTRA='[http]
listen = 127.0.0.1:0' bot_conf "$W/bot.ini" "$W/token"
mkfifo "$W/notify"
t_spawn "$W/notify.out" /dev/null cat "$W/notify"
env BOTD_NOTIFY_FD=7 "$ECHOBOT" -c "$W/bot.ini" >"$W/bot.out" \
    2>"$W/bot.log" 7>"$W/notify" &
BOT=$!
t_track "$BOT"

wait_until 60 "grep -q 'msg=\"http listening\"' '$W/bot.log'" ||
    bail "no 'http listening' line: $(cat "$W/bot.log")"
PORT=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' \
    "$W/bot.log")
H=http://127.0.0.1:$PORT
wait_until 60 "ctl 'calls?method=getMe&pending=1' | grep -q getMe" ||
    bail "the bot never called getMe: $(cat "$W/bot.log")"
r=$(curl -sS -w ' %{http_code}' "$H/health/ready")
if contains "$r" '"ready":false' 'starting' ' 503' &&
    ! grep -q 'READY=1' "$W/notify.out"; then
	ok "not ready (503, no READY=1) while getMe is unanswered"
else
	not_ok "not ready (503, no READY=1) while getMe is unanswered"
	diag "ready: $r" "notify: $(cat "$W/notify.out")"
fi

wait_until 60 "grep -q '^READY=1\$' '$W/notify.out'"
me=$(ctl 'calls?method=getMe')
if grep -q '^READY=1$' "$W/notify.out" &&
    contains "$me" '"method":"getMe"' '"status":200'; then
	ok "READY=1 on BOTD_NOTIFY_FD, after getMe was answered"
else
	not_ok "READY=1 on BOTD_NOTIFY_FD, after getMe was answered"
	diag "notify: $(cat "$W/notify.out")" "getMe: $me"
fi

# The command menu: setMyCommands with the table, names for descriptions.
want='[{"command":"start","description":"start"},{"command":"ping","description":"ping"},{"command":"count","description":"count"}]'
wait_until 30 "curl -sS '$FAKE_URL/bot$TOKEN/getMyCommands' |
    grep -qF '$want'"
is "the command menu is set at start (setMyCommands)" \
    "$(curl -sS "$FAKE_URL/bot$TOKEN/getMyCommands" | tr -d ' ')" \
    "{\"ok\":true,\"result\":$want}"

r=$(curl -sS -w ' %{http_code}' "$H/health/live")$(curl -sS \
    -w ' %{http_code}' "$H/health/ready")
check "/health/live and /health/ready answer 200 when ready" \
    contains "$r" 'ok 200' '{"ready":true} 200'

# ------------------------------------------------------------ behaviour

say 30001 /start
wait_until 30 "nreplies 30001 1"
is "/start: the greeting" "$(texts 30001)" \
    "Hi! Send me anything and I will echo it. /ping, /count."

say 30002 /ping
wait_until 30 "nreplies 30002 1"
is "/ping: pong" "$(texts 30002)" "pong"

say 30003 hello
say 30003 hello
say 30003 /count
wait_until 30 "nreplies 30003 3"
is "a text is echoed with the sender's count; /count" "$(texts 30003)" \
    "echo 1: hello
echo 2: hello
you sent 2 messages"

say 30003 '<b>&amp; "x" &'
wait_until 30 "nreplies 30003 4"
r=$(ctl 'calls?method=sendMessage')
if [ "$(texts 30003 | tail -n 1)" = 'echo 3: <b>&amp; "x" &' ] &&
    ! printf %s "$r" | grep -q parse_mode; then
	ok "HTML-ish text comes back intact (no parse_mode)"
else
	not_ok "HTML-ish text comes back intact (no parse_mode)"
	diag "$(texts 30003 | tail -n 1)"
fi

curl -sS -o "$W/metrics.txt" "$H/metrics"
m=$(cat "$W/metrics.txt")
check "/metrics counts the updates, the API calls and the database" \
    contains "$m" \
    'bot_updates_total{type="message",command="",outcome="ok"} 3' \
    'bot_updates_total{type="message",command="ping",outcome="ok"} 1' \
    'tg_api_calls_total{method="sendMessage",result="ok"} 6' \
    'bot_handler_duration_seconds_count{type="message"} 6' \
    'tg_queue_depth ' 'tg_flood_waits_total 0' \
    'db_query_duration_seconds_count ' 'db_connected 1' \
    '# TYPE db_errors_total counter' '# TYPE db_reconnects_total counter'
if "$BOTFLEET_BUILD/tests/fakes/promcheck" "$W/metrics.txt" 2>"$W/pc.err"
then
	ok "/metrics is valid Prometheus text (promcheck)"
else
	not_ok "/metrics is valid Prometheus text (promcheck)"
	diag "$(cat "$W/pc.err")"
fi

# ------------------------------------------------------------ one instance

bot_start second "$W/good.ini"
SECOND=$BOT_PID
t_wait "$SECOND" 60
say 30004 /ping
wait_until 30 "nreplies 30004 1"
if [ "$T_RC" = 100 ] && grep -q 'another instance' "$W/second.log" &&
    alive "$BOT" && [ "$(texts 30004)" = pong ]; then
	ok "a second instance with the same token exits 100; the first runs on"
else
	not_ok "a second instance with the same token exits 100; the first runs on"
	diag "exit $T_RC: $(cat "$W/second.log")"
fi

# ------------------------------------------------------------ SIGTERM

# Three replies are held by the fake when SIGTERM comes: the bot must send
# them all before it exits 0, and confirm the updates' offset.
ctl_json faults '{"method":"sendMessage","delay_ms":1500,"count":3}' \
    >/dev/null
for u in 30011 30012 30013; do
	say "$u" "bye $u"
done
wait_until 60 "[ \"\$(ctl 'calls?method=sendMessage&pending=1' |
    grep -o '\"state\":\"pending\"' | wc -l)\" -eq 3 ]" ||
    diag "the replies were not all held"
kill -TERM "$BOT"
t_wait "$BOT" 60
is "SIGTERM: a clean stop, exit 0" "$T_RC" 0
flushed=$(texts 30011; texts 30012; texts 30013)
if [ "$flushed" = "echo 1: bye 30011
echo 1: bye 30012
echo 1: bye 30013" ] && [ "$(q 'SELECT count(*) FROM tg_outbox')" = 0 ] &&
    contains "$(ctl updates)" '{"ok":true,"result":[]}'; then
	ok "SIGTERM: pending replies were flushed, the offset confirmed"
else
	not_ok "SIGTERM: pending replies were flushed, the offset confirmed"
	diag "replies: $flushed" "updates: $(ctl updates | head -c 300)" \
	    "outbox: $(q 'SELECT count(*) FROM tg_outbox')"
fi

# ------------------------------------------------------------ 401

# -v: even the debug lines (request URLs) must not show the token.
token_file "$W/token.bad" "$BAD"
bot_conf "$W/bad.ini" "$W/token.bad"
t_spawn "$W/bad.out" "$W/bad.log" "$ECHOBOT" -v -c "$W/bad.ini"
t_wait "$T_PID" 60
if [ "$T_RC" = 100 ] && grep -q 'rejected the token' "$W/bad.log"; then
	ok "a token the fake rejects (401): exit 100"
else
	not_ok "a token the fake rejects (401): exit 100"
	diag "exit $T_RC" "$(tail -n 5 "$W/bad.log")"
fi
# Neither token, good or bad, in anything a bot printed (the fake's own
# output aside).
for f in "$W"/*.log "$W"/*.out; do
	case $f in */fake.*) continue ;; esac
	grep -l -F -e "${BAD#*:}" -e "${TOKEN#*:}" "$f"
done >"$W/leaks"
if [ -s "$W/bad.log" ] && [ ! -s "$W/leaks" ]; then
	ok "no token ever appears in the bots' output"
else
	not_ok "no token ever appears in the bots' output"
	diag "in: $(cat "$W/leaks")"
fi

t_done
