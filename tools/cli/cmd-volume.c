/*
 * tools/cli/cmd-volume.c: `lamina volume` and its commands that manage the
 * set of volumes (create, ls, inspect, rm, prune); the ones that work on a
 * volume's data are in cmd-volume-data.c. Output follows `docker volume`.
 */
#include <getopt.h>

#include "volume.h"

static const char create_usage[] =
	"Usage: lamina volume create [OPTIONS] [NAME]\n"
	"\n"
	"Creates a volume; without NAME, an anonymous one with a random name.\n"
	"Prints the volume's name.\n"
	"\n"
	"  -d, --driver local     the driver (only \"local\")\n"
	"  -o, --opt KEY=VALUE    driver option: type, device, o, size\n"
	"                         (tmpfs: -o type=tmpfs -o o=size=64m,mode=0755;\n"
	"                          bind: -o type=none -o o=bind -o device=/path)\n"
	"  --label KEY=VALUE      a label (repeatable)\n";

static int volume_create(struct cli_ctx *ctx, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "driver", required_argument, NULL, 'd' }, { "opt", required_argument, NULL, 'o' },
		{ "label", required_argument, NULL, 'l' },  { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lamina_volume_create_opts o = { 0 };
	struct lamina_kv *options = NULL, *labels = NULL;
	struct lamina_volume *v = NULL;
	struct lm_error err = { 0 };
	int c, r, status = CLI_USAGE;

	while ((c = cli_getopt(ctx, argc, argv, "d:o:l:h", opts, create_usage)) != -1) {
		if (c < 0) {
			status = CLI_OPT_STATUS(c);
			goto out;
		}
		if (c == 'd') {
			o.driver = optarg;
		} else if (!(c == 'o' ? cli_kv_push(&options, &o.n_options, optarg, true)
				      : cli_kv_push(&labels, &o.n_labels, optarg, false))) {
			cli_usage_error(ctx, "'%s' is not KEY=VALUE", optarg);
			goto out;
		}
	}
	if (argc - optind > 1) {
		cli_usage_error(ctx, "takes at most one NAME");
		goto out;
	}
	o.name = optind < argc ? argv[optind] : NULL;
	o.options = options;
	o.labels = labels;
	status = CLI_FAILED;
	if (!cli_store(ctx))
		goto out;
	r = lamina_volume_create(ctx->store, &o, &v, &err);
	if (r < 0) {
		cli_fail(&err);
		goto out;
	}
	if (r == 1)
		fprintf(stderr, "lamina: volume '%s' already exists, with the same options\n", v->name);
	puts(v->name);
	status = CLI_OK;
out:
	lamina_volume_free(v);
	cli_kv_array_free(options, o.n_options);
	cli_kv_array_free(labels, o.n_labels);
	return status;
}

static const char ls_usage[] =
	"Usage: lamina volume ls [OPTIONS]\n"
	"\n"
	"Lists volumes.\n"
	"\n"
	"  -q, --quiet            names only\n"
	"  --format table|json    an aligned table (default), or one JSON object a line\n"
	"  -f, --filter FILTER    dangling=true|false, name=SUBSTRING, driver=local,\n"
	"                         label=KEY[=VALUE], label!=KEY[=VALUE] (repeatable)\n";

static void print_volumes(struct lamina_volume **v, size_t n, bool quiet, bool json)
{
	static const char *const headers[] = { "DRIVER", "VOLUME NAME" };
	struct cli_table *t;

	if (quiet || json) {
		for (size_t i = 0; i < n; i++)
			if (quiet)
				puts(v[i]->name);
			else
				cli_json_print(cli_volume_ls_json(v[i]), false);
		return;
	}
	t = cli_table_new(2, headers);
	for (size_t i = 0; i < n; i++)
		cli_table_row(t, (const char *const[]){ v[i]->driver, v[i]->name });
	cli_table_print_free(t, stdout);
}

static int volume_ls(struct cli_ctx *ctx, int argc, char *argv[])
{
	enum { OPT_FORMAT = 256 };
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },  { "format", required_argument, NULL, OPT_FORMAT },
		{ "filter", required_argument, NULL, 'f' }, { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char **filters = NULL;
	size_t n_filters = 0, n = 0;
	struct lamina_volume **volumes = NULL;
	struct lm_error err = { 0 };
	bool quiet = false, json = false;
	int c, status = CLI_FAILED;

	while ((c = cli_getopt(ctx, argc, argv, "qf:h", opts, ls_usage)) != -1) {
		if (c < 0) {
			free(filters);
			return CLI_OPT_STATUS(c);
		}
		if (c == 'q')
			quiet = true;
		else if (c == 'f')
			cli_strv_push(&filters, &n_filters, optarg);
		else if (!cli_parse_format(ctx, optarg, &json)) {
			free(filters);
			return CLI_USAGE;
		}
	}
	if (optind < argc) {
		free(filters);
		return cli_usage_error(ctx, "takes no arguments");
	}
	if (cli_store(ctx)) {
		if (lamina_volume_list(ctx->store, filters, n_filters, &volumes, &n, &err) < 0) {
			cli_fail(&err);
		} else {
			print_volumes(volumes, n, quiet, json);
			status = CLI_OK;
		}
	}
	lamina_volume_list_free(volumes, n);
	free(filters);
	return status;
}

static const char inspect_usage[] =
	"Usage: lamina volume inspect [--format json] NAME...\n"
	"\n"
	"Prints a JSON array describing each volume: Name, Driver, Mountpoint,\n"
	"CreatedAt, Labels, Scope, Options, and Status (Mounted, Users).\n";

static int volume_inspect(struct cli_ctx *ctx, int argc, char *argv[])
{
	enum { OPT_FORMAT = 256 };
	static const struct option opts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;
	bool json = true;

	while ((c = cli_getopt(ctx, argc, argv, "f:h", opts, inspect_usage)) != -1) {
		if (c < 0)
			return CLI_OPT_STATUS(c);
		if (!cli_parse_format(ctx, optarg, &json) || !json)
			return json ? CLI_USAGE : cli_usage_error(ctx, "prints JSON only");
	}
	if (optind >= argc)
		return cli_usage_error(ctx, "needs at least one NAME");
	return cli_inspect_operands(ctx, argc, argv, cli_volume_describe);
}

static const char rm_usage[] =
	"Usage: lamina volume rm [-f] NAME...\n"
	"\n"
	"Removes volumes and their data. A volume in use is refused unless -f,\n"
	"which unmounts it and forgets its users.\n"
	"\n"
	"  -f, --force    remove volumes in use too\n";

static int volume_rm(struct cli_ctx *ctx, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool force = false;
	int c, status = CLI_OK;

	while ((c = cli_getopt(ctx, argc, argv, "fh", opts, rm_usage)) != -1) {
		if (c < 0)
			return CLI_OPT_STATUS(c);
		force = true;
	}
	if (optind >= argc)
		return cli_usage_error(ctx, "needs at least one NAME");
	if (!cli_store(ctx))
		return CLI_FAILED;
	for (int i = optind; i < argc; i++) {
		struct lm_error err = { 0 };

		if (lamina_volume_remove(ctx->store, argv[i], force, &err) < 0)
			status = cli_fail(&err);
		else
			puts(argv[i]);
	}
	return status;
}

static const char prune_usage[] =
	"Usage: lamina volume prune [OPTIONS]\n"
	"\n"
	"Removes unused anonymous volumes; with --all, every unused volume.\n"
	"\n"
	"  -a, --all              every unused volume, named ones too\n"
	"  -f, --force            do not ask for confirmation\n"
	"  --filter FILTER        label=KEY[=VALUE], label!=KEY[=VALUE] (repeatable)\n";

static void print_pruned(const struct lamina_volume_prune_result *res)
{
	char size[32];

	if (res->n_names > 0) {
		puts("Deleted Volumes:");
		for (size_t i = 0; i < res->n_names; i++)
			puts(res->names[i]);
		putchar('\n');
	}
	cli_format_size(res->reclaimed, size, sizeof(size));
	printf("Total reclaimed space: %s\n", size);
}

static int volume_prune(struct cli_ctx *ctx, int argc, char *argv[])
{
	enum { OPT_FILTER = 256 };
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },	{ "force", no_argument, NULL, 'f' },
		{ "filter", required_argument, NULL, OPT_FILTER }, { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lamina_volume_prune_result res = { 0 };
	struct lm_error err = { 0 };
	const char **filters = NULL;
	size_t n_filters = 0;
	bool all = false, force = false;
	int c, status = CLI_FAILED;

	while ((c = cli_getopt(ctx, argc, argv, "afh", opts, prune_usage)) != -1) {
		if (c < 0) {
			free(filters);
			return CLI_OPT_STATUS(c);
		}
		if (c == 'a')
			all = true;
		else if (c == 'f')
			force = true;
		else
			cli_strv_push(&filters, &n_filters, optarg);
	}
	if (optind < argc) {
		free(filters);
		return cli_usage_error(ctx, "takes no arguments");
	}
	if (!force && !cli_confirm(all ? "WARNING! This will remove all local volumes not in use.\n"
					 "Are you sure you want to continue?"
				       : "WARNING! This will remove anonymous local volumes not in use.\n"
					 "Are you sure you want to continue?")) {
		free(filters);
		return CLI_OK;
	}
	if (cli_store(ctx)) {
		if (lamina_volume_prune(ctx->store, all, filters, n_filters, &res, &err) < 0) {
			cli_fail(&err);
		} else {
			print_pruned(&res);
			status = CLI_OK;
		}
	}
	lamina_volume_prune_result_release(&res);
	free(filters);
	return status;
}

static const struct cli_command volume_commands[] = {
	{ "create", NULL, volume_create, "create a volume" },
	{ "ls", "list", volume_ls, "list volumes" },
	{ "inspect", NULL, volume_inspect, "describe volumes as JSON" },
	{ "rm", "remove", volume_rm, "remove volumes" },
	{ "prune", NULL, volume_prune, "remove unused volumes" },
	{ "mount", NULL, cli_volume_mount, "mount a volume and print its path" },
	{ "unmount", "umount", cli_volume_unmount, "release a mount of a volume" },
	{ "export", NULL, cli_volume_export, "write a volume's content as a tar" },
	{ "import", NULL, cli_volume_import, "fill a volume from a tar" },
	{ "clone", NULL, cli_volume_clone, "copy a volume (reflink where possible)" },
	{ "exists", NULL, cli_volume_exists, "exit 0 when a volume exists, 1 otherwise" },
};

int cli_volume(struct cli_ctx *ctx, int argc, char *argv[])
{
	return cli_dispatch(ctx, "volume", volume_commands, sizeof(volume_commands) / sizeof(volume_commands[0]), argc,
			    argv);
}
