/*
 * The items' commands (bots-spec.md 3.4, 3.5): /smazka, /krystalnie_ballzzz,
 * /zelie_pisunchika, the three potions and /masturbator (a conversation:
 * the number of centimetres is the next message).
 */

#include <stdlib.h>
#include <string.h>

#include "game.h"
#include "msg.h"

/* Load the player and check the item: 1 ready, 0 answered, -1. */
static int
item_need(struct bc_router_ctx *ctx, struct player *p, const char *key)
{
	const struct shop_item *it = shop_find(key);
	int rc;

	if ((rc = player_require(ctx, p)) != 1)
		return rc;
	if (strv_count(&p->items, key) > 0)
		return 1;
	player_free(p);
	return game_reply(ctx, M_NO_ITEM, it != NULL ? it->name : key) == -1 ?
	    -1 : 0;
}

int
cmd_smazka(struct bc_router_ctx *ctx)
{
	struct player p;
	int rc;

	if ((rc = item_need(ctx, &p, "smazka")) != 1)
		return rc;
	strv_remove(&p.items, "smazka");
	p.last_used = 0;
	p.notified = 1;
	rc = player_save(ctx, &p) == -1 ? -1 : game_reply(ctx, M_SMAZKA_DONE);
	player_free(&p);
	return rc;
}

/* Show the pre-rolled change; draws it (-10..17) if there is none. */
int
cmd_ballzzz(struct bc_router_ctx *ctx)
{
	struct player p;
	int rc = 0;

	if ((rc = item_need(ctx, &p, "krystalnie_ballzzz")) != 1)
		return rc;
	rc = 0;
	if (!p.has_ballzzz) {
		p.has_ballzzz = 1;
		p.ballzzz = rng_range(-10, 17);
		rc = player_save(ctx, &p);
	}
	if (rc == 0)
		rc = game_reply(ctx, M_BALLZZZ_SHOW, (long long)p.ballzzz);
	player_free(&p);
	return rc;
}

/* Consume key and change the size by d. */
static int
item_size(struct bc_router_ctx *ctx, const char *key, int64_t d, int zelie)
{
	struct player p;
	int rc;

	if ((rc = item_need(ctx, &p, key)) != 1)
		return rc;
	strv_remove(&p.items, key);
	player_add_size(&p, d);
	rc = -1;
	if (player_save(ctx, &p) == 0)
		rc = zelie ? game_reply(ctx, M_ZELIE_DONE, (long long)d,
		    (long long)p.size) : game_reply(ctx, M_POTION_DONE,
		    (long long)d, (long long)p.size);
	player_free(&p);
	return rc;
}

/* Draws: the coin (1..100, up to 50 is +20 cm, else -20 cm). */
int
cmd_zelie(struct bc_router_ctx *ctx)
{
	struct player p;
	int rc;

	/* Check first, so that a refused command draws nothing. */
	if ((rc = item_need(ctx, &p, "zelie_pisunchika")) != 1)
		return rc;
	player_free(&p);
	return item_size(ctx, "zelie_pisunchika", rng_percent(50) ? 20 : -20,
	    1);
}

int
cmd_potion_small(struct bc_router_ctx *ctx)
{
	return item_size(ctx, "pisunchik_potion_small", 3, 0);
}

int
cmd_potion_medium(struct bc_router_ctx *ctx)
{
	return item_size(ctx, "pisunchik_potion_medium", 5, 0);
}

int
cmd_potion_large(struct bc_router_ctx *ctx)
{
	return item_size(ctx, "pisunchik_potion_large", 10, 0);
}

int
cmd_masturbator(struct bc_router_ctx *ctx)
{
	struct player p;
	int rc;

	if ((rc = item_need(ctx, &p, "masturbator")) != 1)
		return rc;
	if (p.size <= 0)
		rc = game_reply(ctx, M_MAST_NOTHING, (long long)p.size);
	else if ((rc = bc_router_conv_start(ctx, "mast", "cm", NULL, 0)) == 0)
		rc = game_reply(ctx, M_MAST_ASK, (long long)p.size);
	player_free(&p);
	return rc;
}

/* The number of centimetres: pays 4 cm + 5 floor(cm / 5) BTC. */
int
conv_masturbator(struct bc_router_ctx *ctx)
{
	const char *t = ctx->msg != NULL ? ctx->msg->text : NULL;
	struct player p;
	int64_t cm, pay;
	int rc;

	if ((rc = player_require(ctx, &p)) != 1) {
		if (rc == 0 && bc_router_conv_end(ctx) == -1)
			return -1;
		return rc;
	}
	if (strv_count(&p.items, "masturbator") == 0) {
		rc = bc_router_conv_end(ctx) == -1 ? -1 :
		    game_reply(ctx, M_NO_ITEM, "Мастурбатор");
	} else if (game_parse_int(t, 1, GAME_SIZE_MAX, &cm) == -1)
		rc = game_reply(ctx, M_MAST_BAD, (long long)(p.size > 0 ?
		    p.size : 1));
	else if (cm > p.size)
		rc = game_reply(ctx, M_MAST_TOO_MUCH, (long long)p.size);
	else {
		pay = 4 * cm + 5 * (cm / 5);
		strv_remove(&p.items, "masturbator");
		player_add_size(&p, -cm);
		player_add_coins(&p, pay);
		rc = -1;
		if (player_save(ctx, &p) == 0 && bc_router_conv_end(ctx) == 0)
			rc = game_reply(ctx, M_MAST_DONE, (long long)cm,
			    (long long)pay, (long long)p.size,
			    (long long)p.coins);
	}
	player_free(&p);
	return rc;
}
