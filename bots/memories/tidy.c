/*
 * memories: messages that delete themselves (the password prompt, a
 * wrong password's error, the "saved" confirmation with its countdown,
 * and the user's own text once saved).
 *
 * The outbox does not tell a handler the id of a message it sends, so
 * these go through a table of their own, memories_tidy: a handler adds
 * rows in its transaction (a bot message to send, or a message id to
 * delete later, grouped by a flow name), and after the commit a timer
 * (the pump) sends the new bot messages with the tg client, records their
 * ids, and deletes what is due. Rows survive a restart, so a deletion due
 * while the bot was down happens at the next start; a bot message not
 * sent within 10 minutes is dropped. The texts are fixed catalogue texts:
 * no diary content is ever stored here, only message ids.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "memories.h"
#include "msg.h"

#define TIDY_RETRY_MS	5000

struct tidy_cd;

struct tidy {
	struct mem	*m;
	struct bc_timer	*timer;
	struct tidy_call *calls;	/* in flight, one per row */
	struct tidy_cd	*cds;		/* countdowns running */
};

/* One call in flight for a row. */
struct tidy_call {
	struct tidy	*t;
	int64_t		 id;
	int64_t		 chat;
	int		 countdown;
	char		*text;
	struct tidy_call *next;
};

/* A confirmation counting down: edited once a second. */
struct tidy_cd {
	struct tidy	*t;
	struct bc_timer	*timer;
	int64_t		 chat, msg;
	int		 left;
	char		*text;
	struct tidy_cd	*next;
};

static void	tidy_pump(void *);

struct tidy *
tidy_new(struct mem *m)
{
	struct tidy *t = xcalloc(1, sizeof *t);

	t->m = m;
	t->timer = bc_timer_new(tidy_pump, t);
	return t;
}

static void
tidy_cd_free(struct tidy_cd *cd)
{
	bc_timer_free(cd->timer);
	free(cd->text);
	free(cd);
}

static void
tidy_call_free(struct tidy_call *c)
{
	free(c->text);
	free(c);
}

void
tidy_free(struct tidy *t)
{
	struct tidy_call *c;
	struct tidy_cd *cd;

	if (t == NULL)
		return;
	/* The tg client is freed after us and drops these unanswered. */
	while ((c = t->calls) != NULL) {
		t->calls = c->next;
		tidy_call_free(c);
	}
	while ((cd = t->cds) != NULL) {
		t->cds = cd->next;
		tidy_cd_free(cd);
	}
	bc_timer_free(t->timer);
	free(t);
}

/* Run the pump soon (after the handler's commit). */
void
tidy_kick(struct tidy *t)
{
	if (t != NULL && t->timer != NULL)
		bc_timer_start(t->timer, 0);
}

static int
tidy_is_busy(const struct tidy *t, int64_t id)
{
	const struct tidy_call *c;

	for (c = t->calls; c != NULL; c = c->next)
		if (c->id == id)
			return 1;
	return 0;
}

/* Take c off the in-flight list. */
static void
tidy_unlink(struct tidy *t, struct tidy_call *c)
{
	struct tidy_call **pp;

	for (pp = &t->calls; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

/* One statement on a row, outside any transaction; failures logged. */
static void
tidy_exec(struct tidy *t, const char *sql, int64_t id, int64_t v)
{
	char ib[BC_DB_INT64_BUFSZ], vb[BC_DB_INT64_BUFSZ], *cause = NULL;

	if (bc_db_exec(t->m->env->db, sql, BC_DB_P(bc_db_int64(ib, id),
	    bc_db_int64(vb, v)), NULL, &cause) == -1) {
		log_warnx("tidy: %s", cause);
		free(cause);
	}
}

static void
tidy_drop(struct tidy *t, int64_t id)
{
	char ib[BC_DB_INT64_BUFSZ], *cause = NULL;

	if (bc_db_exec(t->m->env->db, "DELETE FROM memories_tidy WHERE "
	    "id = $1", BC_DB_P(bc_db_int64(ib, id)), NULL, &cause) == -1) {
		log_warnx("tidy: %s", cause);
		free(cause);
	}
}

/* A countdown tick: show the seconds left, until 1. */
static void
tidy_cd_tick(void *arg)
{
	struct tidy_cd *cd = arg, **pp;
	char *text;

	if (--cd->left >= 1) {
		xasprintf(&text, MSG_COUNTDOWN, cd->text, cd->left);
		bc_tg_edit_text(cd->t->m->env->tg, cd->chat, cd->msg, text, 0,
		    NULL, NULL, NULL);
		free(text);
	}
	if (cd->left > 1) {
		bc_timer_start(cd->timer, 1000);
		return;
	}
	for (pp = &cd->t->cds; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cd) {
			*pp = cd->next;
			break;
		}
	tidy_cd_free(cd);
}

static void
tidy_cd_start(struct tidy *t, const struct tidy_call *c, int64_t msg)
{
	struct tidy_cd *cd = xcalloc(1, sizeof *cd);

	cd->t = t;
	cd->chat = c->chat;
	cd->msg = msg;
	cd->left = c->countdown;
	cd->text = xstrdup(c->text);
	cd->timer = bc_timer_new(tidy_cd_tick, cd);
	cd->next = t->cds;
	t->cds = cd;
	bc_timer_start(cd->timer, t->m->confirm_ms / c->countdown);
}

static void
tidy_sent(const struct bc_tg_result *res, void *arg)
{
	struct tidy_call *c = arg;
	struct tidy *t = c->t;
	json_t *mid = res->result != NULL ?
	    json_object_get(res->result, "message_id") : NULL;

	tidy_unlink(t, c);
	if (res->ok && json_is_integer(mid)) {
		tidy_exec(t, "UPDATE memories_tidy SET message_id = $2, "
		    "text = NULL WHERE id = $1", c->id,
		    json_integer_value(mid));
		if (c->countdown > 1)
			tidy_cd_start(t, c, json_integer_value(mid));
	} else
		tidy_drop(t, c->id);
	tidy_call_free(c);
	tidy_kick(t);
}

static void
tidy_deleted(const struct bc_tg_result *res, void *arg)
{
	struct tidy_call *c = arg;

	(void)res;	/* gone either way: deleted, or not there any more */
	tidy_unlink(c->t, c);
	tidy_drop(c->t, c->id);
	tidy_call_free(c);
}

/* Start one call for row i of res: a send (send) or a delete. */
static void
tidy_start_call(struct tidy *t, struct bc_db_res *res, int i, int send)
{
	struct tidy_call *c;
	int64_t id, chat, v;
	char *shown = NULL;
	int rc;

	if (bc_db_get_int64(res, i, 0, &id) == -1 ||
	    bc_db_get_int64(res, i, 1, &chat) == -1 || tidy_is_busy(t, id) ||
	    bc_db_get_int64(res, i, 2, &v) == -1)
		return;
	c = xcalloc(1, sizeof *c);
	c->t = t;
	c->id = id;
	c->chat = chat;
	if (send) {
		c->countdown = (int)v;
		c->text = xstrdup(bc_db_get(res, i, 3));
		if (c->countdown > 1)
			xasprintf(&shown, MSG_COUNTDOWN, c->text, c->countdown);
		rc = bc_tg_send_text(t->m->env->tg, chat, shown != NULL ?
		    shown : c->text, 0, NULL, tidy_sent, c);
		free(shown);
	} else
		rc = bc_tg_delete_message(t->m->env->tg, chat, v,
		    tidy_deleted, c);
	if (rc == -1)
		tidy_call_free(c);
	else {
		c->next = t->calls;
		t->calls = c;
	}
}

/* Run one SELECT and start a call per row. -1 on a database error. */
static int
tidy_batch(struct tidy *t, const char *sql, int send)
{
	struct bc_db_res *res;
	char *cause = NULL;
	int i;

	if ((res = bc_db_query(t->m->env->db, sql, 0, NULL, &cause)) ==
	    NULL) {
		log_warnx("tidy: %s", cause);
		free(cause);
		return -1;
	}
	for (i = 0; i < bc_db_ntuples(res); i++)
		tidy_start_call(t, res, i, send);
	bc_db_res_free(res);
	return 0;
}

/* Milliseconds until the next deletion is due, or -1 for none. */
static int64_t
tidy_next_ms(struct tidy *t)
{
	struct bc_db_res *res;
	char *cause = NULL;
	int64_t ms = -1;

	res = bc_db_query(t->m->env->db, "SELECT GREATEST(0, ceil(extract("
	    "epoch FROM min(delete_at) - clock_timestamp()) * 1000))::bigint "
	    "FROM memories_tidy WHERE delete_at IS NOT NULL AND message_id "
	    "IS NOT NULL", 0, NULL, &cause);
	if (res == NULL) {
		log_warnx("tidy: %s", cause);
		free(cause);
		return TIDY_RETRY_MS;
	}
	if (bc_db_get_int64(res, 0, 0, &ms) == -1)
		ms = -1;
	bc_db_res_free(res);
	return ms;
}

/* The pump: drop stale rows, send, delete what is due, re-arm. */
static void
tidy_pump(void *arg)
{
	struct tidy *t = arg;
	struct bc_db *db = t->m->env->db;
	char *cause = NULL;
	int64_t next;

	if (bc_db_in_tx(db)) {
		bc_timer_start(t->timer, 50);
		return;
	}
	if (bc_db_exec(db, "DELETE FROM memories_tidy WHERE message_id IS "
	    "NULL AND created_at < clock_timestamp() - interval '10 minutes'",
	    0, NULL, NULL, &cause) == -1 ||
	    tidy_batch(t, "SELECT id, chat_id, countdown, text FROM "
	    "memories_tidy WHERE message_id IS NULL AND text IS NOT NULL "
	    "ORDER BY id LIMIT 100", 1) == -1 ||
	    tidy_batch(t, "SELECT id, chat_id, message_id FROM memories_tidy "
	    "WHERE message_id IS NOT NULL AND delete_at <= clock_timestamp() "
	    "ORDER BY id LIMIT 100", 0) == -1) {
		if (cause != NULL) {
			log_warnx("tidy: %s", cause);
			free(cause);
		}
		bc_timer_start(t->timer, TIDY_RETRY_MS);
		return;
	}
	if ((next = tidy_next_ms(t)) >= 0)
		bc_timer_start(t->timer, next < 100 ? 100 : next);
}

/* ------------------------------------------------------------ handlers */

static int
tidy_insert(struct bc_router_ctx *ctx, const char *flow, int64_t msg,
    const char *text, int countdown, int64_t delete_ms)
{
	char ch[BC_DB_INT64_BUFSZ], us[BC_DB_INT64_BUFSZ];
	char mb[BC_DB_INT64_BUFSZ], cd[BC_DB_INT64_BUFSZ];
	char dm[BC_DB_INT64_BUFSZ], *cause = NULL;
	struct mem *m = ctx->arg;

	if (bc_db_exec(ctx->db, "INSERT INTO memories_tidy (chat_id, "
	    "user_id, flow, message_id, text, countdown, delete_at) VALUES "
	    "($1, $2, $3, $4, $5, $6, CASE WHEN $7::bigint < 0 THEN NULL "
	    "ELSE now() + $7::bigint * interval '1 millisecond' END)",
	    BC_DB_P(bc_db_int64(ch, ctx->chat_id), bc_db_int64(us,
	    ctx->user_id), flow, msg > 0 ? bc_db_int64(mb, msg) : NULL, text,
	    bc_db_int64(cd, countdown), bc_db_int64(dm, delete_ms)), NULL,
	    &cause) == -1)
		return mem_fail("tidy", cause);
	tidy_kick(m->tidy);
	return 0;
}

/* Remember a user's message of flow, deleted when the flow is. */
int
tidy_user_msg(struct bc_router_ctx *ctx, const char *flow, int64_t msg)
{
	if (msg <= 0)
		return 0;
	return tidy_insert(ctx, flow, msg, NULL, 0, -1);
}

/*
 * Send text (a catalogue text) after the commit as part of flow; it is
 * deleted delete_ms after now (-1: when the flow is), counting down
 * countdown seconds when > 1.
 */
int
tidy_send(struct bc_router_ctx *ctx, const char *flow, const char *text,
    int countdown, int64_t delete_ms)
{
	return tidy_insert(ctx, flow, 0, text, countdown, delete_ms);
}

/* Delete every message of the user's flow delete_ms from now. */
int
tidy_schedule(struct bc_router_ctx *ctx, const char *flow,
    int64_t delete_ms)
{
	char ch[BC_DB_INT64_BUFSZ], us[BC_DB_INT64_BUFSZ];
	char dm[BC_DB_INT64_BUFSZ], *cause = NULL;
	struct mem *m = ctx->arg;

	if (bc_db_exec(ctx->db, "UPDATE memories_tidy SET delete_at = now() "
	    "+ $4::bigint * interval '1 millisecond' WHERE chat_id = $1 AND "
	    "user_id = $2 AND flow = $3 AND delete_at IS NULL",
	    BC_DB_P(bc_db_int64(ch, ctx->chat_id), bc_db_int64(us,
	    ctx->user_id), flow, bc_db_int64(dm, delete_ms)), NULL,
	    &cause) == -1)
		return mem_fail("tidy", cause);
	tidy_kick(m->tidy);
	return 0;
}

/* Delete a message of the chat after the commit (the outbox). */
int
tidy_delete_now(struct bc_router_ctx *ctx, int64_t msg)
{
	json_t *p;

	if (msg <= 0)
		return 0;
	p = json_object();
	json_object_set_new(p, "chat_id", json_integer(ctx->chat_id));
	json_object_set_new(p, "message_id", json_integer(msg));
	return bc_router_call(ctx, "deleteMessage", p, 0);
}
