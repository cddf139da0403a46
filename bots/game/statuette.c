/*
 * Statuettes and characteristics (bots-spec.md 3.6). Four statuettes are
 * bought through single-use confirmations; owning all four plays the
 * story, takes them and grants a characteristic the player lacks at level
 * 1 (or, with all six, a level of a random one). /upgrade_char buys
 * levels at 100 BTC each, up to 15.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "game.h"
#include "msg.h"

#define UPGRADE_COST	100
#define UPGRADE_STEPS	14

int
statuette_index(const char *name)
{
	int i;

	for (i = 0; i < GAME_STATUETTES; i++)
		if (strcmp(statuette_names[i], name) == 0)
			return i;
	return -1;
}

static int
char_index(const char *name)
{
	int i;

	for (i = 0; i < GAME_NCHARS; i++)
		if (strcmp(char_names[i], name) == 0)
			return i;
	return -1;
}

int
cmd_statuetki_shop(struct bc_router_ctx *ctx)
{
	struct bc_tg_kb *kb;
	struct player p;
	json_t *markup;
	char label[128], data[64];
	int i, n = 0, rc;

	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	kb = bc_tg_kb_new();
	for (i = 0; i < GAME_STATUETTES; i++) {
		if (strv_count(&p.statuetki, statuette_names[i]) > 0)
			continue;
		snprintf(label, sizeof label, M_SHOP_BUTTON,
		    statuette_names[i], (long long)statuette_prices[i]);
		snprintf(data, sizeof data, "statuetki_buy_%s",
		    statuette_names[i]);
		bc_tg_kb_row(kb);
		bc_tg_kb_button(kb, label, data);
		n++;
	}
	player_free(&p);
	if (n == 0) {
		bc_tg_kb_free(kb);
		return game_reply(ctx, M_STAT_SHOP_ALL);
	}
	if ((markup = game_kb_finish(kb)) == NULL)
		return -1;
	return game_replykb(ctx, markup, M_STAT_SHOP_HEAD);
}

int
cb_statuetki_buy(struct bc_router_ctx *ctx)
{
	struct bc_tg_kb *kb;
	struct player p;
	json_t *markup;
	char yes[64], no[64];
	int64_t pid;
	int i, rc, owned;

	if ((i = statuette_index(ctx->args)) == -1)
		return game_alert(ctx, M_SHOP_UNKNOWN);
	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	owned = strv_count(&p.statuetki, statuette_names[i]) > 0;
	player_free(&p);
	if (owned)
		return game_alert(ctx, M_STAT_OWNED);
	if ((pid = game_pending_new(ctx, "stat", statuette_names[i],
	    statuette_prices[i])) == -1)
		return -1;
	snprintf(yes, sizeof yes, "statuetki_confirm_%" PRId64, pid);
	snprintf(no, sizeof no, "buy_cancel_%" PRId64, pid);
	kb = bc_tg_kb_new();
	bc_tg_kb_button(kb, M_SHOP_YES, yes);
	bc_tg_kb_button(kb, M_SHOP_NO, no);
	if ((markup = game_kb_finish(kb)) == NULL)
		return -1;
	return game_replykb(ctx, markup, M_STAT_CONFIRM, statuette_names[i],
	    (long long)statuette_prices[i]);
}

int
cb_statuetki_confirm(struct bc_router_ctx *ctx)
{
	struct player p;
	int64_t pid, price;
	char *name = NULL;
	int rc;

	if (game_parse_id(ctx->args, &pid) == -1)
		return game_alert(ctx, M_STALE_BUTTON);
	if ((rc = game_pending_take(ctx, pid, "stat", &name, &price)) != 1)
		return rc == -1 ? -1 : game_alert(ctx, M_SHOP_USED);
	if ((rc = player_require(ctx, &p)) != 1) {
		free(name);
		return rc;
	}
	if (statuette_index(name) == -1)
		rc = game_edit(ctx, NULL, M_SHOP_UNKNOWN);
	else if (strv_count(&p.statuetki, name) > 0)
		rc = game_edit(ctx, NULL, M_STAT_OWNED);
	else if (p.coins < price)
		rc = game_edit(ctx, NULL, M_NO_BTC, (long long)price);
	else {
		player_add_coins(&p, -price);
		strv_add(&p.statuetki, name);
		rc = -1;
		if (player_save(ctx, &p) == 0)
			rc = game_edit(ctx, NULL, M_STAT_DONE, name,
			    (long long)p.coins);
	}
	free(name);
	player_free(&p);
	return rc;
}

/*
 * Grant a characteristic. Draws: the index among the missing ones
 * (0..missing-1), or with none missing among those below level 15.
 * Returns the reply text (caller frees), or NULL when all are maxed.
 */
static char *
char_grant(struct player *p)
{
	int cand[GAME_NCHARS], n = 0, i, missing = 0;
	int64_t l;
	char *s;

	for (i = 0; i < GAME_NCHARS; i++)
		if (player_char_level(p, char_names[i]) == 0)
			cand[n++] = i;
	missing = n > 0;
	if (!missing)
		for (i = 0; i < GAME_NCHARS; i++)
			if (player_char_level(p, char_names[i]) <
			    GAME_CHAR_MAX)
				cand[n++] = i;
	if (n == 0)
		return NULL;
	i = cand[rng_range(0, n - 1)];
	l = player_char_level(p, char_names[i]) + 1;
	strv_kv_set(&p->chars, char_names[i], l);
	if (missing)
		xasprintf(&s, M_CHAR_NEW, char_names[i]);
	else
		xasprintf(&s, M_CHAR_UP, char_names[i], (long long)l);
	return s;
}

/* All four owned: the story, the statuettes taken, the reward. */
static int
statuetki_complete(struct bc_router_ctx *ctx, struct player *p)
{
	char *story = xstrdup(""), *tmp, *grant;
	size_t i;
	int rc;

	for (i = 0; i < story_nlines; i++) {
		xasprintf(&tmp, "%s%s\n", story, story_lines[i]);
		free(story);
		story = tmp;
	}
	for (i = 0; i < GAME_STATUETTES; i++)
		strv_remove(&p->statuetki, statuette_names[i]);
	grant = char_grant(p);
	rc = -1;
	if (player_save(ctx, p) == 0 && game_reply(ctx, "%s", story) == 0)
		rc = grant != NULL ? game_reply(ctx, "%s", grant) : 0;
	free(story);
	free(grant);
	return rc;
}

/* One owned statuette: its photo with a caption, or the caption. */
static int
statuette_show(struct bc_router_ctx *ctx, int i)
{
	char *cap;
	json_t *pr;

	xasprintf(&cap, M_STAT_CAPTION, statuette_names[i]);
	if (game.photos[i] == NULL) {
		free(cap);
		return game_reply(ctx, M_STAT_CAPTION, statuette_names[i]);
	}
	pr = json_pack("{sIssss}", "chat_id", (json_int_t)ctx->chat_id,
	    "photo", game.photos[i], "caption", cap);
	free(cap);
	return bc_router_call(ctx, "sendPhoto", pr, 0);
}

int
cmd_statuetki(struct bc_router_ctx *ctx)
{
	struct player p;
	size_t n = 0;
	int i, rc;

	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	for (i = 0; i < GAME_STATUETTES && rc != -1; i++)
		if (strv_count(&p.statuetki, statuette_names[i]) > 0) {
			n++;
			rc = statuette_show(ctx, i);
		}
	if (rc == -1)
		;
	else if (n == 0)
		rc = game_reply(ctx, M_STAT_NONE);
	else if ((rc = game_reply(ctx, M_STAT_COUNT, n)) == 0 &&
	    n == GAME_STATUETTES)
		rc = statuetki_complete(ctx, &p);
	player_free(&p);
	return rc;
}

int
cmd_characteristics(struct bc_router_ctx *ctx)
{
	struct player p;
	char *out = xstrdup(M_CHAR_HEAD), *tmp;
	int64_t l;
	int i, n = 0, rc;

	if ((rc = player_require(ctx, &p)) != 1) {
		free(out);
		return rc;
	}
	for (i = 0; i < GAME_NCHARS; i++) {
		if ((l = player_char_level(&p, char_names[i])) == 0)
			continue;
		xasprintf(&tmp, "%s" M_CHAR_LINE, out, char_names[i],
		    (long long)l, char_descs[i]);
		free(out);
		out = tmp;
		n++;
	}
	rc = n == 0 ? game_reply(ctx, M_CHAR_NONE) : game_reply(ctx, "%s", out);
	free(out);
	player_free(&p);
	return rc;
}

int
cmd_upgrade_char(struct bc_router_ctx *ctx)
{
	struct bc_tg_kb *kb;
	struct player p;
	json_t *markup;
	char data[32];
	int i, n = 0, rc;

	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	kb = bc_tg_kb_new();
	for (i = 0; i < GAME_NCHARS; i++) {
		if (player_char_level(&p, char_names[i]) == 0)
			continue;
		snprintf(data, sizeof data, "upg_%d", i);
		bc_tg_kb_row(kb);
		bc_tg_kb_button(kb, char_names[i], data);
		n++;
	}
	player_free(&p);
	if (n == 0) {
		bc_tg_kb_free(kb);
		return game_reply(ctx, M_CHAR_NONE);
	}
	if ((markup = game_kb_finish(kb)) == NULL)
		return -1;
	return game_replykb(ctx, markup, M_UPG_ASK);
}

/* A characteristic picked: the level buttons, on a single-use row. */
int
cb_upgrade_pick(struct bc_router_ctx *ctx)
{
	struct bc_tg_kb *kb;
	struct player p;
	json_t *markup;
	char data[64], label[8];
	int64_t i, l, pid, n;
	int rc;

	if (game_parse_int(ctx->args, 0, GAME_NCHARS - 1, &i) == -1)
		return game_alert(ctx, M_STALE_BUTTON);
	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	l = player_char_level(&p, char_names[i]);
	player_free(&p);
	if (l == 0)
		return game_alert(ctx, M_CHAR_NONE);
	if (l >= GAME_CHAR_MAX)
		return game_edit(ctx, NULL, M_UPG_MAX, char_names[i]);
	if ((pid = game_pending_new(ctx, "upg", char_names[i], 0)) == -1)
		return -1;
	kb = bc_tg_kb_new();
	for (n = 1; n <= UPGRADE_STEPS && l + n <= GAME_CHAR_MAX; n++) {
		if (n == 8)
			bc_tg_kb_row(kb);
		snprintf(data, sizeof data, "upgl_%" PRId64 "_%" PRId64, pid, n);
		snprintf(label, sizeof label, "+%" PRId64, n);
		bc_tg_kb_button(kb, label, data);
	}
	if ((markup = game_kb_finish(kb)) == NULL)
		return -1;
	return game_replykb(ctx, markup, M_UPG_LEVELS, char_names[i],
	    (long long)l);
}

/* Levels chosen: pay 100 BTC a level. */
int
cb_upgrade_levels(struct bc_router_ctx *ctx)
{
	struct player p;
	const char *rest;
	int64_t pid, n, l, cost, unused;
	char *name = NULL;
	int rc;

	if ((rest = game_arg_split(ctx->args, '_', &pid)) == NULL ||
	    game_parse_int(rest, 1, UPGRADE_STEPS, &n) == -1)
		return game_alert(ctx, M_STALE_BUTTON);
	if ((rc = game_pending_take(ctx, pid, "upg", &name, &unused)) != 1)
		return rc == -1 ? -1 : game_alert(ctx, M_SHOP_USED);
	if (char_index(name) == -1 || (rc = player_require(ctx, &p)) != 1) {
		free(name);
		return rc == 1 ? game_alert(ctx, M_STALE_BUTTON) : rc;
	}
	l = player_char_level(&p, name);
	cost = UPGRADE_COST * n;
	if (l == 0)
		rc = game_edit(ctx, NULL, M_CHAR_NONE);
	else if (l + n > GAME_CHAR_MAX)
		rc = game_edit(ctx, NULL, M_UPG_MAX, name);
	else if (p.coins < cost)
		rc = game_edit(ctx, NULL, M_NO_BTC, (long long)cost);
	else {
		player_add_coins(&p, -cost);
		strv_kv_set(&p.chars, name, l + n);
		rc = -1;
		if (player_save(ctx, &p) == 0)
			rc = game_edit(ctx, NULL, M_UPG_DONE, name,
			    (long long)(l + n), (long long)cost,
			    (long long)p.coins);
	}
	free(name);
	player_free(&p);
	return rc;
}
