/*
 * memories: the weekly reminder, /setreminder and /timezone.
 *
 * Every [memories] reminder_check (and once at start) each registered,
 * active user's latest scheduled instant not after now is computed in
 * their zone (memories_users reminder_day, reminder_time, timezone). It
 * is due when it is at most reminder_grace old and its local date is not
 * the user's last_reminded_week. The reminder and the new
 * last_reminded_week are written in one transaction (bc_router_run(): the
 * message is an outbox row), and the UPDATE only matches while the week
 * is still unrecorded, so each week's reminder is sent exactly once,
 * however often the check runs, around restarts, and across DST changes
 * (the instant is computed with bc_sched_next_daily()'s rules). Missed
 * ones are caught up at start, within the grace. Users adopted from the
 * original bot, without last_reminded_week, count as reminded when their
 * last_reminder is less than a day before the instant.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/metrics.h>
#include <botcommon/xmalloc.h>

#include "memories.h"
#include "msg.h"

struct remind_item {
	int64_t		 user_id;
	int64_t		 now_ms;
	char		 date[11];
	int		 sent;
};

/* In one transaction: record the week, queue the reminder. */
static int
remind_one(struct bc_router_ctx *ctx)
{
	struct remind_item *it = ctx->arg;
	char ub[BC_DB_INT64_BUFSZ], nb[BC_DB_INT64_BUFSZ], *cause = NULL;
	int64_t n = 0;

	if (bc_db_exec(ctx->db, "UPDATE memories_users SET "
	    "last_reminded_week = $2::date, last_reminder = "
	    "to_timestamp($3::bigint / 1000.0) AT TIME ZONE 'UTC' WHERE "
	    "user_id = $1 AND last_reminded_week IS DISTINCT FROM $2::date",
	    BC_DB_P(bc_db_int64(ub, it->user_id), it->date, bc_db_int64(nb,
	    it->now_ms)), &n, &cause) == -1)
		return mem_fail("reminder", cause);
	if (n != 1)
		return 0;
	it->sent = 1;
	log_kv(LOG_LEVEL_INFO, "weekly reminder", "user", ub, "week",
	    it->date, NULL);
	return bc_router_send(ctx, it->user_id, MSG_REMINDER, BC_TG_HTML,
	    NULL);
}

/* Is row i's reminder due? Fills it. */
static int
remind_due(struct mem *m, struct bc_db_res *res, int i, int64_t now_ms,
    struct remind_item *it)
{
	struct mem_sched s;
	const char *last_week;
	int64_t last = 0;
	time_t when, now = (time_t)(now_ms / 1000);

	if (bc_db_get_int64(res, i, 0, &it->user_id) == -1)
		return 0;
	mem_sched_from_row(&s, bc_db_get(res, i, 1), bc_db_get(res, i, 2),
	    bc_db_get(res, i, 3));
	if (mem_last_occurrence(now, &s, &when, it->date) == -1)
		return 0;
	if ((int64_t)(now - when) * 1000 > m->remind_grace_ms)
		return 0;
	last_week = bc_db_get(res, i, 4);
	if (last_week != NULL && strcmp(last_week, it->date) == 0)
		return 0;
	if (last_week == NULL && bc_db_get_int64(res, i, 5, &last) == 0 &&
	    last >= (int64_t)when - 86400)
		return 0;
	it->now_ms = now_ms;
	return 1;
}

/* The check: every reminder due now, each in its own transaction. */
static void
remind_tick(void *arg)
{
	struct mem *m = arg;
	struct remind_item it;
	struct bc_db_res *res;
	char *cause = NULL;
	int64_t now = mem_now_ms();
	int i;

	res = bc_db_query(m->env->db, "SELECT user_id, reminder_day, "
	    "reminder_time, timezone, last_reminded_week::text, "
	    "extract(epoch FROM last_reminder)::bigint FROM memories_users "
	    "WHERE is_active IS NOT FALSE AND password IS NOT NULL AND "
	    "password <> '' ORDER BY user_id", 0, NULL, &cause);
	if (res == NULL) {
		log_warnx("reminders: %s", cause);
		free(cause);
		return;
	}
	for (i = 0; i < bc_db_ntuples(res); i++) {
		memset(&it, 0, sizeof it);
		if (!remind_due(m, res, i, now, &it))
			continue;
		if (bc_router_run(m->env->router, remind_one, &it,
		    &cause) == -1) {
			log_warnx("reminder: %s", cause);
			free(cause);
			cause = NULL;
		} else if (it.sent)
			bc_metric_inc(m->m_sent, NULL);
	}
	bc_db_res_free(res);
	bc_metric_inc(m->m_checks, NULL);
}

int
mem_remind_setup(struct mem *m, char **cause)
{
	m->m_checks = bc_metrics_counter(m->env->metrics,
	    "memories_reminder_checks_total", "Checks for due reminders.",
	    NULL);
	m->m_sent = bc_metrics_counter(m->env->metrics,
	    "memories_reminders_sent_total", "Weekly reminders sent.", NULL);
	m->remind = bc_sched_every(m->remind_check_ms, remind_tick, m);
	m->remind_now = bc_timer_new(remind_tick, m);
	if (m->remind == NULL || m->remind_now == NULL) {
		*cause = xstrdup("cannot schedule the reminders");
		return -1;
	}
	bc_timer_start(m->remind_now, 0);	/* the missed ones, at start */
	return 0;
}

void
mem_remind_teardown(struct mem *m)
{
	bc_sched_free(m->remind);
	m->remind = NULL;
	bc_timer_free(m->remind_now);
	m->remind_now = NULL;
}

/*
 * A new schedule starts with its latest past instant counted as done, so
 * that setting a time that has just passed does not remind at once.
 */
int
mem_schedule_reset(struct bc_router_ctx *ctx, const struct mem_sched *s)
{
	char ub[BC_DB_INT64_BUFSZ], date[11], *cause = NULL;
	time_t when;

	if (mem_last_occurrence((time_t)(mem_now_ms() / 1000), s, &when,
	    date) == -1)
		return 0;
	if (bc_db_exec(ctx->db, "UPDATE memories_users SET last_reminded_week "
	    "= $2::date WHERE user_id = $1", BC_DB_P(bc_db_int64(ub,
	    ctx->user_id), date), NULL, &cause) == -1)
		return mem_fail("schedule", cause);
	return 0;
}

/* The user's schedule row (day, time, zone); NULL if not registered. */
static struct bc_db_res *
remind_row(struct bc_router_ctx *ctx)
{
	char ub[BC_DB_INT64_BUFSZ], *cause = NULL;
	struct bc_db_res *res;

	res = bc_db_query(ctx->db, "SELECT reminder_day, reminder_time, "
	    "timezone FROM memories_users WHERE user_id = $1 AND password IS "
	    "NOT NULL AND password <> ''", BC_DB_P(bc_db_int64(ub,
	    ctx->user_id)), &cause);
	if (res == NULL)
		mem_fail("schedule", cause);
	return res;
}

/* Save s for the user and confirm: the zone only, or the schedule. */
static int
remind_store(struct bc_router_ctx *ctx, const struct mem_sched *s,
    int zone_only)
{
	static const char *const days[] = MSG_DAYS;
	char ub[BC_DB_INT64_BUFSZ], hhmm[8], *cause = NULL, *text;
	int rc;

	snprintf(hhmm, sizeof hhmm, "%02d:%02d", s->hh, s->mm);
	if (bc_db_exec(ctx->db, "UPDATE memories_users SET reminder_day = $2,"
	    " reminder_time = $3, timezone = $4 WHERE user_id = $1",
	    BC_DB_P(bc_db_int64(ub, ctx->user_id), mem_day_name(s->wday),
	    hhmm, s->zone), NULL, &cause) == -1)
		return mem_fail("schedule", cause);
	if (mem_schedule_reset(ctx, s) == -1)
		return -1;
	if (zone_only)
		xasprintf(&text, MSG_ZONE_SET, s->zone);
	else
		xasprintf(&text, MSG_REMIND_SET, days[s->wday], s->hh, s->mm,
		    s->zone);
	rc = bc_router_reply(ctx, text, 0, NULL);
	free(text);
	return rc;
}

/* Split "DAY HH:MM" into two words of at most 31 bytes. */
static int
remind_words(const char *args, char *a, char *b)
{
	char extra[2];

	if (strlen(args) > 64)
		return -1;
	return sscanf(args, "%31s %31s %1s", a, b, extra) == 2 ? 0 : -1;
}

/* /setreminder [DAY HH:MM] */
int
cmd_setreminder(struct bc_router_ctx *ctx)
{
	static const char *const days[] = MSG_DAYS;
	struct bc_db_res *res;
	struct mem_sched s;
	char day[32], hhmm[32], *text;
	int rc;

	if ((res = remind_row(ctx)) == NULL)
		return -1;
	if (bc_db_ntuples(res) != 1) {
		bc_db_res_free(res);
		return bc_router_reply(ctx, MSG_NOT_REGISTERED, 0, NULL);
	}
	mem_sched_from_row(&s, bc_db_get(res, 0, 0), bc_db_get(res, 0, 1),
	    bc_db_get(res, 0, 2));
	if (*ctx->args == '\0') {
		xasprintf(&text, MSG_REMIND_SHOW, days[s.wday], s.hh, s.mm,
		    s.zone);
		rc = bc_router_reply(ctx, text, BC_TG_HTML, NULL);
		free(text);
	} else if (remind_words(ctx->args, day, hhmm) == -1 ||
	    (s.wday = mem_parse_day(day)) == -1 ||
	    mem_parse_hhmm(hhmm, &s.hh, &s.mm) == -1)
		rc = bc_router_reply(ctx, MSG_REMIND_BAD, 0, NULL);
	else
		rc = remind_store(ctx, &s, 0);
	bc_db_res_free(res);
	return rc;
}

/* /timezone [ZONE] */
int
cmd_timezone(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	struct mem_sched s;
	char *text;
	int rc;

	if ((res = remind_row(ctx)) == NULL)
		return -1;
	if (bc_db_ntuples(res) != 1) {
		bc_db_res_free(res);
		return bc_router_reply(ctx, MSG_NOT_REGISTERED, 0, NULL);
	}
	mem_sched_from_row(&s, bc_db_get(res, 0, 0), bc_db_get(res, 0, 1),
	    bc_db_get(res, 0, 2));
	if (*ctx->args == '\0') {
		xasprintf(&text, MSG_ZONE_SHOW, s.zone);
		rc = bc_router_reply(ctx, text, 0, NULL);
		free(text);
	} else if (!mem_zone_ok(ctx->args))
		rc = bc_router_reply(ctx, MSG_ZONE_BAD, 0, NULL);
	else {
		s.zone = ctx->args;
		rc = remind_store(ctx, &s, 1);
	}
	bc_db_res_free(res);
	return rc;
}
