/*
 * lamina/union.h: the copy-on-write union file system (lamina-fuse).
 *
 * A union stacks read-only lower directories under one writable upper
 * directory and serves the merged view through FUSE, with the kernel
 * overlayfs's semantics and on-disk format: what lamina writes in an upper
 * directory, `mount -t overlay` reads, and the other way round.
 *
 * The usual sequence is lamina_union_config_parse_args() (or
 * lamina_union_config_parse_opts() for a bare "-o" string), then
 * lamina_union_run(), which mounts, serves and returns once the file system is
 * unmounted.
 */
#ifndef LAMINA_UNION_H
#define LAMINA_UNION_H

#include <stdbool.h>
#include <lamina/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the command line asked for, besides mounting. */
enum lamina_union_action {
	LAMINA_UNION_MOUNT = 0,
	LAMINA_UNION_HELP,
	LAMINA_UNION_VERSION,
};

/* An opaque, parsed configuration: layers, upper, work, flags. */
struct lamina_union_config;

/*
 * Parses a fuse-overlayfs compatible command line:
 *   [-f] [-d|--debug] [-o OPTS]... [SOURCE] MOUNTPOINT | --help | --version
 * SOURCE (mount.fuse3 passes one) is only used as the file system name. OPTS
 * are comma separated; empty options (",,") are ignored; an option lamina
 * does not implement is refused with a message naming it. On success
 * *ret_config is a new configuration (free with lamina_union_config_free())
 * and *ret_action says whether to mount or only print help or version.
 * Checks the syntax only; directories are checked by lamina_union_run().
 * Returns 0 or a negative errno with err filled. Thread-safety: safe.
 */
int lamina_union_config_parse_args(int argc, char *const *argv, struct lamina_union_config **ret_config,
				   enum lamina_union_action *ret_action, struct lm_error *err);

/*
 * Adds the comma separated options of one "-o" argument to config.
 * Returns 0 or a negative errno with err filled, leaving config unchanged.
 * Thread-safety: per-handle.
 */
int lamina_union_config_parse_opts(struct lamina_union_config *config, const char *opts,
				   struct lm_error *err);

/* A new, empty configuration. Returns NULL when out of memory. */
struct lamina_union_config *lamina_union_config_new(void);

/* Frees config; NULL is fine. Returns NULL. */
struct lamina_union_config *lamina_union_config_free(struct lamina_union_config *config);

/*
 * Mounts the union described by config and serves it with worker threads until
 * it is unmounted (fusermount3 -u, umount) or the process gets SIGTERM/SIGINT.
 * Unless the configuration asks for the foreground (-f), the process
 * daemonizes once the mount is ready, so the caller of the program sees it
 * return only when the merged view can be used.
 * Returns 0 after a clean unmount, or a negative errno with err filled when
 * the layers cannot be opened or the mount fails.
 * Thread-safety: main thread only.
 */
int lamina_union_run(const struct lamina_union_config *config, struct lm_error *err);

/* The usage text for --help. */
const char *lamina_union_usage(void);

#ifdef __cplusplus
}
#endif
#endif
