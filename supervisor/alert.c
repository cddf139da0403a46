/*
 * Alerts to the admins on Telegram: sendMessage, each request made by a
 * helper process, botd-alert (alert-send.c), so that botd itself never
 * maps libcurl and its TLS libraries (megabytes of a process that should
 * stay small). Sending never blocks or slows the supervisor: the helper
 * is forked and exec'd like a bot (signals blocked across fork, reset in
 * the child), gets the request on its stdin (the URL, which holds the
 * token, then the JSON body: nothing secret in its argv or environment),
 * and its one-line JSON result is read from its stdout on the loop. Its
 * exit is reaped by child_reap(), which hands our pids to
 * alert_child_exited(): a helper is never taken for a bot or an orphan. A
 * helper that hangs is killed ALERT_HELPER_GRACE_MS after its own
 * timeout; one that dies or says nothing readable counts as a network
 * error. Where it is: [botd] alert_helper, else BOTD_ALERT_HELPER
 * (LIBEXECDIR/botfleet/botd-alert), else botd-alert beside botd's own
 * executable (the build tree).
 *
 * Events are kept per bot as counts in a record, never as copies: a
 * bot's first event waits alert_delay for a burst to gather; after a
 * message, the bot's next one waits until alert_interval has passed since
 * it (a gave-up or a recovery waits only alert_delay). A record becomes a
 * message only when the sender is free, so however long Telegram is
 * unreachable, a bot's events end up in one summary ("game crashed 7
 * times in 60 s, last exit code 1"). Messages not tied to a bot wait in a
 * queue of at most ALERT_QUEUE_MAX; overflow is counted and said in the
 * next message.
 *
 * One message is delivered at a time, to each admin chat in turn: a 429
 * waits its retry_after, network errors and 5xx back off (1 s doubling to
 * 60 s, with jitter) and retry forever, other refusals (400, 401, 403) are
 * logged, counted and skipped; a helper that could not be started waits
 * as a network error does. The token is only in the URL, which goes to
 * the helper's stdin and is never logged (and is registered with
 * log_redact()).
 */

#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include <botcommon/backoff.h>
#include <botcommon/buf.h>
#include <botcommon/conf.h>
#include <botcommon/ctl.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "supervisor.h"

#define ALERT_TEXT_MAX		3800	/* bytes; Telegram takes 4096 chars */
#define ALERT_LINE_MAX		300	/* bytes of one log line shown */
#define ALERT_TIMEOUT_MS	30000	/* one sendMessage */
#define ALERT_BACKOFF_MIN_MS	1000
#define ALERT_BACKOFF_MAX_MS	60000
#define ALERT_RETRY_AFTER_MAX	3600	/* seconds of a 429 honoured */
#define ALERT_RECS_MAX		4096	/* bots with a record */
#define ALERT_TESTS_MAX		4	/* alert-test requests at once */
#define ALERT_CONNECT_MS	10000
#define ALERT_HELPER_GRACE_MS	5000	/* past the helper's own timeout */
#define ALERT_ANSWER_MAX	4096	/* the helper's result line */
#define ALERT_HELPER_NAME	"botd-alert"
#ifndef BOTD_ALERT_HELPER		/* set by supervisor/module.mk */
#define BOTD_ALERT_HELPER	"/usr/local/libexec/botfleet/" \
				ALERT_HELPER_NAME
#endif

/* The pending events of one bot, as counts. */
struct alert_rec {
	char		 name[BOTD_NAME_MAX + 1];
	unsigned	 deaths;	/* pending */
	int64_t		 first_ms;	/* monotonic, first pending death */
	int64_t		 last_ms;	/* monotonic, last pending death */
	char		 what[160];	/* the last death, plain text */
	int64_t		 uptime_ms;	/* of the last death */
	unsigned	 restarts;
	int64_t		 next_ms;	/* next start after it; -1: none */
	int		 fatal;		/* gave up: pending */
	char		 fatal_reason[128];
	int		 fatal_open;	/* gave up, not recovered yet */
	int		 recovered;	/* pending */
	long		 pid;		/* of the recovered child */
	int64_t		 due;		/* monotonic; 0: nothing pending */
	int64_t		 last_sent;	/* monotonic, last message; 0: none */
	int64_t		 muted_until;	/* wall ms; 0: not muted */
	uint64_t	 muted_events;
	TAILQ_ENTRY(alert_rec) entry;
};
TAILQ_HEAD(alert_recs, alert_rec);

/* A message for every admin chat. */
struct alert_msg {
	char		*text;
	size_t		 chat;		/* index of the next chat */
	TAILQ_ENTRY(alert_msg) entry;
};
TAILQ_HEAD(alert_msgs, alert_msg);

/*
 * What a helper said about one request: error NULL when Telegram
 * answered (status, and in j the answer's ok, description, retry_after,
 * message_id when it had them), else why not ("timeout", "connect", ...,
 * or how the helper failed). Borrowed, valid during the callback.
 */
struct alert_resp {
	long		 status;	/* HTTP status, 0 when none */
	const char	*error;
	const json_t	*j;		/* the helper's line: an object */
};

typedef void alert_call_cb(const struct alert_resp *, void *arg);

/* One helper process: one request, one answer. */
struct alert_call {
	pid_t		 pid;		/* 0 once reaped */
	int		 wstatus;	/* how it ended, once reaped */
	int		 in_fd;		/* request pipe; -1 once written */
	int		 out_fd;	/* answer pipe; -1 at its end */
	struct event	*in_ev;
	struct event	*out_ev;
	char		*req;		/* URL (secret) and body */
	size_t		 req_len;
	size_t		 req_off;
	char		 out[ALERT_ANSWER_MAX];
	size_t		 out_len;
	int		 hung;		/* killed by the timer */
	struct bc_timer	*timer;
	alert_call_cb	*cb;		/* NULL: answered or cancelled */
	void		*arg;
	LIST_ENTRY(alert_call) entry;
};
LIST_HEAD(alert_calls, alert_call);

struct alert_test;

struct alert_test_call {
	struct alert_test	*t;
	struct alert_call	*call;	/* NULL once answered */
	size_t			 i;
};

/* One `botctl alert-test`: a message to each chat, answers collected. */
struct alert_test {
	alert_test_cb		*cb;
	void			*arg;
	json_t			*results;
	size_t			 left;
	struct alert_test_call	*calls;
	size_t			 n;
	TAILQ_ENTRY(alert_test)	 entry;
};
TAILQ_HEAD(alert_tests, alert_test);

static struct {
	int		 init;
	int		 enabled;
	char		*token;		/* secret */
	char		*api_url;	/* alert_api_url */
	int64_t		*chats;
	size_t		 nchats;
	int64_t		 interval_ms;
	int64_t		 delay_ms;
	int		 log_lines;
	char		 host[64];
	char		*helper;	/* botd-alert's path */
	struct alert_calls calls;	/* helpers not reaped yet */
	struct bc_timer	*timer;
	struct alert_recs recs;
	size_t		 nrecs;
	struct alert_msgs queue;
	size_t		 nqueue;
	struct alert_msg *cur;		/* being delivered */
	struct alert_call *call;	/* in flight for cur */
	int64_t		 retry_at;	/* monotonic; 0: not waiting */
	unsigned	 failures;	/* network errors in a row */
	uint64_t	 overflow;	/* dropped since the last message */
	struct alert_tests tests;
	size_t		 ntests;
	struct alert_stats st;
} A;

static void	alert_pump(void);

/* ------------------------------------------------------------ text */

/* Text for HTML: & < > " escaped; at most max bytes of s (a UTF-8
 * boundary), with "…" when cut. */
static void
alert_esc(struct bc_buf *b, const char *s, size_t max)
{
	size_t i, n = strlen(s);
	int cut = 0;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut = 1;
	}
	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			bc_buf_str(b, "&amp;");
			break;
		case '<':
			bc_buf_str(b, "&lt;");
			break;
		case '>':
			bc_buf_str(b, "&gt;");
			break;
		case '"':
			bc_buf_str(b, "&quot;");
			break;
		default:
			bc_buf_add(b, s + i, 1);
		}
	}
	if (cut)
		bc_buf_str(b, "\xe2\x80\xa6");
}

/* A duration for people: "0.4 s", "12 s", "5 min", "3.5 h". */
static void
alert_dur(char *buf, size_t sz, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 10000)
		snprintf(buf, sz, "%.1f s", (double)ms / 1000);
	else if (ms < 120000)
		snprintf(buf, sz, "%lld s", (long long)(ms / 1000));
	else if (ms < 7200000)
		snprintf(buf, sz, "%lld min", (long long)(ms / 60000));
	else
		snprintf(buf, sz, "%.1f h", (double)ms / 3600000);
}

/* How the bot's last child ended, in words. */
static void
alert_what(const struct bot *b, char *buf, size_t sz)
{
	char d[32];

	switch (b->last_cause) {
	case DEATH_SIGNAL:
		snprintf(buf, sz, "killed by signal %s",
		    config_signame(b->last_code));
		break;
	case DEATH_WATCHDOG:
		alert_dur(d, sizeof d, b->conf->watchdog_ms);
		snprintf(buf, sz, "killed by the watchdog (no WATCHDOG=1 "
		    "within %s)", d);
		break;
	case DEATH_START_TIMEOUT:
		alert_dur(d, sizeof d, b->conf->start_timeout_ms);
		snprintf(buf, sz, "killed: no READY=1 within %s", d);
		break;
	default:
		if (b->exit_signal)
			snprintf(buf, sz, "killed by signal %s",
			    config_signame(b->last_code));
		else
			snprintf(buf, sz, "exit code %d", b->last_code);
		break;
	}
}

/* A log line without the date of its timestamp (2026-11-22T). */
static const char *
alert_time_only(const char *line)
{
	if (line != NULL && strlen(line) > 11 && line[4] == '-' &&
	    line[10] == 'T')
		return line + 11;
	return line != NULL ? line : "";
}

/* The bot's last log lines as <pre>, within budget bytes. */
static void
alert_tail(struct bc_buf *out, const char *name, size_t budget)
{
	struct bot *b = bots_find(name);
	struct bc_buf pre = BC_BUF_ZERO;
	json_t *tail;
	size_t i, n, first, len, total = 12;	/* <pre></pre>\n */

	if (b == NULL || b->log == NULL || A.log_lines <= 0)
		return;
	tail = logs_tail(b->log, (size_t)A.log_lines);
	n = json_array_size(tail);
	/* The newest lines that fit, shown oldest first. */
	for (first = n; first > 0; first--) {
		len = pre.len;
		alert_esc(&pre, alert_time_only(json_string_value(
		    json_array_get(tail, first - 1))), ALERT_LINE_MAX);
		total += pre.len - len + 1;
		bc_buf_reset(&pre);
		if (total > budget)
			break;
	}
	for (i = first; i < n; i++) {
		alert_esc(&pre, alert_time_only(json_string_value(
		    json_array_get(tail, i))), ALERT_LINE_MAX);
		if (i + 1 < n)
			bc_buf_str(&pre, "\n");
	}
	if (pre.len > 0)
		bc_buf_printf(out, "<pre>%s</pre>\n", pre.p);
	bc_buf_release(&pre);
	json_decref(tail);
}

/* "; now STATE" for the bot, with the time left in BACKOFF. */
static void
alert_now(struct bc_buf *out, const char *name, int64_t now)
{
	struct bot *b = bots_find(name);
	char d[32];

	if (b == NULL) {
		bc_buf_str(out, "; removed from the configuration\n");
		return;
	}
	bc_buf_printf(out, "; now %s", state_name(b->state));
	if (b->state == STATE_BACKOFF && b->backoff_until > now) {
		alert_dur(d, sizeof d, b->backoff_until - now);
		bc_buf_printf(out, ", next retry in %s", d);
	}
	bc_buf_str(out, "\n");
}

/* The deaths of r: one line, or a summary of many. */
static void
alert_render_deaths(struct bc_buf *b, const struct alert_rec *r,
    int64_t now)
{
	char up[32], span[32], next[32];

	alert_dur(up, sizeof up, r->uptime_ms);
	if (r->deaths == 1 && !r->fatal)
		bc_buf_printf(b, "\xf0\x9f\x94\xb4 <b>%s</b> died: %s after %s "
		    "of uptime\n", r->name, r->what, up);
	else if (r->deaths == 1)
		bc_buf_printf(b, "died: %s after %s of uptime\n", r->what, up);
	else {
		alert_dur(span, sizeof span, r->last_ms - r->first_ms);
		bc_buf_printf(b, "%s<b>%s</b> crashed %u times in %s, last: %s "
		    "after %s of uptime\n", r->fatal ? "" :
		    "\xf0\x9f\x94\xb4 ", r->name, r->deaths, span, r->what, up);
	}
	alert_dur(next, sizeof next, r->next_ms);
	if (r->next_ms >= 0)
		bc_buf_printf(b, "restarts: %u, next retry %s after the "
		    "crash", r->restarts, next);
	else
		bc_buf_printf(b, "restarts: %u, no automatic restart: "
		    "<code>botctl start %s</code>", r->restarts, r->name);
	alert_now(b, r->name, now);
}

/* The message for r's pending events (caller frees). */
static char *
alert_render(const struct alert_rec *r, int64_t now)
{
	struct bc_buf b = BC_BUF_ZERO;

	if (r->fatal) {
		bc_buf_printf(&b, "\xe2\x9b\x94 <b>%s</b> gave up: ", r->name);
		alert_esc(&b, r->fatal_reason, sizeof r->fatal_reason);
		bc_buf_str(&b, "\n");
	}
	if (r->deaths > 0)
		alert_render_deaths(&b, r, now);
	if (r->recovered)
		bc_buf_printf(&b, "\xe2\x9c\x85 <b>%s</b> recovered: running "
		    "again (pid %ld)\n", r->name, r->pid);
	if (r->deaths > 0 || r->fatal)
		alert_tail(&b, r->name, ALERT_TEXT_MAX > b.len + 200 ?
		    ALERT_TEXT_MAX - b.len - 200 : 0);
	return bc_buf_detach(&b);
}

/* The footer: where and when; an overflow note. Takes text. */
static char *
alert_finish(char *text)
{
	struct bc_buf b = BC_BUF_ZERO;
	char when[32];
	struct tm tm;
	time_t t = time(NULL);

	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	bc_buf_str(&b, text);
	free(text);
	if (A.overflow > 0) {
		bc_buf_printf(&b, "\xe2\x9a\xa0 %llu more alerts were dropped: "
		    "the queue was full\n", (unsigned long long)A.overflow);
		A.overflow = 0;
	}
	bc_buf_printf(&b, "<i>botd@");
	alert_esc(&b, A.host, sizeof A.host);
	bc_buf_printf(&b, ", %s</i>", when);
	return bc_buf_detach(&b);
}

/* ------------------------------------------------------------ records */

static struct alert_rec *
alert_rec_find(const char *name, int create)
{
	struct alert_rec *r;

	if (!A.init)
		return NULL;
	TAILQ_FOREACH(r, &A.recs, entry)
		if (strcmp(r->name, name) == 0)
			return r;
	if (!create || A.nrecs >= ALERT_RECS_MAX)
		return NULL;
	r = xcalloc(1, sizeof *r);
	bc_strlcpy(r->name, name, sizeof r->name);
	TAILQ_INSERT_TAIL(&A.recs, r, entry);
	A.nrecs++;
	return r;
}

/* Forget r's pending events. */
static void
alert_rec_clear(struct alert_rec *r)
{
	r->deaths = 0;
	r->fatal = 0;
	r->recovered = 0;
	r->due = 0;
}

/*
 * A new event for bot name: its record, with due set, or NULL when the
 * event is not to be sent (alerts off, muted: counted).
 */
static struct alert_rec *
alert_event(const char *name, int urgent)
{
	struct alert_rec *r;
	int64_t now = bc_now_ms(), due;

	if (!A.enabled)
		return NULL;
	if ((r = alert_rec_find(name, 1)) == NULL) {
		A.st.dropped_queue++;
		A.overflow++;
		return NULL;
	}
	if (r->muted_until != 0 && r->muted_until <= bc_wall_ms())
		r->muted_until = 0;
	if (r->muted_until != 0) {
		r->muted_events++;
		A.st.muted++;
		return NULL;
	}
	A.st.events++;
	due = now + A.delay_ms;
	if (r->due != 0) {
		A.st.coalesced++;
		if (urgent && due < r->due)
			r->due = due;
	} else {
		if (!urgent && r->last_sent != 0 &&
		    r->last_sent + A.interval_ms > due)
			due = r->last_sent + A.interval_ms;
		r->due = due;
	}
	alert_pump();
	return r;
}

/* Record a death of b in r. */
static void
alert_death(struct alert_rec *r, const struct bot *b, int64_t next_ms)
{
	int64_t now = bc_now_ms();

	if (r->deaths++ == 0)
		r->first_ms = now;
	r->last_ms = now;
	alert_what(b, r->what, sizeof r->what);
	r->uptime_ms = b->last_uptime_ms;
	r->restarts = b->restarts;
	r->next_ms = next_ms;
}

void
alert_bot_died(struct bot *b, int64_t next_ms)
{
	struct alert_rec *r;

	if ((r = alert_event(b->conf->name, 0)) != NULL)
		alert_death(r, b, next_ms);
}

void
alert_bot_fatal(struct bot *b, int64_t next_ms)
{
	struct alert_rec *r;

	if ((r = alert_rec_find(b->conf->name, 1)) != NULL)
		r->fatal_open = 1;
	if ((r = alert_event(b->conf->name, 1)) == NULL)
		return;
	alert_death(r, b, next_ms);
	r->fatal = 1;
	bc_strlcpy(r->fatal_reason, b->fatal_reason, sizeof r->fatal_reason);
}

void
alert_bot_running(struct bot *b)
{
	struct alert_rec *r;

	if ((r = alert_rec_find(b->conf->name, 0)) == NULL || !r->fatal_open)
		return;
	r->fatal_open = 0;
	if ((r = alert_event(b->conf->name, 1)) == NULL)
		return;
	r->recovered = 1;
	r->pid = (long)b->pid;
}

void
alert_botd(const char *fmt, ...)
{
	struct alert_msg *m;
	struct bc_buf b = BC_BUF_ZERO;
	char *s;
	va_list ap;

	if (!A.enabled)
		return;
	if (A.nqueue >= ALERT_QUEUE_MAX) {
		A.st.dropped_queue++;
		A.overflow++;
		return;
	}
	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	bc_buf_str(&b, "\xe2\x9a\xa0 ");
	alert_esc(&b, s, ALERT_TEXT_MAX);
	bc_buf_str(&b, "\n");
	free(s);
	m = xcalloc(1, sizeof *m);
	m->text = bc_buf_detach(&b);
	TAILQ_INSERT_TAIL(&A.queue, m, entry);
	A.nqueue++;
	A.st.events++;
	alert_pump();
}

int64_t
alert_mute(const char *name, int64_t ms, uint64_t *suppressed)
{
	struct alert_rec *r;
	int64_t wall = bc_wall_ms();

	*suppressed = 0;
	if ((r = alert_rec_find(name, ms > 0)) == NULL)
		return 0;
	if (r->muted_until != 0 && r->muted_until <= wall) {
		r->muted_until = 0;
		r->muted_events = 0;
	}
	if (ms <= 0) {
		*suppressed = r->muted_events;
		r->muted_until = 0;
		r->muted_events = 0;
		return 0;
	}
	if (r->due != 0) {
		/* What was about to be said is muted too. */
		r->muted_events++;
		A.st.muted++;
		alert_rec_clear(r);
	}
	r->muted_until = wall + ms;
	*suppressed = r->muted_events;
	return r->muted_until;
}

int64_t
alert_muted_until(const char *name)
{
	struct alert_rec *r = alert_rec_find(name, 0);

	if (r == NULL || r->muted_until <= bc_wall_ms())
		return 0;
	return r->muted_until;
}

/* ------------------------------------------------------------ helper */

/*
 * Where botd-alert is: the configured path; else the installed one; else
 * the one beside botd's executable (a build tree). Caller frees.
 */
static char *
alert_helper_path(const char *conf)
{
	char self[PATH_MAX], *p, *slash;
	ssize_t n;

	if (conf != NULL)
		return xstrdup(conf);
	if (access(BOTD_ALERT_HELPER, X_OK) == 0)
		return xstrdup(BOTD_ALERT_HELPER);
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			xasprintf(&p, "%s/%s", self, ALERT_HELPER_NAME);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	return xstrdup(BOTD_ALERT_HELPER);
}

/* In the child: signals back to their defaults, the pipes as stdin and
 * stdout (stderr stays botd's), no other fd, then exec. */
static void __attribute__((noreturn))
alert_exec(char *const argv[], int in, int out, pid_t parent)
{
	sigset_t none;
	int sig, fd;

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Above 2 first: a pipe may be fd 0 or 1 if botd had them closed. */
	if ((in = fcntl(in, F_DUPFD, 3)) == -1 ||
	    (out = fcntl(out, F_DUPFD, 3)) == -1 ||
	    dup2(in, STDIN_FILENO) == -1 || dup2(out, STDOUT_FILENO) == -1)
		_exit(127);
	close_range(3, ~0U, 0);
	/* botd's low OOM score is not the helper's (as for the bots). */
	if ((fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC)) !=
	    -1) {
		if (write(fd, "0", 1) != 1)
			dprintf(2, "botd: alert: oom_score_adj: %s\n",
			    strerror(errno));
		close(fd);
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(127);
	execv(argv[0], argv);
	dprintf(2, "botd: alert: cannot run %s: %s\n", argv[0],
	    strerror(errno));
	_exit(127);
}

static void
alert_call_close(struct alert_call *c)
{
	if (c->in_ev != NULL)
		event_free(c->in_ev);
	if (c->out_ev != NULL)
		event_free(c->out_ev);
	c->in_ev = c->out_ev = NULL;
	if (c->in_fd != -1)
		close(c->in_fd);
	if (c->out_fd != -1)
		close(c->out_fd);
	c->in_fd = c->out_fd = -1;
	bc_conf_secret_free(c->req);
	c->req = NULL;
	bc_timer_stop(c->timer);
}

static void
alert_call_free(struct alert_call *c)
{
	alert_call_close(c);
	bc_timer_free(c->timer);
	LIST_REMOVE(c, entry);
	free(c);
}

/* SIGKILL the helper (not reaped yet: its pid is still ours). */
static void
alert_call_kill(struct alert_call *c)
{
	if (c->pid != 0 && kill(c->pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("alert: cannot kill helper %ld", (long)c->pid);
}

/* How the helper failed, for the log and alert-test. */
static void
alert_call_why(const struct alert_call *c, char *buf, size_t sz)
{
	if (WIFSIGNALED(c->wstatus))
		snprintf(buf, sz, "%s killed by signal %s", ALERT_HELPER_NAME,
		    config_signame(WTERMSIG(c->wstatus)));
	else if (WIFEXITED(c->wstatus) && WEXITSTATUS(c->wstatus) != 0)
		snprintf(buf, sz, "%s failed: exit %d", ALERT_HELPER_NAME,
		    WEXITSTATUS(c->wstatus));
	else
		snprintf(buf, sz, "%s gave no answer", ALERT_HELPER_NAME);
}

/* Reaped and read to the end: the answer to the caller, then free. */
static void
alert_call_done(struct alert_call *c)
{
	struct alert_resp r = { 0, NULL, NULL };
	alert_call_cb *cb = c->cb;
	json_t *j = NULL, *e;
	char why[128];

	c->cb = NULL;
	c->out[c->out_len] = '\0';
	if (cb == NULL) {
		alert_call_free(c);
		return;
	}
	if (memchr(c->out, '\n', c->out_len) != NULL)
		j = json_loads(c->out, JSON_DISABLE_EOF_CHECK, NULL);
	e = json_object_get(j, "error");
	if (c->hung)
		r.error = "timeout";
	else if (!json_is_object(j) || !json_is_string(e)) {
		alert_call_why(c, why, sizeof why);
		r.error = why;
	} else {
		r.status = (long)json_integer_value(json_object_get(j,
		    "status"));
		if (strcmp(json_string_value(e), "ok") != 0)
			r.error = json_string_value(e);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	r.j = j;
	cb(&r, c->arg);
	json_decref(j);
	alert_call_free(c);
}

static void
alert_call_check(struct alert_call *c)
{
	if (c->pid == 0 && c->out_fd == -1)
		alert_call_done(c);
}

static void	alert_call_in_cb(evutil_socket_t, short, void *);

/* Write what is left of the request; the pipe is closed once done. */
static void
alert_call_write(struct alert_call *c)
{
	ssize_t n;

	while (c->req_off < c->req_len) {
		n = write(c->in_fd, c->req + c->req_off,
		    c->req_len - c->req_off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			if (c->in_ev == NULL && ((c->in_ev = event_new(
			    bc_ev_base(), c->in_fd, EV_WRITE | EV_PERSIST,
			    alert_call_in_cb, c)) == NULL ||
			    event_add(c->in_ev, NULL) == -1)) {
				log_warnx("alert: cannot watch the helper");
				break;
			}
			return;
		}
		if (n == -1)
			break;		/* EPIPE: its exit says why */
		c->req_off += (size_t)n;
	}
	if (c->in_ev != NULL)
		event_free(c->in_ev);
	c->in_ev = NULL;
	close(c->in_fd);
	c->in_fd = -1;
	bc_conf_secret_free(c->req);
	c->req = NULL;
}

static void
alert_call_in_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	alert_call_write(arg);
}

/* Read the answer; at its end (or past ALERT_ANSWER_MAX), stop. */
static void
alert_call_out_cb(evutil_socket_t fd, short what, void *arg)
{
	struct alert_call *c = arg;
	size_t room;
	ssize_t n;

	(void)what;
	for (;;) {
		room = sizeof c->out - 1 - c->out_len;
		if (room == 0) {
			/* Not a helper's answer: enough. */
			alert_call_kill(c);
			break;
		}
		n = read(fd, c->out + c->out_len, room);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		c->out_len += (size_t)n;
	}
	event_free(c->out_ev);
	c->out_ev = NULL;
	close(c->out_fd);
	c->out_fd = -1;
	alert_call_check(c);
}

/* The helper outlived its timeout: kill it; it ends as a timeout. */
static void
alert_call_timer_cb(void *arg)
{
	struct alert_call *c = arg;

	log_warnx("alert: %s (pid %ld) hangs; killing it", ALERT_HELPER_NAME,
	    (long)c->pid);
	c->hung = 1;
	alert_call_kill(c);
	alert_call_close(c);
	alert_call_check(c);
}

/* Fork and exec the helper with argv, its pipes in c. */
static int
alert_call_spawn(struct alert_call *c, char *const argv[], char **cause)
{
	sigset_t all, old;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	pid_t parent = getpid();

	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1) {
		xasprintf(cause, "pipe: %s", strerror(errno));
		goto fail;
	}
	/* As child_spawn(): no libevent handler may run in the child. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((c->pid = fork()) == -1) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		c->pid = 0;
		xasprintf(cause, "fork: %s", strerror(errno));
		goto fail;
	}
	if (c->pid == 0)
		alert_exec(argv, in[0], out[1], parent);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(in[0]);
	close(out[1]);
	c->in_fd = in[1];
	c->out_fd = out[0];
	return 0;
fail:
	if (in[0] != -1) {
		close(in[0]);
		close(in[1]);
	}
	if (out[0] != -1) {
		close(out[0]);
		close(out[1]);
	}
	return -1;
}

/*
 * POST body to the API's method through a helper: cb(resp, arg) runs
 * later from the loop, exactly once unless the call is cancelled first.
 * Returns the call, or NULL with *cause when no helper could be started.
 */
static struct alert_call *
alert_call_start(const char *method, const json_t *body, int64_t timeout_ms,
    alert_call_cb *cb, void *arg, char **cause)
{
	struct alert_call *c;
	char *json, copt[] = "-c", topt[] = "-t", tmo[24], con[24];
	char *argv[] = { A.helper, copt, con, topt, tmo, NULL };

	snprintf(tmo, sizeof tmo, "%lld", (long long)timeout_ms);
	snprintf(con, sizeof con, "%d", timeout_ms < ALERT_CONNECT_MS ?
	    (int)timeout_ms : ALERT_CONNECT_MS);
	c = xcalloc(1, sizeof *c);
	c->in_fd = c->out_fd = -1;
	if ((json = json_dumps(body, JSON_COMPACT)) == NULL)
		fatalx("alert: out of memory");
	c->req_len = (size_t)xasprintf(&c->req, "%s/bot%s/%s\n%s",
	    A.api_url, A.token, method, json);
	free(json);
	if ((c->timer = bc_timer_new(alert_call_timer_cb, c)) == NULL)
		fatalx("cannot create an alert timer");
	LIST_INSERT_HEAD(&A.calls, c, entry);
	if (alert_call_spawn(c, argv, cause) == -1) {
		alert_call_free(c);
		return NULL;
	}
	c->cb = cb;
	c->arg = arg;
	if (fcntl(c->in_fd, F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(c->out_fd, F_SETFL, O_NONBLOCK) == -1 ||
	    (c->out_ev = event_new(bc_ev_base(), c->out_fd,
	    EV_READ | EV_PERSIST, alert_call_out_cb, c)) == NULL ||
	    event_add(c->out_ev, NULL) == -1) {
		/* It runs: killed, reaped and answered as failed. */
		log_warn("alert: cannot watch the helper");
		alert_call_kill(c);
		alert_call_close(c);
		return c;
	}
	bc_timer_start(c->timer, timeout_ms + ALERT_HELPER_GRACE_MS);
	alert_call_write(c);
	return c;
}

/* Forget c's answer: the helper is killed, reaped later. NULL, or a call
 * from inside its own callback, is a no-op. */
static void
alert_call_cancel(struct alert_call *c)
{
	if (c == NULL || c->cb == NULL)
		return;
	c->cb = NULL;
	alert_call_kill(c);
	alert_call_close(c);
	alert_call_check(c);
}

int
alert_child_exited(pid_t pid, int status)
{
	struct alert_call *c;

	if (!A.init)
		return 0;
	LIST_FOREACH(c, &A.calls, entry)
		if (c->pid == pid)
			break;
	if (c == NULL)
		return 0;
	c->pid = 0;
	c->wstatus = status;
	alert_call_check(c);
	return 1;
}

/* ------------------------------------------------------------ sending */

/* The next message to deliver: the queue first, then a due record. */
static struct alert_msg *
alert_next(int64_t now)
{
	struct alert_rec *r, *best = NULL;
	struct alert_msg *m;

	if ((m = TAILQ_FIRST(&A.queue)) != NULL) {
		TAILQ_REMOVE(&A.queue, m, entry);
		A.nqueue--;
		m->text = alert_finish(m->text);
		return m;
	}
	TAILQ_FOREACH(r, &A.recs, entry)
		if (r->due != 0 && r->due <= now &&
		    (best == NULL || r->due < best->due))
			best = r;
	if (best == NULL)
		return NULL;
	m = xcalloc(1, sizeof *m);
	m->text = alert_finish(alert_render(best, now));
	alert_rec_clear(best);
	best->last_sent = now;
	return m;
}

/* Arm the timer for the next thing to do. */
static void
alert_arm(int64_t now)
{
	struct alert_rec *r;
	int64_t at = 0;

	if (A.call != NULL || !A.enabled) {
		bc_timer_stop(A.timer);
		return;
	}
	if (A.cur != NULL)
		at = A.retry_at > now ? A.retry_at : now;
	else
		TAILQ_FOREACH(r, &A.recs, entry)
			if (r->due != 0 && (at == 0 || r->due < at))
				at = r->due;
	if (at == 0)
		bc_timer_stop(A.timer);
	else
		bc_timer_start(A.timer, at > now ? at - now : 0);
}

static void
alert_msg_free(struct alert_msg *m)
{
	if (m == NULL)
		return;
	free(m->text);
	free(m);
}

/* cur went to every chat (or was given up): the next one. */
static void
alert_msg_done(void)
{
	alert_msg_free(A.cur);
	A.cur = NULL;
}

enum alert_result {
	ALERT_OK,
	ALERT_RETRY_AFTER,	/* 429 */
	ALERT_RETRY,		/* network, 5xx */
	ALERT_REJECT,		/* anything else: for good */
};

/* What an answer of sendMessage means; *retry_s for a 429, *desc is
 * borrowed from resp. */
static enum alert_result
alert_classify(const struct alert_resp *resp, int64_t *retry_s,
    const char **desc)
{
	const json_t *j = resp->j, *ra;

	*desc = resp->error;
	if (resp->error != NULL)
		return ALERT_RETRY;
	if (json_is_string(json_object_get(j, "description")))
		*desc = json_string_value(json_object_get(j, "description"));
	else
		*desc = "no description";
	if (resp->status == 200 && json_is_true(json_object_get(j, "ok")))
		return ALERT_OK;
	if (resp->status == 429) {
		ra = json_object_get(j, "retry_after");
		*retry_s = json_is_integer(ra) ? json_integer_value(ra) : 5;
		if (*retry_s < 1)
			*retry_s = 1;
		if (*retry_s > ALERT_RETRY_AFTER_MAX)
			*retry_s = ALERT_RETRY_AFTER_MAX;
		return ALERT_RETRY_AFTER;
	}
	if (resp->status >= 500 || resp->status == 0)
		return ALERT_RETRY;
	return ALERT_REJECT;
}

/* cur waits before its next attempt: network, 5xx, no helper. */
static void
alert_backoff(long status, const char *desc)
{
	int64_t d;

	A.st.retries_network++;
	d = bc_backoff_delay(ALERT_BACKOFF_MIN_MS, ALERT_BACKOFF_MAX_MS, 0.2,
	    A.failures++, bc_random_unit());
	A.st.retry_wait_s += (double)d / 1000;
	A.retry_at = bc_now_ms() + d;
	log_warnx("alert: cannot reach the Telegram API (status %ld, %s); "
	    "retrying in %lld ms", status, desc, (long long)d);
}

static void
alert_sent_cb(const struct alert_resp *resp, void *arg)
{
	const char *desc;
	int64_t retry_s = 0, now = bc_now_ms();

	(void)arg;
	A.call = NULL;
	switch (alert_classify(resp, &retry_s, &desc)) {
	case ALERT_OK:
		A.st.sent++;
		A.failures = 0;
		A.cur->chat++;
		break;
	case ALERT_RETRY_AFTER:
		A.st.retries_429++;
		A.st.retry_wait_s += (double)retry_s;
		A.retry_at = now + retry_s * 1000;
		log_info("alert: Telegram says too many requests; retrying "
		    "in %lld s", (long long)retry_s);
		break;
	case ALERT_RETRY:
		alert_backoff(resp->status, desc);
		break;
	case ALERT_REJECT:
		A.st.rejected++;
		log_warnx("alert: chat %lld refused the message: %ld %s",
		    (long long)A.chats[A.cur->chat < A.nchats ? A.cur->chat :
		    0], resp->status, desc);
		A.cur->chat++;
		break;
	}
	if (A.cur->chat >= A.nchats)
		alert_msg_done();
	alert_pump();
}

/* Start sending cur to its next chat. */
static void
alert_send(void)
{
	json_t *body;
	char *cause = NULL;

	body = json_pack("{sIsssssb}", "chat_id",
	    (json_int_t)A.chats[A.cur->chat], "text", A.cur->text,
	    "parse_mode", "HTML", "disable_web_page_preview", 1);
	A.call = alert_call_start("sendMessage", body, ALERT_TIMEOUT_MS,
	    alert_sent_cb, NULL, &cause);
	json_decref(body);
	if (A.call == NULL) {
		log_warnx("alert: cannot start %s: %s", A.helper, cause);
		alert_backoff(0, cause);
		free(cause);
	}
}

/* Do what can be done now, then arm the timer. */
static void
alert_pump(void)
{
	int64_t now = bc_now_ms();

	while (A.enabled && A.call == NULL) {
		if (A.cur != NULL && A.cur->chat >= A.nchats)
			alert_msg_done();
		if (A.cur == NULL && (A.cur = alert_next(now)) == NULL)
			break;
		if (A.retry_at > now)
			break;
		A.retry_at = 0;
		alert_send();
	}
	alert_arm(now);
}

static void
alert_timer_cb(void *arg)
{
	(void)arg;
	alert_pump();
}

/* ------------------------------------------------------------ alert-test */

static void
alert_test_free(struct alert_test *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		alert_call_cancel(t->calls[i].call);
	TAILQ_REMOVE(&A.tests, t, entry);
	A.ntests--;
	json_decref(t->results);
	free(t->calls);
	free(t);
}

/* One chat's answer as {"chat_id","ok","status",...}. */
static json_t *
alert_test_result(int64_t chat, const struct alert_resp *resp)
{
	json_t *o = json_object(), *mid;
	const json_t *j = resp->j;

	json_object_set_new(o, "chat_id", json_integer((json_int_t)chat));
	json_object_set_new(o, "status", json_integer(resp->status));
	if (resp->error != NULL) {
		json_object_set_new(o, "ok", json_false());
		json_object_set_new(o, "error", json_string(resp->error));
		return o;
	}
	json_object_set_new(o, "ok", json_boolean(resp->status == 200 &&
	    json_is_true(json_object_get(j, "ok"))));
	mid = json_object_get(j, "message_id");
	if (json_is_integer(mid))
		json_object_set(o, "message_id", mid);
	if (json_is_string(json_object_get(j, "description")))
		json_object_set(o, "error", json_object_get(j,
		    "description"));
	else if (!json_is_true(json_object_get(j, "ok")))
		json_object_set_new(o, "error", json_string(
		    "unexpected answer"));
	return o;
}

static void
alert_test_cb_call(const struct alert_resp *resp, void *arg)
{
	struct alert_test_call *c = arg;
	struct alert_test *t = c->t;
	json_t *reply;

	c->call = NULL;
	json_array_set_new(t->results, c->i, alert_test_result(
	    c->i < A.nchats ? A.chats[c->i] : 0, resp));
	if (--t->left > 0)
		return;
	reply = bc_ctl_reply_ok();
	json_object_set(reply, "results", t->results);
	if (t->cb != NULL)
		t->cb(t->arg, reply);
	else
		json_decref(reply);
	alert_test_free(t);
}

int
alert_test(alert_test_cb *cb, void *arg, char **cause)
{
	struct alert_test *t;
	json_t *body;
	char *text, *err = NULL;
	size_t i;

	if (!A.enabled) {
		*cause = xstrdup("alerts are off: set alert_token_file and "
		    "alert_chat_ids in [botd]");
		return -1;
	}
	if (A.ntests >= ALERT_TESTS_MAX) {
		*cause = xstrdup("too many alert tests at once");
		return -1;
	}
	t = xcalloc(1, sizeof *t);
	t->cb = cb;
	t->arg = arg;
	t->n = A.nchats;
	t->results = json_array();
	t->calls = xcalloc(t->n, sizeof *t->calls);
	TAILQ_INSERT_TAIL(&A.tests, t, entry);
	A.ntests++;
	text = alert_finish(xstrdup("\xf0\x9f\x94\x94 alert test: botd can "
	    "reach this chat\n"));
	for (i = 0; i < t->n; i++) {
		json_array_append_new(t->results, json_null());
		t->calls[i].t = t;
		t->calls[i].i = i;
		body = json_pack("{sIssss}", "chat_id", (json_int_t)A.chats[i],
		    "text", text, "parse_mode", "HTML");
		t->calls[i].call = alert_call_start("sendMessage", body,
		    ALERT_TIMEOUT_MS / 2, alert_test_cb_call, &t->calls[i],
		    &err);
		json_decref(body);
		if (t->calls[i].call != NULL) {
			t->left++;
			continue;
		}
		json_array_set_new(t->results, i, json_pack("{sIsbss}",
		    "chat_id", (json_int_t)A.chats[i], "ok", 0, "error", err));
		free(err);
		err = NULL;
	}
	free(text);
	if (t->left == 0) {
		*cause = xstrdup("cannot start any request");
		alert_test_free(t);
		return -1;
	}
	return 0;
}

void
alert_test_forget(void *arg)
{
	struct alert_test *t, *next;

	if (!A.init)
		return;
	for (t = TAILQ_FIRST(&A.tests); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (t->arg == arg)
			alert_test_free(t);
	}
}

/* ------------------------------------------------------------ setup */

/* Drop everything waiting to be sent (alerts turned off, or exit). */
static void
alert_drop_pending(void)
{
	struct alert_msg *m;
	struct alert_rec *r;
	size_t n = 0;

	alert_call_cancel(A.call);
	A.call = NULL;
	if (A.cur != NULL)
		n++;
	alert_msg_done();
	while ((m = TAILQ_FIRST(&A.queue)) != NULL) {
		TAILQ_REMOVE(&A.queue, m, entry);
		alert_msg_free(m);
		n++;
	}
	A.nqueue = 0;
	TAILQ_FOREACH(r, &A.recs, entry) {
		n += r->due != 0;
		alert_rec_clear(r);
	}
	if (n > 0)
		log_warnx("alert: %zu alerts not sent", n);
	A.retry_at = 0;
	A.failures = 0;
}

static void
alert_forget_token(void)
{
	bc_conf_secret_free(A.token);
	A.token = NULL;
}

void
alert_configure(const struct botd_conf *c)
{
	if (!A.init) {
		TAILQ_INIT(&A.recs);
		TAILQ_INIT(&A.queue);
		TAILQ_INIT(&A.tests);
		LIST_INIT(&A.calls);
		if (gethostname(A.host, sizeof A.host - 1) == -1)
			bc_strlcpy(A.host, "localhost", sizeof A.host);
		if ((A.timer = bc_timer_new(alert_timer_cb, NULL)) == NULL)
			fatalx("cannot create the alert timer");
		A.init = 1;
	}
	if (c->alert_token == NULL) {
		if (A.enabled)
			log_info("alert: alerts are off now");
		alert_drop_pending();
		alert_forget_token();
		A.enabled = 0;
		alert_arm(bc_now_ms());
		return;
	}
	if (A.token == NULL || strcmp(A.token, c->alert_token) != 0)
		log_redact(c->alert_token);
	alert_forget_token();
	A.token = xstrdup(c->alert_token);
	free(A.api_url);
	A.api_url = xstrdup(c->alert_api_url);
	free(A.helper);
	A.helper = alert_helper_path(c->alert_helper);
	if (access(A.helper, X_OK) == -1)
		log_warn("alert: cannot run %s ([botd] alert_helper): alerts "
		    "wait until it can", A.helper);
	free(A.chats);
	A.chats = xreallocarray(NULL, c->nalert_chats, sizeof *A.chats);
	memcpy(A.chats, c->alert_chats, c->nalert_chats * sizeof *A.chats);
	A.nchats = c->nalert_chats;
	A.interval_ms = c->alert_interval_ms;
	A.delay_ms = c->alert_delay_ms;
	A.log_lines = c->alert_log_lines;
	if (!A.enabled)
		log_info("alert: alerts to %zu chats", A.nchats);
	A.enabled = 1;
	alert_pump();
}

void
alert_close(void)
{
	struct alert_rec *r;
	struct alert_test *t;
	struct alert_call *c;

	if (!A.init)
		return;
	while ((t = TAILQ_FIRST(&A.tests)) != NULL)
		alert_test_free(t);
	alert_drop_pending();
	while ((r = TAILQ_FIRST(&A.recs)) != NULL) {
		TAILQ_REMOVE(&A.recs, r, entry);
		free(r);
	}
	/* Every helper is cancelled (killed) by now: reap them here. */
	while ((c = LIST_FIRST(&A.calls)) != NULL) {
		alert_call_kill(c);
		while (c->pid != 0 && waitpid(c->pid, NULL, 0) == -1 &&
		    errno == EINTR)
			;
		alert_call_free(c);
	}
	bc_timer_free(A.timer);
	alert_forget_token();
	free(A.api_url);
	free(A.helper);
	free(A.chats);
	memset(&A, 0, sizeof A);
}

void
alert_get_stats(struct alert_stats *s)
{
	struct alert_rec *r;

	*s = A.st;
	s->enabled = A.enabled;
	s->pending = A.nqueue + (A.cur != NULL);
	if (A.init)
		TAILQ_FOREACH(r, &A.recs, entry)
			s->pending += r->due != 0;
}
