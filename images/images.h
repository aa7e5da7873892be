/*
 * images/images.h: the inside of lamina images (<lamina/image.h>), grouped
 * by the file that owns each part. Images are built on the graph store's
 * public API (<lamina/layer.h>): a layer of an image is a graph-store layer
 * whose ID is its ChainID's hex, so nothing here touches layer folders.
 *
 * Storage: the images, image_names and image_layers tables (common/db.c,
 * migration 3). image_layers.layer has no foreign key to layers: a layer's
 * row is deleted last in its removal (after its files), and a failing
 * constraint there would strand it half-removed.
 *
 * Thread-safety: per-handle, as the public API.
 */
#ifndef LAMINA_IMAGES_IMAGES_H
#define LAMINA_IMAGES_IMAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lamina/image.h>

/* "sha256:" + 64 hex + NUL */
#define IMG_DIGEST_LEN 72
/* Metadata files (index, manifests, configs) bigger than this are refused. */
#define IMG_META_MAX (16u << 20)

/* ----------------------------------------------------------- digest.c */

/* true when d is "sha256:" and 64 lowercase hex digits. */
bool img_digest_valid(const char *d);
/* "sha256:<hex>" of len bytes of data. */
void img_sha256(const void *data, size_t len, char out[IMG_DIGEST_LEN]);
/* The ChainIDs of diff_ids[0..n), in chain[i] ("sha256:<hex>"). */
void img_chain_ids(char *const *diff_ids, size_t n, char (*chain)[IMG_DIGEST_LEN]);
/* 0 when name is a path inside an archive or folder (relative, no ".."
 * component, no NUL-free empty name), else -EINVAL with err naming what. */
int img_path_check(const char *what, const char *name, struct lm_error *err);

/* ----------------------------------------------------------- source.c */

struct img_entry {
	char *name;    /* normalised: no leading "./" */
	uint64_t size;
	char *data;    /* the content when small enough to keep, else NULL */
};

/* Where an image comes from: a folder (dirfd >= 0) or a tar file. */
struct img_source {
	int dirfd;
	char *path;
	struct img_entry *entries; /* tar only, in archive order */
	size_t n_entries;
	uint64_t bytes;            /* blob bytes handed out so far */
};
#define IMG_SOURCE_INIT { .dirfd = -1 }

/* Opens path: a folder, or a tar scanned once for its entries (small ones
 * kept in memory). */
int img_source_open(const char *path, struct img_source *ret, struct lm_error *err);
void img_source_release(struct img_source *s);
/* true when the source has the file name. */
bool img_source_has(struct img_source *s, const char *name);
/* The whole file name (at most IMG_META_MAX bytes), NUL-terminated, in
 * *ret (yours). -ENOENT naming it when missing. */
int img_source_read(struct img_source *s, const char *name, char **ret, size_t *ret_len, struct lm_error *err);

/* A blob being read: *ret_fd gives its bytes until EOF. */
struct img_stream;
int img_source_stream(struct img_source *s, const char *name, struct img_stream **ret, int *ret_fd,
		      struct lm_error *err);
/* Ends the stream (the reader closed its fd or read to the end): 0, or the
 * error the archive gave while feeding it. Frees st. */
int img_stream_end(struct img_source *s, struct img_stream *st, struct lm_error *err);

/* ------------------------------------------------------------ parse.c */

/* A layer to import. */
struct img_desc {
	char *media_type; /* NULL in a legacy docker-archive */
	char *digest;     /* "sha256:<hex>", NULL when the format gives none */
	int64_t size;     /* -1 when unknown */
	char *path;       /* the blob in the source */
};

/* One image found in the source, its metadata read and verified. */
struct img_plan {
	char *manifest_digest; /* NULL for a legacy docker-archive */
	char *config;          /* JSON text */
	size_t config_len;
	char config_digest[IMG_DIGEST_LEN];
	char **diff_ids;       /* the config's rootfs.diff_ids */
	struct img_desc *layers;
	size_t n_layers;
	char **names;          /* normalised */
	size_t n_names;
};

/* Reads every image the source holds (or the one platform names) into
 * *ret (free with img_plans_free): their manifests and configs checked
 * against their digests, the layer count against rootfs.diff_ids. */
int img_plans_read(struct img_source *s, const char *platform, struct img_plan **ret, size_t *ret_n,
		   struct lm_error *err);
void img_plans_free(struct img_plan *p, size_t n);

/* ------------------------------------------------------------- rows.c */

/* What import learnt of a layer, for its image_layers row. */
struct img_layer_row {
	const char *layer_id, *diff_id, *digest, *media_type;
	uint64_t blob_size;
};

/* Inserts the image (kept when its ID is already stored) with its layers
 * and names (taken from other images), in the caller's transaction. */
int img_row_insert(struct lamina_store *store, const struct img_plan *p, const struct img_layer_row *layers,
		   struct lm_error *err);
/* The ID of the image ref names (see lamina_image_inspect) in *ret (yours);
 * *ret_name (may be NULL) gets the name as stored when ref was one of its
 * names (yours), else stays untouched. */
int img_resolve(struct lamina_store *store, const char *ref, char **ret, char **ret_name, struct lm_error *err);
int img_row_load(struct lamina_store *store, const char *id, struct lamina_image **ret, struct lm_error *err);
/* Every image ID, sorted. */
int img_row_ids(struct lamina_store *store, char ***ret, size_t *ret_n, struct lm_error *err);
/* Points name at image id (in the caller's transaction). */
int img_name_set(struct lamina_store *store, const char *id, const char *name, struct lm_error *err);
/* How many image_layers rows of images other than id name layer. */
int img_layer_users(struct lamina_store *store, const char *layer, const char *id, int64_t *ret,
		    struct lm_error *err);

#endif
