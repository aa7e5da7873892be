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
 * times and xattrs of each, hard links kept as links. Does not cross into
 * other mounts below src. what names the source in messages.
 */
int lm_tree_copy(int src_dirfd, int dst_dirfd, const char *what, struct lm_error *err);

#endif
