#!/bin/sh
# 175-botd-alert-helper: botd makes its alert requests through a helper
# process (alert_helper, botd-alert) and never links libcurl itself. The
# helper gets the token on its stdin only, never in its argv or
# environment; a helper that prints garbage or dies counts as a network
# error (retried with backoff, logged); one that answers is used; every
# helper is reaped (no zombie) and never taken for a bot. botd-alert on
# its own: one result line for an answer, a refused connection and bad
# input.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

HELPER=$BOTFLEET_BUILD/botd-alert
[ -x "$HELPER" ] || bail "botd-alert must be built"

bd_plan 12 175-botd-alert-helper

# botd maps no libcurl (ldd lists what the loader would map).
if ldd "$BOTD" | grep -q 'libcurl'; then
	not_ok "botd does not link libcurl"
	diag "$(ldd "$BOTD")"
else
	ok "botd does not link libcurl"
fi

# botd-alert alone, against the fake.
al_fake
out=$(printf '%s/bot%s/sendMessage\n{"chat_id":42,"text":"hi"}' \
    "$FAKE_URL" "$AL_TOKEN" | "$HELPER" -t 10000)
check "botd-alert: one JSON line with the status and the message id" \
    contains "$out" '{"status":200,"error":"ok","ok":true,"message_id":'
out=$(printf 'http://127.0.0.1:1/bot1:a/getMe\n{}' | "$HELPER" -c 2000)
is "botd-alert: a refused connection" "$out" '{"status":0,"error":"connect"}'
out=$(printf 'not a url' | "$HELPER" 2>/dev/null)
is "botd-alert: bad input, exit 100" "$? $out" \
    '100 {"status":0,"error":"usage"}'

# A helper of our own: it records what it gets, then does what
# $W/mode says (garbage, crash, or the real botd-alert).
cat >"$W/helper.sh" <<EOF
#!/bin/sh
echo "\$*" >>"$W/helper.argv"
env >>"$W/helper.env"
case \$(cat "$W/mode") in
garbage) cat >"$W/helper.in"; echo '<html>not json</html>' ;;
crash) cat >/dev/null; kill -SEGV \$\$ ;;
*) tee -a "$W/helper.in" | exec "$HELPER" "\$@" ;;
esac
EOF
chmod 0755 "$W/helper.sh"
echo garbage >"$W/mode"
AL_CHATS=444
AL_EXTRA="alert_min_interval = 1s
alert_delay = 100ms
alert_helper = $W/helper.sh"
al_conf "$W/botd.ini"
al_bot "$W/botd.ini" one 3 "backoff_initial = 10ms"
botd_start "$W/botd.ini"
metrics_port
wait_state one RUNNING

kill -TERM "$(st one pid)"
wait_until 30 '[ "$(scrape)" = 200 ] &&
    [ "$(mval "botd_alert_retries_total{reason=\"network\"}")" -ge 1 ]' &&
    ok "garbage from the helper: retried as a network error" ||
    not_ok "garbage from the helper: retried as a network error"
check "and logged" grep -q \
    'cannot reach the Telegram API (status 0, botd-alert gave no answer)' \
    "$W/botd.err"
echo crash >"$W/mode"
wait_until 30 "grep -q 'botd-alert killed by signal SEGV' '$W/botd.err'" &&
    ok "a crashing helper: retried, logged" ||
    not_ok "a crashing helper: retried, logged"
echo real >"$W/mode"
wait_until 30 '[ "$(al_count 444 "%one died%")" = 1 ]' &&
    ok "the real helper: the alert arrives" ||
    not_ok "the real helper: the alert arrives"

tok_id=${AL_TOKEN#*:}
check "the helper got the token on its stdin" grep -q "$tok_id" \
    "$W/helper.in"
found=$(grep -l -e "$tok_id" "$W/helper.argv" "$W/helper.env")
is "and never in its argv or environment" "$found" ""

# Reaped, never a bot's: no zombie, no death counted, one still RUNNING.
bctl status one
is "the helpers are reaped; the bot is untouched" \
    "$(botd_zombies "$BOTD_PID") $(st one state) \
$(mval 'botd_bot_deaths_total{bot="one",cause="signal"}')" "0 RUNNING 1"

kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 30
is "botd exits 0" "$T_RC" 0
t_done
