/*
 * common/db.h: the sqlite handle of a lamina root (ROOT/lamina.db).
 *
 * This is the one place where sqlite result codes become -errno:
 * SQLITE_BUSY and SQLITE_LOCKED -> -EBUSY, SQLITE_CONSTRAINT -> -EEXIST,
 * anything else -> -EIO, with sqlite3_errmsg() in the message.
 *
 * Writers use lm_db_begin() (BEGIN IMMEDIATE): the write lock is taken at the
 * start, so a transaction that does file-system work between its reads and its
 * writes holds the lock the whole time and concurrent processes serialise on
 * it (waiting up to the busy timeout) instead of failing halfway.
 *
 * Thread-safety: a handle is used by one thread at a time (the store handle
 * that owns it is per-handle); different handles on the same file, in one
 * process or many, are safe: sqlite's file locks serialise them.
 */
#ifndef LAMINA_COMMON_DB_H
#define LAMINA_COMMON_DB_H

#include <stdint.h>

#include <sqlite3.h>

#include <lamina/error.h>

/* How long a connection waits for another's lock before -EBUSY. */
#define LM_DB_BUSY_TIMEOUT_MS 30000

/*
 * Opens (creating it when missing) the database at path, sets WAL, the
 * synchronous level, the busy timeout and foreign keys, and runs every
 * migration the file has not seen yet. -EPROTO when the file's user_version
 * is newer than this lamina knows. On success *ret is yours (lm_db_close).
 */
int lm_db_open(const char *path, sqlite3 **ret, struct lm_error *err);

/* Closes db (takes NULL) and returns NULL. */
sqlite3 *lm_db_close(sqlite3 *db);

/* The schema version this lamina writes (the number of migrations). */
int lm_db_schema_version(void);

/* The -errno for a sqlite result code (see the top of this file). */
int lm_db_errno(int rc);

/*
 * Records the failure rc of a call on db in err as "FMT: sqlite3_errmsg"
 * and returns its -errno.
 */
int lm_db_fail(sqlite3 *db, int rc, struct lm_error *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prepares sql into *ret (yours: _cleanup_stmt_). 0 or -errno. */
int lm_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret, struct lm_error *err);

/*
 * Binds the parameters of st from the varargs, one letter of types each:
 * 's' a const char * (NULL binds NULL; the string must outlive the step),
 * 'i' an int64_t, 'd' an int. 0 or -errno.
 */
int lm_db_bind(sqlite3_stmt *st, struct lm_error *err, const char *types, ...);

/* Steps st: 1 for a row, 0 when done, or -errno. */
int lm_db_step(sqlite3_stmt *st, struct lm_error *err);

/*
 * Prepares sql, binds the varargs as lm_db_bind() and steps it to the end:
 * for statements that return no rows. Returns the number of rows changed
 * (sqlite3_changes), or -errno.
 */
int lm_db_run(sqlite3 *db, struct lm_error *err, const char *sql, const char *types, ...);

/* Runs sql (several statements, no parameters). 0 or -errno. */
int lm_db_exec(sqlite3 *db, const char *sql, struct lm_error *err);

/* BEGIN IMMEDIATE (waits for the write lock up to the busy timeout) and
 * COMMIT. 0 or -errno (-EBUSY when the lock did not come). */
int lm_db_begin(sqlite3 *db, struct lm_error *err);
int lm_db_commit(sqlite3 *db, struct lm_error *err);

/* ROLLBACK when a transaction is open; never fails the caller (a failed
 * rollback leaves nothing committed either). */
void lm_db_rollback(sqlite3 *db);

#endif
