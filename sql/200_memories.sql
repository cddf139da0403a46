-- memories bot (bots/memories): the reminder's time of day and the week
-- last reminded, the password lockout and unlocked sessions, and the
-- bot's self-deleting messages. Adds only; the original's rows (bcrypt
-- hashes, plaintext content) are adopted as they are.

ALTER TABLE memories_users
    ADD COLUMN IF NOT EXISTS reminder_time varchar(5) DEFAULT '12:00',
    ADD COLUMN IF NOT EXISTS last_reminded_week date;

-- Per user: consecutive wrong passwords, the end of a lockout and the
-- last use of the unlocked session (ms since the epoch, the bot's clock).
CREATE TABLE IF NOT EXISTS memories_auth (
    user_id bigint PRIMARY KEY,
    failures integer NOT NULL DEFAULT 0,
    locked_until_ms bigint,
    session_ms bigint
);

-- Messages to delete later: a bot message still to send (text, a
-- catalogue text, never diary content) or a message id, grouped by flow.
CREATE TABLE IF NOT EXISTS memories_tidy (
    id bigserial PRIMARY KEY,
    chat_id bigint NOT NULL,
    user_id bigint NOT NULL,
    flow text NOT NULL DEFAULT '',
    message_id bigint,
    text text,
    countdown integer NOT NULL DEFAULT 0,
    delete_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS memories_tidy_user_flow
    ON memories_tidy (user_id, flow);
CREATE INDEX IF NOT EXISTS memories_tidy_delete_at
    ON memories_tidy (delete_at);
