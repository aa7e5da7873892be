/*
 * unionfs/path.c: where a node lives in each layer. Paths are built from the
 * node's parent chain under tree_lock (read) and resolved beneath a layer
 * root with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS): a symlink in any
 * branch can never lead the daemon out of the branches.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
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

/* Opens the directory at path in layer as O_PATH, beneath the layer root,
 * no symlinks. */
static int layer_open_dir(struct ufs *ufs, int layer, const char *path)
{
	int root = ufs->layers[layer].fd;
	if (!strcmp(path, "."))
		return open_root(root, O_PATH | O_DIRECTORY);
	return lm_open_beneath(root, path, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0, LM_RESOLVE_NO_SYMLINKS);
}

/* The slot of dir's fd for layer, allocating the slots on first use; NULL
 * when dir keeps none for that layer. */
static _Atomic(int) *fd_slot(struct ufs *ufs, struct ufs_node *dir, int layer)
{
	_Atomic(int) *slots = atomic_load(&dir->layer_fds_ptr);
	if (!slots) {
		int n = ufs->nlayers;
		_Atomic(int) *fresh = malloc(n * sizeof(*fresh));
		if (!fresh)
			return NULL;
		for (int i = 0; i < n; i++)
			atomic_init(&fresh[i], -1);
		_Atomic(int) *expected = NULL;
		if (atomic_compare_exchange_strong(&dir->layer_fds_ptr, &expected, fresh))
			slots = fresh;
		else {
			free(fresh);
			slots = expected;
		}
	}
	return layer < ufs->nlayers ? &slots[layer] : NULL;
}

/* Keeps a copy of fd in slot unless the budget is spent or another thread
 * was first. */
static void keep_fd(struct ufs *ufs, _Atomic(int) *slot, int fd)
{
	if (atomic_fetch_add(&ufs->cached_fds, 1) >= ufs->max_cached_fds) {
		atomic_fetch_sub(&ufs->cached_fds, 1);
		return;
	}
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int expected = -1;
	if (copy < 0 || !atomic_compare_exchange_strong(slot, &expected, copy)) {
		if (copy >= 0)
			close(copy);
		atomic_fetch_sub(&ufs->cached_fds, 1);
	}
}

int ufs_dir_open_layer(struct ufs *ufs, struct ufs_node *dir, int layer)
{
	if (!dir->parent)
		return open_root(ufs->layers[layer].fd, O_PATH | O_DIRECTORY);
	_Atomic(int) *slot = fd_slot(ufs, dir, layer);
	int kept = slot ? atomic_load(slot) : -1;
	if (kept >= 0) {
		int fd = fcntl(kept, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? -errno : fd;
	}
	_cleanup_free_ char *path = NULL;
	int r = ufs_node_path(ufs, dir, &path);
	if (r < 0)
		return r;
	int fd = layer_open_dir(ufs, layer, path);
	if (fd >= 0 && slot)
		keep_fd(ufs, slot, fd);
	return fd;
}

void ufs_dir_forget_fds(struct ufs *ufs, struct ufs_node *dir)
{
	_Atomic(int) *slots = atomic_exchange(&dir->layer_fds_ptr, NULL);
	if (!slots)
		return;
	for (int i = 0; i < ufs->nlayers; i++) {
		int fd = atomic_load(&slots[i]);
		if (fd >= 0) {
			close(fd);
			atomic_fetch_sub(&ufs->cached_fds, 1);
		}
	}
	free(slots);
}

int ufs_node_open_parent(struct ufs *ufs, struct ufs_node *node, int layer, char **ret_name)
{
	struct ufs_node *parent = NULL;
	char *name = NULL;
	int r = 0;

	pthread_rwlock_rdlock(&ufs->tree_lock);
	if (node->removed || !node->parent) {
		r = node->parent ? -ESTALE : -EINVAL;
	} else {
		parent = node->parent;
		ufs_node_ref(ufs, parent);
		name = strdup(node->name);
		r = name ? 0 : -ENOMEM;
	}
	pthread_rwlock_unlock(&ufs->tree_lock);
	int fd = r < 0 ? r : ufs_dir_open_layer(ufs, parent, layer);
	if (parent)
		ufs_node_unref(ufs, parent);
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
