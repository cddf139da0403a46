#!/bin/sh
# 407-game-hostile: every command with hostile arguments (huge and
# negative numbers, non-digits, markup and format directives, unicode
# controls, 5000 characters) and bare, from a registered player and from
# an unregistered user; hostile answers to every conversation (amounts,
# quantities, the registration's name); forged callback data for every
# prefix. Each gets a clear answer (never the generic error), the game's
# tables are unchanged, and the bot is still alive and answering.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-game.sh"

T_NAME=game407
t_plan 11 407-game-hostile
game_start

H=7101		# registered, in the group, nothing to spend
X=7102		# not registered
player $H Хакер "pisunchik_size = 10, items = '{masturbator}',
    last_used = now(), casino_last_used = now(), casino_usage_count = 5"
player 7103 Цель

LONG=$(printf 'x%.0s' $(seq 1 5000))
JUNK="-99999999999999999999 99999999999999999999 -5 abc 0x10 1e3 💥‮͏́ <b>&amp;</b> %s%n%x \\ ' \" ;DROP TABLE pisunchik_data;-- $LONG"
CMDS="start help pisunchik kazik roll vor otsos leaderboard shop items smazka
    krystalnie_ballzzz zelie_pisunchika pisunchik_potion_small
    pisunchik_potion_medium pisunchik_potion_large masturbator statuetki_shop
    statuetki characteristics upgrade_char buy_stocks sell_stocks my_stocks
    current_stocks stocks_update new anekdot joke peremoga zrada prosipaisya
    admin"

# snap: the game's state (the players, prices, casino uses, broadcasts,
# registrations, audited actions other than opening /admin).
snap() {
	q "SELECT md5(concat_ws('|',
	    (SELECT string_agg(p::text, ',' ORDER BY player_id)
	    FROM pisunchik_data p),
	    (SELECT string_agg(s::text, ',' ORDER BY company_name) FROM stocks s),
	    (SELECT count(*) FROM game_kazik),
	    (SELECT count(*) FROM broadcast_jobs),
	    (SELECT count(*) FROM game_registrations),
	    (SELECT count(*) FROM admin_audit WHERE action <> '/admin')))"
}
# ask USER TEXT [CHAT]: say_wait, counting updates that got no reply.
NOREPLY=0
ask() { say_wait "$@" || NOREPLY=$((NOREPLY + 1)); }

S0=$(snap)
for c in $CMDS; do
	ask $H "/$c $JUNK"
	ask $X "/$c"
done
ask $H "/vor $JUNK" $GROUP
ask $H "/otsos $JUNK" $GROUP
ask $H "$LONG"
ask $H "Бот, $JUNK"
is "every command with hostile arguments, registered or not: answered" \
    "$NOREPLY" 0
check "... the unregistered user is told to register" [ "$(texts $X |
    grep -c 'Вы не зарегистрированы')" -ge 15 ]
is "... the game's state unchanged" "$(snap)" "$S0"

# ------------------------------------------------------------ conversations
NOREPLY=0
ask $H /masturbator
for t in 99999999999999999999 -5 abc 0 11 "$LONG" "💥" "1 2" " " "/5"; do
	ask $H "$t"
done
ask $H /cancel
ask $H /buy_stocks
press_wait $H "$(kb_id $H)" stock_b_ATB $H
for t in 99999999999999999999 -5 abc 0 "$LONG" "٣" "1 2" "+1"; do
	ask $H "$t"
done
ask $H /cancel
ask $ADMIN /admin
M=$(kb_id $ADMIN)
press_on $ADMIN $M adm_ec $ADMIN
press_on $ADMIN $M "adm_b_$H" $ADMIN
for t in 99999999999999999999 abc 0 --5 "$LONG" "💥" "1e3" "0x10"; do
	ask $ADMIN "$t"
done
ask $ADMIN /cancel
ask $X /start
for t in "$LONG" "$(printf 'a\nb')" "💥‮"; do
	ask $X "$t"
done
ask $X "$LONG"
ask $X /cancel
is "hostile answers in every conversation: each answered" "$NOREPLY" 0
check "... with what is wanted" contains "$(texts $H; texts $ADMIN; texts $X)" \
    "Введите целое число от 1 до 10." \
    "Нельзя пожертвовать больше, чем у вас есть (10 см)." \
    "Введите количество цифрами, от 1 до 1000000." \
    "Введите целое число от -1000000000 до 1000000000." \
    "Имя должно быть от 1 до 64 символов" "Ответ должен быть от 1 до 500"
is "... nothing changed" "$(snap)" "$S0"

# ------------------------------------------------------------ callbacks
K=$(last_id $H)
for d in roll_-1 roll_99999999999999999999 roll_7 roll_ roll_abc \
    vor_1_2 vor_abc "otsos_99999999999999999999_$H" otsos_1_-1 \
    shop_buy_ "shop_buy_<script>" shop_buy_shaurma%00 buy_confirm_-1 \
    buy_confirm_99999999999999999999 buy_confirm_1 buy_cancel_x \
    "statuetki_buy_General Chin-Choppa'" statuetki_buy_ statuetki_confirm_0 \
    statuetki_confirm_abc upg_9 upg_-1 upgl_1_99 upgl_x upgl_2_1 stock_x_ATB \
    stock_b_Nope stock_s_ATB stock_ "adm_b_$H" adm_bc adm_x adm_menu \
    "reg_approve_$X" reg_reject_1 zzz_unknown "💥" \
    "$(printf 'x%.0s' $(seq 1 64))"; do
	forge $H "$K" "$d" $H
done
forge $GROUP 1 "vor_999999_$H" 7103
forge $GROUP 1 "otsos_999999_7103" $H
settle
is "forged callback data for every prefix: nothing changed" "$(snap)" "$S0"
is "nobody got the generic error" "$( (texts $H; texts $X; texts $ADMIN;
    texts $GROUP) | grep -c 'Что-то пошло не так')" 0
check "the bot is alive" alive "$GAME_PID"
say_wait $H /leaderboard
check "... and answers" contains "$(last $H)" "🏆 Топ-5 по размеру:"
check "no crash or error logged" [ "$(grep -c 'level=error' "$GAME_LOG")" = 0 ]

t_done
