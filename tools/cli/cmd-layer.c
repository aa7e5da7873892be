/*
 * tools/cli/cmd-layer.c: `lamina layer` and its commands that manage the set
 * of layers (import, create, ls, inspect, rm); the ones that work on one
 * layer's tree are in cmd-layer-data.c.
 */
#include <getopt.h>
#include <unistd.h>

#include "layer.h"

/* The options import and create share. */
struct layer_args {
	struct lamina_layer_create_opts o;
	const char **names;
};

enum { OPT_PARENT = 256, OPT_NAME, OPT_ID, OPT_RW };

/* Takes one --parent/--name/--id/--rw option into a; false if c is not one. */
static bool layer_arg(struct layer_args *a, int c)
{
	switch (c) {
	case OPT_PARENT:
		a->o.parent = optarg;
		return true;
	case OPT_NAME:
		cli_strv_push(&a->names, &a->o.n_names, optarg);
		a->o.names = a->names;
		return true;
	case OPT_ID:
		a->o.id = optarg;
		return true;
	case OPT_RW:
		a->o.read_write = true;
		return true;
	default:
		return false;
	}
}

/* Prints the new layer's ID, frees it, and returns the exit status. */
static int print_new_layer(struct lamina_layer *l, int r, const struct lm_error *err)
{
	if (r < 0)
		return cli_fail(err);
	puts(l->id);
	lamina_layer_free(l);
	return CLI_OK;
}

static const char import_usage[] =
	"Usage: lamina layer import [--parent LAYER] [--name NAME]... [--id ID] FILE|-\n"
	"\n"
	"Creates a layer from a layer tar (plain, gzip, zstd, xz: detected), on top of\n"
	"LAYER if given, and prints its ID. OCI whiteouts become the overlay form; the\n"
	"DiffID and per-file hashes are recorded. A hostile tar is refused whole.\n";

static int layer_import(struct cli_ctx *ctx, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, OPT_PARENT }, { "name", required_argument, NULL, OPT_NAME },
		{ "id", required_argument, NULL, OPT_ID },	   { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct layer_args a = { 0 };
	struct lamina_layer *l = NULL;
	struct lm_error err = { 0 };
	int c, fd, r, status = CLI_FAILED;

	while ((c = cli_getopt(ctx, argc, argv, "h", opts, import_usage)) != -1)
		if (c < 0 || !layer_arg(&a, c)) {
			free(a.names);
			return CLI_OPT_STATUS(c);
		}
	if (argc - optind != 1) {
		free(a.names);
		return cli_usage_error(ctx, "needs one FILE (or - for standard input)");
	}
	if (cli_store(ctx) && (fd = cli_open_input(ctx, argv[optind])) >= 0) {
		r = lamina_layer_import(ctx->store, &a.o, fd, &l, &err);
		if (fd != STDIN_FILENO)
			close(fd);
		status = print_new_layer(l, r, &err);
	}
	free(a.names);
	return status;
}

static const char create_usage[] =
	"Usage: lamina layer create [--parent LAYER] [--name NAME]... [--id ID] [--rw]\n"
	"\n"
	"Creates an empty layer on top of LAYER if given, and prints its ID; with --rw,\n"
	"a container layer, whose mount is writable.\n";

static int layer_create(struct cli_ctx *ctx, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "parent", required_argument, NULL, OPT_PARENT }, { "name", required_argument, NULL, OPT_NAME },
		{ "id", required_argument, NULL, OPT_ID },	   { "rw", no_argument, NULL, OPT_RW },
		{ "help", no_argument, NULL, 'h' },		   { 0 },
	};
	struct layer_args a = { 0 };
	struct lamina_layer *l = NULL;
	struct lm_error err = { 0 };
	int c, r, status = CLI_FAILED;

	while ((c = cli_getopt(ctx, argc, argv, "h", opts, create_usage)) != -1)
		if (c < 0 || !layer_arg(&a, c)) {
			free(a.names);
			return CLI_OPT_STATUS(c);
		}
	if (optind != argc) {
		free(a.names);
		return cli_usage_error(ctx, "takes no arguments");
	}
	if (cli_store(ctx)) {
		r = lamina_layer_create(ctx->store, &a.o, &l, &err);
		status = print_new_layer(l, r, &err);
	}
	free(a.names);
	return status;
}

static const char ls_usage[] =
	"Usage: lamina layer ls [-q] [--format table|json] [--no-trunc]\n"
	"\n"
	"Lists layers, parents before children.\n"
	"\n"
	"  -q, --quiet            IDs only\n"
	"  --format table|json    an aligned table (default), or one JSON object a line\n"
	"  --no-trunc             full IDs in the table\n";

/* Joins the names with commas into buf. */
static void join_names(const struct lamina_layer *l, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n_names && used < size; i++)
		used += snprintf(buf + used, size - used, "%s%s", i ? "," : "", l->names[i]);
}

static void print_layers(struct lamina_layer **layers, size_t n, bool quiet, bool json, bool trunc)
{
	static const char *const headers[] = { "ID", "PARENT", "NAMES", "TYPE", "SIZE", "CREATED" };
	struct cli_table *t;

	if (quiet || json) {
		for (size_t i = 0; i < n; i++)
			if (quiet)
				puts(layers[i]->id);
			else
				cli_json_print(cli_layer_json(layers[i]), false);
		return;
	}
	t = cli_table_new(6, headers);
	for (size_t i = 0; i < n; i++) {
		const struct lamina_layer *l = layers[i];
		char id[16], parent[16], names[256], size[32], created[64];

		snprintf(id, sizeof(id), "%.12s", l->id);
		snprintf(parent, sizeof(parent), "%.12s", l->parent ? l->parent : "");
		join_names(l, names, sizeof(names));
		cli_format_size(l->size, size, sizeof(size));
		cli_format_time(l->created, created, sizeof(created));
		cli_table_row(t, (const char *const[]){ trunc ? id : l->id, trunc ? parent : l->parent, names,
							l->read_write ? "rw" : "ro", size, created });
	}
	cli_table_print_free(t, stdout);
}

static int layer_ls(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct lamina_layer **layers = NULL;
	struct lm_error err = { 0 };
	struct cli_ls_opts o;
	size_t n = 0;
	int r = cli_parse_ls(ctx, argc, argv, ls_usage, &o);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	if (lamina_layer_list(ctx->store, &layers, &n, &err) < 0)
		return cli_fail(&err);
	print_layers(layers, n, o.quiet, o.json, o.trunc);
	lamina_layer_list_free(layers, n);
	return CLI_OK;
}

static const char inspect_usage[] =
	"Usage: lamina layer inspect LAYER...\n"
	"\n"
	"Prints a JSON array describing each layer (by ID or name), with\n"
	"containers/storage's key names: id, names, parent, created, diff-digest,\n"
	"compressed-diff-digest, compressed-size, diff-size, compression; and size,\n"
	"depth, read-write, diff-dir, mountpoint, users.\n";

static int layer_inspect(struct cli_ctx *ctx, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = cli_getopt(ctx, argc, argv, "h", opts, inspect_usage)) != -1)
		return CLI_OPT_STATUS(c);
	if (optind >= argc)
		return cli_usage_error(ctx, "needs at least one LAYER");
	return cli_inspect_operands(ctx, argc, argv, cli_layer_describe);
}

static const char rm_usage[] =
	"Usage: lamina layer rm LAYER...\n"
	"\n"
	"Removes layers and their files. A layer that is mounted, or that another\n"
	"layer has as parent, is refused.\n";

static int layer_rm(struct cli_ctx *ctx, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c, status = CLI_OK;

	while ((c = cli_getopt(ctx, argc, argv, "h", opts, rm_usage)) != -1)
		return CLI_OPT_STATUS(c);
	if (optind >= argc)
		return cli_usage_error(ctx, "needs at least one LAYER");
	if (!cli_store(ctx))
		return CLI_FAILED;
	for (int i = optind; i < argc; i++) {
		struct lm_error err = { 0 };

		if (lamina_layer_remove(ctx->store, argv[i], &err) < 0)
			status = cli_fail(&err);
		else
			puts(argv[i]);
	}
	return status;
}

static const struct cli_command layer_commands[] = {
	{ "import", NULL, layer_import, "create a layer from a tar" },
	{ "create", NULL, layer_create, "create an empty layer" },
	{ "ls", "list", layer_ls, "list layers" },
	{ "inspect", NULL, layer_inspect, "describe layers as JSON" },
	{ "rm", "remove", layer_rm, "remove layers" },
	{ "mount", NULL, cli_layer_mount, "mount a layer's chain and print the path" },
	{ "unmount", "umount", cli_layer_unmount, "release a mount of a layer" },
	{ "changes", "diff", cli_layer_changes, "list a layer's changes against its parent" },
	{ "export", NULL, cli_layer_export, "write a layer's changes as an OCI layer tar" },
	{ "diff-size", NULL, cli_layer_diff_size, "print the bytes of a layer's own files" },
	{ "verify", NULL, cli_layer_verify, "check a layer's files against their recorded hashes" },
};

int cli_layer(struct cli_ctx *ctx, int argc, char *argv[])
{
	return cli_dispatch(ctx, "layer", layer_commands, sizeof(layer_commands) / sizeof(layer_commands[0]), argc,
			    argv);
}
