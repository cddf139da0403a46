#!/bin/sh
# 178-dashboard: packaging/grafana/botfleet.json is valid JSON (parsed by
# PostgreSQL's jsonb) with a query on every panel, and
# packaging/prometheus/botfleet-rules.yml has the four required alerts;
# every metric name in a panel's query or a rule's expression is in the
# /metrics output of a real botd and a real echobot (against tgfake and
# PostgreSQL), or registered in the code.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

DASH=$TOP/packaging/grafana/botfleet.json
RULES=$TOP/packaging/prometheus/botfleet-rules.yml
TOKEN=123456:DashTEST-token_x

bd_plan 8 178-dashboard

# The dashboard.
is "the dashboard is a JSON object with a uid and a title" \
    "$(json_sql "$DASH" "SELECT jsonb_typeof(:'j'::jsonb) || ' ' ||
    (:'j'::jsonb->>'uid') || ' ' || (:'j'::jsonb->>'title')" 2>&1)" \
    "object botfleet botfleet"
json_sql "$DASH" "SELECT p->>'title' FROM
    jsonb_array_elements(:'j'::jsonb->'panels') p WHERE p->>'type' <> 'row'
    AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p->'targets') t
    WHERE coalesce(t->>'expr', '') <> '')" >"$W/noquery" 2>&1
npanels=$(json_sql "$DASH" "SELECT count(*) FROM
    jsonb_array_elements(:'j'::jsonb->'panels') p WHERE p->>'type' <> 'row'")
if [ ! -s "$W/noquery" ] && [ "$npanels" -ge 15 ]; then
	ok "$npanels panels, each with a query"
else
	not_ok "every panel has a query"
	diag "panels: $npanels; without a query: $(cat "$W/noquery")"
fi
json_sql "$DASH" "SELECT t->>'expr' FROM
    jsonb_array_elements(:'j'::jsonb->'panels') p,
    jsonb_array_elements(p->'targets') t" >"$W/exprs"

# The rules: one expr per alert, the required ones there.
sed -n 's/^ *expr: //p' "$RULES" >>"$W/exprs"
nalerts=$(grep -c '^ *- alert: ' "$RULES")
nexpr=$(grep -c '^ *expr: ' "$RULES")
is "every rule has an expression" "$nexpr" "$nalerts"
for a in BotDown BotCrashLoop TelegramRateLimitedRising DatabaseErrors; do
	grep -q "^ *- alert: $a\$" "$RULES" || echo "$a" >>"$W/missing"
done
is "bot down, crash loop, rising 429s and DB errors are there" \
    "$(cat "$W/missing" 2>/dev/null)" ""

# The metric names of every query: drop strings, label matchers, ranges,
# grouping clauses, functions and keywords.
perl -ne 'chomp; s/"[^"]*"//g; s/\{[^}]*\}//g; s/\[[^\]]*\]//g;
    s/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)//g;
    s/\boffset\s+[0-9a-z]+//g;
    while (/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g) {
	next if defined $2;
	next if $1 =~ /^(and|or|unless|bool|inf|nan)$/i;
	print "$1\n";
    }' "$W/exprs" | sort -u >"$W/names"
check "the queries name metrics" [ "$(wc -l <"$W/names")" -ge 30 ]

# A real botd and a real echobot, scraped.
bd_conf "$W/botd.ini"
echo "metrics_listen = 127.0.0.1:0" >>"$W/botd.ini"
bd_bot "$W/botd.ini" good "-r"
botd_start "$W/botd.ini"
metrics_port
wait_state good RUNNING
scrape >/dev/null
cp "$W/metrics.txt" "$W/all.txt"
fake_start -t "$TOKEN"
db_create dash178
token_file "$W/token" "$TOKEN"
CONF_EXTRA='[http]
listen = 127.0.0.1:0' bot_conf "$W/bot.ini" "$W/token"
bot_start echo "$W/bot.ini"
bot_ready "$W/echo.log" || bail "echobot not ready: $(tail "$W/echo.log")"
EPORT=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' \
    "$W/echo.log")
ctl send --data-urlencode "text=/start" >/dev/null
ctl send --data-urlencode "text=hello" >/dev/null
wait_until 30 'curl -sS "http://127.0.0.1:$EPORT/metrics" >"$W/echo.txt" &&
    grep -q "^bot_updates_total{" "$W/echo.txt"'
cat "$W/echo.txt" >>"$W/all.txt"
sed -n 's/^\([a-zA-Z_:][a-zA-Z0-9_:]*\).*/\1/p' "$W/all.txt" | sort -u \
    >"$W/exposed"
check "both endpoints answered" eval \
    'grep -q "^botd_bot_up$" "$W/exposed" && grep -q "^tg_api_calls_total$" "$W/exposed"'

# Each name: exposed, or (histograms without their suffix) in the code.
: >"$W/unknown"
while read -r n; do
	grep -qx "$n" "$W/exposed" && continue
	base=$(printf %s "$n" | sed 's/_\(bucket\|sum\|count\)$//')
	grep -q "\"$base\"" "$TOP"/common/*.c "$TOP"/supervisor/*.c && continue
	echo "$n" >>"$W/unknown"
done <"$W/names"
is "every metric in the dashboard and the rules exists" \
    "$(tr '\n' ' ' <"$W/unknown")" ""
n_exposed=$(grep -cxFf "$W/exposed" "$W/names")
check "most of them ($n_exposed) seen in real /metrics output" \
    [ "$n_exposed" -ge 25 ]
t_done
