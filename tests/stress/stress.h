/*
 * tests/stress/stress.h: what the stress tests share besides tests/lib: a
 * seeded pseudo-random generator (the same seed gives the same run on every
 * machine, so a failure is reproducible from its seed), knobs read from the
 * environment, and a trace of the last operations for failure reports.
 *
 * Thread-safety: none; one test process uses these from its main thread.
 */
#ifndef LAMINA_TESTS_STRESS_H
#define LAMINA_TESTS_STRESS_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64: tiny, fast, and good enough to pick operations. */
struct st_rng {
	uint64_t state;
};

void st_rng_seed(struct st_rng *rng, uint64_t seed);
uint64_t st_rng_next(struct st_rng *rng);
/* Uniform in [0, n); n > 0. */
uint64_t st_rng_below(struct st_rng *rng, uint64_t n);
/* Uniform in [lo, hi]. */
uint64_t st_rng_range(struct st_rng *rng, uint64_t lo, uint64_t hi);
/* True with probability percent/100. */
int st_rng_chance(struct st_rng *rng, unsigned percent);
/* Fills buf with len pseudo-random printable bytes (readable in reports). */
void st_rng_fill(struct st_rng *rng, void *buf, size_t len);
/* Index into a table of weights (sum > 0), chosen in proportion to them. */
size_t st_rng_weighted(struct st_rng *rng, const unsigned *weights, size_t n);

/* The unsigned value of environment variable name, or def when it is
 * unset or empty. A malformed value ends the test (tl_fail). */
unsigned long st_env_ulong(const char *name, unsigned long def);

/*
 * The last ST_TRACE_MAX operations, for the failure report (fsx prints its
 * operation log the same way). st_trace_add() formats one line;
 * st_trace_dump() writes the kept lines to stderr (the test's .log) under a
 * title. Static storage: one trace per process.
 */
#define ST_TRACE_MAX 64
void st_trace_reset(void);
void st_trace_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void st_trace_dump(const char *title);

#endif
