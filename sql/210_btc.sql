-- 210_btc: the Bitcoin price bot. The original kept its state in
-- user_states.json (one target per chat, lost on restart); these tables
-- are new, so creating them is safe on the running database.

-- Price alerts, several per chat. set_price_cents is the price when the
-- alert was set (NULL when none was known): crossing the target from that
-- side fires the alert even if no check saw it within the tolerance.
CREATE TABLE IF NOT EXISTS btc_alerts (
	id		bigserial	PRIMARY KEY,
	chat_id		bigint		NOT NULL,
	user_id		bigint		NOT NULL,
	target_cents	bigint		NOT NULL CHECK (target_cents > 0),
	set_price_cents	bigint,
	created_at	timestamptz	NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS btc_alerts_chat ON btc_alerts (chat_id, id);

-- The live /price message of each chat: waiting to be sent while
-- message_id is NULL, then edited as the price moves until "until". gen
-- tells a newer /price from the one whose send is still in flight.
CREATE TABLE IF NOT EXISTS btc_live (
	chat_id		bigint		PRIMARY KEY,
	gen		bigint		NOT NULL DEFAULT 0,
	message_id	bigint,
	shown_cents	bigint,
	requested_at	timestamptz	NOT NULL DEFAULT now(),
	edited_at	timestamptz,
	until		timestamptz	NOT NULL
);

-- The last $500 step announced in each announcement chat (in dollars).
CREATE TABLE IF NOT EXISTS btc_announce (
	chat_id		bigint		PRIMARY KEY,
	last_step	bigint		NOT NULL,
	updated_at	timestamptz	NOT NULL DEFAULT now()
);

-- CoinMarketCap requests per key and day, for the 30-day rotation. A key
-- is known by the first 16 hex digits of its SHA-256, never by itself.
CREATE TABLE IF NOT EXISTS btc_cmc_usage (
	key_id		text		NOT NULL,
	day		date		NOT NULL,
	requests	integer		NOT NULL DEFAULT 0,
	PRIMARY KEY (key_id, day)
);
