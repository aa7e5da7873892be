/*
 * tests/integration/daemontest.h: what test-daemon.c's tests share: a real
 * laminad ($LAMINAD) started on a socket and a store root in the test's
 * scratch folder, plugin calls through tests/lib/plugclient.h with the
 * protocol's success and error rules asserted, the lamina CLI ($LAMINA) on
 * the same root, and an independent look at /proc/self/mountinfo.
 *
 * The helpers end the test (ck_assert) when something the test relies on
 * goes wrong; the message carries the endpoint, the body and the reply.
 * Thread-safety: none; all of it belongs to the test's main thread (Check's
 * asserts do not work from other threads: those call pc_post directly).
 */
#ifndef LAMINA_TESTS_DAEMONTEST_H
#define LAMINA_TESTS_DAEMONTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "tests/lib/plugclient.h"

/* The running daemon of the current test (dt_start). */
struct dt_daemon {
	pid_t pid;
	char *sock;  /* tl_scratch/run/lamina.sock */
	char *root;  /* tl_scratch/root: the store, --root */
	char *log;   /* tl_scratch/laminad.log: its stderr */
};
extern struct dt_daemon dt;

/* The fixture: tl_scratch_setup and dt_start; dt_kill and the sweep. */
void dt_setup(void);
void dt_teardown(void);

/* Starts laminad and waits (at most 30 s) until its socket answers a
 * connect; fails the test with the log if it exits first. */
void dt_start(void);
/* SIGTERM, then dt_wait_exit_ok(). */
void dt_stop_ok(void);
/* Asserts that laminad exits 0 (within 60 s) and that the socket file is
 * gone after. */
void dt_wait_exit_ok(void);
/* SIGKILL if still running (teardown). */
void dt_kill(void);
/* Prints laminad's log to stderr (the test's log). */
void dt_print_log(void);

/* POST /endpoint with body (a JSON text; NULL: empty) on the test's socket.
 * Asserts that a reply came. */
void dt_post(const char *endpoint, const char *body, struct pc_reply *r);

/*
 * A call that must succeed: HTTP 200, a JSON object, "Err" absent or "".
 * Returns the reply object (caller json_decref's).
 */
json_t *dt_ok(const char *endpoint, const char *body);
/* dt_ok with the body built by printf. */
json_t *dt_okf(const char *endpoint, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A call that must fail the protocol's way: a JSON {"Err": "non-empty"}
 * (with 200 or another status). When want is not NULL, Err must contain it.
 * Returns Err (caller frees).
 */
char *dt_err(const char *endpoint, const char *body, const char *want);

/* The string member key of obj, asserted present. */
const char *dt_str(json_t *obj, const char *key);

/*
 * Runs "$LAMINA --root ROOT ARGS" (args: a shell word list, quoted by the
 * caller) and returns its stdout (caller frees); *ret_status its exit code.
 */
char *dt_lamina(int *ret_status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dt_lamina that must exit 0; the output parsed as JSON (new reference). */
json_t *dt_lamina_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Asserts that `lamina check` finds no problem. */
void dt_lamina_check_clean(void);

/* The file-system type mounted at path (topmost), from mountinfo, or NULL.
 * Caller frees. */
char *dt_mounted_type(const char *path);

/* The content of the file at path, or NULL (caller frees). */
char *dt_read(const char *path);

#endif
