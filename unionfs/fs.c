/*
 * unionfs/fs.c: one union's layers: checking and opening the directories the
 * configuration names, probing what the upper file system allows, and
 * clearing the workdir. Lookups and copy-up are elsewhere.
 */
#define pr_fmt(fmt) "unionfs: " fmt

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fsops.h"
#include "common/log.h"
#include "unionfs/unionfs.h"

static int open_layer(struct ufs_layer *layer, const char *path, int index, const char *what,
		      struct lm_error *err)
{
	struct stat st;
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return lm_err(err, -errno, "%s '%s'", what, path);
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return lm_err(err, r, "%s '%s'", what, path);
	}
	layer->fd = fd;
	layer->dev = st.st_dev;
	layer->index = index;
	layer->path = strdup(path);
	if (!layer->path)
		return lm_err(err, -ENOMEM, "%s '%s'", what, path);
	return 0;
}

/* Whether a 0/0 character device can be made in the workdir: then whiteouts
 * take the kernel's form, else the ".wh.NAME" form (rootless). */
static bool probe_mknod(struct ufs *ufs)
{
	if (getenv("FUSE_OVERLAYFS_DISABLE_OVL_WHITEOUT") || getenv("LAMINA_DISABLE_OVL_WHITEOUT"))
		return false;
	char name[64];
	ufs_tmp_name(ufs, name, sizeof(name));
	if (mknodat(ufs->work_fd, name, S_IFCHR | 0, makedev(0, 0)) < 0)
		return false;
	unlinkat(ufs->work_fd, name, 0);
	return true;
}

static void set_xattr_prefix(struct ufs *ufs, const char *prefix)
{
	ufs->xattr_prefix = prefix;
	snprintf(ufs->xattr_opaque, sizeof(ufs->xattr_opaque), "%sopaque", prefix);
	snprintf(ufs->xattr_origin, sizeof(ufs->xattr_origin), "%slamina.ino", prefix);
}

/* trusted.* xattrs need CAP_SYS_ADMIN; without it the markers use user.*,
 * as the kernel's userxattr option does. */
static void probe_xattr_namespace(struct ufs *ufs)
{
	char name[64];
	ufs_tmp_name(ufs, name, sizeof(name));
	set_xattr_prefix(ufs, "user.overlay.");
	if (mkdirat(ufs->work_fd, name, 0700) < 0)
		return;
	char path[128];
	ufs_proc_path(path, sizeof(path), ufs->work_fd, name);
	if (lsetxattr(path, "trusted.overlay.lamina.probe", "y", 1, 0) == 0)
		set_xattr_prefix(ufs, "trusted.overlay.");
	unlinkat(ufs->work_fd, name, AT_REMOVEDIR);
}

static int open_workdir(struct ufs *ufs, const char *work, struct lm_error *err)
{
	_cleanup_close_ int wfd = open(work, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (wfd < 0)
		return lm_err(err, -errno, "workdir '%s'", work);
	struct stat wst;
	if (fstat(wfd, &wst) < 0)
		return lm_err(err, -errno, "workdir '%s'", work);
	if (wst.st_dev != ufs->layers[0].dev)
		return lm_err_plain(err, -EXDEV, "workdir '%s': not on the file system of upperdir '%s'", work,
				    ufs->layers[0].path);
	/* As the kernel and fuse-overlayfs: our own "work" folder inside it. */
	if (mkdirat(wfd, "work", 0700) < 0 && errno != EEXIST)
		return lm_err(err, -errno, "workdir '%s': cannot create 'work'", work);
	ufs->work_fd = openat(wfd, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ufs->work_fd < 0)
		return lm_err(err, -errno, "workdir '%s/work'", work);
	int r = ufs_work_purge(ufs);
	if (r < 0)
		return lm_err(err, r, "workdir '%s/work': cannot clear leftovers", work);
	return 0;
}

static int make_root(struct ufs *ufs)
{
	struct ufs_found f = { .layer = ufs->first_layer, .last_layer = ufs->nlayers - 1 };
	int top = ufs->layers[ufs->first_layer].fd;
	if (fstatat(top, "", &f.st, AT_EMPTY_PATH) < 0)
		return -errno;
	f.merged = ufs->nlayers - ufs->first_layer > 1;
	f.st.st_ino = ufs_ino_map(ufs, ufs->first_layer, &f.st);
	ufs->root = ufs_node_get_or_create(ufs, NULL, "", &f, true);
	return ufs->root ? 0 : -ENOMEM;
}

int ufs_open(const struct lamina_union_config *config, struct ufs **ret, struct lm_error *err)
{
	struct ufs *ufs = calloc(1, sizeof(*ufs));
	if (!ufs)
		return lm_err(err, -ENOMEM, "union");
	ufs->work_fd = -1;
	ufs->nlayers = 1 + config->nlowers;
	ufs->layers = calloc(ufs->nlayers, sizeof(*ufs->layers));
	pthread_rwlock_init(&ufs->tree_lock, NULL);
	pthread_mutex_init(&ufs->nodes_lock, NULL);
	pthread_mutex_init(&ufs->whiteout_lock, NULL);
	ufs_handles_init(ufs);
	ufs->fsync = config->fsync;
	ufs->writeback = config->writeback && config->upper;
	ufs->uring_allowed = config->uring;
	ufs->dir_readahead = config->dir_readahead;
	ufs->dir_refresh = config->dir_refresh;
	ufs->timeout = config->timeout;
	ufs->debug = config->debug;
	set_xattr_prefix(ufs, "trusted.overlay.");
	int r = ufs->layers ? 0 : lm_err(err, -ENOMEM, "union");
	if (r < 0)
		goto fail;
	ufs->layers[0].fd = -1;
	ufs->first_layer = config->upper ? 0 : 1;
	if (config->upper) {
		r = open_layer(&ufs->layers[0], config->upper, 0, "upperdir", err);
		if (r >= 0)
			r = open_workdir(ufs, config->work, err);
		if (r < 0)
			goto fail;
	}
	ufs->same_dev = true;
	for (int i = 1; i < ufs->nlayers; i++) {
		r = open_layer(&ufs->layers[i], config->lowers[i - 1], i, "lowerdir", err);
		if (r < 0)
			goto fail;
		if (ufs->layers[i].dev != ufs->layers[ufs->first_layer].dev)
			ufs->same_dev = false;
	}
	if (config->upper) {
		ufs->whiteout_mknod = probe_mknod(ufs);
		probe_xattr_namespace(ufs);
	}
	/* half the fd allowance for directories' kept fds, the rest for the
	 * files that are open through the mount */
	struct rlimit rl;
	ufs->max_cached_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
				      ? (int)(rl.rlim_cur / 2)
				      : 4096;
	r = ufs_node_table_init(ufs);
	if (r >= 0)
		r = make_root(ufs);
	if (r < 0) {
		lm_err(err, r, "union: root directory");
		goto fail;
	}
	*ret = ufs;
	return 0;
fail:
	ufs_close(ufs);
	return r;
}

struct ufs *ufs_close(struct ufs *ufs)
{
	if (!ufs)
		return NULL;
	ufs_refresh_stop(ufs);
	ufs_dirahead_stop(ufs); /* it reads the layers */
	ufs_handles_free_all(ufs); /* before the nodes they refer to */
	ufs_node_table_free(ufs);
	for (int i = 0; ufs->layers && i < ufs->nlayers; i++) {
		if (ufs->layers[i].path) {
			lm_close(ufs->layers[i].fd);
			free(ufs->layers[i].path);
		}
	}
	free(ufs->layers);
	lm_close(ufs->work_fd);
	pthread_rwlock_destroy(&ufs->tree_lock);
	pthread_mutex_destroy(&ufs->nodes_lock);
	pthread_mutex_destroy(&ufs->whiteout_lock);
	free(ufs);
	return NULL;
}
