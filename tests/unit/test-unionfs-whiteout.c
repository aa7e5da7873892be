/*
 * tests/unit/test-unionfs-whiteout.c: the whiteout and opaque markers in
 * every form, and the lookups and listings they shape, through a real union
 * (layers opened by ufs_open on real directories, no FUSE mount needed).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/fsops.h"
#include "unionfs/unionfs.h"
#include "tests/lib/testlib.h"

static char top[64];
static int topfd = -1;

static void setup(void)
{
	strcpy(top, "/tmp/lamina-wh-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	topfd = open(top, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(topfd, 0);
	const char *dirs[] = { "u", "w", "l1", "l2", "l3" };
	for (size_t i = 0; i < 5; i++)
		ck_assert_int_eq(mkdirat(topfd, dirs[i], 0755), 0);
}

static void teardown(void)
{
	lm_empty_dir(topfd);
	close(topfd);
	rmdir(top);
}

static void put(const char *path, const char *content)
{
	int fd = openat(topfd, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static void mkd(const char *path)
{
	ck_assert_msg(mkdirat(topfd, path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
}

static struct ufs *open_union(void)
{
	char l[3][128], u[128], w[128];
	for (int i = 0; i < 3; i++)
		snprintf(l[i], sizeof(l[i]), "%s/l%d", top, i + 1);
	snprintf(u, sizeof(u), "%s/u", top);
	snprintf(w, sizeof(w), "%s/w", top);
	char *lowers[] = { l[0], l[1], l[2] };
	struct lamina_union_config c = { .lowers = lowers, .nlowers = 3, .upper = u, .work = w, .timeout = 1 };
	struct ufs *ufs = NULL;
	struct lm_error err = { 0 };
	ck_assert_msg(ufs_open(&c, &ufs, &err) == 0, "ufs_open: %s", err.msg);
	return ufs;
}

/* Looks up a slash-separated path through the union; *ret_node (if given)
 * gets the node of the last component, with a reference. */
static int lookup_node(struct ufs *ufs, const char *path, struct ufs_found *ret, struct ufs_node **ret_node)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", path);
	struct ufs_node *dir = ufs->root;
	ufs_node_ref(ufs, dir);
	char *save = NULL;
	int r = -ENOENT;
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		r = ufs_lookup_name(ufs, dir, c, ret);
		if (r < 0)
			break;
		struct ufs_node *next = ufs_node_get_or_create(ufs, dir, c, ret, false);
		ufs_node_unref(ufs, dir);
		dir = next;
	}
	if (r == 0 && ret_node)
		*ret_node = dir;
	else
		ufs_node_unref(ufs, dir);
	return r;
}

static int lookup_path(struct ufs *ufs, const char *path, struct ufs_found *ret)
{
	return lookup_node(ufs, path, ret, NULL);
}

static char *listing(struct ufs *ufs, const char *path)
{
	static char out[1024];
	struct ufs_found f;
	struct ufs_node *dir = ufs->root;
	if (strcmp(path, ".")) {
		ck_assert_int_eq(lookup_node(ufs, path, &f, &dir), 0);
	} else {
		ufs_node_ref(ufs, dir);
	}
	struct ufs_dir_listing l;
	ck_assert_int_eq(ufs_dir_list(ufs, dir, &l), 0);
	/* sorted, so the answer does not depend on the branches' order */
	for (size_t i = 0; i < l.n; i++)
		for (size_t j = i + 1; j < l.n; j++)
			if (strcmp(l.entries[i].name, l.entries[j].name) > 0) {
				struct ufs_dirent t = l.entries[i];
				l.entries[i] = l.entries[j];
				l.entries[j] = t;
			}
	out[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		strcat(out, l.entries[i].name);
		strcat(out, " ");
	}
	ufs_dir_listing_free(&l);
	ufs_node_unref(ufs, dir);
	return out;
}

START_TEST(name_rules)
{
	ck_assert(ufs_name_is_private(".wh.x"));
	ck_assert(ufs_name_is_private(".wh..wh..opq"));
	ck_assert(!ufs_name_is_private(".whx"));
	ck_assert(!ufs_name_is_private("a.wh.b"));
	ck_assert_str_eq(ufs_whiteout_target(".wh.abc"), "abc");
	ck_assert_ptr_null(ufs_whiteout_target(".wh."));
	ck_assert_ptr_null(ufs_whiteout_target(".wh..wh..opq"));
	ck_assert_ptr_null(ufs_whiteout_target("abc"));
	struct stat st = { .st_mode = S_IFCHR, .st_rdev = makedev(0, 0) };
	ck_assert(ufs_is_whiteout_stat(&st));
	st.st_rdev = makedev(1, 3);
	ck_assert(!ufs_is_whiteout_stat(&st));
}
END_TEST

START_TEST(private_xattrs_hidden_user_ones_escaped)
{
	struct ufs *ufs = open_union();
	char buf[64];
	ck_assert_str_eq(ufs->xattr_prefix, "trusted.overlay.");
	ck_assert_ptr_null(ufs_xattr_from_disk(ufs, "trusted.overlay.opaque", buf, sizeof(buf)));
	ck_assert_ptr_null(ufs_xattr_from_disk(ufs, ufs->xattr_origin, buf, sizeof(buf)));
	ck_assert_str_eq(ufs_xattr_from_disk(ufs, "trusted.overlay.overlay.opaque", buf, sizeof(buf)),
			 "trusted.overlay.opaque");
	ck_assert_str_eq(ufs_xattr_from_disk(ufs, "user.mime_type", buf, sizeof(buf)), "user.mime_type");
	ck_assert_int_eq(ufs_xattr_to_disk(ufs, "trusted.overlay.opaque", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "trusted.overlay.overlay.opaque");
	ck_assert_int_eq(ufs_xattr_to_disk(ufs, "security.capability", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "security.capability");
	ck_assert(ufs_xattr_is_marker(ufs, "trusted.overlay.opaque"));
	ck_assert(!ufs_xattr_is_marker(ufs, "trusted.overlay.overlay.x"));
	ufs_close(ufs);
}
END_TEST

START_TEST(whiteouts_in_both_forms_hide_lower_names)
{
	put("l3/chr", "x");
	put("l3/wh", "x");
	put("l3/keep", "x");
	ck_assert_int_eq(mknodat(topfd, "l1/chr", S_IFCHR, makedev(0, 0)), 0);
	put("l2/.wh.wh", "");
	struct ufs *ufs = open_union();
	struct ufs_found f;
	ck_assert_int_eq(lookup_path(ufs, "chr", &f), -ENOENT);
	ck_assert_int_eq(lookup_path(ufs, "wh", &f), -ENOENT);
	ck_assert_int_eq(lookup_path(ufs, ".wh.wh", &f), -ENOENT); /* markers are never shown */
	ck_assert_int_eq(lookup_path(ufs, "keep", &f), 0);
	ck_assert_int_eq(f.layer, 3);
	ck_assert_str_eq(listing(ufs, "."), "keep ");
	ufs_close(ufs);
}
END_TEST

START_TEST(marker_does_not_hide_its_own_layer)
{
	/* OCI: an entry added in the same layer can only be hidden by a later one */
	put("l2/x", "mine");
	put("l2/.wh.x", "");
	put("l3/x", "lower");
	struct ufs *ufs = open_union();
	struct ufs_found f;
	ck_assert_int_eq(lookup_path(ufs, "x", &f), 0);
	ck_assert_int_eq(f.layer, 2);
	ck_assert_str_eq(listing(ufs, "."), "x ");
	ufs_close(ufs);
}
END_TEST

START_TEST(opaque_in_both_forms_stop_the_merge)
{
	mkd("l1/a");
	mkd("l1/b");
	mkd("l3/a");
	mkd("l3/b");
	put("l1/a/top", "t");
	put("l1/b/top", "t");
	put("l3/a/below", "b");
	put("l3/b/below", "b");
	mkd("l2/c");
	put("l2/c/mid", "m");
	mkd("l3/c");
	put("l3/c/below", "b");
	char p[128];
	snprintf(p, sizeof(p), "%s/l1/a", top);
	ck_assert_int_eq(lsetxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
	put("l1/b/.wh..wh..opq", "");
	struct ufs *ufs = open_union();
	ck_assert_str_eq(listing(ufs, "a"), "top ");
	ck_assert_str_eq(listing(ufs, "b"), "top ");
	ck_assert_str_eq(listing(ufs, "c"), "below mid ");
	struct ufs_found f;
	ck_assert_int_eq(lookup_path(ufs, "a/below", &f), -ENOENT);
	ck_assert_int_eq(lookup_path(ufs, "b/below", &f), -ENOENT);
	ck_assert_int_eq(lookup_path(ufs, "c/below", &f), 0);
	ck_assert_int_eq(lookup_path(ufs, "c", &f), 0);
	ck_assert(f.merged);
	ck_assert_int_eq(f.st.st_nlink, 1); /* as overlayfs for merged directories */
	ufs_close(ufs);
}
END_TEST

START_TEST(non_directory_stops_the_merge)
{
	put("l1/d", "file on top");
	mkd("l2/d");
	put("l2/d/x", "x");
	mkd("l1/e");
	put("l2/e", "file below");
	mkd("l3/e");
	put("l3/e/y", "y");
	struct ufs *ufs = open_union();
	struct ufs_found f;
	ck_assert_int_eq(lookup_path(ufs, "d", &f), 0);
	ck_assert(S_ISREG(f.st.st_mode));
	ck_assert_int_eq(lookup_path(ufs, "e", &f), 0);
	ck_assert(S_ISDIR(f.st.st_mode));
	ck_assert_int_eq(f.last_layer, 1);
	ck_assert_str_eq(listing(ufs, "e"), "");
	ufs_close(ufs);
}
END_TEST

START_TEST(writes_kernel_forms)
{
	struct ufs *ufs = open_union();
	int ufd = openat(topfd, "u", O_PATH | O_DIRECTORY);
	ck_assert_int_eq(ufs_whiteout_create(ufs, ufd, "gone"), 0);
	struct stat st;
	ck_assert_int_eq(fstatat(ufd, "gone", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_msg(ufs->whiteout_mknod ? ufs_is_whiteout_stat(&st) : S_ISREG(st.st_mode), "whiteout form");
	ck_assert_int_eq(mkdirat(ufd, "d", 0755), 0);
	ck_assert_int_eq(ufs_set_opaque(ufs, ufd, "d"), 0);
	char p[128], v[4];
	snprintf(p, sizeof(p), "%s/u/d", top);
	ck_assert_int_eq(lgetxattr(p, "trusted.overlay.opaque", v, sizeof(v)), 1);
	ck_assert_int_eq(v[0], 'y');
	close(ufd);
	ufs_close(ufs);
}
END_TEST

START_TEST(rootless_form_without_mknod)
{
	setenv("LAMINA_DISABLE_OVL_WHITEOUT", "1", 1);
	struct ufs *ufs = open_union();
	ck_assert(!ufs->whiteout_mknod);
	int ufd = openat(topfd, "u", O_PATH | O_DIRECTORY);
	ck_assert_int_eq(ufs_whiteout_create(ufs, ufd, "gone"), 0);
	ck_assert_int_eq(ufs_has_wh_marker(ufd, "gone"), 1);
	ck_assert_int_eq(ufs_remove_wh_marker(ufd, "gone"), 0);
	ck_assert_int_eq(ufs_has_wh_marker(ufd, "gone"), 0);
	close(ufd);
	ufs_close(ufs);
	unsetenv("LAMINA_DISABLE_OVL_WHITEOUT");
}
END_TEST

START_TEST(workdir_leftovers_cleared_at_open)
{
	mkd("w/work");
	mkd("w/work/#junk");
	put("w/work/#junk/half", "half-copied");
	struct ufs *ufs = open_union();
	struct stat st;
	ck_assert_int_eq(fstatat(topfd, "w/work/#junk", &st, AT_SYMLINK_NOFOLLOW), -1);
	ck_assert_int_eq(errno, ENOENT);
	ufs_close(ufs);
}
END_TEST

int main(void)
{
	/* root: mknod of whiteouts, trusted.* xattrs */
	Suite *s = suite_create("unionfs-whiteout");
	TCase *tc = tcase_create("markers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, name_rules);
	tcase_add_test(tc, private_xattrs_hidden_user_ones_escaped);
	tcase_add_test(tc, whiteouts_in_both_forms_hide_lower_names);
	tcase_add_test(tc, marker_does_not_hide_its_own_layer);
	tcase_add_test(tc, opaque_in_both_forms_stop_the_merge);
	tcase_add_test(tc, non_directory_stops_the_merge);
	tcase_add_test(tc, writes_kernel_forms);
	tcase_add_test(tc, rootless_form_without_mknod);
	tcase_add_test(tc, workdir_leftovers_cleared_at_open);
	suite_add_tcase(s, tc);
	return tl_run_suite(s, "test-unionfs-whiteout", TL_NEED_ROOT);
}
