/*
 * tests/unit/test-images-mount.c: an imported image's root file system:
 * mounted (lamina-fuse), it equals what GNU tar gives applying the layer
 * tars in order (tl_layers_untar), for every input form; removing an image
 * keeps the layers another image or a container layer uses and refuses a
 * mounted image; an export imported again mounts the same tree. Needs root,
 * /dev/fuse and the built lamina-fuse ($LAMINA_FUSE).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <lamina/lamina.h>

#include "common/cleanup.h"
#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"
#include "tests/unit/imgtest.h"
#include "tests/unit/voltest.h"

static const enum tl_oci_form forms[] = { TL_OCI_LAYOUT, TL_OCI_ARCHIVE, TL_DOCKER_LEGACY, TL_DOCKER_25 };

static char *mount_ok(const char *layer)
{
	struct lamina_layer_mount_opts o = { .backend = LAMINA_BACKEND_FUSE };
	char *path = NULL;
	struct lm_error err = { 0 };
	int r = lamina_layer_mount(vt_store, layer, &o, &path, &err);
	ck_assert_msg(r == 0, "mount %s: %d %s", layer, r, err.msg);
	return path;
}

static void unmount_ok(const char *layer)
{
	struct lm_error err = { 0 };
	int r = lamina_layer_unmount(vt_store, layer, NULL, &err);
	ck_assert_msg(r == 0, "unmount %s: %d %s", layer, r, err.msg);
}

static void assert_same_tree(const char *a, const char *b)
{
	struct tl_tree ta, tb;
	struct tl_buf report = TL_BUF_INIT;
	ck_assert_int_eq(tl_tree_snapshot(a, &ta), 0);
	ck_assert_int_eq(tl_tree_snapshot(b, &tb), 0);
	size_t diffs = tl_tree_diff(&ta, &tb, "expected", "mounted", TL_DIFF_NO_DINO, &report);
	tl_tree_release(&ta);
	tl_tree_release(&tb);
	ck_assert_msg(diffs == 0, "trees differ:\n%.3000s", tl_buf_str(&report));
	tl_buf_release(&report);
}

/* GNU tar applying the layers in order, into tl_scratch/NAME. */
static char *oracle(const struct it_layers *l, const char *name)
{
	char *dir = tl_strdupf("%s/%s", tl_scratch, name);
	tl_mkdir_p(dir, 0755);
	tl_layers_untar(dir, (const char *const *)l->tars, IT_LAYERS);
	return dir;
}

START_TEST(rootfs_matches_gnu_tar)
{
	struct it_layers l;
	it_layers_make(&l, "a", "gzip");
	struct tl_oci_image im = { .layers = l.oci, .n_layers = IT_LAYERS, .name = "demo:1" };
	_cleanup_free_ char *path = tl_strdupf("%s/image", tl_scratch);
	tl_oci_build(path, forms[_i], &im, 1, NULL);
	struct lamina_image *img = it_import_ok(path, NULL, 1);
	_cleanup_free_ char *want = oracle(&l, "oracle"), *mnt = mount_ok(img->top_layer);
	assert_same_tree(want, mnt);
	unmount_ok(img->top_layer);
	lamina_image_free(img);
	it_layers_release(&l);
}
END_TEST

START_TEST(rm_keeps_what_others_use)
{
	struct it_layers l;
	it_layers_make(&l, "a", "gzip");
	struct tl_oci_image full = { .layers = l.oci, .n_layers = IT_LAYERS, .name = "full:1" };
	struct tl_oci_image base = { .layers = l.oci, .n_layers = 2, .name = "base:1" };
	_cleanup_free_ char *pf = tl_strdupf("%s/full", tl_scratch), *pb = tl_strdupf("%s/base", tl_scratch);
	tl_oci_build(pf, TL_OCI_LAYOUT, &full, 1, NULL);
	tl_oci_build(pb, TL_OCI_LAYOUT, &base, 1, NULL);
	struct lamina_image *f = it_import_ok(pf, NULL, 1), *b = it_import_ok(pb, NULL, 1);
	ck_assert_uint_eq(it_n_layers(), 3);

	/* mounted: refused, nothing removed */
	_cleanup_free_ char *mnt = mount_ok(f->top_layer);
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_image_remove(vt_store, "full:1", NULL, &err), -EBUSY);
	ck_assert_int_eq(lamina_image_inspect(vt_store, "full:1", NULL, NULL), 0);
	unmount_ok(f->top_layer);

	/* full's own top goes, the two layers base uses stay */
	size_t removed = 0;
	ck_assert_int_eq(lamina_image_remove(vt_store, "full:1", &removed, &err), 0);
	ck_assert_uint_eq(removed, 1);
	ck_assert_uint_eq(it_n_layers(), 2);
	ck_assert_int_eq(lamina_layer_inspect(vt_store, b->top_layer, NULL, NULL), 0);

	/* a container layer on base keeps base's layers */
	struct lamina_layer_create_opts o = { .parent = b->top_layer, .read_write = true, .id = "container" };
	ck_assert_int_eq(lamina_layer_create(vt_store, &o, NULL, NULL), 0);
	ck_assert_int_eq(lamina_image_remove(vt_store, "base:1", &removed, &err), 0);
	ck_assert_uint_eq(removed, 0);
	ck_assert_uint_eq(it_n_layers(), 3);
	lamina_image_free(f);
	lamina_image_free(b);
	it_layers_release(&l);
}
END_TEST

START_TEST(export_import_same_rootfs)
{
	struct it_layers l;
	it_layers_make(&l, "a", "zstd");
	struct tl_oci_image im = { .layers = l.oci, .n_layers = IT_LAYERS, .name = "orig:1" };
	_cleanup_free_ char *path = tl_strdupf("%s/image.tar", tl_scratch);
	_cleanup_free_ char *out = tl_strdupf("%s/export.tar", tl_scratch);
	tl_oci_build(path, TL_DOCKER_LEGACY, &im, 1, NULL);
	struct lamina_image *img = it_import_ok(path, NULL, 1);

	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct lm_error err = { 0 };
	ck_assert_int_ge(fd, 0);
	int r = lamina_image_export(vt_store, "orig:1", fd, &err);
	ck_assert_msg(r == 0, "export: %d %s", r, err.msg);
	close(fd);
	ck_assert_int_eq(lamina_image_remove(vt_store, "orig:1", NULL, NULL), 0);
	ck_assert_uint_eq(it_n_layers(), 0);

	struct lamina_image *back = it_import_ok(out, NULL, 1);
	ck_assert_uint_eq(back->n_names, 1);
	ck_assert_str_eq(back->names[0], "orig:1");
	ck_assert_uint_eq(back->n_layers, IT_LAYERS);
	_cleanup_free_ char *want = oracle(&l, "oracle"), *mnt = mount_ok(back->top_layer);
	assert_same_tree(want, mnt);
	unmount_ok(back->top_layer);
	lamina_image_free(back);
	lamina_image_free(img);
	it_layers_release(&l);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("images-mount");
	TCase *tc = tcase_create("mount");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, rootfs_matches_gnu_tar, 0, 4);
	tcase_add_test(tc, rm_keeps_what_others_use);
	tcase_add_test(tc, export_import_same_rootfs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run_suite(suite(), "test-images-mount", TL_NEED_ROOT | TL_NEED_FUSE | TL_NEED_LAMINA);
}
