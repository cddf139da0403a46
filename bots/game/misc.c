/*
 * The small commands of bots-spec.md 3.4 (/new, /anekdot, /peremoga,
 * /zrada, /prosipaisya, /help), the "Бот, ..." canned replies, and the
 * capture of every plain text message into messages (3.13).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/tg.h>
#include <botcommon/xmalloc.h>

#include "game.h"
#include "msg.h"

#define NEWS_MAX	16384
#define BOT_PREFIX	"Бот,"

int
cmd_new(struct bc_router_ctx *ctx)
{
	char buf[NEWS_MAX + 1];
	size_t len = 0;
	FILE *f;

	if (game.news_file != NULL && (f = fopen(game.news_file, "r")) != NULL) {
		len = fread(buf, 1, NEWS_MAX, f);
		fclose(f);
	}
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (len == 0 || strlen(buf) != len)
		return game_reply(ctx, M_NEW_NONE);
	return bc_router_reply(ctx, buf, BC_TG_HTML, NULL);
}

/* Draws: the joke's index. */
int
cmd_joke(struct bc_router_ctx *ctx)
{
	return game_reply(ctx, "%s", jokes[rng_range(0, (int64_t)njokes - 1)]);
}

static int
repeat(struct bc_router_ctx *ctx, const char *text, int n, int flags)
{
	int i;

	for (i = 0; i < n; i++)
		if (bc_router_reply(ctx, text, flags, NULL) == -1)
			return -1;
	return 0;
}

int
cmd_peremoga(struct bc_router_ctx *ctx)
{
	return repeat(ctx, M_PEREMOGA, 5, 0);
}

int
cmd_zrada(struct bc_router_ctx *ctx)
{
	return repeat(ctx, M_ZRADA, 5, 0);
}

int
cmd_prosipaisya(struct bc_router_ctx *ctx)
{
	char *name, *text;
	int rc;

	if (game.prosipaisya_id == 0)
		return game_reply(ctx, M_PROSIP_NONE);
	name = bc_tg_html_escape(game.prosipaisya_name);
	xasprintf(&text, M_PROSIPAISYA, (long long)game.prosipaisya_id, name);
	rc = repeat(ctx, text, 4, BC_TG_HTML);
	free(text);
	free(name);
	return rc;
}

int
cmd_help(struct bc_router_ctx *ctx)
{
	char *h = bc_router_help(ctx->router, ctx->is_admin, ctx->is_private);
	int rc = game_reply(ctx, "%s", h);

	free(h);
	return rc;
}

/* Store a plain text message (the chat included). */
static int
capture(struct bc_router_ctx *ctx)
{
	const struct bc_tg_message *m = ctx->msg;
	char uid[BC_DB_INT64_BUFSZ], date[BC_DB_INT64_BUFSZ];
	char mid[BC_DB_INT64_BUFSZ], rt[BC_DB_INT64_BUFSZ];
	char chat[BC_DB_INT64_BUFSZ];

	bc_db_int64(uid, ctx->user_id);
	bc_db_int64(date, m->date);
	bc_db_int64(mid, m->message_id);
	bc_db_int64(rt, m->reply_to_message_id);
	bc_db_int64(chat, ctx->chat_id);
	if (game_exec(ctx, "INSERT INTO messages (user_id, message_text, "
	    "\"timestamp\", name, message_id, reply_to_message_id, chat_id) "
	    "VALUES ($1, $2, to_timestamp($3::bigint) AT TIME ZONE 'UTC', $4, "
	    "$5, nullif($6::bigint, 0), $7)", BC_DB_P(uid, m->text, date,
	    m->from.first_name, mid, rt, chat)) == -1)
		return -1;
	return player_note_chat(ctx, ctx->user_id, ctx->chat_id);
}

/* "Бот, <phrase>": a canned answer, the list, or "?". */
static int
canned_reply(struct bc_router_ctx *ctx, const char *q)
{
	char *list = xstrdup(""), *tmp;
	size_t i, len;
	int rc;

	while (*q == ' ')
		q++;
	len = strlen(q);
	while (len > 0 && strchr("?!. ", q[len - 1]) != NULL)
		len--;
	for (i = 0; i < ncanned; i++)
		if (strlen(canned[i].phrase) == len &&
		    strncmp(canned[i].phrase, q, len) == 0) {
			free(list);
			return game_reply(ctx, "%s", canned[i].answer);
		}
	if (len != strlen("расскажи что ты можешь") ||
	    strncmp(q, "расскажи что ты можешь", len) != 0) {
		free(list);
		return game_reply(ctx, M_BOT_UNKNOWN);
	}
	for (i = 0; i < ncanned; i++) {
		xasprintf(&tmp, "%s• %s\n", list, canned[i].phrase);
		free(list);
		list = tmp;
	}
	rc = game_reply(ctx, "%s", list);
	free(list);
	return rc;
}

int
game_on_message(struct bc_router_ctx *ctx)
{
	const char *t;

	if (ctx->msg == NULL || (t = ctx->msg->text) == NULL ||
	    ctx->user_id == 0 || ctx->msg->from.is_bot)
		return 0;
	if (capture(ctx) == -1)
		return -1;
	if (strncmp(t, BOT_PREFIX, strlen(BOT_PREFIX)) == 0)
		return canned_reply(ctx, t + strlen(BOT_PREFIX));
	return 0;
}
