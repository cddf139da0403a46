-- 010_runtime: the tables libbotcommon's router and broadcast helper keep
-- for every bot. Every row names its bot, so bots may share one database.

-- Exactly-once update effects: an update's id is inserted in the same
-- transaction as its handler's effects; a redelivered update finds its row
-- and is skipped. Rows older than 48 h are pruned (Telegram keeps undelivered
-- updates for at most 24 h).
CREATE TABLE IF NOT EXISTS processed_updates (
	bot		text		NOT NULL,
	update_id	bigint		NOT NULL,
	processed_at	timestamptz	NOT NULL DEFAULT now(),
	PRIMARY KEY (bot, update_id)
);
CREATE INDEX IF NOT EXISTS processed_updates_bot_at
	ON processed_updates (bot, processed_at);

-- Outgoing Bot API calls written by handlers in their transaction. A row is
-- sent after the commit and deleted once Telegram accepted it; a permanent
-- failure keeps the row with failed_at and the error. Rows still pending
-- when a bot starts are sent first.
CREATE TABLE IF NOT EXISTS tg_outbox (
	id		bigserial	PRIMARY KEY,
	bot		text		NOT NULL,
	method		text		NOT NULL,
	params		jsonb		NOT NULL,
	flags		integer		NOT NULL DEFAULT 0,
	created_at	timestamptz	NOT NULL DEFAULT now(),
	failed_at	timestamptz,
	error		text
);
CREATE INDEX IF NOT EXISTS tg_outbox_pending
	ON tg_outbox (bot, id) WHERE failed_at IS NULL;

-- Multi-step flows: one conversation per user and chat. Each step pushes
-- expires_at back to now() + ttl_ms.
CREATE TABLE IF NOT EXISTS conversations (
	bot		text		NOT NULL,
	chat_id		bigint		NOT NULL,
	user_id		bigint		NOT NULL,
	name		text		NOT NULL,
	step		text		NOT NULL DEFAULT '',
	data		jsonb		NOT NULL DEFAULT '{}',
	ttl_ms		bigint		NOT NULL,
	expires_at	timestamptz	NOT NULL,
	updated_at	timestamptz	NOT NULL DEFAULT now(),
	PRIMARY KEY (bot, chat_id, user_id)
);
CREATE INDEX IF NOT EXISTS conversations_expires
	ON conversations (bot, expires_at);

-- What admins did.
CREATE TABLE IF NOT EXISTS admin_audit (
	id		bigserial	PRIMARY KEY,
	bot		text		NOT NULL,
	admin_id	bigint		NOT NULL,
	action		text		NOT NULL,
	details		jsonb		NOT NULL DEFAULT '{}',
	created_at	timestamptz	NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS admin_audit_bot_at
	ON admin_audit (bot, created_at);

-- Broadcasts: one job per text, one row per recipient. status is 'running'
-- until no recipient is pending, then 'done'.
CREATE TABLE IF NOT EXISTS broadcast_jobs (
	id		bigserial	PRIMARY KEY,
	bot		text		NOT NULL,
	text		text		NOT NULL,
	flags		integer		NOT NULL DEFAULT 0,
	status		text		NOT NULL DEFAULT 'running'
	    CHECK (status IN ('running', 'done', 'cancelled')),
	created_at	timestamptz	NOT NULL DEFAULT now(),
	finished_at	timestamptz
);
CREATE INDEX IF NOT EXISTS broadcast_jobs_running
	ON broadcast_jobs (bot, id) WHERE status = 'running';

-- status: 'pending' until Telegram accepted the message ('sent') or refused
-- it for good ('failed': blocked, deactivated, chat not found...). A sent
-- or failed recipient is never sent to again. migrated_to is the chat id
-- the message went to when the group had become a supergroup.
CREATE TABLE IF NOT EXISTS broadcast_recipients (
	job_id		bigint		NOT NULL
	    REFERENCES broadcast_jobs (id) ON DELETE CASCADE,
	chat_id		bigint		NOT NULL,
	status		text		NOT NULL DEFAULT 'pending'
	    CHECK (status IN ('pending', 'sent', 'failed')),
	attempts	integer		NOT NULL DEFAULT 0,
	error		text,
	migrated_to	bigint,
	updated_at	timestamptz	NOT NULL DEFAULT now(),
	PRIMARY KEY (job_id, chat_id)
);
CREATE INDEX IF NOT EXISTS broadcast_recipients_pending
	ON broadcast_recipients (job_id, chat_id) WHERE status = 'pending';
