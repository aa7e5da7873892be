/*
 * common/walk.c: the depth-first walk behind tar writing and tree copy.
 * It owns the order (sorted per folder, so output is reproducible), the
 * mount-point rule (a folder on another mount is met but not entered, as
 * "tar --one-file-system" and "cp -x" do) and hard-link detection by
 * (st_dev, st_ino).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/walk.h"

struct link {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct walk {
	const struct lm_walk_ops *ops;
	void *ctx;
	const char *what;
	struct lm_error *err;
	char *path; /* of the object being visited, relative to the root */
	size_t len, cap;
	void *links; /* tsearch tree of struct link */
	uint64_t root_mnt_id;
	dev_t root_dev;
	bool have_mnt_id;
};

static int walk_fail(struct walk *w, int r, const char *doing)
{
	return lm_err(w->err, r, "%s: '%s': %s", w->what, w->len ? w->path : ".", doing);
}

static int path_push(struct walk *w, const char *name, size_t *ret_old)
{
	size_t nl = strlen(name);
	if (w->len + nl + 2 > w->cap) {
		size_t cap = (w->len + nl + 2) * 2;
		char *p = realloc(w->path, cap);
		if (!p)
			return -ENOMEM;
		w->path = p;
		w->cap = cap;
	}
	*ret_old = w->len;
	if (w->len)
		w->path[w->len++] = '/';
	memcpy(w->path + w->len, name, nl + 1);
	w->len += nl;
	return 0;
}

static void path_pop(struct walk *w, size_t old)
{
	w->len = old;
	w->path[old] = '\0';
}

static int link_cmp(const void *a, const void *b)
{
	const struct link *x = a, *y = b;
	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static void link_free(void *p)
{
	struct link *l = p;
	free(l->path);
	free(l);
}

/* The first path of an inode with several links, or NULL (and noted). */
static int link_note(struct walk *w, const struct stat *st, const char **ret_first)
{
	*ret_first = NULL;
	if (st->st_nlink < 2)
		return 0;
	struct link key = { st->st_dev, st->st_ino, NULL };
	struct link **found = tfind(&key, &w->links, link_cmp);
	if (found) {
		*ret_first = (*found)->path;
		return 0;
	}
	struct link *l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	*l = key;
	l->path = strdup(w->path);
	if (!l->path || !tsearch(l, &w->links, link_cmp)) {
		link_free(l);
		return -ENOMEM;
	}
	return 0;
}

/* statx's mount id tells a mount point from a btrfs subvolume, which also
 * has an st_dev of its own; st_dev is the fallback on kernels before 5.8. */
static int mount_of(int fd, const struct stat *st, uint64_t *ret_id, bool *ret_have_id)
{
	struct statx stx;
	int r = statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &stx);
	if (r < 0 && errno != ENOSYS)
		return -errno;
	*ret_have_id = r == 0 && (stx.stx_mask & STATX_MNT_ID);
	*ret_id = *ret_have_id ? stx.stx_mnt_id : (uint64_t)st->st_dev;
	return 0;
}

static int names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The sorted names of folder fd (its own fd for the listing). */
static int list_names(int fd, char ***ret, size_t *ret_n)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	if (!d) {
		int r = -errno;
		lm_close(dfd);
		return r;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **p = reallocarray(names, cap, sizeof(*names));
			if (!p)
				goto oom;
			names = p;
		}
		if (!(names[n] = strdup(de->d_name)))
			goto oom;
		n++;
	}
	if (errno) {
		int r = -errno;
		names_free(names, n);
		return r;
	}
	if (n)
		qsort(names, n, sizeof(*names), names_cmp);
	*ret = names;
	*ret_n = n;
	return 0;
oom:
	names_free(names, n);
	return -ENOMEM;
}

static int walk_child(struct walk *w, int parent, const char *name);

static int walk_content(struct walk *w, int fd)
{
	char **names = NULL;
	size_t n = 0;
	int r = list_names(fd, &names, &n);
	if (r < 0)
		return walk_fail(w, r, "cannot list folder");
	for (size_t i = 0; i < n && r >= 0; i++) {
		size_t old;
		r = path_push(w, names[i], &old);
		if (r < 0) {
			r = walk_fail(w, r, "cannot walk");
			break;
		}
		r = walk_child(w, fd, names[i]);
		path_pop(w, old);
	}
	names_free(names, n);
	return r;
}

/* A folder: visit, content unless it is another mount, leave. */
static int walk_folder(struct walk *w, struct lm_walk_entry *e, int fd)
{
	struct stat st;
	uint64_t mnt;
	bool have_id;
	if (fstat(fd, &st) < 0)
		return walk_fail(w, -errno, "cannot stat");
	int r = mount_of(fd, &st, &mnt, &have_id);
	if (r < 0)
		return walk_fail(w, r, "cannot stat");
	e->st = &st;
	if (e->parent >= 0)
		e->mount_point = w->have_mnt_id && have_id ? mnt != w->root_mnt_id : st.st_dev != w->root_dev;
	r = w->ops->visit(w->ctx, e, fd);
	if (r == 0 && !e->mount_point)
		r = walk_content(w, fd);
	if (r == LM_WALK_SKIP)
		r = 0;
	if (r >= 0 && w->ops->leave)
		r = w->ops->leave(w->ctx, e, fd);
	return r;
}

static int walk_child(struct walk *w, int parent, const char *name)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : walk_fail(w, -errno, "cannot stat");
	struct lm_walk_entry e = { .parent = parent, .name = name, .path = w->path, .st = &st };
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT ? 0 : walk_fail(w, -errno, "cannot open folder");
		return walk_folder(w, &e, fd);
	}
	int r = link_note(w, &st, &e.link_first);
	if (r < 0)
		return walk_fail(w, r, "cannot note hard link");
	return w->ops->visit(w->ctx, &e, -1);
}

int lm_walk_open_file(const struct lm_walk_entry *e, struct stat *ret_st)
{
	_cleanup_close_ int fd = openat(e->parent, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, ret_st) < 0)
		return -errno;
	if (!S_ISREG(ret_st->st_mode) || ret_st->st_ino != e->st->st_ino || ret_st->st_dev != e->st->st_dev)
		return -EAGAIN;
	return TAKE_FD(fd);
}

int lm_walk(int dirfd, const struct lm_walk_ops *ops, void *ctx, const char *what, struct lm_error *err)
{
	struct walk w = { .ops = ops, .ctx = ctx, .what = what, .err = err };
	_cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return walk_fail(&w, -errno, "cannot open folder");
	struct stat st;
	if (fstat(fd, &st) < 0)
		return walk_fail(&w, -errno, "cannot stat");
	w.root_dev = st.st_dev;
	int r = mount_of(fd, &st, &w.root_mnt_id, &w.have_mnt_id);
	if (r < 0)
		return walk_fail(&w, r, "cannot stat");
	w.path = calloc(1, 64);
	if (!w.path)
		return lm_err(err, -ENOMEM, "%s: cannot walk", what);
	w.cap = 64;
	struct lm_walk_entry e = { .parent = -1, .name = ".", .path = w.path };
	r = walk_folder(&w, &e, fd);
	tdestroy(w.links, link_free);
	free(w.path);
	return r;
}
