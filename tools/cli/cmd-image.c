/*
 * tools/cli/cmd-image.c: `lamina image` and its commands that manage the
 * set of images (import, ls, inspect, tag, rm); mount, unmount and export
 * are in cmd-image-data.c.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "image.h"

enum { OPT_NAME = 256, OPT_PLATFORM };

static const char import_usage[] =
	"Usage: lamina image import [--name NAME[:TAG]] [--platform OS/ARCH[/VARIANT]] [-q] FILE|DIR\n"
	"\n"
	"Imports the images of an OCI image layout (DIR), an oci-archive or a\n"
	"docker-archive (FILE; both 'docker save' forms), with plain, gzip or zstd\n"
	"layers, and prints each image's ID. Every blob is checked against its\n"
	"digest and every layer against the config's DiffIDs; layers already stored\n"
	"(same ChainID) are not stored again. A refused import changes nothing.\n"
	"\n"
	"  --name NAME[:TAG]        the image's name (default: the names the input gives)\n"
	"  --platform OS/ARCH       only that image of a multi-platform index\n"
	"  -q, --quiet              no progress on a terminal\n";

struct progress {
	struct timespec start;
};

static double elapsed(const struct progress *p)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - p->start.tv_sec) + (double)(now.tv_nsec - p->start.tv_nsec) / 1e9;
}

static void show_progress(const struct lamina_image_progress *p, void *arg)
{
	double secs = elapsed(arg);
	char bytes[32], rate[32];

	cli_format_size(p->bytes, bytes, sizeof(bytes));
	cli_format_size(secs > 0.001 ? (uint64_t)((double)p->bytes / secs) : p->bytes, rate, sizeof(rate));
	fprintf(stderr, "\rlayers %zu/%zu  %s  %s/s  %.19s", p->layers_done, p->n_layers, bytes, rate,
		p->layer ? p->layer : "");
	if (p->layers_done == p->n_layers)
		fputc('\n', stderr);
}

static int image_import(struct cli_ctx *ctx, int argc, char *argv[])
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, OPT_NAME }, { "platform", required_argument, NULL, OPT_PLATFORM },
		{ "quiet", no_argument, NULL, 'q' },	       { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lamina_image_import_opts o = { 0 };
	struct progress prog;
	struct lamina_image **images = NULL;
	struct lm_error err = { 0 };
	bool quiet = false;
	size_t n = 0;
	int c;

	while ((c = cli_getopt(ctx, argc, argv, "qh", opts, import_usage)) != -1) {
		if (c < 0)
			return CLI_OPT_STATUS(c);
		if (c == 'q')
			quiet = true;
		else if (c == OPT_NAME)
			o.name = optarg;
		else
			o.platform = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_error(ctx, "needs one FILE or DIR");
	if (!cli_store(ctx))
		return CLI_FAILED;
	if (!quiet && isatty(STDERR_FILENO)) {
		clock_gettime(CLOCK_MONOTONIC, &prog.start);
		o.progress = show_progress;
		o.progress_arg = &prog;
	}
	if (lamina_image_import(ctx->store, argv[optind], &o, &images, &n, &err) < 0)
		return cli_fail(&err);
	for (size_t i = 0; i < n; i++)
		puts(images[i]->id);
	lamina_image_list_free(images, n);
	return CLI_OK;
}

static const char ls_usage[] =
	"Usage: lamina image ls [-q] [--format table|json] [--no-trunc]\n"
	"\n"
	"Lists images: one line per name (an unnamed image once).\n"
	"\n"
	"  -q, --quiet            IDs only\n"
	"  --format table|json    an aligned table (default), or one JSON object a line\n"
	"  --no-trunc             full IDs in the table\n";

static void image_row(struct cli_table *t, const struct lamina_image *im, const char *name, bool trunc)
{
	char id[16], layers[16], size[32];

	snprintf(id, sizeof(id), "%.12s", im->id);
	snprintf(layers, sizeof(layers), "%zu", im->n_layers);
	cli_format_size(im->size, size, sizeof(size));
	cli_table_row(t, (const char *const[]){ name, trunc ? id : im->id, layers, size,
						im->created ? im->created : "" });
}

static void print_images(struct lamina_image **images, size_t n, bool quiet, bool json, bool trunc)
{
	static const char *const headers[] = { "NAME:TAG", "ID", "LAYERS", "SIZE", "CREATED" };
	struct cli_table *t;

	if (quiet || json) {
		for (size_t i = 0; i < n; i++)
			if (quiet)
				puts(images[i]->id);
			else
				cli_json_print(cli_image_json(images[i]), false);
		return;
	}
	t = cli_table_new(5, headers);
	for (size_t i = 0; i < n; i++) {
		image_row(t, images[i], images[i]->n_names ? images[i]->names[0] : "<none>", trunc);
		for (size_t j = 1; j < images[i]->n_names; j++)
			image_row(t, images[i], images[i]->names[j], trunc);
	}
	cli_table_print_free(t, stdout);
}

static int image_ls(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct lamina_image **images = NULL;
	struct lm_error err = { 0 };
	struct cli_ls_opts o;
	size_t n = 0;
	int r = cli_parse_ls(ctx, argc, argv, ls_usage, &o);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	if (lamina_image_list(ctx->store, &images, &n, &err) < 0)
		return cli_fail(&err);
	print_images(images, n, o.quiet, o.json, o.trunc);
	lamina_image_list_free(images, n);
	return CLI_OK;
}

static const char inspect_usage[] =
	"Usage: lamina image inspect IMAGE...\n"
	"\n"
	"Prints a JSON array describing each image (by NAME[:TAG] or ID): id, digest,\n"
	"names, its config, layers (ChainIDs, DiffIDs, blob digests, sizes), size.\n";

/* Parses no options but --help; 0 when at least one operand follows. */
static int operands_only(struct cli_ctx *ctx, int argc, char *argv[], const char *usage, int min, int max)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c = cli_getopt(ctx, argc, argv, "h", opts, usage);

	if (c != -1)
		return c < -1 ? c : CLI_OPT_ERROR;
	if (argc - optind < min || (max && argc - optind > max))
		return cli_usage_error(ctx, "wrong number of arguments"), CLI_OPT_ERROR;
	return 0;
}

static int image_inspect(struct cli_ctx *ctx, int argc, char *argv[])
{
	int r = operands_only(ctx, argc, argv, inspect_usage, 1, 0);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	return cli_inspect_operands(ctx, argc, argv, cli_image_describe);
}

static const char tag_usage[] =
	"Usage: lamina image tag IMAGE NAME[:TAG]\n"
	"\n"
	"Gives IMAGE another name (taken from any image that had it).\n";

static int image_tag(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct lm_error err = { 0 };
	int r = operands_only(ctx, argc, argv, tag_usage, 2, 2);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	if (lamina_image_tag(ctx->store, argv[optind], argv[optind + 1], &err) < 0)
		return cli_fail(&err);
	return CLI_OK;
}

static const char rm_usage[] =
	"Usage: lamina image rm IMAGE...\n"
	"\n"
	"Removes a name; an image's last name (or its ID) removes the image and the\n"
	"layers no other image or container layer uses.\n";

static int image_rm(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct lm_error err = { 0 };
	int r = operands_only(ctx, argc, argv, rm_usage, 1, 0), status = CLI_OK;

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	for (int i = optind; i < argc; i++) {
		size_t removed = 0;
		if (lamina_image_remove(ctx->store, argv[i], &removed, &err) < 0)
			status = cli_fail(&err);
		else
			printf("%s (%zu layers removed)\n", argv[i], removed);
	}
	return status;
}

static const struct cli_command commands[] = {
	{ "import", "load", image_import, "import images from a layout, oci-archive or docker-archive" },
	{ "ls", "list", image_ls, "list images" },
	{ "inspect", NULL, image_inspect, "describe images as JSON" },
	{ "tag", NULL, image_tag, "give an image another name" },
	{ "rm", "remove", image_rm, "remove images and the layers only they use" },
	{ "mount", NULL, cli_image_mount, "mount an image's root file system" },
	{ "unmount", "umount", cli_image_unmount, "take a use of an image's mount away" },
	{ "export", "save", cli_image_export, "write an image as an oci-archive" },
};

int cli_image(struct cli_ctx *ctx, int argc, char *argv[])
{
	return cli_dispatch(ctx, "image", commands, sizeof(commands) / sizeof(commands[0]), argc, argv);
}
