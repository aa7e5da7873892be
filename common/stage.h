/*
 * common/stage.h: staging folders in ROOT/tmp/ and the folder locks that
 * tell a living operation's folders from a crash's leftovers.
 *
 * Invariant: an entry of tmp/ is either held by a living process, which
 * holds flock(LOCK_EX) on it, or garbage from a crash. Makers take a shared
 * flock on tmp/ itself while they create (or move in) and lock an entry; the
 * sweep of lamina check takes it exclusively, so it never sees an entry in
 * the instant between its creation and its lock. flock locks belong to the
 * open file and die with the process, so a SIGKILL frees them.
 */
#ifndef LAMINA_COMMON_STAGE_H
#define LAMINA_COMMON_STAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <lamina/error.h>
#include <lamina/store.h>

struct lm_stage {
	char *name; /* the entry's name in tmp/ */
	int fd;     /* O_RDONLY|O_DIRECTORY of the folder, holding the lock */
};
#define LM_STAGE_INIT { NULL, -1 }

/*
 * Opens rel (a folder below dirfd, trusted components) and takes flock(how)
 * on it (LOCK_EX or LOCK_SH), never waiting. Returns the fd that holds the
 * lock (closing it unlocks), -EBUSY when another open file holds a lock
 * that conflicts, or -errno.
 */
int lm_dir_lock(int dirfd, const char *rel, int how);

/* Makes tmp/PREFIX-RANDOM, locked, in *ret. 0 or -errno with err filled. */
int lm_stage_new(struct lamina_store *store, const char *prefix, struct lm_stage *ret, struct lm_error *err);

/*
 * Moves the folder rel (below the root) into tmp/ as PREFIX-RANDOM and
 * holds it locked in *ret; -EBUSY when another process holds rel's lock,
 * -ENOENT when rel is missing.
 */
int lm_stage_take(struct lamina_store *store, const char *rel, const char *prefix, struct lm_stage *ret,
		  struct lm_error *err);

/*
 * Moves the staged folder to rel (below the root; RENAME_NOREPLACE) and
 * fsyncs both parents: the folder now lives at rel, still locked by st->fd
 * until lm_stage_release(). 0 or -errno (-EEXIST when rel exists).
 */
int lm_stage_commit(struct lamina_store *store, struct lm_stage *st, const char *rel, struct lm_error *err);

/* Removes the staged folder (lm_rm_tree_at: not across mounts) and releases
 * st. *ret_freed (may be NULL) as lm_rm_tree_at. 0 or -errno. */
int lm_stage_remove(struct lamina_store *store, struct lm_stage *st, uint64_t *ret_freed);

/* Unlocks and forgets st, leaving the folder where it is. Takes a released
 * or LM_STAGE_INIT stage. */
void lm_stage_release(struct lm_stage *st);

/*
 * For lamina check: lists each unlocked entry of tmp/ in report as a
 * leftover and, with repair, removes it. Locked ones are in use: skipped.
 */
int lm_stage_sweep(struct lamina_store *store, bool repair, struct lamina_check_report *report,
		   struct lm_error *err);

#endif
