# tests/integration/lib-game.sh: helpers of the game bot's scenario tests
# (40x-game-*.sh), sourced after lib.sh.
#
#   game_start [EXTRA]   fake + database + the bot ($GAME_PID); EXTRA goes
#                        into [game]; admin 900; draws from $W/rng; the
#                        per-chat and per-group limits lifted ($GAME_TG:
#                        [telegram] lines instead), so a scenario is not
#                        paced at Telegram's 1 message a second per chat
#   game_restart         the bot again, same configuration (after a kill);
#                        with $GAME_CLOCK set, the bot's clock is that file
#                        (clock_set)
#   clock_set DATE       the bot's clock (date -d syntax, UTC)
#   player ID NAME [SQL-SET]   a registered player, inserted directly
#   say USER TEXT [CHAT]       USER writes TEXT (CHAT < 0: the group)
#   say_wait USER TEXT [CHAT]  say once earlier replies are out, then wait
#                              for the reply
#   press CHAT MSGID DATA USER a button press; its callback id in $CB
#   press_wait ...             press, wait for the answer and the replies
#   texts CHAT / last CHAT / last_id CHAT / nmsgs CHAT
#   wait_text CHAT TEXT        some bot message in CHAT contains TEXT
#   rng N...                   the next draws of the bot
GAME=$BOTFLEET_BUILD/bots/game
GAME_TOKEN=424242:GameTEST-token_x
GROUP=-100500
ADMIN=900

# game_start [EXTRA]: everything up, the bot ready.
game_start() {
	fake_start -t "$GAME_TOKEN" ${FAKE_ARGS:-}
	db_create "${T_NAME:-game}"
	token_file "$W/token" "$GAME_TOKEN"
	: >"$W/rng"
	TG_EXTRA="admins = $ADMIN
${GAME_TG:-chat_interval = 1ms
chat_burst = 1000
group_per_min = 100000}" CONF_EXTRA="[game]
random_script = $W/rng
news_file = $W/news.html
${1:-}" bot_conf "$W/game.ini" "$W/token"
	GAME_RUNS=0
	game_restart
}

# game_restart: start the bot (again) with the same configuration.
game_restart() {
	GAME_RUNS=$((GAME_RUNS + 1))
	t_spawn "$W/game.out" "$W/game$GAME_RUNS.log" \
	    env GAME_CLOCK_FILE="${GAME_CLOCK:-}" "$GAME" -c "$W/game.ini"
	GAME_PID=$T_PID
	GAME_LOG=$W/game$GAME_RUNS.log
	bot_ready "$GAME_LOG" ||
	    bail "the game bot is not ready: $(tail -n 5 "$GAME_LOG")"
	GAME_PORT=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' \
	    "$GAME_LOG")
}

clock_set() {
	date -u -d "$1" +%s >"$GAME_CLOCK.new" && mv "$GAME_CLOCK.new" "$GAME_CLOCK"
}

# player ID NAME [SET]: a player row; SET is extra "col = value, ...".
player() {
	q "INSERT INTO pisunchik_data (player_id, player_name, pisunchik_size,
	    coins, items, statuetki, characteristics, player_stocks, chat_id,
	    notified) VALUES ($1, '$2', 0, 0, '{}', '{}', '{}', '{}',
	    '{$GROUP}', true)" >/dev/null
	[ -z "${3:-}" ] || q "UPDATE pisunchik_data SET $3
	    WHERE player_id = $1" >/dev/null
}

# val SQL-EXPR ID: one column of a player.
val() { q "SELECT $1 FROM pisunchik_data WHERE player_id = $2"; }

# rng N...: the bot's next draws, in order.
rng() { printf '%s\n' "$@" >"$W/rng"; }

# say USER TEXT [CHAT]
say() {
	if [ "${3:-0}" -lt 0 ]; then
		ctl send --data-urlencode "text=$2" \
		    --data-urlencode "from={\"id\":$1,\"first_name\":\"U$1\"}" \
		    --data-urlencode "chat={\"id\":$3,\"type\":\"supergroup\",\"title\":\"G\"}" \
		    >/dev/null
	else
		ctl send --data-urlencode "text=$2" \
		    --data-urlencode "from={\"id\":$1,\"first_name\":\"U$1\"}" \
		    >/dev/null
	fi
}

# press CHAT MSGID DATA USER: the callback query id in $CB.
press() {
	CB=$(ctl press --data-urlencode "chat_id=$1" \
	    --data-urlencode "message_id=$2" --data-urlencode "data=$3" \
	    --data-urlencode "from={\"id\":$4,\"first_name\":\"U$4\"}" |
	    sed -n 's/.*"callback_query_id":"\([^"]*\)".*/\1/p')
	[ -n "$CB" ] || diag "press $3 on $1/$2 refused"
}

# The bot's messages in CHAT as rows: message_id, text, buttons' data.
msgs_rows() {
	ctl "messages?chat_id=$1" >"$W/msgs.json"
	json_sql "$W/msgs.json" "SELECT (m->>'message_id') || E'\t' ||
	    replace(coalesce(m->>'text', m->>'caption', ''), E'\n', ' | ')
	    || E'\t' || coalesce((SELECT string_agg(b->>'callback_data', ' ')
	    FROM jsonb_array_elements(m->'reply_markup'->'inline_keyboard') r,
	    jsonb_array_elements(r) b), '')
	    FROM jsonb_array_elements((:'j'::jsonb)->'result') m
	    ORDER BY (m->>'message_id')::bigint"
}

# texts CHAT: every bot message text, one a line (newlines as " | ").
texts() { msgs_rows "$1" | awk -F'\t' '{ print $2 }'; }
# nmsgs CHAT: how many (counted without parsing: a text cannot hold the
# unescaped key).
nmsgs() { ctl "messages?chat_id=$1" | grep -o '"message_id":' | wc -l; }
last() { texts "$1" | tail -n 1; }
last_id() { msgs_rows "$1" | tail -n 1 | cut -f1; }
# buttons CHAT: the callback data of the last message with a keyboard.
buttons() { msgs_rows "$1" | awk -F'\t' '$3 != "" { b = $3 } END { print b }'; }
# kb_id CHAT: the id of the last message with a keyboard.
kb_id() { msgs_rows "$1" | awk -F'\t' '$3 != "" { i = $1 } END { print i }'; }
# text_of CHAT ID: the text of message ID now.
text_of() { msgs_rows "$1" | awk -F'\t' -v i="$2" '$1 == i { print $2 }'; }

# wait_text CHAT TEXT [SECS]
wait_text() {
	wait_until "${3:-30}" "texts '$1' | grep -qF -- '$2'"
}

# say_wait USER TEXT [CHAT]: once the replies to earlier updates are out
# (so they are not taken for this one's), say, then wait for one more bot
# message.
say_wait() {
	sw_c=${3:-$1}
	settle || diag "replies still queued before '$2'"
	sw_n=$(nmsgs "$sw_c")
	say "$1" "$2" "${3:-0}"
	wait_until 30 "[ \$(nmsgs '$sw_c') -gt $sw_n ]" && return 0
	diag "no reply to '$(printf %s "$2" | cut -c1-60)' in $sw_c"
	return 1
}

# cb_answer: "A:<text>" once the callback $CB was answered, else "".
cb_answer() {
	ctl callbacks >"$W/cbs.json"
	json_sql "$W/cbs.json" "SELECT 'A:' || coalesce(c->'answer'->>'text', '')
	    FROM jsonb_array_elements((:'j'::jsonb)->'result') c
	    WHERE c->>'id' = '$CB' AND (c->>'answered')::boolean"
}

# press_wait CHAT MSGID DATA USER: press, and wait for the answer (which
# the router sends after the handler's commit) and the handler's replies.
# A press the fake refused (no such button) fails at once.
press_wait() {
	press "$@"
	[ -n "$CB" ] || return 1
	wait_until 30 '[ -n "$(cb_answer)" ]' ||
	    diag "callback $CB ($3) not answered"
	settle || diag "replies to $3 still queued"
}

# forge CHAT MSGID DATA USER: a callback query with any data (the fake's
# press refuses buttons that are not on the message), waited for until
# the bot recorded the update as processed.
forge() {
	fg_n=$((${fg_n:-0} + 1))
	fg_u=$(ctl_json update "{\"update\":{\"callback_query\":{\"id\":\"forged$fg_n\",
	    \"from\":{\"id\":$4,\"is_bot\":false,\"first_name\":\"U$4\"},
	    \"chat_instance\":\"1\",\"data\":\"$3\",
	    \"message\":{\"message_id\":$2,\"date\":1,
	    \"chat\":{\"id\":$1,\"type\":\"$([ "$1" -lt 0 ] && echo supergroup || echo private)\"}}}}}" |
	    sed -n 's/.*"update_ids":\[\([0-9]*\).*/\1/p')
	wait_until 30 "[ \"\$(q \"SELECT count(*) FROM processed_updates
	    WHERE bot = 'game' AND update_id = $fg_u\")\" = 1 ]" ||
	    diag "forged update $fg_u ($3) not processed"
}

# settle: every update the fake queued was processed and the outbox is
# empty (replies sent).
settle() {
	wait_until 30 "[ \"\$(q \"SELECT count(*) FROM tg_outbox
	    WHERE bot = 'game' AND failed_at IS NULL\")\" = 0 ]"
}

# press_on CHAT MSGID DATA USER: wait until the message has the button
# (an edit may still be on its way), then press_wait.
press_on() {
	wait_until 30 "msgs_rows '$1' | awk -F'\t' -v i='$2' '\$1 == i' |
	    cut -f3 | tr ' ' '\n' | grep -qx -- '$3'" ||
	    diag "no button $3 on $1/$2"
	press_wait "$@"
}
