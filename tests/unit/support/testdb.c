/*
 * Test support: one fresh database per test, and checked one-value
 * queries. See testdb.h.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <botcommon/db.h>
#include <botcommon/xmalloc.h>

#include "testdb.h"

const char *
testdb_pg(void)
{
	const char *s = getenv("BOTFLEET_TEST_PG");

	if (s == NULL)
		fail_msg("BOTFLEET_TEST_PG is not set: run through tests/run");
	return s;
}

char *
testdb_top_path(const char *rel)
{
	const char *top = getenv("BOTFLEET_TOP");
	char *p;

	if (top == NULL)
		fail_msg("BOTFLEET_TOP is not set: run through tests/run");
	xasprintf(&p, "%s/%s", top, rel);
	return p;
}

struct bc_db *
testdb_admin(void)
{
	struct bc_db *db;
	char *cause = NULL;

	if ((db = bc_db_open(testdb_pg(), NULL, &cause)) == NULL)
		fail_msg("admin connection: %s", cause);
	return db;
}

/* Run the statement the server builds with format('... %I', name). */
static void
admin_ident(const char *fmt_sql, const char *name)
{
	struct bc_db *db = testdb_admin();
	struct bc_db_res *res;
	char *cause = NULL;

	if ((res = bc_db_query(db, fmt_sql, BC_DB_P(name), &cause)) == NULL)
		fail_msg("%s: %s", fmt_sql, cause);
	if (bc_db_exec(db, bc_db_get(res, 0, 0), 0, NULL, NULL, &cause) == -1)
		fail_msg("%s: %s", bc_db_get(res, 0, 0), cause);
	bc_db_res_free(res);
	bc_db_close(db);
}

void
testdb_dropdb(const struct testdb *t)
{
	admin_ident("SELECT format('DROP DATABASE IF EXISTS %I WITH (FORCE)',"
	    " $1::text)", t->name);
}

void
testdb_createdb(const struct testdb *t)
{
	admin_ident("SELECT format('CREATE DATABASE %I', $1::text)", t->name);
}

void
testdb_create(struct testdb *t, const char *prefix)
{
	static unsigned seq;
	int len;

	if (prefix == NULL || prefix[0] == '\0' ||
	    prefix[strspn(prefix, "abcdefghijklmnopqrstuvwxyz0123456789_")]
	    != '\0')
		fail_msg("testdb_create: bad prefix '%s'", prefix ? prefix :
		    "(null)");
	len = snprintf(t->name, sizeof t->name, "%s_%ld_%u", prefix,
	    (long)getpid(), seq++);
	/* PostgreSQL would cut a name past 63 bytes, and we would not. */
	if (len < 0 || (size_t)len >= sizeof t->name)
		fail_msg("testdb_create: prefix '%s' too long", prefix);
	testdb_dropdb(t);
	testdb_createdb(t);
	xasprintf(&t->conninfo, "%s dbname=%s", testdb_pg(), t->name);
}

void
testdb_drop(struct testdb *t)
{
	testdb_dropdb(t);
	free(t->conninfo);
	t->conninfo = NULL;
}

struct bc_db *
testdb_open(const struct testdb *t, const struct bc_db_opts *opts)
{
	struct bc_db *db;
	char *cause = NULL;

	if ((db = bc_db_open(t->conninfo, opts, &cause)) == NULL)
		fail_msg("open %s: %s", t->name, cause);
	return db;
}

void
testdb_migrate(struct bc_db *db)
{
	char *dir, *cause = NULL;

	dir = testdb_top_path("sql");
	if (bc_db_migrate(db, dir, &cause) == -1)
		fail_msg("migrate %s: %s", dir, cause);
	free(dir);
}

void
testdb_exec(struct bc_db *db, const char *sql)
{
	char *cause = NULL;

	if (bc_db_exec(db, sql, 0, NULL, NULL, &cause) == -1)
		fail_msg("%s: %s", sql, cause);
}

char *
testdb_query1p(struct bc_db *db, const char *sql, int n,
    const char *const *params)
{
	struct bc_db_res *res;
	const char *v;
	char *cause = NULL, *s;

	if ((res = bc_db_query(db, sql, n, params, &cause)) == NULL)
		fail_msg("%s: %s", sql, cause);
	v = bc_db_get(res, 0, 0);
	s = v != NULL ? xstrdup(v) : NULL;
	bc_db_res_free(res);
	return s;
}

char *
testdb_query1(struct bc_db *db, const char *sql)
{
	return testdb_query1p(db, sql, 0, NULL);
}

int64_t
testdb_intp(struct bc_db *db, const char *sql, int n,
    const char *const *params)
{
	struct bc_db_res *res;
	char *cause = NULL;
	int64_t v;

	if ((res = bc_db_query(db, sql, n, params, &cause)) == NULL)
		fail_msg("%s: %s", sql, cause);
	if (bc_db_get_int64(res, 0, 0, &v) == -1)
		fail_msg("%s: no integer but '%s'", sql,
		    bc_db_get(res, 0, 0) ? bc_db_get(res, 0, 0) : "(null)");
	bc_db_res_free(res);
	return v;
}

int64_t
testdb_int(struct bc_db *db, const char *sql)
{
	return testdb_intp(db, sql, 0, NULL);
}
