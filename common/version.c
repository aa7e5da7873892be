/*
 * common/version.c: the library's version.
 */
#include <lamina/lamina.h>

const char *lamina_version(void)
{
	return PACKAGE_VERSION;
}
