/*
 * tests/lib/plugclient.c: the plugin protocol test client (plugclient.h):
 * HTTP/1.1 POSTs over a unix socket, written by hand on send/recv (libcurl
 * is not a dependency), and replies read by Content-Length, chunked or
 * until the close.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tests/lib/plugclient.h"
#include "tests/lib/testlib.h"

static int say(char *why, size_t why_size, int ret, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int say(char *why, size_t why_size, int ret, const char *fmt, ...)
{
	if (why && why_size) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return ret;
}

void pc_reply_release(struct pc_reply *r)
{
	free(r->body);
	free(r->content_type);
	*r = (struct pc_reply){ 0 };
}

int pc_connect(const char *path, char *why, size_t why_size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return say(why, why_size, -ENAMETOOLONG, "socket path '%s' too long", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return say(why, why_size, -errno, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return say(why, why_size, -e, "connect '%s': %s", path, strerror(e));
	}
	return fd;
}

int pc_send_raw(int fd, const void *data, size_t len, char *why, size_t why_size)
{
	const char *p = data;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return say(why, why_size, -errno, "send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pc_send_head(int fd, const char *target, long content_length, char *why, size_t why_size)
{
	char head[1024], length[64];
	if (content_length < 0)
		snprintf(length, sizeof(length), "Transfer-Encoding: chunked");
	else
		snprintf(length, sizeof(length), "Content-Length: %ld", content_length);
	int n = snprintf(head, sizeof(head),
			 "POST %s HTTP/1.1\r\nHost: plugin\r\nUser-Agent: lamina-plugclient\r\n"
			 "Accept: " PC_ACCEPT "\r\nContent-Type: application/json\r\n%s\r\nConnection: close\r\n\r\n",
			 target, length);
	if (n < 0 || (size_t)n >= sizeof(head))
		return say(why, why_size, -ENAMETOOLONG, "request head for '%s' too long", target);
	return pc_send_raw(fd, head, (size_t)n, why, why_size);
}

int pc_send_chunk(int fd, const void *data, size_t len, char *why, size_t why_size)
{
	char size[32];
	int n = snprintf(size, sizeof(size), "%zx\r\n", len);
	int r = pc_send_raw(fd, size, (size_t)n, why, why_size);
	if (r == 0 && len)
		r = pc_send_raw(fd, data, len, why, why_size);
	if (r == 0)
		r = pc_send_raw(fd, "\r\n", 2, why, why_size);
	return r;
}

/* A read buffer over the socket. */
struct rd {
	int fd;
	char buf[16384];
	size_t pos, end;
	bool eof;
};

static int rd_fill(struct rd *rd)
{
	if (rd->pos < rd->end)
		return 0;
	if (rd->eof)
		return -ENODATA;
	ssize_t n;
	do
		n = recv(rd->fd, rd->buf, sizeof(rd->buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	rd->pos = 0;
	rd->end = (size_t)n;
	rd->eof = n == 0;
	return n == 0 ? -ENODATA : 0;
}

/* One header line without its CRLF, into line (NUL-terminated). */
static int rd_line(struct rd *rd, char *line, size_t size)
{
	size_t n = 0;
	for (;;) {
		int r = rd_fill(rd);
		if (r < 0)
			return r;
		char c = rd->buf[rd->pos++];
		if (c == '\n')
			break;
		if (n + 1 >= size)
			return -E2BIG;
		line[n++] = c;
	}
	if (n && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return 0;
}

/* Appends up to want bytes (SIZE_MAX: until the close) of body to r. */
static int rd_body(struct rd *rd, struct pc_reply *r, size_t want)
{
	while (want) {
		int e = rd_fill(rd);
		if (e == -ENODATA && want == SIZE_MAX)
			return 0;
		if (e < 0)
			return e;
		size_t n = rd->end - rd->pos;
		if (n > want)
			n = want;
		r->body = tl_realloc(r->body, r->len + n + 1);
		memcpy(r->body + r->len, rd->buf + rd->pos, n);
		r->len += n;
		r->body[r->len] = '\0';
		rd->pos += n;
		if (want != SIZE_MAX)
			want -= n;
	}
	return 0;
}

static int rd_chunked(struct rd *rd, struct pc_reply *r, char *why, size_t why_size)
{
	char line[256];
	for (;;) {
		int e = rd_line(rd, line, sizeof(line));
		if (e < 0)
			return say(why, why_size, e, "reading a chunk size: %s", strerror(-e));
		char *end;
		unsigned long size = strtoul(line, &end, 16);
		if (end == line)
			return say(why, why_size, -EPROTO, "bad chunk size line '%s'", line);
		if (size == 0)
			break;
		e = rd_body(rd, r, size);
		if (e == 0)
			e = rd_line(rd, line, sizeof(line));
		if (e < 0)
			return say(why, why_size, e, "reading a chunk: %s", strerror(-e));
	}
	while (rd_line(rd, line, sizeof(line)) == 0 && line[0]) /* trailers */
		;
	return 0;
}

int pc_read_reply(int fd, struct pc_reply *r, char *why, size_t why_size)
{
	static struct rd zero;
	struct rd *rd = tl_malloc(sizeof(*rd));
	*rd = zero;
	rd->fd = fd;
	*r = (struct pc_reply){ .body = tl_strdup("") };
	char line[8192];
	long length = -1;
	int e = rd_line(rd, line, sizeof(line));
	if (e < 0 || sscanf(line, "HTTP/1.%*d %d", &r->status) != 1) {
		e = say(why, why_size, e < 0 ? e : -EPROTO, "no status line (%s)",
			e < 0 ? strerror(-e) : line);
		goto out;
	}
	while ((e = rd_line(rd, line, sizeof(line))) == 0 && line[0]) {
		char *v = strchr(line, ':');
		if (!v)
			continue;
		*v++ = '\0';
		v += strspn(v, " \t");
		if (!strcasecmp(line, "Content-Length"))
			length = strtol(v, NULL, 10);
		else if (!strcasecmp(line, "Transfer-Encoding") && strcasestr(v, "chunked"))
			r->chunked = true;
		else if (!strcasecmp(line, "Content-Type"))
			r->content_type = tl_strdup(v);
	}
	if (e < 0) {
		e = say(why, why_size, e, "reading the headers: %s", strerror(-e));
		goto out;
	}
	if (r->chunked)
		e = rd_chunked(rd, r, why, why_size);
	else if ((e = rd_body(rd, r, length < 0 ? SIZE_MAX : (size_t)length)) < 0)
		say(why, why_size, e, "reading the body (%zu of %ld bytes): %s", r->len, length, strerror(-e));
out:
	free(rd);
	return e;
}

static int send_body(int fd, const char *target, const void *body, size_t len, size_t piece, char *why,
		     size_t why_size)
{
	int r = pc_send_head(fd, target, piece ? -1 : (long)len, why, why_size);
	if (r < 0 || !piece)
		return r < 0 ? r : pc_send_raw(fd, body, len, why, why_size);
	for (size_t off = 0; off < len && r == 0; off += piece)
		r = pc_send_chunk(fd, (const char *)body + off, len - off < piece ? len - off : piece, why, why_size);
	return r < 0 ? r : pc_send_chunk(fd, NULL, 0, why, why_size);
}

int pc_post(const char *sock, const char *target, const void *body, size_t len, size_t piece, struct pc_reply *r,
	    char *why, size_t why_size)
{
	*r = (struct pc_reply){ 0 };
	int fd = pc_connect(sock, why, why_size);
	if (fd < 0)
		return fd;
	char send_why[256] = "";
	int sent = send_body(fd, target, body, len, piece, send_why, sizeof(send_why));
	/* a server may answer (413, 400) before reading the whole body */
	int ret = pc_read_reply(fd, r, why, why_size);
	if (ret < 0 && sent < 0)
		say(why, why_size, sent, "%s (after %s)", send_why, "the reply could not be read either");
	close(fd);
	return ret;
}

json_t *pc_reply_json(const struct pc_reply *r)
{
	return r->body ? json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL) : NULL;
}
