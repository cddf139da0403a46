/*
 * The shop (bots-spec.md 3.4, 3.5): /shop lists the items at the price
 * after the Hot discount; a press quotes the price in a single-use
 * confirmation (a game_pending row whose id is in the ✅/❌ buttons), and
 * ✅ consumes it, checks the balance and pays, all in the press's
 * transaction with the player's row locked. /items shows the inventory.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/db.h>
#include <botcommon/xmalloc.h>

#include "game.h"
#include "msg.h"

const struct shop_item *
shop_find(const char *key)
{
	size_t i;

	for (i = 0; i < shop_nitems; i++)
		if (strcmp(shop_items[i].key, key) == 0)
			return &shop_items[i];
	return NULL;
}

/* The Hot discount in percent: 5 + 3(L - 1), 0 without Hot. */
static int64_t
shop_discount(const struct player *p)
{
	int64_t l = player_char_level(p, "Hot");

	if (l <= 0)
		return 0;
	if (l > GAME_CHAR_MAX)
		l = GAME_CHAR_MAX;
	return 5 + 3 * (l - 1);
}

/* A price after the player's Hot discount (rounded down). */
int64_t
shop_price(const struct player *p, int64_t price)
{
	return price * (100 - shop_discount(p)) / 100;
}

int
cmd_shop(struct bc_router_ctx *ctx)
{
	struct bc_tg_kb *kb;
	struct player p;
	json_t *markup;
	char label[128], data[64];
	size_t i;
	int rc;

	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	kb = bc_tg_kb_new();
	for (i = 0; i < shop_nitems; i++) {
		snprintf(label, sizeof label, M_SHOP_BUTTON, shop_items[i].name,
		    (long long)shop_price(&p, shop_items[i].price));
		snprintf(data, sizeof data, "shop_buy_%s", shop_items[i].key);
		bc_tg_kb_row(kb);
		bc_tg_kb_button(kb, label, data);
	}
	rc = -1;
	if ((markup = game_kb_finish(kb)) != NULL)
		rc = game_replykb(ctx, markup, M_SHOP_HEAD,
		    (long long)shop_discount(&p));
	player_free(&p);
	return rc;
}

/* A press on an item: quote the price in a single-use confirmation. */
int
cb_shop_buy(struct bc_router_ctx *ctx)
{
	const struct shop_item *it;
	struct bc_tg_kb *kb;
	struct player p;
	json_t *markup;
	char yes[64], no[64];
	int64_t price, pid;
	int rc;

	if ((it = shop_find(ctx->args)) == NULL)
		return game_alert(ctx, M_SHOP_UNKNOWN);
	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	price = shop_price(&p, it->price);
	player_free(&p);
	if ((pid = game_pending_new(ctx, "buy", it->key, price)) == -1)
		return -1;
	snprintf(yes, sizeof yes, "buy_confirm_%" PRId64, pid);
	snprintf(no, sizeof no, "buy_cancel_%" PRId64, pid);
	kb = bc_tg_kb_new();
	bc_tg_kb_button(kb, M_SHOP_YES, yes);
	bc_tg_kb_button(kb, M_SHOP_NO, no);
	if ((markup = game_kb_finish(kb)) == NULL)
		return -1;
	return game_replykb(ctx, markup, M_SHOP_CONFIRM, it->name,
	    (long long)price);
}

/* Pay price for key: 0 done (replied), -1. */
static int
shop_pay(struct bc_router_ctx *ctx, const char *key, int64_t price)
{
	const struct shop_item *it = shop_find(key);
	struct player p;
	int rc;

	if (it == NULL)
		return game_edit(ctx, NULL, M_SHOP_UNKNOWN);
	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	if (p.coins < price)
		rc = game_edit(ctx, NULL, M_NO_BTC, (long long)price);
	else {
		player_add_coins(&p, -price);
		strv_add(&p.items, it->key);
		rc = -1;
		if (player_save(ctx, &p) == 0)
			rc = game_edit(ctx, NULL, M_SHOP_DONE, it->name,
			    (long long)price, (long long)p.coins);
	}
	player_free(&p);
	return rc;
}

int
cb_buy_confirm(struct bc_router_ctx *ctx)
{
	int64_t pid, price;
	char *key = NULL;
	int rc;

	if (game_parse_id(ctx->args, &pid) == -1)
		return game_alert(ctx, M_STALE_BUTTON);
	if ((rc = game_pending_take(ctx, pid, "buy", &key, &price)) != 1)
		return rc == -1 ? -1 : game_alert(ctx, M_SHOP_USED);
	rc = shop_pay(ctx, key, price);
	free(key);
	return rc;
}

int
cb_buy_cancel(struct bc_router_ctx *ctx)
{
	int64_t pid, price;
	char *key = NULL;
	int rc;

	if (game_parse_id(ctx->args, &pid) == -1)
		return game_alert(ctx, M_STALE_BUTTON);
	if ((rc = game_pending_take(ctx, pid, NULL, &key, &price)) != 1)
		return rc == -1 ? -1 : game_alert(ctx, M_SHOP_USED);
	free(key);
	return game_edit(ctx, NULL, M_SHOP_CANCELLED);
}

/* Append one inventory line per distinct item of p. */
static char *
items_list(const struct player *p)
{
	const struct shop_item *it;
	char *out = xstrdup(M_ITEMS_HEAD), *line, *tmp;
	size_t i, j;

	for (i = 0; i < p->items.n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(p->items.v[j], p->items.v[i]) == 0)
				break;
		if (j < i)
			continue;	/* counted at its first copy */
		it = shop_find(p->items.v[i]);
		xasprintf(&line, M_ITEMS_LINE, it ? it->name : p->items.v[i],
		    strv_count(&p->items, p->items.v[i]), it ? it->desc : "");
		xasprintf(&tmp, "%s%s", out, line);
		free(out);
		free(line);
		out = tmp;
	}
	return out;
}

int
cmd_items(struct bc_router_ctx *ctx)
{
	struct player p;
	char *list;
	int rc;

	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	if (p.items.n == 0)
		rc = game_reply(ctx, M_ITEMS_EMPTY);
	else {
		list = items_list(&p);
		rc = game_reply(ctx, "%s", list);
		free(list);
	}
	player_free(&p);
	return rc;
}
