/* Typed helpers for the Bot API methods the bots use, on tg_enqueue(). */

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/log.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "tg-internal.h"

#define TG_ELLIPSIS	"\xe2\x80\xa6"	/* U+2026, one unit */

/* A JSON string for s, or NULL when s is not valid UTF-8. */
static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : NULL;
}

/* {"chat_id": chat} plus markup (stolen) when not NULL. */
static json_t *
chat_params(int64_t chat_id, json_t *markup)
{
	json_t *p = json_object();

	if (p == NULL)
		abort();
	json_object_set_new(p, "chat_id", json_integer(chat_id));
	if (markup != NULL)
		json_object_set_new(p, "reply_markup", markup);
	return p;
}

/* Add key: s (copied) to p. 0, or -1 (p freed) when s is not UTF-8. */
static int
add_str(json_t *p, const char *key, const char *s)
{
	json_t *v = str_or_null(s);

	if (v == NULL) {
		log_kv(LOG_LEVEL_WARN, "telegram call refused", "reason",
		    "text is not valid UTF-8", "field", key, NULL);
		json_decref(p);
		return -1;
	}
	json_object_set_new(p, key, v);
	return 0;
}

/* 1 when s is valid UTF-8, else 0. */
static int
utf8_valid(const char *s)
{
	size_t n = strlen(s), i = 0, l;

	while (i < n) {
		if ((l = bc_utf8_seqlen((const unsigned char *)s + i,
		    n - i)) == 0)
			return 0;
		i += l;
	}
	return 1;
}

int
bc_tg_send_text(struct bc_tg *tg, int64_t chat_id, const char *text,
    int flags, json_t *reply_markup, bc_tg_cb *cb, void *arg)
{
	struct tg_multi *m;
	char **chunks = NULL;
	size_t n = 0, i;
	json_t *p;

	if (text != NULL && utf8_valid(text))
		n = (flags & BC_TG_HTML) ? bc_tg_split_html(text, 0, &chunks) :
		    bc_tg_split(text, 0, &chunks);
	if (n == 0 || tg->fatal) {
		log_kv(LOG_LEVEL_WARN, "telegram call refused", "method",
		    "sendMessage", "reason", tg->fatal ? "client stopped" :
		    "empty text or not valid UTF-8", NULL);
		json_decref(reply_markup);
		bc_tg_split_free(chunks, n);
		return -1;
	}
	m = xcalloc(1, sizeof(*m));
	m->cb = cb;
	m->arg = arg;
	m->refs = (int)n;
	/* Valid UTF-8 and a live client: none of these can be refused. */
	for (i = 0; i < n; i++) {
		p = chat_params(chat_id, i + 1 == n ? reply_markup : NULL);
		json_object_set_new(p, "text", json_string(chunks[i]));
		tg_enqueue(tg, "sendMessage", p, flags, NULL, NULL, m,
		    i + 1 == n, NULL, NULL);
	}
	bc_tg_split_free(chunks, n);
	return 0;
}

/* text cut to max units with an ellipsis when longer. Caller frees. */
static char *
cut_text(const char *text, size_t max)
{
	char **chunks;
	size_t n;
	char *out;

	if (bc_tg_utf16_len(text, strlen(text)) <= max)
		return xstrdup(text);
	n = bc_tg_split(text, max - 1, &chunks);
	xasprintf(&out, "%s%s", n > 0 ? chunks[0] : "", TG_ELLIPSIS);
	bc_tg_split_free(chunks, n);
	return out;
}

int
bc_tg_edit_text(struct bc_tg *tg, int64_t chat_id, int64_t message_id,
    const char *text, int flags, json_t *reply_markup, bc_tg_cb *cb,
    void *arg)
{
	json_t *p = chat_params(chat_id, reply_markup);
	char *t;
	int rc;

	json_object_set_new(p, "message_id", json_integer(message_id));
	t = cut_text(text != NULL ? text : "", BC_TG_TEXT_MAX);
	rc = add_str(p, "text", t);
	free(t);
	if (rc == -1)
		return -1;
	return tg_enqueue(tg, "editMessageText", p, flags, NULL, NULL, NULL,
	    0, cb, arg);
}

int
bc_tg_edit_markup(struct bc_tg *tg, int64_t chat_id, int64_t message_id,
    json_t *reply_markup, bc_tg_cb *cb, void *arg)
{
	json_t *p = chat_params(chat_id, reply_markup);

	json_object_set_new(p, "message_id", json_integer(message_id));
	return tg_enqueue(tg, "editMessageReplyMarkup", p, 0, NULL, NULL,
	    NULL, 0, cb, arg);
}

int
bc_tg_delete_message(struct bc_tg *tg, int64_t chat_id, int64_t message_id,
    bc_tg_cb *cb, void *arg)
{
	json_t *p = chat_params(chat_id, NULL);

	json_object_set_new(p, "message_id", json_integer(message_id));
	return tg_enqueue(tg, "deleteMessage", p, 0, NULL, NULL, NULL, 0, cb,
	    arg);
}

int
bc_tg_answer_callback(struct bc_tg *tg, const char *callback_id,
    const char *text, int show_alert, bc_tg_cb *cb, void *arg)
{
	json_t *p = json_object();

	if (callback_id == NULL || add_str(p, "callback_query_id",
	    callback_id) == -1) {
		if (callback_id == NULL)
			json_decref(p);
		return -1;
	}
	if (text != NULL && add_str(p, "text", text) == -1)
		return -1;
	if (show_alert)
		json_object_set_new(p, "show_alert", json_true());
	return tg_enqueue(tg, "answerCallbackQuery", p, 0, NULL, NULL, NULL, 0,
	    cb, arg);
}

int
bc_tg_send_dice(struct bc_tg *tg, int64_t chat_id, const char *emoji,
    int flags, bc_tg_cb *cb, void *arg)
{
	json_t *p = chat_params(chat_id, NULL);

	if (emoji != NULL && add_str(p, "emoji", emoji) == -1)
		return -1;
	return tg_enqueue(tg, "sendDice", p, flags, NULL, NULL, NULL, 0, cb,
	    arg);
}

static const struct {
	const char	*method;
	const char	*field;
} media[] = {
	{ "sendPhoto", "photo" },
	{ "sendDocument", "document" },
	{ "sendAudio", "audio" },
};

/* The common parameters of a media send; NULL (markup freed) on bad
 * input. */
static json_t *
media_params(enum bc_tg_media kind, int64_t chat_id, const char *caption,
    json_t *markup)
{
	json_t *p;

	if ((size_t)kind >= sizeof(media) / sizeof(media[0]) ||
	    (caption != NULL && bc_tg_utf16_len(caption, strlen(caption)) >
	    BC_TG_CAPTION_MAX)) {
		log_kv(LOG_LEVEL_WARN, "telegram call refused", "reason",
		    "unknown media kind or caption over 1024 characters",
		    NULL);
		json_decref(markup);
		return NULL;
	}
	p = chat_params(chat_id, markup);
	if (caption != NULL && add_str(p, "caption", caption) == -1)
		return NULL;
	return p;
}

int
bc_tg_send_media(struct bc_tg *tg, enum bc_tg_media kind, int64_t chat_id,
    const char *file, const char *caption, int flags, json_t *reply_markup,
    bc_tg_cb *cb, void *arg)
{
	json_t *p;

	if (file == NULL || *file == '\0') {
		json_decref(reply_markup);
		return -1;
	}
	if ((p = media_params(kind, chat_id, caption, reply_markup)) == NULL)
		return -1;
	if (add_str(p, media[kind].field, file) == -1)
		return -1;
	return tg_enqueue(tg, media[kind].method, p, flags, NULL, NULL, NULL,
	    0, cb, arg);
}

int
bc_tg_upload_media(struct bc_tg *tg, enum bc_tg_media kind, int64_t chat_id,
    const void *data, size_t len, const char *filename, const char *caption,
    int flags, json_t *reply_markup, bc_tg_cb *cb, void *arg)
{
	json_t *p;

	if ((p = media_params(kind, chat_id, caption, reply_markup)) == NULL)
		return -1;
	return bc_tg_call_upload(tg, media[kind].method, p, media[kind].field,
	    data, len, filename, flags, cb, arg);
}

/* Keep the bot's identity from a getMe result. */
static void
me_hook(struct bc_tg *tg, const struct bc_tg_result *r)
{
	const json_t *id, *user;

	if (!r->ok)
		return;
	id = json_object_get(r->result, "id");
	user = json_object_get(r->result, "username");
	if (!json_is_integer(id))
		return;
	tg->me_id = (int64_t)json_integer_value(id);
	free(tg->me_username);
	tg->me_username = json_is_string(user) ?
	    xstrdup(json_string_value(user)) : NULL;
	log_kv(LOG_LEVEL_INFO, "telegram bot identified", "bot", tg->bot_id,
	    "username", tg->me_username != NULL ? tg->me_username : "",
	    NULL);
}

int
bc_tg_get_me(struct bc_tg *tg, bc_tg_cb *cb, void *arg)
{
	return tg_enqueue(tg, "getMe", NULL, 0, NULL, me_hook, NULL, 0, cb,
	    arg);
}
