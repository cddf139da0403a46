/*
 * The rate limiter of the Telegram outgoing queue: pure, clock passed in.
 * See tg-internal.h for the rules. Every operation is O(log n) in the
 * number of chats with something ready (two binary heaps) plus an O(1)
 * hash lookup; nothing scans the whole queue.
 */

#include <sys/queue.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/xmalloc.h>

#include "tg-internal.h"

#define TG_LONG_AGO	(INT64_MIN / 4)
#define TG_TAB_INIT	64
#define TG_GC_PER_CALL	4

/* x / 1000 rounded up, for x of either sign. */
static int64_t
us_to_ms_ceil(int64_t x)
{
	if (x <= 0)
		return x / 1000;
	return (x + 999) / 1000;
}

static void
gcra_init(struct tg_gcra *g, int64_t t_us, int burst)
{
	g->tat_us = TG_LONG_AGO;
	g->t_us = t_us;
	g->tau_us = burst > 1 ? (int64_t)(burst - 1) * t_us : 0;
}

/* The first millisecond at which g allows one more. */
static int64_t
gcra_allow(const struct tg_gcra *g)
{
	if (g->t_us <= 0)
		return TG_LONG_AGO;
	return us_to_ms_ceil(g->tat_us - g->tau_us);
}

static void
gcra_charge(struct tg_gcra *g, int64_t now)
{
	int64_t now_us = now * 1000;

	if (g->t_us <= 0)
		return;
	g->tat_us = (g->tat_us > now_us ? g->tat_us : now_us) + g->t_us;
}

/* ---------------------------------------------------------------- heap */

static int
item_before(const struct tg_item *a, const struct tg_item *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	return a->seq < b->seq;
}

static void
heap_set(struct tg_heap *h, size_t i, struct tg_item *it)
{
	h->v[i] = it;
	it->hidx = i;
}

static void
heap_push(struct tg_heap *h, struct tg_item *it)
{
	size_t i, parent;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = xreallocarray(h->v, h->cap, sizeof(*h->v));
	}
	i = h->n++;
	while (i > 0) {
		parent = (i - 1) / 2;
		if (!item_before(it, h->v[parent]))
			break;
		heap_set(h, i, h->v[parent]);
		i = parent;
	}
	heap_set(h, i, it);
}

static struct tg_item *
heap_pop(struct tg_heap *h)
{
	struct tg_item *top, *last;
	size_t i, c;

	if (h->n == 0)
		return NULL;
	top = h->v[0];
	last = h->v[--h->n];
	i = 0;
	while ((c = 2 * i + 1) < h->n) {
		if (c + 1 < h->n && item_before(h->v[c + 1], h->v[c]))
			c++;
		if (!item_before(h->v[c], last))
			break;
		heap_set(h, i, h->v[c]);
		i = c;
	}
	if (h->n > 0)
		heap_set(h, i, last);
	return top;
}

static const struct tg_item *
heap_top(const struct tg_heap *h)
{
	return h->n > 0 ? h->v[0] : NULL;
}

/* ---------------------------------------------------------------- chats */

static size_t
chat_hash(const struct tg_lim *lim, int64_t id)
{
	uint64_t x = (uint64_t)id;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x & (lim->tabsz - 1);
}

static void
tab_grow(struct tg_lim *lim)
{
	struct tg_chat **old = lim->tab, *c, *next;
	size_t oldsz = lim->tabsz, i, h;

	lim->tabsz = oldsz ? oldsz * 2 : TG_TAB_INIT;
	lim->tab = xcalloc(lim->tabsz, sizeof(*lim->tab));
	for (i = 0; i < oldsz; i++) {
		for (c = old[i]; c != NULL; c = next) {
			next = c->hnext;
			h = chat_hash(lim, c->id);
			c->hnext = lim->tab[h];
			lim->tab[h] = c;
		}
	}
	free(old);
}

struct tg_chat *
tg_lim_chat(struct tg_lim *lim, int64_t id)
{
	struct tg_chat *c;

	if (lim->tabsz == 0)
		return NULL;
	for (c = lim->tab[chat_hash(lim, id)]; c != NULL; c = c->hnext)
		if (c->id == id)
			return c;
	return NULL;
}

static struct tg_chat *
chat_get(struct tg_lim *lim, int64_t id)
{
	struct tg_chat *c;
	size_t h, i;

	if ((c = tg_lim_chat(lim, id)) != NULL)
		return c;
	if (lim->nchats >= lim->tabsz)
		tab_grow(lim);
	c = xcalloc(1, sizeof(*c));
	c->id = id;
	gcra_init(&c->gcra, lim->chat_t_us, 1);
	c->gcra.tau_us = lim->chat_tau_us;
	if (id < 0 && lim->group_n > 0) {
		c->win = xcalloc(lim->group_n, sizeof(*c->win));
		for (i = 0; i < lim->group_n; i++)
			c->win[i] = TG_LONG_AGO;
	}
	h = chat_hash(lim, id);
	c->hnext = lim->tab[h];
	lim->tab[h] = c;
	lim->nchats++;
	return c;
}

static void
chat_free(struct tg_lim *lim, struct tg_chat *c)
{
	struct tg_chat **pp;

	for (pp = &lim->tab[chat_hash(lim, c->id)]; *pp != c;
	    pp = &(*pp)->hnext)
		;
	*pp = c->hnext;
	if (c->is_idle)
		TAILQ_REMOVE(&lim->idle, c, idle);
	lim->nchats--;
	free(c->win);
	free(c);
}

int64_t
tg_chat_allow(const struct tg_lim *lim, const struct tg_chat *c)
{
	int64_t t = gcra_allow(&c->gcra), w;

	if (c->win != NULL) {
		w = c->win[c->win_pos] + TG_GROUP_WINDOW_MS;
		if (w > t)
			t = w;
	}
	(void)lim;
	return t;
}

/* The chat remembers nothing that still limits it: it can be forgotten. */
static int
chat_expired(const struct tg_lim *lim, const struct tg_chat *c, int64_t now)
{
	unsigned newest;

	if (c->gcra.tat_us > now * 1000)
		return 0;
	if (c->win != NULL) {
		newest = (c->win_pos + lim->group_n - 1) % lim->group_n;
		if (c->win[newest] + TG_GROUP_WINDOW_MS > now)
			return 0;
	}
	return 1;
}

/* Forget a few chats that have been idle long enough. */
static void
chat_gc(struct tg_lim *lim, int64_t now)
{
	struct tg_chat *c;
	int n;

	for (n = 0; n < TG_GC_PER_CALL; n++) {
		if ((c = TAILQ_FIRST(&lim->idle)) == NULL)
			return;
		if (!chat_expired(lim, c, now))
			return;
		chat_free(lim, c);
	}
}

static void
chat_charge(struct tg_lim *lim, struct tg_chat *c, int64_t now)
{
	gcra_charge(&c->gcra, now);
	if (c->win != NULL) {
		c->win[c->win_pos] = now;
		c->win_pos = (c->win_pos + 1) % lim->group_n;
	}
}

/* ---------------------------------------------------------------- queue */

void
tg_lim_init(struct tg_lim *lim, const struct tg_lim_conf *cf)
{
	memset(lim, 0, sizeof(*lim));
	/*
	 * The clock has ms resolution: above 1000/s, let one ms's worth go
	 * at once, or the rate would be capped at 1000/s. At Telegram's
	 * 30/s the burst stays 1.
	 */
	gcra_init(&lim->global, cf->global_rate > 0 ?
	    (int64_t)ceil(1e6 / cf->global_rate) : 0,
	    cf->global_rate > 1000 ?
	    (int)fmin(cf->global_rate / 1000 + 1, 1e6) : 1);
	lim->chat_t_us = cf->chat_interval_s > 0 ?
	    (int64_t)ceil(cf->chat_interval_s * 1e6) : 0;
	lim->chat_tau_us = cf->chat_burst > 1 ?
	    (int64_t)(cf->chat_burst - 1) * lim->chat_t_us : 0;
	lim->group_n = cf->group_per_min > 0 ? (unsigned)cf->group_per_min : 0;
	lim->max_inflight = cf->max_inflight > 0 ?
	    (size_t)cf->max_inflight : 0;
	lim->pause_until = TG_LONG_AGO;
	TAILQ_INIT(&lim->idle);
}

void
tg_lim_release(struct tg_lim *lim)
{
	struct tg_chat *c, *next;
	size_t i;

	for (i = 0; i < lim->tabsz; i++) {
		for (c = lim->tab[i]; c != NULL; c = next) {
			next = c->hnext;
			free(c->win);
			free(c);
		}
	}
	free(lim->tab);
	free(lim->ready[0].v);
	free(lim->ready[1].v);
	memset(lim, 0, sizeof(*lim));
}

/* it is at the head of its chat (or has none) and may be picked. */
static void
make_ready(struct tg_lim *lim, struct tg_item *it)
{
	int64_t key = it->enq_ms;

	if (it->not_before > key)
		key = it->not_before;
	if (it->chat != NULL) {
		int64_t a = tg_chat_allow(lim, it->chat);

		if (a > key)
			key = a;
	}
	it->key = key;
	it->state = TG_ITEM_READY;
	heap_push(&lim->ready[it->bulk ? 1 : 0], it);
}

void
tg_lim_push(struct tg_lim *lim, struct tg_item *it, int64_t chat, int bulk,
    int64_t now)
{
	struct tg_chat *c = NULL;

	it->next = NULL;
	it->enq_ms = now;
	it->not_before = TG_LONG_AGO;
	it->seq = lim->seq++;
	it->bulk = bulk != 0;
	lim->nqueued++;
	if (chat != TG_NOCHAT) {
		c = chat_get(lim, chat);
		if (c->is_idle) {
			TAILQ_REMOVE(&lim->idle, c, idle);
			c->is_idle = 0;
		}
	}
	it->chat = c;
	if (c == NULL) {
		make_ready(lim, it);
		return;
	}
	if (c->tail != NULL)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	if (c->head == it && !c->busy)
		make_ready(lim, it);
	else
		it->state = TG_ITEM_WAITING;
}

/* When the earliest ready item could go, everything considered. */
static int64_t
earliest(const struct tg_lim *lim)
{
	const struct tg_item *a = heap_top(&lim->ready[0]);
	const struct tg_item *b = heap_top(&lim->ready[1]);
	int64_t t, g;

	if (a == NULL && b == NULL)
		return TG_NEVER;
	if (a == NULL)
		t = b->key;
	else if (b == NULL)
		t = a->key;
	else
		t = a->key < b->key ? a->key : b->key;
	if (lim->pause_until > t)
		t = lim->pause_until;
	g = gcra_allow(&lim->global);
	return g > t ? g : t;
}

struct tg_item *
tg_lim_next(struct tg_lim *lim, int64_t now, int64_t *due)
{
	const struct tg_item *a;
	struct tg_item *it;
	int64_t t;

	chat_gc(lim, now);
	*due = TG_NEVER;
	if (lim->max_inflight > 0 && lim->inflight >= lim->max_inflight)
		return NULL;
	if ((t = earliest(lim)) == TG_NEVER)
		return NULL;
	if (t > now) {
		*due = t;
		return NULL;
	}
	a = heap_top(&lim->ready[0]);
	it = heap_pop(&lim->ready[a != NULL && a->key <= now ? 0 : 1]);
	gcra_charge(&lim->global, now);
	if (it->chat != NULL) {
		chat_charge(lim, it->chat, now);
		it->chat->busy = 1;
	}
	it->state = TG_ITEM_SENT;
	lim->nqueued--;
	lim->inflight++;
	*due = now;
	return it;
}

void
tg_lim_done(struct tg_lim *lim, struct tg_item *it, int64_t now)
{
	struct tg_chat *c = it->chat;

	(void)now;
	it->state = TG_ITEM_NONE;
	lim->inflight--;
	if (c == NULL)
		return;
	c->busy = 0;
	c->head = it->next;
	if (c->tail == it)
		c->tail = NULL;
	it->next = NULL;
	it->chat = NULL;
	if (c->head != NULL)
		make_ready(lim, c->head);
	else {
		TAILQ_INSERT_TAIL(&lim->idle, c, idle);
		c->is_idle = 1;
	}
}

void
tg_lim_retry(struct tg_lim *lim, struct tg_item *it, int64_t not_before,
    int64_t now)
{
	(void)now;
	lim->inflight--;
	lim->nqueued++;
	it->not_before = not_before;
	if (it->chat != NULL)
		it->chat->busy = 0;
	make_ready(lim, it);
}

void
tg_lim_pause(struct tg_lim *lim, int64_t until)
{
	if (until > lim->pause_until)
		lim->pause_until = until;
}
