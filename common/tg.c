/*
 * Telegram Bot API client: the outgoing queue. Calls are queued in the
 * limiter (tg-queue.c), sent when it allows, and their replies sorted
 * here, in one place: success, flood control (429: pause the whole bot),
 * migration to a supergroup, transient failures (5xx, network: backoff),
 * 401 (fatal) and everything else (reported as it is).
 */

#include <sys/queue.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include <botcommon/backoff.h>
#include <botcommon/http.h>
#include <botcommon/log.h>
#include <botcommon/metrics.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "tg-internal.h"

#define TG_API_URL		"https://api.telegram.org"
#define TG_NOT_MODIFIED		"message is not modified"

enum tg_outcome {
	TG_OK,
	TG_FAIL,
	TG_RETRY,	/* 5xx or network */
	TG_FLOOD,	/* 429 with retry_after */
	TG_MIGRATE,
	TG_FATAL,	/* 401 */
};

static void	tg_pump(evutil_socket_t, short, void *);
static void	metrics_register(struct bc_tg *);

int64_t
tg_now(const struct bc_tg *tg)
{
	return tg->clock_ms != NULL ? tg->clock_ms() : bc_now_ms();
}

/* Send whatever may go, soon, from the loop. */
static void
tg_kick(struct bc_tg *tg)
{
	struct timeval tv = { 0, 0 };

	event_add(tg->qtimer, &tv);
}

static void
tg_arm(struct bc_tg *tg, int64_t ms)
{
	struct timeval tv;

	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	event_add(tg->qtimer, &tv);
}

/* ---------------------------------------------------------------- new */

/* "<digits>:<[A-Za-z0-9_-]+>"; the bot id goes to id. 0 or -1. */
static int
token_check(const char *t, char *id, size_t idsz)
{
	size_t n = 0, i;

	while (t[n] >= '0' && t[n] <= '9')
		n++;
	if (n == 0 || n >= idsz || t[n] != ':' || t[n + 1] == '\0')
		return -1;
	for (i = n + 1; t[i] != '\0'; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' &&
		    t[i] != '-')
			return -1;
	memcpy(id, t, n);
	id[n] = '\0';
	return 0;
}

static void
tg_defaults(struct bc_tg *tg, const struct bc_tg_opts *o)
{
	tg->poll_timeout_s = o->poll_timeout_s <= 0 ? 30 :
	    o->poll_timeout_s > 50 ? 50 : o->poll_timeout_s;
	tg->call_timeout_ms = o->call_timeout_ms > 0 ? o->call_timeout_ms :
	    30000;
	tg->retry_initial_ms = o->retry_initial_ms > 0 ?
	    o->retry_initial_ms : 1000;
	tg->retry_max_ms = o->retry_max_ms > 0 ? o->retry_max_ms : 3600000;
	tg->max_attempts = o->max_attempts > 0 ? o->max_attempts : 10;
	tg->conflict_initial_ms = o->conflict_initial_ms > 0 ?
	    o->conflict_initial_ms : 5000;
	tg->clock_ms = o->clock_ms;
	tg->metrics = o->metrics;
	tg->on_fatal = o->on_fatal;
	tg->fatal_arg = o->fatal_arg;
}

static void
tg_limits(struct bc_tg *tg, const struct bc_tg_opts *o)
{
	struct tg_lim_conf cf;

	cf.global_rate = o->global_rate > 0 ? o->global_rate : 30;
	cf.chat_interval_s = o->chat_interval_s > 0 ? o->chat_interval_s : 1;
	cf.chat_burst = o->chat_burst > 0 ? o->chat_burst : 3;
	cf.group_per_min = o->group_per_min > 0 ? o->group_per_min : 20;
	cf.max_inflight = o->max_inflight > 0 ? o->max_inflight : 32;
	tg_lim_init(&tg->lim, &cf);
}

/* The allowed_updates array from the options. 0 or -1. */
static int
tg_allowed(struct bc_tg *tg, const char *text, char **cause)
{
	json_error_t err;

	if (text == NULL)
		text = "[\"message\",\"edited_message\",\"callback_query\","
		    "\"my_chat_member\",\"chat_member\"]";
	tg->allowed_updates = json_loads(text, 0, &err);
	if (!json_is_array(tg->allowed_updates)) {
		xasprintf(cause, "allowed_updates is not a JSON array: %s",
		    text);
		return -1;
	}
	return 0;
}

/* The URL prefix "<api>/bot<token>/" with room for a method. */
static void
tg_url(struct bc_tg *tg, const char *api)
{
	size_t alen;

	if (api == NULL || *api == '\0')
		api = TG_API_URL;
	alen = strlen(api);
	while (alen > 0 && api[alen - 1] == '/')
		alen--;
	xasprintf(&tg->url, "%.*s/bot%s/", (int)alen, api, tg->token);
	tg->urlprefix = strlen(tg->url);
	tg->urlcap = tg->urlprefix + 1;
}

struct bc_tg *
bc_tg_new(struct event_base *base, struct bc_http *http,
    const struct bc_tg_opts *o, char **cause)
{
	struct bc_tg *tg = xcalloc(1, sizeof(*tg));

	TAILQ_INIT(&tg->calls);
	tg->base = base;
	tg->http = http;
	if (base == NULL || http == NULL || o == NULL) {
		*cause = xstrdup("telegram client needs a loop and an HTTP "
		    "client");
		goto fail;
	}
	if (o->token == NULL || token_check(o->token, tg->bot_id,
	    sizeof(tg->bot_id)) == -1) {
		*cause = xstrdup("telegram token is missing or malformed "
		    "(expected <bot id>:<secret>)");
		goto fail;
	}
	tg->token = xstrdup(o->token);
	log_redact(tg->token);
	tg_url(tg, o->api_url);
	if (tg_allowed(tg, o->allowed_updates, cause) == -1)
		goto fail;
	if (o->nadmins > 0) {
		tg->admins = xcalloc(o->nadmins, sizeof(*tg->admins));
		memcpy(tg->admins, o->admins, o->nadmins * sizeof(*o->admins));
		tg->nadmins = o->nadmins;
	}
	tg_defaults(tg, o);
	tg_limits(tg, o);
	metrics_register(tg);
	if ((tg->qtimer = evtimer_new(base, tg_pump, tg)) == NULL) {
		*cause = xstrdup("cannot create a timer");
		goto fail;
	}
	return tg;
fail:
	bc_tg_free(tg);
	return NULL;
}

static void
call_free(struct tg_call *c)
{
	if (c->up != NULL) {
		free(c->up->field);
		free(c->up->filename);
		free(c->up->data);
		free(c->up);
	}
	if (c->multi != NULL && --c->multi->refs == 0)
		free(c->multi);
	json_decref(c->params);
	free(c);
}

void
bc_tg_free(struct bc_tg *tg)
{
	struct tg_call *c;

	if (tg == NULL)
		return;
	tg_updates_free(tg);
	while ((c = TAILQ_FIRST(&tg->calls)) != NULL) {
		TAILQ_REMOVE(&tg->calls, c, entry);
		bc_http_cancel(c->hc);
		call_free(c);
	}
	if (tg->qtimer != NULL)
		event_free(tg->qtimer);
	tg_lim_release(&tg->lim);
	json_decref(tg->allowed_updates);
	free(tg->admins);
	free(tg->me_username);
	free(tg->body);
	if (tg->url != NULL) {
		explicit_bzero(tg->url, tg->urlprefix);
		free(tg->url);
	}
	if (tg->token != NULL) {
		explicit_bzero(tg->token, strlen(tg->token));
		free(tg->token);
	}
	free(tg);
}

/* ---------------------------------------------------------------- metrics */

static void
metrics_register(struct bc_tg *tg)
{
	struct bc_metrics *r = tg->metrics;

	if (r == NULL)
		return;
	tg->m_calls = bc_metrics_counter(r, "tg_api_calls_total",
	    "Telegram Bot API calls by method and final result.",
	    "method,result");
	tg->m_flood = bc_metrics_counter(r, "tg_flood_waits_total",
	    "Telegram 429 answers (every send paused).", NULL);
	tg->m_flood_wait = bc_metrics_counter(r,
	    "tg_flood_wait_seconds_total",
	    "Seconds of retry_after asked by Telegram.", NULL);
	tg->m_depth = bc_metrics_gauge(r, "tg_queue_depth",
	    "Telegram calls waiting in the outgoing queue.", NULL);
	tg->m_inflight = bc_metrics_gauge(r, "tg_calls_in_flight",
	    "Telegram calls on the wire.", NULL);
	tg->m_updates = bc_metrics_counter(r, "tg_updates_total",
	    "Telegram updates received, by outcome.", "outcome");
	tg->m_conflicts = bc_metrics_counter(r, "tg_conflicts_total",
	    "Telegram 409 Conflict answers to getUpdates.", NULL);
	tg->m_rejected = bc_metrics_counter(r, "tg_webhook_rejected_total",
	    "Webhook requests with a missing or wrong secret token.", NULL);
	tg->m_fatal = bc_metrics_counter(r, "tg_unauthorized_total",
	    "Telegram 401 answers (the token was refused).", NULL);
}

void
tg_inc(struct bc_metric *m)
{
	if (m != NULL)
		bc_metric_inc(m, NULL);
}

void
tg_count_update(struct bc_tg *tg, const char *outcome)
{
	if (tg->m_updates != NULL)
		bc_metric_inc(tg->m_updates, BC_LV(outcome));
}

static void
metric_call(struct bc_tg *tg, const char *method, const char *result)
{
	if (tg->m_calls != NULL)
		bc_metric_inc(tg->m_calls, BC_LV(method, result));
}

static void
metric_flood(struct bc_tg *tg, int64_t wait_s)
{
	tg_inc(tg->m_flood);
	if (tg->m_flood_wait != NULL)
		bc_metric_add(tg->m_flood_wait, NULL, (double)wait_s);
}

static void
metric_depth(struct bc_tg *tg)
{
	if (tg->m_depth != NULL)
		bc_metric_set(tg->m_depth, NULL, (double)tg->lim.nqueued);
	if (tg->m_inflight != NULL)
		bc_metric_set(tg->m_inflight, NULL, (double)tg->lim.inflight);
}

/* ---------------------------------------------------------------- enqueue */

/* The limiter key of a chat_id parameter. */
static int64_t
chat_key(const json_t *v)
{
	const char *s;
	uint64_t h = 1469598103934665603ULL;
	char *end;
	long long n;

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (!json_is_string(v) || *(s = json_string_value(v)) == '\0')
		return TG_NOCHAT;
	n = strtoll(s, &end, 10);
	if (*end == '\0')
		return (int64_t)n;
	/* "@channel": a group of its own, far from any real id. */
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)tolower((unsigned char)*s)) *
		    1099511628211ULL;
	return INT64_MIN / 2 + (int64_t)(h >> 8);
}

static int
method_ok(const char *m)
{
	size_t i;

	if (m == NULL || *m == '\0')
		return 0;
	for (i = 0; m[i] != '\0'; i++)
		if (i >= 39 || !isalnum((unsigned char)m[i]))
			return 0;
	return 1;
}

/* The parameters the flags stand for. */
static void
apply_flags(json_t *p, const char *method, int flags)
{
	if ((flags & BC_TG_HTML) && json_object_get(p, "parse_mode") == NULL)
		json_object_set_new(p, "parse_mode", json_string("HTML"));
	if (flags & BC_TG_SILENT)
		json_object_set_new(p, "disable_notification", json_true());
	if ((flags & BC_TG_NOPREVIEW) &&
	    (strcmp(method, "sendMessage") == 0 ||
	    strcmp(method, "editMessageText") == 0))
		json_object_set_new(p, "link_preview_options",
		    json_pack("{s:b}", "is_disabled", 1));
}

int
tg_enqueue(struct bc_tg *tg, const char *method, json_t *params, int flags,
    struct tg_upload *up, tg_hook *hook, struct tg_multi *multi, int last,
    void (*cb)(const struct bc_tg_result *, void *), void *arg)
{
	struct tg_call *c;

	if (params == NULL)
		params = json_object();
	if (!method_ok(method) || !json_is_object(params) || tg->fatal) {
		log_kv(LOG_LEVEL_WARN, "telegram call refused", "method",
		    method != NULL ? method : "", "reason", tg->fatal ?
		    "client stopped by a 401" : "bad method or parameters",
		    NULL);
		json_decref(params);
		return -1;
	}
	c = xcalloc(1, sizeof(*c));
	c->tg = tg;
	bc_strlcpy(c->method, method, sizeof(c->method));
	apply_flags(params, method, flags);
	c->params = params;
	c->up = up;
	c->flags = flags;
	c->chat = chat_key(json_object_get(params, "chat_id"));
	c->hook = hook;
	c->multi = multi;
	c->last = last;
	c->cb = cb;
	c->arg = arg;
	c->started = tg_now(tg);
	TAILQ_INSERT_TAIL(&tg->calls, c, entry);
	tg_lim_push(&tg->lim, &c->item, c->chat, flags & BC_TG_BULK,
	    c->started);
	metric_depth(tg);
	tg_kick(tg);
	return 0;
}

int
bc_tg_call(struct bc_tg *tg, const char *method, json_t *params, int flags,
    bc_tg_cb *cb, void *arg)
{
	return tg_enqueue(tg, method, params, flags, NULL, NULL, NULL, 0, cb,
	    arg);
}

int
bc_tg_call_upload(struct bc_tg *tg, const char *method, json_t *params,
    const char *field, const void *data, size_t len, const char *filename,
    int flags, bc_tg_cb *cb, void *arg)
{
	struct tg_upload *up;

	if (field == NULL || *field == '\0' || (data == NULL && len > 0)) {
		log_kv(LOG_LEVEL_WARN, "telegram upload refused", "method",
		    method != NULL ? method : "", NULL);
		json_decref(params);
		return -1;
	}
	up = xcalloc(1, sizeof(*up));
	up->field = xstrdup(field);
	up->filename = xstrdup(filename != NULL && *filename != '\0' ?
	    filename : "file");
	up->data = xmalloc(len + 1);
	if (len > 0)
		memcpy(up->data, data, len);
	up->len = len;
	if (tg_enqueue(tg, method, params, flags, up, NULL, NULL, 0, cb,
	    arg) == -1) {
		free(up->field);
		free(up->filename);
		free(up->data);
		free(up);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- finish */

static const char *
result_name(const struct bc_tg_result *r)
{
	if (r->ok)
		return "ok";
	if (r->status == 0)
		return "network";
	if (r->error_code == 403)
		return "forbidden";
	if (r->error_code >= 500 || r->status >= 500)
		return "server_error";
	return "error";
}

/* The call is over: tell whoever asked, then forget it. */
static void
finish(struct bc_tg *tg, struct tg_call *c, struct bc_tg_result *r)
{
	struct tg_multi *m = c->multi;

	tg_lim_done(&tg->lim, &c->item, tg_now(tg));
	TAILQ_REMOVE(&tg->calls, c, entry);
	r->attempts = c->attempts;
	r->migrated_to = c->migrated_to;
	r->retry_after = c->retry_after;
	if (r->description == NULL)
		r->description = "";
	metric_call(tg, c->method, result_name(r));
	metric_depth(tg);
	if (c->hook != NULL)
		c->hook(tg, r);
	if (m != NULL) {
		if (!r->ok && !m->failed) {
			m->failed = 1;
			if (m->cb != NULL)
				m->cb(r, m->arg);
		} else if (r->ok && c->last && !m->failed && m->cb != NULL)
			m->cb(r, m->arg);
	} else if (c->cb != NULL)
		c->cb(r, c->arg);
	call_free(c);
}

/* Finish a call that failed before any reply. */
static void
finish_error(struct bc_tg *tg, struct tg_call *c, int code, const char *why)
{
	struct bc_tg_result r;

	memset(&r, 0, sizeof(r));
	r.status = code;
	r.error_code = code;
	r.description = why;
	finish(tg, c, &r);
}

void
tg_set_fatal(struct bc_tg *tg, const char *reason)
{
	if (tg->fatal)
		return;
	tg->fatal = 1;
	log_kv(LOG_LEVEL_ERROR, "telegram rejected the bot token; stopping",
	    "bot", tg->bot_id, "description", reason, NULL);
	tg_inc(tg->m_fatal);
	bc_tg_stop_updates(tg);
	if (tg->on_fatal != NULL)
		tg->on_fatal(tg, reason, tg->fatal_arg);
}

/* ---------------------------------------------------------------- send */

/* The URL for method, in tg->url (no allocation once grown). */
static const char *
method_url(struct bc_tg *tg, const char *method)
{
	size_t n = strlen(method);

	if (tg->urlprefix + n + 1 > tg->urlcap) {
		tg->urlcap = tg->urlprefix + n + 32;
		tg->url = xrealloc(tg->url, tg->urlcap);
	}
	memcpy(tg->url + tg->urlprefix, method, n + 1);
	return tg->url;
}

/* params as compact JSON in tg->body. Returns its length. */
static size_t
json_body(struct bc_tg *tg, const json_t *params)
{
	size_t n;

	n = json_dumpb(params, tg->body, tg->bodycap, JSON_COMPACT);
	if (n > tg->bodycap) {
		tg->bodycap = n + 256;
		tg->body = xrealloc(tg->body, tg->bodycap);
		n = json_dumpb(params, tg->body, tg->bodycap, JSON_COMPACT);
	}
	return n;
}

/* Resend to the supergroup a chat became, if we learnt of one. */
static void
follow_migration(struct bc_tg *tg, struct tg_call *c)
{
	const json_t *v = json_object_get(c->params, "chat_id");
	int64_t id;
	size_t i;

	if (tg->nmig == 0 || !json_is_integer(v))
		return;
	id = (int64_t)json_integer_value(v);
	for (i = 0; i < tg->nmig; i++) {
		if (tg->mig[i].from == id) {
			json_object_set_new(c->params, "chat_id",
			    json_integer(tg->mig[i].to));
			c->migrated_to = tg->mig[i].to;
			return;
		}
	}
}

static void	on_reply(const struct bc_http_resp *, void *);

/* Start a multipart upload of c. */
static struct bc_http_call *
send_upload(struct bc_tg *tg, struct tg_call *c, struct bc_http_req *req,
    char **cause)
{
	size_t n = json_object_size(c->params) + 1, i = 0, k;
	struct bc_http_part *parts = xcalloc(n, sizeof(*parts));
	char **dumps = xcalloc(n, sizeof(*dumps));
	struct bc_http_call *hc;
	const char *key;
	json_t *v;

	json_object_foreach(c->params, key, v) {
		parts[i].name = key;
		if (json_is_string(v))
			parts[i].value = json_string_value(v);
		else
			parts[i].value = dumps[i] = json_dumps(v,
			    JSON_COMPACT | JSON_ENCODE_ANY);
		parts[i].value_len = parts[i].value != NULL ?
		    strlen(parts[i].value) : 0;
		i++;
	}
	parts[i].name = c->up->field;
	parts[i].value = c->up->data;
	parts[i].value_len = c->up->len;
	parts[i].filename = c->up->filename;
	req->parts = parts;
	req->nparts = i + 1;
	hc = bc_http_start(tg->http, req, on_reply, c, cause);
	for (k = 0; k < n; k++)
		free(dumps[k]);
	free(dumps);
	free(parts);
	return hc;
}

static void
send_call(struct bc_tg *tg, struct tg_call *c)
{
	struct bc_http_req req = BC_HTTP_REQ_ZERO;
	char *cause = NULL;

	if (tg->fatal) {
		finish_error(tg, c, 401, "Unauthorized (client stopped)");
		return;
	}
	if (c->multi != NULL && c->multi->failed) {
		/* An earlier part failed: the rest is not sent. */
		tg_lim_done(&tg->lim, &c->item, tg_now(tg));
		TAILQ_REMOVE(&tg->calls, c, entry);
		call_free(c);
		return;
	}
	follow_migration(tg, c);
	req.method = "POST";
	req.url = method_url(tg, c->method);
	req.timeout_ms = tg->call_timeout_ms;
	req.max_retries = 0;
	if (c->up != NULL)
		c->hc = send_upload(tg, c, &req, &cause);
	else {
		req.body_len = json_body(tg, c->params);
		req.body = tg->body;
		req.content_type = "application/json";
		c->hc = bc_http_start(tg->http, &req, on_reply, c, &cause);
	}
	if (c->hc == NULL) {
		c->attempts++;
		finish_error(tg, c, 0, cause != NULL ? cause : "cannot start");
	}
	free(cause);
}

static void
tg_pump(evutil_socket_t fd, short ev, void *arg)
{
	struct bc_tg *tg = arg;
	struct tg_item *it;
	int64_t now = tg_now(tg), due;

	(void)fd;
	(void)ev;
	while ((it = tg_lim_next(&tg->lim, now, &due)) != NULL)
		send_call(tg, (struct tg_call *)it);
	if (due != TG_NEVER)
		tg_arm(tg, due - tg_now(tg));
}

/* ---------------------------------------------------------------- reply */

/* A reply with "ok": false: what to do about it. */
static enum tg_outcome
classify_error(const struct bc_http_resp *resp, const json_t *j,
    struct bc_tg_result *r, int64_t *migrate)
{
	const json_t *params = json_object_get(j, "parameters");
	const json_t *code = json_object_get(j, "error_code");

	r->error_code = json_is_integer(code) ?
	    (int)json_integer_value(code) : (int)resp->status;
	r->description = json_string_value(json_object_get(j,
	    "description"));
	if (r->description == NULL)
		r->description = "";
	r->retry_after = json_integer_value(json_object_get(params,
	    "retry_after"));
	*migrate = json_integer_value(json_object_get(params,
	    "migrate_to_chat_id"));
	/* Parameters first, then the code; the text only for one case. */
	if (r->retry_after > 0)
		return TG_FLOOD;
	if (*migrate != 0)
		return TG_MIGRATE;
	if (r->error_code == 401 || resp->status == 401)
		return TG_FATAL;
	if (r->error_code >= 500 || resp->status >= 500)
		return TG_RETRY;
	if (r->error_code == 400 && strstr(r->description, TG_NOT_MODIFIED)) {
		r->ok = 1;
		return TG_OK;
	}
	return TG_FAIL;
}

/* Telegram's reply in r; the outcome kind. *j keeps the JSON alive. */
static enum tg_outcome
classify(const struct bc_http_resp *resp, json_t **j,
    struct bc_tg_result *r, int64_t *migrate, char **desc)
{
	memset(r, 0, sizeof(r[0]));
	r->status = (int)resp->status;
	if (resp->error != BC_HTTP_OK) {
		xasprintf(desc, "%s: %s", bc_http_strerror(resp->error),
		    resp->errmsg != NULL ? resp->errmsg : "");
		r->description = *desc;
		return TG_RETRY;
	}
	*j = json_loadb(resp->body, resp->body_len, 0, NULL);
	if (!json_is_object(*j)) {
		xasprintf(desc, "HTTP %ld with a reply that is not a Bot API "
		    "object", resp->status);
		r->description = *desc;
		r->error_code = (int)resp->status;
		return resp->status >= 500 ? TG_RETRY : TG_FAIL;
	}
	if (!json_is_true(json_object_get(*j, "ok")))
		return classify_error(resp, *j, r, migrate);
	r->ok = 1;
	r->result = json_object_get(*j, "result");
	r->description = json_string_value(json_object_get(*j,
	    "description"));
	return TG_OK;
}

/* 429: hold every send of the bot for retry_after, then this again. */
static void
on_flood(struct bc_tg *tg, struct tg_call *c, const struct bc_tg_result *r)
{
	int64_t now = tg_now(tg), until;
	char secs[24];

	c->retry_after = r->retry_after;
	until = now + r->retry_after * 1000;
	tg_lim_pause(&tg->lim, until);
	tg_lim_retry(&tg->lim, &c->item, until, now);
	snprintf(secs, sizeof(secs), "%lld", (long long)r->retry_after);
	log_kv(LOG_LEVEL_WARN, "telegram flood control: every send paused",
	    "method", c->method, "retry_after", secs, NULL);
	metric_flood(tg, r->retry_after);
}

/* The group became a supergroup: remember, and resend there now. */
static int
on_migrate(struct bc_tg *tg, struct tg_call *c, int64_t to)
{
	const json_t *v = json_object_get(c->params, "chat_id");
	int64_t from;

	if (c->migrated_to != 0 || !json_is_integer(v) || to == 0)
		return -1;
	from = (int64_t)json_integer_value(v);
	if (tg->nmig == TG_MIGRATIONS_MAX) {
		memmove(tg->mig, tg->mig + 1, sizeof(tg->mig[0]) *
		    (TG_MIGRATIONS_MAX - 1));
		tg->nmig--;
	}
	tg->mig[tg->nmig].from = from;
	tg->mig[tg->nmig].to = to;
	tg->nmig++;
	json_object_set_new(c->params, "chat_id", json_integer(to));
	c->migrated_to = to;
	tg_lim_retry(&tg->lim, &c->item, tg_now(tg), tg_now(tg));
	log_kv(LOG_LEVEL_INFO, "telegram group became a supergroup",
	    "method", c->method, NULL);
	return 0;
}

/* 5xx or network: again after a growing delay, or give up. */
static int
on_transient(struct bc_tg *tg, struct tg_call *c,
    const struct bc_tg_result *r)
{
	int64_t delay, now = tg_now(tg);
	char ms[24], att[16];

	if (++c->failures >= tg->max_attempts)
		return -1;
	delay = bc_backoff_delay(tg->retry_initial_ms, tg->retry_max_ms, 0.2,
	    (unsigned)(c->failures - 1), bc_random_unit());
	tg_lim_retry(&tg->lim, &c->item, now + delay, now);
	snprintf(ms, sizeof(ms), "%lld", (long long)delay);
	snprintf(att, sizeof(att), "%d", c->attempts);
	log_kv(LOG_LEVEL_INFO, "telegram call failed, retrying", "method",
	    c->method, "attempt", att, "delay_ms", ms, "error",
	    r->description, NULL);
	metric_call(tg, c->method, "retry");
	return 0;
}

/* Log a call that failed for good. */
static void
log_failure(const struct tg_call *c, const struct bc_tg_result *r)
{
	char st[16], code[16], att[16];

	snprintf(st, sizeof(st), "%d", r->status);
	snprintf(code, sizeof(code), "%d", r->error_code);
	snprintf(att, sizeof(att), "%d", c->attempts);
	log_kv(r->error_code == 403 ? LOG_LEVEL_INFO : LOG_LEVEL_WARN,
	    "telegram call failed", "method", c->method, "status", st,
	    "error_code", code, "attempts", att, "description",
	    r->description != NULL ? r->description : "", NULL);
}

static void
on_reply(const struct bc_http_resp *resp, void *arg)
{
	struct tg_call *c = arg;
	struct bc_tg *tg = c->tg;
	struct bc_tg_result r;
	json_t *j = NULL;
	char *desc = NULL;
	int64_t migrate = 0;

	c->hc = NULL;
	c->attempts++;
	switch (classify(resp, &j, &r, &migrate, &desc)) {
	case TG_FLOOD:
		on_flood(tg, c, &r);
		break;
	case TG_MIGRATE:
		if (on_migrate(tg, c, migrate) == 0)
			break;
		log_failure(c, &r);
		finish(tg, c, &r);
		break;
	case TG_RETRY:
		if (on_transient(tg, c, &r) == 0)
			break;
		log_failure(c, &r);
		finish(tg, c, &r);
		break;
	case TG_FATAL:
		tg_set_fatal(tg, r.description);
		finish(tg, c, &r);
		break;
	case TG_FAIL:
		log_failure(c, &r);
		/* FALLTHROUGH */
	case TG_OK:
		finish(tg, c, &r);
		break;
	}
	json_decref(j);
	free(desc);
	tg_kick(tg);
}

/* ---------------------------------------------------------------- state */

int
bc_tg_idle(const struct bc_tg *tg)
{
	return tg->lim.nqueued == 0 && tg->lim.inflight == 0;
}

size_t
bc_tg_queued(const struct bc_tg *tg)
{
	return tg->lim.nqueued;
}

size_t
bc_tg_inflight(const struct bc_tg *tg)
{
	return tg->lim.inflight;
}

int64_t
bc_tg_me_id(const struct bc_tg *tg)
{
	return tg->me_id;
}

const char *
bc_tg_me_username(const struct bc_tg *tg)
{
	return tg->me_username;
}

int
bc_tg_is_admin(const struct bc_tg *tg, int64_t user_id)
{
	size_t i;

	for (i = 0; i < tg->nadmins; i++)
		if (tg->admins[i] == user_id && user_id != 0)
			return 1;
	return 0;
}
