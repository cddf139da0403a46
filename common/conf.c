/* INI configuration: inih parsing, typed getters, ${ENV}, secrets. */

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include <botcommon/buf.h>
#include <botcommon/conf.h>
#include <botcommon/xmalloc.h>

#define CONF_LINE_MAX	 4096		/* bytes a line, newline excluded */
#define CONF_FILE_MAX	 (1024 * 1024)
#define CONF_SECTION_MAX 49		/* inih's section buffer, less NUL */
#define CONF_SECRET_MAX	 (64 * 1024)
#define CONF_EXPAND_MAX	 8		/* nesting of ${A:-${B}} */
#define CONF_NONE	 ((size_t)-1)

/* A loaded file: its name for messages, its directory for relative paths. */
struct conf_file {
	char		*name;
	char		*dir;		/* NULL: not a path, or the cwd */
};

struct conf_key {
	char		*name;
	char		*value;		/* after ${ENV} expansion */
	int		 line;
	int		 used;
};

struct conf_sec {
	char			*name;
	const struct conf_file	*file;	/* borrowed from bc_conf files */
	int			 line;
	struct conf_key		*keys;
	size_t			 nkeys;
};

struct bc_conf {
	struct conf_file	**files;	/* [0] is the loaded one */
	size_t			  nfiles;
	struct conf_sec		 *secs;
	size_t			  nsecs;
};

/* The state of one file's parse, shared by the reader and the handler. */
struct conf_parse {
	struct bc_conf		*conf;
	const struct conf_file	*file;
	const char		*p, *end;	/* text not yet read */
	const char		*line;		/* the current line */
	size_t			 linelen;	/* without its newline */
	int			 lineno;
	size_t			 cursec;	/* index, or CONF_NONE */
	char			*cause;
};


static char conf_inline_prefixes[] = ";#";
static char conf_start_prefixes[] = ";#";


/* Set *cause (when cause is not NULL) and return -1. */
static int __attribute__((format(printf, 2, 3)))
conf_error(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause != NULL) {
		va_start(ap, fmt);
		xvasprintf(cause, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Record the first parse error as "FILE:LINE: reason"; return -1. */
static int __attribute__((format(printf, 2, 3)))
conf_perr(struct conf_parse *ps, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (ps->cause != NULL)
		return -1;
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	xasprintf(&ps->cause, "%s:%d: %s", ps->file->name, ps->lineno, msg);
	free(msg);
	return -1;
}

/* Error about a value: "FILE:LINE: [sec] key: reason"; return -1. */
static int __attribute__((format(printf, 4, 5)))
conf_verr(char **cause, const struct conf_sec *s, const struct conf_key *k,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (cause == NULL)
		return -1;
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	xasprintf(cause, "%s:%d: [%s] %s: %s", s->file->name, k->line,
	    s->name, k->name, msg);
	free(msg);
	return -1;
}

static struct conf_file *
conf_file_new(const char *name, int ispath)
{
	struct conf_file *f;
	const char *slash;

	f = xcalloc(1, sizeof *f);
	f->name = xstrdup(name);
	if (ispath && (slash = strrchr(name, '/')) != NULL)
		f->dir = slash == name ? xstrdup("/") :
		    xstrndup(name, (size_t)(slash - name));
	return f;
}

static void
conf_file_free(struct conf_file *f)
{
	free(f->name);
	free(f->dir);
	free(f);
}

static void
conf_add_file(struct bc_conf *conf, struct conf_file *f)
{
	conf->files = xreallocarray(conf->files, conf->nfiles + 1,
	    sizeof *conf->files);
	conf->files[conf->nfiles++] = f;
}

/* path, or path taken from f's directory when relative. Caller frees. */
static char *
conf_resolve(const struct conf_file *f, const char *path)
{
	char *s;

	if (path[0] == '/' || f == NULL || f->dir == NULL)
		return xstrdup(path);
	xasprintf(&s, "%s/%s", f->dir, path);
	return s;
}

static void
conf_sec_release(struct conf_sec *s)
{
	size_t i;

	for (i = 0; i < s->nkeys; i++) {
		free(s->keys[i].name);
		explicit_bzero(s->keys[i].value, strlen(s->keys[i].value));
		free(s->keys[i].value);
	}
	free(s->keys);
	free(s->name);
}

/* Drop the sections and files added after the first nsecs and nfiles. */
static void
conf_truncate(struct bc_conf *conf, size_t nsecs, size_t nfiles)
{
	while (conf->nsecs > nsecs)
		conf_sec_release(&conf->secs[--conf->nsecs]);
	while (conf->nfiles > nfiles)
		conf_file_free(conf->files[--conf->nfiles]);
}

void
bc_conf_free(struct bc_conf *conf)
{
	if (conf == NULL)
		return;
	conf_truncate(conf, 0, 0);
	free(conf->secs);
	free(conf->files);
	free(conf);
}

static struct conf_sec *
conf_get_sec(const struct bc_conf *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->nsecs; i++)
		if (strcmp(conf->secs[i].name, name) == 0)
			return &conf->secs[i];
	return NULL;
}

static struct conf_key *
conf_sec_key(const struct conf_sec *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->nkeys; i++)
		if (strcmp(s->keys[i].name, name) == 0)
			return &s->keys[i];
	return NULL;
}

/*
 * Where inih ends a token: at a char of chars, or at a comment prefix
 * after whitespace (its find_chars_or_comment), or at e.
 */
static const char *
conf_find_end(const char *s, const char *e, const char *chars)
{
	int was_space = 0;

	for (; s < e; s++) {
		if (strchr(chars, *s) != NULL)
			return s;
		if (was_space && (*s == ';' || *s == '#'))
			return s;
		was_space = isspace((unsigned char)*s);
	}
	return e;
}

/* Trim [*s, *e) of whitespace at both ends. */
static void
conf_trim(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

/* Open a section named name[0..len) at the current line. */
static int
conf_open_sec(struct conf_parse *ps, const char *name, size_t len)
{
	struct bc_conf *conf = ps->conf;
	struct conf_sec *s;
	char *n;

	n = xstrndup(name, len);
	if ((s = conf_get_sec(conf, n)) != NULL) {
		conf_perr(ps, "section [%s] already defined at %s:%d", n,
		    s->file->name, s->line);
		free(n);
		return -1;
	}
	conf->secs = xreallocarray(conf->secs, conf->nsecs + 1,
	    sizeof *conf->secs);
	s = &conf->secs[conf->nsecs];
	memset(s, 0, sizeof *s);
	s->name = n;
	s->file = ps->file;
	s->line = ps->lineno;
	ps->cursec = conf->nsecs++;
	return 0;
}

/* If the current line is a section header, check it and open it. */
static int
conf_scan_section(struct conf_parse *ps)
{
	const char *s = ps->line, *e = ps->line + ps->linelen;
	const char *name, *close, *p;

	if (ps->lineno == 1 && e - s >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	conf_trim(&s, &e);
	if (s == e || *s != '[')
		return 0;
	close = conf_find_end(s + 1, e, "]");
	if (close == e || *close != ']')
		return conf_perr(ps, "missing ']' in section header");
	name = s + 1;
	p = close;
	conf_trim(&name, &p);
	if (name == p)
		return conf_perr(ps, "empty section name");
	if (p - name > CONF_SECTION_MAX)
		return conf_perr(ps, "section name longer than %d bytes",
		    CONF_SECTION_MAX);
	for (s = name; s < p; s++)
		if (iscntrl((unsigned char)*s))
			return conf_perr(ps, "control character in section "
			    "name");
	for (s = close + 1; s < e && isspace((unsigned char)*s); s++)
		;
	if (s < e && *s != ';' && *s != '#')
		return conf_perr(ps, "unexpected text after ']'");
	return conf_open_sec(ps, name, (size_t)(p - name));
}

/* inih's reader: hand it the next line, after our own checks. */
static char *
conf_reader(char *str, int num, void *arg)
{
	struct conf_parse *ps = arg;
	const char *nl;
	size_t n;

	if (ps->cause != NULL || ps->p >= ps->end)
		return NULL;
	nl = memchr(ps->p, '\n', (size_t)(ps->end - ps->p));
	n = nl != NULL ? (size_t)(nl - ps->p) + 1 : (size_t)(ps->end - ps->p);
	ps->lineno++;
	ps->line = ps->p;
	ps->linelen = nl != NULL ? n - 1 : n;
	ps->p += n;
	if (memchr(ps->line, '\0', n) != NULL) {
		conf_perr(ps, "NUL byte in line");
		return NULL;
	}
	if (ps->linelen > CONF_LINE_MAX || num < 1 || n > (size_t)num - 1) {
		conf_perr(ps, "line longer than %d bytes", CONF_LINE_MAX);
		return NULL;
	}
	memcpy(str, ps->line, n);
	str[n] = '\0';
	if (conf_scan_section(ps) == -1)
		return NULL;
	return str;
}

/* Is name a valid key name? */
static int
conf_key_valid(const char *name)
{
	const char *p;

	if (*name == '\0')
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("_-.", *p) == NULL)
			return 0;
	return 1;
}

static int conf_expand(struct bc_buf *, const char *, size_t, int,
    char **);

/* Expand the ${...} whose body is s[0..len). */
static int
conf_expand_var(struct bc_buf *b, const char *s, size_t len, int depth,
    char **why)
{
	const char *val;
	size_t n = 0;
	char *name;
	int hasdef, r = 0;

	while (n < len && (isalnum((unsigned char)s[n]) || s[n] == '_'))
		n++;
	hasdef = n + 1 < len && s[n] == ':' && s[n + 1] == '-';
	if (n == 0 || isdigit((unsigned char)s[0]) || (n < len && !hasdef)) {
		xasprintf(why, "bad substitution '${%.*s}'", (int)len, s);
		return -1;
	}
	name = xstrndup(s, n);
	val = getenv(name);
	if (val != NULL && (!hasdef || *val != '\0'))
		bc_buf_add(b, val, strlen(val));
	else if (!hasdef) {
		xasprintf(why, "environment variable '%s' is not set", name);
		r = -1;
	} else if (depth >= CONF_EXPAND_MAX) {
		xasprintf(why, "'${' nested too deeply");
		r = -1;
	} else
		r = conf_expand(b, s + n + 2, len - n - 2, depth + 1, why);
	free(name);
	return r;
}

/* The index of the '}' closing the "${" at s[i], or len. */
static size_t
conf_closing_brace(const char *s, size_t i, size_t len)
{
	int level = 0;

	for (i += 2; i < len; i++) {
		if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
			level++;
			i++;
		} else if (s[i] == '}' && level-- == 0)
			return i;
	}
	return len;
}

/* Append the expansion of s[0..len) to b; -1 with *why on error. */
static int
conf_expand(struct bc_buf *b, const char *s, size_t len, int depth,
    char **why)
{
	size_t i = 0, j;

	bc_buf_add(b, "", 0);
	while (i < len) {
		if (s[i] != '$' || i + 1 == len ||
		    (s[i + 1] != '$' && s[i + 1] != '{')) {
			bc_buf_add(b, s + i, 1);
			i++;
		} else if (s[i + 1] == '$') {
			bc_buf_add(b, "$", 1);
			i += 2;
		} else {
			if ((j = conf_closing_brace(s, i, len)) == len) {
				xasprintf(why, "unterminated '${'");
				return -1;
			}
			if (conf_expand_var(b, s + i + 2, j - i - 2, depth,
			    why) == -1)
				return -1;
			i = j + 1;
		}
	}
	return 0;
}

/* Add key name = value to the current section. */
static int
conf_add_key(struct conf_parse *ps, const char *name, const char *value)
{
	struct conf_sec *s;
	struct conf_key *k;
	struct bc_buf b = BC_BUF_ZERO;
	const char *sep;
	char *why = NULL;

	if (ps->cursec == CONF_NONE)
		return conf_perr(ps, "key '%s' outside of any section", name);
	s = &ps->conf->secs[ps->cursec];
	sep = conf_find_end(ps->line, ps->line + ps->linelen, "=:");
	if (sep == ps->line + ps->linelen || *sep != '=')
		return conf_perr(ps, "expected 'key = value'");
	if (!conf_key_valid(name))
		return conf_perr(ps, "[%s] invalid key name '%s'", s->name,
		    name);
	if ((k = conf_sec_key(s, name)) != NULL)
		return conf_perr(ps, "[%s] duplicate key '%s' (first set on "
		    "line %d)", s->name, name, k->line);
	if (conf_expand(&b, value, strlen(value), 0, &why) == -1) {
		conf_perr(ps, "[%s] %s: %s", s->name, name, why);
		free(why);
		free(b.p);
		return -1;
	}
	s->keys = xreallocarray(s->keys, s->nkeys + 1, sizeof *s->keys);
	k = &s->keys[s->nkeys++];
	k->name = xstrdup(name);
	k->value = b.p;
	k->line = ps->lineno;
	k->used = 0;
	return 0;
}

/* inih's handler: nonzero on success. */
static int
conf_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	(void)section;	/* untrimmed there; ours is ps->cursec */
	return conf_add_key(arg, name, value) == 0;
}

/* Set inih's process-wide options the way our syntax wants them. */
static void
conf_ini_setup(void)
{
	ini_allow_bom = true;
	ini_allow_multiline = false;
	ini_allow_inline_comments = true;
	ini_inline_comment_prefixes = conf_inline_prefixes;
	ini_start_comment_prefixes = conf_start_prefixes;
	ini_allow_no_value = false;
	ini_stop_on_first_error = true;
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_initial_alloc = CONF_LINE_MAX + 3;
	ini_max_line = CONF_LINE_MAX + 3;
}

/* Parse text[0..len) of file f into conf. */
static int
conf_parse(struct bc_conf *conf, const struct conf_file *f, const char *text,
    size_t len, char **cause)
{
	struct conf_parse ps;
	int rc;

	memset(&ps, 0, sizeof ps);
	ps.conf = conf;
	ps.file = f;
	ps.p = text;
	ps.end = text + len;
	ps.cursec = CONF_NONE;
	conf_ini_setup();
	rc = ini_parse_stream(conf_reader, &ps, conf_handler, &ps);
	if (ps.cause == NULL && rc == -2)
		xasprintf(&ps.cause, "%s: out of memory", f->name);
	else if (ps.cause == NULL && rc != 0)
		xasprintf(&ps.cause, "%s:%d: expected '[section]' or "
		    "'key = value'", f->name, rc);
	if (ps.cause == NULL)
		return 0;
	if (cause != NULL)
		*cause = ps.cause;
	else
		free(ps.cause);
	return -1;
}

/*
 * Read a whole file of at most max bytes into one buffer of max + 2 bytes
 * (never moved, so a secret leaves no copy behind); *text is
 * NUL-terminated. -1 with errno EFBIG when the file is larger.
 */
static int
conf_slurp(int fd, size_t max, char **text, size_t *len)
{
	size_t n = 0;
	ssize_t r;
	char *p;

	p = xmalloc(max + 2);
	while (n <= max) {
		r = read(fd, p + n, max + 1 - n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			free(p);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		explicit_bzero(p, n);
		free(p);
		errno = EFBIG;
		return -1;
	}
	p[n] = '\0';
	*text = p;
	*len = n;
	return 0;
}

/* Read and parse the file at path, adding it to conf. */
static int
conf_load_file(struct bc_conf *conf, const char *path, char **cause)
{
	struct conf_file *f;
	struct stat st;
	char *text = NULL;
	size_t len;
	int fd, r = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return conf_error(cause, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1) {
		conf_error(cause, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		conf_error(cause, "%s: %s", path, strerror(EISDIR));
		goto out;
	}
	if (conf_slurp(fd, CONF_FILE_MAX, &text, &len) == -1) {
		conf_error(cause, "%s: %s", path, errno == EFBIG ?
		    "file larger than 1 MiB" : strerror(errno));
		goto out;
	}
	f = conf_file_new(path, 1);
	conf_add_file(conf, f);
	r = conf_parse(conf, f, text, len, cause);
out:
	free(text);
	close(fd);
	return r;
}

struct bc_conf *
bc_conf_load(const char *path, char **cause)
{
	struct bc_conf *conf;

	conf = xcalloc(1, sizeof *conf);
	if (conf_load_file(conf, path, cause) == -1) {
		bc_conf_free(conf);
		return NULL;
	}
	return conf;
}

struct bc_conf *
bc_conf_load_string(const char *name, const char *text, char **cause)
{
	struct bc_conf *conf;
	struct conf_file *f;

	conf = xcalloc(1, sizeof *conf);
	f = conf_file_new(name, 0);
	conf_add_file(conf, f);
	if (conf_parse(conf, f, text, strlen(text), cause) == -1) {
		bc_conf_free(conf);
		return NULL;
	}
	return conf;
}

const char *
bc_conf_path(const struct bc_conf *conf)
{
	return conf->files[0]->name;
}

static int	conf_glob_errno;
static char	conf_glob_epath[1024];

/* glob(3) error callback: a missing directory is no match; else stop. */
static int
conf_glob_error(const char *epath, int eerrno)
{
	if (eerrno == ENOENT || eerrno == ENOTDIR)
		return 0;
	conf_glob_errno = eerrno;
	snprintf(conf_glob_epath, sizeof conf_glob_epath, "%s", epath);
	return 1;
}

static int
conf_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
bc_conf_include(struct bc_conf *conf, const char *pattern, char **cause)
{
	size_t nsecs = conf->nsecs, nfiles = conf->nfiles, i;
	glob_t g;
	char *full;
	int r;

	full = conf_resolve(conf->files[0], pattern);
	conf_glob_errno = 0;
	r = glob(full, GLOB_NOSORT, conf_glob_error, &g);
	if (r != 0 && r != GLOB_NOMATCH) {
		if (r == GLOB_ABORTED && conf_glob_errno != 0)
			conf_error(cause, "%s: %s", conf_glob_epath,
			    strerror(conf_glob_errno));
		else
			conf_error(cause, "%s: cannot expand pattern", full);
		goto fail;
	}
	if (r == 0)
		qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv,
		    conf_strcmp);
	for (i = 0; r == 0 && i < g.gl_pathc; i++) {
		if (conf_load_file(conf, g.gl_pathv[i], cause) == -1) {
			conf_truncate(conf, nsecs, nfiles);
			goto fail;
		}
	}
	globfree(&g);
	free(full);
	return 0;

fail:
	globfree(&g);
	free(full);
	return -1;
}

size_t
bc_conf_nsections(const struct bc_conf *conf)
{
	return conf->nsecs;
}

const char *
bc_conf_section(const struct bc_conf *conf, size_t i)
{
	return i < conf->nsecs ? conf->secs[i].name : NULL;
}

int
bc_conf_has_section(const struct bc_conf *conf, const char *section)
{
	return conf_get_sec(conf, section) != NULL;
}

int
bc_conf_section_equal(const struct bc_conf *a, const struct bc_conf *b,
    const char *section)
{
	const struct conf_sec *sa, *sb;
	const struct conf_key *k;
	size_t i;

	sa = conf_get_sec(a, section);
	sb = conf_get_sec(b, section);
	if (sa == NULL || sb == NULL)
		return sa == sb;
	if (sa->nkeys != sb->nkeys)
		return 0;
	/* Names are unique in a section, so one direction is enough. */
	for (i = 0; i < sa->nkeys; i++) {
		k = conf_sec_key(sb, sa->keys[i].name);
		if (k == NULL || strcmp(k->value, sa->keys[i].value) != 0)
			return 0;
	}
	return 1;
}

size_t
bc_conf_nkeys(const struct bc_conf *conf, const char *sec)
{
	const struct conf_sec *s;

	return (s = conf_get_sec(conf, sec)) != NULL ? s->nkeys : 0;
}

const char *
bc_conf_key(struct bc_conf *conf, const char *sec, size_t i,
    const char **value)
{
	struct conf_sec *s;

	if ((s = conf_get_sec(conf, sec)) == NULL || i >= s->nkeys)
		return NULL;
	s->keys[i].used = 1;
	if (value != NULL)
		*value = s->keys[i].value;
	return s->keys[i].name;
}

/* The key sec.key marked as used, or NULL; *sp is its section. */
static struct conf_key *
conf_lookup(struct bc_conf *conf, const char *sec, const char *key,
    struct conf_sec **sp)
{
	struct conf_key *k;

	if ((*sp = conf_get_sec(conf, sec)) == NULL)
		return NULL;
	if ((k = conf_sec_key(*sp, key)) != NULL)
		k->used = 1;
	return k;
}

int
bc_conf_str(struct bc_conf *conf, const char *sec, const char *key,
    const char *def, const char **out, char **cause)
{
	struct conf_sec *s;
	struct conf_key *k;

	(void)cause;
	k = conf_lookup(conf, sec, key, &s);
	*out = k != NULL ? k->value : def;
	return 0;
}

int
bc_conf_file(struct bc_conf *conf, const char *sec, const char *key,
    const char *def, char **out, char **cause)
{
	struct conf_sec *s;
	struct conf_key *k;

	*out = NULL;
	if ((k = conf_lookup(conf, sec, key, &s)) == NULL) {
		if (def != NULL)
			*out = conf_resolve(conf->nfiles > 0 ? conf->files[0] :
			    NULL, def);
		return 0;
	}
	if (*k->value == '\0')
		return conf_verr(cause, s, k, "empty path");
	*out = conf_resolve(s->file, k->value);
	return 0;
}

int
bc_conf_int(struct bc_conf *conf, const char *sec, const char *key,
    long long def, long long min, long long max, long long *out,
    char **cause)
{
	struct conf_sec *s;
	struct conf_key *k;
	const char *v;
	char *end;
	long long n;

	if ((k = conf_lookup(conf, sec, key, &s)) == NULL) {
		*out = def;
		return 0;
	}
	v = k->value;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || *end != '\0' || isspace((unsigned char)*v))
		return conf_verr(cause, s, k, "'%s' is not an integer", v);
	if (errno == ERANGE || n < min || n > max)
		return conf_verr(cause, s, k, "'%s' is out of range (%lld to "
		    "%lld)", v, min, max);
	*out = n;
	return 0;
}

int
bc_conf_bool(struct bc_conf *conf, const char *sec, const char *key,
    int def, int *out, char **cause)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	struct conf_sec *s;
	struct conf_key *k;
	size_t i;

	if ((k = conf_lookup(conf, sec, key, &s)) == NULL) {
		*out = def;
		return 0;
	}
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(k->value, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(k->value, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return conf_verr(cause, s, k, "'%s' is not a boolean (use yes or no)",
	    k->value);
}

/*
 * Read the digits at *pp into *n. Returns 0, -1 when there is no digit,
 * or -2 on overflow.
 */
static int
conf_digits(const char **pp, uint64_t *n)
{
	const char *p = *pp;
	uint64_t v = 0;
	int over = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++)
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			over = 1;
	*pp = p;
	*n = v;
	return over ? -2 : 0;
}

/* Duration units, in the order they are tried; rank 0 is the largest. */
static const struct {
	const char	*name;
	int		 rank;
	int64_t		 ms;
} conf_units[] = {
	{ "d", 0, 86400000 }, { "h", 1, 3600000 }, { "ms", 4, 1 },
	{ "m", 2, 60000 }, { "s", 3, 1000 },
};

/* The index in conf_units of the unit at *pp, advancing past it; or -1. */
static int
conf_unit(const char **pp)
{
	size_t i, n;

	for (i = 0; i < sizeof conf_units / sizeof conf_units[0]; i++) {
		n = strlen(conf_units[i].name);
		if (strncmp(*pp, conf_units[i].name, n) == 0) {
			*pp += n;
			return (int)i;
		}
	}
	return -1;
}

/* Parse a duration; -1 with *why (static text) on error. */
static int
conf_parse_duration(const char *s, int64_t *out, const char **why)
{
	const char *p = s;
	uint64_t n;
	int64_t total = 0, t, ms;
	int last = -1, u, r;

	*why = "is not a duration (use 90s, 5m, 1h)";
	if (*s == '-') {
		*why = "is negative";
		return -1;
	}
	while (*p != '\0') {
		if ((r = conf_digits(&p, &n)) == -1)
			return -1;
		if (*p == '\0' && last == -1) {
			ms = 1000;	/* a bare number: seconds */
			last = 3;
		} else if ((u = conf_unit(&p)) == -1 ||
		    conf_units[u].rank <= last)
			return -1;
		else {
			ms = conf_units[u].ms;
			last = conf_units[u].rank;
		}
		if (r == -2 || n > INT64_MAX ||
		    __builtin_mul_overflow((int64_t)n, ms, &t) ||
		    __builtin_add_overflow(total, t, &total)) {
			*why = "is out of range";
			return -1;
		}
	}
	if (last == -1)
		return -1;
	*out = total;
	return 0;
}

int
bc_conf_duration(struct bc_conf *conf, const char *sec, const char *key,
    int64_t def_ms, int64_t *out_ms, char **cause)
{
	struct conf_sec *s;
	struct conf_key *k;
	const char *why;

	if ((k = conf_lookup(conf, sec, key, &s)) == NULL) {
		*out_ms = def_ms;
		return 0;
	}
	if (conf_parse_duration(k->value, out_ms, &why) == -1)
		return conf_verr(cause, s, k, "'%s' %s", k->value, why);
	return 0;
}

/* The power of 1024 a size suffix stands for, or -1. */
static int
conf_size_unit(const char *p)
{
	static const char units[] = "KMGT";
	const char *u;

	if (*p == '\0' || strcasecmp(p, "b") == 0)
		return 0;
	if ((u = strchr(units, toupper((unsigned char)*p))) == NULL)
		return -1;
	p++;
	if (*p == '\0' || strcasecmp(p, "b") == 0 || strcasecmp(p, "ib") == 0)
		return (int)(u - units) + 1;
	return -1;
}

/* Parse a size; -1 with *why (static text) on error. */
static int
conf_parse_size(const char *s, uint64_t *out, const char **why)
{
	const char *p = s;
	uint64_t n;
	int r, pow;

	*why = "is not a size (use 512K, 10M, 1G)";
	if (*s == '-') {
		*why = "is negative";
		return -1;
	}
	if ((r = conf_digits(&p, &n)) == -1)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if ((pow = conf_size_unit(p)) == -1)
		return -1;
	if (r == -2 || (pow > 0 && n > (UINT64_MAX >> (10 * pow)))) {
		*why = "is out of range";
		return -1;
	}
	*out = n << (10 * pow);
	return 0;
}

int
bc_conf_size(struct bc_conf *conf, const char *sec, const char *key,
    uint64_t def, uint64_t *out, char **cause)
{
	struct conf_sec *s;
	struct conf_key *k;
	const char *why;

	if ((k = conf_lookup(conf, sec, key, &s)) == NULL) {
		*out = def;
		return 0;
	}
	if (conf_parse_size(k->value, out, &why) == -1)
		return conf_verr(cause, s, k, "'%s' %s", k->value, why);
	return 0;
}

int
bc_conf_list(struct bc_conf *conf, const char *sec, const char *key,
    char ***out, size_t *n, char **cause)
{
	struct conf_sec *s;
	struct conf_key *k;
	const char *p, *e, *comma;

	(void)cause;
	*out = NULL;
	*n = 0;
	if ((k = conf_lookup(conf, sec, key, &s)) == NULL)
		return 0;
	for (p = k->value; p != NULL; p = comma != NULL ? comma + 1 : NULL) {
		comma = strchr(p, ',');
		e = comma != NULL ? comma : p + strlen(p);
		conf_trim(&p, &e);
		if (p == e)
			continue;
		*out = xreallocarray(*out, *n + 1, sizeof **out);
		(*out)[(*n)++] = xstrndup(p, (size_t)(e - p));
	}
	return 0;
}

void
bc_conf_list_free(char **list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* Check an open secret file and read it into *out. */
static int
conf_read_secret_fd(int fd, const char *path, int check_mode, char **out,
    char **why)
{
	struct stat st;
	char *text;
	size_t len, size;

	if (fstat(fd, &st) == -1)
		return conf_error(why, "secret file '%s': %s", path,
		    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return conf_error(why, "secret file '%s' is not a regular "
		    "file", path);
	if (check_mode && (st.st_mode & 077) != 0)
		return conf_error(why, "secret file '%s' is accessible by "
		    "group or others (mode %04o, use 0600)", path,
		    (unsigned)(st.st_mode & 07777));
	/* Room for a \r\n after the longest secret. */
	if (conf_slurp(fd, CONF_SECRET_MAX + 2, &text, &len) == -1)
		return conf_error(why, "secret file '%s': %s", path,
		    errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
	size = len;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len] == '\n' && text[len - 1] == '\r')
		len--;
	if (len == 0 || len > CONF_SECRET_MAX ||
	    memchr(text, '\0', len) != NULL) {
		explicit_bzero(text, size);
		free(text);
		return conf_error(why, "secret file '%s' %s", path,
		    len == 0 ? "is empty" : len > CONF_SECRET_MAX ?
		    "is larger than 64 KiB" : "contains a NUL byte");
	}
	*out = xstrndup(text, len);
	explicit_bzero(text, size);
	free(text);
	return 0;
}

/*
 * Read the secret at path. Returns 0, 1 when the file does not exist, -1
 * on other errors; *why is set (caller frees) unless 0 is returned.
 */
static int
conf_read_secret(const char *path, int check_mode, char **out, char **why)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		r = errno == ENOENT ? 1 : -1;
		conf_error(why, "cannot open secret file '%s': %s", path,
		    strerror(errno));
		return r;
	}
	r = conf_read_secret_fd(fd, path, check_mode, out, why);
	close(fd);
	return r;
}

/* The secret from $CREDENTIALS_DIRECTORY/credname: 0, 1 absent, -1. */
static int
conf_credential(const char *credname, char **out, char **cause)
{
	const char *dir;
	char *path, *why = NULL;
	int r;

	if (credname == NULL || (dir = getenv("CREDENTIALS_DIRECTORY")) ==
	    NULL || *dir == '\0')
		return 1;
	if (*credname == '\0' || strchr(credname, '/') != NULL ||
	    strcmp(credname, ".") == 0 || strcmp(credname, "..") == 0)
		return conf_error(cause, "invalid credential name '%s'",
		    credname);
	xasprintf(&path, "%s/%s", dir, credname);
	r = conf_read_secret(path, 0, out, &why);
	if (r == -1)
		conf_error(cause, "credential '%s': %s", credname, why);
	free(why);
	free(path);
	return r;
}

int
bc_conf_secret(struct bc_conf *conf, const char *sec, const char *key,
    const char *credname, int required, char **out, char **cause)
{
	struct conf_sec *s;
	struct conf_key *k;
	const char *file;
	char *path, *why = NULL;
	int r;

	*out = NULL;
	if ((k = conf_lookup(conf, sec, key, &s)) != NULL) {
		if (*k->value == '\0')
			return conf_verr(cause, s, k, "empty path to a secret "
			    "file");
		path = conf_resolve(s->file, k->value);
		if (conf_read_secret(path, 1, out, &why) != 0)
			conf_verr(cause, s, k, "%s", why);
		free(path);
		free(why);
		return *out != NULL ? 0 : -1;
	}
	if ((r = conf_credential(credname, out, cause)) != 1)
		return r;
	if (!required)
		return 1;
	file = s != NULL ? s->file->name : bc_conf_path(conf);
	if (credname == NULL)
		return conf_error(cause, "%s: [%s] %s: required secret is "
		    "not set", file, sec, key);
	return conf_error(cause, "%s: [%s] %s: required secret is not set "
	    "(nor credential '%s' in $CREDENTIALS_DIRECTORY)", file, sec, key,
	    credname);
}

void
bc_conf_secret_free(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

int
bc_conf_check_unused_section(struct bc_conf *conf, const char *sec,
    char **cause)
{
	const struct conf_sec *s;
	size_t i;

	if ((s = conf_get_sec(conf, sec)) == NULL)
		return 0;
	for (i = 0; i < s->nkeys; i++)
		if (!s->keys[i].used)
			return conf_error(cause, "%s:%d: [%s] unknown key '%s'",
			    s->file->name, s->keys[i].line, s->name,
			    s->keys[i].name);
	return 0;
}

int
bc_conf_check_unused(struct bc_conf *conf, char **cause)
{
	size_t i;

	for (i = 0; i < conf->nsecs; i++)
		if (bc_conf_check_unused_section(conf, conf->secs[i].name,
		    cause) == -1)
			return -1;
	return 0;
}

/* Does name match one entry of known? */
static int
conf_known(const char *name, const char *const *known)
{
	size_t n;

	for (; *known != NULL; known++) {
		n = strlen(*known);
		if (n > 0 && (*known)[n - 1] == ' ') {
			if (strncmp(name, *known, n) == 0 && name[n] != '\0')
				return 1;
		} else if (strcmp(name, *known) == 0)
			return 1;
	}
	return 0;
}

int
bc_conf_unknown_sections(const struct bc_conf *conf,
    const char *const *known, char **cause)
{
	const struct conf_sec *s;
	size_t i;

	for (i = 0; i < conf->nsecs; i++) {
		s = &conf->secs[i];
		if (!conf_known(s->name, known))
			return conf_error(cause, "%s:%d: unknown section [%s]",
			    s->file->name, s->line, s->name);
	}
	return 0;
}
