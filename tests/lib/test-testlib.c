/*
 * tests/lib/test-testlib.c: the test library's own tests. The oracle is only
 * worth something if its comparisons see differences, so each comparison
 * is shown one it must report, and one it must not.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <linux/magic.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"

static const char *const every_kind[] = {
	"dir d 0750",
	"file plain text",
	"file d/f hello\\nworld",
	"data big 100K 7",
	"sparse holes 1M 512K middle",
	"symlink d/l ../big",
	"link d/h d/f",
	"fifo p",
	"sock s",
	"chr c 1 3",
	"blk b 7 0",
	"whiteout gone",
	"wh d/gone2",
	"opaque o",
	"opq q",
	"xattr d/f user.color blue sky",
	"owner d/f 12:34",
	"mtime big 1234567890",
	NULL,
};

static void snapshot_of(const char *root, struct tl_tree *t)
{
	int r = tl_tree_snapshot(root, t);

	ck_assert_msg(r == 0, "snapshot '%s': %s", root, tl_errname(-r));
}

static const struct tl_node *must_find(const struct tl_tree *t, const char *path)
{
	const struct tl_node *n = tl_tree_find(t, path);

	ck_assert_msg(n != NULL, "'%s' missing from the snapshot", path);
	return n;
}

START_TEST(test_build_and_snapshot)
{
	_cleanup_free_ char *root = tl_strdupf("%s/b", tl_scratch);
	struct tl_tree t;
	const struct tl_node *n;
	char v[64];

	tl_branch_build(root, every_kind);
	snapshot_of(root, &t);
	n = must_find(&t, "d");
	ck_assert(S_ISDIR(n->mode) && (n->mode & 07777) == 0750);
	n = must_find(&t, "d/f");
	ck_assert(S_ISREG(n->mode) && n->size == 11 && !strcmp(n->head, "hello\\nworld"));
	ck_assert(n->uid == 12 && n->gid == 34 && n->nlink == 2);
	ck_assert_str_eq(n->link_group, "d/f");
	ck_assert_str_eq(must_find(&t, "d/h")->link_group, "d/f");
	ck_assert_str_eq(n->xattrs, "user.color=blue sky; ");
	ck_assert_int_eq(n->mtime.tv_sec, TL_EPOCH);
	ck_assert_int_eq(must_find(&t, "big")->mtime.tv_sec, 1234567890);
	ck_assert(must_find(&t, "holes")->sparse && !must_find(&t, "big")->sparse);
	ck_assert_str_eq(must_find(&t, "d/l")->target, "../big");
	ck_assert(S_ISFIFO(must_find(&t, "p")->mode) && S_ISSOCK(must_find(&t, "s")->mode));
	n = must_find(&t, "c");
	ck_assert(S_ISCHR(n->mode) && major(n->rdev) == 1 && minor(n->rdev) == 3);
	ck_assert(S_ISBLK(must_find(&t, "b")->mode));
	n = must_find(&t, "gone");
	ck_assert(S_ISCHR(n->mode) && n->rdev == makedev(0, 0));
	ck_assert(S_ISREG(must_find(&t, "d/.wh.gone2")->mode));
	ck_assert_str_eq(must_find(&t, "o")->xattrs, "trusted.overlay.opaque=y; ");
	ck_assert(S_ISREG(must_find(&t, "q/.wh..wh..opq")->mode));
	ck_assert(must_find(&t, "d/f")->dino_matches && must_find(&t, ".")->d_type == DT_DIR);
	ck_assert(lgetxattr(root, "user.x", v, sizeof(v)) < 0 && errno == ENODATA);
	tl_tree_release(&t);
}
END_TEST

START_TEST(test_kernel_markers_translation)
{
	_cleanup_free_ char *root = tl_strdupf("%s/k", tl_scratch);
	struct tl_tree t;
	const struct tl_node *n;

	tl_branch_build_flags(root, TL_SPEC("wh d/gone", "opq o", "file o/f x"), TL_BUILD_KERNEL_MARKERS);
	snapshot_of(root, &t);
	n = must_find(&t, "d/gone");
	ck_assert(S_ISCHR(n->mode) && n->rdev == makedev(0, 0));
	ck_assert(tl_tree_find(&t, "d/.wh.gone") == NULL && tl_tree_find(&t, "o/.wh..wh..opq") == NULL);
	ck_assert_str_eq(must_find(&t, "o")->xattrs, "trusted.overlay.opaque=y; ");
	tl_tree_release(&t);
}
END_TEST

/* Builds every_kind twice, changes the second copy with change(), and
 * checks that the diff names field (or says nothing when field is NULL). */
static void expect_diff(void (*change)(const char *root), const char *field)
{
	_cleanup_free_ char *dir = tl_scratch_new(tl_scratch, "diff");
	_cleanup_free_ char *a = tl_strdupf("%s/a", dir), *b = tl_strdupf("%s/b", dir);
	struct tl_buf report = TL_BUF_INIT;
	struct tl_tree ta, tb;
	size_t n;

	tl_branch_build(a, every_kind);
	tl_branch_build(b, every_kind);
	if (change)
		change(b);
	snapshot_of(a, &ta);
	snapshot_of(b, &tb);
	n = tl_tree_diff(&ta, &tb, "A", "B", 0, &report);
	if (!field)
		ck_assert_msg(n == 0, "identical trees differ:\n%s", tl_buf_str(&report));
	else
		ck_assert_msg(n == 1 && strstr(tl_buf_str(&report), field), "want one '%s' difference, got:\n%s",
			      field, tl_buf_str(&report));
	tl_buf_release(&report);
	tl_tree_release(&ta);
	tl_tree_release(&tb);
}

static void change_content(const char *r)
{
	tl_file(r, "plain", "texT");
	tl_mtime(r, "plain", TL_EPOCH);
}
static void change_mode(const char *r)
{
	tl_chmod(r, "d", 0755);
}
static void change_owner(const char *r)
{
	tl_chown(r, "p", 0, 5);
}
static void change_xattr(const char *r)
{
	tl_setxattr(r, "d", "user.new", "1");
}
/* Unlinks r/path, to make something else there. */
static void remove_entry(const char *r, const char *path)
{
	_cleanup_free_ char *p = tl_strdupf("%s/%s", r, path);

	ck_assert_msg(unlink(p) == 0, "unlink '%s': %m", p);
}
static void change_target(const char *r)
{
	remove_entry(r, "d/l");
	tl_symlink(r, "d/l", "../bIg");
	tl_mtime(r, "d/l", TL_EPOCH);
}
static void change_mtime(const char *r)
{
	tl_mtime(r, "big", 1234567890 + TL_MTIME_SLACK + 1);
}
static void change_mtime_within_slack(const char *r)
{
	tl_mtime(r, "big", 1234567890 + TL_MTIME_SLACK);
}
static void change_rdev(const char *r)
{
	remove_entry(r, "c");
	tl_mknod(r, "c", S_IFCHR | 0644, makedev(1, 5));
	tl_mtime(r, "c", TL_EPOCH);
}
static void change_type(const char *r)
{
	remove_entry(r, "p");
	tl_file(r, "p", "");
	tl_mtime(r, "p", TL_EPOCH);
}
static void change_extra(const char *r)
{
	tl_file(r, "extra", "");
}
static void change_sparse(const char *r)
{
	_cleanup_free_ char *p = tl_strdupf("%s/holes", r);
	_cleanup_close_ int fd = open(p, O_WRONLY);

	ck_assert(fd >= 0 && fallocate(fd, 0, 0, 1 << 20) == 0);
	tl_mtime(r, "holes", TL_EPOCH);
}
/* "d/h" stops being a hard link of "d/f": a copy with the same content,
 * owner and xattrs, so that only the link fields can differ. */
static void change_links(const char *r)
{
	remove_entry(r, "d/h");
	tl_file(r, "d/h", "hello\nworld");
	tl_chown(r, "d/h", 12, 34);
	tl_setxattr(r, "d/h", "user.color", "blue sky");
	tl_mtime(r, "d/h", TL_EPOCH);
}

START_TEST(test_diff_sees_each_field)
{
	expect_diff(NULL, NULL);
	expect_diff(change_mtime_within_slack, NULL);
	expect_diff(change_content, "plain: content");
	expect_diff(change_mode, "d: mode");
	expect_diff(change_owner, "p: gid");
	expect_diff(change_xattr, "d: xattrs");
	expect_diff(change_target, "d/l: symlink target");
	expect_diff(change_mtime, "big: mtime");
	expect_diff(change_rdev, "c: rdev");
	expect_diff(change_type, "p: mode");
	expect_diff(change_extra, "extra: only in B (file)");
	expect_diff(change_sparse, "holes: sparse");
}
END_TEST

START_TEST(test_diff_sees_broken_hard_link)
{
	_cleanup_free_ char *a = tl_strdupf("%s/a", tl_scratch), *b = tl_strdupf("%s/b", tl_scratch);
	struct tl_buf report = TL_BUF_INIT;
	struct tl_tree ta, tb;

	tl_branch_build(a, every_kind);
	tl_branch_build(b, every_kind);
	change_links(b);
	snapshot_of(a, &ta);
	snapshot_of(b, &tb);
	tl_tree_diff(&ta, &tb, "A", "B", 0, &report);
	ck_assert_msg(strstr(tl_buf_str(&report), "d/f: nlink") && strstr(tl_buf_str(&report), "d/h: hard links with"),
		      "%s", tl_buf_str(&report));
	tl_buf_release(&report);
	tl_tree_diff(&ta, &tb, "A", "B", TL_DIFF_NO_NLINK, &report);
	ck_assert_msg(!strstr(tl_buf_str(&report), "nlink"), "%s", tl_buf_str(&report));
	tl_buf_release(&report);
	tl_tree_release(&ta);
	tl_tree_release(&tb);
}
END_TEST

START_TEST(test_step_log)
{
	struct tl_log a = TL_LOG_INIT, b = TL_LOG_INIT;
	struct tl_buf report = TL_BUF_INIT;
	_cleanup_free_ char *missing = tl_strdupf("%s/missing", tl_scratch);
	long r;

	r = TL_TRY(&a, open(missing, O_RDONLY));
	ck_assert_int_eq(r, -1);
	ck_assert_str_eq(a.lines[0], "open(missing, O_RDONLY) = ENOENT");
	TL_TRYV(&a, write(-1, "x", 1));
	TL_TRYV(&a, getpid() >= 0 ? 42 : 0);
	ck_assert_str_eq(a.lines[1], "write(-1, \"x\", 1) = EBADF");
	ck_assert_str_eq(a.lines[2], "getpid() >= 0 ? 42 : 0 = 42");
	TL_TRY(&b, open(missing, O_RDONLY));
	TL_TRYV(&b, write(-1, "x", 1));
	ck_assert_int_eq(tl_log_diff(&a, &b, "A", "B", &report), 1);
	ck_assert_msg(strstr(tl_buf_str(&report), "step 3: only A got here"), "%s", tl_buf_str(&report));
	tl_buf_release(&report);
	tl_log_add(&b, "something else");
	ck_assert_int_eq(tl_log_diff(&a, &b, "A", "B", &report), 1);
	ck_assert_msg(strstr(tl_buf_str(&report), "step 3: A: getpid"), "%s", tl_buf_str(&report));
	tl_buf_release(&report);
	tl_log_release(&a);
	tl_log_release(&b);
}
END_TEST

/* A union of two lowers (and an upper unless read-only) under tl_scratch. */
struct small_union {
	char *l[2], *u, *w, *m;
	struct tl_union_opts o;
};

static void small_union_build(struct small_union *s, bool readonly)
{
	_cleanup_free_ char *dir = tl_scratch_new(tl_scratch, "union");

	s->l[0] = tl_strdupf("%s/l0", dir);
	s->l[1] = tl_strdupf("%s/l1", dir);
	s->u = readonly ? NULL : tl_strdupf("%s/u", dir);
	s->w = readonly ? NULL : tl_strdupf("%s/w", dir);
	s->m = tl_strdupf("%s/m", dir);
	tl_branch_build(s->l[0], TL_SPEC("file top from-l0", "whiteout hidden"));
	tl_branch_build(s->l[1], TL_SPEC("file top from-l1", "file hidden x", "file bottom b"));
	if (!readonly) {
		tl_branch_build(s->u, TL_SPEC("file up u"));
		tl_mkdir(s->w, ".", 0755);
	}
	tl_mkdir(s->m, ".", 0755);
	s->o = (struct tl_union_opts){ (const char *const *)s->l, 2, s->u, s->w, NULL };
}

static void small_union_release(struct small_union *s)
{
	free(s->l[0]);
	free(s->l[1]);
	free(s->u);
	free(s->w);
	free(s->m);
}

static void check_merged(const char *mnt, bool readonly, long magic)
{
	struct tl_tree t;
	struct statfs sf;

	ck_assert(statfs(mnt, &sf) == 0 && sf.f_type == magic);
	snapshot_of(mnt, &t);
	ck_assert_str_eq(must_find(&t, "top")->head, "from-l0");
	ck_assert(tl_tree_find(&t, "hidden") == NULL && tl_tree_find(&t, "bottom") != NULL);
	ck_assert(readonly == (tl_tree_find(&t, "up") == NULL));
	tl_tree_release(&t);
}

static void mount_cycle(enum tl_backend backend, bool readonly)
{
	struct small_union s;
	struct tl_union u;
	int r;

	small_union_build(&s, readonly);
	r = tl_union_mount(&u, backend, &s.o, s.m);
	ck_assert_msg(r == 0, "%s", u.msg);
	check_merged(s.m, readonly, backend == TL_KERNEL ? OVERLAYFS_SUPER_MAGIC : FUSE_SUPER_MAGIC);
	ck_assert(backend == TL_KERNEL || u.daemon > 0);
	pid_t daemon = u.daemon;
	r = tl_union_umount(&u);
	ck_assert_msg(r == 0, "%s", u.msg);
	if (daemon)
		ck_assert(kill(daemon, 0) < 0 && errno == ESRCH); /* reaped: we are its subreaper */
	small_union_release(&s);
}

START_TEST(test_kernel_mount)
{
	mount_cycle(TL_KERNEL, false);
	mount_cycle(TL_KERNEL, true);
}
END_TEST

START_TEST(test_fuse_mount)
{
	mount_cycle(TL_FUSE_OVERLAYFS, false);
	mount_cycle(TL_FUSE_OVERLAYFS, true);
}
END_TEST

/* What a test that crashed leaves behind is swept up: mounts, daemons, files. */
START_TEST(test_sweep)
{
	struct small_union s;
	struct tl_union u;
	_cleanup_free_ char *busy = NULL;
	_cleanup_free_ char *dir = tl_strdup(tl_scratch);
	_cleanup_close_ int fd = -1;
	pid_t daemon;

	small_union_build(&s, false);
	busy = tl_strdupf("%s/top", s.m);
	ck_assert_msg(tl_union_mount(&u, TL_FUSE_OVERLAYFS, &s.o, s.m) == 0, "%s", u.msg);
	daemon = u.daemon;
	fd = open(busy, O_RDONLY); /* keeps the mount busy */
	ck_assert(fd >= 0);
	free(u.mnt);
	free(u.log);
	ck_assert_int_eq(tl_scratch_remove(dir), 0);
	ck_assert(access(dir, F_OK) < 0 && errno == ENOENT);
	ck_assert(tl_pid_wait_gone(daemon, 0, NULL) == 0);
	small_union_release(&s);
	free(tl_scratch);
	tl_scratch_setup(); /* for the teardown */
}
END_TEST

static void steps_differ(struct tl_ctx *ctx)
{
	TL_TRY(ctx->log, mkdirat(ctx->root, ctx->backend == TL_KERNEL ? "k" : "top", 0755));
}

static void steps_same(struct tl_ctx *ctx)
{
	_cleanup_close_ int fd = -1;

	fd = TL_TRY(ctx->log, openat(ctx->root, "top", O_WRONLY | O_APPEND));
	TL_TRYV(ctx->log, write(fd, "+", 1));
	tl_log_content(ctx->log, ctx->root, "top");
	tl_log_listdir(ctx->log, ctx->root, ".");
}

/* The oracle sees a difference in the steps and in the tree, and none when
 * both implementations do the same (fuse-overlayfs stands in for lamina). */
START_TEST(test_oracle)
{
	struct tl_scenario sc = {
		.name = "self-test",
		.layout = { .lowers = { TL_SPEC("file top t\\n", "dir d"), TL_SPEC("file bottom b") } },
		.steps = steps_differ,
	};
	struct tl_buf report = TL_BUF_INIT;
	_cleanup_free_ char *d1 = tl_strdupf("%s/1", tl_scratch), *d2 = tl_strdupf("%s/2", tl_scratch);

	ck_assert_uint_ne(tl_oracle_run(&sc, d1, TL_FUSE_OVERLAYFS, &report), 0);
	ck_assert_msg(strstr(tl_buf_str(&report), "steps differ") &&
			      strstr(tl_buf_str(&report), "k: only in kernel (dir)"),
		      "%s", tl_buf_str(&report));
	tl_buf_release(&report);
	sc.steps = steps_same;
	sc.flags = TL_ORACLE_NO_INTEROP; /* fuse-overlayfs leaves user.fuseoverlayfs.origin for the kernel to show */
	ck_assert_msg(tl_oracle_run(&sc, d2, TL_FUSE_OVERLAYFS, &report) == 0, "%s", tl_buf_str(&report));
	tl_buf_release(&report);
}
END_TEST

static Suite *testlib_suite(void)
{
	Suite *s = suite_create("testlib");
	TCase *tc = tcase_create("offline");
	bool fuse = tl_require(TL_NEED_FUSE, NULL, 0) == 0 &&
		    access(tl_backend_program(TL_FUSE_OVERLAYFS), X_OK) == 0;

	tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
	tcase_add_test(tc, test_build_and_snapshot);
	tcase_add_test(tc, test_kernel_markers_translation);
	tcase_add_test(tc, test_diff_sees_each_field);
	tcase_add_test(tc, test_diff_sees_broken_hard_link);
	tcase_add_test(tc, test_step_log);
	suite_add_tcase(s, tc);
	tc = tcase_create("mounts");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
	tcase_add_test(tc, test_kernel_mount);
	if (fuse) {
		tcase_add_test(tc, test_fuse_mount);
		tcase_add_test(tc, test_sweep);
		tcase_add_test(tc, test_oracle);
	} else {
		fprintf(stderr, "test-testlib: no /dev/fuse or fuse-overlayfs: FUSE self-tests not run\n");
	}
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	tl_require_or_skip("test-testlib", TL_NEED_ROOT | TL_NEED_OVERLAY); /* before testlib_suite() speaks */
	return tl_run_suite(testlib_suite(), "test-testlib", TL_NEED_ROOT | TL_NEED_OVERLAY);
}
