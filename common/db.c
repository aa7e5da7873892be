/*
 * common/db.c: opening ROOT/lamina.db, its schema migrations, and the thin
 * layer over sqlite3 (prepare, bind, step, transactions) that maps sqlite's
 * result codes to -errno. What the tables mean belongs to their users
 * (volumes/, graphdriver/); this file only knows their SQL.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "common/cleanup.h"
#include "common/db.h"
#include "common/error.h"

/*
 * The schema, one step per version: migrations[i] takes a database from
 * user_version i to i + 1, inside one transaction. Append new steps at the
 * end; never edit a step that has shipped (databases out there ran it).
 */
static const char *const migrations[] = {
	/* 1: volumes (volumes/), their driver options, labels and users.
	 * state: 'creating' while an import or clone fills a new volume (its
	 * creator holds a lock on the volume's folder), 'ready', 'removing'
	 * once a removal has begun (never listed; finished by the next remove
	 * or check --repair). */
	"CREATE TABLE volumes ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  driver TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('creating', 'ready', 'removing')),"
	"  created INTEGER NOT NULL,"
	"  anonymous INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE volume_options ("
	"  volume TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (volume, key));"
	"CREATE TABLE volume_labels ("
	"  volume TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,"
	"  key TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  PRIMARY KEY (volume, key));"
	"CREATE TABLE volume_users ("
	"  volume TEXT NOT NULL REFERENCES volumes(name) ON DELETE CASCADE,"
	"  caller TEXT NOT NULL,"
	"  count INTEGER NOT NULL CHECK (count > 0),"
	"  PRIMARY KEY (volume, caller));",
	/* 2: layers (graphdriver/), their names, users, mount and the
	 * per-file hashes recorded when a tar was applied.
	 * state: 'creating' while apply_diff fills the diff of a layer that
	 * exists (its filler holds flock on layers/ID), 'ready', 'removing'
	 * once a removal has begun (never listed; finished by the next remove
	 * or check --repair). parent has no ON DELETE: a layer's row cannot go
	 * while a child's row names it. */
	"CREATE TABLE layers ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  parent TEXT REFERENCES layers(id),"
	"  state TEXT NOT NULL CHECK (state IN ('creating', 'ready', 'removing')),"
	"  created INTEGER NOT NULL,"
	"  read_write INTEGER NOT NULL DEFAULT 0,"
	"  diff_id TEXT,"
	"  compressed_digest TEXT,"
	"  compressed_size INTEGER NOT NULL DEFAULT 0,"
	"  uncompressed_size INTEGER NOT NULL DEFAULT 0,"
	"  compression TEXT,"
	"  size INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX layers_parent ON layers(parent);"
	"CREATE TABLE layer_names ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  layer TEXT NOT NULL REFERENCES layers(id) ON DELETE CASCADE);"
	"CREATE INDEX layer_names_layer ON layer_names(layer);"
	"CREATE TABLE layer_users ("
	"  layer TEXT NOT NULL REFERENCES layers(id) ON DELETE CASCADE,"
	"  caller TEXT NOT NULL,"
	"  count INTEGER NOT NULL CHECK (count > 0),"
	"  PRIMARY KEY (layer, caller));"
	"CREATE TABLE layer_mounts ("
	"  layer TEXT PRIMARY KEY NOT NULL REFERENCES layers(id) ON DELETE CASCADE,"
	"  backend TEXT NOT NULL CHECK (backend IN ('fuse', 'kernel')),"
	"  mountpoint TEXT NOT NULL,"
	"  pid INTEGER);"
	"CREATE TABLE layer_files ("
	"  layer TEXT NOT NULL REFERENCES layers(id) ON DELETE CASCADE,"
	"  path TEXT NOT NULL,"
	"  xxh3 TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  PRIMARY KEY (layer, path)) WITHOUT ROWID;",
	/* 3: images (images/): an image is its config (id: the config
	 * digest's hex), its names ("NAME:TAG", unique) and its layers, base
	 * first (idx 0), each a graph-store layer whose ID is its ChainID's
	 * hex. image_layers.layer has no foreign key: a layer's row is deleted
	 * last in its removal, after its files (images/images.h). */
	"CREATE TABLE images ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  config TEXT NOT NULL,"
	"  manifest_digest TEXT,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE image_names ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  image TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);"
	"CREATE INDEX image_names_image ON image_names(image);"
	"CREATE TABLE image_layers ("
	"  image TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  layer TEXT NOT NULL,"
	"  diff_id TEXT NOT NULL,"
	"  digest TEXT NOT NULL,"
	"  media_type TEXT,"
	"  blob_size INTEGER NOT NULL,"
	"  PRIMARY KEY (image, idx));"
	"CREATE INDEX image_layers_layer ON image_layers(layer);",
};

/*
 * Connection settings, run at every open.
 * synchronous=FULL: in WAL mode each COMMIT syncs the log, so a committed
 * row survives a power loss. The crash-safe orderings (docs/volumes.md)
 * sync the folders before the commit that makes them visible and rely on a
 * committed "removing" mark still being there after a reboot; with NORMAL
 * the last commits could vanish while the folder work they describe stayed
 * done. Volume and layer changes are rare enough to pay one fsync each.
 */
static const char settings[] = "PRAGMA journal_mode=WAL;"
			       "PRAGMA synchronous=FULL;"
			       "PRAGMA foreign_keys=ON;";

int lm_db_schema_version(void)
{
	return (int)ELEMENTSOF(migrations);
}

int lm_db_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int lm_db_fail(sqlite3 *db, int rc, struct lm_error *err, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	int r = lm_db_errno(rc);
	return lm_err_plain(err, r ? r : -EIO, "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

int lm_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret, struct lm_error *err)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, ret, NULL);
	if (rc != SQLITE_OK)
		return lm_db_fail(db, rc, err, "database: cannot prepare a statement");
	return 0;
}

static int bind_va(sqlite3_stmt *st, struct lm_error *err, const char *types, va_list ap)
{
	for (int i = 1; types[i - 1]; i++) {
		int rc;
		switch (types[i - 1]) {
		case 's':
			rc = sqlite3_bind_text(st, i, va_arg(ap, const char *), -1, SQLITE_STATIC);
			break;
		case 'i':
			rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
			break;
		case 'd':
			rc = sqlite3_bind_int(st, i, va_arg(ap, int));
			break;
		default:
			return lm_err_plain(err, -EINVAL, "database: bad parameter type '%c'", types[i - 1]);
		}
		if (rc != SQLITE_OK)
			return lm_db_fail(sqlite3_db_handle(st), rc, err, "database: cannot bind parameter %d", i);
	}
	return 0;
}

int lm_db_bind(sqlite3_stmt *st, struct lm_error *err, const char *types, ...)
{
	va_list ap;
	va_start(ap, types);
	int r = bind_va(st, err, types, ap);
	va_end(ap);
	return r;
}

int lm_db_step(sqlite3_stmt *st, struct lm_error *err)
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return lm_db_fail(sqlite3_db_handle(st), rc, err, "database");
}

int lm_db_run(sqlite3 *db, struct lm_error *err, const char *sql, const char *types, ...)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = lm_db_prepare(db, sql, &st, err);
	if (r < 0)
		return r;
	va_list ap;
	va_start(ap, types);
	r = bind_va(st, err, types, ap);
	va_end(ap);
	while (r >= 0 && (r = lm_db_step(st, err)) == 1)
		;
	return r < 0 ? r : sqlite3_changes(db);
}

int lm_db_exec(sqlite3 *db, const char *sql, struct lm_error *err)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return lm_db_fail(db, rc, err, "database");
	return 0;
}

int lm_db_begin(sqlite3 *db, struct lm_error *err)
{
	return lm_db_exec(db, "BEGIN IMMEDIATE", err);
}

int lm_db_commit(sqlite3 *db, struct lm_error *err)
{
	return lm_db_exec(db, "COMMIT", err);
}

void lm_db_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

static int user_version(sqlite3 *db, int *ret, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = lm_db_prepare(db, "PRAGMA user_version", &st, err);
	if (r < 0)
		return r;
	r = lm_db_step(st, err);
	if (r < 0)
		return r;
	*ret = r == 1 ? sqlite3_column_int(st, 0) : 0;
	return 0;
}

/* Runs migration number v (to version v + 1) in the open transaction. */
static int migrate_one(sqlite3 *db, int v, struct lm_error *err)
{
	char sql[64];
	int r = lm_db_exec(db, migrations[v], err);
	if (r < 0)
		return lm_err_prefix(err, "database: migration to version %d", v + 1);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
	return lm_db_exec(db, sql, err);
}

/*
 * Brings the schema up to date, one migration per transaction. Another
 * process may be migrating the same file at the same time: the version is
 * read again under the write lock, so each step runs once.
 */
static int migrate(sqlite3 *db, const char *path, struct lm_error *err)
{
	const int want = lm_db_schema_version();
	for (;;) {
		int v, r = user_version(db, &v, err);
		if (r < 0)
			return r;
		if (v > want)
			return lm_err_plain(err, -EPROTO, "database '%s': schema version %d is newer than this lamina's (%d)",
					    path, v, want);
		if (v == want)
			return 0;
		r = lm_db_begin(db, err);
		if (r < 0)
			return r;
		r = user_version(db, &v, err);
		if (r >= 0 && v < want)
			r = migrate_one(db, v, err);
		if (r >= 0)
			r = lm_db_commit(db, err);
		if (r < 0) {
			lm_db_rollback(db);
			return r;
		}
	}
}

int lm_db_open(const char *path, sqlite3 **ret, struct lm_error *err)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int r = lm_db_fail(db, rc, err, "database '%s': cannot open", path);
		lm_db_close(db);
		return r;
	}
	sqlite3_busy_timeout(db, LM_DB_BUSY_TIMEOUT_MS);
	int r = lm_db_exec(db, settings, err);
	if (r >= 0)
		r = migrate(db, path, err);
	if (r < 0) {
		if (r != -EPROTO)
			lm_err_prefix(err, "database '%s'", path);
		lm_db_close(db);
		return r;
	}
	*ret = db;
	return 0;
}

sqlite3 *lm_db_close(sqlite3 *db)
{
	sqlite3_close_v2(db);
	return NULL;
}
