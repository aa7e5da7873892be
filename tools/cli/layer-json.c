/*
 * tools/cli/layer-json.c: a layer as JSON, with containers/storage's
 * layers.json key names (id, names, parent, created, diff-digest,
 * compressed-diff-digest, ...), plus what lamina adds (read-write, depth,
 * diff-dir, mountpoint, users).
 */
#include <jansson.h>

#include "layer.h"

static json_t *string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *cli_layer_json(const struct lamina_layer *l)
{
	char created[64];
	json_t *names = json_array(), *users = json_array();

	cli_format_time(l->created, created, sizeof(created));
	for (size_t i = 0; i < l->n_names; i++)
		json_array_append_new(names, json_string(l->names[i]));
	for (size_t i = 0; i < l->n_users; i++)
		json_array_append_new(users, json_pack("{s:s, s:I}", "id", l->users[i].id, "count",
						       (json_int_t)l->users[i].count));
	return json_pack("{s:s, s:o, s:o, s:s, s:b, s:o, s:o, s:I, s:I, s:o, s:I, s:I, s:s, s:o, s:o}", "id", l->id,
			 "names", names, "parent", string_or_null(l->parent), "created", created, "read-write",
			 l->read_write, "diff-digest", string_or_null(l->diff_id), "compressed-diff-digest",
			 string_or_null(l->compressed_digest), "compressed-size", (json_int_t)l->compressed_size,
			 "diff-size", (json_int_t)l->uncompressed_size, "compression", string_or_null(l->compression),
			 "size", (json_int_t)l->size, "depth", (json_int_t)l->depth, "diff-dir", l->diff_dir,
			 "mountpoint", string_or_null(l->mountpoint), "users", users);
}

json_t *cli_layer_describe(struct lamina_store *store, const char *name, struct lm_error *err)
{
	struct lamina_layer *l = NULL;
	json_t *j = lamina_layer_inspect(store, name, &l, err) < 0 ? NULL : cli_layer_json(l);

	lamina_layer_free(l);
	return j;
}
