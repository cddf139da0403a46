/*
 * echobot: the smallest real bot on libbotcommon, used by the integration
 * tests and the benchmark. Every text message is answered with
 * "echo N: TEXT", N being how many messages that user has sent, and one
 * row per message goes into echo_log: the database effect whose
 * exactly-once application the tests check.
 *
 *   /start   greeting
 *   /ping    "pong"
 *   /count   how many messages you have sent
 */

#include <stdio.h>
#include <stdlib.h>

#include <botcommon/bot.h>
#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

/* Count the message and return the user's new total, or -1. */
static int64_t
echo_count(struct bc_router_ctx *ctx, const char *text)
{
	struct bc_db_res *res;
	char uid[BC_DB_INT64_BUFSZ], chat[BC_DB_INT64_BUFSZ];
	char upd[BC_DB_INT64_BUFSZ], *cause = NULL;
	int64_t n = -1;

	bc_db_int64(uid, ctx->user_id);
	bc_db_int64(chat, ctx->chat_id);
	bc_db_int64(upd, ctx->u->update_id);
	res = bc_db_query(ctx->db,
	    "WITH c AS (INSERT INTO echo_counts (user_id, n) VALUES ($1, 1) "
	    "ON CONFLICT (user_id) DO UPDATE SET n = echo_counts.n + 1 "
	    "RETURNING n), l AS (INSERT INTO echo_log (update_id, user_id, "
	    "chat_id, text) VALUES ($3, $1, $2, $4)) SELECT n FROM c",
	    BC_DB_P(uid, chat, upd, text), &cause);
	if (res == NULL) {
		log_warnx("echo: %s", cause);
		free(cause);
		return -1;
	}
	if (bc_db_get_int64(res, 0, 0, &n) == -1)
		n = -1;
	bc_db_res_free(res);
	return n;
}

static int
echo_message(struct bc_router_ctx *ctx)
{
	const char *text = ctx->msg != NULL ? ctx->msg->text : NULL;
	char *reply;
	int64_t n;
	int rc;

	if (text == NULL)
		return 0;	/* stickers, photos: nothing to echo */
	if ((n = echo_count(ctx, text)) == -1)
		return -1;
	xasprintf(&reply, "echo %lld: %s", (long long)n, text);
	rc = bc_router_reply(ctx, reply, 0, NULL);
	free(reply);
	return rc;
}

static int
cmd_start(struct bc_router_ctx *ctx)
{
	return bc_router_reply(ctx, "Hi! Send me anything and I will echo "
	    "it. /ping, /count.", 0, NULL);
}

static int
cmd_ping(struct bc_router_ctx *ctx)
{
	return bc_router_reply(ctx, "pong", 0, NULL);
}

static int
cmd_count(struct bc_router_ctx *ctx)
{
	char uid[BC_DB_INT64_BUFSZ], *cause = NULL, *reply;
	struct bc_db_res *res;
	int64_t n = 0;
	int rc;

	bc_db_int64(uid, ctx->user_id);
	res = bc_db_query(ctx->db, "SELECT n FROM echo_counts WHERE "
	    "user_id = $1", BC_DB_P(uid), &cause);
	if (res == NULL) {
		log_warnx("count: %s", cause);
		free(cause);
		return -1;
	}
	if (bc_db_ntuples(res) == 1)
		bc_db_get_int64(res, 0, 0, &n);
	bc_db_res_free(res);
	xasprintf(&reply, "you sent %lld messages", (long long)n);
	rc = bc_router_reply(ctx, reply, 0, NULL);
	free(reply);
	return rc;
}

/* The bot's own tables: a test bot keeps them out of sql/. */
static int
echo_setup(struct bc_bot_env *env, char **cause)
{
	if (bc_db_exec(env->db, "CREATE TABLE IF NOT EXISTS echo_counts ("
	    "user_id bigint PRIMARY KEY, n bigint NOT NULL)", 0, NULL, NULL,
	    cause) == -1)
		return -1;
	return bc_db_exec(env->db, "CREATE TABLE IF NOT EXISTS echo_log ("
	    "update_id bigint NOT NULL, user_id bigint NOT NULL, chat_id "
	    "bigint NOT NULL, text text NOT NULL, at timestamptz NOT NULL "
	    "DEFAULT now())", 0, NULL, NULL, cause);
}

static const struct bc_cmd_entry echo_cmds[] = {
	{ "start", { NULL }, BC_CMD_ANY, 0, 0, 0, NULL, cmd_start },
	{ "ping", { NULL }, BC_CMD_ANY, 0, 0, 0, NULL, cmd_ping },
	{ "count", { NULL }, BC_CMD_ANY, 0, 0, 0, NULL, cmd_count },
};

static const struct bc_bot echobot = {
	.name = "echo",
	.cmds = echo_cmds,
	.ncmds = BC_NELEM(echo_cmds),
	.on_message = echo_message,
	.setup = echo_setup,
};

int
main(int argc, char **argv)
{
	return bc_bot_run(argc, argv, &echobot);
}
