/*
 * tests/unit/test-graphdriver-chain.c: the oracle test for layer
 * chains. Three changeset tars (whiteouts, opaque folders, hard links,
 * xattrs, a folder deleted and made again) are applied with gd_apply into
 * three folders and mounted with the kernel's overlayfs (lowerdir=L3:L2:L1,
 * read-only); the merged tree must equal the tree GNU tar gives extracting
 * the same tars in order into one folder with the whiteouts applied
 * (tl_layers_untar). The same holds for the tars gd_export writes back from
 * the three folders, in both marker forms. Needs root and overlay.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/testlib.h"
#include "tests/unit/layertest.h"

static const struct tl_tar_entry *const *const chain = lt_chain;
#define N LT_CHAIN_N

/* Mounts layers[] (bottom first) with the kernel, read-only, at tl_scratch/NAME. */
static void mount_chain(struct tl_union *u, char *const *layers, const char *name)
{
	const char *lowers[N];
	for (int i = 0; i < N; i++)
		lowers[i] = layers[N - 1 - i]; /* top first */
	char *mnt = lt_dir(name);
	struct tl_union_opts o = { .lowers = lowers, .nlowers = N };
	int r = tl_union_mount(u, TL_KERNEL, &o, mnt);
	ck_assert_msg(r == 0, "mount: %s", u->msg);
	free(mnt);
}

/* tl_layers_untar of the tars (bottom first) into tl_scratch/NAME. */
static char *gnu_tar_oracle(char *const *tars, const char *name)
{
	char *dir = lt_dir(name);
	tl_layers_untar(dir, (const char *const *)tars, N);
	return dir;
}

static void free_all(char **v)
{
	for (int i = 0; i < N; i++)
		free(v[i]);
}

START_TEST(chain_matches_gnu_tar)
{
	enum gd_marker_form form = _i;
	char *layers[N], *tars[N], *exports[N];
	for (int i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof(name), "L%d", i + 1);
		layers[i] = lt_dir(name);
		struct gd_apply_result res;
		lt_apply_ok(chain[i], TL_TAR_PAX, layers[i], GD_MARKERS_KERNEL, &res);
		gd_apply_result_release(&res);
		size_t len;
		void *tar = tl_tar_build(chain[i], TL_TAR_PAX, &len);
		tars[i] = tl_strdupf("%s/t%d.tar", tl_scratch, i + 1);
		lt_write_file(tars[i], tar, len);
		free(tar);
		/* the exports, from folders in the form under test */
		snprintf(name, sizeof(name), "F%d", i + 1);
		char *f = lt_dir(name);
		lt_apply_ok(chain[i], TL_TAR_PAX, f, form, &res);
		gd_apply_result_release(&res);
		tar = lt_export(f, &len);
		exports[i] = tl_strdupf("%s/e%d.tar", tl_scratch, i + 1);
		lt_write_file(exports[i], tar, len);
		free(tar);
		free(f);
	}
	struct tl_union u = { 0 };
	mount_chain(&u, layers, "merged");
	char *oracle = gnu_tar_oracle(tars, "gnutar");
	char *oracle2 = gnu_tar_oracle(exports, "gnutar-exported");
	lt_assert_same_tree(u.mnt, oracle, "overlay", "gnu-tar", TL_DIFF_DINO_IF_FIRST);
	lt_assert_same_tree(u.mnt, oracle2, "overlay", "gnu-tar-of-exports", TL_DIFF_DINO_IF_FIRST);
	ck_assert_int_eq(tl_union_umount(&u), 0);
	free(oracle);
	free(oracle2);
	free_all(layers);
	free_all(tars);
	free_all(exports);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("graphdriver-chain");
	TCase *tc = tcase_create("oracle");
	tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, chain_matches_gnu_tar, GD_MARKERS_KERNEL, GD_MARKERS_WH + 1);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run_suite(suite(), "test-graphdriver-chain", TL_NEED_ROOT | TL_NEED_OVERLAY);
}
