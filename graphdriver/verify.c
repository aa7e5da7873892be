/*
 * graphdriver/verify.c: gd_verify, a layer folder's regular files against
 * the XXH3-128 hashes gd_apply recorded (DESIGN.md "Hashes"): one problem
 * per file changed, missing or added. Markers are no files: .wh. files and
 * .wh..wh.* metadata are not compared.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/check.h"
#include "common/cleanup.h"
#include "common/error.h"
#include "common/walk.h"
#include "graphdriver/layerfs-private.h"
#include "graphdriver/layerfs.h"

struct verify {
	const struct gd_file_hash *hashes;
	size_t n;
	bool *seen;
	const char *what;
	struct lamina_check_report report;
	struct lm_error *err;
};

static int hash_path_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct gd_file_hash *)elem)->path);
}

static int problem(struct verify *v, const char *path, const char *what)
{
	int r = lm_check_add(&v->report, false, "%s: '/%s': %s", v->what, path, what);
	return r < 0 ? lm_err(v->err, r, "%s: cannot verify", v->what) : 0;
}

static int verify_file(struct verify *v, const struct lm_walk_entry *e)
{
	const struct gd_file_hash *h = bsearch(e->path, v->hashes, v->n, sizeof(*v->hashes), hash_path_cmp);
	if (!h)
		return problem(v, e->path, "added: not in the hashes recorded at import");
	v->seen[h - v->hashes] = true;
	struct stat st;
	_cleanup_close_ int fd = lm_walk_open_file(e, &st);
	if (fd < 0)
		return lm_err(v->err, fd, "%s: '/%s': cannot open", v->what, e->path);
	char hex[33];
	uint64_t size;
	int r = gd_xxh3_fd(fd, hex, &size);
	if (r < 0)
		return lm_err(v->err, r, "%s: '/%s': cannot read", v->what, e->path);
	if (size != h->size || strcmp(hex, h->xxh3))
		return problem(v, e->path, "content changed since import");
	return 0;
}

static int verify_visit(void *ctx, const struct lm_walk_entry *e, int fd)
{
	(void)fd;
	struct verify *v = ctx;
	if (e->parent >= 0 && (gd_is_meta_name(e->name) || gd_whiteout_of(e->name, e->st)))
		return S_ISDIR(e->st->st_mode) ? LM_WALK_SKIP : 0;
	return S_ISREG(e->st->st_mode) ? verify_file(v, e) : 0;
}

int gd_verify(int dirfd, const struct gd_file_hash *hashes, size_t n, const char *what,
	      struct lamina_check_report *ret, struct lm_error *err)
{
	static const struct lm_walk_ops ops = { .visit = verify_visit };
	struct verify v = { .hashes = hashes, .n = n, .what = what ? what : "layer", .err = err };
	v.seen = calloc(n ? n : 1, sizeof(*v.seen));
	if (!v.seen)
		return lm_err(err, -ENOMEM, "%s: cannot verify", v.what);
	int r = lm_walk(dirfd, &ops, &v, v.what, err);
	for (size_t i = 0; i < n && r >= 0; i++)
		if (!v.seen[i])
			r = problem(&v, hashes[i].path, "missing: recorded at import, not there now");
	free(v.seen);
	if (r < 0) {
		lamina_check_report_release(&v.report);
		return r;
	}
	*ret = v.report;
	return 0;
}
