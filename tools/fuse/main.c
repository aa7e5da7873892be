/*
 * tools/fuse/main.c: lamina-fuse, a drop-in for fuse-overlayfs.
 * Parses the command line and runs the union; all logic is in liblamina.
 */
#include <stdio.h>
#include <stdlib.h>

#include <lamina/lamina.h>

int main(int argc, char *argv[])
{
	struct lm_error err = { 0 };
	struct lamina_union_config *config = NULL;
	enum lamina_union_action action;

	if (lamina_union_config_parse_args(argc, argv, &config, &action, &err) < 0) {
		fprintf(stderr, "lamina-fuse: %s\n%s", err.msg, lamina_union_usage());
		return EXIT_FAILURE;
	}
	int r = 0;
	switch (action) {
	case LAMINA_UNION_HELP:
		fputs(lamina_union_usage(), stdout);
		break;
	case LAMINA_UNION_VERSION:
		printf("lamina-fuse version %s\nfuse-overlayfs compatible\n", lamina_version());
		break;
	case LAMINA_UNION_MOUNT:
		r = lamina_union_run(config, &err);
		if (r < 0)
			fprintf(stderr, "lamina-fuse: %s\n", err.msg);
		break;
	}
	lamina_union_config_free(config);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
