/*
 * tests/integration/test-union-names.c: the name space of the standard
 * layout (scenario.h), with the kernel as the oracle: mknod (fifo, socket,
 * devices), mkdir, unlink, rmdir (empty, non-empty merged, emptied of lower
 * children, which leaves whiteouts), symlink, readlink, link (of lower and
 * upper files), rename (files and directories, lower and upper, over
 * existing names, RENAME_NOREPLACE, RENAME_EXCHANGE, lower directories:
 * EXDEV), names longer than NAME_MAX and paths near PATH_MAX.
 *
 * Not compared, by design (docs/unionfs.md, "Differences from the kernel's
 * overlayfs"): names starting with ".wh." cannot be created on lamina-fuse
 * (EINVAL), because it reads ".wh.NAME" files as whiteouts; the kernel
 * allows them. test_wh_names_refused checks lamina-fuse's documented answer
 * instead of comparing with the kernel.
 */
#include <limits.h>
#include <sys/sysmacros.h>

#include "tests/integration/scenario.h"

/* Two names and flags: rename, link, symlink (target, name). */
struct pair {
	const char *a, *b;
	unsigned flags;
};
#define PAIR(a_, b_) (&(const struct pair){ (a_), (b_), 0 })
#define PAIRF(a_, b_, f_) (&(const struct pair){ (a_), (b_), (f_) })
#define PR ((const struct pair *)ctx->arg)

/* A node to make with mknod. */
struct node {
	const char *name;
	mode_t mode;
	unsigned major, minor;
};
#define NODE(n_, m_, ma_, mi_) (&(const struct node){ (n_), (m_), (ma_), (mi_) })

/* ---- mknod, mkdir */

static void st_mknod(struct tl_ctx *ctx)
{
	const struct node *n = ctx->arg;

	T(mknodat(ROOT, n->name, n->mode, makedev(n->major, n->minor)));
	obs(ctx, n->name);
	obs_ls(ctx, parent_of(ctx, n->name));
}

static void st_mkdir(struct tl_ctx *ctx)
{
	T(mkdirat(ROOT, ARG, 0750));
	obs(ctx, ARG);
	obs_ls(ctx, ARG);
	obs_ls(ctx, parent_of(ctx, ARG));
}

/* Removes everything in the merged directory rel, depth first, each step
 * recorded; with self, rel too. */
static void remove_tree(struct tl_ctx *ctx, const char *rel, bool self)
{
	_cleanup_close_ int fd = openat(ROOT, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct tl_dirent *e = NULL;
	size_t n = 0;

	if (fd >= 0 && tl_dir_read(fd, &e, &n) == 0)
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *child = tl_strdupf("%s/%s", rel, e[i].name);

			if (e[i].d_type == DT_DIR)
				remove_tree(ctx, child, true);
			else
				T(unlinkat(ROOT, child, 0));
		}
	tl_dirents_free(e, n);
	if (self)
		T(unlinkat(ROOT, rel, AT_REMOVEDIR));
}

/* rm -r DIR; mkdir DIR: the new directory must not show the old children
 * (the kernel makes it opaque). */
static void st_mkdir_after_rm(struct tl_ctx *ctx)
{
	_cleanup_free_ char *inside = tl_strdupf("%s/again", ARG);

	remove_tree(ctx, ARG, true);
	T(mkdirat(ROOT, ARG, 0700));
	obs_ls(ctx, ARG);
	write_at(ctx, inside, O_WRONLY | O_CREAT, "again\n", -1);
	obs_ls(ctx, ARG);
	obs(ctx, ARG);
}

/* ---- unlink, rmdir */

static void st_unlink(struct tl_ctx *ctx)
{
	T(unlinkat(ROOT, ARG, 0));
	obs(ctx, ARG);
	obs_ls(ctx, parent_of(ctx, ARG));
}

static void st_unlink_recreate(struct tl_ctx *ctx)
{
	T(unlinkat(ROOT, ARG, 0));
	write_at(ctx, ARG, O_WRONLY | O_CREAT | O_EXCL, "again\n", -1);
	obs(ctx, ARG);
	obs_ls(ctx, parent_of(ctx, ARG));
}

static void st_rmdir(struct tl_ctx *ctx)
{
	T(unlinkat(ROOT, ARG, AT_REMOVEDIR));
	obs(ctx, ARG);
	obs_ls(ctx, ARG);
	obs_ls(ctx, parent_of(ctx, ARG));
}

/* rmdir of a directory whose children were all removed (lower ones leave
 * whiteouts, which must not count). */
static void st_rmdir_emptied(struct tl_ctx *ctx)
{
	remove_tree(ctx, ARG, false);
	obs_ls(ctx, ARG);
	T(unlinkat(ROOT, ARG, AT_REMOVEDIR));
	obs(ctx, ARG);
	obs_ls(ctx, parent_of(ctx, ARG));
}

/* rm -r DIR, then a file where the directory was. */
static void st_file_over_removed_dir(struct tl_ctx *ctx)
{
	remove_tree(ctx, ARG, true);
	write_at(ctx, ARG, O_WRONLY | O_CREAT | O_EXCL, "now a file\n", -1);
	obs(ctx, ARG);
	T(unlinkat(ROOT, ARG, 0));
	T(mkdirat(ROOT, ARG, 0755));
	obs_ls(ctx, ARG);
}

/* ---- symlink, link */

static void st_symlink(struct tl_ctx *ctx)
{
	char buf[PATH_MAX];
	ssize_t n;

	T(symlinkat(PR->a, ROOT, PR->b));
	obs(ctx, PR->b);
	n = TV(readlinkat(ROOT, PR->b, buf, sizeof(buf)));
	if (n > 0) /* readlink does not terminate the target */
		tl_log_add(LOG, "target of %zd bytes, starts '%.*s'", n, (int)(n < 20 ? n : 20), buf);
	tl_log_fstatat(LOG, ROOT, PR->b, 0);
}

static void st_symlink_long(struct tl_ctx *ctx)
{
	char target[PATH_MAX + 1];

	memset(target, 'x', sizeof(target) - 1);
	target[PATH_MAX - 1] = '\0'; /* 4095 bytes: the longest */
	T(symlinkat(target, ROOT, "long"));
	obs(ctx, "long");
	target[PATH_MAX - 1] = 'x';
	target[PATH_MAX] = '\0'; /* 4096 bytes */
	T(symlinkat(target, ROOT, "toolong"));
	obs(ctx, "toolong");
}

static void st_link(struct tl_ctx *ctx)
{
	T(linkat(ROOT, PR->a, ROOT, PR->b, 0));
	obs(ctx, PR->a);
	obs(ctx, PR->b);
	write_at(ctx, PR->b, O_WRONLY | O_APPEND | O_NONBLOCK, "L\n", -1); /* a fifo: ENXIO */
	obs(ctx, PR->a);
	obs(ctx, PR->b);
	obs_ls(ctx, parent_of(ctx, PR->b));
}

/* ---- rename */

static void st_rename(struct tl_ctx *ctx)
{
	T(renameat2(ROOT, PR->a, ROOT, PR->b, PR->flags));
	obs(ctx, PR->a);
	obs(ctx, PR->b);
	obs_ls(ctx, PR->b);
	obs_ls(ctx, parent_of(ctx, PR->a));
	obs_ls(ctx, parent_of(ctx, PR->b));
}

/* The renamed object keeps working under its new name, and the old name
 * can be used again. */
static void st_rename_then_use(struct tl_ctx *ctx)
{
	T(renameat2(ROOT, PR->a, ROOT, PR->b, 0));
	write_at(ctx, PR->b, O_WRONLY | O_APPEND, "after rename\n", -1);
	write_at(ctx, PR->a, O_WRONLY | O_CREAT | O_EXCL, "old name again\n", -1);
	T(renameat2(ROOT, PR->b, ROOT, PR->a, RENAME_EXCHANGE));
	obs(ctx, PR->a);
	obs(ctx, PR->b);
	obs_ls(ctx, ".");
}

/* ---- long names, long paths */

static void st_name_max(struct tl_ctx *ctx)
{
	char n255[NAME_MAX + 1], n256[NAME_MAX + 2];

	memset(n255, 'a', NAME_MAX);
	n255[NAME_MAX] = '\0';
	memset(n256, 'b', NAME_MAX + 1);
	n256[NAME_MAX + 1] = '\0';
	write_at(ctx, n255, O_WRONLY | O_CREAT | O_EXCL, "255\n", -1);
	obs(ctx, n255);
	T(openat(ROOT, n256, O_WRONLY | O_CREAT, 0644));
	T(mkdirat(ROOT, n256, 0755));
	T(symlinkat("lo", ROOT, n256));
	T(mknodat(ROOT, n256, S_IFIFO | 0644, 0));
	T(linkat(ROOT, "lo", ROOT, n256, 0));
	T(renameat(ROOT, "lo", ROOT, n256));
	T(renameat(ROOT, n256, ROOT, "x"));
	T(unlinkat(ROOT, n256, 0));
	tl_log_fstatat(LOG, ROOT, n256, AT_SYMLINK_NOFOLLOW);
	T(renameat(ROOT, "lodir/a", ROOT, n255)); /* replaces the 255-byte file */
	obs(ctx, n255);
	obs_ls(ctx, ".");
}

/* A relative path of about len bytes: "NNN.../NNN.../..." under base. */
static char *long_path(const char *base, size_t len)
{
	struct tl_buf b = TL_BUF_INIT;

	tl_buf_printf(&b, "%s", base);
	for (int i = 0; b.len + 100 < len; i++)
		tl_buf_printf(&b, "/%03d%095d", i, 0);
	return b.s;
}

/* Nesting close to PATH_MAX: made one level at a time (each mkdirat is
 * relative to the previous directory), then used through relative paths
 * under PATH_MAX and a full path over it. */
static void st_path_max(struct tl_ctx *ctx)
{
	_cleanup_free_ char *path = long_path(ARG, 4000);
	_cleanup_free_ char *file = tl_strdupf("%s/f", path);
	_cleanup_free_ char *full = tl_strdupf("%s/%s/%s", ctx->mnt, path, path);
	_cleanup_close_ int dir = -1;

	for (char *slash = path; (slash = strchr(slash + 1, '/'));) {
		*slash = '\0';
		T(mkdirat(ROOT, path, 0755));
		*slash = '/';
	}
	T(mkdirat(ROOT, path, 0755));
	write_at(ctx, file, O_WRONLY | O_CREAT | O_EXCL, "deep\n", -1);
	obs(ctx, file);
	dir = T(openat(ROOT, path, O_RDONLY | O_DIRECTORY));
	T(mkdirat(dir, "sub", 0755));
	T(renameat(dir, "f", dir, "sub/g"));
	tl_log_listdir(LOG, dir, "sub");
	T(access(full, F_OK)); /* longer than PATH_MAX */
	T(fstatat(ROOT, full + strlen(ctx->mnt) + 1, &(struct stat){ 0 }, 0));
}

/* The same below a deep lower directory (deep_lower: built in main). */
static void st_path_max_lower(struct tl_ctx *ctx)
{
	_cleanup_free_ char *path = long_path("deeplow", 3800);
	_cleanup_free_ char *file = tl_strdupf("%s/f", path);
	_cleanup_free_ char *moved = tl_strdupf("%s/g", path);

	obs(ctx, file);
	obs_ls(ctx, path);
	write_at(ctx, file, O_WRONLY | O_APPEND, "appended\n", -1); /* copies up every parent */
	obs(ctx, file);
	T(renameat(ROOT, file, ROOT, moved));
	T(unlinkat(ROOT, moved, 0));
	obs_ls(ctx, path);
}

static const char *deep_lower[2];

/* ---- lamina-fuse's documented refusal of ".wh." names (no oracle) */

static void wh_names(struct tl_ctx *ctx)
{
	T(openat(ROOT, ".wh.x", O_WRONLY | O_CREAT, 0644));
	T(mkdirat(ROOT, ".wh.d", 0755));
	T(symlinkat("lo", ROOT, ".wh.l"));
	T(mknodat(ROOT, ".wh.p", S_IFIFO | 0644, 0));
	T(linkat(ROOT, "lo", ROOT, ".wh.h", 0));
	T(renameat(ROOT, "lo", ROOT, ".wh..wh..opq"));
}

START_TEST(test_wh_names_refused)
{
	static const char *const expect[] = {
		"openat(ROOT, \".wh.x\", O_WRONLY | O_CREAT, 0644) = EINVAL",
		"mkdirat(ROOT, \".wh.d\", 0755) = EINVAL",
		"symlinkat(\"lo\", ROOT, \".wh.l\") = EINVAL",
		"mknodat(ROOT, \".wh.p\", S_IFIFO | 0644, 0) = EINVAL",
		"linkat(ROOT, \"lo\", ROOT, \".wh.h\", 0) = EINVAL",
		"renameat(ROOT, \"lo\", ROOT, \".wh..wh..opq\") = EINVAL",
	};
	const struct tl_scenario sc = SC("wh-names-refused", STD, wh_names, NULL);
	struct tl_buf report = TL_BUF_INIT;
	struct tl_log log = TL_LOG_INIT;

	ck_assert_msg(tl_scenario_run_one(&sc, tl_scratch, TL_LAMINA, &log, NULL, &report) == 0, "%s",
		      tl_buf_str(&report));
	ck_assert_uint_eq(log.n, ELEMENTSOF(expect));
	for (size_t i = 0; i < log.n; i++)
		ck_assert_str_eq(log.lines[i], expect[i]);
	tl_log_release(&log);
}
END_TEST

#define DEEP { .lowers = { deep_lower, std_lower1 }, .upper = std_upper }

static const struct tl_scenario scenarios[] = {
	SC("mknod-fifo", STD, st_mknod, NODE("newfifo", S_IFIFO | 0640, 0, 0)),
	SC("mknod-socket", STD, st_mknod, NODE("newsock", S_IFSOCK | 0755, 0, 0)),
	SC("mknod-char", STD, st_mknod, NODE("newchr", S_IFCHR | 0600, 1, 5)),
	SC("mknod-block", STD, st_mknod, NODE("newblk", S_IFBLK | 0600, 7, 0)),
	SC("mknod-regular", STD, st_mknod, NODE("newreg", S_IFREG | 0600, 0, 0)),
	SC("mknod-char-0-0", STD, st_mknod, NODE("zero", S_IFCHR | 0600, 0, 0)),
	SC("mknod-over-lower", STD, st_mknod, NODE("lo", S_IFIFO | 0644, 0, 0)),
	SC("mknod-over-whiteout", STD, st_mknod, NODE("wo", S_IFIFO | 0644, 0, 0)),
	SC("mknod-in-lower-dir", STD, st_mknod, NODE("lodir/sub/p", S_IFIFO | 0644, 0, 0)),
	SC("mknod-in-opaque-dir", STD, st_mknod, NODE("opqdir/hidden", S_IFCHR | 0644, 1, 3)),
	SC("mkdir-new", STD, st_mkdir, "newdir"),
	SC("mkdir-existing-lower", STD, st_mkdir, "lodir"),
	SC("mkdir-existing-file", STD, st_mkdir, "deep"),
	SC("mkdir-over-whiteout", STD, st_mkdir, "wo"),
	SC("mkdir-in-lower-dir", STD, st_mkdir, "lodir/sub/new"),
	SC("mkdir-in-opaque-dir", STD, st_mkdir, "opqdir/hidden"),
	SC("mkdir-missing-parent", STD, st_mkdir, "nope/x"),
	SC("mkdir-under-file", STD, st_mkdir, "lo/x"),
	SC("mkdir-after-rm-lower", STD, st_mkdir_after_rm, "lodir"),
	SC("mkdir-after-rm-merged", STD, st_mkdir_after_rm, "bothdir"),
	SC("mkdir-after-rm-upper", STD, st_mkdir_after_rm, "updir"),
	SC("unlink-lower", STD, st_unlink, "lo"),
	SC("unlink-upper", STD, st_unlink, "up"),
	SC("unlink-both", STD, st_unlink, "both"),
	SC("unlink-bottom-lower", STD, st_unlink, "deep"),
	SC("unlink-lower-symlink", STD, st_unlink, "lolink"),
	SC("unlink-upper-symlink", STD, st_unlink, "uplink"),
	SC("unlink-lower-fifo", STD, st_unlink, "lofifo"),
	SC("unlink-lower-device", STD, st_unlink, "lochr"),
	SC("unlink-lower-socket", STD, st_unlink, "losock"),
	SC("unlink-merged-dir-lower-child", STD, st_unlink, "bothdir/lo"),
	SC("unlink-merged-dir-upper-child", STD, st_unlink, "bothdir/up"),
	SC("unlink-merged-dir-both-child", STD, st_unlink, "bothdir/same"),
	SC("unlink-merged-dir-bottom-child", STD, st_unlink, "bothdir/bottom"),
	SC("unlink-dir", STD, st_unlink, "lodir"),
	SC("unlink-missing", STD, st_unlink, "nope"),
	SC("unlink-whited-out", STD, st_unlink, "wo"),
	SC("unlink-hidden-by-opaque", STD, st_unlink, "opqdir/hidden"),
	SC("unlink-recreate-lower", STD, st_unlink_recreate, "lo"),
	SC("unlink-recreate-upper", STD, st_unlink_recreate, "up"),
	SC("unlink-recreate-merged-child", STD, st_unlink_recreate, "bothdir/same"),
	SC("rmdir-empty-lower", STD, st_rmdir, "loempty"),
	SC("rmdir-empty-upper", STD, st_rmdir, "upempty"),
	SC("rmdir-nonempty-lower", STD, st_rmdir, "lodir"),
	SC("rmdir-nonempty-merged", STD, st_rmdir, "bothdir"),
	SC("rmdir-nonempty-upper", STD, st_rmdir, "updir"),
	SC("rmdir-nonempty-opaque", STD, st_rmdir, "opqdir"),
	SC("rmdir-file", STD, st_rmdir, "lo"),
	SC("rmdir-missing", STD, st_rmdir, "nope"),
	SC("rmdir-emptied-lower", STD, st_rmdir_emptied, "lodir"),
	SC("rmdir-emptied-merged", STD, st_rmdir_emptied, "bothdir"),
	SC("rmdir-emptied-opaque", STD, st_rmdir_emptied, "opqdir"),
	SC("rmdir-emptied-lower-subdir", STD, st_rmdir_emptied, "lodir/sub"),
	SC("file-over-removed-lower-dir", STD, st_file_over_removed_dir, "lodir"),
	SC("symlink-new", STD, st_symlink, PAIR("lo", "newlink")),
	SC("symlink-dangling", STD, st_symlink, PAIR("/nonexistent/x", "newlink")),
	SC("symlink-over-lower", STD, st_symlink, PAIR("up", "lo")),
	SC("symlink-over-whiteout", STD, st_symlink, PAIR("up", "wo")),
	SC("symlink-in-lower-dir", STD, st_symlink, PAIR("../a", "lodir/sub/l")),
	SC("symlink-long-target", STD, st_symlink_long, NULL),
	SC("link-lower", STD, st_link, PAIR("lo", "lo-link")),
	SC("link-upper", STD, st_link, PAIR("up", "up-link")),
	SC("link-both", STD, st_link, PAIR("both", "both-link")),
	SC("link-bottom-lower-into-lower-dir", STD, st_link, PAIR("deep", "lodir/deep-link")),
	SC("link-lower-child-into-upper-dir", STD, st_link, PAIR("lodir/a", "updir/a-link")),
	SC("link-dir", STD, st_link, PAIR("lodir", "dir-link")),
	SC("link-over-existing", STD, st_link, PAIR("lo", "up")),
	SC("link-over-whiteout", STD, st_link, PAIR("lo", "wo")),
	SC("link-lower-symlink", STD, st_link, PAIR("lolink", "link-of-link")),
	SC("link-lower-fifo", STD, st_link, PAIR("lofifo", "fifo-link")),
	SC("link-missing", STD, st_link, PAIR("nope", "x")),
	SC("rename-lower", STD, st_rename, PAIR("lo", "lo2")),
	SC("rename-upper", STD, st_rename, PAIR("up", "up2")),
	SC("rename-both", STD, st_rename, PAIR("both", "both2")),
	SC("rename-bottom-lower-into-merged-dir", STD, st_rename, PAIR("deep", "lodir/deep")),
	SC("rename-lower-over-upper", STD, st_rename, PAIR("lo", "up")),
	SC("rename-upper-over-lower", STD, st_rename, PAIR("up", "lo")),
	SC("rename-lower-over-whiteout", STD, st_rename, PAIR("lo", "wo")),
	SC("rename-lower-over-merged-child", STD, st_rename, PAIR("lo", "bothdir/lo")),
	SC("rename-merged-child-out", STD, st_rename, PAIR("bothdir/same", "same")),
	SC("rename-lower-child-to-upper-dir", STD, st_rename, PAIR("lodir/a", "updir/a")),
	SC("rename-upper-child-to-lower-dir", STD, st_rename, PAIR("updir/x", "lodir/x")),
	SC("rename-lower-symlink", STD, st_rename, PAIR("lolink", "link2")),
	SC("rename-lower-fifo", STD, st_rename, PAIR("lofifo", "fifo2")),
	SC("rename-lower-device", STD, st_rename, PAIR("lochr", "chr2")),
	SC("rename-into-opaque-dir", STD, st_rename, PAIR("lo", "opqdir/hidden")),
	SC("rename-lower-dir", STD, st_rename, PAIR("lodir", "lodir2")),
	SC("rename-merged-dir", STD, st_rename, PAIR("bothdir", "bothdir2")),
	SC("rename-empty-lower-dir", STD, st_rename, PAIR("loempty", "loempty2")),
	SC("rename-upper-dir", STD, st_rename, PAIR("updir", "updir2")),
	SC("rename-upper-dir-over-empty-upper", STD, st_rename, PAIR("updir", "upempty")),
	SC("rename-upper-dir-over-empty-lower", STD, st_rename, PAIR("updir", "loempty")),
	SC("rename-dir-over-nonempty", STD, st_rename, PAIR("upempty", "lodir")),
	SC("rename-file-over-dir", STD, st_rename, PAIR("lo", "lodir")),
	SC("rename-dir-over-file", STD, st_rename, PAIR("updir", "up")),
	SC("rename-dir-into-itself", STD, st_rename, PAIR("updir", "updir/sub")),
	SC("rename-to-itself", STD, st_rename, PAIR("lo", "lo")),
	SC("rename-missing", STD, st_rename, PAIR("nope", "x")),
	SC("rename-within-opaque-dir", STD, st_rename, PAIR("opqdir/new", "opqdir/hidden")),
	SC("rename-whiteout-flag", STD, st_rename, PAIRF("up", "up-wh", RENAME_WHITEOUT)),
	SC("rename-noreplace-existing", STD, st_rename, PAIRF("lo", "up", RENAME_NOREPLACE)),
	SC("rename-noreplace-new", STD, st_rename, PAIRF("lo", "newname", RENAME_NOREPLACE)),
	SC("rename-noreplace-whiteout", STD, st_rename, PAIRF("up", "wo", RENAME_NOREPLACE)),
	SC("rename-exchange-upper-both", STD, st_rename, PAIRF("up", "both", RENAME_EXCHANGE)),
	SC("rename-exchange-lower-upper", STD, st_rename, PAIRF("lo", "up", RENAME_EXCHANGE)),
	SC("rename-exchange-lower-lower", STD, st_rename, PAIRF("lo", "deep", RENAME_EXCHANGE)),
	SC("rename-exchange-upper-dirs", STD, st_rename, PAIRF("updir", "upempty", RENAME_EXCHANGE)),
	SC("rename-exchange-with-lower-dir", STD, st_rename, PAIRF("updir", "lodir", RENAME_EXCHANGE)),
	SC("rename-exchange-file-dir", STD, st_rename, PAIRF("up", "updir", RENAME_EXCHANGE)),
	SC("rename-exchange-missing", STD, st_rename, PAIRF("up", "nope", RENAME_EXCHANGE)),
	SC("rename-exchange-symlinks", STD, st_rename, PAIRF("lolink", "uplink", RENAME_EXCHANGE)),
	SC("rename-then-use-lower", STD, st_rename_then_use, PAIR("lo", "lo-moved")),
	SC("rename-then-use-upper", STD, st_rename_then_use, PAIR("up", "up-moved")),
	SC("name-max", STD, st_name_max, NULL),
	SC("path-max-new", STD, st_path_max, "new"),
	SC("path-max-in-lower-dir", STD, st_path_max, "lodir/sub"),
	SC("path-max-lower", DEEP, st_path_max_lower, NULL),
};

int main(void)
{
	const TTest *lamina_only[] = { test_wh_names_refused, NULL };
	_cleanup_free_ char *path = long_path("deeplow", 3800);
	_cleanup_free_ char *line = tl_strdupf("file %s/f deep down\\n", path);

	deep_lower[0] = line;
	return scenario_main("test-union-names", scenarios, ELEMENTSOF(scenarios), lamina_only);
}
