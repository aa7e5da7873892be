/*
 * images/rows.c: the image tables (common/db.c, migration 3) to and from
 * struct lamina_image: images, image_names, image_layers. Only this file
 * writes image SQL; the layer sizes it reports are read from the graph
 * store's layers table, which it never writes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/cleanup.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"
#include "images/images.h"

static char *col_dup(sqlite3_stmt *st, int i, bool *oom)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	char *c = s ? strdup(s) : NULL;
	*oom |= s && !c;
	return c;
}

int img_name_set(struct lamina_store *store, const char *id, const char *name, struct lm_error *err)
{
	int r = lm_db_run(store->db, err, "INSERT INTO image_names (name, image) VALUES (?1, ?2) "
					  "ON CONFLICT (name) DO UPDATE SET image = ?2", "ss", name, id);
	return r < 0 ? lm_err_prefix(err, "image name '%s'", name) : 0;
}

int img_row_insert(struct lamina_store *store, const struct img_plan *p, const struct img_layer_row *layers,
		   struct lm_error *err)
{
	const char *id = p->config_digest + 7;
	int r = lm_db_run(store->db, err, "INSERT OR IGNORE INTO images (id, config, manifest_digest, created) "
					  "VALUES (?, ?, ?, ?)", "sssi", id, p->config, p->manifest_digest,
			  (int64_t)time(NULL));
	if (r == 1) /* new: its layers too (a stored image has the same ones) */
		for (size_t i = 0; i < p->n_layers && r >= 0; i++)
			r = lm_db_run(store->db, err,
				      "INSERT INTO image_layers (image, idx, layer, diff_id, digest, media_type, "
				      "blob_size) VALUES (?, ?, ?, ?, ?, ?, ?)", "sdssssi", id, (int)i,
				      layers[i].layer_id, layers[i].diff_id, layers[i].digest, layers[i].media_type,
				      (int64_t)layers[i].blob_size);
	for (size_t i = 0; i < p->n_names && r >= 0; i++)
		r = img_name_set(store, id, p->names[i], err);
	return r < 0 ? lm_err_prefix(err, "image %.12s", id) : 0;
}

static int strv_of(struct lamina_store *store, const char *sql, const char *arg, char ***ret, size_t *ret_n,
		   struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	char **v = NULL;
	size_t n = 0;
	bool oom = false;
	int r = lm_db_prepare(store->db, sql, &st, err);
	if (r >= 0 && arg)
		r = lm_db_bind(st, err, "s", arg);
	while (r >= 0 && !oom && (r = lm_db_step(st, err)) == 1) {
		char **a = reallocarray(v, n + 2, sizeof(*a));
		oom = !a;
		if (a) {
			v = a;
			v[n] = col_dup(st, 0, &oom);
			n += !!v[n];
		}
	}
	if (r < 0 || oom) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return r < 0 ? r : lm_err(err, -ENOMEM, "images");
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int img_row_ids(struct lamina_store *store, char ***ret, size_t *ret_n, struct lm_error *err)
{
	return strv_of(store, "SELECT id FROM images ORDER BY id", NULL, ret, ret_n, err);
}

/* The single ID sql (binding ref) gives: 1 and *ret, 0 when none, -EINVAL when several. */
static int one_id(struct lamina_store *store, const char *sql, const char *ref, char **ret, struct lm_error *err)
{
	char **v = NULL;
	size_t n = 0;
	int r = strv_of(store, sql, ref, &v, &n, err);
	if (r < 0)
		return r;
	if (n == 1)
		*ret = TAKE_PTR(v[0]);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	if (n > 1)
		return lm_err_plain(err, -EINVAL, "image '%s': ambiguous, %zu images match", ref, n);
	return n == 1;
}

static bool is_hex(const char *s)
{
	return s[strspn(s, "0123456789abcdef")] == '\0';
}

/* The image named ref, also as Docker's short forms ("bb:1" for
 * "docker.io/library/bb:1", "u/bb" for "docker.io/u/bb:latest"):
 * 1 with *ret and *ret_name (the name as stored), 0 when none. */
static int by_name(struct lamina_store *store, const char *ref, char **ret, char **ret_name, struct lm_error *err)
{
	static const char *const prefixes[] = { "", "docker.io/library/", "docker.io/" };
	_cleanup_free_ char *norm = NULL;
	if (lamina_image_name_normalize(ref, &norm, NULL) < 0)
		return 0;
	const char *slash = strchr(norm, '/');
	bool has_domain = slash && (memchr(norm, '.', (size_t)(slash - norm)) || memchr(norm, ':', (size_t)(slash - norm)) ||
				    strncmp(norm, "localhost/", 10) == 0);
	for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
		if (i > 0 && (has_domain || (i == 1) != !slash))
			continue;
		_cleanup_free_ char *name = NULL;
		if (asprintf(&name, "%s%s", prefixes[i], norm) < 0)
			return lm_err(err, -ENOMEM, "image '%s'", ref);
		int r = one_id(store, "SELECT image FROM image_names WHERE name = ?", name, ret, err);
		if (r > 0 && ret_name)
			*ret_name = TAKE_PTR(name);
		if (r != 0)
			return r;
	}
	return 0;
}

int img_resolve(struct lamina_store *store, const char *ref, char **ret, char **ret_name, struct lm_error *err)
{
	int r = by_name(store, ref, ret, ret_name, err);
	if (r != 0)
		return r < 0 ? r : 0;
	const char *hex = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
	if (strlen(hex) >= 4 && strlen(hex) <= 64 && is_hex(hex)) {
		_cleanup_free_ char *like = NULL;
		if (asprintf(&like, "%s%%", hex) < 0)
			return lm_err(err, -ENOMEM, "image '%s'", ref);
		r = one_id(store, "SELECT id FROM images WHERE id LIKE ?", like, ret, err);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	return lm_err_plain(err, -ENOENT, "image '%s': no such image", ref);
}

int img_layer_users(struct lamina_store *store, const char *layer, const char *id, int64_t *ret,
		    struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = lm_db_prepare(store->db, "SELECT count(*) FROM image_layers WHERE layer = ? AND image != ?", &st, err);
	if (r >= 0)
		r = lm_db_bind(st, err, "ss", layer, id);
	if (r >= 0 && (r = lm_db_step(st, err)) == 1)
		*ret = sqlite3_column_int64(st, 0);
	return r < 0 ? r : 0;
}

static void take_config_fields(struct lamina_image *im, bool *oom)
{
	json_t *c = json_loads(im->config, 0, NULL);
	const char *os = json_string_value(json_object_get(c, "os"));
	const char *arch = json_string_value(json_object_get(c, "architecture"));
	const char *created = json_string_value(json_object_get(c, "created"));
	im->os = os ? strdup(os) : NULL;
	im->architecture = arch ? strdup(arch) : NULL;
	im->created = created ? strdup(created) : NULL;
	*oom |= (os && !im->os) || (arch && !im->architecture) || (created && !im->created);
	json_decref(c);
}

static int load_layers(struct lamina_store *store, struct lamina_image *im, bool *oom, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = lm_db_prepare(store->db,
			      "SELECT il.layer, il.diff_id, il.digest, il.media_type, il.blob_size, "
			      "coalesce(l.size, 0) FROM image_layers il LEFT JOIN layers l ON l.id = il.layer "
			      "AND l.state = 'ready' WHERE il.image = ? ORDER BY il.idx", &st, err);
	if (r >= 0)
		r = lm_db_bind(st, err, "s", im->id);
	while (r >= 0 && !*oom && (r = lm_db_step(st, err)) == 1) {
		struct lamina_image_layer *a = reallocarray(im->layers, im->n_layers + 1, sizeof(*a));
		if (!(*oom = !a)) {
			im->layers = a;
			struct lamina_image_layer *l = &a[im->n_layers++];
			*l = (struct lamina_image_layer){ .layer_id = col_dup(st, 0, oom), .diff_id = col_dup(st, 1, oom),
							  .digest = col_dup(st, 2, oom), .media_type = col_dup(st, 3, oom),
							  .blob_size = (uint64_t)sqlite3_column_int64(st, 4),
							  .size = (uint64_t)sqlite3_column_int64(st, 5) };
			if (asprintf(&l->chain_id, "sha256:%s", l->layer_id ? l->layer_id : "") < 0)
				l->chain_id = NULL, *oom = true;
			im->size += l->size;
		}
	}
	return r < 0 ? r : 0;
}

static int load_main(struct lamina_store *store, struct lamina_image *im, bool *oom, struct lm_error *err)
{
	_cleanup_stmt_ sqlite3_stmt *st = NULL;
	int r = lm_db_prepare(store->db, "SELECT config, manifest_digest, created FROM images WHERE id = ?", &st, err);
	if (r >= 0)
		r = lm_db_bind(st, err, "s", im->id);
	if (r >= 0 && (r = lm_db_step(st, err)) == 0)
		return lm_err_plain(err, -ENOENT, "image %.12s: no such image", im->id);
	if (r < 0)
		return r;
	im->config = col_dup(st, 0, oom);
	im->manifest_digest = col_dup(st, 1, oom);
	im->imported = sqlite3_column_int64(st, 2);
	if (im->config)
		take_config_fields(im, oom);
	return 0;
}

int img_row_load(struct lamina_store *store, const char *id, struct lamina_image **ret, struct lm_error *err)
{
	struct lamina_image *im = calloc(1, sizeof(*im));
	bool oom = !im;
	int r = 0;
	if (im) {
		im->id = strdup(id);
		oom = !im->id || asprintf(&im->digest, "sha256:%s", id) < 0;
	}
	if (!oom && (r = load_main(store, im, &oom, err)) >= 0 && (r = load_layers(store, im, &oom, err)) >= 0)
		r = strv_of(store, "SELECT name FROM image_names WHERE image = ? ORDER BY name", id, &im->names,
			    &im->n_names, err);
	if (r >= 0 && !oom && im->n_layers && !(im->top_layer = strdup(im->layers[im->n_layers - 1].layer_id)))
		oom = true;
	if (r >= 0 && oom)
		r = lm_err(err, -ENOMEM, "image %.12s", id);
	if (r < 0) {
		lamina_image_free(im);
		return r;
	}
	*ret = im;
	return 0;
}
