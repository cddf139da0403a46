/*
 * Text for Telegram: HTML escaping, length in UTF-16 units, splitting long
 * messages (plain or HTML) and inline keyboards.
 */

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <botcommon/log.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define TG_TAG_DEPTH	32
#define TG_ENTITY_MAX	12	/* "&#x10FFFF;" and the named ones fit */

/* What c becomes in HTML text, or NULL when it stays as it is. */
static const char *
html_entity(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	default:
		return NULL;
	}
}

char *
bc_tg_html_escape(const char *s)
{
	size_t n = 0, i = 0, l;
	const char *p, *r;
	char *out;

	if (s == NULL)
		s = "";
	for (p = s; *p != '\0'; p++)
		n += (r = html_entity(*p)) != NULL ? strlen(r) : 1;
	out = xmalloc(n + 1);
	for (p = s; *p != '\0'; p++) {
		if ((r = html_entity(*p)) == NULL) {
			out[i++] = *p;
			continue;
		}
		l = strlen(r);
		memcpy(out + i, r, l);
		i += l;
	}
	out[i] = '\0';
	return out;
}

/* Bytes and UTF-16 units of the character at s (n bytes left). */
static size_t
char_at(const char *s, size_t n, size_t *units)
{
	size_t l = bc_utf8_seqlen((const unsigned char *)s, n);

	if (l == 0) {
		*units = 1;
		return 1;
	}
	*units = l == 4 ? 2 : 1;
	return l;
}

size_t
bc_tg_utf16_len(const char *s, size_t len)
{
	size_t i = 0, u, total = 0;

	while (i < len) {
		i += char_at(s + i, len - i, &u);
		total += u;
	}
	return total;
}

/* ---------------------------------------------------------------- split */

/* An open HTML tag: its whole opening text and its name. */
struct tg_tag {
	const char	*open;
	size_t		 openlen;
	const char	*name;
	size_t		 namelen;
};

struct tg_split {
	const char	*s;
	size_t		 n;
	int		 html;
	struct tg_tag	 stack[TG_TAG_DEPTH];
	size_t		 depth;
	char		**out;
	size_t		 nout, cap;
};

/*
 * The token at i: a tag (cost 0), an entity (cost 1) or one character.
 * Returns its length in bytes; *kind is '<' for a tag, '&' for an entity,
 * else 0.
 */
static size_t
token_at(const struct tg_split *sp, size_t i, size_t *cost, int *kind)
{
	const char *s = sp->s + i, *e;
	size_t left = sp->n - i, k;

	*kind = 0;
	if (sp->html && s[0] == '<' &&
	    (e = memchr(s, '>', left)) != NULL) {
		*kind = '<';
		*cost = 0;
		return (size_t)(e - s) + 1;
	}
	if (sp->html && s[0] == '&') {
		for (k = 1; k < left && k < TG_ENTITY_MAX; k++) {
			if (s[k] == ';' && k > 1) {
				*kind = '&';
				*cost = 1;
				return k + 1;
			}
			if (!(s[k] == '#' || (s[k] >= '0' && s[k] <= '9') ||
			    (s[k] >= 'a' && s[k] <= 'z') ||
			    (s[k] >= 'A' && s[k] <= 'Z')))
				break;
		}
	}
	return char_at(s, left, cost);
}

/* Apply the tag at t (len bytes, "<...>") to the open-tag stack. */
static void
tag_apply(struct tg_split *sp, const char *t, size_t len)
{
	const char *name = t + 1;
	size_t nl = 0, i;
	int closing = 0;

	if (len > 2 && t[1] == '/') {
		closing = 1;
		name++;
	}
	while (name + nl < t + len - 1 && name[nl] != ' ' &&
	    name[nl] != '\t' && name[nl] != '\n' && name[nl] != '/')
		nl++;
	if (nl == 0)
		return;
	if (!closing) {
		if (sp->depth < TG_TAG_DEPTH)
			sp->stack[sp->depth++] = (struct tg_tag){ t, len,
			    name, nl };
		return;
	}
	for (i = sp->depth; i > 0; i--) {
		if (sp->stack[i - 1].namelen == nl &&
		    strncasecmp(sp->stack[i - 1].name, name, nl) == 0) {
			sp->depth = i - 1;
			return;
		}
	}
}

/* Track the tags between from and to. */
static void
tags_advance(struct tg_split *sp, size_t from, size_t to)
{
	size_t i = from, len, cost;
	int kind;

	while (i < to) {
		len = token_at(sp, i, &cost, &kind);
		if (kind == '<')
			tag_apply(sp, sp->s + i, len);
		i += len;
	}
}

static int
all_space(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\n' && s[i] != '\t' &&
		    s[i] != '\r')
			return 0;
	return 1;
}

/* Emit s[from, to) as a chunk, with open tags closed and reopened. */
static void
emit(struct tg_split *sp, size_t from, size_t to)
{
	struct tg_tag before[TG_TAG_DEPTH];
	size_t nbefore = sp->depth, len, i, o;
	char *c;

	memcpy(before, sp->stack, nbefore * sizeof(before[0]));
	if (sp->html)
		tags_advance(sp, from, to);
	if (all_space(sp->s + from, to - from))
		return;
	len = to - from;
	for (i = 0; i < nbefore; i++)
		len += before[i].openlen;
	for (i = 0; i < sp->depth; i++)
		len += sp->stack[i].namelen + 3;
	c = xmalloc(len + 1);
	o = 0;
	for (i = 0; i < nbefore; i++) {
		memcpy(c + o, before[i].open, before[i].openlen);
		o += before[i].openlen;
	}
	memcpy(c + o, sp->s + from, to - from);
	o += to - from;
	for (i = sp->depth; i > 0; i--) {
		c[o++] = '<';
		c[o++] = '/';
		memcpy(c + o, sp->stack[i - 1].name, sp->stack[i - 1].namelen);
		o += sp->stack[i - 1].namelen;
		c[o++] = '>';
	}
	c[o] = '\0';
	if (sp->nout == sp->cap) {
		sp->cap = sp->cap ? sp->cap * 2 : 4;
		sp->out = xreallocarray(sp->out, sp->cap, sizeof(*sp->out));
	}
	sp->out[sp->nout++] = c;
}

/* Where to cut: candidates found while scanning one window. */
struct tg_cuts {
	size_t		 para, line, space;	/* 0: none */
};

/*
 * Scan from pos while the cost stays within max. Returns the end of what
 * fits (sp->n when everything does) and records the cut candidates.
 */
static size_t
scan_window(const struct tg_split *sp, size_t pos, size_t max,
    struct tg_cuts *cuts)
{
	size_t i = pos, cost, total = 0, len;
	int kind, prev_nl = 0;

	memset(cuts, 0, sizeof(*cuts));
	while (i < sp->n) {
		len = token_at(sp, i, &cost, &kind);
		if (total + cost > max)
			break;
		total += cost;
		if (kind == 0 && sp->s[i] == '\n') {
			if (prev_nl && i - 1 > pos)
				cuts->para = i - 1;
			if (i > pos)
				cuts->line = i;
		} else if (kind == 0 && sp->s[i] == ' ' && i > pos)
			cuts->space = i;
		prev_nl = kind == 0 && sp->s[i] == '\n';
		i += len;
	}
	return i;
}

/*
 * Choose the cut in [pos, end): *next is where the next chunk starts. A
 * blank line or a newline in the last three quarters of the window wins,
 * then a space in the last half, then any newline or space, and only then
 * a hard cut.
 */
static size_t
choose_cut(const struct tg_cuts *c, size_t pos, size_t end, size_t *next)
{
	size_t quarter = pos + (end - pos) / 4, half = pos + (end - pos) / 2;

	if (c->para >= quarter && c->para > pos) {
		*next = c->para + 2;
		return c->para;
	}
	if (c->line >= quarter && c->line > pos) {
		*next = c->line + 1;
		return c->line;
	}
	if (c->space >= half && c->space > pos) {
		*next = c->space + 1;
		return c->space;
	}
	if (c->line > pos) {
		*next = c->line + 1;
		return c->line;
	}
	if (c->space > pos) {
		*next = c->space + 1;
		return c->space;
	}
	*next = end;
	return end;
}

static size_t
split(const char *text, size_t max, int html, char ***chunks)
{
	struct tg_split sp;
	struct tg_cuts cuts;
	size_t pos = 0, end, cut, next;

	memset(&sp, 0, sizeof(sp));
	sp.s = text != NULL ? text : "";
	sp.n = strlen(sp.s);
	sp.html = html;
	if (max == 0)
		max = BC_TG_TEXT_MAX;
	if (max < 2)
		max = 2;
	while (pos < sp.n) {
		end = scan_window(&sp, pos, max, &cuts);
		if (end >= sp.n) {
			emit(&sp, pos, sp.n);
			break;
		}
		cut = choose_cut(&cuts, pos, end, &next);
		emit(&sp, pos, cut);
		if (html)
			tags_advance(&sp, cut, next);
		pos = next;
	}
	*chunks = sp.out;
	return sp.nout;
}

size_t
bc_tg_split(const char *text, size_t max, char ***chunks)
{
	return split(text, max, 0, chunks);
}

size_t
bc_tg_split_html(const char *html, size_t max, char ***chunks)
{
	return split(html, max, 1, chunks);
}

void
bc_tg_split_free(char **chunks, size_t n)
{
	size_t i;

	if (chunks == NULL)
		return;
	for (i = 0; i < n; i++)
		free(chunks[i]);
	free(chunks);
}

/* ---------------------------------------------------------------- keyboards */

struct bc_tg_kb {
	json_t		*rows;
	json_t		*row;
	char		*error;
};

static void	kb_error(struct bc_tg_kb *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

struct bc_tg_kb *
bc_tg_kb_new(void)
{
	struct bc_tg_kb *kb = xcalloc(1, sizeof(*kb));

	kb->rows = json_array();
	kb->row = json_array();
	if (kb->rows == NULL || kb->row == NULL)
		abort();
	return kb;
}

void
bc_tg_kb_row(struct bc_tg_kb *kb)
{
	if (kb == NULL || json_array_size(kb->row) == 0)
		return;
	json_array_append_new(kb->rows, kb->row);
	if ((kb->row = json_array()) == NULL)
		abort();
}

static void
kb_error(struct bc_tg_kb *kb, const char *fmt, ...)
{
	va_list ap;

	if (kb->error != NULL)
		return;
	va_start(ap, fmt);
	xvasprintf(&kb->error, fmt, ap);
	va_end(ap);
}

/* Add a button with text and one more field; checks both strings. */
static void
kb_add(struct bc_tg_kb *kb, const char *text, const char *key,
    json_t *value)
{
	json_t *b;

	if (kb == NULL) {
		json_decref(value);
		return;
	}
	if (text == NULL || *text == '\0') {
		kb_error(kb, "%s button without text", key);
		json_decref(value);
		return;
	}
	if (value == NULL) {
		kb_error(kb, "%s of a button is empty or not valid UTF-8", key);
		return;
	}
	b = json_pack("{s:s}", "text", text);
	if (b == NULL) {
		kb_error(kb, "button text for %s is not valid UTF-8", key);
		json_decref(value);
		return;
	}
	json_object_set_new(b, key, value);
	json_array_append_new(kb->row, b);
}

void
bc_tg_kb_button(struct bc_tg_kb *kb, const char *text, const char *data)
{
	size_t n = data != NULL ? strlen(data) : 0;

	if (kb == NULL)
		return;
	if (n == 0 || n > BC_TG_CALLBACK_MAX) {
		char *esc = log_escape(data != NULL ? data : "",
		    n > 80 ? 80 : n);

		kb_error(kb, "callback_data \"%s\" is empty or over 64 bytes",
		    esc);
		free(esc);
		return;
	}
	kb_add(kb, text, "callback_data", json_string(data));
}

void
bc_tg_kb_url(struct bc_tg_kb *kb, const char *text, const char *url)
{
	kb_add(kb, text, "url", url != NULL && *url != '\0' ?
	    json_string(url) : NULL);
}

void
bc_tg_kb_webapp(struct bc_tg_kb *kb, const char *text, const char *url)
{
	json_t *v = NULL;

	if (url != NULL && *url != '\0')
		v = json_pack("{s:s}", "url", url);
	kb_add(kb, text, "web_app", v);
}

json_t *
bc_tg_kb_finish(struct bc_tg_kb *kb, char **cause)
{
	json_t *markup = NULL;

	if (kb == NULL) {
		*cause = xstrdup("no keyboard");
		return NULL;
	}
	bc_tg_kb_row(kb);
	if (kb->error != NULL) {
		*cause = kb->error;
		kb->error = NULL;
	} else {
		markup = json_pack("{s:O}", "inline_keyboard", kb->rows);
		if (markup == NULL)
			abort();
	}
	bc_tg_kb_free(kb);
	return markup;
}

void
bc_tg_kb_free(struct bc_tg_kb *kb)
{
	if (kb == NULL)
		return;
	json_decref(kb->rows);
	json_decref(kb->row);
	free(kb->error);
	free(kb);
}
