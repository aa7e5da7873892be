/*
 * tests/unit/test-graphdriver-layerfs.c: the layer folder without the
 * database (graphdriver/layerfs.h): gd_apply on tarballs built here (every
 * entry type with metadata, whiteouts and opaque markers in both on-disk
 * forms, hostile input), its digests against sha256sum and its per-file
 * hashes against XXH3 one-shot, gd_export round trips, gd_changes,
 * gd_diff_size and gd_verify. Needs root (owners, devices, trusted.*).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"
#include "tests/unit/layertest.h"

#define KERNEL GD_MARKERS_KERNEL
#define WH GD_MARKERS_WH

/* struct vfs_cap_data, revision 2, CAP_NET_RAW permitted */
#define CAP_VALUE "\x00\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

static const struct tl_tar_entry every_type[] = {
	{ .type = 'd', .name = "d", .perm = 0750, .uid = 1000, .gid = 100, .mtime = 1111, .xattr = "user.dir=dv" },
	{ .type = 'f', .name = "d/f", .data = "hello", .perm = 0640, .uid = 1001, .gid = 101, .mtime = 2222,
	  .xattr = "trusted.t=tv" },
	{ .type = 'f', .name = "d/cap", .data = "ping", .perm = 0755, .xattr = "security.capability=" CAP_VALUE,
	  .xattr_len = 20 },
	{ .type = 'l', .name = "d/l", .data = "f", .uid = 1002, .gid = 102, .mtime = 3333 },
	{ .type = 'h', .name = "d/h", .data = "d/f" },
	{ .type = 'p', .name = "p", .perm = 0620, .uid = 5, .gid = 6, .mtime = 4444 },
	{ .type = 'c', .name = "c", .perm = 0666, .major = 1, .minor = 3 },
	{ .type = 'b', .name = "b", .perm = 0660, .major = 7, .minor = 0 },
	{ .type = 'f', .name = "s", .data = "middle", .sparse_size = 4 << 20, .sparse_offset = 1 << 20 },
	{ .type = 'f', .name = "e" },
	{ .type = 'd', .name = "o", .xattr = "trusted.overlay.opaque=y" },
	{ 0 }
};

static char *path_in(const char *dir, const char *path)
{
	return tl_strdupf("%s/%s", dir, path);
}

static void lstat_in(const char *dir, const char *path, struct stat *st)
{
	char *full = path_in(dir, path);
	ck_assert_msg(lstat(full, st) == 0, "lstat '%s': %s", full, strerror(errno));
	free(full);
}

static bool exists_in(const char *dir, const char *path)
{
	struct stat st;
	char *full = path_in(dir, path);
	bool r = lstat(full, &st) == 0;
	free(full);
	return r;
}

/* The xattr's value ("" with size in *len), or NULL when absent. */
static char *xattr_in(const char *dir, const char *path, const char *name, ssize_t *len)
{
	char *full = path_in(dir, path);
	char buf[256];
	ssize_t n = lgetxattr(full, name, buf, sizeof(buf) - 1);
	free(full);
	if (len)
		*len = n;
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return tl_strdup(buf);
}

static void assert_xattr(const char *dir, const char *path, const char *name, const char *want)
{
	char *v = xattr_in(dir, path, name, NULL);
	if (!want)
		ck_assert_msg(!v, "'%s': xattr %s should be absent", path, name);
	else
		ck_assert_msg(v && !strcmp(v, want), "'%s': xattr %s is '%s', want '%s'", path, name, v ? v : "(none)",
			      want);
	free(v);
}

static const struct gd_file_hash *find_hash(const struct gd_apply_result *res, const char *path)
{
	for (size_t i = 0; i < res->n_hashes; i++)
		if (!strcmp(res->hashes[i].path, path))
			return &res->hashes[i];
	return NULL;
}

static void assert_hash(const struct gd_apply_result *res, const char *path, const void *data, size_t len)
{
	const struct gd_file_hash *h = find_hash(res, path);
	ck_assert_msg(h, "no hash recorded for '%s'", path);
	char want[33];
	lt_xxh3_hex(data, len, want);
	ck_assert_msg(!strcmp(h->xxh3, want) && h->size == len, "'%s': hash %s size %llu, want %s size %zu", path,
		      h->xxh3, (unsigned long long)h->size, want, len);
}

/* ------------------------------------------------------------ apply */

START_TEST(every_type_with_metadata)
{
	char *dir = lt_dir("l");
	struct gd_apply_result res;
	lt_apply_ok(every_type, TL_TAR_PAX, dir, _i, &res);
	struct stat st, st2;
	lstat_in(dir, "d", &st);
	ck_assert(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0750 && st.st_uid == 1000 && st.st_gid == 100 &&
		  st.st_mtim.tv_sec == 1111);
	lstat_in(dir, "d/f", &st);
	ck_assert(S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0640 && st.st_uid == 1001 && st.st_mtim.tv_sec == 2222);
	lstat_in(dir, "d/h", &st2);
	ck_assert_msg(st.st_ino == st2.st_ino && st.st_nlink == 2, "the hard link is no link");
	lstat_in(dir, "d/l", &st);
	ck_assert(S_ISLNK(st.st_mode) && st.st_uid == 1002 && st.st_mtim.tv_sec == 3333);
	lstat_in(dir, "p", &st);
	ck_assert(S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0620 && st.st_uid == 5 && st.st_gid == 6);
	lstat_in(dir, "c", &st);
	ck_assert(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
	lstat_in(dir, "b", &st);
	ck_assert(S_ISBLK(st.st_mode) && st.st_rdev == makedev(7, 0));
	lstat_in(dir, "s", &st);
	ck_assert_msg(st.st_size == 4 << 20 && st.st_blocks * 512 < st.st_size, "the sparse file is not sparse");
	assert_xattr(dir, "d", "user.dir", "dv");
	assert_xattr(dir, "d/f", "trusted.t", "tv");
	ssize_t caplen;
	free(xattr_in(dir, "d/cap", "security.capability", &caplen));
	ck_assert_msg(caplen == 20, "security.capability not kept (%zd)", caplen);
	/* a marker xattr in the tar is no marker: dropped */
	assert_xattr(dir, "o", "trusted.overlay.opaque", NULL);

	ck_assert_uint_eq(res.n_hashes, 5);
	assert_hash(&res, "d/f", "hello", 5);
	assert_hash(&res, "d/h", "hello", 5);
	assert_hash(&res, "d/cap", "ping", 4);
	assert_hash(&res, "e", "", 0);
	char *sparse = calloc(1, 4 << 20);
	memcpy(sparse + (1 << 20), "middle", 6);
	assert_hash(&res, "s", sparse, 4 << 20);
	free(sparse);
	for (size_t i = 1; i < res.n_hashes; i++)
		ck_assert_msg(strcmp(res.hashes[i - 1].path, res.hashes[i].path) < 0, "hashes not sorted");
	ck_assert_uint_eq(res.size, 5 + 4 + 6);
	gd_apply_result_release(&res);
	free(dir);
}
END_TEST

static const struct {
	unsigned flag;
	const char *filter, *name;
} compressions[] = {
	{ TL_TAR_PAX, NULL, "none" },
	{ TL_TAR_GZIP, "gzip -dc", "gzip" },
	{ TL_TAR_ZSTD, "zstd -dc", "zstd" },
	{ TL_TAR_XZ, "xz -dc", "xz" },
};

START_TEST(digests_match_sha256sum)
{
	char *dir = lt_dir("l");
	size_t len;
	void *tar = tl_tar_build(every_type, compressions[_i].flag, &len);
	char *diff_id = lt_sha256_cmd(tar, len, compressions[_i].filter);
	char *blob = lt_sha256_cmd(tar, len, NULL);
	struct gd_apply_result res;
	struct lm_error err = { 0 };
	int r = lt_apply_fd(tl_memfd(tar, len), dir, KERNEL, &res, &err);
	ck_assert_msg(r == 0, "apply: %s", err.msg);
	ck_assert_str_eq(res.diff_id, diff_id);
	ck_assert_str_eq(res.compression, compressions[_i].name);
	ck_assert_uint_eq(res.compressed_size, len);
	if (_i == 0) {
		ck_assert_str_eq(res.compressed_digest, "");
		ck_assert_uint_eq(res.uncompressed_size, len);
	} else {
		ck_assert_str_eq(res.compressed_digest, blob);
		ck_assert_uint_gt(res.uncompressed_size, 0);
	}
	gd_apply_result_release(&res);
	free(diff_id);
	free(blob);
	free(tar);
	free(dir);
}
END_TEST

static const struct tl_tar_entry whiteouts[] = {
	{ .type = 'f', .name = "keep", .data = "k" },
	{ .type = 'f', .name = ".wh.gone", .perm = 0600, .uid = 7, .gid = 8, .mtime = 4242 },
	{ .type = 'd', .name = "dir" },
	{ .type = 'f', .name = "dir/.wh.x" },
	/* opaque marker before its siblings (folder not listed), and after */
	{ .type = 'f', .name = "opq/.wh..wh..opq" },
	{ .type = 'f', .name = "opq/a", .data = "a" },
	{ .type = 'd', .name = "opq2" },
	{ .type = 'f', .name = "opq2/b", .data = "b" },
	{ .type = 'f', .name = "opq2/.wh..wh..opq" },
	/* a whiteout of a name the layer has: the name stays */
	{ .type = 'f', .name = "both", .data = "1" },
	{ .type = 'f', .name = ".wh.both" },
	{ .type = 'f', .name = ".wh.both2" },
	{ .type = 'f', .name = "both2", .data = "2" },
	{ .type = 'd', .name = "bd" },
	{ .type = 'f', .name = "bd/in", .data = "i" },
	{ .type = 'f', .name = ".wh.bd" },
	{ .type = 'f', .name = ".wh..wh.plnk" }, /* AUFS metadata: skipped */
	{ 0 }
};

/* No name in the folder starts with ".wh." (kernel form). */
static void assert_no_wh_names(const char *dir)
{
	struct tl_tree t;
	ck_assert_int_eq(tl_tree_snapshot(dir, &t), 0);
	for (size_t i = 0; i < t.n; i++)
		ck_assert_msg(!strstr(t.nodes[i].path, ".wh."), "'%s' is left in the layer", t.nodes[i].path);
	tl_tree_release(&t);
}

START_TEST(whiteouts_kernel_form)
{
	char *dir = lt_dir("l");
	struct gd_apply_result res;
	lt_apply_ok(whiteouts, TL_TAR_PAX, dir, KERNEL, &res);
	struct stat st;
	lstat_in(dir, "gone", &st);
	ck_assert_msg(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0), "gone is no whiteout");
	ck_assert((st.st_mode & 0777) == 0600 && st.st_uid == 7 && st.st_gid == 8 && st.st_mtim.tv_sec == 4242);
	lstat_in(dir, "dir/x", &st);
	ck_assert(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	assert_xattr(dir, "opq", "trusted.overlay.opaque", "y");
	assert_xattr(dir, "opq2", "trusted.overlay.opaque", "y");
	assert_xattr(dir, "bd", "trusted.overlay.opaque", "y");
	assert_xattr(dir, "dir", "trusted.overlay.opaque", NULL);
	ck_assert(exists_in(dir, "opq/a") && exists_in(dir, "opq2/b") && exists_in(dir, "bd/in"));
	lstat_in(dir, "both", &st);
	ck_assert(S_ISREG(st.st_mode) && st.st_size == 1);
	lstat_in(dir, "both2", &st);
	ck_assert(S_ISREG(st.st_mode) && st.st_size == 1);
	assert_no_wh_names(dir);
	gd_apply_result_release(&res);
	free(dir);
}
END_TEST

START_TEST(whiteouts_wh_form)
{
	char *dir = lt_dir("l");
	struct gd_apply_result res;
	lt_apply_ok(whiteouts, TL_TAR_PAX, dir, WH, &res);
	struct stat st;
	lstat_in(dir, ".wh.gone", &st);
	ck_assert(S_ISREG(st.st_mode) && st.st_size == 0 && (st.st_mode & 0777) == 0600 && st.st_uid == 7 &&
		  st.st_mtim.tv_sec == 4242);
	ck_assert(!exists_in(dir, "gone"));
	lstat_in(dir, "dir/.wh.x", &st);
	ck_assert(S_ISREG(st.st_mode));
	for (const char *const *d = (const char *const[]){ "opq", "opq2", "bd", NULL }; *d; d++) {
		assert_xattr(dir, *d, "user.overlay.opaque", "y");
		assert_xattr(dir, *d, "trusted.overlay.opaque", NULL);
		char *opq = tl_strdupf("%s/.wh..wh..opq", *d);
		ck_assert_msg(!exists_in(dir, opq), "'%s' is left", opq);
		free(opq);
	}
	ck_assert(exists_in(dir, "opq/a") && exists_in(dir, "opq2/b") && exists_in(dir, "bd/in"));
	ck_assert(exists_in(dir, "both") && exists_in(dir, "both2"));
	ck_assert(!exists_in(dir, ".wh.both") && !exists_in(dir, ".wh.both2") && !exists_in(dir, ".wh.bd"));
	ck_assert(!exists_in(dir, ".wh..wh.plnk"));
	gd_apply_result_release(&res);
	free(dir);
}
END_TEST

/* ---------------------------------------------------------- hostile */

static const struct hostile {
	struct tl_tar_entry e[3];
	const char *entry; /* the message names it */
} hostile[] = {
	{ { { .type = 'f', .name = "../x", .data = "x" } }, "'../x'" },
	{ { { .type = 'f', .name = "/abs", .data = "x" } }, "'/abs'" },
	{ { { .type = 'f', .name = "a/../../x", .data = "x" } }, "'a/../../x'" },
	{ { { .type = 'l', .name = "sym", .data = "../outside" }, { .type = 'f', .name = "sym/keep", .data = "x" } },
	  "'sym/keep'" },
	{ { { .type = 'l', .name = "sym", .data = "../outside" }, { .type = 'f', .name = "sym/.wh.keep" } },
	  "'sym/.wh.keep'" },
	{ { { .type = 'l', .name = "sym", .data = "../outside" }, { .type = 'f', .name = "sym/.wh..wh..opq" } },
	  "'sym/.wh..wh..opq'" },
	{ { { .type = 'h', .name = "h", .data = "../outside/keep" } }, "'h'" },
	{ { { .type = 'h', .name = "h", .data = "later" }, { .type = 'f', .name = "later" } }, "'h'" },
	{ { { .type = 'f', .name = ".wh." } }, "'.wh.'" },
	{ { { .type = 'f', .name = "d/.wh." } }, "'d/.wh.'" },
	{ { { .type = 'f', .name = ".wh.." } }, "'.wh..'" },
	{ { { .type = 'f', .name = ".wh.d/x", .data = "x" } }, "'.wh.d/x'" },
	{ { { .type = 'f', .name = ".wh.a" }, { .type = 'h', .name = "h", .data = ".wh.a" } }, "'h'" },
};

START_TEST(hostile_refused)
{
	char *outside = tl_strdupf("%s/outside", tl_scratch);
	tl_branch_build(outside, TL_SPEC("file keep sentinel", "dir sub"));
	struct tl_tree before, after;
	ck_assert_int_eq(tl_tree_snapshot(outside, &before), 0);
	for (int form = KERNEL; form <= WH; form++) {
		char *dir = lt_dir(form == KERNEL ? "k" : "w");
		struct gd_apply_result res;
		struct lm_error err = { 0 };
		int r = lt_apply_fd(tl_tar_memfd(hostile[_i].e, TL_TAR_PAX), dir, form, &res, &err);
		ck_assert_msg(r == -EINVAL, "hostile %d accepted (%d: %s)", _i, r, err.msg);
		ck_assert_msg(strstr(err.msg, hostile[_i].entry) && strstr(err.msg, "layer 'L'"),
			      "message '%s' does not name %s", err.msg, hostile[_i].entry);
		free(dir);
	}
	ck_assert_int_eq(tl_tree_snapshot(outside, &after), 0);
	struct tl_buf report = TL_BUF_INIT;
	ck_assert_msg(tl_tree_diff(&before, &after, "before", "after", 0, &report) == 0, "outside changed:\n%s",
		      tl_buf_str(&report));
	tl_tree_release(&before);
	tl_tree_release(&after);
	free(outside);
}
END_TEST

START_TEST(devices_need_permission)
{
	char *dir = lt_dir("l");
	struct gd_apply_opts o = { .what = "layer 'L'", .markers = KERNEL };
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = tl_tar_memfd((const struct tl_tar_entry[]){ { .type = 'c', .name = "null", .major = 1, .minor = 3 },
							     { 0 } },
			      TL_TAR_PAX);
	struct gd_apply_result res;
	struct lm_error err = { 0 };
	ck_assert_int_eq(gd_apply(fd, dfd, &o, &res, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "'null'"), "%s", err.msg);
	close(fd);
	close(dfd);
	free(dir);
}
END_TEST

START_TEST(not_a_tar_or_truncated)
{
	char *dir = lt_dir("l");
	struct gd_apply_result res;
	struct lm_error err = { 0 };
	static const char junk[2048] = "this is not a tar archive";
	ck_assert_int_eq(lt_apply_fd(tl_memfd(junk, sizeof(junk)), dir, KERNEL, &res, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "not a tar"), "%s", err.msg);
	ck_assert_int_lt(lt_apply_fd(tl_memfd("", 0), dir, KERNEL, &res, &err), 0);
	size_t len;
	void *gz = tl_tar_build(every_type, TL_TAR_GZIP, &len);
	int r = lt_apply_fd(tl_memfd(gz, len / 2), dir, KERNEL, &res, &err);
	ck_assert_msg(r < 0, "a cut gzip stream was accepted");
	void *tar = tl_tar_build(every_type, TL_TAR_PAX, &len);
	r = lt_apply_fd(tl_memfd(tar, 1000), dir, KERNEL, &res, &err);
	ck_assert_msg(r < 0, "a tar cut in data was accepted");
	free(gz);
	free(tar);
	free(dir);
}
END_TEST

/* ----------------------------------------------------------- export */

/* every_type and whiteouts, with every folder listed (one the tar does not
 * list gets the time of the extraction, in an export too). */
static struct tl_tar_entry *rich_layer(void)
{
	size_t a = ELEMENTSOF(every_type) - 1, b = ELEMENTSOF(whiteouts) - 1;
	struct tl_tar_entry *v = tl_malloc((a + b + 2) * sizeof(*v));
	memcpy(v, every_type, a * sizeof(*v));
	v[a] = (struct tl_tar_entry){ .type = 'd', .name = "opq", .mtime = 777 };
	memcpy(v + a + 1, whiteouts, (b + 1) * sizeof(*v));
	return v;
}

/* The entries of a tar: "name" per line, and " xattr=NAME" lines. */
static char *list_tar(const void *data, size_t len)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_memory(a, data, len), ARCHIVE_OK);
	struct tl_buf b = TL_BUF_INIT;
	struct archive_entry *e;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		tl_buf_printf(&b, "%s\n", archive_entry_pathname(e));
		const char *name;
		const void *v;
		size_t n;
		archive_entry_xattr_reset(e);
		const char *last = "";
		/* the pax reader gives each twice (LIBARCHIVE. and SCHILY. records) */
		while (archive_entry_xattr_next(e, &name, &v, &n) == ARCHIVE_OK)
			if (strcmp(name, last))
				tl_buf_printf(&b, " xattr=%s\n", (last = name));
	}
	archive_read_free(a);
	return b.s ? b.s : tl_strdup("");
}

START_TEST(export_round_trip)
{
	char *l1 = lt_dir("l1"), *l2 = lt_dir("l2");
	struct tl_tar_entry *layer = rich_layer();
	struct gd_apply_result res;
	lt_apply_ok(layer, TL_TAR_PAX, l1, _i, &res);
	gd_apply_result_release(&res);
	size_t len1, len2;
	char *t1 = lt_export(l1, &len1);
	struct lm_error err = { 0 };
	ck_assert_msg(lt_apply_fd(tl_memfd(t1, len1), l2, _i, &res, &err) == 0, "re-apply: %s", err.msg);
	char *sum = lt_sha256_cmd(t1, len1, NULL);
	ck_assert_str_eq(res.diff_id, sum);
	gd_apply_result_release(&res);
	char *t2 = lt_export(l2, &len2);
	ck_assert_msg(len1 == len2 && !memcmp(t1, t2, len1), "the export of the re-applied layer differs");
	ck_assert_msg(len1 % 10240 == 0, "not padded to the record size");
	lt_assert_same_tree(l1, l2, "applied", "re-applied", 0);
	free(sum);
	free(t1);
	free(t2);
	free(layer);
	free(l1);
	free(l2);
}
END_TEST

START_TEST(export_same_for_both_forms)
{
	char *k = lt_dir("k"), *w = lt_dir("w");
	struct tl_tar_entry *layer = rich_layer();
	struct gd_apply_result res;
	lt_apply_ok(layer, TL_TAR_PAX, k, KERNEL, &res);
	gd_apply_result_release(&res);
	lt_apply_ok(layer, TL_TAR_PAX, w, WH, &res);
	gd_apply_result_release(&res);
	size_t lk, lw;
	char *tk = lt_export(k, &lk), *tw = lt_export(w, &lw);
	if (lk != lw || memcmp(tk, tw, lk)) {
		char *a = list_tar(tk, lk), *b = list_tar(tw, lw);
		ck_assert_msg(0, "the two marker forms export differently:\n%s\n---\n%s", a, b);
	}
	free(tk);
	free(tw);
	free(layer);
	free(k);
	free(w);
}
END_TEST

/* A folder as lamina-fuse or the kernel leaves it (markers made directly,
 * private xattrs on objects): the export in OCI form, private xattrs out. */
START_TEST(export_markers_from_a_union)
{
	char *dir = lt_dir("u");
	tl_branch_build(dir, _i == KERNEL ? TL_SPEC("dir a", "file a/f x", "xattr a/f trusted.overlay.origin z",
						    "xattr a/f user.k v", "whiteout a/gone", "whiteout a/also",
						    "opaque o", "file o/n y", "xattr o user.overlay.impure y")
					  : TL_SPEC("dir a", "file a/f x", "xattr a/f trusted.overlay.origin z",
						    "xattr a/f user.k v", "wh a/gone", "wh a/also", "opq o",
						    "file o/n y", "xattr o user.overlay.impure y"));
	size_t len;
	char *tar = lt_export(dir, &len);
	char *list = list_tar(tar, len);
	ck_assert_str_eq(list, "a/\na/f\n xattr=user.k\na/.wh.also\na/.wh.gone\no/\no/.wh..wh..opq\no/n\n");
	free(list);
	free(tar);
	free(dir);
}
END_TEST

/* ---------------------------------------------- changes, size, verify */

START_TEST(changes_kinds)
{
	char *lower = lt_dir("lower"), *layer = lt_dir("layer");
	tl_branch_build(lower, TL_SPEC("dir etc", "file etc/passwd root", "file etc/hosts h", "dir opt", "file opt/a 1",
				       "file opt/b 2", "dir var", "file var/keep k", "dir usr", "file usr/x x"));
	tl_branch_build_flags(layer,
			      TL_SPEC("dir etc 0700", "file etc/passwd new", "wh etc/hosts", "file etc/new n", "opq opt",
				      "file opt/b 22", "file opt/c 3", "dir newdir", "file newdir/x x", "dir usr",
				      "wh usr/x"),
			      _i == KERNEL ? TL_BUILD_KERNEL_MARKERS : 0);
	int l = open(lower, O_PATH | O_DIRECTORY | O_CLOEXEC), d = open(layer, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct lamina_layer_change *v;
	size_t n;
	struct lm_error err = { 0 };
	ck_assert_msg(gd_changes(d, &l, 1, &v, &n, &err) == 0, "changes: %s", err.msg);
	struct tl_buf b = TL_BUF_INIT;
	for (size_t i = 0; i < n; i++)
		tl_buf_printf(&b, "%c %s\n", "MAD"[v[i].kind], v[i].path);
	ck_assert_str_eq(tl_buf_str(&b), "M /etc\nD /etc/hosts\nA /etc/new\nM /etc/passwd\nA /newdir\nA /newdir/x\n"
					 "D /opt/a\nM /opt/b\nA /opt/c\nD /usr/x\n");
	tl_buf_release(&b);
	lamina_layer_changes_free(v, n);
	close(l);
	close(d);
	free(lower);
	free(layer);
}
END_TEST

START_TEST(diff_size_counts_links_once)
{
	char *dir = lt_dir("l");
	tl_branch_build(dir, TL_SPEC("data big 300K 1", "link big2 big", "file small 12345", "sparse s 8M 3M middle",
				     "wh gone", "dir d", "file d/f abc"));
	int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	uint64_t size = 0;
	struct lm_error err = { 0 };
	ck_assert_int_eq(gd_diff_size(d, &size, &err), 0);
	ck_assert_uint_eq(size, 300 * 1024 + 5 + (8 << 20) + 3);
	close(d);
	free(dir);
}
END_TEST

START_TEST(verify_finds_changes)
{
	char *dir = lt_dir("l");
	struct gd_apply_result res;
	lt_apply_ok(whiteouts, TL_TAR_PAX, dir, _i, &res);
	int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct lamina_check_report rep = { 0 };
	struct lm_error err = { 0 };
	ck_assert_int_eq(gd_verify(d, res.hashes, res.n_hashes, "layer 'L'", &rep, &err), 0);
	ck_assert_msg(rep.n_problems == 0, "a fresh layer has problems: %s", rep.problems[0].what);
	lamina_check_report_release(&rep);
	tl_file(dir, "keep", "K"); /* same size, other content */
	char *gone = path_in(dir, "opq/a");
	ck_assert_int_eq(unlink(gone), 0);
	tl_file(dir, "dir/new", "new");
	ck_assert_int_eq(gd_verify(d, res.hashes, res.n_hashes, "layer 'L'", &rep, &err), 0);
	struct tl_buf b = TL_BUF_INIT;
	for (size_t i = 0; i < rep.n_problems; i++)
		tl_buf_printf(&b, "%s\n", rep.problems[i].what);
	ck_assert_msg(rep.n_problems == 3, "want 3 problems:\n%s", tl_buf_str(&b));
	ck_assert_msg(strstr(b.s, "'/keep': content changed") && strstr(b.s, "'/opq/a': missing") &&
			      strstr(b.s, "'/dir/new': added"),
		      "%s", b.s);
	tl_buf_release(&b);
	lamina_check_report_release(&rep);
	gd_apply_result_release(&res);
	free(gone);
	close(d);
	free(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("graphdriver-layerfs");
	TCase *tc = tcase_create("apply");
	tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, every_type_with_metadata, KERNEL, WH + 1);
	tcase_add_loop_test(tc, digests_match_sha256sum, 0, ELEMENTSOF(compressions));
	tcase_add_test(tc, whiteouts_kernel_form);
	tcase_add_test(tc, whiteouts_wh_form);
	tcase_add_loop_test(tc, hostile_refused, 0, ELEMENTSOF(hostile));
	tcase_add_test(tc, devices_need_permission);
	tcase_add_test(tc, not_a_tar_or_truncated);
	suite_add_tcase(s, tc);
	tc = tcase_create("export");
	tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, export_round_trip, KERNEL, WH + 1);
	tcase_add_test(tc, export_same_for_both_forms);
	tcase_add_loop_test(tc, export_markers_from_a_union, KERNEL, WH + 1);
	suite_add_tcase(s, tc);
	tc = tcase_create("changes");
	tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
	tcase_add_loop_test(tc, changes_kinds, KERNEL, WH + 1);
	tcase_add_test(tc, diff_size_counts_links_once);
	tcase_add_loop_test(tc, verify_finds_changes, KERNEL, WH + 1);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run_suite(suite(), "test-graphdriver-layerfs", TL_NEED_ROOT);
}
