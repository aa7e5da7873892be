/*
 * common/stage.c: staging folders in ROOT/tmp/ and folder locks (see
 * stage.h for the locking invariant). What goes into a staging folder is
 * the caller's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/check.h"
#include "common/cleanup.h"
#include "common/error.h"
#include "common/random.h"
#include "common/rmtree.h"
#include "common/stage.h"
#include "common/store.h"

static int flock_fd(int fd, int how)
{
	while (flock(fd, how) < 0) {
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EBUSY : -errno;
	}
	return 0;
}

int lm_dir_lock(int dirfd, const char *rel, int how)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int r = flock_fd(fd, how | LOCK_NB);
	if (r < 0) {
		lm_close(fd);
		return r;
	}
	return fd;
}

/* tmp/, opened and flock'ed how (LOCK_SH for makers, LOCK_EX for the sweep). */
static int tmp_lock(struct lamina_store *store, int how, struct lm_error *err)
{
	int fd = lm_store_open_dir(store, LM_STORE_TMP);
	if (fd < 0)
		return lm_err(err, fd, "store '%s': cannot open tmp", store->root);
	int r = flock_fd(fd, how);
	if (r < 0) {
		lm_close(fd);
		return lm_err(err, r, "store '%s': cannot lock tmp", store->root);
	}
	return fd;
}

static int fsync_dir(int dirfd, const char *rel)
{
	_cleanup_close_ int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

/* fsync of the folder that holds rel (below dirfd). */
static int fsync_parent(int dirfd, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	_cleanup_free_ char *parent = slash ? strndup(rel, slash - rel) : strdup(".");
	if (!parent)
		return -ENOMEM;
	return fsync_dir(dirfd, parent);
}

/*
 * Calls place(NAME) with fresh names PREFIX-RANDOM until it does not fail
 * with -EEXIST; *ret_name gets the name that worked.
 */
static int with_fresh_name(const char *prefix, char **ret_name, int (*place)(const char *name, void *arg),
			   void *arg)
{
	int r = -EEXIST;
	for (int tries = 0; tries < 8 && r == -EEXIST; tries++) {
		char rnd[17];
		_cleanup_free_ char *name = NULL;
		if ((r = lm_random_hex(rnd, 8)) < 0)
			return r;
		if (asprintf(&name, "%s-%s", prefix, rnd) < 0)
			return -ENOMEM;
		r = place(name, arg);
		if (r == 0)
			*ret_name = TAKE_PTR(name);
	}
	return r;
}

static int place_mkdir(const char *name, void *arg)
{
	return mkdirat(*(int *)arg, name, 0700) < 0 ? -errno : 0;
}

int lm_stage_new(struct lamina_store *store, const char *prefix, struct lm_stage *ret, struct lm_error *err)
{
	_cleanup_close_ int tmp = tmp_lock(store, LOCK_SH, err);
	if (tmp < 0)
		return tmp;
	char *name = NULL;
	int r = with_fresh_name(prefix, &name, place_mkdir, &tmp);
	if (r < 0)
		return lm_err(err, r, "store '%s': cannot make a staging folder in tmp", store->root);
	int fd = lm_dir_lock(tmp, name, LOCK_EX);
	if (fd < 0) {
		unlinkat(tmp, name, AT_REMOVEDIR);
		free(name);
		return lm_err(err, fd, "store '%s': cannot lock a staging folder in tmp", store->root);
	}
	ret->name = name;
	ret->fd = fd;
	return 0;
}

struct take_arg {
	int root_fd, tmp;
	const char *rel;
};

static int place_rename(const char *name, void *arg)
{
	struct take_arg *a = arg;
	return renameat2(a->root_fd, a->rel, a->tmp, name, RENAME_NOREPLACE) < 0 ? -errno : 0;
}

int lm_stage_take(struct lamina_store *store, const char *rel, const char *prefix, struct lm_stage *ret,
		  struct lm_error *err)
{
	_cleanup_close_ int fd = lm_dir_lock(store->root_fd, rel, LOCK_EX);
	if (fd < 0)
		return lm_err(err, fd, "store '%s': cannot lock '%s'", store->root, rel);
	_cleanup_close_ int tmp = tmp_lock(store, LOCK_SH, err);
	if (tmp < 0)
		return tmp;
	struct take_arg a = { store->root_fd, tmp, rel };
	char *name = NULL;
	int r = with_fresh_name(prefix, &name, place_rename, &a);
	if (r < 0)
		return lm_err(err, r, "store '%s': cannot move '%s' into tmp", store->root, rel);
	fsync_parent(store->root_fd, rel);
	fsync(tmp);
	ret->name = name;
	ret->fd = TAKE_FD(fd);
	return 0;
}

int lm_stage_commit(struct lamina_store *store, struct lm_stage *st, const char *rel, struct lm_error *err)
{
	_cleanup_close_ int tmp = lm_store_open_dir(store, LM_STORE_TMP);
	if (tmp < 0)
		return lm_err(err, tmp, "store '%s': cannot open tmp", store->root);
	if (fsync(st->fd) < 0)
		return lm_err(err, -errno, "store '%s': cannot sync tmp/%s", store->root, st->name);
	if (renameat2(tmp, st->name, store->root_fd, rel, RENAME_NOREPLACE) < 0)
		return lm_err(err, -errno, "store '%s': cannot move tmp/%s to '%s'", store->root, st->name, rel);
	int r = fsync_parent(store->root_fd, rel);
	if (r < 0)
		return lm_err(err, r, "store '%s': cannot sync the folder of '%s'", store->root, rel);
	fsync(tmp);
	free(st->name);
	st->name = NULL;
	return 0;
}

int lm_stage_remove(struct lamina_store *store, struct lm_stage *st, uint64_t *ret_freed)
{
	int r = 0;
	if (st->name) {
		_cleanup_close_ int tmp = lm_store_open_dir(store, LM_STORE_TMP);
		r = tmp < 0 ? tmp : lm_rm_tree_at(tmp, st->name, ret_freed);
	}
	lm_stage_release(st);
	return r;
}

void lm_stage_release(struct lm_stage *st)
{
	st->fd = lm_close(st->fd);
	free(st->name);
	st->name = NULL;
}

/* One entry of tmp/ during the sweep: skipped while locked, else reported
 * and, with repair, removed. */
static int sweep_one(struct lamina_store *store, int tmp, const char *name, bool repair,
		     struct lamina_check_report *report)
{
	struct stat st;
	if (fstatat(tmp, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	_cleanup_close_ int lock = -1;
	if (S_ISDIR(st.st_mode)) {
		lock = lm_dir_lock(tmp, name, LOCK_EX);
		if (lock == -EBUSY || lock == -ENOENT)
			return 0; /* in use by a living operation, or it just ended */
	}
	int r = repair ? lm_rm_tree_at(tmp, name, NULL) : -1;
	return lm_check_add(report, r == 0, "store '%s': tmp/%s: left over by an interrupted operation", store->root,
			    name);
}

int lm_stage_sweep(struct lamina_store *store, bool repair, struct lamina_check_report *report,
		   struct lm_error *err)
{
	int tmp = tmp_lock(store, LOCK_EX, err);
	if (tmp < 0)
		return tmp;
	int dfd = dup(tmp);
	_cleanup_closedir_ DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d) {
		int r = -errno;
		lm_close(dfd);
		lm_close(tmp);
		return lm_err(err, r, "store '%s': cannot read tmp", store->root);
	}
	struct dirent *de;
	int r = 0;
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = sweep_one(store, tmp, de->d_name, repair, report);
	}
	if (r >= 0 && errno)
		r = -errno;
	lm_close(tmp);
	return r < 0 ? lm_err(err, r, "store '%s': sweeping tmp", store->root) : 0;
}
