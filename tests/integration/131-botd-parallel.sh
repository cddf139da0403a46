#!/bin/sh
# 131-botd-parallel: 20 bots that each take 2 s to exit after SIGTERM
# start together and stop together: `botctl stop --wait all` and SIGTERM
# to botd each take about one stop time (asserted under 4 s, not 40 s),
# and botd exits 0 with nothing left behind.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 6 131-botd-parallel
N=20

bd_conf "$W/botd.ini"
i=1
while [ $i -le $N ]; do
	bd_bot "$W/botd.ini" "slow$i" "-r -T 2000" "stop_timeout = 5s"
	i=$((i + 1))
done
botd_start "$W/botd.ini"
all_running() {
	j=1
	while [ $j -le $N ]; do
		[ "$(st "slow$j" state)" = RUNNING ] || return 1
		j=$((j + 1))
	done
}
wait_until 30 all_running
check "$N bots start" all_running

t0=$(now_ms)
bctl stop --wait --timeout 30 all
t=$(($(now_ms) - t0))
if [ "$RC" = 0 ] && [ "$t" -ge 1900 ] && [ "$t" -lt 4000 ]; then
	ok "botctl stop --wait all: $t ms for $N bots of 2 s each"
else
	not_ok "botctl stop --wait all: under 4 s"
	diag "rc $RC, $t ms: $OUT"
fi

bctl start --wait --timeout 30 all
check "they start again together" all_running
pids=$(cat "$W"/slow*/pids)

t0=$(now_ms)
kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 30
t=$(($(now_ms) - t0))
is "SIGTERM: botd exits 0" "$T_RC" 0
if [ "$t" -ge 1900 ] && [ "$t" -lt 4000 ]; then
	ok "SIGTERM: botd done in $t ms (one stop time, not $N)"
else
	not_ok "SIGTERM: botd done in one stop time"
	diag "$t ms"
fi
left=$(still_alive $pids)
is "nothing left running" "$left" ""
t_done
