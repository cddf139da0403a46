/*
 * The update router: commands, callbacks, conversations, exactly-once
 * update effects with an outbox, and the admin audit log.
 */

#include <sys/queue.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/metrics.h>
#include <botcommon/router.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define ROUTER_CONV_TTL_MS	(60 * 60 * 1000)
#define ROUTER_RATE_MAX		10000
#define ROUTER_PRUNE_MS		(60 * 60 * 1000)
#define ROUTER_RESUME_BATCH	500
#define ROUTER_METHOD_MAX	64
#define ROUTER_CONFLICT_TRIES	3
#define ROUTER_FLUSH_BATCH	64	/* accepted rows deleted at once */
#define ROUTER_FLUSH_RETRY_MS	1000	/* after a failed flush */
#define ROUTER_BATCH_MAX	50	/* updates per batch transaction: more
					   subtransactions overflow the
					   server's per-backend cache */
#define ROUTER_SAVEPOINT	"SAVEPOINT bc_update"
#define ROUTER_RELEASE		"RELEASE SAVEPOINT bc_update"
#define ROUTER_ROLLBACK_TO	"ROLLBACK TO SAVEPOINT bc_update"
#define RATE_RUN		60000	/* credit one run costs */

/* One outbox row: written in the open transaction, then in flight. */
struct outbox_item {
	TAILQ_ENTRY(outbox_item) entry;
	struct bc_router	*r;
	int64_t			 id;
	char			*method;
	json_t			*params;	/* owned until handed over */
	int			 flags;
};
TAILQ_HEAD(outbox_list, outbox_item);

/* The parameters of one outbox row's INSERT. */
struct outbox_ins {
	const char	*p[4];
	char		*text;
	char		 fl[BC_DB_INT64_BUFSZ];
};

/* A completed row waiting to be deleted, or marked failed (error set). */
struct outbox_done {
	int64_t	 id;
	char	*error;		/* NULL: delete */
};

/* Private part of a handler context: one transaction. */
struct bc_router_txn {
	struct outbox_list	 pending;
	int			 answered;
	int			 lost;		/* a call saw the link die */
	int			 conv_state;	/* CONV_* */
	struct bc_conv		 conv;
	char			*conv_name;
	char			*conv_step;
	json_t			*conv_data;
	const struct bc_cmd_entry *rate_cmd;	/* count after the run */
};

enum { CONV_UNKNOWN = 0, CONV_NONE, CONV_LOADED, CONV_ERROR };

/* Per user and command limiter state. */
struct rate_entry {
	TAILQ_ENTRY(rate_entry)	 lru;
	struct rate_entry	*next;		/* hash chain */
	int64_t			 user_id;
	const struct bc_cmd_entry *cmd;
	int64_t			 credit;	/* RATE_RUN per run */
	int64_t			 refill_ms;
	int64_t			 last_ms;
	int64_t			 quiet_ms;	/* no "wait" reply before */
};
TAILQ_HEAD(rate_lru, rate_entry);

/* The reply texts, in bc_router_texts order. */
enum {
	TXT_UNKNOWN = 0, TXT_PRIVATE_ONLY, TXT_GROUP_ONLY, TXT_ADMIN_ONLY,
	TXT_WAIT, TXT_ERROR, TXT_CANCELLED, TXT_NOTHING, TXT_COUNT
};

static const char *const router_default_texts[TXT_COUNT] = {
	"Sorry, I don't know that command. Send /help to see what I can do.",
	"This command works only in a private chat with me.",
	"This command works only in a group.",
	"This command is for admins only.",
	"Please wait {s} s before using this command again.",
	"Sorry, something went wrong. Please try again later.",
	"Cancelled.",
	"There is nothing to cancel.",
};

struct bc_router {
	char			*bot;
	int			 flush_failing;	/* the last outbox flush failed */
	struct bc_db		*db;
	struct bc_tg		*tg;
	struct bc_router_sender	 sender;
	char			*username;
	const struct bc_cmd_entry *cmds;
	size_t			 ncmds;
	const struct bc_cb_entry *cbs;
	size_t			 ncbs;
	const struct bc_conv_entry *convs;
	size_t			 nconvs;
	bc_cmd_fn		*on_message;
	bc_cmd_fn		*on_update;
	int64_t			*admins;
	size_t			 nadmins;
	char			*texts[TXT_COUNT];
	int64_t			 conv_ttl_ms;
	int64_t			(*clock_ms)(void);
	void			*arg;
	struct bc_metric	*m_updates;
	struct bc_metric	*m_latency;
	struct bc_metric	*m_dups;
	struct bc_metric	*m_outbox;
	struct bc_metric	*m_outbox_failed;
	struct bc_metric	*m_limited;
	struct bc_metric	*m_refused;

	int			 started;
	int			 in_tx;
	int			 dispatching;
	int64_t			 next_prune_ms;
	struct outbox_list	 inflight;
	size_t			 ninflight;
	struct outbox_done	*done;
	size_t			 ndone;
	size_t			 done_cap;
	int64_t			 flush_ms;	/* opts.outbox_flush_ms */
	struct bc_timer		*flush_timer;

	size_t			 batch_max;	/* 0: one transaction an
						   update */
	int			 batch;		/* in a batch of updates */
	int			 batch_tx;	/* its transaction is open */
	int			 batch_failed;	/* its work is lost */
	int			 batch_skip;	/* next batch: one by one */
	size_t			 batch_n;	/* updates in batch_tx */
	struct outbox_list	 batch_pending;	/* written by its commit */
	int64_t			*bids;		/* the batch's update ids */
	size_t			 nbids;
	size_t			 bpos;		/* next one to pre-record */
	int64_t			 pre[ROUTER_BATCH_MAX];	/* recorded by
						   batch_tx's first statement */
	unsigned char		 pre_st[ROUTER_BATCH_MAX];	/* PRE_* */
	size_t			 npre;

	struct rate_entry	**rate_tab;
	size_t			 rate_mask;
	struct rate_lru		 rate_lru;
	size_t			 nrate;
	size_t			 rate_max;
};

static int	outbox_add(struct bc_router_ctx *, const char *, json_t *,
		    int);
static void	outbox_flush(struct bc_router *);
static void	outbox_flush_soon(struct bc_router *);
static void	outbox_flush_timer(void *);
static int	tx_commit_rows(struct bc_router *, const struct bc_db_stmt *,
		    struct outbox_list *, char **);
static int	router_attempts(struct bc_router *, const struct bc_tg_update *,
		    bc_cmd_fn *, void *, const struct bc_cmd_entry **, int *,
		    char **);

/* ------------------------------------------------------------ metrics */

/* Register the router's families (once per registry; shared by name). */
static void
metrics_init(struct bc_router *r, struct bc_metrics *reg)
{
	if (reg == NULL)
		return;
	r->m_updates = bc_metrics_counter(reg, "bot_updates_total",
	    "Updates handled by the router, by type, command and outcome.",
	    "type,command,outcome");
	r->m_latency = bc_metrics_histogram(reg,
	    "bot_handler_duration_seconds",
	    "Time to handle one update, transaction included.", "type",
	    NULL, 0);
	r->m_dups = bc_metrics_counter(reg, "bot_updates_duplicate_total",
	    "Redelivered updates skipped.", NULL);
	r->m_outbox = bc_metrics_gauge(reg, "bot_outbox_inflight",
	    "Outbox rows handed to Telegram and not completed.", NULL);
	r->m_outbox_failed = bc_metrics_counter(reg,
	    "bot_outbox_failed_total", "Outbox calls refused by Telegram.",
	    NULL);
	r->m_limited = bc_metrics_counter(reg, "bot_rate_limited_total",
	    "Commands refused by a rate limit or cooldown.", NULL);
	r->m_refused = bc_metrics_counter(reg, "bot_admin_refused_total",
	    "Admin-only commands and buttons refused to non-admins.", NULL);
}

/* Count one handled update; us: its time on the monotonic clock. */
static void
metric_update(struct bc_router *r, const char *type, const char *cmd,
    const char *outcome, int64_t us)
{
	if (r->m_updates != NULL)
		bc_metric_inc(r->m_updates, BC_LV(type, cmd != NULL ? cmd : "",
		    outcome));
	if (r->m_latency != NULL)
		bc_metric_observe(r->m_latency, BC_LV(type),
		    (double)us / 1e6);
}

static void
metric_count(struct bc_metric *m)
{
	if (m != NULL)
		bc_metric_inc(m, NULL);
}

static void
metric_outbox(struct bc_router *r)
{
	if (r->m_outbox != NULL)
		bc_metric_set(r->m_outbox, NULL, (double)r->ninflight);
}

/* ------------------------------------------------------------ helpers */

/* Is the database error just seen a lost connection? Marks the txn. */
static int
router_lost(struct bc_router_ctx *ctx)
{
	if (bc_db_lost(ctx->db)) {
		if (ctx->txn != NULL)
			ctx->txn->lost = 1;
		return 1;
	}
	return 0;
}

/* Log a database failure of what, with the cause, and free the cause. */
static void
router_dberr(struct bc_router *r, const char *what, char *cause)
{
	log_kv(LOG_LEVEL_WARN, what, "bot", r->bot, "error",
	    cause != NULL ? cause : "unknown", NULL);
	free(cause);
}

/* Build a PostgreSQL array literal "{1,2,3}" from ids. Caller frees. */
static char *
router_id_array(const int64_t *ids, size_t n)
{
	char *s, num[BC_DB_INT64_BUFSZ];
	size_t len = 2, cap, i, k;

	cap = 2 + n * BC_DB_INT64_BUFSZ + 1;
	s = xmalloc(cap);
	s[0] = '{';
	len = 1;
	for (i = 0; i < n; i++) {
		k = strlen(bc_db_int64(num, ids[i]));
		if (i > 0)
			s[len++] = ',';
		memcpy(s + len, num, k);
		len += k;
	}
	s[len++] = '}';
	s[len] = '\0';
	return s;
}

/* Is name our username (case-insensitively)? */
static int
router_ours(const struct bc_router *r, const char *name)
{
	const char *me = r->username;

	if (me == NULL && r->tg != NULL)
		me = bc_tg_me_username(r->tg);
	return me != NULL && strcasecmp(me, name) == 0;
}

/* ------------------------------------------------------------ senders */

int
bc_router_tg_send_text(void *arg, int64_t chat_id, const char *text,
    int flags, json_t *markup, bc_tg_cb *cb, void *cbarg)
{
	return bc_tg_send_text(arg, chat_id, text, flags, markup, cb, cbarg);
}

int
bc_router_tg_call(void *arg, const char *method, json_t *params,
    int flags, bc_tg_cb *cb, void *cbarg)
{
	return bc_tg_call(arg, method, params, flags, cb, cbarg);
}

/* ------------------------------------------------------------ new/free */

/* The k-th name of e: its name, then its aliases; NULL past the end. */
static const char *
router_cmd_name(const struct bc_cmd_entry *e, size_t k)
{
	if (k == 0)
		return e->name;
	if (k > BC_NELEM(e->aliases))
		return NULL;
	return e->aliases[k - 1];
}

/* Is name one of the names of the commands before cmds[n]? */
static int
router_cmd_clash(const struct bc_cmd_entry *cmds, size_t n, const char *name)
{
	const char *b;
	size_t j, l;

	for (j = 0; j < n; j++)
		for (l = 0; (b = router_cmd_name(&cmds[j], l)) != NULL; l++)
			if (strcasecmp(name, b) == 0)
				return 1;
	return 0;
}

/* Check the command table: names present, none twice. */
static int
router_check_tables(const struct bc_router_opts *o, char **cause)
{
	const char *a;
	size_t i, k;

	for (i = 0; i < o->ncmds; i++) {
		if (o->cmds[i].name == NULL || *o->cmds[i].name == '\0' ||
		    o->cmds[i].exec == NULL) {
			xasprintf(cause, "command %zu has no name or handler",
			    i);
			return -1;
		}
		for (k = 0; (a = router_cmd_name(&o->cmds[i], k)) != NULL; k++)
			if (router_cmd_clash(o->cmds, i, a) ||
			    (k > 0 && *a == '\0')) {
				xasprintf(cause, "command name \"%s\" is used "
				    "twice or empty", a);
				return -1;
			}
	}
	return 0;
}

/* Check the callback and conversation tables. */
static int
router_check_cbs(const struct bc_router_opts *o, char **cause)
{
	size_t i, j;

	for (i = 0; i < o->ncbs; i++) {
		if (o->cbs[i].prefix == NULL || *o->cbs[i].prefix == '\0' ||
		    o->cbs[i].exec == NULL) {
			xasprintf(cause, "callback %zu has no prefix or "
			    "handler", i);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(o->cbs[i].prefix, o->cbs[j].prefix) == 0) {
				xasprintf(cause, "callback prefix \"%s\" is "
				    "used twice", o->cbs[i].prefix);
				return -1;
			}
	}
	for (i = 0; i < o->nconvs; i++) {
		if (o->convs[i].name == NULL || o->convs[i].exec == NULL) {
			xasprintf(cause, "conversation %zu has no name or "
			    "handler", i);
			return -1;
		}
	}
	return 0;
}

static int
router_check_opts(const struct bc_router_opts *o, char **cause)
{
	if (o == NULL || o->bot == NULL || *o->bot == '\0') {
		*cause = xstrdup("router: no bot name");
		return -1;
	}
	if (o->db == NULL) {
		*cause = xstrdup("router: no database");
		return -1;
	}
	if (o->tg == NULL && (o->sender == NULL ||
	    o->sender->send_text == NULL || o->sender->call == NULL)) {
		*cause = xstrdup("router: no Telegram client or sender");
		return -1;
	}
	if ((o->ncmds > 0 && o->cmds == NULL) ||
	    (o->ncbs > 0 && o->cbs == NULL) ||
	    (o->nconvs > 0 && o->convs == NULL) ||
	    (o->nadmins > 0 && o->admins == NULL)) {
		*cause = xstrdup("router: a table count without a table");
		return -1;
	}
	if (router_check_tables(o, cause) == -1 ||
	    router_check_cbs(o, cause) == -1)
		return -1;
	return 0;
}

/* Copy the texts, keeping the defaults for NULL members. */
static void
router_set_texts(struct bc_router *r, const struct bc_router_texts *t)
{
	const char *v[TXT_COUNT] = { NULL };
	size_t i;

	if (t != NULL) {
		v[TXT_UNKNOWN] = t->unknown;
		v[TXT_PRIVATE_ONLY] = t->private_only;
		v[TXT_GROUP_ONLY] = t->group_only;
		v[TXT_ADMIN_ONLY] = t->admin_only;
		v[TXT_WAIT] = t->wait;
		v[TXT_ERROR] = t->error;
		v[TXT_CANCELLED] = t->cancelled;
		v[TXT_NOTHING] = t->nothing_to_cancel;
	}
	for (i = 0; i < TXT_COUNT; i++)
		r->texts[i] = xstrdup(v[i] != NULL && *v[i] != '\0' ? v[i] :
		    router_default_texts[i]);
}

/* Size the limiter's hash table for max entries. */
static void
router_rate_init(struct bc_router *r, size_t max)
{
	size_t n = 64;

	r->rate_max = max > 0 ? max : ROUTER_RATE_MAX;
	while (n < r->rate_max / 2 && n < ((size_t)1 << 20))
		n <<= 1;
	r->rate_tab = xcalloc(n, sizeof *r->rate_tab);
	r->rate_mask = n - 1;
	TAILQ_INIT(&r->rate_lru);
}

struct bc_router *
bc_router_new(const struct bc_router_opts *o, char **cause)
{
	struct bc_router *r;

	if (router_check_opts(o, cause) == -1)
		return NULL;
	r = xcalloc(1, sizeof *r);
	r->bot = xstrdup(o->bot);
	r->db = o->db;
	r->tg = o->tg;
	if (o->sender != NULL)
		r->sender = *o->sender;
	else {
		r->sender.send_text = bc_router_tg_send_text;
		r->sender.call = bc_router_tg_call;
		r->sender.arg = o->tg;
	}
	r->username = o->username != NULL ? xstrdup(o->username) : NULL;
	r->cmds = o->cmds;
	r->ncmds = o->ncmds;
	r->cbs = o->cbs;
	r->ncbs = o->ncbs;
	r->convs = o->convs;
	r->nconvs = o->nconvs;
	r->on_message = o->on_message;
	r->on_update = o->on_update;
	if (o->nadmins > 0) {
		r->admins = xreallocarray(NULL, o->nadmins, sizeof *r->admins);
		memcpy(r->admins, o->admins, o->nadmins * sizeof *r->admins);
		r->nadmins = o->nadmins;
	}
	router_set_texts(r, o->texts);
	r->conv_ttl_ms = o->conv_ttl_ms > 0 ? o->conv_ttl_ms :
	    ROUTER_CONV_TTL_MS;
	metrics_init(r, o->metrics);
	r->clock_ms = o->clock_ms != NULL ? o->clock_ms : bc_now_ms;
	r->arg = o->arg;
	TAILQ_INIT(&r->inflight);
	TAILQ_INIT(&r->batch_pending);
	r->batch_max = o->batch_max > ROUTER_BATCH_MAX ? ROUTER_BATCH_MAX :
	    o->batch_max;
	r->flush_ms = o->outbox_flush_ms;
	if (r->flush_ms >= 0)
		r->flush_timer = bc_timer_new(outbox_flush_timer, r);
	router_rate_init(r, o->rate_max_users);
	return r;
}

static void
outbox_item_free(struct outbox_item *it)
{
	if (it == NULL)
		return;
	json_decref(it->params);
	free(it->method);
	free(it);
}

static void
outbox_list_free(struct outbox_list *l)
{
	struct outbox_item *it;

	while ((it = TAILQ_FIRST(l)) != NULL) {
		TAILQ_REMOVE(l, it, entry);
		outbox_item_free(it);
	}
}

void
bc_router_free(struct bc_router *r)
{
	struct rate_entry *e;
	size_t i;

	if (r == NULL)
		return;
	bc_timer_free(r->flush_timer);
	if (r->ndone > 0 && !r->in_tx)
		outbox_flush(r);
	outbox_list_free(&r->inflight);
	outbox_list_free(&r->batch_pending);
	for (i = 0; i < r->ndone; i++)
		free(r->done[i].error);
	free(r->done);
	while ((e = TAILQ_FIRST(&r->rate_lru)) != NULL) {
		TAILQ_REMOVE(&r->rate_lru, e, lru);
		free(e);
	}
	free(r->rate_tab);
	for (i = 0; i < TXT_COUNT; i++)
		free(r->texts[i]);
	free(r->admins);
	free(r->username);
	free(r->bot);
	free(r);
}

void
bc_router_set_username(struct bc_router *r, const char *name)
{
	free(r->username);
	r->username = name != NULL ? xstrdup(name) : NULL;
}

int
bc_router_is_admin(const struct bc_router *r, int64_t user_id)
{
	size_t i;

	if (user_id == 0)
		return 0;
	if (r->nadmins == 0)
		return r->tg != NULL && bc_tg_is_admin(r->tg, user_id);
	for (i = 0; i < r->nadmins; i++)
		if (r->admins[i] == user_id)
			return 1;
	return 0;
}

size_t
bc_router_outbox_inflight(const struct bc_router *r)
{
	return r->ninflight;
}

/* ------------------------------------------------------------ rate limits */

static size_t
rate_hash(const struct bc_router *r, int64_t user_id,
    const struct bc_cmd_entry *cmd)
{
	uint64_t h;

	h = (uint64_t)user_id * 0x9e3779b97f4a7c15ULL;
	h ^= (uint64_t)(uintptr_t)cmd * 0xff51afd7ed558ccdULL;
	h ^= h >> 29;
	return (size_t)h & r->rate_mask;
}

static struct rate_entry *
rate_find(struct bc_router *r, int64_t user_id,
    const struct bc_cmd_entry *cmd)
{
	struct rate_entry *e;

	e = r->rate_tab[rate_hash(r, user_id, cmd)];
	for (; e != NULL; e = e->next)
		if (e->user_id == user_id && e->cmd == cmd)
			return e;
	return NULL;
}

static void
rate_remove(struct bc_router *r, struct rate_entry *e)
{
	struct rate_entry **pp;

	pp = &r->rate_tab[rate_hash(r, e->user_id, e->cmd)];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	TAILQ_REMOVE(&r->rate_lru, e, lru);
	r->nrate--;
	free(e);
}

/*
 * Refill e's credit up to now. Integer arithmetic: rate_per_min runs a
 * minute is rate_per_min credits a millisecond, a run costs RATE_RUN.
 */
static void
rate_refill(struct rate_entry *e, int64_t now)
{
	int64_t rate = e->cmd->rate_per_min, cap;

	if (rate <= 0)
		return;
	cap = rate * RATE_RUN;
	if (now > e->refill_ms)
		e->credit += (now - e->refill_ms) * rate;
	if (e->credit > cap)
		e->credit = cap;
	e->refill_ms = now;
}

/* Drop entries no longer limiting anything, and the oldest beyond max. */
static void
rate_expire(struct bc_router *r, int64_t now)
{
	struct rate_entry *e;
	int64_t horizon;

	while ((e = TAILQ_FIRST(&r->rate_lru)) != NULL) {
		horizon = e->cmd->cooldown_ms > 60000 ? e->cmd->cooldown_ms :
		    60000;
		if (r->nrate <= r->rate_max && now - e->last_ms < horizon)
			break;
		rate_remove(r, e);
	}
}

/*
 * Milliseconds user_id must wait before running cmd (0: go ahead). *warn
 * is 1 when the user should be told: once per wait, so that a user who
 * keeps trying does not make the bot flood the chat.
 */
static int64_t
rate_wait(struct bc_router *r, int64_t user_id,
    const struct bc_cmd_entry *cmd, int64_t now, int *warn)
{
	struct rate_entry *e;
	int64_t wait = 0, w;

	*warn = 0;
	if (user_id == 0 || (cmd->rate_per_min <= 0 && cmd->cooldown_ms <= 0))
		return 0;
	rate_expire(r, now);
	if ((e = rate_find(r, user_id, cmd)) == NULL)
		return 0;
	if (cmd->cooldown_ms > 0 && now - e->last_ms < cmd->cooldown_ms)
		wait = cmd->cooldown_ms - (now - e->last_ms);
	if (cmd->rate_per_min > 0) {
		rate_refill(e, now);
		if (e->credit < RATE_RUN) {
			w = (RATE_RUN - e->credit + cmd->rate_per_min - 1) /
			    cmd->rate_per_min;
			if (w > wait)
				wait = w;
		}
	}
	if (wait > 0 && now >= e->quiet_ms) {
		*warn = 1;
		e->quiet_ms = now + wait;
	}
	return wait;
}

/* Count one run of cmd by user_id. */
static void
rate_hit(struct bc_router *r, int64_t user_id,
    const struct bc_cmd_entry *cmd, int64_t now)
{
	struct rate_entry *e;
	size_t h;

	if (user_id == 0 || (cmd->rate_per_min <= 0 && cmd->cooldown_ms <= 0))
		return;
	if ((e = rate_find(r, user_id, cmd)) == NULL) {
		e = xcalloc(1, sizeof *e);
		e->user_id = user_id;
		e->cmd = cmd;
		e->credit = (int64_t)cmd->rate_per_min * RATE_RUN;
		e->refill_ms = now;
		h = rate_hash(r, user_id, cmd);
		e->next = r->rate_tab[h];
		r->rate_tab[h] = e;
		r->nrate++;
	} else
		TAILQ_REMOVE(&r->rate_lru, e, lru);
	TAILQ_INSERT_TAIL(&r->rate_lru, e, lru);
	rate_refill(e, now);
	if (cmd->rate_per_min > 0)
		e->credit -= RATE_RUN;
	e->last_ms = now;
	rate_expire(r, now);
}

/* ------------------------------------------------------------ outbox */

/* Remember a completed row; error NULL: delete it, else mark failed. */
static void
outbox_done_add(struct bc_router *r, int64_t id, const char *error)
{
	if (r->ndone == r->done_cap) {
		r->done_cap = r->done_cap == 0 ? 32 : r->done_cap * 2;
		r->done = xreallocarray(r->done, r->done_cap,
		    sizeof *r->done);
	}
	r->done[r->ndone].id = id;
	r->done[r->ndone].error = error != NULL ? xstrdup(error) : NULL;
	r->ndone++;
}

/* Mark the failed rows among done, one statement each (rare). */
static int
outbox_flush_failed(struct bc_router *r)
{
	char idbuf[BC_DB_INT64_BUFSZ], *cause = NULL;
	size_t i;

	for (i = 0; i < r->ndone; i++) {
		if (r->done[i].error == NULL)
			continue;
		if (bc_db_exec(r->db, "UPDATE tg_outbox SET failed_at = now(),"
		    " error = $3 WHERE bot = $1 AND id = $2",
		    BC_DB_P(r->bot, bc_db_int64(idbuf, r->done[i].id),
		    r->done[i].error), NULL, &cause) == -1) {
			router_dberr(r, "cannot mark outbox row failed", cause);
			return -1;
		}
	}
	return 0;
}

/*
 * Delete the rows Telegram accepted, in one statement, and mark the
 * failed ones. Outside a transaction only; on a database error the list
 * is kept for the next try.
 */
static void
outbox_flush(struct bc_router *r)
{
	int64_t *ids;
	char *arr, *cause = NULL;
	size_t i, n = 0;
	int rc;

	if (r->ndone == 0 || r->in_tx || r->dispatching ||
	    bc_db_in_tx(r->db))
		return;
	if (outbox_flush_failed(r) == -1)
		return;
	ids = xreallocarray(NULL, r->ndone, sizeof *ids);
	for (i = 0; i < r->ndone; i++)
		if (r->done[i].error == NULL)
			ids[n++] = r->done[i].id;
	arr = router_id_array(ids, n);
	rc = n == 0 ? 0 : bc_db_exec(r->db, "DELETE FROM tg_outbox WHERE "
	    "bot = $1 AND id = ANY($2::bigint[])", BC_DB_P(r->bot, arr), NULL,
	    &cause);
	free(arr);
	free(ids);
	if (rc == -1) {
		/* Once per outage, not once per reply. */
		if (!r->flush_failing)
			router_dberr(r, "cannot delete sent outbox rows "
			    "(retrying quietly)", cause);
		else
			free(cause);
		r->flush_failing = 1;
		return;
	}
	if (r->flush_failing)
		log_kv(LOG_LEVEL_INFO, "outbox rows deleted again", "bot",
		    r->bot, NULL);
	r->flush_failing = 0;
	for (i = 0; i < r->ndone; i++)
		free(r->done[i].error);
	r->ndone = 0;
}

/*
 * Delete the accepted rows soon: at once with flush_ms < 0 or when a
 * batch is full, else when the timer fires: at the loop's next turn, or
 * flush_ms later (ROUTER_FLUSH_RETRY_MS after a failure).
 */
static void
outbox_flush_soon(struct bc_router *r)
{
	if (r->ndone == 0)
		return;
	if (r->flush_ms < 0 ||
	    (r->ndone >= ROUTER_FLUSH_BATCH && !r->flush_failing))
		outbox_flush(r);
	if (r->ndone > 0 && r->flush_timer != NULL &&
	    !bc_timer_pending(r->flush_timer))
		bc_timer_start(r->flush_timer, r->flush_failing ?
		    ROUTER_FLUSH_RETRY_MS : r->flush_ms);
}

static void
outbox_flush_timer(void *arg)
{
	struct bc_router *r = arg;

	outbox_flush(r);
	/* Not done (a transaction open, the database away): later. */
	if (r->ndone > 0)
		bc_timer_start(r->flush_timer, r->flush_ms >
		    ROUTER_FLUSH_RETRY_MS ? r->flush_ms :
		    ROUTER_FLUSH_RETRY_MS);
}

/* Is a final failure permanent (the request itself is refused)? */
static int
outbox_permanent(const struct bc_tg_result *res)
{
	int code = res->error_code != 0 ? res->error_code : res->status;

	return code >= 400 && code < 500 && code != 429;
}

/* A call of the outbox completed. */
static void
outbox_sent(const struct bc_tg_result *res, void *arg)
{
	struct outbox_item *it = arg;
	struct bc_router *r = it->r;
	char idbuf[BC_DB_INT64_BUFSZ];

	TAILQ_REMOVE(&r->inflight, it, entry);
	r->ninflight--;
	if (res->ok)
		outbox_done_add(r, it->id, NULL);
	else if (outbox_permanent(res)) {
		log_kv(LOG_LEVEL_WARN, "outbox call refused", "bot", r->bot,
		    "method", it->method, "id", bc_db_int64(idbuf, it->id),
		    "error", res->description, NULL);
		outbox_done_add(r, it->id, res->description != NULL &&
		    *res->description != '\0' ? res->description : "failed");
		metric_count(r->m_outbox_failed);
	} else
		log_kv(LOG_LEVEL_WARN, "outbox call failed; kept for later",
		    "bot", r->bot, "method", it->method, "id",
		    bc_db_int64(idbuf, it->id), "error", res->description,
		    NULL);
	outbox_item_free(it);
	metric_outbox(r);
	outbox_flush_soon(r);
}

/*
 * Hand one row to the sender; the item goes to the in-flight list. The
 * params are taken from the item first, so nothing touches it after the
 * call but on failure (when the callback will not run).
 */
static void
outbox_dispatch(struct bc_router *r, struct outbox_item *it)
{
	json_t *p = it->params, *markup, *chat;
	const char *text;
	int rc;

	if (it->id <= 0) {
		/* Cannot happen: RETURNING id gave no id. */
		log_kv(LOG_LEVEL_WARN, "outbox row without an id; sent at the "
		    "next start", "bot", r->bot, "method", it->method, NULL);
		outbox_item_free(it);
		return;
	}
	it->r = r;
	it->params = NULL;
	TAILQ_INSERT_TAIL(&r->inflight, it, entry);
	r->ninflight++;
	chat = json_object_get(p, "chat_id");
	text = json_string_value(json_object_get(p, "text"));
	if (strcmp(it->method, "sendMessage") == 0 && json_is_integer(chat) &&
	    text != NULL) {
		markup = json_incref(json_object_get(p, "reply_markup"));
		rc = r->sender.send_text(r->sender.arg,
		    json_integer_value(chat), text, it->flags, markup,
		    outbox_sent, it);
		json_decref(p);
	} else
		rc = r->sender.call(r->sender.arg, it->method, p, it->flags,
		    outbox_sent, it);
	if (rc == -1) {
		log_kv(LOG_LEVEL_WARN, "cannot queue outbox call; kept for "
		    "later", "bot", r->bot, "method", it->method, NULL);
		TAILQ_REMOVE(&r->inflight, it, entry);
		r->ninflight--;
		outbox_item_free(it);
	}
}

/* Send the rows of a committed transaction, in order. */
static void
outbox_send_list(struct bc_router *r, struct outbox_list *l)
{
	struct outbox_item *it;

	r->dispatching = 1;
	while ((it = TAILQ_FIRST(l)) != NULL) {
		TAILQ_REMOVE(l, it, entry);
		outbox_dispatch(r, it);
	}
	r->dispatching = 0;
	metric_outbox(r);
	outbox_flush_soon(r);
}

/* Keep one row for the context's transaction; written by its commit. */
static int
outbox_add(struct bc_router_ctx *ctx, const char *method, json_t *params,
    int flags)
{
	struct bc_router *r = ctx->router;
	struct outbox_item *it;

	if (params == NULL || !json_is_object(params)) {
		log_kv(LOG_LEVEL_WARN, "outbox: params must be an object",
		    "bot", r->bot, "method", method, NULL);
		json_decref(params);
		return -1;
	}
	if (ctx->txn == NULL || !r->in_tx) {
		log_kv(LOG_LEVEL_WARN, "outbox: not inside a handler", "bot",
		    r->bot, "method", method, NULL);
		json_decref(params);
		return -1;
	}
	it = xcalloc(1, sizeof *it);
	it->r = r;
	it->method = xstrdup(method);
	it->params = params;
	it->flags = flags;
	TAILQ_INSERT_TAIL(&ctx->txn->pending, it, entry);
	return 0;
}

/* Is id in the sorted array skip? */
static int
outbox_skip(const int64_t *skip, size_t n, int64_t id)
{
	size_t lo = 0, hi = n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (skip[mid] == id)
			return 1;
		if (skip[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
outbox_cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The ids in flight or completed and not yet deleted, sorted. */
static int64_t *
outbox_busy_ids(struct bc_router *r, size_t *n)
{
	struct outbox_item *it;
	int64_t *ids;
	size_t i = 0, k;

	ids = xreallocarray(NULL, r->ninflight + r->ndone + 1, sizeof *ids);
	TAILQ_FOREACH(it, &r->inflight, entry)
		ids[i++] = it->id;
	for (k = 0; k < r->ndone; k++)
		ids[i++] = r->done[k].id;
	qsort(ids, i, sizeof *ids, outbox_cmp_id);
	*n = i;
	return ids;
}

/* Make an item from one pending row (row i of res); NULL if unusable. */
static struct outbox_item *
outbox_row(struct bc_router *r, struct bc_db_res *res, int i)
{
	struct outbox_item *it;
	json_t *p;
	int64_t id, flags;

	if (bc_db_get_int64(res, i, 0, &id) == -1 ||
	    bc_db_get_int64(res, i, 3, &flags) == -1)
		return NULL;
	p = json_loads(bc_db_get(res, i, 2), 0, NULL);
	if (p == NULL || !json_is_object(p)) {
		json_decref(p);
		outbox_done_add(r, id, "unreadable params");
		return NULL;
	}
	it = xcalloc(1, sizeof *it);
	it->r = r;
	it->id = id;
	it->method = xstrdup(bc_db_get(res, i, 1));
	it->params = p;
	it->flags = (int)flags;
	return it;
}

/* Send the pending rows of earlier runs (and any not in flight now). */
static int
outbox_resume(struct bc_router *r, char **cause)
{
	struct outbox_list l = TAILQ_HEAD_INITIALIZER(l);
	struct outbox_item *it;
	struct bc_db_res *res;
	int64_t *busy, after = 0, id;
	size_t nbusy, sent = 0;
	char abuf[BC_DB_INT64_BUFSZ], lim[BC_DB_INT64_BUFSZ];
	int i, n;

	busy = outbox_busy_ids(r, &nbusy);
	bc_db_int64(lim, ROUTER_RESUME_BATCH);
	do {
		res = bc_db_query(r->db, "SELECT id, method, params::text, "
		    "flags FROM tg_outbox WHERE bot = $1 AND failed_at IS NULL"
		    " AND id > $2 ORDER BY id LIMIT $3", BC_DB_P(r->bot,
		    bc_db_int64(abuf, after), lim), cause);
		if (res == NULL) {
			free(busy);
			outbox_send_list(r, &l);
			return -1;
		}
		n = bc_db_ntuples(res);
		for (i = 0; i < n; i++) {
			if (bc_db_get_int64(res, i, 0, &id) == -1)
				continue;
			after = id;
			if (outbox_skip(busy, nbusy, id) ||
			    (it = outbox_row(r, res, i)) == NULL)
				continue;
			TAILQ_INSERT_TAIL(&l, it, entry);
			sent++;
		}
		bc_db_res_free(res);
	} while (n == ROUTER_RESUME_BATCH);
	free(busy);
	if (sent > 0)
		log_kv(LOG_LEVEL_INFO, "sending pending outbox rows", "bot",
		    r->bot, "rows", bc_db_int64(abuf, (int64_t)sent), NULL);
	outbox_send_list(r, &l);
	return 0;
}

/* ------------------------------------------------------------ pruning */

/* Drop what nobody needs any more. Failures are logged only. */
static void
router_prune(struct bc_router *r)
{
	static const char *const sql[] = {
		"DELETE FROM processed_updates WHERE bot = $1 AND "
		    "processed_at < now() - interval '48 hours'",
		"DELETE FROM conversations WHERE bot = $1 AND "
		    "expires_at < now()",
		"DELETE FROM tg_outbox WHERE bot = $1 AND "
		    "failed_at < now() - interval '7 days'",
	};
	char *cause = NULL;
	size_t i;

	for (i = 0; i < BC_NELEM(sql); i++)
		if (bc_db_exec(r->db, sql[i], BC_DB_P(r->bot), NULL,
		    &cause) == -1) {
			router_dberr(r, "cannot prune runtime tables", cause);
			cause = NULL;
			return;
		}
}

int
bc_router_start(struct bc_router *r, char **cause)
{
	if (r->in_tx) {
		*cause = xstrdup("router: start inside a transaction");
		return -1;
	}
	outbox_flush(r);
	if (outbox_resume(r, cause) == -1)
		return -1;
	router_prune(r);
	r->started = 1;
	r->next_prune_ms = r->clock_ms() + ROUTER_PRUNE_MS;
	return 0;
}

/* Start if not started, and prune (and resend leftovers) now and then. */
static int
router_ready(struct bc_router *r)
{
	char *cause = NULL;

	if (!r->started || r->clock_ms() >= r->next_prune_ms) {
		if (bc_router_start(r, &cause) == -1) {
			router_dberr(r, "cannot start router", cause);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ replies */

int
bc_router_send(struct bc_router_ctx *ctx, int64_t chat_id, const char *text,
    int flags, json_t *markup)
{
	json_t *p, *t;

	if (chat_id == 0 || text == NULL || *text == '\0' ||
	    (t = json_string(text)) == NULL) {
		log_kv(LOG_LEVEL_WARN, "reply: no chat, or empty or invalid "
		    "text", "bot", ctx->router->bot, NULL);
		json_decref(markup);
		return -1;
	}
	p = json_object();
	json_object_set_new(p, "chat_id", json_integer(chat_id));
	json_object_set_new(p, "text", t);
	if (markup != NULL)
		json_object_set_new(p, "reply_markup", markup);
	return outbox_add(ctx, "sendMessage", p, flags);
}

int
bc_router_reply(struct bc_router_ctx *ctx, const char *text, int flags,
    json_t *markup)
{
	return bc_router_send(ctx, ctx->chat_id, text, flags, markup);
}

int
bc_router_call(struct bc_router_ctx *ctx, const char *method, json_t *params,
    int flags)
{
	size_t i, n;

	n = method != NULL ? strlen(method) : 0;
	for (i = 0; i < n; i++)
		if (!((method[i] >= 'a' && method[i] <= 'z') ||
		    (method[i] >= 'A' && method[i] <= 'Z')))
			break;
	if (n == 0 || n > ROUTER_METHOD_MAX || i < n) {
		log_kv(LOG_LEVEL_WARN, "call: bad method name", "bot",
		    ctx->router->bot, NULL);
		json_decref(params);
		return -1;
	}
	return outbox_add(ctx, method, params, flags);
}

int
bc_router_answer(struct bc_router_ctx *ctx, const char *text,
    int show_alert)
{
	json_t *p, *t = NULL;

	if (ctx->u == NULL || ctx->u->type != BC_TG_UPDATE_CALLBACK_QUERY ||
	    ctx->u->callback.id == NULL || ctx->txn->answered)
		return -1;
	if (text != NULL && *text != '\0' && (t = json_string(text)) == NULL)
		return -1;
	p = json_object();
	json_object_set_new(p, "callback_query_id",
	    json_string(ctx->u->callback.id));
	if (t != NULL)
		json_object_set_new(p, "text", t);
	if (show_alert)
		json_object_set_new(p, "show_alert", json_true());
	if (outbox_add(ctx, "answerCallbackQuery", p, 0) == -1)
		return -1;
	ctx->txn->answered = 1;
	return 0;
}

int
bc_router_audit(struct bc_router_ctx *ctx, const char *action,
    json_t *details)
{
	struct bc_router *r = ctx->router;
	char uid[BC_DB_INT64_BUFSZ], *text, *cause = NULL;
	int rc;

	if (action == NULL || *action == '\0' ||
	    (details != NULL && !json_is_object(details)) || !r->in_tx) {
		log_kv(LOG_LEVEL_WARN, "audit: bad action or details, or not "
		    "in a handler", "bot", r->bot, NULL);
		return -1;
	}
	text = details != NULL ? json_dumps(details, JSON_COMPACT) :
	    xstrdup("{}");
	rc = bc_db_exec(ctx->db, "INSERT INTO admin_audit (bot, admin_id, "
	    "action, details) VALUES ($1, $2, $3, $4::jsonb)",
	    BC_DB_P(r->bot, bc_db_int64(uid, ctx->user_id), action, text),
	    NULL, &cause);
	free(text);
	if (rc == -1) {
		router_lost(ctx);
		router_dberr(r, "cannot write audit row", cause);
	}
	return rc;
}

/* ------------------------------------------------------------ conversations */

static void
conv_clear(struct bc_router_txn *t)
{
	free(t->conv_name);
	free(t->conv_step);
	json_decref(t->conv_data);
	t->conv_name = t->conv_step = NULL;
	t->conv_data = NULL;
	memset(&t->conv, 0, sizeof t->conv);
	t->conv_state = CONV_NONE;
}

/* Keep a loaded conversation in the context. data is stolen. */
static void
conv_keep(struct bc_router_txn *t, const char *name, const char *step,
    json_t *data, int64_t expires_ms)
{
	conv_clear(t);
	t->conv_name = xstrdup(name);
	t->conv_step = xstrdup(step != NULL ? step : "");
	t->conv_data = data != NULL ? data : json_object();
	t->conv.name = t->conv_name;
	t->conv.step = t->conv_step;
	t->conv.data = t->conv_data;
	t->conv.expires_ms = expires_ms;
	t->conv_state = CONV_LOADED;
}

/* The (bot, chat, user) parameters of the context's conversation. */
static int
conv_key(struct bc_router_ctx *ctx, char *chat, char *user)
{
	if (ctx->chat_id == 0 || ctx->user_id == 0 || ctx->txn == NULL ||
	    !ctx->router->in_tx)
		return -1;
	bc_db_int64(chat, ctx->chat_id);
	bc_db_int64(user, ctx->user_id);
	return 0;
}

/* Delete the context's conversation row. */
static int
conv_delete(struct bc_router_ctx *ctx, const char *chat, const char *user)
{
	char *cause = NULL;

	if (bc_db_exec(ctx->db, "DELETE FROM conversations WHERE bot = $1 "
	    "AND chat_id = $2 AND user_id = $3", BC_DB_P(ctx->router->bot,
	    chat, user), NULL, &cause) == -1) {
		router_lost(ctx);
		router_dberr(ctx->router, "cannot delete conversation", cause);
		return -1;
	}
	conv_clear(ctx->txn);
	return 0;
}

/* Load the conversation from row 0 of res; expired ones are deleted. */
static void
conv_load_row(struct bc_router_ctx *ctx, struct bc_db_res *res,
    const char *chat, const char *user)
{
	int64_t exp;
	int expired;
	json_t *data;

	if (bc_db_get_bool(res, 0, 4, &expired) == -1 ||
	    bc_db_get_int64(res, 0, 3, &exp) == -1)
		expired = 1;
	if (expired) {
		if (conv_delete(ctx, chat, user) == -1)
			ctx->txn->conv_state = CONV_ERROR;
		return;
	}
	data = json_loads(bc_db_get(res, 0, 2), 0, NULL);
	if (data != NULL && !json_is_object(data)) {
		json_decref(data);
		data = NULL;
	}
	conv_keep(ctx->txn, bc_db_get(res, 0, 0), bc_db_get(res, 0, 1), data,
	    exp);
}

const struct bc_conv *
bc_router_conv(struct bc_router_ctx *ctx)
{
	struct bc_db_res *res;
	char chat[BC_DB_INT64_BUFSZ], user[BC_DB_INT64_BUFSZ], *cause = NULL;

	if (conv_key(ctx, chat, user) == -1)
		return NULL;
	if (ctx->txn->conv_state == CONV_UNKNOWN ||
	    ctx->txn->conv_state == CONV_ERROR) {
		res = bc_db_query(ctx->db, "SELECT name, step, data::text, "
		    "(extract(epoch FROM expires_at) * 1000)::bigint, "
		    "expires_at <= now() FROM conversations WHERE bot = $1 AND"
		    " chat_id = $2 AND user_id = $3", BC_DB_P(ctx->router->bot,
		    chat, user), &cause);
		if (res == NULL) {
			router_lost(ctx);
			router_dberr(ctx->router, "cannot load conversation",
			    cause);
			ctx->txn->conv_state = CONV_ERROR;
			return NULL;
		}
		conv_clear(ctx->txn);
		if (bc_db_ntuples(res) == 1)
			conv_load_row(ctx, res, chat, user);
		bc_db_res_free(res);
	}
	return ctx->txn->conv_state == CONV_LOADED ? &ctx->txn->conv : NULL;
}

/* Store the conversation and reload the context's copy from the row. */
static int
conv_store(struct bc_router_ctx *ctx, const char *name, const char *step,
    const char *data, int64_t ttl_ms)
{
	struct bc_db_res *res;
	char chat[BC_DB_INT64_BUFSZ], user[BC_DB_INT64_BUFSZ];
	char ttl[BC_DB_INT64_BUFSZ], *cause = NULL;

	if (conv_key(ctx, chat, user) == -1)
		return -1;
	res = bc_db_query(ctx->db, "INSERT INTO conversations (bot, chat_id, "
	    "user_id, name, step, data, ttl_ms, expires_at) VALUES ($1, $2, "
	    "$3, $4, $5, $6::jsonb, $7::bigint, now() + $7::bigint * "
	    "interval '1 ms') "
	    "ON CONFLICT (bot, chat_id, user_id) DO UPDATE SET name = "
	    "EXCLUDED.name, step = EXCLUDED.step, data = EXCLUDED.data, "
	    "ttl_ms = EXCLUDED.ttl_ms, expires_at = EXCLUDED.expires_at, "
	    "updated_at = now() RETURNING name, step, data::text, "
	    "(extract(epoch FROM expires_at) * 1000)::bigint, false",
	    BC_DB_P(ctx->router->bot, chat, user, name, step, data,
	    bc_db_int64(ttl, ttl_ms)), &cause);
	if (res == NULL) {
		router_lost(ctx);
		router_dberr(ctx->router, "cannot store conversation", cause);
		return -1;
	}
	conv_load_row(ctx, res, chat, user);
	bc_db_res_free(res);
	return 0;
}

int
bc_router_conv_start(struct bc_router_ctx *ctx, const char *name,
    const char *step, json_t *data, int64_t ttl_ms)
{
	char *text;
	int rc;

	if (name == NULL || *name == '\0' ||
	    (data != NULL && !json_is_object(data))) {
		log_kv(LOG_LEVEL_WARN, "conversation: bad name or data", "bot",
		    ctx->router->bot, NULL);
		return -1;
	}
	text = data != NULL ? json_dumps(data, JSON_COMPACT) : xstrdup("{}");
	rc = conv_store(ctx, name, step != NULL ? step : "", text,
	    ttl_ms > 0 ? ttl_ms : ctx->router->conv_ttl_ms);
	free(text);
	return rc;
}

int
bc_router_conv_set(struct bc_router_ctx *ctx, const char *step,
    json_t *data)
{
	const struct bc_conv *c;
	struct bc_db_res *res;
	char chat[BC_DB_INT64_BUFSZ], user[BC_DB_INT64_BUFSZ];
	char *text = NULL, *cause = NULL, *name, *st;
	int64_t ttl;
	int rc;

	if ((c = bc_router_conv(ctx)) == NULL ||
	    (data != NULL && !json_is_object(data)) ||
	    conv_key(ctx, chat, user) == -1)
		return -1;
	res = bc_db_query(ctx->db, "SELECT ttl_ms FROM conversations WHERE "
	    "bot = $1 AND chat_id = $2 AND user_id = $3",
	    BC_DB_P(ctx->router->bot, chat, user), &cause);
	if (res == NULL || bc_db_get_int64(res, 0, 0, &ttl) == -1) {
		router_lost(ctx);
		router_dberr(ctx->router, "cannot read conversation", cause);
		bc_db_res_free(res);
		return -1;
	}
	bc_db_res_free(res);
	/* conv_store() replaces the strings c points to: copy them. */
	text = json_dumps(data != NULL ? data : c->data, JSON_COMPACT);
	name = xstrdup(c->name);
	st = xstrdup(step != NULL ? step : c->step);
	rc = conv_store(ctx, name, st, text, ttl);
	free(name);
	free(st);
	free(text);
	return rc;
}

int
bc_router_conv_end(struct bc_router_ctx *ctx)
{
	char chat[BC_DB_INT64_BUFSZ], user[BC_DB_INT64_BUFSZ];

	if (conv_key(ctx, chat, user) == -1)
		return -1;
	return conv_delete(ctx, chat, user);
}

/* ------------------------------------------------------------ dispatch */

/* Reply with text number which. */
static int
router_say(struct bc_router_ctx *ctx, int which)
{
	return bc_router_reply(ctx, ctx->router->texts[which], 0, NULL);
}

/* Reply "wait N s". */
static int
router_say_wait(struct bc_router_ctx *ctx, int64_t wait_ms)
{
	const char *tpl = ctx->router->texts[TXT_WAIT], *p;
	char num[BC_DB_INT64_BUFSZ], *out;
	size_t cap, len = 0, k;
	int rc;

	bc_db_int64(num, (wait_ms + 999) / 1000);
	k = strlen(num);
	cap = strlen(tpl) * (k + 1) + 1;
	out = xmalloc(cap);
	for (p = tpl; *p != '\0'; p++) {
		if (strncmp(p, "{s}", 3) == 0) {
			memcpy(out + len, num, k);
			len += k;
			p += 2;
		} else
			out[len++] = *p;
	}
	out[len] = '\0';
	rc = bc_router_reply(ctx, out, 0, NULL);
	free(out);
	return rc;
}

static const struct bc_cmd_entry *
router_find_cmd(const struct bc_router *r, const char *name)
{
	const char *a;
	size_t i, k;

	for (i = 0; i < r->ncmds; i++)
		for (k = 0; (a = router_cmd_name(&r->cmds[i], k)) != NULL; k++)
			if (strcasecmp(a, name) == 0)
				return &r->cmds[i];
	return NULL;
}

static const struct bc_cb_entry *
router_find_cb(const struct bc_router *r, const char *data)
{
	const struct bc_cb_entry *best = NULL;
	size_t i, n, bestn = 0;

	for (i = 0; i < r->ncbs; i++) {
		n = strlen(r->cbs[i].prefix);
		if (n > bestn && strncmp(data, r->cbs[i].prefix, n) == 0) {
			best = &r->cbs[i];
			bestn = n;
		}
	}
	return best;
}

/* The built-in /cancel: end the user's conversation. */
static int
router_cancel(struct bc_router_ctx *ctx)
{
	const struct bc_conv *c;

	c = bc_router_conv(ctx);
	if (c == NULL) {
		if (ctx->txn->conv_state == CONV_ERROR)
			return -1;
		return ctx->is_private ? router_say(ctx, TXT_NOTHING) : 0;
	}
	if (bc_router_conv_end(ctx) == -1)
		return -1;
	return router_say(ctx, TXT_CANCELLED);
}

/* Refuse an admin-only command or button to a non-admin, with a log. */
static void
router_log_refusal(struct bc_router_ctx *ctx, const char *what)
{
	char uid[BC_DB_INT64_BUFSZ], cid[BC_DB_INT64_BUFSZ];

	log_kv(LOG_LEVEL_WARN, "admin action refused", "bot",
	    ctx->router->bot, "user_id", bc_db_int64(uid, ctx->user_id),
	    "chat_id", bc_db_int64(cid, ctx->chat_id), "what", what, NULL);
	metric_count(ctx->router->m_refused);
}

/* Record an admin command in the audit log. */
static int
router_audit_cmd(struct bc_router_ctx *ctx)
{
	json_t *d;
	char *action;
	int rc;

	d = json_object();
	json_object_set_new(d, "chat_id", json_integer(ctx->chat_id));
	json_object_set_new(d, "args", json_string(ctx->args));
	xasprintf(&action, "/%s", ctx->cmd->name);
	rc = bc_router_audit(ctx, action, d);
	free(action);
	json_decref(d);
	return rc;
}

/* Check scope, admin and limits, then run the command. */
static int
router_run_cmd(struct bc_router_ctx *ctx, const struct bc_cmd_entry *e)
{
	struct bc_router *r = ctx->router;
	int64_t wait;
	int warn;

	ctx->cmd = e;
	if (e->scope == BC_CMD_PRIVATE && !ctx->is_private)
		return router_say(ctx, TXT_PRIVATE_ONLY);
	if (e->scope == BC_CMD_GROUP && ctx->is_private)
		return router_say(ctx, TXT_GROUP_ONLY);
	if ((e->flags & BC_CMD_ADMIN) && !ctx->is_admin) {
		router_log_refusal(ctx, e->name);
		return router_say(ctx, TXT_ADMIN_ONLY);
	}
	if ((wait = rate_wait(r, ctx->user_id, e, r->clock_ms(), &warn)) > 0) {
		metric_count(r->m_limited);
		return warn ? router_say_wait(ctx, wait) : 0;
	}
	ctx->txn->rate_cmd = e;
	if ((e->flags & BC_CMD_ADMIN) && router_audit_cmd(ctx) == -1)
		return -1;
	return e->exec(ctx);
}

static int
router_command(struct bc_router_ctx *ctx)
{
	const struct bc_tg_message *m = ctx->msg;
	const struct bc_cmd_entry *e;

	if (m->command_bot != NULL && !router_ours(ctx->router,
	    m->command_bot))
		return 0;
	ctx->args = m->args != NULL ? m->args : "";
	if ((e = router_find_cmd(ctx->router, m->command)) != NULL)
		return router_run_cmd(ctx, e);
	if (strcasecmp(m->command, "cancel") == 0)
		return router_cancel(ctx);
	return ctx->is_private ? router_say(ctx, TXT_UNKNOWN) : 0;
}

static int
router_message(struct bc_router_ctx *ctx)
{
	struct bc_router *r = ctx->router;
	const struct bc_conv *c;
	size_t i;

	if (ctx->msg->command != NULL)
		return router_command(ctx);
	if (ctx->user_id != 0 && r->nconvs > 0) {
		if ((c = bc_router_conv(ctx)) == NULL &&
		    ctx->txn->conv_state == CONV_ERROR)
			return -1;
		for (i = 0; c != NULL && i < r->nconvs; i++)
			if (strcmp(r->convs[i].name, c->name) == 0)
				return r->convs[i].exec(ctx);
		if (c != NULL) {
			log_kv(LOG_LEVEL_WARN, "dropping conversation of "
			    "unknown kind", "bot", r->bot, "name", c->name,
			    NULL);
			if (bc_router_conv_end(ctx) == -1)
				return -1;
		}
	}
	return r->on_message != NULL ? r->on_message(ctx) : 0;
}

static int
router_callback(struct bc_router_ctx *ctx)
{
	const struct bc_tg_callback *cq = &ctx->u->callback;
	const struct bc_cb_entry *e;
	int rc = 0;

	if (cq->id == NULL)
		return 0;
	if ((e = router_find_cb(ctx->router, cq->data)) == NULL)
		log_kv(LOG_LEVEL_DEBUG, "no handler for callback data", "bot",
		    ctx->router->bot, "data", cq->data, NULL);
	else if ((e->flags & BC_CMD_ADMIN) && !ctx->is_admin) {
		router_log_refusal(ctx, e->prefix);
		rc = bc_router_answer(ctx, ctx->router->texts[TXT_ADMIN_ONLY],
		    1);
	} else {
		ctx->cb = e;
		ctx->args = cq->data + strlen(e->prefix);
		rc = e->exec(ctx);
	}
	if (rc == 0 && !ctx->txn->answered)
		rc = bc_router_answer(ctx, NULL, 0);
	return rc;
}

static int
router_dispatch(struct bc_router_ctx *ctx)
{
	switch (ctx->u->type) {
	case BC_TG_UPDATE_MESSAGE:
		return router_message(ctx);
	case BC_TG_UPDATE_CALLBACK_QUERY:
		return router_callback(ctx);
	default:
		break;
	}
	return ctx->router->on_update != NULL ?
	    ctx->router->on_update(ctx) : 0;
}

/* ------------------------------------------------------------ transactions */

static void
ctx_init(struct bc_router_ctx *ctx, struct bc_router_txn *t,
    struct bc_router *r, const struct bc_tg_update *u, void *arg)
{
	memset(ctx, 0, sizeof *ctx);
	memset(t, 0, sizeof *t);
	TAILQ_INIT(&t->pending);
	ctx->router = r;
	ctx->db = r->db;
	ctx->arg = arg;
	ctx->u = u;
	ctx->args = "";
	ctx->txn = t;
	if (u == NULL)
		return;
	if (u->type == BC_TG_UPDATE_MESSAGE ||
	    u->type == BC_TG_UPDATE_EDITED_MESSAGE)
		ctx->msg = &u->message;
	else if (u->type == BC_TG_UPDATE_CALLBACK_QUERY &&
	    u->callback.has_message)
		ctx->msg = &u->callback.message;
	ctx->chat_id = bc_tg_update_chat_id(u);
	ctx->user_id = bc_tg_update_user_id(u);
	ctx->is_admin = bc_router_is_admin(r, ctx->user_id);
	ctx->is_private = ctx->msg != NULL &&
	    strcmp(ctx->msg->chat.type, "private") == 0;
}

static void
ctx_release(struct bc_router_ctx *ctx)
{
	outbox_list_free(&ctx->txn->pending);
	conv_clear(ctx->txn);
}

enum { TX_DONE = 0, TX_DUP, TX_FAILED, TX_LOST, TX_CONFLICT };

/* An update recorded ahead: new (to be handled), handled, or seen before. */
enum { PRE_NEW = 0, PRE_DONE, PRE_DUP };

/* ------------------------------------------------------------ batches */

/* The batch's transaction is lost: roll back, forget its replies. */
static void
batch_abort(struct bc_router *r)
{
	bc_db_rollback(r->db);
	outbox_list_free(&r->batch_pending);
	r->in_tx = r->batch_tx = 0;
	r->batch_n = r->npre = 0;
	r->batch_failed = 1;
}

/* The index of id among the updates recorded ahead, or -1. */
static int
batch_pre_find(const struct bc_router *r, int64_t id)
{
	size_t i;

	for (i = 0; i < r->npre; i++)
		if (r->pre[i] == id)
			return (int)i;
	return -1;
}

/*
 * Record in processed_updates, in the new transaction and one round trip
 * with its BEGIN, the next batch_max updates of the batch from first
 * on; those already there are duplicates. Updates not found this way
 * are recorded one by one. 0, or -1 with *cause.
 */
static int
batch_record(struct bc_router *r, int64_t first, char **cause)
{
	struct bc_db_res *res;
	size_t i, k, n;
	int64_t v;
	char *arr;
	int j;

	r->npre = 0;
	for (i = r->bpos; i < r->nbids && r->bids[i] != first; i++)
		;
	if (i == r->nbids)
		return 0;
	n = r->nbids - i < r->batch_max ? r->nbids - i : r->batch_max;
	arr = router_id_array(r->bids + i, n);
	res = bc_db_query(r->db, "INSERT INTO processed_updates (bot, "
	    "update_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO "
	    "NOTHING RETURNING update_id", BC_DB_P(r->bot, arr), cause);
	free(arr);
	if (res == NULL)
		return -1;
	for (k = 0; k < n; k++) {
		r->pre[k] = r->bids[i + k];
		r->pre_st[k] = PRE_DUP;
	}
	r->npre = n;
	for (j = 0; j < bc_db_ntuples(res); j++)
		if (bc_db_get_int64(res, j, 0, &v) == 0 &&
		    (k = (size_t)batch_pre_find(r, v)) < n)
			r->pre_st[k] = PRE_NEW;
	bc_db_res_free(res);
	r->bpos = i + n;
	return 0;
}

/* Open the batch's transaction with the updates from first on. */
static int
batch_open(struct bc_router *r, int64_t first, char **cause)
{
	r->batch_tx = 1;
	if (batch_record(r, first, cause) == 0)
		return TX_DONE;
	if (!bc_db_lost(r->db))
		r->batch_skip = 1;	/* not again: one by one */
	batch_abort(r);
	return TX_LOST;
}

/* Undo the current update's work, keeping the batch's. 0 or -1. */
static int
batch_undo(struct bc_router *r)
{
	char *cause = NULL;

	/* Nothing was sent since the savepoint: nothing to undo. */
	if (bc_db_defer_cancel(r->db, ROUTER_SAVEPOINT))
		return 0;
	if (bc_db_exec(r->db, ROUTER_ROLLBACK_TO, 0, NULL, NULL,
	    &cause) == -1 || bc_db_defer(r->db, ROUTER_RELEASE,
	    &cause) == -1) {
		router_dberr(r, "cannot roll back to the update's savepoint",
		    cause);
		return -1;
	}
	return 0;
}

/*
 * Commit the batch's transaction with its outbox rows, then send them.
 * 0, or -1 with the batch failed.
 */
static int
batch_commit(struct bc_router *r)
{
	struct bc_db_stmt del = { "DELETE FROM processed_updates WHERE "
	    "bot = $1 AND update_id = ANY($2::bigint[])", 2, NULL };
	int64_t left[ROUTER_BATCH_MAX];
	const char *p[2];
	char *cause = NULL, *arr = NULL;
	size_t i, n = 0;
	int lost, rc;

	/* Recorded ahead but not handled (a stop, a dropped update). */
	for (i = 0; i < r->npre; i++)
		if (r->pre_st[i] == PRE_NEW)
			left[n++] = r->pre[i];
	if (n > 0) {
		arr = router_id_array(left, n);
		p[0] = r->bot;
		p[1] = arr;
		del.params = p;
	}
	r->batch_tx = 0;
	r->batch_n = r->npre = 0;
	rc = tx_commit_rows(r, n > 0 ? &del : NULL, &r->batch_pending,
	    &cause);
	free(arr);
	if (rc == 0) {
		outbox_send_list(r, &r->batch_pending);
		return 0;
	}
	lost = bc_db_lost(r->db);
	router_dberr(r, "cannot commit a batch of updates; they will be "
	    "handled again", cause);
	if (lost)
		r->next_prune_ms = 0;	/* it may have committed */
	else
		r->batch_skip = 1;	/* find the update at fault */
	batch_abort(r);
	return -1;
}

/* The update's work is done: keep it for the batch's commit. */
static int
batch_keep(struct bc_router_ctx *ctx, char **cause)
{
	struct bc_router *r = ctx->router;
	int k;

	r->in_tx = 0;
	if (ctx->u != NULL &&
	    (k = batch_pre_find(r, ctx->u->update_id)) >= 0)
		r->pre_st[k] = PRE_DONE;
	if (!bc_db_defer_cancel(ctx->db, ROUTER_SAVEPOINT) &&
	    bc_db_defer(ctx->db, ROUTER_RELEASE, cause) == -1) {
		outbox_list_free(&ctx->txn->pending);
		batch_abort(r);
		return TX_LOST;
	}
	TAILQ_CONCAT(&r->batch_pending, &ctx->txn->pending, entry);
	if (++r->batch_n >= r->batch_max && batch_commit(r) == -1)
		return TX_LOST;
	return TX_DONE;
}

void
bc_router_batch_begin(struct bc_router *r, const int64_t *ids, size_t n)
{
	if (r->batch_max == 0 || r->batch || r->in_tx ||
	    bc_db_in_tx(r->db))
		return;
	r->batch_failed = 0;
	if (r->batch_skip) {
		r->batch_skip = 0;
		return;
	}
	r->batch = 1;
	r->bpos = r->npre = 0;
	r->nbids = ids != NULL ? n : 0;
	if (r->nbids > 0) {
		r->bids = xreallocarray(NULL, r->nbids, sizeof *r->bids);
		memcpy(r->bids, ids, r->nbids * sizeof *r->bids);
	}
}

int
bc_router_batch_end(struct bc_router *r)
{
	int failed;

	if (r->batch_tx)
		batch_commit(r);
	failed = r->batch_failed;
	r->batch = r->batch_failed = 0;
	free(r->bids);
	r->bids = NULL;
	r->nbids = r->bpos = r->npre = 0;
	return failed ? -1 : 0;
}

int
bc_router_batch_cb(struct bc_tg *tg, int end, const int64_t *ids,
    size_t n, void *arg)
{
	(void)tg;
	if (!end) {
		bc_router_batch_begin(arg, ids, n);
		return 0;
	}
	return bc_router_batch_end(arg);
}

/*
 * Roll back the open transaction: TX_LOST when the connection died,
 * TX_CONFLICT after a serialization failure, a deadlock or a stale
 * prepared statement (worth running again at once), else TX_FAILED.
 */
static int
tx_abort(struct bc_router_ctx *ctx)
{
	int rc = TX_FAILED;

	if (ctx->txn->lost || bc_db_lost(ctx->db))
		rc = TX_LOST;
	else if (bc_db_retryable(ctx->db))
		rc = TX_CONFLICT;
	ctx->router->in_tx = 0;
	outbox_list_free(&ctx->txn->pending);
	if (!ctx->router->batch_tx)
		bc_db_rollback(ctx->db);
	else if (rc == TX_LOST || batch_undo(ctx->router) == -1) {
		batch_abort(ctx->router);
		rc = TX_LOST;
	}
	return rc;
}

/* Begin, and record the update unless u is NULL. */
static int
tx_begin(struct bc_router_ctx *ctx, char **cause)
{
	struct bc_router *r = ctx->router;
	char id[BC_DB_INT64_BUFSZ];
	int64_t n = 1;

	int k = -1;

	if (!r->batch_tx && bc_db_begin(ctx->db, cause) == -1)
		return bc_db_lost(ctx->db) ? TX_LOST : TX_FAILED;
	if (r->batch && !r->batch_tx && ctx->u != NULL &&
	    batch_open(r, ctx->u->update_id, cause) != TX_DONE)
		return TX_LOST;
	if (r->batch_tx && ctx->u != NULL)
		k = batch_pre_find(r, ctx->u->update_id);
	if (k >= 0 && r->pre_st[k] != PRE_NEW)
		return TX_DUP;	/* seen before, or done in this batch */
	if (r->batch_tx && bc_db_defer(ctx->db, ROUTER_SAVEPOINT, cause) ==
	    -1) {
		batch_abort(r);
		return TX_LOST;
	}
	r->in_tx = 1;
	if (k >= 0)
		return TX_DONE;	/* recorded with the transaction */
	if (ctx->u != NULL && bc_db_exec(ctx->db, "INSERT INTO "
	    "processed_updates (bot, update_id) VALUES ($1, $2) ON CONFLICT "
	    "DO NOTHING", BC_DB_P(r->bot, bc_db_int64(id,
	    ctx->u->update_id)), &n, cause) == -1)
		return tx_abort(ctx);
	if (n == 0) {
		r->in_tx = 0;
		if (!r->batch_tx)
			bc_db_rollback(ctx->db);
		else if (!bc_db_defer_cancel(ctx->db, ROUTER_SAVEPOINT) &&
		    bc_db_defer(ctx->db, ROUTER_RELEASE, cause) == -1) {
			batch_abort(r);
			return TX_LOST;
		}
		return TX_DUP;
	}
	return TX_DONE;
}

/*
 * Commit, with the INSERTs of the transaction's outbox rows in the same
 * round trip; each item gets its row's id.
 */
static int
tx_commit_rows(struct bc_router *r, const struct bc_db_stmt *first,
    struct outbox_list *pending, char **cause)
{
	struct outbox_item *it;
	struct outbox_ins *ins;
	struct bc_db_stmt *st;
	struct bc_db_res **res;
	size_t n = 0, i = 0, o = first != NULL;
	int rc;

	TAILQ_FOREACH(it, pending, entry)
		n++;
	ins = xcalloc(n + 1, sizeof *ins);
	st = xcalloc(n + 2, sizeof *st);
	res = xcalloc(n + 2, sizeof *res);
	if (first != NULL)
		st[0] = *first;
	TAILQ_FOREACH(it, pending, entry) {
		ins[i].text = json_dumps(it->params, JSON_COMPACT);
		ins[i].p[0] = r->bot;
		ins[i].p[1] = it->method;
		ins[i].p[2] = ins[i].text;
		ins[i].p[3] = bc_db_int64(ins[i].fl, it->flags);
		st[i + o].sql = "INSERT INTO tg_outbox (bot, method, params, "
		    "flags) VALUES ($1, $2, $3::jsonb, $4) RETURNING id";
		st[i + o].nparams = 4;
		st[i + o].params = ins[i].p;
		i++;
	}
	rc = bc_db_commit_with(r->db, st, n + o, res, cause);
	bc_db_res_free(o ? res[0] : NULL);
	i = 0;
	TAILQ_FOREACH(it, pending, entry) {
		if (rc == 0 &&
		    bc_db_get_int64(res[i + o], 0, 0, &it->id) == -1)
			it->id = 0;
		bc_db_res_free(res[i + o]);
		free(ins[i].text);
		i++;
	}
	free(res);
	free(st);
	free(ins);
	return rc;
}

/* Commit and send the outbox rows of the transaction. */
static int
tx_commit(struct bc_router_ctx *ctx, char **cause)
{
	struct bc_router *r = ctx->router;

	if (r->batch_tx)
		return batch_keep(ctx, cause);
	if (tx_commit_rows(r, NULL, &ctx->txn->pending, cause) == -1) {
		r->in_tx = 0;
		if (bc_db_lost(ctx->db)) {
			/* The commit may have happened: look again later. */
			r->next_prune_ms = 0;
			outbox_list_free(&ctx->txn->pending);
			return TX_LOST;
		}
		return tx_abort(ctx);
	}
	r->in_tx = 0;
	outbox_send_list(r, &ctx->txn->pending);
	return TX_DONE;
}

/* One attempt: begin, record, run fn, commit. */
static int
tx_run(struct bc_router_ctx *ctx, bc_cmd_fn *fn, char **cause)
{
	int rc;

	if ((rc = tx_begin(ctx, cause)) != TX_DONE)
		return rc;
	if (fn(ctx) == -1) {
		if (*cause == NULL)
			*cause = xstrdup("handler failed");
		return tx_abort(ctx);
	}
	return tx_commit(ctx, cause);
}

/* After a failed handler: record the update and apologise. */
static int
tx_apology(struct bc_router_ctx *ctx)
{
	const struct bc_tg_update *u = ctx->u;
	const char *err = ctx->router->texts[TXT_ERROR];

	if (u->type == BC_TG_UPDATE_CALLBACK_QUERY) {
		if (u->callback.id != NULL)
			return bc_router_answer(ctx, err, 0);
	} else if (u->type == BC_TG_UPDATE_MESSAGE && ctx->chat_id != 0)
		return bc_router_reply(ctx, err, 0, NULL);
	return 0;
}

/* Log a failed update; cause is freed. */
static void
router_log_failure(struct bc_router *r, const struct bc_tg_update *u,
    const struct bc_cmd_entry *cmd, const char *what, char *cause)
{
	char id[BC_DB_INT64_BUFSZ];

	log_kv(LOG_LEVEL_WARN, what, "bot", r->bot, "update_id",
	    bc_db_int64(id, u->update_id), "type",
	    bc_tg_update_type_name(u->type), "command",
	    cmd != NULL ? cmd->name : NULL, "error",
	    cause != NULL ? cause : "", NULL);
	free(cause);
}

/* The handler failed: record the update in a fresh transaction. */
static int
router_poison(struct bc_router *r, const struct bc_tg_update *u)
{
	const struct bc_cmd_entry *cmd;
	char *cause = NULL;
	int rc, counted;

	rc = router_attempts(r, u, tx_apology, r->arg, &cmd, &counted,
	    &cause);
	if (rc == TX_LOST) {
		router_log_failure(r, u, NULL, "cannot record failed update; "
		    "retrying", cause);
		return -1;
	}
	if (rc == TX_FAILED)
		router_log_failure(r, u, NULL, "cannot record failed update; "
		    "dropped", cause);
	else
		free(cause);
	return 0;
}

static const char *
router_outcome(int rc)
{
	switch (rc) {
	case TX_DONE:
		return "ok";
	case TX_DUP:
		return "duplicate";
	case TX_FAILED:
		return "failed";
	default:
		return "retry";
	}
}

/*
 * Run fn for u (or a job when u is NULL) in its transaction, again after
 * a serialization failure or a deadlock. The command run, if any, goes to
 * *cmd and whether it counts for the limits to *counted.
 */
static int
router_attempts(struct bc_router *r, const struct bc_tg_update *u,
    bc_cmd_fn *fn, void *arg, const struct bc_cmd_entry **cmd, int *counted,
    char **cause)
{
	struct bc_router_ctx ctx;
	struct bc_router_txn t;
	int rc = TX_FAILED, i;

	for (i = 0; i < ROUTER_CONFLICT_TRIES; i++) {
		free(*cause);
		*cause = NULL;
		ctx_init(&ctx, &t, r, u, arg);
		rc = tx_run(&ctx, fn, cause);
		*cmd = ctx.cmd;
		*counted = t.rate_cmd != NULL;
		ctx_release(&ctx);
		if (rc != TX_CONFLICT)
			return rc;
		log_kv(LOG_LEVEL_INFO, "transaction conflict; running again",
		    "bot", r->bot, "error", *cause, NULL);
	}
	return TX_FAILED;
}

int
bc_router_handle(struct bc_router *r, const struct bc_tg_update *u)
{
	const struct bc_cmd_entry *cmd = NULL;
	char *cause = NULL;
	int64_t t0;
	int rc, ret = 0, counted = 0;

	if (u == NULL || r->in_tx || (bc_db_in_tx(r->db) && !r->batch_tx)) {
		log_kv(LOG_LEVEL_WARN, "router: no update, or a transaction is "
		    "already open", "bot", r->bot, NULL);
		return -1;
	}
	if (r->batch_failed)
		return -1;	/* the batch comes again */
	if (!r->batch_tx && router_ready(r) == -1)
		return -1;
	/* The latency on the real clock, in µs (clock_ms, which tests may
	 * inject, is the rate limits'). */
	t0 = bc_now_us();
	rc = router_attempts(r, u, router_dispatch, r->arg, &cmd, &counted,
	    &cause);
	if (counted && (rc == TX_DONE || rc == TX_FAILED))
		rate_hit(r, bc_tg_update_user_id(u), cmd, r->clock_ms());
	if (rc == TX_DUP)
		metric_count(r->m_dups);
	if (rc == TX_LOST) {
		router_log_failure(r, u, cmd, "database unavailable; update "
		    "will be retried", cause);
		ret = -1;
	} else if (rc == TX_FAILED) {
		router_log_failure(r, u, cmd, "update handler failed", cause);
		ret = router_poison(r, u);
	} else
		free(cause);
	/* The last update recorded with the transaction: commit it. */
	if (ret == 0 && r->batch_tx && r->npre > 0 &&
	    batch_pre_find(r, u->update_id) == (int)r->npre - 1 &&
	    batch_commit(r) == -1)
		ret = -1;
	outbox_flush_soon(r);
	metric_update(r, bc_tg_update_type_name(u->type),
	    cmd != NULL ? cmd->name : NULL, router_outcome(rc),
	    bc_now_us() - t0);
	return ret;
}

int
bc_router_update_cb(struct bc_tg *tg, const struct bc_tg_update *u,
    void *arg)
{
	(void)tg;
	return bc_router_handle(arg, u);
}

int
bc_router_run(struct bc_router *r, bc_cmd_fn *fn, void *arg, char **cause)
{
	const struct bc_cmd_entry *cmd;
	int rc, counted;

	*cause = NULL;
	if (fn == NULL || r->in_tx || bc_db_in_tx(r->db)) {
		*cause = xstrdup("router: no function, or a transaction is "
		    "already open");
		return -1;
	}
	if (router_ready(r) == -1) {
		*cause = xstrdup("router: database unavailable");
		return -1;
	}
	rc = router_attempts(r, NULL, fn, arg, &cmd, &counted, cause);
	outbox_flush_soon(r);
	if (rc == TX_DONE) {
		free(*cause);
		*cause = NULL;
		return 0;
	}
	if (*cause == NULL)
		*cause = xstrdup("job failed");
	return -1;
}

/* ------------------------------------------------------------ help */

char *
bc_router_help(const struct bc_router *r, int is_admin, int is_private)
{
	const struct bc_cmd_entry *e;
	char *buf = NULL, *line;
	size_t len = 0, n, i;

	buf = xstrdup("");
	for (i = 0; i < r->ncmds; i++) {
		e = &r->cmds[i];
		if ((e->flags & BC_CMD_HIDDEN) ||
		    ((e->flags & BC_CMD_ADMIN) && !is_admin) ||
		    (e->scope == BC_CMD_PRIVATE && !is_private) ||
		    (e->scope == BC_CMD_GROUP && is_private))
			continue;
		n = (size_t)xasprintf(&line, "/%s%s%s\n", e->name,
		    e->usage != NULL && *e->usage != '\0' ? " " : "",
		    e->usage != NULL ? e->usage : "");
		buf = xrealloc(buf, len + n + 1);
		memcpy(buf + len, line, n + 1);
		len += n;
		free(line);
	}
	return buf;
}
