/*
 * common/tar.c: the libarchive glue (result codes become -errno here and
 * nowhere else) and the extraction of untrusted tars (lm_tar_extract).
 *
 * libarchive only parses: every object is created here, fd-relative,
 * beneath the target: parents resolved with symlinks refused, the entry
 * itself made with *at() calls that never follow a symlink, an existing
 * non-folder removed first (as tar does) rather than written through.
 * Folders get their metadata at the end, deepest first, so a read-only
 * folder still receives its children and keeps its mtime. Writing a tree
 * is common/tar-write.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/attrs.h"
#include "common/cleanup.h"
#include "common/error.h"
#include "common/ovl-markers.h"
#include "common/path.h"
#include "common/tar-private.h"
#include "common/tar.h"

/* ------------------------------------------------------------ glue */

int lm_tar_errno(struct archive *a, int fallback)
{
	int e = archive_errno(a);
	/* libarchive's own codes on Linux: EILSEQ (bad format), EINVAL
	 * (misuse), -1 (anything else); those say nothing about the system */
	if (e == ENOMEM)
		return -ENOMEM;
	if (e <= 0 || e == EILSEQ || e == EINVAL)
		return fallback;
	return -e;
}

const char *lm_tar_error_string(struct archive *a)
{
	const char *s = archive_error_string(a);
	return s ? s : "unknown libarchive error";
}

int lm_tar_locale_enter(struct lm_tar_locale *l)
{
	l->loc = newlocale(LC_ALL_MASK, "C.UTF-8", (locale_t)0);
	if (!l->loc)
		l->loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!l->loc)
		return -errno;
	l->old = uselocale(l->loc);
	return 0;
}

void lm_tar_locale_leave(struct lm_tar_locale *l)
{
	if (!l->loc)
		return;
	uselocale(l->old);
	freelocale(l->loc);
	l->loc = (locale_t)0;
}

/* ------------------------------------------------------- extraction */

/* A folder whose metadata waits for the end. */
struct dir_meta {
	char *path; /* normalised; "" for the target itself */
	struct archive_entry *e;
	size_t seq;
};

struct lm_untar {
	struct archive *a;
	int root;
	const struct lm_tar_extract_opts *opts;
	const struct lm_untar_hooks *hooks;
	const char *what;
	struct lm_error *err;
	uint64_t bytes;
	void *done; /* tsearch set of the normalised paths of non-folders made */
	struct dir_meta *dirs;
	size_t ndirs, capdirs;
	char label[192]; /* the current entry's name, escaped for messages */
	/* The previous entry's parent folder, kept open for the next entry in
	 * the same folder (a tar lists siblings together): one openat2 and one
	 * close less per entry. */
	char *parent_path;
	int parent_fd;
};

/* A refusal: bad input, not a system error. */
static int refuse(struct lm_untar *x, const char *why)
{
	return lm_err_plain(x->err, -EINVAL, "%s: entry '%s': %s", x->what, x->label, why);
}

static int entry_fail(struct lm_untar *x, int r, const char *doing)
{
	return lm_err(x->err, r, "%s: entry '%s': %s", x->what, x->label, doing);
}

static int read_fail(struct lm_untar *x, const char *doing)
{
	int r = lm_tar_errno(x->a, -EINVAL);
	return lm_err_plain(x->err, r, "%s: entry '%s': %s: %s", x->what, x->label, doing,
			    lm_tar_error_string(x->a));
}

/*
 * The name as a path beneath the target: empty and "." components dropped
 * ("./a//b" is "a/b", "./" the target itself, ""), ".." and absolute names
 * refused, so a valid path can only go down. *ret: caller frees.
 */
static int normalize(const char *raw, char **ret, const char **ret_why)
{
	if (!raw || !*raw) {
		*ret_why = "entry without a name";
		return -EINVAL;
	}
	if (raw[0] == '/') {
		*ret_why = "absolute path: path leaves the target";
		return -EINVAL;
	}
	_cleanup_free_ char *out = malloc(strlen(raw) + 1);
	if (!out)
		return -ENOMEM;
	size_t o = 0;
	for (const char *p = raw; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			*ret_why = "path leaves the target";
			return -EINVAL;
		}
		if (n > NAME_MAX) {
			*ret_why = "a name in the path is longer than NAME_MAX (255 bytes)";
			return -EINVAL;
		}
		if (n && !(n == 1 && p[0] == '.')) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n + (p[n] == '/');
	}
	out[o] = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}

static int path_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int done_add(struct lm_untar *x, const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	char **slot = tsearch(copy, &x->done, path_cmp);
	if (!slot) {
		free(copy);
		return -ENOMEM;
	}
	if (*slot != copy)
		free(copy); /* listed before */
	return 0;
}

/*
 * The parent of path, made where missing (0755, as tar does for folders
 * the archive does not list), one component at a time with O_NOFOLLOW: a
 * symlink is -ELOOP, a non-folder -ENOTDIR. Used when lm_open_parent_beneath()
 * fails, also to tell those two apart on the openat2-less fallback.
 */
static int make_parents(int root, const char *path, const char *name)
{
	_cleanup_free_ char *dirs = strndup(path, name - path - 1);
	if (!dirs)
		return -ENOMEM;
	_cleanup_close_ int cur = openat(root, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return -errno;
	char *save = NULL;
	for (char *c = strtok_r(dirs, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		int next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(cur, c, 0755) < 0 && errno != EEXIST)
				return -errno;
			next = openat(cur, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			int r = -errno;
			struct stat st;
			if (fstatat(cur, c, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				return -ELOOP;
			return r == -ELOOP ? -ENOTDIR : r;
		}
		lm_close(cur);
		cur = next;
	}
	return TAKE_FD(cur);
}

/* Opens the folder that will hold path; refuses a way through a symlink. */
static int open_parent(struct lm_untar *x, const char *path, const char **ret_name)
{
	int fd = lm_open_parent_beneath(x->root, path, LM_RESOLVE_NO_SYMLINKS, ret_name);
	if (fd == -ENOENT || fd == -ELOOP || fd == -ENOTDIR) {
		const char *slash = strrchr(path, '/');
		if (!slash)
			return entry_fail(x, fd, "cannot open the parent folder");
		*ret_name = slash + 1;
		fd = make_parents(x->root, path, *ret_name);
	}
	if (fd == -ELOOP)
		return refuse(x, "path goes through a symlink");
	if (fd == -ENOTDIR)
		return refuse(x, "a parent in the path is not a folder");
	if (fd == -EXDEV)
		return refuse(x, "path leaves the target");
	if (fd < 0)
		return entry_fail(x, fd, "cannot open the parent folder");
	return fd;
}

static void parent_forget(struct lm_untar *x)
{
	free(x->parent_path);
	x->parent_path = NULL;
	if (x->parent_fd >= 0)
		close(x->parent_fd);
	x->parent_fd = -1;
}

/* An entry at path may replace the kept folder when path is that folder
 * or holds it: forget it then. */
static void parent_forget_under(struct lm_untar *x, const char *path)
{
	if (!x->parent_path)
		return;
	size_t len = strlen(path);
	if (!strncmp(x->parent_path, path, len) && (x->parent_path[len] == '\0' || x->parent_path[len] == '/'))
		parent_forget(x);
}

/* The folder that will hold path, open (the kept one when it is the
 * same); the fd stays x's. */
static int entry_parent(struct lm_untar *x, const char *path, const char **ret_name)
{
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;
	if (x->parent_path && strlen(x->parent_path) == len && !strncmp(x->parent_path, path, len)) {
		*ret_name = slash ? slash + 1 : path;
		return x->parent_fd;
	}
	int fd = open_parent(x, path, ret_name);
	if (fd < 0)
		return fd;
	parent_forget(x);
	x->parent_path = strndup(path, len);
	if (!x->parent_path) {
		close(fd);
		return entry_fail(x, -ENOMEM, "cannot extract");
	}
	x->parent_fd = fd;
	return fd;
}

/*
 * Makes room for the entry: what is at name goes, as tar replaces it,
 * except a folder where a folder comes (returns 1: updated in place) or a
 * folder with content (refused). Never follows a symlink.
 */
static int clear_name(struct lm_untar *x, int pfd, const char *name, bool want_dir)
{
	struct stat st;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : entry_fail(x, -errno, "cannot stat what is there");
	if (S_ISDIR(st.st_mode) && want_dir)
		return 1;
	if (unlinkat(pfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0)
		return 0;
	if (errno == ENOTEMPTY || errno == EEXIST)
		return refuse(x, "a folder with content is in the way");
	return entry_fail(x, -errno, "cannot remove what is there");
}

/* The xattrs of e, pointing into e; security.capability left out when
 * owners are not kept (privileges do not come with untrusted input). */
static int entry_xattrs(struct lm_untar *x, struct archive_entry *e, struct lm_xattr **ret, size_t *ret_n)
{
	int n = archive_entry_xattr_reset(e);
	*ret = NULL;
	*ret_n = 0;
	if (n <= 0)
		return 0;
	struct lm_xattr *v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		const char *name;
		const void *value;
		size_t size;
		if (archive_entry_xattr_next(e, &name, &value, &size) != ARCHIVE_OK)
			break;
		if (!x->opts->keep_owner && !strcmp(name, "security.capability"))
			continue;
		if (x->opts->drop_overlay_xattrs && lm_ovl_xattr_is_private(name))
			continue;
		v[k++] = (struct lm_xattr){ name, value, size };
	}
	*ret = v;
	*ret_n = k;
	return 0;
}

static struct timespec entry_time(bool set, time_t sec, long nsec)
{
	return set ? (struct timespec){ sec, nsec } : (struct timespec){ 0, UTIME_OMIT };
}

/* Owner, xattrs (unless !with_xattrs), mode and times of e onto fd (real or O_PATH). */
static int apply_entry_x(struct lm_untar *x, struct archive_entry *e, int fd, bool with_xattrs)
{
	mode_t mode = archive_entry_mode(e);
	/* without the tar's owners, a setuid bit would make the file the
	 * caller's (root's) setuid program */
	if (!x->opts->keep_owner)
		mode &= S_ISDIR(mode) ? ~(mode_t)S_ISUID : ~(mode_t)(S_ISUID | S_ISGID);
	struct lm_attrs a = {
		.mode = mode,
		.set_owner = x->opts->keep_owner,
		.uid = (uid_t)archive_entry_uid(e),
		.gid = (gid_t)archive_entry_gid(e),
		.atime = entry_time(archive_entry_atime_is_set(e), archive_entry_atime(e), archive_entry_atime_nsec(e)),
		.mtime = entry_time(archive_entry_mtime_is_set(e), archive_entry_mtime(e), archive_entry_mtime_nsec(e)),
	};
	struct lm_xattr *xv = NULL;
	int r = with_xattrs ? entry_xattrs(x, e, &xv, &a.nxattrs) : 0;
	if (r < 0)
		return entry_fail(x, r, "cannot read xattrs");
	a.xattrs = xv;
	struct lm_attrs_failure fail;
	char why[128];
	r = lm_attrs_apply(fd, &a, &fail);
	if (r < 0)
		lm_err(x->err, r, "%s: entry '%s': cannot set %s", x->what, x->label,
		       lm_attrs_failure_str(&fail, why, sizeof(why)));
	free(xv);
	return r;
}

static int apply_entry(struct lm_untar *x, struct archive_entry *e, int fd)
{
	return apply_entry_x(x, e, fd, true);
}

static int write_all(int fd, const char *buf, size_t size, off_t off)
{
	while (size > 0) {
		ssize_t n = pwrite(fd, buf, size, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		size -= n;
		off += n;
	}
	return 0;
}

/* The data blocks at their offsets (holes of a sparse entry stay holes),
 * then the size, which makes the last hole (a truncate only when the data
 * does not reach it). *ret_size gets the file's size. */
static int write_data(struct lm_untar *x, struct archive_entry *e, int fd, uint64_t *ret_size)
{
	uint64_t end = 0;
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int ar = archive_read_data_block(x->a, &buf, &size, &off);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar < ARCHIVE_WARN)
			return read_fail(x, "cannot read data");
		if (off < 0)
			return refuse(x, "data at a negative offset");
		int r = write_all(fd, buf, size, off);
		if (r < 0)
			return entry_fail(x, r, "cannot write data");
		x->bytes += size;
		if ((uint64_t)off + size > end)
			end = (uint64_t)off + size;
		if (x->hooks && x->hooks->data && (r = x->hooks->data(x->hooks->ctx, x, buf, size, off)) < 0)
			return r;
	}
	uint64_t want = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : end;
	if (want != end && ftruncate(fd, (off_t)want) < 0)
		return entry_fail(x, -errno, "cannot set the size");
	*ret_size = want;
	return 0;
}

/* Tells the hooks a file (or a hard link to link_target) is complete. */
static int file_hook(struct lm_untar *x, const char *path, const char *link_target, uint64_t size)
{
	if (!x->hooks || !x->hooks->file)
		return 0;
	return x->hooks->file(x->hooks->ctx, x, path, link_target, size);
}

static int make_file(struct lm_untar *x, struct archive_entry *e, const char *path, int pfd, const char *name)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	_cleanup_close_ int fd = openat(pfd, name, flags, 0600);
	int r = 0;
	if (fd < 0 && errno == EEXIST) { /* something is there: tar replaces it */
		if ((r = clear_name(x, pfd, name, false)) < 0)
			return r;
		fd = openat(pfd, name, flags, 0600);
	}
	if (fd < 0)
		return entry_fail(x, -errno, "cannot create");
	uint64_t size = 0;
	r = write_data(x, e, fd, &size);
	if (r >= 0)
		r = apply_entry(x, e, fd);
	return r < 0 ? r : file_hook(x, path, NULL, size);
}

/* Symlinks, fifos, devices: created, then their metadata through O_PATH. */
static int make_special(struct lm_untar *x, struct archive_entry *e, int pfd, const char *name)
{
	mode_t type = archive_entry_filetype(e);
	const char *target = archive_entry_symlink(e);
	if (type == AE_IFLNK && (!target || !*target))
		return refuse(x, "symlink without a target");
	if ((type == AE_IFCHR || type == AE_IFBLK) && !x->opts->allow_devices)
		return refuse(x, "devices are not allowed here");
	int r = clear_name(x, pfd, name, false);
	if (r < 0)
		return r;
	if (type == AE_IFLNK)
		r = symlinkat(target, pfd, name);
	else
		r = mknodat(pfd, name, type | 0600, archive_entry_rdev(e));
	if (r < 0)
		return entry_fail(x, -errno, "cannot create");
	_cleanup_close_ int fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return entry_fail(x, -errno, "cannot open");
	return apply_entry(x, e, fd);
}

/* A hard link only to a non-folder this tar made before: never to
 * something that was in the target already, or outside it. */
static int make_hardlink(struct lm_untar *x, const char *raw_target, const char *path, int pfd, const char *name)
{
	_cleanup_free_ char *target = NULL;
	const char *why = NULL;
	int r = normalize(raw_target, &target, &why);
	if (r == -EINVAL) {
		char l[96], msg[160];
		lm_err_name(raw_target, l, sizeof(l));
		snprintf(msg, sizeof(msg), "hard link to '%s': %s", l, why);
		return refuse(x, msg);
	}
	if (r < 0)
		return entry_fail(x, r, "cannot read the link");
	if (!*target || !tfind(target, &x->done, path_cmp)) {
		char l[96], msg[160];
		lm_err_name(raw_target, l, sizeof(l));
		snprintf(msg, sizeof(msg), "hard link to '%s', which is no file extracted before", l);
		return refuse(x, msg);
	}
	if (!strcmp(target, path))
		return file_hook(x, path, target, 0);
	const char *tname;
	_cleanup_close_ int tfd = lm_open_parent_beneath(x->root, target, LM_RESOLVE_NO_SYMLINKS, &tname);
	if (tfd < 0)
		return entry_fail(x, tfd, "cannot open the folder of the link target");
	r = clear_name(x, pfd, name, false);
	if (r < 0)
		return r;
	if (linkat(tfd, tname, pfd, name, 0) < 0)
		return entry_fail(x, -errno, "cannot make the hard link");
	return file_hook(x, path, target, 0);
}

static int defer_dir(struct lm_untar *x, const char *path, struct archive_entry *e)
{
	if (x->ndirs == x->capdirs) {
		size_t cap = x->capdirs ? x->capdirs * 2 : 64;
		struct dir_meta *p = reallocarray(x->dirs, cap, sizeof(*p));
		if (!p)
			return entry_fail(x, -ENOMEM, "cannot extract");
		x->dirs = p;
		x->capdirs = cap;
	}
	struct dir_meta *d = &x->dirs[x->ndirs];
	d->path = strdup(path);
	d->e = archive_entry_clone(e);
	d->seq = x->ndirs;
	if (!d->path || !d->e) {
		free(d->path);
		archive_entry_free(d->e);
		return entry_fail(x, -ENOMEM, "cannot extract");
	}
	x->ndirs++;
	return 0;
}

static int make_dir(struct lm_untar *x, struct archive_entry *e, const char *path, int pfd, const char *name)
{
	int r = clear_name(x, pfd, name, true);
	if (r < 0)
		return r;
	/* 0700 until the end: writable for the children whatever the mode */
	if (r == 0 && mkdirat(pfd, name, 0700) < 0)
		return entry_fail(x, -errno, "cannot create");
	return defer_dir(x, path, e);
}

static int extract_entry(struct lm_untar *x, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	lm_err_name(raw, x->label, sizeof(x->label));
	_cleanup_free_ char *path = NULL;
	const char *why = NULL;
	int r = normalize(raw, &path, &why);
	if (r < 0)
		return r == -EINVAL ? refuse(x, why) : entry_fail(x, r, "cannot extract");
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	if (!*path)
		return (type == AE_IFDIR && !hardlink) ? defer_dir(x, path, e) : refuse(x, "names the target itself");
	parent_forget_under(x, path);
	if (x->hooks && x->hooks->entry && (r = x->hooks->entry(x->hooks->ctx, x, e, path)) != 0) {
		parent_forget(x); /* what a hook changed is its own business */
		return r < 0 ? r : 0;
	}
	if (!hardlink && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && type != AE_IFIFO &&
	    type != AE_IFCHR && type != AE_IFBLK)
		return refuse(x, "unsupported entry type");
	const char *name;
	int pfd = entry_parent(x, path, &name);
	if (pfd < 0)
		return pfd;
	if (hardlink)
		r = make_hardlink(x, hardlink, path, pfd, name);
	else if (type == AE_IFDIR)
		return make_dir(x, e, path, pfd, name);
	else if (type == AE_IFREG)
		r = make_file(x, e, path, pfd, name);
	else
		r = make_special(x, e, pfd, name);
	if (r < 0)
		return r;
	r = done_add(x, path);
	return r < 0 ? entry_fail(x, r, "cannot extract") : 0;
}

/* Deepest first (a descendant sorts after its ancestor, so descending
 * order puts it before); for a folder listed twice, the last listing wins. */
static int dir_cmp(const void *a, const void *b)
{
	const struct dir_meta *x = a, *y = b;
	int c = strcmp(y->path, x->path);
	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int apply_dirs(struct lm_untar *x)
{
	if (x->ndirs)
		qsort(x->dirs, x->ndirs, sizeof(*x->dirs), dir_cmp);
	for (size_t i = 0; i < x->ndirs; i++) {
		struct dir_meta *d = &x->dirs[i];
		if (i + 1 < x->ndirs && !strcmp(d->path, d[1].path))
			continue;
		lm_err_name(archive_entry_pathname(d->e), x->label, sizeof(x->label));
		/* O_PATH: the folder's own mode may not let us read it */
		_cleanup_close_ int fd = lm_open_beneath(x->root, *d->path ? d->path : ".",
							  O_PATH | O_DIRECTORY | O_NOFOLLOW, 0, LM_RESOLVE_NO_SYMLINKS);
		if (fd == -ENOENT || fd == -ENOTDIR || fd == -ELOOP)
			continue; /* a later entry replaced it */
		if (fd < 0)
			return entry_fail(x, fd, "cannot open");
		int r = apply_entry(x, d->e, fd);
		if (r < 0)
			return r;
	}
	return 0;
}

static void extract_release(struct lm_untar *x)
{
	for (size_t i = 0; i < x->ndirs; i++) {
		free(x->dirs[i].path);
		archive_entry_free(x->dirs[i].e);
	}
	free(x->dirs);
	tdestroy(x->done, free);
	parent_forget(x);
}

static int extract_all(struct lm_untar *x)
{
	for (size_t n = 0;; n++) {
		struct archive_entry *e;
		int ar = archive_read_next_header(x->a, &e);
		if (ar == ARCHIVE_EOF) {
			parent_forget(x); /* the finish hook and the folders' times come next */
			return 0;
		}
		if (ar < ARCHIVE_WARN) {
			int r = lm_tar_errno(x->a, -EINVAL);
			if (n == 0)
				return lm_err_plain(x->err, r, "%s: input is not a tar archive: %s", x->what,
						    lm_tar_error_string(x->a));
			return lm_err_plain(x->err, r, "%s: cannot read the tar after entry '%s': %s", x->what,
					    x->label, lm_tar_error_string(x->a));
		}
		int r = extract_entry(x, e);
		if (r < 0)
			return r;
	}
}

/* Opens a: with fd_in, or (fd_in < 0) with the callbacks already set on it. */
static int untar_open(struct lm_untar *x, int fd_in)
{
	int ar = fd_in >= 0 ? archive_read_open_fd(x->a, fd_in, 64 * 1024) : archive_read_open1(x->a);
	if (ar == ARCHIVE_OK)
		return 0;
	return lm_err_plain(x->err, lm_tar_errno(x->a, -EINVAL), "%s: input is not a tar archive: %s", x->what,
			    lm_tar_error_string(x->a));
}

int lm_untar_run(struct archive *a, int fd_in, int dirfd, const struct lm_tar_extract_opts *opts,
		 const struct lm_untar_hooks *hooks, uint64_t *ret_bytes, struct lm_error *err)
{
	static const struct lm_tar_extract_opts defaults = { 0 };
	struct lm_untar x = {
		.a = a,
		.root = dirfd,
		.opts = opts ? opts : &defaults,
		.hooks = hooks,
		.what = opts && opts->what ? opts->what : "tar",
		.err = err,
		.parent_fd = -1,
	};
	int r = untar_open(&x, fd_in);
	if (r >= 0)
		r = extract_all(&x);
	if (r >= 0 && hooks && hooks->finish)
		r = hooks->finish(hooks->ctx, &x);
	if (r >= 0)
		r = apply_dirs(&x);
	extract_release(&x);
	if (r >= 0 && ret_bytes)
		*ret_bytes = x.bytes;
	return r < 0 ? r : 0;
}

int lm_untar_refuse(struct lm_untar *x, const char *why)
{
	return refuse(x, why);
}

int lm_untar_fail(struct lm_untar *x, int r, const char *doing)
{
	return entry_fail(x, r, doing);
}

int lm_untar_open_parent(struct lm_untar *x, const char *path, const char **ret_name)
{
	return open_parent(x, path, ret_name);
}

int lm_untar_apply_meta(struct lm_untar *x, struct archive_entry *e, int fd)
{
	return apply_entry_x(x, e, fd, false);
}

int lm_untar_root(const struct lm_untar *x)
{
	return x->root;
}

const char *lm_untar_what(const struct lm_untar *x)
{
	return x->what;
}

int lm_tar_extract(int fd_in, int dirfd, const struct lm_tar_extract_opts *opts, uint64_t *ret_bytes,
		   struct lm_error *err)
{
	const char *what = opts && opts->what ? opts->what : "tar";
	struct lm_tar_locale loc;
	int r = lm_tar_locale_enter(&loc);
	if (r < 0)
		return lm_err(err, r, "%s: cannot set up the tar reader", what);
	_cleanup_archive_read_ struct archive *a = archive_read_new();
	/* every filter, among them some that run an external program (lrzip,
	 * lzop, grzip) when libarchive lacks the library; tar formats only */
	if (!a || archive_read_support_filter_all(a) < ARCHIVE_WARN || archive_read_support_format_tar(a) != ARCHIVE_OK)
		r = lm_err(err, -ENOMEM, "%s: cannot set up the tar reader", what);
	else
		r = lm_untar_run(a, fd_in, dirfd, opts, NULL, ret_bytes, err);
	lm_tar_locale_leave(&loc);
	return r;
}
