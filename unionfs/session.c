/*
 * unionfs/session.c: mounting a union and serving it. Opens the layers,
 * makes the root node, mounts through libfuse, daemonizes once the mount is
 * ready (so that "BIN -o OPTS MERGED" returns with the merged view usable, as
 * podman expects), and runs the multithreaded session loop until unmount.
 */
#define pr_fmt(fmt) "lamina-fuse: " fmt

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/log.h"
#include "unionfs/ops.h"

static void ufs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct ufs *ufs = userdata;
	/* Locks are left to the kernel (local POSIX locks, as fuse-overlayfs
	 * learned the hard way); splice moves data without copies. */
	conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	/* io_uring where the kernel offers it (see uring.c); its replies
	 * are written into the ring's buffers, never spliced. Never
	 * FUSE_CAP_SPLICE_READ: requests must come through channel.c's read
	 * hook, which reads the set-ID marks libfuse drops (killpriv.c). */
	conn->want &= ~FUSE_CAP_SPLICE_READ;
	if (ufs->uring_allowed && ufs->kernel_uring && ufs_uring_prepare(ufs, fuse_session_fd(ufs->se))) {
		conn->want &= ~(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	} else {
		if (conn->capable & FUSE_CAP_SPLICE_WRITE)
			conn->want |= FUSE_CAP_SPLICE_WRITE;
		if (conn->capable & FUSE_CAP_SPLICE_MOVE)
			conn->want |= FUSE_CAP_SPLICE_MOVE;
	}
	/* 1 MiB writes and readahead instead of 128 KiB: an eighth of the
	 * round trips for sequential I/O */
	conn->max_write = UFS_MAX_IO;
	conn->max_read = UFS_MAX_IO; /* must equal the max_read mount option */
	if (conn->max_readahead < UFS_MAX_IO)
		conn->max_readahead = UFS_MAX_IO;
	/* The writeback cache (writeback=1 only): writes gather in the
	 * kernel's page cache and reach the branch in large pieces (on fsync,
	 * close, or memory pressure). Off with timeout=0. */
	if (ufs->writeback && ufs->timeout > 0 && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	ufs->writeback = conn->want & FUSE_CAP_WRITEBACK_CACHE;
	/* Symlink targets kept in the kernel's page cache: a symlink never
	 * changes, a new target is a new inode (see docs/unionfs.md, Caches);
	 * off with timeout=0. */
	if (ufs->timeout > 0 && (conn->capable & FUSE_CAP_CACHE_SYMLINKS))
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* Directories opened by the kernel alone, their listings cached by
	 * it (see ufs_op_opendir); like every cache, off with timeout=0. */
	ufs->no_opendir = ufs->timeout > 0 && (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT);
	if (ufs->no_opendir)
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
	/* a thread of its own: started here, after the fork of daemonizing */
	if (ufs->dir_readahead && ufs_dirahead_start(ufs) < 0)
		log_warn("directory read-ahead: cannot start its thread");
	if (ufs_refresh_start(ufs) < 0)
		log_warn("directory attribute refresh: cannot start its thread");
}

const struct fuse_lowlevel_ops ufs_ops = {
	.init = ufs_init,
	.lookup = ufs_op_lookup,
	.forget = ufs_op_forget,
	.forget_multi = ufs_op_forget_multi,
	.getattr = ufs_op_getattr,
	.setattr = ufs_op_setattr,
	.readlink = ufs_op_readlink,
	.mknod = ufs_op_mknod,
	.mkdir = ufs_op_mkdir,
	.unlink = ufs_op_unlink,
	.rmdir = ufs_op_rmdir,
	.symlink = ufs_op_symlink,
	.rename = ufs_op_rename,
	.link = ufs_op_link,
	.open = ufs_op_open,
	.read = ufs_op_read,
	.write_buf = ufs_op_write_buf,
	.flush = ufs_op_flush,
	.release = ufs_op_release,
	.fsync = ufs_op_fsync,
	.opendir = ufs_op_opendir,
	.readdir = ufs_op_readdir,
	.readdirplus = ufs_op_readdirplus,
	.releasedir = ufs_op_releasedir,
	.fsyncdir = ufs_op_fsyncdir,
	.statfs = ufs_op_statfs,
	.setxattr = ufs_op_setxattr,
	.getxattr = ufs_op_getxattr,
	.listxattr = ufs_op_listxattr,
	.removexattr = ufs_op_removexattr,
	.access = ufs_op_access,
	.create = ufs_op_create,
	.fallocate = ufs_op_fallocate,
	.copy_file_range = ufs_op_copy_file_range,
	.lseek = ufs_op_lseek,
};

void ufs_notify_attr_changed(struct ufs *ufs, struct ufs_node *node)
{
	if (ufs->se)
		fuse_lowlevel_notify_inval_inode(ufs->se, ufs_nodeid(ufs, node), -1, 0);
}

/* The mount options for the kernel: ours, then the user's. */
static int build_fuse_args(const struct lamina_union_config *config, struct fuse_args *args)
{
	char opts[4096];
	const char *source = config->source ? config->source : "lamina-fuse";
	bool root = geteuid() == 0;
	/* without an upper layer the mount itself is read-only, so that
	 * statvfs and access(W_OK) say so, as on the kernel's overlayfs */
	int n = snprintf(opts, sizeof(opts), "fsname=%s,subtype=lamina-fuse,default_permissions,max_read=%d%s%s%s%s",
			 source, UFS_MAX_IO,
			 root ? ",allow_other,suid,dev" : "", config->upper ? "" : ",ro",
			 config->fuse_opts ? "," : "", config->fuse_opts ? config->fuse_opts : "");
	if (n < 0 || (size_t)n >= sizeof(opts))
		return -E2BIG;
	if (fuse_opt_add_arg(args, "lamina-fuse") < 0 || fuse_opt_add_arg(args, "-o") < 0 ||
	    fuse_opt_add_arg(args, opts) < 0)
		return -ENOMEM;
	if (config->debug && fuse_opt_add_arg(args, "-d") < 0)
		return -ENOMEM;
	return 0;
}

/* As fuse-overlayfs: every open file of the merged view may hold a branch
 * fd, so take the whole allowance. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int serve(struct ufs *ufs, const struct lamina_union_config *config, struct lm_error *err)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	int r = build_fuse_args(config, &args);
	if (r < 0) {
		fuse_opt_free_args(&args);
		return lm_err(err, r, "mount options");
	}
	struct fuse_session *se = fuse_session_new(&args, &ufs_ops, sizeof(ufs_ops), ufs);
	fuse_opt_free_args(&args);
	if (!se)
		return lm_err_plain(err, -EINVAL, "mount '%s': cannot start a FUSE session", config->mountpoint);
	r = 0;
	ufs->se = se;
	if (fuse_set_signal_handlers(se) < 0) {
		r = lm_err_plain(err, -EIO, "mount '%s': cannot set signal handlers", config->mountpoint);
		goto destroy;
	}
	if (fuse_session_mount(se, config->mountpoint) < 0) {
		r = lm_err_plain(err, -EIO, "mount '%s': the FUSE mount failed", config->mountpoint);
		goto signals;
	}
	/* A read-only super block keeps a listed directory's attributes:
	 * nothing to refresh (refresh.c); nor without caches (timeout=0). */
	if (ufs->dir_refresh && config->upper && ufs->timeout > 0) {
		int rr = ufs_refresh_prepare(ufs, config->mountpoint);
		if (rr < 0)
			log_info("mount '%s': no attribute refresh after listings: %s", config->mountpoint, strerror(-rr));
	}
	r = ufs_channel_attach(se);
	if (r < 0) {
		r = lm_err(err, r, "mount '%s': FUSE device I/O", config->mountpoint);
		goto unmount;
	}
	if (fuse_daemonize(config->foreground) < 0) {
		r = lm_err_plain(err, -EIO, "mount '%s': cannot daemonize", config->mountpoint);
		goto unmount;
	}
	if (!config->foreground)
		lm_log_use_syslog("lamina-fuse"); /* stderr is /dev/null from here on */
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	if (!lc) {
		r = lm_err(err, -ENOMEM, "mount '%s'", config->mountpoint);
		goto unmount;
	}
	/* Few idle workers: each waiting reader is one more to wake and to
	 * contend on the connection's queue (measured: 10 idle cost more
	 * than 4 on two cores). Many more may run at once, so that a long
	 * copy-up never stalls the rest. No clone_fd: it gained nothing
	 * measurable, and libfuse 3.14 leaks a channel with it at exit. */
	fuse_loop_cfg_set_idle_threads(lc, config->threads);
	fuse_loop_cfg_set_max_threads(lc, UFS_MAX_THREADS);
	/* The loop ends when the kernel side goes away (unmount). A worker
	 * that reads from the closing connection at that moment makes it
	 * return an error (libfuse 3.14 resets the session's "exited" flag
	 * before returning, so the two cannot be told apart): that is the
	 * end of the mount, not a failure of it, and is only logged. */
	int lr = fuse_session_loop_mt(se, lc);
	if (lr != 0)
		log_info("mount '%s': session loop ended with %d", config->mountpoint, lr);
	fuse_loop_cfg_destroy(lc);
unmount:
	ufs_refresh_quiesce(ufs); /* it notifies through the session */
	/* the io_uring workers end with the connection (or within a second
	 * of being told to, when a signal ended the loop): join them */
	ufs_uring_stop(ufs);
	fuse_session_unmount(se);
signals:
	fuse_remove_signal_handlers(se);
destroy:
	ufs->se = NULL;
	fuse_session_destroy(se);
	return r;
}

int lamina_union_run(const struct lamina_union_config *config, struct lm_error *err)
{
	struct stat st;
	if (!config->mountpoint)
		return lm_err_plain(err, -EINVAL, "no mount point given");
	if (stat(config->mountpoint, &st) < 0)
		return lm_err(err, -errno, "mount point '%s'", config->mountpoint);
	if (!S_ISDIR(st.st_mode))
		return lm_err(err, -ENOTDIR, "mount point '%s'", config->mountpoint);
	if (config->debug)
		lm_log_set_level(LM_LOG_DEBUG);
	/* The kernel applies the caller's umask before we see a mode; ours
	 * must not apply a second one. */
	umask(0);
	raise_nofile();
	/* glibc gives each new thread an arena of its own; with workers
	 * coming and going, memory grew with every walk of a large tree
	 * (measured: +7 MiB per cold walk of 90k entries, none with 2) */
	mallopt(M_ARENA_MAX, 2);
	/* A fixed mmap threshold: glibc raises it whenever a mapped chunk is
	 * freed, after which libfuse's 1 MiB request buffer of each worker
	 * (workers come and go with the load) is carved from the heap and
	 * fragments it (measured: peak RSS after eight cold walks of a
	 * 90,000-entry tree 30.5-31.6 MiB with the dynamic threshold, 24.3-26
	 * with a fixed one, both with the trim at forget) */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);

	struct ufs *ufs = NULL;
	int r = ufs_open(config, &ufs, err);
	if (r < 0)
		return r;
	r = serve(ufs, config, err);
	ufs_close(ufs);
	return r;
}
