/*
 * graphdriver/export.c: gd_export, a layer folder back out as an OCI
 * changeset tar. The tar writer (common/tar-write.c) does the entries and
 * the format; this file turns the markers of either form into .wh. entries:
 *   whiteout (0/0 device NAME, or file .wh.NAME) -> empty file ".wh.NAME"
 *       with the marker's owner, mtime and permission bits (as dockerd);
 *       a folder's whiteouts go after its other content, sorted by name,
 *       so both marker forms give the same bytes
 *   opaque folder (either xattr, or a .wh..wh..opq file) -> the folder's
 *       entry, then "FOLDER/.wh..wh..opq" with the folder's owner, mtime
 *       and permission bits (as dockerd)
 *   trusted.overlay.* and user.overlay.* xattrs: never exported (private)
 *   .wh..wh.* files and folders (AUFS metadata): skipped
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/ovl-markers.h"
#include "common/tar-private.h"
#include "common/walk.h"
#include "graphdriver/layerfs-private.h"
#include "graphdriver/layerfs.h"

/* A whiteout entry waiting for the end of its folder. */
struct pending {
	char *path;
	struct stat st;
};

struct export {
	const char *what;
	struct lm_error *err;
	struct pending *v; /* the whiteouts of the folders being walked */
	size_t n, cap;
	size_t *starts; /* per open folder, its first index in v */
	size_t depth, cap_starts;
};

static int oom(struct export *x)
{
	return lm_err(x->err, -ENOMEM, "%s: cannot export", x->what);
}

static int push_folder(struct export *x)
{
	if (x->depth == x->cap_starts) {
		size_t cap = x->cap_starts ? x->cap_starts * 2 : 16;
		size_t *p = reallocarray(x->starts, cap, sizeof(*p));
		if (!p)
			return oom(x);
		x->starts = p;
		x->cap_starts = cap;
	}
	x->starts[x->depth++] = x->n;
	return 0;
}

/* "DIR/.wh.NAME" for the whiteout e of hidden. */
static int add_whiteout(struct export *x, const struct lm_walk_entry *e, const char *hidden)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		struct pending *p = reallocarray(x->v, cap, sizeof(*p));
		if (!p)
			return oom(x);
		x->v = p;
		x->cap = cap;
	}
	int dirlen = (int)(strlen(e->path) - strlen(e->name)); /* "a/" of "a/b" */
	char *path;
	if (asprintf(&path, "%.*s" LM_WH_PREFIX "%s", dirlen, e->path, hidden) < 0)
		return oom(x);
	x->v[x->n++] = (struct pending){ path, *e->st };
	return 0;
}

static int pending_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pending *)a)->path, ((const struct pending *)b)->path);
}

static int export_leave(void *ctx, struct lm_tar_writer *w, const struct lm_walk_entry *e, int fd)
{
	(void)e;
	(void)fd;
	struct export *x = ctx;
	size_t start = x->starts[--x->depth];
	if (x->n > start)
		qsort(x->v + start, x->n - start, sizeof(*x->v), pending_cmp);
	int r = 0;
	for (size_t i = start; i < x->n; i++) {
		if (r >= 0)
			r = lm_tar_write_empty(w, x->v[i].path, &x->v[i].st, x->v[i].st.st_mode & 0777);
		free(x->v[i].path);
	}
	x->n = start;
	return r;
}

/* A folder's entry (none for the root), its opaque marker, then its content. */
static int export_folder(struct export *x, struct lm_tar_writer *w, const struct lm_walk_entry *e, int fd)
{
	int r = lm_tar_write_object(w, e, fd);
	if (r < 0)
		return r;
	int opaque = gd_dir_is_opaque(fd);
	if (opaque < 0)
		return lm_err(x->err, opaque, "%s: '%s': cannot read the opaque marker", x->what,
			      *e->path ? e->path : ".");
	if (opaque) {
		char *path;
		if (asprintf(&path, "%s%s" LM_WH_OPQ, e->path, *e->path ? "/" : "") < 0)
			return oom(x);
		r = lm_tar_write_empty(w, path, e->st, e->st->st_mode & 0777);
		free(path);
		if (r < 0)
			return r;
	}
	return push_folder(x);
}

static int export_visit(void *ctx, struct lm_tar_writer *w, const struct lm_walk_entry *e, int fd)
{
	struct export *x = ctx;
	if (e->parent >= 0 && gd_is_meta_name(e->name))
		return LM_WALK_SKIP; /* the opaque marker (see the folder), AUFS metadata */
	if (S_ISDIR(e->st->st_mode)) {
		if (e->parent >= 0 && lm_wh_name(e->name))
			return LM_WALK_SKIP; /* no name starts with .wh. */
		return export_folder(x, w, e, fd);
	}
	const char *hidden = gd_whiteout_of(e->name, e->st);
	if (hidden)
		return add_whiteout(x, e, hidden);
	return lm_tar_write_object(w, e, fd);
}

static bool export_keep_xattr(const char *name)
{
	return !lm_ovl_xattr_is_private(name);
}

int gd_export(int dirfd, int fd_out, const char *what, struct lm_error *err)
{
	static const struct lm_tar_write_ops ops = {
		.visit = export_visit,
		.leave = export_leave,
		.keep_xattr = export_keep_xattr,
	};
	struct export x = { .what = what ? what : "layer", .err = err };
	int r = lm_tar_write_walk(dirfd, fd_out, x.what, &ops, &x, err);
	for (size_t i = 0; i < x.n; i++)
		free(x.v[i].path);
	free(x.v);
	free(x.starts);
	return r;
}
