/*
 * tests/unit/test-graphdriver-crash.c: a SIGKILL at each crashpoint of
 * layer create, remove, mount and unmount (a child runs the operation with
 * $LAMINA_CRASHPOINT set), then: the survivors see no half layer; lamina
 * check reports the problem, check --repair fixes it, a second check is
 * clean, and the ID works again. Import and apply_diff join once their tar
 * half (layerfs.h) is built. Needs root (real mounts).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lamina/layer.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"
#include "tests/unit/voltest.h"

#define ID "crashy"

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

int main(void)
{
	Suite *su = suite_create("graphdriver-crash");
	TCase *tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, crash_then_check, 0, (int)ELEMENTSOF(cases));
	tcase_add_loop_test(tc, crash_then_next_operation, 0, (int)ELEMENTSOF(cases));
	suite_add_tcase(su, tc);
	return tl_run_suite(su, "test-graphdriver-crash",
			    TL_NEED_ROOT | TL_NEED_FUSE | TL_NEED_OVERLAY | TL_NEED_LAMINA);
}
