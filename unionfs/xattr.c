/*
 * unionfs/xattr.c: the union's own xattr namespace and how user xattrs are
 * kept apart from it, as the kernel's overlayfs (6.7+) does it: the private
 * prefix is "trusted.overlay." (or "user.overlay." where trusted.* cannot be
 * written, the kernel's userxattr mode). The union's own markers in that
 * namespace are never shown; a user's "trusted.overlay.X" is stored escaped
 * as "trusted.overlay.overlay.X", so nobody using the mount can read or
 * forge a real marker, and nested overlays keep working.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "unionfs/unionfs.h"

#define ESCAPE "overlay."

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

int ufs_xattr_to_disk(const struct ufs *ufs, const char *name, char *buf, size_t size)
{
	const char *prefix = ufs->xattr_prefix;
	int n = has_prefix(name, prefix)
			? snprintf(buf, size, "%s" ESCAPE "%s", prefix, name + strlen(prefix))
			: snprintf(buf, size, "%s", name);
	return n < 0 || (size_t)n >= size ? -ERANGE : 0;
}

const char *ufs_xattr_from_disk(const struct ufs *ufs, const char *disk, char *buf, size_t size)
{
	const char *prefix = ufs->xattr_prefix;
	if (!has_prefix(disk, prefix))
		return disk;
	const char *rest = disk + strlen(prefix);
	if (!has_prefix(rest, ESCAPE))
		return NULL; /* one of the union's own */
	int n = snprintf(buf, size, "%s%s", prefix, rest + strlen(ESCAPE));
	return n < 0 || (size_t)n >= size ? NULL : buf;
}

bool ufs_xattr_is_marker(const struct ufs *ufs, const char *disk)
{
	const char *prefix = ufs->xattr_prefix;
	return has_prefix(disk, prefix) && !has_prefix(disk + strlen(prefix), ESCAPE);
}
