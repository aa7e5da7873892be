/*
 * common/tar.h: tar streams in and out of a folder, through libarchive
 * (its result codes are mapped to -errno here and nowhere else).
 *
 * Extraction is for untrusted input: every entry is created beneath the
 * target folder with lm_open_beneath(), never through a symlink, and an entry
 * that would leave the folder is refused by name. Used by volume import now,
 * the graph store's layer import later.
 */
#ifndef LAMINA_COMMON_TAR_H
#define LAMINA_COMMON_TAR_H

#include <stdbool.h>
#include <stdint.h>

#include <lamina/error.h>

struct lm_tar_extract_opts {
	const char *what;   /* names the target in messages: "volume 'x'" */
	bool keep_owner;    /* chown entries to the tar's uid/gid (root only) */
	bool allow_devices; /* create character and block devices (else refused) */
};

/*
 * Extracts the tar read from fd_in (plain, gzip, zstd, xz, bzip2: detected)
 * into dirfd, an empty folder the caller owns (a staging folder): regular
 * files (sparse kept), folders, symlinks, hard links within the tar, fifos,
 * devices when allowed; modes, times, xattrs, and owners when asked. Refused
 * with -EINVAL and a message naming the entry: absolute names, ".."
 * components, names over NAME_MAX, an entry below a symlink, a hard link to a
 * name outside the tar or not yet extracted, a device when not allowed,
 * input that is not a tar, a truncated archive. On failure the caller removes
 * the staging folder; nothing outside dirfd was touched. *ret_bytes (may be
 * NULL) gets the size of the file data written.
 */
int lm_tar_extract(int fd_in, int dirfd, const struct lm_tar_extract_opts *opts, uint64_t *ret_bytes,
		   struct lm_error *err);

/*
 * Writes the tree beneath dirfd to fd_out as a pax tar, names relative
 * ("./" not included), sorted per folder so the same tree gives the same
 * bytes: owners, modes, times, xattrs, hard links as links, symlinks,
 * devices, fifos; sockets are skipped, as tar does.
 */
int lm_tar_write_tree(int dirfd, int fd_out, const char *what, struct lm_error *err);

#endif
