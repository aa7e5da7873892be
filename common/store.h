/*
 * common/store.h: the inside of struct lamina_store (<lamina/store.h>), for
 * the modules that keep their state under a root (volumes/, later
 * graphdriver/). Programs and other runtimes see the opaque type only.
 */
#ifndef LAMINA_COMMON_STORE_H
#define LAMINA_COMMON_STORE_H

#include <sqlite3.h>

#include <lamina/store.h>

/* The folders lamina_store_open() makes under the root. */
#define LM_STORE_VOLUMES "volumes"
#define LM_STORE_LAYERS "layers"
#define LM_STORE_IMAGES "images"
#define LM_STORE_TMP "tmp"

struct lamina_store {
	char *root;  /* canonical absolute path (realpath), as /proc/self/mountinfo shows it */
	int root_fd; /* O_PATH|O_DIRECTORY of root: all file work is relative to it */
	sqlite3 *db; /* ROOT/lamina.db, migrated (common/db.h) */
};

/* "ROOT/rel" in *ret (yours). 0 or -ENOMEM. */
int lm_store_path(const struct lamina_store *store, const char *rel, char **ret);

/* Opens the folder rel (trusted components, no symlinks) below the root with
 * O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC (an fd that can be flock'ed and
 * fsync'ed). The fd, or -errno. */
int lm_store_open_dir(const struct lamina_store *store, const char *rel);

#endif
