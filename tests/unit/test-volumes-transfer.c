/*
 * tests/unit/test-volumes-transfer.c: export, import and clone, as root,
 * on real trees (every file type, owners, modes, xattrs, hard links, sparse
 * files) compared with tl_tree_diff: round trips, imports into new, empty,
 * non-empty and used volumes, bind volumes mounted for the time of the
 * transfer, hostile tars that must be refused by entry while nothing outside
 * the volume (nor the volume) changes, and a volume being imported that
 * stays invisible until it is complete.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"
#include "tests/unit/voltest.h"

static const char *const content[] = {
	"dir a",
	"file a/hello hello world",
	"data a/big 300K 7",
	"sparse s 1M 512K in the middle",
	"symlink a/ln hello",
	"symlink dangling /nowhere/at/all",
	"link a/hard a/hello",
	"fifo p",
	"xattr a/hello user.k v1",
	"mode a/hello 0600",
	"owner a/hello 1234:5678",
	"dir empty 0700",
	NULL,
};

/* Differences between two trees, printed to the log; 0 when equal. */
static size_t tree_diff(const char *a, const char *b)
{
	struct tl_tree ta, tb;
	struct tl_buf rep = TL_BUF_INIT;
	ck_assert_int_eq(tl_tree_snapshot(a, &ta), 0);
	ck_assert_int_eq(tl_tree_snapshot(b, &tb), 0);
	size_t n = tl_tree_diff(&ta, &tb, "a", "b", 0, &rep);
	if (n)
		fprintf(stderr, "%s vs %s:\n%s\n", a, b, tl_buf_str(&rep));
	tl_buf_release(&rep);
	tl_tree_release(&ta);
	tl_tree_release(&tb);
	return n;
}

static bool is_empty_dir(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

/* Exports name into a new file and returns its fd at offset 0. */
static int export_to_file(const char *name)
{
	_cleanup_free_ char *path = tl_strdupf("%s/%s.tar", tl_scratch, name);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	struct lm_error err = { 0 };
	int r = lamina_volume_export(vt_store, name, fd, &err);
	ck_assert_msg(r == 0, "export '%s': %d %s", name, r, err.msg);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void import_ok(const char *name, int fd)
{
	struct lm_error err = { 0 };
	int r = lamina_volume_import(vt_store, name, fd, &err);
	ck_assert_msg(r == 0, "import '%s': %d %s", name, r, err.msg);
}

START_TEST(export_then_import_into_a_new_volume)
{
	free(vt_create_ok(vt_store, "src1", NULL, L("k=v")));
	tl_branch_build(vt_data("src1"), content);
	_cleanup_close_ int tar = export_to_file("src1");
	import_ok("dst1", tar);
	ck_assert_uint_eq(tree_diff(vt_data("src1"), vt_data("dst1")), 0);
	struct lamina_volume *v = NULL;
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "dst1", &v, NULL), 0);
	ck_assert_uint_eq(v->n_options, 0);
	ck_assert_uint_eq(v->n_labels, 0);
	ck_assert(!v->anonymous);
	lamina_volume_free(v);
	/* again: the volume is not empty any more */
	ck_assert_int_eq(lseek(tar, 0, SEEK_SET), 0);
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_import(vt_store, "dst1", tar, &err), -ENOTEMPTY);
	ck_assert_str_eq(err.msg, "volume 'dst1': not empty (import fills a new or empty volume)");
	ck_assert_uint_eq(tree_diff(vt_data("src1"), vt_data("dst1")), 0);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(import_into_an_existing_empty_volume)
{
	free(vt_create_ok(vt_store, "e1", NULL, L("keep=me")));
	ck_assert_int_eq(chmod(vt_data("e1"), 0750), 0);
	struct tl_tar_entry e[] = {
		{ .type = 'd', .name = "d" },
		{ .type = 'f', .name = "d/f", .data = "imported", .uid = 42, .gid = 43, .perm = 0640 },
		{ 0 },
	};
	_cleanup_close_ int tar = tl_tar_memfd(e, TL_TAR_GZIP);
	import_ok("e1", tar);
	struct stat st;
	ck_assert_int_eq(stat(vt_data("e1"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0750); /* the folder's own mode stays */
	_cleanup_free_ char *f = tl_strdupf("%s/d/f", vt_data("e1"));
	ck_assert_int_eq(stat(f, &st), 0);
	ck_assert_int_eq(st.st_uid, 42);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	struct lamina_volume *v = NULL;
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "e1", &v, NULL), 0);
	ck_assert_uint_eq(v->n_labels, 1);
	lamina_volume_free(v);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
}
END_TEST

START_TEST(import_refuses_a_used_volume)
{
	free(vt_create_ok(vt_store, "u1", NULL, NULL));
	ck_assert_int_eq(lamina_volume_mount(vt_store, "u1", "c1", NULL, NULL), 0);
	struct tl_tar_entry e[] = { { .type = 'f', .name = "f", .data = "x" }, { 0 } };
	_cleanup_close_ int tar = tl_tar_memfd(e, 0);
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_import(vt_store, "u1", tar, &err), -EBUSY);
	ck_assert(is_empty_dir(vt_data("u1")));
	ck_assert_int_eq(lamina_volume_import(vt_store, "-bad", tar, &err), -EINVAL);
}
END_TEST

/* Snapshots of what a hostile tar must not change: the folder outside
 * and the store's volumes (the database may change: it is not looked at). */
static void snapshot_both(const char *outside, struct tl_tree t[2])
{
	_cleanup_free_ char *vols = tl_strdupf("%s/volumes", vt_root());
	ck_assert_int_eq(tl_tree_snapshot(outside, &t[0]), 0);
	ck_assert_int_eq(tl_tree_snapshot(vols, &t[1]), 0);
}

/* One hostile tar: refused naming the entry, into a new volume (not
 * created) and into an existing empty one (left empty), with nothing outside
 * changed. */
static void hostile(const char *outside, const struct tl_tar_entry *e, const char *entry)
{
	struct tl_tree before[2], after[2];
	struct tl_buf rep = TL_BUF_INIT;
	snapshot_both(outside, before);
	const char *names[] = { "newvol", "emptyvol" };
	for (size_t i = 0; i < 2; i++) {
		_cleanup_close_ int tar = tl_tar_memfd(e, 0);
		struct lm_error err = { 0 };
		int r = lamina_volume_import(vt_store, names[i], tar, &err);
		fprintf(stderr, "refused: %s\n", err.msg);
		ck_assert_msg(r == -EINVAL, "%s: import of '%s' gave %d (%s)", names[i], entry, r, err.msg);
		ck_assert_msg(strstr(err.msg, entry) && strstr(err.msg, names[i]), "message: %s", err.msg);
	}
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "newvol", NULL, NULL), -ENOENT);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	snapshot_both(outside, after);
	size_t n = 0;
	for (int i = 0; i < 2; i++) {
		n += tl_tree_diff(&before[i], &after[i], "before", "after", 0, &rep);
		tl_tree_release(&before[i]);
		tl_tree_release(&after[i]);
	}
	ck_assert_msg(n == 0, "'%s' changed things:\n%s", entry, tl_buf_str(&rep));
	tl_buf_release(&rep);
}

START_TEST(hostile_tars_change_nothing)
{
	free(vt_create_ok(vt_store, "emptyvol", NULL, NULL));
	_cleanup_free_ char *outside = tl_strdupf("%s/outside", tl_scratch);
	tl_branch_build(outside, TL_SPEC("file keep sentinel"));
	hostile(outside, (struct tl_tar_entry[]){ { .type = 'f', .name = "ok" }, { .type = 'f', .name = "../escape" }, { 0 } },
		"../escape");
	hostile(outside, (struct tl_tar_entry[]){ { .type = 'f', .name = "/abs-escape", .data = "x" }, { 0 } }, "/abs-escape");
	hostile(outside, (struct tl_tar_entry[]){ { .type = 'f', .name = "a/../../x" }, { 0 } }, "a/../../x");
	hostile(outside, (struct tl_tar_entry[]){ { .type = 'l', .name = "link", .data = outside },
					 { .type = 'f', .name = "link/pwned", .data = "x" },
					 { 0 } },
		"link/pwned");
	hostile(outside, (struct tl_tar_entry[]){ { .type = 'l', .name = "up", .data = "../../../.." },
					 { .type = 'f', .name = "up/x" },
					 { 0 } },
		"up/x");
	hostile(outside, (struct tl_tar_entry[]){ { .type = 'h', .name = "hl", .data = "/etc/passwd" }, { 0 } }, "hl");
	hostile(outside, (struct tl_tar_entry[]){ { .type = 'h', .name = "hl2", .data = "../outside/keep" }, { 0 } }, "hl2");
	ck_assert(is_empty_dir(vt_data("emptyvol")));
}
END_TEST

START_TEST(garbage_and_truncated_input)
{
	free(vt_create_ok(vt_store, "g1", NULL, NULL));
	char junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	_cleanup_close_ int j = tl_memfd(junk, sizeof(junk));
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_import(vt_store, "g1", j, &err), -EINVAL);
	struct tl_tar_entry e[] = { { .type = 'f', .name = "big", .data = junk, .len = sizeof(junk) }, { 0 } };
	size_t len = 0;
	_cleanup_free_ void *whole = tl_tar_build(e, 0, &len);
	_cleanup_close_ int cut = tl_memfd(whole, 512 + 1000);
	ck_assert_int_eq(lamina_volume_import(vt_store, "g1", cut, &err), -EINVAL);
	ck_assert(is_empty_dir(vt_data("g1")));
	ck_assert_uint_eq(vt_tmp_entries(), 0);
}
END_TEST

START_TEST(bind_volumes_are_mounted_for_the_transfer)
{
	_cleanup_free_ char *host = tl_strdupf("%s/host", tl_scratch);
	ck_assert_int_eq(tl_mkdir_p(host, 0755), 0);
	_cleanup_free_ char *dev = tl_strdupf("device=%s", host);
	free(vt_create_ok(vt_store, "b1", L("type=none", "o=bind", dev), NULL));
	free(vt_create_ok(vt_store, "plain", NULL, NULL));
	tl_branch_build(vt_data("plain"), content);
	_cleanup_close_ int tar = export_to_file("plain");
	import_ok("b1", tar); /* goes to the host folder */
	ck_assert_ptr_null(vt_mounted_type(vt_data("b1")));
	ck_assert_uint_eq(tree_diff(vt_data("plain"), host), 0);
	_cleanup_close_ int back = export_to_file("b1");
	ck_assert_ptr_null(vt_mounted_type(vt_data("b1")));
	import_ok("again", back);
	ck_assert_uint_eq(tree_diff(host, vt_data("again")), 0);
	/* a clone of a bind volume is a plain copy of its host folder */
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_clone(vt_store, "b1", "copy", &err), 0);
	ck_assert_ptr_null(vt_mounted_type(vt_data("b1")));
	ck_assert_uint_eq(tree_diff(host, vt_data("copy")), 0);
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(clone_copies_content_and_labels)
{
	free(vt_create_ok(vt_store, "orig", NULL, L("b=2", "a=1")));
	tl_branch_build(vt_data("orig"), content);
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_clone(vt_store, "orig", "twin", &err), 0);
	ck_assert_uint_eq(tree_diff(vt_data("orig"), vt_data("twin")), 0);
	struct lamina_volume *v = NULL;
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "twin", &v, NULL), 0);
	ck_assert_uint_eq(v->n_labels, 2);
	ck_assert_str_eq(v->labels[0].key, "a");
	ck_assert_str_eq(v->labels[1].value, "2");
	lamina_volume_free(v);
	ck_assert_int_eq(lamina_volume_clone(vt_store, "orig", "twin", &err), -EEXIST);
	ck_assert_msg(strstr(err.msg, "volume 'twin': already exists"), "%s", err.msg);
	ck_assert_int_eq(lamina_volume_clone(vt_store, "orig", "orig", &err), -EEXIST);
	ck_assert_int_eq(lamina_volume_clone(vt_store, "missing", "other", &err), -ENOENT);
	ck_assert_str_eq(err.msg, "volume 'missing': no such volume");
	ck_assert_int_eq(lamina_volume_clone(vt_store, "orig", "a/b", &err), -EINVAL);
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "other", NULL, NULL), -ENOENT);
	ck_assert_int_eq(lamina_volume_export(vt_store, "missing", 1, &err), -ENOENT);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
}
END_TEST

/* The child: imports name from the pipe's read end. */
static int import_from_pipe(struct lamina_store *st, void *arg)
{
	return lamina_volume_import(st, "slow", *(int *)arg, NULL);
}

/* Waits (without a timing assertion: Check's timeout ends a hang) until
 * the child has made the 'creating' volume's folder. */
static void wait_for_folder(const char *path)
{
	while (!vt_exists(path)) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

START_TEST(a_volume_being_imported_is_invisible)
{
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = vt_spawn(import_from_pipe, &p[0], p[1]);
	close(p[0]);
	_cleanup_free_ char *dir = tl_strdupf("%s/volumes/slow", vt_root());
	wait_for_folder(dir);
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "slow", NULL, &err), -ENOENT);
	ck_assert_int_eq(vt_create(vt_store, "slow", NULL, NULL, NULL, &err), -EBUSY);
	ck_assert_str_eq(err.msg, "volume 'slow': being created by another process");
	ck_assert_int_eq(lamina_volume_remove(vt_store, "slow", true, &err), -EBUSY);
	vt_check(vt_store, true, NULL, false); /* in progress is not a problem */
	struct tl_tar_entry e[] = { { .type = 'f', .name = "late", .data = "arrived" }, { 0 } };
	size_t len = 0;
	_cleanup_free_ void *tar = tl_tar_build(e, 0, &len);
	ck_assert_int_eq(write(p[1], tar, len), (ssize_t)len);
	close(p[1]);
	vt_reap(pid);
	_cleanup_free_ char *late = tl_strdupf("%s/late", vt_data("slow"));
	ck_assert(vt_exists(late));
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "slow", NULL, &err), 0);
	vt_check(vt_store, false, NULL, false);
}
END_TEST

static int export_to_pipe(struct lamina_store *st, void *arg)
{
	return lamina_volume_export(st, "reading", *(int *)arg, NULL);
}

/* Reads fd to its end; returns the number of bytes. */
static size_t drain(int fd)
{
	char buf[65536];
	size_t total = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	ck_assert_int_eq(n, 0);
	return total;
}

START_TEST(an_export_holds_the_volume_until_it_is_done)
{
	_cleanup_free_ char *host = tl_strdupf("%s/host", tl_scratch);
	tl_branch_build(host, TL_SPEC("data big 2M 3")); /* more than a pipe holds */
	_cleanup_free_ char *dev = tl_strdupf("device=%s", host);
	free(vt_create_ok(vt_store, "reading", L("type=none", "o=bind", dev), NULL));
	ck_assert_int_eq(lamina_volume_mount(vt_store, "reading", "c1", NULL, NULL), 0);
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = vt_spawn(export_to_pipe, &p[1], p[0]);
	close(p[1]);
	char first;
	ck_assert_int_eq(read(p[0], &first, 1), 1); /* the export is writing */
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_remove(vt_store, "reading", true, &err), -EBUSY);
	ck_assert_str_eq(err.msg, "volume 'reading': in use by an export, import or clone");
	/* the last counted user goes: the mount stays for the export */
	ck_assert_int_eq(lamina_volume_unmount(vt_store, "reading", "c1", &err), 0);
	_cleanup_free_ char *t = vt_mounted_type(vt_data("reading"));
	ck_assert_ptr_nonnull(t);
	vt_check(vt_store, false, NULL, false); /* a mount held by an export is fine */
	ck_assert_uint_gt(drain(p[0]), 2 * 1024 * 1024 - 1);
	close(p[0]);
	vt_reap(pid);
	/* the export, last to let go, unmounted it */
	ck_assert_ptr_null(vt_mounted_type(vt_data("reading")));
	ck_assert_int_eq(lamina_volume_remove(vt_store, "reading", false, &err), 0);
	_cleanup_free_ char *big = tl_strdupf("%s/big", host);
	ck_assert(vt_exists(big));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("volumes-transfer");
	TCase *tc = tcase_create("transfer");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, export_then_import_into_a_new_volume);
	tcase_add_test(tc, import_into_an_existing_empty_volume);
	tcase_add_test(tc, import_refuses_a_used_volume);
	tcase_add_test(tc, hostile_tars_change_nothing);
	tcase_add_test(tc, garbage_and_truncated_input);
	tcase_add_test(tc, bind_volumes_are_mounted_for_the_transfer);
	tcase_add_test(tc, clone_copies_content_and_labels);
	tcase_add_test(tc, a_volume_being_imported_is_invisible);
	tcase_add_test(tc, an_export_holds_the_volume_until_it_is_done);
	suite_add_tcase(su, tc);
	return tl_run_suite(su, "test-volumes-transfer", TL_NEED_ROOT);
}
