/*
 * volumes/volumes.h: the inside of the volume manager, grouped by the file
 * that owns each part (as overlayfs.h). The public API is
 * <lamina/volume.h>; docs/volumes.md describes the storage and the
 * crash-safe order of every operation.
 *
 * Storage: a row in the volumes table (common/db.c, migration 1) with its
 * options, labels and users in their own tables, and the folder
 * ROOT/volumes/NAME/_data. A row's state is 'ready' (usable), 'creating' (an
 * import or clone is filling it; its maker holds flock on volumes/NAME) or
 * 'removing' (a removal began; never listed, finished by the next remove or
 * check --repair).
 *
 * Thread-safety: per-handle, as the public API.
 */
#ifndef LAMINA_VOLUMES_VOLUMES_H
#define LAMINA_VOLUMES_VOLUMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lamina/volume.h>

#include "common/stage.h"

struct libmnt_table;

/* ------------------------------------------------------------- name.c */

/* A fresh anonymous name: 64 lowercase hex digits in buf. 0 or -errno. */
int vol_name_anonymous(char buf[65], struct lm_error *err);

/* 0 when caller is a usable caller ID (1 to 255 printable bytes), else
 * -EINVAL with err filled. */
int vol_caller_check(const char *volume, const char *caller, struct lm_error *err);

/* "volumes/NAME" or "volumes/NAME/_data" below the root, in *ret (yours). */
int vol_rel_dir(const char *name, char **ret);
int vol_rel_data(const char *name, char **ret);

/* ---------------------------------------------------------- options.c */

/* What a volume's options mean for mount(2). */
struct vol_spec {
	const char *type;    /* NULL: a plain folder, never mounted */
	const char *device;  /* the source (tmpfs defaults to "tmpfs") */
	bool bind;           /* o has bind or rbind */
	unsigned long flags; /* MS_* from o, as mount(8) reads them */
	char *data;          /* the file-system options of o (+ size= for tmpfs) */
};

/*
 * Copies n key/value pairs sorted by key, a repeated key keeping its last
 * value (a map, as Docker's --opt and --label), into *ret (yours,
 * vol_kv_free). what names them in errors ("option", "label"); an empty key
 * is -EINVAL.
 */
int vol_kv_normalize(const char *volume, const char *what, const struct lamina_kv *in, size_t n,
		     struct lamina_kv **ret, size_t *ret_n, struct lm_error *err);
void vol_kv_free(struct lamina_kv *kv, size_t n);
/* Whether two sorted arrays hold the same pairs. */
bool vol_kv_equal(const struct lamina_kv *a, size_t na, const struct lamina_kv *b, size_t nb);
/* The value of key in kv, or NULL. */
const char *vol_kv_get(const struct lamina_kv *kv, size_t n, const char *key);

/*
 * Checks the driver options of volume as Docker's local driver does and
 * says what they mean for mount(2) in *ret (release with vol_spec_release;
 * it points into opts, which must outlive it). -EINVAL (unknown key, a key
 * missing its partner, o that cannot be parsed), -ENOENT/-ENOTDIR (a bind
 * device that is not a folder), -EOPNOTSUPP (size on a plain folder).
 */
int vol_spec_parse(const char *volume, const struct lamina_kv *opts, size_t n, struct vol_spec *ret,
		   struct lm_error *err);
void vol_spec_release(struct vol_spec *spec);

/* ------------------------------------------------------------- rows.c */

enum vol_state { VOL_ABSENT, VOL_CREATING, VOL_READY, VOL_REMOVING };

/* The state of name's row (VOL_ABSENT when there is none). */
int vol_row_state(struct lamina_store *store, const char *name, enum vol_state *ret, struct lm_error *err);

/* Inserts the row of v (and its options and labels) in state. */
int vol_row_insert(struct lamina_store *store, const struct lamina_volume *v, enum vol_state state,
		   struct lm_error *err);
int vol_row_set_state(struct lamina_store *store, const char *name, enum vol_state state, struct lm_error *err);
/* Deletes the row and, by the foreign keys, its options, labels and users. */
int vol_row_delete(struct lamina_store *store, const char *name, struct lm_error *err);

/* The number of callers holding name. */
int vol_row_n_users(struct lamina_store *store, const char *name, size_t *ret, struct lm_error *err);

/* Loads the ready volume name with everything the public struct holds
 * (mounted included). -ENOENT when there is no ready volume of that name. */
int vol_row_load(struct lamina_store *store, const char *name, struct lamina_volume **ret, struct lm_error *err);

/* Loads every ready volume, sorted by name. */
int vol_row_load_all(struct lamina_store *store, struct lamina_volume ***ret, size_t *ret_n, struct lm_error *err);

/* The names of the rows in state, sorted (for check). Free with vol_names_free. */
int vol_row_names(struct lamina_store *store, enum vol_state state, char ***ret, size_t *ret_n,
		  struct lm_error *err);
void vol_names_free(char **names, size_t n);

/* ------------------------------------------------------------ mount.c */

/* /proc/self/mountinfo, parsed (mnt_unref_table when done). */
int vol_mountinfo(struct libmnt_table **ret, struct lm_error *err);
/* Whether path (canonical, absolute) is a mount point in tb. */
bool vol_mounted_in(struct libmnt_table *tb, const char *path);
/* The same, reading mountinfo now. */
int vol_is_mounted(const char *path, bool *ret, struct lm_error *err);

/* mount(2) of spec on path (absolute), bind and remount as mount(8) does. */
int vol_mount_spec(const char *volume, const char *path, const struct vol_spec *spec, struct lm_error *err);
/* umount2 of path; with detach, a busy mount is detached (MNT_DETACH). */
int vol_umount(const char *volume, const char *path, bool detach, struct lm_error *err);
/* A transient hold (export, import, clone: a use of the volume that is not
 * a counted user): flock(LOCK_SH) on volumes/NAME. Returns the fd holding
 * it, or -errno. */
int vol_hold_lock(struct lamina_store *store, const char *name, struct lm_error *err);
/* Whether some open file (another process, or this one) holds one. */
bool vol_hold_others(struct lamina_store *store, const char *name);
/* Whether spec's mount must be detached to go: an rbind carries the mounts
 * below its device, which make a plain umount EBUSY. */
bool vol_spec_needs_detach(const struct vol_spec *spec);

/* ----------------------------------------------------------- volume.c */

/* A new volume's description, checked and normalized. */
struct vol_new {
	const char *name;
	bool anonymous;
	struct lamina_kv *options;
	size_t n_options;
	struct lamina_kv *labels;
	size_t n_labels;
	enum vol_state state; /* VOL_READY, or VOL_CREATING for import and clone */
};

/*
 * Creates the volume of nv inside the caller's open write transaction:
 * returns 0 when it made one, 1 when a ready volume of that name has the
 * same options (*ret_existing, may be NULL, gets it), -EEXIST otherwise.
 * What an earlier crash or removal left under that name goes to *garbage
 * (remove it after the commit with lm_stage_remove). For VOL_CREATING, *lock
 * keeps volumes/NAME locked until the maker is done (lm_stage_release).
 */
int vol_create_locked(struct lamina_store *store, const struct vol_new *nv, struct lamina_volume **ret_existing,
		      struct lm_stage *lock, struct lm_stage *garbage, struct lm_error *err);


/* Whether volumes/NAME holds anything besides an empty _data folder
 * (anything that is not a folder counts as data). -ENOENT when absent. */
int vol_folder_holds_data(struct lamina_store *store, const char *name, bool *ret);

/* -EBUSY when volumes/NAME of a 'creating' row is locked by its living
 * maker, 0 when the maker is gone (a crash's leftover). */
int vol_creating_check(struct lamina_store *store, const char *name, struct lm_error *err);

/* ----------------------------------------------------------- remove.c */

/*
 * Inside the caller's write transaction: unmounts name's data (detaching a
 * busy mount), moves volumes/NAME into tmp/ as *garbage and deletes the row.
 * The caller commits, then removes *garbage.
 */
int vol_retire_locked(struct lamina_store *store, const char *name, struct lm_stage *garbage,
		      struct lm_error *err);

/* The whole removal (see lamina_volume_remove); *ret_freed (may be NULL)
 * gets the bytes freed. */
int vol_remove(struct lamina_store *store, const char *name, bool force, uint64_t *ret_freed,
	       struct lm_error *err);

/* ----------------------------------------------------------- filter.c */

enum vol_filter_kind { VF_DANGLING, VF_NAME, VF_DRIVER, VF_LABEL, VF_NOT_LABEL };

struct vol_filter {
	enum vol_filter_kind kind;
	char *key;   /* label key, name substring, driver; owned */
	char *value; /* label value, NULL for "key only"; owned */
	bool dangling;
};

struct vol_filters {
	struct vol_filter *f;
	size_t n;
};

/* Parses Docker filter strings; kinds outside allowed (a mask of 1 << kind)
 * are -EINVAL naming the filter. Release with vol_filters_release. */
int vol_filters_parse(const char *const *in, size_t n, unsigned allowed, struct vol_filters *ret,
		      struct lm_error *err);
void vol_filters_release(struct vol_filters *f);
/* Whether v passes: name and driver filters are alternatives (one of each
 * kind must match), every dangling and label filter must hold. */
bool vol_filters_match(const struct vol_filters *f, const struct lamina_volume *v);

/* ------------------------------------------------------------ check.c */

/* The volume part of lamina_check(). */
int vol_check(struct lamina_store *store, bool repair, struct lamina_check_report *report, struct lm_error *err);

#endif
