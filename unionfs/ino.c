/*
 * unionfs/ino.c: stable inode numbers. With every layer on one file system
 * the real st_ino is unique and is reported as it is (as the kernel does);
 * otherwise the layer index goes into the top bits (the kernel's xino idea).
 * A copied-up object keeps the number it had below: copy-up records it in
 * the xattr ufs->xattr_origin of the upper object ("INO", or "INO EXTRA"
 * for a hard-linked file whose EXTRA other lower names were not linked up
 * because the merged view hides them: they still count in st_nlink, as with
 * the kernel's index=on), read back at lookup. The numbers depend only on
 * the layers' contents and order, so they survive a remount.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/xattr.h>

#include "unionfs/unionfs.h"

#define UFS_INO_LAYER_SHIFT 48

uint64_t ufs_ino_map(const struct ufs *ufs, int layer, const struct stat *st)
{
	uint64_t ino = st->st_ino;
	if (ufs->same_dev)
		return ino;
	uint64_t low = ino & ((1ull << UFS_INO_LAYER_SHIFT) - 1);
	if (low != ino) /* does not fit: fold the high bits in, still stable */
		low ^= (ino >> UFS_INO_LAYER_SHIFT) * 0x9E3779B97F4A7C15ull & ((1ull << UFS_INO_LAYER_SHIFT) - 1);
	return ((uint64_t)(layer + 1) << UFS_INO_LAYER_SHIFT) | low;
}

void ufs_origin_of(struct ufs *ufs, int layer, int parent_fd, const char *name, const struct stat *st,
		   struct ufs_origin *ret)
{
	ret->ino = ufs_ino_map(ufs, layer, st);
	ret->nlink_extra = 0;
	if (layer != 0 || ufs->nlayers < 2)
		return;
	char path[64 + NAME_MAX];
	char v[64];
	ufs_proc_path(path, sizeof(path), parent_fd, name);
	ssize_t n = lgetxattr(path, ufs->xattr_origin, v, sizeof(v) - 1);
	if (n <= 0)
		return;
	v[n] = '\0';
	uint64_t ino;
	unsigned extra = 0;
	int fields = sscanf(v, "%" SCNu64 " %u", &ino, &extra);
	if (fields < 1 || ino == 0)
		return; /* not ours, or damaged: the upper's own number is stable too */
	ret->ino = ino;
	ret->nlink_extra = fields == 2 ? extra : 0;
}

int ufs_origin_write(struct ufs *ufs, int parent_fd, const char *name, const struct ufs_origin *o)
{
	char path[64 + NAME_MAX];
	char v[64];
	ufs_proc_path(path, sizeof(path), parent_fd, name);
	int n = o->nlink_extra ? snprintf(v, sizeof(v), "%" PRIu64 " %u", o->ino, o->nlink_extra)
			       : snprintf(v, sizeof(v), "%" PRIu64, o->ino);
	if (lsetxattr(path, ufs->xattr_origin, v, n, 0) < 0)
		return errno == EPERM || errno == ENOTSUP ? 0 : -errno; /* symlinks with user.*: no record */
	return 0;
}
