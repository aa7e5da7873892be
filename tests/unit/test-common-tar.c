/*
 * tests/unit/test-common-tar.c: lm_tar_extract() on tarballs built here with
 * libarchive's writer (every entry type with its metadata, sparse files,
 * compressed input, and hostile input that must be refused by name while
 * nothing outside the target changes), and lm_tar_write_tree(), whose
 * output must be reproducible and extract to the same tree with
 * lm_tar_extract, GNU tar and bsdtar. Needs root (owners, devices,
 * trusted.* xattrs).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/tar.h"
#include "common/treecopy.h"
#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"

#define WHAT "volume 'v'"

static char *target;  /* the extraction target, scratch/target */
static char *outside; /* a sentinel folder next to it, scratch/outside */
static int target_fd = -1;

static void setup(void)
{
	tl_scratch_setup();
	target = tl_strdupf("%s/target", tl_scratch);
	outside = tl_strdupf("%s/outside", tl_scratch);
	tl_mkdir(tl_scratch, "target", 0755);
	tl_branch_build(outside, TL_SPEC("file keep sentinel", "dir sub", "file sub/f inner"));
	target_fd = open(target, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(target_fd, 0);
}

static void teardown(void)
{
	close(target_fd);
	free(target);
	free(outside);
	tl_scratch_teardown();
}

static int extract_fd(int fd, bool devices, uint64_t *bytes, struct lm_error *err)
{
	struct lm_tar_extract_opts o = { .what = WHAT, .keep_owner = true, .allow_devices = devices };
	int r = lm_tar_extract(fd, target_fd, &o, bytes, err);
	close(fd);
	return r;
}

static int extract(const struct tl_tar_entry *e, unsigned flags, uint64_t *bytes, struct lm_error *err)
{
	return extract_fd(tl_tar_memfd(e, flags), true, bytes, err);
}

static void extract_ok(const struct tl_tar_entry *e, unsigned flags, uint64_t *bytes)
{
	struct lm_error err = { 0 };
	int r = extract(e, flags, bytes, &err);
	ck_assert_msg(r == 0, "extract failed: %d %s", r, err.msg);
}

static void lstat_in(const char *root, const char *path, struct stat *st)
{
	char *full = tl_strdupf("%s/%s", root, path);
	ck_assert_msg(lstat(full, st) == 0, "lstat '%s': %s", full, strerror(errno));
	free(full);
}

/* Type and permission bits, owner and mtime of target/path. */
static void assert_meta(const char *path, mode_t mode, uid_t uid, gid_t gid, time_t mtime, long nsec)
{
	struct stat st;
	lstat_in(target, path, &st);
	ck_assert_msg(st.st_mode == mode, "'%s': mode %o, want %o", path, st.st_mode, mode);
	ck_assert_msg(st.st_uid == uid && st.st_gid == gid, "'%s': owner %u:%u, want %u:%u", path, st.st_uid,
		      st.st_gid, uid, gid);
	ck_assert_msg(st.st_mtim.tv_sec == mtime && st.st_mtim.tv_nsec == nsec, "'%s': mtime %ld.%09ld, want %ld.%09ld",
		      path, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long)mtime, nsec);
}

static void assert_xattr(const char *path, const char *name, const char *value)
{
	char *full = tl_strdupf("%s/%s", target, path);
	char buf[256];
	ssize_t n = lgetxattr(full, name, buf, sizeof(buf) - 1);
	if (!value) {
		ck_assert_msg(n < 0 && errno == ENODATA, "'%s': xattr %s should be absent", path, name);
	} else {
		ck_assert_msg(n >= 0, "'%s': xattr %s: %s", path, name, strerror(errno));
		buf[n] = '\0';
		ck_assert_str_eq(buf, value);
	}
	free(full);
}

static char *content(const char *root, const char *path)
{
	char *full = tl_strdupf("%s/%s", root, path);
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open '%s': %s", full, strerror(errno));
	size_t len;
	char *s = tl_fd_read_all(fd, &len);
	close(fd);
	free(full);
	return s;
}

/* ------------------------------------------------------ extraction */

static const struct tl_tar_entry every_type[] = {
	{ .type = 'd', .name = "d", .perm = 0750, .uid = 1000, .gid = 100, .mtime = 1111, .mtime_nsec = 500,
	  .xattr = "user.dir=dv" },
	{ .type = 'f', .name = "d/f", .data = "hello", .perm = 0640, .uid = 1001, .gid = 101, .mtime = 2222,
	  .xattr = "trusted.t=tv" },
	{ .type = 'l', .name = "d/l", .data = "f", .uid = 1002, .gid = 102, .mtime = 3333, .xattr = "trusted.s=sv" },
	{ .type = 'h', .name = "d/h", .data = "d/f" },
	{ .type = 'p', .name = "p", .perm = 0620, .uid = 5, .gid = 6, .mtime = 4444 },
	{ .type = 'c', .name = "c", .perm = 0666, .major = 1, .minor = 3, .mtime = 5555 },
	{ .type = 'b', .name = "b", .perm = 0660, .major = 7, .minor = 0, .mtime = 6666 },
	{ .type = 'f', .name = "empty", .mtime = 7777 },
	{ .type = 'd', .name = "ro", .perm = 0555, .mtime = 8888 },
	{ .type = 'f', .name = "ro/x", .data = "in a read-only folder", .mtime = 9999 },
	{ 0 }
};

START_TEST(every_type_with_metadata)
{
	uint64_t bytes = 0;
	extract_ok(every_type, TL_TAR_PAX, &bytes);
	ck_assert_uint_eq(bytes, strlen("hello") + strlen("in a read-only folder"));
	assert_meta("d", S_IFDIR | 0750, 1000, 100, 1111, 500);
	assert_meta("d/f", S_IFREG | 0640, 1001, 101, 2222, 0);
	assert_meta("d/l", S_IFLNK | 0777, 1002, 102, 3333, 0);
	assert_meta("p", S_IFIFO | 0620, 5, 6, 4444, 0);
	assert_meta("c", S_IFCHR | 0666, 0, 0, 5555, 0);
	assert_meta("b", S_IFBLK | 0660, 0, 0, 6666, 0);
	assert_meta("empty", S_IFREG | 0644, 0, 0, 7777, 0);
	assert_meta("ro", S_IFDIR | 0555, 0, 0, 8888, 0);
	assert_meta("ro/x", S_IFREG | 0644, 0, 0, 9999, 0);
	assert_xattr("d", "user.dir", "dv");
	assert_xattr("d/f", "trusted.t", "tv");
	assert_xattr("d/l", "trusted.s", "sv");
	struct stat f, h, c, b;
	lstat_in(target, "d/f", &f);
	lstat_in(target, "d/h", &h);
	ck_assert(f.st_ino == h.st_ino && f.st_nlink == 2);
	lstat_in(target, "c", &c);
	lstat_in(target, "b", &b);
	ck_assert(c.st_rdev == makedev(1, 3) && b.st_rdev == makedev(7, 0));
	char link[64];
	char *l = tl_strdupf("%s/d/l", target);
	ssize_t n = readlink(l, link, sizeof(link));
	free(l);
	ck_assert(n == 1 && link[0] == 'f');
	char *s = content(target, "ro/x");
	ck_assert_str_eq(s, "in a read-only folder");
	free(s);
}
END_TEST

/* Without keep_owner: the caller owns everything, and no privilege
 * (setuid, setgid on files, file capabilities) comes with the tar. */
START_TEST(without_owners_no_privileges)
{
	static const struct tl_tar_entry e[] = {
		{ .type = 'f', .name = "suid", .data = "x", .perm = 06755, .uid = 1000, .gid = 1000,
		  .xattr = "security.capability=not-really" },
		{ .type = 'f', .name = "plain", .data = "x", .uid = 1000, .xattr = "user.k=v" },
		{ .type = 'd', .name = "sgid-dir", .perm = 02775, .uid = 1000 },
		{ 0 }
	};
	struct lm_tar_extract_opts o = { .what = WHAT };
	struct lm_error err = { 0 };
	ck_assert_msg(lm_tar_extract(tl_tar_memfd(e, TL_TAR_PAX), target_fd, &o, NULL, &err) == 0, "%s", err.msg);
	assert_meta("suid", S_IFREG | 0755, 0, 0, TL_EPOCH, 0);
	assert_meta("plain", S_IFREG | 0644, 0, 0, TL_EPOCH, 0);
	assert_meta("sgid-dir", S_IFDIR | 02775, 0, 0, TL_EPOCH, 0);
	assert_xattr("suid", "security.capability", NULL);
	assert_xattr("plain", "user.k", "v");
}
END_TEST

START_TEST(sparse_keeps_holes)
{
	static const struct tl_tar_entry e[] = {
		{ .type = 'f', .name = "sparse", .data = "HELLO", .sparse_size = 64 << 20, .sparse_offset = 32 << 20 },
		{ 0 }
	};
	uint64_t bytes = 0;
	extract_ok(e, TL_TAR_PAX, &bytes);
	ck_assert_uint_eq(bytes, 5);
	struct stat st;
	lstat_in(target, "sparse", &st);
	ck_assert_int_eq(st.st_size, 64 << 20);
	ck_assert_msg(st.st_blocks * 512 < (1 << 20), "%ld blocks allocated: the holes were filled", (long)st.st_blocks);
	char *full = tl_strdupf("%s/sparse", target);
	int fd = open(full, O_RDONLY | O_CLOEXEC);
	free(full);
	char buf[6] = { 0 };
	ck_assert_int_eq(pread(fd, buf, 5, 32 << 20), 5);
	ck_assert_str_eq(buf, "HELLO");
	ck_assert_int_eq(pread(fd, buf, 5, 0), 5);
	ck_assert(!memcmp(buf, "\0\0\0\0\0", 5));
	close(fd);
}
END_TEST

/* "./" updates the target itself; a folder listed twice takes the last
 * metadata; a later entry replaces a file, a symlink (never writing through
 * it), an empty folder. */
START_TEST(existing_names)
{
	char *out_keep = tl_strdupf("%s/keep", outside);
	const struct tl_tar_entry e[] = {
		{ .type = 'd', .name = "./", .perm = 0711, .mtime = 4242 },
		{ .type = 'd', .name = "twice", .perm = 0700, .mtime = 1 },
		{ .type = 'f', .name = "twice/in", .data = "a" },
		{ .type = 'd', .name = "./twice/", .perm = 0751, .mtime = 2 },
		{ .type = 'f', .name = "file", .data = "first" },
		{ .type = 'f', .name = "file", .data = "second" },
		{ .type = 'l', .name = "link", .data = out_keep },
		{ .type = 'f', .name = "link", .data = "not through the link" },
		{ .type = 'd', .name = "emptydir" },
		{ .type = 'f', .name = "emptydir", .data = "now a file" },
		{ .type = 'f', .name = "becomes-dir", .data = "x" },
		{ .type = 'd', .name = "becomes-dir", .perm = 0700 },
		{ 0 }
	};
	extract_ok(e, TL_TAR_PAX, NULL);
	assert_meta(".", S_IFDIR | 0711, 0, 0, 4242, 0);
	assert_meta("twice", S_IFDIR | 0751, 0, 0, 2, 0);
	assert_meta("becomes-dir", S_IFDIR | 0700, 0, 0, TL_EPOCH, 0);
	char *s = content(target, "file");
	ck_assert_str_eq(s, "second");
	free(s);
	s = content(target, "link");
	ck_assert_str_eq(s, "not through the link");
	free(s);
	s = content(outside, "keep");
	ck_assert_str_eq(s, "sentinel");
	free(s);
	s = content(target, "emptydir");
	ck_assert_str_eq(s, "now a file");
	free(s);
	free(out_keep);
}
END_TEST

START_TEST(compressed_input)
{
	static const struct tl_tar_entry e[] = {
		{ .type = 'd', .name = "a" },
		{ .type = 'f', .name = "a/b", .data = "compressed content" },
		{ 0 }
	};
	const unsigned filters[] = { TL_TAR_GZIP, TL_TAR_ZSTD, TL_TAR_XZ, TL_TAR_BZIP2 };
	const unsigned f = filters[_i];
	size_t len;
	void *data = tl_tar_build(e, TL_TAR_PAX | f, &len);
	/* really compressed: no tar header magic at 257 */
	ck_assert(len < 263 || memcmp((char *)data + 257, "ustar", 5) != 0);
	uint64_t bytes = 0;
	struct lm_error err = { 0 };
	int r = extract_fd(tl_memfd(data, len), false, &bytes, &err);
	free(data);
	ck_assert_msg(r == 0, "filter %u: %s", f, err.msg);
	ck_assert_uint_eq(bytes, strlen("compressed content"));
	char *s = content(target, "a/b");
	ck_assert_str_eq(s, "compressed content");
	free(s);
}
END_TEST

/* ------------------------------------------------------- hostile input */

struct hostile {
	const char *title;
	struct tl_tar_entry e[4]; /* "@OUT@" in a name or target: the sentinel's
				   * absolute path; "@LONG@": 300 bytes of 'x' */
	const char *entry;        /* the entry the message must name */
	const char *why;          /* and the cause it must give */
	unsigned flags;
	bool devices;
};

#define H(t, ...) .title = (t), .e = { __VA_ARGS__ }
static const struct hostile hostile[] = {
	{ H("absolute name", { .type = 'f', .name = "@OUT@/pwned", .data = "x" }), .entry = "@OUT@/pwned",
	  .why = "absolute" },
	{ H("dot-dot", { .type = 'f', .name = "../outside/pwned", .data = "x" }), .entry = "../outside/pwned",
	  .why = "path leaves the target" },
	{ H("control characters", { .type = 'f', .name = "../outside/a\tb'c", .data = "x" }),
	  .entry = "../outside/a\\x09b\\x27c", .why = "path leaves the target" },
	{ H("dot-dot inside", { .type = 'f', .name = "a/../../outside/pwned", .data = "x" }),
	  .entry = "a/../../outside/pwned", .why = "path leaves the target" },
	{ H("through an absolute symlink", { .type = 'l', .name = "l", .data = "@OUT@" },
	    { .type = 'f', .name = "l/pwned", .data = "x" }),
	  .entry = "l/pwned", .why = "symlink" },
	{ H("through a symlink to ..", { .type = 'l', .name = "up", .data = ".." },
	    { .type = 'f', .name = "up/outside/pwned", .data = "x" }),
	  .entry = "up/outside/pwned", .why = "symlink" },
	{ H("folder through a symlink", { .type = 'l', .name = "l", .data = "../outside" },
	    { .type = 'd', .name = "l/pwned" }),
	  .entry = "l/pwned", .why = "symlink" },
	{ H("hard link through a symlink", { .type = 'f', .name = "f", .data = "x" },
	    { .type = 'l', .name = "l", .data = "@OUT@" }, { .type = 'h', .name = "l/pwned", .data = "f" }),
	  .entry = "l/pwned", .why = "symlink" },
	{ H("hard link to ../", { .type = 'h', .name = "h", .data = "../outside/keep" }), .entry = "h",
	  .why = "path leaves the target" },
	{ H("hard link to an absolute path", { .type = 'h', .name = "h", .data = "@OUT@/keep" }), .entry = "h",
	  .why = "absolute" },
	{ H("hard link to a name not in the tar", { .type = 'h', .name = "h", .data = "nothere" }), .entry = "h",
	  .why = "no file extracted before" },
	{ H("hard link to a folder of the tar", { .type = 'd', .name = "dir" },
	    { .type = 'h', .name = "h", .data = "dir" }),
	  .entry = "h", .why = "no file extracted before" },
	{ H("device not allowed", { .type = 'c', .name = "mem", .major = 1, .minor = 1 }), .entry = "mem",
	  .why = "devices are not allowed" },
	{ H("name over NAME_MAX", { .type = 'f', .name = "d/@LONG@", .data = "x" }), .entry = "d/xxxxxxxx",
	  .why = "NAME_MAX" },
	{ H("non-empty folder in the way", { .type = 'f', .name = "d/f", .data = "x" },
	    { .type = 'f', .name = "d", .data = "x" }),
	  .entry = "d", .why = "folder with content" },
	{ H("GNU format long name", { .type = 'f', .name = "../outside/@LONG@", .data = "x" }),
	  .entry = "../outside/xxxx", .why = "path leaves the target", .flags = TL_TAR_GNU },
	{ H("gzip-compressed", { .type = 'f', .name = "../outside/pwned", .data = "x" }),
	  .entry = "../outside/pwned", .why = "path leaves the target", .flags = TL_TAR_GZIP },
	{ H("devices allowed, still not outside", { .type = 'c', .name = "../outside/mem", .major = 1, .minor = 1 }),
	  .entry = "../outside/mem", .why = "path leaves the target", .devices = true },
};
#undef H

static char *subst(const char *s)
{
	if (!s)
		return NULL;
	char longname[301];
	memset(longname, 'x', 300);
	longname[300] = '\0';
	struct tl_buf b = TL_BUF_INIT;
	for (const char *p = s; *p;) {
		if (!strncmp(p, "@OUT@", 5)) {
			tl_buf_printf(&b, "%s", outside);
			p += 5;
		} else if (!strncmp(p, "@LONG@", 6)) {
			tl_buf_printf(&b, "%s", longname);
			p += 6;
		} else {
			tl_buf_printf(&b, "%c", *p++);
		}
	}
	return b.s;
}

START_TEST(hostile_refused)
{
	const struct hostile *h = &hostile[_i];
	struct tl_tar_entry e[4] = { 0 };
	for (size_t i = 0; i < 3 && h->e[i].type; i++) {
		e[i] = h->e[i];
		e[i].name = subst(h->e[i].name);
		e[i].data = subst(h->e[i].data);
	}
	struct tl_tree before, after;
	ck_assert_int_eq(tl_tree_snapshot(outside, &before), 0);
	struct lm_error err = { 0 };
	int r = extract_fd(tl_tar_memfd(e, h->flags), h->devices, NULL, &err);
	ck_assert_msg(r == -EINVAL, "%s: extract gave %d (%s), want -EINVAL", h->title, r, err.msg);
	char *entry = subst(h->entry);
	char *want = tl_strdupf(WHAT ": entry '%s", entry);
	ck_assert_msg(strstr(err.msg, want), "%s: message '%s' does not name '%s'", h->title, err.msg, want);
	ck_assert_msg(strstr(err.msg, h->why), "%s: message '%s' does not say '%s'", h->title, err.msg, h->why);
	ck_assert_int_eq(tl_tree_snapshot(outside, &after), 0);
	struct tl_buf report = TL_BUF_INIT;
	size_t diffs = tl_tree_diff(&before, &after, "before", "after", 0, &report);
	ck_assert_msg(diffs == 0, "%s: the sentinel folder changed:\n%s", h->title, tl_buf_str(&report));
	tl_buf_release(&report);
	tl_tree_release(&before);
	tl_tree_release(&after);
	free(want);
	free(entry);
	for (size_t i = 0; i < 3; i++) {
		free((char *)e[i].name);
		free((char *)e[i].data);
	}
}
END_TEST

/* A symlink to outside and a hard link to that symlink are fine: the
 * link is to the symlink itself, nothing is followed. */
START_TEST(hard_link_to_symlink_is_not_followed)
{
	char *out_keep = tl_strdupf("%s/keep", outside);
	const struct tl_tar_entry e[] = {
		{ .type = 'l', .name = "l", .data = out_keep },
		{ .type = 'h', .name = "h", .data = "l" },
		{ 0 }
	};
	extract_ok(e, TL_TAR_PAX, NULL);
	struct stat l, h, keep;
	lstat_in(target, "l", &l);
	lstat_in(target, "h", &h);
	lstat_in(outside, "keep", &keep);
	ck_assert(S_ISLNK(h.st_mode) && h.st_ino == l.st_ino);
	ck_assert_int_eq(keep.st_nlink, 1);
	free(out_keep);
}
END_TEST

START_TEST(not_a_tar)
{
	unsigned char junk[64 * 1024];
	unsigned seed = 7;
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)rand_r(&seed);
	struct lm_error err = { 0 };
	int r = extract_fd(tl_memfd(junk, sizeof(junk)), false, NULL, &err);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(err.msg, WHAT ": input is not a tar archive"), "message: %s", err.msg);

	r = extract_fd(tl_memfd("", 0), false, NULL, &err);
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_msg(strstr(err.msg, "not a tar archive"), "empty input: %s", err.msg);

	/* a zip is an archive, but not a tar */
	static const char zip[] = "PK\003\004\024\000\000\000\000\000";
	r = extract_fd(tl_memfd(zip, sizeof(zip)), false, NULL, &err);
	ck_assert_int_eq(r, -EINVAL);
}
END_TEST

START_TEST(truncated)
{
	static char big[100 * 1024];
	memset(big, 'z', sizeof(big));
	const struct tl_tar_entry e[] = {
		{ .type = 'f', .name = "small", .data = "s" },
		{ .type = 'f', .name = "big", .data = big, .len = sizeof(big) },
		{ .type = 'f', .name = "after", .data = "a" },
		{ 0 }
	};
	size_t len;
	char *data = tl_tar_build(e, TL_TAR_PAX, &len);
	const size_t cuts[] = { 1024 + 50 * 1024, 1024 + 300, 1024 + 512 + 100 };
	for (size_t i = 0; i < ELEMENTSOF(cuts); i++) {
		struct lm_error err = { 0 };
		int r = extract_fd(tl_memfd(data, cuts[i]), false, NULL, &err);
		ck_assert_msg(r == -EINVAL, "cut at %zu: %d %s", cuts[i], r, err.msg);
		ck_assert_msg(strstr(err.msg, WHAT ": ") && strstr(err.msg, "runcated"), "cut at %zu: %s", cuts[i],
			      err.msg);
	}
	free(data);
}
END_TEST

/* --------------------------------------------------------- writing */

/* Every kind of object with metadata, names libarchive must store in pax
 * records (long, non-ASCII, not UTF-8), sparse files, a socket. */
static void build_tree(const char *root)
{
	tl_branch_build(root, TL_SPEC("dir d 0750", "owner d 1000:100", "xattr d user.dir dv",
				      "xattr d trusted.overlay.opaque y", "file d/f hello", "owner d/f 1001:101",
				      "mode d/f 4750", "xattr d/f user.k val", "link d/h1 d/f", "link h2 d/f",
				      "symlink d/l f", "xattr d/l trusted.sym sv", "symlink abs /etc/passwd", "fifo p",
				      "chr c 1 3", "blk b 7 0", "sock sock", "file empty", "sparse s 8M 3M middle",
				      "sparse allhole 1M 0", "data big 300K 3", "dir ro 0555", "file ro/x in read-only",
				      "file caf\xc3\xa9 utf8", "file bad\xff\xfe bytes", "mtime d/f 123456"));
	char *deep = tl_strdup("deep");
	for (int i = 0; i < 6; i++) {
		char *next = tl_strdupf("%s/level-%d-a-rather-long-folder-name-to-pass-100-bytes", deep, i);
		free(deep);
		deep = next;
	}
	char *deepfile = tl_strdupf("%s/file", deep);
	tl_file(root, deepfile, "deep");
	tl_mtime(root, deepfile, TL_EPOCH);
	free(deepfile);
	free(deep);
	/* sub-second times, on a folder too (set after its content) */
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	const struct timespec ts[2] = { { 1000, 0 }, { 1234567890, 123456789 } };
	ck_assert_int_eq(utimensat(fd, "empty", ts, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(utimensat(fd, "d", ts, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(utimensat(fd, "d/l", ts, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(utimensat(fd, "deep", ts, AT_SYMLINK_NOFOLLOW), 0);
	close(fd);
}

static char *write_tree(const char *root, size_t *ret_len)
{
	int in = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int out = memfd_create("tar-out", MFD_CLOEXEC);
	struct lm_error err = { 0 };
	int r = lm_tar_write_tree(in, out, WHAT, &err);
	ck_assert_msg(r == 0, "write: %s", err.msg);
	char *data = tl_fd_read_all(out, ret_len);
	close(in);
	close(out);
	return data;
}

static char *made_source(void)
{
	char *src = tl_strdupf("%s/src", tl_scratch);
	tl_mkdir(tl_scratch, "src", 0755);
	build_tree(src);
	return src;
}

/* Compares the source with target: every field, folder mtimes to the
 * nanosecond; the one difference allowed is the socket, which tar cannot
 * hold. */
static void assert_same_tree(const char *src, const char *how)
{
	struct tl_tree a, b;
	ck_assert_int_eq(tl_tree_snapshot(src, &a), 0);
	ck_assert_int_eq(tl_tree_snapshot(target, &b), 0);
	ck_assert_msg(tl_tree_find(&a, "sock") && !tl_tree_find(&b, "sock"), "%s: the socket", how);
	for (size_t i = 0; i < a.n; i++) {
		const struct tl_node *n = &a.nodes[i];
		const struct tl_node *m = tl_tree_find(&b, n->path);
		if (S_ISDIR(n->mode) && m && strcmp(n->path, "."))
			ck_assert_msg(n->mtime.tv_sec == m->mtime.tv_sec && n->mtime.tv_nsec == m->mtime.tv_nsec,
				      "%s: '%s': folder mtime differs", how, n->path);
	}
	struct tl_buf report = TL_BUF_INIT;
	size_t diffs = tl_tree_diff(&a, &b, "source", how, 0, &report);
	tl_tree_release(&a);
	tl_tree_release(&b);
	ck_assert_msg(diffs == 1 && strstr(tl_buf_str(&report), "sock"),
		      "%s: the trees differ (beyond the socket):\n%s", how, tl_buf_str(&report));
	tl_buf_release(&report);
}

START_TEST(write_is_reproducible)
{
	char *src = made_source();
	size_t l1, l2, l3;
	char *t1 = write_tree(src, &l1);
	char *t2 = write_tree(src, &l2);
	ck_assert_msg(l1 == l2 && !memcmp(t1, t2, l1), "two writes of one tree differ");
	/* a copy elsewhere (other inodes, same content and metadata): same bytes */
	char *copy = tl_strdupf("%s/copy", tl_scratch);
	tl_mkdir(tl_scratch, "copy", 0755);
	int s = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC), d = open(copy, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct lm_error err = { 0 };
	ck_assert_msg(lm_tree_copy(s, d, "copy", &err) == 0, "%s", err.msg);
	close(s);
	close(d);
	char *t3 = write_tree(copy, &l3);
	ck_assert_msg(l1 == l3 && !memcmp(t1, t3, l1), "the tar of a copy differs");
	free(t1);
	free(t2);
	free(t3);
	free(copy);
	free(src);
}
END_TEST


/* Runs argv (a tar program) in dir, with the tar on stdin; its exit status. */
static int run_tar(char *const argv[], const char *tar, size_t len)
{
	int in = tl_memfd(tar, len);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in, 0);
		if (chdir(target) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(in);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The tree written, then extracted by lm_tar_extract, GNU tar, bsdtar. */
START_TEST(write_then_extract)
{
	static const char *const readers[] = { "lm_tar_extract", "GNU tar", "bsdtar" };
	char *src = made_source();
	size_t len;
	char *tar = write_tree(src, &len);
	ck_assert_int_eq(chmod(target, 0755), 0);
	ck_assert_int_eq(chmod(src, 0755), 0);
	/* GNU tar 1.34 warns "Ignoring unknown extended header keyword
	 * 'LIBARCHIVE.xattr...'" yet restores them (libarchive 3.6 writes no
	 * SCHILY.xattr records); the comparison checks it did */
	char *gnu[] = { "tar", "-x", "-f", "-", "--numeric-owner", "-p", "--xattrs", "--xattrs-include=*", NULL };
	char *bsd[] = { "bsdtar", "-x", "-f", "-", "--numeric-owner", "-p", "--xattrs", NULL };
	struct lm_error err = { 0 };
	int r = _i == 0 ? extract_fd(tl_memfd(tar, len), true, NULL, &err) : run_tar(_i == 1 ? gnu : bsd, tar, len);
	ck_assert_msg(r != 127, "%s is not installed (.ci/packages lists it)", readers[_i]);
	ck_assert_msg(r == 0, "%s failed: %d %s", readers[_i], r, err.msg);
	assert_same_tree(src, readers[_i]);
	free(tar);
	free(src);
}
END_TEST

/* A mount below the tree is written as its mount point folder only. */
START_TEST(write_skips_other_mounts)
{
	char *src = tl_strdupf("%s/src", tl_scratch);
	tl_branch_build(src, TL_SPEC("file a x", "dir mnt"));
	char *mnt = tl_strdupf("%s/mnt", src);
	ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", 0, "size=1m"), 0);
	tl_file(mnt, "inside", "must not be written");
	size_t len;
	char *tar = write_tree(src, &len);
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	struct lm_error err = { 0 };
	ck_assert_msg(extract_fd(tl_memfd(tar, len), false, NULL, &err) == 0, "%s", err.msg);
	struct stat st;
	lstat_in(target, "mnt", &st);
	ck_assert(S_ISDIR(st.st_mode));
	char *inside = tl_strdupf("%s/mnt/inside", target);
	ck_assert(access(inside, F_OK) < 0 && errno == ENOENT);
	free(inside);
	free(tar);
	free(mnt);
	free(src);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common-tar");
	TCase *tc = tcase_create("extract");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_type_with_metadata);
	tcase_add_test(tc, without_owners_no_privileges);
	tcase_add_test(tc, sparse_keeps_holes);
	tcase_add_test(tc, existing_names);
	tcase_add_loop_test(tc, compressed_input, 0, 4);
	tcase_add_loop_test(tc, hostile_refused, 0, ELEMENTSOF(hostile));
	tcase_add_test(tc, hard_link_to_symlink_is_not_followed);
	tcase_add_test(tc, not_a_tar);
	tcase_add_test(tc, truncated);
	suite_add_tcase(s, tc);

	tc = tcase_create("write");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, write_is_reproducible);
	tcase_add_loop_test(tc, write_then_extract, 0, 3);
	tcase_add_test(tc, write_skips_other_mounts);
	suite_add_tcase(s, tc);
	return tl_run_suite(s, "test-common-tar", TL_NEED_ROOT);
}
