/*
 * common/crashpoint.h: named places where a test may kill the process, to
 * prove that every half-done state a crash can leave is one that the next
 * command and `lamina check --repair` handle.
 *
 * A test runs an operation in a child process with LAMINA_CRASHPOINT set to
 * one name ("volume-create:after-rename"); when the child reaches that
 * lm_crashpoint() call it dies of SIGKILL, exactly as a kill -9 or an OOM
 * kill would stop it: no cleanup handler, no atexit, no sqlite rollback.
 * Names are "OBJECT-OPERATION:after-STEP"; docs/volumes.md lists them.
 */
#ifndef LAMINA_COMMON_CRASHPOINT_H
#define LAMINA_COMMON_CRASHPOINT_H

/* raise(SIGKILL) when $LAMINA_CRASHPOINT equals name; else nothing.
 * Thread-safety: safe. */
void lm_crashpoint(const char *name);

#endif
