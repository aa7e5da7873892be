/*
 * graphdriver/whiteout.c: the extraction hooks of gd_apply. OCI whiteout
 * entries become the layer folder's markers (anchors.md D.1):
 *   ".wh.NAME"     kernel form: a 0/0 character device NAME; .wh. form:
 *                  the empty file ".wh.NAME" itself (rootless lamina-fuse);
 *                  either with the entry's owner, mode and mtime, so that
 *                  an export gives the entry back unchanged
 *   ".wh..wh..opq" its folder gets trusted.overlay.opaque=y (kernel form)
 *                  or user.overlay.opaque=y (.wh. form), set after the last
 *                  entry: opacity hides the lower layers only, so the
 *                  layer's own entries in that folder stay, whatever their
 *                  order in the stream
 *   ".wh..wh.*"    other AUFS metadata: skipped, as dockerd does
 *   ".wh."         refused (names nothing), and so are entries below a
 *                  folder named ".wh.*" and whiteouts of "." or ".."
 * A whiteout hides the lower layers only (D.1: "an entry added in the same
 * layer can only be hidden by a later layer"), so when the layer also has
 * NAME itself, before or after the whiteout, NAME stays, the marker goes,
 * and a folder NAME becomes opaque (its lower content was deleted, as the
 * kernel does for a folder made where a whiteout was).
 * Also the per-file XXH3-128 hashes: fed with each data block (holes as
 * zeros), recorded by path; a hard link gets its target's hash, a later
 * entry at the same path replaces the record.
 */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/attrs.h"
#include "common/cleanup.h"
#include "common/error.h"
#include "common/ovl-markers.h"
#include "common/path.h"
#include "graphdriver/apply-private.h"
#include "graphdriver/layerfs-private.h"

static int paths_add(struct gd_paths *p, const char *path, size_t len)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		char **v = reallocarray(p->v, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	if (!(p->v[p->n] = strndup(path, len)))
		return -ENOMEM;
	p->n++;
	return 0;
}

static void paths_release(struct gd_paths *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
}

/* ------------------------------------------------------------ hashes */

static int hash_cmp(const void *a, const void *b)
{
	return strcmp(((const struct gd_file_hash *)a)->path, ((const struct gd_file_hash *)b)->path);
}

static void hash_free(void *p)
{
	struct gd_file_hash *h = p;
	free(h->path);
	free(h);
}

static void hash_forget(struct gd_layer_apply *la, const char *path)
{
	struct gd_file_hash key = { .path = (char *)path };
	struct gd_file_hash **found = tfind(&key, &la->hashes, hash_cmp);
	if (!found)
		return;
	struct gd_file_hash *h = *found;
	tdelete(&key, &la->hashes, hash_cmp);
	hash_free(h);
}

static int hash_record(struct gd_layer_apply *la, const char *path, const char *hex, uint64_t size)
{
	hash_forget(la, path);
	struct gd_file_hash *h = calloc(1, sizeof(*h));
	if (!h || !(h->path = strdup(path))) {
		free(h);
		return -ENOMEM;
	}
	memcpy(h->xxh3, hex, sizeof(h->xxh3));
	h->size = size;
	if (!tsearch(h, &la->hashes, hash_cmp)) {
		hash_free(h);
		return -ENOMEM;
	}
	return 0;
}

/* Holes of a sparse file count as zeros in its content hash. */
static void hash_zeros(struct gd_layer_apply *la, uint64_t n)
{
	static const char zeros[64 * 1024];
	while (n > 0) {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
		XXH3_128bits_update(la->xs, zeros, k);
		n -= k;
	}
}

static int on_data(void *ctx, struct lm_untar *x, const void *buf, size_t size, int64_t off)
{
	struct gd_layer_apply *la = ctx;
	if ((uint64_t)off < la->pos)
		return lm_untar_refuse(x, "data blocks out of order");
	hash_zeros(la, off - la->pos);
	XXH3_128bits_update(la->xs, buf, size);
	la->pos = off + size;
	return 0;
}

static int on_file(void *ctx, struct lm_untar *x, const char *path, const char *link_target, uint64_t size)
{
	struct gd_layer_apply *la = ctx;
	int r;
	if (link_target) {
		struct gd_file_hash key = { .path = (char *)link_target };
		struct gd_file_hash **t = tfind(&key, &la->hashes, hash_cmp);
		if (!t) {
			hash_forget(la, path); /* a link to a symlink, fifo...: no content */
			return 0;
		}
		r = strcmp(path, link_target) ? hash_record(la, path, (*t)->xxh3, (*t)->size) : 0;
	} else {
		char hex[33];
		if (size > la->pos)
			hash_zeros(la, size - la->pos);
		gd_xxh3_hex(XXH3_128bits_digest(la->xs), hex);
		r = hash_record(la, path, hex, size);
	}
	return r < 0 ? lm_untar_fail(x, r, "cannot record the hash") : 0;
}

/* --------------------------------------------------------- whiteouts */

/* An empty file or a 0/0 device name in pfd with e's metadata. */
static int make_marker(struct gd_layer_apply *la, struct lm_untar *x, struct archive_entry *e, int pfd,
		       const char *name)
{
	mode_t perm = archive_entry_perm(e) & 0777;
	if (la->opts->markers == GD_MARKERS_KERNEL) {
		if (mknodat(pfd, name, S_IFCHR | perm, makedev(0, 0)) < 0)
			return lm_untar_fail(x, -errno, "cannot make the whiteout");
	} else {
		int fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
		if (fd < 0)
			return lm_untar_fail(x, -errno, "cannot make the whiteout");
		close(fd);
	}
	_cleanup_close_ int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lm_untar_fail(x, -errno, "cannot open the whiteout");
	return lm_untar_apply_meta(x, e, fd);
}

/* ".wh.NAME" at path (dir/.wh.NAME): the marker, unless the layer has NAME
 * already (then finish_whiteouts sees to it), or the marker is there. */
static int whiteout_entry(struct gd_layer_apply *la, struct lm_untar *x, struct archive_entry *e, const char *path,
			  const char *base)
{
	const char *hidden = base + strlen(LM_WH_PREFIX);
	if (!*hidden)
		return lm_untar_refuse(x, "a bare whiteout '.wh.' names nothing");
	if (!strcmp(hidden, ".") || !strcmp(hidden, ".."))
		return lm_untar_refuse(x, "whiteout of '.' or '..'");
	size_t dirlen = base - path;
	_cleanup_free_ char *target = malloc(dirlen + strlen(hidden) + 1);
	if (!target)
		return lm_untar_fail(x, -ENOMEM, "cannot apply");
	memcpy(target, path, dirlen);
	strcpy(target + dirlen, hidden);
	int r = paths_add(&la->whiteouts, target, strlen(target));
	if (r < 0)
		return lm_untar_fail(x, r, "cannot apply");
	const char *name; /* base: the parent is made where missing */
	_cleanup_close_ int pfd = lm_untar_open_parent(x, path, &name);
	if (pfd < 0)
		return pfd;
	const char *marker = la->opts->markers == GD_MARKERS_KERNEL ? hidden : base;
	struct stat st;
	if (fstatat(pfd, hidden, &st, AT_SYMLINK_NOFOLLOW) == 0 ||
	    fstatat(pfd, marker, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	int m = make_marker(la, x, e, pfd, marker);
	return m < 0 ? m : 1;
}

/* ".wh..wh..opq": the folder (made if missing) is marked at the end. */
static int opaque_entry(struct gd_layer_apply *la, struct lm_untar *x, const char *path, const char *base)
{
	const char *name;
	_cleanup_close_ int pfd = lm_untar_open_parent(x, path, &name);
	if (pfd < 0)
		return pfd;
	size_t len = base > path ? (size_t)(base - path - 1) : 0;
	int r = paths_add(&la->opaques, path, len);
	return r < 0 ? lm_untar_fail(x, r, "cannot apply") : 1;
}

static int on_entry(void *ctx, struct lm_untar *x, struct archive_entry *e, const char *path)
{
	struct gd_layer_apply *la = ctx;
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	for (const char *p = path; p < base; p = strchr(p, '/') + 1)
		if (lm_wh_name(p))
			return lm_untar_refuse(x, "below a folder named '.wh.*', which is a whiteout marker");
	if (!strcmp(base, LM_WH_OPQ))
		return opaque_entry(la, x, path, base);
	if (gd_is_meta_name(base))
		return 1;
	if (lm_wh_name(base))
		return whiteout_entry(la, x, e, path, base);
	if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e)) {
		XXH3_128bits_reset(la->xs);
		la->pos = 0;
	} else if (!archive_entry_hardlink(e)) {
		hash_forget(la, path);
	}
	return 0;
}

/* -------------------------------------------------------- at the end */

static int set_opaque(struct gd_layer_apply *la, struct lm_untar *x, const char *path)
{
	_cleanup_close_ int fd = lm_open_beneath(lm_untar_root(x), *path ? path : ".", O_PATH | O_DIRECTORY | O_NOFOLLOW,
						 0, LM_RESOLVE_NO_SYMLINKS);
	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
		return 0; /* a later entry put a non-folder there */
	char p[LM_FD_PATH_MAX];
	const char *name = la->opts->markers == GD_MARKERS_KERNEL ? LM_OVL_OPAQUE_TRUSTED : LM_OVL_OPAQUE_USER;
	if (fd < 0 || setxattr(lm_fd_path(fd, p), name, "y", 1, 0) < 0)
		return lm_err(la->err, fd < 0 ? fd : -errno, "%s: '%s': cannot mark the folder opaque",
			      lm_untar_what(x), *path ? path : ".");
	return 0;
}

/* A whiteout of a name the layer also has: the name stays (see the top). */
static int finish_whiteout(struct gd_layer_apply *la, struct lm_untar *x, const char *path)
{
	const char *name;
	_cleanup_close_ int pfd = lm_open_parent_beneath(lm_untar_root(x), path, LM_RESOLVE_NO_SYMLINKS, &name);
	struct stat st;
	if (pfd < 0 || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || lm_ovl_is_whiteout_dev(&st))
		return 0;
	if (la->opts->markers == GD_MARKERS_WH) {
		_cleanup_free_ char *marker = malloc(strlen(name) + sizeof(LM_WH_PREFIX));
		if (!marker)
			return -ENOMEM;
		strcpy(marker, LM_WH_PREFIX);
		strcat(marker, name);
		if (unlinkat(pfd, marker, 0) < 0 && errno != ENOENT)
			return lm_err(la->err, -errno, "%s: '%s': cannot remove the whiteout", lm_untar_what(x), path);
	}
	return S_ISDIR(st.st_mode) ? set_opaque(la, x, path) : 0;
}

static int on_finish(void *ctx, struct lm_untar *x)
{
	struct gd_layer_apply *la = ctx;
	for (size_t i = 0; i < la->whiteouts.n; i++) {
		int r = finish_whiteout(la, x, la->whiteouts.v[i]);
		if (r < 0)
			return r == -ENOMEM ? lm_err(la->err, r, "%s: cannot apply", lm_untar_what(x)) : r;
	}
	for (size_t i = 0; i < la->opaques.n; i++) {
		int r = set_opaque(la, x, la->opaques.v[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int gd_layer_apply_init(struct gd_layer_apply *la, const struct gd_apply_opts *opts, struct lm_error *err)
{
	*la = (struct gd_layer_apply){
		.opts = opts,
		.err = err,
		.hooks = { .entry = on_entry, .data = on_data, .file = on_file, .finish = on_finish },
	};
	la->hooks.ctx = la;
	la->xs = XXH3_createState();
	return la->xs ? 0 : -ENOMEM;
}

const struct lm_untar_hooks *gd_layer_apply_hooks(struct gd_layer_apply *la)
{
	return &la->hooks;
}

/* twalk_r's in-order visit: internal nodes at postorder, leaves once. */
struct collect {
	struct gd_file_hash *v;
	size_t n;
};

static void collect_one(const void *node, VISIT which, void *ctx)
{
	struct collect *c = ctx;
	if (which != postorder && which != leaf)
		return;
	struct gd_file_hash *h = *(struct gd_file_hash *const *)node;
	c->v[c->n++] = *h;
	h->path = NULL; /* moved */
}

static void count_one(const void *node, VISIT which, void *ctx)
{
	(void)node;
	if (which == postorder || which == leaf)
		(*(size_t *)ctx)++;
}

int gd_layer_apply_take_hashes(struct gd_layer_apply *la, struct gd_file_hash **ret, size_t *ret_n)
{
	size_t n = 0;
	twalk_r(la->hashes, count_one, &n);
	struct collect c = { calloc(n ? n : 1, sizeof(*c.v)), 0 };
	if (!c.v)
		return -ENOMEM;
	twalk_r(la->hashes, collect_one, &c);
	qsort(c.v, c.n, sizeof(*c.v), hash_cmp);
	*ret = c.v;
	*ret_n = c.n;
	return 0;
}

void gd_layer_apply_release(struct gd_layer_apply *la)
{
	tdestroy(la->hashes, hash_free);
	la->hashes = NULL;
	XXH3_freeState(la->xs);
	paths_release(&la->whiteouts);
	paths_release(&la->opaques);
}
