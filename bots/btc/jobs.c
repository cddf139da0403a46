/*
 * What runs when a price arrives: the alerts, the /price messages and
 * their live edits, and the $500-step announcements; and the jobs that
 * ask for prices (every [btc] check_interval, every [btc]
 * announce_interval, and right after a /price).
 *
 * Alerts and announcements are decided and their messages written to the
 * outbox in one transaction (bc_router_run()), so each is sent once, also
 * around a restart. A /price message is a row in btc_live first; it is
 * sent with bc_tg_send_text() (its message_id is needed for the edits),
 * which makes it at-least-once: a crash between Telegram's answer and the
 * UPDATE sends it again at the next start.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/buf.h>
#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/router.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "btc.h"

#define LIVE_BATCH		"200"
#define ANNOUNCE_MAX		10	/* crossings announced one by one */

static void
jobs_dberr(const char *what, char *cause)
{
	log_warnx("%s: %s", what, cause);
	free(cause);
}

static struct btc_call *
call_new(struct btc *b, int64_t chat_id, int64_t gen, int64_t cents)
{
	struct btc_call *c = xcalloc(1, sizeof *c);

	c->b = b;
	c->chat_id = chat_id;
	c->gen = gen;
	c->cents = cents;
	LIST_INSERT_HEAD(&b->calls, c, entry);
	return c;
}

static void
call_free(struct btc_call *c)
{
	LIST_REMOVE(c, entry);
	free(c);
}

/* 1 if a send for this chat and generation is in flight. */
static int
call_busy(struct btc *b, int64_t chat_id, int64_t gen)
{
	struct btc_call *c;

	LIST_FOREACH(c, &b->calls, entry)
		if (c->chat_id == chat_id && c->gen == gen)
			return 1;
	return 0;
}

/* ------------------------------------------------------------ alerts */

static int
alerts_fire(struct bc_router_ctx *ctx)
{
	struct btc *b = ctx->arg;
	struct bc_db_res *res;
	char p[BC_DB_INT64_BUFSZ], tol[BC_DB_INT64_BUFSZ], *cause = NULL;
	char price[32], target[32], *text;
	int64_t chat, t;
	int i, rc = 0;

	bc_db_int64(p, b->price_cents);
	bc_db_int64(tol, b->c.tolerance_cents);
	/* Within the tolerance, or crossed since the alert was set. */
	res = bc_db_query(ctx->db, "DELETE FROM btc_alerts WHERE "
	    "abs(target_cents - $1::bigint) <= $2::bigint OR "
	    "(set_price_cents IS NOT NULL AND "
	    "sign(set_price_cents - target_cents) * "
	    "sign($1::bigint - target_cents) < 0) "
	    "RETURNING chat_id, target_cents", BC_DB_P(p, tol), &cause);
	if (res == NULL) {
		jobs_dberr("alerts", cause);
		return -1;
	}
	btc_fmt_usd(price, sizeof price, b->price_cents, 1);
	for (i = 0; i < bc_db_ntuples(res) && rc == 0; i++) {
		if (bc_db_get_int64(res, i, 0, &chat) == -1 ||
		    bc_db_get_int64(res, i, 1, &t) == -1)
			continue;
		btc_fmt_usd(target, sizeof target, t, 1);
		text = bc_tmpl(btc_texts.reached, "price", price, "target",
		    target, NULL);
		rc = bc_router_send(ctx, chat, text, 0, NULL);
		free(text);
	}
	if (bc_db_ntuples(res) > 0)
		log_kv(LOG_LEVEL_INFO, "alerts fired", "price", price, NULL);
	bc_db_res_free(res);
	return rc;
}

/* ------------------------------------------------------------ /price */

/* A /price message was sent (or not): remember its id for the edits. */
static void
live_sent(const struct bc_tg_result *r, void *arg)
{
	struct btc_call *c = arg;
	struct btc *b = c->b;
	char chat[BC_DB_INT64_BUFSZ], gen[BC_DB_INT64_BUFSZ];
	char mid[BC_DB_INT64_BUFSZ], cents[BC_DB_INT64_BUFSZ];
	json_t *id = json_object_get(r->result, "message_id");
	char *cause = NULL;
	int rc = 0;

	bc_db_int64(chat, c->chat_id);
	bc_db_int64(gen, c->gen);
	bc_db_int64(cents, c->cents);
	if (r->ok && json_is_integer(id) && b->c.live_for_ms > 0) {
		bc_db_int64(mid, json_integer_value(id));
		rc = bc_db_exec(b->env->db, "UPDATE btc_live SET message_id = "
		    "$3, shown_cents = $4, edited_at = now() WHERE chat_id = "
		    "$1 AND gen = $2", BC_DB_P(chat, gen, mid, cents), NULL,
		    &cause);
	} else if (r->ok || r->status >= 400)
		/* Done, not to be edited; or refused for good. */
		rc = bc_db_exec(b->env->db, "DELETE FROM btc_live WHERE "
		    "chat_id = $1 AND gen = $2", BC_DB_P(chat, gen), NULL,
		    &cause);
	if (rc == -1)
		jobs_dberr("live", cause);
	call_free(c);
}

/* Tell the waiting chats that there is no price, in one transaction. */
static int
live_unavailable(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char *cause = NULL;
	int64_t chat;
	int i, rc = 0;

	res = bc_db_query(ctx->db, "DELETE FROM btc_live WHERE message_id IS "
	    "NULL RETURNING chat_id", 0, NULL, &cause);
	if (res == NULL) {
		jobs_dberr("live", cause);
		return -1;
	}
	for (i = 0; i < bc_db_ntuples(res) && rc == 0; i++)
		if (bc_db_get_int64(res, i, 0, &chat) == 0)
			rc = bc_router_send(ctx, chat, btc_texts.unavailable,
			    0, NULL);
	bc_db_res_free(res);
	return rc;
}

/* Send the /price messages waiting in btc_live. */
static void
live_pump(struct btc *b, int64_t cents)
{
	struct bc_db_res *res;
	struct btc_call *c;
	char price[32], *text, *cause = NULL;
	int64_t chat, gen;
	int i;

	res = bc_db_query(b->env->db, "SELECT chat_id, gen FROM btc_live "
	    "WHERE message_id IS NULL ORDER BY requested_at LIMIT "
	    LIVE_BATCH, 0, NULL, &cause);
	if (res == NULL) {
		jobs_dberr("live", cause);
		return;
	}
	btc_fmt_usd(price, sizeof price, cents, 1);
	text = bc_tmpl(btc_texts.price, "price", price, NULL);
	for (i = 0; i < bc_db_ntuples(res); i++) {
		if (bc_db_get_int64(res, i, 0, &chat) == -1 ||
		    bc_db_get_int64(res, i, 1, &gen) == -1 ||
		    call_busy(b, chat, gen))
			continue;
		c = call_new(b, chat, gen, cents);
		if (bc_tg_send_text(b->env->tg, chat, text, 0, NULL,
		    live_sent, c) == -1)
			call_free(c);
	}
	free(text);
	bc_db_res_free(res);
}

static void
live_edited(const struct bc_tg_result *r, void *arg)
{
	struct btc_call *c = arg;
	struct btc *b = c->b;
	char chat[BC_DB_INT64_BUFSZ], gen[BC_DB_INT64_BUFSZ];
	char cents[BC_DB_INT64_BUFSZ], *cause = NULL;
	int rc = 0;

	bc_db_int64(chat, c->chat_id);
	bc_db_int64(gen, c->gen);
	bc_db_int64(cents, c->cents);
	if (r->ok)
		rc = bc_db_exec(b->env->db, "UPDATE btc_live SET shown_cents "
		    "= $3, edited_at = now() WHERE chat_id = $1 AND gen = $2",
		    BC_DB_P(chat, gen, cents), NULL, &cause);
	else if (r->status >= 400 && r->status < 500 && r->status != 429)
		/* The message is gone (deleted, chat blocked): stop. */
		rc = bc_db_exec(b->env->db, "DELETE FROM btc_live WHERE "
		    "chat_id = $1 AND gen = $2", BC_DB_P(chat, gen), NULL,
		    &cause);
	if (rc == -1)
		jobs_dberr("live", cause);
	call_free(c);
}

/* Edit the live messages that show another price; drop expired ones. */
static void
live_edit(struct btc *b, int64_t cents)
{
	struct bc_db_res *res;
	struct btc_call *c;
	char p[BC_DB_INT64_BUFSZ], price[32], *text, *cause = NULL;
	int64_t chat, gen, mid;
	int i;

	if (bc_db_exec(b->env->db, "DELETE FROM btc_live WHERE until <= "
	    "now() OR (message_id IS NULL AND requested_at < now() - "
	    "interval '10 minutes')", 0, NULL, NULL, &cause) == -1) {
		jobs_dberr("live", cause);
		return;
	}
	bc_db_int64(p, cents);
	res = bc_db_query(b->env->db, "SELECT chat_id, gen, message_id FROM "
	    "btc_live WHERE message_id IS NOT NULL AND shown_cents IS "
	    "DISTINCT FROM $1::bigint ORDER BY edited_at LIMIT " LIVE_BATCH,
	    BC_DB_P(p), &cause);
	if (res == NULL) {
		jobs_dberr("live", cause);
		return;
	}
	btc_fmt_usd(price, sizeof price, cents, 1);
	text = bc_tmpl(btc_texts.price, "price", price, NULL);
	for (i = 0; i < bc_db_ntuples(res); i++) {
		if (bc_db_get_int64(res, i, 0, &chat) == -1 ||
		    bc_db_get_int64(res, i, 1, &gen) == -1 ||
		    bc_db_get_int64(res, i, 2, &mid) == -1 ||
		    call_busy(b, chat, gen))
			continue;
		c = call_new(b, chat, gen, cents);
		if (bc_tg_edit_text(b->env->tg, chat, mid, text, 0, NULL,
		    live_edited, c) == -1)
			call_free(c);
	}
	free(text);
	bc_db_res_free(res);
}

/* ------------------------------------------------------------ steps */

/* One message per $step multiple crossed between the steps last and
 * cur (the last ANNOUNCE_MAX of them when more). */
static int
announce_send(struct bc_router_ctx *ctx, int64_t last, int64_t cur)
{
	struct btc *b = ctx->arg;
	int64_t k, from, n;
	char step[32], *text;
	int up = cur > last, rc = 0;

	n = up ? cur - last : last - cur;
	from = n > ANNOUNCE_MAX ? (up ? cur - ANNOUNCE_MAX + 1 :
	    cur + ANNOUNCE_MAX) : (up ? last + 1 : last);
	for (k = from; rc == 0 && (up ? k <= cur : k > cur);
	    k += up ? 1 : -1) {
		btc_fmt_usd(step, sizeof step, k * b->c.step_cents, 0);
		text = bc_tmpl(up ? btc_texts.step_up : btc_texts.step_down,
		    "step", step, NULL);
		rc = bc_router_send(ctx, b->c.announce_chat, text, 0, NULL);
		free(text);
	}
	return rc;
}

static int
announce_run(struct bc_router_ctx *ctx)
{
	struct btc *b = ctx->arg;
	struct bc_db_res *res;
	char chat[BC_DB_INT64_BUFSZ], usd[BC_DB_INT64_BUFSZ], *cause = NULL;
	int64_t last_usd, cur = b->price_cents / b->c.step_cents, last;
	int have;

	bc_db_int64(chat, b->c.announce_chat);
	res = bc_db_query(ctx->db, "SELECT last_step FROM btc_announce WHERE "
	    "chat_id = $1 FOR UPDATE", BC_DB_P(chat), &cause);
	if (res == NULL) {
		jobs_dberr("announce", cause);
		return -1;
	}
	have = bc_db_get_int64(res, 0, 0, &last_usd) == 0;
	bc_db_res_free(res);
	last = have ? last_usd * 100 / b->c.step_cents : cur;
	if (last != cur && announce_send(ctx, last, cur) == -1)
		return -1;
	if (have && last == cur)
		return 0;
	bc_db_int64(usd, cur * b->c.step_cents / 100);
	if (bc_db_exec(ctx->db, "INSERT INTO btc_announce (chat_id, "
	    "last_step) VALUES ($1, $2) ON CONFLICT (chat_id) DO UPDATE SET "
	    "last_step = $2, updated_at = now()", BC_DB_P(chat, usd), NULL,
	    &cause) == -1) {
		jobs_dberr("announce", cause);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ glue */

static void
jobs_run(struct btc *b, bc_cmd_fn *fn, const char *what)
{
	char *cause = NULL;

	if (bc_router_run(b->env->router, fn, b, &cause) == -1) {
		log_warnx("%s: %s", what, cause);
		free(cause);
	}
}

/*
 * A fetch ended (ok: b->price_cents is fresh) or the cache was fresh:
 * run everything that waited for a price.
 */
void
btc_price_done(struct btc *b, int ok)
{
	if (ok && !b->last_ok)
		log_kv(LOG_LEVEL_INFO, "price available", "source",
		    b->price_src, NULL);
	b->last_ok = ok;
	if (!ok) {
		jobs_run(b, live_unavailable, "live");
		return;
	}
	jobs_run(b, alerts_fire, "alerts");
	live_pump(b, b->price_cents);
	live_edit(b, b->price_cents);
	if (b->announce_due && b->c.announce_chat != 0) {
		b->announce_due = 0;
		jobs_run(b, announce_run, "announce");
	}
}

static void
jobs_tick(void *arg)
{
	btc_price_want(arg);
}

static void
jobs_announce(void *arg)
{
	struct btc *b = arg;

	b->announce_due = 1;
	btc_price_want(b);
}

static void
jobs_kick_cb(void *arg)
{
	btc_price_want(arg);
}

/* After a /price: look at the waiting rows once the handler committed. */
void
btc_jobs_kick(struct btc *b)
{
	if (b->kick != NULL)
		bc_timer_start(b->kick, 0);
}

int
btc_jobs_start(struct btc *b, char **cause)
{
	LIST_INIT(&b->calls);
	b->last_ok = 1;
	b->kick = bc_timer_new(jobs_kick_cb, b);
	b->tick = bc_sched_every(b->c.check_ms, jobs_tick, b);
	if (b->c.announce_chat != 0) {
		b->announce = bc_sched_every(b->c.announce_ms, jobs_announce,
		    b);
		b->announce_due = 1;	/* the first look at once */
	}
	if (b->kick == NULL || b->tick == NULL ||
	    (b->c.announce_chat != 0 && b->announce == NULL)) {
		*cause = xstrdup("cannot schedule the price jobs");
		return -1;
	}
	/* /price rows a previous process left, and the first prices. */
	bc_timer_start(b->kick, 0);
	return 0;
}

void
btc_jobs_stop(struct btc *b)
{
	struct btc_call *c;

	bc_sched_free(b->tick);
	bc_sched_free(b->announce);
	bc_timer_free(b->kick);
	b->tick = b->announce = NULL;
	b->kick = NULL;
	/* The tg client drops these calls without their callbacks. */
	while ((c = LIST_FIRST(&b->calls)) != NULL)
		call_free(c);
}
