#!/bin/sh
# 110-botd-backoff: a bot that dies at once is restarted after delays that
# double from backoff_initial (100, 200, 400, 800 ms, each within +/-20 %
# jitter), and each restart follows its delay promptly (start times of
# the child itself). After an uptime of backoff_reset_after (1 s) the
# next death waits backoff_initial again. The status file shows the
# backoff while it runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 9 110-botd-backoff

bd_conf "$W/botd.ini"
# Lifetimes of the starts: 0 0 0 0 then 1.2 s (stable), then 0.
bd_bot "$W/botd.ini" crash "-x 1 -L 0,0,0,0,1200,0" "ready = none
start_seconds = 0
backoff_initial = 100ms
backoff_max = 10s
backoff_reset_after = 1s
crashloop_deaths = 20"
botd_start "$W/botd.ini"

# The 800 ms backoff (death 4) is long enough to look at.
wait_until 10 "[ \"\$(st crash state)\" = BACKOFF ] &&
    [ \"\$(st crash deaths)\" = 4 ]"
b=$(st crash backoff_ms)
if [ -n "$b" ] && [ "$b" != null ] && [ "$b" -gt 0 ] && [ "$b" -le 960 ]
then
	ok "status: BACKOFF, 4 deaths, backoff_ms $b"
else
	not_ok "status: BACKOFF, 4 deaths, backoff_ms"
	diag "$(cat "$STATE/crash.status")"
fi
wait_until 15 "[ \$(starts crash) -ge 7 ]" ||
    diag "only $(starts crash) starts"
bctl stop --wait crash

# The delays botd chose, death by death: "restarting in N ms (death K)".
re='.*bot crash: restarting in \([0-9]*\) ms (death \([0-9]*\)).*'
delays=$(sed -n "s/$re/\\2 \\1/p" "$W/botd.err")
# in_range V LO HI
in_range() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }
k=0
for want in "1 100" "2 200" "3 400" "4 800" "1 100" "2 200"; do
	k=$((k + 1))
	death=${want% *}
	base=${want#* }
	got=$(echo "$delays" | sed -n "${k}p")
	d=${got#* }
	if [ "${got% *}" = "$death" ] &&
	    in_range "$d" $((base * 8 / 10)) $((base * 12 / 10)); then
		ok "restart $k: death $death, delay $d ms (${base} +/- 20 %)"
	else
		not_ok "restart $k: death $death, delay ${base} ms +/- 20 %"
		diag "got '$got'" "$delays"
	fi
done

# The child's own start times: each gap is its lifetime plus the delay,
# plus little (reaping is immediate, then fork and exec).
gaps=$(start_times crash | awk 'NR > 1 { print $1 - p } { p = $1 }' |
    head -n 6)
lives="0 0 0 0 1200 0"
bad=
k=0
for g in $gaps; do
	k=$((k + 1))
	life=$(echo $lives | cut -d' ' -f$k)
	d=$(echo "$delays" | sed -n "${k}p" | cut -d' ' -f2)
	extra=$((g - life - d))
	in_range "$extra" -5 400 || bad="$bad gap$k=$g(life $life delay $d)"
done
if [ "$k" = 6 ] && [ -z "$bad" ]; then
	ok "each restart follows its delay at once"
else
	not_ok "each restart follows its delay at once"
	diag "gaps: $(echo $gaps)" "$bad"
fi
is "stopped by request" "$(st crash state) $(st crash wanted)" \
    "STOPPED down"
t_stop "$BOTD_PID"
t_done
