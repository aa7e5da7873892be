/*
 * graphdriver/users.c: the layer_users and layer_mounts tables: who holds a
 * layer mounted, how many times, and where and how it is mounted (the
 * backend, the mount point, the lamina-fuse daemon's pid). What a mount is
 * and when it happens is mount.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/cleanup.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"

const char *gd_backend_name(enum lamina_layer_backend b)
{
	return b == LAMINA_BACKEND_KERNEL ? "kernel" : "fuse";
}

void gd_mount_release(struct gd_mount *m)
{
	free(m->mountpoint);
	m->mountpoint = NULL;
}

int gd_mount_row(struct lamina_store *store, const char *id, struct gd_mount *ret, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = lm_db_prepare(store->db, "SELECT backend, mountpoint, pid FROM layer_mounts WHERE layer = ?1", &st,
			      err);
	if (r >= 0)
		r = lm_db_bind(st, err, "s", id);
	if (r >= 0)
		r = lm_db_step(st, err);
	if (r <= 0)
		return r < 0 ? lm_err_prefix(err, "layer '%s'", id) : 0;
	const char *b = (const char *)sqlite3_column_text(st, 0);
	ret->backend = b && !strcmp(b, "kernel") ? LAMINA_BACKEND_KERNEL : LAMINA_BACKEND_FUSE;
	ret->pid = (pid_t)sqlite3_column_int64(st, 2);
	ret->mountpoint = strdup((const char *)sqlite3_column_text(st, 1));
	return ret->mountpoint ? 1 : lm_err(err, -ENOMEM, "layer '%s'", id);
}

int gd_mount_row_insert(struct lamina_store *store, const char *id, const struct gd_mount *m, struct lm_error *err)
{
	int r = lm_db_run(store->db, err,
			  "INSERT OR REPLACE INTO layer_mounts (layer, backend, mountpoint, pid) VALUES (?1, ?2, ?3, ?4)",
			  "sssi", id, gd_backend_name(m->backend), m->mountpoint, (int64_t)m->pid);
	return r < 0 ? lm_err_prefix(err, "layer '%s'", id) : 0;
}

int gd_mount_row_delete(struct lamina_store *store, const char *id, struct lm_error *err)
{
	int r = lm_db_run(store->db, err, "DELETE FROM layer_mounts WHERE layer = ?1", "s", id);
	return r < 0 ? lm_err_prefix(err, "layer '%s'", id) : 0;
}

/* Steps a one-number query about id (and caller, when non-NULL). */
static int count_query(struct lamina_store *store, const char *sql, const char *id, const char *caller,
		       int64_t *ret, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = lm_db_prepare(store->db, sql, &st, err);
	if (r >= 0)
		r = caller ? lm_db_bind(st, err, "ss", id, caller) : lm_db_bind(st, err, "s", id);
	if (r >= 0)
		r = lm_db_step(st, err);
	if (r < 0)
		return lm_err_prefix(err, "layer '%s'", id);
	*ret = r ? sqlite3_column_int64(st, 0) : 0;
	return 0;
}

int gd_users_count(struct lamina_store *store, const char *id, const char *caller, unsigned *ret,
		   struct lm_error *err)
{
	int64_t n = 0;
	int r = count_query(store, "SELECT count FROM layer_users WHERE layer = ?1 AND caller = ?2", id, caller, &n,
			    err);
	*ret = (unsigned)n;
	return r;
}

int gd_users_total(struct lamina_store *store, const char *id, size_t *ret, struct lm_error *err)
{
	int64_t n = 0;
	int r = count_query(store, "SELECT count(*) FROM layer_users WHERE layer = ?1", id, NULL, &n, err);
	*ret = (size_t)n;
	return r;
}

int gd_users_add(struct lamina_store *store, const char *id, const char *caller, struct lm_error *err)
{
	int r = lm_db_run(store->db, err,
			  "INSERT INTO layer_users (layer, caller, count) VALUES (?1, ?2, 1) "
			  "ON CONFLICT (layer, caller) DO UPDATE SET count = count + 1",
			  "ss", id, caller);
	return r < 0 ? lm_err_prefix(err, "layer '%s'", id) : 0;
}

int gd_users_drop(struct lamina_store *store, const char *id, const char *caller, unsigned count,
		  struct lm_error *err)
{
	int r = count > 1 ? lm_db_run(store->db, err,
				      "UPDATE layer_users SET count = count - 1 WHERE layer = ?1 AND caller = ?2", "ss",
				      id, caller)
			  : lm_db_run(store->db, err, "DELETE FROM layer_users WHERE layer = ?1 AND caller = ?2", "ss",
				      id, caller);
	return r < 0 ? lm_err_prefix(err, "layer '%s'", id) : 0;
}

int gd_users_forget(struct lamina_store *store, const char *id, struct lm_error *err)
{
	int r = lm_db_run(store->db, err, "DELETE FROM layer_users WHERE layer = ?1", "s", id);
	return r < 0 ? lm_err_prefix(err, "layer '%s'", id) : 0;
}
