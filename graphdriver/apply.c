/*
 * graphdriver/apply.c: gd_apply, an OCI changeset tar into a layer folder in
 * one pass: the entries through lm_untar_run() (common/tar.c: safe
 * extraction), the whiteout entries turned into on-disk markers
 * (whiteout.c), the digests of the input and of the tar stream (a tee of two
 * libarchive readers, below) and each regular file's XXH3-128 (filehash.c)
 * while its data is written.
 *
 * The tee: reader A decompresses the input (every filter, format "raw"),
 * its read callback hashing the bytes read from fd (compressed digest);
 * reader B parses tar only, its read callback pulling A's output and
 * hashing it (the DiffID). After the last entry the rest of both streams
 * (the tar's end padding, bytes after it) is read and hashed too, so the
 * digests are those of the whole input, as sha256sum gives them.
 */
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <openssl/evp.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/tar-private.h"
#include "common/tar.h"
#include "graphdriver/apply-private.h"
#include "graphdriver/layerfs-private.h"
#include "graphdriver/layerfs.h"

#define TEE_BUF (128 * 1024)

struct digest {
	EVP_MD_CTX *md;
	uint64_t n;
};

struct tee {
	int fd;
	struct archive *raw; /* A: decompression */
	struct digest in, tar;
	bool plain; /* no compression: the input's digest would be the DiffID, and is not kept */
	char inbuf[TEE_BUF], tarbuf[TEE_BUF];
};

static int digest_init(struct digest *d)
{
	d->md = EVP_MD_CTX_new();
	return d->md && EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
}

static void digest_add(struct digest *d, const void *buf, size_t n, bool hash)
{
	if (hash)
		EVP_DigestUpdate(d->md, buf, n);
	d->n += n;
}

/* "sha256:HEX" of what went in, into out (72 bytes). */
static int digest_final(struct digest *d, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(d->md, md, &len) != 1)
		return -EIO;
	strcpy(out, "sha256:");
	for (unsigned int i = 0; i < len; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static la_ssize_t raw_read(struct archive *a, void *ctx, const void **buf)
{
	struct tee *t = ctx;
	for (;;) {
		ssize_t n = read(t->fd, t->inbuf, sizeof(t->inbuf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			archive_set_error(a, errno, "cannot read the input");
			return -1;
		}
		/* a plain tar's bytes are hashed once, as the DiffID */
		digest_add(&t->in, t->inbuf, n, !t->plain);
		*buf = t->inbuf;
		return n;
	}
}

static la_ssize_t tar_read(struct archive *b, void *ctx, const void **buf)
{
	struct tee *t = ctx;
	la_ssize_t n = archive_read_data(t->raw, t->tarbuf, sizeof(t->tarbuf));
	if (n < 0) {
		int e = archive_errno(t->raw);
		archive_set_error(b, e > 0 ? e : EINVAL, "%s", lm_tar_error_string(t->raw));
		return -1;
	}
	digest_add(&t->tar, t->tarbuf, n, true);
	*buf = t->tarbuf;
	return n;
}

/* A opened on the input, B set up (not opened) to read A's output. */
static int tee_setup(struct tee *t, struct archive *b, const char *what, struct lm_error *err)
{
	if (digest_init(&t->in) < 0 || digest_init(&t->tar) < 0 || !t->raw || !b)
		return lm_err(err, -ENOMEM, "%s: cannot set up the tar reader", what);
	/* every filter, among them some that run an external program (lrzip,
	 * lzop, grzip) when libarchive lacks the library */
	if (archive_read_support_filter_all(t->raw) < ARCHIVE_WARN ||
	    archive_read_support_format_raw(t->raw) != ARCHIVE_OK || archive_read_support_format_tar(b) != ARCHIVE_OK ||
	    archive_read_set_read_callback(b, tar_read) != ARCHIVE_OK ||
	    archive_read_set_callback_data(b, t) != ARCHIVE_OK)
		return lm_err(err, -ENOMEM, "%s: cannot set up the tar reader", what);
	struct archive_entry *e;
	if (archive_read_open(t->raw, t, NULL, raw_read, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(t->raw, &e) != ARCHIVE_OK)
		return lm_err_plain(err, lm_tar_errno(t->raw, -EINVAL), "%s: input is not a tar archive: %s", what,
				    archive_error_string(t->raw) ? archive_error_string(t->raw) : "empty input");
	t->plain = archive_filter_code(t->raw, 0) == ARCHIVE_FILTER_NONE;
	return 0;
}

/* The rest of both streams into the digests (see the file's top). */
static int tee_drain(struct tee *t, const char *what, struct lm_error *err)
{
	la_ssize_t n;
	while ((n = archive_read_data(t->raw, t->tarbuf, sizeof(t->tarbuf))) > 0)
		digest_add(&t->tar, t->tarbuf, n, true);
	if (n < 0)
		return lm_err_plain(err, lm_tar_errno(t->raw, -EINVAL), "%s: cannot read the input after the tar: %s",
				    what, lm_tar_error_string(t->raw));
	const void *buf;
	while ((n = raw_read(t->raw, t, &buf)) > 0)
		;
	if (n < 0)
		return lm_err(err, lm_tar_errno(t->raw, -EIO), "%s: cannot read the input", what);
	return 0;
}

static void tee_release(struct tee *t)
{
	EVP_MD_CTX_free(t->in.md);
	EVP_MD_CTX_free(t->tar.md);
	if (t->raw)
		archive_read_free(t->raw);
}

/* A static name for the compression of the input. */
static const char *compression_name(int code)
{
	switch (code) {
	case ARCHIVE_FILTER_NONE: return "none";
	case ARCHIVE_FILTER_GZIP: return "gzip";
	case ARCHIVE_FILTER_BZIP2: return "bzip2";
	case ARCHIVE_FILTER_COMPRESS: return "compress";
	case ARCHIVE_FILTER_LZMA: return "lzma";
	case ARCHIVE_FILTER_XZ: return "xz";
	case ARCHIVE_FILTER_LZIP: return "lzip";
	case ARCHIVE_FILTER_LZ4: return "lz4";
	case ARCHIVE_FILTER_ZSTD: return "zstd";
	default: return "other";
	}
}

static int fill_result(struct tee *t, struct gd_layer_apply *la, uint64_t bytes, struct gd_apply_result *ret)
{
	struct gd_apply_result res = { .size = bytes };
	res.compression = compression_name(archive_filter_code(t->raw, 0));
	res.compressed_size = t->in.n;
	res.uncompressed_size = t->tar.n;
	if (digest_final(&t->tar, res.diff_id) < 0 || digest_final(&t->in, res.compressed_digest) < 0)
		return -EIO;
	if (t->plain)
		res.compressed_digest[0] = '\0';
	int r = gd_layer_apply_take_hashes(la, &res.hashes, &res.n_hashes);
	if (r < 0)
		return r;
	*ret = res;
	return 0;
}

int gd_apply(int fd_in, int dirfd, const struct gd_apply_opts *opts, struct gd_apply_result *ret,
	     struct lm_error *err)
{
	const char *what = opts->what ? opts->what : "layer";
	struct lm_tar_locale loc;
	int r = lm_tar_locale_enter(&loc);
	if (r < 0)
		return lm_err(err, r, "%s: cannot set up the tar reader", what);
	struct tee *t = calloc(1, sizeof(*t));
	struct gd_layer_apply la;
	int ri = gd_layer_apply_init(&la, opts, err);
	_cleanup_archive_read_ struct archive *b = archive_read_new();
	if (!t || ri < 0) {
		r = lm_err(err, -ENOMEM, "%s: cannot set up the tar reader", what);
		goto out;
	}
	t->fd = fd_in;
	t->raw = archive_read_new();
	r = tee_setup(t, b, what, err);
	if (r >= 0) {
		struct lm_tar_extract_opts xo = {
			.what = what,
			.keep_owner = opts->keep_owner,
			.allow_devices = opts->allow_devices,
			.drop_overlay_xattrs = true,
		};
		uint64_t bytes = 0;
		r = lm_untar_run(b, -1, dirfd, &xo, gd_layer_apply_hooks(&la), &bytes, err);
		if (r >= 0)
			r = tee_drain(t, what, err);
		if (r >= 0 && (r = fill_result(t, &la, bytes, ret)) < 0)
			lm_err(err, r, "%s: cannot finish the digests", what);
	}
	tee_release(t);
out:
	free(t);
	gd_layer_apply_release(&la);
	lm_tar_locale_leave(&loc);
	return r < 0 ? r : 0;
}

void gd_apply_result_release(struct gd_apply_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n_hashes; i++)
		free(res->hashes[i].path);
	free(res->hashes);
	memset(res, 0, sizeof(*res));
}
