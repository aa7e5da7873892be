/*
 * tests/unit/voltest.h: what the volume tests share (compiled into each
 * test-volumes-* binary): a store on the test's scratch folder, volumes made
 * in one line, children that run an operation (and may be killed at a
 * crashpoint), and an independent look at /proc/self/mountinfo, so that
 * mount tests do not take the library's word for what is mounted.
 *
 * Set-up helpers end the test on failure (ck_assert); observers return what
 * they saw.
 */
#ifndef LAMINA_TESTS_VOLTEST_H
#define LAMINA_TESTS_VOLTEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <lamina/store.h>
#include <lamina/volume.h>

/* A NULL-terminated list of strings, in place: L("type=tmpfs", "o=size=1m"). */
#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* The current test's store at vt_root(), opened by vt_setup() and closed by
 * vt_teardown() (the fixture: they also make and remove tl_scratch). */
extern struct lamina_store *vt_store;
void vt_setup(void);
void vt_teardown(void);

/* tl_scratch/root: the store's root for this test. Static buffer. */
const char *vt_root(void);

/* Opens (creating) the store at vt_root(). */
struct lamina_store *vt_open(void);

/*
 * Creates a volume; name NULL: anonymous. opts and labels are "k=v" strings
 * ending in NULL (either may be NULL). Returns the call's result, with
 * *ret (may be NULL) the volume and err filled.
 */
int vt_create(struct lamina_store *s, const char *name, const char *const *opts, const char *const *labels,
	      struct lamina_volume **ret, struct lm_error *err);
/* The same, asserting that it made a new volume (0); returns its name. */
char *vt_create_ok(struct lamina_store *s, const char *name, const char *const *opts, const char *const *labels);

/* Writes content to root/rel (parents made), ending the test on failure. */
void vt_write(const char *root, const char *rel, const char *content);
/* Whether path exists (lstat). */
bool vt_exists(const char *path);
/* "ROOT/volumes/NAME/_data", static rotating buffer. */
const char *vt_data(const char *name);

/* The file-system type mounted at path now (the topmost), read from
 * /proc/self/mountinfo by this helper, or NULL when path is no mount point.
 * Caller frees. */
char *vt_mounted_type(const char *path);

/*
 * Runs fn(arg) in a forked child, with $LAMINA_CRASHPOINT set to crashpoint
 * (may be NULL) there. The child opens its own store (vt_open) and exits
 * with fn's result as (-r & 0xff). Returns the wait status. The caller must
 * have no store open: a sqlite connection must not cross a fork.
 */
int vt_child(int (*fn)(struct lamina_store *s, void *arg), void *arg, const char *crashpoint);
/* What the child of vt_child runs: opens the store, runs fn, returns the
 * exit status to give. */
int vt_child_body(int (*fn)(struct lamina_store *s, void *arg), void *arg);
/*
 * Starts fn(arg) in a child as vt_child does, without waiting: the child
 * first closes child_closes (the parent's end of a pipe; -1: none). The
 * parent's vt_store is closed across the fork and opened again. Returns the
 * child's pid, for vt_reap(), which asserts that it exited with 0.
 */
pid_t vt_spawn(int (*fn)(struct lamina_store *s, void *arg), void *arg, int child_closes);
void vt_reap(pid_t pid);

/* Asserts that a wait status is death by SIGKILL (naming crashpoint). */
void vt_assert_killed(int status, const char *crashpoint);

/* Runs lamina_check and asserts that it reports a line containing want
 * whose repaired flag is fixed (when want is non-NULL), or nothing at all
 * (want NULL). Prints every line to stderr (the test's log). Returns the
 * number of problems. */
size_t vt_check(struct lamina_store *s, bool repair, const char *want, bool fixed);

/* The number of names in ROOT/tmp; in the folder dir. */
size_t vt_tmp_entries(void);
size_t vt_entries(const char *dir);

/* The content of the file at path (NUL-terminated), ending the test on
 * failure. Caller frees. */
char *vt_read(const char *path);

#endif
