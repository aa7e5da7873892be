/*
 * common/treecopy.c: copies a tree with its metadata (lm_tree_copy). The
 * walk (order, mount points, hard links) is common/walk.c's, the metadata
 * order common/attrs.c's, the data copy lm_copy_data()'s; this file creates
 * the objects. Folders get their metadata after their content, so a
 * read-only folder still gets its children and keeps its mtime.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/attrs.h"
#include "common/cleanup.h"
#include "common/error.h"
#include "common/fsops.h"
#include "common/path.h"
#include "common/treecopy.h"
#include "common/walk.h"

struct copy {
	int dst_root;
	int *stack; /* the destination folders being filled; the last is the current one */
	size_t depth, cap;
	const char *what;
	struct lm_error *err;
};

static int copy_fail(struct copy *c, const struct lm_walk_entry *e, int r, const char *doing)
{
	return lm_err(c->err, r, "%s: '%s': %s", c->what, *e->path ? e->path : ".", doing);
}

static int top(const struct copy *c)
{
	return c->stack[c->depth - 1];
}

static int push(struct copy *c, int fd)
{
	if (c->depth == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		int *p = reallocarray(c->stack, cap, sizeof(*p));
		if (!p) {
			lm_close(fd);
			return -ENOMEM;
		}
		c->stack = p;
		c->cap = cap;
	}
	c->stack[c->depth++] = fd;
	return 0;
}

/* Owner, xattrs, mode and times of e (src_fd: it, real or O_PATH) onto dst_fd. */
static int copy_attrs(struct copy *c, const struct lm_walk_entry *e, int src_fd, int dst_fd)
{
	struct lm_xattrs x = LM_XATTRS_INIT;
	int r = lm_xattrs_read(src_fd, &x);
	if (r < 0)
		return copy_fail(c, e, r, "cannot read xattrs");
	struct lm_attrs a = {
		.mode = e->st->st_mode,
		.set_owner = true,
		.uid = e->st->st_uid,
		.gid = e->st->st_gid,
		.atime = e->st->st_atim,
		.mtime = e->st->st_mtim,
		.xattrs = x.v,
		.nxattrs = x.n,
	};
	struct lm_attrs_failure fail;
	char why[128];
	r = lm_attrs_apply(dst_fd, &a, &fail);
	if (r < 0)
		lm_err(c->err, r, "%s: '%s': cannot set %s", c->what, *e->path ? e->path : ".",
		       lm_attrs_failure_str(&fail, why, sizeof(why)));
	lm_xattrs_release(&x);
	return r;
}

static int copy_file(struct copy *c, const struct lm_walk_entry *e)
{
	struct stat st;
	_cleanup_close_ int in = lm_walk_open_file(e, &st);
	if (in < 0)
		return copy_fail(c, e, in, in == -EAGAIN ? "changed while being copied" : "cannot open");
	_cleanup_close_ int out =
		openat(top(c), e->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return copy_fail(c, e, -errno, "cannot create the copy");
	int r = lm_copy_data(in, out, st.st_size);
	if (r < 0)
		return copy_fail(c, e, r, "cannot copy data");
	return copy_attrs(c, e, in, out);
}

static int copy_link(struct copy *c, const struct lm_walk_entry *e)
{
	const char *name;
	_cleanup_close_ int pfd = lm_open_parent_beneath(c->dst_root, e->link_first, LM_RESOLVE_NO_SYMLINKS, &name);
	if (pfd < 0)
		return copy_fail(c, e, pfd, "cannot find the copy of its first link");
	if (linkat(pfd, name, top(c), e->name, 0) < 0)
		return copy_fail(c, e, -errno, "cannot link");
	return 0;
}

/* Symlinks, fifos, devices, sockets: made, then their metadata through O_PATH. */
static int copy_special(struct copy *c, const struct lm_walk_entry *e)
{
	int r;
	if (S_ISLNK(e->st->st_mode)) {
		_cleanup_free_ char *target = NULL;
		r = lm_readlink_at(e->parent, e->name, &target);
		if (r < 0)
			return copy_fail(c, e, r, "cannot read symlink");
		r = symlinkat(target, top(c), e->name) < 0 ? -errno : 0;
	} else {
		r = mknodat(top(c), e->name, (e->st->st_mode & S_IFMT) | 0600, e->st->st_rdev) < 0 ? -errno : 0;
	}
	if (r < 0)
		return copy_fail(c, e, r, "cannot create the copy");
	_cleanup_close_ int src = openat(e->parent, e->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		return copy_fail(c, e, -errno, "cannot open");
	_cleanup_close_ int dst = openat(top(c), e->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		return copy_fail(c, e, -errno, "cannot open the copy");
	return copy_attrs(c, e, src, dst);
}

static int copy_visit(void *ctx, const struct lm_walk_entry *e, int fd)
{
	struct copy *c = ctx;
	if (e->parent < 0) {
		int root = openat(c->dst_root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		return root < 0 ? copy_fail(c, e, -errno, "cannot open the destination") : push(c, root);
	}
	if (S_ISDIR(e->st->st_mode)) {
		if (mkdirat(top(c), e->name, 0700) < 0)
			return copy_fail(c, e, -errno, "cannot create the copy");
		int sub = openat(top(c), e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return copy_fail(c, e, -errno, "cannot open the copy");
		int r = push(c, sub);
		return r < 0 ? copy_fail(c, e, r, "cannot copy") : 0;
	}
	if (e->link_first)
		return copy_link(c, e);
	if (S_ISREG(e->st->st_mode))
		return copy_file(c, e);
	return copy_special(c, e);
}

static int copy_leave(void *ctx, const struct lm_walk_entry *e, int fd)
{
	struct copy *c = ctx;
	int r = copy_attrs(c, e, fd, top(c));
	lm_close(c->stack[--c->depth]);
	return r;
}

int lm_tree_copy(int src_dirfd, int dst_dirfd, const char *what, struct lm_error *err)
{
	static const struct lm_walk_ops ops = { .visit = copy_visit, .leave = copy_leave };
	struct copy c = { .dst_root = dst_dirfd, .what = what ? what : "tree", .err = err };
	int r = lm_walk(src_dirfd, &ops, &c, c.what, err);
	while (c.depth)
		lm_close(c.stack[--c.depth]);
	free(c.stack);
	return r < 0 ? r : 0;
}
