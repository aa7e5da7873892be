/*
 * tests/integration/test-union-safety.c: a symlink inside a branch never
 * makes the daemon read or write outside the branches, with the kernel as
 * the oracle. A host directory OUT outside every branch holds a secret; the
 * bottom lower has symlinks to it (absolute, and relative with enough ".."
 * to climb out of any branch) in places where the top lower has real
 * directories, and as plain entries. Every scenario works through the
 * merged view, then logs OUT's listing and the secret's content: the two
 * must be what they were, on lamina-fuse as on the kernel (which runs
 * first, so a write that only lamina-fuse made shows in its log alone).
 */
#include <limits.h>
#include <stdlib.h>
#include <sys/xattr.h>

#include "tests/integration/scenario.h"

static char out_dir[64] = "/tmp/lamina-outside-XXXXXX";
static char spec_abs_dir[PATH_MAX], spec_rel_dir[PATH_MAX], spec_abs_entry[PATH_MAX], spec_rel_entry[PATH_MAX];

static const char *safe_top[] = {
	"file d/x x\\n",
	"file e/y y\\n",
	"dir f",
	NULL,
};

/* filled in main(): the symlinks to OUT */
static const char *safe_bottom[] = {
	spec_abs_dir,   /* d -> OUT, under the top's directory d */
	spec_rel_dir,   /* e -> ../../..OUT, under the top's directory e */
	spec_abs_entry, /* f/g -> OUT */
	spec_rel_entry, /* h -> ../../..OUT */
	"file f/keep k\\n",
	NULL,
};

#define SAFE { .lowers = { safe_top, safe_bottom } }

/* OUT must look as it did: the secret alone, unchanged. */
static void obs_outside(struct tl_ctx *ctx)
{
	char secret[PATH_MAX];
	snprintf(secret, sizeof(secret), "%s/secret", out_dir);
	tl_log_add(LOG, "outside:");
	tl_log_listdir(LOG, AT_FDCWD, out_dir);
	tl_log_content(LOG, AT_FDCWD, secret);
}

/* Works inside a directory of the top lower whose bottom-lower twin is a
 * symlink out of the branch. */
static void st_dir_over_symlink(struct tl_ctx *ctx)
{
	char rel[64];
	const char *d = ARG;
	obs_ls(ctx, d);
	snprintf(rel, sizeof(rel), "%s/secret", d);
	obs(ctx, rel);
	write_at(ctx, rel, O_WRONLY | O_CREAT | O_EXCL, "planted\n", -1);
	snprintf(rel, sizeof(rel), "%s/new", d);
	write_at(ctx, rel, O_WRONLY | O_CREAT, "new\n", -1);
	snprintf(rel, sizeof(rel), "%s/sub", d);
	T(mkdirat(ROOT, rel, 0755));
	T(fchmodat(ROOT, d, 0700, 0));
	T(lsetxattr(P(d), "user.k", "v", 1, 0));
	obs_ls(ctx, d);
	obs_outside(ctx);
}

/* Removes and recreates the directory: the whiteout and the opaque
 * directory land in the upper, not through the symlink below. */
static void st_replace_dir(struct tl_ctx *ctx)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%s/%s", ARG, ARG[0] == 'd' ? "x" : "y");
	T(unlinkat(ROOT, rel, 0));
	T(unlinkat(ROOT, ARG, AT_REMOVEDIR));
	T(mkdirat(ROOT, ARG, 0755));
	obs_ls(ctx, ARG);
	snprintf(rel, sizeof(rel), "%s/secret", ARG);
	obs(ctx, rel);
	obs_outside(ctx);
}

/* The symlinks as entries: reading them, changing them (copy-up of a
 * symlink must not follow it), moving and removing them. */
static void st_symlink_entries(struct tl_ctx *ctx)
{
	char buf[PATH_MAX];
	const char *s = ARG;
	ssize_t n = TV(readlinkat(ROOT, s, buf, sizeof(buf)));
	if (n > 0)
		tl_log_add(LOG, "target ends '%.*s'", (int)(n < 12 ? n : 12), buf + (n < 12 ? 0 : n - 12));
	T(fchownat(ROOT, s, 1000, 1000, AT_SYMLINK_NOFOLLOW));
	struct timespec t[2] = { { .tv_sec = 1000 }, { .tv_sec = 2000 } };
	T(utimensat(ROOT, s, t, AT_SYMLINK_NOFOLLOW));
	T(lsetxattr(P(s), "trusted.k", "v", 1, 0));
	obs(ctx, s);
	T(renameat(ROOT, s, ROOT, "moved"));
	obs(ctx, "moved");
	T(linkat(ROOT, "moved", ROOT, "linked", 0));
	T(unlinkat(ROOT, "moved", 0));
	obs_ls(ctx, ".");
	obs_outside(ctx);
}

/* Opening through the symlink entry is the caller's business (the kernel
 * resolves it in the caller's namespace); the daemon only reads the link. */
static void st_follow_is_the_callers(struct tl_ctx *ctx)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%s/secret", ARG);
	obs(ctx, rel);
	int fd = T(openat(ROOT, rel, O_RDONLY | O_NOFOLLOW));
	CLOSE(fd);
	obs_outside(ctx);
}

static struct tl_scenario scenarios[] = {
	SC("dir-over-absolute-symlink", SAFE, st_dir_over_symlink, "d"),
	SC("dir-over-relative-symlink", SAFE, st_dir_over_symlink, "e"),
	SC("replace-dir-over-absolute-symlink", SAFE, st_replace_dir, "d"),
	SC("replace-dir-over-relative-symlink", SAFE, st_replace_dir, "e"),
	SC("absolute-symlink-entry", SAFE, st_symlink_entries, "f/g"),
	SC("relative-symlink-entry", SAFE, st_symlink_entries, "h"),
	SC("open-through-symlink-entry", SAFE, st_follow_is_the_callers, "h"),
};

int main(void)
{
	tl_require_or_skip("test-union-safety", TL_NEED_ROOT | TL_NEED_OVERLAY);
	if (!mkdtemp(out_dir)) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	char secret[PATH_MAX];
	snprintf(secret, sizeof(secret), "%s/secret", out_dir);
	FILE *f = fopen(secret, "w");
	if (!f || fputs("the host's secret\n", f) < 0 || fclose(f) != 0) {
		perror(secret);
		return EXIT_FAILURE;
	}
	/* ".." at "/" stays at "/": 32 of them leave any branch */
	char ups[32 * 3 + 1] = "";
	for (int i = 0; i < 32; i++)
		strcat(ups, "../");
	snprintf(spec_abs_dir, sizeof(spec_abs_dir), "symlink d %s", out_dir);
	snprintf(spec_rel_dir, sizeof(spec_rel_dir), "symlink e %s%s", ups, out_dir + 1);
	snprintf(spec_abs_entry, sizeof(spec_abs_entry), "symlink f/g %s", out_dir);
	snprintf(spec_rel_entry, sizeof(spec_rel_entry), "symlink h %s%s", ups, out_dir + 1);
	int r = scenario_main("test-union-safety", scenarios, ELEMENTSOF(scenarios), NULL);
	unlink(secret);
	rmdir(out_dir);
	return r;
}
