/*
 * unionfs/ops-file.c: FUSE adapters for open files: open, read, write,
 * flush, release, fsync, fallocate, lseek, copy_file_range. Opening for
 * writing (or with O_TRUNC) copies the file up first, as overlayfs does.
 * Data moves between the kernel and the branch fd without a copy in the
 * daemon where the kernel allows (fuse_reply_data with an fd buffer).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "unionfs/ops.h"

static void file_free(struct ufs *ufs, struct ufs_handle *h)
{
	struct ufs_file *f = (struct ufs_file *)h;
	lm_close(f->fd);
	ufs_node_file_closed(ufs, f->node);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

struct ufs_file *ufs_file_new(struct ufs *ufs, struct ufs_node *node, int fd, int layer, int flags)
{
	struct ufs_file *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->fd = fd;
	f->layer = layer;
	f->flags = flags;
	f->node = node;
	pthread_mutex_init(&f->lock, NULL);
	ufs_node_file_opened(ufs, node, fd);
	ufs_handle_track(ufs, &f->h, file_free);
	return f;
}

void ufs_op_release_file(struct ufs *ufs, struct ufs_file *f)
{
	if (!f)
		return;
	ufs_handle_untrack(ufs, &f->h);
	file_free(ufs, &f->h);
}

int ufs_branch_open_flags(const struct ufs *ufs, int flags)
{
	flags = (flags & ~(O_CREAT | O_EXCL | O_NOCTTY)) | O_NOFOLLOW | O_CLOEXEC;
	if (ufs->writeback) {
		/* the kernel writes back whole pages, which it may have to read
		 * first, and places appends itself */
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags;
}

/* The node's upper object, opened anew: by name, or for a removed node
 * through its unnamed copy (only /proc can reopen an fd with other flags). */
static int reopen_upper(struct ufs *ufs, struct ufs_node *node, int flags)
{
	pthread_rwlock_rdlock(&ufs->tree_lock);
	bool removed = node->removed;
	pthread_rwlock_unlock(&ufs->tree_lock);
	if (!removed)
		return ufs_node_open(ufs, node, flags);
	int kept = ufs_node_kept_fd(ufs, node);
	if (kept < 0)
		return kept;
	char path[64];
	ufs_proc_path(path, sizeof(path), kept, NULL);
	int fd = open(path, flags & ~O_NOFOLLOW);
	int r = fd < 0 ? -errno : fd;
	close(kept);
	return r;
}

int ufs_file_fd(struct ufs *ufs, struct ufs_file *f)
{
	pthread_mutex_lock(&f->lock);
	int node_layer = atomic_load(&f->node->layer);
	if (node_layer < f->layer) {
		/* copied up since it was opened: follow the data upwards */
		int fd = reopen_upper(ufs, f->node, ufs_branch_open_flags(ufs, f->flags & ~O_TRUNC));
		if (fd >= 0) {
			lm_close(f->fd);
			f->fd = fd;
			f->layer = node_layer;
		}
	}
	int fd = f->fd;
	pthread_mutex_unlock(&f->lock);
	return fd;
}

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

void ufs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ufs *ufs = ufs_of(req);
	struct ufs_node *node = ufs_node_of(ufs, ino);
	int r = 0;
	if (wants_write(fi->flags))
		r = ufs_copy_up(ufs, node);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	int layer = atomic_load(&node->layer);
	int fd = ufs_node_open(ufs, node, ufs_branch_open_flags(ufs, fi->flags));
	if (fd >= 0 && (fi->flags & O_TRUNC) && ufs_request_kills_suidgid()) {
		r = ufs_kill_suidgid_fd(fd);
		if (r < 0) {
			close(fd);
			fd = r;
		}
	}
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	struct ufs_file *f = ufs_file_new(ufs, node, fd, layer, fi->flags);
	if (!f) {
		close(fd);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)f;
	/* The data can only change through this mount, which keeps the
	 * kernel's page cache right (writes go through it, truncation
	 * invalidates it); copy-up copies the same bytes. */
	fi->keep_cache = ufs->timeout > 0;
	/* No FLUSH at each close: locks are the kernel's own, and the
	 * branches are local file systems that need no flush */
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) == -ENOENT)
		ufs_op_release_file(ufs, f);
}

void ufs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct ufs *ufs = ufs_of(req);
	int fd = ufs_file_fd(ufs, ufs_file_of(fi));
	/* through io_uring: straight into the ring's buffer */
	void *ring_buf = ufs_uring_reply_buffer(size);
	if (ring_buf) {
		ssize_t n = pread(fd, ring_buf, size, off);
		if (n < 0)
			fuse_reply_err(req, errno);
		else
			fuse_reply_buf(req, ring_buf, (size_t)n);
		return;
	}
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void ufs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
		      struct fuse_file_info *fi)
{
	struct ufs *ufs = ufs_of(req);
	int fd = ufs_file_fd(ufs, ufs_file_of(fi));
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = fd;
	out.buf[0].pos = off;
	ssize_t n = fuse_buf_copy(&out, in, 0);
	int r = n > 0 && ufs_request_kills_suidgid() ? ufs_kill_suidgid_fd(fd) : 0;
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (n < 0)
		fuse_reply_err(req, -n);
	else
		fuse_reply_write(req, (size_t)n);
}

void ufs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* close(dup(fd)) gives the branch file system its flush, as
	 * passthrough_ll does (NFS writes back there, for instance) */
	int fd = dup(ufs_file_fd(ufs_of(req), ufs_file_of(fi)));
	fuse_reply_err(req, fd < 0 ? errno : (close(fd) < 0 ? errno : 0));
}

void ufs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	ufs_op_release_file(ufs_of(req), ufs_file_of(fi));
	fuse_reply_err(req, 0);
}

void ufs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct ufs *ufs = ufs_of(req);
	if (!ufs->fsync) {
		fuse_reply_err(req, 0); /* volatile / fsync=0 */
		return;
	}
	int fd = ufs_file_fd(ufs, ufs_file_of(fi));
	int r = datasync ? fdatasync(fd) : fsync(fd);
	fuse_reply_err(req, r < 0 ? errno : 0);
}

void ufs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		      struct fuse_file_info *fi)
{
	int fd = ufs_file_fd(ufs_of(req), ufs_file_of(fi));
	fuse_reply_err(req, fallocate(fd, mode, offset, length) < 0 ? errno : 0);
}

void ufs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	int fd = ufs_file_fd(ufs_of(req), ufs_file_of(fi));
	off_t r = lseek(fd, off, whence);
	if (r < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, r);
}

void ufs_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, struct fuse_file_info *fi_in,
			    fuse_ino_t ino_out, off_t off_out, struct fuse_file_info *fi_out, size_t len,
			    int flags)
{
	struct ufs *ufs = ufs_of(req);
	int in = ufs_file_fd(ufs, ufs_file_of(fi_in));
	int out = ufs_file_fd(ufs, ufs_file_of(fi_out));
	loff_t oi = off_in, oo = off_out;
	ssize_t n = copy_file_range(in, &oi, out, &oo, len, flags);
	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, (size_t)n);
}
