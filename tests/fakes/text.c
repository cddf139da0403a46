/*
 * Text as Telegram measures and parses it: UTF-16 lengths, parse_mode HTML
 * (plain text plus entities, or the "can't parse entities" error), the
 * bot_command entities of a user's message, and reply_markup checks.
 */

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "tgfake.h"

#define HTML_DEPTH	32

/* Length in UTF-16 code units of valid UTF-8 (4-byte sequences count 2). */
int64_t
text_utf16_len(const char *s, size_t len)
{
	int64_t u = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			u++;
		if (((unsigned char)s[i] & 0xf8) == 0xf0)
			u++;
	}
	return u;
}

/* 1 if s has nothing but white space (Telegram trims it). */
int
text_blank(const char *s)
{
	for (; *s != '\0'; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

/* ------------------------------------------------------------ HTML */

struct html {
	const char	*s;
	size_t		 i;
	struct sbuf	 out;
	json_t		*ents;
	struct {
		char	 name[24];
		json_t	*ent;		/* borrowed, or NULL */
		int	 pre;
	}		 stack[HTML_DEPTH];
	int		 depth;
	char		*err;
	int64_t		 u16;
	size_t		 u16_bytes;
};

/* UTF-16 offset of the end of the output so far (computed lazily). */
static int64_t
html_pos(struct html *h)
{
	h->u16 += text_utf16_len(h->out.p + h->u16_bytes,
	    h->out.len - h->u16_bytes);
	h->u16_bytes = h->out.len;
	return h->u16;
}

static void
html_utf8(struct sbuf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	sbuf_add(b, u, n);
}

/* Decode the character reference at s ('&'); 0 if it is not one. */
static size_t
html_entity(const char *s, struct sbuf *b)
{
	static const struct {
		const char	*name;
		char		 c;
	} named[] = {
		{ "&lt;", '<' }, { "&gt;", '>' }, { "&amp;", '&' },
		{ "&quot;", '"' },
	};
	unsigned long cp;
	char *end;
	size_t i;

	for (i = 0; i < BC_NELEM(named); i++)
		if (strncmp(s, named[i].name, strlen(named[i].name)) == 0) {
			sbuf_add(b, &named[i].c, 1);
			return strlen(named[i].name);
		}
	if (s[1] != '#')
		return 0;
	if (s[2] == 'x' || s[2] == 'X')
		cp = isxdigit((unsigned char)s[3]) ?
		    strtoul(s + 3, &end, 16) : 0;
	else
		cp = isdigit((unsigned char)s[2]) ?
		    strtoul(s + 2, &end, 10) : 0;
	if (cp == 0 || *end != ';' || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	html_utf8(b, cp);
	return (size_t)(end - s) + 1;
}

static void __attribute__((format(printf, 2, 3)))
html_fail(struct html *h, const char *fmt, ...)
{
	va_list ap;
	char *m;

	if (h->err != NULL)
		return;
	va_start(ap, fmt);
	xvasprintf(&m, fmt, ap);
	va_end(ap);
	xasprintf(&h->err, "Bad Request: can't parse entities: %s", m);
	free(m);
}

/* Decode the character references of s; caller frees. */
static char *
html_unescape(const char *s)
{
	struct sbuf b = { NULL, 0, 0 };
	size_t n;

	sbuf_str(&b, "");
	while (*s != '\0') {
		if (*s == '&' && (n = html_entity(s, &b)) > 0)
			s += n;
		else
			sbuf_add(&b, s++, 1);
	}
	return b.p;
}

/* Attribute value of name in an attribute list, decoded; caller frees. */
static char *
html_attr(const char *p, const char *name)
{
	const char *v, *next;
	char *raw, *val, q;
	size_t n, k;

	for (;;) {
		p += strspn(p, " \t\r\n/");
		if (*p == '\0')
			return NULL;
		n = strcspn(p, "= \t\r\n");
		v = p + n;
		k = 0;
		next = v;
		if (*v == '=') {
			v++;
			if (*v == '"' || *v == '\'') {
				q = *v++;
				k = strcspn(v, q == '"' ? "\"" : "'");
				next = v + k + (v[k] != '\0');
			} else {
				k = strcspn(v, " \t\r\n");
				next = v + k;
			}
		}
		if (n == strlen(name) && strncasecmp(p, name, n) == 0)
			break;
		p = next;
	}
	raw = xstrndup(v, k);
	val = html_unescape(raw);
	free(raw);
	return val;
}

/* The entity type of a start tag, or NULL when unsupported. */
static json_t *
html_entity_for(struct html *h, const char *name, const char *attrs)
{
	static const struct {
		const char	*tag, *type;
	} simple[] = {
		{ "b", "bold" }, { "strong", "bold" }, { "i", "italic" },
		{ "em", "italic" }, { "u", "underline" },
		{ "ins", "underline" },
		{ "s", "strikethrough" }, { "strike", "strikethrough" },
		{ "del", "strikethrough" }, { "tg-spoiler", "spoiler" },
		{ "code", "code" }, { "pre", "pre" },
	};
	char *v;
	json_t *e;
	size_t i;

	for (i = 0; i < BC_NELEM(simple); i++)
		if (strcasecmp(name, simple[i].tag) == 0)
			return json_pack("{ss}", "type", simple[i].type);
	if (strcasecmp(name, "span") == 0) {
		v = html_attr(attrs, "class");
		e = v != NULL && strcmp(v, "tg-spoiler") == 0 ?
		    json_pack("{ss}", "type", "spoiler") : NULL;
		free(v);
		if (e == NULL)
			html_fail(h, "Tag \"%s\" must have class "
			    "\"tg-spoiler\"", name);
		return e;
	}
	if (strcasecmp(name, "blockquote") == 0) {
		v = html_attr(attrs, "expandable");
		e = json_pack("{ss}", "type", v != NULL ?
		    "expandable_blockquote" : "blockquote");
		free(v);
		return e;
	}
	if (strcasecmp(name, "a") == 0) {
		if ((v = html_attr(attrs, "href")) == NULL)
			return json_pack("{ss}", "type", "");
		e = json_pack("{ss ss}", "type", "text_link", "url", v);
		free(v);
		return e;
	}
	if (strcasecmp(name, "tg-emoji") == 0) {
		if ((v = html_attr(attrs, "emoji-id")) == NULL) {
			html_fail(h, "Tag \"%s\" must have attribute "
			    "\"emoji-id\"", name);
			return NULL;
		}
		e = json_pack("{ss ss}", "type", "custom_emoji",
		    "custom_emoji_id", v);
		free(v);
		return e;
	}
	return NULL;
}

/* <pre><code class="language-x">: the language goes on the pre. */
static int
html_code_in_pre(struct html *h, const char *name, const char *attrs)
{
	json_t *pre;
	char *v;

	if (strcasecmp(name, "code") != 0 || h->depth == 0 ||
	    !h->stack[h->depth - 1].pre)
		return 0;
	pre = h->stack[h->depth - 1].ent;
	v = html_attr(attrs, "class");
	if (v != NULL && strncmp(v, "language-", 9) == 0 && v[9] != '\0' &&
	    pre != NULL)
		json_object_set_new(pre, "language", json_string(v + 9));
	free(v);
	return 1;
}

static void
html_start_tag(struct html *h, size_t at)
{
	const char *s = h->s;
	size_t i = at + 1, n, close;
	char name[24], where[32], *attrs;
	json_t *e = NULL;
	int nested;

	n = strspn(s + i, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
	snprintf(where, sizeof(where), " at byte offset %zu", at);
	bc_strlcpy(name, s + i, n + 1 < sizeof(name) ? n + 1 : sizeof(name));
	if (n == 0 || n >= sizeof(name)) {
		html_fail(h, "Unsupported start tag \"%s\"%s", name, where);
		return;
	}
	if ((close = strcspn(s + i + n, ">")) == strlen(s + i + n)) {
		html_fail(h, "Unclosed start tag%s", where);
		return;
	}
	attrs = xstrndup(s + i + n, close);
	h->i = i + n + close + 1;
	nested = html_code_in_pre(h, name, attrs);
	if (!nested && (e = html_entity_for(h, name, attrs)) == NULL)
		html_fail(h, "Unsupported start tag \"%s\"%s", name, where);
	free(attrs);
	if (h->err != NULL)
		return;
	if (h->depth == HTML_DEPTH) {
		json_decref(e);
		html_fail(h, "Too many nested tags%s", where);
		return;
	}
	bc_strlcpy(h->stack[h->depth].name, name, sizeof(h->stack[0].name));
	h->stack[h->depth].ent = e;
	h->stack[h->depth].pre = strcasecmp(name, "pre") == 0;
	if (e != NULL) {
		json_object_set_new(e, "offset", json_integer(html_pos(h)));
		json_array_append_new(h->ents, e);
	}
	h->depth++;
}

static void
html_end_tag(struct html *h, size_t at)
{
	const char *s = h->s;
	size_t i = at + 2, n;
	char name[24], where[32];
	json_t *e;
	int64_t off;

	n = strspn(s + i, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
	bc_strlcpy(name, s + i, n + 1 < sizeof(name) ? n + 1 : sizeof(name));
	snprintf(where, sizeof(where), " at byte offset %zu", at);
	i += n;
	i += strspn(s + i, " \t\r\n");
	if (s[i] != '>') {
		html_fail(h, "Unclosed end tag%s", where);
		return;
	}
	h->i = i + 1;
	if (h->depth == 0) {
		html_fail(h, "Unexpected end tag%s", where);
		return;
	}
	if (strcasecmp(name, h->stack[h->depth - 1].name) != 0) {
		html_fail(h, "Unmatched end tag%s, expected \"</%s>\", found "
		    "\"</%s>\"", where, h->stack[h->depth - 1].name, name);
		return;
	}
	h->depth--;
	if ((e = h->stack[h->depth].ent) != NULL) {
		off = json_integer_value(json_object_get(e, "offset"));
		json_object_set_new(e, "length",
		    json_integer(html_pos(h) - off));
	}
}

/* Drop empty entities and links without a URL. */
static void
html_prune(json_t *ents)
{
	size_t i = 0;
	json_t *e;

	while (i < json_array_size(ents)) {
		e = json_array_get(ents, i);
		if (json_integer_value(json_object_get(e, "length")) <= 0 ||
		    *json_string_value(json_object_get(e, "type")) == '\0')
			json_array_remove(ents, i);
		else
			i++;
	}
}

/*
 * Parse Telegram HTML s (valid UTF-8). On success *text gets the plain
 * text and *ents the entities (both owned by the caller) and 0 is
 * returned; on a parse error -1 with *cause the Telegram description.
 */
int
text_html_parse(const char *s, char **text, json_t **ents, char **cause)
{
	struct html h;
	size_t n;

	memset(&h, 0, sizeof(h));
	h.s = s;
	h.ents = json_array();
	sbuf_str(&h.out, "");
	while (s[h.i] != '\0' && h.err == NULL) {
		if (s[h.i] == '<' && s[h.i + 1] == '/')
			html_end_tag(&h, h.i);
		else if (s[h.i] == '<')
			html_start_tag(&h, h.i);
		else if (s[h.i] == '&' && (n = html_entity(s + h.i,
		    &h.out)) > 0)
			h.i += n;
		else
			sbuf_add(&h.out, s + h.i++, 1);
	}
	if (h.err == NULL && h.depth > 0)
		html_fail(&h, "Can't find end tag corresponding to start tag "
		    "\"%s\"", h.stack[h.depth - 1].name);
	if (h.err != NULL) {
		*cause = h.err;
		free(h.out.p);
		json_decref(h.ents);
		return -1;
	}
	html_prune(h.ents);
	*text = h.out.p;
	*ents = h.ents;
	return 0;
}

/* ------------------------------------------------------------ commands */

static int
is_cmd_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/*
 * The bot_command entities Telegram attaches to a user's text: /name or
 * /name@botname at the start of a word. New array.
 */
json_t *
text_command_entities(const char *text)
{
	json_t *ents = json_array();
	size_t i, j, k;

	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] != '/' || (i > 0 &&
		    !isspace((unsigned char)text[i - 1])))
			continue;
		for (j = i + 1; is_cmd_char(text[j]); j++)
			;
		if (j == i + 1 || j - i - 1 > 32)
			continue;
		if (text[j] == '@') {
			for (k = j + 1; is_cmd_char(text[k]); k++)
				;
			if (k - j - 1 >= 3)
				j = k;
		}
		if (text[j] != '\0' && !isspace((unsigned char)text[j]))
			continue;
		json_array_append_new(ents, json_pack("{ss sI sI}", "type",
		    "bot_command", "offset",
		    (json_int_t)text_utf16_len(text, i), "length",
		    (json_int_t)text_utf16_len(text + i, j - i)));
		i = j - 1;
	}
	return ents;
}

/* ------------------------------------------------------------ markup */

static const char *button_kinds[] = {
	"url", "callback_data", "web_app", "login_url",
	"switch_inline_query", "switch_inline_query_current_chat",
	"switch_inline_query_chosen_chat", "copy_text", "callback_game",
	"pay",
};

static int
markup_fail(char **cause, const char *desc)
{
	*cause = xstrdup(desc);
	return -1;
}

static int
button_check(json_t *b, char **cause)
{
	const char *s, *kind = NULL;
	size_t i, nkinds = 0;
	json_t *v;

	if (!json_is_object(b) || !json_is_string(json_object_get(b, "text")))
		return markup_fail(cause, "Bad Request: can't parse inline "
		    "keyboard button: Field \"text\" must be of type String");
	if (*json_string_value(json_object_get(b, "text")) == '\0')
		return markup_fail(cause, "Bad Request: BUTTON_TEXT_EMPTY");
	for (i = 0; i < BC_NELEM(button_kinds); i++)
		if (json_object_get(b, button_kinds[i]) != NULL) {
			kind = button_kinds[i];
			nkinds++;
		}
	if (nkinds == 0)
		return markup_fail(cause, "Bad Request: can't parse inline "
		    "keyboard button: Text buttons are unallowed in the "
		    "inline keyboard");
	if (nkinds > 1)
		return markup_fail(cause, "Bad Request: can't parse inline "
		    "keyboard button: only one of the optional fields must "
		    "be used");
	v = json_object_get(b, kind);
	if (strcmp(kind, "callback_data") == 0) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > TG_CBDATA_MAX)
			return markup_fail(cause,
			    "Bad Request: BUTTON_DATA_INVALID");
	} else if (strcmp(kind, "url") == 0) {
		s = json_string_value(v);
		if (s == NULL || (strncmp(s, "http://", 7) != 0 &&
		    strncmp(s, "https://", 8) != 0 &&
		    strncmp(s, "tg://", 5) != 0))
			return markup_fail(cause,
			    "Bad Request: BUTTON_URL_INVALID");
	}
	return 0;
}

static int
rows_check(json_t *rows, int inline_kb, char **cause)
{
	size_t i, j, n = 0;
	json_t *row, *b;

	if (!json_is_array(rows))
		return markup_fail(cause, inline_kb ?
		    "Bad Request: field \"inline_keyboard\" of the "
		    "InlineKeyboardMarkup should be an Array of Arrays" :
		    "Bad Request: field \"keyboard\" of the "
		    "ReplyKeyboardMarkup should be an Array of Arrays");
	json_array_foreach(rows, i, row) {
		if (!json_is_array(row))
			return rows_check(NULL, inline_kb, cause);
		json_array_foreach(row, j, b) {
			if (++n > 100)
				return markup_fail(cause,
				    "Bad Request: reply markup is too long");
			if (inline_kb && button_check(b, cause) == -1)
				return -1;
			if (!inline_kb && !json_is_string(b) &&
			    !json_is_string(json_object_get(b, "text")))
				return markup_fail(cause, "Bad Request: can't "
				    "parse keyboard button: Field \"text\" "
				    "must be of type String");
		}
	}
	return 0;
}

/*
 * Check reply_markup m as Telegram does. 0, or -1 with *cause the
 * description (caller frees).
 */
int
text_markup_check(json_t *m, char **cause)
{
	json_t *v;

	if (!json_is_object(m))
		return markup_fail(cause, "Bad Request: can't parse reply "
		    "keyboard markup JSON object");
	if ((v = json_object_get(m, "inline_keyboard")) != NULL)
		return rows_check(v, 1, cause);
	if ((v = json_object_get(m, "keyboard")) != NULL)
		return rows_check(v, 0, cause);
	if (json_object_get(m, "remove_keyboard") != NULL ||
	    json_object_get(m, "force_reply") != NULL)
		return 0;
	return markup_fail(cause, "Bad Request: can't parse reply keyboard "
	    "markup JSON object");
}

/*
 * The callback_data of the inline button of markup m whose callback_data
 * is data, or failing that whose text is text. Borrowed; NULL if none.
 */
const char *
text_markup_find(json_t *m, const char *data, const char *text)
{
	json_t *row, *b;
	size_t i, j;
	const char *d, *t;

	json_array_foreach(json_object_get(m, "inline_keyboard"), i, row) {
		json_array_foreach(row, j, b) {
			d = json_string_value(json_object_get(b,
			    "callback_data"));
			t = json_string_value(json_object_get(b, "text"));
			if (d == NULL)
				continue;
			if (data != NULL && strcmp(d, data) == 0)
				return d;
			if (data == NULL && text != NULL && t != NULL &&
			    strcmp(t, text) == 0)
				return d;
		}
	}
	return NULL;
}
