/*
 * graphdriver/backend.c: mounting a layer chain as one tree, with
 * lamina-fuse or the kernel's overlay, and unmounting it. Knows nothing of
 * rows and users (mount.c): it turns a chain into lowers/upper/work, runs
 * the program or the mount calls, and waits for a FUSE daemon to end.
 *
 * FUSE: `lamina-fuse -o lowerdir=A:B[,upperdir=U,workdir=W] MNT`, which
 * daemonizes once the mount is ready; its pid is found afterwards by its
 * command line (the mount point is its last argument) so an unmount can
 * wait for it through a pidfd.
 * Kernel: fsopen("overlay") with one "lowerdir+" per layer (Linux 6.8), so
 * a chain of any length fits; where that API or "lowerdir+" is missing, the
 * classic mount(2) option string, which holds one page (short chains).
 * Both: overlay refuses a single lower without an upper, so a chain of one
 * read-only layer gets the layer's empty/ folder as a second lower.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libmount.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"

#ifndef LAMINA_BINDIR
#define LAMINA_BINDIR "/usr/local/bin"
#endif

/* Pinned on kernel mounts, so the upper holds only what lamina-fuse and
 * gd_export read (no redirects, no metacopy, no index to go stale). */
static const char *const kernel_pinned[][2] = { { "redirect_dir", "off" }, { "index", "off" }, { "metacopy", "off" } };

/* How long an unmount waits for a lamina-fuse daemon to exit. */
#define GD_DAEMON_EXIT_MS 10000

void gd_fuse_program(char *buf, size_t size)
{
	const char *env = getenv("LAMINA_FUSE");
	if (env && *env) {
		snprintf(buf, size, "%s", env);
		return;
	}
	/* The one next to the running program: a build tree's, or the installed
	 * one when lamina itself is installed; never the caller's PATH. */
	ssize_t n = readlink("/proc/self/exe", buf, size);
	char *slash = n > 0 && (size_t)n < size ? memrchr(buf, '/', (size_t)n) : NULL;
	if (slash && (size_t)(slash + 1 - buf) + sizeof("lamina-fuse") <= size) {
		memcpy(slash + 1, "lamina-fuse", sizeof("lamina-fuse"));
		if (access(buf, X_OK) == 0)
			return;
	}
	snprintf(buf, size, "%s", LAMINA_BINDIR "/lamina-fuse");
}

void gd_union_release(struct gd_union *u)
{
	gd_strv_free(u->lowers, u->n_lowers);
	free(u->upper);
	free(u->work);
	memset(u, 0, sizeof(*u));
}

static int add_lower(struct lamina_store *store, struct gd_union *u, const char *id, const char *sub)
{
	char **a = realloc(u->lowers, (u->n_lowers + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	u->lowers = a;
	if (gd_path(store, id, sub, &a[u->n_lowers]) < 0)
		return -ENOMEM;
	u->n_lowers++;
	return 0;
}

int gd_union_of(struct lamina_store *store, const struct lamina_layer *layer, struct gd_union *ret,
		struct lm_error *err)
{
	char **chain = NULL;
	size_t n = 0;
	int r = gd_row_chain(store, layer->id, &chain, &n, err);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	if (layer->read_write && (gd_path(store, layer->id, GD_DIFF, &ret->upper) < 0 ||
				  gd_path(store, layer->id, GD_WORK, &ret->work) < 0))
		r = -ENOMEM;
	for (size_t i = layer->read_write ? 1 : 0; r >= 0 && i < n; i++)
		r = add_lower(store, ret, chain[i], GD_DIFF);
	/* overlay wants a lower, and two when there is no upper */
	if (r >= 0 && (ret->n_lowers == 0 || (!ret->upper && ret->n_lowers == 1)))
		r = add_lower(store, ret, layer->id, GD_EMPTY);
	gd_strv_free(chain, n);
	if (r < 0) {
		gd_union_release(ret);
		return lm_err(err, r, "layer '%s'", layer->id);
	}
	return 0;
}

/* ---- FUSE */

/* Appends s to the option string, with ':' escaped as "\:" (the kernel's and
 * lamina-fuse's rule). A ',' cannot be escaped in an option string. */
static int opt_append(FILE *f, const char *s)
{
	if (strchr(s, ','))
		return -EINVAL;
	for (; *s; s++) {
		if (*s == ':' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	return 0;
}

/* "lowerdir=A:B[,upperdir=U,workdir=W]" in *ret (yours). */
static int option_string(const struct gd_union *u, char **ret)
{
	size_t size = 0;
	FILE *f = open_memstream(ret, &size);
	if (!f)
		return -ENOMEM;
	int r = 0;
	fputs("lowerdir=", f);
	for (size_t i = 0; r >= 0 && i < u->n_lowers; i++) {
		if (i)
			fputc(':', f);
		r = opt_append(f, u->lowers[i]);
	}
	if (r >= 0 && u->upper) {
		fputs(",upperdir=", f);
		r = opt_append(f, u->upper);
		fputs(",workdir=", f);
		if (r >= 0)
			r = opt_append(f, u->work);
	}
	if (fclose(f) != 0 && r >= 0)
		r = -ENOMEM;
	if (r < 0) {
		free(*ret);
		*ret = NULL;
	}
	return r;
}

/* The last argument of process pid's command line equals s. */
static bool cmdline_ends_with(pid_t pid, const char *s)
{
	char path[64], buf[8192];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 1)
		return false;
	buf[n] = '\0';
	if (buf[n - 1] == '\0')
		n--;
	const char *last = buf;
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\0')
			last = buf + i + 1;
	}
	return !strcmp(last, s) && strstr(buf, "lamina-fuse") != NULL;
}

/* The lamina-fuse daemon serving target, or 0. */
static pid_t daemon_find(const char *target)
{
	_cleanup_closedir_ DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid > 0 && pid != getpid() && cmdline_ends_with(pid, target))
			return pid;
	}
	return 0;
}

/* Runs argv with stderr into a memfd; returns the wait status or -errno,
 * with the first bytes of its stderr in out. */
static int run_program(char *const argv[], char *out, size_t out_size)
{
	_cleanup_close_ int errfd = memfd_create("lamina-fuse-stderr", MFD_CLOEXEC);
	if (errfd < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null < 0 || dup2(null, 0) < 0 || dup2(errfd, 1) < 0 || dup2(errfd, 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		dprintf(2, "cannot run '%s': %s", argv[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	ssize_t n = pread(errfd, out, out_size - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return status;
}

static int fuse_mount(const struct gd_union *u, const char *target, pid_t *ret_pid, const char *what,
		      struct lm_error *err)
{
	_cleanup_free_ char *opts = NULL;
	int r = option_string(u, &opts);
	if (r < 0)
		return lm_err(err, r, "%s: cannot give its folders to lamina-fuse (a ',' in a path?)", what);
	char program[PATH_MAX];
	gd_fuse_program(program, sizeof(program));
	char *argv[] = { program, "-o", opts, (char *)target, NULL };
	char out[400];
	int status = run_program(argv, out, sizeof(out));
	if (status < 0)
		return lm_err(err, status, "%s: cannot run '%s'", what, argv[0]);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return lm_err_plain(err, -EIO, "%s: '%s' failed (%s %d): %s", what, argv[0],
				    WIFEXITED(status) ? "exit" : "signal",
				    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), out);
	*ret_pid = daemon_find(target);
	return 0;
}

/* ---- kernel */

static int kernel_fsconfig(const struct gd_union *u, const char *target)
{
	_cleanup_close_ int fd = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < ELEMENTSOF(kernel_pinned); i++) {
		if (fsconfig(fd, FSCONFIG_SET_STRING, kernel_pinned[i][0], kernel_pinned[i][1], 0) < 0)
			return -errno;
	}
	for (size_t i = 0; i < u->n_lowers; i++) {
		if (fsconfig(fd, FSCONFIG_SET_STRING, "lowerdir+", u->lowers[i], 0) < 0)
			return -errno;
	}
	if (u->upper && (fsconfig(fd, FSCONFIG_SET_STRING, "upperdir", u->upper, 0) < 0 ||
			 fsconfig(fd, FSCONFIG_SET_STRING, "workdir", u->work, 0) < 0))
		return -errno;
	if (fsconfig(fd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return -errno;
	_cleanup_close_ int mfd = fsmount(fd, FSMOUNT_CLOEXEC, 0);
	if (mfd < 0)
		return -errno;
	if (move_mount(mfd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

/* mount(2) with the classic option string; -E2BIG when it does not fit a page. */
static int kernel_classic(const struct gd_union *u, const char *target)
{
	_cleanup_free_ char *layers = NULL, *opts = NULL;
	int r = option_string(u, &layers);
	if (r < 0)
		return r;
	if (asprintf(&opts, "redirect_dir=off,index=off,metacopy=off,%s", layers) < 0)
		return -ENOMEM;
	if (strlen(opts) >= (size_t)sysconf(_SC_PAGESIZE))
		return -E2BIG;
	return mount("overlay", target, "overlay", 0, opts) < 0 ? -errno : 0;
}

static int kernel_mount(const struct gd_union *u, const char *target, const char *what, struct lm_error *err)
{
	int r = kernel_fsconfig(u, target);
	/* ENOSYS: no fsopen; EINVAL: no "lowerdir+" (before 6.8) */
	if (r == -ENOSYS || r == -EINVAL)
		r = kernel_classic(u, target);
	if (r == -E2BIG)
		return lm_err_plain(err, -E2BIG, "%s: a chain of %zu layers needs the kernel's \"lowerdir+\" (Linux 6.8)",
				    what, u->n_lowers);
	return r < 0 ? lm_err(err, r, "%s: cannot mount overlay on '%s' (see dmesg)", what, target) : 0;
}

int gd_backend_mount(enum lamina_layer_backend backend, const struct gd_union *u, const char *target,
		     pid_t *ret_pid, const char *what, struct lm_error *err)
{
	*ret_pid = 0;
	if (backend == LAMINA_BACKEND_KERNEL)
		return kernel_mount(u, target, what, err);
	return fuse_mount(u, target, ret_pid, what, err);
}

/* ---- unmounting */

int gd_is_mounted(const char *target, bool *ret, struct lm_error *err)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	if (!tb)
		return lm_err(err, -EIO, "cannot read /proc/self/mountinfo");
	*ret = mnt_table_find_target(tb, target, MNT_ITER_BACKWARD) != NULL;
	mnt_unref_table(tb);
	return 0;
}

/* A pidfd of the daemon pid, when it is still a lamina-fuse serving target. */
static int daemon_pidfd(pid_t pid, const char *target)
{
	if (pid <= 0)
		return -ESRCH;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	if (!cmdline_ends_with(pid, target)) { /* the pid was reused */
		lm_close(fd);
		return -ESRCH;
	}
	return fd;
}

static int wait_gone(int pidfd, const char *what, struct lm_error *err)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int n;
	while ((n = poll(&p, 1, GD_DAEMON_EXIT_MS)) < 0 && errno == EINTR)
		;
	if (n == 0)
		return lm_err_plain(err, -ETIMEDOUT, "%s: lamina-fuse did not exit after the unmount", what);
	return 0;
}

int gd_backend_umount(const char *target, pid_t pid, bool detach, const char *what, struct lm_error *err)
{
	bool mounted = false;
	int r = gd_is_mounted(target, &mounted, err);
	if (r < 0 || !mounted)
		return r;
	_cleanup_close_ int pidfd = pid ? daemon_pidfd(pid, target) : -1;
	if (pidfd < 0 && pid == 0)
		pidfd = daemon_pidfd(daemon_find(target), target);
	if (umount2(target, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL) {
		if (!(errno == EBUSY && detach && umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0))
			return lm_err(err, -errno, "%s: cannot unmount '%s'", what, target);
	}
	return pidfd >= 0 ? wait_gone(pidfd, what, err) : 0;
}
