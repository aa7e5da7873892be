/*
 * tools/cli/mount.c: what `lamina layer mount/unmount` and `lamina image
 * mount/unmount` share: their options (--rw, --backend, --id, DIR), the
 * container layer --rw makes (its ID on standard error), and the mount
 * with the mount point printed.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_mount_parse(struct cli_ctx *ctx, int argc, char *argv[], const char *usage, const char *what,
		    struct cli_mount_args *a)
{
	enum { OPT_RW = 256, OPT_BACKEND, OPT_ID };
	static const struct option opts[] = {
		{ "rw", no_argument, NULL, OPT_RW },	       { "backend", required_argument, NULL, OPT_BACKEND },
		{ "id", required_argument, NULL, OPT_ID }, { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = cli_getopt(ctx, argc, argv, "h", opts, usage)) != -1) {
		if (c < 0)
			return c;
		if (c == OPT_RW)
			a->rw = true;
		else if (c == OPT_ID)
			a->o.caller = optarg;
		else if (strcmp(optarg, "fuse") == 0 || strcmp(optarg, "kernel") == 0)
			a->o.backend = optarg[0] == 'k' ? LAMINA_BACKEND_KERNEL : LAMINA_BACKEND_FUSE;
		else
			return cli_usage_error(ctx, "unknown backend '%s' (fuse or kernel)", optarg), CLI_OPT_ERROR;
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage_error(ctx, "needs %s and at most one DIR", what), CLI_OPT_ERROR;
	a->o.target = argc - optind == 2 ? argv[optind + 1] : NULL;
	return 0;
}

/* With --rw: the container layer on top of parent, whose ID is then *ret_id. */
static int make_container_layer(struct cli_ctx *ctx, const char *parent, char **ret_id)
{
	struct lamina_layer_create_opts o = { .parent = parent, .read_write = true };
	struct lamina_layer *l = NULL;
	struct lm_error err = { 0 };

	if (lamina_layer_create(ctx->store, &o, &l, &err) < 0)
		return cli_fail(&err);
	*ret_id = strdup(l->id);
	lamina_layer_free(l);
	if (!*ret_id)
		return CLI_FAILED;
	fprintf(stderr, "container layer: %s\n", *ret_id);
	return CLI_OK;
}

int cli_mount_layer(struct cli_ctx *ctx, const char *layer, const struct cli_mount_args *a)
{
	struct lm_error err = { 0 };
	char *path = NULL, *made = NULL;
	int r;

	if (a->rw && make_container_layer(ctx, layer, &made) != CLI_OK)
		return CLI_FAILED;
	r = lamina_layer_mount(ctx->store, made ? made : layer, &a->o, &path, &err);
	if (r < 0) {
		cli_fail(&err);
		if (made && lamina_layer_remove(ctx->store, made, &err) < 0)
			cli_fail(&err);
	} else {
		puts(path);
	}
	free(path);
	free(made);
	return r < 0 ? CLI_FAILED : CLI_OK;
}

int cli_parse_caller(struct cli_ctx *ctx, int argc, char *argv[], const char *usage, const char *what,
		      const char **ret_caller)
{
	enum { OPT_ID = 256 };
	static const struct option opts[] = {
		{ "id", required_argument, NULL, OPT_ID },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = cli_getopt(ctx, argc, argv, "h", opts, usage)) != -1) {
		if (c < 0)
			return c;
		*ret_caller = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_error(ctx, "needs one %s", what), CLI_OPT_ERROR;
	return 0;
}
