/*
 * common/store.c: opening a lamina root: the folder and its layout, the
 * O_PATH fd all later work is relative to, and the database. What lives in
 * the folders belongs to volumes/ and graphdriver/.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/db.h"
#include "common/error.h"
#include "common/store.h"

static const char *const layout[] = { LM_STORE_VOLUMES, LM_STORE_LAYERS, LM_STORE_IMAGES, LM_STORE_TMP };

static const char *default_root(const char *root)
{
	if (root && *root)
		return root;
	const char *env = getenv("LAMINA_ROOT");
	return env && *env ? env : LAMINA_DEFAULT_ROOT;
}

/* mkdir -p of path (absolute or relative to the working directory). The
 * root's parents are the administrator's: made 0755 like the root itself. */
static int mkdir_parents(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(copy, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The root is 0700 (volume data and the database are root's business, as
 * /var/lib/docker); the folders inside inherit that protection. */
static int make_layout(struct lamina_store *s, struct lm_error *err)
{
	for (size_t i = 0; i < ELEMENTSOF(layout); i++) {
		if (mkdirat(s->root_fd, layout[i], 0700) < 0 && errno != EEXIST)
			return lm_err(err, -errno, "store '%s': cannot create '%s'", s->root, layout[i]);
		struct stat st;
		if (fstatat(s->root_fd, layout[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			return lm_err(err, -errno, "store '%s': cannot stat '%s'", s->root, layout[i]);
		if (!S_ISDIR(st.st_mode))
			return lm_err(err, -ENOTDIR, "store '%s': '%s'", s->root, layout[i]);
	}
	return 0;
}

static int open_root(struct lamina_store *s, const char *given, struct lm_error *err)
{
	int r = mkdir_parents(given);
	if (r < 0)
		return lm_err(err, r, "store '%s': cannot create the folder", given);
	s->root = realpath(given, NULL);
	if (!s->root)
		return lm_err(err, -errno, "store '%s'", given);
	s->root_fd = open(s->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0)
		return lm_err(err, -errno, "store '%s'", s->root);
	return make_layout(s, err);
}

int lamina_store_open(const char *root, struct lamina_store **ret, struct lm_error *err)
{
	struct lamina_store *s = calloc(1, sizeof(*s));
	if (!s)
		return lm_err(err, -ENOMEM, "store");
	s->root_fd = -1;
	int r = open_root(s, default_root(root), err);
	_cleanup_free_ char *dbpath = NULL;
	if (r >= 0 && (r = lm_store_path(s, "lamina.db", &dbpath)) < 0)
		lm_err(err, r, "store '%s'", s->root);
	if (r >= 0)
		r = lm_db_open(dbpath, &s->db, err);
	if (r < 0) {
		lamina_store_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct lamina_store *lamina_store_close(struct lamina_store *store)
{
	if (!store)
		return NULL;
	lm_db_close(store->db);
	lm_close(store->root_fd);
	free(store->root);
	free(store);
	return NULL;
}

const char *lamina_store_root(const struct lamina_store *store)
{
	return store->root;
}

int lm_store_path(const struct lamina_store *store, const char *rel, char **ret)
{
	return asprintf(ret, "%s/%s", store->root, rel) < 0 ? -ENOMEM : 0;
}

int lm_store_open_dir(const struct lamina_store *store, const char *rel)
{
	int fd = openat(store->root_fd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
