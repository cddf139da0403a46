/*
 * The love bot's message catalogue (Russian, as the original) and the
 * "{name}" expansion of its templates.
 */

#include <stdarg.h>
#include <string.h>

#include <botcommon/buf.h>

#include "love.h"

const struct love_texts love_texts = {
	.start = "Привет, любимая! 💖\n"
	    "Это маленький подарок для тебя. Четыре дня подряд здесь "
	    "будет открываться новая команда.\n"
	    "Напиши /commands, чтобы увидеть, что уже доступно.",
	.commands_head = "Доступные команды:",
	.commands_more = "✨ Следующая команда откроется {date}.",
	.commands_none = "Пока открыта только /commands. Первая команда "
	    "откроется {date} 💫",
	.invite_hint = "💌 Сегодня открылась /invite — пригласи его на "
	    "свидание!",
	.hundred_tomorrow = "🎉 Завтра {n} дней вместе! Самое время "
	    "пригласить его на свидание: /invite",
	.count = "Вы на {n} дне отношений! 💑",
	.count_before = "Наш отсчёт ещё не начался 💫",
	.count_congrats = "🎉 Сегодня {n} дней вместе! Поздравляю, "
	    "любимая! ❤️",
	.locked = "🔒 Команда /{cmd} пока закрыта. Она откроется {date} "
	    "(через {days} дн.) 💫",
	.stranger = "Этот бот — подарок для одного человека 💝",
	.reasons_ask = "Сколько причин показать? 💕",
	.reasons_ten = "10 причин",
	.reasons_all = "Все сразу",
	.reasons_thanks = "Спасибо, что ты есть ❤️",
	.trivia_done = "Викторина окончена! Твой результат: {score} из {n} "
	    "🎉",
	.trivia_right = "Правильно! ✅",
	.trivia_wrong = "Не угадала 🙈 Правильный ответ: {answer}",
	.trivia_stale = "Этот вопрос уже позади 🙂",
	.trivia_use_buttons = "Выбери ответ кнопкой под вопросом 👆 "
	    "(или /cancel)",
	.answers_head = "Правильные ответы:",
	.invite_sent = "Приглашение отправлено! 💌",
	.invite_author = "💌 Она приглашает тебя на свидание! {url}",
	.used = "💬 Она использовала /{cmd}",
	.unknown = "Я не знаю такой команды 🙈 Напиши /commands.",
	.error = "Ой, что-то пошло не так 🙈 Попробуй ещё раз.",
	.wait = "Не так быстро 🙂 Попробуй через {s} с.",
	.cancelled = "Хорошо, отменила.",
	.nothing_to_cancel = "Нечего отменять 🙂",
	.desc_count = "/count — сколько дней мы вместе",
	.desc_reasons = "/100reasons — причины, почему я тебя люблю",
	.desc_trivia = "/trivia — викторина обо мне",
	.desc_answers = "/answers — ответы викторины",
	.desc_invite = "/invite — пригласить меня на свидание",
};

/*
 * Expand tmpl: each "{name}" is replaced by the value following name in
 * the NULL-terminated list of name, value pairs; an unknown name stays as
 * it is. Returns a string the caller frees.
 */
char *
love_text(const char *tmpl, ...)
{
	struct bc_buf out = BC_BUF_ZERO;
	const char *p, *end, *k, *v, *val;
	va_list ap;
	size_t n;

	for (p = tmpl; *p != '\0'; p++) {
		if (*p != '{' || (end = strchr(p, '}')) == NULL) {
			bc_buf_add(&out, p, 1);
			continue;
		}
		n = (size_t)(end - p - 1);
		v = NULL;
		va_start(ap, tmpl);
		while (v == NULL && (k = va_arg(ap, const char *)) != NULL) {
			val = va_arg(ap, const char *);
			if (strlen(k) == n && strncmp(k, p + 1, n) == 0)
				v = val;
		}
		va_end(ap);
		if (v == NULL) {
			bc_buf_add(&out, p, 1);
			continue;
		}
		bc_buf_str(&out, v);
		p = end;
	}
	return bc_buf_detach(&out);
}
