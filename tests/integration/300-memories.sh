#!/bin/sh
# 300-memories: the diary bot against the fake Bot API and PostgreSQL:
# registration (the password message deleted), /weekly and /extra with
# the password, wrong passwords and their self-deleting error, the lockout
# after repeated ones, the session that expires, text checks (huge, no
# letters), the confirmation that counts down and takes the prompt, the
# text and itself away, encryption at rest, cards and their buttons
# (garbage callback data included), /review, /stats, /backup, and an
# adopted user of the original bot (bcrypt hash, plaintext entry).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-memories.sh"

t_plan 35 300-memories
db_create mem300
mem_setup
clock_set '2025-01-06 10:00'
U=40001

# --check-config: a key that is not 64 hex digits is refused.
printf 'short\n' >"$W/badkey"
chmod 600 "$W/badkey"
sed "s|^key_file = .*|key_file = $W/badkey|" "$W/mem.ini" >"$W/bad.ini"
"$MEMBOT" -c "$W/bad.ini" --check-config >"$W/check.out" 2>&1
rc=$?
check "--check-config: a bad key file exits 100 with the reason" \
    eval '[ $rc = 100 ] && grep -q "64 hex digits" "$W/check.out"'

mem_start

# ------------------------------------------------------------ register

say $U /start
wait_until 30 "has $U 'Придумайте пароль'"
say $U 'my secret pass'
wait_until 30 "has $U 'Пароль установлен'"
wait_until 30 "! texts $U all | grep -q 'my secret pass'"
if ! texts $U all | grep -q 'my secret pass' &&
    [ "$(q "SELECT left(password, 3) FROM memories_users
    WHERE user_id = $U")" = '$y$' ]; then
	ok "registration: yescrypt hash stored, the password message deleted"
else
	not_ok "registration: yescrypt hash stored, the password message deleted"
	diag "$(texts $U all)"
fi

# ------------------------------------------------------------ /weekly

say $U /weekly
wait_until 30 "has $U 'Введите пароль'"
check "/weekly: the command is deleted, the password asked for" \
    eval "! texts $U all | grep -qx /weekly"
say $U 'wrong one'
wait_until 30 "sent 'Неверный пароль'"
check "a wrong password: an error" sent 'Неверный пароль'
wait_until 30 "! has $U 'Неверный пароль'"
check "the error, the prompt and the wrong password delete themselves" \
    eval "! texts $U all | grep -q -e 'Неверный' -e 'wrong one' \
    -e 'Введите пароль'"

say $U /weekly
wait_until 30 "has $U 'Введите пароль'"
say $U 'my secret pass'
wait_until 30 "has $U 'Напишите свои мысли'"
check "the right password: the text is asked for" \
    has $U 'Напишите свои мысли'
SECRET='Моя первая неделя: всё хорошо, 42 кота'
say $U "$SECRET"
wait_until 30 "has $U 'сохранены (неделя 1)'"
check "saved: a confirmation with a countdown" \
    eval "ctl 'calls?method=sendMessage' | grep -q 'исчезнут через 2'"
wait_until 30 "[ -n \"\$(ctl 'calls?method=editMessageText' |
    grep -o 'исчезнут через 1')\" ]"
check "the countdown is edited down to 1" \
    eval "ctl 'calls?method=editMessageText' | grep -q 'исчезнут через 1'"
wait_until 30 "! texts $U all | grep -q -e 'сохранены' -e 'первая неделя' \
    -e 'Напишите свои'"
check "then the prompt, the text and the confirmation are deleted" \
    eval "! texts $U all | grep -q -e 'сохранены' -e 'первая неделя' \
    -e 'Напишите свои' -e 'Введите'"

row=$(q "SELECT memory_type, week_number, week_start_date,
    left(content, 6) FROM memories WHERE user_id = $U")
is "the row: weekly, week 1, this Monday, sealed" "$row" \
    'weekly|1|2025-01-06|$mem1$'
n=$(q "SELECT count(*) FROM memories WHERE position(convert_to('первая',
    'UTF8') IN convert_to(content, 'UTF8')) > 0 OR content LIKE '%42 кота%'")
is "encryption at rest: the stored bytes do not contain the text" "$n" 0

# ------------------------------------------------------------ /extra, checks

say $U /extra
wait_until 30 "has $U 'дополнительную мысль'"
check "the session is open: /extra asks for no password" \
    eval "! has $U 'Введите пароль'"
awk 'BEGIN { for (i = 0; i < 4100; i++) printf "я"; print "" }' >"$W/huge"
say $U "$(cat "$W/huge")"
wait_until 30 "sent 'слишком длинный'"
check "a text over 4096 characters is refused" sent 'слишком длинный'
say $U '!!! ... ???'
wait_until 30 "sent 'хотя бы одна буква'"
check "a text without a letter or digit is refused" \
    sent 'хотя бы одна буква'
say $U 'Вторая мысль'
wait_until 30 "has $U 'Мысль сохранена'"
check "then a good text is saved as extra" \
    eval "[ \"\$(q \"SELECT count(*) FROM memories WHERE user_id = $U
    AND memory_type = 'extra'\")\" = 1 ]"
wait_until 30 "! texts $U all | grep -q -e 'яяяя' -e '!!! ...'"
if ! texts $U all | grep -q -e 'яяяя' -e '!!! ...'; then
	ok "the refused texts go with the flow"
else
	not_ok "the refused texts go with the flow"
	diag "$(texts $U all | cut -c1-60)" "$(q 'TABLE memories_tidy')" \
	    "$(ctl 'calls?method=deleteMessage' | head -c 3000)"
fi

# ------------------------------------------------------------ cards

say $U /memories
wait_until 30 "has $U 'Воспоминание 1/2'"
card=$(last_id $U)
check "/memories: the first card, decrypted" has $U "$SECRET"
press $U "$card" 'nav_next:0'
wait_until 30 "has $U 'Воспоминание 2/2'"
check "▶️ moves to the second card (edited in place)" \
    eval "has $U 'Вторая мысль' && [ \$(last_id $U) = $card ]"
press $U "$card" 'mem_stats'
wait_until 30 "ctl callbacks | grep -q 'Всего: 2'"
check "📊 answers with the counts in an alert" \
    eval "ctl callbacks | grep -q 'Всего: 2'"

# Garbage callback data (not on any keyboard): injected as updates.
for d in 'nav_next:abc' 'nav_prev:-1' 'nav_next:99999999999999' 'zzz' \
    'nav_firstX'; do
	ctl_json update "{\"update\":{\"callback_query\":{\"id\":\"g$d\",
	    \"from\":{\"id\":$U,\"first_name\":\"U\"},\"data\":\"$d\",
	    \"message\":{\"message_id\":$card,\"date\":1,
	    \"chat\":{\"id\":$U,\"type\":\"private\"}}}}}" >/dev/null
done
wait_until 30 "[ \$(ctl 'calls?method=answerCallbackQuery' |
    grep -o 'устарела' | wc -l) -ge 4 ]"
check "garbage callback data: an alert, the bot runs on" \
    eval "alive $MEM_PID && [ \$(ctl 'calls?method=answerCallbackQuery' |
    grep -o 'устарела' | wc -l) -ge 4 ] && has $U 'Воспоминание 2/2'"

say $U /stats
wait_until 30 "has $U 'Всего записей: 2'"
check "/stats: totals and dates" has $U 'Первая запись: 06.01.2025'

# ------------------------------------------------------------ /review

say $U /review
wait_until 30 "has $U 'Всего воспоминаний: 2'"
check "/review: an intro with a reply keyboard" \
    eval "ctl 'calls?method=sendMessage' | grep -q 'Следующее'"
say $U '➡️ Следующее'
wait_until 30 "[ \$(texts $U | grep -c 'Воспоминание 2/2') -ge 2 ]"
check "➡️ Следующее: the next card" \
    eval "[ \$(texts $U | grep -c 'Воспоминание 2/2') -ge 2 ]"
say $U /close
wait_until 30 "has $U 'Просмотр закрыт'"
check "/close ends the review and removes the keyboard" \
    eval "ctl 'calls?method=sendMessage' | grep -q remove_keyboard"

# ------------------------------------------------------------ /backup

say $U /backup
wait_until 30 "[ \$(texts $U | grep -c 'Введите пароль') -ge 1 ]"
check "/backup always asks for the password" has $U 'Введите пароль'
say $U 'my secret pass'
wait_until 30 "ctl 'calls?method=sendDocument' | grep -q memories_2025"
doc=$(ctl 'calls?method=sendDocument')
check "/backup: a .txt document is uploaded" contains "$doc" \
    '"upload":true' 'memories_20250106.txt' 'Резервная копия: 2'
check "nothing was written to a file in the working directory" \
    eval "[ -z \"\$(find . -mindepth 1 ! -path './$(basename "$W")*')\" ]"

# ------------------------------------------------------------ session

clock_set '2025-01-06 10:11'
press $U "$card" 'nav_first'
wait_until 30 "ctl callbacks | grep -q 'сессия истекла'"
check "an expired session: buttons only get an alert" \
    eval "ctl callbacks | grep -q 'сессия истекла' && has $U 'Воспоминание 2/2'"
n0=$(texts $U | grep -c 'Введите пароль')
say $U /stats
wait_until 30 "[ \$(texts $U | grep -c 'Введите пароль') -gt $n0 ]"
check "an expired session: /stats asks for the password again" \
    eval "[ \$(texts $U | grep -c 'Введите пароль') -gt $n0 ]"

# ------------------------------------------------------------ lockout

for i in 1 2 3; do
	[ "$i" -gt 1 ] && say $U /stats
	wait_until 30 "has $U 'Введите пароль'"
	say $U "bad $i"
	wait_until 30 "! has $U 'Введите пароль'"
done
wait_until 30 "sent 'Слишком много неверных попыток'"
check "three wrong passwords: locked out" \
    sent 'Попробуйте через 15 мин'
say $U /stats
wait_until 30 "[ \$(q \"SELECT failures FROM memories_auth
    WHERE user_id = $U\") = 0 ]"
wait_until 30 "[ \$(ctl 'calls?method=sendMessage' |
    grep -o 'неверных попыток' | wc -l) -ge 2 ]"
check "locked out: /stats is refused without asking the password" \
    eval "[ \$(ctl 'calls?method=sendMessage' |
    grep -o 'неверных попыток' | wc -l) -ge 2 ] && ! has $U 'Введите пароль'"
clock_set '2025-01-06 10:27'
say $U /stats
wait_until 30 "has $U 'Введите пароль'"
say $U 'my secret pass'
wait_until 30 "[ \$(texts $U | grep -c 'Всего записей: 2') -ge 2 ]"
check "after the lockout the right password opens the diary" \
    eval "[ \$(texts $U | grep -c 'Всего записей: 2') -ge 2 ]"

# ------------------------------------------------------------ hostile input

say $U '/setreminder понедельник 25:00'
say $U '/setreminder blah'
say $U '/timezone Mars/Olympus_Mons'
say $U '/timezone ../../../etc/passwd'
wait_until 30 "[ \$(texts $U | grep -c -e 'Не понял' -e 'Неизвестный') \
    -ge 4 ]"
check "bad day/time and unknown zones are refused" \
    eval "[ \$(texts $U | grep -c 'Не понял') = 2 ] &&
    [ \$(texts $U | grep -c 'Неизвестный часовой') = 2 ] &&
    [ \"\$(q \"SELECT reminder_day || ' ' || reminder_time || ' ' ||
    timezone FROM memories_users WHERE user_id = $U\")\" = 'sunday 12:00 UTC' ]"

# ------------------------------------------------------------ adoption

# A user of the original bot: a bcrypt hash and a plaintext entry.
A=40002
q "INSERT INTO memories_users (user_id, first_name, password) VALUES
    ($A, 'Old', '\$2b\$04\$feMQr/xUpilar1gZ49Elo.FzcJADqKFbXSFl4uLS6waj//SJ7vcmu');
    INSERT INTO memories (user_id, content, memory_type, created_at,
    week_number, week_start_date) VALUES ($A, 'старый текст из Python',
    'weekly', '2024-12-01 12:00', 1, '2024-11-25')" >/dev/null
mem_stop
mem_start
is "at start the original's plaintext entry is encrypted" \
    "$(q "SELECT left(content, 6), content LIKE '%старый%' FROM memories
    WHERE user_id = $A")" '$mem1$|f'
say $A /memories
wait_until 30 "has $A 'Введите пароль'"
say $A 'old-pass-1'
wait_until 30 "has $A 'Воспоминание 1/1'"
check "the original's bcrypt password opens it, the text reads back" \
    has $A 'старый текст из Python'

[ "$T_FAILED" -gt 0 ] && diag "bot log:" "$(tail -n 40 "$W/mem.log")"
t_done
