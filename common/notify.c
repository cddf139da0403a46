/* Readiness and heartbeat lines to botd over BOTD_NOTIFY_FD. */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <botcommon/log.h>
#include <botcommon/notify.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define NOTIFY_FD_ENV		"BOTD_NOTIFY_FD"
#define NOTIFY_WATCHDOG_ENV	"BOTD_WATCHDOG_SEC"
#define NOTIFY_WATCHDOG_MAX	86400.0		/* seconds */
#define NOTIFY_LINE_MAX		256

static struct {
	int		 fd;		/* -1: notification off */
	int		 sock;		/* send(2), else write(2) */
	int64_t		 watchdog_ms;
	int		 ready_sent;
	uint64_t	 dropped;
	struct event	*timer;
	char		 pend[NOTIFY_LINE_MAX]; /* rest of a short send */
	size_t		 npend;
} N = { -1, 0, 0, 0, 0, NULL, { 0 }, 0 };

/* Parse a decimal fd and check it is a writable pipe or socket. */
static int
notify_parse_fd(const char *s, int *sock)
{
	struct stat st;
	long v = 0;
	int fl;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++)
		if ((v = v * 10 + (s[i] - '0')) > INT_MAX)
			return -1;
	if (i == 0 || s[i] != '\0')
		return -1;
	if ((fl = fcntl((int)v, F_GETFL)) == -1 || fstat((int)v, &st) == -1)
		return -1;
	if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
		return -1;
	if ((fl & O_ACCMODE) == O_RDONLY)
		return -1;
	*sock = S_ISSOCK(st.st_mode);
	return (int)v;
}

/* Parse seconds ("30", "2.5") into ms; 0 means none. */
static int
notify_parse_interval(const char *s, int64_t *ms)
{
	char *end;
	double v;

	if (*s == '\0' || s[strspn(s, "0123456789.")] != '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || errno != 0 || !isfinite(v) ||
	    v > NOTIFY_WATCHDOG_MAX)
		return -1;
	*ms = (int64_t)llround(v * 1000);
	if (*ms == 0 && v > 0)
		*ms = 1;
	return 0;
}

int
bc_notify_init(void)
{
	const char *fdenv, *wdenv;
	char *fds = NULL, *wds = NULL;
	int fd, sock = 0, rc = 0;

	bc_notify_close();
	if ((fdenv = getenv(NOTIFY_FD_ENV)) != NULL)
		fds = xstrdup(fdenv);
	if ((wdenv = getenv(NOTIFY_WATCHDOG_ENV)) != NULL)
		wds = xstrdup(wdenv);
	unsetenv(NOTIFY_FD_ENV);
	unsetenv(NOTIFY_WATCHDOG_ENV);
	if (fds == NULL)
		goto out;
	if ((fd = notify_parse_fd(fds, &sock)) == -1) {
		log_warnx("notify: %s=\"%s\" is not a writable pipe or socket; "
		    "notification off", NOTIFY_FD_ENV, fds);
		rc = -1;
		goto out;
	}
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 || (!sock &&
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)) {
		log_warn("notify: fcntl on fd %d; notification off", fd);
		rc = -1;
		goto out;
	}
	N.fd = fd;
	N.sock = sock;
	if (wds != NULL && notify_parse_interval(wds, &N.watchdog_ms) == -1) {
		log_warnx("notify: %s=\"%s\" is not a number of seconds; "
		    "heartbeats off", NOTIFY_WATCHDOG_ENV, wds);
		N.watchdog_ms = 0;
		rc = -1;
	}
out:
	free(fds);
	free(wds);
	return rc;
}

int
bc_notify_enabled(void)
{
	return N.fd != -1;
}

int64_t
bc_notify_watchdog_ms(void)
{
	return N.fd != -1 ? N.watchdog_ms : 0;
}

uint64_t
bc_notify_dropped(void)
{
	return N.dropped;
}

/* write(2) to the pipe with SIGPIPE blocked, swallowing one it raised. */
static ssize_t
notify_pipe_write(const char *buf, size_t len)
{
	struct timespec zero = { 0, 0 };
	sigset_t pipeset, old, pending;
	int was_pending, saved;
	ssize_t n;

	sigemptyset(&pipeset);
	sigaddset(&pipeset, SIGPIPE);
	sigemptyset(&pending);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipeset, &old);
	n = write(N.fd, buf, len);
	saved = errno;
	if (n == -1 && saved == EPIPE && !was_pending)
		while (sigtimedwait(&pipeset, NULL, &zero) == -1 &&
		    errno == EINTR)
			;
	sigprocmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

static ssize_t
notify_io(const char *buf, size_t len)
{
	if (N.sock)
		return send(N.fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	return notify_pipe_write(buf, len);
}

/* A write failed: drop the line, or turn notification off. */
static int
notify_failed(void)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ||
	    errno == EINTR) {
		N.dropped++;
		log_debug("notify: pipe to botd full, line dropped");
		return -1;
	}
	log_warn("notify: cannot write to botd; notification off");
	if (N.timer != NULL)
		event_del(N.timer);
	close(N.fd);
	N.fd = -1;
	N.npend = 0;
	return -1;
}

/* Write what is left of a short send. 0 when nothing is left. */
static int
notify_flush(void)
{
	ssize_t n;

	if (N.npend == 0)
		return 0;
	if ((n = notify_io(N.pend, N.npend)) == -1)
		return notify_failed();
	memmove(N.pend, N.pend + n, N.npend - (size_t)n);
	N.npend -= (size_t)n;
	if (N.npend > 0) {
		N.dropped++;
		return -1;
	}
	return 0;
}

/* Send one line (at most NOTIFY_LINE_MAX bytes). */
static int
notify_send(const char *line, size_t len)
{
	ssize_t n;

	if (N.fd == -1)
		return 0;
	if (notify_flush() == -1)
		return -1;
	if ((n = notify_io(line, len)) == -1)
		return notify_failed();
	if ((size_t)n < len) {
		/* A stream socket took part of it: keep lines whole. */
		N.npend = len - (size_t)n;
		memcpy(N.pend, line + n, N.npend);
	}
	return 0;
}

int
bc_notify_ready(void)
{
	if (N.ready_sent || N.fd == -1)
		return 0;
	if (notify_send("READY=1\n", 8) == -1)
		return -1;
	N.ready_sent = 1;
	return 0;
}

int
bc_notify_watchdog(void)
{
	return notify_send("WATCHDOG=1\n", 11);
}

int
bc_notify_status(const char *fmt, ...)
{
	char line[NOTIFY_LINE_MAX], *text;
	const unsigned char *p;
	size_t len, i = 0, n, o = 7;
	va_list ap;

	if (N.fd == -1)
		return 0;
	va_start(ap, fmt);
	xvasprintf(&text, fmt, ap);
	va_end(ap);
	memcpy(line, "STATUS=", 7);
	p = (const unsigned char *)text;
	len = strlen(text);
	while (i < len) {
		if ((n = bc_utf8_seqlen(p + i, len - i)) == 0)
			n = 1;
		if (o - 7 + n > BC_NOTIFY_STATUS_MAX)
			break;
		if (n > 1)
			memcpy(line + o, text + i, n);
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			line[o] = p[i] < 0x80 ? ' ' : '?';
		else
			line[o] = (char)p[i];
		o += n;
		i += n;
	}
	line[o++] = '\n';
	free(text);
	return notify_send(line, o);
}

static void
notify_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	bc_notify_watchdog();
}

int
bc_notify_start_watchdog(struct event_base *base)
{
	struct timeval tv;
	int64_t half;

	if (N.fd == -1 || N.watchdog_ms == 0)
		return 0;
	if (N.timer != NULL)
		event_free(N.timer);
	half = N.watchdog_ms / 2 > 0 ? N.watchdog_ms / 2 : 1;
	tv.tv_sec = (time_t)(half / 1000);
	tv.tv_usec = (suseconds_t)(half % 1000) * 1000;
	N.timer = event_new(base, -1, EV_PERSIST, notify_timer_cb, NULL);
	if (N.timer == NULL || event_add(N.timer, &tv) == -1) {
		log_warnx("notify: cannot start the heartbeat timer");
		if (N.timer != NULL)
			event_free(N.timer);
		N.timer = NULL;
		return -1;
	}
	return 0;
}

void
bc_notify_close(void)
{
	if (N.timer != NULL)
		event_free(N.timer);
	if (N.fd != -1)
		close(N.fd);
	N.fd = -1;
	N.timer = NULL;
	N.sock = 0;
	N.watchdog_ms = 0;
	N.ready_sent = 0;
	N.dropped = 0;
	N.npend = 0;
}
