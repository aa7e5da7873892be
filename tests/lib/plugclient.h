/*
 * tests/lib/plugclient.h: a minimal HTTP/1.1 client over a unix socket, for
 * the Docker plugin protocols laminad serves (part of libtesthelp.la).
 *
 * One request per connection, "Connection: close", as dockerd's plugin
 * client is free to do. Requests are POSTs with the headers dockerd sends
 * (Accept: application/vnd.docker.plugins.v1.2+json); the body goes either
 * with a Content-Length or chunked (ApplyDiff). The reply is read whole:
 * by Content-Length, chunked, or until the server closes.
 *
 * The low-level calls (pc_connect, pc_send_head, pc_send_chunk,
 * pc_read_reply) let a test stop half-way through a body, or do something
 * between two chunks. Writes never raise SIGPIPE (MSG_NOSIGNAL).
 *
 * Nothing here ends the test: every call returns 0 or -errno with a
 * sentence in why (why_size bytes, may be 0), so a test can tell "the
 * daemon dropped the connection" from "the daemon answered an error".
 * Thread-safety: the calls share no state; threads may use them at once.
 */
#ifndef LAMINA_TESTS_PLUGCLIENT_H
#define LAMINA_TESTS_PLUGCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* The Accept header dockerd 20.10 sends with every plugin call. */
#define PC_ACCEPT "application/vnd.docker.plugins.v1.2+json"

/* A reply. Zero it, or let pc_read_reply() fill it; release it after. */
struct pc_reply {
	int status;          /* HTTP status code */
	char *body;          /* malloc'd, NUL-terminated (may hold NULs: a tar) */
	size_t len;          /* bytes of body */
	char *content_type;  /* malloc'd, or NULL when the header was absent */
	bool chunked;        /* the reply came with Transfer-Encoding: chunked */
};
void pc_reply_release(struct pc_reply *r);

/* Connects to the unix socket at path. Returns the fd, or -errno. */
int pc_connect(const char *path, char *why, size_t why_size);

/* Sends the request line and headers of a POST to target ("/Plugin.Activate"):
 * with "Content-Length: content_length", or chunked when content_length < 0. */
int pc_send_head(int fd, const char *target, long content_length, char *why, size_t why_size);
/* Sends len bytes as they are (a Content-Length body, or junk). */
int pc_send_raw(int fd, const void *data, size_t len, char *why, size_t why_size);
/* Sends one chunk of a chunked body; len 0 sends the last chunk. */
int pc_send_chunk(int fd, const void *data, size_t len, char *why, size_t why_size);

/* Reads the status line, headers and body of the reply, up to the end of
 * the body (or the close). */
int pc_read_reply(int fd, struct pc_reply *r, char *why, size_t why_size);

/*
 * A whole request on a new connection: POST target with body (len bytes;
 * NULL/0: an empty body, as Plugin.Activate has). piece > 0 sends the body
 * chunked, piece bytes per chunk. When the server stops reading the body
 * (it answered early, or dropped us), the reply is read all the same.
 */
int pc_post(const char *sock, const char *target, const void *body, size_t len, size_t piece, struct pc_reply *r,
	    char *why, size_t why_size);

/* The reply's body as JSON, or NULL when it is not JSON (new reference). */
json_t *pc_reply_json(const struct pc_reply *r);

#endif
