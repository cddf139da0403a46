/*
 * The scheduled jobs the original ran only in its legacy loop (bots-spec.md
 * 3.6, 3.14), each switchable in [game], all on one libbotcommon
 * scheduler job every jobs_interval:
 *
 * - cooldown_notice: "you can use /pisunchik" to a player once per
 *   cooldown (the notified flag, cleared by /pisunchik, set with the
 *   message in one transaction);
 * - bigblack_floor: a player with Big Black L below 3 (L - 1) cm is put
 *   back on it, and told so;
 * - gold_income: Gold L pays int(2 + 1.5 (L - 1)) BTC once per UTC day, on
 *   the first run at or after gold_time (so a bot that was down at that
 *   time pays when it is back, the same day); the day is recorded in
 *   game_jobs in the payment's transaction, so a restart or a second run
 *   never pays it twice.
 *
 * Each job is one transaction, its messages in the outbox, and the time is
 * the game's clock (game_now_ms()), so tests can move it.
 */

#include <stdlib.h>
#include <time.h>

#include <botcommon/bot.h>
#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/metrics.h>
#include <botcommon/xmalloc.h>

#include "game.h"
#include "msg.h"

/* The level of characteristic NAME in characteristics, for SQL. */
#define LEVEL(name, skip)						\
	"coalesce((SELECT max(substr(c, " skip ")::int) FROM "		\
	"unnest(q.characteristics) c WHERE c ~ '^" name ":[0-9]{1,4}$'), 0)"

static struct bc_metric *jobs_runs;

/* Send row i's message: column 0 the player (his private chat). */
static int
job_tell(struct bc_router_ctx *ctx, struct bc_db_res *res, int i,
    const char *text)
{
	int64_t id;

	if (bc_db_get_int64(res, i, 0, &id) == -1 || id <= 0)
		return 0;
	return bc_router_send(ctx, id, text, 0, NULL);
}

static int
job_notice(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char now[BC_DB_INT64_BUFSZ], *cause = NULL, *text;
	int i, rc = 0;

	res = bc_db_query(ctx->db, "UPDATE pisunchik_data p SET notified = "
	    "true FROM (SELECT q.player_id, " LEVEL("Titan", "7") " AS t "
	    "FROM pisunchik_data q WHERE q.notified IS false AND q.last_used "
	    "IS NOT NULL) x WHERE p.player_id = x.player_id AND p.last_used + "
	    "(24 * (100 - 3 * least(x.t, 15)) / 100) * interval '1 hour' <= "
	    "to_timestamp($1::bigint / 1000.0) RETURNING p.player_id, "
	    "coalesce(p.player_name, '')", BC_DB_P(bc_db_int64(now,
	    game_now_ms())), &cause);
	if (res == NULL) {
		log_warnx("notice: %s", cause);
		free(cause);
		return -1;
	}
	for (i = 0; i < bc_db_ntuples(res) && rc == 0; i++) {
		xasprintf(&text, M_PIS_READY, bc_db_get(res, i, 1));
		rc = job_tell(ctx, res, i, text);
		free(text);
	}
	bc_db_res_free(res);
	return rc;
}

static int
job_bigblack(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char *cause = NULL, *text;
	int64_t floor;
	int i, rc = 0;

	res = bc_db_query(ctx->db, "UPDATE pisunchik_data p SET "
	    "pisunchik_size = 3 * (least(x.l, 15) - 1) FROM (SELECT "
	    "q.player_id, " LEVEL("Big Black", "11") " AS l FROM "
	    "pisunchik_data q) x WHERE p.player_id = x.player_id AND "
	    "x.l >= 1 AND coalesce(p.pisunchik_size, 0) < "
	    "3 * (least(x.l, 15) - 1) RETURNING p.player_id, "
	    "p.pisunchik_size", 0, NULL, &cause);
	if (res == NULL) {
		log_warnx("big black: %s", cause);
		free(cause);
		return -1;
	}
	for (i = 0; i < bc_db_ntuples(res) && rc == 0; i++) {
		if (bc_db_get_int64(res, i, 1, &floor) == -1)
			continue;
		xasprintf(&text, M_BIGBLACK, (long long)floor,
		    (long long)floor);
		rc = job_tell(ctx, res, i, text);
		free(text);
	}
	bc_db_res_free(res);
	return rc;
}

/*
 * The UTC day of the game's clock ("YYYY-MM-DD") if gold_time has come
 * on it, else 0.
 */
static int
gold_due(char *day, size_t sz)
{
	time_t t = (time_t)(game_now_ms() / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    tm.tm_hour * 60 + tm.tm_min < game.gold_minute)
		return 0;
	return strftime(day, sz, "%Y-%m-%d", &tm) > 0;
}

/* Gold L pays int(2 + 1.5 (L - 1)) = (4 + 3 (L - 1)) / 2, once a day. */
static int
job_gold(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char day[16], *cause = NULL, *text;
	int64_t n;
	int i, rc = 0;

	if (!gold_due(day, sizeof day))
		return 0;
	if (bc_db_exec(ctx->db, "INSERT INTO game_jobs (name, last_run) "
	    "VALUES ('gold', $1::date) ON CONFLICT (name) DO UPDATE SET "
	    "last_run = EXCLUDED.last_run WHERE game_jobs.last_run < "
	    "EXCLUDED.last_run", BC_DB_P(day), &n, &cause) == -1)
		goto fail;
	if (n == 0)
		return 0;	/* paid that day already */
	res = bc_db_query(ctx->db, "UPDATE pisunchik_data p SET coins = "
	    "coalesce(p.coins, 0) + (4 + 3 * (least(x.l, 15) - 1)) / 2 FROM "
	    "(SELECT q.player_id, " LEVEL("Gold", "6") " AS l FROM "
	    "pisunchik_data q) x WHERE p.player_id = x.player_id AND x.l >= 1 "
	    "RETURNING p.player_id, coalesce(p.player_name, ''), "
	    "(4 + 3 * (least(x.l, 15) - 1)) / 2", 0, NULL, &cause);
	if (res == NULL)
		goto fail;
	log_info("gold income for %s: %d players", day, bc_db_ntuples(res));
	for (i = 0; i < bc_db_ntuples(res) && rc == 0; i++) {
		if (bc_db_get_int64(res, i, 2, &n) == -1)
			continue;
		xasprintf(&text, M_GOLD, bc_db_get(res, i, 1), (long long)n);
		rc = job_tell(ctx, res, i, text);
		free(text);
	}
	bc_db_res_free(res);
	return rc;
fail:
	log_warnx("gold: %s", cause);
	free(cause);
	return -1;
}

static void
job_run(bc_cmd_fn *fn, const char *what)
{
	char *cause = NULL;

	if (bc_router_run(game.env->router, fn, NULL, &cause) == -1) {
		log_warnx("job %s: %s", what, cause);
		free(cause);
		return;
	}
	if (jobs_runs != NULL)
		bc_metric_inc(jobs_runs, BC_LV(what));
}

static void
jobs_tick(void *arg)
{
	(void)arg;
	if (game.cooldown_notice)
		job_run(job_notice, "cooldown_notice");
	if (game.bigblack_floor)
		job_run(job_bigblack, "bigblack_floor");
	if (game.gold_income)
		job_run(job_gold, "gold_income");
}

int
jobs_setup(char **cause)
{
	if (!game.cooldown_notice && !game.bigblack_floor && !game.gold_income)
		return 0;
	if (game.env->metrics != NULL)
		jobs_runs = bc_metrics_counter(game.env->metrics,
		    "game_job_runs_total", "Scheduled job runs committed.",
		    "job");
	if ((game.jobs = bc_sched_every(game.jobs_interval_ms, jobs_tick,
	    NULL)) == NULL) {
		*cause = xstrdup("cannot schedule the jobs");
		return -1;
	}
	return 0;
}

void
jobs_teardown(void)
{
	bc_sched_free(game.jobs);
	game.jobs = NULL;
}
