/*
 * unionfs/copyup.c: bringing a lower object into the upper layer before it
 * is modified, as overlayfs's copy_up.c: parents first; the copy is built in
 * the workdir (data, owner, xattrs, mode, times, the origin's st_ino) and
 * renamed into place, so a crash never leaves a half-copied object visible;
 * what a crash leaves in the workdir is cleared at the next mount.
 * Concurrent copy-ups of one node are serialised by node->copyup_lock; the
 * second caller finds the work done.
 */
#define pr_fmt(fmt) "unionfs: " fmt

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsops.h"
#include "common/log.h"
#include "unionfs/unionfs.h"

void ufs_tmp_name(struct ufs *ufs, char buf[], size_t size)
{
	uint64_t n = atomic_fetch_add(&ufs->tmp_counter, 1);
	snprintf(buf, size, "#%x-%llx", (unsigned)getpid(), (unsigned long long)n);
}

int ufs_work_purge(struct ufs *ufs)
{
	return lm_empty_dir(ufs->work_fd);
}

/* Copies the xattrs of src to dst (both "/proc/self/fd/..." paths); the
 * union's own markers stay behind, escaped user ones go along. */
int ufs_copy_xattrs(const struct ufs *ufs, const char *src, const char *dst, bool follow)
{
	ssize_t (*list_fn)(const char *, char *, size_t) = follow ? listxattr : llistxattr;
	ssize_t (*get_fn)(const char *, const char *, void *, size_t) = follow ? getxattr : lgetxattr;
	int (*set_fn)(const char *, const char *, const void *, size_t, int) = follow ? setxattr : lsetxattr;
	char list[64 * 1024];
	ssize_t len = list_fn(src, list, sizeof(list));
	if (len < 0)
		return errno == ENOTSUP ? 0 : -errno;
	_cleanup_free_ char *value = malloc(XATTR_SIZE_MAX);
	if (!value)
		return -ENOMEM;
	for (char *name = list; name < list + len; name += strlen(name) + 1) {
		if (ufs_xattr_is_marker(ufs, name))
			continue;
		ssize_t vlen = get_fn(src, name, value, XATTR_SIZE_MAX);
		if (vlen < 0) {
			if (errno == ENODATA)
				continue;
			return -errno;
		}
		if (set_fn(dst, name, value, vlen, 0) < 0) {
			/* user.* on a symlink or special file is refused by the
			 * upper fs: the kernel skips those as well */
			if (errno == EPERM && !strncmp(name, "user.", 5))
				continue;
			return -errno;
		}
	}
	return 0;
}

/* Creates the object of type st in the workdir as tmp, with its data. */
static int create_copy(struct ufs *ufs, int lpfd, const char *name, const struct stat *st, const char *tmp)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFREG: {
		_cleanup_close_ int src = openat(lpfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (src < 0)
			return -errno;
		_cleanup_close_ int dst = openat(ufs->work_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (dst < 0)
			return -errno;
		int r = lm_copy_data(src, dst, st->st_size);
		if (r < 0)
			return r;
		if (ufs->fsync && fsync(dst) < 0)
			return -errno;
		return 0;
	}
	case S_IFDIR:
		return mkdirat(ufs->work_fd, tmp, 0700) < 0 ? -errno : 0;
	case S_IFLNK: {
		char target[PATH_MAX + 1];
		ssize_t n = readlinkat(lpfd, name, target, PATH_MAX);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		return symlinkat(target, ufs->work_fd, tmp) < 0 ? -errno : 0;
	}
	default:
		return mknodat(ufs->work_fd, tmp, st->st_mode, st->st_rdev) < 0 ? -errno : 0;
	}
}

/* Owner first (chown drops security.capability and set-id bits), then
 * xattrs, mode and times. */
static int copy_metadata(struct ufs *ufs, int lpfd, const char *name, const struct stat *st, const char *tmp)
{
	char src[64 + NAME_MAX], dst[64 + NAME_MAX];
	if (fchownat(ufs->work_fd, tmp, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	ufs_proc_path(src, sizeof(src), lpfd, name);
	ufs_proc_path(dst, sizeof(dst), ufs->work_fd, tmp);
	int r = ufs_copy_xattrs(ufs, src, dst, false);
	if (r < 0)
		return r;
	if (!S_ISLNK(st->st_mode) && fchmodat(ufs->work_fd, tmp, st->st_mode & 07777, 0) < 0)
		return -errno;
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	if (utimensat(ufs->work_fd, tmp, times, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return 0;
}

static int copy_up_locked(struct ufs *ufs, struct ufs_node *node, int layer)
{
	_cleanup_free_ char *name = NULL, *uname = NULL;
	_cleanup_close_ int lpfd = ufs_node_open_parent(ufs, node, layer, &name);
	if (lpfd < 0)
		return lpfd;
	_cleanup_close_ int upfd = ufs_node_open_parent(ufs, node, 0, &uname);
	if (upfd < 0)
		return upfd;
	struct stat st;
	if (fstatat(lpfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;

	char tmp[64];
	ufs_tmp_name(ufs, tmp, sizeof(tmp));
	int r = create_copy(ufs, lpfd, name, &st, tmp);
	if (r >= 0)
		r = copy_metadata(ufs, lpfd, name, &st, tmp);
	if (r >= 0)
		r = ufs_origin_write(ufs, ufs->work_fd, tmp, &(struct ufs_origin){ .ino = node->ino });
	if (r >= 0 && renameat2(ufs->work_fd, tmp, upfd, uname, RENAME_NOREPLACE) < 0)
		r = -errno;
	if (r < 0) {
		lm_rm_rf_at(ufs->work_fd, tmp);
		log_debug("copy-up of '%s' from layer %d failed: %s", name, layer, strerror(-r));
		return r;
	}
	/* No fsync of the upper directory, as the kernel's copy-up: the data
	 * was synced before the rename, so after a crash the name shows the
	 * lower object or the whole copy, never a part of it. */
	pthread_rwlock_wrlock(&ufs->tree_lock);
	atomic_store(&node->layer, 0);
	if (S_ISDIR(st.st_mode))
		node->merged = true;
	struct ufs_node *parent = node->parent;
	ufs_node_ref(ufs, parent);
	pthread_rwlock_unlock(&ufs->tree_lock);
	/* A directory that became merged reports nlink 1; the upper parent
	 * got an entry (its mtime moved) without the kernel knowing. */
	if (S_ISDIR(st.st_mode))
		ufs_notify_attr_changed(ufs, node);
	ufs_notify_attr_changed(ufs, parent);
	ufs_node_unref(ufs, parent);
	if (S_ISREG(st.st_mode) && st.st_nlink > 1)
		return ufs_hardlinks_copy_up(ufs, node, layer, &st);
	return 0;
}

/* The open, unlinked lower file that is changed (fchmod after unlink): as
 * the kernel, the change goes to a copy, here an unnamed O_TMPFILE in the
 * workdir that the node's open files move to. */
static int copy_up_unnamed(struct ufs *ufs, struct ufs_node *node)
{
	_cleanup_close_ int src = ufs_node_kept_fd(ufs, node);
	if (src < 0)
		return src;
	struct stat st;
	if (fstat(src, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ESTALE;
	_cleanup_close_ int dst = openat(ufs->work_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (dst < 0)
		return -errno;
	int r = lm_copy_data(src, dst, st.st_size);
	if (r < 0)
		return r;
	if (fchown(dst, st.st_uid, st.st_gid) < 0)
		return -errno;
	char sp[64], dp[64];
	ufs_proc_path(sp, sizeof(sp), src, NULL);
	ufs_proc_path(dp, sizeof(dp), dst, NULL);
	r = ufs_copy_xattrs(ufs, sp, dp, true);
	if (r < 0)
		return r;
	struct timespec times[2] = { st.st_atim, st.st_mtim };
	if (fchmod(dst, st.st_mode & 07777) < 0 || futimens(dst, times) < 0)
		return -errno;
	ufs_node_replace_kept_fd(ufs, node, TAKE_FD(dst));
	atomic_store(&node->layer, 0);
	return 0;
}

int ufs_copy_up(struct ufs *ufs, struct ufs_node *node)
{
	if (ufs_upper(ufs) < 0)
		return -EROFS;
	if (atomic_load(&node->layer) == 0)
		return 0;

	pthread_rwlock_rdlock(&ufs->tree_lock);
	struct ufs_node *parent = node->parent;
	bool removed = node->removed;
	if (parent)
		ufs_node_ref(ufs, parent);
	pthread_rwlock_unlock(&ufs->tree_lock);
	if (removed || !parent) {
		if (parent)
			ufs_node_unref(ufs, parent);
		if (!removed)
			return -ESTALE;
		pthread_mutex_lock(&node->copyup_lock);
		int r = atomic_load(&node->layer) == 0 ? 0 : copy_up_unnamed(ufs, node);
		pthread_mutex_unlock(&node->copyup_lock);
		return r;
	}
	int r = ufs_copy_up(ufs, parent);
	ufs_node_unref(ufs, parent);
	if (r < 0)
		return r;

	pthread_mutex_lock(&node->copyup_lock);
	int layer = atomic_load(&node->layer);
	if (layer != 0)
		r = copy_up_locked(ufs, node, layer);
	pthread_mutex_unlock(&node->copyup_lock);
	return r;
}

int ufs_copy_up_open_dir(struct ufs *ufs, struct ufs_node *dir)
{
	int r = ufs_copy_up(ufs, dir);
	return r < 0 ? r : ufs_dir_open_layer(ufs, dir, 0);
}
