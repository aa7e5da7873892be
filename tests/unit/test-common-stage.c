/*
 * tests/unit/test-common-stage.c: staging folders in ROOT/tmp and their
 * locks (common/stage.c), the mount-safe removal that counts freed bytes
 * (common/rmtree.c), and crashpoints (common/crashpoint.c). Needs root for
 * the bind and tmpfs mounts that a removal must not enter.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/check.h"
#include "common/cleanup.h"
#include "common/crashpoint.h"
#include "common/rmtree.h"
#include "common/stage.h"
#include "common/store.h"
#include "tests/lib/testlib.h"

static struct lamina_store *open_store(void)
{
	_cleanup_free_ char *root = tl_strdupf("%s/root", tl_scratch);
	struct lamina_store *s = NULL;
	struct lm_error err = { 0 };
	ck_assert_msg(lamina_store_open(root, &s, &err) == 0, "%s", err.msg);
	return s;
}

static size_t sweep(struct lamina_store *s, bool repair)
{
	struct lamina_check_report rep = { 0 };
	struct lm_error err = { 0 };
	ck_assert_msg(lm_stage_sweep(s, repair, &rep, &err) == 0, "%s", err.msg);
	size_t n = rep.n_problems;
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(strstr(rep.problems[i].what, "left over"), "%s", rep.problems[i].what);
		ck_assert_int_eq(rep.problems[i].repaired, repair);
	}
	lamina_check_report_release(&rep);
	return n;
}

static void write_file(const char *path, size_t size)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd >= 0, "%s: %m", path);
	char buf[4096];
	memset(buf, 'd', sizeof(buf));
	for (size_t done = 0; done < size; done += sizeof(buf))
		ck_assert_int_gt(write(fd, buf, size - done < sizeof(buf) ? size - done : sizeof(buf)), 0);
	ck_assert_int_eq(fsync(fd), 0);
}

static uint64_t blocks_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(lstat(path, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

START_TEST(sweep_skips_locked_stages_and_removes_leftovers)
{
	struct lamina_store *s = open_store();
	struct lm_stage st = LM_STAGE_INIT;
	ck_assert_int_eq(lm_stage_new(s, "test", &st, NULL), 0);
	ck_assert_ptr_nonnull(strstr(st.name, "test-"));
	_cleanup_free_ char *inside = tl_strdupf("%s/tmp/%s/f", lamina_store_root(s), st.name);
	write_file(inside, 100);
	/* a second handle (another process would be the same) */
	struct lamina_store *other = open_store();
	ck_assert_uint_eq(sweep(other, true), 0);
	ck_assert(access(inside, F_OK) == 0);
	/* the maker dies: its lock goes with it */
	char *name = tl_strdup(st.name);
	lm_stage_release(&st);
	ck_assert_uint_eq(sweep(other, false), 1);
	ck_assert(access(inside, F_OK) == 0); /* a check without repair changes nothing */
	ck_assert_uint_eq(sweep(other, true), 1);
	_cleanup_free_ char *dir = tl_strdupf("%s/tmp/%s", lamina_store_root(s), name);
	ck_assert(access(dir, F_OK) < 0 && errno == ENOENT);
	ck_assert_uint_eq(sweep(other, false), 0);
	free(name);
	lamina_store_close(other);
	lamina_store_close(s);
}
END_TEST

START_TEST(take_and_commit)
{
	struct lamina_store *s = open_store();
	const char *root = lamina_store_root(s);
	_cleanup_free_ char *v = tl_strdupf("%s/volumes/v1", root);
	_cleanup_free_ char *f = tl_strdupf("%s/volumes/v1/f", root);
	ck_assert_int_eq(mkdir(v, 0700), 0);
	write_file(f, 10);
	struct lm_stage st = LM_STAGE_INIT;
	struct lm_error err = { 0 };
	/* held by someone else: refused */
	int lock = lm_dir_lock(s->root_fd, "volumes/v1", LOCK_EX);
	ck_assert_int_ge(lock, 0);
	ck_assert_int_eq(lm_stage_take(s, "volumes/v1", "rm", &st, &err), -EBUSY);
	ck_assert(access(f, F_OK) == 0);
	lm_close(lock);
	ck_assert_int_eq(lm_stage_take(s, "volumes/nothing", "rm", &st, &err), -ENOENT);
	ck_assert_int_eq(lm_stage_take(s, "volumes/v1", "rm", &st, &err), 0);
	ck_assert(access(v, F_OK) < 0);
	/* back, and not over something that exists */
	ck_assert_int_eq(mkdir(v, 0700), 0);
	ck_assert_int_eq(lm_stage_commit(s, &st, "volumes/v1", &err), -EEXIST);
	ck_assert_int_eq(rmdir(v), 0);
	ck_assert_int_eq(lm_stage_commit(s, &st, "volumes/v1", &err), 0);
	ck_assert(access(f, F_OK) == 0);
	ck_assert_int_ge(st.fd, 0); /* still locked until released */
	ck_assert_int_eq(lm_dir_lock(s->root_fd, "volumes/v1", LOCK_EX), -EBUSY);
	lm_stage_release(&st);
	lamina_store_close(s);
}
END_TEST

START_TEST(rm_tree_counts_freed_blocks_once_per_inode)
{
	_cleanup_free_ char *t = tl_strdupf("%s/t", tl_scratch);
	_cleanup_free_ char *a = tl_strdupf("%s/a", t), *b = tl_strdupf("%s/sub/b", t);
	_cleanup_free_ char *c = tl_strdupf("%s/sub/c", t), *sub = tl_strdupf("%s/sub", t);
	_cleanup_free_ char *kept = tl_strdupf("%s/kept", t), *outside = tl_strdupf("%s/outside", tl_scratch);
	ck_assert_int_eq(mkdir(t, 0755), 0);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	write_file(a, 3 * 4096 + 1);
	write_file(b, 64 * 1024);
	ck_assert_int_eq(link(b, c), 0);     /* two names, one inode */
	write_file(kept, 8192);
	ck_assert_int_eq(link(kept, outside), 0); /* survives the removal */
	_cleanup_free_ char *sym = tl_strdupf("%s/sym", t);
	ck_assert_int_eq(symlink("/etc/passwd", sym), 0);
	uint64_t want = blocks_of(a) + blocks_of(b);
	ck_assert_uint_gt(want, 0);
	_cleanup_close_ int top = open(tl_scratch, O_PATH | O_DIRECTORY | O_CLOEXEC);
	uint64_t freed = 0;
	ck_assert_int_eq(lm_rm_tree_at(top, "t", &freed), 0);
	ck_assert_uint_eq(freed, want);
	ck_assert(access(t, F_OK) < 0);
	ck_assert(access(outside, F_OK) == 0);
	ck_assert(access("/etc/passwd", F_OK) == 0);
	ck_assert_int_eq(lm_rm_tree_at(top, "t", &freed), 0); /* ENOENT is success */
	ck_assert_uint_eq(freed, 0);
}
END_TEST

START_TEST(rm_tree_never_enters_a_mount)
{
	_cleanup_free_ char *src = tl_strdupf("%s/src", tl_scratch), *srcf = tl_strdupf("%s/src/precious", tl_scratch);
	_cleanup_free_ char *t = tl_strdupf("%s/t", tl_scratch), *mnt = tl_strdupf("%s/t/d/bind", tl_scratch);
	_cleanup_free_ char *tmpfs = tl_strdupf("%s/t/tmpfs", tl_scratch), *other = tl_strdupf("%s/t/d/f", tl_scratch);
	ck_assert_int_eq(tl_mkdir_p(src, 0755), 0);
	write_file(srcf, 100);
	ck_assert_int_eq(tl_mkdir_p(mnt, 0755), 0);
	ck_assert_int_eq(tl_mkdir_p(tmpfs, 0755), 0);
	write_file(other, 100);
	/* a bind of the same file system: st_dev would not tell */
	ck_assert_int_eq(mount(src, mnt, NULL, MS_BIND, NULL), 0);
	ck_assert_int_eq(mount("tmpfs", tmpfs, "tmpfs", 0, "size=1m"), 0);
	_cleanup_free_ char *tf = tl_strdupf("%s/x", tmpfs);
	write_file(tf, 10);
	_cleanup_close_ int top = open(tl_scratch, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_eq(lm_rm_tree_at(top, "t", NULL), -EBUSY);
	ck_assert(access(srcf, F_OK) == 0);
	ck_assert(access(tf, F_OK) == 0);
	ck_assert(access(other, F_OK) < 0); /* the rest went */
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	ck_assert_int_eq(umount2(tmpfs, MNT_DETACH), 0);
	ck_assert_int_eq(lm_rm_tree_at(top, "t", NULL), 0);
	ck_assert(access(t, F_OK) < 0);
	ck_assert(access(srcf, F_OK) == 0);
}
END_TEST

static int run_crashpoint(const char *env, const char *name)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (env)
			setenv("LAMINA_CRASHPOINT", env, 1);
		lm_crashpoint(name);
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

START_TEST(crashpoint_kills_only_at_its_name)
{
	int st = run_crashpoint("x:after-y", "x:after-y");
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	st = run_crashpoint("x:after-y", "x:after-z");
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = run_crashpoint(NULL, "x:after-y");
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common-stage");
	TCase *tc = tcase_create("stage");
	tcase_add_checked_fixture(tc, tl_scratch_setup, tl_scratch_teardown);
	tcase_add_test(tc, sweep_skips_locked_stages_and_removes_leftovers);
	tcase_add_test(tc, take_and_commit);
	tcase_add_test(tc, rm_tree_counts_freed_blocks_once_per_inode);
	tcase_add_test(tc, rm_tree_never_enters_a_mount);
	tcase_add_test(tc, crashpoint_kills_only_at_its_name);
	suite_add_tcase(s, tc);
	return tl_run_suite(s, "test-common-stage", TL_NEED_ROOT);
}
