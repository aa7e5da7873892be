/*
 * graphdriver/apply-private.h: the hooks gd_apply (apply.c) gives the tar
 * extraction (whiteout.c): OCI whiteout entries into on-disk markers,
 * per-file XXH3-128 hashes.
 */
#ifndef LAMINA_GRAPHDRIVER_APPLY_PRIVATE_H
#define LAMINA_GRAPHDRIVER_APPLY_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <xxhash.h>

#include "common/tar-private.h"
#include "graphdriver/layerfs.h"

/* Growing list of normalised paths. */
struct gd_paths {
	char **v;
	size_t n, cap;
};

struct gd_layer_apply {
	const struct gd_apply_opts *opts;
	struct lm_error *err;
	struct lm_untar_hooks hooks;
	void *hashes;      /* tsearch set of struct gd_file_hash, by path */
	XXH3_state_t *xs;  /* the regular file being written */
	uint64_t pos;      /* bytes of it hashed so far */
	struct gd_paths whiteouts; /* paths a .wh. entry named */
	struct gd_paths opaques;   /* folders to mark opaque */
};

/* Sets la up for one gd_apply; 0 or -ENOMEM. Release either way. */
int gd_layer_apply_init(struct gd_layer_apply *la, const struct gd_apply_opts *opts, struct lm_error *err);
const struct lm_untar_hooks *gd_layer_apply_hooks(struct gd_layer_apply *la);
/* The recorded hashes sorted by path (moved out of la). 0 or -ENOMEM. */
int gd_layer_apply_take_hashes(struct gd_layer_apply *la, struct gd_file_hash **ret, size_t *ret_n);
void gd_layer_apply_release(struct gd_layer_apply *la);

#endif
