#!/bin/sh
# tg-throughput.sh: updates/s end to end, peak RSS and CPU of the example
# bot (tests/example/echobot, release build) and of equivalent grammY bots,
# side by side in one run, against the same fake Bot API
# (tests/fakes/tgfake, rate limits off) and the same throwaway PostgreSQL.
# See bench/README.md.
#
#   bench/tg-throughput.sh            from the top of the source tree
#
# Environment (defaults in brackets):
#   N [10000]       updates per measurement (a multiple of USERS * BATCH)
#   USERS [100]     distinct users (and private chats)
#   BATCH [10]      texts per POST /_ctl/send
#   RUNS [3]        measurements per bot; the median is reported
#   BOTS            which bots, in this order within each run
#                   ["ours grammy grammy-pg grammy-pg-outbox"]
#   B [build-bench] build directory; BUILD=0 uses it as it is
#   GRAMMY_VERSION [1.46.0], PG_NPM_VERSION [8.23.1]  npm packages
#   KEEP=1          keep the temporary directory (logs) and say where
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-10000}
USERS=${USERS:-100}
BATCH=${BATCH:-10}
RUNS=${RUNS:-3}
BOTS=${BOTS:-"ours grammy grammy-pg grammy-pg-outbox"}
B=${B:-build-bench}
BUILD=${BUILD:-1}
GRAMMY_VERSION=${GRAMMY_VERSION:-1.46.0}
PG_NPM_VERSION=${PG_NPM_VERSION:-8.23.1}
KEEP=${KEEP:-0}
ME=tg-throughput
. "$ROOT/bench/lib.sh"
TOKEN=123456:BENCH

for v in N USERS BATCH RUNS; do
	eval "x=\$$v"
	case $x in ''|*[!0-9]*|0) die "$v must be a positive integer" ;; esac
done
[ $((N % (USERS * BATCH))) -eq 0 ] ||
	die "N ($N) must be a multiple of USERS * BATCH ($USERS * $BATCH)"
for b in $BOTS; do
	case $b in
	ours|grammy|grammy-pg|grammy-pg-outbox) ;;
	*) die "unknown bot '$b' (ours grammy grammy-pg grammy-pg-outbox)" ;;
	esac
done
command -v node >/dev/null || die "node is required"
case " $BOTS " in
*" grammy"*) command -v npm >/dev/null || die "npm is required" ;;
esac
command -v psql >/dev/null || die "psql is required (postgresql-client)"

cd "$ROOT"
case $B in /*) BD=$B ;; *) BD=$ROOT/$B ;; esac
ECHOBOT=$BD/tests/example/echobot
TGFAKE=$BD/tests/fakes/tgfake

# ------------------------------------------------------------ preparation
if [ "$BUILD" = 1 ]; then
	say "building $B (release: default CFLAGS, no sanitizers)"
	make -s -j2 B="$B" SANITIZE= DEVELOPER= "$B/tests/example/echobot" \
	    "$B/tests/fakes/tgfake" >&2
fi
[ -x "$ECHOBOT" ] && [ -x "$TGFAKE" ] || die "no $ECHOBOT or $TGFAKE"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tg-bench.XXXXXX")
chmod 0711 "$TMP"	# the postgres user must reach $TMP/pg

mkdir "$TMP/node"
case " $BOTS " in
*" grammy"*)
	say "installing grammy@$GRAMMY_VERSION pg@$PG_NPM_VERSION into" \
	    "$TMP/node"
	(cd "$TMP/node" && npm init -y >/dev/null &&
	    npm install --no-audit --no-fund --loglevel=error \
	    "grammy@$GRAMMY_VERSION" "pg@$PG_NPM_VERSION") >"$TMP/npm.log" \
	    2>&1 || { cat "$TMP/npm.log" >&2; die "npm install failed"; }
	;;
esac

mkdir "$TMP/pg"
PGCONN=$("$ROOT/tests/lib/pgtmp" start "$TMP/pg")
PG_PID=$(head -n 1 "$TMP/pg/data/postmaster.pid")
export PG_PID

printf '%s\n' "$TOKEN" >"$TMP/token"
chmod 0600 "$TMP/token"

# psql_q DBNAME ARGS... (sh has no local variables: hence the odd name)
psql_q() {
	psql_db=$1
	shift
	psql -X -q -v ON_ERROR_STOP=1 -At "host=$TMP/pg port=5432 \
user=postgres dbname=$psql_db" "$@"
}

# The grammY bots' tables: the router's and echobot's own, as they are.
grammy_schema() {
	psql_q "$1" -f "$ROOT/sql/010_runtime.sql" >/dev/null
	psql_q "$1" >/dev/null <<'EOF'
CREATE TABLE IF NOT EXISTS echo_counts (user_id bigint PRIMARY KEY,
    n bigint NOT NULL);
CREATE TABLE IF NOT EXISTS echo_log (update_id bigint NOT NULL,
    user_id bigint NOT NULL, chat_id bigint NOT NULL, text text NOT NULL,
    at timestamptz NOT NULL DEFAULT now());
EOF
}

# Fresh fake on an ephemeral port; sets FAKE_PID and URL.
start_fake() {
	rm -f "$TMP/port"
	"$TGFAKE" -p "$TMP/port" -t "$TOKEN" >"$TMP/fake.log" 2>&1 &
	FAKE_PID=$!
	i=0
	while [ ! -s "$TMP/port" ]; do
		kill -0 "$FAKE_PID" 2>/dev/null ||
			{ cat "$TMP/fake.log" >&2; die "tgfake died"; }
		[ $i -lt 200 ] || die "tgfake wrote no port in 10 s"
		sleep 0.05
		i=$((i + 1))
	done
	URL=http://127.0.0.1:$(cat "$TMP/port")
}

# Start bot $1 on database $2 against $URL; sets BOT_PID.
start_bot() {
	case $1 in
	ours)
		cat >"$TMP/echo.ini" <<EOF
[telegram]
api_url = $URL
token_file = $TMP/token
poll_timeout = 30
; the client-side rate limiter out of the way, like the fake's
global_rate = 1000000
chat_interval = 1ms
chat_burst = 1000
group_per_min = 100000

[database]
url = host=$TMP/pg port=5432 user=postgres dbname=$2
migrations = $ROOT/sql

[log]
level = warn
EOF
		env TMPDIR="$TMP" "$ECHOBOT" -c "$TMP/echo.ini" \
		    >"$TMP/bot.log" 2>&1 &
		;;
	grammy*)
		mode=memory
		case $1 in
		grammy-pg) mode=pg ;;
		grammy-pg-outbox) mode=pg-outbox ;;
		esac
		env NODE_PATH="$TMP/node/node_modules" BENCH_TOKEN="$TOKEN" \
		    BENCH_API="$URL" BENCH_MODE=$mode PGHOST="$TMP/pg" \
		    PGPORT=5432 PGUSER=postgres PGDATABASE="$2" \
		    node "$ROOT/bench/tg/grammy-bot.js" >"$TMP/bot.log" 2>&1 &
		;;
	esac
	BOT_PID=$!
}

# One measurement of bot $1, run $2: appends "bot ups hwm cpu pgcpu secs".
measure() {
	db=b_$(echo "$1" | tr - _)_$2
	psql_q postgres -c "CREATE DATABASE $db"
	case $1 in grammy-pg*) grammy_schema "$db" ;; esac
	start_fake
	start_bot "$1" "$db"
	# In the background: a signal's trap runs at once during 'wait'.
	CLK_TCK=$(getconf CLK_TCK) node "$ROOT/bench/tg/drive.js" "$URL" \
	    "$BOT_PID" "$N" "$USERS" "$BATCH" >"$TMP/drive.out" &
	DRIVE_PID=$!
	if ! wait "$DRIVE_PID"; then
		DRIVE_PID=
		tail -n 20 "$TMP/bot.log" >&2
		die "$1 run $2 failed"
	fi
	DRIVE_PID=
	stop_pid "$BOT_PID"
	BOT_PID=
	stop_pid "$FAKE_PID"
	FAKE_PID=
	if [ "$1" != grammy ]; then
		rows=$(psql_q "$db" -c "SELECT count(*) FROM echo_log")
		[ "$rows" = "$N" ] || die "$1: $rows echo_log rows, not $N"
		left=$(psql_q "$db" -c "SELECT count(*) FROM tg_outbox")
		[ "$left" = 0 ] || die "$1: $left outbox rows left"
	fi
	psql_q postgres -c "DROP DATABASE $db"
	node -e '
		const r = JSON.parse(require("fs").readFileSync(0, "utf8"));
		console.log(process.argv[1], r.ups.toFixed(1), r.hwm_kib,
		    r.cpu_ms, r.pg_cpu_ms, r.secs.toFixed(3),
		    r.queue_secs.toFixed(3));
	' "$1" <"$TMP/drive.out" | tee -a "$TMP/results" | awk '{
		printf "  %-17s run: %8.0f upd/s  %7.1f MiB  %6.0f ms CPU" \
		    "  (%s s, queued in %s s)\n", $1, $2, $3 / 1024, $4, \
		    $6, $7 }' >&2
}

# ------------------------------------------------------------ measuring
say "N=$N updates from $USERS users, $BATCH texts a call, $RUNS runs"
REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
say "botfleet $REV, node $(node --version), grammy $GRAMMY_VERSION," \
    "pg $PG_NPM_VERSION, PostgreSQL $(psql_q postgres -c 'SHOW server_version')"
: >"$TMP/results"
r=1
while [ $r -le "$RUNS" ]; do
	say "run $r of $RUNS"
	for b in $BOTS; do
		measure "$b" "$r"
	done
	r=$((r + 1))
done

# ------------------------------------------------------------ report
# Median of each column per bot; then the table and the ratios.
median() {	# bot column
	awk -v b="$1" -v c="$2" '$1 == b { print $c }' "$TMP/results" |
	    sort -g | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for b in $BOTS; do
	echo "$b $(median "$b" 2) $(median "$b" 3) $(median "$b" 4)" \
	    "$(median "$b" 5)"
done >"$TMP/medians"

echo
echo "Telegram stack throughput, $(date -u +%Y-%m-%d), $(nproc) cores," \
    "botfleet $REV, N=$N updates, $USERS users, median of $RUNS"
awk -v n="$N" '
	{ bot[NR] = $1; ups[NR] = $2; rss[NR] = $3; cpu[NR] = $4;
	  pg[NR] = $5; if ($1 == "ours") o = NR }
	END {
		printf "%-18s %10s %10s %11s %11s %12s %10s\n", "bot",
		    "updates/s", "peak RSS", "CPU/1k upd", "PG CPU/1k",
		    "ours: thr x", "RSS 1/x"
		for (i = 1; i <= NR; i++) {
			if (o && i != o)
				r = sprintf("%12.2f %10.1f", ups[o] / ups[i],
				    rss[i] / rss[o])
			else
				r = sprintf("%12s %10s", "-", "-")
			printf "%-18s %10.0f %7.1f MiB %8.0f ms %8.0f ms %s\n",
			    bot[i], ups[i], rss[i] / 1024, cpu[i] * 1000 / n,
			    pg[i] * 1000 / n, r
		}
		if (!o)
			exit
		print ""
		for (i = 1; i <= NR; i++) {
			if (i == o)
				continue
			printf "target vs %-17s >= 3x throughput: %-3s " \
			    "(%.2fx), <= 1/10 RSS: %-3s (1/%.1f)\n", bot[i],
			    (ups[o] >= 3 * ups[i] ? "yes" : "no"),
			    ups[o] / ups[i],
			    (rss[o] * 10 <= rss[i] ? "yes" : "no"),
			    rss[i] / rss[o]
		}
	}' "$TMP/medians"
