/*
 * /start and registration (bots-spec.md 3.2): a known player sees the
 * profile; a new user answers two questions (conversation "reg"), the
 * request waits in game_registrations, and every admin gets Одобрить /
 * Отклонить buttons (reg_approve_<id>, reg_reject_<id>: at most 32 bytes).
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/xmalloc.h>

#include "game.h"
#include "msg.h"

/* /start payloads (deep links); part 2 adds "wordle". */
static const struct {
	const char	*payload;
	bc_cmd_fn	*fn;
} start_payloads[] = {
	{ NULL, NULL },
};

/* 1 if user has a registration waiting, 0 if not, -1. */
static int
reg_pending(struct bc_router_ctx *ctx, int64_t user)
{
	struct bc_db_res *res;
	char id[BC_DB_INT64_BUFSZ], *cause = NULL;
	int n;

	bc_db_int64(id, user);
	res = bc_db_query(ctx->db, "SELECT 1 FROM game_registrations WHERE "
	    "user_id = $1", BC_DB_P(id), &cause);
	if (res == NULL) {
		log_warnx("registration: %s", cause);
		free(cause);
		return -1;
	}
	n = bc_db_ntuples(res);
	bc_db_res_free(res);
	return n > 0;
}

int
cmd_start(struct bc_router_ctx *ctx)
{
	struct player p;
	size_t i;
	int rc;

	for (i = 0; start_payloads[i].payload != NULL; i++)
		if (strcmp(ctx->args, start_payloads[i].payload) == 0)
			return start_payloads[i].fn(ctx);
	if ((rc = player_load(ctx, ctx->user_id, 0, &p)) == -1)
		return -1;
	if (rc == 1) {
		rc = game_reply(ctx, M_PROFILE, p.name, (long long)p.size,
		    (long long)p.coins);
		player_free(&p);
		return rc;
	}
	if (!ctx->is_private)
		return game_reply(ctx, M_REG_PRIVATE);
	if ((rc = reg_pending(ctx, ctx->user_id)) == -1)
		return -1;
	if (rc == 1)
		return game_reply(ctx, M_REG_PENDING);
	if (game.nadmins == 0)
		return game_reply(ctx, M_NO_ADMINS);
	if (bc_router_conv_start(ctx, "reg", "name", NULL, 0) == -1)
		return -1;
	return game_reply(ctx, M_REG_ASK_NAME);
}

/* A one-line answer of 1..max bytes, or NULL. */
static const char *
reg_text(struct bc_router_ctx *ctx, size_t max)
{
	const char *t = ctx->msg != NULL ? ctx->msg->text : NULL;
	size_t len;

	if (t == NULL)
		return NULL;
	while (*t == ' ')
		t++;
	len = strlen(t);
	if (len == 0 || len > max || strchr(t, '\n') != NULL)
		return NULL;
	return t;
}

/* Send the request to every admin. */
static int
reg_notify(struct bc_router_ctx *ctx, const char *name, const char *how)
{
	struct bc_tg_kb *kb;
	char data[2][40], *text;
	json_t *markup;
	size_t i;
	int rc = 0;

	snprintf(data[0], sizeof data[0], "reg_approve_%" PRId64,
	    ctx->user_id);
	snprintf(data[1], sizeof data[1], "reg_reject_%" PRId64, ctx->user_id);
	xasprintf(&text, M_REG_REQUEST, (long long)ctx->user_id, name, how);
	for (i = 0; i < game.nadmins && rc == 0; i++) {
		kb = bc_tg_kb_new();
		bc_tg_kb_button(kb, M_REG_APPROVE_BTN, data[0]);
		bc_tg_kb_button(kb, M_REG_REJECT_BTN, data[1]);
		if ((markup = game_kb_finish(kb)) == NULL)
			rc = -1;
		else
			rc = bc_router_send(ctx, game.admins[i], text, 0,
			    markup);
	}
	free(text);
	return rc;
}

int
conv_reg(struct bc_router_ctx *ctx)
{
	const struct bc_conv *c = bc_router_conv(ctx);
	char id[BC_DB_INT64_BUFSZ], chat[BC_DB_INT64_BUFSZ];
	const char *t, *name;
	json_t *d;
	int rc;

	if (c == NULL)
		return -1;
	if (strcmp(c->step, "name") == 0) {
		if ((t = reg_text(ctx, GAME_NAME_MAX)) == NULL)
			return game_reply(ctx, M_REG_BAD_NAME);
		d = json_pack("{ss}", "name", t);
		rc = bc_router_conv_set(ctx, "how", d);
		json_decref(d);
		return rc == -1 ? -1 : game_reply(ctx, M_REG_ASK_HOW);
	}
	if ((t = reg_text(ctx, GAME_HOW_MAX)) == NULL)
		return game_reply(ctx, M_REG_BAD_HOW);
	name = json_string_value(json_object_get(c->data, "name"));
	if (name == NULL)
		name = "?";
	bc_db_int64(id, ctx->user_id);
	bc_db_int64(chat, ctx->chat_id);
	if (game_exec(ctx, "INSERT INTO game_registrations (user_id, name, "
	    "how, chat_id) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO "
	    "UPDATE SET name = $2, how = $3, chat_id = $4, created_at = now()",
	    BC_DB_P(id, name, t, chat)) == -1 ||
	    reg_notify(ctx, name, t) == -1)
		return -1;
	if (bc_router_conv_end(ctx) == -1)
		return -1;
	return game_reply(ctx, M_REG_SENT);
}

/* Take the request of the user in ctx->args: 1 with *name, 0 gone, -1. */
static int
reg_take(struct bc_router_ctx *ctx, int64_t *user, char **name)
{
	struct bc_db_res *res;
	char id[BC_DB_INT64_BUFSZ], *cause = NULL;
	int rc = 0;

	if (game_parse_id(ctx->args, user) == -1)
		return 0;
	bc_db_int64(id, *user);
	res = bc_db_query(ctx->db, "DELETE FROM game_registrations WHERE "
	    "user_id = $1 RETURNING name", BC_DB_P(id), &cause);
	if (res == NULL) {
		log_warnx("registration: %s", cause);
		free(cause);
		return -1;
	}
	if (bc_db_ntuples(res) == 1) {
		*name = xstrdup(bc_db_get(res, 0, 0));
		rc = 1;
	}
	bc_db_res_free(res);
	return rc;
}

/* Audit an approval or rejection. */
static int
reg_audit(struct bc_router_ctx *ctx, const char *action, int64_t user,
    const char *name)
{
	json_t *d = json_pack("{sIss}", "player", (json_int_t)user, "name",
	    name);
	int rc = bc_router_audit(ctx, action, d);

	json_decref(d);
	return rc;
}

int
cb_reg_approve(struct bc_router_ctx *ctx)
{
	char id[BC_DB_INT64_BUFSZ], *name = NULL;
	int64_t user;
	int rc;

	if ((rc = reg_take(ctx, &user, &name)) != 1)
		return rc == -1 ? -1 : game_edit(ctx, NULL, M_REG_GONE);
	bc_db_int64(id, user);
	rc = -1;
	if (game_exec(ctx, "INSERT INTO pisunchik_data (player_id, "
	    "player_name, pisunchik_size, coins, items, statuetki, "
	    "characteristics, player_stocks, chat_id, notified) SELECT "
	    "$1, $2, 0, 0, '{}', '{}', '{}', '{}', '{}', true WHERE NOT EXISTS "
	    "(SELECT 1 FROM pisunchik_data WHERE player_id = $1)",
	    BC_DB_P(id, name)) == -1 ||
	    reg_audit(ctx, "reg_approve", user, name) == -1 ||
	    game_send(ctx, user, M_REG_WELCOME, name) == -1)
		goto fail;
	rc = game_edit(ctx, NULL, M_REG_APPROVED_ADMIN, (long long)user, name);
fail:
	free(name);
	return rc;
}

int
cb_reg_reject(struct bc_router_ctx *ctx)
{
	char *name = NULL;
	int64_t user;
	int rc;

	if ((rc = reg_take(ctx, &user, &name)) != 1)
		return rc == -1 ? -1 : game_edit(ctx, NULL, M_REG_GONE);
	rc = -1;
	if (reg_audit(ctx, "reg_reject", user, name) == -1 ||
	    game_send(ctx, user, M_REG_REJECTED) == -1)
		goto fail;
	rc = game_edit(ctx, NULL, M_REG_REJECTED_ADMIN, (long long)user, name);
fail:
	free(name);
	return rc;
}
