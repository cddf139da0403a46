#!/bin/sh
# 403-game-kazik: /kazik sends six 🎰 dice, pays +300 BTC for each value
# in {1, 22, 43, 64}, deletes the dice and posts "X/6 побед"; five uses
# per 24 h, the counter reset 24 h after the last use. The fake's seed 29
# makes the first six dice hold exactly one jackpot (64) and the next six
# none (the fake draws its dice from a seeded splitmix64).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-game.sh"

T_NAME=game403
t_plan 8 403-game-kazik
FAKE_ARGS="-s 29" game_start "kazik_delete_after = 200ms"

K=8001
player $K Кирилл
say_wait $K /kazik
is "/kazik: started, 4 uses left" "$(texts $K | head -n 1)" \
    "🎰 Крутим! Использований осталось: 4"
wait_text $K "Кирилл: 1/6 побед | 💰 Джекпот! +300 BTC" 60
is "six 🎰 dice were sent" "$(ctl 'calls?method=sendDice' |
    grep -o '"emoji":"🎰"' | wc -l)" 6
is "the jackpot paid once, the use counted" \
    "$(val "coins || ' ' || casino_usage_count" $K)" "300 1"
is "the dice messages were deleted, the summary stays" \
    "$(ctl "messages?chat_id=$K" | grep -c '"dice"') $(nmsgs $K)" "0 2"
is "the use is recorded as finished" "$(q "SELECT status || ' ' || won ||
    ' ' || array_to_string(vals, ',') FROM game_kazik")" \
    "finished 300 49,27,8,25,10,64"

say_wait $K /kazik
wait_text $K "Кирилл: 0/6 побед" 60
is "a second use without a jackpot" \
    "$(val "coins || ' ' || casino_usage_count" $K)" "300 2"

q "UPDATE pisunchik_data SET casino_usage_count = 5 WHERE player_id = $K" \
    >/dev/null
say_wait $K /kazik
check "the sixth use within 24 h is refused" contains "$(last $K)" \
    "Вы достигли максимума использования команды /kazik (5 раз в сутки). Осталось времени: 23ч"
q "UPDATE pisunchik_data SET casino_last_used = now() - interval '24 hours 1 second'
    WHERE player_id = $K" >/dev/null
say_wait $K /kazik
wait_until 30 "[ \$(texts $K | grep -c 'побед') -eq 3 ]" ||
    diag "no third summary"
is "24 h after the last use the counter starts again" \
    "$(texts $K | grep -c 'Крутим! Использований осталось: 4') $(val casino_usage_count $K)" \
    "2 1"

t_done
