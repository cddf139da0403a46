/* conf: parsing, typed getters, ${ENV}, include, unknown keys, secrets. */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <botcommon/conf.h>
#include <botcommon/xmalloc.h>

static char	*dir;		/* this test's scratch directory */

static int
setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	xasprintf(&dir, "%s/conf.XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	unsetenv("CREDENTIALS_DIRECTORY");
	return 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown(void **state)
{
	(void)state;
	assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(dir);
	dir = NULL;
	unsetenv("CREDENTIALS_DIRECTORY");
	return 0;
}

/* Write text to dir/name with exactly this mode. Returns the path. */
static char *
write_file(const char *name, mode_t mode, const char *text)
{
	char *path;
	int fd;

	xasprintf(&path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static struct bc_conf *
load(const char *text)
{
	struct bc_conf *c;
	char *cause = NULL;

	c = bc_conf_load_string("t.ini", text, &cause);
	if (c == NULL)
		fail_msg("unexpected error: %s", cause);
	assert_null(cause);
	return c;
}

/* Loading text must fail with exactly this message. */
static void
load_fails(const char *text, const char *want)
{
	struct bc_conf *c;
	char *cause = NULL;

	c = bc_conf_load_string("t.ini", text, &cause);
	assert_null(c);
	assert_non_null(cause);
	assert_string_equal(cause, want);
	free(cause);
}

static void
test_basic(void **state)
{
	struct bc_conf *c;
	const char *s;

	(void)state;
	c = load("; comment\n"
	    "# comment\n"
	    "[botd]\n"
	    "socket = /run/botd/control.sock     ; created 0660\n"
	    "name=  spaced value  # a comment\n"
	    "url = http://x/a;b#c\n"
	    "  indented = yes\n"
	    "empty =\n"
	    "[ bot game ]   ; a game\n"
	    "[Bot Game]\n"
	    "Key = upper\n");
	assert_string_equal(bc_conf_path(c), "t.ini");
	assert_int_equal(bc_conf_nsections(c), 3);
	assert_string_equal(bc_conf_section(c, 0), "botd");
	assert_string_equal(bc_conf_section(c, 1), "bot game");
	assert_string_equal(bc_conf_section(c, 2), "Bot Game");
	assert_null(bc_conf_section(c, 3));
	assert_true(bc_conf_has_section(c, "bot game"));
	assert_false(bc_conf_has_section(c, "BOTD"));
	assert_int_equal(bc_conf_str(c, "botd", "socket", NULL, &s, NULL), 0);
	assert_string_equal(s, "/run/botd/control.sock");
	bc_conf_str(c, "botd", "name", NULL, &s, NULL);
	assert_string_equal(s, "spaced value");
	bc_conf_str(c, "botd", "url", NULL, &s, NULL);
	assert_string_equal(s, "http://x/a;b#c");
	bc_conf_str(c, "botd", "indented", NULL, &s, NULL);
	assert_string_equal(s, "yes");
	bc_conf_str(c, "botd", "empty", "def", &s, NULL);
	assert_string_equal(s, "");
	/* Case-sensitive keys and sections. */
	bc_conf_str(c, "Bot Game", "key", "none", &s, NULL);
	assert_string_equal(s, "none");
	bc_conf_str(c, "Bot Game", "Key", "none", &s, NULL);
	assert_string_equal(s, "upper");
	bc_conf_free(c);
	bc_conf_free(NULL);
}

static void
test_bom_crlf(void **state)
{
	struct bc_conf *c;
	const char *s;

	(void)state;
	c = load("\xef\xbb\xbf[a]\r\nk = v\r\n");
	assert_string_equal(bc_conf_section(c, 0), "a");
	bc_conf_str(c, "a", "k", NULL, &s, NULL);
	assert_string_equal(s, "v");
	bc_conf_free(c);
}

static void
test_str_default(void **state)
{
	struct bc_conf *c;
	const char *s = "junk";

	(void)state;
	c = load("[a]\nk = v\n");
	assert_int_equal(bc_conf_str(c, "a", "missing", "dflt", &s, NULL), 0);
	assert_string_equal(s, "dflt");
	assert_int_equal(bc_conf_str(c, "nosec", "k", NULL, &s, NULL), 0);
	assert_null(s);
	bc_conf_free(c);
}

static void
test_int(void **state)
{
	struct bc_conf *c;
	long long v;
	char *cause = NULL;

	(void)state;
	c = load("[n]\n"
	    "a = 42\nb = -7\nc = +3\nd = 12x\ne =\nf = 99999999999999999999\n"
	    "g = 11\nh = 0x10\ni = 1 2\n");
	assert_int_equal(bc_conf_int(c, "n", "a", 0, 0, 100, &v, NULL), 0);
	assert_int_equal(v, 42);
	assert_int_equal(bc_conf_int(c, "n", "b", 0, -10, 10, &v, NULL), 0);
	assert_int_equal(v, -7);
	assert_int_equal(bc_conf_int(c, "n", "c", 0, 0, 10, &v, NULL), 0);
	assert_int_equal(v, 3);
	assert_int_equal(bc_conf_int(c, "n", "zz", 5, 0, 10, &v, NULL), 0);
	assert_int_equal(v, 5);
	assert_int_equal(bc_conf_int(c, "n", "b", 0, 0, 10, &v, &cause), -1);
	assert_string_equal(cause, "t.ini:3: [n] b: '-7' is out of range "
	    "(0 to 10)");
	free(cause);
	assert_int_equal(bc_conf_int(c, "n", "g", 0, 0, 10, &v, &cause), -1);
	assert_string_equal(cause, "t.ini:8: [n] g: '11' is out of range "
	    "(0 to 10)");
	free(cause);
	assert_int_equal(bc_conf_int(c, "n", "d", 0, 0, 100, &v, &cause), -1);
	assert_string_equal(cause, "t.ini:5: [n] d: '12x' is not an integer");
	free(cause);
	assert_int_equal(bc_conf_int(c, "n", "e", 0, 0, 100, &v, &cause), -1);
	assert_string_equal(cause, "t.ini:6: [n] e: '' is not an integer");
	free(cause);
	assert_int_equal(bc_conf_int(c, "n", "f", 0, LLONG_MIN, LLONG_MAX, &v,
	    &cause), -1);
	assert_non_null(strstr(cause, "t.ini:7: [n] f: '99999999999999999999' "
	    "is out of range"));
	free(cause);
	assert_int_equal(bc_conf_int(c, "n", "h", 0, 0, 100, &v, NULL), -1);
	assert_int_equal(bc_conf_int(c, "n", "i", 0, 0, 100, &v, NULL), -1);
	/* A failed getter leaves *out alone. */
	v = 123;
	assert_int_equal(bc_conf_int(c, "n", "d", 0, 0, 100, &v, NULL), -1);
	assert_int_equal(v, 123);
	bc_conf_free(c);
}

static void
test_bool(void **state)
{
	static const char *yes[] = { "a", "b", "c", "d" };
	static const char *no[] = { "e", "f", "g", "h" };
	struct bc_conf *c;
	char *cause = NULL;
	size_t i;
	int v;

	(void)state;
	c = load("[b]\na = yes\nb = TRUE\nc = On\nd = 1\n"
	    "e = no\nf = False\ng = OFF\nh = 0\nj = yep\nk = 2\n");
	for (i = 0; i < 4; i++) {
		v = -1;
		assert_int_equal(bc_conf_bool(c, "b", yes[i], 0, &v, NULL), 0);
		assert_int_equal(v, 1);
		v = -1;
		assert_int_equal(bc_conf_bool(c, "b", no[i], 1, &v, NULL), 0);
		assert_int_equal(v, 0);
	}
	assert_int_equal(bc_conf_bool(c, "b", "missing", 1, &v, NULL), 0);
	assert_int_equal(v, 1);
	assert_int_equal(bc_conf_bool(c, "b", "j", 0, &v, &cause), -1);
	assert_string_equal(cause, "t.ini:10: [b] j: 'yep' is not a boolean "
	    "(use yes or no)");
	free(cause);
	assert_int_equal(bc_conf_bool(c, "b", "k", 0, &v, NULL), -1);
	bc_conf_free(c);
}

static void
test_duration(void **state)
{
	static const struct {
		const char	*text;
		int64_t		 ms;
	} good[] = {
		{ "250ms", 250 }, { "90s", 90000 }, { "5m", 300000 },
		{ "1h", 3600000 }, { "2d", 172800000 }, { "1h30m", 5400000 },
		{ "90", 90000 }, { "0", 0 }, { "1d2h3m4s5ms", 93784005 },
		{ "1m500ms", 60500 },
	};
	static const char *bad[] = {
		"5x", "", "1.5h", "30m1h", "1h 30m", "5mm", "h", "1h30",
		"5s5s", "+5s", "1H", "ms",
	};
	struct bc_conf *c;
	char *cause = NULL, *text;
	int64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		xasprintf(&text, "[d]\nt = %s\n", good[i].text);
		c = load(text);
		v = -1;
		assert_int_equal(bc_conf_duration(c, "d", "t", 7, &v, NULL), 0);
		assert_int_equal(v, good[i].ms);
		bc_conf_free(c);
		free(text);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		xasprintf(&text, "[d]\nt = %s\n", bad[i]);
		c = load(text);
		v = -1;
		assert_int_equal(bc_conf_duration(c, "d", "t", 7, &v, &cause),
		    -1);
		assert_int_equal(v, -1);
		assert_non_null(strstr(cause, "is not a duration"));
		free(cause);
		bc_conf_free(c);
		free(text);
	}
	c = load("[telegram]\n\ntimeout = 5x\nbig = 999999999999999999h\n"
	    "neg = -5s\nsecs = 9223372036854776\n"
	    "digits = 99999999999999999999999ms\n"
	    "max = 9223372036854775807ms\n");
	assert_int_equal(bc_conf_duration(c, "telegram", "timeout", 0, &v,
	    &cause), -1);
	assert_string_equal(cause, "t.ini:3: [telegram] timeout: '5x' is not "
	    "a duration (use 90s, 5m, 1h)");
	free(cause);
	assert_int_equal(bc_conf_duration(c, "telegram", "big", 0, &v,
	    &cause), -1);
	assert_string_equal(cause, "t.ini:4: [telegram] big: "
	    "'999999999999999999h' is out of range");
	free(cause);
	assert_int_equal(bc_conf_duration(c, "telegram", "neg", 0, &v,
	    &cause), -1);
	assert_string_equal(cause, "t.ini:5: [telegram] neg: '-5s' is "
	    "negative");
	free(cause);
	assert_int_equal(bc_conf_duration(c, "telegram", "secs", 0, &v,
	    NULL), -1);
	assert_int_equal(bc_conf_duration(c, "telegram", "digits", 0, &v,
	    NULL), -1);
	assert_int_equal(bc_conf_duration(c, "telegram", "max", 0, &v,
	    NULL), 0);
	assert_int_equal(v, INT64_MAX);
	assert_int_equal(bc_conf_duration(c, "telegram", "none", 1500, &v,
	    NULL), 0);
	assert_int_equal(v, 1500);
	bc_conf_free(c);
}

static void
test_size(void **state)
{
	static const struct {
		const char	*text;
		uint64_t	 n;
	} good[] = {
		{ "0", 0 }, { "512", 512 }, { "3B", 3 }, { "10K", 10240 },
		{ "7k", 7168 }, { "1KB", 1024 }, { "10M", 10485760 },
		{ "10 MiB", 10485760 }, { "1G", 1073741824 },
		{ "2T", 2199023255552ULL }, { "1gib", 1073741824 },
		{ "18446744073709551615", UINT64_MAX },
		{ "16777215T", 16777215ULL << 40 },
	};
	static const char *bad[] = {
		"10X", "", "1.5M", "M", "10MM", "10 M B", "0x10", "10Mi",
	};
	struct bc_conf *c;
	char *cause = NULL, *text;
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		xasprintf(&text, "[s]\nn = %s\n", good[i].text);
		c = load(text);
		assert_int_equal(bc_conf_size(c, "s", "n", 7, &v, NULL), 0);
		assert_true(v == good[i].n);
		bc_conf_free(c);
		free(text);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		xasprintf(&text, "[s]\nn = %s\n", bad[i]);
		c = load(text);
		v = 99;
		assert_int_equal(bc_conf_size(c, "s", "n", 7, &v, &cause), -1);
		assert_true(v == 99);
		assert_non_null(strstr(cause, "is not a size"));
		free(cause);
		bc_conf_free(c);
		free(text);
	}
	c = load("[s]\na = 16777216T\nb = 18446744073709551616\nc = -1\n");
	assert_int_equal(bc_conf_size(c, "s", "a", 0, &v, &cause), -1);
	assert_string_equal(cause, "t.ini:2: [s] a: '16777216T' is out of "
	    "range");
	free(cause);
	assert_int_equal(bc_conf_size(c, "s", "b", 0, &v, &cause), -1);
	assert_non_null(strstr(cause, "is out of range"));
	free(cause);
	assert_int_equal(bc_conf_size(c, "s", "c", 0, &v, &cause), -1);
	assert_string_equal(cause, "t.ini:4: [s] c: '-1' is negative");
	free(cause);
	assert_int_equal(bc_conf_size(c, "s", "zz", 4096, &v, NULL), 0);
	assert_true(v == 4096);
	bc_conf_free(c);
}

static void
test_list(void **state)
{
	struct bc_conf *c;
	char **l;
	size_t n;

	(void)state;
	c = load("[l]\na =  one , two,,three ,  , \nb =\nc = , ,\nd = solo\n");
	assert_int_equal(bc_conf_list(c, "l", "a", &l, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_string_equal(l[0], "one");
	assert_string_equal(l[1], "two");
	assert_string_equal(l[2], "three");
	bc_conf_list_free(l, n);
	assert_int_equal(bc_conf_list(c, "l", "b", &l, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_null(l);
	assert_int_equal(bc_conf_list(c, "l", "c", &l, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_int_equal(bc_conf_list(c, "l", "d", &l, &n, NULL), 0);
	assert_int_equal(n, 1);
	assert_string_equal(l[0], "solo");
	bc_conf_list_free(l, n);
	assert_int_equal(bc_conf_list(c, "l", "missing", &l, &n, NULL), 0);
	assert_int_equal(n, 0);
	assert_null(l);
	bc_conf_list_free(NULL, 0);
	bc_conf_free(c);
}

static void
test_malformed(void **state)
{
	char *long_line, *text;

	(void)state;
	load_fails("[a]\n[b\nk = v\n",
	    "t.ini:2: missing ']' in section header");
	load_fails("[a ; c]\n", "t.ini:1: missing ']' in section header");
	load_fails("[a]\nk = v\njust words\n",
	    "t.ini:3: expected '[section]' or 'key = value'");
	load_fails("k = v\n[a]\n", "t.ini:1: key 'k' outside of any section");
	load_fails("\n\n[a]\nk = 1\nx = 2\nk = 3\n",
	    "t.ini:6: [a] duplicate key 'k' (first set on line 4)");
	load_fails("[a]\n[b]\n[a]\n",
	    "t.ini:3: section [a] already defined at t.ini:1");
	load_fails("[a]\nk: v\n", "t.ini:2: expected 'key = value'");
	load_fails("[ ]\n", "t.ini:1: empty section name");
	load_fails("[a] junk\n", "t.ini:1: unexpected text after ']'");
	load_fails("[a]\n= v\n", "t.ini:2: [a] invalid key name ''");
	load_fails("[a]\nmy key = v\n", "t.ini:2: [a] invalid key name "
	    "'my key'");
	load_fails("[01234567890123456789012345678901234567890123456789]\n",
	    "t.ini:1: section name longer than 49 bytes");
	long_line = xmalloc(5000);
	memset(long_line, 'x', 4999);
	long_line[4999] = '\0';
	xasprintf(&text, "[a]\nk = %s\n", long_line);
	load_fails(text, "t.ini:2: line longer than 4096 bytes");
	free(text);
	free(long_line);
	/* Just under the limit is fine, and beyond inih's default 200. */
	long_line = xmalloc(4000);
	memset(long_line, 'y', 3999);
	long_line[3999] = '\0';
	xasprintf(&text, "[a]\nk = %s\n", long_line);
	bc_conf_free(load(text));
	free(text);
	free(long_line);
}

static void
test_env(void **state)
{
	struct bc_conf *c;
	const char *s;
	char *cause = NULL;

	(void)state;
	setenv("BCT_HOST", "db.example", 1);
	setenv("BCT_EMPTY", "", 1);
	unsetenv("BCT_UNSET");
	c = load("[e]\n"
	    "a = postgres://${BCT_HOST}:5432/x\n"
	    "b = ${BCT_UNSET:-fallback}\n"
	    "c = ${BCT_EMPTY:-was empty}\n"
	    "d = [${BCT_EMPTY}]\n"
	    "e = cost $$5 and $y$j9T$ stays\n"
	    "f = ${BCT_UNSET:-${BCT_HOST}}\n"
	    "g = ${BCT_UNSET:-}\n"
	    "h = $\n");
	bc_conf_str(c, "e", "a", NULL, &s, NULL);
	assert_string_equal(s, "postgres://db.example:5432/x");
	bc_conf_str(c, "e", "b", NULL, &s, NULL);
	assert_string_equal(s, "fallback");
	bc_conf_str(c, "e", "c", NULL, &s, NULL);
	assert_string_equal(s, "was empty");
	bc_conf_str(c, "e", "d", NULL, &s, NULL);
	assert_string_equal(s, "[]");
	bc_conf_str(c, "e", "e", NULL, &s, NULL);
	assert_string_equal(s, "cost $5 and $y$j9T$ stays");
	bc_conf_str(c, "e", "f", NULL, &s, NULL);
	assert_string_equal(s, "db.example");
	bc_conf_str(c, "e", "g", "x", &s, NULL);
	assert_string_equal(s, "");
	bc_conf_str(c, "e", "h", NULL, &s, NULL);
	assert_string_equal(s, "$");
	bc_conf_free(c);

	load_fails("[db]\n\nurl = x${BCT_UNSET}y\n", "t.ini:3: [db] url: "
	    "environment variable 'BCT_UNSET' is not set");
	load_fails("[db]\nurl = ${BCT_HOST\n", "t.ini:2: [db] url: "
	    "unterminated '${'");
	load_fails("[db]\nurl = ${BCT HOST}\n", "t.ini:2: [db] url: "
	    "bad substitution '${BCT HOST}'");
	load_fails("[db]\nurl = ${}\n", "t.ini:2: [db] url: "
	    "bad substitution '${}'");
	load_fails("[db]\nurl = ${1X}\n", "t.ini:2: [db] url: "
	    "bad substitution '${1X}'");
	c = bc_conf_load_string("t.ini", "[a]\nb = ${BCT_UNSET:-${A:-${A:-"
	    "${A:-${A:-${A:-${A:-${A:-${A:-${A:-x}}}}}}}}}}\n", &cause);
	assert_null(c);
	assert_non_null(strstr(cause, "nested too deeply"));
	free(cause);
	unsetenv("BCT_HOST");
	unsetenv("BCT_EMPTY");
}

static void
test_load_file(void **state)
{
	struct bc_conf *c;
	char *path, *cause = NULL;
	const char *s;

	(void)state;
	path = write_file("game.ini", 0644, "[telegram]\ntimeout = 5x\n");
	c = bc_conf_load(path, &cause);
	assert_non_null(c);
	assert_string_equal(bc_conf_path(c), path);
	assert_int_equal(bc_conf_str(c, "telegram", "timeout", NULL, &s, NULL),
	    0);
	bc_conf_free(c);
	free(path);

	xasprintf(&path, "%s/nonexistent.ini", dir);
	assert_null(bc_conf_load(path, &cause));
	assert_non_null(strstr(cause, "nonexistent.ini: No such file"));
	free(cause);
	free(path);

	{
		char *huge = xcalloc(1, 1100 * 1024);

		memset(huge, ';', 1100 * 1024 - 1);
		for (size_t i = 100; i < 1100 * 1024 - 1; i += 100)
			huge[i] = '\n';
		path = write_file("huge.ini", 0644, huge);
		free(huge);
		assert_null(bc_conf_load(path, &cause));
		assert_non_null(strstr(cause, "huge.ini: file larger than "
		    "1 MiB"));
		free(cause);
		free(path);
	}

	assert_null(bc_conf_load(dir, &cause));
	assert_non_null(strstr(cause, "Is a directory"));
	free(cause);

	path = write_file("bad.ini", 0644, "[a]\nk = v\nnope\n");
	assert_null(bc_conf_load(path, &cause));
	assert_non_null(strstr(cause, "bad.ini:3: expected"));
	free(cause);
	free(path);

	path = write_file("nul.ini", 0644, "[a]\n");
	{
		FILE *f = fopen(path, "a");

		assert_non_null(f);
		fwrite("k = a\0b\n", 1, 8, f);
		fclose(f);
	}
	assert_null(bc_conf_load(path, &cause));
	assert_non_null(strstr(cause, "nul.ini:2: NUL byte in line"));
	free(cause);
	free(path);
}

static void
test_error_format(void **state)
{
	struct bc_conf *c;
	char *path, *cause = NULL, *want;
	int64_t v;

	(void)state;
	path = write_file("game.ini", 0644, "[botd]\nx = 1\n\n"
	    "[telegram]\n; c\n\n\n\n\n\n\ntimeout = 5x\n");
	c = bc_conf_load(path, &cause);
	assert_non_null(c);
	assert_int_equal(bc_conf_duration(c, "telegram", "timeout", 0, &v,
	    &cause), -1);
	xasprintf(&want, "%s:12: [telegram] timeout: '5x' is not a duration "
	    "(use 90s, 5m, 1h)", path);
	assert_string_equal(cause, want);
	assert_null(strchr(cause, '\n'));
	free(want);
	free(cause);
	bc_conf_free(c);
	free(path);
}

static void
test_include(void **state)
{
	struct bc_conf *c;
	char *main_path, *a, *want, *pattern, *cause = NULL, *sub;
	const char *s;

	(void)state;
	xasprintf(&sub, "%s/bots.d", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	main_path = write_file("botd.ini", 0644, "[botd]\nsocket = x\n");
	free(write_file("bots.d/b.ini", 0644, "[bot b]\nexec = /b\n"));
	a = write_file("bots.d/a.ini", 0644, "[bot a]\nexec = /a\n[x]\n");
	free(write_file("bots.d/ignored.txt", 0644, "[bot a]\n"));
	c = bc_conf_load(main_path, &cause);
	assert_non_null(c);
	/* Relative: from the directory of botd.ini. */
	assert_int_equal(bc_conf_include(c, "bots.d/*.ini", &cause), 0);
	assert_int_equal(bc_conf_nsections(c), 4);
	assert_string_equal(bc_conf_section(c, 0), "botd");
	assert_string_equal(bc_conf_section(c, 1), "bot a");
	assert_string_equal(bc_conf_section(c, 2), "x");
	assert_string_equal(bc_conf_section(c, 3), "bot b");
	bc_conf_str(c, "bot b", "exec", NULL, &s, NULL);
	assert_string_equal(s, "/b");
	/* No match, and a missing directory: not errors. */
	xasprintf(&pattern, "%s/none/*.ini", dir);
	assert_int_equal(bc_conf_include(c, pattern, &cause), 0);
	assert_int_equal(bc_conf_include(c, "bots.d/*.conf", &cause), 0);
	free(pattern);
	/* The same files again: duplicate sections, nothing merged. */
	xasprintf(&pattern, "%s/*.ini", sub);
	assert_int_equal(bc_conf_include(c, pattern, &cause), -1);
	xasprintf(&want, "%s:1: section [bot a] already defined at %s:1", a, a);
	assert_string_equal(cause, want);
	free(cause);
	free(want);
	assert_int_equal(bc_conf_nsections(c), 4);
	bc_conf_free(c);

	/* A duplicate across two included files; the first one is undone. */
	free(write_file("bots.d/c.ini", 0644, "[bot c]\n[botd]\n"));
	c = bc_conf_load(main_path, &cause);
	assert_int_equal(bc_conf_include(c, pattern, &cause), -1);
	xasprintf(&want, "%s/c.ini:2: section [botd] already defined at %s:1",
	    sub, main_path);
	assert_string_equal(cause, want);
	assert_int_equal(bc_conf_nsections(c), 1);
	assert_false(bc_conf_has_section(c, "bot a"));
	free(cause);
	free(want);
	bc_conf_free(c);
	free(pattern);

	/* Two included files defining the same section. */
	free(sub);
	xasprintf(&sub, "%s/x.d", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	free(write_file("x.d/1.ini", 0644, "[bot z]\nexec = /z\n"));
	free(write_file("x.d/2.ini", 0644, "\n[bot z]\nexec = /z\n"));
	c = bc_conf_load(main_path, &cause);
	assert_int_equal(bc_conf_include(c, "x.d/*.ini", &cause), -1);
	xasprintf(&want, "%s/2.ini:2: section [bot z] already defined at "
	    "%s/1.ini:1", sub, sub);
	assert_string_equal(cause, want);
	assert_int_equal(bc_conf_nsections(c), 1);
	free(cause);
	free(want);
	bc_conf_free(c);
	free(a);
	free(main_path);
	free(sub);
}

static void
test_file(void **state)
{
	struct bc_conf *c;
	char *main_path, *sub, *out, *want, *cause = NULL;

	(void)state;
	xasprintf(&sub, "%s/bots.d", dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	main_path = write_file("love.ini", 0644, "[love]\nreasons_file = "
	    "love/reasons.txt\nquiz_file = /abs/quiz.ini\nempty =\n");
	free(write_file("bots.d/more.ini", 0644, "[more]\nf = data.txt\n"));
	c = bc_conf_load(main_path, &cause);
	assert_non_null(c);
	assert_int_equal(bc_conf_include(c, "bots.d/*.ini", &cause), 0);
	/* Relative: from the directory of the file that set the key. */
	assert_int_equal(bc_conf_file(c, "love", "reasons_file", NULL, &out,
	    &cause), 0);
	xasprintf(&want, "%s/love/reasons.txt", dir);
	assert_string_equal(out, want);
	free(want);
	free(out);
	assert_int_equal(bc_conf_file(c, "more", "f", NULL, &out, &cause), 0);
	xasprintf(&want, "%s/data.txt", sub);
	assert_string_equal(out, want);
	free(want);
	free(out);
	assert_int_equal(bc_conf_file(c, "love", "quiz_file", NULL, &out,
	    &cause), 0);
	assert_string_equal(out, "/abs/quiz.ini");
	free(out);
	/* Absent: NULL, or the default taken from the main file's directory. */
	assert_int_equal(bc_conf_file(c, "love", "nope", NULL, &out, &cause),
	    0);
	assert_null(out);
	assert_int_equal(bc_conf_file(c, "love", "nope", "d/x", &out, &cause),
	    0);
	xasprintf(&want, "%s/d/x", dir);
	assert_string_equal(out, want);
	free(want);
	free(out);
	/* Empty: an error with file and line. */
	assert_int_equal(bc_conf_file(c, "love", "empty", NULL, &out,
	    &cause), -1);
	assert_null(out);
	xasprintf(&want, "%s:4: [love] empty: empty path", main_path);
	assert_string_equal(cause, want);
	free(want);
	free(cause);
	bc_conf_free(c);
	free(main_path);
	free(sub);
}

static void
test_section_equal(void **state)
{
	struct bc_conf *c1, *c2;

	(void)state;
	setenv("BCT_V", "1", 1);
	c1 = load("[bot a]\nx = 1\ny = 2\n[bot b]\nx = 1\n[bot c]\nv = 1\n"
	    "[bot d]\nx = 1\n[empty]\n");
	c2 = load("[bot a]\ny = 2\nx = 1   ; same, other order\n"
	    "[bot b]\nx = 2\n[bot c]\nv = ${BCT_V}\n[bot d]\nx = 1\nz = 1\n"
	    "[bot e]\n[empty]\n");
	assert_int_equal(bc_conf_section_equal(c1, c2, "bot a"), 1);
	assert_int_equal(bc_conf_section_equal(c1, c2, "bot b"), 0);
	assert_int_equal(bc_conf_section_equal(c1, c2, "bot c"), 1);
	assert_int_equal(bc_conf_section_equal(c1, c2, "bot d"), 0);
	assert_int_equal(bc_conf_section_equal(c2, c1, "bot d"), 0);
	assert_int_equal(bc_conf_section_equal(c1, c2, "bot e"), 0);
	assert_int_equal(bc_conf_section_equal(c1, c2, "empty"), 1);
	assert_int_equal(bc_conf_section_equal(c1, c2, "nowhere"), 1);
	bc_conf_free(c1);
	bc_conf_free(c2);
	unsetenv("BCT_V");
}

static void
test_unused(void **state)
{
	static const char *const known[] = { "botd", "bot ", NULL };
	struct bc_conf *c;
	const char *s, *v;
	char *cause = NULL;
	long long n;

	(void)state;
	c = load("[botd]\nsocket = x\nsokcet = y\n[bot a]\nexec = /a\n"
	    "[bot b]\nexec = /b\ntimeot = 5\n");
	bc_conf_str(c, "botd", "socket", NULL, &s, NULL);
	bc_conf_str(c, "bot a", "exec", NULL, &s, NULL);
	bc_conf_str(c, "bot b", "exec", NULL, &s, NULL);
	assert_int_equal(bc_conf_check_unused(c, &cause), -1);
	assert_string_equal(cause, "t.ini:3: [botd] unknown key 'sokcet'");
	free(cause);
	assert_int_equal(bc_conf_check_unused_section(c, "bot a", &cause), 0);
	assert_int_equal(bc_conf_check_unused_section(c, "bot b", &cause), -1);
	assert_string_equal(cause, "t.ini:8: [bot b] unknown key 'timeot'");
	free(cause);
	/* A failed getter still counts as reading the key. */
	assert_int_equal(bc_conf_int(c, "botd", "sokcet", 0, 0, 1, &n, NULL),
	    -1);
	/* Iterating keys marks them too. */
	assert_int_equal(bc_conf_nkeys(c, "bot b"), 2);
	assert_int_equal(bc_conf_nkeys(c, "nowhere"), 0);
	assert_string_equal(bc_conf_key(c, "bot b", 1, &v), "timeot");
	assert_string_equal(v, "5");
	assert_null(bc_conf_key(c, "bot b", 2, &v));
	assert_int_equal(bc_conf_check_unused(c, &cause), 0);

	assert_int_equal(bc_conf_unknown_sections(c, known, &cause), 0);
	bc_conf_free(c);
	c = load("[botd]\n[bot x]\n[bot]\n");
	assert_int_equal(bc_conf_unknown_sections(c, known, &cause), -1);
	assert_string_equal(cause, "t.ini:3: unknown section [bot]");
	free(cause);
	bc_conf_free(c);
	c = load("[botd]\n[bots x]\n");
	assert_int_equal(bc_conf_unknown_sections(c, known, &cause), -1);
	assert_string_equal(cause, "t.ini:2: unknown section [bots x]");
	free(cause);
	bc_conf_free(c);
}

/* A conf whose [tg] token_file names dir/name. */
static struct bc_conf *
secret_conf(const char *name)
{
	struct bc_conf *c;
	char *text;

	xasprintf(&text, "[tg]\n\ntoken_file = %s/%s\n", dir, name);
	c = load(text);
	free(text);
	return c;
}

static void
test_secret_good(void **state)
{
	struct bc_conf *c;
	char *out = NULL, *cause = NULL, *main_path;

	(void)state;
	free(write_file("tok", 0600, "123456:ABC\n"));
	c = secret_conf("tok");
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", "tg_token", 1,
	    &out, &cause), 0);
	assert_string_equal(out, "123456:ABC");
	bc_conf_secret_free(out);
	bc_conf_free(c);
	bc_conf_secret_free(NULL);

	/* One newline only; CRLF; 0400 is fine too. */
	free(write_file("tok2", 0400, "abc\n\n"));
	c = secret_conf("tok2");
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", NULL, 1, &out,
	    &cause), 0);
	assert_string_equal(out, "abc\n");
	bc_conf_secret_free(out);
	bc_conf_free(c);
	free(write_file("tok3", 0600, "pass\r\n"));
	c = secret_conf("tok3");
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", NULL, 1, &out,
	    &cause), 0);
	assert_string_equal(out, "pass");
	bc_conf_secret_free(out);
	bc_conf_free(c);

	/* A relative path is taken from the config file's directory. */
	main_path = write_file("bot.ini", 0644, "[tg]\ntoken_file = tok\n");
	c = bc_conf_load(main_path, &cause);
	assert_non_null(c);
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", NULL, 1, &out,
	    &cause), 0);
	assert_string_equal(out, "123456:ABC");
	bc_conf_secret_free(out);
	assert_int_equal(bc_conf_check_unused(c, &cause), 0);
	bc_conf_free(c);
	free(main_path);
}

/* Reading dir/name as the secret fails with a message holding want. */
static void
secret_fails(const char *name, const char *want)
{
	struct bc_conf *c;
	static char sentinel[] = "unchanged";
	char *out = sentinel, *cause = NULL;

	c = secret_conf(name);
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", "tg_token", 0,
	    &out, &cause), -1);
	assert_null(out);
	assert_non_null(cause);
	if (strstr(cause, want) == NULL)
		fail_msg("'%s' not in '%s'", want, cause);
	assert_non_null(strstr(cause, "t.ini:3: [tg] token_file: "));
	free(cause);
	bc_conf_free(c);
}

static void
test_secret_bad(void **state)
{
	char *big;

	(void)state;
	secret_fails("missing", "cannot open secret file");
	secret_fails("missing", "No such file or directory");
	free(write_file("world", 0644, "s3cret\n"));
	secret_fails("world", "is accessible by group or others (mode 0644, "
	    "use 0600)");
	free(write_file("group", 0640, "s3cret\n"));
	secret_fails("group", "(mode 0640");
	free(write_file("gwrite", 0620, "s3cret\n"));
	secret_fails("gwrite", "(mode 0620");
	free(write_file("owrite", 0602, "s3cret\n"));
	secret_fails("owrite", "(mode 0602");
	free(write_file("empty", 0600, ""));
	secret_fails("empty", "is empty");
	free(write_file("newline", 0600, "\n"));
	secret_fails("newline", "is empty");
	{
		char *path;
		FILE *f;

		path = write_file("nul", 0600, "");
		assert_non_null(f = fopen(path, "w"));
		fwrite("a\0b\n", 1, 4, f);
		fclose(f);
		free(path);
	}
	secret_fails("nul", "contains a NUL byte");
	{
		char *sub;

		xasprintf(&sub, "%s/adir", dir);
		assert_int_equal(mkdir(sub, 0700), 0);
		free(sub);
	}
	secret_fails("adir", "is not a regular file");
	big = xcalloc(1, 256 * 1024);
	memset(big, 'z', 200 * 1024);
	free(write_file("big", 0600, big));
	secret_fails("big", "larger than 64 KiB");
	memset(big, 0, 256 * 1024);
	memset(big, 'z', 64 * 1024 + 1);
	free(write_file("big", 0600, big));
	secret_fails("big", "is larger than 64 KiB");
	big[64 * 1024 + 1] = '\n';
	free(write_file("big", 0600, big));
	secret_fails("big", "is larger than 64 KiB");
	big[64 * 1024 + 1] = '\0';
	/* Exactly 64 KiB plus the newline is accepted. */
	big[64 * 1024] = '\n';
	free(write_file("big", 0600, big));
	{
		struct bc_conf *c = secret_conf("big");
		char *out, *cause = NULL;

		assert_int_equal(bc_conf_secret(c, "tg", "token_file", NULL, 1,
		    &out, &cause), 0);
		assert_int_equal(strlen(out), 64 * 1024);
		bc_conf_secret_free(out);
		bc_conf_free(c);
	}
	free(big);
	{
		struct bc_conf *c = load("[tg]\ntoken_file =\n");
		char *out, *cause = NULL;

		assert_int_equal(bc_conf_secret(c, "tg", "token_file", NULL, 0,
		    &out, &cause), -1);
		assert_string_equal(cause, "t.ini:2: [tg] token_file: empty "
		    "path to a secret file");
		free(cause);
		bc_conf_free(c);
	}
}

static void
test_secret_credentials(void **state)
{
	struct bc_conf *c;
	char *out = NULL, *cause = NULL, *creds;

	(void)state;
	xasprintf(&creds, "%s/creds", dir);
	assert_int_equal(mkdir(creds, 0700), 0);
	free(write_file("creds/tg_token", 0644, "from-systemd\n"));
	free(write_file("creds/empty", 0400, ""));
	c = load("[tg]\nother = 1\n");

	/* Absent, no credentials directory. */
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", "tg_token", 0,
	    &out, &cause), 1);
	assert_null(out);
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", "tg_token", 1,
	    &out, &cause), -1);
	assert_string_equal(cause, "t.ini: [tg] token_file: required secret "
	    "is not set (nor credential 'tg_token' in $CREDENTIALS_DIRECTORY)");
	free(cause);
	assert_int_equal(bc_conf_secret(c, "nosec", "token_file", NULL, 1,
	    &out, &cause), -1);
	assert_string_equal(cause, "t.ini: [nosec] token_file: required secret "
	    "is not set");
	free(cause);

	/* From $CREDENTIALS_DIRECTORY, exempt from the mode check. */
	setenv("CREDENTIALS_DIRECTORY", creds, 1);
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", "tg_token", 1,
	    &out, &cause), 0);
	assert_string_equal(out, "from-systemd");
	bc_conf_secret_free(out);
	/* Not there: absent; empty: an error. */
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", "nope", 0,
	    &out, &cause), 1);
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", "nope", 1,
	    &out, &cause), -1);
	free(cause);
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", "empty", 0,
	    &out, &cause), -1);
	assert_non_null(strstr(cause, "credential 'empty': secret file"));
	assert_non_null(strstr(cause, "is empty"));
	free(cause);
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", "../x", 0,
	    &out, &cause), -1);
	assert_string_equal(cause, "invalid credential name '../x'");
	free(cause);
	bc_conf_free(c);

	/* A key that is set wins over the credential, mode check included. */
	free(write_file("tok", 0644, "from-file\n"));
	c = secret_conf("tok");
	assert_int_equal(bc_conf_secret(c, "tg", "token_file", "tg_token", 1,
	    &out, &cause), -1);
	assert_non_null(strstr(cause, "accessible by group or others"));
	free(cause);
	bc_conf_free(c);
	free(creds);
}

/* Random junk never crashes the loader (a poor man's fuzzer). */
static void
test_junk(void **state)
{
	static const char alphabet[] = "[]=:;# \t\n\r${}:-ab_.\\\"'\x01\xff";
	unsigned short xsubi[3] = { 1, 2, 3 };
	char text[256], *cause;
	struct bc_conf *c;
	size_t i, j, n;

	(void)state;
	setenv("a", "A", 1);
	for (i = 0; i < 20000; i++) {
		n = (size_t)(erand48(xsubi) * (sizeof text - 1));
		for (j = 0; j < n; j++)
			text[j] = alphabet[(size_t)(erand48(xsubi) *
			    (sizeof alphabet - 1))];
		text[n] = '\0';
		cause = NULL;
		c = bc_conf_load_string("j.ini", text, &cause);
		assert_true((c == NULL) != (cause == NULL));
		if (cause != NULL) {
			assert_null(strchr(cause, '\n'));
			assert_int_equal(strncmp(cause, "j.ini", 5), 0);
		}
		bc_conf_free(c);
		free(cause);
	}
	unsetenv("a");
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_basic),
		T(test_bom_crlf),
		T(test_str_default),
		T(test_int),
		T(test_bool),
		T(test_duration),
		T(test_size),
		T(test_list),
		T(test_malformed),
		T(test_env),
		T(test_load_file),
		T(test_error_format),
		T(test_include),
		T(test_file),
		T(test_section_equal),
		T(test_unused),
		T(test_secret_good),
		T(test_secret_bad),
		T(test_secret_credentials),
		T(test_junk),
	};

	return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
