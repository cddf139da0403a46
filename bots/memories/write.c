/*
 * memories: /weekly and /extra. The command is deleted, the password
 * asked for (unless the diary is open), then the text: checked, sealed
 * and saved; a confirmation counts down and takes the prompt, the text
 * and itself away.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/xmalloc.h>

#include "memories.h"
#include "msg.h"

#define FLOW_WRITE	"write"

static int
write_cmd(struct bc_router_ctx *ctx, enum mem_action a)
{
	if (tidy_delete_now(ctx, ctx->msg->message_id) == -1)
		return -1;
	return mem_gate(ctx, a);
}

int
cmd_weekly(struct bc_router_ctx *ctx)
{
	return write_cmd(ctx, MEM_ACT_WEEKLY);
}

int
cmd_extra(struct bc_router_ctx *ctx)
{
	return write_cmd(ctx, MEM_ACT_EXTRA);
}

/* The diary is open: ask for the text. */
int
mem_write_start(struct bc_router_ctx *ctx, enum mem_action a)
{
	json_t *data;
	int rc;

	data = json_pack("{ss}", "t", a == MEM_ACT_WEEKLY ? "weekly" :
	    "extra");
	rc = bc_router_conv_start(ctx, "write", "text", data,
	    MEM_CONV_TTL_MS);
	json_decref(data);
	if (rc == -1)
		return -1;
	return tidy_send(ctx, FLOW_WRITE, a == MEM_ACT_WEEKLY ?
	    MSG_ASK_WEEKLY : MSG_ASK_EXTRA, 0, -1);
}

/* This week's Monday in the user's zone, as "YYYY-MM-DD". */
static int
write_monday(struct bc_router_ctx *ctx, int64_t now_ms, char date[11])
{
	char ub[BC_DB_INT64_BUFSZ], *cause = NULL;
	struct bc_db_res *res;
	struct tm tm;
	time_t t;

	res = bc_db_query(ctx->db, "SELECT timezone FROM memories_users "
	    "WHERE user_id = $1", BC_DB_P(bc_db_int64(ub, ctx->user_id)),
	    &cause);
	if (res == NULL)
		return mem_fail("monday", cause);
	t = (time_t)(now_ms / 1000);
	if (mem_local_tm(t, bc_db_get(res, 0, 0), &tm) == -1) {
		bc_db_res_free(res);
		return -1;
	}
	bc_db_res_free(res);
	/* Noon UTC of the local date, moved back to Monday. */
	tm.tm_hour = 12;
	tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = 0;
	t = timegm(&tm) - (time_t)((tm.tm_wday + 6) % 7) * 86400;
	gmtime_r(&t, &tm);
	mem_ymd(&tm, date);
	return 0;
}

/* Save sealed text; *week is its week number. */
static int
write_save(struct bc_router_ctx *ctx, const char *type, const char *text,
    int64_t *week)
{
	struct mem *m = ctx->arg;
	char ub[BC_DB_INT64_BUFSZ], nb[BC_DB_INT64_BUFSZ], monday[11];
	char *sealed, *cause = NULL;
	struct bc_db_res *res;
	int64_t now = mem_now_ms();

	if (write_monday(ctx, now, monday) == -1)
		return -1;
	if ((sealed = mem_seal(m, ctx->user_id, text)) == NULL) {
		log_warnx("cannot encrypt a memory");
		return -1;
	}
	res = bc_db_query(ctx->db, "WITH f AS (SELECT min(created_at) AS "
	    "first FROM memories WHERE user_id = $1 AND memory_type = "
	    "'weekly'), n AS (SELECT to_timestamp($4::bigint / 1000.0) AT "
	    "TIME ZONE 'UTC' AS now) INSERT INTO memories (user_id, content, "
	    "memory_type, created_at, week_number, week_start_date) SELECT "
	    "$1, $2, $3, n.now, GREATEST(1, COALESCE(floor(extract(epoch "
	    "FROM n.now - f.first) / 604800)::int + 1, 1)), $5::date FROM f, "
	    "n RETURNING week_number", BC_DB_P(bc_db_int64(ub, ctx->user_id),
	    sealed, type, bc_db_int64(nb, now), monday), &cause);
	free(sealed);
	if (res == NULL)
		return mem_fail("save", cause);
	*week = 1;
	bc_db_get_int64(res, 0, 0, week);
	bc_db_res_free(res);
	return 0;
}

/* Tell what is wrong with a text; the error deletes itself. */
static int
write_refuse(struct bc_router_ctx *ctx, int why)
{
	struct mem *m = ctx->arg;
	const char *text = why == 1 ? MSG_TEXT_EMPTY : why == 2 ?
	    MSG_TEXT_LONG : why == 3 ? MSG_TEXT_NOALNUM : MSG_NOT_TEXT;

	if (tidy_user_msg(ctx, FLOW_WRITE, ctx->msg->message_id) == -1)
		return -1;
	return tidy_send(ctx, "err", text, 0, m->error_ms);
}

/* The text of a /weekly or /extra. */
int
conv_write(struct bc_router_ctx *ctx)
{
	const struct bc_conv *c = bc_router_conv(ctx);
	struct mem *m = ctx->arg;
	const char *t;
	char type[8], *reply;
	int64_t week;
	int why, rc, cd;

	if (c == NULL)
		return -1;
	/* A copy: c->data goes with bc_router_conv_end(). */
	t = json_string_value(json_object_get(c->data, "t"));
	if (t == NULL || (strcmp(t, "weekly") != 0 && strcmp(t, "extra") != 0))
		return bc_router_conv_end(ctx);
	snprintf(type, sizeof type, "%s", t);
	if (ctx->msg->text == NULL)
		return write_refuse(ctx, 4);
	if ((why = mem_text_valid(ctx->msg->text)) != 0)
		return write_refuse(ctx, why);
	if (write_save(ctx, type, ctx->msg->text, &week) == -1 ||
	    bc_router_conv_end(ctx) == -1 ||
	    tidy_user_msg(ctx, FLOW_WRITE, ctx->msg->message_id) == -1)
		return -1;
	if (strcmp(type, "weekly") == 0)
		xasprintf(&reply, MSG_SAVED_WEEKLY, (long long)week);
	else
		reply = xstrdup(MSG_SAVED_EXTRA);
	cd = (int)(m->confirm_ms / 1000);
	rc = tidy_send(ctx, FLOW_WRITE, reply, cd < 1 ? 1 : cd, -1);
	free(reply);
	if (rc == -1)
		return -1;
	return tidy_schedule(ctx, FLOW_WRITE, m->confirm_ms);
}

/*
 * Seal the plaintext rows the original bot left, in batches, at start.
 * Each row is replaced only if it is still the same text. 0, or -1 with
 * *cause.
 */
int
mem_encrypt_existing(struct mem *m, char **cause)
{
	struct bc_db *db = m->env->db;
	struct bc_db_res *res;
	char ab[BC_DB_INT64_BUFSZ], *sealed;
	int64_t uid, after = 0;
	int i, n, done = 0;

	do {
		res = bc_db_query(db, "SELECT id, user_id, content FROM "
		    "memories WHERE id > $1 AND content IS NOT NULL AND "
		    "user_id IS NOT NULL AND left(content, 6) <> '$mem1$' "
		    "ORDER BY id LIMIT 100", BC_DB_P(bc_db_int64(ab, after)),
		    cause);
		if (res == NULL)
			return -1;
		n = bc_db_ntuples(res);
		for (i = 0; i < n; i++) {
			bc_db_get_int64(res, i, 0, &after);
			if (bc_db_get_int64(res, i, 1, &uid) == -1 ||
			    (sealed = mem_seal(m, uid, bc_db_get(res, i,
			    2))) == NULL)
				continue;
			if (bc_db_exec(db, "UPDATE memories SET content = $2 "
			    "WHERE id = $1 AND content = $3",
			    BC_DB_P(bc_db_get(res, i, 0), sealed,
			    bc_db_get(res, i, 2)), NULL, cause) == -1) {
				free(sealed);
				bc_db_res_free(res);
				return -1;
			}
			free(sealed);
			done++;
		}
		bc_db_res_free(res);
	} while (n == 100);
	if (done > 0)
		log_info("encrypted %d plaintext memories", done);
	return 0;
}
