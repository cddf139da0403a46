/* Broadcasts: one text to many chats, paced, resumable, never twice. */

#include <sys/queue.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <botcommon/broadcast.h>
#include <botcommon/db.h>
#include <botcommon/ev.h>
#include <botcommon/log.h>
#include <botcommon/metrics.h>
#include <botcommon/tg.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define BCAST_RATE		25.0
#define BCAST_INFLIGHT		4
#define BCAST_ATTEMPTS		3
#define BCAST_POLL_MS		10000
#define BCAST_RETRY_MS		5000
#define BCAST_BATCH		200
/* The error of a recipient marked in flight (opts.at_most_once). */
#define BCAST_INFLIGHT_MARK	"in flight"
#define BCAST_UNCERTAIN		"uncertain: in flight when the process " \
				"stopped; not sent again"

/* One recipient on the wire. */
struct bcast_send {
	TAILQ_ENTRY(bcast_send)	 entry;
	struct bc_broadcast	*b;
	int64_t			 chat_id;
};
TAILQ_HEAD(bcast_sends, bcast_send);

enum { MARK_SENT = 0, MARK_FAILED, MARK_RETRY };

/* An outcome not yet written to the database. */
struct bcast_mark {
	int64_t	 chat_id;
	int	 kind;
	int64_t	 migrated_to;
	char	*error;
};

struct bc_broadcast {
	char			*bot;
	struct bc_db		*db;
	struct bc_router_sender	 sender;
	double			 interval_ms;
	int			 max_inflight;
	int			 max_attempts;
	int			 at_most_once;
	int64_t			 poll_ms;
	bc_broadcast_cb		*progress;
	void			*arg;
	struct bc_metric	*m_sends;
	struct bc_timer		*timer;

	/* The job being sent; job_id 0 when none. */
	int64_t			 job_id;
	char			*text;
	int			 flags;
	struct bc_broadcast_progress prog;
	int64_t			*batch;
	size_t			 nbatch;
	size_t			 ibatch;
	int64_t			 cursor;
	int			 cursor_set;
	int			 pass_rows;	/* this pass found rows */

	struct bcast_sends	 sends;
	int			 ninflight;
	struct bcast_mark	*marks;
	size_t			 nmarks;
	size_t			 marks_cap;
	double			 next_ms;
	int			 pumping;
};

static void	bcast_pump(struct bc_broadcast *);

/* ------------------------------------------------------------ database */

/* Is text non-empty, valid UTF-8? */
static int
bcast_text_ok(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n, k;

	if (text == NULL || (n = strlen(text)) == 0)
		return 0;
	while (n > 0) {
		if ((k = bc_utf8_seqlen(p, n)) == 0)
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

/* "{1,2,3}" for n ids. Caller frees. */
static char *
bcast_id_array(const int64_t *ids, size_t n)
{
	char *s, num[BC_DB_INT64_BUFSZ];
	size_t len, i, k;

	s = xmalloc(2 + n * BC_DB_INT64_BUFSZ + 1);
	len = 0;
	s[len++] = '{';
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

/* Check the arguments of bc_broadcast_create(). */
static int
bcast_create_check(const char *bot, const char *text, const int64_t *ids,
    size_t n, char **cause)
{
	size_t i;

	if (bot == NULL || *bot == '\0') {
		*cause = xstrdup("broadcast: no bot name");
		return -1;
	}
	if (!bcast_text_ok(text)) {
		*cause = xstrdup("broadcast: text is empty or not UTF-8");
		return -1;
	}
	if (n == 0 || ids == NULL) {
		*cause = xstrdup("broadcast: no recipients");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (ids[i] == 0) {
			*cause = xstrdup("broadcast: chat id 0");
			return -1;
		}
	return 0;
}

/* Write the job and its recipients in the open transaction. */
static int64_t
bcast_insert(struct bc_db *db, const char *bot, const char *text, int flags,
    const int64_t *ids, size_t n, char **cause)
{
	struct bc_db_res *res;
	char fl[BC_DB_INT64_BUFSZ], jid[BC_DB_INT64_BUFSZ], *arr;
	int64_t id;
	int rc;

	res = bc_db_query(db, "INSERT INTO broadcast_jobs (bot, text, flags) "
	    "VALUES ($1, $2, $3) RETURNING id", BC_DB_P(bot, text,
	    bc_db_int64(fl, flags)), cause);
	if (res == NULL || bc_db_get_int64(res, 0, 0, &id) == -1) {
		if (res != NULL)
			*cause = xstrdup("broadcast: no job id");
		bc_db_res_free(res);
		return -1;
	}
	bc_db_res_free(res);
	arr = bcast_id_array(ids, n);
	rc = bc_db_exec(db, "INSERT INTO broadcast_recipients (job_id, "
	    "chat_id) SELECT $1, unnest($2::bigint[]) ON CONFLICT DO NOTHING",
	    BC_DB_P(bc_db_int64(jid, id), arr), NULL, cause);
	free(arr);
	return rc == -1 ? -1 : id;
}

int64_t
bc_broadcast_create(struct bc_db *db, const char *bot, const char *text,
    int flags, const int64_t *chat_ids, size_t n, char **cause)
{
	int64_t id;
	int own;

	if (db == NULL) {
		*cause = xstrdup("broadcast: no database");
		return -1;
	}
	if (bcast_create_check(bot, text, chat_ids, n, cause) == -1)
		return -1;
	own = !bc_db_in_tx(db);
	if (own && bc_db_begin(db, cause) == -1)
		return -1;
	id = bcast_insert(db, bot, text, flags & ~BC_TG_BULK, chat_ids, n,
	    cause);
	if (!own)
		return id;
	if (id == -1) {
		bc_db_rollback(db);
		return -1;
	}
	if (bc_db_commit(db, cause) == -1)
		return -1;
	return id;
}

int
bc_broadcast_status(struct bc_db *db, int64_t job_id,
    struct bc_broadcast_progress *p, char **cause)
{
	struct bc_db_res *res;
	char jid[BC_DB_INT64_BUFSZ];
	const char *st;

	res = bc_db_query(db, "SELECT j.status, count(r.chat_id), "
	    "count(*) FILTER (WHERE r.status = 'sent'), "
	    "count(*) FILTER (WHERE r.status = 'failed'), "
	    "count(*) FILTER (WHERE r.status = 'pending'), "
	    "count(*) FILTER (WHERE r.status = 'failed' AND "
	    "r.error LIKE 'uncertain%') "
	    "FROM broadcast_jobs j LEFT JOIN broadcast_recipients r "
	    "ON r.job_id = j.id WHERE j.id = $1 GROUP BY j.status",
	    BC_DB_P(bc_db_int64(jid, job_id)), cause);
	if (res == NULL)
		return -1;
	memset(p, 0, sizeof *p);
	if (bc_db_ntuples(res) != 1 ||
	    bc_db_get_int64(res, 0, 1, &p->total) == -1 ||
	    bc_db_get_int64(res, 0, 2, &p->sent) == -1 ||
	    bc_db_get_int64(res, 0, 3, &p->failed) == -1 ||
	    bc_db_get_int64(res, 0, 4, &p->pending) == -1 ||
	    bc_db_get_int64(res, 0, 5, &p->uncertain) == -1) {
		xasprintf(cause, "no broadcast job %" PRId64, job_id);
		bc_db_res_free(res);
		return -1;
	}
	st = bc_db_get(res, 0, 0);
	p->job_id = job_id;
	p->done = st != NULL && strcmp(st, "running") != 0;
	bc_db_res_free(res);
	return 0;
}

int
bc_broadcast_cancel(struct bc_db *db, int64_t job_id, char **cause)
{
	char jid[BC_DB_INT64_BUFSZ];
	int64_t n;

	if (bc_db_exec(db, "UPDATE broadcast_jobs SET status = 'cancelled', "
	    "finished_at = now() WHERE id = $1 AND status = 'running'",
	    BC_DB_P(bc_db_int64(jid, job_id)), &n, cause) == -1)
		return -1;
	if (n == 0) {
		xasprintf(cause, "no running broadcast job %" PRId64, job_id);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ runner */

static void
bcast_timer_cb(void *arg)
{
	char *cause = NULL;

	if (bc_broadcast_run(arg, &cause) == -1) {
		log_kv(LOG_LEVEL_WARN, "broadcast: cannot load jobs", "error",
		    cause, NULL);
		free(cause);
	}
}

static int
bcast_check_opts(const struct bc_broadcast_opts *o, char **cause)
{
	if (o == NULL || o->bot == NULL || *o->bot == '\0' || o->db == NULL) {
		*cause = xstrdup("broadcast: no bot name or database");
		return -1;
	}
	if (o->tg == NULL && (o->sender == NULL ||
	    o->sender->send_text == NULL)) {
		*cause = xstrdup("broadcast: no Telegram client or sender");
		return -1;
	}
	if (o->rate < 0 || isnan(o->rate) || o->max_inflight < 0 ||
	    o->max_attempts < 0 || o->poll_ms < -1) {
		*cause = xstrdup("broadcast: negative rate or limit");
		return -1;
	}
	return 0;
}

struct bc_broadcast *
bc_broadcast_new(const struct bc_broadcast_opts *o, char **cause)
{
	struct bc_broadcast *b;

	if (bcast_check_opts(o, cause) == -1)
		return NULL;
	b = xcalloc(1, sizeof *b);
	b->bot = xstrdup(o->bot);
	b->db = o->db;
	if (o->sender != NULL)
		b->sender = *o->sender;
	else {
		b->sender.send_text = bc_router_tg_send_text;
		b->sender.call = bc_router_tg_call;
		b->sender.arg = o->tg;
	}
	b->interval_ms = 1000.0 / (o->rate > 0 ? o->rate : BCAST_RATE);
	b->max_inflight = o->max_inflight > 0 ? o->max_inflight :
	    BCAST_INFLIGHT;
	b->max_attempts = o->max_attempts > 0 ? o->max_attempts :
	    BCAST_ATTEMPTS;
	b->at_most_once = o->at_most_once != 0;
	b->poll_ms = o->poll_ms != 0 ? o->poll_ms : BCAST_POLL_MS;
	b->progress = o->progress;
	b->arg = o->arg;
	if (o->metrics != NULL)
		b->m_sends = bc_metrics_counter(o->metrics,
		    "bot_broadcast_sends_total",
		    "Broadcast messages by outcome.", "outcome");
	b->timer = bc_timer_new(bcast_timer_cb, b);
	TAILQ_INIT(&b->sends);
	return b;
}

/* Forget the current job. */
static void
bcast_job_clear(struct bc_broadcast *b)
{
	free(b->text);
	free(b->batch);
	b->text = NULL;
	b->batch = NULL;
	b->nbatch = b->ibatch = 0;
	b->cursor_set = 0;
	b->pass_rows = 0;
	b->job_id = 0;
	memset(&b->prog, 0, sizeof b->prog);
}

static int	bcast_flush(struct bc_broadcast *, int);

void
bc_broadcast_free(struct bc_broadcast *b)
{
	struct bcast_send *s;
	size_t i;

	if (b == NULL)
		return;
	bc_timer_free(b->timer);
	if (b->nmarks > 0)
		bcast_flush(b, 0);
	for (i = 0; i < b->nmarks; i++)
		free(b->marks[i].error);
	free(b->marks);
	while ((s = TAILQ_FIRST(&b->sends)) != NULL) {
		TAILQ_REMOVE(&b->sends, s, entry);
		free(s);
	}
	bcast_job_clear(b);
	free(b->bot);
	free(b);
}

int
bc_broadcast_idle(const struct bc_broadcast *b)
{
	return b->job_id == 0 && b->ninflight == 0;
}

/*
 * At most once: the recipients of job id still marked in flight were on
 * the wire when an earlier process stopped. Fail them as uncertain, never
 * to be sent again, and say so.
 */
static int
bcast_settle_inflight(struct bc_broadcast *b, int64_t id, char **cause)
{
	char jid[BC_DB_INT64_BUFSZ], num[BC_DB_INT64_BUFSZ];
	int64_t n;

	if (!b->at_most_once)
		return 0;
	if (bc_db_exec(b->db, "UPDATE broadcast_recipients SET status = "
	    "'failed', error = $2, updated_at = now() WHERE job_id = $1 AND "
	    "status = 'pending' AND error = '" BCAST_INFLIGHT_MARK "'",
	    BC_DB_P(bc_db_int64(jid, id), BCAST_UNCERTAIN), &n, cause) == -1)
		return -1;
	if (n > 0)
		log_kv(LOG_LEVEL_WARN, "broadcast: recipients in flight when "
		    "the process stopped are not sent again (uncertain)",
		    "bot", b->bot, "job", jid, "uncertain",
		    bc_db_int64(num, n), NULL);
	return 0;
}

/* Load the oldest running job of the bot: 1 found, 0 none, -1 error. */
static int
bcast_load_job(struct bc_broadcast *b, char **cause)
{
	struct bc_db_res *res;
	int64_t id, flags;

	res = bc_db_query(b->db, "SELECT id, text, flags FROM broadcast_jobs "
	    "WHERE bot = $1 AND status = 'running' ORDER BY id LIMIT 1",
	    BC_DB_P(b->bot), cause);
	if (res == NULL)
		return -1;
	if (bc_db_ntuples(res) == 0 || bc_db_get_int64(res, 0, 0, &id) == -1 ||
	    bc_db_get_int64(res, 0, 2, &flags) == -1) {
		bc_db_res_free(res);
		return 0;
	}
	bcast_job_clear(b);
	b->job_id = id;
	b->text = xstrdup(bc_db_get(res, 0, 1));
	b->flags = (int)flags;
	bc_db_res_free(res);
	if (bcast_settle_inflight(b, id, cause) == -1 ||
	    bc_broadcast_status(b->db, id, &b->prog, cause) == -1) {
		bcast_job_clear(b);
		return -1;
	}
	log_kv(LOG_LEVEL_INFO, "broadcast started", "bot", b->bot, "job",
	    bc_db_int64((char[BC_DB_INT64_BUFSZ]){ 0 }, id), NULL);
	return 1;
}

int
bc_broadcast_run(struct bc_broadcast *b, char **cause)
{
	if (bc_db_in_tx(b->db)) {
		*cause = xstrdup("broadcast: run inside a transaction (call it "
		    "after the commit)");
		return -1;
	}
	if (b->job_id == 0 && bcast_load_job(b, cause) == -1) {
		bc_timer_start(b->timer, BCAST_RETRY_MS);
		return -1;
	}
	bcast_pump(b);
	return 0;
}

/* ------------------------------------------------------------ marks */

static void
bcast_mark_add(struct bc_broadcast *b, int64_t chat_id, int kind,
    int64_t migrated_to, const char *error)
{
	struct bcast_mark *m;

	if (b->nmarks == b->marks_cap) {
		b->marks_cap = b->marks_cap == 0 ? 16 : b->marks_cap * 2;
		b->marks = xreallocarray(b->marks, b->marks_cap,
		    sizeof *b->marks);
	}
	m = &b->marks[b->nmarks++];
	m->chat_id = chat_id;
	m->kind = kind;
	m->migrated_to = migrated_to;
	m->error = error != NULL ? xstrdup(error) : NULL;
}

/*
 * Mark every plain "sent" outcome in one statement, which also says if
 * the job is still running: a cancelled job's cached batch is dropped.
 */
static int
bcast_flush_sent(struct bc_broadcast *b, char *jid)
{
	struct bc_db_res *res;
	int64_t *ids, n = 0;
	size_t i, k = 0;
	char *arr, *cause = NULL;
	const char *st;

	ids = xreallocarray(NULL, b->nmarks + 1, sizeof *ids);
	for (i = 0; i < b->nmarks; i++)
		if (b->marks[i].kind == MARK_SENT &&
		    b->marks[i].migrated_to == 0)
			ids[k++] = b->marks[i].chat_id;
	arr = bcast_id_array(ids, k);
	free(ids);
	res = bc_db_query(b->db, "WITH u AS (UPDATE broadcast_recipients SET "
	    "status = 'sent', attempts = attempts + 1, error = NULL, "
	    "updated_at = now() WHERE job_id = $1 AND chat_id = ANY($2::"
	    "bigint[]) AND status = 'pending' RETURNING 1) SELECT (SELECT "
	    "count(*) FROM u), (SELECT status FROM broadcast_jobs WHERE id = "
	    "$1)", BC_DB_P(jid, arr), &cause);
	free(arr);
	if (res == NULL || bc_db_get_int64(res, 0, 0, &n) == -1) {
		log_kv(LOG_LEVEL_WARN, "broadcast: cannot mark recipients",
		    "bot", b->bot, "error", cause, NULL);
		free(cause);
		bc_db_res_free(res);
		return -1;
	}
	b->prog.sent += n;
	if ((st = bc_db_get(res, 0, 1)) == NULL || strcmp(st, "running") != 0)
		b->nbatch = b->ibatch = 0;
	bc_db_res_free(res);
	return 0;
}

/* Write one other outcome. */
static int
bcast_flush_one(struct bc_broadcast *b, char *jid, struct bcast_mark *m)
{
	struct bc_db_res *res;
	char cid[BC_DB_INT64_BUFSZ], mig[BC_DB_INT64_BUFSZ];
	char max[BC_DB_INT64_BUFSZ], *cause = NULL;
	const char *st;

	bc_db_int64(cid, m->chat_id);
	bc_db_int64(mig, m->migrated_to);
	bc_db_int64(max, b->max_attempts);
	res = bc_db_query(b->db, "UPDATE broadcast_recipients SET attempts = "
	    "attempts + 1, updated_at = now(), error = $3, migrated_to = "
	    "NULLIF($4::bigint, 0), status = CASE WHEN $5 = 0 THEN 'sent' "
	    "WHEN $5 = 1 OR attempts + 1 >= $6 THEN 'failed' ELSE 'pending' "
	    "END WHERE job_id = $1 AND chat_id = $2 AND status = 'pending' "
	    "RETURNING status", BC_DB_P(jid, cid, m->error, mig,
	    m->kind == MARK_SENT ? "0" : m->kind == MARK_FAILED ? "1" : "2",
	    max), &cause);
	if (res == NULL) {
		log_kv(LOG_LEVEL_WARN, "broadcast: cannot mark recipient",
		    "bot", b->bot, "error", cause, NULL);
		free(cause);
		return -1;
	}
	if ((st = bc_db_get(res, 0, 0)) != NULL) {
		if (strcmp(st, "sent") == 0)
			b->prog.sent++;
		else if (strcmp(st, "failed") == 0)
			b->prog.failed++;
	}
	bc_db_res_free(res);
	return 0;
}

/*
 * Write the outcomes gathered so far, then report progress if report is
 * set. On a database error the outcomes not written are kept for the
 * next try.
 */
static int
bcast_flush(struct bc_broadcast *b, int report)
{
	char jid[BC_DB_INT64_BUFSZ];
	size_t i, k;

	if (b->nmarks == 0)
		return 0;
	bc_db_int64(jid, b->job_id);
	if (bcast_flush_sent(b, jid) == -1)
		return -1;
	for (i = k = 0; i < b->nmarks; i++) {
		if (b->marks[i].kind == MARK_SENT &&
		    b->marks[i].migrated_to == 0)
			continue;
		if (k > 0 || bcast_flush_one(b, jid, &b->marks[i]) == -1)
			b->marks[k++] = b->marks[i];
		else
			free(b->marks[i].error);
	}
	b->nmarks = k;
	b->prog.pending = b->prog.total - b->prog.sent - b->prog.failed;
	if (report && b->progress != NULL)
		b->progress(&b->prog, b->arg);
	return k == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ sending */

/* Is this final failure the recipient's fault (blocked, gone...)? */
static int
bcast_permanent(const struct bc_tg_result *res)
{
	int code = res->error_code != 0 ? res->error_code : res->status;

	return code >= 400 && code < 500 && code != 429;
}

static void
bcast_sent(const struct bc_tg_result *res, void *arg)
{
	struct bcast_send *s = arg;
	struct bc_broadcast *b = s->b;
	const char *why;
	int kind;

	TAILQ_REMOVE(&b->sends, s, entry);
	b->ninflight--;
	why = res->description != NULL && *res->description != '\0' ?
	    res->description : "failed";
	if (res->ok)
		kind = MARK_SENT;
	else if (bcast_permanent(res))
		kind = MARK_FAILED;
	else
		kind = MARK_RETRY;
	bcast_mark_add(b, s->chat_id, kind, res->ok ? res->migrated_to : 0,
	    res->ok ? NULL : why);
	if (b->m_sends != NULL)
		bc_metric_inc(b->m_sends, BC_LV(kind == MARK_SENT ? "sent" :
		    kind == MARK_FAILED ? "failed" : "retry"));
	free(s);
	bcast_pump(b);
}

/* At most once: record that chat_id's call is about to be queued. */
static int
bcast_mark_inflight(struct bc_broadcast *b, int64_t chat_id)
{
	char jid[BC_DB_INT64_BUFSZ], cid[BC_DB_INT64_BUFSZ], *cause = NULL;
	int64_t n;

	if (!b->at_most_once)
		return 1;
	if (bc_db_exec(b->db, "UPDATE broadcast_recipients SET error = '"
	    BCAST_INFLIGHT_MARK "', updated_at = now() WHERE job_id = $1 AND "
	    "chat_id = $2 AND status = 'pending'", BC_DB_P(bc_db_int64(jid,
	    b->job_id), bc_db_int64(cid, chat_id)), &n, &cause) == -1) {
		log_kv(LOG_LEVEL_WARN, "broadcast: cannot mark recipient in "
		    "flight", "bot", b->bot, "error", cause, NULL);
		free(cause);
		return -1;
	}
	return n == 1;
}

/* Hand one recipient to the sender. */
static void
bcast_send(struct bc_broadcast *b, int64_t chat_id)
{
	struct bcast_send *s;

	s = xcalloc(1, sizeof *s);
	s->b = b;
	s->chat_id = chat_id;
	TAILQ_INSERT_TAIL(&b->sends, s, entry);
	b->ninflight++;
	if (b->sender.send_text(b->sender.arg, chat_id, b->text,
	    b->flags | BC_TG_BULK, NULL, bcast_sent, s) == -1) {
		TAILQ_REMOVE(&b->sends, s, entry);
		b->ninflight--;
		free(s);
		bcast_mark_add(b, chat_id, MARK_RETRY, 0, "cannot queue");
	}
}

/* The next pending recipient: 1 (in *chat_id), 0 none left in this
 * pass, -1 on a database error. */
static int
bcast_next(struct bc_broadcast *b, int64_t *chat_id)
{
	struct bc_db_res *res;
	char jid[BC_DB_INT64_BUFSZ], cur[BC_DB_INT64_BUFSZ], *cause = NULL;
	char lim[BC_DB_INT64_BUFSZ];
	int i, n;

	if (b->ibatch < b->nbatch) {
		*chat_id = b->batch[b->ibatch++];
		return 1;
	}
	res = bc_db_query(b->db, "SELECT r.chat_id FROM broadcast_recipients "
	    "r JOIN broadcast_jobs j ON j.id = r.job_id WHERE r.job_id = $1 "
	    "AND j.status = 'running' AND r.status = 'pending' AND "
	    "($2::bigint IS NULL OR r.chat_id > $2) AND ($4::int = 0 OR "
	    "r.error IS DISTINCT FROM '" BCAST_INFLIGHT_MARK "') ORDER BY "
	    "r.chat_id LIMIT $3", BC_DB_P(bc_db_int64(jid, b->job_id),
	    b->cursor_set ? bc_db_int64(cur, b->cursor) : NULL,
	    bc_db_int64(lim, BCAST_BATCH), b->at_most_once ? "1" : "0"),
	    &cause);
	if (res == NULL) {
		log_kv(LOG_LEVEL_WARN, "broadcast: cannot read recipients",
		    "bot", b->bot, "error", cause, NULL);
		free(cause);
		return -1;
	}
	n = bc_db_ntuples(res);
	b->batch = xreallocarray(b->batch, (size_t)n + 1, sizeof *b->batch);
	b->nbatch = b->ibatch = 0;
	for (i = 0; i < n; i++)
		if (bc_db_get_int64(res, i, 0, &b->batch[b->nbatch]) == 0)
			b->nbatch++;
	bc_db_res_free(res);
	if (b->nbatch == 0)
		return 0;
	b->pass_rows = 1;
	b->cursor = b->batch[b->nbatch - 1];
	b->cursor_set = 1;
	*chat_id = b->batch[b->ibatch++];
	return 1;
}

/* A pass found nothing more: go round again, or finish the job. */
static int
bcast_end_pass(struct bc_broadcast *b)
{
	char jid[BC_DB_INT64_BUFSZ], *cause = NULL;

	if (b->pass_rows) {
		b->pass_rows = 0;
		b->cursor_set = 0;
		return 0;
	}
	if (bc_db_exec(b->db, "UPDATE broadcast_jobs SET status = 'done', "
	    "finished_at = now() WHERE id = $1 AND status = 'running'",
	    BC_DB_P(bc_db_int64(jid, b->job_id)), NULL, &cause) == -1 ||
	    bc_broadcast_status(b->db, b->job_id, &b->prog, &cause) == -1) {
		log_kv(LOG_LEVEL_WARN, "broadcast: cannot finish job", "bot",
		    b->bot, "error", cause, NULL);
		free(cause);
		return -1;
	}
	log_kv(LOG_LEVEL_INFO, "broadcast finished", "bot", b->bot, "job",
	    jid, "sent", bc_db_int64((char[BC_DB_INT64_BUFSZ]){ 0 },
	    b->prog.sent), "failed", bc_db_int64((char[BC_DB_INT64_BUFSZ]){ 0 },
	    b->prog.failed), NULL);
	b->prog.done = 1;
	if (b->progress != NULL)
		b->progress(&b->prog, b->arg);
	bcast_job_clear(b);
	if (bcast_load_job(b, &cause) == -1) {
		log_kv(LOG_LEVEL_WARN, "broadcast: cannot load next job",
		    "bot", b->bot, "error", cause, NULL);
		free(cause);
		return -1;
	}
	return 0;
}

/* One step of the pump: 1 go on, 0 stop (a timer is set if needed). */
static int
bcast_step(struct bc_broadcast *b)
{
	int64_t now, chat_id;
	int rc;

	if (b->ninflight >= b->max_inflight)
		return 0;
	now = bc_now_ms();
	if ((double)now < b->next_ms) {
		bc_timer_start(b->timer, (int64_t)ceil(b->next_ms -
		    (double)now));
		return 0;
	}
	if ((rc = bcast_next(b, &chat_id)) == -1)
		return -1;
	if (rc == 0) {
		if (b->ninflight > 0)
			return 0;
		if (bcast_flush(b, 1) == -1 || bcast_end_pass(b) == -1)
			return -1;
		return 1;
	}
	if ((rc = bcast_mark_inflight(b, chat_id)) == -1)
		return -1;	/* still pending: a later pass sends it */
	if (rc == 1)
		bcast_send(b, chat_id);
	if (b->next_ms < (double)now)
		b->next_ms = (double)now;
	b->next_ms += b->interval_ms;
	return 1;
}

/* Write outcomes, then send as much as the limits allow. */
static void
bcast_pump(struct bc_broadcast *b)
{
	int rc = 1;

	if (b->pumping)
		return;
	b->pumping = 1;
	if (bcast_flush(b, 1) == -1)
		rc = -1;
	while (rc == 1 && b->job_id != 0)
		rc = bcast_step(b);
	if (rc == -1)
		bc_timer_start(b->timer, BCAST_RETRY_MS);
	else if (b->job_id == 0 && b->ninflight == 0 && b->poll_ms > 0)
		bc_timer_start(b->timer, b->poll_ms);
	b->pumping = 0;
}
