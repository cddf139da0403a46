/*
 * The Bot API: routing of /bot<TOKEN>/<method>, the checks every method
 * shares (token, chat state, rate limits, injected faults), and the
 * methods that act on chats and messages. Validation follows Telegram's
 * answers, descriptions included, so that client bugs show up here.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "tgfake.h"

#define M_CHAT		(1 << 0)	/* takes chat_id */
#define M_LIMIT		(1 << 1)	/* counted by the rate limits */
#define M_KNOWN		(1 << 2)	/* the chat must be known */

#define NOT_MODIFIED	"Bad Request: message is not modified: specified " \
			"new message content and reply markup are exactly " \
			"the same as a current content and reply markup of " \
			"the message"
#define QUERY_INVALID	"Bad Request: query is too old and response " \
			"timeout expired or query ID is invalid"

struct method {
	const char	*name;
	rq_cb		*fn;
	int		 flags;
};

/* ------------------------------------------------------------ helpers */

/*
 * Read the text (or caption) of a message under parse_mode into plain
 * text and entities (both may come back NULL when optional and absent).
 * 0, or -1 after answering rq with Telegram's error.
 */
static int
read_text(struct rq *rq, const char *key, const char *ekey, int required,
    char **text, json_t **ents)
{
	const char *s, *pm;
	char *cause = NULL;
	int bad;

	*text = NULL;
	*ents = NULL;
	if ((s = p_str(rq->params, key)) == NULL || text_blank(s)) {
		if (required)
			rq_err(rq, 400, "Bad Request: message text is empty");
		return required ? -1 : 0;
	}
	pm = p_str(rq->params, "parse_mode");
	if (pm == NULL || *pm == '\0' || strcasecmp(pm, "MarkdownV2") == 0 ||
	    strcasecmp(pm, "Markdown") == 0) {
		*text = xstrdup(s);
		*ents = p_json(rq->params, ekey, &bad);
		if (bad || (*ents != NULL && !json_is_array(*ents)))
			cause = xstrdup("Bad Request: can't parse entities "
			    "JSON object");
	} else if (strcasecmp(pm, "HTML") == 0)
		(void)text_html_parse(s, text, ents, &cause);
	else
		xasprintf(&cause, "Bad Request: unsupported parse_mode");
	if (cause == NULL && text_blank(*text) && required)
		cause = xstrdup("Bad Request: message text is empty");
	if (cause == NULL && text_utf16_len(*text, strlen(*text)) >
	    (required ? TG_TEXT_MAX : TG_CAPTION_MAX))
		cause = xstrdup(required ? "Bad Request: message is too long" :
		    "Bad Request: message caption is too long");
	if (cause != NULL) {
		rq_err(rq, 400, cause);
		free(cause);
		free(*text);
		json_decref(*ents);
		*text = NULL;
		*ents = NULL;
		return -1;
	}
	return 0;
}

/* reply_markup, checked (new reference or NULL). -1 after answering. */
static int
read_markup(struct rq *rq, json_t **markup)
{
	char *cause = NULL;
	int bad;

	*markup = p_json(rq->params, "reply_markup", &bad);
	if (bad)
		cause = xstrdup("Bad Request: can't parse reply keyboard "
		    "markup JSON object");
	else if (*markup != NULL && text_markup_check(*markup, &cause) == 0)
		return 0;
	if (cause == NULL)
		return 0;
	rq_err(rq, 400, cause);
	free(cause);
	json_decref(*markup);
	*markup = NULL;
	return -1;
}

/* The message_id parameter; -1 after answering when missing or bad. */
static int
read_msg_id(struct rq *rq, int64_t *id)
{
	switch (p_i64(rq->params, "message_id", id)) {
	case 1:
		return 0;
	case 0:
		rq_err(rq, 400, "Bad Request: message identifier is not "
		    "specified");
		return -1;
	default:
		rq_err(rq, 400, "Bad Request: wrong message identifier "
		    "specified");
		return -1;
	}
}

/* A new Message from the bot; the store fills id, date and chat. */
static json_t *
msg_new(struct rq *rq)
{
	return json_pack("{si so si sn}", "message_id", 0, "from",
	    store_bot_user(rq->bot), "date", 0, "chat");
}

static void
msg_set(json_t *obj, const char *key, json_t *v)
{
	if (v == NULL || (json_is_array(v) && json_array_size(v) == 0))
		json_object_del(obj, key);
	else
		json_object_set(obj, key, v);
}

/* Only inline keyboards show in a Message. Borrowed or NULL. */
static json_t *
inline_markup(json_t *markup)
{
	return json_object_get(markup, "inline_keyboard") != NULL ?
	    markup : NULL;
}

/* reply_to_message_id or reply_parameters. -1 after answering. */
static int
msg_reply_to(struct rq *rq, json_t *obj)
{
	json_t *rp;
	struct msg *m;
	int64_t id = 0;
	int bad, lax = 0;

	(void)p_i64(rq->params, "reply_to_message_id", &id);
	(void)p_bool(rq->params, "allow_sending_without_reply", &lax);
	if ((rp = p_json(rq->params, "reply_parameters", &bad)) != NULL) {
		(void)p_i64(rp, "message_id", &id);
		(void)p_bool(rp, "allow_sending_without_reply", &lax);
		json_decref(rp);
	}
	if (id == 0)
		return 0;
	if ((m = store_msg_get(rq->chat, id)) != NULL) {
		json_object_set_new(obj, "reply_to_message",
		    json_deep_copy(m->obj));
		json_object_del(json_object_get(obj, "reply_to_message"),
		    "reply_to_message");
		return 0;
	}
	if (lax)
		return 0;
	rq_err(rq, 400, "Bad Request: message to be replied not found");
	return -1;
}

/* Store obj as the bot's new message in the chat and answer with it. */
static void
msg_send(struct rq *rq, json_t *obj, json_t *markup)
{
	struct msg *m;

	msg_set(obj, "reply_markup", inline_markup(markup));
	json_decref(markup);
	if (msg_reply_to(rq, obj) == -1) {
		json_decref(obj);
		return;
	}
	m = store_msg_add(rq->bot, rq->chat, 1, obj);
	rq_ok(rq, json_incref(m->obj));
}

/* ------------------------------------------------------------ methods */

static void
m_get_me(struct rq *rq)
{
	json_t *u = store_bot_user(rq->bot);

	json_object_set_new(u, "can_join_groups", json_true());
	json_object_set_new(u, "can_read_all_group_messages", json_false());
	json_object_set_new(u, "supports_inline_queries", json_false());
	rq_ok(rq, u);
}

static void
m_send_message(struct rq *rq)
{
	json_t *obj, *ents, *markup;
	char *text;

	if (read_text(rq, "text", "entities", 1, &text, &ents) == -1)
		return;
	if (read_markup(rq, &markup) == -1) {
		free(text);
		json_decref(ents);
		return;
	}
	obj = msg_new(rq);
	json_object_set_new(obj, "text", json_string(text));
	msg_set(obj, "entities", ents);
	free(text);
	json_decref(ents);
	msg_send(rq, obj, markup);
}

/* The bot's message to edit; NULL after answering. */
static struct msg *
edit_target(struct rq *rq)
{
	struct msg *m;
	int64_t id;

	if (p_str(rq->params, "inline_message_id") != NULL &&
	    json_object_get(rq->params, "message_id") == NULL) {
		rq_err(rq, 400, "Bad Request: message to edit not found");
		return NULL;
	}
	if (read_msg_id(rq, &id) == -1)
		return NULL;
	if ((m = store_msg_get(rq->chat, id)) == NULL) {
		rq_err(rq, 400, "Bad Request: message to edit not found");
		return NULL;
	}
	if (!m->from_bot) {
		rq_err(rq, 400, "Bad Request: message can't be edited");
		return NULL;
	}
	return m;
}

static int
same_json(json_t *a, json_t *b)
{
	if (json_is_array(a) && json_array_size(a) == 0)
		a = NULL;
	if (json_is_array(b) && json_array_size(b) == 0)
		b = NULL;
	if (a == NULL || b == NULL)
		return a == b;
	return json_equal(a, b);
}

static void
m_edit_text(struct rq *rq)
{
	json_t *ents, *markup, *o;
	struct msg *m;
	char *text;

	if ((m = edit_target(rq)) == NULL)
		return;
	o = m->obj;
	if (json_object_get(o, "text") == NULL) {
		rq_err(rq, 400, "Bad Request: there is no text in the message "
		    "to edit");
		return;
	}
	if (read_text(rq, "text", "entities", 1, &text, &ents) == -1)
		return;
	if (read_markup(rq, &markup) == -1) {
		free(text);
		json_decref(ents);
		return;
	}
	if (strcmp(json_string_value(json_object_get(o, "text")), text) == 0 &&
	    same_json(json_object_get(o, "entities"), ents) &&
	    same_json(json_object_get(o, "reply_markup"),
	    inline_markup(markup)))
		rq_err(rq, 400, NOT_MODIFIED);
	else {
		json_object_set_new(o, "text", json_string(text));
		msg_set(o, "entities", ents);
		msg_set(o, "reply_markup", inline_markup(markup));
		json_object_set_new(o, "edit_date", json_integer(time(NULL)));
		rq_ok(rq, json_incref(o));
	}
	free(text);
	json_decref(ents);
	json_decref(markup);
}

static void
m_edit_markup(struct rq *rq)
{
	json_t *markup, *o;
	struct msg *m;

	if ((m = edit_target(rq)) == NULL || read_markup(rq, &markup) == -1)
		return;
	o = m->obj;
	if (same_json(json_object_get(o, "reply_markup"),
	    inline_markup(markup)))
		rq_err(rq, 400, NOT_MODIFIED);
	else {
		msg_set(o, "reply_markup", inline_markup(markup));
		json_object_set_new(o, "edit_date", json_integer(time(NULL)));
		rq_ok(rq, json_incref(o));
	}
	json_decref(markup);
}

static void
m_delete(struct rq *rq)
{
	int64_t id;

	if (read_msg_id(rq, &id) == -1)
		return;
	if (store_msg_delete(rq->chat, id) == -1)
		rq_err(rq, 400, "Bad Request: message to delete not found");
	else
		rq_ok(rq, json_true());
}

static void
m_answer_cbq(struct rq *rq)
{
	const char *id = p_str(rq->params, "callback_query_id");
	const char *text = p_str(rq->params, "text");
	struct cbq *q;

	if (id == NULL || *id == '\0') {
		rq_err(rq, 400, "Bad Request: query_id is empty");
		return;
	}
	if ((q = store_cbq_find(rq->bot, id)) == NULL || q->answered) {
		rq_err(rq, 400, QUERY_INVALID);
		return;
	}
	if (text != NULL && text_utf16_len(text, strlen(text)) >
	    TG_CBANSWER_MAX) {
		rq_err(rq, 400, "Bad Request: MESSAGE_TOO_LONG");
		return;
	}
	q->answered = 1;
	q->answer = json_deep_copy(rq->params);
	rq_ok(rq, json_true());
}

static void
m_send_dice(struct rq *rq)
{
	static const struct {
		const char	*emoji;
		int		 max;
	} dice[] = {
		{ "\xf0\x9f\x8e\xb2", 6 },	/* game die */
		{ "\xf0\x9f\x8e\xaf", 6 },	/* direct hit */
		{ "\xf0\x9f\x8e\xb3", 6 },	/* bowling */
		{ "\xf0\x9f\x8f\x80", 5 },	/* basketball */
		{ "\xe2\x9a\xbd", 5 },		/* soccer ball */
		{ "\xf0\x9f\x8e\xb0", 64 },	/* slot machine */
	};
	const char *e = p_str(rq->params, "emoji");
	json_t *obj, *markup;
	size_t i;

	if (e == NULL || *e == '\0')
		e = dice[0].emoji;
	for (i = 0; i < BC_NELEM(dice) && strcmp(e, dice[i].emoji) != 0; i++)
		;
	if (i == BC_NELEM(dice)) {
		rq_err(rq, 400, "Bad Request: DICE_EMOJI_INVALID");
		return;
	}
	if (read_markup(rq, &markup) == -1)
		return;
	obj = msg_new(rq);
	json_object_set_new(obj, "dice", json_pack("{ss si}", "emoji", e,
	    "value", 1 + (int)(fake_random() % (uint64_t)dice[i].max)));
	msg_send(rq, obj, markup);
}

/* The File-like object for an uploaded or referenced file. */
static json_t *
file_obj(struct rq *rq, json_t *v, const char *kind)
{
	const char *s = json_string_value(v);
	json_t *o;
	uint64_t n = ++rq->bot->file_seq;
	char *id, uid[32];

	if (s != NULL && strncmp(s, "http://", 7) != 0 &&
	    strncmp(s, "https://", 8) != 0)
		id = xstrdup(s);
	else
		xasprintf(&id, "fake-%s-%" PRId64 "-%" PRIu64, kind,
		    rq->bot->id, n);
	snprintf(uid, sizeof(uid), "u%" PRIu64, n);
	o = json_pack("{ss ss}", "file_id", id, "file_unique_id", uid);
	free(id);
	if (p_is_upload(v)) {
		json_object_set(o, "file_size", json_object_get(v, "size"));
		if (strcmp(kind, "photo") != 0)
			json_object_set(o, "file_name",
			    json_object_get(v, "filename"));
	}
	return o;
}

static json_t *
file_media(json_t *f, const char *kind)
{
	json_t *big;

	if (strcmp(kind, "photo") == 0) {
		big = json_deep_copy(f);
		json_object_set_new(f, "file_id", json_sprintf("%s-s",
		    json_string_value(json_object_get(f, "file_id"))));
		json_object_set_new(f, "width", json_integer(90));
		json_object_set_new(f, "height", json_integer(67));
		json_object_set_new(big, "width", json_integer(1280));
		json_object_set_new(big, "height", json_integer(960));
		return json_pack("[oo]", f, big);
	}
	if (strcmp(kind, "audio") == 0)
		json_object_set_new(f, "duration", json_integer(0));
	return f;
}

static void
send_file(struct rq *rq, const char *kind)
{
	json_t *v = json_object_get(rq->params, kind), *obj, *ents, *markup;
	char *caption;

	if (v == NULL || (json_is_string(v) && *json_string_value(v) == '\0')) {
		rq_errf(rq, 400, "Bad Request: there is no %s in the request",
		    kind);
		return;
	}
	if (!json_is_string(v) && !p_is_upload(v)) {
		rq_err(rq, 400, "Bad Request: wrong file identifier/HTTP URL "
		    "specified");
		return;
	}
	if (read_text(rq, "caption", "caption_entities", 0, &caption,
	    &ents) == -1)
		return;
	if (read_markup(rq, &markup) == -1) {
		free(caption);
		json_decref(ents);
		return;
	}
	obj = msg_new(rq);
	json_object_set_new(obj, kind, file_media(file_obj(rq, v, kind),
	    kind));
	if (caption != NULL)
		json_object_set_new(obj, "caption", json_string(caption));
	msg_set(obj, "caption_entities", ents);
	free(caption);
	json_decref(ents);
	msg_send(rq, obj, markup);
}

static void
m_send_photo(struct rq *rq)
{
	send_file(rq, "photo");
}

static void
m_send_audio(struct rq *rq)
{
	send_file(rq, "audio");
}

static void
m_send_document(struct rq *rq)
{
	send_file(rq, "document");
}

static void
m_pin(struct rq *rq)
{
	int64_t id;

	if (read_msg_id(rq, &id) == -1)
		return;
	if (store_msg_get(rq->chat, id) == NULL) {
		rq_err(rq, 400, "Bad Request: message to pin not found");
		return;
	}
	rq->chat->pinned = id;
	rq_ok(rq, json_true());
}

static void
m_unpin(struct rq *rq)
{
	int64_t id = 0;

	if (p_i64(rq->params, "message_id", &id) == -1) {
		rq_err(rq, 400, "Bad Request: wrong message identifier "
		    "specified");
		return;
	}
	if (id != 0 && store_msg_get(rq->chat, id) == NULL) {
		rq_err(rq, 400, "Bad Request: message to unpin not found");
		return;
	}
	if (id == 0 || id == rq->chat->pinned)
		rq->chat->pinned = 0;
	rq_ok(rq, json_true());
}

static void
m_get_chat(struct rq *rq)
{
	json_t *o = json_deep_copy(rq->chat->obj);
	struct msg *m;

	if ((m = store_msg_get(rq->chat, rq->chat->pinned)) != NULL)
		json_object_set(o, "pinned_message", m->obj);
	rq_ok(rq, o);
}

static void
m_chat_action(struct rq *rq)
{
	const char *a = p_str(rq->params, "action");

	if (a == NULL || *a == '\0') {
		rq_err(rq, 400, "Bad Request: action is empty");
		return;
	}
	rq_ok(rq, json_true());
}

/* "scope|language_code", the key of one command list. Caller frees. */
static char *
commands_key(struct rq *rq)
{
	const char *lang = p_str(rq->params, "language_code");
	json_t *scope;
	char *s, *key;
	int bad;

	scope = p_json(rq->params, "scope", &bad);
	s = scope != NULL ? json_dumps(scope, JSON_COMPACT | JSON_SORT_KEYS) :
	    NULL;
	xasprintf(&key, "%s|%s", s != NULL ? s : "{\"type\":\"default\"}",
	    lang != NULL ? lang : "");
	free(s);
	json_decref(scope);
	return key;
}

/* Check one BotCommand; NULL if fine, else the description. */
static const char *
command_check(json_t *c)
{
	const char *cmd = json_string_value(json_object_get(c, "command"));
	const char *desc = json_string_value(json_object_get(c,
	    "description"));
	size_t n;

	if (cmd == NULL || desc == NULL)
		return "Bad Request: can't parse BotCommand";
	n = strlen(cmd);
	if (n < 1 || n > 32 ||
	    strspn(cmd, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return "Bad Request: BOT_COMMAND_INVALID";
	if (*desc == '\0')
		return "Bad Request: command description is empty";
	if (text_utf16_len(desc, strlen(desc)) > 256)
		return "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID";
	return NULL;
}

static void
m_set_commands(struct rq *rq)
{
	json_t *cmds, *c, *out;
	const char *err = NULL;
	char *key;
	size_t i;
	int bad;

	cmds = p_json(rq->params, "commands", &bad);
	if (cmds == NULL || !json_is_array(cmds))
		err = "Bad Request: can't parse commands JSON object";
	else if (json_array_size(cmds) > 100)
		err = "Bad Request: too many commands specified";
	json_array_foreach(cmds, i, c)
		if (err == NULL)
			err = command_check(c);
	if (err != NULL) {
		json_decref(cmds);
		rq_err(rq, 400, err);
		return;
	}
	out = json_array();
	json_array_foreach(cmds, i, c)
		json_array_append_new(out, json_pack("{sO sO}", "command",
		    json_object_get(c, "command"), "description",
		    json_object_get(c, "description")));
	json_decref(cmds);
	key = commands_key(rq);
	json_object_set_new(rq->bot->commands, key, out);
	free(key);
	rq_ok(rq, json_true());
}

static void
m_get_commands(struct rq *rq)
{
	char *key = commands_key(rq);
	json_t *c = json_object_get(rq->bot->commands, key);

	free(key);
	rq_ok(rq, c != NULL ? json_deep_copy(c) : json_array());
}

static void
m_delete_commands(struct rq *rq)
{
	char *key = commands_key(rq);

	json_object_del(rq->bot->commands, key);
	free(key);
	rq_ok(rq, json_true());
}

static const struct method methods[] = {
	{ "getMe", m_get_me, 0 },
	{ "getUpdates", upd_get_updates, 0 },
	{ "setWebhook", upd_set_webhook, 0 },
	{ "deleteWebhook", upd_delete_webhook, 0 },
	{ "getWebhookInfo", upd_webhook_info, 0 },
	{ "sendMessage", m_send_message, M_CHAT | M_LIMIT },
	{ "editMessageText", m_edit_text, M_CHAT | M_LIMIT },
	{ "editMessageReplyMarkup", m_edit_markup, M_CHAT | M_LIMIT },
	{ "deleteMessage", m_delete, M_CHAT | M_LIMIT },
	{ "answerCallbackQuery", m_answer_cbq, 0 },
	{ "sendDice", m_send_dice, M_CHAT | M_LIMIT },
	{ "sendPhoto", m_send_photo, M_CHAT | M_LIMIT },
	{ "sendAudio", m_send_audio, M_CHAT | M_LIMIT },
	{ "sendDocument", m_send_document, M_CHAT | M_LIMIT },
	{ "pinChatMessage", m_pin, M_CHAT | M_LIMIT },
	{ "unpinChatMessage", m_unpin, M_CHAT | M_LIMIT },
	{ "getChat", m_get_chat, M_CHAT | M_KNOWN },
	{ "sendChatAction", m_chat_action, M_CHAT },
	{ "setMyCommands", m_set_commands, 0 },
	{ "getMyCommands", m_get_commands, 0 },
	{ "deleteMyCommands", m_delete_commands, 0 },
};

/* ------------------------------------------------------------ dispatch */

const char *
api_method_name(const struct method *m)
{
	return m->name;
}

static const struct method *
method_find(const char *name)
{
	size_t i;

	for (i = 0; i < BC_NELEM(methods); i++)
		if (strcasecmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

static const char *
blocked_desc(const struct chat *c)
{
	const char *type = json_string_value(json_object_get(c->obj, "type"));

	if (type == NULL || strcmp(type, "private") == 0)
		return "Forbidden: bot was blocked by the user";
	if (strcmp(type, "group") == 0)
		return "Forbidden: bot was kicked from the group chat";
	if (strcmp(type, "supergroup") == 0)
		return "Forbidden: bot was kicked from the supergroup chat";
	return "Forbidden: bot is not a member of the channel chat";
}

/* Resolve chat_id into rq->chat. -1 after answering with the error. */
static int
chat_check(struct rq *rq)
{
	struct chat *c;
	int64_t id;

	switch (p_i64(rq->params, "chat_id", &id)) {
	case 0:
		rq_err(rq, 400, "Bad Request: chat_id is empty");
		return -1;
	case -1:
		rq_err(rq, 400, "Bad Request: chat not found");
		return -1;
	}
	if ((c = store_chat_get(rq->bot, id)) != NULL && c->migrate_to != 0) {
		rq_err_params(rq, 400, "Bad Request: group chat was upgraded "
		    "to a supergroup chat", json_pack("{sI}",
		    "migrate_to_chat_id", (json_int_t)c->migrate_to));
		return -1;
	}
	if (c != NULL && c->blocked) {
		rq_err(rq, 403, blocked_desc(c));
		return -1;
	}
	if (c == NULL && (F.strict_chats || (rq->m->flags & M_KNOWN))) {
		rq_err(rq, 400, "Bad Request: chat not found");
		return -1;
	}
	rq->chat = store_chat_ensure(rq->bot, id, NULL);
	return 0;
}

/* 429 with parameters.retry_after; desc NULL: Telegram's text. */
static void
too_many(struct rq *rq, int retry, const char *desc)
{
	char *d = NULL;

	if (desc == NULL)
		xasprintf(&d, "Too Many Requests: retry after %d", retry);
	rq_err_params(rq, 429, desc != NULL ? desc : d, json_pack("{si}",
	    "retry_after", retry));
	free(d);
}

/* Token, method, chat, rate limits; then the method itself. */
void
api_run(struct rq *rq)
{
	int retry;

	if (!fake_token_valid(rq->token) || rq->m == NULL)
		rq_err(rq, 404, "Not Found");
	else if (rq->bot == NULL)
		rq_err(rq, 401, "Unauthorized");
	else if ((rq->m->flags & M_CHAT) && chat_check(rq) == -1)
		return;
	else if ((rq->m->flags & M_LIMIT) &&
	    limits_check(rq->bot, rq->chat, &retry) == -1)
		too_many(rq, retry, NULL);
	else
		rq->m->fn(rq);
}

/* Answer with the injected error: Telegram's JSON or a proxy's HTML. */
static void
fault_reply(struct rq *rq)
{
	struct fault_action *a = &rq->fault;
	const char *r = fake_reason(a->status);
	char *html;

	if (a->html) {
		xasprintf(&html, "<html>\r\n<head><title>%d %s</title></head>"
		    "\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr>"
		    "<center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n",
		    a->status, r, a->status, r);
		rq_reply_raw(rq, a->status, "text/html", html, strlen(html),
		    "injected fault (html)");
		free(html);
		return;
	}
	if (a->status == 429) {
		too_many(rq, a->retry_after > 0 ? a->retry_after : 1, a->desc);
		return;
	}
	rq_err(rq, a->status, a->desc != NULL ? a->desc : r);
}

static void
after_delay(struct rq *rq)
{
	if (rq->fault.drop)
		rq_drop(rq);
	else if (rq->fault.status != 0)
		fault_reply(rq);
	else
		api_run(rq);
}

/* A request for /bot<rest>: record it, apply faults, run it. */
void
api_handle(struct rq *rq, const char *rest)
{
	const char *slash = strchr(rest, '/');
	char *cause = NULL, *tok;
	json_t *params;

	if (slash == NULL || strchr(slash + 1, '/') != NULL) {
		rq_err(rq, 404, "Not Found");
		return;
	}
	tok = xstrndup(rest, (size_t)(slash - rest));
	rq->token = fake_utf8_clean(tok);
	free(tok);
	rq->m = method_find(slash + 1);
	rq->mname = rq->m != NULL ? xstrdup(rq->m->name) :
	    fake_utf8_clean(slash + 1);
	rq->bot = store_bot_find(rq->token);
	params = params_parse(rq->req, &cause);
	rq->params = params != NULL ? params : json_object();
	call_start(rq, 0);
	if (params == NULL) {
		rq_err(rq, 400, cause);
		free(cause);
		return;
	}
	if (!faults_match(rq->token, rq->mname, &rq->fault)) {
		api_run(rq);
		return;
	}
	F.st.faults++;
	if (rq->bot != NULL)
		rq->bot->st.faults++;
	if (rq->fault.delay_ms > 0 || rq->fault.drop)
		rq_hold(rq, rq->fault.delay_ms, after_delay, NULL);
	else
		fault_reply(rq);
}

/*
 * A method call in a webhook reply ({"method":..., params}, borrowed):
 * run it on the next loop turn, recorded like any call.
 */
void
api_internal(struct bot *bot, json_t *call)
{
	const char *name = json_string_value(json_object_get(call, "method"));
	struct rq *rq;

	rq = rq_new(NULL);
	rq->bot = bot;
	rq->token = xstrdup(bot->token);
	rq->m = method_find(name);
	rq->mname = xstrdup(rq->m != NULL ? rq->m->name : name);
	rq->params = json_deep_copy(call);
	json_object_del(rq->params, "method");
	call_start(rq, 1);
	rq_hold(rq, 0, api_run, NULL);
}
