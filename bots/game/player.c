/*
 * Players: pisunchik_data rows loaded (locked with SELECT ... FOR UPDATE
 * in the update's transaction when they will change) and saved back in
 * the same transaction.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/xmalloc.h>

#include "game.h"
#include "msg.h"

#define PLAYER_COLS							\
	"player_id, coalesce(player_name, ''), "			\
	"coalesce(pisunchik_size, 0), coalesce(coins, 0), "		\
	"array_to_json(coalesce(items, '{}'))::text, "			\
	"array_to_json(coalesce(statuetki, '{}'))::text, "		\
	"array_to_json(coalesce(characteristics, '{}'))::text, "	\
	"array_to_json(coalesce(player_stocks, '{}'))::text, "		\
	"coalesce((extract(epoch FROM last_used) * 1000)::bigint, 0), "	\
	"coalesce((extract(epoch FROM last_prezervativ) * 1000)::bigint, 0), " \
	"coalesce((extract(epoch FROM last_vor) * 1000)::bigint, 0), "	\
	"coalesce((extract(epoch FROM casino_last_used) * 1000)::bigint, 0), " \
	"coalesce(casino_usage_count, 0), ballzzz_number, "		\
	"coalesce(notified, false), coalesce(pet_casino_extra_spins, 0), " \
	"coalesce(pet_ulta_free_roll_pending, false)"

/* Fill p from row 0 of res. */
static int
player_parse(const struct bc_db_res *res, struct player *p)
{
	int64_t v[6];
	int i;

	memset(p, 0, sizeof *p);
	if (bc_db_get_int64(res, 0, 0, &p->id) == -1 ||
	    bc_db_get_int64(res, 0, 2, &p->size) == -1 ||
	    bc_db_get_int64(res, 0, 3, &p->coins) == -1)
		return -1;
	p->name = xstrdup(bc_db_get(res, 0, 1));
	if (strv_from_json(&p->items, bc_db_get(res, 0, 4)) == -1 ||
	    strv_from_json(&p->statuetki, bc_db_get(res, 0, 5)) == -1 ||
	    strv_from_json(&p->chars, bc_db_get(res, 0, 6)) == -1 ||
	    strv_from_json(&p->stocks, bc_db_get(res, 0, 7)) == -1)
		return -1;
	for (i = 0; i < 5; i++)
		if (bc_db_get_int64(res, 0, 8 + i, &v[i]) == -1)
			return -1;
	p->last_used = v[0];
	p->last_prezervativ = v[1];
	p->last_vor = v[2];
	p->casino_last_used = v[3];
	p->casino_count = v[4];
	p->has_ballzzz = bc_db_get_int64(res, 0, 13, &p->ballzzz) == 0;
	if (bc_db_get_bool(res, 0, 14, &p->notified) == -1 ||
	    bc_db_get_int64(res, 0, 15, &p->extra_spins) == -1 ||
	    bc_db_get_bool(res, 0, 16, &p->free_roll) == -1)
		return -1;
	return 0;
}

/*
 * Load player id, locked FOR UPDATE when lock is set. 1 found, 0 not
 * registered, -1 database error (logged). Free p with player_free().
 */
int
player_load(struct bc_router_ctx *ctx, int64_t id, int lock,
    struct player *p)
{
	struct bc_db_res *res;
	char ids[BC_DB_INT64_BUFSZ], *cause = NULL;
	int rc;

	memset(p, 0, sizeof *p);
	bc_db_int64(ids, id);
	res = bc_db_query(ctx->db, lock ?
	    "SELECT " PLAYER_COLS " FROM pisunchik_data WHERE player_id = $1 "
	    "FOR UPDATE" :
	    "SELECT " PLAYER_COLS " FROM pisunchik_data WHERE player_id = $1",
	    BC_DB_P(ids), &cause);
	if (res == NULL) {
		log_warnx("player %" PRId64 ": %s", id, cause);
		free(cause);
		return -1;
	}
	if (bc_db_ntuples(res) == 0)
		rc = 0;
	else if (player_parse(res, p) == -1) {
		log_warnx("player %" PRId64 ": unreadable row", id);
		player_free(p);
		rc = -1;
	} else
		rc = 1;
	bc_db_res_free(res);
	return rc;
}

/* A time parameter: NULL for 0. */
static const char *
player_time(char *buf, int64_t ms)
{
	return ms == 0 ? NULL : bc_db_int64(buf, ms);
}

/* Write p back (the row must be locked by this transaction). */
int
player_save(struct bc_router_ctx *ctx, const struct player *p)
{
	char id[BC_DB_INT64_BUFSZ], size[BC_DB_INT64_BUFSZ];
	char coins[BC_DB_INT64_BUFSZ], t[4][BC_DB_INT64_BUFSZ];
	char cc[BC_DB_INT64_BUFSZ], bz[BC_DB_INT64_BUFSZ];
	char *a[4];
	int rc;

	a[0] = strv_to_json(&p->items);
	a[1] = strv_to_json(&p->statuetki);
	a[2] = strv_to_json(&p->chars);
	a[3] = strv_to_json(&p->stocks);
	bc_db_int64(id, p->id);
	bc_db_int64(size, p->size);
	bc_db_int64(coins, p->coins);
	bc_db_int64(cc, p->casino_count);
	rc = game_exec(ctx, "UPDATE pisunchik_data SET pisunchik_size = $2, "
	    "coins = $3, "
	    "items = ARRAY(SELECT v FROM json_array_elements_text($4::json) "
	    "WITH ORDINALITY e(v, i) ORDER BY i), "
	    "statuetki = ARRAY(SELECT v FROM json_array_elements_text($5::json) "
	    "WITH ORDINALITY e(v, i) ORDER BY i), "
	    "characteristics = ARRAY(SELECT v FROM "
	    "json_array_elements_text($6::json) WITH ORDINALITY e(v, i) "
	    "ORDER BY i), "
	    "player_stocks = ARRAY(SELECT v FROM "
	    "json_array_elements_text($7::json) WITH ORDINALITY e(v, i) "
	    "ORDER BY i), "
	    "last_used = to_timestamp($8::bigint / 1000.0), "
	    "last_prezervativ = to_timestamp($9::bigint / 1000.0), "
	    "last_vor = to_timestamp($10::bigint / 1000.0), "
	    "casino_last_used = to_timestamp($11::bigint / 1000.0), "
	    "casino_usage_count = $12, ballzzz_number = $13, notified = $14, "
	    "pet_ulta_free_roll_pending = $15 WHERE player_id = $1",
	    BC_DB_P(id, size, coins, a[0], a[1], a[2], a[3],
	    player_time(t[0], p->last_used),
	    player_time(t[1], p->last_prezervativ),
	    player_time(t[2], p->last_vor),
	    player_time(t[3], p->casino_last_used), cc,
	    p->has_ballzzz ? bc_db_int64(bz, p->ballzzz) : NULL,
	    p->notified ? "true" : "false", p->free_roll ? "true" : "false"));
	free(a[0]);
	free(a[1]);
	free(a[2]);
	free(a[3]);
	return rc;
}

void
player_free(struct player *p)
{
	free(p->name);
	p->name = NULL;
	strv_clear(&p->items);
	strv_clear(&p->statuetki);
	strv_clear(&p->chars);
	strv_clear(&p->stocks);
}

/*
 * Load the context's user, locked, and remember the chat. 1 loaded, 0 not
 * registered (the "not registered" reply was sent), -1 error.
 */
int
player_require(struct bc_router_ctx *ctx, struct player *p)
{
	int rc;

	if ((rc = player_load(ctx, ctx->user_id, 1, p)) != 0) {
		if (rc == 1 && player_note_chat(ctx, p->id,
		    ctx->chat_id) == -1) {
			player_free(p);
			return -1;
		}
		return rc;
	}
	if (ctx->u != NULL && ctx->u->type == BC_TG_UPDATE_CALLBACK_QUERY) {
		if (bc_router_answer(ctx, M_NOT_REGISTERED, 1) == -1)
			return -1;
		return 0;
	}
	return game_reply(ctx, M_NOT_REGISTERED) == -1 ? -1 : 0;
}

/* Add a group chat to the player's chat_id list. */
int
player_note_chat(struct bc_router_ctx *ctx, int64_t id, int64_t chat)
{
	char ids[BC_DB_INT64_BUFSZ], chats[BC_DB_INT64_BUFSZ];

	if (chat >= 0)
		return 0;	/* private chats are the player's own id */
	bc_db_int64(ids, id);
	bc_db_int64(chats, chat);
	return game_exec(ctx, "UPDATE pisunchik_data SET chat_id = "
	    "array_append(coalesce(chat_id, '{}'), $2::bigint) "
	    "WHERE player_id = $1 AND NOT ($2::bigint = "
	    "ANY(coalesce(chat_id, '{}')))", BC_DB_P(ids, chats));
}

int64_t
player_char_level(const struct player *p, const char *name)
{
	int64_t l = strv_kv_get(&p->chars, name);

	return l < 0 ? 0 : l;
}

/* The /pisunchik cooldown: 24 h, Titan L: int(24 * (100 - 3L) / 100) h. */
int64_t
player_cooldown_ms(const struct player *p)
{
	int64_t l = player_char_level(p, "Titan"), h;

	if (l > GAME_CHAR_MAX)
		l = GAME_CHAR_MAX;
	h = 24 * (100 - 3 * l) / 100;
	return h * 3600 * 1000;
}

/* Add to the coins, saturating (never below 0 from a gain). */
void
player_add_coins(struct player *p, int64_t d)
{
	if (d > 0 && p->coins > INT64_MAX - d)
		p->coins = INT64_MAX;
	else if (d < 0 && p->coins < INT64_MIN - d)
		p->coins = INT64_MIN;
	else
		p->coins += d;
}

/* Add to the size, kept within +-GAME_SIZE_MAX (an integer column). */
void
player_add_size(struct player *p, int64_t d)
{
	if (d > 2 * GAME_SIZE_MAX)
		d = 2 * GAME_SIZE_MAX;
	if (d < -2 * GAME_SIZE_MAX)
		d = -2 * GAME_SIZE_MAX;
	p->size += d;
	if (p->size > GAME_SIZE_MAX)
		p->size = GAME_SIZE_MAX;
	if (p->size < -GAME_SIZE_MAX)
		p->size = -GAME_SIZE_MAX;
}

/*
 * The other registered players of the context's group chat, as a JSON
 * array of [id, name] (caller owns *out). 0, or -1 on a database error.
 */
int
player_targets(struct bc_router_ctx *ctx, int64_t self, json_t **out)
{
	struct bc_db_res *res;
	char s[BC_DB_INT64_BUFSZ], c[BC_DB_INT64_BUFSZ], *cause = NULL;
	int64_t id;
	int i;

	*out = json_array();
	if (ctx->chat_id >= 0)
		return 0;
	bc_db_int64(s, self);
	bc_db_int64(c, ctx->chat_id);
	res = bc_db_query(ctx->db, "SELECT player_id, coalesce(player_name, "
	    "player_id::text) FROM pisunchik_data WHERE $2::bigint = "
	    "ANY(chat_id) AND player_id <> $1 ORDER BY player_id LIMIT 20",
	    BC_DB_P(s, c), &cause);
	if (res == NULL) {
		log_warnx("targets: %s", cause);
		free(cause);
		json_decref(*out);
		*out = NULL;
		return -1;
	}
	for (i = 0; i < bc_db_ntuples(res); i++)
		if (bc_db_get_int64(res, i, 0, &id) == 0)
			json_array_append_new(*out, json_pack("[Is]",
			    (json_int_t)id, bc_db_get(res, i, 1)));
	bc_db_res_free(res);
	return 0;
}
