/*
 * graphdriver/rows.c: the layer tables (common/db.c, migration 2) to and
 * from struct lamina_layer: layers, layer_names, layer_files. Users and
 * mounts are users.c's. Only these two files write layer SQL; the orderings
 * that make the rows and the folders agree after a crash are the callers'.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/cleanup.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"

static const char *const state_names[] = {
	[GD_CREATING] = "creating",
	[GD_READY] = "ready",
	[GD_REMOVING] = "removing",
};

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? s : "";
}

/* A copy of column i, NULL when the column is NULL; *oom set when the copy failed. */
static char *col_dup(sqlite3_stmt *st, int i, bool *oom)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	char *c = s ? strdup(s) : NULL;
	if (s && !c)
		*oom = true;
	return c;
}

/* Prepares sql, binds arg as ?1 (when non-NULL) and steps once: 1 for a
 * row, 0 for none, or -errno. */
static int query1(struct lamina_store *store, const char *sql, const char *arg, sqlite3_stmt **st,
		  struct lm_error *err)
{
	int r = lm_db_prepare(store->db, sql, st, err);
	if (r >= 0 && arg)
		r = lm_db_bind(*st, err, "s", arg);
	return r < 0 ? r : lm_db_step(*st, err);
}

/* Runs sql (binding arg as ?1 when non-NULL) and collects column 0 of each row. */
static int query_strv(struct lamina_store *store, const char *sql, const char *arg, char ***ret, size_t *ret_n,
		      struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char **v = NULL;
	size_t n = 0;
	int r = query1(store, sql, arg, &st, err);
	for (; r == 1; r = lm_db_step(st, err)) {
		char **a = realloc(v, (n + 1) * sizeof(*a));
		if (!a || !(a[n] = strdup(col_text(st, 0)))) {
			v = a ? a : v;
			r = lm_err(err, -ENOMEM, "layers");
			break;
		}
		v = a;
		n++;
	}
	if (r < 0) {
		gd_strv_free(v, n);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int gd_row_state(struct lamina_store *store, const char *id, enum gd_state *ret, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = query1(store, "SELECT state FROM layers WHERE id = ?1", id, &st, err);
	if (r < 0)
		return lm_err_prefix(err, "layer '%s'", id);
	*ret = GD_ABSENT;
	const char *s = r ? col_text(st, 0) : NULL;
	for (size_t i = 0; s && i < ELEMENTSOF(state_names); i++) {
		if (state_names[i] && !strcmp(s, state_names[i]))
			*ret = (enum gd_state)i;
	}
	return 0;
}

int gd_resolve(struct lamina_store *store, const char *id_or_name, char **ret, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	if (!id_or_name || !*id_or_name)
		return lm_err_plain(err, -EINVAL, "layer: no ID or name given");
	int r = query1(store,
		       "SELECT id, 0 FROM layers WHERE id = ?1 AND state != 'removing' UNION ALL "
		       "SELECT n.layer, 1 FROM layer_names n JOIN layers l ON l.id = n.layer "
		       "WHERE n.name = ?1 AND l.state != 'removing' ORDER BY 2 LIMIT 1",
		       id_or_name, &st, err);
	if (r < 0)
		return lm_err_prefix(err, "layer '%s'", id_or_name);
	if (r == 0)
		return lm_err_plain(err, -ENOENT, "layer '%s': no such layer", id_or_name);
	if (!(*ret = strdup(col_text(st, 0))))
		return lm_err(err, -ENOMEM, "layer '%s'", id_or_name);
	return 0;
}

int gd_taken_check(struct lamina_store *store, const char *s, bool as_name, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = query1(store,
		       "SELECT id FROM layers WHERE id = ?1 UNION ALL SELECT layer FROM layer_names WHERE name = ?1 "
		       "LIMIT 1",
		       s, &st, err);
	if (r < 0)
		return lm_err_prefix(err, "layer '%s'", s);
	if (r == 0)
		return 0;
	if (!strcmp(col_text(st, 0), s))
		return lm_err_plain(err, -EEXIST, "layer '%s': already exists", s);
	return lm_err_plain(err, -EEXIST, "layer %s '%s': already names layer '%s'", as_name ? "name" : "ID", s,
			    col_text(st, 0));
}

int gd_row_insert(struct lamina_store *store, const struct gd_row *row, struct lm_error *err)
{
	int r = lm_db_run(store->db, err,
			  "INSERT INTO layers (id, parent, state, created, read_write) VALUES (?1, ?2, 'ready', ?3, ?4)",
			  "ssid", row->id, row->parent, row->created, (int)row->read_write);
	for (size_t i = 0; r >= 0 && i < row->n_names; i++)
		r = lm_db_run(store->db, err, "INSERT INTO layer_names (name, layer) VALUES (?1, ?2)", "ss",
			      row->names[i], row->id);
	return r < 0 ? lm_err_prefix(err, "layer '%s'", row->id) : 0;
}

int gd_row_set_state(struct lamina_store *store, const char *id, enum gd_state state, struct lm_error *err)
{
	int r = lm_db_run(store->db, err, "UPDATE layers SET state = ?2 WHERE id = ?1", "ss", id, state_names[state]);
	return r < 0 ? lm_err_prefix(err, "layer '%s'", id) : 0;
}

static int insert_files(struct lamina_store *store, const char *id, const struct gd_apply_result *res,
			struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = lm_db_prepare(store->db, "INSERT INTO layer_files (layer, path, xxh3, size) VALUES (?1, ?2, ?3, ?4)",
			      &st, err);
	for (size_t i = 0; r >= 0 && i < res->n_hashes; i++) {
		const struct gd_file_hash *h = &res->hashes[i];
		sqlite3_reset(st);
		r = lm_db_bind(st, err, "sssi", id, h->path, h->xxh3, (int64_t)h->size);
		if (r >= 0)
			r = lm_db_step(st, err);
	}
	return r;
}

int gd_row_set_content(struct lamina_store *store, const char *id, const struct gd_apply_result *res,
		       struct lm_error *err)
{
	int r = lm_db_run(store->db, err, "DELETE FROM layer_files WHERE layer = ?1", "s", id);
	if (r >= 0 && !res)
		r = lm_db_run(store->db, err,
			      "UPDATE layers SET diff_id = NULL, compressed_digest = NULL, compressed_size = 0, "
			      "uncompressed_size = 0, compression = NULL, size = 0 WHERE id = ?1",
			      "s", id);
	if (r >= 0 && res)
		r = lm_db_run(store->db, err,
			      "UPDATE layers SET diff_id = ?2, compressed_digest = nullif(?3, ''), "
			      "compressed_size = ?4, uncompressed_size = ?5, compression = ?6, size = ?7 WHERE id = ?1",
			      "sssiisi", id, res->diff_id, res->compressed_digest, (int64_t)res->compressed_size,
			      (int64_t)res->uncompressed_size, res->compression, (int64_t)res->size);
	if (r >= 0 && res)
		r = insert_files(store, id, res, err);
	return r < 0 ? lm_err_prefix(err, "layer '%s'", id) : 0;
}

int gd_row_delete(struct lamina_store *store, const char *id, struct lm_error *err)
{
	int r = lm_db_run(store->db, err, "DELETE FROM layers WHERE id = ?1", "s", id);
	return r < 0 ? lm_err_prefix(err, "layer '%s'", id) : 0;
}

int gd_row_drop_names(struct lamina_store *store, const char *id, struct lm_error *err)
{
	int r = lm_db_run(store->db, err, "DELETE FROM layer_names WHERE layer = ?1", "s", id);
	return r < 0 ? lm_err_prefix(err, "layer '%s'", id) : 0;
}

int gd_row_children(struct lamina_store *store, const char *id, enum gd_state state, char ***ret, size_t *ret_n,
		    struct lm_error *err)
{
	if (state == GD_ABSENT)
		return query_strv(store, "SELECT id FROM layers WHERE parent = ?1 ORDER BY id", id, ret, ret_n, err);
	_cleanup_free_ char *sql = NULL;
	if (asprintf(&sql, "SELECT id FROM layers WHERE parent = ?1 AND state = '%s' ORDER BY id",
		     state_names[state]) < 0)
		return lm_err(err, -ENOMEM, "layer '%s'", id);
	return query_strv(store, sql, id, ret, ret_n, err);
}

int gd_row_images(struct lamina_store *store, const char *id, char ***ret, size_t *ret_n, struct lm_error *err)
{
	return query_strv(store,
			  "SELECT DISTINCT COALESCE((SELECT min(n.name) FROM image_names n WHERE n.image = l.image),"
			  " l.image) FROM image_layers l WHERE l.layer = ?1 ORDER BY 1",
			  id, ret, ret_n, err);
}

int gd_row_ids(struct lamina_store *store, enum gd_state state, char ***ret, size_t *ret_n, struct lm_error *err)
{
	if (state == GD_ABSENT)
		return query_strv(store, "SELECT id FROM layers ORDER BY id", NULL, ret, ret_n, err);
	return query_strv(store, "SELECT id FROM layers WHERE state = ?1 ORDER BY id", state_names[state], ret, ret_n,
			  err);
}

int gd_row_chain(struct lamina_store *store, const char *id, char ***ret, size_t *ret_n, struct lm_error *err)
{
	return query_strv(store,
			  "WITH RECURSIVE up(id, parent, n) AS (SELECT id, parent, 0 FROM layers WHERE id = ?1 "
			  "UNION ALL SELECT l.id, l.parent, up.n + 1 FROM layers l JOIN up ON l.id = up.parent) "
			  "SELECT id FROM up ORDER BY n",
			  id, ret, ret_n, err);
}

int gd_row_files(struct lamina_store *store, const char *id, struct gd_file_hash **ret, size_t *ret_n,
		 struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct gd_file_hash *h = NULL;
	size_t n = 0;
	int r = query1(store, "SELECT path, xxh3, size FROM layer_files WHERE layer = ?1 ORDER BY path", id, &st,
		       err);
	for (; r == 1; r = lm_db_step(st, err)) {
		struct gd_file_hash *a = realloc(h, (n + 1) * sizeof(*a));
		if (!a || !(a[n].path = strdup(col_text(st, 0)))) {
			h = a ? a : h;
			r = lm_err(err, -ENOMEM, "layer '%s'", id);
			break;
		}
		h = a;
		snprintf(h[n].xxh3, sizeof(h[n].xxh3), "%s", col_text(st, 1));
		h[n++].size = (uint64_t)sqlite3_column_int64(st, 2);
	}
	if (r < 0) {
		gd_hashes_free(h, n);
		return r;
	}
	*ret = h;
	*ret_n = n;
	return 0;
}

void gd_hashes_free(struct gd_file_hash *h, size_t n)
{
	for (size_t i = 0; h && i < n; i++)
		free(h[i].path);
	free(h);
}

/* ---- loading */

static int layer_from_row(struct lamina_store *store, sqlite3_stmt *st, struct lamina_layer **ret)
{
	struct lamina_layer *l = calloc(1, sizeof(*l));
	bool oom = false;
	if (!l)
		return -ENOMEM;
	*ret = l;
	l->id = col_dup(st, 0, &oom);
	l->parent = col_dup(st, 1, &oom);
	l->created = sqlite3_column_int64(st, 2);
	l->read_write = sqlite3_column_int(st, 3) != 0;
	l->diff_id = col_dup(st, 4, &oom);
	l->compressed_digest = col_dup(st, 5, &oom);
	l->compressed_size = (uint64_t)sqlite3_column_int64(st, 6);
	l->uncompressed_size = (uint64_t)sqlite3_column_int64(st, 7);
	l->compression = col_dup(st, 8, &oom);
	l->size = (uint64_t)sqlite3_column_int64(st, 9);
	l->depth = (unsigned)sqlite3_column_int(st, 10);
	l->mountpoint = col_dup(st, 11, &oom);
	if (oom || !l->id || gd_path(store, l->id, GD_DIFF, &l->diff_dir) < 0)
		return -ENOMEM;
	return 0;
}

static int load_users(struct lamina_store *store, struct lamina_layer *l, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = query1(store, "SELECT caller, count FROM layer_users WHERE layer = ?1 ORDER BY caller", l->id, &st,
		       err);
	for (; r == 1; r = lm_db_step(st, err)) {
		struct lamina_layer_user *a = realloc(l->users, (l->n_users + 1) * sizeof(*a));
		if (!a || !(a[l->n_users].id = strdup(col_text(st, 0)))) {
			l->users = a ? a : l->users;
			return lm_err(err, -ENOMEM, "layer '%s'", l->id);
		}
		l->users = a;
		a[l->n_users++].count = (unsigned)sqlite3_column_int64(st, 1);
	}
	return r;
}

static int load_children(struct lamina_store *store, struct lamina_layer *l, struct lm_error *err)
{
	int r = query_strv(store, "SELECT name FROM layer_names WHERE layer = ?1 ORDER BY name", l->id, &l->names,
			   &l->n_names, err);
	return r < 0 ? r : load_users(store, l, err);
}

/* The columns layer_from_row reads; depth is the length of the chain below. */
#define LAYER_COLS                                                                                            \
	"l.id, l.parent, l.created, l.read_write, l.diff_id, l.compressed_digest, l.compressed_size, "        \
	"l.uncompressed_size, l.compression, l.size, %s, m.mountpoint FROM layers l "                          \
	"LEFT JOIN layer_mounts m ON m.layer = l.id "

static const char sel_one[] =
	"WITH RECURSIVE up(id, parent) AS (SELECT id, parent FROM layers WHERE id = ?1 "
	"UNION ALL SELECT l.id, l.parent FROM layers l JOIN up ON l.id = up.parent) "
	"SELECT " LAYER_COLS "WHERE l.id = ?1 AND l.state IN ('ready', 'creating')";
static const char depth_one[] = "(SELECT count(*) - 1 FROM up)";

static const char sel_all[] = "WITH RECURSIVE down(id, depth) AS (SELECT id, 0 FROM layers WHERE parent IS NULL "
			      "UNION ALL SELECT l.id, down.depth + 1 FROM layers l JOIN down ON l.parent = down.id) "
			      "SELECT " LAYER_COLS "JOIN down d ON d.id = l.id WHERE l.state = 'ready' "
			      "ORDER BY d.depth, l.id";
static const char depth_all[] = "d.depth";

int gd_row_load(struct lamina_store *store, const char *id, struct lamina_layer **ret, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_free_ char *sql = NULL;
	struct lamina_layer *l = NULL;
	if (asprintf(&sql, sel_one, depth_one) < 0)
		return lm_err(err, -ENOMEM, "layer '%s'", id);
	int r = query1(store, sql, id, &st, err);
	if (r == 0)
		return lm_err_plain(err, -ENOENT, "layer '%s': no such layer", id);
	if (r > 0 && (r = layer_from_row(store, st, &l)) < 0)
		lm_err(err, r, "layer '%s'", id);
	if (r >= 0)
		r = load_children(store, l, err);
	if (r < 0) {
		lamina_layer_free(l);
		return lm_err_prefix(err, "layer '%s'", id);
	}
	*ret = l;
	return 0;
}

int gd_row_load_all(struct lamina_store *store, struct lamina_layer ***ret, size_t *ret_n, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	_cleanup_free_ char *sql = NULL;
	struct lamina_layer **v = NULL;
	size_t n = 0;
	if (asprintf(&sql, sel_all, depth_all) < 0)
		return lm_err(err, -ENOMEM, "layers");
	int r = query1(store, sql, NULL, &st, err);
	for (; r == 1; r = lm_db_step(st, err)) {
		struct lamina_layer **a = realloc(v, (n + 1) * sizeof(*a));
		if (!a) {
			r = lm_err(err, -ENOMEM, "layers");
			break;
		}
		v = a;
		v[n] = NULL;
		r = layer_from_row(store, st, &v[n++]);
		if (r >= 0)
			r = load_children(store, v[n - 1], err);
		if (r < 0)
			break;
	}
	if (r < 0) {
		lamina_layer_list_free(v, n);
		return r == -ENOMEM ? lm_err(err, r, "layers") : r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void lamina_layer_free(struct lamina_layer *l)
{
	if (!l)
		return;
	free(l->id);
	free(l->parent);
	gd_strv_free(l->names, l->n_names);
	free(l->diff_id);
	free(l->compressed_digest);
	free(l->compression);
	free(l->diff_dir);
	free(l->mountpoint);
	for (size_t i = 0; i < l->n_users; i++)
		free(l->users[i].id);
	free(l->users);
	free(l);
}

void lamina_layer_list_free(struct lamina_layer **layers, size_t n)
{
	for (size_t i = 0; layers && i < n; i++)
		lamina_layer_free(layers[i]);
	free(layers);
}
