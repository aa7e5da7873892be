/*
 * tools/cli/volume-json.c: a volume as JSON, in the shapes Docker prints:
 * `volume inspect` (an object per volume, labels and options as objects)
 * and `volume ls --format json` (one flat object per line).
 */
#include <jansson.h>

#include "volume.h"

static json_t *kv_object(const struct lamina_kv *kv, size_t n)
{
	json_t *o;

	if (n == 0)
		return json_null(); /* as Docker: "Labels": null */
	o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, kv[i].key, json_string(kv[i].value));
	return o;
}

json_t *cli_volume_inspect_json(const struct lamina_volume *v)
{
	char created[64];
	json_t *users = json_array();

	cli_format_time(v->created, created, sizeof(created));
	for (size_t i = 0; i < v->n_users; i++)
		json_array_append_new(users, json_pack("{s:s, s:I}", "ID", v->users[i].id, "Count",
						       (json_int_t)v->users[i].count));
	return json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:s, s:b, s:{s:b, s:o}}", "CreatedAt", created, "Driver",
			 v->driver, "Labels", kv_object(v->labels, v->n_labels), "Mountpoint", v->mountpoint, "Name",
			 v->name, "Options", kv_object(v->options, v->n_options), "Scope", "local", "Anonymous",
			 v->anonymous, "Status", "Mounted", v->mounted, "Users", users);
}

/* Labels as Docker's ls prints them: "k=v,k2=v2". */
static char *labels_joined(const struct lamina_volume *v)
{
	size_t size = 1;
	char *s, *p;

	for (size_t i = 0; i < v->n_labels; i++)
		size += strlen(v->labels[i].key) + strlen(v->labels[i].value) + 2;
	p = s = malloc(size);
	if (!s)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < v->n_labels; i++)
		p += sprintf(p, "%s%s=%s", i ? "," : "", v->labels[i].key, v->labels[i].value);
	return s;
}

json_t *cli_volume_ls_json(const struct lamina_volume *v)
{
	char *labels = labels_joined(v);
	char links[24];
	json_t *o;

	snprintf(links, sizeof(links), "%zu", v->n_users);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Driver", v->driver, "Labels", labels ? labels : "",
		      "Links", links, "Mountpoint", v->mountpoint, "Name", v->name, "Scope", "local", "Size", "N/A");
	free(labels);
	return o;
}

json_t *cli_volume_describe(struct lamina_store *store, const char *name, struct lm_error *err)
{
	struct lamina_volume *v = NULL;
	json_t *j = lamina_volume_inspect(store, name, &v, err) < 0 ? NULL : cli_volume_inspect_json(v);

	lamina_volume_free(v);
	return j;
}
