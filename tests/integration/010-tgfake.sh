#!/bin/sh
# 010-tgfake: the fake Telegram Bot API server itself, driven with curl(1).
#
# Starts $BOTFLEET_BUILD/tests/fakes/tgfake on an ephemeral loopback port
# (read from its port file), checks the Bot API behaviour the bots rely on
# and the control API the other tests use, and kills the server on every
# path. The fake answers compact JSON, so substring checks are exact.
set -u

FAKE=${BOTFLEET_BUILD:?run through tests/run}/tests/fakes/tgfake
T=123456:TEST-token_x
W=${TMPDIR:-/tmp}/010-tgfake.$$
mkdir -p "$W" || exit 1

pid=
bg=
cleanup() {
	for p in $bg; do
		kill "$p" 2>/dev/null
	done
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }

# has TEXT PATTERN...: every pattern occurs in TEXT.
has() {
	t=$1
	shift
	for p in "$@"; do
		case $t in
		*"$p"*) ;;
		*) echo "# missing: $p" >&2; echo "# in: $(printf %s "$t" |
		    cut -c1-400)" >&2; return 1 ;;
		esac
	done
	return 0
}

# check DESCRIPTION TEXT PATTERN...
check() {
	d=$1
	shift
	if has "$@"; then ok "$d"; else not_ok "$d"; fi
}

api() {	# api METHOD [curl args...]: a Bot API call, body on stdout
	m=$1
	shift
	curl -sS --max-time 30 "$U/bot$T/$m" "$@"
}

ctl() {	# ctl PATH [curl args...]
	p=$1
	shift
	curl -sS --max-time 30 "$U/_ctl/$p" "$@"
}

json() { printf '%s' "-HContent-Type: application/json"; }

# wait_for ctl|api PATH PATTERN: poll (bounded, 10 s) until the answer
# contains the pattern. Only for waiting; the checks come after.
wait_for() {
	i=0
	while [ $i -lt 200 ]; do
		case $("$1" "$2") in *"$3"*) return 0 ;; esac
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

echo "1..35"

# start, port file, startup line.
"$FAKE" -p "$W/port" -t "$T" --webhook-backoff 50:200 >"$W/out" \
    2>"$W/err" &
pid=$!
i=0
while [ ! -s "$W/port" ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
P=$(cat "$W/port" 2>/dev/null)
U=http://127.0.0.1:$P
if [ -n "$P" ] && grep -q "^listening 127.0.0.1:$P\$" "$W/out"; then
	ok "server listens on the port it wrote"
else
	not_ok "server listens on the port it wrote"
	echo "Bail out! tgfake did not start: $(cat "$W/err")"
	exit 1
fi

# getMe, bad token, unknown method.
check "getMe" "$(api getMe)" '"ok":true' '"id":123456' '"is_bot":true' \
    '"username":"fake123456_bot"'
check "401 for an unknown token" \
    "$(curl -sS "$U/bot999:nope/getMe")" \
    '{"ok":false,"error_code":401,"description":"Unauthorized"}'
check "404 for an unknown method" "$(api getNothing)" \
    '{"ok":false,"error_code":404,"description":"Not Found"}'

# a user's command, redelivery until confirmed, offset confirmation.
ctl send -d 'text=/start now' >/dev/null
r=$(api getUpdates)
check "send -> getUpdates returns it with a bot_command entity" "$r" \
    '"update_id":1000' '"text":"/start now"' \
    '"entities":[{"type":"bot_command","offset":0,"length":6}]'
check "an unconfirmed update comes again" "$(api getUpdates)" \
    '"update_id":1000'
check "offset confirmation forgets it" \
    "$(api getUpdates -d offset=1001)" '{"ok":true,"result":[]}'

# long polling answers as soon as an update arrives.
t0=$(date +%s)
curl -sS --max-time 30 "$U/bot$T/getUpdates?timeout=20&offset=1001" \
    >"$W/poll1" &
p1=$!
bg="$bg $p1"
wait_for ctl stats '"held_requests":1'
ctl send -d text=wake >/dev/null
wait $p1
t1=$(date +%s)
if has "$(cat "$W/poll1")" '"update_id":1001' '"text":"wake"' &&
    [ $((t1 - t0)) -lt 10 ]; then
	ok "a held getUpdates returns early when an update arrives"
else
	not_ok "a held getUpdates returns early when an update arrives"
fi

# and returns [] when its timeout passes.
check "long polling times out with []" \
    "$(api getUpdates -d timeout=1 -d offset=1002)" \
    '{"ok":true,"result":[]}'

# a second poller: the older request gets 409.
curl -sS --max-time 30 "$U/bot$T/getUpdates?timeout=20&offset=1002" \
    >"$W/poll2" &
p2=$!
bg="$bg $p2"
wait_for ctl stats '"held_requests":1'
r=$(api getUpdates -d timeout=1 -d offset=1002)
wait $p2
if has "$(cat "$W/poll2")" '"error_code":409' \
    'terminated by other getUpdates request' &&
    has "$r" '{"ok":true,"result":[]}'; then
	ok "409 for the older of two pollers, the newer one goes on"
else
	not_ok "409 for the older of two pollers, the newer one goes on"
fi

# webhook: 409 for polling, delivery with the secret and retries.
r=$(api setWebhook -d "url=$U/_ctl/sink?fail=2" -d secret_token=s3cr_t \
    -d max_connections=1)
check "setWebhook" "$r" '"ok":true' '"description":"Webhook was set"'
check "409 for getUpdates while a webhook is set" "$(api getUpdates)" \
    '"error_code":409' "can't use getUpdates method while webhook is active"
ctl send -d text=hooked >/dev/null
wait_for api getWebhookInfo '"pending_update_count":0'
r=$(ctl sink)
check "webhook delivery retried until 2xx, with the secret header" "$r" \
    '"seq":1,"query":"fail=2","secret":"s3cr_t","status":500' \
    '"seq":2,"query":"fail=2","secret":"s3cr_t","status":500' \
    '"seq":3,"query":"fail=2","secret":"s3cr_t","status":200' \
    '"text":"hooked"'
check "getWebhookInfo: nothing pending, the last error kept" \
    "$(api getWebhookInfo)" '"pending_update_count":0' \
    '"last_error_message":"Wrong response from the webhook: 500'
check "deleteWebhook, then polling works again" \
    "$(api deleteWebhook)$(api getUpdates -d offset=1003)" \
    '"description":"Webhook was deleted"' '{"ok":true,"result":[]}'

# validation as Telegram does it.
long=$(printf '%4097s' '' | tr ' ' a)
want='{"ok":false,"error_code":400,'
want=$want'"description":"Bad Request: message is too long"}'
check "400 for text over 4096 characters" \
    "$(api sendMessage -d chat_id=10000 --data-urlencode "text=$long")" \
    "$want"
long=$(printf '%4095s' '' | tr ' ' a)
check "characters outside the BMP count as two" \
    "$(api sendMessage -d chat_id=10000 \
    --data-urlencode "text=$long$(printf '\360\237\230\200')")" \
    'Bad Request: message is too long'
data=$(printf '%65s' '' | tr ' ' x)
check "400 for callback_data over 64 bytes" \
    "$(api sendMessage "$(json)" -d '{"chat_id":10000,"text":"k",
    "reply_markup":{"inline_keyboard":[[{"text":"a",
    "callback_data":"'"$data"'"}]]}}')" \
    '"error_code":400' 'BUTTON_DATA_INVALID'
check "400 for unbalanced HTML" \
    "$(api sendMessage -d chat_id=10000 -d parse_mode=HTML \
    --data-urlencode 'text=<b>bold')" \
    "Bad Request: can't parse entities: " \
    "Can't find end tag corresponding to start tag \\\"b\\\""
check "400 for a bad JSON body, Telegram's shape" \
    "$(api sendMessage "$(json)" -d '{"chat_id":')" \
    '{"ok":false,"error_code":400,"description":"Bad Request: '

# a keyboard, a press, the answer, edits, inspection.
r=$(api sendMessage "$(json)" -d '{"chat_id":10000,"text":"<b>Pick</b>",
    "parse_mode":"HTML","reply_markup":{"inline_keyboard":[[
    {"text":"Yes","callback_data":"v:yes"},
    {"text":"No","callback_data":"v:no"}]]}}')
check "sendMessage returns the Message with entities and keyboard" "$r" \
    '"text":"Pick"' '"entities":[{"type":"bold","offset":0,"length":4}]' \
    '"callback_data":"v:yes"'
mid=$(printf '%s' "$r" |
    sed -n 's/^{"ok":true,"result":{"message_id":\([0-9]*\),.*/\1/p')
r=$(ctl press -d chat_id=10000 -d "message_id=$mid" -d data=v:yes)
cq=$(printf '%s' "$r" | sed -n 's/.*"callback_query_id":"\([0-9]*\)".*/\1/p')
u=$(api getUpdates -d offset=1003)
a1=$(api answerCallbackQuery -d "callback_query_id=$cq" -d text=thanks)
a2=$(api answerCallbackQuery -d "callback_query_id=$cq")
if [ -n "$cq" ] && has "$u" "\"callback_query\":{\"id\":\"$cq\"" \
    '"data":"v:yes"' && [ "$a1" = '{"ok":true,"result":true}' ] &&
    has "$a2" '"error_code":400' 'query is too old'; then
	ok "press -> callback_query; answered once, then 400"
else
	not_ok "press -> callback_query; answered once, then 400"
fi
check "pressing a button that is not there is refused" \
    "$(ctl press -d chat_id=10000 -d "message_id=$mid" -d data=v:maybe)" \
    '"ok":false' 'no such callback button'
api editMessageText -d chat_id=10000 -d "message_id=$mid" -d text=Picked \
    >/dev/null
check "400 when an edit changes nothing" \
    "$(api editMessageText -d chat_id=10000 -d "message_id=$mid" \
    -d text=Picked)" 'Bad Request: message is not modified'
api deleteMessage -d chat_id=10000 -d "message_id=$mid" >/dev/null
api sendMessage -d chat_id=10000 -d text=last >/dev/null
check "messages shows what the user sees after edit and delete" \
    "$(ctl 'messages?chat_id=10000')" '"text":"last"'
case $(ctl 'messages?chat_id=10000') in
*Picked*|*Pick*) not_ok "a deleted message is gone" ;;
*) ok "a deleted message is gone" ;;
esac

# the call log.
want='"params":{"chat_id":"10000","message_id":"'$mid'",'
want=$want'"text":"Picked"},"status":200'
check "calls records method, params and status" \
    "$(ctl 'calls?method=editMessageText')" '"method":"editMessageText"' \
    "$want" '"status":400' '"error":"Bad Request: message is not modified'

# rate limit.
ctl limits -d chat=1/min >/dev/null
api sendMessage -d chat_id=777 -d text=one >/dev/null
check "429 with retry_after when the per-chat rate is exceeded" \
    "$(api sendMessage -d chat_id=777 -d text=two)" \
    '"error_code":429' '"parameters":{"retry_after":'
ctl limits -d chat=off >/dev/null

# fault injection.
ctl faults -d method=sendMessage -d status=502 >/dev/null
r1=$(api sendMessage -d chat_id=10000 -d text=x)
r2=$(api sendMessage -d chat_id=10000 -d text=x)
if [ "$r1" = '{"ok":false,"error_code":502,"description":"Bad Gateway"}' ] &&
    has "$r2" '{"ok":true,"result":{"message_id":'; then
	ok "an injected 502, then success"
else
	not_ok "an injected 502, then success"
fi
ctl faults -d method=getMe -d drop=1 >/dev/null
curl -s "$U/bot$T/getMe" >/dev/null
rc=$?
if [ $rc -eq 52 ]; then
	ok "a dropped connection: curl exit 52"
else
	not_ok "a dropped connection: curl exit 52 (got $rc)"
fi

# blocked and migrated chats.
ctl block -d chat_id=4242 >/dev/null
want='{"ok":false,"error_code":403,'
want=$want'"description":"Forbidden: bot was blocked by the user"}'
check "403 for a chat that blocked the bot" \
    "$(api sendMessage -d chat_id=4242 -d text=hi)" "$want"
ctl migrate -d chat_id=-42 -d to=-1000000000042 >/dev/null
check "400 with migrate_to_chat_id for a migrated group" \
    "$(api sendMessage -d chat_id=-42 -d text=hi)" \
    '"error_code":400' '"parameters":{"migrate_to_chat_id":-1000000000042}'

# an upload.
printf 'hello upload\n' >"$W/doc.txt"
check "multipart sendDocument records the file" \
    "$(api sendDocument -F chat_id=10000 -F "document=@$W/doc.txt")" \
    '"document":{' '"file_size":13' '"file_name":"doc.txt"'

# counters, then reset.
s=$(ctl stats)
ctl reset -X POST >/dev/null
if has "$s" '"too_many_requests":1' '"faults_injected":2' \
    '"dropped_connections":1' '"502":1' '"403":1' &&
    has "$(ctl stats)" '{"calls":0,' &&
    has "$(ctl 'messages?chat_id=10000')" '{"ok":true,"result":[]}'; then
	ok "stats count 429s and injected faults; reset clears"
else
	not_ok "stats count 429s and injected faults; reset clears"
fi

# SIGTERM ends it cleanly.
kill "$pid"
wait "$pid"
rc=$?
pid=
if [ $rc -eq 0 ]; then
	ok "exits 0 on SIGTERM"
else
	not_ok "exits 0 on SIGTERM (got $rc)"
	cat "$W/err" >&2
fi

[ "$n" -eq 35 ] || echo "# planned 35, ran $n"
[ "$failed" -eq 0 ] && [ "$n" -eq 35 ]
