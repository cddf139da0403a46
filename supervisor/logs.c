/*
 * logs.c: each bot's stdout and stderr, through a pipe botd holds, into
 * timestamped, size-rotated files, with the last lines kept in memory.
 *
 * The read end is non-blocking and read by one libevent event in large
 * chunks (LOGS_CHUNK), at most LOGS_BUDGET bytes per wakeup so one flooding
 * bot cannot starve the others. Lines are formatted into a batch that goes
 * to the file with one write(2) per LOGS_BATCH bytes, per rotation, or per
 * wakeup, whichever comes first. All sinks are kept in one list so the
 * global cap can compare their rotated files; the byte count of all their
 * files is kept up to date in L.total.
 */
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include <botcommon/buf.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "supervisor.h"

#define LOGS_CHUNK	65536		/* one read(2) */
#define LOGS_BUDGET	(16 * LOGS_CHUNK) /* per wakeup, then yield */
#define LOGS_BATCH	65536		/* write(2) at this batch size */
#define LOGS_DRAIN_MAX	(4 * 1024 * 1024) /* read at close, at most */
#define LOGS_PIPE_SIZE	(256 * 1024)
#define LOGS_TS_LEN	24		/* 2026-11-22T03:04:05.123Z */
/* One formatted line: time, name, "[botd]: ", text, marker, newline. */
#define LOGS_FMT_MAX	(LOGS_TS_LEN + 1 + BOTD_NAME_MAX + 8 + \
			    LOGS_LINE_MAX + sizeof(LOGS_CUT_MARK) + 1)

/* NAME.log.K for K = 1 ... files. */
struct logs_rot {
	int		 exists;
	uint64_t	 size;
	int64_t		 mtime_ms;	/* wall clock */
};

/* One line of the tail; the allocation is reused. */
struct logs_line {
	char		*p;
	size_t		 len;
	size_t		 cap;
};

struct logsink {
	char		*dir;
	char		*name;
	char		*path;		/* DIR/NAME.log */
	uint64_t	 max_bytes;
	int		 files;
	struct logs_rot	*rot;		/* [files], rot[0] is NAME.log.1 */
	int		 rfd;		/* the pipe: non-blocking read end */
	int		 wfd;		/* the write end, for the children */
	struct event	*rev;
	int		 fd;		/* NAME.log, -1 while failing */
	uint64_t	 size;		/* of NAME.log */
	int		 failing;	/* from an error until writing works */
	int		 fail_errno;	/* the error that closed fd */
	uint64_t	 gap;		/* lines dropped since the last write */
	struct bc_buf	 out;		/* formatted lines not yet written */
	size_t		 out_lines;
	struct bc_buf	 part;		/* a partial line from the bot */
	int64_t		 part_ms;	/* monotonic: when it began */
	int		 discard;	/* skip up to the next newline */
	struct bc_timer	*flush_timer;	/* writes a lingering partial line */
	struct bc_timer	*retry_timer;	/* reopens after an error */
	struct logs_line tail[BOTD_TAIL_LINES];
	size_t		 tail_next;	/* slot of the next line */
	size_t		 tail_n;
	uint64_t	 dropped;
	logs_line_cb	*cb;
	void		*cbarg;
	LIST_ENTRY(logsink) entry;
};

static struct {
	LIST_HEAD(, logsink) sinks;
	uint64_t	 total;		/* bytes of all sinks' files */
	uint64_t	 total_max;	/* 0: no global cap */
	int64_t		 ts_ms;		/* the time ts shows */
	char		 ts[LOGS_TS_LEN + 1];
} L = { LIST_HEAD_INITIALIZER(L.sinks), 0, 0, -1, "" };

static char	logs_buf[LOGS_CHUNK];	/* one loop, one reader at a time */

static void	logs_flush(struct logsink *);
static void	logs_enforce_total(void);

/* Write v as n decimal digits at p. */
static void
logs_digits(char *p, int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* The time now as 2026-11-22T03:04:05.123Z, formatted once per ms. */
static const char *
logs_stamp(void)
{
	int64_t ms = bc_wall_ms();
	time_t t;
	struct tm tm;

	if (ms == L.ts_ms)
		return L.ts;
	L.ts_ms = ms;
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	memcpy(L.ts, "0000-00-00T00:00:00.000Z", LOGS_TS_LEN + 1);
	logs_digits(L.ts, (tm.tm_year + 1900) % 10000, 4);
	logs_digits(L.ts + 5, tm.tm_mon + 1, 2);
	logs_digits(L.ts + 8, tm.tm_mday, 2);
	logs_digits(L.ts + 11, tm.tm_hour, 2);
	logs_digits(L.ts + 14, tm.tm_min, 2);
	logs_digits(L.ts + 17, tm.tm_sec, 2);
	logs_digits(L.ts + 20, (int)(ms % 1000), 3);
	return L.ts;
}

/*
 * The number of leading bytes of p (n bytes) that need no escaping:
 * printable ASCII. Eight at a time: a word has none below 0x20 and none
 * at or above 0x7f when no byte of x - 0x20.., x + 0x01.. or x has its
 * high bit set (a borrow or carry only follows a byte already caught).
 */
static size_t
logs_plain(const unsigned char *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t x;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&x, p + i, 8);
		if (((x - 0x20 * ones) | (x + ones) | x) & high)
			break;
	}
	while (i < n && p[i] >= 0x20 && p[i] < 0x7f)
		i++;
	return i;
}

/*
 * Escape len bytes of s into dst, writing at most room bytes and never
 * splitting an escape or a UTF-8 sequence. Sets *used to the bytes of s
 * consumed and returns the bytes written.
 */
static size_t
logs_escape(char *dst, size_t room, const char *s, size_t len, size_t *used)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0, n;
	char esc[4] = { '\\', 'x' };

	for (;;) {
		n = logs_plain(p + i, len - i < room - o ? len - i : room - o);
		memcpy(dst + o, p + i, n);
		o += n;
		i += n;
		if (i == len || o == room)
			break;
		if (p[i] >= 0x80 && (n = bc_utf8_seqlen(p + i, len - i)) > 0) {
			if (o + n > room)
				break;
			memcpy(dst + o, p + i, n);
			o += n;
			i += n;
			continue;
		}
		n = p[i] == '\t' || p[i] == '\r' ? 2 : 4;
		esc[1] = p[i] == '\t' ? 't' : p[i] == '\r' ? 'r' : 'x';
		esc[2] = hex[p[i] >> 4];
		esc[3] = hex[p[i] & 0xf];
		if (o + n > room)
			break;
		memcpy(dst + o, esc, n);
		o += n;
		i++;
	}
	*used = i;
	return o;
}

/* "TIME NAME: " or "TIME NAME[botd]: " into line; returns its length. */
static size_t
logs_prefix(const struct logsink *s, char *line, int botd)
{
	size_t n = LOGS_TS_LEN, nl = strlen(s->name);

	memcpy(line, logs_stamp(), LOGS_TS_LEN);
	line[n++] = ' ';
	memcpy(line + n, s->name, nl);
	n += nl;
	if (botd) {
		memcpy(line + n, "[botd]", 6);
		n += 6;
	}
	line[n++] = ':';
	line[n++] = ' ';
	return n;
}

/* Keep line (len bytes, no newline) as the newest line of the tail. */
static void
logs_tail_push(struct logsink *s, const char *line, size_t len)
{
	struct logs_line *t = &s->tail[s->tail_next];

	/* Grow, or give back most of a slot a long line left big. */
	if (t->cap < len + 1 || (t->cap > 1024 && (len + 1) * 4 < t->cap)) {
		t->cap = (len + 1 + 63) & ~(size_t)63;
		t->p = xrealloc(t->p, t->cap);
	}
	memcpy(t->p, line, len);
	t->p[len] = '\0';
	t->len = len;
	s->tail_next = (s->tail_next + 1) % BOTD_TAIL_LINES;
	if (s->tail_n < BOTD_TAIL_LINES)
		s->tail_n++;
}

/* NAME.log.k (k >= 1), or NAME.log for k == 0, into buf. */
static const char *
logs_rot_path(const struct logsink *s, int k, char *buf, size_t sz)
{
	if (k == 0)
		snprintf(buf, sz, "%s", s->path);
	else
		snprintf(buf, sz, "%s.%d", s->path, k);
	return buf;
}

/* Delete NAME.log.k and forget it. */
static void
logs_rot_unlink(struct logsink *s, int k)
{
	struct logs_rot *r = &s->rot[k - 1];
	char p[PATH_MAX];

	if (!r->exists)
		return;
	if (unlink(logs_rot_path(s, k, p, sizeof p)) == -1 && errno != ENOENT)
		log_warn("log %s: unable to delete '%s'", s->name, p);
	L.total -= r->size;
	r->exists = 0;
	r->size = 0;
}

/* Open NAME.log for appending and learn its size. 0, or -1 with errno. */
static int
logs_reopen(struct logsink *s)
{
	struct stat st;
	int fd, err;

	/* Never a symlink, never blocking on a FIFO someone put there. */
	fd = open(s->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK, 0640);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		err = errno;
		if (fstat(fd, &st) == 0)
			err = EINVAL;		/* not a regular file */
		close(fd);
		errno = err;
		return -1;
	}
	L.total -= s->size;
	s->size = (uint64_t)st.st_size;
	L.total += s->size;
	s->fd = fd;
	return 0;
}

/* Writing failed with err: close the file and retry later. */
static void
logs_fail(struct logsink *s, int err, const char *what)
{
	if (s->fd != -1) {
		close(s->fd);
		s->fd = -1;
	}
	if (!s->failing)
		log_warnx("log %s: unable to %s '%s': %s; dropping lines",
		    s->name, what, s->path, strerror(err));
	s->failing = 1;
	s->fail_errno = err;
	if (!bc_timer_pending(s->retry_timer))
		bc_timer_start(s->retry_timer, LOGS_RETRY_MS);
}

/* Count the newlines in p[0 .. len). */
static size_t
logs_count_lines(const char *p, size_t len)
{
	const char *end = p + len, *nl;
	size_t n = 0;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p = nl + 1;
	}
	return n;
}

/*
 * A write of the batch failed after done bytes: cut the file back to its
 * last complete line, count the lines that did not make it, close.
 */
static void
logs_write_failed(struct logsink *s, size_t done, int err)
{
	const char *nl;
	size_t keep = 0, lost;

	if (done > 0 && (nl = memrchr(s->out.p, '\n', done)) != NULL)
		keep = (size_t)(nl - s->out.p) + 1;
	if (keep < done && ftruncate(s->fd, (off_t)(s->size + keep)) == -1) {
		log_warn("log %s: unable to truncate '%s'", s->name, s->path);
		keep = done;
	}
	s->size += keep;
	L.total += keep;
	lost = s->out_lines - logs_count_lines(s->out.p, keep);
	s->dropped += lost;
	s->gap += lost;
	logs_fail(s, err, "write");
}

/* Write all of p; 0, or -1 with errno and *done set to what went out. */
static int
logs_write_all(int fd, const char *p, size_t len, size_t *done)
{
	ssize_t n;

	*done = 0;
	while (*done < len) {
		n = write(fd, p + *done, len - *done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return -1;
		}
		*done += (size_t)n;
	}
	return 0;
}

/* After a gap, say in the file how many lines are missing. 0 or -1. */
static int
logs_write_gap(struct logsink *s)
{
	char line[256];
	size_t done;
	int len;

	len = snprintf(line, sizeof line, "%s %s[botd]: %llu lines dropped "
	    "(%s)\n", logs_stamp(), s->name, (unsigned long long)s->gap,
	    strerror(s->fail_errno));
	if (logs_write_all(s->fd, line, (size_t)len, &done) == -1) {
		if (done > 0 && ftruncate(s->fd, (off_t)s->size) == -1)
			log_warn("log %s: unable to truncate", s->name);
		logs_fail(s, errno, "write");
		return -1;
	}
	s->size += done;
	L.total += done;
	log_warnx("log %s: writing again, %llu lines dropped", s->name,
	    (unsigned long long)s->gap);
	s->gap = 0;
	s->failing = 0;
	return 0;
}

/* NAME.log was deleted by hand: let go of it and start a new one. */
static void
logs_check_gone(struct logsink *s)
{
	struct stat st;

	if (fstat(s->fd, &st) == -1 || st.st_nlink > 0)
		return;
	close(s->fd);
	s->fd = -1;
	if (logs_reopen(s) == -1)
		logs_fail(s, errno, "open");
}

/* Write the batch with one write(2), or drop and count its lines. */
static void
logs_flush(struct logsink *s)
{
	size_t done;

	if (s->out.len == 0)
		return;
	if (s->fd != -1)
		logs_check_gone(s);
	if (s->fd != -1 && s->gap > 0)
		(void)logs_write_gap(s);	/* on failure, fd is closed */
	if (s->fd == -1) {
		s->dropped += s->out_lines;
		s->gap += s->out_lines;
	} else if (logs_write_all(s->fd, s->out.p, s->out.len, &done) == -1)
		logs_write_failed(s, done, errno);
	else {
		s->size += done;
		L.total += done;
		if (L.total_max > 0 && L.total > L.total_max)
			logs_enforce_total();
	}
	s->out_lines = 0;
	if (s->out.cap > 2 * LOGS_BATCH)
		bc_buf_release(&s->out);
	else
		bc_buf_reset(&s->out);
}

/*
 * Delete NAME.log.files and rename NAME.log.(files-1) ... NAME.log.1 one
 * up. A rename that fails deletes the file instead, so the caps hold.
 */
static void
logs_shift(struct logsink *s)
{
	char from[PATH_MAX], to[PATH_MAX];
	int k;

	if (s->files > 0)
		logs_rot_unlink(s, s->files);
	for (k = s->files - 1; k >= 1; k--) {
		if (!s->rot[k - 1].exists)
			continue;
		logs_rot_path(s, k, from, sizeof from);
		logs_rot_path(s, k + 1, to, sizeof to);
		if (rename(from, to) == -1) {
			log_warn("log %s: unable to rename '%s'", s->name,
			    from);
			logs_rot_unlink(s, k);
			continue;
		}
		s->rot[k] = s->rot[k - 1];
		s->rot[k - 1].exists = 0;
	}
}

/* Move NAME.log to NAME.log.1 (or delete it) and start a new one. */
static void
logs_rotate(struct logsink *s)
{
	char to[PATH_MAX];

	close(s->fd);
	s->fd = -1;
	logs_shift(s);
	if (s->files > 0 && rename(s->path,
	    logs_rot_path(s, 1, to, sizeof to)) == 0) {
		s->rot[0].exists = 1;
		s->rot[0].size = s->size;
		s->rot[0].mtime_ms = bc_wall_ms();
	} else {
		if (s->files > 0)
			log_warn("log %s: unable to rename '%s'", s->name,
			    s->path);
		if (unlink(s->path) == -1 && errno != ENOENT)
			log_warn("log %s: unable to delete '%s'", s->name,
			    s->path);
		L.total -= s->size;
	}
	s->size = 0;
	if (logs_reopen(s) == -1)
		logs_fail(s, errno, "open");
	if (L.total_max > 0 && L.total > L.total_max)
		logs_enforce_total();
}

/* Queue one formatted line (with its newline), rotating first if needed. */
static void
logs_add(struct logsink *s, const char *line, size_t len)
{
	if (s->fd != -1 && s->size + s->out.len + len > s->max_bytes &&
	    s->size + s->out.len > 0) {
		logs_flush(s);
		if (s->fd != -1)
			logs_rotate(s);
	}
	bc_buf_add(&s->out, line, len);
	s->out_lines++;
	if (s->out.len >= LOGS_BATCH)
		logs_flush(s);
}

/*
 * Format one line of text (len bytes, no newline) and hand it to the
 * batch, the tail and the callback. cut: more of the line was skipped.
 */
static void
logs_emit(struct logsink *s, const char *text, size_t len, int cut,
    int botd)
{
	char line[LOGS_FMT_MAX];
	size_t n, used;

	n = logs_prefix(s, line, botd);
	n += logs_escape(line + n, LOGS_LINE_MAX, text, len, &used);
	if (cut || used < len) {
		memcpy(line + n, LOGS_CUT_MARK, sizeof(LOGS_CUT_MARK) - 1);
		n += sizeof(LOGS_CUT_MARK) - 1;
	}
	line[n] = '\n';
	logs_add(s, line, n + 1);
	logs_tail_push(s, line, n);
	if (s->cb != NULL)
		s->cb(s->cbarg, line, n);
}

/* Take one chunk read from the pipe: whole lines out, a partial one held. */
static void
logs_input(struct logsink *s, const char *p, size_t len)
{
	const char *nl;
	size_t n, room;

	while (len > 0) {
		nl = memchr(p, '\n', len);
		n = nl != NULL ? (size_t)(nl - p) : len;
		if (s->discard)
			s->discard = nl == NULL;
		else if (s->part.len == 0 && nl != NULL && n <= LOGS_LINE_MAX)
			logs_emit(s, p, n, 0, 0);	/* the usual case */
		else {
			if (s->part.len == 0)
				s->part_ms = bc_now_ms();
			room = LOGS_LINE_MAX - s->part.len;
			bc_buf_add(&s->part, p, n < room ? n : room);
			if (n > room || nl != NULL) {
				logs_emit(s, s->part.p, s->part.len, n > room,
				    0);
				bc_buf_reset(&s->part);
				s->discard = n > room && nl == NULL;
			}
		}
		n += nl != NULL;
		p += n;
		len -= n;
	}
}

/* The pipe is readable: read in large chunks, within the budget. */
static void
logs_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct logsink *s = arg;
	size_t total = 0;
	ssize_t n;

	(void)what;
	while (total < LOGS_BUDGET) {
		n = read(fd, logs_buf, sizeof logs_buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* Cannot happen while we hold the write end. */
			log_warn("log %s: pipe read failed", s->name);
			event_del(s->rev);
			break;
		}
		logs_input(s, logs_buf, (size_t)n);
		total += (size_t)n;
		if ((size_t)n < sizeof logs_buf)
			break;			/* the pipe is empty */
	}
	logs_flush(s);
	if (s->part.len > 0 && !bc_timer_pending(s->flush_timer))
		bc_timer_start(s->flush_timer, LOGS_FLUSH_MS);
}

/* A partial line waited long enough: write it as a line. */
static void
logs_flush_cb(void *arg)
{
	struct logsink *s = arg;
	int64_t age;

	if (s->part.len == 0) {
		bc_buf_release(&s->part);
		return;
	}
	age = bc_now_ms() - s->part_ms;
	if (age < LOGS_FLUSH_MS) {
		bc_timer_start(s->flush_timer, LOGS_FLUSH_MS - age);
		return;
	}
	logs_emit(s, s->part.p, s->part.len, 0, 0);
	bc_buf_release(&s->part);
	logs_flush(s);
}

/* After an error: try to open the file again; say how much was lost. */
static void
logs_retry_cb(void *arg)
{
	struct logsink *s = arg;

	if (s->fd == -1 && logs_reopen(s) == -1) {
		s->fail_errno = errno;
		bc_timer_start(s->retry_timer, LOGS_RETRY_MS);
		return;
	}
	if (s->gap > 0)
		(void)logs_write_gap(s);	/* on failure, retries later */
	else if (s->failing) {
		log_warnx("log %s: writing again", s->name);
		s->failing = 0;
	}
}

/* Delete the oldest rotated files until all sinks fit the global cap. */
static void
logs_enforce_total(void)
{
	struct logsink *s, *old;
	int k, oldk = 0;

	while (L.total_max > 0 && L.total > L.total_max) {
		old = NULL;
		LIST_FOREACH(s, &L.sinks, entry) {
			for (k = s->files; k >= 1; k--)
				if (s->rot[k - 1].exists)
					break;
			if (k == 0)
				continue;
			if (old == NULL || s->rot[k - 1].mtime_ms <
			    old->rot[oldk - 1].mtime_ms) {
				old = s;
				oldk = k;
			}
		}
		if (old == NULL)
			return;		/* only live files left */
		logs_rot_unlink(old, oldk);
	}
}

/*
 * Learn the rotated files an earlier run left: keep NAME.log.1 ...
 * NAME.log.files, delete the ones above. 0, or -1 with errno.
 */
static int
logs_scan(struct logsink *s)
{
	char p[PATH_MAX], *end;
	size_t plen = strlen(s->name) + 5;	/* "NAME.log." */
	struct dirent *de;
	struct stat st;
	unsigned long k;
	DIR *d;

	if ((d = opendir(s->dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, s->name, plen - 5) != 0 ||
		    strncmp(de->d_name + plen - 5, ".log.", 5) != 0 ||
		    de->d_name[plen] < '1' || de->d_name[plen] > '9')
			continue;
		errno = 0;
		k = strtoul(de->d_name + plen, &end, 10);
		if (*end != '\0' || errno != 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", s->dir, de->d_name);
		if (k > (unsigned long)s->files) {
			if (unlink(p) == -1 && errno != ENOENT)
				log_warn("log %s: unable to delete '%s'",
				    s->name, p);
		} else if (lstat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			s->rot[k - 1].exists = 1;
			s->rot[k - 1].size = (uint64_t)st.st_size;
			s->rot[k - 1].mtime_ms = (int64_t)st.st_mtim.tv_sec *
			    1000 + st.st_mtim.tv_nsec / 1000000;
			L.total += s->rot[k - 1].size;
		}
	}
	closedir(d);
	return 0;
}

/* 0 if name is a bot name: [a-z0-9_-], 1 to BOTD_NAME_MAX bytes. */
static int
logs_name_ok(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789_-",
		    name[i]) == NULL)
			return -1;
	return i > 0 && i <= BOTD_NAME_MAX ? 0 : -1;
}

/* Check logs_open's arguments; 0, or -1 with *cause. */
static int
logs_check_args(const char *dir, const char *name, uint64_t max_bytes,
    int files, char **cause)
{
	if (dir == NULL || *dir == '\0' || strlen(dir) > PATH_MAX - 64)
		xasprintf(cause, "bad log directory");
	else if (name == NULL || logs_name_ok(name) == -1)
		xasprintf(cause, "bad bot name for a log");
	else if (max_bytes < LOGS_MIN_BYTES)
		xasprintf(cause, "log_max_bytes below %d", LOGS_MIN_BYTES);
	else if (files < 0 || files > LOGS_FILES_MAX)
		xasprintf(cause, "log_files not within 0 to %d",
		    LOGS_FILES_MAX);
	else
		return 0;
	return -1;
}

/* Create the pipe and its read event. 0, or -1 with *cause. */
static int
logs_pipe(struct logsink *s, char **cause)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) == -1) {
		xasprintf(cause, "log %s: pipe: %s", s->name, strerror(errno));
		return -1;
	}
	s->rfd = fds[0];
	s->wfd = fds[1];
	/* Only our end: the children's stdout stays blocking. */
	if (fcntl(s->rfd, F_SETFL, O_NONBLOCK) == -1) {
		xasprintf(cause, "log %s: fcntl: %s", s->name,
		    strerror(errno));
		return -1;
	}
	(void)fcntl(s->rfd, F_SETPIPE_SZ, LOGS_PIPE_SIZE);
	if (bc_ev_init() == -1 || (s->rev = event_new(bc_ev_base(), s->rfd,
	    EV_READ | EV_PERSIST, logs_read_cb, s)) == NULL ||
	    event_add(s->rev, NULL) == -1) {
		xasprintf(cause, "log %s: unable to add an event", s->name);
		return -1;
	}
	return 0;
}

/* Free everything the sink holds, writing nothing more. */
static void
logs_free(struct logsink *s)
{
	size_t i;

	if (s->rev != NULL)
		event_free(s->rev);
	if (s->rfd != -1)
		close(s->rfd);
	if (s->wfd != -1)
		close(s->wfd);
	if (s->fd != -1)
		close(s->fd);
	bc_timer_free(s->flush_timer);
	bc_timer_free(s->retry_timer);
	for (i = 0; i < BOTD_TAIL_LINES; i++)
		free(s->tail[i].p);
	bc_buf_release(&s->out);
	bc_buf_release(&s->part);
	free(s->rot);
	free(s->path);
	free(s->name);
	free(s->dir);
	free(s);
}

struct logsink *
logs_open(const char *dir, const char *name, uint64_t max_bytes, int files,
    logs_line_cb *cb, void *cbarg, char **cause)
{
	struct logsink *s;

	if (logs_check_args(dir, name, max_bytes, files, cause) == -1)
		return NULL;
	s = xcalloc(1, sizeof *s);
	s->rfd = s->wfd = s->fd = -1;
	s->dir = xstrdup(dir);
	s->name = xstrdup(name);
	xasprintf(&s->path, "%s/%s.log", dir, name);
	s->max_bytes = max_bytes;
	s->files = files;
	s->rot = xcalloc((size_t)files + 1, sizeof *s->rot);
	s->cb = cb;
	s->cbarg = cbarg;
	s->flush_timer = bc_timer_new(logs_flush_cb, s);
	s->retry_timer = bc_timer_new(logs_retry_cb, s);
	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		xasprintf(cause, "log %s: unable to create '%s': %s", name,
		    dir, strerror(errno));
		goto fail;
	}
	if (logs_reopen(s) == -1) {
		xasprintf(cause, "log %s: unable to open '%s': %s", name,
		    s->path, strerror(errno));
		goto fail;
	}
	LIST_INSERT_HEAD(&L.sinks, s, entry);
	if (logs_scan(s) == -1)
		log_warn("log %s: unable to read '%s'", name, dir);
	if (logs_pipe(s, cause) == -1) {
		LIST_REMOVE(s, entry);
		L.total -= logs_bytes(s);
		goto fail;
	}
	if (L.total_max > 0 && L.total > L.total_max)
		logs_enforce_total();
	return s;

fail:
	logs_free(s);
	return NULL;
}

void
logs_close(struct logsink *s)
{
	size_t total = 0;
	ssize_t n;

	if (s == NULL)
		return;
	/* What the bot wrote last, bounded: a grandchild may still write. */
	while (total < LOGS_DRAIN_MAX) {
		n = read(s->rfd, logs_buf, sizeof logs_buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		logs_input(s, logs_buf, (size_t)n);
		total += (size_t)n;
	}
	if (s->part.len > 0)
		logs_emit(s, s->part.p, s->part.len, 0, 0);
	logs_flush(s);
	LIST_REMOVE(s, entry);
	L.total -= logs_bytes(s);
	logs_free(s);
}

int
logs_write_fd(const struct logsink *s)
{
	return s->wfd;
}

const char *
logs_path(const struct logsink *s)
{
	return s->path;
}

void
logs_note(struct logsink *s, const char *fmt, ...)
{
	va_list ap;
	char *text;
	int len;

	va_start(ap, fmt);
	len = xvasprintf(&text, fmt, ap);
	va_end(ap);
	logs_emit(s, text, (size_t)len, 0, 1);
	free(text);
	logs_flush(s);
}

json_t *
logs_tail(const struct logsink *s, size_t n)
{
	const struct logs_line *t;
	json_t *a, *v;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	if (n > s->tail_n)
		n = s->tail_n;
	for (i = 0; i < n; i++) {
		t = &s->tail[(s->tail_next + BOTD_TAIL_LINES - n + i) %
		    BOTD_TAIL_LINES];
		/* Always valid UTF-8: logs_escape() made sure. */
		if ((v = json_stringn(t->p, t->len)) != NULL)
			json_array_append_new(a, v);
	}
	return a;
}

uint64_t
logs_bytes(const struct logsink *s)
{
	uint64_t n = s->size;
	int k;

	for (k = 0; k < s->files; k++)
		if (s->rot[k].exists)
			n += s->rot[k].size;
	return n;
}

uint64_t
logs_dropped(const struct logsink *s)
{
	return s->dropped;
}

void
logs_set_limits(struct logsink *s, uint64_t max_bytes, int files)
{
	int k;

	if (max_bytes < LOGS_MIN_BYTES)
		max_bytes = LOGS_MIN_BYTES;
	if (files < 0)
		files = 0;
	if (files > LOGS_FILES_MAX)
		files = LOGS_FILES_MAX;
	for (k = files + 1; k <= s->files; k++)
		logs_rot_unlink(s, k);
	s->rot = xreallocarray(s->rot, (size_t)files + 1, sizeof *s->rot);
	for (k = s->files; k < files; k++)
		memset(&s->rot[k], 0, sizeof s->rot[k]);
	s->files = files;
	s->max_bytes = max_bytes;
}

void
logs_set_total_max(uint64_t total_max)
{
	L.total_max = total_max;
	if (L.total_max > 0 && L.total > L.total_max)
		logs_enforce_total();
}
