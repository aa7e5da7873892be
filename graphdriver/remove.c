/*
 * graphdriver/remove.c: removing a layer.
 *
 * Order (docs/graphdriver.md), as volumes/remove.c:
 *   1. under the write lock: refuse a layer that is mounted, held, being
 *      filled or the parent of another; drop its names (free at once for
 *      other layers), mark the row 'removing', commit. From here nothing
 *      lists, mounts or builds on it, and the next remove or check --repair
 *      finishes the job;
 *   2. under the write lock: still 'removing'? unmount whatever is left on
 *      its merged folder, rename layers/ID into tmp/ and delete the row,
 *      commit;
 *   3. delete the folder in tmp/ (outside the lock: it can be big).
 * Children whose removal was interrupted are finished before their parent's
 * removal begins (their rows would keep the parent's).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/crashpoint.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"

int gd_retire_locked(struct lamina_store *store, const char *id, struct lm_stage *garbage, struct lm_error *err)
{
	_cleanup_free_ char *rel = NULL, *merged = NULL;
	if (gd_rel(id, NULL, &rel) < 0 || gd_path(store, id, GD_MERGED, &merged) < 0)
		return lm_err(err, -ENOMEM, "layer '%s'", id);
	int r = gd_backend_umount(merged, 0, true, "layer", err);
	if (r < 0)
		return lm_err_prefix(err, "layer '%s'", id);
	struct stat st;
	if (fstatat(store->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		r = lm_stage_take(store, rel, "rm", garbage, err);
		if (r < 0)
			return lm_err_prefix(err, "layer '%s'", id);
	} else if (errno != ENOENT) {
		return lm_err(err, -errno, "layer '%s': cannot look at its folder", id);
	}
	lm_crashpoint("layer-remove:after-rename");
	return gd_row_delete(store, id, err);
}

/* -EBUSY when another process holds layers/ID (apply_diff filling it). */
static int filler_check(struct lamina_store *store, const char *id, struct lm_error *err)
{
	_cleanup_free_ char *rel = NULL;
	if (gd_rel(id, NULL, &rel) < 0)
		return lm_err(err, -ENOMEM, "layer '%s'", id);
	int fd = lm_dir_lock(store->root_fd, rel, LOCK_EX);
	if (fd == -EBUSY)
		return lm_err_plain(err, -EBUSY, "layer '%s': being filled by another process", id);
	lm_close(fd);
	return 0;
}

/* Refuses a layer in use: mounted, held, the parent of a live layer, or a
 * layer of an image. */
static int in_use_check(struct lamina_store *store, const char *id, struct lm_error *err)
{
	size_t users = 0;
	struct gd_mount m = { 0 };
	int r = gd_users_total(store, id, &users, err);
	if (r < 0)
		return r;
	if (users)
		return lm_err_plain(err, -EBUSY, "layer '%s': mounted by %zu caller%s", id, users, users == 1 ? "" : "s");
	if ((r = gd_mount_row(store, id, &m, err)) != 0) {
		gd_mount_release(&m);
		return r < 0 ? r : lm_err_plain(err, -EBUSY, "layer '%s': mounted", id);
	}
	char **kids = NULL;
	size_t n = 0;
	r = gd_row_children(store, id, GD_ABSENT, &kids, &n, err);
	if (r >= 0 && n)
		r = lm_err_plain(err, -EBUSY, "layer '%s': parent of layer '%s'%s", id, kids[0],
				 n > 1 ? " and others" : "");
	gd_strv_free(kids, n);
	if (r < 0)
		return r;
	/* An image's layers go with the image (lamina image rm), which
	 * forgets the image before it removes them. */
	char **images = NULL;
	r = gd_row_images(store, id, &images, &n, err);
	if (r >= 0 && n)
		r = lm_err_plain(err, -EBUSY, "layer '%s': a layer of image '%s'%s", id, images[0],
				 n > 1 ? " and others" : "");
	gd_strv_free(images, n);
	return r;
}

/* Step 1: refuse or mark. */
static int mark_locked(struct lamina_store *store, const char *id, struct lm_error *err)
{
	enum gd_state state;
	int r = gd_row_state(store, id, &state, err);
	if (r < 0)
		return r;
	switch (state) {
	case GD_ABSENT:
		return lm_err_plain(err, -ENOENT, "layer '%s': no such layer", id);
	case GD_REMOVING:
		return 0;
	case GD_CREATING:
		r = filler_check(store, id, err);
		/* fallthrough */
	case GD_READY:
		if (r >= 0)
			r = in_use_check(store, id, err);
		break;
	}
	if (r >= 0)
		r = gd_row_drop_names(store, id, err);
	return r < 0 ? r : gd_row_set_state(store, id, GD_REMOVING, err);
}

/* Step 2: unless another process finished (and maybe made the ID anew). */
static int retire_if_removing(struct lamina_store *store, const char *id, struct lm_stage *garbage,
			      struct lm_error *err)
{
	enum gd_state state;
	int r = gd_row_state(store, id, &state, err);
	if (r < 0 || state != GD_REMOVING)
		return r;
	return gd_retire_locked(store, id, garbage, err);
}

/* Finishes the removals of id's children that a crash interrupted. */
static int finish_children(struct lamina_store *store, const char *id, struct lm_error *err)
{
	char **kids = NULL;
	size_t n = 0;
	int r = gd_row_children(store, id, GD_REMOVING, &kids, &n, err);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = gd_remove(store, kids[i], err);
	gd_strv_free(kids, n);
	return r;
}

int gd_remove(struct lamina_store *store, const char *id, struct lm_error *err)
{
	int r = finish_children(store, id, err);
	if (r < 0 || (r = lm_db_begin(store->db, err)) < 0)
		return r;
	r = mark_locked(store, id, err);
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db);
	if (r < 0)
		return r;
	lm_crashpoint("layer-remove:after-mark");
	struct lm_stage garbage = LM_STAGE_INIT;
	if ((r = lm_db_begin(store->db, err)) < 0)
		return lm_err_prefix(err, "layer '%s': marked for removal", id);
	r = retire_if_removing(store, id, &garbage, err);
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db);
	if (r < 0) {
		lm_stage_release(&garbage);
		return r;
	}
	lm_crashpoint("layer-remove:after-commit");
	r = lm_stage_remove(store, &garbage, NULL);
	if (r < 0)
		return lm_err(err, r, "layer '%s': removed, but not all of its files could be deleted from tmp (see "
				      "lamina check)",
			      id);
	return 0;
}

int lamina_layer_remove(struct lamina_store *store, const char *id_or_name, struct lm_error *err)
{
	_cleanup_free_ char *id = NULL;
	enum gd_state state = GD_ABSENT;
	int r = gd_resolve(store, id_or_name, &id, err);
	if (r == -ENOENT && gd_id_check(id_or_name, NULL) == 0 &&
	    gd_row_state(store, id_or_name, &state, NULL) >= 0 && state == GD_REMOVING)
		return gd_remove(store, id_or_name, err); /* an interrupted removal */
	return r < 0 ? r : gd_remove(store, id, err);
}
