/*
 * tests/lib/ocibuild.h: images built in the test (part of libtesthelp.la):
 * an OCI image layout, an oci-archive, or a docker-archive in either form
 * (legacy <n>/layer.tar, Docker 25+ blobs/sha256 + manifest.json), from
 * layer tars the test made (tarbuild.h), with digests computed here by
 * OpenSSL and JSON written by jansson. Fields let a test break one thing
 * (a DiffID in the config, a layer path in manifest.json) to see it refused.
 * Ends the test (tl_fail) when something cannot be written.
 * Thread-safety: none (one test process, its main thread).
 */
#ifndef LAMINA_TESTS_OCIBUILD_H
#define LAMINA_TESTS_OCIBUILD_H

#include <stddef.h>

struct tl_oci_layer {
	const char *tar;        /* the uncompressed layer tar: its sha256 is the DiffID */
	const char *blob;       /* the blob as stored (gzip or zstd of tar); NULL: tar itself */
	const char *media_type; /* NULL: ...layer.v1.tar, or +gzip when blob is set */
	const char *diff_id;    /* NULL: computed; else written into the config as given */
	const char *path;       /* legacy docker-archive: the Layers entry (NULL: "<i>/layer.tar") */
};

struct tl_oci_image {
	const struct tl_oci_layer *layers;
	size_t n_layers;
	const char *name;     /* ref name / RepoTags entry ("repo:tag"); NULL: none */
	const char *arch;     /* NULL: "amd64" */
	const char *created;  /* NULL: "2026-01-01T00:00:00Z" */
};

enum tl_oci_form {
	TL_OCI_LAYOUT,   /* a folder: oci-layout, index.json, blobs/sha256 */
	TL_OCI_ARCHIVE,  /* the same as a tar file */
	TL_DOCKER_LEGACY, /* a tar: manifest.json, <config hex>.json, <i>/layer.tar, repositories */
	TL_DOCKER_25,    /* a tar: an OCI layout (uncompressed layers) plus manifest.json */
};

/* The digests of what was built ("sha256:<hex>"), per image. */
struct tl_oci_built {
	char config[72];
	char manifest[72];
};

/*
 * Writes the n images at path in form; out (may be NULL) gets n entries.
 * Several images make one index with several manifests (or one
 * manifest.json array).
 */
void tl_oci_build(const char *path, enum tl_oci_form form, const struct tl_oci_image *images, size_t n,
		  struct tl_oci_built *out);

/* "sha256:<hex>" of the file at path, in out. */
void tl_sha256_file(const char *path, char out[72]);

#endif
