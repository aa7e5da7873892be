/*
 * tools/daemon/stream.c: GraphDriver.Diff and GraphDriver.ApplyDiff, whose
 * bodies are raw tar streams. Each runs the library call in a worker thread
 * (with its own store handle) on one end of a pipe while the request thread
 * moves the HTTP body through the other, so memory stays flat whatever the
 * size of the layer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/error.h"
#include "common/log.h"
#include "daemon.h"

/* The part both kinds of stream share: a worker thread on one pipe end. */
struct stream {
	char *id;
	char *parent; /* ApplyDiff's ?parent=, to check; NULL when none */
	int fd;      /* the worker's end; the worker closes it */
	pthread_t thread;
	bool running;
	int r;       /* the worker's result */
	uint64_t size;
	struct lm_error err;
};

static void stream_join(struct stream *st)
{
	if (st->running)
		pthread_join(st->thread, NULL);
	st->running = false;
}

static int stream_start(struct stream *st, const char *id, void *(*fn)(void *), int fd, struct lm_error *err)
{
	int r;

	st->fd = fd;
	if (!(st->id = strdup(id))) {
		close(fd);
		return lm_err(err, -ENOMEM, "layer '%s'", id);
	}
	if ((r = pthread_create(&st->thread, NULL, fn, st)) != 0) {
		close(fd);
		return lm_err(err, -r, "layer '%s': cannot start a worker thread", id);
	}
	st->running = true;
	return 0;
}

/* Opens the worker's own store handle, runs call, closes its pipe end. */
static void stream_run(struct stream *st, int (*call)(struct lamina_store *, struct stream *))
{
	struct lamina_store *store;

	st->r = lamina_store_open(lmd_config.root, &store, &st->err);
	if (st->r == 0) {
		st->r = call(store, st);
		lamina_store_close(store);
	}
	close(st->fd);
	st->fd = -1;
}

/* --- Diff --- */

struct diff {
	struct stream st;
	int rfd;
};

static int diff_call(struct lamina_store *store, struct stream *st)
{
	return lamina_layer_diff(store, st->id, st->fd, &st->err);
}

static void *diff_worker(void *arg)
{
	stream_run(arg, diff_call);
	return NULL;
}

static ssize_t diff_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct diff *d = cls;
	ssize_t n;

	(void)pos;
	do
		n = read(d->rfd, buf, max);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		return n;
	stream_join(&d->st);
	if (n == 0 && d->st.r == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* Headers are out: only a cut connection can tell the client. */
	log_warn("%s", d->st.r < 0 ? d->st.err.msg : "diff: cannot read the pipe");
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* Also when the client went away: closing our end makes the worker's
 * writes fail, so it ends. */
static void diff_free(void *cls)
{
	struct diff *d = cls;

	close(d->rfd);
	stream_join(&d->st);
	free(d->st.id);
	free(d);
}

int lmd_diff_respond(struct lmd_request *rq, struct lamina_store *store, json_t *req)
{
	struct lm_error err = { 0 };
	struct MHD_Response *resp;
	struct diff *d;
	const char *id;
	int p[2];

	if (lmd_graph_check_parent(store, req, &id, &err) < 0)
		return lmd_reply(rq, MHD_HTTP_OK, NULL, &err);
	if (!(d = calloc(1, sizeof(*d))) || pipe2(p, O_CLOEXEC) < 0) {
		free(d);
		lm_err(&err, -errno, "layer '%s': diff", id);
		return lmd_reply(rq, MHD_HTTP_OK, NULL, &err);
	}
	d->rfd = p[0];
	if (stream_start(&d->st, id, diff_worker, p[1], &err) < 0) {
		diff_free(d);
		return lmd_reply(rq, MHD_HTTP_OK, NULL, &err);
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, diff_read, d, diff_free);
	if (!resp) {
		diff_free(d);
		return MHD_NO;
	}
	return lmd_queue(rq, MHD_HTTP_OK, resp, "application/x-tar");
}

/* --- ApplyDiff --- */

struct lmd_upload {
	struct stream st;
	int wfd;     /* -1 once closed, or when the worker stopped reading */
	uint64_t fed; /* bytes written to the worker */
	struct lm_error err; /* an error found before the worker ran */
};

static int apply_call(struct lamina_store *store, struct stream *st)
{
	if (st->parent) {
		json_t *req = json_pack("{s:s, s:s}", "ID", st->id, "Parent", st->parent);
		const char *id;
		int r = req ? lmd_graph_check_parent(store, req, &id, &st->err) : lm_err(&st->err, -ENOMEM, "apply diff");
		json_decref(req);
		if (r < 0)
			return r;
	}
	return lamina_layer_apply_diff(store, st->id, st->fd, &st->size, &st->err);
}

static void *apply_worker(void *arg)
{
	stream_run(arg, apply_call);
	return NULL;
}

int lmd_apply_start(struct lmd_request *rq)
{
	const char *id = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "id");
	const char *parent = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "parent");
	struct lmd_upload *up = calloc(1, sizeof(*up));
	int p[2];

	if (!up)
		return MHD_NO;
	up->wfd = -1;
	rq->upload = up;
	if (!id || !*id)
		return lm_err_plain(&up->err, -EINVAL, "GraphDriver.ApplyDiff: the query has no id"), MHD_YES;
	if (parent && *parent && !(up->st.parent = strdup(parent)))
		return lm_err(&up->err, -ENOMEM, "layer '%s': apply diff", id), MHD_YES;
	if (pipe2(p, O_CLOEXEC) < 0)
		return lm_err(&up->err, -errno, "layer '%s': apply diff", id), MHD_YES;
	up->wfd = p[1];
	if (stream_start(&up->st, id, apply_worker, p[0], &up->err) < 0) {
		close(up->wfd);
		up->wfd = -1;
	}
	return MHD_YES;
}

void lmd_apply_feed(struct lmd_upload *up, const char *data, size_t size)
{
	while (up->wfd >= 0 && size) {
		ssize_t n = write(up->wfd, data, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			/* The worker stopped reading (it failed): it has the reason. */
			close(up->wfd);
			up->wfd = -1;
			return;
		}
		data += n;
		size -= (size_t)n;
		up->fed += (uint64_t)n;
	}
}

static void upload_free(struct lmd_upload *up)
{
	if (up->wfd >= 0)
		close(up->wfd);
	up->wfd = -1;
	stream_join(&up->st);
	free(up->st.id);
	free(up->st.parent);
	free(up);
}

int lmd_apply_finish(struct lmd_request *rq)
{
	struct lmd_upload *up = rq->upload;
	const struct lm_error *err = &up->err;
	json_t *reply = NULL;
	int ret;

	if (up->wfd >= 0)
		close(up->wfd);
	up->wfd = -1;
	stream_join(&up->st);
	if (!err->code) {
		err = &up->st.err;
		if (up->st.r == 0)
			reply = json_pack("{s:I}", "Size", (json_int_t)up->st.size);
	}
	ret = lmd_reply(rq, MHD_HTTP_OK, reply, err);
	rq->upload = NULL;
	upload_free(up);
	return ret;
}

/*
 * A tar cut at an entry boundary reads as a complete, shorter tar, so a
 * closed pipe alone could import half a layer. Before closing, the stream is
 * padded to a 512-byte block and followed by headers of a file far longer
 * than what follows: wherever the cut fell, the tar reads as truncated and
 * lamina_layer_apply_diff (all or nothing) imports none of it.
 */
static void poison_block(char h[512])
{
	unsigned sum = 0;

	memset(h, 0, 512);
	strcpy(h, "lamina-upload-cut-short");
	memcpy(h + 100, "0000644", 8);
	memcpy(h + 108, "0000000", 8);
	memcpy(h + 116, "0000000", 8);
	memcpy(h + 124, "77777777777", 12);
	memcpy(h + 136, "00000000000", 12);
	memset(h + 148, ' ', 8);
	h[156] = '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	for (int i = 0; i < 512; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
}

void lmd_apply_abort(struct lmd_upload *up)
{
	static const char zeros[512];
	char h[512];

	if (!up)
		return;
	if (up->wfd >= 0) {
		poison_block(h);
		lmd_apply_feed(up, zeros, (512 - up->fed % 512) % 512);
		lmd_apply_feed(up, h, sizeof(h));
		lmd_apply_feed(up, h, sizeof(h));
	}
	if (up->wfd >= 0)
		close(up->wfd);
	up->wfd = -1;
	stream_join(&up->st);
	if (up->st.r < 0)
		log_warn("apply diff cut short by the client: %s", up->st.err.msg);
	upload_free(up);
}
