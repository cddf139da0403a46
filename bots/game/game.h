/*
 * game: the main game bot (bots-spec.md section 3): players and their
 * registration, the size-and-BTC economy, casino and dice, the shop and
 * its items, statuettes and characteristics, stocks, the admin panel and
 * the scheduled jobs. Private header, prototypes grouped by file.
 */
#ifndef GAME_H
#define GAME_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <botcommon/router.h>

struct bc_bot_env;
struct bc_broadcast;
struct bc_broadcast_progress;
struct bc_tg;
struct bc_timer;
struct bc_sched;

#define GAME_BOT		"game"
#define GAME_ADMINS_MAX		64
#define GAME_STATUETTES		4
#define GAME_CHAR_MAX		15
#define GAME_NCHARS		6
#define GAME_NSTOCKS		6

/* Bounds on what users may type. */
#define GAME_NAME_MAX		64	/* bytes of a player name */
#define GAME_HOW_MAX		500	/* bytes of "how did you find us" */
#define GAME_QTY_MAX		1000000	/* stocks in one order */
#define GAME_AMOUNT_MAX		1000000000LL	/* admin +-amounts */
#define GAME_SIZE_MAX		1000000000LL	/* |pisunchik_size| */

/* The bot's configuration and the handles its jobs need. */
struct game {
	int64_t		 admins[GAME_ADMINS_MAX];
	size_t		 nadmins;
	const char	*random_script;	/* tests: scripted draws, or NULL */
	char		*news_file;	/* resolved: relative to game.ini */
	const char	*photos[GAME_STATUETTES];	/* file ids, URLs */
	int64_t		 prosipaisya_id;
	const char	*prosipaisya_name;
	int		 gold_income;
	const char	*gold_time;	/* "HH:MM" UTC */
	int		 gold_minute;	/* gold_time as minutes of the day */
	int		 bigblack_floor;
	int		 cooldown_notice;
	int64_t		 jobs_interval_ms;
	int64_t		 kazik_delete_ms;
	double		 broadcast_rate;
	int64_t		 broadcast_poll_ms;
	struct bc_bot_env *env;		/* borrowed, set by setup */
	struct bc_broadcast *bcast;
	struct bc_timer	*kazik_timer;
	struct bc_sched	*jobs;
};

extern struct game game;

/* A list of strings as kept in the text[] columns. */
struct strv {
	char	**v;
	size_t	  n;
};

/* One player row (pisunchik_data), as the game uses it. Times are ms
 * since the epoch, 0 for NULL. */
struct player {
	int64_t		 id;
	char		*name;
	int64_t		 size;
	int64_t		 coins;
	struct strv	 items;
	struct strv	 statuetki;
	struct strv	 chars;		/* "Name:level" */
	struct strv	 stocks;	/* "Company:qty" */
	int64_t		 last_used;
	int64_t		 last_prezervativ;
	int64_t		 last_vor;
	int64_t		 casino_last_used;
	int64_t		 casino_count;
	int		 has_ballzzz;
	int64_t		 ballzzz;
	int		 notified;
	int64_t		 extra_spins;
	int		 free_roll;
};

/* msg.c: the catalogue's tables. */
struct canned {
	const char	*phrase;
	const char	*answer;
};
extern const char *const char_names[GAME_NCHARS];
extern const char *const char_descs[GAME_NCHARS];
extern const char *const story_lines[];
extern const size_t story_nlines;
extern const char *const jokes[];
extern const size_t njokes;
extern const struct canned canned[];
extern const size_t ncanned;
extern const char *const stock_companies[GAME_NSTOCKS];

/* rng.c: the one source of randomness. */
int64_t	rng_range(int64_t lo, int64_t hi);
int	rng_percent(int64_t pct);

/* strv.c */
void	strv_clear(struct strv *);
void	strv_add(struct strv *, const char *);
int	strv_remove(struct strv *, const char *);
size_t	strv_count(const struct strv *, const char *);
int	strv_from_json(struct strv *, const char *text);
char	*strv_to_json(const struct strv *);
int64_t	strv_kv_get(const struct strv *, const char *key);
void	strv_kv_set(struct strv *, const char *key, int64_t v);

/* player.c */
int	player_load(struct bc_router_ctx *, int64_t id, int lock,
	    struct player *);
int	player_save(struct bc_router_ctx *, const struct player *);
void	player_free(struct player *);
int	player_require(struct bc_router_ctx *, struct player *);
int	player_note_chat(struct bc_router_ctx *, int64_t id, int64_t chat);
int64_t	player_char_level(const struct player *, const char *name);
int64_t	player_cooldown_ms(const struct player *);
void	player_add_coins(struct player *, int64_t);
void	player_add_size(struct player *, int64_t);
int	player_targets(struct bc_router_ctx *, int64_t self, json_t **out);

/* util.c: replies and parsing. */
int	game_reply(struct bc_router_ctx *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	game_replykb(struct bc_router_ctx *, json_t *kb, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	game_send(struct bc_router_ctx *, int64_t chat, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	game_edit(struct bc_router_ctx *, json_t *kb, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	game_alert(struct bc_router_ctx *, const char *text);
int	game_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
int	game_parse_id(const char *s, int64_t *out);
const char *game_arg_split(const char *s, char sep, int64_t *first);
int	game_exec(struct bc_router_ctx *, const char *sql, int n,
	    const char *const *p);
size_t	game_cat(char *dst, const char *src, size_t sz);
void	game_fmt_left(char *buf, size_t sz, int64_t ms);
int64_t	game_now_ms(void);
json_t	*game_kb_finish(struct bc_tg_kb *);
int64_t	game_pending_new(struct bc_router_ctx *, const char *kind,
	    const char *key, int64_t price);
int	game_pending_take(struct bc_router_ctx *, int64_t id,
	    const char *kind, char **key, int64_t *price);

/* reg.c */
int	cmd_start(struct bc_router_ctx *);
int	conv_reg(struct bc_router_ctx *);
int	cb_reg_approve(struct bc_router_ctx *);
int	cb_reg_reject(struct bc_router_ctx *);

/* economy.c */
int	cmd_pisunchik(struct bc_router_ctx *);
int	cmd_roll(struct bc_router_ctx *);
int	cb_roll(struct bc_router_ctx *);
int	cmd_vor(struct bc_router_ctx *);
int	cb_vor(struct bc_router_ctx *);
int	cmd_otsos(struct bc_router_ctx *);
int	cb_otsos(struct bc_router_ctx *);
int	cmd_leaderboard(struct bc_router_ctx *);

/* kazik.c */
int	cmd_kazik(struct bc_router_ctx *);
void	kazik_kick(void *);
int	kazik_setup(char **cause);

/* shop.c */
struct shop_item {
	const char	*key;
	const char	*name;
	int64_t		 price;
	const char	*desc;
};
extern const struct shop_item shop_items[];
extern const size_t shop_nitems;
const struct shop_item *shop_find(const char *key);
int64_t	shop_price(const struct player *, int64_t price);
int	cmd_shop(struct bc_router_ctx *);
int	cb_shop_buy(struct bc_router_ctx *);
int	cb_buy_confirm(struct bc_router_ctx *);
int	cb_buy_cancel(struct bc_router_ctx *);
int	cmd_items(struct bc_router_ctx *);

/* items.c */
int	cmd_smazka(struct bc_router_ctx *);
int	cmd_ballzzz(struct bc_router_ctx *);
int	cmd_zelie(struct bc_router_ctx *);
int	cmd_potion_small(struct bc_router_ctx *);
int	cmd_potion_medium(struct bc_router_ctx *);
int	cmd_potion_large(struct bc_router_ctx *);
int	cmd_masturbator(struct bc_router_ctx *);
int	conv_masturbator(struct bc_router_ctx *);

/* statuette.c */
extern const char *const statuette_names[GAME_STATUETTES];
extern const int64_t statuette_prices[GAME_STATUETTES];
int	cmd_statuetki_shop(struct bc_router_ctx *);
int	cb_statuetki_buy(struct bc_router_ctx *);
int	cb_statuetki_confirm(struct bc_router_ctx *);
int	cmd_statuetki(struct bc_router_ctx *);
int	cmd_characteristics(struct bc_router_ctx *);
int	cmd_upgrade_char(struct bc_router_ctx *);
int	cb_upgrade_pick(struct bc_router_ctx *);
int	cb_upgrade_levels(struct bc_router_ctx *);
int	statuette_index(const char *name);

/* stocks.c */
int	cmd_current_stocks(struct bc_router_ctx *);
int	cmd_my_stocks(struct bc_router_ctx *);
int	cmd_buy_stocks(struct bc_router_ctx *);
int	cmd_sell_stocks(struct bc_router_ctx *);
int	cb_stock_pick(struct bc_router_ctx *);
int	conv_stocks(struct bc_router_ctx *);
int	cmd_stocks_update(struct bc_router_ctx *);

/* misc.c */
int	cmd_new(struct bc_router_ctx *);
int	cmd_joke(struct bc_router_ctx *);
int	cmd_peremoga(struct bc_router_ctx *);
int	cmd_zrada(struct bc_router_ctx *);
int	cmd_prosipaisya(struct bc_router_ctx *);
int	cmd_help(struct bc_router_ctx *);
int	game_on_message(struct bc_router_ctx *);

/* admin.c */
int	cmd_admin(struct bc_router_ctx *);
int	cb_admin(struct bc_router_ctx *);
int	conv_admin(struct bc_router_ctx *);
void	adm_bcast_progress(const struct bc_broadcast_progress *, void *);

/* jobs.c */
int	jobs_setup(char **cause);
void	jobs_teardown(void);

#endif /* GAME_H */
