#!/bin/sh
# 021-echobot-faults: 10,000 updates from 100 users while the fake answers
# 429s (a per-chat rate limit stricter than the bot's own), 502s (JSON and
# an nginx page) and drops connections on sendMessage and getUpdates, and
# PostgreSQL is restarted (immediately, as in a crash) along the way. Every
# update must be answered exactly once, in order per chat, and its
# database effect (an echo_log row, the per-user count in the reply)
# applied exactly once.
#
# Why "exactly once" is an honest claim for replies here: the fake's drop
# fault closes the connection before it runs the method (api.c,
# after_delay() -> rq_drop()), so a dropped sendMessage stored nothing and
# the bot's retry is the only delivery. A real Telegram can drop the
# connection after storing the message; no client can tell the two apart,
# and that case is 022's "bounded duplicates", not this test's.
. "$(dirname "$0")/lib.sh"

TOKEN=424242:Faults-TEST_token
USERS=100
MSGS=100
TOTAL=$((USERS * MSGS))

t_plan 10 021-echobot-faults
fake_start -t "$TOKEN"
db_create echo021
token_file "$W/token" "$TOKEN"
# The bot's own limits are loose (the fake is the one that refuses), its
# per-chat burst above the 10 replies a chat gets per batch.
TG_EXTRA='global_rate = 1000000
chat_interval = 1ms
chat_burst = 1000' bot_conf "$W/bot.ini" "$W/token"
bot_start bot "$W/bot.ini"
BOT=$BOT_PID
bot_ready "$W/bot.log" 60 || bail "the bot is not ready: $(cat "$W/bot.log")"

handled() { q 'SELECT count(*) FROM echo_log' 2>/dev/null || echo 0; }
# at_least N: wait (bounded) until N updates are handled.
at_least() {
	wait_until 240 "[ \"\$(handled)\" -ge $1 ]" ||
	    diag "stuck below $1 handled updates"
}
stat() { ctl stats | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

t0=$(now_ms)
# Phase 1: 5 sends per chat per second, burst 5, while every chat gets 10
# replies in a row: 429s with retry_after. Lifted once the first have come
# and the bot has gone on, so the run stays short.
ctl_json limits '{"chat":"5/s:5"}' >/dev/null
queue_messages "$USERS" "$MSGS" 10
wait_until 120 '[ "$(stat too_many_requests)" -ge 1 ]' ||
    diag "no 429 in 120 s"
at_least 1500
ctl_json limits '{"chat":"off"}' >/dev/null
t1=$(now_ms)

# Phase 2: 502s and dropped connections on both sides.
at_least 2500
for f in '{"method":"sendMessage","status":502,"count":4}' \
    '{"method":"sendMessage","status":502,"body":"html","count":2}' \
    '{"method":"sendMessage","drop":true,"count":4}' \
    '{"method":"getUpdates","status":502,"count":1}'; do
	ctl_json faults "$f" >/dev/null
done

# Phase 3: more drops, and PostgreSQL restarted under the bot, while
# most of the work is still to come (a fast bot has fetched every update
# soon after the middle, and a fault must find calls left to hit).
at_least 3500
ctl_json faults '{"method":"getUpdates","drop":true,"count":1}' >/dev/null
ctl_json faults '{"method":"sendMessage","drop":true,"count":2}' >/dev/null
"$TOP/tests/lib/pgtmp" restart "$BOTFLEET_TEST_PGDIR" >/dev/null ||
    bail "cannot restart PostgreSQL"
t2=$(now_ms)

# Done when every update has its row and every reply was accepted (the
# outbox is empty); then a clean stop, so that nothing more can be sent.
wait_until 300 "[ \"\$(handled)\" -ge $TOTAL ] &&
    [ \"\$(q 'SELECT count(*) FROM tg_outbox')\" = 0 ] &&
    contains \"\$(ctl faults)\" '\"faults\":[]'" ||
    diag "not done in time: $(handled) handled"
t3=$(now_ms)
diag "429 phase $((t1 - t0)) ms, to the restart $((t2 - t0)) ms," \
    "all done $((t3 - t0)) ms"
kill -TERM "$BOT"
t_wait "$BOT" 60
is "the bot stops cleanly afterwards (exit 0)" "$T_RC" 0

r=$(q "SELECT count(*), count(DISTINCT update_id), count(DISTINCT text)
    FROM echo_log")
is "echo_log: $TOTAL rows, $TOTAL distinct update_ids and texts" "$r" \
    "$TOTAL|$TOTAL|$TOTAL"
r=$(q "SELECT count(*) FROM generate_series(1, $USERS) u,
    generate_series(1, $MSGS) i WHERE NOT EXISTS (SELECT 1 FROM echo_log
    WHERE text = format('u%s-m%s', u, i) AND user_id = 20000 + u)")
is "echo_log: every message sent, by its sender" "$r" 0
r=$(q "SELECT count(*), min(n), max(n) FROM echo_counts")
is "echo_counts: $MSGS for each of the $USERS users" "$r" \
    "$USERS|$MSGS|$MSGS"

# Every chat holds exactly "echo i: u<u>-m<i>" for i = 1..100, in order.
fetch_chats "$USERS" "$W/chats.json"
r=$(json_sql "$W/chats.json" "WITH got AS ($GOT_SQL),
    want AS (SELECT 20000 + u AS chat, i::bigint AS i,
    format('echo %s: u%s-m%s', i, u, i) AS text
    FROM generate_series(1, $USERS) u, generate_series(1, $MSGS) i)
    SELECT (SELECT count(*) FROM got) || ' ' ||
    (SELECT count(*) FROM (SELECT * FROM got EXCEPT ALL
    SELECT * FROM want) x) || ' ' || (SELECT count(*) FROM (SELECT *
    FROM want EXCEPT ALL SELECT * FROM got) y)")
if [ "$r" = "$TOTAL 0 0" ]; then
	ok "each chat got exactly its $MSGS echoes, once each, in order"
else
	not_ok "each chat got exactly its $MSGS echoes, once each, in order"
	diag "messages, unexpected, missing: $r"
	json_sql "$W/chats.json" "WITH got AS ($GOT_SQL) SELECT * FROM got
	    WHERE text <> format('echo %s: u%s-m%s', i, chat - 20000, i)
	    ORDER BY chat, i LIMIT 10" | sed 's/^/# /'
fi

s=$(ctl stats)
is "the fake accepted exactly $TOTAL sendMessage calls" \
    "$(printf %s "$s" | sed -n 's/.*"sendMessage":{[^}]*"200":\([0-9]*\).*/\1/p')" \
    "$TOTAL"
is "the fake confirmed every update and holds none" \
    "$(stat updates_confirmed) $(stat pending)" "$TOTAL 0"

# 429s happened, and each refused reply was sent to its chat again only
# after the retry_after it was given (a 20 ms allowance for clocks).
ctl 'calls?method=sendMessage' >"$W/calls.json"
r=$(json_sql "$W/calls.json" "WITH c AS (SELECT (x->>'seq')::bigint seq,
    (x->>'time_ms')::bigint t, (x->>'status')::int st,
    (x->'params'->>'chat_id')::bigint chat,
    substring(x->>'error' from 'retry after ([0-9]+)')::int ra
    FROM jsonb_array_elements((:'j'::jsonb)->'result') x),
    n AS (SELECT f.t, f.ra, (SELECT min(c.t) FROM c WHERE c.chat = f.chat
    AND c.seq > f.seq) AS tn FROM c f WHERE f.st = 429)
    SELECT count(*) || ' ' || count(*) FILTER (WHERE ra IS NULL OR
    tn IS NULL OR tn < t + ra * 1000 - 20) || ' ' ||
    coalesce(min(tn - t), 0) FROM n")
n429=${r%% *}
bad=$(echo "$r" | cut -d' ' -f2)
if [ "$n429" -ge 1 ] && [ "$bad" = 0 ] &&
    [ "$(stat too_many_requests)" = "$n429" ]; then
	ok "429s were returned ($n429) and the bot waited retry_after"
else
	not_ok "429s were returned and the bot waited retry_after"
	diag "429s, early or never resent, shortest wait ms: $r"
fi

# Every injected fault fired: 14 of them, 7 dropped connections, and the
# fault list is empty again.
if [ "$(stat faults_injected)" = 14 ] &&
    [ "$(stat dropped_connections)" = 7 ] &&
    contains "$s" '"getUpdates":{' '"502":1' &&
    contains "$(ctl faults)" '"faults":[]'; then
	ok "every injected 502 and dropped connection fired"
else
	not_ok "every injected 502 and dropped connection fired"
	diag "stats: $s" "faults left: $(ctl faults)"
fi

if grep -q 'database connection lost' "$W/bot.log"; then
	ok "the PostgreSQL restart hit the bot while it worked"
else
	not_ok "the PostgreSQL restart hit the bot while it worked"
fi

t_done
