/*
 * common/error.h: filling struct lm_error (see <lamina/error.h>).
 */
#ifndef LAMINA_COMMON_ERROR_H
#define LAMINA_COMMON_ERROR_H

#include <lamina/error.h>

/*
 * Records r (a negative errno) and the message "FMT: cause" in err (may be
 * NULL) and returns r, so a failing function ends with
 * "return lm_err(err, r, \"layer '%s': cannot open diff\", id);".
 * Thread-safety: safe.
 */
int lm_err(struct lm_error *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* As lm_err, without appending the errno's description (for errors that are
 * not system errors, such as "unknown option 'x'"). */
int lm_err_plain(struct lm_error *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * name (a file name from outside: any bytes) made fit for a message, in
 * buf: bytes outside printable ASCII, quotes and backslashes as \xNN, cut
 * with "..." to fit size (at least 16). Returns buf. Thread-safety: safe.
 */
const char *lm_err_name(const char *name, char *buf, size_t size);

/* Puts "FMT: " in front of the message already in err, on the way up. */
int lm_err_prefix(struct lm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
