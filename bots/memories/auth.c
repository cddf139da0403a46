/*
 * memories: registration, the password, the lockout after repeated wrong
 * passwords, and the unlocked session.
 *
 * memories_users.password is a crypt(3) hash: yescrypt from this bot,
 * bcrypt from the original (still verified), or, for the original's very
 * first users, the plain password, which is compared in constant time and
 * replaced by a hash at the first successful login. memories_auth holds,
 * per user, the count of consecutive wrong passwords, the end of a
 * lockout, and the last use of an unlocked session (all in ms of the
 * bot's clock, see mem_now_ms()).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/crypto.h>
#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/xmalloc.h>

#include "memories.h"
#include "msg.h"

#define FLOW_PW		"pw"
#define FLOW_ERR	"err"

/* One int64 from a one-row query with the user's id and an int64. */
static int
auth_query(struct bc_router_ctx *ctx, const char *sql, int64_t v,
    int64_t *out, int *found)
{
	char ub[BC_DB_INT64_BUFSZ], vb[BC_DB_INT64_BUFSZ], *cause = NULL;
	struct bc_db_res *res;

	res = bc_db_query(ctx->db, sql, BC_DB_P(bc_db_int64(ub, ctx->user_id),
	    bc_db_int64(vb, v)), &cause);
	if (res == NULL)
		return mem_fail("auth", cause);
	*found = bc_db_ntuples(res) == 1 && !bc_db_is_null(res, 0, 0);
	if (*found)
		bc_db_get_int64(res, 0, 0, out);
	bc_db_res_free(res);
	return 0;
}

int
mem_registered(struct bc_router_ctx *ctx, int *yes)
{
	int64_t one;

	return auth_query(ctx, "SELECT 1 FROM memories_users WHERE user_id = "
	    "$1 AND password IS NOT NULL AND password <> '' AND "
	    "$2::bigint IS NOT NULL", 0, &one, yes);
}

/* Is the session unlocked (and not idle too long)? Touches it if so. */
int
mem_session_ok(struct bc_router_ctx *ctx, int *ok)
{
	struct mem *m = ctx->arg;
	int64_t now = mem_now_ms(), last = 0;
	int found;

	if (auth_query(ctx, "SELECT session_ms FROM memories_auth WHERE "
	    "user_id = $1 AND $2::bigint IS NOT NULL", 0, &last, &found) == -1)
		return -1;
	*ok = found && last <= now && now - last <= m->session_idle_ms;
	if (!*ok)
		return 0;
	return auth_query(ctx, "UPDATE memories_auth SET session_ms = $2 "
	    "WHERE user_id = $1 RETURNING 1", now, &last, &found);
}

/* Minutes left of a lockout (0: none). */
static int
auth_locked(struct bc_router_ctx *ctx, long long *minutes)
{
	int64_t now = mem_now_ms(), until = 0;
	int found;

	*minutes = 0;
	if (auth_query(ctx, "SELECT locked_until_ms FROM memories_auth WHERE "
	    "user_id = $1 AND locked_until_ms > $2", now, &until, &found) == -1)
		return -1;
	if (found)
		*minutes = (long long)((until - now + 59999) / 60000);
	return 0;
}

static int
auth_say_locked(struct bc_router_ctx *ctx, long long minutes)
{
	char *text;
	int rc;

	xasprintf(&text, MSG_LOCKED_OUT, minutes);
	rc = tidy_send(ctx, FLOW_ERR, text, 0, ((struct mem *)ctx->arg)->
	    error_ms);
	free(text);
	return rc;
}

/* Run what the password was asked for. */
static int
auth_run(struct bc_router_ctx *ctx, enum mem_action a)
{
	switch (a) {
	case MEM_ACT_WEEKLY:
	case MEM_ACT_EXTRA:
		return mem_write_start(ctx, a);
	case MEM_ACT_MEMORIES:
		return mem_show_card(ctx, 0, 0);
	case MEM_ACT_REVIEW:
		return mem_review_start(ctx);
	case MEM_ACT_STATS:
		return mem_stats(ctx, 0);
	case MEM_ACT_BACKUP:
		return mem_backup(ctx);
	default:
		break;
	}
	return 0;
}

/*
 * A command that needs the diary open: registered users only; with an
 * unlocked session it runs at once (but /backup always asks), else the
 * password is asked for (unless locked out).
 */
int
mem_gate(struct bc_router_ctx *ctx, enum mem_action a)
{
	long long minutes;
	json_t *data;
	int yes, rc;

	if (mem_registered(ctx, &yes) == -1)
		return -1;
	if (!yes)
		return bc_router_reply(ctx, MSG_NOT_REGISTERED, 0, NULL);
	if (a != MEM_ACT_BACKUP) {
		if (mem_session_ok(ctx, &yes) == -1)
			return -1;
		if (yes)
			return auth_run(ctx, a);
	}
	if (auth_locked(ctx, &minutes) == -1)
		return -1;
	if (minutes > 0)
		return auth_say_locked(ctx, minutes);
	data = json_pack("{si}", "a", (int)a);
	rc = bc_router_conv_start(ctx, "unlock", "password", data,
	    MEM_CONV_TTL_MS);
	json_decref(data);
	if (rc == -1)
		return -1;
	return tidy_send(ctx, FLOW_PW, MSG_ASK_PASSWORD, 0, -1);
}

/* Check text against the user's stored password: 1, 0, or -1. */
static int
auth_verify(struct bc_router_ctx *ctx, const char *text)
{
	char ub[BC_DB_INT64_BUFSZ], *cause = NULL, *hash;
	struct bc_db_res *res;
	const char *stored;
	int ok;

	res = bc_db_query(ctx->db, "SELECT password FROM memories_users "
	    "WHERE user_id = $1", BC_DB_P(bc_db_int64(ub, ctx->user_id)),
	    &cause);
	if (res == NULL)
		return mem_fail("auth", cause);
	stored = bc_db_get(res, 0, 0);
	if (stored == NULL || *stored == '\0')
		ok = 0;
	else if (stored[0] == '$')
		ok = bc_password_verify(text, stored) == 1;
	else if ((ok = bc_ct_streq(text, stored)) == 1) {
		/* The original's plaintext password: hash it now. */
		if ((hash = bc_password_hash(text, &cause)) == NULL ||
		    bc_db_exec(ctx->db, "UPDATE memories_users SET password = "
		    "$2 WHERE user_id = $1", BC_DB_P(ub, hash), NULL,
		    &cause) == -1)
			ok = -1;
		free(hash);
		if (ok == -1)
			mem_fail("auth upgrade", cause);
	}
	bc_db_res_free(res);
	return ok;
}

/* A wrong password: count it, lock out at the limit, say so. */
static int
auth_wrong(struct bc_router_ctx *ctx)
{
	struct mem *m = ctx->arg;
	int64_t n = 0, now = mem_now_ms();
	char ub[BC_DB_INT64_BUFSZ];
	int found;

	if (auth_query(ctx, "INSERT INTO memories_auth (user_id, failures) "
	    "VALUES ($1, 1) ON CONFLICT (user_id) DO UPDATE SET failures = "
	    "memories_auth.failures + 1, session_ms = NULL WHERE "
	    "$2::bigint IS NOT NULL RETURNING failures", 0, &n, &found) == -1)
		return -1;
	log_kv(LOG_LEVEL_INFO, "wrong password", "user", bc_db_int64(ub,
	    ctx->user_id), NULL);
	if (n >= m->max_failures) {
		if (auth_query(ctx, "UPDATE memories_auth SET failures = 0, "
		    "locked_until_ms = $2 WHERE user_id = $1 RETURNING 1",
		    now + m->lockout_ms, &n, &found) == -1)
			return -1;
		return auth_say_locked(ctx, (long long)((m->lockout_ms +
		    59999) / 60000));
	}
	return tidy_send(ctx, FLOW_ERR, MSG_WRONG_PASSWORD, 0, m->error_ms);
}

/* The reply to "Введите пароль". */
int
conv_unlock(struct bc_router_ctx *ctx)
{
	const struct bc_conv *c = bc_router_conv(ctx);
	const char *text = ctx->msg->text;
	long long minutes;
	json_int_t a;
	int64_t one;
	int ok, found;

	if (c == NULL)
		return -1;
	a = json_integer_value(json_object_get(c->data, "a"));
	if (bc_router_conv_end(ctx) == -1 ||
	    tidy_delete_now(ctx, ctx->msg->message_id) == -1 ||
	    tidy_schedule(ctx, FLOW_PW, 0) == -1)
		return -1;
	if (text == NULL)
		return bc_router_reply(ctx, MSG_NOT_TEXT, 0, NULL);
	if (auth_locked(ctx, &minutes) == -1)
		return -1;
	if (minutes > 0)
		return auth_say_locked(ctx, minutes);
	if ((ok = auth_verify(ctx, text)) == -1)
		return -1;
	if (!ok)
		return auth_wrong(ctx);
	if (auth_query(ctx, "INSERT INTO memories_auth (user_id, session_ms) "
	    "VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET failures = 0,"
	    " locked_until_ms = NULL, session_ms = $2 RETURNING 1",
	    mem_now_ms(), &one, &found) == -1)
		return -1;
	if (a < 0 || a >= MEM_ACT_COUNT)
		return bc_router_reply(ctx, MSG_UNLOCKED, 0, NULL);
	return auth_run(ctx, (enum mem_action)a);
}

/* ------------------------------------------------------------ /start */

int
cmd_start(struct bc_router_ctx *ctx)
{
	int yes;

	if (mem_registered(ctx, &yes) == -1)
		return -1;
	if (yes)
		return mem_help(ctx);
	if (bc_router_conv_start(ctx, "register", "password", NULL,
	    MEM_CONV_TTL_MS) == -1)
		return -1;
	return bc_router_reply(ctx, MSG_REG_ASK, 0, NULL);
}

/* Insert or complete the user's row with the password hash. */
static int
auth_register(struct bc_router_ctx *ctx, const char *hash)
{
	const struct bc_tg_user *f = &ctx->msg->from;
	char ub[BC_DB_INT64_BUFSZ], *cause = NULL;
	struct bc_db_res *res;
	struct mem_sched s;
	int rc;

	res = bc_db_query(ctx->db, "INSERT INTO memories_users (user_id, "
	    "username, first_name, last_name, password, registered_at) "
	    "VALUES ($1, left($2, 255), left($3, 255), left($4, 255), $5, "
	    "now() AT TIME ZONE 'UTC') ON CONFLICT (user_id) DO UPDATE SET "
	    "password = EXCLUDED.password, is_active = true WHERE "
	    "memories_users.password IS NULL OR memories_users.password = '' "
	    "RETURNING reminder_day, reminder_time, timezone",
	    BC_DB_P(bc_db_int64(ub, ctx->user_id), f->username, f->first_name,
	    f->last_name, hash), &cause);
	if (res == NULL)
		return mem_fail("register", cause);
	if (bc_db_ntuples(res) != 1) {
		bc_db_res_free(res);
		return 0;	/* registered meanwhile */
	}
	mem_sched_from_row(&s, bc_db_get(res, 0, 0), bc_db_get(res, 0, 1),
	    bc_db_get(res, 0, 2));
	rc = mem_schedule_reset(ctx, &s);
	bc_db_res_free(res);
	return rc;
}

/* The new password. */
int
conv_register(struct bc_router_ctx *ctx)
{
	const char *text = ctx->msg->text;
	char *hash, *cause = NULL, *reply;
	size_t len;
	int rc;

	if (tidy_delete_now(ctx, ctx->msg->message_id) == -1)
		return -1;
	if (text == NULL)
		return bc_router_reply(ctx, MSG_NOT_TEXT, 0, NULL);
	len = strlen(text);
	if (len < MEM_PASSWORD_MIN || len > MEM_PASSWORD_MAX)
		return bc_router_reply(ctx, MSG_REG_BAD, 0, NULL);
	if ((hash = bc_password_hash(text, &cause)) == NULL)
		return mem_fail("hash", cause);
	rc = auth_register(ctx, hash);
	free(hash);
	if (rc == -1 || bc_router_conv_end(ctx) == -1)
		return -1;
	xasprintf(&reply, MSG_REG_DONE MSG_HELP, (long long)(((struct mem *)
	    ctx->arg)->session_idle_ms / 60000));
	rc = bc_router_reply(ctx, reply, BC_TG_HTML, NULL);
	free(reply);
	return rc;
}

/* /lock: close the diary now. */
int
cmd_lock(struct bc_router_ctx *ctx)
{
	char ub[BC_DB_INT64_BUFSZ], *cause = NULL;

	if (bc_db_exec(ctx->db, "UPDATE memories_auth SET session_ms = NULL "
	    "WHERE user_id = $1", BC_DB_P(bc_db_int64(ub, ctx->user_id)),
	    NULL, &cause) == -1)
		return mem_fail("lock", cause);
	return bc_router_reply(ctx, MSG_LOCKED, 0, NULL);
}
