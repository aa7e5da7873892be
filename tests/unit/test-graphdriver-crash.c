/*
 * tests/unit/test-graphdriver-crash.c: a SIGKILL at each crashpoint of
 * layer create, import, apply_diff, remove, mount and unmount (a child runs
 * the operation with $LAMINA_CRASHPOINT set), then: the survivors see no
 * half layer (absent, or empty as created, or whole); lamina check reports
 * the problem, check --repair fixes it, a second check is clean, and the ID
 * works again (the same tar imports or applies). And a SIGKILL in the middle
 * of an export (lamina_layer_diff) of a large layer: nothing to repair.
 * Needs root (real mounts).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lamina/layer.h>

#include "common/cleanup.h"
#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"
#include "tests/unit/layertest.h"
#include "tests/unit/voltest.h"

#define ID "crashy"

/* The tar imported or applied: a whiteout of the base's f, a folder, a
 * file with a hard link and a symlink. */
static const struct tl_tar_entry layer_tar[] = {
	{ .type = 'f', .name = ".wh.f" },
	{ .type = 'd', .name = "etc" },
	{ .type = 'f', .name = "etc/hosts", .data = "127.0.0.1 localhost\n" },
	{ .type = 'h', .name = "etc/hosts.bak", .data = "etc/hosts" },
	{ .type = 'l', .name = "etc/link", .data = "hosts" },
	{ 0 },
};

/* "sha256:HEX" of layer_tar, by sha256sum. Caller frees. */
static char *layer_tar_digest(void)
{
	size_t len;
	_cleanup_free_ void *tar = tl_tar_build(layer_tar, TL_TAR_PAX, &len);
	return lt_sha256_cmd(tar, len, NULL);
}

static int op_create(struct lamina_store *st, void *arg)
{
	struct lamina_layer_create_opts o = { .id = ID, .parent = "base" };
	return lamina_layer_create(st, &o, NULL, NULL);
}

static int op_remove(struct lamina_store *st, void *arg)
{
	return lamina_layer_remove(st, ID, NULL);
}

static int op_mount(struct lamina_store *st, void *arg)
{
	struct lamina_layer_mount_opts o = { .caller = "c1", .backend = *(const enum lamina_layer_backend *)arg };
	return lamina_layer_mount(st, ID, &o, NULL, NULL);
}

static int op_unmount(struct lamina_store *st, void *arg)
{
	return lamina_layer_unmount(st, ID, "c1", NULL);
}

static int op_import(struct lamina_store *st, void *arg)
{
	struct lamina_layer_create_opts o = { .id = ID, .parent = "base" };
	_cleanup_close_ int fd = tl_tar_memfd(layer_tar, TL_TAR_PAX);
	return lamina_layer_import(st, &o, fd, NULL, NULL);
}

static int op_apply(struct lamina_store *st, void *arg)
{
	_cleanup_close_ int fd = tl_tar_memfd(layer_tar, TL_TAR_PAX);
	return lamina_layer_apply_diff(st, ID, fd, NULL, NULL);
}

static void mk(const char *id, const char *parent)
{
	struct lamina_layer_create_opts o = { .id = id, .parent = parent };
	struct lm_error err = { 0 };
	ck_assert_msg(lamina_layer_create(vt_store, &o, NULL, &err) == 0, "create '%s': %s", id, err.msg);
}

static void prep_base(void)
{
	mk("base", NULL);
	_cleanup_free_ char *d = tl_strdupf("%s/layers/base/diff", vt_root());
	tl_file(d, "f", "base");
}

static void prep_created(void)
{
	prep_base();
	mk(ID, "base");
}

static const enum lamina_layer_backend fuse = LAMINA_BACKEND_FUSE, kernel = LAMINA_BACKEND_KERNEL;

static void prep_mounted(void)
{
	prep_created();
	struct lamina_layer_mount_opts o = { .caller = "c1", .backend = LAMINA_BACKEND_FUSE };
	ck_assert_int_eq(lamina_layer_mount(vt_store, ID, &o, NULL, NULL), 0);
}

static const char *merged(void)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s/layers/" ID "/merged", vt_root());
	return buf;
}

/* ---- what the survivors see */

static void see_absent(void)
{
	ck_assert_int_eq(lamina_layer_inspect(vt_store, ID, NULL, NULL), -ENOENT);
	struct lamina_layer **v = NULL;
	size_t n = 0;
	ck_assert_int_eq(lamina_layer_list(vt_store, &v, &n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_ne(v[i]->id, ID);
	lamina_layer_list_free(v, n);
}

static const char *diff_path(const char *rel)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s/layers/" ID "/diff%s%s", vt_root(), rel ? "/" : "", rel ? rel : "");
	return buf;
}

/* The layer is there, unmounted, and its diff is empty (as created) or
 * holds the whole tar (the exchange happened): never a part of it. Until
 * check or the next apply_diff settles it, it does not mount. */
static void see_empty_or_whole(void)
{
	struct lamina_layer *l = NULL;
	ck_assert_int_eq(lamina_layer_inspect(vt_store, ID, &l, NULL), 0);
	ck_assert_ptr_null(l->mountpoint);
	lamina_layer_free(l);
	struct lamina_layer_mount_opts mo = { .caller = "c1" };
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_layer_mount(vt_store, ID, &mo, NULL, &err), -EBUSY);
	ck_assert_msg(strstr(err.msg, "being filled from a tar"), "%s", err.msg);
	if (!vt_exists(diff_path("etc"))) {
		ck_assert_int_eq(vt_entries(diff_path(NULL)), 0);
		return;
	}
	ck_assert(vt_exists(diff_path("etc/hosts")) && vt_exists(diff_path("etc/hosts.bak")));
	ck_assert(vt_exists(diff_path("etc/link")) && vt_exists(diff_path("f")));
}

static void see_state(bool mounted, size_t users)
{
	struct lamina_layer *l = NULL;
	ck_assert_int_eq(lamina_layer_inspect(vt_store, ID, &l, NULL), 0);
	ck_assert_uint_eq(l->n_users, users);
	lamina_layer_free(l);
	_cleanup_free_ char *t = vt_mounted_type(merged());
	ck_assert_msg((t != NULL) == mounted, "merged: %s", t ? t : "not mounted");
}

static void see_mounted_unheld(void)
{
	see_state(true, 0);
}

static void see_held_unmounted(void)
{
	see_state(false, 1);
}

/* ---- the next operations on the ID */

static void next_create_mount_remove(void)
{
	struct lm_error err = { 0 };
	struct lamina_layer_create_opts o = { .id = ID, .parent = "base" };
	int r = lamina_layer_create(vt_store, &o, NULL, &err);
	ck_assert_msg(r == 0, "create after the crash: %d %s", r, err.msg);
	struct lamina_layer_mount_opts mo = { .caller = "c1" };
	ck_assert_int_eq(lamina_layer_mount(vt_store, ID, &mo, NULL, &err), 0);
	see_state(true, 1);
	ck_assert_int_eq(lamina_layer_unmount(vt_store, ID, "c1", &err), 0);
	ck_assert_int_eq(lamina_layer_remove(vt_store, ID, &err), 0);
	see_absent();
}

static void next_mount_unmount(void)
{
	struct lm_error err = { 0 };
	struct lamina_layer_mount_opts mo = { .caller = "c1" };
	int r = lamina_layer_mount(vt_store, ID, &mo, NULL, &err);
	ck_assert_msg(r == 0, "mount after the crash: %d %s", r, err.msg);
	ck_assert_int_eq(lamina_layer_unmount(vt_store, ID, "c1", &err), 0);
	see_state(false, 0);
}

static void next_unmount(void)
{
	struct lm_error err = { 0 };
	int r = lamina_layer_unmount(vt_store, ID, "c1", &err);
	ck_assert_msg(r == 0, "unmount after the crash: %d %s", r, err.msg);
	see_state(false, 0);
	next_mount_unmount();
}

/* The layer holds the tar, whole: its files as recorded, its DiffID the tar's. */
static void see_applied(void)
{
	struct lamina_layer *l = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_layer_inspect(vt_store, ID, &l, &err), 0);
	_cleanup_free_ char *want = layer_tar_digest();
	ck_assert_str_eq(l->diff_id ? l->diff_id : "(none)", want);
	lamina_layer_free(l);
	struct lamina_check_report rep;
	ck_assert_int_eq(lamina_layer_verify(vt_store, ID, &rep, &err), 0);
	ck_assert_uint_eq(rep.n_problems, 0);
	lamina_check_report_release(&rep);
	_cleanup_free_ char *hosts = vt_read(diff_path("etc/hosts"));
	ck_assert_str_eq(hosts, "127.0.0.1 localhost\n");
}

static void next_import(void)
{
	struct lm_error err = { 0 };
	struct lamina_layer_create_opts o = { .id = ID, .parent = "base" };
	_cleanup_close_ int fd = tl_tar_memfd(layer_tar, TL_TAR_PAX);
	int r = lamina_layer_import(vt_store, &o, fd, NULL, &err);
	ck_assert_msg(r == 0, "import after the crash: %d %s", r, err.msg);
	see_applied();
	ck_assert_int_eq(lamina_layer_remove(vt_store, ID, &err), 0);
	see_absent();
}

static void next_apply(void)
{
	struct lm_error err = { 0 };
	_cleanup_close_ int fd = tl_tar_memfd(layer_tar, TL_TAR_PAX);
	uint64_t size = 0;
	int r = lamina_layer_apply_diff(vt_store, ID, fd, &size, &err);
	ck_assert_msg(r == 0, "apply_diff after the crash: %d %s", r, err.msg);
	ck_assert_uint_eq(size, strlen("127.0.0.1 localhost\n"));
	see_applied();
	next_mount_unmount();
}

struct crash_case {
	const char *point;
	void (*prepare)(void);
	int (*op)(struct lamina_store *st, void *arg);
	const void *arg;
	void (*see)(void);
	const char *check_says;
	void (*next)(void);
	bool held; /* after check --repair, mounted for its holder */
};

static const struct crash_case cases[] = {
	{ "layer-create:after-mkdir", prep_base, op_create, NULL, see_absent, "tmp/create-", next_create_mount_remove, false },
	{ "layer-create:after-rename", prep_base, op_create, NULL, see_absent, "folder without a database row",
	  next_create_mount_remove, false },
	{ "layer-import:after-apply", prep_base, op_import, NULL, see_absent, "tmp/import-", next_import, false },
	{ "layer-import:after-rename", prep_base, op_import, NULL, see_absent, "folder without a database row",
	  next_import, false },
	{ "layer-apply:after-mark", prep_created, op_apply, NULL, see_empty_or_whole,
	  "filling it from a tar was interrupted", next_apply, false },
	{ "layer-apply:after-apply", prep_created, op_apply, NULL, see_empty_or_whole,
	  "filling it from a tar was interrupted", next_apply, false },
	{ "layer-apply:after-exchange", prep_created, op_apply, NULL, see_empty_or_whole,
	  "filling it from a tar was interrupted", next_apply, false },
	{ "layer-remove:after-mark", prep_created, op_remove, NULL, see_absent, "removal was interrupted",
	  next_create_mount_remove, false },
	{ "layer-remove:after-rename", prep_created, op_remove, NULL, see_absent, "removal was interrupted",
	  next_create_mount_remove, false },
	{ "layer-remove:after-commit", prep_created, op_remove, NULL, see_absent, "tmp/rm-",
	  next_create_mount_remove, false },
	{ "layer-mount:after-mount", prep_created, op_mount, &fuse, see_mounted_unheld,
	  "mounted, but no caller holds it", next_mount_unmount, false },
	{ "layer-mount:after-mount", prep_created, op_mount, &kernel, see_mounted_unheld,
	  "mounted, but no caller holds it", next_mount_unmount, false },
	{ "layer-unmount:after-umount", prep_mounted, op_unmount, NULL, see_held_unmounted,
	  "held by callers, but not mounted", next_unmount, true },
};

static const struct crash_case *crash(int i)
{
	const struct crash_case *c = &cases[i];
	fprintf(stderr, "crashpoint %s\n", c->point);
	c->prepare();
	vt_store = lamina_store_close(vt_store); /* no sqlite connection across a fork */
	vt_assert_killed(vt_child(c->op, (void *)c->arg, c->point), c->point);
	vt_store = vt_open();
	c->see();
	return c;
}

START_TEST(crash_then_check)
{
	const struct crash_case *c = crash(_i);
	vt_check(vt_store, false, c->check_says, false);
	c->see(); /* a check without repair changes nothing */
	vt_check(vt_store, true, c->check_says, true);
	vt_check(vt_store, false, NULL, false);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	_cleanup_free_ char *t = vt_mounted_type(merged());
	ck_assert_msg((t != NULL) == c->held, "after repair: %s", t ? t : "nothing mounted");
	c->next();
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(crash_then_next_operation)
{
	const struct crash_case *c = crash(_i);
	c->next();
	struct lamina_check_report rep;
	ck_assert_int_eq(lamina_check(vt_store, true, &rep, NULL), 0);
	for (size_t i = 0; i < rep.n_problems; i++)
		ck_assert_msg(rep.problems[i].repaired, "not repaired: %s", rep.problems[i].what);
	lamina_check_report_release(&rep);
	vt_check(vt_store, false, NULL, false);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	_cleanup_free_ char *t = vt_mounted_type(merged());
	ck_assert_ptr_null(t);
}
END_TEST

static int op_export(struct lamina_store *st, void *arg)
{
	return lamina_layer_diff(st, ID, *(const int *)arg, NULL);
}

enum { BIG_FILES = 8, BIG_FILE_SIZE = 4 << 20 };

/* ID: a layer of BIG_FILES files of BIG_FILE_SIZE bytes, imported. */
static void import_big(void)
{
	_cleanup_free_ char *data = tl_malloc(BIG_FILE_SIZE);
	for (size_t i = 0; i < BIG_FILE_SIZE; i++)
		data[i] = (char)(i * 7 + i / 4096);
	struct tl_tar_entry e[BIG_FILES + 1] = { 0 };
	char names[BIG_FILES][16];
	for (int i = 0; i < BIG_FILES; i++) {
		snprintf(names[i], sizeof(names[i]), "big%d", i);
		e[i] = (struct tl_tar_entry){ .type = 'f', .name = names[i], .data = data, .len = BIG_FILE_SIZE };
	}
	struct lamina_layer_create_opts o = { .id = ID, .parent = "base" };
	_cleanup_close_ int fd = tl_tar_memfd(e, TL_TAR_PAX);
	struct lm_error err = { 0 };
	ck_assert_msg(lamina_layer_import(vt_store, &o, fd, NULL, &err) == 0, "import: %s", err.msg);
}

/* A SIGKILL while lamina_layer_diff writes a large layer into a pipe:
 * export changes nothing, so there is nothing to repair, and the next
 * export is whole. */
START_TEST(kill_during_export)
{
	prep_base();
	import_big();
	int p[2];
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = vt_spawn(op_export, &p[1], p[0]);
	close(p[1]);
	static char buf[64 * 1024];
	size_t got = 0;
	while (got < (1u << 20)) {
		ssize_t n = read(p[0], buf, sizeof(buf));
		ck_assert_int_gt(n, 0); /* the export is far from its end */
		got += (size_t)n;
	}
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	vt_assert_killed(status, "export");
	close(p[0]);
	vt_check(vt_store, false, NULL, false);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	struct lamina_check_report rep;
	ck_assert_int_eq(lamina_layer_verify(vt_store, ID, &rep, NULL), 0);
	ck_assert_uint_eq(rep.n_problems, 0);
	lamina_check_report_release(&rep);
	_cleanup_close_ int out = memfd_create("export", MFD_CLOEXEC);
	struct lm_error err = { 0 };
	ck_assert_msg(lamina_layer_diff(vt_store, ID, out, &err) == 0, "export after the kill: %s", err.msg);
	ck_assert_int_gt(lseek(out, 0, SEEK_END), (off_t)BIG_FILES * BIG_FILE_SIZE);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("graphdriver-crash");
	TCase *tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, crash_then_check, 0, (int)ELEMENTSOF(cases));
	tcase_add_loop_test(tc, crash_then_next_operation, 0, (int)ELEMENTSOF(cases));
	tcase_add_test(tc, kill_during_export);
	suite_add_tcase(su, tc);
	return tl_run_suite(su, "test-graphdriver-crash",
			    TL_NEED_ROOT | TL_NEED_FUSE | TL_NEED_OVERLAY | TL_NEED_LAMINA);
}
