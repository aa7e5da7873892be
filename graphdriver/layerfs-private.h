/*
 * graphdriver/layerfs-private.h: what the layer-folder files (apply.c,
 * export.c, changes.c, verify.c) share: reading the on-disk markers of a
 * layer folder in both forms, and XXH3-128 as hex. Not for the store's
 * files: they use graphdriver/layerfs.h.
 */
#ifndef LAMINA_GRAPHDRIVER_LAYERFS_PRIVATE_H
#define LAMINA_GRAPHDRIVER_LAYERFS_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include <xxhash.h>

/* markers.c */

/*
 * Whether the object name (with st) in a layer folder is a whiteout, in
 * either form: a 0/0 character device NAME, or a non-folder ".wh.NAME".
 * Returns the hidden name (name itself, or the part after ".wh."), or NULL
 * for anything else, ".wh..wh.*" metadata (the opaque marker among them)
 * included.
 */
const char *gd_whiteout_of(const char *name, const struct stat *st);

/* ".wh..wh.*": AUFS metadata and the opaque marker, never a whiteout. */
bool gd_is_meta_name(const char *name);

/*
 * Whether the folder dirfd (any fd of it, O_PATH too) is opaque in either
 * form: trusted.overlay.opaque or user.overlay.opaque "y", or a
 * ".wh..wh..opq" entry. 1, 0 or -errno.
 */
int gd_dir_is_opaque(int dirfd);

/* filehash.c */

/* h as 32 lowercase hex digits (XXH128's canonical, big-endian, form, as
 * xxhsum -H2 prints it) and a NUL. */
void gd_xxh3_hex(XXH128_hash_t h, char out[33]);

/* XXH3-128 of the content of the regular file fd (from offset 0), as hex,
 * and its size. 0 or -errno. */
int gd_xxh3_fd(int fd, char out[33], uint64_t *ret_size);

#endif
