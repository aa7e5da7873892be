/*
 * common/rmtree.h: removing a tree that may have mounts below it (a volume's
 * _data, a layer's merged folder), counting the space given back.
 */
#ifndef LAMINA_COMMON_RMTREE_H
#define LAMINA_COMMON_RMTREE_H

#include <stdint.h>

/*
 * Removes name beneath dirfd and everything below it, never following a
 * symlink and never entering another mount: a mount point below (a tmpfs, a
 * bind of a host folder, even one from the same file system) is left in
 * place with the folders above it, and the call ends with -EBUSY after
 * removing everything else. -ENOENT for name is success.
 * *ret_freed (may be NULL) gets the bytes given back to the file system: the
 * st_blocks * 512 of each non-directory whose last link it removed (a file
 * with hard links counts once, and not at all when a link outside stays).
 * Returns 0 or the first -errno met (the removal goes on past errors).
 * Thread-safety: safe.
 */
int lm_rm_tree_at(int dirfd, const char *name, uint64_t *ret_freed);

#endif
