/*
 * tools/daemon/json.c: decoding the JSON bodies Docker sends. Docker omits
 * empty fields and sends null for an empty map, so absent and null are the
 * same; any other wrong type is refused naming the field.
 */
#include <errno.h>
#include <stdlib.h>

#include "common/error.h"
#include "daemon.h"

int lmd_json_parse(const char *body, size_t len, json_t **ret, struct lm_error *err)
{
	json_error_t jerr;
	json_t *req;

	if (len == 0) {
		*ret = json_object();
		return *ret ? 0 : lm_err(err, -ENOMEM, "request");
	}
	req = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req)
		return lm_err_plain(err, -EINVAL, "request body: not JSON: %s (at byte %d)", jerr.text, jerr.position);
	if (!json_is_object(req)) {
		json_decref(req);
		return lm_err_plain(err, -EINVAL, "request body: expected a JSON object");
	}
	*ret = req;
	return 0;
}

int lmd_json_string(json_t *req, const char *key, bool required, const char **ret, struct lm_error *err)
{
	json_t *v = json_object_get(req, key);

	*ret = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return lm_err_plain(err, -EINVAL, "request: field '%s' is missing", key);
		return 0;
	}
	if (!json_is_string(v))
		return lm_err_plain(err, -EINVAL, "request: field '%s': expected a string", key);
	*ret = json_string_value(v);
	if (required && !**ret)
		return lm_err_plain(err, -EINVAL, "request: field '%s' is empty", key);
	return 0;
}

int lmd_json_map(json_t *req, const char *key, struct lamina_kv **ret, size_t *ret_n, struct lm_error *err)
{
	json_t *map = json_object_get(req, key), *v;
	struct lamina_kv *kv;
	const char *k;
	size_t n = 0;

	*ret = NULL;
	*ret_n = 0;
	if (!map || json_is_null(map))
		return 0;
	if (!json_is_object(map))
		return lm_err_plain(err, -EINVAL, "request: field '%s': expected an object of strings", key);
	kv = calloc(json_object_size(map) + 1, sizeof(*kv));
	if (!kv)
		return lm_err(err, -ENOMEM, "request: field '%s'", key);
	json_object_foreach(map, k, v) {
		if (!json_is_string(v)) {
			free(kv);
			return lm_err_plain(err, -EINVAL, "request: field '%s': value of '%s' is not a string", key, k);
		}
		/* the library only reads them */
		kv[n].key = (char *)k;
		kv[n++].value = (char *)json_string_value(v);
	}
	*ret = kv;
	*ret_n = n;
	return 0;
}

int lmd_json_set(json_t *obj, const char *key, json_t *value, struct lm_error *err)
{
	if (!value || json_object_set_new(obj, key, value) < 0)
		return lm_err(err, -ENOMEM, "reply: field '%s'", key);
	return 0;
}
