/*
 * The love bot's message catalogue (Russian, as the original; "{name}"
 * marks what bc_tmpl() fills in).
 */

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

