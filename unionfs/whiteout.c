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

int ufs_whiteout_create(struct ufs *ufs, int parent_fd, const char *name)
{
	if (ufs->whiteout_mknod)
		return mknodat(parent_fd, name, S_IFCHR | 0, makedev(0, 0)) < 0 ? -errno : 0;
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
