/*
 * game: the main game bot. The command table, the configuration ([game]
 * in game.ini) and the setup of the scheduled jobs and the broadcast
 * runner; the handlers are in the other files of this directory.
 */

#include <stdlib.h>
#include <string.h>

#include <botcommon/bot.h>
#include <botcommon/broadcast.h>
#include <botcommon/conf.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "game.h"
#include "msg.h"

struct game game;

#define C	BC_CMD_ANY
#define P	BC_CMD_PRIVATE
#define A	BC_CMD_ADMIN

static const struct bc_cmd_entry game_cmds[] = {
	{ "start", { NULL }, C, 0, 0, 0, "— профиль или регистрация",
	    cmd_start },
	{ "help", { NULL }, C, 0, 0, 0, "— список команд", cmd_help },
	{ "pisunchik", { NULL }, C, 0, 0, 0, "— изменить размер (раз в сутки)",
	    cmd_pisunchik },
	{ "kazik", { NULL }, C, 0, 0, 0, "— казино, 6 спинов 🎰", cmd_kazik },
	{ "roll", { NULL }, C, 0, 0, 0, "— бросить кубики", cmd_roll },
	{ "vor", { NULL }, BC_CMD_GROUP, 0, 0, 0, "— украсть сантиметры",
	    cmd_vor },
	{ "otsos", { NULL }, BC_CMD_GROUP, 0, 0, 0, "— отсосать сантиметры",
	    cmd_otsos },
	{ "leaderboard", { NULL }, C, 0, 0, 0, "— топ-5", cmd_leaderboard },
	{ "shop", { NULL }, C, 0, 0, 0, "— магазин", cmd_shop },
	{ "items", { NULL }, C, 0, 0, 0, "— ваши предметы", cmd_items },
	{ "smazka", { NULL }, C, 0, 0, 0, "— сбросить кулдаун", cmd_smazka },
	{ "krystalnie_ballzzz", { NULL }, C, 0, 0, 0,
	    "— следующее изменение", cmd_ballzzz },
	{ "zelie_pisunchika", { NULL }, C, 0, 0, 0, "— ±20 см", cmd_zelie },
	{ "pisunchik_potion_small", { NULL }, C, 0, 0, 0, "— +3 см",
	    cmd_potion_small },
	{ "pisunchik_potion_medium", { NULL }, C, 0, 0, 0, "— +5 см",
	    cmd_potion_medium },
	{ "pisunchik_potion_large", { NULL }, C, 0, 0, 0, "— +10 см",
	    cmd_potion_large },
	{ "masturbator", { NULL }, C, 0, 0, 0, "— см в BTC", cmd_masturbator },
	{ "statuetki_shop", { NULL }, C, 0, 0, 0, "— магазин статуэток",
	    cmd_statuetki_shop },
	{ "statuetki", { NULL }, C, 0, 0, 0, "— ваши статуэтки",
	    cmd_statuetki },
	{ "characteristics", { NULL }, C, 0, 0, 0, "— ваши характеристики",
	    cmd_characteristics },
	{ "upgrade_char", { NULL }, C, 0, 0, 0, "— улучшить характеристику",
	    cmd_upgrade_char },
	{ "buy_stocks", { NULL }, C, 0, 0, 0, "— купить акции",
	    cmd_buy_stocks },
	{ "sell_stocks", { NULL }, C, 0, 0, 0, "— продать акции",
	    cmd_sell_stocks },
	{ "my_stocks", { NULL }, C, 0, 0, 0, "— ваши акции", cmd_my_stocks },
	{ "current_stocks", { NULL }, C, 0, 0, 0, "— цены акций",
	    cmd_current_stocks },
	{ "stocks_update", { NULL }, C, A, 0, 0, "— обновить цены",
	    cmd_stocks_update },
	{ "new", { NULL }, C, 0, 0, 0, "— что нового", cmd_new },
	{ "anekdot", { "joke", NULL }, C, 0, 0, 0, "— анекдот", cmd_joke },
	{ "peremoga", { NULL }, C, 0, 0, 0, "", cmd_peremoga },
	{ "zrada", { NULL }, C, 0, 0, 0, "", cmd_zrada },
	{ "prosipaisya", { NULL }, C, 0, 0, 0, "— разбудить", cmd_prosipaisya },
	{ "admin", { NULL }, P, A, 0, 0, "— админ-панель", cmd_admin },
};

static const struct bc_cb_entry game_cbs[] = {
	{ "reg_approve_", A, cb_reg_approve },
	{ "reg_reject_", A, cb_reg_reject },
	{ "roll_", 0, cb_roll },
	{ "vor_", 0, cb_vor },
	{ "otsos_", 0, cb_otsos },
	{ "shop_buy_", 0, cb_shop_buy },
	{ "buy_confirm_", 0, cb_buy_confirm },
	{ "buy_cancel_", 0, cb_buy_cancel },
	{ "statuetki_buy_", 0, cb_statuetki_buy },
	{ "statuetki_confirm_", 0, cb_statuetki_confirm },
	{ "upg_", 0, cb_upgrade_pick },
	{ "upgl_", 0, cb_upgrade_levels },
	{ "stock_", 0, cb_stock_pick },
	{ "adm_", A, cb_admin },
};

static const struct bc_conv_entry game_convs[] = {
	{ "reg", conv_reg },
	{ "mast", conv_masturbator },
	{ "stocks", conv_stocks },
	{ "admin", conv_admin },
};

static const struct bc_router_texts game_texts = {
	.unknown = M_UNKNOWN,
	.private_only = M_PRIVATE_ONLY,
	.group_only = M_GROUP_ONLY,
	.admin_only = M_ADMIN_ONLY,
	.wait = M_WAIT,
	.error = M_ERROR,
	.cancelled = M_CANCELLED,
	.nothing_to_cancel = M_NOTHING_TO_CANCEL,
};

/* [telegram] admins again: registration requests go to each. */
static int
game_conf_admins(struct bc_conf *cf, char **cause)
{
	char **list;
	size_t n, i;
	int64_t v;

	if (bc_conf_list(cf, "telegram", "admins", &list, &n, cause) == -1)
		return -1;
	game.nadmins = 0;
	for (i = 0; i < n && game.nadmins < GAME_ADMINS_MAX; i++)
		if (game_parse_int(list[i], 1, INT64_MAX, &v) == 0)
			game.admins[game.nadmins++] = v;
	bc_conf_list_free(list, n);
	return 0;
}

/* The [game] keys that are strings. */
static int
game_conf_strings(struct bc_conf *cf, char **cause)
{
	static const char *keys[GAME_STATUETTES] = { "statuette_photo_1",
	    "statuette_photo_2", "statuette_photo_3", "statuette_photo_4" };
	int i;

	free(game.news_file);
	game.news_file = NULL;
	if (bc_conf_str(cf, "game", "random_script", NULL,
	    &game.random_script, cause) == -1 ||
	    bc_conf_file(cf, "game", "news_file", NULL, &game.news_file,
	    cause) == -1 ||
	    bc_conf_str(cf, "game", "prosipaisya_name", "Соня",
	    &game.prosipaisya_name, cause) == -1 ||
	    bc_conf_str(cf, "game", "gold_time", "12:00", &game.gold_time,
	    cause) == -1)
		return -1;
	for (i = 0; i < GAME_STATUETTES; i++)
		if (bc_conf_str(cf, "game", keys[i], NULL, &game.photos[i],
		    cause) == -1)
			return -1;
	return 0;
}

/* "HH:MM" (00:00 to 23:59) as minutes of the day: 0, or -1. */
static int
game_conf_hhmm(const char *s, int *minute)
{
	int i, h, m;

	for (i = 0; i < 5; i++)
		if (i == 2 ? s[i] != ':' : s[i] < '0' || s[i] > '9')
			return -1;
	if (s[5] != '\0')
		return -1;
	h = (s[0] - '0') * 10 + s[1] - '0';
	m = (s[3] - '0') * 10 + s[4] - '0';
	if (h > 23 || m > 59)
		return -1;
	*minute = h * 60 + m;
	return 0;
}

static int
game_configure(struct bc_bot_env *env, char **cause)
{
	struct bc_conf *cf = env->conf;
	long long id, rate;

	game.env = env;
	if (game_conf_admins(cf, cause) == -1 ||
	    game_conf_strings(cf, cause) == -1 ||
	    bc_conf_int(cf, "game", "prosipaisya_user", 0, 0, INT64_MAX, &id,
	    cause) == -1 ||
	    bc_conf_bool(cf, "game", "gold_income", 1, &game.gold_income,
	    cause) == -1 ||
	    bc_conf_bool(cf, "game", "bigblack_floor", 1, &game.bigblack_floor,
	    cause) == -1 ||
	    bc_conf_bool(cf, "game", "cooldown_notice", 1,
	    &game.cooldown_notice, cause) == -1 ||
	    bc_conf_duration(cf, "game", "jobs_interval", 60000,
	    &game.jobs_interval_ms, cause) == -1 ||
	    bc_conf_duration(cf, "game", "kazik_delete_after", 3000,
	    &game.kazik_delete_ms, cause) == -1 ||
	    bc_conf_int(cf, "game", "broadcast_rate", 25, 1, 30, &rate,
	    cause) == -1 ||
	    bc_conf_duration(cf, "game", "broadcast_poll", 10000,
	    &game.broadcast_poll_ms, cause) == -1)
		return -1;
	if (game_conf_hhmm(game.gold_time, &game.gold_minute) == -1) {
		xasprintf(cause, "%s: [game] gold_time: '%s' is not HH:MM",
		    bc_conf_path(cf), game.gold_time);
		return -1;
	}
	game.prosipaisya_id = id;
	game.broadcast_rate = (double)rate;
	if (game.jobs_interval_ms < 100) {
		xasprintf(cause, "%s: [game] jobs_interval: at least 100ms",
		    bc_conf_path(cf));
		return -1;
	}
	return 0;
}

static int
game_setup(struct bc_bot_env *env, char **cause)
{
	struct bc_broadcast_opts bo = { 0 };

	game.env = env;
	bo.bot = GAME_BOT;
	bo.db = env->db;
	bo.tg = env->tg;
	bo.rate = game.broadcast_rate;
	bo.poll_ms = game.broadcast_poll_ms;
	bo.at_most_once = 1;
	bo.progress = adm_bcast_progress;
	bo.metrics = env->metrics;
	if ((game.bcast = bc_broadcast_new(&bo, cause)) == NULL)
		return -1;
	if (bc_broadcast_run(game.bcast, cause) == -1) {
		log_warnx("broadcast: %s (retrying)", *cause);
		free(*cause);
		*cause = NULL;
	}
	if (kazik_setup(cause) == -1 || jobs_setup(cause) == -1)
		return -1;
	return 0;
}

static void
game_teardown(struct bc_bot_env *env)
{
	(void)env;
	jobs_teardown();
	bc_timer_free(game.kazik_timer);
	game.kazik_timer = NULL;
}

static const struct bc_bot game_bot = {
	.name = GAME_BOT,
	.cmds = game_cmds,
	.ncmds = BC_NELEM(game_cmds),
	.cbs = game_cbs,
	.ncbs = BC_NELEM(game_cbs),
	.convs = game_convs,
	.nconvs = BC_NELEM(game_convs),
	.on_message = game_on_message,
	.texts = &game_texts,
	.configure = game_configure,
	.setup = game_setup,
	.teardown = game_teardown,
};

int
main(int argc, char **argv)
{
	return bc_bot_run(argc, argv, &game_bot);
}
