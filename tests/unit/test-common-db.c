/*
 * tests/unit/test-common-db.c: the sqlite handle (common/db.c) and opening a
 * store (common/store.c), on real files: settings, migrations from an empty
 * database, refusal of a newer schema and of a damaged file, the mapping of
 * sqlite's codes to -errno, the write lock, concurrent first opens.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/cleanup.h"
#include "common/db.h"
#include "common/store.h"
#include "tests/lib/testlib.h"

static char *db_path(void)
{
	return tl_strdupf("%s/test.db", tl_scratch);
}

/* The first column of the first row of sql, as text (caller frees). */
static char *query1(sqlite3 *db, const char *sql)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	return tl_strdup((const char *)sqlite3_column_text(st, 0));
}

static void assert_query(sqlite3 *db, const char *sql, const char *want)
{
	_cleanup_free_ char *got = query1(db, sql);
	ck_assert_msg(!strcmp(got, want), "%s: got '%s', want '%s'", sql, got, want);
}

/* A plain sqlite connection, as another program would open the file. */
static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	return db;
}

START_TEST(fresh_database_settings_and_schema)
{
	_cleanup_free_ char *path = db_path();
	sqlite3 *db = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lm_db_open(path, &db, &err), 0);
	ck_assert_int_ge(lm_db_schema_version(), 1);
	_cleanup_free_ char *v = tl_strdupf("%d", lm_db_schema_version());
	assert_query(db, "PRAGMA user_version", v);
	assert_query(db, "PRAGMA journal_mode", "wal");
	assert_query(db, "PRAGMA synchronous", "2"); /* FULL */
	assert_query(db, "PRAGMA foreign_keys", "1");
	assert_query(db,
		     "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' "
		     "ORDER BY name)",
		     "image_layers,image_names,images,layer_files,layer_mounts,layer_names,layer_users,layers,"
		     "volume_labels,volume_options,volume_users,volumes");
	lm_db_close(db);
}
END_TEST

START_TEST(migrates_an_empty_database_once)
{
	_cleanup_free_ char *path = db_path();
	sqlite3 *raw = raw_open(path);
	ck_assert_int_eq(sqlite3_exec(raw, "CREATE TABLE other (x); INSERT INTO other VALUES (42);", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(raw);

	sqlite3 *db = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lm_db_open(path, &db, &err), 0);
	assert_query(db, "SELECT x FROM other", "42"); /* what was there stays */
	ck_assert_int_eq(lm_db_run(db, &err, "INSERT INTO volumes (name, driver, state, created) VALUES "
					     "('v1', 'local', 'ready', 1)", ""),
			 1);
	lm_db_close(db);
	/* a second open runs no migration again: the row is still there */
	ck_assert_int_eq(lm_db_open(path, &db, &err), 0);
	assert_query(db, "SELECT count(*) FROM volumes", "1");
	lm_db_close(db);
}
END_TEST

static void set_user_version(const char *path, int v)
{
	sqlite3 *raw = raw_open(path);
	_cleanup_free_ char *sql = tl_strdupf("PRAGMA user_version = %d", v);
	ck_assert_int_eq(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(raw);
}

START_TEST(refuses_a_newer_schema)
{
	_cleanup_free_ char *path = db_path();
	sqlite3 *db = NULL;
	struct lm_error err = { 0 };
	set_user_version(path, lm_db_schema_version() + 1);
	ck_assert_int_eq(lm_db_open(path, &db, &err), -EPROTO);
	ck_assert_ptr_null(db);
	ck_assert_msg(strstr(err.msg, "newer"), "message: %s", err.msg);
	sqlite3 *raw = raw_open(path);
	_cleanup_free_ char *v = tl_strdupf("%d", lm_db_schema_version() + 1);
	assert_query(raw, "PRAGMA user_version", v);
	assert_query(raw, "SELECT count(*) FROM sqlite_master", "0"); /* nothing was created */
	sqlite3_close(raw);
}
END_TEST

START_TEST(store_refuses_a_newer_schema)
{
	_cleanup_free_ char *root = tl_strdupf("%s/root", tl_scratch);
	_cleanup_free_ char *path = tl_strdupf("%s/lamina.db", root);
	ck_assert_int_eq(mkdir(root, 0700), 0);
	set_user_version(path, lm_db_schema_version() + 7);
	struct lamina_store *s = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_store_open(root, &s, &err), -EPROTO);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(err.code, -EPROTO);
}
END_TEST

START_TEST(refuses_a_damaged_file)
{
	_cleanup_free_ char *path = db_path();
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	char junk[8192];
	memset(junk, 'x', sizeof(junk));
	ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	sqlite3 *db = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lm_db_open(path, &db, &err), -EIO);
	ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "not a database"), "message: %s", err.msg);
}
END_TEST

START_TEST(maps_result_codes)
{
	ck_assert_int_eq(lm_db_errno(SQLITE_OK), 0);
	ck_assert_int_eq(lm_db_errno(SQLITE_BUSY), -EBUSY);
	ck_assert_int_eq(lm_db_errno(SQLITE_BUSY_SNAPSHOT), -EBUSY);
	ck_assert_int_eq(lm_db_errno(SQLITE_CONSTRAINT_PRIMARYKEY), -EEXIST);
	ck_assert_int_eq(lm_db_errno(SQLITE_CORRUPT), -EIO);
	ck_assert_int_eq(lm_db_errno(SQLITE_IOERR_FSYNC), -EIO);

	_cleanup_free_ char *path = db_path();
	sqlite3 *db = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lm_db_open(path, &db, &err), 0);
	const char *ins = "INSERT INTO volumes (name, driver, state, created) VALUES (?1, 'local', ?2, 0)";
	ck_assert_int_eq(lm_db_run(db, &err, ins, "ss", "a1", "ready"), 1);
	ck_assert_int_eq(lm_db_run(db, &err, ins, "ss", "a1", "ready"), -EEXIST);
	ck_assert_msg(strstr(err.msg, "UNIQUE constraint failed"), "message: %s", err.msg);
	ck_assert_int_eq(lm_db_run(db, &err, ins, "ss", "a2", "bogus"), -EEXIST); /* CHECK constraint */
	ck_assert_int_eq(lm_db_run(db, &err, "SELECT x FROM nowhere", ""), -EIO);
	ck_assert_msg(strstr(err.msg, "no such table"), "message: %s", err.msg);
	/* foreign keys are on: a user of a volume that does not exist */
	ck_assert_int_eq(lm_db_run(db, &err, "INSERT INTO volume_users VALUES ('zz', 'c', 1)", ""), -EEXIST);
	/* and deleting a volume deletes what hangs off it */
	ck_assert_int_eq(lm_db_run(db, &err, "INSERT INTO volume_labels VALUES ('a1', 'k', 'v')", ""), 1);
	ck_assert_int_eq(lm_db_run(db, &err, "DELETE FROM volumes WHERE name = 'a1'", ""), 1);
	assert_query(db, "SELECT count(*) FROM volume_labels", "0");
	lm_db_close(db);
}
END_TEST

START_TEST(write_lock_is_taken_at_begin)
{
	_cleanup_free_ char *path = db_path();
	sqlite3 *a = NULL, *b = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lm_db_open(path, &a, &err), 0);
	ck_assert_int_eq(lm_db_open(path, &b, &err), 0);
	ck_assert_int_eq(lm_db_begin(a, &err), 0);
	sqlite3_busy_timeout(b, 0); /* do not wait 30 s for the answer */
	ck_assert_int_eq(lm_db_begin(b, &err), -EBUSY);
	ck_assert_msg(strstr(err.msg, "locked"), "message: %s", err.msg);
	/* readers are not blocked (WAL) */
	assert_query(b, "SELECT count(*) FROM volumes", "0");
	ck_assert_int_eq(lm_db_commit(a, &err), 0);
	ck_assert_int_eq(lm_db_begin(b, &err), 0);
	lm_db_rollback(b);
	lm_db_rollback(b); /* without a transaction: nothing */
	lm_db_close(a);
	lm_db_close(b);
}
END_TEST

START_TEST(concurrent_first_opens)
{
	_cleanup_free_ char *path = db_path();
	enum { N = 8 };
	pid_t pids[N];
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			sqlite3 *db = NULL;
			int r = lm_db_open(path, &db, NULL);
			lm_db_close(db);
			_exit(r < 0 ? -r : 0);
		}
	}
	for (int i = 0; i < N; i++) {
		int status;
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child %d: status %#x", i, status);
	}
	sqlite3 *raw = raw_open(path);
	_cleanup_free_ char *v = tl_strdupf("%d", lm_db_schema_version());
	assert_query(raw, "PRAGMA user_version", v);
	sqlite3_close(raw);
}
END_TEST

START_TEST(store_layout_and_canonical_root)
{
	_cleanup_free_ char *given = tl_strdupf("%s/./a//b/root", tl_scratch);
	_cleanup_free_ char *want = tl_strdupf("%s/a/b/root", tl_scratch);
	struct lamina_store *s = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_store_open(given, &s, &err), 0);
	ck_assert_str_eq(lamina_store_root(s), want);
	const char *dirs[] = { "volumes", "layers", "images", "tmp" };
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		_cleanup_free_ char *d = tl_strdupf("%s/%s", want, dirs[i]);
		struct stat st;
		ck_assert_msg(stat(d, &st) == 0 && S_ISDIR(st.st_mode), "%s", d);
	}
	struct stat st;
	ck_assert_int_eq(stat(want, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	_cleanup_free_ char *dbf = tl_strdupf("%s/lamina.db", want);
	ck_assert(stat(dbf, &st) == 0 && S_ISREG(st.st_mode));
	lamina_store_close(s);
	ck_assert_ptr_null(lamina_store_close(NULL));
}
END_TEST

START_TEST(store_root_from_environment)
{
	_cleanup_free_ char *root = tl_strdupf("%s/envroot", tl_scratch);
	setenv("LAMINA_ROOT", root, 1);
	struct lamina_store *s = NULL;
	ck_assert_int_eq(lamina_store_open(NULL, &s, NULL), 0);
	ck_assert_str_eq(lamina_store_root(s), root);
	lamina_store_close(s);
	/* an argument wins over the environment */
	_cleanup_free_ char *arg = tl_strdupf("%s/argroot", tl_scratch);
	ck_assert_int_eq(lamina_store_open(arg, &s, NULL), 0);
	ck_assert_str_eq(lamina_store_root(s), arg);
	lamina_store_close(s);
	unsetenv("LAMINA_ROOT");
}
END_TEST

START_TEST(store_root_that_is_a_file)
{
	_cleanup_free_ char *root = tl_strdupf("%s/file", tl_scratch);
	_cleanup_close_ int fd = open(root, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	struct lamina_store *s = NULL;
	struct lm_error err = { 0 };
	int r = lamina_store_open(root, &s, &err);
	ck_assert_int_lt(r, 0);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err.msg, root), "message: %s", err.msg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common-db");
	TCase *tc = tcase_create("db");
	tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fresh_database_settings_and_schema);
	tcase_add_test(tc, migrates_an_empty_database_once);
	tcase_add_test(tc, refuses_a_newer_schema);
	tcase_add_test(tc, store_refuses_a_newer_schema);
	tcase_add_test(tc, refuses_a_damaged_file);
	tcase_add_test(tc, maps_result_codes);
	tcase_add_test(tc, write_lock_is_taken_at_begin);
	tcase_add_test(tc, concurrent_first_opens);
	tcase_add_test(tc, store_layout_and_canonical_root);
	tcase_add_test(tc, store_root_from_environment);
	tcase_add_test(tc, store_root_that_is_a_file);
	suite_add_tcase(s, tc);
	return tl_run_suite(s, "test-common-db", 0);
}
