/*
 * tests/stress/test-stress-random.c: a seeded random differential test.
 *
 * Two unions over identical fresh branches are mounted side by side: one by
 * the kernel's overlayfs (the oracle), one by the FUSE backend under test
 * (lamina-fuse; fuse-overlayfs with TL_FUSE_BACKEND=fuse-overlayfs). A seeded
 * generator picks operations (create, write at random offsets, append,
 * truncate, rename with its flags, unlink, mkdir, rmdir, link, symlink,
 * chmod, set/remove xattrs, and operations on a file held open across the
 * others) on a small pool of names, so that they collide often, and applies
 * each to both mounts. The result and errno of every step, and what stat,
 * read, readdir and listxattr observe, must be the same on both; every
 * LAMINA_STRESS_EVERY steps and at the end the whole merged trees must be
 * equal too. After the run, the FUSE side is remounted (the tree must not
 * change across a remount) and the kernel mounts the FUSE side's branches
 * (the upper branch lamina wrote must read the same through the kernel).
 *
 * The lowers hold directories to merge, whiteouts and an opaque directory
 * (in the kernel's form: the kernel does not read the ".wh." forms), hard
 * links, a symlink, a fifo, a sparse file and xattrs. The kernel mounts with
 * index=on (LAMINA_STRESS_KERNEL_OPTS): that is the kernel mode in which a
 * hard-linked lower file stays one file across copy-up, which is what
 * lamina-fuse promises.
 *
 * Knobs (environment): LAMINA_STRESS_SEED (first seed, default 1),
 * LAMINA_STRESS_SEEDS (how many, default 8; 1 when LAMINA_STRESS_SEED is
 * set), LAMINA_STRESS_STEPS (per seed, default 500), LAMINA_STRESS_EVERY
 * (tree comparison period, default 50). A failure prints the seed, the step,
 * both sides' results, the last operations and the command that repeats it.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"
#include "tests/stress/stress.h"

static unsigned long opt_first_seed, opt_seeds, opt_steps, opt_every;
static const char *opt_kernel_opts, *opt_fuse_opts;

/* The bottom lower. Names come from "abcde" so that random paths hit them. */
static const char *const lower_bottom[] = {
	"dir a",
	"file a/a bottom a/a\\n",
	"data a/b 5000 1",
	"file a/c/a bottom a/c/a",
	"link a/c/b a/a", /* a/a is hidden by the top lower, a/c/b is not */
	"file b/a bottom b/a",
	"symlink b/b ../a/a",
	"file b/c/d deep in the bottom",
	"file c bottom c",
	"xattr c user.k0 bottom-xattr",
	"file d/a/a hidden by the opaque d above",
	"file d/c bottom d/c",
	"fifo e/a",
	"file e/e bottom e/e",
	"mode a/c 0700",
	NULL,
};

/* The top lower: overrides, whiteouts, an opaque directory, hard links. */
static const char *const lower_top[] = {
	"file a/a top a/a\\n",
	"whiteout a/b",
	"dir b",
	"file b/e top b/e",
	"xattr b/e user.k1 top-xattr",
	"whiteout c",
	"opaque d",
	"file d/b top d/b",
	"file e/b top e/b: three names\\n",
	"link e/c e/b",
	"link a/d e/b",
	"data e/d 20000 2",
	"sparse e/e 100000 50000 the middle of a sparse file",
	"symlink e/s ../a/d",
	NULL,
};

/* One union and what the steps record about it. */
struct side {
	const char *name;
	enum tl_backend backend;
	char *lowers[2];
	char *upper, *work, *mnt;
	struct tl_union u;
	int root;       /* O_RDONLY|O_DIRECTORY of the mount point */
	int held;       /* a file held open across steps, or -1 */
	struct tl_log log;
};

enum op_kind {
	OP_CREATE,
	OP_WRITE,
	OP_APPEND,
	OP_TRUNCATE,
	OP_FTRUNCATE,
	OP_RENAME,
	OP_UNLINK,
	OP_MKDIR,
	OP_RMDIR,
	OP_LINK,
	OP_SYMLINK,
	OP_CHMOD,
	OP_SETXATTR,
	OP_REMOVEXATTR,
	OP_STAT,
	OP_READ,
	OP_LIST,
	OP_XATTRS,
	OP_HOLD,
	OP_HELD_WRITE,
	OP_HELD_READ,
	OP_HELD_STAT,
	OP_HELD_CLOSE,
	OP_COUNT,
};

static const unsigned op_weights[OP_COUNT] = {
	[OP_CREATE] = 10, [OP_WRITE] = 10, [OP_APPEND] = 4, [OP_TRUNCATE] = 5, [OP_FTRUNCATE] = 3,
	[OP_RENAME] = 12, [OP_UNLINK] = 8, [OP_MKDIR] = 8, [OP_RMDIR] = 6, [OP_LINK] = 6,
	[OP_SYMLINK] = 4, [OP_CHMOD] = 5, [OP_SETXATTR] = 5, [OP_REMOVEXATTR] = 2, [OP_STAT] = 6,
	[OP_READ] = 6, [OP_LIST] = 5, [OP_XATTRS] = 2, [OP_HOLD] = 3, [OP_HELD_WRITE] = 2,
	[OP_HELD_READ] = 2, [OP_HELD_STAT] = 2, [OP_HELD_CLOSE] = 1,
};

#define MAX_DATA 6000

/* One generated operation: everything both sides need to do the same. */
struct op {
	enum op_kind kind;
	char p1[32], p2[32], target[40];
	int flags;
	mode_t mode;
	off_t off;
	size_t len;
	char xname[32];
	char data[MAX_DATA];
	char desc[200];
};

/* A path of 1 to 3 components from "abcde", mostly shallow. */
static void random_path(struct st_rng *rng, char *buf)
{
	unsigned depth = 1 + st_rng_weighted(rng, (const unsigned[]){ 4, 4, 2 }, 3);
	char *p = buf;
	for (unsigned i = 0; i < depth; i++) {
		if (i)
			*p++ = '/';
		*p++ = "abcde"[st_rng_below(rng, 5)];
	}
	*p = '\0';
}

static const char *open_flags_str(int flags)
{
	static char buf[80];
	snprintf(buf, sizeof(buf), "%s%s%s%s", (flags & O_ACCMODE) == O_RDWR ? "O_RDWR" : "O_WRONLY",
		 flags & O_EXCL ? "|O_EXCL" : "", flags & O_TRUNC ? "|O_TRUNC" : "",
		 flags & O_APPEND ? "|O_APPEND" : "");
	return buf;
}

static const char *rename_flags_str(int flags)
{
	return flags == RENAME_NOREPLACE ? "NOREPLACE" : flags == RENAME_EXCHANGE ? "EXCHANGE" : "0";
}

/* Picks the next operation and its arguments. */
static void op_generate(struct st_rng *rng, struct op *op)
{
	static const mode_t file_modes[] = { 0644, 0600, 0755, 0444, 0640 };
	static const mode_t chmod_modes[] = { 0644, 0600, 0755, 0700, 0444, 0555, 0777, 02755, 04755, 01777 };
	static const mode_t dir_modes[] = { 0755, 0700, 0777, 0750 };

	memset(op, 0, sizeof(*op));
	op->kind = st_rng_weighted(rng, op_weights, OP_COUNT);
	random_path(rng, op->p1);
	random_path(rng, op->p2);
	snprintf(op->xname, sizeof(op->xname), "user.k%u", (unsigned)st_rng_below(rng, 3));

	switch (op->kind) {
	case OP_CREATE:
		op->flags = O_WRONLY | (st_rng_chance(rng, 30) ? O_EXCL : 0) | (st_rng_chance(rng, 30) ? O_TRUNC : 0);
		op->mode = file_modes[st_rng_below(rng, ELEMENTSOF(file_modes))];
		op->len = st_rng_range(rng, 0, 300);
		st_rng_fill(rng, op->data, op->len);
		snprintf(op->desc, sizeof(op->desc), "create %s %s|O_CREAT mode %04o, write %zu bytes", op->p1,
			 open_flags_str(op->flags), (unsigned)op->mode, op->len);
		break;
	case OP_WRITE:
	case OP_APPEND:
	case OP_HELD_WRITE:
		op->flags = (st_rng_chance(rng, 50) ? O_RDWR : O_WRONLY) | (op->kind == OP_APPEND ? O_APPEND : 0);
		op->off = st_rng_chance(rng, 20) ? (off_t)st_rng_range(rng, 20000, 120000)
						 : (off_t)st_rng_below(rng, 8000);
		op->len = st_rng_range(rng, 1, MAX_DATA);
		st_rng_fill(rng, op->data, op->len);
		if (op->kind == OP_HELD_WRITE)
			snprintf(op->desc, sizeof(op->desc), "held fd: pwrite %zu bytes at %lld", op->len,
				 (long long)op->off);
		else
			snprintf(op->desc, sizeof(op->desc), "open %s %s, %s %zu bytes at %lld", op->p1,
				 open_flags_str(op->flags), op->kind == OP_APPEND ? "write" : "pwrite", op->len,
				 (long long)op->off);
		break;
	case OP_TRUNCATE:
	case OP_FTRUNCATE:
		op->off = st_rng_chance(rng, 30) ? 0 : (off_t)st_rng_below(rng, 30000);
		snprintf(op->desc, sizeof(op->desc), "%s %s to %lld", op->kind == OP_TRUNCATE ? "truncate" : "ftruncate",
			 op->p1, (long long)op->off);
		break;
	case OP_RENAME: {
		static const int flags[] = { 0, 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE };
		op->flags = flags[st_rng_below(rng, ELEMENTSOF(flags))];
		snprintf(op->desc, sizeof(op->desc), "rename %s -> %s flags %s", op->p1, op->p2,
			 rename_flags_str(op->flags));
		break;
	}
	case OP_UNLINK:
		snprintf(op->desc, sizeof(op->desc), "unlink %s", op->p1);
		break;
	case OP_MKDIR:
		op->mode = dir_modes[st_rng_below(rng, ELEMENTSOF(dir_modes))];
		snprintf(op->desc, sizeof(op->desc), "mkdir %s mode %04o", op->p1, (unsigned)op->mode);
		break;
	case OP_RMDIR:
		snprintf(op->desc, sizeof(op->desc), "rmdir %s", op->p1);
		break;
	case OP_LINK:
		snprintf(op->desc, sizeof(op->desc), "link %s -> new name %s", op->p1, op->p2);
		break;
	case OP_SYMLINK:
		/* Relative targets in the pool: the kernel resolves them inside
		 * the mount (or, with "../" at the top, in the side's own
		 * scratch folder, where no pool name exists on either side). */
		snprintf(op->target, sizeof(op->target), "%s%s", st_rng_chance(rng, 30) ? "../" : "", op->p2);
		snprintf(op->desc, sizeof(op->desc), "symlink %s -> '%s'", op->p1, op->target);
		break;
	case OP_CHMOD:
		op->mode = chmod_modes[st_rng_below(rng, ELEMENTSOF(chmod_modes))];
		snprintf(op->desc, sizeof(op->desc), "chmod %s %04o", op->p1, (unsigned)op->mode);
		break;
	case OP_SETXATTR: {
		static const int flags[] = { 0, 0, XATTR_CREATE, XATTR_REPLACE };
		op->flags = flags[st_rng_below(rng, ELEMENTSOF(flags))];
		if (st_rng_chance(rng, 5))
			strcpy(op->xname, "trusted.overlay.opaque");
		op->len = st_rng_range(rng, 0, 40);
		st_rng_fill(rng, op->data, op->len);
		snprintf(op->desc, sizeof(op->desc), "setxattr %s %s (%zu bytes) flags %s", op->p1, op->xname,
			 op->len,
			 op->flags == XATTR_CREATE ? "CREATE" : op->flags == XATTR_REPLACE ? "REPLACE" : "0");
		break;
	}
	case OP_REMOVEXATTR:
		snprintf(op->desc, sizeof(op->desc), "removexattr %s %s", op->p1, op->xname);
		break;
	case OP_STAT:
		snprintf(op->desc, sizeof(op->desc), "lstat %s", op->p1);
		break;
	case OP_READ:
		op->flags = st_rng_chance(rng, 70) ? O_NOFOLLOW : 0;
		snprintf(op->desc, sizeof(op->desc), "read all of %s%s", op->p1,
			 op->flags ? " (O_NOFOLLOW)" : " (following symlinks)");
		break;
	case OP_LIST:
		if (st_rng_chance(rng, 25))
			strcpy(op->p1, ".");
		snprintf(op->desc, sizeof(op->desc), "readdir %s", op->p1);
		break;
	case OP_XATTRS:
		snprintf(op->desc, sizeof(op->desc), "list xattrs of %s", op->p1);
		break;
	case OP_HOLD:
		snprintf(op->desc, sizeof(op->desc), "hold %s open O_RDWR", op->p1);
		break;
	case OP_HELD_READ:
		op->off = st_rng_below(rng, 8000);
		snprintf(op->desc, sizeof(op->desc), "held fd: pread 256 bytes at %lld", (long long)op->off);
		break;
	case OP_HELD_STAT:
		snprintf(op->desc, sizeof(op->desc), "held fd: fstat");
		break;
	case OP_HELD_CLOSE:
		snprintf(op->desc, sizeof(op->desc), "held fd: close");
		break;
	case OP_COUNT:
		break;
	}
}

static uint64_t fnv1a(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* Reads fd to its end and records size and hash, or the errno. */
static void log_read_all(struct tl_log *log, const char *label, int fd)
{
	char buf[65536];
	size_t total = 0;
	uint64_t h = 1469598103934665603ull;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0) {
			tl_log_add(log, "%s: read = %s after %zu bytes", label, tl_errname(errno), total);
			return;
		}
		if (n == 0)
			break;
		h ^= fnv1a(buf, n) + total;
		total += n;
	}
	tl_log_add(log, "%s: %zu bytes, hash %016llx", label, total, (unsigned long long)h);
}

/* Opens p1 for a data operation: never blocks (the fifo), never follows a
 * final symlink. */
static int open_p1(struct side *s, const struct op *op, int flags, mode_t mode)
{
	return openat(s->root, op->p1, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
}

static void held_close(struct side *s)
{
	if (s->held >= 0)
		close(s->held);
	s->held = -1;
}

/* Applies op to one side, appending what happened to its log. */
static void op_apply(struct side *s, const struct op *op)
{
	struct tl_log *log = &s->log;
	char path[PATH_MAX];
	char buf[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", s->mnt, op->p1);
	switch (op->kind) {
	case OP_CREATE:
		fd = TL_TRY_(log, "open", open_p1(s, op, op->flags | O_CREAT, op->mode), false);
		if (fd >= 0) {
			TL_TRY_(log, "pwrite", pwrite(fd, op->data, op->len, 0), true);
			tl_log_fstat(log, "fstat", fd);
			close(fd);
		}
		break;
	case OP_WRITE:
	case OP_APPEND:
		fd = TL_TRY_(log, "open", open_p1(s, op, op->flags, 0), false);
		if (fd >= 0) {
			if (op->kind == OP_APPEND)
				TL_TRY_(log, "write", write(fd, op->data, op->len), true);
			else
				TL_TRY_(log, "pwrite", pwrite(fd, op->data, op->len, op->off), true);
			tl_log_fstat(log, "fstat", fd);
			close(fd);
		}
		break;
	case OP_TRUNCATE:
		TL_TRY_(log, "truncate", truncate(path, op->off), false);
		break;
	case OP_FTRUNCATE:
		fd = TL_TRY_(log, "open", open_p1(s, op, O_WRONLY, 0), false);
		if (fd >= 0) {
			TL_TRY_(log, "ftruncate", ftruncate(fd, op->off), false);
			tl_log_fstat(log, "fstat", fd);
			close(fd);
		}
		break;
	case OP_RENAME:
		TL_TRY_(log, "renameat2", renameat2(s->root, op->p1, s->root, op->p2, op->flags), false);
		break;
	case OP_UNLINK:
		TL_TRY_(log, "unlink", unlinkat(s->root, op->p1, 0), false);
		break;
	case OP_MKDIR:
		TL_TRY_(log, "mkdir", mkdirat(s->root, op->p1, op->mode), false);
		break;
	case OP_RMDIR:
		TL_TRY_(log, "rmdir", unlinkat(s->root, op->p1, AT_REMOVEDIR), false);
		break;
	case OP_LINK:
		TL_TRY_(log, "link", linkat(s->root, op->p1, s->root, op->p2, 0), false);
		tl_log_fstatat(log, s->root, op->p2, AT_SYMLINK_NOFOLLOW);
		break;
	case OP_SYMLINK:
		TL_TRY_(log, "symlink", symlinkat(op->target, s->root, op->p1), false);
		break;
	case OP_CHMOD:
		TL_TRY_(log, "chmod", fchmodat(s->root, op->p1, op->mode, 0), false);
		tl_log_fstatat(log, s->root, op->p1, 0);
		break;
	case OP_SETXATTR:
		TL_TRY_(log, "lsetxattr", lsetxattr(path, op->xname, op->data, op->len, op->flags), false);
		break;
	case OP_REMOVEXATTR:
		TL_TRY_(log, "lremovexattr", lremovexattr(path, op->xname), false);
		break;
	case OP_STAT:
		tl_log_fstatat(log, s->root, op->p1, AT_SYMLINK_NOFOLLOW);
		break;
	case OP_READ:
		fd = TL_TRY_(log, "open", openat(s->root, op->p1, O_RDONLY | O_NONBLOCK | O_CLOEXEC | op->flags), false);
		if (fd >= 0) {
			log_read_all(log, "content", fd);
			close(fd);
		}
		break;
	case OP_LIST:
		tl_log_listdir(log, s->root, op->p1);
		break;
	case OP_XATTRS:
		tl_log_xattrs(log, "xattrs", path);
		break;
	case OP_HOLD:
		held_close(s);
		s->held = TL_TRY_(log, "open", open_p1(s, op, O_RDWR, 0), false);
		break;
	case OP_HELD_WRITE:
		if (s->held < 0)
			tl_log_add(log, "no held fd");
		else
			TL_TRY_(log, "pwrite", pwrite(s->held, op->data, op->len, op->off), true);
		break;
	case OP_HELD_READ:
		if (s->held < 0)
			tl_log_add(log, "no held fd");
		else
			tl_log_pread(log, "pread", s->held, 256, op->off);
		break;
	case OP_HELD_STAT:
		if (s->held < 0)
			tl_log_add(log, "no held fd");
		else
			tl_log_fstat(log, "fstat", s->held);
		break;
	case OP_HELD_CLOSE:
		snprintf(buf, sizeof(buf), "close held fd (%s)", s->held >= 0 ? "open" : "none");
		tl_log_add(log, "%s", buf);
		held_close(s);
		break;
	case OP_COUNT:
		break;
	}
}

static void side_init(struct side *s, const char *name, enum tl_backend backend, const char *dir)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->backend = backend;
	s->root = -1;
	s->held = -1;
	for (int i = 0; i < 2; i++) {
		s->lowers[i] = tl_strdupf("%s/l%d", dir, i);
		tl_mkdir_p(s->lowers[i], 0755);
	}
	s->upper = tl_strdupf("%s/u", dir);
	s->work = tl_strdupf("%s/w", dir);
	s->mnt = tl_strdupf("%s/m", dir);
	tl_mkdir_p(s->upper, 0755);
	tl_mkdir_p(s->work, 0755);
	tl_mkdir_p(s->mnt, 0755);
	tl_branch_build(s->lowers[0], lower_top);
	tl_branch_build(s->lowers[1], lower_bottom);
}

static void side_mount(struct side *s, enum tl_backend backend, const char *work, const char *extra)
{
	const char *lowers[2] = { s->lowers[0], s->lowers[1] };
	struct tl_union_opts o = { .lowers = lowers, .nlowers = 2, .upper = s->upper, .work = work, .extra = extra };
	int r = tl_union_mount(&s->u, backend, &o, s->mnt);
	if (r < 0)
		tl_fail("mount of the %s side with %s: %s", s->name, tl_backend_name(backend), s->u.msg);
	s->root = open(s->mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->root < 0)
		tl_fail("open of mount point %s: %s", s->mnt, strerror(errno));
}

static void side_umount(struct side *s)
{
	held_close(s);
	s->root = lm_close(s->root);
	if (tl_union_umount(&s->u) < 0)
		tl_fail("unmount of the %s side: %s", s->name, s->u.msg);
}

static void side_free(struct side *s)
{
	held_close(s);
	lm_close(s->root);
	for (int i = 0; i < 2; i++)
		free(s->lowers[i]);
	free(s->upper);
	free(s->work);
	free(s->mnt);
	tl_log_release(&s->log);
}

static void snapshot(const char *mnt, struct tl_tree *t)
{
	int r = tl_tree_snapshot(mnt, t);
	if (r < 0)
		tl_fail("snapshot of %s: %s", mnt, strerror(-r));
}

/* On a failure: says how to repeat it, and with LAMINA_STRESS_PAUSE=SECONDS
 * waits that long with the mounts up, for a look at them. */
static void repro_hint(unsigned long seed, unsigned long step)
{
	unsigned long pause = st_env_ulong("LAMINA_STRESS_PAUSE", 0);
	const char *fuse = getenv("LAMINA_FUSE");
	fprintf(stderr, "repeat with: LAMINA_FUSE=%s LAMINA_STRESS_SEED=%lu LAMINA_STRESS_STEPS=%lu%s%s %s\n",
		fuse ? fuse : "PATH/TO/lamina-fuse", seed, step,
		getenv("TL_FUSE_BACKEND") ? " TL_FUSE_BACKEND=" : "",
		getenv("TL_FUSE_BACKEND") ? getenv("TL_FUSE_BACKEND") : "", "tests/stress/test-stress-random");
	if (pause) {
		fprintf(stderr, "pausing %lu s: the mounts are under %s\n", pause, tl_scratch);
		sleep(pause);
	}
}

/*
 * The tree comparisons leave out "sparse or not": tl_tree_diff() judges it
 * from st_blocks, which on ext4 also counts an external xattr block, and
 * the two uppers carry different private xattrs (the kernel's
 * trusted.overlay.origin, lamina's own), so a small file can look fully
 * allocated on one side only. Holes are the fsx test's and the scenario
 * tests' subject; contents and sizes are compared here.
 */
#define TREE_DIFF_FLAGS TL_DIFF_NO_SPARSE

/* Compares the two merged trees; ends the test on a difference. */
static void compare_trees(struct side *k, struct side *f, unsigned long seed, unsigned long step, const char *when)
{
	struct tl_tree tk, tf;
	struct tl_buf report = TL_BUF_INIT;
	snapshot(k->mnt, &tk);
	snapshot(f->mnt, &tf);
	size_t n = tl_tree_diff(&tk, &tf, k->name, f->name, TREE_DIFF_FLAGS | TL_DIFF_DINO_IF_FIRST, &report);
	tl_tree_release(&tk);
	tl_tree_release(&tf);
	if (n == 0) {
		tl_buf_release(&report);
		return;
	}
	fprintf(stderr, "seed %lu: the merged trees differ %s (step %lu):\n%s", seed, when, step, tl_buf_str(&report));
	st_trace_dump("operations");
	repro_hint(seed, step);
	ck_abort_msg("seed %lu, step %lu: %zu differences between the merged trees %s, first: %.300s", seed, step,
		     n, when, tl_buf_str(&report));
}

/* The lines each side added since from[]; ends the test if they differ. */
static void compare_step(struct side *k, struct side *f, const size_t from[2], unsigned long seed,
			 unsigned long step, const struct op *op)
{
	size_t nk = k->log.n - from[0], nf = f->log.n - from[1];
	size_t n = nk > nf ? nk : nf;
	for (size_t i = 0; i < n; i++) {
		const char *lk = i < nk ? k->log.lines[from[0] + i] : "(nothing)";
		const char *lf = i < nf ? f->log.lines[from[1] + i] : "(nothing)";
		if (strcmp(lk, lf) == 0)
			continue;
		fprintf(stderr, "seed %lu, step %lu: %s\n  %s: %s\n  %s: %s\n", seed, step, op->desc, k->name, lk,
			f->name, lf);
		st_trace_dump("operations");
		repro_hint(seed, step);
		ck_abort_msg("seed %lu, step %lu: %s: %s says '%s', %s says '%s'", seed, step, op->desc, k->name, lk,
			     f->name, lf);
	}
}

/* After the run: the FUSE side's tree survives a remount, and the kernel
 * reads the FUSE side's branches the same way. */
static void check_after(struct side *k, struct side *f, struct tl_tree *final, unsigned long seed)
{
	struct tl_tree t;
	struct tl_buf report = TL_BUF_INIT;
	size_t n;

	side_mount(f, f->backend, f->work, opt_fuse_opts);
	snapshot(f->mnt, &t);
	n = tl_tree_diff(final, &t, "before remount", "after remount", TREE_DIFF_FLAGS, &report);
	tl_tree_release(&t);
	side_umount(f);
	if (n) {
		fprintf(stderr, "seed %lu: %s's tree changed across a remount:\n%s", seed, f->name, tl_buf_str(&report));
		ck_abort_msg("seed %lu: %zu differences across a remount of %s: %.300s", seed, n, f->name,
			     tl_buf_str(&report));
	}

	_cleanup_free_ char *work2 = tl_strdupf("%s2", f->work);
	tl_mkdir_p(work2, 0755);
	side_mount(f, TL_KERNEL, work2, NULL);
	snapshot(f->mnt, &t);
	/* Link counts aside: a hard link's lower names that the merged view
	 * hides still count on lamina-fuse (as on the kernel with index=on,
	 * the oracle above), and a kernel without an index cannot know them.
	 * Which paths share an inode is still compared. */
	n = tl_tree_diff(final, &t, f->name, "kernel on its branches", TREE_DIFF_FLAGS | TL_DIFF_NO_NLINK, &report);
	tl_tree_release(&t);
	side_umount(f);
	if (n) {
		fprintf(stderr, "seed %lu: the kernel reads %s's branches differently:\n%s", seed, f->name,
			tl_buf_str(&report));
		ck_abort_msg("seed %lu: %zu differences when the kernel mounts %s's branches: %.300s", seed, n,
			     f->name, tl_buf_str(&report));
	}
	tl_buf_release(&report);
	(void)k;
}

START_TEST(test_random_seed)
{
	unsigned long seed = opt_first_seed + (unsigned long)_i;
	enum tl_backend fuse = tl_oracle_fuse_backend();
	_cleanup_free_ char *kdir = tl_strdupf("%s/kernel", tl_scratch);
	_cleanup_free_ char *fdir = tl_strdupf("%s/fuse", tl_scratch);
	struct side k, f;
	struct st_rng rng;
	struct op op;

	side_init(&k, "kernel", TL_KERNEL, kdir);
	side_init(&f, tl_backend_name(fuse), fuse, fdir);
	side_mount(&k, TL_KERNEL, k.work, opt_kernel_opts);
	side_mount(&f, fuse, f.work, opt_fuse_opts);
	st_rng_seed(&rng, seed);
	st_trace_reset();
	printf("seed %lu: %lu steps, kernel (%s) against %s\n", seed, opt_steps, opt_kernel_opts, f.name);

	compare_trees(&k, &f, seed, 0, "at the start");
	for (unsigned long step = 1; step <= opt_steps; step++) {
		size_t from[2] = { k.log.n, f.log.n };
		op_generate(&rng, &op);
		st_trace_add("%4lu: %s", step, op.desc);
		op_apply(&k, &op);
		op_apply(&f, &op);
		compare_step(&k, &f, from, seed, step, &op);
		if (opt_every && step % opt_every == 0)
			compare_trees(&k, &f, seed, step, "after a step");
	}
	held_close(&k);
	held_close(&f);
	compare_trees(&k, &f, seed, opt_steps, "at the end");

	struct tl_tree final;
	snapshot(f.mnt, &final);
	side_umount(&k);
	side_umount(&f);
	check_after(&k, &f, &final, seed);
	tl_tree_release(&final);
	side_free(&k);
	side_free(&f);
}
END_TEST

int main(void)
{
	opt_first_seed = st_env_ulong("LAMINA_STRESS_SEED", 1);
	opt_seeds = st_env_ulong("LAMINA_STRESS_SEEDS", getenv("LAMINA_STRESS_SEED") ? 1 : 8);
	opt_steps = st_env_ulong("LAMINA_STRESS_STEPS", 500);
	opt_every = st_env_ulong("LAMINA_STRESS_EVERY", 50);
	opt_kernel_opts = getenv("LAMINA_STRESS_KERNEL_OPTS");
	if (!opt_kernel_opts)
		opt_kernel_opts = "index=on";
	opt_fuse_opts = getenv("LAMINA_STRESS_FUSE_OPTS");

	Suite *s = suite_create("stress-random");
	TCase *tc = tcase_create("differential");
	tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
	/* A seed is a few seconds; the sanitizer build and a slow disk get room. */
	tcase_set_timeout(tc, 60 + opt_steps / 4);
	tcase_add_loop_test(tc, test_random_seed, 0, (int)opt_seeds);
	suite_add_tcase(s, tc);
	return tl_run_suite(s, "test-stress-random", TL_NEED_ROOT | TL_NEED_FUSE | TL_NEED_OVERLAY | TL_NEED_LAMINA);
}
