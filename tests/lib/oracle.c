/*
 * tests/lib/oracle.c: the kernel as the test oracle. A scenario's steps run
 * once on `mount -t overlay` and once on a FUSE union over identical fresh
 * branches; the step logs (errno of every step) and the merged trees must be
 * equal, and each implementation must read what the other wrote in its
 * upper branch (DESIGN.md: the on-disk format is the kernel's).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"

/* Report sent through Check's pipe is cut here; the whole one goes to stderr. */
#define ASSERT_REPORT_MAX 3500

const char *tl_ctx_path(struct tl_ctx *ctx, const char *rel)
{
	char *p = ctx->paths[ctx->next_path++ % ELEMENTSOF(ctx->paths)];
	int n = snprintf(p, sizeof(ctx->paths[0]), "%s/%s", ctx->mnt, rel);

	if (n < 0 || (size_t)n >= sizeof(ctx->paths[0]))
		tl_fail("tl_ctx_path: path of %zu bytes too long for the buffer", strlen(rel));
	return p;
}

enum tl_backend tl_oracle_fuse_backend(void)
{
	const char *b = getenv("TL_FUSE_BACKEND");

	return b && !strcmp(b, "fuse-overlayfs") ? TL_FUSE_OVERLAYFS : TL_LAMINA;
}

/* One implementation's copy of the branches, under DIR/NAME. */
struct side {
	enum tl_backend backend;
	const char *name;
	char *dir;
	char *lowers[TL_MAX_LOWERS];
	size_t nlowers;
	char *upper; /* NULL: read-only */
	char *work;
	const char *extra; /* the scenario's options for this backend */
};

static void side_build(struct side *s, const char *dir, enum tl_backend backend, const struct tl_scenario *sc)
{
	const struct tl_layout *lay = &sc->layout;

	s->backend = backend;
	s->name = tl_backend_name(backend);
	s->dir = tl_strdupf("%s/%s", dir, backend == TL_KERNEL ? "kernel" : "fuse");
	s->extra = backend == TL_KERNEL ? sc->kernel_opts : sc->fuse_opts;
	unsigned build = backend == TL_KERNEL && (sc->flags & TL_ORACLE_KERNEL_MARKERS) ? TL_BUILD_KERNEL_MARKERS : 0;

	for (s->nlowers = 0; s->nlowers < TL_MAX_LOWERS && lay->lowers[s->nlowers]; s->nlowers++) {
		s->lowers[s->nlowers] = tl_strdupf("%s/l%zu", s->dir, s->nlowers);
		tl_branch_build_flags(s->lowers[s->nlowers], lay->lowers[s->nlowers], build);
	}
	if (!lay->readonly) {
		s->upper = tl_strdupf("%s/u", s->dir);
		s->work = tl_strdupf("%s/w", s->dir);
		tl_branch_build_flags(s->upper, lay->upper, build);
		tl_mkdir(s->work, ".", 0755);
	}
}

static void side_release(struct side *s)
{
	for (size_t i = 0; i < s->nlowers; i++)
		free(s->lowers[i]);
	free(s->dir);
	free(s->upper);
	free(s->work);
}

/*
 * Mounts s's branches with backend (options extra) at a new directory
 * s->dir/MNT, with work as the workdir. Returns 0, or -1 with the failure
 * appended to report.
 */
static int side_mount(const struct side *s, struct tl_union *u, enum tl_backend backend, const char *extra,
		      const char *mnt_name, const char *work, struct tl_buf *report)
{
	_cleanup_free_ char *mnt = tl_strdupf("%s/%s", s->dir, mnt_name);
	struct tl_union_opts o = {
		(const char *const *)s->lowers, s->nlowers, s->upper, work, extra,
	};

	tl_mkdir(mnt, ".", 0755);
	if (work)
		tl_mkdir(work, ".", 0755);
	if (tl_union_mount(u, backend, &o, mnt) == 0)
		return 0;
	tl_buf_printf(report, "  %s: mount failed: %s\n", tl_backend_name(backend), u->msg);
	tl_union_umount(u);
	return -1;
}

/* Unmounts u; a failure (a daemon that would not exit) is a difference. */
static size_t side_umount(struct tl_union *u, struct tl_buf *report)
{
	if (tl_union_umount(u) == 0)
		return 0;
	tl_buf_printf(report, "  %s: unmount: %s\n", tl_backend_name(u->backend), u->msg);
	return 1;
}

/* Mounts s, runs the steps into log, snapshots the merged tree into tree.
 * Returns the number of failures (appended to report). */
static size_t side_run(const struct tl_scenario *sc, const struct side *s, struct tl_log *log, struct tl_tree *tree,
		       struct tl_buf *report)
{
	struct tl_union u;
	struct tl_ctx *ctx;
	size_t fails = 0;
	int r;

	if (side_mount(s, &u, s->backend, s->extra, "m", s->work, report) < 0)
		return 1;
	ctx = tl_malloc(sizeof(*ctx));
	memset(ctx, 0, sizeof(*ctx));
	ctx->backend = s->backend;
	ctx->mnt = u.mnt;
	ctx->log = log;
	ctx->arg = sc->arg;
	ctx->root = open(u.mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ctx->root < 0) {
		tl_buf_printf(report, "  %s: open '%s': %s\n", s->name, u.mnt, tl_errname(errno));
		fails++;
	} else if (sc->steps) {
		sc->steps(ctx);
	}
	lm_close(ctx->root);
	free(ctx);
	r = tl_tree_snapshot(u.mnt, tree);
	if (r < 0) {
		tl_buf_printf(report, "  %s: snapshot of the merged tree: %s\n", s->name, tl_errname(-r));
		fails++;
	}
	return fails + side_umount(&u, report);
}

size_t tl_scenario_run_one(const struct tl_scenario *sc, const char *dir, enum tl_backend backend, struct tl_log *log,
			   struct tl_tree *ret_tree, struct tl_buf *report)
{
	struct side s = { 0 };
	struct tl_tree tree = { NULL, 0 };
	size_t fails;

	side_build(&s, dir, backend, sc);
	fails = side_run(sc, &s, log, &tree, report);
	if (ret_tree)
		*ret_tree = tree;
	else
		tl_tree_release(&tree);
	side_release(&s);
	return fails;
}

/*
 * Interop: mounts the branches of s (its lowers and the upper it wrote) with
 * the other backend and a fresh workdir, and compares that view with what s
 * itself showed (expect).
 */
static size_t interop(const struct side *s, enum tl_backend other, const char *other_extra,
		      const struct tl_tree *expect, unsigned diff_flags, struct tl_buf *report)
{
	_cleanup_free_ char *work = tl_strdupf("%s/w-interop", s->dir);
	_cleanup_free_ char *label = tl_strdupf("%s-reading-%s's-upper", tl_backend_name(other), s->name);
	struct tl_tree tree = { NULL, 0 };
	struct tl_union u;
	size_t diffs;
	int r;

	if (side_mount(s, &u, other, other_extra, "m-interop", work, report) < 0)
		return 1;
	r = tl_tree_snapshot(u.mnt, &tree);
	if (r < 0) {
		tl_buf_printf(report, "  %s: snapshot: %s\n", label, tl_errname(-r));
		diffs = 1;
	} else {
		diffs = tl_tree_diff(expect, &tree, s->name, label, diff_flags, report);
	}
	tl_tree_release(&tree);
	return diffs + side_umount(&u, report);
}

/* Moves sec, if not empty, into report under a heading; 1 if it did. */
static size_t section(struct tl_buf *report, struct tl_buf *sec, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static size_t section(struct tl_buf *report, struct tl_buf *sec, const char *fmt, ...)
{
	va_list ap;

	if (!sec->len)
		return 0;
	va_start(ap, fmt);
	tl_buf_vprintf(report, fmt, ap);
	va_end(ap);
	tl_buf_printf(report, ":\n%s", sec->s);
	tl_buf_release(sec);
	return 1;
}

size_t tl_oracle_run(const struct tl_scenario *sc, const char *dir, enum tl_backend fuse, struct tl_buf *report)
{
	struct side k = { 0 }, f = { 0 };
	struct tl_log klog = TL_LOG_INIT, flog = TL_LOG_INIT;
	struct tl_tree ktree = { NULL, 0 }, ftree = { NULL, 0 };
	struct tl_buf sec = TL_BUF_INIT;
	size_t diffs = 0, setup;

	side_build(&k, dir, TL_KERNEL, sc);
	side_build(&f, dir, fuse, sc);
	setup = side_run(sc, &k, &klog, &ktree, &sec) + side_run(sc, &f, &flog, &ftree, &sec);
	if (setup) {
		section(report, &sec, "%s: setup", sc->name);
		diffs += setup;
		goto out;
	}
	tl_log_diff(&klog, &flog, k.name, f.name, &sec);
	diffs += section(report, &sec, "%s: steps differ (errno or observation)", sc->name);
	tl_tree_diff(&ktree, &ftree, k.name, f.name, sc->diff_flags, &sec);
	diffs += section(report, &sec, "%s: merged trees differ", sc->name);
	if (!sc->layout.readonly && !(sc->flags & (TL_ORACLE_NO_INTEROP_A | TL_ORACLE_KERNEL_MARKERS))) {
		interop(&f, TL_KERNEL, sc->kernel_opts, &ftree, sc->diff_flags, &sec);
		diffs += section(report, &sec, "%s: interop (a), the kernel on %s's upper", sc->name, f.name);
	}
	if (!sc->layout.readonly && !(sc->flags & TL_ORACLE_NO_INTEROP_B)) {
		interop(&k, fuse, sc->fuse_opts, &ktree, sc->diff_flags, &sec);
		diffs += section(report, &sec, "%s: interop (b), %s on the kernel's upper", sc->name, f.name);
	}
out:
	tl_buf_release(&sec);
	tl_log_release(&klog);
	tl_log_release(&flog);
	tl_tree_release(&ktree);
	tl_tree_release(&ftree);
	side_release(&k);
	side_release(&f);
	return diffs;
}

bool tl_kernel_accepts(const char *extra)
{
	_cleanup_free_ char *dir = tl_scratch_new(tl_scratch_base, "probe");
	_cleanup_free_ char *l1 = tl_strdupf("%s/l1", dir), *u = tl_strdupf("%s/u", dir);
	_cleanup_free_ char *w = tl_strdupf("%s/w", dir), *m = tl_strdupf("%s/m", dir);
	const char *lowers[] = { l1 };
	struct tl_union_opts o = { lowers, 1, u, w, extra };
	struct tl_union un;
	bool ok;

	tl_mkdir(l1, ".", 0755);
	tl_mkdir(u, ".", 0755);
	tl_mkdir(w, ".", 0755);
	tl_mkdir(m, ".", 0755);
	ok = tl_union_mount(&un, TL_KERNEL, &o, m) == 0;
	tl_union_umount(&un);
	tl_scratch_remove(dir);
	return ok;
}

void tl_oracle_assert(const struct tl_scenario *sc)
{
	struct tl_buf report = TL_BUF_INIT;
	enum tl_backend fuse = tl_oracle_fuse_backend();
	_cleanup_free_ char *dir = tl_scratch_new(tl_scratch, "scenario");
	size_t diffs;

	fprintf(stderr, "scenario %s\n", sc->name); /* in the log, for a test that hangs */
	diffs = tl_oracle_run(sc, dir, fuse, &report);

	if (diffs) {
		fprintf(stderr, "---- %s: kernel vs %s\n%s", sc->name, tl_backend_name(fuse), report.s);
		if (report.len > ASSERT_REPORT_MAX)
			strcpy(report.s + ASSERT_REPORT_MAX - 40, "\n  ... (the whole report is in the log)\n");
	}
	ck_assert_msg(diffs == 0, "scenario '%s', kernel vs %s:\n%s", sc->name, tl_backend_name(fuse),
		      tl_buf_str(&report));
	tl_buf_release(&report);
}
