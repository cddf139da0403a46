/*
 * Telegram Bot API client: updates by long polling or webhook, an outgoing
 * queue that obeys Telegram's rate limits, and helpers for text and
 * keyboards. The rules it follows are in shared/reference/telegram-rules.md.
 *
 * One struct bc_tg per bot token, on the process's event loop. All calls are
 * asynchronous: a request is queued, sent when the rate limits allow, retried
 * on 429 (after retry_after, pausing the whole bot), 5xx and network errors
 * (exponential backoff with jitter), and its callback runs once with the
 * final result. Nothing is dropped silently: a call that finally fails is
 * logged and counted.
 *
 * The token is registered with log_redact() by bc_tg_new(); request URLs
 * (which hold it) are never logged above debug level.
 */
#ifndef BOTCOMMON_TG_H
#define BOTCOMMON_TG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct event_base;
struct bc_http;
struct bc_httpd;
struct bc_metrics;

/* Telegram's own limits. */
#define BC_TG_TEXT_MAX		4096	/* characters (UTF-16 units) */
#define BC_TG_CAPTION_MAX	1024
#define BC_TG_CALLBACK_MAX	64	/* bytes */
#define BC_TG_SECRET_MAX	256	/* webhook secret_token */

/* ------------------------------------------------------------ updates */

struct bc_tg_user {
	int64_t		 id;		/* 0 when absent */
	int		 is_bot;
	const char	*first_name;	/* never NULL: "" when absent */
	const char	*last_name;	/* NULL when absent */
	const char	*username;	/* NULL when absent */
	const char	*language_code;	/* NULL when absent */
};

struct bc_tg_chat {
	int64_t		 id;
	const char	*type;		/* "private", "group", "supergroup",
					   "channel"; never NULL */
	const char	*title;		/* NULL when absent */
	const char	*username;	/* NULL when absent */
};

struct bc_tg_message {
	int64_t		 message_id;
	int64_t		 date;
	struct bc_tg_chat chat;
	struct bc_tg_user from;		/* id 0 for channel posts */
	const char	*text;		/* NULL when absent */
	const char	*caption;	/* NULL when absent */
	int64_t		 reply_to_message_id;	/* 0 when none */
	int64_t		 reply_to_from_id;	/* 0 when none */
	const char	*web_app_data;	/* web_app_data.data, or NULL */
	const char	*photo_file_id;	/* largest photo size, or NULL */
	int64_t		 migrate_to_chat_id;	/* 0 when none */
	/*
	 * A command from a bot_command entity at offset 0: "start" for
	 * "/start@MyBot payload" with command_bot "MyBot" and args "payload"
	 * (trimmed). command is NULL for a plain message; command_bot is
	 * NULL without an @; args is "" when there are none. Owned by the
	 * update.
	 */
	const char	*command;
	const char	*command_bot;
	const char	*args;
};

struct bc_tg_callback {
	const char	*id;
	struct bc_tg_user from;
	const char	*data;		/* "" when absent */
	int		 has_message;
	struct bc_tg_message message;	/* the message with the button */
	const char	*inline_message_id;	/* NULL when absent */
};

struct bc_tg_member {
	struct bc_tg_chat chat;
	struct bc_tg_user from;
	struct bc_tg_user member;	/* whose status changed */
	const char	*old_status;	/* "member", "left", "kicked", ... */
	const char	*new_status;	/* never NULL: "" when absent */
	int64_t		 date;
};

enum bc_tg_update_type {
	BC_TG_UPDATE_OTHER = 0,		/* a type we do not parse */
	BC_TG_UPDATE_MESSAGE,
	BC_TG_UPDATE_EDITED_MESSAGE,
	BC_TG_UPDATE_CALLBACK_QUERY,
	BC_TG_UPDATE_MY_CHAT_MEMBER,
	BC_TG_UPDATE_CHAT_MEMBER,
};

struct bc_tg_update {
	int64_t		 update_id;
	enum bc_tg_update_type type;
	struct bc_tg_message message;	/* MESSAGE, EDITED_MESSAGE */
	struct bc_tg_callback callback;	/* CALLBACK_QUERY */
	struct bc_tg_member member;	/* MY_CHAT_MEMBER, CHAT_MEMBER */
	json_t		*raw;		/* the whole update, borrowed */
	char		*strbuf;	/* private: storage for command/args */
};

/*
 * Parse one Update object. Strings point into j (borrowed: keep j alive
 * while u is used) or into u's own storage. Release with
 * bc_tg_update_release() on success and on failure (it is safe on a
 * failed parse). Returns -1 with *cause (caller frees) for an update that
 * is not an object, lacks a valid update_id (a positive JSON integer), or
 * whose known type lacks what it cannot do without (a message without a
 * chat, a callback query without id or sender, a member update without
 * chat or new status); u->update_id is then the id when it could be read,
 * else -1, so a poller can still move past it. Any other malformed field
 * (a text that is not a string, say) is treated as absent.
 */
int	bc_tg_update_parse(json_t *j, struct bc_tg_update *u, char **cause);
void	bc_tg_update_release(struct bc_tg_update *);

/* "message", "callback_query", ... ("other"). Static. */
const char *bc_tg_update_type_name(enum bc_tg_update_type);

/* The chat an update belongs to (0 when none), and its sender (0). */
int64_t	bc_tg_update_chat_id(const struct bc_tg_update *);
int64_t	bc_tg_update_user_id(const struct bc_tg_update *);

/* ------------------------------------------------------------ text */

/* Escape &, <, > and " for parse_mode HTML. Caller frees. */
char	*bc_tg_html_escape(const char *);

/* Length in UTF-16 code units, as Telegram counts. Invalid UTF-8 counts
 * one per byte. */
size_t	bc_tg_utf16_len(const char *s, size_t len);

/*
 * Split text into chunks of at most max UTF-16 units (0 = 4096), cutting at
 * a paragraph, then a line, then a space, and only then anywhere, but never
 * inside a UTF-8 sequence (so never inside a surrogate pair either). The
 * whitespace at a cut (the blank line, newline or space) is dropped;
 * nothing else is. Returns the number of chunks (0 for empty text) and
 * *chunks, an array of allocated strings; free with bc_tg_split_free().
 */
size_t	bc_tg_split(const char *text, size_t max, char ***chunks);

/*
 * The same for text in parse_mode HTML: only visible characters count
 * (a tag counts 0, an entity such as &lt; counts 1), a cut is never made
 * inside a tag or an entity, and tags open at a cut are closed at the end
 * of the chunk and opened again at the start of the next one.
 */
size_t	bc_tg_split_html(const char *html, size_t max, char ***chunks);
void	bc_tg_split_free(char **chunks, size_t n);

/* ------------------------------------------------------------ keyboards */

/*
 * Inline keyboards. Build with bc_tg_kb_new(), rows with bc_tg_kb_row(),
 * buttons with bc_tg_kb_button() (callback data) or bc_tg_kb_url() /
 * bc_tg_kb_webapp(). Callback data longer than 64 bytes (or empty), or an
 * empty button text or URL, is refused here, when the keyboard is built:
 * the button is not added, the keyboard remembers the first error and
 * bc_tg_kb_finish() returns NULL with *cause (caller frees).
 * bc_tg_kb_finish() otherwise returns the reply_markup object (caller owns
 * the reference); either way it frees the builder. Strings are copied.
 * bc_tg_kb_free() drops an unfinished builder (NULL is a no-op).
 */
struct bc_tg_kb;
struct bc_tg_kb *bc_tg_kb_new(void);
void	bc_tg_kb_row(struct bc_tg_kb *);
void	bc_tg_kb_button(struct bc_tg_kb *, const char *text, const char *data);
void	bc_tg_kb_url(struct bc_tg_kb *, const char *text, const char *url);
void	bc_tg_kb_webapp(struct bc_tg_kb *, const char *text, const char *url);
json_t	*bc_tg_kb_finish(struct bc_tg_kb *, char **cause);
void	bc_tg_kb_free(struct bc_tg_kb *);

/* ------------------------------------------------------------ client */

struct bc_tg;

enum bc_tg_mode {
	BC_TG_MODE_POLLING = 0,
	BC_TG_MODE_WEBHOOK,
};

/* Zero means the default everywhere. Strings and arrays are copied. */
struct bc_tg_opts {
	/* NULL: https://api.telegram.org. */
	const char	*api_url;
	/* Required; redacted from every log line. */
	const char	*token;
	/* For the runtime; not used here. */
	enum bc_tg_mode	 mode;
	/* User ids, see bc_tg_is_admin(). */
	const int64_t	*admins;
	size_t		 nadmins;
	/* Long polling timeout, 1..50 (25..50 advised); 0: 30. */
	int		 poll_timeout_s;
	/* JSON array text; NULL: message, edited_message, callback_query,
	 * my_chat_member, chat_member. */
	const char	*allowed_updates;
	/* Rate limits: sends per second over all chats (0: 30), per-chat
	 * spacing (0: 1 s) and burst (0: 3), sends a minute to one group
	 * (0: 20), calls on the wire at once (0: 32). */
	double		 global_rate;
	double		 chat_interval_s;
	int		 chat_burst;
	int		 group_per_min;
	int		 max_inflight;
	/* One HTTP attempt (0: 30000). 5xx and network errors: the first
	 * delay (0: 1000), the cap (0: 1 h), attempts per call before
	 * giving up (0: 10). 409 on getUpdates: the first delay (0: 5000),
	 * doubling up to 5 min. */
	int64_t		 call_timeout_ms;
	int64_t		 retry_initial_ms;
	int64_t		 retry_max_ms;
	int		 max_attempts;
	int64_t		 conflict_initial_ms;
	/* NULL: bc_now_ms (tests inject a clock). */
	int64_t		 (*clock_ms)(void);
	/* Borrowed; NULL: no metrics. */
	struct bc_metrics *metrics;
	/*
	 * Called once when Telegram answers 401 (the token is wrong or
	 * revoked): everything stops, and a program should exit with
	 * BC_EXIT_PERM. NULL: the error is only logged.
	 */
	void		(*on_fatal)(struct bc_tg *, const char *reason,
			    void *arg);
	void		*fatal_arg;
};

/*
 * The outcome of one API call, after every retry; borrowed for the
 * duration of the callback. description is Telegram's or the transport's
 * text, never NULL ("" when none). result is Telegram's result, NULL
 * unless ok, and also NULL for "message is not modified", which is
 * reported as ok with error_code 400. migrated_to is the chat id the call
 * followed after migrate_to_chat_id (0 if none), retry_after the seconds
 * of the last 429 it met.
 */
struct bc_tg_result {
	int		 ok;
	int		 status;	/* HTTP; 0: transport failure */
	int		 error_code;	/* Telegram's, else the status */
	const char	*description;
	json_t		*result;
	int64_t		 migrated_to;
	int64_t		 retry_after;
	int		 attempts;	/* HTTP requests made */
};

typedef void bc_tg_cb(const struct bc_tg_result *, void *arg);

enum bc_tg_flags {
	BC_TG_HTML	= (1 << 0),	/* parse_mode HTML */
	BC_TG_SILENT	= (1 << 1),	/* disable_notification */
	BC_TG_BULK	= (1 << 2),	/* low priority (broadcasts) */
	BC_TG_NOPREVIEW	= (1 << 3),	/* no link preview */
};

/*
 * Create a client. base and http are borrowed and must outlive it. The
 * token must look like "<digits>:<secret>"; it is registered with
 * log_redact(). Nothing is sent until bc_tg_get_me(), a start function or
 * a call. Returns a client the caller frees with bc_tg_free(), or NULL with
 * *cause (caller frees).
 */
struct bc_tg *bc_tg_new(struct event_base *, struct bc_http *,
	    const struct bc_tg_opts *, char **cause);

/*
 * Free the client: in-flight requests are cancelled and queued calls
 * dropped without running their callbacks (check bc_tg_idle() first for a
 * clean shutdown). NULL is a no-op. Not from inside one of its callbacks.
 */
void	bc_tg_free(struct bc_tg *);

/*
 * Call any method. params (stolen, also on failure; NULL for none) go as a
 * JSON body. A chat_id in params (an integer, or a "@channel" string)
 * makes the call wait for that chat's limits and keeps it in order with
 * the chat's other calls; flags as above (BC_TG_HTML etc. add the matching
 * parameters). cb (may be NULL) runs exactly once, later, from the loop,
 * with a result borrowed for the duration of the call. Returns 0, or -1
 * (logged, cb not called) when the call cannot be queued: bad method name,
 * params not an object, the client stopped by a 401.
 */
int	bc_tg_call(struct bc_tg *, const char *method, json_t *params,
	    int flags, bc_tg_cb *cb, void *arg);

/*
 * The same as a multipart/form-data upload: the file goes as field
 * (e.g. "photo", "document", "audio") with data (len bytes, copied) and
 * filename (copied); every member of params becomes a form field (strings
 * as they are, anything else as JSON text). Returns as bc_tg_call().
 */
int	bc_tg_call_upload(struct bc_tg *, const char *method, json_t *params,
	    const char *field, const void *data, size_t len,
	    const char *filename, int flags, bc_tg_cb *cb, void *arg);

/*
 * sendMessage, split at 4096 UTF-16 units on line boundaries
 * (bc_tg_split_html() with BC_TG_HTML, else bc_tg_split()); reply_markup
 * (stolen, may be NULL) goes on the last part; the parts go in order.
 * cb runs once, with the last part's result or the first failure (the
 * parts after a failure are not sent). text is copied. Returns as
 * bc_tg_call(); -1 also for empty text.
 */
int	bc_tg_send_text(struct bc_tg *, int64_t chat_id, const char *text,
	    int flags, json_t *reply_markup, bc_tg_cb *cb, void *arg);

/*
 * editMessageText (text over 4096 units is cut with "…") and
 * editMessageReplyMarkup (reply_markup NULL removes the keyboard).
 * Markups are stolen; strings copied. "message is not modified" comes
 * back as ok.
 */
int	bc_tg_edit_text(struct bc_tg *, int64_t chat_id, int64_t message_id,
	    const char *text, int flags, json_t *reply_markup, bc_tg_cb *cb,
	    void *arg);
int	bc_tg_edit_markup(struct bc_tg *, int64_t chat_id,
	    int64_t message_id, json_t *reply_markup, bc_tg_cb *cb, void *arg);

/* deleteMessage. */
int	bc_tg_delete_message(struct bc_tg *, int64_t chat_id,
	    int64_t message_id, bc_tg_cb *cb, void *arg);

/* answerCallbackQuery; text may be NULL (no notice), copied. */
int	bc_tg_answer_callback(struct bc_tg *, const char *callback_id,
	    const char *text, int show_alert, bc_tg_cb *cb, void *arg);

/* sendDice; emoji NULL means the die. The value is in
 * result->result.dice.value. */
int	bc_tg_send_dice(struct bc_tg *, int64_t chat_id, const char *emoji,
	    int flags, bc_tg_cb *cb, void *arg);

enum bc_tg_media {
	BC_TG_PHOTO = 0,	/* sendPhoto, field "photo" */
	BC_TG_DOCUMENT,		/* sendDocument, field "document" */
	BC_TG_AUDIO,		/* sendAudio, field "audio" */
};

/*
 * Send a photo, document or audio by file_id or HTTP URL (file, copied),
 * or by upload (len bytes of data and filename, copied). caption may be
 * NULL (copied; over 1024 units is refused: -1); reply_markup stolen, may
 * be NULL. Returns as bc_tg_call().
 */
int	bc_tg_send_media(struct bc_tg *, enum bc_tg_media, int64_t chat_id,
	    const char *file, const char *caption, int flags,
	    json_t *reply_markup, bc_tg_cb *cb, void *arg);
int	bc_tg_upload_media(struct bc_tg *, enum bc_tg_media, int64_t chat_id,
	    const void *data, size_t len, const char *filename,
	    const char *caption, int flags, json_t *reply_markup,
	    bc_tg_cb *cb, void *arg);

/*
 * getMe: on success the bot's id and username are kept (see
 * bc_tg_me_id()) before cb runs. A 401 here is the usual sign of a wrong
 * token: result->error_code 401 (and on_fatal has run).
 */
int	bc_tg_get_me(struct bc_tg *, bc_tg_cb *cb, void *arg);

/* From the last successful getMe: the bot's id (0 before), its username
 * without @ (NULL before; borrowed, valid until the next getMe). */
int64_t	bc_tg_me_id(const struct bc_tg *);
const char *bc_tg_me_username(const struct bc_tg *);

/* 1 if user_id is one of opts.admins, else 0. */
int	bc_tg_is_admin(const struct bc_tg *, int64_t user_id);

/* ------------------------------------------------------------ updates in */

/*
 * The update handler. Returns 0 when the update is done (handled, or
 * deliberately dropped: the offset moves past it) or -1 to have it again
 * later (e.g. the database is down): polling then stops advancing, waits
 * with backoff and fetches the same batch again, and nothing after it is
 * handled first; a webhook answers 500 so that Telegram redelivers. u is
 * borrowed for the duration of the call.
 */
typedef int bc_tg_update_cb(struct bc_tg *, const struct bc_tg_update *u,
	    void *arg);

/*
 * Long polling: deleteWebhook (keeping pending updates), then getUpdates
 * in a loop with offset = last done update_id + 1, opts.poll_timeout_s and
 * allowed_updates set explicitly. Malformed updates are logged, counted
 * and skipped. 409 Conflict (another poller, or a webhook) is logged as an
 * error and retried after a growing delay; 5xx and network errors after a
 * shorter one. cb and arg are borrowed. Returns 0, or -1 with *cause
 * (caller frees) when updates are already being received.
 */
int	bc_tg_start_polling(struct bc_tg *, bc_tg_update_cb *cb, void *arg,
	    char **cause);

/*
 * Called around each batch of updates that getUpdates returned (polling
 * only), with end 0 before the first update's bc_tg_update_cb and end 1
 * after the last one handled (also when one asked to see it again, and
 * when stopping). At the start, ids (borrowed for the call) holds the
 * update_id of the n updates of the batch that may reach the update
 * callback, in order; at the end ids is NULL and n 0. Returning -1 at
 * the end means the work of the whole batch is undone (a transaction for
 * the batch that did not commit): the offset goes back to where the
 * batch began, and the batch is fetched again after a backoff. The
 * return value at the start is ignored.
 */
typedef int bc_tg_batch_cb(struct bc_tg *, int end, const int64_t *ids,
	    size_t n, void *arg);

/* Set (or, with a NULL cb, clear) the batch callback; arg is borrowed. */
void	bc_tg_set_batch_cb(struct bc_tg *, bc_tg_batch_cb *cb, void *arg);

/*
 * Webhook: add a POST route at path (copied) on httpd (borrowed; the route
 * points to the client, so free httpd before the client) and call
 * setWebhook with
 * url = public_url and secret_token = secret (copied; 1-256 characters of
 * A-Z a-z 0-9 _ -). Each request's X-Telegram-Bot-Api-Secret-Token is
 * compared in constant time: missing or wrong gets 401 and nothing else.
 * The reply is 200 once cb returned 0 (also for a malformed update, which
 * is logged, counted and dropped), 500 when it returned -1, 503 after
 * bc_tg_stop_updates(). Returns 0, or -1 with *cause (caller frees).
 */
int	bc_tg_start_webhook(struct bc_tg *, struct bc_httpd *,
	    const char *path, const char *public_url, const char *secret,
	    bc_tg_update_cb *cb, void *arg, char **cause);

/*
 * Stop receiving updates for a clean shutdown: no new getUpdates is
 * started and the one waiting is cancelled; an update being handled
 * finishes, and then the offset reached is confirmed to Telegram with
 * one short getUpdates. Queued calls still go out: wait for bc_tg_idle().
 */
void	bc_tg_stop_updates(struct bc_tg *);

/*
 * 1 when nothing is queued, nothing is in flight and no confirmation is
 * pending (polling excluded), else 0: for a flush at shutdown.
 */
int	bc_tg_idle(const struct bc_tg *);

/* Calls waiting in the queue, and on the wire. */
size_t	bc_tg_queued(const struct bc_tg *);
size_t	bc_tg_inflight(const struct bc_tg *);

/* The next getUpdates offset (last done update_id + 1; 0 before any). */
int64_t	bc_tg_offset(const struct bc_tg *);

/* ------------------------------------------------------------ instance */

/*
 * Make sure one process per bot token runs on this machine: take
 * flock(LOCK_EX | LOCK_NB) on "<dir>/tg-<first 16 hex of SHA-256(token)>
 * .lock" (the token itself appears nowhere) and write our pid in it. dir
 * NULL means $RUNTIME_DIRECTORY (its first entry), else /run/botfleet if
 * writable, else $TMPDIR, else /tmp. Returns the locked fd (close-on-exec;
 * keep it open for the life of the process: closing it releases the
 * lock), or -1 with *cause (caller frees), e.g. "another instance of bot
 * 1234 is already running (pid 42)"; the program then exits with
 * BC_EXIT_PERM.
 */
int	bc_tg_lock_instance(const char *token, const char *dir, char **cause);

#endif /* BOTCOMMON_TG_H */
