/*
 * tests/unit/layertest.c: see layertest.h.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xxhash.h>

#include "tests/lib/testlib.h"
#include "tests/unit/layertest.h"

static const struct tl_tar_entry t1[] = {
	{ .type = 'd', .name = "etc", .perm = 0755 },
	{ .type = 'f', .name = "etc/passwd", .data = "root:x:0:0\n" },
	{ .type = 'f', .name = "etc/hosts", .data = "127.0.0.1 localhost\n" },
	{ .type = 'd', .name = "usr" },
	{ .type = 'd', .name = "usr/bin" },
	{ .type = 'f', .name = "usr/bin/sh", .data = "#!sh", .perm = 0755, .xattr = "user.k=v" },
	{ .type = 'h', .name = "usr/bin/dash", .data = "usr/bin/sh" },
	{ .type = 'l', .name = "usr/bin/ash", .data = "sh" },
	{ .type = 'd', .name = "opt" },
	{ .type = 'd', .name = "opt/dir" },
	{ .type = 'f', .name = "opt/dir/a", .data = "a1" },
	{ .type = 'f', .name = "opt/dir/b", .data = "b1" },
	{ .type = 'd', .name = "opt/dir/sub" },
	{ .type = 'f', .name = "opt/dir/sub/c", .data = "c1" },
	{ .type = 'd', .name = "var" },
	{ .type = 'd', .name = "var/log" },
	{ .type = 'f', .name = "var/log/x", .data = "x1" },
	{ .type = 'p', .name = "var/fifo" },
	{ .type = 'f', .name = "sparse", .data = "mid", .sparse_size = 2 << 20, .sparse_offset = 1 << 20 },
	{ 0 }
};

static const struct tl_tar_entry t2[] = {
	{ .type = 'f', .name = "etc/.wh.hosts" },
	{ .type = 'f', .name = "etc/passwd", .data = "root:x:0:0\nuser:x:1000:1000\n", .perm = 0600,
	  .xattr = "trusted.x=t" },
	{ .type = 'd', .name = "opt/dir", .perm = 0750, .uid = 12, .gid = 34 },
	{ .type = 'f', .name = "opt/dir/d", .data = "d2" },
	{ .type = 'f', .name = "opt/dir/.wh..wh..opq" },
	{ .type = 'd', .name = "new" },
	{ .type = 'f', .name = "new/file", .data = "n2", .xattr = "trusted.x=t" },
	{ .type = 'h', .name = "new/link", .data = "new/file" },
	{ .type = 'f', .name = "usr/bin/.wh.ash" },
	{ 0 }
};

/* A layer lists the parents of its entries, as image builders write them:
 * the merged view shows the top layer's folder. */
static const struct tl_tar_entry t3[] = {
	{ .type = 'd', .name = "etc" },
	{ .type = 'd', .name = "opt" },
	{ .type = 'd', .name = "opt/dir", .perm = 0750, .uid = 12, .gid = 34 },
	{ .type = 'f', .name = "var/.wh.log" },
	{ .type = 'f', .name = "opt/dir/e", .data = "e3" },
	{ .type = 'f', .name = ".wh.new" },
	{ .type = 'd', .name = "new" },
	{ .type = 'f', .name = "new/other", .data = "o3" },
	{ .type = 'f', .name = "etc/hosts", .data = "back\n" },
	{ .type = 'c', .name = "etc/null", .major = 1, .minor = 3 },
	{ 0 }
};

const struct tl_tar_entry *const lt_chain[LT_CHAIN_N] = { t1, t2, t3 };
char *lt_dir(const char *name)
{
	tl_mkdir(tl_scratch, name, 0755);
	return tl_strdupf("%s/%s", tl_scratch, name);
}

int lt_apply_fd(int fd, const char *dir, enum gd_marker_form markers, struct gd_apply_result *res,
		struct lm_error *err)
{
	struct gd_apply_opts o = { .what = "layer 'L'", .markers = markers, .keep_owner = true, .allow_devices = true };
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	int r = gd_apply(fd, dfd, &o, res, err);
	close(dfd);
	close(fd);
	return r;
}

void lt_apply_ok(const struct tl_tar_entry *e, unsigned flags, const char *dir, enum gd_marker_form markers,
		 struct gd_apply_result *res)
{
	struct lm_error err = { 0 };
	int r = lt_apply_fd(tl_tar_memfd(e, flags), dir, markers, res, &err);
	ck_assert_msg(r == 0, "apply into '%s' failed: %d %s", dir, r, err.msg);
}

char *lt_export(const char *dir, size_t *ret_len)
{
	int in = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int out = memfd_create("export", MFD_CLOEXEC);
	ck_assert(in >= 0 && out >= 0);
	struct lm_error err = { 0 };
	int r = gd_export(in, out, "layer 'L'", &err);
	ck_assert_msg(r == 0, "export of '%s' failed: %s", dir, err.msg);
	char *data = tl_fd_read_all(out, ret_len);
	close(in);
	close(out);
	return data;
}

void lt_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "we");
	ck_assert_msg(f && fwrite(data, 1, len, f) == len && fclose(f) == 0, "write '%s'", path);
}

char *lt_sha256_cmd(const void *data, size_t len, const char *filter)
{
	char *in = tl_strdupf("%s/sha-in", tl_scratch);
	lt_write_file(in, data, len);
	char *cmd = filter ? tl_strdupf("%s < '%s' | sha256sum", filter, in) : tl_strdupf("sha256sum < '%s'", in);
	FILE *p = popen(cmd, "r");
	char hex[65] = "";
	ck_assert_msg(p && fscanf(p, "%64s", hex) == 1 && pclose(p) == 0 && strlen(hex) == 64, "'%s' failed", cmd);
	unlink(in);
	free(in);
	free(cmd);
	return tl_strdupf("sha256:%s", hex);
}

void lt_xxh3_hex(const void *data, size_t len, char out[33])
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits(data, len));
	for (size_t i = 0; i < sizeof(c.digest); i++)
		snprintf(out + 2 * i, 3, "%02x", c.digest[i]);
}

void lt_assert_same_tree(const char *a, const char *b, const char *name_a, const char *name_b, unsigned flags)
{
	struct tl_tree ta, tb;
	ck_assert_int_eq(tl_tree_snapshot(a, &ta), 0);
	ck_assert_int_eq(tl_tree_snapshot(b, &tb), 0);
	struct tl_buf report = TL_BUF_INIT;
	size_t diffs = tl_tree_diff(&ta, &tb, name_a, name_b, flags, &report);
	tl_tree_release(&ta);
	tl_tree_release(&tb);
	if (diffs)
		fprintf(stderr, "%s vs %s:\n%s", name_a, name_b, tl_buf_str(&report));
	ck_assert_msg(diffs == 0, "%s and %s differ:\n%.3000s", name_a, name_b, tl_buf_str(&report));
	tl_buf_release(&report);
}
