/*
 * unionfs/ops.h: what the FUSE adapters (ops-*.c) share. Kept apart from
 * unionfs.h so that the parts that need no FUSE build and test without it.
 * Each adapter does one operation and replies exactly once; no lock is held
 * across a reply.
 */
#ifndef LAMINA_UNIONFS_OPS_H
#define LAMINA_UNIONFS_OPS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "unionfs/unionfs.h"

/* An open file: the real fd and the layer it was opened in. A read-only
 * file opened below is reopened in the upper layer once the node has been
 * copied up, so that it sees writes made through other descriptors (as the
 * kernel's overlayfs does). */
struct ufs_file {
	struct ufs_handle h; /* first: the handle list's view of it */
	int fd;            /* protected by lock */
	int layer;         /* protected by lock */
	int flags;
	struct ufs_node *node; /* holds a ref */
	pthread_mutex_t lock;
};

/* An open directory: the merged listing, built when reading starts. */
struct ufs_dirhandle {
	struct ufs_handle h; /* first */
	struct ufs_dir_listing listing; /* protected by lock */
	bool listed;                    /* listing holds something; protected by lock */
	pthread_mutex_t lock;
};

static inline struct ufs *ufs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct ufs_node *ufs_node_of(struct ufs *ufs, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? ufs->root : (struct ufs_node *)(uintptr_t)ino;
}

static inline fuse_ino_t ufs_nodeid(struct ufs *ufs, struct ufs_node *node)
{
	return node == ufs->root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)node;
}

static inline struct ufs_file *ufs_file_of(struct fuse_file_info *fi)
{
	return (struct ufs_file *)(uintptr_t)fi->fh;
}

/* ops-entry.c */
/* Replies to a lookup-like request with the entry for found (the node gets
 * the kernel's reference). */
void ufs_reply_entry(fuse_req_t req, struct ufs *ufs, struct ufs_node *parent, const char *name,
		     const struct ufs_found *found);
void ufs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void ufs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void ufs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets);
void ufs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi);
void ufs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void ufs_op_statfs(fuse_req_t req, fuse_ino_t ino);
void ufs_op_access(fuse_req_t req, fuse_ino_t ino, int mask);

/* ops-create.c */
void ufs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void ufs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void ufs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void ufs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void ufs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi);

/* ops-remove.c */
void ufs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void ufs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
/* Removes name (found by lookup) from the upper layer of dir, leaving a
 * whiteout where a lower layer still has it. */
int ufs_remove_entry(struct ufs *ufs, struct ufs_node *dir, const char *name, const struct ufs_found *found);
/* Before a name of a hard-linked lower file goes away: copies the file up
 * (with all its names, hardlink.c) so that the other names' link count
 * drops, as on the kernel's overlayfs with index=on; found is refreshed. */
int ufs_copy_up_if_linked(struct ufs *ufs, struct ufs_node *dir, const char *name, struct ufs_found *found);
/* Removes the upper entry name of upfd (a directory with its content),
 * leaving a whiteout in its place if whiteout is set. */
int ufs_remove_upper(struct ufs *ufs, int upfd, const char *name, bool is_dir, bool whiteout);

/* ops-rename.c */
void ufs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		   const char *newname, unsigned int flags);

/* ops-file.c */
/* The flags a branch file is opened with for an open with flags: never
 * creating, never a symlink, and as the writeback cache needs. */
int ufs_branch_open_flags(const struct ufs *ufs, int flags);
struct ufs_file *ufs_file_new(struct ufs *ufs, struct ufs_node *node, int fd, int layer, int flags);
void ufs_op_release_file(struct ufs *ufs, struct ufs_file *f);
void ufs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void ufs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		      struct fuse_file_info *fi);
void ufs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
void ufs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		      struct fuse_file_info *fi);
void ufs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
void ufs_op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in, struct fuse_file_info *fi_in,
			    fuse_ino_t ino_out, off_t off_out, struct fuse_file_info *fi_out, size_t len,
			    int flags);
/* The file's fd, reopened in the upper layer if the node was copied up
 * since the file was opened. */
int ufs_file_fd(struct ufs *ufs, struct ufs_file *f);

/* ops-dir.c */
void ufs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void ufs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void ufs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void ufs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* ops-xattr.c */
void ufs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size);
void ufs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void ufs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size,
		     int flags);
void ufs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* refresh.c: a test's hold on the answer to a refresh's GETATTR */
void ufs_refresh_hold_answer(struct ufs *ufs, fuse_req_t req);

#endif
