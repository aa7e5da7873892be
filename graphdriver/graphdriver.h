/*
 * graphdriver/graphdriver.h: the inside of the graph store, grouped by the
 * file that owns each part (as overlayfs.h). The public API is
 * <lamina/layer.h>; docs/graphdriver.md describes the storage, the
 * crash-safe order of every operation, mounting and check. The layer-folder
 * work without the database (applying and writing tars, changes, sizes,
 * verify) is graphdriver/layerfs.h's.
 *
 * Storage: a row in the layers table (common/db.c, migration 2) with its
 * names, users, mount and file hashes in their own tables, and the folder
 * ROOT/layers/ID/{diff,work,merged,empty}. A row's state is 'ready',
 * 'creating' (apply_diff is filling the diff of a layer that exists; the
 * filler holds flock on layers/ID) or 'removing' (a removal began; never
 * listed, finished by the next remove or check --repair).
 *
 * Thread-safety: per-handle, as the public API.
 */
#ifndef LAMINA_GRAPHDRIVER_GRAPHDRIVER_H
#define LAMINA_GRAPHDRIVER_GRAPHDRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <lamina/layer.h>

#include "common/stage.h"
#include "graphdriver/layerfs.h"

/* The folders of a layer folder, as created (diff first). */
#define GD_DIFF "diff"
#define GD_WORK "work"
#define GD_MERGED "merged"
#define GD_EMPTY "empty" /* an empty lower: overlay refuses one lower without an upper */

#define GD_ID_MAX 128

/* --------------------------------------------------------------- id.c */

/* 0 when id is a usable layer ID ([a-zA-Z0-9][a-zA-Z0-9_.-]*, up to
 * GD_ID_MAX), else -EINVAL with err filled. */
int gd_id_check(const char *id, struct lm_error *err);
/* 0 when name is a usable layer name or caller ID (what says which: 1 to 255
 * bytes, no control characters, no space), else -EINVAL. */
int gd_label_check(const char *what, const char *s, struct lm_error *err);
/* A fresh ID: 64 lowercase hex digits in buf. */
int gd_id_random(char buf[65], struct lm_error *err);
/* "layers/ID" (sub NULL) or "layers/ID/SUB" below the root, in *ret (yours). */
int gd_rel(const char *id, const char *sub, char **ret);
/* The absolute path of the same. */
int gd_path(struct lamina_store *store, const char *id, const char *sub, char **ret);
/* Frees n strings and the array. */
void gd_strv_free(char **v, size_t n);

/* ------------------------------------------------------------- rows.c */

enum gd_state { GD_ABSENT, GD_CREATING, GD_READY, GD_REMOVING };

/* A new layer's row. */
struct gd_row {
	const char *id;
	const char *parent; /* an ID, or NULL */
	const char *const *names;
	size_t n_names;
	bool read_write;
	int64_t created;
};

int gd_row_state(struct lamina_store *store, const char *id, enum gd_state *ret, struct lm_error *err);
/* The ID of the ready or creating layer whose ID, else whose name, is
 * id_or_name, in *ret (yours). -ENOENT with a message when none. */
int gd_resolve(struct lamina_store *store, const char *id_or_name, char **ret, struct lm_error *err);
/* -EEXIST naming the layer when s is the ID or a name of any layer. */
int gd_taken_check(struct lamina_store *store, const char *s, bool as_name, struct lm_error *err);
/* Inserts the row (ready) and its names. */
int gd_row_insert(struct lamina_store *store, const struct gd_row *row, struct lm_error *err);
int gd_row_set_state(struct lamina_store *store, const char *id, enum gd_state state, struct lm_error *err);
/* Records what applying a tar gave (digests, sizes, file hashes); with
 * res NULL, forgets it all (the layer is empty again). */
int gd_row_set_content(struct lamina_store *store, const char *id, const struct gd_apply_result *res,
		       struct lm_error *err);
/* Deletes the row and, by the foreign keys, its names, users, mount, files. */
int gd_row_delete(struct lamina_store *store, const char *id, struct lm_error *err);
/* Deletes the names of id (a layer being removed frees them at once). */
int gd_row_drop_names(struct lamina_store *store, const char *id, struct lm_error *err);
/* The IDs of the layers whose parent is id, in state (GD_ABSENT: any). */
/* The images (images/, schema 3) that list layer id, by their first name
 * (or their ID when they have none), sorted. */
int gd_row_images(struct lamina_store *store, const char *id, char ***ret, size_t *ret_n, struct lm_error *err);
int gd_row_children(struct lamina_store *store, const char *id, enum gd_state state, char ***ret, size_t *ret_n,
		    struct lm_error *err);
/* Loads the layer id (ready or creating) with everything the public struct
 * holds. -ENOENT when absent. */
int gd_row_load(struct lamina_store *store, const char *id, struct lamina_layer **ret, struct lm_error *err);
/* Every ready layer, parents before children. */
int gd_row_load_all(struct lamina_store *store, struct lamina_layer ***ret, size_t *ret_n, struct lm_error *err);
/* The IDs of the rows in state (GD_ABSENT: all), sorted. */
int gd_row_ids(struct lamina_store *store, enum gd_state state, char ***ret, size_t *ret_n, struct lm_error *err);
/* The chain of id: id, its parent, ..., the base layer. */
int gd_row_chain(struct lamina_store *store, const char *id, char ***ret, size_t *ret_n, struct lm_error *err);
/* The hashes recorded for id, sorted by path (release with gd_hashes_free). */
int gd_row_files(struct lamina_store *store, const char *id, struct gd_file_hash **ret, size_t *ret_n,
		 struct lm_error *err);
void gd_hashes_free(struct gd_file_hash *h, size_t n);

/* ------------------------------------------------------------ users.c */

/* A layer's mount, as its row in layer_mounts says. */
struct gd_mount {
	enum lamina_layer_backend backend;
	char *mountpoint;
	pid_t pid; /* the lamina-fuse daemon, 0 when none or unknown */
};
void gd_mount_release(struct gd_mount *m);

/* The mount row of id: 1 and *ret filled, or 0 when there is none. */
int gd_mount_row(struct lamina_store *store, const char *id, struct gd_mount *ret, struct lm_error *err);
int gd_mount_row_insert(struct lamina_store *store, const char *id, const struct gd_mount *m, struct lm_error *err);
int gd_mount_row_delete(struct lamina_store *store, const char *id, struct lm_error *err);
/* "fuse" or "kernel". */
const char *gd_backend_name(enum lamina_layer_backend b);

/* How many times caller holds id (0: not at all), and all callers' count. */
int gd_users_count(struct lamina_store *store, const char *id, const char *caller, unsigned *ret,
		   struct lm_error *err);
int gd_users_total(struct lamina_store *store, const char *id, size_t *ret, struct lm_error *err);
int gd_users_add(struct lamina_store *store, const char *id, const char *caller, struct lm_error *err);
/* Takes one use of caller away (count is what it had). */
int gd_users_drop(struct lamina_store *store, const char *id, const char *caller, unsigned count,
		  struct lm_error *err);
int gd_users_forget(struct lamina_store *store, const char *id, struct lm_error *err);

/* ---------------------------------------------------------- backend.c */

/* What to mount: lowers top first, and for a read-write layer upper and work. */
struct gd_union {
	char **lowers;
	size_t n_lowers;
	char *upper, *work; /* NULL: read-only */
};
void gd_union_release(struct gd_union *u);

/* The union of layer id's chain (see lamina_layer_mount). */
int gd_union_of(struct lamina_store *store, const struct lamina_layer *layer, struct gd_union *ret,
		struct lm_error *err);
/* Mounts u at target with backend; for FUSE, *ret_pid gets the daemon's pid
 * (0 when it cannot be found). what names the layer in messages. */
int gd_backend_mount(enum lamina_layer_backend backend, const struct gd_union *u, const char *target,
		     pid_t *ret_pid, const char *what, struct lm_error *err);
/* Unmounts target (detaching a busy mount when detach) and, when pid is a
 * lamina-fuse daemon serving it, waits for it to exit. Not mounted: 0. */
int gd_backend_umount(const char *target, pid_t pid, bool detach, const char *what, struct lm_error *err);
/* Whether target (canonical) is a mount point now. */
int gd_is_mounted(const char *target, bool *ret, struct lm_error *err);
/* The lamina-fuse program, into buf: $LAMINA_FUSE, else the one next to
 * the running program, else the one installed in LAMINA_BINDIR. */
void gd_fuse_program(char *buf, size_t size);

/* ------------------------------------------------------------ mount.c */

/* Mounts the layer again as its mount row says (check's repair). */
int gd_remount(struct lamina_store *store, const char *id, struct lm_error *err);
/* Unmounts the layer's mount (as its row says, else its merged folder) and
 * deletes the mount row and the users, in the caller's transaction. */
int gd_unmount_all_locked(struct lamina_store *store, const char *id, struct lm_error *err);

/* ------------------------------------------------------------ layer.c */

/* Checks create opts: *id_buf gets the ID to use (given or random). */
int gd_opts_check(const struct lamina_layer_create_opts *opts, char id_buf[GD_ID_MAX + 1], struct lm_error *err);
/*
 * Makes the staged layer folder st (with diff/ filled or empty) the layer
 * row describes, in one transaction: the ID and names are free, the parent
 * exists, st becomes layers/ID, the row (and res's content, may be NULL) is
 * inserted, commit. The caller ends st with lm_stage_remove() either way:
 * after a failure it still holds the staged folder, after success only the
 * lock on layers/ID.
 */
int gd_layer_add(struct lamina_store *store, struct gd_row *row, const char *parent, struct lm_stage *st,
		 const struct gd_apply_result *res, const char *crash_tag, struct lm_error *err);
/* Makes diff, work, merged and empty in the staging folder st. */
int gd_stage_skeleton(struct lm_stage *st, bool with_diff, const char *id, struct lm_error *err);
/* 1 when the folder dirfd is empty, 0 when not, or -errno. */
int gd_dir_empty(int dirfd);
/* Opens layers/ID/SUB (a folder) with O_RDONLY|O_DIRECTORY. */
int gd_open_dir(struct lamina_store *store, const char *id, const char *sub, struct lm_error *err);

/* ----------------------------------------------------------- remove.c */

/* Inside the caller's write transaction: unmounts what is mounted on the
 * layer's merged folder, moves layers/ID into tmp/ as *garbage and deletes
 * the row. The caller commits, then removes *garbage. */
int gd_retire_locked(struct lamina_store *store, const char *id, struct lm_stage *garbage, struct lm_error *err);
/* The whole removal (see lamina_layer_remove) of the layer id. */
int gd_remove(struct lamina_store *store, const char *id, struct lm_error *err);

/* ----------------------------------------------------------- import.c */

/* The gd_apply options for this process (root: kernel markers, owners, devices). */
void gd_apply_opts_init(struct gd_apply_opts *o, const char *what);
/* In the caller's transaction: empties the diff of a layer whose apply_diff
 * was interrupted, forgets its content and makes it 'ready' again. */
int gd_apply_reset_locked(struct lamina_store *store, const char *id, struct lm_error *err);

/* ------------------------------------------------------------ check.c */

/* The graph store's part of lamina_check(). */
int gd_check(struct lamina_store *store, bool repair, struct lamina_check_report *report, struct lm_error *err);

#endif
