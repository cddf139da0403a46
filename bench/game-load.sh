#!/bin/sh
# game-load.sh: the game bot (bots/game, release build) under a realistic
# load: PLAYERS registered players in one group chat and their private
# chats issue a weighted mix of commands, button presses and chat texts
# (bench/game/drive.js) against the fake Bot API (tests/fakes/tgfake) and
# a throwaway PostgreSQL. Reports handler latency p50/p95/p99 (the bot's
# own histogram, and end to end through the fake), CPU, peak RSS and PSS
# against the targets of issue 6. See bench/README.md.
#
#   bench/game-load.sh            from the top of the source tree
#
# Environment (defaults in brackets):
#   N [5000]        updates to send (scenarios run to their end: a few more)
#   RATE [35]       scenarios started a second (Poisson arrivals)
#   PLAYERS [200]   registered players
#   GLOWING [40]    of them, how many have Glowing (their /vor shows targets)
#   SEED [1]        the mix's PRNG seed
#   B [build-bench] build directory; BUILD=0 uses it as it is
#   KEEP=1          keep the temporary directory (logs) and say where
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-5000}
RATE=${RATE:-35}
PLAYERS=${PLAYERS:-200}
GLOWING=${GLOWING:-40}
SEED=${SEED:-1}
B=${B:-build-bench}
BUILD=${BUILD:-1}
KEEP=${KEEP:-0}
ME=game-load
. "$ROOT/bench/lib.sh"
TOKEN=424242:GameBENCH-token_x
GROUP=-1001234567890
PLAYER0=30000
ADMIN=900

for v in N RATE PLAYERS SEED; do
	eval "x=\$$v"
	case $x in ''|*[!0-9]*|0) die "$v must be a positive integer" ;; esac
done
case $GLOWING in ''|*[!0-9]*) die "GLOWING must be an integer" ;; esac
[ "$PLAYERS" -ge 2 ] || die "PLAYERS must be at least 2"
command -v node >/dev/null || die "node is required"
command -v psql >/dev/null || die "psql is required (postgresql-client)"
command -v curl >/dev/null || die "curl is required"

cd "$ROOT"
case $B in /*) BD=$B ;; *) BD=$ROOT/$B ;; esac
GAME=$BD/bots/game
TGFAKE=$BD/tests/fakes/tgfake

# wait_for SECS CMD: poll the shell command CMD every 50 ms.
wait_for() {
	wf_i=0
	while ! eval "$2"; do
		[ $wf_i -lt $(($1 * 20)) ] || return 1
		sleep 0.05
		wf_i=$((wf_i + 1))
	done
}

# ------------------------------------------------------------ preparation
if [ "$BUILD" = 1 ]; then
	say "building $B (release: default CFLAGS, no sanitizers)"
	make -s -j2 B="$B" SANITIZE= DEVELOPER= "$B/bots/game" \
	    "$B/tests/fakes/tgfake" >&2
fi
[ -x "$GAME" ] && [ -x "$TGFAKE" ] || die "no $GAME or $TGFAKE"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/game-bench.XXXXXX")
chmod 0711 "$TMP"	# the postgres user must reach $TMP/pg

mkdir "$TMP/pg"
"$ROOT/tests/lib/pgtmp" start "$TMP/pg" >/dev/null
PG_PID=$(head -n 1 "$TMP/pg/data/postmaster.pid")
DB="host=$TMP/pg port=5432 user=postgres dbname=game"
q() { psql -X -q -v ON_ERROR_STOP=1 -At "$DB" "$@"; }
psql -X -q -v ON_ERROR_STOP=1 "host=$TMP/pg port=5432 user=postgres \
dbname=postgres" -c "CREATE DATABASE game"

(umask 077 && printf '%s\n' "$TOKEN" >"$TMP/token")
rm -f "$TMP/port"
"$TGFAKE" -p "$TMP/port" -t "$TOKEN" >"$TMP/fake.log" 2>&1 &
FAKE_PID=$!
wait_for 10 '[ -s "$TMP/port" ]' ||
    { cat "$TMP/fake.log" >&2; die "tgfake wrote no port"; }
URL=http://127.0.0.1:$(cat "$TMP/port")

echo '<b>Новости</b>: нагрузочный тест.' >"$TMP/news.html"
# The daily gold income 12 hours away: no mass mailing in the window.
GOLD=$(date -u -d '+12 hours' +%H:%M)
cat >"$TMP/game.ini" <<EOF
[telegram]
api_url = $URL
token_file = $TMP/token
poll_timeout = 10
admins = $ADMIN
; the client-side rate limiter out of the way, like the fake's (limits
; off): the latency measured is the bot's, not Telegram's pacing
global_rate = 1000000
chat_interval = 1ms
chat_burst = 1000
group_per_min = 100000

[database]
url = $DB
migrations = $ROOT/sql

[http]
listen = 127.0.0.1:0

[log]
level = info

[game]
news_file = $TMP/news.html
gold_time = $GOLD
EOF

env TMPDIR="$TMP" RUNTIME_DIRECTORY="$TMP" "$GAME" -c "$TMP/game.ini" \
    >"$TMP/bot.out" 2>"$TMP/bot.log" &
BOT_PID=$!
wait_for 60 "grep -q 'msg=ready' '$TMP/bot.log' 2>/dev/null" ||
    { tail -n 20 "$TMP/bot.log" >&2; die "the game bot is not ready"; }
MPORT=$(sed -n 's/.*msg="http listening".* port=\([0-9]*\).*/\1/p' \
    "$TMP/bot.log")
[ -n "$MPORT" ] || die "no 'http listening' line in the bot's log"
METRICS=http://127.0.0.1:$MPORT/metrics
curl -sf "$METRICS" | grep -q '^# TYPE bot_handler_duration_seconds ' ||
    die "no bot_handler_duration_seconds at $METRICS"

# The players: sizes, coins, a few items, stocks and statuettes; the
# first GLOWING have Glowing (so /vor shows its targets). All in the
# group, as if each had registered there.
q <<EOF
INSERT INTO pisunchik_data (player_id, player_name, pisunchik_size, coins,
    items, statuetki, characteristics, player_stocks, chat_id, notified,
    last_used)
SELECT $PLAYER0 + i, 'Игрок' || i, (i * 37) % 60 - 10, 200 + (i * 53) % 800,
    CASE i % 4 WHEN 0 THEN '{kolczo_na_chlen}'::text[]
        WHEN 1 THEN '{kubik_seksa,prezervativ}' WHEN 2 THEN '{}'
        ELSE '{bdsm_kostumchik,krystalnie_ballzzz}' END,
    CASE WHEN i % 10 = 0 THEN '{Pride}'::text[] ELSE '{}' END,
    CASE WHEN i <= $GLOWING THEN '{Glowing:1}'::text[] ELSE '{}' END,
    CASE i % 3 WHEN 0 THEN '{ATB:3,Google:1}'::text[] WHEN 1 THEN '{Valve:2}'
        ELSE '{}' END,
    '{$GROUP}', true,
    CASE WHEN i % 2 = 0 THEN now() - interval '2 hours' END
FROM generate_series(1, $PLAYERS) i;
EOF
[ "$(q -c 'SELECT count(*) FROM pisunchik_data')" = "$PLAYERS" ] ||
    die "players not inserted"

# ------------------------------------------------------------ the load
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- common bots/game 2>/dev/null ||
    REV="$REV (plus uncommitted changes in common/ or bots/game/)"
say "$PLAYERS players, N=$N updates, $RATE scenarios/s, seed $SEED;" \
    "botfleet $REV; PostgreSQL $(q -c 'SHOW server_version')"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# In the background: a signal's trap runs at once during 'wait'.
env N="$N" RATE="$RATE" PLAYERS="$PLAYERS" PLAYER0="$PLAYER0" \
    GROUP="$GROUP" GLOWING="$GLOWING" SEED="$SEED" PG_PID="$PG_PID" \
    CLK_TCK="$(getconf CLK_TCK)" \
    node "$ROOT/bench/game/drive.js" "$URL" "$METRICS" "$BOT_PID" \
    >"$TMP/drive.json" &
DRIVE_PID=$!
if ! wait "$DRIVE_PID"; then
	DRIVE_PID=
	tail -n 20 "$TMP/bot.log" >&2
	die "the load failed"
fi
DRIVE_PID=
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# Every update handled once, every answer sent, nothing failed.
wait_for 30 "[ \"\$(q -c \"SELECT count(*) FROM tg_outbox
    WHERE failed_at IS NULL\")\" = 0 ]" || die "answers still in the outbox"
DONE=$(q -c "SELECT count(*) FROM processed_updates WHERE bot = 'game'")
FAILED=$(q -c "SELECT count(*) FROM tg_outbox WHERE failed_at IS NOT NULL")
CAPTURED=$(q -c "SELECT count(*) FROM messages")
ERRS=$(grep -c 'level=error\|handler failed' "$TMP/bot.log" || true)
stop_pid "$BOT_PID"
BOT_PID=
stop_pid "$FAKE_PID"
FAKE_PID=

# ------------------------------------------------------------ report
echo
echo "Game bot under load, $(date), $(nproc) cores, botfleet $REV"
node - "$TMP/drive.json" "$DONE" "$FAILED" "$CAPTURED" "$ERRS" \
    "$LOAD_BEFORE" "$LOAD_AFTER" <<'EOF'
const fs = require('fs');
const [file, done, failed, captured, errs, loadBefore, loadAfter] =
    process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(file, 'utf8'));
const out = (s) => process.stdout.write(s + '\n');
const mib = (k) => (k / 1024).toFixed(1) + ' MiB';

/* Nearest rank on sorted values. */
function q(v, p) {
	return v[Math.max(0, Math.ceil(p / 100 * v.length) - 1)];
}

/* Bucket of the histogram (cumulative counts by le) holding quantile p. */
function hq(h, p) {
	const les = Object.keys(h).sort((a, b) => (a === '+Inf' ? 1 : b ===
	    '+Inf' ? -1 : Number(a) - Number(b)));
	const n = h['+Inf'];
	let prev = '0';
	for (const le of les) {
		if (h[le] >= Math.ceil(p / 100 * n))
			return le === '+Inf' ? `> ${prev * 1000} ms` :
			    `<= ${+(le * 1000).toFixed(2)} ms`;
		prev = le;
	}
	return '?';
}

const all = [];
for (const v of Object.values(r.lat))
	all.push(...v);
all.sort((a, b) => a - b);

/* The histogram, all update types together. */
const tot = {};
for (const t of Object.keys(r.hist))
	for (const le of Object.keys(r.hist[t]))
		tot[le] = (tot[le] || 0) + r.hist[t][le];
const hn = tot['+Inf'] || 0;

out(`load average (1, 5, 15 min) before: ${loadBefore}, after: ` +
    `${loadAfter}`);
out(`${r.sent} updates sent in ${r.secs.toFixed(1)} s ` +
    `(${(r.sent / r.secs).toFixed(1)}/s); the bot processed ${done}, ` +
    `handled by the router in the window: ${hn}; ${r.groupTexts} group ` +
    `chat texts (no answer), ${captured} rows in messages; ` +
    `${r.refused} presses refused (keyboard gone); ${failed} failed ` +
    `outbox rows; ${errs} error lines in the log`);
out('scenarios: ' + Object.entries(r.counts).map(([k, v]) => `${k} ${v}`)
    .join(', '));
out('bot calls: ' + Object.entries(r.methods).map(([k, v]) => `${k} ${v}`)
    .join(', '));
out('');
out('handler latency (bot_handler_duration_seconds, the bot\'s own ' +
    'histogram: bucket resolution)');
out('  type              count       p50          p95          p99');
for (const t of Object.keys(r.hist).sort()) {
	const h = r.hist[t];
	if (!h['+Inf'])
		continue;
	out(`  ${t.padEnd(16)} ${String(h['+Inf']).padStart(6)}   ` +
	    `${hq(h, 50).padEnd(12)} ${hq(h, 95).padEnd(12)} ${hq(h, 99)}`);
}
out(`  ${'all'.padEnd(16)} ${String(hn).padStart(6)}   ` +
    `${hq(tot, 50).padEnd(12)} ${hq(tot, 95).padEnd(12)} ${hq(tot, 99)}`);
const les = Object.keys(tot).sort((a, b) => (a === '+Inf' ? 1 :
    b === '+Inf' ? -1 : Number(a) - Number(b)));
const shown = [];
for (const le of les) {
	shown.push(`<= ${le === '+Inf' ? 'inf' : +(le * 1000).toFixed(2)} ms: ` +
	    `${tot[le]}`);
	if (tot[le] === hn)
		break;
}
out('  cumulative buckets, all types: ' + shown.join(', '));
out('');
out('end to end (update queued at the fake -> the bot\'s first call for ' +
    'it arrives; ms)');
out('  update                         count   p50   p95   p99   max');
const row = (name, v) => out(`  ${name.padEnd(30)} ${String(v.length)
    .padStart(5)} ${String(q(v, 50)).padStart(5)} ` +
    `${String(q(v, 95)).padStart(5)} ${String(q(v, 99)).padStart(5)} ` +
    `${String(v[v.length - 1]).padStart(5)}`);
for (const k of Object.keys(r.lat).sort()) {
	const v = r.lat[k].slice().sort((a, b) => a - b);
	row(k, v);
}
row('all answered updates', all);
const post = r.post.slice().sort((a, b) => a - b);
out(`  (each includes the driver's POST to the fake that queued it: ` +
    `p50 ${q(post, 50)} ms, p99 ${q(post, 99)} ms)`);
out('');
const m = r.mem;
out(`bot CPU ${(r.cpu_ms / r.sent * 1000).toFixed(0)} ms per 1k updates ` +
    `(${(r.cpu_ms / r.secs / 10).toFixed(1)} % of a core), PostgreSQL ` +
    `${(r.pg_cpu_ms / r.sent * 1000).toFixed(0)} ms per 1k`);
out(`bot memory at the end: peak RSS (VmHWM) ${mib(m.hwm)}, RSS ` +
    `${mib(m.rss)} (anon ${mib(m.anon)}, file ${mib(m.file)}), PSS ` +
    `${mib(m.pss)} (anon ${mib(m.pss_anon)}, file ${mib(m.pss_file)}), ` +
    `private dirty ${mib(m.pd)}`);
const libs = r.maps.filter((x) => /\.so(\.|$)/.test(x.name));
const sum = (a, k) => a.reduce((t, x) => t + x[k], 0);
out(`  shared libraries: ${libs.length}, RSS ${mib(sum(libs, 'rss'))}, ` +
    `PSS ${mib(sum(libs, 'pss'))}, private dirty ` +
    `${mib(sum(libs, 'pd'))}; everything else (heap, stacks, the ` +
    `binary): RSS ${mib(m.rss - sum(libs, 'rss'))}`);
out('  largest mappings (RSS / PSS / private dirty, kB): ' +
    r.maps.slice(0, 10).map((x) => `${x.name} ${x.rss}/${x.pss}/${x.pd}`)
    .join(', '));
out('');
const hp99 = hq(tot, 99), hp95 = hq(tot, 95);
const le99 = Number((hp99.match(/<= ([\d.]+)/) || [])[1]);
const le95 = Number((hp95.match(/<= ([\d.]+)/) || [])[1]);
out('target                               measured                   met');
out(`p99 handler latency < 5 ms            histogram ${hp99.padEnd(10)} ` +
    `e2e ${q(all, 99)} ms   ${le99 <= 5 && q(all, 99) < 5 ? 'yes' :
    le99 <= 5 ? 'yes (histogram), e2e no' : 'no'}`);
out(`peak RSS < 8 MB                      ${mib(m.hwm).padEnd(26)} ` +
    `${m.hwm * 1024 < 8e6 ? 'yes' : 'no'} (PSS ${mib(m.pss)})`);
out(`original: p95 < 200 ms               histogram ${hp95.padEnd(10)} ` +
    `e2e ${q(all, 95)} ms   ${le95 < 200 && q(all, 95) < 200 ? 'yes' :
    'no'}`);
EOF
