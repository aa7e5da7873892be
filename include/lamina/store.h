/*
 * lamina/store.h: an open lamina root: the folder that holds volumes, layers
 * and images, and its one sqlite database (ROOT/lamina.db).
 *
 * Every lamina process (the `lamina` command, laminad, a runtime linking
 * liblamina) that opens the same root shares the same state: the database
 * serialises their changes, so two processes may work on one root at once.
 *
 * Layout under ROOT (created by lamina_store_open):
 *   lamina.db            the database (WAL mode; lamina.db-wal, lamina.db-shm)
 *   volumes/NAME/_data   a volume's data (or its mount point)
 *   layers/, images/     the graph store
 *   tmp/                 staging folders; anything here is garbage after a crash
 */
#ifndef LAMINA_STORE_H
#define LAMINA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lamina/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open root. Opaque. */
struct lamina_store;

/* The default root when neither --root nor $LAMINA_ROOT names one. */
#define LAMINA_DEFAULT_ROOT "/var/lib/lamina"

/*
 * Opens root (NULL: $LAMINA_ROOT, else LAMINA_DEFAULT_ROOT), creating the
 * folder, its layout and the database when missing, and bringing the
 * database's schema up to date. On success *ret is yours, to give to
 * lamina_store_close().
 * Errors: -ENOTDIR, -EACCES... from the folder; -EIO for a damaged database;
 * -EPROTO for a database written by a newer lamina.
 * Thread-safety: safe (each call makes a new handle).
 */
int lamina_store_open(const char *root, struct lamina_store **ret, struct lm_error *err);

/*
 * Closes the database and frees the handle. Takes NULL. Returns NULL.
 * Thread-safety: per-handle.
 */
struct lamina_store *lamina_store_close(struct lamina_store *store);

/* The absolute path of the store's root folder, owned by the handle. */
const char *lamina_store_root(const struct lamina_store *store);

/*
 * What `lamina check` found, one line per disagreement between the database
 * and the folders and mounts ("volume 'x': folder missing", ...), each with
 * whether --repair fixed it.
 */
struct lamina_check_problem {
	char *what;    /* one line, object first */
	bool repaired; /* true when repair was asked for and succeeded */
};

struct lamina_check_report {
	struct lamina_check_problem *problems;
	size_t n_problems;
};

/*
 * Compares the database with the folders and mounts under the root: rows
 * whose folder is missing, folders with no row, volumes left half-created or
 * half-removed by a crash, mounts nobody holds, holders of a volume that is
 * not mounted, staging leftovers in tmp/. With repair, fixes each one the
 * safe way (finishes a removal, drops a half-created volume, unmounts a mount
 * nobody holds, removes staging leftovers) and never deletes a folder that
 * holds data unless its database row says it is being removed.
 * *ret is filled even when nothing is wrong (n_problems == 0); release it with
 * lamina_check_report_release(). Returns 0, or a negative errno when the check
 * itself could not run.
 * Thread-safety: per-handle.
 */
int lamina_check(struct lamina_store *store, bool repair, struct lamina_check_report *ret, struct lm_error *err);

/* Frees what a report holds and zeroes it. Takes a zeroed report. */
void lamina_check_report_release(struct lamina_check_report *report);

#ifdef __cplusplus
}
#endif
#endif
