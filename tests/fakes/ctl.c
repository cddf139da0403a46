/*
 * The control API under /_ctl/: tests act as users (send, press, raw
 * updates), read what the bot left in a chat, inspect every call (and
 * wait for calls without sleeping), and set faults, limits, blocked and
 * migrated chats. Parameters as for the Bot API (JSON, form or query);
 * replies are {"ok":true,"result":...} or Telegram's error shape.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>

#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "tgfake.h"

#define CALLS_LIMIT	100000

static const char *update_types[] = {
	"message", "edited_message", "channel_post", "edited_channel_post",
	"business_connection", "business_message", "edited_business_message",
	"deleted_business_messages", "message_reaction",
	"message_reaction_count", "inline_query", "chosen_inline_result",
	"callback_query", "shipping_query", "pre_checkout_query",
	"purchased_paid_media", "poll", "poll_answer", "my_chat_member",
	"chat_member", "chat_join_request", "chat_boost", "removed_chat_boost",
};

static void
ctl_fail(struct rq *rq, const char *desc)
{
	rq_err(rq, 400, desc);
}

/* The bot named by "token", or the only one. NULL after answering. */
static struct bot *
ctl_bot(struct rq *rq)
{
	const char *t = p_str(rq->params, "token");
	struct bot *bot;

	if (t != NULL) {
		if ((bot = store_bot_find(t)) == NULL)
			ctl_fail(rq, "unknown token");
		return bot;
	}
	bot = TAILQ_FIRST(&F.bots);
	if (bot == NULL || TAILQ_NEXT(bot, entry) != NULL) {
		ctl_fail(rq, bot == NULL ? "no bot registered" :
		    "token required (several bots)");
		return NULL;
	}
	return bot;
}

/* A required integer parameter. -1 after answering. */
static int
ctl_i64(struct rq *rq, const char *key, int64_t *v)
{
	char *m;

	if (p_i64(rq->params, key, v) == 1)
		return 0;
	xasprintf(&m, "%s: integer required", key);
	ctl_fail(rq, m);
	free(m);
	return -1;
}

/* ------------------------------------------------------------ bots */

static json_t *
bot_json(const struct bot *bot)
{
	json_t *o = store_bot_user(bot);

	json_object_set_new(o, "token", json_string(bot->token));
	json_object_set_new(o, "webhook", json_string(bot->wh.url != NULL ?
	    bot->wh.url : ""));
	json_object_set_new(o, "pending", json_integer((json_int_t)
	    upd_pending(bot)));
	return o;
}

static void
ctl_bots(struct rq *rq)
{
	const char *t = p_str(rq->params, "token");
	struct bot *bot;
	json_t *a;
	int64_t id = 0;

	if (t != NULL) {
		if (!fake_token_valid(t) ||
		    p_i64(rq->params, "id", &id) == -1) {
			ctl_fail(rq, "token must look like 123456:ABC-def "
			    "and id be an integer");
			return;
		}
		bot = store_bot_add(t, id, p_str(rq->params, "username"),
		    p_str(rq->params, "first_name"));
		rq_ok(rq, bot_json(bot));
		return;
	}
	a = json_array();
	TAILQ_FOREACH(bot, &F.bots, entry)
		json_array_append_new(a, bot_json(bot));
	rq_ok(rq, a);
}

/* ------------------------------------------------------------ users */

/* "from" with defaults (new reference); NULL when malformed. */
static json_t *
ctl_user(struct rq *rq)
{
	json_t *from;
	int bad;

	from = p_json(rq->params, "from", &bad);
	if (bad || (from != NULL && (!json_is_object(from) ||
	    !json_is_integer(json_object_get(from, "id"))))) {
		json_decref(from);
		return NULL;
	}
	if (from == NULL)
		from = json_pack("{si ss ss ss}", "id", 10000, "first_name",
		    "Tester", "username", "tester", "language_code", "en");
	else
		from = json_deep_copy(from);
	if (json_object_get(from, "is_bot") == NULL)
		json_object_set_new(from, "is_bot", json_false());
	if (json_object_get(from, "first_name") == NULL)
		json_object_set_new(from, "first_name", json_string("Tester"));
	return from;
}

/* The chat a user writes in: "chat", "chat_id" or the private chat. */
static struct chat *
ctl_chat(struct rq *rq, struct bot *bot, json_t *from)
{
	struct chat *c;
	json_t *chat;
	int64_t id;
	int bad;

	chat = p_json(rq->params, "chat", &bad);
	if (bad || (chat != NULL && (!json_is_object(chat) ||
	    !json_is_integer(json_object_get(chat, "id")) ||
	    !json_is_string(json_object_get(chat, "type"))))) {
		json_decref(chat);
		return NULL;
	}
	if (chat == NULL && p_i64(rq->params, "chat_id", &id) == 1)
		return store_chat_ensure(bot, id, NULL);
	if (chat == NULL) {
		id = json_integer_value(json_object_get(from, "id"));
		if ((c = store_chat_get(bot, id)) != NULL)
			return c;
		chat = json_pack("{sI ss sO}", "id", (json_int_t)id, "type",
		    "private", "first_name", json_object_get(from,
		    "first_name"));
		if (json_object_get(from, "username") != NULL)
			json_object_set(chat, "username",
			    json_object_get(from, "username"));
	}
	id = json_integer_value(json_object_get(chat, "id"));
	c = store_chat_ensure(bot, id, chat);
	json_decref(chat);
	return c;
}

/* Store one user message and queue it; returns the update_id (0 when
 * filtered out by allowed_updates). */
static int64_t
ctl_send_one(struct bot *bot, struct chat *c, json_t *from, const char *text,
    json_t **out)
{
	const char *type = json_string_value(json_object_get(c->obj, "type"));
	int channel = type != NULL && strcmp(type, "channel") == 0;
	struct msg *m;
	json_t *obj, *u;
	int64_t id;

	obj = json_pack("{si}", "message_id", 0);
	if (channel)
		json_object_set(obj, "sender_chat", c->obj);
	else
		json_object_set(obj, "from", from);
	json_object_set_new(obj, "date", json_integer(0));
	json_object_set_new(obj, "chat", json_null());
	json_object_set_new(obj, "text", json_string(text));
	u = text_command_entities(text);
	if (json_array_size(u) > 0)
		json_object_set(obj, "entities", u);
	json_decref(u);
	m = store_msg_add(bot, c, 0, obj);
	u = json_pack("{sO}", channel ? "channel_post" : "message", m->obj);
	id = upd_enqueue(bot, u, channel ? "channel_post" : "message");
	json_object_set_new(u, "update_id", json_integer(id));
	if (id == 0)
		json_object_set_new(u, "filtered", json_true());
	if (out != NULL)
		*out = u;
	else
		json_decref(u);
	return id;
}

static void
ctl_send(struct rq *rq)
{
	struct bot *bot;
	struct chat *c;
	json_t *from, *texts, *v, *res = NULL, *ids;
	const char *text = p_str(rq->params, "text");
	size_t i;
	int bad;

	if ((bot = ctl_bot(rq)) == NULL)
		return;
	texts = p_json(rq->params, "texts", &bad);
	if ((text == NULL) == (texts == NULL) || bad || (texts != NULL &&
	    !json_is_array(texts))) {
		json_decref(texts);
		ctl_fail(rq, "give text (a string) or texts (an array)");
		return;
	}
	if ((from = ctl_user(rq)) == NULL ||
	    (c = ctl_chat(rq, bot, from)) == NULL) {
		json_decref(from);
		json_decref(texts);
		ctl_fail(rq, "from needs an integer id; chat an integer id "
		    "and a type");
		return;
	}
	if (text != NULL)
		ctl_send_one(bot, c, from, text, &res);
	else {
		ids = json_array();
		json_array_foreach(texts, i, v)
			if (json_is_string(v))
				json_array_append_new(ids, json_integer(
				    ctl_send_one(bot, c, from,
				    json_string_value(v), NULL)));
		res = json_pack("{so}", "update_ids", ids);
	}
	json_decref(texts);
	json_decref(from);
	rq_ok(rq, res);
}

static char *
chat_instance(const struct bot *bot, int64_t chat_id)
{
	char *s;

	xasprintf(&s, "%" PRId64, (int64_t)(((uint64_t)chat_id *
	    0x9e3779b97f4a7c15ULL ^ (uint64_t)bot->id) >> 2));
	return s;
}

/* The message whose button is pressed; NULL after answering. */
static struct msg *
press_target(struct rq *rq, struct bot *bot, int64_t *chat_id, int64_t *mid)
{
	struct msg *m;

	if (ctl_i64(rq, "chat_id", chat_id) == -1 ||
	    ctl_i64(rq, "message_id", mid) == -1)
		return NULL;
	m = store_msg_get(store_chat_get(bot, *chat_id), *mid);
	if (m == NULL || !m->from_bot) {
		ctl_fail(rq, m == NULL ? "message not found" :
		    "not a message of the bot");
		return NULL;
	}
	return m;
}

static void
ctl_press(struct rq *rq)
{
	struct bot *bot;
	struct msg *m;
	json_t *from, *cq, *u;
	const char *data;
	char *id, *inst;
	int64_t chat_id, mid, uid;

	if ((bot = ctl_bot(rq)) == NULL ||
	    (m = press_target(rq, bot, &chat_id, &mid)) == NULL)
		return;
	data = text_markup_find(json_object_get(m->obj, "reply_markup"),
	    p_str(rq->params, "data"), p_str(rq->params, "text"));
	if (data == NULL) {
		ctl_fail(rq, "no such callback button on that message");
		return;
	}
	if ((from = ctl_user(rq)) == NULL) {
		ctl_fail(rq, "from needs an integer id");
		return;
	}
	id = store_cbq_new(bot, chat_id, mid, data, from);
	inst = chat_instance(bot, chat_id);
	cq = json_pack("{ss sO sO ss ss}", "id", id, "from", from, "message",
	    m->obj, "chat_instance", inst, "data", data);
	u = json_pack("{so}", "callback_query", cq);
	uid = upd_enqueue(bot, u, "callback_query");
	rq_ok(rq, json_pack("{sI ss}", "update_id", (json_int_t)uid,
	    "callback_query_id", id));
	json_decref(u);
	json_decref(from);
	free(id);
	free(inst);
}

static const char *
update_type(json_t *u)
{
	size_t i;

	for (i = 0; i < BC_NELEM(update_types); i++)
		if (json_object_get(u, update_types[i]) != NULL)
			return update_types[i];
	return NULL;
}

/* Queue one raw update (any JSON value). */
static int64_t
ctl_update_one(struct bot *bot, json_t *u)
{
	char *s;
	int64_t id;

	if (json_is_object(u))
		return upd_enqueue(bot, u, update_type(u));
	s = json_dumps(u, JSON_ENCODE_ANY | JSON_COMPACT);
	id = upd_enqueue_raw(bot, s, strlen(s));
	free(s);
	return id;
}

static void
ctl_update(struct rq *rq)
{
	json_t *u = json_object_get(rq->params, "update"), *ids, *v;
	json_t *many = json_object_get(rq->params, "updates");
	const char *raw = p_str(rq->params, "raw");
	struct bot *bot;
	size_t i;

	if ((bot = ctl_bot(rq)) == NULL)
		return;
	ids = json_array();
	if (raw != NULL)
		json_array_append_new(ids, json_integer(upd_enqueue_raw(bot,
		    raw, strlen(raw))));
	if (u != NULL)
		json_array_append_new(ids, json_integer(ctl_update_one(bot,
		    u)));
	json_array_foreach(json_is_array(many) ? many : NULL, i, v)
		json_array_append_new(ids, json_integer(ctl_update_one(bot,
		    v)));
	if (json_array_size(ids) == 0) {
		json_decref(ids);
		ctl_fail(rq, "give update (any JSON), updates (an array) or "
		    "raw (a string)");
		return;
	}
	rq_ok(rq, json_pack("{so}", "update_ids", ids));
}

static void
ctl_updates(struct rq *rq)
{
	struct bot *bot;
	struct upd *u;
	json_t *a, *j;
	size_t i;

	if ((bot = ctl_bot(rq)) == NULL)
		return;
	a = json_array();
	for (i = 0; (u = updq_at(&bot->q, i)) != NULL; i++) {
		if (u->state == UPD_DONE)
			continue;
		j = json_loadb(u->json, u->len, JSON_DECODE_ANY, NULL);
		json_array_append_new(a, j != NULL ? j :
		    json_stringn(u->json, u->len));
	}
	rq_ok(rq, a);
}

/* ------------------------------------------------------------ inspect */

static void
ctl_messages(struct rq *rq)
{
	struct bot *bot;
	struct chat *c;
	struct msg *m;
	json_t *a;
	int64_t id;
	size_t i;
	int all = 0;

	if ((bot = ctl_bot(rq)) == NULL || ctl_i64(rq, "chat_id", &id) == -1)
		return;
	(void)p_bool(rq->params, "all", &all);
	a = json_array();
	if ((c = store_chat_get(bot, id)) != NULL)
		for (i = 0; i < c->n; i++) {
			m = c->v[(c->head + i) % c->cap];
			if (m != NULL && (m->from_bot || all))
				json_array_append(a, m->obj);
		}
	rq_ok(rq, a);
}

static void
ctl_callbacks(struct rq *rq)
{
	struct bot *bot;
	struct cbq *q;
	json_t *a;
	uint64_t n;
	char *id;

	if ((bot = ctl_bot(rq)) == NULL)
		return;
	a = json_array();
	n = bot->ncbq > TG_CBQ_RING ? bot->ncbq - TG_CBQ_RING + 1 : 1;
	for (; n <= bot->ncbq; n++) {
		q = &bot->cbq[n % TG_CBQ_RING];
		if (q->n != n)
			continue;
		id = store_cbq_id(bot, q);
		json_array_append_new(a, json_pack("{ss sI sI ss sb sO* sO}",
		    "id", id, "chat_id", (json_int_t)q->chat_id, "message_id",
		    (json_int_t)q->message_id, "data", q->data, "answered",
		    q->answered, "answer", q->answer, "from", q->from));
		free(id);
	}
	rq_ok(rq, a);
}

static int
call_matches(const struct call *c, const char *token, const char *method,
    int pending)
{
	if (c == NULL || (!pending && c->status == 0 &&
	    strcmp(c->state, "pending") == 0))
		return 0;
	if (token != NULL && (c->token == NULL || strcmp(c->token, token) != 0))
		return 0;
	return method == NULL || strcasecmp(c->method, method) == 0;
}

/* Calls after since matching the filters, at most limit. */
static json_t *
calls_list(const char *token, const char *method, uint64_t since,
    int64_t limit, int pending, int *count)
{
	uint64_t seq, first;
	json_t *a = json_array();
	const struct call *c;

	first = F.seq >= F.max_calls ? F.seq - F.max_calls + 1 : 1;
	seq = since + 1 > first ? since + 1 : first;
	*count = 0;
	for (; seq <= F.seq && *count < limit; seq++) {
		c = call_get(seq);
		if (!call_matches(c, token, method, pending))
			continue;
		json_array_append_new(a, call_json(c));
		(*count)++;
	}
	return a;
}

static void
waiter_reply(struct waiter *w)
{
	struct rq *rq = w->rq;
	json_t *a;
	int n;

	TAILQ_REMOVE(&F.waiters, w, entry);
	a = calls_list(w->token, w->method, w->since, w->limit, 0, &n);
	rq_reply_json(rq, 200, json_pack("{sb so sI}", "ok", 1, "result", a,
	    "last_seq", (json_int_t)F.seq));
	free(w->token);
	free(w->method);
	free(w);
}

static void
waiter_timer(struct rq *rq)
{
	waiter_reply(rq->owner);
}

static void
waiter_gone(struct rq *rq)
{
	struct waiter *w = rq->owner;

	TAILQ_REMOVE(&F.waiters, w, entry);
	free(w->token);
	free(w->method);
	free(w);
}

/* A call finished: wake the waiters it satisfies. */
void
ctl_call_done(const struct call *c)
{
	struct waiter *w, *next;

	for (w = TAILQ_FIRST(&F.waiters); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (c->seq > w->since && call_matches(c, w->token, w->method,
		    0) && ++w->have >= w->want)
			waiter_reply(w);
	}
}

void
ctl_waiters_cancel(void)
{
	struct waiter *w;

	while ((w = TAILQ_FIRST(&F.waiters)) != NULL)
		waiter_reply(w);
}

static void
ctl_calls(struct rq *rq)
{
	const char *token = p_str(rq->params, "token");
	const char *method = p_str(rq->params, "method");
	int64_t since = 0, limit = CALLS_LIMIT, wait = 0, want = 1;
	struct waiter *w;
	json_t *a;
	int n, pending = 0;

	if (p_i64(rq->params, "since", &since) == -1 || since < 0 ||
	    p_i64(rq->params, "limit", &limit) == -1 || limit < 1 ||
	    p_i64(rq->params, "wait", &wait) == -1 || wait < 0 ||
	    wait > 600000 || p_i64(rq->params, "min", &want) == -1 ||
	    p_bool(rq->params, "pending", &pending) == -1) {
		ctl_fail(rq, "since, limit, min: integers; wait: 0..600000 "
		    "ms");
		return;
	}
	a = calls_list(token, method, (uint64_t)since, limit, pending, &n);
	if (wait == 0 || n >= want || pending) {
		rq_reply_json(rq, 200, json_pack("{sb so sI}", "ok", 1,
		    "result", a, "last_seq", (json_int_t)F.seq));
		return;
	}
	json_decref(a);
	w = xcalloc(1, sizeof(*w));
	w->rq = rq;
	w->token = token != NULL ? xstrdup(token) : NULL;
	w->method = method != NULL ? xstrdup(method) : NULL;
	w->since = (uint64_t)since;
	w->want = want > CALLS_LIMIT ? CALLS_LIMIT : (int)want;
	w->have = n;
	w->limit = limit > CALLS_LIMIT ? CALLS_LIMIT : (int)limit;
	TAILQ_INSERT_TAIL(&F.waiters, w, entry);
	rq->owner = w;
	rq_hold(rq, wait, waiter_timer, waiter_gone);
}

static void
ctl_stats(struct rq *rq)
{
	const char *t = p_str(rq->params, "token");
	struct bot *bot = NULL;

	if (t != NULL && (bot = store_bot_find(t)) == NULL) {
		ctl_fail(rq, "unknown token");
		return;
	}
	rq_ok(rq, stats_json(bot));
}

/* ------------------------------------------------------------ settings */

static void
ctl_faults(struct rq *rq)
{
	enum evhttp_cmd_type cmd = EVHTTP_REQ_GET;
	char *cause = NULL;
	int clear = 0, id = 0;

	if (rq->req != NULL)
		cmd = evhttp_request_get_command(rq->req);
	(void)p_bool(rq->params, "clear", &clear);
	if (clear)
		faults_clear();
	else if (cmd == EVHTTP_REQ_POST &&
	    (id = faults_add(rq->params, &cause)) == -1) {
		ctl_fail(rq, cause);
		free(cause);
		return;
	}
	rq_ok(rq, json_pack("{si so}", "id", id, "faults", faults_json()));
}

static void
ctl_limits(struct rq *rq)
{
	static const char *keys[] = { "global", "chat", "group" };
	struct rate *r[] = { &F.r_global, &F.r_chat, &F.r_group };
	struct rate *d[] = { &F.d_global, &F.d_chat, &F.d_group };
	struct rate nr[3];
	const char *s;
	json_t *v;
	size_t i;
	int reset = 0;

	(void)p_bool(rq->params, "reset", &reset);
	for (i = 0; i < BC_NELEM(keys); i++) {
		nr[i] = reset ? *d[i] : *r[i];
		if ((v = json_object_get(rq->params, keys[i])) == NULL)
			continue;
		s = json_is_null(v) ? "off" : p_str(rq->params, keys[i]);
		if (s == NULL || limits_parse(s, &nr[i]) == -1) {
			ctl_fail(rq, "a limit is null, \"off\" or N/s, N/min, "
			    "N/h with an optional :BURST");
			return;
		}
	}
	for (i = 0; i < BC_NELEM(keys); i++)
		*r[i] = nr[i];
	limits_reset_buckets();
	rq_ok(rq, limits_json());
}

static void
ctl_block(struct rq *rq)
{
	struct bot *bot;
	struct chat *c;
	int64_t id;
	int blocked = 1;

	if ((bot = ctl_bot(rq)) == NULL || ctl_i64(rq, "chat_id", &id) == -1)
		return;
	if (p_bool(rq->params, "blocked", &blocked) == -1) {
		ctl_fail(rq, "blocked: boolean");
		return;
	}
	c = store_chat_ensure(bot, id, NULL);
	c->blocked = blocked;
	rq_ok(rq, json_pack("{sI sb}", "chat_id", (json_int_t)id, "blocked",
	    blocked));
}

static void
ctl_migrate(struct rq *rq)
{
	struct bot *bot;
	struct chat *c;
	json_t *title;
	int64_t id, to;

	if ((bot = ctl_bot(rq)) == NULL || ctl_i64(rq, "chat_id", &id) == -1 ||
	    ctl_i64(rq, "to", &to) == -1)
		return;
	if (id >= 0 || to >= 0 || id == to) {
		ctl_fail(rq, "chat_id and to must be different group ids "
		    "(negative)");
		return;
	}
	c = store_chat_ensure(bot, id, NULL);
	c->migrate_to = to;
	title = json_object_get(c->obj, "title");
	if (store_chat_get(bot, to) == NULL) {
		title = json_pack("{sI ss sO}", "id", (json_int_t)to, "type",
		    "supergroup", "title", title != NULL ? title :
		    json_string("Supergroup"));
		store_chat_ensure(bot, to, title);
		json_decref(title);
	}
	rq_ok(rq, json_pack("{sI sI}", "chat_id", (json_int_t)id,
	    "migrate_to_chat_id", (json_int_t)to));
}

static void
ctl_reset(struct rq *rq)
{
	struct bot *bot;

	ctl_waiters_cancel();
	TAILQ_FOREACH(bot, &F.bots, entry)
		store_bot_clear(bot);
	calls_clear();
	faults_clear();
	F.r_global = F.d_global;
	F.r_chat = F.d_chat;
	F.r_group = F.d_group;
	stats_clear(&F.st);
	json_array_clear(F.sink);
	F.sink_hits = 0;
	rq_ok(rq, json_true());
}

static void
ctl_health(struct rq *rq)
{
	rq_ok(rq, json_true());
}

#define SINK_MAX	1000

/*
 * A webhook receiver for tests of the fake itself: records each POST
 * (secret header, body) and answers 200, or 500 while fewer than ?fail=N
 * requests reached the sink since the last reset.
 */
static void
ctl_sink(struct rq *rq)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(rq->req);
	const char *q, *secret;
	char *qc, *sc;
	json_t *body, *rec;
	size_t len = evbuffer_get_length(in);
	int64_t fail = 0;
	int status;

	if (evhttp_request_get_command(rq->req) != EVHTTP_REQ_POST) {
		rq_ok(rq, json_incref(F.sink));
		return;
	}
	q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(rq->req));
	if (q != NULL && strncmp(q, "fail=", 5) == 0)
		fail = strtoll(q + 5, NULL, 10);
	status = (int64_t)F.sink_hits++ < fail ? 500 : 200;
	secret = evhttp_find_header(evhttp_request_get_input_headers(rq->req),
	    "X-Telegram-Bot-Api-Secret-Token");
	body = json_loadb((const char *)evbuffer_pullup(in, -1), len,
	    JSON_DECODE_ANY, NULL);
	if (body == NULL)
		body = json_stringn((const char *)evbuffer_pullup(in, -1), len);
	qc = q != NULL ? fake_utf8_clean(q) : NULL;
	sc = secret != NULL ? fake_utf8_clean(secret) : NULL;
	rec = json_pack("{sI ss* ss* si so*}", "seq", (json_int_t)F.sink_hits,
	    "query", qc, "secret", sc, "status", status, "body", body);
	free(qc);
	free(sc);
	if (json_array_size(F.sink) >= SINK_MAX)
		json_array_remove(F.sink, 0);
	json_array_append_new(F.sink, rec);
	if (status == 200)
		rq_ok(rq, json_true());
	else
		rq_err(rq, status, "Internal Server Error");
}

static const struct {
	const char	*path;
	rq_cb		*fn;
	int		 raw;		/* reads the body itself */
} routes[] = {
	{ "sink",	ctl_sink,	1 },
	{ "health",	ctl_health, 0 },
	{ "bots",	ctl_bots, 0 },
	{ "send",	ctl_send, 0 },
	{ "press",	ctl_press, 0 },
	{ "update",	ctl_update, 0 },
	{ "updates",	ctl_updates, 0 },
	{ "messages",	ctl_messages, 0 },
	{ "callbacks",	ctl_callbacks, 0 },
	{ "calls",	ctl_calls, 0 },
	{ "stats",	ctl_stats, 0 },
	{ "faults",	ctl_faults, 0 },
	{ "limits",	ctl_limits, 0 },
	{ "block",	ctl_block, 0 },
	{ "migrate",	ctl_migrate, 0 },
	{ "reset",	ctl_reset, 0 },
};

void
ctl_handle(struct rq *rq, const char *path)
{
	char *cause = NULL;
	size_t i;

	for (i = 0; i < BC_NELEM(routes); i++)
		if (strcmp(routes[i].path, path) == 0)
			break;
	if (i == BC_NELEM(routes)) {
		rq_err(rq, 404, "Not Found");
		return;
	}
	if (!routes[i].raw &&
	    (rq->params = params_parse(rq->req, &cause)) == NULL) {
		rq_err(rq, 400, cause);
		free(cause);
		return;
	}
	routes[i].fn(rq);
}
