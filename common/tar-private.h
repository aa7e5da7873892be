/*
 * common/tar-private.h: what common/tar.c (the libarchive glue and
 * extraction) shares with common/tar-write.c. Not for other modules: they
 * use common/tar.h.
 */
#ifndef LAMINA_COMMON_TAR_PRIVATE_H
#define LAMINA_COMMON_TAR_PRIVATE_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct archive;

/* libarchive's error on a as a negative errno: a system error as it is,
 * ENOMEM as it is, libarchive's own codes (format, misuse) as fallback. */
int lm_tar_errno(struct archive *a, int fallback);
/* archive_error_string(), never NULL. */
const char *lm_tar_error_string(struct archive *a);

/*
 * Names in a tar are bytes: libarchive converts them with the thread's
 * locale, so the tar code runs in C.UTF-8 (C where missing) whatever the
 * caller's locale, for the same names and the same bytes everywhere.
 */
struct lm_tar_locale {
	locale_t loc, old;
};
int lm_tar_locale_enter(struct lm_tar_locale *l);
void lm_tar_locale_leave(struct lm_tar_locale *l);

/* ------------------------------------------------ extraction with hooks */

struct archive_entry;
struct lm_error;
struct lm_tar_extract_opts;

/* An extraction in progress (common/tar.c), as its hooks see it. */
struct lm_untar;

/*
 * What a caller of lm_untar_run() adds to lm_tar_extract's work (the graph
 * store: whiteout entries, digests, per-file hashes). Every hook may be
 * NULL; a negative return stops the extraction and is returned (the hook
 * fills err, best with lm_untar_refuse() or lm_untar_fail(), which name
 * the current entry).
 */
struct lm_untar_hooks {
	void *ctx;
	/* Each entry but the target itself, its path normalised ("a/b", no
	 * ".." or absolute: checked), before anything is made: 0 extracts it
	 * as usual, 1 means the hook took it (nothing else is done). */
	int (*entry)(void *ctx, struct lm_untar *x, struct archive_entry *e, const char *path);
	/* Each data block of the regular file being written, as libarchive
	 * gives it (off grows; holes of a sparse entry are skipped). */
	int (*data)(void *ctx, struct lm_untar *x, const void *buf, size_t size, int64_t off);
	/* A regular file complete (link_target NULL; size bytes) or a hard link
	 * made to the earlier entry link_target (normalised; size 0). */
	int (*file)(void *ctx, struct lm_untar *x, const char *path, const char *link_target, uint64_t size);
	/* After the last entry, before the folders get their metadata (so
	 * folders are still writable). */
	int (*finish)(void *ctx, struct lm_untar *x);
};

/*
 * lm_tar_extract() on a set-up archive a (its filters and formats chosen by
 * the caller): opened with archive_read_open_fd(fd_in) or, when fd_in < 0,
 * archive_read_open1() with the callbacks the caller set. Does not free a.
 * The caller has entered the tar locale (lm_tar_locale_enter) before it
 * made a. Errors and refusals as lm_tar_extract's.
 */
int lm_untar_run(struct archive *a, int fd_in, int dirfd, const struct lm_tar_extract_opts *opts,
		 const struct lm_untar_hooks *hooks, uint64_t *ret_bytes, struct lm_error *err);

/* For hooks: refuses the current entry ("WHAT: entry 'NAME': why", -EINVAL). */
int lm_untar_refuse(struct lm_untar *x, const char *why);
/* For hooks: a system error r while doing something to the current entry. */
int lm_untar_fail(struct lm_untar *x, int r, const char *doing);
/* For hooks: the folder that holds path, made (0755) where missing, never
 * through a symlink (refused, naming the entry). Returns an O_PATH fd the
 * caller closes and the last component in *ret_name, or a negative errno
 * with err filled. */
int lm_untar_open_parent(struct lm_untar *x, const char *path, const char **ret_name);
/* For hooks: e's owner (if kept), mode and times, not its xattrs, onto fd. */
int lm_untar_apply_meta(struct lm_untar *x, struct archive_entry *e, int fd);
/* The target folder (not to close) and the name used in messages. */
int lm_untar_root(const struct lm_untar *x);
const char *lm_untar_what(const struct lm_untar *x);

/* ---------------------------------------------------- writing with hooks */

struct lm_walk_entry;
struct stat;

/* A tar being written by lm_tar_write_walk() (common/tar-write.c). */
struct lm_tar_writer;

/* What a caller of lm_tar_write_walk() changes in lm_tar_write_tree's
 * output (the graph store: markers become .wh. entries). May be NULL. */
struct lm_tar_write_ops {
	/* Each object the walk meets (the root too: parent < 0), instead of
	 * lm_tar_write_object(), which it may call. NULL: that. */
	int (*visit)(void *ctx, struct lm_tar_writer *w, const struct lm_walk_entry *e, int fd);
	/* Each folder after its content (the root too). */
	int (*leave)(void *ctx, struct lm_tar_writer *w, const struct lm_walk_entry *e, int fd);
	/* Which xattrs go into entries; NULL: all. */
	bool (*keep_xattr)(const char *name);
};

/* lm_tar_write_tree() with ops (same format, padding, errors). */
int lm_tar_write_walk(int dirfd, int fd_out, const char *what, const struct lm_tar_write_ops *ops, void *ctx,
		      struct lm_error *err);
/* The entry lm_tar_write_tree() writes for e (nothing for the root or a socket). */
int lm_tar_write_object(struct lm_tar_writer *w, const struct lm_walk_entry *e, int fd);
/* An empty regular-file entry named path with st's owner and mtime and
 * the permission bits perm (a .wh. marker). */
int lm_tar_write_empty(struct lm_tar_writer *w, const char *path, const struct stat *st, mode_t perm);

#endif
