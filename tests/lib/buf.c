/*
 * tests/lib/buf.c: struct tl_buf, tl_fail() and the allocation helpers that
 * end the test instead of returning NULL. Everything else in the library
 * builds its messages with these.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/testlib.h"

static void default_fail_handler(const char *msg)
{
	ck_abort_msg("%s", msg);
}

/* The one piece of mutable global state: set once by a program's main(). */
static void (*fail_handler)(const char *msg) = default_fail_handler;

void tl_set_fail_handler(void (*handler)(const char *msg))
{
	fail_handler = handler ? handler : default_fail_handler;
}

void tl_fail(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail_handler(msg);
	abort(); /* a handler must not return */
}

void *tl_malloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		tl_fail("out of memory (%zu bytes)", size);
	return p;
}

void *tl_realloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	if (!q)
		tl_fail("out of memory (%zu bytes)", size);
	return q;
}

char *tl_strdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(tl_malloc(n), s, n);
}

char *tl_strdupf(const char *fmt, ...)
{
	struct tl_buf b = TL_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	tl_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return b.s ? b.s : tl_strdup("");
}

static void buf_grow(struct tl_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->alloc)
		return;
	b->alloc = (b->len + extra + 1) * 2;
	b->s = tl_realloc(b->s, b->alloc);
}

void tl_buf_vprintf(struct tl_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		tl_fail("bad format '%s'", fmt);
	buf_grow(b, (size_t)n);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void tl_buf_printf(struct tl_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tl_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void tl_buf_escape(struct tl_buf *b, const void *data, size_t len, size_t max)
{
	const unsigned char *p = data;
	size_t n = len < max ? len : max;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n')
			tl_buf_printf(b, "\\n");
		else if (p[i] == '\t')
			tl_buf_printf(b, "\\t");
		else if (p[i] == '\\')
			tl_buf_printf(b, "\\\\");
		else if (p[i] < 0x20 || p[i] >= 0x7f)
			tl_buf_printf(b, "\\x%02x", p[i]);
		else
			tl_buf_printf(b, "%c", p[i]);
	}
	if (n < len)
		tl_buf_printf(b, "...");
	if (!b->s) {
		buf_grow(b, 0);
		b->s[0] = '\0';
	}
}

const char *tl_buf_str(const struct tl_buf *b)
{
	return b->s ? b->s : "";
}

void tl_buf_release(struct tl_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->alloc = 0;
}

const char *tl_errname(int err)
{
	static char unknown[32];
	const char *name = err ? strerrorname_np(err) : "0";

	if (name)
		return name;
	snprintf(unknown, sizeof(unknown), "E%d", err);
	return unknown;
}
