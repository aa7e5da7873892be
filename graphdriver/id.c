/*
 * graphdriver/id.c: layer IDs, names and caller IDs, and the folders an ID
 * maps to. Everything a user names is checked here before anything is
 * written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/random.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"

static bool id_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '_' || c == '.' || c == '-');
}

/* The ID is a folder name: never "." or "..", never a '/', never a leading
 * '-' that a program would take for an option. */
int gd_id_check(const char *id, struct lm_error *err)
{
	if (!id || !*id)
		return lm_err_plain(err, -EINVAL, "layer ID is empty");
	size_t len = strlen(id);
	if (len > GD_ID_MAX)
		return lm_err_plain(err, -EINVAL, "layer ID '%.32s...': longer than %d characters", id, GD_ID_MAX);
	for (size_t i = 0; i < len; i++) {
		if (!id_char(id[i], i == 0))
			return lm_err_plain(err, -EINVAL, "layer ID '%.64s': only [a-zA-Z0-9][a-zA-Z0-9_.-]* is allowed",
					    id);
	}
	return 0;
}

int gd_label_check(const char *what, const char *s, struct lm_error *err)
{
	size_t len = s ? strlen(s) : 0;
	if (len == 0 || len > 255)
		return lm_err_plain(err, -EINVAL, "layer %s must be 1 to 255 characters", what);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f)
			return lm_err_plain(err, -EINVAL, "layer %s '%.64s': has a space or a control character", what,
					    s);
	}
	return 0;
}

int gd_id_random(char buf[65], struct lm_error *err)
{
	int r = lm_random_hex(buf, 32);
	return r < 0 ? lm_err(err, r, "layer: cannot make an ID") : 0;
}

int gd_rel(const char *id, const char *sub, char **ret)
{
	int n = sub ? asprintf(ret, LM_STORE_LAYERS "/%s/%s", id, sub) : asprintf(ret, LM_STORE_LAYERS "/%s", id);
	return n < 0 ? -ENOMEM : 0;
}

int gd_path(struct lamina_store *store, const char *id, const char *sub, char **ret)
{
	int n = sub ? asprintf(ret, "%s/" LM_STORE_LAYERS "/%s/%s", store->root, id, sub)
		    : asprintf(ret, "%s/" LM_STORE_LAYERS "/%s", store->root, id);
	return n < 0 ? -ENOMEM : 0;
}

void gd_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}
