#!/bin/sh
# 320-love: the gift bot against the fake Bot API and PostgreSQL, its
# clock injected through [love] test_now_file: commands locked until
# their day (and saying when they open), days turning at midnight in the
# configured zone, the author told what the recipient used, the reasons
# (ten distinct, or all in chunks of 50), the quiz from its file with a
# score, the invitation going to the author, the 100th day, strangers
# refused, and hostile input.
. "$(dirname "$0")/lib.sh"

TOKEN=320320:LoveTEST-token_x
LOVE=$BOTFLEET_BUILD/bots/love
HER=32001
HIM=32002
STRANGER=32003

t_plan 25 320-love
fake_start -t "$TOKEN"
db_create love320
token_file "$W/token" "$TOKEN"
mkdir "$W/sql" "$W/data" && cp "$TOP"/sql/*.sql "$W/sql/"
i=1
while [ $i -le 120 ]; do
	echo "Причина номер $i"
	i=$((i + 1))
done >"$W/data/reasons.txt"
cp "$TOP/etc/love/quiz.ini" "$W/data/quiz.ini"

# love_conf FILE [EXTRA]: relative data paths, from the file's directory.
love_conf() {
	cat >"$1" <<EOF
[telegram]
api_url = $FAKE_URL
token_file = $W/token
poll_timeout = 10
chat_interval = 1ms
chat_burst = 1000

[database]
url = $DB
migrations = $W/sql

[love]
start_date = 2023-06-01
together_since = 2023-03-01
timezone = Europe/Kyiv
recipient_id = $HER
author_id = $HIM
reasons_file = data/reasons.txt
quiz_file = data/quiz.ini
invite_url = https://example.org/date
test_now_file = $W/now
${2:-}
EOF
}
# at TIMESTAMPTZ: the bot's clock from now on.
at() { printf '%s\n' "$1" >"$W/now"; }

count() {
	ctl "messages?chat_id=$1" >"$W/msgs.json"
	json_sql "$W/msgs.json" "SELECT count(*) FROM
	    jsonb_array_elements((:'j'::jsonb)->'result') m"
}
since() {
	ctl "messages?chat_id=$1" >"$W/msgs.json"
	json_sql "$W/msgs.json" "SELECT m->>'text' FROM
	    jsonb_array_elements((:'j'::jsonb)->'result') m
	    ORDER BY (m->>'message_id')::bigint OFFSET $2"
}
last() {
	ctl "messages?chat_id=$1" >"$W/msgs.json"
	json_sql "$W/msgs.json" "SELECT m->>'text' FROM
	    jsonb_array_elements((:'j'::jsonb)->'result') m
	    ORDER BY (m->>'message_id')::bigint DESC LIMIT 1"
}
last_id() {
	ctl "messages?chat_id=$1" | grep -o '"message_id":[0-9]*' |
	    tail -n 1 | cut -d: -f2
}
nmsgs() { [ "$(count "$1")" -ge "$2" ]; }
say() {
	ctl send --data-urlencode "text=$2" \
	    --data-urlencode "from={\"id\":$1,\"first_name\":\"U$1\"}" \
	    >/dev/null
}
# say_wait USER TEXT [N]: say it, wait for N (1) more messages there.
say_wait() {
	sw_n=$(count "$1")
	say "$1" "$2"
	wait_until 30 "nmsgs $1 $((sw_n + ${3:-1}))" || diag "no reply to '$2'"
}
# press USER DATA [N [MID]]: press the button with DATA on message MID
# (the newest by default), wait for N (1) more messages.
press() {
	pr_n=$(count "$1")
	ctl press --data-urlencode "chat_id=$1" \
	    --data-urlencode "message_id=${4:-$(last_id "$1")}" \
	    --data-urlencode "data=$2" \
	    --data-urlencode "from={\"id\":$1,\"first_name\":\"U\"}" >/dev/null
	wait_until 30 "nmsgs $1 $((pr_n + ${3:-1}))" || diag "no reply to $2"
}

# ------------------------------------------------------------ config

love_conf "$W/love.ini"
love_conf "$W/bad1.ini"
sed -i 's/^start_date = .*/start_date = 2023-02-30/' "$W/bad1.ini"
love_conf "$W/bad2.ini"
sed -i 's/^timezone = .*/timezone = Mars\/Olympus_Mons/' "$W/bad2.ini"
sed 's/^answer = b/answer = e/' "$W/data/quiz.ini" >"$W/data/badquiz.ini"
love_conf "$W/bad3.ini"
sed -i 's/^quiz_file = .*/quiz_file = data\/badquiz.ini/' "$W/bad3.ini"
love_conf "$W/bad4.ini"
sed -i 's/^reasons_file = .*/reasons_file = data\/nothing.txt/' "$W/bad4.ini"
"$LOVE" -c "$W/love.ini" --check-config >"$W/good.out" 2>&1
rc=$?
bad=
for f in bad1 bad2 bad3 bad4; do
	"$LOVE" -c "$W/$f.ini" --check-config >"$W/$f.out" 2>&1
	bad="$bad $?"
done
if [ "$rc" = 0 ] && [ "$bad" = " 100 100 100 100" ] &&
    grep -q 'YYYY-MM-DD' "$W/bad1.out" && grep -q 'Mars' "$W/bad2.out" &&
    grep -q 'question 1' "$W/bad3.out" && grep -q 'nothing.txt' "$W/bad4.out"
then
	ok "--check-config: the good file passes; bad dates, zone, quiz, reasons exit 100"
else
	not_ok "--check-config: the good file passes; bad dates, zone, quiz, reasons exit 100"
	diag "rc $rc, bad:$bad" "$(cat "$W"/good.out "$W"/bad*.out)"
fi

# 23:30 in Kyiv on 31 May: the day before day 0.
at '2023-05-31 20:30:00+00'
t_spawn "$W/bot.out" "$W/bot.log" "$LOVE" -c "$W/love.ini"
BOT=$T_PID
bot_ready "$W/bot.log" 60 || bail "love is not ready: $(cat "$W/bot.log")"

# ------------------------------------------------------------ day -1

say_wait $HER /start
check "/start greets her" contains "$(last $HER)" "Привет, любимая"
say_wait $HER /commands
is "day -1: nothing open yet, and when the first opens" "$(last $HER)" \
    "Пока открыта только /commands. Первая команда откроется 01.06.2023 💫"
say_wait $HER /count
is "day -1: /count is locked and says when it opens" "$(last $HER)" \
    "🔒 Команда /count пока закрыта. Она откроется 01.06.2023 (через 1 дн.) 💫"
say_wait $HER /invite
is "day -1: /invite is locked for 4 more days" "$(last $HER)" \
    "🔒 Команда /invite пока закрыта. Она откроется 04.06.2023 (через 4 дн.) 💫"
wait_until 30 "nmsgs $HIM 4"
is "the author is told each command she used" "$(since $HIM 0)" \
    "💬 Она использовала /start
💬 Она использовала /commands
💬 Она использовала /count
💬 Она использовала /invite"

# ------------------------------------------------------------ day 0

# 00:30 in Kyiv (21:30 UTC): already 1 June there.
at '2023-05-31 21:30:00+00'
say_wait $HER /count
is "day 0 at 00:30 in the zone: /count opens (days since together_since)" \
    "$(last $HER)" "Вы на 92 дне отношений! 💑"
say_wait $HER /100reasons
is "day 0: /100reasons opens tomorrow" "$(last $HER)" \
    "🔒 Команда /100reasons пока закрыта. Она откроется 02.06.2023 (через 1 дн.) 💫"

# ------------------------------------------------------------ day 1

at '2023-06-02 09:00:00+00'
say_wait $HER /100reasons
press $HER reasons_10 2
ten=$(since $HER $(($(count $HER) - 2)) | head -n 10)
n_ok=$(printf '%s\n' "$ten" | grep -c '^❤️ Причина номер [0-9]*$')
n_uniq=$(printf '%s\n' "$ten" | sort -u | wc -l)
if [ "$n_ok" = 10 ] && [ "$n_uniq" = 10 ] &&
    [ "$(last $HER)" = "Спасибо, что ты есть ❤️" ]; then
	ok "day 1: ten distinct reasons from the file, then thanks"
else
	not_ok "day 1: ten distinct reasons from the file, then thanks"
	diag "$ten"
fi
say_wait $HER /100reasons
c0=$(count $HER)
press $HER reasons_all 4
all=$(since $HER $c0)
if [ "$(printf '%s\n' "$all" | grep -c '^[0-9]*\. Причина номер')" = 120 ] &&
    [ "$(count $HER)" = $((c0 + 4)) ] &&
    printf '%s\n' "$all" | grep -q '^120\. Причина номер 120$'; then
	ok "all reasons: 120 lines in three messages of at most 50, then thanks"
else
	not_ok "all reasons: 120 lines in three messages of at most 50, then thanks"
	diag "$(count $HER) messages, $(printf '%s\n' "$all" | wc -l) lines"
fi
say_wait $HER /trivia
check "day 1: /trivia is still locked" contains "$(last $HER)" \
    "Команда /trivia пока закрыта" "03.06.2023"

# ------------------------------------------------------------ day 2

at '2023-06-03 09:00:00+00'
say_wait $HER /trivia
Q1=$(last_id $HER)
is "day 2: /trivia asks the first question of the file" "$(last $HER)" \
    "1/3. Какой мой любимый цвет?"
say_wait $HER "зелёный"
is "a typed answer: use the buttons" "$(last $HER)" \
    "Выбери ответ кнопкой под вопросом 👆 (или /cancel)"
press $HER answer_0_0 2 "$Q1"
is "a wrong answer shows the right one, then the next question" \
    "$(since $HER $(($(count $HER) - 2)))" "Не угадала 🙈 Правильный ответ: Зелёный
2/3. Где мы познакомились?"
# The first question's buttons again: too late.
ctl press --data-urlencode "chat_id=$HER" --data-urlencode \
    "message_id=$Q1" --data-urlencode "data=answer_0_1" \
    --data-urlencode "from={\"id\":$HER,\"first_name\":\"U\"}" \
    >/dev/null
wait_until 30 "ctl callbacks | grep -q 'Этот вопрос уже позади'"
press $HER answer_1_2 2
press $HER answer_2_1 2
is "right answers, and the score at the end (the stale press not counted)" \
    "$(since $HER $(($(count $HER) - 4)))" "Правильно! ✅
3/3. Что я люблю на завтрак?
Правильно! ✅
Викторина окончена! Твой результат: 2 из 3 🎉"
check "the stale press was answered as such" contains "$(ctl callbacks)" \
    "Этот вопрос уже позади"
say_wait $HER /answers
is "/answers lists every question with its answer" "$(last $HER)" \
    "Правильные ответы:
1. Какой мой любимый цвет? — Зелёный
2. Где мы познакомились? — У друзей
3. Что я люблю на завтрак? — Яичницу"

# ------------------------------------------------------------ day 3

at '2023-06-04 09:00:00+00'
say_wait $HER /commands
check "day 3: every command open, and the invitation hint" contains \
    "$(last $HER)" "/count" "/100reasons" "/trivia" "/answers" "/invite" \
    "Сегодня открылась /invite"
h0=$(count $HIM)
say_wait $HER /invite
wait_until 30 "nmsgs $HIM $((h0 + 2))"
if [ "$(last $HER)" = "Приглашение отправлено! 💌" ] &&
    [ "$(since $HIM $h0)" = "💬 Она использовала /invite
💌 Она приглашает тебя на свидание! https://example.org/date" ]; then
	ok "/invite: the invitation goes to the author, she is told it went"
else
	not_ok "/invite: the invitation goes to the author, she is told it went"
	diag "$(since $HIM $h0)"
fi

# ------------------------------------------------------------ 100 days

at '2023-06-08 12:00:00+00'
say_wait $HER /commands
check "the 99th day: /commands says 100 days tomorrow" contains \
    "$(last $HER)" "Завтра 100 дней вместе"
at '2023-06-09 12:00:00+00'
say_wait $HER /count 2
is "the 100th day: /count congratulates" "$(since $HER $(($(count $HER) - 2)))" \
    "Вы на 100 дне отношений! 💑
🎉 Сегодня 100 дней вместе! Поздравляю, любимая! ❤️"

# ------------------------------------------------------------ others

h0=$(count $HIM)
say_wait $HIM /count 2
say_wait $STRANGER /count
say_wait $STRANGER /start
if [ "$(since $HIM $h0)" = "Вы на 100 дне отношений! 💑
🎉 Сегодня 100 дней вместе! Поздравляю, любимая! ❤️" ] &&
    [ "$(since $STRANGER 0)" = "Этот бот — подарок для одного человека 💝
Этот бот — подарок для одного человека 💝" ] &&
    [ "$(count $HIM)" = $((h0 + 2)) ]; then
	ok "the author may use it (not reported to himself); strangers are refused"
else
	not_ok "the author may use it (not reported to himself); strangers are refused"
	diag "$(since $HIM $h0)" "$(since $STRANGER 0)"
fi

# Forged callback data, from her and from a stranger.
h0=$(count $HER)
cq=0
for u in $HER $STRANGER; do
	for d in answer_99_0 answer_0_9 answer_x answer_-1_0 answer_0_ \
	    answer_99999999999999999999_0 reasons_zzz reasons_ answer_0_0_0; do
		ctl_json update "{\"update\":{\"callback_query\":{
		    \"id\":\"f$cq\",\"from\":{\"id\":$u,\"first_name\":\"X\"},
		    \"data\":\"$d\",\"chat_instance\":\"1\"}}}" >/dev/null
		cq=$((cq + 1))
	done
done
wait_until 30 "[ \"\$(ctl updates | grep -c callback_query)\" = 0 ]"
say_wait $HER /count 2
if alive "$BOT" && [ "$(count $HER)" = $((h0 + 2)) ] &&
    ! grep -q 'level=error' "$W/bot.log"; then
	ok "forged callback data: refused quietly, the bot runs on"
else
	not_ok "forged callback data: refused quietly, the bot runs on"
	diag "$(since $HER $h0)" "$(grep level=error "$W/bot.log" | head -3)"
fi

say_wait $HER "/count $(printf 'z%.0s' $(seq 1 3000))" 2
say_wait $HER "/nonsense"
is "an unknown command is answered in Russian" "$(last $HER)" \
    "Я не знаю такой команды 🙈 Напиши /commands."

kill -TERM "$BOT"
t_wait "$BOT" 30
is "SIGTERM: a clean stop" "$T_RC" 0
t_done
