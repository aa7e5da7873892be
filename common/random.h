/*
 * common/random.h: random names (anonymous volumes, staging folders).
 */
#ifndef LAMINA_COMMON_RANDOM_H
#define LAMINA_COMMON_RANDOM_H

#include <stddef.h>

/*
 * Fills buf with 2 * nbytes lowercase hex digits and a NUL (buf holds
 * 2 * nbytes + 1) from getrandom(2). 0 or -errno.
 * Thread-safety: safe.
 */
int lm_random_hex(char *buf, size_t nbytes);

#endif
