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
	char		*lock_file;
	struct bot_conf	*bots;
	size_t		 nbots;
	struct bc_conf	*conf;			/* kept for section_equal */
};

/* Load and validate; NULL with *cause ("FILE:LINE: reason"). */
struct botd_conf *config_load(const char *path, char **cause);
void	config_free(struct botd_conf *);
const struct bot_conf *config_find(const struct botd_conf *, const char *);
/* 1 if bot name's section is the same in both (reload keeps it). */
int	config_bot_equal(const struct botd_conf *, const struct botd_conf *,
	    const char *name);

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
/* Become a child subreaper; find a delegated cgroup v2 dir. */
int	child_init(char **cause);
/* Reap everything (SIGCHLD); calls bot_child_exited for bots. */
void	child_reap(void);

/* ------------------------------------------------------------ logs.c */

/*
 * A bot's log: the pipe botd holds across restarts (the write end is
 * given to every child of the bot as stdout and stderr), lines
 * timestamped and written to LOG_DIR/NAME.log, rotated by size to
 * NAME.log.1 ... NAME.log.N, the last BOTD_TAIL_LINES lines kept in
 * memory. A full disk drops lines and counts them; nothing ever blocks.
 */
typedef void logs_line_cb(void *arg, const char *line, size_t len);
struct logsink *logs_open(const char *dir, const char *name,
	    uint64_t max_bytes, int files, logs_line_cb *cb, void *cbarg,
	    char **cause);
void	logs_close(struct logsink *);
int	logs_write_fd(const struct logsink *);	/* for the child */
/* Append one line written by botd itself about the bot. */
void	logs_note(struct logsink *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* The last n lines as a JSON array of strings (new reference). */
json_t	*logs_tail(const struct logsink *, size_t n);
uint64_t logs_bytes(const struct logsink *);
uint64_t logs_dropped(const struct logsink *);
void	logs_set_limits(struct logsink *, uint64_t max_bytes, int files);
/* The global cap over all sinks, enforced by deleting oldest rotations. */
void	logs_set_total_max(uint64_t);

/* ------------------------------------------------------------ control.c */

int	control_listen(const struct botd_conf *, char **cause);
void	control_close(void);
/* A bot changed state: answer `--wait` requests that wait for it. */
void	control_bot_changed(struct bot *);
/* A line reached the bot's log: feed `botctl logs -f` followers. */
void	control_log_line(struct bot *, const char *line, size_t len);

/* ------------------------------------------------------------ main.c */

extern struct bot_list bots;
struct bot *bots_find(const char *name);
/* Reload botd.ini: 0, or -1 with *cause (the old config stays). */
int	botd_reload(char **cause);
/* Write STATE_DIR/NAME.status atomically (status.new + rename). */
void	botd_write_status(const struct bot *);
/* Something changed: refresh systemd STATUS= and wake waiters. */
void	botd_changed(struct bot *);

#endif /* BOTD_SUPERVISOR_H */
