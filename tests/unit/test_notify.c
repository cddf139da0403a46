/* notify: the env contract, lines on a pipe or socket, heartbeats, errors. */

#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include <botcommon/log.h>
#include <botcommon/notify.h>
#include <botcommon/util.h>

/* fds[0]: the read end; fds[1]: given to notify, which closes it. */
static int	 fds[2] = { -1, -1 };
static char	*logbuf;
static size_t	 loglen;
static FILE	*logmem;

static int
setup(void **state)
{
	(void)state;
	unsetenv("BOTD_NOTIFY_FD");
	unsetenv("BOTD_WATCHDOG_SEC");
	signal(SIGPIPE, SIG_DFL);	/* a raised SIGPIPE kills the test */
	logmem = open_memstream(&logbuf, &loglen);
	log_set_stream(logmem);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	bc_notify_close();
	if (fds[0] != -1)
		close(fds[0]);
	/* fds[1] was handed to notify, which closes it. */
	fds[0] = fds[1] = -1;
	log_set_stream(NULL);
	fclose(logmem);
	free(logbuf);
	logbuf = NULL;
	unsetenv("BOTD_NOTIFY_FD");
	unsetenv("BOTD_WATCHDOG_SEC");
	return 0;
}

static const char *
logged(void)
{
	fflush(logmem);
	return logbuf != NULL ? logbuf : "";
}

static void
setenv_int(const char *name, int v)
{
	char s[32];

	snprintf(s, sizeof s, "%d", v);
	setenv(name, s, 1);
}

/* A pipe whose write end is in BOTD_NOTIFY_FD. */
static void
use_pipe(const char *watchdog)
{
	assert_int_equal(pipe(fds), 0);
	setenv_int("BOTD_NOTIFY_FD", fds[1]);
	if (watchdog != NULL)
		setenv("BOTD_WATCHDOG_SEC", watchdog, 1);
}

/* Everything readable now from the read end, as a string. */
static char *
drain(char *buf, size_t sz)
{
	ssize_t n;
	size_t len = 0;

	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	while (len + 1 < sz &&
	    (n = read(fds[0], buf + len, sz - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return buf;
}

static void
test_without_variable(void **state)
{
	(void)state;
	setenv("BOTD_WATCHDOG_SEC", "10", 1);
	assert_int_equal(bc_notify_init(), 0);
	assert_int_equal(bc_notify_enabled(), 0);
	assert_int_equal(bc_notify_watchdog_ms(), 0);
	assert_int_equal(bc_notify_ready(), 0);
	assert_int_equal(bc_notify_watchdog(), 0);
	assert_int_equal(bc_notify_status("x"), 0);
	assert_null(getenv("BOTD_WATCHDOG_SEC"));
}

static void
test_pipe_lines(void **state)
{
	char buf[256];

	(void)state;
	use_pipe("2.5");
	assert_int_equal(bc_notify_init(), 0);
	assert_int_equal(bc_notify_enabled(), 1);
	assert_int_equal(bc_notify_watchdog_ms(), 2500);
	/* Children do not inherit either. */
	assert_null(getenv("BOTD_NOTIFY_FD"));
	assert_null(getenv("BOTD_WATCHDOG_SEC"));
	assert_true(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);

	assert_int_equal(bc_notify_ready(), 0);
	assert_int_equal(bc_notify_ready(), 0);
	assert_int_equal(bc_notify_watchdog(), 0);
	assert_int_equal(bc_notify_status("%d updates", 42), 0);
	assert_string_equal(drain(buf, sizeof buf),
	    "READY=1\nWATCHDOG=1\nSTATUS=42 updates\n");
	assert_int_equal(bc_notify_dropped(), 0);

	bc_notify_close();
	assert_int_equal(fcntl(fds[1], F_GETFD), -1);
	assert_int_equal(bc_notify_enabled(), 0);
}

static void
test_intervals(void **state)
{
	static const struct {
		const char	*s;
		int		 rc;
		int64_t		 ms;
	} cases[] = {
		{ "30", 0, 30000 }, { "0.1", 0, 100 }, { "0", 0, 0 },
		{ "0.0001", 0, 1 }, { "abc", -1, 0 }, { "-1", -1, 0 },
		{ "1e3", -1, 0 }, { "", -1, 0 }, { "inf", -1, 0 },
		{ "0x10", -1, 0 }, { "1.5.2", -1, 0 }, { "100000", -1, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < BC_NELEM(cases); i++) {
		use_pipe(cases[i].s);
		assert_int_equal(bc_notify_init(), cases[i].rc);
		/* A bad interval turns heartbeats off, not notification. */
		assert_int_equal(bc_notify_enabled(), 1);
		assert_int_equal(bc_notify_watchdog_ms(), cases[i].ms);
		bc_notify_close();
		close(fds[0]);
		fds[0] = -1;
	}
	assert_non_null(strstr(logged(), "BOTD_WATCHDOG_SEC=\\\"abc\\\""));
}

static void
test_bad_fds(void **state)
{
	const char *garbage[] = { "abc", "-1", "", " 3", "3 ", "+3", "12abc",
	    "99999999999999999999" };
	char path[64];
	int closed, file, p[2];
	size_t i;

	(void)state;
	for (i = 0; i < BC_NELEM(garbage); i++) {
		setenv("BOTD_NOTIFY_FD", garbage[i], 1);
		setenv("BOTD_WATCHDOG_SEC", "1", 1);
		assert_int_equal(bc_notify_init(), -1);
		assert_int_equal(bc_notify_enabled(), 0);
		assert_int_equal(bc_notify_watchdog_ms(), 0);
		assert_null(getenv("BOTD_NOTIFY_FD"));
		assert_null(getenv("BOTD_WATCHDOG_SEC"));
		assert_int_equal(bc_notify_ready(), 0);
	}
	assert_non_null(strstr(logged(), "notification off"));

	/* A closed fd. */
	closed = open("/dev/null", O_RDONLY);
	assert_true(closed >= 0);
	close(closed);
	setenv_int("BOTD_NOTIFY_FD", closed);
	assert_int_equal(bc_notify_init(), -1);
	assert_int_equal(bc_notify_enabled(), 0);

	/* A regular file is neither a pipe nor a socket. */
	snprintf(path, sizeof path, "notify-file");
	file = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(file >= 0);
	setenv_int("BOTD_NOTIFY_FD", file);
	assert_int_equal(bc_notify_init(), -1);
	close(file);
	unlink(path);

	/* The read end of a pipe cannot be written. */
	assert_int_equal(pipe(p), 0);
	setenv_int("BOTD_NOTIFY_FD", p[0]);
	assert_int_equal(bc_notify_init(), -1);
	assert_int_equal(bc_notify_enabled(), 0);
	/* Left alone: not closed by a failed init. */
	assert_int_not_equal(fcntl(p[0], F_GETFD), -1);
	close(p[0]);
	close(p[1]);
}

static void
test_status_sanitised(void **state)
{
	char buf[1024], want[300], big[600];

	(void)state;
	use_pipe(NULL);
	assert_int_equal(bc_notify_init(), 0);

	assert_int_equal(bc_notify_status("a\nb\rc\td\x7f" "e"), 0);
	assert_string_equal(drain(buf, sizeof buf), "STATUS=a b c d e\n");

	/* Capped at 200 bytes. */
	memset(big, 'x', 500);
	big[500] = '\0';
	assert_int_equal(bc_notify_status("%s", big), 0);
	memcpy(want, "STATUS=", 7);
	memset(want + 7, 'x', 200);
	strcpy(want + 207, "\n");
	assert_string_equal(drain(buf, sizeof buf), want);

	/* Never cut inside a character: 199 bytes + a 2-byte é. */
	big[199] = '\0';
	assert_int_equal(bc_notify_status("%sé", big), 0);
	want[7 + 199] = '\n';
	want[7 + 200] = '\0';
	assert_string_equal(drain(buf, sizeof buf), want);

	/* UTF-8 is kept, invalid bytes are replaced. */
	assert_int_equal(bc_notify_status("ок\xff!"), 0);
	assert_string_equal(drain(buf, sizeof buf), "STATUS=ок?!\n");
}

/* Heartbeat test state. */
static struct {
	struct event_base	*base;
	int			 beats;
	int			 timed_out;
	char			 buf[256];
	size_t			 len;
} hb;

static void
hb_read(evutil_socket_t fd, short what, void *arg)
{
	ssize_t n;
	char *p;

	(void)what;
	(void)arg;
	n = read(fd, hb.buf + hb.len, sizeof hb.buf - 1 - hb.len);
	if (n <= 0)
		return;
	hb.len += (size_t)n;
	hb.buf[hb.len] = '\0';
	while ((p = strstr(hb.buf, "WATCHDOG=1\n")) == hb.buf) {
		hb.beats++;
		memmove(hb.buf, hb.buf + 11, hb.len - 11 + 1);
		hb.len -= 11;
	}
	assert_int_equal(hb.len, 0);	/* nothing but heartbeats */
	if (hb.beats >= 2)
		event_base_loopbreak(hb.base);
}

static void
hb_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	hb.timed_out = 1;
	event_base_loopbreak(hb.base);
}

static void
test_watchdog_timer(void **state)
{
	struct event *rd, *guard;
	struct timeval ten = { 10, 0 };
	int64_t start, elapsed;

	(void)state;
	memset(&hb, 0, sizeof hb);
	hb.base = event_base_new();
	assert_non_null(hb.base);
	use_pipe("0.1");
	assert_int_equal(bc_notify_init(), 0);
	assert_int_equal(bc_notify_watchdog_ms(), 100);

	rd = event_new(hb.base, fds[0], EV_READ | EV_PERSIST, hb_read, NULL);
	guard = evtimer_new(hb.base, hb_timeout, NULL);
	event_add(rd, NULL);
	evtimer_add(guard, &ten);
	start = bc_now_ms();
	assert_int_equal(bc_notify_start_watchdog(hb.base), 0);
	event_base_dispatch(hb.base);
	elapsed = bc_now_ms() - start;

	assert_false(hb.timed_out);
	assert_true(hb.beats >= 2);
	/* Two beats at half the interval (50 ms) each. */
	assert_true(elapsed >= 95);
	assert_true(elapsed < 5000);

	/* The timer is freed before the base. */
	bc_notify_close();
	event_free(rd);
	event_free(guard);
	event_base_free(hb.base);
}

static void
test_watchdog_without_interval(void **state)
{
	struct event_base *base;

	(void)state;
	base = event_base_new();
	use_pipe(NULL);
	assert_int_equal(bc_notify_init(), 0);
	assert_int_equal(bc_notify_start_watchdog(base), 0);
	assert_int_equal(event_base_get_num_events(base,
	    EVENT_BASE_COUNT_ADDED), 0);
	bc_notify_close();
	event_base_free(base);
}

static void
test_epipe(void **state)
{
	sigset_t pending;

	(void)state;
	use_pipe(NULL);
	assert_int_equal(bc_notify_init(), 0);
	close(fds[0]);
	fds[0] = -1;
	/* SIGPIPE is at its default: raising it would kill us. */
	assert_int_equal(bc_notify_ready(), -1);
	assert_int_equal(bc_notify_enabled(), 0);
	sigemptyset(&pending);
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGPIPE));
	assert_non_null(strstr(logged(), "notification off"));
	/* Off now: later lines are quiet no-ops. */
	assert_int_equal(bc_notify_watchdog(), 0);
}

static void
test_full_pipe_drops(void **state)
{
	char chunk[4096], buf[256];
	ssize_t n;

	(void)state;
	use_pipe(NULL);
	assert_int_equal(bc_notify_init(), 0);
	memset(chunk, 'z', sizeof chunk);
	/* init made the write end non-blocking: fill it up. */
	while ((n = write(fds[1], chunk, sizeof chunk)) > 0)
		;
	while ((n = write(fds[1], chunk, 1)) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(bc_notify_watchdog(), -1);
	assert_int_equal(bc_notify_watchdog(), -1);
	assert_int_equal(bc_notify_dropped(), 2);
	assert_int_equal(bc_notify_enabled(), 1);

	/* Drained: the next beat goes through, whole. */
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	while (read(fds[0], chunk, sizeof chunk) > 0)
		;
	assert_int_equal(bc_notify_watchdog(), 0);
	assert_string_equal(drain(buf, sizeof buf), "WATCHDOG=1\n");
}

static void
test_socket(void **state)
{
	char buf[64];
	ssize_t n;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setenv_int("BOTD_NOTIFY_FD", sv[1]);
	setenv("BOTD_WATCHDOG_SEC", "5", 1);
	assert_int_equal(bc_notify_init(), 0);
	assert_int_equal(bc_notify_watchdog_ms(), 5000);
	assert_int_equal(bc_notify_ready(), 0);
	n = recv(sv[0], buf, sizeof buf - 1, 0);
	assert_int_equal(n, 8);
	buf[n] = '\0';
	assert_string_equal(buf, "READY=1\n");
	close(sv[0]);
	assert_int_equal(bc_notify_watchdog(), -1);
	assert_int_equal(bc_notify_enabled(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_without_variable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pipe_lines, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_intervals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_sanitised, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_timer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_watchdog_without_interval,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_epipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_pipe_drops, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_socket, setup, teardown),
	};

	return cmocka_run_group_tests_name("notify", tests, NULL, NULL);
}
