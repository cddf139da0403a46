/*
 * Alerts to the admins on Telegram: sendMessage through the library's
 * asynchronous HTTP client (curl multi on our libevent loop), so sending
 * never blocks or slows the supervisor.
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
 * logged, counted and skipped. The token is only in the URL, which is
 * never logged (and is registered with log_redact()).
 */

#include <sys/queue.h>
#include <sys/types.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <botcommon/backoff.h>
#include <botcommon/buf.h>
#include <botcommon/conf.h>
#include <botcommon/ctl.h>
#include <botcommon/ev.h>
#include <botcommon/http.h>
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

struct alert_test;

struct alert_test_call {
	struct alert_test	*t;
	struct bc_http_call	*call;	/* NULL once answered */
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
	char		*url;		/* API/botTOKEN/sendMessage: secret */
	int64_t		*chats;
	size_t		 nchats;
	int64_t		 interval_ms;
	int64_t		 delay_ms;
	int		 log_lines;
	char		 host[64];
	struct bc_http	*http;
	struct bc_timer	*timer;
	struct alert_recs recs;
	size_t		 nrecs;
	struct alert_msgs queue;
	size_t		 nqueue;
	struct alert_msg *cur;		/* being delivered */
	struct bc_http_call *call;	/* in flight for cur */
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
 * borrowed from *j (the parsed body the caller frees). */
static enum alert_result
alert_classify(const struct bc_http_resp *resp, json_t **j, int64_t *retry_s,
    const char **desc)
{
	json_t *ra;

	*j = NULL;
	*desc = bc_http_strerror(resp->error);
	if (resp->error != BC_HTTP_OK)
		return ALERT_RETRY;
	*j = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (json_is_string(json_object_get(*j, "description")))
		*desc = json_string_value(json_object_get(*j, "description"));
	else
		*desc = "no description";
	if (resp->status == 200 && json_is_true(json_object_get(*j, "ok")))
		return ALERT_OK;
	if (resp->status == 429) {
		ra = json_object_get(json_object_get(*j, "parameters"),
		    "retry_after");
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

static void
alert_sent_cb(const struct bc_http_resp *resp, void *arg)
{
	const char *desc;
	int64_t retry_s = 0, d, now = bc_now_ms();
	json_t *j;

	(void)arg;
	A.call = NULL;
	switch (alert_classify(resp, &j, &retry_s, &desc)) {
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
		A.st.retries_network++;
		d = bc_backoff_delay(ALERT_BACKOFF_MIN_MS, ALERT_BACKOFF_MAX_MS,
		    0.2, A.failures++, bc_random_unit());
		A.st.retry_wait_s += (double)d / 1000;
		A.retry_at = now + d;
		log_warnx("alert: cannot reach the Telegram API (status %ld, "
		    "%s); retrying in %lld ms", resp->status, desc,
		    (long long)d);
		break;
	case ALERT_REJECT:
		A.st.rejected++;
		log_warnx("alert: chat %lld refused the message: %ld %s",
		    (long long)A.chats[A.cur->chat < A.nchats ? A.cur->chat :
		    0], resp->status, desc);
		A.cur->chat++;
		break;
	}
	json_decref(j);
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
	A.call = bc_http_post_json(A.http, A.url, body, ALERT_TIMEOUT_MS, 0,
	    alert_sent_cb, NULL, &cause);
	json_decref(body);
	if (A.call == NULL) {
		log_warnx("alert: cannot send: %s", cause);
		free(cause);
		A.st.rejected++;
		A.cur->chat++;
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
		bc_http_cancel(t->calls[i].call);
	TAILQ_REMOVE(&A.tests, t, entry);
	A.ntests--;
	json_decref(t->results);
	free(t->calls);
	free(t);
}

/* One chat's answer as {"chat_id","ok","status",...}. */
static json_t *
alert_test_result(int64_t chat, const struct bc_http_resp *resp)
{
	json_t *o = json_object(), *j, *mid;

	json_object_set_new(o, "chat_id", json_integer((json_int_t)chat));
	json_object_set_new(o, "status", json_integer(resp->status));
	if (resp->error != BC_HTTP_OK) {
		json_object_set_new(o, "ok", json_false());
		json_object_set_new(o, "error", json_string(
		    bc_http_strerror(resp->error)));
		return o;
	}
	j = json_loadb(resp->body, resp->body_len, 0, NULL);
	json_object_set_new(o, "ok", json_boolean(resp->status == 200 &&
	    json_is_true(json_object_get(j, "ok"))));
	mid = json_object_get(json_object_get(j, "result"), "message_id");
	if (json_is_integer(mid))
		json_object_set(o, "message_id", mid);
	if (json_is_string(json_object_get(j, "description")))
		json_object_set(o, "error", json_object_get(j,
		    "description"));
	else if (!json_is_true(json_object_get(j, "ok")))
		json_object_set_new(o, "error", json_string(
		    "unexpected answer"));
	json_decref(j);
	return o;
}

static void
alert_test_cb_http(const struct bc_http_resp *resp, void *arg)
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
		t->calls[i].call = bc_http_post_json(A.http, A.url, body,
		    ALERT_TIMEOUT_MS / 2, 0, alert_test_cb_http, &t->calls[i],
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

	bc_http_cancel(A.call);
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
	bc_conf_secret_free(A.url);
	A.token = A.url = NULL;
}

void
alert_configure(const struct botd_conf *c)
{
	char *cause = NULL;

	if (!A.init) {
		TAILQ_INIT(&A.recs);
		TAILQ_INIT(&A.queue);
		TAILQ_INIT(&A.tests);
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
	if (A.http == NULL && (A.http = bc_http_new(bc_ev_base(),
	    &cause)) == NULL) {
		log_warnx("alert: no HTTP client, alerts are off: %s", cause);
		free(cause);
		return;
	}
	if (A.token == NULL || strcmp(A.token, c->alert_token) != 0)
		log_redact(c->alert_token);
	alert_forget_token();
	A.token = xstrdup(c->alert_token);
	xasprintf(&A.url, "%s/bot%s/sendMessage", c->alert_api_url, A.token);
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

	if (!A.init)
		return;
	while ((t = TAILQ_FIRST(&A.tests)) != NULL)
		alert_test_free(t);
	alert_drop_pending();
	while ((r = TAILQ_FIRST(&A.recs)) != NULL) {
		TAILQ_REMOVE(&A.recs, r, entry);
		free(r);
	}
	bc_http_free(A.http);
	bc_timer_free(A.timer);
	alert_forget_token();
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
