/*
 * tests/lib/tarbuild.h: tarballs built in the test with libarchive's writer
 * (part of libtesthelp.la), from a list of entries written exactly as
 * given: hostile names ("../x", "/abs", names over NAME_MAX), links to
 * anywhere, devices. For extraction tests (common/tar.c), volume import and
 * the graph store's layer import.
 *
 * Like the rest of testlib, the builders end the test (tl_fail) when
 * libarchive refuses something: a test cannot go on without its input.
 * Thread-safety: none (one test process, its main thread).
 */
#ifndef LAMINA_TESTS_TARBUILD_H
#define LAMINA_TESTS_TARBUILD_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/*
 * One entry. An array of them ends with an entry whose type is 0, so
 * designated initialisers read well:
 *   { .type = 'f', .name = "../x", .data = "boom" }
 */
struct tl_tar_entry {
	char type;          /* 'f' file, 'd' folder, 'l' symlink, 'h' hard link,
			     * 'p' fifo, 'c' char device, 'b' block device */
	const char *name;   /* stored as given */
	const char *data;   /* 'f': content (NULL: empty); 'l', 'h': target */
	size_t len;         /* 'f': bytes of data (0: strlen(data)) */
	mode_t perm;        /* 0: 0644 (0755 folders, 0777 symlinks) */
	uid_t uid;
	gid_t gid;
	time_t mtime;       /* 0: TL_EPOCH (testlib.h) */
	long mtime_nsec;
	unsigned major, minor;  /* 'c', 'b' */
	const char *xattr;      /* one xattr "NAME=VALUE", or NULL */
	size_t xattr_len;       /* bytes of VALUE (0: strlen; binary values
				 * such as security.capability hold NULs) */
	off_t sparse_size;      /* 'f', pax only: >0 makes a sparse file of this
				 * size holding data at sparse_offset, holes
				 * elsewhere (as a GNU sparse 1.0 pax entry) */
	off_t sparse_offset;
};

/* Flags: one format, plus at most one compression filter. */
enum {
	TL_TAR_PAX = 0,       /* POSIX pax (the default) */
	TL_TAR_GNU = 1,       /* GNU tar format (././@LongLink names) */
	TL_TAR_USTAR = 2,     /* plain ustar: names up to 100 (+155) bytes */
	TL_TAR_FORMAT_MASK = 0xf,
	TL_TAR_GZIP = 1 << 4,
	TL_TAR_BZIP2 = 2 << 4,
	TL_TAR_XZ = 3 << 4,
	TL_TAR_ZSTD = 4 << 4,
	TL_TAR_FILTER_MASK = 0xf << 4,
};

/* The tar of entries, in malloc'd memory (*ret_len bytes). Caller frees. */
void *tl_tar_build(const struct tl_tar_entry *entries, unsigned flags, size_t *ret_len);

/* The tar of entries in a memfd, at offset 0 (what lm_tar_extract reads).
 * Caller closes. */
int tl_tar_memfd(const struct tl_tar_entry *entries, unsigned flags);

/* The tar of entries written to the file path. */
void tl_tar_write_file(const char *path, const struct tl_tar_entry *entries, unsigned flags);

/* A memfd holding len bytes of data (any input: a cut tar, random bytes),
 * at offset 0. Caller closes. */
int tl_memfd(const void *data, size_t len);

/* The whole content of fd from offset 0, malloc'd (*ret_len bytes; a NUL
 * follows). Caller frees. */
void *tl_fd_read_all(int fd, size_t *ret_len);

/*
 * The GNU tar oracle for layer chains (tarapply.c): applies the changeset
 * tars at the paths tars (bottom layer first) into the folder dir, one after
 * the other, as a runtime without a union file system does: first the
 * deletions each tar names, which apply to the layers below only (.wh.NAME
 * removes NAME, .wh..wh..opq empties its folder), then GNU tar extracts it
 * (owners, modes, xattrs) without its .wh. entries. Ends the test (tl_fail)
 * when a tool fails.
 */
void tl_layers_untar(const char *dir, const char *const *tars, size_t n);

#endif
