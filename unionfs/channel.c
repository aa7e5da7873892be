/*
 * unionfs/channel.c: the session's I/O on /dev/fuse, through libfuse's
 * custom I/O hooks: read, writev and splice as libfuse does them itself,
 * plus what libfuse 3.14 cannot put in the INIT reply itself, and the
 * replies to requests that came through io_uring (uring.c).
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
 * The INIT reply also gets FUSE_HANDLE_KILLPRIV_V2 (killpriv.c) and FUSE
 * over io_uring (uring.c) where the kernel offered them; libfuse 3.14 has
 * no capability for either. The read hook hands every request to
 * ufs_request_note() before libfuse parses it, for the marks libfuse drops;
 * the writev hook tells refresh.c of every reply, which counts the requests
 * that may change something until they are answered.
 *
 * Thread-safety: the hooks run in every worker thread. What the kernel
 * offered is written while the INIT request is read and served, in one
 * thread, before the kernel sends any other request; init_unique and
 * init_done are atomic for the other threads' checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <sys/uio.h>
#include <unistd.h>

#include "unionfs/ops.h"
#include "unionfs/uring-proto.h"

/* The INIT request: what the kernel offers, and the reply to look for. */
static void note_init(struct ufs *ufs, const void *buf, ssize_t n)
{
	const struct fuse_in_header *in = buf;
	if (n < (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in, flags2)) || in->opcode != FUSE_INIT)
		return;
	const struct fuse_init_in *arg = (const void *)(in + 1);
	ufs->kernel_parallel_dirops = arg->flags & FUSE_PARALLEL_DIROPS;
	ufs->kernel_killpriv_v2 = arg->flags & FUSE_HANDLE_KILLPRIV_V2;
	/* flags2 is there when the kernel says so (FUSE 7.36+) */
	if ((arg->flags & FUSE_INIT_EXT) && n >= (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in, flags2) + 4))
		ufs->kernel_uring = arg->flags2 & UFS_FUSE_OVER_IO_URING_FLAGS2;
	atomic_store(&ufs->init_unique, in->unique);
}

void ufs_request_note(const void *buf, size_t len)
{
	ufs_killpriv_note_request(buf, len);
	ufs_refresh_note_request(buf, len);
}

static ssize_t chan_read(int fd, void *buf, size_t len, void *userdata)
{
	struct ufs *ufs = userdata;
	ssize_t n = read(fd, buf, len);
	if (n > 0) {
		if (!atomic_load(&ufs->init_done))
			note_init(ufs, buf, n);
		ufs_request_note(buf, (size_t)n);
	}
	return n;
}

/* The INIT reply in iov, if that is what it is: adds what libfuse 3.14
 * cannot ask for. Returns whether it was. */
static bool fix_init_reply(struct ufs *ufs, struct iovec *iov, int count)
{
	uint64_t unique = atomic_load(&ufs->init_unique);
	if (!unique || count < 1 || iov[0].iov_len < sizeof(struct fuse_out_header))
		return false;
	const struct fuse_out_header *out = iov[0].iov_base;
	if (out->unique != unique)
		return false;
	atomic_store(&ufs->init_done, true);
	if (out->error != 0 || count < 2 || iov[1].iov_len < offsetof(struct fuse_init_out, flags2) + sizeof(uint32_t))
		return true;
	struct fuse_init_out *arg = iov[1].iov_base;
	if (ufs->kernel_parallel_dirops)
		arg->flags |= FUSE_PARALLEL_DIROPS;
	/* set-ID bits cleared by us, where the kernel marks it (killpriv.c) */
	if (ufs->kernel_killpriv_v2)
		arg->flags |= FUSE_HANDLE_KILLPRIV_V2;
	if (ufs->uring) {
		arg->flags |= FUSE_INIT_EXT;
		arg->flags2 |= UFS_FUSE_OVER_IO_URING_FLAGS2;
	}
	return true;
}

static ssize_t chan_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct ufs *ufs = userdata;
	if (count > 0 && iov[0].iov_len >= sizeof(struct fuse_out_header))
		ufs_refresh_note_reply(((const struct fuse_out_header *)iov[0].iov_base)->unique);
	/* a reply to a request that came through io_uring goes back there */
	ssize_t n = ufs_uring_take_reply(iov, count);
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	if (n > 0)
		return n;
	bool init = !atomic_load(&ufs->init_done) && fix_init_reply(ufs, iov, count);
	n = writev(fd, iov, count);
	/* the kernel has taken the INIT reply: the rings may register now */
	if (init && n > 0)
		ufs_uring_start(ufs);
	return n;
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
