/*
 * Updates in: long polling (getUpdates) or a webhook route. Either way an
 * update counts as done only once the handler says so; the polling offset
 * never moves past an update the handler asked to see again.
 */

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include <botcommon/backoff.h>
#include <botcommon/crypto.h>
#include <botcommon/http.h>
#include <botcommon/httpd.h>
#include <botcommon/log.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "tg-internal.h"

#define TG_POLL_SLACK_MS	10000	/* HTTP timeout above the poll's */
#define TG_POLL_LIMIT		100
/*
 * Backpressure: with this many calls waiting in the outgoing queue (the
 * replies of ten full batches; over half a minute of sending at
 * Telegram's 30/s), the next getUpdates waits until fewer do, checking
 * every TG_BACKLOG_WAIT_MS: replies that could not leave sooner anyway
 * do not pile up in memory.
 */
#define TG_BACKLOG_MAX		1000
#define TG_BACKLOG_WAIT_MS	20
#define TG_POLL_BACKOFF_MAX	60000
#define TG_CONFLICT_MAX		300000
#define TG_LOG_EXCERPT		200
#define TG_SECRET_HEADER	"X-Telegram-Bot-Api-Secret-Token"

enum { TG_UPDATES_NONE = 0, TG_UPDATES_POLL, TG_UPDATES_HOOK };

static void	poll_start(struct bc_tg *);

static void
poll_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	poll_start(arg);
}

static void
poll_later(struct bc_tg *tg, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	event_add(tg->poll_timer, &tv);
}

static void
log_ms(enum log_level lv, const char *msg, int64_t ms, const char *desc)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)ms);
	log_kv(lv, msg, "delay_ms", buf, "description", desc, NULL);
}

/*
 * Log and count an update we skip; move past it when its id is known. raw
 * (may be NULL) goes in the log, cut short; log_kv() escapes it.
 */
static void
skip_malformed(struct bc_tg *tg, int64_t id, const char *cause,
    const json_t *raw)
{
	char buf[24], *text;

	snprintf(buf, sizeof(buf), "%lld", (long long)id);
	text = raw != NULL ? json_dumps(raw, JSON_COMPACT | JSON_ENCODE_ANY) :
	    NULL;
	if (text != NULL && strlen(text) > TG_LOG_EXCERPT)
		strcpy(text + TG_LOG_EXCERPT - 3, "...");
	log_kv(LOG_LEVEL_WARN, "malformed telegram update skipped",
	    "update_id", id >= 0 ? buf : "", "error", cause, "update",
	    text != NULL ? text : "", NULL);
	free(text);
	tg_count_update(tg, "malformed");
	if (id >= tg->offset)
		tg->offset = id + 1;
}

/*
 * Hand one update to the handler. 0 when done, -1 to see it again. When
 * polling, an update before the offset was done already; webhook updates
 * may come out of order, and the offset means nothing there.
 */
static int
handle_one(struct bc_tg *tg, json_t *j, int polling)
{
	bc_tg_update_cb *cb = (bc_tg_update_cb *)tg->ucb;
	struct bc_tg_update u;
	char *cause = NULL;
	int rc = 0;

	if (bc_tg_update_parse(j, &u, &cause) == -1) {
		skip_malformed(tg, u.update_id, cause, j);
		goto out;
	}
	if (polling && u.update_id < tg->offset) {
		log_debug("update %lld seen before, skipped",
		    (long long)u.update_id);
		goto out;
	}
	tg->in_handler = 1;
	rc = cb(tg, &u, tg->uarg);
	tg->in_handler = 0;
	if (rc == 0 && u.update_id >= tg->offset)
		tg->offset = u.update_id + 1;
	tg_count_update(tg, rc == 0 ? "done" : "retry");
out:
	bc_tg_update_release(&u);
	free(cause);
	return rc == 0 ? 0 : -1;
}

void
bc_tg_set_batch_cb(struct bc_tg *tg, bc_tg_batch_cb *cb, void *arg)
{
	tg->bcb = (void *)cb;
	tg->barg = arg;
}

/* Ask Telegram to forget what we handled (at shutdown). */
static void
confirm_offset(struct bc_tg *tg)
{
	json_t *p;

	if (tg->umode != TG_UPDATES_POLL || tg->fatal ||
	    tg->offset <= tg->offset_sent)
		return;
	p = json_pack("{s:I,s:i,s:i}", "offset", (json_int_t)tg->offset,
	    "limit", 1, "timeout", 0);
	tg->offset_sent = tg->offset;
	tg_enqueue(tg, "getUpdates", p, 0, NULL, NULL, NULL, 0, NULL, NULL);
}

/* Tell the batch callback which updates are coming. */
static void
batch_begin(struct bc_tg *tg, bc_tg_batch_cb *bcb, json_t *result)
{
	size_t i, k = 0, n = json_array_size(result);
	int64_t *ids, id;
	json_t *v;

	ids = xreallocarray(NULL, n, sizeof *ids);
	for (i = 0; i < n; i++) {
		v = json_object_get(json_array_get(result, i), "update_id");
		if (!json_is_integer(v) ||
		    (id = json_integer_value(v)) < tg->offset)
			continue;
		ids[k++] = id;
	}
	(void)bcb(tg, 0, ids, k, tg->barg);
	free(ids);
}

/* A batch of updates: handle in order until one asks to wait. */
static void
poll_batch(struct bc_tg *tg, json_t *result)
{
	bc_tg_batch_cb *bcb = (bc_tg_batch_cb *)tg->bcb;
	int64_t before = tg->offset;
	size_t i, n = json_array_size(result);
	int again = 0;

	if (bcb != NULL && n > 0)
		batch_begin(tg, bcb, result);
	for (i = 0; i < n && !tg->stopping && !tg->fatal; i++) {
		if (handle_one(tg, json_array_get(result, i), 1) == -1) {
			again = 1;
			break;
		}
	}
	if (bcb != NULL && n > 0 && bcb(tg, 1, NULL, 0, tg->barg) == -1) {
		/* Nothing of the batch stuck: all of it again. */
		tg->offset = before;
		again = 1;
	}
	if (tg->stopping || tg->fatal) {
		confirm_offset(tg);
		return;
	}
	bc_backoff_reset(&tg->conflict_bo);
	if (again || (n > 0 && tg->offset == before)) {
		/* Wait before fetching the same updates again. */
		poll_later(tg, bc_backoff_next(&tg->poll_bo));
		return;
	}
	bc_backoff_reset(&tg->poll_bo);
	poll_start(tg);
}

/* A getUpdates that failed: wait as the failure asks. */
static void
poll_failed(struct bc_tg *tg, long status, const json_t *j,
    const char *desc)
{
	const json_t *params = json_object_get(j, "parameters");
	int64_t code = json_integer_value(json_object_get(j, "error_code"));
	int64_t ra = json_integer_value(json_object_get(params,
	    "retry_after"));

	if (code == 0)
		code = status;
	if (code == 401) {
		tg_set_fatal(tg, desc);
		return;
	}
	if (ra > 0) {
		log_ms(LOG_LEVEL_WARN, "telegram flood control on getUpdates",
		    ra * 1000, desc);
		poll_later(tg, ra * 1000);
		return;
	}
	if (code == 409) {
		int64_t d = bc_backoff_next(&tg->conflict_bo);

		log_ms(LOG_LEVEL_ERROR, "getUpdates conflict: another instance "
		    "of this bot is polling, or a webhook is set", d, desc);
		tg_inc(tg->m_conflicts);
		poll_later(tg, d);
		return;
	}
	code = bc_backoff_next(&tg->poll_bo);
	log_ms(LOG_LEVEL_WARN, "getUpdates failed", code, desc);
	poll_later(tg, code);
}

static void
on_poll(const struct bc_http_resp *resp, void *arg)
{
	struct bc_tg *tg = arg;
	json_t *j = NULL, *result;
	const char *desc;
	char *msg = NULL;

	tg->poll_hc = NULL;
	if (resp->error != BC_HTTP_OK) {
		xasprintf(&msg, "%s: %s", bc_http_strerror(resp->error),
		    resp->errmsg != NULL ? resp->errmsg : "");
		poll_failed(tg, 0, NULL, msg);
		free(msg);
		return;
	}
	j = json_loadb(resp->body, resp->body_len, 0, NULL);
	result = json_object_get(j, "result");
	if (json_is_true(json_object_get(j, "ok")) && json_is_array(result))
		poll_batch(tg, result);
	else {
		desc = json_string_value(json_object_get(j, "description"));
		poll_failed(tg, resp->status, j, desc != NULL ? desc :
		    "not a Bot API reply");
	}
	json_decref(j);
}

static void
poll_start(struct bc_tg *tg)
{
	struct bc_http_req req = BC_HTTP_REQ_ZERO;
	char *cause = NULL, *body, *url = NULL;
	json_t *p;

	if (tg->stopping || tg->fatal || tg->poll_hc != NULL)
		return;
	if (tg->lim.nqueued >= TG_BACKLOG_MAX) {
		poll_later(tg, TG_BACKLOG_WAIT_MS);
		return;
	}
	p = json_pack("{s:I,s:i,s:i,s:O}", "offset", (json_int_t)tg->offset,
	    "limit", TG_POLL_LIMIT, "timeout", tg->poll_timeout_s,
	    "allowed_updates", tg->allowed_updates);
	body = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	xasprintf(&url, "%.*sgetUpdates", (int)tg->urlprefix, tg->url);
	req.method = "POST";
	req.url = url;
	req.body = body;
	req.body_len = strlen(body);
	req.content_type = "application/json";
	req.timeout_ms = (int64_t)tg->poll_timeout_s * 1000 +
	    TG_POLL_SLACK_MS;
	tg->offset_sent = tg->offset;
	tg->poll_hc = bc_http_start(tg->http, &req, on_poll, tg, &cause);
	explicit_bzero(url, strlen(url));
	free(url);
	free(body);
	if (tg->poll_hc == NULL) {
		log_kv(LOG_LEVEL_WARN, "cannot start getUpdates", "error",
		    cause, NULL);
		free(cause);
		poll_later(tg, bc_backoff_next(&tg->poll_bo));
	}
}

/* deleteWebhook is done (or failed): start polling. */
static void
on_webhook_deleted(const struct bc_tg_result *r, void *arg)
{
	struct bc_tg *tg = arg;

	if (!r->ok && !tg->fatal)
		log_kv(LOG_LEVEL_WARN, "deleteWebhook failed; polling anyway",
		    "description", r->description, NULL);
	poll_start(tg);
}

/* Common checks and state for both ways in. 0 or -1. */
static int
updates_begin(struct bc_tg *tg, int mode, bc_tg_update_cb *cb, void *arg,
    char **cause)
{
	if (tg->umode != TG_UPDATES_NONE) {
		*cause = xstrdup("telegram updates are already being "
		    "received");
		return -1;
	}
	if (cb == NULL || tg->fatal) {
		*cause = xstrdup(cb == NULL ? "no update handler" :
		    "telegram client stopped by a 401");
		return -1;
	}
	tg->umode = mode;
	tg->ucb = (void *)cb;
	tg->uarg = arg;
	tg->stopping = 0;
	return 0;
}

int
bc_tg_start_polling(struct bc_tg *tg, bc_tg_update_cb *cb, void *arg,
    char **cause)
{
	if (updates_begin(tg, TG_UPDATES_POLL, cb, arg, cause) == -1)
		return -1;
	if (tg->poll_timer == NULL &&
	    (tg->poll_timer = evtimer_new(tg->base, poll_timer_cb, tg)) ==
	    NULL) {
		tg->umode = TG_UPDATES_NONE;
		*cause = xstrdup("cannot create a timer");
		return -1;
	}
	bc_backoff_init(&tg->poll_bo, tg->retry_initial_ms,
	    TG_POLL_BACKOFF_MAX, 0.2);
	bc_backoff_init(&tg->conflict_bo, tg->conflict_initial_ms,
	    TG_CONFLICT_MAX, 0.2);
	if (tg_enqueue(tg, "deleteWebhook", json_pack("{s:b}",
	    "drop_pending_updates", 0), 0, NULL, NULL, NULL, 0,
	    on_webhook_deleted, tg) == -1) {
		tg->umode = TG_UPDATES_NONE;
		*cause = xstrdup("cannot queue deleteWebhook");
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- webhook */

static void
reply_text(struct bc_httpd_req *req, int status, const char *text)
{
	bc_httpd_reply(req, status, "text/plain; charset=utf-8", text,
	    strlen(text));
}

/* The body as an update, handled. The HTTP status to answer. */
static int
webhook_update(struct bc_tg *tg, struct bc_httpd_req *req)
{
	size_t len;
	const char *body = bc_httpd_body(req, &len);
	json_error_t err;
	json_t *j;
	int rc;

	if ((j = json_loadb(body, len, 0, &err)) == NULL) {
		skip_malformed(tg, -1, err.text, NULL);
		return 200;
	}
	rc = handle_one(tg, j, 0);
	json_decref(j);
	return rc == 0 ? 200 : 500;
}

static void
on_webhook(struct bc_httpd_req *req, void *arg)
{
	struct bc_tg *tg = arg;
	const char *given;

	if (tg->umode != TG_UPDATES_HOOK || tg->stopping || tg->fatal) {
		reply_text(req, 503, "not receiving updates\n");
		return;
	}
	given = bc_httpd_header(req, TG_SECRET_HEADER);
	if (given == NULL || !bc_ct_streq(given, tg->wh_secret)) {
		log_kv(LOG_LEVEL_WARN, "webhook request with a wrong secret "
		    "token", "peer", bc_httpd_peer(req), NULL);
		tg_inc(tg->m_rejected);
		reply_text(req, 401, "secret token is wrong\n");
		return;
	}
	switch (webhook_update(tg, req)) {
	case 200:
		reply_text(req, 200, "ok\n");
		break;
	default:
		reply_text(req, 500, "try again later\n");
		break;
	}
}

/* Log what Telegram says about our webhook. */
static void
on_webhook_info(const struct bc_tg_result *r, void *arg)
{
	const json_t *res = r->result;
	char pending[24];

	(void)arg;
	if (!r->ok)
		return;
	snprintf(pending, sizeof(pending), "%lld", (long long)
	    json_integer_value(json_object_get(res, "pending_update_count")));
	log_kv(LOG_LEVEL_INFO, "telegram webhook info", "pending", pending,
	    "last_error", json_string_value(json_object_get(res,
	    "last_error_message")), NULL);
}

static void
on_webhook_set(const struct bc_tg_result *r, void *arg)
{
	struct bc_tg *tg = arg;

	if (!r->ok) {
		log_kv(LOG_LEVEL_ERROR, "setWebhook failed", "description",
		    r->description, NULL);
		return;
	}
	log_info("telegram webhook set");
	tg_enqueue(tg, "getWebhookInfo", NULL, 0, NULL, NULL, NULL, 0,
	    on_webhook_info, NULL);
}

static int
secret_ok(const char *s)
{
	size_t i;

	if (s == NULL || *s == '\0' || strlen(s) > BC_TG_SECRET_MAX)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

int
bc_tg_start_webhook(struct bc_tg *tg, struct bc_httpd *httpd,
    const char *path, const char *public_url, const char *secret,
    bc_tg_update_cb *cb, void *arg, char **cause)
{
	json_t *p;

	if (!secret_ok(secret) || httpd == NULL || path == NULL ||
	    path[0] != '/' || public_url == NULL || *public_url == '\0') {
		*cause = xstrdup("webhook needs a server, a path, a public URL "
		    "and a secret of 1-256 characters A-Z a-z 0-9 _ -");
		return -1;
	}
	if (updates_begin(tg, TG_UPDATES_HOOK, cb, arg, cause) == -1)
		return -1;
	free(tg->wh_secret);
	tg->wh_secret = xstrdup(secret);
	log_redact(tg->wh_secret);
	if (bc_httpd_route(httpd, "POST", path, on_webhook, tg) == -1) {
		tg->umode = TG_UPDATES_NONE;
		xasprintf(cause, "cannot route webhook path %s", path);
		return -1;
	}
	p = json_pack("{s:s,s:s,s:O}", "url", public_url, "secret_token",
	    secret, "allowed_updates", tg->allowed_updates);
	if (p == NULL || tg_enqueue(tg, "setWebhook", p, 0, NULL, NULL, NULL,
	    0, on_webhook_set, tg) == -1) {
		*cause = xstrdup("cannot queue setWebhook");
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- stop */

void
bc_tg_stop_updates(struct bc_tg *tg)
{
	if (tg == NULL || tg->umode == TG_UPDATES_NONE || tg->stopping)
		return;
	tg->stopping = 1;
	if (tg->poll_hc != NULL) {
		bc_http_cancel(tg->poll_hc);
		tg->poll_hc = NULL;
	}
	if (tg->poll_timer != NULL)
		event_del(tg->poll_timer);
	/* A handler running now finishes; poll_batch confirms after it. */
	if (!tg->in_handler)
		confirm_offset(tg);
}

int64_t
bc_tg_offset(const struct bc_tg *tg)
{
	return tg->offset;
}

void
tg_updates_free(struct bc_tg *tg)
{
	if (tg->poll_hc != NULL)
		bc_http_cancel(tg->poll_hc);
	tg->poll_hc = NULL;
	if (tg->poll_timer != NULL)
		event_free(tg->poll_timer);
	tg->poll_timer = NULL;
	free(tg->wh_secret);
	tg->wh_secret = NULL;
}
