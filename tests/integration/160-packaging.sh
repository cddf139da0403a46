#!/bin/sh
# 160-packaging: the systemd unit passes `systemd-analyze verify` (filled
# in with the built botd) and keeps its hardening; the sample etc/botd.ini
# and its commented-out bot section pass `botd --check`; sysusers.d and
# tmpfiles.d make the user, the group and the directories in a scratch
# root; `make install DESTDIR PREFIX=/usr SYSCONFDIR=/etc` (in a build
# directory of its own: PREFIX changes the flags) puts every file in its
# place with the templates filled in, keeps an edited botd.ini, and
# `make uninstall` removes all but the configuration.
. "$(dirname "$0")/lib.sh"

BOTD=$BOTFLEET_BUILD/botd
[ -x "$BOTD" ] || bail "botd must be built"
command -v systemd-analyze >/dev/null ||
    bail "systemd-analyze is missing (Debian: the systemd package)"

t_plan 14 160-packaging
UNIT=$TOP/packaging/systemd/botd.service

# fill FILE SBINDIR SYSCONFDIR: a template with its placeholders replaced.
fill() {
	sed -e "s|@SBINDIR@|$2|g" -e "s|@SYSCONFDIR@|$3|g" \
	    -e "s|@LIBEXECDIR@|/usr/libexec|g" -e "s|@BINDIR@|/usr/bin|g" "$1"
}

# verify FILE: systemd-analyze verify, its output in $out. It warns about
# unknown keys and bad values without failing, so any output fails.
verify() {
	out=$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify "$1" 2>&1)
	[ $? -eq 0 ] && [ -z "$out" ]
}

# ------------------------------------------------------------ the unit

mkdir -p "$W/u" "$W/etc"
fill "$UNIT" "$BOTFLEET_BUILD" "$W/etc" >"$W/u/botd.service"
if verify "$W/u/botd.service"; then
	ok "systemd-analyze verify: no error, no warning"
else
	not_ok "systemd-analyze verify: no error, no warning"
	diag "$out"
fi

# The check can fail: an unknown key, a binary that is not there.
sed -e 's|^WatchdogSec=30s|WatchdogSec=30s\nRestartSteps=5|' \
    -e "s|^ExecStart=[^ ]*|ExecStart=$W/nonexistent/botd|" \
    "$W/u/botd.service" >"$W/u/bad.service"
if ! verify "$W/u/bad.service" &&
    contains "$out" "RestartSteps" "$W/nonexistent/botd"; then
	ok "systemd-analyze verify reports an unknown key and a missing binary"
else
	not_ok "systemd-analyze verify reports an unknown key and a missing binary"
	diag "$out"
fi

# key KEY: the value of KEY= in the filled unit (the last one).
key() { sed -n "s/^$1=//p" "$W/u/botd.service" | tail -n 1; }
got="Type=$(key Type) NotifyAccess=$(key NotifyAccess) $(key ExecReload)
WatchdogSec=$(key WatchdogSec) KillMode=$(key KillMode)
Delegate=$(key Delegate) NoNewPrivileges=$(key NoNewPrivileges)
ProtectSystem=$(key ProtectSystem)
ProtectControlGroups=$(key ProtectControlGroups)
Restart=$(key Restart) RestartPreventExitStatus=$(key RestartPreventExitStatus)
RuntimeDirectory=$(key RuntimeDirectory) StateDirectory=$(key StateDirectory)
LogsDirectory=$(key LogsDirectory)
ExecStart=$(key ExecStart)"
is "the unit: notify, watchdog, reload, mixed kill, delegation, sandbox" \
    "$got" "Type=notify NotifyAccess=main /bin/kill -HUP \$MAINPID
WatchdogSec=30s KillMode=mixed
Delegate=yes NoNewPrivileges=yes
ProtectSystem=strict
ProtectControlGroups=no
Restart=on-failure RestartPreventExitStatus=100
RuntimeDirectory=botd StateDirectory=botd
LogsDirectory=botd
ExecStart=$BOTFLEET_BUILD/botd -c $W/etc/botfleet/botd.ini"

# TimeoutStopSec leaves botd its 5 s grace past the largest stop_timeout
# of the sample (the documented default included).
tss=$(key TimeoutStopSec | sed 's/s$//')
big=$(sed -n 's/^;*stop_timeout = \([0-9]*\)s$/\1/p' "$TOP/etc/botd.ini" |
    sort -n | tail -n 1)
if [ -n "$tss" ] && [ -n "$big" ] && [ "$tss" -ge $((big + 5)) ]; then
	ok "TimeoutStopSec ($tss s) is above stop_timeout ($big s) + 5 s"
else
	not_ok "TimeoutStopSec ($tss s) is above stop_timeout ($big s) + 5 s"
fi

out=$(systemd-analyze security --offline=yes --threshold=40 \
    "$W/u/botd.service" 2>&1)
if [ $? -eq 0 ]; then
	ok "systemd-analyze security: exposure at most 4.0 ($(printf %s \
	    "$out" | sed -n 's/.*exposure level for [^:]*: //p'))"
else
	not_ok "systemd-analyze security: exposure at most 4.0"
	diag "$(printf %s "$out" | tail -n 3)"
fi

# ------------------------------------------------------------ botd.ini

# The sample with the system's paths moved into $W, and a group and a
# user that exist here.
conf_here() {
	sed -e "s|/run/botd/|$W/run/|" -e "s|/var/log/botd|$W/log|" \
	    -e "s|/var/lib/botd|$W/state|g" -e "s|@LIBEXECDIR@|/usr/libexec|g" \
	    -e "s|^socket_group = botctl|socket_group = $(id -gn)|" "$1"
}
conf_here "$TOP/etc/botd.ini" >"$W/etc/botd.ini"
out=$("$BOTD" -c "$W/etc/botd.ini" --check 2>&1)
rc=$?
if [ "$rc" = 0 ] && ! grep -q '/run/botd\|/var/' "$W/etc/botd.ini"; then
	ok "botd --check accepts etc/botd.ini"
else
	not_ok "botd --check accepts etc/botd.ini"
	diag "exit $rc: $out"
fi

# Its commented-out [bot game] documents real keys: uncommented (lines
# ";[" and ";key"), with the program and files made to exist, it passes.
printf 'GAME_X=1\n' >"$W/game.env"
(umask 077 && echo 1:alert-token >"$W/alert.token")
sed -e 's/^;\([a-z[]\)/\1/' \
    -e "s|^alert_token_file = .*|alert_token_file = $W/alert.token|" \
    -e "s|^exec = .*|exec = $BOTFLEET_BUILD/botd|" \
    -e "s|^user = .*|user = $(id -un)|" \
    -e "s|^env_file = .*|env_file = $W/game.env|" \
    "$W/etc/botd.ini" >"$W/etc/game.ini"
nkeys=$(sed -n '/^\[bot game\]/,$p' "$W/etc/game.ini" | grep -c '^[a-z_]* = ')
out=$("$BOTD" -c "$W/etc/game.ini" --check 2>&1)
rc=$?
if [ "$rc" = 0 ] && contains "$out" "1 bots" && [ "$nkeys" -ge 23 ]; then
	ok "the sample [bot game] section passes --check ($nkeys keys)"
else
	not_ok "the sample [bot game] section passes --check ($nkeys keys)"
	diag "exit $rc: $out"
fi

# And --check is not a rubber stamp: a misspelt key in the same file.
sed 's/^stop_timeout = /stop_timout = /' "$W/etc/game.ini" >"$W/etc/typo.ini"
out=$("$BOTD" -c "$W/etc/typo.ini" --check 2>&1)
rc=$?
line=$(grep -n '^stop_timout' "$W/etc/typo.ini" | cut -d: -f1)
if [ "$rc" = 100 ] && contains "$out" "$W/etc/typo.ini:$line:" \
    "stop_timout"; then
	ok "a misspelt key in the sample: exit 100 with file and line"
else
	not_ok "a misspelt key in the sample: exit 100 with file and line"
	diag "exit $rc: $out"
fi

# ------------------------------------------------------------ users, dirs

R=$W/sysroot
mkdir -p "$R/etc"
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
echo 'root:x:0:' >"$R/etc/group"
systemd-sysusers --root="$R" - <"$TOP/packaging/sysusers.d/botfleet.conf" \
    >"$W/sysusers.out" 2>&1
u=$(grep '^botfleet:' "$R/etc/passwd" | cut -d: -f1,6,7)
g=$(grep '^botctl:' "$R/etc/group" | cut -d: -f1)
is "sysusers.d: a botfleet system user without login, a botctl group" \
    "$u $g" "botfleet:/:/usr/sbin/nologin botctl"

fill "$TOP/packaging/tmpfiles.d/botfleet.conf" /usr/sbin /etc |
    systemd-tmpfiles --root="$R" --create - >"$W/tmpfiles.out" 2>&1
rc=$?
# mode owner group of each directory, names resolved in the scratch root
got=
for d in run/botd run/botfleet var/lib/botd var/log/botd \
    etc/botfleet/secrets etc/botfleet/credentials; do
	s=$(stat -c '%a %u %g' "$R/$d" 2>/dev/null) || s=missing
	set -- $s
	if [ "$s" != missing ]; then
		s="$1 $(awk -F: -v i="$2" '$3 == i { print $1 }' \
		    "$R/etc/passwd") $(awk -F: -v i="$3" '$3 == i { print $1 }' \
		    "$R/etc/group")"
	fi
	got="$got$d $s
"
done
is "tmpfiles.d: the directories with their modes and owners (exit $rc)" \
    "$got" "run/botd 755 root root
run/botfleet 750 botfleet botfleet
var/lib/botd 750 root root
var/log/botd 750 root root
etc/botfleet/secrets 750 root botfleet
etc/botfleet/credentials 700 root root
"

# ------------------------------------------------------------ install

# A build directory of the test's own: PREFIX and DATADIR are part of the
# build flags, so installing from BOTFLEET_BUILD would rebuild it. The
# example bot stands for the bots (BOTS).
D=$W/root
unset MAKEFLAGS MFLAGS MAKELEVEL
mk() {
	make -C "$TOP" -s -j2 B="$W/build" PREFIX=/usr SYSCONFDIR=/etc \
	    DESTDIR="$D" BOTS="$W/build/tests/example/echobot" "$@" \
	    >>"$W/make.out" 2>&1
}
mk install || bail "make install failed: $(tail -n 20 "$W/make.out")"
conf=$(cd "$TOP" && ls etc/*.ini etc/*/* | sed 's|^etc/|etc/botfleet/|')
want="$conf
usr/bin/botctl
usr/lib/systemd/system/botd.service
usr/lib/sysusers.d/botfleet.conf
usr/lib/tmpfiles.d/botfleet.conf
usr/libexec/botfleet/botd-alert
usr/libexec/botfleet/echobot
usr/sbin/botd
$(cd "$TOP" && ls sql/*.sql | sed 's|^|usr/share/botfleet/|')"
is "make install: programs, bots, sql, unit, sysusers, tmpfiles, config" \
    "$(cd "$D" && find . -type f | sed 's|^\./||' | sort)" \
    "$(printf '%s\n' "$want" | sort)"

modes=$(cd "$D" && stat -c '%a %n' usr/sbin/botd usr/bin/botctl \
    usr/libexec/botfleet/echobot usr/lib/systemd/system/botd.service \
    etc/botfleet/botd.ini | tr '\n' ' ')
left=$(grep -n '@[A-Z]*@' "$D/usr/lib/systemd/system/botd.service" \
    "$D/usr/lib/tmpfiles.d/botfleet.conf" "$D/etc/botfleet/botd.ini")
es=$(sed -n 's/^ExecStart=//p' "$D/usr/lib/systemd/system/botd.service")
want="755 usr/sbin/botd 755 usr/bin/botctl 755 usr/libexec/botfleet/echobot"
want="$want 644 usr/lib/systemd/system/botd.service 644 etc/botfleet/botd.ini "
if [ "$modes" = "$want" ] &&
    [ -z "$left" ] &&
    [ "$es" = "/usr/sbin/botd -c /etc/botfleet/botd.ini" ] &&
    grep -q '^;exec = /usr/libexec/botfleet/game$' "$D/etc/botfleet/botd.ini" &&
    grep -q '^d /etc/botfleet/secrets ' "$D/usr/lib/tmpfiles.d/botfleet.conf"
then
	ok "installed: modes, templates filled with /usr/sbin and /etc"
else
	not_ok "installed: modes, templates filled with /usr/sbin and /etc"
	diag "modes: $modes" "placeholders: $left" "ExecStart=$es"
fi

# The installed unit verifies with its botd (at its place under DESTDIR);
# the installed botd checks the installed botd.ini.
mkdir -p "$W/u2"
sed "s|^ExecStart=/usr/sbin/botd|ExecStart=$D/usr/sbin/botd|" \
    "$D/usr/lib/systemd/system/botd.service" >"$W/u2/botd.service"
if verify "$W/u2/botd.service" &&
    conf_here "$D/etc/botfleet/botd.ini" >"$W/installed.ini" &&
    out=$("$D/usr/sbin/botd" -c "$W/installed.ini" --check 2>&1); then
	ok "the installed unit verifies; the installed botd checks its botd.ini"
else
	not_ok "the installed unit verifies; the installed botd checks its botd.ini"
	diag "$out"
fi

# An edited botd.ini survives a second install, and uninstall leaves only
# the configuration (botd's, the bots' and their data files in etc/NAME/).
echo "; edited" >>"$D/etc/botfleet/botd.ini"
mk install || bail "make install (again) failed"
mk uninstall || bail "make uninstall failed"
if [ "$(cd "$D" && find . -type f | sed 's|^\./||' | sort)" = \
    "$(printf '%s\n' "$conf" | sort)" ] &&
    [ "$(tail -n 1 "$D/etc/botfleet/botd.ini")" = "; edited" ]; then
	ok "reinstall keeps an edited botd.ini; uninstall removes all the rest"
else
	not_ok "reinstall keeps an edited botd.ini; uninstall removes all the rest"
	diag "left: $(cd "$D" && find . -type f | tr '\n' ' ')"
fi

t_done
