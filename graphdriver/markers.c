/*
 * graphdriver/markers.c: reading whiteouts and opaque folders in a layer
 * folder, in both forms (DESIGN.md "On-disk format"): the kernel's (0/0
 * character device, trusted.overlay.opaque) and the rootless one (.wh.NAME
 * files, user.overlay.opaque, and ".wh..wh..opq" as podman's and dockerd's
 * folders have it), as lamina-fuse reads them (unionfs/whiteout.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/attrs.h"
#include "common/ovl-markers.h"
#include "graphdriver/layerfs-private.h"

bool gd_is_meta_name(const char *name)
{
	return !strncmp(name, LM_WH_META_PREFIX, strlen(LM_WH_META_PREFIX));
}

const char *gd_whiteout_of(const char *name, const struct stat *st)
{
	if (lm_ovl_is_whiteout_dev(st))
		return name;
	if (S_ISDIR(st->st_mode) || !lm_wh_name(name) || gd_is_meta_name(name))
		return NULL;
	const char *hidden = name + strlen(LM_WH_PREFIX);
	return *hidden ? hidden : NULL;
}

/* 1 when the xattr name of the object at path says "y". */
static int xattr_is_y(const char *path, const char *name)
{
	char v[4];
	ssize_t n = getxattr(path, name, v, sizeof(v));
	if (n < 0)
		return errno == ENODATA || errno == ENOTSUP || errno == ERANGE ? 0 : -errno;
	return n == 1 && v[0] == 'y';
}

int gd_dir_is_opaque(int dirfd)
{
	char p[LM_FD_PATH_MAX];
	lm_fd_path(dirfd, p);
	int r = xattr_is_y(p, LM_OVL_OPAQUE_TRUSTED);
	if (r == 0)
		r = xattr_is_y(p, LM_OVL_OPAQUE_USER);
	if (r != 0)
		return r;
	struct stat st;
	if (fstatat(dirfd, LM_WH_OPQ, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}
