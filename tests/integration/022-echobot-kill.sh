#!/bin/sh
# 022-echobot-kill: kill -9 in the middle of a batch, then a restart. No
# update may be lost and none applied twice (echo_log, the counts in the
# replies); every message gets a reply. Replies may repeat, but only
# within the window router.h describes: an outbox row whose sendMessage
# reached Telegram but whose deletion did not happen before the kill is
# sent again by the next process. That window is the calls in flight at
# the kill, at most the tg client's max_inflight (32 by default), so the
# duplicates are counted, printed and bounded by it.
. "$(dirname "$0")/lib.sh"

TOKEN=515151:Kill-TEST_token
USERS=100
MSGS=30
TOTAL=$((USERS * MSGS))
MAX_DUPS=32

t_plan 8 022-echobot-kill
fake_start -t "$TOKEN"
db_create echo022
token_file "$W/token" "$TOKEN"
TG_EXTRA='global_rate = 1000000
chat_interval = 1ms
chat_burst = 1000' bot_conf "$W/bot.ini" "$W/token"
handled() { q 'SELECT count(*) FROM echo_log' 2>/dev/null || echo 0; }

bot_start first "$W/bot.ini"
FIRST=$BOT_PID
bot_ready "$W/first.log" 60 ||
    bail "the bot is not ready: $(cat "$W/first.log")"
queue_messages "$USERS" "$MSGS" 10
wait_until 240 "[ \"\$(handled)\" -ge $((TOTAL / 3)) ]" ||
    diag "stuck below $((TOTAL / 3)) handled updates"
kill -KILL "$FIRST"
t_wait "$FIRST" 30
at_kill=$(handled)
left=$(q "SELECT count(*) FROM tg_outbox")
sent=$(ctl 'calls?method=sendMessage' | grep -o '"status":200' | wc -l)
diag "killed with $at_kill updates handled, $sent replies accepted," \
    "$left outbox rows left"
if [ "$T_RC" = 137 ] && [ "$at_kill" -lt "$TOTAL" ]; then
	ok "the bot was killed (SIGKILL) halfway: $at_kill of $TOTAL handled"
else
	not_ok "the bot was killed (SIGKILL) halfway"
	diag "exit $T_RC, $at_kill handled"
fi

bot_start second "$W/bot.ini"
SECOND=$BOT_PID
wait_until 240 "[ \"\$(handled)\" -ge $TOTAL ] &&
    [ \"\$(q 'SELECT count(*) FROM tg_outbox')\" = 0 ]" ||
    diag "not done in time: $(handled) handled"
kill -TERM "$SECOND"
t_wait "$SECOND" 60
if [ "$T_RC" = 0 ] && { [ "$left" = 0 ] ||
    grep -q 'sending pending outbox rows' "$W/second.log"; }; then
	ok "the second run resends the outbox rows left, then stops (exit 0)"
else
	not_ok "the second run resends the outbox rows left, then stops (exit 0)"
	diag "exit $T_RC" "$(tail -n 5 "$W/second.log")"
fi

r=$(q "SELECT count(*), count(DISTINCT update_id), count(DISTINCT text)
    FROM echo_log")
is "echo_log: $TOTAL rows, $TOTAL distinct update_ids and texts" "$r" \
    "$TOTAL|$TOTAL|$TOTAL"
r=$(q "SELECT count(*) FROM generate_series(1, $USERS) u,
    generate_series(1, $MSGS) i WHERE NOT EXISTS (SELECT 1 FROM echo_log
    WHERE text = format('u%s-m%s', u, i) AND user_id = 20000 + u)")
is "echo_log: no message lost" "$r" 0
r=$(q "SELECT count(*), min(n), max(n) FROM echo_counts")
is "echo_counts: $MSGS for each user (no effect applied twice)" "$r" \
    "$USERS|$MSGS|$MSGS"
is "processed_updates: each update recorded once" \
    "$(q "SELECT count(*) FROM processed_updates WHERE bot = 'echo'")" \
    "$TOTAL"

# Each chat: every expected echo at least once, nothing else; the
# duplicates counted over all chats.
fetch_chats "$USERS" "$W/chats.json"
r=$(json_sql "$W/chats.json" "WITH got AS ($GOT_SQL),
    want AS (SELECT 20000 + u AS chat,
    format('echo %s: u%s-m%s', i, u, i) AS text
    FROM generate_series(1, $USERS) u, generate_series(1, $MSGS) i)
    SELECT (SELECT count(*) FROM (SELECT chat, text FROM want EXCEPT
    SELECT chat, text FROM got) x) || ' ' || (SELECT count(*) FROM
    (SELECT chat, text FROM got EXCEPT SELECT chat, text FROM want) y) ||
    ' ' || (SELECT count(*) - $TOTAL FROM got)")
missing=${r%% *}
dups=${r##* }
if [ "$(echo "$r" | cut -d' ' -f1-2)" = "0 0" ]; then
	ok "every message got its reply, with the right count"
else
	not_ok "every message got its reply, with the right count"
	diag "missing, unexpected, extra: $r"
fi
diag "duplicate replies after the kill: $dups (bound $MAX_DUPS)"
if [ "$missing" = 0 ] && [ "$dups" -ge 0 ] && [ "$dups" -le "$MAX_DUPS" ]
then
	ok "duplicate replies are few: $dups <= $MAX_DUPS (in flight at the kill)"
else
	not_ok "duplicate replies are few: $dups <= $MAX_DUPS"
fi

t_done
