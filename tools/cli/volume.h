/*
 * tools/cli/volume.h: what the `lamina volume` command files share.
 */
#ifndef LAMINA_CLI_VOLUME_H
#define LAMINA_CLI_VOLUME_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* volume-json.c */
json_t *cli_volume_inspect_json(const struct lamina_volume *v);
json_t *cli_volume_ls_json(const struct lamina_volume *v);
json_t *cli_volume_describe(struct lamina_store *store, const char *name, struct lm_error *err);

/* cmd-volume-data.c: mount, unmount, export, import, clone, exists */
int cli_volume_mount(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_volume_unmount(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_volume_export(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_volume_import(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_volume_clone(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_volume_exists(struct cli_ctx *ctx, int argc, char *argv[]);

#endif
