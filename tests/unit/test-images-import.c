/*
 * tests/unit/test-images-import.c: importing images built in the test
 * (tests/lib/ocibuild.c) as an OCI layout, an oci-archive and both
 * docker-archive forms: layers keyed by ChainID (checked against sha256sum),
 * DiffIDs against the tars, a second import storing nothing new, base
 * layers shared between images, gzip and zstd layers, multi-platform
 * indexes; and the refusals: a corrupted blob, a wrong DiffID, a missing
 * blob, a corrupted config, a manifest path out of the archive, each named
 * in the message and leaving the store as it was (layers and rows compared
 * before and after, a shared base layer untouched).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lamina/lamina.h>

#include "common/cleanup.h"
#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"
#include "tests/unit/imgtest.h"
#include "tests/unit/voltest.h"

static const enum tl_oci_form forms[] = { TL_OCI_LAYOUT, TL_OCI_ARCHIVE, TL_DOCKER_LEGACY, TL_DOCKER_25 };
static const char *const form_names[] = { "layout", "oci-archive", "docker-legacy", "docker-25" };

START_TEST(each_form_imports)
{
	struct it_layers l;
	struct tl_oci_built built;
	it_layers_make(&l, "a", "gzip");
	struct tl_oci_image im = { .layers = l.oci, .n_layers = IT_LAYERS, .name = "example.org/demo:1" };
	_cleanup_free_ char *path = tl_strdupf("%s/image-%s", tl_scratch, form_names[_i]);
	tl_oci_build(path, forms[_i], &im, 1, &built);

	struct lamina_image *img = it_import_ok(path, NULL, 1);
	ck_assert_str_eq(img->digest, built.config);
	ck_assert_uint_eq(img->n_layers, IT_LAYERS);
	ck_assert_uint_eq(img->n_names, 1);
	ck_assert_str_eq(img->names[0], "example.org/demo:1");
	char *diff[IT_LAYERS];
	for (int i = 0; i < IT_LAYERS; i++) {
		char d[72];
		tl_sha256_file(l.tars[i], d);
		diff[i] = tl_strdup(d);
		ck_assert_str_eq(img->layers[i].diff_id, d);
		_cleanup_free_ char *chain = it_chain_id_cmd(diff, (size_t)i + 1);
		ck_assert_str_eq(img->layers[i].chain_id, chain);
		ck_assert_str_eq(img->layers[i].layer_id, chain + 7);
		ck_assert_int_eq(lamina_layer_inspect(vt_store, chain + 7, NULL, NULL), 0);
	}
	ck_assert_ptr_nonnull(strstr(img->config, "\"Cmd\""));
	ck_assert_str_eq(img->top_layer, img->layers[2].layer_id);
	ck_assert_uint_gt(img->size, 0);

	/* a second import stores nothing new and changes nothing */
	_cleanup_free_ char *before = it_state();
	struct lamina_image *again = it_import_ok(path, NULL, 1);
	ck_assert_str_eq(again->id, img->id);
	_cleanup_free_ char *after = it_state();
	ck_assert_str_eq(before, after);

	for (int i = 0; i < IT_LAYERS; i++)
		free(diff[i]);
	lamina_image_free(again);
	lamina_image_free(img);
	it_layers_release(&l);
}
END_TEST

START_TEST(zstd_layer_and_name_option)
{
	struct it_layers l;
	it_layers_make(&l, "z", "zstd");
	struct tl_oci_image im = { .layers = l.oci, .n_layers = IT_LAYERS };
	_cleanup_free_ char *path = tl_strdupf("%s/zstd", tl_scratch);
	tl_oci_build(path, TL_OCI_LAYOUT, &im, 1, NULL);
	struct lamina_image_import_opts o = { .name = "mine" };
	struct lamina_image *img = it_import_ok(path, &o, 1);
	ck_assert_uint_eq(img->n_names, 1);
	ck_assert_str_eq(img->names[0], "mine:latest");
	ck_assert_str_eq(img->layers[2].media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
	char d[72];
	tl_sha256_file(l.blobs[2], d);
	ck_assert_str_eq(img->layers[2].digest, d);
	struct lamina_layer *top = NULL;
	ck_assert_int_eq(lamina_layer_inspect(vt_store, img->top_layer, &top, NULL), 0);
	ck_assert_str_eq(top->compression, "zstd");
	lamina_layer_free(top);
	lamina_image_free(img);
	it_layers_release(&l);
}
END_TEST

/* Image b: a's base and mid layers, and its own top (a's top as layer 1 of
 * another stack would share nothing). */
static void other_top(struct it_layers *l, const char *tag)
{
	static const struct tl_tar_entry top2[] = {
		{ .type = 'f', .name = "other", .data = "b's own\n" },
		{ 0 },
	};
	free(l->blobs[2]);
	l->blobs[2] = NULL;
	free(l->tars[2]);
	l->tars[2] = tl_strdupf("%s/%s-other.tar", tl_scratch, tag);
	tl_tar_write_file(l->tars[2], top2, TL_TAR_PAX);
	l->oci[2] = (struct tl_oci_layer){ .tar = l->tars[2] };
}

START_TEST(shared_base_layers_stored_once)
{
	struct it_layers a, b;
	it_layers_make(&a, "a", "gzip");
	it_layers_make(&b, "b", "gzip");
	other_top(&b, "b");
	struct tl_oci_image ims[2] = { { .layers = a.oci, .n_layers = IT_LAYERS, .name = "a:1" },
				       { .layers = b.oci, .n_layers = IT_LAYERS, .name = "b:1" } };
	_cleanup_free_ char *pa = tl_strdupf("%s/a", tl_scratch), *pb = tl_strdupf("%s/b.tar", tl_scratch);
	tl_oci_build(pa, TL_OCI_LAYOUT, &ims[0], 1, NULL);
	tl_oci_build(pb, TL_OCI_ARCHIVE, &ims[1], 1, NULL);
	struct lamina_image *ia = it_import_ok(pa, NULL, 1), *ib = it_import_ok(pb, NULL, 1);
	ck_assert_uint_eq(it_n_layers(), 4);
	ck_assert_str_eq(ia->layers[1].layer_id, ib->layers[1].layer_id);
	ck_assert_str_ne(ia->top_layer, ib->top_layer);
	lamina_image_free(ia);
	lamina_image_free(ib);
	it_layers_release(&a);
	it_layers_release(&b);
}
END_TEST

START_TEST(platform_picks_one)
{
	struct it_layers a, b;
	it_layers_make(&a, "a", "gzip");
	it_layers_make(&b, "b", "gzip");
	other_top(&b, "b");
	struct tl_oci_image ims[2] = { { .layers = a.oci, .n_layers = IT_LAYERS, .arch = "amd64" },
				       { .layers = b.oci, .n_layers = IT_LAYERS, .arch = "arm64" } };
	struct tl_oci_built built[2];
	_cleanup_free_ char *path = tl_strdupf("%s/multi.tar", tl_scratch);
	tl_oci_build(path, TL_OCI_ARCHIVE, ims, 2, built);

	struct lm_error err = { 0 };
	struct lamina_image_import_opts o = { .name = "x" };
	ck_assert_int_eq(lamina_image_import(vt_store, path, &o, NULL, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "2 images"));
	o = (struct lamina_image_import_opts){ .platform = "linux/s390x" };
	ck_assert_int_eq(lamina_image_import(vt_store, path, &o, NULL, NULL, &err), -ENOEXEC);
	ck_assert_uint_eq(it_n_layers(), 0);
	o = (struct lamina_image_import_opts){ .platform = "linux/arm64", .name = "x" };
	struct lamina_image *img = it_import_ok(path, &o, 1);
	ck_assert_str_eq(img->digest, built[1].config);
	ck_assert_str_eq(img->architecture, "arm64");
	lamina_image_free(img);
	ck_assert_uint_eq(it_n_layers(), 3);
	lamina_image_free(it_import_ok(path, NULL, 2));
	ck_assert_uint_eq(it_n_layers(), 4);
	it_layers_release(&a);
	it_layers_release(&b);
}
END_TEST

/* The refusals. Image a is stored first; the bad image b shares a's base
 * layer and adds two of its own, the second of which is bad, so the import
 * creates one layer before it fails. */
enum bad { BAD_BLOB, BAD_DIFF_ID, BAD_MISSING, BAD_CONFIG, BAD_PATH, BAD_ABSOLUTE, N_BAD };

static void break_it(enum bad bad, const char *path, struct it_layers *b, const struct tl_oci_built *built)
{
	char d[72];
	tl_sha256_file(b->tars[2], d);
	_cleanup_free_ char *blob = tl_strdupf("%s/blobs/sha256/%s", path, d + 7);
	_cleanup_free_ char *config = tl_strdupf("%s/blobs/sha256/%s", path, built->config + 7);
	if (bad == BAD_BLOB) {
		FILE *f = fopen(blob, "ab");
		ck_assert_ptr_nonnull(f);
		fputs("junk", f);
		fclose(f);
	} else if (bad == BAD_MISSING) {
		ck_assert_int_eq(unlink(blob), 0);
	} else if (bad == BAD_CONFIG) {
		FILE *f = fopen(config, "r+b");
		ck_assert_ptr_nonnull(f);
		fputc(' ', f);
		fclose(f);
	}
}

START_TEST(bad_input_refused_store_unchanged)
{
	static const char *const want[N_BAD] = {
		[BAD_BLOB] = "does not match its digest",   [BAD_DIFF_ID] = "DiffID",
		[BAD_MISSING] = "blob",			    [BAD_CONFIG] = "config sha256:",
		[BAD_PATH] = "points out of the archive", [BAD_ABSOLUTE] = "points out of the archive",
	};
	static const int code[N_BAD] = { -EBADMSG, -EBADMSG, -ENOENT, -EBADMSG, -EINVAL, -EINVAL };
	enum bad bad = _i;
	struct it_layers a, b;
	it_layers_make(&a, "a", "gzip");
	it_layers_make(&b, "b", "gzip");
	other_top(&b, "b");
	struct tl_oci_image ia = { .layers = a.oci, .n_layers = 1, .name = "a:1" };
	_cleanup_free_ char *pa = tl_strdupf("%s/a", tl_scratch);
	tl_oci_build(pa, TL_OCI_LAYOUT, &ia, 1, NULL);
	lamina_image_free(it_import_ok(pa, NULL, 1));

	/* b: a's base, then mid, then its own top (the bad one) */
	if (bad == BAD_DIFF_ID)
		b.oci[2].diff_id = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	if (bad == BAD_PATH)
		b.oci[2].path = "../outside/layer.tar";
	if (bad == BAD_ABSOLUTE)
		b.oci[1].path = "/etc/passwd";
	struct tl_oci_image ib = { .layers = b.oci, .n_layers = IT_LAYERS, .name = "b:1" };
	struct tl_oci_built built;
	bool legacy = bad == BAD_PATH || bad == BAD_ABSOLUTE;
	_cleanup_free_ char *pb = tl_strdupf("%s/b%s", tl_scratch, legacy ? ".tar" : "");
	tl_oci_build(pb, legacy ? TL_DOCKER_LEGACY : TL_OCI_LAYOUT, &ib, 1, &built);
	break_it(bad, pb, &b, &built);

	_cleanup_free_ char *before = it_state();
	struct lm_error err = { 0 };
	int r = lamina_image_import(vt_store, pb, NULL, NULL, NULL, &err);
	ck_assert_msg(r == code[bad], "%s: got %d (%s)", want[bad], r, err.msg);
	ck_assert_msg(strstr(err.msg, want[bad]), "message '%s' lacks '%s'", err.msg, want[bad]);
	if (bad == BAD_BLOB || bad == BAD_DIFF_ID || bad == BAD_MISSING)
		ck_assert_msg(strstr(err.msg, "layer 2 ("), "message '%s' does not name layer 2", err.msg);
	_cleanup_free_ char *after = it_state();
	ck_assert_str_eq(before, after);
	ck_assert_uint_eq(it_n_layers(), 1);
	ck_assert_int_eq(lamina_image_inspect(vt_store, "b:1", NULL, NULL), -ENOENT);
	it_layers_release(&a);
	it_layers_release(&b);
}
END_TEST

START_TEST(not_an_image_refused)
{
	_cleanup_free_ char *dir = tl_strdupf("%s/empty", tl_scratch), *file = tl_strdupf("%s/junk", tl_scratch);
	tl_mkdir_p(dir, 0755);
	FILE *f = fopen(file, "w");
	fputs("not a tar at all\n", f);
	fclose(f);
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_image_import(vt_store, dir, NULL, NULL, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "no index.json or manifest.json"));
	ck_assert_int_eq(lamina_image_import(vt_store, file, NULL, NULL, NULL, &err), -EINVAL);
	ck_assert_int_eq(lamina_image_import(vt_store, "/nonexistent/x", NULL, NULL, NULL, &err), -ENOENT);
}
END_TEST

START_TEST(names_and_tags)
{
	char *s = NULL;
	ck_assert_int_eq(lamina_image_name_normalize("busybox", &s, NULL), 0);
	ck_assert_str_eq(s, "busybox:latest");
	free(s);
	ck_assert_int_eq(lamina_image_name_normalize("localhost:5000/a/b", &s, NULL), 0);
	ck_assert_str_eq(s, "localhost:5000/a/b:latest");
	free(s);
	ck_assert_int_eq(lamina_image_name_normalize("a:b", &s, NULL), 0);
	ck_assert_str_eq(s, "a:b");
	free(s);
	ck_assert_int_eq(lamina_image_name_normalize("a b", &s, NULL), -EINVAL);
	ck_assert_int_eq(lamina_image_name_normalize("a:", &s, NULL), -EINVAL);
	ck_assert_int_eq(lamina_image_name_normalize("", &s, NULL), -EINVAL);

	struct it_layers l;
	it_layers_make(&l, "a", "gzip");
	struct tl_oci_image im = { .layers = l.oci, .n_layers = 1, .name = "docker.io/library/one:1" };
	_cleanup_free_ char *path = tl_strdupf("%s/img", tl_scratch);
	tl_oci_build(path, TL_OCI_LAYOUT, &im, 1, NULL);
	struct lamina_image *img = it_import_ok(path, NULL, 1);
	/* Docker's short form finds the full name, as docker and podman do */
	ck_assert_int_eq(lamina_image_tag(vt_store, "one:1", "two", NULL), 0);
	ck_assert_int_eq(lamina_image_inspect(vt_store, "library/one:1", NULL, NULL), 0);
	ck_assert_int_eq(lamina_image_inspect(vt_store, "other/one:1", NULL, NULL), -ENOENT);
	ck_assert_int_eq(lamina_image_inspect(vt_store, "example.org/one:1", NULL, NULL), -ENOENT);
	struct lamina_image *by_prefix = NULL;
	_cleanup_free_ char *prefix = tl_strdupf("%.8s", img->id);
	ck_assert_int_eq(lamina_image_inspect(vt_store, prefix, &by_prefix, NULL), 0);
	ck_assert_uint_eq(by_prefix->n_names, 2);
	ck_assert_str_eq(by_prefix->names[0], "docker.io/library/one:1");
	ck_assert_str_eq(by_prefix->names[1], "two:latest");
	size_t removed = 9;
	ck_assert_int_eq(lamina_image_remove(vt_store, "two", &removed, NULL), 0);
	ck_assert_uint_eq(removed, 0); /* only the name went */
	ck_assert_int_eq(lamina_image_inspect(vt_store, "one:1", NULL, NULL), 0);
	ck_assert_int_eq(lamina_image_remove(vt_store, "one:1", &removed, NULL), 0);
	ck_assert_uint_eq(removed, 1);
	ck_assert_uint_eq(it_n_layers(), 0);
	lamina_image_free(by_prefix);
	lamina_image_free(img);
	it_layers_release(&l);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("images-import");
	TCase *tc = tcase_create("import");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, each_form_imports, 0, 4);
	tcase_add_test(tc, zstd_layer_and_name_option);
	tcase_add_test(tc, shared_base_layers_stored_once);
	tcase_add_test(tc, platform_picks_one);
	tcase_add_loop_test(tc, bad_input_refused_store_unchanged, 0, N_BAD);
	tcase_add_test(tc, not_an_image_refused);
	tcase_add_test(tc, names_and_tags);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run_suite(suite(), "test-images-import", 0);
}
