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
