/*
 * tests/lib/testlib.h: the helpers every lamina test binary shares
 * (libtesthelp.la). Nothing here is copied into a test file.
 *
 * The library is for Check test binaries and knows it: a helper that sets
 * up the ground for a test (a scratch directory, a branch's content) does not
 * return an error, it ends the test with a message through tl_fail(). A helper
 * that observes the file system under test (mounting, snapshots, the step
 * log) returns what it saw, so the test can compare and decide.
 *
 * Parts, each in its own file:
 *   scratch.c  requirements (root, /dev/fuse, overlay) and the exit-77 skip,
 *              scratch directories, the sweep that unmounts and removes them,
 *              tl_run_suite() for main()
 *   buf.c      struct tl_buf (a growing string) and tl_fail()
 *   mount.c    one call to mount a union with the kernel, lamina-fuse or
 *              fuse-overlayfs, and to unmount it and wait for the daemon
 *   branch.c   building branch content from C or from a spec (a list of
 *              lines such as "file a/b hello"), whiteouts and opaque
 *              directories in both on-disk forms
 *   tree.c     a snapshot of a tree (never following symlinks) and a
 *              comparison that lists the differences for people
 *   steplog.c  recording the result and errno of every step of a scenario,
 *              and comparing two such records
 *   oracle.c   the kernel-oracle runner: the same steps on `mount -t
 *              overlay` and on a FUSE union over identical fresh branches,
 *              then the interop checks between their upper branches
 *   tarbuild.c tarballs written with libarchive from entry lists, hostile
 *              ones included (its own header, tarbuild.h)
 *
 * Paths: scratch directories are absolute and canonical (realpath), so they
 * match the mount points the kernel lists in /proc/self/mountinfo.
 *
 * Environment:
 *   LAMINA_FUSE      the lamina-fuse program (tests/Makemodule.am sets it)
 *   FUSE_OVERLAYFS   fuse-overlayfs (default /usr/bin/fuse-overlayfs)
 *   TL_FUSE_BACKEND  "fuse-overlayfs": the oracle compares fuse-overlayfs
 *                    with the kernel instead of lamina-fuse
 *   TMPDIR           where scratch directories go (default /tmp); its file
 *                    system must take trusted.* xattrs and, for the kernel's
 *                    index=on, file handles
 *   ASAN_OPTIONS, UBSAN_OPTIONS  a FUSE daemon's sanitizer reports go to
 *                    MNT.asan.PID unless these name a log_path already
 *
 * Thread-safety: none of this is meant for threads; one test process (Check
 * forks one per test) uses it from its main thread.
 */
#ifndef LAMINA_TESTS_TESTLIB_H
#define LAMINA_TESTS_TESTLIB_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <check.h>

/* ---------------------------------------------------------------- buf.c */

/*
 * A growing, always NUL-terminated string (git's strbuf, reduced).
 * Initialise with TL_BUF_INIT; s is NULL until the first append (tl_buf_str()
 * gives "" then). The caller owns s: release with tl_buf_release(), or take
 * it (then free it yourself). Out of memory ends the test (tl_fail).
 */
struct tl_buf {
	char *s;
	size_t len;
	size_t alloc;
};
#define TL_BUF_INIT { NULL, 0, 0 }

void tl_buf_printf(struct tl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tl_buf_vprintf(struct tl_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends len bytes of data with C escapes for anything not printable
 * (\n, \t, \\, \xNN), at most max bytes of data ("..." after a cut). */
void tl_buf_escape(struct tl_buf *b, const void *data, size_t len, size_t max);
const char *tl_buf_str(const struct tl_buf *b);
/* Frees the storage and makes b empty again. */
void tl_buf_release(struct tl_buf *b);

/*
 * Ends the current test with a failure message. Used by the set-up helpers
 * for anything that should not go wrong (mkdir of a branch, out of memory):
 * the test cannot say anything useful after that. By default it calls
 * Check's ck_abort_msg(); a program that is not a Check test installs its
 * own handler (which must not return; if it does, tl_fail aborts).
 */
void tl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void tl_set_fail_handler(void (*handler)(const char *msg));

/* asprintf() that never fails (tl_fail on OOM). Caller frees. */
char *tl_strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* malloc/realloc/strdup that never fail (tl_fail on OOM). */
void *tl_malloc(size_t size);
void *tl_realloc(void *p, size_t size);
char *tl_strdup(const char *s);

/* The symbolic name of an errno value ("ENOENT"), or "E<number>". Static. */
const char *tl_errname(int err);

/* ------------------------------------------------------------ scratch.c */

/* What a test binary needs before it can run (tl_require, tl_run_suite). */
enum {
	TL_NEED_ROOT = 1 << 0,    /* euid 0: mount(2), mknod, trusted.* xattrs */
	TL_NEED_FUSE = 1 << 1,    /* /dev/fuse can be opened */
	TL_NEED_OVERLAY = 1 << 2, /* the kernel can mount overlay (tried once) */
	TL_NEED_LAMINA = 1 << 3,  /* $LAMINA_FUSE names an executable */
};

/*
 * Checks the needs (TL_NEED_*). Returns 0 when all are met, else -1 with a
 * sentence saying what is missing in why (why_size bytes, may be 0).
 */
int tl_require(unsigned needs, char *why, size_t why_size);

/*
 * For main(): when a need is missing, prints "PROG: SKIP: why" to stderr and
 * exits 77, which automake counts as SKIP (Check cannot skip one test).
 */
void tl_require_or_skip(const char *prog, unsigned needs);

/*
 * The whole main() of a Check test binary: skips (exit 77) unless needs are
 * met, creates this run's base scratch directory, runs every test with
 * srunner_run_all(sr, CK_ENV), removes the base directory (unmounting
 * whatever a test that crashed or timed out left mounted there) and returns
 * EXIT_FAILURE when a test failed, EXIT_SUCCESS otherwise. The process
 * becomes a child subreaper, so the FUSE daemons of a killed test come back
 * to it and are reaped by the sweep. Takes the suite.
 */
int tl_run_suite(Suite *suite, const char *prog, unsigned needs);

/*
 * The base directory of this run ($TMPDIR or /tmp, "lamina-PROG-XXXXXX"),
 * made by tl_run_suite() before any test runs, so each test's scratch
 * directory lives below it and the parent can sweep up after a test that
 * was killed. NULL outside tl_run_suite(); then scratch directories are made
 * directly in $TMPDIR.
 */
extern char *tl_scratch_base;

/*
 * The current test's scratch directory, made by tl_scratch_setup() and
 * removed by tl_scratch_teardown(): pass both to tcase_add_checked_fixture().
 * Canonical absolute path, no trailing slash.
 */
extern char *tl_scratch;
void tl_scratch_setup(void);
void tl_scratch_teardown(void);

/* Makes a new directory "TAG-XXXXXX" below parent (NULL: $TMPDIR or /tmp)
 * and returns its canonical path (caller frees). tl_fail on error. */
char *tl_scratch_new(const char *parent, const char *tag);

/*
 * Removes dir and everything below it: first every mount point at or below
 * dir (deepest first, umount2 MNT_DETACH), waiting for the FUSE daemons
 * serving them to exit (tl_fuse_daemon_wait), then the files, never crossing
 * into a file system that is still mounted. Returns 0, or -errno of the first
 * failure (the sweep goes on regardless).
 */
int tl_scratch_remove(const char *dir);

/* mkdir -p of path, mode for the ones it makes. 0 or -errno. */
int tl_mkdir_p(const char *path, mode_t mode);

/* -------------------------------------------------------------- mount.c */

/* Which implementation serves a union mount. */
enum tl_backend {
	TL_KERNEL,         /* mount(2) "overlay" */
	TL_LAMINA,         /* $LAMINA_FUSE (tests/Makemodule.am: the built lamina-fuse) */
	TL_FUSE_OVERLAYFS, /* $FUSE_OVERLAYFS or /usr/bin/fuse-overlayfs */
};

/* "kernel", "lamina-fuse", "fuse-overlayfs". */
const char *tl_backend_name(enum tl_backend backend);
/* The program a FUSE backend runs; NULL for TL_KERNEL or when $LAMINA_FUSE
 * is not set. */
const char *tl_backend_program(enum tl_backend backend);

/*
 * Options pinned on every kernel mount (before the caller's extra options, so
 * those win): the oracle must not depend on the overlay module's parameters
 * or the distribution's Kconfig defaults, which can turn redirect_dir,
 * index or metacopy on and change rename/link semantics.
 */
#define TL_KERNEL_PINNED_OPTS "redirect_dir=off,index=off,metacopy=off"

struct tl_union_opts {
	const char *const *lowers; /* top first */
	size_t nlowers;
	const char *upper;         /* NULL: a read-only union */
	const char *work;          /* required with upper */
	const char *extra;         /* appended to the option string, or NULL */
};

/* One mounted union. Zero it, or let tl_union_mount() fill it. */
struct tl_union {
	enum tl_backend backend;
	char *mnt;        /* canonical mount point; owned */
	char *log;        /* FUSE: MNT.log, where the program's output went; owned */
	pid_t daemon;     /* FUSE: the process serving the mount, 0 if not found */
	dev_t dev;        /* FUSE: st_dev of the mount (its minor names the connection) */
	bool mounted;
	char msg[1024];   /* why the last mount/umount call failed */
};

/*
 * Mounts the union o at mnt (an existing directory) with backend, and
 * returns 0 once the merged view can be used:
 * - TL_KERNEL: mount(2) "overlay" with lowerdir=...,upperdir=...,workdir=...
 *   after TL_KERNEL_PINNED_OPTS; an option string longer than a page goes
 *   through fsopen/fsconfig ("lowerdir+" once per layer) instead.
 * - FUSE backends: runs "PROGRAM -o lowerdir=...,upperdir=...,workdir=...
 *   [,extra] MNT" with stdout and stderr going to MNT.log, waits (at most
 *   20 s) until it exits 0 (it daemonizes once the mount is ready), checks
 *   that statfs(mnt) says FUSE, and finds the daemon's pid by its command
 *   line, so tl_union_umount() can wait for it. The calling process becomes
 *   a child subreaper (prctl), so the daemon is its child and its exit
 *   status can be checked.
 * The kernel needs two lowers at least when there is no upper.
 * Returns 0, or -errno with u->msg saying what failed (and, for FUSE, the
 * program's output). Release u with tl_union_umount() either way.
 */
int tl_union_mount(struct tl_union *u, enum tl_backend backend, const struct tl_union_opts *o, const char *mnt);

/*
 * Unmounts u (umount2, falling back to MNT_DETACH when busy) and, for FUSE,
 * waits until the daemon has exited. A daemon that does not exit within
 * 10 s of the unmount has its connection aborted and is killed (by pid);
 * that is reported as an error (-ETIMEDOUT), since lamina-fuse must end when
 * unmounted; so is a daemon that died of a signal or exited non-zero
 * (-ECHILD: a crash during the test shows here). Frees u's strings; calling it on a union that is not mounted
 * only frees them. Returns 0 or -errno with u->msg filled.
 */
int tl_union_umount(struct tl_union *u);

/*
 * Finds the process whose last command-line argument is mnt (the FUSE daemon
 * serving it: lamina-fuse and fuse-overlayfs take the mount point last).
 * Returns its pid, or 0.
 */
pid_t tl_fuse_daemon_find(const char *mnt);

/*
 * The sweep's unmount of a leftover mount (tl_scratch_remove): for FUSE
 * (connection number minor, from mountinfo), finds the daemon, aborts the
 * connection (if fusectl is mounted) so a hung daemon cannot block the
 * unmount, detaches the mount and waits for the daemon, killing it after
 * 2 s; otherwise only
 * umount2(MNT_DETACH). Returns 0 or -errno.
 */
int tl_umount_sweep(const char *mnt, bool fuse, unsigned minor);

/*
 * Waits up to timeout_ms for process pid to be gone (or a zombie). When pid
 * is our child, reaps it and stores its wait status in *ret_status (may be
 * NULL; untouched otherwise). Returns 0 when it is gone, -ETIMEDOUT if not.
 */
int tl_pid_wait_gone(pid_t pid, int timeout_ms, int *ret_status);

/* ------------------------------------------------------------- branch.c */

/*
 * Building branch content. Every function takes the branch root and a path
 * relative to it ("a/b/c"), creates missing parent directories (0755), works
 * on the object itself, never through a symlink at its end, and ends the
 * test (tl_fail) naming the path when a system call fails.
 */
void tl_mkdir(const char *root, const char *path, mode_t mode);
/* A regular file with len bytes of data (parents made), mode 0644. */
void tl_write(const char *root, const char *path, const void *data, size_t len);
/* tl_write of a string. */
void tl_file(const char *root, const char *path, const char *text);
/* size bytes of a pseudo-random pattern fixed by seed (same on every run). */
void tl_file_pattern(const char *root, const char *path, size_t size, unsigned seed);
/* A sparse file: a hole, then text at offset, then a hole up to size. */
void tl_sparse(const char *root, const char *path, off_t size, off_t offset, const char *text);
void tl_symlink(const char *root, const char *path, const char *target);
/* A hard link path to the existing existing. */
void tl_hardlink(const char *root, const char *path, const char *existing);
/* mknod: S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK with permission bits, dev. */
void tl_mknod(const char *root, const char *path, mode_t mode, dev_t dev);
/* The kernel's whiteout: a character device 0/0 at path. */
void tl_whiteout(const char *root, const char *path);
/* The AUFS/OCI whiteout: an empty regular file ".wh.NAME" next to NAME. */
void tl_whiteout_wh(const char *root, const char *path);
/* The kernel's opaque marker: trusted.overlay.opaque=y on directory path
 * (made if missing). */
void tl_opaque(const char *root, const char *path);
/* The AUFS/OCI opaque marker: an empty file ".wh..wh..opq" in path. */
void tl_opaque_wh(const char *root, const char *path);
/* lsetxattr(path, name, value). */
void tl_setxattr(const char *root, const char *path, const char *name, const char *value);
void tl_chmod(const char *root, const char *path, mode_t mode);
void tl_chown(const char *root, const char *path, uid_t uid, gid_t gid);
/* Sets atime and mtime of path (not following symlinks) to sec. */
void tl_mtime(const char *root, const char *path, time_t sec);

/*
 * The mtime tl_branch_build() gives every object it makes, so that two
 * branches built from one spec are equal to the second, and a file whose
 * mtime stayed at TL_EPOCH was visibly not modified (or its time preserved).
 */
#define TL_EPOCH ((time_t)1000000000) /* 2001-09-09 */

/* A spec inline: TL_SPEC("file a x", "dir b") is a NULL-terminated array. */
#define TL_SPEC(...) ((const char *const[]){ __VA_ARGS__, NULL })

/*
 * Builds a branch from a spec: a NULL-terminated array of lines, each
 * "KEYWORD PATH [ARGS]". Parents are made as needed (0755). After all lines,
 * every object's mtime and atime (the root's too) is set to TL_EPOCH, except
 * where an "mtime" line says otherwise. TEXT is the rest of the line, with
 * \n, \t, \\ and \xNN escapes; SIZE and OFFSET take a K or M suffix.
 *
 *   dir PATH [MODE]              directory (MODE octal, default 0755)
 *   file PATH [TEXT]             regular file, 0644, content TEXT (or empty)
 *   data PATH SIZE [SEED]        regular file of SIZE pattern bytes
 *   sparse PATH SIZE OFFSET TEXT hole, TEXT at OFFSET, holes up to SIZE
 *   symlink PATH TARGET          symbolic link (TARGET is kept as written)
 *   link PATH EXISTING           hard link to EXISTING
 *   fifo PATH | sock PATH        named pipe | socket inode (mknod)
 *   chr PATH MAJOR MINOR         character device; blk: block device
 *   whiteout PATH                whiteout, kernel form (char 0/0)
 *   wh PATH                      whiteout, ".wh.NAME" form
 *   opaque PATH                  opaque dir, trusted.overlay.opaque=y
 *   opq PATH                     opaque dir, ".wh..wh..opq" form
 *   xattr PATH NAME VALUE        extended attribute (VALUE is TEXT)
 *   mode PATH MODE | owner PATH UID:GID | mtime PATH SECONDS
 *
 * A malformed line ends the test naming it.
 */
void tl_branch_build(const char *root, const char *const *spec);

/* tl_branch_build() flags. */
enum {
	/* Writes "wh" and "opq" lines in the kernel's form ("whiteout",
	 * "opaque"): the kernel reads only that form, so an oracle run gives
	 * the kernel this translation of a layout whose FUSE side has the
	 * .wh. form, and the merged views must still be equal. */
	TL_BUILD_KERNEL_MARKERS = 1 << 0,
};
void tl_branch_build_flags(const char *root, const char *const *spec, unsigned flags);

/* --------------------------------------------------------------- tree.c */

/* One object of a snapshot. */
struct tl_node {
	char *path;            /* relative to the root, "." for the root itself */
	mode_t mode;           /* type and permission bits */
	uid_t uid;
	gid_t gid;
	nlink_t nlink;
	off_t size;
	dev_t rdev;            /* devices */
	bool sparse;           /* regular: allocated (st_blocks * 512) < size */
	struct timespec mtime;
	unsigned char d_type;  /* what readdir said (DT_*); the root: DT_DIR */
	bool dino_matches;     /* readdir's d_ino == lstat's st_ino */
	uint64_t hash;         /* regular files: FNV-1a 64 of the content */
	char *head;            /* regular files: the first bytes, escaped */
	char *target;          /* symlinks: readlink */
	char *xattrs;          /* "name=value; "... sorted, escaped; NULL if none */
	char *link_group;      /* non-dirs sharing an inode with another path of
				* the snapshot: the smallest such path; else NULL */
	int read_err;          /* errno of the first failed read (content,
				* readlink, xattrs), 0 if none */
	dev_t dev;             /* st_dev and st_ino: not compared */
	ino_t ino;
};

/* A snapshot: nodes sorted by path (strcmp). */
struct tl_tree {
	struct tl_node *nodes;
	size_t n;
};

/* Which extended attributes a snapshot records (prefixes). */
#define TL_SNAP_XATTR_PREFIXES { "user.", "trusted." }

/*
 * Walks the tree at root (a directory) with readdir and fstatat, never
 * following symlinks, reading every regular file, every symlink and the
 * user.* and trusted.* xattrs of every object. Returns 0 and the snapshot in
 * *ret (release with tl_tree_release), or -errno when root itself or a
 * directory cannot be listed. Unreadable objects are recorded (read_err),
 * not fatal: they are differences to report.
 */
int tl_tree_snapshot(const char *root, struct tl_tree *ret);
void tl_tree_release(struct tl_tree *tree);
/*
 * Appends the recorded xattrs (TL_SNAP_XATTR_PREFIXES) of path, not
 * following a symlink at its end, sorted, as "name=value; " with values
 * escaped. Returns 0, or the first -errno (the others are still appended).
 */
int tl_xattrs_describe(const char *path, struct tl_buf *out);

/* One directory entry, as readdir gave it. */
struct tl_dirent {
	char *name;
	unsigned char d_type;
	ino_t d_ino;
};

/*
 * Reads directory fd from its start (through a dup: fd stays open, but its
 * offset is shared and moves) without "." and "..", sorted by name. Returns 0 and *ret (free with
 * tl_dirents_free), or -errno.
 */
int tl_dir_read(int fd, struct tl_dirent **ret, size_t *ret_n);
void tl_dirents_free(struct tl_dirent *e, size_t n);

/* The node at path, or NULL. */
const struct tl_node *tl_tree_find(const struct tl_tree *tree, const char *path);

/* Fields tl_tree_diff() may be told to ignore (all compared by default). */
enum {
	TL_DIFF_NO_MTIME = 1 << 0,
	TL_DIFF_NO_NLINK = 1 << 1,
	TL_DIFF_NO_SPARSE = 1 << 2,
	TL_DIFF_NO_DINO = 1 << 3,
	/* d_ino == st_ino only where the first tree (the kernel) has it: the
	 * kernel itself does not keep it for every copied-up entry
	 * (overlayfs.rst's inode table); lamina-fuse always does */
	TL_DIFF_DINO_IF_FIRST = 1 << 4,
};

/* mtimes of non-directories within this many seconds count as equal: a
 * write "now" on each side happens seconds apart, while an mtime that was
 * lost or not preserved is years away from TL_EPOCH. */
#define TL_MTIME_SLACK 120

/*
 * Compares two snapshots and appends one line per difference to report:
 *   "  PATH: FIELD: NAME_A=VALUE NAME_B=VALUE"
 * and "  PATH: only in NAME_A (TYPE)". Returns the number of differences.
 *
 * Compared for every object: presence, type and permission bits, uid, gid,
 * xattrs (user.*, trusted.*), the d_type readdir gave, read errors.
 * Compared for non-directories: size, content hash (with the first bytes,
 * for people), symlink target, device number, link count, hard-link group,
 * sparseness, mtime within TL_MTIME_SLACK, and whether readdir's d_ino
 * equals st_ino (one inode number per object: the kernel guarantees it for
 * non-directories when all layers are on one file system, but not for
 * merged directories, whose d_ino is the upper directory's).
 * Not compared, because implementations legitimately differ:
 * - st_ino and st_dev values: each implementation numbers its own inodes;
 *   what must hold (one number per object, hard links share it) is compared
 *   through dino_matches and link_group.
 * - directory sizes: file system specific (ext4 blocks vs FUSE).
 * - directory link counts: the kernel reports 1 for a merged directory
 *   (present in two layers or more), meaning "unknown", and the real count
 *   otherwise; find(1) and friends cope with both.
 * - directory mtimes, atimes, ctimes: they change with every entry created,
 *   whiteout written or directory copied up, in an order that is an
 *   implementation detail; ctime cannot be set at all.
 * - st_blocks beyond "sparse or not": allocation is the file system's.
 */
size_t tl_tree_diff(const struct tl_tree *a, const struct tl_tree *b, const char *name_a, const char *name_b,
		    unsigned flags, struct tl_buf *report);

/* ------------------------------------------------------------ steplog.c */

/*
 * A step log: one line per step of a scenario ("open(...) = ok", "= ENOENT",
 * observations such as a file's content). Run the same steps on two
 * implementations, each into its own log, and tl_log_diff() the logs.
 * Initialise with TL_LOG_INIT, release with tl_log_release().
 */
struct tl_log {
	char **lines;
	size_t n;
	size_t alloc;
};
#define TL_LOG_INIT { NULL, 0, 0 }

void tl_log_release(struct tl_log *log);
/* Appends a free-form line (an observation). */
void tl_log_add(struct tl_log *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Records the result of one call: "LABEL = ok" for ret >= 0 (or "= RET" when
 * with_value), "LABEL = ENAME" for ret < 0 with err. Returns ret. Use the
 * macros, which take errno right after the call.
 */
long tl_log_result(struct tl_log *log, const char *label, long ret, int err, bool with_value);

/*
 * TL_TRY(log, call): runs call (a libc call returning -1 and setting errno on
 * failure), records "call = ok" or "call = ENOENT" and yields its result as a
 * long. TL_TRYV records the returned value too (byte counts, offsets; not fds,
 * whose numbers are no property of the file system).
 */
#define TL_TRY(log, call) TL_TRY_((log), #call, (call), false)
#define TL_TRYV(log, call) TL_TRY_((log), #call, (call), true)
#define TL_TRY_(log, label, call, value)                                  \
	({                                                                \
		errno = 0;                                                \
		long tl_r_ = (long)(call);                                \
		int tl_e_ = errno;                                        \
		tl_log_result((log), (label), tl_r_, tl_e_, (value));     \
	})

/* Records the fields of st that implementations must agree on: type and
 * permission bits, uid, gid, nlink (non-directories), size (non-directories),
 * rdev (devices). Nothing when ret < 0 (the call's own line said why). */
void tl_log_stat(struct tl_log *log, const char *label, const struct stat *st);
/* fstatat(dirfd, path, flags) and tl_log_stat, or the errno. */
void tl_log_fstatat(struct tl_log *log, int dirfd, const char *path, int flags);
/* fstat(fd) and tl_log_stat, or the errno. */
void tl_log_fstat(struct tl_log *log, const char *label, int fd);
/* Reads up to max bytes at offset (pread) and records them, escaped. */
void tl_log_pread(struct tl_log *log, const char *label, int fd, size_t max, off_t offset);
/* Opens path below dirfd read-only, records the whole content (up to 64 KiB)
 * or the errno of the open/read. */
void tl_log_content(struct tl_log *log, int dirfd, const char *path);
/* Lists the directory path below dirfd: sorted "name/d_type" entries without
 * "." and "..", or the errno. */
void tl_log_listdir(struct tl_log *log, int dirfd, const char *path);
/* tl_xattrs_describe(path) or its errno, recorded under label (path is a
 * full path, which differs between mounts: label must not contain it). */
void tl_log_xattrs(struct tl_log *log, const char *label, const char *path);

/*
 * Compares two logs line by line; appends "  step N: NAME_A: LINE / NAME_B:
 * LINE" for each line that differs, and a note when one log is longer.
 * Returns the number of differing lines.
 */
size_t tl_log_diff(const struct tl_log *a, const struct tl_log *b, const char *name_a, const char *name_b,
		   struct tl_buf *report);

/* ------------------------------------------------------------- oracle.c */

#define TL_MAX_LOWERS 128 /* the "at least 128 lowers" */

/* The branches of a scenario, as tl_branch_build() specs. */
struct tl_layout {
	const char *const *lowers[TL_MAX_LOWERS]; /* top first; unused slots NULL */
	const char *const *upper;                 /* initial upper content; NULL: empty */
	bool readonly;                            /* no upper at all */
};

/*
 * What a scenario's steps get: the mount, a log to record into, and the
 * scenario's argument. Steps work relative to root with *at() calls, or on
 * full paths from tl_ctx_path() where no *at() call exists (truncate,
 * xattrs, statfs). Steps must close every fd they open.
 */
struct tl_ctx {
	enum tl_backend backend;
	const char *mnt;   /* canonical mount point */
	int root;          /* O_RDONLY|O_DIRECTORY fd of mnt */
	struct tl_log *log;
	const void *arg;   /* the scenario's */
	char paths[4][8192];
	unsigned next_path;
};

/* "MNT/rel" in one of four rotating buffers of the ctx (so a call can take
 * two paths). Fine beyond PATH_MAX: the call then fails, as it should. */
const char *tl_ctx_path(struct tl_ctx *ctx, const char *rel);

/* Flags of a scenario. */
enum {
	TL_ORACLE_NO_INTEROP_A = 1 << 0, /* skip interop (a), the kernel on fuse's upper */
	TL_ORACLE_NO_INTEROP_B = 1 << 1, /* skip interop (b), fuse on the kernel's upper */
	TL_ORACLE_NO_INTEROP = TL_ORACLE_NO_INTEROP_A | TL_ORACLE_NO_INTEROP_B,
	/* The kernel side's branches are built with TL_BUILD_KERNEL_MARKERS,
	 * the FUSE side's as written: for the .wh. forms, which only FUSE
	 * reads. Implies TL_ORACLE_NO_INTEROP_A (the kernel cannot read the
	 * FUSE side's lowers). */
	TL_ORACLE_KERNEL_MARKERS = 1 << 2,
	/* the tl_tree_diff flags (TL_DIFF_*) go in diff_flags */
};

struct tl_scenario {
	const char *name;
	struct tl_layout layout;
	void (*steps)(struct tl_ctx *ctx);
	const void *arg;
	const char *kernel_opts; /* appended to the kernel's options ("index=on") */
	const char *fuse_opts;   /* appended to the FUSE program's options */
	unsigned flags;          /* TL_ORACLE_* */
	unsigned diff_flags;     /* TL_DIFF_*, for the tree comparisons */
};

/*
 * Runs a scenario against the kernel oracle, in dir (made if missing; use
 * the test's scratch):
 *  1. for each of the kernel and fuse (TL_LAMINA or TL_FUSE_OVERLAYFS):
 *     builds the layout afresh under dir/kernel or dir/fuse (lowers l0..,
 *     upper u, work w, mount point m), mounts it, runs the steps into that
 *     side's log, snapshots the merged tree, unmounts;
 *  2. compares the two logs (errno of every step) and the two trees;
 *  3. interop, unless TL_ORACLE_NO_INTEROP or read-only:
 *     (a) the kernel mounts the fuse side's lowers and upper (fresh workdir):
 *         its tree must equal the fuse side's merged tree;
 *     (b) fuse mounts the kernel side's lowers and upper (fresh workdir):
 *         its tree must equal the kernel side's merged tree.
 * Appends every difference, in sections, to report; the trees themselves
 * are not printed. Returns the number of sections with differences (0: the
 * implementations agree); a mount or unmount that fails counts as one.
 */
size_t tl_oracle_run(const struct tl_scenario *sc, const char *dir, enum tl_backend fuse, struct tl_buf *report);

/*
 * Runs sc's steps on one implementation only, with no comparison: builds the
 * layout under dir/kernel or dir/fuse, mounts it with backend (and sc's
 * options for it), runs the steps into log, snapshots the merged tree into
 * *ret_tree (may be NULL; release it), unmounts. Returns the number of
 * failures (mount, unmount, snapshot), described in report. For tests that
 * check a documented expectation where the kernel cannot be the oracle.
 */
size_t tl_scenario_run_one(const struct tl_scenario *sc, const char *dir, enum tl_backend backend, struct tl_log *log,
			   struct tl_tree *ret_tree, struct tl_buf *report);

/*
 * Whether the kernel mounts an overlay with upper and extra options (such as
 * "index=on", which needs file handles the file system may not have) on the
 * file system of $TMPDIR, where the tests' branches are.
 */
bool tl_kernel_accepts(const char *extra);

/*
 * For a Check test: runs sc with tl_oracle_run() in a new directory below
 * tl_scratch (use tl_scratch_setup as the fixture) against
 * tl_oracle_fuse_backend(), prints the whole report to stderr (the test's
 * log) and fails the test with it (cut to fit Check's message) when anything
 * differs.
 */
void tl_oracle_assert(const struct tl_scenario *sc);

/*
 * The FUSE backend scenario tests compare against the kernel: TL_LAMINA, or
 * TL_FUSE_OVERLAYFS when $TL_FUSE_BACKEND is "fuse-overlayfs" (to develop
 * tests before lamina-fuse works, or to see where fuse-overlayfs differs).
 */
enum tl_backend tl_oracle_fuse_backend(void);

#endif
