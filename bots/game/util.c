/*
 * Small helpers of the handlers: formatted replies, number parsing,
 * statements whose rows are not needed, and single-use confirmations.
 */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "game.h"

/* The text of fmt as a reply, with the inline keyboard kb (stolen). */
static int
game_vreply(struct bc_router_ctx *ctx, json_t *kb, const char *fmt,
    va_list ap)
{
	char *s;
	int rc;

	xvasprintf(&s, fmt, ap);
	rc = bc_router_reply(ctx, s, 0, kb);
	free(s);
	return rc;
}

int
game_reply(struct bc_router_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = game_vreply(ctx, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

/* Reply with an inline keyboard (kb stolen; NULL: none). */
int
game_replykb(struct bc_router_ctx *ctx, json_t *kb, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = game_vreply(ctx, kb, fmt, ap);
	va_end(ap);
	return rc;
}

int
game_send(struct bc_router_ctx *ctx, int64_t chat, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int rc;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	rc = bc_router_send(ctx, chat, s, 0, NULL);
	free(s);
	return rc;
}

/*
 * Edit the message whose button was pressed (kb stolen; NULL removes the
 * keyboard); outside a callback, reply instead.
 */
int
game_edit(struct bc_router_ctx *ctx, json_t *kb, const char *fmt, ...)
{
	va_list ap;
	json_t *p;
	char *s;
	int rc;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	if (ctx->msg == NULL || ctx->u == NULL ||
	    ctx->u->type != BC_TG_UPDATE_CALLBACK_QUERY) {
		rc = bc_router_reply(ctx, s, 0, kb);
		free(s);
		return rc;
	}
	p = json_pack("{sIsIss}", "chat_id", (json_int_t)ctx->chat_id,
	    "message_id", (json_int_t)ctx->msg->message_id, "text", s);
	if (kb != NULL)
		json_object_set_new(p, "reply_markup", kb);
	free(s);
	return bc_router_call(ctx, "editMessageText", p, 0);
}

/* Answer the callback with an alert. */
int
game_alert(struct bc_router_ctx *ctx, const char *text)
{
	if (ctx->u == NULL || ctx->u->type != BC_TG_UPDATE_CALLBACK_QUERY)
		return bc_router_reply(ctx, text, 0, NULL);
	bc_router_answer(ctx, text, 1);
	return 0;
}

/*
 * Parse a whole decimal integer (optional sign, surrounding blanks) in
 * [lo, hi]. 0, or -1 for anything else.
 */
int
game_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	const char *p;
	char *end;
	long long v;

	if (s == NULL)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	p = s;
	if (*p == '+' || *p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* A positive Telegram id from callback data. */
int
game_parse_id(const char *s, int64_t *out)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isdigit((unsigned char)s[i]))
			return -1;
	if (i == 0 || i > 18)
		return -1;
	return game_parse_int(s, 1, INT64_MAX, out);
}

/*
 * Split "N<sep>rest": *first = N (digits only), returns rest, or NULL
 * when s does not have that shape.
 */
const char *
game_arg_split(const char *s, char sep, int64_t *first)
{
	const char *p = strchr(s, sep);
	char buf[24];

	if (p == NULL || (size_t)(p - s) >= sizeof buf)
		return NULL;
	memcpy(buf, s, (size_t)(p - s));
	buf[p - s] = '\0';
	if (game_parse_id(buf, first) == -1)
		return NULL;
	return p + 1;
}

/* Run a statement in the update's transaction; 0 or -1 (logged). */
int
game_exec(struct bc_router_ctx *ctx, const char *sql, int n,
    const char *const *p)
{
	char *cause = NULL;

	if (bc_db_exec(ctx->db, sql, n, p, NULL, &cause) == -1) {
		log_warnx("game: %s", cause);
		free(cause);
		return -1;
	}
	return 0;
}

/*
 * "Hч Mм Sс" for a duration, rounded down to whole seconds: the original
 * printed the timedelta left ("23:59:59.51"), never rounding it up.
 */
void
game_fmt_left(char *buf, size_t sz, int64_t ms)
{
	int64_t s = ms < 0 ? 0 : ms / 1000;

	snprintf(buf, sz, "%" PRId64 "ч %" PRId64 "м %" PRId64 "с",
	    s / 3600, s / 60 % 60, s % 60);
}

/*
 * The game's clock, ms since the epoch: the wall clock, or for tests the
 * seconds since the epoch written in the file $GAME_CLOCK_FILE names (read
 * at every call, so a test moves it by rewriting the file).
 */
int64_t
game_now_ms(void)
{
	const char *path = getenv("GAME_CLOCK_FILE");
	char buf[32];
	long long v;
	char *end;
	FILE *f;
	size_t n;

	if (path == NULL || *path == '\0' || (f = fopen(path, "re")) == NULL)
		return bc_wall_ms();
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (end == buf || errno != 0 || v < 0 || v > 32503680000LL)
		return bc_wall_ms();
	return (int64_t)v * 1000;
}

/* Finish a keyboard built from our own (valid) data. */
json_t *
game_kb_finish(struct bc_tg_kb *kb)
{
	char *cause = NULL;
	json_t *j;

	if ((j = bc_tg_kb_finish(kb, &cause)) == NULL) {
		log_warnx("keyboard: %s", cause);
		free(cause);
	}
	return j;
}

/*
 * A single-use confirmation for the context's user: a game_pending row.
 * Its id goes into the confirm button; the press consumes it with
 * game_pending_take() in its transaction, so a double tap or a second
 * button press finds nothing. Returns the id, or -1.
 */
int64_t
game_pending_new(struct bc_router_ctx *ctx, const char *kind,
    const char *key, int64_t price)
{
	struct bc_db_res *res;
	char uid[BC_DB_INT64_BUFSZ], pr[BC_DB_INT64_BUFSZ], *cause = NULL;
	int64_t id = -1;

	bc_db_int64(uid, ctx->user_id);
	bc_db_int64(pr, price);
	res = bc_db_query(ctx->db, "INSERT INTO game_pending (user_id, kind, "
	    "key, price) VALUES ($1, $2, $3, $4) RETURNING id",
	    BC_DB_P(uid, kind, key, pr), &cause);
	if (res == NULL) {
		log_warnx("pending: %s", cause);
		free(cause);
		return -1;
	}
	if (bc_db_get_int64(res, 0, 0, &id) == -1)
		id = -1;
	bc_db_res_free(res);
	return id;
}

/*
 * Consume pending row id of this user and kind (NULL: any kind), younger
 * than a day.
 * 1 with *key (caller frees) and *price, 0 when there is none, -1.
 */
int
game_pending_take(struct bc_router_ctx *ctx, int64_t id, const char *kind,
    char **key, int64_t *price)
{
	struct bc_db_res *res;
	char uid[BC_DB_INT64_BUFSZ], ids[BC_DB_INT64_BUFSZ], *cause = NULL;
	int rc = 0;

	bc_db_int64(uid, ctx->user_id);
	bc_db_int64(ids, id);
	res = bc_db_query(ctx->db, "DELETE FROM game_pending WHERE id = $1 "
	    "AND user_id = $2 AND ($3::text IS NULL OR kind = $3) AND "
	    "created_at > now() - "
	    "interval '1 day' RETURNING key, price",
	    BC_DB_P(ids, uid, kind), &cause);
	if (res == NULL) {
		log_warnx("pending: %s", cause);
		free(cause);
		return -1;
	}
	if (bc_db_ntuples(res) == 1 &&
	    bc_db_get_int64(res, 0, 1, price) == 0) {
		*key = xstrdup(bc_db_get(res, 0, 0));
		rc = 1;
	}
	bc_db_res_free(res);
	return rc;
}

/* Append src to dst (size sz), truncating; the length wanted. */
size_t
game_cat(char *dst, const char *src, size_t sz)
{
	size_t len = strnlen(dst, sz);

	if (len == sz)
		return len + strlen(src);
	return len + bc_strlcpy(dst + len, src, sz - len);
}
