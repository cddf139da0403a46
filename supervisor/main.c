/*
 * botd: the supervisor's main program. Loads botd.ini, takes the single
 * instance lock, becomes a child subreaper, opens the control socket,
 * starts the bots and runs the loop: SIGCHLD reaps, SIGHUP reloads,
 * SIGTERM and SIGINT stop every bot in parallel and exit 0. Status files
 * in STATE_DIR and the systemd notify protocol (Type=notify) report.
 *
 *   botd -c FILE [-v]        run in the foreground, log to stderr
 *   botd -c FILE --check     validate: exit 0, or 100 with the reason
 */

#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "supervisor.h"

#define BOTD_LOCK_WAIT_MS	5000	/* for an old instance to die */
#define BOTD_EXIT_GRACE_MS	5000	/* past the largest stop_timeout */

struct bot_list bots = TAILQ_HEAD_INITIALIZER(bots);

static struct {
	struct botd_conf *conf;
	int		  lock_fd;
	int		  stopping;
	struct bc_timer	 *gc;		/* frees removed bots when down */
	struct bc_timer	 *deadline;	/* shutdown took too long */
	/* systemd */
	char		 *notify_path;	/* $NOTIFY_SOCKET, NULL: none */
	int		  notify_fd;
	struct bc_timer	 *sd_watchdog;
	int64_t		  sd_watchdog_ms;
	char		  sd_status[128];
	int64_t		  started_wall;
	char		 *marker;	/* STATE_DIR/botd.running */
	char		 *unclean;	/* what the marker said, or NULL */
} M = { NULL, -1, 0, NULL, NULL, NULL, -1, NULL, 0, "", 0, NULL, NULL };

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: botd -c FILE [--check] [-v]\n");
	exit(BC_EXIT_PERM);
}

/* ------------------------------------------------------------ systemd */

/* Remember $NOTIFY_SOCKET and $WATCHDOG_USEC; bots never see them. */
static void
sd_init(void)
{
	const char *s, *wpid;
	long long usec;

	if ((s = getenv("NOTIFY_SOCKET")) != NULL && (s[0] == '/' ||
	    s[0] == '@') && strlen(s) < sizeof(((struct sockaddr_un *)0)->
	    sun_path))
		M.notify_path = xstrdup(s);
	if ((s = getenv("WATCHDOG_USEC")) != NULL) {
		wpid = getenv("WATCHDOG_PID");
		usec = strtoll(s, NULL, 10);
		if (usec > 0 && (wpid == NULL ||
		    strtol(wpid, NULL, 10) == (long)getpid()))
			M.sd_watchdog_ms = usec / 1000 > 0 ? usec / 1000 : 1;
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* One sd_notify datagram; failures are logged at debug level only. */
static void
sd_send(const char *msg)
{
	struct sockaddr_un sun;
	socklen_t len;

	if (M.notify_path == NULL)
		return;
	if (M.notify_fd == -1 && (M.notify_fd = socket(AF_UNIX,
	    SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		log_warn("notify socket");
		return;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, M.notify_path, strlen(M.notify_path));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(M.notify_path));
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0';		/* abstract */
	else
		len++;
	if (sendto(M.notify_fd, msg, strlen(msg), MSG_NOSIGNAL, 
	    (struct sockaddr *)&sun, len) == -1)
		log_debug("sd_notify %s: %s", M.notify_path, strerror(errno));
}

static void
sd_watchdog_cb(void *arg)
{
	(void)arg;
	sd_send("WATCHDOG=1");
	bc_timer_start(M.sd_watchdog, M.sd_watchdog_ms / 2);
}

/* STATUS= with a one-line summary, when it changed. */
static void
sd_status(void)
{
	char buf[sizeof M.sd_status], msg[sizeof buf + 8];
	struct bot *b;
	int run = 0, back = 0, fatal = 0;

	if (M.notify_path == NULL)
		return;
	TAILQ_FOREACH(b, &bots, entry) {
		run += b->state == STATE_RUNNING;
		back += b->state == STATE_BACKOFF;
		fatal += b->state == STATE_FATAL;
	}
	snprintf(buf, sizeof buf, "%d running, %d backoff, %d fatal", run,
	    back, fatal);
	if (strcmp(buf, M.sd_status) == 0)
		return;
	memcpy(M.sd_status, buf, sizeof buf);
	snprintf(msg, sizeof msg, "STATUS=%s", buf);
	sd_send(msg);
}

/* ------------------------------------------------------------ marker */

int64_t
botd_started_wall(void)
{
	return M.started_wall;
}

/*
 * STATE_DIR/botd.running exists while botd runs and is removed at a
 * clean exit: found at start, the last botd did not stop cleanly. Read
 * it (M.unclean), then write ours: "PID STARTED_MS".
 */
static void
marker_take(void)
{
	char buf[64];
	ssize_t n;
	int fd;

	xasprintf(&M.marker, "%s/botd.running", M.conf->state_dir);
	if ((fd = open(M.marker, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) != -1) {
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, " \n")] = '\0';
		xasprintf(&M.unclean, "%s", buf[0] != '\0' ? buf : "?");
		log_warnx("the last botd (pid %s) did not stop cleanly",
		    M.unclean);
	}
	snprintf(buf, sizeof buf, "%ld %lld\n", (long)getpid(),
	    (long long)M.started_wall);
	fd = open(M.marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644);
	if (fd == -1 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf))
		log_warn("cannot write %s", M.marker);
	if (fd != -1)
		close(fd);
}

/* A clean exit: no marker left. */
static void
marker_release(void)
{
	if (M.marker != NULL && unlink(M.marker) == -1)
		log_warn("cannot remove %s", M.marker);
	free(M.marker);
	free(M.unclean);
	M.marker = M.unclean = NULL;
}

/* ------------------------------------------------------------ status */

/* STATE_DIR/NAME.status (or NAME.status.new); caller frees. */
static char *
status_path(const char *name, const char *suffix)
{
	char *p;

	xasprintf(&p, "%s/%s.status%s", M.conf->state_dir, name, suffix);
	return p;
}

void
botd_write_status(const struct bot *b)
{
	char *tmp, *path, *text;
	json_t *o;
	size_t len;
	int fd, ok;

	o = bot_status_json(b);
	json_object_set_new(o, "updated", json_integer(bc_wall_ms()));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return;
	tmp = status_path(b->conf->name, ".new");
	path = status_path(b->conf->name, "");
	len = strlen(text);
	text[len] = '\n';
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ok = fd != -1 && write(fd, text, len + 1) == (ssize_t)(len + 1);
	if (fd != -1 && close(fd) == -1)
		ok = 0;
	if (!ok || rename(tmp, path) == -1) {
		log_warn("cannot write %s", path);
		unlink(tmp);
	}
	free(text);
	free(tmp);
	free(path);
}

/* Remove status files of bots that are not configured. */
static void
status_prune(void)
{
	struct dirent *de;
	char name[BOTD_NAME_MAX + 1], *path;
	size_t len;
	DIR *d;

	if ((d = opendir(M.conf->state_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 7 || len - 7 > BOTD_NAME_MAX ||
		    strcmp(de->d_name + len - 7, ".status") != 0)
			continue;
		memcpy(name, de->d_name, len - 7);
		name[len - 7] = '\0';
		if (bots_find(name) != NULL)
			continue;
		path = status_path(name, "");
		unlink(path);
		free(path);
	}
	closedir(d);
}

/* ------------------------------------------------------------ bots */

struct bot *
bots_find(const char *name)
{
	struct bot *b;

	TAILQ_FOREACH(b, &bots, entry)
		if (strcmp(b->conf->name, name) == 0 && !b->removed)
			return b;
	return NULL;
}

/* The bot of that name, removed ones included. */
static struct bot *
bots_find_any(const char *name)
{
	struct bot *b;

	TAILQ_FOREACH(b, &bots, entry)
		if (strcmp(b->conf->name, name) == 0)
			return b;
	return NULL;
}

static void
bots_log_line(void *arg, const char *line, size_t len)
{
	control_log_line(arg, line, len);
}

/* A new bot with its log sink. NULL with *cause. */
static struct bot *
bots_make(const struct botd_conf *c, const struct bot_conf *bc,
    char **cause)
{
	struct bot *b = bot_new(bc);

	b->log = logs_open(c->log_dir, bc->name, bc->log_max_bytes,
	    bc->log_files, bots_log_line, b, cause);
	if (b->log == NULL) {
		bot_free(b);
		return NULL;
	}
	return b;
}

int
botd_lock_bot(struct bot *b, char **cause)
{
	char *path;
	int r;

	xasprintf(&path, "%s/%s.lock", M.conf->state_dir, b->conf->name);
	r = child_lock_bot(b, path, BOTD_LOCK_WAIT_MS, cause);
	free(path);
	return r;
}

/* Free the removed bots that are down. */
static void
bots_gc(void *arg)
{
	struct bot *b, *next;
	char *path;

	(void)arg;
	for (b = TAILQ_FIRST(&bots); b != NULL; b = next) {
		next = TAILQ_NEXT(b, entry);
		if (!b->removed || !bot_is_down(b))
			continue;
		log_info("bot %s: removed", b->conf->name);
		TAILQ_REMOVE(&bots, b, entry);
		if (bots_find(b->conf->name) == NULL) {
			path = status_path(b->conf->name, "");
			unlink(path);
			free(path);
		}
		bot_free(b);
	}
	sd_status();
}

/* All bots are down during shutdown: leave the loop. */
static void
bots_check_done(void)
{
	struct bot *b;

	if (!M.stopping)
		return;
	TAILQ_FOREACH(b, &bots, entry)
		if (!bot_is_down(b))
			return;
	bc_ev_stop();
}

void
botd_changed(struct bot *b)
{
	if (!b->removed)
		botd_write_status(b);
	sd_status();
	control_bot_changed(b);
	if (b->removed && bot_is_down(b))
		bc_timer_start(M.gc, 0);
	bots_check_done();
}

/* ------------------------------------------------------------ reload */

/* A changed section: the new one takes effect at the next start. */
static void
reload_changed(struct bot *b, const struct bot_conf *bc)
{
	int start;

	log_info("bot %s: configuration changed", bc->name);
	logs_set_limits(b->log, bc->log_max_bytes, bc->log_files);
	config_bot_free(b->conf_next);
	b->conf_next = config_bot_dup(bc);
	/* Running bots restart; others start only as a new bot would. */
	start = b->want == WANT_UP || (bc->autostart && (!b->spawned ||
	    b->removed));
	b->removed = 0;
	if (start)
		bot_restart(b);
	else if (b->pid == 0 && b->state != STATE_STOPPING) {
		config_bot_free(b->conf);
		b->conf = b->conf_next;
		b->conf_next = NULL;
		botd_changed(b);
	}
}

/* Keep a [botd] setting of the running configuration in nc. */
static void
reload_keep(const char *key, const char *running, char **next)
{
	if ((running == NULL) != (*next == NULL) || (running != NULL &&
	    strcmp(running, *next) != 0))
		log_warnx("reload: [botd] %s changes only when botd restarts",
		    key);
	free(*next);
	*next = running != NULL ? xstrdup(running) : NULL;
}

/* What botd set up at start stays as it is until it restarts. */
static void
reload_globals(const struct botd_conf *running, struct botd_conf *nc)
{
	reload_keep("socket", running->socket, &nc->socket);
	reload_keep("socket_group", running->socket_group,
	    &nc->socket_group);
	reload_keep("log_dir", running->log_dir, &nc->log_dir);
	reload_keep("state_dir", running->state_dir, &nc->state_dir);
	reload_keep("lock_file", running->lock_file, &nc->lock_file);
	reload_keep("cgroup", running->cgroup, &nc->cgroup);
	reload_keep("metrics_listen", running->metrics_listen,
	    &nc->metrics_listen);
	if (running->metrics_public != nc->metrics_public)
		log_warnx("reload: [botd] metrics_public changes only when "
		    "botd restarts");
	nc->metrics_public = running->metrics_public;
	if (running->status_public != nc->status_public)
		log_warnx("reload: [botd] status_public changes only when "
		    "botd restarts");
	nc->status_public = running->status_public;
}

/* Bots of nc that are not running yet, with their sinks; or -1. */
static int
reload_prepare(const struct botd_conf *nc, struct bot_list *added,
    char **cause)
{
	struct bot *b;
	size_t i;

	for (i = 0; i < nc->nbots; i++) {
		if (bots_find_any(nc->bots[i].name) != NULL)
			continue;
		if ((b = bots_make(nc, &nc->bots[i], cause)) == NULL) {
			while ((b = TAILQ_FIRST(added)) != NULL) {
				TAILQ_REMOVE(added, b, entry);
				bot_free(b);
			}
			return -1;
		}
		TAILQ_INSERT_TAIL(added, b, entry);
	}
	return 0;
}

int
botd_reload(char **cause)
{
	struct bot_list added = TAILQ_HEAD_INITIALIZER(added);
	struct botd_conf *nc;
	const struct bot_conf *bc;
	struct bot *b, *next;

	if (M.stopping) {
		*cause = xstrdup("botd is shutting down");
		return -1;
	}
	if ((nc = config_load(M.conf->path, cause)) != NULL)
		reload_globals(M.conf, nc);
	if (nc == NULL || reload_prepare(nc, &added, cause) == -1) {
		log_warnx("reload failed, keeping the old configuration: %s",
		    *cause);
		config_free(nc);
		return -1;
	}
	child_batch_begin();	/* one /proc scan for all the stops */
	for (b = TAILQ_FIRST(&bots); b != NULL; b = next) {
		next = TAILQ_NEXT(b, entry);
		if ((bc = config_find(nc, b->conf->name)) == NULL) {
			if (!b->removed)
				log_info("bot %s: removed from the "
				    "configuration", b->conf->name);
			b->removed = 1;
			bot_want_down(b);
		} else if (b->removed || !config_bot_equal(M.conf, nc,
		    b->conf->name))
			reload_changed(b, bc);
	}
	child_batch_end();
	config_free(M.conf);
	M.conf = nc;
	logs_set_total_max(nc->log_total_max);
	alert_configure(nc);
	while ((b = TAILQ_FIRST(&added)) != NULL) {
		TAILQ_REMOVE(&added, b, entry);
		TAILQ_INSERT_TAIL(&bots, b, entry);
		log_info("bot %s: added", b->conf->name);
		if (b->conf->autostart)
			bot_want_up(b);
		else
			botd_changed(b);
	}
	log_info("reloaded %s", nc->path);
	return 0;
}

/* ------------------------------------------------------------ signals */

static void
sig_chld(int sig, void *arg)
{
	(void)sig;
	(void)arg;
	child_reap();
}

static void
sig_hup(int sig, void *arg)
{
	char *cause = NULL;

	(void)sig;
	(void)arg;
	log_info("SIGHUP: reloading");
	if (botd_reload(&cause) == -1)
		free(cause);
}

static void
deadline_cb(void *arg)
{
	(void)arg;
	log_warnx("bots still running past every stop_timeout; leaving");
	bc_ev_stop();
}

/* SIGTERM, SIGINT: stop every bot at once, then leave the loop. */
static void
sig_term(int sig, void *arg)
{
	struct bot *b;
	int64_t max = 0;

	(void)arg;
	if (M.stopping) {
		log_info("already stopping");
		return;
	}
	log_info("SIG%s: stopping every bot", config_signame(sig));
	M.stopping = 1;
	sd_send("STOPPING=1");
	child_batch_begin();	/* one /proc scan for all the stops */
	TAILQ_FOREACH(b, &bots, entry) {
		if (b->conf->stop_timeout_ms > max)
			max = b->conf->stop_timeout_ms;
		bot_want_down(b);
	}
	child_batch_end();
	bc_timer_start(M.deadline, max + BOTD_EXIT_GRACE_MS);
	bots_check_done();
}

/* ------------------------------------------------------------ startup */

/* mkdir -p with mode for the missing parts. */
static int
mkdirs(const char *path, mode_t mode)
{
	char *p = xstrdup(path), *s;
	int r = 0;

	for (s = p + 1; r == 0 && (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		if (mkdir(p, mode) == -1 && errno != EEXIST)
			r = -1;
		*s = '/';
	}
	if (r == 0 && mkdir(p, mode) == -1 && errno != EEXIST)
		r = -1;
	free(p);
	return r;
}

/* The single-instance lock; exits 100 when another botd holds it. */
static void
take_lock(const char *path)
{
	char buf[32], other[32];
	ssize_t n;

	M.lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0644);
	if (M.lock_fd == -1)
		fatal("cannot open lock file %s", path);
	if (flock(M.lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK)
			fatal("cannot lock %s", path);
		n = pread(M.lock_fd, other, sizeof other - 1, 0);
		other[n > 0 ? n : 0] = '\0';
		other[strcspn(other, "\n")] = '\0';
		log_warnx("another botd is running (pid %s holds %s)",
		    other[0] != '\0' ? other : "unknown", path);
		exit(BC_EXIT_PERM);
	}
	snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(M.lock_fd, 0) == -1 ||
	    pwrite(M.lock_fd, buf, strlen(buf), 0) == -1)
		log_warn("cannot write %s", path);
}

/* Directories, lock, subreaper, cgroups, loop, signals, socket. */
static void
setup(void)
{
	char *cause = NULL;

	if (mkdirs(M.conf->state_dir, 0755) == -1)
		fatal("cannot create %s", M.conf->state_dir);
	if (mkdirs(M.conf->log_dir, 0750) == -1)
		fatal("cannot create %s", M.conf->log_dir);
	take_lock(M.conf->lock_file);
	marker_take();
	if (child_init(M.conf->cgroup, &cause) == -1) {
		log_warnx("%s", cause);
		exit(BC_EXIT_PERM);
	}
	if (bc_ev_init() == -1)
		exit(BC_EXIT_TEMP);
	if (bc_ev_on_signal(SIGCHLD, sig_chld, NULL) == -1 ||
	    bc_ev_on_signal(SIGHUP, sig_hup, NULL) == -1 ||
	    bc_ev_on_signal(SIGTERM, sig_term, NULL) == -1 ||
	    bc_ev_on_signal(SIGINT, sig_term, NULL) == -1)
		fatal("cannot watch signals");
	if ((M.gc = bc_timer_new(bots_gc, NULL)) == NULL ||
	    (M.deadline = bc_timer_new(deadline_cb, NULL)) == NULL ||
	    (M.sd_watchdog = bc_timer_new(sd_watchdog_cb, NULL)) == NULL)
		fatalx("cannot create timers");
	if (control_listen(M.conf, &cause) == -1) {
		log_warnx("%s", cause);
		exit(BC_EXIT_TEMP);
	}
	if (metrics_listen(M.conf, &cause) == -1) {
		log_warnx("%s", cause);
		exit(BC_EXIT_TEMP);
	}
	alert_configure(M.conf);
	if (M.unclean != NULL)
		alert_botd("botd restarted after an unclean stop: the last "
		    "botd (pid %s) was killed or crashed, or the machine went "
		    "down; its bots are being started again", M.unclean);
}

/* Every configured bot; the autostart ones start (in parallel). */
static void
start_bots(void)
{
	struct bot *b;
	char *cause = NULL;
	size_t i;

	for (i = 0; i < M.conf->nbots; i++) {
		if ((b = bots_make(M.conf, &M.conf->bots[i], &cause)) == NULL) {
			log_warnx("%s", cause);
			exit(BC_EXIT_TEMP);
		}
		TAILQ_INSERT_TAIL(&bots, b, entry);
	}
	status_prune();
	logs_set_total_max(M.conf->log_total_max);
	TAILQ_FOREACH(b, &bots, entry) {
		if (b->conf->autostart)
			bot_want_up(b);
		else
			botd_changed(b);
	}
}

/* After the loop: everything down, then free in reverse order. */
static void
teardown(void)
{
	struct bot *b;

	alert_close();		/* kills and reaps its helpers */
	child_kill_orphans();
	metrics_close();
	control_close();
	child_cleanup();
	while ((b = TAILQ_FIRST(&bots)) != NULL) {
		TAILQ_REMOVE(&bots, b, entry);
		bot_free(b);
	}
	bc_timer_free(M.gc);
	bc_timer_free(M.deadline);
	bc_timer_free(M.sd_watchdog);
	if (M.notify_fd != -1)
		close(M.notify_fd);
	free(M.notify_path);
	marker_release();
	config_free(M.conf);
	bc_ev_free();
	if (M.lock_fd != -1)
		close(M.lock_fd);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'C' },
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	char *cause = NULL;
	int ch, check = 0, verbose = 0;

	while ((ch = getopt_long(argc, argv, "c:hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (path == NULL || optind != argc)
		usage();
	log_init("botd", verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, 0);
	if ((M.conf = config_load(path, &cause)) == NULL) {
		if (check)
			fprintf(stderr, "botd: %s\n", cause);
		else
			log_warnx("%s", cause);
		free(cause);
		return BC_EXIT_PERM;
	}
	if (check) {
		printf("botd: %s: ok, %zu bots\n", path, M.conf->nbots);
		config_free(M.conf);
		return BC_EXIT_OK;
	}
	sd_init();
	M.started_wall = bc_wall_ms();
	setup();
	start_bots();
	sd_send("READY=1");
	sd_status();
	if (M.sd_watchdog_ms > 0)
		sd_watchdog_cb(NULL);
	log_info("botd running: %zu bots, pid %ld", M.conf->nbots,
	    (long)getpid());
	if (bc_ev_run() == -1)
		log_warnx("event loop failed");
	teardown();
	log_info("botd stopped");
	return BC_EXIT_OK;
}
