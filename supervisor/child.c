/*
 * The bots' processes: spawning one in its own session with a clean
 * environment, its identity, limits and cgroup; reaping (botd is a child
 * subreaper, so orphans of every bot's tree come back to it); signalling
 * a bot's whole tree; the notify pipe.
 *
 * A bot's tree is found without a cgroup as well: botd's descendants
 * whose chain of parents reaches the bot's main process, processes in its
 * session or process group, and orphans (reparented to botd) that belong
 * to it: same session, the bot's lock file open (every child inherits it
 * as fd 4), BOTD_BOT=NAME in their environment, or its cgroup. Every
 * process found is signalled through a pidfd opened and checked against
 * the snapshot first, so a reused pid is never signalled.
 *
 * Scanning /proc reads every process of the host, so operations on many
 * bots at once (stop all, shutdown, a reap of several bots) share one
 * snapshot: see "batches" below.
 */

#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "supervisor.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC	0x63677270
#endif

#define CHILD_NOTIFY_FD		3	/* BOTD_NOTIFY_FD in the child */
#define CHILD_LOCK_FD		4	/* the bot's lock file */
#define CHILD_DEPTH_MAX		256	/* parent chains longer are cut */
#define CHILD_PATH		"/usr/local/sbin:/usr/local/bin:" \
				"/usr/sbin:/usr/bin:/sbin:/bin"

/* One process of a /proc snapshot. */
struct proc {
	pid_t			 pid;
	pid_t			 ppid;
	pid_t			 pgrp;
	pid_t			 sid;
	char			 state;
	unsigned long long	 start;	/* starttime: pid + start = identity */
	int			 top;	/* index of its ancestor that is our
					   child, -1: not our descendant,
					   -2: not computed */
};

struct procs {
	struct proc	*v;
	size_t		 n;
};

/* What the child needs, prepared before fork. */
struct spawn {
	char		**envp;
	size_t		  nenv;
	uid_t		  uid;
	gid_t		  gid;
	gid_t		 *groups;
	int		  ngroups;
	int		  setid;
	char		 *cgroup_procs;
	int		  rlimit_as;
	pid_t		  parent;
};

static struct {
	char		*cg_base;	/* NULL: no cgroups */
	int		 cg_created;	/* we made cg_base */
	pid_t		 self;
	unsigned long	 spawns;	/* child_spawn() forks so far */
	int		 batch;		/* depth of child_batch_begin() */
	int		 have_snap;	/* snap holds the batch's snapshot */
	struct procs	 snap;
	unsigned long	 snap_spawns;	/* spawns when snap was taken */
} C;

static int
child_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int
child_pidfd_signal(int fd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0);
}

/* ------------------------------------------------------------ /proc */

/* Read /proc/PID/stat into p. 0, or -1 when the process is gone. */
static int
proc_read(pid_t pid, struct proc *p)
{
	char path[64], buf[1024], *rp;
	ssize_t n;
	int fd, r;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((rp = strrchr(buf, ')')) == NULL)
		return -1;
	r = sscanf(rp + 1, " %c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
	    "%*d %*d %*d %*d %*d %*d %llu", &p->state, &p->ppid, &p->pgrp,
	    &p->sid, &p->start);
	if (r != 5)
		return -1;
	p->pid = pid;
	p->top = -2;
	return 0;
}

/* A snapshot of every process. */
static void
procs_scan(struct procs *ps)
{
	struct dirent *de;
	struct proc p;
	DIR *d;
	char *end;
	long pid;
	size_t cap = 0;

	ps->v = NULL;
	ps->n = 0;
	if ((d = opendir("/proc")) == NULL) {
		log_warn("cannot read /proc");
		return;
	}
	while ((de = readdir(d)) != NULL) {
		pid = strtol(de->d_name, &end, 10);
		if (*end != '\0' || pid <= 0 || pid > INT_MAX)
			continue;
		if (proc_read((pid_t)pid, &p) == -1)
			continue;
		if (ps->n == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			ps->v = xreallocarray(ps->v, cap, sizeof *ps->v);
		}
		ps->v[ps->n++] = p;
	}
	closedir(d);
}

static void
procs_free(struct procs *ps)
{
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

static struct proc *
procs_find(const struct procs *ps, pid_t pid)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		if (ps->v[i].pid == pid)
			return &ps->v[i];
	return NULL;
}

/* ------------------------------------------------------------ batches */

/*
 * A batch shares one snapshot between the tree operations it contains
 * (taken at the first one, and again whenever an operation needs a newer
 * one). Why an old snapshot is safe where it is used:
 *
 * - No wrong process is signalled: every signal goes through a pidfd
 *   after checking the pid's start time against the snapshot's (as with
 *   a fresh scan), and a process keeps the bot it belongs to for life.
 * - A process forked after the snapshot is missing from it. For the stop
 *   signal (and SIGCONT) this is the race a fresh scan has too, only
 *   wider: what misses it is still in the bot's process group (kill(-pid))
 *   or is found by the stop's later steps, which never rely on an old
 *   snapshot: the tree counts as gone only as below, and the SIGKILL
 *   after stop_timeout (every SIGKILL) scans afresh.
 * - "Gone" is stable: once a snapshot taken after the bot's last spawn
 *   holds nothing of its tree alive, nothing can be added to it later
 *   (a live process has a parent in the tree, alive when it forked, and
 *   only botd starts a new tree), so an old snapshot may answer "gone".
 *   It may not answer "alive": the processes it saw may have died since
 *   (the bot would wait for nothing until its stop timeout), so each is
 *   checked again, and when none is left a fresh scan decides.
 * - A snapshot taken before the bot's current child was spawned knows
 *   nothing of that child's tree: it is never used for that bot.
 */
void
child_batch_begin(void)
{
	C.batch++;
}

void
child_batch_end(void)
{
	if (C.batch == 0 || --C.batch > 0)
		return;
	procs_free(&C.snap);
	C.have_snap = 0;
}

/* A fresh snapshot, in own or (in a batch) as the batch's. */
static struct procs *
procs_fresh(struct procs *own)
{
	if (C.batch == 0) {
		procs_scan(own);
		return own;
	}
	procs_free(&C.snap);
	procs_scan(&C.snap);
	C.have_snap = 1;
	C.snap_spawns = C.spawns;
	return &C.snap;
}

/*
 * A snapshot for an operation on bot b: the batch's if it was taken after
 * b's child was spawned, else a fresh one. *fresh: taken just now.
 */
static struct procs *
procs_for(const struct bot *b, struct procs *own, int *fresh)
{
	*fresh = 0;
	if (C.batch > 0 && C.have_snap && b->spawn_seq <= C.snap_spawns)
		return &C.snap;
	*fresh = 1;
	return procs_fresh(own);
}

/* Done with a snapshot from procs_for() or procs_fresh(). */
static void
procs_done(struct procs *ps, struct procs *own)
{
	if (ps == own)
		procs_free(own);
}

/* 1 if the process of a snapshot is still that process, and not dead. */
static int
proc_still_alive(const struct proc *p)
{
	struct proc now;

	return proc_read(p->pid, &now) == 0 && now.start == p->start &&
	    now.state != 'Z' && now.state != 'X';
}

/*
 * The index of p's ancestor whose parent is botd (p itself when it is our
 * child), or -1 when p does not descend from botd. A chain broken by a
 * parent that exited during the scan is read again once: its children
 * have been reparented to us by then.
 */
static int
procs_top(struct procs *ps, struct proc *p)
{
	struct proc *q = p, *parent;
	int depth;

	if (p->top != -2)
		return p->top;
	p->top = -1;
	if (p->pid == C.self)
		return -1;
	for (depth = 0; depth < CHILD_DEPTH_MAX; depth++) {
		if (q->ppid == C.self) {
			p->top = (int)(q - ps->v);
			break;
		}
		if (q->ppid <= 1)
			break;
		if ((parent = procs_find(ps, q->ppid)) == NULL) {
			struct proc again;

			if (proc_read(q->pid, &again) == -1 ||
			    again.start != q->start || again.ppid == q->ppid)
				break;
			q->ppid = again.ppid;
			continue;
		}
		q = parent;
	}
	return p->top;
}

/* 1 if the file at /proc/PID/fd/N is (dev, ino) for some N. */
static int
proc_has_file(pid_t pid, dev_t dev, ino_t ino)
{
	char path[64], *fp;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int found = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		xasprintf(&fp, "%s/%s", path, de->d_name);
		if (stat(fp, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
			found = 1;
		free(fp);
	}
	closedir(d);
	return found;
}

/* 1 if the process's environment holds exactly the string kv. */
static int
proc_has_env(pid_t pid, const char *kv)
{
	char path[64], buf[16384];
	size_t len = strlen(kv), off = 0;
	ssize_t n;
	int fd, found = 0;

	snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if ((n = read(fd, buf, sizeof buf - 1)) > 0) {
		buf[n] = '\0';
		while (!found && off < (size_t)n) {
			if (strncmp(buf + off, kv, len + 1) == 0)
				found = 1;
			off += strlen(buf + off) + 1;
		}
	}
	close(fd);
	return found;
}

/* ------------------------------------------------------------ cgroups */

/* The bot's cgroup directory (caller frees), or NULL without cgroups. */
static char *
cg_dir(const struct bot *b)
{
	char *p;

	if (C.cg_base == NULL)
		return NULL;
	xasprintf(&p, "%s/bot-%s", C.cg_base, b->conf->name);
	return p;
}

/* Write a string to a file; 0 or -1 (errno kept). */
static int
cg_write(const char *dir, const char *file, const char *s)
{
	char *path;
	int fd, r = -1, saved;

	xasprintf(&path, "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) != -1) {
		if (write(fd, s, strlen(s)) == (ssize_t)strlen(s))
			r = 0;
		saved = errno;
		close(fd);
		errno = saved;
	}
	free(path);
	return r;
}

/* Read a small file of a cgroup; NULL when absent. */
static char *
cg_read(const char *dir, const char *file)
{
	char *path, buf[4096];
	ssize_t n;
	int fd;

	xasprintf(&path, "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd == -1)
		return NULL;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

/* 1 if pid is listed in the bot's cgroup.procs. */
static int
cg_has(const char *procs, pid_t pid)
{
	const char *p = procs;
	char *end;
	long v;

	if (p == NULL)
		return 0;
	while (*p != '\0') {
		v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (v == pid)
			return 1;
		p = end;
		while (*p == '\n')
			p++;
	}
	return 0;
}

/*
 * 1 when the bot's cgroup dir holds its whole tree: its main process was
 * seen there. The child joins before it execs, so then everything it
 * forks is born inside, and an unprivileged bot cannot move a process
 * out (one running as botd's own user could, on purpose: not guarded).
 * A join that failed (the child goes on without its cgroup) is never
 * seen: then the tree is found through /proc as without cgroups.
 */
static int
cg_joined(struct bot *b)
{
	char *dir, *procs;

	if (!b->cg_joined && b->pid != 0 && (dir = cg_dir(b)) != NULL) {
		procs = cg_read(dir, "cgroup.procs");
		b->cg_joined = cg_has(procs, b->pid);
		free(procs);
		free(dir);
	}
	return b->cg_joined;
}

/* Our own cgroup v2 directory when it is delegated to us, else NULL. */
static char *
cg_own(void)
{
	char line[4096], mnt[PATH_MAX], *own = NULL, *dir = NULL;
	FILE *f;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return NULL;
	while (own == NULL && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			own = xstrdup(line + 3);
		}
	fclose(f);
	mnt[0] = '\0';
	if ((f = fopen("/proc/self/mountinfo", "re")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL) {
			char m[PATH_MAX], *dash = strstr(line, " - cgroup2 ");

			if (dash != NULL && sscanf(line, "%*s %*s %*s %*s "
			    "%4095s", m) == 1) {
				bc_strlcpy(mnt, m, sizeof mnt);
				break;
			}
		}
		fclose(f);
	}
	/* The root cgroup is the system's, never delegated to us. */
	if (own != NULL && mnt[0] != '\0' && strcmp(own, "/") != 0)
		xasprintf(&dir, "%s%s", mnt, own);
	free(own);
	return dir;
}

/* Use dir for the bots: it must be a cgroup v2 directory we can write. */
static int
cg_setup(const char *dir, int ours, char **cause)
{
	struct statfs sf;
	char *sup, pid[32];

	if (statfs(dir, &sf) == -1 || sf.f_type != CGROUP2_SUPER_MAGIC ||
	    access(dir, W_OK) == -1) {
		xasprintf(cause, "cgroup %s: not a writable cgroup v2 "
		    "directory", dir);
		return -1;
	}
	if (ours) {
		/* No processes in inner cgroups: botd moves to a leaf. */
		xasprintf(&sup, "%s/supervisor", dir);
		snprintf(pid, sizeof pid, "%ld", (long)getpid());
		if ((mkdir(sup, 0755) == -1 && errno != EEXIST) ||
		    cg_write(sup, "cgroup.procs", pid) == -1) {
			xasprintf(cause, "cgroup %s: %s", sup,
			    strerror(errno));
			free(sup);
			return -1;
		}
		free(sup);
	}
	if (cg_write(dir, "cgroup.subtree_control", "+memory") == -1)
		log_debug("cgroup %s: no memory controller", dir);
	C.cg_base = xstrdup(dir);
	return 0;
}

/* Make the bot's cgroup and set its memory limit; the procs file. */
static char *
cg_prepare(const struct bot *b, int *have_mem)
{
	char *dir, *procs, val[32];

	*have_mem = 0;
	if ((dir = cg_dir(b)) == NULL)
		return NULL;
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		log_warn("bot %s: cannot create cgroup %s", b->conf->name, dir);
		free(dir);
		return NULL;
	}
	if (b->conf->memory_max > 0)
		snprintf(val, sizeof val, "%llu",
		    (unsigned long long)b->conf->memory_max);
	else
		bc_strlcpy(val, "max", sizeof val);
	if (cg_write(dir, "memory.max", val) == 0)
		*have_mem = 1;
	xasprintf(&procs, "%s/cgroup.procs", dir);
	free(dir);
	return procs;
}

int
child_init(const char *cgroup, char **cause)
{
	char *own;
	int r = 0;

	C.self = getpid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
		xasprintf(cause, "cannot become a child subreaper: %s",
		    strerror(errno));
		return -1;
	}
	if (cgroup == NULL || strcmp(cgroup, "no") == 0)
		return 0;
	if (strcmp(cgroup, "auto") == 0) {
		if ((own = cg_own()) == NULL)
			return 0;
		if (cg_setup(own, 1, cause) == -1) {
			log_info("no delegated cgroup: %s", *cause);
			free(*cause);
			*cause = NULL;
		}
		free(own);
	} else {
		if (mkdir(cgroup, 0755) == 0)
			C.cg_created = 1;
		r = cg_setup(cgroup, 0, cause);
	}
	if (C.cg_base != NULL)
		log_info("bots get their own cgroups under %s", C.cg_base);
	return r;
}

void
child_cleanup(void)
{
	struct bot *b;
	char *dir;

	TAILQ_FOREACH(b, &bots, entry) {
		if ((dir = cg_dir(b)) != NULL && rmdir(dir) == -1 &&
		    errno != ENOENT)
			log_warn("cannot remove cgroup %s", dir);
		free(dir);
	}
	if (C.cg_created && rmdir(C.cg_base) == -1)
		log_warn("cannot remove cgroup %s", C.cg_base);
	free(C.cg_base);
	C.cg_base = NULL;
}

/* ------------------------------------------------------------ trees */

/* The bot whose main process is pid, or NULL. */
static struct bot *
child_find_main(pid_t pid)
{
	struct bot *b;

	TAILQ_FOREACH(b, &bots, entry)
		if (b->pid == pid)
			return b;
	return NULL;
}

/* 1 if the orphan subtree rooted at our child top belongs to bot b. */
static int
child_orphan_of(const struct bot *b, const struct proc *top,
    const struct stat *lock)
{
	char kv[BOTD_NAME_MAX + 16];

	if (b->sid > 0 && (top->sid == b->sid || top->pgrp == b->sid))
		return 1;
	if (lock != NULL && proc_has_file(top->pid, lock->st_dev,
	    lock->st_ino))
		return 1;
	snprintf(kv, sizeof kv, "BOTD_BOT=%s", b->conf->name);
	return proc_has_env(top->pid, kv);
}

/*
 * Mark (in *in, one flag per process of ps) the live processes of bot
 * b's tree. Returns how many there are.
 */
static size_t
child_tree(const struct bot *b, struct procs *ps, char *in)
{
	struct stat lock, *lp = NULL;
	char *dir, *cgprocs = NULL, *orphan;
	struct proc *p, *top;
	size_t i, n = 0;
	int t;

	if (b->lock_fd != -1 && fstat(b->lock_fd, &lock) == 0)
		lp = &lock;
	if ((dir = cg_dir(b)) != NULL)
		cgprocs = cg_read(dir, "cgroup.procs");
	free(dir);
	/* Orphan roots: 0 unknown, 1 ours, 2 not ours. */
	orphan = xcalloc(ps->n == 0 ? 1 : ps->n, 1);
	for (i = 0; i < ps->n; i++) {
		p = &ps->v[i];
		in[i] = 0;
		if (p->state == 'Z' || p->pid == C.self)
			continue;
		if (cgprocs != NULL && cg_has(cgprocs, p->pid)) {
			in[i] = 1;
			n++;
			continue;
		}
		if ((t = procs_top(ps, p)) < 0)
			continue;
		top = &ps->v[t];
		if (top->pid == b->pid && b->pid != 0)
			in[i] = 1;
		else if (b->sid > 0 && (p->sid == b->sid ||
		    p->pgrp == b->sid) && child_find_main(top->pid) == NULL)
			in[i] = 1;
		else if (child_find_main(top->pid) == NULL) {
			if (orphan[t] == 0)
				orphan[t] = child_orphan_of(b, top, lp) ? 1 : 2;
			in[i] = orphan[t] == 1;
		}
		n += in[i];
	}
	free(orphan);
	free(cgprocs);
	return n;
}

/* Signal one process of a snapshot through a pidfd, if it is still it. */
static void
child_signal_proc(const struct proc *p, int sig)
{
	struct proc now;
	int fd;

	if ((fd = child_pidfd_open(p->pid)) == -1) {
		if (errno == ENOSYS && proc_read(p->pid, &now) == 0 &&
		    now.start == p->start)
			kill(p->pid, sig);
		return;
	}
	if (proc_read(p->pid, &now) == 0 && now.start == p->start &&
	    child_pidfd_signal(fd, sig) == -1 && errno != ESRCH)
		log_warn("cannot signal pid %ld", (long)p->pid);
	close(fd);
}

/*
 * SIGKILL through cgroup.kill; 1 when that reached the whole tree. The
 * kernel kills every process of the cgroup, those forking meanwhile
 * included, so no scan of /proc is needed then.
 */
static int
child_cg_kill(struct bot *b)
{
	char *dir;
	int r;

	if ((dir = cg_dir(b)) == NULL)
		return 0;
	if ((r = cg_write(dir, "cgroup.kill", "1")) == -1 && errno != ENOENT)
		log_warn("bot %s: cgroup.kill", b->conf->name);
	free(dir);
	return r == 0 && b->cg_joined;
}

void
child_signal_tree(struct bot *b, int sig)
{
	struct procs own, *ps;
	char *in;
	size_t i;
	int fresh;

	/* While the main process lives: see if its cgroup holds it. */
	cg_joined(b);
	if (b->pidfd != -1)
		child_pidfd_signal(b->pidfd, sig);
	/* While the main process is not reaped its group id is pinned. */
	if (b->pid != 0)
		kill(-b->pid, sig);
	if (sig == SIGKILL && child_cg_kill(b))
		return;
	/*
	 * A SIGKILL is the last word (after stop_timeout, after a death):
	 * it must reach what was forked up to now, so it scans afresh.
	 */
	if (sig == SIGKILL)
		ps = procs_fresh(&own);
	else
		ps = procs_for(b, &own, &fresh);
	in = xcalloc(ps->n == 0 ? 1 : ps->n, 1);
	child_tree(b, ps, in);
	for (i = 0; i < ps->n; i++)
		if (in[i] && ps->v[i].pid != b->pid)
			child_signal_proc(&ps->v[i], sig);
	free(in);
	procs_done(ps, &own);
}

/*
 * 0 if the tree has no live process in ps, 1 if it has one; with check
 * (ps may be old), 1 only for one still alive now, and -1 when those of
 * ps have all died since.
 */
static int
child_tree_in(const struct bot *b, struct procs *ps, int check)
{
	char *in;
	size_t i;
	int r;

	in = xcalloc(ps->n == 0 ? 1 : ps->n, 1);
	r = child_tree(b, ps, in) > 0;
	if (r && check) {
		r = -1;
		for (i = 0; i < ps->n && r == -1; i++)
			if (in[i] && proc_still_alive(&ps->v[i]))
				r = 1;
	}
	free(in);
	return r;
}

int
child_tree_alive(const struct bot *b)
{
	struct procs own, *ps;
	char *dir, *ev;
	int fresh, n;

	if (b->pid != 0)
		return 1;
	if ((dir = cg_dir(b)) != NULL) {
		ev = b->cg_joined ? cg_read(dir, "cgroup.events") : NULL;
		free(dir);
		if (ev != NULL) {
			n = strstr(ev, "populated 1") != NULL;
			free(ev);
			return n;
		}
	}
	/*
	 * An old snapshot (see "batches") answers "gone", or "alive" for a
	 * process that still is; else a fresh scan decides.
	 */
	ps = procs_for(b, &own, &fresh);
	if ((n = child_tree_in(b, ps, !fresh)) == -1) {
		procs_done(ps, &own);
		ps = procs_fresh(&own);
		n = child_tree_in(b, ps, 0);
	}
	procs_done(ps, &own);
	return n;
}

void
child_kill_orphans(void)
{
	struct procs ps;
	size_t i, n = 0;

	procs_scan(&ps);
	for (i = 0; i < ps.n; i++)
		if (ps.v[i].state != 'Z' && procs_top(&ps, &ps.v[i]) >= 0) {
			child_signal_proc(&ps.v[i], SIGKILL);
			n++;
		}
	procs_free(&ps);
	if (n > 0)
		log_info("killed %zu leftover processes", n);
}

/*
 * Reap everything first, then act on it in one batch: the snapshot the
 * bots' tree checks share is taken after every death reaped here.
 */
void
child_reap(void)
{
	struct reaped {
		struct bot	*b;
		int		 st;
	} *v = NULL;
	struct bot *b;
	size_t i, n = 0, cap = 0;
	pid_t pid;
	int st, other = 0;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if ((b = child_find_main(pid)) != NULL) {
			if (n == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				v = xreallocarray(v, cap, sizeof *v);
			}
			v[n].b = b;
			v[n++].st = st;
		} else if (!alert_child_exited(pid, st))
			other = 1;
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
	child_batch_begin();
	for (i = 0; i < n; i++)
		bot_child_exited(v[i].b, v[i].st);
	if (other)
		TAILQ_FOREACH(b, &bots, entry)
			bot_tree_check(b);
	child_batch_end();
	free(v);
}

/* ------------------------------------------------------------ locks */

/* SIGKILL every process but us holding the file (dev, ino) open. */
static size_t
child_kill_holders(dev_t dev, ino_t ino)
{
	struct procs ps;
	size_t i, n = 0;

	procs_scan(&ps);
	for (i = 0; i < ps.n; i++) {
		if (ps.v[i].pid == C.self || ps.v[i].state == 'Z' ||
		    !proc_has_file(ps.v[i].pid, dev, ino))
			continue;
		child_signal_proc(&ps.v[i], SIGKILL);
		n++;
	}
	procs_free(&ps);
	return n;
}

int
child_lock_bot(struct bot *b, const char *path, int64_t wait_ms,
    char **cause)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	struct stat st;
	int64_t end = bc_now_ms() + wait_ms;
	size_t killed = 0;
	int fd;

	if (b->lock_fd != -1)
		return 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1 || fstat(fd, &st) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		goto fail;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (bc_now_ms() >= end) {
			xasprintf(cause, "an old instance still holds %s",
			    path);
			goto fail;
		}
		killed += child_kill_holders(st.st_dev, st.st_ino);
		nanosleep(&ts, NULL);
	}
	if (killed > 0)
		log_warnx("bot %s: killed %zu processes of an old instance "
		    "(they held %s)", b->conf->name, killed, path);
	b->lock_fd = fd;
	return 0;
fail:
	if (fd != -1)
		close(fd);
	return -1;
}

/* ------------------------------------------------------------ notify */

void
child_notify_close(struct bot *b)
{
	if (b->notify_ev != NULL) {
		event_free(b->notify_ev);
		b->notify_ev = NULL;
	}
	if (b->notify_fd != -1) {
		close(b->notify_fd);
		b->notify_fd = -1;
	}
	b->notify_len = 0;
}

/* Lines from BOTD_NOTIFY_FD; an overlong line is dropped whole. */
static void
child_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bot *b = arg;
	char buf[1024];
	ssize_t n, i;

	(void)what;
	if ((n = read(fd, buf, sizeof buf)) == -1 &&
	    (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		child_notify_close(b);
		return;
	}
	/* The bot's program runs: it has joined its cgroup, if it could. */
	cg_joined(b);
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			if (b->notify_len < sizeof b->notify_buf) {
				b->notify_buf[b->notify_len] = '\0';
				bot_notify_line(b, b->notify_buf);
			}
			b->notify_len = 0;
		} else if (b->notify_len < sizeof b->notify_buf - 1)
			b->notify_buf[b->notify_len++] = buf[i];
		else
			b->notify_len = sizeof b->notify_buf;
	}
}

/* ------------------------------------------------------------ spawn */

static void
spawn_release(struct spawn *sp)
{
	config_env_free(sp->envp, sp->nenv);
	free(sp->groups);
	free(sp->cgroup_procs);
	memset(sp, 0, sizeof *sp);
}

/* Set name=value in the environment being built (replacing). */
static void
spawn_setenv(struct spawn *sp, const char *name, const char *value)
{
	size_t i, len = strlen(name);
	char *kv;

	xasprintf(&kv, "%s=%s", name, value);
	for (i = 0; i < sp->nenv; i++)
		if (strncmp(sp->envp[i], name, len) == 0 &&
		    sp->envp[i][len] == '=') {
			free(sp->envp[i]);
			sp->envp[i] = kv;
			return;
		}
	sp->envp = xreallocarray(sp->envp, sp->nenv + 2, sizeof *sp->envp);
	sp->envp[sp->nenv++] = kv;
	sp->envp[sp->nenv] = NULL;
}

/* The identity: the user's, or ours. */
static int
spawn_identity(const struct bot *b, struct spawn *sp, char **cause)
{
	struct passwd *pw;
	int n = 64;

	errno = 0;
	pw = b->conf->user != NULL ? getpwnam(b->conf->user) :
	    getpwuid(geteuid());
	if (pw == NULL && b->conf->user != NULL) {
		xasprintf(cause, "no such user '%s'", b->conf->user);
		return -1;
	}
	spawn_setenv(sp, "HOME", pw != NULL ? pw->pw_dir : "/");
	spawn_setenv(sp, "USER", pw != NULL ? pw->pw_name : "root");
	spawn_setenv(sp, "LOGNAME", pw != NULL ? pw->pw_name : "root");
	if (b->conf->user == NULL)
		return 0;
	sp->setid = 1;
	sp->uid = pw->pw_uid;
	sp->gid = pw->pw_gid;
	sp->groups = xreallocarray(NULL, (size_t)n, sizeof *sp->groups);
	if (getgrouplist(pw->pw_name, pw->pw_gid, sp->groups, &n) == -1) {
		sp->groups = xreallocarray(sp->groups, (size_t)n,
		    sizeof *sp->groups);
		if (getgrouplist(pw->pw_name, pw->pw_gid, sp->groups,
		    &n) == -1) {
			xasprintf(cause, "cannot list the groups of '%s'",
			    pw->pw_name);
			return -1;
		}
	}
	sp->ngroups = n;
	return 0;
}

/* The clean environment: a few basics, the env file, botd's own. */
static int
spawn_environment(const struct bot *b, struct spawn *sp, char **cause)
{
	static const char *pass[] = { "LANG", "TZ", "ASAN_OPTIONS",
	    "UBSAN_OPTIONS", "LSAN_OPTIONS" };
	char **env, buf[64];
	const char *v;
	size_t i, n;

	spawn_setenv(sp, "PATH", CHILD_PATH);
	for (i = 0; i < BC_NELEM(pass); i++)
		if ((v = getenv(pass[i])) != NULL)
			spawn_setenv(sp, pass[i], v);
	if (spawn_identity(b, sp, cause) == -1)
		return -1;
	if (b->conf->env_file != NULL) {
		if (config_read_env(b->conf->env_file, &env, &n, cause) == -1)
			return -1;
		for (i = 0; i < n; i++) {
			char *eq = strchr(env[i], '=');

			*eq = '\0';
			spawn_setenv(sp, env[i], eq + 1);
		}
		config_env_free(env, n);
	}
	snprintf(buf, sizeof buf, "%d", CHILD_NOTIFY_FD);
	spawn_setenv(sp, "BOTD_NOTIFY_FD", buf);
	if (b->conf->watchdog_ms > 0) {
		snprintf(buf, sizeof buf, "%lld.%03lld",
		    (long long)(b->conf->watchdog_ms / 1000),
		    (long long)(b->conf->watchdog_ms % 1000));
		spawn_setenv(sp, "BOTD_WATCHDOG_SEC", buf);
	}
	spawn_setenv(sp, "BOTD_BOT", b->conf->name);
	return 0;
}

/* In the child: fail with a message on the bot's stderr. */
static void __attribute__((noreturn))
spawn_fail(const struct bot *b, const char *what, int code)
{
	dprintf(2, "botd: bot %s: %s: %s\n", b->conf->name, what,
	    strerror(errno));
	_exit(code);
}

/* In the child: stdin, stdout/stderr, notify and lock fds; close the rest. */
static void
spawn_fds(const struct bot *b, int notify_w)
{
	int null, out, nfd, lfd = -1;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		spawn_fail(b, "/dev/null", BC_EXIT_TEMP);
	out = b->log != NULL ? logs_write_fd(b->log) : null;
	/* Above every target first, so no dup2 clobbers a source. */
	null = fcntl(null, F_DUPFD_CLOEXEC, 10);
	out = fcntl(out, F_DUPFD_CLOEXEC, 10);
	nfd = fcntl(notify_w, F_DUPFD_CLOEXEC, 10);
	if (b->lock_fd != -1)
		lfd = fcntl(b->lock_fd, F_DUPFD_CLOEXEC, 10);
	if (null == -1 || out == -1 || nfd == -1 ||
	    (b->lock_fd != -1 && lfd == -1) || dup2(null, 0) == -1 ||
	    dup2(out, 1) == -1 || dup2(out, 2) == -1 ||
	    dup2(nfd, CHILD_NOTIFY_FD) == -1 ||
	    (lfd != -1 && dup2(lfd, CHILD_LOCK_FD) == -1))
		_exit(BC_EXIT_TEMP);
	close_range(lfd != -1 ? CHILD_LOCK_FD + 1 : CHILD_NOTIFY_FD + 1,
	    ~0U, 0);
}

/*
 * In the child: botd runs with a low OOM score (the unit's -500) that a
 * bot must not inherit: back to the neutral 0, before giving up root
 * (raising it needs no privilege; without the file, nothing to do).
 */
static void
spawn_oom_reset(void)
{
	int fd;

	if ((fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC)) ==
	    -1)
		return;
	if (write(fd, "0", 1) != 1)
		dprintf(2, "botd: oom_score_adj: %s\n", strerror(errno));
	close(fd);
}

/* In the child: limits, identity, then exec. */
static void __attribute__((noreturn))
spawn_exec(const struct bot *b, const struct spawn *sp, int notify_w)
{
	struct rlimit rl;
	sigset_t all;
	int sig, fd;

	setsid();
	if (sp->cgroup_procs != NULL &&
	    ((fd = open(sp->cgroup_procs, O_WRONLY | O_CLOEXEC)) == -1 ||
	    write(fd, "0", 1) != 1))
		dprintf(2, "botd: bot %s: cannot join %s: %s\n",
		    b->conf->name, sp->cgroup_procs, strerror(errno));
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	spawn_fds(b, notify_w);
	if (b->conf->nofile > 0) {
		rl.rlim_cur = rl.rlim_max = b->conf->nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			spawn_fail(b, "setrlimit nofile", BC_EXIT_PERM);
	}
	if (sp->rlimit_as) {
		rl.rlim_cur = rl.rlim_max = b->conf->memory_max;
		if (setrlimit(RLIMIT_AS, &rl) == -1)
			spawn_fail(b, "setrlimit as", BC_EXIT_PERM);
	}
	spawn_oom_reset();
	if (sp->setid && (setgroups((size_t)sp->ngroups, sp->groups) == -1 ||
	    setgid(sp->gid) == -1 || setuid(sp->uid) == -1))
		spawn_fail(b, "cannot change user", BC_EXIT_PERM);
	if (chdir(b->conf->workdir != NULL ? b->conf->workdir : "/") == -1)
		spawn_fail(b, "chdir", BC_EXIT_PERM);
	/* Die with botd; set after setuid, which clears it. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
	    getppid() != sp->parent)
		_exit(BC_EXIT_TEMP);
	execve(b->conf->exec, b->conf->argv, sp->envp);
	spawn_fail(b, b->conf->exec, errno == ENOENT || errno == EACCES ||
	    errno == ENOEXEC ? BC_EXIT_PERM : BC_EXIT_TEMP);
}

/* In botd after fork: the notify pipe's read end and its event. */
static int
spawn_parent(struct bot *b, pid_t pid, int notify_r, char **cause)
{
	b->pid = pid;
	b->sid = pid;
	b->spawn_seq = ++C.spawns;	/* older snapshots miss its tree */
	b->cg_joined = 0;
	if ((b->pidfd = child_pidfd_open(pid)) == -1 && errno != ENOSYS)
		log_warn("bot %s: pidfd_open", b->conf->name);
	b->notify_fd = notify_r;
	b->notify_len = 0;
	if (fcntl(notify_r, F_SETFL, O_NONBLOCK) == -1 ||
	    (b->notify_ev = event_new(bc_ev_base(), notify_r,
	    EV_READ | EV_PERSIST, child_notify_cb, b)) == NULL ||
	    event_add(b->notify_ev, NULL) == -1) {
		/* The child runs: it is reaped and treated as any other. */
		xasprintf(cause, "notify pipe: %s", strerror(errno));
		child_notify_close(b);
		return -1;
	}
	return 0;
}

int
child_spawn(struct bot *b, char **cause)
{
	struct spawn sp;
	sigset_t all, old;
	int np[2] = { -1, -1 }, have_mem;
	pid_t pid;

	memset(&sp, 0, sizeof sp);
	sp.parent = getpid();
	if (spawn_environment(b, &sp, cause) == -1)
		goto fail;
	sp.cgroup_procs = cg_prepare(b, &have_mem);
	sp.rlimit_as = b->conf->memory_max > 0 && !have_mem;
	if (pipe2(np, O_CLOEXEC) == -1) {
		xasprintf(cause, "pipe: %s", strerror(errno));
		goto fail;
	}
	/*
	 * Block every signal across fork: until the child has reset its
	 * dispositions, a signal would run libevent's handler there and
	 * write to the socketpair it shares with us, so a stop sent to a
	 * just-forked bot would reach botd as its own SIGTERM.
	 */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == -1) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		xasprintf(cause, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0)
		spawn_exec(b, &sp, np[1]);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(np[1]);
	spawn_release(&sp);
	if (spawn_parent(b, pid, np[0], cause) == -1) {
		log_warnx("bot %s: %s", b->conf->name, *cause);
		free(*cause);
		*cause = NULL;
	}
	return 0;
fail:
	if (np[0] != -1)
		close(np[0]);
	if (np[1] != -1)
		close(np[1]);
	spawn_release(&sp);
	return -1;
}

/* ------------------------------------------------------------ memory */

int64_t
child_memory(const struct bot *b)
{
	char *dir, *v, path[64], line[256];
	long long kb = -1;
	FILE *f;

	if ((dir = cg_dir(b)) != NULL) {
		v = cg_read(dir, "memory.current");
		free(dir);
		if (v != NULL) {
			kb = strtoll(v, NULL, 10);
			free(v);
			return kb;
		}
	}
	if (b->pid == 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/status", (long)b->pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* VmRSS of pid in bytes, or 0. */
static int64_t
child_rss(pid_t pid)
{
	char path[64], buf[256];
	long long pages = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%*s %lld", &pages) != 1 || pages < 0)
		return 0;
	return (int64_t)pages * sysconf(_SC_PAGESIZE);
}

void
child_memory_all(child_memory_cb *cb, void *arg)
{
	struct procs ps = { NULL, 0 };
	struct bot *b;
	char *dir, *v, *in = NULL;
	int64_t sum;
	size_t i;
	int scanned = 0;

	TAILQ_FOREACH(b, &bots, entry) {
		if ((dir = cg_dir(b)) != NULL) {
			v = cg_read(dir, "memory.current");
			free(dir);
			if (v != NULL) {
				cb(b, strtoll(v, NULL, 10), arg);
				free(v);
				continue;
			}
		}
		if (b->pid == 0) {
			cb(b, -1, arg);
			continue;
		}
		if (!scanned) {
			procs_scan(&ps);
			in = xcalloc(ps.n == 0 ? 1 : ps.n, 1);
			scanned = 1;
		}
		child_tree(b, &ps, in);
		for (i = 0, sum = 0; i < ps.n; i++)
			if (in[i])
				sum += child_rss(ps.v[i].pid);
		cb(b, sum, arg);
	}
	free(in);
	procs_free(&ps);
}
