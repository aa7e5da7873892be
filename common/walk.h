/*
 * common/walk.h: walking a tree fd-relative, in a reproducible order,
 * without following symlinks or crossing into other mounts, noting hard
 * links. What to do with each object is the caller's (tar writing, tree copy).
 */
#ifndef LAMINA_COMMON_WALK_H
#define LAMINA_COMMON_WALK_H

#include <stdbool.h>
#include <sys/stat.h>

#include <lamina/error.h>

/* One object met by lm_walk(). The strings live until the callback returns. */
struct lm_walk_entry {
	int parent;             /* the folder holding it (a real fd); -1 for the root */
	const char *name;       /* its name in parent; "." for the root */
	const char *path;       /* relative to the root, "a/b"; "" for the root */
	const struct stat *st;  /* not following a symlink; a folder's from its open fd */
	const char *link_first; /* a non-folder with more links, met before under
				 * this path (link to it); else NULL */
	bool mount_point;       /* a folder that is the root of another mount:
				 * its content is not walked */
};

#define LM_WALK_SKIP 1

struct lm_walk_ops {
	/* Every object, the root first, then, per folder, its entries sorted
	 * by name (strcmp), each folder's content right after it. fd is the
	 * folder opened O_RDONLY|O_DIRECTORY for folders, -1 otherwise.
	 * Returns 0, LM_WALK_SKIP (a folder: not its content; leave is
	 * still called) or a negative errno. */
	int (*visit)(void *ctx, const struct lm_walk_entry *e, int fd);
	/* Folders once more, after their content; may be NULL. */
	int (*leave)(void *ctx, const struct lm_walk_entry *e, int fd);
};

/*
 * Opens the regular file e for reading (O_NOFOLLOW, O_NONBLOCK against a
 * fifo swapped in) and fills *ret_st from the open fd. Returns the fd,
 * -EAGAIN when what is there now is not the object the walk met, or -errno.
 */
int lm_walk_open_file(const struct lm_walk_entry *e, struct stat *ret_st);

/*
 * Walks the tree beneath dirfd. A negative return of a callback stops the
 * walk and is returned (the callback fills err itself); the walk's own
 * failures (listing a folder, stat) are returned as -errno with err saying
 * "WHAT: 'PATH': cannot ...". An object that vanishes between the listing
 * and its stat is skipped. Holds one fd per folder level open.
 * Thread-safety: safe (no shared state).
 */
int lm_walk(int dirfd, const struct lm_walk_ops *ops, void *ctx, const char *what, struct lm_error *err);

#endif
