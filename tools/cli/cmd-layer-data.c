/*
 * tools/cli/cmd-layer-data.c: the `lamina layer` commands that work on one
 * layer's tree: mount, unmount, changes, export, diff-size, verify.
 */
#include <getopt.h>
#include <inttypes.h>

#include "layer.h"

static const char mount_usage[] =
	"Usage: lamina layer mount [--rw] [--backend fuse|kernel] [--id CALLER] LAYER [DIR]\n"
	"\n"
	"Mounts the layer's chain as one tree (at DIR, or in the store) and prints the\n"
	"mount point. Counted per CALLER (default \"" LAMINA_VOLUME_DEFAULT_CALLER "\"): mounted at the first\n"
	"use, unmounted at the last 'lamina layer unmount'.\n"
	"\n"
	"  --rw                     a new container layer on top of LAYER, mounted\n"
	"                           writable; its ID is printed on standard error\n"
	"  --backend fuse|kernel    lamina-fuse (default), or the kernel's overlayfs\n"
	"  --id CALLER              who holds the mount\n";

int cli_layer_mount(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct cli_mount_args a = { 0 };
	int r = cli_mount_parse(ctx, argc, argv, mount_usage, "LAYER", &a);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	return cli_mount_layer(ctx, argv[optind], &a);
}

static const char unmount_usage[] =
	"Usage: lamina layer unmount [--id CALLER] LAYER\n"
	"\n"
	"Takes one use of the layer's mount away from CALLER; unmounts at the last.\n";

int cli_layer_unmount(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct lm_error err = { 0 };
	const char *caller = NULL;
	int r = cli_parse_caller(ctx, argc, argv, unmount_usage, "LAYER", &caller);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	if (lamina_layer_unmount(ctx->store, argv[optind], caller, &err) < 0)
		return cli_fail(&err);
	return CLI_OK;
}

/* Parses "LAYER" alone (with --help); the layer is argv[optind]. */
static int parse_layer_only(struct cli_ctx *ctx, int argc, char *argv[], const char *usage)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c = cli_getopt(ctx, argc, argv, "h", opts, usage);

	if (c != -1)
		return c < -1 ? c : CLI_OPT_ERROR;
	if (argc - optind != 1)
		return cli_usage_error(ctx, "needs one LAYER"), CLI_OPT_ERROR;
	return cli_store(ctx) ? 0 : -1;
}

/* The exit status parse_layer_only's answer r asks for (r < 0). */
static int parse_status(int r)
{
	return r == -1 ? CLI_FAILED : CLI_OPT_STATUS(r);
}

static const char changes_usage[] =
	"Usage: lamina layer changes LAYER\n"
	"\n"
	"Lists the layer's changes against its parent, one a line, as 'docker diff':\n"
	"A (added), C (changed), D (deleted), then the path.\n";

int cli_layer_changes(struct cli_ctx *ctx, int argc, char *argv[])
{
	static const char kinds[] = { [LAMINA_CHANGE_MODIFIED] = 'C', [LAMINA_CHANGE_ADDED] = 'A',
				      [LAMINA_CHANGE_DELETED] = 'D' };
	struct lamina_layer_change *changes = NULL;
	struct lm_error err = { 0 };
	size_t n = 0;
	int r = parse_layer_only(ctx, argc, argv, changes_usage);

	if (r < 0)
		return parse_status(r);
	if (lamina_layer_changes(ctx->store, argv[optind], &changes, &n, &err) < 0)
		return cli_fail(&err);
	for (size_t i = 0; i < n; i++)
		printf("%c %s\n", kinds[changes[i].kind], changes[i].path);
	lamina_layer_changes_free(changes, n);
	return CLI_OK;
}

static const char export_usage[] =
	"Usage: lamina layer export [-o FILE] LAYER\n"
	"\n"
	"Writes the layer's changes against its parent as an OCI layer tar (whiteouts\n"
	"as .wh. entries) to FILE or standard output; the same layer always gives the\n"
	"same bytes. FILE appears only once the whole tar is written.\n";

int cli_layer_export(struct cli_ctx *ctx, int argc, char *argv[])
{
	return cli_export(ctx, argc, argv, export_usage, lamina_layer_diff);
}

static const char diff_size_usage[] =
	"Usage: lamina layer diff-size LAYER\n"
	"\n"
	"Prints the bytes of file data in the layer's own folder.\n";

int cli_layer_diff_size(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct lm_error err = { 0 };
	uint64_t size;
	int r = parse_layer_only(ctx, argc, argv, diff_size_usage);

	if (r < 0)
		return parse_status(r);
	if (lamina_layer_diff_size(ctx->store, argv[optind], &size, &err) < 0)
		return cli_fail(&err);
	printf("%" PRIu64 "\n", size);
	return CLI_OK;
}

static const char verify_usage[] =
	"Usage: lamina layer verify LAYER\n"
	"\n"
	"Checks the layer's files against the hashes recorded when its tar was\n"
	"applied; prints each file changed, missing or added. Exits 1 if any.\n";

int cli_layer_verify(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct lamina_check_report report = { 0 };
	struct lm_error err = { 0 };
	int r = parse_layer_only(ctx, argc, argv, verify_usage);
	size_t n;

	if (r < 0)
		return parse_status(r);
	if (lamina_layer_verify(ctx->store, argv[optind], &report, &err) < 0)
		return cli_fail(&err);
	for (size_t i = 0; i < report.n_problems; i++)
		puts(report.problems[i].what);
	if (report.n_problems == 0)
		printf("layer '%s': verified\n", argv[optind]);
	n = report.n_problems;
	lamina_check_report_release(&report);
	return n ? CLI_FAILED : CLI_OK;
}
