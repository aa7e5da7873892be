/*
 * unionfs/path.c: where a node lives in each layer. Paths are built from the
 * node's parent chain under tree_lock (read) and resolved beneath a layer
 * root with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS): a symlink in any
 * branch can never lead the daemon out of the branches.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/path.h"
#include "unionfs/unionfs.h"

/* With tree_lock held. */
static int path_locked(struct ufs_node *node, char **ret)
{
	size_t len = 0;
	int depth = 0;
	for (struct ufs_node *n = node; n->parent; n = n->parent) {
		if (n->removed && n != node)
			return -ENOENT;
		len += strlen(n->name) + 1;
		depth++;
	}
	if (node->parent == NULL && depth == 0) {
		*ret = strdup(".");
		return *ret ? 0 : -ENOMEM;
	}
	char *buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	size_t end = len - 1;
	buf[end] = '\0';
	for (struct ufs_node *n = node; n->parent; n = n->parent) {
		size_t l = strlen(n->name);
		end -= l;
		memcpy(buf + end, n->name, l);
		if (end > 0)
			buf[--end] = '/';
	}
	*ret = buf;
	return 0;
}

int ufs_node_path(struct ufs *ufs, struct ufs_node *node, char **ret_path)
{
	pthread_rwlock_rdlock(&ufs->tree_lock);
	int r = node->removed ? -ESTALE : path_locked(node, ret_path);
	pthread_rwlock_unlock(&ufs->tree_lock);
	return r;
}

static int open_root(int root_fd, int flags)
{
	int fd = openat(root_fd, ".", flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int ufs_layer_open_dir(struct ufs *ufs, int layer, const char *path)
{
	int root = ufs->layers[layer].fd;
	if (!strcmp(path, "."))
		return open_root(root, O_PATH | O_DIRECTORY);
	return lm_open_beneath(root, path, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0, LM_RESOLVE_NO_SYMLINKS);
}

int ufs_node_open_parent(struct ufs *ufs, struct ufs_node *node, int layer, char **ret_name)
{
	_cleanup_free_ char *ppath = NULL;
	char *name = NULL;
	int r;

	pthread_rwlock_rdlock(&ufs->tree_lock);
	if (node->removed || !node->parent) {
		r = node->parent ? -ESTALE : -EINVAL;
	} else {
		r = path_locked(node->parent, &ppath);
		if (r >= 0) {
			name = strdup(node->name);
			r = name ? 0 : -ENOMEM;
		}
	}
	pthread_rwlock_unlock(&ufs->tree_lock);
	if (r < 0)
		return r;
	int fd = ufs_layer_open_dir(ufs, layer, ppath);
	if (fd < 0) {
		free(name);
		return fd;
	}
	*ret_name = name;
	return fd;
}

int ufs_node_open(struct ufs *ufs, struct ufs_node *node, int flags)
{
	int layer = atomic_load(&node->layer);
	if (!node->parent)
		return open_root(ufs->layers[layer].fd, flags ? flags : O_PATH);
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int pfd = ufs_node_open_parent(ufs, node, layer, &name);
	if (pfd < 0)
		return pfd;
	int fd = openat(pfd, name, (flags ? flags : O_PATH) | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void ufs_proc_path(char buf[], size_t size, int fd, const char *name)
{
	if (name)
		snprintf(buf, size, "/proc/self/fd/%d/%s", fd, name);
	else
		snprintf(buf, size, "/proc/self/fd/%d", fd);
}
