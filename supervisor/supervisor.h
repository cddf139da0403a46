/*
 * botd, the supervisor: its one private header (tmux.h, smtpd.h style),
 * prototypes grouped by the file that defines them.
 *
 * One process, one libevent loop (common/ev). Per bot: a struct bot
 * holding the parsed section of botd.ini (struct bot_conf), the state
 * machine's state, the running child, its log sink and its timers. The
 * bots live in one list owned by main.c (bots_*), which the control
 * socket (control.c), the status files and reload read and change only
 * through the functions below.
 */
#ifndef BOTD_SUPERVISOR_H
#define BOTD_SUPERVISOR_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct bc_conf;
struct bc_timer;
struct event;
struct logsink;

#define BOTD_NAME_MAX		32	/* [a-z0-9_-], from [bot NAME] */
#define BOTD_STATUS_MAX		200	/* STATUS= text kept */
#define BOTD_TAIL_LINES		200	/* log lines kept in memory */

/* ------------------------------------------------------------ config.c */

enum restart_policy {
	RESTART_ALWAYS,
	RESTART_ON_FAILURE,
	RESTART_NEVER,
};

enum ready_mode {
	READY_NONE,			/* alive start_seconds = RUNNING */
	READY_NOTIFY,			/* READY=1 on BOTD_NOTIFY_FD */
};

/* One [bot NAME] section, parsed and checked. Owned by its botd_conf. */
struct bot_conf {
	char		 name[BOTD_NAME_MAX + 1];
	char		*exec;		/* absolute path */
	char		**argv;		/* exec, then args split like a shell
					   without expansion; NULL-terminated */
	char		*user;		/* NULL: botd's own */
	char		*env_file;	/* NULL: none */
	int		 autostart;
	enum restart_policy restart;
	int64_t		 backoff_initial_ms;
	int64_t		 backoff_max_ms;
	int64_t		 backoff_reset_ms;
	int		 crashloop_deaths;
	int64_t		 crashloop_window_ms;
	int64_t		 fatal_retry_ms;	/* 0: never */
	enum ready_mode	 ready;
	int64_t		 start_seconds_ms;
	int64_t		 start_timeout_ms;
	int64_t		 watchdog_ms;		/* 0: off */
	int		 stop_signal;
	int64_t		 stop_timeout_ms;
	uint64_t	 log_max_bytes;		/* one file */
	int		 log_files;		/* rotated files kept */
	uint64_t	 memory_max;		/* 0: unlimited */
	uint64_t	 nofile;		/* 0: inherit */
	char		*workdir;		/* NULL: / */
	int		 line;			/* where the section starts */
};

/* The whole botd.ini (with its includes). */
struct botd_conf {
	char		*path;
	char		*socket;
	char		*socket_group;		/* NULL: none (root only) */
	int		 status_public;		/* others may ask for status */
	char		*log_dir;
	uint64_t	 log_total_max;		/* all bots' logs together */
	char		*state_dir;
	char		*lock_file;		/* STATE_DIR/botd.lock */
	char		*cgroup;		/* "auto", "no" or a path */
	struct bot_conf	*bots;
	size_t		 nbots;
	struct bc_conf	*conf;			/* kept for section_equal */
	/* Alerts to the admins on Telegram (alert.c); off without a token. */
	char		*alert_token;		/* secret */
	int64_t		*alert_chats;		/* chat ids */
	size_t		 nalert_chats;
	char		*alert_api_url;		/* no trailing '/' */
	int64_t		 alert_interval_ms;	/* one message per bot per */
	int64_t		 alert_delay_ms;	/* a first event waits this */
	int		 alert_log_lines;
	char		*alert_helper;		/* NULL: the default */
	/* Prometheus metrics and /health (metrics.c). */
	char		*metrics_listen;	/* NULL: off */
	int		 metrics_public;	/* non-loopback allowed */
};

/* Load and validate; NULL with *cause ("FILE:LINE: reason"). */
struct botd_conf *config_load(const char *path, char **cause);
void	config_free(struct botd_conf *);
const struct bot_conf *config_find(const struct botd_conf *, const char *);
/* 1 if bot name's section is the same in both (reload keeps it). */
int	config_bot_equal(const struct botd_conf *, const struct botd_conf *,
	    const char *name);
/* A deep copy of a bot section (caller frees with config_bot_free()). */
struct bot_conf *config_bot_dup(const struct bot_conf *);
void	config_bot_free(struct bot_conf *);
/*
 * Read an env file: KEY=VALUE lines, blank lines and # comments, no
 * quoting or expansion. *env gets *n "KEY=VALUE" strings (caller frees
 * with config_env_free()). 0, or -1 with *cause ("FILE:LINE: reason").
 */
int	config_read_env(const char *path, char ***env, size_t *n,
	    char **cause);
void	config_env_free(char **, size_t);
/* "TERM" for SIGTERM; "SIG42" style for others (static storage). */
const char *config_signame(int);

/* ------------------------------------------------------------ state.c */

enum bot_state {
	STATE_STOPPED,
	STATE_STARTING,
	STATE_RUNNING,
	STATE_BACKOFF,
	STATE_STOPPING,
	STATE_EXITED,
	STATE_FATAL,
};

enum bot_want {
	WANT_DOWN,
	WANT_UP,
};

/* Why a child died, for counters, status and alerts. */
enum death_cause {
	DEATH_NONE = -1,		/* not dead, or no kill pending */
	DEATH_EXIT,			/* exited with a code */
	DEATH_SIGNAL,			/* killed by a signal */
	DEATH_WATCHDOG,			/* we killed it: no heartbeat */
	DEATH_START_TIMEOUT,		/* we killed it: no READY=1 */
	DEATH_STOPPED,			/* we stopped it on request */
};

struct bot {
	struct bot_conf	*conf;		/* owned: a copy, replaced on reload */
	enum bot_state	 state;
	enum bot_want	 want;
	pid_t		 pid;		/* 0 when no child */
	int		 pidfd;		/* -1 when none */
	int		 notify_fd;	/* our end of BOTD_NOTIFY_FD, -1 */
	struct event	*notify_ev;
	char		 notify_buf[256];
	size_t		 notify_len;
	int		 ready;		/* READY=1 seen for this child */
	char		 status_text[BOTD_STATUS_MAX + 1];
	int64_t		 started_ms;	/* monotonic; this child */
	int64_t		 started_wall;	/* ms since the epoch */
	int64_t		 state_since;	/* monotonic */
	int64_t		 last_beat_ms;
	/* The last death. */
	enum death_cause last_cause;
	int		 last_code;	/* exit code or signal number */
	int64_t		 last_exit_wall;
	int64_t		 last_uptime_ms;
	/* One death counter drives backoff and crash-loop detection. */
	unsigned	 deaths;	/* since the last reset */
	int64_t		 deaths_ms[64];	/* ring of recent death times */
	unsigned	 ndeaths_ring;
	unsigned	 restarts;	/* spawns after the first, ever */
	int64_t		 backoff_until;	/* monotonic; 0 when none */
	char		 fatal_reason[128];
	/* Counters for metrics. */
	uint64_t	 deaths_by[DEATH_STOPPED + 1];
	struct bc_timer	*timer;		/* backoff, start, stop timeouts */
	struct bc_timer	*watchdog;
	struct logsink	*log;
	int		 removed;	/* reload dropped it: free when down */
	/* Added by the core. */
	struct bot_conf	*conf_next;	/* owned: reload's, used at the
					   next spawn (NULL: none) */
	pid_t		 sid;		/* session of the last child */
	int		 lock_fd;	/* STATE_DIR/NAME.lock, -1 */
	enum death_cause kill_cause;	/* why we are killing it, or NONE */
	int		 kill_sent;	/* SIGKILL went to the tree */
	int		 spawned;	/* a child was started once */
	int		 fatal_alerted;	/* "gave up" logged for this loop */
	int		 exit_signal;	/* the last death was by a signal */
	int		 has_exited;	/* last_* are set */
	/* child.c's, for its current child. */
	unsigned long	 spawn_seq;	/* child_spawn()s up to its own */
	int		 cg_joined;	/* its main process was seen in its
					   cgroup */
	TAILQ_ENTRY(bot) entry;
};
TAILQ_HEAD(bot_list, bot);

const char *state_name(enum bot_state);
struct bot *bot_new(const struct bot_conf *);	/* copies conf */
void	bot_free(struct bot *);
/* Requests: change the wanted state and act on it. */
void	bot_want_up(struct bot *);	/* start, or clear FATAL */
void	bot_want_down(struct bot *);	/* stop; sticks */
void	bot_restart(struct bot *);	/* stop then start */
/* Events from child.c and the notify pipe. */
void	bot_child_exited(struct bot *, int wstatus);
void	bot_notify_line(struct bot *, const char *line);
/* Something of the bot's tree was reaped: finish a stop if it is gone. */
void	bot_tree_check(struct bot *);
/* Name of the wanted state: "up" or "down". */
const char *want_name(enum bot_want);
/* 1 when the bot has no process and nothing pending to kill. */
int	bot_is_down(const struct bot *);
/* Status of one bot as a JSON object (new reference). */
json_t	*bot_status_json(const struct bot *);

/* ------------------------------------------------------------ child.c */

/*
 * Fork and exec the bot in its own session with a clean environment (PATH,
 * HOME, USER, LANG, TZ, plus env_file and BOTD_NOTIFY_FD /
 * BOTD_WATCHDOG_SEC), stdout and stderr to its log sink, the user's
 * identity, rlimits and its cgroup when one is delegated. Sets b->pid,
 * b->pidfd, b->notify_fd. 0, or -1 with *cause.
 */
int	child_spawn(struct bot *, char **cause);
/* Signal the bot's whole tree: the process group, then every remaining
 * descendant (cgroup.kill where available). */
void	child_signal_tree(struct bot *, int sig);
/* 1 if anything of the bot's tree is still alive. */
int	child_tree_alive(const struct bot *);
/*
 * Between child_batch_begin() and child_batch_end() (they nest), the
 * calls above share one snapshot of /proc where that is safe (see
 * child.c): around stopping many bots, and around reaping.
 */
void	child_batch_begin(void);
void	child_batch_end(void);
/*
 * Become a child subreaper and pick the cgroup v2 directory for the bots:
 * cgroup is "auto" (our own cgroup when delegated: writable and not the
 * root), "no", or a directory (created). 0, or -1 with *cause.
 */
int	child_init(const char *cgroup, char **cause);
/* Remove the per-bot cgroups that are empty (at exit). */
void	child_cleanup(void);
/* Reap everything (SIGCHLD); calls bot_child_exited for bots. */
void	child_reap(void);
/* Close the notify pipe of the bot's current child, if open. */
void	child_notify_close(struct bot *);
/*
 * Take the bot's single-instance lock, the file path (kept open in
 * b->lock_fd and inherited by every child). When an old tree (from a
 * botd that was killed) still holds it, kill the holders and wait up to
 * wait_ms for it. 0, or -1 with *cause.
 */
int	child_lock_bot(struct bot *, const char *path, int64_t wait_ms,
	    char **cause);
/* SIGKILL every remaining descendant of botd (at shutdown). */
void	child_kill_orphans(void);
/* Memory in bytes of the bot (cgroup memory.current, else the main
 * process's VmRSS); -1 when unknown. */
int64_t	child_memory(const struct bot *);
/*
 * Memory in bytes of every bot's whole tree, with one scan of /proc: the
 * cgroup's memory.current where there is one, else the sum of VmRSS of
 * the tree's processes. cb gets each bot of the list (with -1 when it has
 * no process).
 */
typedef void child_memory_cb(struct bot *, int64_t bytes, void *arg);
void	child_memory_all(child_memory_cb *cb, void *arg);

/* ------------------------------------------------------------ logs.c */

/*
 * A bot's log sink. botd holds both ends of one pipe for the bot's whole
 * life (across restarts, so no line is lost and the read end never sees
 * EOF); the write end is given to every child of the bot as stdout and
 * stderr. Each line becomes, in DIR/NAME.log, the tail and the line
 * callback:
 *
 *   2026-11-22T03:04:05.123Z NAME: text		(from the bot)
 *   2026-11-22T03:04:05.123Z NAME[botd]: text	(logs_note)
 *
 * (UTC, milliseconds). Control bytes and invalid UTF-8 in text are escaped
 * as in log_escape (\t, \r, \xNN), except that '"' and '\' stay as they
 * are (bots already write logfmt). Text longer than LOGS_LINE_MAX bytes
 * (after escaping) is cut and ends in LOGS_CUT_MARK; the rest of that line
 * is skipped. A partial last line is held until its newline, or written
 * as a line of its own after LOGS_FLUSH_MS.
 *
 * Rotation by size: before a line would take NAME.log past max_bytes,
 * NAME.log.(files-1) ... NAME.log.1, NAME.log are renamed one up,
 * NAME.log.files is deleted and a new NAME.log is opened; files == 0 means
 * NAME.log is simply deleted and started again. A bot's logs so stay
 * within max_bytes * (files + 1) bytes, and no deleted file stays open.
 * Rotated files above `files` left by an earlier run are deleted at open.
 *
 * Write errors (ENOSPC, EDQUOT, EFBIG, EIO, ...): the batch's lines are
 * dropped and counted (logs_dropped), a half-written line is truncated
 * away, the file is closed and reopened by a timer every LOGS_RETRY_MS;
 * when that works, a "N lines dropped" note goes into the file. Nothing
 * ever blocks or exits botd. The tail and the callback still get every
 * line.
 *
 * Everything runs on the loop of bc_ev_base() (initialised if needed).
 */
#define LOGS_LINE_MAX	4096		/* text bytes per line, then cut */
#define LOGS_CUT_MARK	" [cut]"
#define LOGS_MIN_BYTES	16384		/* smallest max_bytes accepted */
#define LOGS_FILES_MAX	100		/* most rotated files per bot */
#define LOGS_FLUSH_MS	250		/* a partial line waits this long */
#define LOGS_RETRY_MS	1000		/* reopen after a write error */

/*
 * Every complete line as it is written (timestamp and prefix included, no
 * newline, not NUL-terminated, valid UTF-8); line is borrowed for the call.
 * The callback must not close its own sink.
 */
typedef void logs_line_cb(void *arg, const char *line, size_t len);

/*
 * Open DIR/NAME.log for appending (creating DIR if only its last component
 * is missing) and create the pipe. name is a bot name ([a-z0-9_-], at
 * most BOTD_NAME_MAX), max_bytes at least LOGS_MIN_BYTES, files 0 to
 * LOGS_FILES_MAX; cb may be NULL, cbarg is borrowed. Returns the sink,
 * which the caller frees with logs_close(), or NULL with *cause (the
 * caller frees it): bad arguments, or the file cannot be opened (the
 * config is then rejected; later failures are runtime drops).
 */
struct logsink *logs_open(const char *dir, const char *name,
	    uint64_t max_bytes, int files, logs_line_cb *cb, void *cbarg,
	    char **cause);
/* Read what is left in the pipe (bounded), write it, and free the sink:
 * pipe, file, timers. The files stay on disk. NULL is a no-op. */
void	logs_close(struct logsink *);
/* The pipe's write end, CLOEXEC: dup2 it onto 1 and 2 in the child.
 * Borrowed; the sink keeps it open until logs_close(). */
int	logs_write_fd(const struct logsink *);
/* DIR/NAME.log; borrowed, valid until logs_close(). */
const char *logs_path(const struct logsink *);
/* Append one line written by botd itself about the bot (NAME[botd]:). */
void	logs_note(struct logsink *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* The last n lines (at most BOTD_TAIL_LINES), oldest first, as a JSON
 * array of strings (new reference). */
json_t	*logs_tail(const struct logsink *, size_t n);
/* Bytes of the bot's log files on disk now: NAME.log and its rotations. */
uint64_t logs_bytes(const struct logsink *);
/* Lines that could not be written to the file, ever. */
uint64_t logs_dropped(const struct logsink *);
/* New caps (reload), clamped to the ranges of logs_open(); extra rotated
 * files are deleted now, a smaller max_bytes rotates at the next line. */
void	logs_set_limits(struct logsink *, uint64_t max_bytes, int files);
/*
 * The global cap over all open sinks (0: none). Whenever their files
 * together exceed it, the oldest rotated files (by modification time,
 * across all bots) are deleted until they fit; live NAME.log files are
 * never deleted, so the total may exceed the cap only by those.
 */
void	logs_set_total_max(uint64_t);

/* ------------------------------------------------------------ control.c */

int	control_listen(const struct botd_conf *, char **cause);
void	control_close(void);
/* A bot changed state: answer `--wait` requests that wait for it. */
void	control_bot_changed(struct bot *);
/* A line reached the bot's log: feed `botctl logs -f` followers. */
void	control_log_line(struct bot *, const char *line, size_t len);
/*
 * The requests answered so far, for metrics: cb gets every (command,
 * result, count), result "ok", "error" or "denied"; command "invalid"
 * counts unparseable and unknown requests, "connect" refused connections.
 */
typedef void control_count_cb(const char *cmd, const char *result,
	    uint64_t n, void *arg);
void	control_counters(control_count_cb *cb, void *arg);

/* ------------------------------------------------------------ alert.c */

/*
 * Alerts to the admins on Telegram: the bot API's sendMessage, each
 * request made by a helper process (botd-alert, so that botd never maps
 * libcurl) that botd starts, feeds and reads on its loop, so nothing here
 * ever blocks the loop. Events are kept per bot as counts (never as a queue of copies):
 * a bot's first event waits alert_delay for a burst to gather, later ones
 * at most one message per alert_interval; a message is rendered only when
 * the sender is free, so an outage of the API ends in one summary per
 * bot. Messages not tied to a bot wait in a queue of ALERT_QUEUE_MAX;
 * overflow is counted and said in the next message.
 */
#define ALERT_QUEUE_MAX		32

/* Take the [botd] alert_* settings (start and every reload); pending
 * events stay. Alerts are off while conf has no token. */
void	alert_configure(const struct botd_conf *);
/* At exit: cancel what is in flight and free everything. */
void	alert_close(void);
/* child_reap() reaped pid: 1 if it was an alert helper (now handled),
 * 0 if it is none of alert.c's. */
int	alert_child_exited(pid_t pid, int status);
/* The bot died unexpectedly; next_ms: its next start (-1: none). */
void	alert_bot_died(struct bot *, int64_t next_ms);
/* The bot went FATAL (the first time in a crash loop). */
void	alert_bot_fatal(struct bot *, int64_t next_ms);
/* The bot is RUNNING: "recovered" when it was FATAL. */
void	alert_bot_running(struct bot *);
/* A message not tied to a bot (botd restarted after an unclean stop). */
void	alert_botd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Mute the bot's alerts until ms from now (0: unmute); returns the wall
 * time muted until (0: not muted) and sets *suppressed to the events
 * dropped by the mute that just ended or is running. */
int64_t	alert_mute(const char *name, int64_t ms, uint64_t *suppressed);
/* Wall ms the bot is muted until, 0 when it is not. */
int64_t	alert_muted_until(const char *name);
/*
 * alert-test: send a test message to every admin chat now (outside the
 * queue); cb(arg, reply) later gets the reply for botctl (a new
 * reference it takes), with the API's answer per chat. 0, or -1 with
 * *cause (alerts are off). alert_test_forget: arg is gone, never call it.
 */
typedef void alert_test_cb(void *arg, json_t *reply);
int	alert_test(alert_test_cb *cb, void *arg, char **cause);
void	alert_test_forget(void *arg);

struct alert_stats {
	int		 enabled;
	uint64_t	 events;	/* recorded (not muted) */
	uint64_t	 sent;		/* messages accepted, per chat */
	uint64_t	 coalesced;	/* events merged into another message */
	uint64_t	 dropped_queue;	/* queue full */
	uint64_t	 rejected;	/* refused for good, per chat */
	uint64_t	 muted;		/* events of muted bots */
	uint64_t	 retries_429;
	uint64_t	 retries_network;	/* and 5xx */
	uint64_t	 pending;	/* messages not yet delivered */
	double		 retry_wait_s;	/* waited for retry_after/backoff */
};
void	alert_get_stats(struct alert_stats *);

/* ------------------------------------------------------------ metrics.c */

/* Serve /metrics and /health on conf->metrics_listen (no-op if unset).
 * 0, or -1 with *cause. */
int	metrics_listen(const struct botd_conf *, char **cause);
void	metrics_close(void);

/* ------------------------------------------------------------ main.c */

extern struct bot_list bots;
struct bot *bots_find(const char *name);
/* Reload botd.ini: 0, or -1 with *cause (the old config stays). */
int	botd_reload(char **cause);
/* Take the bot's lock, STATE_DIR/NAME.lock (see child_lock_bot). */
int	botd_lock_bot(struct bot *, char **cause);
/* Write STATE_DIR/NAME.status atomically (status.new + rename). */
void	botd_write_status(const struct bot *);
/* Something changed: refresh systemd STATUS= and wake waiters. */
void	botd_changed(struct bot *);
/* Wall ms when botd started. */
int64_t	botd_started_wall(void);

#endif /* BOTD_SUPERVISOR_H */
