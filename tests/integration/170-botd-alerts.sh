#!/bin/sh
# 170-botd-alerts: botd's Telegram alerts against tgfake. A crash makes
# exactly one message in each admin chat, with the exit code and the log
# tail (HTML-escaped: the fake refuses bad HTML); 10 crashes within the
# window make one coalesced message; a requested stop, start, restart or
# reload makes none; mute suppresses (and counts), unmute says how many;
# alert-test reports Telegram's answer per chat; the token appears
# nowhere (logs, status, metrics).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 22 170-botd-alerts

al_fake
AL_EXTRA="alert_min_interval = 30s
alert_delay = 5s
alert_log_lines = 5"
al_conf "$W/botd.ini"
FAST="backoff_initial = 10ms
backoff_max = 50ms
crashloop_deaths = 30"
al_bot "$W/botd.ini" one 3 "$FAST"
al_bot "$W/botd.ini" ten 1 "$FAST"
al_bot "$W/botd.ini" calm 0 "$FAST"
echo 1 >"$W/one/crashes"
echo 10 >"$W/ten/crashes"
botd_start "$W/botd.ini"
metrics_port

# One crash: one message per chat, with the exit code and the log tail.
wait_until 60 '[ "$(al_count 222 "%one%")" -ge 1 ] &&
    [ "$(al_count 111 "%ten%")" -ge 1 ]'
wait_until 30 '[ "$(scrape)" = 200 ] &&
    [ "$(mval botd_alerts_pending)" = 0 ]'
for chat in 111 222; do
	is "chat $chat: exactly one message about one" \
	    "$(al_count $chat '%one%died%')" 1
done
t=$(al_texts 111 | grep 'one died')
check "the message says exit code 3 and the uptime" \
    contains "$t" "one died: exit code 3 after" "of uptime" \
    "restarts: 0, next retry " "after the crash; now RUNNING"
check "the message has the log tail, HTML escaped as sent" \
    contains "$t" 'one: starting <x1> & "co" 1 crashes to go' \
    "one: fatal: the database is on fire"

# Ten crashes in the window: one message.
for chat in 111 222; do
	is "chat $chat: one coalesced message for ten" \
	    "$(al_count $chat '%ten%')" 1
done
t=$(al_texts 222 | grep 'ten crashed')
check "it says how many crashes and the last exit code" \
    contains "$t" "ten crashed 10 times in" "last: exit code 1"
is "metrics: 11 events, 9 coalesced, 4 sent" \
    "$(mval botd_alert_events_total) $(mval botd_alerts_coalesced_total) \
$(mval botd_alerts_sent_total)" "11 9 4"
wait_state one RUNNING
wait_state ten RUNNING

# Requested stops, starts, restarts and reloads are no alerts.
bctl stop --wait calm one
bctl start --wait calm one
bctl restart --wait calm
echo "; changed" >>"$W/botd.ini"
printf '\n[bot calm2]\nexec = %s\n' "$W/calm.sh" >>"$W/botd.ini"
bctl reload
bctl stop --wait calm2
scrape >/dev/null
is "no events from requested stops, restarts and reloads" \
    "$(mval botd_alert_events_total) $(mval botd_alerts_pending)" "11 0"
is "no message about calm" "$(al_count 111 '%calm%')" 0

# Mute: a crash of a muted bot is counted, not sent.
bctl mute one 2h
check "mute: botctl says until when" contains "$OUT" \
    "one: alerts muted until"
check "status shows the mute" contains \
    "$("$BOTCTL" -s "$SOCK" status --json one)" '"alerts_muted_until":"'
kill -TERM "$(st one pid)"
wait_until 30 '[ "$(scrape)" = 200 ] &&
    [ "$(mval "botd_alerts_dropped_total{reason=\"muted\"}")" = 1 ]' &&
    ok "mute: the crash is counted as muted" ||
    not_ok "mute: the crash is counted as muted"
is "mute: nothing pending, nothing sent" \
    "$(mval botd_alerts_pending) $(al_count 111 '%one%')" "0 1"
bctl unmute one
is "unmute: says what was suppressed" "$RC $OUT" \
    "0 one: alerts on (1 suppressed while muted)"
bctl mute one 0
is "mute: a bad duration is a usage error" "$RC" 2

# alert-test: Telegram's answer per chat.
bctl alert-test
if [ "$RC" = 0 ] && contains "$OUT" "chat 111: ok, message" \
    "chat 222: ok, message"; then
	ok "alert-test: both chats accepted it"
else
	not_ok "alert-test: both chats accepted it"
	diag "$RC $OUT"
fi
ctl_json block '{"chat_id":222,"blocked":true}' >/dev/null
bctl alert-test
if [ "$RC" = 1 ] && contains "$OUT" "chat 111: ok" \
    "chat 222: failed: HTTP 403, Forbidden: bot was blocked by the user"
then
	ok "alert-test: a refusing chat is reported, exit 1"
else
	not_ok "alert-test: a refusing chat is reported, exit 1"
	diag "$RC $OUT"
fi
is "alert-test messages arrived" "$(al_count 111 '%alert test%')" 2

# The token is nowhere.
bctl status --json
scrape >/dev/null
tok_id=${AL_TOKEN#*:}
found=$(grep -rl -e "$tok_id" "$W/botd.err" "$LOGD" "$STATE" \
    "$W/metrics.txt" 2>/dev/null)
is "the token is in no log, status file or metrics" "$found" ""
case $OUT in
*"$tok_id"*) not_ok "nor in botctl status" ;;
*) ok "nor in botctl status" ;;
esac

kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 30
is "botd exits 0" "$T_RC" 0
t_done
