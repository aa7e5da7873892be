/*
 * graphdriver/layerfs-pending.c: TEMPORARY stand-ins for the layerfs.h
 * functions that the "gdfs" branch writes, so the store builds and its
 * tests run before that branch lands. Each says so and changes nothing.
 * Deleted when gdfs is merged.
 */
#include <errno.h>
#include <string.h>

#include "common/error.h"
#include "graphdriver/layerfs.h"

static int pending(struct lm_error *err, const char *fn)
{
	return lm_err_plain(err, -ENOSYS, "%s: not built yet (graphdriver/layerfs.h)", fn);
}

int gd_apply(int fd_in, int dirfd, const struct gd_apply_opts *opts, struct gd_apply_result *ret,
	     struct lm_error *err)
{
	return pending(err, "gd_apply");
}

void gd_apply_result_release(struct gd_apply_result *res)
{
	memset(res, 0, sizeof(*res));
}

int gd_export(int dirfd, int fd_out, const char *what, struct lm_error *err)
{
	return pending(err, "gd_export");
}

int gd_changes(int dirfd, const int *lower_dirfds, size_t n_lowers, struct lamina_layer_change **ret,
	       size_t *ret_n, struct lm_error *err)
{
	return pending(err, "gd_changes");
}

void lamina_layer_changes_free(struct lamina_layer_change *changes, size_t n)
{
}

int gd_diff_size(int dirfd, uint64_t *ret, struct lm_error *err)
{
	return pending(err, "gd_diff_size");
}

int gd_verify(int dirfd, const struct gd_file_hash *hashes, size_t n, const char *what,
	      struct lamina_check_report *ret, struct lm_error *err)
{
	return pending(err, "gd_verify");
}
