-- 001_baseline: the tables of the original Python project
-- (reference/bots-spec.md section 11), with their table and column names.
--
-- Every statement succeeds on an empty database and on one that already
-- holds these tables (the running database is adopted as it is):
-- CREATE TABLE IF NOT EXISTS with the full definition, then
-- ADD COLUMN IF NOT EXISTS for every column (type and default only:
-- constraints come with CREATE TABLE), SET DEFAULT for the columns that
-- have one (so an adopted table inserts like a new one), CREATE INDEX IF
-- NOT EXISTS.
-- The only rewrites are type conversions guarded by a look at
-- information_schema: coins to bigint (rounded) and messages.user_id to
-- bigint (Telegram ids do not fit in integer).
--
-- Applied by the runner in one transaction: no BEGIN/COMMIT here.

-- ---------------------------------------------------------- pisunchik_data
-- The player table. items/statuetki/characteristics/player_stocks/
-- correct_answers hold 'item', 'Name', 'Name:lvl', 'Company:qty' and
-- 'chat_id:score' strings; chat_id lists the chats the player is in.

CREATE TABLE IF NOT EXISTS pisunchik_data (
    player_id bigint PRIMARY KEY,
    player_name text,
    pisunchik_size integer,
    coins bigint DEFAULT 0,
    items text[],
    statuetki text[],
    characteristics text[],
    player_stocks text[],
    correct_answers text[],
    chat_id bigint[],
    nnn_checkins text[],
    last_used timestamptz,
    last_prezervativ timestamptz,
    last_vor timestamptz,
    casino_last_used timestamptz,
    casino_usage_count integer,
    ballzzz_number integer,
    notified boolean,
    last_joke text,
    miniapp_daily_spins integer,
    miniapp_last_spin_date timestamptz,
    miniapp_total_winnings numeric,
    pet jsonb,
    pet_titles jsonb DEFAULT '[]'::jsonb,
    pet_active_title varchar(100),
    pet_revives_used integer DEFAULT 0,
    pet_revives_reset_date timestamptz,
    trivia_streak integer DEFAULT 0,
    last_trivia_date timestamptz,
    pet_hunger integer DEFAULT 100,
    pet_happiness integer DEFAULT 50,
    pet_hunger_last_decay timestamptz,
    pet_happiness_last_activity timestamptz,
    pet_ulta_used_date timestamptz,
    pet_ulta_free_roll_pending boolean DEFAULT false,
    pet_ulta_oracle_pending boolean DEFAULT false,
    pet_ulta_trivia_pending boolean DEFAULT false,
    pet_casino_extra_spins integer DEFAULT 0,
    pet_ulta_oracle_preview jsonb,
    pet_death_pending_notify boolean DEFAULT false,
    wordle_streak integer DEFAULT 0,
    wordle_max_streak integer DEFAULT 0,
    wordle_wins integer DEFAULT 0,
    wordle_played integer DEFAULT 0,
    wordle_last_played_date timestamptz
);

ALTER TABLE pisunchik_data
    ADD COLUMN IF NOT EXISTS player_id bigint,
    ADD COLUMN IF NOT EXISTS player_name text,
    ADD COLUMN IF NOT EXISTS pisunchik_size integer,
    ADD COLUMN IF NOT EXISTS coins bigint DEFAULT 0,
    ADD COLUMN IF NOT EXISTS items text[],
    ADD COLUMN IF NOT EXISTS statuetki text[],
    ADD COLUMN IF NOT EXISTS characteristics text[],
    ADD COLUMN IF NOT EXISTS player_stocks text[],
    ADD COLUMN IF NOT EXISTS correct_answers text[],
    ADD COLUMN IF NOT EXISTS chat_id bigint[],
    ADD COLUMN IF NOT EXISTS nnn_checkins text[],
    ADD COLUMN IF NOT EXISTS last_used timestamptz,
    ADD COLUMN IF NOT EXISTS last_prezervativ timestamptz,
    ADD COLUMN IF NOT EXISTS last_vor timestamptz,
    ADD COLUMN IF NOT EXISTS casino_last_used timestamptz,
    ADD COLUMN IF NOT EXISTS casino_usage_count integer,
    ADD COLUMN IF NOT EXISTS ballzzz_number integer,
    ADD COLUMN IF NOT EXISTS notified boolean,
    ADD COLUMN IF NOT EXISTS last_joke text,
    ADD COLUMN IF NOT EXISTS miniapp_daily_spins integer,
    ADD COLUMN IF NOT EXISTS miniapp_last_spin_date timestamptz,
    ADD COLUMN IF NOT EXISTS miniapp_total_winnings numeric,
    ADD COLUMN IF NOT EXISTS pet jsonb,
    ADD COLUMN IF NOT EXISTS pet_titles jsonb DEFAULT '[]'::jsonb,
    ADD COLUMN IF NOT EXISTS pet_active_title varchar(100),
    ADD COLUMN IF NOT EXISTS pet_revives_used integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS pet_revives_reset_date timestamptz,
    ADD COLUMN IF NOT EXISTS trivia_streak integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS last_trivia_date timestamptz,
    ADD COLUMN IF NOT EXISTS pet_hunger integer DEFAULT 100,
    ADD COLUMN IF NOT EXISTS pet_happiness integer DEFAULT 50,
    ADD COLUMN IF NOT EXISTS pet_hunger_last_decay timestamptz,
    ADD COLUMN IF NOT EXISTS pet_happiness_last_activity timestamptz,
    ADD COLUMN IF NOT EXISTS pet_ulta_used_date timestamptz,
    ADD COLUMN IF NOT EXISTS pet_ulta_free_roll_pending boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS pet_ulta_oracle_pending boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS pet_ulta_trivia_pending boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS pet_casino_extra_spins integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS pet_ulta_oracle_preview jsonb,
    ADD COLUMN IF NOT EXISTS pet_death_pending_notify boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS wordle_streak integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS wordle_max_streak integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS wordle_wins integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS wordle_played integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS wordle_last_played_date timestamptz;

ALTER TABLE pisunchik_data
    ALTER COLUMN pet_titles SET DEFAULT '[]'::jsonb,
    ALTER COLUMN pet_revives_used SET DEFAULT 0,
    ALTER COLUMN trivia_streak SET DEFAULT 0,
    ALTER COLUMN pet_hunger SET DEFAULT 100,
    ALTER COLUMN pet_happiness SET DEFAULT 50,
    ALTER COLUMN pet_ulta_free_roll_pending SET DEFAULT false,
    ALTER COLUMN pet_ulta_oracle_pending SET DEFAULT false,
    ALTER COLUMN pet_ulta_trivia_pending SET DEFAULT false,
    ALTER COLUMN pet_casino_extra_spins SET DEFAULT 0,
    ALTER COLUMN pet_death_pending_notify SET DEFAULT false,
    ALTER COLUMN wordle_streak SET DEFAULT 0,
    ALTER COLUMN wordle_max_streak SET DEFAULT 0,
    ALTER COLUMN wordle_wins SET DEFAULT 0,
    ALTER COLUMN wordle_played SET DEFAULT 0;

-- The original stored coins as a floating-point (or numeric) amount: make
-- them whole numbers, rounding, clamping to the bigint range, NaN as 0.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema()
          AND table_name = 'pisunchik_data'
          AND column_name = 'coins'
          AND data_type <> 'bigint') THEN
        ALTER TABLE pisunchik_data ALTER COLUMN coins DROP DEFAULT;
        ALTER TABLE pisunchik_data ALTER COLUMN coins TYPE bigint USING
            CASE
            WHEN coins IS NULL THEN NULL
            WHEN coins::numeric = 'NaN'::numeric THEN 0
            WHEN coins::numeric >= 9223372036854775807
                THEN 9223372036854775807
            WHEN coins::numeric <= -9223372036854775808
                THEN -9223372036854775808
            ELSE round(coins::numeric)::bigint
            END;
    END IF;
END
$$;

ALTER TABLE pisunchik_data ALTER COLUMN coins SET DEFAULT 0;

-- ---------------------------------------------------------------- messages
-- Chat capture for summaries and the AI features.

CREATE TABLE IF NOT EXISTS messages (
    id serial PRIMARY KEY,
    user_id bigint,
    message_text text,
    "timestamp" timestamp,
    name text,
    message_id bigint,
    reply_to_message_id bigint
);

ALTER TABLE messages
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS user_id bigint,
    ADD COLUMN IF NOT EXISTS message_text text,
    ADD COLUMN IF NOT EXISTS "timestamp" timestamp,
    ADD COLUMN IF NOT EXISTS name text,
    ADD COLUMN IF NOT EXISTS message_id bigint,
    ADD COLUMN IF NOT EXISTS reply_to_message_id bigint;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema()
          AND table_name = 'messages'
          AND column_name = 'user_id'
          AND data_type IN ('smallint', 'integer')) THEN
        ALTER TABLE messages ALTER COLUMN user_id TYPE bigint;
    END IF;
END
$$;

CREATE INDEX IF NOT EXISTS idx_messages_message_id ON messages (message_id);
CREATE INDEX IF NOT EXISTS idx_messages_reply_to_message_id
    ON messages (reply_to_message_id);

-- ------------------------------------------------------------------ stocks

CREATE TABLE IF NOT EXISTS stocks (
    company_name varchar(255) PRIMARY KEY,
    price double precision
);

ALTER TABLE stocks
    ADD COLUMN IF NOT EXISTS company_name varchar(255),
    ADD COLUMN IF NOT EXISTS price double precision;

-- ------------------------------------------------------------------ trivia
-- questions.answer_options is a JSON list stored as text;
-- question_state.players_responses is
-- {"players_responses": {uid: "Name ✅"}, "options": [...]}.

CREATE TABLE IF NOT EXISTS questions (
    id serial PRIMARY KEY,
    question text,
    correct_answer text,
    answer_options text,
    explanation text,
    date_added timestamp DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE questions
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS question text,
    ADD COLUMN IF NOT EXISTS correct_answer text,
    ADD COLUMN IF NOT EXISTS answer_options text,
    ADD COLUMN IF NOT EXISTS explanation text,
    ADD COLUMN IF NOT EXISTS date_added timestamp DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE questions
    ALTER COLUMN date_added SET DEFAULT CURRENT_TIMESTAMP;

CREATE TABLE IF NOT EXISTS question_state (
    message_id bigint PRIMARY KEY,
    original_question text,
    players_responses json
);

ALTER TABLE question_state
    ADD COLUMN IF NOT EXISTS message_id bigint,
    ADD COLUMN IF NOT EXISTS original_question text,
    ADD COLUMN IF NOT EXISTS players_responses json;

CREATE TABLE IF NOT EXISTS chat_question_history (
    id serial PRIMARY KEY,
    chat_id bigint,
    question_id integer REFERENCES questions (id),
    sent_at timestamp DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE chat_question_history
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS chat_id bigint,
    ADD COLUMN IF NOT EXISTS question_id integer,
    ADD COLUMN IF NOT EXISTS sent_at timestamp DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE chat_question_history
    ALTER COLUMN sent_at SET DEFAULT CURRENT_TIMESTAMP;

CREATE INDEX IF NOT EXISTS idx_chat_question_history_chat_question
    ON chat_question_history (chat_id, question_id);
CREATE INDEX IF NOT EXISTS idx_chat_question_history_chat_sent
    ON chat_question_history (chat_id, sent_at);

-- Legacy trivia and activity tables, kept as they are.

CREATE TABLE IF NOT EXISTS answered_questions (
    user_id bigint,
    question text,
    date_added date
);

ALTER TABLE answered_questions
    ADD COLUMN IF NOT EXISTS user_id bigint,
    ADD COLUMN IF NOT EXISTS question text,
    ADD COLUMN IF NOT EXISTS date_added date;

CREATE TABLE IF NOT EXISTS user_activity (
    id serial PRIMARY KEY,
    user_id text,
    chat_id integer,
    last_activity timestamp
);

ALTER TABLE user_activity
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS user_id text,
    ADD COLUMN IF NOT EXISTS chat_id integer,
    ADD COLUMN IF NOT EXISTS last_activity timestamp;

-- ------------------------------------------------------------------ wordle
-- wordle_games.guesses is [{"guess": ..., "marks": [...]}].

CREATE TABLE IF NOT EXISTS wordle_daily (
    id serial PRIMARY KEY,
    date date UNIQUE,
    word text,
    chat_id bigint,
    message_id bigint,
    created_at timestamp DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE wordle_daily
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS date date,
    ADD COLUMN IF NOT EXISTS word text,
    ADD COLUMN IF NOT EXISTS chat_id bigint,
    ADD COLUMN IF NOT EXISTS message_id bigint,
    ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE wordle_daily
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP;

CREATE TABLE IF NOT EXISTS wordle_games (
    id serial PRIMARY KEY,
    date date,
    player_id bigint,
    player_name text,
    attempts integer DEFAULT 0,
    guesses jsonb DEFAULT '[]'::jsonb,
    won boolean DEFAULT false,
    finished boolean DEFAULT false,
    finished_at timestamp,
    UNIQUE (date, player_id)
);

ALTER TABLE wordle_games
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS date date,
    ADD COLUMN IF NOT EXISTS player_id bigint,
    ADD COLUMN IF NOT EXISTS player_name text,
    ADD COLUMN IF NOT EXISTS attempts integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS guesses jsonb DEFAULT '[]'::jsonb,
    ADD COLUMN IF NOT EXISTS won boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS finished boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS finished_at timestamp;

ALTER TABLE wordle_games
    ALTER COLUMN attempts SET DEFAULT 0,
    ALTER COLUMN guesses SET DEFAULT '[]'::jsonb,
    ALTER COLUMN won SET DEFAULT false,
    ALTER COLUMN finished SET DEFAULT false;

-- ------------------------------------------------------ events and games
-- reminders.remind_at is Europe/Copenhagen local time.

CREATE TABLE IF NOT EXISTS reminders (
    id serial PRIMARY KEY,
    chat_id bigint,
    text text,
    remind_at timestamp,
    sent boolean DEFAULT false,
    created_at timestamp DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE reminders
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS chat_id bigint,
    ADD COLUMN IF NOT EXISTS text text,
    ADD COLUMN IF NOT EXISTS remind_at timestamp,
    ADD COLUMN IF NOT EXISTS sent boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE reminders
    ALTER COLUMN sent SET DEFAULT false,
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP;

CREATE TABLE IF NOT EXISTS danetki (
    id serial PRIMARY KEY,
    situation text,
    answer text,
    used_at timestamp
);

ALTER TABLE danetki
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS situation text,
    ADD COLUMN IF NOT EXISTS answer text,
    ADD COLUMN IF NOT EXISTS used_at timestamp;

CREATE TABLE IF NOT EXISTS daily_prophecies (
    id serial PRIMARY KEY,
    chat_id bigint,
    style text,
    prophecies jsonb,
    created_at timestamp DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE daily_prophecies
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS chat_id bigint,
    ADD COLUMN IF NOT EXISTS style text,
    ADD COLUMN IF NOT EXISTS prophecies jsonb,
    ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE daily_prophecies
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP;

CREATE TABLE IF NOT EXISTS weekly_highlights (
    id serial PRIMARY KEY,
    chat_id bigint,
    candidates jsonb,
    votes jsonb DEFAULT '{}'::jsonb,
    message_id bigint,
    status text DEFAULT 'voting',
    created_at timestamp DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE weekly_highlights
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS chat_id bigint,
    ADD COLUMN IF NOT EXISTS candidates jsonb,
    ADD COLUMN IF NOT EXISTS votes jsonb DEFAULT '{}'::jsonb,
    ADD COLUMN IF NOT EXISTS message_id bigint,
    ADD COLUMN IF NOT EXISTS status text DEFAULT 'voting',
    ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE weekly_highlights
    ALTER COLUMN votes SET DEFAULT '{}'::jsonb,
    ALTER COLUMN status SET DEFAULT 'voting',
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP;

-- The court game. pending_action, current_phase and last_judge_msg_id had
-- no migration in the original (a manual ALTER): added here.

CREATE TABLE IF NOT EXISTS court_games (
    id serial PRIMARY KEY,
    chat_id bigint,
    defendant text,
    crime text,
    prosecutor_id bigint,
    lawyer_id bigint,
    witness_id bigint,
    prosecutor_cards jsonb,
    lawyer_cards jsonb,
    witness_cards jsonb,
    played_cards jsonb,
    current_round integer DEFAULT 0,
    prosecutor_cards_left integer DEFAULT 4,
    lawyer_cards_left integer DEFAULT 2,
    witness_cards_left integer DEFAULT 2,
    status text DEFAULT 'lobby',
    verdict text,
    created_at timestamp DEFAULT CURRENT_TIMESTAMP,
    pending_action text,
    current_phase text,
    last_judge_msg_id bigint
);

ALTER TABLE court_games
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS chat_id bigint,
    ADD COLUMN IF NOT EXISTS defendant text,
    ADD COLUMN IF NOT EXISTS crime text,
    ADD COLUMN IF NOT EXISTS prosecutor_id bigint,
    ADD COLUMN IF NOT EXISTS lawyer_id bigint,
    ADD COLUMN IF NOT EXISTS witness_id bigint,
    ADD COLUMN IF NOT EXISTS prosecutor_cards jsonb,
    ADD COLUMN IF NOT EXISTS lawyer_cards jsonb,
    ADD COLUMN IF NOT EXISTS witness_cards jsonb,
    ADD COLUMN IF NOT EXISTS played_cards jsonb,
    ADD COLUMN IF NOT EXISTS current_round integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS prosecutor_cards_left integer DEFAULT 4,
    ADD COLUMN IF NOT EXISTS lawyer_cards_left integer DEFAULT 2,
    ADD COLUMN IF NOT EXISTS witness_cards_left integer DEFAULT 2,
    ADD COLUMN IF NOT EXISTS status text DEFAULT 'lobby',
    ADD COLUMN IF NOT EXISTS verdict text,
    ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP,
    ADD COLUMN IF NOT EXISTS pending_action text,
    ADD COLUMN IF NOT EXISTS current_phase text,
    ADD COLUMN IF NOT EXISTS last_judge_msg_id bigint;

ALTER TABLE court_games
    ALTER COLUMN current_round SET DEFAULT 0,
    ALTER COLUMN prosecutor_cards_left SET DEFAULT 4,
    ALTER COLUMN lawyer_cards_left SET DEFAULT 2,
    ALTER COLUMN witness_cards_left SET DEFAULT 2,
    ALTER COLUMN status SET DEFAULT 'lobby',
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP;

CREATE TABLE IF NOT EXISTS court_messages (
    id serial PRIMARY KEY,
    game_id integer REFERENCES court_games (id) ON DELETE CASCADE,
    role text,
    content text,
    round_number integer,
    created_at timestamp DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE court_messages
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS game_id integer,
    ADD COLUMN IF NOT EXISTS role text,
    ADD COLUMN IF NOT EXISTS content text,
    ADD COLUMN IF NOT EXISTS round_number integer,
    ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE court_messages
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP;

-- ------------------------------------------------------------- AI identity

CREATE TABLE IF NOT EXISTS prompt_versions (
    id serial PRIMARY KEY,
    content text,
    author_id bigint,
    author_name text,
    created_at timestamptz DEFAULT now(),
    note text
);

ALTER TABLE prompt_versions
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS content text,
    ADD COLUMN IF NOT EXISTS author_id bigint,
    ADD COLUMN IF NOT EXISTS author_name text,
    ADD COLUMN IF NOT EXISTS created_at timestamptz DEFAULT now(),
    ADD COLUMN IF NOT EXISTS note text;

ALTER TABLE prompt_versions
    ALTER COLUMN created_at SET DEFAULT now();

CREATE INDEX IF NOT EXISTS idx_prompt_versions_created_at
    ON prompt_versions (created_at DESC);

CREATE TABLE IF NOT EXISTS prompt_admins (
    user_id bigint PRIMARY KEY,
    username text,
    granted_by bigint,
    granted_at timestamptz DEFAULT now()
);

ALTER TABLE prompt_admins
    ADD COLUMN IF NOT EXISTS user_id bigint,
    ADD COLUMN IF NOT EXISTS username text,
    ADD COLUMN IF NOT EXISTS granted_by bigint,
    ADD COLUMN IF NOT EXISTS granted_at timestamptz DEFAULT now();

ALTER TABLE prompt_admins
    ALTER COLUMN granted_at SET DEFAULT now();

-- ---------------------------------------------------------- memories bot
-- memories_users.password is a crypt(3) hash: bcrypt ($2b$) from the
-- original, yescrypt ($y$) from the C port.

CREATE TABLE IF NOT EXISTS memories_users (
    user_id bigint PRIMARY KEY,
    username varchar(255),
    first_name varchar(255),
    last_name varchar(255),
    is_active boolean DEFAULT true,
    registered_at timestamp DEFAULT CURRENT_TIMESTAMP,
    last_reminder timestamp,
    password varchar(255),
    reminder_day varchar(20) DEFAULT 'sunday',
    timezone varchar(50) DEFAULT 'UTC'
);

ALTER TABLE memories_users
    ADD COLUMN IF NOT EXISTS user_id bigint,
    ADD COLUMN IF NOT EXISTS username varchar(255),
    ADD COLUMN IF NOT EXISTS first_name varchar(255),
    ADD COLUMN IF NOT EXISTS last_name varchar(255),
    ADD COLUMN IF NOT EXISTS is_active boolean DEFAULT true,
    ADD COLUMN IF NOT EXISTS registered_at timestamp DEFAULT CURRENT_TIMESTAMP,
    ADD COLUMN IF NOT EXISTS last_reminder timestamp,
    ADD COLUMN IF NOT EXISTS password varchar(255),
    ADD COLUMN IF NOT EXISTS reminder_day varchar(20) DEFAULT 'sunday',
    ADD COLUMN IF NOT EXISTS timezone varchar(50) DEFAULT 'UTC';

ALTER TABLE memories_users
    ALTER COLUMN is_active SET DEFAULT true,
    ALTER COLUMN registered_at SET DEFAULT CURRENT_TIMESTAMP,
    ALTER COLUMN reminder_day SET DEFAULT 'sunday',
    ALTER COLUMN timezone SET DEFAULT 'UTC';

CREATE TABLE IF NOT EXISTS memories (
    id serial PRIMARY KEY,
    user_id bigint REFERENCES memories_users (user_id),
    content text,
    memory_type varchar(20) CHECK (memory_type IN ('weekly', 'extra')),
    created_at timestamp DEFAULT CURRENT_TIMESTAMP,
    week_number integer,
    week_start_date date
);

ALTER TABLE memories
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS user_id bigint,
    ADD COLUMN IF NOT EXISTS content text,
    ADD COLUMN IF NOT EXISTS memory_type varchar(20),
    ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP,
    ADD COLUMN IF NOT EXISTS week_number integer,
    ADD COLUMN IF NOT EXISTS week_start_date date;

ALTER TABLE memories
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP;

CREATE INDEX IF NOT EXISTS idx_memories_user_id ON memories (user_id);
CREATE INDEX IF NOT EXISTS idx_memories_created_at ON memories (created_at);
CREATE INDEX IF NOT EXISTS idx_memories_users_is_active
    ON memories_users (is_active);

-- ------------------------------------------------------------- songs bot
-- The song tournament, as the original's service code created it.

CREATE TABLE IF NOT EXISTS matchups (
    id serial PRIMARY KEY,
    round integer,
    matchup_date timestamp,
    song1_track_uri text,
    song1_friend text,
    song2_track_uri text,
    song2_friend text,
    song1_votes integer DEFAULT 0,
    song2_votes integer DEFAULT 0,
    winner_track_uri text,
    winner_friend text,
    processed boolean DEFAULT false,
    created_at timestamp DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE matchups
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS round integer,
    ADD COLUMN IF NOT EXISTS matchup_date timestamp,
    ADD COLUMN IF NOT EXISTS song1_track_uri text,
    ADD COLUMN IF NOT EXISTS song1_friend text,
    ADD COLUMN IF NOT EXISTS song2_track_uri text,
    ADD COLUMN IF NOT EXISTS song2_friend text,
    ADD COLUMN IF NOT EXISTS song1_votes integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS song2_votes integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS winner_track_uri text,
    ADD COLUMN IF NOT EXISTS winner_friend text,
    ADD COLUMN IF NOT EXISTS processed boolean DEFAULT false,
    ADD COLUMN IF NOT EXISTS created_at timestamp DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE matchups
    ALTER COLUMN song1_votes SET DEFAULT 0,
    ALTER COLUMN song2_votes SET DEFAULT 0,
    ALTER COLUMN processed SET DEFAULT false,
    ALTER COLUMN created_at SET DEFAULT CURRENT_TIMESTAMP;

CREATE TABLE IF NOT EXISTS votes (
    id serial PRIMARY KEY,
    matchup_id integer REFERENCES matchups (id),
    voter_id text,
    vote integer,
    vote_timestamp timestamp DEFAULT CURRENT_TIMESTAMP
);

ALTER TABLE votes
    ADD COLUMN IF NOT EXISTS id serial,
    ADD COLUMN IF NOT EXISTS matchup_id integer,
    ADD COLUMN IF NOT EXISTS voter_id text,
    ADD COLUMN IF NOT EXISTS vote integer,
    ADD COLUMN IF NOT EXISTS vote_timestamp timestamp
        DEFAULT CURRENT_TIMESTAMP;

ALTER TABLE votes
    ALTER COLUMN vote_timestamp SET DEFAULT CURRENT_TIMESTAMP;

CREATE TABLE IF NOT EXISTS song_stats (
    track_uri text PRIMARY KEY,
    friend text,
    total_votes integer DEFAULT 0,
    wins integer DEFAULT 0,
    losses integer DEFAULT 0,
    last_played timestamp
);

ALTER TABLE song_stats
    ADD COLUMN IF NOT EXISTS track_uri text,
    ADD COLUMN IF NOT EXISTS friend text,
    ADD COLUMN IF NOT EXISTS total_votes integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS wins integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS losses integer DEFAULT 0,
    ADD COLUMN IF NOT EXISTS last_played timestamp;

ALTER TABLE song_stats
    ALTER COLUMN total_votes SET DEFAULT 0,
    ALTER COLUMN wins SET DEFAULT 0,
    ALTER COLUMN losses SET DEFAULT 0;
