/*
 * promcheck: a strict checker of the Prometheus text exposition format
 * 0.0.4, for tests of /metrics endpoints.
 *
 *   promcheck [FILE]	(standard input without FILE)
 *
 * Exits 0 when the text is valid, 1 with "promcheck: line N: reason" on
 * standard error at the first error, 2 on a usage or read error.
 *
 * Checked: every line ends with a line feed (the last one too), no
 * carriage returns, valid UTF-8; "# HELP name text" (escapes \\ and \n
 * only) and "# TYPE name type" (counter, gauge, histogram, summary,
 * untyped) at most once per family and before its samples; metric names
 * [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and not
 * "__"-prefixed, no label twice in a sample; label values quoted with
 * the escapes \\, \" and \n only; values as Go's ParseFloat reads them
 * in decimal (+Inf, -Inf, NaN); an optional integer timestamp; a
 * family's lines all together; no series twice. Counters are not
 * negative. For a histogram: only _bucket (with an "le" of a float),
 * _sum and _count samples; per series, le strictly increasing up to
 * "+Inf", bucket counts not decreasing, and _sum and _count present with
 * _count equal to the +Inf bucket. For a summary: "quantile" in [0, 1]
 * on the plain samples, and _sum and _count present.
 */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PC_MAXLABELS	64

enum pc_type { PC_UNTYPED, PC_COUNTER, PC_GAUGE, PC_HISTOGRAM, PC_SUMMARY };

static const char *pc_type_names[] = {
	"untyped", "counter", "gauge", "histogram", "summary"
};

/* One series of a histogram or summary: its state across samples. */
struct pc_series {
	struct pc_series	*next;
	char			*key;		/* labels but le/quantile */
	long			 line;		/* first seen */
	int			 nbuckets;
	double			 last_le;
	double			 last_count;
	int			 have_inf;
	double			 inf_count;
	int			 have_sum;
	int			 have_count;
	double			 count;
	int			 nquantiles;
};

struct pc_family {
	struct pc_family	*next;
	char			*name;
	enum pc_type		 type;
	int			 have_help;
	int			 have_type;
	int			 nsamples;
	int			 closed;	/* another family came after */
	struct pc_series	*series;
};

struct pc_label {
	char	*name;
	char	*value;		/* unescaped */
};

/* A parsed sample line. */
struct pc_sample {
	char		*name;
	struct pc_label	 labels[PC_MAXLABELS];
	int		 nlabels;
	double		 value;
};

struct pc_state {
	long			 line;
	struct pc_family	*fams;
	struct pc_family	*cur;		/* the last line's family */
	char			**seen;		/* series keys, open hash */
	size_t			 nseen;
	size_t			 seensize;
	char			 err[256];
};

/* ------------------------------------------------------------ helpers */

static void *
pc_alloc(size_t n)
{
	void *p;

	if ((p = calloc(1, n == 0 ? 1 : n)) == NULL) {
		fprintf(stderr, "promcheck: out of memory\n");
		exit(2);
	}
	return p;
}

static char *
pc_strndup(const char *s, size_t n)
{
	char *p = pc_alloc(n + 1);

	memcpy(p, s, n);
	return p;
}

/* Record the first error; always returns -1. */
static int __attribute__((format(printf, 2, 3)))
pc_fail(struct pc_state *st, const char *fmt, ...)
{
	va_list ap;

	if (st->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(st->err, sizeof st->err, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
pc_is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
pc_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static const char *
pc_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Length of the metric (colon) or label name at s; 0 if none. */
static size_t
pc_name_len(const char *s, int colon)
{
	size_t n = 0;

	if (!pc_is_alpha(s[0]) && !(colon && s[0] == ':'))
		return 0;
	while (pc_is_alpha(s[n]) || pc_is_digit(s[n]) ||
	    (colon && s[n] == ':'))
		n++;
	return n;
}

/* Is s (whole) a float as the format has them? Stores it in *v. */
static int
pc_float(const char *s, double *v)
{
	const char *p = s;
	int digits = 0;

	if (strcmp(s, "+Inf") == 0 || strcmp(s, "Inf") == 0) {
		*v = INFINITY;
		return 0;
	}
	if (strcmp(s, "-Inf") == 0) {
		*v = -INFINITY;
		return 0;
	}
	if (strcmp(s, "NaN") == 0) {
		*v = NAN;
		return 0;
	}
	if (*p == '+' || *p == '-')
		p++;
	for (; pc_is_digit(*p); p++)
		digits++;
	if (*p == '.')
		for (p++; pc_is_digit(*p); p++)
			digits++;
	if (digits == 0)
		return -1;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!pc_is_digit(*p))
			return -1;
		while (pc_is_digit(*p))
			p++;
	}
	if (*p != '\0')
		return -1;
	errno = 0;
	*v = strtod(s, NULL);
	return 0;
}

/* Is s (whole) an int64 timestamp? */
static int
pc_timestamp(const char *s)
{
	char *end;

	if (!pc_is_digit(*s) && !(*s == '-' && pc_is_digit(s[1])))
		return -1;
	errno = 0;
	(void)strtoll(s, &end, 10);
	return *end == '\0' && errno == 0 ? 0 : -1;
}

/* Is the line valid UTF-8 (no overlongs, surrogates or > U+10FFFF)? */
static int
pc_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, k, len;
	uint32_t c;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf)
			len = 2, c = s[i] & 0x1f;
		else if (s[i] >= 0xe0 && s[i] <= 0xef)
			len = 3, c = s[i] & 0x0f;
		else if (s[i] >= 0xf0 && s[i] <= 0xf4)
			len = 4, c = s[i] & 0x07;
		else
			return -1;
		if (i + len > n)
			return -1;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			c = c << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
		    (len == 4 && (c < 0x10000 || c > 0x10ffff)))
			return -1;
		i += len;
	}
	return 0;
}

/* ------------------------------------------------------------ series set */

static uint64_t
pc_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* Add key (taking it) to the set; -1 (key freed) if it was there. */
static int
pc_seen_add(struct pc_state *st, char *key)
{
	size_t i, j, mask;
	char **old;

	if (st->nseen * 2 >= st->seensize) {
		old = st->seen;
		j = st->seensize;
		st->seensize = j == 0 ? 64 : j * 2;
		st->seen = pc_alloc(st->seensize * sizeof *st->seen);
		st->nseen = 0;
		for (i = 0; i < j; i++)
			if (old[i] != NULL)
				pc_seen_add(st, old[i]);
		free(old);
	}
	mask = st->seensize - 1;
	for (i = pc_hash(key) & mask; st->seen[i] != NULL; i = (i + 1) & mask)
		if (strcmp(st->seen[i], key) == 0) {
			free(key);
			return -1;
		}
	st->seen[i] = key;
	st->nseen++;
	return 0;
}

static int
pc_label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pc_label *)a)->name,
	    ((const struct pc_label *)b)->name);
}

/*
 * The identity of s: its name, then its labels sorted by name, leaving
 * out the label skip (NULL: none). Caller frees.
 */
static char *
pc_key(const struct pc_sample *s, const char *skip)
{
	struct pc_label sorted[PC_MAXLABELS];
	size_t len = strlen(s->name) + 2;
	char *key;
	int i;

	memcpy(sorted, s->labels, s->nlabels * sizeof sorted[0]);
	qsort(sorted, s->nlabels, sizeof sorted[0], pc_label_cmp);
	for (i = 0; i < s->nlabels; i++)
		len += strlen(sorted[i].name) + strlen(sorted[i].value) + 2;
	key = pc_alloc(len);
	strcpy(key, s->name);
	for (i = 0; i < s->nlabels; i++) {
		if (skip != NULL && strcmp(sorted[i].name, skip) == 0)
			continue;
		strcat(key, "\xff");
		strcat(key, sorted[i].name);
		strcat(key, "=");
		strcat(key, sorted[i].value);
	}
	return key;
}

/* ------------------------------------------------------------ families */

static struct pc_family *
pc_family_find(struct pc_state *st, const char *name, size_t n)
{
	struct pc_family *f;

	for (f = st->fams; f != NULL; f = f->next)
		if (strlen(f->name) == n && strncmp(f->name, name, n) == 0)
			return f;
	return NULL;
}

/* The histogram or summary series key (name without suffix) in f. */
static struct pc_series *
pc_series_get(struct pc_state *st, struct pc_family *f, const char *key)
{
	struct pc_series *s, **pp;

	for (pp = &f->series; (s = *pp) != NULL; pp = &s->next)
		if (strcmp(s->key, key) == 0)
			return s;
	s = pc_alloc(sizeof *s);
	s->key = pc_strndup(key, strlen(key));
	s->line = st->line;
	s->last_le = -INFINITY;
	*pp = s;
	return s;
}

/* A family is over: check its histogram and summary series. */
static int
pc_family_close(struct pc_state *st, struct pc_family *f)
{
	struct pc_series *s;

	f->closed = 1;
	if (f->type != PC_HISTOGRAM && f->type != PC_SUMMARY)
		return 0;
	for (s = f->series; s != NULL; s = s->next) {
		st->line = s->line;
		if (f->type == PC_HISTOGRAM && !s->have_inf)
			return pc_fail(st, "histogram %s: a series has no "
			    "le=\"+Inf\" bucket", f->name);
		if (!s->have_sum || !s->have_count)
			return pc_fail(st, "%s %s: a series has no %s",
			    pc_type_names[f->type], f->name,
			    !s->have_sum ? "_sum" : "_count");
		if (f->type == PC_HISTOGRAM && s->count != s->inf_count)
			return pc_fail(st, "histogram %s: _count %g differs "
			    "from the +Inf bucket %g", f->name, s->count,
			    s->inf_count);
	}
	return 0;
}

/*
 * Make f the current family (NULL: none): the one before is closed, and
 * coming back to a closed family is an error.
 */
static int
pc_family_enter(struct pc_state *st, struct pc_family *f)
{
	long line = st->line;

	if (f == st->cur)
		return 0;
	if (f != NULL && f->closed)
		return pc_fail(st, "lines of %s are not together (it appeared "
		    "earlier)", f->name);
	if (st->cur != NULL && pc_family_close(st, st->cur) == -1)
		return -1;
	st->line = line;
	st->cur = f;
	return 0;
}

static struct pc_family *
pc_family_new(struct pc_state *st, const char *name, size_t n)
{
	struct pc_family *f = pc_alloc(sizeof *f), **pp;

	f->name = pc_strndup(name, n);
	for (pp = &st->fams; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = f;
	return f;
}

static void
pc_free(struct pc_state *st)
{
	struct pc_family *f, *fn;
	struct pc_series *s, *sn;
	size_t i;

	for (f = st->fams; f != NULL; f = fn) {
		fn = f->next;
		for (s = f->series; s != NULL; s = sn) {
			sn = s->next;
			free(s->key);
			free(s);
		}
		free(f->name);
		free(f);
	}
	for (i = 0; i < st->seensize; i++)
		free(st->seen[i]);
	free(st->seen);
}

/* ------------------------------------------------------------ comments */

/* Check the escapes of a HELP text. */
static int
pc_help_text(struct pc_state *st, const char *p)
{
	for (; *p != '\0'; p++)
		if (*p == '\\') {
			if (p[1] != '\\' && p[1] != 'n')
				return pc_fail(st, "bad escape \"\\%c\" in "
				    "HELP (only \\\\ and \\n)", p[1]);
			p++;
		}
	return 0;
}

static int
pc_type_parse(const char *s, enum pc_type *t)
{
	size_t i;

	for (i = 0; i < sizeof pc_type_names / sizeof pc_type_names[0]; i++)
		if (strcmp(s, pc_type_names[i]) == 0) {
			*t = (enum pc_type)i;
			return 0;
		}
	return -1;
}

/* "# HELP name text" or "# TYPE name type" (p after "# HELP"). */
static int
pc_meta(struct pc_state *st, const char *p, int help)
{
	const char *what = help ? "HELP" : "TYPE";
	struct pc_family *f;
	enum pc_type t;
	size_t n;

	if (*p != ' ' && *p != '\t')
		return pc_fail(st, "no metric name after # %s", what);
	while (*p == ' ' || *p == '\t')
		p++;
	if ((n = pc_name_len(p, 1)) == 0)
		return pc_fail(st, "bad metric name in # %s", what);
	if (p[n] != '\0' && p[n] != ' ' && p[n] != '\t')
		return pc_fail(st, "bad metric name in # %s", what);
	if ((f = pc_family_find(st, p, n)) == NULL)
		f = pc_family_new(st, p, n);
	if (pc_family_enter(st, f) == -1)
		return -1;
	if (help ? f->have_help : f->have_type)
		return pc_fail(st, "second # %s for %s", what, f->name);
	if (f->nsamples > 0)
		return pc_fail(st, "# %s for %s after its samples", what,
		    f->name);
	p += n;
	if (*p != '\0')
		p++;
	if (help) {
		f->have_help = 1;
		return pc_help_text(st, p);
	}
	p = pc_blanks(p);
	if (pc_type_parse(p, &t) == -1)
		return pc_fail(st, "unknown type \"%s\" for %s", p, f->name);
	f->have_type = 1;
	f->type = t;
	return 0;
}

/* ------------------------------------------------------------ samples */

/* A quoted label value at *pp; stores it unescaped, moves past it. */
static int
pc_label_value(struct pc_state *st, const char **pp, char **out)
{
	const char *p = *pp;
	char *v;
	size_t n = 0;

	if (*p != '"')
		return pc_fail(st, "label value not quoted");
	v = pc_alloc(strlen(p));
	for (p++; *p != '"'; p++) {
		if (*p == '\0') {
			free(v);
			return pc_fail(st, "label value not terminated");
		}
		if (*p == '\\') {
			p++;
			if (*p != '\\' && *p != '"' && *p != 'n') {
				free(v);
				return pc_fail(st, "bad escape in label value "
				    "(only \\\\, \\\" and \\n)");
			}
			v[n++] = *p == 'n' ? '\n' : *p;
		} else
			v[n++] = *p;
	}
	*out = v;
	*pp = p + 1;
	return 0;
}

/* One label "name="value"" at *pp into s. */
static int
pc_label(struct pc_state *st, const char **pp, struct pc_sample *s)
{
	const char *p = *pp;
	size_t n;
	int i;

	if ((n = pc_name_len(p, 0)) == 0)
		return pc_fail(st, "bad label name");
	if (n >= 2 && p[0] == '_' && p[1] == '_')
		return pc_fail(st, "label name \"%.*s\" is reserved (__)",
		    (int)n, p);
	for (i = 0; i < s->nlabels; i++)
		if (strlen(s->labels[i].name) == n &&
		    strncmp(s->labels[i].name, p, n) == 0)
			return pc_fail(st, "label \"%.*s\" twice", (int)n, p);
	if (s->nlabels == PC_MAXLABELS)
		return pc_fail(st, "more than %d labels", PC_MAXLABELS);
	s->labels[s->nlabels].name = pc_strndup(p, n);
	s->labels[s->nlabels].value = NULL;
	s->nlabels++;
	p = pc_blanks(p + n);
	if (*p != '=')
		return pc_fail(st, "no '=' after label name");
	p = pc_blanks(p + 1);
	if (pc_label_value(st, &p, &s->labels[s->nlabels - 1].value) == -1)
		return -1;
	*pp = p;
	return 0;
}

/* The label set "{...}" at *pp (after the '{'). */
static int
pc_labels(struct pc_state *st, const char **pp, struct pc_sample *s)
{
	const char *p = pc_blanks(*pp);

	while (*p != '}') {
		if (pc_label(st, &p, s) == -1)
			return -1;
		p = pc_blanks(p);
		if (*p == ',')
			p = pc_blanks(p + 1);
		else if (*p != '}')
			return pc_fail(st, "expected ',' or '}' in labels");
	}
	*pp = p + 1;
	return 0;
}

/* Split "value [timestamp]" at p into s->value. */
static int
pc_value(struct pc_state *st, const char *p, struct pc_sample *s)
{
	const char *e;
	char *tok;
	int rc;

	if (*p != ' ' && *p != '\t')
		return pc_fail(st, "no blank before the value");
	p = pc_blanks(p);
	for (e = p; *e != '\0' && *e != ' ' && *e != '\t'; e++)
		;
	tok = pc_strndup(p, e - p);
	rc = pc_float(tok, &s->value);
	if (rc == -1)
		pc_fail(st, "bad value \"%s\"", tok);
	free(tok);
	if (rc == -1 || *e == '\0')
		return rc;
	p = pc_blanks(e);
	if (*p == '\0')
		return pc_fail(st, "trailing blanks");
	for (e = p; *e != '\0' && *e != ' ' && *e != '\t'; e++)
		;
	if (*e != '\0')
		return pc_fail(st, "text after the timestamp");
	if (pc_timestamp(p) == -1)
		return pc_fail(st, "bad timestamp \"%s\"", p);
	return 0;
}

static void
pc_sample_clear(struct pc_sample *s)
{
	int i;

	free(s->name);
	for (i = 0; i < s->nlabels; i++) {
		free(s->labels[i].name);
		free(s->labels[i].value);
	}
	memset(s, 0, sizeof *s);
}

static const char *
pc_label_get(const struct pc_sample *s, const char *name)
{
	int i;

	for (i = 0; i < s->nlabels; i++)
		if (strcmp(s->labels[i].name, name) == 0)
			return s->labels[i].value;
	return NULL;
}

/* Does name end in suffix? Its length without the suffix in *n. */
static int
pc_suffix(const char *name, const char *suffix, size_t *n)
{
	size_t a = strlen(name), b = strlen(suffix);

	if (a <= b || strcmp(name + a - b, suffix) != 0)
		return 0;
	*n = a - b;
	return 1;
}

/*
 * The family of a sample name: the declared family of that name, else a
 * declared histogram or summary it is the _bucket, _sum or _count of,
 * else a new untyped family. *part: 0 plain, 1 _bucket, 2 _sum, 3 _count.
 */
static struct pc_family *
pc_family_of(struct pc_state *st, const char *name, int *part)
{
	static const char *suffixes[] = { "_bucket", "_sum", "_count" };
	struct pc_family *f;
	size_t i, n;

	*part = 0;
	if ((f = pc_family_find(st, name, strlen(name))) != NULL)
		return f;
	for (i = 0; i < 3; i++)
		if (pc_suffix(name, suffixes[i], &n) &&
		    (f = pc_family_find(st, name, n)) != NULL &&
		    (f->type == PC_HISTOGRAM || f->type == PC_SUMMARY)) {
			*part = (int)i + 1;
			return f;
		}
	return pc_family_new(st, name, strlen(name));
}

/* A histogram sample (part as in pc_family_of()). */
static int
pc_histogram(struct pc_state *st, struct pc_family *f, int part,
    const struct pc_sample *s)
{
	struct pc_series *se;
	const char *le = pc_label_get(s, "le");
	double bound = 0;
	char *key;

	if (part == 0)
		return pc_fail(st, "histogram %s: sample %s is not _bucket, "
		    "_sum or _count", f->name, s->name);
	if (part != 1 && le != NULL)
		return pc_fail(st, "histogram %s: le label on %s", f->name,
		    s->name);
	if (part == 1 && le == NULL)
		return pc_fail(st, "histogram %s: bucket without le", f->name);
	if (part == 1 && (pc_float(le, &bound) == -1 || isnan(bound) ||
	    (isinf(bound) && strcmp(le, "+Inf") != 0)))
		return pc_fail(st, "histogram %s: bad le \"%s\"", f->name, le);
	if (part != 2 && (isnan(s->value) || s->value < 0))
		return pc_fail(st, "histogram %s: negative or NaN count",
		    f->name);
	key = pc_key(s, "le");
	se = pc_series_get(st, f, strchr(key, '\xff') != NULL ?
	    strchr(key, '\xff') : "");
	free(key);
	if (part == 2 || part == 3) {
		if (part == 2 ? se->have_sum : se->have_count)
			return pc_fail(st, "histogram %s: second %s", f->name,
			    s->name);
		*(part == 2 ? &se->have_sum : &se->have_count) = 1;
		if (part == 3)
			se->count = s->value;
		return 0;
	}
	if (se->have_inf)
		return pc_fail(st, "histogram %s: bucket after le=\"+Inf\"",
		    f->name);
	if (se->nbuckets > 0 && bound <= se->last_le)
		return pc_fail(st, "histogram %s: le \"%s\" not above the "
		    "bucket before", f->name, le);
	if (se->nbuckets > 0 && s->value < se->last_count)
		return pc_fail(st, "histogram %s: bucket le=\"%s\" count "
		    "decreases", f->name, le);
	se->nbuckets++;
	se->last_le = bound;
	se->last_count = s->value;
	if (isinf(bound)) {
		se->have_inf = 1;
		se->inf_count = s->value;
	}
	return 0;
}

/* A summary sample (part as in pc_family_of(); never _bucket). */
static int
pc_summary(struct pc_state *st, struct pc_family *f, int part,
    const struct pc_sample *s)
{
	const char *q = pc_label_get(s, "quantile");
	struct pc_series *se;
	double v;
	char *key;

	if (part == 0 && (q == NULL || pc_float(q, &v) == -1 || isnan(v) ||
	    v < 0 || v > 1))
		return pc_fail(st, "summary %s: missing or bad quantile",
		    f->name);
	if (part != 0 && q != NULL)
		return pc_fail(st, "summary %s: quantile label on %s", f->name,
		    s->name);
	key = pc_key(s, "quantile");
	se = pc_series_get(st, f, strchr(key, '\xff') != NULL ?
	    strchr(key, '\xff') : "");
	free(key);
	if (part == 2)
		se->have_sum = 1;
	else if (part == 3)
		se->have_count = 1;
	else
		se->nquantiles++;
	return 0;
}

/* Check s against its family's type, and that it is new. */
static int
pc_sample_check(struct pc_state *st, const struct pc_sample *s)
{
	struct pc_family *f;
	int part;

	f = pc_family_of(st, s->name, &part);
	if (pc_family_enter(st, f) == -1)
		return -1;
	f->nsamples++;
	if (pc_seen_add(st, pc_key(s, NULL)) == -1)
		return pc_fail(st, "series %s appears twice (same labels)",
		    s->name);
	switch (f->type) {
	case PC_COUNTER:
		if (s->value < 0)
			return pc_fail(st, "counter %s is negative", s->name);
		return 0;
	case PC_HISTOGRAM:
		return pc_histogram(st, f, part, s);
	case PC_SUMMARY:
		return pc_summary(st, f, part, s);
	default:
		return 0;
	}
}

/* A sample line. */
static int
pc_sample_line(struct pc_state *st, const char *p)
{
	struct pc_sample s;
	size_t n;
	int rc = -1;

	memset(&s, 0, sizeof s);
	if ((n = pc_name_len(p, 1)) == 0) {
		pc_fail(st, "bad metric name");
		goto out;
	}
	s.name = pc_strndup(p, n);
	p += n;
	if (*p == '{') {
		p++;
		if (pc_labels(st, &p, &s) == -1)
			goto out;
	}
	if (pc_value(st, p, &s) == -1)
		goto out;
	rc = pc_sample_check(st, &s);
out:
	pc_sample_clear(&s);
	return rc;
}

/* ------------------------------------------------------------ lines */

static int
pc_line(struct pc_state *st, const char *line, size_t len)
{
	const char *p;

	if (memchr(line, '\0', len) != NULL)
		return pc_fail(st, "NUL byte");
	if (memchr(line, '\r', len) != NULL)
		return pc_fail(st, "carriage return");
	if (pc_utf8((const unsigned char *)line, len) == -1)
		return pc_fail(st, "invalid UTF-8");
	if (len == 0)
		return 0;
	if (line[0] == '#') {
		p = pc_blanks(line + 1);
		if (p == line + 1)
			return 0;	/* "#HELP" is a comment */
		if (strncmp(p, "HELP", 4) == 0 &&
		    (p[4] == ' ' || p[4] == '\t' || p[4] == '\0'))
			return pc_meta(st, p + 4, 1);
		if (strncmp(p, "TYPE", 4) == 0 &&
		    (p[4] == ' ' || p[4] == '\t' || p[4] == '\0'))
			return pc_meta(st, p + 4, 0);
		return 0;	/* a comment */
	}
	if (line[0] == ' ' || line[0] == '\t')
		return pc_fail(st, "leading blank");
	if (line[len - 1] == ' ' || line[len - 1] == '\t')
		return pc_fail(st, "trailing blank");
	return pc_sample_line(st, line);
}

static int
pc_check(struct pc_state *st, FILE *fp)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while (rc == 0 && (n = getline(&line, &cap, fp)) != -1) {
		st->line++;
		if (line[n - 1] != '\n') {
			rc = pc_fail(st, "no line feed at the end");
			break;
		}
		line[n - 1] = '\0';
		rc = pc_line(st, line, (size_t)n - 1);
	}
	free(line);
	if (rc == 0 && ferror(fp)) {
		fprintf(stderr, "promcheck: read error: %s\n",
		    strerror(errno));
		return 2;
	}
	if (rc == 0)
		rc = pc_family_enter(st, NULL);
	return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct pc_state st;
	FILE *fp = stdin;
	int rc;

	if (argc > 2 ||
	    (argc == 2 && argv[1][0] == '-' && argv[1][1] != '\0')) {
		fprintf(stderr, "usage: promcheck [FILE]\n");
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "-") != 0 &&
	    (fp = fopen(argv[1], "r")) == NULL) {
		fprintf(stderr, "promcheck: %s: %s\n", argv[1],
		    strerror(errno));
		return 2;
	}
	memset(&st, 0, sizeof st);
	rc = pc_check(&st, fp);
	if (rc == 1)
		fprintf(stderr, "promcheck: line %ld: %s\n", st.line, st.err);
	pc_free(&st);
	if (fp != stdin)
		fclose(fp);
	return rc;
}
