/*
 * tests/unit/test-graphdriver-layers.c: the graph store through its public
 * API (lamina/layer.h), end to end: a chain of three layers imported from
 * built tars (lt_chain: whiteouts, opaque folders, hard links, xattrs,
 * devices) and mounted with each backend equals a kernel overlay mounted by
 * hand over the same folders and GNU tar extracting the tars in order; a
 * read-write layer written through its mount, then changes, diff, diff size
 * and verify; import -> diff -> import round trips; apply_diff into a
 * created layer; a hostile tar leaves no trace; a chain of 100 layers.
 * Needs root, FUSE and overlay (real mounts).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <lamina/layer.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"
#include "tests/unit/layertest.h"
#include "tests/unit/voltest.h"

/* Imports the tar in memfd fd (closed) as a new layer on parent; returns its ID. */
static char *import_fd(int fd, const char *parent, bool read_write)
{
	struct lamina_layer_create_opts o = { .parent = parent, .read_write = read_write };
	struct lamina_layer *l = NULL;
	struct lm_error err = { 0 };
	int r = lamina_layer_import(vt_store, &o, fd, &l, &err);
	close(fd);
	ck_assert_msg(r == 0, "import on '%s': %d %s", parent ? parent : "-", r, err.msg);
	char *id = tl_strdup(l->id);
	lamina_layer_free(l);
	return id;
}

/* lt_chain imported, bottom first; ids[i] (caller frees) and tars[i] (its file). */
static void import_chain(char **ids, char **tars)
{
	for (int i = 0; i < LT_CHAIN_N; i++) {
		ids[i] = import_fd(tl_tar_memfd(lt_chain[i], TL_TAR_PAX), i ? ids[i - 1] : NULL, false);
		tars[i] = tl_strdupf("%s/t%d.tar", tl_scratch, i);
		tl_tar_write_file(tars[i], lt_chain[i], TL_TAR_PAX);
	}
}

static const char *diff_dir(const char *id)
{
	static char bufs[4][4096];
	static unsigned next;
	char *b = bufs[next++ % 4];
	snprintf(b, sizeof(bufs[0]), "%s/layers/%s/diff", vt_root(), id);
	return b;
}

static char *mount_layer(const char *id, enum lamina_layer_backend backend)
{
	struct lamina_layer_mount_opts o = { .caller = "t", .backend = backend };
	char *path = NULL;
	struct lm_error err = { 0 };
	int r = lamina_layer_mount(vt_store, id, &o, &path, &err);
	ck_assert_msg(r == 0, "mount '%s': %d %s", id, r, err.msg);
	return path;
}

static void unmount_layer(const char *id)
{
	struct lm_error err = { 0 };
	ck_assert_msg(lamina_layer_unmount(vt_store, id, "t", &err) == 0, "unmount '%s': %s", id, err.msg);
}

static void free_n(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
}

START_TEST(chain_matches_kernel_and_gnu_tar)
{
	enum lamina_layer_backend backend = _i;
	char *ids[LT_CHAIN_N], *tars[LT_CHAIN_N];
	import_chain(ids, tars);
	_cleanup_free_ char *merged = mount_layer(ids[LT_CHAIN_N - 1], backend);
	const char *lowers[LT_CHAIN_N];
	for (int i = 0; i < LT_CHAIN_N; i++)
		lowers[i] = diff_dir(ids[LT_CHAIN_N - 1 - i]);
	struct tl_union u = { 0 };
	struct tl_union_opts uo = { .lowers = lowers, .nlowers = LT_CHAIN_N };
	_cleanup_free_ char *mnt = lt_dir("by-hand");
	ck_assert_msg(tl_union_mount(&u, TL_KERNEL, &uo, mnt) == 0, "overlay by hand: %s", u.msg);
	_cleanup_free_ char *oracle = lt_dir("gnutar");
	tl_layers_untar(oracle, (const char *const *)tars, LT_CHAIN_N);
	lt_assert_same_tree(u.mnt, merged, "overlay-by-hand", "lamina", TL_DIFF_DINO_IF_FIRST);
	lt_assert_same_tree(u.mnt, oracle, "overlay-by-hand", "gnu-tar", TL_DIFF_DINO_IF_FIRST);
	ck_assert_int_eq(tl_union_umount(&u), 0);
	unmount_layer(ids[LT_CHAIN_N - 1]);
	vt_check(vt_store, false, NULL, false);
	free_n(ids, LT_CHAIN_N);
	free_n(tars, LT_CHAIN_N);
}
END_TEST

/* The exported tar of id, in a memfd at offset 0. */
static int export_fd(const char *id)
{
	int fd = memfd_create("diff", MFD_CLOEXEC);
	struct lm_error err = { 0 };
	ck_assert_msg(lamina_layer_diff(vt_store, id, fd, &err) == 0, "diff '%s': %s", id, err.msg);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static bool has_change(const struct lamina_layer_change *c, size_t n, const char *path, enum lamina_change_kind k)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(c[i].path, path))
			return c[i].kind == k;
	return false;
}

/* The bytes of the regular files under dir, as find(1) counts them. */
static uint64_t file_bytes(const char *dir)
{
	_cleanup_free_ char *cmd = tl_strdupf("find '%s' -type f -printf '%%s\\n'", dir);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	uint64_t sum = 0, n;
	while (fscanf(p, "%" SCNu64, &n) == 1)
		sum += n;
	ck_assert_int_eq(pclose(p), 0);
	return sum;
}

/* Writes through the FUSE mount of a read-write layer on the chain. */
static void write_container(const char *mnt)
{
	tl_file(mnt, "etc/passwd", "changed\n");
	tl_file(mnt, "newfile", "new\n");
	_cleanup_free_ char *sh = tl_strdupf("%s/usr/bin/sh", mnt);
	ck_assert_int_eq(unlink(sh), 0);
	_cleanup_free_ char *cmd = tl_strdupf("rm -rf '%s/opt/dir' && mkdir '%s/opt/dir' && echo z > '%s/opt/dir/z'",
					      mnt, mnt, mnt);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(read_write_layer_changes_and_diff)
{
	char *ids[LT_CHAIN_N], *tars[LT_CHAIN_N];
	import_chain(ids, tars);
	const char *top = ids[LT_CHAIN_N - 1];
	struct lamina_layer_create_opts o = { .id = "container", .parent = top, .read_write = true };
	struct lm_error err = { 0 };
	ck_assert_msg(lamina_layer_create(vt_store, &o, NULL, &err) == 0, "create: %s", err.msg);
	_cleanup_free_ char *mnt = mount_layer("container", LAMINA_BACKEND_FUSE);
	write_container(mnt);
	unmount_layer("container");

	struct lamina_layer_change *c = NULL;
	size_t n = 0;
	ck_assert_msg(lamina_layer_changes(vt_store, "container", &c, &n, &err) == 0, "changes: %s", err.msg);
	ck_assert(has_change(c, n, "/etc/passwd", LAMINA_CHANGE_MODIFIED));
	ck_assert(has_change(c, n, "/newfile", LAMINA_CHANGE_ADDED));
	ck_assert(has_change(c, n, "/usr/bin/sh", LAMINA_CHANGE_DELETED));
	ck_assert(has_change(c, n, "/opt/dir/z", LAMINA_CHANGE_ADDED));
	ck_assert(!has_change(c, n, "/etc/hosts", LAMINA_CHANGE_MODIFIED)); /* untouched */
	lamina_layer_changes_free(c, n);
	uint64_t size = 0;
	ck_assert_int_eq(lamina_layer_diff_size(vt_store, "container", &size, &err), 0);
	/* what was written, and what lamina-fuse copied up besides (a hard
	 * link's partner whose link count changed) */
	ck_assert_uint_ge(size, strlen("changed\n") + strlen("new\n") + strlen("z\n"));
	ck_assert_uint_eq(size, file_bytes(diff_dir("container")));
	struct lamina_check_report rep;
	ck_assert_int_eq(lamina_layer_verify(vt_store, "container", &rep, &err), 0);
	ck_assert_uint_eq(rep.n_problems, 0); /* nothing recorded for a container layer */
	lamina_check_report_release(&rep);

	/* its diff, imported on the same parent, gives the same tree */
	_cleanup_free_ char *copy = import_fd(export_fd("container"), top, false);
	_cleanup_free_ char *a = mount_layer("container", LAMINA_BACKEND_KERNEL);
	_cleanup_free_ char *b = mount_layer(copy, LAMINA_BACKEND_KERNEL);
	lt_assert_same_tree(a, b, "container", "imported-diff", TL_DIFF_NO_DINO);
	unmount_layer("container");
	unmount_layer(copy);
	free_n(ids, LT_CHAIN_N);
	free_n(tars, LT_CHAIN_N);
}
END_TEST

static char *diff_id_of(const char *id)
{
	struct lamina_layer *l = NULL;
	ck_assert_int_eq(lamina_layer_inspect(vt_store, id, &l, NULL), 0);
	char *d = tl_strdup(l->diff_id ? l->diff_id : "(none)");
	lamina_layer_free(l);
	return d;
}

/* import -> diff -> import: the same tree; lamina's export is canonical, so
 * from there on the DiffID and the bytes stay the same. */
START_TEST(round_trip)
{
	char *ids[LT_CHAIN_N], *tars[LT_CHAIN_N];
	import_chain(ids, tars);
	for (int i = 0; i < LT_CHAIN_N; i++) {
		size_t len1, len2;
		int fd = export_fd(ids[i]);
		_cleanup_free_ char *tar1 = tl_fd_read_all(fd, &len1);
		_cleanup_free_ char *again = import_fd(fd, i ? ids[i - 1] : NULL, false);
		lt_assert_same_tree(diff_dir(ids[i]), diff_dir(again), "imported", "re-imported", TL_DIFF_NO_DINO);
		_cleanup_free_ char *want = lt_sha256_cmd(tar1, len1, NULL);
		_cleanup_free_ char *got = diff_id_of(again);
		ck_assert_str_eq(got, want);
		_cleanup_close_ int fd2 = export_fd(again);
		_cleanup_free_ char *tar2 = tl_fd_read_all(fd2, &len2);
		ck_assert(len1 == len2 && !memcmp(tar1, tar2, len1));
		ck_assert_int_eq(lamina_layer_remove(vt_store, again, NULL), 0);
	}
	free_n(ids, LT_CHAIN_N);
	free_n(tars, LT_CHAIN_N);
}
END_TEST

/* Docker's Create then ApplyDiff; a second ApplyDiff, or one into a layer
 * with files, is refused and changes nothing. */
START_TEST(apply_diff_into_created)
{
	struct lamina_layer_create_opts o = { .id = "made" };
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_layer_create(vt_store, &o, NULL, &err), 0);
	uint64_t size = 0;
	_cleanup_close_ int fd = tl_tar_memfd(lt_chain[0], TL_TAR_PAX);
	ck_assert_msg(lamina_layer_apply_diff(vt_store, "made", fd, &size, &err) == 0, "apply: %s", err.msg);
	ck_assert_uint_gt(size, 0);
	_cleanup_free_ char *ref = import_fd(tl_tar_memfd(lt_chain[0], TL_TAR_PAX), NULL, false);
	lt_assert_same_tree(diff_dir(ref), diff_dir("made"), "imported", "applied", TL_DIFF_NO_DINO);
	_cleanup_free_ char *d1 = diff_id_of(ref), *d2 = diff_id_of("made");
	ck_assert_str_eq(d1, d2);
	_cleanup_close_ int fd2 = tl_tar_memfd(lt_chain[1], TL_TAR_PAX);
	ck_assert_int_eq(lamina_layer_apply_diff(vt_store, "made", fd2, NULL, &err), -ENOTEMPTY);
	ck_assert_msg(strstr(err.msg, "made"), "%s", err.msg);

	o.id = "dirty";
	ck_assert_int_eq(lamina_layer_create(vt_store, &o, NULL, &err), 0);
	tl_file(diff_dir("dirty"), "stray", "x");
	_cleanup_close_ int fd3 = tl_tar_memfd(lt_chain[0], TL_TAR_PAX);
	ck_assert_int_eq(lamina_layer_apply_diff(vt_store, "dirty", fd3, NULL, &err), -ENOTEMPTY);
	ck_assert_uint_eq(vt_entries(diff_dir("dirty")), 1);
	vt_check(vt_store, false, NULL, false);
}
END_TEST

static const struct tl_tar_entry hostile[] = {
	{ .type = 'd', .name = "ok" },
	{ .type = 'f', .name = "ok/file", .data = "fine" },
	{ .type = 'f', .name = "ok/../../escape", .data = "boom" },
	{ 0 },
};

START_TEST(hostile_leaves_no_trace)
{
	_cleanup_free_ char *base = import_fd(tl_tar_memfd(lt_chain[0], TL_TAR_PAX), NULL, false);
	_cleanup_free_ char *layers = tl_strdupf("%s/layers", vt_root());
	size_t before = vt_entries(layers);
	struct lamina_layer_create_opts o = { .id = "evil", .parent = base };
	_cleanup_close_ int fd = tl_tar_memfd(hostile, TL_TAR_PAX);
	struct lm_error err = { 0 };
	ck_assert_int_eq(lamina_layer_import(vt_store, &o, fd, NULL, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "escape"), "the message names the entry: %s", err.msg);
	ck_assert_int_eq(lamina_layer_inspect(vt_store, "evil", NULL, NULL), -ENOENT);
	ck_assert_uint_eq(vt_entries(layers), before);
	ck_assert_uint_eq(vt_tmp_entries(), 0);
	_cleanup_free_ char *outside = tl_strdupf("%s/escape", vt_root());
	ck_assert(!vt_exists(outside));
	vt_check(vt_store, false, NULL, false);
}
END_TEST

enum { LONG_CHAIN = 100 };

/* Layer i adds f<i> and removes f<i-1>: the top shows f99 alone, plus
 * the file every layer keeps rewriting. */
START_TEST(chain_of_100)
{
	enum lamina_layer_backend backend = _i;
	char *ids[LONG_CHAIN];
	for (int i = 0; i < LONG_CHAIN; i++) {
		char name[16], prev[16], text[16];
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(prev, sizeof(prev), ".wh.f%d", i - 1);
		snprintf(text, sizeof(text), "%d", i);
		struct tl_tar_entry e[] = { { .type = 'f', .name = name, .data = text },
					    { .type = 'f', .name = "shared", .data = text },
					    { .type = 'f', .name = prev }, { 0 } };
		if (i == 0)
			e[2] = (struct tl_tar_entry){ 0 };
		ids[i] = import_fd(tl_tar_memfd(e, TL_TAR_PAX), i ? ids[i - 1] : NULL, false);
	}
	_cleanup_free_ char *mnt = mount_layer(ids[LONG_CHAIN - 1], backend);
	ck_assert_uint_eq(vt_entries(mnt), 2);
	_cleanup_free_ char *top = tl_strdupf("%s/f%d", mnt, LONG_CHAIN - 1);
	_cleanup_free_ char *shared = tl_strdupf("%s/shared", mnt);
	_cleanup_free_ char *text = vt_read(shared);
	ck_assert(vt_exists(top));
	ck_assert_str_eq(text, "99");
	unmount_layer(ids[LONG_CHAIN - 1]);
	free_n(ids, LONG_CHAIN);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("graphdriver-layers");
	TCase *tc = tcase_create("layers");
	tcase_add_checked_fixture(tc, vt_setup, vt_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, chain_matches_kernel_and_gnu_tar, LAMINA_BACKEND_FUSE, LAMINA_BACKEND_KERNEL + 1);
	tcase_add_test(tc, read_write_layer_changes_and_diff);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, apply_diff_into_created);
	tcase_add_test(tc, hostile_leaves_no_trace);
	tcase_add_loop_test(tc, chain_of_100, LAMINA_BACKEND_FUSE, LAMINA_BACKEND_KERNEL + 1);
	suite_add_tcase(su, tc);
	return tl_run_suite(su, "test-graphdriver-layers",
			    TL_NEED_ROOT | TL_NEED_FUSE | TL_NEED_OVERLAY | TL_NEED_LAMINA);
}
