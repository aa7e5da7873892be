/*
 * common/path.h: names and paths that come from users, FUSE or archives.
 *
 * A name is one path component. A path is resolved beneath a directory fd and
 * can never leave it, whatever symlinks or ".." it holds.
 */
#ifndef LAMINA_COMMON_PATH_H
#define LAMINA_COMMON_PATH_H

#include <stdint.h>
#include <sys/types.h>

/* 0 if name is one valid component; -EINVAL for "", ".", ".." or a name with
 * '/', -ENAMETOOLONG over NAME_MAX. */
int lm_name_check(const char *name);

#define LM_RESOLVE_NO_SYMLINKS 0x1u /* refuse symlinks in every component */
#define LM_RESOLVE_NO_XDEV 0x2u     /* refuse crossing a mount point */

/*
 * Opens path (relative, several components) beneath dirfd with open(2) flags
 * and mode. ".." can never climb above dirfd, absolute symlinks and magic
 * links are refused (openat2 RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS); with
 * LM_RESOLVE_NO_SYMLINKS any symlink in the path is refused (-ELOOP), except
 * a final one opened with O_PATH|O_NOFOLLOW. Where openat2 is missing it walks
 * the components with O_NOFOLLOW and refuses ".." and symlinks.
 * Returns the new fd or a negative errno. Thread-safety: safe.
 */
int lm_open_beneath(int dirfd, const char *path, int flags, mode_t mode, unsigned resolve);

/*
 * Opens the folder that holds the last component of path (several
 * components, relative) beneath dirfd, O_PATH|O_DIRECTORY, resolved as
 * lm_open_beneath() does with resolve; for a one-component path that folder
 * is dirfd itself (a new fd on it). *ret_name points into path at the last
 * component. Trailing slashes are an error (-EINVAL), so is an empty path.
 * Returns the fd or a negative errno. Thread-safety: safe.
 */
int lm_open_parent_beneath(int dirfd, const char *path, unsigned resolve, const char **ret_name);

/* Forces the component-walk fallback of lm_open_beneath (tests, and the
 * check-no-openat2 target through LAMINA_NO_OPENAT2=1). */
void lm_path_force_fallback(int on);

#endif
