/*
 * logs: botd's log sinks. Line format, partial and long lines, escaping,
 * the tail, rotation under a flood, the caps, write errors (a full tmpfs
 * and RLIMIT_FSIZE), the pipe surviving its writers, bad arguments.
 *
 * BOTFLEET_LONG_TESTS=1 makes the flood 2 GB instead of 50 MB.
 */
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <jansson.h>

#include <botcommon/buf.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "supervisor.h"

#define DEADLINE_MS	20000

/* What the line callback saw. */
struct rec {
	size_t		 n;
	struct bc_buf	 all;		/* every line + "\n", when keep */
	int		 keep;
	char		 last[LOGS_LINE_MAX + 128];
};

static struct event	*guard;		/* wakes the loop every 10 ms */
static char		 dir[PATH_MAX];	/* this test's log directory */
static int		 ndirs;

static void
rec_cb(void *arg, const char *line, size_t len)
{
	struct rec *r = arg;

	r->n++;
	if (r->keep) {
		bc_buf_add(&r->all, line, len);
		bc_buf_add(&r->all, "\n", 1);
	}
	if (len >= sizeof r->last)
		len = sizeof r->last - 1;
	memcpy(r->last, line, len);
	r->last[len] = '\0';
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static int
group_setup(void **state)
{
	struct timeval tv = { 0, 10000 };

	(void)state;
	log_init("test_logs", LOG_LEVEL_INFO, 0);
	if (bc_ev_init() == -1)
		return -1;
	guard = event_new(bc_ev_base(), -1, EV_PERSIST, guard_cb, NULL);
	return guard == NULL ? -1 : event_add(guard, &tv);
}

static int
group_teardown(void **state)
{
	(void)state;
	event_free(guard);
	bc_ev_free();
	return 0;
}

/* A fresh directory for each test. */
static int
setup(void **state)
{
	const char *t = getenv("TMPDIR");

	(void)state;
	snprintf(dir, sizeof dir, "%s/logs%d", t != NULL ? t : "/tmp",
	    ndirs++);
	return mkdir(dir, 0700);
}

/* One turn of the loop: returns after an event or at most 10 ms. */
static void
pump(void)
{
	assert_int_not_equal(event_base_loop(bc_ev_base(), EVLOOP_ONCE), -1);
}

/* Run the loop until the sink has read everything in its pipe. */
static void
drain(const struct logsink *s)
{
	int64_t deadline = bc_now_ms() + DEADLINE_MS;
	int n;

	for (;;) {
		assert_int_equal(ioctl(logs_write_fd(s), FIONREAD, &n), 0);
		if (n == 0)
			return;
		assert_true(bc_now_ms() < deadline);
		pump();
	}
}

/* Write all of p into the sink's pipe (the pipe holds it), then drain. */
static void
feed(const struct logsink *s, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(logs_write_fd(s), p, len < 32768 ? len : 32768);
		assert_true(n > 0);
		drain(s);
		p += n;
		len -= (size_t)n;
	}
}

static void
feeds(const struct logsink *s, const char *str)
{
	feed(s, str, strlen(str));
}

static char *
path_of(const char *name)
{
	char *p;

	xasprintf(&p, "%s/%s", dir, name);
	return p;
}

/* The contents of dir/name ("" when missing); caller frees. */
static char *
slurp(const char *name)
{
	struct bc_buf b = BC_BUF_ZERO;
	char buf[65536], *p = path_of(name);
	ssize_t n;
	int fd;

	bc_buf_str(&b, "");
	if ((fd = open(p, O_RDONLY)) != -1) {
		while ((n = read(fd, buf, sizeof buf)) > 0)
			bc_buf_add(&b, buf, (size_t)n);
		close(fd);
	}
	free(p);
	return bc_buf_detach(&b);
}

/* Size of dir/name, or -1 when missing. */
static long long
fsize(const char *name)
{
	struct stat st;
	char *p = path_of(name);
	int rc = stat(p, &st);

	free(p);
	return rc == 0 ? (long long)st.st_size : -1;
}

/* Bytes of all files in dir. */
static long long
dir_bytes(void)
{
	struct dirent *de;
	long long total = 0;
	DIR *d;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			total += fsize(de->d_name);
	closedir(d);
	return total;
}

/*
 * The newline ending the line at s, or NULL. (Not strchr: ASan's checks
 * of str* arguments read the whole string, which makes big files slow.)
 */
static const char *
line_end(const char *s)
{
	for (; *s != '\n'; s++)
		if (*s == '\0')
			return NULL;
	return s;
}

/* The text after "TIME NAME: " of a line. */
static const char *
text_of(const char *line)
{
	const char *p;

	for (p = line; p[0] != ':' || p[1] != ' '; p++)
		assert_false(p[0] == '\0' || p[0] == '\n');
	return p + 2;
}

/* No fd of this process points at a deleted file. */
static void
assert_no_deleted_fds(void)
{
	char p[300], target[PATH_MAX];
	struct dirent *de;
	ssize_t n;
	DIR *d;

	assert_non_null(d = opendir("/proc/self/fd"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "/proc/self/fd/%s", de->d_name);
		if ((n = readlink(p, target, sizeof target - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (strstr(target, " (deleted)") != NULL)
			fail_msg("fd %s is a deleted file: %s", de->d_name,
			    target);
	}
	closedir(d);
}

/* Count the lines of s containing needle. */
static size_t
count_lines(const char *s, const char *needle)
{
	const char *nl;
	size_t n = 0;

	for (; *s != '\0'; s = nl + 1) {
		nl = line_end(s);
		assert_non_null(nl);
		if (memmem(s, (size_t)(nl - s), needle, strlen(needle)) != NULL)
			n++;
	}
	return n;
}

static struct logsink *
open_sink(const char *name, uint64_t max, int files, struct rec *r)
{
	struct logsink *s;
	char *cause = NULL;

	s = logs_open(dir, name, max, files, rec_cb, r, &cause);
	if (s == NULL)
		fail_msg("logs_open: %s", cause);
	return s;
}

static void
test_format(void **state)
{
	struct rec r = { .keep = 1 };
	struct logsink *s;
	struct tm tm;
	char *f, *p, name[32];
	int y, mo, d, h, mi, sec, ms;
	time_t now = time(NULL), t;

	(void)state;
	s = open_sink("bot1", 65536, 2, &r);
	p = path_of("bot1.log");
	assert_string_equal(logs_path(s), p);
	free(p);
	feeds(s, "hello world\n");
	logs_note(s, "started pid %d", 42);
	f = slurp("bot1.log");
	assert_string_equal(f, r.all.p);	/* the callback saw the same */
	assert_int_equal(r.n, 2);
	assert_int_equal(sscanf(f, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ %31s", &y,
	    &mo, &d, &h, &mi, &sec, &ms, name), 8);
	assert_int_equal(f[23], 'Z');
	assert_string_equal(name, "bot1:");
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	assert_true(t >= now - 5 && t <= now + 5);
	assert_true(ms >= 0 && ms <= 999);
	assert_memory_equal(f + 24, " bot1: hello world\n", 19);
	assert_string_equal(f + 19 + 24 + 24, " bot1[botd]: started pid 42\n");
	assert_int_equal(logs_bytes(s), strlen(f));
	assert_int_equal(logs_dropped(s), 0);
	logs_close(s);
	free(f);
	bc_buf_release(&r.all);
}

static void
test_partial_lines(void **state)
{
	struct rec r = { .keep = 1 };
	struct logsink *s;
	int64_t t0;
	char *f;

	(void)state;
	s = open_sink("bot", 65536, 1, &r);
	feeds(s, "hel");
	assert_int_equal(r.n, 0);
	feeds(s, "lo wor");
	assert_int_equal(r.n, 0);
	assert_int_equal(fsize("bot.log"), 0);
	feeds(s, "ld\nsecond\nthi");
	assert_int_equal(r.n, 2);
	feeds(s, "rd\n");
	assert_int_equal(r.n, 3);
	f = slurp("bot.log");
	assert_int_equal(count_lines(f, "bot: hello world"), 1);
	assert_int_equal(count_lines(f, "bot: second"), 1);
	assert_int_equal(count_lines(f, "bot: third"), 1);
	free(f);

	/* A prompt without a newline comes out after the flush timeout. */
	t0 = bc_now_ms();
	feeds(s, "prompt> ");
	assert_int_equal(r.n, 3);
	while (r.n == 3) {
		assert_true(bc_now_ms() - t0 < DEADLINE_MS);
		pump();
	}
	assert_true(bc_now_ms() - t0 >= LOGS_FLUSH_MS - 20);
	assert_string_equal(text_of(r.last), "prompt> ");
	f = slurp("bot.log");
	assert_int_equal(count_lines(f, "bot: prompt> "), 1);
	free(f);
	logs_close(s);
	bc_buf_release(&r.all);
}

static void
test_long_line(void **state)
{
	struct rec r = { .keep = 1 };
	struct logsink *s;
	char big[10001], want[LOGS_LINE_MAX + 16];
	char ctl[3001];
	json_t *tail;
	int i;

	(void)state;
	s = open_sink("bot", 65536, 1, &r);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\n';
	/* Across many reads, and with the rest of the line skipped. */
	for (i = 0; i < 10; i++)
		feed(s, big + i * 1000, 1000);
	assert_int_equal(r.n, 1);
	feeds(s, "\nnext\n");
	assert_int_equal(r.n, 2);
	tail = logs_tail(s, 2);
	memset(want, 'x', LOGS_LINE_MAX);
	strcpy(want + LOGS_LINE_MAX, LOGS_CUT_MARK);
	assert_string_equal(text_of(json_string_value(json_array_get(tail,
	    0))), want);
	assert_string_equal(text_of(json_string_value(json_array_get(tail,
	    1))), "next");
	json_decref(tail);

	/* In one read, and exactly LOGS_LINE_MAX bytes: not cut. */
	feed(s, big, sizeof big);
	assert_string_equal(text_of(r.last), want);
	feed(s, big, LOGS_LINE_MAX);
	feeds(s, "\n");
	want[LOGS_LINE_MAX] = '\0';
	assert_string_equal(text_of(r.last), want);

	/* Escaping counts: 3000 control bytes make 1024 escapes. */
	memset(ctl, 1, sizeof ctl - 1);
	ctl[sizeof ctl - 1] = '\n';
	feed(s, ctl, sizeof ctl);
	assert_int_equal(strlen(text_of(r.last)),
	    LOGS_LINE_MAX + strlen(LOGS_CUT_MARK));
	assert_memory_equal(text_of(r.last), "\\x01\\x01", 8);
	assert_string_equal(text_of(r.last) + LOGS_LINE_MAX, LOGS_CUT_MARK);
	assert_int_equal(r.n, 5);
	logs_close(s);
	bc_buf_release(&r.all);
}

static void
test_escape(void **state)
{
	static const char in[] = "a\xff\x01" "b\tc\r\xe2\x82\xac \"q\" \\ "
	    "\xc0\xaf x\0y\x7f\n";
	struct rec r = { .keep = 1 };
	struct logsink *s;
	json_t *tail;
	char *f;

	(void)state;
	s = open_sink("bot", 65536, 1, &r);
	feed(s, in, sizeof in - 1);
	assert_int_equal(r.n, 1);
	assert_string_equal(text_of(r.last), "a\\xff\\x01b\\tc\\r\xe2\x82\xac"
	    " \"q\" \\ \\xc0\\xaf x\\x00y\\x7f");
	f = slurp("bot.log");
	assert_string_equal(text_of(f), "a\\xff\\x01b\\tc\\r\xe2\x82\xac"
	    " \"q\" \\ \\xc0\\xaf x\\x00y\\x7f\n");
	free(f);
	/* The tail is valid UTF-8: jansson took it. */
	tail = logs_tail(s, 10);
	assert_int_equal(json_array_size(tail), 1);
	json_decref(tail);
	logs_close(s);
	bc_buf_release(&r.all);
}

/* Every byte value at every position of a 16-byte word pair. */
static void
test_escape_every_byte(void **state)
{
	struct rec r = { .keep = 1 };
	struct bc_buf in = BC_BUF_ZERO, want = BC_BUF_ZERO;
	struct logsink *s;
	const char *p, *nl;
	char line[17];
	int b, pos;

	(void)state;
	s = open_sink("bot", 1 << 20, 1, &r);
	for (b = 0; b < 256; b++) {
		if (b == '\n')
			continue;
		for (pos = 0; pos < 16; pos++) {
			memcpy(line, "ABCDEFGHIJKLMNOP", 16);
			line[pos] = (char)b;
			line[16] = '\n';
			bc_buf_add(&in, line, 17);
			bc_buf_add(&want, line, (size_t)pos);
			if (b >= 0x20 && b < 0x7f)
				bc_buf_add(&want, line + pos, 1);
			else if (b == '\t')
				bc_buf_str(&want, "\\t");
			else if (b == '\r')
				bc_buf_str(&want, "\\r");
			else
				bc_buf_printf(&want, "\\x%02x", b);
			bc_buf_add(&want, line + pos + 1, 15 - (size_t)pos);
			bc_buf_add(&want, "\n", 1);
		}
	}
	feed(s, in.p, in.len);
	assert_int_equal(r.n, 255 * 16);
	/* Compare the texts of r.all with want, line by line. */
	for (p = r.all.p, nl = want.p; *p != '\0'; p = line_end(p) + 1) {
		assert_memory_equal(text_of(p), nl, (size_t)(line_end(nl) -
		    nl + 1));
		nl = line_end(nl) + 1;
	}
	bc_buf_release(&in);
	bc_buf_release(&want);
	bc_buf_release(&r.all);
	logs_close(s);
}

static void
test_tail(void **state)
{
	struct rec r = { 0 };
	struct logsink *s;
	struct bc_buf b = BC_BUF_ZERO;
	json_t *tail;
	size_t i;
	char want[32];

	(void)state;
	s = open_sink("bot", 1 << 20, 1, &r);
	tail = logs_tail(s, 10);
	assert_int_equal(json_array_size(tail), 0);
	json_decref(tail);
	for (i = 0; i < 450; i++)
		bc_buf_printf(&b, "line %zu\n", i);
	feed(s, b.p, b.len);
	bc_buf_release(&b);
	tail = logs_tail(s, 1000);
	assert_int_equal(json_array_size(tail), BOTD_TAIL_LINES);
	for (i = 0; i < BOTD_TAIL_LINES; i++) {
		snprintf(want, sizeof want, "line %zu", 250 + i);
		assert_string_equal(text_of(json_string_value(
		    json_array_get(tail, i))), want);
	}
	json_decref(tail);
	tail = logs_tail(s, 3);
	assert_int_equal(json_array_size(tail), 3);
	assert_string_equal(text_of(json_string_value(json_array_get(tail,
	    0))), "line 447");
	assert_string_equal(text_of(json_string_value(json_array_get(tail,
	    2))), "line 449");
	json_decref(tail);
	tail = logs_tail(s, 0);
	assert_int_equal(json_array_size(tail), 0);
	json_decref(tail);
	logs_close(s);
}

/* "NAME.log" for k == 0, else "NAME.log.k". */
static const char *
rot_name(char *buf, size_t sz, const char *name, int k)
{
	if (k == 0)
		snprintf(buf, sz, "%s.log", name);
	else
		snprintf(buf, sz, "%s.log.%d", name, k);
	return buf;
}

/* The child: write nlines numbered lines of 100 bytes, fast, then exit. */
static void
flood(int fd, unsigned long nlines)
{
	char buf[65500];
	unsigned long i = 0, j, per = sizeof buf / 100;
	size_t off;
	ssize_t n;

	while (i < nlines) {
		for (j = 0; j < per && i < nlines; j++, i++) {
			snprintf(buf + j * 100, 101, "%09lu %-88s|", i,
			    "flood");
			buf[j * 100 + 99] = '\n';
		}
		for (off = 0; off < j * 100; off += (size_t)n)
			if ((n = write(fd, buf + off, j * 100 - off)) <= 0)
				_exit(1);
	}
	_exit(0);
}

/* The sequence numbers in s (lines "... NAME: 000000123 ...") follow
 * *next, in order; returns the number of lines. */
static size_t
check_seq(const char *s, unsigned long *next)
{
	const char *nl;
	size_t n = 0;

	for (; *s != '\0'; s = nl + 1) {
		assert_non_null(nl = line_end(s));
		assert_int_equal(strtoul(text_of(s), NULL, 10), *next);
		assert_int_equal(nl - text_of(s), 99);
		(*next)++;
		n++;
	}
	return n;
}

static void
test_rotation_flood(void **state)
{
	const uint64_t max = 1 << 20;
	const int files = 3;
	unsigned long nlines = 500000, next;
	struct rec r = { 0 };
	struct logsink *s;
	struct rusage ru0, ru1;
	int64_t deadline, t0;
	char name[32], *f;
	long long total = 0, sz;
	pid_t pid;
	int k, st, reaped = 0;

	(void)state;
	if (getenv("BOTFLEET_LONG_TESTS") != NULL)
		nlines = 20000000;	/* 2 GB */
	s = open_sink("flood", max, files, &r);
	getrusage(RUSAGE_SELF, &ru0);
	t0 = bc_now_ms();
	assert_true((pid = fork()) != -1);
	if (pid == 0)
		flood(logs_write_fd(s), nlines);
	deadline = bc_now_ms() + 600000;
	while (r.n < nlines || !reaped) {
		assert_true(bc_now_ms() < deadline);
		pump();
		if (!reaped && waitpid(pid, &st, WNOHANG) == pid) {
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			reaped = 1;
		}
	}
	getrusage(RUSAGE_SELF, &ru1);
	print_message("# %lu lines, %lu MB in %lld ms, %ld ms CPU in botd\n",
	    nlines, nlines / 10000, (long long)(bc_now_ms() - t0),
	    (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec +
	    ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1000 +
	    (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec +
	    ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1000);
	assert_int_equal(r.n, nlines);
	assert_int_equal(logs_dropped(s), 0);
	/* Each file within max, files + 1 of them, nothing beyond. */
	for (k = 0; k <= files + 1; k++) {
		sz = fsize(rot_name(name, sizeof name, "flood", k));
		if (k == files + 1) {
			assert_int_equal(sz, -1);
			break;
		}
		assert_true(sz > (long long)max - 200 || k == 0);
		assert_true(sz <= (long long)max);
		total += sz;
	}
	assert_int_equal(total, dir_bytes());
	assert_int_equal(logs_bytes(s), total);
	/* The newest lines, contiguous through the rotations. */
	f = slurp("flood.log.3");
	next = strtoul(text_of(f), NULL, 10);
	check_seq(f, &next);
	free(f);
	for (k = files - 1; k >= 0; k--) {
		f = slurp(rot_name(name, sizeof name, "flood", k));
		check_seq(f, &next);
		free(f);
	}
	assert_int_equal(next, nlines);
	assert_no_deleted_fds();
	logs_close(s);
	assert_no_deleted_fds();
}

static void
test_rotation_files_zero(void **state)
{
	struct rec r = { 0 };
	struct logsink *s;
	struct bc_buf b = BC_BUF_ZERO;
	int i;

	(void)state;
	s = open_sink("z", LOGS_MIN_BYTES, 0, &r);
	for (i = 0; i < 3000; i++)
		bc_buf_printf(&b, "line %d of some length\n", i);
	feed(s, b.p, b.len);
	bc_buf_release(&b);
	assert_true(fsize("z.log") > 0);
	assert_true(fsize("z.log") <= LOGS_MIN_BYTES);
	assert_int_equal(fsize("z.log.1"), -1);
	assert_int_equal(dir_bytes(), logs_bytes(s));
	assert_string_equal(text_of(r.last), "line 2999 of some length");
	assert_no_deleted_fds();
	logs_close(s);
}

/* Create dir/name with len bytes. */
static void
make_file(const char *name, size_t len)
{
	char *p = path_of(name), *buf = xcalloc(1, len + 1);
	int fd;

	memset(buf, 'o', len);
	assert_true((fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
	free(p);
}

static void
test_leftovers_and_limits(void **state)
{
	struct rec r = { 0 };
	struct logsink *s;
	char name[32];
	int k;

	(void)state;
	make_file("bot.log", 100);
	for (k = 1; k <= 7; k++) {
		snprintf(name, sizeof name, "bot.log.%d", k);
		make_file(name, 1000);
	}
	make_file("bot.log.x", 10);		/* not ours: left alone */
	make_file("bot2.log.9", 10);		/* another bot's */
	s = open_sink("bot", LOGS_MIN_BYTES, 3, &r);
	assert_int_equal(fsize("bot.log.3"), 1000);
	assert_int_equal(fsize("bot.log.4"), -1);
	assert_int_equal(fsize("bot.log.7"), -1);
	assert_int_equal(fsize("bot.log.x"), 10);
	assert_int_equal(fsize("bot2.log.9"), 10);
	assert_int_equal(logs_bytes(s), 100 + 3 * 1000);
	/* Appends to the existing file. */
	feeds(s, "more\n");
	assert_true(fsize("bot.log") > 100);
	logs_set_limits(s, LOGS_MIN_BYTES, 1);
	assert_int_equal(fsize("bot.log.1"), 1000);
	assert_int_equal(fsize("bot.log.2"), -1);
	assert_int_equal(logs_bytes(s), (uint64_t)fsize("bot.log") + 1000);
	/* Out of range limits are clamped; more files become possible. */
	logs_set_limits(s, 1, 1000);
	logs_set_limits(s, LOGS_MIN_BYTES, 2);
	for (k = 0; k < 2000; k++)
		feeds(s, "a line to rotate the log a few times over\n");
	assert_true(fsize("bot.log.2") > 0);
	assert_int_equal(fsize("bot.log.3"), -1);
	assert_int_equal(logs_bytes(s), (uint64_t)(fsize("bot.log") +
	    fsize("bot.log.1") + fsize("bot.log.2")));
	logs_close(s);
}

/* Count the rotated files of bot name in dir, checking they are 1..n. */
static int
rotated(const char *name, int max)
{
	char f[64];
	int k, n = 0, gap = 0;

	for (k = 1; k <= max; k++) {
		snprintf(f, sizeof f, "%s.log.%d", name, k);
		if (fsize(f) == -1)
			gap = 1;
		else {
			assert_false(gap);
			n++;
		}
	}
	return n;
}

static void
test_total_cap(void **state)
{
	const long long cap = 100 * 1024;
	struct rec ra = { 0 }, rb = { 0 };
	struct logsink *a, *b;
	int i;

	(void)state;
	logs_set_total_max(cap);
	a = open_sink("a", LOGS_MIN_BYTES, 10, &ra);
	b = open_sink("b", LOGS_MIN_BYTES, 10, &rb);
	for (i = 0; i < 5000; i++) {
		feeds(a, "an old line from bot a, to be deleted first\n");
		assert_true(dir_bytes() <= cap);
	}
	assert_true(rotated("a", 10) >= 3);
	for (i = 0; i < 5000; i++) {
		feeds(b, "a newer line from bot b, kept over older ones\n");
		assert_true(dir_bytes() <= cap);
	}
	/* a's rotations were older than all of b's: they went first. */
	assert_int_equal(rotated("a", 10), 0);
	assert_true(rotated("b", 10) >= 3);
	assert_true(fsize("a.log") > 0);	/* live files stay */
	assert_int_equal(logs_bytes(a) + logs_bytes(b), dir_bytes());
	/* A lower cap applies at once. */
	logs_set_total_max(40 * 1024);
	assert_true(dir_bytes() <= 40 * 1024);
	assert_int_equal(logs_bytes(a) + logs_bytes(b), dir_bytes());
	assert_no_deleted_fds();
	logs_set_total_max(0);
	logs_close(a);
	logs_close(b);
}

/* Lines "during NNNN" in the file: a prefix 0 .. n-1; returns n. */
static size_t
check_prefix(const char *f, const char *word)
{
	const char *p = f, *nl;
	char want[64];
	size_t n = 0;

	for (; *p != '\0'; p = nl + 1) {
		assert_non_null(nl = line_end(p));
		if (strncmp(text_of(p), word, strlen(word)) != 0)
			continue;
		snprintf(want, sizeof want, "%s %04zu", word, n);
		assert_memory_equal(text_of(p), want, strlen(want));
		n++;
	}
	return n;
}

/*
 * Drive a sink whose writes fail (the filesystem is full, or the file
 * size limit is reached; full() makes it so, room() undoes it): lines are
 * dropped and counted while the loop keeps reading, and writing resumes.
 */
static void
write_errors(const char *reason, void (*full)(void), void (*room)(void))
{
	struct rec r = { 0 };
	struct logsink *s;
	struct bc_buf b = BC_BUF_ZERO;
	size_t in_file, nafter = 0, after_in;
	int64_t deadline;
	char *f, note[128];
	int i;

	s = open_sink("bot", 1 << 20, 1, &r);
	for (i = 0; i < 10; i++)
		bc_buf_printf(&b, "before %d\n", i);
	feed(s, b.p, b.len);
	bc_buf_reset(&b);
	full();
	for (i = 0; i < 3000; i++)
		bc_buf_printf(&b, "during %04d and then some more text\n", i);
	feed(s, b.p, b.len);
	bc_buf_release(&b);
	/* Every line was read and seen; the file lost some, counted. */
	assert_int_equal(r.n, 3010);
	assert_string_equal(text_of(r.last),
	    "during 2999 and then some more text");
	f = slurp("bot.log");
	assert_int_equal(count_lines(f, "before"), 10);
	in_file = check_prefix(f, "during");
	free(f);
	assert_true(in_file < 3000);
	assert_int_equal(logs_dropped(s), 3000 - in_file);

	/* Space again: within a retry or two, the file takes lines again. */
	room();
	deadline = bc_now_ms() + DEADLINE_MS;
	for (;;) {
		f = slurp("bot.log");
		after_in = count_lines(f, "after");
		if (after_in > 0)
			break;
		free(f);
		assert_true(bc_now_ms() < deadline);
		feeds(s, "after\n");
		nafter++;
		pump();
	}
	assert_int_equal(logs_dropped(s), 3000 - in_file + nafter - after_in);
	snprintf(note, sizeof note, "bot[botd]: %zu lines dropped (%s)",
	    3000 - in_file + nafter - after_in, reason);
	assert_int_equal(count_lines(f, note), 1);
	free(f);
	feeds(s, "after\n");
	f = slurp("bot.log");
	assert_int_equal(count_lines(f, "after"), after_in + 1);
	free(f);
	assert_no_deleted_fds();
	logs_close(s);
}

static char	filler[PATH_MAX + 16];

static void
tmpfs_full(void)
{
	char buf[4096];
	int fd;

	memset(buf, 'f', sizeof buf);
	assert_true((fd = open(filler, O_WRONLY | O_CREAT, 0600)) != -1);
	while (write(fd, buf, sizeof buf) > 0)
		;
	assert_int_equal(errno, ENOSPC);
	close(fd);
}

static void
tmpfs_room(void)
{
	assert_int_equal(unlink(filler), 0);
}

static int
teardown_umount(void **state)
{
	(void)state;
	(void)umount2(dir, MNT_DETACH);	/* when a failed test left it */
	return 0;
}

static void
test_enospc_tmpfs(void **state)
{
	(void)state;
	if (mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=0700") == -1) {
		print_message("# no tmpfs (%s): see test_efbig_rlimit\n",
		    strerror(errno));
		skip();
	}
	snprintf(filler, sizeof filler, "%s/filler", dir);
	write_errors(strerror(ENOSPC), tmpfs_full, tmpfs_room);
	assert_int_equal(umount2(dir, MNT_DETACH), 0);
}

static struct rlimit	fsize_saved;

static void
rlimit_full(void)
{
	struct rlimit rl = fsize_saved;

	rl.rlim_cur = (rlim_t)fsize("bot.log") + 2000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void
rlimit_room(void)
{
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &fsize_saved), 0);
}

static void
test_efbig_rlimit(void **state)
{
	(void)state;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &fsize_saved), 0);
	signal(SIGXFSZ, SIG_IGN);
	write_errors(strerror(EFBIG), rlimit_full, rlimit_room);
	signal(SIGXFSZ, SIG_DFL);
}

static void
test_writer_closes_its_copy(void **state)
{
	struct rec r = { .keep = 1 };
	struct logsink *s;
	pid_t pid;
	int i, st;

	(void)state;
	s = open_sink("bot", 65536, 1, &r);
	/* Two "runs" of the bot, each closing its copy when it exits. */
	for (i = 0; i < 2; i++) {
		assert_true((pid = fork()) != -1);
		if (pid == 0) {
			dup2(logs_write_fd(s), 1);
			dup2(logs_write_fd(s), 2);
			close(logs_write_fd(s));
			dprintf(1, "run %d stdout\n", i);
			dprintf(2, "run %d stderr\n", i);
			_exit(0);
		}
		assert_int_equal(waitpid(pid, &st, 0), pid);
		drain(s);
	}
	assert_true(fcntl(logs_write_fd(s), F_GETFD) & FD_CLOEXEC);
	feeds(s, "after the runs\n");
	assert_int_equal(count_lines(r.all.p, "bot: run 0 stdout"), 1);
	assert_int_equal(count_lines(r.all.p, "bot: run 0 stderr"), 1);
	assert_int_equal(count_lines(r.all.p, "bot: run 1 stdout"), 1);
	assert_int_equal(count_lines(r.all.p, "bot: run 1 stderr"), 1);
	assert_int_equal(count_lines(r.all.p, "bot: after the runs"), 1);
	assert_int_equal(r.n, 5);
	/* No EOF to spin on: quiet loop turns see no new lines. */
	i = (int)r.n;
	pump();
	pump();
	assert_int_equal(r.n, (size_t)i);
	logs_close(s);
	bc_buf_release(&r.all);
}

static void
test_deleted_by_hand(void **state)
{
	struct rec r = { 0 };
	struct logsink *s;
	char *f, *p = path_of("bot.log");

	(void)state;
	s = open_sink("bot", 65536, 1, &r);
	feeds(s, "one\n");
	assert_int_equal(unlink(p), 0);
	feeds(s, "two\n");
	f = slurp("bot.log");
	assert_int_equal(count_lines(f, "bot: two"), 1);
	assert_int_equal(count_lines(f, "bot: one"), 0);
	assert_int_equal(logs_bytes(s), strlen(f));
	free(f);
	assert_no_deleted_fds();
	logs_close(s);
	free(p);
}

static void
test_close_drains(void **state)
{
	struct rec r = { 0 };
	struct logsink *s;
	char *f;

	(void)state;
	s = open_sink("bot", 65536, 1, &r);
	assert_int_equal(write(logs_write_fd(s), "x\nlast words", 12), 12);
	logs_close(s);
	f = slurp("bot.log");
	assert_int_equal(count_lines(f, "bot: x"), 1);
	assert_int_equal(count_lines(f, "bot: last words"), 1);
	free(f);
	assert_no_deleted_fds();
}

/* logs_open fails with a cause containing want. */
static void
open_fails(const char *d, const char *name, uint64_t max, int files,
    const char *want)
{
	char *cause = NULL;

	assert_null(logs_open(d, name, max, files, NULL, NULL, &cause));
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause, want);
	free(cause);
}

static void
test_open_errors(void **state)
{
	struct logsink *s;
	char *p, *q, *cause = NULL;

	(void)state;
	open_fails(dir, "../x", 65536, 1, "bad bot name");
	open_fails(dir, "", 65536, 1, "bad bot name");
	open_fails(dir, "Bot", 65536, 1, "bad bot name");
	open_fails(dir, "a23456789012345678901234567890123", 65536, 1,
	    "bad bot name");
	open_fails("", "bot", 65536, 1, "bad log directory");
	open_fails(dir, "bot", 100, 1, "log_max_bytes below");
	open_fails(dir, "bot", 65536, -1, "log_files");
	open_fails(dir, "bot", 65536, LOGS_FILES_MAX + 1, "log_files");
	p = path_of("missing/sub");
	open_fails(p, "bot", 65536, 1, "unable to create");
	free(p);
	make_file("plain", 1);
	p = path_of("plain");
	open_fails(p, "bot", 65536, 1, "Not a directory");
	free(p);
	p = path_of("dirbot.log");
	assert_int_equal(mkdir(p, 0700), 0);
	free(p);
	open_fails(dir, "dirbot", 65536, 1, "unable to open");
	p = path_of("linkbot.log");
	q = path_of("elsewhere");
	assert_int_equal(symlink(q, p), 0);
	open_fails(dir, "linkbot", 65536, 1, "unable to open");
	assert_int_equal(fsize("elsewhere"), -1);
	free(p);
	free(q);
	p = path_of("fifobot.log");
	assert_int_equal(mkfifo(p, 0600), 0);
	open_fails(dir, "fifobot", 65536, 1, "unable to open");	/* no hang */
	free(p);
	/* A missing last component is created. */
	p = path_of("new");
	assert_int_equal(fsize("new"), -1);
	assert_non_null(s = logs_open(p, "bot", 65536, 1, NULL, NULL, &cause));
	logs_close(s);
	assert_int_equal(fsize("new/bot.log"), 0);
	free(p);
	assert_no_deleted_fds();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_format, setup),
		cmocka_unit_test_setup(test_partial_lines, setup),
		cmocka_unit_test_setup(test_long_line, setup),
		cmocka_unit_test_setup(test_escape, setup),
		cmocka_unit_test_setup(test_escape_every_byte, setup),
		cmocka_unit_test_setup(test_tail, setup),
		cmocka_unit_test_setup(test_rotation_flood, setup),
		cmocka_unit_test_setup(test_rotation_files_zero, setup),
		cmocka_unit_test_setup(test_leftovers_and_limits, setup),
		cmocka_unit_test_setup(test_total_cap, setup),
		cmocka_unit_test_setup_teardown(test_enospc_tmpfs, setup,
		    teardown_umount),
		cmocka_unit_test_setup(test_efbig_rlimit, setup),
		cmocka_unit_test_setup(test_writer_closes_its_copy, setup),
		cmocka_unit_test_setup(test_deleted_by_hand, setup),
		cmocka_unit_test_setup(test_close_drains, setup),
		cmocka_unit_test_setup(test_open_errors, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
