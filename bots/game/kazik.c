/*
 * /kazik (bots-spec.md 3.3): 5 uses per rolling 24 h (plus the pet's extra
 * spins), each sending 6 🎰 dice; a value in {1, 22, 43, 64} is a jackpot
 * of +300 BTC. After kazik_delete_after the dice messages are deleted and
 * a summary "X/6 побед" is posted.
 *
 * The dice values come from Telegram, so a use is a game_kazik row worked
 * on outside the update: the handler charges the use and inserts the row
 * (status 'new'); after the commit a timer claims new rows ('sending') and
 * sends the dice; each die's result is recorded with its jackpot in one
 * transaction (a slot is filled once, so a jackpot is paid once); the row
 * with all six becomes 'done', and once kazik_delete_after has passed the
 * messages are deleted and the summary sent through the outbox
 * ('finished'). A restart sends again the dice of rows left 'sending'
 * whose results were not recorded.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/bot.h>
#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "game.h"
#include "msg.h"

#define KAZIK_DAY_MS	(24LL * 3600 * 1000)
#define KAZIK_LIMIT	5
#define KAZIK_DICE	6
#define KAZIK_JACKPOT	300

/* One die in flight. */
struct kazik_die {
	int64_t		 id;		/* game_kazik.id */
	int		 slot;		/* 1..6 */
	int64_t		 value;		/* 0: the call failed */
	int64_t		 message_id;
};

static int
kazik_is_jackpot(int64_t v)
{
	return v == 1 || v == 22 || v == 43 || v == 64;
}

int
cmd_kazik(struct bc_router_ctx *ctx)
{
	char id[BC_DB_INT64_BUFSZ], chat[BC_DB_INT64_BUFSZ], left[64];
	int64_t now = game_now_ms(), limit;
	struct player p;
	int rc;

	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	if (p.casino_last_used == 0 ||
	    now - p.casino_last_used >= KAZIK_DAY_MS)
		p.casino_count = 0;
	limit = KAZIK_LIMIT + (p.extra_spins > 0 ? p.extra_spins : 0);
	if (p.casino_count >= limit) {
		game_fmt_left(left, sizeof left,
		    p.casino_last_used + KAZIK_DAY_MS - now);
		rc = game_reply(ctx, M_KAZIK_LIMIT, (long long)limit, left);
		player_free(&p);
		return rc;
	}
	p.casino_count++;
	p.casino_last_used = now;
	bc_db_int64(id, p.id);
	bc_db_int64(chat, ctx->chat_id);
	rc = -1;
	if (player_save(ctx, &p) == 0 &&
	    game_exec(ctx, "INSERT INTO game_kazik (player_id, chat_id) "
	    "VALUES ($1, $2)", BC_DB_P(id, chat)) == 0 &&
	    game_reply(ctx, M_KAZIK_START,
	    (long long)(limit - p.casino_count)) == 0) {
		bc_timer_start(game.kazik_timer, 0);
		rc = 0;
	}
	player_free(&p);
	return rc;
}

/* Record one die (ctx->arg), paying its jackpot; mark the row done. */
static int
kazik_record(struct bc_router_ctx *ctx)
{
	struct kazik_die *d = ctx->arg;
	char id[BC_DB_INT64_BUFSZ], slot[BC_DB_INT64_BUFSZ];
	char v[BC_DB_INT64_BUFSZ], mid[BC_DB_INT64_BUFSZ];
	char pay[BC_DB_INT64_BUFSZ], *cause = NULL;
	struct bc_db_res *res;

	bc_db_int64(id, d->id);
	bc_db_int64(slot, d->slot);
	bc_db_int64(v, d->value);
	bc_db_int64(mid, d->message_id);
	bc_db_int64(pay, kazik_is_jackpot(d->value) ? KAZIK_JACKPOT : 0);
	res = bc_db_query(ctx->db, "WITH k AS (UPDATE game_kazik SET "
	    "vals[$2::int] = $3::int, msg_ids[$2::int] = $4::bigint, "
	    "won = won + $5::bigint WHERE id = $1 AND status = 'sending' AND "
	    "vals[$2::int] IS NULL RETURNING player_id) "
	    "UPDATE pisunchik_data SET coins = coalesce(coins, 0) + $5::bigint "
	    "WHERE player_id = (SELECT player_id FROM k) RETURNING player_id",
	    BC_DB_P(id, slot, v, mid, pay), &cause);
	if (res == NULL)
		goto fail;
	bc_db_res_free(res);
	if (bc_db_exec(ctx->db, "UPDATE game_kazik SET status = 'done', "
	    "done_at = now() WHERE id = $1 AND status = 'sending' AND "
	    "(SELECT count(*) FROM unnest(vals) x WHERE x IS NOT NULL) = 6",
	    BC_DB_P(id), NULL, &cause) == -1)
		goto fail;
	return 0;
fail:
	log_warnx("kazik: %s", cause);
	free(cause);
	return -1;
}

static void
kazik_die_done(const struct bc_tg_result *r, void *arg)
{
	struct kazik_die *d = arg;
	json_t *dice;
	char *cause = NULL;

	if (r->ok && r->result != NULL) {
		dice = json_object_get(r->result, "dice");
		d->value = json_integer_value(json_object_get(dice, "value"));
		d->message_id = json_integer_value(json_object_get(r->result,
		    "message_id"));
	}
	if (bc_router_run(game.env->router, kazik_record, d, &cause) == -1) {
		log_warnx("kazik: recording die %d of %" PRId64 ": %s",
		    d->slot, d->id, cause);
		free(cause);
	}
	free(d);
	if (!bc_timer_pending(game.kazik_timer))
		bc_timer_start(game.kazik_timer, game.kazik_delete_ms);
}

/* Send the missing dice of the rows just claimed (in res). */
static void
kazik_send(struct bc_db_res *res)
{
	struct kazik_die *d;
	int64_t id, chat;
	json_t *vals;
	int i, s;

	for (i = 0; i < bc_db_ntuples(res); i++) {
		if (bc_db_get_int64(res, i, 0, &id) == -1 ||
		    bc_db_get_int64(res, i, 1, &chat) == -1)
			continue;
		vals = json_loads(bc_db_get(res, i, 2), 0, NULL);
		for (s = 1; s <= KAZIK_DICE; s++) {
			if (json_is_integer(json_array_get(vals, s - 1)))
				continue;
			d = xcalloc(1, sizeof *d);
			d->id = id;
			d->slot = s;
			if (bc_tg_send_dice(game.env->tg, chat, "🎰", 0,
			    kazik_die_done, d) == -1)
				free(d);
		}
		json_decref(vals);
	}
}

/* Claim the new rows and send their dice. */
static int
kazik_claim(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char *cause = NULL;

	res = bc_db_query(ctx->db, "UPDATE game_kazik SET status = "
	    "'sending' WHERE status = 'new' RETURNING id, chat_id, "
	    "array_to_json(coalesce(vals, '{}'))::text", 0, NULL, &cause);
	if (res == NULL) {
		log_warnx("kazik: %s", cause);
		free(cause);
		return -1;
	}
	kazik_send(res);
	bc_db_res_free(res);
	return 0;
}

/* The summary of one finished row (row i of res). */
static int
kazik_summary(struct bc_router_ctx *ctx, struct bc_db_res *res, int i)
{
	int64_t chat, wins, won, mid;
	json_t *mids, *m;
	size_t k;
	char extra[64] = "";

	bc_db_get_int64(res, i, 1, &chat);
	bc_db_get_int64(res, i, 3, &wins);
	bc_db_get_int64(res, i, 4, &won);
	mids = json_loads(bc_db_get(res, i, 5), 0, NULL);
	json_array_foreach(mids, k, m) {
		if ((mid = json_integer_value(m)) <= 0)
			continue;
		if (bc_router_call(ctx, "deleteMessage", json_pack("{sIsI}",
		    "chat_id", (json_int_t)chat, "message_id",
		    (json_int_t)mid), 0) == -1) {
			json_decref(mids);
			return -1;
		}
	}
	json_decref(mids);
	if (won > 0)
		snprintf(extra, sizeof extra, M_KAZIK_JACKPOT, (long long)won);
	return game_send(ctx, chat, M_KAZIK_SUMMARY "%s",
	    bc_db_get(res, i, 2), (long long)wins, extra);
}

/* Delete the dice and post the summaries of the rows done long enough. */
static int
kazik_finish(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char ms[BC_DB_INT64_BUFSZ], *cause = NULL;
	int i;

	bc_db_int64(ms, game.kazik_delete_ms);
	res = bc_db_query(ctx->db, "UPDATE game_kazik k SET status = "
	    "'finished' FROM pisunchik_data p WHERE p.player_id = k.player_id "
	    "AND k.status = 'done' AND k.done_at <= now() - $1::bigint * "
	    "interval '1 millisecond' RETURNING k.id, k.chat_id, "
	    "coalesce(p.player_name, ''), (SELECT count(*) FROM unnest(k.vals) "
	    "v WHERE v IN (1, 22, 43, 64)), k.won, "
	    "array_to_json(k.msg_ids)::text", BC_DB_P(ms), &cause);
	if (res == NULL) {
		log_warnx("kazik: %s", cause);
		free(cause);
		return -1;
	}
	for (i = 0; i < bc_db_ntuples(res); i++)
		if (kazik_summary(ctx, res, i) == -1) {
			bc_db_res_free(res);
			return -1;
		}
	bc_db_res_free(res);
	return 0;
}

/* 1 when a done row waits for its time. */
static int
kazik_waiting(void)
{
	struct bc_db_res *res;
	char *cause = NULL;
	int n;

	res = bc_db_query(game.env->db, "SELECT 1 FROM game_kazik WHERE "
	    "status = 'done' LIMIT 1", 0, NULL, &cause);
	if (res == NULL) {
		free(cause);
		return 1;
	}
	n = bc_db_ntuples(res);
	bc_db_res_free(res);
	return n > 0;
}

/* The timer: claim new rows, finish the done ones, re-arm if needed. */
void
kazik_kick(void *arg)
{
	char *cause = NULL;

	(void)arg;
	if (bc_router_run(game.env->router, kazik_claim, NULL, &cause) == -1 ||
	    bc_router_run(game.env->router, kazik_finish, NULL, &cause) == -1) {
		log_warnx("kazik: %s", cause);
		free(cause);
		bc_timer_start(game.kazik_timer, 5000);
		return;
	}
	if (kazik_waiting())
		bc_timer_start(game.kazik_timer, game.kazik_delete_ms / 2 + 100);
}

/* The timer, and the rows a previous process left half done. */
int
kazik_setup(char **cause)
{
	if ((game.kazik_timer = bc_timer_new(kazik_kick, NULL)) == NULL) {
		*cause = xstrdup("cannot create the kazik timer");
		return -1;
	}
	if (bc_db_exec(game.env->db, "UPDATE game_kazik SET status = 'new' "
	    "WHERE status = 'sending'", 0, NULL, NULL, cause) == -1)
		return -1;
	bc_timer_start(game.kazik_timer, 0);
	return 0;
}
