/*
 * tests/unit/imgtest.h: what the image tests share (compiled into each
 * test-images-* binary, with voltest.c's store fixture): the three layer
 * tars of a small image (a base, a layer with whiteouts and an opaque
 * folder, a gzip or zstd top), importing with assertions, and the store's
 * state (layers and image rows) as one string, to compare before and after
 * a refused import.
 */
#ifndef LAMINA_TESTS_IMGTEST_H
#define LAMINA_TESTS_IMGTEST_H

#include <stddef.h>

#include <lamina/image.h>

#include "tests/lib/ocibuild.h"

#define IT_LAYERS 3

/* The layer tars in tl_scratch: tars[i] plain, blobs[i] as stored (layer
 * 2 compressed with compress: "gzip" or "zstd"). Paths are static. */
struct it_layers {
	char *tars[IT_LAYERS];
	char *blobs[IT_LAYERS];
	struct tl_oci_layer oci[IT_LAYERS];
};
void it_layers_make(struct it_layers *l, const char *tag, const char *compress);
void it_layers_release(struct it_layers *l);

/* Imports path (opts may be NULL); must succeed with n images; returns
 * the first (free it). */
struct lamina_image *it_import_ok(const char *path, const struct lamina_image_import_opts *opts, size_t n);

/* How many layers the store lists. */
size_t it_n_layers(void);

/* The layers (id, parent, diff_id, created) and image rows, one line each. Caller frees. */
char *it_state(void);

/* "sha256:<hex>" ChainID of diff_ids[0..n), computed with sha256sum. Caller frees. */
char *it_chain_id_cmd(char *const *diff_ids, size_t n);

#endif
