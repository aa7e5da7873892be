/*
 * images/parse.c: finding the images a source holds and reading their
 * metadata: an OCI index (index.json, nested indexes followed), its
 * manifests and configs, each checked against its descriptor's digest and
 * size; or a docker-archive's manifest.json (the legacy form: configs and
 * layer.tar files named by path). What comes out is a plan per image: the
 * config, its DiffIDs, and where each layer blob is. Layers themselves are
 * checked when import.c reads them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "images/images.h"

#define MAX_DEPTH 4
#define MAX_IMAGES 1024

struct parse {
	struct img_source *s;
	const char *platform;
	struct img_plan *plans;
	size_t n;
	size_t skipped; /* images another --platform would have taken */
};

static void jsonp_decref(json_t **j)
{
	json_decref(*j);
}
#define _cleanup_json_ _cleanup_(jsonp_decref)

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int parse_json(const char *what, const char *text, size_t len, json_t **ret, struct lm_error *err)
{
	json_error_t je;
	*ret = json_loadb(text, len, 0, &je);
	if (!*ret || !(json_is_object(*ret) || json_is_array(*ret))) {
		json_decref(*ret);
		*ret = NULL;
		return lm_err_plain(err, -EINVAL, "%s: not JSON: %s", what, je.text);
	}
	return 0;
}

/* Reads blob digest (of size bytes, -1: any) and checks it. */
static int read_blob(struct parse *p, const char *what, const char *digest, json_int_t size, char **ret,
		     size_t *ret_len, struct lm_error *err)
{
	char path[96], got[IMG_DIGEST_LEN];
	if (!img_digest_valid(digest))
		return lm_err_plain(err, -EINVAL, "%s: digest '%s' is not sha256:<64 hex>", what,
				    digest ? digest : "(none)");
	snprintf(path, sizeof(path), "blobs/sha256/%s", digest + 7);
	int r = img_source_read(p->s, path, ret, ret_len, err);
	if (r < 0)
		return lm_err_prefix(err, "%s %s", what, digest);
	img_sha256(*ret, *ret_len, got);
	if (strcmp(got, digest) != 0 || (size >= 0 && (size_t)size != *ret_len)) {
		free(*ret);
		*ret = NULL;
		return lm_err_plain(err, -EBADMSG, "%s %s: content does not match its digest (sha256 %s, %zu bytes)",
				    what, digest, got, *ret_len);
	}
	return 0;
}

static bool is_one(const char *mt, const char *const *list)
{
	for (; mt && *list; list++)
		if (strcmp(mt, *list) == 0)
			return true;
	return false;
}

static const char *const index_types[] = { "application/vnd.oci.image.index.v1+json",
					   "application/vnd.docker.distribution.manifest.list.v2+json", NULL };
static const char *const manifest_types[] = { "application/vnd.oci.image.manifest.v1+json",
					      "application/vnd.docker.distribution.manifest.v2+json", NULL };
static const char *const layer_types[] = {
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.oci.image.layer.nondistributable.v1.tar",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
	"application/vnd.docker.image.rootfs.diff.tar",
	NULL,
};

static void plan_release(struct img_plan *pl)
{
	for (size_t j = 0; j < pl->n_layers; j++) {
		free(pl->layers[j].media_type);
		free(pl->layers[j].digest);
		free(pl->layers[j].path);
		free(pl->diff_ids ? pl->diff_ids[j] : NULL);
	}
	for (size_t j = 0; j < pl->n_names; j++)
		free(pl->names[j]);
	free(pl->names);
	free(pl->layers);
	free(pl->diff_ids);
	free(pl->config);
	free(pl->manifest_digest);
	memset(pl, 0, sizeof(*pl));
}

static struct img_plan *plan_new(struct parse *p, struct lm_error *err)
{
	if (p->n >= MAX_IMAGES) {
		lm_err_plain(err, -EINVAL, "'%s': more than %d images", p->s->path, MAX_IMAGES);
		return NULL;
	}
	struct img_plan *n = reallocarray(p->plans, p->n + 1, sizeof(*n));
	if (!n) {
		lm_err(err, -ENOMEM, "'%s'", p->s->path);
		return NULL;
	}
	p->plans = n;
	memset(&n[p->n], 0, sizeof(*n));
	return &n[p->n++];
}

static int strv_add(char ***v, size_t *n, const char *s)
{
	char **nv = reallocarray(*v, *n + 1, sizeof(char *));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

static int add_name(struct img_plan *pl, const char *name, struct lm_error *err)
{
	_cleanup_free_ char *norm = NULL;
	int r = lamina_image_name_normalize(name, &norm, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < pl->n_names; i++)
		if (strcmp(pl->names[i], norm) == 0)
			return 0;
	return strv_add(&pl->names, &pl->n_names, norm) < 0 ? lm_err(err, -ENOMEM, "image name") : 0;
}

/* Checks the config and takes its DiffIDs; 1 when it is for another platform. */
static int take_config(struct parse *p, struct img_plan *pl, size_t n_layers, struct lm_error *err)
{
	_cleanup_json_ json_t *c = NULL;
	char what[96];
	snprintf(what, sizeof(what), "config %s", pl->config_digest);
	int r = parse_json(what, pl->config, pl->config_len, &c, err);
	if (r < 0)
		return r;
	json_t *rootfs = json_object_get(c, "rootfs"), *ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(ids) || json_array_size(ids) != n_layers)
		return lm_err_plain(err, -EINVAL, "%s: rootfs.diff_ids lists %zu layers, the manifest %zu", what,
				    json_array_size(ids), n_layers);
	if (!(pl->diff_ids = calloc(n_layers + 1, sizeof(char *))))
		return lm_err(err, -ENOMEM, "%s", what);
	for (size_t i = 0; i < n_layers; i++) {
		const char *d = json_string_value(json_array_get(ids, i));
		if (!img_digest_valid(d))
			return lm_err_plain(err, -EINVAL, "%s: rootfs.diff_ids[%zu] is not sha256:<64 hex>", what, i);
		if (!(pl->diff_ids[i] = strdup(d)))
			return lm_err(err, -ENOMEM, "%s", what);
	}
	if (!p->platform)
		return 0;
	char plat[256];
	const char *os = jstr(c, "os"), *arch = jstr(c, "architecture"), *var = jstr(c, "variant");
	snprintf(plat, sizeof(plat), "%s/%s", os ? os : "", arch ? arch : "");
	if (strcmp(plat, p->platform) == 0)
		return 0;
	snprintf(plat, sizeof(plat), "%s/%s/%s", os ? os : "", arch ? arch : "", var ? var : "");
	return strcmp(plat, p->platform) != 0;
}

static int take_layer(struct img_desc *d, const json_t *j, size_t i, struct lm_error *err)
{
	const char *mt = jstr(j, "mediaType"), *digest = jstr(j, "digest");
	if (!is_one(mt, layer_types))
		return lm_err_plain(err, -EINVAL, "layer %zu (%s): unsupported media type '%s'", i,
				    digest ? digest : "?", mt ? mt : "(none)");
	if (!img_digest_valid(digest))
		return lm_err_plain(err, -EINVAL, "layer %zu: digest '%s' is not sha256:<64 hex>", i,
				    digest ? digest : "(none)");
	d->media_type = strdup(mt);
	d->digest = strdup(digest);
	d->size = json_is_integer(json_object_get(j, "size")) ? json_integer_value(json_object_get(j, "size")) : -1;
	if (asprintf(&d->path, "blobs/sha256/%s", digest + 7) < 0)
		d->path = NULL;
	return d->media_type && d->digest && d->path ? 0 : lm_err(err, -ENOMEM, "layer %zu", i);
}

static int take_manifest(struct parse *p, const json_t *desc, struct lm_error *err)
{
	const char *digest = jstr(desc, "digest");
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ json_t *m = NULL;
	size_t len;
	int r = read_blob(p, "manifest", digest, json_integer_value(json_object_get(desc, "size")), &text, &len, err);
	if (r < 0 || (r = parse_json("manifest", text, len, &m, err)) < 0)
		return r;
	json_t *cfg = json_object_get(m, "config"), *layers = json_object_get(m, "layers");
	if (!json_is_object(cfg) || !json_is_array(layers))
		return lm_err_plain(err, -EINVAL, "manifest %s: no config or layers", digest);
	struct img_plan *pl = plan_new(p, err);
	if (!pl)
		return -ENOMEM;
	if (!(pl->manifest_digest = strdup(digest)))
		return lm_err(err, -ENOMEM, "manifest %s", digest);
	r = read_blob(p, "config", jstr(cfg, "digest"), json_integer_value(json_object_get(cfg, "size")),
		      &pl->config, &pl->config_len, err);
	if (r < 0)
		return lm_err_prefix(err, "manifest %s", digest);
	img_sha256(pl->config, pl->config_len, pl->config_digest);
	if (!(pl->layers = calloc(json_array_size(layers) + 1, sizeof(*pl->layers))))
		return lm_err(err, -ENOMEM, "manifest %s", digest);
	for (size_t i = 0; i < json_array_size(layers); i++, pl->n_layers++)
		if ((r = take_layer(&pl->layers[i], json_array_get(layers, i), i, err)) < 0)
			return lm_err_prefix(err, "manifest %s", digest);
	if ((r = take_config(p, pl, pl->n_layers, err)) < 0)
		return r;
	if (r == 1) { /* another platform's */
		plan_release(pl);
		p->n--;
		p->skipped++;
		return 0;
	}
	const json_t *ann = json_object_get(desc, "annotations");
	const char *name = jstr(ann, "io.containerd.image.name"), *ref = jstr(ann, "org.opencontainers.image.ref.name");
	if (!name && ref && strpbrk(ref, ":/"))
		name = ref; /* a full reference; a bare tag names nothing */
	return name ? add_name(pl, name, err) : 0;
}

/* An attestation or signature manifest buildx adds next to the images. */
static bool is_attestation(const json_t *desc)
{
	const json_t *plat = json_object_get(desc, "platform");
	const char *os = jstr(plat, "os");
	return (os && strcmp(os, "unknown") == 0) ||
	       jstr(json_object_get(desc, "annotations"), "vnd.docker.reference.type") != NULL;
}

static int walk_index(struct parse *p, const json_t *index, int depth, struct lm_error *err)
{
	json_t *ms = json_object_get(index, "manifests");
	if (!json_is_array(ms))
		return lm_err_plain(err, -EINVAL, "'%s': index has no manifests array", p->s->path);
	for (size_t i = 0; i < json_array_size(ms); i++) {
		json_t *d = json_array_get(ms, i);
		const char *mt = jstr(d, "mediaType");
		int r = 0;
		if (is_one(mt, manifest_types) && !is_attestation(d)) {
			r = take_manifest(p, d, err);
		} else if (is_one(mt, index_types)) {
			_cleanup_free_ char *text = NULL;
			_cleanup_json_ json_t *sub = NULL;
			size_t len;
			if (depth >= MAX_DEPTH)
				return lm_err_plain(err, -EINVAL, "'%s': indexes nested too deep", p->s->path);
			r = read_blob(p, "index", jstr(d, "digest"), json_integer_value(json_object_get(d, "size")),
				      &text, &len, err);
			if (r >= 0 && (r = parse_json("index", text, len, &sub, err)) >= 0)
				r = walk_index(p, sub, depth + 1, err);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int legacy_layers(struct img_plan *pl, const json_t *layers, struct lm_error *err)
{
	if (!(pl->layers = calloc(json_array_size(layers) + 1, sizeof(*pl->layers))))
		return lm_err(err, -ENOMEM, "manifest.json");
	for (size_t i = 0; i < json_array_size(layers); i++, pl->n_layers++) {
		const char *path = json_string_value(json_array_get(layers, i));
		char what[64];
		snprintf(what, sizeof(what), "manifest.json: layer %zu", i);
		if (!path)
			return lm_err_plain(err, -EINVAL, "%s: not a path", what);
		int r = img_path_check(what, path, err);
		if (r < 0)
			return r;
		pl->layers[i].size = -1;
		if (!(pl->layers[i].path = strdup(path)))
			return lm_err(err, -ENOMEM, "%s", what);
	}
	return 0;
}

/* Checks a legacy config against the digest its name carries ("<hex>.json"
 * or "blobs/sha256/<hex>"), when it carries one. */
static int legacy_config_check(const struct img_plan *pl, const char *path, struct lm_error *err)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t len = strlen(base);
	if ((len == 64 || (len == 69 && strcmp(base + 64, ".json") == 0)) && strncmp(base, pl->config_digest + 7, 64) != 0)
		return lm_err_plain(err, -EBADMSG, "config '%s': content does not match its digest (sha256 %s)", path,
				    pl->config_digest);
	return 0;
}

static int take_legacy(struct parse *p, const json_t *m, struct lm_error *err)
{
	const char *config = jstr(m, "Config");
	json_t *layers = json_object_get(m, "Layers"), *tags = json_object_get(m, "RepoTags");
	if (!config || !json_is_array(layers))
		return lm_err_plain(err, -EINVAL, "'%s': manifest.json: an entry without Config or Layers", p->s->path);
	int r = img_path_check("manifest.json: Config", config, err);
	struct img_plan *pl = r < 0 ? NULL : plan_new(p, err);
	if (!pl)
		return r < 0 ? r : -ENOMEM;
	if ((r = img_source_read(p->s, config, &pl->config, &pl->config_len, err)) < 0)
		return lm_err_prefix(err, "config");
	img_sha256(pl->config, pl->config_len, pl->config_digest);
	if ((r = legacy_config_check(pl, config, err)) < 0 || (r = legacy_layers(pl, layers, err)) < 0 ||
	    (r = take_config(p, pl, pl->n_layers, err)) < 0)
		return r;
	if (r == 1) {
		plan_release(pl);
		p->n--;
		p->skipped++;
		return 0;
	}
	for (size_t i = 0; i < json_array_size(tags) && r >= 0; i++)
		if (json_string_value(json_array_get(tags, i)))
			r = add_name(pl, json_string_value(json_array_get(tags, i)), err);
	return r;
}

static int read_legacy(struct parse *p, struct lm_error *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_json_ json_t *m = NULL;
	size_t len;
	int r = img_source_read(p->s, "manifest.json", &text, &len, err);
	if (r < 0 || (r = parse_json("manifest.json", text, len, &m, err)) < 0)
		return r;
	if (!json_is_array(m))
		return lm_err_plain(err, -EINVAL, "'%s': manifest.json is not an array", p->s->path);
	for (size_t i = 0; i < json_array_size(m) && r >= 0; i++)
		r = take_legacy(p, json_array_get(m, i), err);
	return r;
}

static int read_all(struct parse *p, struct lm_error *err)
{
	if (img_source_has(p->s, "index.json")) {
		_cleanup_free_ char *text = NULL;
		_cleanup_json_ json_t *idx = NULL;
		size_t len;
		int r = img_source_read(p->s, "index.json", &text, &len, err);
		if (r < 0 || (r = parse_json("index.json", text, len, &idx, err)) < 0)
			return r;
		return walk_index(p, idx, 0, err);
	}
	if (img_source_has(p->s, "manifest.json"))
		return read_legacy(p, err);
	return lm_err_plain(err, -EINVAL, "'%s': not an OCI image layout or docker-archive (no index.json or manifest.json)",
			    p->s->path);
}

int img_plans_read(struct img_source *s, const char *platform, struct img_plan **ret, size_t *ret_n,
		   struct lm_error *err)
{
	struct parse p = { .s = s, .platform = platform };
	int r = read_all(&p, err);
	if (r >= 0 && p.n == 0)
		r = p.skipped ? lm_err_plain(err, -ENOEXEC, "'%s': no image for platform '%s'", s->path, platform)
			      : lm_err_plain(err, -EINVAL, "'%s': holds no image", s->path);
	if (r < 0) {
		img_plans_free(p.plans, p.n);
		return r;
	}
	*ret = p.plans;
	*ret_n = p.n;
	return 0;
}

void img_plans_free(struct img_plan *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		plan_release(&p[i]);
	free(p);
}
