/*
 * images/source.c: reading an image's files from where it is: a folder
 * (an OCI image layout, or an extracted docker-archive), or a tar file (an
 * oci-archive or docker-archive, plain or compressed) read with libarchive.
 *
 * A tar is scanned once: every regular file's name and size, and the
 * content of the small ones (index, manifests, configs: whatever is at
 * most KEEP_MAX bytes) kept in memory. A big blob is read when its turn
 * comes by opening the archive again and skipping to it; its bytes go
 * through a socket pair to the layer import, fed by a thread, so nothing
 * is extracted to disk and the order of the archive does not matter.
 * Every name read goes through lm_open_beneath (folders) or must match an
 * entry exactly (tars): a name cannot leave the source.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/path.h"
#include "images/images.h"

#define KEEP_MAX (1u << 20)
#define BLOCK (128 * 1024)
#define MAX_ENTRIES 100000

static const char *normalize(const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		for (name += 2; *name == '/'; name++)
			;
	return name;
}

static int open_archive(const char *path, struct archive **ret, struct lm_error *err)
{
	struct archive *a = archive_read_new();

	if (!a)
		return lm_err(err, -ENOMEM, "'%s'", path);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, path, BLOCK) != ARCHIVE_OK) {
		int r = lm_err_plain(err, -EINVAL, "'%s': not an image archive: %s", path, archive_error_string(a));
		archive_read_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

static int keep_entry(struct img_source *s, struct archive *a, struct archive_entry *e, struct lm_error *err)
{
	if (s->n_entries >= MAX_ENTRIES)
		return lm_err_plain(err, -EINVAL, "'%s': more than %d files", s->path, MAX_ENTRIES);
	struct img_entry *n = reallocarray(s->entries, s->n_entries + 1, sizeof(*n));
	if (!n)
		return lm_err(err, -ENOMEM, "'%s'", s->path);
	s->entries = n;
	struct img_entry *x = &n[s->n_entries];
	*x = (struct img_entry){ .name = strdup(normalize(archive_entry_pathname(e))),
				 .size = (uint64_t)archive_entry_size(e) };
	if (!x->name)
		return lm_err(err, -ENOMEM, "'%s'", s->path);
	s->n_entries++;
	if (x->size > KEEP_MAX)
		return 0;
	if (!(x->data = malloc(x->size + 1)))
		return lm_err(err, -ENOMEM, "'%s'", s->path);
	la_ssize_t got = archive_read_data(a, x->data, x->size);
	if (got != (la_ssize_t)x->size)
		return lm_err_plain(err, -EINVAL, "'%s': cannot read '%s': %s", s->path, x->name,
				    got < 0 ? archive_error_string(a) : "truncated");
	x->data[x->size] = '\0';
	return 0;
}

static int scan_tar(struct img_source *s, struct lm_error *err)
{
	_cleanup_archive_read_ struct archive *a = NULL;
	struct archive_entry *e;
	int r = open_archive(s->path, &a, err), ar;

	while (r >= 0 && (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		if (archive_entry_filetype(e) == AE_IFREG && archive_entry_pathname(e))
			r = keep_entry(s, a, e, err);
	if (r >= 0 && ar != ARCHIVE_EOF)
		r = lm_err_plain(err, -EINVAL, "'%s': not an image archive: %s", s->path, archive_error_string(a));
	return r;
}

int img_source_open(const char *path, struct img_source *ret, struct lm_error *err)
{
	struct img_source s = IMG_SOURCE_INIT;
	struct stat st;

	if (stat(path, &st) < 0)
		return lm_err(err, -errno, "'%s'", path);
	if (!(s.path = strdup(path)))
		return lm_err(err, -ENOMEM, "'%s'", path);
	int r = 0;
	if (S_ISDIR(st.st_mode)) {
		s.dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s.dirfd < 0)
			r = lm_err(err, -errno, "'%s'", path);
	} else {
		r = scan_tar(&s, err);
	}
	if (r < 0)
		img_source_release(&s);
	else
		*ret = s;
	return r;
}

void img_source_release(struct img_source *s)
{
	for (size_t i = 0; i < s->n_entries; i++) {
		free(s->entries[i].name);
		free(s->entries[i].data);
	}
	free(s->entries);
	free(s->path);
	lm_close(s->dirfd);
	*s = (struct img_source)IMG_SOURCE_INIT;
}

static struct img_entry *find(struct img_source *s, const char *name)
{
	for (size_t i = 0; i < s->n_entries; i++)
		if (strcmp(s->entries[i].name, name) == 0)
			return &s->entries[i];
	return NULL;
}

static int open_file(struct img_source *s, const char *name)
{
	return lm_open_beneath(s->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0,
			       LM_RESOLVE_NO_SYMLINKS);
}

bool img_source_has(struct img_source *s, const char *name)
{
	if (s->dirfd < 0)
		return find(s, name) != NULL;
	_cleanup_close_ int fd = open_file(s, name);
	return fd >= 0;
}

static int read_fd(int fd, const char *what, char **ret, size_t *ret_len, struct lm_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return lm_err(err, -errno, "%s", what);
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > IMG_META_MAX)
		return lm_err_plain(err, -EINVAL, "%s: not a regular file of at most %u bytes", what, IMG_META_MAX);
	_cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	if (!buf)
		return lm_err(err, -ENOMEM, "%s", what);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n <= 0)
			return lm_err(err, n < 0 ? -errno : -EIO, "%s: cannot read", what);
		got += (size_t)n;
	}
	buf[got] = '\0';
	*ret_len = got;
	*ret = TAKE_PTR(buf);
	return 0;
}

int img_source_read(struct img_source *s, const char *name, char **ret, size_t *ret_len, struct lm_error *err)
{
	char what[256];
	snprintf(what, sizeof(what), "'%s': '%s'", s->path, name);
	if (s->dirfd >= 0) {
		_cleanup_close_ int fd = open_file(s, name);
		if (fd < 0)
			return lm_err(err, fd, "%s", what);
		return read_fd(fd, what, ret, ret_len, err);
	}
	struct img_entry *e = find(s, name);
	if (!e)
		return lm_err_plain(err, -ENOENT, "%s: missing", what);
	if (!e->data)
		return lm_err_plain(err, -EINVAL, "%s: more than %u bytes", what, KEEP_MAX);
	if (!(*ret = malloc(e->size + 1)))
		return lm_err(err, -ENOMEM, "%s", what);
	memcpy(*ret, e->data, e->size + 1);
	*ret_len = e->size;
	return 0;
}

/* The thread feeding a blob from a tar into a socket. */
struct img_stream {
	pthread_t thread;
	bool started;
	int fd;                  /* our end of the socket pair; the thread closes it */
	struct archive *a;       /* positioned at the entry, or NULL */
	const char *mem;         /* or the entry's content in memory */
	uint64_t len, sent;
	int r;
	char msg[256];
};

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *pump(void *arg)
{
	struct img_stream *st = arg;
	_cleanup_free_ char *buf = st->a ? malloc(BLOCK) : NULL;
	int r = 0;

	if (st->mem) {
		r = send_all(st->fd, st->mem, st->len);
		st->sent = st->len;
	}
	while (st->a && r >= 0) {
		la_ssize_t n = buf ? archive_read_data(st->a, buf, BLOCK) : -1;
		if (n <= 0) {
			if (n < 0)
				snprintf(st->msg, sizeof(st->msg), "%s", buf ? archive_error_string(st->a) : "no memory");
			r = n < 0 ? -EIO : 0;
			break;
		}
		st->sent += (uint64_t)n;
		r = send_all(st->fd, buf, (size_t)n);
	}
	if (r == -EPIPE)
		r = 0; /* the reader stopped early; it reports its own error */
	st->r = r;
	st->fd = lm_close(st->fd);
	return NULL;
}

/* Opens the archive again and skips to name. */
static int seek_entry(struct img_source *s, const char *name, struct archive **ret, struct lm_error *err)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	int r = open_archive(s->path, &a, err), ar;

	while (r >= 0 && (ar = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		if (archive_entry_pathname(e) && strcmp(normalize(archive_entry_pathname(e)), name) == 0) {
			*ret = a;
			return 0;
		}
	if (r >= 0)
		r = lm_err_plain(err, -EIO, "'%s': '%s' vanished: %s", s->path, name,
				 ar == ARCHIVE_EOF ? "not found again" : archive_error_string(a));
	archive_read_free(a);
	return r;
}

static int stream_tar(struct img_source *s, struct img_entry *e, struct img_stream *st, int *ret_fd,
		      struct lm_error *err)
{
	int sv[2], r = 0;

	if (!e->data && (r = seek_entry(s, e->name, &st->a, err)) < 0)
		return r;
	st->mem = e->data;
	st->len = e->size;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return lm_err(err, -errno, "'%s': '%s': cannot make a socket pair", s->path, e->name);
	st->fd = sv[1];
	if ((r = -pthread_create(&st->thread, NULL, pump, st)) < 0) {
		lm_close(sv[0]);
		st->fd = lm_close(sv[1]);
		return lm_err(err, r, "'%s': '%s': cannot start a thread", s->path, e->name);
	}
	st->started = true;
	*ret_fd = sv[0];
	return 0;
}

int img_source_stream(struct img_source *s, const char *name, struct img_stream **ret, int *ret_fd,
		      struct lm_error *err)
{
	struct img_stream *st = calloc(1, sizeof(*st));
	struct stat sb;
	int r = 0;

	if (!st)
		return lm_err(err, -ENOMEM, "'%s'", s->path);
	st->fd = -1;
	if (s->dirfd >= 0) {
		int fd = open_file(s, name);
		if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			r = lm_err(err, fd < 0 ? fd : -EINVAL, "'%s': blob '%s'", s->path, name);
			lm_close(fd);
		} else {
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
			st->sent = (uint64_t)sb.st_size;
			*ret_fd = fd;
		}
	} else {
		struct img_entry *e = find(s, name);
		r = e ? stream_tar(s, e, st, ret_fd, err) : lm_err_plain(err, -ENOENT, "'%s': blob '%s' missing",
									  s->path, name);
	}
	if (r < 0) {
		archive_read_free(st->a);
		free(st);
		return r;
	}
	*ret = st;
	return 0;
}

int img_stream_end(struct img_source *s, struct img_stream *st, struct lm_error *err)
{
	int r = 0;

	if (st->started) {
		pthread_join(st->thread, NULL);
		if (st->r < 0)
			r = lm_err_plain(err, st->r, "'%s': cannot read a blob: %s", s->path,
					 st->msg[0] ? st->msg : strerror(-st->r));
	}
	s->bytes += st->sent;
	archive_read_free(st->a);
	lm_close(st->fd);
	free(st);
	return r;
}
