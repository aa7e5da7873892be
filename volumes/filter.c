/*
 * volumes/filter.c: Docker's `volume ls --filter` and `volume prune
 * --filter` strings: dangling=true|false, name=SUBSTRING, driver=NAME,
 * label=KEY, label=KEY=VALUE, label!=KEY, label!=KEY=VALUE.
 *
 * As Docker: several name (or driver) filters are alternatives, any one
 * may match; label filters all apply; dangling means "no users".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "volumes/volumes.h"

static const struct {
	const char *word;
	enum vol_filter_kind kind;
} kinds[] = {
	{ "dangling", VF_DANGLING }, { "name", VF_NAME },	  { "driver", VF_DRIVER },
	{ "label", VF_LABEL },	     { "label!", VF_NOT_LABEL },
};

static int parse_value(const char *filter, const char *value, struct vol_filter *f, struct lm_error *err)
{
	if (f->kind == VF_DANGLING) {
		bool t = !strcmp(value, "true") || !strcmp(value, "1");
		if (!t && strcmp(value, "false") && strcmp(value, "0"))
			return lm_err_plain(err, -EINVAL, "filter '%s': dangling takes true or false", filter);
		f->dangling = t;
		return 0;
	}
	const char *eq = (f->kind == VF_LABEL || f->kind == VF_NOT_LABEL) ? strchr(value, '=') : NULL;
	f->key = eq ? strndup(value, eq - value) : strdup(value);
	f->value = eq ? strdup(eq + 1) : NULL;
	if (!f->key || (eq && !f->value))
		return lm_err(err, -ENOMEM, "filter '%s'", filter);
	if (!*f->key && f->kind != VF_NAME)
		return lm_err_plain(err, -EINVAL, "filter '%s': no value", filter);
	return 0;
}

static int parse_one(const char *filter, unsigned allowed, struct vol_filter *f, struct lm_error *err)
{
	const char *eq = strchr(filter, '=');
	size_t len = eq ? (size_t)(eq - filter) : 0;
	for (size_t i = 0; eq && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strlen(kinds[i].word) != len || strncmp(filter, kinds[i].word, len))
			continue;
		if (!(allowed & (1u << kinds[i].kind)))
			return lm_err_plain(err, -EINVAL, "filter '%s': not supported here", filter);
		f->kind = kinds[i].kind;
		return parse_value(filter, eq + 1, f, err);
	}
	return lm_err_plain(err, -EINVAL,
			    "filter '%s': unknown (known: dangling=, name=, driver=, label=, label!=)", filter);
}

int vol_filters_parse(const char *const *in, size_t n, unsigned allowed, struct vol_filters *ret,
		      struct lm_error *err)
{
	ret->n = 0;
	ret->f = calloc(n ? n : 1, sizeof(*ret->f));
	if (!ret->f)
		return lm_err(err, -ENOMEM, "filters");
	for (size_t i = 0; i < n; i++) {
		int r = parse_one(in[i], allowed, &ret->f[i], err);
		ret->n = i + 1;
		if (r < 0) {
			vol_filters_release(ret);
			return r;
		}
	}
	return 0;
}

void vol_filters_release(struct vol_filters *f)
{
	for (size_t i = 0; f->f && i < f->n; i++) {
		free(f->f[i].key);
		free(f->f[i].value);
	}
	free(f->f);
	f->f = NULL;
	f->n = 0;
}

static bool label_matches(const struct vol_filter *f, const struct lamina_volume *v)
{
	const char *have = vol_kv_get(v->labels, v->n_labels, f->key);
	return have && (!f->value || !strcmp(have, f->value));
}

/* Whether f alone holds for v. */
static bool one_matches(const struct vol_filter *f, const struct lamina_volume *v)
{
	switch (f->kind) {
	case VF_DANGLING:
		return (v->n_users == 0) == f->dangling;
	case VF_NAME:
		return strstr(v->name, f->key) != NULL;
	case VF_DRIVER:
		return !strcmp(v->driver, f->key);
	case VF_LABEL:
		return label_matches(f, v);
	case VF_NOT_LABEL:
		return !label_matches(f, v);
	}
	return false;
}

bool vol_filters_match(const struct vol_filters *f, const struct lamina_volume *v)
{
	/* per kind: seen one of that kind, and one of them matched */
	bool seen[VF_NOT_LABEL + 1] = { 0 }, any[VF_NOT_LABEL + 1] = { 0 };
	for (size_t i = 0; i < f->n; i++) {
		const struct vol_filter *x = &f->f[i];
		bool m = one_matches(x, v);
		if (x->kind != VF_NAME && x->kind != VF_DRIVER && !m)
			return false; /* dangling and labels: every one must hold */
		seen[x->kind] = true;
		any[x->kind] = any[x->kind] || m;
	}
	return (!seen[VF_NAME] || any[VF_NAME]) && (!seen[VF_DRIVER] || any[VF_DRIVER]);
}
