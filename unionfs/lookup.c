/*
 * unionfs/lookup.c: finding a name across the layers of a merged directory,
 * as overlayfs's namei.c: the topmost layer that has the name wins; a
 * whiteout hides it below; a directory merges with the directories of the
 * same name below until one is opaque; a non-directory stops the search.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "unionfs/unionfs.h"

/* The merge range of dir, read under tree_lock; -ESTALE once removed. */
static int dir_range(struct ufs *ufs, struct ufs_node *dir, int *top, int *bottom)
{
	pthread_rwlock_rdlock(&ufs->tree_lock);
	bool removed = dir->removed;
	*top = atomic_load(&dir->layer);
	*bottom = dir->last_layer;
	pthread_rwlock_unlock(&ufs->tree_lock);
	return removed ? -ESTALE : 0;
}

/* Opens dir's directory in layer; 0 (and *fd -1) where the layer lacks it. */
static int open_in_layer(struct ufs *ufs, struct ufs_node *dir, int layer, int *fd)
{
	*fd = ufs_dir_open_layer(ufs, dir, layer);
	if (*fd >= 0)
		return 0;
	if (*fd == -ENOENT || *fd == -ENOTDIR || *fd == -ELOOP) {
		*fd = -1;
		return 0;
	}
	return *fd;
}

enum step { STEP_NEXT, STEP_STOP };

/* One layer of the search; fills found on the first hit. */
static int lookup_layer(struct ufs *ufs, int l, int bottom, int pfd, const char *name, struct ufs_found *found,
			enum step *step)
{
	struct stat st;
	*step = STEP_STOP;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return -errno;
		if (l == bottom)
			return 0;
		int wh = ufs_has_wh_marker(pfd, name);
		if (wh < 0)
			return wh;
		if (!wh)
			*step = STEP_NEXT;
		return 0;
	}
	if (ufs_is_whiteout_stat(&st))
		return 0;
	if (found->layer >= 0 && !S_ISDIR(st.st_mode))
		return 0; /* a non-directory below a directory is hidden */
	if (found->layer < 0) {
		found->layer = l;
		struct ufs_origin o;
		ufs_origin_of(ufs, l, pfd, name, &st, &o);
		found->st = st;
		found->st.st_ino = o.ino;
		found->st.st_nlink += o.nlink_extra;
		found->nlink_extra = o.nlink_extra;
	} else {
		found->merged = true;
	}
	found->last_layer = l;
	if (!S_ISDIR(st.st_mode) || l == bottom)
		return 0;
	_cleanup_close_ int dfd = openat(pfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int opaque = ufs_dir_is_opaque(ufs, pfd, name, dfd);
	if (opaque < 0)
		return opaque;
	if (!opaque)
		*step = STEP_NEXT;
	return 0;
}

int ufs_lookup_name(struct ufs *ufs, struct ufs_node *dir, const char *name, struct ufs_found *ret)
{
	if (ufs_name_is_private(name))
		return -ENOENT;
	int top, bottom;
	int r = dir_range(ufs, dir, &top, &bottom);
	if (r < 0)
		return r;

	struct ufs_found found = { .layer = -1 };
	for (int l = top; l <= bottom; l++) {
		int pfd;
		r = open_in_layer(ufs, dir, l, &pfd);
		if (r < 0)
			return r;
		if (pfd < 0)
			continue;
		enum step step;
		r = lookup_layer(ufs, l, bottom, pfd, name, &found, &step);
		close(pfd);
		if (r < 0)
			return r;
		if (step == STEP_STOP)
			break;
	}
	if (found.layer < 0)
		return -ENOENT;
	if (S_ISDIR(found.st.st_mode) && found.merged)
		found.st.st_nlink = 1; /* as overlayfs: counting subdirectories is not worth it */
	*ret = found;
	return 0;
}

int ufs_lower_has(struct ufs *ufs, struct ufs_node *dir, const char *name, int above)
{
	int top, bottom;
	int r = dir_range(ufs, dir, &top, &bottom);
	if (r < 0)
		return r;
	for (int l = above + 1; l <= bottom; l++) {
		_cleanup_close_ int pfd = -1;
		r = open_in_layer(ufs, dir, l, &pfd);
		if (r < 0)
			return r;
		if (pfd < 0)
			continue;
		struct stat st;
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return ufs_is_whiteout_stat(&st) ? 0 : 1;
		if (errno != ENOENT)
			return -errno;
		r = ufs_has_wh_marker(pfd, name);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	return 0;
}

int ufs_node_stat(struct ufs *ufs, struct ufs_node *node, struct stat *ret)
{
	int layer = atomic_load(&node->layer);
	struct stat st;
	if (!node->parent) {
		if (fstatat(ufs->layers[layer].fd, "", &st, AT_EMPTY_PATH) < 0)
			return -errno;
	} else {
		_cleanup_free_ char *name = NULL;
		_cleanup_close_ int pfd = ufs_node_open_parent(ufs, node, layer, &name);
		if (pfd < 0)
			return pfd;
		if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if ((st.st_mode & S_IFMT) != node->type)
			return -ESTALE;
	}
	st.st_ino = node->ino;
	ufs_node_fix_nlink(ufs, node, &st);
	*ret = st;
	return 0;
}

void ufs_node_fix_nlink(struct ufs *ufs, struct ufs_node *node, struct stat *st)
{
	pthread_rwlock_rdlock(&ufs->tree_lock);
	if (S_ISDIR(st->st_mode) && node->merged)
		st->st_nlink = 1; /* as overlayfs: counting subdirectories is not worth it */
	else if (S_ISREG(st->st_mode) && atomic_load(&node->layer) == 0)
		st->st_nlink += node->nlink_extra;
	pthread_rwlock_unlock(&ufs->tree_lock);
}
