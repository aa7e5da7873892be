/*
 * unionfs/ops-dir.c: FUSE adapters for open directories. The merged listing
 * is built when reading starts (offset 0) and kept for the handle, as
 * overlayfs caches it per open file; offsets are positions in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fsops.h"
#include "unionfs/ops.h"

static void dirhandle_free(struct ufs *ufs, struct ufs_handle *h);

/* The handle readdir serves from: the open's own, or, where the kernel
 * sends no opendir (no_opendir), one kept by the directory node itself. */
static struct ufs_dirhandle *dirhandle_of(struct ufs *ufs, struct ufs_node *dir, struct fuse_file_info *fi)
{
	if (fi && fi->fh)
		return (struct ufs_dirhandle *)(uintptr_t)fi->fh;
	struct ufs_handle *h = atomic_load(&dir->dir_handle);
	if (h)
		return (struct ufs_dirhandle *)h;
	struct ufs_dirhandle *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	pthread_mutex_init(&d->lock, NULL);
	d->h.free_fn = dirhandle_free;
	struct ufs_handle *expected = NULL;
	if (!atomic_compare_exchange_strong(&dir->dir_handle, &expected, &d->h)) {
		dirhandle_free(ufs, &d->h);
		return (struct ufs_dirhandle *)expected;
	}
	return d;
}

static void dirhandle_free(struct ufs *ufs, struct ufs_handle *h)
{
	struct ufs_dirhandle *d = (struct ufs_dirhandle *)h;
	ufs_dir_listing_free(&d->listing);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void ufs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs *ufs = ufs_of(req);
	if (ufs->no_opendir) {
		/* from now on the kernel opens directories itself and keeps
		 * their listings (FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR): no
		 * opendir and releasedir round trip per directory of a walk */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	struct ufs_dirhandle *d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&d->lock, NULL);
	ufs_handle_track(ufs, &d->h, dirhandle_free);
	fi->fh = (uintptr_t)d;
	/* The kernel may keep the listing, also from one open to the next:
	 * it drops it itself when an operation through the mount changes the
	 * directory (copy-up changes no listing). */
	fi->cache_readdir = ufs->timeout > 0;
	fi->keep_cache = ufs->timeout > 0;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		ufs_handle_untrack(ufs, &d->h);
		dirhandle_free(ufs, &d->h);
	}
}

/* The inode number of ".." (the root's parent is the root). */
static uint64_t parent_ino(struct ufs *ufs, struct ufs_node *dir)
{
	pthread_rwlock_rdlock(&ufs->tree_lock);
	uint64_t ino = dir->parent ? dir->parent->ino : dir->ino;
	pthread_rwlock_unlock(&ufs->tree_lock);
	return ino;
}

/* What readdirplus tells about an entry: the lookup's answer. Non-
 * directories come from the listing as they are (the topmost object of a
 * name is what lookup finds); directories need their merge worked out. */
static int entry_found(struct ufs *ufs, struct ufs_node *dir, const struct ufs_dirent *e, struct ufs_found *ret)
{
	if (S_ISDIR(e->st.st_mode))
		return ufs_lookup_name(ufs, dir, e->name, ret);
	*ret = (struct ufs_found){
		.layer = e->layer,
		.last_layer = e->layer,
		.nlink_extra = e->nlink_extra,
		.st = e->st,
	};
	return 0;
}

/* Adds the entry at position i (0 ".", 1 "..", then the listing) to buf;
 * returns the size it takes, more than room when it did not fit. With
 * plus, the entry's node gets the kernel's reference, undone if it did not
 * fit. */
static size_t add_entry(fuse_req_t req, struct ufs *ufs, struct ufs_node *dir, struct ufs_dirhandle *d, bool plus,
			off_t i, char *buf, size_t room)
{
	struct fuse_entry_param ep = { .attr_timeout = ufs->timeout, .entry_timeout = ufs->timeout };
	const char *name;
	struct ufs_node *node = NULL;
	if (i < 2) {
		name = i == 0 ? "." : "..";
		ep.attr.st_ino = i == 0 ? dir->ino : parent_ino(ufs, dir);
		ep.attr.st_mode = S_IFDIR;
	} else {
		const struct ufs_dirent *e = &d->listing.entries[i - 2];
		struct ufs_found f;
		name = e->name;
		ep.attr.st_ino = e->st.st_ino;
		ep.attr.st_mode = e->st.st_mode & S_IFMT;
		if (plus && entry_found(ufs, dir, e, &f) == 0 &&
		    (node = ufs_node_get_or_create(ufs, dir, name, &f, true))) {
			ep.ino = ufs_nodeid(ufs, node);
			ep.attr = f.st;
		}
	}
	if (!plus)
		return fuse_add_direntry(req, buf, room, name, &ep.attr, i + 1);
	size_t n = fuse_add_direntry_plus(req, buf, room, name, &ep, i + 1);
	if (n > room && node)
		ufs_node_forget(ufs, node, 1);
	return n;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi, bool plus)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_node *dir = ufs_node_of(ufs, ino);
	struct ufs_dirhandle *d = dirhandle_of(ufs, dir, fi);
	_cleanup_free_ char *buf = malloc(size);
	if (!buf || !d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (off == 0 || !d->listed) {
		/* Built when reading starts, not at opendir: the kernel may have
		 * served this open from its cache until now, while the directory
		 * changed (as overlayfs builds its cache at the first iterate). */
		struct ufs_dir_listing fresh;
		int r = ufs_dir_list(ufs, dir, &fresh);
		if (r < 0) {
			pthread_mutex_unlock(&d->lock);
			fuse_reply_err(req, -r);
			return;
		}
		ufs_dir_listing_free(&d->listing);
		d->listing = fresh;
		d->listed = true;
		if (off == 0)
			ufs_dirahead_listed(ufs, dir, &d->listing);
	}
	size_t used = 0;
	for (off_t i = off; i < (off_t)d->listing.n + 2; i++) {
		size_t n = add_entry(req, ufs, dir, d, plus, i, buf + used, size - used);
		if (n > size - used)
			break;
		used += n;
	}
	if (used == 0 && !(fi && fi->fh)) {
		/* the end, on a directory's own handle: the kernel has the
		 * listing now, ours would only hold memory until the next read */
		ufs_dir_listing_free(&d->listing);
		d->listed = false;
	}
	pthread_mutex_unlock(&d->lock);
	fuse_reply_buf(req, buf, used);
	/* the kernel drops the directory's attributes on its way back */
	if (used == 0)
		ufs_refresh_listed(ufs, dir);
}

void ufs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

/* readdir with each entry's lookup: a walk that stats everything (find,
 * ls -l, tar) needs no lookup request per entry. */
void ufs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

void ufs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_dirhandle *d = (struct ufs_dirhandle *)(uintptr_t)fi->fh;
	ufs_handle_untrack(ufs, &d->h);
	dirhandle_free(ufs, &d->h);
	fuse_reply_err(req, 0);
}

void ufs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_node *dir = ufs_node_of(ufs, ino);
	if (!ufs->fsync || atomic_load(&dir->layer) != 0) {
		fuse_reply_err(req, 0); /* nothing of it is in the writable layer */
		return;
	}
	_cleanup_close_ int fd = ufs_node_open(ufs, dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	fuse_reply_err(req, fsync(fd) < 0 ? errno : 0);
}
