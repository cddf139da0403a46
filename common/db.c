/* PostgreSQL access through libpq: reconnect, timeouts, migrations. */

#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <botcommon/backoff.h>
#include <botcommon/crypto.h>
#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/metrics.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#define DB_CONNECT_TIMEOUT_MS	5000
#define DB_STATEMENT_TIMEOUT_MS	10000
#define DB_BACKOFF_INITIAL_MS	500
#define DB_BACKOFF_MAX_MS	30000
#define DB_MIGRATE_TIMEOUT_MS	600000
#define DB_BACKOFF_JITTER	0.2
#define DB_MIGRATION_MAX	(16 * 1024 * 1024)	/* bytes per file */
#define DB_REDACTED		"[redacted]"
#define DB_STMT_CACHE_MAX	256	/* prepared statements per connection */
#define DB_STMT_BUCKETS		128
#define DB_DEFER_MAX		4	/* statements bc_db_defer() holds */

/* A statement prepared on the current connection, found by its SQL. */
struct db_stmt {
	struct db_stmt	*next;		/* hash chain */
	char		*sql;
	uint64_t	 hash;
	int		 nparams;
	int		 dead;		/* to unlink after this pipeline */
	char		 name[24];	/* "bc_s1", "bc_s2"... */
};

struct bc_db {
	PGconn			*conn;		/* NULL while disconnected */
	char			*conninfo;
	char			*password;	/* to scrub from messages */
	char			*appname;
	struct bc_db_opts	 opts;		/* defaults filled in */
	int64_t			 timeout_ms;	/* statement_timeout now */
	struct bc_backoff	 backoff;
	int64_t			 next_try_ms;	/* monotonic: next reconnect */
	int			 in_tx;
	int			 begin_pending;	/* BEGIN goes with the next */
	const char		*defer[DB_DEFER_MAX];	/* go with the next,
						   after the BEGIN */
	size_t			 ndefer;
	int			 tx_failed;	/* in_tx, but BEGIN failed */
	int			 tx_lost;	/* in_tx, but the link died */
	int			 lost;		/* last call: connection lost */
	int			 retryable;	/* last call: run tx again */
	long			 errpos;	/* last error's position or 0 */
	char			 sqlstate[6];
	struct db_stmt		*stmts[DB_STMT_BUCKETS];
	size_t			 nstmts;	/* prepared on the server */
	size_t			 stmt_max;	/* 0: cache off */
	uint64_t		 stmt_seq;
	struct bc_metric	*m_latency;	/* NULL: not counting */
	struct bc_metric	*m_errors;
	struct bc_metric	*m_reconnects;
	struct bc_metric	*m_connected;
};

/* One statement of a pipeline, and what became of it. */
struct db_q {
	const char		*sql;
	int			 nparams;
	const char *const	*params;
	struct db_stmt		*st;	/* run as this prepared statement */
	int			 prep;	/* st's Parse is in this pipeline */
	int			 cached;	/* st was prepared before */
	int			 stale;	/* cached, but the server lost it */
	PGresult		*pr;	/* the Parse's result */
	PGresult		*r;	/* the statement's result */
};

struct bc_db_res {
	PGresult	*r;
};

/* Scan result of one migration file. */
struct db_mig {
	int	 version;
	char	*file;		/* "001_baseline.sql" */
	char	*sql;		/* contents, NUL-terminated */
	char	 sum[BC_SHA256_HEXLEN];
};

static PGresult	*db_pipe_one(struct bc_db *, const char *, int,
		    const char *const *, char **);
static void	 db_stmt_clear(struct bc_db *);

static void
db_freezero(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* ------------------------------------------------------------ metrics */

void
bc_db_set_metrics(struct bc_db *db, struct bc_metrics *reg)
{
	db->m_latency = db->m_errors = db->m_reconnects = NULL;
	db->m_connected = NULL;
	if (reg == NULL)
		return;
	db->m_latency = bc_metrics_histogram(reg, "db_query_duration_seconds",
	    "PostgreSQL round trips (a pipeline of statements is one).", NULL,
	    NULL, 0);
	db->m_errors = bc_metrics_counter(reg, "db_errors_total",
	    "PostgreSQL calls that failed, by kind (statement, lost, "
	    "timeout, unavailable).", "kind");
	db->m_reconnects = bc_metrics_counter(reg, "db_reconnects_total",
	    "Attempts to reconnect to PostgreSQL, by result.", "result");
	db->m_connected = bc_metrics_gauge(reg, "db_connected",
	    "1 while the PostgreSQL connection is up.", NULL);
	if (db->m_connected != NULL)
		bc_metric_set(db->m_connected, NULL, db->conn != NULL);
}

/* Count one failure of kind. */
static void
db_count_error(struct bc_db *db, const char *kind)
{
	if (db->m_errors != NULL)
		bc_metric_inc(db->m_errors, BC_LV(kind));
}

/* Microseconds on the monotonic clock. */
static int64_t
db_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------ statements */

/* FNV-1a of the SQL text. */
static uint64_t
db_stmt_hash(const char *sql)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *sql != '\0'; sql++) {
		h ^= (unsigned char)*sql;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Does sql start with word (case-insensitively, after blanks)? */
static int
db_starts_with(const char *sql, const char *word)
{
	size_t n = strlen(word);

	while (isspace((unsigned char)*sql))
		sql++;
	return strncasecmp(sql, word, n) == 0 &&
	    !isalnum((unsigned char)sql[n]) && sql[n] != '_';
}

/* Statements that drop prepared statements: never cached themselves. */
static int
db_stmt_dealloc(const char *sql)
{
	return db_starts_with(sql, "DEALLOCATE") ||
	    db_starts_with(sql, "DISCARD");
}

/* Forget every cached statement (the connection went, or the server
 * dropped them). */
static void
db_stmt_clear(struct bc_db *db)
{
	struct db_stmt *st;
	size_t i;

	for (i = 0; i < DB_STMT_BUCKETS; i++)
		while ((st = db->stmts[i]) != NULL) {
			db->stmts[i] = st->next;
			free(st->sql);
			free(st);
		}
	db->nstmts = 0;
}

/* Unlink and free the statements marked dead. */
static void
db_stmt_sweep(struct bc_db *db)
{
	struct db_stmt **pp, *st;
	size_t i;

	for (i = 0; i < DB_STMT_BUCKETS; i++)
		for (pp = &db->stmts[i]; (st = *pp) != NULL;) {
			if (!st->dead) {
				pp = &st->next;
				continue;
			}
			*pp = st->next;
			free(st->sql);
			free(st);
		}
}

/*
 * The prepared statement to run q as, adding one (q->prep = 1: prepare
 * it in this pipeline) on a miss while the cache has room; NULL: run it
 * unnamed (cache off or full, or the text was prepared with another
 * number of parameters).
 */
static struct db_stmt *
db_stmt_get(struct bc_db *db, struct db_q *q)
{
	struct db_stmt *st;
	uint64_t h;

	if (db->stmt_max == 0)
		return NULL;
	h = db_stmt_hash(q->sql);
	for (st = db->stmts[h % DB_STMT_BUCKETS]; st != NULL; st = st->next)
		if (st->hash == h && strcmp(st->sql, q->sql) == 0) {
			q->cached = st->nparams == q->nparams;
			return q->cached ? st : NULL;
		}
	if (db->nstmts >= db->stmt_max || db_stmt_dealloc(q->sql))
		return NULL;
	st = xcalloc(1, sizeof *st);
	st->sql = xstrdup(q->sql);
	st->hash = h;
	st->nparams = q->nparams;
	snprintf(st->name, sizeof st->name, "bc_s%" PRIu64, ++db->stmt_seq);
	st->next = db->stmts[h % DB_STMT_BUCKETS];
	db->stmts[h % DB_STMT_BUCKETS] = st;
	db->nstmts++;
	q->prep = 1;
	return st;
}

/* Copy msg on one line, trimmed, with the password replaced. */
static char *
db_scrub(const struct bc_db *db, const char *msg)
{
	char *s, *p, *q, *t;
	size_t len, plen, off;

	s = xstrdup(msg != NULL && *msg != '\0' ? msg : "unknown error");
	len = strlen(s);
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
		s[--len] = '\0';
	/* A newline and the indentation after it become one space. */
	for (p = s; (p = strchr(p, '\n')) != NULL; p++) {
		*p = ' ';
		for (q = p + 1; *q == ' ' || *q == '\t'; q++)
			;
		memmove(p + 1, q, strlen(q) + 1);
	}
	if (db == NULL || db->password == NULL ||
	    (plen = strlen(db->password)) < 4)
		return s;
	off = 0;
	while ((p = strstr(s + off, db->password)) != NULL) {
		*p = '\0';
		off = (size_t)(p - s) + strlen(DB_REDACTED);
		xasprintf(&t, "%s%s%s", s, DB_REDACTED, p + plen);
		free(s);
		s = t;
	}
	return s;
}

/* Route server notices ("relation exists, skipping") to debug output. */
static void
db_notice(void *arg, const char *msg)
{
	char *s;

	(void)arg;
	if (!log_enabled(LOG_LEVEL_DEBUG))
		return;
	s = db_scrub(NULL, msg);
	log_debug("database notice: %s", s);
	free(s);
}

static void
db_set_cause(char **cause, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
db_set_cause(char **cause, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	if (cause != NULL)
		*cause = s;
	else
		free(s);
}

/*
 * Replace every "quoted" part of a libpq parse error by "...": when the
 * connection string holds a password, the quoted text may be part of it.
 */
static char *
db_unquote(const char *msg)
{
	char *s, *o;
	int inq = 0;

	s = o = xmalloc(strlen(msg) * 2 + 1);
	for (; *msg != '\0'; msg++) {
		if (*msg == '"') {
			if (!inq)
				o = stpcpy(o, "\"...\"");
			inq = !inq;
		} else if (!inq)
			*o++ = *msg;
	}
	*o = '\0';
	return s;
}

/* Does the connection string (possibly malformed) carry a password? */
static int
db_has_password(const char *conninfo)
{
	const char *p;

	if (strcasestr(conninfo, "password") != NULL)
		return 1;
	if ((p = strstr(conninfo, "://")) != NULL && strchr(p, '@') != NULL)
		return 1;
	return 0;
}

/* Parse conninfo to validate it and to learn its password. */
static int
db_parse_conninfo(struct bc_db *db, const char *conninfo, char **cause)
{
	PQconninfoOption *opts, *o;
	char *err = NULL, *msg;

	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		if (err == NULL)
			fatalx("out of memory");
		msg = db_scrub(NULL, err);
		PQfreemem(err);
		if (db_has_password(conninfo)) {
			err = db_unquote(msg);
			free(msg);
			msg = err;
		}
		db_set_cause(cause, "invalid database connection string: %s",
		    msg);
		free(msg);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    *o->val != '\0')
			db->password = xstrdup(o->val);
	PQconninfoFree(opts);
	return 0;
}

/* Wait until the connection attempt completes or the deadline passes. */
static int
db_connect_poll(PGconn *conn, int64_t deadline)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	struct pollfd pfd;
	int64_t left;

	for (;;) {
		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED)
			return -1;
		if ((left = deadline - bc_now_ms()) <= 0)
			return 1;
		pfd.fd = PQsocket(conn);
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		pfd.revents = 0;
		if (pfd.fd < 0)
			return -1;
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) == -1) {
			if (errno != EINTR)
				return -1;
			continue;
		}
		if (pfd.revents != 0)
			st = PQconnectPoll(conn);
	}
}

/* Set statement_timeout on the session (a parameter, no SQL building). */
static int
db_set_timeout(struct bc_db *db, int64_t ms, char **cause)
{
	char buf[BC_DB_INT64_BUFSZ];
	const char *p[1];
	PGresult *r;

	p[0] = bc_db_int64(buf, ms);
	db->timeout_ms = ms;
	r = db_pipe_one(db, "SELECT set_config('statement_timeout', $1, "
	    "false)", 1, p, cause);
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

/* Open a new connection into db->conn, bounded by connect_timeout. */
static int
db_connect(struct bc_db *db, char **cause)
{
	const char *kw[3], *val[3];
	int64_t deadline;
	char *msg;
	int rc;

	kw[0] = "dbname";
	val[0] = db->conninfo;
	kw[1] = db->opts.application_name != NULL ? "application_name" :
	    "fallback_application_name";
	val[1] = db->appname;
	kw[2] = val[2] = NULL;
	deadline = bc_now_ms() + db->opts.connect_timeout_ms;
	if ((db->conn = PQconnectStartParams(kw, val, 1)) == NULL)
		fatalx("out of memory");
	if (PQstatus(db->conn) == CONNECTION_BAD)
		rc = -1;
	else
		rc = db_connect_poll(db->conn, deadline);
	if (rc != 0) {
		if (rc == 1)
			db_set_cause(cause, "database connection timed out "
			    "after %" PRId64 " ms",
			    db->opts.connect_timeout_ms);
		else {
			msg = db_scrub(db, PQerrorMessage(db->conn));
			db_set_cause(cause, "database connection failed: %s",
			    msg);
			free(msg);
		}
		goto fail;
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	/* Sends never block either: db_flush() bounds them. */
	if (PQsetnonblocking(db->conn, 1) == -1) {
		db_set_cause(cause, "cannot make the database connection "
		    "non-blocking");
		goto fail;
	}
	if (db_set_timeout(db, db->opts.statement_timeout_ms, cause) == -1)
		goto fail;
	return 0;

fail:
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db_stmt_clear(db);
	return -1;
}

struct bc_db *
bc_db_open(const char *conninfo, const struct bc_db_opts *opts, char **cause)
{
	struct bc_db *db;
	struct bc_db_opts *o;

	if (conninfo == NULL) {
		db_set_cause(cause, "no database connection string");
		return NULL;
	}
	db = xcalloc(1, sizeof *db);
	if (db_parse_conninfo(db, conninfo, cause) == -1)
		goto fail;
	db->conninfo = xstrdup(conninfo);
	o = &db->opts;
	if (opts != NULL)
		*o = *opts;
	if (o->connect_timeout_ms <= 0)
		o->connect_timeout_ms = DB_CONNECT_TIMEOUT_MS;
	if (o->statement_timeout_ms <= 0)
		o->statement_timeout_ms = DB_STATEMENT_TIMEOUT_MS;
	if (o->backoff_initial_ms <= 0)
		o->backoff_initial_ms = DB_BACKOFF_INITIAL_MS;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = DB_BACKOFF_MAX_MS;
	if (o->migrate_timeout_ms <= 0)
		o->migrate_timeout_ms = DB_MIGRATE_TIMEOUT_MS;
	db->stmt_max = o->stmt_cache_max < 0 ? 0 : o->stmt_cache_max > 0 ?
	    (size_t)o->stmt_cache_max : DB_STMT_CACHE_MAX;
	db->appname = xstrdup(o->application_name != NULL ?
	    o->application_name : log_prog());
	o->application_name = NULL;
	if (opts != NULL && opts->application_name != NULL)
		o->application_name = db->appname;
	bc_backoff_init(&db->backoff, o->backoff_initial_ms,
	    o->backoff_max_ms, DB_BACKOFF_JITTER);
	if (db_connect(db, cause) == -1)
		goto fail;
	return db;

fail:
	bc_db_close(db);
	return NULL;
}

void
bc_db_close(struct bc_db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	db_stmt_clear(db);
	db_freezero(db->conninfo);
	db_freezero(db->password);
	free(db->appname);
	free(db);
}

/* Forget a dead connection; the next call reconnects (or waits). */
static void
db_drop(struct bc_db *db, const char *why)
{
	log_warnx("database connection lost: %s", why);
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	if (db->m_connected != NULL)
		bc_metric_set(db->m_connected, NULL, 0);
	db_stmt_clear(db);
	db->lost = 1;
	if (db->in_tx)
		db->tx_lost = 1;
	db->next_try_ms = bc_now_ms();
}

/* Make sure there is a connection, reconnecting if the backoff allows. */
static int
db_ready(struct bc_db *db, char **cause)
{
	int64_t now, delay;
	char *why = NULL;

	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	if (db->conn != NULL)
		db_drop(db, "connection is bad");
	db->lost = 1;
	if (db->tx_lost) {
		db_set_cause(cause, "database connection lost inside a "
		    "transaction (roll back first)");
		return -1;
	}
	now = bc_now_ms();
	if (now < db->next_try_ms) {
		db_count_error(db, "unavailable");
		db_set_cause(cause, "database unavailable (retrying in %"
		    PRId64 " ms)", db->next_try_ms - now);
		return -1;
	}
	if (db_connect(db, &why) == 0) {
		log_info("reconnected to database");
		if (db->m_reconnects != NULL)
			bc_metric_inc(db->m_reconnects, BC_LV("ok"));
		if (db->m_connected != NULL)
			bc_metric_set(db->m_connected, NULL, 1);
		bc_backoff_reset(&db->backoff);
		db->lost = 0;
		free(why);
		return 0;
	}
	if (db->m_reconnects != NULL)
		bc_metric_inc(db->m_reconnects, BC_LV("failed"));
	db_count_error(db, "unavailable");
	delay = bc_backoff_next(&db->backoff);
	db->next_try_ms = bc_now_ms() + delay;
	log_warnx("database reconnect failed: %s (retrying in %" PRId64
	    " ms)", why, delay);
	db_set_cause(cause, "%s (retrying in %" PRId64 " ms)", why, delay);
	free(why);
	return -1;
}

/* Wait for the next result: 0 ready, -1 connection error, 1 timeout. */
static int
db_wait(PGconn *conn, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;

	if (!PQisBusy(conn))
		return 0;
	for (;;) {
		if (PQconsumeInput(conn) == 0)
			return -1;
		if (!PQisBusy(conn))
			return 0;
		if ((left = deadline - bc_now_ms()) <= 0)
			return 1;
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) == -1 &&
		    errno != EINTR)
			return -1;
	}
}

enum db_why { DB_LINK = 1, DB_TIMEOUT, DB_COPY };

/*
 * Collect every result of the statement sent: the first error, or else
 * the last result. NULL with *why set when the link failed, the deadline
 * passed or the server started a COPY (not supported): the connection is
 * then unusable.
 */
static PGresult *
db_collect(PGconn *conn, int64_t deadline, enum db_why *why)
{
	PGresult *keep = NULL, *r;
	ExecStatusType st;
	int w;

	for (;;) {
		w = db_wait(conn, deadline);
		/* A dead link may still hold the server's last words (a
		 * FATAL error); PQgetResult() no longer waits on it. */
		if (w != 0 && (w == 1 || PQstatus(conn) != CONNECTION_BAD)) {
			*why = w == 1 ? DB_TIMEOUT : DB_LINK;
			PQclear(keep);
			return NULL;
		}
		if ((r = PQgetResult(conn)) == NULL)
			break;
		st = PQresultStatus(r);
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
		    st == PGRES_COPY_BOTH) {
			*why = DB_COPY;
			PQclear(r);
			PQclear(keep);
			return NULL;
		}
		if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR)
			PQclear(r);
		else {
			PQclear(keep);
			keep = r;
		}
	}
	if (keep == NULL)
		*why = DB_LINK;
	return keep;
}

/* Is this error a lost connection rather than a failed statement? */
static int
db_is_lost(const struct bc_db *db)
{
	const char *s = db->sqlstate;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return 1;
	/* Shutting down: the server closes the session after this. */
	return strcmp(s, "57P01") == 0 || strcmp(s, "57P02") == 0 ||
	    strcmp(s, "57P03") == 0;
}

/* Record the error of r (or of the connection) and set *cause. */
static void
db_fail(struct bc_db *db, PGresult *r, char **cause)
{
	const char *primary = NULL, *state = NULL, *pos;
	char *msg;

	if (r != NULL) {
		primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	}
	if (state != NULL)
		bc_strlcpy(db->sqlstate, state, sizeof db->sqlstate);
	if (r != NULL && (pos = PQresultErrorField(r,
	    PG_DIAG_STATEMENT_POSITION)) != NULL)
		db->errpos = strtol(pos, NULL, 10);
	if (primary == NULL && db->conn != NULL)
		primary = PQerrorMessage(db->conn);
	msg = db_scrub(db, primary);
	db_count_error(db, db_is_lost(db) ? "lost" : "statement");
	if (db_is_lost(db)) {
		db_drop(db, msg);
		db_set_cause(cause, "database connection lost: %s", msg);
	} else if (*db->sqlstate != '\0')
		db_set_cause(cause, "%s (SQLSTATE %s)", msg, db->sqlstate);
	else
		db_set_cause(cause, "%s", msg);
	free(msg);
}

/* Keep in_tx in step with the server's view of the session. */
static void
db_sync_tx(struct bc_db *db)
{
	PGTransactionStatusType ts;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		return;
	ts = PQtransactionStatus(db->conn);
	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
		db->in_tx = 1;
	else if (ts == PQTRANS_IDLE)
		db->in_tx = 0;
}

/* Push the query out without blocking: 0 sent, -1 link error, 1 timeout. */
static int
db_flush(PGconn *conn, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int rc;

	while ((rc = PQflush(conn)) == 1) {
		if ((left = deadline - bc_now_ms()) <= 0)
			return 1;
		pfd.fd = PQsocket(conn);
		pfd.events = POLLIN | POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) == -1) {
			if (errno != EINTR)
				return -1;
			continue;
		}
		if ((pfd.revents & POLLIN) && PQconsumeInput(conn) == 0)
			return -1;
	}
	return rc;
}

/* The link failed (why) while running a statement: drop it, say why. */
static void
db_link_failed(struct bc_db *db, enum db_why why, int64_t wait,
    char **cause)
{
	char *msg;

	db_count_error(db, why == DB_TIMEOUT ? "timeout" : "lost");
	if (why == DB_TIMEOUT)
		xasprintf(&msg, "no answer within %" PRId64 " ms", wait);
	else if (why == DB_COPY)
		msg = xstrdup("unexpected COPY (not supported)");
	else
		msg = db_scrub(db, PQerrorMessage(db->conn));
	db_drop(db, msg);
	db_set_cause(cause, "database connection lost: %s", msg);
	free(msg);
}

/*
 * Run one statement with the simple query protocol (several statements,
 * no parameters: migration files only) and wait (bounded) for its
 * results. Returns the last result, or NULL with the error recorded.
 */
static PGresult *
db_send_simple(struct bc_db *db, const char *sql, char **cause)
{
	PGresult *r;
	int64_t deadline, wait;
	enum db_why why = 0;
	int ok;
	ExecStatusType st;

	wait = db->timeout_ms + db->opts.connect_timeout_ms;
	deadline = bc_now_ms() + wait;
	if (!PQsendQuery(db->conn, sql)) {
		db_fail(db, NULL, cause);
		return NULL;
	}
	if ((ok = db_flush(db->conn, deadline)) != 0) {
		db_link_failed(db, ok == 1 ? DB_TIMEOUT : DB_LINK, wait, cause);
		return NULL;
	}
	if ((r = db_collect(db->conn, deadline, &why)) == NULL) {
		db_link_failed(db, why, wait, cause);
		return NULL;
	}
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    st != PGRES_EMPTY_QUERY) {
		db_fail(db, r, cause);
		PQclear(r);
		r = NULL;
	}
	db_sync_tx(db);
	return r;
}

/* ------------------------------------------------------------ pipelines */

/* Send q[0..n-1] and a sync as one pipeline. 0, or -1 (link failed). */
static int
db_pipe_send(struct bc_db *db, struct db_q *q, size_t n)
{
	PGconn *c = db->conn;
	size_t i;
	int ok;

	for (i = 0; i < n; i++) {
		q[i].st = db_stmt_get(db, &q[i]);
		if (q[i].prep && !PQsendPrepare(c, q[i].st->name, q[i].sql,
		    q[i].nparams, NULL))
			return -1;
		if (q[i].st != NULL)
			ok = PQsendQueryPrepared(c, q[i].st->name, q[i].nparams,
			    q[i].params, NULL, NULL, 0);
		else
			ok = PQsendQueryParams(c, q[i].sql, q[i].nparams, NULL,
			    q[i].params, NULL, NULL, 0);
		if (!ok)
			return -1;
	}
	return PQpipelineSync(c) == 1 ? 0 : -1;
}

/* Is r a failure (neither a success nor skipped after an earlier one)? */
static int
db_res_failed(const PGresult *r)
{
	ExecStatusType st;

	if (r == NULL)
		return 0;
	st = PQresultStatus(r);
	return st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    st != PGRES_EMPTY_QUERY && st != PGRES_PIPELINE_ABORTED;
}

/* The error of q, its Parse's or its own; NULL if none. */
static PGresult *
db_q_error(const struct db_q *q)
{
	if (db_res_failed(q->pr))
		return q->pr;
	if (db_res_failed(q->r))
		return q->r;
	return NULL;
}

static void
db_q_clear(struct db_q *q, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		PQclear(q[i].pr);
		PQclear(q[i].r);
		q[i].pr = q[i].r = NULL;
	}
}

/*
 * Read the results of the pipeline sent: one per Parse and per statement,
 * then the sync's. Each may take wait ms. 0 when all are in (errors
 * included), -1 with *why when the link failed, the deadline passed or
 * the server started a COPY: the connection is then unusable.
 */
static int
db_pipe_read(struct bc_db *db, struct db_q *q, size_t n, int64_t wait,
    enum db_why *why)
{
	PGresult *r;
	ExecStatusType st;
	size_t i = 0;
	int w, nulls = 0;

	for (;;) {
		w = db_wait(db->conn, bc_now_ms() + wait);
		/* A dead link may still hold the server's last words (a
		 * FATAL error); PQgetResult() no longer waits on it. */
		if (w != 0 &&
		    (w == 1 || PQstatus(db->conn) != CONNECTION_BAD)) {
			*why = w == 1 ? DB_TIMEOUT : DB_LINK;
			return -1;
		}
		if ((r = PQgetResult(db->conn)) == NULL) {
			/* One NULL ends each statement's results. */
			if (++nulls > 1 || PQstatus(db->conn) == CONNECTION_BAD)
				return -1;
			continue;
		}
		nulls = 0;
		st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return i == n ? 0 : -1;
		}
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
		    st == PGRES_COPY_BOTH) {
			PQclear(r);
			*why = DB_COPY;
			return -1;
		}
		if (i == n)
			PQclear(r);	/* the link's own error, at the end */
		else if (q[i].prep && q[i].pr == NULL)
			q[i].pr = r;
		else
			q[i++].r = r;
	}
}

/* Note what a failed statement says about its cached statement. */
static void
db_q_check_cached(struct db_q *q, const char *state, int *clear,
    int *sweep)
{
	const char *fn;

	if (strcmp(state, "26000") == 0) {
		/* DEALLOCATE ALL or DISCARD ALL, hidden in a function. */
		q->stale = 1;
		*clear = 1;
	} else if (strcmp(state, "0A000") == 0) {
		/* "cached plan must not change result type": the tables
		 * changed. The server keeps it, so it still counts. */
		fn = PQresultErrorField(db_q_error(q), PG_DIAG_SOURCE_FUNCTION);
		q->stale = fn != NULL &&
		    strcmp(fn, "RevalidateCachedQuery") == 0;
		q->st->dead = 1;
		*sweep = 1;
	}
}

/* Keep the cache true to the server after a pipeline. */
static void
db_pipe_fixup(struct bc_db *db, struct db_q *q, size_t n)
{
	PGresult *e;
	const char *state;
	size_t i;
	int clear = 0, sweep = 0;

	for (i = 0; i < n; i++) {
		e = db_q_error(&q[i]);
		state = e != NULL ? PQresultErrorField(e, PG_DIAG_SQLSTATE) :
		    NULL;
		if (q[i].prep && PQresultStatus(q[i].pr) != PGRES_COMMAND_OK) {
			if (!q[i].st->dead)
				db->nstmts--;
			q[i].st->dead = 1;
			sweep = 1;
		} else if (q[i].cached && state != NULL)
			db_q_check_cached(&q[i], state, &clear, &sweep);
		else if (e == NULL && q[i].r != NULL &&
		    db_stmt_dealloc(q[i].sql))
			clear = 1;
		q[i].st = NULL;
	}
	if (clear)
		db_stmt_clear(db);
	else if (sweep)
		db_stmt_sweep(db);
}

/*
 * Run q[0..n-1] as one pipeline (one sync) on the current connection,
 * each result bounded by statement_timeout + connect_timeout. 0 when
 * every statement succeeded (results in q[i].r; the caller clears them),
 * else -1 with the first error recorded and *failed its index (n when
 * the link failed without one).
 */
static int
db_pipe(struct bc_db *db, struct db_q *q, size_t n, size_t *failed,
    char **cause)
{
	int64_t wait = db->timeout_ms + db->opts.connect_timeout_ms;
	enum db_why why = DB_LINK;
	PGresult *e = NULL;
	int64_t t0 = db->m_latency != NULL ? db_now_us() : 0;
	size_t i;
	int rc = -1;

	*failed = n;
	if (PQenterPipelineMode(db->conn) && db_pipe_send(db, q, n) == 0) {
		if ((rc = db_flush(db->conn, bc_now_ms() + wait)) == 0)
			rc = db_pipe_read(db, q, n, wait, &why);
		else if (rc == 1) {
			why = DB_TIMEOUT;
			rc = -1;
		}
	}
	if (db->m_latency != NULL)
		bc_metric_observe(db->m_latency, NULL,
		    (double)(db_now_us() - t0) / 1e6);
	db_pipe_fixup(db, q, n);
	for (i = 0; i < n && (e = db_q_error(&q[i])) == NULL; i++)
		;
	if (rc == 0 && !PQexitPipelineMode(db->conn))
		rc = -1;
	if (rc == -1 && (e == NULL || PQstatus(db->conn) != CONNECTION_BAD)) {
		db_link_failed(db, why, wait, cause);
		return -1;
	}
	if (e != NULL) {
		*failed = i;
		db_fail(db, e, cause);
	}
	db_sync_tx(db);
	return e != NULL ? -1 : 0;
}

/* One statement in a pipeline of its own, keeping the call's state. */
static PGresult *
db_pipe_one(struct bc_db *db, const char *sql, int nparams,
    const char *const *params, char **cause)
{
	struct db_q q;
	PGresult *r;
	size_t failed;

	memset(&q, 0, sizeof q);
	q.sql = sql;
	q.nparams = nparams;
	q.params = params;
	if (db_pipe(db, &q, 1, &failed, cause) == -1) {
		db_q_clear(&q, 1);
		return NULL;
	}
	r = q.r;
	q.r = NULL;
	db_q_clear(&q, 1);
	return r;
}

/* Check the arguments of q[0..n-1]. */
static int
db_q_check(const struct db_q *q, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (q[i].sql == NULL || q[i].nparams < 0 ||
		    q[i].nparams > 65535 ||
		    (q[i].nparams > 0 && q[i].params == NULL))
			return -1;
	return 0;
}

/* The transaction failed: SQLSTATE 25P02 with msg. Returns -1. */
static int
db_tx_failed(struct bc_db *db, const char *msg, char **cause)
{
	bc_strlcpy(db->sqlstate, "25P02", sizeof db->sqlstate);
	db_set_cause(cause, "%s", msg);
	return -1;
}

/* Reset the state of the last call. */
static void
db_reset(struct bc_db *db)
{
	db->sqlstate[0] = '\0';
	db->lost = db->retryable = 0;
	db->errpos = 0;
}

/*
 * db_pipe() of q[1..n] after the deferred statements, all in one
 * pipeline; the results of q[1..n] stay in q. *failed as db_pipe()'s,
 * counting the deferred statements first.
 */
static int
db_pipe_deferred(struct bc_db *db, struct db_q *q, size_t n,
    size_t *failed, char **cause)
{
	struct db_q *all;
	size_t i, k = db->ndefer;
	int rc;

	all = xcalloc(k + n, sizeof *all);
	for (i = 0; i < k; i++)
		all[i].sql = db->defer[i];
	memcpy(all + k, q, n * sizeof *q);
	db->ndefer = 0;
	rc = db_pipe(db, all, k + n, failed, cause);
	memcpy(q, all + k, n * sizeof *q);
	for (i = 0; i < k; i++)
		q[0].stale |= all[i].stale;
	db_q_clear(all, k);
	free(all);
	return rc;
}

/*
 * Run q[1..n] in one pipeline after the pending BEGIN, which goes as
 * q[0], and the deferred statements. 0, or -1 with the error of the
 * first statement that failed (BEGIN's and the deferred ones' count as
 * q[1]'s: they fail the call that sent them).
 */
static int
db_run_list(struct bc_db *db, struct db_q *q, size_t n, char **cause)
{
	size_t failed, i;
	int begin, rc, tx;

	if (db_ready(db, cause) == -1)
		return -1;
	tx = db->in_tx;
	if ((begin = db->begin_pending)) {
		memset(&q[0], 0, sizeof q[0]);
		q[0].sql = "BEGIN";
	}
	db->begin_pending = 0;
	if (db->ndefer > 0 && begin) {
		/* BEGIN first: it is q[0] of what is sent after the defers,
		 * so send it with them. */
		memmove(db->defer + 1, db->defer, db->ndefer *
		    sizeof db->defer[0]);
		db->defer[0] = "BEGIN";
		db->ndefer++;
		rc = db_pipe_deferred(db, q + 1, n, &failed, cause);
	} else if (db->ndefer > 0)
		rc = db_pipe_deferred(db, q + 1, n, &failed, cause);
	else
		rc = db_pipe(db, q + !begin, n + begin, &failed, cause);
	if (rc == -1 && begin && failed == 0 && !db->lost) {
		/* No transaction: fail what follows until the rollback. */
		db->in_tx = db->tx_failed = 1;
	}
	if (rc == -1) {
		for (i = 0; i <= n; i++)
			db->retryable |= q[i].stale;
		db->retryable |= strcmp(db->sqlstate, "40001") == 0 ||
		    strcmp(db->sqlstate, "40P01") == 0;
	}
	/* Outside a transaction, a statement the server had forgotten did
	 * not run: prepare it again, once. */
	if (rc == -1 && !tx && !begin && n == 1 && q[1].stale &&
	    !db->lost) {
		db_q_clear(q, n + 1);
		q[1].stale = q[1].prep = q[1].cached = 0;
		if (cause != NULL) {
			free(*cause);
			*cause = NULL;
		}
		db_reset(db);
		return db_run_list(db, q, n, cause);
	}
	return rc;
}

/*
 * Check, connect if needed, then run one statement (after the pending
 * BEGIN). Its result, or NULL with the error recorded.
 */
static PGresult *
db_run(struct bc_db *db, const char *sql, int nparams,
    const char *const *params, char **cause)
{
	struct db_q q[2];
	PGresult *r = NULL;

	db_reset(db);
	memset(q, 0, sizeof q);
	q[1].sql = sql;
	q[1].nparams = nparams;
	q[1].params = params;
	if (db_q_check(&q[1], 1) == -1)
		db_set_cause(cause, "bad query arguments");
	else if (db->tx_failed)
		db_tx_failed(db, "current transaction is aborted, commands "
		    "ignored until end of transaction block", cause);
	else if (db_run_list(db, q, 1, cause) == 0) {
		r = q[1].r;
		q[1].r = NULL;
	}
	db_q_clear(q, 2);
	return r;
}

struct bc_db_res *
bc_db_query(struct bc_db *db, const char *sql, int nparams,
    const char *const *params, char **cause)
{
	struct bc_db_res *res;
	PGresult *r;

	if ((r = db_run(db, sql, nparams, params, cause)) == NULL)
		return NULL;
	res = xmalloc(sizeof *res);
	res->r = r;
	return res;
}

int
bc_db_exec(struct bc_db *db, const char *sql, int nparams,
    const char *const *params, int64_t *affected, char **cause)
{
	PGresult *r;
	const char *n;

	if ((r = db_run(db, sql, nparams, params, cause)) == NULL)
		return -1;
	if (affected != NULL) {
		n = PQcmdTuples(r);
		*affected = *n != '\0' ? strtoll(n, NULL, 10) : 0;
	}
	PQclear(r);
	return 0;
}

int
bc_db_begin(struct bc_db *db, char **cause)
{
	db_reset(db);
	if (db->in_tx) {
		db->lost = db->tx_lost;
		db_set_cause(cause, "a transaction is already open");
		return -1;
	}
	if (db_ready(db, cause) == -1)
		return -1;
	/* Sent with the next statement, in the same round trip. */
	db->in_tx = 1;
	db->begin_pending = 1;
	return 0;
}

int
bc_db_defer(struct bc_db *db, const char *sql, char **cause)
{
	if (!db->in_tx || sql == NULL) {
		db_set_cause(cause, "no transaction is open");
		return -1;
	}
	if (db->ndefer >= DB_DEFER_MAX - 1) {	/* room for a BEGIN */
		db_set_cause(cause, "too many deferred statements");
		return -1;
	}
	db->defer[db->ndefer++] = sql;
	return 0;
}

int
bc_db_defer_cancel(struct bc_db *db, const char *sql)
{
	if (db->ndefer == 0 || db->defer[db->ndefer - 1] != sql)
		return 0;
	db->ndefer--;
	return 1;
}

/* Send the pending BEGIN now (before a simple-protocol statement). */
static int
db_begin_now(struct bc_db *db, char **cause)
{
	struct db_q q;
	int rc;

	if (!db->begin_pending && db->ndefer == 0)
		return 0;
	memset(&q, 0, sizeof q);
	rc = db_run_list(db, &q, 0, cause);
	db_q_clear(&q, 1);
	return rc;
}

/* Roll back after a failed commit, keeping the first error's state. */
static void
db_commit_abort(struct bc_db *db)
{
	char state[sizeof db->sqlstate];
	PGresult *r;
	int retryable = db->retryable;

	if (db->lost || db->conn == NULL ||
	    PQstatus(db->conn) != CONNECTION_OK ||
	    PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	memcpy(state, db->sqlstate, sizeof state);
	r = db_pipe_one(db, "ROLLBACK", 0, NULL, NULL);
	PQclear(r);
	memcpy(db->sqlstate, state, sizeof state);
	db->lost = 0;
	db->retryable = retryable;
}

/* Hand the results of q[1..n] to res[0..n-1], if wanted. */
static void
db_commit_results(struct db_q *q, size_t n, struct bc_db_res **res)
{
	size_t i;

	for (i = 0; res != NULL && i < n; i++) {
		res[i] = xmalloc(sizeof *res[i]);
		res[i]->r = q[i + 1].r;
		q[i + 1].r = NULL;
	}
}

/* Run stmts (k of them: none after an error) and COMMIT in one pipeline. */
static int
db_commit_run(struct bc_db *db, const struct bc_db_stmt *stmts, size_t n,
    size_t k, struct bc_db_res **res, char **cause)
{
	struct db_q *q;
	size_t i;
	int rc, rolledback;

	q = xcalloc(k + 2, sizeof *q);
	for (i = 0; i < k; i++) {
		q[i + 1].sql = stmts[i].sql;
		q[i + 1].nparams = stmts[i].nparams;
		q[i + 1].params = stmts[i].params;
	}
	q[k + 1].sql = "COMMIT";
	rc = db_run_list(db, q, k + 1, cause);
	if (rc == 0) {
		/* COMMIT of a failed transaction "succeeds" as ROLLBACK. */
		rolledback = strcmp(PQcmdStatus(q[k + 1].r), "ROLLBACK") == 0;
		if (rolledback || k < n)
			rc = db_tx_failed(db, "transaction failed and was "
			    "rolled back", cause);
		else
			db_commit_results(q, n, res);
	} else
		db_commit_abort(db);
	db_q_clear(q, k + 2);
	free(q);
	return rc;
}

int
bc_db_commit_with(struct bc_db *db, const struct bc_db_stmt *stmts,
    size_t n, struct bc_db_res **res, char **cause)
{
	size_t i, k = n;
	int rc = 0;

	db_reset(db);
	for (i = 0; res != NULL && i < n; i++)
		res[i] = NULL;
	if (!db->in_tx) {
		db_set_cause(cause, "no transaction is open");
		return -1;
	}
	for (i = 0; i < n && stmts != NULL; i++)
		if (db_q_check(&(struct db_q){ .sql = stmts[i].sql,
		    .nparams = stmts[i].nparams, .params = stmts[i].params },
		    1) == -1)
			break;
	if (i < n) {
		db_set_cause(cause, "bad query arguments");
		bc_db_rollback(db);
		return -1;
	}
	if (db->tx_failed)
		rc = db_tx_failed(db, "transaction failed and was rolled back",
		    cause);
	else if (db->begin_pending && n == 0)
		db->begin_pending = 0;	/* nothing was sent: nothing to do */
	else {
		/* A failed transaction: COMMIT alone, which rolls it back. */
		if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK &&
		    PQtransactionStatus(db->conn) == PQTRANS_INERROR) {
			k = 0;
			db->ndefer = 0;
		}
		rc = db_commit_run(db, stmts, n, k, res, cause);
	}
	db->in_tx = db->tx_lost = db->tx_failed = db->begin_pending = 0;
	db->ndefer = 0;
	return rc;
}

int
bc_db_commit(struct bc_db *db, char **cause)
{
	return bc_db_commit_with(db, NULL, 0, NULL, cause);
}

int
bc_db_rollback(struct bc_db *db)
{
	PGresult *r;
	int rc = 0;

	if (db == NULL)
		return 0;
	db->begin_pending = db->tx_failed = 0;
	db->ndefer = 0;
	if (db->tx_lost || db->conn == NULL ||
	    PQstatus(db->conn) != CONNECTION_OK) {
		/* The server ended the transaction with the session. */
		db->in_tx = db->tx_lost = 0;
		return db->conn == NULL ? 0 : -1;
	}
	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
		if ((r = db_pipe_one(db, "ROLLBACK", 0, NULL, NULL)) == NULL)
			rc = -1;
		PQclear(r);
	}
	db->in_tx = db->tx_lost = 0;
	return rc;
}

int
bc_db_in_tx(const struct bc_db *db)
{
	return db->in_tx;
}

int
bc_db_ntuples(const struct bc_db_res *res)
{
	return res != NULL ? PQntuples(res->r) : 0;
}

int
bc_db_nfields(const struct bc_db_res *res)
{
	return res != NULL ? PQnfields(res->r) : 0;
}

/* Is (row, col) inside the result? */
static int
db_in_range(const struct bc_db_res *res, int row, int col)
{
	return res != NULL && row >= 0 && col >= 0 &&
	    row < PQntuples(res->r) && col < PQnfields(res->r);
}

const char *
bc_db_get(const struct bc_db_res *res, int row, int col)
{
	if (!db_in_range(res, row, col) || PQgetisnull(res->r, row, col))
		return NULL;
	return PQgetvalue(res->r, row, col);
}

int
bc_db_is_null(const struct bc_db_res *res, int row, int col)
{
	return bc_db_get(res, row, col) == NULL;
}

int
bc_db_get_int64(const struct bc_db_res *res, int row, int col,
    int64_t *out)
{
	const char *s;
	char *end;
	long long v;

	if ((s = bc_db_get(res, row, col)) == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || isspace((unsigned char)*s))
		return -1;
	*out = v;
	return 0;
}

int
bc_db_get_bool(const struct bc_db_res *res, int row, int col, int *out)
{
	const char *s;

	if ((s = bc_db_get(res, row, col)) == NULL)
		return -1;
	if (strcmp(s, "t") == 0)
		*out = 1;
	else if (strcmp(s, "f") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

int
bc_db_get_double(const struct bc_db_res *res, int row, int col,
    double *out)
{
	const char *s;
	char *end;
	double v;

	if ((s = bc_db_get(res, row, col)) == NULL || *s == '\0' ||
	    isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int
bc_db_fnumber(const struct bc_db_res *res, const char *name)
{
	if (res == NULL || name == NULL)
		return -1;
	return PQfnumber(res->r, name);
}

void
bc_db_res_free(struct bc_db_res *res)
{
	if (res == NULL)
		return;
	PQclear(res->r);
	free(res);
}

const char *
bc_db_int64(char *buf, int64_t v)
{
	snprintf(buf, BC_DB_INT64_BUFSZ, "%" PRId64, v);
	return buf;
}

const char *
bc_db_sqlstate(const struct bc_db *db)
{
	return db->sqlstate;
}

int
bc_db_lost(const struct bc_db *db)
{
	return db->lost;
}

int
bc_db_retryable(const struct bc_db *db)
{
	return db->retryable;
}

int
bc_db_ping(struct bc_db *db)
{
	struct bc_db_res *res;
	char *cause = NULL;

	if ((res = bc_db_query(db, "SELECT 1", 0, NULL, &cause)) == NULL) {
		log_debug("database ping failed: %s", cause);
		free(cause);
		return -1;
	}
	bc_db_res_free(res);
	return 0;
}

/* ------------------------------------------------------------ migrations */

/*
 * Parse a migration file name. Returns the version (0-999), -1 for a name
 * to ignore, -2 for a malformed name.
 */
static int
mig_parse_name(const char *name)
{
	size_t len = strlen(name), i;

	if (len < 4 || strcmp(name + len - 4, ".sql") != 0 ||
	    !isdigit((unsigned char)name[0]))
		return -1;
	for (i = 0; i < 3; i++)
		if (!isdigit((unsigned char)name[i]))
			return -2;
	if (name[3] != '_' || len < 9)
		return -2;
	for (i = 4; i < len - 4; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '-' && name[i] != '.')
			return -2;
	return (name[0] - '0') * 100 + (name[1] - '0') * 10 + (name[2] - '0');
}

static void
mig_free(struct db_mig *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m[i].file);
		free(m[i].sql);
	}
	free(m);
}

static int
mig_cmp(const void *a, const void *b)
{
	const struct db_mig *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* Read path (a regular file, at most DB_MIGRATION_MAX bytes, no NUL). */
static int
mig_read(const char *path, char **out, char **cause)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t len = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		db_set_cause(cause, "cannot read '%s': %s", path,
		    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > DB_MIGRATION_MAX) {
		db_set_cause(cause, "'%s' is not a regular file of at most "
		    "%d bytes", path, DB_MIGRATION_MAX);
		goto fail;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size &&
	    (n = read(fd, buf + len, (size_t)st.st_size - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			db_set_cause(cause, "cannot read '%s': %s", path,
			    strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		db_set_cause(cause, "'%s' contains a NUL byte", path);
		goto fail;
	}
	close(fd);
	*out = buf;
	return 0;

fail:
	if (fd != -1)
		close(fd);
	free(buf);
	return -1;
}

/* Add one file found in dir to the list. */
static int
mig_add(const char *dir, const char *name, int version, struct db_mig **m,
    size_t *n, char **cause)
{
	struct db_mig *e;
	char *path;
	int rc;

	*m = xreallocarray(*m, *n + 1, sizeof **m);
	e = &(*m)[*n];
	memset(e, 0, sizeof *e);
	xasprintf(&path, "%s/%s", dir, name);
	rc = mig_read(path, &e->sql, cause);
	free(path);
	if (rc == -1)
		return -1;
	e->version = version;
	e->file = xstrdup(name);
	bc_sha256_hex(e->sql, strlen(e->sql), e->sum);
	(*n)++;
	return 0;
}

/* List, read and sort the migrations in dir; refuse bad names. */
static int
mig_scan(const char *dir, struct db_mig **out, size_t *nout, char **cause)
{
	struct db_mig *m = NULL;
	struct dirent *de;
	size_t n = 0, i;
	DIR *d;
	int v;

	if ((d = opendir(dir)) == NULL) {
		db_set_cause(cause, "cannot open migrations directory '%s': "
		    "%s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if ((v = mig_parse_name(de->d_name)) == -1)
			continue;
		if (v == -2) {
			db_set_cause(cause, "bad migration file name '%s' "
			    "(want NNN_name.sql)", de->d_name);
			goto fail;
		}
		if (mig_add(dir, de->d_name, v, &m, &n, cause) == -1)
			goto fail;
	}
	closedir(d);
	d = NULL;
	if (n > 0)
		qsort(m, n, sizeof *m, mig_cmp);
	for (i = 1; i < n; i++)
		if (m[i].version == m[i - 1].version) {
			db_set_cause(cause, "migrations '%s' and '%s' have the "
			    "same number", m[i - 1].file, m[i].file);
			goto fail;
		}
	*out = m;
	*nout = n;
	return 0;

fail:
	if (d != NULL)
		closedir(d);
	mig_free(m, n);
	return -1;
}

/* Refuse to run when an applied file changed since it was applied. */
static int
mig_check(struct bc_db *db, struct db_mig *m, size_t n, unsigned char *done,
    char **cause)
{
	struct bc_db_res *res;
	const char *sum;
	int64_t v;
	size_t i;
	int row, rc = -1;

	res = bc_db_query(db, "SELECT version, checksum, name"
	    " FROM schema_migrations ORDER BY version", 0, NULL, cause);
	if (res == NULL)
		return -1;
	for (row = 0; row < bc_db_ntuples(res); row++) {
		if (bc_db_get_int64(res, row, 0, &v) == -1 ||
		    (sum = bc_db_get(res, row, 1)) == NULL)
			continue;
		for (i = 0; i < n && m[i].version != v; i++)
			;
		if (i == n) {
			log_warnx("migration %" PRId64 " ('%s') is applied "
			    "but has no file here", v, bc_db_get(res, row, 2));
			continue;
		}
		if (strcmp(sum, m[i].sum) != 0) {
			db_set_cause(cause, "migration '%s' was changed after "
			    "it was applied (checksum %.12s recorded, %.12s "
			    "on disk): restore it and add a new migration",
			    m[i].file, sum, m[i].sum);
			goto out;
		}
		done[i] = 1;
	}
	rc = 0;
out:
	bc_db_res_free(res);
	return rc;
}

/* The line of a 1-based character position in a UTF-8 text. */
static int
mig_line(const char *sql, long want)
{
	long chars = 0;
	int line = 1;

	for (; *sql != '\0'; sql++) {
		if (((unsigned char)*sql & 0xc0) == 0x80)
			continue;
		if (++chars >= want)
			break;
		if (*sql == '\n')
			line++;
	}
	return line;
}

/* Run one file's statements; on error, cause names the line if known. */
static int
mig_run_file(struct bc_db *db, const struct db_mig *m, char **cause)
{
	PGresult *r;
	char *err = NULL;
	int line = 0;

	db->errpos = 0;
	if (db_begin_now(db, &err) == 0 &&
	    (r = db_send_simple(db, m->sql, &err)) != NULL) {
		PQclear(r);
		return 0;
	}
	if (db->errpos > 0)
		line = mig_line(m->sql, db->errpos);
	if (line > 0)
		db_set_cause(cause, "migration '%s' failed at line %d: %s",
		    m->file, line, err);
	else
		db_set_cause(cause, "migration '%s' failed: %s", m->file, err);
	free(err);
	return -1;
}

/* Apply one pending migration in its own transaction. */
static int
mig_apply(struct bc_db *db, const struct db_mig *m, char **cause)
{
	char vbuf[BC_DB_INT64_BUFSZ];
	char *err = NULL;

	if (bc_db_begin(db, &err) == -1)
		goto fail;
	if (mig_run_file(db, m, cause) == -1)
		goto out;
	if (!db->in_tx || PQtransactionStatus(db->conn) != PQTRANS_INTRANS) {
		db_set_cause(cause, "migration '%s' ended its transaction "
		    "(remove BEGIN/COMMIT from the file)", m->file);
		goto out;
	}
	if (bc_db_exec(db, "INSERT INTO schema_migrations"
	    " (version, name, checksum) VALUES ($1, $2, $3)",
	    BC_DB_P(bc_db_int64(vbuf, m->version), m->file, m->sum), NULL,
	    &err) == -1)
		goto fail;
	if (bc_db_commit(db, &err) == -1)
		goto fail;
	log_info("applied migration %s", m->file);
	return 0;

fail:
	db_set_cause(cause, "migration '%s' failed: %s", m->file, err);
out:
	free(err);
	bc_db_rollback(db);
	return -1;
}

/* Under the lock: create the table, check, apply what is pending. */
static int
mig_locked(struct bc_db *db, struct db_mig *m, size_t n, char **cause)
{
	unsigned char *done;
	size_t i;
	int rc = -1;

	done = xcalloc(n + 1, 1);
	if (bc_db_exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    " version int PRIMARY KEY,"
	    " name text NOT NULL,"
	    " checksum text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())",
	    0, NULL, NULL, cause) == -1)
		goto out;
	if (mig_check(db, m, n, done, cause) == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (!done[i] && mig_apply(db, &m[i], cause) == -1)
			goto out;
	rc = 0;
out:
	free(done);
	return rc;
}

int
bc_db_migrate(struct bc_db *db, const char *dir, char **cause)
{
	struct db_mig *m = NULL;
	size_t n = 0;
	char kbuf[BC_DB_INT64_BUFSZ], state[sizeof db->sqlstate];
	char *err = NULL;
	int locked = 0, lost, rc = -1;

	db->sqlstate[0] = '\0';
	db->lost = 0;
	if (dir == NULL || db->in_tx) {
		db_set_cause(cause, dir == NULL ? "no migrations directory" :
		    "cannot migrate inside a transaction");
		return -1;
	}
	if (mig_scan(dir, &m, &n, cause) == -1)
		return -1;
	bc_db_int64(kbuf, BC_DB_MIGRATE_LOCK_KEY);
	if (db_ready(db, cause) == -1 ||
	    db_set_timeout(db, db->opts.migrate_timeout_ms, cause) == -1)
		goto out;
	if (bc_db_exec(db, "SELECT pg_advisory_lock($1::bigint)",
	    BC_DB_P(kbuf), NULL, &err) == -1) {
		db_set_cause(cause, "cannot take the migrations lock: %s", err);
		free(err);
		goto out;
	}
	locked = 1;
	rc = mig_locked(db, m, n, cause);

out:
	/* Clean up without losing the first error's state. */
	memcpy(state, db->sqlstate, sizeof state);
	lost = db->lost;
	if (locked && db->conn != NULL &&
	    bc_db_exec(db, "SELECT pg_advisory_unlock($1::bigint)",
	    BC_DB_P(kbuf), NULL, NULL) == -1)
		log_warnx("could not release the migrations lock");
	if (db->conn != NULL && db->timeout_ms != db->opts.statement_timeout_ms)
		db_set_timeout(db, db->opts.statement_timeout_ms, NULL);
	memcpy(db->sqlstate, state, sizeof state);
	db->lost = lost;
	mig_free(m, n);
	return rc;
}
