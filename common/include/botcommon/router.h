/*
 * The update router: a command table in the tmux cmd_entry spirit,
 * callback-data dispatch by prefix, conversations (multi-step flows) kept
 * in PostgreSQL, exactly-once update effects with an outbox for replies,
 * and the audit log of admin actions.
 *
 *   static const struct bc_cmd_entry cmds[] = {
 *	{ "start", { NULL }, BC_CMD_ANY, 0, 0, 0, "", cmd_start },
 *	{ "give", { "dai", NULL }, BC_CMD_ANY, BC_CMD_ADMIN, 0, 0,
 *	    "<user> <amount>", cmd_give },
 *	{ "roll", { NULL }, BC_CMD_GROUP, 0, 10, 2000, "", cmd_roll },
 *   };
 *
 * Every update runs in one transaction: the router inserts (bot,
 * update_id) into processed_updates (a redelivered update finds it there
 * and is skipped), calls the handler with the same struct bc_db, and
 * commits. Handlers must not begin or commit transactions themselves.
 * Replies (bc_router_reply() and friends) are rows in tg_outbox written in
 * that transaction (the INSERTs go with its COMMIT, in one round trip):
 * they go to Telegram only after the commit, are deleted once Telegram
 * accepted them, and rows left by a process that died are sent when the
 * next one starts. Deletions are batched: the rows accepted during one
 * turn of the event loop are deleted in one statement at the next turn
 * (or at once when 64 are waiting); a process that dies sends again, at
 * the next start, the calls in flight and those accepted but not yet
 * deleted. opts.outbox_flush_ms widens that window for fewer deletions.
 * A failing handler's effects and
 * replies are rolled back; the user gets a short apology and the update is
 * recorded as processed, so a poison update is not retried forever. A
 * transaction that fails with a serialization failure or a deadlock
 * (SQLSTATE 40001, 40P01), or on a stale prepared statement (see
 * bc_db_retryable()), is run again at once, up to three times in all.
 * When the database is unavailable the update is not recorded and the
 * router asks the tg layer to deliver it again (bc_router_handle()
 * returns -1). Completed outbox rows are deleted; a call Telegram refused
 * (4xx) keeps its row with failed_at and the error; one that failed for a
 * transient reason after the client's retries stays pending and is tried
 * again at the next start or hourly check.
 *
 * Once an hour (on the next update) processed_updates older than 48 h,
 * expired conversations and failed outbox rows older than 7 days are
 * deleted.
 *
 * Sending is behind struct bc_router_sender so tests run without
 * Telegram. The sender's callbacks point into the router: free the tg
 * client (which drops queued calls without running their callbacks)
 * before the router, or wait until bc_router_outbox_inflight() is 0.
 */
#ifndef BOTCOMMON_ROUTER_H
#define BOTCOMMON_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <botcommon/tg.h>

struct bc_db;
struct bc_metrics;
struct bc_router;
struct bc_router_ctx;

/* Where a command may be used. */
enum bc_cmd_scope {
	BC_CMD_ANY = 0,
	BC_CMD_PRIVATE,		/* private chat with the bot only */
	BC_CMD_GROUP,		/* groups and supergroups only */
};

enum bc_cmd_flags {
	BC_CMD_ADMIN	= (1 << 0),	/* admins only; others are refused */
	BC_CMD_HIDDEN	= (1 << 1),	/* left out of bc_router_help() */
};

/*
 * A handler. It runs inside the update's transaction and returns 0 (the
 * transaction commits) or -1 (it rolls back, and the user gets an
 * apology; or the update is retried later when the database was lost).
 */
typedef int bc_cmd_fn(struct bc_router_ctx *);

/*
 * One command. name and aliases are matched case-insensitively, without
 * the slash; aliases end at the first NULL. rate_per_min limits how often
 * one user may run the command (a token bucket: rate_per_min at once,
 * refilled over a minute), cooldown_ms is the least time between two runs
 * by one user; a user over either gets the "wait N s" reply, once per
 * wait (further tries during it are ignored quietly). The limits are kept
 * in memory (bounded by opts.rate_max_users) and count runs that reached
 * the handler. usage is a short argument synopsis and description for
 * the command menu (setMyCommands, see bot.h: a leading "— " left out) and
 * bc_router_help(). Runs of BC_CMD_ADMIN commands are written to
 * admin_audit (action "/name", details {"args", "chat_id"}) in the
 * command's transaction; a non-admin's attempt is refused and logged.
 */
struct bc_cmd_entry {
	const char	*name;
	const char	*aliases[4];
	enum bc_cmd_scope scope;
	int		 flags;		/* enum bc_cmd_flags */
	int		 rate_per_min;	/* 0: unlimited */
	int64_t		 cooldown_ms;	/* 0: none */
	const char	*usage;		/* may be NULL */
	bc_cmd_fn	*exec;
};

/*
 * One callback-data prefix. The longest matching prefix wins; ctx->args
 * is the data after it. Callback data is untrusted: parse it with care.
 * With BC_CMD_ADMIN, a non-admin's press is refused with an alert.
 */
struct bc_cb_entry {
	const char	*prefix;
	int		 flags;		/* BC_CMD_ADMIN */
	bc_cmd_fn	*exec;
};

/*
 * One kind of conversation: a plain (non-command) message from a user
 * with a conversation of this name in that chat goes to exec, with
 * bc_router_conv() returning it.
 */
struct bc_conv_entry {
	const char	*name;
	bc_cmd_fn	*exec;
};

/* A conversation as loaded for the handler; borrowed from the context. */
struct bc_conv {
	const char	*name;
	const char	*step;		/* "" when not set */
	json_t		*data;		/* an object; the handler may read it,
					   then store a new one with
					   bc_router_conv_set() */
	int64_t		 expires_ms;	/* wall clock, ms since the epoch */
};

/*
 * What a handler gets. Everything is borrowed for the duration of the
 * call.
 */
struct bc_router_ctx {
	struct bc_router *router;
	struct bc_db	*db;		/* inside the update's transaction */
	void		*arg;		/* opts.arg, or bc_router_run()'s */
	const struct bc_tg_update *u;	/* NULL in bc_router_run() */
	const struct bc_tg_message *msg; /* the message, edited message or
					   the callback's message; NULL
					   otherwise */
	int64_t		 chat_id;	/* 0 when none */
	int64_t		 user_id;	/* 0 when none */
	int		 is_admin;
	int		 is_private;	/* chat type "private" */
	const struct bc_cmd_entry *cmd;	/* the command run, or NULL */
	const struct bc_cb_entry *cb;	/* the callback entry, or NULL */
	const char	*args;		/* command arguments, or callback data
					   after the prefix; never NULL */
	struct bc_router_txn *txn;	/* private */
};

/*
 * The reply texts, English by default; a bot passes its own from its
 * message catalogue. A NULL member keeps the default. In wait, "{s}" is
 * replaced by the seconds left. Copied by bc_router_new().
 */
struct bc_router_texts {
	const char	*unknown;	/* unknown command, private chat */
	const char	*private_only;	/* group use of a private command */
	const char	*group_only;	/* private use of a group command */
	const char	*admin_only;	/* non-admin using an admin command */
	const char	*wait;		/* rate limit or cooldown */
	const char	*error;		/* the handler failed */
	const char	*cancelled;	/* /cancel ended a conversation */
	const char	*nothing_to_cancel;
};

/*
 * How the router talks to Telegram. send_text is bc_tg_send_text() and
 * call is bc_tg_call() by default: markup and params are stolen, and cb
 * must run exactly once, later (not from inside the call), unless the
 * function returns -1.
 */
struct bc_router_sender {
	int	(*send_text)(void *arg, int64_t chat_id, const char *text,
		    int flags, json_t *reply_markup, bc_tg_cb *cb,
		    void *cbarg);
	int	(*call)(void *arg, const char *method, json_t *params,
		    int flags, bc_tg_cb *cb, void *cbarg);
	void	*arg;
};

/* The real senders: bc_tg_send_text() and bc_tg_call() with arg the
 * struct bc_tg. The default of the router and of the broadcast runner. */
int	bc_router_tg_send_text(void *tg, int64_t chat_id, const char *text,
	    int flags, json_t *reply_markup, bc_tg_cb *cb, void *cbarg);
int	bc_router_tg_call(void *tg, const char *method, json_t *params,
	    int flags, bc_tg_cb *cb, void *cbarg);

struct bc_router_opts {
	const char	*bot;		/* required: the bot's name in the
					   runtime tables; copied */
	struct bc_db	*db;		/* required; borrowed */
	struct bc_tg	*tg;		/* borrowed; required unless sender */
	const struct bc_router_sender *sender;	/* NULL: tg; copied */
	const char	*username;	/* our username for /cmd@name; NULL:
					   bc_tg_me_username(tg); copied */
	const struct bc_cmd_entry *cmds;	/* borrowed, must outlive */
	size_t		 ncmds;
	const struct bc_cb_entry *cbs;	/* borrowed, must outlive */
	size_t		 ncbs;
	const struct bc_conv_entry *convs;	/* borrowed, must outlive */
	size_t		 nconvs;
	bc_cmd_fn	*on_message;	/* plain messages outside a
					   conversation; NULL: ignored */
	bc_cmd_fn	*on_update;	/* edited messages, member updates and
					   other types; NULL: ignored */
	const int64_t	*admins;	/* copied; none: bc_tg_is_admin(tg) */
	size_t		 nadmins;
	const struct bc_router_texts *texts;	/* NULL: English */
	int64_t		 conv_ttl_ms;	/* conversation lifetime; 0: 1 h */
	size_t		 rate_max_users;	/* limiter entries; 0: 10000 */
	struct bc_metrics *metrics;	/* borrowed; NULL: none */
	int64_t		 (*clock_ms)(void);	/* NULL: bc_now_ms */
	int64_t		 outbox_flush_ms;	/* how long accepted rows may
					   wait to be deleted together (a
					   bc_timer: needs the event loop
					   running; 64 waiting go at once):
					   0 = until the loop's next turn;
					   < 0 = each at once, no timer */
	void		*arg;		/* ctx->arg */
	size_t		 batch_max;	/* > 0: the updates of one
					   bc_router_batch_cb() batch share
					   transactions of up to batch_max
					   (at most 50) updates, each in a
					   savepoint; 0: one transaction an
					   update. See bc_router_batch_cb(). */
};

/*
 * Create a router. Nothing touches the database until bc_router_start()
 * or the first update. Returns a router the caller frees with
 * bc_router_free(), or NULL with *cause (caller frees) for bad options (a
 * missing bot name or db, no way to send, a command or prefix twice).
 */
struct bc_router *bc_router_new(const struct bc_router_opts *,
	    char **cause);

/*
 * Free the router (see above about in-flight sends), first deleting the
 * accepted rows still waiting. NULL is a no-op.
 */
void	bc_router_free(struct bc_router *);

/* Set our username (copied; NULL: ask tg again). */
void	bc_router_set_username(struct bc_router *, const char *);

/*
 * Send the outbox rows a previous process left pending and prune old
 * processed_updates, expired conversations and failed outbox rows. Done
 * by the first bc_router_handle() if not called before; may be called
 * again (rows already in flight are not sent twice). 0, or -1 with
 * *cause (caller frees).
 */
int	bc_router_start(struct bc_router *, char **cause);

/*
 * Handle one update, exactly once: 0 when it is done (handled, skipped as
 * a duplicate, or dropped with a log line), -1 when the database is
 * unavailable and the update must be delivered again. u is borrowed.
 */
int	bc_router_handle(struct bc_router *, const struct bc_tg_update *u);

/* The same as a bc_tg_update_cb, with arg the router. */
int	bc_router_update_cb(struct bc_tg *, const struct bc_tg_update *u,
	    void *arg);

/*
 * Batches (opts.batch_max > 0): between bc_router_batch_begin() and
 * bc_router_batch_end(), bc_router_handle() runs each update in a
 * savepoint of a transaction shared with the updates before it (a new
 * one every batch_max updates). ids (copied; may be NULL) are the
 * update_ids of the batch in order: each transaction records the next
 * batch_max of them in processed_updates with its first statement, so
 * that an update handled costs one round trip (its handler's statements
 * and the savepoint travel together) instead of three; rows recorded
 * for updates that were not handled are deleted with the commit.
 * Exactly once still holds: an update's effects, its processed_updates
 * row and its outbox rows commit together. A handler
 * that fails is rolled back to its savepoint (the others of the batch
 * stay) and recorded with its apology as without batches. Replies leave
 * after the commit of their transaction. When the database is lost, or
 * a commit fails, the work not yet committed is rolled back,
 * bc_router_handle() returns -1 for the rest of the batch and
 * bc_router_batch_end() -1: the caller must deliver every update of the
 * batch again (those committed are then skipped as duplicates). After a
 * commit that failed with the database up, the next batch runs one
 * transaction an update, to find the update at fault. A handler's
 * effects outside the database (memory) stay when its batch is rolled
 * back. Without batch_max, or for updates outside a batch, nothing
 * changes. 0, or -1 as said.
 */
void	bc_router_batch_begin(struct bc_router *, const int64_t *ids,
	    size_t n);
int	bc_router_batch_end(struct bc_router *);

/* Both as a bc_tg_batch_cb, with arg the router. */
int	bc_router_batch_cb(struct bc_tg *, int end, const int64_t *ids,
	    size_t n, void *arg);

/*
 * Run fn (a scheduled job, a completion of a slow request) in a
 * transaction with the same outbox guarantees as a handler: ctx->u is
 * NULL, ctx->arg is arg, chat and user are 0 (use bc_router_send()). Run
 * again after a serialization failure or deadlock. 0 when fn returned 0
 * and the commit succeeded, else -1 with *cause (caller frees) and
 * everything rolled back.
 */
int	bc_router_run(struct bc_router *, bc_cmd_fn *fn, void *arg,
	    char **cause);

/*
 * Replies, from a handler only. Each adds an outbox row to the handler's
 * transaction: reply to the update's chat, send to another chat, or call
 * any method (params stolen). markup (may be NULL) is stolen too. text
 * must be non-empty valid UTF-8. 0, or -1 (logged) for bad arguments or
 * outside a handler: the handler should return -1. The row is written
 * with the commit; if that fails (the row or anything else), the whole
 * transaction is rolled back like a failed handler's.
 */
int	bc_router_reply(struct bc_router_ctx *, const char *text, int flags,
	    json_t *markup);
int	bc_router_send(struct bc_router_ctx *, int64_t chat_id,
	    const char *text, int flags, json_t *markup);
int	bc_router_call(struct bc_router_ctx *, const char *method,
	    json_t *params, int flags);

/*
 * Answer the callback query being handled (text may be NULL; copied).
 * The router answers every callback query exactly once: if the handler
 * did not, it answers with no text after the handler. -1 when the update
 * is not a callback query or it was answered already.
 */
int	bc_router_answer(struct bc_router_ctx *, const char *text,
	    int show_alert);

/*
 * Record an admin action in admin_audit, in the handler's transaction.
 * details (borrowed, may be NULL) is an object. 0 or -1 (logged).
 */
int	bc_router_audit(struct bc_router_ctx *, const char *action,
	    json_t *details);

/*
 * The conversation of the context's user in its chat, loaded on first
 * use; NULL when there is none (an expired one is deleted) or on a
 * database error (then bc_db_lost() or the log says which).
 */
const struct bc_conv *bc_router_conv(struct bc_router_ctx *);

/*
 * Start a conversation (replacing any other of this user in this chat;
 * it expires ttl_ms after its last step, 0 meaning opts.conv_ttl_ms),
 * move it on (step and data, either may be NULL to keep it; the expiry
 * is pushed back by its ttl), or end it. data is borrowed and must be an
 * object (NULL: {}). All in the handler's transaction. 0, or -1 (logged).
 * A user's /cancel (unless the command table has its own "cancel") ends
 * the conversation with the "cancelled" reply.
 */
int	bc_router_conv_start(struct bc_router_ctx *, const char *name,
	    const char *step, json_t *data, int64_t ttl_ms);
int	bc_router_conv_set(struct bc_router_ctx *, const char *step,
	    json_t *data);
int	bc_router_conv_end(struct bc_router_ctx *);

/* 1 if user_id is an admin, else 0. */
int	bc_router_is_admin(const struct bc_router *, int64_t user_id);

/*
 * The command list for a /help reply, one "/name usage" line per command
 * usable there (admin commands only for admins, hidden ones never).
 * Caller frees.
 */
char	*bc_router_help(const struct bc_router *, int is_admin,
	    int is_private);

/* Outbox rows handed to the sender and not completed yet. */
size_t	bc_router_outbox_inflight(const struct bc_router *);

#endif /* BOTCOMMON_ROUTER_H */
