/*
 * graphdriver/layerfs.h: a layer's folder and OCI changeset tars, without
 * the database: applying a tar into a folder in the overlay on-disk format
 * (with its digests and per-file hashes in the same pass), writing a
 * folder's changes back out as a tar, listing changes, sizing, verifying.
 * The store (layers' rows, chains, mounts) is built on these.
 */
#ifndef LAMINA_GRAPHDRIVER_LAYERFS_H
#define LAMINA_GRAPHDRIVER_LAYERFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lamina/error.h>
#include <lamina/layer.h>

/* How whiteouts and opaque markers are written into a layer folder. */
enum gd_marker_form {
	GD_MARKERS_KERNEL, /* 0/0 char device, trusted.overlay.opaque=y (root) */
	GD_MARKERS_WH,     /* .wh.NAME files, user.overlay.opaque=y (rootless lamina-fuse) */
};

struct gd_apply_opts {
	const char *what;          /* names the layer in messages: "layer 'ID'" */
	enum gd_marker_form markers;
	bool keep_owner;           /* owners, setuid bits, security.capability as in the tar (root) */
	bool allow_devices;        /* device nodes (root) */
};

/* A file's content hash, recorded at apply time for verify. */
struct gd_file_hash {
	char *path;      /* relative to the layer folder: "usr/bin/sh" */
	char xxh3[33];   /* XXH3-128, 32 lowercase hex */
	uint64_t size;
};

struct gd_apply_result {
	char diff_id[72];           /* "sha256:" + 64 hex, of the uncompressed tar */
	char compressed_digest[72]; /* of the bytes read; "" when the input was not compressed */
	const char *compression;    /* static: "none", "gzip", "zstd", "xz", "bzip2", ... */
	uint64_t compressed_size;   /* bytes read from fd */
	uint64_t uncompressed_size; /* bytes of the tar stream */
	uint64_t size;              /* bytes of file data written */
	struct gd_file_hash *hashes; /* every regular file, sorted by path */
	size_t n_hashes;
};

/*
 * Applies the tar read from fd_in into dirfd (an empty staging folder the
 * caller owns, usually a layer's diff/): the entries, with OCI whiteouts
 * (.wh.NAME) and opaque markers (.wh..wh..opq, applied before the folder's
 * other entries whatever their order) turned into the markers' form; a
 * whiteout marker keeps the .wh. entry's owner, mode and mtime (so export
 * gives it back). Other ".wh..wh.*" entries (AUFS metadata) are skipped.
 * The tar's own trusted.overlay.* and user.overlay.* xattrs are dropped
 * (markers come from .wh. entries only). A whiteout hides the lower layers
 * only (OCI: "an entry added in the same layer can only be hidden by a
 * later layer"): when the layer also has NAME, before or after .wh.NAME,
 * NAME stays, no marker is left, and a folder NAME becomes opaque.
 * Refuses hostile entries as lm_tar_extract does (-EINVAL, the message
 * names the entry), and a bare ".wh.", a whiteout of "." or "..", an entry
 * below a folder named ".wh.*". Digests cover the whole input (the tar's
 * end padding too), as sha256sum gives them; the hashes are XXH3-128 of
 * each regular file's content (holes as zeros; hard links share their
 * target's). Fills *ret (release with gd_apply_result_release) only on
 * success; on failure the caller removes dirfd's content.
 * Thread-safety: safe (switches the calling thread's locale for the call).
 */
int gd_apply(int fd_in, int dirfd, const struct gd_apply_opts *opts, struct gd_apply_result *ret,
	     struct lm_error *err);
void gd_apply_result_release(struct gd_apply_result *res);

/*
 * Writes the folder's changes as an OCI changeset tar to fd_out (pax, padded
 * as lm_tar_write_tree pads): whiteout markers (either form) become empty
 * .wh.NAME entries with the marker's owner, mode bits and mtime, after the
 * folder's other entries, sorted; an opaque folder (either xattr, or a
 * .wh..wh..opq file) gets a .wh..wh..opq entry right after the folder's own
 * entry; overlay private xattrs (trusted.overlay.*, user.overlay.*) are left
 * out, others kept. Stable order (sorted per folder, numeric owners, no
 * atime/ctime): the same folder gives the same bytes, and a folder in the
 * kernel form the same bytes as in the .wh. form. Only dirfd is read.
 * Thread-safety: safe.
 */
int gd_export(int dirfd, int fd_out, const char *what, struct lm_error *err);

/*
 * The folder's changes: whiteouts are "deleted" (and an opaque folder's
 * hidden lower children too), other entries "added" when no lower folder has
 * the path, "modified" when one has it. Sorted by path. Folders that only
 * exist to hold a change and are unchanged themselves (same type, mode,
 * owner, mtime as the lower's) are not listed, as Docker's overlay2 driver
 * does not list them. Release with lamina_layer_changes_free() (defined in
 * graphdriver/changes.c). Thread-safety: safe.
 */
int gd_changes(int dirfd, const int *lower_dirfds, size_t n_lowers, struct lamina_layer_change **ret,
	       size_t *ret_n, struct lm_error *err);

/* Bytes of file data beneath dirfd (st_blocks-free: st_size of regular files,
 * each hard-linked inode once). */
int gd_diff_size(int dirfd, uint64_t *ret, struct lm_error *err);

/*
 * Compares the files beneath dirfd with hashes (sorted by path): one problem
 * in *ret per file whose content changed, that is missing, or that is new
 * ("WHAT: '/PATH': content changed since import", "...: missing: ...",
 * "...: added: ..."). Markers (.wh. files) are not files. Returns 0 with
 * *ret filled (release with lamina_check_report_release) even when there
 * are problems; <0 only when it could not check. Thread-safety: safe.
 */
int gd_verify(int dirfd, const struct gd_file_hash *hashes, size_t n, const char *what,
	      struct lamina_check_report *ret, struct lm_error *err);

#endif
