/*
 * The admin panel (bots-spec.md 3.13): /admin opens an inline menu
 * (callback data "adm_..."): players (± cm, reset the cooldown, stats),
 * economy (± BTC, floored at 0), items (± items, + statuettes), system
 * (JSON export of every player as a document, a broadcast to every
 * player through the broadcast runner). Amounts are typed as the next
 * message (conversation "admin"; /cancel aborts). Every action is written
 * to admin_audit in its transaction.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/bot.h>
#include <botcommon/broadcast.h>
#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "game.h"
#include "msg.h"

#define ADM_LIST_MAX	60
#define ADM_BCAST_MAX	4000

static struct bc_timer *adm_bcast_timer;

/* The main menu's keyboard. */
static json_t *
adm_menu_kb(void)
{
	struct bc_tg_kb *kb = bc_tg_kb_new();

	bc_tg_kb_button(kb, M_ADM_PLAYERS, "adm_pl");
	bc_tg_kb_button(kb, M_ADM_ECON, "adm_ec");
	bc_tg_kb_row(kb);
	bc_tg_kb_button(kb, M_ADM_ITEMS, "adm_it");
	bc_tg_kb_button(kb, M_ADM_SYSTEM, "adm_sy");
	return game_kb_finish(kb);
}

int
cmd_admin(struct bc_router_ctx *ctx)
{
	json_t *kb = adm_menu_kb();

	return kb == NULL ? -1 : game_replykb(ctx, kb, M_ADM_MENU);
}

/* The players as buttons "adm_<code>_<id>". */
static int
adm_list(struct bc_router_ctx *ctx, const char *code)
{
	struct bc_db_res *res;
	struct bc_tg_kb *kb;
	char *cause = NULL, data[64], lim[8];
	json_t *markup;
	int i;

	snprintf(lim, sizeof lim, "%d", ADM_LIST_MAX);
	res = bc_db_query(ctx->db, "SELECT player_id, coalesce(player_name, "
	    "player_id::text) FROM pisunchik_data ORDER BY player_name, "
	    "player_id LIMIT $1", BC_DB_P(lim), &cause);
	if (res == NULL) {
		log_warnx("admin: %s", cause);
		free(cause);
		return -1;
	}
	kb = bc_tg_kb_new();
	for (i = 0; i < bc_db_ntuples(res); i++) {
		if (i % 2 == 0)
			bc_tg_kb_row(kb);
		snprintf(data, sizeof data, "adm_%s_%s", code,
		    bc_db_get(res, i, 0));
		bc_tg_kb_button(kb, bc_db_get(res, i, 1), data);
	}
	bc_db_res_free(res);
	bc_tg_kb_row(kb);
	bc_tg_kb_button(kb, M_ADM_BACK, "adm_menu");
	if ((markup = game_kb_finish(kb)) == NULL)
		return -1;
	return game_edit(ctx, markup, M_ADM_PICK);
}

/* A player's card with the actions of section code ("p" or "i"). */
static int
adm_card(struct bc_router_ctx *ctx, int64_t id, const char *code)
{
	struct bc_tg_kb *kb;
	struct player p;
	json_t *markup;
	char data[3][48], *chars;
	int rc;

	if ((rc = player_load(ctx, id, 0, &p)) != 1)
		return rc == -1 ? -1 : game_alert(ctx, M_ADM_NO_PLAYER);
	kb = bc_tg_kb_new();
	if (strcmp(code, "p") == 0) {
		snprintf(data[0], sizeof data[0], "adm_s_%" PRId64, id);
		snprintf(data[1], sizeof data[1], "adm_c_%" PRId64, id);
		snprintf(data[2], sizeof data[2], "adm_p_%" PRId64, id);
		bc_tg_kb_button(kb, M_ADM_SIZE_BTN, data[0]);
		bc_tg_kb_button(kb, M_ADM_CD_BTN, data[1]);
		bc_tg_kb_button(kb, M_ADM_STATS_BTN, data[2]);
	} else {
		snprintf(data[0], sizeof data[0], "adm_ii_%" PRId64, id);
		snprintf(data[1], sizeof data[1], "adm_is_%" PRId64, id);
		bc_tg_kb_button(kb, M_ADM_ITEM_BTN, data[0]);
		bc_tg_kb_button(kb, M_ADM_STAT_BTN, data[1]);
	}
	bc_tg_kb_row(kb);
	bc_tg_kb_button(kb, M_ADM_BACK, "adm_menu");
	chars = strv_to_json(&p.chars);
	rc = -1;
	if ((markup = game_kb_finish(kb)) != NULL)
		rc = game_edit(ctx, markup, M_ADM_PLAYER, p.name, (long long)p.id,
		    (long long)p.size, (long long)p.coins, p.items.n,
		    p.statuetki.n, chars);
	free(chars);
	player_free(&p);
	return rc;
}

/* Start the typed step of an action on player id. */
static int
adm_ask(struct bc_router_ctx *ctx, const char *step, int64_t id)
{
	struct player p;
	json_t *d;
	int rc;

	if ((rc = player_load(ctx, id, 0, &p)) != 1)
		return rc == -1 ? -1 : game_alert(ctx, M_ADM_NO_PLAYER);
	d = json_pack("{sI}", "player", (json_int_t)id);
	rc = bc_router_conv_start(ctx, "admin", step, d, 0);
	json_decref(d);
	if (rc == 0 && strcmp(step, "size") == 0)
		rc = game_reply(ctx, M_ADM_ASK_SIZE, p.name);
	else if (rc == 0 && strcmp(step, "btc") == 0)
		rc = game_reply(ctx, M_ADM_ASK_BTC, p.name);
	else if (rc == 0 && strcmp(step, "item") == 0)
		rc = game_reply(ctx, M_ADM_ASK_ITEM, p.name);
	else if (rc == 0)
		rc = game_reply(ctx, M_ADM_ASK_STAT, p.name);
	player_free(&p);
	return rc;
}

/* Write an audit row {player, ...extra}. */
static int
adm_audit(struct bc_router_ctx *ctx, const char *action, int64_t id,
    json_t *extra)
{
	json_t *d = extra != NULL ? extra : json_object();
	int rc;

	if (id != 0)
		json_object_set_new(d, "player", json_integer(id));
	rc = bc_router_audit(ctx, action, d);
	json_decref(d);
	return rc;
}

static int
adm_reset_cooldown(struct bc_router_ctx *ctx, int64_t id)
{
	struct player p;
	int rc;

	if ((rc = player_load(ctx, id, 1, &p)) != 1)
		return rc == -1 ? -1 : game_alert(ctx, M_ADM_NO_PLAYER);
	p.last_used = 0;
	p.notified = 1;
	rc = -1;
	if (player_save(ctx, &p) == 0 &&
	    adm_audit(ctx, "reset_cooldown", id, NULL) == 0)
		rc = game_reply(ctx, M_ADM_CD_DONE, p.name);
	player_free(&p);
	return rc;
}

/* The JSON export of every player, sent as a document. */
static int
adm_export(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char *cause = NULL, cap[64];
	const char *doc;
	int64_t n = 0;

	res = bc_db_query(ctx->db, "SELECT coalesce(json_agg(p ORDER BY "
	    "player_id), '[]')::text, count(*) FROM pisunchik_data p", 0, NULL,
	    &cause);
	if (res == NULL) {
		log_warnx("export: %s", cause);
		free(cause);
		return -1;
	}
	doc = bc_db_get(res, 0, 0);
	bc_db_get_int64(res, 0, 1, &n);
	snprintf(cap, sizeof cap, M_ADM_EXPORT_CAP, (int)n);
	if (adm_audit(ctx, "export", 0, json_pack("{sI}", "players",
	    (json_int_t)n)) == -1 ||
	    bc_tg_upload_media(game.env->tg, BC_TG_DOCUMENT, ctx->chat_id,
	    doc, strlen(doc), "players.json", cap, 0, NULL, NULL,
	    NULL) == -1) {
		bc_db_res_free(res);
		return -1;
	}
	bc_db_res_free(res);
	return 0;
}

static void
adm_bcast_kick(void *arg)
{
	char *cause = NULL;

	(void)arg;
	if (bc_broadcast_run(game.bcast, &cause) == -1) {
		log_warnx("broadcast: %s", cause);
		free(cause);
	}
}

/* The finished job's summary, to the admin who started it (every admin
 * when the audit row is gone). */
static int
adm_bcast_summary(struct bc_router_ctx *ctx)
{
	const struct bc_broadcast_progress *p = ctx->arg;
	struct bc_db_res *res;
	char jid[BC_DB_INT64_BUFSZ], *cause = NULL, *text, *tmp;
	int64_t to;
	size_t i;
	int rc = 0, n;

	xasprintf(&text, M_ADM_BCAST_FINISHED, (long long)p->job_id,
	    (long long)p->sent, (long long)(p->failed - p->uncertain));
	if (p->uncertain > 0) {
		xasprintf(&tmp, "%s" M_ADM_BCAST_UNCERTAIN, text,
		    (long long)p->uncertain);
		free(text);
		text = tmp;
	}
	res = bc_db_query(ctx->db, "SELECT DISTINCT admin_id FROM admin_audit "
	    "WHERE bot = $1 AND action = 'broadcast' AND details->>'job' = $2",
	    BC_DB_P(GAME_BOT, bc_db_int64(jid, p->job_id)), &cause);
	if (res == NULL) {
		log_warnx("broadcast summary: %s", cause);
		free(cause);
		free(text);
		return -1;
	}
	n = bc_db_ntuples(res);
	for (i = 0; i < (size_t)n && rc == 0; i++)
		if (bc_db_get_int64(res, (int)i, 0, &to) == 0)
			rc = bc_router_send(ctx, to, text, 0, NULL);
	for (i = 0; n == 0 && i < game.nadmins && rc == 0; i++)
		rc = bc_router_send(ctx, game.admins[i], text, 0, NULL);
	bc_db_res_free(res);
	free(text);
	return rc;
}

/*
 * The broadcast runner's progress: when a job is done, its summary goes
 * to the admin, uncertain recipients (in flight when the bot was killed,
 * not sent again) named apart.
 */
void
adm_bcast_progress(const struct bc_broadcast_progress *p, void *arg)
{
	struct bc_broadcast_progress copy = *p;
	char *cause = NULL;

	(void)arg;
	if (!p->done)
		return;
	log_info("broadcast %lld done: sent %lld, failed %lld, uncertain "
	    "%lld", (long long)p->job_id, (long long)p->sent,
	    (long long)(p->failed - p->uncertain), (long long)p->uncertain);
	if (bc_router_run(game.env->router, adm_bcast_summary, &copy,
	    &cause) == -1) {
		log_warnx("broadcast summary: %s", cause);
		free(cause);
	}
}

/* Dispatch "adm_<what>[_<id>]". */
int
cb_admin(struct bc_router_ctx *ctx)
{
	const char *a = ctx->args, *us = strrchr(a, '_');
	char code[8];
	int64_t id = 0;

	if (strcmp(a, "menu") == 0)
		return game_edit(ctx, adm_menu_kb(), M_ADM_MENU);
	if (strcmp(a, "pl") == 0)
		return adm_list(ctx, "p");
	if (strcmp(a, "ec") == 0)
		return adm_list(ctx, "b");
	if (strcmp(a, "it") == 0)
		return adm_list(ctx, "i");
	if (strcmp(a, "sy") == 0) {
		struct bc_tg_kb *kb = bc_tg_kb_new();

		bc_tg_kb_button(kb, M_ADM_EXPORT, "adm_x");
		bc_tg_kb_button(kb, M_ADM_BCAST, "adm_bc");
		bc_tg_kb_row(kb);
		bc_tg_kb_button(kb, M_ADM_BACK, "adm_menu");
		return game_edit(ctx, game_kb_finish(kb), M_ADM_SYSTEM);
	}
	if (strcmp(a, "x") == 0)
		return adm_export(ctx);
	if (strcmp(a, "bc") == 0) {
		if (bc_router_conv_start(ctx, "admin", "bcast", NULL, 0) == -1)
			return -1;
		return game_reply(ctx, M_ADM_ASK_BCAST);
	}
	if (us == NULL || (size_t)(us - a) >= sizeof code ||
	    game_parse_id(us + 1, &id) == -1)
		return game_alert(ctx, M_STALE_BUTTON);
	memcpy(code, a, (size_t)(us - a));
	code[us - a] = '\0';
	if (strcmp(code, "p") == 0 || strcmp(code, "i") == 0)
		return adm_card(ctx, id, code);
	if (strcmp(code, "s") == 0)
		return adm_ask(ctx, "size", id);
	if (strcmp(code, "b") == 0)
		return adm_ask(ctx, "btc", id);
	if (strcmp(code, "ii") == 0)
		return adm_ask(ctx, "item", id);
	if (strcmp(code, "is") == 0)
		return adm_ask(ctx, "stat", id);
	if (strcmp(code, "c") == 0)
		return adm_reset_cooldown(ctx, id);
	return game_alert(ctx, M_STALE_BUTTON);
}

/* ± size or ± BTC (BTC floored at 0). */
static int
adm_amount(struct bc_router_ctx *ctx, struct player *p, int btc,
    const char *t)
{
	int64_t d;

	if (game_parse_int(t, -GAME_AMOUNT_MAX, GAME_AMOUNT_MAX, &d) == -1 ||
	    d == 0)
		return game_reply(ctx, M_BAD_NUMBER, -GAME_AMOUNT_MAX,
		    GAME_AMOUNT_MAX);
	if (btc) {
		player_add_coins(p, d);
		if (p->coins < 0)
			p->coins = 0;
	} else
		player_add_size(p, d);
	if (player_save(ctx, p) == -1 || bc_router_conv_end(ctx) == -1 ||
	    adm_audit(ctx, btc ? "btc" : "size", p->id, json_pack("{sIsI}",
	    "delta", (json_int_t)d, btc ? "coins" : "size",
	    (json_int_t)(btc ? p->coins : p->size))) == -1)
		return -1;
	if (btc)
		return game_reply(ctx, M_ADM_BTC_DONE, p->name,
		    (long long)p->coins, (long long)d);
	return game_reply(ctx, M_ADM_SIZE_DONE, p->name, (long long)p->size,
	    (long long)d);
}

/* "key N": add N copies of an item, or remove up to -N. */
static int
adm_item(struct bc_router_ctx *ctx, struct player *p, const char *t)
{
	char key[64];
	const char *sp = t != NULL ? strchr(t, ' ') : NULL;
	const struct shop_item *it;
	int64_t n, i;

	if (sp == NULL || (size_t)(sp - t) >= sizeof key)
		return game_reply(ctx, M_ADM_ITEM_BAD);
	memcpy(key, t, (size_t)(sp - t));
	key[sp - t] = '\0';
	if ((it = shop_find(key)) == NULL)
		return game_reply(ctx, M_SHOP_UNKNOWN);
	if (game_parse_int(sp + 1, -100, 100, &n) == -1 || n == 0)
		return game_reply(ctx, M_ADM_ITEM_BAD);
	for (i = 0; i < n; i++)
		strv_add(&p->items, it->key);
	for (i = 0; i < -n; i++)
		strv_remove(&p->items, it->key);
	if (player_save(ctx, p) == -1 || bc_router_conv_end(ctx) == -1 ||
	    adm_audit(ctx, "item", p->id, json_pack("{sssI}", "item", it->key,
	    "delta", (json_int_t)n)) == -1)
		return -1;
	return game_reply(ctx, M_ADM_ITEM_DONE, p->name, it->name,
	    strv_count(&p->items, it->key));
}

/* "idx N": add N copies of statuette idx (1..4). */
static int
adm_statuette(struct bc_router_ctx *ctx, struct player *p, const char *t)
{
	const char *sp = t != NULL ? strchr(t, ' ') : NULL;
	const char *name;
	char num[8];
	int64_t idx, n, i;

	if (sp == NULL || (size_t)(sp - t) >= sizeof num)
		return game_reply(ctx, M_ADM_STAT_BAD);
	memcpy(num, t, (size_t)(sp - t));
	num[sp - t] = '\0';
	if (game_parse_int(num, 1, GAME_STATUETTES, &idx) == -1 ||
	    game_parse_int(sp + 1, 1, 10, &n) == -1)
		return game_reply(ctx, M_ADM_STAT_BAD);
	name = statuette_names[idx - 1];
	for (i = 0; i < n; i++)
		strv_add(&p->statuetki, name);
	if (player_save(ctx, p) == -1 || bc_router_conv_end(ctx) == -1 ||
	    adm_audit(ctx, "statuette", p->id, json_pack("{sssI}", "statuette",
	    name, "delta", (json_int_t)n)) == -1)
		return -1;
	return game_reply(ctx, M_ADM_STAT_DONE, p->name, name,
	    strv_count(&p->statuetki, name));
}

/* The broadcast text: a job for every player's private chat. */
static int
adm_broadcast(struct bc_router_ctx *ctx, const char *t)
{
	struct bc_db_res *res;
	char *cause = NULL;
	int64_t *ids, job;
	size_t n = 0;
	int i;

	if (t == NULL || *t == '\0' || bc_tg_utf16_len(t, strlen(t)) >
	    ADM_BCAST_MAX)
		return game_reply(ctx, M_ADM_BCAST_BAD);
	res = bc_db_query(ctx->db, "SELECT player_id FROM pisunchik_data "
	    "WHERE player_id > 0 ORDER BY player_id", 0, NULL, &cause);
	if (res == NULL)
		goto fail;
	ids = xcalloc((size_t)bc_db_ntuples(res) + 1, sizeof *ids);
	for (i = 0; i < bc_db_ntuples(res); i++)
		if (bc_db_get_int64(res, i, 0, &ids[n]) == 0)
			n++;
	bc_db_res_free(res);
	if (n == 0) {
		free(ids);
		return bc_router_conv_end(ctx) == -1 ? -1 :
		    game_reply(ctx, M_ADM_BCAST_NONE);
	}
	job = bc_broadcast_create(ctx->db, GAME_BOT, t, 0, ids, n, &cause);
	free(ids);
	if (job == -1)
		goto fail;
	if (bc_router_conv_end(ctx) == -1 || adm_audit(ctx, "broadcast", 0,
	    json_pack("{sIsI}", "job", (json_int_t)job, "recipients",
	    (json_int_t)n)) == -1)
		return -1;
	if (adm_bcast_timer == NULL)
		adm_bcast_timer = bc_timer_new(adm_bcast_kick, NULL);
	bc_timer_start(adm_bcast_timer, 0);	/* after the commit */
	return game_reply(ctx, M_ADM_BCAST_DONE, (long long)job, n);
fail:
	log_warnx("broadcast: %s", cause);
	free(cause);
	return -1;
}

int
conv_admin(struct bc_router_ctx *ctx)
{
	const struct bc_conv *c = bc_router_conv(ctx);
	const char *t = ctx->msg != NULL ? ctx->msg->text : NULL;
	struct player p;
	json_int_t id;
	int rc;

	if (c == NULL)
		return -1;
	if (!ctx->is_admin)
		return bc_router_conv_end(ctx);
	if (strcmp(c->step, "bcast") == 0)
		return adm_broadcast(ctx, t);
	id = json_integer_value(json_object_get(c->data, "player"));
	if ((rc = player_load(ctx, id, 1, &p)) != 1)
		return rc == -1 ? -1 : bc_router_conv_end(ctx) == -1 ? -1 :
		    game_reply(ctx, M_ADM_NO_PLAYER);
	if (strcmp(c->step, "size") == 0 || strcmp(c->step, "btc") == 0)
		rc = adm_amount(ctx, &p, strcmp(c->step, "btc") == 0, t);
	else if (strcmp(c->step, "item") == 0)
		rc = adm_item(ctx, &p, t);
	else if (strcmp(c->step, "stat") == 0)
		rc = adm_statuette(ctx, &p, t);
	else
		rc = bc_router_conv_end(ctx);
	player_free(&p);
	return rc;
}
