/*
 * tests/lib/scratch.c: what a test binary needs before it runs (and the
 * exit-77 skip when it is missing), scratch directories, and the sweep that
 * unmounts and removes them. Mounting and the FUSE daemons' ends are
 * mount.c's; this file only finds what is mounted below a directory.
 */
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "tests/lib/testlib.h"

char *tl_scratch_base;
char *tl_scratch;

int tl_mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *copy = tl_strdup(path);

	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Whether the kernel mounts a read-only overlay of two empty lowers. */
static bool overlay_works(void)
{
	char dir[] = "/tmp/lamina-probe-XXXXXX";
	_cleanup_free_ char *l1 = NULL, *l2 = NULL, *m = NULL, *opts = NULL;
	bool ok;

	if (!mkdtemp(dir))
		return false;
	l1 = tl_strdupf("%s/l1", dir);
	l2 = tl_strdupf("%s/l2", dir);
	m = tl_strdupf("%s/m", dir);
	opts = tl_strdupf("lowerdir=%s:%s", l1, l2);
	ok = mkdir(l1, 0755) == 0 && mkdir(l2, 0755) == 0 && mkdir(m, 0755) == 0 &&
	     mount("overlay", m, "overlay", 0, opts) == 0;
	if (ok)
		umount2(m, MNT_DETACH);
	rmdir(m);
	rmdir(l2);
	rmdir(l1);
	rmdir(dir);
	return ok;
}

static bool fuse_works(void)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	lm_close(fd);
	return fd >= 0;
}

int tl_require(unsigned needs, char *why, size_t why_size)
{
	const char *reason = NULL;
	const char *lamina = getenv("LAMINA_FUSE");

	if ((needs & TL_NEED_ROOT) && geteuid() != 0)
		reason = "needs root (mount, mknod, trusted.* xattrs)";
	else if ((needs & TL_NEED_FUSE) && !fuse_works())
		reason = "needs a usable /dev/fuse";
	else if ((needs & TL_NEED_LAMINA) && (!lamina || !*lamina || access(lamina, X_OK) < 0))
		reason = "needs $LAMINA_FUSE naming the lamina-fuse program (make check sets it)";
	else if ((needs & TL_NEED_OVERLAY) && !overlay_works())
		reason = "needs the kernel's overlay file system (mount -t overlay failed)";
	if (why_size)
		snprintf(why, why_size, "%s", reason ? reason : "");
	return reason ? -1 : 0;
}

void tl_require_or_skip(const char *prog, unsigned needs)
{
	char why[256];

	if (tl_require(needs, why, sizeof(why)) == 0)
		return;
	fprintf(stderr, "%s: SKIP: %s\n", prog, why);
	exit(77);
}

int tl_run_suite(Suite *suite, const char *prog, unsigned needs)
{
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *tmpl = NULL;
	SRunner *sr;
	int failed;

	tl_require_or_skip(prog, needs);
	tmpl = tl_strdupf("%s/lamina-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", prog);
	if (!mkdtemp(tmpl) || !(tl_scratch_base = realpath(tmpl, NULL))) {
		fprintf(stderr, "%s: cannot make a scratch directory from '%s': %m\n", prog, tmpl);
		return 99; /* automake: hard error */
	}
	/* FUSE daemons of a test that was killed come to us, and the sweep
	 * at the end reaps them. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	sr = srunner_create(suite);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (tl_scratch_remove(tl_scratch_base) < 0)
		fprintf(stderr, "%s: could not remove all of '%s'\n", prog, tl_scratch_base);
	free(tl_scratch_base);
	tl_scratch_base = NULL;
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

char *tl_scratch_new(const char *parent, const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *tmpl = NULL;
	char *path;

	if (!parent)
		parent = tmp && *tmp ? tmp : "/tmp";
	tmpl = tl_strdupf("%s/%s-XXXXXX", parent, tag);
	if (!mkdtemp(tmpl))
		tl_fail("mkdtemp '%s': %m", tmpl);
	path = realpath(tmpl, NULL);
	if (!path)
		tl_fail("realpath '%s': %m", tmpl);
	return path;
}

void tl_scratch_setup(void)
{
	tl_scratch = tl_scratch_new(tl_scratch_base, "t");
}

void tl_scratch_teardown(void)
{
	int r = tl_scratch_remove(tl_scratch);

	free(tl_scratch);
	tl_scratch = NULL;
	if (r < 0)
		tl_fail("teardown: cannot remove the scratch directory: %s", tl_errname(-r));
}

/* Undoes the octal escapes (\040 for a space) of a /proc/self/mountinfo field. */
static void unescape_mountinfo(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

struct mount_entry {
	char *path;
	unsigned minor;
	bool fuse;
};

static bool is_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The deepest mount at or below dir (the last listed on ties: the topmost of
 * a stack). Returns 1 and fills ret (path is the caller's), 0 if none. */
static int deepest_mount_below(const char *dir, struct mount_entry *ret)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	int found = 0;

	if (!f)
		return -errno;
	while (getline(&line, &size, f) > 0) {
		char mnt[4096], fstype[256];
		unsigned major, minor;
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*u %*u %u:%u %*s %4095s", &major, &minor, mnt) != 3 ||
		    sscanf(sep + 3, "%255s", fstype) != 1)
			continue;
		unescape_mountinfo(mnt);
		if (!is_below(mnt, dir) || (found && strlen(mnt) < strlen(ret->path)))
			continue;
		if (found)
			free(ret->path);
		ret->path = tl_strdup(mnt);
		ret->minor = minor;
		ret->fuse = strncmp(fstype, "fuse", 4) == 0;
		found = 1;
	}
	return found;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT)
		fprintf(stderr, "tl_scratch_remove: cannot remove '%s': %m\n", path);
	return 0;
}

int tl_scratch_remove(const char *dir)
{
	struct mount_entry m;
	int r = 0, found, tries = 0;

	if (!dir)
		return 0;
	while ((found = deepest_mount_below(dir, &m)) > 0 && tries++ < 200) {
		int k = tl_umount_sweep(m.path, m.fuse, m.minor);

		if (k < 0 && r == 0)
			r = k;
		free(m.path);
	}
	if (found < 0 && r == 0)
		r = found;
	if (nftw(dir, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && r == 0)
		r = -errno;
	if (access(dir, F_OK) == 0 && r == 0)
		r = -ENOTEMPTY;
	return r;
}
