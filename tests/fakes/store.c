/*
 * State kept per bot: the update queue (a ring buffer with consecutive
 * ids, so confirmation pops the front and lookup by id is O(1)), chats in
 * a hash map, each chat's messages in a deque indexed by message_id, a
 * global creation-order ring that evicts the oldest messages beyond
 * --max-messages, and a ring of recent callback queries.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include <botcommon/log.h>
#include <botcommon/xmalloc.h>

#include "tgfake.h"

/* ------------------------------------------------------------ i64map */

static size_t
i64_hash(int64_t k, size_t cap)
{
	uint64_t z = (uint64_t)k;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (size_t)(z ^ (z >> 31)) & (cap - 1);
}

static void *
i64map_get(const struct i64map *m, int64_t k)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	for (i = i64_hash(k, m->cap); m->vals[i] != NULL;
	    i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == k)
			return m->vals[i];
	return NULL;
}

static void
i64map_put(struct i64map *m, int64_t k, void *v)
{
	struct i64map old = *m;
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		m->cap = old.cap == 0 ? 16 : old.cap * 2;
		m->keys = xcalloc(m->cap, sizeof(*m->keys));
		m->vals = xcalloc(m->cap, sizeof(*m->vals));
		m->n = 0;
		for (i = 0; i < old.cap; i++)
			if (old.vals[i] != NULL)
				i64map_put(m, old.keys[i], old.vals[i]);
		free(old.keys);
		free(old.vals);
	}
	for (i = i64_hash(k, m->cap); m->vals[i] != NULL;
	    i = (i + 1) & (m->cap - 1))
		;
	m->keys[i] = k;
	m->vals[i] = v;
	m->n++;
}

/* ------------------------------------------------------------ updates */

struct upd *
updq_at(struct updq *q, size_t i)
{
	return i < q->n ? &q->v[(q->head + i) % q->cap] : NULL;
}

struct upd *
updq_find(struct updq *q, int64_t id)
{
	if (q->n == 0 || id < q->v[q->head].id)
		return NULL;
	return updq_at(q, (size_t)(id - q->v[q->head].id));
}

void
updq_pop(struct updq *q)
{
	struct upd *u;

	if (q->n == 0)
		return;
	u = &q->v[q->head];
	if (u->state == UPD_DONE)
		q->ndone--;
	free(u->json);
	u->json = NULL;
	q->head = (q->head + 1) % q->cap;
	q->n--;
}

void
updq_clear(struct updq *q)
{
	while (q->n > 0)
		updq_pop(q);
	q->head = 0;
}

/*
 * Append an update (json is stolen). When max are queued the oldest is
 * dropped first; returns 1 then, else 0.
 */
int
updq_push(struct updq *q, int64_t id, char *json, size_t len, size_t max)
{
	struct upd *nv;
	size_t i;
	int dropped = 0;

	if (q->n >= max) {
		updq_pop(q);
		dropped = 1;
	}
	if (q->n == q->cap) {
		nv = xcalloc(q->cap == 0 ? 64 : q->cap * 2, sizeof(*nv));
		for (i = 0; i < q->n; i++)
			nv[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = nv;
		q->cap = q->cap == 0 ? 64 : q->cap * 2;
		q->head = 0;
	}
	i = (q->head + q->n) % q->cap;
	q->v[i].id = id;
	q->v[i].json = json;
	q->v[i].len = len;
	q->v[i].state = UPD_QUEUED;
	q->n++;
	return dropped;
}

/* ------------------------------------------------------------ bots */

struct bot *
store_bot_find(const char *token)
{
	struct bot *bot;

	TAILQ_FOREACH(bot, &F.bots, entry)
		if (strcmp(bot->token, token) == 0)
			return bot;
	return NULL;
}

/*
 * Register a bot (token well formed), or update the names of a known one.
 * id 0 takes the number before the colon. Returns the bot (owned by F).
 */
struct bot *
store_bot_add(const char *token, int64_t id, const char *username,
    const char *first_name)
{
	struct bot *bot;

	if ((bot = store_bot_find(token)) == NULL) {
		bot = xcalloc(1, sizeof(*bot));
		bot->token = xstrdup(token);
		bot->id = strtoll(token, NULL, 10);
		bot->next_update_id = F.first_update_id;
		bot->commands = json_object();
		bot->st.by_method = json_object();
		bot->cbq = xcalloc(TG_CBQ_RING, sizeof(*bot->cbq));
		bot->cbq_base = 4000000000000000000LL +
		    (int64_t)(fake_random() % 1000000000000000ULL);
		TAILQ_INSERT_TAIL(&F.bots, bot, entry);
		log_redact(token);
	}
	if (id != 0)
		bot->id = id;
	if (username != NULL || bot->username == NULL) {
		free(bot->username);
		if (username != NULL)
			bot->username = xstrdup(username);
		else
			xasprintf(&bot->username, "fake%" PRId64 "_bot",
			    bot->id);
	}
	if (first_name != NULL || bot->first_name == NULL) {
		free(bot->first_name);
		bot->first_name = xstrdup(first_name != NULL ? first_name :
		    "Fake Bot");
	}
	return bot;
}

/* The bot as a User object (new reference). */
json_t *
store_bot_user(const struct bot *bot)
{
	return json_pack("{sI sb ss ss}", "id", (json_int_t)bot->id,
	    "is_bot", 1, "first_name", bot->first_name, "username",
	    bot->username);
}

static void
chat_free(struct chat *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		struct msg *m = c->v[(c->head + i) % c->cap];

		if (m != NULL) {
			json_decref(m->obj);
			free(m);
		}
	}
	free(c->v);
	json_decref(c->obj);
	free(c);
}

/* Forget everything but the registration (POST /_ctl/reset). */
void
store_bot_clear(struct bot *bot)
{
	size_t i;

	upd_poll_cancel(bot, 0, NULL);
	upd_webhook_stop(bot);
	updq_clear(&bot->q);
	bot->next_update_id = F.first_update_id;
	json_decref(bot->allowed);
	bot->allowed = NULL;
	for (i = 0; i < bot->chats.cap; i++)
		if (bot->chats.vals[i] != NULL)
			chat_free(bot->chats.vals[i]);
	free(bot->chats.keys);
	free(bot->chats.vals);
	memset(&bot->chats, 0, sizeof(bot->chats));
	free(bot->mfifo);
	bot->mfifo = NULL;
	bot->mcap = bot->mhead = bot->mn = 0;
	for (i = 0; i < TG_CBQ_RING; i++) {
		free(bot->cbq[i].data);
		json_decref(bot->cbq[i].answer);
		json_decref(bot->cbq[i].from);
		memset(&bot->cbq[i], 0, sizeof(bot->cbq[i]));
	}
	json_object_clear(bot->commands);
	memset(&bot->b_global, 0, sizeof(bot->b_global));
	stats_clear(&bot->st);
}

void
store_bot_free(struct bot *bot)
{
	if (bot == NULL)
		return;
	store_bot_clear(bot);
	free(bot->q.v);
	free(bot->cbq);
	json_decref(bot->commands);
	json_decref(bot->st.by_method);
	free(bot->token);
	free(bot->username);
	free(bot->first_name);
	free(bot);
}

/* ------------------------------------------------------------ chats */

struct chat *
store_chat_get(struct bot *bot, int64_t id)
{
	return i64map_get(&bot->chats, id);
}

/* A Chat object for an id nobody described: the type follows the sign. */
static json_t *
chat_default(int64_t id)
{
	char name[48];

	if (id > 0) {
		snprintf(name, sizeof(name), "User%" PRId64, id);
		return json_pack("{sI ss ss}", "id", (json_int_t)id, "type",
		    "private", "first_name", name);
	}
	snprintf(name, sizeof(name), "Group %" PRId64, id);
	return json_pack("{sI ss ss}", "id", (json_int_t)id, "type",
	    id < -1000000000000LL ? "supergroup" : "group", "title", name);
}

/*
 * The chat with this id, created if new. obj (borrowed, may be NULL) is a
 * Chat object describing it; it replaces what was known.
 */
struct chat *
store_chat_ensure(struct bot *bot, int64_t id, json_t *obj)
{
	struct chat *c;

	if ((c = i64map_get(&bot->chats, id)) == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->id = id;
		c->base = 1;
		i64map_put(&bot->chats, id, c);
	}
	if (obj != NULL) {
		json_decref(c->obj);
		c->obj = json_deep_copy(obj);
		json_object_set_new(c->obj, "id", json_integer(id));
	} else if (c->obj == NULL)
		c->obj = chat_default(id);
	return c;
}

/* ------------------------------------------------------------ messages */

/* Drop the oldest message of the chat (eviction). */
static void
chat_pop_front(struct chat *c)
{
	struct msg *m;

	if (c->n == 0)
		return;
	if ((m = c->v[c->head]) != NULL) {
		json_decref(m->obj);
		free(m);
	}
	c->head = (c->head + 1) % c->cap;
	c->n--;
	c->base++;
}

static void
chat_push(struct chat *c, struct msg *m)
{
	struct msg **nv;
	size_t i;

	if (c->n == c->cap) {
		nv = xcalloc(c->cap == 0 ? 16 : c->cap * 2, sizeof(*nv));
		for (i = 0; i < c->n; i++)
			nv[i] = c->v[(c->head + i) % c->cap];
		free(c->v);
		c->v = nv;
		c->cap = c->cap == 0 ? 16 : c->cap * 2;
		c->head = 0;
	}
	c->v[(c->head + c->n) % c->cap] = m;
	c->n++;
}

/* Remember which chat got the next message; evict beyond the maximum. */
static void
fifo_push(struct bot *bot, struct chat *c)
{
	struct chat **nv;
	size_t i;

	if (bot->mn == bot->mcap) {
		nv = xcalloc(bot->mcap == 0 ? 64 : bot->mcap * 2, sizeof(*nv));
		for (i = 0; i < bot->mn; i++)
			nv[i] = bot->mfifo[(bot->mhead + i) % bot->mcap];
		free(bot->mfifo);
		bot->mfifo = nv;
		bot->mcap = bot->mcap == 0 ? 64 : bot->mcap * 2;
		bot->mhead = 0;
	}
	bot->mfifo[(bot->mhead + bot->mn) % bot->mcap] = c;
	bot->mn++;
	while (bot->mn > F.max_messages) {
		chat_pop_front(bot->mfifo[bot->mhead]);
		bot->mhead = (bot->mhead + 1) % bot->mcap;
		bot->mn--;
	}
}

/*
 * Store a new message in chat c: obj (stolen) gets the next message_id,
 * the date and the chat. Returns the message (owned by the chat).
 */
struct msg *
store_msg_add(struct bot *bot, struct chat *c, int from_bot, json_t *obj)
{
	struct msg *m;

	m = xcalloc(1, sizeof(*m));
	m->from_bot = from_bot;
	m->obj = obj;
	json_object_set_new(obj, "message_id",
	    json_integer(c->base + (json_int_t)c->n));
	if (json_integer_value(json_object_get(obj, "date")) == 0)
		json_object_set_new(obj, "date", json_integer(time(NULL)));
	json_object_set(obj, "chat", c->obj);
	chat_push(c, m);
	fifo_push(bot, c);
	return m;
}

/* The message, or NULL if it never existed, was deleted or evicted. */
struct msg *
store_msg_get(struct chat *c, int64_t id)
{
	if (c == NULL || id < c->base || id >= c->base + (int64_t)c->n)
		return NULL;
	return c->v[(c->head + (size_t)(id - c->base)) % c->cap];
}

int
store_msg_delete(struct chat *c, int64_t id)
{
	struct msg **slot, *m;

	if ((m = store_msg_get(c, id)) == NULL)
		return -1;
	slot = &c->v[(c->head + (size_t)(id - c->base)) % c->cap];
	json_decref(m->obj);
	free(m);
	*slot = NULL;
	if (c->pinned == id)
		c->pinned = 0;
	return 0;
}

/* ------------------------------------------------------------ callbacks */

char *
store_cbq_id(const struct bot *bot, const struct cbq *q)
{
	char *s;

	xasprintf(&s, "%" PRId64, bot->cbq_base + (int64_t)q->n);
	return s;
}

/* Remember a new callback query; returns its id (caller frees). */
char *
store_cbq_new(struct bot *bot, int64_t chat_id, int64_t message_id,
    const char *data, json_t *from)
{
	struct cbq *q;

	q = &bot->cbq[++bot->ncbq % TG_CBQ_RING];
	free(q->data);
	json_decref(q->answer);
	json_decref(q->from);
	memset(q, 0, sizeof(*q));
	q->n = bot->ncbq;
	q->chat_id = chat_id;
	q->message_id = message_id;
	q->data = xstrdup(data);
	q->from = json_incref(from);
	return store_cbq_id(bot, q);
}

struct cbq *
store_cbq_find(struct bot *bot, const char *id)
{
	struct cbq *q;
	char *end;
	long long v;
	uint64_t n;

	v = strtoll(id, &end, 10);
	if (*id == '\0' || *end != '\0' || v <= bot->cbq_base)
		return NULL;
	n = (uint64_t)(v - bot->cbq_base);
	q = &bot->cbq[n % TG_CBQ_RING];
	return q->n == n ? q : NULL;
}
