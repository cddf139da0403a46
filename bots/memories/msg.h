/*
 * memories: every text a user sees, in one place (Russian, as the
 * original). Texts marked HTML go with parse_mode HTML; the %-formats are
 * filled by the code that uses them, with escaped values where noted.
 */
#ifndef MEMORIES_MSG_H
#define MEMORIES_MSG_H

/* ------------------------------------------------------------ router */
#define MSG_R_UNKNOWN	"Не знаю такой команды. /help — список команд."
#define MSG_R_PRIVATE	"Дневник работает только в личном чате с ботом."
#define MSG_R_GROUP	"Эта команда работает только в группе."
#define MSG_R_ADMIN	"Эта команда только для администраторов."
#define MSG_R_WAIT	"Слишком часто. Подождите {s} с."
#define MSG_R_ERROR	"Что-то пошло не так. Попробуйте ещё раз позже."
#define MSG_R_CANCELLED	"Отменено."
#define MSG_R_NOTHING	"Нечего отменять."

/* ------------------------------------------------------------ help */
#define MSG_HELP \
	"📔 <b>Дневник воспоминаний</b>\n\n" \
	"/weekly — записать мысли недели\n" \
	"/extra — записать дополнительную мысль\n" \
	"/memories — листать воспоминания\n" \
	"/review — просмотр с клавиатурой\n" \
	"/stats — статистика\n" \
	"/backup — выгрузить всё в файл .txt\n" \
	"/setreminder — день и время напоминания\n" \
	"/timezone — часовой пояс\n" \
	"/lock — закрыть дневник сейчас\n" \
	"/cancel — отменить текущее действие\n\n" \
	"Дневник открывается паролем и закрывается сам после %lld мин " \
	"без действий."

/* ------------------------------------------------------------ password */
#define MSG_REG_ASK \
	"👋 Добро пожаловать в дневник воспоминаний!\n\n" \
	"Придумайте пароль (не короче 4 символов) и отправьте его " \
	"следующим сообщением. Сообщение с паролем будет удалено."
#define MSG_REG_BAD \
	"Пароль должен быть от 4 до 256 символов. Попробуйте ещё раз."
#define MSG_REG_DONE \
	"✅ Пароль установлен, сообщение с ним удалено.\n\n"
#define MSG_NOT_REGISTERED \
	"Сначала зарегистрируйтесь: /start"
#define MSG_ASK_PASSWORD	"🔐 Введите пароль:"
#define MSG_WRONG_PASSWORD	"❌ Неверный пароль."
#define MSG_LOCKED_OUT \
	"⛔ Слишком много неверных попыток. Попробуйте через %lld мин."
#define MSG_UNLOCKED		"🔓 Дневник открыт."
#define MSG_LOCKED		"🔒 Дневник закрыт."
#define MSG_SESSION_EXPIRED \
	"🔒 Дневник закрыт (сессия истекла). Откройте его снова: /memories"
#define MSG_NOT_TEXT		"Пришлите, пожалуйста, текст."

/* ------------------------------------------------------------ writing */
#define MSG_ASK_WEEKLY \
	"📝 Напишите свои мысли об этой неделе одним сообщением."
#define MSG_ASK_EXTRA \
	"💭 Напишите дополнительную мысль одним сообщением."
#define MSG_TEXT_EMPTY		"Текст пустой. Напишите что-нибудь."
#define MSG_TEXT_LONG \
	"Текст слишком длинный (больше 4096 символов). Сократите его."
#define MSG_TEXT_NOALNUM \
	"В тексте должна быть хотя бы одна буква или цифра."
#define MSG_SAVED_WEEKLY	"✅ Мысли недели сохранены (неделя %lld)."
#define MSG_SAVED_EXTRA		"✅ Мысль сохранена."
#define MSG_COUNTDOWN		"%s\nСообщения исчезнут через %d…"

/* ------------------------------------------------------------ browsing */
#define MSG_NO_MEMORIES \
	"Пока нет ни одного воспоминания. Начните с /weekly или /extra."
#define MSG_TYPE_WEEKLY		"Мысли недели"
#define MSG_TYPE_EXTRA		"Дополнительная мысль"
/* index, total, type, week part, date (HTML; content escaped) */
#define MSG_CARD \
	"📖 <b>Воспоминание %lld/%lld</b>\n%s%s\n🕐 %s\n\n<i>%s</i>"
#define MSG_CARD_WEEK		" · неделя %lld · с %s"
#define MSG_CARD_CUT		"\n\n(текст сокращён; полностью — в /backup)"
#define MSG_BTN_FIRST		"⏮"
#define MSG_BTN_PREV		"◀️"
#define MSG_BTN_NEXT		"▶️"
#define MSG_BTN_LAST		"⏭"
#define MSG_BTN_STATS		"📊"
#define MSG_BTN_CLOSE		"❌"
#define MSG_BAD_BUTTON		"Эта кнопка устарела."
#define MSG_REVIEW_INTRO \
	"📚 Всего воспоминаний: %lld (мыслей недели: %lld, " \
	"дополнительных: %lld).\nЛистайте кнопками внизу или командами " \
	"/next, /prev, /first, /last, /close."
#define MSG_REVIEW_PREV		"⬅️ Предыдущее"
#define MSG_REVIEW_NEXT		"➡️ Следующее"
#define MSG_REVIEW_FIRST	"⏮️ Первое"
#define MSG_REVIEW_LAST		"⏭️ Последнее"
#define MSG_REVIEW_CLOSE	"❌ Закрыть"
#define MSG_REVIEW_CLOSED	"Просмотр закрыт."
#define MSG_REVIEW_HINT \
	"Листайте кнопками внизу или командами /next, /prev, /first, " \
	"/last; /close — закончить просмотр."
#define MSG_REVIEW_NONE		"Сначала откройте просмотр: /review"
#define MSG_STATS \
	"📊 <b>Статистика</b>\n\nВсего записей: %lld\n" \
	"Мыслей недели: %lld\nДополнительных: %lld\n" \
	"Первая запись: %s\nПоследняя запись: %s"
#define MSG_STATS_ALERT \
	"Всего: %lld\nНедели: %lld\nДоп.: %lld\nПервая: %s\nПоследняя: %s"
#define MSG_NO_DATE		"—"
#define MSG_BACKUP_CAPTION	"🗂 Резервная копия: %lld записей."
#define MSG_BACKUP_HEAD		"Дневник воспоминаний — выгрузка от %s\n\n"
#define MSG_BACKUP_ITEM		"#%lld · %s%s · %s\n%s\n\n"
#define MSG_UNREADABLE		"[не удалось расшифровать]"

/* ------------------------------------------------------------ reminders */
#define MSG_REMINDER \
	"🔔 <b>Время для мыслей недели!</b>\n\n" \
	"Как прошла неделя? Запишите: /weekly"
#define MSG_REMIND_SHOW \
	"🔔 Напоминание: %s в %02d:%02d (%s).\n\n" \
	"Изменить: /setreminder &lt;день&gt; &lt;ЧЧ:ММ&gt;, например " \
	"/setreminder воскресенье 12:00\nЧасовой пояс: /timezone"
#define MSG_REMIND_SET		"✅ Напоминание: %s в %02d:%02d (%s)."
#define MSG_REMIND_BAD \
	"Не понял. Пример: /setreminder воскресенье 12:00 " \
	"(день недели и время ЧЧ:ММ от 00:00 до 23:59)."
#define MSG_ZONE_SHOW \
	"🌍 Часовой пояс: %s.\nИзменить: /timezone Europe/Kyiv"
#define MSG_ZONE_SET		"✅ Часовой пояс: %s."
#define MSG_ZONE_BAD \
	"Неизвестный часовой пояс. Нужно имя из базы IANA, например " \
	"Europe/Kyiv, Europe/Copenhagen или UTC."

/* Day names, Sunday first (tm_wday order), as shown. */
#define MSG_DAYS { "воскресенье", "понедельник", "вторник", "среда", \
	"четверг", "пятница", "суббота" }

#endif /* MEMORIES_MSG_H */
