/*
 * images/export.c: lamina_image_export: an image as an oci-archive (a tar
 * holding an OCI image layout): oci-layout, blobs/sha256/ (layers, config,
 * manifest) and index.json last.
 *
 * Each layer blob is what lamina_layer_diff writes (an uncompressed OCI
 * changeset tar), staged in an unnamed O_TMPFILE in ROOT/tmp, one at a
 * time, because a tar header needs the blob's size before its bytes. Its
 * digest is its DiffID; when the tars differ from those imported (a
 * recompressed or reordered original), the config's rootfs.diff_ids are
 * rewritten to describe the tars written, so the exported image verifies
 * (and gets a new ID); otherwise the config is written as imported.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/store.h"
#include "images/images.h"

#define BLOCK (128 * 1024)

struct exporter {
	struct lamina_store *store;
	const struct lamina_image *im;
	struct archive *a;
	char (*written)[IMG_DIGEST_LEN]; /* blobs in the archive, to write each once */
	size_t n_written;
};

static int header(struct exporter *x, const char *name, bool dir, uint64_t size, struct lm_error *err)
{
	_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
	if (!e)
		return lm_err(err, -ENOMEM, "image %.12s", x->im->id);
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, dir ? 0755 : 0644);
	archive_entry_set_size(e, dir ? 0 : (la_int64_t)size);
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(x->a, e) != ARCHIVE_OK)
		return lm_err_plain(err, -EIO, "image %.12s: '%s': %s", x->im->id, name, archive_error_string(x->a));
	return 0;
}

static int add_mem(struct exporter *x, const char *name, const void *data, size_t len, struct lm_error *err)
{
	int r = header(x, name, false, len, err);
	if (r >= 0 && archive_write_data(x->a, data, len) != (la_ssize_t)len)
		r = lm_err_plain(err, -EIO, "image %.12s: '%s': %s", x->im->id, name, archive_error_string(x->a));
	return r;
}

static bool written(struct exporter *x, const char *digest)
{
	for (size_t i = 0; i < x->n_written; i++)
		if (strcmp(x->written[i], digest) == 0)
			return true;
	return false;
}

static int add_blob(struct exporter *x, const char *digest, const void *data, size_t len, struct lm_error *err)
{
	char name[96];
	snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
	return written(x, digest) ? 0 : add_mem(x, name, data, len, err);
}

/* The sha256 and size of the file fd (from offset 0). */
static int digest_fd(int fd, char out[IMG_DIGEST_LEN], uint64_t *ret_size)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	_cleanup_free_ char *buf = malloc(BLOCK);
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	uint64_t total = 0;
	ssize_t n;
	int r = md && buf && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -ENOMEM;
	while (r >= 0 && (n = pread(fd, buf, BLOCK, (off_t)total)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		else
			EVP_DigestUpdate(md, buf, (size_t)n), total += (uint64_t)n;
	}
	if (r >= 0 && EVP_DigestFinal_ex(md, h, &hl) == 1) {
		memcpy(out, "sha256:", 7);
		for (unsigned i = 0; i < hl; i++)
			snprintf(out + 7 + 2 * i, 3, "%02x", h[i]);
		*ret_size = total;
	}
	EVP_MD_CTX_free(md);
	return r;
}

static int copy_fd(struct exporter *x, int fd, const char *name, struct lm_error *err)
{
	_cleanup_free_ char *buf = malloc(BLOCK);
	off_t off = 0;
	ssize_t n;
	if (!buf)
		return lm_err(err, -ENOMEM, "image %.12s", x->im->id);
	while ((n = pread(fd, buf, BLOCK, off)) > 0) {
		if (archive_write_data(x->a, buf, (size_t)n) != n)
			return lm_err_plain(err, -EIO, "image %.12s: '%s': %s", x->im->id, name,
					    archive_error_string(x->a));
		off += n;
	}
	return n < 0 ? lm_err(err, -errno, "image %.12s: cannot read a staged layer", x->im->id) : 0;
}

/* Writes layer i's diff as a blob; its digest in out. */
static int add_layer(struct exporter *x, size_t i, char out[IMG_DIGEST_LEN], uint64_t *ret_size,
		     struct lm_error *err)
{
	const char *id = x->im->layers[i].layer_id;
	_cleanup_close_ int tmp = lm_store_open_dir(x->store, LM_STORE_TMP);
	_cleanup_close_ int fd = tmp < 0 ? tmp : openat(tmp, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return lm_err(err, fd == -1 ? -errno : fd, "image %.12s: layer %.12s: cannot stage its tar", x->im->id,
			      id);
	int r = lamina_layer_diff(x->store, id, fd, err);
	if (r >= 0 && (r = digest_fd(fd, out, ret_size)) < 0)
		return lm_err(err, r, "image %.12s: layer %.12s: cannot read its staged tar", x->im->id, id);
	if (r < 0 || written(x, out))
		return r < 0 ? lm_err_prefix(err, "image %.12s", x->im->id) : 0;
	char name[96];
	snprintf(name, sizeof(name), "blobs/sha256/%s", out + 7);
	if ((r = header(x, name, false, *ret_size, err)) >= 0 && (r = copy_fd(x, fd, name, err)) >= 0)
		memcpy(x->written[x->n_written++], out, IMG_DIGEST_LEN);
	return r;
}

/* The config to write: as imported when its DiffIDs describe the tars
 * written, else with rootfs.diff_ids replaced. *ret yours. */
static int config_for(const struct lamina_image *im, char (*diff)[IMG_DIGEST_LEN], char **ret, struct lm_error *err)
{
	bool same = true;
	for (size_t i = 0; i < im->n_layers; i++)
		same &= strcmp(diff[i], im->layers[i].diff_id) == 0;
	if (same)
		return (*ret = strdup(im->config)) ? 0 : lm_err(err, -ENOMEM, "image %.12s", im->id);
	json_t *c = json_loads(im->config, JSON_DECODE_ANY, NULL), *rootfs = json_object_get(c, "rootfs");
	json_t *ids = json_array();
	for (size_t i = 0; ids && i < im->n_layers; i++)
		json_array_append_new(ids, json_string(diff[i]));
	if (!json_is_object(rootfs) || !ids || json_object_set_new(rootfs, "diff_ids", ids) < 0) {
		json_decref(c);
		return lm_err_plain(err, -EINVAL, "image %.12s: its config has no rootfs", im->id);
	}
	*ret = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(c);
	return *ret ? 0 : lm_err(err, -ENOMEM, "image %.12s", im->id);
}

static json_t *descriptor(const char *media_type, const char *digest, uint64_t size)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", media_type, "digest", digest, "size", (json_int_t)size);
}

/* Dumps j (consumed) and adds it as a blob; its digest and size in out. */
static int add_json_blob(struct exporter *x, json_t *j, char out[IMG_DIGEST_LEN], uint64_t *ret_size,
			 struct lm_error *err)
{
	_cleanup_free_ char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (!text)
		return lm_err(err, -ENOMEM, "image %.12s", x->im->id);
	*ret_size = strlen(text);
	img_sha256(text, *ret_size, out);
	return add_blob(x, out, text, *ret_size, err);
}

static int add_index(struct exporter *x, const char *manifest, uint64_t size, struct lm_error *err)
{
	json_t *d = descriptor("application/vnd.oci.image.manifest.v1+json", manifest, size);
	if (d && x->im->n_names)
		json_object_set_new(d, "annotations",
				    json_pack("{s:s}", "org.opencontainers.image.ref.name", x->im->names[0]));
	json_t *idx = json_pack("{s:i, s:s, s:[o]}", "schemaVersion", 2, "mediaType",
				"application/vnd.oci.image.index.v1+json", "manifests", d);
	_cleanup_free_ char *text = idx ? json_dumps(idx, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(idx);
	if (!text)
		return lm_err(err, -ENOMEM, "image %.12s", x->im->id);
	return add_mem(x, "index.json", text, strlen(text), err);
}

/* Config and manifest (after the layers: diff holds their digests). */
static int add_manifest(struct exporter *x, char (*diff)[IMG_DIGEST_LEN], const uint64_t *sizes,
			struct lm_error *err)
{
	_cleanup_free_ char *config = NULL;
	char cdigest[IMG_DIGEST_LEN], mdigest[IMG_DIGEST_LEN];
	uint64_t msize = 0;
	int r = config_for(x->im, diff, &config, err);
	if (r < 0)
		return r;
	img_sha256(config, strlen(config), cdigest);
	if ((r = add_blob(x, cdigest, config, strlen(config), err)) < 0)
		return r;
	json_t *layers = json_array();
	for (size_t i = 0; layers && i < x->im->n_layers; i++)
		json_array_append_new(layers, descriptor("application/vnd.oci.image.layer.v1.tar", diff[i], sizes[i]));
	json_t *m = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType",
			      "application/vnd.oci.image.manifest.v1+json", "config",
			      descriptor("application/vnd.oci.image.config.v1+json", cdigest, strlen(config)),
			      "layers", layers);
	if ((r = add_json_blob(x, m, mdigest, &msize, err)) < 0)
		return r;
	return add_index(x, mdigest, msize, err);
}

static int write_all(struct exporter *x, struct lm_error *err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	size_t n = x->im->n_layers;
	char(*diff)[IMG_DIGEST_LEN] = calloc(n + 1, IMG_DIGEST_LEN);
	uint64_t *sizes = calloc(n + 1, sizeof(*sizes));
	int r = diff && sizes && (x->written = calloc(n + 3, IMG_DIGEST_LEN)) ? 0 : lm_err(err, -ENOMEM, "image");
	if (r >= 0)
		r = add_mem(x, "oci-layout", layout, strlen(layout), err);
	if (r >= 0 && (r = header(x, "blobs", true, 0, err)) >= 0)
		r = header(x, "blobs/sha256", true, 0, err);
	for (size_t i = 0; i < n && r >= 0; i++)
		r = add_layer(x, i, diff[i], &sizes[i], err);
	if (r >= 0)
		r = add_manifest(x, diff, sizes, err);
	if (r >= 0 && archive_write_close(x->a) != ARCHIVE_OK)
		r = lm_err_plain(err, -EIO, "image %.12s: %s", x->im->id, archive_error_string(x->a));
	free(diff);
	free(sizes);
	free(x->written);
	return r;
}

int lamina_image_export(struct lamina_store *store, const char *ref, int fd, struct lm_error *err)
{
	struct lamina_image *im = NULL;
	int r = lamina_image_inspect(store, ref, &im, err);
	if (r < 0)
		return r;
	struct exporter x = { .store = store, .im = im, .a = archive_write_new() };
	if (!x.a)
		r = lm_err(err, -ENOMEM, "image '%s'", ref);
	else if (archive_write_set_format_pax_restricted(x.a) != ARCHIVE_OK ||
		 archive_write_set_bytes_in_last_block(x.a, 1) != ARCHIVE_OK ||
		 archive_write_open_fd(x.a, fd) != ARCHIVE_OK)
		r = lm_err_plain(err, -EIO, "image '%s': %s", ref, archive_error_string(x.a));
	else
		r = write_all(&x, err);
	archive_write_free(x.a);
	lamina_image_free(im);
	return r;
}
