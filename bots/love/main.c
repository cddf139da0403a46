/*
 * love: the day-by-day gift bot (the original's scripts/love.py), for one
 * recipient from one author. Day 0 is [love] start_date; a command opens
 * on its day and says, until then, when it will:
 *
 *   /start, /commands   always (the open commands, what opens next)
 *   /count              day 0: days together since [love] together_since
 *   /100reasons         day 1: 10 random reasons, or all of them
 *   /trivia, /answers   day 2: the quiz of [love] quiz_file, its answers
 *   /invite             day 3: a date invitation, sent to the author
 *
 * Days turn at midnight in [love] timezone. Only the recipient and the
 * author may use the bot; each command the recipient uses is reported to
 * the author. For tests, [love] test_now_file names a file whose first
 * line is the time to use instead of the clock (a PostgreSQL timestamptz,
 * e.g. "2024-01-03 12:00:00+00"); it is read at every command when set,
 * and never otherwise.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <botcommon/backoff.h>
#include <botcommon/bot.h>
#include <botcommon/buf.h>
#include <botcommon/conf.h>
#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/router.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "love.h"

#define ALWAYS		INT_MIN
#define CB_REASONS	"reasons_"
#define CB_ANSWER	"answer_"
#define CONV_TRIVIA	"trivia"
#define CONV_TTL_MS	(24 * 60 * 60 * 1000)
#define REASONS_TEN	10
#define REASONS_CHUNK	50

static struct love love_state;

/* What opens when, in the order /commands lists them. */
static const struct {
	const char		*cmd;
	int			 day;
	const char *const	*desc;
} love_unlocks[] = {
	{ "count", 0, &love_texts.desc_count },
	{ "100reasons", 1, &love_texts.desc_reasons },
	{ "trivia", 2, &love_texts.desc_trivia },
	{ "answers", 2, &love_texts.desc_answers },
	{ "invite", 3, &love_texts.desc_invite },
};

static int
love_dberr(const char *what, char *cause)
{
	log_warnx("%s: %s", what, cause);
	free(cause);
	return -1;
}

/* The test clock's text (caller frees), or NULL for the real clock. */
static char *
love_test_now(const struct love *l)
{
	char buf[80], *nl;
	FILE *f;

	if (l->now_file == NULL)
		return NULL;
	if ((f = fopen(l->now_file, "r")) == NULL) {
		log_warn("test_now_file '%s'", l->now_file);
		return NULL;
	}
	if (fgets(buf, sizeof buf, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	if ((nl = strpbrk(buf, "\r\n")) != NULL)
		*nl = '\0';
	return buf[0] != '\0' ? xstrdup(buf) : NULL;
}

/* Today's gift day (days since start_date) and days together. */
static int
love_days(struct bc_router_ctx *ctx, int64_t *day, int64_t *together)
{
	struct love *l = ctx->arg;
	struct bc_db_res *res;
	char *now = love_test_now(l), *cause = NULL;
	int rc = -1;

	res = bc_db_query(ctx->db, "SELECT (n AT TIME ZONE $3)::date - "
	    "$1::date, (n AT TIME ZONE $3)::date - $2::date FROM (SELECT "
	    "coalesce($4::timestamptz, now()) AS n) s", BC_DB_P(l->start_date,
	    l->together_since, l->tz, now), &cause);
	free(now);
	if (res == NULL)
		return love_dberr("days", cause);
	if (bc_db_get_int64(res, 0, 0, day) == 0 &&
	    bc_db_get_int64(res, 0, 1, together) == 0)
		rc = 0;
	bc_db_res_free(res);
	return rc;
}

/* "DD.MM.YYYY" of start_date + days into buf. */
static void
love_date(const struct love *l, int64_t days, char *buf, size_t sz)
{
	struct tm tm;
	time_t t;

	memset(&tm, 0, sizeof tm);
	sscanf(l->start_date, "%d-%d-%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_hour = 12;
	tm.tm_mday += (int)days;
	t = timegm(&tm);
	gmtime_r(&t, &tm);
	strftime(buf, sz, "%d.%m.%Y", &tm);
}

/* Tell the author which command the recipient used. */
static int
love_report(struct bc_router_ctx *ctx, const char *cmd)
{
	struct love *l = ctx->arg;
	char *text;
	int rc;

	if (ctx->user_id != l->recipient || l->author == l->recipient)
		return 0;
	text = bc_tmpl(love_texts.used, "cmd", cmd, NULL);
	rc = bc_router_send(ctx, l->author, text, 0, NULL);
	free(text);
	return rc;
}

/*
 * The checks before a command or a button: the user is ours, and the
 * thing opened (minday). 1: go on, with *day and *together set; 0: a
 * refusal was replied; -1: error. A command (report) is reported to the
 * author either way.
 */
static int
love_enter(struct bc_router_ctx *ctx, const char *cmd, int minday,
    int report, int64_t *day, int64_t *together)
{
	struct love *l = ctx->arg;
	char date[16], left[24], *text;
	int rc;

	if (ctx->user_id != l->recipient && ctx->user_id != l->author) {
		if (ctx->u->type == BC_TG_UPDATE_CALLBACK_QUERY)
			return bc_router_answer(ctx, love_texts.stranger, 1) ==
			    -1 ? -1 : 0;
		return bc_router_reply(ctx, love_texts.stranger, 0, NULL) ==
		    -1 ? -1 : 0;
	}
	if (report && love_report(ctx, cmd) == -1)
		return -1;
	if (love_days(ctx, day, together) == -1)
		return -1;
	if (minday == ALWAYS || *day >= minday)
		return 1;
	love_date(l, minday, date, sizeof date);
	snprintf(left, sizeof left, "%lld", (long long)(minday - *day));
	text = bc_tmpl(love_texts.locked, "cmd", cmd, "date", date, "days",
	    left, NULL);
	if (ctx->u->type == BC_TG_UPDATE_CALLBACK_QUERY)
		rc = bc_router_answer(ctx, text, 1);
	else
		rc = bc_router_reply(ctx, text, 0, NULL);
	free(text);
	return rc == -1 ? -1 : 0;
}

static int
cmd_start(struct bc_router_ctx *ctx)
{
	int64_t day, together;
	int rc;

	if ((rc = love_enter(ctx, "start", ALWAYS, 1, &day, &together)) != 1)
		return rc;
	return bc_router_reply(ctx, love_texts.start, 0, NULL);
}

/* The extra lines of /commands: the invitation hints, what opens next. */
static void
commands_tail(struct love *l, struct bc_buf *out, int64_t day,
    int64_t together)
{
	char date[16], n[24], *t;
	size_t i;

	if (day == 3)
		bc_buf_printf(out, "\n\n%s", love_texts.invite_hint);
	if (together + 1 > 0 && (together + 1) % 100 == 0) {
		snprintf(n, sizeof n, "%lld", (long long)(together + 1));
		t = bc_tmpl(love_texts.hundred_tomorrow, "n", n, NULL);
		bc_buf_printf(out, "\n\n%s", t);
		free(t);
	}
	for (i = 0; i < BC_NELEM(love_unlocks); i++)
		if (day < love_unlocks[i].day) {
			love_date(l, love_unlocks[i].day, date, sizeof date);
			t = bc_tmpl(love_texts.commands_more, "date", date,
			    NULL);
			bc_buf_printf(out, "\n\n%s", t);
			free(t);
			break;
		}
}

static int
cmd_commands(struct bc_router_ctx *ctx)
{
	struct love *l = ctx->arg;
	struct bc_buf out = BC_BUF_ZERO;
	char date[16], *text;
	int64_t day, together;
	size_t i, open = 0;
	int rc;

	if ((rc = love_enter(ctx, "commands", ALWAYS, 1, &day,
	    &together)) != 1)
		return rc;
	bc_buf_str(&out, love_texts.commands_head);
	for (i = 0; i < BC_NELEM(love_unlocks); i++)
		if (day >= love_unlocks[i].day) {
			bc_buf_printf(&out, "\n%s", *love_unlocks[i].desc);
			open++;
		}
	if (open == 0) {
		bc_buf_release(&out);
		love_date(l, love_unlocks[0].day, date, sizeof date);
		text = bc_tmpl(love_texts.commands_none, "date", date, NULL);
		rc = bc_router_reply(ctx, text, 0, NULL);
		free(text);
		return rc;
	}
	commands_tail(l, &out, day, together);
	text = bc_buf_detach(&out);
	rc = bc_router_reply(ctx, text, 0, NULL);
	free(text);
	return rc;
}

static int
cmd_count(struct bc_router_ctx *ctx)
{
	char n[24], *text, *congrats = NULL;
	int64_t day, together;
	int rc;

	if ((rc = love_enter(ctx, "count", 0, 1, &day, &together)) != 1)
		return rc;
	if (together < 0)
		return bc_router_reply(ctx, love_texts.count_before, 0, NULL);
	snprintf(n, sizeof n, "%lld", (long long)together);
	text = bc_tmpl(love_texts.count, "n", n, NULL);
	if ((rc = bc_router_reply(ctx, text, 0, NULL)) == 0 &&
	    together > 0 && together % 100 == 0) {
		congrats = bc_tmpl(love_texts.count_congrats, "n", n, NULL);
		rc = bc_router_reply(ctx, congrats, 0, NULL);
	}
	free(text);
	free(congrats);
	return rc;
}

static int
cmd_reasons(struct bc_router_ctx *ctx)
{
	struct bc_tg_kb *kb;
	json_t *markup;
	int64_t day, together;
	char *cause = NULL;
	int rc;

	if ((rc = love_enter(ctx, "100reasons", 1, 1, &day, &together)) != 1)
		return rc;
	kb = bc_tg_kb_new();
	bc_tg_kb_button(kb, love_texts.reasons_ten, CB_REASONS "10");
	bc_tg_kb_button(kb, love_texts.reasons_all, CB_REASONS "all");
	if ((markup = bc_tg_kb_finish(kb, &cause)) == NULL)
		return love_dberr("keyboard", cause);
	return bc_router_reply(ctx, love_texts.reasons_ask, 0, markup);
}

/* Ten distinct random reasons, one message. */
static int
reasons_ten(struct bc_router_ctx *ctx)
{
	struct love *l = ctx->arg;
	struct bc_buf out = BC_BUF_ZERO;
	size_t *idx, i, j, n = l->nreasons, k, tmp;
	char *text;
	int rc;

	idx = xcalloc(n, sizeof *idx);
	for (i = 0; i < n; i++)
		idx[i] = i;
	k = n < REASONS_TEN ? n : REASONS_TEN;
	for (i = 0; i < k; i++) {
		j = i + (size_t)(bc_random_unit() * (double)(n - i));
		if (j >= n)
			j = n - 1;
		tmp = idx[i];
		idx[i] = idx[j];
		idx[j] = tmp;
		bc_buf_printf(&out, "%s❤️ %s", i > 0 ? "\n" : "",
		    l->reasons[idx[i]]);
	}
	free(idx);
	text = bc_buf_detach(&out);
	rc = bc_router_reply(ctx, text, 0, NULL);
	free(text);
	return rc;
}

/* Every reason, REASONS_CHUNK lines a message. */
static int
reasons_all(struct bc_router_ctx *ctx)
{
	struct love *l = ctx->arg;
	struct bc_buf out = BC_BUF_ZERO;
	size_t i;
	int rc = 0;

	for (i = 0; i < l->nreasons && rc == 0; i++) {
		bc_buf_printf(&out, "%s%zu. %s", out.len > 0 ? "\n" : "",
		    i + 1, l->reasons[i]);
		if ((i + 1) % REASONS_CHUNK == 0 || i + 1 == l->nreasons) {
			rc = bc_router_reply(ctx, out.p, 0, NULL);
			bc_buf_reset(&out);
		}
	}
	bc_buf_release(&out);
	return rc;
}

static int
cb_reasons(struct bc_router_ctx *ctx)
{
	int64_t day, together;
	int rc;

	if ((rc = love_enter(ctx, "100reasons", 1, 0, &day, &together)) != 1)
		return rc;
	if (strcmp(ctx->args, "10") == 0)
		rc = reasons_ten(ctx);
	else if (strcmp(ctx->args, "all") == 0)
		rc = reasons_all(ctx);
	else
		return bc_router_answer(ctx, NULL, 0);
	if (rc == 0)
		rc = bc_router_reply(ctx, love_texts.reasons_thanks, 0, NULL);
	return rc;
}

/* Ask question q, with its options as buttons. */
static int
trivia_ask(struct bc_router_ctx *ctx, size_t q)
{
	struct love *l = ctx->arg;
	const struct love_question *lq = &l->quiz[q];
	struct bc_tg_kb *kb = bc_tg_kb_new();
	char data[BC_TG_CALLBACK_MAX], *text, *cause = NULL;
	json_t *markup;
	int i, rc;

	for (i = 0; i < lq->nopts; i++) {
		snprintf(data, sizeof data, CB_ANSWER "%zu_%d", q, i);
		bc_tg_kb_button(kb, lq->opts[i], data);
		bc_tg_kb_row(kb);
	}
	if ((markup = bc_tg_kb_finish(kb, &cause)) == NULL)
		return love_dberr("keyboard", cause);
	xasprintf(&text, "%zu/%zu. %s", q + 1, l->nquiz, lq->text);
	rc = bc_router_reply(ctx, text, 0, markup);
	free(text);
	return rc;
}

static int
cmd_trivia(struct bc_router_ctx *ctx)
{
	int64_t day, together;
	json_t *data;
	int rc;

	if ((rc = love_enter(ctx, "trivia", 2, 1, &day, &together)) != 1)
		return rc;
	data = json_pack("{si si}", "q", 0, "score", 0);
	rc = bc_router_conv_start(ctx, CONV_TRIVIA, "", data, CONV_TTL_MS);
	json_decref(data);
	if (rc == -1)
		return -1;
	return trivia_ask(ctx, 0);
}

/* "Q_O" from callback data: two small numbers. */
static int
answer_parse(const char *s, long *q, long *o)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	*q = strtol(s, &end, 10);
	if (*end != '_' || end[1] < '0' || end[1] > '9' || *q > LOVE_QUIZ_MAX)
		return -1;
	*o = strtol(end + 1, &end, 10);
	return *end == '\0' && *o < LOVE_OPTS_MAX ? 0 : -1;
}

/* Score answer o to question q and go on. */
static int
trivia_answer(struct bc_router_ctx *ctx, const struct bc_conv *c, long q,
    long o)
{
	struct love *l = ctx->arg;
	const struct love_question *lq = &l->quiz[q];
	json_int_t score = json_integer_value(json_object_get(c->data,
	    "score"));
	char n[24], s[24], *text;
	json_t *data;
	int rc;

	if (o == lq->answer) {
		score++;
		text = xstrdup(love_texts.trivia_right);
	} else
		text = bc_tmpl(love_texts.trivia_wrong, "answer",
		    lq->opts[lq->answer], NULL);
	rc = bc_router_reply(ctx, text, 0, NULL);
	free(text);
	if (rc == -1)
		return -1;
	if ((size_t)q + 1 < l->nquiz) {
		data = json_pack("{sI sI}", "q", (json_int_t)q + 1, "score",
		    score);
		rc = bc_router_conv_set(ctx, NULL, data);
		json_decref(data);
		return rc == -1 ? -1 : trivia_ask(ctx, (size_t)q + 1);
	}
	if (bc_router_conv_end(ctx) == -1)
		return -1;
	snprintf(s, sizeof s, "%lld", (long long)score);
	snprintf(n, sizeof n, "%zu", l->nquiz);
	text = bc_tmpl(love_texts.trivia_done, "score", s, "n", n, NULL);
	rc = bc_router_reply(ctx, text, 0, NULL);
	free(text);
	return rc;
}

static int
cb_answer(struct bc_router_ctx *ctx)
{
	struct love *l = ctx->arg;
	const struct bc_conv *c;
	int64_t day, together;
	long q, o;
	int rc;

	if ((rc = love_enter(ctx, "trivia", 2, 0, &day, &together)) != 1)
		return rc;
	c = bc_router_conv(ctx);
	if (answer_parse(ctx->args, &q, &o) == -1 || c == NULL ||
	    strcmp(c->name, CONV_TRIVIA) != 0 || (size_t)q >= l->nquiz ||
	    o >= l->quiz[q].nopts ||
	    json_integer_value(json_object_get(c->data, "q")) != q)
		return bc_router_answer(ctx, love_texts.trivia_stale, 0);
	return trivia_answer(ctx, c, q, o);
}

/* A text while the quiz waits for a button. */
static int
conv_trivia(struct bc_router_ctx *ctx)
{
	return bc_router_reply(ctx, love_texts.trivia_use_buttons, 0, NULL);
}

static int
cmd_answers(struct bc_router_ctx *ctx)
{
	struct love *l = ctx->arg;
	struct bc_buf out = BC_BUF_ZERO;
	int64_t day, together;
	char *text;
	size_t i;
	int rc;

	if ((rc = love_enter(ctx, "answers", 2, 1, &day, &together)) != 1)
		return rc;
	bc_buf_str(&out, love_texts.answers_head);
	for (i = 0; i < l->nquiz; i++)
		bc_buf_printf(&out, "\n%zu. %s — %s", i + 1, l->quiz[i].text,
		    l->quiz[i].opts[l->quiz[i].answer]);
	text = bc_buf_detach(&out);
	rc = bc_router_reply(ctx, text, 0, NULL);
	free(text);
	return rc;
}

static int
cmd_invite(struct bc_router_ctx *ctx)
{
	struct love *l = ctx->arg;
	int64_t day, together;
	char *text;
	int rc;

	if ((rc = love_enter(ctx, "invite", 3, 1, &day, &together)) != 1)
		return rc;
	text = bc_tmpl(love_texts.invite_author, "url",
	    l->invite_url != NULL ? l->invite_url : "", NULL);
	rc = bc_router_send(ctx, l->author, text, 0, NULL);
	free(text);
	if (rc == -1)
		return -1;
	return bc_router_reply(ctx, love_texts.invite_sent, 0, NULL);
}

/* YYYY-MM-DD naming a real day. */
static int
love_date_ok(const char *s)
{
	struct tm tm;
	int y, m, d, n = 0;

	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d,
	    &n) != 3 || n != 10 || y < 1970 || y > 2200)
		return 0;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = 12;
	timegm(&tm);
	return tm.tm_year == y - 1900 && tm.tm_mon == m - 1 &&
	    tm.tm_mday == d;
}

/* The data files, relative to the configuration file. */
static int
love_conf_files(struct bc_conf *cf, struct love *l, char **cause)
{
	char *reasons = NULL, *quiz = NULL;
	int rc = -1;

	if (bc_conf_file(cf, "love", "reasons_file", NULL, &reasons,
	    cause) == -1 || bc_conf_file(cf, "love", "quiz_file", NULL, &quiz,
	    cause) == -1)
		goto out;
	if (reasons == NULL || quiz == NULL) {
		xasprintf(cause, "%s: [love] reasons_file and quiz_file are "
		    "required", bc_conf_path(cf));
		goto out;
	}
	if (love_reasons_load(l, reasons, cause) == 0 &&
	    love_quiz_load(l, quiz, cause) == 0)
		rc = 0;
out:
	free(reasons);
	free(quiz);
	return rc;
}

static int
love_configure(struct bc_bot_env *env, char **cause)
{
	struct bc_conf *cf = env->conf;
	struct love *l = env->arg;
	long long rcp, aut;
	time_t next;

	if (bc_conf_str(cf, "love", "start_date", NULL, &l->start_date,
	    cause) == -1 ||
	    bc_conf_str(cf, "love", "together_since", l->start_date,
	    &l->together_since, cause) == -1 ||
	    bc_conf_str(cf, "love", "timezone", "Europe/Kyiv", &l->tz,
	    cause) == -1 ||
	    bc_conf_str(cf, "love", "invite_url", NULL, &l->invite_url,
	    cause) == -1 ||
	    bc_conf_str(cf, "love", "test_now_file", NULL, &l->now_file,
	    cause) == -1 ||
	    bc_conf_int(cf, "love", "recipient_id", 0, 1, INT64_MAX, &rcp,
	    cause) == -1 ||
	    bc_conf_int(cf, "love", "author_id", 0, 1, INT64_MAX, &aut,
	    cause) == -1)
		return -1;
	if (l->start_date == NULL || !love_date_ok(l->start_date) ||
	    !love_date_ok(l->together_since) || rcp == 0 || aut == 0) {
		xasprintf(cause, "%s: [love] start_date (and together_since) "
		    "must be YYYY-MM-DD, recipient_id and author_id user ids",
		    bc_conf_path(cf));
		return -1;
	}
	l->recipient = rcp;
	l->author = aut;
	if (bc_sched_next_daily(time(NULL), 0, 0, l->tz, &next, cause) == -1)
		return -1;
	return love_conf_files(cf, l, cause);
}

static void
love_teardown(struct bc_bot_env *env)
{
	love_data_free(env->arg);
}

static const struct bc_cmd_entry love_cmds[] = {
	{ "start", { NULL }, BC_CMD_ANY, 0, 20, 0, NULL, cmd_start },
	{ "commands", { "help", NULL }, BC_CMD_ANY, 0, 20, 0, NULL,
	    cmd_commands },
	{ "count", { NULL }, BC_CMD_ANY, 0, 20, 0, NULL, cmd_count },
	{ "100reasons", { NULL }, BC_CMD_ANY, 0, 20, 0, NULL, cmd_reasons },
	{ "trivia", { NULL }, BC_CMD_ANY, 0, 20, 0, NULL, cmd_trivia },
	{ "answers", { NULL }, BC_CMD_ANY, 0, 20, 0, NULL, cmd_answers },
	{ "invite", { NULL }, BC_CMD_ANY, 0, 5, 0, NULL, cmd_invite },
};

static const struct bc_cb_entry love_cbs[] = {
	{ CB_REASONS, 0, cb_reasons },
	{ CB_ANSWER, 0, cb_answer },
};

static const struct bc_conv_entry love_convs[] = {
	{ CONV_TRIVIA, conv_trivia },
};

int
main(int argc, char **argv)
{
	struct bc_router_texts texts = { NULL };
	struct bc_bot bot = {
		.name = "love",
		.cmds = love_cmds,
		.ncmds = BC_NELEM(love_cmds),
		.cbs = love_cbs,
		.ncbs = BC_NELEM(love_cbs),
		.convs = love_convs,
		.nconvs = BC_NELEM(love_convs),
		.configure = love_configure,
		.teardown = love_teardown,
		.arg = &love_state,
	};

	texts.unknown = love_texts.unknown;
	texts.error = love_texts.error;
	texts.wait = love_texts.wait;
	texts.cancelled = love_texts.cancelled;
	texts.nothing_to_cancel = love_texts.nothing_to_cancel;
	bot.texts = &texts;
	return bc_bot_run(argc, argv, &bot);
}
