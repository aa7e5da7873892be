/*
 * unionfs/ops-remove.c: FUSE adapters for unlink and rmdir. As overlayfs:
 * an object that exists only in the upper layer is removed; one that a lower
 * layer still has is replaced by a whiteout, atomically where the upper file
 * system allows (RENAME_WHITEOUT); rmdir checks that the merged view of the
 * directory is empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsops.h"
#include "common/path.h"
#include "unionfs/ops.h"

/* Moves the upper entry name out of the way into the workdir, leaving a
 * whiteout behind if wanted, and deletes it there. */
int ufs_remove_upper(struct ufs *ufs, int upfd, const char *name, bool is_dir, bool whiteout)
{
	if (!is_dir && !whiteout)
		return unlinkat(upfd, name, 0) < 0 ? -errno : 0;
	if (whiteout && !ufs->whiteout_mknod) {
		/* ".wh." form: the marker first; the entry of its own layer
		 * still wins until it is gone, so the view never flickers */
		int r = ufs_whiteout_create(ufs, upfd, name);
		if (r < 0)
			return r;
		whiteout = false;
	}
	char tmp[64];
	ufs_tmp_name(ufs, tmp, sizeof(tmp));
	if (renameat2(upfd, name, ufs->work_fd, tmp, whiteout ? RENAME_WHITEOUT : 0) < 0)
		return -errno;
	/* a directory may hold whiteouts of its own */
	return lm_rm_rf_at(ufs->work_fd, tmp);
}

int ufs_remove_entry(struct ufs *ufs, struct ufs_node *dir, const char *name, const struct ufs_found *found)
{
	_cleanup_close_ int upfd = ufs_copy_up_open_dir(ufs, dir);
	if (upfd < 0)
		return upfd;
	if (found->layer > 0)
		return ufs_whiteout_create(ufs, upfd, name);
	int below = ufs_lower_has(ufs, dir, name, 0);
	if (below < 0)
		return below;
	return ufs_remove_upper(ufs, upfd, name, S_ISDIR(found->st.st_mode), below);
}

int ufs_copy_up_if_linked(struct ufs *ufs, struct ufs_node *dir, const char *name, struct ufs_found *found)
{
	if (found->layer == 0 || !S_ISREG(found->st.st_mode) || found->st.st_nlink < 2)
		return 0;
	struct ufs_node *node = ufs_node_get_or_create(ufs, dir, name, found, false);
	if (!node)
		return -ENOMEM;
	int r = ufs_copy_up(ufs, node);
	ufs_node_unref(ufs, node);
	return r < 0 ? r : ufs_lookup_name(ufs, dir, name, found);
}

/* The node of a found object, if the kernel knows it, gets its name removed. */
static void forget_name(struct ufs *ufs, struct ufs_node *dir, const char *name, const struct ufs_found *found)
{
	struct ufs_node *node = ufs_node_find(ufs, found->st.st_ino);
	if (!node)
		return;
	ufs_node_name_removed(ufs, node, dir, name);
	ufs_node_unref(ufs, node);
}

static int do_remove(struct ufs *ufs, struct ufs_node *dir, const char *name, bool want_dir)
{
	int r = lm_name_check(name);
	if (r < 0)
		return r;
	if (ufs_upper(ufs) < 0)
		return -EROFS;
	struct ufs_found found;
	r = ufs_lookup_name(ufs, dir, name, &found);
	if (r < 0)
		return r;
	bool is_dir = S_ISDIR(found.st.st_mode);
	if (want_dir && !is_dir)
		return -ENOTDIR;
	if (!want_dir && is_dir)
		return -EISDIR;
	r = ufs_copy_up_if_linked(ufs, dir, name, &found);
	if (r < 0)
		return r;
	if (is_dir) {
		struct ufs_node *node = ufs_node_get_or_create(ufs, dir, name, &found, false);
		if (!node)
			return -ENOMEM;
		r = ufs_dir_is_empty(ufs, node);
		ufs_node_unref(ufs, node);
		if (r < 0)
			return r;
		if (!r)
			return -ENOTEMPTY;
	}
	r = ufs_remove_entry(ufs, dir, name, &found);
	if (r < 0)
		return r;
	forget_name(ufs, dir, name, &found);
	return 0;
}

void ufs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ufs *ufs = ufs_of(req);
	fuse_reply_err(req, -do_remove(ufs, ufs_node_of(ufs, parent), name, false));
}

void ufs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ufs *ufs = ufs_of(req);
	fuse_reply_err(req, -do_remove(ufs, ufs_node_of(ufs, parent), name, true));
}
