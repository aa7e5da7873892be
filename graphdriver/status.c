/*
 * graphdriver/status.c: the pairs describing the store (Docker's Status)
 * and one layer (GetMetadata, with overlay2's keys: LowerDir, UpperDir,
 * WorkDir, MergedDir, plus DiffDir and the digests).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"

/* A growing array of pairs; oom is sticky, checked once at the end. */
struct kvs {
	struct lamina_kv *kv;
	size_t n;
	bool oom;
};

static void kvs_add(struct kvs *k, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void kvs_add(struct kvs *k, const char *key, const char *fmt, ...)
{
	struct lamina_kv *a = k->oom ? NULL : realloc(k->kv, (k->n + 1) * sizeof(*a));
	if (!a) {
		k->oom = true;
		return;
	}
	k->kv = a;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&a[k->n].value, fmt, ap);
	va_end(ap);
	a[k->n].key = strdup(key);
	if (n < 0)
		a[k->n].value = NULL;
	k->n++;
	k->oom = n < 0 || !a[k->n - 1].key;
}

static int kvs_done(struct kvs *k, struct lamina_kv **ret, size_t *ret_n, const char *what, struct lm_error *err)
{
	if (k->oom) {
		lamina_kv_array_free(k->kv, k->n);
		return lm_err(err, -ENOMEM, "%s", what);
	}
	*ret = k->kv;
	*ret_n = k->n;
	return 0;
}

void lamina_kv_array_free(struct lamina_kv *kv, size_t n)
{
	for (size_t i = 0; kv && i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static const char *fs_name(long type)
{
	switch (type) {
	case EXT4_SUPER_MAGIC:
		return "extfs";
	case XFS_SUPER_MAGIC:
		return "xfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case TMPFS_MAGIC:
		return "tmpfs";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlayfs";
	default:
		return "unknown";
	}
}

/* The number of rows a query about the layers counts. */
static size_t count_rows(struct lamina_store *store, enum gd_state state)
{
	char **ids = NULL;
	size_t n = 0;
	gd_row_ids(store, state, &ids, &n, NULL);
	gd_strv_free(ids, n);
	return n;
}

int lamina_layer_status(struct lamina_store *store, struct lamina_kv **ret, size_t *ret_n, struct lm_error *err)
{
	struct statfs sf;
	if (fstatfs(store->root_fd, &sf) < 0)
		return lm_err(err, -errno, "store '%s'", store->root);
	struct lamina_layer **all = NULL;
	size_t n = 0, mounted = 0;
	int r = gd_row_load_all(store, &all, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		mounted += all[i]->mountpoint != NULL;
	lamina_layer_list_free(all, n);
	struct kvs k = { 0 };
	char program[PATH_MAX];
	gd_fuse_program(program, sizeof(program));
	kvs_add(&k, "Root Dir", "%s", store->root);
	kvs_add(&k, "Backing Filesystem", "%s", fs_name((long)sf.f_type));
	kvs_add(&k, "Supports d_type", "true");
	kvs_add(&k, "Layers", "%zu", n);
	kvs_add(&k, "Mounted", "%zu", mounted);
	kvs_add(&k, "Being Removed", "%zu", count_rows(store, GD_REMOVING));
	kvs_add(&k, "Whiteouts", "%s", geteuid() == 0 ? "overlay (0/0 devices)" : ".wh. files");
	kvs_add(&k, "Mount Program", "%s", program);
	return kvs_done(&k, ret, ret_n, "layer store", err);
}

/* The strings joined with sep, or NULL (out of memory). */
static char *join(char *const *v, size_t n, char sep)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	char *s = malloc(len), *p = s;
	for (size_t i = 0; s && i < n; i++)
		p += sprintf(p, "%s%s", i ? (char[]){ sep, 0 } : "", v[i]);
	if (s)
		*p = '\0';
	return s;
}

int lamina_layer_metadata(struct lamina_store *store, const char *id_or_name, struct lamina_kv **ret, size_t *ret_n,
			  struct lm_error *err)
{
	_cleanup_free_ char *id = NULL, *merged = NULL;
	struct lamina_layer *l = NULL;
	struct gd_union u = { 0 };
	int r = gd_resolve(store, id_or_name, &id, err);
	if (r >= 0)
		r = gd_row_load(store, id, &l, err);
	if (r >= 0)
		r = gd_union_of(store, l, &u, err);
	if (r < 0) {
		lamina_layer_free(l);
		return r;
	}
	struct kvs k = { 0 };
	kvs_add(&k, "DiffDir", "%s", l->diff_dir);
	_cleanup_free_ char *lower = join(u.lowers, u.n_lowers, ':');
	kvs_add(&k, "LowerDir", "%s", lower ? lower : "");
	k.oom |= !lower;
	if (u.upper) {
		kvs_add(&k, "UpperDir", "%s", u.upper);
		kvs_add(&k, "WorkDir", "%s", u.work);
	}
	if (gd_path(store, id, GD_MERGED, &merged) < 0)
		k.oom = true;
	kvs_add(&k, "MergedDir", "%s", l->mountpoint ? l->mountpoint : merged ? merged : "");
	if (l->diff_id)
		kvs_add(&k, "DiffID", "%s", l->diff_id);
	if (l->compressed_digest)
		kvs_add(&k, "CompressedDigest", "%s", l->compressed_digest);
	kvs_add(&k, "Size", "%llu", (unsigned long long)l->size);
	gd_union_release(&u);
	lamina_layer_free(l);
	return kvs_done(&k, ret, ret_n, "layer", err);
}
