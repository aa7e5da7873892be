/*
 * tests/unit/test-volumes-mount.c: volumes that mount, as root: tmpfs
 * mounted at the first user and unmounted at the last (seen in
 * /proc/self/mountinfo), mount options applied, bind volumes showing their
 * device folder (and never losing its content), counts across a reopen,
 * removal of a used volume, failures that change nothing, and what check
 * says about mounts and users that disagree.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"
#include "tests/unit/voltest.h"


static void assert_mounted(const char *name, const char *type)
{
	_cleanup_free_ char *got = vt_mounted_type(vt_data(name));
	if (!type)
		ck_assert_msg(!got, "volume '%s': %s still mounted", name, got);
	else
		ck_assert_msg(got && !strcmp(got, type), "volume '%s': mounted %s, want %s", name, got ? got : "nothing",
			      type);
	struct lamina_volume *v = NULL;
	ck_assert_int_eq(lamina_volume_inspect(vt_store, name, &v, NULL), 0);
	ck_assert_int_eq(v->mounted, type != NULL);
	lamina_volume_free(v);
}

static void mount_ok(const char *name, const char *caller)
{
	struct lm_error err = { 0 };
	int r = lamina_volume_mount(vt_store, name, caller, NULL, &err);
	ck_assert_msg(r == 0, "mount '%s' by %s: %d %s", name, caller, r, err.msg);
}

static void unmount_ok(const char *name, const char *caller)
{
	struct lm_error err = { 0 };
	int r = lamina_volume_unmount(vt_store, name, caller, &err);
	ck_assert_msg(r == 0, "unmount '%s' by %s: %d %s", name, caller, r, err.msg);
}

START_TEST(tmpfs_first_user_mounts_last_unmounts)
{
	free(vt_create_ok(vt_store, "tmp1", L("type=tmpfs", "o=size=1m"), NULL));
	assert_mounted("tmp1", NULL);
	char *path = NULL;
	ck_assert_int_eq(lamina_volume_mount(vt_store, "tmp1", "c1", &path, NULL), 0);
	ck_assert_str_eq(path, vt_data("tmp1"));
	free(path);
	assert_mounted("tmp1", "tmpfs");
	vt_write(vt_data("tmp1"), "f", "in tmpfs");
	mount_ok("tmp1", "c1");
	mount_ok("tmp1", "c2");
	unmount_ok("tmp1", "c1");
	unmount_ok("tmp1", "c1");
	assert_mounted("tmp1", "tmpfs"); /* c2 still holds it */
	_cleanup_free_ char *f = tl_strdupf("%s/f", vt_data("tmp1"));
	ck_assert(vt_exists(f));
	unmount_ok("tmp1", "c2");
	assert_mounted("tmp1", NULL);
	ck_assert(!vt_exists(f)); /* the tmpfs is gone, the folder below is empty */
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(tmpfs_options_reach_the_mount)
{
	free(vt_create_ok(vt_store, "sized", L("type=tmpfs", "size=2m", "o=mode=0711,noexec"), NULL));
	mount_ok("sized", NULL);
	struct statvfs sv;
	ck_assert_int_eq(statvfs(vt_data("sized"), &sv), 0);
	ck_assert_uint_eq((uint64_t)sv.f_blocks * sv.f_frsize, 2 * 1024 * 1024);
	ck_assert(sv.f_flag & ST_NOEXEC);
	struct stat st;
	ck_assert_int_eq(stat(vt_data("sized"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0711);
	unmount_ok("sized", NULL);
	assert_mounted("sized", NULL);
}
END_TEST

START_TEST(bind_shows_the_device_folder)
{
	_cleanup_free_ char *src = tl_strdupf("%s/src", tl_scratch);
	vt_write(src, "hello", "from the host");
	_cleanup_free_ char *dev = tl_strdupf("device=%s", src);
	free(vt_create_ok(vt_store, "bound", L("type=none", "o=bind", dev), NULL));
	free(vt_create_ok(vt_store, "bound-ro", L("type=none", "o=bind,ro", dev), NULL));
	mount_ok("bound", "c");
	mount_ok("bound-ro", "c");
	_cleanup_free_ char *seen = tl_strdupf("%s/hello", vt_data("bound"));
	_cleanup_free_ char *seen_ro = tl_strdupf("%s/hello", vt_data("bound-ro"));
	ck_assert(vt_exists(seen) && vt_exists(seen_ro));
	vt_write(vt_data("bound"), "new", "written through the volume");
	_cleanup_free_ char *on_host = tl_strdupf("%s/new", src);
	ck_assert(vt_exists(on_host));
	_cleanup_free_ char *ro_new = tl_strdupf("%s/nope", vt_data("bound-ro"));
	ck_assert_int_lt(open(ro_new, O_WRONLY | O_CREAT | O_CLOEXEC, 0644), 0);
	ck_assert_int_eq(errno, EROFS);
	unmount_ok("bound", "c");
	ck_assert(!vt_exists(seen));
	assert_mounted("bound", NULL);
	/* removing a mounted bind volume never deletes the host's files */
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_remove(vt_store, "bound-ro", true, &err), 0);
	ck_assert_ptr_null(vt_mounted_type(vt_data("bound-ro")));
	_cleanup_free_ char *host = tl_strdupf("%s/hello", src);
	ck_assert(vt_exists(host) && vt_exists(on_host));
	struct lamina_volume_prune_result res;
	ck_assert_int_eq(lamina_volume_prune(vt_store, true, NULL, 0, &res, &err), 0);
	ck_assert_uint_eq(res.n_names, 1);
	lamina_volume_prune_result_release(&res);
	ck_assert(vt_exists(host) && vt_exists(on_host));
}
END_TEST

START_TEST(rbind_takes_the_mounts_below)
{
	_cleanup_free_ char *src = tl_strdupf("%s/src", tl_scratch), *sub = tl_strdupf("%s/src/sub", tl_scratch);
	ck_assert_int_eq(tl_mkdir_p(sub, 0755), 0);
	ck_assert_int_eq(mount("tmpfs", sub, "tmpfs", 0, "size=1m"), 0);
	vt_write(sub, "deep", "x");
	_cleanup_free_ char *dev = tl_strdupf("device=%s", src);
	free(vt_create_ok(vt_store, "rb", L("type=none", "o=rbind", dev), NULL));
	free(vt_create_ok(vt_store, "nb", L("type=none", "o=bind", dev), NULL));
	mount_ok("rb", NULL);
	mount_ok("nb", NULL);
	_cleanup_free_ char *rdeep = tl_strdupf("%s/sub/deep", vt_data("rb"));
	_cleanup_free_ char *ndeep = tl_strdupf("%s/sub/deep", vt_data("nb"));
	ck_assert(vt_exists(rdeep));
	ck_assert(!vt_exists(ndeep));
	unmount_ok("rb", NULL);
	unmount_ok("nb", NULL);
	assert_mounted("rb", NULL);
	ck_assert_int_eq(umount2(sub, MNT_DETACH), 0);
}
END_TEST

START_TEST(counts_survive_a_reopen)
{
	free(vt_create_ok(vt_store, "kept", L("type=tmpfs"), NULL));
	mount_ok("kept", "c1");
	mount_ok("kept", "c1");
	vt_store = lamina_store_close(vt_store);
	vt_store = vt_open();
	unmount_ok("kept", "c1");
	assert_mounted("kept", "tmpfs");
	unmount_ok("kept", "c1");
	assert_mounted("kept", NULL);
}
END_TEST

START_TEST(remove_used_refused_then_forced)
{
	free(vt_create_ok(vt_store, "used", L("type=tmpfs"), NULL));
	mount_ok("used", "c1");
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_remove(vt_store, "used", false, &err), -EBUSY);
	ck_assert_str_eq(err.msg, "volume 'used': in use by 1 caller");
	assert_mounted("used", "tmpfs");
	/* even with a file held open in it: forced removal detaches */
	vt_write(vt_data("used"), "open", "x");
	_cleanup_free_ char *f = tl_strdupf("%s/open", vt_data("used"));
	_cleanup_close_ int fd = open(f, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lamina_volume_remove(vt_store, "used", true, &err), 0);
	ck_assert_ptr_null(vt_mounted_type(vt_data("used")));
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "used", NULL, &err), -ENOENT);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(failures_change_nothing)
{
	free(vt_create_ok(vt_store, "ext", L("type=ext4", "device=/dev/lamina-no-such-device"), NULL));
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_mount(vt_store, "ext", "c1", NULL, &err), -ENOENT);
	ck_assert_msg(strstr(err.msg, "volume 'ext': cannot mount ext4 '/dev/lamina-no-such-device'"), "%s", err.msg);
	struct lamina_volume *v = NULL;
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "ext", &v, NULL), 0);
	ck_assert_uint_eq(v->n_users, 0);
	lamina_volume_free(v);
	/* a busy umount at the last use: the count stays, the mount too */
	free(vt_create_ok(vt_store, "held", L("type=tmpfs"), NULL));
	mount_ok("held", "c1");
	vt_write(vt_data("held"), "f", "x");
	_cleanup_free_ char *f = tl_strdupf("%s/f", vt_data("held"));
	int fd = open(f, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(lamina_volume_unmount(vt_store, "held", "c1", &err), -EBUSY);
	ck_assert_msg(strstr(err.msg, "volume 'held': cannot unmount"), "%s", err.msg);
	assert_mounted("held", "tmpfs");
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "held", &v, NULL), 0);
	ck_assert_uint_eq(v->n_users, 1);
	lamina_volume_free(v);
	close(fd);
	unmount_ok("held", "c1");
	assert_mounted("held", NULL);
}
END_TEST

START_TEST(check_mounts_against_users)
{
	free(vt_create_ok(vt_store, "orphan", L("type=tmpfs"), NULL));
	free(vt_create_ok(vt_store, "lost", L("type=tmpfs", "o=size=1m"), NULL));
	free(vt_create_ok(vt_store, "plain", NULL, NULL));
	/* mounted, nobody holds it */
	ck_assert_int_eq(mount("tmpfs", vt_data("orphan"), "tmpfs", 0, NULL), 0);
	vt_check(vt_store, false, "volume 'orphan': mounted, but no caller holds it", false);
	vt_check(vt_store, true, "volume 'orphan': mounted, but no caller holds it", true);
	assert_mounted("orphan", NULL);
	/* held, not mounted (a reboot): mounted again */
	mount_ok("lost", "c1");
	ck_assert_int_eq(umount2(vt_data("lost"), 0), 0);
	vt_check(vt_store, false, "volume 'lost': held by callers, but not mounted", false);
	vt_check(vt_store, true, "volume 'lost': held by callers, but not mounted", true);
	assert_mounted("lost", "tmpfs");
	vt_check(vt_store, false, NULL, false);
	/* a mount on a plain volume is somebody else's: reported, left */
	ck_assert_int_eq(mount("tmpfs", vt_data("plain"), "tmpfs", 0, NULL), 0);
	vt_check(vt_store, true, "volume 'plain': something lamina did not mount", false);
	assert_mounted("plain", "tmpfs");
	ck_assert_int_eq(umount2(vt_data("plain"), 0), 0);
	unmount_ok("lost", "c1");
	assert_mounted("lost", NULL);
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(check_missing_data_folder)
{
	free(vt_create_ok(vt_store, "hollow", L("type=tmpfs"), NULL));
	ck_assert_int_eq(rmdir(vt_data("hollow")), 0);
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_mount(vt_store, "hollow", NULL, NULL, &err), -ENOENT);
	ck_assert_msg(strstr(err.msg, "lamina check --repair"), "%s", err.msg);
	vt_check(vt_store, true, "volume 'hollow': data folder is missing", true);
	vt_check(vt_store, false, NULL, false);
	mount_ok("hollow", NULL);
	assert_mounted("hollow", "tmpfs");
	unmount_ok("hollow", NULL);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("volumes-mount");
	TCase *tc = tcase_create("mount");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, tmpfs_first_user_mounts_last_unmounts);
	tcase_add_test(tc, tmpfs_options_reach_the_mount);
	tcase_add_test(tc, bind_shows_the_device_folder);
	tcase_add_test(tc, rbind_takes_the_mounts_below);
	tcase_add_test(tc, counts_survive_a_reopen);
	tcase_add_test(tc, remove_used_refused_then_forced);
	tcase_add_test(tc, failures_change_nothing);
	tcase_add_test(tc, check_mounts_against_users);
	tcase_add_test(tc, check_missing_data_folder);
	suite_add_tcase(su, tc);
	return tl_run_suite(su, "test-volumes-mount", TL_NEED_ROOT);
}
