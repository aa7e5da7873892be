/*
 * tools/cli/cmd-image-data.c: the `lamina image` commands that work on an
 * image's tree: mount, unmount, export. Mounting an image mounts its top
 * layer's chain (tools/cli/mount.c, shared with `lamina layer mount`).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

static const char mount_usage[] =
	"Usage: lamina image mount [--rw] [--backend fuse|kernel] [--id CALLER] IMAGE [DIR]\n"
	"\n"
	"Mounts the image's root file system (at DIR, or in the store) and prints the\n"
	"mount point. Counted per CALLER (default \"" LAMINA_VOLUME_DEFAULT_CALLER "\"): mounted at the first\n"
	"use, unmounted at the last 'lamina image unmount'.\n"
	"\n"
	"  --rw                     a new container layer on top of the image, mounted\n"
	"                           writable; its ID is printed on standard error\n"
	"                           (unmount it with 'lamina image unmount ID')\n"
	"  --backend fuse|kernel    lamina-fuse (default), or the kernel's overlayfs\n"
	"  --id CALLER              who holds the mount\n";

/* The top layer of the image ref in *ret (yours); the exit status. */
static int top_layer(struct cli_ctx *ctx, const char *ref, char **ret)
{
	struct lamina_image *im = NULL;
	struct lm_error err = { 0 };

	if (lamina_image_inspect(ctx->store, ref, &im, &err) < 0)
		return cli_fail(&err);
	if (!im->top_layer) {
		fprintf(stderr, "lamina: image '%s': has no layers to mount\n", ref);
		lamina_image_free(im);
		return CLI_FAILED;
	}
	*ret = strdup(im->top_layer);
	lamina_image_free(im);
	return *ret ? CLI_OK : CLI_FAILED;
}

int cli_image_mount(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct cli_mount_args a = { 0 };
	char *layer = NULL;
	int r = cli_mount_parse(ctx, argc, argv, mount_usage, "IMAGE", &a);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	if ((r = top_layer(ctx, argv[optind], &layer)) != CLI_OK)
		return r;
	r = cli_mount_layer(ctx, layer, &a);
	free(layer);
	return r;
}

static const char unmount_usage[] =
	"Usage: lamina image unmount [--id CALLER] IMAGE|CONTAINER-LAYER\n"
	"\n"
	"Takes one use of the image's mount (or of the container layer 'mount --rw'\n"
	"made) away from CALLER; unmounts at the last. The container layer stays:\n"
	"'lamina layer rm' removes it.\n";

int cli_image_unmount(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct lm_error err = { 0 };
	const char *caller = NULL;
	char *layer = NULL;
	int r = cli_parse_caller(ctx, argc, argv, unmount_usage, "IMAGE", &caller);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	const char *what = argv[optind];
	if (lamina_image_inspect(ctx->store, what, NULL, NULL) >= 0) {
		if ((r = top_layer(ctx, what, &layer)) != CLI_OK)
			return r;
		what = layer;
	}
	r = lamina_layer_unmount(ctx->store, what, caller, &err);
	free(layer);
	return r < 0 ? cli_fail(&err) : CLI_OK;
}

static const char export_usage[] =
	"Usage: lamina image export [-o FILE] IMAGE\n"
	"\n"
	"Writes the image as an oci-archive (to FILE, or standard output when it is not\n"
	"a terminal): oci-layout, index.json naming it, its config, a manifest and\n"
	"uncompressed layer tars. Podman and skopeo read it ('oci-archive:FILE').\n"
	"\n"
	"  -o, --output FILE    write to FILE (whole or not at all)\n";

int cli_image_export(struct cli_ctx *ctx, int argc, char *argv[])
{
	return cli_export(ctx, argc, argv, export_usage, lamina_image_export);
}
