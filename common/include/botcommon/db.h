/*
 * PostgreSQL access (libpq): one connection with reconnect and backoff,
 * parameterized queries only, transactions, and the migrations runner.
 * This is the only module that includes libpq-fe.h.
 *
 *   struct bc_db *db = bc_db_open(conninfo, NULL, &cause);
 *   res = bc_db_query(db, "SELECT coins FROM pisunchik_data"
 *       " WHERE player_id = $1", BC_DB_P(id), &cause);
 *
 * SQL text is always a constant: values travel as text parameters ($1,
 * $2...), never spliced into the statement.
 *
 * Every connection has statement_timeout set (again after a reconnect),
 * connecting is bounded by connect_timeout, and each call waits for the
 * server at most statement_timeout + connect_timeout before the connection
 * is dropped as dead, so a hung database stalls a caller for seconds, never
 * forever.
 *
 * Reconnect: when the connection is lost, the call that noticed it fails
 * (bc_db_lost() == 1). The next call tries to reconnect, and after a failed
 * attempt calls fail fast with "database unavailable (retrying in N ms)"
 * until the backoff delay has passed. A statement is never retried by this
 * module: it may have committed. A connection lost inside a transaction
 * fails that transaction: every call but bc_db_rollback() fails until the
 * caller rolls back (and may then retry the whole transaction).
 *
 * Prepared statements: each connection keeps the statements it ran by SQL
 * text (up to stmt_cache_max; the first use of a text prepares it in the
 * same round trip, later uses only bind and execute; past the cap, and
 * for a text first run with another number of parameters, statements go
 * unnamed as before). The cache goes with the connection. A DEALLOCATE
 * or DISCARD statement run through this module empties it. If the server
 * lost a cached statement anyway (DEALLOCATE inside a function), or a
 * table changed so that a cached SELECT's result type would change
 * (SQLSTATE 26000 or 0A000 "cached plan must not change result type"),
 * the statement is prepared again: at once outside a transaction (the
 * failed one did not run), and inside one the call fails with
 * bc_db_retryable() == 1.
 *
 * Round trips: bc_db_begin() sends nothing; its BEGIN goes with the
 * transaction's first statement, in one pipeline (libpq pipeline mode).
 * bc_db_commit_with() sends statements and the COMMIT in one pipeline.
 *
 * Causes and logs never contain the password of the connection string;
 * the connection string itself is never logged.
 */
#ifndef BOTCOMMON_DB_H
#define BOTCOMMON_DB_H

#include <stddef.h>
#include <stdint.h>

struct bc_db_opts {
	int64_t		 connect_timeout_ms;	/* 0 = 5000 */
	int64_t		 statement_timeout_ms;	/* 0 = 10000 */
	int64_t		 backoff_initial_ms;	/* 0 = 500 */
	int64_t		 backoff_max_ms;	/* 0 = 30000 */
	const char	*application_name;	/* NULL = log_prog() */
	int64_t		 migrate_timeout_ms;	/* 0 = 600000: statement
						   timeout while migrating,
						   lock wait included */
	int		 stmt_cache_max;	/* prepared statements kept
						   per connection: 0 = 256,
						   < 0 = none (all unnamed) */
};

/* One statement for bc_db_commit_with(); everything borrowed. */
struct bc_db_stmt {
	const char		*sql;
	int			 nparams;
	const char *const	*params;
};

/* The session advisory lock bc_db_migrate() holds ("botfleet"). */
#define BC_DB_MIGRATE_LOCK_KEY		7093015921385891188LL

/* Room for any int64_t in decimal, sign and NUL included. */
#define BC_DB_INT64_BUFSZ		24

/*
 * Parameters for bc_db_query() and bc_db_exec(): expands to
 * `count, (const char *const[]){...}`. Each argument is a string or NULL
 * (SQL NULL). With no parameters, pass `0, NULL` instead.
 */
#define BC_DB_P(...)							\
	(int)(sizeof((const char *const[]){ __VA_ARGS__ }) /		\
	    sizeof(const char *)),					\
	(const char *const[]){ __VA_ARGS__ }

struct bc_db;		/* one connection */
struct bc_db_res;	/* one query result */
struct bc_metrics;

/*
 * Connect now (bounded by connect_timeout) and set statement_timeout.
 * conninfo is a libpq connection string or URI (copied); opts may be NULL
 * for the defaults (copied too). Returns a handle the caller frees with
 * bc_db_close(), or NULL with *cause set (caller frees; never contains a
 * password from conninfo).
 */
struct bc_db	*bc_db_open(const char *conninfo, const struct bc_db_opts *,
		    char **cause);

/* Close the connection and free the handle. NULL is a no-op. */
void	bc_db_close(struct bc_db *);

/*
 * Run one statement with nparams text parameters (a NULL entry is SQL
 * NULL). Returns a result the caller frees with bc_db_res_free(), or NULL
 * with *cause set (caller frees); see bc_db_sqlstate() and bc_db_lost().
 */
struct bc_db_res *bc_db_query(struct bc_db *, const char *sql, int nparams,
		    const char *const *params, char **cause);

/*
 * Like bc_db_query() for a statement whose rows are not needed. Stores the
 * number of rows affected in *affected unless it is NULL. 0, or -1 with
 * *cause set.
 */
int	bc_db_exec(struct bc_db *, const char *sql, int nparams,
	    const char *const *params, int64_t *affected, char **cause);

/*
 * Transactions. bc_db_begin() fails if one is already open, or when the
 * database is unavailable (as any call). It sends nothing: the BEGIN goes
 * with the next statement, and an error in it (a lost connection, say)
 * fails that statement's call; after a BEGIN that failed without losing
 * the connection, every call fails with SQLSTATE 25P02 until the
 * rollback, as in a failed transaction. A transaction in which nothing
 * was sent commits and rolls back without a round trip.
 *
 * bc_db_commit() fails (and the transaction is over) when the server
 * rolled it back, for example after an error inside it; when it fails
 * with bc_db_lost() == 1 the outcome is unknown. bc_db_rollback() never
 * fails loudly and is safe with no transaction open: it returns 0, or -1
 * when the rollback could not be sent (the transaction is over either
 * way).
 */
int	bc_db_begin(struct bc_db *, char **cause);
int	bc_db_commit(struct bc_db *, char **cause);

/*
 * Run the n statements of stmts (borrowed for the call; n may be 0) in
 * the open transaction, then COMMIT, all in one round trip: the same
 * effects and errors as bc_db_query() of each in order, then
 * bc_db_commit(), without a wait between them. 0 when every statement
 * and the commit succeeded: then, unless res is NULL, res[i] (an array
 * of n) holds statement i's result, which the caller frees with
 * bc_db_res_free(). Else -1 with *cause (caller frees) the error of the
 * first statement that failed, or of the COMMIT; bc_db_sqlstate(),
 * bc_db_lost() and bc_db_retryable() as for that statement; res[] all
 * NULL; and the transaction over: rolled back, or with an unknown
 * outcome when bc_db_lost() == 1. In a transaction that had already
 * failed, the statements are not sent and the call fails like
 * bc_db_commit() (25P02, rolled back). Bad arguments (a NULL sql, a
 * negative count) roll back and fail.
 */
int	bc_db_commit_with(struct bc_db *, const struct bc_db_stmt *stmts,
	    size_t n, struct bc_db_res **res, char **cause);
int	bc_db_rollback(struct bc_db *);
int	bc_db_in_tx(const struct bc_db *);

/*
 * Queue sql, a statement without parameters ("SAVEPOINT s", "RELEASE
 * SAVEPOINT s"), to go in the open transaction with the next statement
 * sent, in the same round trip and before it (after a pending BEGIN).
 * sql is borrowed until it is sent: pass a string constant. An error in
 * it fails the call that sends it, as that call's own error would. At
 * most 3 wait; bc_db_rollback() drops them, and a commit sends them
 * first. 0, or -1 with *cause (caller frees) when no transaction is open
 * or too many wait.
 */
int	bc_db_defer(struct bc_db *, const char *sql, char **cause);

/*
 * Take back the last statement deferred if it is sql (the same pointer)
 * and still unsent: 1 when it was, else 0.
 */
int	bc_db_defer_cancel(struct bc_db *, const char *sql);

/* Result access. Rows and columns count from 0; NULL results give 0. */
int	bc_db_ntuples(const struct bc_db_res *);
int	bc_db_nfields(const struct bc_db_res *);

/* The value as text: borrowed from the result. NULL for SQL NULL or a row
 * or column out of range. */
const char *bc_db_get(const struct bc_db_res *, int row, int col);

/* 1 if the value is SQL NULL (or out of range), else 0. */
int	bc_db_is_null(const struct bc_db_res *, int row, int col);

/* Typed values: 0, or -1 if NULL, out of range or not of that type. */
int	bc_db_get_int64(const struct bc_db_res *, int row, int col,
	    int64_t *out);
int	bc_db_get_bool(const struct bc_db_res *, int row, int col, int *out);
int	bc_db_get_double(const struct bc_db_res *, int row, int col,
	    double *out);

/* Column number of name, or -1. */
int	bc_db_fnumber(const struct bc_db_res *, const char *name);

void	bc_db_res_free(struct bc_db_res *);

/* Format v in decimal into buf (BC_DB_INT64_BUFSZ bytes), for use as a
 * parameter. Returns buf. */
const char *bc_db_int64(char *buf, int64_t v);

/* SQLSTATE of the last failed call ("23505", "40001", "57014"...) or "".
 * Borrowed, valid until the next call on this handle. */
const char *bc_db_sqlstate(const struct bc_db *);

/* 1 if the last call failed because the connection was lost or is being
 * re-established: the caller may retry its whole transaction later. */
int	bc_db_lost(const struct bc_db *);

/*
 * 1 if the last call failed in a way that running the whole transaction
 * again at once may cure: a serialization failure (40001), a deadlock
 * (40P01), or a cached prepared statement the server had lost or that a
 * table change made stale (it is prepared afresh next time). Else 0.
 */
int	bc_db_retryable(const struct bc_db *);

/*
 * Count this connection's work in reg (borrowed: close the handle before
 * freeing the registry; NULL stops counting). Registers, once per
 * registry:
 *   db_query_duration_seconds   histogram, one observation per round
 *                               trip (a pipeline of statements is one)
 *   db_errors_total{kind}       kind: statement (the server refused it),
 *                               lost (connection lost), timeout (no
 *                               answer in time), unavailable (refused
 *                               during the reconnect backoff)
 *   db_reconnects_total{result} result: ok, failed
 *   db_connected                gauge, 1 while connected
 */
void	bc_db_set_metrics(struct bc_db *, struct bc_metrics *reg);

/* SELECT 1, reconnecting if needed (readiness checks). 0 or -1. */
int	bc_db_ping(struct bc_db *);

/*
 * Apply the migrations in dir: files named NNN_name.sql (three digits, a
 * non-empty name of letters, digits, '_', '-' and '.') in numeric order.
 * Files not ending in .sql, or ending in .sql without a leading digit, are
 * ignored; a .sql file starting with a digit but not of that form (like
 * "12_x.sql"), or two files with the same number, is an error.
 *
 * Under the session advisory lock BC_DB_MIGRATE_LOCK_KEY (so processes
 * starting at once are safe), with statement_timeout raised to
 * migrate_timeout: creates schema_migrations if needed; refuses to run,
 * naming the file, when an applied file's SHA-256 differs from the one
 * recorded; then applies each pending file in its own transaction, with
 * its record in schema_migrations. A file must not contain transaction
 * control (BEGIN, COMMIT) or statements that cannot run in a transaction.
 * A failing file is rolled back and stops the run with the PostgreSQL
 * error and the file name; earlier files stay applied.
 *
 * Must be called outside a transaction. 0, or -1 with *cause set (caller
 * frees). The lock is released on every path.
 */
int	bc_db_migrate(struct bc_db *, const char *dir, char **cause);

#endif /* BOTCOMMON_DB_H */
