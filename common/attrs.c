/*
 * common/attrs.c: reading the extended attributes of one object and
 * applying owner, xattrs, mode and times to it, through a real fd or an
 * O_PATH one. Walking trees and creating objects is left to the callers
 * (common/walk.c, common/treecopy.c, common/tar.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "common/attrs.h"
#include "common/cleanup.h"
#include "common/error.h"

const char *lm_fd_path(int fd, char *buf)
{
	snprintf(buf, LM_FD_PATH_MAX, "/proc/self/fd/%d", fd);
	return buf;
}

static int fd_is_opath(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	return (fl & O_PATH) ? 1 : 0;
}

/* listxattr/getxattr of fd: the f* calls refuse O_PATH fds, and the
 * l* calls on /proc/self/fd/N would reach the magic link, not the object. */
static ssize_t xlist(int fd, int opath, char *buf, size_t size)
{
	char p[LM_FD_PATH_MAX];
	return opath ? listxattr(lm_fd_path(fd, p), buf, size) : flistxattr(fd, buf, size);
}

static ssize_t xget(int fd, int opath, const char *name, void *buf, size_t size)
{
	char p[LM_FD_PATH_MAX];
	return opath ? getxattr(lm_fd_path(fd, p), name, buf, size) : fgetxattr(fd, name, buf, size);
}

/* The list of names; it may grow between the size query and the read (ERANGE). */
static int read_names(int fd, int opath, char **ret, size_t *ret_len)
{
	for (int tries = 0; tries < 8; tries++) {
		ssize_t n = xlist(fd, opath, NULL, 0);
		if (n < 0)
			return (errno == ENOTSUP) ? 0 : -errno;
		if (n == 0)
			return 0;
		_cleanup_free_ char *buf = malloc(n);
		if (!buf)
			return -ENOMEM;
		ssize_t m = xlist(fd, opath, buf, n);
		if (m >= 0) {
			*ret = TAKE_PTR(buf);
			*ret_len = m;
			return 0;
		}
		if (errno != ERANGE)
			return -errno;
	}
	return -ERANGE;
}

/* One value into *x (malloc'd); 0 with x->value NULL when it vanished. */
static int read_value(int fd, int opath, struct lm_xattr *x)
{
	for (int tries = 0; tries < 8; tries++) {
		ssize_t n = xget(fd, opath, x->name, NULL, 0);
		if (n < 0)
			return errno == ENODATA ? 0 : -errno;
		_cleanup_free_ char *buf = malloc(n ? n : 1);
		if (!buf)
			return -ENOMEM;
		ssize_t m = xget(fd, opath, x->name, buf, n);
		if (m >= 0) {
			x->value = TAKE_PTR(buf);
			x->size = m;
			return 0;
		}
		if (errno == ENODATA)
			return 0;
		if (errno != ERANGE)
			return -errno;
	}
	return -ERANGE;
}

static int xattr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lm_xattr *)a)->name, ((const struct lm_xattr *)b)->name);
}

void lm_xattrs_release(struct lm_xattrs *x)
{
	for (size_t i = 0; i < x->n; i++)
		free((void *)x->v[i].value);
	free(x->v);
	free(x->names);
	*x = (struct lm_xattrs)LM_XATTRS_INIT;
}

static int xattrs_fill(int fd, int opath, struct lm_xattrs *x, size_t len)
{
	size_t count = 0;
	for (size_t off = 0; off < len; off += strlen(x->names + off) + 1)
		count++;
	x->v = calloc(count ? count : 1, sizeof(*x->v));
	if (!x->v)
		return -ENOMEM;
	for (size_t off = 0; off < len; off += strlen(x->names + off) + 1) {
		struct lm_xattr *e = &x->v[x->n];
		e->name = x->names + off;
		int r = read_value(fd, opath, e);
		if (r < 0)
			return r;
		if (e->value)
			x->n++;
	}
	qsort(x->v, x->n, sizeof(*x->v), xattr_cmp);
	return 0;
}

int lm_xattrs_read(int fd, struct lm_xattrs *ret)
{
	struct lm_xattrs x = LM_XATTRS_INIT;
	size_t len = 0;
	int opath = fd_is_opath(fd);
	if (opath < 0)
		return opath;
	int r = read_names(fd, opath, &x.names, &len);
	if (r == 0 && len > 0)
		r = xattrs_fill(fd, opath, &x, len);
	if (r < 0) {
		lm_xattrs_release(&x);
		return r;
	}
	*ret = x;
	return 0;
}

const char *lm_attrs_failure_str(const struct lm_attrs_failure *fail, char *buf, size_t size)
{
	if (!fail->xattr) {
		snprintf(buf, size, "%s", fail->step);
		return buf;
	}
	char name[96];
	snprintf(buf, size, "%s '%s'", fail->step, lm_err_name(fail->xattr, name, sizeof(name)));
	return buf;
}

static int failed(struct lm_attrs_failure *fail, const char *step, const char *xattr, int r)
{
	if (fail) {
		fail->step = step;
		fail->xattr = xattr;
	}
	return r;
}

static int apply_xattrs(int fd, int opath, const struct lm_attrs *a, struct lm_attrs_failure *fail)
{
	char p[LM_FD_PATH_MAX];
	lm_fd_path(fd, p);
	for (size_t i = 0; i < a->nxattrs; i++) {
		const struct lm_xattr *x = &a->xattrs[i];
		int r = opath ? setxattr(p, x->name, x->value, x->size, 0)
			      : fsetxattr(fd, x->name, x->value, x->size, 0);
		if (r < 0)
			return failed(fail, "xattr", x->name, -errno);
	}
	return 0;
}

int lm_attrs_apply(int fd, const struct lm_attrs *a, struct lm_attrs_failure *fail)
{
	char p[LM_FD_PATH_MAX];
	int opath = fd_is_opath(fd);
	if (opath < 0)
		return failed(fail, "owner", NULL, opath);
	if (a->set_owner && fchownat(fd, "", a->uid, a->gid, AT_EMPTY_PATH) < 0)
		return failed(fail, "owner", NULL, -errno);
	int r = apply_xattrs(fd, opath, a, fail);
	if (r < 0)
		return r;
	if (!S_ISLNK(a->mode)) {
		mode_t perm = a->mode & 07777;
		r = opath ? chmod(lm_fd_path(fd, p), perm) : fchmod(fd, perm);
		if (r < 0)
			return failed(fail, "mode", NULL, -errno);
	}
	if (a->atime.tv_nsec == UTIME_OMIT && a->mtime.tv_nsec == UTIME_OMIT)
		return 0;
	const struct timespec ts[2] = { a->atime, a->mtime };
	/* AT_EMPTY_PATH on an O_PATH fd: Linux 5.8 */
	r = opath ? utimensat(fd, "", ts, AT_EMPTY_PATH) : futimens(fd, ts);
	if (r < 0)
		return failed(fail, "times", NULL, -errno);
	return 0;
}
