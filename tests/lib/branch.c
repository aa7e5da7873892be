/*
 * tests/lib/branch.c: building a branch's content, from C calls or from a
 * spec (testlib.h lists the keywords). The on-disk markers are written here
 * exactly as DESIGN.md describes them, in both forms: kernel (char 0/0,
 * trusted.overlay.opaque) and AUFS/OCI (".wh.NAME", ".wh..wh..opq").
 * Modes are set with chmod after creation, so the umask does not matter.
 */
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"

/* root/path, with the parent directories made. Caller frees. */
static char *branch_path(const char *root, const char *path)
{
	char *full = tl_strdupf("%s/%s", root, path);
	_cleanup_free_ char *parent = tl_strdup(full);
	int r = tl_mkdir_p(dirname(parent), 0755);

	if (r < 0)
		tl_fail("branch '%s': cannot make the parents of '%s': %s", root, path, tl_errname(-r));
	return full;
}

/* The sibling marker ".wh.NAME" of path "DIR/NAME". Caller frees. */
static char *wh_path(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return tl_strdupf(".wh.%s", path);
	return tl_strdupf("%.*s/.wh.%s", (int)(slash - path), path, slash + 1);
}

void tl_chmod(const char *root, const char *path, mode_t mode)
{
	_cleanup_free_ char *full = branch_path(root, path);

	if (fchmodat(AT_FDCWD, full, mode, 0) < 0)
		tl_fail("chmod '%s' %o: %m", full, (unsigned)mode);
}

void tl_mkdir(const char *root, const char *path, mode_t mode)
{
	_cleanup_free_ char *full = branch_path(root, path);

	if (mkdir(full, mode) < 0 && errno != EEXIST)
		tl_fail("mkdir '%s': %m", full);
	tl_chmod(root, path, mode);
}

void tl_write(const char *root, const char *path, const void *data, size_t len)
{
	_cleanup_free_ char *full = branch_path(root, path);
	_cleanup_close_ int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		tl_fail("create '%s': %m", full);
	if (len && write(fd, data, len) != (ssize_t)len)
		tl_fail("write '%s': %m", full);
	if (fchmod(fd, 0644) < 0)
		tl_fail("chmod '%s': %m", full);
}

void tl_file(const char *root, const char *path, const char *text)
{
	tl_write(root, path, text, strlen(text));
}

void tl_file_pattern(const char *root, const char *path, size_t size, unsigned seed)
{
	_cleanup_free_ unsigned char *data = tl_malloc(size);
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < size; i++) {
		x ^= x << 13; /* xorshift32 */
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (unsigned char)x;
	}
	tl_write(root, path, data, size);
}

void tl_sparse(const char *root, const char *path, off_t size, off_t offset, const char *text)
{
	_cleanup_free_ char *full = branch_path(root, path);
	_cleanup_close_ int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	size_t len = strlen(text);

	if (fd < 0)
		tl_fail("create '%s': %m", full);
	if (pwrite(fd, text, len, offset) != (ssize_t)len || ftruncate(fd, size) < 0 || fchmod(fd, 0644) < 0)
		tl_fail("sparse file '%s': %m", full);
}

void tl_symlink(const char *root, const char *path, const char *target)
{
	_cleanup_free_ char *full = branch_path(root, path);

	if (symlink(target, full) < 0)
		tl_fail("symlink '%s' -> '%s': %m", full, target);
}

void tl_hardlink(const char *root, const char *path, const char *existing)
{
	_cleanup_free_ char *full = branch_path(root, path);
	_cleanup_free_ char *old = tl_strdupf("%s/%s", root, existing);

	if (link(old, full) < 0)
		tl_fail("link '%s' -> '%s': %m", full, old);
}

void tl_mknod(const char *root, const char *path, mode_t mode, dev_t dev)
{
	_cleanup_free_ char *full = branch_path(root, path);

	if (mknod(full, mode, dev) < 0)
		tl_fail("mknod '%s' %o: %m", full, (unsigned)mode);
	if (fchmodat(AT_FDCWD, full, mode & 07777, 0) < 0)
		tl_fail("chmod '%s': %m", full);
}

void tl_whiteout(const char *root, const char *path)
{
	tl_mknod(root, path, S_IFCHR | 0, makedev(0, 0));
}

void tl_whiteout_wh(const char *root, const char *path)
{
	_cleanup_free_ char *marker = wh_path(path);

	tl_file(root, marker, "");
}

void tl_setxattr(const char *root, const char *path, const char *name, const char *value)
{
	_cleanup_free_ char *full = branch_path(root, path);

	if (lsetxattr(full, name, value, strlen(value), 0) < 0)
		tl_fail("setxattr '%s' %s: %m", full, name);
}

void tl_opaque(const char *root, const char *path)
{
	tl_mkdir(root, path, 0755);
	tl_setxattr(root, path, "trusted.overlay.opaque", "y");
}

void tl_opaque_wh(const char *root, const char *path)
{
	_cleanup_free_ char *marker = tl_strdupf("%s/.wh..wh..opq", path);

	tl_file(root, marker, "");
}

void tl_chown(const char *root, const char *path, uid_t uid, gid_t gid)
{
	_cleanup_free_ char *full = branch_path(root, path);

	if (lchown(full, uid, gid) < 0)
		tl_fail("chown '%s': %m", full);
}

void tl_mtime(const char *root, const char *path, time_t sec)
{
	_cleanup_free_ char *full = tl_strdupf("%s/%s", root, path);
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };

	if (utimensat(AT_FDCWD, full, ts, AT_SYMLINK_NOFOLLOW) < 0)
		tl_fail("utimensat '%s': %m", full);
}

/* ---- specs */

/* One spec line cut into the keyword, the path and what follows. */
struct spec_line {
	const char *line;  /* for messages */
	char keyword[16];
	char path[4096];
	const char *rest;  /* after the path and one blank; "" if nothing */
};

static void parse_line(const char *line, struct spec_line *ret)
{
	int path_end = 0;

	ret->line = line;
	if (sscanf(line, "%15s %4095s%n", ret->keyword, ret->path, &path_end) != 2 || !path_end)
		tl_fail("spec line '%s': want KEYWORD PATH [ARGS]", line);
	ret->rest = line + path_end;
	if (*ret->rest == ' ')
		ret->rest++;
}

/* The rest of the line with \n, \t, \\ and \xNN decoded. Caller frees. */
static char *unescape(const char *s)
{
	char *out = tl_malloc(strlen(s) + 1), *o = out;

	while (*s) {
		if (s[0] != '\\' || !s[1]) {
			*o++ = *s++;
			continue;
		}
		s++;
		if (*s == 'n')
			*o++ = '\n';
		else if (*s == 't')
			*o++ = '\t';
		else if (*s == 'x' && s[1] && s[2]) {
			char hex[3] = { s[1], s[2], 0 };

			*o++ = (char)strtoul(hex, NULL, 16);
			s += 2;
		} else
			*o++ = *s;
		s++;
	}
	*o = '\0';
	return out;
}

/* A size or offset with an optional K or M suffix. */
static unsigned long long parse_size(const struct spec_line *l, const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (end == s)
		tl_fail("spec line '%s': '%s' is no number", l->line, s);
	if (*end == 'K')
		v <<= 10;
	else if (*end == 'M')
		v <<= 20;
	return v;
}

/* The n-th (from 0) blank-separated word of the rest, in a buffer. */
static const char *word(const struct spec_line *l, int n, char buf[], size_t size)
{
	const char *p = l->rest;

	for (int i = 0;; i++) {
		size_t len;

		p += strspn(p, " ");
		len = strcspn(p, " ");
		if (!len)
			tl_fail("spec line '%s': argument %d missing", l->line, n + 1);
		if (i == n) {
			snprintf(buf, size, "%.*s", (int)len, p);
			return buf;
		}
		p += len;
	}
}

/* The rest after n words, unescaped. Caller frees. */
static char *text_after(const struct spec_line *l, int n)
{
	const char *p = l->rest;

	for (int i = 0; i < n; i++) {
		p += strspn(p, " ");
		p += strcspn(p, " ");
	}
	if (*p == ' ')
		p++;
	return unescape(p);
}

static unsigned long num(const struct spec_line *l, int n, int base)
{
	char buf[64], *end;
	const char *w = word(l, n, buf, sizeof(buf));
	unsigned long v = strtoul(w, &end, base);

	if (*end)
		tl_fail("spec line '%s': '%s' is no number", l->line, w);
	return v;
}

static void build_device(const char *root, const struct spec_line *l, mode_t type)
{
	tl_mknod(root, l->path, type | 0644, makedev(num(l, 0, 10), num(l, 1, 10)));
}

static void build_owner(const char *root, const struct spec_line *l)
{
	unsigned uid, gid;

	if (sscanf(l->rest, "%u:%u", &uid, &gid) != 2)
		tl_fail("spec line '%s': want UID:GID", l->line);
	tl_chown(root, l->path, uid, gid);
}

static void build_line(const char *root, const struct spec_line *l, unsigned flags)
{
	char b1[4096], b2[4096];
	const char *k = l->keyword;

	if (flags & TL_BUILD_KERNEL_MARKERS)
		k = !strcmp(k, "wh") ? "whiteout" : !strcmp(k, "opq") ? "opaque" : k;
	_cleanup_free_ char *text = NULL;

	if (!strcmp(k, "dir"))
		tl_mkdir(root, l->path, *l->rest ? (mode_t)num(l, 0, 8) : 0755);
	else if (!strcmp(k, "file"))
		tl_file(root, l->path, (text = unescape(l->rest)));
	else if (!strcmp(k, "data"))
		tl_file_pattern(root, l->path, parse_size(l, word(l, 0, b1, sizeof(b1))),
				strchr(l->rest, ' ') ? (unsigned)num(l, 1, 10) : 1);
	else if (!strcmp(k, "sparse"))
		tl_sparse(root, l->path, (off_t)parse_size(l, word(l, 0, b1, sizeof(b1))),
			  (off_t)parse_size(l, word(l, 1, b2, sizeof(b2))), (text = text_after(l, 2)));
	else if (!strcmp(k, "symlink"))
		tl_symlink(root, l->path, word(l, 0, b1, sizeof(b1)));
	else if (!strcmp(k, "link"))
		tl_hardlink(root, l->path, word(l, 0, b1, sizeof(b1)));
	else if (!strcmp(k, "fifo"))
		tl_mknod(root, l->path, S_IFIFO | 0644, 0);
	else if (!strcmp(k, "sock"))
		tl_mknod(root, l->path, S_IFSOCK | 0755, 0);
	else if (!strcmp(k, "chr"))
		build_device(root, l, S_IFCHR);
	else if (!strcmp(k, "blk"))
		build_device(root, l, S_IFBLK);
	else if (!strcmp(k, "whiteout"))
		tl_whiteout(root, l->path);
	else if (!strcmp(k, "wh"))
		tl_whiteout_wh(root, l->path);
	else if (!strcmp(k, "opaque"))
		tl_opaque(root, l->path);
	else if (!strcmp(k, "opq"))
		tl_opaque_wh(root, l->path);
	else if (!strcmp(k, "xattr"))
		tl_setxattr(root, l->path, word(l, 0, b1, sizeof(b1)), (text = text_after(l, 1)));
	else if (!strcmp(k, "mode"))
		tl_chmod(root, l->path, (mode_t)num(l, 0, 8));
	else if (!strcmp(k, "owner"))
		build_owner(root, l);
	else if (strcmp(k, "mtime"))
		tl_fail("spec line '%s': unknown keyword '%s'", l->line, k);
}

static int set_epoch(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct timespec ts[2] = { { TL_EPOCH, 0 }, { TL_EPOCH, 0 } };

	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
		tl_fail("utimensat '%s': %m", path);
	return 0;
}

/* Writes the new files back before a union looks at them: while ext4
 * writes back delayed allocations, st_blocks can briefly read 0, and a FUSE
 * daemon caching that stat would see a small file as sparse where the
 * kernel's run did not (seen once in test-union-files, "sparse" differing). */
static void sync_branch(const char *root)
{
	_cleanup_close_ int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || syncfs(fd) < 0)
		tl_fail("branch '%s': sync: %m", root);
}

void tl_branch_build(const char *root, const char *const *spec)
{
	tl_branch_build_flags(root, spec, 0);
}

void tl_branch_build_flags(const char *root, const char *const *spec, unsigned flags)
{
	struct spec_line l;
	int r = tl_mkdir_p(root, 0755);

	if (r < 0)
		tl_fail("branch '%s': %s", root, tl_errname(-r));
	for (size_t i = 0; spec && spec[i]; i++) {
		parse_line(spec[i], &l);
		build_line(root, &l, flags);
	}
	if (nftw(root, set_epoch, 32, FTW_PHYS) < 0)
		tl_fail("branch '%s': walk: %m", root);
	for (size_t i = 0; spec && spec[i]; i++) {
		parse_line(spec[i], &l);
		if (!strcmp(l.keyword, "mtime"))
			tl_mtime(root, l.path, (time_t)num(&l, 0, 10));
	}
	sync_branch(root);
}
