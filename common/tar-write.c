/*
 * common/tar-write.c: a tree as a pax tar (lm_tar_write_tree). The walk
 * (sorted, one file system, hard links) is common/walk.c's; this file turns
 * each object into an entry. Only what the tree holds goes in (no atime,
 * ctime, user or group names, inode numbers), so the same tree gives the
 * same bytes. Sparse files are written as GNU sparse 1.0 pax entries,
 * which GNU tar and bsdtar read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/attrs.h"
#include "common/cleanup.h"
#include "common/error.h"
#include "common/fsops.h"
#include "common/tar-private.h"
#include "common/tar.h"
#include "common/walk.h"

struct lm_tar_writer {
	struct archive *a;
	struct archive_entry *ent; /* reused for every object */
	const char *what;
	struct lm_error *err;
	const struct lm_tar_write_ops *ops; /* NULL: the plain tree */
	void *ctx;
};

/* A data extent of a file: [off, off + len). */
struct extent {
	off_t off, len;
};

static int obj_fail(struct lm_tar_writer *w, const struct lm_walk_entry *e, int r, const char *doing)
{
	return lm_err(w->err, r, "%s: '%s': %s", w->what, e->path, doing);
}

static int ar_fail(struct lm_tar_writer *w, const struct lm_walk_entry *e, const char *doing)
{
	return lm_err_plain(w->err, lm_tar_errno(w->a, -EIO), "%s: '%s': %s: %s", w->what, e->path, doing,
			    lm_tar_error_string(w->a));
}

static int add_xattrs(struct lm_tar_writer *w, const struct lm_walk_entry *e, int fd)
{
	struct lm_xattrs x = LM_XATTRS_INIT;
	int r = lm_xattrs_read(fd, &x);
	if (r < 0)
		return obj_fail(w, e, r, "cannot read xattrs");
	for (size_t i = 0; i < x.n; i++)
		if (!w->ops || !w->ops->keep_xattr || w->ops->keep_xattr(x.v[i].name))
			archive_entry_xattr_add_entry(w->ent, x.v[i].name, x.v[i].value, x.v[i].size);
	lm_xattrs_release(&x);
	return 0;
}

static int add_extent(struct extent **v, size_t *n, size_t *cap, off_t off, off_t len)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 8;
		struct extent *p = reallocarray(*v, c, sizeof(*p));
		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = (struct extent){ off, len };
	return 0;
}

/*
 * The data extents of fd up to size (SEEK_DATA/SEEK_HOLE); one extent
 * [0, size) where the file system cannot tell or the file has no hole.
 */
static int data_extents(int fd, off_t size, struct extent **ret, size_t *ret_n)
{
	_cleanup_free_ struct extent *v = NULL;
	size_t n = 0, cap = 0;
	off_t off = 0;
	bool holes = false;
	while (off < size) {
		off_t data = lseek(fd, off, SEEK_DATA);
		if (data < 0 && errno != ENXIO) {
			holes = false; /* no SEEK_DATA here: all data */
			break;
		}
		if (data < 0 || data >= size) {
			holes = true; /* a hole up to the end */
			break;
		}
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || hole > size)
			hole = size;
		holes |= data > off;
		if (add_extent(&v, &n, &cap, data, hole - data) < 0)
			return -ENOMEM;
		off = hole;
	}
	if (!holes) {
		n = 0;
		if (size > 0 && add_extent(&v, &n, &cap, 0, size) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static int feed(struct lm_tar_writer *w, const void *buf, size_t len)
{
	la_ssize_t n = archive_write_data(w->a, buf, len);
	return n < 0 ? -1 : 0;
}

/* size bytes of hole: the pax writer drops them for a sparse entry. */
static int feed_hole(struct lm_tar_writer *w, off_t len)
{
	static const char zeros[64 * 1024];
	while (len > 0) {
		size_t n = len < (off_t)sizeof(zeros) ? (size_t)len : sizeof(zeros);
		if (feed(w, zeros, n) < 0)
			return -1;
		len -= n;
	}
	return 0;
}

/* The file's size bytes in order, holes as zeros; stops early if it
 * shrank (libarchive pads the entry). */
static int feed_data(struct lm_tar_writer *w, const struct lm_walk_entry *e, int fd, off_t size, const struct extent *v,
		     size_t n)
{
	char buf[128 * 1024];
	off_t pos = 0;
	for (size_t i = 0; i < n; i++) {
		if (feed_hole(w, v[i].off - pos) < 0)
			return ar_fail(w, e, "cannot write");
		for (pos = v[i].off; pos < v[i].off + v[i].len;) {
			off_t want = v[i].off + v[i].len - pos;
			ssize_t got = pread(fd, buf, want < (off_t)sizeof(buf) ? (size_t)want : sizeof(buf), pos);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return obj_fail(w, e, -errno, "cannot read");
			if (got == 0)
				return 0;
			if (feed(w, buf, got) < 0)
				return ar_fail(w, e, "cannot write");
			pos += got;
		}
	}
	/* the last hole: for a file that is all hole, the only write, and the
	 * one that makes libarchive put out the sparse map */
	if (pos < size && feed_hole(w, size - pos) < 0)
		return ar_fail(w, e, "cannot write");
	return 0;
}

static int write_header(struct lm_tar_writer *w, const struct lm_walk_entry *e)
{
	if (archive_write_header(w->a, w->ent) < ARCHIVE_WARN)
		return ar_fail(w, e, "cannot write the entry");
	return 0;
}

static int write_file(struct lm_tar_writer *w, const struct lm_walk_entry *e)
{
	struct stat st;
	_cleanup_close_ int fd = lm_walk_open_file(e, &st);
	if (fd < 0)
		return obj_fail(w, e, fd, fd == -EAGAIN ? "changed while being read" : "cannot open");
	int r = add_xattrs(w, e, fd);
	if (r < 0)
		return r;
	_cleanup_free_ struct extent *v = NULL;
	size_t n;
	if (data_extents(fd, st.st_size, &v, &n) < 0)
		return obj_fail(w, e, -ENOMEM, "cannot map holes");
	archive_entry_set_size(w->ent, st.st_size);
	if (n != 1 || v[0].off != 0 || v[0].len != st.st_size) {
		for (size_t i = 0; i < n; i++)
			archive_entry_sparse_add_entry(w->ent, v[i].off, v[i].len);
		if (n == 0) /* all hole: an empty extent at the end keeps it sparse */
			archive_entry_sparse_add_entry(w->ent, st.st_size, 0);
	}
	r = write_header(w, e);
	if (r < 0)
		return r;
	r = feed_data(w, e, fd, st.st_size, v, n);
	return r < 0 ? r : 0;
}

/* Symlinks, fifos, devices: their xattrs through an O_PATH fd. */
static int write_special(struct lm_tar_writer *w, const struct lm_walk_entry *e)
{
	if (S_ISLNK(e->st->st_mode)) {
		_cleanup_free_ char *target = NULL;
		int r = lm_readlink_at(e->parent, e->name, &target);
		if (r < 0)
			return obj_fail(w, e, r, "cannot read symlink");
		archive_entry_set_symlink(w->ent, target);
	} else if (S_ISCHR(e->st->st_mode) || S_ISBLK(e->st->st_mode)) {
		archive_entry_set_rdev(w->ent, e->st->st_rdev);
	}
	_cleanup_close_ int fd = openat(e->parent, e->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return obj_fail(w, e, -errno, "cannot open");
	int r = add_xattrs(w, e, fd);
	return r < 0 ? r : write_header(w, e);
}

/* The entry's common fields: name, mode, numeric owner, mtime. */
static void entry_reset(struct lm_tar_writer *w, const char *path, const struct stat *st, mode_t mode)
{
	archive_entry_clear(w->ent);
	archive_entry_copy_pathname(w->ent, path);
	archive_entry_set_mode(w->ent, mode);
	archive_entry_set_uid(w->ent, st->st_uid);
	archive_entry_set_gid(w->ent, st->st_gid);
	archive_entry_set_mtime(w->ent, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

int lm_tar_write_empty(struct lm_tar_writer *w, const char *path, const struct stat *st, mode_t perm)
{
	entry_reset(w, path, st, S_IFREG | (perm & 07777));
	archive_entry_set_size(w->ent, 0);
	if (archive_write_header(w->a, w->ent) < ARCHIVE_WARN)
		return lm_err_plain(w->err, lm_tar_errno(w->a, -EIO), "%s: '%s': cannot write the entry: %s",
				    w->what, path, lm_tar_error_string(w->a));
	return 0;
}

int lm_tar_write_object(struct lm_tar_writer *w, const struct lm_walk_entry *e, int fd)
{
	const struct stat *st = e->st;
	/* the root is not an entry; sockets have no tar type (tar skips them) */
	if (e->parent < 0 || S_ISSOCK(st->st_mode))
		return 0;
	entry_reset(w, e->path, st, st->st_mode);
	if (e->link_first) {
		archive_entry_copy_hardlink(w->ent, e->link_first);
		return write_header(w, e);
	}
	if (S_ISDIR(st->st_mode)) {
		int r = add_xattrs(w, e, fd);
		return r < 0 ? r : write_header(w, e);
	}
	if (S_ISREG(st->st_mode))
		return write_file(w, e);
	return write_special(w, e);
}

static int write_visit(void *ctx, const struct lm_walk_entry *e, int fd)
{
	struct lm_tar_writer *w = ctx;
	if (w->ops && w->ops->visit)
		return w->ops->visit(w->ctx, w, e, fd);
	return lm_tar_write_object(w, e, fd);
}

static int write_leave(void *ctx, const struct lm_walk_entry *e, int fd)
{
	struct lm_tar_writer *w = ctx;
	return w->ops && w->ops->leave ? w->ops->leave(w->ctx, w, e, fd) : 0;
}

int lm_tar_write_tree(int dirfd, int fd_out, const char *what, struct lm_error *err)
{
	return lm_tar_write_walk(dirfd, fd_out, what, NULL, NULL, err);
}

/* Where a tar goes: fd, until the write failed; then nowhere. */
struct tar_sink {
	int fd;
	bool discard;
};

static la_ssize_t sink_write(struct archive *a, void *data, const void *buf, size_t len)
{
	struct tar_sink *sink = data;
	ssize_t n;

	if (sink->discard)
		return (la_ssize_t)len;
	do
		n = write(sink->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "%s", strerror(errno));
		return -1;
	}
	return n;
}

int lm_tar_write_walk(int dirfd, int fd_out, const char *what, const struct lm_tar_write_ops *wops, void *ctx,
		      struct lm_error *err)
{
	static const struct lm_walk_ops ops = { .visit = write_visit, .leave = write_leave };
	struct lm_tar_writer w = { .what = what ? what : "tree", .err = err, .ops = wops, .ctx = ctx };
	struct tar_sink sink = { .fd = fd_out };
	struct lm_tar_locale loc;
	int r = lm_tar_locale_enter(&loc);
	if (r < 0)
		return lm_err(err, r, "%s: cannot set up the tar writer", w.what);
	_cleanup_archive_write_ struct archive *a = archive_write_new();
	_cleanup_archive_entry_ struct archive_entry *ent = archive_entry_new();
	w.a = a;
	w.ent = ent;
	/* The last block is padded to the 10 KiB record size whatever fd_out is
	 * (libarchive would pad only for devices and fd 1), so that a tree gives
	 * the same bytes to a file and to a pipe. */
	if (!a || !ent || archive_write_set_format_pax(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 0) != ARCHIVE_OK)
		r = lm_err(err, -ENOMEM, "%s: cannot set up the tar writer", w.what);
	else if (archive_write_open2(a, &sink, NULL, sink_write, NULL, NULL) != ARCHIVE_OK)
		r = lm_err_plain(err, lm_tar_errno(a, -EIO), "%s: cannot write the tar: %s", w.what,
				 lm_tar_error_string(a));
	else
		r = lm_walk(dirfd, &ops, &w, w.what, err);
	/* close writes the end-of-archive blocks; after a failure there must be
	 * none, so that the cut output is no valid tar: they go nowhere. (Not
	 * archive_write_fail: libarchive 3.6 then never frees its write buffer.) */
	if (r < 0 && a) {
		sink.discard = true;
		archive_write_close(a);
	} else if (r >= 0 && archive_write_close(a) != ARCHIVE_OK)
		r = lm_err_plain(err, lm_tar_errno(a, -EIO), "%s: cannot finish the tar: %s", w.what,
				 lm_tar_error_string(a));
	lm_tar_locale_leave(&loc);
	return r < 0 ? r : 0;
}
