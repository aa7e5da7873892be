/*
 * common/fsops.c: data copy and recursive removal, all relative to fds.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsops.h"

static int copy_rw(int in_fd, int out_fd, off_t off, off_t end)
{
	char buf[128 * 1024];
	while (off < end) {
		size_t want = (size_t)(end - off) < sizeof(buf) ? (size_t)(end - off) : sizeof(buf);
		ssize_t n = pread(in_fd, buf, want, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		for (ssize_t done = 0; done < n;) {
			ssize_t w = pwrite(out_fd, buf + done, n - done, off + done);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			done += w;
		}
		off += n;
	}
	return 0;
}

/* Copies [off, end) with copy_file_range, falling back to read/write when the
 * file systems cannot (EXDEV on old kernels, EINVAL, EOPNOTSUPP). */
static int copy_segment(int in_fd, int out_fd, off_t off, off_t end, bool *cfr_ok)
{
	while (*cfr_ok && off < end) {
		loff_t in_off = off, out_off = off;
		ssize_t n = copy_file_range(in_fd, &in_off, out_fd, &out_off, end - off, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS)
				return -errno;
			*cfr_ok = false;
			break;
		}
		if (n == 0)
			return 0; /* the source shrank under us */
		off += n;
	}
	return off < end ? copy_rw(in_fd, out_fd, off, end) : 0;
}

int lm_copy_data(int in_fd, int out_fd, uint64_t size)
{
	if (size == 0)
		return 0;
	if (ioctl(out_fd, FICLONE, in_fd) == 0)
		return 0;

	bool cfr_ok = true;
	off_t off = 0;
	while ((uint64_t)off < size) {
		off_t data = lseek(in_fd, off, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break; /* only a hole is left */
			if (errno != EINVAL)
				return -errno;
			data = off; /* no SEEK_DATA support: copy everything */
		}
		off_t hole = lseek(in_fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = size;
		int r = copy_segment(in_fd, out_fd, data, hole, &cfr_ok);
		if (r < 0)
			return r;
		off = hole;
	}
	return ftruncate(out_fd, size) < 0 ? -errno : 0;
}

int lm_readlink_at(int dirfd, const char *name, char **ret)
{
	for (size_t size = 256;; size *= 2) {
		_cleanup_free_ char *buf = malloc(size);
		if (!buf)
			return -ENOMEM;
		ssize_t n = readlinkat(dirfd, name, buf, size);
		if (n < 0)
			return -errno;
		if ((size_t)n < size) {
			buf[n] = '\0';
			*ret = TAKE_PTR(buf);
			return 0;
		}
		if (size > (1u << 20))
			return -ENAMETOOLONG;
	}
}

int lm_empty_dir(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		lm_close(fd);
		return -errno;
	}
	int ret = 0;
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int r = lm_rm_rf_at(dirfd, de->d_name);
		if (r < 0 && ret == 0)
			ret = r;
	}
	if (errno && ret == 0)
		ret = -errno;
	return ret;
}

int lm_rm_rf_at(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	_cleanup_close_ int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return errno == ENOENT ? 0 : -errno;
	int r = lm_empty_dir(sub);
	if (r < 0)
		return r;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int lm_dir_has_entries(int dirfd, const char *except, bool *ret)
{
	int fd = dup(dirfd);
	_cleanup_closedir_ DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int r = -errno;
		lm_close(fd);
		return r;
	}
	struct dirent *de;
	*ret = false;
	while (!*ret && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && (!except || strcmp(de->d_name, except)))
			*ret = true;
	}
	return !*ret && errno ? -errno : 0;
}
