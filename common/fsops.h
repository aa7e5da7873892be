/*
 * common/fsops.h: file-system chores more than one module needs.
 */
#ifndef LAMINA_COMMON_FSOPS_H
#define LAMINA_COMMON_FSOPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Copies the whole content of in_fd to out_fd (both at offset 0, out_fd
 * empty): FICLONE first, then copy_file_range over the data segments found
 * with SEEK_DATA/SEEK_HOLE (so holes stay holes), then read/write. out_fd ends
 * with size bytes. Returns 0 or a negative errno. Thread-safety: safe.
 */
int lm_copy_data(int in_fd, int out_fd, uint64_t size);

/* Reads the target of the symlink name in dirfd into *ret (NUL-terminated,
 * caller frees), whatever its length. Returns 0 or a negative errno. */
int lm_readlink_at(int dirfd, const char *name, char **ret);

/* Removes name beneath dirfd and, for a directory, everything below it,
 * never following symlinks. -ENOENT is success. */
int lm_rm_rf_at(int dirfd, const char *name);

/* Removes every entry of the directory dirfd (not the directory itself). */
int lm_empty_dir(int dirfd);

/* Whether the directory dirfd (opened for reading, not O_PATH) has an entry
 * besides "." and ".." and except (may be NULL), into *ret. Reads through a
 * duplicate of dirfd, which shares its directory offset. */
int lm_dir_has_entries(int dirfd, const char *except, bool *ret);

#endif
