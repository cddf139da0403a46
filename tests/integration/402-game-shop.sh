#!/bin/sh
# 402-game-shop: the shop with the Hot discount and its single-use
# confirmation (a double tap pays once, an unpaid purchase changes
# nothing), /items, the item commands (potions, zelie, smazka,
# masturbator), statuettes up to the characteristic they grant,
# /upgrade_char, and the stock market's buy/sell conversations.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-game.sh"

T_NAME=game402
t_plan 25 402-game-shop
game_start

E=7001
player $E Ева "coins = 100, characteristics = '{Hot:3}'"
say_wait $E /shop
check "/shop: the Hot discount, an item a row" contains \
    "$(last $E) $(buttons $E)" "🛒 Магазин (скидка Hot: 11%)" \
    "shop_buy_kolczo_na_chlen shop_buy_bdsm_kostumchik"
press_wait $E "$(kb_id $E)" shop_buy_kolczo_na_chlen $E
wait_text $E "Купить «Кольцо на член» за 66 BTC?"
CONF=$(buttons $E | cut -d' ' -f1)
CK=$(kb_id $E)
press_wait $E $CK "$CONF" $E
wait_text $E "Вы купили «Кольцо на член» за 66 BTC. Осталось 34 BTC."
is "confirmed: paid 75 - 11%, the item added" \
    "$(val "coins || ' ' || array_to_string(items, ',')" $E)" \
    "34 kolczo_na_chlen"
forge $E $CK "$CONF" $E
is "a double tap on ✅ pays once" \
    "$(val "coins || ' ' || array_to_string(items, ',')" $E)" \
    "34 kolczo_na_chlen"

press_wait $E "$(kb_id $E)" shop_buy_smazka $E
press_wait $E "$(kb_id $E)" "$(buttons $E | cut -d' ' -f1)" $E
wait_text $E "Недостаточно BTC. Нужно 89 BTC"
is "insufficient funds: nothing changes" \
    "$(val "coins || ' ' || array_to_string(items, ',')" $E)" \
    "34 kolczo_na_chlen"
press_wait $E "$(kb_id $E)" shop_buy_smazka $E
press_wait $E "$(kb_id $E)" "$(buttons $E | cut -d' ' -f2)" $E
wait_text $E "Покупка отменена."
ok "❌ cancels the purchase"
forge $E "$(kb_id $E)" "shop_buy_<script>" $E
forge $E "$(kb_id $E)" "buy_confirm_99999999999999999999" $E
forge $E "$(kb_id $E)" "buy_confirm_-1" $E
is "forged shop data changes nothing" \
    "$(val "coins || ' ' || array_to_string(items, ',')" $E)" \
    "34 kolczo_na_chlen"

say_wait $E /items
is "/items: the inventory with descriptions" "$(last $E)" \
    "🎒 Ваши предметы: | • Кольцо на член ×1 — 20% шанс удвоить BTC от /pisunchik | "

# ------------------------------------------------------------ item commands
q "UPDATE pisunchik_data SET items = '{pisunchik_potion_large,
    zelie_pisunchika,zelie_pisunchika,smazka,masturbator}', pisunchik_size
    = 30, last_used = now() WHERE player_id = $E" >/dev/null
say_wait $E /pisunchik_potion_large
is "/pisunchik_potion_large: +10 cm" "$(last $E)" "🧃 Зелье: +10 см, теперь 40 см"
say_wait $E /pisunchik_potion_large
is "... consumed" "$(last $E)" \
    "У вас нет предмета «Большое зелье». Купить: /shop"
rng 30
say_wait $E /zelie_pisunchika
rng 70
say_wait $E /zelie_pisunchika
is "/zelie_pisunchika: +20 then -20" "$(texts $E | tail -n 2 | tr '\n' /)" \
    "🧪 Зелье подействовало: +20 см, теперь 60 см/🧪 Зелье подействовало: -20 см, теперь 40 см/"
say_wait $E /smazka
is "/smazka resets the cooldown" "$(val "(last_used IS NULL) || ' ' ||
    array_to_string(items, ',')" $E)" "true masturbator"
say_wait $E /masturbator
say_wait $E "много"
is "/masturbator: a non-number" "$(last $E)" "Введите целое число от 1 до 40."
say_wait $E "41"
is "/masturbator: more than the size" "$(last $E)" \
    "Нельзя пожертвовать больше, чем у вас есть (40 см)."
say_wait $E "10"
is "/masturbator: 10 cm pay 4*10 + 5*2 BTC" \
    "$(val "pisunchik_size || ' ' || coins || ' ' ||
    array_to_string(items, ',')" $E)" "30 84 "

# ------------------------------------------------------------ statuettes
F=7002
player $F Фёдор "coins = 1000"
say_wait $F /statuetki_shop
press_wait $F "$(kb_id $F)" "statuetki_buy_Pudginio" $F
wait_text $F "Купить статуэтку «Pudginio» за 50 BTC?"
press_wait $F "$(kb_id $F)" "$(buttons $F | cut -d' ' -f1)" $F
wait_text $F "Вы купили статуэтку «Pudginio». Осталось 950 BTC."
say_wait $F /statuetki_shop
is "the statuette shop lists only those not owned" "$(buttons $F)" \
    "statuetki_buy_Ryadovoi Rudgers statuetki_buy_Polkovnik Buchantos statuetki_buy_General Chin-Choppa"
q "UPDATE pisunchik_data SET statuetki = statuetki || '{Ryadovoi Rudgers,
    Polkovnik Buchantos,General Chin-Choppa}' WHERE player_id = $F" >/dev/null
rng 2
say_wait $F /statuetki
wait_text $F "Вы получили характеристику Invisible (уровень 1)!"
is "four statuettes: the story, taken, a new characteristic" \
    "$(val "coalesce(array_to_string(statuetki, ','), '') || ' ' ||
    array_to_string(characteristics, ',')" $F)" " Invisible:1"
check "... after the count and the story" contains "$(texts $F)" \
    "У вас 4 из 4 статуэток." "Четыре статуэтки стоят на полке"
q "UPDATE pisunchik_data SET characteristics = '{Titan:1,Hot:1,Invisible:1,
    Glowing:1,Gold:1,Big Black:15}' WHERE player_id = $F" >/dev/null
q "UPDATE pisunchik_data SET statuetki = '{Pudginio,Ryadovoi Rudgers,
    Polkovnik Buchantos,General Chin-Choppa}' WHERE player_id = $F" >/dev/null
rng 4
say_wait $F /statuetki
wait_text $F "Характеристика Gold повышена до уровня 2!"
ok "with all six: a random one below 15 goes up a level"

say_wait $F /upgrade_char
press_wait $F "$(kb_id $F)" upg_2 $F
wait_text $F "Invisible, уровень 1. На сколько уровней поднять?"
UK=$(kb_id $F)
U3=$(buttons $F | cut -d' ' -f3)
press_wait $F $UK "$U3" $F
wait_text $F "Invisible повышена до уровня 4 за 300 BTC. Осталось 650 BTC."
forge $F $UK "$U3" $F
is "/upgrade_char: 100 BTC a level, once per choice" \
    "$(val "coins || ' ' || array_to_string(characteristics, ',')" $F)" \
    "650 Titan:1,Hot:1,Invisible:4,Glowing:1,Gold:2,Big Black:15"

# ------------------------------------------------------------ stocks
say_wait $F /current_stocks
check "/current_stocks" contains "$(last $F)" "ATB: 50.00 BTC" \
    "Obuhov toilet paper: 10.00 BTC"
say_wait $F /buy_stocks
press_wait $F "$(kb_id $F)" stock_b_ATB $F
wait_text $F "Сколько акций ATB купить? Цена 50.00 BTC."
for bad in abc -5 0 1e3 "3 " 99999999; do
	say_wait $F "$bad"
done
is "the quantity is digits only" "$(texts $F | tail -n 6 | sort -u)" \
    "Введите количество цифрами, от 1 до 1000000."
say_wait $F 3
is "bought 3 ATB at 50" "$(val "coins || ' ' ||
    array_to_string(player_stocks, ',')" $F)" "500 ATB:3"
say_wait $F /sell_stocks
press_wait $F "$(kb_id $F)" stock_s_ATB $F
say_wait $F 5
is "selling more than owned is refused" "$(last $F)" "У вас только 3 акций ATB."
say_wait $F 2
is "sold 2 ATB at 50" "$(val "coins || ' ' ||
    array_to_string(player_stocks, ',')" $F)" "600 ATB:1"
say_wait $F /my_stocks
is "/my_stocks" "$(last $F)" "💼 Ваши акции: | ATB: 1 шт. × 50.00 = 50.00 BTC | "

t_done
