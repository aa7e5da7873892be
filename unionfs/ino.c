/*
 * unionfs/ino.c: stable inode numbers. With every layer on one file system
 * the real st_ino is unique and is reported as it is (as the kernel does);
 * otherwise the layer index goes into the top bits (the kernel's xino idea).
 * A copied-up object keeps the number it had below: copy-up records it in
 * the xattr ufs->xattr_origin of the upper object, read back at lookup. The
 * numbers depend only on the layers' contents and order, so they survive a
 * remount.
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

uint64_t ufs_ino_of(struct ufs *ufs, int layer, int parent_fd, const char *name, const struct stat *st)
{
	if (layer == 0 && ufs->nlayers > 1) {
		char path[64 + NAME_MAX];
		char v[32];
		ufs_proc_path(path, sizeof(path), parent_fd, name);
		ssize_t n = lgetxattr(path, ufs->xattr_origin, v, sizeof(v) - 1);
		if (n > 0) {
			v[n] = '\0';
			char *end;
			uint64_t ino = strtoull(v, &end, 10);
			if (*end == '\0' && ino != 0)
				return ino;
		}
	}
	return ufs_ino_map(ufs, layer, st);
}

int ufs_ino_record(struct ufs *ufs, int parent_fd, const char *name, uint64_t ino)
{
	char path[64 + NAME_MAX];
	char v[32];
	ufs_proc_path(path, sizeof(path), parent_fd, name);
	int n = snprintf(v, sizeof(v), "%" PRIu64, ino);
	if (lsetxattr(path, ufs->xattr_origin, v, n, 0) < 0)
		return errno == EPERM || errno == ENOTSUP ? 0 : -errno; /* symlinks with user.*: no record */
	return 0;
}
