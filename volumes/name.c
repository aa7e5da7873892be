/*
 * volumes/name.c: volume names (Docker's rule), anonymous names, caller IDs,
 * and the folders a name maps to. Everything a user names is checked here
 * before anything is written.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/random.h"
#include "common/store.h"
#include "volumes/volumes.h"

static bool name_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return !first && (c == '_' || c == '.' || c == '-');
}

/*
 * Docker's [a-zA-Z0-9][a-zA-Z0-9_.-]+: so at least two characters, never
 * "." or "..", never a '/', never a leading '-' that a program would take
 * for an option.
 */
int lamina_volume_name_check(const char *name, struct lm_error *err)
{
	if (!name || !*name)
		return lm_err_plain(err, -EINVAL, "volume name is empty");
	size_t len = strlen(name);
	if (len > LAMINA_VOLUME_NAME_MAX)
		return lm_err_plain(err, -EINVAL, "volume name '%.32s...': longer than %d characters", name,
				    LAMINA_VOLUME_NAME_MAX);
	if (len < 2)
		return lm_err_plain(err, -EINVAL, "volume name '%s': too short (two characters at least)", name);
	for (size_t i = 0; i < len; i++) {
		if (!name_char(name[i], i == 0))
			return lm_err_plain(err, -EINVAL,
					    "volume name '%.64s': only [a-zA-Z0-9][a-zA-Z0-9_.-]+ is allowed", name);
	}
	return 0;
}

int vol_name_anonymous(char buf[65], struct lm_error *err)
{
	int r = lm_random_hex(buf, 32);
	return r < 0 ? lm_err(err, r, "volume: cannot make an anonymous name") : 0;
}

int vol_caller_check(const char *volume, const char *caller, struct lm_error *err)
{
	size_t len = strlen(caller);
	if (len == 0 || len > 255)
		return lm_err_plain(err, -EINVAL, "volume '%s': caller ID must be 1 to 255 characters", volume);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)caller[i];
		if (c < 0x20 || c == 0x7f)
			return lm_err_plain(err, -EINVAL, "volume '%s': caller ID has a control character", volume);
	}
	return 0;
}

int vol_rel_dir(const char *name, char **ret)
{
	return asprintf(ret, LM_STORE_VOLUMES "/%s", name) < 0 ? -ENOMEM : 0;
}

int vol_rel_data(const char *name, char **ret)
{
	return asprintf(ret, LM_STORE_VOLUMES "/%s/_data", name) < 0 ? -ENOMEM : 0;
}
