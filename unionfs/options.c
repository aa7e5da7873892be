/*
 * unionfs/options.c: the fuse-overlayfs compatible command line.
 *
 * podman, buildah and dockerd run the mount program as "BIN -o OPTS MERGED"
 * and "BIN --version"; mount.fuse3 runs "BIN SOURCE MERGED -o OPTS". Options
 * fall in four groups: ours (lowerdir, upperdir, workdir...), kernel overlay
 * options we accept because they describe what we do anyway (index=off,
 * redirect_dir=off...), mount options passed on to FUSE (nodev, noexec...),
 * and options we do not implement, which are refused by name: a runtime that
 * asks for uid mapping must not get an unmapped mount without noticing.
 * Checking the directories themselves is ufs_config_check()'s job.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "unionfs/unionfs.h"

struct lamina_union_config *lamina_union_config_new(void)
{
	struct lamina_union_config *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fsync = true;
	/* writeback stays off unless asked for (writeback=1): with it, the
	 * kernel answers SEEK_DATA/SEEK_HOLE and the link count of an open,
	 * unlinked file from its own state, which differs from the kernel's
	 * overlayfs (test-union-files shows where). */
	c->writeback = false;
	/* The branches must not change under the mount (as for the kernel's
	 * overlayfs), so what the kernel caches stays true until an operation
	 * through the mount changes it, and the kernel invalidates its caches
	 * for those itself; see docs/unionfs.md, "Caches". timeout=0 is for
	 * branches that do change underneath. */
	c->timeout = 86400.0;
	c->threads = 4;
	c->uring = true;
	c->dir_readahead = true;
	c->dir_refresh = true;
	return c;
}

static void free_lowers(char **lowers, int n)
{
	for (int i = 0; i < n; i++)
		free(lowers[i]);
	free(lowers);
}

struct lamina_union_config *lamina_union_config_free(struct lamina_union_config *c)
{
	if (!c)
		return NULL;
	free_lowers(c->lowers, c->nlowers);
	free(c->upper);
	free(c->work);
	free(c->mountpoint);
	free(c->source);
	free(c->fuse_opts);
	free(c);
	return NULL;
}

/* Splits "a:b\:c:d" at unescaped colons ("\:" is a literal colon, as in the
 * kernel and fuse-overlayfs 1.15). Empty entries are refused. */
static int split_lowers(const char *value, char ***ret, int *ret_n, struct lm_error *err)
{
	size_t len = strlen(value);
	_cleanup_free_ char *buf = malloc(len + 1);
	char **list = calloc(len / 2 + 2, sizeof(char *));
	int n = 0;
	size_t j = 0;
	if (!buf || !list) {
		free(list);
		return lm_err(err, -ENOMEM, "lowerdir");
	}
	for (size_t i = 0; i <= len; i++) {
		if (value[i] == '\\' && value[i + 1] == ':') {
			buf[j++] = ':';
			i++;
			continue;
		}
		if (value[i] != ':' && value[i] != '\0') {
			buf[j++] = value[i];
			continue;
		}
		if (j == 0) {
			free_lowers(list, n);
			return lm_err_plain(err, -EINVAL, "option 'lowerdir=%s': empty layer path", value);
		}
		if (n >= UFS_MAX_LOWERS) {
			free_lowers(list, n);
			return lm_err_plain(err, -EINVAL, "option 'lowerdir': more than %d layers", UFS_MAX_LOWERS);
		}
		buf[j] = '\0';
		list[n] = strdup(buf);
		if (!list[n]) {
			free_lowers(list, n);
			return lm_err(err, -ENOMEM, "lowerdir");
		}
		n++;
		j = 0;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

static int set_string(char **field, const char *value, const char *opt, struct lm_error *err)
{
	if (!*value)
		return lm_err_plain(err, -EINVAL, "option '%s': empty value", opt);
	char *copy = strdup(value);
	if (!copy)
		return lm_err(err, -ENOMEM, "option '%s'", opt);
	free(*field);
	*field = copy;
	return 0;
}

static int append_fuse_opt(struct lamina_union_config *c, const char *opt, struct lm_error *err)
{
	size_t old = c->fuse_opts ? strlen(c->fuse_opts) : 0;
	char *s = realloc(c->fuse_opts, old + strlen(opt) + 2);
	if (!s)
		return lm_err(err, -ENOMEM, "option '%s'", opt);
	if (old)
		s[old++] = ',';
	strcpy(s + old, opt);
	c->fuse_opts = s;
	return 0;
}

/* Mount options the kernel's FUSE mount understands; passed on unchanged. */
static const char *const fuse_passthrough[] = {
	"nodev", "dev", "nosuid", "suid", "noexec", "exec", "noatime", "atime", "relatime",
	"nodiratime", "diratime", "strictatime", "lazytime", "ro", "rw", "sync", "async",
	"dirsync", "allow_other", "allow_root", "default_permissions",
};

/* Kernel overlay or fuse-overlayfs options whose meaning is what lamina does
 * anyway, accepted so that runtimes' usual option strings work. */
static const char *const accepted_noop[] = {
	"redirect_dir=off", "redirect_dir=nofollow", "index=off", "metacopy=off",
	"xino=off", "xino=auto", "xino=on", "nfs_export=off", "userxattr", "noacl",
	"threaded=1", "fast_ino=0", "noxattrs=0",
	"uuid=on", "uuid=off", "uuid=auto", "uuid=null", "static_nlink", "ino32_t=0",
};

static bool in_list(const char *const *list, size_t n, const char *opt)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], opt))
			return true;
	return false;
}

/* NAME=0 or NAME=1: sets *value and says whether opt was that switch. */
static bool parse_switch(const char *opt, const char *name, bool *value)
{
	size_t n = strlen(name);
	if (strncmp(opt, name, n) != 0 || opt[n] != '=' || (opt[n + 1] != '0' && opt[n + 1] != '1') || opt[n + 2])
		return false;
	*value = opt[n + 1] == '1';
	return true;
}

static int parse_timeout(struct lamina_union_config *c, const char *value, struct lm_error *err)
{
	char *end;
	errno = 0;
	double t = strtod(value, &end);
	if (errno || end == value || *end || t < 0)
		return lm_err_plain(err, -EINVAL, "option 'timeout=%s': not a number of seconds", value);
	c->timeout = t;
	return 0;
}

static int parse_one(struct lamina_union_config *c, const char *opt, struct lm_error *err)
{
	const char *eq = strchr(opt, '=');
	size_t keylen = eq ? (size_t)(eq - opt) : strlen(opt);
	const char *value = eq ? eq + 1 : NULL;

#define KEY(k) (keylen == strlen(k) && !strncmp(opt, k, keylen))
	if (KEY("lowerdir") && value) {
		char **lowers = NULL;
		int n = 0;
		int r = split_lowers(value, &lowers, &n, err);
		if (r < 0)
			return r;
		free_lowers(c->lowers, c->nlowers);
		c->lowers = lowers;
		c->nlowers = n;
		return 0;
	}
	if (KEY("upperdir") && value)
		return set_string(&c->upper, value, "upperdir", err);
	if (KEY("workdir") && value)
		return set_string(&c->work, value, "workdir", err);
	if (KEY("fsname") && value)
		return set_string(&c->source, value, "fsname", err);
	if (KEY("timeout") && value)
		return parse_timeout(c, value, err);
	if (KEY("context") && value)
		return 0; /* an SELinux label: FUSE cannot apply one here, as fuse-overlayfs */
	if (!strcmp(opt, "volatile") || !strcmp(opt, "fsync=0")) {
		c->fsync = false;
		c->volatile_ = !strcmp(opt, "volatile");
		return 0;
	}
	if (!strcmp(opt, "fsync=1")) {
		c->fsync = true;
		return 0;
	}
	if (parse_switch(opt, "writeback", &c->writeback) || parse_switch(opt, "uring", &c->uring) ||
	    parse_switch(opt, "dir_readahead", &c->dir_readahead) || parse_switch(opt, "dir_refresh", &c->dir_refresh))
		return 0;
	if (!strcmp(opt, "threaded=0"))
		return 0; /* lamina is always multithreaded; one thread is never faster */
#undef KEY
	if (in_list(accepted_noop, ELEMENTSOF(accepted_noop), opt))
		return 0;
	if (in_list(fuse_passthrough, ELEMENTSOF(fuse_passthrough), opt))
		return append_fuse_opt(c, opt, err);
	return lm_err_plain(err, -EINVAL, "option '%s': not supported by lamina-fuse", opt);
}

int lamina_union_config_parse_opts(struct lamina_union_config *c, const char *opts, struct lm_error *err)
{
	/* Parse into a copy so that a refused option leaves c unchanged. */
	struct lamina_union_config tmp = *c;
	_cleanup_free_ char *copy = strdup(opts);
	if (!copy)
		return lm_err(err, -ENOMEM, "options");
	tmp.lowers = NULL;
	tmp.nlowers = 0;
	tmp.upper = tmp.work = tmp.source = tmp.fuse_opts = tmp.mountpoint = NULL;

	int r = 0;
	char *save = NULL;
	for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		r = parse_one(&tmp, opt, err);
		if (r < 0)
			break;
	}
	if (r >= 0 && tmp.fuse_opts && c->fuse_opts) {
		_cleanup_free_ char *mine = tmp.fuse_opts;
		tmp.fuse_opts = strdup(c->fuse_opts);
		r = tmp.fuse_opts ? append_fuse_opt(&tmp, mine, err) : lm_err(err, -ENOMEM, "options");
	}
	if (r < 0) {
		free_lowers(tmp.lowers, tmp.nlowers);
		free(tmp.upper);
		free(tmp.work);
		free(tmp.source);
		free(tmp.fuse_opts);
		return r;
	}
	/* Commit: each field given replaces the old one. */
	if (tmp.lowers) {
		free_lowers(c->lowers, c->nlowers);
		c->lowers = tmp.lowers;
		c->nlowers = tmp.nlowers;
	}
#define TAKE_FIELD(f)                \
	if (tmp.f) {                 \
		free(c->f);          \
		c->f = tmp.f;        \
	}
	TAKE_FIELD(upper)
	TAKE_FIELD(work)
	TAKE_FIELD(source)
	TAKE_FIELD(fuse_opts)
#undef TAKE_FIELD
	c->fsync = tmp.fsync;
	c->writeback = tmp.writeback;
	c->uring = tmp.uring;
	c->dir_readahead = tmp.dir_readahead;
	c->dir_refresh = tmp.dir_refresh;
	c->volatile_ = tmp.volatile_;
	c->timeout = tmp.timeout;
	return 0;
}

static int parse_argv(struct lamina_union_config *c, int argc, char *const *argv,
		      enum lamina_union_action *action, struct lm_error *err)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "debug", no_argument, NULL, 'd' },
		{ "foreground", no_argument, NULL, 'f' },
		{},
	};
	int o;
	optind = 0; /* a full reset: the parser may run more than once per process */
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+hVdfso:", longopts, NULL)) >= 0) {
		int r;
		switch (o) {
		case 'h':
			*action = LAMINA_UNION_HELP;
			return 0;
		case 'V':
			*action = LAMINA_UNION_VERSION;
			return 0;
		case 'd':
			c->debug = true;
			c->foreground = true;
			break;
		case 'f':
			c->foreground = true;
			break;
		case 's':
			break; /* single-threaded was asked for; lamina's workers are safe */
		case 'o':
			r = lamina_union_config_parse_opts(c, optarg, err);
			if (r < 0)
				return r;
			break;
		default:
			if (optopt == 'o')
				return lm_err_plain(err, -EINVAL, "option '-o' needs a value");
			return lm_err_plain(err, -EINVAL, "unknown option '%s'", argv[optind - 1]);
		}
	}
	/* mount.fuse3 puts "-o OPTS" after the positional arguments. */
	int npos = 0;
	const char *pos[2];
	for (int i = optind; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			int r = lamina_union_config_parse_opts(c, argv[++i], err);
			if (r < 0)
				return r;
			continue;
		}
		if (npos == 2)
			return lm_err_plain(err, -EINVAL, "unexpected argument '%s'", argv[i]);
		pos[npos++] = argv[i];
	}
	if (npos == 0)
		return lm_err_plain(err, -EINVAL, "no mount point given");
	if (npos == 2 && !c->source && set_string(&c->source, pos[0], "source", err) < 0)
		return -ENOMEM;
	return set_string(&c->mountpoint, pos[npos - 1], "mountpoint", err);
}

int lamina_union_config_parse_args(int argc, char *const *argv, struct lamina_union_config **ret_config,
				   enum lamina_union_action *ret_action, struct lm_error *err)
{
	struct lamina_union_config *c = lamina_union_config_new();
	enum lamina_union_action action = LAMINA_UNION_MOUNT;
	if (!c)
		return lm_err(err, -ENOMEM, "options");
	int r = parse_argv(c, argc, argv, &action, err);
	if (r >= 0 && action == LAMINA_UNION_MOUNT && c->nlowers == 0)
		r = lm_err_plain(err, -EINVAL, "option 'lowerdir' is missing");
	if (r >= 0 && action == LAMINA_UNION_MOUNT && !!c->upper != !!c->work)
		r = lm_err_plain(err, -EINVAL, "options 'upperdir' and 'workdir' go together");
	if (r < 0) {
		lamina_union_config_free(c);
		return r;
	}
	*ret_config = c;
	*ret_action = action;
	return 0;
}

const char *lamina_union_usage(void)
{
	return "usage: lamina-fuse [-f] [-d] -o lowerdir=L1[:L2...][,upperdir=U,workdir=W][,OPTS] MOUNTPOINT\n"
	       "       lamina-fuse --help | --version\n"
	       "\n"
	       "A copy-on-write union of read-only lower directories (leftmost on top) and\n"
	       "one writable upper directory, in the kernel overlayfs's on-disk format.\n"
	       "Without upperdir the union is read-only.\n"
	       "\n"
	       "  -f              stay in the foreground\n"
	       "  -d, --debug     log every operation (implies -f)\n"
	       "  -o OPTS         lowerdir=, upperdir=, workdir=, volatile, fsync=0|1,\n"
	       "                  timeout=SECONDS (kernel cache timeout, default a day; 0 for\n"
	       "                  branches changed from outside), and mount options\n"
	       "                  (nodev, nosuid, noexec, ro, noatime, allow_other...)\n"
	       "\n"
	       "Unmount with 'fusermount3 -u MOUNTPOINT' or 'umount MOUNTPOINT'.\n";
}
