/*
 * images/import.c: lamina_image_import: the plans parse.c reads, their
 * layers imported into the graph store keyed by ChainID and checked, then
 * the image rows, all or nothing.
 *
 * Order: (1) every image's metadata is read and checked before any layer
 * is touched; (2) each layer whose ChainID is not stored yet is imported
 * with that ChainID's hex as its ID and its parent's as parent, and its
 * DiffID and blob digest (lamina_layer_import computes both in its one
 * pass) compared with the config and the manifest; (3) one transaction
 * records the images and their names. A failure in (2) or (3) removes the
 * layers this import created, newest first, and leaves every layer that
 * was there before as it was. A crash between (2) and (3) leaves layers no
 * image names: harmless, and a second import finds them stored.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"
#include "images/images.h"

struct import {
	struct lamina_store *store;
	struct img_source src;
	const struct lamina_image_import_opts *opts;
	char **created; /* layers this import made, oldest first */
	size_t n_created;
	struct lamina_image_progress prog;
};

/* What the layer needs in its image_layers row, owned here. */
struct layer_info {
	char chain[IMG_DIGEST_LEN];
	char digest[IMG_DIGEST_LEN];
	uint64_t blob_size;
};

static int remember(struct import *im, const char *id, struct lm_error *err)
{
	char **v = reallocarray(im->created, im->n_created + 1, sizeof(*v));
	if (!v || !(v[im->n_created] = strdup(id))) {
		if (v)
			im->created = v;
		return lm_err(err, -ENOMEM, "layer '%s'", id);
	}
	im->created = v;
	im->n_created++;
	return 0;
}

/* Compares what the import computed with what the manifest and config say. */
static int verify(const struct img_plan *p, size_t i, const struct lamina_layer *l, struct layer_info *info,
		  struct lm_error *err)
{
	const struct img_desc *d = &p->layers[i];
	const char *blob = l->compressed_digest ? l->compressed_digest : l->diff_id;
	uint64_t size = l->compressed_digest ? l->compressed_size : l->uncompressed_size;

	if (d->digest && strcmp(blob, d->digest) != 0)
		return lm_err_plain(err, -EBADMSG, "content does not match its digest (sha256 %s)", blob + 7);
	if (!l->diff_id || strcmp(l->diff_id, p->diff_ids[i]) != 0)
		return lm_err_plain(err, -EBADMSG, "DiffID %s does not match the config's %s",
				    l->diff_id ? l->diff_id : "(none)", p->diff_ids[i]);
	if (d->size >= 0 && size != (uint64_t)d->size)
		return lm_err_plain(err, -EBADMSG, "%" PRIu64 " bytes, the manifest says %" PRId64, size, d->size);
	snprintf(info->digest, sizeof(info->digest), "%s", blob);
	info->blob_size = size;
	return 0;
}

/* Imports layer i of p, whose parent is parent (a ChainID hex, or NULL). */
static int import_new(struct import *im, const struct img_plan *p, size_t i, const char *parent,
		      struct layer_info *info, struct lm_error *err)
{
	struct lamina_layer_create_opts o = { .id = info->chain + 7, .parent = parent };
	struct lamina_layer *l = NULL;
	struct img_stream *st = NULL;
	int fd = -1;
	int r = img_source_stream(&im->src, p->layers[i].path, &st, &fd, err);
	if (r < 0)
		return r;
	r = lamina_layer_import(im->store, &o, fd, &l, err);
	lm_close(fd);
	struct lm_error serr = { 0 };
	int rs = img_stream_end(&im->src, st, &serr);
	if (r >= 0) {
		r = remember(im, o.id, err);
		if (r >= 0 && rs < 0)
			r = lm_err_plain(err, rs, "%s", serr.msg);
		if (r >= 0)
			r = verify(p, i, l, info, err);
	}
	lamina_layer_free(l);
	return r;
}

static int import_layer(struct import *im, const struct img_plan *p, size_t i, struct layer_info *infos,
			struct lm_error *err)
{
	struct layer_info *info = &infos[i];
	const struct img_desc *d = &p->layers[i];
	struct lamina_layer *l = NULL;
	int r = 0;

	if (lamina_layer_inspect(im->store, info->chain + 7, &l, NULL) >= 0) {
		/* stored: by its ChainID, the same content; the blob is not read */
		snprintf(info->digest, sizeof(info->digest), "%s",
			 d->digest ? d->digest : l->compressed_digest ? l->compressed_digest : l->diff_id);
		info->blob_size = d->size >= 0 ? (uint64_t)d->size
				  : l->compressed_digest ? l->compressed_size : l->uncompressed_size;
		lamina_layer_free(l);
	} else {
		r = import_new(im, p, i, i ? infos[i - 1].chain + 7 : NULL, info, err);
		if (r < 0)
			return lm_err_prefix(err, "layer %zu (%s)", i, d->digest ? d->digest : d->path);
	}
	im->prog.layers_done++;
	im->prog.bytes = im->src.bytes;
	im->prog.layer = p->diff_ids[i];
	if (im->opts->progress)
		im->opts->progress(&im->prog, im->opts->progress_arg);
	return 0;
}

static int import_plan(struct import *im, const struct img_plan *p, struct layer_info *infos, struct lm_error *err)
{
	/* img_chain_ids fills a plain array; spread it over the structs */
	char (*chain)[IMG_DIGEST_LEN] = calloc(p->n_layers + 1, IMG_DIGEST_LEN);
	if (!chain)
		return lm_err(err, -ENOMEM, "image %.12s", p->config_digest + 7);
	img_chain_ids(p->diff_ids, p->n_layers, chain);
	for (size_t i = 0; i < p->n_layers; i++)
		memcpy(infos[i].chain, chain[i], IMG_DIGEST_LEN);
	free(chain);
	for (size_t i = 0; i < p->n_layers; i++) {
		int r = import_layer(im, p, i, infos, err);
		if (r < 0)
			return lm_err_prefix(err, "image %.12s", p->config_digest + 7);
	}
	return 0;
}

static int record(struct import *im, const struct img_plan *plans, size_t n, struct layer_info **infos,
		  struct lm_error *err)
{
	int r = lm_db_begin(im->store->db, err);
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct img_layer_row *rows = calloc(plans[i].n_layers + 1, sizeof(*rows));
		if (!rows)
			return lm_db_rollback(im->store->db), lm_err(err, -ENOMEM, "images");
		for (size_t j = 0; j < plans[i].n_layers; j++)
			rows[j] = (struct img_layer_row){ .layer_id = infos[i][j].chain + 7,
							  .diff_id = plans[i].diff_ids[j],
							  .digest = infos[i][j].digest,
							  .media_type = plans[i].layers[j].media_type,
							  .blob_size = infos[i][j].blob_size };
		r = img_row_insert(im->store, &plans[i], rows, err);
		free(rows);
	}
	if (r >= 0)
		r = lm_db_commit(im->store->db, err);
	lm_db_rollback(im->store->db);
	return r;
}

/* --name replaces the names the input gives. */
static int apply_name(struct import *im, struct img_plan *plans, size_t n, struct lm_error *err)
{
	if (!im->opts->name)
		return 0;
	if (n > 1)
		return lm_err_plain(err, -EINVAL, "'%s': holds %zu images; a name needs one (choose a platform)",
				    im->src.path, n);
	char *norm = NULL;
	int r = lamina_image_name_normalize(im->opts->name, &norm, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < plans[0].n_names; i++)
		free(plans[0].names[i]);
	free(plans[0].names);
	plans[0].names = malloc(sizeof(char *));
	if (!plans[0].names) {
		free(norm);
		plans[0].n_names = 0;
		return lm_err(err, -ENOMEM, "image name");
	}
	plans[0].names[0] = norm;
	plans[0].n_names = 1;
	return 0;
}

static int run(struct import *im, struct img_plan *plans, size_t n, struct lm_error *err)
{
	struct layer_info **infos = calloc(n, sizeof(*infos));
	int r = infos ? apply_name(im, plans, n, err) : lm_err(err, -ENOMEM, "images");
	for (size_t i = 0; i < n && r >= 0; i++) {
		im->prog.n_layers += plans[i].n_layers;
		if (!(infos[i] = calloc(plans[i].n_layers + 1, sizeof(**infos))))
			r = lm_err(err, -ENOMEM, "images");
	}
	for (size_t i = 0; i < n && r >= 0; i++)
		r = import_plan(im, &plans[i], infos[i], err);
	if (r >= 0)
		r = record(im, plans, n, infos, err);
	for (size_t i = 0; infos && i < n; i++)
		free(infos[i]);
	free(infos);
	return r;
}

static void undo(struct import *im)
{
	for (size_t i = im->n_created; i-- > 0;)
		lamina_layer_remove(im->store, im->created[i], NULL);
}

static int results(struct lamina_store *store, const struct img_plan *plans, size_t n, struct lamina_image ***ret,
		   size_t *ret_n, struct lm_error *err)
{
	struct lamina_image **v = calloc(n + 1, sizeof(*v));
	if (!v)
		return lm_err(err, -ENOMEM, "images");
	for (size_t i = 0; i < n; i++) {
		int r = img_row_load(store, plans[i].config_digest + 7, &v[i], err);
		if (r < 0) {
			lamina_image_list_free(v, i);
			return r;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int lamina_image_import(struct lamina_store *store, const char *path, const struct lamina_image_import_opts *opts,
			struct lamina_image ***ret, size_t *ret_n, struct lm_error *err)
{
	static const struct lamina_image_import_opts none = { 0 };
	struct import im = { .store = store, .src = IMG_SOURCE_INIT, .opts = opts ? opts : &none };
	struct img_plan *plans = NULL;
	size_t n = 0;
	int r = img_source_open(path, &im.src, err);
	if (r >= 0)
		r = img_plans_read(&im.src, im.opts->platform, &plans, &n, err);
	if (r >= 0)
		r = run(&im, plans, n, err);
	if (r < 0)
		undo(&im);
	else if (ret)
		r = results(store, plans, n, ret, ret_n, err);
	else if (ret_n)
		*ret_n = n;
	for (size_t i = 0; i < im.n_created; i++)
		free(im.created[i]);
	free(im.created);
	img_plans_free(plans, n);
	img_source_release(&im.src);
	return r;
}
