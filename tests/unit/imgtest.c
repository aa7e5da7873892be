/*
 * tests/unit/imgtest.c: what the image tests share (imgtest.h).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lamina/lamina.h>

#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"
#include "tests/unit/imgtest.h"
#include "tests/unit/voltest.h"

static const struct tl_tar_entry base[] = {
	{ .type = 'd', .name = "etc" },
	{ .type = 'f', .name = "etc/motd", .data = "hello\n" },
	{ .type = 'f', .name = "etc/old", .data = "old\n" },
	{ .type = 'd', .name = "opt" },
	{ .type = 'f', .name = "opt/hidden", .data = "lower\n" },
	{ .type = 'd', .name = "opt/sub" },
	{ .type = 'f', .name = "opt/sub/deep", .data = "deep\n" },
	{ .type = 'd', .name = "bin" },
	{ .type = 'f', .name = "bin/sh", .data = "#!prog\n", .perm = 0755 },
	{ .type = 'h', .name = "bin/ash", .data = "bin/sh" },
	{ .type = 'l', .name = "bin/link", .data = "sh" },
	{ 0 }
};

static const struct tl_tar_entry mid[] = {
	{ .type = 'd', .name = "etc" },
	{ .type = 'f', .name = "etc/.wh.old" },
	{ .type = 'f', .name = "etc/motd", .data = "changed\n" },
	{ .type = 'd', .name = "opt" },
	{ .type = 'f', .name = "opt/.wh..wh..opq" },
	{ .type = 'f', .name = "opt/kept", .data = "upper\n" },
	{ 0 }
};

static const struct tl_tar_entry top[] = {
	{ .type = 'd', .name = "bin" },
	{ .type = 'f', .name = "bin/.wh.link" },
	{ .type = 'd', .name = "srv", .perm = 0700, .uid = 5, .gid = 6 },
	{ .type = 'f', .name = "srv/data", .data = "top data\n", .perm = 0600 },
	{ 0 }
};

void it_layers_make(struct it_layers *l, const char *tag, const char *compress)
{
	const struct tl_tar_entry *const all[IT_LAYERS] = { base, mid, top };
	unsigned filter = strcmp(compress, "zstd") == 0 ? TL_TAR_ZSTD : TL_TAR_GZIP;
	memset(l, 0, sizeof(*l));
	for (int i = 0; i < IT_LAYERS; i++) {
		l->tars[i] = tl_strdupf("%s/%s-l%d.tar", tl_scratch, tag, i);
		tl_tar_write_file(l->tars[i], all[i], TL_TAR_PAX);
		l->oci[i].tar = l->tars[i];
	}
	l->blobs[2] = tl_strdupf("%s/%s-l2.tar.%s", tl_scratch, tag, compress);
	tl_tar_write_file(l->blobs[2], top, TL_TAR_PAX | filter);
	l->oci[2].blob = l->blobs[2];
	l->oci[2].media_type = filter == TL_TAR_ZSTD ? "application/vnd.oci.image.layer.v1.tar+zstd"
						     : "application/vnd.oci.image.layer.v1.tar+gzip";
}

void it_layers_release(struct it_layers *l)
{
	for (int i = 0; i < IT_LAYERS; i++) {
		free(l->tars[i]);
		free(l->blobs[i]);
	}
}

struct lamina_image *it_import_ok(const char *path, const struct lamina_image_import_opts *opts, size_t n)
{
	struct lamina_image **v = NULL;
	size_t got = 0;
	struct lm_error err = { 0 };
	int r = lamina_image_import(vt_store, path, opts, &v, &got, &err);
	ck_assert_msg(r == 0, "import '%s': %d %s", path, r, err.msg);
	ck_assert_uint_eq(got, n);
	struct lamina_image *first = v[0];
	v[0] = NULL;
	lamina_image_list_free(v, got);
	return first;
}

size_t it_n_layers(void)
{
	struct lamina_layer **v = NULL;
	size_t n = 0;
	ck_assert_int_eq(lamina_layer_list(vt_store, &v, &n, NULL), 0);
	lamina_layer_list_free(v, n);
	return n;
}

char *it_state(void)
{
	struct tl_buf b = TL_BUF_INIT;
	struct lamina_layer **layers = NULL;
	struct lamina_image **images = NULL;
	size_t n = 0, m = 0;
	ck_assert_int_eq(lamina_layer_list(vt_store, &layers, &n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		tl_buf_printf(&b, "layer %s parent %s diff %s created %lld\n", layers[i]->id,
			      layers[i]->parent ? layers[i]->parent : "-", layers[i]->diff_id ? layers[i]->diff_id : "-",
			      (long long)layers[i]->created);
	lamina_layer_list_free(layers, n);
	ck_assert_int_eq(lamina_image_list(vt_store, &images, &m, NULL), 0);
	for (size_t i = 0; i < m; i++) {
		tl_buf_printf(&b, "image %s layers %zu names", images[i]->id, images[i]->n_layers);
		for (size_t j = 0; j < images[i]->n_names; j++)
			tl_buf_printf(&b, " %s", images[i]->names[j]);
		tl_buf_printf(&b, "\n");
	}
	lamina_image_list_free(images, m);
	char *s = tl_strdup(tl_buf_str(&b));
	tl_buf_release(&b);
	return s;
}

char *it_chain_id_cmd(char *const *diff_ids, size_t n)
{
	char *chain = tl_strdup(diff_ids[0]);
	for (size_t i = 1; i < n; i++) {
		char *cmd = tl_strdupf("printf '%%s %%s' '%s' '%s' | sha256sum", chain, diff_ids[i]);
		FILE *p = popen(cmd, "r");
		char hex[65] = "";
		ck_assert_ptr_nonnull(p);
		ck_assert_int_eq(fscanf(p, "%64s", hex), 1);
		pclose(p);
		free(chain);
		chain = tl_strdupf("sha256:%s", hex);
		free(cmd);
	}
	return chain;
}
