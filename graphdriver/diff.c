/*
 * graphdriver/diff.c: a layer's changes back out (Docker's Diff, Changes,
 * DiffSize) and verify: each resolves the layer, opens its folders and
 * hands them to layerfs.h, which does the work.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"

/* The ID of id_or_name in *id, the fd of its diff/ in *fd, and "layer 'ID'" in what. */
static int open_layer(struct lamina_store *store, const char *id_or_name, char **id, int *fd, char *what,
		      size_t what_size, struct lm_error *err)
{
	int r = gd_resolve(store, id_or_name, id, err);
	if (r < 0)
		return r;
	snprintf(what, what_size, "layer '%s'", *id);
	*fd = gd_open_dir(store, *id, GD_DIFF, err);
	return *fd < 0 ? *fd : 0;
}

int lamina_layer_diff(struct lamina_store *store, const char *id_or_name, int fd, struct lm_error *err)
{
	_cleanup_free_ char *id = NULL;
	_cleanup_close_ int dir = -1;
	char what[GD_ID_MAX + 16];
	int r = open_layer(store, id_or_name, &id, &dir, what, sizeof(what), err);
	return r < 0 ? r : gd_export(dir, fd, what, err);
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; fds && i < n; i++)
		lm_close(fds[i]);
	free(fds);
}

/* The diff/ fds of the parent chain of id, top first. */
static int open_lowers(struct lamina_store *store, const char *id, int **ret, size_t *ret_n, struct lm_error *err)
{
	char **chain = NULL;
	size_t n = 0;
	int r = gd_row_chain(store, id, &chain, &n, err);
	if (r < 0)
		return r;
	int *fds = calloc(n ? n : 1, sizeof(*fds));
	size_t k = 0;
	if (!fds)
		r = lm_err(err, -ENOMEM, "layer '%s'", id);
	for (size_t i = 1; r >= 0 && i < n; i++) {
		r = gd_open_dir(store, chain[i], GD_DIFF, err);
		if (r >= 0)
			fds[k++] = r;
	}
	gd_strv_free(chain, n);
	if (r < 0) {
		close_all(fds, k);
		return r;
	}
	*ret = fds;
	*ret_n = k;
	return 0;
}

int lamina_layer_changes(struct lamina_store *store, const char *id_or_name, struct lamina_layer_change **ret,
			 size_t *ret_n, struct lm_error *err)
{
	_cleanup_free_ char *id = NULL;
	_cleanup_close_ int dir = -1;
	char what[GD_ID_MAX + 16];
	int *lowers = NULL;
	size_t n = 0;
	int r = open_layer(store, id_or_name, &id, &dir, what, sizeof(what), err);
	if (r >= 0)
		r = open_lowers(store, id, &lowers, &n, err);
	if (r >= 0)
		r = gd_changes(dir, lowers, n, ret, ret_n, err);
	close_all(lowers, n);
	return r < 0 ? lm_err_prefix(err, "%s", what) : r;
}

int lamina_layer_diff_size(struct lamina_store *store, const char *id_or_name, uint64_t *ret, struct lm_error *err)
{
	_cleanup_free_ char *id = NULL;
	_cleanup_close_ int dir = -1;
	char what[GD_ID_MAX + 16];
	int r = open_layer(store, id_or_name, &id, &dir, what, sizeof(what), err);
	if (r >= 0 && (r = gd_diff_size(dir, ret, err)) < 0)
		lm_err_prefix(err, "%s", what);
	return r;
}

int lamina_layer_verify(struct lamina_store *store, const char *id_or_name, struct lamina_check_report *ret,
			struct lm_error *err)
{
	_cleanup_free_ char *id = NULL;
	_cleanup_close_ int dir = -1;
	char what[GD_ID_MAX + 16];
	struct gd_file_hash *h = NULL;
	size_t n = 0;
	struct lamina_layer *l = NULL;
	int r = open_layer(store, id_or_name, &id, &dir, what, sizeof(what), err);
	if (r >= 0)
		r = gd_row_load(store, id, &l, err);
	if (r >= 0)
		r = gd_row_files(store, id, &h, &n, err);
	if (r >= 0 && !l->diff_id) {
		*ret = (struct lamina_check_report){ 0 }; /* no tar applied: nothing recorded */
	} else if (r >= 0) {
		r = gd_verify(dir, h, n, what, ret, err);
	}
	gd_hashes_free(h, n);
	lamina_layer_free(l);
	return r;
}
