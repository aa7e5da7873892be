/*
 * graphdriver/filehash.c: XXH3-128 content hashes of layer files
 * (DESIGN.md "Hashes"), recorded at apply time and checked by verify.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "graphdriver/layerfs-private.h"

void gd_xxh3_hex(XXH128_hash_t h, char out[33])
{
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	for (size_t i = 0; i < sizeof(c.digest); i++)
		snprintf(out + 2 * i, 3, "%02x", c.digest[i]);
}

int gd_xxh3_fd(int fd, char out[33], uint64_t *ret_size)
{
	XXH3_state_t *s = XXH3_createState();
	if (!s || XXH3_128bits_reset(s) != XXH_OK) {
		XXH3_freeState(s);
		return -ENOMEM;
	}
	char buf[64 * 1024];
	uint64_t size = 0;
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			XXH3_freeState(s);
			return r;
		}
		if (n == 0)
			break;
		XXH3_128bits_update(s, buf, n);
		off += n;
		size += n;
	}
	gd_xxh3_hex(XXH3_128bits_digest(s), out);
	XXH3_freeState(s);
	*ret_size = size;
	return 0;
}
