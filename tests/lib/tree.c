/*
 * tests/lib/tree.c: snapshots of a directory tree and their comparison.
 *
 * The walk goes through directory fds (openat, fstatat with
 * AT_SYMLINK_NOFOLLOW), so deep trees whose paths pass PATH_MAX can be
 * walked, and never follows a symlink. What is compared, and why the rest is
 * not, is written at tl_tree_diff() in testlib.h.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"

#define HEAD_BYTES 24

struct walker {
	struct tl_node *nodes;
	size_t n;
	size_t alloc;
};

static struct tl_node *walker_add(struct walker *w)
{
	if (w->n == w->alloc) {
		w->alloc = w->alloc ? w->alloc * 2 : 64;
		w->nodes = tl_realloc(w->nodes, w->alloc * sizeof(*w->nodes));
	}
	memset(&w->nodes[w->n], 0, sizeof(*w->nodes));
	return &w->nodes[w->n++];
}

static void set_err(struct tl_node *node, int err)
{
	if (!node->read_err)
		node->read_err = err;
}

/* FNV-1a 64 of a regular file's content, and its first bytes. */
static void read_content(struct tl_node *node, int dirfd, const char *name)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	uint64_t h = 0xcbf29ce484222325ull;
	struct tl_buf head = TL_BUF_INIT;
	unsigned char buf[65536];
	bool first = true;
	ssize_t n;

	if (fd < 0) {
		set_err(node, errno);
		return;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (first)
			tl_buf_escape(&head, buf, (size_t)n, HEAD_BYTES);
		first = false;
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
	}
	if (n < 0)
		set_err(node, errno);
	node->hash = h;
	node->head = head.s ? head.s : tl_strdup("");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool xattr_recorded(const char *name)
{
	static const char *const prefixes[] = TL_SNAP_XATTR_PREFIXES;

	for (size_t i = 0; i < ELEMENTSOF(prefixes); i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return false;
}

int tl_xattrs_describe(const char *path, struct tl_buf *out)
{
	char list[65536], value[65536];
	ssize_t n = llistxattr(path, list, sizeof(list));
	const char *names[1024];
	size_t count = 0;
	int r = 0;

	if (n < 0)
		return -errno;
	for (char *p = list; p < list + n && count < ELEMENTSOF(names); p += strlen(p) + 1)
		if (xattr_recorded(p))
			names[count++] = p;
	qsort(names, count, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < count; i++) {
		ssize_t v = lgetxattr(path, names[i], value, sizeof(value));

		if (v < 0) {
			r = r ? r : -errno;
			continue;
		}
		tl_buf_printf(out, "%s=", names[i]);
		tl_buf_escape(out, value, (size_t)v, 256);
		tl_buf_printf(out, "; ");
	}
	return r;
}

static void read_xattrs(struct tl_node *node, const char *path)
{
	struct tl_buf b = TL_BUF_INIT;
	int r = tl_xattrs_describe(path, &b);

	if (r < 0)
		set_err(node, -r);
	node->xattrs = b.s;
}

static void fill_node(struct tl_node *node, const struct stat *st, int dirfd, const char *name)
{
	char proc[64 + NAME_MAX];

	node->mode = st->st_mode;
	node->uid = st->st_uid;
	node->gid = st->st_gid;
	node->nlink = st->st_nlink;
	node->size = st->st_size;
	node->rdev = st->st_rdev;
	node->mtime = st->st_mtim;
	node->dev = st->st_dev;
	node->ino = st->st_ino;
	if (S_ISREG(st->st_mode)) {
		node->sparse = (off_t)st->st_blocks * 512 < st->st_size;
		read_content(node, dirfd, name);
	} else if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);

		if (n < 0)
			set_err(node, errno);
		else
			node->target = tl_strdupf("%.*s", (int)n, target);
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	read_xattrs(node, proc);
}

static int cmp_dirent(const void *a, const void *b)
{
	return strcmp(((const struct tl_dirent *)a)->name, ((const struct tl_dirent *)b)->name);
}

int tl_dir_read(int fd, struct tl_dirent **ret, size_t *ret_n)
{
	int dfd = dup(fd);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	struct tl_dirent *e = NULL;
	size_t n = 0;
	struct dirent *de;

	if (!d) {
		lm_close(dfd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		e = tl_realloc(e, (n + 1) * sizeof(*e));
		e[n++] = (struct tl_dirent){ tl_strdup(de->d_name), de->d_type, de->d_ino };
	}
	closedir(d);
	if (n)
		qsort(e, n, sizeof(*e), cmp_dirent);
	*ret = e;
	*ret_n = n;
	return 0;
}

void tl_dirents_free(struct tl_dirent *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

static int walk(struct walker *w, int dirfd, const char *rel)
{
	struct tl_dirent *e = NULL;
	size_t n = 0;
	int r = tl_dir_read(dirfd, &e, &n);

	for (size_t i = 0; r == 0 && i < n; i++) {
		struct tl_node *node = walker_add(w);
		struct stat st;

		node->path = *rel ? tl_strdupf("%s/%s", rel, e[i].name) : tl_strdup(e[i].name);
		node->d_type = e[i].d_type;
		if (fstatat(dirfd, e[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			set_err(node, errno);
			continue;
		}
		node->dino_matches = e[i].d_ino == st.st_ino;
		fill_node(node, &st, dirfd, e[i].name);
		if (S_ISDIR(st.st_mode)) {
			_cleanup_free_ char *sub = tl_strdup(node->path);
			_cleanup_close_ int fd =
				openat(dirfd, e[i].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			r = fd < 0 ? -errno : walk(w, fd, sub);
		}
	}
	tl_dirents_free(e, n);
	return r;
}

static int cmp_node_path(const void *a, const void *b)
{
	return strcmp(((const struct tl_node *)a)->path, ((const struct tl_node *)b)->path);
}

static int cmp_node_inode(const void *a, const void *b)
{
	const struct tl_node *x = *(struct tl_node *const *)a, *y = *(struct tl_node *const *)b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return strcmp(x->path, y->path);
}

/* Names the groups of non-directories that share an inode by their first path. */
static void mark_link_groups(struct tl_tree *t)
{
	_cleanup_free_ struct tl_node **v = tl_malloc(t->n * sizeof(*v));
	size_t m = 0;

	for (size_t i = 0; i < t->n; i++)
		if (!S_ISDIR(t->nodes[i].mode) && !t->nodes[i].read_err)
			v[m++] = &t->nodes[i];
	qsort(v, m, sizeof(*v), cmp_node_inode);
	for (size_t i = 0; i < m;) {
		size_t j = i + 1;

		while (j < m && v[j]->dev == v[i]->dev && v[j]->ino == v[i]->ino)
			j++;
		for (size_t k = i; j - i > 1 && k < j; k++)
			v[k]->link_group = tl_strdup(v[i]->path);
		i = j;
	}
}

int tl_tree_snapshot(const char *root, struct tl_tree *ret)
{
	_cleanup_close_ int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct walker w = { NULL, 0, 0 };
	struct tl_node *node;
	struct stat st;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	node = walker_add(&w);
	node->path = tl_strdup(".");
	node->d_type = DT_DIR;
	node->dino_matches = true;
	fill_node(node, &st, fd, ".");
	r = walk(&w, fd, "");
	ret->nodes = w.nodes;
	ret->n = w.n;
	if (r < 0) {
		tl_tree_release(ret);
		return r;
	}
	mark_link_groups(ret);
	qsort(ret->nodes, ret->n, sizeof(*ret->nodes), cmp_node_path);
	return 0;
}

void tl_tree_release(struct tl_tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tl_node *n = &t->nodes[i];

		free(n->path);
		free(n->head);
		free(n->target);
		free(n->xattrs);
		free(n->link_group);
	}
	free(t->nodes);
	t->nodes = NULL;
	t->n = 0;
}

const struct tl_node *tl_tree_find(const struct tl_tree *t, const char *path)
{
	struct tl_node key = { .path = (char *)path };

	if (!t->n)
		return NULL;
	return bsearch(&key, t->nodes, t->n, sizeof(*t->nodes), cmp_node_path);
}

/* ---- comparison */

static const char *type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "dir";
	case S_IFLNK:
		return "symlink";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "socket";
	case S_IFCHR:
		return "chr";
	case S_IFBLK:
		return "blk";
	}
	return "?";
}

/* The fields compared, in report order. */
enum field {
	F_MODE, F_UID, F_GID, F_DTYPE, F_DINO, F_XATTRS, F_ERR,
	/* non-directories only: */
	F_SIZE, F_CONTENT, F_TARGET, F_RDEV, F_NLINK, F_LINKS, F_SPARSE,
	F_COUNT,
};
static const char *const field_names[F_COUNT] = {
	"mode", "uid", "gid", "d_type", "d_ino==st_ino", "xattrs", "read error",
	"size", "content", "symlink target", "rdev", "nlink", "hard links with", "sparse",
};

static bool field_skipped(enum field f, const struct tl_node *n, unsigned flags)
{
	if (f >= F_SIZE && S_ISDIR(n->mode))
		return true;
	if (f == F_DINO && S_ISDIR(n->mode))
		return true; /* the kernel's merged dirs: d_ino != st_ino */
	return (f == F_NLINK && (flags & TL_DIFF_NO_NLINK)) || (f == F_SPARSE && (flags & TL_DIFF_NO_SPARSE)) ||
	       (f == F_DINO && (flags & TL_DIFF_NO_DINO)) || (f == F_CONTENT && !S_ISREG(n->mode)) ||
	       (f == F_SPARSE && !S_ISREG(n->mode)) || (f == F_TARGET && !S_ISLNK(n->mode)) ||
	       (f == F_RDEV && !S_ISCHR(n->mode) && !S_ISBLK(n->mode));
}

/* The field's value as a string, for comparing and for people. */
static void field_value(struct tl_buf *b, enum field f, const struct tl_node *n)
{
	switch (f) {
	case F_MODE:
		tl_buf_printf(b, "%s %04o", type_name(n->mode), (unsigned)(n->mode & 07777));
		break;
	case F_UID:
		tl_buf_printf(b, "%u", (unsigned)n->uid);
		break;
	case F_GID:
		tl_buf_printf(b, "%u", (unsigned)n->gid);
		break;
	case F_DTYPE:
		tl_buf_printf(b, "%u", n->d_type);
		break;
	case F_DINO:
		tl_buf_printf(b, "%s", n->dino_matches ? "yes" : "no");
		break;
	case F_XATTRS:
		tl_buf_printf(b, "{%s}", n->xattrs ? n->xattrs : "");
		break;
	case F_ERR:
		tl_buf_printf(b, "%s", n->read_err ? tl_errname(n->read_err) : "none");
		break;
	case F_SIZE:
		tl_buf_printf(b, "%lld", (long long)n->size);
		break;
	case F_CONTENT:
		tl_buf_printf(b, "%016llx \"%s\"", (unsigned long long)n->hash, n->head ? n->head : "");
		break;
	case F_TARGET:
		tl_buf_printf(b, "'%s'", n->target ? n->target : "");
		break;
	case F_RDEV:
		tl_buf_printf(b, "%u:%u", major(n->rdev), minor(n->rdev));
		break;
	case F_NLINK:
		tl_buf_printf(b, "%lu", (unsigned long)n->nlink);
		break;
	case F_LINKS:
		tl_buf_printf(b, "%s", n->link_group ? n->link_group : "(none)");
		break;
	case F_SPARSE:
		tl_buf_printf(b, "%s", n->sparse ? "yes" : "no");
		break;
	case F_COUNT:
		break;
	}
}

static size_t diff_node(const struct tl_node *a, const struct tl_node *b, const char *na, const char *nb,
			unsigned flags, struct tl_buf *report)
{
	bool same_type = (a->mode & S_IFMT) == (b->mode & S_IFMT);
	size_t diffs = 0;

	for (enum field f = 0; f < F_COUNT; f++) {
		struct tl_buf va = TL_BUF_INIT, vb = TL_BUF_INIT;

		if ((f != F_MODE && !same_type) || field_skipped(f, a, flags))
			continue;
		if (f == F_DINO && (flags & TL_DIFF_DINO_IF_FIRST) && !a->dino_matches)
			continue;
		field_value(&va, f, a);
		field_value(&vb, f, b);
		if (strcmp(tl_buf_str(&va), tl_buf_str(&vb))) {
			tl_buf_printf(report, "  %s: %s: %s=%s %s=%s\n", a->path, field_names[f], na, va.s, nb, vb.s);
			diffs++;
		}
		tl_buf_release(&va);
		tl_buf_release(&vb);
	}
	if (same_type && !S_ISDIR(a->mode) && !(flags & TL_DIFF_NO_MTIME) &&
	    llabs((long long)a->mtime.tv_sec - (long long)b->mtime.tv_sec) > TL_MTIME_SLACK) {
		tl_buf_printf(report, "  %s: mtime: %s=%lld %s=%lld\n", a->path, na, (long long)a->mtime.tv_sec, nb,
			      (long long)b->mtime.tv_sec);
		diffs++;
	}
	return diffs;
}

size_t tl_tree_diff(const struct tl_tree *a, const struct tl_tree *b, const char *na, const char *nb,
		    unsigned flags, struct tl_buf *report)
{
	size_t i = 0, j = 0, diffs = 0;

	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->nodes[i].path, b->nodes[j].path);

		if (c < 0) {
			tl_buf_printf(report, "  %s: only in %s (%s)\n", a->nodes[i].path, na,
				      type_name(a->nodes[i].mode));
			i++;
			diffs++;
		} else if (c > 0) {
			tl_buf_printf(report, "  %s: only in %s (%s)\n", b->nodes[j].path, nb,
				      type_name(b->nodes[j].mode));
			j++;
			diffs++;
		} else {
			diffs += diff_node(&a->nodes[i++], &b->nodes[j++], na, nb, flags, report);
		}
	}
	return diffs;
}
