/*
 * Counters, gauges and histograms with labels, rendered in the Prometheus
 * text exposition format 0.0.4 and served on /metrics together with the
 * /health/live and /health/ready probes.
 *
 * A registry holds families (a name, help text, type and label names);
 * a family holds one series per combination of label values, created on
 * first use and found through a hash, so updating one on every request
 * is cheap. Names follow Prometheus' rules: metric names
 * [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* not
 * starting with "__" (and not "le" on a histogram).
 *
 *   struct bc_metric *m = bc_metrics_counter(reg, "bot_updates_total",
 *       "Updates handled.", "kind,result");
 *   bc_metric_inc(m, BC_LV("message", "ok"));
 */
#ifndef BOTCOMMON_METRICS_H
#define BOTCOMMON_METRICS_H

#include <stddef.h>

struct bc_httpd;
struct bc_metrics;
struct bc_metric;

/* Label values, NULL-terminated, in the order of the family's names. */
#define BC_LV(...)	((const char *const []){ __VA_ARGS__, NULL })

/* A new empty registry; the caller frees it with bc_metrics_free(). */
struct bc_metrics *bc_metrics_new(void);

/* Free the registry and every family in it; NULL is a no-op. */
void	bc_metrics_free(struct bc_metrics *);

/*
 * Register a family. name and help are copied; labelnames is a
 * comma-separated list ("method,result") or NULL for none. Registering
 * the same name again with the same type and labels returns the family
 * already there. Returns a family owned by the registry (valid until
 * bc_metrics_free()), or NULL with a warning for an invalid or clashing
 * name or label.
 */
struct bc_metric *bc_metrics_counter(struct bc_metrics *, const char *name,
	    const char *help, const char *labelnames);
struct bc_metric *bc_metrics_gauge(struct bc_metrics *, const char *name,
	    const char *help, const char *labelnames);

/*
 * As above, with bucket upper bounds (finite and strictly increasing;
 * +Inf is always added, and may be given last). NULL buckets means the
 * default latency buckets in seconds: .0005 .001 .0025 .005 .01 .025 .05
 * .1 .25 .5 1 2.5 5 10.
 */
struct bc_metric *bc_metrics_histogram(struct bc_metrics *, const char *name,
	    const char *help, const char *labelnames, const double *buckets,
	    size_t nbuckets);

/*
 * Update a series. labelvalues is a NULL-terminated array (BC_LV()) with
 * exactly as many non-NULL strings as the family has labels, or NULL for
 * a family without labels; the strings are copied when a series is
 * created. A wrong count, a wrong type for the call, a negative or NaN
 * counter increment and a NaN observation are programming errors: they
 * are ignored, with one warning per family.
 */
void	bc_metric_inc(struct bc_metric *, const char *const *labelvalues);
void	bc_metric_add(struct bc_metric *, const char *const *labelvalues,
	    double v);		/* counter (v >= 0) or gauge */
void	bc_metric_set(struct bc_metric *, const char *const *labelvalues,
	    double v);		/* gauge */
/* histogram */
void	bc_metric_observe(struct bc_metric *,
	    const char *const *labelvalues, double v);

/*
 * The registry as exposition text: families in registration order, each
 * with # HELP and # TYPE, series in creation order. Returns a string the
 * caller frees; its length goes to *len when len is not NULL.
 */
char	*bc_metrics_render(const struct bc_metrics *, size_t *len);

/* Readiness check: 1 ready, 0 not with *why set (the caller frees). */
typedef int bc_health_cb(void *arg, char **why);

/*
 * Route on httpd (borrowed; free the server before the registry):
 * GET /metrics (text/plain;
 * version=0.0.4), GET /health/live (200 "ok" while the loop runs) and
 * GET /health/ready (200 {"ready":true}, or 503
 * {"ready":false,"reason":"..."} when ready returns 0; a NULL ready
 * means always ready). arg is borrowed. Returns 0, or -1.
 */
int	bc_metrics_serve(struct bc_metrics *, struct bc_httpd *,
	    bc_health_cb *ready, void *arg);

#endif /* BOTCOMMON_METRICS_H */
