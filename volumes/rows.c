/*
 * volumes/rows.c: the volume tables (common/db.c, migration 1) to and from
 * struct lamina_volume. Only this file writes volume SQL; the orderings that
 * make the rows and the folders agree after a crash are the callers'.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmount.h>
#include <sqlite3.h>

#include "common/cleanup.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"
#include "volumes/volumes.h"

static const char *const state_names[] = {
	[VOL_CREATING] = "creating",
	[VOL_READY] = "ready",
	[VOL_REMOVING] = "removing",
};

/* Prepares sql with name as ?1 into *st and steps once: 1 for a row, 0
 * for none, or -errno (with the volume named in err). */
static int query_by_name(struct lamina_store *store, const char *sql, const char *name, sqlite3_stmt **st,
			 struct lm_error *err)
{
	int r = lm_db_prepare(store->db, sql, st, err);
	if (r >= 0)
		r = lm_db_bind(*st, err, "s", name);
	if (r >= 0)
		r = lm_db_step(*st, err);
	return r < 0 ? lm_err_prefix(err, "volume '%s'", name) : r;
}

int vol_row_state(struct lamina_store *store, const char *name, enum vol_state *ret, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = query_by_name(store, "SELECT state FROM volumes WHERE name = ?1", name, &st, err);
	if (r < 0)
		return r;
	*ret = VOL_ABSENT;
	const char *s = r ? (const char *)sqlite3_column_text(st, 0) : NULL;
	for (size_t i = 0; s && i < ELEMENTSOF(state_names); i++) {
		if (state_names[i] && !strcmp(s, state_names[i]))
			*ret = (enum vol_state)i;
	}
	return 0;
}

static int insert_kv(struct lamina_store *store, const char *sql, const char *name, const struct lamina_kv *kv,
		     size_t n, struct lm_error *err)
{
	for (size_t i = 0; i < n; i++) {
		int r = lm_db_run(store->db, err, sql, "sss", name, kv[i].key, kv[i].value);
		if (r < 0)
			return r;
	}
	return 0;
}

int vol_row_insert(struct lamina_store *store, const struct lamina_volume *v, enum vol_state state,
		   struct lm_error *err)
{
	int r = lm_db_run(store->db, err,
			  "INSERT INTO volumes (name, driver, state, created, anonymous) VALUES (?1, ?2, ?3, ?4, ?5)",
			  "sssid", v->name, v->driver, state_names[state], v->created, (int)v->anonymous);
	if (r >= 0)
		r = insert_kv(store, "INSERT INTO volume_options (volume, key, value) VALUES (?1, ?2, ?3)", v->name,
			      v->options, v->n_options, err);
	if (r >= 0)
		r = insert_kv(store, "INSERT INTO volume_labels (volume, key, value) VALUES (?1, ?2, ?3)", v->name,
			      v->labels, v->n_labels, err);
	return r < 0 ? lm_err_prefix(err, "volume '%s'", v->name) : 0;
}

int vol_row_set_state(struct lamina_store *store, const char *name, enum vol_state state, struct lm_error *err)
{
	int r = lm_db_run(store->db, err, "UPDATE volumes SET state = ?2 WHERE name = ?1", "ss", name,
			  state_names[state]);
	return r < 0 ? lm_err_prefix(err, "volume '%s'", name) : 0;
}

int vol_row_delete(struct lamina_store *store, const char *name, struct lm_error *err)
{
	int r = lm_db_run(store->db, err, "DELETE FROM volumes WHERE name = ?1", "s", name);
	return r < 0 ? lm_err_prefix(err, "volume '%s'", name) : 0;
}

int vol_row_n_users(struct lamina_store *store, const char *name, size_t *ret, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = query_by_name(store, "SELECT count(*) FROM volume_users WHERE volume = ?1", name, &st, err);
	if (r < 0)
		return r;
	*ret = r ? (size_t)sqlite3_column_int64(st, 0) : 0;
	return 0;
}

/* ---- loading */

static const char sel_one[] = "SELECT name, driver, created, anonymous FROM volumes "
			      "WHERE state = 'ready' AND name = ?1";
static const char sel_all[] = "SELECT name, driver, created, anonymous FROM volumes "
			      "WHERE state = 'ready' ORDER BY name";

/* The tables that hang off a volume, loaded for one volume or for all ready
 * ones (then sorted by volume first, so they merge with the sorted list). */
enum child { CH_OPTIONS, CH_LABELS, CH_USERS };
static const char *const child_sql[][2] = {
	[CH_OPTIONS] = { "SELECT volume, key, value FROM volume_options WHERE volume = ?1 ORDER BY key",
			 "SELECT c.volume, c.key, c.value FROM volume_options c JOIN volumes v ON v.name = c.volume "
			 "WHERE v.state = 'ready' ORDER BY c.volume, c.key" },
	[CH_LABELS] = { "SELECT volume, key, value FROM volume_labels WHERE volume = ?1 ORDER BY key",
			"SELECT c.volume, c.key, c.value FROM volume_labels c JOIN volumes v ON v.name = c.volume "
			"WHERE v.state = 'ready' ORDER BY c.volume, c.key" },
	[CH_USERS] = { "SELECT volume, caller, count FROM volume_users WHERE volume = ?1 ORDER BY caller",
		       "SELECT c.volume, c.caller, c.count FROM volume_users c JOIN volumes v ON v.name = c.volume "
		       "WHERE v.state = 'ready' ORDER BY c.volume, c.caller" },
};

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? s : "";
}

static int volume_from_row(struct lamina_store *store, sqlite3_stmt *st, struct lamina_volume **ret)
{
	struct lamina_volume *v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	*ret = v;
	v->name = strdup(col_text(st, 0));
	v->driver = strdup(col_text(st, 1));
	v->created = sqlite3_column_int64(st, 2);
	v->anonymous = sqlite3_column_int(st, 3) != 0;
	if (!v->name || !v->driver || asprintf(&v->mountpoint, "%s/" LM_STORE_VOLUMES "/%s/_data", store->root,
					       v->name) < 0)
		return -ENOMEM;
	return 0;
}

static int append_kv(struct lamina_kv **arr, size_t *n, const char *key, const char *value)
{
	struct lamina_kv *a = realloc(*arr, (*n + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	*arr = a;
	a[*n].key = strdup(key);
	a[*n].value = strdup(value);
	(*n)++;
	return a[*n - 1].key && a[*n - 1].value ? 0 : -ENOMEM;
}

static int append_user(struct lamina_volume *v, const char *id, unsigned count)
{
	struct lamina_volume_user *a = realloc(v->users, (v->n_users + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	v->users = a;
	a[v->n_users].id = strdup(id);
	a[v->n_users].count = count;
	v->n_users++;
	return a[v->n_users - 1].id ? 0 : -ENOMEM;
}

static int attach_child(struct lamina_volume *v, enum child which, sqlite3_stmt *st)
{
	switch (which) {
	case CH_OPTIONS:
		return append_kv(&v->options, &v->n_options, col_text(st, 1), col_text(st, 2));
	case CH_LABELS:
		return append_kv(&v->labels, &v->n_labels, col_text(st, 1), col_text(st, 2));
	case CH_USERS:
		return append_user(v, col_text(st, 1), (unsigned)sqlite3_column_int64(st, 2));
	}
	return -EINVAL;
}

/* Loads one child table into vols (n sorted volumes; one volume when name). */
static int load_child(struct lamina_store *store, enum child which, const char *name, struct lamina_volume **vols,
		      size_t n, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = lm_db_prepare(store->db, child_sql[which][name ? 0 : 1], &st, err);
	if (r >= 0 && name)
		r = lm_db_bind(st, err, "s", name);
	size_t i = 0;
	while (r >= 0 && (r = lm_db_step(st, err)) == 1) {
		const char *owner = col_text(st, 0);
		while (i < n && strcmp(vols[i]->name, owner) < 0)
			i++;
		if (i < n && !strcmp(vols[i]->name, owner) && (r = attach_child(vols[i], which, st)) < 0)
			return lm_err(err, r, "volume '%s'", owner);
	}
	return r;
}

static int load_children(struct lamina_store *store, const char *name, struct lamina_volume **vols, size_t n,
			 struct lm_error *err)
{
	int r = 0;
	for (enum child c = CH_OPTIONS; r >= 0 && c <= CH_USERS; c++)
		r = load_child(store, c, name, vols, n, err);
	return r;
}

/* Fills each volume's mounted from one read of mountinfo. */
static int mark_mounted(struct lamina_volume **vols, size_t n, struct lm_error *err)
{
	struct libmnt_table *tb = NULL;
	int r = vol_mountinfo(&tb, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		vols[i]->mounted = vol_mounted_in(tb, vols[i]->mountpoint);
	mnt_unref_table(tb);
	return 0;
}

int vol_row_load(struct lamina_store *store, const char *name, struct lamina_volume **ret, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct lamina_volume *v = NULL;
	int r = query_by_name(store, sel_one, name, &st, err);
	if (r == 0)
		return lm_err_plain(err, -ENOENT, "volume '%s': no such volume", name);
	if (r > 0 && (r = volume_from_row(store, st, &v)) < 0)
		lm_err(err, r, "volume '%s'", name);
	if (r >= 0)
		r = load_children(store, name, &v, 1, err);
	if (r >= 0)
		r = mark_mounted(&v, 1, err);
	if (r < 0) {
		lamina_volume_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

int vol_row_load_all(struct lamina_store *store, struct lamina_volume ***ret, size_t *ret_n, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	struct lamina_volume **vols = NULL;
	size_t n = 0;
	int r = lm_db_prepare(store->db, sel_all, &st, err);
	while (r >= 0 && (r = lm_db_step(st, err)) == 1) {
		struct lamina_volume **a = realloc(vols, (n + 1) * sizeof(*a));
		if (!a) {
			r = lm_err(err, -ENOMEM, "volumes");
			break;
		}
		vols = a;
		vols[n] = NULL;
		r = volume_from_row(store, st, &vols[n++]);
		if (r < 0)
			lm_err(err, r, "volumes");
	}
	if (r >= 0)
		r = load_children(store, NULL, vols, n, err);
	if (r >= 0)
		r = mark_mounted(vols, n, err);
	if (r < 0) {
		lamina_volume_list_free(vols, n);
		return r;
	}
	*ret = vols;
	*ret_n = n;
	return 0;
}

int vol_row_names(struct lamina_store *store, enum vol_state state, char ***ret, size_t *ret_n,
		  struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char **names = NULL;
	size_t n = 0;
	int r = lm_db_prepare(store->db, "SELECT name FROM volumes WHERE state = ?1 ORDER BY name", &st, err);
	if (r >= 0)
		r = lm_db_bind(st, err, "s", state_names[state]);
	while (r >= 0 && (r = lm_db_step(st, err)) == 1) {
		char **a = realloc(names, (n + 1) * sizeof(*a));
		if (!a || !(a[n] = strdup(col_text(st, 0)))) {
			names = a ? a : names;
			r = lm_err(err, -ENOMEM, "volumes");
			break;
		}
		names = a;
		n++;
	}
	if (r < 0) {
		vol_names_free(names, n);
		return r;
	}
	*ret = names;
	*ret_n = n;
	return 0;
}

void vol_names_free(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

void lamina_volume_free(struct lamina_volume *v)
{
	if (!v)
		return;
	free(v->name);
	free(v->driver);
	free(v->mountpoint);
	vol_kv_free(v->labels, v->n_labels);
	vol_kv_free(v->options, v->n_options);
	for (size_t i = 0; i < v->n_users; i++)
		free(v->users[i].id);
	free(v->users);
	free(v);
}

void lamina_volume_list_free(struct lamina_volume **volumes, size_t n)
{
	for (size_t i = 0; volumes && i < n; i++)
		lamina_volume_free(volumes[i]);
	free(volumes);
}
