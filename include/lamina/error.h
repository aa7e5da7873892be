/*
 * lamina/error.h: how the public API reports an error to a person.
 *
 * Every public function returns a negative errno on failure and, when given a
 * non-NULL struct lm_error, fills it with the same code and a one-line message
 * that names the object and the cause ("layer 'x': cannot open diff: No such
 * file or directory"). The struct is caller-owned; there is nothing to free.
 */
#ifndef LAMINA_ERROR_H
#define LAMINA_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

struct lm_error {
	int code;      /* negative errno, 0 when no error was recorded */
	char msg[512]; /* lowercase, no full stop, object first */
};

#ifdef __cplusplus
}
#endif
#endif
