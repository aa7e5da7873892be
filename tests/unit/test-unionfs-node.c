/*
 * tests/unit/test-unionfs-node.c: the inode table: one node per object,
 * lookup counts and forget, hard-link aliases, renames, paths, and when the
 * table has shrunk enough to give memory back.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "unionfs/unionfs.h"
#include "tests/lib/testlib.h"

static struct ufs *ufs;

static struct ufs_found found(uint64_t ino, mode_t type)
{
	struct ufs_found f = { .layer = 1, .last_layer = 1 };
	f.st.st_ino = ino;
	f.st.st_mode = type | 0644;
	return f;
}

static void setup(void)
{
	ufs = calloc(1, sizeof(*ufs));
	pthread_rwlock_init(&ufs->tree_lock, NULL);
	pthread_mutex_init(&ufs->nodes_lock, NULL);
	ck_assert_int_eq(ufs_node_table_init(ufs), 0);
	struct ufs_found r = found(2, S_IFDIR);
	ufs->root = ufs_node_get_or_create(ufs, NULL, "", &r, true);
	ck_assert_ptr_nonnull(ufs->root);
}

static void teardown(void)
{
	ufs_node_table_free(ufs);
	free(ufs);
}

static char *path_of(struct ufs_node *n)
{
	char *p = NULL;
	int r = ufs_node_path(ufs, n, &p);
	return r < 0 ? strdup(strerror(-r)) : p;
}

START_TEST(one_node_per_inode)
{
	struct ufs_found d = found(10, S_IFDIR), f = found(11, S_IFREG);
	struct ufs_node *dir = ufs_node_get_or_create(ufs, ufs->root, "dir", &d, true);
	struct ufs_node *a = ufs_node_get_or_create(ufs, dir, "a", &f, true);
	struct ufs_node *b = ufs_node_get_or_create(ufs, dir, "a", &f, true);
	ck_assert_ptr_eq(a, b);
	ck_assert_int_eq(a->nlookup, 2);
	char *p = path_of(a);
	ck_assert_str_eq(p, "dir/a");
	free(p);
	p = path_of(ufs->root);
	ck_assert_str_eq(p, ".");
	free(p);
	ck_assert_ptr_eq(ufs_node_find(ufs, 11), a);
	ufs_node_unref(ufs, a);
	ck_assert_ptr_null(ufs_node_find(ufs, 99));
}
END_TEST

START_TEST(forget_frees_child_then_parent)
{
	struct ufs_found d = found(10, S_IFDIR), f = found(11, S_IFREG);
	struct ufs_node *dir = ufs_node_get_or_create(ufs, ufs->root, "dir", &d, true);
	struct ufs_node *a = ufs_node_get_or_create(ufs, dir, "a", &f, true);
	size_t before = ufs->nnodes;
	ufs_node_forget(ufs, dir, 1); /* the child still holds the parent */
	ck_assert_uint_eq(ufs->nnodes, before);
	ck_assert_ptr_eq(ufs_node_find(ufs, 10), dir);
	ufs_node_unref(ufs, dir);
	ufs_node_forget(ufs, a, 1);
	ck_assert_uint_eq(ufs->nnodes, before - 2);
	ck_assert_ptr_null(ufs_node_find(ufs, 10));
}
END_TEST

START_TEST(hard_link_aliases)
{
	struct ufs_found d = found(10, S_IFDIR), f = found(11, S_IFREG);
	struct ufs_node *dir = ufs_node_get_or_create(ufs, ufs->root, "dir", &d, true);
	struct ufs_node *a = ufs_node_get_or_create(ufs, dir, "a", &f, true);
	struct ufs_node *b = ufs_node_get_or_create(ufs, ufs->root, "b", &f, true);
	ck_assert_ptr_eq(a, b);
	ufs_node_name_removed(ufs, a, dir, "a"); /* "b" takes over */
	char *p = path_of(a);
	ck_assert_str_eq(p, "b");
	free(p);
	ck_assert(!a->removed);
	ufs_node_name_removed(ufs, a, ufs->root, "b");
	ck_assert(a->removed);
	ck_assert_int_eq(ufs_node_path(ufs, a, &p), -ESTALE);
}
END_TEST

START_TEST(rename_moves_subtree_paths)
{
	struct ufs_found d = found(10, S_IFDIR), e = found(12, S_IFDIR), f = found(11, S_IFREG);
	struct ufs_node *dir = ufs_node_get_or_create(ufs, ufs->root, "dir", &d, true);
	struct ufs_node *other = ufs_node_get_or_create(ufs, ufs->root, "other", &e, true);
	struct ufs_node *a = ufs_node_get_or_create(ufs, dir, "a", &f, true);
	ck_assert_int_eq(ufs_node_name_moved(ufs, dir, ufs->root, "dir", other, "moved"), 0);
	char *p = path_of(a);
	ck_assert_str_eq(p, "other/moved/a");
	free(p);
}
END_TEST

START_TEST(reused_inode_number_of_other_type)
{
	struct ufs_found f = found(11, S_IFREG), d = found(11, S_IFDIR);
	struct ufs_node *a = ufs_node_get_or_create(ufs, ufs->root, "a", &f, true);
	struct ufs_node *b = ufs_node_get_or_create(ufs, ufs->root, "b", &d, true);
	ck_assert_ptr_ne(a, b);
	ck_assert(a->removed);
	ck_assert_ptr_eq(ufs_node_find(ufs, 11), b);
	ufs_node_unref(ufs, b);
	ufs_node_forget(ufs, a, 1); /* the unhashed node is freed all the same */
}
END_TEST

START_TEST(table_grows)
{
	for (uint64_t i = 0; i < 20000; i++) {
		struct ufs_found f = found(1000 + i, S_IFREG);
		char name[32];
		snprintf(name, sizeof(name), "f%llu", (unsigned long long)i);
		ck_assert_ptr_nonnull(ufs_node_get_or_create(ufs, ufs->root, name, &f, true));
	}
	ck_assert_uint_ge(ufs->table_size, 20000);
	for (uint64_t i = 0; i < 20000; i += 997) {
		struct ufs_node *n = ufs_node_find(ufs, 1000 + i);
		ck_assert_ptr_nonnull(n);
		ufs_node_unref(ufs, n);
	}
}
END_TEST

/* n files in the root, looked up once each by the kernel. */
static struct ufs_node **make_files(uint64_t first, size_t n)
{
	struct ufs_node **nodes = calloc(n, sizeof(*nodes));
	ck_assert_ptr_nonnull(nodes);
	for (size_t i = 0; i < n; i++) {
		struct ufs_found f = found(first + i, S_IFREG);
		char name[32];
		snprintf(name, sizeof(name), "f%llu", (unsigned long long)(first + i));
		nodes[i] = ufs_node_get_or_create(ufs, ufs->root, name, &f, true);
		ck_assert_ptr_nonnull(nodes[i]);
	}
	return nodes;
}

START_TEST(shrunk_after_most_nodes_forgotten)
{
	struct ufs_node **nodes = make_files(1000, 8000);
	ck_assert(!ufs_node_table_shrunk(ufs));
	for (size_t i = 0; i < 5000; i++)
		ufs_node_forget(ufs, nodes[i], 1);
	ck_assert(!ufs_node_table_shrunk(ufs)); /* 3000 of 8000 left */
	for (size_t i = 5000; i < 7000; i++)
		ufs_node_forget(ufs, nodes[i], 1);
	ck_assert(ufs_node_table_shrunk(ufs)); /* 1000 left */
	ck_assert(!ufs_node_table_shrunk(ufs)); /* said once: the peak is now 1001 */
	for (size_t i = 7000; i < 8000; i++)
		ufs_node_forget(ufs, nodes[i], 1);
	ck_assert(!ufs_node_table_shrunk(ufs)); /* a small table is not worth a trim */
	free(nodes);
}
END_TEST

START_TEST(not_shrunk_while_nodes_come_and_go)
{
	for (uint64_t round = 0; round < 4; round++) {
		struct ufs_node **nodes = make_files(1000 + round * 10000, 3000);
		for (size_t i = 0; i < 3000; i++)
			ufs_node_forget(ufs, nodes[i], 1);
		free(nodes);
		/* never more than 3001 at once: below the size worth a trim */
		ck_assert(!ufs_node_table_shrunk(ufs));
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("unionfs-node");
	TCase *tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, one_node_per_inode);
	tcase_add_test(tc, forget_frees_child_then_parent);
	tcase_add_test(tc, hard_link_aliases);
	tcase_add_test(tc, rename_moves_subtree_paths);
	tcase_add_test(tc, reused_inode_number_of_other_type);
	tcase_add_test(tc, table_grows);
	tcase_add_test(tc, shrunk_after_most_nodes_forgotten);
	tcase_add_test(tc, not_shrunk_while_nodes_come_and_go);
	suite_add_tcase(s, tc);
	return tl_run_suite(s, "test-unionfs-node", 0);
}
