#!/bin/sh
# 161-make-run: scripts/run, what `make run` runs, in a run directory of
# the test's own, with the example bot ("echo") and a second bot found as
# BUILD/bots/second (a build directory of symbolic links: the real one is
# shared), or given in BOTFLEET_BOTS. A token file with a bad mode stops
# it before botd and leaves nothing running. Then, from nothing: a private PostgreSQL,
# the fake Bot API and botd come up, both bots are sandboxes and RUNNING,
# the printed curl commands talk to the echo bot, the migrations are
# applied; SIGINT to the process group (Ctrl-C) stops every process it
# started, by the pids it recorded. A second run keeps the database; a run
# killed with SIGKILL leaves processes that the next run stops; and
# BOTFLEET_RUN_SECONDS ends a run by itself.
. "$(dirname "$0")/lib.sh"

for p in botd botctl tests/fakes/tgfake tests/example/echobot; do
	[ -x "$BOTFLEET_BUILD/$p" ] || bail "$p must be built"
done
env --default-signal=INT true 2>/dev/null ||
    bail "env --default-signal is missing (coreutils >= 8.31)"

t_plan 14 161-make-run
RUN=$W/run
# PostgreSQL runs as the postgres user when we are root: it must reach
# RUN/pg (else scripts/run puts the cluster under /var/tmp).
chmod 0711 "$W"
BOTFLEET_RUN_DIR=$RUN
# BUILD/bots/ holds a bot, a directory (objects) and a file that is not
# a program: only the bot is taken.
REAL=$BOTFLEET_BUILD
BOTFLEET_BUILD=$W/build
mkdir -p "$W/build/tests/fakes" "$W/build/tests/example" \
    "$W/build/bots/second.objs" "$W/bots"
for p in botd botctl tests/fakes/tgfake tests/example/echobot; do
	ln -s "$REAL/$p" "$W/build/$p"
done
ln -s "$REAL/tests/example/echobot" "$W/build/bots/second"
ln -s "$REAL/tests/example/echobot" "$W/bots/second"
echo "not a bot" >"$W/build/bots/README"
export BOTFLEET_RUN_DIR BOTFLEET_BUILD
unset BOTFLEET_DB BOTFLEET_RUN_SECONDS BOTFLEET_FAKE_PORT BOTFLEET_ECHO \
    BOTFLEET_BOTS
ALL_PIDS=

# Whatever happens, nothing of a run outlives the test.
run_cleanup() {
	for rc_p in $T_PIDS; do
		kill -TERM "$rc_p" 2>/dev/null
	done
	for rc_p in $ALL_PIDS $(cut -d' ' -f2 "$RUN/run.pids" 2>/dev/null); do
		{ tr '\0' ' ' <"/proc/$rc_p/cmdline"; } 2>/dev/null |
		    grep -q -F "$W" && kill -KILL "$rc_p" 2>/dev/null
	done
	for rc_d in "$RUN/pg" "$(cat "$RUN/pg.dir" 2>/dev/null)"; do
		[ -d "$rc_d/data" ] && "$TOP/tests/lib/pgtmp" stop "$rc_d" \
		    >/dev/null 2>&1
	done
	case $(cat "$RUN/pg.dir" 2>/dev/null) in
	/var/tmp/botfleet-pg.*) rm -rf "$(cat "$RUN/pg.dir")" ;;
	esac
	t_cleanup
}
trap run_cleanup EXIT

# run_start TAG [ENV=VALUE...]: scripts/run in its own session (so that a
# signal to its process group is a Ctrl-C), with SIGINT not ignored (a
# background job's is); output in $W/TAG.out and $W/TAG.err. $RUN_PID.
run_start() {
	rs_tag=$1
	shift
	t_spawn "$W/$rs_tag.out" "$W/$rs_tag.err" env --default-signal=INT \
	    "$@" setsid "$TOP/scripts/run"
	RUN_PID=$T_PID
}

# run_up TAG: the banner is out (every bot RUNNING).
run_up() {
	wait_until 120 "grep -q 'botfleet is running' '$W/$1.err' ||
	    ! alive $RUN_PID" && grep -q 'botfleet is running' "$W/$1.err"
}

# pids: the processes the run recorded, and the bots' pids (botctl).
pids() {
	PG_PID=$(sed -n 's/^postgres //p' "$RUN/run.pids")
	FAKE_PID=$(sed -n 's/^tgfake //p' "$RUN/run.pids")
	BOTD_PID=$(sed -n 's/^botd //p' "$RUN/run.pids")
	BOT_PIDS=$("$BOTFLEET_BUILD/botctl" -s "$RUN/botd.sock" status --json |
	    grep -o '"pid":[0-9]*' | cut -d: -f2 | tr '\n' ' ')
	ALL_PIDS="$ALL_PIDS $PG_PID $FAKE_PID $BOTD_PID $BOT_PIDS"
}

# none_alive PID...: every one is gone; the living ones in $living.
none_alive() {
	living=
	for na_p in "$@"; do
		alive "$na_p" && living="$living $na_p"
	done
	[ -z "$living" ]
}

# leftover: the processes whose command line names the run directory
# (botd, the bots, the fake, the postmaster), in $living.
leftover() {
	living=
	for l_p in $(ls /proc | grep '^[0-9][0-9]*$'); do
		[ "$l_p" = $$ ] && continue
		{ tr '\0' ' ' <"/proc/$l_p/cmdline"; } 2>/dev/null |
		    grep -q -F "$RUN/" && alive "$l_p" && living="$living $l_p"
	done
	[ -n "$living" ]
}

# line TAG TEXT: the number of the first line of TAG's stderr with TEXT.
line() { grep -n -F "$2" "$W/$1.err" | head -n 1 | cut -d: -f1; }

# hint TAG WHAT: the command the banner prints for the echo bot.
hint() { sed -n "s/^  $2: *//p" "$W/$1.err" | head -n 1; }

# replies TAG: the echo bot's messages to the tester, through the
# banner's own command.
replies() { eval "$(hint "$1" replies)"; }

# say TAG TEXT: the tester writes TEXT, with the banner's command.
say() {
	s_cmd=$(hint "$1" say | sed "s|\"text\":\"/ping\"|\"text\":\"$2\"|")
	eval "$s_cmd" >/dev/null
}

# ------------------------------------------------------------ bad token

mkdir -p "$RUN/secrets"
echo "123:not-secret-enough" >"$RUN/secrets/second.token"
chmod 0644 "$RUN/secrets/second.token"
run_start bad BOTFLEET_BOTS="$W/bots/second"
t_wait "$RUN_PID" 120
pids 2>/dev/null
if [ "$T_RC" = 1 ] && grep -q 'second.token must be mode 0600' \
    "$W/bad.err" && [ -n "$PG_PID" ] && [ -n "$FAKE_PID" ] &&
    [ -z "$BOTD_PID" ] && none_alive "$PG_PID" "$FAKE_PID"; then
	ok "a token file with mode 0644: exit 1 before botd, all stopped"
else
	not_ok "a token file with mode 0644: exit 1 before botd, all stopped"
	diag "exit $T_RC, alive:$living" "$(tail -n 5 "$W/bad.err")"
fi
rm -f "$RUN/secrets/second.token"

# ------------------------------------------------------------ a first run

run_start one
run_up one || bail "make run did not come up: $(tail -n 30 "$W/one.err")"
pids
if [ -n "$PG_PID" ] && [ -n "$FAKE_PID" ] && [ -n "$BOTD_PID" ] &&
    alive "$PG_PID" && alive "$FAKE_PID" && alive "$BOTD_PID" &&
    [ "$(echo $BOT_PIDS | wc -w)" = 2 ]; then
	ok "PostgreSQL, the fake, botd and two bots run (pids recorded)"
else
	not_ok "PostgreSQL, the fake, botd and two bots run (pids recorded)"
	diag "pids: $(cat "$RUN/run.pids") bots: $BOT_PIDS"
fi

st=$("$BOTFLEET_BUILD/botctl" -s "$RUN/botd.sock" status)
rc=$?
if [ "$rc" = 0 ] && contains "$st" "echo " "second " &&
    [ "$(echo "$st" | grep -c RUNNING)" = 2 ]; then
	ok "botctl -s RUN/botd.sock status: echo and second RUNNING"
else
	not_ok "botctl -s RUN/botd.sock status: echo and second RUNNING"
	diag "exit $rc: $st"
fi

if grep -q "SANDBOX: bot echo talks to the fake Telegram Bot API" \
    "$W/one.err" && grep -q "SANDBOX: bot second talks to the fake" \
    "$W/one.err" && grep -q '^; SANDBOX' "$RUN/conf/echo.ini" &&
    grep -q "^api_url = http://127.0.0.1:" "$RUN/conf/second.ini" &&
    contains "$(cat "$W/one.err")" \
    "$BOTFLEET_BUILD/botctl -s $RUN/botd.sock status"; then
	ok "both bots are announced as sandboxes; the botctl hint is printed"
else
	not_ok "both bots are announced as sandboxes; the botctl hint is printed"
	diag "$(head -n 20 "$W/one.err")"
fi

say one /ping
wait_until 30 "replies one | grep -q '\"text\":\"pong\"'"
r=$(replies one)
check "the printed curl commands: /ping to the echo bot, pong back" \
    contains "$r" '"text":"pong"' '"username":"echo_sandbox_bot"'

say one hello
wait_until 30 "replies one | grep -q 'echo 1: hello'"
check "a text is echoed (its row written to the private database)" \
    contains "$(replies one)" '"text":"echo 1: hello"'

DBI="host=$RUN/pg port=5432 user=postgres dbname=botfleet"
nmig=$(psql -X -At "$DBI" -c 'SELECT count(*) FROM schema_migrations')
is "the migrations in sql/ are applied to the database botfleet" \
    "$nmig" "$(ls "$TOP"/sql/*.sql | wc -l | tr -d ' ')"

# Ctrl-C: SIGINT to the whole process group.
kill -INT "-$RUN_PID"
t_wait "$RUN_PID" 90
if [ "$T_RC" = 0 ] &&
    none_alive $PG_PID $FAKE_PID $BOTD_PID $BOT_PIDS &&
    [ ! -e "$RUN/pg/data/postmaster.pid" ] && ! leftover; then
	ok "Ctrl-C: exit 0, botd, the bots, the fake and PostgreSQL all gone"
else
	not_ok "Ctrl-C: exit 0, botd, the bots, the fake and PostgreSQL all gone"
	diag "exit $T_RC, alive:$living" "$(tail -n 10 "$W/one.err")"
fi
a=$(line one 'bot echo: stopped')
b=$(line one 'botd exited (0)')
c=$(line one 'stopping PostgreSQL')
if [ -n "$a" ] && [ -n "$b" ] && [ -n "$c" ] && [ "$a" -lt "$b" ] &&
    [ "$b" -lt "$c" ]; then
	ok "in order: the bots stopped by botd, botd exited 0, then PostgreSQL"
else
	not_ok "in order: the bots stopped by botd, botd exited 0, then PostgreSQL"
	diag "$(tail -n 12 "$W/one.err")"
fi

# ------------------------------------------------------------ a second run

run_start two
run_up two || bail "the second run did not come up: $(tail -n 30 "$W/two.err")"
pids
say two hello
wait_until 30 "replies two | grep -q 'echo 2: hello'"
check "a second run keeps the database: the count goes on (echo 2)" \
    contains "$(replies two)" '"text":"echo 2: hello"'

# Killed without a chance to clean up: its processes are left.
TWO="$PG_PID $FAKE_PID $BOTD_PID $BOT_PIDS"
kill -KILL "$RUN_PID"
t_wait "$RUN_PID" 10
if alive "$PG_PID" && alive "$FAKE_PID" && alive "$BOTD_PID"; then
	ok "SIGKILL of the script leaves PostgreSQL, the fake and botd"
else
	not_ok "SIGKILL of the script leaves PostgreSQL, the fake and botd"
fi

# ------------------------------------------------------------ leftovers

run_start three BOTFLEET_RUN_SECONDS=1
t_wait "$RUN_PID" 180
pids 2>/dev/null
if [ "$T_RC" = 0 ] &&
    grep -q 'stopping botd (pid [0-9]*) left by an earlier run' \
    "$W/three.err" &&
    grep -q 'stopping tgfake (pid [0-9]*) left by an earlier run' \
    "$W/three.err" &&
    grep -q 'stopping PostgreSQL left by an earlier run' "$W/three.err" &&
    grep -q 'botfleet is running' "$W/three.err"; then
	ok "the next run stops the leftovers first, then comes up"
else
	not_ok "the next run stops the leftovers first, then comes up"
	diag "exit $T_RC" "$(head -n 12 "$W/three.err")"
fi
if grep -q 'BOTFLEET_RUN_SECONDS=1: stopping' "$W/three.err" &&
    none_alive $TWO $PG_PID $FAKE_PID $BOTD_PID && ! leftover; then
	ok "BOTFLEET_RUN_SECONDS ends the run; nothing of any run is left"
else
	not_ok "BOTFLEET_RUN_SECONDS ends the run; nothing of any run is left"
	diag "alive:$living" "$(tail -n 8 "$W/three.err")"
fi

# Sanitizer builds: nothing reported by botd, the bots or the fake.
re='ERROR: (Address|Leak)Sanitizer|runtime error:'
if ! grep -l -E "$re" "$W"/*.err "$RUN"/log/*.log >"$W/san" 2>/dev/null
then
	ok "no sanitizer report in the output of botd, the bots and the fake"
else
	not_ok "no sanitizer report in the output of botd, the bots and the fake"
	diag "in: $(cat "$W/san")" "$(grep -h -A 8 -E "$re" $(cat "$W/san") |
	    head -n 30)"
fi

t_done
