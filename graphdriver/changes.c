/*
 * graphdriver/changes.c: gd_changes and gd_diff_size, from the layer's own
 * folder only (issue 5: their cost grows with the change, not the image).
 * The lowers are only asked about single paths (is it there, visible, the
 * same folder?) and, for an opaque folder, for the listing of that folder.
 * Kinds as dockerd's overlay2 (archive/changes.go): a whiteout is
 * "deleted"; an object the lowers show at its path is "modified", else
 * "added"; a folder with the same type, mode, owner and mtime as the
 * lower's is not listed (it only holds a change).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/ovl-markers.h"
#include "common/path.h"
#include "common/walk.h"
#include "graphdriver/layerfs-private.h"
#include "graphdriver/layerfs.h"

struct changes {
	const int *lowers; /* top first */
	size_t n_lowers;
	struct lamina_layer_change *v;
	size_t n, cap;
	const char *what;
	struct lm_error *err;
};

/* "/DIR/NAME" (dir: its first dirlen bytes; name may be NULL). */
static int add_change(struct changes *c, const char *dir, int dirlen, const char *name, enum lamina_change_kind kind)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct lamina_layer_change *p = reallocarray(c->v, cap, sizeof(*p));
		if (!p)
			return -ENOMEM;
		c->v = p;
		c->cap = cap;
	}
	char *path;
	if (asprintf(&path, "/%.*s%s%s", dirlen, dir, dirlen && name ? "/" : "", name ? name : "") < 0)
		return -ENOMEM;
	c->v[c->n++] = (struct lamina_layer_change){ path, kind };
	return 0;
}

/*
 * Looks path up in lower l as the union does: 1 (and *st) when l has it,
 * 0 when l does not, 2 when l hides it from the lowers below (a whiteout
 * of it or of a parent, a non-folder parent, an opaque parent).
 */
static int lower_lookup(int l, const char *path, struct stat *st)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	_cleanup_close_ int cur = openat(l, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	int hides = 0;
	char *save = NULL;
	for (char *comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		char wh[NAME_MAX + 8];
		snprintf(wh, sizeof(wh), ".wh.%s", comp);
		if (strlen(comp) + 4 <= NAME_MAX && fstatat(cur, wh, st, AT_SYMLINK_NOFOLLOW) == 0)
			return 2;
		if (fstatat(cur, comp, st, AT_SYMLINK_NOFOLLOW) < 0)
			return errno == ENOENT ? hides : -errno;
		if (gd_whiteout_of(comp, st))
			return 2;
		bool last = !save || !*save;
		if (last)
			return 1;
		if (!S_ISDIR(st->st_mode))
			return 2;
		int next = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return -errno;
		lm_close(cur);
		cur = next;
		int opaque = gd_dir_is_opaque(cur);
		if (opaque < 0)
			return opaque;
		if (opaque)
			hides = 2;
	}
	return 1; /* the root */
}

/* The object the lowers show at path: *ret_index its lower, or -1. */
static int lowers_find(struct changes *c, const char *path, struct stat *st, int *ret_index)
{
	*ret_index = -1;
	for (size_t i = 0; i < c->n_lowers; i++) {
		int r = lower_lookup(c->lowers[i], path, st);
		if (r < 0)
			return r;
		if (r == 1)
			*ret_index = (int)i;
		if (r != 0)
			break;
	}
	return 0;
}

/* A folder kept only because it holds a change: same as the lower's. */
static bool same_folder(const struct stat *a, const struct stat *b)
{
	return S_ISDIR(a->st_mode) && a->st_mode == b->st_mode && a->st_uid == b->st_uid && a->st_gid == b->st_gid &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The visible names of folder path in lower l not met above (seen), as
 * "deleted" unless the layer's folder fd has them. 1: stop (opaque). */
static int hidden_in_lower(struct changes *c, int l, const char *path, int fd, void **seen)
{
	int dfd = lm_open_beneath(l, *path ? path : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0,
				  LM_RESOLVE_NO_SYMLINKS);
	if (dfd == -ENOENT)
		return 0;
	if (dfd == -ENOTDIR || dfd == -ELOOP)
		return 1;
	if (dfd < 0)
		return dfd;
	int opaque = gd_dir_is_opaque(dfd);
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		lm_close(dfd);
		return -errno;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		struct stat st;
		if (!strcmp(name, ".") || !strcmp(name, "..") || gd_is_meta_name(name) ||
		    fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		const char *hidden = gd_whiteout_of(name, &st);
		if (tfind(hidden ? hidden : name, seen, name_cmp))
			continue;
		char *copy = strdup(hidden ? hidden : name);
		if (!copy || !tsearch(copy, seen, name_cmp)) {
			free(copy);
			return -ENOMEM;
		}
		if (!hidden && fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
		    add_change(c, path, strlen(path), name, LAMINA_CHANGE_DELETED) < 0)
			return -ENOMEM;
	}
	return opaque != 0;
}

/* An opaque folder: the lowers' children it hides are deleted. */
static int opaque_hidden(struct changes *c, const char *path, int fd)
{
	struct stat st;
	int first;
	int r = lowers_find(c, path, &st, &first);
	if (r < 0 || first < 0 || !S_ISDIR(st.st_mode))
		return r;
	void *seen = NULL;
	for (size_t i = first; i < c->n_lowers && r == 0; i++)
		r = hidden_in_lower(c, c->lowers[i], path, fd, &seen);
	tdestroy(seen, free);
	return r < 0 ? r : 0;
}

static int changes_visit(void *ctx, const struct lm_walk_entry *e, int fd)
{
	struct changes *c = ctx;
	int r = 0;
	if (e->parent >= 0 && (gd_is_meta_name(e->name) || (S_ISDIR(e->st->st_mode) && lm_wh_name(e->name))))
		return LM_WALK_SKIP;
	const char *hidden = S_ISDIR(e->st->st_mode) ? NULL : gd_whiteout_of(e->name, e->st);
	if (hidden) {
		int dirlen = (int)(strlen(e->path) - strlen(e->name)); /* "a/" of "a/b" */
		r = add_change(c, e->path, dirlen ? dirlen - 1 : 0, hidden, LAMINA_CHANGE_DELETED);
	} else if (e->parent >= 0) {
		struct stat st;
		int in;
		r = lowers_find(c, e->path, &st, &in);
		if (r >= 0 && !(in >= 0 && same_folder(e->st, &st)))
			r = add_change(c, e->path, strlen(e->path), NULL,
				       in >= 0 ? LAMINA_CHANGE_MODIFIED : LAMINA_CHANGE_ADDED);
	}
	if (r >= 0 && S_ISDIR(e->st->st_mode)) {
		r = gd_dir_is_opaque(fd);
		if (r > 0)
			r = opaque_hidden(c, e->path, fd);
	}
	return r < 0 ? lm_err(c->err, r, "%s: '/%s': cannot list the change", c->what, e->path) : 0;
}

static int change_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lamina_layer_change *)a)->path, ((const struct lamina_layer_change *)b)->path);
}

int gd_changes(int dirfd, const int *lower_dirfds, size_t n_lowers, struct lamina_layer_change **ret,
	       size_t *ret_n, struct lm_error *err)
{
	static const struct lm_walk_ops ops = { .visit = changes_visit };
	struct changes c = { .lowers = lower_dirfds, .n_lowers = n_lowers, .what = "layer", .err = err };
	int r = lm_walk(dirfd, &ops, &c, c.what, err);
	if (r < 0) {
		lamina_layer_changes_free(c.v, c.n);
		return r;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), change_cmp);
	*ret = c.v;
	*ret_n = c.n;
	return 0;
}

void lamina_layer_changes_free(struct lamina_layer_change *changes, size_t n)
{
	for (size_t i = 0; changes && i < n; i++)
		free(changes[i].path);
	free(changes);
}

static int size_visit(void *ctx, const struct lm_walk_entry *e, int fd)
{
	(void)fd;
	if (S_ISREG(e->st->st_mode) && !e->link_first)
		*(uint64_t *)ctx += e->st->st_size;
	return 0;
}

int gd_diff_size(int dirfd, uint64_t *ret, struct lm_error *err)
{
	static const struct lm_walk_ops ops = { .visit = size_visit };
	uint64_t size = 0;
	int r = lm_walk(dirfd, &ops, &size, "layer", err);
	if (r < 0)
		return r;
	*ret = size;
	return 0;
}
