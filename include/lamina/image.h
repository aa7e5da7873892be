/*
 * lamina/image.h: images on top of the graph store (<lamina/layer.h>):
 * importing an OCI image layout, an oci-archive or a docker-archive (both
 * the legacy `<id>/layer.tar` form and Docker 25+'s blobs/sha256 form),
 * listing, naming, removing, mounting and exporting them.
 *
 * An image is its config (identified by the config's sha256 digest, the
 * image ID as Docker shows it), its names ("NAME:TAG", unique across
 * images) and its layers, base first. Each layer is a graph-store layer
 * whose ID is the hex of its ChainID (OCI image-spec: ChainID(L0) =
 * DiffID(L0), ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " +
 * DiffID(Ln))): two images sharing base layers share those layers, and a
 * second import of an image stores nothing new. Removing an image removes
 * the layers no other image or container layer uses.
 *
 * Every blob read is checked against its digest, every layer's DiffID
 * against the config's rootfs.diff_ids; a mismatch, a missing blob, or a
 * path that leaves the archive is refused naming the layer or blob, and a
 * refused import leaves the store as it was. docs/images.md has the
 * details and what is left out.
 *
 * Every function takes an open store (<lamina/store.h>), returns 0 (or the
 * positive value it documents) or a negative errno, filling err with a
 * message naming the image and the cause.
 * Thread-safety: per-handle, for all of them (one store handle per thread).
 */
#ifndef LAMINA_IMAGE_H
#define LAMINA_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lamina/error.h>
#include <lamina/layer.h>
#include <lamina/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One layer of an image, as the image's manifest and config describe it. */
struct lamina_image_layer {
	char *layer_id;    /* the graph-store layer: 64 hex of the ChainID */
	char *chain_id;    /* "sha256:<hex>" */
	char *diff_id;     /* "sha256:<hex>" of the uncompressed tar */
	char *digest;      /* "sha256:<hex>" of the blob as imported */
	char *media_type;  /* the manifest's; NULL for a legacy docker-archive */
	uint64_t blob_size; /* bytes of the blob as imported */
	uint64_t size;      /* bytes of file data the layer holds (0 when it is gone) */
};

struct lamina_image {
	char *id;          /* 64 hex of the config digest */
	char *digest;      /* "sha256:<id>" */
	char **names;      /* "NAME:TAG", sorted */
	size_t n_names;
	char *config;      /* the image config, JSON, as imported */
	char *manifest_digest; /* "sha256:<hex>"; NULL for a legacy docker-archive */
	char *os, *architecture; /* from the config; may be NULL */
	char *created;     /* the config's "created" (RFC 3339); may be NULL */
	int64_t imported;  /* seconds since the epoch (UTC) */
	struct lamina_image_layer *layers; /* base first */
	size_t n_layers;
	uint64_t size;     /* sum of the layers' sizes */
	char *top_layer;   /* layers[n_layers - 1].layer_id; NULL for an image without layers */
};

void lamina_image_free(struct lamina_image *image);
void lamina_image_list_free(struct lamina_image **images, size_t n);

/* What an import has done so far, for a progress display. */
struct lamina_image_progress {
	size_t layers_done;  /* layers imported or found already stored */
	size_t n_layers;     /* layers of the images being imported */
	uint64_t bytes;      /* blob bytes read so far */
	const char *layer;   /* the layer just done: "sha256:<diffid>" */
};

struct lamina_image_import_opts {
	const char *name;     /* "NAME[:TAG]" to give the image (":latest" when no tag);
			       * refused when the input holds several images and
			       * platform does not pick one */
	const char *platform; /* "OS/ARCH[/VARIANT]": only that image of an index */
	/* Called after each layer (main thread, inside the import). */
	void (*progress)(const struct lamina_image_progress *p, void *arg);
	void *progress_arg;
};

/*
 * Imports the image(s) at path: a folder holding an OCI image layout (or an
 * extracted docker-archive), or a tar file (oci-archive or docker-archive,
 * itself plain or compressed) read with libarchive, blobs streamed from it.
 * Layers may be plain, gzip or zstd tars. Names come from opts->name, else
 * from the index's io.containerd.image.name or
 * org.opencontainers.image.ref.name annotations, or a docker-archive's
 * RepoTags; a name held by another image moves to this one (as docker
 * load). *ret (may be NULL) gets the images imported (free with
 * lamina_image_list_free), *ret_n their number.
 * Errors: -EINVAL for a malformed input (the message names the file, blob
 * or layer), -EBADMSG for a blob or layer whose content does not match its
 * digest or DiffID, -ENOENT for a missing blob, -ENOEXEC when no image
 * matches opts->platform; the store is then as it was.
 */
int lamina_image_import(struct lamina_store *store, const char *path, const struct lamina_image_import_opts *opts,
			struct lamina_image ***ret, size_t *ret_n, struct lm_error *err);

/* Describes one image by name ("NAME" means "NAME:latest"), full ID, or a
 * unique ID prefix of at least 4 hex digits. -ENOENT when there is none. ret
 * may be NULL (an existence check). */
int lamina_image_inspect(struct lamina_store *store, const char *ref, struct lamina_image **ret,
			 struct lm_error *err);

/* Lists the images, sorted by first name (unnamed ones last, by ID). */
int lamina_image_list(struct lamina_store *store, struct lamina_image ***ret, size_t *ret_n, struct lm_error *err);

/* Gives the image ref the name new_name ("NAME[:TAG]"), taking it from any
 * other image that had it. */
int lamina_image_tag(struct lamina_store *store, const char *ref, const char *new_name, struct lm_error *err);

/*
 * Removes an image. Given by a name that is not its last, only that name
 * goes (Docker's untag). Otherwise the image record goes, then each of its
 * layers, top first, that no other image holds, no other layer has as
 * parent (a container layer) and nobody has mounted. *ret_removed (may be
 * NULL) gets the number of layers removed. An image whose top layer is
 * mounted: -EBUSY, nothing removed.
 */
int lamina_image_remove(struct lamina_store *store, const char *ref, size_t *ret_removed, struct lm_error *err);

/*
 * Writes the image ref to fd as an oci-archive (a tar holding oci-layout,
 * index.json and blobs/sha256/...): its layers as lamina_layer_diff writes
 * them, uncompressed (so their digests, and the config's rootfs.diff_ids, describe the
 * tars written, not the blobs imported), a manifest, and an index whose
 * entry carries org.opencontainers.image.ref.name (the image's first name).
 * Layer tars are staged in ROOT/tmp, one at a time.
 */
int lamina_image_export(struct lamina_store *store, const char *ref, int fd, struct lm_error *err);

/*
 * Normalises a name: "NAME" becomes "NAME:latest"; *ret is yours. -EINVAL
 * for an empty name, spaces or control characters, or an empty tag.
 * Thread-safety: safe.
 */
int lamina_image_name_normalize(const char *name, char **ret, struct lm_error *err);

#ifdef __cplusplus
}
#endif
#endif
