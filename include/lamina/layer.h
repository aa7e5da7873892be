/*
 * lamina/layer.h: the graph store: image layers and container layers, their
 * parent chains, mounting a chain as one root file system, and a layer's
 * changes back out as an OCI changeset tar.
 *
 * Modelled on containers/storage's driver interface and Docker's graphdriver
 * calls: Create/CreateReadWrite, Remove, Get/Put (mount/unmount, counted per
 * caller), Exists, Status, GetMetadata, Cleanup, Diff, Changes, ApplyDiff,
 * DiffSize. A layer's files live in ROOT/layers/ID/diff in the kernel
 * overlay's on-disk format (whiteouts are 0/0 character devices, opaque
 * folders carry trusted.overlay.opaque; as non-root, lamina-fuse's ".wh."
 * form and user.overlay.opaque), so a chain mounts with lamina-fuse or with
 * `mount -t overlay` alike.
 *
 * Every function takes an open store (<lamina/store.h>), returns 0 (or the
 * positive value it documents) or a negative errno, filling err with a
 * message naming the layer and the cause. A failing call changes nothing; a
 * process killed halfway leaves nothing that lamina_check() cannot repair.
 * Thread-safety: per-handle, for all of them (one store handle per thread).
 */
#ifndef LAMINA_LAYER_H
#define LAMINA_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lamina/error.h>
#include <lamina/store.h>
#include <lamina/volume.h> /* struct lamina_kv */

#ifdef __cplusplus
extern "C" {
#endif

/* One caller that holds a layer mounted, and how many times. */
struct lamina_layer_user {
	char *id;
	unsigned count;
};

struct lamina_layer {
	char *id;       /* 64 lowercase hex, or the ID given at create */
	char *parent;   /* NULL for a base layer */
	char **names;   /* sorted; unique across layers */
	size_t n_names;
	int64_t created;   /* seconds since the epoch (UTC) */
	bool read_write;   /* a container layer: mounted with its folder as upper */
	char *diff_id;     /* "sha256:<hex>" of the uncompressed tar applied; NULL when none was */
	char *compressed_digest; /* "sha256:<hex>" of the blob as read; NULL when it was not compressed */
	uint64_t compressed_size; /* bytes of the blob as read (0 when none) */
	uint64_t uncompressed_size; /* bytes of the uncompressed tar (0 when none) */
	char *compression;  /* "none", "gzip", "zstd", "xz", "bzip2"; NULL when no tar was applied */
	uint64_t size;      /* bytes of file data its tar brought, recorded when it was applied (0 for a
			    * layer filled through a mount: lamina_layer_diff_size() measures now) */
	unsigned depth;     /* 0 for a base layer, parent's depth + 1 */
	char *diff_dir;     /* absolute: ROOT/layers/ID/diff */
	char *mountpoint;   /* absolute, while mounted; else NULL */
	struct lamina_layer_user *users; /* sorted by id */
	size_t n_users;
};

void lamina_layer_free(struct lamina_layer *layer);
void lamina_layer_list_free(struct lamina_layer **layers, size_t n);

struct lamina_layer_create_opts {
	const char *id;     /* NULL: 64 random hex; else [a-zA-Z0-9][a-zA-Z0-9_.-]* up to 128 */
	const char *parent; /* ID or name of the parent layer; NULL for a base layer */
	const char *const *names; /* names to give it (refused if another layer has one) */
	size_t n_names;
	bool read_write;    /* a container layer */
};

/*
 * Creates an empty layer on top of parent (Docker's Create and
 * CreateReadWrite). *ret (may be NULL) is yours to free. An ID or name in use:
 * -EEXIST; a missing parent: -ENOENT.
 */
int lamina_layer_create(struct lamina_store *store, const struct lamina_layer_create_opts *opts,
			struct lamina_layer **ret, struct lm_error *err);

/*
 * Creates a layer and fills it from the tar read from fd (plain, gzip, zstd,
 * xz, bzip2: detected), in one step: the tar is applied in a staging folder
 * while its DiffID, compressed digest and per-file XXH3-128 hashes are
 * computed in the same pass; the layer appears with one rename and one
 * database commit. OCI whiteouts (.wh.NAME, .wh..wh..opq) become the overlay
 * form. A hostile tar (absolute names, "..", entries under a symlink, hard
 * links out of the layer or to a missing entry, devices when not root, names
 * over NAME_MAX, not a tar, truncated) is refused with -EINVAL and a message
 * naming the entry, and leaves no trace.
 */
int lamina_layer_import(struct lamina_store *store, const struct lamina_layer_create_opts *opts, int fd,
			struct lamina_layer **ret, struct lm_error *err);

/*
 * Fills an existing empty, unmounted layer from a tar (Docker's ApplyDiff
 * after Create): as lamina_layer_import, into a layer that exists. *ret_size
 * (may be NULL) gets the bytes of file data applied. A layer that already
 * has content: -ENOTEMPTY.
 */
int lamina_layer_apply_diff(struct lamina_store *store, const char *id, int fd, uint64_t *ret_size,
			    struct lm_error *err);

/* Describes one layer, by ID or name. -ENOENT when there is none. ret may be
 * NULL (an existence check). */
int lamina_layer_inspect(struct lamina_store *store, const char *id_or_name, struct lamina_layer **ret,
			 struct lm_error *err);

/* Lists the layers, parents before children (safe to remove in reverse). */
int lamina_layer_list(struct lamina_store *store, struct lamina_layer ***ret, size_t *ret_n, struct lm_error *err);

/*
 * Removes a layer and its files. -EBUSY while it is mounted or another layer
 * has it as parent. A crash halfway leaves it marked as being removed: not
 * listed, and finished by the next remove or lamina_check(repair).
 */
int lamina_layer_remove(struct lamina_store *store, const char *id_or_name, struct lm_error *err);

enum lamina_layer_backend {
	LAMINA_BACKEND_FUSE,   /* lamina-fuse: $LAMINA_FUSE, else the one next to the program, else the installed one */
	LAMINA_BACKEND_KERNEL, /* mount -t overlay */
};

struct lamina_layer_mount_opts {
	const char *caller; /* NULL: LAMINA_VOLUME_DEFAULT_CALLER */
	enum lamina_layer_backend backend;
	const char *target; /* NULL: ROOT/layers/ID/merged; else an existing empty folder */
};

/*
 * Mounts the layer's chain as one tree (Docker's Get): the chain's folders as
 * lowers, and for a read-write layer its own folder as upper; counted per
 * caller, mounted at the first use. *ret_path (may be NULL) gets the mount
 * point, yours to free. A second caller asking another backend or target
 * while mounted: -EBUSY.
 */
int lamina_layer_mount(struct lamina_store *store, const char *id_or_name, const struct lamina_layer_mount_opts *opts,
		       char **ret_path, struct lm_error *err);

/* Takes one use away from caller (NULL: the default); unmounts at the last (Docker's Put). */
int lamina_layer_unmount(struct lamina_store *store, const char *id_or_name, const char *caller,
			 struct lm_error *err);

/*
 * Writes the layer's own changes (against its parent) to fd as an OCI
 * changeset tar (Docker's Diff): whiteouts as .wh.NAME, opaque folders with
 * .wh..wh..opq first, hard links as links, in a stable order, so two exports
 * of one layer are byte-identical. Works on a mounted read-write layer too.
 */
int lamina_layer_diff(struct lamina_store *store, const char *id_or_name, int fd, struct lm_error *err);

enum lamina_change_kind { LAMINA_CHANGE_MODIFIED = 0, LAMINA_CHANGE_ADDED = 1, LAMINA_CHANGE_DELETED = 2 };

struct lamina_layer_change {
	char *path; /* absolute in the layer's tree: "/etc/hosts" */
	enum lamina_change_kind kind;
};

/*
 * The layer's changes against its parent chain (Docker's Changes), sorted by
 * path, read from the layer's own folder (cost grows with the change, not
 * the image). Release with lamina_layer_changes_free().
 */
int lamina_layer_changes(struct lamina_store *store, const char *id_or_name, struct lamina_layer_change **ret,
			 size_t *ret_n, struct lm_error *err);
void lamina_layer_changes_free(struct lamina_layer_change *changes, size_t n);

/* Bytes of file data in the layer's own folder (Docker's DiffSize). */
int lamina_layer_diff_size(struct lamina_store *store, const char *id_or_name, uint64_t *ret, struct lm_error *err);

/*
 * Checks the layer's files against the XXH3-128 hashes recorded when its tar
 * was applied: one problem per file changed, missing or added. A layer with
 * no recorded hashes (created empty, read-write) has nothing to check.
 * Release *ret with lamina_check_report_release(). Returns 0 even when
 * problems were found (n_problems says); <0 only when it could not check.
 */
int lamina_layer_verify(struct lamina_store *store, const char *id_or_name, struct lamina_check_report *ret,
			struct lm_error *err);

/*
 * Pairs describing the store (Docker's Status: "Backing Filesystem",
 * "Layers", "Mounted", ...) or one layer (GetMetadata: "DiffDir",
 * "MergedDir", "DiffID", ...). Free with lamina_kv_array_free().
 */
int lamina_layer_status(struct lamina_store *store, struct lamina_kv **ret, size_t *ret_n, struct lm_error *err);
int lamina_layer_metadata(struct lamina_store *store, const char *id_or_name, struct lamina_kv **ret, size_t *ret_n,
			  struct lm_error *err);
void lamina_kv_array_free(struct lamina_kv *kv, size_t n);

/* Unmounts every mounted layer and forgets its users (Docker's Cleanup, at shutdown). */
int lamina_layer_cleanup(struct lamina_store *store, struct lm_error *err);

#ifdef __cplusplus
}
#endif
#endif
