/*
 * probe.c: the measuring tool of bench/supervisors.sh, the same code for
 * every supervisor. Times are CLOCK_MONOTONIC, the clock bench/sup/child.c
 * records its start with. Results go to stdout as key=value words.
 *
 *	probe stamp FILE CMD...		write the time to FILE, exec CMD
 *	probe started [-t T0FILE] TIMEOUT_MS FILE... [-- CMD...]
 *		run CMD (if any) and wait until every record FILE has a start
 *		at or after T0 (T0FILE, else just before CMD): cmd_ms all_ms
 *	probe gone TIMEOUT_MS PID... [-- CMD...]
 *		run CMD and wait until every PID has exited: cmd_ms all_ms
 *	probe tree CHILD_EXE ROOT...	ROOT and its descendants, one a line:
 *		"PID sup", or "PID child" for processes running CHILD_EXE
 *	probe idle SECS PID...		CPU and context switches of the PIDs'
 *		threads over SECS, then their PSS and RSS
 *	probe time REPS CMD...		REPS runs of CMD: wall time stats
 *	probe cpu PID...		the run time of the PIDs' threads
 *	probe restart SAMPLES GAP_MS TIMEOUT_MS FILE...
 *		SIGKILL the child of each record FILE in turn and time the
 *		kill to the replacement's own recorded start
 *	probe spawn REPS FILE CHILD	the floor of that: fork and exec
 *		CHILD FILE ourselves, until its recorded start, REPS times
 *
 * TIMEOUT_MS passing is an error: exit 1 with timeout=1 in the output.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXFILES	4096

static void die(const char *, ...) __attribute__((format(printf, 1, 2),
    noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "probe: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double
ms(long long ns)
{
	return (double)ns / 1e6;
}

static int
pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* The last complete "PID NS" line of a record file; -1 if none. */
static int
last_start(const char *path, long *pid, long long *ts)
{
	char buf[65536], *p, *end;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	end = buf + n;
	if (end[-1] != '\n')
		return -1;	/* a write in progress: look again later */
	end[-1] = '\0';
	p = strrchr(buf, '\n');
	p = p == NULL ? buf : p + 1;
	if (sscanf(p, "%ld %lld", pid, ts) != 2)
		return -1;
	return 0;
}

/* Fork and exec argv, stdout to /dev/null; its pidfd in *pfd. */
static pid_t
spawn(char **argv, int *pfd)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) != -1) {
			dup2(fd, 1);
			close(fd);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "probe: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	if (pfd != NULL && (*pfd = pidfd_open_(pid)) == -1)
		die("pidfd_open: %s", strerror(errno));
	return pid;
}

/* Split "ARGS... -- CMD..." at "--": the CMD part, or NULL. */
static char **
split_cmd(int *argc, char **argv)
{
	int i;

	for (i = 0; i < *argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			argv[i] = NULL;
			*argc = i;
			return argv[i + 1] != NULL ? argv + i + 1 : NULL;
		}
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* median, p95 (nearest rank), min and max of n samples, sorted. */
static void
print_stats(double *v, int n)
{
	double med;
	int k;

	if (n == 0) {
		printf("n=0\n");
		return;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	k = (95 * n + 99) / 100 - 1;
	printf("n=%d med_ms=%.3f p95_ms=%.3f min_ms=%.3f max_ms=%.3f", n,
	    med, v[k], v[0], v[n - 1]);
}

static int
cmd_stamp(int argc, char **argv)
{
	FILE *f;

	if (argc < 3)
		die("%s", "usage: probe stamp FILE CMD...");
	if ((f = fopen(argv[1], "w")) == NULL)
		die("%s: cannot write", argv[1]);
	fprintf(f, "%lld\n", now_ns());
	fclose(f);
	execvp(argv[2], argv + 2);
	die("exec %s failed", argv[2]);
	return 2;
}

/* Watch every file for writes; they are created if missing. */
static int
watch_files(char **files, int n)
{
	int i, ifd, fd;

	if ((ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) == -1)
		die("inotify: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		if ((fd = open(files[i], O_WRONLY | O_CREAT | O_CLOEXEC,
		    0644)) != -1)
			close(fd);
		if (inotify_add_watch(ifd, files[i], IN_MODIFY) == -1)
			die("%s: cannot watch", files[i]);
	}
	return ifd;
}

static void
drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof buf) > 0)
		;
}

static int
cmd_started(int argc, char **argv)
{
	static char done[MAXFILES];
	struct pollfd pfd[2];
	char **cmd, **files;
	long long t0 = 0, deadline, maxts = 0, cmdend = 0, ts;
	long pid;
	int nf, left, i, ifd, status, np = 1, timeout_ms;
	pid_t cpid = -1;
	FILE *f;

	argc--, argv++;
	cmd = split_cmd(&argc, argv);
	if (argc >= 2 && strcmp(argv[0], "-t") == 0) {
		if ((f = fopen(argv[1], "r")) == NULL ||
		    fscanf(f, "%lld", &t0) != 1)
			die("%s: no time in it", argv[1]);
		fclose(f);
		argc -= 2, argv += 2;
	}
	if (argc < 2 || argc - 1 > MAXFILES)
		die("%s", "usage: probe started [-t T0FILE] TIMEOUT_MS "
		    "FILE... [-- CMD...]");
	timeout_ms = atoi(argv[0]);
	files = argv + 1;
	nf = argc - 1;
	ifd = watch_files(files, nf);
	pfd[0].fd = ifd;
	pfd[0].events = POLLIN;
	if (t0 == 0)
		t0 = now_ns();
	if (cmd != NULL) {
		cpid = spawn(cmd, &pfd[1].fd);
		pfd[1].events = POLLIN;
		np = 2;
	}
	deadline = t0 + (long long)timeout_ms * 1000000;
	for (left = nf;;) {
		for (i = 0; i < nf; i++) {
			if (done[i] || last_start(files[i], &pid, &ts) == -1 ||
			    ts < t0)
				continue;
			done[i] = 1;
			left--;
			if (ts > maxts)
				maxts = ts;
		}
		if (left == 0 && cpid == -1)
			break;
		if (now_ns() > deadline) {
			printf("timeout=1 started=%d of=%d\n", nf - left, nf);
			return 1;
		}
		if (poll(pfd, (nfds_t)np, 50) > 0) {
			if (pfd[0].revents)
				drain(ifd);
			if (np == 2 && pfd[1].revents) {
				cmdend = now_ns();
				waitpid(cpid, &status, 0);
				if (!WIFEXITED(status) ||
				    WEXITSTATUS(status) != 0)
					printf("cmd_status=%d ", status);
				close(pfd[1].fd);
				cpid = -1;
				np = 1;
			}
		}
	}
	printf("cmd_ms=%.3f all_ms=%.3f\n", cmd != NULL ? ms(cmdend - t0) :
	    0.0, ms(maxts - t0));
	return 0;
}

static int
cmd_gone(int argc, char **argv)
{
	static struct pollfd pfd[MAXFILES + 1];
	char **cmd;
	long long t0, deadline, last = 0, cmdend = 0;
	int n, i, left, status, timeout_ms, already = 0;
	pid_t cpid = -1;

	argc--, argv++;
	cmd = split_cmd(&argc, argv);
	if (argc < 1 || argc - 1 > MAXFILES)
		die("%s", "usage: probe gone TIMEOUT_MS PID... [-- CMD...]");
	timeout_ms = atoi(argv[0]);
	n = argc - 1;
	for (i = 0; i < n; i++) {
		pfd[i].events = POLLIN;
		if ((pfd[i].fd = pidfd_open_(atoi(argv[i + 1]))) == -1)
			already++;
	}
	t0 = now_ns();
	if (cmd != NULL) {
		cpid = spawn(cmd, &pfd[n].fd);
		pfd[n].events = POLLIN;
	} else
		pfd[n].fd = -1;
	deadline = t0 + (long long)timeout_ms * 1000000;
	for (;;) {
		for (i = 0, left = 0; i < n; i++)
			if (pfd[i].fd != -1)
				left++;
		if (left == 0 && pfd[n].fd == -1)
			break;
		if (now_ns() > deadline) {
			printf("timeout=1 alive=%d of=%d\n", left, n);
			return 1;
		}
		if (poll(pfd, (nfds_t)n + 1, 50) <= 0)
			continue;
		for (i = 0; i <= n; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			close(pfd[i].fd);
			pfd[i].fd = -1;
			if (i < n) {
				last = now_ns();
				continue;
			}
			cmdend = now_ns();
			waitpid(cpid, &status, 0);
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				printf("cmd_status=%d ", status);
		}
	}
	if (already > 0)
		printf("already_gone=%d ", already);
	printf("cmd_ms=%.3f all_ms=%.3f\n", cmd != NULL ? ms(cmdend - t0) :
	    0.0, last != 0 ? ms(last - t0) : 0.0);
	return 0;
}

/* The parent pid of pid, from /proc/PID/stat; -1 if gone. */
static long
ppid_of(long pid)
{
	char path[64], buf[1024], *p;
	long ppid;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(buf, sizeof buf, f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %ld", &ppid) != 1)
		return -1;
	return ppid;
}

static int
cmd_tree(int argc, char **argv)
{
	static long pids[65536], ppids[65536], set[65536];
	char path[64], exe[PATH_MAX], child[PATH_MAX];
	struct dirent *de;
	int n = 0, ns = 0, i, j, grew;
	ssize_t len;
	DIR *d;

	if (argc < 3)
		die("%s", "usage: probe tree CHILD_EXE ROOT...");
	if (realpath(argv[1], child) == NULL)
		die("%s: no such file", argv[1]);
	if ((d = opendir("/proc")) == NULL)
		die("%s", "cannot read /proc");
	while ((de = readdir(d)) != NULL && n < 65536) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pids[n] = atol(de->d_name);
		if ((ppids[n] = ppid_of(pids[n])) != -1)
			n++;
	}
	closedir(d);
	for (i = 2; i < argc; i++)
		set[ns++] = atol(argv[i]);
	do {
		grew = 0;
		for (i = 0; i < n; i++) {
			if (pids[i] == 0)
				continue;
			for (j = 0; j < ns; j++)
				if (ppids[i] == set[j])
					break;
			if (j == ns)
				continue;
			set[ns++] = pids[i];
			pids[i] = 0;
			grew = 1;
		}
	} while (grew);
	for (i = 0; i < ns; i++) {
		snprintf(path, sizeof path, "/proc/%ld/exe", set[i]);
		len = readlink(path, exe, sizeof exe - 1);
		exe[len > 0 ? len : 0] = '\0';
		if (kill((pid_t)set[i], 0) == -1 && errno == ESRCH)
			continue;
		printf("%ld %s\n", set[i], strcmp(exe, child) == 0 ? "child" :
		    "sup");
	}
	return 0;
}

struct task {
	long		tid;
	long long	run_ns, vol, invol;
};

static long
status_field(const char *path, const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = atol(line + kl + 1);
			break;
		}
	fclose(f);
	return v;
}

/* Every thread of the pids; returns how many, at most max. */
static int
snapshot(char **pids, int npids, struct task *t, int max)
{
	char path[600];
	struct dirent *de;
	int i, n = 0;
	FILE *f;
	DIR *d;

	for (i = 0; i < npids; i++) {
		snprintf(path, sizeof path, "/proc/%s/task", pids[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL && n < max) {
			if (de->d_name[0] == '.')
				continue;
			t[n].tid = atol(de->d_name);
			snprintf(path, sizeof path, "/proc/%s/task/%s/schedstat",
			    pids[i], de->d_name);
			if ((f = fopen(path, "r")) == NULL)
				continue;
			if (fscanf(f, "%lld", &t[n].run_ns) != 1)
				t[n].run_ns = 0;
			fclose(f);
			snprintf(path, sizeof path, "/proc/%s/task/%s/status",
			    pids[i], de->d_name);
			t[n].vol = status_field(path, "voluntary_ctxt_switches");
			t[n].invol = status_field(path,
			    "nonvoluntary_ctxt_switches");
			if (t[n].vol >= 0 && t[n].invol >= 0)
				n++;
		}
		closedir(d);
	}
	return n;
}

static int
cmd_idle(int argc, char **argv)
{
	static struct task a[8192], b[8192];
	long long run = 0, vol = 0, invol = 0, pss = 0, rss = 0;
	char path[64];
	int na, nb, i, j, procs = 0;
	struct timespec ts;

	if (argc < 3)
		die("%s", "usage: probe idle SECS PID...");
	ts.tv_sec = atoi(argv[1]);
	ts.tv_nsec = 0;
	na = snapshot(argv + 2, argc - 2, a, 8192);
	nanosleep(&ts, NULL);
	nb = snapshot(argv + 2, argc - 2, b, 8192);
	for (j = 0; j < nb; j++) {
		for (i = 0; i < na && a[i].tid != b[j].tid; i++)
			;
		run += b[j].run_ns - (i < na ? a[i].run_ns : 0);
		vol += b[j].vol - (i < na ? a[i].vol : 0);
		invol += b[j].invol - (i < na ? a[i].invol : 0);
	}
	for (i = 2; i < argc; i++) {
		long p, r;

		snprintf(path, sizeof path, "/proc/%s/smaps_rollup", argv[i]);
		if ((p = status_field(path, "Pss")) < 0 ||
		    (r = status_field(path, "Rss")) < 0)
			continue;
		pss += p;
		rss += r;
		procs++;
	}
	printf("procs=%d threads=%d pss_kb=%lld rss_kb=%lld cpu_ms=%.3f "
	    "vol=%lld invol=%lld\n", procs, nb, pss, rss, ms(run), vol,
	    invol);
	return 0;
}

static int
cmd_cpu(int argc, char **argv)
{
	static struct task t[8192];
	long long run = 0;
	int n, i;

	n = snapshot(argv + 1, argc - 1, t, 8192);
	for (i = 0; i < n; i++)
		run += t[i].run_ns;
	printf("cpu_ns=%lld\n", run);
	return 0;
}

static int
cmd_time(int argc, char **argv)
{
	static double v[100000];
	long long t0;
	int reps, i, status, fails = 0;
	pid_t pid;

	if (argc < 3 || (reps = atoi(argv[1])) < 1 || reps > 100000)
		die("%s", "usage: probe time REPS CMD...");
	for (i = 0; i < reps; i++) {
		t0 = now_ns();
		pid = spawn(argv + 2, NULL);
		waitpid(pid, &status, 0);
		v[i] = ms(now_ns() - t0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fails++;
	}
	print_stats(v, reps);
	printf(" fails=%d\n", fails);
	return 0;
}

/* Kill the child of file, wait for its replacement; the latency in ns. */
static long long
restart_one(const char *file, int ifd, int timeout_ms)
{
	struct pollfd pfd;
	long long ts, ts2, t0;
	long pid, pid2;
	int fd;

	if (last_start(file, &pid, &ts) == -1)
		die("%s: no start recorded", file);
	if ((fd = pidfd_open_((pid_t)pid)) == -1)
		die("%s: the recorded child is not running", file);
	drain(ifd);
	t0 = now_ns();
	if (syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) == -1)
		die("pidfd_send_signal: %s", strerror(errno));
	close(fd);
	pfd.fd = ifd;
	pfd.events = POLLIN;
	for (;;) {
		if (last_start(file, &pid2, &ts2) == 0 && pid2 != pid &&
		    ts2 >= t0)
			return ts2 - t0;
		if (now_ns() - t0 > (long long)timeout_ms * 1000000)
			return -1;
		if (poll(&pfd, 1, 50) > 0)
			drain(ifd);
	}
}

static int
cmd_restart(int argc, char **argv)
{
	static double v[100000];
	struct timespec gap;
	long long lat;
	int samples, gap_ms, timeout_ms, nf, i, n = 0, ifd, timeouts = 0;

	if (argc < 5 || (samples = atoi(argv[1])) < 1 || samples > 100000)
		die("%s", "usage: probe restart SAMPLES GAP_MS TIMEOUT_MS "
		    "FILE...");
	gap_ms = atoi(argv[2]);
	timeout_ms = atoi(argv[3]);
	nf = argc - 4;
	ifd = watch_files(argv + 4, nf);
	gap.tv_sec = gap_ms / 1000;
	gap.tv_nsec = (long)(gap_ms % 1000) * 1000000;
	for (i = 0; i < samples; i++) {
		if ((lat = restart_one(argv[4 + i % nf], ifd,
		    timeout_ms)) == -1)
			timeouts++;
		else
			v[n++] = ms(lat);
		fprintf(stderr, "restart %s %.3f\n", argv[4 + i % nf],
		    lat == -1 ? -1.0 : ms(lat));
		nanosleep(&gap, NULL);
	}
	print_stats(v, n);
	printf(" timeouts=%d\n", timeouts);
	return timeouts == samples;
}

static int
cmd_spawn(int argc, char **argv)
{
	static double v[100000];
	char *cargv[3];
	long long t0, ts;
	long pid;
	int reps, i, n = 0, status;
	pid_t cpid;

	if (argc != 4 || (reps = atoi(argv[1])) < 1 || reps > 100000)
		die("%s", "usage: probe spawn REPS FILE CHILD");
	cargv[0] = argv[3];
	cargv[1] = argv[2];
	cargv[2] = NULL;
	for (i = 0; i < reps; i++) {
		t0 = now_ns();
		cpid = spawn(cargv, NULL);
		while (last_start(argv[2], &pid, &ts) == -1 || pid != cpid) {
			if (waitpid(cpid, &status, WNOHANG) == cpid)
				die("%s exited", argv[3]);
			usleep(100);
		}
		v[n++] = ms(ts - t0);
		kill(cpid, SIGKILL);
		waitpid(cpid, &status, 0);
	}
	print_stats(v, n);
	printf("\n");
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		die("%s", "usage: probe stamp|started|gone|tree|idle|time|"
		    "restart|spawn|cpu ...");
	if (strcmp(argv[1], "stamp") == 0)
		return cmd_stamp(argc - 1, argv + 1);
	if (strcmp(argv[1], "started") == 0)
		return cmd_started(argc - 1, argv + 1);
	if (strcmp(argv[1], "gone") == 0)
		return cmd_gone(argc - 1, argv + 1);
	if (strcmp(argv[1], "tree") == 0)
		return cmd_tree(argc - 1, argv + 1);
	if (strcmp(argv[1], "idle") == 0)
		return cmd_idle(argc - 1, argv + 1);
	if (strcmp(argv[1], "time") == 0)
		return cmd_time(argc - 1, argv + 1);
	if (strcmp(argv[1], "cpu") == 0)
		return cmd_cpu(argc - 1, argv + 1);
	if (strcmp(argv[1], "restart") == 0)
		return cmd_restart(argc - 1, argv + 1);
	if (strcmp(argv[1], "spawn") == 0)
		return cmd_spawn(argc - 1, argv + 1);
	die("unknown command %s", argv[1]);
	return 2;
}
