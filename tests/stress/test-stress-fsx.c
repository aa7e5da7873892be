/*
 * tests/stress/test-stress-fsx.c: data integrity in the style of fsx.
 *
 * One file starts in the lower branch with a known pattern. It is opened
 * read-only first (reads come from the lower file, nothing is copied up),
 * then read-write (the copy-up), and a seeded generator runs thousands of
 * operations on it: reads and writes at random offsets, truncates that
 * shrink and grow it, copy_file_range within the file, writes and reads
 * through a shared mmap, hole punching, fsync, and closing and reopening.
 * An in-memory model says what every byte must be; every read, and every
 * hundred operations the whole file, is checked against it, through the
 * read-write descriptor and through the read-only one opened before the
 * copy-up (which must see the new data, as on the kernel's overlayfs).
 * At the end the upper branch's copy must equal the model byte for byte,
 * the lower file must be unchanged, and a remount must show the same data.
 *
 * It runs on the FUSE backend (lamina-fuse) and, as a check of the test
 * itself, on the kernel's overlayfs. Knobs: LAMINA_FSX_SEED (first seed,
 * default 1), LAMINA_FSX_SEEDS (default 2; 1 when LAMINA_FSX_SEED is set),
 * LAMINA_FSX_OPS (operations per seed, default 4000). A failure prints the
 * seed, the operation number, the first differing offset and the last
 * operations.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"
#include "tests/stress/stress.h"

static unsigned long opt_first_seed, opt_seeds, opt_ops;

#define FSX_MAXLEN (512 * 1024) /* the file never grows beyond this */
#define FSX_INITLEN (200 * 1024 + 123)
#define FSX_MAXIO (64 * 1024)
#define FSX_CHECK_EVERY 100

enum fsx_op {
	FSX_READ,
	FSX_READ_OLD_FD,
	FSX_WRITE,
	FSX_TRUNCATE,
	FSX_COPY_RANGE,
	FSX_MAPWRITE,
	FSX_MAPREAD,
	FSX_PUNCH_HOLE,
	FSX_FSYNC,
	FSX_REOPEN,
	FSX_NOPS,
};

static const unsigned fsx_weights[FSX_NOPS] = {
	[FSX_READ] = 20, [FSX_READ_OLD_FD] = 8, [FSX_WRITE] = 24, [FSX_TRUNCATE] = 8, [FSX_COPY_RANGE] = 10,
	[FSX_MAPWRITE] = 10, [FSX_MAPREAD] = 8, [FSX_PUNCH_HOLE] = 4, [FSX_FSYNC] = 2, [FSX_REOPEN] = 2,
};

struct fsx {
	struct st_rng rng;
	unsigned long seed;
	unsigned long opno;
	const char *backend;
	char *path;            /* the file in the merged view */
	unsigned char *model;  /* FSX_MAXLEN bytes; zeros beyond size */
	size_t size;
	unsigned char *buf;    /* FSX_MAXLEN bytes of scratch */
	int fd;                /* O_RDWR */
	int old_fd;            /* O_RDONLY, opened before the copy-up */
	long pagesize;
};

static void fsx_fail(struct fsx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void fsx_fail(struct fsx *x, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s, seed %lu, operation %lu: %s\n", x->backend, x->seed, x->opno, msg);
	st_trace_dump("operations");
	fprintf(stderr, "repeat with: LAMINA_FUSE=%s LAMINA_FSX_SEED=%lu LAMINA_FSX_OPS=%lu tests/stress/test-stress-fsx\n",
		getenv("LAMINA_FUSE") ? getenv("LAMINA_FUSE") : "PATH/TO/lamina-fuse", x->seed, x->opno);
	ck_abort_msg("%s, seed %lu, operation %lu: %s", x->backend, x->seed, x->opno, msg);
}

/* Compares got (len bytes read at off) with the model. */
static void check_bytes(struct fsx *x, const char *what, const unsigned char *got, size_t len, off_t off)
{
	if (memcmp(got, x->model + off, len) == 0)
		return;
	size_t i = 0;
	while (got[i] == x->model[off + i])
		i++;
	size_t bad = 0;
	for (size_t j = i; j < len; j++)
		bad += got[j] != x->model[off + j];
	char exp[40] = "", have[40] = "";
	for (size_t j = 0; j < 8 && i + j < len; j++) {
		snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), "%02x", x->model[off + i + j]);
		snprintf(have + strlen(have), sizeof(have) - strlen(have), "%02x", got[i + j]);
	}
	fsx_fail(x, "%s of %zu bytes at %lld: first difference at offset %lld (expected %s, got %s), %zu bytes differ",
		 what, len, (long long)off, (long long)(off + i), exp, have, bad);
}

static void check_size(struct fsx *x, int fd, const char *what)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		fsx_fail(x, "fstat (%s): %s", what, strerror(errno));
	if ((size_t)st.st_size != x->size)
		fsx_fail(x, "size (%s) is %lld, expected %zu", what, (long long)st.st_size, x->size);
}

/* pread of len bytes at off, checked against the model (a short read only
 * at the end of the file). */
static void do_read(struct fsx *x, int fd, const char *what, off_t off, size_t len)
{
	ssize_t n = pread(fd, x->buf, len, off);
	if (n < 0)
		fsx_fail(x, "%s of %zu bytes at %lld: %s", what, len, (long long)off, strerror(errno));
	size_t want = (size_t)off >= x->size ? 0 : x->size - off < len ? x->size - off : len;
	if ((size_t)n != want)
		fsx_fail(x, "%s of %zu bytes at %lld returned %zd, expected %zu (size %zu)", what, len, (long long)off,
			 n, want, x->size);
	check_bytes(x, what, x->buf, n, off);
}

static void check_whole(struct fsx *x, int fd, const char *what)
{
	check_size(x, fd, what);
	do_read(x, fd, what, 0, FSX_MAXLEN);
}

static void set_size(struct fsx *x, size_t size)
{
	if (size < x->size)
		memset(x->model + size, 0, x->size - size);
	x->size = size;
}

static void op_write(struct fsx *x)
{
	size_t len = st_rng_range(&x->rng, 1, FSX_MAXIO);
	off_t off = st_rng_below(&x->rng, FSX_MAXLEN - len + 1);
	st_rng_fill(&x->rng, x->buf, len);
	st_trace_add("%6lu write %lld..%lld (%zu bytes)", x->opno, (long long)off, (long long)(off + len), len);
	ssize_t n = pwrite(x->fd, x->buf, len, off);
	if (n != (ssize_t)len)
		fsx_fail(x, "pwrite of %zu bytes at %lld returned %zd (%s)", len, (long long)off, n,
			 n < 0 ? strerror(errno) : "short");
	memcpy(x->model + off, x->buf, len);
	if ((size_t)off + len > x->size)
		x->size = off + len;
}

static void op_truncate(struct fsx *x)
{
	size_t size = st_rng_chance(&x->rng, 10) ? 0 : st_rng_below(&x->rng, FSX_MAXLEN + 1);
	st_trace_add("%6lu truncate %zu -> %zu", x->opno, x->size, size);
	if (ftruncate(x->fd, size) < 0)
		fsx_fail(x, "ftruncate to %zu: %s", size, strerror(errno));
	set_size(x, size);
}

static void op_copy_range(struct fsx *x)
{
	if (x->size < 2) {
		st_trace_add("%6lu copy_file_range skipped (size %zu)", x->opno, x->size);
		return;
	}
	off_t in = st_rng_below(&x->rng, x->size - 1);
	size_t max = x->size - in < FSX_MAXIO ? x->size - in : FSX_MAXIO;
	size_t len = st_rng_range(&x->rng, 1, max);
	/* A destination that does not overlap the source (EINVAL otherwise). */
	off_t out;
	for (int tries = 0;; tries++) {
		out = st_rng_below(&x->rng, FSX_MAXLEN - len + 1);
		if (out + (off_t)len <= in || out >= in + (off_t)len)
			break;
		if (tries == 20) {
			st_trace_add("%6lu copy_file_range skipped (no room)", x->opno);
			return;
		}
	}
	st_trace_add("%6lu copy_file_range %lld..%lld -> %lld (%zu bytes)", x->opno, (long long)in,
		     (long long)(in + len), (long long)out, len);
	off_t oin = in, oout = out;
	size_t done = 0;
	while (done < len) {
		ssize_t n = copy_file_range(x->fd, &oin, x->fd, &oout, len - done, 0);
		if (n < 0)
			fsx_fail(x, "copy_file_range %lld -> %lld of %zu bytes: %s", (long long)in, (long long)out, len,
				 strerror(errno));
		if (n == 0)
			fsx_fail(x, "copy_file_range %lld -> %lld: 0 bytes after %zu of %zu", (long long)in,
				 (long long)out, done, len);
		done += n;
	}
	if (oin != in + (off_t)len || oout != out + (off_t)len)
		fsx_fail(x, "copy_file_range left the offsets at %lld and %lld", (long long)oin, (long long)oout);
	memmove(x->model + out, x->model + in, len);
	if ((size_t)out + len > x->size)
		x->size = out + len;
}

static void op_mapwrite(struct fsx *x)
{
	size_t len = st_rng_range(&x->rng, 1, FSX_MAXIO);
	off_t off = st_rng_below(&x->rng, FSX_MAXLEN - len + 1);
	st_rng_fill(&x->rng, x->buf, len);
	st_trace_add("%6lu mapwrite %lld..%lld (%zu bytes)%s", x->opno, (long long)off, (long long)(off + len), len,
		     (size_t)off + len > x->size ? ", extending" : "");
	if ((size_t)off + len > x->size) {
		/* A mapping cannot extend a file: grow it first, as fsx. */
		if (ftruncate(x->fd, off + len) < 0)
			fsx_fail(x, "ftruncate to %lld before mapwrite: %s", (long long)(off + len), strerror(errno));
		x->size = off + len;
	}
	off_t pg = off & ~(off_t)(x->pagesize - 1);
	size_t maplen = len + (off - pg);
	char *map = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, x->fd, pg);
	if (map == MAP_FAILED)
		fsx_fail(x, "mmap rw of %zu bytes at %lld: %s", maplen, (long long)pg, strerror(errno));
	memcpy(map + (off - pg), x->buf, len);
	if (msync(map, maplen, MS_SYNC) < 0)
		fsx_fail(x, "msync: %s", strerror(errno));
	munmap(map, maplen);
	memcpy(x->model + off, x->buf, len);
}

static void op_mapread(struct fsx *x)
{
	if (x->size == 0) {
		st_trace_add("%6lu mapread skipped (empty)", x->opno);
		return;
	}
	off_t off = st_rng_below(&x->rng, x->size);
	size_t max = x->size - off < FSX_MAXIO ? x->size - off : FSX_MAXIO;
	size_t len = st_rng_range(&x->rng, 1, max);
	st_trace_add("%6lu mapread %lld..%lld (%zu bytes)", x->opno, (long long)off, (long long)(off + len), len);
	off_t pg = off & ~(off_t)(x->pagesize - 1);
	size_t maplen = len + (off - pg);
	char *map = mmap(NULL, maplen, PROT_READ, MAP_SHARED, x->fd, pg);
	if (map == MAP_FAILED)
		fsx_fail(x, "mmap ro of %zu bytes at %lld: %s", maplen, (long long)pg, strerror(errno));
	memcpy(x->buf, map + (off - pg), len);
	munmap(map, maplen);
	check_bytes(x, "mapread", x->buf, len, off);
}

static void op_punch_hole(struct fsx *x)
{
	if (x->size == 0) {
		st_trace_add("%6lu punch hole skipped", x->opno);
		return;
	}
	off_t off = st_rng_below(&x->rng, x->size);
	size_t len = st_rng_range(&x->rng, 1, FSX_MAXIO);
	st_trace_add("%6lu punch hole %lld..%lld", x->opno, (long long)off, (long long)(off + len));
	if (fallocate(x->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) < 0)
		fsx_fail(x, "fallocate punch hole %lld+%zu: %s", (long long)off, len, strerror(errno));
	size_t end = (size_t)off + len < x->size ? (size_t)off + len : x->size;
	memset(x->model + off, 0, end - off);
}

/* Opens the merged file; what says when, for the failure message. */
static int fsx_open(struct fsx *x, int flags, const char *what)
{
	int fd = open(x->path, flags | O_CLOEXEC);
	if (fd < 0)
		fsx_fail(x, "open %s (%s): %s", x->path, what, strerror(errno));
	return fd;
}

static int reopen(struct fsx *x, int fd, int flags)
{
	lm_close(fd);
	return fsx_open(x, flags, "reopen");
}

static void fsx_step(struct fsx *x)
{
	enum fsx_op op = st_rng_weighted(&x->rng, fsx_weights, FSX_NOPS);
	off_t off;
	size_t len;

	switch (op) {
	case FSX_READ:
	case FSX_READ_OLD_FD:
		off = st_rng_below(&x->rng, x->size + 4096);
		len = st_rng_range(&x->rng, 1, FSX_MAXIO);
		st_trace_add("%6lu read%s %lld..%lld", x->opno, op == FSX_READ ? "" : " (old fd)", (long long)off,
			     (long long)(off + len));
		do_read(x, op == FSX_READ ? x->fd : x->old_fd, op == FSX_READ ? "read" : "read through the old fd",
			off, len);
		break;
	case FSX_WRITE:
		op_write(x);
		break;
	case FSX_TRUNCATE:
		op_truncate(x);
		break;
	case FSX_COPY_RANGE:
		op_copy_range(x);
		break;
	case FSX_MAPWRITE:
		op_mapwrite(x);
		break;
	case FSX_MAPREAD:
		op_mapread(x);
		break;
	case FSX_PUNCH_HOLE:
		op_punch_hole(x);
		break;
	case FSX_FSYNC:
		st_trace_add("%6lu fsync", x->opno);
		if (fsync(x->fd) < 0)
			fsx_fail(x, "fsync: %s", strerror(errno));
		break;
	case FSX_REOPEN:
		if (st_rng_chance(&x->rng, 50)) {
			st_trace_add("%6lu close and reopen O_RDWR", x->opno);
			x->fd = reopen(x, x->fd, O_RDWR);
		} else {
			st_trace_add("%6lu close and reopen the old fd O_RDONLY", x->opno);
			x->old_fd = reopen(x, x->old_fd, O_RDONLY);
		}
		break;
	case FSX_NOPS:
		break;
	}
	check_size(x, x->fd, "after the operation");
}

/* Reads a whole file outside the mount into buf; returns its size. */
static size_t read_branch_file(const char *path, unsigned char *buf, size_t max)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		tl_fail("open %s: %s", path, strerror(errno));
	size_t total = 0;
	ssize_t n;
	while (total < max && (n = read(fd, buf + total, max - total)) > 0)
		total += n;
	return total;
}

static void run_fsx(enum tl_backend backend, unsigned long seed)
{
	_cleanup_free_ char *lower = tl_strdupf("%s/lower", tl_scratch);
	_cleanup_free_ char *upper = tl_strdupf("%s/upper", tl_scratch);
	_cleanup_free_ char *work = tl_strdupf("%s/work", tl_scratch);
	_cleanup_free_ char *mnt = tl_strdupf("%s/merged", tl_scratch);
	_cleanup_free_ char *lower_file = tl_strdupf("%s/dir/file", lower);
	_cleanup_free_ char *upper_file = tl_strdupf("%s/dir/file", upper);
	const char *lowers[] = { lower };
	struct tl_union_opts o = { .lowers = lowers, .nlowers = 1, .upper = upper, .work = work };
	struct tl_union u = { 0 };
	struct fsx x = { .seed = seed, .backend = tl_backend_name(backend), .fd = -1, .old_fd = -1 };

	tl_mkdir_p(upper, 0755);
	tl_mkdir_p(work, 0755);
	tl_mkdir_p(mnt, 0755);
	tl_file_pattern(lower, "dir/file", FSX_INITLEN, (unsigned)seed);
	x.model = tl_malloc(FSX_MAXLEN);
	x.buf = tl_malloc(FSX_MAXLEN);
	_cleanup_free_ unsigned char *initial = tl_malloc(FSX_MAXLEN);
	memset(x.model, 0, FSX_MAXLEN);
	x.size = read_branch_file(lower_file, x.model, FSX_MAXLEN);
	memcpy(initial, x.model, FSX_MAXLEN);
	ck_assert_uint_eq(x.size, FSX_INITLEN);
	x.pagesize = sysconf(_SC_PAGESIZE);
	x.path = tl_strdupf("%s/dir/file", mnt);
	st_rng_seed(&x.rng, seed);
	st_trace_reset();

	if (tl_union_mount(&u, backend, &o, mnt) < 0)
		ck_abort_msg("mount with %s: %s", x.backend, u.msg);

	/* Read-only: served from the lower file, nothing copied up. */
	x.old_fd = fsx_open(&x, O_RDONLY, "read-only, before the copy-up");
	check_whole(&x, x.old_fd, "read before the copy-up");
	if (access(upper_file, F_OK) == 0)
		fsx_fail(&x, "a read-only open copied the file up");

	/* Read-write: the copy-up. */
	x.fd = fsx_open(&x, O_RDWR, "read-write, the copy-up");
	if (access(upper_file, F_OK) < 0)
		fsx_fail(&x, "open O_RDWR did not copy the file up: %s", strerror(errno));
	check_whole(&x, x.fd, "read after the copy-up");

	for (x.opno = 1; x.opno <= opt_ops; x.opno++) {
		fsx_step(&x);
		if (x.opno % FSX_CHECK_EVERY == 0) {
			check_whole(&x, x.fd, "whole-file check");
			check_whole(&x, x.old_fd, "whole-file check through the old fd");
		}
	}
	x.opno = opt_ops;
	check_whole(&x, x.fd, "final check");
	x.fd = lm_close(x.fd);
	x.old_fd = lm_close(x.old_fd);
	if (tl_union_umount(&u) < 0)
		ck_abort_msg("unmount: %s", u.msg);

	/* The branches: the copy holds the model, the lower is untouched. */
	memset(x.buf, 0, FSX_MAXLEN);
	size_t n = read_branch_file(upper_file, x.buf, FSX_MAXLEN);
	if (n != x.size)
		fsx_fail(&x, "the upper file has %zu bytes, expected %zu", n, x.size);
	check_bytes(&x, "upper branch file", x.buf, n, 0);
	n = read_branch_file(lower_file, x.buf, FSX_MAXLEN);
	if (n != FSX_INITLEN || memcmp(x.buf, initial, n) != 0)
		fsx_fail(&x, "the lower file changed");

	/* And a fresh mount reads the same. */
	if (tl_union_mount(&u, backend, &o, mnt) < 0)
		ck_abort_msg("remount with %s: %s", x.backend, u.msg);
	x.fd = fsx_open(&x, O_RDONLY, "after the remount");
	check_whole(&x, x.fd, "read after remount");
	x.fd = lm_close(x.fd);
	if (tl_union_umount(&u) < 0)
		ck_abort_msg("unmount after remount: %s", u.msg);
	printf("%s, seed %lu: %lu operations, final size %zu: ok\n", x.backend, seed, opt_ops, x.size);
	free(x.model);
	free(x.buf);
	free(x.path);
}

START_TEST(test_fsx_fuse)
{
	run_fsx(tl_oracle_fuse_backend(), opt_first_seed + (unsigned long)_i);
}
END_TEST

/* The same run on the kernel's overlayfs: if this fails, the test is wrong. */
START_TEST(test_fsx_kernel)
{
	run_fsx(TL_KERNEL, opt_first_seed);
}
END_TEST

int main(void)
{
	opt_first_seed = st_env_ulong("LAMINA_FSX_SEED", 1);
	opt_seeds = st_env_ulong("LAMINA_FSX_SEEDS", getenv("LAMINA_FSX_SEED") ? 1 : 2);
	opt_ops = st_env_ulong("LAMINA_FSX_OPS", 4000);

	Suite *s = suite_create("stress-fsx");
	TCase *tc = tcase_create("fsx");
	tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
	tcase_set_timeout(tc, 60 + opt_ops / 50);
	tcase_add_test(tc, test_fsx_kernel);
	tcase_add_loop_test(tc, test_fsx_fuse, 0, (int)opt_seeds);
	suite_add_tcase(s, tc);
	return tl_run_suite(s, "test-stress-fsx", TL_NEED_ROOT | TL_NEED_FUSE | TL_NEED_OVERLAY | TL_NEED_LAMINA);
}
