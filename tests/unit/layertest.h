/*
 * tests/unit/layertest.h: what the graph-store layer-folder tests share
 * (compiled into each test-graphdriver-* binary): applying a built tar into
 * a folder, exporting a folder, and digests computed by other code than
 * lamina's (sha256sum, gzip -dc, XXH3 one-shot). Set-up helpers end the
 * test on failure.
 */
#ifndef LAMINA_TESTS_LAYERTEST_H
#define LAMINA_TESTS_LAYERTEST_H

#include <stddef.h>

#include "graphdriver/layerfs.h"
#include "tests/lib/tarbuild.h"

/* Three changeset tars, bottom first: every entry type, whiteouts and
 * opaque folders in the OCI form, hard links, xattrs, a sparse file, a
 * folder deleted and made again, a device (root only). */
#define LT_CHAIN_N 3
extern const struct tl_tar_entry *const lt_chain[LT_CHAIN_N];

/* Makes tl_scratch/name (0755) and returns its path (caller frees). */
char *lt_dir(const char *name);

/* gd_apply of the tar held in memfd fd (closed) into folder dir; returns
 * its result code, *res filled on success (release it), err the message. */
int lt_apply_fd(int fd, const char *dir, enum gd_marker_form markers, struct gd_apply_result *res,
		struct lm_error *err);
/* The tar of entries (tarbuild flags) applied into dir; must succeed. */
void lt_apply_ok(const struct tl_tar_entry *e, unsigned flags, const char *dir, enum gd_marker_form markers,
		 struct gd_apply_result *res);

/* gd_export of dir: the tar bytes (malloc'd, *ret_len), must succeed. */
char *lt_export(const char *dir, size_t *ret_len);
/* The bytes written to the file path. */
void lt_write_file(const char *path, const void *data, size_t len);

/* "sha256:HEX" of data as `sha256sum` prints it, after piping it through
 * filter (a shell command such as "gzip -dc"; NULL: none). Caller frees. */
char *lt_sha256_cmd(const void *data, size_t len, const char *filter);

/* XXH3-128 of data, one shot, as 32 hex digits (canonical form). */
void lt_xxh3_hex(const void *data, size_t len, char out[33]);

/* The trees at a and b must be the same (tl_tree_diff with flags). */
void lt_assert_same_tree(const char *a, const char *b, const char *name_a, const char *name_b, unsigned flags);

#endif
