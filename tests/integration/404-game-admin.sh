#!/bin/sh
# 404-game-admin: the /admin panel (± BTC floored at 0, ± cm, reset
# cooldown, ± items, the JSON export as a document), each action in
# admin_audit; non-admins refused; message capture with the chat id; the
# small commands. The broadcast is in 405-game-broadcast.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-game.sh"

T_NAME=game404
t_plan 16 404-game-admin
FAKE_ARGS="--rate-global 30/s" game_start "prosipaisya_user = 4242
prosipaisya_name = <Соня>"

P=9001
player $P Павел "coins = 100, last_used = now()"
say_wait 7777 /admin
is "/admin: non-admins are refused" "$(last 7777)" "Эта команда только для админов."
say_wait $ADMIN /admin
is "/admin: the menu" "$(buttons $ADMIN)" "adm_pl adm_ec adm_it adm_sy"
M=$(kb_id $ADMIN)
press_on $ADMIN $M adm_ec $ADMIN
press_on $ADMIN $M "adm_b_$P" $ADMIN
wait_text $ADMIN "Введите изменение BTC для Павел"
say_wait $ADMIN "сто"
is "a non-number is refused" "$(last $ADMIN)" \
    "Введите целое число от -1000000000 до 1000000000."
say_wait $ADMIN "-500"
is "-500 BTC of 100: floored at 0" "$(last $ADMIN) $(val coins $P)" \
    "BTC Павел: 0 (-500). 0"
is "... audited" "$(q "SELECT admin_id || ' ' || action || ' ' ||
    (details->>'player') || ' ' || (details->>'delta') || ' ' ||
    (details->>'coins') FROM admin_audit WHERE action = 'btc'")" \
    "$ADMIN btc $P -500 0"

press_on $ADMIN $M adm_menu $ADMIN
press_on $ADMIN $M adm_pl $ADMIN
press_on $ADMIN $M "adm_p_$P" $ADMIN
wait_text $ADMIN "Размер: 0 см"
press_on $ADMIN $M "adm_s_$P" $ADMIN
wait_text $ADMIN "Введите изменение размера для Павел"
say_wait $ADMIN "+7"
wait_text $ADMIN "Размер Павел: 7 см (+7)."
press_on $ADMIN $M "adm_c_$P" $ADMIN
wait_text $ADMIN "Кулдаун /pisunchik для Павел сброшен."
is "± cm and reset cooldown" "$(val "pisunchik_size || ' ' ||
    (last_used IS NULL)" $P)" "7 true"

press_on $ADMIN $M adm_menu $ADMIN
press_on $ADMIN $M adm_it $ADMIN
press_on $ADMIN $M "adm_i_$P" $ADMIN
press_on $ADMIN $M "adm_ii_$P" $ADMIN
wait_text $ADMIN "Введите «ключ количество» для Павел"
say_wait $ADMIN "nope 1"
is "an unknown item key" "$(last $ADMIN)" "Такого товара нет."
say_wait $ADMIN "smazka 2"
is "+2 smazka" "$(val "array_to_string(items, ',')" $P)" "smazka,smazka"
is "every admin action audited" "$(q "SELECT string_agg(action, ','
    ORDER BY id) FROM admin_audit")" "/admin,btc,size,reset_cooldown,item"

press_on $ADMIN $M adm_menu $ADMIN
press_on $ADMIN $M adm_sy $ADMIN
press_on $ADMIN $M adm_x $ADMIN
wait_until 30 "ctl 'calls?method=sendDocument' | grep -q players.json"
check "the JSON export goes to the admin as a document" contains \
    "$(ctl 'calls?method=sendDocument')" '"filename":"players.json"' \
    "\"chat_id\":\"$ADMIN\""

# A non-admin forging admin callback data gets nothing.
forge 7777 1 "adm_b_$P" 7777
say 7777 "1000000"
wait_until 30 "[ \"\$(q 'SELECT count(*) FROM messages')\" = 1 ]"
is "forged admin data: no conversation, no change" "$(val coins $P)" 0

# ------------------------------------------------------------ misc, capture
say $P "привет всем" $GROUP
say_wait $P "Бот, как дела?" $GROUP
is "Бот, ...: a canned reply" "$(last $GROUP)" "Лучше всех, спасибо что спросил!"
is "plain messages captured with the chat" "$(q "SELECT string_agg(user_id
    || ':' || chat_id || ':' || message_text, ',' ORDER BY id) FROM
    messages")" "7777:7777:1000000,$P:$GROUP:привет всем,$P:$GROUP:Бот, как дела?"
say_wait $P /prosipaisya $GROUP
wait_until 30 "[ \$(texts $GROUP | grep -c 'просыпайся') -eq 4 ]"
check "/prosipaisya pings the configured user 4 times, name escaped" \
    contains "$(ctl 'calls?method=sendMessage')" \
    'tg://user?id=4242\">&lt;Соня&gt;</a>, просыпайся'
echo '<b>Новое</b>: магазин' >"$W/news.html"
say_wait $P /new
is "/new posts the news file" "$(last $P)" "Новое: магазин"
say_wait $P "/pisunchik $(printf '%%s%.0s' $(seq 1 200))"
check "a command with junk arguments still works" contains "$(last $P)" \
    "Ваш писюнчик:"

t_done
