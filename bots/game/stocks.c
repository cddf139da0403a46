/*
 * The stock market (bots-spec.md 3.7): the companies' prices in stocks,
 * holdings as "Company:qty" in player_stocks. Buying and selling pick a
 * company with a button, then the quantity is the next message (digits
 * only; conversation "stocks"). Prices are floats in the table; money
 * is computed in hundredths and rounded up when paying, down when paid.
 */

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/xmalloc.h>

#include "game.h"
#include "msg.h"

static int
stock_index(const char *name)
{
	int i;

	for (i = 0; i < GAME_NSTOCKS; i++)
		if (strcmp(stock_companies[i], name) == 0)
			return i;
	return -1;
}

/* The price of company in hundredths: 0, or -1 (unknown, or error). */
static int
stock_price(struct bc_router_ctx *ctx, const char *company, int64_t *cents)
{
	struct bc_db_res *res;
	char *cause = NULL;
	double v;
	int rc = -1;

	res = bc_db_query(ctx->db, "SELECT price FROM stocks WHERE "
	    "company_name = $1", BC_DB_P(company), &cause);
	if (res == NULL) {
		log_warnx("stocks: %s", cause);
		free(cause);
		return -1;
	}
	if (bc_db_get_double(res, 0, 0, &v) == 0 && isfinite(v) && v >= 0 &&
	    v < 1e12) {
		*cents = llround(v * 100);
		rc = 0;
	}
	bc_db_res_free(res);
	return rc;
}

int
cmd_current_stocks(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char *cause = NULL, *out = xstrdup(M_STK_HEAD), *tmp;
	double v;
	int i, rc;

	res = bc_db_query(ctx->db, "SELECT company_name, price FROM stocks "
	    "ORDER BY company_name", 0, NULL, &cause);
	if (res == NULL) {
		log_warnx("stocks: %s", cause);
		free(cause);
		free(out);
		return -1;
	}
	for (i = 0; i < bc_db_ntuples(res); i++) {
		if (bc_db_get_double(res, i, 1, &v) == -1)
			v = 0;
		xasprintf(&tmp, "%s" M_STK_LINE, out, bc_db_get(res, i, 0), v);
		free(out);
		out = tmp;
	}
	bc_db_res_free(res);
	rc = game_reply(ctx, "%s", out);
	free(out);
	return rc;
}

int
cmd_my_stocks(struct bc_router_ctx *ctx)
{
	struct player p;
	char *out = xstrdup(M_STK_MY_HEAD), *tmp;
	int64_t qty, cents;
	int i, n = 0, rc;

	if ((rc = player_require(ctx, &p)) != 1) {
		free(out);
		return rc;
	}
	for (i = 0; i < GAME_NSTOCKS && rc != -1; i++) {
		if ((qty = strv_kv_get(&p.stocks, stock_companies[i])) <= 0)
			continue;
		if (stock_price(ctx, stock_companies[i], &cents) == -1)
			cents = 0;
		xasprintf(&tmp, "%s" M_STK_MY_LINE, out, stock_companies[i],
		    (long long)qty, cents / 100.0, (double)qty * cents / 100.0);
		free(out);
		out = tmp;
		n++;
	}
	rc = n == 0 ? game_reply(ctx, M_STK_MY_NONE) : game_reply(ctx, "%s",
	    out);
	free(out);
	player_free(&p);
	return rc;
}

/* Company buttons "stock_<op>_<name>" (op b or s), only owned for s. */
static int
stock_menu(struct bc_router_ctx *ctx, char op, const char *ask)
{
	struct bc_tg_kb *kb;
	struct player p;
	json_t *markup;
	char data[64];
	int i, n = 0, rc;

	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	kb = bc_tg_kb_new();
	for (i = 0; i < GAME_NSTOCKS; i++) {
		if (op == 's' && strv_kv_get(&p.stocks, stock_companies[i]) <= 0)
			continue;
		snprintf(data, sizeof data, "stock_%c_%s", op,
		    stock_companies[i]);
		bc_tg_kb_row(kb);
		bc_tg_kb_button(kb, stock_companies[i], data);
		n++;
	}
	player_free(&p);
	if (n == 0) {
		bc_tg_kb_free(kb);
		return game_reply(ctx, M_STK_MY_NONE);
	}
	if ((markup = game_kb_finish(kb)) == NULL)
		return -1;
	return game_replykb(ctx, markup, "%s", ask);
}

int
cmd_buy_stocks(struct bc_router_ctx *ctx)
{
	return stock_menu(ctx, 'b', M_STK_BUY_ASK);
}

int
cmd_sell_stocks(struct bc_router_ctx *ctx)
{
	return stock_menu(ctx, 's', M_STK_SELL_ASK);
}

/* A company picked: ask for the quantity in conversation "stocks". */
int
cb_stock_pick(struct bc_router_ctx *ctx)
{
	const char *a = ctx->args, *company;
	struct player p;
	int64_t cents, own;
	json_t *d;
	int i, rc;

	if ((a[0] != 'b' && a[0] != 's') || a[1] != '_' ||
	    (i = stock_index(a + 2)) == -1)
		return game_alert(ctx, M_STK_UNKNOWN);
	company = stock_companies[i];
	if ((rc = player_require(ctx, &p)) != 1)
		return rc;
	own = strv_kv_get(&p.stocks, company);
	player_free(&p);
	if (stock_price(ctx, company, &cents) == -1)
		return game_alert(ctx, M_STK_UNKNOWN);
	if (a[0] == 's' && own <= 0)
		return game_alert(ctx, M_STK_MY_NONE);
	d = json_pack("{ss}", "company", company);
	rc = bc_router_conv_start(ctx, "stocks", a[0] == 'b' ? "buy" : "sell",
	    d, 0);
	json_decref(d);
	if (rc == -1)
		return -1;
	if (a[0] == 'b')
		return game_reply(ctx, M_STK_QTY_BUY, company, cents / 100.0);
	return game_reply(ctx, M_STK_QTY_SELL, company, (long long)own);
}

/* Digits only, 1..GAME_QTY_MAX. */
static int
stock_qty(const char *t, int64_t *qty)
{
	size_t i;

	if (t == NULL || t[0] == '\0' || strlen(t) > 7)
		return -1;
	for (i = 0; t[i] != '\0'; i++)
		if (!isdigit((unsigned char)t[i]))
			return -1;
	return game_parse_int(t, 1, GAME_QTY_MAX, qty);
}

/* Buy or sell qty of company at cents apiece. */
static int
stock_trade(struct bc_router_ctx *ctx, struct player *p, int buy,
    const char *company, int64_t qty, int64_t cents)
{
	int64_t total, own = strv_kv_get(&p->stocks, company), money;

	if (__builtin_mul_overflow(cents, qty, &total))
		return game_reply(ctx, M_STK_QTY_BAD, (long long)GAME_QTY_MAX);
	if (buy) {
		money = (total + 99) / 100;
		if (p->coins < money)
			return bc_router_conv_end(ctx) == -1 ? -1 :
			    game_reply(ctx, M_NO_BTC, (long long)money);
		player_add_coins(p, -money);
		strv_kv_set(&p->stocks, company, own + qty);
	} else {
		if (qty > own)
			return game_reply(ctx, M_STK_NOT_ENOUGH,
			    (long long)own, company);
		money = total / 100;
		player_add_coins(p, money);
		strv_kv_set(&p->stocks, company, own - qty);
	}
	if (player_save(ctx, p) == -1 || bc_router_conv_end(ctx) == -1)
		return -1;
	return game_reply(ctx, buy ? M_STK_BOUGHT : M_STK_SOLD,
	    (long long)qty, company, (long long)money, (long long)p->coins);
}

int
conv_stocks(struct bc_router_ctx *ctx)
{
	const struct bc_conv *c = bc_router_conv(ctx);
	const char *company;
	struct player p;
	int64_t qty, cents;
	int i, rc;

	if (c == NULL)
		return -1;
	/* The conversation's strings die with it: use our own. */
	company = json_string_value(json_object_get(c->data, "company"));
	if (company == NULL || (i = stock_index(company)) == -1 ||
	    stock_price(ctx, (company = stock_companies[i]), &cents) == -1)
		return bc_router_conv_end(ctx) == -1 ? -1 :
		    game_reply(ctx, M_STK_UNKNOWN);
	if (stock_qty(ctx->msg != NULL ? ctx->msg->text : NULL, &qty) == -1)
		return game_reply(ctx, M_STK_QTY_BAD, (long long)GAME_QTY_MAX);
	if ((rc = player_require(ctx, &p)) != 1) {
		if (rc == 0 && bc_router_conv_end(ctx) == -1)
			return -1;
		return rc;
	}
	rc = stock_trade(ctx, &p, strcmp(c->step, "buy") == 0, company, qty,
	    cents);
	player_free(&p);
	return rc;
}

/*
 * /stocks_update (admin): each price times 1 + U(-0.10, +0.40), rounded
 * to hundredths, 0 becoming 1. Draws: per company in name order, the
 * change in ten-thousandths (-1000..4000).
 */
int
cmd_stocks_update(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char *cause = NULL, *out = xstrdup(M_STK_UPDATED_HEAD), *tmp, pr[64];
	double old, nw;
	int i, rc = -1;

	res = bc_db_query(ctx->db, "SELECT company_name, price FROM stocks "
	    "ORDER BY company_name FOR UPDATE", 0, NULL, &cause);
	if (res == NULL)
		goto fail;
	for (i = 0; i < bc_db_ntuples(res); i++) {
		if (bc_db_get_double(res, i, 1, &old) == -1 || !isfinite(old))
			old = 1;
		nw = round(old * (1 + rng_range(-1000, 4000) / 10000.0) * 100)
		    / 100;
		if (nw <= 0 || !isfinite(nw) || nw > 1e12)
			nw = 1;
		snprintf(pr, sizeof pr, "%.2f", nw);
		if (bc_db_exec(ctx->db, "UPDATE stocks SET price = $2 WHERE "
		    "company_name = $1", BC_DB_P(bc_db_get(res, i, 0), pr),
		    NULL, &cause) == -1)
			goto fail;
		xasprintf(&tmp, "%s" M_STK_UPDATED_LINE, out,
		    bc_db_get(res, i, 0), old, nw, (nw / old - 1) * 100,
		    nw >= old ? "⬆️" : "⬇️");
		free(out);
		out = tmp;
	}
	rc = game_reply(ctx, "%s", out);
fail:
	if (cause != NULL) {
		log_warnx("stocks update: %s", cause);
		free(cause);
	}
	bc_db_res_free(res);
	free(out);
	return rc;
}
