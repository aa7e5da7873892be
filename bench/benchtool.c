/*
 * bench/benchtool.c: the two bench workloads whose system calls are too
 * cheap to drive from a script (a Python loop would cost as much as the
 * kernel's own work and hide the ratio): repeated readdir and the build-like
 * mix; and a probe of page cache folio sizes. bench/run compiles it with the
 * machine's cc into its work dir, runs it and checks what it prints; it is
 * not part of the lamina build.
 *
 *   benchtool readdir DIR REPS
 *       list DIR REPS times (opendir/readdir/closedir); prints
 *       "entries=N namehash=H elapsed=S", N and H from the first pass, and
 *       fails if a later pass differs. H is the sum of the FNV-1a hashes of
 *       the names ('.' and '..' left out), so it does not depend on order.
 *
 *   benchtool mix DIR POOL UNITS BUILD
 *       chdir to DIR, read POOL (one path a line, relative to DIR: small
 *       existing files), then per unit, like one compiler run of a build:
 *       stat 8 pool files, 4 failed lookups next to them (ENOENT expected),
 *       read 2 pool files whole, write BUILD/objI.tmp (4-11 KiB) and rename
 *       it to BUILD/objI.o, write and unlink BUILD/depI.tmp; every tenth
 *       unit removes objI-5.o. Prints "stats=… enoent=… reads=… bytes=…
 *       crcsum=… objs=… elapsed=S", crcsum being the sum of the zlib CRC-32
 *       of every file read, for bench/run to compare with the branches.
 *
 *   benchtool folios FILE PAGES
 *       (root) map the first PAGES pages of FILE, touch each (reading them
 *       into the page cache if they are not there), and count through
 *       /proc/self/pagemap and /proc/kpageflags how many sit in large
 *       folios (compound pages); prints "present=N large=M". Used by hand
 *       to compare a FUSE file's page cache with its branch file's (see
 *       docs/performance.md, "Where the time goes").
 *
 * Every unexpected result is reported and ends the program with status 1,
 * so a wrong answer never becomes a time.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define POOL_MAX 100000
#define STATS_PER_UNIT 8
#define MISSES_PER_UNIT 4
#define READS_PER_UNIT 2

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what, const char *name, int err)
{
	fprintf(stderr, "benchtool: %s '%s': %s\n", what, name, strerror(err));
	return 1;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int list_once(const char *dir, uint64_t *ret_n, uint64_t *ret_hash)
{
	uint64_t n = 0, hash = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(dir);
	if (!d)
		return fail("opendir", dir, errno);
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		n++;
		hash += fnv1a(de->d_name);
	}
	if (errno)
		return fail("readdir", dir, errno);
	closedir(d);
	*ret_n = n;
	*ret_hash = hash;
	return 0;
}

static int cmd_readdir(const char *dir, long reps)
{
	uint64_t n0 = 0, h0 = 0, n, h;
	double t0 = now();

	for (long i = 0; i < reps; i++) {
		if (list_once(dir, &n, &h))
			return 1;
		if (i == 0) {
			n0 = n;
			h0 = h;
		} else if (n != n0 || h != h0) {
			fprintf(stderr, "benchtool: pass %ld of '%s' differs: %" PRIu64 " entries, first pass %" PRIu64 "\n",
				i, dir, n, n0);
			return 1;
		}
	}
	printf("entries=%" PRIu64 " namehash=%" PRIu64 " elapsed=%.6f\n", n0, h0, now() - t0);
	return 0;
}

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320U ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc32_update(uint32_t crc, const unsigned char *p, size_t len)
{
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

struct mix {
	char **pool;
	size_t npool;
	const char *build;
	uint64_t stats, enoent, reads, bytes, crcsum, objs;
	unsigned char buf[1 << 16];
};

static int read_pool(struct mix *m, const char *file)
{
	char line[4096];
	FILE *f = fopen(file, "re");

	if (!f)
		return fail("open", file, errno);
	m->pool = calloc(POOL_MAX, sizeof(*m->pool));
	if (!m->pool)
		return fail("allocate", file, ENOMEM);
	while (m->npool < POOL_MAX && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0])
			m->pool[m->npool++] = strdup(line);
	}
	fclose(f);
	if (!m->npool)
		return fail("read pool", file, EINVAL);
	return 0;
}

static int read_whole(struct mix *m, const char *name)
{
	uint32_t crc = 0;
	struct stat st;
	uint64_t total = 0;
	ssize_t r;
	int fd;

	fd = open(name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("open", name, errno);
	while ((r = read(fd, m->buf, sizeof(m->buf))) > 0) {
		crc = crc32_update(crc, m->buf, r);
		total += r;
	}
	if (r < 0 || fstat(fd, &st) < 0)
		return fail("read", name, errno);
	close(fd);
	if ((uint64_t)st.st_size != total) {
		fprintf(stderr, "benchtool: read %" PRIu64 " bytes of '%s', size %lld\n", total, name,
			(long long)st.st_size);
		return 1;
	}
	m->reads++;
	m->bytes += total;
	m->crcsum += crc;
	return 0;
}

/* Content of objI: "objI\n" repeated to 4 + I % 8 KiB; bench/run checks it. */
static int write_file(struct mix *m, const char *name, long unit, size_t size)
{
	char tag[32];
	size_t len = snprintf(tag, sizeof(tag), "obj%ld\n", unit);
	int fd;

	for (size_t i = 0; i < size; i++)
		m->buf[i] = tag[i % len];
	fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail("create", name, errno);
	if (write(fd, m->buf, size) != (ssize_t)size)
		return fail("write", name, errno ? errno : EIO);
	if (close(fd) < 0)
		return fail("close", name, errno);
	return 0;
}

static int mix_unit(struct mix *m, long i)
{
	char a[4096], b[4096], miss[4096];
	struct stat st;

	for (int k = 0; k < STATS_PER_UNIT; k++) {
		const char *p = m->pool[(i * STATS_PER_UNIT + k) % m->npool];

		if (lstat(p, &st) < 0)
			return fail("stat", p, errno);
		m->stats++;
	}
	for (int k = 0; k < MISSES_PER_UNIT; k++) {
		const char *p = m->pool[(i * MISSES_PER_UNIT + k) % m->npool];
		const char *slash = strrchr(p, '/');
		int dirlen = slash ? (int)(slash - p) + 1 : 0;

		snprintf(miss, sizeof(miss), "%.*slamina-bench-missing-%ld.h", dirlen, p, (i + k) % 64);
		if (lstat(miss, &st) == 0)
			return fail("failed lookup of", miss, EEXIST);
		if (errno != ENOENT)
			return fail("failed lookup of", miss, errno);
		m->enoent++;
	}
	for (int k = 0; k < READS_PER_UNIT; k++)
		if (read_whole(m, m->pool[(i * READS_PER_UNIT + k) % m->npool]))
			return 1;
	snprintf(a, sizeof(a), "%s/obj%ld.tmp", m->build, i);
	snprintf(b, sizeof(b), "%s/obj%ld.o", m->build, i);
	if (write_file(m, a, i, (4 + i % 8) * 1024))
		return 1;
	if (rename(a, b) < 0)
		return fail("rename", a, errno);
	m->objs++;
	snprintf(a, sizeof(a), "%s/dep%ld.tmp", m->build, i);
	if (write_file(m, a, i, 100))
		return 1;
	if (unlink(a) < 0)
		return fail("unlink", a, errno);
	if (i % 10 == 9) {
		snprintf(b, sizeof(b), "%s/obj%ld.o", m->build, i - 5);
		if (unlink(b) < 0)
			return fail("unlink", b, errno);
		m->objs--;
	}
	return 0;
}

static int cmd_mix(const char *dir, const char *pool, long units, const char *build)
{
	static struct mix m;
	double t0;

	crc_init();
	if (read_pool(&m, pool))
		return 1;
	if (chdir(dir) < 0)
		return fail("chdir", dir, errno);
	m.build = build;
	t0 = now();
	if (mkdir(build, 0755) < 0)
		return fail("mkdir", build, errno);
	for (long i = 0; i < units; i++)
		if (mix_unit(&m, i))
			return 1;
	printf("stats=%" PRIu64 " enoent=%" PRIu64 " reads=%" PRIu64 " bytes=%" PRIu64 " crcsum=%" PRIu64
	       " objs=%" PRIu64 " elapsed=%.6f\n",
	       m.stats, m.enoent, m.reads, m.bytes, m.crcsum, m.objs, now() - t0);
	return 0;
}

#define KPF_COMPOUND_HEAD (1ULL << 15)
#define KPF_COMPOUND_TAIL (1ULL << 16)

static int cmd_folios(const char *path, long pages)
{
	long psize = sysconf(_SC_PAGESIZE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("open", path, errno);
	volatile const char *map = mmap(NULL, (size_t)pages * psize, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return fail("mmap", path, errno);
	unsigned sum = 0;
	for (long i = 0; i < pages; i++)
		sum += (unsigned char)map[i * psize];
	int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int flags = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	if (pagemap < 0 || flags < 0)
		return fail("open", "/proc/self/pagemap or /proc/kpageflags (root only)", errno);
	long present = 0, large = 0;
	for (long i = 0; i < pages; i++) {
		uint64_t entry, kf;
		off_t at = (off_t)(((uintptr_t)map / psize + i) * sizeof(entry));
		if (pread(pagemap, &entry, sizeof(entry), at) != sizeof(entry))
			return fail("pread", "/proc/self/pagemap", errno);
		if (!(entry >> 63))
			continue; /* not present */
		present++;
		uint64_t pfn = entry & ((1ULL << 55) - 1);
		if (pread(flags, &kf, sizeof(kf), (off_t)(pfn * sizeof(kf))) != sizeof(kf))
			return fail("pread", "/proc/kpageflags", errno);
		large += (kf & (KPF_COMPOUND_HEAD | KPF_COMPOUND_TAIL)) != 0;
	}
	printf("present=%ld large=%ld (sum %u)\n", present, large, sum & 1);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "readdir"))
		return cmd_readdir(argv[2], atol(argv[3]));
	if (argc == 6 && !strcmp(argv[1], "mix"))
		return cmd_mix(argv[2], argv[3], atol(argv[4]), argv[5]);
	if (argc == 4 && !strcmp(argv[1], "folios"))
		return cmd_folios(argv[2], atol(argv[3]));
	fprintf(stderr, "usage: benchtool readdir DIR REPS | benchtool mix DIR POOL UNITS BUILD | benchtool folios FILE PAGES\n");
	return 2;
}
