/*
 * router: commands, callbacks, conversations, exactly-once effects, the
 * outbox and the audit log, batches of updates in one transaction,
 * against a real PostgreSQL (one database per test) and a recording fake
 * in place of Telegram.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/metrics.h>
#include <botcommon/router.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "support/testdb.h"

#define BOT		"testbot"
#define ADMIN		1000
#define USER		2000
#define USER2		2001
#define GROUP		(-100500)

/* ------------------------------------------------------------ fake sender */

struct fake_call {
	char		*method;
	int64_t		 chat_id;
	char		*text;
	json_t		*params;	/* call(): params; send_text: markup */
	int		 flags;
	bc_tg_cb	*cb;
	void		*cbarg;
	int		 done;
};

struct fake {
	struct fake_call *calls;
	size_t		 n;
	size_t		 cap;
	int		 refuse;	/* return -1 from the next calls */
};

static struct fake_call *
fake_add(struct fake *f)
{
	if (f->n == f->cap) {
		f->cap = f->cap == 0 ? 16 : f->cap * 2;
		f->calls = xreallocarray(f->calls, f->cap, sizeof *f->calls);
	}
	memset(&f->calls[f->n], 0, sizeof f->calls[f->n]);
	return &f->calls[f->n++];
}

static int
fake_send_text(void *arg, int64_t chat_id, const char *text, int flags,
    json_t *markup, bc_tg_cb *cb, void *cbarg)
{
	struct fake *f = arg;
	struct fake_call *c;

	if (f->refuse) {
		json_decref(markup);
		return -1;
	}
	c = fake_add(f);
	c->method = xstrdup("sendMessage");
	c->chat_id = chat_id;
	c->text = xstrdup(text);
	c->params = markup;
	c->flags = flags;
	c->cb = cb;
	c->cbarg = cbarg;
	return 0;
}

static int
fake_call(void *arg, const char *method, json_t *params, int flags,
    bc_tg_cb *cb, void *cbarg)
{
	struct fake *f = arg;
	struct fake_call *c;
	const char *t;

	if (f->refuse) {
		json_decref(params);
		return -1;
	}
	c = fake_add(f);
	c->method = xstrdup(method);
	c->params = params;
	c->flags = flags;
	c->cb = cb;
	c->cbarg = cbarg;
	c->chat_id = json_integer_value(json_object_get(params, "chat_id"));
	t = json_string_value(json_object_get(params, "text"));
	c->text = t != NULL ? xstrdup(t) : NULL;
	return 0;
}

/* Complete call i as Telegram would: ok, or refused with code. */
static void
fake_complete(struct fake *f, size_t i, int code, const char *desc)
{
	struct bc_tg_result res;
	struct fake_call *c = &f->calls[i];

	assert_false(c->done);
	memset(&res, 0, sizeof res);
	res.ok = code == 0;
	res.status = code == 0 ? 200 : code;
	res.error_code = code;
	res.description = desc != NULL ? desc : "";
	res.attempts = 1;
	c->done = 1;
	c->cb(&res, c->cbarg);
}

static void
fake_complete_all(struct fake *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (!f->calls[i].done)
			fake_complete(f, i, 0, NULL);
}

/* Forget everything: calls still pending are dropped, as bc_tg_free()
 * drops queued calls without running their callbacks. */
static void
fake_reset(struct fake *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->calls[i].method);
		free(f->calls[i].text);
		json_decref(f->calls[i].params);
	}
	free(f->calls);
	memset(f, 0, sizeof *f);
}

static size_t
fake_count(const struct fake *f, const char *method)
{
	size_t i, n = 0;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->calls[i].method, method) == 0)
			n++;
	return n;
}

/* The last sendMessage text, or NULL. */
static const char *
fake_last_text(const struct fake *f)
{
	size_t i;

	for (i = f->n; i > 0; i--)
		if (strcmp(f->calls[i - 1].method, "sendMessage") == 0)
			return f->calls[i - 1].text;
	return NULL;
}

/* The last answerCallbackQuery's params, or NULL. */
static json_t *
fake_last_answer(const struct fake *f)
{
	size_t i;

	for (i = f->n; i > 0; i--)
		if (strcmp(f->calls[i - 1].method,
		    "answerCallbackQuery") == 0)
			return f->calls[i - 1].params;
	return NULL;
}

/* ------------------------------------------------------------ fixture */

struct fx {
	struct testdb	 t;		/* the test's database */
	struct bc_db	*admin;		/* the maintenance database */
	struct bc_db	*db;		/* connected to t */
	struct bc_router *r;
	struct bc_metrics *metrics;
	struct fake	 fake;
	int		 calls;		/* handler runs */
	int		 lost_mode;	/* 1: fail after the kill, 2: commit */
	int		 conflicts;	/* serialization failures to come */
	int64_t		 backend_pid;
	int64_t		 flush_ms;	/* opts.outbox_flush_ms (-1 unless a
					   test says otherwise) */
	int		 deallocs;	/* DEALLOCATEs to come */
	size_t		 batch_max;	/* opts.batch_max */
};

static int64_t	 fake_now = 1000000;

static int64_t
test_clock(void)
{
	return fake_now;
}

static int64_t
fx_effects(struct fx *fx, const char *what)
{
	return testdb_intp(fx->db, "SELECT count(*) FROM effects"
	    " WHERE what = $1", BC_DB_P(what));
}

static int
effect(struct bc_router_ctx *ctx, const char *what)
{
	char *cause = NULL;

	if (bc_db_exec(ctx->db, "INSERT INTO effects (what) VALUES ($1)",
	    BC_DB_P(what), NULL, &cause) == -1) {
		free(cause);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ handlers */

static int
cmd_start(struct bc_router_ctx *ctx)
{
	struct fx *fx = ctx->arg;

	fx->calls++;
	if (effect(ctx, "start") == -1)
		return -1;
	return bc_router_reply(ctx, "hello", 0, NULL);
}

static int
cmd_give(struct bc_router_ctx *ctx)
{
	json_t *d;
	char *what;
	int rc;

	xasprintf(&what, "give:%s", ctx->args);
	rc = effect(ctx, what);
	free(what);
	if (rc == -1)
		return -1;
	d = json_pack("{s:s, s:i}", "target", ctx->args, "amount", 5);
	rc = bc_router_audit(ctx, "coins.give", d);
	json_decref(d);
	if (rc == -1)
		return -1;
	return bc_router_reply(ctx, "given", 0, NULL);
}

static int
cmd_echo(struct bc_router_ctx *ctx)
{
	struct fx *fx = ctx->arg;

	fx->calls++;
	return bc_router_reply(ctx, ctx->cmd->name, 0, NULL);
}

static int
cmd_fail(struct bc_router_ctx *ctx)
{
	struct fx *fx = ctx->arg;

	fx->calls++;
	if (effect(ctx, "fail") == -1 ||
	    bc_router_reply(ctx, "never sent", 0, NULL) == -1 ||
	    bc_router_conv_start(ctx, "ask", "name", NULL, 0) == -1)
		return -1;
	return -1;
}

/* Kill our own connection from the maintenance one, mid-handler. */
static int
cmd_lost(struct bc_router_ctx *ctx)
{
	struct fx *fx = ctx->arg;
	char pid[BC_DB_INT64_BUFSZ], *cause = NULL;
	struct bc_db_res *res;

	fx->calls++;
	if (effect(ctx, "lost") == -1 ||
	    bc_router_reply(ctx, "lost reply", 0, NULL) == -1)
		return -1;
	if (fx->lost_mode != 0) {
		res = bc_db_query(fx->admin, "SELECT pg_terminate_backend($1, "
		    "10000)", BC_DB_P(bc_db_int64(pid, fx->backend_pid)),
		    &cause);
		assert_non_null(res);
		assert_string_equal(bc_db_get(res, 0, 0), "t");
		bc_db_res_free(res);
		if (fx->lost_mode == 1)
			return effect(ctx, "after");
	}
	return 0;
}

/* Fails with a serialization failure while fx->conflicts lasts. */
static int
cmd_conflict(struct bc_router_ctx *ctx)
{
	struct fx *fx = ctx->arg;
	char *cause = NULL;

	fx->calls++;
	if (effect(ctx, "conflict") == -1 ||
	    bc_router_reply(ctx, "done", 0, NULL) == -1)
		return -1;
	if (fx->conflicts > 0) {
		fx->conflicts--;
		if (bc_db_exec(ctx->db, "DO $$ BEGIN RAISE EXCEPTION "
		    "'conflict' USING ERRCODE = '40001'; END $$", 0, NULL,
		    NULL, &cause) == -1) {
			free(cause);
			return -1;
		}
	}
	return 0;
}

/* A reply jsonb refuses (a NUL character): the commit batch fails. */
static int
cmd_nul(struct bc_router_ctx *ctx)
{
	struct fx *fx = ctx->arg;

	fx->calls++;
	if (effect(ctx, "nul") == -1)
		return -1;
	return bc_router_call(ctx, "sendMessage", json_pack("{s:I, s:o}",
	    "chat_id", (json_int_t)ctx->chat_id, "text",
	    json_stringn("a\0b", 3)), 0);
}

/* The server forgets the prepared statements mid-transaction while
 * fx->deallocs lasts: the next cached one fails, the run is retried. */
static int
cmd_stale(struct bc_router_ctx *ctx)
{
	struct fx *fx = ctx->arg;
	char *cause = NULL;

	fx->calls++;
	if (effect(ctx, "stale") == -1)
		return -1;
	if (fx->deallocs > 0) {
		fx->deallocs--;
		if (bc_db_exec(ctx->db, "DO $$ BEGIN EXECUTE 'DEALLOCATE "
		    "ALL'; END $$", 0, NULL, NULL, &cause) == -1) {
			free(cause);
			return -1;
		}
	}
	if (effect(ctx, "stale2") == -1)
		return -1;
	return bc_router_reply(ctx, "fresh", 0, NULL);
}

static int
cmd_ask(struct bc_router_ctx *ctx)
{
	if (bc_router_conv_start(ctx, "ask", "name", NULL, 0) == -1)
		return -1;
	return bc_router_reply(ctx, "What is your name?", 0, NULL);
}

static int
conv_ask(struct bc_router_ctx *ctx)
{
	const struct bc_conv *c = bc_router_conv(ctx);
	json_t *d;
	char *what;
	int rc;

	assert_non_null(c);
	if (strcmp(c->step, "name") == 0) {
		d = json_pack("{s:s}", "name", ctx->msg->text);
		rc = bc_router_conv_set(ctx, "age", d);
		json_decref(d);
		if (rc == -1)
			return -1;
		assert_string_equal(bc_router_conv(ctx)->step, "age");
		return bc_router_reply(ctx, "How old are you?", 0, NULL);
	}
	assert_string_equal(c->step, "age");
	xasprintf(&what, "ask:%s:%s", json_string_value(json_object_get(
	    c->data, "name")), ctx->msg->text);
	rc = effect(ctx, what);
	free(what);
	if (rc == -1 || bc_router_conv_end(ctx) == -1)
		return -1;
	assert_null(bc_router_conv(ctx));
	return bc_router_reply(ctx, "Thanks", 0, NULL);
}

static int
on_message(struct bc_router_ctx *ctx)
{
	char *what;
	int rc;

	xasprintf(&what, "msg:%s", ctx->msg->text != NULL ?
	    ctx->msg->text : "");
	rc = effect(ctx, what);
	free(what);
	return rc;
}

static int
on_update(struct bc_router_ctx *ctx)
{
	char *what;
	int rc;

	xasprintf(&what, "update:%s", bc_tg_update_type_name(ctx->u->type));
	rc = effect(ctx, what);
	free(what);
	return rc;
}

static int
cb_shop(struct bc_router_ctx *ctx)
{
	char *what;
	int rc;

	xasprintf(&what, "shop:%s", ctx->args);
	rc = effect(ctx, what);
	free(what);
	return rc;
}

static int
cb_buy(struct bc_router_ctx *ctx)
{
	char *what;
	int rc;

	xasprintf(&what, "buy:%s", ctx->args);
	rc = effect(ctx, what);
	free(what);
	if (rc == -1)
		return -1;
	return bc_router_answer(ctx, "bought", 1);
}

static int
cb_boom(struct bc_router_ctx *ctx)
{
	/* Answers, then fails: the answer is rolled back with the rest. */
	if (bc_router_answer(ctx, "half done", 0) == -1)
		return -1;
	assert_int_equal(bc_router_answer(ctx, "twice", 0), -1);
	(void)effect(ctx, "boom");
	return -1;
}

static int
cb_adm(struct bc_router_ctx *ctx)
{
	return effect(ctx, "adm");
}

static const struct bc_cmd_entry test_cmds[] = {
	{ "start", { "go", "begin", NULL }, BC_CMD_ANY, 0, 0, 0, "",
	    cmd_start },
	{ "give", { NULL }, BC_CMD_ANY, BC_CMD_ADMIN, 0, 0, "<user>",
	    cmd_give },
	{ "priv", { NULL }, BC_CMD_PRIVATE, 0, 0, 0, "private only",
	    cmd_echo },
	{ "grp", { NULL }, BC_CMD_GROUP, 0, 0, 0, "group only", cmd_echo },
	{ "roll", { NULL }, BC_CMD_ANY, 0, 2, 0, "roll a die", cmd_echo },
	{ "cool", { NULL }, BC_CMD_ANY, 0, 0, 5000, NULL, cmd_echo },
	{ "fail", { NULL }, BC_CMD_ANY, BC_CMD_HIDDEN, 0, 0, NULL, cmd_fail },
	{ "lost", { NULL }, BC_CMD_ANY, BC_CMD_HIDDEN, 0, 0, NULL, cmd_lost },
	{ "conflict", { NULL }, BC_CMD_ANY, BC_CMD_HIDDEN, 0, 0, NULL,
	    cmd_conflict },
	{ "nul", { NULL }, BC_CMD_ANY, BC_CMD_HIDDEN, 0, 0, NULL, cmd_nul },
	{ "stale", { NULL }, BC_CMD_ANY, BC_CMD_HIDDEN, 0, 0, NULL,
	    cmd_stale },
	{ "ask", { NULL }, BC_CMD_PRIVATE, 0, 0, 0, "a conversation",
	    cmd_ask },
};

static const struct bc_cb_entry test_cbs[] = {
	{ "shop:", 0, cb_shop },
	{ "shop:buy:", 0, cb_buy },
	{ "boom", 0, cb_boom },
	{ "adm:", BC_CMD_ADMIN, cb_adm },
};

static const struct bc_conv_entry test_convs[] = {
	{ "ask", conv_ask },
};

static const int64_t test_admins[] = { ADMIN };

static void
fx_router(struct fx *fx)
{
	struct bc_router_sender s = { fake_send_text, fake_call, &fx->fake };
	struct bc_router_opts o;
	char *cause = NULL;

	memset(&o, 0, sizeof o);
	o.bot = BOT;
	o.db = fx->db;
	o.sender = &s;
	o.username = "OurBot";
	o.cmds = test_cmds;
	o.ncmds = BC_NELEM(test_cmds);
	o.cbs = test_cbs;
	o.ncbs = BC_NELEM(test_cbs);
	o.convs = test_convs;
	o.nconvs = BC_NELEM(test_convs);
	o.on_message = on_message;
	o.on_update = on_update;
	o.admins = test_admins;
	o.nadmins = BC_NELEM(test_admins);
	o.clock_ms = test_clock;
	o.metrics = fx->metrics;
	o.outbox_flush_ms = fx->flush_ms;
	o.batch_max = fx->batch_max;
	o.arg = fx;
	fx->r = bc_router_new(&o, &cause);
	if (fx->r == NULL)
		fail_msg("bc_router_new: %s", cause);
}

/* A restart: the process dies (pending sends are lost), a new one comes. */
static void
fx_restart(struct fx *fx)
{
	fake_reset(&fx->fake);
	bc_router_free(fx->r);
	fx_router(fx);
}

static int
setup(void **state)
{
	struct fx *fx;

	fx = xcalloc(1, sizeof *fx);
	fx->admin = testdb_admin();
	testdb_create(&fx->t, "t_router");
	fx->db = testdb_open(&fx->t, NULL);
	testdb_migrate(fx->db);
	testdb_exec(fx->db, "CREATE TABLE effects (id serial, what text)");
	fx->backend_pid = testdb_int(fx->db, "SELECT pg_backend_pid()");
	fx->metrics = bc_metrics_new();
	fx->flush_ms = -1;	/* each accepted row deleted at once */
	fx_router(fx);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	fake_reset(&fx->fake);
	bc_router_free(fx->r);
	bc_metrics_free(fx->metrics);
	bc_db_close(fx->db);
	testdb_drop(&fx->t);
	bc_db_close(fx->admin);
	free(fx);
	return 0;
}

/* ------------------------------------------------------------ updates */

static int
feed(struct fx *fx, json_t *j)
{
	struct bc_tg_update u;
	char *cause = NULL;
	int rc;

	if (bc_tg_update_parse(j, &u, &cause) == -1)
		fail_msg("parse: %s", cause);
	rc = bc_router_handle(fx->r, &u);
	bc_tg_update_release(&u);
	json_decref(j);
	return rc;
}

static json_t *
msg_json(int64_t id, int64_t chat, int64_t user, const char *text)
{
	json_t *m;
	size_t len;

	m = json_pack("{s:I, s:I, s:{s:I, s:s}, s:{s:I, s:b, s:s}, s:s}",
	    "message_id", (json_int_t)id, "date", (json_int_t)0,
	    "chat", "id", (json_int_t)chat, "type",
	    chat > 0 ? "private" : "supergroup",
	    "from", "id", (json_int_t)user, "is_bot", 0, "first_name", "T",
	    "text", text);
	if (text[0] == '/') {
		len = strcspn(text, " ");
		json_object_set_new(m, "entities", json_pack("[{s:s, s:i, "
		    "s:I}]", "type", "bot_command", "offset", 0, "length",
		    (json_int_t)len));
	}
	return m;
}

/* A message from user in chat (> 0: private, < 0: a group). */
static int
msg(struct fx *fx, int64_t id, int64_t chat, int64_t user, const char *text)
{
	return feed(fx, json_pack("{s:I, s:o}", "update_id", (json_int_t)id,
	    "message", msg_json(id, chat, user, text)));
}

static int
press(struct fx *fx, int64_t id, int64_t chat, int64_t user,
    const char *data)
{
	char qid[32];

	snprintf(qid, sizeof qid, "q%lld", (long long)id);
	return feed(fx, json_pack("{s:I, s:{s:s, s:{s:I, s:s}, s:s, s:o}}",
	    "update_id", (json_int_t)id, "callback_query", "id", qid,
	    "from", "id", (json_int_t)user, "first_name", "T", "data", data,
	    "message", msg_json(id, chat, ADMIN, "menu")));
}

/* ------------------------------------------------------------ tests */

static void
test_commands(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(msg(fx, 2, USER, USER, "/GO now"), 0);
	assert_int_equal(msg(fx, 3, GROUP, USER, "/Begin@OurBot"), 0);
	assert_int_equal(msg(fx, 4, GROUP, USER, "/start@ourbot x"), 0);
	assert_int_equal(msg(fx, 5, GROUP, USER, "/start@OtherBot"), 0);
	assert_int_equal(msg(fx, 6, GROUP, USER, "/go@other_bot"), 0);
	assert_int_equal(fx->calls, 4);
	assert_int_equal(fx_effects(fx, "start"), 4);
	assert_int_equal(fake_count(&fx->fake, "sendMessage"), 4);
	/* Ignored updates are still done. */
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM "
	    "processed_updates WHERE bot = 'testbot'"), 6);
	/* Replies go to the update's chat, after the commit. */
	assert_int_equal(fx->fake.calls[2].chat_id, GROUP);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM tg_outbox"), 4);
	assert_int_equal(bc_router_outbox_inflight(fx->r), 4);
	fake_complete_all(&fx->fake);
	assert_int_equal(bc_router_outbox_inflight(fx->r), 0);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM tg_outbox"), 0);
}

static void
test_unknown(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(msg(fx, 1, USER, USER, "/nosuch"), 0);
	assert_int_equal(fake_count(&fx->fake, "sendMessage"), 1);
	assert_non_null(strstr(fake_last_text(&fx->fake), "/help"));
	/* In a group: silence. */
	assert_int_equal(msg(fx, 2, GROUP, USER, "/nosuch"), 0);
	assert_int_equal(msg(fx, 3, GROUP, USER, "/nosuch@OurBot"), 0);
	assert_int_equal(fake_count(&fx->fake, "sendMessage"), 1);
	/* Plain messages go to on_message, other types to on_update. */
	assert_int_equal(msg(fx, 4, GROUP, USER, "hello all"), 0);
	assert_int_equal(fx_effects(fx, "msg:hello all"), 1);
	assert_int_equal(feed(fx, json_pack("{s:I, s:o}", "update_id",
	    (json_int_t)5, "edited_message", msg_json(5, USER, USER,
	    "edited"))), 0);
	assert_int_equal(feed(fx, json_pack("{s:I, s:{}}", "update_id",
	    (json_int_t)6, "poll")), 0);
	assert_int_equal(fx_effects(fx, "update:edited_message"), 1);
	assert_int_equal(fx_effects(fx, "update:other"), 1);
}

static void
test_scope(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(msg(fx, 1, GROUP, USER, "/priv"), 0);
	assert_string_equal(fake_last_text(&fx->fake),
	    "This command works only in a private chat with me.");
	assert_int_equal(msg(fx, 2, USER, USER, "/grp"), 0);
	assert_string_equal(fake_last_text(&fx->fake),
	    "This command works only in a group.");
	assert_int_equal(fx->calls, 0);
	assert_int_equal(msg(fx, 3, USER, USER, "/priv"), 0);
	assert_string_equal(fake_last_text(&fx->fake), "priv");
	assert_int_equal(msg(fx, 4, GROUP, USER, "/grp"), 0);
	assert_string_equal(fake_last_text(&fx->fake), "grp");
	assert_int_equal(fx->calls, 2);
}

static void
test_admin(void **state)
{
	struct fx *fx = *state;
	char *s;

	assert_int_equal(msg(fx, 1, GROUP, USER, "/give bob"), 0);
	assert_string_equal(fake_last_text(&fx->fake),
	    "This command is for admins only.");
	assert_int_equal(fx_effects(fx, "give:bob"), 0);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM admin_audit"), 0);

	assert_int_equal(msg(fx, 2, GROUP, ADMIN, "/give bob"), 0);
	assert_string_equal(fake_last_text(&fx->fake), "given");
	assert_int_equal(fx_effects(fx, "give:bob"), 1);
	/* The command itself, then the handler's own row. */
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM admin_audit "
	    "WHERE bot = 'testbot' AND admin_id = 1000"), 2);
	s = testdb_query1(fx->db, "SELECT action || ' ' || details::text FROM "
	    "admin_audit ORDER BY id LIMIT 1");
	assert_string_equal(s, "/give {\"args\": \"bob\", \"chat_id\": "
	    "-100500}");
	free(s);
	s = testdb_query1(fx->db, "SELECT action || ' ' ||"
	    " (details->>'amount') FROM admin_audit ORDER BY id DESC LIMIT 1");
	assert_string_equal(s, "coins.give 5");
	free(s);
	assert_true(bc_router_is_admin(fx->r, ADMIN));
	assert_false(bc_router_is_admin(fx->r, USER));
	assert_false(bc_router_is_admin(fx->r, 0));
}

static void
test_rate_limit(void **state)
{
	struct fx *fx = *state;

	/* Two per minute per user. */
	assert_int_equal(msg(fx, 1, USER, USER, "/roll"), 0);
	assert_int_equal(msg(fx, 2, USER, USER, "/roll"), 0);
	assert_int_equal(msg(fx, 3, USER, USER, "/roll"), 0);
	assert_int_equal(fx->calls, 2);
	assert_string_equal(fake_last_text(&fx->fake),
	    "Please wait 30 s before using this command again.");
	/* Told once per wait: trying again is ignored quietly. */
	assert_int_equal(fx->fake.n, 3);
	fake_now += 10000;
	assert_int_equal(msg(fx, 30, USER, USER, "/roll"), 0);
	assert_int_equal(fx->fake.n, 3);
	/* Another user is not limited by the first one. */
	assert_int_equal(msg(fx, 4, USER2, USER2, "/roll"), 0);
	assert_int_equal(fx->calls, 3);
	/* Half a minute refills one. */
	fake_now += 20000;
	assert_int_equal(msg(fx, 5, USER, USER, "/roll"), 0);
	assert_int_equal(fx->calls, 4);
	assert_string_equal(fake_last_text(&fx->fake), "roll");

	/* A cooldown of 5 s. */
	assert_int_equal(msg(fx, 6, USER, USER, "/cool"), 0);
	fake_now += 1500;
	assert_int_equal(msg(fx, 7, USER, USER, "/cool"), 0);
	assert_int_equal(fx->calls, 5);
	assert_string_equal(fake_last_text(&fx->fake),
	    "Please wait 4 s before using this command again.");
	fake_now += 3500;
	assert_int_equal(msg(fx, 8, USER, USER, "/cool"), 0);
	assert_int_equal(fx->calls, 6);
	assert_string_equal(fake_last_text(&fx->fake), "cool");
}

static void
test_texts(void **state)
{
	struct fx *fx = *state;
	struct bc_router_sender s = { fake_send_text, fake_call, &fx->fake };
	struct bc_router_texts t = { 0 };
	struct bc_router_opts o;
	char *cause = NULL;

	bc_router_free(fx->r);
	t.wait = "Подождите {s} с ({s})";
	t.unknown = "Не знаю такой команды";
	memset(&o, 0, sizeof o);
	o.bot = BOT;
	o.db = fx->db;
	o.sender = &s;
	o.cmds = test_cmds;
	o.ncmds = BC_NELEM(test_cmds);
	o.texts = &t;
	o.clock_ms = test_clock;
	o.arg = fx;
	fx->r = bc_router_new(&o, &cause);
	assert_non_null(fx->r);
	assert_int_equal(msg(fx, 1, USER, USER, "/cool"), 0);
	assert_int_equal(msg(fx, 2, USER, USER, "/cool"), 0);
	assert_string_equal(fake_last_text(&fx->fake),
	    "Подождите 5 с (5)");
	assert_int_equal(msg(fx, 3, USER, USER, "/what"), 0);
	assert_string_equal(fake_last_text(&fx->fake),
	    "Не знаю такой команды");
	/* Without a username, /cmd@anybot is not for us. */
	assert_int_equal(msg(fx, 4, USER, USER, "/start@OurBot"), 0);
	assert_int_equal(fx->calls, 1);
	bc_router_set_username(fx->r, "ourbot");
	assert_int_equal(msg(fx, 5, USER, USER, "/start@OurBot"), 0);
	assert_int_equal(fx->calls, 2);
}

static void
test_callbacks(void **state)
{
	struct fx *fx = *state;
	json_t *a;

	/* A handler that does not answer: the router does, once. */
	assert_int_equal(press(fx, 1, USER, USER, "shop:hat"), 0);
	assert_int_equal(fx_effects(fx, "shop:hat"), 1);
	assert_int_equal(fake_count(&fx->fake, "answerCallbackQuery"), 1);
	a = fake_last_answer(&fx->fake);
	assert_string_equal(json_string_value(json_object_get(a,
	    "callback_query_id")), "q1");
	assert_null(json_object_get(a, "text"));

	/* The longest prefix wins; the handler answers itself. */
	assert_int_equal(press(fx, 2, USER, USER, "shop:buy:7"), 0);
	assert_int_equal(fx_effects(fx, "buy:7"), 1);
	assert_int_equal(fake_count(&fx->fake, "answerCallbackQuery"), 2);
	a = fake_last_answer(&fx->fake);
	assert_string_equal(json_string_value(json_object_get(a, "text")),
	    "bought");
	assert_true(json_is_true(json_object_get(a, "show_alert")));

	/* No handler: answered anyway. */
	assert_int_equal(press(fx, 3, USER, USER, "zzz"), 0);
	assert_int_equal(fake_count(&fx->fake, "answerCallbackQuery"), 3);

	/* The handler fails after answering: one answer, the apology. */
	assert_int_equal(press(fx, 4, USER, USER, "boom!"), 0);
	assert_int_equal(fake_count(&fx->fake, "answerCallbackQuery"), 4);
	a = fake_last_answer(&fx->fake);
	assert_string_equal(json_string_value(json_object_get(a, "text")),
	    "Sorry, something went wrong. Please try again later.");
	assert_int_equal(fx_effects(fx, "boom"), 0);

	/* Admin-only buttons. */
	assert_int_equal(press(fx, 5, GROUP, USER, "adm:x"), 0);
	assert_int_equal(fx_effects(fx, "adm"), 0);
	a = fake_last_answer(&fx->fake);
	assert_string_equal(json_string_value(json_object_get(a, "text")),
	    "This command is for admins only.");
	assert_int_equal(press(fx, 6, GROUP, ADMIN, "adm:x"), 0);
	assert_int_equal(fx_effects(fx, "adm"), 1);
	assert_int_equal(fake_count(&fx->fake, "answerCallbackQuery"), 6);

	/* A redelivered callback is neither run nor answered again. */
	assert_int_equal(press(fx, 1, USER, USER, "shop:hat"), 0);
	assert_int_equal(fx_effects(fx, "shop:hat"), 1);
	assert_int_equal(fake_count(&fx->fake, "answerCallbackQuery"), 6);
	assert_int_equal(fake_count(&fx->fake, "sendMessage"), 0);
	fake_complete_all(&fx->fake);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM tg_outbox"), 0);
}

static void
test_conversation(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(msg(fx, 1, USER, USER, "/ask"), 0);
	assert_string_equal(fake_last_text(&fx->fake), "What is your name?");
	assert_int_equal(msg(fx, 2, USER, USER, "Ann"), 0);
	assert_string_equal(fake_last_text(&fx->fake), "How old are you?");
	/* Another user's message is not part of it. */
	assert_int_equal(msg(fx, 3, USER2, USER2, "Bob"), 0);
	assert_int_equal(fx_effects(fx, "msg:Bob"), 1);

	/* Survives a restart. */
	fx_restart(fx);
	assert_int_equal(msg(fx, 4, USER, USER, "33"), 0);
	assert_string_equal(fake_last_text(&fx->fake), "Thanks");
	assert_int_equal(fx_effects(fx, "ask:Ann:33"), 1);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM conversations"), 0);
	assert_int_equal(msg(fx, 5, USER, USER, "after"), 0);
	assert_int_equal(fx_effects(fx, "msg:after"), 1);

	/* /cancel ends one; then there is nothing to cancel. */
	assert_int_equal(msg(fx, 6, USER, USER, "/ask"), 0);
	assert_int_equal(msg(fx, 7, USER, USER, "/cancel"), 0);
	assert_string_equal(fake_last_text(&fx->fake), "Cancelled.");
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM conversations"), 0);
	assert_int_equal(msg(fx, 8, USER, USER, "Ann"), 0);
	assert_int_equal(fx_effects(fx, "msg:Ann"), 1);
	assert_int_equal(msg(fx, 9, USER, USER, "/CANCEL@OurBot"), 0);
	assert_string_equal(fake_last_text(&fx->fake),
	    "There is nothing to cancel.");
}

static void
test_conversation_expiry(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(msg(fx, 1, USER, USER, "/ask"), 0);
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM conversations"
	    " WHERE expires_at > now() + interval '59 minutes'"), 1);
	testdb_exec(fx->db, "UPDATE conversations SET expires_at = now() - "
	    "interval '1 second'");
	assert_int_equal(msg(fx, 2, USER, USER, "Ann"), 0);
	assert_int_equal(fx_effects(fx, "msg:Ann"), 1);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM conversations"), 0);
	/* An unknown kind (a bot that dropped a flow) is deleted too. */
	testdb_exec(fx->db, "INSERT INTO conversations (bot, chat_id, user_id, "
	    "name, ttl_ms, expires_at) VALUES ('testbot', 2000, 2000, 'gone',"
	    " 1000, now() + interval '1 hour')");
	assert_int_equal(msg(fx, 3, USER, USER, "Bob"), 0);
	assert_int_equal(fx_effects(fx, "msg:Bob"), 1);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM conversations"), 0);
}

static void
test_duplicate(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(msg(fx, 42, USER, USER, "/start"), 0);
	assert_int_equal(msg(fx, 42, USER, USER, "/start"), 0);
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx_effects(fx, "start"), 1);
	assert_int_equal(fake_count(&fx->fake, "sendMessage"), 1);
	fake_complete_all(&fx->fake);
	/* Also after a restart. */
	fx_restart(fx);
	assert_int_equal(msg(fx, 42, USER, USER, "/start"), 0);
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx_effects(fx, "start"), 1);
	assert_int_equal(fx->fake.n, 0);
	/* Old ids are pruned after 48 h, recent ones kept. */
	testdb_exec(fx->db, "UPDATE processed_updates"
	    " SET processed_at = now() - interval '49 hours'");
	assert_int_equal(msg(fx, 43, USER, USER, "x"), 0);
	fx_restart(fx);
	assert_int_equal(msg(fx, 44, USER, USER, "y"), 0);
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM "
	    "processed_updates"), 2);
}

static void
test_failure_rolls_back(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(msg(fx, 1, USER, USER, "/fail"), 0);
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx_effects(fx, "fail"), 0);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM conversations"), 0);
	/* Only the apology went out. */
	assert_int_equal(fx->fake.n, 1);
	assert_string_equal(fake_last_text(&fx->fake),
	    "Sorry, something went wrong. Please try again later.");
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM tg_outbox"
	    " WHERE params->>'text' = 'never sent'"), 0);
	/* Recorded: a redelivery is not run again. */
	assert_int_equal(msg(fx, 1, USER, USER, "/fail"), 0);
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->fake.n, 1);
}

static void
test_db_lost(void **state)
{
	struct fx *fx = *state;

	/* Lost in the middle of the handler. */
	fx->lost_mode = 1;
	assert_int_equal(msg(fx, 7, USER, USER, "/lost"), -1);
	assert_int_equal(fx->fake.n, 0);
	fx->lost_mode = 0;
	fx->backend_pid = testdb_int(fx->db, "SELECT pg_backend_pid()");
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM "
	    "processed_updates"), 0);
	assert_int_equal(fx_effects(fx, "lost"), 0);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM tg_outbox"), 0);

	/* Lost at the commit. */
	fx->lost_mode = 2;
	assert_int_equal(msg(fx, 7, USER, USER, "/lost"), -1);
	assert_int_equal(fx->fake.n, 0);
	fx->lost_mode = 0;
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM "
	    "processed_updates"), 0);

	/* Redelivered once the database is back: done once. */
	assert_int_equal(msg(fx, 7, USER, USER, "/lost"), 0);
	assert_int_equal(msg(fx, 7, USER, USER, "/lost"), 0);
	assert_int_equal(fx->calls, 3);
	assert_int_equal(fx_effects(fx, "lost"), 1);
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM "
	    "processed_updates"), 1);
	assert_int_equal(fx->fake.n, 1);
	assert_string_equal(fake_last_text(&fx->fake), "lost reply");
}

static void
test_conflict_retried(void **state)
{
	struct fx *fx = *state;

	/* Two serialization failures, then success: done once. */
	fx->conflicts = 2;
	assert_int_equal(msg(fx, 1, USER, USER, "/conflict"), 0);
	assert_int_equal(fx->calls, 3);
	assert_int_equal(fx_effects(fx, "conflict"), 1);
	assert_int_equal(fx->fake.n, 1);
	assert_string_equal(fake_last_text(&fx->fake), "done");
	/* Conflicts every time: given up after three runs, apology. */
	fx->conflicts = 100;
	assert_int_equal(msg(fx, 2, USER, USER, "/conflict"), 0);
	assert_int_equal(fx->calls, 6);
	assert_int_equal(fx_effects(fx, "conflict"), 1);
	assert_int_equal(fx->fake.n, 2);
	assert_string_equal(fake_last_text(&fx->fake),
	    "Sorry, something went wrong. Please try again later.");
	/* A transaction left open by the bot: retry later, do nothing. */
	assert_int_equal(bc_db_begin(fx->db, NULL), 0);
	assert_int_equal(msg(fx, 3, USER, USER, "/start"), -1);
	assert_int_equal(bc_db_rollback(fx->db), 0);
	assert_int_equal(fx_effects(fx, "start"), 0);
}

static void
test_outbox_restart(void **state)
{
	struct fx *fx = *state;
	char *cause = NULL, *s;

	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(msg(fx, 2, USER2, USER2, "/start"), 0);
	assert_int_equal(msg(fx, 3, GROUP, USER, "/start"), 0);
	assert_int_equal(fx->fake.n, 3);
	/* The first is accepted, the second refused; then a crash. */
	fake_complete(&fx->fake, 0, 0, NULL);
	fake_complete(&fx->fake, 1, 403, "Forbidden: bot was blocked");
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM tg_outbox"
	    " WHERE failed_at IS NULL"), 1);
	s = testdb_query1(fx->db, "SELECT error FROM tg_outbox"
	    " WHERE failed_at IS NOT NULL");
	assert_string_equal(s, "Forbidden: bot was blocked");
	free(s);
	fx_restart(fx);
	/* The next process sends the pending row first, once. */
	assert_int_equal(bc_router_start(fx->r, &cause), 0);
	assert_int_equal(bc_router_start(fx->r, &cause), 0);
	assert_int_equal(fx->fake.n, 1);
	assert_int_equal(fx->fake.calls[0].chat_id, GROUP);
	assert_string_equal(fx->fake.calls[0].text, "hello");
	/* A transient failure keeps the row for a later try. */
	fake_complete(&fx->fake, 0, 502, "Bad Gateway");
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM tg_outbox"
	    " WHERE failed_at IS NULL"), 1);
	fx_restart(fx);
	assert_int_equal(msg(fx, 4, USER, USER, "/start"), 0);
	assert_int_equal(fx->fake.n, 2);
	assert_int_equal(fx->fake.calls[0].chat_id, GROUP);
	assert_int_equal(fx->fake.calls[1].chat_id, USER);
	fake_complete_all(&fx->fake);
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM tg_outbox"
	    " WHERE failed_at IS NULL"), 0);
}

static void
test_outbox_refused_queue(void **state)
{
	struct fx *fx = *state;

	/* The sender cannot queue: the row stays for the next start. */
	fx->fake.refuse = 1;
	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(bc_router_outbox_inflight(fx->r), 0);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM tg_outbox"), 1);
	fx_restart(fx);
	assert_int_equal(msg(fx, 2, USER, USER, "/priv"), 0);
	assert_int_equal(fx->fake.n, 2);
	assert_string_equal(fx->fake.calls[0].text, "hello");
	assert_string_equal(fx->fake.calls[1].text, "priv");
}

/* A scheduled job: sends go out only if it commits. */
static int
job_send(struct bc_router_ctx *ctx)
{
	int *fail = ctx->arg;

	assert_null(ctx->u);
	assert_int_equal(bc_router_reply(ctx, "no chat", 0, NULL), -1);
	if (bc_router_send(ctx, GROUP, "reminder", BC_TG_HTML, NULL) == -1)
		return -1;
	if (bc_router_call(ctx, "pinChatMessage", json_pack("{s:I, s:i}",
	    "chat_id", (json_int_t)GROUP, "message_id", 5), 0) == -1)
		return -1;
	assert_int_equal(bc_router_call(ctx, "bad method!", json_object(), 0),
	    -1);
	assert_int_equal(bc_router_send(ctx, GROUP, "bad \xff utf8", 0, NULL),
	    -1);
	return *fail ? -1 : 0;
}

static void
test_run_job(void **state)
{
	struct fx *fx = *state;
	char *cause = NULL;
	int fail = 1;

	assert_int_equal(bc_router_run(fx->r, job_send, &fail, &cause), -1);
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	assert_int_equal(fx->fake.n, 0);
	fail = 0;
	assert_int_equal(bc_router_run(fx->r, job_send, &fail, &cause), 0);
	assert_null(cause);
	assert_int_equal(fx->fake.n, 2);
	assert_string_equal(fx->fake.calls[0].method, "sendMessage");
	assert_int_equal(fx->fake.calls[0].flags, BC_TG_HTML);
	assert_string_equal(fx->fake.calls[1].method, "pinChatMessage");
	fake_complete_all(&fx->fake);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM tg_outbox"), 0);
}

/* An outbox row the database refuses fails the commit batch. */
static void
test_outbox_row_refused(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(msg(fx, 1, USER, USER, "/nul"), 0);
	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx_effects(fx, "nul"), 0);
	assert_int_equal(fx->fake.n, 1);
	assert_string_equal(fake_last_text(&fx->fake),
	    "Sorry, something went wrong. Please try again later.");
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM "
	    "processed_updates"), 1);
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM tg_outbox"),
	    1);
	assert_int_equal(bc_db_in_tx(fx->db), 0);
	/* The next update goes through as usual. */
	assert_int_equal(msg(fx, 2, USER, USER, "/start"), 0);
	assert_int_equal(fx->fake.n, 2);
	assert_string_equal(fake_last_text(&fx->fake), "hello");
}

/* A router with batches of up to max updates a transaction. */
static void
fx_batches(struct fx *fx, size_t max)
{
	fx->batch_max = max;
	fx_restart(fx);
}

/* Begin a batch of the updates with these ids, as tg would. */
#define BATCH(fx, ...)							\
	bc_router_batch_begin((fx)->r,					\
	    (const int64_t []){ __VA_ARGS__ },				\
	    sizeof((const int64_t []){ __VA_ARGS__ }) / sizeof(int64_t))

static int64_t
fx_processed(struct fx *fx)
{
	return testdb_int(fx->db, "SELECT count(*) FROM processed_updates");
}

/* One transaction for the batch; a failed handler stays alone. */
static void
test_batch(void **state)
{
	struct fx *fx = *state;

	fx_batches(fx, 50);
	/* 6 is never handled (a stop): its record goes with the commit. */
	BATCH(fx, 1, 2, 3, 4, 5, 6);
	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(msg(fx, 2, USER2, USER2, "/start"), 0);
	assert_int_equal(msg(fx, 3, USER, USER, "/fail"), 0);
	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);	/* again */
	fx->conflicts = 1;
	assert_int_equal(msg(fx, 4, USER, USER, "/conflict"), 0);
	/* Unknown: a reply and no statement (the savepoint never sent). */
	assert_int_equal(msg(fx, 5, USER, USER, "/help"), 0);
	/* Nothing leaves before the commit. */
	assert_int_equal(bc_db_in_tx(fx->db), 1);
	assert_int_equal(fx->fake.n, 0);
	assert_int_equal(bc_router_batch_end(fx->r), 0);
	assert_int_equal(bc_db_in_tx(fx->db), 0);
	/* start x2, fail, conflict twice (retried at its savepoint). */
	assert_int_equal(fx->calls, 5);
	assert_int_equal(fx_effects(fx, "start"), 2);
	assert_int_equal(fx_effects(fx, "fail"), 0);
	assert_int_equal(fx_effects(fx, "conflict"), 1);
	assert_int_equal(fx_processed(fx), 5);
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM "
	    "processed_updates WHERE update_id = 6"), 0);
	assert_int_equal(fake_count(&fx->fake, "sendMessage"), 5);
	assert_string_equal(fx->fake.calls[2].text,
	    "Sorry, something went wrong. Please try again later.");
	assert_string_equal(fx->fake.calls[3].text, "done");
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM tg_outbox"),
	    5);
	fake_complete_all(&fx->fake);
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM tg_outbox"),
	    0);
	/* Redelivered: all duplicates; 6 comes now. */
	BATCH(fx, 1, 3, 6);
	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(msg(fx, 3, USER, USER, "/fail"), 0);
	assert_int_equal(fx->fake.n, 5);
	assert_int_equal(msg(fx, 6, USER, USER, "/start"), 0);
	/* The last one recorded: committed at once. */
	assert_int_equal(bc_db_in_tx(fx->db), 0);
	assert_int_equal(fx->fake.n, 6);
	assert_int_equal(bc_router_batch_end(fx->r), 0);
	assert_int_equal(fx->calls, 6);
	assert_int_equal(fx_processed(fx), 6);
	/* Outside a batch: one transaction each, as without batches. */
	assert_int_equal(msg(fx, 7, USER, USER, "/start"), 0);
	assert_int_equal(bc_db_in_tx(fx->db), 0);
	assert_int_equal(fx->fake.n, 7);
	/* Ids not announced: recorded one by one, still batched. */
	BATCH(fx, 100);
	assert_int_equal(msg(fx, 8, USER, USER, "/start"), 0);
	assert_int_equal(msg(fx, 8, USER, USER, "/start"), 0);
	assert_int_equal(fx->fake.n, 7);
	assert_int_equal(bc_router_batch_end(fx->r), 0);
	assert_int_equal(fx->fake.n, 8);
	assert_int_equal(fx->calls, 8);
}

/* Every batch_max updates, a commit: their replies leave at once. */
static void
test_batch_max(void **state)
{
	struct fx *fx = *state;

	fx_batches(fx, 2);
	BATCH(fx, 1, 2, 3, 4);
	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(fx->fake.n, 0);
	assert_int_equal(msg(fx, 2, USER, USER, "/start"), 0);
	assert_int_equal(fx->fake.n, 2);
	assert_int_equal(bc_db_in_tx(fx->db), 0);
	assert_int_equal(msg(fx, 3, USER, USER, "/start"), 0);
	assert_int_equal(fx->fake.n, 2);
	assert_int_equal(bc_router_batch_end(fx->r), 0);
	assert_int_equal(fx->fake.n, 3);
	assert_int_equal(fx_processed(fx), 3);
	/* Without batch_max, begin and end change nothing. */
	fake_complete_all(&fx->fake);
	fx_batches(fx, 0);
	BATCH(fx, 4, 5);
	assert_int_equal(msg(fx, 4, USER, USER, "/start"), 0);
	assert_int_equal(fx->fake.n, 1);
	assert_int_equal(bc_router_batch_end(fx->r), 0);
	assert_int_equal(fx_processed(fx), 4);
}

/* The database lost mid-batch: nothing of it stays, all comes again. */
static void
test_batch_lost(void **state)
{
	struct fx *fx = *state;

	fx_batches(fx, 50);
	BATCH(fx, 10, 11, 12);
	assert_int_equal(msg(fx, 10, USER, USER, "/start"), 0);
	fx->lost_mode = 1;
	assert_int_equal(msg(fx, 11, USER, USER, "/lost"), -1);
	fx->lost_mode = 0;
	assert_int_equal(msg(fx, 12, USER2, USER2, "/start"), -1);
	assert_int_equal(bc_router_batch_end(fx->r), -1);
	assert_int_equal(fx->calls, 2);
	assert_int_equal(fx->fake.n, 0);
	assert_int_equal(bc_db_in_tx(fx->db), 0);
	fx->backend_pid = testdb_int(fx->db, "SELECT pg_backend_pid()");
	assert_int_equal(fx_processed(fx), 0);
	assert_int_equal(fx_effects(fx, "start"), 0);
	/* Lost at the commit of the batch (after its last update). */
	BATCH(fx, 10, 11, 12);
	assert_int_equal(msg(fx, 10, USER, USER, "/start"), 0);
	fx->lost_mode = 2;
	assert_int_equal(msg(fx, 11, USER, USER, "/lost"), 0);
	fx->lost_mode = 0;
	assert_int_equal(bc_router_batch_end(fx->r), -1);
	assert_int_equal(fx->fake.n, 0);
	fx->backend_pid = testdb_int(fx->db, "SELECT pg_backend_pid()");
	assert_int_equal(fx_processed(fx), 0);
	/* Delivered again: each done once. */
	BATCH(fx, 10, 11, 12);
	assert_int_equal(msg(fx, 10, USER, USER, "/start"), 0);
	assert_int_equal(msg(fx, 11, USER, USER, "/lost"), 0);
	assert_int_equal(msg(fx, 12, USER2, USER2, "/start"), 0);
	assert_int_equal(bc_router_batch_end(fx->r), 0);
	assert_int_equal(fx_processed(fx), 3);
	assert_int_equal(fx_effects(fx, "start"), 2);
	assert_int_equal(fx_effects(fx, "lost"), 1);
	assert_int_equal(fx->fake.n, 3);
}

/* A commit refused with the database up: the batch comes again one
 * update a transaction, and only the update at fault fails. */
static void
test_batch_commit_refused(void **state)
{
	struct fx *fx = *state;

	fx_batches(fx, 50);
	BATCH(fx, 1, 2, 3);
	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(msg(fx, 2, USER, USER, "/nul"), 0);
	/* The last one: the commit, refused. */
	assert_int_equal(msg(fx, 3, USER2, USER2, "/start"), -1);
	assert_int_equal(bc_router_batch_end(fx->r), -1);
	assert_int_equal(fx->fake.n, 0);
	assert_int_equal(fx_processed(fx), 0);
	BATCH(fx, 1, 2, 3);
	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(fx->fake.n, 1);	/* committed alone */
	assert_int_equal(msg(fx, 2, USER, USER, "/nul"), 0);
	assert_int_equal(msg(fx, 3, USER2, USER2, "/start"), 0);
	assert_int_equal(bc_router_batch_end(fx->r), 0);
	assert_int_equal(fx_processed(fx), 3);
	assert_int_equal(fx_effects(fx, "start"), 2);
	assert_int_equal(fx_effects(fx, "nul"), 0);
	assert_int_equal(fx->fake.n, 3);
	assert_string_equal(fx->fake.calls[1].text,
	    "Sorry, something went wrong. Please try again later.");
	/* And the batch after that is one transaction again. */
	BATCH(fx, 4, 5);
	assert_int_equal(msg(fx, 4, USER, USER, "/start"), 0);
	assert_int_equal(fx->fake.n, 3);
	assert_int_equal(bc_router_batch_end(fx->r), 0);
	assert_int_equal(fx->fake.n, 4);
}

/* A prepared statement lost mid-transaction: run again, done once. */
static void
test_stale_statement_retried(void **state)
{
	struct fx *fx = *state;

	fx->deallocs = 1;
	assert_int_equal(msg(fx, 1, USER, USER, "/stale"), 0);
	assert_int_equal(fx->calls, 2);
	assert_int_equal(fx_effects(fx, "stale"), 1);
	assert_int_equal(fx_effects(fx, "stale2"), 1);
	assert_int_equal(fx->fake.n, 1);
	assert_string_equal(fake_last_text(&fx->fake), "fresh");
}

static void
loop_stop(void *arg)
{
	(void)arg;
	bc_ev_stop();
}

/*
 * Turn the event loop until a timer set now for 1 ms fires: every timer
 * due earlier (the router's flush at the next turn) has fired by then.
 */
static void
loop_turn(void)
{
	struct bc_timer *t;

	t = bc_timer_new(loop_stop, NULL);
	bc_timer_start(t, 1);
	assert_int_equal(bc_ev_run(), 0);
	bc_timer_free(t);
}

static int64_t
outbox_pending(struct fx *fx)
{
	return testdb_int(fx->db, "SELECT count(*) FROM tg_outbox"
	    " WHERE failed_at IS NULL");
}

/* The default: accepted rows are deleted together, at the next turn. */
static void
test_outbox_batched(void **state)
{
	struct fx *fx = *state;
	size_t i;

	assert_int_equal(bc_ev_init(), 0);
	fx->flush_ms = 0;
	fx_restart(fx);
	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(msg(fx, 2, USER2, USER2, "/start"), 0);
	assert_int_equal(msg(fx, 3, GROUP, USER, "/start"), 0);
	fake_complete(&fx->fake, 0, 0, NULL);
	fake_complete(&fx->fake, 1, 403, "Forbidden: bot was blocked");
	assert_int_equal(outbox_pending(fx), 3);
	loop_turn();
	assert_int_equal(outbox_pending(fx), 1);
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM tg_outbox"
	    " WHERE error = 'Forbidden: bot was blocked'"), 1);

	/* 64 waiting go at once, without the loop. */
	for (i = 0; i < 70; i++)
		assert_int_equal(msg(fx, 10 + (int64_t)i, USER, USER,
		    "/start"), 0);
	assert_int_equal(fx->fake.n, 73);
	for (i = 3; i < 66; i++)
		fake_complete(&fx->fake, i, 0, NULL);
	assert_int_equal(outbox_pending(fx), 71);
	fake_complete(&fx->fake, 66, 0, NULL);
	assert_int_equal(outbox_pending(fx), 7);
	/* Freeing the router deletes what waits. */
	fake_complete_all(&fx->fake);
	assert_int_equal(outbox_pending(fx), 7);
	fx_restart(fx);
	assert_int_equal(outbox_pending(fx), 0);
	bc_ev_free();
}

/* Does the exposition text contain line? */
static int
has_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
		p += n;
	}
	return 0;
}

static void
test_metrics(void **state)
{
	struct fx *fx = *state;
	char *t;

	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(msg(fx, 2, USER, USER, "/fail"), 0);
	assert_int_equal(msg(fx, 3, GROUP, USER, "/give x"), 0);
	t = bc_metrics_render(fx->metrics, NULL);
	assert_true(has_line(t, "bot_updates_total{type=\"message\","
	    "command=\"start\",outcome=\"ok\"} 1"));
	assert_true(has_line(t, "bot_updates_total{type=\"message\","
	    "command=\"\",outcome=\"duplicate\"} 1"));
	assert_true(has_line(t, "bot_updates_total{type=\"message\","
	    "command=\"fail\",outcome=\"failed\"} 1"));
	assert_true(has_line(t, "bot_updates_duplicate_total 1"));
	assert_true(has_line(t, "bot_admin_refused_total 1"));
	assert_true(has_line(t,
	    "bot_handler_duration_seconds_count{type=\"message\"} 4"));
	assert_true(has_line(t, "bot_outbox_inflight 3"));
	free(t);
	fake_complete_all(&fx->fake);
	t = bc_metrics_render(fx->metrics, NULL);
	assert_true(has_line(t, "bot_outbox_inflight 0"));
	free(t);
}

static void
test_help_and_options(void **state)
{
	struct fx *fx = *state;
	static const struct bc_cmd_entry dup[] = {
		{ "a", { "b", NULL }, BC_CMD_ANY, 0, 0, 0, NULL, cmd_echo },
		{ "B", { NULL }, BC_CMD_ANY, 0, 0, 0, NULL, cmd_echo },
	};
	struct bc_router_opts o;
	char *h, *cause = NULL;
	bc_tg_update_cb *cb = bc_router_update_cb;

	/* The router is a tg update callback as it is. */
	assert_int_equal(msg(fx, 1, USER, USER, "/start"), 0);
	assert_int_equal(cb(NULL, NULL, fx->r), -1);
	h = bc_router_help(fx->r, 0, 1);
	assert_string_equal(h, "/start\n/priv private only\n/roll roll a "
	    "die\n/cool\n/ask a conversation\n");
	free(h);
	h = bc_router_help(fx->r, 1, 0);
	assert_string_equal(h, "/start\n/give <user>\n/grp group only\n"
	    "/roll roll a die\n/cool\n");
	free(h);

	memset(&o, 0, sizeof o);
	assert_null(bc_router_new(&o, &cause));
	assert_string_equal(cause, "router: no bot name");
	free(cause);
	o.bot = "x";
	o.db = fx->db;
	assert_null(bc_router_new(&o, &cause));
	assert_string_equal(cause, "router: no Telegram client or sender");
	free(cause);
	o.sender = &(struct bc_router_sender){ fake_send_text, fake_call,
	    NULL };
	o.cmds = dup;
	o.ncmds = BC_NELEM(dup);
	assert_null(bc_router_new(&o, &cause));
	assert_string_equal(cause,
	    "command name \"B\" is used twice or empty");
	free(cause);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_commands),
		T(test_unknown),
		T(test_scope),
		T(test_admin),
		T(test_rate_limit),
		T(test_texts),
		T(test_callbacks),
		T(test_conversation),
		T(test_conversation_expiry),
		T(test_duplicate),
		T(test_failure_rolls_back),
		T(test_db_lost),
		T(test_conflict_retried),
		T(test_outbox_restart),
		T(test_outbox_refused_queue),
		T(test_run_job),
		T(test_outbox_row_refused),
		T(test_batch),
		T(test_batch_max),
		T(test_batch_lost),
		T(test_batch_commit_refused),
		T(test_stale_statement_retried),
		T(test_outbox_batched),
		T(test_metrics),
		T(test_help_and_options),
	};

	log_init("test_router", LOG_LEVEL_WARN, 0);
	return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
