/*
 * btc: the Bitcoin price bot (the original's scripts/btc.py).
 *
 *   /start                  the commands
 *   /price                  the price; the message is edited as the price
 *                           moves, for [btc] live_for
 *   /set_check_btc_price [USD]   an alert (asks for the price without one)
 *   /list_alerts            the chat's alerts
 *   /delete_alert [N]       delete alert N (a keyboard without N)
 *
 * Alerts fire once, when the price comes within [btc] tolerance of the
 * target or crosses it, and are then removed. Every [btc]
 * announce_interval the $[btc] announce_step multiples crossed since the
 * last look are announced in [btc] announce_chat_id.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/bot.h>
#include <botcommon/buf.h>
#include <botcommon/conf.h>
#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/router.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "btc.h"

#define CONV_TARGET	"target"
#define CONV_TTL_MS	(15 * 60 * 1000)
#define CB_DELETE	"del:"

struct btc btc_state;

static int
btc_dberr(const char *what, char *cause)
{
	log_warnx("%s: %s", what, cause);
	free(cause);
	return -1;
}

static int
cmd_start(struct bc_router_ctx *ctx)
{
	return bc_router_reply(ctx, btc_texts.start, 0, NULL);
}

/* /price: queue the chat's live message; the jobs send it. */
static int
cmd_price(struct bc_router_ctx *ctx)
{
	struct btc *b = ctx->arg;
	char chat[BC_DB_INT64_BUFSZ], live[BC_DB_INT64_BUFSZ], *cause = NULL;

	bc_db_int64(chat, ctx->chat_id);
	bc_db_int64(live, b->c.live_for_ms);
	if (bc_db_exec(ctx->db, "INSERT INTO btc_live (chat_id, until) VALUES "
	    "($1, now() + $2::bigint * interval '1 ms') ON CONFLICT (chat_id) "
	    "DO UPDATE SET gen = btc_live.gen + 1, message_id = NULL, "
	    "shown_cents = NULL, edited_at = NULL, requested_at = now(), "
	    "until = EXCLUDED.until", BC_DB_P(chat, live), NULL,
	    &cause) == -1)
		return btc_dberr("price", cause);
	btc_jobs_kick(b);
	return 0;
}

/* The number of alerts in the chat, or -1. */
static int64_t
alerts_count(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char chat[BC_DB_INT64_BUFSZ], *cause = NULL;
	int64_t n = -1;

	bc_db_int64(chat, ctx->chat_id);
	res = bc_db_query(ctx->db, "SELECT count(*) FROM btc_alerts WHERE "
	    "chat_id = $1", BC_DB_P(chat), &cause);
	if (res == NULL)
		return btc_dberr("alerts", cause);
	bc_db_get_int64(res, 0, 0, &n);
	bc_db_res_free(res);
	return n;
}

/* Reply "too many" and return 1 when the chat is full; -1 on error. */
static int
alerts_full(struct bc_router_ctx *ctx)
{
	struct btc *b = ctx->arg;
	char max[24], *text;
	int64_t n;
	int rc;

	if ((n = alerts_count(ctx)) == -1)
		return -1;
	if (n < b->c.max_alerts)
		return 0;
	snprintf(max, sizeof max, "%lld", b->c.max_alerts);
	text = bc_tmpl(btc_texts.too_many, "max", max, NULL);
	rc = bc_router_reply(ctx, text, 0, NULL);
	free(text);
	return rc == -1 ? -1 : 1;
}

/* Store an alert for target and confirm it. */
static int
alerts_add(struct bc_router_ctx *ctx, int64_t target)
{
	struct btc *b = ctx->arg;
	char chat[BC_DB_INT64_BUFSZ], user[BC_DB_INT64_BUFSZ];
	char t[BC_DB_INT64_BUFSZ], p[BC_DB_INT64_BUFSZ];
	char ts[32], tol[32], *text, *cause = NULL;
	int rc;

	bc_db_int64(chat, ctx->chat_id);
	bc_db_int64(user, ctx->user_id);
	bc_db_int64(t, target);
	/* The side of the target we start from: the last price known. */
	bc_db_int64(p, b->price_cents);
	if (bc_db_exec(ctx->db, "INSERT INTO btc_alerts (chat_id, user_id, "
	    "target_cents, set_price_cents) VALUES ($1, $2, $3, $4)",
	    BC_DB_P(chat, user, t, b->price_at != 0 ? p : NULL), NULL,
	    &cause) == -1)
		return btc_dberr("alerts", cause);
	btc_fmt_usd(ts, sizeof ts, target, 1);
	btc_fmt_usd(tol, sizeof tol, b->c.tolerance_cents, 0);
	text = bc_tmpl(btc_texts.alert_set, "target", ts, "tolerance", tol,
	    NULL);
	rc = bc_router_reply(ctx, text, 0, NULL);
	free(text);
	return rc;
}

/* /set_check_btc_price [USD] */
static int
cmd_set(struct bc_router_ctx *ctx)
{
	int64_t target;
	int full;

	if ((full = alerts_full(ctx)) != 0)
		return full == 1 ? 0 : -1;
	if (*ctx->args != '\0') {
		if (btc_parse_usd(ctx->args, &target) == -1)
			return bc_router_reply(ctx, btc_texts.bad_target, 0,
			    NULL);
		return alerts_add(ctx, target);
	}
	if (bc_router_conv_start(ctx, CONV_TARGET, "", NULL,
	    CONV_TTL_MS) == -1)
		return -1;
	return bc_router_reply(ctx, btc_texts.ask_target, 0, NULL);
}

/* The message after /set_check_btc_price: a price, or try again. */
static int
conv_target(struct bc_router_ctx *ctx)
{
	const char *text = ctx->msg != NULL ? ctx->msg->text : NULL;
	int64_t target;
	int full;

	if (text == NULL || btc_parse_usd(text, &target) == -1)
		return bc_router_reply(ctx, btc_texts.bad_target, 0, NULL);
	if (bc_router_conv_end(ctx) == -1)
		return -1;
	if ((full = alerts_full(ctx)) != 0)
		return full == 1 ? 0 : -1;
	return alerts_add(ctx, target);
}

/* The chat's alerts, oldest first (caller frees), or NULL. */
static struct bc_db_res *
alerts_list(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char chat[BC_DB_INT64_BUFSZ], *cause = NULL;

	bc_db_int64(chat, ctx->chat_id);
	res = bc_db_query(ctx->db, "SELECT id, target_cents FROM btc_alerts "
	    "WHERE chat_id = $1 ORDER BY id", BC_DB_P(chat), &cause);
	if (res == NULL)
		btc_dberr("alerts", cause);
	return res;
}

static int
cmd_list(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	struct bc_buf out = BC_BUF_ZERO;
	char ts[32], *line, *text;
	int i, rc;

	if ((res = alerts_list(ctx)) == NULL)
		return -1;
	if (bc_db_ntuples(res) == 0) {
		bc_db_res_free(res);
		return bc_router_reply(ctx, btc_texts.list_empty, 0, NULL);
	}
	bc_buf_str(&out, btc_texts.list_head);
	for (i = 0; i < bc_db_ntuples(res); i++) {
		int64_t t = 0;

		bc_db_get_int64(res, i, 1, &t);
		btc_fmt_usd(ts, sizeof ts, t, 1);
		line = bc_tmpl(btc_texts.list_item, "id", bc_db_get(res, i, 0),
		    "target", ts, NULL);
		bc_buf_printf(&out, "\n%s", line);
		free(line);
	}
	bc_db_res_free(res);
	text = bc_buf_detach(&out);
	rc = bc_router_reply(ctx, text, 0, NULL);
	free(text);
	return rc;
}

/* An alert id from a user or from callback data: 1 to 18 digits. */
static int
alert_id_parse(const char *s, int64_t *id)
{
	size_t n;

	while (*s == '#')
		s++;
	n = strspn(s, "0123456789");
	if (n == 0 || n > 18 || s[n] != '\0')
		return -1;
	*id = strtoll(s, NULL, 10);
	return *id > 0 ? 0 : -1;
}

/* Delete alert id of this chat; the reply text (caller frees). */
static int
alert_delete(struct bc_router_ctx *ctx, int64_t id, char **text)
{
	struct bc_db_res *res;
	char chat[BC_DB_INT64_BUFSZ], sid[BC_DB_INT64_BUFSZ], ts[32];
	char *cause = NULL;
	int64_t t;

	bc_db_int64(chat, ctx->chat_id);
	bc_db_int64(sid, id);
	res = bc_db_query(ctx->db, "DELETE FROM btc_alerts WHERE id = $1 AND "
	    "chat_id = $2 RETURNING target_cents", BC_DB_P(sid, chat),
	    &cause);
	if (res == NULL)
		return btc_dberr("alerts", cause);
	if (bc_db_get_int64(res, 0, 0, &t) == 0) {
		btc_fmt_usd(ts, sizeof ts, t, 1);
		*text = bc_tmpl(btc_texts.delete_done, "id", sid, "target", ts,
		    NULL);
	} else
		*text = bc_tmpl(btc_texts.delete_none, "id", sid, NULL);
	bc_db_res_free(res);
	return 0;
}

/* A keyboard with one button per alert. */
static int
delete_keyboard(struct bc_router_ctx *ctx, struct bc_db_res *res)
{
	struct bc_tg_kb *kb = bc_tg_kb_new();
	char ts[32], data[40], *label, *cause = NULL;
	json_t *markup;
	int i;

	for (i = 0; i < bc_db_ntuples(res); i++) {
		int64_t t = 0;

		bc_db_get_int64(res, i, 1, &t);
		btc_fmt_usd(ts, sizeof ts, t, 1);
		label = bc_tmpl(btc_texts.delete_button, "id",
		    bc_db_get(res, i, 0), "target", ts, NULL);
		snprintf(data, sizeof data, CB_DELETE "%s",
		    bc_db_get(res, i, 0));
		bc_tg_kb_button(kb, label, data);
		bc_tg_kb_row(kb);
		free(label);
	}
	if ((markup = bc_tg_kb_finish(kb, &cause)) == NULL)
		return btc_dberr("keyboard", cause);
	return bc_router_reply(ctx, btc_texts.delete_choose, 0, markup);
}

/* /delete_alert [N] */
static int
cmd_delete(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char *text = NULL;
	int64_t id;
	int rc;

	if (*ctx->args != '\0') {
		if (alert_id_parse(ctx->args, &id) == -1)
			return bc_router_reply(ctx, btc_texts.delete_usage, 0,
			    NULL);
		if (alert_delete(ctx, id, &text) == -1)
			return -1;
		rc = bc_router_reply(ctx, text, 0, NULL);
		free(text);
		return rc;
	}
	if ((res = alerts_list(ctx)) == NULL)
		return -1;
	if (bc_db_ntuples(res) == 0)
		rc = bc_router_reply(ctx, btc_texts.list_empty, 0, NULL);
	else
		rc = delete_keyboard(ctx, res);
	bc_db_res_free(res);
	return rc;
}

/* A press on a delete button: delete, and say so in that message. */
static int
cb_delete(struct bc_router_ctx *ctx)
{
	json_t *params;
	char *text = NULL;
	int64_t id;

	if (alert_id_parse(ctx->args, &id) == -1)
		return bc_router_answer(ctx, btc_texts.delete_usage, 1);
	if (alert_delete(ctx, id, &text) == -1)
		return -1;
	if (ctx->msg == NULL || ctx->msg->message_id == 0) {
		free(text);
		return bc_router_answer(ctx, NULL, 0);
	}
	params = json_pack("{sI sI ss}", "chat_id", (json_int_t)ctx->chat_id,
	    "message_id", (json_int_t)ctx->msg->message_id, "text", text);
	free(text);
	if (params == NULL)
		return -1;
	if (bc_router_call(ctx, "editMessageText", params, 0) == -1)
		return -1;
	return bc_router_answer(ctx, NULL, 0);
}

/* Durations and numbers of [btc]. */
static int
btc_conf_numbers(struct bc_conf *cf, struct btc_conf *c, char **cause)
{
	long long tol, step, chat;

	if (bc_conf_duration(cf, "btc", "cache", 60000, &c->cache_ms,
	    cause) == -1 ||
	    bc_conf_duration(cf, "btc", "check_interval", 60000, &c->check_ms,
	    cause) == -1 ||
	    bc_conf_duration(cf, "btc", "live_for", 3600000, &c->live_for_ms,
	    cause) == -1 ||
	    bc_conf_duration(cf, "btc", "announce_interval", 300000,
	    &c->announce_ms, cause) == -1 ||
	    bc_conf_duration(cf, "btc", "source_backoff", 30000,
	    &c->source_backoff_ms, cause) == -1 ||
	    bc_conf_duration(cf, "btc", "request_timeout", 10000,
	    &c->timeout_ms, cause) == -1 ||
	    bc_conf_int(cf, "btc", "tolerance", 100, 0, 1000000, &tol,
	    cause) == -1 ||
	    bc_conf_int(cf, "btc", "announce_step", 500, 1, 1000000, &step,
	    cause) == -1 ||
	    bc_conf_int(cf, "btc", "max_alerts", 20, 1, 1000, &c->max_alerts,
	    cause) == -1 ||
	    bc_conf_int(cf, "btc", "announce_chat_id", 0, INT64_MIN,
	    INT64_MAX, &chat, cause) == -1)
		return -1;
	if (c->check_ms < 100 || c->announce_ms < 100 ||
	    c->source_backoff_ms < 100 || c->timeout_ms < 100) {
		xasprintf(cause, "%s: [btc] check_interval, announce_interval, "
		    "source_backoff and request_timeout must be at least "
		    "100ms", bc_conf_path(cf));
		return -1;
	}
	c->tolerance_cents = tol * 100;
	c->step_cents = step * 100;
	c->announce_chat = chat;
	return 0;
}

static int
btc_configure(struct bc_bot_env *env, char **cause)
{
	struct btc *b = env->arg;

	b->env = env;
	if (btc_conf_numbers(env->conf, &b->c, cause) == -1)
		return -1;
	return btc_price_configure(b, cause);
}

static int
btc_setup(struct bc_bot_env *env, char **cause)
{
	struct btc *b = env->arg;

	b->env = env;
	return btc_jobs_start(b, cause);
}

static void
btc_teardown(struct bc_bot_env *env)
{
	struct btc *b = env->arg;
	size_t i;

	btc_jobs_stop(b);
	for (i = 0; i < b->c.nkeys; i++)
		free(b->c.keys[i]);
	free(b->c.keys);
	free(b->key_bad_until);
	memset(b, 0, sizeof *b);
}

static const struct bc_cmd_entry btc_cmds[] = {
	{ "start", { "help", NULL }, BC_CMD_ANY, 0, 0, 0, NULL, cmd_start },
	{ "price", { NULL }, BC_CMD_ANY, 0, 6, 0, NULL, cmd_price },
	{ "set_check_btc_price", { NULL }, BC_CMD_ANY, 0, 20, 0, "[USD]",
	    cmd_set },
	{ "list_alerts", { NULL }, BC_CMD_ANY, 0, 20, 0, NULL, cmd_list },
	{ "delete_alert", { NULL }, BC_CMD_ANY, 0, 30, 0, "[N]", cmd_delete },
};

static const struct bc_cb_entry btc_cbs[] = {
	{ CB_DELETE, 0, cb_delete },
};

static const struct bc_conv_entry btc_convs[] = {
	{ CONV_TARGET, conv_target },
};

int
main(int argc, char **argv)
{
	struct bc_router_texts texts = { NULL };
	struct bc_bot bot = {
		.name = "btc",
		.cmds = btc_cmds,
		.ncmds = BC_NELEM(btc_cmds),
		.cbs = btc_cbs,
		.ncbs = BC_NELEM(btc_cbs),
		.convs = btc_convs,
		.nconvs = BC_NELEM(btc_convs),
		.configure = btc_configure,
		.setup = btc_setup,
		.teardown = btc_teardown,
		.arg = &btc_state,
	};

	texts.unknown = btc_texts.unknown;
	texts.error = btc_texts.error;
	texts.wait = btc_texts.wait;
	texts.cancelled = btc_texts.cancelled;
	texts.nothing_to_cancel = btc_texts.nothing_to_cancel;
	bot.texts = &texts;
	return bc_bot_run(argc, argv, &bot);
}
