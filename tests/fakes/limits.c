/*
 * Rate limits (token buckets: global per bot, per chat, per group), fault
 * injection rules, and the counters behind GET /_ctl/stats.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "tgfake.h"

/* ------------------------------------------------------------ rates */

static double
unit_ms(const char *u, size_t n)
{
	static const struct {
		const char	*name;
		double		 ms;
	} units[] = {
		{ "s", 1000 }, { "sec", 1000 }, { "m", 60000 },
		{ "min", 60000 }, { "h", 3600000 }, { "hour", 3600000 },
	};
	size_t i;

	for (i = 0; i < BC_NELEM(units); i++)
		if (strlen(units[i].name) == n &&
		    strncmp(u, units[i].name, n) == 0)
			return units[i].ms;
	return 0;
}

/*
 * Parse "N/s", "N/min" or "N/h", optionally ":BURST" (the bucket size,
 * default N and at least 1); "off" or "0" disables. 0, or -1 when bad.
 */
int
limits_parse(const char *spec, struct rate *r)
{
	double n, burst, per;
	char *end, *unit;

	memset(r, 0, sizeof(*r));
	if (strcmp(spec, "off") == 0 || strcmp(spec, "0") == 0 ||
	    *spec == '\0')
		return 0;
	n = strtod(spec, &end);
	if (end == spec || *end != '/' || !(n > 0) || n > 1e6)
		return -1;
	unit = end + 1;
	end = unit + strcspn(unit, ":");
	per = unit_ms(unit, (size_t)(end - unit));
	if (per == 0)
		return -1;
	burst = n;
	if (*end == ':') {
		burst = strtod(end + 1, &end);
		if (*end != '\0' || !(burst >= 1) || burst > 1e6)
			return -1;
	}
	r->per_ms = n / per;
	r->burst = burst < 1 ? 1 : burst;
	bc_strlcpy(r->spec, spec, sizeof(r->spec));
	return 0;
}

static void
bucket_refill(struct bucket *b, const struct rate *r, int64_t now)
{
	if (b->last_ms == 0) {
		b->tokens = r->burst;
		b->last_ms = now;
		return;
	}
	b->tokens += (double)(now - b->last_ms) * r->per_ms;
	if (b->tokens > r->burst)
		b->tokens = r->burst;
	b->last_ms = now;
}

/* Milliseconds until the bucket holds one token (0: now). */
static int64_t
bucket_wait(struct bucket *b, const struct rate *r, int64_t now)
{
	if (r->per_ms == 0)
		return 0;
	bucket_refill(b, r, now);
	if (b->tokens >= 1)
		return 0;
	return (int64_t)ceil((1 - b->tokens) / r->per_ms);
}

static void
bucket_take(struct bucket *b, const struct rate *r)
{
	if (r->per_ms != 0)
		b->tokens -= 1;
}

/*
 * Charge one call of bot to the global bucket and, with a chat, to the
 * chat's (and a group's) buckets. 0 when allowed; -1 with *retry_after
 * in seconds when a bucket is empty (nothing is charged then).
 */
int
limits_check(struct bot *bot, struct chat *c, int *retry_after)
{
	int64_t now = bc_now_ms(), w, wait;
	int group = c != NULL && c->id < 0;

	wait = bucket_wait(&bot->b_global, &F.r_global, now);
	if (c != NULL) {
		if ((w = bucket_wait(&c->b_chat, &F.r_chat, now)) > wait)
			wait = w;
		if (group && (w = bucket_wait(&c->b_group, &F.r_group,
		    now)) > wait)
			wait = w;
	}
	if (wait > 0) {
		*retry_after = (int)((wait + 999) / 1000);
		F.st.too_many++;
		bot->st.too_many++;
		return -1;
	}
	bucket_take(&bot->b_global, &F.r_global);
	if (c != NULL) {
		bucket_take(&c->b_chat, &F.r_chat);
		if (group)
			bucket_take(&c->b_group, &F.r_group);
	}
	return 0;
}

static json_t *
rate_json(const struct rate *r)
{
	if (r->per_ms == 0)
		return json_null();
	return json_string(r->spec);
}

json_t *
limits_json(void)
{
	return json_pack("{so so so}", "global", rate_json(&F.r_global),
	    "chat", rate_json(&F.r_chat), "group", rate_json(&F.r_group));
}

/* Start every bucket full again (after the limits changed). */
void
limits_reset_buckets(void)
{
	struct bot *bot;
	struct chat *c;
	size_t i;

	TAILQ_FOREACH(bot, &F.bots, entry) {
		memset(&bot->b_global, 0, sizeof(bot->b_global));
		for (i = 0; i < bot->chats.cap; i++) {
			if ((c = bot->chats.vals[i]) == NULL)
				continue;
			memset(&c->b_chat, 0, sizeof(c->b_chat));
			memset(&c->b_group, 0, sizeof(c->b_group));
		}
	}
}

/* ------------------------------------------------------------ faults */

static void
fault_free(struct fault *f)
{
	free(f->token);
	free(f->method);
	free(f->act.desc);
	free(f);
}

void
faults_clear(void)
{
	struct fault *f;

	while ((f = TAILQ_FIRST(&F.faults)) != NULL) {
		TAILQ_REMOVE(&F.faults, f, entry);
		fault_free(f);
	}
}

static int
fault_fail(char **cause, const char *m)
{
	*cause = xstrdup(m);
	return -1;
}

/* Read the action part of a rule; 0 or -1 with *cause. */
static int
fault_action(json_t *spec, struct fault_action *a, char **cause)
{
	int64_t v;
	const char *s;
	int drop = 0;

	if (p_i64(spec, "status", &v) == 1) {
		if (v < 400 || v > 599)
			return fault_fail(cause, "status must be 400..599");
		a->status = (int)v;
	}
	if (p_i64(spec, "delay_ms", &v) == 1) {
		if (v < 0 || v > 600000)
			return fault_fail(cause, "delay_ms must be 0..600000");
		a->delay_ms = v;
	}
	if (p_bool(spec, "drop", &drop) == -1)
		return fault_fail(cause, "drop must be a boolean");
	a->drop = drop;
	if (p_i64(spec, "retry_after", &v) == 1) {
		if (v < 1 || v > 86400)
			return fault_fail(cause,
			    "retry_after must be 1..86400");
		a->retry_after = (int)v;
	}
	if ((s = p_str(spec, "body")) != NULL) {
		if (strcmp(s, "html") != 0 && strcmp(s, "json") != 0)
			return fault_fail(cause, "body must be json or html");
		a->html = strcmp(s, "html") == 0;
	}
	if (a->status == 0 && a->delay_ms == 0 && !a->drop)
		return fault_fail(cause, "a fault needs status, delay_ms or "
		    "drop");
	if ((s = p_str(spec, "description")) != NULL)
		a->desc = xstrdup(s);
	a->active = 1;
	return 0;
}

/*
 * Add a rule: {"token","method","count","status","body","delay_ms",
 * "drop","retry_after","description"}. Returns its id, or -1 with *cause.
 */
int
faults_add(json_t *spec, char **cause)
{
	struct fault *f;
	int64_t count = 1;
	const char *s;

	if (p_i64(spec, "count", &count) == -1)
		return fault_fail(cause, "count must be an integer");
	f = xcalloc(1, sizeof(*f));
	if (fault_action(spec, &f->act, cause) == -1) {
		fault_free(f);
		return -1;
	}
	f->count = count == 0 || count > INT32_MAX ? -1 : (int)count;
	if ((s = p_str(spec, "token")) != NULL)
		f->token = xstrdup(s);
	if ((s = p_str(spec, "method")) != NULL)
		f->method = xstrdup(s);
	f->id = ++F.fault_seq;
	TAILQ_INSERT_TAIL(&F.faults, f, entry);
	return (int)f->id;
}

json_t *
faults_json(void)
{
	struct fault *f;
	json_t *a = json_array();

	TAILQ_FOREACH(f, &F.faults, entry)
		json_array_append_new(a, json_pack("{sI ss* ss* si si ss sI "
		    "sb si ss*}", "id", (json_int_t)f->id, "token", f->token,
		    "method", f->method, "count", f->count, "status",
		    f->act.status, "body", f->act.html ? "html" : "json",
		    "delay_ms", (json_int_t)f->act.delay_ms, "drop",
		    f->act.drop, "retry_after", f->act.retry_after,
		    "description", f->act.desc));
	return a;
}

/*
 * Find the first rule for this call and use it up once; its action is
 * copied into *a (desc owned by *a). 1 if one matched, else 0.
 */
int
faults_match(const char *token, const char *method, struct fault_action *a)
{
	struct fault *f;

	TAILQ_FOREACH(f, &F.faults, entry) {
		if (f->token != NULL && (token == NULL ||
		    strcmp(f->token, token) != 0))
			continue;
		if (f->method != NULL && (method == NULL ||
		    strcasecmp(f->method, method) != 0))
			continue;
		*a = f->act;
		a->desc = f->act.desc != NULL ? xstrdup(f->act.desc) : NULL;
		if (f->count > 0 && --f->count == 0) {
			TAILQ_REMOVE(&F.faults, f, entry);
			fault_free(f);
		}
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------ stats */

static void
by_method_inc(json_t *by, const char *method, const char *key)
{
	json_t *m, *v;

	if ((m = json_object_get(by, method)) == NULL) {
		m = json_object();
		json_object_set_new(by, method, m);
	}
	v = json_object_get(m, key);
	json_object_set_new(m, key, json_integer(v != NULL ?
	    json_integer_value(v) + 1 : 1));
}

/* Count one finished call by method and status (or outcome). */
void
stats_count(struct bot *bot, const char *method, const char *key)
{
	by_method_inc(F.st.by_method, method, key);
	if (bot != NULL)
		by_method_inc(bot->st.by_method, method, key);
}

void
stats_clear(struct stats *st)
{
	json_t *by = st->by_method;

	memset(st, 0, sizeof(*st));
	st->by_method = by;
	json_object_clear(by);
}

/* Counters of one bot, or of the whole fake when bot is NULL. */
json_t *
stats_json(const struct bot *bot)
{
	const struct stats *st = bot != NULL ? &bot->st : &F.st;
	const struct bot *b;
	const struct rq *rq;
	size_t pending = 0, held = 0;

	if (bot != NULL)
		pending = upd_pending(bot);
	else
		TAILQ_FOREACH(b, &F.bots, entry)
			pending += upd_pending(b);
	TAILQ_FOREACH(rq, &F.held, entry)
		if (bot == NULL || rq->bot == bot)
			held++;
	return json_pack("{sI sO sI sI sI sI sI sI sI sI sI sI sI sI}",
	    "calls", (json_int_t)st->calls, "by_method", st->by_method,
	    "too_many_requests", (json_int_t)st->too_many,
	    "faults_injected", (json_int_t)st->faults,
	    "dropped_connections", (json_int_t)st->dropped,
	    "clients_gone", (json_int_t)st->gone,
	    "updates_queued", (json_int_t)st->queued,
	    "updates_confirmed", (json_int_t)st->confirmed,
	    "updates_overflowed", (json_int_t)st->overflow,
	    "updates_filtered", (json_int_t)st->filtered,
	    "webhook_deliveries", (json_int_t)st->wh_ok,
	    "webhook_failures", (json_int_t)st->wh_fail,
	    "pending", (json_int_t)pending,
	    "held_requests", (json_int_t)held);
}
