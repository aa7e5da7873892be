/*
 * volumes/mount.c: mounting volumes of the types that mount (tmpfs, bind,
 * any kernel file system) at their _data folder, counting their users per
 * caller in the database, and reading /proc/self/mountinfo (libmount) to
 * know what is mounted now.
 *
 * Transient holds: export, import and clone use a volume for a while
 * without counting a user; they hold flock(LOCK_SH) on volumes/NAME, which
 * dies with them. A counted user's last unmount leaves the mount to such a
 * holder, which unmounts when it is done and nobody else holds or uses it.
 *
 * Order (docs/volumes.md): mount = under the write lock, mount(2) when not
 * mounted, then count the user, then commit; a crash between leaves a mount
 * with no user (check --repair unmounts it). unmount = under the write lock,
 * umount(2) at the last use, then uncount, then commit; a crash between
 * leaves a user of an unmounted volume (check --repair mounts it again). A
 * failed mount or umount rolls back: the counts never lie about a call that
 * failed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <libmount.h>

#include "common/cleanup.h"
#include "common/crashpoint.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"
#include "volumes/volumes.h"

int vol_mountinfo(struct libmnt_table **ret, struct lm_error *err)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return lm_err(err, -EIO, "cannot read /proc/self/mountinfo");
	*ret = tb;
	return 0;
}

bool vol_mounted_in(struct libmnt_table *tb, const char *path)
{
	return mnt_table_find_target(tb, path, MNT_ITER_BACKWARD) != NULL;
}

int vol_is_mounted(const char *path, bool *ret, struct lm_error *err)
{
	struct libmnt_table *tb = NULL;
	int r = vol_mountinfo(&tb, err);
	if (r < 0)
		return r;
	*ret = vol_mounted_in(tb, path);
	mnt_unref_table(tb);
	return 0;
}

#ifndef MS_PROPAGATION /* libmount.h has it */
#define MS_PROPAGATION (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)
#endif

/*
 * As mount(8): a bind first (MS_BIND, MS_REC for rbind), then a remount for
 * the flags a bind cannot take at once (ro, nosuid, ...); propagation flags
 * (shared, private, ...) in a call of their own, since the kernel takes them
 * with nothing else.
 */
static int mount_steps(const char *path, const struct vol_spec *spec)
{
	unsigned long prop = spec->flags & MS_PROPAGATION;
	unsigned long flags = spec->flags & ~(MS_PROPAGATION | MS_BIND | MS_REC);
	if (spec->bind) {
		if (mount(spec->device, path, NULL, MS_BIND | (spec->flags & MS_REC), NULL) < 0)
			return -errno;
		if (flags && mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | flags, NULL) < 0)
			return -errno;
	} else if (mount(spec->device, path, spec->type, flags, spec->data) < 0) {
		return -errno;
	}
	if (prop && mount(NULL, path, NULL, prop | (spec->bind ? 0 : spec->flags & MS_REC), NULL) < 0)
		return -errno;
	return 0;
}

int vol_mount_spec(const char *volume, const char *path, const struct vol_spec *spec, struct lm_error *err)
{
	int r = mount_steps(path, spec);
	if (r < 0) {
		umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW); /* a bind whose remount failed */
		return lm_err(err, r, "volume '%s': cannot mount %s '%s'", volume, spec->bind ? "bind" : spec->type,
			      spec->device);
	}
	return 0;
}

int vol_umount(const char *volume, const char *path, bool detach, struct lm_error *err)
{
	if (umount2(path, UMOUNT_NOFOLLOW) == 0)
		return 0;
	if (errno == EINVAL)
		return 0; /* not a mount point (any more) */
	if (errno == EBUSY && detach && umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		return 0;
	return lm_err(err, -errno, "volume '%s': cannot unmount '%s'", volume, path);
}

/* ---- transient holds (see volumes.h) */

int vol_hold_lock(struct lamina_store *store, const char *name, struct lm_error *err)
{
	_cleanup_free_ char *rel = NULL;
	if (vol_rel_dir(name, &rel) < 0)
		return lm_err(err, -ENOMEM, "volume '%s'", name);
	int fd = lm_dir_lock(store->root_fd, rel, LOCK_SH);
	return fd < 0 ? lm_err(err, fd, "volume '%s': cannot lock its folder", name) : fd;
}

bool vol_hold_others(struct lamina_store *store, const char *name)
{
	_cleanup_free_ char *rel = NULL;
	if (vol_rel_dir(name, &rel) < 0)
		return true; /* out of memory: assume the safe answer */
	int fd = lm_dir_lock(store->root_fd, rel, LOCK_EX);
	lm_close(fd);
	return fd == -EBUSY;
}

bool vol_spec_needs_detach(const struct vol_spec *spec)
{
	return spec->bind && (spec->flags & MS_REC);
}

/* ---- users */

static int users_count(struct lamina_store *store, const char *name, const char *caller, unsigned *ret,
		       struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = lm_db_prepare(store->db, "SELECT count FROM volume_users WHERE volume = ?1 AND caller = ?2", &st, err);
	if (r >= 0)
		r = lm_db_bind(st, err, "ss", name, caller);
	if (r >= 0)
		r = lm_db_step(st, err);
	if (r < 0)
		return r;
	*ret = r ? (unsigned)sqlite3_column_int64(st, 0) : 0;
	return 0;
}

static int users_add(struct lamina_store *store, const char *name, const char *caller, struct lm_error *err)
{
	return lm_db_run(store->db, err,
			 "INSERT INTO volume_users (volume, caller, count) VALUES (?1, ?2, 1) "
			 "ON CONFLICT (volume, caller) DO UPDATE SET count = count + 1",
			 "ss", name, caller);
}

static int users_drop(struct lamina_store *store, const char *name, const char *caller, unsigned count,
		      struct lm_error *err)
{
	if (count > 1)
		return lm_db_run(store->db, err,
				 "UPDATE volume_users SET count = count - 1 WHERE volume = ?1 AND caller = ?2", "ss",
				 name, caller);
	return lm_db_run(store->db, err, "DELETE FROM volume_users WHERE volume = ?1 AND caller = ?2", "ss", name,
			 caller);
}

/* A loaded ready volume and what its options mean, for the two calls. */
struct mount_ctx {
	struct lamina_volume *v;
	struct vol_spec spec;
	const char *caller;
	bool changed; /* this call mounted or unmounted */
};

static void ctx_release(struct mount_ctx *c)
{
	vol_spec_release(&c->spec);
	lamina_volume_free(c->v);
}

/*
 * Checks the names, loads the volume under the write lock, runs fn and
 * commits. When anything fails after fn changed the mount, undo puts it
 * back: the counts and the mount never disagree because of a failed call.
 */
static int run_locked(struct lamina_store *store, const char *name, struct mount_ctx *c,
		      int (*fn)(struct lamina_store *, struct mount_ctx *, struct lm_error *),
		      void (*undo)(struct mount_ctx *), struct lm_error *err)
{
	c->caller = c->caller ? c->caller : LAMINA_VOLUME_DEFAULT_CALLER;
	int r = lamina_volume_name_check(name, err);
	if (r >= 0)
		r = vol_caller_check(name, c->caller, err);
	if (r >= 0)
		r = lm_db_begin(store->db, err);
	if (r < 0)
		return r;
	r = vol_row_load(store, name, &c->v, err);
	if (r >= 0)
		r = vol_spec_parse(name, c->v->options, c->v->n_options, &c->spec, err);
	if (r >= 0)
		r = fn(store, c, err);
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	if (r < 0) {
		lm_db_rollback(store->db);
		if (c->changed)
			undo(c);
	}
	return r;
}

/* The data folder is there (a crash or a person may have removed it). */
static int data_folder_check(struct lamina_store *store, const struct lamina_volume *v, struct lm_error *err)
{
	/* mountpoint is ROOT/volumes/NAME/_data: its part below the root */
	const char *rel = v->mountpoint + strlen(store->root) + 1;
	struct stat st;
	int r = fstatat(store->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno
		: S_ISDIR(st.st_mode)					    ? 0
									    : -ENOTDIR;
	if (r < 0)
		return lm_err(err, r, "volume '%s': data folder '%s' (lamina check --repair makes it again)", v->name,
			      v->mountpoint);
	return 0;
}

/* In the transaction: mount when needed, then count the caller. */
static int mount_locked(struct lamina_store *store, struct mount_ctx *c, struct lm_error *err)
{
	int r = data_folder_check(store, c->v, err);
	if (r < 0)
		return r;
	if (c->spec.type && !c->v->mounted) {
		r = vol_mount_spec(c->v->name, c->v->mountpoint, &c->spec, err);
		if (r < 0)
			return r;
		c->changed = true;
	}
	lm_crashpoint("volume-mount:after-mount");
	r = users_add(store, c->v->name, c->caller, err);
	return r < 0 ? lm_err_prefix(err, "volume '%s'", c->v->name) : 0;
}

static void undo_mount(struct mount_ctx *c)
{
	vol_umount(c->v->name, c->v->mountpoint, true, NULL);
}

int lamina_volume_mount(struct lamina_store *store, const char *name, const char *caller, char **ret_path,
			struct lm_error *err)
{
	struct mount_ctx c = { .caller = caller };
	int r = run_locked(store, name, &c, mount_locked, undo_mount, err);
	if (r >= 0 && ret_path && !(*ret_path = strdup(c.v->mountpoint)))
		r = lm_err(err, -ENOMEM, "volume '%s'", name);
	ctx_release(&c);
	return r;
}

/* In the transaction: at the last use, umount; then uncount the caller. */
static int unmount_locked(struct lamina_store *store, struct mount_ctx *c, struct lm_error *err)
{
	unsigned count = 0;
	int r = users_count(store, c->v->name, c->caller, &count, err);
	if (r < 0)
		return lm_err_prefix(err, "volume '%s'", c->v->name);
	if (count == 0)
		return lm_err_plain(err, -EINVAL, "volume '%s': not mounted by '%s'", c->v->name, c->caller);
	/* at the last use, unless an export, import or clone still reads it
	 * (that one unmounts when it is done) */
	bool last = count == 1 && c->v->n_users == 1 && !vol_hold_others(store, c->v->name);
	if (last && c->spec.type && c->v->mounted) {
		r = vol_umount(c->v->name, c->v->mountpoint, vol_spec_needs_detach(&c->spec), err);
		if (r < 0)
			return r;
		c->changed = true;
	}
	lm_crashpoint("volume-unmount:after-umount");
	r = users_drop(store, c->v->name, c->caller, count, err);
	return r < 0 ? lm_err_prefix(err, "volume '%s'", c->v->name) : 0;
}

static void undo_unmount(struct mount_ctx *c)
{
	vol_mount_spec(c->v->name, c->v->mountpoint, &c->spec, NULL);
}

int lamina_volume_unmount(struct lamina_store *store, const char *name, const char *caller, struct lm_error *err)
{
	struct mount_ctx c = { .caller = caller };
	int r = run_locked(store, name, &c, unmount_locked, undo_unmount, err);
	ctx_release(&c);
	return r;
}
