/*
 * unionfs/ops-rename.c: the FUSE rename adapter, with RENAME_NOREPLACE and
 * RENAME_EXCHANGE. As overlayfs without redirect_dir: a directory that has
 * parts in a lower layer cannot move (EXDEV; tools fall back to copying); a
 * lower file is copied up and moved; the old name gets a whiteout where a
 * lower layer still has it; a directory moved into a merged parent is made
 * opaque, so that a same-named lower directory can never merge into it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/path.h"
#include "unionfs/ops.h"

struct rename_ctx {
	struct ufs *ufs;
	struct ufs_node *odir, *ndir;
	const char *oname, *nname;
	unsigned flags;
	struct ufs_found fo, fn;
	bool new_exists;
	bool old_is_dir;
	struct ufs_node *onode; /* holds a ref */
	struct ufs_node *nnode; /* exchange only; holds a ref */
	int uo, un;             /* upper parents */
};

static bool has_lower_parts(const struct ufs_found *f)
{
	return f->layer > 0 || (S_ISDIR(f->st.st_mode) && f->merged);
}

static bool dir_is_merged(struct ufs *ufs, struct ufs_node *dir)
{
	pthread_rwlock_rdlock(&ufs->tree_lock);
	bool merged = dir->merged || dir->last_layer > 0;
	pthread_rwlock_unlock(&ufs->tree_lock);
	return merged;
}

/* The checks the kernel's overlayfs makes before touching anything. */
static int rename_check(struct rename_ctx *c)
{
	struct ufs *ufs = c->ufs;
	int r = lm_name_check(c->oname);
	if (r >= 0)
		r = lm_name_check(c->nname);
	if (r < 0)
		return r;
	if (c->flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (ufs_name_is_private(c->nname))
		return -EINVAL;
	if (ufs_upper(ufs) < 0)
		return -EROFS;
	r = ufs_lookup_name(ufs, c->odir, c->oname, &c->fo);
	if (r < 0)
		return r;
	r = ufs_lookup_name(ufs, c->ndir, c->nname, &c->fn);
	if (r < 0 && r != -ENOENT)
		return r;
	c->new_exists = r == 0;
	c->old_is_dir = S_ISDIR(c->fo.st.st_mode);
	if ((c->flags & RENAME_NOREPLACE) && c->new_exists)
		return -EEXIST;
	if ((c->flags & RENAME_EXCHANGE) && !c->new_exists)
		return -ENOENT;
	if (c->new_exists && !(c->flags & RENAME_EXCHANGE)) {
		bool new_is_dir = S_ISDIR(c->fn.st.st_mode);
		if (new_is_dir && !c->old_is_dir)
			return -EISDIR;
		if (!new_is_dir && c->old_is_dir)
			return -ENOTDIR;
	}
	if (c->old_is_dir && has_lower_parts(&c->fo))
		return -EXDEV;
	if ((c->flags & RENAME_EXCHANGE) && S_ISDIR(c->fn.st.st_mode) && has_lower_parts(&c->fn))
		return -EXDEV;
	return 0;
}

static int check_target_empty(struct rename_ctx *c)
{
	if (!c->new_exists || (c->flags & RENAME_EXCHANGE) || !S_ISDIR(c->fn.st.st_mode))
		return 0;
	struct ufs_node *t = ufs_node_get_or_create(c->ufs, c->ndir, c->nname, &c->fn, false);
	if (!t)
		return -ENOMEM;
	int r = ufs_dir_is_empty(c->ufs, t);
	ufs_node_unref(c->ufs, t);
	return r < 0 ? r : r ? 0 : -ENOTEMPTY;
}

/* Copies up what must be in the upper layer and opens the upper parents. */
static int rename_prepare(struct rename_ctx *c)
{
	struct ufs *ufs = c->ufs;
	c->onode = ufs_node_get_or_create(ufs, c->odir, c->oname, &c->fo, false);
	if (!c->onode)
		return -ENOMEM;
	int r = ufs_copy_up(ufs, c->onode);
	if (r >= 0 && (c->flags & RENAME_EXCHANGE)) {
		c->nnode = ufs_node_get_or_create(ufs, c->ndir, c->nname, &c->fn, false);
		r = c->nnode ? ufs_copy_up(ufs, c->nnode) : -ENOMEM;
	}
	if (r < 0)
		return r;
	c->uo = ufs_copy_up_open_dir(ufs, c->odir);
	if (c->uo < 0)
		return c->uo;
	c->un = ufs_copy_up_open_dir(ufs, c->ndir);
	return c->un < 0 ? c->un : 0;
}

static int rename_exchange(struct rename_ctx *c)
{
	struct ufs *ufs = c->ufs;
	if (renameat2(c->uo, c->oname, c->un, c->nname, RENAME_EXCHANGE) < 0)
		return -errno;
	int r = 0;
	/* as overlayfs, also within one directory: the other name may have
	 * had lower parts */
	if (c->old_is_dir && dir_is_merged(ufs, c->ndir))
		r = ufs_set_opaque(ufs, c->un, c->nname);
	if (r >= 0 && S_ISDIR(c->fn.st.st_mode) && dir_is_merged(ufs, c->odir))
		r = ufs_set_opaque(ufs, c->uo, c->oname);
	if (r < 0)
		return r;
	/* swap the nodes' names; a temporary name keeps the aliases apart */
	ufs_node_name_moved(ufs, c->onode, c->odir, c->oname, c->ndir, "\001exchange");
	ufs_node_name_moved(ufs, c->nnode, c->ndir, c->nname, c->odir, c->oname);
	ufs_node_name_moved(ufs, c->onode, c->ndir, "\001exchange", c->ndir, c->nname);
	return 0;
}

/* A plain rename in the upper layer once everything is there. */
static int rename_move(struct rename_ctx *c, bool need_wh_old)
{
	struct ufs *ufs = c->ufs;
	struct stat tst;
	bool target_upper = fstatat(c->un, c->nname, &tst, AT_SYMLINK_NOFOLLOW) == 0;
	bool target_whiteout = target_upper && ufs_is_whiteout_stat(&tst);
	int marker = target_upper ? 0 : ufs_has_wh_marker(c->un, c->nname);
	if (marker < 0)
		return marker;
	int r = 0;

	if (c->old_is_dir && dir_is_merged(ufs, c->ndir))
		r = ufs_set_opaque(ufs, c->uo, c->oname);
	if (r < 0)
		return r;
	if (c->old_is_dir && target_upper) {
		/* A directory cannot replace a whiteout or a directory that
		 * still holds whiteouts: swap, then clear the old name. */
		if (renameat2(c->uo, c->oname, c->un, c->nname, RENAME_EXCHANGE) < 0)
			return -errno;
		if (target_whiteout)
			return need_wh_old ? 0 : (unlinkat(c->uo, c->oname, 0) < 0 ? -errno : 0);
		return ufs_remove_upper(ufs, c->uo, c->oname, true, need_wh_old);
	}
	unsigned flags = 0;
	if (need_wh_old && ufs->whiteout_mknod)
		flags = RENAME_WHITEOUT;
	else if (need_wh_old && (r = ufs_whiteout_create(ufs, c->uo, c->oname)) < 0)
		return r;
	if (renameat2(c->uo, c->oname, c->un, c->nname, flags) < 0)
		return -errno;
	return marker ? ufs_remove_wh_marker(c->un, c->nname) : 0;
}

static int do_rename(struct rename_ctx *c)
{
	struct ufs *ufs = c->ufs;
	int r = rename_check(c);
	if (r < 0)
		return r;
	if (c->new_exists && c->fo.st.st_ino == c->fn.st.st_ino && !c->old_is_dir)
		return 0; /* two names of one file: rename(2) does nothing */
	r = check_target_empty(c);
	if (r >= 0 && c->new_exists && !(c->flags & RENAME_EXCHANGE))
		r = ufs_copy_up_if_linked(ufs, c->ndir, c->nname, &c->fn);
	if (r < 0)
		return r;
	int below_old = c->fo.layer > 0 ? 1 : ufs_lower_has(ufs, c->odir, c->oname, 0);
	if (below_old < 0)
		return below_old;
	r = rename_prepare(c);
	if (r < 0)
		return r;
	if (c->flags & RENAME_EXCHANGE)
		return rename_exchange(c);
	r = rename_move(c, below_old);
	if (r < 0)
		return r;
	if (c->new_exists) {
		struct ufs_node *t = ufs_node_find(ufs, c->fn.st.st_ino);
		if (t) {
			ufs_node_name_removed(ufs, t, c->ndir, c->nname);
			ufs_node_unref(ufs, t);
		}
	}
	return ufs_node_name_moved(ufs, c->onode, c->odir, c->oname, c->ndir, c->nname);
}

void ufs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		   const char *newname, unsigned int flags)
{
	struct ufs *ufs = ufs_of(req);
	struct rename_ctx c = {
		.ufs = ufs,
		.odir = ufs_node_of(ufs, parent),
		.ndir = ufs_node_of(ufs, newparent),
		.oname = name,
		.nname = newname,
		.flags = flags,
		.uo = -1,
		.un = -1,
	};
	int r = do_rename(&c);
	if (c.onode)
		ufs_node_unref(ufs, c.onode);
	if (c.nnode)
		ufs_node_unref(ufs, c.nnode);
	lm_close(c.uo);
	lm_close(c.un);
	fuse_reply_err(req, -r);
}
