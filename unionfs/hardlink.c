/*
 * unionfs/hardlink.c: keeping hard links one file across copy-up.
 *
 * The kernel's overlayfs breaks a lower hard link at copy-up unless it runs
 * with index=on, and fuse-overlayfs 1.10 even stores the new data under the
 * wrong name. lamina gives the answer of index=on while writing nothing the
 * kernel without index cannot read: when a lower file with st_nlink > 1 is
 * copied up, its other names in the same layer that the merged view shows
 * are linked to the upper copy at once; the names it hides still count in
 * st_nlink (recorded with the origin, ino.c), as with index=on. The names
 * are found by walking the
 * layer (only the first time such a file is copied up, and stopping once all
 * st_nlink names are known), which is rare enough not to index in advance.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "unionfs/unionfs.h"

#define MAX_DEPTH 128

struct hl_search {
	dev_t dev;
	ino_t ino;
	nlink_t want;    /* names still to find */
	char **paths;
	size_t n;
};

static int hl_add(struct hl_search *s, const char *path)
{
	char **p = realloc(s->paths, (s->n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->paths = p;
	s->paths[s->n] = strdup(path);
	if (!s->paths[s->n])
		return -ENOMEM;
	s->n++;
	s->want--;
	return 0;
}

static int hl_walk(struct hl_search *s, int dfd, char *path, size_t len, int depth)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	struct dirent *de;
	while (s->want > 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		size_t nl = strlen(de->d_name);
		if (len + nl + 2 >= PATH_MAX)
			continue;
		if (len)
			path[len] = '/';
		memcpy(path + len + (len ? 1 : 0), de->d_name, nl + 1);
		size_t sublen = len + (len ? 1 : 0) + nl;
		int r = 0;
		if (de->d_type == DT_DIR && depth < MAX_DEPTH) {
			_cleanup_close_ int sub = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				r = hl_walk(s, sub, path, sublen, depth + 1);
		} else if (de->d_type == DT_REG || de->d_type == DT_UNKNOWN) {
			struct stat st;
			if (de->d_ino == s->ino && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    st.st_ino == s->ino && st.st_dev == s->dev)
				r = hl_add(s, path);
		}
		path[len] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

/* Resolves the parent of path through the merged view and returns it (with
 * a ref) if the last component shows the object ino from layer; else NULL. */
static struct ufs_node *visible_parent(struct ufs *ufs, char *path, int layer, uint64_t ino, char **ret_name)
{
	struct ufs_node *cur = ufs->root;
	ufs_node_ref(ufs, cur);
	char *save = NULL;
	char *comp = strtok_r(path, "/", &save);
	while (comp) {
		char *next_comp = strtok_r(NULL, "/", &save);
		struct ufs_found f;
		if (ufs_lookup_name(ufs, cur, comp, &f) < 0)
			break;
		if (!next_comp) {
			if (f.layer != layer || f.st.st_ino != ino)
				break;
			*ret_name = comp;
			return cur;
		}
		struct ufs_node *next = S_ISDIR(f.st.st_mode) ? ufs_node_get_or_create(ufs, cur, comp, &f, false) : NULL;
		ufs_node_unref(ufs, cur);
		if (!next)
			return NULL;
		cur = next;
		comp = next_comp;
	}
	ufs_node_unref(ufs, cur);
	return NULL;
}

/* Links the upper copy of node under the name of alias (a node naming the
 * same object through another path), copying its parents up first. */
static int link_alias(struct ufs *ufs, struct ufs_node *node, struct ufs_node *alias_parent, const char *name)
{
	int r = ufs_copy_up(ufs, alias_parent);
	if (r < 0)
		return r;
	_cleanup_free_ char *src_name = NULL;
	_cleanup_close_ int src_pfd = ufs_node_open_parent(ufs, node, 0, &src_name);
	if (src_pfd < 0)
		return src_pfd;
	_cleanup_close_ int dst_pfd = ufs_dir_open_layer(ufs, alias_parent, 0);
	if (dst_pfd < 0)
		return dst_pfd;
	if (linkat(src_pfd, src_name, dst_pfd, name, 0) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The names the merged view hides still count in st_nlink, as with the
 * kernel's index=on: recorded with the origin (ino.c). */
static int record_hidden_names(struct ufs *ufs, struct ufs_node *node, unsigned hidden)
{
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int pfd = ufs_node_open_parent(ufs, node, 0, &name);
	if (pfd < 0)
		return pfd;
	struct ufs_origin o = { .ino = node->ino, .nlink_extra = hidden };
	int r = ufs_origin_write(ufs, pfd, name, &o);
	if (r < 0)
		return r;
	pthread_rwlock_wrlock(&ufs->tree_lock);
	node->nlink_extra = hidden;
	pthread_rwlock_unlock(&ufs->tree_lock);
	return 0;
}

int ufs_hardlinks_copy_up(struct ufs *ufs, struct ufs_node *node, int layer, const struct stat *st)
{
	struct hl_search s = { .dev = st->st_dev, .ino = st->st_ino, .want = st->st_nlink };
	char path[PATH_MAX] = "";
	int r = hl_walk(&s, ufs->layers[layer].fd, path, 0, 0);
	_cleanup_free_ char *mine = NULL;
	if (r >= 0)
		r = ufs_node_path(ufs, node, &mine);
	nlink_t linked = 1; /* node's own name */
	for (size_t i = 0; i < s.n; i++) {
		char *name;
		struct ufs_node *parent;
		if (r >= 0 && strcmp(s.paths[i], mine) != 0 &&
		    (parent = visible_parent(ufs, s.paths[i], layer, node->ino, &name))) {
			r = link_alias(ufs, node, parent, name);
			ufs_node_unref(ufs, parent);
			linked += r >= 0;
		}
		free(s.paths[i]);
	}
	if (r >= 0 && linked < st->st_nlink)
		r = record_hidden_names(ufs, node, st->st_nlink - linked);
	free(s.paths);
	if (r < 0)
		log_debug("hard links of inode %llu: %s", (unsigned long long)st->st_ino, strerror(-r));
	return r;
}
