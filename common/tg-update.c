/*
 * Parsing Telegram Update objects into the structs of tg.h. Ids are read
 * with json_integer_value() (64 bits); anything of the wrong JSON type is
 * treated as absent, except what an update cannot do without.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

static const char *type_names[] = {
	"other", "message", "edited_message", "callback_query",
	"my_chat_member", "chat_member",
};

const char *
bc_tg_update_type_name(enum bc_tg_update_type t)
{
	if ((size_t)t >= BC_NELEM(type_names))
		return "other";
	return type_names[t];
}

/* The integer at key, or 0 when absent or not an integer. */
static int64_t
jint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

/* The string at key (borrowed), or NULL when absent or not a string. */
static const char *
jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void
parse_user(const json_t *o, struct bc_tg_user *u)
{
	const char *s;

	memset(u, 0, sizeof(*u));
	u->first_name = "";
	if (!json_is_object(o))
		return;
	u->id = jint(o, "id");
	u->is_bot = json_is_true(json_object_get(o, "is_bot"));
	if ((s = jstr(o, "first_name")) != NULL)
		u->first_name = s;
	u->last_name = jstr(o, "last_name");
	u->username = jstr(o, "username");
	u->language_code = jstr(o, "language_code");
}

/* 0, or -1 when o is not a chat with an integer id. */
static int
parse_chat(const json_t *o, struct bc_tg_chat *c)
{
	const char *s;

	memset(c, 0, sizeof(*c));
	c->type = "";
	if (!json_is_object(o) || !json_is_integer(json_object_get(o, "id")))
		return -1;
	c->id = jint(o, "id");
	if ((s = jstr(o, "type")) != NULL)
		c->type = s;
	c->title = jstr(o, "title");
	c->username = jstr(o, "username");
	return 0;
}

/* Bytes of text taken by its first units UTF-16 units. */
static size_t
units_to_bytes(const char *text, size_t len, int64_t units)
{
	size_t i = 0, l;

	while (i < len && units > 0) {
		l = bc_utf8_seqlen((const unsigned char *)text + i, len - i);
		if (l == 0)
			l = 1;
		units -= l == 4 ? 2 : 1;
		i += l;
	}
	return i;
}

/* The length of a bot_command entity at offset 0, or 0. */
static int64_t
command_entity(const json_t *m)
{
	const json_t *ents = json_object_get(m, "entities"), *e;
	size_t i;

	json_array_foreach(ents, i, e) {
		if (!json_is_object(e))
			continue;
		if (json_is_string(json_object_get(e, "type")) &&
		    strcmp(jstr(e, "type"), "bot_command") == 0 &&
		    json_is_integer(json_object_get(e, "offset")) &&
		    jint(e, "offset") == 0)
			return jint(e, "length");
	}
	return 0;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* "/cmd@bot args" into command, command_bot and args (in u->strbuf). */
static void
parse_command(struct bc_tg_update *u, struct bc_tg_message *msg,
    const json_t *m)
{
	const char *t = msg->text, *at, *a, *z;
	size_t len, end, clen;
	int64_t units;
	char *p;

	if (t == NULL || t[0] != '/' || (units = command_entity(m)) < 2)
		return;
	len = strlen(t);
	end = units_to_bytes(t, len, units);
	if (end < 2)
		return;
	free(u->strbuf);
	p = u->strbuf = xmalloc(len + 3);
	clen = end - 1;
	if ((at = memchr(t + 1, '@', clen)) != NULL)
		clen = (size_t)(at - t - 1);
	memcpy(p, t + 1, clen);
	p[clen] = '\0';
	msg->command = p;
	p += clen + 1;
	if (at != NULL) {
		memcpy(p, at + 1, end - (size_t)(at + 1 - t));
		p[end - (size_t)(at + 1 - t)] = '\0';
		msg->command_bot = p;
		p += strlen(p) + 1;
	}
	for (a = t + end; is_space(*a); a++)
		;
	for (z = t + len; z > a && is_space(z[-1]); z--)
		;
	memcpy(p, a, (size_t)(z - a));
	p[z - a] = '\0';
	msg->args = p;
}

/* The file_id of the last (largest) photo size, or NULL. */
static const char *
largest_photo(const json_t *m)
{
	const json_t *ph = json_object_get(m, "photo");
	size_t n = json_array_size(ph);

	if (n == 0)
		return NULL;
	return jstr(json_array_get(ph, n - 1), "file_id");
}

static int
parse_message(struct bc_tg_update *u, const json_t *m,
    struct bc_tg_message *msg, char **cause)
{
	const json_t *r;

	memset(msg, 0, sizeof(*msg));
	msg->from.first_name = "";
	msg->chat.type = "";
	if (!json_is_object(m)) {
		*cause = xstrdup("message is not an object");
		return -1;
	}
	if (parse_chat(json_object_get(m, "chat"), &msg->chat) == -1) {
		*cause = xstrdup("message without a valid chat");
		return -1;
	}
	msg->message_id = jint(m, "message_id");
	msg->date = jint(m, "date");
	parse_user(json_object_get(m, "from"), &msg->from);
	msg->text = jstr(m, "text");
	msg->caption = jstr(m, "caption");
	if (json_is_object(r = json_object_get(m, "reply_to_message"))) {
		msg->reply_to_message_id = jint(r, "message_id");
		msg->reply_to_from_id = jint(json_object_get(r, "from"), "id");
	}
	msg->web_app_data = jstr(json_object_get(m, "web_app_data"), "data");
	msg->photo_file_id = largest_photo(m);
	msg->migrate_to_chat_id = jint(m, "migrate_to_chat_id");
	parse_command(u, msg, m);
	return 0;
}

static int
parse_callback(struct bc_tg_update *u, const json_t *o, char **cause)
{
	struct bc_tg_callback *cb = &u->callback;
	const json_t *m;
	char *ignored = NULL;
	const char *s;

	cb->data = "";
	if (!json_is_object(o) || (cb->id = jstr(o, "id")) == NULL) {
		*cause = xstrdup("callback_query without an id");
		return -1;
	}
	parse_user(json_object_get(o, "from"), &cb->from);
	if (cb->from.id == 0) {
		*cause = xstrdup("callback_query without a sender");
		return -1;
	}
	if ((s = jstr(o, "data")) != NULL)
		cb->data = s;
	cb->inline_message_id = jstr(o, "inline_message_id");
	if ((m = json_object_get(o, "message")) != NULL) {
		if (parse_message(u, m, &cb->message, &ignored) == 0)
			cb->has_message = 1;
		free(ignored);
	}
	return 0;
}

static int
parse_member(struct bc_tg_update *u, const json_t *o, char **cause)
{
	struct bc_tg_member *mb = &u->member;
	const json_t *nm;

	mb->new_status = "";
	parse_user(NULL, &mb->from);
	parse_user(NULL, &mb->member);
	if (!json_is_object(o) ||
	    parse_chat(json_object_get(o, "chat"), &mb->chat) == -1) {
		*cause = xstrdup("chat member update without a valid chat");
		return -1;
	}
	nm = json_object_get(o, "new_chat_member");
	if ((mb->new_status = jstr(nm, "status")) == NULL) {
		mb->new_status = "";
		*cause = xstrdup("chat member update without a new status");
		return -1;
	}
	parse_user(json_object_get(o, "from"), &mb->from);
	parse_user(json_object_get(nm, "user"), &mb->member);
	mb->old_status = jstr(json_object_get(o, "old_chat_member"),
	    "status");
	mb->date = jint(o, "date");
	return 0;
}

/* Which known type the update is, and its object. */
static enum bc_tg_update_type
update_type(const json_t *j, const json_t **obj)
{
	enum bc_tg_update_type t;

	for (t = BC_TG_UPDATE_MESSAGE; t <= BC_TG_UPDATE_CHAT_MEMBER; t++) {
		if ((*obj = json_object_get(j, type_names[t])) != NULL)
			return t;
	}
	*obj = NULL;
	return BC_TG_UPDATE_OTHER;
}

int
bc_tg_update_parse(json_t *j, struct bc_tg_update *u, char **cause)
{
	const json_t *id, *o;

	memset(u, 0, sizeof(*u));
	u->update_id = -1;
	u->raw = j;
	if (!json_is_object(j)) {
		*cause = xstrdup("update is not a JSON object");
		return -1;
	}
	id = json_object_get(j, "update_id");
	if (!json_is_integer(id) || json_integer_value(id) < 0) {
		*cause = xstrdup("update without a valid update_id");
		return -1;
	}
	u->update_id = (int64_t)json_integer_value(id);
	switch ((u->type = update_type(j, &o))) {
	case BC_TG_UPDATE_MESSAGE:
	case BC_TG_UPDATE_EDITED_MESSAGE:
		return parse_message(u, o, &u->message, cause);
	case BC_TG_UPDATE_CALLBACK_QUERY:
		return parse_callback(u, o, cause);
	case BC_TG_UPDATE_MY_CHAT_MEMBER:
	case BC_TG_UPDATE_CHAT_MEMBER:
		return parse_member(u, o, cause);
	default:
		return 0;
	}
}

void
bc_tg_update_release(struct bc_tg_update *u)
{
	if (u == NULL)
		return;
	free(u->strbuf);
	u->strbuf = NULL;
}

int64_t
bc_tg_update_chat_id(const struct bc_tg_update *u)
{
	switch (u->type) {
	case BC_TG_UPDATE_MESSAGE:
	case BC_TG_UPDATE_EDITED_MESSAGE:
		return u->message.chat.id;
	case BC_TG_UPDATE_CALLBACK_QUERY:
		return u->callback.has_message ?
		    u->callback.message.chat.id : 0;
	case BC_TG_UPDATE_MY_CHAT_MEMBER:
	case BC_TG_UPDATE_CHAT_MEMBER:
		return u->member.chat.id;
	default:
		return 0;
	}
}

int64_t
bc_tg_update_user_id(const struct bc_tg_update *u)
{
	switch (u->type) {
	case BC_TG_UPDATE_MESSAGE:
	case BC_TG_UPDATE_EDITED_MESSAGE:
		return u->message.from.id;
	case BC_TG_UPDATE_CALLBACK_QUERY:
		return u->callback.from.id;
	case BC_TG_UPDATE_MY_CHAT_MEMBER:
	case BC_TG_UPDATE_CHAT_MEMBER:
		return u->member.from.id;
	default:
		return 0;
	}
}
