/*
 * tools/cli/cmd-check.c: `lamina check [--repair]`: prints what disagrees
 * between the database and the folders and mounts, one line each.
 */
#include <getopt.h>
#include <jansson.h>

#include "cli.h"

static const char check_usage[] =
	"Usage: lamina check [--repair] [--format table|json]\n"
	"\n"
	"Compares the database with the folders and mounts under the root and prints\n"
	"each disagreement (left by a crash, or by changes made behind lamina's back).\n"
	"With --repair, fixes them the safe way. Exits 1 while a problem remains.\n";

static void print_report(const struct lamina_check_report *report, bool json)
{
	json_t *all = json ? json_array() : NULL;

	for (size_t i = 0; i < report->n_problems; i++) {
		const struct lamina_check_problem *p = &report->problems[i];

		if (json)
			json_array_append_new(all, json_pack("{s:s, s:b}", "Problem", p->what, "Repaired", p->repaired));
		else
			printf("%s%s\n", p->what, p->repaired ? " (repaired)" : "");
	}
	if (!json) {
		if (report->n_problems == 0)
			puts("no problems found");
		return;
	}
	cli_json_print(all, true);
}

int cli_check(struct cli_ctx *ctx, int argc, char *argv[])
{
	enum { OPT_REPAIR = 256, OPT_FORMAT };
	static const struct option opts[] = {
		{ "repair", no_argument, NULL, OPT_REPAIR },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct lamina_check_report report = { 0 };
	struct lm_error err = { 0 };
	bool repair = false, json = false, left = false;
	int c;

	while ((c = cli_getopt(ctx, argc, argv, "h", opts, check_usage)) != -1) {
		if (c < 0)
			return CLI_OPT_STATUS(c);
		if (c == OPT_REPAIR)
			repair = true;
		else if (!cli_parse_format(ctx, optarg, &json))
			return CLI_USAGE;
	}
	if (optind < argc)
		return cli_usage_error(ctx, "takes no arguments");
	if (!cli_store(ctx))
		return CLI_FAILED;
	if (lamina_check(ctx->store, repair, &report, &err) < 0)
		return cli_fail(&err);
	print_report(&report, json);
	for (size_t i = 0; i < report.n_problems; i++)
		left |= !report.problems[i].repaired;
	lamina_check_report_release(&report);
	return left ? CLI_FAILED : CLI_OK;
}
