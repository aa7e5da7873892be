/*
 * volumes/remove.c: removing volumes, one (rm) or the unused ones (prune).
 *
 * Order (docs/volumes.md):
 *   1. under the write lock: refuse a used volume (unless force, which
 *      forgets its users), mark the row 'removing', commit. From here no
 *      command lists or mounts it, and the next remove or check --repair
 *      finishes the job;
 *   2. unmount its data if mounted (detaching a busy mount);
 *   3. under the write lock: still 'removing'? rename volumes/NAME into tmp/
 *      and delete the row, commit;
 *   4. delete the folder in tmp/ (outside the lock: it can be big).
 * The rename and the row deletion share a transaction, so a create of the
 * same name in between (which finishes the removal itself) and this removal
 * never both move a folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/crashpoint.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"
#include "volumes/volumes.h"

/* Unmounts name's _data when something is mounted there. */
static int unmount_data(struct lamina_store *store, const char *name, struct lm_error *err)
{
	_cleanup_free_ char *rel = NULL, *path = NULL;
	if (vol_rel_data(name, &rel) < 0 || lm_store_path(store, rel, &path) < 0)
		return lm_err(err, -ENOMEM, "volume '%s'", name);
	bool mounted = false;
	int r = vol_is_mounted(path, &mounted, err);
	if (r < 0 || !mounted)
		return r;
	return vol_umount(name, path, true, err);
}

int vol_retire_locked(struct lamina_store *store, const char *name, struct lm_stage *garbage,
		      struct lm_error *err)
{
	_cleanup_free_ char *rel = NULL;
	if (vol_rel_dir(name, &rel) < 0)
		return lm_err(err, -ENOMEM, "volume '%s'", name);
	int r = unmount_data(store, name, err);
	if (r < 0)
		return r;
	struct stat st;
	if (fstatat(store->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		r = lm_stage_take(store, rel, "rm", garbage, err);
		if (r < 0)
			return lm_err_prefix(err, "volume '%s'", name);
	} else if (errno != ENOENT) {
		return lm_err(err, -errno, "volume '%s': cannot look at its folder", name);
	}
	lm_crashpoint("volume-remove:after-rename");
	return vol_row_delete(store, name, err);
}

/* Step 1: refuse or mark. */
static int mark_locked(struct lamina_store *store, const char *name, bool force, struct lm_error *err)
{
	enum vol_state state;
	size_t users = 0;
	int r = vol_row_state(store, name, &state, err);
	if (r < 0)
		return r;
	switch (state) {
	case VOL_ABSENT:
		return lm_err_plain(err, -ENOENT, "volume '%s': no such volume", name);
	case VOL_CREATING:
		r = vol_creating_check(store, name, err);
		break;
	case VOL_READY:
		if (vol_hold_others(store, name)) /* force or not: it is being read */
			return lm_err_plain(err, -EBUSY, "volume '%s': in use by an export, import or clone", name);
		r = vol_row_n_users(store, name, &users, err);
		if (r >= 0 && users && !force)
			return lm_err_plain(err, -EBUSY, "volume '%s': in use by %zu caller%s", name, users,
					    users == 1 ? "" : "s");
		break;
	case VOL_REMOVING:
		return 0;
	}
	if (r >= 0 && users)
		r = lm_db_run(store->db, err, "DELETE FROM volume_users WHERE volume = ?1", "s", name);
	return r < 0 ? r : vol_row_set_state(store, name, VOL_REMOVING, err);
}

/* Runs fn in a write transaction and commits, or rolls back on failure. */
static int in_transaction(struct lamina_store *store, int (*fn)(struct lamina_store *, const char *, void *,
							      struct lm_error *),
			  const char *name, void *arg, struct lm_error *err)
{
	int r = lm_db_begin(store->db, err);
	if (r < 0)
		return r;
	r = fn(store, name, arg, err);
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db);
	return r;
}

static int mark_fn(struct lamina_store *store, const char *name, void *arg, struct lm_error *err)
{
	return mark_locked(store, name, *(bool *)arg, err);
}

/* Step 3: unless another process finished (and maybe made the name anew). */
static int retire_fn(struct lamina_store *store, const char *name, void *arg, struct lm_error *err)
{
	enum vol_state state;
	int r = vol_row_state(store, name, &state, err);
	if (r < 0 || state != VOL_REMOVING)
		return r;
	return vol_retire_locked(store, name, arg, err);
}

int vol_remove(struct lamina_store *store, const char *name, bool force, uint64_t *ret_freed,
	       struct lm_error *err)
{
	int r = in_transaction(store, mark_fn, name, &force, err);
	if (r < 0)
		return r;
	lm_crashpoint("volume-remove:after-mark");
	r = unmount_data(store, name, err);
	if (r < 0)
		return lm_err_prefix(err, "volume '%s': marked for removal", name);
	lm_crashpoint("volume-remove:after-unmount");
	struct lm_stage garbage = LM_STAGE_INIT;
	r = in_transaction(store, retire_fn, name, &garbage, err);
	if (r < 0) {
		lm_stage_release(&garbage);
		return r;
	}
	lm_crashpoint("volume-remove:after-commit");
	r = lm_stage_remove(store, &garbage, ret_freed);
	if (r < 0)
		return lm_err(err, r, "volume '%s': removed, but not all of its data could be deleted from tmp (see "
				      "lamina check)",
			      name);
	return 0;
}

int lamina_volume_remove(struct lamina_store *store, const char *name, bool force, struct lm_error *err)
{
	int r = lamina_volume_name_check(name, err);
	return r < 0 ? r : vol_remove(store, name, force, NULL, err);
}

/* ---- prune */

static int prune_add(struct lamina_volume_prune_result *res, const char *name, uint64_t freed)
{
	char **a = realloc(res->names, (res->n_names + 1) * sizeof(*a));
	if (!a)
		return -ENOMEM;
	res->names = a;
	if (!(a[res->n_names] = strdup(name)))
		return -ENOMEM;
	res->n_names++;
	res->reclaimed += freed;
	return 0;
}

/* Removes the candidates; one that got a user or went away since the
 * listing is skipped, as Docker does. */
static int prune_volumes(struct lamina_store *store, bool all, const struct vol_filters *f,
			 struct lamina_volume **vols, size_t n, struct lamina_volume_prune_result *res,
			 struct lm_error *err)
{
	for (size_t i = 0; i < n; i++) {
		const struct lamina_volume *v = vols[i];
		if ((!all && !v->anonymous) || v->n_users || !vol_filters_match(f, v))
			continue;
		uint64_t freed = 0;
		struct lm_error skip;
		int r = vol_remove(store, v->name, false, &freed, &skip);
		if (r == -EBUSY || r == -ENOENT)
			continue;
		if (r < 0)
			return lm_err_plain(err, r, "%s", skip.msg);
		if (prune_add(res, v->name, freed) < 0)
			return lm_err(err, -ENOMEM, "prune");
	}
	return 0;
}

int lamina_volume_prune(struct lamina_store *store, bool all, const char *const *filters, size_t n_filters,
			struct lamina_volume_prune_result *ret, struct lm_error *err)
{
	struct vol_filters f;
	memset(ret, 0, sizeof(*ret));
	int r = vol_filters_parse(filters, n_filters, 1u << VF_LABEL | 1u << VF_NOT_LABEL, &f, err);
	if (r < 0)
		return r;
	struct lamina_volume **vols = NULL;
	size_t n = 0;
	r = vol_row_load_all(store, &vols, &n, err);
	if (r >= 0)
		r = prune_volumes(store, all, &f, vols, n, ret, err);
	lamina_volume_list_free(vols, n);
	vol_filters_release(&f);
	if (r < 0)
		lamina_volume_prune_result_release(ret);
	return r;
}

void lamina_volume_prune_result_release(struct lamina_volume_prune_result *result)
{
	if (!result)
		return;
	for (size_t i = 0; i < result->n_names; i++)
		free(result->names[i]);
	free(result->names);
	memset(result, 0, sizeof(*result));
}
