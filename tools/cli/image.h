/*
 * tools/cli/image.h: what the `lamina image` command files share.
 */
#ifndef LAMINA_CLI_IMAGE_H
#define LAMINA_CLI_IMAGE_H

#include <jansson.h>

#include "cli.h"

/* image-json.c: the image as `lamina image inspect` and `ls --format json` print it. */
json_t *cli_image_json(const struct lamina_image *im);
json_t *cli_image_describe(struct lamina_store *store, const char *name, struct lm_error *err);

/* cmd-image-data.c: mount, unmount, export */
int cli_image_mount(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_image_unmount(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_image_export(struct cli_ctx *ctx, int argc, char *argv[]);

#endif
