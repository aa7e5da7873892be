/*
 * volumes/volume.c: creating, inspecting and listing volumes.
 *
 * Create, under the write lock (BEGIN IMMEDIATE), so that two processes
 * creating one name serialise and the second sees the first's volume:
 *   1. look at the row: ready with the same options -> that volume (1);
 *      other options -> -EEXIST; 'removing', or 'creating' whose maker died
 *      -> finish removing it; none, but a folder -> an empty skeleton (a
 *      crash between rename and commit) is cleared, one with data refused;
 *   2. build tmp/create-X/_data, fsync, rename it to volumes/NAME, fsync;
 *   3. insert the row, commit.
 * A crash before the commit leaves no row: a folder in tmp/ or an empty
 * skeleton in volumes/, both cleared by the next create or check --repair.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/crashpoint.h"
#include "common/db.h"
#include "common/error.h"
#include "common/fsops.h"
#include "common/store.h"
#include "volumes/volumes.h"

int vol_creating_check(struct lamina_store *store, const char *name, struct lm_error *err)
{
	_cleanup_free_ char *rel = NULL;
	if (vol_rel_dir(name, &rel) < 0)
		return lm_err(err, -ENOMEM, "volume '%s'", name);
	int fd = lm_dir_lock(store->root_fd, rel, LOCK_EX);
	if (fd == -EBUSY)
		return lm_err_plain(err, -EBUSY, "volume '%s': being created by another process", name);
	lm_close(fd);
	return 0;
}

/* Opens a folder below dirfd: the fd, -ENOTDIR for anything else (a
 * file, a symlink), -ENOENT when missing. */
static int open_folder(int dirfd, const char *rel)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd >= 0 ? fd : errno == ELOOP ? -ENOTDIR : -errno;
}

int vol_folder_holds_data(struct lamina_store *store, const char *name, bool *ret)
{
	_cleanup_free_ char *rel = NULL;
	if (vol_rel_dir(name, &rel) < 0)
		return -ENOMEM;
	*ret = true; /* anything but folders is data */
	_cleanup_close_ int fd = open_folder(store->root_fd, rel);
	if (fd < 0)
		return fd == -ENOTDIR ? 0 : fd;
	int r = lm_dir_has_entries(fd, "_data", ret);
	if (r < 0 || *ret)
		return r;
	_cleanup_close_ int data = open_folder(fd, "_data");
	if (data == -ENOENT)
		return 0;
	*ret = true;
	if (data < 0)
		return data == -ENOTDIR ? 0 : data;
	return lm_dir_has_entries(data, NULL, ret);
}

/* The ready volume of that name is the answer when its options are ours. */
static int existing_answer(struct lamina_store *store, const struct vol_new *nv, struct lamina_volume **ret,
			   struct lm_error *err)
{
	struct lamina_volume *v = NULL;
	int r = vol_row_load(store, nv->name, &v, err);
	if (r < 0)
		return r;
	if (nv->state != VOL_READY || !vol_kv_equal(v->options, v->n_options, nv->options, nv->n_options)) {
		lamina_volume_free(v);
		return lm_err_plain(err, -EEXIST, "volume '%s': already exists%s", nv->name,
				    nv->state == VOL_READY ? " with other options" : "");
	}
	if (ret)
		*ret = v;
	else
		lamina_volume_free(v);
	return 1;
}

/* A folder volumes/NAME with no row: an empty skeleton (a crash between
 * the rename and the commit of a create) goes to *garbage; one that holds
 * data is refused, for a person to look at. */
static int clear_leftover(struct lamina_store *store, const char *name, struct lm_stage *garbage,
			  struct lm_error *err)
{
	bool data = false;
	int r = vol_folder_holds_data(store, name, &data);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return lm_err(err, r, "volume '%s': cannot look into its leftover folder", name);
	if (data)
		return lm_err_plain(err, -EEXIST,
				    "volume '%s': folder '%s/" LM_STORE_VOLUMES "/%s' holds data but has no database "
				    "row (see lamina check)",
				    name, store->root, name);
	_cleanup_free_ char *rel = NULL;
	if (vol_rel_dir(name, &rel) < 0)
		return lm_err(err, -ENOMEM, "volume '%s'", name);
	return lm_stage_take(store, rel, "rm", garbage, err);
}

/* Removes what build() put in volumes/NAME when its row does not follow. */
static void drop_folder(struct lamina_store *store, const char *name)
{
	_cleanup_free_ char *rel = NULL;
	struct lm_stage g = LM_STAGE_INIT;
	if (vol_rel_dir(name, &rel) >= 0 && lm_stage_take(store, rel, "rm", &g, NULL) >= 0)
		lm_stage_remove(store, &g, NULL);
}

/* Steps 2 and 3 of create (see the top of this file). */
static int build(struct lamina_store *store, const struct vol_new *nv, struct lm_stage *lock, struct lm_error *err)
{
	struct lm_stage st = LM_STAGE_INIT;
	_cleanup_free_ char *rel = NULL;
	int r = lm_stage_new(store, "create", &st, err);
	if (r < 0)
		return r;
	if (mkdirat(st.fd, "_data", 0755) < 0 || vol_rel_dir(nv->name, &rel) < 0) {
		r = lm_err(err, -errno, "volume '%s': cannot make its folder", nv->name);
		lm_stage_remove(store, &st, NULL);
		return r;
	}
	lm_crashpoint("volume-create:after-mkdir");
	r = lm_stage_commit(store, &st, rel, err);
	if (r < 0) {
		lm_stage_remove(store, &st, NULL);
		return lm_err_prefix(err, "volume '%s'", nv->name);
	}
	lm_crashpoint("volume-create:after-rename");
	struct lamina_volume v = {
		.name = (char *)nv->name, .driver = "local", .created = time(NULL), .anonymous = nv->anonymous,
		.options = nv->options, .n_options = nv->n_options, .labels = nv->labels, .n_labels = nv->n_labels,
	};
	r = vol_row_insert(store, &v, nv->state, err);
	lm_crashpoint("volume-create:after-insert");
	if (r < 0 || nv->state != VOL_CREATING) {
		lm_stage_release(&st); /* unlocks volumes/NAME */
		if (r < 0)
			drop_folder(store, nv->name);
		return r;
	}
	*lock = st;
	return 0;
}

int vol_create_locked(struct lamina_store *store, const struct vol_new *nv, struct lamina_volume **ret_existing,
		      struct lm_stage *lock, struct lm_stage *garbage, struct lm_error *err)
{
	enum vol_state state;
	int r = vol_row_state(store, nv->name, &state, err);
	if (r < 0)
		return r;
	switch (state) {
	case VOL_READY:
		return existing_answer(store, nv, ret_existing, err);
	case VOL_CREATING:
		r = vol_creating_check(store, nv->name, err);
		if (r < 0)
			return r;
		/* its maker died: drop it like a half-removed one */
		/* fallthrough */
	case VOL_REMOVING:
		r = vol_retire_locked(store, nv->name, garbage, err);
		break;
	case VOL_ABSENT:
		r = clear_leftover(store, nv->name, garbage, err);
		break;
	}
	return r < 0 ? r : build(store, nv, lock, err);
}

/* Checks opts and fills nv (release with new_release). anon holds the
 * name of an anonymous volume. */
static int new_from_opts(const struct lamina_volume_create_opts *opts, struct vol_new *nv, char anon[65],
			 struct lm_error *err)
{
	nv->anonymous = !opts->name;
	nv->name = opts->name;
	nv->state = VOL_READY;
	int r = nv->anonymous ? vol_name_anonymous(anon, err) : lamina_volume_name_check(opts->name, err);
	if (r < 0)
		return r;
	if (nv->anonymous)
		nv->name = anon;
	if (opts->driver && strcmp(opts->driver, "local"))
		return lm_err_plain(err, -EINVAL, "volume '%s': driver '%s' is not supported (only 'local')", nv->name,
				    opts->driver);
	r = vol_kv_normalize(nv->name, "option", opts->options, opts->n_options, &nv->options, &nv->n_options, err);
	if (r >= 0)
		r = vol_kv_normalize(nv->name, "label", opts->labels, opts->n_labels, &nv->labels, &nv->n_labels,
				     err);
	struct vol_spec spec;
	if (r >= 0 && (r = vol_spec_parse(nv->name, nv->options, nv->n_options, &spec, err)) >= 0)
		vol_spec_release(&spec);
	return r;
}

static void new_release(struct vol_new *nv)
{
	vol_kv_free(nv->options, nv->n_options);
	vol_kv_free(nv->labels, nv->n_labels);
}

int lamina_volume_create(struct lamina_store *store, const struct lamina_volume_create_opts *opts,
			 struct lamina_volume **ret, struct lm_error *err)
{
	struct vol_new nv = { 0 };
	char anon[65];
	int r = new_from_opts(opts, &nv, anon, err);
	if (r >= 0)
		r = lm_db_begin(store->db, err);
	if (r < 0) {
		new_release(&nv);
		return r;
	}
	struct lm_stage lock = LM_STAGE_INIT, garbage = LM_STAGE_INIT;
	struct lamina_volume *v = NULL;
	r = vol_create_locked(store, &nv, &v, &lock, &garbage, err);
	if (r >= 0) {
		int c = lm_db_commit(store->db, err);
		if (c < 0 && r == 0)
			drop_folder(store, nv.name);
		r = c < 0 ? c : r;
	}
	lm_db_rollback(store->db); /* when the commit did not happen */
	lm_stage_remove(store, &garbage, NULL);
	if (r == 0 && ret)
		r = vol_row_load(store, nv.name, &v, err);
	if (r >= 0 && ret)
		*ret = v;
	else
		lamina_volume_free(v);
	new_release(&nv);
	return r;
}

int lamina_volume_inspect(struct lamina_store *store, const char *name, struct lamina_volume **ret,
			  struct lm_error *err)
{
	struct lamina_volume *v = NULL;
	int r = lamina_volume_name_check(name, err);
	if (r >= 0)
		r = vol_row_load(store, name, &v, err);
	if (r >= 0 && ret)
		*ret = v;
	else
		lamina_volume_free(v);
	return r;
}

int lamina_volume_list(struct lamina_store *store, const char *const *filters, size_t n_filters,
		       struct lamina_volume ***ret, size_t *ret_n, struct lm_error *err)
{
	struct vol_filters f;
	int r = vol_filters_parse(filters, n_filters, ~0u, &f, err);
	if (r < 0)
		return r;
	struct lamina_volume **vols = NULL;
	size_t n = 0, kept = 0;
	r = vol_row_load_all(store, &vols, &n, err);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (vol_filters_match(&f, vols[i]))
			vols[kept++] = vols[i];
		else
			lamina_volume_free(vols[i]);
	}
	vol_filters_release(&f);
	if (r < 0)
		return r;
	*ret = vols;
	*ret_n = kept;
	return 0;
}
