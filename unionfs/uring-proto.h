/*
 * unionfs/uring-proto.h: the FUSE-over-io_uring protocol (Linux 6.14+, FUSE
 * 7.42), which Debian 12's <linux/fuse.h> (7.38) does not have yet. The
 * layout is the kernel's ABI (include/uapi/linux/fuse.h); the names carry a
 * ufs_ prefix so that a newer system header cannot clash with them.
 */
#ifndef LAMINA_UNIONFS_URING_PROTO_H
#define LAMINA_UNIONFS_URING_PROTO_H

#include <stdint.h>

/* INIT flag, bit 41: in flags2 of fuse_init_in and fuse_init_out */
#define UFS_FUSE_OVER_IO_URING_FLAGS2 (1u << (41 - 32))

#define UFS_URING_IN_OUT_HEADER_SZ 128
#define UFS_URING_OP_IN_OUT_SZ 128

/* Per entry, written by the kernel with a request */
struct ufs_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;  /* to give back with the reply */
	uint32_t payload_sz; /* bytes used in the payload buffer, both ways */
	uint32_t padding;
	uint64_t reserved;
};

/* The first of an entry's two buffers: the headers */
struct ufs_uring_req_header {
	char in_out[UFS_URING_IN_OUT_HEADER_SZ]; /* fuse_in_header, then fuse_out_header */
	char op_in[UFS_URING_OP_IN_OUT_SZ];      /* the operation's own header (fuse_write_in...) */
	struct ufs_uring_ent_in_out ring_ent_in_out;
};

/* IORING_OP_URING_CMD commands on /dev/fuse */
enum {
	UFS_URING_CMD_REGISTER = 1,         /* register an entry, wait for a request */
	UFS_URING_CMD_COMMIT_AND_FETCH = 2, /* reply to its request, wait for the next */
};

/* In the command area of a 128-byte SQE */
struct ufs_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid; /* the queue: one per possible CPU */
	uint8_t padding[6];
};

/* The kernel's sizes: a mismatch here is a wrong protocol, caught at build. */
_Static_assert(sizeof(struct ufs_uring_ent_in_out) == 32, "fuse_uring_ent_in_out");
_Static_assert(sizeof(struct ufs_uring_req_header) == 288, "fuse_uring_req_header");
_Static_assert(sizeof(struct ufs_uring_cmd_req) == 24, "fuse_uring_cmd_req (must fit the SQE's 80 bytes)");

#endif
