/*
 * tools/cli/layer.h: what the `lamina layer` command files share.
 */
#ifndef LAMINA_CLI_LAYER_H
#define LAMINA_CLI_LAYER_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* layer-json.c */
json_t *cli_layer_json(const struct lamina_layer *l);
json_t *cli_layer_describe(struct lamina_store *store, const char *name, struct lm_error *err);

/* cmd-layer-data.c: mount, unmount, changes, export, diff-size, verify */
int cli_layer_mount(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_layer_unmount(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_layer_changes(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_layer_export(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_layer_diff_size(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_layer_verify(struct cli_ctx *ctx, int argc, char *argv[]);

#endif
