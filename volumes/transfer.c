/*
 * volumes/transfer.c: a volume's content in and out: export (a tar), import
 * (from a tar, into a new or empty volume) and clone (a copy into a new
 * volume). The tar and the copy themselves are common/tar.c's and
 * common/treecopy.c's; this file owns the order of the steps around them.
 *
 * A volume of a type that mounts is mounted for the time of the transfer
 * when nobody holds it, without counting a user: a crash leaves a mount
 * nobody holds, which check --repair unmounts. A new volume (import of a
 * missing name, clone) is a plain one in state 'creating', locked by this
 * process, until its content is complete and synced: a crash leaves a
 * 'creating' row whose maker is gone, which no command lists and which the
 * next create of the name or check --repair drops.
 *
 * Import of a plain volume extracts into tmp/import-X (a staging folder
 * given the old _data's mode and owner), syncs it, then, under the write
 * lock, swaps it with the empty _data (renameat2 RENAME_EXCHANGE) and
 * deletes the old one: the volume is never seen half-filled. Into a
 * mounted volume, the tar goes to .lamina-import-X inside the mounted file
 * system (a rename cannot cross file systems), and its entries are moved in
 * under the write lock. Docs: docs/volumes.md.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/crashpoint.h"
#include "common/db.h"
#include "common/error.h"
#include "common/fsops.h"
#include "common/random.h"
#include "common/rmtree.h"
#include "common/store.h"
#include "common/tar.h"
#include "common/treecopy.h"
#include "volumes/volumes.h"

/* A ready volume held (a transient hold, volumes.h) and mounted when of
 * a type that mounts, for a transfer. */
struct hold {
	struct lamina_volume *v;
	struct vol_spec spec;
	int lock; /* flock(LOCK_SH) of volumes/NAME */
};
#define HOLD_INIT { .lock = -1 }

/* In the caller's write transaction: loads name, holds it, and mounts it
 * when it is of a type that mounts and nothing is mounted. */
static int hold_locked(struct lamina_store *store, const char *name, struct hold *h, struct lm_error *err)
{
	int r = vol_row_load(store, name, &h->v, err);
	if (r >= 0)
		r = vol_spec_parse(name, h->v->options, h->v->n_options, &h->spec, err);
	if (r >= 0)
		r = h->lock = vol_hold_lock(store, name, err);
	if (r >= 0 && h->spec.type && !h->v->mounted)
		r = vol_mount_spec(name, h->v->mountpoint, &h->spec, err);
	return r;
}

/* Lets go of the hold; the last holder of a volume nobody uses unmounts it
 * (whoever mounted it: a mount with no user and no holder is a leftover).
 * Frees h. */
static void hold_release(struct lamina_store *store, struct hold *h)
{
	size_t users = 0;
	bool mounted = false;
	if (h->v && h->spec.type && lm_db_begin(store->db, NULL) >= 0) {
		h->lock = lm_close(h->lock);
		if (!vol_hold_others(store, h->v->name) && vol_row_n_users(store, h->v->name, &users, NULL) >= 0 &&
		    users == 0 && vol_is_mounted(h->v->mountpoint, &mounted, NULL) >= 0 && mounted)
			vol_umount(h->v->name, h->v->mountpoint, vol_spec_needs_detach(&h->spec), NULL);
		lm_db_commit(store->db, NULL);
		lm_db_rollback(store->db);
	}
	lm_close(h->lock);
	vol_spec_release(&h->spec);
	lamina_volume_free(h->v);
	*h = (struct hold)HOLD_INIT;
}

/* The data folder of name (a mounted one's root), for reading or writing. */
static int open_data(struct lamina_store *store, const char *name, struct lm_error *err)
{
	_cleanup_free_ char *rel = NULL;
	if (vol_rel_data(name, &rel) < 0)
		return lm_err(err, -ENOMEM, "volume '%s'", name);
	int fd = openat(store->root_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? lm_err(err, -errno, "volume '%s': cannot open its data folder", name) : fd;
}

/* ---- a new volume in state 'creating' */

struct fresh {
	const char *name;
	struct lm_stage lock; /* volumes/NAME, held while 'creating' */
	bool made;
};

/* In the caller's write transaction: a plain volume in state 'creating',
 * with labels. -EEXIST when the name is taken. */
static int fresh_locked(struct lamina_store *store, struct fresh *f, struct lamina_kv *labels, size_t n_labels,
			struct lm_stage *garbage, struct lm_error *err)
{
	struct vol_new nv = { .name = f->name, .labels = labels, .n_labels = n_labels, .state = VOL_CREATING };
	int r = vol_create_locked(store, &nv, NULL, &f->lock, garbage, err);
	f->made = r == 0;
	return r;
}

/* Makes the new volume ready (its content complete) and lets it go. */
static int fresh_finish(struct lamina_store *store, struct fresh *f, struct lm_error *err)
{
	int r = lm_db_begin(store->db, err);
	if (r >= 0)
		r = vol_row_set_state(store, f->name, VOL_READY, err);
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db);
	if (r >= 0) {
		lm_stage_release(&f->lock);
		f->made = false;
	}
	return r;
}

/* Drops the new volume after a failure, under the write lock (so nobody
 * takes it between the unlock and the removal). */
static void fresh_drop(struct lamina_store *store, struct fresh *f)
{
	struct lm_stage garbage = LM_STAGE_INIT;
	if (!f->made)
		return;
	if (lm_db_begin(store->db, NULL) >= 0) {
		lm_stage_release(&f->lock); /* retire takes the folder's lock */
		if (vol_retire_locked(store, f->name, &garbage, NULL) >= 0)
			lm_db_commit(store->db, NULL);
		lm_db_rollback(store->db);
	}
	lm_stage_release(&f->lock);
	lm_stage_remove(store, &garbage, NULL);
	f->made = false;
}

/* ---- export */

int lamina_volume_export(struct lamina_store *store, const char *name, int fd, struct lm_error *err)
{
	int r = lamina_volume_name_check(name, err);
	if (r < 0)
		return r;
	struct hold h = HOLD_INIT;
	r = lm_db_begin(store->db, err);
	if (r >= 0 && (r = hold_locked(store, name, &h, err)) >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db);
	if (r < 0) {
		hold_release(store, &h);
		return r;
	}
	lm_crashpoint("volume-export:after-mount");
	char what[LAMINA_VOLUME_NAME_MAX + 16];
	snprintf(what, sizeof(what), "volume '%s'", name);
	int data = open_data(store, name, err);
	r = data < 0 ? data : lm_tar_write_tree(data, fd, what, err);
	lm_close(data); /* before the unmount */
	hold_release(store, &h);
	return r;
}

/* ---- import */

struct import {
	const char *name;
	char what[LAMINA_VOLUME_NAME_MAX + 16];
	int in;
	struct hold h;   /* an existing volume */
	struct fresh f;  /* or a new one */
};

static int refuse_unless_empty(struct import *im, int data, const char *except, struct lm_error *err)
{
	bool full = false;
	int r = lm_dir_has_entries(data, except, &full);
	if (r < 0)
		return lm_err(err, r, "%s: cannot read its data folder", im->what);
	if (full)
		return lm_err_plain(err, -ENOTEMPTY, "%s: not empty (import fills a new or empty volume)", im->what);
	return 0;
}

/* In the write transaction: an existing volume must be unused and empty
 * (mounted for a look when of a type that mounts); a missing one is made. */
static int import_target_locked(struct lamina_store *store, struct import *im, struct lm_stage *garbage,
				struct lm_error *err)
{
	enum vol_state state;
	int r = vol_row_state(store, im->name, &state, err);
	if (r < 0)
		return r;
	if (state != VOL_READY)
		return fresh_locked(store, &im->f, NULL, 0, garbage, err);
	r = hold_locked(store, im->name, &im->h, err);
	if (r < 0)
		return r;
	if (im->h.v->n_users)
		return lm_err_plain(err, -EBUSY, "%s: in use (import fills a volume nobody holds)", im->what);
	_cleanup_close_ int data = open_data(store, im->name, err);
	return data < 0 ? data : refuse_unless_empty(im, data, NULL, err);
}

static int import_target(struct lamina_store *store, struct import *im, struct lm_error *err)
{
	struct lm_stage garbage = LM_STAGE_INIT;
	int r = lm_db_begin(store->db, err);
	if (r >= 0 && (r = import_target_locked(store, im, &garbage, err)) >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db);
	lm_stage_remove(store, &garbage, NULL);
	if (r < 0) /* the commit failed: drop_folder as create does */
		fresh_drop(store, &im->f);
	return r;
}

static int extract(struct import *im, int dirfd, struct lm_error *err)
{
	/* as root, the tar's owners and devices are kept (podman does the
	 * same); otherwise the importing user owns everything */
	bool root = geteuid() == 0;
	struct lm_tar_extract_opts o = { .what = im->what, .keep_owner = root, .allow_devices = root };
	int r = lm_tar_extract(im->in, dirfd, &o, NULL, err);
	if (r >= 0 && syncfs(dirfd) < 0)
		r = lm_err(err, -errno, "%s: cannot sync the imported data", im->what);
	return r;
}

/* The staging folder starts with the old _data's mode and owner (a tar
 * entry "./" may change them). */
static int copy_folder_meta(struct lamina_store *store, struct import *im, int stage, struct lm_error *err)
{
	_cleanup_close_ int data = open_data(store, im->name, err);
	struct stat st;
	if (data < 0)
		return data;
	if (fstat(data, &st) < 0 || fchmod(stage, st.st_mode & 07777) < 0)
		return lm_err(err, -errno, "%s: cannot prepare the staging folder", im->what);
	if (fchown(stage, st.st_uid, st.st_gid) < 0 && errno != EPERM)
		return lm_err(err, -errno, "%s: cannot prepare the staging folder", im->what);
	return 0;
}

/* Under the write lock: the staged tree takes _data's place; commits. */
static int swap_in_locked(struct lamina_store *store, struct import *im, struct lm_stage *st,
			  struct lm_error *err)
{
	_cleanup_free_ char *rel = NULL, *dir = NULL;
	_cleanup_close_ int tmp = lm_store_open_dir(store, LM_STORE_TMP);
	if (vol_rel_data(im->name, &rel) < 0 || vol_rel_dir(im->name, &dir) < 0)
		return lm_err(err, -ENOMEM, "%s", im->what);
	if (!im->f.made) { /* an existing volume: still empty? */
		_cleanup_close_ int data = open_data(store, im->name, err);
		int r = data < 0 ? data : refuse_unless_empty(im, data, NULL, err);
		if (r < 0)
			return r;
	}
	if (tmp < 0 || renameat2(tmp, st->name, store->root_fd, rel, RENAME_EXCHANGE) < 0)
		return lm_err(err, tmp < 0 ? tmp : -errno, "%s: cannot move the imported data in", im->what);
	_cleanup_close_ int dfd = lm_store_open_dir(store, dir);
	if (dfd >= 0)
		fsync(dfd);
	lm_crashpoint("volume-import:after-exchange");
	int r = im->f.made ? vol_row_set_state(store, im->name, VOL_READY, err) : 0;
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	if (r < 0) /* nothing changed after all: the empty _data goes back */
		renameat2(tmp, st->name, store->root_fd, rel, RENAME_EXCHANGE);
	return r;
}

static int import_plain(struct lamina_store *store, struct import *im, struct lm_error *err)
{
	struct lm_stage st = LM_STAGE_INIT;
	int r = lm_stage_new(store, "import", &st, err);
	if (r < 0)
		return r;
	r = copy_folder_meta(store, im, st.fd, err);
	if (r >= 0)
		r = extract(im, st.fd, err);
	lm_crashpoint("volume-import:after-extract");
	if (r >= 0 && (r = lm_db_begin(store->db, err)) >= 0) {
		r = swap_in_locked(store, im, &st, err);
		lm_db_rollback(store->db);
	}
	if (r >= 0 && im->f.made) { /* committed ready: nothing to drop */
		lm_stage_release(&im->f.lock);
		im->f.made = false;
	}
	lm_stage_remove(store, &st, NULL); /* the old empty _data, or the failed tar */
	return r;
}

/* Moves every entry of stage into data (same file system). */
static int move_entries(int stage, int data, const char *what, struct lm_error *err)
{
	int dfd = dup(stage);
	_cleanup_closedir_ DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d) {
		lm_close(dfd);
		return lm_err(err, -errno, "%s: cannot read the staging folder", what);
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (renameat2(stage, de->d_name, data, de->d_name, RENAME_NOREPLACE) < 0)
			return lm_err(err, -errno, "%s: cannot move the imported data in", what);
	}
	return errno ? lm_err(err, -errno, "%s: cannot read the staging folder", what) : 0;
}

/* Into a mounted file system: stage inside it, then move the entries in
 * under the write lock (a crash in between leaves the staging folder in
 * the volume, named .lamina-import-X). */
static int import_mounted(struct lamina_store *store, struct import *im, struct lm_error *err)
{
	char name[40] = ".lamina-import-";
	_cleanup_close_ int data = open_data(store, im->name, err);
	if (data < 0)
		return data;
	int r = lm_random_hex(name + strlen(name), 8);
	if (r < 0 || mkdirat(data, name, 0700) < 0)
		return lm_err(err, r < 0 ? r : -errno, "%s: cannot make a staging folder", im->what);
	_cleanup_close_ int stage = openat(data, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	r = stage < 0 ? lm_err(err, -errno, "%s: cannot open the staging folder", im->what) : extract(im, stage, err);
	lm_crashpoint("volume-import:after-extract");
	if (r >= 0 && (r = lm_db_begin(store->db, err)) >= 0) {
		r = refuse_unless_empty(im, data, name, err);
		if (r >= 0)
			r = move_entries(stage, data, im->what, err);
		if (r >= 0 && syncfs(data) < 0)
			r = lm_err(err, -errno, "%s: cannot sync the imported data", im->what);
		if (r >= 0)
			r = lm_db_commit(store->db, err);
		lm_db_rollback(store->db);
	}
	lm_rm_tree_at(data, name, NULL); /* empty after success */
	return r;
}

int lamina_volume_import(struct lamina_store *store, const char *name, int fd, struct lm_error *err)
{
	int r = lamina_volume_name_check(name, err);
	if (r < 0)
		return r;
	struct import im = { .name = name, .in = fd, .h = HOLD_INIT, .f = { .name = name, .lock = LM_STAGE_INIT } };
	snprintf(im.what, sizeof(im.what), "volume '%s'", name);
	r = import_target(store, &im, err);
	if (r < 0)
		goto out;
	lm_crashpoint("volume-import:after-target");
	r = im.h.spec.type ? import_mounted(store, &im, err) : import_plain(store, &im, err);
	if (r < 0)
		fresh_drop(store, &im.f);
out:
	lm_stage_release(&im.f.lock);
	hold_release(store, &im.h);
	return r;
}

/* ---- clone */

static int clone_target(struct lamina_store *store, const char *src, struct hold *h, struct fresh *f,
			struct lm_error *err)
{
	struct lm_stage garbage = LM_STAGE_INIT;
	int r = lm_db_begin(store->db, err);
	if (r >= 0 && (r = hold_locked(store, src, h, err)) >= 0 &&
	    (r = fresh_locked(store, f, h->v->labels, h->v->n_labels, &garbage, err)) >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db);
	lm_stage_remove(store, &garbage, NULL);
	if (r < 0)
		fresh_drop(store, f);
	return r;
}

/* The copy itself, into the new volume's data folder. */
static int clone_copy(struct lamina_store *store, const char *src, const char *dst, struct lm_error *err)
{
	char what[LAMINA_VOLUME_NAME_MAX + 16];
	snprintf(what, sizeof(what), "volume '%s'", src);
	_cleanup_close_ int from = open_data(store, src, err);
	if (from < 0)
		return from;
	_cleanup_close_ int to = open_data(store, dst, err);
	if (to < 0)
		return to;
	int r = lm_tree_copy(from, to, what, err);
	if (r >= 0 && syncfs(to) < 0)
		r = lm_err(err, -errno, "volume '%s': cannot sync the copy", dst);
	return r;
}

int lamina_volume_clone(struct lamina_store *store, const char *src, const char *dst, struct lm_error *err)
{
	int r = lamina_volume_name_check(src, err);
	if (r >= 0)
		r = lamina_volume_name_check(dst, err);
	if (r < 0)
		return r;
	struct hold h = HOLD_INIT;
	struct fresh f = { .name = dst, .lock = LM_STAGE_INIT };
	r = clone_target(store, src, &h, &f, err);
	if (r >= 0) {
		lm_crashpoint("volume-clone:after-create");
		r = clone_copy(store, src, dst, err);
		lm_crashpoint("volume-clone:after-copy");
	}
	if (r >= 0)
		r = fresh_finish(store, &f, err);
	if (r < 0)
		fresh_drop(store, &f);
	lm_stage_release(&f.lock);
	hold_release(store, &h);
	return r;
}
