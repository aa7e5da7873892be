/*
 * unionfs/ops-entry.c: FUSE adapters for names and attributes: lookup,
 * forget, getattr, setattr, readlink, statfs, access.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/path.h"
#include "unionfs/ops.h"

void ufs_reply_entry(fuse_req_t req, struct ufs *ufs, struct ufs_node *parent, const char *name,
		     const struct ufs_found *found)
{
	struct ufs_node *node = ufs_node_get_or_create(ufs, parent, name, found, true);
	if (!node) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct fuse_entry_param e = {
		.ino = ufs_nodeid(ufs, node),
		.attr = found->st,
		.attr_timeout = ufs->timeout,
		.entry_timeout = ufs->timeout,
	};
	if (fuse_reply_entry(req, &e) == -ENOENT) /* the request was interrupted */
		ufs_node_forget(ufs, node, 1);
}

void ufs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_node *dir = ufs_node_of(ufs, parent);
	struct ufs_found found;
	int r = lm_name_check(name);
	if (r >= 0)
		r = ufs_lookup_name(ufs, dir, name, &found);
	if (r == -ENOENT) {
		/* a negative entry the kernel may cache for the timeout */
		struct fuse_entry_param e = { .ino = 0, .entry_timeout = ufs->timeout };
		fuse_reply_entry(req, &e);
		return;
	}
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	ufs_reply_entry(req, ufs, dir, name, &found);
}

/* Once the kernel has forgotten most of what a large walk made it look up,
 * the freed nodes' memory goes back to the system: glibc keeps free memory
 * in the middle of its heaps resident (measured: RSS 35-39 MiB after eight
 * cold walks of a 90,000-entry tree and the kernel's forgets, 6.5-7.4 MiB with
 * this). */
static void give_back_memory(struct ufs *ufs)
{
	if (ufs_node_table_shrunk(ufs))
		malloc_trim(0);
}

void ufs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct ufs *ufs = ufs_of(req);
	ufs_node_forget(ufs, ufs_node_of(ufs, ino), nlookup);
	fuse_reply_none(req);
	give_back_memory(ufs);
}

void ufs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct ufs *ufs = ufs_of(req);
	for (size_t i = 0; i < count; i++)
		ufs_node_forget(ufs, ufs_node_of(ufs, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
	give_back_memory(ufs);
}

static bool node_is_removed(struct ufs *ufs, struct ufs_node *node)
{
	pthread_rwlock_rdlock(&ufs->tree_lock);
	bool removed = node->removed;
	pthread_rwlock_unlock(&ufs->tree_lock);
	return removed;
}

/* stat through an open file: works after the last name is gone. */
static int file_stat(struct ufs *ufs, struct ufs_node *node, struct fuse_file_info *fi, struct stat *st)
{
	struct ufs_file *f = ufs_file_of(fi);
	int fd = ufs_file_fd(ufs, f);
	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0)
		return -errno;
	st->st_ino = node->ino;
	ufs_node_fix_nlink(ufs, node, st);
	return 0;
}

static int node_getattr(struct ufs *ufs, struct ufs_node *node, struct fuse_file_info *fi, struct stat *st)
{
	if (fi && fi->fh && !S_ISDIR(node->type))
		return file_stat(ufs, node, fi, st);
	if (!node_is_removed(ufs, node))
		return ufs_node_stat(ufs, node, st);
	/* as overlayfs: the real object's count (0 for an upper file, the
	 * lower file's own for a whited-out lower one) */
	int r = ufs_node_fstat_kept(ufs, node, st);
	if (r < 0)
		return r;
	st->st_ino = node->ino;
	ufs_node_fix_nlink(ufs, node, st);
	return 0;
}

void ufs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs *ufs = ufs_of(req);
	struct stat st;
	int r = node_getattr(ufs, ufs_node_of(ufs, ino), fi, &st);
	ufs_refresh_hold_answer(ufs, req);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, ufs->timeout);
}

/* Applies attr to the upper object: through the open file when there is
 * one, else by name in the upper parent directory. */
static int apply_setattr(struct ufs *ufs, struct ufs_node *node, int fd, int pfd, const char *name,
			 const struct stat *attr, int to_set)
{
	if (to_set & FUSE_SET_ATTR_MODE) {
		int r = fd >= 0 ? fchmod(fd, attr->st_mode & 07777) : fchmodat(pfd, name, attr->st_mode & 07777, 0);
		if (r < 0)
			return -errno;
	}
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;
		int r = fd >= 0 ? fchown(fd, uid, gid) : fchownat(pfd, name, uid, gid, AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			return -errno;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		_cleanup_close_ int tfd = -1;
		if (fd < 0) {
			tfd = openat(pfd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
			if (tfd < 0)
				return -errno;
		}
		if (ftruncate(fd >= 0 ? fd : tfd, attr->st_size) < 0)
			return -errno;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec t[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			t[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			t[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			t[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			t[1] = attr->st_mtim;
		int r = fd >= 0 ? futimens(fd, t) : utimensat(pfd, name, t, AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			return -errno;
	}
	(void)ufs;
	(void)node;
	return 0;
}

/* The attributes after a change, through the fd or parent fd just used
 * (no second path walk). */
static int stat_after(struct ufs *ufs, struct ufs_node *node, int fd, int pfd, const char *name, struct stat *ret)
{
	if ((fd >= 0 ? fstat(fd, ret) : fstatat(pfd, name, ret, AT_SYMLINK_NOFOLLOW)) < 0)
		return -errno;
	ret->st_ino = node->ino;
	ufs_node_fix_nlink(ufs, node, ret);
	return 0;
}

/* Applies the change through fd (or pfd and name) and reads the result. */
static int setattr_at(struct ufs *ufs, struct ufs_node *node, int fd, int pfd, const char *name,
		      const struct stat *attr, int to_set, struct stat *ret)
{
	int r = apply_setattr(ufs, node, fd, pfd, name, attr, to_set);
	return r < 0 ? r : stat_after(ufs, node, fd, pfd, name, ret);
}

static int node_setattr(struct ufs *ufs, struct ufs_node *node, const struct stat *attr, int to_set,
			struct fuse_file_info *fi, struct stat *ret)
{
	int r = ufs_copy_up(ufs, node);
	if (r < 0)
		return r;
	if (fi && fi->fh && !S_ISDIR(node->type)) {
		int fd = ufs_file_fd(ufs, ufs_file_of(fi));
		if (fd < 0)
			return fd;
		/* a read-only fd does for everything but truncation */
		if ((ufs_file_of(fi)->flags & O_ACCMODE) || !(to_set & FUSE_SET_ATTR_SIZE))
			return setattr_at(ufs, node, fd, -1, NULL, attr, to_set, ret);
	}
	if (node_is_removed(ufs, node)) {
		/* an open file whose last name is gone (fchmod after unlink) */
		_cleanup_close_ int kept = ufs_node_kept_fd(ufs, node);
		return kept < 0 ? kept : setattr_at(ufs, node, kept, -1, NULL, attr, to_set, ret);
	}
	if (!node->parent) {
		_cleanup_close_ int rfd = ufs_node_open(ufs, node, O_RDONLY | O_DIRECTORY);
		return rfd < 0 ? rfd : setattr_at(ufs, node, rfd, -1, NULL, attr, to_set, ret);
	}
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int pfd = ufs_node_open_parent(ufs, node, 0, &name);
	return pfd < 0 ? pfd : setattr_at(ufs, node, -1, pfd, name, attr, to_set, ret);
}

void ufs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_node *node = ufs_node_of(ufs, ino);
	struct stat st;
	int r = node_setattr(ufs, node, attr, to_set, fi, &st);
	/* a truncation or chown marked to clear the set-ID bits (killpriv.c;
	 * a mode set in the same request has them as the caller wants) */
	if (r >= 0 && ufs_request_kills_suidgid() && !(to_set & FUSE_SET_ATTR_MODE) &&
	    ufs_mode_without_suidgid(st.st_mode) != st.st_mode) {
		struct stat mode = { .st_mode = ufs_mode_without_suidgid(st.st_mode) };
		r = node_setattr(ufs, node, &mode, FUSE_SET_ATTR_MODE, fi, &st);
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, ufs->timeout);
}

void ufs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_node *node = ufs_node_of(ufs, ino);
	_cleanup_free_ char *name = NULL;
	char target[PATH_MAX + 1];
	int pfd = node->parent ? ufs_node_open_parent(ufs, node, atomic_load(&node->layer), &name) : -EINVAL;
	if (pfd < 0) {
		fuse_reply_err(req, -pfd);
		return;
	}
	ssize_t n = readlinkat(pfd, name, target, PATH_MAX);
	int saved = errno;
	close(pfd);
	if (n < 0) {
		fuse_reply_err(req, saved);
		return;
	}
	target[n] = '\0';
	fuse_reply_readlink(req, target);
}

void ufs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct ufs *ufs = ufs_of(req);
	struct statvfs sv;
	/* as overlayfs: the numbers of the upper (or topmost) layer */
	if (fstatvfs(ufs->layers[ufs->first_layer].fd, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fuse_reply_statfs(req, &sv);
}

void ufs_op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	/* default_permissions: the kernel checks the mode bits itself; only
	 * the write-to-read-only-union case is ours to answer */
	struct ufs *ufs = ufs_of(req);
	fuse_reply_err(req, (mask & W_OK) && ufs_upper(ufs) < 0 ? EROFS : 0);
}
