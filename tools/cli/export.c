/*
 * tools/cli/export.c: the tar plumbing the export and import commands of
 * every group share: -o FILE written whole or not at all, standard output
 * refused when it is a terminal, an input FILE or "-".
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Exports into a temporary file next to path, renamed over it at the end,
 * so a failed export leaves no half tar under the asked name. */
static int export_to_file(struct cli_ctx *ctx, const char *name, const char *path, cli_export_fn export)
{
	size_t len = strlen(path);
	char *tmp = malloc(len + sizeof(".XXXXXX"));
	struct lm_error err = { 0 };
	int fd, status = CLI_FAILED;

	if (!tmp)
		return CLI_FAILED;
	memcpy(tmp, path, len);
	memcpy(tmp + len, ".XXXXXX", sizeof(".XXXXXX"));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "lamina: '%s': cannot create: %m\n", path);
	} else if (export(ctx->store, name, fd, &err) < 0) {
		cli_fail(&err);
	} else if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "lamina: '%s': cannot write: %m\n", path);
	} else {
		status = CLI_OK;
	}
	if (fd >= 0)
		close(fd);
	if (status != CLI_OK && fd >= 0)
		unlink(tmp);
	free(tmp);
	return status;
}

int cli_export(struct cli_ctx *ctx, int argc, char *argv[], const char *usage, cli_export_fn export)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *output = NULL;
	struct lm_error err = { 0 };
	int c;

	while ((c = cli_getopt(ctx, argc, argv, "o:h", opts, usage)) != -1) {
		if (c < 0)
			return CLI_OPT_STATUS(c);
		output = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_error(ctx, "needs one NAME");
	if (!output && isatty(STDOUT_FILENO))
		return cli_usage_error(ctx, "refusing to write a tar to a terminal: use -o FILE or a redirection");
	if (!cli_store(ctx))
		return CLI_FAILED;
	if (output)
		return export_to_file(ctx, argv[optind], output, export);
	if (export(ctx->store, argv[optind], STDOUT_FILENO, &err) < 0)
		return cli_fail(&err);
	return CLI_OK;
}

int cli_open_input(const struct cli_ctx *ctx, const char *file)
{
	int fd;

	if (strcmp(file, "-") == 0) {
		if (isatty(STDIN_FILENO))
			return -cli_usage_error(ctx, "refusing to read a tar from a terminal: name a FILE");
		return STDIN_FILENO;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "lamina: '%s': cannot open: %m\n", file);
		return -CLI_FAILED;
	}
	return fd;
}
