/*
 * tests/lib/ocibuild.c: images built in the test (ocibuild.h). The image is
 * first written as a folder; the archive forms are that folder packed by
 * GNU tar (names "./..."), as `docker save` and skopeo produce them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "tests/lib/ocibuild.h"
#include "tests/lib/tarbuild.h"
#include "tests/lib/testlib.h"

static void hexdigest(const void *data, size_t len, char out[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		tl_fail("ocibuild: cannot open '%s': %m", path);
	struct stat st;
	fstat(fileno(f), &st);
	char *buf = tl_malloc((size_t)st.st_size + 1);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	return buf;
}

static void spit(const char *dir, const char *name, const void *data, size_t len)
{
	char *path = tl_strdupf("%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		tl_fail("ocibuild: cannot write '%s': %m", path);
	free(path);
}

void tl_sha256_file(const char *path, char out[72])
{
	size_t len;
	void *data = slurp(path, &len);
	hexdigest(data, len, out);
	free(data);
}

/* Writes data as blobs/sha256/<hex> in dir; its digest in out. */
static void put_blob(const char *dir, const void *data, size_t len, char out[72])
{
	hexdigest(data, len, out);
	char *name = tl_strdupf("blobs/sha256/%s", out + 7);
	spit(dir, name, data, len);
	free(name);
}

static json_t *descriptor(const char *mt, const char *digest, size_t size)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", digest, "size", (json_int_t)size);
}

static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	return s;
}

static char *config_of(const struct tl_oci_image *im)
{
	json_t *ids = json_array();
	for (size_t i = 0; i < im->n_layers; i++) {
		char d[72];
		if (im->layers[i].diff_id)
			snprintf(d, sizeof(d), "%s", im->layers[i].diff_id);
		else
			tl_sha256_file(im->layers[i].tar, d);
		json_array_append_new(ids, json_string(d));
	}
	return dump(json_pack("{s:s, s:s, s:s, s:{s:[s]}, s:{s:s, s:o}}", "created",
			      im->created ? im->created : "2026-01-01T00:00:00Z", "architecture",
			      im->arch ? im->arch : "amd64", "os", "linux", "config", "Cmd", "/bin/sh", "rootfs", "type",
			      "layers", "diff_ids", ids));
}

/* The blobs of one image in an OCI layout; its manifest's descriptor. */
static json_t *oci_image(const char *dir, const struct tl_oci_image *im, bool plain_layers, struct tl_oci_built *out)
{
	json_t *layers = json_array();
	for (size_t i = 0; i < im->n_layers; i++) {
		const struct tl_oci_layer *l = &im->layers[i];
		const char *file = l->blob && !plain_layers ? l->blob : l->tar;
		const char *mt = l->media_type && !plain_layers ? l->media_type
				 : file == l->tar ? "application/vnd.oci.image.layer.v1.tar"
						  : "application/vnd.oci.image.layer.v1.tar+gzip";
		size_t len;
		char d[72];
		void *data = slurp(file, &len);
		put_blob(dir, data, len, d);
		free(data);
		json_array_append_new(layers, descriptor(mt, d, len));
	}
	char *config = config_of(im), *manifest;
	put_blob(dir, config, strlen(config), out->config);
	manifest = dump(json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType",
				  "application/vnd.oci.image.manifest.v1+json", "config",
				  descriptor("application/vnd.oci.image.config.v1+json", out->config, strlen(config)),
				  "layers", layers));
	put_blob(dir, manifest, strlen(manifest), out->manifest);
	json_t *desc = descriptor("application/vnd.oci.image.manifest.v1+json", out->manifest, strlen(manifest));
	json_object_set_new(desc, "platform", json_pack("{s:s, s:s}", "os", "linux", "architecture",
							im->arch ? im->arch : "amd64"));
	if (im->name)
		json_object_set_new(desc, "annotations",
				    json_pack("{s:s}", "org.opencontainers.image.ref.name", im->name));
	free(config);
	free(manifest);
	return desc;
}

static void oci_layout(const char *dir, const struct tl_oci_image *images, size_t n, bool plain,
		       struct tl_oci_built *out)
{
	json_t *ms = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ms, oci_image(dir, &images[i], plain, &out[i]));
	char *index = dump(json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType",
				     "application/vnd.oci.image.index.v1+json", "manifests", ms));
	spit(dir, "index.json", index, strlen(index));
	spit(dir, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
	free(index);
}

/* manifest.json; for the legacy form also the configs and layer.tar files. */
static void docker_manifest(const char *dir, const struct tl_oci_image *images, size_t n, bool legacy,
			    struct tl_oci_built *out)
{
	json_t *all = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct tl_oci_image *im = &images[i];
		json_t *layers = json_array();
		char *config = config_of(im), *cname;
		hexdigest(config, strlen(config), out[i].config);
		cname = legacy ? tl_strdupf("%s.json", out[i].config + 7) : tl_strdupf("blobs/sha256/%s", out[i].config + 7);
		if (legacy)
			spit(dir, cname, config, strlen(config));
		for (size_t j = 0; j < im->n_layers; j++) {
			char d[72], *p;
			tl_sha256_file(im->layers[j].tar, d);
			p = legacy ? tl_strdupf("%zu-%zu/layer.tar", i, j) : tl_strdupf("blobs/sha256/%s", d + 7);
			if (legacy) {
				char *sub = tl_strdupf("%s/%zu-%zu", dir, i, j);
				size_t len;
				void *data = slurp(im->layers[j].tar, &len);
				mkdir(sub, 0755);
				spit(dir, p, data, len);
				free(data);
				free(sub);
			}
			json_array_append_new(layers, json_string(im->layers[j].path ? im->layers[j].path : p));
			free(p);
		}
		json_array_append_new(all, json_pack("{s:s, s:o, s:o}", "Config", cname, "RepoTags",
						     im->name ? json_pack("[s]", im->name) : json_array(), "Layers",
						     layers));
		free(config);
		free(cname);
	}
	char *m = dump(all);
	spit(dir, "manifest.json", m, strlen(m));
	spit(dir, "repositories", "{}", 2);
	free(m);
}

void tl_oci_build(const char *path, enum tl_oci_form form, const struct tl_oci_image *images, size_t n,
		  struct tl_oci_built *out)
{
	struct tl_oci_built *built = out ? out : tl_malloc(n * sizeof(*built) + 1);
	char *dir = form == TL_OCI_LAYOUT ? tl_strdup(path) : tl_strdupf("%s.d", path);
	char *blobs = tl_strdupf("%s/blobs/sha256", dir);

	tl_mkdir_p(blobs, 0755);
	if (form == TL_DOCKER_LEGACY)
		docker_manifest(dir, images, n, true, built);
	else
		oci_layout(dir, images, n, form == TL_DOCKER_25, built);
	if (form == TL_DOCKER_25)
		docker_manifest(dir, images, n, false, built);
	if (form != TL_OCI_LAYOUT) {
		char *cmd = tl_strdupf("tar -C '%s' -cf '%s' . && rm -rf '%s'", dir, path, dir);
		if (system(cmd) != 0)
			tl_fail("ocibuild: '%s' failed", cmd);
		free(cmd);
	}
	if (!out)
		free(built);
	free(blobs);
	free(dir);
}
