/*
 * tests/unit/test-graphdriver-mount.c: mounting layer chains with both
 * backends (lamina-fuse and the kernel's overlay): a chain of three shows the
 * same tree on each and on a kernel overlay mounted by hand over the same
 * folders (the oracle); a read-write layer takes writes into its own diff;
 * a single base layer and a chain of 100 mount; users are counted per caller
 * and survive closing the store; cleanup unmounts everything. What is
 * mounted is read from /proc/self/mountinfo by voltest.c, not taken from the
 * library. Needs root, /dev/fuse, overlay and the built lamina-fuse.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lamina/layer.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"
#include "tests/unit/voltest.h"

static const enum lamina_layer_backend backends[] = { LAMINA_BACKEND_FUSE, LAMINA_BACKEND_KERNEL };

static void mk(const char *id, const char *parent, bool rw)
{
	struct lamina_layer_create_opts o = { .id = id, .parent = parent, .read_write = rw };
	struct lm_error err = { 0 };
	int r = lamina_layer_create(vt_store, &o, NULL, &err);
	ck_assert_msg(r == 0, "create '%s': %d %s", id, r, err.msg);
}

static char *diff_of(const char *id)
{
	return tl_strdupf("%s/layers/%s/diff", vt_root(), id);
}

/* base: a, d/x, d/y; mid: a changed, d/x deleted, b; top: c, d opaque with z. */
static void chain3(bool top_rw)
{
	mk("base", NULL, false);
	mk("mid", "base", false);
	mk("top", "mid", top_rw);
	_cleanup_free_ char *b = diff_of("base"), *m = diff_of("mid"), *t = diff_of("top");
	tl_file(b, "a", "base a");
	tl_file(b, "d/x", "x");
	tl_file(b, "d/y", "y");
	tl_file(b, "e/keep", "k");
	tl_symlink(b, "link", "a");
	tl_file(m, "a", "mid a");
	tl_whiteout(m, "d/x");
	tl_file(m, "b", "mid b");
	tl_file(t, "c", "top c");
	tl_opaque(t, "e");
	tl_file(t, "e/z", "z");
}

static char *mount_ok(const char *id, const char *caller, enum lamina_layer_backend be)
{
	struct lamina_layer_mount_opts o = { .caller = caller, .backend = be };
	char *path = NULL;
	struct lm_error err = { 0 };
	int r = lamina_layer_mount(vt_store, id, &o, &path, &err);
	ck_assert_msg(r == 0, "mount '%s' (%s): %d %s", id, be == LAMINA_BACKEND_KERNEL ? "kernel" : "fuse", r,
		      err.msg);
	_cleanup_free_ char *type = vt_mounted_type(path);
	ck_assert_msg(type && !strncmp(type, be == LAMINA_BACKEND_KERNEL ? "overlay" : "fuse", 4),
		      "'%s' shows as %s", path, type ? type : "not mounted");
	return path;
}

static void unmount_ok(const char *id, const char *caller)
{
	struct lm_error err = { 0 };
	int r = lamina_layer_unmount(vt_store, id, caller, &err);
	ck_assert_msg(r == 0, "unmount '%s': %d %s", id, r, err.msg);
}

/* Mounts id with be, snapshots the tree, unmounts and checks it is gone. */
static void snapshot_via(const char *id, enum lamina_layer_backend be, struct tl_tree *ret)
{
	_cleanup_free_ char *path = mount_ok(id, NULL, be);
	ck_assert_int_eq(tl_tree_snapshot(path, ret), 0);
	unmount_ok(id, NULL);
	_cleanup_free_ char *type = vt_mounted_type(path);
	ck_assert_msg(!type, "still mounted after the last unmount: %s", type);
}

static void assert_same(const struct tl_tree *a, const struct tl_tree *b, const char *na, const char *nb)
{
	struct tl_buf rep = TL_BUF_INIT;
	size_t n = tl_tree_diff(a, b, na, nb, TL_DIFF_DINO_IF_FIRST, &rep);
	ck_assert_msg(n == 0, "%zu differences:\n%s", n, tl_buf_str(&rep));
	tl_buf_release(&rep);
}

START_TEST(chain3_both_backends_and_the_kernel_by_hand)
{
	chain3(false);
	struct tl_tree t[2], oracle;
	for (size_t i = 0; i < 2; i++)
		snapshot_via("top", backends[i], &t[i]);
	/* the oracle: the kernel over the same three folders, mounted here */
	_cleanup_free_ char *b = diff_of("base"), *m = diff_of("mid"), *tp = diff_of("top");
	_cleanup_free_ char *mnt = tl_strdupf("%s/oracle", tl_scratch);
	tl_mkdir(tl_scratch, "oracle", 0755);
	const char *lowers[] = { tp, m, b };
	struct tl_union_opts uo = { .lowers = lowers, .nlowers = 3 };
	struct tl_union u = { 0 };
	ck_assert_msg(tl_union_mount(&u, TL_KERNEL, &uo, mnt) == 0, "%s", u.msg);
	ck_assert_int_eq(tl_tree_snapshot(mnt, &oracle), 0);
	ck_assert_int_eq(tl_union_umount(&u), 0);
	ck_assert_ptr_nonnull(tl_tree_find(&oracle, "e/z"));
	ck_assert_ptr_null(tl_tree_find(&oracle, "e/keep"));
	ck_assert_ptr_null(tl_tree_find(&oracle, "d/x"));
	assert_same(&oracle, &t[1], "kernel-by-hand", "lamina-kernel");
	assert_same(&oracle, &t[0], "kernel-by-hand", "lamina-fuse");
	for (size_t i = 0; i < 2; i++)
		tl_tree_release(&t[i]);
	tl_tree_release(&oracle);
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(single_base_layer_mounts)
{
	mk("only", NULL, false);
	_cleanup_free_ char *d = diff_of("only");
	tl_file(d, "f", "only f");
	struct tl_tree t;
	snapshot_via("only", backends[_i], &t);
	ck_assert_ptr_nonnull(tl_tree_find(&t, "f"));
	tl_tree_release(&t);
	/* and a read-write layer with no parent at all */
	mk("lone", NULL, true);
	_cleanup_free_ char *path = mount_ok("lone", NULL, backends[_i]);
	vt_write(path, "new", "n");
	unmount_ok("lone", NULL);
	_cleanup_free_ char *lone = diff_of("lone");
	_cleanup_free_ char *f = tl_strdupf("%s/new", lone);
	ck_assert(vt_exists(f));
}
END_TEST

START_TEST(read_write_layer_takes_writes)
{
	chain3(true);
	_cleanup_free_ char *path = mount_ok("top", NULL, backends[_i]);
	vt_write(path, "new/file", "written");
	_cleanup_free_ char *del = tl_strdupf("%s/b", path);
	ck_assert_int_eq(unlink(del), 0);
	unmount_ok("top", NULL);
	_cleanup_free_ char *t = diff_of("top");
	_cleanup_free_ char *nf = tl_strdupf("%s/new/file", t), *wb = tl_strdupf("%s/b", t);
	ck_assert(vt_exists(nf));
	struct stat st;
	ck_assert_int_eq(lstat(wb, &st), 0); /* the whiteout of mid's b */
	ck_assert(S_ISCHR(st.st_mode) && st.st_rdev == 0);
	/* the lower layers are untouched */
	_cleanup_free_ char *mid = diff_of("mid");
	_cleanup_free_ char *mb = tl_strdupf("%s/b", mid);
	ck_assert(vt_exists(mb));
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(chain_of_100)
{
	char id[16], parent[16];
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "l%03d", i);
		mk(id, i ? parent : NULL, false);
		_cleanup_free_ char *d = diff_of(id);
		_cleanup_free_ char *name = tl_strdupf("f%03d", i);
		tl_file(d, name, id);
		tl_file(d, "top", id); /* each layer hides the one below */
		memcpy(parent, id, sizeof(id));
	}
	struct lamina_layer *l = NULL;
	ck_assert_int_eq(lamina_layer_inspect(vt_store, "l099", &l, NULL), 0);
	ck_assert_uint_eq(l->depth, 99);
	lamina_layer_free(l);
	struct tl_tree t;
	snapshot_via("l099", backends[_i], &t);
	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%03d", i);
		ck_assert_msg(tl_tree_find(&t, name), "%s missing", name);
	}
	ck_assert_uint_eq(t.n, 102); /* ".", top, f000..f099 */
	tl_tree_release(&t);
}
END_TEST

static size_t users_of(const char *id, const char *caller)
{
	struct lamina_layer *l = NULL;
	ck_assert_int_eq(lamina_layer_inspect(vt_store, id, &l, NULL), 0);
	size_t n = 0;
	for (size_t i = 0; i < l->n_users; i++)
		n += caller ? (!strcmp(l->users[i].id, caller) ? l->users[i].count : 0) : l->users[i].count;
	lamina_layer_free(l);
	return n;
}

START_TEST(counted_per_caller_across_reopen)
{
	chain3(false);
	_cleanup_free_ char *p1 = mount_ok("top", "c1", LAMINA_BACKEND_FUSE);
	_cleanup_free_ char *p2 = mount_ok("top", "c1", LAMINA_BACKEND_FUSE);
	_cleanup_free_ char *p3 = mount_ok("top", "c2", LAMINA_BACKEND_FUSE);
	ck_assert_str_eq(p1, p3);
	struct lm_error err = { 0 };
	struct lamina_layer_mount_opts k = { .caller = "c3", .backend = LAMINA_BACKEND_KERNEL };
	ck_assert_int_eq(lamina_layer_mount(vt_store, "top", &k, NULL, &err), -EBUSY);
	ck_assert_int_eq(lamina_layer_remove(vt_store, "top", &err), -EBUSY);
	vt_store = lamina_store_close(vt_store);
	vt_store = vt_open();
	ck_assert_uint_eq(users_of("top", "c1"), 2);
	ck_assert_uint_eq(users_of("top", "c2"), 1);
	ck_assert_int_eq(lamina_layer_unmount(vt_store, "top", "c3", &err), -EINVAL);
	unmount_ok("top", "c1");
	unmount_ok("top", "c1");
	_cleanup_free_ char *t1 = vt_mounted_type(p1);
	ck_assert_ptr_nonnull(t1);
	ck_assert_int_eq(lamina_layer_unmount(vt_store, "top", "c1", &err), -EINVAL);
	unmount_ok("top", "c2");
	_cleanup_free_ char *t2 = vt_mounted_type(p1);
	ck_assert_ptr_null(t2);
	ck_assert_uint_eq(users_of("top", NULL), 0);
	ck_assert_int_eq(lamina_layer_remove(vt_store, "top", &err), 0);
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(own_target_and_cleanup)
{
	chain3(true);
	tl_mkdir(tl_scratch, "target", 0755);
	_cleanup_free_ char *target = tl_strdupf("%s/target", tl_scratch);
	struct lamina_layer_mount_opts o = { .backend = LAMINA_BACKEND_KERNEL, .target = target };
	char *path = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_layer_mount(vt_store, "top", &o, &path, &err), 0);
	ck_assert_str_eq(path, target);
	free(path);
	_cleanup_free_ char *p2 = mount_ok("mid", "x", LAMINA_BACKEND_FUSE);
	ck_assert_int_eq(lamina_layer_cleanup(vt_store, &err), 0);
	_cleanup_free_ char *t1 = vt_mounted_type(target), *t2 = vt_mounted_type(p2);
	ck_assert_ptr_null(t1);
	ck_assert_ptr_null(t2);
	ck_assert_uint_eq(users_of("top", NULL) + users_of("mid", NULL), 0);
	vt_check(vt_store, false, NULL, false);
	/* an occupied target is refused and changes nothing */
	vt_write(target, "junk", "j");
	ck_assert_int_eq(lamina_layer_mount(vt_store, "top", &o, NULL, &err), -ENOTEMPTY);
	ck_assert_uint_eq(users_of("top", NULL), 0);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("graphdriver-mount");
	TCase *tc = tcase_create("mount");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, chain3_both_backends_and_the_kernel_by_hand);
	tcase_add_loop_test(tc, single_base_layer_mounts, 0, 2);
	tcase_add_loop_test(tc, read_write_layer_takes_writes, 0, 2);
	tcase_add_loop_test(tc, chain_of_100, 0, 2);
	tcase_add_test(tc, counted_per_caller_across_reopen);
	tcase_add_test(tc, own_target_and_cleanup);
	suite_add_tcase(su, tc);
	return tl_run_suite(su, "test-graphdriver-mount",
			    TL_NEED_ROOT | TL_NEED_FUSE | TL_NEED_OVERLAY | TL_NEED_LAMINA);
}
