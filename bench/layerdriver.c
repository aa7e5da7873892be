/*
 * bench/layerdriver.c: drives the graph store's layer-folder code
 * (graphdriver/layerfs.h) for bench/layers until `lamina layer import` and
 * `lamina layer export` exist: bench/layers compiles it against the built
 * convenience libraries (BUILD/graphdriver/.libs/libgd.a,
 * BUILD/common/.libs/libcommon.a); it is not part of the lamina build.
 *
 *   layerdriver apply TAR DIR    gd_apply (kernel markers, owners, devices)
 *                                of TAR into the empty folder DIR; prints
 *                                "diff_id=… size=… files=… elapsed=S"
 *   layerdriver export DIR OUT   gd_export of DIR to the file OUT; prints
 *                                "bytes=… elapsed=S"
 * Any failure prints lamina's message and exits 1.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "graphdriver/layerfs.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int apply(const char *tar, const char *dir)
{
	int in = open(tar, O_RDONLY | O_CLOEXEC), d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (in < 0 || d < 0) {
		perror("open");
		return 1;
	}
	struct gd_apply_opts o = { .what = "layer", .markers = GD_MARKERS_KERNEL, .keep_owner = true,
				   .allow_devices = true };
	struct gd_apply_result res;
	struct lm_error err = { 0 };
	double t = now();
	if (gd_apply(in, d, &o, &res, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	t = now() - t;
	printf("diff_id=%s size=%llu files=%zu elapsed=%.6f\n", res.diff_id, (unsigned long long)res.size,
	       res.n_hashes, t);
	gd_apply_result_release(&res);
	return 0;
}

static int export(const char *dir, const char *out)
{
	int d = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int o = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (d < 0 || o < 0) {
		perror("open");
		return 1;
	}
	struct lm_error err = { 0 };
	double t = now();
	if (gd_export(d, o, "layer", &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	t = now() - t;
	printf("bytes=%lld elapsed=%.6f\n", (long long)lseek(o, 0, SEEK_END), t);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "apply"))
		return apply(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "export"))
		return export(argv[2], argv[3]);
	fprintf(stderr, "usage: layerdriver apply TAR DIR | export DIR OUT\n");
	return 2;
}
