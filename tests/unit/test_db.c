/*
 * db: connecting (bad conninfo, timeouts, no password in errors), queries
 * with parameters, int64, transactions, statement_timeout, SQLSTATEs,
 * reconnect after a terminated backend, a dropped database and a server
 * restart, the client-side deadline on a frozen backend; the prepared
 * statement cache (hits, misses, cap, reconnect, statements the server
 * lost or that went stale) and pipelines (the deferred BEGIN, the commit
 * batch, their errors, timeouts and lost sessions); the metrics (round
 * trip latency, errors by kind, reconnects).
 *
 * Each test works in its own database on the cluster of BOTFLEET_TEST_PG.
 */

#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/metrics.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "support/testdb.h"

#define SECRET	"Sup3rSecretPw"

static char	*logbuf;
static size_t	 loglen;
static FILE	*logmem;

/* Call "SELECT 1" until it works (reconnect), within ms. 0 or -1. */
static int
until_ok(struct bc_db *db, int64_t ms)
{
	int64_t deadline = bc_now_ms() + ms;
	struct bc_db_res *res;
	char *cause = NULL;

	for (;;) {
		res = bc_db_query(db, "SELECT 1", 0, NULL, &cause);
		if (res != NULL) {
			bc_db_res_free(res);
			return 0;
		}
		free(cause);
		cause = NULL;
		if (bc_now_ms() > deadline)
			return -1;
		poll(NULL, 0, 10);
	}
}

/* Terminate the backend of db from another connection. */
static void
terminate(struct bc_db *db)
{
	struct bc_db *admin = testdb_admin();
	struct bc_db_res *res;
	char *pid, *cause = NULL;

	pid = testdb_query1(db, "SELECT pg_backend_pid()");
	assert_non_null(pid);
	res = bc_db_query(admin, "SELECT pg_terminate_backend($1::int)",
	    BC_DB_P(pid), &cause);
	assert_non_null(res);
	assert_string_equal(bc_db_get(res, 0, 0), "t");
	bc_db_res_free(res);
	free(pid);
	bc_db_close(admin);
}

static const char *
logged(void)
{
	fflush(logmem);
	return logbuf != NULL ? logbuf : "";
}

static int
setup(void **state)
{
	(void)state;
	logmem = open_memstream(&logbuf, &loglen);
	log_set_stream(logmem);
	log_init("test_db", LOG_LEVEL_DEBUG, 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_set_stream(NULL);
	/* Keep the log for tests/run's failure report. */
	fputs(logged(), stderr);
	fclose(logmem);
	free(logbuf);
	logbuf = NULL;
	return 0;
}

/* Open with conninfo, expect failure; returns the cause (caller frees). */
static char *
open_fails(const char *conninfo, const struct bc_db_opts *opts)
{
	struct bc_db *db;
	char *cause = NULL;

	db = bc_db_open(conninfo, opts, &cause);
	assert_null(db);
	assert_non_null(cause);
	assert_true(strlen(cause) > 0);
	return cause;
}

static void
test_bad_conninfo(void **state)
{
	char *cause, *ci;

	(void)state;
	cause = open_fails(NULL, NULL);
	free(cause);

	cause = open_fails("host=/nonexistent/dir port=5", NULL);
	assert_non_null(strstr(cause, "connection failed"));
	free(cause);

	cause = open_fails("bogus_option=1", NULL);
	assert_non_null(strstr(cause, "bogus_option"));
	free(cause);

	/* Malformed, with a password: no part of it in the error. */
	cause = open_fails("host=/tmp password=abcd SECRETPART", NULL);
	assert_non_null(strstr(cause, "invalid database connection string"));
	assert_null(strstr(cause, "SECRETPART"));
	free(cause);
	cause = open_fails("postgresql://u:s3cr3tpw d@localhost/db", NULL);
	assert_null(strstr(cause, "s3cr3t"));
	free(cause);

	/* Well formed, the server refuses: no password either. */
	xasprintf(&ci, "%s dbname=bc_no_such_db_%ld password=" SECRET,
	    testdb_pg(), (long)getpid());
	cause = open_fails(ci, NULL);
	assert_non_null(strstr(cause, "does not exist"));
	assert_null(strstr(cause, SECRET));
	free(cause);
	free(ci);
	assert_null(strstr(logged(), SECRET));
}

static void
test_connect_timeout(void **state)
{
	struct bc_db_opts o = { .connect_timeout_ms = 300 };
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int64_t t0, ms;
	char *ci, *cause;
	int s;

	(void)state;
	/* A peer that accepts the TCP connection and never says a word. */
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(listen(s, 4), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	xasprintf(&ci, "host=127.0.0.1 port=%u dbname=x sslmode=disable",
	    (unsigned)ntohs(sin.sin_port));
	t0 = bc_now_ms();
	cause = open_fails(ci, &o);
	ms = bc_now_ms() - t0;
	assert_true(ms >= 250 && ms < 3000);
	assert_non_null(strstr(cause, "timed out"));
	free(cause);
	free(ci);
	close(s);
}

/* Read back the injection attempt and the NULL row, typed. */
static void
check_values(struct bc_db *db, const char *evil)
{
	char b2[BC_DB_INT64_BUFSZ], *cause = NULL;
	struct bc_db_res *res;
	int64_t n;
	double d;
	int b;

	res = bc_db_query(db, "SELECT id, s, f, d FROM t WHERE s = $1",
	    BC_DB_P(evil), &cause);
	assert_non_null(res);
	assert_int_equal(bc_db_ntuples(res), 1);
	assert_int_equal(bc_db_nfields(res), 4);
	assert_string_equal(bc_db_get(res, 0, 1), evil);
	assert_int_equal(bc_db_get_int64(res, 0, 0, &n), 0);
	assert_true(n == INT64_C(1) << 40);
	assert_int_equal(bc_db_get_bool(res, 0, 2, &b), 0);
	assert_int_equal(b, 1);
	assert_int_equal(bc_db_get_double(res, 0, 3, &d), 0);
	assert_true(d == 2.5);
	assert_int_equal(bc_db_fnumber(res, "d"), 3);
	assert_int_equal(bc_db_fnumber(res, "nope"), -1);
	/* Out of range and wrong types. */
	assert_null(bc_db_get(res, 1, 0));
	assert_null(bc_db_get(res, 0, 4));
	assert_null(bc_db_get(res, -1, 0));
	assert_int_equal(bc_db_get_int64(res, 0, 1, &n), -1);
	assert_int_equal(bc_db_get_bool(res, 0, 1, &b), -1);
	assert_int_equal(bc_db_get_int64(res, 5, 0, &n), -1);
	bc_db_res_free(res);

	res = bc_db_query(db, "SELECT id, s, f FROM t WHERE id = $1",
	    BC_DB_P(bc_db_int64(b2, INT64_MIN)), &cause);
	assert_non_null(res);
	assert_int_equal(bc_db_get_int64(res, 0, 0, &n), 0);
	assert_true(n == INT64_MIN);
	assert_null(bc_db_get(res, 0, 1));
	assert_int_equal(bc_db_is_null(res, 0, 1), 1);
	assert_int_equal(bc_db_get_int64(res, 0, 1, &n), -1);
	assert_int_equal(bc_db_get_bool(res, 0, 2, &b), -1);
	bc_db_res_free(res);
}

/* Values past 2^31 and errors; the connection stays usable. */
static void
check_errors(struct bc_db *db)
{
	struct bc_db_res *res;
	char *cause = NULL;
	int64_t n;

	/* Values beyond 2^31 come back exactly, via bigint arithmetic. */
	res = bc_db_query(db, "SELECT $1::bigint * 2",
	    BC_DB_P("4611686018427387903"), &cause);
	assert_non_null(res);
	assert_int_equal(bc_db_get_int64(res, 0, 0, &n), 0);
	assert_true(n == INT64_C(9223372036854775806));
	bc_db_res_free(res);

	/* Errors: too few parameters, bad syntax, bad arguments. */
	assert_null(bc_db_query(db, "SELECT $1::int + $2::int", BC_DB_P("1"),
	    &cause));
	assert_non_null(cause);
	assert_string_equal(bc_db_sqlstate(db), "08P01");
	assert_int_equal(bc_db_lost(db), 0);
	free(cause);
	assert_int_equal(bc_db_exec(db, "SELEC 1", 0, NULL, NULL, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "42601");
	assert_non_null(strstr(cause, "syntax error"));
	free(cause);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 1, NULL, NULL, &cause), -1);
	free(cause);
	assert_int_equal(bc_db_exec(db, NULL, 0, NULL, NULL, &cause), -1);
	free(cause);
	/* Still usable, and the table survived the injection attempt. */
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 3);
	assert_string_equal(bc_db_sqlstate(db), "");
}

static void
test_params(void **state)
{
	const char *evil = "x'); DROP TABLE t; -- \"; SELECT 1;";
	char b1[BC_DB_INT64_BUFSZ], b2[BC_DB_INT64_BUFSZ];
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;
	int64_t aff;

	(void)state;
	testdb_create(&t, "bc_db_params");
	db = testdb_open(&t, NULL);
	testdb_exec(db, "CREATE TABLE t (id bigint PRIMARY KEY, s text,"
	    " f boolean, d double precision)");
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES ($1, $2, $3,"
	    " $4), ($5, NULL, NULL, NULL)", BC_DB_P(bc_db_int64(b1,
	    INT64_C(1) << 40), evil, "true", "2.5", bc_db_int64(b2,
	    INT64_MIN)), &aff, &cause), 0);
	assert_int_equal(aff, 2);
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES ($1, $2)",
	    BC_DB_P("3000000000", NULL), NULL, &cause), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 3);

	check_values(db, evil);
	check_errors(db);
	bc_db_close(db);
	testdb_drop(&t);
}

static void
test_transactions(void **state)
{
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;

	(void)state;
	testdb_create(&t, "bc_db_tx");
	db = testdb_open(&t, NULL);
	testdb_exec(db, "CREATE TABLE t (v int UNIQUE)");
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(bc_db_rollback(db), 0);

	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_in_tx(db), 1);
	assert_int_equal(bc_db_begin(db, &cause), -1);
	free(cause);
	testdb_exec(db, "INSERT INTO t VALUES (1)");
	assert_int_equal(bc_db_rollback(db), 0);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 0);

	assert_int_equal(bc_db_begin(db, &cause), 0);
	testdb_exec(db, "INSERT INTO t VALUES (1)");
	testdb_exec(db, "INSERT INTO t VALUES (2)");
	assert_int_equal(bc_db_commit(db, &cause), 0);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 2);
	assert_int_equal(bc_db_commit(db, &cause), -1);
	free(cause);

	/* An error inside: COMMIT reports the rollback; nothing is kept. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	testdb_exec(db, "INSERT INTO t VALUES (3)");
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES (1)", 0, NULL,
	    NULL, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "23505");
	free(cause);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	assert_string_equal(bc_db_sqlstate(db), "25P02");
	free(cause);
	assert_int_equal(bc_db_commit(db, &cause), -1);
	assert_non_null(strstr(cause, "rolled back"));
	free(cause);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 2);

	bc_db_close(db);
	testdb_drop(&t);
}

static void
test_unique_violation(void **state)
{
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;

	(void)state;
	testdb_create(&t, "bc_db_unique");
	db = testdb_open(&t, NULL);
	testdb_exec(db, "CREATE TABLE u (k text PRIMARY KEY)");
	assert_int_equal(bc_db_exec(db, "INSERT INTO u VALUES ($1)",
	    BC_DB_P("a"), NULL, &cause), 0);
	assert_int_equal(bc_db_exec(db, "INSERT INTO u VALUES ($1)",
	    BC_DB_P("a"), NULL, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "23505");
	assert_int_equal(bc_db_lost(db), 0);
	assert_non_null(strstr(cause, "23505"));
	free(cause);
	bc_db_close(db);
	testdb_drop(&t);
}

static void
test_statement_timeout(void **state)
{
	struct bc_db_opts o = { .statement_timeout_ms = 200 };
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL, *v;
	int64_t t0, ms;

	(void)state;
	testdb_create(&t, "bc_db_timeout");
	db = testdb_open(&t, &o);
	v = testdb_query1(db, "SHOW statement_timeout");
	assert_string_equal(v, "200ms");
	free(v);
	t0 = bc_now_ms();
	assert_int_equal(bc_db_exec(db, "SELECT pg_sleep(5)", 0, NULL, NULL,
	    &cause), -1);
	ms = bc_now_ms() - t0;
	assert_true(ms >= 150 && ms < 4000);
	assert_string_equal(bc_db_sqlstate(db), "57014");
	assert_int_equal(bc_db_lost(db), 0);
	assert_non_null(strstr(cause, "statement timeout"));
	free(cause);
	assert_int_equal(testdb_int(db, "SELECT 41 + 1"), 42);
	assert_int_equal(bc_db_ping(db), 0);
	bc_db_close(db);
	testdb_drop(&t);
}

static void
test_reconnect_terminated(void **state)
{
	struct bc_db_opts o = { .statement_timeout_ms = 1500,
	    .backoff_initial_ms = 10, .backoff_max_ms = 50 };
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL, *v;
	int64_t pid1, pid2;

	(void)state;
	testdb_create(&t, "bc_db_terminate");
	db = testdb_open(&t, &o);
	pid1 = testdb_int(db, "SELECT pg_backend_pid()");
	terminate(db);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	assert_int_equal(bc_db_lost(db), 1);
	/* The server's last words are kept. */
	assert_string_equal(bc_db_sqlstate(db), "57P01");
	assert_non_null(strstr(cause, "administrator command"));
	free(cause);
	assert_int_equal(until_ok(db, 10000), 0);
	assert_int_equal(bc_db_lost(db), 0);
	pid2 = testdb_int(db, "SELECT pg_backend_pid()");
	assert_true(pid1 != pid2);
	/* statement_timeout is set again on the new session. */
	v = testdb_query1(db, "SHOW statement_timeout");
	assert_string_equal(v, "1500ms");
	free(v);
	assert_non_null(strstr(logged(), "reconnected to database"));
	bc_db_close(db);
	testdb_drop(&t);
}

static void
test_lost_inside_transaction(void **state)
{
	struct bc_db_opts o = { .backoff_initial_ms = 10,
	    .backoff_max_ms = 50 };
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;

	(void)state;
	testdb_create(&t, "bc_db_losttx");
	db = testdb_open(&t, &o);
	testdb_exec(db, "CREATE TABLE t (v int)");
	assert_int_equal(bc_db_begin(db, &cause), 0);
	testdb_exec(db, "INSERT INTO t VALUES (1)");
	terminate(db);
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES (2)", 0, NULL,
	    NULL, &cause), -1);
	assert_int_equal(bc_db_lost(db), 1);
	free(cause);
	/* No silent reconnect in the middle of the transaction. */
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES (3)", 0, NULL,
	    NULL, &cause), -1);
	assert_int_equal(bc_db_lost(db), 1);
	assert_non_null(strstr(cause, "roll back"));
	free(cause);
	assert_int_equal(bc_db_in_tx(db), 1);
	assert_int_equal(bc_db_rollback(db), 0);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(until_ok(db, 10000), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 0);

	/* The same with COMMIT: it fails and ends the transaction. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	testdb_exec(db, "INSERT INTO t VALUES (4)");
	terminate(db);
	assert_int_equal(bc_db_commit(db, &cause), -1);
	assert_int_equal(bc_db_lost(db), 1);
	free(cause);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(until_ok(db, 10000), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 0);
	bc_db_close(db);
	testdb_drop(&t);
}

static void
test_backoff_fail_fast(void **state)
{
	struct bc_db_opts o = { .backoff_initial_ms = 400,
	    .backoff_max_ms = 400 };
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL, *ci;

	(void)state;
	testdb_create(&t, "bc_db_backoff");
	xasprintf(&ci, "%s password=" SECRET, t.conninfo);
	free(t.conninfo);
	t.conninfo = ci;
	db = testdb_open(&t, &o);
	/* The database goes away (and our backend with it). */
	testdb_dropdb(&t);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	assert_int_equal(bc_db_lost(db), 1);
	free(cause);
	/* Reconnect attempt fails, then calls fail fast. */
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	assert_int_equal(bc_db_lost(db), 1);
	assert_non_null(strstr(cause, "does not exist"));
	assert_null(strstr(cause, SECRET));
	free(cause);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	assert_int_equal(bc_db_lost(db), 1);
	assert_non_null(strstr(cause, "database unavailable (retrying in "));
	free(cause);
	assert_int_equal(bc_db_ping(db), -1);
	/* Back: a later call succeeds. */
	testdb_createdb(&t);
	assert_int_equal(until_ok(db, 10000), 0);
	assert_int_equal(bc_db_ping(db), 0);
	assert_null(strstr(logged(), SECRET));
	assert_null(strstr(logged(), "dbname="));
	bc_db_close(db);
	testdb_drop(&t);
}

static void
test_server_restart(void **state)
{
	struct bc_db_opts o = { .backoff_initial_ms = 10,
	    .backoff_max_ms = 100 };
	const char *top, *dir;
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL, *cmd;

	(void)state;
	top = getenv("BOTFLEET_TOP");
	dir = getenv("BOTFLEET_TEST_PGDIR");
	assert_non_null(top);
	assert_non_null(dir);
	testdb_create(&t, "bc_db_restart");
	db = testdb_open(&t, &o);
	testdb_exec(db, "CREATE TABLE t (v int)");
	testdb_exec(db, "INSERT INTO t VALUES (7)");
	/* The cluster runs without fsync: make the row survive a crash. */
	testdb_exec(db, "CHECKPOINT");
	xasprintf(&cmd, "'%s/tests/lib/pgtmp' restart '%s' >/dev/null", top,
	    dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	assert_int_equal(bc_db_lost(db), 1);
	free(cause);
	assert_int_equal(until_ok(db, 20000), 0);
	assert_int_equal(testdb_int(db, "SELECT v FROM t"), 7);
	bc_db_close(db);
	testdb_drop(&t);
}

#define BIG	(16 * 1024 * 1024)

static void
test_frozen_backend(void **state)
{
	struct bc_db_opts o = { .statement_timeout_ms = 300,
	    .connect_timeout_ms = 300, .backoff_initial_ms = 10,
	    .backoff_max_ms = 50 };
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL, *big;
	int64_t pid, t0, ms;
	int rc;

	(void)state;
	testdb_create(&t, "bc_db_frozen");
	db = testdb_open(&t, &o);
	pid = testdb_int(db, "SELECT pg_backend_pid()");
	/* A backend that never answers: only the client deadline helps. */
	assert_int_equal(kill((pid_t)pid, SIGSTOP), 0);
	t0 = bc_now_ms();
	rc = bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause);
	ms = bc_now_ms() - t0;
	kill((pid_t)pid, SIGCONT);
	assert_int_equal(rc, -1);
	assert_int_equal(bc_db_lost(db), 1);
	assert_non_null(strstr(cause, "no answer within"));
	assert_true(ms >= 500 && ms < 5000);
	free(cause);
	assert_int_equal(until_ok(db, 10000), 0);

	/* Again with a statement larger than the socket buffers: sending
	 * it must not block past the deadline either. */
	pid = testdb_int(db, "SELECT pg_backend_pid()");
	big = xmalloc(BIG);
	memset(big, 'x', BIG - 1);
	big[BIG - 1] = '\0';
	assert_int_equal(kill((pid_t)pid, SIGSTOP), 0);
	t0 = bc_now_ms();
	rc = bc_db_exec(db, "SELECT length($1)", BC_DB_P(big), NULL, &cause);
	ms = bc_now_ms() - t0;
	kill((pid_t)pid, SIGCONT);
	free(big);
	assert_int_equal(rc, -1);
	assert_int_equal(bc_db_lost(db), 1);
	assert_true(ms >= 500 && ms < 5000);
	free(cause);
	assert_int_equal(until_ok(db, 10000), 0);
	bc_db_close(db);
	testdb_drop(&t);
}

/* ------------------------------------------------------------ pipelines */

/* Executions of the prepared statement whose text is sql, or -1 when it
 * is not prepared on db's session. */
static int64_t
prepared_runs(struct bc_db *db, const char *sql)
{
	return testdb_intp(db, "SELECT coalesce(max(generic_plans + "
	    "custom_plans), -1) FROM pg_prepared_statements"
	    " WHERE statement = $1", BC_DB_P(sql));
}

/* The statements prepared on db's session. */
static int64_t
prepared_count(struct bc_db *db)
{
	return testdb_int(db, "SELECT count(*) FROM pg_prepared_statements");
}

/* Run "SELECT $1::int + 1" with 41; it must give 42. */
static void
add_one(struct bc_db *db)
{
	assert_int_equal(testdb_intp(db, "SELECT $1::int + 1", BC_DB_P("41")),
	    42);
}

static void
test_stmt_cache(void **state)
{
	struct bc_db_opts cap = { .stmt_cache_max = 2 };
	struct bc_db_opts off = { .stmt_cache_max = -1 };
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;

	(void)state;
	testdb_create(&t, "bc_db_cache");
	db = testdb_open(&t, NULL);
	/* A miss prepares, hits reuse the one statement. */
	assert_int_equal(prepared_runs(db, "SELECT $1::int + 1"), -1);
	add_one(db);
	add_one(db);
	add_one(db);
	assert_int_equal(prepared_runs(db, "SELECT $1::int + 1"), 3);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM "
	    "pg_prepared_statements WHERE statement = 'SELECT $1::int + 1'"),
	    1);
	/* The same text with another parameter count: unnamed, the same
	 * error as ever. */
	assert_null(bc_db_query(db, "SELECT $1::int + 1", 0, NULL, &cause));
	assert_string_equal(bc_db_sqlstate(db), "08P01");
	free(cause);
	assert_int_equal(prepared_runs(db, "SELECT $1::int + 1"), 3);
	/* A statement that does not parse is not kept (and fails again). */
	assert_int_equal(bc_db_exec(db, "SELEC 2", 0, NULL, NULL, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "42601");
	free(cause);
	assert_int_equal(bc_db_exec(db, "SELEC 2", 0, NULL, NULL, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "42601");
	free(cause);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM "
	    "pg_prepared_statements WHERE statement = 'SELEC 2'"), 0);
	/* DEALLOCATE through the module empties the cache. */
	testdb_exec(db, "DEALLOCATE ALL");
	add_one(db);
	assert_int_equal(prepared_runs(db, "SELECT $1::int + 1"), 1);
	bc_db_close(db);

	/* At the cap (set_config and one more), the rest run unnamed. */
	db = testdb_open(&t, &cap);
	add_one(db);
	assert_int_equal(testdb_int(db, "SELECT 7"), 7);
	assert_int_equal(prepared_count(db), 2);
	assert_int_equal(prepared_runs(db, "SELECT $1::int + 1"), 1);
	assert_int_equal(prepared_runs(db, "SELECT 7"), -1);
	bc_db_close(db);
	/* Off: nothing is prepared. */
	db = testdb_open(&t, &off);
	add_one(db);
	add_one(db);
	assert_int_equal(prepared_count(db), 0);
	bc_db_close(db);
	testdb_drop(&t);
}

static void
test_stmt_cache_reconnect(void **state)
{
	struct bc_db_opts o = { .backoff_initial_ms = 10,
	    .backoff_max_ms = 50 };
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;

	(void)state;
	testdb_create(&t, "bc_db_cachere");
	db = testdb_open(&t, &o);
	add_one(db);
	add_one(db);
	assert_int_equal(prepared_runs(db, "SELECT $1::int + 1"), 2);
	terminate(db);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	assert_int_equal(bc_db_lost(db), 1);
	free(cause);
	assert_int_equal(until_ok(db, 10000), 0);
	/* A new session has none of them; the cache knows it. Inside a
	 * transaction a stale name could not be retried: it must work.
	 * (Nothing cached before runs first: its retry would hide it.) */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	add_one(db);
	assert_int_equal(bc_db_commit(db, &cause), 0);
	assert_int_equal(prepared_runs(db, "SELECT $1::int + 1"), 1);
	/* Its own set_config was not stale either: one clean reconnect. */
	assert_null(strstr(logged(), "reconnect failed"));
	bc_db_close(db);
	testdb_drop(&t);
}

#define DEALLOC_HIDDEN	"DO $$ BEGIN EXECUTE 'DEALLOCATE ALL'; END $$"

/* Insert v into t in a transaction of its own, which must commit. */
static void
insert_tx(struct bc_db *db, const char *v)
{
	char *cause = NULL;

	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES ($1)",
	    BC_DB_P(v), NULL, &cause), 0);
	assert_int_equal(bc_db_commit(db, &cause), 0);
}

static void
test_pipeline_begin_error(void **state)
{
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;

	(void)state;
	testdb_create(&t, "bc_db_beginerr");
	db = testdb_open(&t, NULL);
	testdb_exec(db, "CREATE TABLE t (v int)");
	insert_tx(db, "1");

	/* The server forgets the cached BEGIN behind the module's back:
	 * the BEGIN sent with the INSERT fails, and fails the INSERT. */
	testdb_exec(db, DEALLOC_HIDDEN);
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES ($1)",
	    BC_DB_P("2"), NULL, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "26000");
	assert_int_equal(bc_db_lost(db), 0);
	assert_int_equal(bc_db_retryable(db), 1);
	free(cause);
	/* No transaction began, yet nothing runs in autocommit until the
	 * rollback; the commit fails. */
	assert_int_equal(bc_db_in_tx(db), 1);
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES ($1)",
	    BC_DB_P("3"), NULL, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "25P02");
	assert_int_equal(bc_db_retryable(db), 0);
	free(cause);
	assert_int_equal(bc_db_commit(db, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "25P02");
	assert_non_null(strstr(cause, "rolled back"));
	free(cause);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 1);

	/* The same, ended by a rollback; then everything works again. */
	insert_tx(db, "4");
	testdb_exec(db, DEALLOC_HIDDEN);
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES ($1)",
	    BC_DB_P("8"), NULL, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "26000");
	free(cause);
	assert_int_equal(bc_db_rollback(db), 0);
	assert_int_equal(bc_db_in_tx(db), 0);
	insert_tx(db, "5");
	assert_int_equal(testdb_int(db, "SELECT sum(v) FROM t"), 10);

	/* Outside a transaction a forgotten statement is prepared again
	 * and run once, transparently. */
	testdb_exec(db, DEALLOC_HIDDEN);
	assert_int_equal(testdb_int(db, "SELECT sum(v) FROM t"), 10);
	bc_db_close(db);
	testdb_drop(&t);
}

static void
test_stale_plan(void **state)
{
	struct bc_db_res *res;
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;

	(void)state;
	testdb_create(&t, "bc_db_stale");
	db = testdb_open(&t, NULL);
	testdb_exec(db, "CREATE TABLE s (a int)");
	testdb_exec(db, "INSERT INTO s VALUES (1)");
	res = bc_db_query(db, "SELECT * FROM s", 0, NULL, &cause);
	assert_int_equal(bc_db_nfields(res), 1);
	bc_db_res_free(res);
	/* The result type changes: outside a transaction, transparent. */
	testdb_exec(db, "ALTER TABLE s ADD COLUMN b int DEFAULT 7");
	res = bc_db_query(db, "SELECT * FROM s", 0, NULL, &cause);
	assert_non_null(res);
	assert_int_equal(bc_db_nfields(res), 2);
	assert_string_equal(bc_db_get(res, 0, 1), "7");
	bc_db_res_free(res);
	/* Inside one: the call fails, retryable; the next run works. */
	testdb_exec(db, "ALTER TABLE s ADD COLUMN c int");
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    0);
	assert_null(bc_db_query(db, "SELECT * FROM s", 0, NULL, &cause));
	assert_string_equal(bc_db_sqlstate(db), "0A000");
	assert_int_equal(bc_db_retryable(db), 1);
	assert_int_equal(bc_db_lost(db), 0);
	free(cause);
	assert_int_equal(bc_db_rollback(db), 0);
	assert_int_equal(bc_db_begin(db, &cause), 0);
	res = bc_db_query(db, "SELECT * FROM s", 0, NULL, &cause);
	assert_non_null(res);
	assert_int_equal(bc_db_nfields(res), 3);
	bc_db_res_free(res);
	assert_int_equal(bc_db_commit(db, &cause), 0);
	bc_db_close(db);
	testdb_drop(&t);
}

#define INS_C	"INSERT INTO c (v) VALUES ($1) RETURNING id"

static void
check_commit_batch_error(struct bc_db *db)
{
	const char *const px[] = { "x" }, *const pa[] = { "a" },
	    *const pz[] = { "z" };
	struct bc_db_stmt s[3] = { { INS_C, 1, px }, { INS_C, 1, pa },
	    { INS_C, 1, pz } };
	struct bc_db_res *res[3];
	char *cause = NULL;

	/* The second fails: nothing of the transaction stays. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_exec(db, INS_C, BC_DB_P("w"), NULL, &cause),
	    0);
	assert_int_equal(bc_db_commit_with(db, s, 3, res, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "23505");
	assert_non_null(strstr(cause, "duplicate key"));
	free(cause);
	assert_int_equal(bc_db_lost(db), 0);
	assert_int_equal(bc_db_retryable(db), 0);
	assert_null(res[0]);
	assert_null(res[1]);
	assert_null(res[2]);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM c"), 2);
	/* A transaction that had failed: the statements are not sent. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_exec(db, "SELEC", 0, NULL, NULL, &cause), -1);
	free(cause);
	assert_int_equal(bc_db_commit_with(db, s, 1, res, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "25P02");
	assert_non_null(strstr(cause, "rolled back"));
	free(cause);
	assert_null(res[0]);
	/* Bad arguments roll back. */
	s[0].sql = NULL;
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_exec(db, INS_C, BC_DB_P("v"), NULL, &cause),
	    0);
	assert_int_equal(bc_db_commit_with(db, s, 1, NULL, &cause), -1);
	free(cause);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM c"), 2);
	/* A serialization failure in the batch: retryable. */
	s[0].sql = "DO $$ BEGIN RAISE EXCEPTION 'c' USING ERRCODE = '40001';"
	    " END $$";
	s[0].nparams = 0;
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_commit_with(db, s, 1, NULL, &cause), -1);
	assert_int_equal(bc_db_retryable(db), 1);
	free(cause);
	assert_int_equal(bc_db_in_tx(db), 0);
}

static void
test_commit_with(void **state)
{
	const char *const pa[] = { "a" }, *const pb[] = { "b" };
	struct bc_db_stmt s[2] = { { INS_C, 1, pa }, { INS_C, 1, pb } };
	struct bc_db_res *res[2];
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;
	int64_t id;

	(void)state;
	testdb_create(&t, "bc_db_commitw");
	db = testdb_open(&t, NULL);
	testdb_exec(db, "CREATE TABLE c (id serial PRIMARY KEY,"
	    " v text UNIQUE)");
	assert_int_equal(bc_db_commit_with(db, s, 2, res, &cause), -1);
	assert_string_equal(cause, "no transaction is open");
	free(cause);
	/* BEGIN, both INSERTs and COMMIT at once; results in order. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_commit_with(db, s, 2, res, &cause), 0);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(bc_db_get_int64(res[0], 0, 0, &id), 0);
	assert_true(id == 1);
	assert_int_equal(bc_db_get_int64(res[1], 0, 0, &id), 0);
	assert_true(id == 2);
	bc_db_res_free(res[0]);
	bc_db_res_free(res[1]);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM c"), 2);
	/* Nothing sent: nothing to commit, no statement needed. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_commit_with(db, NULL, 0, NULL, &cause), 0);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_rollback(db), 0);
	assert_int_equal(bc_db_in_tx(db), 0);
	check_commit_batch_error(db);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM c"), 2);
	bc_db_close(db);
	testdb_drop(&t);
}

static void
test_pipeline_timeout(void **state)
{
	struct bc_db_opts o = { .statement_timeout_ms = 400 };
	struct bc_db_stmt slow[2] = { { "SELECT pg_sleep(0.25)", 0, NULL },
	    { "SELECT pg_sleep(0.25)", 0, NULL } };
	struct bc_db_stmt sleep5 = { "SELECT pg_sleep(5)", 0, NULL };
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;
	int64_t t0, ms;

	(void)state;
	testdb_create(&t, "bc_db_pipetmo");
	db = testdb_open(&t, &o);
	testdb_exec(db, "CREATE TABLE t (v int)");
	/* Each statement of a pipeline has its own timeout. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_commit_with(db, slow, 2, NULL, &cause), 0);
	/* With the pending BEGIN. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	t0 = bc_now_ms();
	assert_int_equal(bc_db_exec(db, "SELECT pg_sleep(5)", 0, NULL, NULL,
	    &cause), -1);
	ms = bc_now_ms() - t0;
	assert_true(ms >= 350 && ms < 4000);
	assert_string_equal(bc_db_sqlstate(db), "57014");
	assert_int_equal(bc_db_lost(db), 0);
	free(cause);
	assert_int_equal(bc_db_in_tx(db), 1);
	assert_int_equal(bc_db_commit(db, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "25P02");
	free(cause);
	/* In the commit batch: rolled back, the connection still fine. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	testdb_exec(db, "INSERT INTO t VALUES (1)");
	t0 = bc_now_ms();
	assert_int_equal(bc_db_commit_with(db, &sleep5, 1, NULL, &cause), -1);
	ms = bc_now_ms() - t0;
	assert_true(ms >= 350 && ms < 4000);
	assert_string_equal(bc_db_sqlstate(db), "57014");
	assert_int_equal(bc_db_lost(db), 0);
	free(cause);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 0);
	bc_db_close(db);
	testdb_drop(&t);
}

static void
test_pipeline_lost(void **state)
{
	struct bc_db_opts o = { .backoff_initial_ms = 10,
	    .backoff_max_ms = 50 };
	const char *const p1[] = { "1" };
	struct bc_db_stmt s[2] = {
	    { "SELECT pg_terminate_backend(pg_backend_pid())", 0, NULL },
	    { "INSERT INTO t VALUES ($1)", 1, p1 } };
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;

	(void)state;
	testdb_create(&t, "bc_db_pipelost");
	db = testdb_open(&t, &o);
	testdb_exec(db, "CREATE TABLE t (v int)");
	/* The session dies in the middle of the commit pipeline. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	testdb_exec(db, "INSERT INTO t VALUES (2)");
	assert_int_equal(bc_db_commit_with(db, s, 2, NULL, &cause), -1);
	assert_int_equal(bc_db_lost(db), 1);
	assert_string_equal(bc_db_sqlstate(db), "57P01");
	assert_non_null(strstr(cause, "connection lost"));
	free(cause);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_int_equal(until_ok(db, 10000), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 0);
	/* Dead before the BEGIN went out: the statement carrying it fails,
	 * and the transaction stays lost until the rollback. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	terminate(db);
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES (3)", 0, NULL,
	    NULL, &cause), -1);
	assert_int_equal(bc_db_lost(db), 1);
	assert_string_equal(bc_db_sqlstate(db), "57P01");
	free(cause);
	assert_int_equal(bc_db_in_tx(db), 1);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	assert_non_null(strstr(cause, "roll back"));
	free(cause);
	assert_int_equal(bc_db_rollback(db), 0);
	assert_int_equal(until_ok(db, 10000), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 0);
	/* COPY is not supported: the connection is dropped, not hung. */
	assert_int_equal(bc_db_exec(db, "COPY t FROM STDIN", 0, NULL, NULL,
	    &cause), -1);
	assert_int_equal(bc_db_lost(db), 1);
	assert_non_null(strstr(cause, "COPY"));
	free(cause);
	assert_int_equal(until_ok(db, 10000), 0);
	bc_db_close(db);
	testdb_drop(&t);
}

/* What BC_DB_P() hands over, checked. */
static int
count_params(int n, const char *const *p)
{
	return n == 3 && strcmp(p[0], "a") == 0 && p[1] == NULL &&
	    strcmp(p[2], "c") == 0 ? n : -1;
}

static void
test_helpers(void **state)
{
	char buf[BC_DB_INT64_BUFSZ];

	(void)state;
	assert_int_equal(count_params(BC_DB_P("a", NULL, "c")), 3);
	assert_string_equal(bc_db_int64(buf, INT64_MIN),
	    "-9223372036854775808");
	assert_string_equal(bc_db_int64(buf, 0), "0");
	assert_int_equal(bc_db_ntuples(NULL), 0);
	assert_int_equal(bc_db_nfields(NULL), 0);
	assert_null(bc_db_get(NULL, 0, 0));
	assert_int_equal(bc_db_fnumber(NULL, "x"), -1);
	bc_db_res_free(NULL);
	bc_db_close(NULL);
}

/* The value of the series whose line starts with "series " in reg's
 * rendering, or -1 when there is none. */
static double
sample(struct bc_metrics *reg, const char *series)
{
	char *text, *p;
	size_t n = strlen(series);
	double v = -1;

	text = bc_metrics_render(reg, NULL);
	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'),
	    p = p != NULL ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
	free(text);
	return v;
}

static void
test_metrics(void **state)
{
	struct bc_db_opts o = { .statement_timeout_ms = 300,
	    .backoff_initial_ms = 400, .backoff_max_ms = 400 };
	struct bc_metrics *reg;
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;
	double trips;

	(void)state;
	reg = bc_metrics_new();
	testdb_create(&t, "bc_db_metrics");
	db = testdb_open(&t, &o);
	bc_db_set_metrics(db, reg);
	assert_true(sample(reg, "db_connected") == 1);
	/* Registering again (a second handle) shares the families. */
	bc_db_set_metrics(db, reg);
	testdb_exec(db, "CREATE TABLE t (v int PRIMARY KEY)");
	testdb_exec(db, "INSERT INTO t VALUES (1)");
	trips = sample(reg, "db_query_duration_seconds_count");
	assert_true(trips == 2);
	assert_true(sample(reg, "db_query_duration_seconds_bucket{le=\"+Inf\"}")
	    == 2);
	assert_true(sample(reg, "db_query_duration_seconds_sum") > 0);
	/* A transaction of two statements and the commit: two round trips
	 * (BEGIN with the first, the second with COMMIT). */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	testdb_exec(db, "INSERT INTO t VALUES (2)");
	assert_int_equal(bc_db_commit_with(db, &(struct bc_db_stmt){
	    "INSERT INTO t VALUES (3)", 0, NULL }, 1, NULL, &cause), 0);
	assert_true(sample(reg, "db_query_duration_seconds_count") ==
	    trips + 2);
	/* Errors by kind; none before the first. */
	assert_true(sample(reg, "db_errors_total{kind=\"statement\"}") == -1);
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES (1)", 0, NULL,
	    NULL, &cause), -1);
	free(cause);
	assert_int_equal(bc_db_exec(db, "SELECT pg_sleep(5)", 0, NULL, NULL,
	    &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "57014");
	free(cause);
	assert_true(sample(reg, "db_errors_total{kind=\"statement\"}") == 2);
	/* Lost, reconnected. */
	terminate(db);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	free(cause);
	assert_true(sample(reg, "db_errors_total{kind=\"lost\"}") == 1);
	assert_true(sample(reg, "db_connected") == 0);
	assert_int_equal(until_ok(db, 10000), 0);
	assert_true(sample(reg, "db_reconnects_total{result=\"ok\"}") == 1);
	assert_true(sample(reg, "db_connected") == 1);
	/* A failed reconnect, then calls refused during the backoff. */
	testdb_dropdb(&t);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	free(cause);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	free(cause);
	assert_int_equal(bc_db_exec(db, "SELECT 1", 0, NULL, NULL, &cause),
	    -1);
	free(cause);
	assert_true(sample(reg, "db_reconnects_total{result=\"failed\"}") ==
	    1);
	assert_true(sample(reg, "db_errors_total{kind=\"unavailable\"}") == 2);
	assert_true(sample(reg, "db_errors_total{kind=\"lost\"}") == 2);
	/* Detached: nothing more is counted. */
	bc_db_set_metrics(db, NULL);
	testdb_createdb(&t);
	assert_int_equal(until_ok(db, 10000), 0);
	assert_true(sample(reg, "db_reconnects_total{result=\"ok\"}") == 1);
	bc_db_close(db);
	testdb_drop(&t);
	bc_metrics_free(reg);
}

/* Deferred statements go with the next one, in the same round trip. */
static void
test_defer(void **state)
{
	static const char sp_bad[] = "SAVEPOINT a";
	static const char rel_bad[] = "RELEASE SAVEPOINT nosuch";
	struct bc_metrics *reg;
	struct testdb t;
	struct bc_db *db;
	char *cause = NULL;
	double trips;

	(void)state;
	reg = bc_metrics_new();
	testdb_create(&t, "bc_db_defer");
	db = testdb_open(&t, NULL);
	testdb_exec(db, "CREATE TABLE t (v int PRIMARY KEY)");
	bc_db_set_metrics(db, reg);
	/* Outside a transaction: refused. */
	assert_int_equal(bc_db_defer(db, "SAVEPOINT a", &cause), -1);
	assert_non_null(strstr(cause, "no transaction"));
	free(cause);
	cause = NULL;
	trips = sample(reg, "db_query_duration_seconds_count");
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_defer(db, "SAVEPOINT a", &cause), 0);
	testdb_exec(db, "INSERT INTO t VALUES (1)");
	/* BEGIN, SAVEPOINT and the INSERT: one round trip. */
	assert_true(sample(reg, "db_query_duration_seconds_count") ==
	    trips + 1);
	assert_int_equal(bc_db_defer(db, "RELEASE SAVEPOINT a", &cause), 0);
	assert_int_equal(bc_db_defer(db, "SAVEPOINT a", &cause), 0);
	/* A failing statement, then back to the savepoint: the first
	 * insert stays. */
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES (1)", 0, NULL,
	    NULL, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "23505");
	free(cause);
	cause = NULL;
	assert_true(sample(reg, "db_query_duration_seconds_count") ==
	    trips + 2);
	assert_int_equal(bc_db_exec(db, "ROLLBACK TO SAVEPOINT a", 0, NULL,
	    NULL, &cause), 0);
	testdb_exec(db, "INSERT INTO t VALUES (2)");
	/* Too many waiting. */
	assert_int_equal(bc_db_defer(db, "RELEASE SAVEPOINT a", &cause), 0);
	assert_int_equal(bc_db_defer(db, "SAVEPOINT b", &cause), 0);
	assert_int_equal(bc_db_defer(db, "SAVEPOINT c", &cause), 0);
	assert_int_equal(bc_db_defer(db, "SAVEPOINT d", &cause), -1);
	free(cause);
	cause = NULL;
	/* The commit sends them first (a bad one would fail it). */
	assert_int_equal(bc_db_commit(db, &cause), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 2);
	/* A deferred statement that fails fails the call that sends it. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_defer(db, "RELEASE SAVEPOINT nosuch", &cause),
	    0);
	assert_int_equal(bc_db_exec(db, "INSERT INTO t VALUES (3)", 0, NULL,
	    NULL, &cause), -1);
	assert_string_equal(bc_db_sqlstate(db), "3B001");
	free(cause);
	cause = NULL;
	assert_int_equal(bc_db_commit(db, &cause), -1);
	free(cause);
	cause = NULL;
	assert_int_equal(bc_db_in_tx(db), 0);
	/* Rolled back with the rest: dropped. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_defer(db, "RELEASE SAVEPOINT nosuch", &cause),
	    0);
	assert_int_equal(bc_db_rollback(db), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 2);
	/* Taken back while unsent: only the last, by pointer. */
	assert_int_equal(bc_db_begin(db, &cause), 0);
	assert_int_equal(bc_db_defer(db, sp_bad, &cause), 0);
	assert_int_equal(bc_db_defer(db, rel_bad, &cause), 0);
	assert_int_equal(bc_db_defer_cancel(db, sp_bad), 0);
	assert_int_equal(bc_db_defer_cancel(db, rel_bad), 1);
	assert_int_equal(bc_db_defer_cancel(db, rel_bad), 0);
	assert_int_equal(bc_db_defer_cancel(db, sp_bad), 1);
	/* Nothing bad is sent now. */
	testdb_exec(db, "INSERT INTO t VALUES (9)");
	assert_int_equal(bc_db_commit(db, &cause), 0);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 3);
	bc_db_close(db);
	testdb_drop(&t);
	bc_metrics_free(reg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_conninfo, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_connect_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_transactions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unique_violation, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_statement_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_terminated,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_inside_transaction,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_backoff_fail_fast, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_server_restart, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_frozen_backend, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stmt_cache, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stmt_cache_reconnect,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_begin_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_plan, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_commit_with, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_timeout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_pipeline_lost, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_helpers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defer, setup, teardown),
	};

	return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
