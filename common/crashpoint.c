/*
 * common/crashpoint.c: the test hook of crashpoint.h. The environment is
 * read at every call (a getenv and a compare: nothing next to the fsyncs
 * these points sit between), so a test can set it in a forked child.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/crashpoint.h"

void lm_crashpoint(const char *name)
{
	const char *want = getenv("LAMINA_CRASHPOINT");
	if (want && strcmp(want, name) == 0)
		raise(SIGKILL);
}
