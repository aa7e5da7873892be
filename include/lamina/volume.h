/*
 * lamina/volume.h: named volumes, as Docker's local volume driver and podman
 * keep them: a plain folder, a bind of a host folder, a tmpfs, or any kernel
 * file system mounted with mount(2) from a device and options.
 *
 * A volume's data lives in ROOT/volumes/NAME/_data; for the types that mount
 * (tmpfs, bind, others), that folder is the mount point, mounted at the first
 * lamina_volume_mount() and unmounted at the last lamina_volume_unmount().
 * Users are counted per caller ID in the database, so the counts survive a
 * restart of the program and are shared by every process using the root.
 *
 * Every function here takes an open store (<lamina/store.h>), returns 0 (or
 * the positive value it documents) on success and a negative errno on
 * failure, filling err with a message that names the volume and the cause
 * ("volume 'x': in use by 2 callers"). A failing call changes nothing.
 * Thread-safety: per-handle, for all of them: serialise calls on one store
 * handle; use one handle per thread. Different handles, in one process or
 * many, may work on the same root at once.
 */
#ifndef LAMINA_VOLUME_H
#define LAMINA_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lamina/error.h>
#include <lamina/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A key and a value: a label or a driver option. */
struct lamina_kv {
	char *key;
	char *value;
};

/* One caller that holds a volume mounted, and how many times. */
struct lamina_volume_user {
	char *id;
	unsigned count;
};

/* A volume as lamina_volume_inspect() and _list() describe it. */
struct lamina_volume {
	char *name;
	char *driver;      /* "local" */
	char *mountpoint;  /* absolute: ROOT/volumes/NAME/_data */
	int64_t created;   /* seconds since the epoch (UTC) */
	bool anonymous;    /* created without a name */
	struct lamina_kv *labels; /* sorted by key */
	size_t n_labels;
	struct lamina_kv *options; /* type, device, o, size: as given at create */
	size_t n_options;
	struct lamina_volume_user *users; /* sorted by id; empty when unused */
	size_t n_users;
	bool mounted; /* a tmpfs, bind or other mount is in place now */
};

/* Frees a volume and all it holds. Takes NULL. */
void lamina_volume_free(struct lamina_volume *volume);

/* Frees an array of n volumes from lamina_volume_list(). Takes NULL. */
void lamina_volume_list_free(struct lamina_volume **volumes, size_t n);

/* Names: Docker's rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most this long. */
#define LAMINA_VOLUME_NAME_MAX 255

/*
 * 0 when name is a valid volume name, else -EINVAL with a message saying why.
 * Thread-safety: safe.
 */
int lamina_volume_name_check(const char *name, struct lm_error *err);

struct lamina_volume_create_opts {
	const char *name;   /* NULL: anonymous, a random 64-hex name */
	const char *driver; /* NULL or "local" */
	/* Docker's local driver options: type, device, o, size. "type" and
	 * "device" need each other, except type=tmpfs (device defaults to
	 * "tmpfs"); a bind (type=none, o=bind) needs an existing device folder.
	 * Any other key is refused by name. */
	const struct lamina_kv *options;
	size_t n_options;
	const struct lamina_kv *labels;
	size_t n_labels;
};

/*
 * Creates a volume. Returns 0 when it made one, 1 when a volume of that name
 * already existed with the same driver and options (as Docker, that one is
 * the answer); in both cases *ret (may be NULL) is yours to free with
 * lamina_volume_free(). A name in use with other options: -EEXIST. Names and
 * options are checked before anything is written.
 */
int lamina_volume_create(struct lamina_store *store, const struct lamina_volume_create_opts *opts,
			 struct lamina_volume **ret, struct lm_error *err);

/*
 * Describes one volume (ret may be NULL: an existence check). -ENOENT when
 * there is none of that name (or it is half-created or being removed).
 */
int lamina_volume_inspect(struct lamina_store *store, const char *name, struct lamina_volume **ret,
			  struct lm_error *err);

/*
 * Lists the usable volumes, sorted by name, that pass every filter. Filters
 * are strings as Docker's --filter takes them: "dangling=true|false",
 * "name=SUBSTRING", "driver=local", "label=KEY", "label=KEY=VALUE",
 * "label!=KEY", "label!=KEY=VALUE"; several label filters all apply. An
 * unknown filter is -EINVAL naming it. *ret is an array of *ret_n volumes,
 * yours to free with lamina_volume_list_free().
 */
int lamina_volume_list(struct lamina_store *store, const char *const *filters, size_t n_filters,
		       struct lamina_volume ***ret, size_t *ret_n, struct lm_error *err);

/*
 * Removes a volume and its data. A volume with users is -EBUSY unless force,
 * which unmounts it and forgets its users. A crash halfway leaves the volume
 * marked as being removed: no command lists it, and the next remove or
 * lamina_check(repair) finishes the job.
 */
int lamina_volume_remove(struct lamina_store *store, const char *name, bool force, struct lm_error *err);

struct lamina_volume_prune_result {
	char **names;    /* the volumes removed, sorted */
	size_t n_names;
	uint64_t reclaimed; /* bytes of data freed */
};

/*
 * Removes unused volumes, as Docker 23+: only anonymous ones, every unused
 * one with all. filters: "label=...", "label!=..." as for _list(). Release
 * *ret with lamina_volume_prune_result_release().
 */
int lamina_volume_prune(struct lamina_store *store, bool all, const char *const *filters, size_t n_filters,
			struct lamina_volume_prune_result *ret, struct lm_error *err);

/* Frees what a prune result holds and zeroes it. */
void lamina_volume_prune_result_release(struct lamina_volume_prune_result *result);

/* The caller ID used when a caller gives none (the `lamina` command). */
#define LAMINA_VOLUME_DEFAULT_CALLER "lamina-cli"

/*
 * Counts caller (NULL: LAMINA_VOLUME_DEFAULT_CALLER) as a user of the volume,
 * mounting it first when it is of a type that mounts and is not mounted.
 * *ret_path (may be NULL) gets the data folder's absolute path, yours to
 * free. A caller that mounts twice holds the volume until it unmounts twice.
 */
int lamina_volume_mount(struct lamina_store *store, const char *name, const char *caller, char **ret_path,
			struct lm_error *err);

/*
 * Takes one use away from caller; at the volume's last use, unmounts it.
 * -EINVAL when caller does not hold the volume.
 */
int lamina_volume_unmount(struct lamina_store *store, const char *name, const char *caller, struct lm_error *err);

/*
 * Writes the volume's content to fd as a POSIX (pax) tar: owners, modes,
 * times, xattrs, hard links, symlinks, devices and fifos. Volumes of a type
 * that mounts are mounted for the time of the export.
 */
int lamina_volume_export(struct lamina_store *store, const char *name, int fd, struct lm_error *err);

/*
 * Fills a volume from a tar read from fd (plain, gzip, zstd, xz: detected).
 * The volume must be empty; a missing one is created with default options.
 * Entries that would write outside the volume (absolute names, "..", a
 * symlink as a parent, hard links to outside) are refused with an error
 * naming the entry, and the volume stays as it was: the tar goes to a staging
 * folder first.
 */
int lamina_volume_import(struct lamina_store *store, const char *name, int fd, struct lm_error *err);

/*
 * Creates volume dst (a plain local volume with src's labels) holding a copy
 * of src's content, sharing the data blocks (reflink) where the file system
 * can, copying them where it cannot. dst must not exist.
 */
int lamina_volume_clone(struct lamina_store *store, const char *src, const char *dst, struct lm_error *err);

#ifdef __cplusplus
}
#endif
#endif
