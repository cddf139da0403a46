/*
 * Test support: a fresh PostgreSQL database per test on the cluster that
 * tests/run started (BOTFLEET_TEST_PG), and one-line helpers for the
 * queries tests make to check their results.
 *
 *   struct testdb t;
 *
 *   testdb_create(&t, "bc_db_params");
 *   db = testdb_open(&t, NULL);
 *   testdb_exec(db, "CREATE TABLE t (v int)");
 *   assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 0);
 *   bc_db_close(db);
 *   testdb_drop(&t);
 *
 * Every helper fails the running cmocka test (fail_msg) on any error,
 * naming the statement and the server's cause, so callers check nothing.
 * The helpers are not for the code under test: call bc_db_*() directly
 * where an error is the expected outcome.
 */
#ifndef TESTS_UNIT_SUPPORT_TESTDB_H
#define TESTS_UNIT_SUPPORT_TESTDB_H

#include <stdint.h>

struct bc_db;
struct bc_db_opts;

struct testdb {
	char	 name[64];	/* the database, "<prefix>_<pid>_<n>" */
	char	*conninfo;	/* for bc_db_open(); owned, freed by
				   testdb_drop(); a test may replace it
				   with another xmalloc'd string */
};

/* The cluster's conninfo, BOTFLEET_TEST_PG (borrowed). */
const char	*testdb_pg(void);

/* BOTFLEET_TOP "/" rel: a path in the source tree (caller frees). */
char		*testdb_top_path(const char *rel);

/* A new connection to the maintenance database (caller closes). */
struct bc_db	*testdb_admin(void);

/*
 * Create an empty database named after prefix (letters, digits and '_'),
 * the pid and a counter, dropping a leftover of the same name first, and
 * fill in t. Release with testdb_drop().
 */
void		 testdb_create(struct testdb *t, const char *prefix);

/* Drop t's database (forcing its sessions out) and free t->conninfo. */
void		 testdb_drop(struct testdb *t);

/* Drop t's database, or create it again, keeping t as it is. */
void		 testdb_dropdb(const struct testdb *t);
void		 testdb_createdb(const struct testdb *t);

/* Connect to t's database; opts may be NULL (caller closes). */
struct bc_db	*testdb_open(const struct testdb *t,
		    const struct bc_db_opts *opts);

/* Apply the project's migrations, BOTFLEET_TOP/sql. */
void		 testdb_migrate(struct bc_db *db);

/* Run a statement that must succeed. */
void		 testdb_exec(struct bc_db *db, const char *sql);

/*
 * The first column of the first row of a query that must succeed, copied
 * (caller frees), or NULL for SQL NULL and no rows. The "p" form takes
 * parameters like bc_db_query(): BC_DB_P(...).
 */
char		*testdb_query1(struct bc_db *db, const char *sql);
char		*testdb_query1p(struct bc_db *db, const char *sql, int n,
		    const char *const *params);

/* The same value, which must be an integer (a count, a pid...). */
int64_t		 testdb_int(struct bc_db *db, const char *sql);
int64_t		 testdb_intp(struct bc_db *db, const char *sql, int n,
		    const char *const *params);

#endif /* TESTS_UNIT_SUPPORT_TESTDB_H */
