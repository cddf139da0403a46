/*
 * db migrations: apply, re-apply is a no-op, checksum mismatch refused,
 * a failing file rolls back and records nothing, numeric order, bad file
 * names, the advisory lock (held elsewhere, released on every path), two
 * processes migrating at once, and the real sql/ directory: applied twice,
 * and over the original project's database (tests/fixtures).
 *
 * Each test works in its own database on the cluster of BOTFLEET_TEST_PG
 * and writes its migration files under TMPDIR.
 */

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

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

#include <botcommon/crypto.h>
#include <botcommon/db.h>
#include <botcommon/log.h>
#include <botcommon/util.h>
#include <botcommon/xmalloc.h>

#include "support/testdb.h"

/* Does the table exist? */
static int
has_table(struct bc_db *db, const char *name)
{
	char *v;
	int yes;

	v = testdb_query1p(db, "SELECT to_regclass($1) IS NOT NULL",
	    BC_DB_P(name));
	assert_non_null(v);
	yes = strcmp(v, "t") == 0;
	free(v);
	return yes;
}

/* A new empty directory under TMPDIR (caller frees the path). */
static char *
mkdir_tmp(void)
{
	const char *tmp = getenv("TMPDIR");
	char *d;

	xasprintf(&d, "%s/mig.XXXXXX", tmp != NULL ? tmp : "/tmp");
	assert_non_null(mkdtemp(d));
	return d;
}

static void
put(const char *dir, const char *name, const char *text)
{
	char *path;
	FILE *f;

	xasprintf(&path, "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	free(path);
}

static void
rm(const char *dir, const char *name)
{
	char *path;

	xasprintf(&path, "%s/%s", dir, name);
	assert_int_equal(unlink(path), 0);
	free(path);
}

/* Migrate db from dir, which must work. */
static void
migrate_ok(struct bc_db *db, const char *dir)
{
	char *cause = NULL;

	if (bc_db_migrate(db, dir, &cause) == -1)
		fail_msg("migrate %s: %s", dir, cause);
}

/* Is the migrations lock free? (Checked from another session.) */
static int
lock_free(const struct testdb *t)
{
	struct bc_db *other = testdb_open(t, NULL);
	char kbuf[BC_DB_INT64_BUFSZ], *v;
	int yes;

	bc_db_int64(kbuf, BC_DB_MIGRATE_LOCK_KEY);
	v = testdb_query1p(other, "SELECT pg_try_advisory_lock($1::bigint)",
	    BC_DB_P(kbuf));
	assert_non_null(v);
	yes = strcmp(v, "t") == 0;
	free(v);
	bc_db_close(other);
	return yes;
}

static int
setup(void **state)
{
	(void)state;
	log_init("test_migrate", LOG_LEVEL_INFO, 0);
	return 0;
}

/* One test's world: a fresh database, a connection, an empty dir. */
struct mig {
	struct testdb	 t;
	struct bc_db	*db;
	char		*dir;
};

static int
mig_setup(void **state)
{
	struct mig *m = xcalloc(1, sizeof *m);

	testdb_create(&m->t, "bc_mig");
	m->db = testdb_open(&m->t, NULL);
	m->dir = mkdir_tmp();
	*state = m;
	return 0;
}

static int
mig_teardown(void **state)
{
	struct mig *m = *state;

	bc_db_close(m->db);
	free(m->dir);
	testdb_drop(&m->t);
	free(m);
	return 0;
}

#define SQL_A	"CREATE TABLE t (ord serial, v text);\n" \
		"INSERT INTO t (v) VALUES ('a');\n"
#define SQL_B	"INSERT INTO t (v) VALUES ('b');\n"
#define SQL_C	"INSERT INTO t (v) VALUES ('c');\n"

static void
test_apply_and_noop(void **state)
{
	struct mig *m = *state;
	struct bc_db *db = m->db;
	const char *dir = m->dir;
	char sum[BC_SHA256_HEXLEN], *v;

	put(dir, "001_create.sql", SQL_A);
	put(dir, "002_more.sql", SQL_B);
	migrate_ok(db, dir);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 2);
	assert_int_equal(testdb_int(db,
	    "SELECT count(*) FROM schema_migrations"), 2);
	bc_sha256_hex(SQL_A, strlen(SQL_A), sum);
	v = testdb_query1(db, "SELECT checksum FROM schema_migrations"
	    " WHERE version = 1");
	assert_string_equal(v, sum);
	free(v);
	v = testdb_query1(db, "SELECT name FROM schema_migrations"
	    " WHERE version = 2");
	assert_string_equal(v, "002_more.sql");
	free(v);
	assert_int_equal(bc_db_in_tx(db), 0);
	assert_true(lock_free(&m->t));
	/* statement_timeout is back to normal after migrating. */
	v = testdb_query1(db, "SHOW statement_timeout");
	assert_string_equal(v, "10s");
	free(v);

	/* Again: nothing to do. Then one more file: only it runs. */
	migrate_ok(db, dir);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 2);
	put(dir, "003_last.sql", SQL_C);
	migrate_ok(db, dir);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 3);
	assert_int_equal(testdb_int(db,
	    "SELECT count(*) FROM schema_migrations"), 3);
}

static void
test_checksum_mismatch(void **state)
{
	struct mig *m = *state;
	struct bc_db *db = m->db;
	const char *dir = m->dir;
	char *cause = NULL;

	put(dir, "001_create.sql", SQL_A);
	put(dir, "002_more.sql", SQL_B);
	migrate_ok(db, dir);
	/* Edit an applied file (one byte) and add a pending one. */
	put(dir, "002_more.sql", "INSERT INTO t (v) VALUES ('B');\n");
	put(dir, "003_last.sql", SQL_C);
	assert_int_equal(bc_db_migrate(db, dir, &cause), -1);
	assert_non_null(strstr(cause, "002_more.sql"));
	assert_non_null(strstr(cause, "changed"));
	free(cause);
	/* Nothing ran, not even the pending file. */
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 2);
	assert_int_equal(testdb_int(db,
	    "SELECT count(*) FROM schema_migrations"), 2);
	assert_true(lock_free(&m->t));
	/* Restored: the run goes on. */
	put(dir, "002_more.sql", SQL_B);
	migrate_ok(db, dir);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 3);
}

static void
test_bad_sql_rolls_back(void **state)
{
	struct mig *m = *state;
	struct bc_db *db = m->db;
	const char *dir = m->dir;
	char *cause = NULL;

	put(dir, "001_create.sql", SQL_A);
	put(dir, "002_bad.sql", "CREATE TABLE t2 (x int);\n"
	    "INSERT INTO t (v) VALUES ('x');\n"
	    "INSERT INTO nope VALUES (1);\n");
	put(dir, "003_last.sql", SQL_C);
	assert_int_equal(bc_db_migrate(db, dir, &cause), -1);
	assert_non_null(strstr(cause, "002_bad.sql"));
	assert_non_null(strstr(cause, "line 3"));
	assert_non_null(strstr(cause, "\"nope\""));
	assert_string_equal(bc_db_sqlstate(db), "42P01");
	free(cause);
	assert_int_equal(bc_db_in_tx(db), 0);
	/* 001 stays, 002 left no trace, 003 did not run. */
	assert_true(has_table(db, "t"));
	assert_false(has_table(db, "t2"));
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 1);
	assert_int_equal(testdb_int(db,
	    "SELECT max(version) FROM schema_migrations"), 1);
	assert_true(lock_free(&m->t));

	/* A file that commits on its own is refused too. */
	put(dir, "002_bad.sql", "CREATE TABLE t3 (x int);\nCOMMIT;\n");
	assert_int_equal(bc_db_migrate(db, dir, &cause), -1);
	assert_non_null(strstr(cause, "ended its transaction"));
	free(cause);
	assert_int_equal(testdb_int(db,
	    "SELECT max(version) FROM schema_migrations"), 1);
	assert_true(lock_free(&m->t));
	testdb_exec(db, "DROP TABLE t3");

	/* Fixed: 002 and 003 apply. */
	put(dir, "002_bad.sql", SQL_B);
	migrate_ok(db, dir);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 3);
}

static void
test_order(void **state)
{
	struct mig *m = *state;
	struct bc_db *db = m->db;
	const char *dir = m->dir;
	char *v;

	/* Created in reverse, and 010 after 002 numerically. */
	put(dir, "010_c.sql", SQL_C);
	put(dir, "002_b.sql", SQL_B);
	put(dir, "001_a.sql", SQL_A);
	migrate_ok(db, dir);
	v = testdb_query1(db, "SELECT string_agg(v, '' ORDER BY ord) FROM t");
	assert_string_equal(v, "abc");
	free(v);
	v = testdb_query1(db, "SELECT string_agg(version::text, ',' ORDER BY"
	    " version) FROM schema_migrations");
	assert_string_equal(v, "1,2,10");
	free(v);
}

/* Migrating dir fails, naming what; nothing is applied. */
static void
refused(struct bc_db *db, const char *dir, const char *what,
    const char *what2)
{
	char *cause = NULL;

	assert_int_equal(bc_db_migrate(db, dir, &cause), -1);
	assert_non_null(cause);
	if (strstr(cause, what) == NULL ||
	    (what2 != NULL && strstr(cause, what2) == NULL))
		fail_msg("unexpected cause: %s", cause);
	free(cause);
	assert_false(has_table(db, "schema_migrations"));
	assert_false(has_table(db, "t"));
}

static void
test_bad_names(void **state)
{
	static const char *bad[] = { "12_x.sql", "0001_x.sql", "001_.sql",
	    "001x.sql", "001_a b.sql", "1_x.sql" };
	struct mig *m = *state;
	struct bc_db *db = m->db;
	const char *dir = m->dir;
	char *cause = NULL, *sub;
	size_t i;

	put(dir, "001_a.sql", SQL_A);
	for (i = 0; i < BC_NELEM(bad); i++) {
		put(dir, bad[i], SQL_B);
		refused(db, dir, bad[i], NULL);
		rm(dir, bad[i]);
	}
	put(dir, "001_b.sql", SQL_B);
	refused(db, dir, "001_a.sql", "001_b.sql");
	rm(dir, "001_b.sql");
	put(dir, "002_nul.sql", "SELECT 1;");
	xasprintf(&sub, "%s/002_nul.sql", dir);
	{
		FILE *f = fopen(sub, "a");

		assert_non_null(f);
		fputc('\0', f);
		fclose(f);
	}
	refused(db, dir, "002_nul.sql", "NUL");
	assert_int_equal(unlink(sub), 0);
	free(sub);
	xasprintf(&sub, "%s/002_dir.sql", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	refused(db, dir, "002_dir.sql", NULL);
	assert_int_equal(rmdir(sub), 0);
	free(sub);
	xasprintf(&sub, "%s/no-such-dir", dir);
	refused(db, sub, "no-such-dir", NULL);
	free(sub);
	assert_int_equal(bc_db_migrate(db, NULL, &cause), -1);
	free(cause);

	/* Files that are not migrations are ignored. */
	put(dir, "README", "not sql");
	put(dir, "notes.txt", "DROP TABLE t;");
	put(dir, "seed.sql", "DROP TABLE t;");
	put(dir, "001_a.sql~", "DROP TABLE t;");
	put(dir, ".002_x.sql.swp", "DROP TABLE t;");
	migrate_ok(db, dir);
	assert_int_equal(testdb_int(db, "SELECT count(*) FROM t"), 1);
	assert_int_equal(testdb_int(db,
	    "SELECT count(*) FROM schema_migrations"), 1);
}

static void
test_lock_held_elsewhere(void **state)
{
	struct bc_db_opts o = { .migrate_timeout_ms = 300 };
	char kbuf[BC_DB_INT64_BUFSZ], *dir, *cause = NULL, *v;
	struct testdb t;
	struct bc_db *db, *other;
	int64_t t0, ms;

	(void)state;
	testdb_create(&t, "bc_mig_lock");
	db = testdb_open(&t, &o);
	other = testdb_open(&t, NULL);
	dir = mkdir_tmp();
	put(dir, "001_a.sql", SQL_A);
	bc_db_int64(kbuf, BC_DB_MIGRATE_LOCK_KEY);
	assert_int_equal(bc_db_exec(other, "SELECT pg_advisory_lock($1::"
	    "bigint)", BC_DB_P(kbuf), NULL, &cause), 0);
	t0 = bc_now_ms();
	assert_int_equal(bc_db_migrate(db, dir, &cause), -1);
	ms = bc_now_ms() - t0;
	assert_true(ms >= 250 && ms < 5000);
	assert_non_null(strstr(cause, "migrations lock"));
	assert_string_equal(bc_db_sqlstate(db), "57014");
	free(cause);
	assert_false(has_table(db, "t"));
	v = testdb_query1(db, "SHOW statement_timeout");
	assert_string_equal(v, "10s");
	free(v);
	/* Released by the other session: now it runs. */
	assert_int_equal(bc_db_exec(other, "SELECT pg_advisory_unlock($1::"
	    "bigint)", BC_DB_P(kbuf), NULL, &cause), 0);
	migrate_ok(db, dir);
	assert_true(has_table(db, "t"));
	free(dir);
	bc_db_close(other);
	bc_db_close(db);
	testdb_drop(&t);
}

/* Child: wait for the go byte, migrate, exit 0 or 1. */
static void
migrate_child(const struct testdb *t, const char *dir, int go)
{
	struct bc_db *db;
	char *cause = NULL, c;

	if ((db = bc_db_open(t->conninfo, NULL, &cause)) == NULL) {
		fprintf(stderr, "child: %s\n", cause);
		_exit(1);
	}
	if (read(go, &c, 1) != 1)
		_exit(1);
	if (bc_db_migrate(db, dir, &cause) == -1) {
		fprintf(stderr, "child %ld: %s\n", (long)getpid(), cause);
		_exit(1);
	}
	bc_db_close(db);
	_exit(0);
}

/* Reap pid within ms, killing it if it is late. Its exit status or -1. */
static int
reap(pid_t pid, int64_t ms)
{
	int64_t deadline = bc_now_ms() + ms;
	int st;

	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (bc_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		poll(NULL, 0, 20);
	}
}

#define NCHILD	3

static void
test_concurrent(void **state)
{
	char *dir, *v;
	struct testdb t;
	struct bc_db *db;
	pid_t pid[NCHILD];
	int go[2], i, rc[NCHILD];

	(void)state;
	testdb_create(&t, "bc_mig_concurrent");
	dir = mkdir_tmp();
	/* The sleep widens the window in which a second runner could
	 * start the same file; correctness does not depend on it. */
	put(dir, "001_once.sql", "CREATE TABLE once (x int);\n"
	    "SELECT pg_sleep(0.3);\n"
	    "INSERT INTO once VALUES (1);\n");
	put(dir, "002_twice.sql", "INSERT INTO once VALUES (2);\n");
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	for (i = 0; i < NCHILD; i++) {
		assert_true((pid[i] = fork()) != -1);
		if (pid[i] == 0) {
			close(go[1]);
			migrate_child(&t, dir, go[0]);
		}
	}
	close(go[0]);
	/* Release them all at once. */
	assert_int_equal(write(go[1], "ggg", NCHILD), NCHILD);
	close(go[1]);
	for (i = 0; i < NCHILD; i++)
		rc[i] = reap(pid[i], 60000);
	for (i = 0; i < NCHILD; i++)
		assert_int_equal(rc[i], 0);
	db = testdb_open(&t, NULL);
	v = testdb_query1(db, "SELECT string_agg(x::text, ',' ORDER BY x)"
	    " FROM once");
	assert_string_equal(v, "1,2");
	free(v);
	assert_int_equal(testdb_int(db,
	    "SELECT count(*) FROM schema_migrations"), 2);
	free(dir);
	bc_db_close(db);
	testdb_drop(&t);
}

/* The columns of the public tables: "table.column type default" lines. */
static char *
schema_of(struct bc_db *db)
{
	char *v;

	v = testdb_query1(db, "SELECT string_agg(table_name || '.' ||"
	    " column_name || ' ' || data_type || ' ' ||"
	    " coalesce(column_default, '-'),"
	    " E'\\n' ORDER BY table_name, column_name)"
	    " FROM information_schema.columns"
	    " WHERE table_schema = current_schema()"
	    " AND table_name <> 'schema_migrations'");
	assert_non_null(v);
	return v;
}

static const char *tables[] = {
	"pisunchik_data", "messages", "stocks", "questions",
	"question_state", "chat_question_history", "answered_questions",
	"user_activity", "wordle_daily", "wordle_games", "reminders",
	"danetki", "daily_prophecies", "weekly_highlights", "court_games",
	"court_messages", "prompt_versions", "prompt_admins",
	"memories_users", "memories", "matchups", "votes", "song_stats",
};

static void
test_real_sql_twice(void **state)
{
	char *sql, *cause = NULL, *v;
	struct testdb t;
	struct bc_db *db;
	size_t i;

	(void)state;
	testdb_create(&t, "bc_mig_realsql");
	db = testdb_open(&t, NULL);
	sql = testdb_top_path("sql");
	migrate_ok(db, sql);
	for (i = 0; i < BC_NELEM(tables); i++)
		if (!has_table(db, tables[i]))
			fail_msg("no table %s", tables[i]);
	v = testdb_query1(db, "SELECT data_type FROM information_schema.columns"
	    " WHERE table_name = 'pisunchik_data' AND column_name = 'coins'");
	assert_string_equal(v, "bigint");
	free(v);
	/* Forget the records: every file applies a second time. */
	testdb_exec(db, "DELETE FROM schema_migrations");
	if (bc_db_migrate(db, sql, &cause) == -1)
		fail_msg("second run: %s", cause);
	assert_true(testdb_int(db, "SELECT count(*) FROM schema_migrations")
	    >= 1);
	if (bc_db_migrate(db, sql, &cause) == -1)
		fail_msg("third run: %s", cause);
	free(sql);
	bc_db_close(db);
	testdb_drop(&t);
}

/* Load tests/fixtures/original-schema.sql, as the old project left it. */
static void
load_original(struct bc_db *db)
{
	char *dir, *fixture, *cause = NULL, buf[4096];
	FILE *in, *out;
	size_t n;

	dir = mkdir_tmp();
	fixture = testdb_top_path("tests/fixtures/original-schema.sql");
	assert_non_null(in = fopen(fixture, "r"));
	xasprintf(&cause, "%s/001_original.sql", dir);
	assert_non_null(out = fopen(cause, "w"));
	free(cause);
	cause = NULL;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, n, out), n);
	fclose(in);
	assert_int_equal(fclose(out), 0);
	if (bc_db_migrate(db, dir, &cause) == -1)
		fail_msg("loading the fixture: %s", cause);
	testdb_exec(db, "DROP TABLE schema_migrations");
	free(fixture);
	free(dir);
}

static void
check_str(struct bc_db *db, const char *sql, const char *want)
{
	char *v = testdb_query1(db, sql);

	if (v == NULL || strcmp(v, want) != 0)
		fail_msg("%s: got '%s', want '%s'", sql, v ? v : "(null)",
		    want);
	free(v);
}

/* The original data after the real migrations ran over it. */
static void
check_adopted(struct bc_db *db)
{
	/* Coins: bigint, rounded, NaN as 0, clamped, NULL kept. */
	check_str(db, "SELECT string_agg(player_id || '=' ||"
	    " coalesce(coins::text, 'null'), ' ' ORDER BY player_id)"
	    " FROM pisunchik_data", "1=0 2=9223372036854775807 3=-3 4=null"
	    " 741852963=1235 6543210987=0");
	check_str(db, "SELECT data_type FROM information_schema.columns"
	    " WHERE table_name = 'pisunchik_data' AND column_name = 'coins'",
	    "bigint");
	/* Old data intact, new columns present with their defaults (which
	 * fill the old rows too: created_at, vote_timestamp). */
	check_str(db, "SELECT player_name || ' ' || pisunchik_size || ' ' ||"
	    " items::text || ' ' || chat_id::text FROM pisunchik_data"
	    " WHERE player_id = 6543210987",
	    "Петя 'quote'; DROP TABLE x -3 {} {-1001294083392,-1002}");
	check_str(db, "SELECT items[2] || characteristics[1] || pet_hunger ||"
	    " pet_happiness || pet_titles::text || wordle_streak ||"
	    " pet_ulta_oracle_pending::text || coalesce(pet::text, 'nopet')"
	    " FROM pisunchik_data WHERE player_id = 741852963",
	    "bdsm_kostumchikGlowing:210050[]0falsenopet");
	check_str(db, "SELECT string_agg(user_id || ':' || message_text ||"
	    " ':' || coalesce(message_id::text, '-'), ' ' ORDER BY id)"
	    " FROM messages", "741852963:привет:- 2147483647:max int:-");
	check_str(db, "SELECT data_type FROM information_schema.columns"
	    " WHERE table_name = 'messages' AND column_name = 'user_id'",
	    "bigint");
	testdb_exec(db, "INSERT INTO messages (user_id, message_text,"
	    " message_id, reply_to_message_id)"
	    " VALUES (7000000001, 'x', 10, 9)");
	check_str(db, "SELECT string_agg(company_name || '=' || price, ' '"
	    " ORDER BY company_name) FROM stocks", "ATB=101.25 Rozetka=55.5");
	check_str(db, "SELECT password || ' ' || reminder_day || ' ' ||"
	    " timezone || ' ' || is_active FROM memories_users",
	    "$2b$12$KIXQJ1vQ5Z6b1nR2d9Q8UeW3d3Fq3Yf2yq9yq0m6Yc3l2m4o5p6q7"
	    " sunday UTC true");
	check_str(db, "SELECT string_agg(memory_type || ':' || content, ' '"
	    " ORDER BY id) || ' ' || count(week_number) FROM memories",
	    "weekly:first week extra:an extra one 0");
	check_str(db, "SELECT song1_friend || song1_votes || song2_votes ||"
	    " processed || (created_at IS NULL) FROM matchups",
	    "Vasya31falsefalse");
	check_str(db, "SELECT voter_id || ':' || vote || ':' ||"
	    " (vote_timestamp IS NULL) FROM votes", "741852963:1:false");
	check_str(db, "SELECT friend || total_votes || wins || losses ||"
	    " (last_played IS NULL) FROM song_stats", "Vasya310true");
	/* Defaults now apply to the adopted tables too. */
	testdb_exec(db, "INSERT INTO song_stats (track_uri) VALUES ('x')");
	check_str(db, "SELECT total_votes || ',' || wins FROM song_stats"
	    " WHERE track_uri = 'x'", "0,0");
	testdb_exec(db, "INSERT INTO pisunchik_data (player_id) VALUES (5)");
	check_str(db, "SELECT coins FROM pisunchik_data WHERE player_id = 5",
	    "0");
}

static void
test_real_sql_over_original(void **state)
{
	char *sql, *cause = NULL, *adopted, *fresh;
	struct testdb t, t2;
	struct bc_db *db, *db2;

	(void)state;
	testdb_create(&t, "bc_mig_adopt");
	db = testdb_open(&t, NULL);
	load_original(db);
	sql = testdb_top_path("sql");
	migrate_ok(db, sql);

	check_adopted(db);

	/* Same columns, types and defaults as on an empty database. */
	testdb_create(&t2, "bc_mig_adopt2");
	db2 = testdb_open(&t2, NULL);
	migrate_ok(db2, sql);
	adopted = schema_of(db);
	fresh = schema_of(db2);
	assert_string_equal(adopted, fresh);
	free(adopted);
	free(fresh);
	/* And it applies once more over the adopted one. */
	testdb_exec(db, "DELETE FROM schema_migrations");
	if (bc_db_migrate(db, sql, &cause) == -1)
		fail_msg("again: %s", cause);
	free(sql);
	bc_db_close(db2);
	testdb_drop(&t2);
	bc_db_close(db);
	testdb_drop(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_and_noop,
		    mig_setup, mig_teardown),
		cmocka_unit_test_setup_teardown(test_checksum_mismatch,
		    mig_setup, mig_teardown),
		cmocka_unit_test_setup_teardown(test_bad_sql_rolls_back,
		    mig_setup, mig_teardown),
		cmocka_unit_test_setup_teardown(test_order,
		    mig_setup, mig_teardown),
		cmocka_unit_test_setup_teardown(test_bad_names,
		    mig_setup, mig_teardown),
		cmocka_unit_test(test_lock_held_elsewhere),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_real_sql_twice),
		cmocka_unit_test(test_real_sql_over_original),
	};

	return cmocka_run_group_tests_name("migrate", tests, setup, NULL);
}
