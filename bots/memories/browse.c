/*
 * memories: reading the diary. /memories shows cards with an inline
 * keyboard (callback data "nav_first", "nav_prev:<i>", "nav_next:<i>",
 * "nav_last", "mem_stats", "mem_close"; i is the card shown, from 0),
 * /review the same cards with a reply keyboard and /next, /prev, /first,
 * /last, /close, /stats the counts, /backup a .txt document. All need the
 * diary open (see mem_gate()); a button pressed after the session expired
 * only gets an alert.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/tg.h>
#include <botcommon/xmalloc.h>

#include "memories.h"
#include "msg.h"

struct counts {
	long long	 total, weekly, extra;
	time_t		 first, last;
	char		 zone[MEM_ZONE_MAX + 1];
};

/* The user's counts, first and last dates, and time zone. */
static int
browse_counts(struct bc_router_ctx *ctx, struct counts *c)
{
	char ub[BC_DB_INT64_BUFSZ], *cause = NULL;
	struct bc_db_res *res;
	int64_t v[5] = { 0, 0, 0, 0, 0 };
	const char *zone;
	int i;

	res = bc_db_query(ctx->db, "SELECT count(*), count(*) FILTER (WHERE "
	    "memory_type = 'weekly'), count(*) FILTER (WHERE memory_type = "
	    "'extra'), extract(epoch FROM min(created_at))::bigint, "
	    "extract(epoch FROM max(created_at))::bigint, (SELECT timezone "
	    "FROM memories_users WHERE user_id = $1) FROM memories WHERE "
	    "user_id = $1", BC_DB_P(bc_db_int64(ub, ctx->user_id)), &cause);
	if (res == NULL)
		return mem_fail("counts", cause);
	for (i = 0; i < 5; i++)
		bc_db_get_int64(res, 0, i, &v[i]);
	c->total = v[0];
	c->weekly = v[1];
	c->extra = v[2];
	c->first = (time_t)v[3];
	c->last = (time_t)v[4];
	zone = bc_db_get(res, 0, 5);
	snprintf(c->zone, sizeof c->zone, "%s", zone != NULL &&
	    mem_zone_ok(zone) ? zone : "UTC");
	bc_db_res_free(res);
	return 0;
}

/* "dd.mm.yyyy" from "yyyy-mm-dd" (or the input as it is). */
static void
browse_dmy(const char *ymd, char out[16])
{
	if (ymd != NULL && strlen(ymd) == 10 && ymd[4] == '-')
		snprintf(out, 16, "%.2s.%.2s.%.4s", ymd + 8, ymd + 5, ymd);
	else
		snprintf(out, 16, "%s", ymd != NULL ? ymd : "?");
}

/* The card of row 0 of res (HTML). Caller frees. */
static char *
browse_card_text(struct bc_router_ctx *ctx, struct bc_db_res *res,
    const struct counts *c, int64_t index)
{
	char when[32], dmy[16], *week = NULL, *plain, *cut, *esc, *text;
	const char *type = bc_db_get(res, 0, 2);
	int64_t wk, at = 0;
	size_t len;

	if (bc_db_get_int64(res, 0, 3, &wk) == 0) {
		browse_dmy(bc_db_get(res, 0, 4), dmy);
		xasprintf(&week, MSG_CARD_WEEK, (long long)wk, dmy);
	}
	bc_db_get_int64(res, 0, 5, &at);
	mem_fmt_date((time_t)at, c->zone, when, 1);
	plain = mem_open(ctx->arg, ctx->user_id, bc_db_get(res, 0, 1));
	if (plain == NULL)
		plain = xstrdup(MSG_UNREADABLE);
	len = strlen(plain);
	cut = mem_truncate16(plain, MEM_CARD_MAX);
	esc = bc_tg_html_escape(cut);
	xasprintf(&text, MSG_CARD "%s", (long long)index + 1, c->total,
	    type != NULL && strcmp(type, "weekly") == 0 ? MSG_TYPE_WEEKLY :
	    MSG_TYPE_EXTRA, week != NULL ? week : "", when, esc,
	    strlen(cut) < len ? MSG_CARD_CUT : "");
	explicit_bzero(plain, len);
	explicit_bzero(cut, strlen(cut));
	free(plain);
	free(cut);
	free(esc);
	free(week);
	return text;
}

static json_t *
browse_kb(int64_t index)
{
	struct bc_tg_kb *kb = bc_tg_kb_new();
	char prev[32], next[32], *cause = NULL;
	json_t *markup;

	snprintf(prev, sizeof prev, "nav_prev:%lld", (long long)index);
	snprintf(next, sizeof next, "nav_next:%lld", (long long)index);
	bc_tg_kb_button(kb, MSG_BTN_FIRST, "nav_first");
	bc_tg_kb_button(kb, MSG_BTN_PREV, prev);
	bc_tg_kb_button(kb, MSG_BTN_NEXT, next);
	bc_tg_kb_button(kb, MSG_BTN_LAST, "nav_last");
	bc_tg_kb_row(kb);
	bc_tg_kb_button(kb, MSG_BTN_STATS, "mem_stats");
	bc_tg_kb_button(kb, MSG_BTN_CLOSE, "mem_close");
	if ((markup = bc_tg_kb_finish(kb, &cause)) == NULL) {
		log_warnx("keyboard: %s", cause);
		free(cause);
	}
	return markup;
}

/*
 * Show card index (clamped) as a new message, or by editing message
 * edit_id; with the inline keyboard when inline is set.
 */
static int
browse_card(struct bc_router_ctx *ctx, int64_t index, int64_t edit_id,
    int inline_kb, int64_t *shown)
{
	char ub[BC_DB_INT64_BUFSZ], ib[BC_DB_INT64_BUFSZ], *cause = NULL;
	struct bc_db_res *res;
	struct counts c;
	json_t *p, *kb;
	char *text;

	if (browse_counts(ctx, &c) == -1)
		return -1;
	if (c.total == 0)
		return bc_router_reply(ctx, MSG_NO_MEMORIES, 0, NULL);
	if (index >= c.total)
		index = c.total - 1;
	if (index < 0)
		index = 0;
	if (shown != NULL)
		*shown = index;
	res = bc_db_query(ctx->db, "SELECT id, content, memory_type, "
	    "week_number, week_start_date::text, extract(epoch FROM "
	    "created_at)::bigint FROM memories WHERE user_id = $1 ORDER BY "
	    "created_at, id OFFSET $2 LIMIT 1", BC_DB_P(bc_db_int64(ub,
	    ctx->user_id), bc_db_int64(ib, index)), &cause);
	if (res == NULL)
		return mem_fail("card", cause);
	if (bc_db_ntuples(res) != 1) {
		bc_db_res_free(res);
		return bc_router_reply(ctx, MSG_NO_MEMORIES, 0, NULL);
	}
	text = browse_card_text(ctx, res, &c, index);
	bc_db_res_free(res);
	kb = inline_kb ? browse_kb(index) : NULL;
	p = json_pack("{sIss}", "chat_id", (json_int_t)ctx->chat_id, "text",
	    text);
	if (edit_id != 0)
		json_object_set_new(p, "message_id", json_integer(edit_id));
	if (kb != NULL)
		json_object_set_new(p, "reply_markup", kb);
	explicit_bzero(text, strlen(text));
	free(text);
	/* Not through the outbox: the card's text must not be stored. */
	mem_post(ctx->arg, edit_id != 0 ? "editMessageText" : "sendMessage",
	    p);
	return 0;
}

int
mem_show_card(struct bc_router_ctx *ctx, int64_t index, int64_t edit_id)
{
	return browse_card(ctx, index, edit_id, 1, NULL);
}

int
cmd_memories(struct bc_router_ctx *ctx)
{
	return mem_gate(ctx, MEM_ACT_MEMORIES);
}

int
cmd_stats(struct bc_router_ctx *ctx)
{
	return mem_gate(ctx, MEM_ACT_STATS);
}

int
cmd_review(struct bc_router_ctx *ctx)
{
	return mem_gate(ctx, MEM_ACT_REVIEW);
}

int
cmd_backup(struct bc_router_ctx *ctx)
{
	return mem_gate(ctx, MEM_ACT_BACKUP);
}

/* ------------------------------------------------------------ buttons */

/* A button needs the session: 1 if open, 0 after an alert, -1. */
static int
browse_session(struct bc_router_ctx *ctx)
{
	int ok;

	if (mem_session_ok(ctx, &ok) == -1)
		return -1;
	if (!ok && bc_router_answer(ctx, MSG_SESSION_EXPIRED, 1) == -1)
		return -1;
	return ok;
}

/* The card number after "nav_prev:" or "nav_next:": 0.., or -1. */
static int64_t
browse_index(const char *s)
{
	long long v = 0;
	size_t i;

	if (s == NULL || *s == '\0' || strlen(s) > 9)
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
cb_nav(struct bc_router_ctx *ctx)
{
	const char *p = ctx->cb->prefix;
	int64_t i = -1;
	int rc;

	if (ctx->msg == NULL)
		return bc_router_answer(ctx, MSG_BAD_BUTTON, 1);
	if (strcmp(p, "nav_first") == 0 && *ctx->args == '\0')
		i = 0;
	else if (strcmp(p, "nav_last") == 0 && *ctx->args == '\0')
		i = INT64_MAX;
	else if (strcmp(p, "nav_prev:") == 0 &&
	    (i = browse_index(ctx->args)) >= 0)
		i = i > 0 ? i - 1 : 0;
	else if (strcmp(p, "nav_next:") == 0 &&
	    (i = browse_index(ctx->args)) >= 0)
		i = i + 1;
	if (i < 0)
		return bc_router_answer(ctx, MSG_BAD_BUTTON, 1);
	if ((rc = browse_session(ctx)) != 1)
		return rc;
	return mem_show_card(ctx, i, ctx->msg->message_id);
}

int
cb_stats(struct bc_router_ctx *ctx)
{
	int rc;

	if (*ctx->args != '\0')
		return bc_router_answer(ctx, MSG_BAD_BUTTON, 1);
	if ((rc = browse_session(ctx)) != 1)
		return rc;
	return mem_stats(ctx, 1);
}

int
cb_close(struct bc_router_ctx *ctx)
{
	if (ctx->msg == NULL || *ctx->args != '\0')
		return bc_router_answer(ctx, MSG_BAD_BUTTON, 1);
	return tidy_delete_now(ctx, ctx->msg->message_id);
}

/* ------------------------------------------------------------ /stats */

int
mem_stats(struct bc_router_ctx *ctx, int alert)
{
	char first[32], last[32], *text;
	struct counts c;
	int rc;

	if (browse_counts(ctx, &c) == -1)
		return -1;
	snprintf(first, sizeof first, "%s", MSG_NO_DATE);
	snprintf(last, sizeof last, "%s", MSG_NO_DATE);
	if (c.total > 0) {
		mem_fmt_date(c.first, c.zone, first, 0);
		mem_fmt_date(c.last, c.zone, last, 0);
	}
	xasprintf(&text, alert ? MSG_STATS_ALERT : MSG_STATS, c.total,
	    c.weekly, c.extra, first, last);
	if (alert)
		rc = bc_router_answer(ctx, text, 1);
	else
		rc = bc_router_reply(ctx, text, BC_TG_HTML, NULL);
	free(text);
	return rc;
}

/* ------------------------------------------------------------ /review */

static json_t *
review_keyboard(void)
{
	return json_pack("{s[[{ss}{ss}][{ss}{ss}][{ss}]]sb}", "keyboard",
	    "text", MSG_REVIEW_PREV, "text", MSG_REVIEW_NEXT,
	    "text", MSG_REVIEW_FIRST, "text", MSG_REVIEW_LAST,
	    "text", MSG_REVIEW_CLOSE, "resize_keyboard", 1);
}

int
mem_review_start(struct bc_router_ctx *ctx)
{
	struct counts c;
	json_t *data;
	char *text;
	int rc;

	if (browse_counts(ctx, &c) == -1)
		return -1;
	if (c.total == 0)
		return bc_router_reply(ctx, MSG_NO_MEMORIES, 0, NULL);
	data = json_pack("{si}", "i", 0);
	rc = bc_router_conv_start(ctx, "review", "nav", data, 0);
	json_decref(data);
	if (rc == -1)
		return -1;
	xasprintf(&text, MSG_REVIEW_INTRO, c.total, c.weekly, c.extra);
	rc = bc_router_reply(ctx, text, 0, review_keyboard());
	free(text);
	if (rc == -1)
		return -1;
	return browse_card(ctx, 0, 0, 0, NULL);
}

static int
review_close(struct bc_router_ctx *ctx, const char *text)
{
	if (bc_router_conv_end(ctx) == -1)
		return -1;
	return bc_router_reply(ctx, text, 0,
	    json_pack("{sb}", "remove_keyboard", 1));
}

/* Move the review: which is 'f', 'p', 'n', 'l' or 'c'. */
static int
review_move(struct bc_router_ctx *ctx, int which)
{
	const struct bc_conv *c = bc_router_conv(ctx);
	int64_t i, shown;
	json_t *data;
	int ok;

	if (c == NULL || strcmp(c->name, "review") != 0)
		return bc_router_reply(ctx, MSG_REVIEW_NONE, 0, NULL);
	if (which == 'c')
		return review_close(ctx, MSG_REVIEW_CLOSED);
	if (mem_session_ok(ctx, &ok) == -1)
		return -1;
	if (!ok)
		return review_close(ctx, MSG_SESSION_EXPIRED);
	i = json_integer_value(json_object_get(c->data, "i"));
	i = which == 'f' ? 0 : which == 'l' ? INT64_MAX : which == 'p' ?
	    i - 1 : i + 1;
	if (browse_card(ctx, i, 0, 0, &shown) == -1)
		return -1;
	data = json_pack("{sI}", "i", (json_int_t)shown);
	ok = bc_router_conv_set(ctx, NULL, data);
	json_decref(data);
	return ok;
}

/* /next, /prev, /first, /last, /close. */
int
cmd_review_nav(struct bc_router_ctx *ctx)
{
	const char *n = ctx->cmd->name;

	return review_move(ctx, strcmp(n, "first") == 0 ? 'f' :
	    strcmp(n, "last") == 0 ? 'l' : strcmp(n, "prev") == 0 ? 'p' :
	    strcmp(n, "next") == 0 ? 'n' : 'c');
}

/* A reply-keyboard button (or any text) during a review. */
int
conv_review(struct bc_router_ctx *ctx)
{
	static const struct {
		const char	*text;
		int		 which;
	} b[] = {
		{ MSG_REVIEW_PREV, 'p' }, { MSG_REVIEW_NEXT, 'n' },
		{ MSG_REVIEW_FIRST, 'f' }, { MSG_REVIEW_LAST, 'l' },
		{ MSG_REVIEW_CLOSE, 'c' },
	};
	const char *t = ctx->msg->text;
	size_t i;

	for (i = 0; t != NULL && i < sizeof b / sizeof b[0]; i++)
		if (strcmp(t, b[i].text) == 0)
			return review_move(ctx, b[i].which);
	return bc_router_reply(ctx, MSG_REVIEW_HINT, 0, NULL);
}

/* ------------------------------------------------------------ posts */

/*
 * Queue a call (params stolen) that carries diary text: it goes straight
 * to the tg client after the update's commit, never into the outbox
 * table. A display only: lost if the process dies first.
 */
void
mem_post(struct mem *m, const char *method, json_t *params)
{
	struct mem_post *p = xcalloc(1, sizeof *p), **pp;

	p->method = xstrdup(method);
	p->params = params;
	for (pp = &m->posts; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = p;
	bc_timer_start(m->backup_timer, 0);
}

void
mem_post_free(struct mem_post *p)
{
	if (p == NULL)
		return;
	json_decref(p->params);
	free(p->method);
	free(p);
}

static void
post_flush(struct mem *m)
{
	struct mem_post *p;

	while ((p = m->posts) != NULL) {
		m->posts = p->next;
		if (bc_tg_call(m->env->tg, p->method, p->params, BC_TG_HTML,
		    NULL, NULL) == -1)
			log_warnx("cannot queue %s", p->method);
		p->params = NULL;	/* stolen by bc_tg_call() */
		mem_post_free(p);
	}
}

/* ------------------------------------------------------------ /backup */

void
mem_backup_free(struct mem_backup *b)
{
	if (b == NULL)
		return;
	if (b->data != NULL)
		explicit_bzero(b->data, b->len);
	free(b->data);
	free(b->filename);
	free(b->caption);
	free(b);
}

/* After the commit: the posts, then the documents waiting. */
void
mem_backup_flush(void *arg)
{
	struct mem *m = arg;
	struct mem_backup *b;

	post_flush(m);
	while ((b = m->backups) != NULL) {
		m->backups = b->next;
		if (bc_tg_upload_media(m->env->tg, BC_TG_DOCUMENT, b->chat_id,
		    b->data, b->len, b->filename, b->caption, 0, NULL, NULL,
		    NULL) == -1)
			log_warnx("cannot queue a backup document");
		mem_backup_free(b);
	}
}

/* Append the export of the rows of res to f. */
static void
backup_write(struct bc_router_ctx *ctx, FILE *f, struct bc_db_res *res,
    const char *zone)
{
	char when[32], dmy[16], *week, *plain;
	const char *type;
	int64_t wk, at;
	int i;

	for (i = 0; i < bc_db_ntuples(res); i++) {
		type = bc_db_get(res, i, 1);
		week = NULL;
		if (bc_db_get_int64(res, i, 2, &wk) == 0) {
			browse_dmy(bc_db_get(res, i, 3), dmy);
			xasprintf(&week, MSG_CARD_WEEK, (long long)wk, dmy);
		}
		at = 0;
		bc_db_get_int64(res, i, 4, &at);
		mem_fmt_date((time_t)at, zone, when, 1);
		plain = mem_open(ctx->arg, ctx->user_id, bc_db_get(res, i, 0));
		fprintf(f, MSG_BACKUP_ITEM, (long long)i + 1, type != NULL &&
		    strcmp(type, "weekly") == 0 ? MSG_TYPE_WEEKLY :
		    MSG_TYPE_EXTRA, week != NULL ? week : "", when,
		    plain != NULL ? plain : MSG_UNREADABLE);
		if (plain != NULL)
			explicit_bzero(plain, strlen(plain));
		free(plain);
		free(week);
	}
}

/* Queue b for upload after the commit, replacing one for the user. */
static void
backup_queue(struct mem *m, struct mem_backup *b)
{
	struct mem_backup **pp;

	for (pp = &m->backups; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->user_id == b->user_id) {
			b->next = (*pp)->next;
			mem_backup_free(*pp);
			*pp = b;
			bc_timer_start(m->backup_timer, 0);
			return;
		}
	*pp = b;
	bc_timer_start(m->backup_timer, 0);
}

/*
 * The export, built in memory (open_memstream: never a file on disk) and
 * uploaded as a document once the update is committed.
 */
int
mem_backup(struct bc_router_ctx *ctx)
{
	char ub[BC_DB_INT64_BUFSZ], day[32], *cause = NULL;
	struct mem_backup *b;
	struct bc_db_res *res;
	struct counts c;
	struct tm tm;
	FILE *f;

	if (browse_counts(ctx, &c) == -1)
		return -1;
	if (c.total == 0)
		return bc_router_reply(ctx, MSG_NO_MEMORIES, 0, NULL);
	res = bc_db_query(ctx->db, "SELECT content, memory_type, week_number,"
	    " week_start_date::text, extract(epoch FROM created_at)::bigint "
	    "FROM memories WHERE user_id = $1 ORDER BY created_at, id",
	    BC_DB_P(bc_db_int64(ub, ctx->user_id)), &cause);
	if (res == NULL)
		return mem_fail("backup", cause);
	b = xcalloc(1, sizeof *b);
	if ((f = open_memstream(&b->data, &b->len)) == NULL) {
		bc_db_res_free(res);
		mem_backup_free(b);
		log_warn("open_memstream");
		return -1;
	}
	mem_fmt_date((time_t)(mem_now_ms() / 1000), c.zone, day, 0);
	fprintf(f, MSG_BACKUP_HEAD, day);
	backup_write(ctx, f, res, c.zone);
	fclose(f);
	bc_db_res_free(res);
	mem_local_tm((time_t)(mem_now_ms() / 1000), c.zone, &tm);
	xasprintf(&b->filename, "memories_%04d%02d%02d.txt",
	    (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday);
	xasprintf(&b->caption, MSG_BACKUP_CAPTION, c.total);
	b->chat_id = ctx->chat_id;
	b->user_id = ctx->user_id;
	backup_queue(ctx->arg, b);
	return 0;
}
