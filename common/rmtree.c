/*
 * common/rmtree.c: a recursive removal that stays on one mount.
 *
 * Mount points are recognised by their mount id (statx STATX_MNT_ID, Linux
 * 5.8), which differs for a bind mount of the same file system, where st_dev
 * would not; on older kernels st_dev is compared instead. Each folder is
 * opened with O_NOFOLLOW and checked through its own fd, so a mount or a
 * symlink put in place between the look and the open is still refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/rmtree.h"

struct rm_ctx {
	uint64_t mnt_id; /* the mount everything removed must be on */
	dev_t dev;       /* its st_dev, when the kernel has no mount ids */
	bool have_mnt_id;
	uint64_t freed;
	int first_err;
};

static void rm_note(struct rm_ctx *c, int r)
{
	if (r < 0 && c->first_err == 0)
		c->first_err = r;
}

static int rm_statx(int dirfd, const char *name, int flags, struct statx *stx)
{
	unsigned mask = STATX_TYPE | STATX_NLINK | STATX_BLOCKS | STATX_MNT_ID;
	return statx(dirfd, name, flags | AT_SYMLINK_NOFOLLOW, mask, stx) < 0 ? -errno : 0;
}

static bool rm_same_mount(const struct rm_ctx *c, const struct statx *stx)
{
	if (c->have_mnt_id && (stx->stx_mask & STATX_MNT_ID))
		return stx->stx_mnt_id == c->mnt_id;
	return makedev(stx->stx_dev_major, stx->stx_dev_minor) == c->dev;
}

static int rm_entry(int dirfd, const char *name, struct rm_ctx *c);

static void rm_children(int fd, struct rm_ctx *c)
{
	int dfd = dup(fd);
	if (dfd < 0)
		return rm_note(c, -errno);
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		rm_note(c, -errno);
		lm_close(dfd);
		return;
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_note(c, rm_entry(fd, de->d_name, c));
	}
	rm_note(c, -errno);
}

static int rm_dir(int dirfd, const char *name, struct rm_ctx *c)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	struct statx stx;
	int r = rm_statx(fd, "", AT_EMPTY_PATH, &stx);
	if (r < 0)
		return r;
	if (!rm_same_mount(c, &stx))
		return -EBUSY; /* a mount point: not ours to empty */
	rm_children(fd, c);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int rm_entry(int dirfd, const char *name, struct rm_ctx *c)
{
	struct statx stx;
	int r = rm_statx(dirfd, name, 0, &stx);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	if (S_ISDIR(stx.stx_mode))
		return rm_dir(dirfd, name, c);
	if (unlinkat(dirfd, name, 0) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (stx.stx_nlink == 1)
		c->freed += stx.stx_blocks * 512;
	return 0;
}

int lm_rm_tree_at(int dirfd, const char *name, uint64_t *ret_freed)
{
	struct rm_ctx c = { 0 };
	struct statx top;
	int r = rm_statx(dirfd, "", AT_EMPTY_PATH, &top);
	if (r < 0)
		return r;
	c.have_mnt_id = top.stx_mask & STATX_MNT_ID;
	c.mnt_id = top.stx_mnt_id;
	c.dev = makedev(top.stx_dev_major, top.stx_dev_minor);
	rm_note(&c, rm_entry(dirfd, name, &c));
	if (ret_freed)
		*ret_freed = c.freed;
	return c.first_err;
}
