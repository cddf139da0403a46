#!/bin/sh
# 174-botd-metrics: botd's /metrics (valid Prometheus text, checked by
# promcheck) and /health: per-bot up, state, restarts, deaths by cause,
# last exit, uptime, ready, log bytes, memory; alerts; control requests
# by command and result; a bot removed by a reload leaves no series.
# metrics_listen is off by default and refuses a non-loopback address
# unless metrics_public = yes; the alert settings are checked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

PROMCHECK=$BOTFLEET_BUILD/tests/fakes/promcheck
[ -x "$PROMCHECK" ] || bail "tests/fakes/promcheck is not built"

bd_plan 21 174-botd-metrics

# Configuration checks.
chk() {
	bd_conf "$W/c.ini"
	printf '%s\n' "$@" >>"$W/c.ini"
	OUT=$("$BOTD" -c "$W/c.ini" --check 2>&1)
	RC=$?
}
chk "metrics_listen = 0.0.0.0:9100"
is "a non-loopback metrics_listen is refused" "$RC" 100
check "with the reason" contains "$OUT" "metrics_listen" \
    "not a loopback address" "metrics_public = yes"
chk "metrics_listen = 0.0.0.0:9100" "metrics_public = yes"
is "metrics_public = yes allows it" "$RC" 0
chk "metrics_listen = [::1]:9100"
is "[::1] is loopback" "$RC" 0
printf '1:abc\n' >"$W/open.token"
chmod 0644 "$W/open.token"
chk "alert_token_file = $W/open.token" "alert_chat_ids = 1"
is "an alert token readable by others is refused" "$RC" 100
token_file "$W/t.token" "not a token"
chk "alert_token_file = $W/t.token" "alert_chat_ids = 1"
check "a token that is not one is refused, not shown" eval \
    '[ "$RC" = 100 ] && contains "$OUT" "does not hold a bot token" &&
    ! contains "$OUT" "not a token" 2>/dev/null'
token_file "$W/t.token" "1:abc"
chk "alert_token_file = $W/t.token"
check "a token without alert_chat_ids is refused" eval \
    '[ "$RC" = 100 ] && contains "$OUT" "alert_chat_ids is missing"'
chk "alert_token_file = $W/t.token" "alert_chat_ids = 12, me"
check "a chat id must be a number" eval \
    '[ "$RC" = 100 ] && contains "$OUT" "'"'me'"' is not a chat id"'

# A running botd.
bd_conf "$W/botd.ini"
echo "metrics_listen = 127.0.0.1:0" >>"$W/botd.ini"
bd_bot "$W/botd.ini" good "-r -s serving"
bd_bot "$W/botd.ini" gone "-r"
bd_bot "$W/botd.ini" crash "-x 7" "ready = none
backoff_initial = 10m
backoff_max = 10m"
botd_start "$W/botd.ini"
metrics_port
wait_state good RUNNING
wait_state crash BACKOFF
bctl status good
printf '{"v":1,"cmd":"nosuch"}\n' | timeout 10 perl -MIO::Socket::UNIX \
    -e '$s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die;
    print $s scalar(<STDIN>); print scalar(<$s>);' "$SOCK" >/dev/null
code=$(scrape)
is "GET /metrics: 200" "$code" 200
"$PROMCHECK" "$W/metrics.txt" >"$W/promcheck.out" 2>&1
is "valid Prometheus text (promcheck)" "$? $(cat "$W/promcheck.out")" "0 "
is "good: up, RUNNING, ready, wanted" \
    "$(mval 'botd_bot_up{bot="good"}') \
$(mval 'botd_bot_state{bot="good",state="RUNNING"}') \
$(mval 'botd_bot_state{bot="good",state="FATAL"}') \
$(mval 'botd_bot_ready{bot="good"}') $(mval 'botd_bot_wanted_up{bot="good"}')" \
    "1 1 0 1 1"
is "crash: down, BACKOFF, last exit 7, one death by exit, backoff left" \
    "$(mval 'botd_bot_up{bot="crash"}') \
$(mval 'botd_bot_state{bot="crash",state="BACKOFF"}') \
$(mval 'botd_bot_last_exit_code{bot="crash"}') \
$(mval 'botd_bot_deaths_total{bot="crash",cause="exit"}') \
$(mval 'botd_bot_deaths_total{bot="crash",cause="signal"}') \
$(awk '$1 == "botd_bot_backoff_seconds{bot=\"crash\"}" { print ($2 > 60) }' \
    "$W/metrics.txt")" "0 1 7 1 0 1"
mem=$(mval 'botd_bot_memory_bytes{bot="good"}')
logb=$(mval 'botd_bot_log_bytes{bot="good"}')
if [ "${mem:-0}" -gt 100000 ] && [ "${logb:-0}" -gt 0 ]; then
	ok "good: memory ($mem) and log bytes ($logb)"
else
	not_ok "good: memory and log bytes"
	diag "memory $mem, log bytes $logb"
fi
is "control requests by command and result" \
    "$(mval 'botd_control_requests_total{command="status",result="ok"}') \
$(mval 'botd_control_requests_total{command="invalid",result="error"}')" \
    "1 1"
is "alerts are off, counters there" \
    "$(mval botd_alerts_enabled) $(mval botd_alerts_sent_total)" "0 0"
kill -KILL "$(st good pid)"
wait_until 20 '[ "$(scrape)" = 200 ] &&
    [ "$(mval "botd_bot_deaths_total{bot=\"good\",cause=\"signal\"}")" = 1 ] &&
    [ "$(mval "botd_bot_restarts_total{bot=\"good\"}")" = 1 ]' &&
    ok "a SIGKILL counts a death by signal and a restart" ||
    not_ok "a SIGKILL counts a death by signal and a restart"

code=$(scrape /health)
check "GET /health: 200 with a summary" eval '[ "$code" = 200 ] &&
    contains "$(cat "$W/metrics.txt")" "\"status\":\"ok\"" "\"bots\":3" \
    "\"pid\":$BOTD_PID"'

# A reload that removes a bot removes its series.
bd_conf "$W/botd.ini"
echo "metrics_listen = 127.0.0.1:0" >>"$W/botd.ini"
bd_bot "$W/botd.ini" good "-r -s serving"
bd_bot "$W/botd.ini" crash "-x 7" "ready = none
backoff_initial = 10m
backoff_max = 10m"
bctl reload
wait_until 20 '[ ! -f "$STATE/gone.status" ]'
scrape >/dev/null
is "gone: no series after the reload" \
    "$(grep -c 'bot="gone"' "$W/metrics.txt")" 0
"$PROMCHECK" "$W/metrics.txt" >/dev/null 2>&1
is "still valid" "$?" 0

kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 30
is "botd exits 0" "$T_RC" 0
# Off by default.
bd_conf "$W/off.ini"
botd_start "$W/off.ini" off
kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 30
check "metrics are off by default" eval \
    '! grep -q "metrics: listening" "$W/off.err"'
t_done
