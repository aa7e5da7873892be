/*
 * tests/unit/test-graphdriver-basic.c: the graph store without mounts:
 * create, inspect, list (parents first), remove (refused with children),
 * names and IDs (checked, unique across layers, by name or ID), status and
 * metadata pairs, and that bad input changes nothing.
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

/* Creates a layer and returns its ID (yours), asserting success. */
static char *mk(const char *id, const char *parent, const char *const *names, bool rw)
{
	size_t n = 0;
	while (names && names[n])
		n++;
	struct lamina_layer_create_opts o = { .id = id, .parent = parent, .names = names, .n_names = n,
					      .read_write = rw };
	struct lamina_layer *l = NULL;
	struct lm_error err = { 0 };
	int r = lamina_layer_create(vt_store, &o, &l, &err);
	ck_assert_msg(r == 0, "create '%s': %d %s", id ? id : "(random)", r, err.msg);
	char *ret = tl_strdup(l->id);
	lamina_layer_free(l);
	return ret;
}

static int try_create(const char *id, const char *parent, const char *const *names, struct lm_error *err)
{
	size_t n = 0;
	while (names && names[n])
		n++;
	struct lamina_layer_create_opts o = { .id = id, .parent = parent, .names = names, .n_names = n };
	return lamina_layer_create(vt_store, &o, NULL, err);
}

static size_t n_layers(void)
{
	struct lamina_layer **v = NULL;
	size_t n = 0;
	ck_assert_int_eq(lamina_layer_list(vt_store, &v, &n, NULL), 0);
	lamina_layer_list_free(v, n);
	return n;
}

START_TEST(create_inspect_folders)
{
	_cleanup_free_ char *base = mk(NULL, NULL, L("base"), false);
	ck_assert_uint_eq(strlen(base), 64);
	ck_assert_uint_eq(strspn(base, "0123456789abcdef"), 64);
	_cleanup_free_ char *top = mk("top", "base", NULL, true);
	struct lamina_layer *l = NULL;
	ck_assert_int_eq(lamina_layer_inspect(vt_store, "top", &l, NULL), 0);
	ck_assert_str_eq(l->parent, base);
	ck_assert_uint_eq(l->depth, 1);
	ck_assert(l->read_write);
	ck_assert_ptr_null(l->diff_id);
	ck_assert_ptr_null(l->mountpoint);
	_cleanup_free_ char *diff = tl_strdupf("%s/layers/top/diff", vt_root());
	ck_assert_str_eq(l->diff_dir, diff);
	for (const char *const *s = L("diff", "work", "merged", "empty"); *s; s++) {
		_cleanup_free_ char *p = tl_strdupf("%s/layers/top/%s", vt_root(), *s);
		ck_assert_msg(vt_exists(p), "%s missing", p);
	}
	lamina_layer_free(l);
	ck_assert_int_eq(lamina_layer_inspect(vt_store, "base", &l, NULL), 0);
	ck_assert_str_eq(l->id, base);
	ck_assert_uint_eq(l->n_names, 1);
	ck_assert_str_eq(l->names[0], "base");
	ck_assert_uint_eq(l->depth, 0);
	lamina_layer_free(l);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(list_parents_first)
{
	/* IDs sorted against the chain order, so a plain sort would be wrong */
	free(mk("z0", NULL, NULL, false));
	free(mk("y1", "z0", NULL, false));
	free(mk("x2", "y1", NULL, false));
	free(mk("a1", "z0", NULL, false));
	free(mk("b0", NULL, NULL, false));
	struct lamina_layer **v = NULL;
	size_t n = 0;
	ck_assert_int_eq(lamina_layer_list(vt_store, &v, &n, NULL), 0);
	ck_assert_uint_eq(n, 5);
	for (size_t i = 0; i < n; i++) {
		if (!v[i]->parent)
			continue;
		bool seen = false;
		for (size_t j = 0; j < i; j++)
			seen |= !strcmp(v[j]->id, v[i]->parent);
		ck_assert_msg(seen, "'%s' listed before its parent '%s'", v[i]->id, v[i]->parent);
		ck_assert_uint_gt(v[i]->depth, 0);
	}
	lamina_layer_list_free(v, n);
}
END_TEST

START_TEST(remove_refused_with_children)
{
	free(mk("p", NULL, L("pname"), false));
	free(mk("c", "p", NULL, false));
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_layer_remove(vt_store, "p", &err), -EBUSY);
	ck_assert_msg(strstr(err.msg, "'c'"), "message: %s", err.msg);
	ck_assert_uint_eq(n_layers(), 2);
	ck_assert_int_eq(lamina_layer_remove(vt_store, "c", &err), 0);
	ck_assert_int_eq(lamina_layer_remove(vt_store, "pname", &err), 0);
	ck_assert_uint_eq(n_layers(), 0);
	ck_assert_int_eq(lamina_layer_remove(vt_store, "p", &err), -ENOENT);
	_cleanup_free_ char *dir = tl_strdupf("%s/layers/p", vt_root());
	ck_assert(!vt_exists(dir));
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	/* the names and the ID are free again */
	free(mk("p", NULL, L("pname"), false));
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(names_and_ids)
{
	struct lm_error err = { 0 };
	free(mk("one", NULL, L("n1", "n2"), false));
	ck_assert_int_eq(try_create("two", NULL, L("n2"), &err), -EEXIST);
	ck_assert_msg(strstr(err.msg, "n2") && strstr(err.msg, "one"), "message: %s", err.msg);
	ck_assert_int_eq(try_create("one", NULL, NULL, &err), -EEXIST);
	ck_assert_int_eq(try_create("n1", NULL, NULL, &err), -EEXIST);  /* an ID that is a name */
	ck_assert_int_eq(try_create("three", NULL, L("one"), &err), -EEXIST); /* a name that is an ID */
	ck_assert_int_eq(try_create("four", NULL, L("x", "x"), &err), -EINVAL);
	ck_assert_int_eq(try_create("five", "nothere", NULL, &err), -ENOENT);
	ck_assert_msg(strstr(err.msg, "nothere"), "message: %s", err.msg);
	static const char *const bad_ids[] = { "", "-x", ".x", "a/b", "a b", "..", "_a", "a:b" };
	for (size_t i = 0; i < ELEMENTSOF(bad_ids); i++)
		ck_assert_msg(try_create(bad_ids[i], NULL, NULL, &err) == -EINVAL, "ID '%s' accepted", bad_ids[i]);
	char longid[130];
	memset(longid, 'a', 129);
	longid[129] = '\0';
	ck_assert_int_eq(try_create(longid, NULL, NULL, &err), -EINVAL);
	longid[128] = '\0';
	free(mk(longid, NULL, NULL, false));
	ck_assert_int_eq(try_create("six", NULL, L("a b"), &err), -EINVAL);
	ck_assert_int_eq(try_create("seven", NULL, L(""), &err), -EINVAL);
	ck_assert_uint_eq(n_layers(), 2); /* nothing the refusals touched */
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	ck_assert_int_eq(lamina_layer_inspect(vt_store, "n2", NULL, NULL), 0);
	ck_assert_int_eq(lamina_layer_inspect(vt_store, "n3", NULL, &err), -ENOENT);
	vt_check(vt_store, false, NULL, false);
}
END_TEST

static const char *kv_get(const struct lamina_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(kv[i].key, key))
			return kv[i].value;
	}
	return NULL;
}

START_TEST(status_and_metadata)
{
	free(mk("b", NULL, NULL, false));
	free(mk("m", "b", NULL, false));
	free(mk("c", "m", NULL, true));
	struct lamina_kv *kv = NULL;
	size_t n = 0;
	ck_assert_int_eq(lamina_layer_status(vt_store, &kv, &n, NULL), 0);
	ck_assert_str_eq(kv_get(kv, n, "Layers"), "3");
	ck_assert_str_eq(kv_get(kv, n, "Mounted"), "0");
	lamina_kv_array_free(kv, n);
	ck_assert_int_eq(lamina_layer_metadata(vt_store, "c", &kv, &n, NULL), 0);
	_cleanup_free_ char *lower = tl_strdupf("%s/layers/m/diff:%s/layers/b/diff", vt_root(), vt_root());
	_cleanup_free_ char *upper = tl_strdupf("%s/layers/c/diff", vt_root());
	ck_assert_str_eq(kv_get(kv, n, "LowerDir"), lower);
	ck_assert_str_eq(kv_get(kv, n, "UpperDir"), upper);
	lamina_kv_array_free(kv, n);
	ck_assert_int_eq(lamina_layer_metadata(vt_store, "b", &kv, &n, NULL), 0);
	ck_assert_ptr_null(kv_get(kv, n, "UpperDir"));
	lamina_kv_array_free(kv, n);
}
END_TEST

/* The state survives closing the store: another handle sees it. */
START_TEST(reopen)
{
	free(mk("keep", NULL, L("kept"), false));
	vt_store = lamina_store_close(vt_store);
	vt_store = vt_open();
	struct lamina_layer *l = NULL;
	ck_assert_int_eq(lamina_layer_inspect(vt_store, "kept", &l, NULL), 0);
	ck_assert_str_eq(l->id, "keep");
	lamina_layer_free(l);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("graphdriver-basic");
	TCase *tc = tcase_create("basic");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, create_inspect_folders);
	tcase_add_test(tc, list_parents_first);
	tcase_add_test(tc, remove_refused_with_children);
	tcase_add_test(tc, names_and_ids);
	tcase_add_test(tc, status_and_metadata);
	tcase_add_test(tc, reopen);
	suite_add_tcase(su, tc);
	return tl_run_suite(su, "test-graphdriver-basic", 0);
}
