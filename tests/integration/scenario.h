/*
 * tests/integration/scenario.h: what the scenario test binaries share: the
 * standard layout every area starts from, the shorthands steps are written
 * with, and the suite that runs a table of scenarios, one Check test each,
 * against the kernel oracle (tl_oracle_assert, tests/lib/testlib.h).
 *
 * Adding a scenario is adding a row to a table:
 *   SC("chmod-lower", STD, st_chmod, "lo"),
 * runs st_chmod(ctx) with ctx->arg "lo" on the kernel's overlay and on
 * lamina-fuse over fresh copies of the standard layout, compares the step
 * logs and the merged trees, then the two interop mounts.
 */
#ifndef LAMINA_TESTS_SCENARIO_H
#define LAMINA_TESTS_SCENARIO_H

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"

/*
 * The standard layout: two lowers and an upper with objects in every
 * position. Names say where an object lives:
 *   lo*    only in the top lower (lo is also in the bottom lower, hidden)
 *   deep   only in the bottom lower
 *   up*    only in the upper
 *   both*  in the upper and the top lower (the upper's wins or merges)
 *   wo     a file in the bottom lower, whited out in the upper
 *   opqdir a directory in the bottom lower, opaque in the upper
 * Files:    lo, deep, up, both, lobig (256K), losparse (1M, 4 bytes at
 *           512K), lomode (0600, 1000:1000), loexec (0755)
 * Dirs:     lodir (merged over both lowers: a, sub/b, low1), loempty,
 *           updir (x), upempty, bothdir (lo, up, bottom, same)
 * Others:   lolink -> lo, uplink -> up, dangling -> nowhere, lofifo,
 *           lochr (1:3), losock
 * xattrs:   lo user.a=1, lodir user.d=dir, up user.u=up
 */
extern const char *const std_lower0[], *const std_lower1[], *const std_upper[];
#define STD { .lowers = { std_lower0, std_lower1 }, .upper = std_upper }

/* A row of a scenario table. */
#define SC(name_, layout_, steps_, arg_, ...) \
	{ .name = (name_), .layout = layout_, .steps = (steps_), .arg = (arg_), __VA_ARGS__ }

/* Shorthands inside a steps function (struct tl_ctx *ctx in scope). */
#define T(call) TL_TRY_(ctx->log, #call, (call), false) /* record ok/errno */
#define TV(call) TL_TRY_(ctx->log, #call, (call), true) /* record the value too */
#define ARG ((const char *)ctx->arg)            /* the scenario's argument */
#define P(rel) tl_ctx_path(ctx, (rel))          /* full path, for calls without *at() */
#define ROOT (ctx->root)
#define LOG (ctx->log)
#define CLOSE(fd)                          \
	do {                               \
		if ((fd) >= 0)             \
			T(close(fd));      \
	} while (0)

/* Common observations after a step. */
/* lstat of rel and its content (regular files). */
void obs(struct tl_ctx *ctx, const char *rel);
/* The listing of the directory rel. */
void obs_ls(struct tl_ctx *ctx, const char *rel);

/* Opens rel with flags (mode 0644 when creating), writes text at offset
 * (-1: with write(), at the file offset), closes: each call recorded. */
void write_at(struct tl_ctx *ctx, const char *rel, int flags, const char *text, off_t offset);

/*
 * Runs fn(ctx, arg) in a child process, as uid:gid (with no supplementary
 * groups) unless uid is 0, and appends the lines it logged to ctx's log
 * after "child: ". For permission checks as another user, and for locks,
 * which only another process can see.
 */
void in_child(struct tl_ctx *ctx, uid_t uid, gid_t gid, void (*fn)(struct tl_ctx *ctx, const void *arg),
	      const void *arg);

/* The directory part of rel ("." when none), in a ctx path buffer. */
const char *parent_of(struct tl_ctx *ctx, const char *rel);

/*
 * The main() of a scenario binary: one Check test per row of table (n rows),
 * each in its own scratch directory, timeout generous for four mounts.
 * Skips (exit 77) without root, /dev/fuse, the kernel's overlay or
 * $LAMINA_FUSE. lamina_only (NULL-terminated, may be NULL) are tests of
 * documented lamina-fuse behaviour where the kernel is no oracle, run (with
 * the scratch fixture) only when the FUSE backend is lamina-fuse.
 */
int scenario_main(const char *prog, const struct tl_scenario *table, size_t n, const TTest *const *lamina_only);

#endif
