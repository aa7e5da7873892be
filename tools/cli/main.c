/*
 * tools/cli/main.c: the `lamina` command. Parses the global options and
 * hands the rest to a command group (volume, check); see cli.h.
 */
#include "cli.h"

int main(int argc, char *argv[])
{
	return cli_main(argc, argv);
}
