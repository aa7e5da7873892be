/*
 * common/attrs.h: the metadata of one file-system object (owner, mode,
 * times, extended attributes), read from and applied to an fd, which may be
 * an O_PATH fd for the objects that cannot be opened for real (symlinks,
 * fifos, devices, sockets). Tree copy and tar extraction both end each
 * object with lm_attrs_apply(), so the order that keeps setuid bits and file
 * capabilities is written once, here.
 */
#ifndef LAMINA_COMMON_ATTRS_H
#define LAMINA_COMMON_ATTRS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* One extended attribute: full name ("user.x", "security.capability"). */
struct lm_xattr {
	const char *name;
	const void *value;
	size_t size;
};

/* The extended attributes of an object, sorted by name; owns its storage. */
struct lm_xattrs {
	struct lm_xattr *v;
	size_t n;
	char *names; /* the listxattr buffer v[].name points into */
};
#define LM_XATTRS_INIT { NULL, 0, NULL }

/*
 * Reads every extended attribute of the object fd refers to (an O_PATH fd
 * too: then through /proc/self/fd, which reaches a symlink itself, not its
 * target) into *ret, sorted by name so that output built from it is
 * reproducible. A file system without xattrs gives an empty list. Returns 0
 * or -errno (*ret is then empty). Thread-safety: safe.
 */
int lm_xattrs_read(int fd, struct lm_xattrs *ret);
void lm_xattrs_release(struct lm_xattrs *x);

/* What lm_attrs_apply() sets. */
struct lm_attrs {
	mode_t mode; /* S_IFMT type and the 07777 bits to set (not on symlinks) */
	bool set_owner;
	uid_t uid;
	gid_t gid;
	struct timespec atime, mtime; /* tv_nsec = UTIME_OMIT leaves one alone */
	const struct lm_xattr *xattrs;
	size_t nxattrs;
};

/* Which step of lm_attrs_apply() failed: "owner", "xattr", "mode",
 * "times"; xattr names the attribute for "xattr", else NULL. */
struct lm_attrs_failure {
	const char *step;
	const char *xattr;
};

/*
 * Applies a to the object fd refers to: a real fd (regular files, folders)
 * or an O_PATH|O_NOFOLLOW fd (anything, symlinks included). Order: owner
 * first (chown clears setuid bits and file capabilities), then xattrs (an
 * ACL xattr sets mode bits too), then the mode, then the times (last, as
 * every other change touches ctime only). Returns 0, or -errno with *fail
 * (may be NULL) saying which step. Thread-safety: safe.
 */
int lm_attrs_apply(int fd, const struct lm_attrs *a, struct lm_attrs_failure *fail);

/* fail for a message, in buf: "owner", "xattr 'user.x'" (the name escaped
 * when it holds bytes outside printable ASCII). Returns buf. */
const char *lm_attrs_failure_str(const struct lm_attrs_failure *fail, char *buf, size_t size);

/* "/proc/self/fd/N" for fd, in buf (at least LM_FD_PATH_MAX bytes): the
 * only way to some calls on an O_PATH fd (chmod, xattrs). */
#define LM_FD_PATH_MAX 32
const char *lm_fd_path(int fd, char *buf);

#endif
