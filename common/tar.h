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
	const char *what;   /* names the target in messages: "volume 'x'" (NULL: "tar") */
	bool keep_owner;    /* chown entries to the tar's uid/gid (root only);
			     * without it the caller owns everything, and setuid
			     * bits, setgid bits of files and security.capability
			     * are dropped: no privilege comes with the tar */
	bool allow_devices; /* create character and block devices (else refused) */
	bool drop_overlay_xattrs; /* leave out the tar's trusted.overlay.* and
				   * user.overlay.* xattrs: in a layer folder
				   * they are markers, which come from .wh.
				   * entries only */
};

/*
 * Extracts the tar read from fd_in (plain, gzip, zstd, xz, bzip2: detected;
 * pax, ustar, GNU and v7 tar; anything else is refused) into dirfd, an empty
 * folder the caller owns (a staging folder): regular files (sparse kept),
 * folders, symlinks, hard links within the tar, fifos, devices when allowed;
 * modes, times (mtime, and atime where the tar has it), xattrs, and owners
 * when asked. Parents the tar does not list are made 0755. An entry naming
 * the target itself ("./") or an existing folder updates that folder; an
 * existing non-folder is replaced (unlinked first, never written through), as
 * tar does. Folders get their metadata after all entries, so a read-only
 * folder still receives its children. Names are bytes, whatever the locale.
 *
 * Refused with -EINVAL and a message naming the target and the entry
 * ("volume 'x': entry '../etc/passwd': path leaves the target"): absolute
 * names, ".." components, names over NAME_MAX, an entry below a symlink (even
 * one inside the target), a hard link to a name outside the tar, not yet
 * extracted or a folder, a device when not allowed, a non-folder where a
 * folder with content is, input that is not a tar, a truncated archive (cut
 * in a header or in data; a tar cut exactly between entries reads as
 * complete, as with every tar reader). Other failures are -errno (-ENOSPC,
 * -EIO...). On failure the caller removes the staging folder, which may hold
 * part of the tar; nothing outside dirfd was touched. *ret_bytes (may be
 * NULL) gets the size of the file data written, on success.
 * Thread-safety: safe (switches the calling thread's locale for the call).
 */
int lm_tar_extract(int fd_in, int dirfd, const struct lm_tar_extract_opts *opts, uint64_t *ret_bytes,
		   struct lm_error *err);

/*
 * Writes the tree beneath dirfd to fd_out as a pax tar, names relative
 * ("./" not included; the root's own metadata is not written), sorted per
 * folder so the same tree gives the same bytes: owners (numeric only),
 * modes, mtimes (to the nanosecond; no atime or ctime), xattrs of every
 * namespace (as LIBARCHIVE.xattr records, which bsdtar and GNU tar 1.34
 * restore), hard links as links, symlinks, devices, fifos, sparse files as
 * GNU sparse 1.0 entries (holes stay holes); sockets are skipped, as tar
 * does. Does not cross into other mounts: a mount point is written as a
 * folder without content. Output extracts with lm_tar_extract, GNU tar and
 * bsdtar. On failure the output holds no end-of-archive blocks, so a reader
 * sees it truncated rather than complete. what names the tree in messages.
 * Thread-safety: safe (switches the calling thread's locale for the call).
 */
int lm_tar_write_tree(int dirfd, int fd_out, const char *what, struct lm_error *err);

#endif
