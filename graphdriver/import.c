/*
 * graphdriver/import.c: filling layers from tars: import (a new layer, in
 * one step) and apply_diff (into an empty layer that exists, Docker's
 * ApplyDiff after Create). Applying the tar is gd_apply's (layerfs.h).
 *
 * Import: the tar goes into tmp/STAGE/diff, synced; then the staged folder
 * becomes a layer as any created one (layer.c): one rename, one commit.
 *
 * apply_diff (docs/graphdriver.md):
 *   1. under the write lock: the layer is ready, unused and empty; take
 *      flock on layers/ID (held to the end), mark it 'creating', commit;
 *   2. apply the tar into tmp/STAGE/diff, sync;
 *   3. under the write lock: exchange tmp/STAGE/diff with layers/ID/diff
 *      (renameat2 RENAME_EXCHANGE), record digests and hashes, mark it
 *      'ready', commit; then delete the stage (the old empty diff).
 * A crash leaves a 'creating' row whose lock is free: check --repair (or the
 * next apply_diff) empties its diff again and makes it 'ready', as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/crashpoint.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"

void gd_apply_opts_init(struct gd_apply_opts *o, const char *what)
{
	bool root = geteuid() == 0;
	*o = (struct gd_apply_opts){ .what = what, .markers = root ? GD_MARKERS_KERNEL : GD_MARKERS_WH,
				     .keep_owner = root, .allow_devices = root };
}

/* Applies the tar from fd into st's diff/ and syncs it. */
static int apply_staged(struct lm_stage *st, const char *id, int fd, struct gd_apply_result *res,
			struct lm_error *err)
{
	char what[GD_ID_MAX + 16];
	snprintf(what, sizeof(what), "layer '%s'", id);
	_cleanup_close_ int diff = openat(st->fd, GD_DIFF, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (diff < 0)
		return lm_err(err, -errno, "%s: cannot open its staged diff", what);
	struct gd_apply_opts o;
	gd_apply_opts_init(&o, what);
	int r = gd_apply(fd, diff, &o, res, err);
	if (r < 0)
		return r;
	if (syncfs(diff) < 0) {
		gd_apply_result_release(res);
		return lm_err(err, -errno, "%s: cannot sync its files", what);
	}
	return 0;
}

int lamina_layer_import(struct lamina_store *store, const struct lamina_layer_create_opts *opts, int fd,
			struct lamina_layer **ret, struct lm_error *err)
{
	char id[GD_ID_MAX + 1];
	int r = gd_opts_check(opts, id, err);
	if (r < 0)
		return r;
	struct lm_stage st = LM_STAGE_INIT;
	if ((r = lm_stage_new(store, "import", &st, err)) < 0)
		return lm_err_prefix(err, "layer '%s'", id);
	struct gd_apply_result res = { 0 };
	r = gd_stage_skeleton(&st, true, id, err);
	if (r >= 0 && (r = apply_staged(&st, id, fd, &res, err)) >= 0) {
		lm_crashpoint("layer-import:after-apply");
		struct gd_row row = { .id = id, .names = opts->names, .n_names = opts->n_names,
				      .read_write = opts->read_write, .created = time(NULL) };
		r = gd_layer_add(store, &row, opts->parent, &st, &res, "layer-import:after-rename", err);
		gd_apply_result_release(&res);
	}
	lm_stage_remove(store, &st, NULL);
	return r < 0 || !ret ? r : gd_row_load(store, id, ret, err);
}

int gd_apply_reset_locked(struct lamina_store *store, const char *id, struct lm_error *err)
{
	_cleanup_free_ char *rel = NULL;
	struct lm_stage g = LM_STAGE_INIT;
	if (gd_rel(id, GD_DIFF, &rel) < 0)
		return lm_err(err, -ENOMEM, "layer '%s'", id);
	int r = lm_stage_take(store, rel, "rm", &g, err);
	if (r < 0 && r != -ENOENT)
		return lm_err_prefix(err, "layer '%s'", id);
	if (mkdirat(store->root_fd, rel, 0755) < 0)
		r = lm_err(err, -errno, "layer '%s': cannot make its diff again", id);
	else if ((r = gd_row_set_content(store, id, NULL, err)) >= 0)
		r = gd_row_set_state(store, id, GD_READY, err);
	lm_stage_remove(store, &g, NULL);
	return r;
}

/* 1 when the layer's diff is empty, 0 when not, or -errno. */
static int diff_empty(struct lamina_store *store, const char *id, struct lm_error *err)
{
	_cleanup_close_ int fd = gd_open_dir(store, id, GD_DIFF, err);
	if (fd < 0)
		return fd;
	int r = gd_dir_empty(fd);
	return r < 0 ? lm_err(err, r, "layer '%s': cannot read its diff", id) : r;
}

/* Step 1, in the transaction: *lock gets the fd holding layers/ID. */
static int begin_locked(struct lamina_store *store, const char *id, int *lock, struct lm_error *err)
{
	enum gd_state state;
	size_t users = 0;
	struct lamina_layer *l = NULL;
	_cleanup_free_ char *rel = NULL;
	int r = gd_row_state(store, id, &state, err);
	if (r < 0 || gd_rel(id, NULL, &rel) < 0)
		return r < 0 ? r : lm_err(err, -ENOMEM, "layer '%s'", id);
	/* a remove marked it after this call looked it up: it stays removed */
	if (state != GD_READY && state != GD_CREATING)
		return lm_err_plain(err, -ENOENT, "layer '%s': no such layer", id);
	if ((*lock = lm_dir_lock(store->root_fd, rel, LOCK_EX)) < 0)
		return lm_err(err, *lock == -EBUSY ? -EBUSY : *lock, "layer '%s': cannot lock its folder", id);
	if (state == GD_CREATING && (r = gd_apply_reset_locked(store, id, err)) < 0)
		return r; /* an apply whose process died */
	if ((r = gd_users_total(store, id, &users, err)) < 0 || (r = gd_row_load(store, id, &l, err)) < 0)
		return r;
	if (users || l->mountpoint)
		r = lm_err_plain(err, -EBUSY, "layer '%s': mounted", id);
	else if (l->diff_id || (r = diff_empty(store, id, err)) == 0)
		r = r < 0 ? r : lm_err_plain(err, -ENOTEMPTY, "layer '%s': already has content", id);
	lamina_layer_free(l);
	return r < 0 ? r : gd_row_set_state(store, id, GD_CREATING, err);
}

/* Step 3, in the transaction. */
static int finish_locked(struct lamina_store *store, const char *id, struct lm_stage *st,
			 const struct gd_apply_result *res, struct lm_error *err)
{
	_cleanup_free_ char *rel = NULL;
	_cleanup_close_ int tmp = lm_store_open_dir(store, LM_STORE_TMP);
	if (gd_rel(id, GD_DIFF, &rel) < 0 || tmp < 0)
		return lm_err(err, tmp < 0 ? tmp : -ENOMEM, "layer '%s'", id);
	_cleanup_free_ char *staged = NULL;
	if (asprintf(&staged, "%s/" GD_DIFF, st->name) < 0)
		return lm_err(err, -ENOMEM, "layer '%s'", id);
	if (renameat2(tmp, staged, store->root_fd, rel, RENAME_EXCHANGE) < 0)
		return lm_err(err, -errno, "layer '%s': cannot move its new diff in", id);
	lm_crashpoint("layer-apply:after-exchange");
	int r = gd_row_set_content(store, id, res, err);
	if (r >= 0)
		r = gd_row_set_state(store, id, GD_READY, err);
	if (r < 0)
		renameat2(tmp, staged, store->root_fd, rel, RENAME_EXCHANGE); /* put the empty one back */
	return r;
}

/* Runs fn in a write transaction; commits, or rolls back on failure. */
static int in_transaction(struct lamina_store *store, int r, int (*fn)(void *arg, struct lm_error *err), void *arg,
			  struct lm_error *err)
{
	if (r < 0 || (r = lm_db_begin(store->db, err)) < 0)
		return r;
	r = fn(arg, err);
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db);
	return r;
}

struct apply_ctx {
	struct lamina_store *store;
	const char *id;
	int lock;
	struct lm_stage st;
	struct gd_apply_result res;
};

static int begin_fn(void *arg, struct lm_error *err)
{
	struct apply_ctx *a = arg;
	return begin_locked(a->store, a->id, &a->lock, err);
}

static int finish_fn(void *arg, struct lm_error *err)
{
	struct apply_ctx *a = arg;
	return finish_locked(a->store, a->id, &a->st, &a->res, err);
}

/* Back to empty and ready, unless a remove marked the layer meanwhile
 * (its removal then deletes the half-filled folder). */
static int reset_fn(void *arg, struct lm_error *err)
{
	struct apply_ctx *a = arg;
	enum gd_state state;
	int r = gd_row_state(a->store, a->id, &state, err);
	if (r < 0 || state != GD_CREATING)
		return r;
	return gd_apply_reset_locked(a->store, a->id, err);
}

int lamina_layer_apply_diff(struct lamina_store *store, const char *id_or_name, int fd, uint64_t *ret_size,
			    struct lm_error *err)
{
	_cleanup_free_ char *id = NULL;
	int r = gd_resolve(store, id_or_name, &id, err);
	if (r < 0)
		return r;
	struct apply_ctx a = { .store = store, .id = id, .lock = -1, .st = LM_STAGE_INIT };
	if ((r = in_transaction(store, 0, begin_fn, &a, err)) < 0) {
		lm_close(a.lock);
		return r;
	}
	lm_crashpoint("layer-apply:after-mark");
	r = lm_stage_new(store, "apply", &a.st, err);
	if (r >= 0 && mkdirat(a.st.fd, GD_DIFF, 0755) < 0)
		r = lm_err(err, -errno, "layer '%s': cannot make a staging folder", id);
	if (r >= 0)
		r = apply_staged(&a.st, id, fd, &a.res, err);
	lm_crashpoint("layer-apply:after-apply");
	r = in_transaction(store, r, finish_fn, &a, err);
	if (r < 0)
		in_transaction(store, 0, reset_fn, &a, NULL); /* back to empty and ready */
	else if (ret_size)
		*ret_size = a.res.size;
	gd_apply_result_release(&a.res);
	lm_stage_remove(store, &a.st, NULL);
	lm_close(a.lock);
	return r;
}
