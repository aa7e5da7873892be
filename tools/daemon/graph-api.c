/*
 * tools/daemon/graph-api.c: Docker's GraphDriver protocol (the JSON
 * endpoints; Diff and ApplyDiff stream raw tars: stream.c), one function per
 * endpoint, each a thin call into <lamina/layer.h>. Docker's layer IDs are
 * lamina layer IDs; Get and Put count the caller "docker".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "daemon.h"

#define GRAPH_CALLER "docker"

static int layer_id(json_t *req, const char **ret, struct lm_error *err)
{
	return lmd_json_string(req, "ID", true, ret, err);
}

/* Home names where Docker would like the data; the store stays at --root. */
static int gd_init(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	const char *home;

	(void)store;
	(void)reply;
	return lmd_json_string(req, "Home", false, &home, err);
}

static int gd_create_as(struct lamina_store *store, json_t *req, bool rw, struct lm_error *err)
{
	struct lamina_layer_create_opts o = { .read_write = rw };
	int r;

	if ((r = layer_id(req, &o.id, err)) < 0 || (r = lmd_json_string(req, "Parent", false, &o.parent, err)) < 0)
		return r;
	if (o.parent && !*o.parent)
		o.parent = NULL;
	return lamina_layer_create(store, &o, NULL, err);
}

static int gd_create(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	(void)reply;
	return gd_create_as(store, req, false, err);
}

static int gd_create_rw(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	(void)reply;
	return gd_create_as(store, req, true, err);
}

static int gd_remove(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	const char *id;
	int r;

	(void)reply;
	if ((r = layer_id(req, &id, err)) < 0)
		return r;
	/* as overlay2: removing a layer that is not there is no error (dockerd
	 * retries a Remove whose answer it did not get) */
	struct lm_error rm = { 0 };
	r = lamina_layer_remove(store, id, &rm);
	if (r < 0 && r != -ENOENT) {
		*err = rm;
		return r;
	}
	return 0;
}

static int gd_get(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	struct lamina_layer_mount_opts o = { .caller = GRAPH_CALLER, .backend = lmd_config.backend };
	_cleanup_free_ char *dir = NULL;
	const char *id;
	int r;

	if ((r = layer_id(req, &id, err)) < 0 || (r = lamina_layer_mount(store, id, &o, &dir, err)) < 0)
		return r;
	return lmd_json_set(reply, "Dir", json_string(dir), err);
}

static int gd_put(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	const char *id;
	int r;

	(void)reply;
	if ((r = layer_id(req, &id, err)) < 0)
		return r;
	return lamina_layer_unmount(store, id, GRAPH_CALLER, err);
}

static int gd_exists(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	const char *id;
	int r;

	if ((r = layer_id(req, &id, err)) < 0)
		return r;
	/* a missing layer is an answer (false), not an Err */
	struct lm_error lookup = { 0 };
	r = lamina_layer_inspect(store, id, NULL, &lookup);
	if (r < 0 && r != -ENOENT) {
		*err = lookup;
		return r;
	}
	return lmd_json_set(reply, "Exists", json_boolean(r == 0), err);
}

static int kv_to_json(struct lamina_kv *kv, size_t n, bool pairs, json_t **ret, struct lm_error *err)
{
	json_t *out = pairs ? json_array() : json_object();
	int r = 0;

	for (size_t i = 0; out && i < n && r == 0; i++)
		r = pairs ? json_array_append_new(out, json_pack("[s,s]", kv[i].key, kv[i].value))
			  : json_object_set_new(out, kv[i].key, json_string(kv[i].value));
	lamina_kv_array_free(kv, n);
	if (!out || r < 0) {
		json_decref(out);
		return lm_err(err, -ENOMEM, "reply");
	}
	*ret = out;
	return 0;
}

static int gd_status(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	struct lamina_kv *kv;
	json_t *out;
	size_t n;
	int r;

	(void)req;
	if ((r = lamina_layer_status(store, &kv, &n, err)) < 0 || (r = kv_to_json(kv, n, true, &out, err)) < 0)
		return r;
	return lmd_json_set(reply, "Status", out, err);
}

static int gd_metadata(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	struct lamina_kv *kv;
	const char *id;
	json_t *out;
	size_t n;
	int r;

	if ((r = layer_id(req, &id, err)) < 0 || (r = lamina_layer_metadata(store, id, &kv, &n, err)) < 0 ||
	    (r = kv_to_json(kv, n, false, &out, err)) < 0)
		return r;
	return lmd_json_set(reply, "Metadata", out, err);
}

static int gd_cleanup(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	(void)req;
	(void)reply;
	return lamina_layer_cleanup(store, err);
}

static int gd_capabilities(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	(void)store;
	(void)req;
	return lmd_json_set(reply, "Capabilities", json_pack("{s:b}", "ReproducesExactDiffs", 0), err);
}

int lmd_graph_check_parent(struct lamina_store *store, json_t *req, const char **ret_id, struct lm_error *err)
{
	struct lamina_layer *layer;
	const char *parent;
	int r;

	if ((r = layer_id(req, ret_id, err)) < 0 || (r = lmd_json_string(req, "Parent", false, &parent, err)) < 0 ||
	    (r = lamina_layer_inspect(store, *ret_id, &layer, err)) < 0)
		return r;
	if (parent && *parent && (!layer->parent || strcmp(parent, layer->parent) != 0))
		r = lm_err_plain(err, -EINVAL, "layer '%s': its parent is '%s', not '%s' (lamina diffs against its own parent)",
				 *ret_id, layer->parent ? layer->parent : "(none)", parent);
	lamina_layer_free(layer);
	return r;
}

static int gd_changes(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	struct lamina_layer_change *ch;
	json_t *arr;
	const char *id;
	size_t n;
	int r;

	if ((r = lmd_graph_check_parent(store, req, &id, err)) < 0 ||
	    (r = lamina_layer_changes(store, id, &ch, &n, err)) < 0)
		return r;
	arr = json_array();
	for (size_t i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, json_pack("{s:s, s:i}", "Path", ch[i].path, "Kind", (int)ch[i].kind)) < 0)
			r = -ENOMEM;
	lamina_layer_changes_free(ch, n);
	if (!arr || r < 0) {
		json_decref(arr);
		return lm_err(err, -ENOMEM, "layer '%s': changes", id);
	}
	return lmd_json_set(reply, "Changes", arr, err);
}

static int gd_diff_size(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	const char *id;
	uint64_t size;
	int r;

	if ((r = lmd_graph_check_parent(store, req, &id, err)) < 0 ||
	    (r = lamina_layer_diff_size(store, id, &size, err)) < 0)
		return r;
	return lmd_json_set(reply, "Size", json_integer((json_int_t)size), err);
}

const struct lmd_endpoint lmd_graph_endpoints[] = {
	{ "/GraphDriver.Init", gd_init },
	{ "/GraphDriver.Create", gd_create },
	{ "/GraphDriver.CreateReadWrite", gd_create_rw },
	{ "/GraphDriver.Remove", gd_remove },
	{ "/GraphDriver.Get", gd_get },
	{ "/GraphDriver.Put", gd_put },
	{ "/GraphDriver.Exists", gd_exists },
	{ "/GraphDriver.Status", gd_status },
	{ "/GraphDriver.GetMetadata", gd_metadata },
	{ "/GraphDriver.Cleanup", gd_cleanup },
	{ "/GraphDriver.Capabilities", gd_capabilities },
	{ "/GraphDriver.Changes", gd_changes },
	{ "/GraphDriver.DiffSize", gd_diff_size },
};
const size_t lmd_n_graph_endpoints = sizeof(lmd_graph_endpoints) / sizeof(lmd_graph_endpoints[0]);
