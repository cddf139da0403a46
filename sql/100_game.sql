-- 100_game: what the game bot (bots/game) adds to the original schema.
-- Adoption-safe: every statement succeeds on an empty database, on the
-- running one, and when run again.

-- Message capture keeps the chat (the original lost it).
ALTER TABLE messages ADD COLUMN IF NOT EXISTS chat_id bigint;
CREATE INDEX IF NOT EXISTS idx_messages_chat_ts
	ON messages (chat_id, "timestamp");

-- Registration requests waiting for an admin (the original kept them in
-- the FSM only, and put the name in the callback data).
CREATE TABLE IF NOT EXISTS game_registrations (
	user_id		bigint		PRIMARY KEY,
	name		text		NOT NULL,
	how		text		NOT NULL DEFAULT '',
	chat_id		bigint		NOT NULL,
	created_at	timestamptz	NOT NULL DEFAULT now()
);

-- Single-use confirmations: the id is in the confirm button; pressing it
-- deletes the row in the press's transaction, so a double tap or a
-- redelivered update cannot pay twice.
CREATE TABLE IF NOT EXISTS game_pending (
	id		bigserial	PRIMARY KEY,
	user_id		bigint		NOT NULL,
	kind		text		NOT NULL,
	key		text		NOT NULL DEFAULT '',
	price		bigint		NOT NULL DEFAULT 0,
	created_at	timestamptz	NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS game_pending_created
	ON game_pending (created_at);

-- /kazik uses: the six 🎰 dice are sent after the commit and each result
-- is recorded (and its jackpot paid) once; 'finished' rows had their
-- dice deleted and the summary sent.
CREATE TABLE IF NOT EXISTS game_kazik (
	id		bigserial	PRIMARY KEY,
	player_id	bigint		NOT NULL,
	chat_id		bigint		NOT NULL,
	status		text		NOT NULL DEFAULT 'new'
	    CHECK (status IN ('new', 'sending', 'done', 'finished')),
	vals		integer[]	NOT NULL
	    DEFAULT '{NULL,NULL,NULL,NULL,NULL,NULL}',
	msg_ids		bigint[]	NOT NULL
	    DEFAULT '{NULL,NULL,NULL,NULL,NULL,NULL}',
	won		bigint		NOT NULL DEFAULT 0,
	created_at	timestamptz	NOT NULL DEFAULT now(),
	done_at		timestamptz
);
CREATE INDEX IF NOT EXISTS game_kazik_open
	ON game_kazik (status) WHERE status <> 'finished';

-- Daily jobs run at most once a day.
CREATE TABLE IF NOT EXISTS game_jobs (
	name		text		PRIMARY KEY,
	last_run	date		NOT NULL
);

-- The fixed companies of the stock market, for a new database only: an
-- adopted database keeps the companies it has.
INSERT INTO stocks (company_name, price)
SELECT v.name, v.price FROM (VALUES
	('ATB', 50), ('Rockstar', 120), ('Google', 200), ('Apple', 180),
	('Valve', 150), ('Obuhov toilet paper', 10)) v (name, price)
WHERE NOT EXISTS (SELECT 1 FROM stocks);
