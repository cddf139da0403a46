#!/bin/sh
# 406-game-jobs: the scheduled jobs with the bot's clock moved by the test
# (GAME_CLOCK_FILE): the "you can use /pisunchik" notice once per
# cooldown (Titan shortening it), the Big Black floor, the Gold income
# once per UTC day at gold_time, neither twice after a kill -9 and a
# restart, caught up once when the bot was down at gold_time; each job
# switched off in the configuration; --check-config refusing a bad
# gold_time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-game.sh"

T_NAME=game406
t_plan 15 406-game-jobs
GAME_CLOCK=$W/clock
clock_set '2025-06-01 11:00'
game_start "jobs_interval = 200ms
gold_time = 12:00
cooldown_notice = yes
bigblack_floor = yes
gold_income = yes
[http]
listen = 127.0.0.1:0"

# runs JOB: the committed runs of JOB in this process.
runs() {
	curl -sS "http://127.0.0.1:$GAME_PORT/metrics" |
	    awk -v j="game_job_runs_total{job=\"$1\"}" \
	    '$1 == j { v = $2 } END { print v + 0 }'
}
# ticks JOB: JOB ran twice more from now (so once wholly after a change).
ticks() {
	tk_n=$(runs "$1")
	wait_until 30 "[ \$(runs $1) -ge $((tk_n + 2)) ]" ||
	    diag "job $1 did not run"
}
# told USER TEXT: how many of the bot's messages to USER contain TEXT.
told() { texts "$1" | grep -c -- "$2"; }
# ago INTERVAL: the bot's clock minus INTERVAL, as SQL.
ago() { echo "to_timestamp($(cat "$GAME_CLOCK")) - interval '$1'"; }

N1=6101 N2=6102 T=6103 G=6104 G2=6105 B=6106
player $N1 Нина "notified = false, last_used = $(ago '25 hours')"
player $N2 Ника "notified = false, last_used = $(ago '23 hours')"
player $T Тит "notified = false, last_used = $(ago '21 hours'),
    characteristics = '{Titan:5}'"
player $G Гоша "coins = 10, characteristics = '{Gold:3}'"
player $G2 Гена "characteristics = '{Hot:2,Gold:15}'"
player $B Боря "pisunchik_size = 2, characteristics = '{Big Black:3}'"

ticks gold_income
settle
is "11:00: due notices sent (24 h; Titan 5: 20 h), not the one due later" \
    "$(told $N1 'Нина, вы можете использовать /pisunchik') $(told $T \
    'вы можете использовать') $(told $N2 'вы можете') $(val notified $N2)" \
    "1 1 0 f"
is "Big Black 3: 2 cm raised to 6, the player told" \
    "$(val pisunchik_size $B) $(told $B 'ваш член снова стал 6 см')" "6 1"
is "before gold_time no Gold income" "$(val coins $G)$(val coins $G2)" "100"

ticks gold_income
settle
is "more runs: no notice twice, the floor message once" \
    "$(told $N1 'вы можете') $(told $T 'вы можете') $(told $B 'Big Black')" \
    "1 1 1"

clock_set '2025-06-01 12:00:30'
ticks gold_income
settle
is "at gold_time: Gold 3 pays 5, Gold 15 pays 23" \
    "$(val coins $G) $(val coins $G2)" "15 23"
GOLD5="Гоша, ваш золотой член принёс сегодня прибыль в размере 5 BTC"
is "... each told once" "$(told $G "$GOLD5") $(told $G2 'в размере 23 BTC')" \
    "1 1"
is "N2's 24 h passed meanwhile: its notice now" \
    "$(told $N2 'Ника, вы можете использовать /pisunchik')" 1

kill -KILL $GAME_PID
t_wait $GAME_PID 10
clock_set '2025-06-01 12:30'
game_restart
ticks gold_income
settle
is "after kill -9 and a restart the same day: nothing again" \
    "$(val coins $G) $(told $G 'золотой') $(told $N1 'вы можете') $(told \
    $B 'Big Black') $(q "SELECT last_run FROM game_jobs WHERE name = 'gold'")" \
    "15 1 1 1 2025-06-01"

# A new cooldown: /pisunchik re-arms the notice; 24 h later it comes again.
rng 1 5 0
say_wait $N1 /pisunchik
is "/pisunchik re-arms the notice" "$(val notified $N1)" f
clock_set '2025-06-02 12:31'
ticks gold_income
settle
is "next day: the notice once more, Gold pays again" \
    "$(told $N1 'вы можете') $(val coins $G) $(told $G 'золотой')" "2 20 2"

# Down across gold_time: paid once when back, that day.
t_stop $GAME_PID
clock_set '2025-06-03 15:00'
game_restart
ticks gold_income
settle
is "down at gold_time: paid once when back" \
    "$(val coins $G) $(told $G 'золотой')" "25 3"
ticks gold_income
is "... and not again" "$(val coins $G)" 25

# Each job off: the others run, it does not.
t_stop $GAME_PID
sed -i 's/^gold_income = yes/gold_income = no/;
    s/^bigblack_floor = yes/bigblack_floor = no/' "$W/game.ini"
clock_set '2025-06-04 13:00'
q "UPDATE pisunchik_data SET pisunchik_size = 1 WHERE player_id = $B" \
    >/dev/null
q "UPDATE pisunchik_data SET notified = false, last_used = $(ago '2 days')
    WHERE player_id = $N2" >/dev/null
game_restart
ticks cooldown_notice
settle
is "gold_income and bigblack_floor off: no income, no floor; notices go" \
    "$(val coins $G) $(val pisunchik_size $B) $(told $N2 'вы можете')" \
    "25 1 2"
t_stop $GAME_PID
sed -i 's/^gold_income = no/gold_income = yes/;
    s/^cooldown_notice = yes/cooldown_notice = no/' "$W/game.ini"
q "UPDATE pisunchik_data SET notified = false WHERE player_id = $N2" \
    >/dev/null
game_restart
ticks gold_income
settle
is "cooldown_notice off: no notice; Gold pays" \
    "$(told $N2 'вы можете') $(val notified $N2) $(val coins $G)" \
    "2 f 30"

sed 's/^gold_time = 12:00/gold_time = 24:00/' "$W/game.ini" >"$W/bad.ini"
"$GAME" -c "$W/bad.ini" --check-config >"$W/check.out" 2>&1
rc=$?
check "--check-config: a bad gold_time is refused (100)" contains \
    "$rc $(cat "$W/check.out")" "100 " "gold_time: '24:00' is not HH:MM"

t_done
