#!/bin/sh
# 171-botd-alerts-loop: a crash loop makes one "gave up" message (not one
# per crash), and `botctl start` one "recovered" message; a watchdog kill
# and a start timeout say so, with the cause counted in the metrics.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 10 171-botd-alerts-loop

al_fake
AL_CHATS=555
AL_EXTRA="alert_min_interval = 1h
alert_delay = 2s"
al_conf "$W/botd.ini"
al_bot "$W/botd.ini" loop 1 "backoff_initial = 10ms
backoff_max = 50ms
crashloop_deaths = 4
crashloop_window = 1m
fatal_retry = 0"
bd_bot "$W/botd.ini" hang "-r -w 100 -W 3" "watchdog = 1s
backoff_initial = 5m
backoff_max = 5m"
bd_bot "$W/botd.ini" slow "" "start_timeout = 500ms
backoff_initial = 5m
backoff_max = 5m"
echo 100 >"$W/loop/crashes"
botd_start "$W/botd.ini"
metrics_port

wait_state loop FATAL 30
wait_until 30 '[ "$(al_count 555 "%loop gave up%")" -ge 1 ]'
wait_until 30 '[ "$(scrape)" = 200 ] && [ "$(mval botd_alerts_pending)" = 0 ]'
is "crash loop: one message about loop" "$(al_count 555 '%loop%')" 1
t=$(al_texts 555 | grep 'loop gave up')
check "it says gave up, the reason, the crashes and what to do" \
    contains "$t" "loop gave up: crash loop: 4 deaths within" \
    "loop crashed 4 times in" "last: exit code 1" \
    "no automatic restart: botctl start loop" "now FATAL" \
    "loop: fatal: the database is on fire"
is "the crash loop's deaths are coalesced" \
    "$(mval 'botd_bot_deaths_total{bot="loop",cause="exit"}')" 4

echo 0 >"$W/loop/crashes"
bctl start --wait loop
is "botctl start clears FATAL" "$RC $(st loop state)" "0 RUNNING"
wait_until 30 '[ "$(al_count 555 "%loop recovered%")" -ge 1 ]'
t=$(al_texts 555 | grep 'loop recovered')
check "a recovered message with the new pid" contains "$t" \
    "loop recovered: running again (pid $(st loop pid))"
wait_until 30 '[ "$(scrape)" = 200 ] && [ "$(mval botd_alerts_pending)" = 0 ]'
is "one gave-up and one recovered message, nothing more" \
    "$(al_count 555 '%loop%')" 2

# The watchdog and the start timeout.
wait_until 30 '[ "$(al_count 555 "%hang died%")" -ge 1 ]'
check "watchdog: the message names it" contains \
    "$(al_texts 555 | grep 'hang died')" \
    "hang died: killed by the watchdog (no WATCHDOG=1 within 1.0 s)"
wait_until 30 '[ "$(al_count 555 "%slow died%")" -ge 1 ]'
check "start timeout: the message names it" contains \
    "$(al_texts 555 | grep "slow died")" \
    "slow died: killed: no READY=1 within 0.5 s"
scrape >/dev/null
is "deaths by cause in the metrics" \
    "$(mval 'botd_bot_deaths_total{bot="hang",cause="watchdog"}') \
$(mval 'botd_bot_deaths_total{bot="slow",cause="start_timeout"}')" "1 1"

kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 30
is "botd exits 0" "$T_RC" 0
t_done
