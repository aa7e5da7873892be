/*
 * images/image.c: the image calls that work on records: inspect, list,
 * tag, remove, and names. Import is import.c's, export export.c's.
 *
 * Removal: in one transaction the name goes (when the image keeps another)
 * or the image's rows; then each of its layers, top first, that no other
 * image lists is removed with lamina_layer_remove, which refuses a layer
 * that is mounted or is another layer's parent (a container layer, or an
 * image layer the loop has not reached): those stay, and so do the layers
 * below them. A crash after the commit leaves layers no image lists,
 * harmless and still removable with `lamina layer rm`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"
#include "images/images.h"

void lamina_image_free(struct lamina_image *im)
{
	if (!im)
		return;
	for (size_t i = 0; i < im->n_layers; i++) {
		free(im->layers[i].layer_id);
		free(im->layers[i].chain_id);
		free(im->layers[i].diff_id);
		free(im->layers[i].digest);
		free(im->layers[i].media_type);
	}
	for (size_t i = 0; i < im->n_names; i++)
		free(im->names[i]);
	free(im->layers);
	free(im->names);
	free(im->id);
	free(im->digest);
	free(im->config);
	free(im->manifest_digest);
	free(im->os);
	free(im->architecture);
	free(im->created);
	free(im->top_layer);
	free(im);
}

void lamina_image_list_free(struct lamina_image **images, size_t n)
{
	for (size_t i = 0; i < n; i++)
		lamina_image_free(images[i]);
	free(images);
}

int lamina_image_name_normalize(const char *name, char **ret, struct lm_error *err)
{
	size_t len = strlen(name);
	if (len == 0 || len > 255)
		return lm_err_plain(err, -EINVAL, "image name '%.64s': must be 1 to 255 bytes", name);
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return lm_err_plain(err, -EINVAL, "image name '%.64s': spaces or control characters", name);
	const char *slash = strrchr(name, '/'), *colon = strrchr(slash ? slash : name, ':');
	if (name[len - 1] == ':' || name[len - 1] == '/' || name[0] == ':' || name[0] == '/')
		return lm_err_plain(err, -EINVAL, "image name '%s': empty name or tag", name);
	if (strncmp(name, "sha256:", 7) == 0)
		return lm_err_plain(err, -EINVAL, "image name '%s': looks like an ID", name);
	if (asprintf(ret, "%s%s", name, colon ? "" : ":latest") < 0)
		return lm_err(err, -ENOMEM, "image name '%s'", name);
	return 0;
}

int lamina_image_inspect(struct lamina_store *store, const char *ref, struct lamina_image **ret,
			 struct lm_error *err)
{
	_cleanup_free_ char *id = NULL;
	int r = img_resolve(store, ref, &id, NULL, err);
	if (r < 0 || !ret)
		return r;
	return img_row_load(store, id, ret, err);
}

static int by_first_name(const void *a, const void *b)
{
	const struct lamina_image *x = *(struct lamina_image *const *)a, *y = *(struct lamina_image *const *)b;
	if (x->n_names && y->n_names)
		return strcmp(x->names[0], y->names[0]);
	if (x->n_names || y->n_names)
		return x->n_names ? -1 : 1;
	return strcmp(x->id, y->id);
}

int lamina_image_list(struct lamina_store *store, struct lamina_image ***ret, size_t *ret_n, struct lm_error *err)
{
	char **ids = NULL;
	size_t n = 0, done = 0;
	int r = img_row_ids(store, &ids, &n, err);
	struct lamina_image **v = r < 0 ? NULL : calloc(n + 1, sizeof(*v));
	if (r >= 0 && !v)
		r = lm_err(err, -ENOMEM, "images");
	for (; r >= 0 && done < n; done++)
		r = img_row_load(store, ids[done], &v[done], err);
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	if (r < 0) {
		lamina_image_list_free(v, done);
		return r;
	}
	qsort(v, n, sizeof(*v), by_first_name);
	*ret = v;
	*ret_n = n;
	return 0;
}

int lamina_image_tag(struct lamina_store *store, const char *ref, const char *new_name, struct lm_error *err)
{
	_cleanup_free_ char *id = NULL, *norm = NULL;
	int r = lamina_image_name_normalize(new_name, &norm, err);
	if (r >= 0)
		r = img_resolve(store, ref, &id, NULL, err);
	if (r >= 0 && (r = lm_db_begin(store->db, err)) >= 0) {
		r = img_name_set(store, id, norm, err);
		if (r >= 0)
			r = lm_db_commit(store->db, err);
		lm_db_rollback(store->db);
	}
	return r;
}

/* In the transaction: drops the name (when ref was one of several), or
 * the whole image (*ret_gone). */
static int drop_rows(struct lamina_store *store, const struct lamina_image *im, const char *ref, const char *name,
		     bool *ret_gone, struct lm_error *err)
{
	*ret_gone = !name || im->n_names <= 1;
	if (!*ret_gone)
		return lm_db_run(store->db, err, "DELETE FROM image_names WHERE name = ?", "s", name);
	if (im->top_layer) {
		struct lamina_layer *top = NULL;
		int r = lamina_layer_inspect(store, im->top_layer, &top, NULL);
		bool mounted = r >= 0 && top->mountpoint;
		lamina_layer_free(top);
		if (mounted)
			return lm_err_plain(err, -EBUSY, "image '%s': mounted (its top layer %.12s)", ref, im->top_layer);
	}
	return lm_db_run(store->db, err, "DELETE FROM images WHERE id = ?", "s", im->id);
}

/* After the commit: each layer no other image lists, top first. */
static size_t drop_layers(struct lamina_store *store, const struct lamina_image *im)
{
	size_t removed = 0;
	for (size_t i = im->n_layers; i-- > 0;) {
		int64_t users = 0;
		const char *id = im->layers[i].layer_id;
		if (img_layer_users(store, id, im->id, &users, NULL) < 0 || users > 0)
			break;
		if (lamina_layer_inspect(store, id, NULL, NULL) == -ENOENT)
			continue; /* removed by hand already */
		if (lamina_layer_remove(store, id, NULL) < 0)
			break; /* in use: it and the layers below stay */
		removed++;
	}
	return removed;
}

int lamina_image_remove(struct lamina_store *store, const char *ref, size_t *ret_removed, struct lm_error *err)
{
	_cleanup_free_ char *id = NULL, *name = NULL;
	struct lamina_image *im = NULL;
	bool gone = false;
	int r = img_resolve(store, ref, &id, &name, err);
	if (r >= 0)
		r = img_row_load(store, id, &im, err);
	if (r >= 0 && (r = lm_db_begin(store->db, err)) >= 0) {
		r = drop_rows(store, im, ref, name, &gone, err);
		if (r >= 0)
			r = lm_db_commit(store->db, err);
		lm_db_rollback(store->db);
	}
	size_t removed = r >= 0 && gone ? drop_layers(store, im) : 0;
	if (r >= 0 && ret_removed)
		*ret_removed = removed;
	lamina_image_free(im);
	return r < 0 ? r : 0;
}
