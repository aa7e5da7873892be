/*
 * graphdriver/check.c: lamina check for layers: what the database says
 * against the folders and mounts, and the repair of each disagreement
 * (docs/graphdriver.md lists them). Called by lamina_check()
 * (volumes/check.c), after the volumes and before the sweep of tmp/.
 *
 * As for volumes, everything but the removals of 'removing' rows (which
 * take their own transactions, as any remove) runs under one write lock, so
 * the check never mistakes a create in progress (its folder is in place a
 * moment before its row is committed) for a leftover. Layer folders are
 * never user data: a folder with no row is a crash's leftover and goes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "common/cleanup.h"
#include "common/db.h"
#include "common/error.h"
#include "common/stage.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"

struct check_ctx {
	struct lamina_store *store;
	bool repair;
	struct lamina_check_report *report;
	struct lm_error *err;
};

/* Reports id's problem; what is the message after "layer 'ID': ". */
static int report(struct check_ctx *c, const char *id, bool repaired, const char *what)
{
	int r = lm_check_add(c->report, repaired, "layer '%s': %s", id, what);
	return r < 0 ? lm_err(c->err, r, "check") : 0;
}

/* Runs fn(c, ids[i]) for the rows in state. */
static int each_row(struct check_ctx *c, enum gd_state state, int (*fn)(struct check_ctx *, const char *))
{
	char **ids = NULL;
	size_t n = 0;
	int r = gd_row_ids(c->store, state, &ids, &n, c->err);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = fn(c, ids[i]);
	gd_strv_free(ids, n);
	return r;
}

/* 'removing': a removal that a crash interrupted; finish it. */
static int check_removing(struct check_ctx *c, const char *id)
{
	enum gd_state state = GD_ABSENT;
	if (gd_row_state(c->store, id, &state, NULL) < 0 || state != GD_REMOVING)
		return 0; /* finished with a parent's removal */
	return report(c, id, c->repair && gd_remove(c->store, id, NULL) >= 0, "removal was interrupted");
}

/* 'creating' whose filler is gone: back to empty and ready. */
static int check_creating(struct check_ctx *c, const char *id)
{
	_cleanup_free_ char *rel = NULL;
	if (gd_rel(id, NULL, &rel) < 0)
		return lm_err(c->err, -ENOMEM, "check");
	_cleanup_close_ int lock = lm_dir_lock(c->store->root_fd, rel, LOCK_EX);
	if (lock == -EBUSY)
		return 0; /* being filled right now */
	bool done = c->repair && gd_apply_reset_locked(c->store, id, NULL) >= 0;
	return report(c, id, done, "filling it from a tar was interrupted (emptied again)");
}

/* The layer's folder and its parts. A missing diff cannot be made up: a
 * layer whose whole folder is gone and that nothing builds on or holds
 * loses its row; otherwise a person decides. */
static int check_folder(struct check_ctx *c, const struct lamina_layer *l)
{
	static const char *const subs[] = { GD_DIFF, GD_WORK, GD_MERGED, GD_EMPTY };
	_cleanup_close_ int dir = gd_open_dir(c->store, l->id, NULL, NULL);
	if (dir < 0) {
		char **kids = NULL;
		size_t n = 0;
		int r = gd_row_children(c->store, l->id, GD_ABSENT, &kids, &n, c->err);
		gd_strv_free(kids, n);
		if (r < 0)
			return r;
		bool done = c->repair && n == 0 && l->n_users == 0 && !l->mountpoint &&
			    gd_row_delete(c->store, l->id, NULL) >= 0;
		return report(c, l->id, done, "folder is missing (its row is dropped when nothing uses the layer)");
	}
	for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
		struct stat st;
		if (fstatat(dir, subs[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			continue;
		bool done = c->repair && i > 0 && mkdirat(dir, subs[i], 0700) == 0;
		int r = report(c, l->id, done, i == 0 ? "diff folder is missing" : "a folder of its own is missing");
		if (r < 0)
			return r;
	}
	return 0;
}

/* The users against the mount: nothing mounted that nobody holds, no
 * holder of a layer that is not mounted. */
static int check_mount(struct check_ctx *c, const struct lamina_layer *l)
{
	_cleanup_free_ char *merged = NULL;
	if (gd_path(c->store, l->id, GD_MERGED, &merged) < 0)
		return lm_err(c->err, -ENOMEM, "check");
	bool mounted = false;
	int r = gd_is_mounted(l->mountpoint ? l->mountpoint : merged, &mounted, c->err);
	if (r < 0)
		return r;
	bool done;
	if (mounted && l->n_users == 0) {
		done = c->repair && gd_unmount_all_locked(c->store, l->id, NULL) >= 0;
		return report(c, l->id, done, "mounted, but no caller holds it");
	}
	if (l->mountpoint && l->n_users == 0) {
		done = c->repair && gd_mount_row_delete(c->store, l->id, NULL) >= 0;
		return report(c, l->id, done, "a mount is recorded, but nobody holds it and nothing is mounted");
	}
	if (!mounted && l->n_users > 0 && l->mountpoint) {
		/* mount again rather than forget the users: a holder that still
		 * runs uses this path and must find the tree there */
		done = c->repair && gd_remount(c->store, l->id, NULL) >= 0;
		return report(c, l->id, done, "held by callers, but not mounted");
	}
	if (l->n_users > 0 && !l->mountpoint) {
		done = c->repair && gd_users_forget(c->store, l->id, NULL) >= 0;
		return report(c, l->id, done, "held by callers, but no mount is recorded (users forgotten)");
	}
	return 0;
}

static int check_ready(struct check_ctx *c)
{
	struct lamina_layer **all = NULL;
	size_t n = 0;
	int r = gd_row_load_all(c->store, &all, &n, c->err);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = check_folder(c, all[i]);
		if (r >= 0)
			r = check_mount(c, all[i]);
	}
	lamina_layer_list_free(all, n);
	return r;
}

/* A folder of layers/ with no row: a crash's leftover (create or import
 * between its rename and its commit); unmounted and removed. */
static int check_orphan(struct check_ctx *c, const char *name)
{
	enum gd_state state = GD_ABSENT;
	if (gd_id_check(name, NULL) == 0) {
		int r = gd_row_state(c->store, name, &state, c->err);
		if (r < 0 || state != GD_ABSENT)
			return r;
	}
	_cleanup_free_ char *rel = NULL, *merged = NULL;
	if (gd_rel(name, NULL, &rel) < 0 || gd_path(c->store, name, GD_MERGED, &merged) < 0)
		return lm_err(c->err, -ENOMEM, "check");
	struct lm_stage g = LM_STAGE_INIT;
	bool done = c->repair && gd_backend_umount(merged, 0, true, "layer", NULL) >= 0 &&
		    lm_stage_take(c->store, rel, "rm", &g, NULL) >= 0 && lm_stage_remove(c->store, &g, NULL) >= 0;
	lm_stage_release(&g);
	return report(c, name, done, "folder without a database row");
}

static int check_orphans(struct check_ctx *c)
{
	int fd = lm_store_open_dir(c->store, LM_STORE_LAYERS);
	_cleanup_closedir_ DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int r = fd < 0 ? fd : -errno;
		lm_close(fd);
		return lm_err(c->err, r, "store '%s': cannot read layers", c->store->root);
	}
	struct dirent *de;
	int r = 0;
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = check_orphan(c, de->d_name);
	}
	return r;
}

int gd_check(struct lamina_store *store, bool repair, struct lamina_check_report *report_out, struct lm_error *err)
{
	struct check_ctx c = { store, repair, report_out, err };
	int r = each_row(&c, GD_REMOVING, check_removing);
	if (r < 0 || (r = lm_db_begin(store->db, err)) < 0)
		return r;
	r = each_row(&c, GD_CREATING, check_creating);
	if (r >= 0)
		r = check_ready(&c);
	if (r >= 0)
		r = check_orphans(&c);
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db);
	return r;
}
