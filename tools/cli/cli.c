/*
 * tools/cli/cli.c: the top level of `lamina`: global options (--root,
 * --help, --version), the group table, dispatching to a subcommand, the
 * store opened on demand, and the error printers every command uses.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
	"Usage: lamina [--root DIR] COMMAND ...\n"
	"\n"
	"Container storage: named volumes, image layers, and a FUSE union file system.\n"
	"\n"
	"Options:\n"
	"  --root DIR     state folder (default $LAMINA_ROOT, else " LAMINA_DEFAULT_ROOT ")\n"
	"  -h, --help     show this help\n"
	"  --version      show the version\n"
	"\n"
	"Commands:\n"
	"  volume         manage volumes (create, ls, inspect, rm, prune, mount, unmount,\n"
	"                 export, import, clone)\n"
	"  layer          manage layers (import, create, ls, inspect, rm, mount, unmount,\n"
	"                 changes, export, diff-size, verify)\n"
	"  image          manage images (import, ls, inspect, tag, rm, mount, unmount,\n"
	"                 export)\n"
	"  check          compare the database with the folders and mounts; --repair fixes\n"
	"\n"
	"Run 'lamina COMMAND --help' for more about a command.\n";

static const struct cli_command groups[] = {
	{ "volume", NULL, cli_volume, "manage volumes" },
	{ "layer", NULL, cli_layer, "manage image and container layers" },
	{ "image", NULL, cli_image, "import, mount and export images" },
	{ "check", NULL, cli_check, "check and repair the store" },
};

struct lamina_store *cli_store(struct cli_ctx *ctx)
{
	struct lm_error err = { 0 };

	if (!ctx->store && lamina_store_open(ctx->root, &ctx->store, &err) < 0)
		cli_fail(&err);
	return ctx->store;
}

int cli_fail(const struct lm_error *err)
{
	fprintf(stderr, "lamina: %s\n", err->msg[0] ? err->msg : "failed");
	return CLI_FAILED;
}

int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lamina: %s: ", ctx->command);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nSee 'lamina %s --help'.\n", ctx->command);
	return CLI_USAGE;
}

static const struct cli_command *find_command(const struct cli_command *table, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].name, name) == 0 || (table[i].alias && strcmp(table[i].alias, name) == 0))
			return &table[i];
	return NULL;
}

static void print_group_usage(FILE *out, const char *group, const struct cli_command *table, size_t n)
{
	fprintf(out, "Usage: lamina %s COMMAND ...\n\nCommands:\n", group);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %-10s %s\n", table[i].name, table[i].summary);
	fprintf(out, "\nRun 'lamina %s COMMAND --help' for more about a command.\n", group);
}

int cli_dispatch(struct cli_ctx *ctx, const char *group, const struct cli_command *table, size_t n, int argc,
		 char *argv[])
{
	const struct cli_command *cmd;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		print_group_usage(argc < 2 ? stderr : stdout, group, table, n);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	cmd = find_command(table, n, argv[1]);
	if (!cmd) {
		fprintf(stderr, "lamina: %s: unknown command '%s'\nSee 'lamina %s --help'.\n", group, argv[1], group);
		return CLI_USAGE;
	}
	snprintf(ctx->command_buf, sizeof(ctx->command_buf), "%s %s", group, cmd->name);
	ctx->command = ctx->command_buf;
	optind = 0;
	return cmd->run(ctx, argc - 1, argv + 1);
}

int cli_getopt(const struct cli_ctx *ctx, int argc, char *argv[], const char *shortopts, const struct option *opts,
	       const char *usage)
{
	int c;

	opterr = 0; /* getopt would name the subcommand as the program */
	c = getopt_long(argc, argv, shortopts, opts, NULL);
	if (c == 'h') {
		fputs(usage, stdout);
		return CLI_OPT_HELP;
	}
	if (c == '?') {
		cli_usage_error(ctx, "unknown option or missing value: '%s'", argv[optind - 1]);
		return CLI_OPT_ERROR;
	}
	return c;
}

int cli_parse_ls(struct cli_ctx *ctx, int argc, char *argv[], const char *usage, struct cli_ls_opts *ret)
{
	enum { OPT_FORMAT = 256, OPT_NO_TRUNC };
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },	     { "format", required_argument, NULL, OPT_FORMAT },
		{ "no-trunc", no_argument, NULL, OPT_NO_TRUNC }, { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*ret = (struct cli_ls_opts){ .trunc = true };
	while ((c = cli_getopt(ctx, argc, argv, "qh", opts, usage)) != -1) {
		if (c < 0)
			return c;
		if (c == 'q')
			ret->quiet = true;
		else if (c == OPT_NO_TRUNC)
			ret->trunc = false;
		else if (!cli_parse_format(ctx, optarg, &ret->json))
			return CLI_OPT_ERROR;
	}
	if (optind < argc)
		return cli_usage_error(ctx, "takes no arguments"), CLI_OPT_ERROR;
	return 0;
}

int cli_inspect_operands(struct cli_ctx *ctx, int argc, char *argv[], cli_describe_fn describe)
{
	int status = CLI_OK;
	json_t *all;

	if (!cli_store(ctx))
		return CLI_FAILED;
	all = json_array();
	for (int i = optind; i < argc; i++) {
		struct lm_error err = { 0 };
		json_t *one = describe(ctx->store, argv[i], &err);

		if (one)
			json_array_append_new(all, one);
		else
			status = cli_fail(&err);
	}
	cli_json_print(all, true);
	return status;
}

/* Parses the options before the command; returns the index of the command,
 * or -1 with *ret_status set when the run ends here. */
static int parse_global(struct cli_ctx *ctx, int argc, char *argv[], int *ret_status)
{
	enum { OPT_ROOT = 256, OPT_VERSION };
	static const struct option opts[] = {
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT:
			ctx->root = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			*ret_status = CLI_OK;
			return -1;
		case OPT_VERSION:
			printf("lamina version %s\n", lamina_version());
			*ret_status = CLI_OK;
			return -1;
		default:
			fputs("See 'lamina --help'.\n", stderr);
			*ret_status = CLI_USAGE;
			return -1;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		*ret_status = CLI_USAGE;
		return -1;
	}
	return optind;
}

int cli_main(int argc, char *argv[])
{
	struct cli_ctx ctx = { .command = "lamina" };
	const struct cli_command *group;
	int status = CLI_USAGE, first = parse_global(&ctx, argc, argv, &status);

	if (first < 0)
		return status;
	group = find_command(groups, sizeof(groups) / sizeof(groups[0]), argv[first]);
	if (!group) {
		fprintf(stderr, "lamina: unknown command '%s'\nSee 'lamina --help'.\n", argv[first]);
		return CLI_USAGE;
	}
	ctx.command = group->name;
	optind = 0; /* each command parses its own options from a fresh start */
	status = group->run(&ctx, argc - first, argv + first);
	lamina_store_close(ctx.store);
	return status;
}
