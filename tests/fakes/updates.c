/*
 * Updates: queueing (with allowed_updates), getUpdates with offset
 * confirmation and real long polling (one held request per bot, the older
 * one gets 409 when a second arrives), and webhooks: POSTs with the secret
 * header over a small pool of keep-alive connections, retried with
 * doubling backoff until a 2xx.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "tgfake.h"

#define CONFLICT_POLL	"Conflict: terminated by other getUpdates " \
			"request; make sure that only one bot instance is " \
			"running"
#define CONFLICT_HOOK	"Conflict: can't use getUpdates method while " \
			"webhook is active; use deleteWebhook to delete the " \
			"webhook first"

static void	wh_pump(struct bot *);

/* ------------------------------------------------------------ queue */

size_t
upd_pending(const struct bot *bot)
{
	return bot->q.n - bot->q.ndone;
}

/* allowed_updates: empty or unset means all but three types. */
static int
upd_allowed(const struct bot *bot, const char *type)
{
	json_t *v;
	size_t i;

	if (type == NULL)
		return 1;
	if (json_array_size(bot->allowed) == 0)
		return strcmp(type, "chat_member") != 0 &&
		    strcmp(type, "message_reaction") != 0 &&
		    strcmp(type, "message_reaction_count") != 0;
	json_array_foreach(bot->allowed, i, v)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), type) == 0)
			return 1;
	return 0;
}

/* A new update is there: wake the poller or the webhook. */
static void
upd_notify(struct bot *bot)
{
	if (bot->wh.url != NULL)
		event_active(bot->wh.pump_ev, EV_TIMEOUT, 0);
	else if (bot->poll != NULL)
		rq_hold(bot->poll, 0, bot->poll->on_timer,
		    bot->poll->on_gone);	/* answer in this loop turn */
}

/*
 * Queue the serialized update json (stolen, len bytes) under id.
 */
static void
upd_push(struct bot *bot, int64_t id, char *json, size_t len)
{
	if (updq_push(&bot->q, id, json, len, F.max_updates)) {
		bot->st.overflow++;
		F.st.overflow++;
	}
	bot->st.queued++;
	F.st.queued++;
	upd_notify(bot);
}

/*
 * Queue body (borrowed; update_id is added in front unless present) as an
 * update of this type. Returns the update_id, or 0 when allowed_updates
 * filtered it out.
 */
int64_t
upd_enqueue(struct bot *bot, json_t *body, const char *type)
{
	json_t *o;
	char *s;
	int64_t id;

	if (!upd_allowed(bot, type)) {
		bot->st.filtered++;
		F.st.filtered++;
		return 0;
	}
	id = bot->next_update_id++;
	o = json_pack("{sI}", "update_id", (json_int_t)id);
	json_object_update(o, body);
	if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
		fatalx("cannot serialize an update");
	json_decref(o);
	upd_push(bot, id, s, strlen(s));
	return id;
}

/* Queue len bytes as they are (malformed-update tests). */
int64_t
upd_enqueue_raw(struct bot *bot, const char *raw, size_t len)
{
	int64_t id = bot->next_update_id++;

	upd_push(bot, id, xstrndup(raw, len), len);
	return id;
}

static void
upd_pop(struct bot *bot)
{
	updq_pop(&bot->q);
	bot->st.confirmed++;
	F.st.confirmed++;
}

/* drop_pending_updates: forget every queued update. */
void
upd_drop_pending(struct bot *bot)
{
	upd_webhook_stop_conns(bot);
	while (bot->q.n > 0)
		upd_pop(bot);
}

/* ------------------------------------------------------------ polling */

/* Answer rq with up to limit queued updates. */
static void
poll_reply(struct rq *rq, int limit)
{
	struct sbuf b = { NULL, 0, 0 };
	struct upd *u;
	size_t i;
	int n = 0;

	if (rq->bot->poll == rq)
		rq->bot->poll = NULL;
	sbuf_str(&b, "{\"ok\":true,\"result\":[");
	for (i = 0; (u = updq_at(&rq->bot->q, i)) != NULL && n < limit; i++) {
		if (u->state == UPD_DONE)
			continue;
		if (n++ > 0)
			sbuf_add(&b, ",", 1);
		sbuf_add(&b, u->json, u->len);
	}
	sbuf_str(&b, "]}");
	rq_reply_raw(rq, 200, "application/json", b.p, b.len, NULL);
	free(b.p);
}

static void
poll_timer(struct rq *rq)
{
	poll_reply(rq, rq->bot->poll_limit);
}

static void
poll_gone(struct rq *rq)
{
	if (rq->bot->poll == rq)
		rq->bot->poll = NULL;
}

/* Answer a held getUpdates: code 0 with [], else with the error desc. */
void
upd_poll_cancel(struct bot *bot, int code, const char *desc)
{
	struct rq *rq;

	if ((rq = bot->poll) == NULL)
		return;
	bot->poll = NULL;
	if (code == 0)
		rq_reply_raw(rq, 200, "application/json",
		    "{\"ok\":true,\"result\":[]}", 23, NULL);
	else
		rq_err(rq, code, desc);
}

/* Updates before offset are confirmed; offset -N keeps the last N. */
static void
poll_confirm(struct bot *bot, int64_t offset)
{
	struct upd *u;

	if (offset > 0)
		while ((u = updq_at(&bot->q, 0)) != NULL && u->id < offset)
			upd_pop(bot);
	else if (offset < 0)
		while (bot->q.n > 0 && (int64_t)bot->q.n > -offset)
			upd_pop(bot);
}

/* Read allowed_updates if given (it is sticky). 0, or -1 when bad. */
static int
read_allowed(struct rq *rq)
{
	json_t *a;
	int bad;

	if ((a = p_json(rq->params, "allowed_updates", &bad)) == NULL)
		return bad ? -1 : 0;
	if (!json_is_array(a)) {
		json_decref(a);
		return -1;
	}
	json_decref(rq->bot->allowed);
	rq->bot->allowed = a;
	return 0;
}

void
upd_get_updates(struct rq *rq)
{
	struct bot *bot = rq->bot;
	int64_t offset = 0, limit = 100, timeout = 0;

	if (bot->wh.url != NULL) {
		rq_err(rq, 409, CONFLICT_HOOK);
		return;
	}
	if (p_i64(rq->params, "offset", &offset) == -1 ||
	    p_i64(rq->params, "limit", &limit) == -1 ||
	    p_i64(rq->params, "timeout", &timeout) == -1) {
		rq_err(rq, 400, "Bad Request: wrong parameter value");
		return;
	}
	if (read_allowed(rq) == -1) {
		rq_err(rq, 400, "Bad Request: can't parse allowed_updates");
		return;
	}
	limit = limit < 1 ? 1 : limit > 100 ? 100 : limit;
	timeout = timeout < 0 ? 0 : timeout > TG_POLL_MAX_S ?
	    TG_POLL_MAX_S : timeout;
	upd_poll_cancel(bot, 409, CONFLICT_POLL);
	poll_confirm(bot, offset);
	if (upd_pending(bot) > 0 || timeout == 0) {
		poll_reply(rq, (int)limit);
		return;
	}
	bot->poll = rq;
	bot->poll_limit = (int)limit;
	rq_hold(rq, timeout * 1000, poll_timer, poll_gone);
}

/* ------------------------------------------------------------ webhook */

/* Free the delivery connections; in-flight updates become queued. */
void
upd_webhook_stop_conns(struct bot *bot)
{
	struct webhook *wh = &bot->wh;
	struct upd *u;
	int i;

	for (i = 0; i < wh->max_conn && wh->slots != NULL; i++) {
		if (wh->slots[i].conn != NULL)
			evhttp_connection_free(wh->slots[i].conn);
		wh->slots[i].conn = NULL;
		if (wh->slots[i].busy &&
		    (u = updq_find(&bot->q, wh->slots[i].upd_id)) != NULL &&
		    u->state == UPD_INFLIGHT)
			u->state = UPD_QUEUED;
		wh->slots[i].busy = 0;
	}
	wh->inflight = 0;
	wh->next_id = 0;
}

/* Remove the webhook (its last error goes too). */
void
upd_webhook_stop(struct bot *bot)
{
	struct webhook *wh = &bot->wh;

	upd_webhook_stop_conns(bot);
	free(wh->slots);
	if (wh->retry_ev != NULL)
		event_free(wh->retry_ev);
	if (wh->pump_ev != NULL)
		event_free(wh->pump_ev);
	free(wh->url);
	free(wh->host);
	free(wh->path);
	free(wh->secret);
	free(wh->err_msg);
	memset(wh, 0, sizeof(*wh));
}

/* Note a failed delivery (msg is copied) and back off before the next. */
static void
wh_fail(struct bot *bot, const char *msg)
{
	struct webhook *wh = &bot->wh;
	struct timeval tv;

	free(wh->err_msg);
	wh->err_msg = xstrdup(msg);
	wh->err_date = time(NULL);
	bot->st.wh_fail++;
	F.st.wh_fail++;
	log_debug("webhook delivery failed: %s", wh->err_msg);
	if (wh->waiting)
		return;
	wh->waiting = 1;
	tv.tv_sec = wh->delay_ms / 1000;
	tv.tv_usec = (wh->delay_ms % 1000) * 1000;
	evtimer_add(wh->retry_ev, &tv);
	wh->delay_ms *= 2;
	if (wh->delay_ms > F.wh_backoff_max_ms)
		wh->delay_ms = F.wh_backoff_max_ms;
}

/* A webhook reply may itself be a method call: {"method":...}. */
static void
wh_reply_call(struct bot *bot, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *ct;
	json_t *o;

	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if (len == 0 || ct == NULL || strncmp(ct, "application/json", 16) != 0)
		return;
	o = json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, NULL);
	if (json_is_object(o) && json_is_string(json_object_get(o, "method")))
		api_internal(bot, o);
	json_decref(o);
}

static void
wh_done_ok(struct bot *bot, struct upd *u)
{
	struct upd *f;

	if (u != NULL && u->state != UPD_DONE) {
		u->state = UPD_DONE;
		bot->q.ndone++;
	}
	while ((f = updq_at(&bot->q, 0)) != NULL && f->state == UPD_DONE)
		upd_pop(bot);
	bot->st.wh_ok++;
	F.st.wh_ok++;
	bot->wh.delay_ms = F.wh_backoff_ms;
}

static void
wh_fail_code(struct bot *bot, struct whslot *slot, struct evhttp_request *req,
    int code)
{
	const char *line;
	char *m, *tmp;

	if (code > 0) {
		line = evhttp_request_get_response_code_line(req);
		xasprintf(&tmp, "Wrong response from the webhook: %d %s", code,
		    line != NULL ? line : "");
		m = fake_utf8_clean(tmp);
		wh_fail(bot, m);
		free(tmp);
		free(m);
	} else if (slot->error == (int)EVREQ_HTTP_TIMEOUT + 1)
		wh_fail(bot, "Read timeout expired");
	else if (slot->error == (int)EVREQ_HTTP_EOF + 1)
		wh_fail(bot, "Connection closed without a response");
	else
		wh_fail(bot, "Connection refused");
}

static void
wh_done(struct evhttp_request *req, void *arg)
{
	struct whslot *slot = arg;
	struct bot *bot = slot->bot;
	struct webhook *wh = &bot->wh;
	struct upd *u;
	int code;

	code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	u = updq_find(&bot->q, slot->upd_id);
	slot->busy = 0;
	wh->inflight--;
	if (code >= 200 && code < 300) {
		wh_done_ok(bot, u);
		wh_reply_call(bot, req);
	} else {
		if (u != NULL && u->state == UPD_INFLIGHT) {
			u->state = UPD_QUEUED;
			if (u->id < wh->next_id)
				wh->next_id = u->id;
		}
		wh_fail_code(bot, slot, req, code);
	}
	event_active(wh->pump_ev, EV_TIMEOUT, 0);
}

static void
wh_error(enum evhttp_request_error err, void *arg)
{
	struct whslot *slot = arg;

	slot->error = (int)err + 1;
}

/* POST update u through slot. */
static void
wh_send(struct bot *bot, struct whslot *slot, struct upd *u)
{
	struct webhook *wh = &bot->wh;
	struct evhttp_request *req;
	struct evkeyvalq *h;
	char host[300];

	if (slot->conn == NULL) {
		slot->conn = evhttp_connection_base_new(F.base, NULL,
		    wh->host, (uint16_t)wh->port);
		if (slot->conn == NULL)
			fatalx("cannot create a webhook connection");
		evhttp_connection_set_timeout(slot->conn, F.wh_timeout_s);
		evhttp_connection_set_retries(slot->conn, 0);
	}
	req = evhttp_request_new(wh_done, slot);
	evhttp_request_set_error_cb(req, wh_error);
	h = evhttp_request_get_output_headers(req);
	snprintf(host, sizeof(host), "%s:%d", wh->host, wh->port);
	evhttp_add_header(h, "Host", host);
	evhttp_add_header(h, "Content-Type", "application/json");
	if (wh->secret != NULL)
		evhttp_add_header(h, "X-Telegram-Bot-Api-Secret-Token",
		    wh->secret);
	evbuffer_add(evhttp_request_get_output_buffer(req), u->json, u->len);
	slot->busy = 1;
	slot->upd_id = u->id;
	slot->error = 0;
	u->state = UPD_INFLIGHT;
	wh->inflight++;
	if (evhttp_make_request(slot->conn, req, EVHTTP_REQ_POST,
	    wh->path) == -1) {
		slot->busy = 0;
		u->state = UPD_QUEUED;
		wh->inflight--;
		wh_fail(bot, "Connection refused");
	}
}

/* The first queued (not in flight, not delivered) update, if any. */
static struct upd *
wh_next(struct bot *bot)
{
	struct upd *u;
	int64_t id;

	if ((u = updq_at(&bot->q, 0)) == NULL)
		return NULL;
	id = bot->wh.next_id > u->id ? bot->wh.next_id : u->id;
	while ((u = updq_find(&bot->q, id)) != NULL &&
	    u->state != UPD_QUEUED)
		id++;
	bot->wh.next_id = id;
	return u;
}

static void
wh_pump(struct bot *bot)
{
	struct webhook *wh = &bot->wh;
	struct upd *u;
	int i;

	if (wh->url == NULL || wh->waiting)
		return;
	while (wh->inflight < wh->max_conn && (u = wh_next(bot)) != NULL) {
		for (i = 0; i < wh->max_conn && wh->slots[i].busy; i++)
			;
		if (i == wh->max_conn)
			break;
		wh_send(bot, &wh->slots[i], u);
		if (wh->waiting)
			break;
	}
}

static void
wh_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	wh_pump(arg);
}

static void
wh_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bot *bot = arg;

	(void)fd;
	(void)what;
	bot->wh.waiting = 0;
	wh_pump(bot);
}

/* Validate the url: http://host[:port]/path. 0, or -1 with *cause. */
static int
wh_parse_url(struct webhook *wh, const char *url, char **cause)
{
	struct evhttp_uri *u;
	const char *scheme, *host, *path, *query;
	int ret = -1;

	if ((u = evhttp_uri_parse(url)) == NULL ||
	    (scheme = evhttp_uri_get_scheme(u)) == NULL ||
	    (host = evhttp_uri_get_host(u)) == NULL || *host == '\0') {
		*cause = xstrdup("Bad Request: bad webhook: Failed to "
		    "resolve host: Name or service not known");
		goto fail;
	}
	if (strcmp(scheme, "http") != 0) {
		*cause = xstrdup("Bad Request: bad webhook: this fake "
		    "delivers over plain http only; use an http:// URL");
		goto fail;
	}
	path = evhttp_uri_get_path(u);
	query = evhttp_uri_get_query(u);
	wh->host = xstrdup(host);
	wh->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
	xasprintf(&wh->path, "%s%s%s", path != NULL && *path != '\0' ? path :
	    "/", query != NULL ? "?" : "", query != NULL ? query : "");
	ret = 0;
fail:
	if (u != NULL)
		evhttp_uri_free(u);
	return ret;
}

static int
secret_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 256 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* Read setWebhook's parameters into wh. 0, or -1 with *cause. */
static int
wh_read(struct rq *rq, struct webhook *wh, const char *url, char **cause)
{
	const char *secret = p_str(rq->params, "secret_token");
	int64_t maxc = 40;

	if (p_i64(rq->params, "max_connections", &maxc) == -1 || maxc < 1 ||
	    maxc > 100) {
		*cause = xstrdup("Bad Request: max_connections must be "
		    "between 1 and 100");
		return -1;
	}
	if (secret != NULL && *secret != '\0' && !secret_valid(secret)) {
		*cause = xstrdup("Bad Request: secret token contains "
		    "unallowed characters");
		return -1;
	}
	if (read_allowed(rq) == -1) {
		*cause = xstrdup("Bad Request: can't parse allowed_updates");
		return -1;
	}
	if (wh_parse_url(wh, url, cause) == -1)
		return -1;
	wh->url = xstrdup(url);
	wh->max_conn = (int)maxc;
	if (secret != NULL && *secret != '\0')
		wh->secret = xstrdup(secret);
	return 0;
}

static int
wh_same(const struct webhook *a, const struct webhook *b)
{
	return a->url != NULL && strcmp(a->url, b->url) == 0 &&
	    a->max_conn == b->max_conn && (a->secret == NULL ?
	    b->secret == NULL : b->secret != NULL &&
	    strcmp(a->secret, b->secret) == 0);
}

static void
wh_install(struct bot *bot, struct webhook *nw)
{
	struct webhook *wh = &bot->wh;
	int i;

	upd_webhook_stop(bot);
	*wh = *nw;
	wh->slots = xcalloc((size_t)wh->max_conn, sizeof(*wh->slots));
	for (i = 0; i < wh->max_conn; i++)
		wh->slots[i].bot = bot;
	wh->retry_ev = evtimer_new(F.base, wh_retry_cb, bot);
	wh->pump_ev = event_new(F.base, -1, 0, wh_pump_cb, bot);
	wh->delay_ms = F.wh_backoff_ms;
	upd_poll_cancel(bot, 409, CONFLICT_HOOK);
	event_active(wh->pump_ev, EV_TIMEOUT, 0);
}

void
upd_set_webhook(struct rq *rq)
{
	struct webhook nw;
	const char *url = p_str(rq->params, "url");
	char *cause = NULL;
	int drop = 0;

	if (url == NULL || *url == '\0') {
		upd_delete_webhook(rq);
		return;
	}
	memset(&nw, 0, sizeof(nw));
	if (p_bool(rq->params, "drop_pending_updates", &drop) == -1)
		cause = xstrdup("Bad Request: wrong drop_pending_updates");
	if (cause != NULL || wh_read(rq, &nw, url, &cause) == -1) {
		rq_err(rq, 400, cause);
		free(cause);
		free(nw.url);
		free(nw.host);
		free(nw.path);
		free(nw.secret);
		return;
	}
	if (drop)
		upd_drop_pending(rq->bot);
	if (wh_same(&rq->bot->wh, &nw)) {
		free(nw.url);
		free(nw.host);
		free(nw.path);
		free(nw.secret);
		event_active(rq->bot->wh.pump_ev, EV_TIMEOUT, 0);
		rq_ok_desc(rq, json_true(), "Webhook is already set");
		return;
	}
	wh_install(rq->bot, &nw);
	rq_ok_desc(rq, json_true(), "Webhook was set");
}

void
upd_delete_webhook(struct rq *rq)
{
	int drop = 0, had = rq->bot->wh.url != NULL;

	if (p_bool(rq->params, "drop_pending_updates", &drop) == -1) {
		rq_err(rq, 400, "Bad Request: wrong drop_pending_updates");
		return;
	}
	upd_webhook_stop(rq->bot);
	if (drop)
		upd_drop_pending(rq->bot);
	rq_ok_desc(rq, json_true(), had ? "Webhook was deleted" :
	    "Webhook is already deleted");
}

void
upd_webhook_info(struct rq *rq)
{
	struct webhook *wh = &rq->bot->wh;
	json_t *o;

	o = json_pack("{ss sb sI}", "url", wh->url != NULL ? wh->url : "",
	    "has_custom_certificate", 0, "pending_update_count",
	    (json_int_t)upd_pending(rq->bot));
	if (wh->url != NULL) {
		json_object_set_new(o, "max_connections",
		    json_integer(wh->max_conn));
		json_object_set_new(o, "ip_address", json_string(wh->host));
		if (json_array_size(rq->bot->allowed) > 0)
			json_object_set(o, "allowed_updates", rq->bot->allowed);
	}
	if (wh->err_msg != NULL) {
		json_object_set_new(o, "last_error_date",
		    json_integer(wh->err_date));
		json_object_set_new(o, "last_error_message",
		    json_string(wh->err_msg));
	}
	rq_ok(rq, o);
}
