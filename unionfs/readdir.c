/*
 * unionfs/readdir.c: the merged listing of a directory, as overlayfs's
 * readdir.c: the upper directory first, then each lower one in its range;
 * each name once; whiteouts, ".wh." markers and names they hide removed.
 * A ".wh.NAME" marker hides NAME in the layers below its own only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/path.h"
#include "unionfs/unionfs.h"

/* A set of names, open addressing; grows at half load. */
struct name_set {
	char **slots;
	size_t size, count;
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static bool set_has(const struct name_set *set, const char *name)
{
	if (!set->size)
		return false;
	for (size_t i = name_hash(name) & (set->size - 1);; i = (i + 1) & (set->size - 1)) {
		if (!set->slots[i])
			return false;
		if (!strcmp(set->slots[i], name))
			return true;
	}
}

/* Adds name (not copied: it must outlive the set). */
static int set_add(struct name_set *set, char *name)
{
	if ((set->count + 1) * 2 > set->size) {
		struct name_set bigger = { .size = set->size ? set->size * 2 : 64 };
		bigger.slots = calloc(bigger.size, sizeof(char *));
		if (!bigger.slots)
			return -ENOMEM;
		for (size_t i = 0; i < set->size; i++)
			if (set->slots[i])
				set_add(&bigger, set->slots[i]);
		free(set->slots);
		*set = bigger;
	}
	size_t i = name_hash(name) & (set->size - 1);
	while (set->slots[i])
		i = (i + 1) & (set->size - 1);
	set->slots[i] = name;
	set->count++;
	return 0;
}

struct merge {
	struct ufs *ufs;
	struct ufs_dir_listing *out;
	size_t cap;
	struct name_set seen;   /* names listed or hidden so far */
	char **hidden;          /* names of ".wh." markers of the current layer */
	size_t nhidden, caphidden;
};

static int push_entry(struct merge *m, const char *name, int layer, const struct stat *st,
		      const struct ufs_origin *o)
{
	if (m->out->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 32;
		struct ufs_dirent *e = realloc(m->out->entries, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		m->out->entries = e;
		m->cap = cap;
	}
	char *copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	struct ufs_dirent *e = &m->out->entries[m->out->n++];
	*e = (struct ufs_dirent){ .name = copy, .layer = layer, .nlink_extra = o->nlink_extra, .st = *st };
	e->st.st_ino = o->ino;
	e->st.st_nlink += o->nlink_extra;
	return 0;
}

/* Remembers a name hidden by a marker of the current layer. */
static int push_hidden(struct merge *m, const char *name)
{
	if (m->nhidden == m->caphidden) {
		size_t cap = m->caphidden ? m->caphidden * 2 : 16;
		char **h = realloc(m->hidden, cap * sizeof(*h));
		if (!h)
			return -ENOMEM;
		m->hidden = h;
		m->caphidden = cap;
	}
	m->hidden[m->nhidden] = strdup(name);
	return m->hidden[m->nhidden++] ? 0 : -ENOMEM;
}

static int add_layer_entry(struct merge *m, int layer, int dfd, struct dirent *de)
{
	const char *name = de->d_name;
	if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(name, UFS_WH_OPQ))
		return 0;
	const char *target = ufs_whiteout_target(name);
	if (target)
		return push_hidden(m, target);
	if (ufs_name_is_private(name) || set_has(&m->seen, name))
		return 0;
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (ufs_is_whiteout_stat(&st))
		return push_hidden(m, name);
	struct ufs_origin o;
	ufs_origin_of(m->ufs, layer, dfd, name, &st, &o);
	int r = push_entry(m, name, layer, &st, &o);
	if (r < 0)
		return r;
	return set_add(&m->seen, m->out->entries[m->out->n - 1].name);
}

static int read_layer(struct merge *m, struct ufs_node *dir, int layer)
{
	int pfd = ufs_dir_open_layer(m->ufs, dir, layer);
	if (pfd < 0)
		return pfd == -ENOENT || pfd == -ENOTDIR || pfd == -ELOOP ? 0 : pfd;
	int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int saved = errno;
	close(pfd);
	if (fd < 0)
		return -saved;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	size_t first_hidden = m->nhidden;
	int r = 0;
	struct dirent *de;
	while (r >= 0 && (errno = 0, de = readdir(d)))
		r = add_layer_entry(m, layer, dirfd(d), de);
	if (r >= 0 && errno)
		r = -errno;
	closedir(d);
	/* This layer's markers hide names of the layers below only. */
	for (size_t i = first_hidden; r >= 0 && i < m->nhidden; i++)
		if (!set_has(&m->seen, m->hidden[i]))
			r = set_add(&m->seen, m->hidden[i]);
	return r;
}

int ufs_dir_list(struct ufs *ufs, struct ufs_node *dir, struct ufs_dir_listing *ret)
{
	pthread_rwlock_rdlock(&ufs->tree_lock);
	int top = atomic_load(&dir->layer), bottom = dir->last_layer;
	int r = dir->removed ? -ESTALE : 0;
	pthread_rwlock_unlock(&ufs->tree_lock);
	if (r < 0)
		return r;

	struct ufs_dir_listing out = { 0 };
	struct merge m = { .ufs = ufs, .out = &out };
	for (int l = top; r >= 0 && l <= bottom; l++)
		r = read_layer(&m, dir, l);
	for (size_t i = 0; i < m.nhidden; i++)
		free(m.hidden[i]);
	free(m.hidden);
	free(m.seen.slots);
	if (r < 0) {
		ufs_dir_listing_free(&out);
		return r;
	}
	*ret = out;
	return 0;
}

void ufs_dir_listing_free(struct ufs_dir_listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->entries[i].name);
	free(l->entries);
	l->entries = NULL;
	l->n = 0;
}

int ufs_dir_is_empty(struct ufs *ufs, struct ufs_node *dir)
{
	struct ufs_dir_listing l;
	int r = ufs_dir_list(ufs, dir, &l);
	if (r < 0)
		return r;
	bool empty = l.n == 0;
	ufs_dir_listing_free(&l);
	return empty;
}
