/*
 * tests/unit/test-common-treecopy.c: lm_tree_copy() keeps every kind of
 * object with its metadata (owner, mode, times, xattrs of all namespaces),
 * hard links as links, shares no inode with its source, copies where no
 * reflink exists (tmpfs) and across file systems, and stays on the source's
 * mount. Needs root (owners, devices, trusted.* and security.* xattrs, mounts).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/treecopy.h"
#include "tests/lib/testlib.h"

static char *src, *dst;

/* src and dst below base (the scratch dir, or a tmpfs mounted there). */
static void make_dirs(const char *base)
{
	free(src);
	free(dst);
	src = tl_strdupf("%s/src", base);
	dst = tl_strdupf("%s/dst", base);
	tl_mkdir(base, "src", 0755);
	tl_mkdir(base, "dst", 0700);
}

static void setup(void)
{
	tl_scratch_setup();
	make_dirs(tl_scratch);
}

static void teardown(void)
{
	free(src);
	free(dst);
	src = dst = NULL;
	tl_scratch_teardown();
}

static int copy(struct lm_error *err)
{
	int s = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int d = open(dst, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert(s >= 0 && d >= 0);
	int r = lm_tree_copy(s, d, "volume 'v'", err);
	close(s);
	close(d);
	return r;
}

static void copy_ok(void)
{
	struct lm_error err = { 0 };
	int r = copy(&err);
	ck_assert_msg(r == 0, "copy: %d %s", r, err.msg);
}

/* Everything tl_tree_diff compares, the root's mode and owner, and every
 * folder's mtime to the nanosecond. */
static void assert_same(void)
{
	struct tl_tree a, b;
	ck_assert_int_eq(tl_tree_snapshot(src, &a), 0);
	ck_assert_int_eq(tl_tree_snapshot(dst, &b), 0);
	struct tl_buf report = TL_BUF_INIT;
	size_t diffs = tl_tree_diff(&a, &b, "source", "copy", 0, &report);
	ck_assert_msg(diffs == 0, "the copy differs:\n%s", tl_buf_str(&report));
	ck_assert_uint_eq(a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		const struct tl_node *n = &a.nodes[i], *m = &b.nodes[i];
		ck_assert_msg(n->mtime.tv_sec == m->mtime.tv_sec && n->mtime.tv_nsec == m->mtime.tv_nsec,
			      "'%s': mtime differs", n->path);
	}
	tl_buf_release(&report);
	tl_tree_release(&a);
	tl_tree_release(&b);
}

static int ino_cmp(const void *a, const void *b)
{
	ino_t x = *(const ino_t *)a, y = *(const ino_t *)b;
	return x < y ? -1 : x > y;
}

static void keep(void *p)
{
	(void)p; /* the inode numbers belong to the snapshot */
}

/* No object of the copy is an inode of the source (one file system). */
static void assert_no_shared_inode(void)
{
	struct tl_tree a, b;
	ck_assert_int_eq(tl_tree_snapshot(src, &a), 0);
	ck_assert_int_eq(tl_tree_snapshot(dst, &b), 0);
	void *set = NULL;
	for (size_t i = 0; i < a.n; i++)
		ck_assert_ptr_nonnull(tsearch(&a.nodes[i].ino, &set, ino_cmp));
	for (size_t i = 0; i < b.n; i++)
		ck_assert_msg(!tfind(&b.nodes[i].ino, &set, ino_cmp), "'%s' shares an inode with the source",
			      b.nodes[i].path);
	tdestroy(set, keep);
	tl_tree_release(&a);
	tl_tree_release(&b);
}

static void assert_xattr(const char *root, const char *path, const char *name, const char *value)
{
	char *full = tl_strdupf("%s/%s", root, path);
	char buf[128];
	ssize_t n = lgetxattr(full, name, buf, sizeof(buf) - 1);
	ck_assert_msg(n >= 0, "'%s': %s: %s", full, name, strerror(errno));
	buf[n] = '\0';
	ck_assert_str_eq(buf, value);
	free(full);
}

static const char *const every_kind[] = {
	"dir a 0751",
	"owner a 1000:1000",
	"xattr a user.dir on-a-folder",
	"xattr a trusted.overlay.opaque y",
	"file a/f content of f",
	"owner a/f 1001:1002",
	"mode a/f 4755",
	"xattr a/f user.u uv",
	"xattr a/f trusted.t tv",
	"xattr a/f security.lamina-test sv",
	"link a/g a/f",
	"link h a/f",
	"symlink a/s f",
	"symlink dangling /nowhere/at/all",
	"xattr a/s trusted.sym on-a-symlink",
	"fifo a/p",
	"owner a/p 7:8",
	"chr cdev 1 3",
	"blk bdev 7 0",
	"sock sock",
	"whiteout wh",
	"data big 1M 9",
	"sparse holes 16M 5M in-the-middle",
	"file empty",
	"dir ro 0500",
	"dir ro/sub",
	"file ro/sub/x under read-only",
	"mtime a/f 1234",
	"mtime a 5678",
	NULL,
};

START_TEST(every_kind_with_metadata)
{
	tl_branch_build(src, every_kind);
	tl_chmod(tl_scratch, "src", 0705);
	tl_chown(tl_scratch, "src", 42, 43);
	copy_ok();
	assert_same();
	assert_no_shared_inode();
	assert_xattr(dst, "a/f", "security.lamina-test", "sv");
	assert_xattr(dst, "a/s", "trusted.sym", "on-a-symlink");
	struct stat f, g, h, root;
	char *p = tl_strdupf("%s/a/f", dst);
	ck_assert_int_eq(lstat(p, &f), 0);
	free(p);
	p = tl_strdupf("%s/a/g", dst);
	ck_assert_int_eq(lstat(p, &g), 0);
	free(p);
	p = tl_strdupf("%s/h", dst);
	ck_assert_int_eq(lstat(p, &h), 0);
	free(p);
	ck_assert(f.st_ino == g.st_ino && g.st_ino == h.st_ino && f.st_nlink == 3);
	ck_assert_int_eq(f.st_mode & 07777, 04755);
	ck_assert_int_eq(lstat(dst, &root), 0);
	ck_assert(root.st_mode == (S_IFDIR | 0705) && root.st_uid == 42 && root.st_gid == 43);
}
END_TEST

/* tmpfs has no reflink: lm_copy_data falls back; within it and across. */
START_TEST(tmpfs_without_reflink)
{
	char *t = tl_strdupf("%s/tmpfs", tl_scratch);
	tl_mkdir(tl_scratch, "tmpfs", 0755);
	ck_assert_int_eq(mount("tmpfs", t, "tmpfs", 0, "size=64m"), 0);
	const char *const spec[] = { "data d/big 3M 4", "sparse d/holes 32M 9M middle", "file d/small s",
				     "link d/again d/big", NULL };
	if (_i == 0) {
		make_dirs(t); /* both on the tmpfs */
	} else {
		free(dst);
		dst = tl_strdupf("%s/dst", t); /* ext4 (or whatever $TMPDIR is) to tmpfs */
		tl_mkdir(t, "dst", 0700);
	}
	tl_branch_build(src, spec);
	copy_ok();
	assert_same();
	assert_no_shared_inode();
	ck_assert_int_eq(umount2(t, MNT_DETACH), 0);
	free(t);
}
END_TEST

START_TEST(stays_on_its_mount)
{
	tl_branch_build(src, TL_SPEC("file a x", "dir mnt 0750"));
	char *mnt = tl_strdupf("%s/mnt", src);
	ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0711"), 0);
	tl_file(mnt, "inside", "must not be copied");
	copy_ok();
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	struct stat st;
	char *p = tl_strdupf("%s/mnt", dst);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0711); /* the mounted root's */
	free(p);
	p = tl_strdupf("%s/mnt/inside", dst);
	ck_assert(access(p, F_OK) < 0 && errno == ENOENT);
	free(p);
	free(mnt);
}
END_TEST

START_TEST(error_names_the_object)
{
	tl_branch_build(src, TL_SPEC("dir a", "file a/clash x"));
	tl_branch_build(dst, TL_SPEC("file a/clash already here"));
	struct lm_error err = { 0 };
	int r = copy(&err);
	ck_assert_int_eq(r, -EEXIST);
	ck_assert_msg(strstr(err.msg, "volume 'v': 'a") != NULL, "message: %s", err.msg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common-treecopy");
	TCase *tc = tcase_create("treecopy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, every_kind_with_metadata);
	tcase_add_loop_test(tc, tmpfs_without_reflink, 0, 2);
	tcase_add_test(tc, stays_on_its_mount);
	tcase_add_test(tc, error_names_the_object);
	suite_add_tcase(s, tc);
	return tl_run_suite(s, "test-common-treecopy", TL_NEED_ROOT);
}
