#!/bin/sh
# 150-botctl-status: botctl status against a real botd: exit 0 only when
# every listed bot is RUNNING (3 otherwise: STARTING is not healthy, nor
# BACKOFF or STOPPED), --json with the state names, the table, unknown
# bots, usage errors (2), connection errors (1, with the reason), the
# socket from $BOTD_SOCKET, and no environment value in the status.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botctl.sh"

t_plan 23 150-botctl-status
SOCK=$W/ctl.sock
ctl_bots
ctl_conf "$W/botd.ini" good good2 crash slow
botd_up "$W/botd.ini"
wait_until 20 "running good && running good2" || bail "bots not running"
wait_until 20 '[ "$(field crash state)" = BACKOFF ]' ||
    bail "crash not in BACKOFF"

bc status good good2
is "status of RUNNING bots exits 0" "$RC" 0
bc status good
is "one RUNNING bot exits 0" "$RC" 0
bc status good crash
is "a BACKOFF bot among them exits 3" "$RC" 3
bc status slow
is "a STOPPED bot exits 3" "$RC" 3
bc status
is "all bots (some not RUNNING) exit 3" "$RC" 3

# STARTING is not RUNNING: slow never says READY=1.
bc start slow
wait_until 10 '[ "$(field slow state)" = STARTING ]'
bc status slow
expect "a STARTING bot exits 3" '[ "$RC" -eq 3 ] && contains "$OUT" STARTING'

# The table.
bc status
expect "table has a header" 'contains "$OUT" NAME STATE WANTED PID UPTIME \
    READY RESTARTS "LAST EXIT" BACKOFF MEMORY'
rows=$(printf '%s\n' "$OUT" | sed 1d | awk '{ print $1, $2, $3 }' | sort |
    tr '\n' ' ')
is "table: one row per bot" "$rows" \
    "crash BACKOFF up good RUNNING up good2 RUNNING up slow STARTING up "
expect "crash's row shows its exit code" 'contains "$OUT" "code 3, "'

# --json: {"bots":[...]} with the fields, in the order asked for.
bc status --json good crash
j=$OUT
expect "--json has the fields" 'contains "$j" "{\"bots\":[{\"name\":\"good\"," \
    "\"state\":\"RUNNING\"" "\"wanted\":\"up\"" "\"restarts\":0" \
    "\"ready\":true" "},{\"name\":\"crash\"" "\"state\":\"BACKOFF\"" \
    "\"last_exit_code\":3"'
pid=$(field good pid)
expect "--json pid is good's process" '[ -n "$pid" ] &&
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sleep ]'
expect "--json is one line" '[ "$(printf "%s\n" "$j" | wc -l)" -eq 1 ]'
is "--json exit code follows the states" "$RC" 3

# No secret from env_file in status, in either form.
secret=$(sed 's/^SECRET_TOKEN=//' "$W/good.env")
bc status
expect "no environment value in status" \
    '! printf "%s\n%s\n" "$j" "$OUT" | grep -q -- "$secret"'

# Unknown bots, bad names, usage.
bc status good nosuch
expect "unknown bot: exit 1 with its name" \
    '[ "$RC" -eq 1 ] && contains "$OUT" "botctl: unknown bot: nosuch"'
bc status 'Bad/Name'
expect "invalid bot name: usage error (2)" \
    '[ "$RC" -eq 2 ] && contains "$OUT" "invalid bot name"'
bc status --wait
expect "option of another command: usage error (2)" '[ "$RC" -eq 2 ]'
bc frobnicate
expect "unknown command: usage error (2)" '[ "$RC" -eq 2 ] &&
    contains "$OUT" "unknown command: frobnicate" "usage:"'

# Connection errors, the socket from the environment.
OUT=$("$BOTCTL" -s "$W/nosuch.sock" status 2>&1)
RC=$?
msg="botctl: cannot connect to $W/nosuch.sock: No such file or directory"
expect "no socket: exit 1 and a clear message" \
    '[ "$RC" -eq 1 ] && contains "$OUT" "$msg (is botd running?)"'
OUT=$(BOTD_SOCKET=$SOCK "$BOTCTL" status good 2>&1)
RC=$?
is "\$BOTD_SOCKET names the socket" "$RC" 0
OUT=$(BOTD_SOCKET=$W/nosuch.sock "$BOTCTL" -s "$SOCK" status good 2>&1)
RC=$?
is "-s wins over \$BOTD_SOCKET" "$RC" 0

expect "botd is still running" 'alive "$BOTD_PID"'
botd_down
t_done
