/*
 * unionfs/channel.c: the session's I/O on /dev/fuse, through libfuse's
 * custom I/O hooks: read, writev and splice as libfuse does them itself,
 * plus one fix to the INIT reply.
 *
 * libfuse 3.14 (Debian 12's) puts FUSE_CAP_PARALLEL_DIROPS in conn->want
 * by default but leaves FUSE_PARALLEL_DIROPS out of the INIT reply (its -d
 * output shows the reply's flags: 0x4040f029), so the kernel serialised
 * every lookup and readdir in one directory behind the directory's mutex
 * (measured: two lookups in one directory that take 0.2 s each in the
 * daemon took 0.4 s when issued at once, 0.2 s in two directories). The
 * daemon is safe for concurrent lookups and listings of one directory
 * (node.c and the directory handle's lock serialise what they share), so
 * the reply gets the flag whenever the kernel offered it.
 *
 * Thread-safety: the hooks run in every worker thread. The INIT state in
 * struct ufs is atomic, and written only while the INIT request is served,
 * before the kernel sends any other.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <sys/uio.h>
#include <unistd.h>

#include "unionfs/ops.h"

/* The INIT request: what the kernel offers, and the reply to look for
 * (none if the kernel offers no parallel directory operations). */
static void note_init(struct ufs *ufs, const void *buf, ssize_t n)
{
	const struct fuse_in_header *in = buf;
	if (n < (ssize_t)(sizeof(*in) + sizeof(struct fuse_init_in)) || in->opcode != FUSE_INIT)
		return;
	const struct fuse_init_in *arg = (const void *)(in + 1);
	if (arg->flags & FUSE_PARALLEL_DIROPS)
		atomic_store(&ufs->init_unique, in->unique);
	else
		atomic_store(&ufs->init_done, true);
}

static ssize_t chan_read(int fd, void *buf, size_t len, void *userdata)
{
	struct ufs *ufs = userdata;
	ssize_t n = read(fd, buf, len);
	if (n > 0 && !atomic_load(&ufs->init_done))
		note_init(ufs, buf, n);
	return n;
}

/* Adds FUSE_PARALLEL_DIROPS to the INIT reply in iov, if that is what it is. */
static void fix_init_reply(struct ufs *ufs, struct iovec *iov, int count)
{
	uint64_t unique = atomic_load(&ufs->init_unique);
	if (!unique || count < 2 || iov[0].iov_len < sizeof(struct fuse_out_header))
		return;
	const struct fuse_out_header *out = iov[0].iov_base;
	if (out->unique != unique)
		return;
	atomic_store(&ufs->init_done, true);
	if (out->error == 0 && iov[1].iov_len >= offsetof(struct fuse_init_out, flags) + sizeof(uint32_t))
		((struct fuse_init_out *)iov[1].iov_base)->flags |= FUSE_PARALLEL_DIROPS;
}

static ssize_t chan_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct ufs *ufs = userdata;
	if (!atomic_load(&ufs->init_done))
		fix_init_reply(ufs, iov, count);
	return writev(fd, iov, count);
}

static ssize_t chan_splice(int fdin, off_t *offin, int fdout, off_t *offout, size_t len, unsigned int flags,
			   void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

int ufs_channel_attach(struct fuse_session *se)
{
	/* libfuse hands each hook the session's userdata: the struct ufs */
	static const struct fuse_custom_io io = {
		.read = chan_read,
		.writev = chan_writev,
		.splice_receive = chan_splice,
		.splice_send = chan_splice,
	};
	return fuse_session_custom_io(se, &io, fuse_session_fd(se));
}
