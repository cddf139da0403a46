#!/bin/sh
# 130-botd-reload: SIGHUP (and botctl reload) re-read botd.ini: an added
# bot starts, a removed one is stopped (its tree gone, its status file
# removed), a changed one restarts with the new section, and unchanged
# ones keep their pids (also when their sections move). A bad file is
# rejected with FILE:LINE and the old configuration keeps running.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 10 130-botd-reload

conf1() {
	bd_conf "$W/botd.ini"
	bd_bot "$W/botd.ini" a "-r"
	bd_bot "$W/botd.ini" b "-r"
	bd_bot "$W/botd.ini" c "-r -g" "stop_timeout = 300ms"
	bd_bot "$W/botd.ini" x "-r" "autostart = no"
}
conf1
botd_start "$W/botd.ini"
for n in a b c; do wait_state $n RUNNING; done
wait_until 10 "[ \$(wc -l <'$W/c/pids') -ge 3 ]"
pa=$(st a pid)
pb=$(st b pid)
cpids=$(cat "$W/c/pids")

# b changes, c goes, d comes, x now starts by itself; a moves to the end.
bd_conf "$W/botd.ini"
bd_bot "$W/botd.ini" b "-r -s changed"
bd_bot "$W/botd.ini" d "-r"
bd_bot "$W/botd.ini" x "-r" "autostart = yes"
bd_bot "$W/botd.ini" a "-r"
kill -HUP "$BOTD_PID"
wait_until 10 "[ \"\$(st d state)\" = RUNNING ] &&
    [ \"\$(st b status)\" = changed ] && [ ! -e '$STATE/c.status' ]"
is "unchanged a keeps its pid" "$(st a pid) $(st a restarts)" "$pa 0"
if [ "$(st b pid)" != "$pb" ] && [ "$(st b state)" = RUNNING ] &&
    [ "$(st b status)" = changed ] && ! alive "$pb"; then
	ok "changed b restarted with its new section"
else
	not_ok "changed b restarted with its new section"
	diag "$(cat "$STATE/b.status")"
fi
left=$(still_alive $cpids)
if [ ! -e "$STATE/c.status" ] && [ -z "$left" ]; then
	ok "removed c: stopped, its tree gone, its status file removed"
else
	not_ok "removed c: stopped, its tree gone, its status file removed"
	diag "left:$left"
fi
is "added d runs" "$(st d state)" RUNNING
wait_state x RUNNING
is "x (autostart now yes, never started) starts" "$(st x state)" RUNNING
bctl status c
if [ "$RC" != 0 ] && contains "$OUT" "unknown bot: c"; then
	ok "botctl no longer knows c"
else
	not_ok "botctl no longer knows c"
	diag "rc $RC: $OUT"
fi

# A bad file: kept out, the old configuration runs on.
pd=$(st d pid)
pb=$(st b pid)
cp "$W/botd.ini" "$W/good.ini"
printf '[bot e]\nexec = %s\nbogus_key = 1\n' "$TCHILD" >>"$W/botd.ini"
kill -HUP "$BOTD_PID"
wait_until 10 "grep -q 'reload failed' '$W/botd.err'"
if grep -q "reload failed.*botd.ini:[0-9]*: \[bot e\] unknown key 'bogus_key'" \
    "$W/botd.err" && [ "$(st a pid) $(st b pid) $(st d pid)" = \
    "$pa $pb $pd" ] && [ ! -e "$STATE/e.status" ]; then
	ok "SIGHUP with a bad file: logged with FILE:LINE, nothing changes"
else
	not_ok "SIGHUP with a bad file: logged with FILE:LINE, nothing changes"
	diag "$(grep 'reload' "$W/botd.err")"
fi
bctl reload
if [ "$RC" != 0 ] && contains "$OUT" "botd.ini:" "bogus_key"; then
	ok "botctl reload with a bad file: an error naming the line"
else
	not_ok "botctl reload with a bad file: an error naming the line"
	diag "rc $RC: $OUT"
fi
is "after the failed reloads the bots still run" \
    "$(st a state) $(st b state) $(st d state) $(st a pid)" \
    "RUNNING RUNNING RUNNING $pa"

# Fixed again: botctl reload works, e is added.
cp "$W/good.ini" "$W/botd.ini"
bd_bot "$W/botd.ini" e "-r"
bctl reload
wait_state e RUNNING
is "botctl reload: e added, a untouched" "$RC $(st e state) $(st a pid)" \
    "0 RUNNING $pa"
t_stop "$BOTD_PID"
t_done
