/*
 * tests/unit/test-volumes-crash.c: a SIGKILL at each crashpoint of create,
 * remove, mount, unmount, import, clone and export (a child process runs
 * the operation with
 * $LAMINA_CRASHPOINT set), then what the survivors see:
 *   - list and inspect: a half-created volume is not there, a half-removed
 *     one is not there, a half-mounted one says what is true;
 *   - path "check": lamina check reports the problem, check --repair fixes
 *     it, a second check reports nothing, and the name works again;
 *   - path "next": the next operation on that name works right away, and a
 *     check --repair afterwards leaves nothing behind.
 * Needs root: the volumes are tmpfs volumes, so the mounts are real.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"
#include "tests/unit/voltest.h"

#define NAME "crashy"

/* ---- the operations the child runs, and their set-up */

static int op_create(struct lamina_store *st, void *arg)
{
	return vt_create(st, NAME, L("type=tmpfs", "o=size=1m"), NULL, NULL, NULL);
}

static int op_remove(struct lamina_store *st, void *arg)
{
	return lamina_volume_remove(st, NAME, true, NULL);
}

static int op_mount(struct lamina_store *st, void *arg)
{
	return lamina_volume_mount(st, NAME, "c1", NULL, NULL);
}

static int op_unmount(struct lamina_store *st, void *arg)
{
	return lamina_volume_unmount(st, NAME, "c1", NULL);
}

/* The tar import reads: one file. */
static char *tar_path(void)
{
	return tl_strdupf("%s/in.tar", tl_scratch);
}

static int op_import(struct lamina_store *st, void *arg)
{
	_cleanup_free_ char *path = tar_path();
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : lamina_volume_import(st, NAME, fd, NULL);
}

static int op_clone(struct lamina_store *st, void *arg)
{
	return lamina_volume_clone(st, "source", NAME, NULL);
}

static int op_export(struct lamina_store *st, void *arg)
{
	_cleanup_close_ int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	return lamina_volume_export(st, NAME, fd, NULL);
}

static void prep_none(void)
{
}

static void prep_tar(void)
{
	_cleanup_free_ char *path = tar_path();
	struct tl_tar_entry e[] = { { .type = 'd', .name = "d" }, { .type = 'f', .name = "d/f", .data = "x" }, { 0 } };
	tl_tar_write_file(path, e, 0);
}

static void prep_source(void)
{
	free(vt_create_ok(vt_store, "source", NULL, NULL));
	vt_write(vt_data("source"), "d/f", "x");
}

static void prep_bind(void)
{
	_cleanup_free_ char *host = tl_strdupf("%s/host", tl_scratch);
	vt_write(host, "d/f", "x");
	_cleanup_free_ char *dev = tl_strdupf("device=%s", host);
	free(vt_create_ok(vt_store, NAME, L("type=none", "o=bind", dev), NULL));
}

static void prep_created(void)
{
	free(vt_create_ok(vt_store, NAME, L("type=tmpfs", "o=size=1m"), NULL));
}

static void prep_mounted(void)
{
	prep_created();
	ck_assert_int_eq(lamina_volume_mount(vt_store, NAME, "c1", NULL, NULL), 0);
	vt_write(vt_data(NAME), "file", "data");
}

/* ---- what the survivors must see */

static void see_absent(void)
{
	struct lamina_volume **v = NULL;
	size_t n = 0;
	ck_assert_int_eq(lamina_volume_list(vt_store, NULL, 0, &v, &n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_ne(v[i]->name, NAME);
	lamina_volume_list_free(v, n);
	ck_assert_int_eq(lamina_volume_inspect(vt_store, NAME, NULL, NULL), -ENOENT);
	ck_assert_int_eq(lamina_volume_mount(vt_store, NAME, "c9", NULL, NULL), -ENOENT);
}

static void see_state(bool mounted, size_t users)
{
	struct lamina_volume *v = NULL;
	ck_assert_int_eq(lamina_volume_inspect(vt_store, NAME, &v, NULL), 0);
	ck_assert_int_eq(v->mounted, mounted);
	ck_assert_uint_eq(v->n_users, users);
	lamina_volume_free(v);
	_cleanup_free_ char *t = vt_mounted_type(vt_data(NAME));
	ck_assert_int_eq(t != NULL, mounted);
}

static void see_mounted_unheld(void)
{
	see_state(true, 0);
}

static void see_held_unmounted(void)
{
	see_state(false, 1);
}

/* ---- the next operation on the name */

static void next_create_then_remove(void)
{
	struct lm_error err = { 0 };
	int r = vt_create(vt_store, NAME, L("type=tmpfs", "o=size=1m"), NULL, NULL, &err);
	ck_assert_msg(r == 0, "create after the crash: %d %s", r, err.msg);
	ck_assert_int_eq(lamina_volume_mount(vt_store, NAME, "c1", NULL, &err), 0);
	see_state(true, 1);
	ck_assert_int_eq(lamina_volume_remove(vt_store, NAME, true, &err), 0);
	see_absent();
}

static void next_mount_then_unmount(void)
{
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_mount(vt_store, NAME, "c1", NULL, &err), 0);
	ck_assert_int_eq(lamina_volume_mount(vt_store, NAME, "c1", NULL, &err), 0);
	ck_assert_int_eq(lamina_volume_unmount(vt_store, NAME, "c1", &err), 0);
	see_state(true, 1);
	ck_assert_int_eq(lamina_volume_unmount(vt_store, NAME, "c1", &err), 0);
	see_state(false, 0);
}

static void next_unmount(void)
{
	struct lm_error err = { 0 };
	int r = lamina_volume_unmount(vt_store, NAME, "c1", &err);
	ck_assert_msg(r == 0, "unmount after the crash: %d %s", r, err.msg);
	see_state(false, 0);
	next_mount_then_unmount();
}

/* The data the import and the clone bring. */
static void see_data(void)
{
	_cleanup_free_ char *f = tl_strdupf("%s/d/f", vt_data(NAME));
	ck_assert(vt_exists(f));
}

static void next_import(void)
{
	_cleanup_free_ char *path = tar_path();
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct lm_error err = { 0 };
	int r = lamina_volume_import(vt_store, NAME, fd, &err);
	ck_assert_msg(r == 0, "import after the crash: %d %s", r, err.msg);
	see_data();
	ck_assert_int_eq(lamina_volume_remove(vt_store, NAME, false, &err), 0);
}

static void next_clone(void)
{
	struct lm_error err = { 0 };
	int r = lamina_volume_clone(vt_store, "source", NAME, &err);
	ck_assert_msg(r == 0, "clone after the crash: %d %s", r, err.msg);
	see_data();
	ck_assert_int_eq(lamina_volume_remove(vt_store, NAME, false, &err), 0);
}

static void next_export(void)
{
	ck_assert_int_eq(op_export(vt_store, NULL), 0);
	see_state(false, 0);
	next_mount_then_unmount();
}

struct crash_case {
	const char *point;
	void (*prepare)(void);
	int (*op)(struct lamina_store *st, void *arg);
	void (*see)(void);      /* right after the crash */
	const char *check_says; /* a line of check's report */
	void (*next)(void);     /* the next operation on the name works */
	bool held;              /* after check --repair, the volume is mounted for its holder */
};

static const struct crash_case cases[] = {
	{ "volume-create:after-mkdir", prep_none, op_create, see_absent, "tmp/create-", next_create_then_remove, false },
	{ "volume-create:after-rename", prep_none, op_create, see_absent, "empty folder without a database row",
	  next_create_then_remove, false },
	{ "volume-create:after-insert", prep_none, op_create, see_absent, "empty folder without a database row",
	  next_create_then_remove, false },
	{ "volume-remove:after-mark", prep_mounted, op_remove, see_absent, "removal was interrupted",
	  next_create_then_remove, false },
	{ "volume-remove:after-unmount", prep_mounted, op_remove, see_absent, "removal was interrupted",
	  next_create_then_remove, false },
	{ "volume-remove:after-rename", prep_mounted, op_remove, see_absent, "removal was interrupted",
	  next_create_then_remove, false },
	{ "volume-remove:after-commit", prep_mounted, op_remove, see_absent, "tmp/rm-", next_create_then_remove, false },
	{ "volume-mount:after-mount", prep_created, op_mount, see_mounted_unheld, "mounted, but no caller holds it",
	  next_mount_then_unmount, false },
	{ "volume-unmount:after-umount", prep_mounted, op_unmount, see_held_unmounted,
	  "held by callers, but not mounted", next_unmount, true },
	{ "volume-import:after-target", prep_tar, op_import, see_absent, "creation was interrupted", next_import,
	  false },
	{ "volume-import:after-extract", prep_tar, op_import, see_absent, "creation was interrupted", next_import,
	  false },
	{ "volume-import:after-exchange", prep_tar, op_import, see_absent, "creation was interrupted", next_import,
	  false },
	{ "volume-clone:after-create", prep_source, op_clone, see_absent, "creation was interrupted", next_clone,
	  false },
	{ "volume-clone:after-copy", prep_source, op_clone, see_absent, "creation was interrupted", next_clone, false },
	{ "volume-export:after-mount", prep_bind, op_export, see_mounted_unheld, "mounted, but no caller holds it",
	  next_export, false },
};

static const struct crash_case *crash(int i)
{
	const struct crash_case *c = &cases[i];
	fprintf(stderr, "crashpoint %s\n", c->point);
	c->prepare();
	/* no sqlite connection may cross a fork (sqlite's rule): the parent's
	 * is closed while the child runs */
	vt_store = lamina_store_close(vt_store);
	vt_assert_killed(vt_child(c->op, NULL, c->point), c->point);
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
	_cleanup_free_ char *t = vt_mounted_type(vt_data(NAME));
	ck_assert_msg((t != NULL) == c->held, "after repair: %s mounted", t ? t : "nothing");
	c->next();
	vt_check(vt_store, false, NULL, false);
}
END_TEST

/* Every line of a repairing check was repaired; then all is clean. */
static void repair_all(void)
{
	struct lamina_check_report rep;
	ck_assert_int_eq(lamina_check(vt_store, true, &rep, NULL), 0);
	for (size_t i = 0; i < rep.n_problems; i++)
		ck_assert_msg(rep.problems[i].repaired, "not repaired: %s", rep.problems[i].what);
	lamina_check_report_release(&rep);
	vt_check(vt_store, false, NULL, false);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
}

START_TEST(crash_then_next_operation)
{
	const struct crash_case *c = crash(_i);
	c->next();
	repair_all();
	ck_assert_ptr_null(vt_mounted_type(vt_data(NAME)));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("volumes-crash");
	TCase *tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, crash_then_check, 0, (int)ELEMENTSOF(cases));
	tcase_add_loop_test(tc, crash_then_next_operation, 0, (int)ELEMENTSOF(cases));
	suite_add_tcase(su, tc);
	return tl_run_suite(su, "test-volumes-crash", TL_NEED_ROOT);
}
