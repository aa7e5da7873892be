/*
 * unionfs/node.c: the inode table. Maps reported inode numbers to nodes,
 * counts the kernel's lookups (freed at forget) and the internal references
 * (children's parent pointers, open handles), and keeps each node's current
 * parent and name. Locks: tree_lock (write) before nodes_lock, see unionfs.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unionfs/unionfs.h"

static size_t slot_of(const struct ufs *ufs, uint64_t ino)
{
	uint64_t h = ino * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 20) & (ufs->table_size - 1);
}

/* Called with nodes_lock held. */
static struct ufs_node *table_find(struct ufs *ufs, uint64_t ino)
{
	for (struct ufs_node *n = ufs->table[slot_of(ufs, ino)]; n; n = n->hnext)
		if (n->ino == ino)
			return n;
	return NULL;
}

static void table_grow(struct ufs *ufs)
{
	size_t new_size = ufs->table_size * 2;
	struct ufs_node **t = calloc(new_size, sizeof(*t));
	if (!t)
		return; /* keep the longer chains */
	struct ufs_node **old = ufs->table;
	size_t old_size = ufs->table_size;
	ufs->table = t;
	ufs->table_size = new_size;
	for (size_t i = 0; i < old_size; i++) {
		for (struct ufs_node *n = old[i], *next; n; n = next) {
			next = n->hnext;
			size_t s = slot_of(ufs, n->ino);
			n->hnext = t[s];
			t[s] = n;
		}
	}
	free(old);
}

static void table_insert(struct ufs *ufs, struct ufs_node *node)
{
	if (ufs->nnodes + 1 > ufs->table_size)
		table_grow(ufs);
	size_t s = slot_of(ufs, node->ino);
	node->hnext = ufs->table[s];
	ufs->table[s] = node;
	ufs->nnodes++;
	if (ufs->nnodes > ufs->nodes_peak)
		ufs->nodes_peak = ufs->nnodes;
}

static void table_remove(struct ufs *ufs, struct ufs_node *node)
{
	for (struct ufs_node **p = &ufs->table[slot_of(ufs, node->ino)]; *p; p = &(*p)->hnext) {
		if (*p == node) {
			*p = node->hnext;
			node->hnext = NULL;
			ufs->nnodes--;
			return;
		}
	}
}

static struct ufs_node *node_new(uint64_t ino, mode_t type, const char *name)
{
	struct ufs_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->ino = ino;
	n->type = type;
	n->open_fd = -1;
	pthread_mutex_init(&n->copyup_lock, NULL);
	return n;
}

static void node_destroy(struct ufs *ufs, struct ufs_node *n)
{
	ufs_dir_forget_fds(ufs, n);
	struct ufs_handle *dh = atomic_load(&n->dir_handle);
	if (dh)
		dh->free_fn(ufs, dh);
	if (n->open_fd >= 0)
		close(n->open_fd);
	/* aliases were released by the caller (release_locked) or belong to a
	 * table being torn down, where parents go too */
	for (struct ufs_alias *a = n->aliases, *next; a; a = next) {
		next = a->next;
		free(a->name);
		free(a);
	}
	pthread_mutex_destroy(&n->copyup_lock);
	free(n->name);
	free(n);
}

static void alias_free_locked(struct ufs *ufs, struct ufs_alias *a);

/* With nodes_lock held: frees node, and then its ancestors, once nothing
 * refers to them any more. An unhashed node (replaced in the table) is freed
 * the same way. */
static void release_locked(struct ufs *ufs, struct ufs_node *node)
{
	while (node && node != ufs->root && node->nlookup == 0 && node->refs == 0) {
		struct ufs_node *parent = node->parent;
		if (table_find(ufs, node->ino) == node)
			table_remove(ufs, node);
		while (node->aliases) {
			struct ufs_alias *a = node->aliases;
			node->aliases = a->next;
			alias_free_locked(ufs, a);
		}
		node_destroy(ufs, node);
		if (parent)
			parent->refs--;
		node = parent;
	}
}

int ufs_node_table_init(struct ufs *ufs)
{
	ufs->table_size = 1024;
	ufs->table = calloc(ufs->table_size, sizeof(*ufs->table));
	return ufs->table ? 0 : -ENOMEM;
}

/* Below this many nodes at the peak, what a trim could give back is not
 * worth the walk over the heap it costs. */
#define UFS_TRIM_MIN_PEAK 4096

bool ufs_node_table_shrunk(struct ufs *ufs)
{
	pthread_mutex_lock(&ufs->nodes_lock);
	bool shrunk = ufs->nodes_peak >= UFS_TRIM_MIN_PEAK && ufs->nnodes < ufs->nodes_peak / 4;
	if (shrunk)
		ufs->nodes_peak = ufs->nnodes;
	pthread_mutex_unlock(&ufs->nodes_lock);
	return shrunk;
}

void ufs_node_table_free(struct ufs *ufs)
{
	if (!ufs->table)
		return;
	for (size_t i = 0; i < ufs->table_size; i++) {
		for (struct ufs_node *n = ufs->table[i], *next; n; n = next) {
			next = n->hnext;
			node_destroy(ufs, n);
		}
	}
	free(ufs->table);
	ufs->table = NULL;
	ufs->root = NULL;
}

/* With tree_lock (write) and nodes_lock held: makes (parent, name) the
 * primary name of node, keeping the old parent's reference balanced. */
static int set_name_locked(struct ufs *ufs, struct ufs_node *node, struct ufs_node *parent, const char *name)
{
	if (node->parent != parent || strcmp(node->name, name) != 0) {
		char *copy = strdup(name);
		if (!copy)
			return -ENOMEM;
		free(node->name);
		node->name = copy;
	}
	if (node->parent != parent) {
		struct ufs_node *old = node->parent;
		parent->refs++;
		node->parent = parent;
		if (old) {
			old->refs--;
			release_locked(ufs, old);
		}
	}
	node->removed = false;
	return 0;
}

static bool alias_is(const struct ufs_alias *a, const struct ufs_node *parent, const char *name)
{
	return a->parent == parent && !strcmp(a->name, name);
}

/* With both locks held: records one more name of a hard-linked file. */
static int add_alias_locked(struct ufs_node *node, struct ufs_node *parent, const char *name)
{
	if (node->parent == parent && !strcmp(node->name, name))
		return 0;
	for (struct ufs_alias *a = node->aliases; a; a = a->next)
		if (alias_is(a, parent, name))
			return 0;
	struct ufs_alias *a = calloc(1, sizeof(*a));
	if (!a || !(a->name = strdup(name))) {
		free(a);
		return -ENOMEM;
	}
	a->parent = parent;
	parent->refs++;
	a->next = node->aliases;
	node->aliases = a;
	return 0;
}

static void alias_free_locked(struct ufs *ufs, struct ufs_alias *a)
{
	struct ufs_node *parent = a->parent;
	free(a->name);
	free(a);
	parent->refs--;
	release_locked(ufs, parent);
}

/* With both locks held: the name (parent, name) of node is gone. */
static void remove_name_locked(struct ufs *ufs, struct ufs_node *node, struct ufs_node *parent, const char *name)
{
	for (struct ufs_alias **p = &node->aliases; *p; p = &(*p)->next) {
		if (alias_is(*p, parent, name)) {
			struct ufs_alias *a = *p;
			*p = a->next;
			alias_free_locked(ufs, a);
			return;
		}
	}
	if (node->parent != parent || strcmp(node->name, name) != 0)
		return;
	if (!node->aliases) {
		node->removed = true;
		return;
	}
	/* Promote the next known name to primary. */
	struct ufs_alias *a = node->aliases;
	node->aliases = a->next;
	set_name_locked(ufs, node, a->parent, a->name);
	alias_free_locked(ufs, a);
}

struct ufs_node *ufs_node_get_or_create(struct ufs *ufs, struct ufs_node *parent, const char *name,
					const struct ufs_found *found, bool count_lookup)
{
	uint64_t ino = found->st.st_ino;
	mode_t type = found->st.st_mode & S_IFMT;
	pthread_rwlock_wrlock(&ufs->tree_lock);
	pthread_mutex_lock(&ufs->nodes_lock);
	struct ufs_node *n = table_find(ufs, ino);
	if (n && n->type != type) {
		/* The inode number now names another object (the old one was
		 * deleted): the kernel may still hold the old node, unhash it. */
		table_remove(ufs, n);
		n->removed = true;
		n = NULL;
	}
	if (!n) {
		n = node_new(ino, type, name);
		if (!n)
			goto out;
		if (parent) {
			n->parent = parent;
			parent->refs++;
		}
		table_insert(ufs, n);
	} else if (parent) {
		/* An inode number reused by a new object after the old one went:
		 * the old directory's fds are not this one's. */
		if (n->removed)
			ufs_dir_forget_fds(ufs, n);
		/* A directory has one name: finding it elsewhere means it moved.
		 * A file found under another name is a hard link. */
		int r = S_ISDIR(type) || n->removed ? set_name_locked(ufs, n, parent, name)
						    : add_alias_locked(n, parent, name);
		if (r < 0) {
			n = NULL;
			goto out;
		}
	}
	atomic_store(&n->layer, found->layer);
	n->last_layer = found->last_layer;
	n->merged = found->merged;
	n->nlink_extra = found->nlink_extra;
	n->removed = false;
	if (count_lookup)
		n->nlookup++;
	else
		n->refs++;
out:
	pthread_mutex_unlock(&ufs->nodes_lock);
	pthread_rwlock_unlock(&ufs->tree_lock);
	return n;
}

void ufs_node_ref(struct ufs *ufs, struct ufs_node *node)
{
	pthread_mutex_lock(&ufs->nodes_lock);
	node->refs++;
	pthread_mutex_unlock(&ufs->nodes_lock);
}

void ufs_node_unref(struct ufs *ufs, struct ufs_node *node)
{
	pthread_mutex_lock(&ufs->nodes_lock);
	node->refs--;
	release_locked(ufs, node);
	pthread_mutex_unlock(&ufs->nodes_lock);
}

void ufs_node_forget(struct ufs *ufs, struct ufs_node *node, uint64_t nlookup)
{
	pthread_mutex_lock(&ufs->nodes_lock);
	node->nlookup = nlookup > node->nlookup ? 0 : node->nlookup - nlookup;
	release_locked(ufs, node);
	pthread_mutex_unlock(&ufs->nodes_lock);
}

int ufs_node_name_moved(struct ufs *ufs, struct ufs_node *node, struct ufs_node *old_parent, const char *old_name,
			struct ufs_node *new_parent, const char *new_name)
{
	int r = 0;
	pthread_rwlock_wrlock(&ufs->tree_lock);
	pthread_mutex_lock(&ufs->nodes_lock);
	if (node->parent == old_parent && !strcmp(node->name, old_name)) {
		r = set_name_locked(ufs, node, new_parent, new_name);
	} else {
		remove_name_locked(ufs, node, old_parent, old_name);
		r = add_alias_locked(node, new_parent, new_name);
	}
	pthread_mutex_unlock(&ufs->nodes_lock);
	pthread_rwlock_unlock(&ufs->tree_lock);
	return r;
}

void ufs_node_name_removed(struct ufs *ufs, struct ufs_node *node, struct ufs_node *parent, const char *name)
{
	pthread_rwlock_wrlock(&ufs->tree_lock);
	pthread_mutex_lock(&ufs->nodes_lock);
	remove_name_locked(ufs, node, parent, name);
	pthread_mutex_unlock(&ufs->nodes_lock);
	pthread_rwlock_unlock(&ufs->tree_lock);
}

struct ufs_node *ufs_node_find(struct ufs *ufs, uint64_t ino)
{
	pthread_mutex_lock(&ufs->nodes_lock);
	struct ufs_node *n = table_find(ufs, ino);
	if (n)
		n->refs++;
	pthread_mutex_unlock(&ufs->nodes_lock);
	return n;
}

void ufs_node_file_opened(struct ufs *ufs, struct ufs_node *node, int fd)
{
	pthread_mutex_lock(&ufs->nodes_lock);
	node->refs++;
	if (node->open_count++ == 0 && node->open_fd < 0)
		node->open_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	pthread_mutex_unlock(&ufs->nodes_lock);
}

void ufs_node_file_closed(struct ufs *ufs, struct ufs_node *node)
{
	pthread_mutex_lock(&ufs->nodes_lock);
	if (--node->open_count == 0 && node->open_fd >= 0) {
		close(node->open_fd);
		node->open_fd = -1;
	}
	node->refs--;
	release_locked(ufs, node);
	pthread_mutex_unlock(&ufs->nodes_lock);
}

int ufs_node_fstat_kept(struct ufs *ufs, struct ufs_node *node, struct stat *st)
{
	pthread_mutex_lock(&ufs->nodes_lock);
	int r = node->open_fd < 0 ? -ESTALE : (fstat(node->open_fd, st) < 0 ? -errno : 0);
	pthread_mutex_unlock(&ufs->nodes_lock);
	return r;
}

int ufs_node_kept_fd(struct ufs *ufs, struct ufs_node *node)
{
	pthread_mutex_lock(&ufs->nodes_lock);
	int fd = node->open_fd < 0 ? -ESTALE : fcntl(node->open_fd, F_DUPFD_CLOEXEC, 3);
	if (fd == -1)
		fd = -errno;
	pthread_mutex_unlock(&ufs->nodes_lock);
	return fd;
}

void ufs_node_replace_kept_fd(struct ufs *ufs, struct ufs_node *node, int fd)
{
	pthread_mutex_lock(&ufs->nodes_lock);
	int old = node->open_fd;
	node->open_fd = fd;
	pthread_mutex_unlock(&ufs->nodes_lock);
	if (old >= 0)
		close(old);
}
