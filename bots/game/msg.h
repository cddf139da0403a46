/*
 * The game bot's message catalogue: every user-facing text, in Russian as
 * in the original (the /peremoga and /zrada slogans are Ukrainian). Format
 * strings are macros so that the compiler checks their arguments; the
 * tables (items, statuettes, jokes, canned replies) are in msg.c.
 */
#ifndef GAME_MSG_H
#define GAME_MSG_H

/* ------------------------------------------------------------ router */
#define M_UNKNOWN	"Неизвестная команда. /help — список команд."
#define M_PRIVATE_ONLY	"Эта команда работает только в личке с ботом."
#define M_GROUP_ONLY	"Эта команда работает только в группе."
#define M_ADMIN_ONLY	"Эта команда только для админов."
#define M_WAIT		"Подождите {s} с."
#define M_ERROR		"Что-то пошло не так. Попробуйте ещё раз позже."
#define M_CANCELLED	"Отменено."
#define M_NOTHING_TO_CANCEL	"Нечего отменять."

/* ------------------------------------------------------------ common */
#define M_NOT_REGISTERED \
	"Вы не зарегистрированы. Напишите /start в личке с ботом."
#define M_NOT_YOUR_BUTTON	"Это не ваша кнопка."
#define M_STALE_BUTTON		"Эта кнопка уже не действует."
#define M_NO_BTC		"Недостаточно BTC. Нужно %lld BTC"
#define M_NO_ITEM		"У вас нет предмета «%s». Купить: /shop"
#define M_BAD_NUMBER		"Введите целое число от %lld до %lld."

/* ------------------------------------------------------------ /start */
#define M_PROFILE \
	"%s, ваш писюнчик: %lld см, у вас %lld BTC.\n" \
	"Используйте /pisunchik, чтобы изменить размер."
#define M_REG_ASK_NAME \
	"Привет! Вы ещё не зарегистрированы. Как вас зовут?"
#define M_REG_ASK_HOW	"Как вы узнали об этом боте?"
#define M_REG_BAD_NAME \
	"Имя должно быть от 1 до 64 символов и без перевода строки. " \
	"Как вас зовут?"
#define M_REG_BAD_HOW	"Ответ должен быть от 1 до 500 символов."
#define M_REG_SENT \
	"Заявка отправлена админам. Ждите подтверждения."
#define M_REG_PENDING	"Ваша заявка уже на рассмотрении."
#define M_REG_PRIVATE	"Для регистрации напишите /start в личке с ботом."
#define M_REG_REQUEST \
	"Новая заявка на регистрацию\nID: %lld\nИмя: %s\n" \
	"Как узнал о боте: %s"
#define M_REG_APPROVE_BTN	"Одобрить"
#define M_REG_REJECT_BTN	"Отклонить"
#define M_REG_WELCOME \
	"Добро пожаловать в игру, %s! Ваш писюнчик: 0 см, 0 BTC.\n" \
	"Начните с /pisunchik."
#define M_REG_REJECTED	"К сожалению, ваша заявка отклонена."
#define M_REG_APPROVED_ADMIN	"✅ Заявка %lld (%s) одобрена."
#define M_REG_REJECTED_ADMIN	"❌ Заявка %lld (%s) отклонена."
#define M_REG_GONE	"Этой заявки уже нет."
#define M_NO_ADMINS	"Регистрация сейчас невозможна: не настроены админы."

/* ------------------------------------------------------------ economy */
#define M_PIS_COOLDOWN \
	"Вы можете использовать эту команду только раз в %lld ч.\n" \
	"Осталось времени: %s"
#define M_PIS_RESULT \
	"Ваш писюнчик: %lld см\nИзменения: %+lld см\n" \
	"Также вы получили: %lld BTC"
#define M_PIS_KOLCZO	"\n💍 Кольцо на член удвоило ваши BTC!"
#define M_PIS_BDSM	"\n⛓ БДСМ костюмчик добавил +5 см!"
#define M_PIS_PREZ	"\n🛡 Презерватив спас вас от уменьшения!"
#define M_PIS_BALLZZZ	"\n🔮 Кристальные яйца рассыпались."
#define M_PIS_READY	"%s, вы можете использовать /pisunchik"
#define M_GOLD \
	"%s, ваш золотой член принёс сегодня прибыль в размере %lld BTC"
#define M_BIGBLACK \
	"Ваш член менее %lld сантиметров :( Но благодаря Big Black " \
	"характеристике ваш член снова стал %lld см"

#define M_KAZIK_LIMIT \
	"Вы достигли максимума использования команды /kazik " \
	"(%lld раз в сутки). Осталось времени: %s"
#define M_KAZIK_START	"🎰 Крутим! Использований осталось: %lld"
#define M_KAZIK_SUMMARY	"%s: %lld/6 побед"
#define M_KAZIK_JACKPOT	"\n💰 Джекпот! +%lld BTC"

#define M_ROLL_ASK	"Сколько кубиков бросить? (%lld BTC за кубик)"
#define M_ROLL_RESULT \
	"Результаты: %s\nИзменение: %+lld см, ваш писюнчик: %lld см\n" \
	"Потрачено: %lld BTC"
#define M_ROLL_FREE	"\n🎁 Бесплатных кубиков: %lld"
#define M_ROLL_FREE_ULTA	"\n🐣 Питомец оплатил этот бросок!"
#define M_ROLL_JACKPOT	"🎉 ДЖЕКПОТ! %s получает +%lld BTC!"

#define M_VOR_NEED	"Для /vor нужна характеристика Glowing."
#define M_VOR_COOLDOWN \
	"Воровать можно раз в 7 дней. Осталось: %s"
#define M_VOR_ASK	"У кого украсть?"
#define M_VOR_DONE	"%s украл у %s %lld см! 🦹"
#define M_OTSOS_ASK	"Кому отсосать?"
#define M_OTSOS_DONE	"%s отсосал у %s %lld см! 👄"
#define M_NO_TARGETS \
	"В этом чате нет других зарегистрированных игроков."
#define M_TARGET_GONE	"Этот игрок больше не в игре."

#define M_LEADERS_HEAD	"🏆 Топ-5 по размеру:\n"
#define M_LEADERS_LINE	"%d. %s: %lld sm🌭 и %lld BTC💰\n"
#define M_LEADERS_EMPTY	"Пока нет ни одного игрока."

/* ------------------------------------------------------------ shop */
#define M_SHOP_HEAD	"🛒 Магазин (скидка Hot: %lld%%)"
#define M_SHOP_BUTTON	"%s – %lld BTC"
#define M_SHOP_CONFIRM	"Купить «%s» за %lld BTC?"
#define M_SHOP_YES	"✅ Купить"
#define M_SHOP_NO	"❌ Отмена"
#define M_SHOP_DONE	"Вы купили «%s» за %lld BTC. Осталось %lld BTC."
#define M_SHOP_CANCELLED	"Покупка отменена."
#define M_SHOP_UNKNOWN	"Такого товара нет."
#define M_SHOP_USED	"Это подтверждение уже использовано."
#define M_ITEMS_HEAD	"🎒 Ваши предметы:\n"
#define M_ITEMS_LINE	"• %s ×%zu — %s\n"
#define M_ITEMS_EMPTY	"У вас нет предметов. Загляните в /shop"

#define M_SMAZKA_DONE	"Смазка использована: /pisunchik снова доступен!"
#define M_BALLZZZ_SHOW \
	"🔮 Кристальные яйца показывают: следующее изменение %+lld см"
#define M_ZELIE_DONE	"🧪 Зелье подействовало: %+lld см, теперь %lld см"
#define M_POTION_DONE	"🧃 Зелье: +%lld см, теперь %lld см"
#define M_MAST_ASK \
	"Сколько сантиметров пожертвовать? (у вас %lld см; " \
	"за каждый см 4 BTC и 5 BTC за каждые 5 см)"
#define M_MAST_BAD	"Введите целое число от 1 до %lld."
#define M_MAST_TOO_MUCH	"Нельзя пожертвовать больше, чем у вас есть (%lld см)."
#define M_MAST_DONE \
	"Вы пожертвовали %lld см и получили %lld BTC. " \
	"Теперь у вас %lld см и %lld BTC."
#define M_MAST_NOTHING	"Вам нечего жертвовать: размер %lld см."

/* ------------------------------------------------------------ statuettes */
#define M_STAT_SHOP_HEAD	"🗿 Магазин статуэток:"
#define M_STAT_SHOP_ALL	"У вас уже есть все статуэтки! Посмотрите /statuetki"
#define M_STAT_CONFIRM	"Купить статуэтку «%s» за %lld BTC?"
#define M_STAT_DONE	"Вы купили статуэтку «%s». Осталось %lld BTC."
#define M_STAT_OWNED	"Эта статуэтка у вас уже есть."
#define M_STAT_CAPTION	"🗿 %s"
#define M_STAT_COUNT	"У вас %zu из 4 статуэток."
#define M_STAT_NONE	"У вас нет статуэток. Купить: /statuetki_shop"
#define M_CHAR_NEW	"✨ Вы получили характеристику %s (уровень 1)!"
#define M_CHAR_UP	"✨ Характеристика %s повышена до уровня %lld!"
#define M_CHAR_HEAD	"💪 Ваши характеристики:\n"
#define M_CHAR_LINE	"• %s: уровень %lld — %s\n"
#define M_CHAR_NONE \
	"У вас нет характеристик. Соберите 4 статуэтки: /statuetki_shop"
#define M_UPG_ASK	"Какую характеристику улучшить? (100 BTC за уровень)"
#define M_UPG_LEVELS	"%s, уровень %lld. На сколько уровней поднять?"
#define M_UPG_MAX	"%s уже на максимальном уровне (15)."
#define M_UPG_DONE \
	"%s повышена до уровня %lld за %lld BTC. Осталось %lld BTC."

/* ------------------------------------------------------------ stocks */
#define M_STK_HEAD	"📈 Текущие цены акций:\n"
#define M_STK_LINE	"%s: %.2f BTC\n"
#define M_STK_MY_HEAD	"💼 Ваши акции:\n"
#define M_STK_MY_LINE	"%s: %lld шт. × %.2f = %.2f BTC\n"
#define M_STK_MY_NONE	"У вас нет акций. Купить: /buy_stocks"
#define M_STK_BUY_ASK	"Акции какой компании купить?"
#define M_STK_SELL_ASK	"Акции какой компании продать?"
#define M_STK_QTY_BUY	"Сколько акций %s купить? Цена %.2f BTC. (/cancel — отмена)"
#define M_STK_QTY_SELL	"Сколько акций %s продать? У вас %lld. (/cancel — отмена)"
#define M_STK_QTY_BAD	"Введите количество цифрами, от 1 до %lld."
#define M_STK_BOUGHT \
	"Куплено %lld акций %s за %lld BTC. Осталось %lld BTC."
#define M_STK_SOLD \
	"Продано %lld акций %s за %lld BTC. Теперь у вас %lld BTC."
#define M_STK_NOT_ENOUGH	"У вас только %lld акций %s."
#define M_STK_UNKNOWN	"Такой компании нет."
#define M_STK_UPDATED_HEAD	"📊 Цены обновлены:\n"
#define M_STK_UPDATED_LINE	"%s: %.2f → %.2f (%+.1f%%) %s\n"

/* ------------------------------------------------------------ misc */
#define M_NEW_NONE	"Новостей пока нет."
#define M_PEREMOGA	"Слава Україні! Героям слава! 🇺🇦 ПЕРЕМОГА!"
#define M_ZRADA		"ЗРАДА! Все пропало! 😱"
#define M_PROSIPAISYA	"<a href=\"tg://user?id=%lld\">%s</a>, просыпайся! ⏰"
#define M_PROSIP_NONE	"Некого будить: не настроен prosipaisya_user."
#define M_BOT_UNKNOWN	"?"

/* ------------------------------------------------------------ admin */
#define M_ADM_MENU	"🛠 Админ-панель"
#define M_ADM_PLAYERS	"👥 Игроки"
#define M_ADM_ECON	"💰 Экономика"
#define M_ADM_ITEMS	"🎒 Предметы"
#define M_ADM_SYSTEM	"⚙️ Система"
#define M_ADM_PICK	"Выберите игрока:"
#define M_ADM_PLAYER \
	"%s (%lld)\nРазмер: %lld см\nBTC: %lld\nПредметов: %zu\n" \
	"Статуэток: %zu\nХарактеристики: %s"
#define M_ADM_SIZE_BTN	"± см"
#define M_ADM_CD_BTN	"Сбросить кулдаун"
#define M_ADM_STATS_BTN	"Статистика"
#define M_ADM_BTC_BTN	"± BTC"
#define M_ADM_ITEM_BTN	"± предмет"
#define M_ADM_STAT_BTN	"+ статуэтка"
#define M_ADM_EXPORT	"📦 Экспорт JSON"
#define M_ADM_BCAST	"📣 Рассылка"
#define M_ADM_STOCKS	"📈 Обновить акции"
#define M_ADM_BACK	"⬅️ Назад"
#define M_ADM_ASK_SIZE	"Введите изменение размера для %s (например -5 или 10). /cancel — отмена"
#define M_ADM_ASK_BTC	"Введите изменение BTC для %s (например -50 или 100). /cancel — отмена"
#define M_ADM_ASK_ITEM \
	"Введите «ключ количество» для %s, например «smazka 2» или " \
	"«smazka -1». /cancel — отмена"
#define M_ADM_ASK_STAT \
	"Введите «номер количество» статуэтки для %s (1–4), например «1 1». " \
	"/cancel — отмена"
#define M_ADM_ASK_BCAST	"Введите текст рассылки всем игрокам. /cancel — отмена"
#define M_ADM_SIZE_DONE	"Размер %s: %lld см (%+lld)."
#define M_ADM_BTC_DONE	"BTC %s: %lld (%+lld)."
#define M_ADM_CD_DONE	"Кулдаун /pisunchik для %s сброшен."
#define M_ADM_ITEM_DONE	"%s: «%s» теперь ×%zu."
#define M_ADM_STAT_DONE	"%s: статуэток «%s» ×%zu."
#define M_ADM_ITEM_BAD	"Нужно «ключ количество», количество от -100 до 100, не 0."
#define M_ADM_STAT_BAD	"Нужно «номер количество»: номер 1–4, количество 1–10."
#define M_ADM_BCAST_DONE	"Рассылка #%lld создана: %zu получателей."
#define M_ADM_BCAST_NONE	"Некому рассылать: игроков нет."
#define M_ADM_BCAST_FINISHED \
	"📣 Рассылка #%lld завершена: доставлено %lld, не доставлено %lld."
#define M_ADM_BCAST_UNCERTAIN \
	"\n⚠️ Неизвестно: %lld — бот остановился, пока эти сообщения " \
	"отправлялись; повторно их не слали, чтобы не было дублей."
#define M_ADM_BCAST_BAD	"Текст рассылки: от 1 до 4000 символов."
#define M_ADM_EXPORT_CAP	"Экспорт игроков: %d"
#define M_ADM_NO_PLAYER	"Игрок не найден."

#endif /* GAME_MSG_H */
