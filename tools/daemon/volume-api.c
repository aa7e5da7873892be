/*
 * tools/daemon/volume-api.c: Docker's VolumeDriver protocol, one function per
 * endpoint, each a thin call into <lamina/volume.h>. The caller ID Docker
 * gives Mount and Unmount is the lamina caller, so lamina counts the users.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "daemon.h"

static int vol_create(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	struct lamina_volume_create_opts o = { 0 };
	_cleanup_free_ struct lamina_kv *kv = NULL;
	int r;

	(void)reply;
	if ((r = lmd_json_string(req, "Name", true, &o.name, err)) < 0 ||
	    (r = lmd_json_map(req, "Opts", &kv, &o.n_options, err)) < 0)
		return r;
	o.options = kv;
	r = lamina_volume_create(store, &o, NULL, err);
	return r < 0 ? r : 0;
}

static int vol_remove(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	const char *name;
	int r;

	(void)reply;
	if ((r = lmd_json_string(req, "Name", true, &name, err)) < 0)
		return r;
	return lamina_volume_remove(store, name, false, err);
}

static int vol_mount(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	_cleanup_free_ char *path = NULL;
	const char *name, *id;
	int r;

	if ((r = lmd_json_string(req, "Name", true, &name, err)) < 0 ||
	    (r = lmd_json_string(req, "ID", true, &id, err)) < 0)
		return r;
	if ((r = lamina_volume_mount(store, name, id, &path, err)) < 0)
		return r;
	return lmd_json_set(reply, "Mountpoint", json_string(path), err);
}

static int vol_unmount(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	const char *name, *id;
	int r;

	(void)reply;
	if ((r = lmd_json_string(req, "Name", true, &name, err)) < 0 ||
	    (r = lmd_json_string(req, "ID", true, &id, err)) < 0)
		return r;
	return lamina_volume_unmount(store, name, id, err);
}

/* {"Name", "Mountpoint", "CreatedAt" (RFC 3339), "Status": {}} */
static json_t *vol_json(const struct lamina_volume *v)
{
	time_t t = (time_t)v->created;
	char created[32] = "";
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:s, s:s, s:s, s:{}}", "Name", v->name, "Mountpoint", v->mountpoint, "CreatedAt",
			 created, "Status");
}

static int vol_inspect(struct lamina_store *store, json_t *req, struct lamina_volume **ret, struct lm_error *err)
{
	const char *name;
	int r;

	if ((r = lmd_json_string(req, "Name", true, &name, err)) < 0)
		return r;
	return lamina_volume_inspect(store, name, ret, err);
}

static int vol_path(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	struct lamina_volume *v;
	int r;

	if ((r = vol_inspect(store, req, &v, err)) < 0)
		return r;
	r = lmd_json_set(reply, "Mountpoint", json_string(v->mountpoint), err);
	lamina_volume_free(v);
	return r;
}

static int vol_get(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	struct lamina_volume *v;
	int r;

	if ((r = vol_inspect(store, req, &v, err)) < 0)
		return r;
	r = lmd_json_set(reply, "Volume", vol_json(v), err);
	lamina_volume_free(v);
	return r;
}

static int vol_list(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	struct lamina_volume **vols;
	json_t *arr = json_array();
	size_t n;
	int r;

	(void)req;
	if (!arr)
		return lm_err(err, -ENOMEM, "volume list");
	if ((r = lamina_volume_list(store, NULL, 0, &vols, &n, err)) < 0) {
		json_decref(arr);
		return r;
	}
	for (size_t i = 0; i < n && r == 0; i++)
		if (json_array_append_new(arr, vol_json(vols[i])) < 0)
			r = lm_err(err, -ENOMEM, "volume list");
	lamina_volume_list_free(vols, n);
	if (r < 0) {
		json_decref(arr);
		return r;
	}
	return lmd_json_set(reply, "Volumes", arr, err);
}

static int vol_capabilities(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err)
{
	(void)store;
	(void)req;
	return lmd_json_set(reply, "Capabilities", json_pack("{s:s}", "Scope", "local"), err);
}

const struct lmd_endpoint lmd_volume_endpoints[] = {
	{ "/VolumeDriver.Create", vol_create },	  { "/VolumeDriver.Remove", vol_remove },
	{ "/VolumeDriver.Mount", vol_mount },	  { "/VolumeDriver.Unmount", vol_unmount },
	{ "/VolumeDriver.Path", vol_path },	  { "/VolumeDriver.Get", vol_get },
	{ "/VolumeDriver.List", vol_list },	  { "/VolumeDriver.Capabilities", vol_capabilities },
};
const size_t lmd_n_volume_endpoints = sizeof(lmd_volume_endpoints) / sizeof(lmd_volume_endpoints[0]);
