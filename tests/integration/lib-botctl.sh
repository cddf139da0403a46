# tests/integration/lib-botctl.sh: helpers of the 15x-botctl-* tests,
# sourced after lib.sh.
#
#   ctl_bots            test bots as bash scripts in $W: good (READY=1,
#                       then sleeps), slow (never ready), crash (exit 3),
#                       once (exit 1, restart = never); and client.pl
#   ctl_conf FILE ...   a botd.ini: [botd] with $SOCK, then the sections
#                       named (good slow crash once good2), $BOTD_EXTRA
#                       in [botd]
#   botd_up FILE        start botd on it and wait for its socket: $BOTD_PID
#   botd_down           SIGTERM, and one test: botd exits 0 (a sanitizer
#                       report or a leak makes it fail)
#   bc ARGS             botctl -s $SOCK ARGS, output in $OUT, exit in $RC
#   as_nobody ARGS      bc as uid nobody (setpriv), $NOBODY_GROUPS extra
#   client ARGS         the raw protocol client (perl, below)
#   expect DESC COND    ok when the shell condition COND holds, else
#                       not ok with $RC and $OUT as diagnostics
set -u

BOTD=$BOTFLEET_BUILD/botd
BOTCTL=$BOTFLEET_BUILD/botctl

[ -x "$BOTD" ] && [ -x "$BOTCTL" ] || bail "botd and botctl not built"

# ctl_bots: the test bots.
ctl_bots() {
	cat >"$W/good.sh" <<'EOF'
#!/bin/bash
echo "good: starting as $$"
[ -n "${BOTD_NOTIFY_FD:-}" ] && echo READY=1 >&"$BOTD_NOTIFY_FD"
echo "good: ready"
exec sleep 100000
EOF
	cat >"$W/slow.sh" <<'EOF'
#!/bin/bash
echo "slow: never ready"
exec sleep 100000
EOF
	cat >"$W/crash.sh" <<'EOF'
#!/bin/bash
echo "crash: exiting 3"
exit 3
EOF
	cat >"$W/once.sh" <<'EOF'
#!/bin/bash
echo "once: exiting 1"
exit 1
EOF
	chmod 0755 "$W/good.sh" "$W/slow.sh" "$W/crash.sh" "$W/once.sh"
	printf 'SECRET_TOKEN=s3cr3t-v4lue-%s\n' "$$" >"$W/good.env"
	chmod 0600 "$W/good.env"
	ctl_client_pl
}

# ctl_conf FILE BOT...: a botd.ini with the named bots.
ctl_conf() {
	cc_f=$1
	shift
	cat >"$cc_f" <<EOF
[botd]
socket = $SOCK
log_dir = $W/log
state_dir = $W/state
cgroup = no
${BOTD_EXTRA:-}
EOF
	for cc_b in "$@"; do
		case $cc_b in
		good|good2) printf '[bot %s]\nexec = %s\nenv_file = %s\n%s\n' \
		    "$cc_b" "$W/good.sh" "$W/good.env" \
		    "start_timeout = 20s
stop_timeout = 5s" ;;
		slow) printf '[bot slow]\nexec = %s\n%s\n' "$W/slow.sh" \
		    "start_timeout = 10m
autostart = no
stop_timeout = 5s" ;;
		crash) printf '[bot crash]\nexec = %s\n%s\n' "$W/crash.sh" \
		    "ready = none
backoff_initial = 10m
backoff_max = 10m" ;;
		once) printf '[bot once]\nexec = %s\n%s\n' "$W/once.sh" \
		    "ready = none
restart = never
autostart = no" ;;
		esac
		echo
	done >>"$cc_f"
}

# expect DESCRIPTION CONDITION: a TAP line for a shell condition.
expect() {
	if eval "$2"; then
		ok "$1"
	else
		not_ok "$1"
		diag "condition: $2" "exit: ${RC:-}" \
		    "output: $(printf %s "${OUT:-}" | head -c 600)"
	fi
}

# bc ARGS...: botctl on $SOCK; stdout+stderr in $OUT, exit code in $RC.
bc() {
	OUT=$(timeout 60 "$BOTCTL" -s "$SOCK" "$@" 2>&1)
	RC=$?
}

# as_nobody ARGS...: bc as nobody, in the groups $NOBODY_GROUPS (a
# setpriv --groups list) if set, with primary group $NOBODY_GID.
as_nobody() {
	if [ -n "${NOBODY_GROUPS:-}" ]; then
		an_g="--groups=$NOBODY_GROUPS"
	else
		an_g=--clear-groups
	fi
	OUT=$(timeout 60 setpriv --reuid=65534 --regid="${NOBODY_GID:-65534}" \
	    "$an_g" "$BOTCTL" -s "$SOCK" "$@" 2>&1)
	RC=$?
}

# botd_up CONF [NAME]: start botd; its pid in $BOTD_PID.
botd_up() {
	t_spawn "$W/${2:-botd}.out" "$W/${2:-botd}.err" "$BOTD" -c "$1"
	BOTD_PID=$T_PID
	BOTD_ERR=$W/${2:-botd}.err
	wait_until 20 "[ -S '$SOCK' ] && '$BOTCTL' -s '$SOCK' status \
	    >/dev/null 2>&1; [ \$? -ne 1 ]" ||
	    bail "botd did not start: $(tail -n 20 "$W/${2:-botd}.err")"
}

botd_down() {
	kill -TERM "$BOTD_PID"
	t_wait "$BOTD_PID" 30
	is "botd exits 0 on SIGTERM" "$T_RC" 0
	[ "$T_RC" = 0 ] || diag "$(tail -n 40 "$BOTD_ERR")"
}

# running BOT: botctl says BOT is RUNNING.
running() {
	"$BOTCTL" -s "$SOCK" status "$1" >/dev/null 2>&1
}

# field BOT KEY: a scalar member of BOT's status, from --json (no jq:
# the JSON is compact, members are scalars here).
field() {
	"$BOTCTL" -s "$SOCK" status --json "$1" 2>/dev/null |
	    sed -n "s/.*\"$2\":\\(\"[^\"]*\"\\|[^,}]*\\).*/\\1/p" | tr -d '"'
}

# client ARGS...: the raw protocol client; see client.pl below.
client() { perl "$W/client.pl" "$SOCK" "$@"; }

ctl_client_pl() {
	cat >"$W/client.pl" <<'EOF'
# client.pl SOCK MODE ARGS: talk to botd's socket byte by byte.
#   send FILE N      send FILE's bytes, then print N reply lines
#   sendeof FILE     send FILE's bytes, shut down writing, print every
#                    reply line until botd closes ("EOF" last)
#   oversize N       send N bytes of "x" and no newline, print 1 reply
#                    line, then send "\n" and a status request, print 1
#   hold             send half a request, then wait to be killed
#   flood SECS       send status requests and never read; exit 0 once
#                    botd drops us, 1 if it has not after SECS
#   conns N          open N connections, send a status request on each,
#                    print each first reply line, keep all open until
#                    a line on stdin
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Select;
use Socket;

$SIG{PIPE} = 'IGNORE';
my ($path, $mode, @a) = @ARGV;

sub conn {
	my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $path)
	    or die "connect $path: $!\n";
	$s->autoflush(1);
	return $s;
}

sub readline_t {
	my ($s, $secs) = @_;
	my $sel = IO::Select->new($s);
	my $line = '';
	my $c;
	while (1) {
		return undef unless $sel->can_read($secs);
		my $n = sysread($s, $c, 1);
		return undef unless $n;
		return $line if $c eq "\n";
		$line .= $c;
	}
}

sub send_all {
	my ($s, $buf) = @_;
	my $off = 0;
	while ($off < length $buf) {
		my $n = syswrite($s, $buf, length($buf) - $off, $off);
		die "write: $!\n" unless defined $n;
		$off += $n;
	}
}

my $status = qq({"v":1,"cmd":"status"}\n);
if ($mode eq 'send') {
	my $s = conn();
	open(my $f, '<:raw', $a[0]) or die "$a[0]: $!\n";
	local $/;
	my $buf = <$f>;
	send_all($s, $buf);
	for (1 .. $a[1]) {
		my $l = readline_t($s, 20);
		die "no reply $_\n" unless defined $l;
		print "$l\n";
	}
} elsif ($mode eq 'sendeof') {
	my $s = conn();
	open(my $f, '<:raw', $a[0]) or die "$a[0]: $!\n";
	local $/;
	my $buf = <$f>;
	send_all($s, $buf);
	shutdown($s, 1);
	while (defined(my $l = readline_t($s, 20))) {
		print "$l\n";
	}
	print "EOF\n";
} elsif ($mode eq 'oversize') {
	my $s = conn();
	send_all($s, 'x' x $a[0]);
	my $l = readline_t($s, 20);
	print defined $l ? "$l\n" : "NONE\n";
	send_all($s, "\n" . $status);
	$l = readline_t($s, 20);
	print defined $l ? "$l\n" : "NONE\n";
} elsif ($mode eq 'hold') {
	my $s = conn();
	send_all($s, '{"v":1,"cmd":');
	print "holding\n";
	STDOUT->flush();
	sleep 1000 while 1;
} elsif ($mode eq 'flood') {
	my $s = conn();
	$s->blocking(0);
	my $sel = IO::Select->new($s);
	my $end = time + $a[0];
	my $buf = $status x 1000;
	my $sent = 0;
	while (time < $end) {
		next unless $sel->can_write(1);
		my $n = syswrite($s, $buf);
		if (!defined $n) {
			next if $!{EAGAIN};
			print "dropped after $sent bytes: $!\n";
			exit 0;
		}
		$sent += $n;
	}
	print "not dropped after $sent bytes\n";
	exit 1;
} elsif ($mode eq 'conns') {
	my @s;
	for (1 .. $a[0]) {
		my $s = conn();
		# Over the cap botd may answer and close before we write:
		# the refusal is still there to read.
		eval { send_all($s, $status) };
		push @s, $s;
	}
	for my $s (@s) {
		my $l = readline_t($s, 20);
		print defined $l ? "$l\n" : "NONE\n";
	}
	STDOUT->flush();
	my $x = <STDIN>;
} else {
	die "unknown mode $mode\n";
}
EOF
}
