/*
 * graphdriver/layer.c: creating empty layers, and making any staged layer
 * folder a layer (create and import share it); inspect and list.
 *
 * Adding a layer (docs/graphdriver.md):
 *   1. outside any lock: build tmp/STAGE/{diff,work,merged,empty} (import
 *      applies its tar into diff/ here, which takes long), fsync;
 *   2. under the write lock (BEGIN IMMEDIATE): the parent exists, the ID and
 *      the names are free (an ID whose removal a crash interrupted is
 *      finished first; a folder layers/ID with no row, a crash's leftover,
 *      goes), rename STAGE to layers/ID, fsync, insert the row, its names and
 *      its file hashes, commit.
 * A crash before the commit leaves no row: a folder in tmp/ or a folder in
 * layers/ without a row, both cleared by check --repair (and the latter by
 * the next create of that ID).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/crashpoint.h"
#include "common/db.h"
#include "common/error.h"
#include "common/fsops.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"

int gd_opts_check(const struct lamina_layer_create_opts *opts, char id_buf[GD_ID_MAX + 1], struct lm_error *err)
{
	int r = opts->id ? gd_id_check(opts->id, err) : gd_id_random(id_buf, err);
	if (r < 0)
		return r;
	if (opts->id)
		strcpy(id_buf, opts->id);
	for (size_t i = 0; i < opts->n_names; i++) {
		if ((r = gd_label_check("name", opts->names[i], err)) < 0)
			return lm_err_prefix(err, "layer '%s'", id_buf);
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(opts->names[i], opts->names[j]))
				return lm_err_plain(err, -EINVAL, "layer '%s': name '%s' given twice", id_buf,
						    opts->names[i]);
		}
	}
	return 0;
}

int gd_stage_skeleton(struct lm_stage *st, bool with_diff, const char *id, struct lm_error *err)
{
	static const char *const subs[] = { GD_DIFF, GD_WORK, GD_MERGED, GD_EMPTY };
	for (size_t i = with_diff ? 0 : 1; i < ELEMENTSOF(subs); i++) {
		if (mkdirat(st->fd, subs[i], i == 0 ? 0755 : 0700) < 0)
			return lm_err(err, -errno, "layer '%s': cannot make its folder '%s'", id, subs[i]);
	}
	return 0;
}

int gd_dir_empty(int dirfd)
{
	bool full;
	int r = lm_dir_has_entries(dirfd, NULL, &full);
	return r < 0 ? r : !full;
}

int gd_open_dir(struct lamina_store *store, const char *id, const char *sub, struct lm_error *err)
{
	_cleanup_free_ char *rel = NULL;
	if (gd_rel(id, sub, &rel) < 0)
		return lm_err(err, -ENOMEM, "layer '%s'", id);
	int fd = lm_store_open_dir(store, rel);
	return fd < 0 ? lm_err(err, fd, "layer '%s': cannot open '%s'", id, rel) : fd;
}

/* The parent, resolved to its ID in *ret (yours): it must be ready. */
static int parent_locked(struct lamina_store *store, const char *parent, char **ret, struct lm_error *err)
{
	int r = gd_resolve(store, parent, ret, err);
	if (r < 0)
		return lm_err_prefix(err, "parent");
	enum gd_state state;
	r = gd_row_state(store, *ret, &state, err);
	if (r >= 0 && state != GD_READY)
		r = lm_err_plain(err, -EBUSY, "parent layer '%s': being filled by another process", parent);
	return r;
}

/* The ID is free: an interrupted removal is finished, a folder with no
 * row (a crash's leftover) goes to *garbage. */
static int id_free_locked(struct lamina_store *store, const char *id, struct lm_stage *garbage,
			  struct lm_error *err)
{
	enum gd_state state;
	int r = gd_row_state(store, id, &state, err);
	if (r < 0)
		return r;
	if (state == GD_REMOVING)
		return gd_retire_locked(store, id, garbage, err);
	if (state != GD_ABSENT)
		return lm_err_plain(err, -EEXIST, "layer '%s': already exists", id);
	if ((r = gd_taken_check(store, id, false, err)) < 0)
		return r;
	_cleanup_free_ char *rel = NULL;
	if (gd_rel(id, NULL, &rel) < 0)
		return lm_err(err, -ENOMEM, "layer '%s'", id);
	struct stat stb;
	if (fstatat(store->root_fd, rel, &stb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : lm_err(err, -errno, "layer '%s'", id);
	r = lm_stage_take(store, rel, "rm", garbage, err);
	return r < 0 ? lm_err_prefix(err, "layer '%s': leftover folder", id) : 0;
}

/* Step 2 of the top of this file, inside the transaction. */
static int add_locked(struct lamina_store *store, struct gd_row *row, const char *parent, struct lm_stage *st,
		      const struct gd_apply_result *res, struct lm_stage *garbage, const char *crash_tag,
		      char **parent_id, struct lm_error *err)
{
	int r = parent ? parent_locked(store, parent, parent_id, err) : 0;
	if (r >= 0)
		r = id_free_locked(store, row->id, garbage, err);
	for (size_t i = 0; r >= 0 && i < row->n_names; i++)
		r = gd_taken_check(store, row->names[i], true, err);
	if (r < 0)
		return r;
	row->parent = *parent_id;
	_cleanup_free_ char *rel = NULL;
	if (gd_rel(row->id, NULL, &rel) < 0)
		return lm_err(err, -ENOMEM, "layer '%s'", row->id);
	if ((r = lm_stage_commit(store, st, rel, err)) < 0)
		return lm_err_prefix(err, "layer '%s'", row->id);
	lm_crashpoint(crash_tag);
	r = gd_row_insert(store, row, err);
	if (r >= 0 && res)
		r = gd_row_set_content(store, row->id, res, err);
	return r;
}

/* Takes layers/ID back out when its row was not committed. */
static void drop_folder(struct lamina_store *store, const char *id)
{
	_cleanup_free_ char *rel = NULL;
	struct lm_stage g = LM_STAGE_INIT;
	if (gd_rel(id, NULL, &rel) >= 0 && lm_stage_take(store, rel, "rm", &g, NULL) >= 0)
		lm_stage_remove(store, &g, NULL);
}

int gd_layer_add(struct lamina_store *store, struct gd_row *row, const char *parent, struct lm_stage *st,
		 const struct gd_apply_result *res, const char *crash_tag, struct lm_error *err)
{
	_cleanup_free_ char *parent_id = NULL;
	struct lm_stage garbage = LM_STAGE_INIT;
	int r = lm_db_begin(store->db, err);
	if (r < 0)
		return r;
	r = add_locked(store, row, parent, st, res, &garbage, crash_tag, &parent_id, err);
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db); /* when the commit did not happen */
	if (r < 0 && !st->name)
		drop_folder(store, row->id); /* it was renamed in */
	row->parent = NULL;
	lm_stage_remove(store, &garbage, NULL);
	return r;
}

/* A loaded copy of id for *ret, when ret is non-NULL. */
static int answer(struct lamina_store *store, const char *id, struct lamina_layer **ret, struct lm_error *err)
{
	return ret ? gd_row_load(store, id, ret, err) : 0;
}

int lamina_layer_create(struct lamina_store *store, const struct lamina_layer_create_opts *opts,
			struct lamina_layer **ret, struct lm_error *err)
{
	char id[GD_ID_MAX + 1];
	int r = gd_opts_check(opts, id, err);
	if (r < 0)
		return r;
	struct lm_stage st = LM_STAGE_INIT;
	if ((r = lm_stage_new(store, "create", &st, err)) < 0)
		return lm_err_prefix(err, "layer '%s'", id);
	r = gd_stage_skeleton(&st, true, id, err);
	lm_crashpoint("layer-create:after-mkdir");
	struct gd_row row = { .id = id, .names = opts->names, .n_names = opts->n_names,
			      .read_write = opts->read_write, .created = time(NULL) };
	if (r >= 0)
		r = gd_layer_add(store, &row, opts->parent, &st, NULL, "layer-create:after-rename", err);
	lm_stage_remove(store, &st, NULL); /* when it was not moved in */
	return r < 0 ? r : answer(store, id, ret, err);
}

int lamina_layer_inspect(struct lamina_store *store, const char *id_or_name, struct lamina_layer **ret,
			 struct lm_error *err)
{
	_cleanup_free_ char *id = NULL;
	int r = gd_resolve(store, id_or_name, &id, err);
	return r < 0 ? r : answer(store, id, ret, err);
}

int lamina_layer_list(struct lamina_store *store, struct lamina_layer ***ret, size_t *ret_n, struct lm_error *err)
{
	return gd_row_load_all(store, ret, ret_n, err);
}
