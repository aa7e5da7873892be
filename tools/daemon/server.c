/*
 * tools/daemon/server.c: the HTTP side of laminad, on libmicrohttpd with a
 * thread per connection (so a slow Diff or ApplyDiff never holds up other
 * calls): routing a POST /Subsystem.Method to its endpoint, gathering JSON
 * bodies up to LMD_JSON_MAX, Docker's error convention (HTTP 200 with "Err"),
 * one log line per request, and a shutdown that lets requests in flight end.
 * Every request opens its own store handle (the API is per-handle) and
 * closes it when it is done.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "common/error.h"
#include "common/log.h"
#include "daemon.h"

enum route { R_UNKNOWN, R_ACTIVATE, R_JSON, R_DIFF, R_APPLY };

struct srv_request {
	struct lmd_request rq;
	struct timespec start;
	enum route route;
	const struct lmd_endpoint *ep;
	char *method, *path;
	char *body;
	size_t len;
	bool done; /* a reply is queued */
};

/* Requests in flight, so that a shutdown can wait for them. */
static pthread_mutex_t inflight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t inflight_cond = PTHREAD_COND_INITIALIZER;
static unsigned inflight;

static void inflight_add(int d)
{
	pthread_mutex_lock(&inflight_lock);
	inflight += d;
	if (inflight == 0)
		pthread_cond_broadcast(&inflight_cond);
	pthread_mutex_unlock(&inflight_lock);
}

int lmd_reply(struct lmd_request *rq, unsigned status, json_t *reply, const struct lm_error *err)
{
	struct MHD_Response *resp;
	char *text;

	if (!reply)
		reply = json_object();
	if (reply)
		json_object_set_new(reply, "Err", json_string(err && err->code ? err->msg : ""));
	text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	json_decref(reply);
	if (!text)
		return MHD_NO; /* out of memory: drop the connection */
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	return lmd_queue(rq, status, resp, "application/vnd.docker.plugins.v1.1+json");
}

int lmd_queue(struct lmd_request *rq, unsigned status, struct MHD_Response *resp, const char *content_type)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	enum MHD_Result ret = MHD_queue_response(rq->conn, status, resp);
	MHD_destroy_response(resp);
	rq->status = status;
	return ret;
}

static const struct lmd_endpoint *find_endpoint(const char *path)
{
	for (size_t i = 0; i < lmd_n_volume_endpoints; i++)
		if (strcmp(path, lmd_volume_endpoints[i].path) == 0)
			return &lmd_volume_endpoints[i];
	for (size_t i = 0; i < lmd_n_graph_endpoints; i++)
		if (strcmp(path, lmd_graph_endpoints[i].path) == 0)
			return &lmd_graph_endpoints[i];
	return NULL;
}

static void route(struct srv_request *s)
{
	if (strcmp(s->path, "/Plugin.Activate") == 0)
		s->route = R_ACTIVATE;
	else if (strcmp(s->path, "/GraphDriver.Diff") == 0)
		s->route = R_DIFF;
	else if (strcmp(s->path, "/GraphDriver.ApplyDiff") == 0)
		s->route = R_APPLY;
	else if ((s->ep = find_endpoint(s->path)))
		s->route = R_JSON;
}

/* A request whose reply is decided before its body is read: the body is
 * then not read, and MHD closes the connection after the reply. */
static int refuse(struct srv_request *s, unsigned status, const char *why)
{
	struct lm_error err = { 0 };

	lm_err_plain(&err, -EINVAL, "%s: %s", s->path, why);
	s->done = true;
	return lmd_reply(&s->rq, status, NULL, &err);
}

static int first_call(struct srv_request *s)
{
	const char *length = MHD_lookup_connection_value(s->rq.conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (strcmp(s->method, "POST") != 0)
		return refuse(s, MHD_HTTP_METHOD_NOT_ALLOWED, "plugin calls are POST");
	if (s->route == R_UNKNOWN)
		return refuse(s, MHD_HTTP_NOT_FOUND, "no such endpoint");
	if (s->route == R_APPLY)
		return lmd_apply_start(&s->rq);
	if (length && strtoull(length, NULL, 10) > LMD_JSON_MAX)
		return refuse(s, MHD_HTTP_CONTENT_TOO_LARGE, "request body over 1 MiB");
	return MHD_YES;
}

/* Gathers a JSON body; a chunked one over the limit is remembered as such. */
static void gather(struct srv_request *s, const char *data, size_t size)
{
	char *p;

	if (s->len > LMD_JSON_MAX)
		return;
	if (s->len + size > LMD_JSON_MAX || !(p = realloc(s->body, s->len + size + 1))) {
		s->len = LMD_JSON_MAX + 1;
		return;
	}
	memcpy(p + s->len, data, size);
	s->body = p;
	s->len += size;
}

static int run_json(struct srv_request *s)
{
	struct lamina_store *store = NULL;
	struct lm_error err = { 0 };
	json_t *req = NULL, *reply = json_object();
	int r, ret;

	if (s->len > LMD_JSON_MAX)
		return json_decref(reply), refuse(s, MHD_HTTP_CONTENT_TOO_LARGE, "request body over 1 MiB");
	r = lmd_json_parse(s->body, s->len, &req, &err);
	if (r == 0 && s->route == R_ACTIVATE) {
		r = lmd_json_set(reply, "Implements", json_pack("[s,s]", "VolumeDriver", "GraphDriver"), &err);
	} else if (r == 0 && (r = lamina_store_open(lmd_config.root, &store, &err)) == 0) {
		if (s->route == R_DIFF) {
			json_decref(reply);
			ret = lmd_diff_respond(&s->rq, store, req);
			goto out;
		}
		r = s->ep->run(store, req, reply, &err);
	}
	if (r < 0) {
		json_decref(reply);
		reply = NULL;
	}
	ret = lmd_reply(&s->rq, MHD_HTTP_OK, reply, &err);
out:
	json_decref(req);
	lamina_store_close(store);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				 const char *version, const char *data, size_t *size, void **con_cls)
{
	struct srv_request *s = *con_cls;

	(void)cls;
	(void)version;
	if (!s) {
		if (!(s = calloc(1, sizeof(*s))) || !(s->method = strdup(method)) || !(s->path = strdup(url))) {
			if (s)
				free(s->method);
			free(s);
			return MHD_NO;
		}
		*con_cls = s;
		s->rq.conn = conn;
		clock_gettime(CLOCK_MONOTONIC, &s->start);
		inflight_add(1);
		route(s);
		return first_call(s);
	}
	if (s->done) {
		*size = 0;
		return MHD_YES;
	}
	if (*size) {
		if (s->route == R_APPLY)
			lmd_apply_feed(s->rq.upload, data, *size);
		else
			gather(s, data, *size);
		*size = 0;
		return MHD_YES;
	}
	s->done = true;
	return s->route == R_APPLY ? lmd_apply_finish(&s->rq) : run_json(s);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct srv_request *s = *con_cls;
	struct timespec end;

	(void)cls;
	(void)conn;
	if (!s)
		return;
	clock_gettime(CLOCK_MONOTONIC, &end);
	lmd_apply_abort(s->rq.upload); /* still there: the client went away mid-upload */
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		log_info("%s %s %u (connection ended early) %.1f ms", s->method, s->path, s->rq.status,
			 (end.tv_sec - s->start.tv_sec) * 1e3 + (end.tv_nsec - s->start.tv_nsec) / 1e6);
	else
		log_info("%s %s %u %.1f ms", s->method, s->path, s->rq.status,
			 (end.tv_sec - s->start.tv_sec) * 1e3 + (end.tv_nsec - s->start.tv_nsec) / 1e6);
	free(s->body);
	free(s->method);
	free(s->path);
	free(s);
	*con_cls = NULL;
	inflight_add(-1);
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_warn("http: %s", line);
}

struct MHD_Daemon *lmd_server_start(int fd)
{
	struct MHD_Daemon *d;

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ITC |
				     MHD_USE_ERROR_LOG,
			     0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, NULL,
			     MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (!d)
		log_error("cannot start the HTTP server");
	return d;
}

void lmd_server_stop(struct MHD_Daemon *d)
{
	MHD_socket fd = MHD_quiesce_daemon(d);

	pthread_mutex_lock(&inflight_lock);
	if (inflight)
		log_info("waiting for %u requests in flight", inflight);
	while (inflight)
		pthread_cond_wait(&inflight_cond, &inflight_lock);
	pthread_mutex_unlock(&inflight_lock);
	MHD_stop_daemon(d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}
