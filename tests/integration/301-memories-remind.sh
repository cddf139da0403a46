#!/bin/sh
# 301-memories-remind: the weekly reminder with the bot's clock moved by
# the test (MEMORIES_CLOCK_FILE): on the user's day at their time in
# their zone, across the spring-forward and fall-back changes of
# Europe/Copenhagen, exactly once however often the check runs, not again
# after a restart, and caught up once at start when the bot was down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-memories.sh"

t_plan 12 301-memories-remind
db_create mem301
mem_setup
clock_set '2025-03-29 12:00'	# a Saturday
mem_start

A=41001	# Europe/Copenhagen, Sunday 12:00
B=41002	# UTC, Sunday 09:00: shows that a check ran

# register USER: /start and a password.
register() {
	say "$1" /start
	wait_until 30 "has $1 'Придумайте пароль'"
	say "$1" "pass-$1"
	wait_until 30 "has $1 'Пароль установлен'"
}

# reminders USER: how many reminders USER got.
reminders() { texts "$1" | grep -c 'Время для мыслей недели'; }

register $A
register $B
say $A '/timezone Europe/Copenhagen'
wait_until 30 "has $A 'Часовой пояс: Europe/Copenhagen'"
say $A '/setreminder воскресенье 12:00'
wait_until 30 "has $A 'Напоминание: воскресенье в 12:00 (Europe/Copenhagen)'"
say $B '/setreminder 7 09:00'
wait_until 30 "has $B 'Напоминание: воскресенье в 09:00 (UTC)'"
check "/setreminder and /timezone are stored" eval "[ \"\$(q \"SELECT
    reminder_day || reminder_time || timezone FROM memories_users WHERE
    user_id = $A\")\" = 'sunday12:00Europe/Copenhagen' ]"

# ------------------------------------------------------------ spring

# 30 March 2025: CET becomes CEST at 01:00 UTC; 12:00 local is 10:00 UTC.
clock_set '2025-03-30 09:30'
wait_until 30 "[ \$(reminders $B) -ge 1 ]"
is "09:30 UTC: B's 09:00 UTC is due, A's 12:00 CEST is not yet" \
    "$(reminders $B) $(reminders $A)" "1 0"
clock_set '2025-03-30 10:30'
wait_until 30 "[ \$(reminders $A) -ge 1 ]"
is "10:30 UTC (12:30 CEST, only 11:30 in CET): A is reminded" \
    "$(reminders $A)" 1
n=$(metric memories_reminder_checks_total)
clock_set '2025-03-30 11:45'
checks_after "$n"
is "more checks later that day: nobody is reminded twice" \
    "$(reminders $A) $(reminders $B)" "1 1"

# ------------------------------------------------------------ restart

mem_stop
mem_start
checks_after 0
is "after a restart: still one each" "$(reminders $A) $(reminders $B)" "1 1"
is "the week is recorded" "$(q "SELECT last_reminded_week FROM
    memories_users WHERE user_id = $A")" 2025-03-30

# Down over the next Sunday's times: caught up once at start.
mem_stop
clock_set '2025-04-06 13:00'
mem_start
wait_until 30 "[ \$(reminders $A) -ge 2 ] && [ \$(reminders $B) -ge 2 ]"
is "missed while down: sent at start" "$(reminders $A) $(reminders $B)" \
    "2 2"
n=$(metric memories_reminder_checks_total)
checks_after "$n"
mem_stop
mem_start
checks_after 0
is "and only once, also after another restart" \
    "$(reminders $A) $(reminders $B)" "2 2"

# A reminder days late (beyond reminder_grace) is not sent.
mem_stop
clock_set '2025-04-15 12:00'
mem_start
checks_after 0
is "a week missed by more than the grace is skipped" \
    "$(reminders $A) $(reminders $B)" "2 2"

# ------------------------------------------------------------ autumn

# 26 October 2025: 03:00 CEST becomes 02:00 CET (01:00 UTC), so 02:30
# happens twice: at 00:30 and at 01:30 UTC. The first one counts.
clock_set '2025-10-25 12:00'
say $A '/setreminder вс 02:30'
wait_until 30 "has $A 'воскресенье в 02:30'"
n=$(metric memories_reminder_checks_total)
clock_set '2025-10-26 00:20'
checks_after "$n"
is "00:20 UTC (02:20 CEST): not yet" "$(reminders $A)" 2
clock_set '2025-10-26 00:40'
wait_until 30 "[ \$(reminders $A) -ge 3 ]"
is "00:40 UTC (02:40 CEST, the first 02:30): reminded" "$(reminders $A)" 3
n=$(metric memories_reminder_checks_total)
clock_set '2025-10-26 01:40'
checks_after "$n"
is "01:40 UTC (02:40 CET, 02:30 again): not twice" "$(reminders $A)" 3

[ "$T_FAILED" -gt 0 ] && diag "bot log:" "$(tail -n 40 "$W/mem.log")"
t_done
