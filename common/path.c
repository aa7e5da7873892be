/*
 * common/path.c: safe resolution of names and paths beneath a directory fd.
 * Everything here is about never touching a host path outside the given root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/path.h"

/* Set once, by tests or from the environment, before threads exist. */
static int force_fallback = -1;

void lm_path_force_fallback(int on)
{
	force_fallback = on;
}

static bool use_fallback(void)
{
	if (force_fallback < 0) {
		const char *e = getenv("LAMINA_NO_OPENAT2");
		force_fallback = e && *e == '1';
	}
	return force_fallback > 0;
}

int lm_name_check(const char *name)
{
	if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return -EINVAL;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static int open_beneath_openat2(int dirfd, const char *path, int flags, mode_t mode, unsigned resolve)
{
	struct open_how how = {
		.flags = (uint64_t)flags | O_CLOEXEC,
		.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	if (resolve & LM_RESOLVE_NO_SYMLINKS)
		how.resolve |= RESOLVE_NO_SYMLINKS;
	if (resolve & LM_RESOLVE_NO_XDEV)
		how.resolve |= RESOLVE_NO_XDEV;
	for (int tries = 0; tries < 16; tries++) {
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN)
			return -errno;
	}
	return -EAGAIN;
}

/* The fallback: one component at a time, each opened O_PATH|O_NOFOLLOW, so
 * no symlink is ever followed and ".." is refused outright. */
static int open_beneath_walk(int dirfd, const char *path, int flags, mode_t mode, unsigned resolve)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	_cleanup_close_ int cur = -1;
	char *save = NULL;
	char *comp = strtok_r(copy, "/", &save);
	if (!comp) {
		int fd = openat(dirfd, ".", flags | O_CLOEXEC, mode);
		return fd < 0 ? -errno : fd;
	}
	for (;;) {
		char *next = strtok_r(NULL, "/", &save);
		int base = cur >= 0 ? cur : dirfd;
		if (!strcmp(comp, ".."))
			return -EXDEV;
		if (!next) {
			int fd = openat(base, comp, flags | O_CLOEXEC | O_NOFOLLOW, mode);
			if (fd < 0 && errno == ELOOP && (flags & O_PATH))
				return -ELOOP;
			return fd < 0 ? -errno : fd;
		}
		int fd = openat(base, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOTDIR ? -ELOOP : -errno;
		lm_close(cur);
		cur = fd;
		comp = next;
	}
	(void)resolve;
}

int lm_open_beneath(int dirfd, const char *path, int flags, mode_t mode, unsigned resolve)
{
	if (!path || path[0] == '/')
		return -EXDEV;
	if (!use_fallback()) {
		int r = open_beneath_openat2(dirfd, path, flags, mode, resolve);
		/* deeper than PATH_MAX: walk it one component at a time */
		bool too_long = r == -ENAMETOOLONG && strlen(path) >= PATH_MAX;
		if (r != -ENOSYS && r != -EPERM && !too_long)
			return r;
	}
	return open_beneath_walk(dirfd, path, flags, mode, resolve);
}

int lm_open_parent_beneath(int dirfd, const char *path, unsigned resolve, const char **ret_name)
{
	if (!path || !*path)
		return -EINVAL;
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (!*name)
		return -EINVAL;
	int fd;
	if (!slash || slash == path) {
		/* "name", or "/name" which lm_open_beneath refuses */
		fd = slash ? -EXDEV : openat(dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd == -1)
			fd = -errno;
	} else {
		_cleanup_free_ char *parent = strndup(path, slash - path);
		if (!parent)
			return -ENOMEM;
		fd = lm_open_beneath(dirfd, parent, O_PATH | O_DIRECTORY, 0, resolve);
	}
	if (fd >= 0)
		*ret_name = name;
	return fd;
}
