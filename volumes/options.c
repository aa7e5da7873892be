/*
 * volumes/options.c: Docker's local-driver options (type, device, o, size)
 * and labels as key/value arrays, and what the options mean for mount(2).
 * The o string is split the way mount(8) splits it, by libmount: the words
 * its Linux option map knows (ro, nosuid, bind, rbind, ...) become MS_*
 * flags, userspace-only words (noauto, _netdev, x-*) are dropped, and the
 * rest is the file system's data (size=, mode=, uid=, addr=, ...).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <libmount.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "volumes/volumes.h"

static const char *const known_options[] = { "type", "device", "o", "size" };

void vol_kv_free(struct lamina_kv *kv, size_t n)
{
	for (size_t i = 0; kv && i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

/* Sorts a copy of in by key (equal keys kept in given order). */
static struct lamina_kv *kv_sorted_view(const struct lamina_kv *in, size_t n)
{
	struct lamina_kv *view = malloc((n ? n : 1) * sizeof(*view));
	if (!view)
		return NULL;
	if (n > 0) /* in may be NULL when n is 0 */
		memcpy(view, in, n * sizeof(*view));
	/* insertion sort: stable, and these arrays are short */
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0 && strcmp(view[j - 1].key, view[j].key) > 0; j--) {
			struct lamina_kv t = view[j];
			view[j] = view[j - 1];
			view[j - 1] = t;
		}
	}
	return view;
}

int vol_kv_normalize(const char *volume, const char *what, const struct lamina_kv *in, size_t n,
		     struct lamina_kv **ret, size_t *ret_n, struct lm_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!in[i].key || !*in[i].key || !in[i].value)
			return lm_err_plain(err, -EINVAL, "volume '%s': %s with an empty key or no value", volume, what);
	}
	_cleanup_free_ struct lamina_kv *view = kv_sorted_view(in, n);
	struct lamina_kv *out = calloc(n ? n : 1, sizeof(*out));
	if (!view || !out) {
		free(out);
		return lm_err(err, -ENOMEM, "volume '%s'", volume);
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + 1 < n && !strcmp(view[i].key, view[i + 1].key))
			continue; /* a later value of the same key wins */
		out[m].key = strdup(view[i].key);
		out[m].value = strdup(view[i].value);
		if (!out[m].key || !out[m].value) {
			vol_kv_free(out, m + 1);
			return lm_err(err, -ENOMEM, "volume '%s'", volume);
		}
		m++;
	}
	*ret = out;
	*ret_n = m;
	return 0;
}

bool vol_kv_equal(const struct lamina_kv *a, size_t na, const struct lamina_kv *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		if (strcmp(a[i].key, b[i].key) || strcmp(a[i].value, b[i].value))
			return false;
	}
	return true;
}

const char *vol_kv_get(const struct lamina_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(kv[i].key, key))
			return kv[i].value;
	}
	return NULL;
}

static int check_keys(const char *volume, const struct lamina_kv *opts, size_t n, struct lm_error *err)
{
	for (size_t i = 0; i < n; i++) {
		bool known = false;
		for (size_t k = 0; k < ELEMENTSOF(known_options); k++)
			known = known || !strcmp(opts[i].key, known_options[k]);
		if (!known)
			return lm_err_plain(err, -EINVAL, "volume '%s': invalid option '%s' (valid: type, device, o, size)",
					    volume, opts[i].key);
		if (!*opts[i].value)
			return lm_err_plain(err, -EINVAL, "volume '%s': option '%s' is empty", volume, opts[i].key);
	}
	return 0;
}

/* Which options need which, as Docker's local driver: type and device
 * need each other (tmpfs has a default device), o needs type. */
static int check_pairs(const char *volume, struct vol_spec *s, const char *o, struct lm_error *err)
{
	if (s->device && !s->type)
		return lm_err_plain(err, -EINVAL, "volume '%s': option 'device' needs option 'type'", volume);
	if (o && !s->type)
		return lm_err_plain(err, -EINVAL, "volume '%s': option 'o' needs option 'type'", volume);
	if (s->type && !s->device) {
		if (strcmp(s->type, "tmpfs"))
			return lm_err_plain(err, -EINVAL, "volume '%s': option 'type' needs option 'device'", volume);
		s->device = "tmpfs";
	}
	return 0;
}

/* o as mount(8) reads it: flags from the Linux map, data = the rest. */
static int split_o(const char *volume, const char *o, struct vol_spec *s, struct lm_error *err)
{
	if (!o)
		return 0;
	_cleanup_free_ char *user = NULL, *vfs = NULL;
	if (mnt_optstr_get_flags(o, &s->flags, mnt_get_builtin_optmap(MNT_LINUX_MAP)) < 0 ||
	    mnt_split_optstr(o, &user, &vfs, &s->data, 0, 0) < 0)
		return lm_err_plain(err, -EINVAL, "volume '%s': option o='%s' cannot be parsed", volume, o);
	s->bind = s->flags & MS_BIND;
	return 0;
}

/* A bind's device: an absolute path to an existing folder. */
static int check_bind(const char *volume, struct vol_spec *s, struct lm_error *err)
{
	if (!s->bind) {
		if (!strcmp(s->type, "none"))
			return lm_err_plain(err, -EINVAL, "volume '%s': type 'none' needs o=bind or o=rbind", volume);
		return 0;
	}
	if (s->device[0] != '/')
		return lm_err_plain(err, -EINVAL, "volume '%s': bind device '%s' is not an absolute path", volume,
				    s->device);
	struct stat st;
	if (stat(s->device, &st) < 0)
		return lm_err(err, -errno, "volume '%s': bind device '%s'", volume, s->device);
	if (!S_ISDIR(st.st_mode))
		return lm_err(err, -ENOTDIR, "volume '%s': bind device '%s'", volume, s->device);
	return 0;
}

/* A tmpfs size: digits and one suffix at most (k, m, g, ... or %). */
static bool size_ok(const char *size)
{
	size_t digits = strspn(size, "0123456789");
	const char *rest = size + digits;
	return digits > 0 && (!*rest || (!rest[1] && strchr("kKmMgGtTpPeE%", *rest)));
}

/* size: tmpfs takes it as its size= option; a plain folder would need a
 * project quota, which lamina does not set up (XFS pquota is left out). */
static int apply_size(const char *volume, const char *size, struct vol_spec *s, struct lm_error *err)
{
	if (!size)
		return 0;
	if (!s->type)
		return lm_err_plain(err, -EOPNOTSUPP,
				    "volume '%s': option 'size' on a plain folder volume needs project quota, which "
				    "lamina does not support (a tmpfs volume takes size: type=tmpfs, o=size=%s)",
				    volume, size);
	if (strcmp(s->type, "tmpfs"))
		return lm_err_plain(err, -EINVAL, "volume '%s': option 'size' is only for tmpfs volumes", volume);
	char *value = NULL;
	if (mnt_optstr_get_option(s->data, "size", &value, &(size_t){ 0 }) == 0)
		return lm_err_plain(err, -EINVAL, "volume '%s': size given twice (option 'size' and o=size=)", volume);
	if (!size_ok(size))
		return lm_err_plain(err, -EINVAL, "volume '%s': size '%s' is not a size (such as 64m, 1g, 10%%)",
				    volume, size);
	if (mnt_optstr_append_option(&s->data, "size", size) < 0)
		return lm_err(err, -ENOMEM, "volume '%s'", volume);
	return 0;
}

int vol_spec_parse(const char *volume, const struct lamina_kv *opts, size_t n, struct vol_spec *ret,
		   struct lm_error *err)
{
	struct vol_spec s = { 0 };
	int r = check_keys(volume, opts, n, err);
	if (r < 0)
		return r;
	s.type = vol_kv_get(opts, n, "type");
	s.device = vol_kv_get(opts, n, "device");
	const char *o = vol_kv_get(opts, n, "o");
	r = check_pairs(volume, &s, o, err);
	if (r >= 0)
		r = split_o(volume, o, &s, err);
	if (r >= 0 && s.type)
		r = check_bind(volume, &s, err);
	if (r >= 0)
		r = apply_size(volume, vol_kv_get(opts, n, "size"), &s, err);
	if (r < 0) {
		vol_spec_release(&s);
		return r;
	}
	*ret = s;
	return 0;
}

void vol_spec_release(struct vol_spec *spec)
{
	free(spec->data);
	memset(spec, 0, sizeof(*spec));
}
