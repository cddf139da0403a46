/* Counters, gauges and histograms in the Prometheus text format 0.0.4. */

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/httpd.h>
#include <botcommon/log.h>
#include <botcommon/buf.h>
#include <botcommon/metrics.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

static const char *metric_type_names[] = { "counter", "gauge", "histogram" };

static const double metric_default_buckets[] = {
	.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10
};

/*
 * One series, in a single allocation: the struct, the label value
 * pointers, the histogram bucket counts, then the label value strings.
 */
struct metric_series {
	struct metric_series	*next;		/* hash chain */
	uint32_t		 hash;
	double			 value;	/* histogram: the sum */
	uint64_t		 count;		/* histogram */
	uint64_t		*buckets;	/* per bucket, +Inf last */
	const char		*values[];
};

struct bc_metric {
	enum metric_type	  type;
	char			 *name;
	char			 *help;
	char			**labels;
	size_t			  nlabels;
	double			 *bounds;	/* finite upper bounds */
	size_t			  nbounds;
	struct metric_series	**table;	/* hash, power of 2 */
	size_t			  tablesize;
	struct metric_series	**series;	/* creation order */
	size_t			  nseries;
	int			  warned;
};

struct bc_metrics {
	struct bc_metric	**fams;
	size_t			  nfams;
	bc_health_cb		 *ready;
	void			 *ready_arg;
};


/* ------------------------------------------------------------ names */

static int
metric_name_valid(const char *s, int colon)
{
	const char *p;

	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return 0;
	for (p = s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' ||
		    (colon && *p == ':'))
			continue;
		return 0;
	}
	return 1;
}

static void
metric_free_labels(char **labels, size_t n)
{
	while (n > 0)
		free(labels[--n]);
	free(labels);
}

/*
 * Split "a, b" into label names and check them. Returns 0, or -1 (with a
 * warning) for an invalid or repeated name.
 */
static int
metric_parse_labels(const char *list, enum metric_type type, char ***out,
    size_t *nout)
{
	char **labels = NULL, *l;
	const char *p = list, *end;
	size_t n = 0, i, len;

	while (p != NULL && *p != '\0') {
		p += strspn(p, " ");
		end = p + strcspn(p, ",");
		for (len = (size_t)(end - p); len > 0 && p[len - 1] == ' ';)
			len--;
		l = xstrndup(p, len);
		labels = xreallocarray(labels, n + 1, sizeof *labels);
		labels[n++] = l;
		if (!metric_name_valid(l, 0) || strncmp(l, "__", 2) == 0 ||
		    (type == METRIC_HISTOGRAM && strcmp(l, "le") == 0)) {
			log_warnx("metrics: invalid label name \"%s\"", l);
			goto fail;
		}
		for (i = 0; i + 1 < n; i++)
			if (strcmp(labels[i], l) == 0) {
				log_warnx("metrics: repeated label \"%s\"", l);
				goto fail;
			}
		p = *end == ',' ? end + 1 : end;
	}
	*out = labels;
	*nout = n;
	return 0;
fail:
	metric_free_labels(labels, n);
	return -1;
}

/* Check and copy histogram bounds; a last +Inf is dropped. */
static int
metric_parse_bounds(const double *b, size_t n, double **out, size_t *nout)
{
	size_t i;

	if (b == NULL) {
		b = metric_default_buckets;
		n = BC_NELEM(metric_default_buckets);
	}
	if (n > 0 && isinf(b[n - 1]) && b[n - 1] > 0)
		n--;
	for (i = 0; i < n; i++)
		if (!isfinite(b[i]) || (i > 0 && b[i] <= b[i - 1])) {
			log_warnx("metrics: histogram buckets must be finite "
			    "and increasing");
			return -1;
		}
	*out = xreallocarray(NULL, n > 0 ? n : 1, sizeof **out);
	if (n > 0)
		memcpy(*out, b, n * sizeof **out);
	*nout = n;
	return 0;
}

/* Is name one of the sample names of the histogram hist? */
static int
metric_suffix_clash(const char *name, const char *hist)
{
	static const char *sfx[] = { "_bucket", "_sum", "_count" };
	size_t n = strlen(hist), i;

	if (strncmp(name, hist, n) != 0)
		return 0;
	for (i = 0; i < BC_NELEM(sfx); i++)
		if (strcmp(name + n, sfx[i]) == 0)
			return 1;
	return 0;
}

/* Does m have exactly this type, labels and bounds? */
static int
metric_same(const struct bc_metric *m, enum metric_type type, char **labels,
    size_t nlabels, const double *bounds, size_t nbounds)
{
	size_t i;

	if (m->type != type || m->nlabels != nlabels ||
	    m->nbounds != nbounds)
		return 0;
	for (i = 0; i < nlabels; i++)
		if (strcmp(m->labels[i], labels[i]) != 0)
			return 0;
	for (i = 0; i < nbounds; i++)
		if (m->bounds[i] != bounds[i])
			return 0;
	return 1;
}

/* ------------------------------------------------------------ series */

static uint32_t
metric_hash(const char *const *lv, size_t n)
{
	uint32_t h = 2166136261u;
	const unsigned char *p;
	size_t i;

	for (i = 0; i < n; i++) {
		for (p = (const unsigned char *)lv[i]; *p != '\0'; p++)
			h = (h ^ *p) * 16777619u;
		h = (h ^ 0xff) * 16777619u;
	}
	return h;
}

static void
metric_warn(struct bc_metric *m, const char *what)
{
	if (m->warned)
		return;
	m->warned = 1;
	log_warnx("metrics: %s: %s (further errors on it are not logged)",
	    m->name, what);
}

/* Does lv hold exactly m->nlabels values? */
static int
metric_lv_ok(const struct bc_metric *m, const char *const *lv)
{
	size_t i;

	if (lv == NULL)
		return m->nlabels == 0;
	for (i = 0; i < m->nlabels; i++)
		if (lv[i] == NULL)
			return 0;
	return lv[m->nlabels] == NULL;
}

/* Double the hash table. */
static void
metric_rehash(struct bc_metric *m)
{
	struct metric_series **t, *s;
	size_t size = m->tablesize * 2, i;

	t = xcalloc(size, sizeof *t);
	for (i = 0; i < m->nseries; i++) {
		s = m->series[i];
		s->next = t[s->hash & (size - 1)];
		t[s->hash & (size - 1)] = s;
	}
	free(m->table);
	m->table = t;
	m->tablesize = size;
}

static struct metric_series *
metric_series_new(struct bc_metric *m, const char *const *lv, uint32_t hash)
{
	struct metric_series *s;
	size_t i, size, nb, off;
	char *p;

	nb = m->type == METRIC_HISTOGRAM ? m->nbounds + 1 : 0;
	off = sizeof *s + m->nlabels * sizeof s->values[0];
	size = off + nb * sizeof (uint64_t);
	for (i = 0; i < m->nlabels; i++)
		size += strlen(lv[i]) + 1;
	s = xcalloc(1, size);
	s->hash = hash;
	s->buckets = nb > 0 ? (uint64_t *)(void *)((char *)s + off) : NULL;
	p = (char *)s + off + nb * sizeof (uint64_t);
	for (i = 0; i < m->nlabels; i++) {
		s->values[i] = p;
		p = stpcpy(p, lv[i]) + 1;
	}
	if (m->nseries == m->tablesize)
		metric_rehash(m);
	s->next = m->table[hash & (m->tablesize - 1)];
	m->table[hash & (m->tablesize - 1)] = s;
	/* The order array's capacity is the next power of 2. */
	if ((m->nseries & (m->nseries - 1)) == 0)
		m->series = xreallocarray(m->series,
		    m->nseries == 0 ? 1 : m->nseries * 2, sizeof *m->series);
	m->series[m->nseries++] = s;
	return s;
}

/* The series for lv, created on first use; NULL for a bad lv. */
static struct metric_series *
metric_series_get(struct bc_metric *m, const char *const *lv)
{
	struct metric_series *s;
	uint32_t hash;
	size_t i;

	if (!metric_lv_ok(m, lv)) {
		metric_warn(m, "wrong number of label values");
		return NULL;
	}
	hash = metric_hash(lv, m->nlabels);
	for (s = m->table[hash & (m->tablesize - 1)]; s != NULL; s = s->next) {
		if (s->hash != hash)
			continue;
		for (i = 0; i < m->nlabels; i++)
			if (strcmp(s->values[i], lv[i]) != 0)
				break;
		if (i == m->nlabels)
			return s;
	}
	return metric_series_new(m, lv, hash);
}

/* ------------------------------------------------------------ registry */

struct bc_metrics *
bc_metrics_new(void)
{
	return xcalloc(1, sizeof (struct bc_metrics));
}

static void
metric_free(struct bc_metric *m)
{
	size_t i;

	for (i = 0; i < m->nseries; i++)
		free(m->series[i]);
	free(m->series);
	free(m->table);
	metric_free_labels(m->labels, m->nlabels);
	free(m->bounds);
	free(m->name);
	free(m->help);
	free(m);
}

void
bc_metrics_free(struct bc_metrics *reg)
{
	size_t i;

	if (reg == NULL)
		return;
	for (i = 0; i < reg->nfams; i++)
		metric_free(reg->fams[i]);
	free(reg->fams);
	free(reg);
}

/* An existing family for name, or NULL; *clash when it cannot be used. */
static struct bc_metric *
metric_find(struct bc_metrics *reg, const char *name, enum metric_type type,
    int *clash)
{
	struct bc_metric *m;
	size_t i;

	*clash = 0;
	for (i = 0; i < reg->nfams; i++) {
		m = reg->fams[i];
		if (strcmp(m->name, name) == 0)
			return m;
		if ((m->type == METRIC_HISTOGRAM &&
		    metric_suffix_clash(name, m->name)) ||
		    (type == METRIC_HISTOGRAM &&
		    metric_suffix_clash(m->name, name)))
			*clash = 1;
	}
	return NULL;
}

static struct bc_metric *
metric_register(struct bc_metrics *reg, enum metric_type type,
    const char *name, const char *help, const char *labelnames,
    const double *buckets, size_t nbuckets)
{
	struct bc_metric *m = NULL, *old;
	char **labels = NULL;
	double *bounds = NULL;
	size_t nlabels = 0, nbounds = 0;
	int clash;

	if (!metric_name_valid(name, 1)) {
		log_warnx("metrics: invalid metric name \"%s\"",
		    name ? name : "");
		return NULL;
	}
	if (metric_parse_labels(labelnames, type, &labels, &nlabels) == -1 ||
	    (type == METRIC_HISTOGRAM && metric_parse_bounds(buckets,
	    nbuckets, &bounds, &nbounds) == -1))
		goto fail;
	old = metric_find(reg, name, type, &clash);
	if (old != NULL && metric_same(old, type, labels, nlabels, bounds,
	    nbounds))
		m = old;
	else if (old != NULL || clash)
		log_warnx("metrics: \"%s\" clashes with another metric", name);
	else {
		m = xcalloc(1, sizeof *m);
		m->type = type;
		m->name = xstrdup(name);
		m->help = xstrdup(help != NULL ? help : "");
		m->labels = labels;
		m->nlabels = nlabels;
		m->bounds = bounds;
		m->nbounds = nbounds;
		m->tablesize = 8;
		m->table = xcalloc(m->tablesize, sizeof *m->table);
		reg->fams = xreallocarray(reg->fams, reg->nfams + 1,
		    sizeof *reg->fams);
		reg->fams[reg->nfams++] = m;
		/* Without labels the one series shows 0 from the start. */
		if (nlabels == 0)
			metric_series_get(m, NULL);
		return m;
	}
fail:
	metric_free_labels(labels, nlabels);
	free(bounds);
	return m;
}

struct bc_metric *
bc_metrics_counter(struct bc_metrics *reg, const char *name, const char *help,
    const char *labelnames)
{
	return metric_register(reg, METRIC_COUNTER, name, help, labelnames,
	    NULL, 0);
}

struct bc_metric *
bc_metrics_gauge(struct bc_metrics *reg, const char *name, const char *help,
    const char *labelnames)
{
	return metric_register(reg, METRIC_GAUGE, name, help, labelnames,
	    NULL, 0);
}

struct bc_metric *
bc_metrics_histogram(struct bc_metrics *reg, const char *name,
    const char *help, const char *labelnames, const double *buckets,
    size_t nbuckets)
{
	return metric_register(reg, METRIC_HISTOGRAM, name, help, labelnames,
	    buckets, nbuckets);
}

/* ------------------------------------------------------------ updates */

void
bc_metric_inc(struct bc_metric *m, const char *const *lv)
{
	bc_metric_add(m, lv, 1);
}

void
bc_metric_add(struct bc_metric *m, const char *const *lv, double v)
{
	struct metric_series *s;

	if (m == NULL)
		return;
	if (m->type == METRIC_HISTOGRAM) {
		metric_warn(m, "add on a histogram");
		return;
	}
	if (isnan(v) || (m->type == METRIC_COUNTER && v < 0)) {
		metric_warn(m, "counter increment negative or NaN");
		return;
	}
	if ((s = metric_series_get(m, lv)) != NULL)
		s->value += v;
}

void
bc_metric_set(struct bc_metric *m, const char *const *lv, double v)
{
	struct metric_series *s;

	if (m == NULL)
		return;
	if (m->type != METRIC_GAUGE) {
		metric_warn(m, "set on a metric that is not a gauge");
		return;
	}
	if ((s = metric_series_get(m, lv)) != NULL)
		s->value = v;
}

void
bc_metric_observe(struct bc_metric *m, const char *const *lv, double v)
{
	struct metric_series *s;
	size_t lo = 0, hi;

	if (m == NULL)
		return;
	if (m->type != METRIC_HISTOGRAM || isnan(v)) {
		metric_warn(m, "observe on a non-histogram or of NaN");
		return;
	}
	if ((s = metric_series_get(m, lv)) == NULL)
		return;
	/* The first bucket whose bound is >= v (le is inclusive). */
	hi = m->nbounds;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->bounds[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	s->buckets[lo]++;
	s->count++;
	s->value += v;
}

/* ------------------------------------------------------------ rendering */

/* A float as Prometheus reads it: shortest round-trip form, +Inf, NaN. */
static void
mb_double(struct bc_buf *b, double v)
{
	char s[40];

	if (isnan(v))
		bc_buf_str(b, "NaN");
	else if (isinf(v))
		bc_buf_str(b, v > 0 ? "+Inf" : "-Inf");
	else {
		if (v == floor(v) && fabs(v) < 1e15)
			snprintf(s, sizeof s, "%.0f", v);
		else {
			snprintf(s, sizeof s, "%.15g", v);
			if (strtod(s, NULL) != v)
				snprintf(s, sizeof s, "%.17g", v);
		}
		bc_buf_str(b, s);
	}
}

static void
mb_u64(struct bc_buf *b, uint64_t v)
{
	char s[24];

	snprintf(s, sizeof s, "%" PRIu64, v);
	bc_buf_str(b, s);
}

/* HELP text: \\ and \n escaped. Label values: also \". Bad UTF-8: U+FFFD. */
static void
mb_escape(struct bc_buf *b, const char *s, int quote)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n;

	while (i < len) {
		n = 1;
		if (p[i] == '\\')
			bc_buf_str(b, "\\\\");
		else if (p[i] == '\n')
			bc_buf_str(b, "\\n");
		else if (p[i] == '"' && quote)
			bc_buf_str(b, "\\\"");
		else if ((n = bc_utf8_seqlen(p + i, len - i)) == 0) {
			bc_buf_str(b, "\xef\xbf\xbd");
			n = 1;
		} else
			bc_buf_add(b, s + i, n);
		i += n;
	}
}

/* name{labels[,le="x"]} with the family's label values. */
static void
mb_sample_name(struct bc_buf *b, const struct bc_metric *m,
    const struct metric_series *s, const char *suffix, const char *le)
{
	size_t i;

	bc_buf_str(b, m->name);
	bc_buf_str(b, suffix);
	if (m->nlabels == 0 && le == NULL)
		return;
	bc_buf_str(b, "{");
	for (i = 0; i < m->nlabels; i++) {
		if (i > 0)
			bc_buf_str(b, ",");
		bc_buf_str(b, m->labels[i]);
		bc_buf_str(b, "=\"");
		mb_escape(b, s->values[i], 1);
		bc_buf_str(b, "\"");
	}
	if (le != NULL) {
		bc_buf_str(b, m->nlabels > 0 ? ",le=\"" : "le=\"");
		bc_buf_str(b, le);
		bc_buf_str(b, "\"");
	}
	bc_buf_str(b, "}");
}

static void
mb_histogram(struct bc_buf *b, const struct bc_metric *m,
    const struct metric_series *s)
{
	struct bc_buf le = BC_BUF_ZERO;
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i <= m->nbounds; i++) {
		cum += s->buckets[i];
		le.len = 0;
		if (i < m->nbounds)
			mb_double(&le, m->bounds[i]);
		else
			bc_buf_str(&le, "+Inf");
		mb_sample_name(b, m, s, "_bucket", le.p);
		bc_buf_str(b, " ");
		mb_u64(b, cum);
		bc_buf_str(b, "\n");
	}
	free(le.p);
	mb_sample_name(b, m, s, "_sum", NULL);
	bc_buf_str(b, " ");
	mb_double(b, s->value);
	bc_buf_str(b, "\n");
	mb_sample_name(b, m, s, "_count", NULL);
	bc_buf_str(b, " ");
	mb_u64(b, s->count);
	bc_buf_str(b, "\n");
}

static void
mb_family(struct bc_buf *b, const struct bc_metric *m)
{
	size_t i;

	bc_buf_str(b, "# HELP ");
	bc_buf_str(b, m->name);
	bc_buf_str(b, " ");
	mb_escape(b, m->help, 0);
	bc_buf_str(b, "\n# TYPE ");
	bc_buf_str(b, m->name);
	bc_buf_str(b, " ");
	bc_buf_str(b, metric_type_names[m->type]);
	bc_buf_str(b, "\n");
	for (i = 0; i < m->nseries; i++) {
		if (m->type == METRIC_HISTOGRAM) {
			mb_histogram(b, m, m->series[i]);
			continue;
		}
		mb_sample_name(b, m, m->series[i], "", NULL);
		bc_buf_str(b, " ");
		mb_double(b, m->series[i]->value);
		bc_buf_str(b, "\n");
	}
}

char *
bc_metrics_render(const struct bc_metrics *reg, size_t *len)
{
	struct bc_buf b = BC_BUF_ZERO;
	size_t i;

	bc_buf_str(&b, "");
	for (i = 0; i < reg->nfams; i++)
		mb_family(&b, reg->fams[i]);
	if (len != NULL)
		*len = b.len;
	return b.p;
}

/* ------------------------------------------------------------ serving */

static void
metrics_get(struct bc_httpd_req *req, void *arg)
{
	struct bc_metrics *reg = arg;
	size_t len;
	char *text;

	text = bc_metrics_render(reg, &len);
	bc_httpd_reply(req, 200, METRICS_CONTENT_TYPE, text, len);
	free(text);
}

static void
metrics_live(struct bc_httpd_req *req, void *arg)
{
	(void)arg;
	bc_httpd_reply(req, 200, "text/plain; charset=utf-8", "ok", 2);
}

static void
metrics_ready(struct bc_httpd_req *req, void *arg)
{
	struct bc_metrics *reg = arg;
	char *why = NULL, *esc;
	json_t *j, *reason;

	if (reg->ready == NULL || reg->ready(reg->ready_arg, &why) == 1) {
		free(why);
		j = json_pack("{s:b}", "ready", 1);
		bc_httpd_reply_json(req, 200, j);
		json_decref(j);
		return;
	}
	if (why == NULL)
		why = xstrdup("not ready");
	if ((reason = json_string(why)) == NULL) {
		/* Not UTF-8: send it escaped. */
		esc = log_escape(why, strlen(why));
		reason = json_string(esc);
		free(esc);
	}
	j = json_pack("{s:b,s:o}", "ready", 0, "reason", reason);
	bc_httpd_reply_json(req, 503, j);
	json_decref(j);
	free(why);
}

int
bc_metrics_serve(struct bc_metrics *reg, struct bc_httpd *httpd,
    bc_health_cb *ready, void *arg)
{
	reg->ready = ready;
	reg->ready_arg = arg;
	if (bc_httpd_route(httpd, "GET", "/metrics", metrics_get, reg) == -1 ||
	    bc_httpd_route(httpd, "GET", "/health/live", metrics_live,
	    reg) == -1 ||
	    bc_httpd_route(httpd, "GET", "/health/ready", metrics_ready,
	    reg) == -1)
		return -1;
	return 0;
}
