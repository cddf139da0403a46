#!/bin/sh
# 400-game-reg: the game bot's registration (bots-spec.md 3.2): the
# two-step conversation, the admin's approve and reject buttons (short
# callback data), the welcome and rejection messages, a non-admin's press
# refused, a profile for a known player, and hostile input.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-game.sh"

T_NAME=game400
t_plan 13 400-game-reg
game_start

# The command menu: the table's descriptions, no admin command in it.
wait_until 30 "curl -sS '$FAKE_URL/bot$GAME_TOKEN/getMyCommands' |
    grep -q pisunchik"
m=$(curl -sS "$FAKE_URL/bot$GAME_TOKEN/getMyCommands")
if contains "$m" '{"command":"start","description":"профиль или регистрация"}' \
    '"command":"kazik"' && ! contains "$m" '"admin"' &&
    ! contains "$m" '"stocks_update"'; then
	ok "the command menu: descriptions from the table, no admin commands"
else
	not_ok "the command menu: descriptions from the table, no admin commands"
	diag "$m"
fi

U=5001
say_wait $U /start
is "/start: an unknown user is asked for a name" "$(last $U)" \
    "Привет! Вы ещё не зарегистрированы. Как вас зовут?"

long=$(printf 'x%.0s' $(seq 1 70))
say_wait $U "$long"
is "a 70-byte name is refused" "$(last $U)" \
    "Имя должно быть от 1 до 64 символов и без перевода строки. Как вас зовут?"

say_wait $U "Вася"
is "then: how did you find us" "$(last $U)" "Как вы узнали об этом боте?"
say_wait $U "от друга"
is "the request is sent" "$(last $U)" \
    "Заявка отправлена админам. Ждите подтверждения."

wait_text $ADMIN "Новая заявка"
b=$(buttons $ADMIN)
is "the admin gets approve/reject buttons with short data" "$b" \
    "reg_approve_$U reg_reject_$U"

say_wait $U /start
is "a second /start while waiting" "$(last $U)" \
    "Ваша заявка уже на рассмотрении."

# A non-admin presses the admin's button: refused, nothing happens.
press_wait $ADMIN "$(kb_id $ADMIN)" "reg_approve_$U" 7777
is "a non-admin's press is refused" "$(q "SELECT count(*) FROM
    pisunchik_data WHERE player_id = $U")" 0

press_wait $ADMIN "$(kb_id $ADMIN)" "reg_approve_$U" $ADMIN
wait_text $U "Добро пожаловать"
is "approve: a player with 0 cm and 0 BTC" \
    "$(val "player_name || ' ' || pisunchik_size || ' ' || coins" $U)" \
    "Вася 0 0"
check "approve: the admin's message edited, audit row written" \
    contains "$(texts $ADMIN)$(q "SELECT action || ' ' || admin_id
    FROM admin_audit WHERE bot = 'game'")" "✅ Заявка $U (Вася) одобрена." \
    "reg_approve $ADMIN"

say_wait $U /start
is "a known player's /start shows the profile" "$(last $U)" \
    "Вася, ваш писюнчик: 0 см, у вас 0 BTC. | Используйте /pisunchik, чтобы изменить размер."

# Reject, by another user.
R=5002
say_wait $R /start
say_wait $R "Петя"
say_wait $R "$(printf 'multi\nline')"
say_wait $R "из интернета"
wait_text $ADMIN "ID: $R"
RK=$(kb_id $ADMIN)
press_wait $ADMIN $RK "reg_reject_$R" $ADMIN
wait_text $R "отклонена"
is "reject: a DM, no player" "$(last $R) $(q "SELECT count(*) FROM
    pisunchik_data WHERE player_id = $R")" \
    "К сожалению, ваша заявка отклонена. 0"

# Hostile: a stale approve of the rejected user (its buttons are gone:
# the press is forged).
forge $ADMIN $RK "reg_approve_$R" $ADMIN
is "a second press on a handled request: nothing" "$(q "SELECT count(*)
    FROM pisunchik_data WHERE player_id = $R")" 0

t_done
