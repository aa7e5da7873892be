/*
 * tests/unit/test-common-path.c: names and paths from outside can never
 * lead out of the directory they are resolved in, with openat2 and with the
 * component-walk fallback.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsops.h"
#include "common/path.h"
#include "tests/lib/testlib.h"

static char top[64];
static int root = -1;

static void setup(void)
{
	strcpy(top, "/tmp/lamina-path-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	int t = open(top, O_PATH | O_DIRECTORY);
	ck_assert_int_eq(mkdirat(t, "root", 0755), 0);
	ck_assert_int_eq(mkdirat(t, "root/sub", 0755), 0);
	int fd = openat(t, "outside", O_WRONLY | O_CREAT, 0644);
	close(fd);
	fd = openat(t, "root/sub/inside", O_WRONLY | O_CREAT, 0644);
	close(fd);
	ck_assert_int_eq(symlinkat("../../outside", t, "root/sub/up"), 0);
	ck_assert_int_eq(symlinkat("/etc", t, "root/abs"), 0);
	ck_assert_int_eq(symlinkat("sub", t, "root/rel"), 0);
	root = openat(t, "root", O_PATH | O_DIRECTORY);
	close(t);
}

static void teardown(void)
{
	close(root);
	int t = open(top, O_PATH | O_DIRECTORY);
	lm_empty_dir(t);
	close(t);
	rmdir(top);
}

START_TEST(names)
{
	ck_assert_int_eq(lm_name_check("a"), 0);
	ck_assert_int_eq(lm_name_check(""), -EINVAL);
	ck_assert_int_eq(lm_name_check("."), -EINVAL);
	ck_assert_int_eq(lm_name_check(".."), -EINVAL);
	ck_assert_int_eq(lm_name_check("a/b"), -EINVAL);
	char longname[NAME_MAX + 2];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[NAME_MAX + 1] = '\0';
	ck_assert_int_eq(lm_name_check(longname), -ENAMETOOLONG);
	longname[NAME_MAX] = '\0';
	ck_assert_int_eq(lm_name_check(longname), 0);
}
END_TEST

static void check_escapes(void)
{
	int fd = lm_open_beneath(root, "sub/inside", O_RDONLY, 0, LM_RESOLVE_NO_SYMLINKS);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_lt(lm_open_beneath(root, "sub/up", O_RDONLY, 0, 0), 0);
	ck_assert_int_lt(lm_open_beneath(root, "abs/passwd", O_RDONLY, 0, 0), 0);
	ck_assert_int_lt(lm_open_beneath(root, "../outside", O_RDONLY, 0, 0), 0);
	ck_assert_int_lt(lm_open_beneath(root, "/etc/passwd", O_RDONLY, 0, 0), 0);
	ck_assert_int_lt(lm_open_beneath(root, "rel/inside", O_RDONLY, 0, LM_RESOLVE_NO_SYMLINKS), 0);
	/* a final symlink opened as O_PATH|O_NOFOLLOW is the link itself */
	fd = lm_open_beneath(root, "sub/up", O_PATH | O_NOFOLLOW, 0, LM_RESOLVE_NO_SYMLINKS);
	ck_assert_int_ge(fd, 0);
	struct stat st;
	ck_assert_int_eq(fstatat(fd, "", &st, AT_EMPTY_PATH), 0);
	ck_assert(S_ISLNK(st.st_mode));
	close(fd);
}

START_TEST(beneath_openat2)
{
	lm_path_force_fallback(0);
	check_escapes();
}
END_TEST

START_TEST(beneath_fallback_walk)
{
	lm_path_force_fallback(1);
	check_escapes();
	lm_path_force_fallback(0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("common-path");
	TCase *tc = tcase_create("path");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, names);
	tcase_add_test(tc, beneath_openat2);
	tcase_add_test(tc, beneath_fallback_walk);
	suite_add_tcase(s, tc);
	return tl_run_suite(s, "test-common-path", 0);
}
