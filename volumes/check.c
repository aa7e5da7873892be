/*
 * volumes/check.c: lamina check for volumes: what the database says
 * against the folders and mounts, and the repair of each disagreement
 * (docs/volumes.md lists them). Also lamina_check() itself, which runs
 * every module's checker (volumes, then the graph store's gd_check) and the
 * sweep of tmp/.
 *
 * Everything but the removals of 'removing' rows (which take their own
 * transactions, as any remove) runs under one write lock, so the check never
 * mistakes a create in progress (its folder is in place a moment before its
 * row is committed) for a leftover.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmount.h>

#include "common/check.h"
#include "common/cleanup.h"
#include "common/db.h"
#include "common/error.h"
#include "common/stage.h"
#include "common/store.h"
#include "graphdriver/graphdriver.h"
#include "volumes/volumes.h"

struct check_ctx {
	struct lamina_store *store;
	bool repair;
	struct lamina_check_report *report;
	struct lm_error *err;
};

/* Reports name's problem; what is the message after "volume 'NAME': ". */
static int report(struct check_ctx *c, const char *name, bool repaired, const char *what)
{
	int r = lm_check_add(c->report, repaired, "volume '%s': %s", name, what);
	return r < 0 ? lm_err(c->err, r, "check") : 0;
}

/* Moves volumes/NAME into tmp/ and deletes it right away. */
static int drop_folder(struct check_ctx *c, const char *name)
{
	_cleanup_free_ char *rel = NULL;
	struct lm_stage g = LM_STAGE_INIT;
	if (vol_rel_dir(name, &rel) < 0)
		return -ENOMEM;
	int r = lm_stage_take(c->store, rel, "rm", &g, NULL);
	return r < 0 ? r : lm_stage_remove(c->store, &g, NULL);
}

/* 'removing' rows: a removal that a crash interrupted; finish it. */
static int check_removing(struct check_ctx *c)
{
	char **names = NULL;
	size_t n = 0;
	int r = vol_row_names(c->store, VOL_REMOVING, &names, &n, c->err);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		bool done = c->repair && vol_remove(c->store, names[i], true, NULL, NULL) >= 0;
		r = report(c, names[i], done, "removal was interrupted");
	}
	vol_names_free(names, n);
	return r;
}

/* 'creating' rows whose maker is gone: drop them (the header's promise:
 * a half-created volume's data is not kept). */
static int check_creating(struct check_ctx *c)
{
	char **names = NULL;
	size_t n = 0;
	int r = vol_row_names(c->store, VOL_CREATING, &names, &n, c->err);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		if (vol_creating_check(c->store, names[i], NULL) == -EBUSY)
			continue; /* being made right now */
		struct lm_stage g = LM_STAGE_INIT;
		bool done = c->repair && vol_retire_locked(c->store, names[i], &g, NULL) >= 0 &&
			    lm_stage_remove(c->store, &g, NULL) >= 0;
		lm_stage_release(&g);
		r = report(c, names[i], done, "creation was interrupted");
	}
	vol_names_free(names, n);
	return r;
}

static int check_data_folder(struct check_ctx *c, const struct lamina_volume *v)
{
	const char *rel = v->mountpoint + strlen(c->store->root) + 1; /* volumes/NAME/_data */
	struct stat st;
	if (fstatat(c->store->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		return 0;
	bool done = false;
	if (c->repair) {
		/* the row keeps its labels and options; the data is gone anyway */
		_cleanup_free_ char *dir = NULL;
		if (vol_rel_dir(v->name, &dir) >= 0 && (mkdirat(c->store->root_fd, dir, 0700) == 0 || errno == EEXIST))
			done = mkdirat(c->store->root_fd, rel, 0755) == 0;
	}
	return report(c, v->name, done, "data folder is missing");
}

/* The users against the mount: nobody should hold an unmounted volume of a
 * type that mounts, and nothing should stay mounted that nobody holds. */
static int check_mount(struct check_ctx *c, const struct lamina_volume *v)
{
	struct vol_spec spec;
	if (vol_spec_parse(v->name, v->options, v->n_options, &spec, NULL) < 0)
		return report(c, v->name, false, "options can no longer be used (a bind device gone?)");
	int r = 0;
	bool done = false;
	if (!spec.type && v->mounted) {
		r = report(c, v->name, false, "something lamina did not mount is mounted on its data folder");
	} else if (spec.type && v->mounted && v->n_users == 0 && !vol_hold_others(c->store, v->name)) {
		done = c->repair && vol_umount(v->name, v->mountpoint, vol_spec_needs_detach(&spec), NULL) >= 0;
		r = report(c, v->name, done, "mounted, but no caller holds it");
	} else if (spec.type && !v->mounted && v->n_users > 0) {
		/* mount again rather than forget the users: a holder that still
		 * runs writes to this path and must find the volume there */
		done = c->repair && vol_mount_spec(v->name, v->mountpoint, &spec, NULL) >= 0;
		r = report(c, v->name, done, "held by callers, but not mounted");
	}
	vol_spec_release(&spec);
	return r;
}

static int check_ready(struct check_ctx *c)
{
	struct lamina_volume **vols = NULL;
	size_t n = 0;
	int r = vol_row_load_all(c->store, &vols, &n, c->err);
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = check_data_folder(c, vols[i]);
		if (r >= 0)
			r = check_mount(c, vols[i]);
	}
	lamina_volume_list_free(vols, n);
	return r;
}

/* A folder of volumes/ with no row: an empty skeleton goes, one with data
 * stays for a person to look at. */
static int check_folder(struct check_ctx *c, const char *name)
{
	enum vol_state state = VOL_ABSENT;
	if (lamina_volume_name_check(name, NULL) == 0) {
		int r = vol_row_state(c->store, name, &state, c->err);
		if (r < 0 || state != VOL_ABSENT)
			return r;
	}
	bool data = true;
	vol_folder_holds_data(c->store, name, &data);
	if (data)
		return report(c, name, false, "folder holds data but has no database row (left in place)");
	return report(c, name, c->repair && drop_folder(c, name) >= 0, "empty folder without a database row");
}

static int check_folders(struct check_ctx *c)
{
	int fd = lm_store_open_dir(c->store, LM_STORE_VOLUMES);
	_cleanup_closedir_ DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		int r = fd < 0 ? fd : -errno;
		lm_close(fd);
		return lm_err(c->err, r, "store '%s': cannot read volumes", c->store->root);
	}
	struct dirent *de;
	int r = 0;
	while (r >= 0 && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = check_folder(c, de->d_name);
	}
	return r;
}

int vol_check(struct lamina_store *store, bool repair, struct lamina_check_report *report_out,
	      struct lm_error *err)
{
	struct check_ctx c = { store, repair, report_out, err };
	int r = check_removing(&c);
	if (r < 0)
		return r;
	r = lm_db_begin(store->db, err);
	if (r < 0)
		return r;
	r = check_creating(&c);
	if (r >= 0)
		r = check_ready(&c);
	if (r >= 0)
		r = check_folders(&c);
	if (r >= 0)
		r = lm_db_commit(store->db, err);
	lm_db_rollback(store->db);
	return r;
}

int lamina_check(struct lamina_store *store, bool repair, struct lamina_check_report *ret, struct lm_error *err)
{
	memset(ret, 0, sizeof(*ret));
	int r = vol_check(store, repair, ret, err);
	if (r >= 0)
		r = gd_check(store, repair, ret, err);
	if (r >= 0)
		r = lm_stage_sweep(store, repair, ret, err);
	if (r < 0)
		lamina_check_report_release(ret);
	return r;
}
