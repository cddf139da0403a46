/* The game bot's message catalogue: the tables (see msg.h for texts). */

#include <stddef.h>
#include <stdint.h>

#include <botcommon/util.h>

#include "game.h"

/* The shop (bots-spec.md 3.5): prices in BTC before the Hot discount. */
const struct shop_item shop_items[] = {
	{ "kolczo_na_chlen", "Кольцо на член", 75,
	    "20% шанс удвоить BTC от /pisunchik" },
	{ "bdsm_kostumchik", "БДСМ костюмчик", 85,
	    "10% шанс получить +5 см на /pisunchik" },
	{ "kubik_seksa", "Кубик секса", 30, "/roll стоит на 50% меньше" },
	{ "prezervativ", "Презерватив", 120,
	    "отрицательное изменение /pisunchik становится 0 "
	    "(не чаще раза в 4 дня)" },
	{ "krystalnie_ballzzz", "Кристальные яйца", 10,
	    "/krystalnie_ballzzz показывает следующее изменение" },
	{ "smazka", "Смазка", 100, "/smazka сбрасывает кулдаун /pisunchik" },
	{ "zelie_pisunchika", "Зелье писюнчика", 20,
	    "/zelie_pisunchika: 50/50 ±20 см" },
	{ "masturbator", "Мастурбатор", 20,
	    "/masturbator: обменять сантиметры на BTC" },
	{ "pisunchik_potion_small", "Маленькое зелье", 10,
	    "/pisunchik_potion_small: +3 см" },
	{ "pisunchik_potion_medium", "Среднее зелье", 15,
	    "/pisunchik_potion_medium: +5 см" },
	{ "pisunchik_potion_large", "Большое зелье", 20,
	    "/pisunchik_potion_large: +10 см" },
	{ "shaurma", "Шаурма", 150, "просто вкусная шаурма" },
	{ "pet_food_basic", "Корм для питомца", 50, "питомцу +30 к сытости" },
	{ "pet_food_deluxe", "Корм делюкс", 200,
	    "питомцу +60 к сытости и +20 к счастью" },
};
const size_t shop_nitems = BC_NELEM(shop_items);

const char *const statuette_names[GAME_STATUETTES] = {
	"Pudginio", "Ryadovoi Rudgers", "Polkovnik Buchantos",
	"General Chin-Choppa",
};
const int64_t statuette_prices[GAME_STATUETTES] = { 50, 100, 150, 200 };

const char *const char_names[GAME_NCHARS] = {
	"Titan", "Hot", "Invisible", "Glowing", "Gold", "Big Black",
};
const char *const char_descs[GAME_NCHARS] = {
	"кулдаун /pisunchik короче на 3% за уровень",
	"скидка в магазине 5% +3% за уровень",
	"шанс бесплатного кубика 3% +3% за уровень",
	"открывает /vor, крадёт 2 см +2 за уровень",
	"пассивный доход BTC каждый день",
	"размер не опускается ниже 3 см за уровень сверх первого",
};

/* Our own story: the original's plot.json is not available. */
const char *const story_lines[] = {
	"Четыре статуэтки стоят на полке и вдруг начинают светиться.",
	"Pudginio первым открывает глаза: «Мы снова вместе».",
	"Рядовой Рудгерс отдаёт честь и докладывает: «Все в сборе!»",
	"Полковник Бучантос разворачивает старую карту подземелья.",
	"Генерал Чин-Чоппа молча кивает: время пришло.",
	"Вчетвером они спускаются туда, где хранится древняя сила.",
	"Двери открываются, и сила выбирает вас.",
	"Статуэтки рассыпаются в пыль, но их дар остаётся с вами.",
};
const size_t story_nlines = BC_NELEM(story_lines);

const char *const jokes[] = {
	"Встречаются два писюнчика. Один говорит: «Ты чего такой маленький?» "
	"— «Да я на /kazik всё проиграл».",
	"— Сколько BTC стоит счастье?\n— Смотря какая скидка Hot.",
	"Купил презерватив за 120 BTC. Теперь жду отрицательный ролл, "
	"как праздника.",
};
const size_t njokes = BC_NELEM(jokes);

/* "Бот, ..." canned replies: a phrase (lower case) and the answer. */
const struct canned canned[] = {
	{ "привет", "Привет! 👋" },
	{ "как дела", "Лучше всех, спасибо что спросил!" },
	{ "кто ты", "Я игровой бот. Пиши /help." },
	{ "скажи что-нибудь", "Что-нибудь." },
	{ "ты живой", "Пока botd меня перезапускает — да." },
	{ "спасибо", "Всегда пожалуйста!" },
};
const size_t ncanned = BC_NELEM(canned);

const char *const stock_companies[GAME_NSTOCKS] = {
	"ATB", "Rockstar", "Google", "Apple", "Valve", "Obuhov toilet paper",
};
