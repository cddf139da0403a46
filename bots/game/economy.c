/*
 * The size-and-BTC economy (bots-spec.md 3.3): /pisunchik, /roll, /vor,
 * /otsos, /leaderboard. /kazik is in kazik.c.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "game.h"
#include "msg.h"

#define DAY_MS			(24LL * 3600 * 1000)
#define PREZ_MS			(4 * DAY_MS)
#define VOR_MS			(7 * DAY_MS)
#define ROLL_DIE_COST		6
#define ROLL_JACKPOT		400

static const int roll_counts[] = { 1, 3, 5, 10, 20, 50, 100 };

/*
 * /pisunchik. Draws, in order: the change (-10..17) unless one was
 * pre-rolled, the coins (5..15), kolczo (percent, if owned), bdsm
 * (percent, if owned), the next pre-rolled change (-10..17).
 */
static int
pis_play(struct bc_router_ctx *ctx, struct player *p, int64_t now)
{
	int64_t change, coins;
	char extra[512] = "";

	change = p->has_ballzzz ? p->ballzzz : rng_range(-10, 17);
	coins = rng_range(5, 15);
	if (strv_count(&p->items, "kolczo_na_chlen") > 0 && rng_percent(20)) {
		coins *= 2;
		game_cat(extra, M_PIS_KOLCZO, sizeof extra);
	}
	if (strv_count(&p->items, "bdsm_kostumchik") > 0 && rng_percent(10)) {
		change += 5;
		game_cat(extra, M_PIS_BDSM, sizeof extra);
	}
	if (change < 0 && strv_count(&p->items, "prezervativ") > 0 &&
	    now - p->last_prezervativ >= PREZ_MS) {
		change = 0;
		p->last_prezervativ = now;
		game_cat(extra, M_PIS_PREZ, sizeof extra);
	}
	if (strv_remove(&p->items, "krystalnie_ballzzz") == 0)
		game_cat(extra, M_PIS_BALLZZZ, sizeof extra);
	player_add_size(p, change);
	player_add_coins(p, coins);
	p->last_used = now;
	p->notified = 0;
	p->has_ballzzz = 1;
	p->ballzzz = rng_range(-10, 17);
	if (player_save(ctx, p) == -1)
		return -1;
	return game_reply(ctx, M_PIS_RESULT "%s", (long long)p->size,
	    (long long)change, (long long)coins, extra);
}

int
cmd_pisunchik(struct bc_router_ctx *ctx)
{
	struct player p;
	int64_t now = game_now_ms(), cd;
	char left[64];
	int rc;

	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	cd = player_cooldown_ms(&p);
	if (p.last_used != 0 && now - p.last_used < cd) {
		game_fmt_left(left, sizeof left, p.last_used + cd - now);
		rc = game_reply(ctx, M_PIS_COOLDOWN,
		    (long long)(cd / 3600000), left);
	} else
		rc = pis_play(ctx, &p, now);
	player_free(&p);
	return rc;
}

int
cmd_roll(struct bc_router_ctx *ctx)
{
	struct bc_tg_kb *kb = bc_tg_kb_new();
	char data[16], label[16];
	json_t *markup;
	size_t i;

	for (i = 0; i < BC_NELEM(roll_counts); i++) {
		if (i == 4)
			bc_tg_kb_row(kb);
		snprintf(data, sizeof data, "roll_%d", roll_counts[i]);
		snprintf(label, sizeof label, "%d", roll_counts[i]);
		bc_tg_kb_button(kb, label, data);
	}
	if ((markup = game_kb_finish(kb)) == NULL)
		return -1;
	return game_replykb(ctx, markup, M_ROLL_ASK,
	    (long long)ROLL_DIE_COST);
}

/* The result line and jackpots of n dice; returns the size change. */
static int64_t
roll_dice(int64_t n, char *out, size_t sz, int64_t *jackpots)
{
	int64_t i, d, change = 0;
	char one[8];

	out[0] = '\0';
	*jackpots = 0;
	for (i = 0; i < n; i++) {
		d = rng_range(1, 6);
		change += d <= 3 ? -5 : 5;
		if (rng_range(1, 300) == 1)
			(*jackpots)++;
		snprintf(one, sizeof one, "%s%" PRId64, i ? " " : "", d);
		game_cat(out, one, sz);
	}
	return change;
}

/*
 * A roll_<n> press. Draws: one percent per die when the player has
 * Invisible, then per die a d6 (1..6) and a jackpot draw (1..300, 1 wins).
 */
static int
roll_play(struct bc_router_ctx *ctx, struct player *p, int64_t n)
{
	int64_t per = ROLL_DIE_COST, inv, freed = 0, cost, change, jp, i;
	char res[8 * 100 + 1], extra[128] = "";
	int ulta = 0;

	if (strv_count(&p->items, "kubik_seksa") > 0)
		per /= 2;
	if ((inv = player_char_level(p, "Invisible")) > 0)
		for (i = 0; i < n; i++)
			freed += rng_percent(3 + 3 * (inv - 1));
	if (p->free_roll) {
		ulta = 1;
		freed = n;
	}
	cost = (n - freed) * per;
	if (p->coins < cost)
		return game_reply(ctx, M_NO_BTC, (long long)cost);
	p->free_roll = 0;
	change = roll_dice(n, res, sizeof res, &jp);
	player_add_coins(p, -cost);
	player_add_coins(p, jp * ROLL_JACKPOT);
	player_add_size(p, change);
	if (player_save(ctx, p) == -1)
		return -1;
	if (ulta)
		snprintf(extra, sizeof extra, M_ROLL_FREE_ULTA);
	else if (freed > 0)
		snprintf(extra, sizeof extra, M_ROLL_FREE, (long long)freed);
	if (game_reply(ctx, M_ROLL_RESULT "%s", res, (long long)change,
	    (long long)p->size, (long long)cost, extra) == -1)
		return -1;
	for (i = 0; i < jp; i++)
		if (game_reply(ctx, M_ROLL_JACKPOT, p->name,
		    (long long)ROLL_JACKPOT) == -1)
			return -1;
	return 0;
}

int
cb_roll(struct bc_router_ctx *ctx)
{
	struct player p;
	int64_t n;
	size_t i;
	int rc;

	if (game_parse_int(ctx->args, 1, 100, &n) == -1)
		return game_alert(ctx, M_STALE_BUTTON);
	for (i = 0; i < BC_NELEM(roll_counts) && roll_counts[i] != n; i++)
		;
	if (i == BC_NELEM(roll_counts))
		return game_alert(ctx, M_STALE_BUTTON);
	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	rc = roll_play(ctx, &p, n);
	player_free(&p);
	return rc;
}

/*
 * The target buttons of /vor or /otsos: "<prefix><pending>_<target>",
 * the pending row making the choice single-use and the caller's own.
 */
static int
target_menu(struct bc_router_ctx *ctx, const char *prefix, const char *ask)
{
	struct bc_tg_kb *kb;
	json_t *t, *e, *markup;
	char data[64];
	int64_t pid;
	size_t i;

	if (player_targets(ctx, ctx->user_id, &t) == -1)
		return -1;
	if (json_array_size(t) == 0) {
		json_decref(t);
		return game_reply(ctx, M_NO_TARGETS);
	}
	if ((pid = game_pending_new(ctx, prefix, "", 0)) == -1) {
		json_decref(t);
		return -1;
	}
	kb = bc_tg_kb_new();
	json_array_foreach(t, i, e) {
		snprintf(data, sizeof data, "%s%" PRId64 "_%" PRId64, prefix,
		    pid, (int64_t)json_integer_value(json_array_get(e, 0)));
		bc_tg_kb_row(kb);
		bc_tg_kb_button(kb, json_string_value(json_array_get(e, 1)),
		    data);
	}
	json_decref(t);
	if ((markup = game_kb_finish(kb)) == NULL)
		return -1;
	return game_replykb(ctx, markup, "%s", ask);
}

int
cmd_vor(struct bc_router_ctx *ctx)
{
	struct player p;
	int64_t now = game_now_ms();
	char left[64];
	int rc;

	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	if (player_char_level(&p, "Glowing") == 0)
		rc = game_reply(ctx, M_VOR_NEED);
	else if (p.last_vor != 0 && now - p.last_vor < VOR_MS) {
		game_fmt_left(left, sizeof left, p.last_vor + VOR_MS - now);
		rc = game_reply(ctx, M_VOR_COOLDOWN, left);
	} else
		rc = target_menu(ctx, "vor_", M_VOR_ASK);
	player_free(&p);
	return rc;
}

int
cmd_otsos(struct bc_router_ctx *ctx)
{
	struct player p;
	int rc;

	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	rc = target_menu(ctx, "otsos_", M_OTSOS_ASK);
	player_free(&p);
	return rc;
}

/*
 * Take the pending choice of a target press; load the caller (*me) and
 * the target (*t), both locked. 1 ready, 0 answered (stale, not yours,
 * gone), -1.
 */
static int
target_take(struct bc_router_ctx *ctx, const char *kind, struct player *me,
    struct player *t)
{
	int64_t pid, target, price;
	const char *rest;
	char *key = NULL;
	int rc;

	if ((rest = game_arg_split(ctx->args, '_', &pid)) == NULL ||
	    game_parse_id(rest, &target) == -1 || target == ctx->user_id)
		return game_alert(ctx, M_STALE_BUTTON) == -1 ? -1 : 0;
	if ((rc = game_pending_take(ctx, pid, kind, &key, &price)) != 1)
		return rc == -1 ? -1 :
		    game_alert(ctx, M_STALE_BUTTON) == -1 ? -1 : 0;
	free(key);
	if ((rc = player_require(ctx, me)) != 1)
		return rc;
	if ((rc = player_load(ctx, target, 1, t)) != 1) {
		player_free(me);
		return rc == -1 ? -1 : game_edit(ctx, NULL, M_TARGET_GONE) ==
		    -1 ? -1 : 0;
	}
	return 1;
}

int
cb_vor(struct bc_router_ctx *ctx)
{
	struct player me, t;
	int64_t now = game_now_ms(), l, n;
	int rc;

	if ((rc = target_take(ctx, "vor_", &me, &t)) != 1)
		return rc;
	l = player_char_level(&me, "Glowing");
	if (l == 0)
		rc = game_edit(ctx, NULL, M_VOR_NEED);
	else if (me.last_vor != 0 && now - me.last_vor < VOR_MS)
		rc = game_edit(ctx, NULL, M_VOR_COOLDOWN, "—");
	else {
		n = 2 + 2 * (l - 1);
		player_add_size(&t, -n);
		player_add_size(&me, n);
		me.last_vor = now;
		rc = -1;
		if (player_save(ctx, &me) == 0 && player_save(ctx, &t) == 0)
			rc = game_edit(ctx, NULL, M_VOR_DONE, me.name, t.name,
			    (long long)n);
	}
	player_free(&me);
	player_free(&t);
	return rc;
}

/* An otsos press. Draws: the centimetres (1..5). */
int
cb_otsos(struct bc_router_ctx *ctx)
{
	struct player me, t;
	int64_t n;
	int rc;

	if ((rc = target_take(ctx, "otsos_", &me, &t)) != 1)
		return rc;
	n = rng_range(1, 5);
	player_add_size(&t, -n);
	player_add_size(&me, n);
	rc = -1;
	if (player_save(ctx, &me) == 0 && player_save(ctx, &t) == 0)
		rc = game_edit(ctx, NULL, M_OTSOS_DONE, me.name, t.name,
		    (long long)n);
	player_free(&me);
	player_free(&t);
	return rc;
}

int
cmd_leaderboard(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char *cause = NULL, *out, *line, *tmp;
	int64_t size, coins;
	int i, rc;

	res = bc_db_query(ctx->db, "SELECT coalesce(player_name, "
	    "player_id::text), coalesce(pisunchik_size, 0), coalesce(coins, "
	    "0) FROM pisunchik_data ORDER BY pisunchik_size DESC NULLS LAST, "
	    "player_id LIMIT 5", 0, NULL, &cause);
	if (res == NULL) {
		log_warnx("leaderboard: %s", cause);
		free(cause);
		return -1;
	}
	if (bc_db_ntuples(res) == 0) {
		bc_db_res_free(res);
		return game_reply(ctx, M_LEADERS_EMPTY);
	}
	out = xstrdup(M_LEADERS_HEAD);
	for (i = 0; i < bc_db_ntuples(res); i++) {
		bc_db_get_int64(res, i, 1, &size);
		bc_db_get_int64(res, i, 2, &coins);
		xasprintf(&line, M_LEADERS_LINE, i + 1, bc_db_get(res, i, 0),
		    (long long)size, (long long)coins);
		xasprintf(&tmp, "%s%s", out, line);
		free(out);
		free(line);
		out = tmp;
	}
	bc_db_res_free(res);
	rc = game_reply(ctx, "%s", out);
	free(out);
	return rc;
}
