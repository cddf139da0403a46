#!/bin/sh
# 310-btc: the Bitcoin price bot against the fake Bot API, the fake price
# server (tests/fakes/pricefake) and PostgreSQL: /price and its live edits,
# the alert conversation with hostile input, alerts kept across a restart,
# firing once, deleted alerts silent, the $500-step announcements
# remembered across a restart, a source outage (fallback, nothing at all,
# recovery), the CoinMarketCap key rotation, and hostile commands and
# callback data.
. "$(dirname "$0")/lib.sh"

TOKEN=310310:BtcTEST-token_x
BTC=$BOTFLEET_BUILD/bots/btc
PRICEFAKE=$BOTFLEET_BUILD/tests/fakes/pricefake
ANN=-100310
KEY1=cmc-key-one-AAAA
KEY2=cmc-key-two-BBBB

t_plan 30 310-btc
fake_start -t "$TOKEN"
db_create btc310
token_file "$W/token" "$TOKEN"
# A snapshot of the migrations: the same files for every start.
mkdir "$W/sql" && cp "$TOP"/sql/*.sql "$W/sql/"
(umask 077 && printf '# keys\n%s\n\n  %s  \n' "$KEY1" "$KEY2" >"$W/keys")

t_spawn "$W/pf.out" "$W/pf.err" "$PRICEFAKE" -p "$W/pf.port" -P 65000
PF_PID=$T_PID
wait_until 20 '[ -s "$W/pf.port" ]' ||
    bail "pricefake did not start: $(cat "$W/pf.err")"
PF=http://127.0.0.1:$(cat "$W/pf.port")

pf() { curl -sS --max-time 30 "$PF/_ctl/$1"; }
# pstat NAME: a counter of the price fake.
pstat() { pf stats | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
# set_price USD
set_price() { pf "price?usd=$1" >/dev/null; }
# fetches N: wait until the fake has answered N more requests (cmc and
# coinbase together) than now: a barrier for "the bot looked again".
fetches() {
	f_base=$(($(pstat cmc) + $(pstat coinbase)))
	wait_until 60 "[ \$((\$(pstat cmc) + \$(pstat coinbase))) -ge \
	    $((f_base + $1)) ]"
}

# btc_conf FILE [EXTRA]: the bot's configuration.
btc_conf() {
	cat >"$1" <<EOF
[telegram]
api_url = $FAKE_URL
token_file = $W/token
poll_timeout = 10
chat_interval = 1ms
chat_burst = 1000
group_per_min = 1000

[database]
url = $DB
migrations = $W/sql

[btc]
cmc_api_url = $PF
fallback_url = $PF
cmc_keys_file = $W/keys
cache = 200ms
check_interval = 300ms
source_backoff = 300ms
request_timeout = 5s
announce_chat_id = $ANN
announce_interval = 400ms
${2:-}
EOF
}

btc_start() {
	t_spawn "$W/bot$1.out" "$W/bot$1.log" "$BTC" -c "$W/btc.ini"
	BOT=$T_PID
	bot_ready "$W/bot$1.log" 60 ||
	    bail "btc is not ready: $(cat "$W/bot$1.log")"
}

texts() {
	ctl "messages?chat_id=$1" >"$W/msgs.json"
	json_sql "$W/msgs.json" "SELECT m->>'text' FROM
	    jsonb_array_elements((:'j'::jsonb)->'result') m
	    ORDER BY (m->>'message_id')::bigint"
}
say() {
	ctl send --data-urlencode "text=$2" \
	    --data-urlencode "from={\"id\":$1,\"first_name\":\"U$1\"}" \
	    >/dev/null
}
# count CHAT: the bot's messages there; last CHAT: the newest, whole.
count() {
	ctl "messages?chat_id=$1" >"$W/msgs.json"
	json_sql "$W/msgs.json" "SELECT count(*) FROM
	    jsonb_array_elements((:'j'::jsonb)->'result') m"
}
# since CHAT N: the bot's messages there after the first N, one a line.
since() {
	ctl "messages?chat_id=$1" >"$W/msgs.json"
	json_sql "$W/msgs.json" "SELECT m->>'text' FROM
	    jsonb_array_elements((:'j'::jsonb)->'result') m
	    ORDER BY (m->>'message_id')::bigint OFFSET $2"
}
# ann_pending: announcements written but not yet accepted by the fake.
ann_pending() {
	q "SELECT count(*) FROM tg_outbox WHERE failed_at IS NULL AND
	    params->>'chat_id' = '$ANN'"
}
nmsgs() { [ "$(count "$1")" -ge "$2" ]; }
last() {
	ctl "messages?chat_id=$1" >"$W/msgs.json"
	json_sql "$W/msgs.json" "SELECT m->>'text' FROM
	    jsonb_array_elements((:'j'::jsonb)->'result') m
	    ORDER BY (m->>'message_id')::bigint DESC LIMIT 1"
}
# say_wait USER TEXT: say it and wait for one more message in the chat.
say_wait() {
	sw_n=$(count "$1")
	say "$1" "$2"
	wait_until 30 "nmsgs $1 $((sw_n + 1))" || diag "no reply to '$2'"
}

# ------------------------------------------------------------ config

btc_conf "$W/btc.ini"
btc_conf "$W/bad1.ini" "tolerance = -5"
btc_conf "$W/bad2.ini" "check_interval = 1ms"
printf '\n# nothing\n' >"$W/nokeys"
chmod 600 "$W/nokeys"
btc_conf "$W/bad3.ini"
sed -i "s|^cmc_keys_file = .*|cmc_keys_file = $W/nokeys|" "$W/bad3.ini"
out=$("$BTC" -c "$W/btc.ini" --check-config 2>&1)
rc=$?
bad=
for f in bad1 bad2 bad3; do
	"$BTC" -c "$W/$f.ini" --check-config >"$W/$f.out" 2>&1
	bad="$bad $?"
done
if [ "$rc" = 0 ] && [ "$bad" = " 100 100 100" ] &&
    grep -q 'tolerance' "$W/bad1.out" && grep -q 'no key' "$W/bad3.out"; then
	ok "--check-config: a good file passes; bad [btc] values exit 100"
else
	not_ok "--check-config: a good file passes; bad [btc] values exit 100"
	diag "rc $rc bad$bad: $out" "$(cat "$W"/bad*.out)"
fi

btc_start 1

# The first look adopts the current step without announcing anything: the
# step and any message would be written in one transaction.
wait_until 30 "[ -n \"\$(q 'SELECT last_step FROM btc_announce')\" ]"
if [ "$(q 'SELECT last_step FROM btc_announce')" = 65000 ] &&
    [ "$(ann_pending)" = 0 ] && [ "$(count $ANN)" = 0 ]; then
	ok "steps: the first start adopts the current step silently"
else
	not_ok "steps: the first start adopts the current step silently"
	diag "$(q 'SELECT last_step FROM btc_announce')" "$(texts $ANN)"
fi

# ------------------------------------------------------------ /price

say_wait 31001 /start
check "/start lists the commands" contains "$(last 31001)" /price \
    /set_check_btc_price /list_alerts /delete_alert

say_wait 31001 /price
is "/price: the current price" "$(texts 31001 | tail -n 1)" \
    'Current BTC Price: $65,000.00 USD'

set_price 65123.45
wait_until 30 "[ \"\$(last 31001)\" = 'Current BTC Price: \$65,123.45 USD' ]"
if [ "$(last 31001)" = 'Current BTC Price: $65,123.45 USD' ] &&
    [ "$(count 31001)" = 2 ] &&
    contains "$(ctl 'calls?method=editMessageText')" '"status":200'; then
	ok "the /price message is edited in place as the price moves"
else
	not_ok "the /price message is edited in place as the price moves"
	diag "$(texts 31001)"
fi

# ------------------------------------------------------------ alerts

set_price 65000
say_wait 31002 /set_check_btc_price
check "/set_check_btc_price asks for the target" contains \
    "$(last 31002)" "target price in USD"
n_bad=0
for t in abc -5 0 1e9 99999999999 '70000.123' '<b>1</b>' '$' \
    '1,2,3,4,5,6,7,8,9,0' "$(printf 'x%.0s' $(seq 1 3000))"; do
	say_wait 31002 "$t"
	case $(last 31002) in
	"That is not a price"*) n_bad=$((n_bad + 1)) ;;
	*) diag "'$t' got: $(last 31002)" ;;
	esac
done
is "ten hostile targets: each refused, the question stays open" \
    "$n_bad" 10
say_wait 31002 '$70,000'
is "a valid target: the alert is set" "$(last 31002)" \
    'Alert set for $70,000.00. I will tell you when BTC is within $100 of it.'
say_wait 31002 '/set_check_btc_price 69900.5'
say_wait 31002 '/set_check_btc_price 72000'
say_wait 31002 '/set_check_btc_price twelve'
check "/set_check_btc_price with a bad argument is refused" contains \
    "$(last 31002)" "That is not a price"
say_wait 31002 /list_alerts
ids=$(q "SELECT string_agg(id::text, ' ' ORDER BY id) FROM btc_alerts
    WHERE chat_id = 31002")
set -- $ids
A70=$1 A699=$2 A72=$3
is "/list_alerts: the chat's three alerts" "$(last 31002)" \
    "Alerts in this chat:
#$A70: \$70,000.00
#$A699: \$69,900.50
#$A72: \$72,000.00"

# Another chat's alert cannot be deleted or listed from here.
say_wait 31003 '/set_check_btc_price 50000'
OTHER=$(q "SELECT id FROM btc_alerts WHERE chat_id = 31003")
say_wait 31002 "/delete_alert $OTHER"
say_wait 31002 '/delete_alert abc'
say_wait 31002 '/delete_alert 99999999999999999999999'
say_wait 31002 "/delete_alert -$A70"
if [ "$(texts 31002 | tail -n 4)" = "There is no alert #$OTHER in this chat. See /list_alerts.
Usage: /delete_alert [number], the number shown by /list_alerts.
Usage: /delete_alert [number], the number shown by /list_alerts.
Usage: /delete_alert [number], the number shown by /list_alerts." ] &&
    [ "$(q 'SELECT count(*) FROM btc_alerts')" = 4 ]; then
	ok "/delete_alert: another chat's alert and bad numbers are refused"
else
	not_ok "/delete_alert: another chat's alert and bad numbers are refused"
	diag "$(texts 31002 | tail -n 4)"
fi

# Hostile callback data, straight into the update queue.
cq=0
for d in 'del:abc' "del:$OTHER" 'del:' "del:99999999999999999999" \
    "del:1;DROP TABLE btc_alerts"; do
	ctl_json update "{\"update\":{\"callback_query\":{\"id\":\"cq$cq\",
	    \"from\":{\"id\":31002,\"first_name\":\"U\"},\"data\":\"$d\",
	    \"chat_instance\":\"1\"}}}" >/dev/null
	cq=$((cq + 1))
done
wait_until 30 "[ \"\$(ctl updates | grep -c callback_query)\" = 0 ]"
say_wait 31002 /list_alerts
if [ "$(q 'SELECT count(*) FROM btc_alerts')" = 4 ] && alive "$BOT"; then
	ok "hostile callback data: nothing deleted, the bot runs on"
else
	not_ok "hostile callback data: nothing deleted, the bot runs on"
fi

# Delete 69,900.50 with the keyboard.
say_wait 31002 /delete_alert
MID=$(ctl "messages?chat_id=31002" | grep -o '"message_id":[0-9]*' |
    tail -n 1 | cut -d: -f2)
ctl press --data-urlencode "chat_id=31002" --data-urlencode \
    "message_id=$MID" --data-urlencode "data=del:$A699" \
    --data-urlencode 'from={"id":31002,"first_name":"U"}' >/dev/null
wait_until 30 "[ \"\$(q 'SELECT count(*) FROM btc_alerts')\" = 3 ]"
is "the delete keyboard: the pressed alert is gone, the message says so" \
    "$(last 31002)" "Alert #$A699 for \$69,900.50 deleted."

# ------------------------------------------------------------ restart

t_stop "$BOT"
btc_start 2
say_wait 31002 /list_alerts
is "alerts survive a restart" "$(last 31002)" "Alerts in this chat:
#$A70: \$70,000.00
#$A72: \$72,000.00"

# 69,950 is within $100 of 70,000 and of the deleted 69,900.50.
n0=$(count 31002)
set_price 69950
wait_until 30 "nmsgs 31002 $((n0 + 1))"
fetches 4
if [ "$(since 31002 $n0)" = 'Target price reached! BTC is at $69,950.00 (your target: $70,000.00).' ] &&
    [ "$(q "SELECT count(*) FROM btc_alerts WHERE chat_id = 31002")" = 1 ]
then
	ok "in tolerance: one alert, once; the deleted one stays silent"
else
	not_ok "in tolerance: one alert, once; the deleted one stays silent"
	diag "$(since 31002 $n0)"
fi

# 72,000 set at 65,000: a jump straight past it fires it too.
set_price 75000
wait_until 30 "nmsgs 31002 $((n0 + 2))"
is "a price that jumps past the target fires it" "$(last 31002)" \
    'Target price reached! BTC is at $75,000.00 (your target: $72,000.00).'

# ------------------------------------------------------------ steps

# The step the first start adopted (65,000) is remembered, so the rise of
# the alerts above (to 69,950 then 75,000, or straight to 75,000: it
# depends on which prices the announce job saw) was announced up to
# 75,000. Those messages are written with the step but sent after it:
# wait until they are all delivered, then count. From 75,000, up to
# 76,020 crosses 75,500 and 76,000.
wait_until 30 "[ \"\$(q 'SELECT last_step FROM btc_announce')\" = 75000 ]"
wait_until 30 "[ \"\$(ann_pending)\" = 0 ]"
before=$(last $ANN)
n0=$(count $ANN)
set_price 76020
wait_until 30 "nmsgs $ANN $((n0 + 2))"
if [ "$before" = '🚀 Price reached $75,000' ] &&
    [ "$(since $ANN $n0)" = '🚀 Price reached $75,500
🚀 Price reached $76,000' ]; then
	ok "steps: each \$500 crossed upwards is announced"
else
	not_ok "steps: each \$500 crossed upwards is announced"
	diag "before: $before" "after: $(since $ANN $n0)"
fi

t_stop "$BOT"
btc_start 3
fetches 4
set_price 75990
wait_until 30 "nmsgs $ANN $((n0 + 3))"
fetches 4
is "steps: remembered across a restart; a fall is announced once" \
    "$(since $ANN $n0)" "🚀 Price reached \$75,500
🚀 Price reached \$76,000
🔻 Price fell below \$76,000"

# ------------------------------------------------------------ outage

pf 'fail?source=cmc&mode=500' >/dev/null
set_price 64000
cb0=$(pstat coinbase)
wait_until 60 "[ \$(pstat coinbase) -ge $((cb0 + 2)) ]"
say_wait 31004 /price
if [ "$(last 31004)" = 'Current BTC Price: $64,000.00 USD' ] &&
    [ "$(pstat coinbase)" -gt "$cb0" ]; then
	ok "CoinMarketCap down (500): the fallback's price"
else
	not_ok "CoinMarketCap down (500): the fallback's price"
	diag "$(last 31004)"
fi

pf 'fail?source=coinbase&mode=garbage' >/dev/null
fetches 3
say_wait 31005 /price
is "both sources down: a clear 'unavailable'" "$(last 31005)" \
    "Sorry, the BTC price is unavailable right now. Please try again in a minute."
pf 'fail?source=cmc&mode=negative' >/dev/null
pf 'fail?source=coinbase&mode=429' >/dev/null
fetches 3
say_wait 31005 /price
check "implausible prices and 429s are not shown" contains \
    "$(last 31005)" "unavailable"

pf 'fail?source=cmc&mode=none' >/dev/null
pf 'fail?source=coinbase&mode=none' >/dev/null
set_price 63000
c0=$(pstat cmc)
wait_until 30 "[ \$(pstat cmc) -gt $c0 ]"
say_wait 31005 /price
if [ "$(last 31005)" = 'Current BTC Price: $63,000.00 USD' ] &&
    alive "$BOT" && grep -q 'price available' "$W/bot3.log"; then
	ok "recovery: CoinMarketCap is used again, /price works"
else
	not_ok "recovery: CoinMarketCap is used again, /price works"
	diag "$(last 31005)"
fi

# ------------------------------------------------------------ keys

k1=$(pf stats | sed -n "s/.*\"$KEY1\":\([0-9]*\).*/\1/p")
k2=$(pf stats | sed -n "s/.*\"$KEY2\":\([0-9]*\).*/\1/p")
rot=$(q "SELECT count(*) || ' ' || (max(requests) - min(requests))
    FROM btc_cmc_usage")
if [ "${k1:-0}" -gt 0 ] && [ "${k2:-0}" -gt 0 ] &&
    { [ "$rot" = "2 0" ] || [ "$rot" = "2 1" ]; }; then
	ok "the CoinMarketCap keys are used in turn (least used first)"
else
	not_ok "the CoinMarketCap keys are used in turn (least used first)"
	diag "key1 $k1 key2 $k2, usage rows and spread: $rot"
fi
used=$(q "SELECT string_agg(key_id || '=' || requests, ' ') FROM btc_cmc_usage")
if ! grep -q -e "$KEY1" -e "$KEY2" "$W"/bot*.log &&
    ! printf %s "$used" | grep -q -e "$KEY1" -e "$KEY2" &&
    [ "$(q 'SELECT sum(requests) FROM btc_cmc_usage')" -le $((k1 + k2)) ]
then
	ok "key usage is counted per key hash; no key in logs or the database"
else
	not_ok "key usage is counted per key hash; no key in logs or the database"
	diag "usage: $used"
fi

# Every key over its limit: CoinMarketCap is no longer called.
t_stop "$BOT"
btc_conf "$W/btc.ini" "cmc_key_limit = 2"
btc_start 4
c0=$(pstat cmc)
fetches 6
is "cmc_key_limit reached by every key: no more CoinMarketCap calls" \
    "$(pstat cmc)" "$c0"

# ------------------------------------------------------------ the rest

say_wait 31006 /nonsense
say 31006 /price@some_other_bot
say_wait 31006 "/price $(printf 'y%.0s' $(seq 1 2000))"
is "an unknown command is answered; another bot's command ignored" \
    "$(texts 31006 | head -n 1)" \
    "I don't know that command. /start lists mine."
check "/price with junk arguments still answers" contains \
    "$(last 31006)" 'Current BTC Price: $63,000.00 USD'

# A live message whose chat went away stops being edited.
say_wait 31007 /price
ctl_json block '{"chat_id":31007}' >/dev/null
set_price 62000
wait_until 30 "[ \"\$(q 'SELECT count(*) FROM btc_live WHERE chat_id = 31007')\" = 0 ]"
is "a live message that cannot be edited any more is dropped" \
    "$(q 'SELECT count(*) FROM btc_live WHERE chat_id = 31007')" 0

kill -TERM "$BOT"
t_wait "$BOT" 30
is "SIGTERM: a clean stop" "$T_RC" 0
check "no warnings about leaked state or crashes in the log" \
    sh -c "! grep -q -e 'AddressSanitizer' -e 'runtime error' $W/bot*.log"
t_stop "$PF_PID"
t_done
