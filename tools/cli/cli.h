/*
 * tools/cli/cli.h: the `lamina` command's shared pieces: the context every
 * command gets, the command tables, and the output helpers (output.c).
 *
 * Commands only parse arguments, call one liblamina function and print;
 * everything worth testing lives in the library.
 */
#ifndef LAMINA_CLI_H
#define LAMINA_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <lamina/lamina.h>

/* Exit statuses: 0 success, 1 the operation failed, 2 the command line is wrong. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

struct cli_ctx {
	const char *root;           /* --root, NULL: the library's default */
	struct lamina_store *store; /* opened by cli_store() on first use */
	const char *command;        /* "volume create", for messages */
	char command_buf[64];       /* holds command for a subcommand */
};

struct cli_command {
	const char *name;
	const char *alias; /* "ls" for "list"... or NULL */
	int (*run)(struct cli_ctx *ctx, int argc, char *argv[]);
	const char *summary;
};

/* The whole command: global options, then a group. Returns the exit status. */
int cli_main(int argc, char *argv[]);

/* Runs the subcommand argv[0] of table (n entries) named group ("volume"). */
int cli_dispatch(struct cli_ctx *ctx, const char *group, const struct cli_command *table, size_t n, int argc,
		 char *argv[]);

/* The commands of each group (cmd-*.c). */
int cli_volume(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_layer(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_image(struct cli_ctx *ctx, int argc, char *argv[]);
int cli_check(struct cli_ctx *ctx, int argc, char *argv[]);

/* The store, opened at the first call; NULL after printing why. */
struct lamina_store *cli_store(struct cli_ctx *ctx);

/* Prints "lamina: MSG" to stderr and returns CLI_FAILED. */
int cli_fail(const struct lm_error *err);

/* Prints "lamina: COMMAND: FMT" and the help hint to stderr; returns CLI_USAGE. */
int cli_usage_error(const struct cli_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * getopt_long for a subcommand, with -h/--help and errors handled: returns
 * the option, -1 at the end, CLI_OPT_HELP after printing usage to stdout,
 * CLI_OPT_ERROR after printing the error and the help hint.
 */
struct option;
enum { CLI_OPT_HELP = -2, CLI_OPT_ERROR = -3 };
int cli_getopt(const struct cli_ctx *ctx, int argc, char *argv[], const char *shortopts, const struct option *opts,
	       const char *usage);
/* The exit status for CLI_OPT_HELP or CLI_OPT_ERROR. */
#define CLI_OPT_STATUS(c) ((c) == CLI_OPT_HELP ? CLI_OK : CLI_USAGE)

/* The options every ls takes: -q, --format table|json, --no-trunc. */
struct cli_ls_opts {
	bool quiet, json, trunc;
};
/* Parses them (and no operand); 0, or CLI_OPT_HELP/CLI_OPT_ERROR. */
int cli_parse_ls(struct cli_ctx *ctx, int argc, char *argv[], const char *usage, struct cli_ls_opts *ret);

/* Parses a --format value into *ret_json; false (after a usage error) otherwise. */
bool cli_parse_format(const struct cli_ctx *ctx, const char *value, bool *ret_json);

/* Appends value to a growable array of strings (filters, options). Aborts on OOM. */
void cli_strv_push(const char ***strv, size_t *n, const char *value);

/* Appends "k=v" to a growable array of pairs (the value points into the key's
 * copy); false when there is no '=' and need_value ("k" alone gives value "").
 * Aborts on OOM. */
bool cli_kv_push(struct lamina_kv **kv, size_t *n, const char *arg, bool need_value);
void cli_kv_array_free(struct lamina_kv *kv, size_t n);

/* export.c: "[-o FILE] NAME" export commands, and tar inputs. */
typedef int (*cli_export_fn)(struct lamina_store *store, const char *name, int fd, struct lm_error *err);
int cli_export(struct cli_ctx *ctx, int argc, char *argv[], const char *usage, cli_export_fn export);
/* An fd to read a tar from: FILE, or standard input for "-" (refused on a
 * terminal). On failure, after printing why, minus the exit status. */
int cli_open_input(const struct cli_ctx *ctx, const char *file);

/* mount.c: the mount and unmount commands of layers and images. */
struct cli_mount_args {
	struct lamina_layer_mount_opts o;
	bool rw; /* a container layer on top, mounted writable */
};
/* Parses [--rw] [--backend B] [--id CALLER] WHAT [DIR]: WHAT is argv[optind].
 * 0, or CLI_OPT_HELP/CLI_OPT_ERROR. */
int cli_mount_parse(struct cli_ctx *ctx, int argc, char *argv[], const char *usage, const char *what,
		    struct cli_mount_args *a);
/* Mounts layer (with --rw, a new container layer on top of it, its ID on
 * stderr) and prints the mount point. Returns the exit status. */
int cli_mount_layer(struct cli_ctx *ctx, const char *layer, const struct cli_mount_args *a);
/* Parses [--id CALLER] WHAT (unmount; volume mount): WHAT is argv[optind]. */
int cli_parse_caller(struct cli_ctx *ctx, int argc, char *argv[], const char *usage, const char *what,
		      const char **ret_caller);

/* Output. */
struct cli_table; /* an aligned text table, printed when ended */
struct cli_table *cli_table_new(size_t columns, const char *const *headers);
void cli_table_row(struct cli_table *t, const char *const *cells);
void cli_table_print_free(struct cli_table *t, FILE *out);

/*
 * The inspect commands: describe's JSON for each operand argv[optind..],
 * printed as one indented array (Docker's inspect). An operand describe
 * cannot answer is reported on stderr and makes the status CLI_FAILED; the
 * others are still printed.
 */
typedef json_t *(*cli_describe_fn)(struct lamina_store *store, const char *name, struct lm_error *err);
int cli_inspect_operands(struct cli_ctx *ctx, int argc, char *argv[], cli_describe_fn describe);

/* Prints j (consumed) compact, or indented as Docker does, and a newline. */
void cli_json_print(json_t *j, bool pretty);
/* RFC 3339 in local time with offset, as Docker prints CreatedAt. */
void cli_format_time(int64_t seconds, char *buf, size_t size);
/* Decimal units as Docker's HumanSize: "0B", "512B", "1.5kB", "12.3MB", "4.2GB". */
void cli_format_size(uint64_t bytes, char *buf, size_t size);
/* Asks a yes/no question on stdout, reads the answer from stdin; EOF is no. */
bool cli_confirm(const char *question);

#endif
