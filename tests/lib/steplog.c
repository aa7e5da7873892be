/*
 * tests/lib/steplog.c: the step log of a scenario. Each step's line holds
 * only what two implementations must agree on (never fd numbers, inode
 * numbers, mount paths or times), so two logs compare line by line.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"

void tl_log_release(struct tl_log *log)
{
	for (size_t i = 0; i < log->n; i++)
		free(log->lines[i]);
	free(log->lines);
	log->lines = NULL;
	log->n = log->alloc = 0;
}

static void log_take(struct tl_log *log, char *line)
{
	if (log->n == log->alloc) {
		log->alloc = log->alloc ? log->alloc * 2 : 32;
		log->lines = tl_realloc(log->lines, log->alloc * sizeof(*log->lines));
	}
	log->lines[log->n++] = line;
}

void tl_log_add(struct tl_log *log, const char *fmt, ...)
{
	struct tl_buf b = TL_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	tl_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	log_take(log, b.s ? b.s : tl_strdup(""));
}

long tl_log_result(struct tl_log *log, const char *label, long ret, int err, bool with_value)
{
	if (ret < 0)
		tl_log_add(log, "%s = %s", label, tl_errname(err));
	else if (with_value)
		tl_log_add(log, "%s = %ld", label, ret);
	else
		tl_log_add(log, "%s = ok", label);
	return ret;
}

void tl_log_stat(struct tl_log *log, const char *label, const struct stat *st)
{
	struct tl_buf b = TL_BUF_INIT;

	tl_buf_printf(&b, "%s: mode=0%o uid=%u gid=%u", label, (unsigned)st->st_mode, (unsigned)st->st_uid,
		      (unsigned)st->st_gid);
	if (!S_ISDIR(st->st_mode))
		tl_buf_printf(&b, " nlink=%lu size=%lld", (unsigned long)st->st_nlink, (long long)st->st_size);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		tl_buf_printf(&b, " rdev=%u:%u", major(st->st_rdev), minor(st->st_rdev));
	log_take(log, b.s);
}

void tl_log_fstatat(struct tl_log *log, int dirfd, const char *path, int flags)
{
	_cleanup_free_ char *label = tl_strdupf("stat '%s'%s", path, flags & AT_SYMLINK_NOFOLLOW ? " nofollow" : "");
	struct stat st;

	if (fstatat(dirfd, path, &st, flags) < 0)
		tl_log_add(log, "%s = %s", label, tl_errname(errno));
	else
		tl_log_stat(log, label, &st);
}

void tl_log_fstat(struct tl_log *log, const char *label, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		tl_log_add(log, "fstat %s = %s", label, tl_errname(errno));
	else
		tl_log_stat(log, label, &st);
}

void tl_log_pread(struct tl_log *log, const char *label, int fd, size_t max, off_t offset)
{
	_cleanup_free_ char *data = tl_malloc(max);
	struct tl_buf b = TL_BUF_INIT;
	ssize_t n = pread(fd, data, max, offset);

	if (n < 0) {
		tl_log_add(log, "pread %s @%lld = %s", label, (long long)offset, tl_errname(errno));
		return;
	}
	tl_buf_printf(&b, "pread %s @%lld = %zd \"", label, (long long)offset, n);
	tl_buf_escape(&b, data, (size_t)n, 512);
	tl_buf_printf(&b, "\"");
	log_take(log, b.s);
}

void tl_log_content(struct tl_log *log, int dirfd, const char *path)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	_cleanup_free_ char *label = tl_strdupf("content '%s'", path);

	if (fd < 0)
		tl_log_add(log, "%s: open = %s", label, tl_errname(errno));
	else
		tl_log_pread(log, label, fd, 65536, 0);
}

void tl_log_listdir(struct tl_log *log, int dirfd, const char *path)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct tl_buf b = TL_BUF_INIT;
	struct tl_dirent *e = NULL;
	size_t n = 0;
	int r = fd < 0 ? -errno : tl_dir_read(fd, &e, &n);

	tl_buf_printf(&b, "ls '%s':", path);
	if (r < 0)
		tl_buf_printf(&b, " %s", tl_errname(-r));
	for (size_t i = 0; i < n; i++)
		tl_buf_printf(&b, " %s/%u", e[i].name, e[i].d_type);
	tl_dirents_free(e, n);
	log_take(log, b.s);
}

void tl_log_xattrs(struct tl_log *log, const char *label, const char *path)
{
	struct tl_buf b = TL_BUF_INIT;
	int r;

	tl_buf_printf(&b, "xattrs %s: {", label);
	r = tl_xattrs_describe(path, &b);
	tl_buf_printf(&b, "}");
	if (r < 0)
		tl_buf_printf(&b, " = %s", tl_errname(-r));
	log_take(log, b.s);
}

size_t tl_log_diff(const struct tl_log *a, const struct tl_log *b, const char *na, const char *nb,
		   struct tl_buf *report)
{
	size_t n = a->n < b->n ? a->n : b->n, diffs = 0;

	for (size_t i = 0; i < n; i++) {
		if (!strcmp(a->lines[i], b->lines[i]))
			continue;
		tl_buf_printf(report, "  step %zu: %s: %s\n  %*s %s: %s\n", i + 1, na, a->lines[i],
			      (int)snprintf(NULL, 0, "step %zu:", i + 1), "", nb, b->lines[i]);
		diffs++;
	}
	for (size_t i = n; i < a->n || i < b->n; i++) {
		const char *who = i < a->n ? na : nb;

		tl_buf_printf(report, "  step %zu: only %s got here: %s\n", i + 1, who,
			      i < a->n ? a->lines[i] : b->lines[i]);
		diffs++;
	}
	return diffs;
}
