/* tg text: HTML escaping, UTF-16 length, splitting, inline keyboards. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

/* A growing string. */
struct sbuf {
	char	*p;
	size_t	 len, cap;
};

static void
sb_add(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

/* s without any whitespace. Caller frees. */
static char *
squeeze(const char *s)
{
	char *o = xmalloc(strlen(s) + 1), *q = o;

	for (; *s != '\0'; s++)
		if (*s != ' ' && *s != '\n' && *s != '\t')
			*q++ = *s;
	*q = '\0';
	return o;
}

/* Every chunk is valid UTF-8, within max units, not empty. */
static void
check_chunks(char **c, size_t n, size_t max)
{
	size_t i, j, l;

	for (i = 0; i < n; i++) {
		size_t len = strlen(c[i]);

		assert_true(len > 0);
		assert_true(bc_tg_utf16_len(c[i], len) <= max);
		for (j = 0; j < len; j += l) {
			l = bc_utf8_seqlen((const unsigned char *)c[i] + j,
			    len - j);
			assert_true(l > 0);
		}
	}
}

/* Concatenation of chunks equals text modulo whitespace, and each chunk
 * appears in text at increasing positions. */
static void
check_reassembly(const char *text, char **c, size_t n)
{
	struct sbuf all = { NULL, 0, 0 };
	const char *p = text, *hit;
	char *a, *b;
	size_t i;

	sb_add(&all, "");
	for (i = 0; i < n; i++) {
		sb_add(&all, c[i]);
		hit = strstr(p, c[i]);
		assert_non_null(hit);
		/* Only whitespace was dropped between two chunks. */
		for (; p < hit; p++)
			assert_true(*p == ' ' || *p == '\n');
		p = hit + strlen(c[i]);
	}
	for (; *p != '\0'; p++)
		assert_true(*p == ' ' || *p == '\n');
	a = squeeze(text);
	b = squeeze(all.p);
	assert_string_equal(a, b);
	free(a);
	free(b);
	free(all.p);
}

static void
test_html_escape(void **state)
{
	char *e;

	(void)state;
	e = bc_tg_html_escape("a<b> & \"c\" 'd' привет");
	assert_string_equal(e, "a&lt;b&gt; &amp; &quot;c&quot; 'd' привет");
	free(e);
	e = bc_tg_html_escape("&amp;");
	assert_string_equal(e, "&amp;amp;");
	free(e);
	e = bc_tg_html_escape("");
	assert_string_equal(e, "");
	free(e);
	e = bc_tg_html_escape(NULL);
	assert_string_equal(e, "");
	free(e);
}

static void
test_utf16_len(void **state)
{
	(void)state;
	assert_int_equal(bc_tg_utf16_len("abc", 3), 3);
	/* Cyrillic: 2 bytes, 1 unit each. */
	assert_int_equal(bc_tg_utf16_len("привет", strlen("привет")), 6);
	/* An emoji outside the BMP: 4 bytes, a surrogate pair. */
	assert_int_equal(bc_tg_utf16_len("\xf0\x9f\x98\x80", 4), 2);
	/* A BMP symbol (3 bytes): one unit. */
	assert_int_equal(bc_tg_utf16_len("\xe2\x82\xac", 3), 1);
	/* Invalid bytes: one each; a truncated sequence too. */
	assert_int_equal(bc_tg_utf16_len("\xff\xfe", 2), 2);
	assert_int_equal(bc_tg_utf16_len("\xf0\x9f\x98", 3), 3);
	assert_int_equal(bc_tg_utf16_len("", 0), 0);
}

static void
test_split_short(void **state)
{
	char **c;
	size_t n;

	(void)state;
	n = bc_tg_split("hello", 0, &c);
	assert_int_equal(n, 1);
	assert_string_equal(c[0], "hello");
	bc_tg_split_free(c, n);
	n = bc_tg_split("", 0, &c);
	assert_int_equal(n, 0);
	bc_tg_split_free(c, n);
}

/* Exactly 4096 stays one chunk; 4097 becomes two. */
static void
test_split_boundary(void **state)
{
	char *t = xmalloc(4098), **c;
	size_t n;

	(void)state;
	memset(t, 'a', 4096);
	t[4096] = '\0';
	n = bc_tg_split(t, 0, &c);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(c[0]), 4096);
	bc_tg_split_free(c, n);
	t[4096] = 'b';
	t[4097] = '\0';
	n = bc_tg_split(t, 0, &c);
	assert_int_equal(n, 2);
	assert_int_equal(strlen(c[0]), 4096);
	assert_string_equal(c[1], "b");
	bc_tg_split_free(c, n);
	free(t);
}

/* Lines of Cyrillic and emoji: cut at newlines, never mid-character. */
static void
test_split_lines_utf8(void **state)
{
	struct sbuf b = { NULL, 0, 0 };
	char **c;
	size_t n, i;

	(void)state;
	sb_add(&b, "");
	for (i = 0; i < 600; i++) {
		sb_add(&b, i % 3 ? "Привет, мир! \xf0\x9f\x98\x80\xf0\x9f"
		    "\x8e\xb2 строка" : "plain ascii line with € sign");
		sb_add(&b, i % 50 == 49 ? "\n\n" : "\n");
	}
	n = bc_tg_split(b.p, 0, &c);
	assert_true(n >= 3);
	check_chunks(c, n, 4096);
	check_reassembly(b.p, c, n);
	/* Cuts were at line ends: no chunk starts or ends mid-line. */
	for (i = 0; i < n; i++) {
		size_t l = strlen(c[i]);

		while (l > 0 && c[i][l - 1] == '\n')	/* the last one */
			c[i][--l] = '\0';
		assert_true(c[i][0] == 'P' || c[i][0] == 'p');
		assert_true((l > 12 && strcmp(c[i] + l - 12, "строка") == 0) ||
		    (l > 4 && strcmp(c[i] + l - 4, "sign") == 0));
	}
	bc_tg_split_free(c, n);
	free(b.p);
}

/* No whitespace at all: hard cuts, still never inside a character, and
 * emoji counted as two units. */
static void
test_split_hard_emoji(void **state)
{
	struct sbuf b = { NULL, 0, 0 };
	char **c;
	size_t n, i, units = 0;

	(void)state;
	sb_add(&b, "x");	/* odd offset so pairs straddle the limit */
	for (i = 0; i < 5000; i++)
		sb_add(&b, i % 2 ? "\xf0\x9f\x98\x80" : "ж");
	n = bc_tg_split(b.p, 0, &c);
	check_chunks(c, n, 4096);
	check_reassembly(b.p, c, n);
	for (i = 0; i < n; i++)
		units += bc_tg_utf16_len(c[i], strlen(c[i]));
	assert_int_equal(units, bc_tg_utf16_len(b.p, b.len));
	/* Hard cuts fill the chunk, short by one unit at most (a pair). */
	for (i = 0; i + 1 < n; i++)
		assert_true(bc_tg_utf16_len(c[i], strlen(c[i])) >= 4095);
	bc_tg_split_free(c, n);
	free(b.p);
}

/* Small max exercises the preference: paragraph, line, space, hard. */
static void
test_split_preference(void **state)
{
	char **c;
	size_t n;

	(void)state;
	n = bc_tg_split("aaaa bbbb\ncccc\n\ndddd eeee", 12, &c);
	assert_int_equal(n, 3);
	assert_string_equal(c[0], "aaaa bbbb");
	assert_string_equal(c[1], "cccc");
	assert_string_equal(c[2], "dddd eeee");
	bc_tg_split_free(c, n);
	n = bc_tg_split("aaaa bbbb cccc", 10, &c);
	assert_int_equal(n, 2);
	assert_string_equal(c[0], "aaaa bbbb");
	assert_string_equal(c[1], "cccc");
	bc_tg_split_free(c, n);
	n = bc_tg_split("abcdefghij", 4, &c);
	assert_int_equal(n, 3);
	assert_string_equal(c[0], "abcd");
	assert_string_equal(c[2], "ij");
	bc_tg_split_free(c, n);
	/* An emoji never splits even when only one unit is left. */
	n = bc_tg_split("abc\xf0\x9f\x98\x80", 4, &c);
	assert_int_equal(n, 2);
	assert_string_equal(c[0], "abc");
	assert_string_equal(c[1], "\xf0\x9f\x98\x80");
	bc_tg_split_free(c, n);
}

static void
test_split_html(void **state)
{
	struct sbuf b = { NULL, 0, 0 };
	char **c;
	size_t n, i;

	(void)state;
	/* Tags do not count; an entity counts one. */
	n = bc_tg_split_html("<b>abc</b> &lt;d", 6, &c);
	assert_int_equal(n, 1);
	bc_tg_split_free(c, n);
	/* A cut inside <b> closes and reopens it. */
	n = bc_tg_split_html("<b>aaaa bbbb</b>", 6, &c);
	assert_int_equal(n, 2);
	assert_string_equal(c[0], "<b>aaaa</b>");
	assert_string_equal(c[1], "<b>bbbb</b>");
	bc_tg_split_free(c, n);
	/* Nested, with attributes. */
	n = bc_tg_split_html("<a href=\"x y\"><i>aa\nbb</i></a>", 3, &c);
	assert_int_equal(n, 2);
	assert_string_equal(c[0], "<a href=\"x y\"><i>aa</i></a>");
	assert_string_equal(c[1], "<a href=\"x y\"><i>bb</i></a>");
	bc_tg_split_free(c, n);
	/* Never inside an entity: "&amp;" stays whole. */
	n = bc_tg_split_html("abc&amp;def", 4, &c);
	assert_int_equal(n, 2);
	assert_string_equal(c[0], "abc&amp;");
	assert_string_equal(c[1], "def");
	bc_tg_split_free(c, n);
	n = bc_tg_split_html("abcd&amp;e", 4, &c);
	assert_int_equal(n, 2);
	assert_string_equal(c[0], "abcd");
	assert_string_equal(c[1], "&amp;e");
	bc_tg_split_free(c, n);
	/* Long HTML: every chunk's visible text within 4096. */
	sb_add(&b, "");
	for (i = 0; i < 700; i++)
		sb_add(&b, "<b>Жирный</b> и <i>курсив &amp; \xf0\x9f\x98\x80</i>\n");
	n = bc_tg_split_html(b.p, 0, &c);
	assert_true(n >= 2);
	for (i = 0; i < n; i++) {
		assert_true(strlen(c[i]) > 0);
		assert_true(strncmp(c[i], "<b>", 3) == 0);
	}
	bc_tg_split_free(c, n);
	free(b.p);
}

static void
test_kb_ok(void **state)
{
	struct bc_tg_kb *kb;
	char *cause = NULL, *s;
	char data[65];
	json_t *m;

	(void)state;
	memset(data, 'x', 64);
	data[64] = '\0';
	kb = bc_tg_kb_new();
	bc_tg_kb_button(kb, "Yes", "vote:1");
	bc_tg_kb_button(kb, "64", data);
	bc_tg_kb_row(kb);
	bc_tg_kb_url(kb, "Site", "https://example.org");
	bc_tg_kb_webapp(kb, "Play", "https://example.org/app");
	m = bc_tg_kb_finish(kb, &cause);
	assert_non_null(m);
	assert_null(cause);
	s = json_dumps(m, JSON_COMPACT);
	assert_non_null(strstr(s, "{\"inline_keyboard\":[[{\"text\":\"Yes\","
	    "\"callback_data\":\"vote:1\"},"));
	assert_non_null(strstr(s, "[{\"text\":\"Site\",\"url\":"
	    "\"https://example.org\"},{\"text\":\"Play\",\"web_app\":"
	    "{\"url\":\"https://example.org/app\"}}]]}"));
	free(s);
	json_decref(m);
}

static void
test_kb_refused(void **state)
{
	struct bc_tg_kb *kb;
	char *cause = NULL, data[66];
	size_t i;

	(void)state;
	memset(data, 'x', 65);
	data[65] = '\0';
	kb = bc_tg_kb_new();
	bc_tg_kb_button(kb, "ok", "fine");
	bc_tg_kb_button(kb, "65", data);
	assert_null(bc_tg_kb_finish(kb, &cause));
	assert_non_null(cause);
	assert_non_null(strstr(cause, "64 bytes"));
	free(cause);
	cause = NULL;
	/* 32 Cyrillic letters are 64 bytes: fine; 33 are 66: refused. */
	data[0] = '\0';
	for (i = 0; i < 32; i++)
		strcat(data, "я");
	kb = bc_tg_kb_new();
	bc_tg_kb_button(kb, "ok", data);
	json_decref(bc_tg_kb_finish(kb, &cause));
	assert_null(cause);
	kb = bc_tg_kb_new();
	{
		char more[80];

		snprintf(more, sizeof(more), "%sя", data);
		bc_tg_kb_button(kb, "no", more);
	}
	assert_null(bc_tg_kb_finish(kb, &cause));
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	/* Empty data, empty text, invalid UTF-8 text. */
	kb = bc_tg_kb_new();
	bc_tg_kb_button(kb, "x", "");
	assert_null(bc_tg_kb_finish(kb, &cause));
	free(cause);
	cause = NULL;
	kb = bc_tg_kb_new();
	bc_tg_kb_button(kb, "", "d");
	assert_null(bc_tg_kb_finish(kb, &cause));
	free(cause);
	cause = NULL;
	kb = bc_tg_kb_new();
	bc_tg_kb_url(kb, "\xff", "https://x");
	assert_null(bc_tg_kb_finish(kb, &cause));
	free(cause);
	bc_tg_kb_free(NULL);
	kb = bc_tg_kb_new();
	bc_tg_kb_button(kb, "a", "b");
	bc_tg_kb_free(kb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html_escape),
		cmocka_unit_test(test_utf16_len),
		cmocka_unit_test(test_split_short),
		cmocka_unit_test(test_split_boundary),
		cmocka_unit_test(test_split_lines_utf8),
		cmocka_unit_test(test_split_hard_emoji),
		cmocka_unit_test(test_split_preference),
		cmocka_unit_test(test_split_html),
		cmocka_unit_test(test_kb_ok),
		cmocka_unit_test(test_kb_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
