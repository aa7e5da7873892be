/*
 * tests/integration/test-union-caches.c: a change made through the mount is
 * seen at once through it, whatever the kernel caches. lamina-fuse lets the
 * kernel keep entries, attributes, file pages, symlink targets and directory
 * listings for a long time (docs/unionfs.md, "Caches"); these scenarios fill
 * each cache first, change what it holds through the mount, and look again,
 * with the kernel's overlayfs as the oracle.
 */
#include <dirent.h>
#include <errno.h>

#include "tests/integration/scenario.h"

/* Pages and attributes of a file: read it, change it through another
 * descriptor, through its name, and read it again. */
static void st_file_pages(struct tl_ctx *ctx)
{
	int rd = T(openat(ROOT, ARG, O_RDONLY));
	tl_log_pread(LOG, "before", rd, 64, 0);
	obs(ctx, ARG);
	write_at(ctx, ARG, O_WRONLY | O_APPEND, "appended\n", -1);
	tl_log_pread(LOG, "after append, old fd", rd, 64, 0);
	tl_log_fstat(LOG, "old fd", rd);
	obs(ctx, ARG);
	T(truncate(P(ARG), 3));
	tl_log_pread(LOG, "after truncate", rd, 64, 0);
	obs(ctx, ARG);
	write_at(ctx, ARG, O_WRONLY, "ZZ", 1);
	tl_log_pread(LOG, "after pwrite", rd, 64, 0);
	CLOSE(rd);
	int again = T(openat(ROOT, ARG, O_RDONLY));
	tl_log_pread(LOG, "reopened", again, 64, 0);
	CLOSE(again);
}

/* A listing (cached by the kernel, also while the directory stays open)
 * after names come and go in it. */
static void st_dir_listing(struct tl_ctx *ctx)
{
	char a[64], b[64], c[64];
	obs_ls(ctx, ARG);
	int dfd = T(openat(ROOT, ARG, O_RDONLY | O_DIRECTORY));
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	size_t before = 0, after = 0;
	while (d && readdir(d))
		before++;
	snprintf(a, sizeof(a), "%s/new-file", ARG);
	snprintf(b, sizeof(b), "%s/new-dir", ARG);
	snprintf(c, sizeof(c), "%s/renamed", ARG);
	write_at(ctx, a, O_WRONLY | O_CREAT, "n\n", -1);
	T(mkdirat(ROOT, b, 0755));
	T(renameat(ROOT, a, ROOT, c));
	if (d) {
		rewinddir(d);
		while (readdir(d))
			after++;
		tl_log_add(LOG, "open stream: %zu entries, after rewind %zu", before, after);
		closedir(d);
	}
	obs_ls(ctx, ARG);
	T(unlinkat(ROOT, c, 0));
	T(unlinkat(ROOT, b, AT_REMOVEDIR));
	obs_ls(ctx, ARG);
}

/* Attributes a listing brought along (readdirplus) after they change. */
static void st_listed_attrs(struct tl_ctx *ctx)
{
	char rel[64];
	obs_ls(ctx, ARG);
	snprintf(rel, sizeof(rel), "%s/a", ARG);
	obs(ctx, rel);
	T(fchmodat(ROOT, rel, 0600, 0));
	T(fchownat(ROOT, rel, 1000, 1000, 0));
	obs(ctx, rel);
	obs_ls(ctx, ARG);
	obs(ctx, rel);
}

/* A name the kernel knows to be missing, then made in every way. */
static void st_negative_entries(struct tl_ctx *ctx)
{
	obs(ctx, "n1");
	obs(ctx, "n2");
	obs(ctx, "n3");
	obs(ctx, "lo");
	write_at(ctx, "n1", O_WRONLY | O_CREAT, "one\n", -1);
	T(renameat(ROOT, "up", ROOT, "n2"));
	T(symlinkat("lo", ROOT, "n3"));
	obs(ctx, "n1");
	obs(ctx, "n2");
	obs(ctx, "n3");
	obs(ctx, "up");
	T(unlinkat(ROOT, "lo", 0));
	obs(ctx, "lo");
	write_at(ctx, "lo", O_WRONLY | O_CREAT, "back\n", -1);
	obs(ctx, "lo");
}

/* Copy-up behind the kernel's back: a lower directory that gets an upper
 * part is merged from then on (nlink 1, as on the kernel). */
static void st_dir_becomes_merged(struct tl_ctx *ctx)
{
	char rel[64];
	obs(ctx, ARG);
	snprintf(rel, sizeof(rel), "%s/made", ARG);
	write_at(ctx, rel, O_WRONLY | O_CREAT, "m\n", -1);
	obs(ctx, ARG);
	obs_ls(ctx, ARG);
}

/* The target of rel, and what opening a path through it finds. */
static void obs_link(struct tl_ctx *ctx, const char *rel)
{
	char target[256];
	ssize_t n = readlinkat(ROOT, rel, target, sizeof(target) - 1);
	if (n < 0) {
		tl_log_add(LOG, "readlink %s: %s", rel, strerror(errno));
	} else {
		target[n] = '\0';
		tl_log_add(LOG, "readlink %s: '%s'", rel, target);
	}
	tl_log_content(LOG, ROOT, rel); /* follows it */
}

/* Symlink targets (cached by the kernel) after the link is replaced in
 * every way, and after its copy-up. */
static void st_symlink_targets(struct tl_ctx *ctx)
{
	obs_link(ctx, "lolink");
	obs_link(ctx, "uplink");
	T(fchownat(ROOT, "lolink", 1000, 1000, AT_SYMLINK_NOFOLLOW)); /* copy-up */
	obs_link(ctx, "lolink");
	T(unlinkat(ROOT, "lolink", 0));
	T(symlinkat("both", ROOT, "lolink"));
	obs_link(ctx, "lolink");
	T(renameat(ROOT, "uplink", ROOT, "lolink"));
	obs_link(ctx, "lolink");
	obs_link(ctx, "uplink");
	T(symlinkat("deep", ROOT, "uplink"));
	obs_link(ctx, "uplink");
}

static const struct tl_scenario scenarios[] = {
	SC("pages-lower", STD, st_file_pages, "lo"),
	SC("pages-upper", STD, st_file_pages, "up"),
	SC("pages-both", STD, st_file_pages, "both"),
	SC("listing-lower-dir", STD, st_dir_listing, "lodir"),
	SC("listing-upper-dir", STD, st_dir_listing, "updir"),
	SC("listing-merged-dir", STD, st_dir_listing, "bothdir"),
	SC("listing-root", STD, st_dir_listing, "."),
	SC("listed-attrs-lower", STD, st_listed_attrs, "lodir"),
	SC("negative-entries", STD, st_negative_entries, NULL),
	SC("symlink-targets", STD, st_symlink_targets, NULL),
	SC("lower-dir-becomes-merged", STD, st_dir_becomes_merged, "lodir/sub"),
	SC("empty-lower-dir-becomes-merged", STD, st_dir_becomes_merged, "loempty"),
};

int main(void)
{
	return scenario_main("test-union-caches", scenarios, ELEMENTSOF(scenarios), NULL);
}
