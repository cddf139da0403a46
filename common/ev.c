/* The event loop: libevent base, signals, timers and the scheduler. */

#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define EV_TIMER_MAX_MS		((int64_t)1000 * 86400 * 365 * 100)
#define SCHED_EVERY_MAX_MS	((int64_t)1 << 40)
#define SCHED_RECHECK_MS	60000	/* daily jobs re-read the wall clock */
#define ZONE_DIR		"/usr/share/zoneinfo"
#define ZONE_NAME_MAX		128
#define ZONE_TIME_MAX		((time_t)32503680000)	/* 3000-01-01 */

struct bc_timer {
	struct event		*ev;	/* NULL until started on a base */
	bc_timer_cb		*cb;
	void			*arg;
	TAILQ_ENTRY(bc_timer)	 entry;
};
TAILQ_HEAD(ev_timers, bc_timer);

struct ev_sig {
	struct event	*ev;	/* created on first use, kept until free */
	bc_ev_signal_cb	*cb;	/* NULL: the default action */
	void		*arg;
};

static struct {
	struct event_base	*base;
	int			 stop;	/* bc_ev_stop() while not running */
	int			 running;
	struct ev_sig		 sigs[NSIG];
	struct ev_timers	 timers;
} E = { .timers = TAILQ_HEAD_INITIALIZER(E.timers) };

enum sched_kind {
	SCHED_EVERY,
	SCHED_DAILY,
};

struct bc_sched {
	enum sched_kind	 kind;
	struct bc_timer	*timer;
	bc_sched_cb	*cb;
	void		*arg;
	int		 running;	/* inside cb */
	int		 dead;		/* freed from inside cb */
	int64_t		 interval_ms;	/* every */
	int64_t		 target_ms;	/* every: monotonic target */
	int		 hh, mm;	/* daily */
	char		*tz;		/* daily: IANA name, NULL = UTC */
	int		 have_due;	/* daily: due is valid */
	time_t		 due;		/* daily: next run, Unix seconds */
	time_t		 last;		/* daily: slot last run, or creation */
};

static int64_t (*sched_mono)(void) = bc_now_ms;
static int64_t (*sched_wall)(void) = bc_wall_ms;

static void
ev_cause(char **cause, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
ev_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	xvasprintf(cause, fmt, ap);
	va_end(ap);
}

/* libevent's own messages. */
static void
ev_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* ---------------------------------------------------------------- signals */

/* Can signo be delivered as an event? */
static int
ev_signal_ok(int signo)
{
	if (signo <= 0 || signo >= NSIG)
		return 0;
	switch (signo) {
	case SIGKILL:
	case SIGSTOP:
	case SIGSEGV:
	case SIGBUS:
	case SIGFPE:
	case SIGILL:
	case SIGTRAP:
	case SIGABRT:
	case SIGSYS:
		return 0;
	}
	return 1;
}

static void
ev_signal_fire(evutil_socket_t fd, short what, void *arg)
{
	struct ev_sig *s = &E.sigs[fd];

	(void)what;
	(void)arg;
	if (s->cb != NULL) {
		s->cb((int)fd, s->arg);
		return;
	}
	log_info("stopping on %s", fd == SIGINT ? "SIGINT" : "SIGTERM");
	bc_ev_stop();
}

/* Make sure the event for signo exists and is added. */
static int
ev_signal_arm(int signo)
{
	struct ev_sig *s = &E.sigs[signo];

	if (s->ev == NULL &&
	    (s->ev = evsignal_new(E.base, signo, ev_signal_fire, NULL)) == NULL)
		goto fail;
	if (!evsignal_pending(s->ev, NULL) && evsignal_add(s->ev, NULL) == -1)
		goto fail;
	return 0;
fail:
	log_warnx("unable to handle signal %d", signo);
	return -1;
}

int
bc_ev_on_signal(int signo, bc_ev_signal_cb *cb, void *arg)
{
	struct ev_sig *s;

	if (!ev_signal_ok(signo)) {
		errno = EINVAL;
		return -1;
	}
	if (bc_ev_init() == -1)
		return -1;
	s = &E.sigs[signo];
	s->cb = cb;
	s->arg = cb != NULL ? arg : NULL;
	if (cb != NULL || signo == SIGTERM || signo == SIGINT)
		return ev_signal_arm(signo);
	/* libevent restores the disposition saved when it was added. */
	if (s->ev != NULL && evsignal_del(s->ev) == -1)
		return -1;
	return 0;
}

static void
ev_signals_free(void)
{
	int i;

	for (i = 0; i < NSIG; i++) {
		if (E.sigs[i].ev != NULL)
			event_free(E.sigs[i].ev);
		E.sigs[i].ev = NULL;
		E.sigs[i].cb = NULL;
		E.sigs[i].arg = NULL;
	}
}

/* ---------------------------------------------------------------- base */

int
bc_ev_init(void)
{
	struct event_config *cfg;

	if (E.base != NULL)
		return 0;
	event_set_log_callback(ev_log);
	if ((cfg = event_config_new()) == NULL)
		goto fail;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	E.base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (E.base == NULL)
		goto fail;
	E.stop = 0;
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		log_warn("unable to ignore SIGPIPE");
	if (ev_signal_arm(SIGTERM) == -1 || ev_signal_arm(SIGINT) == -1) {
		bc_ev_free();
		return -1;
	}
	return 0;
fail:
	log_warnx("unable to create the event base");
	return -1;
}

struct event_base *
bc_ev_base(void)
{
	return E.base;
}

void
bc_ev_free(void)
{
	struct bc_timer *t;

	if (E.base == NULL)
		return;
	ev_signals_free();
	for (t = TAILQ_FIRST(&E.timers); t != NULL;
	    t = TAILQ_NEXT(t, entry)) {
		if (t->ev != NULL)
			event_free(t->ev);
		t->ev = NULL;
	}
	event_base_free(E.base);
	E.base = NULL;
	E.stop = 0;
}

int
bc_ev_run(void)
{
	int rc;

	if (E.base == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (E.stop) {
		E.stop = 0;
		return 0;
	}
	E.running = 1;
	rc = event_base_dispatch(E.base);
	E.running = 0;
	E.stop = 0;
	return rc == -1 ? -1 : 0;
}

void
bc_ev_stop(void)
{
	if (E.base == NULL)
		return;
	if (!E.running)
		E.stop = 1;
	event_base_loopbreak(E.base);
}

/* ---------------------------------------------------------------- timers */

static void
ev_timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct bc_timer *t = arg;

	(void)fd;
	(void)what;
	t->cb(t->arg);	/* last: it may free t */
}

struct bc_timer *
bc_timer_new(bc_timer_cb *cb, void *arg)
{
	struct bc_timer *t;

	if (cb == NULL) {
		errno = EINVAL;
		return NULL;
	}
	t = xcalloc(1, sizeof *t);
	t->cb = cb;
	t->arg = arg;
	TAILQ_INSERT_TAIL(&E.timers, t, entry);
	return t;
}

void
bc_timer_start(struct bc_timer *t, int64_t ms)
{
	struct timeval tv;

	if (t == NULL)
		return;
	if (t->ev == NULL) {
		if (bc_ev_init() == -1)
			return;
		if ((t->ev = evtimer_new(E.base, ev_timer_fire, t)) == NULL) {
			log_warnx("unable to create a timer");
			return;
		}
	}
	if (ms < 0)
		ms = 0;
	if (ms > EV_TIMER_MAX_MS)
		ms = EV_TIMER_MAX_MS;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (evtimer_add(t->ev, &tv) == -1)
		log_warnx("unable to start a timer");
}

void
bc_timer_stop(struct bc_timer *t)
{
	if (t != NULL && t->ev != NULL)
		evtimer_del(t->ev);
}

int
bc_timer_pending(const struct bc_timer *t)
{
	if (t == NULL || t->ev == NULL)
		return 0;
	return evtimer_pending(t->ev, NULL) ? 1 : 0;
}

void
bc_timer_free(struct bc_timer *t)
{
	if (t == NULL)
		return;
	if (t->ev != NULL)
		event_free(t->ev);
	TAILQ_REMOVE(&E.timers, t, entry);
	free(t);
}

/* ---------------------------------------------------------------- zones */

/*
 * A time zone for the length of one computation: TZ points at the zone's
 * file and the process's TZ is restored by zone_leave().
 */
struct zone {
	int	 utc;
	int	 had_tz;
	char	*saved;
};

/* An IANA name: components of [A-Za-z0-9_+-.], none empty or dotted. */
static int
zone_name_ok(const char *tz)
{
	const char *p;
	int start = 1;

	if (*tz == '\0' || strlen(tz) > ZONE_NAME_MAX)
		return 0;
	for (p = tz; *p != '\0'; p++) {
		if (start && (*p == '/' || *p == '.'))
			return 0;
		start = *p == '/';
		if (start || (*p >= 'a' && *p <= 'z') ||
		    (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '_' || *p == '+' || *p == '-' || *p == '.')
			continue;
		return 0;
	}
	return !start;
}

/* The path of tz's TZif file, or NULL with *cause. Caller frees. */
static char *
zone_path(const char *tz, char **cause)
{
	const char *dir = getenv("TZDIR");
	char *path = NULL, *esc, magic[4];
	struct stat st;
	int fd = -1;

	if (dir == NULL || *dir != '/')
		dir = ZONE_DIR;
	if (!zone_name_ok(tz))
		goto fail;
	xasprintf(&path, "%s/%s", dir, tz);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    read(fd, magic, sizeof magic) != (ssize_t)sizeof magic ||
	    memcmp(magic, "TZif", sizeof magic) != 0)
		goto fail;
	close(fd);
	return path;
fail:
	if (fd != -1)
		close(fd);
	free(path);
	esc = log_escape(tz, strlen(tz));
	ev_cause(cause, "unknown time zone \"%s\"", esc);
	free(esc);
	return NULL;
}

static int
zone_enter(struct zone *z, const char *tz, char **cause)
{
	const char *old;
	char *path, *val;
	int rc;

	memset(z, 0, sizeof *z);
	if (tz == NULL) {
		z->utc = 1;
		return 0;
	}
	if ((path = zone_path(tz, cause)) == NULL)
		return -1;
	if ((old = getenv("TZ")) != NULL) {
		z->had_tz = 1;
		z->saved = xstrdup(old);
	}
	xasprintf(&val, ":%s", path);
	rc = setenv("TZ", val, 1);
	free(val);
	free(path);
	if (rc == -1) {
		ev_cause(cause, "unable to set TZ: %s", strerror(errno));
		free(z->saved);
		return -1;
	}
	tzset();
	return 0;
}

static void
zone_leave(struct zone *z)
{
	if (z->utc)
		return;
	if (z->had_tz)
		setenv("TZ", z->saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(z->saved);
	z->saved = NULL;
}

/* Broken-down local time of t in z. */
static int
zone_tm(const struct zone *z, time_t t, struct tm *tm)
{
	if (z->utc)
		return gmtime_r(&t, tm) != NULL ? 0 : -1;
	return localtime_r(&t, tm) != NULL ? 0 : -1;
}

/* The wall clock at t as naive seconds (t plus the UTC offset). */
static int
zone_wall(const struct zone *z, time_t t, time_t *wall, long *off)
{
	struct tm tm;

	if (zone_tm(z, t, &tm) == -1)
		return -1;
	*off = tm.tm_gmtoff;
	*wall = t + tm.tm_gmtoff;
	return 0;
}

/*
 * Inside a gap: the first instant in (lo, hi] at which the wall clock
 * reads w or later. The wall clock only moves forward there.
 */
static int
zone_gap(const struct zone *z, time_t w, time_t lo, time_t hi, time_t *out)
{
	time_t mid, wl, wh;
	long off;

	if (zone_wall(z, lo, &wl, &off) == -1 ||
	    zone_wall(z, hi, &wh, &off) == -1 || wl >= w || wh < w)
		return -1;
	while (hi - lo > 1) {
		mid = lo + (hi - lo) / 2;
		if (zone_wall(z, mid, &wl, &off) == -1)
			return -1;
		if (wl >= w)
			hi = mid;
		else
			lo = mid;
	}
	*out = hi;
	return 0;
}

/*
 * The instant a day's run happens, w being that day's HH:MM as naive
 * seconds: the earliest instant whose wall clock reads w (the first of
 * two on a fall-back day), or the end of the gap when none does. The
 * offsets in use within 18 hours of w are the candidates.
 */
static int
zone_resolve(const struct zone *z, time_t w, time_t *out)
{
	long offs[13] = { 0 }, off, omin, omax;
	time_t c, cw, best = 0;
	int i, k, n = 0, found = 0;

	for (k = -6; k <= 6; k++) {
		if (zone_wall(z, w + k * 3 * 3600, &cw, &off) == -1)
			return -1;
		for (i = 0; i < n && offs[i] != off; i++)
			continue;
		if (i == n)
			offs[n++] = off;
	}
	omin = omax = offs[0];
	for (i = 0; i < n; i++) {
		omin = offs[i] < omin ? offs[i] : omin;
		omax = offs[i] > omax ? offs[i] : omax;
		c = w - offs[i];
		if (zone_wall(z, c, &cw, &off) == -1)
			return -1;
		if (cw == w && (!found || c < best)) {
			best = c;
			found = 1;
		}
	}
	if (found) {
		*out = best;
		return 0;
	}
	return zone_gap(z, w, w - omax, w - omin, out);
}

int
bc_sched_next_daily(time_t after, int hh, int mm, const char *tz,
    time_t *next, char **cause)
{
	struct zone z;
	struct tm tm;
	time_t w, r;
	int k;

	if (hh < 0 || hh > 23 || mm < 0 || mm > 59) {
		ev_cause(cause, "invalid time of day %d:%d", hh, mm);
		return -1;
	}
	if (after < 0 || after > ZONE_TIME_MAX) {
		ev_cause(cause, "time %lld out of range", (long long)after);
		return -1;
	}
	if (zone_enter(&z, tz, cause) == -1)
		return -1;
	if (zone_tm(&z, after, &tm) == -1)
		goto fail;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = 0;
	tm.tm_isdst = 0;
	if ((w = timegm(&tm)) == (time_t)-1)
		goto fail;
	for (k = -1; k <= 2; k++) {
		if (zone_resolve(&z, w + k * 86400, &r) == -1)
			goto fail;
		if (r > after) {
			zone_leave(&z);
			*next = r;
			return 0;
		}
	}
fail:
	zone_leave(&z);
	ev_cause(cause, "unable to compute the next %02d:%02d in \"%s\"",
	    hh, mm, tz != NULL ? tz : "UTC");
	return -1;
}

/* ---------------------------------------------------------------- sched */

int64_t
bc_sched_every_next(int64_t prev, int64_t interval_ms, int64_t now)
{
	int64_t next = prev + interval_ms;

	if (interval_ms <= 0)
		return now;
	if (next < now)
		next += (now - next + interval_ms - 1) / interval_ms *
		    interval_ms;
	return next;
}

void
bc_sched_set_clock(int64_t (*mono_ms)(void), int64_t (*wall_ms)(void))
{
	sched_mono = mono_ms != NULL ? mono_ms : bc_now_ms;
	sched_wall = wall_ms != NULL ? wall_ms : bc_wall_ms;
}

static void
sched_timer_fire(void *arg)
{
	bc_sched_recheck(arg);
}

static struct bc_sched *
sched_new(enum sched_kind kind, bc_sched_cb *cb, void *arg)
{
	struct bc_sched *s;

	s = xcalloc(1, sizeof *s);
	s->kind = kind;
	s->cb = cb;
	s->arg = arg;
	s->timer = bc_timer_new(sched_timer_fire, s);
	return s;
}

static void
sched_destroy(struct bc_sched *s)
{
	bc_timer_free(s->timer);
	free(s->tz);
	free(s);
}

void
bc_sched_free(struct bc_sched *s)
{
	if (s == NULL)
		return;
	if (s->running) {
		s->dead = 1;
		bc_timer_stop(s->timer);
		return;
	}
	sched_destroy(s);
}

/* Floor of ms / 1000, also for negative ms. */
static time_t
sched_secs(int64_t ms)
{
	return (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
}

/* Compute a daily job's next run after its last one and after now_ms. */
static int
sched_daily_plan(struct bc_sched *s, int64_t now_ms)
{
	time_t from = sched_secs(now_ms);
	char *cause = NULL;

	if (s->last > from)
		from = s->last;
	if (bc_sched_next_daily(from, s->hh, s->mm, s->tz, &s->due,
	    &cause) == -1) {
		log_warnx("daily job: %s", cause);
		free(cause);
		s->have_due = 0;
		return -1;
	}
	s->have_due = 1;
	return 0;
}

/* Arm the timer of a daily job for its due time, at most a minute away. */
static void
sched_daily_arm(struct bc_sched *s, int64_t now_ms)
{
	int64_t d = SCHED_RECHECK_MS;

	if (s->have_due && (int64_t)s->due * 1000 - now_ms < d)
		d = (int64_t)s->due * 1000 - now_ms;
	bc_timer_start(s->timer, d);
}

/* Is the job due? If so, advance its state; if not, re-arm its timer. */
static int
sched_due(struct bc_sched *s)
{
	int64_t now;

	if (s->kind == SCHED_EVERY) {
		now = sched_mono();
		if (now >= s->target_ms) {
			s->target_ms = bc_sched_every_next(s->target_ms,
			    s->interval_ms, now);
			return 1;
		}
		bc_timer_start(s->timer, s->target_ms - now);
		return 0;
	}
	now = sched_wall();
	if (!s->have_due)
		sched_daily_plan(s, now);
	if (!s->have_due || now < (int64_t)s->due * 1000) {
		sched_daily_arm(s, now);
		return 0;
	}
	s->last = s->due;
	sched_daily_plan(s, now);
	return 1;
}

/* Re-arm after the callback ran. */
static void
sched_rearm(struct bc_sched *s)
{
	int64_t now;

	if (s->kind == SCHED_EVERY) {
		/* A slow callback: skip the periods it overran. */
		now = sched_mono();
		s->target_ms = bc_sched_every_next(s->target_ms -
		    s->interval_ms, s->interval_ms, now);
		bc_timer_start(s->timer, s->target_ms - now);
		return;
	}
	sched_daily_arm(s, sched_wall());
}

void
bc_sched_recheck(struct bc_sched *s)
{
	if (s == NULL || s->running)
		return;
	if (!sched_due(s))
		return;
	s->running = 1;
	s->cb(s->arg);
	s->running = 0;
	if (s->dead) {
		sched_destroy(s);
		return;
	}
	sched_rearm(s);
}

struct bc_sched *
bc_sched_every(int64_t interval_ms, bc_sched_cb *cb, void *arg)
{
	struct bc_sched *s;

	if (interval_ms <= 0 || interval_ms > SCHED_EVERY_MAX_MS ||
	    cb == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (bc_ev_init() == -1)
		return NULL;
	s = sched_new(SCHED_EVERY, cb, arg);
	s->interval_ms = interval_ms;
	s->target_ms = sched_mono() + interval_ms;
	bc_timer_start(s->timer, interval_ms);
	return s;
}

/* Parse "HH:MM" strictly. */
static int
sched_parse_hhmm(const char *s, int *hh, int *mm, char **cause)
{
	char *esc;

	if (s == NULL) {
		ev_cause(cause, "no time of day");
		return -1;
	}
	if (strlen(s) != 5 || s[2] != ':' ||
	    s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' ||
	    s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		goto bad;
	*hh = (s[0] - '0') * 10 + (s[1] - '0');
	*mm = (s[3] - '0') * 10 + (s[4] - '0');
	if (*hh > 23)
		goto bad;
	return 0;
bad:
	esc = log_escape(s, strlen(s));
	ev_cause(cause, "invalid time of day \"%s\" (want HH:MM, 00:00 to "
	    "23:59)", esc);
	free(esc);
	return -1;
}

struct bc_sched *
bc_sched_daily(const char *hhmm, const char *tz, bc_sched_cb *cb,
    void *arg, char **cause)
{
	struct bc_sched *s;
	time_t due, from;
	int64_t now;
	int hh, mm;

	if (sched_parse_hhmm(hhmm, &hh, &mm, cause) == -1)
		return NULL;
	if (cb == NULL) {
		ev_cause(cause, "daily job %s without a callback", hhmm);
		return NULL;
	}
	now = sched_wall();
	from = sched_secs(now);
	if (bc_sched_next_daily(from, hh, mm, tz, &due, cause) == -1)
		return NULL;
	if (bc_ev_init() == -1) {
		ev_cause(cause, "unable to create the event base");
		return NULL;
	}
	s = sched_new(SCHED_DAILY, cb, arg);
	s->hh = hh;
	s->mm = mm;
	s->tz = tz != NULL ? xstrdup(tz) : NULL;
	s->last = from;
	s->due = due;
	s->have_due = 1;
	sched_daily_arm(s, now);
	return s;
}

int64_t
bc_sched_next_ms(const struct bc_sched *s)
{
	int64_t d;

	if (s == NULL)
		return -1;
	if (s->kind == SCHED_EVERY)
		d = s->target_ms - sched_mono();
	else if (!s->have_due)
		return -1;
	else
		d = (int64_t)s->due * 1000 - sched_wall();
	return d < 0 ? 0 : d;
}
