/*
 * common/cleanup.h: scope-bound cleanup (systemd's _cleanup_ idiom).
 *
 * A variable declared with one of these attributes is released when it goes
 * out of scope; ownership leaves the scope only through TAKE_FD / TAKE_PTR.
 */
#ifndef LAMINA_COMMON_CLEANUP_H
#define LAMINA_COMMON_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

/* Closes fd if >= 0 and returns -1, so "fd = lm_close(fd)" resets it.
 * Never retries EINTR (Linux closes the fd anyway); keeps the caller's errno. */
static inline int lm_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	return -1;
}

static inline void lm_freep(void *p)
{
	free(*(void **)p);
}

static inline void lm_closep(int *fd)
{
	lm_close(*fd);
}

static inline void lm_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void lm_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* sqlite statements, without making every includer see <sqlite3.h>: the
 * prototype is sqlite's own (sqlite3_stmt is a typedef of this struct). */
struct sqlite3_stmt;
int sqlite3_finalize(struct sqlite3_stmt *stmt);
static inline void lm_finalizep(struct sqlite3_stmt **st)
{
	if (*st)
		sqlite3_finalize(*st);
}

#define _cleanup_free_ _cleanup_(lm_freep)
#define _cleanup_close_ _cleanup_(lm_closep)
#define _cleanup_fclose_ _cleanup_(lm_fclosep)
#define _cleanup_closedir_ _cleanup_(lm_closedirp)
#define _cleanup_stmt_ _cleanup_(lm_finalizep)

/* For libarchive's objects: only where <archive.h> and <archive_entry.h>
 * come before this header, so files without libarchive need not see it. */
#if defined(ARCHIVE_VERSION_NUMBER) && defined(ARCHIVE_ENTRY_H_INCLUDED)
static inline void lm_archive_read_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

static inline void lm_archive_write_freep(struct archive **a)
{
	if (*a)
		archive_write_free(*a);
}

static inline void lm_archive_entry_freep(struct archive_entry **e)
{
	if (*e)
		archive_entry_free(*e);
}
#define _cleanup_archive_read_ _cleanup_(lm_archive_read_freep)
#define _cleanup_archive_write_ _cleanup_(lm_archive_write_freep)
#define _cleanup_archive_entry_ _cleanup_(lm_archive_entry_freep)
#endif

#define TAKE_FD(fd)                  \
	({                           \
		int _fd_ = (fd);     \
		(fd) = -1;           \
		_fd_;                \
	})

#define TAKE_PTR(p)                          \
	({                                   \
		__typeof__(p) _p_ = (p);     \
		(p) = NULL;                  \
		_p_;                         \
	})

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

#endif
