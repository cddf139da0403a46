#!/bin/sh
# 153-botctl-perm: who may do what, by SO_PEERCRED. Root and members of
# socket_group (primary or supplementary) may change state; another user
# (nobody) gets status only when status_public is on (socket 0666), and
# nothing when it is off (socket 0660: connect fails); logs and reload
# are never public.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botctl.sh"

t_plan 19 153-botctl-perm
command -v setpriv >/dev/null || bail "setpriv (util-linux) needed"
[ "$(id -u)" -eq 0 ] || bail "must run as root"
getent group users >/dev/null || bail "group users needed"
chmod 0711 "$W"
SOCK=$W/ctl.sock
ctl_bots
BOTD_EXTRA="socket_group = users
status_public = yes"
ctl_conf "$W/botd.ini" good
botd_up "$W/botd.ini"
wait_until 20 "running good" || bail "good not running"
pid=$(field good pid)

is "public status: socket 0666 root:users" "$(stat -c '%a %U:%G' "$SOCK")" \
    "666 root:users"
as_nobody status good
expect "nobody: status works" '[ "$RC" -eq 0 ] && contains "$OUT" RUNNING'
as_nobody status --json
expect "nobody: status --json works" \
    '[ "$RC" -eq 0 ] && contains "$OUT" "\"name\":\"good\""'
as_nobody stop good
expect "nobody: stop refused" \
    '[ "$RC" -eq 1 ] && contains "$OUT" "botctl: permission denied"'
as_nobody restart --wait all
expect "nobody: restart all refused" \
    '[ "$RC" -eq 1 ] && contains "$OUT" "permission denied"'
as_nobody logs good
expect "nobody: logs refused" \
    '[ "$RC" -eq 1 ] && contains "$OUT" "permission denied"'
as_nobody reload
expect "nobody: reload refused" \
    '[ "$RC" -eq 1 ] && contains "$OUT" "permission denied"'
expect "nothing was done for nobody" \
    '[ "$(field good state)" = RUNNING ] && [ "$(field good pid)" = "$pid" ]'

NOBODY_GROUPS=users
as_nobody stop --wait good
expect "a supplementary member of users: stop works" \
    '[ "$RC" -eq 0 ] && [ "$(field good state)" = STOPPED ]'
NOBODY_GROUPS=
NOBODY_GID=users
as_nobody start --wait good
expect "primary group users: start works" \
    '[ "$RC" -eq 0 ] && [ "$(field good state)" = RUNNING ]'
as_nobody logs -n 1 good
is "primary group users: logs work" "$RC" 0
NOBODY_GID=
botd_down

# status_public = no: others cannot even connect.
BOTD_EXTRA="socket_group = users
status_public = no"
ctl_conf "$W/botd.ini" good
botd_up "$W/botd.ini"
is "private status: socket 0660 root:users" "$(stat -c '%a %U:%G' "$SOCK")" \
    "660 root:users"
as_nobody status good
expect "nobody: status refused, with the reason" '[ "$RC" -eq 1 ] &&
    contains "$OUT" "cannot connect to $SOCK: Permission denied"'
as_nobody stop good
expect "nobody: stop refused" '[ "$RC" -eq 1 ]'
NOBODY_GROUPS=users
as_nobody status good
expect "a member of users: status works" '[ "$RC" -eq 0 ]'
NOBODY_GROUPS=
bc status good
is "root: status works" "$RC" 0
expect "botd is still running" 'alive "$BOTD_PID"'
botd_down
t_done
