/*
 * ev: base, signals as events, timers, the every-N and daily schedulers,
 * and the daily rule across DST changes, month and year ends.
 *
 * Loop tests use short real timers but assert order and counts, never
 * durations; each has a 10 s watchdog so a bug fails instead of hanging.
 */

#include <sys/stat.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/util.h>

#define WATCHDOG_MS	10000

static int	 watchdog_fired;
static char	 order[64];	/* letters of the timers, as they fired */
static int	 nfired;

static int
setup(void **state)
{
	(void)state;
	order[0] = '\0';
	nfired = 0;
	watchdog_fired = 0;
	return bc_ev_init();
}

static int
teardown(void **state)
{
	(void)state;
	bc_ev_free();
	bc_sched_set_clock(NULL, NULL);
	unsetenv("TZDIR");
	return 0;
}

static void
watchdog(void *arg)
{
	(void)arg;
	watchdog_fired = 1;
	bc_ev_stop();
}

/* Run the loop under a watchdog; fail if the watchdog ended it. */
static void
run_loop(void)
{
	struct bc_timer *w;

	w = bc_timer_new(watchdog, NULL);
	bc_timer_start(w, WATCHDOG_MS);
	assert_int_equal(bc_ev_run(), 0);
	bc_timer_free(w);
	assert_false(watchdog_fired);
}

/* UTC instant of a calendar date and time. */
static time_t
T(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

/* bc_sched_next_daily() that must succeed. */
static time_t
next_daily(time_t after, int hh, int mm, const char *tz)
{
	time_t next = 0;
	char *cause = NULL;

	if (bc_sched_next_daily(after, hh, mm, tz, &next, &cause) != 0)
		fail_msg("next_daily: %s", cause);
	assert_null(cause);
	return next;
}

/* Append the timer's letter; stop the loop on an upper-case one. */
static void
mark(void *arg)
{
	char c = *(const char *)arg;
	size_t n = strlen(order);

	if (n < sizeof order - 1) {
		order[n] = c;
		order[n + 1] = '\0';
	}
	nfired++;
	if (c >= 'A' && c <= 'Z')
		bc_ev_stop();
}

static void
test_init_free(void **state)
{
	struct event_base *base;
	struct sigaction sa;

	(void)state;
	base = bc_ev_base();
	assert_non_null(base);
	assert_int_equal(bc_ev_init(), 0);
	assert_ptr_equal(bc_ev_base(), base);
	/* SIGPIPE is ignored: raising it does not kill us. */
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_IGN);
	assert_int_equal(raise(SIGPIPE), 0);
	bc_ev_free();
	assert_null(bc_ev_base());
	assert_int_equal(bc_ev_run(), -1);
	bc_ev_stop();	/* no base: a no-op */
	bc_ev_free();	/* twice: a no-op */
	/* SIGTERM is back to its default disposition. */
	assert_int_equal(sigaction(SIGTERM, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
	assert_int_equal(bc_ev_init(), 0);
	assert_non_null(bc_ev_base());
	assert_int_equal(sigaction(SIGTERM, NULL, &sa), 0);
	assert_true(sa.sa_handler != SIG_DFL);
}

static void
raw_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
	bc_ev_stop();
}

/* Other modules add their own events to the same base. */
static void
test_shared_base(void **state)
{
	struct timeval tv = { 0, 1000 };
	int hit = 0;

	(void)state;
	assert_int_equal(event_base_once(bc_ev_base(), -1, EV_TIMEOUT,
	    raw_event, &hit, &tv), 0);
	run_loop();
	assert_int_equal(hit, 1);
}

static void
test_timers_order(void **state)
{
	static char letters[] = "abcD";
	struct bc_timer *t[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_non_null(t[i] = bc_timer_new(mark, &letters[i]));
	assert_false(bc_timer_pending(t[0]));
	bc_timer_start(t[3], 60);
	bc_timer_start(t[1], 20);
	bc_timer_start(t[0], 0);
	bc_timer_start(t[2], 40);
	for (i = 0; i < 4; i++)
		assert_true(bc_timer_pending(t[i]));
	run_loop();
	assert_string_equal(order, "abcD");
	for (i = 0; i < 4; i++) {
		assert_false(bc_timer_pending(t[i]));
		bc_timer_free(t[i]);
	}
	bc_timer_free(NULL);
	assert_null(bc_timer_new(NULL, NULL));
	assert_int_equal(errno, EINVAL);
}

static void
test_timer_stop_restart(void **state)
{
	static char letters[] = "acZ";
	struct bc_timer *a, *c, *z;

	(void)state;
	a = bc_timer_new(mark, &letters[0]);
	c = bc_timer_new(mark, &letters[1]);
	z = bc_timer_new(mark, &letters[2]);
	bc_timer_start(a, 10);
	bc_timer_stop(a);
	assert_false(bc_timer_pending(a));
	bc_timer_stop(a);	/* twice: fine */
	bc_timer_start(c, 3600 * 1000);
	bc_timer_start(c, 20);	/* re-arming replaces the expiry */
	bc_timer_start(z, 50);
	run_loop();
	assert_string_equal(order, "cZ");
	/* The stopped timer starts again. */
	order[0] = '\0';
	bc_timer_start(a, 0);
	bc_timer_start(z, 30);
	run_loop();
	assert_string_equal(order, "aZ");
	bc_timer_free(a);
	bc_timer_free(c);
	bc_timer_free(z);
}

struct repeat {
	struct bc_timer	*t;
	int		 n;
};

/* Re-arms itself four times, then frees itself and stops the loop. */
static void
repeat_cb(void *arg)
{
	struct repeat *r = arg;

	if (++r->n < 5) {
		bc_timer_start(r->t, 1);
		return;
	}
	bc_timer_free(r->t);
	r->t = NULL;
	bc_ev_stop();
}

static void
test_timer_repeat_and_self_free(void **state)
{
	struct repeat r = { NULL, 0 };

	(void)state;
	r.t = bc_timer_new(repeat_cb, &r);
	bc_timer_start(r.t, 0);
	run_loop();
	assert_int_equal(r.n, 5);
	assert_null(r.t);
}

static void
test_stop_from_callback(void **state)
{
	static char letters[] = "AB";
	struct bc_timer *a, *b;

	(void)state;
	a = bc_timer_new(mark, &letters[0]);
	b = bc_timer_new(mark, &letters[1]);
	bc_timer_start(a, 0);
	bc_timer_start(b, 50);
	run_loop();
	/* Stopped after A: B has not run and is still armed. */
	assert_string_equal(order, "A");
	assert_true(bc_timer_pending(b));
	run_loop();
	assert_string_equal(order, "AB");

	/* A stop requested outside the loop ends the next run at once. */
	bc_timer_start(a, 0);
	bc_ev_stop();
	assert_int_equal(bc_ev_run(), 0);
	assert_string_equal(order, "AB");
	assert_true(bc_timer_pending(a));
	run_loop();
	assert_string_equal(order, "ABA");
	bc_timer_free(a);
	bc_timer_free(b);
}

struct sigseen {
	int	n;
	int	signo;
	int	stop;
};

static void
on_sig(int signo, void *arg)
{
	struct sigseen *s = arg;

	s->n++;
	s->signo = signo;
	if (s->stop)
		bc_ev_stop();
}

static void
raise_cb(void *arg)
{
	raise(*(int *)arg);
}

/* Raise signo from a timer inside the running loop. */
static void
raise_in_loop(int signo)
{
	struct bc_timer *t;

	t = bc_timer_new(raise_cb, &signo);
	bc_timer_start(t, 0);
	run_loop();
	bc_timer_free(t);
}

static void
test_sighup(void **state)
{
	struct sigseen s = { 0, 0, 1 };
	struct sigaction sa;

	(void)state;
	assert_int_equal(bc_ev_on_signal(SIGHUP, on_sig, &s), 0);
	raise_in_loop(SIGHUP);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.signo, SIGHUP);
	raise_in_loop(SIGHUP);
	assert_int_equal(s.n, 2);
	/* Back to the default: no longer caught. */
	assert_int_equal(bc_ev_on_signal(SIGHUP, NULL, NULL), 0);
	assert_int_equal(sigaction(SIGHUP, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
}

static void
test_sigterm_default(void **state)
{
	struct sigseen s = { 0, 0, 1 };

	(void)state;
	/* The defaults stop the loop (the watchdog would fail the test). */
	raise_in_loop(SIGTERM);
	raise_in_loop(SIGINT);
	/* Replaced: the callback runs instead. */
	assert_int_equal(bc_ev_on_signal(SIGTERM, on_sig, &s), 0);
	raise_in_loop(SIGTERM);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.signo, SIGTERM);
	/* Restored: stops again without calling it. */
	assert_int_equal(bc_ev_on_signal(SIGTERM, NULL, NULL), 0);
	raise_in_loop(SIGTERM);
	assert_int_equal(s.n, 1);
}

static void
test_signal_invalid(void **state)
{
	static const int bad[] = { 0, -1, NSIG, 1000, SIGKILL, SIGSTOP,
	    SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	size_t i;

	(void)state;
	for (i = 0; i < BC_NELEM(bad); i++) {
		errno = 0;
		assert_int_equal(bc_ev_on_signal(bad[i], on_sig, NULL), -1);
		assert_int_equal(errno, EINVAL);
	}
	/* SIGPIPE with a callback, then back to ignored. */
	assert_int_equal(bc_ev_on_signal(SIGPIPE, on_sig, NULL), 0);
	assert_int_equal(bc_ev_on_signal(SIGPIPE, NULL, NULL), 0);
	assert_int_equal(raise(SIGPIPE), 0);
}

/* libevent's messages arrive through our log. */
static void
test_libevent_log(void **state)
{
	struct event_config *cfg;
	char *out = NULL;
	size_t outlen = 0;
	FILE *mem;

	(void)state;
	assert_non_null(mem = open_memstream(&out, &outlen));
	log_set_stream(mem);
	assert_non_null(cfg = event_config_new());
	event_config_avoid_method(cfg, "epoll");
	event_config_avoid_method(cfg, "poll");
	event_config_avoid_method(cfg, "select");
	assert_null(event_base_new_with_config(cfg));
	event_config_free(cfg);
	log_set_stream(NULL);
	fclose(mem);
	assert_non_null(strstr(out, "level=warn"));
	assert_non_null(strstr(out, "libevent: "));
	free(out);
}

struct every {
	struct bc_sched	*s;
	int64_t		 start;
	int64_t		 interval;
	int		 n;
	int		 stop_at;
	int		 free_at;	/* free itself on this run */
	int		 bad;		/* runs early or too far ahead */
};

static void
every_cb(void *arg)
{
	struct every *e = arg;
	int64_t now = bc_now_ms();

	e->n++;
	/* Fixed rate and no burst: run n never starts before n periods. */
	if (now - e->start < e->n * e->interval)
		e->bad++;
	if (bc_sched_next_ms(e->s) > e->interval)
		e->bad++;
	if (e->n == e->free_at) {
		bc_sched_free(e->s);
		e->s = NULL;
	}
	if (e->n == e->stop_at)
		bc_ev_stop();
}

static void
test_sched_every(void **state)
{
	struct every e = { NULL, 0, 10, 0, 6, 0, 0 };

	(void)state;
	e.start = bc_now_ms();
	assert_non_null(e.s = bc_sched_every(10, every_cb, &e));
	assert_true(bc_sched_next_ms(e.s) <= 10);
	run_loop();
	assert_int_equal(e.n, 6);
	assert_int_equal(e.bad, 0);
	bc_sched_free(e.s);
	bc_sched_free(NULL);
	/* Bad arguments. */
	assert_null(bc_sched_every(0, every_cb, &e));
	assert_int_equal(errno, EINVAL);
	assert_null(bc_sched_every(-5, every_cb, &e));
	assert_null(bc_sched_every(10, NULL, &e));
	assert_null(bc_sched_every(INT64_MAX, every_cb, &e));
	assert_int_equal(bc_sched_next_ms(NULL), -1);
}

static void
count_cb(void *arg)
{
	(*(int *)arg)++;
}

/* A monotonic clock the tests set. */
static int64_t	fake_mono;

static int64_t
mono_clock(void)
{
	return fake_mono;
}

/* A slow callback: the clock moves 35 ms while it runs. */
static void
slow_cb(void *arg)
{
	(*(int *)arg)++;
	fake_mono += 35;
}

/* Fixed rate on the (fake) monotonic clock; missed periods skipped. */
static void
test_sched_every_skip(void **state)
{
	struct bc_sched *s;
	int n = 0;

	(void)state;
	bc_sched_set_clock(mono_clock, NULL);
	fake_mono = 1000;
	s = bc_sched_every(10, count_cb, &n);
	assert_int_equal(bc_sched_next_ms(s), 10);
	fake_mono = 1005;		/* early: re-armed, not run */
	bc_sched_recheck(s);
	assert_int_equal(n, 0);
	assert_int_equal(bc_sched_next_ms(s), 5);
	fake_mono = 1013;		/* 3 ms late: no drift */
	bc_sched_recheck(s);
	assert_int_equal(n, 1);
	assert_int_equal(bc_sched_next_ms(s), 7);
	fake_mono = 1045;		/* stalled: one run, then 1050 */
	bc_sched_recheck(s);
	assert_int_equal(n, 2);
	assert_int_equal(bc_sched_next_ms(s), 5);
	bc_sched_recheck(s);		/* no burst for 1030 and 1040 */
	assert_int_equal(n, 2);
	fake_mono = 1050;
	bc_sched_recheck(s);
	assert_int_equal(n, 3);
	assert_int_equal(bc_sched_next_ms(s), 10);
	bc_sched_free(s);

	/* The callback overran three periods: they are skipped. */
	n = 0;
	fake_mono = 2000;
	s = bc_sched_every(10, slow_cb, &n);
	fake_mono = 2010;
	bc_sched_recheck(s);
	assert_int_equal(n, 1);
	assert_int_equal(fake_mono, 2045);
	assert_int_equal(bc_sched_next_ms(s), 5);
	bc_sched_recheck(s);
	assert_int_equal(n, 1);
	bc_sched_free(s);
}

/* A job freeing itself from its callback never runs again. */
static void
test_sched_self_free(void **state)
{
	struct every a = { NULL, 0, 5, 0, 0, 3, 0 };
	struct every b = { NULL, 0, 10, 0, 8, 0, 0 };

	(void)state;
	a.start = b.start = bc_now_ms();
	a.s = bc_sched_every(5, every_cb, &a);
	b.s = bc_sched_every(10, every_cb, &b);
	run_loop();
	assert_int_equal(a.n, 3);
	assert_null(a.s);
	assert_int_equal(b.n, 8);
	bc_sched_free(b.s);
}

static void
test_every_next(void **state)
{
	(void)state;
	assert_int_equal(bc_sched_every_next(1000, 10, 500), 1010);
	assert_int_equal(bc_sched_every_next(1000, 10, 1005), 1010);
	assert_int_equal(bc_sched_every_next(1000, 10, 1010), 1010);
	assert_int_equal(bc_sched_every_next(1000, 10, 1011), 1020);
	assert_int_equal(bc_sched_every_next(1000, 10, 1035), 1040);
	assert_int_equal(bc_sched_every_next(1000, 10, 1040), 1040);
	assert_int_equal(bc_sched_every_next(1000, 10, 100000), 100000);
	assert_int_equal(bc_sched_every_next(0, 3600000, 7200001),
	    10800000);
}

static void
test_daily_utc(void **state)
{
	(void)state;
	/* Strictly after: the instant itself gives the next day. */
	assert_int_equal(next_daily(T(2026, 12, 31, 11, 59, 59), 12, 0, NULL),
	    T(2026, 12, 31, 12, 0, 0));
	assert_int_equal(next_daily(T(2026, 12, 31, 12, 0, 0), 12, 0, NULL),
	    T(2027, 1, 1, 12, 0, 0));
	/* Year, month and leap-day ends. */
	assert_int_equal(next_daily(T(2026, 12, 31, 23, 59, 0), 0, 0, NULL),
	    T(2027, 1, 1, 0, 0, 0));
	assert_int_equal(next_daily(T(2026, 12, 31, 23, 59, 0), 23, 59,
	    NULL), T(2027, 1, 1, 23, 59, 0));
	assert_int_equal(next_daily(T(2028, 2, 28, 23, 59, 0), 8, 0, NULL),
	    T(2028, 2, 29, 8, 0, 0));
	assert_int_equal(next_daily(T(2027, 2, 28, 23, 59, 0), 8, 0, NULL),
	    T(2027, 3, 1, 8, 0, 0));
	assert_int_equal(next_daily(T(2026, 4, 30, 9, 0, 0), 9, 0, NULL),
	    T(2026, 5, 1, 9, 0, 0));
	/* "UTC" by name is the same as NULL. */
	assert_int_equal(next_daily(T(2026, 12, 31, 12, 0, 0), 12, 0, "UTC"),
	    T(2027, 1, 1, 12, 0, 0));
	/* Year ends in a zone ahead of UTC: local 2027-01-01 00:30. */
	assert_int_equal(next_daily(T(2026, 12, 31, 12, 0, 0), 0, 30,
	    "Europe/Copenhagen"), T(2026, 12, 31, 23, 30, 0));
	assert_int_equal(next_daily(T(2026, 12, 31, 12, 0, 0), 0, 30,
	    "Pacific/Kiritimati"), T(2026, 12, 31, 10, 30, 0) + 86400);
}

static void
test_daily_copenhagen_dst(void **state)
{
	const char *cph = "Europe/Copenhagen";
	time_t gap_end = T(2026, 3, 29, 1, 0, 0);	/* 03:00 CEST */

	(void)state;
	/* Spring forward: 02:00-03:00 does not exist on 2026-03-29. */
	assert_int_equal(next_daily(T(2026, 3, 28, 12, 0, 0), 2, 30, cph),
	    gap_end);
	assert_int_equal(next_daily(T(2026, 3, 28, 12, 0, 0), 2, 0, cph),
	    gap_end);
	assert_int_equal(next_daily(T(2026, 3, 28, 12, 0, 0), 3, 0, cph),
	    gap_end);
	assert_int_equal(next_daily(T(2026, 3, 28, 12, 0, 0), 1, 59, cph),
	    T(2026, 3, 29, 0, 59, 0));
	/* Once: after the gap's run comes the next day's 02:30 CEST. */
	assert_int_equal(next_daily(gap_end, 2, 30, cph),
	    T(2026, 3, 30, 0, 30, 0));
	assert_int_equal(next_daily(T(2026, 3, 28, 12, 0, 0), 12, 0, cph),
	    T(2026, 3, 28, 11, 0, 0) + 86400 - 3600);
	/* Fall back: 02:00-03:00 happens twice on 2026-10-25; first one. */
	assert_int_equal(next_daily(T(2026, 10, 24, 12, 0, 0), 2, 30, cph),
	    T(2026, 10, 25, 0, 30, 0));
	assert_int_equal(next_daily(T(2026, 10, 25, 0, 30, 0), 2, 30, cph),
	    T(2026, 10, 26, 1, 30, 0));
	/* Between the two occurrences: not again that day. */
	assert_int_equal(next_daily(T(2026, 10, 25, 1, 0, 0), 2, 30, cph),
	    T(2026, 10, 26, 1, 30, 0));
	assert_int_equal(next_daily(T(2026, 10, 25, 1, 45, 0), 2, 30, cph),
	    T(2026, 10, 26, 1, 30, 0));
}

static void
test_daily_new_york_dst(void **state)
{
	const char *ny = "America/New_York";

	(void)state;
	/* 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC). */
	assert_int_equal(next_daily(T(2026, 3, 7, 12, 0, 0), 2, 30, ny),
	    T(2026, 3, 8, 7, 0, 0));
	assert_int_equal(next_daily(T(2026, 3, 8, 7, 0, 0), 2, 30, ny),
	    T(2026, 3, 9, 6, 30, 0));
	/* 2026-11-01: 01:00-02:00 twice; first at 01:30 EDT. */
	assert_int_equal(next_daily(T(2026, 10, 31, 12, 0, 0), 1, 30, ny),
	    T(2026, 11, 1, 5, 30, 0));
	assert_int_equal(next_daily(T(2026, 11, 1, 5, 30, 0), 1, 30, ny),
	    T(2026, 11, 2, 6, 30, 0));
	/* Midnight runs on either side of the changes. */
	assert_int_equal(next_daily(T(2026, 3, 7, 12, 0, 0), 0, 0, ny),
	    T(2026, 3, 8, 5, 0, 0));
	assert_int_equal(next_daily(T(2026, 3, 8, 5, 0, 0), 0, 0, ny),
	    T(2026, 3, 9, 4, 0, 0));
}

/* Days since the epoch of a broken-down local date. */
static long
day_number(const struct tm *tm)
{
	return (long)(T(tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday, 0,
	    0, 0) / 86400);
}

/*
 * 400 consecutive runs from 2026-01-01: one per calendar day, each at
 * hh:mm local (or the end of the gap), whatever DST does.
 */
static void
check_400_days(const char *tz, int hh, int mm)
{
	char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
	time_t t = T(2026, 1, 1, 0, 0, 0), prev = 0;
	struct tm tm;
	long day = 0;
	int i, shifted = 0;

	setenv("TZ", tz, 1);
	tzset();
	for (i = 0; i < 400; i++) {
		t = next_daily(t, hh, mm, tz);
		assert_true(t > prev);
		assert_non_null(localtime_r(&t, &tm));
		if (i > 0)
			assert_int_equal(day_number(&tm), day + 1);
		day = day_number(&tm);
		if (tm.tm_hour != hh || tm.tm_min != mm) {
			/* Only a time inside the gap moves, to its end. */
			assert_int_equal(tm.tm_min, 0);
			assert_int_equal(tm.tm_hour, hh + 1);
			shifted++;
		}
		assert_int_equal(tm.tm_sec, 0);
		prev = t;
	}
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	/* 2026 and early 2027 have one spring-forward day in both zones. */
	assert_int_equal(shifted, hh == 2 ? 1 : 0);
}

static void
test_daily_400_days(void **state)
{
	(void)state;
	check_400_days("Europe/Copenhagen", 12, 0);
	check_400_days("America/New_York", 12, 0);
	check_400_days("Europe/Copenhagen", 2, 30);
	check_400_days("America/New_York", 2, 30);
	check_400_days("Australia/Lord_Howe", 12, 0);	/* 30-min DST */
}

static void
expect_next_error(time_t after, int hh, int mm, const char *tz,
    const char *want)
{
	time_t next = 42;
	char *cause = NULL;

	assert_int_equal(bc_sched_next_daily(after, hh, mm, tz, &next,
	    &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("cause \"%s\" lacks \"%s\"", cause, want);
	assert_int_equal(next, 42);
	free(cause);
	/* A NULL cause is fine too. */
	assert_int_equal(bc_sched_next_daily(after, hh, mm, tz, &next, NULL),
	    -1);
}

static void
test_daily_invalid(void **state)
{
	time_t now = T(2026, 6, 1, 0, 0, 0);

	(void)state;
	expect_next_error(now, 24, 0, NULL, "invalid time");
	expect_next_error(now, 12, 60, NULL, "invalid time");
	expect_next_error(now, -1, 0, NULL, "invalid time");
	expect_next_error(now, 0, -1, NULL, "invalid time");
	expect_next_error(-1, 12, 0, NULL, "out of range");
	expect_next_error(T(3001, 1, 1, 0, 0, 0), 12, 0, NULL, "out of range");
	expect_next_error(now, 12, 0, "Mars/Olympus", "unknown time zone");
	expect_next_error(now, 12, 0, "", "unknown time zone");
	expect_next_error(now, 12, 0, "Europe", "unknown time zone");
	expect_next_error(now, 12, 0, "Europe/", "unknown time zone");
	expect_next_error(now, 12, 0, "Europe//Copenhagen", "unknown");
	expect_next_error(now, 12, 0, "/etc/localtime", "unknown time zone");
	expect_next_error(now, 12, 0, "../../../etc/passwd", "unknown");
	expect_next_error(now, 12, 0, "zone.tab", "unknown time zone");
	expect_next_error(now, 12, 0, "CET-1CEST,M3.5.0,M10.5.0/3", "unknown");
	expect_next_error(now, 12, 0, "europe/copenhagen", "unknown");
	expect_next_error(now, 12, 0, "Bad\nZone", "\"Bad\\nZone\"");
}

static void
dummy_cb(void *arg)
{
	(void)arg;
}

static void
expect_daily_error(const char *hhmm, const char *tz, const char *want)
{
	char *cause = NULL;

	assert_null(bc_sched_daily(hhmm, tz, dummy_cb, NULL, &cause));
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("cause \"%s\" lacks \"%s\"", cause, want);
	free(cause);
	assert_null(bc_sched_daily(hhmm, tz, dummy_cb, NULL, NULL));
}

static void
test_sched_daily_invalid(void **state)
{
	char *cause = NULL;

	(void)state;
	expect_daily_error("25:00", NULL, "invalid time of day \"25:00\"");
	expect_daily_error("24:00", NULL, "invalid time of day");
	expect_daily_error("12:60", NULL, "invalid time of day \"12:60\"");
	expect_daily_error("12", NULL, "invalid time of day \"12\"");
	expect_daily_error("", NULL, "invalid time of day");
	expect_daily_error("1200", NULL, "invalid time of day");
	expect_daily_error("12:0", NULL, "invalid time of day");
	expect_daily_error("12:00 ", NULL, "invalid time of day");
	expect_daily_error(" 2:00", NULL, "invalid time of day");
	expect_daily_error("-1:00", NULL, "invalid time of day");
	expect_daily_error("ab:cd", NULL, "invalid time of day");
	expect_daily_error(NULL, NULL, "no time of day");
	expect_daily_error("12:00", "Mars/Olympus", "unknown time zone");
	assert_null(bc_sched_daily("12:00", NULL, NULL, NULL, &cause));
	assert_non_null(cause);
	free(cause);
}

/* The process's TZ, set or unset, is the same after the calls. */
static void
test_tz_unchanged(void **state)
{
	time_t summer = T(2026, 7, 1, 12, 0, 0);
	struct bc_sched *s;
	struct tm tm;

	(void)state;
	setenv("TZ", "America/New_York", 1);
	tzset();
	next_daily(summer, 2, 30, "Europe/Copenhagen");
	next_daily(summer, 2, 30, "Asia/Kolkata");
	next_daily(summer, 2, 30, NULL);
	assert_non_null(s = bc_sched_daily("07:15", "Asia/Tokyo", dummy_cb,
	    NULL, NULL));
	bc_sched_free(s);
	assert_string_equal(getenv("TZ"), "America/New_York");
	assert_non_null(localtime_r(&summer, &tm));
	assert_int_equal(tm.tm_gmtoff, -4 * 3600);
	assert_int_equal(tm.tm_hour, 8);

	unsetenv("TZ");
	tzset();
	next_daily(summer, 2, 30, "Europe/Copenhagen");
	assert_null(getenv("TZ"));

	setenv("TZ", "", 1);	/* glibc: UTC */
	tzset();
	next_daily(summer, 2, 30, "Europe/Copenhagen");
	assert_string_equal(getenv("TZ"), "");
	assert_non_null(localtime_r(&summer, &tm));
	assert_int_equal(tm.tm_gmtoff, 0);
	unsetenv("TZ");
	tzset();
}

/* A wall clock the tests set. */
static int64_t	fake_ms;
static int64_t	fake_offset;	/* real wall clock plus this */

static int64_t
fake_clock(void)
{
	return fake_ms;
}

static int64_t
offset_clock(void)
{
	return bc_wall_ms() + fake_offset;
}

/* The re-check when the timer fires, with the wall clock stepped. */
static void
test_daily_recheck(void **state)
{
	const char *cph = "Europe/Copenhagen";
	struct bc_sched *s;
	int n = 0;

	(void)state;
	bc_sched_set_clock(NULL, fake_clock);
	/* 2026-03-28 11:59:59 CET. */
	fake_ms = (int64_t)T(2026, 3, 28, 10, 59, 59) * 1000;
	assert_non_null(s = bc_sched_daily("12:00", cph, count_cb, &n, NULL));
	assert_int_equal(bc_sched_next_ms(s), 1000);
	/* Stepped back an hour: fired early, re-armed, not run. */
	fake_ms = (int64_t)T(2026, 3, 28, 10, 0, 0) * 1000;
	bc_sched_recheck(s);
	assert_int_equal(n, 0);
	assert_int_equal(bc_sched_next_ms(s), 3600 * 1000);
	/* Due: runs; next is tomorrow 12:00 CEST, 23 hours away. */
	fake_ms = (int64_t)T(2026, 3, 28, 11, 0, 0) * 1000;
	bc_sched_recheck(s);
	assert_int_equal(n, 1);
	assert_int_equal(bc_sched_next_ms(s), 23 * 3600 * 1000);
	/* Same day again, and after a step back: never twice. */
	bc_sched_recheck(s);
	fake_ms = (int64_t)T(2026, 3, 28, 10, 59, 30) * 1000;
	bc_sched_recheck(s);
	fake_ms = (int64_t)T(2026, 3, 28, 11, 0, 10) * 1000;
	bc_sched_recheck(s);
	assert_int_equal(n, 1);
	/* A small step forward past the time: still runs that day. */
	fake_ms = (int64_t)T(2026, 3, 29, 10, 3, 0) * 1000;
	bc_sched_recheck(s);
	assert_int_equal(n, 2);
	assert_int_equal(bc_sched_next_ms(s),
	    ((int64_t)T(2026, 3, 30, 10, 0, 0) - T(2026, 3, 29, 10, 3, 0)) *
	    1000);
	/* A jump of days: one run, not one per missed day. */
	fake_ms = (int64_t)T(2026, 4, 3, 10, 30, 0) * 1000;
	bc_sched_recheck(s);
	bc_sched_recheck(s);
	assert_int_equal(n, 3);
	assert_int_equal(bc_sched_next_ms(s), 23 * 3600 * 1000 + 1800 * 1000);
	bc_sched_free(s);
}

/* Copy the file at from to to. */
static void
copy_file(const char *from, const char *to)
{
	char buf[4096];
	size_t n;
	FILE *in, *out;

	assert_non_null(in = fopen(from, "rb"));
	assert_non_null(out = fopen(to, "wb"));
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

/*
 * The zone's file vanishes (a tzdata upgrade) right after a run, and the
 * clock steps back: no next time can be computed meanwhile, and once it
 * can, the day already run is not run again.
 */
static void
test_daily_zone_vanishes(void **state)
{
	const char *tmp = getenv("TMPDIR");
	char dir[512], file[600];
	struct bc_sched *s;
	int n = 0;

	(void)state;
	assert_non_null(tmp);
	snprintf(dir, sizeof dir, "%s/zoneinfo", tmp);
	mkdir(dir, 0700);
	snprintf(file, sizeof file, "%s/Testland", dir);
	copy_file("/usr/share/zoneinfo/Europe/Copenhagen", file);
	setenv("TZDIR", dir, 1);
	bc_sched_set_clock(NULL, fake_clock);
	fake_ms = (int64_t)T(2026, 3, 28, 10, 59, 59) * 1000;
	assert_non_null(s = bc_sched_daily("12:00", "Testland", count_cb, &n,
	    NULL));
	assert_int_equal(bc_sched_next_ms(s), 1000);
	assert_int_equal(unlink(file), 0);
	fake_ms = (int64_t)T(2026, 3, 28, 11, 0, 0) * 1000;
	bc_sched_recheck(s);
	assert_int_equal(n, 1);
	assert_int_equal(bc_sched_next_ms(s), -1);
	fake_ms = (int64_t)T(2026, 3, 28, 10, 59, 30) * 1000;
	bc_sched_recheck(s);
	assert_int_equal(bc_sched_next_ms(s), -1);
	copy_file("/usr/share/zoneinfo/Europe/Copenhagen", file);
	bc_sched_recheck(s);
	assert_int_equal(n, 1);
	assert_int_equal(bc_sched_next_ms(s), (23 * 3600 + 30) * 1000);
	fake_ms = (int64_t)T(2026, 3, 28, 11, 0, 5) * 1000;
	bc_sched_recheck(s);
	assert_int_equal(n, 1);
	bc_sched_free(s);
	unsetenv("TZDIR");
	unlink(file);
	rmdir(dir);
}

static void
daily_stop_cb(void *arg)
{
	(*(int *)arg)++;
	bc_ev_stop();
}

/* A daily job in the running loop, its time 30 ms ahead. */
static void
test_daily_in_loop(void **state)
{
	struct bc_sched *s;
	int64_t target = (int64_t)T(2026, 7, 1, 10, 0, 0) * 1000;
	int n = 0;

	(void)state;
	fake_offset = target - 30 - bc_wall_ms();
	bc_sched_set_clock(NULL, offset_clock);
	/* 12:00 CEST is 10:00 UTC. */
	s = bc_sched_daily("12:00", "Europe/Copenhagen", daily_stop_cb, &n,
	    NULL);
	assert_non_null(s);
	assert_true(bc_sched_next_ms(s) <= 30);
	run_loop();
	assert_int_equal(n, 1);
	assert_true(bc_sched_next_ms(s) > 23 * 3600 * 1000);
	bc_sched_free(s);
}

/* bc_ev_free() with live timers and jobs; the handles survive it. */
static void
test_free_with_pending(void **state)
{
	static char letter = 'X';
	struct bc_timer *t;
	struct bc_sched *s, *d;
	int n = 0;

	(void)state;
	t = bc_timer_new(mark, &letter);
	bc_timer_start(t, 1000);
	s = bc_sched_every(1000, count_cb, &n);
	d = bc_sched_daily("04:00", NULL, count_cb, &n, NULL);
	assert_non_null(d);
	assert_true(bc_timer_pending(t));
	bc_ev_free();
	assert_false(bc_timer_pending(t));
	/* A new base; the old timer starts on it. */
	assert_int_equal(bc_ev_init(), 0);
	bc_timer_start(t, 0);
	run_loop();
	assert_string_equal(order, "X");
	assert_int_equal(n, 0);
	bc_sched_free(s);
	bc_sched_free(d);
	bc_timer_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T_(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T_(test_init_free),
		T_(test_shared_base),
		T_(test_timers_order),
		T_(test_timer_stop_restart),
		T_(test_timer_repeat_and_self_free),
		T_(test_stop_from_callback),
		T_(test_sighup),
		T_(test_sigterm_default),
		T_(test_signal_invalid),
		T_(test_libevent_log),
		T_(test_sched_every),
		T_(test_sched_every_skip),
		T_(test_sched_self_free),
		T_(test_every_next),
		T_(test_daily_utc),
		T_(test_daily_copenhagen_dst),
		T_(test_daily_new_york_dst),
		T_(test_daily_400_days),
		T_(test_daily_invalid),
		T_(test_sched_daily_invalid),
		T_(test_tz_unchanged),
		T_(test_daily_recheck),
		T_(test_daily_zone_vanishes),
		T_(test_daily_in_loop),
		T_(test_free_with_pending),
#undef T_
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
