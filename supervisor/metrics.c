/*
 * botd's own metrics in the Prometheus text format on GET /metrics, and
 * GET /health, on [botd] metrics_listen (off by default; loopback only
 * unless metrics_public = yes, checked by config.c).
 *
 * The numbers live where they are kept anyway (struct bot, the log sinks,
 * alert.c, control.c): each scrape fills a fresh registry of the
 * library's metrics module from them, renders it and frees it, so a bot
 * removed by a reload leaves no stale series behind.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <botcommon/ev.h>
#include <botcommon/httpd.h>
#include <botcommon/log.h>
#include <botcommon/metrics.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "supervisor.h"

static struct {
	struct bc_httpd	*httpd;
} MX;

/* The families of one scrape. */
struct metrics_fam {
	struct bc_metric *up, *state, *wanted, *ready, *restarts, *deaths;
	struct bc_metric *exit_code, *exit_signal, *exit_time, *uptime;
	struct bc_metric *backoff, *log_bytes, *log_dropped, *memory;
	struct bc_metric *muted;
};

static const char *metrics_causes[] = {
	"exit", "signal", "watchdog", "start_timeout",
};

static void
metrics_families(struct bc_metrics *r, struct metrics_fam *f)
{
	f->up = bc_metrics_gauge(r, "botd_bot_up",
	    "1 when the bot is RUNNING.", "bot");
	f->state = bc_metrics_gauge(r, "botd_bot_state",
	    "1 for the bot's current state.", "bot,state");
	f->wanted = bc_metrics_gauge(r, "botd_bot_wanted_up",
	    "1 when the bot is wanted up, 0 when stopped on request.", "bot");
	f->ready = bc_metrics_gauge(r, "botd_bot_ready",
	    "1 when the running child said READY=1.", "bot");
	f->restarts = bc_metrics_counter(r, "botd_bot_restarts_total",
	    "Starts of the bot after its first.", "bot");
	f->deaths = bc_metrics_counter(r, "botd_bot_deaths_total",
	    "Unrequested deaths of the bot's child by cause.", "bot,cause");
	f->exit_code = bc_metrics_gauge(r, "botd_bot_last_exit_code",
	    "Exit code of the last child that exited with one.", "bot");
	f->exit_signal = bc_metrics_gauge(r, "botd_bot_last_exit_signal",
	    "Signal number of the last child killed by a signal.", "bot");
	f->exit_time = bc_metrics_gauge(r,
	    "botd_bot_last_exit_timestamp_seconds",
	    "When the last child ended (seconds since the epoch).", "bot");
	f->uptime = bc_metrics_gauge(r, "botd_bot_uptime_seconds",
	    "Seconds since the running child started (0: none).", "bot");
	f->backoff = bc_metrics_gauge(r, "botd_bot_backoff_seconds",
	    "Seconds left before the next start in BACKOFF.", "bot");
	f->log_bytes = bc_metrics_gauge(r, "botd_bot_log_bytes",
	    "Bytes of the bot's log files on disk.", "bot");
	f->log_dropped = bc_metrics_counter(r,
	    "botd_bot_log_dropped_lines_total",
	    "Log lines that could not be written (disk full, ...).", "bot");
	f->memory = bc_metrics_gauge(r, "botd_bot_memory_bytes",
	    "Memory of the bot's process tree (cgroup, else RSS sum).",
	    "bot");
	f->muted = bc_metrics_gauge(r, "botd_bot_alerts_muted",
	    "1 while the bot's alerts are muted.", "bot");
}

static void
metrics_memory_cb(struct bot *b, int64_t bytes, void *arg)
{
	struct metrics_fam *f = arg;

	if (bytes >= 0)
		bc_metric_set(f->memory, BC_LV(b->conf->name), (double)bytes);
}

/* The series of one bot. */
static void
metrics_bot(const struct metrics_fam *f, const struct bot *b, int64_t now)
{
	const char *n = b->conf->name;
	size_t i;
	int s;

	bc_metric_set(f->up, BC_LV(n), b->state == STATE_RUNNING);
	for (s = STATE_STOPPED; s <= STATE_FATAL; s++)
		bc_metric_set(f->state, BC_LV(n, state_name(s)),
		    b->state == (enum bot_state)s);
	bc_metric_set(f->wanted, BC_LV(n), b->want == WANT_UP);
	bc_metric_set(f->ready, BC_LV(n), b->pid != 0 && b->ready);
	bc_metric_add(f->restarts, BC_LV(n), b->restarts);
	for (i = 0; i < BC_NELEM(metrics_causes); i++)
		bc_metric_add(f->deaths, BC_LV(n, metrics_causes[i]),
		    (double)b->deaths_by[DEATH_EXIT + i]);
	if (b->has_exited && !b->exit_signal)
		bc_metric_set(f->exit_code, BC_LV(n), b->last_code);
	if (b->has_exited && b->exit_signal)
		bc_metric_set(f->exit_signal, BC_LV(n), b->last_code);
	if (b->has_exited)
		bc_metric_set(f->exit_time, BC_LV(n),
		    (double)b->last_exit_wall / 1000);
	bc_metric_set(f->uptime, BC_LV(n), b->pid != 0 ?
	    (double)(now - b->started_ms) / 1000 : 0);
	bc_metric_set(f->backoff, BC_LV(n), b->state == STATE_BACKOFF &&
	    b->backoff_until > now ? (double)(b->backoff_until - now) / 1000 :
	    0);
	if (b->log != NULL) {
		bc_metric_set(f->log_bytes, BC_LV(n),
		    (double)logs_bytes(b->log));
		bc_metric_add(f->log_dropped, BC_LV(n),
		    (double)logs_dropped(b->log));
	}
	bc_metric_set(f->muted, BC_LV(n), alert_muted_until(n) != 0);
}

/* Alert counters. */
static void
metrics_alerts(struct bc_metrics *r)
{
	struct alert_stats s;
	struct bc_metric *m;

	alert_get_stats(&s);
	bc_metric_set(bc_metrics_gauge(r, "botd_alerts_enabled",
	    "1 when Telegram alerts are configured.", NULL), NULL, s.enabled);
	bc_metric_add(bc_metrics_counter(r, "botd_alert_events_total",
	    "Events recorded for alerts (not muted).", NULL), NULL,
	    (double)s.events);
	bc_metric_add(bc_metrics_counter(r, "botd_alerts_sent_total",
	    "Alert messages Telegram accepted, one per admin chat.", NULL),
	    NULL, (double)s.sent);
	bc_metric_add(bc_metrics_counter(r, "botd_alerts_coalesced_total",
	    "Events merged into a message with others.", NULL), NULL,
	    (double)s.coalesced);
	m = bc_metrics_counter(r, "botd_alerts_dropped_total",
	    "Alerts not delivered: queue full, refused by Telegram (per "
	    "chat), or the bot muted.", "reason");
	bc_metric_add(m, BC_LV("queue_full"), (double)s.dropped_queue);
	bc_metric_add(m, BC_LV("rejected"), (double)s.rejected);
	bc_metric_add(m, BC_LV("muted"), (double)s.muted);
	m = bc_metrics_counter(r, "botd_alert_retries_total",
	    "sendMessage attempts retried: 429, or network errors and 5xx.",
	    "reason");
	bc_metric_add(m, BC_LV("429"), (double)s.retries_429);
	bc_metric_add(m, BC_LV("network"), (double)s.retries_network);
	bc_metric_add(bc_metrics_counter(r,
	    "botd_alert_retry_wait_seconds_total",
	    "Seconds waited before retries (retry_after and backoff).",
	    NULL), NULL, s.retry_wait_s);
	bc_metric_set(bc_metrics_gauge(r, "botd_alerts_pending",
	    "Alert messages waiting to be delivered.", NULL), NULL,
	    (double)s.pending);
}

static void
metrics_control_cb(const char *cmd, const char *result, uint64_t n,
    void *arg)
{
	bc_metric_add(arg, BC_LV(cmd, result), (double)n);
}

/* Everything, into a fresh registry. */
static void
metrics_fill(struct bc_metrics *r)
{
	struct metrics_fam f;
	struct bot *b;
	int64_t now = bc_now_ms();
	double nbots = 0;

	bc_metric_set(bc_metrics_gauge(r, "botd_start_time_seconds",
	    "When botd started (seconds since the epoch).", NULL), NULL,
	    (double)botd_started_wall() / 1000);
	metrics_families(r, &f);
	TAILQ_FOREACH(b, &bots, entry) {
		metrics_bot(&f, b, now);
		nbots += !b->removed;
	}
	child_memory_all(metrics_memory_cb, &f);
	bc_metric_set(bc_metrics_gauge(r, "botd_bots",
	    "Bots in the configuration.", NULL), NULL, nbots);
	metrics_alerts(r);
	control_counters(metrics_control_cb, bc_metrics_counter(r,
	    "botd_control_requests_total", "Control socket requests by "
	    "command and result (invalid: unparseable or unknown; connect: "
	    "connections refused).", "command,result"));
}

static void
metrics_get(struct bc_httpd_req *req, void *arg)
{
	struct bc_metrics *r = bc_metrics_new();
	char *text;
	size_t len;

	(void)arg;
	metrics_fill(r);
	text = bc_metrics_render(r, &len);
	bc_httpd_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8",
	    text, len);
	free(text);
	bc_metrics_free(r);
}

/* botd itself: it answers, so its loop runs; a summary of the bots. */
static void
metrics_health(struct bc_httpd_req *req, void *arg)
{
	struct alert_stats s;
	struct bot *b;
	json_t *o;
	int n = 0, run = 0, fatal = 0;

	(void)arg;
	TAILQ_FOREACH(b, &bots, entry) {
		n += !b->removed;
		run += b->state == STATE_RUNNING;
		fatal += b->state == STATE_FATAL;
	}
	alert_get_stats(&s);
	o = json_pack("{sssIsIsisisisbsI}", "status", "ok", "pid",
	    (json_int_t)getpid(), "uptime_seconds", (json_int_t)
	    ((bc_wall_ms() - botd_started_wall()) / 1000), "bots", n,
	    "running", run, "fatal", fatal, "alerts", s.enabled,
	    "alerts_pending", (json_int_t)s.pending);
	bc_httpd_reply_json(req, 200, o);
	json_decref(o);
}

int
metrics_listen(const struct botd_conf *c, char **cause)
{
	char *err = NULL;

	if (c->metrics_listen == NULL)
		return 0;
	if ((MX.httpd = bc_httpd_new(bc_ev_base(), c->metrics_listen,
	    &err)) == NULL) {
		xasprintf(cause, "metrics_listen %s: %s", c->metrics_listen,
		    err);
		free(err);
		return -1;
	}
	if (bc_httpd_route(MX.httpd, "GET", "/metrics", metrics_get,
	    NULL) == -1 ||
	    bc_httpd_route(MX.httpd, "GET", "/health", metrics_health,
	    NULL) == -1) {
		xasprintf(cause, "metrics: cannot route");
		metrics_close();
		return -1;
	}
	log_info("metrics: listening on %s (port %d)", c->metrics_listen,
	    bc_httpd_port(MX.httpd));
	return 0;
}

void
metrics_close(void)
{
	bc_httpd_free(MX.httpd);
	MX.httpd = NULL;
}
