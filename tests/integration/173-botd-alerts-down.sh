#!/bin/sh
# 173-botd-alerts-down: while the Telegram API is unreachable (the fake is
# gone: connections refused), alerts wait and botd keeps retrying with
# backoff; when the API is back they arrive, the later crashes summarized
# in one message. After a SIGKILL, the next botd says it started after an
# unclean stop; after a clean stop, it does not.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 9 173-botd-alerts-down

al_fake
PORT=${FAKE_URL##*:}
AL_CHATS=888
AL_EXTRA="alert_min_interval = 2s
alert_delay = 100ms"
al_conf "$W/botd.ini"
al_bot "$W/botd.ini" one 3 "backoff_initial = 10ms
crashloop_deaths = 30"
botd_start "$W/botd.ini"
metrics_port
wait_state one RUNNING

# kill_one: one dies and is RUNNING again.
kill_one() {
	pid=$(st one pid)
	kill -TERM "$pid"
	wait_until 20 "[ \"\$(st one pid)\" != $pid ] &&
	    [ \"\$(st one state)\" = RUNNING ]"
}

# The API goes away; one dies once, and once that alert is being tried,
# four times more.
t_stop "$FAKE_PID"
kill_one
wait_until 30 '[ "$(scrape)" = 200 ] &&
    [ "$(mval "botd_alert_retries_total{reason=\"network\"}")" -ge 1 ]'
for i in 1 2 3 4; do
	kill_one
done
wait_until 30 '[ "$(scrape)" = 200 ] &&
    [ "$(mval "botd_alert_retries_total{reason=\"network\"}")" -ge 2 ]' &&
    ok "unreachable API: botd retries" || not_ok "unreachable API: botd retries"
is "the alerts wait: the first being sent, the rest in one record" \
    "$(mval botd_alerts_pending) $(mval botd_alerts_sent_total) \
$(mval botd_alert_events_total)" "2 0 5"
bctl status one
is "botd serves meanwhile" "$RC" 0

# The API is back on the same port.
fake_start -l "127.0.0.1:$PORT" -t "$AL_TOKEN"
wait_until 90 '[ "$(al_count 888)" -ge 2 ]'
wait_until 30 '[ "$(scrape)" = 200 ] && [ "$(mval botd_alerts_pending)" = 0 ]'
al_texts 888 >"$W/texts"
is "two messages: the first death, then a summary" "$(al_count 888)" 2
check "the summary counts the other four" contains "$(cat "$W/texts")" \
    "one died: killed by signal TERM" "one crashed 4 times in"

# SIGKILL: the next botd says so; a clean stop: the one after does not.
old=$BOTD_PID
kill -KILL "$BOTD_PID"
t_wait "$BOTD_PID" 20
botd_start "$W/botd.ini" botd2
wait_until 30 '[ "$(al_count 888 "%unclean stop%")" = 1 ]' &&
    ok "after SIGKILL: an unclean-stop alert" ||
    not_ok "after SIGKILL: an unclean-stop alert"
check "it names the old pid" contains \
    "$(al_texts 888 | grep 'unclean stop')" "the last botd (pid $old)"
kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 30
botd_start "$W/botd.ini" botd3
metrics_port botd3
scrape >/dev/null
is "after a clean stop: no event" "$(mval botd_alert_events_total)" 0
kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 30
is "botd exits 0" "$T_RC" 0
t_done
