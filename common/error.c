/*
 * common/error.c: builds the messages of struct lm_error. No heap, so it
 * works when memory is short and in any thread.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"

static int err_vfill(struct lm_error *err, int r, int with_cause, const char *fmt, va_list ap)
{
	if (!err)
		return r;
	err->code = r;
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (with_cause && n >= 0 && (size_t)n < sizeof(err->msg)) {
		const char *cause = strerrordesc_np(-r);
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", cause ? cause : "unknown error");
	}
	return r;
}

int lm_err(struct lm_error *err, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vfill(err, r, 1, fmt, ap);
	va_end(ap);
	return r;
}

int lm_err_plain(struct lm_error *err, int r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	err_vfill(err, r, 0, fmt, ap);
	va_end(ap);
	return r;
}

const char *lm_err_name(const char *name, char *buf, size_t size)
{
	size_t o = 0;
	const size_t cut = size - 8; /* room for one "\xNN", "..." and the NUL */
	for (const unsigned char *p = (const unsigned char *)(name ? name : ""); *p; p++) {
		if (o >= cut) {
			snprintf(buf + o, size - o, "...");
			return buf;
		}
		if (*p < 0x20 || *p >= 0x7f || *p == '\\' || *p == '\'')
			o += snprintf(buf + o, size - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o] = '\0';
	return buf;
}

int lm_err_prefix(struct lm_error *err, const char *fmt, ...)
{
	if (!err)
		return 0;
	char prefix[sizeof(err->msg)];
	char old[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* "PREFIX: OLD", cut at the buffer's end */
	size_t pl = strnlen(prefix, sizeof(err->msg) - 3);
	memcpy(err->msg, prefix, pl);
	memcpy(err->msg + pl, ": ", 2);
	size_t room = sizeof(err->msg) - pl - 3;
	size_t ol = strnlen(old, room);
	memcpy(err->msg + pl + 2, old, ol);
	err->msg[pl + 2 + ol] = '\0';
	return err->code;
}
