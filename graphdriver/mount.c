/*
 * graphdriver/mount.c: mounting a layer's chain for its callers (Docker's
 * Get and Put), counting their uses in the database, and Cleanup. The
 * mounting itself is backend.c's; the tables are users.c's.
 *
 * Order (docs/graphdriver.md), as volumes/mount.c: mount = under the write
 * lock, mount at the first use (or when the recorded mount is gone), record
 * the mount row, count the caller, commit; a crash between leaves a mount
 * with no row or no user (check --repair unmounts it). unmount = under the
 * write lock, at the last use unmount (waiting for lamina-fuse to exit) and
 * delete the mount row, uncount, commit; a crash between leaves users of an
 * unmounted layer (check --repair mounts it again for them). A failed call
 * rolls back and undoes its mount or unmount: the counts never lie.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/crashpoint.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"

/* A call on one layer under the write lock. */
struct mount_ctx {
	struct lamina_layer *layer;
	const char *caller;
	const struct lamina_layer_mount_opts *opts; /* mount only */
	struct gd_mount m;  /* the mount row, when there is one (or made) */
	bool has_row;
	bool changed; /* this call mounted or unmounted */
	char what[GD_ID_MAX + 16];
};

static void ctx_release(struct mount_ctx *c)
{
	lamina_layer_free(c->layer);
	gd_mount_release(&c->m);
}

/* Mounts c->layer's union at c->m.mountpoint with c->m.backend. */
static int do_mount(struct lamina_store *store, struct mount_ctx *c, struct lm_error *err)
{
	struct gd_union u;
	int r = gd_union_of(store, c->layer, &u, err);
	if (r < 0)
		return r;
	r = gd_backend_mount(c->m.backend, &u, c->m.mountpoint, &c->m.pid, c->what, err);
	gd_union_release(&u);
	return r;
}

/* The mount point to use: the layer's merged/, or the caller's empty folder. */
static int target_of(struct lamina_store *store, struct mount_ctx *c, char **ret, struct lm_error *err)
{
	if (!c->opts->target)
		return gd_path(store, c->layer->id, GD_MERGED, ret) < 0 ? lm_err(err, -ENOMEM, "%s", c->what) : 0;
	_cleanup_free_ char *real = realpath(c->opts->target, NULL);
	_cleanup_close_ int fd = real ? open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd < 0)
		return lm_err(err, -errno, "%s: mount point '%s'", c->what, c->opts->target);
	int r = gd_dir_empty(fd);
	if (r <= 0)
		return r < 0 ? lm_err(err, r, "%s: mount point '%s'", c->what, c->opts->target)
			     : lm_err_plain(err, -ENOTEMPTY, "%s: mount point '%s' is not empty", c->what,
					    c->opts->target);
	*ret = TAKE_PTR(real);
	return 0;
}

/* -EBUSY when a layer of the chain is being filled from a tar (apply_diff
 * exchanges its diff/ under the mount otherwise), or was, and a crash cut
 * it short (lamina check --repair empties it again). */
static int chain_ready(struct lamina_store *store, const struct mount_ctx *c, struct lm_error *err)
{
	char **chain = NULL;
	size_t n = 0;
	int r = gd_row_chain(store, c->layer->id, &chain, &n, err);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		enum gd_state state;
		if ((r = gd_row_state(store, chain[i], &state, err)) >= 0 && state == GD_CREATING)
			r = lm_err_plain(err, -EBUSY, "%s: layer '%s' is being filled from a tar", c->what, chain[i]);
	}
	gd_strv_free(chain, n);
	return r < 0 ? r : 0;
}

/* In the transaction: mount unless mounted as asked, then count the caller. */
static int mount_locked(struct lamina_store *store, struct mount_ctx *c, struct lm_error *err)
{
	_cleanup_free_ char *target = NULL;
	int r = target_of(store, c, &target, err);
	if (r < 0)
		return r;
	if (c->has_row && (c->m.backend != c->opts->backend || strcmp(c->m.mountpoint, target)))
		return lm_err_plain(err, -EBUSY, "%s: already mounted on '%s' with %s", c->what, c->m.mountpoint,
				    gd_backend_name(c->m.backend));
	bool mounted = false;
	if (c->has_row && (r = gd_is_mounted(target, &mounted, err)) < 0)
		return r;
	/* a mount on merged/ with no row is a crash's leftover that nobody
	 * holds: it goes, or the new one would stack on it */
	if (!c->has_row && !c->opts->target && (r = gd_backend_umount(target, 0, true, c->what, err)) < 0)
		return r;
	if (!mounted && (r = chain_ready(store, c, err)) < 0)
		return r;
	if (!mounted) {
		gd_mount_release(&c->m);
		c->m = (struct gd_mount){ .backend = c->opts->backend, .mountpoint = TAKE_PTR(target) };
		if ((r = do_mount(store, c, err)) < 0)
			return r;
		c->changed = true;
		lm_crashpoint("layer-mount:after-mount");
		if ((r = gd_mount_row_insert(store, c->layer->id, &c->m, err)) < 0)
			return r;
	}
	return gd_users_add(store, c->layer->id, c->caller, err);
}

/* In the transaction: at the last use, unmount; then uncount the caller. */
static int unmount_locked(struct lamina_store *store, struct mount_ctx *c, struct lm_error *err)
{
	unsigned count = 0;
	size_t total = 0;
	int r = gd_users_count(store, c->layer->id, c->caller, &count, err);
	if (r >= 0)
		r = gd_users_total(store, c->layer->id, &total, err);
	if (r < 0)
		return r;
	if (count == 0)
		return lm_err_plain(err, -EINVAL, "%s: not mounted by '%s'", c->what, c->caller);
	if (count == 1 && total == 1 && c->has_row) {
		r = gd_backend_umount(c->m.mountpoint, c->m.pid, false, c->what, err);
		if (r < 0)
			return r;
		c->changed = true;
		lm_crashpoint("layer-unmount:after-umount");
		if ((r = gd_mount_row_delete(store, c->layer->id, err)) < 0)
			return r;
	}
	return gd_users_drop(store, c->layer->id, c->caller, count, err);
}

/* Checks the caller, loads the layer under the write lock, runs fn and
 * commits; when anything fails after fn changed the mount, puts it back. */
static int run_locked(struct lamina_store *store, const char *id_or_name, struct mount_ctx *c,
		      int (*fn)(struct lamina_store *, struct mount_ctx *, struct lm_error *), struct lm_error *err)
{
	c->caller = c->caller ? c->caller : LAMINA_VOLUME_DEFAULT_CALLER;
	_cleanup_free_ char *id = NULL;
	int r = gd_label_check("caller ID", c->caller, err);
	if (r >= 0)
		r = lm_db_begin(store->db, err);
	if (r < 0)
		return r;
	if ((r = gd_resolve(store, id_or_name, &id, err)) >= 0)
		r = gd_row_load(store, id, &c->layer, err);
	if (r >= 0) {
		snprintf(c->what, sizeof(c->what), "layer '%s'", id);
		r = gd_mount_row(store, id, &c->m, err);
		c->has_row = r > 0;
	}
	if (r >= 0)
		r = fn(store, c, err);
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	if (r < 0) {
		lm_db_rollback(store->db);
		if (c->changed && fn == mount_locked)
			gd_backend_umount(c->m.mountpoint, c->m.pid, true, c->what, NULL);
		else if (c->changed)
			do_mount(store, c, NULL);
	}
	return r;
}

int lamina_layer_mount(struct lamina_store *store, const char *id_or_name, const struct lamina_layer_mount_opts *opts,
		       char **ret_path, struct lm_error *err)
{
	static const struct lamina_layer_mount_opts defaults = { 0 };
	struct mount_ctx c = { .opts = opts ? opts : &defaults };
	c.caller = c.opts->caller;
	int r = run_locked(store, id_or_name, &c, mount_locked, err);
	if (r >= 0 && ret_path && !(*ret_path = strdup(c.m.mountpoint)))
		r = lm_err(err, -ENOMEM, "%s", c.what);
	ctx_release(&c);
	return r;
}

int lamina_layer_unmount(struct lamina_store *store, const char *id_or_name, const char *caller,
			 struct lm_error *err)
{
	struct mount_ctx c = { .caller = caller };
	int r = run_locked(store, id_or_name, &c, unmount_locked, err);
	ctx_release(&c);
	return r;
}

int gd_remount(struct lamina_store *store, const char *id, struct lm_error *err)
{
	struct mount_ctx c = { 0 };
	snprintf(c.what, sizeof(c.what), "layer '%s'", id);
	int r = gd_row_load(store, id, &c.layer, err);
	if (r >= 0 && (r = gd_mount_row(store, id, &c.m, err)) == 0)
		r = lm_err_plain(err, -ENOENT, "%s: no mount recorded", c.what);
	if (r > 0)
		r = do_mount(store, &c, err);
	if (r >= 0)
		r = gd_mount_row_insert(store, id, &c.m, err); /* the new daemon's pid */
	ctx_release(&c);
	return r;
}

int gd_unmount_all_locked(struct lamina_store *store, const char *id, struct lm_error *err)
{
	struct gd_mount m = { 0 };
	char what[GD_ID_MAX + 16];
	snprintf(what, sizeof(what), "layer '%s'", id);
	int r = gd_mount_row(store, id, &m, err);
	if (r > 0)
		r = gd_backend_umount(m.mountpoint, m.pid, true, what, err);
	gd_mount_release(&m);
	_cleanup_free_ char *merged = NULL;
	if (r >= 0 && gd_path(store, id, GD_MERGED, &merged) < 0)
		r = lm_err(err, -ENOMEM, "%s", what);
	if (r >= 0)
		r = gd_backend_umount(merged, 0, true, what, err); /* a mount with no row */
	if (r >= 0)
		r = gd_mount_row_delete(store, id, err);
	return r < 0 ? r : gd_users_forget(store, id, err);
}

int lamina_layer_cleanup(struct lamina_store *store, struct lm_error *err)
{
	char **ids = NULL;
	size_t n = 0;
	int r = lm_db_begin(store->db, err);
	if (r < 0)
		return r;
	r = gd_row_ids(store, GD_ABSENT, &ids, &n, err);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = gd_unmount_all_locked(store, ids[i], err);
	gd_strv_free(ids, n);
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db);
	return r;
}
