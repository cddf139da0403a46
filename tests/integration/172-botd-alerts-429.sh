#!/bin/sh
# 172-botd-alerts-429: Telegram answers the alert with 429 retry_after=3
# (after holding the request 2 s): botd waits those 3 s, then the alert
# arrives; botctl status answers at once all the while (sending never
# blocks the loop). A 500 is retried with backoff; a 400 is given up,
# logged and counted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 9 172-botd-alerts-429

al_fake
AL_CHATS=777
AL_EXTRA="alert_min_interval = 1s
alert_delay = 100ms"
al_conf "$W/botd.ini"
al_bot "$W/botd.ini" one 3 "backoff_initial = 10ms"
botd_start "$W/botd.ini"
metrics_port
wait_state one RUNNING

ctl_json faults '{"method":"sendMessage","count":1,"status":429,
    "retry_after":3,"delay_ms":2000}' >/dev/null
kill -TERM "$(st one pid)"
# Status round trips while the alert is held, refused and retried.
max=0
n=0
end=$(($(now_ms) + 6000))
while [ "$(now_ms)" -lt "$end" ]; do
	t0=$(now_ms)
	"$BOTCTL" -s "$SOCK" status one >/dev/null 2>&1
	rc=$?
	d=$(($(now_ms) - t0))
	[ "$d" -gt "$max" ] && max=$d
	[ "$rc" -le 3 ] && n=$((n + 1))
	sleep 0.1
done
# Generous: a round trip takes milliseconds; a blocked loop takes seconds.
if [ "$max" -lt 1500 ] && [ "$n" -ge 10 ]; then
	ok "status answered $n times while the alert waited (slowest ${max} ms)"
else
	not_ok "status answered while the alert waited"
	diag "answers $n, slowest $max ms"
fi
ctl "calls?method=sendMessage&wait=20000&min=2" >"$W/calls.json"
is "the first attempt got 429, the retry 200" "$(json_sql "$W/calls.json" \
    "SELECT string_agg(c->>'status', ' ' ORDER BY (c->>'seq')::int)
    FROM jsonb_array_elements(:'j'::jsonb->'result') c")" "429 200"
gap=$(json_sql "$W/calls.json" "SELECT (b->>'time_ms')::bigint -
    (a->>'time_ms')::bigint - (a->>'duration_ms')::bigint
    FROM (SELECT :'j'::jsonb->'result' r) x,
    LATERAL (SELECT x.r->0 a, x.r->1 b) y")
if [ -n "$gap" ] && [ "$gap" -ge 3000 ]; then
	ok "the retry waited retry_after (${gap} ms)"
else
	not_ok "the retry waited retry_after"
	diag "gap: $gap"
fi
wait_until 20 '[ "$(al_count 777 "%one died: killed by signal TERM%")" = 1 ]' &&
    ok "the alert arrived" || not_ok "the alert arrived"
scrape >/dev/null
is "metrics: one 429 retry, 3 s waited" \
    "$(mval 'botd_alert_retries_total{reason="429"}') \
$(mval botd_alert_retry_wait_seconds_total)" "1 3"

# A 500 is retried (with backoff), a 400 is not.
ctl_json faults '{"method":"sendMessage","count":1,"status":500}' >/dev/null
kill -TERM "$(st one pid)"
wait_until 30 '[ "$(al_count 777 "%one died%")" = 2 ]' &&
    ok "after a 500 the alert is retried and arrives" ||
    not_ok "after a 500 the alert is retried and arrives"
ctl_json faults '{"method":"sendMessage","count":1,"status":400,
    "description":"Bad Request: chat not found"}' >/dev/null
kill -TERM "$(st one pid)"
wait_until 30 '[ "$(scrape)" = 200 ] &&
    [ "$(mval "botd_alerts_dropped_total{reason=\"rejected\"}")" = 1 ]' &&
    ok "a 400 is given up and counted" ||
    not_ok "a 400 is given up and counted"
check "and logged" grep -q 'chat 777 refused the message: 400 Bad Request: chat not found' \
    "$W/botd.err"

kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 30
is "botd exits 0" "$T_RC" 0
t_done
