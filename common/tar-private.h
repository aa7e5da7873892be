/*
 * common/tar-private.h: what common/tar.c (the libarchive glue and
 * extraction) shares with common/tar-write.c. Not for other modules: they
 * use common/tar.h.
 */
#ifndef LAMINA_COMMON_TAR_PRIVATE_H
#define LAMINA_COMMON_TAR_PRIVATE_H

#include <locale.h>
#include <stddef.h>

struct archive;

/* libarchive's error on a as a negative errno: a system error as it is,
 * ENOMEM as it is, libarchive's own codes (format, misuse) as fallback. */
int lm_tar_errno(struct archive *a, int fallback);
/* archive_error_string(), never NULL. */
const char *lm_tar_error_string(struct archive *a);

/*
 * Names in a tar are bytes: libarchive converts them with the thread's
 * locale, so the tar code runs in C.UTF-8 (C where missing) whatever the
 * caller's locale, for the same names and the same bytes everywhere.
 */
struct lm_tar_locale {
	locale_t loc, old;
};
int lm_tar_locale_enter(struct lm_tar_locale *l);
void lm_tar_locale_leave(struct lm_tar_locale *l);

#endif
