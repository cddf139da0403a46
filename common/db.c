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
#include <unistd.h>

#include <libpq-fe.h>

#include <botcommon/backoff.h>
#include <botcommon/crypto.h>
#include <botcommon/db.h>
#include <botcommon/log.h>
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
	int			 tx_lost;	/* in_tx, but the link died */
	int			 lost;		/* last call: connection lost */
	long			 errpos;	/* last error's position or 0 */
	char			 sqlstate[6];
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

static PGresult	*db_send(struct bc_db *, const char *, int,
		    const char *const *, int, char **);

static void
db_freezero(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
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
	r = db_send(db, "SELECT set_config('statement_timeout', $1, false)",
	    1, p, 0, cause);
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
		db_set_cause(cause, "database unavailable (retrying in %"
		    PRId64 " ms)", db->next_try_ms - now);
		return -1;
	}
	if (db_connect(db, &why) == 0) {
		log_info("reconnected to database");
		bc_backoff_reset(&db->backoff);
		db->lost = 0;
		free(why);
		return 0;
	}
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
 * Send one statement on the current connection and wait (bounded) for its
 * results. simple: the simple query protocol (several statements, no
 * parameters; migration files only). Returns the result, or NULL with the
 * error recorded.
 */
static PGresult *
db_send(struct bc_db *db, const char *sql, int nparams,
    const char *const *params, int simple, char **cause)
{
	PGresult *r;
	int64_t deadline, wait;
	enum db_why why = 0;
	int ok;
	ExecStatusType st;

	wait = db->timeout_ms + db->opts.connect_timeout_ms;
	deadline = bc_now_ms() + wait;
	if (simple)
		ok = PQsendQuery(db->conn, sql);
	else
		ok = PQsendQueryParams(db->conn, sql, nparams, NULL, params,
		    NULL, NULL, 0);
	if (!ok) {
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

/* Check, connect if needed, then run one statement. */
static PGresult *
db_run(struct bc_db *db, const char *sql, int nparams,
    const char *const *params, int simple, char **cause)
{
	db->sqlstate[0] = '\0';
	db->lost = 0;
	db->errpos = 0;
	if (sql == NULL || nparams < 0 || (nparams > 0 && params == NULL)) {
		db_set_cause(cause, "bad query arguments");
		return NULL;
	}
	if (db_ready(db, cause) == -1)
		return NULL;
	return db_send(db, sql, nparams, params, simple, cause);
}

struct bc_db_res *
bc_db_query(struct bc_db *db, const char *sql, int nparams,
    const char *const *params, char **cause)
{
	struct bc_db_res *res;
	PGresult *r;

	if ((r = db_run(db, sql, nparams, params, 0, cause)) == NULL)
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

	if ((r = db_run(db, sql, nparams, params, 0, cause)) == NULL)
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
	if (db->in_tx) {
		db->sqlstate[0] = '\0';
		db->lost = db->tx_lost;
		db_set_cause(cause, "a transaction is already open");
		return -1;
	}
	if (bc_db_exec(db, "BEGIN", 0, NULL, NULL, cause) == -1)
		return -1;
	db->in_tx = 1;
	return 0;
}

int
bc_db_commit(struct bc_db *db, char **cause)
{
	PGresult *r;
	int rolledback;

	if (!db->in_tx) {
		db->sqlstate[0] = '\0';
		db->lost = 0;
		db_set_cause(cause, "no transaction is open");
		return -1;
	}
	r = db_run(db, "COMMIT", 0, NULL, 0, cause);
	db->in_tx = 0;
	db->tx_lost = 0;
	if (r == NULL)
		return -1;
	/* COMMIT of a failed transaction "succeeds" as ROLLBACK. */
	rolledback = strcmp(PQcmdStatus(r), "ROLLBACK") == 0;
	PQclear(r);
	if (rolledback) {
		bc_strlcpy(db->sqlstate, "25P02", sizeof db->sqlstate);
		db_set_cause(cause, "transaction failed and was rolled back");
		return -1;
	}
	return 0;
}

int
bc_db_rollback(struct bc_db *db)
{
	PGresult *r;
	int rc = 0;

	if (db == NULL)
		return 0;
	if (db->tx_lost || db->conn == NULL ||
	    PQstatus(db->conn) != CONNECTION_OK) {
		/* The server ended the transaction with the session. */
		db->in_tx = db->tx_lost = 0;
		return db->conn == NULL ? 0 : -1;
	}
	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
		if ((r = db_send(db, "ROLLBACK", 0, NULL, 0, NULL)) == NULL)
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
	if ((r = db_send(db, m->sql, 0, NULL, 1, &err)) != NULL) {
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
