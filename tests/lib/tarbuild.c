/*
 * tests/lib/tarbuild.c: tarballs for tests, from struct tl_tar_entry lists,
 * written by libarchive into a growing memory buffer (tarbuild.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"

struct membuf {
	char *data;
	size_t len, cap;
};

static la_ssize_t mem_write(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct membuf *m = ctx;
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->data = tl_realloc(m->data, m->cap);
	}
	memcpy(m->data + m->len, buf, len);
	m->len += len;
	return (la_ssize_t)len;
}

static void check(struct archive *a, int r, const char *what, const char *name)
{
	if (r < ARCHIVE_WARN)
		tl_fail("tar builder: %s '%s': %s", what, name ? name : "", archive_error_string(a));
}

static void set_type(struct archive_entry *e, const struct tl_tar_entry *t)
{
	switch (t->type) {
	case 'f':
	case 'h':
		archive_entry_set_filetype(e, AE_IFREG);
		break;
	case 'd':
		archive_entry_set_filetype(e, AE_IFDIR);
		break;
	case 'l':
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_copy_symlink(e, t->data);
		break;
	case 'p':
		archive_entry_set_filetype(e, AE_IFIFO);
		break;
	case 'c':
	case 'b':
		archive_entry_set_filetype(e, t->type == 'c' ? AE_IFCHR : AE_IFBLK);
		archive_entry_set_rdev(e, makedev(t->major, t->minor));
		break;
	default:
		tl_fail("tar builder: entry '%s': unknown type '%c'", t->name, t->type);
	}
	if (t->type == 'h')
		archive_entry_copy_hardlink(e, t->data);
}

static mode_t default_perm(char type)
{
	return type == 'd' ? 0755 : type == 'l' ? 0777 : 0644;
}

static void set_meta(struct archive_entry *e, const struct tl_tar_entry *t)
{
	archive_entry_copy_pathname(e, t->name);
	set_type(e, t);
	archive_entry_set_perm(e, t->perm ? t->perm : default_perm(t->type));
	archive_entry_set_uid(e, t->uid);
	archive_entry_set_gid(e, t->gid);
	archive_entry_set_mtime(e, t->mtime ? t->mtime : TL_EPOCH, t->mtime_nsec);
	if (t->xattr) {
		const char *eq = strchr(t->xattr, '=');
		if (!eq)
			tl_fail("tar builder: entry '%s': xattr '%s' without '='", t->name, t->xattr);
		char *name = tl_strdupf("%.*s", (int)(eq - t->xattr), t->xattr);
		archive_entry_xattr_add_entry(e, name, eq + 1, t->xattr_len ? t->xattr_len : strlen(eq + 1));
		free(name);
	}
}

/* Feeds len bytes, zeros where data is NULL (holes of a sparse entry,
 * which the pax writer drops). */
static void feed(struct archive *a, const char *data, size_t len, const char *name)
{
	static const char zeros[64 * 1024];
	while (len > 0) {
		size_t n = data ? len : (len < sizeof(zeros) ? len : sizeof(zeros));
		la_ssize_t w = archive_write_data(a, data ? data : zeros, n);
		if (w < 0)
			check(a, (int)w, "write data of", name);
		len -= n;
		if (data)
			data += n;
	}
}

static void add_entry(struct archive *a, struct archive_entry *e, const struct tl_tar_entry *t)
{
	size_t len = t->type == 'f' && t->data ? (t->len ? t->len : strlen(t->data)) : 0;
	archive_entry_clear(e);
	set_meta(e, t);
	if (t->type == 'f' && t->sparse_size > 0) {
		archive_entry_set_size(e, t->sparse_size);
		archive_entry_sparse_add_entry(e, t->sparse_offset, len);
	} else if (t->type == 'f') {
		archive_entry_set_size(e, len);
	}
	check(a, archive_write_header(a, e), "write header of", t->name);
	if (t->type == 'f' && t->sparse_size > 0) {
		feed(a, NULL, t->sparse_offset, t->name);
		feed(a, t->data, len, t->name);
		feed(a, NULL, t->sparse_size - t->sparse_offset - len, t->name);
	} else if (len) {
		feed(a, t->data, len, t->name);
	}
}

static void set_format(struct archive *a, unsigned flags)
{
	int r;
	switch (flags & TL_TAR_FORMAT_MASK) {
	case TL_TAR_GNU:
		r = archive_write_set_format_gnutar(a);
		break;
	case TL_TAR_USTAR:
		r = archive_write_set_format_ustar(a);
		break;
	default:
		r = archive_write_set_format_pax(a);
	}
	check(a, r, "set format", NULL);
	switch (flags & TL_TAR_FILTER_MASK) {
	case TL_TAR_GZIP:
		r = archive_write_add_filter_gzip(a);
		break;
	case TL_TAR_BZIP2:
		r = archive_write_add_filter_bzip2(a);
		break;
	case TL_TAR_XZ:
		r = archive_write_add_filter_xz(a);
		break;
	case TL_TAR_ZSTD:
		r = archive_write_add_filter_zstd(a);
		break;
	default:
		r = ARCHIVE_OK;
	}
	check(a, r, "add filter", NULL);
}

void *tl_tar_build(const struct tl_tar_entry *entries, unsigned flags, size_t *ret_len)
{
	struct membuf m = { NULL, 0, 0 };
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	if (!a || !e)
		tl_fail("tar builder: out of memory");
	set_format(a, flags);
	/* no zeros after the last block: a zstd reader takes them for a frame */
	check(a, archive_write_set_bytes_in_last_block(a, 1), "set block size", NULL);
	check(a, archive_write_open(a, &m, NULL, mem_write, NULL), "open", NULL);
	for (const struct tl_tar_entry *t = entries; t->type; t++)
		add_entry(a, e, t);
	check(a, archive_write_close(a), "close", NULL);
	archive_entry_free(e);
	archive_write_free(a);
	*ret_len = m.len;
	return m.data ? m.data : tl_malloc(1);
}

int tl_memfd(const void *data, size_t len)
{
	int fd = memfd_create("tl-input", MFD_CLOEXEC);
	if (fd < 0)
		tl_fail("memfd_create: %m");
	for (size_t done = 0; done < len;) {
		ssize_t n = write(fd, (const char *)data + done, len - done);
		if (n < 0)
			tl_fail("write to memfd: %m");
		done += n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		tl_fail("lseek memfd: %m");
	return fd;
}

int tl_tar_memfd(const struct tl_tar_entry *entries, unsigned flags)
{
	size_t len;
	void *data = tl_tar_build(entries, flags, &len);
	int fd = tl_memfd(data, len);
	free(data);
	return fd;
}

void tl_tar_write_file(const char *path, const struct tl_tar_entry *entries, unsigned flags)
{
	size_t len;
	void *data = tl_tar_build(entries, flags, &len);
	FILE *f = fopen(path, "we");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		tl_fail("tar builder: cannot write '%s': %m", path);
	free(data);
}

void *tl_fd_read_all(int fd, size_t *ret_len)
{
	size_t len = 0, cap = 64 * 1024;
	char *buf = tl_malloc(cap + 1);
	for (;;) {
		if (len == cap)
			buf = tl_realloc(buf, (cap *= 2) + 1);
		ssize_t n = pread(fd, buf + len, cap - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			tl_fail("read: %m");
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}
