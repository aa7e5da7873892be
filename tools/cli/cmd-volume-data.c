/*
 * tools/cli/cmd-volume-data.c: the `lamina volume` commands that work on one
 * volume's data: mount, unmount, export, import, clone, exists.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include "volume.h"

/* Parses "[--id ID] NAME" (mount, unmount); the name in *ret_name. */
static int parse_name_and_id(struct cli_ctx *ctx, int argc, char *argv[], const char *usage, const char **ret_name,
			     const char **ret_id)
{
	*ret_id = NULL;
	int r = cli_parse_caller(ctx, argc, argv, usage, "NAME", ret_id);
	if (r >= 0)
		*ret_name = argv[optind];
	return r;
}

static const char mount_usage[] =
	"Usage: lamina volume mount [--id CALLER] NAME\n"
	"\n"
	"Counts CALLER (default \"" LAMINA_VOLUME_DEFAULT_CALLER "\") as a user of the volume, mounting\n"
	"it at its first use, and prints the path of its data.\n";

int cli_volume_mount(struct cli_ctx *ctx, int argc, char *argv[])
{
	const char *name, *id;
	struct lm_error err = { 0 };
	char *path = NULL;
	int r = parse_name_and_id(ctx, argc, argv, mount_usage, &name, &id);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	if (lamina_volume_mount(ctx->store, name, id, &path, &err) < 0)
		return cli_fail(&err);
	puts(path);
	free(path);
	return CLI_OK;
}

static const char unmount_usage[] =
	"Usage: lamina volume unmount [--id CALLER] NAME\n"
	"\n"
	"Takes one use of the volume away from CALLER (default \"" LAMINA_VOLUME_DEFAULT_CALLER "\");\n"
	"the volume is unmounted at its last use.\n";

int cli_volume_unmount(struct cli_ctx *ctx, int argc, char *argv[])
{
	const char *name, *id;
	struct lm_error err = { 0 };
	int r = parse_name_and_id(ctx, argc, argv, unmount_usage, &name, &id);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	if (lamina_volume_unmount(ctx->store, name, id, &err) < 0)
		return cli_fail(&err);
	return CLI_OK;
}

/* Parses the options of a command that takes none but --help, and checks it
 * got between min and max arguments. */
static int parse_plain(struct cli_ctx *ctx, int argc, char *argv[], const char *usage, int min, int max)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c = cli_getopt(ctx, argc, argv, "h", opts, usage);

	if (c < -1)
		return c;
	if (c != -1 || argc - optind < min || argc - optind > max)
		return cli_usage_error(ctx, "wrong number of arguments"), CLI_OPT_ERROR;
	return 0;
}

static const char export_usage[] =
	"Usage: lamina volume export [-o FILE] NAME\n"
	"\n"
	"Writes the volume's content as a tar to FILE, or to standard output.\n"
	"FILE appears only once the whole tar is written.\n";

int cli_volume_export(struct cli_ctx *ctx, int argc, char *argv[])
{
	return cli_export(ctx, argc, argv, export_usage, lamina_volume_export);
}

static const char import_usage[] =
	"Usage: lamina volume import NAME [FILE|-]\n"
	"\n"
	"Fills an empty volume (created when missing) from a tar: FILE, or standard\n"
	"input. Plain, gzip, zstd and xz tars are recognised. An entry that would\n"
	"write outside the volume is refused, and the volume stays as it was.\n";

int cli_volume_import(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct lm_error err = { 0 };
	const char *file;
	int fd, r = parse_plain(ctx, argc, argv, import_usage, 1, 2);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	file = argc - optind == 2 ? argv[optind + 1] : "-";
	if (!cli_store(ctx))
		return CLI_FAILED;
	fd = cli_open_input(ctx, file);
	if (fd < 0)
		return -fd;
	r = lamina_volume_import(ctx->store, argv[optind], fd, &err);
	if (fd != STDIN_FILENO)
		close(fd);
	return r < 0 ? cli_fail(&err) : CLI_OK;
}

static const char clone_usage[] =
	"Usage: lamina volume clone SOURCE NEW\n"
	"\n"
	"Creates volume NEW holding a copy of SOURCE's content, sharing data blocks\n"
	"(reflink) where the file system can. Prints NEW.\n";

int cli_volume_clone(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct lm_error err = { 0 };
	int r = parse_plain(ctx, argc, argv, clone_usage, 2, 2);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	if (lamina_volume_clone(ctx->store, argv[optind], argv[optind + 1], &err) < 0)
		return cli_fail(&err);
	puts(argv[optind + 1]);
	return CLI_OK;
}

static const char exists_usage[] =
	"Usage: lamina volume exists NAME\n"
	"\n"
	"Exits 0 when the volume exists, 1 when it does not; prints nothing.\n";

int cli_volume_exists(struct cli_ctx *ctx, int argc, char *argv[])
{
	struct lm_error err = { 0 };
	int r = parse_plain(ctx, argc, argv, exists_usage, 1, 1);

	if (r < 0)
		return CLI_OPT_STATUS(r);
	if (!cli_store(ctx))
		return CLI_FAILED;
	struct lamina_volume *v = NULL;

	r = lamina_volume_inspect(ctx->store, argv[optind], &v, &err);
	lamina_volume_free(v);
	if (r == -ENOENT)
		return CLI_FAILED;
	return r < 0 ? cli_fail(&err) : CLI_OK;
}
