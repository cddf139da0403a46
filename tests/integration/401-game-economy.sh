#!/bin/sh
# 401-game-economy: /pisunchik on and off cooldown (Titan), with each of
# its item effects (kolczo, bdsm, prezervativ, krystalnie_ballzzz);
# /roll's costs with and without kubik_seksa, insufficient BTC and a
# jackpot; /vor with its cooldown, ownership and double taps; /otsos;
# /leaderboard; hostile input. Draws are pinned through random_script.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-game.sh"

T_NAME=game401
t_plan 24 401-game-economy
game_start

A=6001
player $A Анна
# change 5, coins 10, next change 3
rng 5 10 3
say_wait $A /pisunchik
is "/pisunchik: the change and the coins drawn" "$(last $A)" \
    "Ваш писюнчик: 5 см | Изменения: +5 см | Также вы получили: 10 BTC"
is "/pisunchik: saved, next change pre-rolled, notice re-armed" \
    "$(val "pisunchik_size || ' ' || coins || ' ' || ballzzz_number || ' ' ||
    notified || ' ' || (last_used > now() - interval '1 minute')" $A)" \
    "5 10 3 false true"

# Used 90 s ago: 23:58:30 left, shown rounded down (as the original's
# timedelta), whatever the delay of the reply.
q "UPDATE pisunchik_data SET last_used = now() - interval '90 seconds'
    WHERE player_id = $A" >/dev/null
say_wait $A /pisunchik
check "/pisunchik on cooldown: the time left, nothing changes" contains \
    "$(last $A) $(val "pisunchik_size || '/' || coins" $A)" \
    "Вы можете использовать эту команду только раз в 24 ч. | Осталось времени: 23ч 58м " \
    " 5/10"

# Items: the pre-rolled 3 is used, kolczo doubles (draw 1 <= 20), bdsm
# adds 5 (draw 5 <= 10), the crystal balls are consumed.
q "UPDATE pisunchik_data SET last_used = now() - interval '25 hours',
    items = '{kolczo_na_chlen,bdsm_kostumchik,krystalnie_ballzzz}'
    WHERE player_id = $A" >/dev/null
rng 7 1 5 2
say_wait $A /pisunchik
check "kolczo doubles the BTC, bdsm adds 5 cm, ballzzz used up" contains \
    "$(last $A)" "Ваш писюнчик: 13 см | Изменения: +8 см | Также вы получили: 14 BTC" \
    "Кольцо на член удвоило" "БДСМ костюмчик добавил" "Кристальные яйца рассыпались"
is "... and saved" "$(val "pisunchik_size || ' ' || coins || ' ' ||
    array_to_string(items, ',')" $A)" "13 24 kolczo_na_chlen,bdsm_kostumchik"

# kolczo and bdsm miss (draws 21 and 11).
q "UPDATE pisunchik_data SET last_used = now() - interval '25 hours'
    WHERE player_id = $A" >/dev/null
rng 5 21 11 -4
say_wait $A /pisunchik
is "kolczo and bdsm can miss" "$(last $A)" \
    "Ваш писюнчик: 15 см | Изменения: +2 см | Также вы получили: 5 BTC"

# prezervativ: the pre-rolled -4 becomes 0, once per 4 days.
q "UPDATE pisunchik_data SET last_used = now() - interval '25 hours',
    items = '{prezervativ}' WHERE player_id = $A" >/dev/null
rng 5 -3
say_wait $A /pisunchik
check "prezervativ turns a loss into 0" contains "$(last $A)" \
    "Изменения: +0 см" "Презерватив спас"
q "UPDATE pisunchik_data SET last_used = now() - interval '25 hours'
    WHERE player_id = $A" >/dev/null
rng 5 0
say_wait $A /pisunchik
is "prezervativ again within 4 days: the loss stands" "$(last $A)" \
    "Ваш писюнчик: 12 см | Изменения: -3 см | Также вы получили: 5 BTC"

# Titan 5: int(24 * 85 / 100) = 20 h.
q "UPDATE pisunchik_data SET last_used = now() - interval '19 hours',
    characteristics = '{Titan:5}' WHERE player_id = $A" >/dev/null
say_wait $A /pisunchik
check "Titan 5: a 20 h cooldown" contains "$(last $A)" "раз в 20 ч."
q "UPDATE pisunchik_data SET last_used = now() - interval '20 hours 1 minute'
    WHERE player_id = $A" >/dev/null
rng 6 0
say_wait $A /pisunchik
check "Titan 5: allowed after 20 h" contains "$(last $A)" \
    "Также вы получили: 6 BTC"

# /krystalnie_ballzzz shows the pre-rolled change; needs the item.
say_wait $A /krystalnie_ballzzz
is "/krystalnie_ballzzz without the item" "$(last $A)" \
    "У вас нет предмета «Кристальные яйца». Купить: /shop"
q "UPDATE pisunchik_data SET items = '{krystalnie_ballzzz}', ballzzz_number = 9
    WHERE player_id = $A" >/dev/null
say_wait $A /krystalnie_ballzzz
is "/krystalnie_ballzzz shows the next change" "$(last $A)" \
    "🔮 Кристальные яйца показывают: следующее изменение +9 см"

# ------------------------------------------------------------ /roll
B=6002
player $B Борис "coins = 100"
say_wait $B /roll
is "/roll: the dice counts" "$(buttons $B)" \
    "roll_1 roll_3 roll_5 roll_10 roll_20 roll_50 roll_100"
K=$(kb_id $B)
rng 4 2 5 2 6 2 4 2 5 2 6 2 4 2 5 2 6 2 4 2
press_wait $B $K roll_10 $B
is "10 dice: 60 BTC, +5 cm each high die" \
    "$(val "coins || ' ' || pisunchik_size" $B)" "40 50"
q "UPDATE pisunchik_data SET items = '{kubik_seksa}' WHERE player_id = $B" \
    >/dev/null
rng 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2 1 2
press_wait $B $K roll_10 $B
is "kubik_seksa halves the cost; low dice -5 cm" \
    "$(val "coins || ' ' || pisunchik_size" $B)" "10 0"
press_wait $B $K roll_5 $B
wait_text $B "Недостаточно BTC. Нужно 15 BTC"
is "insufficient BTC: the price named, nothing changes" \
    "$(val "coins || ' ' || pisunchik_size" $B)" "10 0"
rng 6 1
press_wait $B $K roll_1 $B
wait_text $B "ДЖЕКПОТ! Борис получает +400 BTC!"
is "a jackpot pays 400 BTC" "$(val "coins || ' ' || pisunchik_size" $B)" \
    "407 5"

# ------------------------------------------------------------ /vor, /otsos
C=6003
D=6004
player $C Сергей "characteristics = '{Glowing:2}'"
player $D Дима "pisunchik_size = 10"
say_wait $D /vor $GROUP
is "/vor without Glowing" "$(last $GROUP)" "Для /vor нужна характеристика Glowing."
say_wait $C /vor $GROUP
VB=$(buttons $GROUP | tr ' ' '\n' | grep "_$D\$")
VK=$(kb_id $GROUP)
press_wait $GROUP $VK "$VB" $D
is "someone else's /vor button: refused" "$(cb_answer)" \
    "A:Эта кнопка уже не действует."
press_wait $GROUP $VK "$VB" $C
is "Glowing 2 steals 4 cm" "$(val pisunchik_size $C) $(val pisunchik_size $D)" \
    "4 6"
forge $GROUP $VK "$VB" $C
is "a second press (double tap) steals nothing" \
    "$(val pisunchik_size $C) $(val pisunchik_size $D)" "4 6"
q "UPDATE pisunchik_data SET last_vor = now() - interval '90 seconds'
    WHERE player_id = $C" >/dev/null
say_wait $C /vor $GROUP
check "/vor on its 7-day cooldown" contains "$(last $GROUP)" \
    "Воровать можно раз в 7 дней. Осталось: 167ч 58м "

rng 3
say_wait $D /otsos $GROUP
press_wait $GROUP "$(kb_id $GROUP)" \
    "$(buttons $GROUP | tr ' ' '\n' | grep "_$C\$")" $D
wait_text $GROUP "отсосал"
is "/otsos moves the drawn cm" "$(val pisunchik_size $D) $(val pisunchik_size $C)" \
    "9 1"

say_wait $B /leaderboard
check "/leaderboard: top 5 by size" contains "$(last $B)" \
    "🏆 Топ-5 по размеру: | 1. Анна: 12 sm🌭" "2. Дима: 9 sm🌭 и 0 BTC💰"

t_done
