/*
 * tools/cli/image-json.c: an image as JSON: id, digest, names, config (the
 * image config itself, as JSON), manifest digest, layers (ChainIDs, DiffIDs,
 * blob digests, sizes), size.
 */
#include <jansson.h>

#include "image.h"

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *layers_json(const struct lamina_image *im)
{
	json_t *a = json_array();

	for (size_t i = 0; i < im->n_layers; i++) {
		const struct lamina_image_layer *l = &im->layers[i];
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:I}", "id", l->layer_id, "chain-id",
						   l->chain_id, "diff-id", l->diff_id, "digest", l->digest,
						   "media-type", string_or_null(l->media_type), "blob-size",
						   (json_int_t)l->blob_size, "size", (json_int_t)l->size));
	}
	return a;
}

json_t *cli_image_json(const struct lamina_image *im)
{
	json_t *names = json_array(), *config = json_loads(im->config ? im->config : "null", JSON_DECODE_ANY, NULL);
	char imported[64];

	for (size_t i = 0; i < im->n_names; i++)
		json_array_append_new(names, json_string(im->names[i]));
	cli_format_time(im->imported, imported, sizeof(imported));
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:I, s:o}", "id", im->id, "digest", im->digest,
			 "names", names, "manifest-digest", string_or_null(im->manifest_digest), "os",
			 string_or_null(im->os), "architecture", string_or_null(im->architecture), "created",
			 string_or_null(im->created), "imported", imported, "layers", layers_json(im), "size",
			 (json_int_t)im->size, "config", config ? config : json_null());
}

json_t *cli_image_describe(struct lamina_store *store, const char *name, struct lm_error *err)
{
	struct lamina_image *im = NULL;
	json_t *j = lamina_image_inspect(store, name, &im, err) < 0 ? NULL : cli_image_json(im);

	lamina_image_free(im);
	return j;
}
