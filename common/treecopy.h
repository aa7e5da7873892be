/*
 * common/treecopy.h: copying a whole tree with its metadata, sharing data
 * blocks (reflink) where the file system can.
 */
#ifndef LAMINA_COMMON_TREECOPY_H
#define LAMINA_COMMON_TREECOPY_H

#include <lamina/error.h>

/*
 * Copies everything beneath src_dirfd into dst_dirfd (an empty folder):
 * folders, regular files (lm_copy_data: FICLONE, then copy_file_range over
 * data extents, then read/write), symlinks, fifos, devices; owner, mode,
 * times and xattrs of each (security.* and trusted.* too: root needed for
 * those and for owners), hard links kept as links. The root of src gives its
 * metadata to dst_dirfd itself. Does not cross into other mounts below src:
 * a mount point is copied as an empty folder with the mounted root's
 * metadata (as cp -x). Folders get their metadata after their content.
 * what names the source in messages ("volume 'x'"). On failure dst holds a
 * partial copy the caller removes. Returns 0 or -errno with err filled.
 * Thread-safety: safe.
 */
int lm_tree_copy(int src_dirfd, int dst_dirfd, const char *what, struct lm_error *err);

#endif
