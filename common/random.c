/*
 * common/random.c: hex strings from the kernel's random pool.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

#include "common/random.h"

int lm_random_hex(char *buf, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[64];
	if (nbytes > sizeof(raw))
		return -EINVAL;
	for (size_t got = 0; got < nbytes;) {
		ssize_t n = getrandom(raw + got, nbytes - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < nbytes; i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 0xf];
	}
	buf[2 * nbytes] = '\0';
	return 0;
}
