#!/bin/sh
# 141-botd-systemd: the sd_notify datagram protocol (Type=notify) on a
# path socket and on an abstract one: READY=1 once the control socket is
# bound and the bots are spawned, WATCHDOG=1 at half of WATCHDOG_USEC,
# STATUS= with a one-line summary, STOPPING=1 at shutdown. The bots do
# not inherit NOTIFY_SOCKET. Idle, botd does not wake up at all.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-botd.sh"

bd_plan 8 141-botd-systemd

# listen.pl ADDR OUT SOCK: datagrams to OUT, one a line; READY=1 gets
# " sock=yes" when the control socket SOCK exists at that moment.
cat >"$W/listen.pl" <<'XEOF'
use strict;
use warnings;
use IO::Socket::UNIX;
use Socket;
my ($addr, $out, $sock) = @ARGV;
(my $a = $addr) =~ s/^@/\0/;
my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $a)
    or die "bind $addr: $!\n";
open(my $f, '>>', $out) or die "$out: $!\n";
$f->autoflush(1);
print $f "LISTENING\n";
my $buf;
while (defined $s->recv($buf, 4096)) {
	$buf .= (-S $sock ? " sock=yes" : " sock=no") if $buf eq 'READY=1';
	print $f "$buf\n";
}
XEOF

bd_conf "$W/botd.ini"
bd_bot "$W/botd.ini" good "-r -e $W/good.env"
bd_bot "$W/botd.ini" bad "-x 1" "ready = none
start_seconds = 0
backoff_initial = 1m"

t_spawn "$W/l1.out" "$W/l1.err" perl "$W/listen.pl" "$W/notify.sock" \
    "$W/n1" "$SOCK"
L1=$T_PID
wait_until 10 "grep -q LISTENING '$W/n1' 2>/dev/null" ||
    bail "no listener: $(cat "$W/l1.err")"
NOTIFY_SOCKET=$W/notify.sock WATCHDOG_USEC=200000 botd_start "$W/botd.ini"
wait_until 10 "grep -q '^READY=1' '$W/n1'"
is "READY=1, after the control socket was bound" \
    "$(grep '^READY=1' "$W/n1")" "READY=1 sock=yes"
wait_until 10 "grep -qx 'STATUS=1 running, 1 backoff, 0 fatal' '$W/n1'"
check "STATUS= summary: 1 running, 1 backoff, 0 fatal" \
    grep -qx 'STATUS=1 running, 1 backoff, 0 fatal' "$W/n1"
t0=$(grep -c '^WATCHDOG=1' "$W/n1")
sleep 1
t1=$(grep -c '^WATCHDOG=1' "$W/n1")
n=$((t1 - t0))
if [ "$n" -ge 5 ] && [ "$n" -le 15 ]; then
	ok "WATCHDOG=1 every 100 ms (half of 200 ms): $n in 1 s"
else
	not_ok "WATCHDOG=1 every 100 ms: $n in 1 s"
fi
wait_state good RUNNING
check "bots do not inherit NOTIFY_SOCKET or WATCHDOG_USEC" sh -c \
    "! grep -Eq 'NOTIFY_SOCKET|WATCHDOG_USEC' '$W/good.env'"
kill -TERM "$BOTD_PID"
t_wait "$BOTD_PID" 20
is "botd exits 0" "$T_RC" 0
check "STOPPING=1 at shutdown" grep -qx 'STOPPING=1' "$W/n1"
t_stop "$L1"

# An abstract socket.
ABS=@botd-test-$$-$(date +%s%N)
t_spawn "$W/l2.out" "$W/l2.err" perl "$W/listen.pl" "$ABS" "$W/n2" "$SOCK"
L2=$T_PID
wait_until 10 "grep -q LISTENING '$W/n2' 2>/dev/null" ||
    bail "no listener: $(cat "$W/l2.err")"
NOTIFY_SOCKET=$ABS botd_start "$W/botd.ini" abstract
wait_until 10 "grep -q '^READY=1' '$W/n2'"
check "abstract NOTIFY_SOCKET: READY=1" grep -qx 'READY=1 sock=yes' "$W/n2"

# Idle (no systemd watchdog, one bot running, one backing off for a
# minute): botd does not wake up at all.
wait_state good RUNNING
sleep 0.3
cs() {
	awk '/ctxt_switches/ { n += $2 } END { print n }' \
	    "/proc/$BOTD_PID/status"
}
c0=$(cs)
sleep 1
c1=$(cs)
is "idle: no wakeups in 1 s" "$((c1 - c0))" 0
t_stop "$BOTD_PID"
t_stop "$L2"
t_done
