/*
 * tchild: a configurable child for the botd integration tests.
 *
 *   tchild -d DIR [options]
 *
 * Every start appends "PID MONO_MS" to DIR/starts; every process it makes
 * appends its pid to DIR/pids (the tests kill them all at the end).
 *
 *   -r          READY=1 at once          -R MS   READY=1 after MS
 *   -w MS       WATCHDOG=1 every MS      -W N    ... only N times (hang)
 *   -s TEXT     STATUS=TEXT
 *   -x CODE     exit with CODE after -t MS (0: at once)
 *   -L LIST     with -x: lifetime in ms of the n-th start (n from 1,
 *               comma-separated; the last one repeats)
 *   -H FILE     with -x: do not exit while FILE exists (healthy)
 *   -i          ignore SIGTERM           -T MS   on SIGTERM exit after MS
 *   -g          leave grandchildren: a child ignoring SIGTERM, and a
 *               setsid'd, double-forked one ignoring SIGTERM that holds a
 *               TCP port on 127.0.0.1 (DIR/port: bound at 0 the first
 *               time, the same port at every later start; a start that
 *               cannot bind it appends to DIR/errors and exits 111)
 *   -z N        N double-forked grandchildren that exit at once
 *   -l FILE     the bot's own single-instance lock (inherited by the
 *               grandchildren); busy: "DUPLICATE PID" to DIR/dup, exit 111
 *   -e FILE     write the environment, ids, nofile and cwd to FILE
 *   -f BYTES    write about BYTES of lines to stdout, then go on
 */

#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *dir;
static volatile sig_atomic_t got_term;
static sigset_t termset, waitmask;	/* SIGTERM; the mask to sleep with */
static int notify_fd = -1;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !got_term)
		;
}

/* Append a line to DIR/name. */
static void
record(const char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
record(const char *name, const char *fmt, ...)
{
	char path[4096], line[512];
	va_list ap;
	int fd, n;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644)) == -1)
		return;
	if (write(fd, line, (size_t)n) != n)
		fprintf(stderr, "tchild: short write to %s\n", path);
	close(fd);
}

static void
notify(const char *line)
{
	char buf[512];
	int n;

	if (notify_fd == -1)
		return;
	n = snprintf(buf, sizeof buf, "%s\n", line);
	if (write(notify_fd, buf, (size_t)n) != n)
		fprintf(stderr, "tchild: notify write failed\n");
}

static void
on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

/* A process that outlives everything: ignores TERM, sleeps. */
static void __attribute__((noreturn))
linger(void)
{
	signal(SIGTERM, SIG_IGN);
	record("pids", "%ld\n", (long)getpid());
	for (;;)
		pause();
}

/* Listen on 127.0.0.1 at the port in DIR/port (or 0, then record it). */
static int
listen_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	char path[4096];
	FILE *f;
	int s, port = 0, one = 1;

	snprintf(path, sizeof path, "%s/port", dir);
	if ((f = fopen(path, "r")) != NULL) {
		if (fscanf(f, "%d", &port) != 1)
			port = 0;
		fclose(f);
	}
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    bind(s, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(s, 1) == -1) {
		record("errors", "%ld bind %d: %s\n", (long)getpid(), port,
		    strerror(errno));
		exit(111);
	}
	if (port == 0 && getsockname(s, (struct sockaddr *)&sin, &len) == 0)
		record("port", "%d\n", ntohs(sin.sin_port));
	return s;
}

/* The grandchildren of -g. */
static void
grandchildren(void)
{
	pid_t pid;
	int s = listen_port();

	if ((pid = fork()) == 0) {
		close(s);
		linger();
	}
	if ((pid = fork()) == 0) {
		setsid();
		if (fork() == 0)
			linger();	/* keeps s: the port */
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	close(s);
}

/* -z: n double-forked grandchildren that exit at once. */
static void
zombies(int n)
{
	pid_t pid;
	int i;

	for (i = 0; i < n; i++) {
		if ((pid = fork()) == 0) {
			if (fork() == 0) {
				record("zpids", "%ld\n", (long)getpid());
				sleep_ms(5);
				_exit(0);
			}
			_exit(0);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
}

static void
app_lock(const char *path)
{
	int fd;

	/* Not close-on-exec: the grandchildren share it. */
	if ((fd = open(path, O_RDWR | O_CREAT, 0644)) == -1 ||
	    flock(fd, LOCK_EX | LOCK_NB) == -1) {
		record("dup", "DUPLICATE %ld\n", (long)getpid());
		exit(111);
	}
}

static void
dump_env(const char *path)
{
	struct rlimit rl;
	char cwd[4096], tmp[4096];
	gid_t groups[64];
	FILE *f;
	char **e;
	int n, i;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	for (e = environ; *e != NULL; e++)
		fprintf(f, "env %s\n", *e);
	fprintf(f, "uid %ld\ngid %ld\n", (long)getuid(), (long)getgid());
	n = getgroups(64, groups);
	for (i = 0; i < n; i++)
		fprintf(f, "group %ld\n", (long)groups[i]);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		fprintf(f, "nofile %llu\n", (unsigned long long)rl.rlim_cur);
	if (getcwd(cwd, sizeof cwd) != NULL)
		fprintf(f, "cwd %s\n", cwd);
	fprintf(f, "fd3 %s\n", fcntl(3, F_GETFD) != -1 ? "open" : "closed");
	fclose(f);
	rename(tmp, path);
}

static void
flood(long long bytes)
{
	char line[100];
	long long done = 0, n = 0;

	memset(line, 'x', sizeof line);
	line[sizeof line - 1] = '\n';
	while (done < bytes) {
		int k = snprintf(line, 20, "%lld ", n++);

		line[k] = 'x';
		if (fwrite(line, 1, sizeof line, stdout) != sizeof line)
			break;
		done += (long long)sizeof line;
	}
	fflush(stdout);
}

/* The lifetime of this start from a -L list. */
static int64_t
lifetime(const char *list, int64_t def)
{
	char path[4096], buf[64];
	const char *p = list;
	int starts = 0, i;
	FILE *f;

	if (list == NULL)
		return def;
	snprintf(path, sizeof path, "%s/starts", dir);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(buf, sizeof buf, f) != NULL)
			starts++;
		fclose(f);
	}
	for (i = 1; i < starts && strchr(p, ',') != NULL; i++)
		p = strchr(p, ',') + 1;
	return strtoll(p, NULL, 10);
}

/* Sleep ms (-1: until a signal), with SIGTERM let in only meanwhile. */
static void
sleep_poll(int ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	ppoll(NULL, 0, ms < 0 ? NULL : &ts, &waitmask);
}

/* Milliseconds until the earliest of the deadlines (-1: none), or -1. */
static int
wait_ms(int64_t now, int64_t a, int64_t b, int64_t c)
{
	int64_t t = -1, v[3] = { a, b, c };
	int i;

	for (i = 0; i < 3; i++)
		if (v[i] >= 0 && (t == -1 || v[i] < t))
			t = v[i];
	if (t == -1)
		return -1;
	return t <= now ? 0 : (int)(t - now);
}

static int
exists(const char *path)
{
	return path != NULL && access(path, F_OK) == 0;
}

int
main(int argc, char **argv)
{
	const char *lives = NULL, *healthy = NULL, *env = NULL, *status = NULL;
	const char *lockf = NULL, *s;
	int64_t ready_ms = -1, beat_ms = 0, life = 0, term_ms = -1, t0, next;
	int64_t end;
	long long floodb = 0;
	int ch, code = -1, beats = -1, ign = 0, grand = 0, nz = 0;

	while ((ch = getopt(argc, argv, "d:rR:w:W:s:x:t:L:H:iT:gz:l:e:f:")) !=
	    -1) {
		switch (ch) {
		case 'd': dir = optarg; break;
		case 'r': ready_ms = 0; break;
		case 'R': ready_ms = atoll(optarg); break;
		case 'w': beat_ms = atoll(optarg); break;
		case 'W': beats = atoi(optarg); break;
		case 's': status = optarg; break;
		case 'x': code = atoi(optarg); break;
		case 't': life = atoll(optarg); break;
		case 'L': lives = optarg; break;
		case 'H': healthy = optarg; break;
		case 'i': ign = 1; break;
		case 'T': term_ms = atoll(optarg); break;
		case 'g': grand = 1; break;
		case 'z': nz = atoi(optarg); break;
		case 'l': lockf = optarg; break;
		case 'e': env = optarg; break;
		case 'f': floodb = atoll(optarg); break;
		default:
			fprintf(stderr, "tchild: bad option\n");
			return 2;
		}
	}
	if (dir == NULL) {
		fprintf(stderr, "tchild: -d DIR is required\n");
		return 2;
	}
	t0 = now_ms();
	record("starts", "%ld %lld\n", (long)getpid(), (long long)t0);
	record("pids", "%ld\n", (long)getpid());
	if ((s = getenv("BOTD_NOTIFY_FD")) != NULL)
		notify_fd = atoi(s);
	if (ign)
		signal(SIGTERM, SIG_IGN);
	else if (term_ms >= 0) {
		/* Blocked but while in ppoll(): a TERM that lands between
		 * the check of got_term and the sleep is not lost. */
		sigemptyset(&termset);
		sigaddset(&termset, SIGTERM);
		sigprocmask(SIG_BLOCK, &termset, &waitmask);
		signal(SIGTERM, on_term);
	}
	if (env != NULL)
		dump_env(env);
	if (lockf != NULL)
		app_lock(lockf);
	if (grand)
		grandchildren();
	if (nz > 0)
		zombies(nz);
	if (floodb > 0)
		flood(floodb);
	printf("tchild %ld started\n", (long)getpid());
	fflush(stdout);
	life = lifetime(lives, life);
	if (status != NULL) {
		char line[300];

		snprintf(line, sizeof line, "STATUS=%s", status);
		notify(line);
	}
	next = beat_ms > 0 ? t0 + beat_ms : -1;
	for (;;) {
		int64_t now = now_ms();

		if (got_term) {
			sleep_ms(term_ms);
			return 0;
		}
		if (ready_ms >= 0 && now - t0 >= ready_ms) {
			notify("READY=1");
			ready_ms = -1;
		}
		if (next >= 0 && now >= next && beats != 0) {
			notify("WATCHDOG=1");
			if (beats > 0)
				beats--;
			next += beat_ms;
		}
		if (code >= 0 && now - t0 >= life && !exists(healthy)) {
			fprintf(stderr, "tchild %ld exiting with %d\n",
			    (long)getpid(), code);
			return code;
		}
		if (code < 0)
			end = -1;
		else if (healthy != NULL && now - t0 >= life)
			end = now + 20;	/* look at the file again */
		else
			end = t0 + life;
		sleep_poll(wait_ms(now, ready_ms >= 0 ? t0 + ready_ms : -1,
		    beats != 0 ? next : -1, end));
	}
}
