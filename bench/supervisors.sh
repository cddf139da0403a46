#!/bin/sh
# supervisors.sh: botd side by side with supervisord, runit, s6 (Debian
# packages) and PM2 (npm), in one run on one machine, each supervising N
# trivial children (bench/sup/child.c): supervisor memory, idle CPU and
# wakeups, SIGKILL-to-replacement latency, status round trip, start-all,
# stop-all, cold start and shutdown. Prints a table with botd's ratio to
# each peer. See bench/README.md, section "Supervisors".
#
#   bench/supervisors.sh                  from the top of the source tree
#   IDLE=5 N=10 SAMPLES=5 bench/supervisors.sh        a quick smoke run
#
# Environment (defaults in brackets):
#   N [50]          children per supervisor
#   IDLE [30]       seconds of the idle window
#   SAMPLES [20]    SIGKILLs per supervisor (one child after another)
#   GAP [200]       ms between two SIGKILLs
#   REPS [20]       runs of each status command
#   SSREPS [3]      stop-all + start-all cycles
#   SETTLE [2]      seconds between the cold start and the measurements
#   TOOLS           which, in this order ["botd supervisord runit s6 pm2"]
#   B [build-bench] build directory; BUILD=0 uses it as it is
#   INSTALL [1]     apt-get install the Debian packages that are missing
#   PM2_VERSION [7.0.4]  the npm package, installed into the temp dir
#   TMO [30000]     ms (plus 500 per child) after which a wait fails
#   KEEP=1          keep the temporary directory (logs, configs, results)
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-50}
IDLE=${IDLE:-30}
SAMPLES=${SAMPLES:-20}
GAP=${GAP:-200}
REPS=${REPS:-20}
SSREPS=${SSREPS:-3}
SETTLE=${SETTLE:-2}
TOOLS=${TOOLS:-"botd supervisord runit s6 pm2"}
B=${B:-build-bench}
BUILD=${BUILD:-1}
INSTALL=${INSTALL:-1}
PM2_VERSION=${PM2_VERSION:-7.0.4}
KEEP=${KEEP:-0}
TMO=${TMO:-30000}	# ms: any wait longer is a failure (plus N * 500)

die() { echo "supervisors: $*" >&2; exit 1; }
say() { echo "supervisors: $*" >&2; }

for v in N IDLE SAMPLES GAP REPS SSREPS SETTLE; do
	eval "x=\$$v"
	case $x in ''|*[!0-9]*) die "$v must be a number" ;; esac
done
[ "$N" -ge 1 ] && [ "$N" -le 999 ] || die "N must be 1 to 999"
TMO=$((TMO + N * 500))
for t in $TOOLS; do
	case $t in botd|supervisord|runit|s6|pm2) ;;
	*) die "unknown tool $t" ;; esac
done

WD=$(mktemp -d /tmp/supbench.XXXXXX)
PIDS=$WD/pids		# "PID STARTTIME" of everything we started
: >"$PIDS"

# The start time (jiffies since boot) of a pid, to never kill a reused pid.
starttime() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}

remember() {
	for r_p; do
		r_s=$(starttime "$r_p") && [ -n "$r_s" ] &&
		    echo "$r_p $r_s" >>"$PIDS"
	done
	return 0
}

# KILL every remembered process still running under the same start time,
# a PM2 daemon of ours that was not remembered yet, and every child.
kill_remembered() {
	[ -f "$PIDS" ] || return 0
	if [ -f "$WD/pm2/home/pm2.pid" ]; then
		k_p=$(cat "$WD/pm2/home/pm2.pid")
		tr '\0' ' ' <"/proc/$k_p/cmdline" 2>/dev/null | grep -q PM2 &&
		    remember "$k_p"
	fi
	sort -u "$PIDS" | while read -r k_p k_s; do
		[ -d "/proc/$k_p" ] || continue
		[ "$(starttime "$k_p")" = "$k_s" ] && kill -KILL "$k_p" \
		    2>/dev/null || true
	done
	[ -n "${CHILD:-}" ] || return 0
	for k_d in /proc/[0-9]*; do
		[ "$(readlink "$k_d/exe" 2>/dev/null)" = "$CHILD" ] &&
		    kill -KILL "${k_d#/proc/}" 2>/dev/null || true
	done
	return 0
}

cleanup() {
	kill_remembered
	if [ "$KEEP" = 1 ]; then
		say "kept $WD"
	else
		rm -rf "$WD"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- installation ------------------------------------------------------

have() { command -v "$1" >/dev/null 2>&1; }

install_debs() {
	i_pkgs=
	case " $TOOLS " in *" supervisord "*)
		have supervisord || i_pkgs="$i_pkgs supervisor" ;; esac
	case " $TOOLS " in *" runit "*)
		have runsvdir || i_pkgs="$i_pkgs runit" ;; esac
	case " $TOOLS " in *" s6 "*)
		have s6-svscan || i_pkgs="$i_pkgs s6" ;; esac
	[ -n "$i_pkgs" ] || return 0
	[ "$INSTALL" = 1 ] || die "missing packages:$i_pkgs (INSTALL=0)"
	say "apt-get install$i_pkgs"
	# No package may start its system instance (/etc/supervisor,
	# /etc/service): a policy-rc.d that says no, unless one exists.
	i_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		i_policy=1
	fi
	i_before=$(pgrep -x 'supervisord|runsvdir|s6-svscan' || true)
	i_rc=0
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends $i_pkgs >"$WD/apt.log" 2>&1 || i_rc=$?
	if [ "$i_rc" != 0 ]; then	# stale or missing package lists
		i_rc=0
		{ apt-get update && DEBIAN_FRONTEND=noninteractive \
		    apt-get install -y --no-install-recommends $i_pkgs; } \
		    >>"$WD/apt.log" 2>&1 || i_rc=$?
	fi
	[ -n "$i_policy" ] && rm -f /usr/sbin/policy-rc.d
	# Stop whatever a postinst started anyway, by pid.
	for i_p in $(pgrep -x 'supervisord|runsvdir|s6-svscan' || true); do
		case " $(echo $i_before) " in *" $i_p "*) continue ;; esac
		say "stopping pid $i_p started by the package install"
		kill -TERM "$i_p" 2>/dev/null || true
	done
	[ "$i_rc" = 0 ] || { tail -n 20 "$WD/apt.log" >&2;
	    die "apt-get install failed"; }
}

install_pm2() {
	have node && have npm || die "pm2 needs node and npm"
	say "npm install pm2@$PM2_VERSION (into $WD/npm)"
	npm install --prefix "$WD/npm" --no-audit --no-fund --loglevel=error \
	    "pm2@$PM2_VERSION" >"$WD/npm.log" 2>&1 ||
	    { tail -n 20 "$WD/npm.log" >&2; die "npm install failed"; }
	PM2=$WD/npm/node_modules/.bin/pm2
}

install_debs
case " $TOOLS " in *" pm2 "*) install_pm2 ;; esac
if [ "$BUILD" = 1 ]; then
	say "make -j2 B=$B botd botctl"
	(cd "$ROOT" && make -j2 B="$B" "$B/botd" "$B/botctl") \
	    >"$WD/make.log" 2>&1 ||
	    { tail -n 20 "$WD/make.log" >&2; die "make failed"; }
fi
BOTD=$ROOT/$B/botd
BOTCTL=$ROOT/$B/botctl
[ -x "$BOTD" ] && [ -x "$BOTCTL" ] || die "no $B/botd or $B/botctl"
cc -O2 -o "$WD/probe" "$ROOT/bench/sup/probe.c" &&
    cc -O2 -o "$WD/child" "$ROOT/bench/sup/child.c" ||
    die "cannot compile bench/sup"
PROBE=$WD/probe
CHILD=$WD/child

# --- the supervisors ---------------------------------------------------
# Each tool TOOL has: TOOL_setup DIR (configuration; sets FILES, the
# children's record files), TOOL_launch DIR (cold start: the supervisor
# in the background, its pid in LPID, or a command run by the probe in
# LCMD), TOOL_roots DIR (the supervisor's own top pids), and the command
# lines TOOL_status_all, _status_one, _start_all, _stop_all, _shutdown,
# set by TOOL_setup as shell words in S_ALL, S_ONE, C_START, C_STOP,
# C_SHUT.

names() {
	n_i=1
	while [ "$n_i" -le "$N" ]; do
		printf 'c%03d\n' "$n_i"
		n_i=$((n_i + 1))
	done
}

rec_files() {	# DIR: DIR/rec/cNNN
	FILES=
	for r_n in $(names); do
		FILES="$FILES $1/rec/$r_n"
	done
	mkdir -p "$1/rec"
}

botd_setup() {
	sed -e "s|@D@|$1|g" "$ROOT/bench/sup/botd.ini" >"$1/botd.ini"
	for b_n in $(names); do
		sed -e "s|@D@|$1|g" -e "s|@NAME@|$b_n|g" \
		    -e "s|@CHILD@|$CHILD|g" "$ROOT/bench/sup/botd-bot.ini" \
		    >>"$1/botd.ini"
	done
	rec_files "$1"
	"$BOTD" -c "$1/botd.ini" --check >/dev/null ||
	    die "botd rejects $1/botd.ini"
	S_ALL="$BOTCTL -s $1/ctl.sock status"
	S_ONE="$BOTCTL -s $1/ctl.sock status c001"
	C_START="$BOTCTL -s $1/ctl.sock start all"
	C_STOP="$BOTCTL -s $1/ctl.sock stop all"
}
botd_launch() {
	"$PROBE" stamp "$1/t0" "$BOTD" -c "$1/botd.ini" >"$1/out" 2>"$1/err" &
	LPID=$!
	C_SHUT="kill -TERM $LPID"
}
botd_roots() { echo "$LPID"; }

supervisord_setup() {
	sed -e "s|@D@|$1|g" "$ROOT/bench/sup/supervisord.conf" \
	    >"$1/supervisord.conf"
	for s_n in $(names); do
		sed -e "s|@D@|$1|g" -e "s|@NAME@|$s_n|g" \
		    -e "s|@CHILD@|$CHILD|g" \
		    "$ROOT/bench/sup/supervisord-program.conf" \
		    >>"$1/supervisord.conf"
	done
	mkdir -p "$1/log"
	rec_files "$1"
	s_ctl="supervisorctl -c $1/supervisord.conf"
	S_ALL="$s_ctl status"
	S_ONE="$s_ctl status c001"
	C_START="$s_ctl start all"
	C_STOP="$s_ctl stop all"
}
supervisord_launch() {
	"$PROBE" stamp "$1/t0" supervisord -n -c "$1/supervisord.conf" \
	    >"$1/out" 2>"$1/err" &
	LPID=$!
	C_SHUT="kill -TERM $LPID"
}
supervisord_roots() { echo "$LPID"; }

# runit and s6: a service directory per child whose ./run is a symlink to
# the child, which then records to ./starts.
svdirs() {
	SVDIRS=
	FILES=
	for v_n in $(names); do
		mkdir -p "$1/sv/$v_n"
		ln -s "$CHILD" "$1/sv/$v_n/run"
		SVDIRS="$SVDIRS $1/sv/$v_n"
		FILES="$FILES $1/sv/$v_n/starts"
	done
	# runsvdir does not trust a directory changed in the current second
	# and would wait 1 s for it to settle: not what is measured here.
	touch -d '-10 seconds' "$1/sv"
}

runit_setup() {
	svdirs "$1"
	S_ALL="sv status $SVDIRS"
	S_ONE="sv status $1/sv/c001"
	C_START="sv up $SVDIRS"
	C_STOP="sv down $SVDIRS"
}
runit_launch() {
	"$PROBE" stamp "$1/t0" runsvdir "$1/sv" >"$1/out" 2>"$1/err" &
	LPID=$!
	C_SHUT="kill -HUP $LPID"
}
runit_roots() { echo "$LPID"; }

s6_setup() {
	svdirs "$1"
	# Readiness (the child writes it at once), so that s6-supervise
	# skips its 1 s pause between two spawns: its fastest restart.
	for d in $SVDIRS; do
		echo 3 >"$d/notification-fd"
	done
	# s6 has no command for many services: a loop, as a user would.
	S_ALL="sh -c 'for d; do s6-svstat \$d; done' sh $SVDIRS"
	S_ONE="s6-svstat $1/sv/c001"
	C_START="sh -c 'for d; do s6-svc -u \$d; done' sh $SVDIRS"
	C_STOP="sh -c 'for d; do s6-svc -d \$d; done' sh $SVDIRS"
}
s6_launch() {
	"$PROBE" stamp "$1/t0" s6-svscan "$1/sv" >"$1/out" 2>"$1/err" &
	LPID=$!
	C_SHUT="s6-svscanctl -t $1/sv"
}
s6_roots() { echo "$LPID"; }

pm2_setup() {
	rec_files "$1"
	{
		echo "module.exports = { apps: ["
		for p_n in $(names); do
			sed -e "s|@D@|$1|g" -e "s|@NAME@|$p_n|g" \
			    -e "s|@CHILD@|$CHILD|g" \
			    "$ROOT/bench/sup/pm2-app.js"
		done
		echo "] };"
	} >"$1/ecosystem.config.js"
	mkdir -p "$1/home" "$1/log"
	p_ctl="env PM2_HOME=$1/home $PM2"
	S_ALL="$p_ctl jlist"
	S_ONE="$p_ctl describe c001"
	C_START="$p_ctl start all"
	C_STOP="$p_ctl stop all"
}
pm2_launch() {
	LPID=
	LCMD="env PM2_HOME=$1/home $PM2 start $1/ecosystem.config.js"
	C_SHUT="env PM2_HOME=$1/home $PM2 kill"
}
pm2_roots() {	# the God daemon, which the pm2 command daemonized
	cat "$1/home/pm2.pid"
}

# --- measurement -------------------------------------------------------

RES=$WD/results		# "TOOL METRIC VALUE" lines
: >"$RES"

put() { echo "$1 $2 $3" >>"$RES"; }

# val KEY LINE: the value of KEY=... in a probe output line
val() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# The larger of the command's return and the children's start or exit.
both() {
	awk -v a="$(val cmd_ms "$1")" -v b="$(val all_ms "$1")" \
	    'BEGIN { m = a + 0; if (b + 0 > m) m = b + 0; printf "%.3f", m }'
}

# cpu_ms NS0 NS1 COUNT: the CPU ms per operation
cpu_ms() {
	awk -v a="$1" -v b="$2" -v n="$3" \
	    'BEGIN { printf "%.3f", (b - a) / 1e6 / n }'
}

median() {
	sort -n | awk '{ v[NR] = $1 }
	    END { if (NR == 0) exit 1; if (NR % 2) m = v[(NR + 1) / 2]
	    else m = (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m }'
}

tree() {	# the live supervisor and child pids of the roots, remembered
	"$PROBE" tree "$CHILD" $("${1}_roots" "$2") >"$2/tree"
	remember $(awk '{ print $1 }' "$2/tree")
	SUPS=$(awk '$2 == "sup" { print $1 }' "$2/tree")
	KIDS=$(awk '$2 == "child" { print $1 }' "$2/tree")
}

# probe CMD ARGS: run the probe, its output in OUT; a failure is fatal.
probe() {
	OUT=$(eval "\"\$PROBE\" $*" 2>>"$D/probe.err") ||
	    die "$T: probe $1 failed: $OUT (see $D)"
	echo "$T $1: $OUT" >>"$WD/probe.log"
}

measure() {
	T=$1
	D=$WD/$T
	mkdir -p "$D"
	LCMD=
	LPID=
	"${T}_setup" "$D"
	say "$T: cold start of $N children"
	"${T}_launch" "$D"
	if [ -n "$LPID" ]; then
		remember "$LPID"
		probe started -t "$D/t0" $TMO $FILES
	else
		probe started $TMO $FILES -- $LCMD
	fi
	put "$T" cold "$(both "$OUT")"
	sleep "$SETTLE"
	tree "$T" "$D"
	[ "$(echo $KIDS | wc -w)" = "$N" ] ||
	    die "$T: $(echo $KIDS | wc -w) children running, not $N"

	say "$T: ${IDLE}s idle"
	probe idle "$IDLE" $SUPS
	put "$T" procs "$(val procs "$OUT")"
	put "$T" pss "$(val pss_kb "$OUT")"
	put "$T" rss "$(val rss_kb "$OUT")"
	put "$T" cpu "$(val cpu_ms "$OUT")"
	put "$T" wakeups $(($(val vol "$OUT") + $(val invol "$OUT")))

	# The machine's floor while this tool is measured (others are busy).
	probe time "$REPS" /bin/true
	put "$T" floor_exec "$(val med_ms "$OUT")"
	probe spawn "$SAMPLES" "$D/spawn.rec" "$CHILD"
	put "$T" floor_spawn "$(val med_ms "$OUT")"

	say "$T: status, $REPS times each"
	probe time "$REPS" "$S_ALL"
	put "$T" status_all "$(val med_ms "$OUT")"
	put "$T" status_all_fails "$(val fails "$OUT")"
	probe time "$REPS" "$S_ONE"
	put "$T" status_one "$(val med_ms "$OUT")"
	put "$T" status_one_fails "$(val fails "$OUT")"

	say "$T: $SAMPLES SIGKILLs"
	probe cpu $SUPS
	c0=$(val cpu_ns "$OUT")
	probe restart "$SAMPLES" "$GAP" $TMO $FILES
	r_out=$OUT
	probe cpu $SUPS
	put "$T" restart_cpu "$(cpu_ms "$c0" "$(val cpu_ns "$OUT")" "$SAMPLES")"
	OUT=$r_out
	put "$T" restart_med "$(val med_ms "$OUT")"
	put "$T" restart_p95 "$(val p95_ms "$OUT")"
	put "$T" restart_timeouts "$(val timeouts "$OUT")"

	say "$T: stop-all and start-all, $SSREPS times"
	: >"$D/stops"
	: >"$D/starts"
	s_i=0
	probe cpu $SUPS
	c0=$(val cpu_ns "$OUT")
	while [ "$s_i" -lt "$SSREPS" ]; do
		sleep 1.2	# runit and s6 hold a start for 1 s after one
		tree "$T" "$D"
		probe gone $TMO $KIDS -- "$C_STOP"
		both "$OUT" >>"$D/stops"
		echo >>"$D/stops"
		sleep 1.2
		probe started $TMO $FILES -- "$C_START"
		both "$OUT" >>"$D/starts"
		echo >>"$D/starts"
		s_i=$((s_i + 1))
	done
	probe cpu $SUPS
	put "$T" cycle_cpu "$(cpu_ms "$c0" "$(val cpu_ns "$OUT")" "$SSREPS")"
	put "$T" stop_all "$(median <"$D/stops")"
	put "$T" start_all "$(median <"$D/starts")"

	say "$T: shutdown"
	sleep 1.2
	tree "$T" "$D"
	probe gone $TMO $SUPS $KIDS -- "$C_SHUT"
	put "$T" shutdown "$(both "$OUT")"
	if [ -n "$LPID" ]; then
		wait "$LPID" 2>/dev/null || true
	fi
	kill_remembered
	return 0
}

# --- run ---------------------------------------------------------------

say "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); N=$N IDLE=$IDLE" \
    "SAMPLES=$SAMPLES REPS=$REPS SSREPS=$SSREPS; tools: $TOOLS"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
for t in $TOOLS; do
	measure "$t"
done
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ------------------------------------------------------------

version() {
	case $1 in
	botd)	echo "botd ($(cd "$ROOT" && git describe --always --dirty \
		    2>/dev/null || echo '?'), $B)" ;;
	supervisord) echo "supervisord $(supervisord -v)" ;;
	runit)	echo "runit $(dpkg-query -W -f '${Version}' runit \
		    2>/dev/null)" ;;
	s6)	echo "s6 $(dpkg-query -W -f '${Version}' s6 2>/dev/null)" ;;
	pm2)	echo "pm2 $PM2_VERSION, node $(node --version)" ;;
	esac
}

echo
echo "Supervisors, $N children each: $(date -u +%Y-%m-%dT%H:%MZ)," \
    "$(nproc) cores, load $LOAD0 -> $LOAD1"
for t in $TOOLS; do
	echo "- $(version "$t")"
done
echo
awk -v tools="$TOOLS" -v idle="$IDLE" -v n="$N" -v samples="$SAMPLES" \
    -v reps="$REPS" -v ssreps="$SSREPS" '
{ v[$1, $2] = $3 }
function fmt(x) {
	if (x == "") return "-"
	if (x == int(x)) return sprintf("%d", x)
	if (x >= 100) return sprintf("%.0f", x)
	if (x >= 10) return sprintf("%.1f", x)
	return sprintf("%.2f", x)
}
function cell(t, m, k, noratio,   x, b) {
	x = v[t, m] / k
	if (v[t, m] == "") return "-"
	if (t == "botd" || (("botd", m) in v) == 0 || noratio) return fmt(x)
	b = v["botd", m] / k
	if (x == 0) return fmt(x) (b == 0 ? " (=)" : "")
	return sprintf("%s (%sx)", fmt(x), fmt(b / x))
}
function row(label, m, k, noratio,   i, s) {
	s = "| " label
	for (i = 1; i <= nt; i++) s = s " | " cell(t[i], m, k, noratio)
	print s " |"
}
END {
	nt = split(tools, t, " ")
	s = "| metric (lower is better; peers: value (botd/peer))"
	sep = "|---"
	for (i = 1; i <= nt; i++) { s = s " | " t[i]; sep = sep "|---:" }
	print s " |"
	print sep "|"
	row("supervisor processes", "procs", 1, 1)
	row("PSS, MiB (all supervisor processes)", "pss", 1024)
	row("RSS, MiB (all supervisor processes)", "rss", 1024)
	row("CPU in " idle " s idle, ms", "cpu", 1)
	row("wakeups in " idle " s idle (context switches)", "wakeups", 1)
	row("SIGKILL to replacement running, median ms (" samples ")",
	    "restart_med", 1)
	row("SIGKILL to replacement running, p95 ms", "restart_p95", 1)
	row("supervisor CPU per restart, ms", "restart_cpu", 1)
	row("status of all " n ", ms (median of " reps ")", "status_all", 1)
	row("status of one, ms (median of " reps ")", "status_one", 1)
	row("start-all, ms (median of " ssreps ")", "start_all", 1)
	row("stop-all, ms (median of " ssreps ")", "stop_all", 1)
	row("supervisor CPU per stop-all + start-all, ms", "cycle_cpu", 1)
	row("cold start of " n ", ms", "cold", 1)
	row("shutdown with " n " children, ms", "shutdown", 1)
	l = "floor: fork+exec+wait of /bin/true, ms (median of " reps ")"
	row(l, "floor_exec", 1, 1)
	l = "floor: fork+exec of the child to its start, ms (median of "
	l = l samples ")"
	row(l, "floor_spawn", 1, 1)
}' "$RES"
for t in $TOOLS; do
	for m in restart_timeouts status_all_fails status_one_fails; do
		x=$(awk -v t="$t" -v m="$m" '$1 == t && $2 == m { print $3 }' \
		    "$RES")
		[ "${x:-0}" = 0 ] || echo "warning: $t $m = $x"
	done
done
