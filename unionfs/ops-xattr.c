/*
 * unionfs/ops-xattr.c: FUSE adapters for extended attributes. The merged
 * object shows the xattrs of its topmost layer; setting or removing one
 * copies the object up first. Names go through xattr.c, so the union's own
 * markers are never shown and a user's name in the private namespace is
 * stored escaped, as overlayfs does.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/limits.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "unionfs/ops.h"

/* "/proc/self/fd/PARENT/NAME" of node in layer (or of the layer root);
 * *ret_fd holds the parent directory open while the path is used. */
static int node_xattr_path(struct ufs *ufs, struct ufs_node *node, int layer, char *buf, size_t size, int *ret_fd)
{
	if (!node->parent) {
		int fd = openat(ufs->layers[layer].fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		ufs_proc_path(buf, size, fd, NULL);
		*ret_fd = fd;
		return 0;
	}
	_cleanup_free_ char *name = NULL;
	int pfd = ufs_node_open_parent(ufs, node, layer, &name);
	if (pfd < 0)
		return pfd;
	ufs_proc_path(buf, size, pfd, name);
	*ret_fd = pfd;
	return 0;
}

static void reply_size_or_data(fuse_req_t req, size_t size, const char *data, ssize_t n)
{
	if (n < 0)
		fuse_reply_err(req, errno);
	else if (size == 0)
		fuse_reply_xattr(req, n);
	else
		fuse_reply_buf(req, data, n);
}

void ufs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_node *node = ufs_node_of(ufs, ino);
	char disk[XATTR_NAME_MAX + 16];
	if (ufs_xattr_to_disk(ufs, name, disk, sizeof(disk)) < 0) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	char path[64 + NAME_MAX];
	_cleanup_close_ int pfd = -1;
	int r = node_xattr_path(ufs, node, atomic_load(&node->layer), path, sizeof(path), &pfd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	_cleanup_free_ char *buf = size ? malloc(size) : NULL;
	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	reply_size_or_data(req, size, buf, lgetxattr(path, disk, buf, size));
}

/* Turns an on-disk listxattr result into the names users see, into out
 * (as large as the input: names only shrink or vanish). */
static ssize_t names_from_disk(const struct ufs *ufs, const char *list, ssize_t len, char *out)
{
	ssize_t used = 0;
	char buf[XATTR_NAME_MAX + 1];
	for (ssize_t i = 0; i < len; i += strlen(list + i) + 1) {
		const char *shown = ufs_xattr_from_disk(ufs, list + i, buf, sizeof(buf));
		if (!shown)
			continue;
		size_t l = strlen(shown) + 1;
		memcpy(out + used, shown, l);
		used += l;
	}
	return used;
}

void ufs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_node *node = ufs_node_of(ufs, ino);
	char path[64 + NAME_MAX];
	_cleanup_close_ int pfd = -1;
	int r = node_xattr_path(ufs, node, atomic_load(&node->layer), path, sizeof(path), &pfd);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	/* the full list first: the size answer must exclude private names */
	ssize_t len = llistxattr(path, NULL, 0);
	if (len < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	_cleanup_free_ char *list = malloc(len + 1);
	_cleanup_free_ char *shown = malloc(len + 1);
	if (!list || !shown) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	len = llistxattr(path, list, len);
	if (len < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	len = names_from_disk(ufs, list, len, shown);
	if (size && (size_t)len > size) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	reply_size_or_data(req, size, shown, len);
}

/* Copies node up and runs fn on its upper xattr path. */
static int modify_xattr(struct ufs *ufs, struct ufs_node *node, const char *name,
			int (*fn)(const char *path, const char *name, const void *arg), const void *arg)
{
	char disk[XATTR_NAME_MAX + 16];
	if (ufs_xattr_to_disk(ufs, name, disk, sizeof(disk)) < 0)
		return -ERANGE;
	int r = ufs_copy_up(ufs, node);
	if (r < 0)
		return r;
	char path[64 + NAME_MAX];
	_cleanup_close_ int pfd = -1;
	r = node_xattr_path(ufs, node, 0, path, sizeof(path), &pfd);
	if (r < 0)
		return r;
	return fn(path, disk, arg);
}

struct set_args {
	const char *value;
	size_t size;
	int flags;
};

static int do_set(const char *path, const char *name, const void *arg)
{
	const struct set_args *a = arg;
	return lsetxattr(path, name, a->value, a->size, a->flags) < 0 ? -errno : 0;
}

static int do_remove(const char *path, const char *name, const void *arg)
{
	return lremovexattr(path, name) < 0 ? -errno : 0;
}

void ufs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
		     int flags)
{
	struct ufs *ufs = ufs_of(req);
	struct set_args a = { value, size, flags };
	fuse_reply_err(req, -modify_xattr(ufs, ufs_node_of(ufs, ino), name, do_set, &a));
}

void ufs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct ufs *ufs = ufs_of(req);
	fuse_reply_err(req, -modify_xattr(ufs, ufs_node_of(ufs, ino), name, do_remove, NULL));
}
