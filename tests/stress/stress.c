/*
 * tests/stress/stress.c: the stress tests' generator, knobs and trace.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/testlib.h"
#include "tests/stress/stress.h"

/* The finalizer of splitmix64: neighbouring seeds give unrelated states
 * (a plain multiple would make seed N+1 the run of seed N shifted by one). */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void st_rng_seed(struct st_rng *rng, uint64_t seed)
{
	rng->state = mix64(mix64(seed + 0x2545F4914F6CDD1Dull));
}

uint64_t st_rng_next(struct st_rng *rng)
{
	return mix64(rng->state += 0x9E3779B97F4A7C15ull);
}

uint64_t st_rng_below(struct st_rng *rng, uint64_t n)
{
	return st_rng_next(rng) % n;
}

uint64_t st_rng_range(struct st_rng *rng, uint64_t lo, uint64_t hi)
{
	return lo + st_rng_below(rng, hi - lo + 1);
}

int st_rng_chance(struct st_rng *rng, unsigned percent)
{
	return st_rng_below(rng, 100) < percent;
}

void st_rng_fill(struct st_rng *rng, void *buf, size_t len)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char *p = buf;
	uint64_t bits = 0;
	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			bits = st_rng_next(rng);
		p[i] = alphabet[(bits & 0xff) % (sizeof(alphabet) - 1)];
		bits >>= 8;
	}
}

size_t st_rng_weighted(struct st_rng *rng, const unsigned *weights, size_t n)
{
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += weights[i];
	uint64_t pick = st_rng_below(rng, total);
	for (size_t i = 0; i < n; i++) {
		if (pick < weights[i])
			return i;
		pick -= weights[i];
	}
	return n - 1;
}

unsigned long st_env_ulong(const char *name, unsigned long def)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return def;
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 0);
	if (errno || *end || v[0] == '-')
		tl_fail("environment variable %s='%s': not a number", name, v);
	return n;
}

static char trace[ST_TRACE_MAX][256];
static unsigned long trace_count;

void st_trace_reset(void)
{
	trace_count = 0;
}

void st_trace_add(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(trace[trace_count % ST_TRACE_MAX], sizeof(trace[0]), fmt, ap);
	va_end(ap);
	trace_count++;
}

void st_trace_dump(const char *title)
{
	unsigned long first = trace_count > ST_TRACE_MAX ? trace_count - ST_TRACE_MAX : 0;
	fprintf(stderr, "%s (the last %lu of %lu operations):\n", title, trace_count - first, trace_count);
	for (unsigned long i = first; i < trace_count; i++)
		fprintf(stderr, "  %s\n", trace[i % ST_TRACE_MAX]);
	fflush(stderr);
}
