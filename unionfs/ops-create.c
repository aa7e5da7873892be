/*
 * unionfs/ops-create.c: FUSE adapters that make a new name: mknod, mkdir,
 * symlink, link, create. As overlayfs's dir.c: the new object goes straight
 * into the upper directory, except where a whiteout holds the name: then it
 * is built in the workdir and renamed over the whiteout in one step, and a
 * directory made there is opaque, so the deleted lower one stays hidden.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsops.h"
#include "common/path.h"
#include "unionfs/ops.h"

struct create_args {
	mode_t mode;         /* type and permission bits */
	dev_t rdev;
	const char *target;  /* symlink */
	uid_t uid;
	gid_t gid;
	int open_flags;      /* create: the flags of the open; -1 otherwise */
	struct ufs_node *link_src; /* link */
};

/* What holds the name in the upper directory before we create it. */
enum upper_slot { SLOT_FREE, SLOT_WHITEOUT, SLOT_WH_MARKER };

static int upper_slot(int upfd, const char *name, enum upper_slot *ret)
{
	struct stat st;
	*ret = SLOT_FREE;
	if (fstatat(upfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!ufs_is_whiteout_stat(&st))
			return -EEXIST;
		*ret = SLOT_WHITEOUT;
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	int r = ufs_has_wh_marker(upfd, name);
	if (r > 0)
		*ret = SLOT_WH_MARKER;
	return r < 0 ? r : 0;
}

/* The new object's stat: through its fd when there is one. */
static int stat_new(int dirfd, const char *name, int fd, struct stat *st)
{
	int r = fd > 0 ? fstat(fd, st) : fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW);
	return r < 0 ? -errno : 0;
}

/* Created as the daemon, maybe in the workdir: hands the object to the
 * caller, with the group and set-group-ID bit a set-group-ID parent gives
 * (create_in worked them out from the real parent). Changes only what
 * differs: a root caller's object is the daemon's already. *st is the
 * object's stat afterwards. */
static int hand_over(int dirfd, const char *name, int fd, const struct create_args *a, struct stat *st)
{
	int r = stat_new(dirfd, name, fd, st);
	if (r < 0)
		return r;
	bool owner = st->st_uid != a->uid || st->st_gid != a->gid;
	bool setgid = S_ISDIR(a->mode) && (a->mode & S_ISGID) && !(st->st_mode & S_ISGID);
	if (owner && fchownat(dirfd, name, a->uid, a->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (setgid && fchmodat(dirfd, name, a->mode & 07777, 0) < 0)
		return -errno;
	return owner || setgid ? stat_new(dirfd, name, fd, st) : 0;
}

/* Creates the object as name in dirfd, *st its stat; returns an fd for
 * create, else 0. */
static int make_object(int dirfd, const char *name, const struct create_args *a, int link_pfd, const char *link_name,
		       struct stat *st)
{
	int fd = 0;
	if (link_pfd >= 0) { /* a link keeps its owner */
		if (linkat(link_pfd, link_name, dirfd, name, 0) < 0)
			return -errno;
		return stat_new(dirfd, name, 0, st);
	}
	switch (a->mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(dirfd, name, a->mode & 07777) < 0)
			return -errno;
		break;
	case S_IFLNK:
		if (symlinkat(a->target, dirfd, name) < 0)
			return -errno;
		break;
	case S_IFREG:
		if (a->open_flags >= 0) {
			fd = openat(dirfd, name, (a->open_flags & ~O_TRUNC) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				    a->mode & 07777);
			if (fd < 0)
				return -errno;
			break;
		}
		/* mknod of a regular file */
		__attribute__((fallthrough));
	default:
		if (mknodat(dirfd, name, a->mode, a->rdev) < 0)
			return -errno;
		break;
	}
	int r = hand_over(dirfd, name, fd, a, st);
	if (r < 0) {
		if (fd > 0)
			close(fd);
		unlinkat(dirfd, name, S_ISDIR(a->mode) ? AT_REMOVEDIR : 0);
		return r;
	}
	return fd;
}

/* As the kernel's inode_init_owner(): in a set-group-ID directory a new
 * object takes the directory's group, and a new directory the bit too. */
static int inherit_setgid(int upfd, struct create_args *a)
{
	struct stat dst;
	if (fstatat(upfd, "", &dst, AT_EMPTY_PATH) < 0)
		return -errno;
	if (!(dst.st_mode & S_ISGID))
		return 0;
	a->gid = dst.st_gid;
	if (S_ISDIR(a->mode))
		a->mode |= S_ISGID;
	return 0;
}

/* Builds the object in the workdir and swaps it with the whiteout at name. */
static int create_over_whiteout(struct ufs *ufs, int upfd, const char *name, const struct create_args *a,
				int link_pfd, const char *link_name)
{
	char tmp[64];
	struct stat st;
	ufs_tmp_name(ufs, tmp, sizeof(tmp));
	int fd = make_object(ufs->work_fd, tmp, a, link_pfd, link_name, &st);
	if (fd < 0)
		return fd;
	int r = 0;
	if (S_ISDIR(a->mode))
		r = ufs_set_opaque(ufs, ufs->work_fd, tmp);
	if (r >= 0 && renameat2(ufs->work_fd, tmp, upfd, name, RENAME_EXCHANGE) < 0)
		r = -errno;
	if (r < 0) {
		if (fd > 0)
			close(fd);
		lm_rm_rf_at(ufs->work_fd, tmp);
		return r;
	}
	unlinkat(ufs->work_fd, tmp, 0); /* the whiteout, now in the workdir */
	return fd;
}

/* The new object (stat st) as a lookup result: layer 0, its own range. A
 * new object has no recorded origin; a link shares its file's. */
static void created_found(struct ufs *ufs, int upfd, const char *name, const struct stat *st, bool linked,
			  struct ufs_found *ret)
{
	struct ufs_found f = { .layer = 0, .last_layer = 0, .st = *st };
	struct ufs_origin o = { .ino = ufs_ino_map(ufs, 0, st) };
	if (linked)
		ufs_origin_of(ufs, 0, upfd, name, st, &o);
	f.st.st_ino = o.ino;
	f.st.st_nlink += o.nlink_extra;
	f.nlink_extra = o.nlink_extra;
	*ret = f;
}

static int create_in(struct ufs *ufs, struct ufs_node *dir, const char *name, const struct create_args *a,
		     struct ufs_found *ret, int *ret_fd)
{
	int r = lm_name_check(name);
	if (r < 0)
		return r;
	if (ufs_name_is_private(name))
		return -EINVAL; /* ".wh.NAME" would read back as a whiteout */
	if (S_ISCHR(a->mode) && a->rdev == 0 && !a->link_src)
		return -EPERM; /* as overlayfs: a 0/0 device would be a whiteout */
	if (ufs_upper(ufs) < 0)
		return -EROFS;
	struct ufs_found existing;
	r = ufs_lookup_name(ufs, dir, name, &existing);
	if (r == 0)
		return -EEXIST;
	if (r != -ENOENT)
		return r;
	_cleanup_close_ int upfd = ufs_copy_up_open_dir(ufs, dir);
	if (upfd < 0)
		return upfd;
	_cleanup_free_ char *link_name = NULL;
	_cleanup_close_ int link_pfd = -1;
	if (a->link_src) {
		link_pfd = ufs_node_open_parent(ufs, a->link_src, 0, &link_name);
		if (link_pfd < 0)
			return link_pfd;
	}
	enum upper_slot slot;
	r = upper_slot(upfd, name, &slot);
	if (r < 0)
		return r;
	struct create_args sa = *a;
	r = inherit_setgid(upfd, &sa);
	if (r < 0)
		return r;
	a = &sa;
	struct stat st;
	int fd = slot == SLOT_WHITEOUT ? create_over_whiteout(ufs, upfd, name, a, link_pfd, link_name)
				       : make_object(upfd, name, a, link_pfd, link_name, &st);
	if (fd < 0)
		return fd;
	if (slot == SLOT_WH_MARKER) {
		/* the new entry already wins over its own layer's marker */
		r = ufs_remove_wh_marker(upfd, name);
		if (r >= 0 && S_ISDIR(a->mode))
			r = ufs_set_opaque(ufs, upfd, name);
	}
	/* moved or marked since make_object's stat: its ctime changed */
	if (r >= 0 && slot != SLOT_FREE)
		r = stat_new(upfd, name, fd, &st);
	if (r >= 0)
		created_found(ufs, upfd, name, &st, link_pfd >= 0, ret);
	if (r < 0) {
		if (fd > 0)
			close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static void reply_create(fuse_req_t req, fuse_ino_t parent, const char *name, struct create_args *a)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_node *dir = ufs_node_of(ufs, parent);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct ufs_found found;
	int fd;
	a->uid = ctx->uid;
	a->gid = ctx->gid;
	a->open_flags = -1;
	int r = create_in(ufs, dir, name, a, &found, &fd);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		ufs_reply_entry(req, ufs, dir, name, &found);
}

void ufs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	struct create_args a = { .mode = mode, .rdev = rdev };
	reply_create(req, parent, name, &a);
}

void ufs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct create_args a = { .mode = S_IFDIR | (mode & 07777) };
	reply_create(req, parent, name, &a);
}

void ufs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct create_args a = { .mode = S_IFLNK | 0777, .target = link };
	reply_create(req, parent, name, &a);
}

void ufs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_node *node = ufs_node_of(ufs, ino);
	/* as overlayfs: linking a lower file copies it up first */
	int r = ufs_copy_up(ufs, node);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	struct create_args a = { .mode = node->type, .link_src = node };
	struct ufs_node *dir = ufs_node_of(ufs, newparent);
	struct ufs_found found;
	int fd;
	a.open_flags = -1;
	r = create_in(ufs, dir, newname, &a, &found, &fd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	found.st.st_ino = node->ino; /* the link's upper object is node's */
	ufs_reply_entry(req, ufs, dir, newname, &found);
}

void ufs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_node *dir = ufs_node_of(ufs, parent);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct create_args a = {
		.mode = S_IFREG | (mode & 07777),
		.uid = ctx->uid,
		.gid = ctx->gid,
		.open_flags = ufs_branch_open_flags(ufs, fi->flags) & ~(O_NOFOLLOW | O_CLOEXEC),
	};
	struct ufs_found found;
	int fd;
	int r = create_in(ufs, dir, name, &a, &found, &fd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	struct ufs_node *node = ufs_node_get_or_create(ufs, dir, name, &found, true);
	struct ufs_file *f = node ? ufs_file_new(ufs, node, fd, 0, fi->flags) : NULL;
	if (!f) {
		close(fd);
		if (node)
			ufs_node_forget(ufs, node, 1);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)f;
	fi->keep_cache = ufs->timeout > 0;
	fi->noflush = 1; /* as in ufs_op_open */
	struct fuse_entry_param e = {
		.ino = ufs_nodeid(ufs, node),
		.attr = found.st,
		.attr_timeout = ufs->timeout,
		.entry_timeout = ufs->timeout,
	};
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		ufs_op_release_file(ufs, f);
		ufs_node_forget(ufs, node, 1);
	}
}
