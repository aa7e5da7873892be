/*
 * tests/unit/test-volumes-basic.c: the volume API without mounts, on real
 * roots and sqlite files: names, options, create (again, with the same or
 * other options), inspect, list and every filter, remove, prune, users of
 * plain volumes and their survival across a reopen, concurrent creates
 * from several processes, leftovers of a create under the same name.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"
#include "tests/unit/voltest.h"


/* The names of the volumes list gives for filters, joined by ','. */
static char *list_names(const char *const *filters, size_t n)
{
	struct lamina_volume **v = NULL;
	size_t nv = 0;
	struct lm_error err = { 0 };
	int r = lamina_volume_list(vt_store, filters, n, &v, &nv, &err);
	ck_assert_msg(r == 0, "list: %d %s", r, err.msg);
	struct tl_buf b = TL_BUF_INIT;
	for (size_t i = 0; i < nv; i++)
		tl_buf_printf(&b, "%s%s", i ? "," : "", v[i]->name);
	lamina_volume_list_free(v, nv);
	char *out = tl_strdup(tl_buf_str(&b));
	tl_buf_release(&b);
	return out;
}

static void assert_list(const char *const *filters, size_t n, const char *want)
{
	_cleanup_free_ char *got = list_names(filters, n);
	ck_assert_msg(!strcmp(got, want), "filters %s...: got '%s', want '%s'", n ? filters[0] : "-", got, want);
}

/* Nothing was written: no volume folder, no row. */
static void assert_store_empty(void)
{
	assert_list(NULL, 0, "");
	_cleanup_free_ char *vols = tl_strdupf("%s/volumes", vt_root());
	_cleanup_free_ char *tmp = tl_strdupf("%s/tmp", vt_root());
	ck_assert_int_eq(rmdir(vols), 0); /* empty, or this fails */
	ck_assert_int_eq(mkdir(vols, 0700), 0);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
}

START_TEST(names)
{
	char long_ok[LAMINA_VOLUME_NAME_MAX + 1], too_long[LAMINA_VOLUME_NAME_MAX + 2];
	memset(long_ok, 'a', sizeof(long_ok) - 1);
	long_ok[sizeof(long_ok) - 1] = '\0';
	memset(too_long, 'b', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	const char *good[] = { "ab", "a.b-c_d", "0x", "A9", "x..y", long_ok };
	const char *bad[] = { "../x", "a/b", "", "-x", ".x", "_x", "a", "a b", "x\n", "..", "é1", too_long };
	for (size_t i = 0; i < ELEMENTSOF(good); i++)
		ck_assert_msg(lamina_volume_name_check(good[i], NULL) == 0, "'%s' refused", good[i]);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct lm_error err = { 0 };
		ck_assert_msg(lamina_volume_name_check(bad[i], &err) == -EINVAL, "'%s' accepted", bad[i]);
		ck_assert_msg(strstr(err.msg, "volume name"), "message: %s", err.msg);
		ck_assert_int_eq(vt_create(vt_store, bad[i], NULL, NULL, NULL, &err), -EINVAL);
		ck_assert_int_eq(lamina_volume_inspect(vt_store, bad[i], NULL, &err), -EINVAL);
		ck_assert_int_eq(lamina_volume_remove(vt_store, bad[i], true, &err), -EINVAL);
		ck_assert_int_eq(lamina_volume_mount(vt_store, bad[i], NULL, NULL, &err), -EINVAL);
	}
	ck_assert_int_eq(lamina_volume_name_check(NULL, NULL), -EINVAL);
	assert_store_empty();
	free(vt_create_ok(vt_store, long_ok, NULL, NULL));
	ck_assert(vt_exists(vt_data(long_ok)));
}
END_TEST

START_TEST(anonymous_names)
{
	struct lamina_volume *v = NULL;
	ck_assert_int_eq(vt_create(vt_store, NULL, NULL, NULL, &v, NULL), 0);
	ck_assert_uint_eq(strlen(v->name), 64);
	ck_assert_uint_eq(strspn(v->name, "0123456789abcdef"), 64);
	ck_assert(v->anonymous);
	_cleanup_free_ char *other = vt_create_ok(vt_store, NULL, NULL, NULL);
	ck_assert_str_ne(other, v->name);
	_cleanup_free_ char *named = vt_create_ok(vt_store, "named", NULL, NULL);
	struct lamina_volume *n = NULL;
	ck_assert_int_eq(lamina_volume_inspect(vt_store, named, &n, NULL), 0);
	ck_assert(!n->anonymous);
	lamina_volume_free(n);
	lamina_volume_free(v);
}
END_TEST

struct bad_opts {
	const char *const *opts;
	int err;
	const char *msg;
};

START_TEST(option_validation)
{
	_cleanup_free_ char *file = tl_strdupf("%s/afile", tl_scratch);
	vt_write(tl_scratch, "afile", "x");
	_cleanup_free_ char *dev_file = tl_strdupf("device=%s", file);
	_cleanup_free_ char *dev_missing = tl_strdupf("device=%s/missing", tl_scratch);
	const struct bad_opts bad[] = {
		{ L("foo=bar"), -EINVAL, "invalid option 'foo'" },
		{ L("device=/dev/sda1"), -EINVAL, "'device' needs option 'type'" },
		{ L("o=size=1m"), -EINVAL, "'o' needs option 'type'" },
		{ L("type=ext4"), -EINVAL, "'type' needs option 'device'" },
		{ L("type=none", "o=bind", dev_missing), -ENOENT, "bind device" },
		{ L("type=none", "o=rbind", "device=relative/path"), -EINVAL, "not an absolute path" },
		{ L("type=none", "o=bind", dev_file), -ENOTDIR, "bind device" },
		{ L("type=none", "device=/srv"), -EINVAL, "needs o=bind" },
		{ L("size=10m"), -EOPNOTSUPP, "project quota" },
		{ L("type=ext4", "device=/dev/sda1", "size=10m"), -EINVAL, "only for tmpfs" },
		{ L("type=tmpfs", "size=12q"), -EINVAL, "not a size" },
		{ L("type=tmpfs", "size=1m", "o=size=2m"), -EINVAL, "size given twice" },
		{ L("type="), -EINVAL, "option 'type' is empty" },
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct lm_error err = { 0 };
		int r = vt_create(vt_store, "v1", bad[i].opts, NULL, NULL, &err);
		ck_assert_msg(r == bad[i].err, "case %zu (%s): %d, want %d (%s)", i, bad[i].opts[0], r, bad[i].err,
			      err.msg);
		ck_assert_msg(strstr(err.msg, bad[i].msg) && strstr(err.msg, "volume 'v1'"), "case %zu: message '%s'",
			      i, err.msg);
	}
	struct lm_error err = { 0 };
	ck_assert_int_eq(vt_create(vt_store, "v1", NULL, L("=v"), NULL, &err), -EINVAL);
	struct lamina_volume_create_opts o = { .name = "v1", .driver = "nfs-plugin" };
	ck_assert_int_eq(lamina_volume_create(vt_store, &o, NULL, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "driver 'nfs-plugin'"), "%s", err.msg);
	assert_store_empty();

	/* what is fine: tmpfs alone, tmpfs with size, a bind of a folder,
	 * any kernel type with a device; nothing mounts at create */
	free(vt_create_ok(vt_store, "t1", L("type=tmpfs"), NULL));
	free(vt_create_ok(vt_store, "t2", L("type=tmpfs", "size=64m", "o=mode=0700,uid=1000"), NULL));
	_cleanup_free_ char *dev_dir = tl_strdupf("device=%s", tl_scratch);
	free(vt_create_ok(vt_store, "b1", L("type=none", "o=bind,ro", dev_dir), NULL));
	free(vt_create_ok(vt_store, "e1", L("type=ext4", "device=/dev/nonexistent", "o=noatime"), NULL));
	assert_list(NULL, 0, "b1,e1,t1,t2");
	ck_assert_ptr_null(vt_mounted_type(vt_data("t1")));
}
END_TEST

START_TEST(create_again_same_or_other_options)
{
	struct lamina_volume *a = NULL, *b = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(vt_create(vt_store, "data", L("type=tmpfs", "o=size=1m"), L("k=1"), &a, &err), 0);
	/* same options in another order (and other labels: Docker ignores them) */
	ck_assert_int_eq(vt_create(vt_store, "data", L("o=size=1m", "type=tmpfs"), L("k=2"), &b, &err), 1);
	ck_assert_str_eq(b->name, "data");
	ck_assert_int_eq(b->created, a->created);
	ck_assert_uint_eq(b->n_labels, 1);
	ck_assert_str_eq(b->labels[0].value, "1");
	ck_assert_int_eq(vt_create(vt_store, "data", L("type=tmpfs", "o=size=2m"), NULL, NULL, &err), -EEXIST);
	ck_assert_msg(strstr(err.msg, "volume 'data': already exists with other options"), "%s", err.msg);
	ck_assert_int_eq(vt_create(vt_store, "data", NULL, NULL, NULL, &err), -EEXIST);
	/* a repeated key: the last value wins, as a map */
	ck_assert_int_eq(vt_create(vt_store, "data", L("o=size=9m", "type=tmpfs", "o=size=1m"), NULL, NULL, &err), 1);
	lamina_volume_free(a);
	lamina_volume_free(b);
}
END_TEST

START_TEST(inspect_fields)
{
	time_t before = time(NULL);
	free(vt_create_ok(vt_store, "vol1", L("type=tmpfs", "o=size=1m"), L("zeta=z", "alpha=a", "mid=")));
	time_t after = time(NULL);
	struct lamina_volume *v = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "vol1", &v, &err), 0);
	ck_assert_str_eq(v->name, "vol1");
	ck_assert_str_eq(v->driver, "local");
	ck_assert_str_eq(v->mountpoint, vt_data("vol1"));
	struct stat st;
	ck_assert(stat(v->mountpoint, &st) == 0 && S_ISDIR(st.st_mode));
	ck_assert_int_ge(v->created, before);
	ck_assert_int_le(v->created, after);
	ck_assert(!v->anonymous && !v->mounted);
	ck_assert_uint_eq(v->n_labels, 3);
	ck_assert_str_eq(v->labels[0].key, "alpha");
	ck_assert_str_eq(v->labels[1].key, "mid");
	ck_assert_str_eq(v->labels[1].value, "");
	ck_assert_str_eq(v->labels[2].key, "zeta");
	ck_assert_uint_eq(v->n_options, 2);
	ck_assert_str_eq(v->options[0].key, "o");
	ck_assert_str_eq(v->options[0].value, "size=1m");
	ck_assert_str_eq(v->options[1].key, "type");
	ck_assert_uint_eq(v->n_users, 0);
	lamina_volume_free(v);
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "nope", &v, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "volume 'nope': no such volume");
}
END_TEST

START_TEST(list_filters)
{
	free(vt_create_ok(vt_store, "web-data", NULL, L("app=web", "tier=front")));
	free(vt_create_ok(vt_store, "web-logs", NULL, L("app=web")));
	free(vt_create_ok(vt_store, "db-data", L("type=tmpfs"), L("app=db", "tier=back")));
	free(vt_create_ok(vt_store, "scratch", NULL, NULL));
	ck_assert_int_eq(lamina_volume_mount(vt_store, "web-logs", "c1", NULL, NULL), 0);
	assert_list(NULL, 0, "db-data,scratch,web-data,web-logs");
	assert_list(L("dangling=true"), 1, "db-data,scratch,web-data");
	assert_list(L("dangling=false"), 1, "web-logs");
	assert_list(L("dangling=1"), 1, "db-data,scratch,web-data");
	assert_list(L("name=data"), 1, "db-data,web-data");
	assert_list(L("name=data", "name=logs"), 2, "db-data,web-data,web-logs"); /* alternatives */
	assert_list(L("name=nothing"), 1, "");
	assert_list(L("driver=local"), 1, "db-data,scratch,web-data,web-logs");
	assert_list(L("driver=nfs"), 1, "");
	assert_list(L("label=app"), 1, "db-data,web-data,web-logs");
	assert_list(L("label=app=web"), 1, "web-data,web-logs");
	assert_list(L("label=app=web", "label=tier"), 2, "web-data"); /* all apply */
	assert_list(L("label!=app"), 1, "scratch");
	assert_list(L("label!=app=web"), 1, "db-data,scratch");
	assert_list(L("label=app", "dangling=true", "name=data"), 3, "db-data,web-data");
	const char *bad[] = { "colour=red", "dangling=maybe", "label=", "nofilter", "Name=x" };
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct lamina_volume **v = NULL;
		size_t n = 0;
		struct lm_error err = { 0 };
		ck_assert_int_eq(lamina_volume_list(vt_store, &bad[i], 1, &v, &n, &err), -EINVAL);
		ck_assert_msg(strstr(err.msg, bad[i]), "message '%s' does not name '%s'", err.msg, bad[i]);
	}
}
END_TEST

START_TEST(remove_plain)
{
	free(vt_create_ok(vt_store, "gone", NULL, NULL));
	vt_write(vt_data("gone"), "sub/file", "data");
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_remove(vt_store, "gone", false, &err), 0);
	ck_assert(!vt_exists(vt_data("gone")));
	_cleanup_free_ char *dir = tl_strdupf("%s/volumes/gone", vt_root());
	ck_assert(!vt_exists(dir));
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "gone", NULL, &err), -ENOENT);
	ck_assert_int_eq(lamina_volume_remove(vt_store, "gone", false, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "volume 'gone': no such volume");
	/* the name can be used again */
	free(vt_create_ok(vt_store, "gone", NULL, NULL));
}
END_TEST

START_TEST(remove_used_needs_force)
{
	free(vt_create_ok(vt_store, "busy", NULL, NULL));
	vt_write(vt_data("busy"), "f", "x");
	ck_assert_int_eq(lamina_volume_mount(vt_store, "busy", "c1", NULL, NULL), 0);
	ck_assert_int_eq(lamina_volume_mount(vt_store, "busy", "c2", NULL, NULL), 0);
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_remove(vt_store, "busy", false, &err), -EBUSY);
	ck_assert_str_eq(err.msg, "volume 'busy': in use by 2 callers");
	_cleanup_free_ char *f = tl_strdupf("%s/f", vt_data("busy"));
	ck_assert(vt_exists(f)); /* refused: nothing changed */
	assert_list(NULL, 0, "busy");
	ck_assert_int_eq(lamina_volume_remove(vt_store, "busy", true, &err), 0);
	assert_list(NULL, 0, "");
	ck_assert(!vt_exists(f));
}
END_TEST

/* The bytes a file's blocks take (st_blocks * 512). */
static uint64_t file_blocks(const char *path)
{
	struct stat st;
	ck_assert_int_eq(lstat(path, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

START_TEST(prune_anonymous_all_and_labels)
{
	_cleanup_free_ char *a1 = vt_create_ok(vt_store, NULL, NULL, L("keep=no"));
	_cleanup_free_ char *a2 = vt_create_ok(vt_store, NULL, NULL, L("keep=yes"));
	_cleanup_free_ char *a3 = vt_create_ok(vt_store, NULL, NULL, NULL);
	free(vt_create_ok(vt_store, "named", NULL, L("keep=no")));
	free(vt_create_ok(vt_store, "named-used", NULL, NULL));
	vt_write(vt_data(a1), "big", "0123456789abcdef0123456789abcdef");
	_cleanup_free_ char *big = tl_strdupf("%s/big", vt_data(a1)), *link2 = tl_strdupf("%s/link", vt_data(a1));
	ck_assert_int_eq(link(big, link2), 0);
	uint64_t want = file_blocks(big);
	ck_assert_uint_gt(want, 0);
	ck_assert_int_eq(lamina_volume_mount(vt_store, a3, "c", NULL, NULL), 0);
	ck_assert_int_eq(lamina_volume_mount(vt_store, "named-used", "c", NULL, NULL), 0);

	struct lamina_volume_prune_result res;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_prune(vt_store, false, L("label=keep=no"), 1, &res, &err), 0);
	ck_assert_uint_eq(res.n_names, 1);
	ck_assert_str_eq(res.names[0], a1);
	ck_assert_uint_eq(res.reclaimed, want);
	lamina_volume_prune_result_release(&res);

	ck_assert_int_eq(lamina_volume_prune(vt_store, false, NULL, 0, &res, &err), 0);
	ck_assert_uint_eq(res.n_names, 1); /* a2; a3 is used, named ones stay */
	ck_assert_str_eq(res.names[0], a2);
	ck_assert_uint_eq(res.reclaimed, 0);
	lamina_volume_prune_result_release(&res);

	ck_assert_int_eq(lamina_volume_prune(vt_store, true, L("label!=keep"), 1, &res, &err), 0);
	ck_assert_uint_eq(res.n_names, 0); /* every unused one has a keep label */
	lamina_volume_prune_result_release(&res);
	ck_assert_int_eq(lamina_volume_prune(vt_store, true, NULL, 0, &res, &err), 0);
	ck_assert_uint_eq(res.n_names, 1);
	ck_assert_str_eq(res.names[0], "named");
	lamina_volume_prune_result_release(&res);
	_cleanup_free_ char *left = tl_strdupf("%s,named-used", a3);
	assert_list(NULL, 0, left);

	ck_assert_int_eq(lamina_volume_prune(vt_store, true, L("dangling=true"), 1, &res, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "dangling=true"), "%s", err.msg);
	ck_assert_uint_eq(res.n_names, 0);
}
END_TEST

START_TEST(plain_users_counted_and_kept_across_reopen)
{
	free(vt_create_ok(vt_store, "shared", NULL, NULL));
	char *path = NULL;
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_volume_mount(vt_store, "shared", "c2", &path, &err), 0);
	ck_assert_str_eq(path, vt_data("shared"));
	free(path);
	ck_assert_int_eq(lamina_volume_mount(vt_store, "shared", "c1", NULL, &err), 0);
	ck_assert_int_eq(lamina_volume_mount(vt_store, "shared", "c1", NULL, &err), 0);
	ck_assert_int_eq(lamina_volume_mount(vt_store, "shared", NULL, NULL, &err), 0);
	ck_assert_int_eq(lamina_volume_unmount(vt_store, "shared", "c2", &err), 0);
	vt_store = lamina_store_close(vt_store);
	vt_store = vt_open();
	struct lamina_volume *v = NULL;
	ck_assert_int_eq(lamina_volume_inspect(vt_store, "shared", &v, &err), 0);
	ck_assert_uint_eq(v->n_users, 2);
	ck_assert_str_eq(v->users[0].id, "c1");
	ck_assert_uint_eq(v->users[0].count, 2);
	ck_assert_str_eq(v->users[1].id, LAMINA_VOLUME_DEFAULT_CALLER);
	ck_assert_uint_eq(v->users[1].count, 1);
	lamina_volume_free(v);
	ck_assert_int_eq(lamina_volume_unmount(vt_store, "shared", "c2", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "volume 'shared': not mounted by 'c2'");
	ck_assert_int_eq(lamina_volume_unmount(vt_store, "shared", "", &err), -EINVAL);
	ck_assert_int_eq(lamina_volume_mount(vt_store, "nope", "c1", NULL, &err), -ENOENT);
}
END_TEST

static int create_x(struct lamina_store *st, void *arg)
{
	return vt_create(st, "xx", L("type=tmpfs", "o=size=1m"), NULL, NULL, NULL);
}

START_TEST(concurrent_creates_make_one_volume)
{
	enum { N = 8 };
	pid_t pids[N];
	vt_store = lamina_store_close(vt_store); /* no sqlite connection may cross a fork */
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			struct lamina_store *cs = NULL;
			if (lamina_store_open(vt_root(), &cs, NULL) < 0)
				_exit(100);
			int r = create_x(cs, NULL);
			lamina_store_close(cs);
			_exit(r < 0 ? 100 + (-r & 0x7f) : r); /* 0 made, 1 found */
		}
	}
	int made = 0;
	for (int i = 0; i < N; i++) {
		int status;
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) <= 1, "child %d: status %#x", i, status);
		made += WEXITSTATUS(status) == 0;
	}
	ck_assert_int_eq(made, 1);
	vt_store = vt_open();
	assert_list(NULL, 0, "xx");
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	vt_check(vt_store, false, NULL, false);
}
END_TEST

START_TEST(leftover_folder_of_the_same_name)
{
	/* an empty skeleton (a crash between rename and commit) is replaced */
	_cleanup_free_ char *skel = tl_strdupf("%s/volumes/again/_data", vt_root());
	ck_assert_int_eq(tl_mkdir_p(skel, 0755), 0);
	free(vt_create_ok(vt_store, "again", NULL, NULL));
	/* one holding data is not */
	vt_write(vt_root(), "volumes/kept/_data/precious", "do not lose me");
	struct lm_error err = { 0 };
	ck_assert_int_eq(vt_create(vt_store, "kept", NULL, NULL, NULL, &err), -EEXIST);
	ck_assert_msg(strstr(err.msg, "holds data"), "%s", err.msg);
	_cleanup_free_ char *p = tl_strdupf("%s/volumes/kept/_data/precious", vt_root());
	ck_assert(vt_exists(p));
	/* a file where a folder should be is data too; an empty folder of a
	 * name no volume can have is a leftover all the same */
	vt_write(vt_root(), "volumes/afile", "x");
	_cleanup_free_ char *odd = tl_strdupf("%s/volumes/a b", vt_root());
	ck_assert_int_eq(mkdir(odd, 0700), 0);
	ck_assert_uint_eq(vt_check(vt_store, true, "volume 'kept': folder holds data but has no database row", false), 3);
	vt_check(vt_store, false, "volume 'afile': folder holds data but has no database row", false);
	ck_assert(vt_exists(p)); /* reported, never deleted */
	ck_assert(!vt_exists(odd));
	assert_list(NULL, 0, "again");
}
END_TEST

int main(void)
{
	Suite *su = suite_create("volumes-basic");
	TCase *tc = tcase_create("basic");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, names);
	tcase_add_test(tc, anonymous_names);
	tcase_add_test(tc, option_validation);
	tcase_add_test(tc, create_again_same_or_other_options);
	tcase_add_test(tc, inspect_fields);
	tcase_add_test(tc, list_filters);
	tcase_add_test(tc, remove_plain);
	tcase_add_test(tc, remove_used_needs_force);
	tcase_add_test(tc, prune_anonymous_all_and_labels);
	tcase_add_test(tc, plain_users_counted_and_kept_across_reopen);
	tcase_add_test(tc, concurrent_creates_make_one_volume);
	tcase_add_test(tc, leftover_folder_of_the_same_name);
	suite_add_tcase(su, tc);
	return tl_run_suite(su, "test-volumes-basic", 0);
}
