/*
 * tests/integration/test-union-markers.c: what the kernel's overlayfs reads
 * from the branches, with the kernel as the oracle: whiteouts and opaque
 * directories in the lowers and in the upper, in both forms; hard links in
 * a lower; extended attributes, private ones included; read-only unions;
 * many lowers.
 *
 * The kernel reads only the kernel form of the markers (a 0/0 character
 * device, trusted.overlay.opaque), lamina-fuse also reads the ".wh.NAME" and
 * ".wh..wh..opq" files that podman's and dockerd's layers hold. Scenarios
 * with TL_ORACLE_KERNEL_MARKERS give the kernel the kernel form of the same
 * layout ("wh" becomes "whiteout", "opq" becomes "opaque") and lamina-fuse
 * the layout as written: the merged views must be equal.
 *
 * Hard links: lamina-fuse keeps the names of a hard-linked lower file one
 * file after copy-up, as the kernel does with index=on (docs/unionfs.md); the
 * kernel's default, index=off, breaks the link. So those scenarios mount the
 * kernel with index=on when it accepts it on this file system, and skip
 * interop (b): the kernel's index lives in its workdir, which no other
 * implementation reads. test_hardlink_expectation checks the documented
 * behaviour on lamina-fuse alone, whatever the kernel accepts.
 */
#include <sys/statvfs.h>
#include <sys/xattr.h>

#include "tests/integration/scenario.h"

/* ---- markers in the lowers */

static const char *const mk_lower0[] = {
	"whiteout gone",
	"wh gone2",
	"whiteout gonedir",
	"wh gonedir2",
	"file odir/top t\\n",
	"opaque odir",
	"file odir2/top t\\n",
	"opq odir2",
	"whiteout mdir/gone",
	"wh mdir/gone2",
	"file mdir/top t\\n",
	"file keep k\\n",
	NULL,
};
static const char *const mk_lower1[] = {
	"file gone x\\n",
	"file gone2 x\\n",
	"file gonedir/f f\\n",
	"file gonedir2/f f\\n",
	"file odir/under u\\n",
	"file odir2/under u\\n",
	"file mdir/gone g\\n",
	"file mdir/gone2 g\\n",
	"file mdir/bottom b\\n",
	"file keep k-bottom\\n",
	NULL,
};
#define MK { .lowers = { mk_lower0, mk_lower1 } }
#define MKF .flags = TL_ORACLE_KERNEL_MARKERS

static void st_mk_lookup(struct tl_ctx *ctx)
{
	static const char *const names[] = { "gone", "gone2", "gonedir", "gonedir2", "odir/top", "odir/under",
					     "odir2/top", "odir2/under", "mdir/gone", "mdir/gone2", "mdir/bottom",
					     "keep", ".wh.gone2", "odir2/.wh..wh..opq" };
	static const char *const dirs[] = { ".", "odir", "odir2", "mdir", "gonedir" };

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		obs(ctx, names[i]);
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		obs_ls(ctx, dirs[i]);
}

static void st_create(struct tl_ctx *ctx)
{
	write_at(ctx, ARG, O_WRONLY | O_CREAT | O_EXCL, "new\n", -1);
	obs(ctx, ARG);
	obs_ls(ctx, parent_of(ctx, ARG));
}

static void st_mkdir(struct tl_ctx *ctx)
{
	_cleanup_free_ char *inside = tl_strdupf("%s/f", ARG);

	T(mkdirat(ROOT, ARG, 0755));
	obs_ls(ctx, ARG);
	obs(ctx, inside);
	obs_ls(ctx, ".");
}

static void st_rename_onto(struct tl_ctx *ctx)
{
	T(renameat(ROOT, "keep", ROOT, ARG));
	obs(ctx, ARG);
	obs(ctx, "keep");
	obs_ls(ctx, parent_of(ctx, ARG));
}

/* Empties and removes an opaque directory: what it hides does not count. */
static void st_rmdir_opaque(struct tl_ctx *ctx)
{
	_cleanup_free_ char *top = tl_strdupf("%s/top", ARG);

	T(unlinkat(ROOT, ARG, AT_REMOVEDIR));
	T(unlinkat(ROOT, top, 0));
	T(unlinkat(ROOT, ARG, AT_REMOVEDIR));
	obs(ctx, ARG);
	T(mkdirat(ROOT, ARG, 0755));
	obs_ls(ctx, ARG);
}

static void st_append(struct tl_ctx *ctx)
{
	write_at(ctx, ARG, O_WRONLY | O_APPEND, "appended\n", -1);
	obs(ctx, ARG);
	obs_ls(ctx, parent_of(ctx, ARG));
}

static void st_unlink(struct tl_ctx *ctx)
{
	T(unlinkat(ROOT, ARG, 0));
	obs(ctx, ARG);
	obs_ls(ctx, parent_of(ctx, ARG));
}

/* ---- markers in the upper (as a rootless writer leaves them) */

static const char *const wh_upper[] = {
	"wh lo",
	"opq lodir",
	"file lodir/new n\\n",
	"wh bothdir/lo",
	"whiteout bothdir/same",
	NULL,
};
#define UMK { .lowers = { std_lower0, std_lower1 }, .upper = wh_upper }

static void st_umk_lookup(struct tl_ctx *ctx)
{
	static const char *const names[] = { "lo", "lodir/a", "lodir/new", "bothdir/lo", "bothdir/same",
					     "bothdir/up", ".wh.lo" };

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		obs(ctx, names[i]);
	obs_ls(ctx, ".");
	obs_ls(ctx, "lodir");
	obs_ls(ctx, "bothdir");
}

static void st_rename_up_onto(struct tl_ctx *ctx)
{
	T(renameat(ROOT, "up", ROOT, ARG));
	obs(ctx, ARG);
	obs_ls(ctx, parent_of(ctx, ARG));
}

/* ---- hard links in a lower */

static const char *const hl_lower[] = {
	"file h1 hello\\n",
	"link h2 h1",
	"link hd/h3 h1",
	"file solo s\\n",
	NULL,
};
#define HL { .lowers = { hl_lower, std_lower1 } }
#define HLF .kernel_opts = "index=on", .flags = TL_ORACLE_NO_INTEROP_B

static void hl_obs(struct tl_ctx *ctx)
{
	obs(ctx, "h1");
	obs(ctx, "h2");
	obs(ctx, "hd/h3");
}

static void st_hl_stat(struct tl_ctx *ctx)
{
	hl_obs(ctx);
	tl_log_fstatat(LOG, ROOT, "solo", 0);
}

static void st_hl_append(struct tl_ctx *ctx)
{
	write_at(ctx, ARG, O_WRONLY | O_APPEND, "appended\n", -1);
	hl_obs(ctx);
}

static void st_hl_truncate(struct tl_ctx *ctx)
{
	T(truncate(P(ARG), 2));
	hl_obs(ctx);
}

static void st_hl_chmod(struct tl_ctx *ctx)
{
	T(fchmodat(ROOT, ARG, 0600, 0));
	T(fchownat(ROOT, ARG, 7, 8, 0));
	hl_obs(ctx);
}

static void st_hl_unlink(struct tl_ctx *ctx)
{
	T(unlinkat(ROOT, ARG, 0));
	hl_obs(ctx);
	write_at(ctx, "h2", O_WRONLY | O_APPEND, "after unlink\n", -1);
	hl_obs(ctx);
}

static void st_hl_rename(struct tl_ctx *ctx)
{
	T(renameat(ROOT, "h1", ROOT, "h1-renamed"));
	obs(ctx, "h1-renamed");
	hl_obs(ctx);
	write_at(ctx, "h1-renamed", O_WRONLY | O_APPEND, "renamed\n", -1);
	obs(ctx, "h1-renamed");
	hl_obs(ctx);
}

static void st_hl_link(struct tl_ctx *ctx)
{
	T(linkat(ROOT, "h1", ROOT, "h4", 0));
	obs(ctx, "h4");
	hl_obs(ctx);
	write_at(ctx, "h4", O_WRONLY | O_APPEND, "via h4\n", -1);
	obs(ctx, "h4");
	hl_obs(ctx);
}

static void st_hl_xattr(struct tl_ctx *ctx)
{
	T(lsetxattr(P("h1"), "user.hl", "1", 1, 0));
	tl_log_xattrs(LOG, "h2", P("h2"));
	hl_obs(ctx);
}

static void st_hl_open_unlink(struct tl_ctx *ctx)
{
	int fd = T(openat(ROOT, "h1", O_RDWR));

	T(unlinkat(ROOT, "h1", 0));
	TV(pwrite(fd, "HE", 2, 0));
	tl_log_fstat(LOG, "fd", fd);
	CLOSE(fd);
	hl_obs(ctx);
}

/* The documented behaviour on lamina-fuse alone: appending through one name
 * of a hard-linked lower file shows through the others, which keep one
 * inode number and the right link count. */
static void hl_expect_steps(struct tl_ctx *ctx)
{
	write_at(ctx, "h1", O_WRONLY | O_APPEND, "appended\n", -1);
}

START_TEST(test_hardlink_expectation)
{
	const struct tl_scenario sc = SC("hardlink-expectation", HL, hl_expect_steps, NULL);
	struct tl_buf report = TL_BUF_INIT;
	struct tl_log log = TL_LOG_INIT;
	struct tl_tree t;
	const char *const names[] = { "h1", "h2", "hd/h3" };

	ck_assert_msg(tl_scenario_run_one(&sc, tl_scratch, TL_LAMINA, &log, &t, &report) == 0, "%s",
		      tl_buf_str(&report));
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		const struct tl_node *n = tl_tree_find(&t, names[i]);

		ck_assert_msg(n != NULL, "%s missing", names[i]);
		ck_assert_msg(n->size == 15 && !strcmp(n->head, "hello\\nappended\\n"), "%s: '%s'", names[i],
			      n->head);
		ck_assert_msg(n->nlink == 3, "%s: nlink %lu", names[i], (unsigned long)n->nlink);
		ck_assert_msg(n->link_group && !strcmp(n->link_group, "h1"), "%s: not linked to h1", names[i]);
	}
	tl_tree_release(&t);
	tl_log_release(&log);
}
END_TEST

/* ---- xattrs */

static void st_xattr_set(struct tl_ctx *ctx)
{
	T(lsetxattr(P(ARG), "user.new", "value", 5, 0));
	T(lsetxattr(P(ARG), "user.new", "v2", 2, XATTR_CREATE));
	T(lsetxattr(P(ARG), "user.other", "v", 1, XATTR_REPLACE));
	T(lsetxattr(P(ARG), "user.new", "v3", 2, XATTR_REPLACE));
	T(lsetxattr(P(ARG), "trusted.t", "root only", 9, 0));
	T(lsetxattr(P(ARG), "user.empty", "", 0, 0));
	tl_log_xattrs(LOG, ARG, P(ARG));
	obs(ctx, ARG);
}

static void st_xattr_get(struct tl_ctx *ctx)
{
	static const char *const names[] = { "lo", "up", "both", "lodir", "bothdir", "opqdir", "lolink",
					     "lofifo", "lochr", "nope" };
	char buf[256];

	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		char list[4096];
		ssize_t need = llistxattr(P(names[i]), NULL, 0);
		int need_err = errno;
		ssize_t got = llistxattr(P(names[i]), list, sizeof(list));

		tl_log_xattrs(LOG, names[i], P(names[i]));
		/* The size query may count the private xattrs it then leaves out
		 * (the kernel's does), but a buffer of that size must do. */
		tl_log_add(LOG, "%s: size query %s, list %s, enough: %s", names[i], need < 0 ? tl_errname(need_err) : "ok",
			   got < 0 ? tl_errname(errno) : "ok", need >= got ? "yes" : "no");
	}
	TV(lgetxattr(P("lo"), "user.a", NULL, 0));
	TV(lgetxattr(P("lo"), "user.a", buf, 0));
	TV(lgetxattr(P("lodir"), "user.d", buf, 1)); /* ERANGE */
	TV(lgetxattr(P("lo"), "user.missing", buf, sizeof(buf)));
	TV(getxattr(P("lolink"), "user.a", buf, sizeof(buf))); /* follows to lo */
	TV(llistxattr(P("lo"), buf, 1));                       /* ERANGE */
}

static void st_xattr_remove(struct tl_ctx *ctx)
{
	_cleanup_free_ char *name = tl_strdup(strchr(ARG, ' ') + 1);
	_cleanup_free_ char *path = tl_strdupf("%.*s", (int)(strchr(ARG, ' ') - ARG), ARG);

	T(lremovexattr(P(path), name));
	T(lremovexattr(P(path), name));
	T(lremovexattr(P(path), "user.never"));
	tl_log_xattrs(LOG, path, P(path));
	obs(ctx, path);
}

/* The private overlay xattrs are neither shown nor settable; what the
 * kernel answers for each call is the expectation. */
static void st_xattr_private(struct tl_ctx *ctx)
{
	static const char *const names[] = { "trusted.overlay.opaque", "trusted.overlay.origin",
					     "trusted.overlay.foo", "trusted.overlay.overlay.x" };
	static const char *const where[] = { "opqdir", "lodir", "lo", "up" };
	char buf[64];

	for (size_t w = 0; w < ELEMENTSOF(where); w++)
		for (size_t i = 0; i < ELEMENTSOF(names); i++) {
			tl_log_add(LOG, "%s %s:", where[w], names[i]);
			TV(lgetxattr(P(where[w]), names[i], buf, sizeof(buf)));
			T(lsetxattr(P(where[w]), names[i], "y", 1, 0));
			T(lremovexattr(P(where[w]), names[i]));
		}
	for (size_t w = 0; w < ELEMENTSOF(where); w++)
		tl_log_xattrs(LOG, where[w], P(where[w]));
	obs_ls(ctx, "opqdir");
}

/* user.overlay.* is private only with the kernel's userxattr option. */
static void st_xattr_user_overlay(struct tl_ctx *ctx)
{
	char buf[64];

	T(lsetxattr(P("lo"), "user.overlay.x", "1", 1, 0));
	TV(lgetxattr(P("lo"), "user.overlay.x", buf, sizeof(buf)));
	tl_log_xattrs(LOG, "lo", P("lo"));
	T(lremovexattr(P("lo"), "user.overlay.x"));
}

/* ---- read-only unions */

#define RO { .lowers = { std_lower0, std_lower1 }, .readonly = true }

static void st_ro_read(struct tl_ctx *ctx)
{
	static const char *const names[] = { "lo", "deep", "lodir", "lodir/low1", "lolink", "lofifo", "nope" };
	struct statvfs sv;

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		obs(ctx, names[i]);
	obs_ls(ctx, ".");
	obs_ls(ctx, "lodir");
	if (T(statvfs(ctx->mnt, &sv)) == 0)
		tl_log_add(LOG, "rdonly=%d", !!(sv.f_flag & ST_RDONLY));
	T(faccessat(ROOT, "lo", W_OK, 0));
	T(faccessat(ROOT, "lo", W_OK, AT_EACCESS));
}

static void st_ro_modify(struct tl_ctx *ctx)
{
	struct timespec ts[2] = { { 1, 0 }, { 1, 0 } };
	int fd;

	T(openat(ROOT, "lo", O_WRONLY));
	T(openat(ROOT, "lo", O_RDWR));
	T(openat(ROOT, "lo", O_RDONLY | O_TRUNC));
	T(openat(ROOT, "new", O_WRONLY | O_CREAT, 0644));
	T(mkdirat(ROOT, "newdir", 0755));
	T(mknodat(ROOT, "newfifo", S_IFIFO | 0644, 0));
	T(symlinkat("lo", ROOT, "newlink"));
	T(linkat(ROOT, "lo", ROOT, "newhard", 0));
	T(unlinkat(ROOT, "lo", 0));
	T(unlinkat(ROOT, "loempty", AT_REMOVEDIR));
	T(renameat(ROOT, "lo", ROOT, "lo2"));
	T(fchmodat(ROOT, "lo", 0600, 0));
	T(fchownat(ROOT, "lo", 1, 1, 0));
	T(utimensat(ROOT, "lo", ts, 0));
	T(truncate(P("lo"), 0));
	T(lsetxattr(P("lo"), "user.x", "1", 1, 0));
	T(lremovexattr(P("lo"), "user.a"));
	fd = T(openat(ROOT, "lo", O_RDONLY));
	T(ftruncate(fd, 0));
	T(fallocate(fd, 0, 0, 10));
	CLOSE(fd);
	obs(ctx, "lo");
}

/* ---- many lowers: built in main(), N lowers each adding a file, a file
 * in a merged directory and a "top" file (the topmost wins); lower 1 whites
 * out the bottom lower's file, the middle lower makes "shared" opaque. */

#define MANY_MAX TL_MAX_LOWERS
struct many {
	size_t n;
	char *lines[MANY_MAX][4];
	const char *specs[MANY_MAX][5];
};
static struct many many8, many128;

static void many_build(struct many *m, size_t n)
{
	m->n = n;
	for (size_t i = 0; i < n; i++) {
		m->lines[i][0] = tl_strdupf("file f%03zu from %zu\\n", i, i);
		m->lines[i][1] = tl_strdupf("file shared/s%03zu s\\n", i);
		m->lines[i][2] = tl_strdupf("file top top from %zu\\n", i);
		m->lines[i][3] = i == 1 ? tl_strdupf("whiteout f%03zu", n - 1)
				 : i == n / 2 ? tl_strdupf("opaque shared")
					      : NULL;
		for (size_t j = 0; j < 4; j++)
			m->specs[i][j] = m->lines[i][j];
		m->specs[i][4] = NULL;
	}
}

static void many_free(struct many *m)
{
	for (size_t i = 0; i < m->n; i++)
		for (size_t j = 0; j < 4; j++)
			free(m->lines[i][j]);
}

static void st_many(struct tl_ctx *ctx)
{
	size_t n = (size_t)(uintptr_t)ctx->arg;
	_cleanup_free_ char *bottom = tl_strdupf("f%03zu", n - 1), *above = tl_strdupf("f%03zu", n - 2);
	_cleanup_free_ char *mid = tl_strdupf("f%03zu", n / 2);

	obs_ls(ctx, ".");
	obs_ls(ctx, "shared");
	obs(ctx, "top");
	obs(ctx, bottom);
	write_at(ctx, above, O_WRONLY | O_APPEND, "appended\n", -1);
	obs(ctx, above);
	T(renameat(ROOT, mid, ROOT, "renamed"));
	T(unlinkat(ROOT, "f000", 0));
	T(mkdirat(ROOT, "shared/newdir", 0755));
	obs_ls(ctx, ".");
	obs_ls(ctx, "shared");
}

/* Filled in main(): the table needs the many-lower layouts built at run time. */
static struct tl_scenario scenarios[] = {
	SC("lower-markers-lookup", MK, st_mk_lookup, NULL, MKF),
	SC("create-over-lower-whiteout", MK, st_create, "gone", MKF),
	SC("create-over-lower-wh-whiteout", MK, st_create, "gone2", MKF),
	SC("create-over-whiteout-in-merged-dir", MK, st_create, "mdir/gone", MKF),
	SC("create-over-wh-whiteout-in-merged-dir", MK, st_create, "mdir/gone2", MKF),
	SC("mkdir-over-lower-whiteout", MK, st_mkdir, "gonedir", MKF),
	SC("mkdir-over-lower-wh-whiteout", MK, st_mkdir, "gonedir2", MKF),
	SC("rename-onto-lower-whiteout", MK, st_rename_onto, "gone", MKF),
	SC("rename-onto-lower-wh-whiteout", MK, st_rename_onto, "mdir/gone2", MKF),
	SC("create-in-lower-opaque-dir", MK, st_create, "odir/new", MKF),
	SC("create-in-lower-opq-dir", MK, st_create, "odir2/new", MKF),
	SC("create-hidden-name-in-opaque-dir", MK, st_create, "odir/under", MKF),
	SC("create-hidden-name-in-opq-dir", MK, st_create, "odir2/under", MKF),
	SC("rmdir-lower-opaque-dir", MK, st_rmdir_opaque, "odir", MKF),
	SC("rmdir-lower-opq-dir", MK, st_rmdir_opaque, "odir2", MKF),
	SC("append-in-lower-opq-dir", MK, st_append, "odir2/top", MKF),
	SC("unlink-in-dir-with-markers", MK, st_unlink, "mdir/top", MKF),
	SC("unlink-shadowing-file", MK, st_unlink, "keep", MKF),
	SC("upper-markers-lookup", UMK, st_umk_lookup, NULL, MKF),
	SC("create-over-upper-wh-whiteout", UMK, st_create, "lo", MKF),
	SC("create-over-upper-wh-whiteout-in-dir", UMK, st_create, "bothdir/lo", MKF),
	SC("mkdir-over-upper-wh-whiteout", UMK, st_mkdir, "lo", MKF),
	SC("rename-over-upper-wh-whiteout", UMK, st_rename_up_onto, "lo", MKF),
	SC("rmdir-upper-opq-dir", UMK, st_rmdir_opaque, "lodir", MKF),
	SC("unlink-next-to-upper-markers", UMK, st_unlink, "bothdir/up", MKF),
	SC("hardlink-stat", HL, st_hl_stat, NULL, HLF),
	SC("hardlink-append-first", HL, st_hl_append, "h1", HLF),
	SC("hardlink-append-second", HL, st_hl_append, "h2", HLF),
	SC("hardlink-append-in-subdir", HL, st_hl_append, "hd/h3", HLF),
	SC("hardlink-truncate", HL, st_hl_truncate, "h2", HLF),
	SC("hardlink-chmod-chown", HL, st_hl_chmod, "h1", HLF),
	SC("hardlink-unlink-one", HL, st_hl_unlink, "h1", HLF),
	SC("hardlink-rename", HL, st_hl_rename, NULL, HLF),
	SC("hardlink-link-again", HL, st_hl_link, NULL, HLF),
	SC("hardlink-setxattr", HL, st_hl_xattr, NULL, HLF),
	SC("hardlink-unlink-open", HL, st_hl_open_unlink, NULL, HLF),
	SC("xattr-set-lower", STD, st_xattr_set, "lo"),
	SC("xattr-set-upper", STD, st_xattr_set, "up"),
	SC("xattr-set-lower-dir", STD, st_xattr_set, "lodir"),
	SC("xattr-set-merged-dir", STD, st_xattr_set, "bothdir"),
	SC("xattr-set-lower-subdir", STD, st_xattr_set, "lodir/sub"),
	SC("xattr-set-lower-symlink", STD, st_xattr_set, "lolink"),
	SC("xattr-set-lower-fifo", STD, st_xattr_set, "lofifo"),
	SC("xattr-get-list", STD, st_xattr_get, NULL),
	SC("xattr-remove-lower", STD, st_xattr_remove, "lo user.a"),
	SC("xattr-remove-upper", STD, st_xattr_remove, "up user.u"),
	SC("xattr-remove-lower-dir", STD, st_xattr_remove, "lodir user.d"),
	SC("xattr-private-overlay", STD, st_xattr_private, NULL),
	SC("xattr-user-overlay", STD, st_xattr_user_overlay, NULL),
	SC("readonly-read", RO, st_ro_read, NULL),
	SC("readonly-modify", RO, st_ro_modify, NULL),
	SC("lowers-8", { { NULL } }, st_many, (void *)(uintptr_t)8),
	SC("lowers-128", { { NULL } }, st_many, (void *)(uintptr_t)128),
};

/* The hard-link rows need the kernel's index=on as the oracle. */
static bool is_hardlink_row(const struct tl_scenario *sc)
{
	return sc->kernel_opts && !strcmp(sc->kernel_opts, "index=on");
}

int main(void)
{
	const TTest *lamina_only[] = { test_hardlink_expectation, NULL };
	size_t n = 0;
	bool index;
	int r;

	tl_require_or_skip("test-union-markers", TL_NEED_ROOT | TL_NEED_OVERLAY); /* before probing */
	index = tl_kernel_accepts("index=on");
	many_build(&many8, 8);
	many_build(&many128, 128);
	for (size_t i = 0; i < ELEMENTSOF(scenarios); i++) {
		struct many *m = scenarios[i].arg == (void *)(uintptr_t)8     ? &many8
				 : scenarios[i].arg == (void *)(uintptr_t)128 ? &many128
									      : NULL;

		for (size_t j = 0; m && j < m->n; j++)
			scenarios[i].layout.lowers[j] = m->specs[j];
		if (!index && is_hardlink_row(&scenarios[i])) {
			fprintf(stderr, "test-union-markers: the kernel refuses index=on here: '%s' not run\n",
				scenarios[i].name);
			continue;
		}
		scenarios[n++] = scenarios[i];
	}
	r = scenario_main("test-union-markers", scenarios, n, lamina_only);
	many_free(&many8);
	many_free(&many128);
	return r;
}
