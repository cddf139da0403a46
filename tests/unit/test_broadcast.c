/*
 * broadcast: jobs in PostgreSQL (one database per test), paced sends
 * through a fake sender on the event loop, resume after an interruption
 * without duplicates, and permanent failures recorded.
 */

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

#include <botcommon/broadcast.h>
#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "support/testdb.h"

#define BOT		"testbot"
#define NCHATS		500
#define CHAT(i)		((i) % 2 == 0 ? (int64_t)(i) + 1 : -(int64_t)(i) - 1)
#define INDEX(c)	((c) > 0 ? (size_t)(c) - 1 : (size_t)(-(c)) - 1)

/* ------------------------------------------------------------ fake */

struct bcall {
	int64_t		 chat_id;
	int		 flags;
	bc_tg_cb	*cb;
	void		*cbarg;
	int		 state;		/* 0 pending, 1 completed, 2 dropped */
};

struct fx {
	struct testdb	 t;
	struct bc_db	*db;		/* connected to t */
	struct bc_broadcast *b;

	struct bcall	*calls;
	size_t		 ncalls;
	size_t		 cap;
	size_t		 next;		/* first call not yet completed */
	struct bc_timer	*completer;
	struct bc_timer	*watchdog;
	int		 timed_out;
	size_t		 completed;
	size_t		 stop_after;	/* 0: never */
	int		 inflight;
	int		 max_inflight;
	int		*delivered;	/* per INDEX(chat) */
	int		*attempts;
	int		 ndone;		/* progress reports with done */
	int64_t		 cancel_job;	/* cancel it after cancel_at sent */
	int64_t		 cancel_at;
	struct bc_broadcast_progress last;
	int64_t		 first_ms;
	int64_t		 last_ms;
};

/* What Telegram says about a chat: 0 ok, else an error code. */
static int
verdict(int64_t chat, const char **desc, int64_t *migrated)
{
	*desc = "";
	*migrated = 0;
	switch (chat) {
	case 3:
		*desc = "Forbidden: bot was blocked by the user";
		return 403;
	case 5:
		*desc = "Bad Request: chat not found";
		return 400;
	case 7:
		*desc = "Bad Gateway";
		return 502;
	case -8:
		*migrated = -1008;
		return 0;
	default:
		return 0;
	}
}

static void
complete_one(struct fx *fx, struct bcall *c)
{
	struct bc_tg_result res;
	int64_t migrated;
	int code;

	memset(&res, 0, sizeof res);
	code = verdict(c->chat_id, &res.description, &migrated);
	res.ok = code == 0;
	res.status = code == 0 ? 200 : code;
	res.error_code = code;
	res.migrated_to = migrated;
	res.attempts = 1;
	if (code == 0)
		fx->delivered[INDEX(c->chat_id)]++;
	c->state = 1;
	fx->inflight--;
	fx->completed++;
	c->cb(&res, c->cbarg);
}

/* Telegram answers everything sent so far, from the loop. */
static void
completer_cb(void *arg)
{
	struct fx *fx = arg;
	size_t end = fx->ncalls, i;

	for (; fx->next < end; fx->next++) {
		if (fx->stop_after > 0 && fx->completed == fx->stop_after) {
			/* The process dies: the rest never reach Telegram. */
			for (i = fx->next; i < fx->ncalls; i++)
				fx->calls[i].state = 2;
			fx->next = fx->ncalls;
			fx->inflight = 0;
			bc_ev_stop();
			return;
		}
		complete_one(fx, &fx->calls[fx->next]);
	}
}

static int
fake_send_text(void *arg, int64_t chat_id, const char *text, int flags,
    json_t *markup, bc_tg_cb *cb, void *cbarg)
{
	struct fx *fx = arg;
	struct bcall *c;

	assert_string_equal(text, "<b>news</b>");
	assert_null(markup);
	if (fx->ncalls == fx->cap) {
		fx->cap = fx->cap == 0 ? 64 : fx->cap * 2;
		fx->calls = xreallocarray(fx->calls, fx->cap,
		    sizeof *fx->calls);
	}
	c = &fx->calls[fx->ncalls++];
	memset(c, 0, sizeof *c);
	c->chat_id = chat_id;
	c->flags = flags;
	c->cb = cb;
	c->cbarg = cbarg;
	fx->attempts[INDEX(chat_id)]++;
	if (++fx->inflight > fx->max_inflight)
		fx->max_inflight = fx->inflight;
	if (fx->first_ms == 0)
		fx->first_ms = bc_now_ms();
	fx->last_ms = bc_now_ms();
	if (!bc_timer_pending(fx->completer))
		bc_timer_start(fx->completer, 0);
	return 0;
}

static int
fake_call(void *arg, const char *method, json_t *params, int flags,
    bc_tg_cb *cb, void *cbarg)
{
	(void)arg;
	(void)method;
	(void)flags;
	(void)cb;
	(void)cbarg;
	json_decref(params);
	fail_msg("broadcast used call()");
	return -1;
}

static void
progress_cb(const struct bc_broadcast_progress *p, void *arg)
{
	struct fx *fx = arg;

	char *cause = NULL;

	assert_int_equal(p->total, p->sent + p->failed + p->pending);
	fx->last = *p;
	if (fx->cancel_job != 0 && p->sent == fx->cancel_at) {
		assert_int_equal(bc_broadcast_cancel(fx->db, fx->cancel_job,
		    &cause), 0);
		fx->cancel_job = 0;
	}
	if (p->done) {
		fx->ndone++;
		bc_ev_stop();
	}
}

static void
watchdog_cb(void *arg)
{
	struct fx *fx = arg;

	fx->timed_out = 1;
	bc_ev_stop();
}

/* ------------------------------------------------------------ fixture */

static void
fx_runner(struct fx *fx, double rate, int inflight, int attempts)
{
	struct bc_router_sender s = { fake_send_text, fake_call, fx };
	struct bc_broadcast_opts o;
	char *cause = NULL;

	memset(&o, 0, sizeof o);
	o.bot = BOT;
	o.db = fx->db;
	o.sender = &s;
	o.rate = rate;
	o.max_inflight = inflight;
	o.max_attempts = attempts;
	o.poll_ms = -1;
	o.progress = progress_cb;
	o.arg = fx;
	if ((fx->b = bc_broadcast_new(&o, &cause)) == NULL)
		fail_msg("bc_broadcast_new: %s", cause);
}

/* Run the loop until a job is done, the fake stops, or 60 s pass. */
static void
fx_loop(struct fx *fx)
{
	char *cause = NULL;

	bc_timer_start(fx->watchdog, 60000);
	if (bc_broadcast_run(fx->b, &cause) == -1)
		fail_msg("bc_broadcast_run: %s", cause);
	assert_int_equal(bc_ev_run(), 0);
	bc_timer_stop(fx->watchdog);
	assert_false(fx->timed_out);
}

static int
setup(void **state)
{
	struct fx *fx;

	fx = xcalloc(1, sizeof *fx);
	testdb_create(&fx->t, "t_bcast");
	fx->db = testdb_open(&fx->t, NULL);
	testdb_migrate(fx->db);
	fx->delivered = xcalloc(NCHATS + 1, sizeof *fx->delivered);
	fx->attempts = xcalloc(NCHATS + 1, sizeof *fx->attempts);
	fx->completer = bc_timer_new(completer_cb, fx);
	fx->watchdog = bc_timer_new(watchdog_cb, fx);
	*state = fx;
	return 0;
}

/* The process dies: calls not answered are lost with it. */
static void
fx_crash(struct fx *fx)
{
	bc_timer_stop(fx->completer);
	free(fx->calls);
	fx->calls = NULL;
	fx->ncalls = fx->cap = fx->next = 0;
	fx->inflight = 0;
	bc_broadcast_free(fx->b);
	fx->b = NULL;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	fx_crash(fx);
	bc_timer_free(fx->completer);
	bc_timer_free(fx->watchdog);
	free(fx->delivered);
	free(fx->attempts);
	bc_db_close(fx->db);
	testdb_drop(&fx->t);
	free(fx);
	return 0;
}

static int64_t
fx_create(struct fx *fx, const char *bot, size_t n)
{
	int64_t *ids, id;
	char *cause = NULL;
	size_t i;

	ids = xcalloc(n, sizeof *ids);
	for (i = 0; i < n; i++)
		ids[i] = CHAT(i);
	id = bc_broadcast_create(fx->db, bot, "<b>news</b>", BC_TG_HTML, ids,
	    n, &cause);
	free(ids);
	if (id == -1)
		fail_msg("create: %s", cause);
	return id;
}

/* ------------------------------------------------------------ tests */

static void
test_create(void **state)
{
	struct fx *fx = *state;
	struct bc_broadcast_progress p;
	int64_t ids[] = { 10, 20, 10, -30 }, zero[] = { 1, 0 }, id;
	char *cause = NULL;

	id = fx_create(fx, BOT, NCHATS);
	assert_true(id > 0);
	assert_int_equal(bc_broadcast_status(fx->db, id, &p, &cause), 0);
	assert_int_equal(p.job_id, id);
	assert_int_equal(p.total, NCHATS);
	assert_int_equal(p.pending, NCHATS);
	assert_int_equal(p.sent + p.failed, 0);
	assert_false(p.done);

	/* Duplicates count once. */
	id = bc_broadcast_create(fx->db, BOT, "x", 0, ids, 4, &cause);
	assert_true(id > 0);
	assert_int_equal(bc_broadcast_status(fx->db, id, &p, &cause), 0);
	assert_int_equal(p.total, 3);

	/* Bad input. */
	assert_int_equal(bc_broadcast_create(fx->db, BOT, "", 0, ids, 4,
	    &cause), -1);
	assert_string_equal(cause, "broadcast: text is empty or not UTF-8");
	free(cause);
	assert_int_equal(bc_broadcast_create(fx->db, BOT, "a\xc3", 0, ids, 4,
	    &cause), -1);
	free(cause);
	assert_int_equal(bc_broadcast_create(fx->db, BOT, "x", 0, ids, 0,
	    &cause), -1);
	assert_string_equal(cause, "broadcast: no recipients");
	free(cause);
	assert_int_equal(bc_broadcast_create(fx->db, BOT, "x", 0, zero, 2,
	    &cause), -1);
	assert_string_equal(cause, "broadcast: chat id 0");
	free(cause);
	assert_int_equal(bc_broadcast_status(fx->db, 999999, &p, &cause), -1);
	assert_string_equal(cause, "no broadcast job 999999");
	free(cause);

	/* Inside the caller's transaction: gone with its rollback. */
	assert_int_equal(bc_db_begin(fx->db, &cause), 0);
	assert_true(bc_broadcast_create(fx->db, BOT, "x", 0, ids, 4,
	    &cause) > 0);
	assert_int_equal(bc_db_rollback(fx->db), 0);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM broadcast_jobs"), 2);
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM "
	    "broadcast_recipients"), NCHATS + 3);
}

static void
test_interrupted_resume(void **state)
{
	struct fx *fx = *state;
	struct bc_broadcast_progress p;
	char *cause = NULL;
	int64_t id, other;
	size_t i, total = 0;

	id = fx_create(fx, BOT, NCHATS);
	other = fx_create(fx, "otherbot", 3);

	/* Stop after 200 completions, as if the process died. */
	fx_runner(fx, 5000, 4, 3);
	fx->stop_after = 200;
	fx_loop(fx);
	assert_int_equal(fx->completed, 200);
	assert_int_equal(fx->ndone, 0);
	assert_int_equal(bc_broadcast_status(fx->db, id, &p, &cause), 0);
	/* Each completion was written before the next send. */
	assert_int_equal(p.sent + p.failed, 200);
	fx_crash(fx);

	/* A new process resumes the job. */
	fx->stop_after = 0;
	fx_runner(fx, 5000, 4, 3);
	fx_loop(fx);
	assert_int_equal(fx->ndone, 1);
	assert_true(fx->last.done);
	assert_int_equal(fx->last.job_id, id);
	assert_true(fx->max_inflight <= 4);
	assert_true(fx->max_inflight >= 2);
	for (i = 0; i < NCHATS; i++) {
		if (CHAT(i) == 3 || CHAT(i) == 5 || CHAT(i) == 7)
			assert_int_equal(fx->delivered[i], 0);
		else
			assert_int_equal(fx->delivered[i], 1);
		total += (size_t)fx->delivered[i];
	}
	assert_int_equal(total, NCHATS - 3);
	assert_int_equal(bc_broadcast_status(fx->db, id, &p, &cause), 0);
	assert_int_equal(p.sent, NCHATS - 3);
	assert_int_equal(p.failed, 3);
	assert_int_equal(p.pending, 0);
	assert_true(p.done);
	assert_true(bc_broadcast_idle(fx->b));
	/* Another bot's job is not ours to send. */
	assert_int_equal(bc_broadcast_status(fx->db, other, &p, &cause), 0);
	assert_int_equal(p.pending, 3);
	assert_false(p.done);
}

static void
test_failures(void **state)
{
	struct fx *fx = *state;
	struct bc_broadcast_progress p;
	char *cause = NULL;
	int64_t id;

	id = fx_create(fx, BOT, 10);
	fx_runner(fx, 1000, 2, 2);
	fx_loop(fx);
	assert_int_equal(fx->ndone, 1);
	assert_int_equal(bc_broadcast_status(fx->db, id, &p, &cause), 0);
	assert_int_equal(p.sent, 7);
	assert_int_equal(p.failed, 3);
	/* Refused for good: tried once, not again. */
	assert_int_equal(fx->attempts[INDEX(3)], 1);
	assert_int_equal(fx->attempts[INDEX(5)], 1);
	/* Transient: tried max_attempts times, then failed. */
	assert_int_equal(fx->attempts[INDEX(7)], 2);
	assert_int_equal(testdb_int(fx->db, "SELECT count(*) FROM "
	    "broadcast_recipients WHERE status = 'failed' AND ((chat_id = 3 "
	    "AND error LIKE 'Forbidden%') OR (chat_id = 5 AND error LIKE "
	    "'%chat not found') OR (chat_id = 7 AND attempts = 2))"), 3);
	/* The group that became a supergroup. */
	assert_int_equal(testdb_int(fx->db, "SELECT migrated_to FROM "
	    "broadcast_recipients WHERE chat_id = -8 AND status = 'sent'"),
	    -1008);
	assert_int_equal(fx->calls[0].flags, BC_TG_HTML | BC_TG_BULK);
	/* Nothing more on a new run. */
	fx_crash(fx);
	fx_runner(fx, 1000, 2, 2);
	assert_int_equal(bc_broadcast_run(fx->b, &cause), 0);
	assert_true(bc_broadcast_idle(fx->b));
	assert_int_equal(fx->ncalls, 0);
}

static void
test_rate(void **state)
{
	struct fx *fx = *state;

	/* 32 sends (chat 7 is tried 3 times) at 100/s take at least 31
	 * intervals of 10 ms, retries included. */
	(void)fx_create(fx, BOT, 30);
	fx_runner(fx, 100, 4, 3);
	fx_loop(fx);
	assert_int_equal(fx->ncalls, 32);
	assert_true(fx->last_ms - fx->first_ms >= 309);
}

static void
test_cancel(void **state)
{
	struct fx *fx = *state;
	struct bc_broadcast_progress p;
	char *cause = NULL;
	int64_t first, second;
	size_t i;

	first = fx_create(fx, BOT, 20);
	second = fx_create(fx, BOT, 4);
	assert_int_equal(bc_broadcast_cancel(fx->db, first, &cause), 0);
	assert_int_equal(bc_broadcast_cancel(fx->db, first, &cause), -1);
	free(cause);
	fx_runner(fx, 1000, 4, 3);
	fx_loop(fx);
	assert_int_equal(fx->last.job_id, second);
	assert_int_equal(fx->ncalls, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(fx->delivered[i], CHAT(i) == 3 ? 0 : 1);
	assert_int_equal(bc_broadcast_status(fx->db, first, &p, &cause), 0);
	assert_true(p.done);
	assert_int_equal(p.pending, 20);

	/* Cancelled while sending: stops within what was in flight. */
	fx_crash(fx);
	first = fx_create(fx, BOT, 100);
	fx->cancel_job = first;
	fx->cancel_at = 5;
	fx_runner(fx, 1000, 2, 3);
	fx_loop(fx);
	assert_int_equal(fx->last.job_id, first);
	assert_true(fx->last.done);
	assert_true(fx->ncalls >= 5);
	assert_true(fx->ncalls <= 5 + 2 + 1);
	assert_int_equal(bc_broadcast_status(fx->db, first, &p, &cause), 0);
	assert_int_equal(p.sent + p.failed, (int64_t)fx->ncalls);
	assert_int_equal(testdb_int(fx->db,
	    "SELECT count(*) FROM broadcast_jobs WHERE status = 'cancelled'"),
	    2);
}

static void
test_options(void **state)
{
	struct fx *fx = *state;
	struct bc_broadcast_opts o;
	char *cause = NULL;

	memset(&o, 0, sizeof o);
	assert_null(bc_broadcast_new(&o, &cause));
	assert_string_equal(cause, "broadcast: no bot name or database");
	free(cause);
	o.bot = BOT;
	o.db = fx->db;
	assert_null(bc_broadcast_new(&o, &cause));
	assert_string_equal(cause,
	    "broadcast: no Telegram client or sender");
	free(cause);
	o.sender = &(struct bc_router_sender){ fake_send_text, NULL, fx };
	o.rate = -1;
	assert_null(bc_broadcast_new(&o, &cause));
	free(cause);
	o.rate = 0;
	fx->b = bc_broadcast_new(&o, &cause);
	assert_non_null(fx->b);
	/* No job: idle at once. */
	assert_int_equal(bc_broadcast_run(fx->b, &cause), 0);
	assert_true(bc_broadcast_idle(fx->b));
	/* Not from inside a transaction. */
	assert_int_equal(bc_db_begin(fx->db, NULL), 0);
	assert_int_equal(bc_broadcast_run(fx->b, &cause), -1);
	assert_non_null(strstr(cause, "inside a transaction"));
	free(cause);
	assert_int_equal(bc_db_rollback(fx->db), 0);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_create),
		T(test_interrupted_resume),
		T(test_failures),
		T(test_rate),
		T(test_cancel),
		T(test_options),
	};
	int rc;

	log_init("test_broadcast", LOG_LEVEL_WARN, 0);
	if (bc_ev_init() == -1)
		return 1;
	rc = cmocka_run_group_tests_name("broadcast", tests, NULL, NULL);
	bc_ev_free();
	return rc;
}
