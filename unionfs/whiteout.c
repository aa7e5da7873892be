/*
 * unionfs/whiteout.c: the on-disk markers of deletion and opacity, in all
 * the forms in use. Read: a 0/0 character device or a ".wh.NAME" file hides
 * NAME below; a directory is opaque with trusted.overlay.opaque=y,
 * user.overlay.opaque=y or a ".wh..wh..opq" entry (podman's and dockerd's
 * layer folders hold the ".wh." forms). Written: the kernel's forms, or the
 * ".wh." ones where the process cannot mknod (rootless).
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/path.h"
#include "unionfs/unionfs.h"

bool ufs_is_whiteout_stat(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

bool ufs_name_is_private(const char *name)
{
	return !strncmp(name, UFS_WH_PREFIX, strlen(UFS_WH_PREFIX));
}

const char *ufs_whiteout_target(const char *name)
{
	if (!ufs_name_is_private(name) || !strcmp(name, UFS_WH_OPQ))
		return NULL;
	const char *target = name + strlen(UFS_WH_PREFIX);
	return *target ? target : NULL;
}

int ufs_has_wh_marker(int pfd, const char *name)
{
	char wh[NAME_MAX + 8];
	if (strlen(name) + strlen(UFS_WH_PREFIX) > NAME_MAX)
		return 0;
	strcpy(wh, UFS_WH_PREFIX);
	strcat(wh, name);
	struct stat st;
	if (fstatat(pfd, wh, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
}

int ufs_remove_wh_marker(int pfd, const char *name)
{
	char wh[NAME_MAX + 8];
	if (strlen(name) + strlen(UFS_WH_PREFIX) > NAME_MAX)
		return 0;
	strcpy(wh, UFS_WH_PREFIX);
	strcat(wh, name);
	return unlinkat(pfd, wh, 0) < 0 && errno != ENOENT ? -errno : 0;
}

static bool xattr_says_opaque(const char *path, const char *xattr)
{
	char v[4];
	ssize_t n = lgetxattr(path, xattr, v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

int ufs_dir_is_opaque(struct ufs *ufs, int parent_fd, const char *name, int dirfd)
{
	char path[64 + NAME_MAX];
	ufs_proc_path(path, sizeof(path), parent_fd, name);
	if (xattr_says_opaque(path, "trusted.overlay.opaque") || xattr_says_opaque(path, "user.overlay.opaque"))
		return 1;
	struct stat st;
	if (fstatat(dirfd, UFS_WH_OPQ, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

/* A fresh shared whiteout in the workdir, replacing the old one (which
 * keeps serving the whiteouts already linked to it). With whiteout_lock. */
static int renew_shared_whiteout(struct ufs *ufs)
{
	char tmp[64];
	ufs_tmp_name(ufs, tmp, sizeof(tmp));
	if (mknodat(ufs->work_fd, tmp, S_IFCHR | 0, makedev(0, 0)) < 0)
		return -errno;
	if (renameat(ufs->work_fd, tmp, ufs->work_fd, UFS_SHARED_WHITEOUT) < 0) {
		int r = -errno;
		unlinkat(ufs->work_fd, tmp, 0);
		return r;
	}
	return 0;
}

/* As overlayfs: whiteouts are hard links of one 0/0 device in the workdir,
 * so removing many lower files allocates no inode each (the cost of mknod
 * on ext4). A new shared one is made when it is missing or full. */
static int link_shared_whiteout(struct ufs *ufs, int parent_fd, const char *name)
{
	for (int tries = 0; tries < 2; tries++) {
		if (linkat(ufs->work_fd, UFS_SHARED_WHITEOUT, parent_fd, name, 0) == 0)
			return 0;
		if (errno != ENOENT && errno != EMLINK)
			return -errno;
		pthread_mutex_lock(&ufs->whiteout_lock);
		int r = renew_shared_whiteout(ufs);
		pthread_mutex_unlock(&ufs->whiteout_lock);
		if (r < 0)
			return r;
	}
	return -EMLINK;
}

int ufs_whiteout_create(struct ufs *ufs, int parent_fd, const char *name)
{
	if (ufs->whiteout_mknod) {
		int r = link_shared_whiteout(ufs, parent_fd, name);
		if (r == -EEXIST || r >= 0)
			return r;
		/* a file system without hard links: one inode each */
		return mknodat(parent_fd, name, S_IFCHR | 0, makedev(0, 0)) < 0 ? -errno : 0;
	}
	char wh[NAME_MAX + 8];
	if (strlen(name) + strlen(UFS_WH_PREFIX) > NAME_MAX)
		return -ENAMETOOLONG;
	strcpy(wh, UFS_WH_PREFIX);
	strcat(wh, name);
	int fd = openat(parent_fd, wh, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

int ufs_set_opaque(struct ufs *ufs, int parent_fd, const char *name)
{
	char path[64 + NAME_MAX];
	ufs_proc_path(path, sizeof(path), parent_fd, name);
	if (lsetxattr(path, ufs->xattr_opaque, "y", 1, 0) == 0)
		return 0;
	if (errno != EPERM && errno != ENOTSUP)
		return -errno;
	/* No xattrs here (rootless on a file system without user xattrs): the
	 * marker file, which fuse-overlayfs and lamina both read. */
	_cleanup_close_ int dfd = openat(parent_fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int fd = openat(dfd, UFS_WH_OPQ, O_WRONLY | O_CREAT | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}
