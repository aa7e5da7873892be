/*
 * unionfs/killpriv.c: clearing the set-user-ID and set-group-ID bits where
 * the kernel asks (FUSE_HANDLE_KILLPRIV_V2).
 *
 * A write, a truncation or an O_TRUNC open by a caller without CAP_FSETID
 * clears a file's set-ID bits (set-group-ID only on a group-executable
 * file), as does every chown. The daemon's own write to the branch does not:
 * it runs as root. Without KILLPRIV_V2 the kernel clears them itself,
 * through a GETATTR and a SETATTR, and asks for security.capability before
 * every write; with it, the kernel marks the requests that must clear the
 * bits and leaves the rest to us (saving the GETATTR before each chown and
 * the capability probes of later writes), and an O_TRUNC open is marked
 * too, which the kernel cannot do for an atomic-O_TRUNC open otherwise (it
 * left the bits set: the set-id-bits-cleared scenario of test-union-files).
 * security.capability goes by itself: the branch's file system drops it on
 * our write, truncation and chown, whoever the caller.
 *
 * libfuse 3.14 passes none of the marks on, so they are read from the raw
 * request before libfuse parses it (channel.c's read hook, uring.c), in
 * the thread that then serves the request (ufs_request_note).
 */
#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <sys/stat.h>

#include "unionfs/ops.h"

/* The request this thread serves is marked "clear the set-ID bits". */
static __thread bool request_kills_suidgid;

void ufs_killpriv_note_request(const void *buf, size_t len)
{
	const struct fuse_in_header *in = buf;
	const void *arg = in + 1;
	size_t room = len > sizeof(*in) ? len - sizeof(*in) : 0;
	bool kill = false;
	if (len >= sizeof(*in)) {
		switch (in->opcode) {
		case FUSE_WRITE:
			kill = room >= sizeof(struct fuse_write_in) &&
			       (((const struct fuse_write_in *)arg)->write_flags & FUSE_WRITE_KILL_SUIDGID);
			break;
		case FUSE_SETATTR:
			kill = room >= sizeof(struct fuse_setattr_in) &&
			       (((const struct fuse_setattr_in *)arg)->valid & FATTR_KILL_SUIDGID);
			break;
		case FUSE_OPEN:
			kill = room >= sizeof(struct fuse_open_in) &&
			       (((const struct fuse_open_in *)arg)->open_flags & FUSE_OPEN_KILL_SUIDGID);
			break;
		}
	}
	request_kills_suidgid = kill;
}

bool ufs_request_kills_suidgid(void)
{
	return request_kills_suidgid;
}

mode_t ufs_mode_without_suidgid(mode_t mode)
{
	mode_t kill = S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		kill |= S_ISGID;
	return S_ISREG(mode) ? mode & ~kill : mode;
}

int ufs_kill_suidgid_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	mode_t mode = ufs_mode_without_suidgid(st.st_mode);
	if (mode != st.st_mode && fchmod(fd, mode & 07777) < 0)
		return -errno;
	return 0;
}
