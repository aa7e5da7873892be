/*
 * tools/daemon/daemon.h: laminad's shared pieces: the request context an
 * endpoint gets, the endpoint tables (volume-api.c, graph-api.c), the JSON
 * request decoding (json.c) and the HTTP server (server.c).
 *
 * Endpoints only decode the request, call one liblamina function and encode
 * the reply; everything worth testing lives in the library.
 */
#ifndef LAMINA_DAEMON_H
#define LAMINA_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <lamina/lamina.h>

/* Bodies of JSON requests above this are refused. */
#define LMD_JSON_MAX (1024 * 1024)

/* The daemon-wide settings, read-only once the server runs. */
struct lmd_config {
	const char *root; /* the store root; NULL: the library's default */
	enum lamina_layer_backend backend; /* how GraphDriver.Get mounts */
};
extern struct lmd_config lmd_config;

/*
 * A JSON endpoint: reads req (an object), adds its fields to reply, returns
 * 0 or a negative errno with err filled (the server turns it into "Err").
 * store is a handle of the calling thread.
 */
typedef int (*lmd_json_fn)(struct lamina_store *store, json_t *req, json_t *reply, struct lm_error *err);

struct lmd_endpoint {
	const char *path; /* "/VolumeDriver.Create" */
	lmd_json_fn run;
};

extern const struct lmd_endpoint lmd_volume_endpoints[];
extern const size_t lmd_n_volume_endpoints;
extern const struct lmd_endpoint lmd_graph_endpoints[];
extern const size_t lmd_n_graph_endpoints;

/* --- json.c: decoding requests. Every error names the field and the cause. --- */

/* Parses a request body (empty: {}) that must be a JSON object; *ret is yours. */
int lmd_json_parse(const char *body, size_t len, json_t **ret, struct lm_error *err);

/* The string field key of req in *ret (borrowed): absent or null gives NULL,
 * or -EINVAL when required; another type is -EINVAL. */
int lmd_json_string(json_t *req, const char *key, bool required, const char **ret, struct lm_error *err);

/* The {str: str} map field key (absent or null: none) as an array of *ret_n
 * pairs pointing into req; free the array (not the strings) with free(). */
int lmd_json_map(json_t *req, const char *key, struct lamina_kv **ret, size_t *ret_n, struct lm_error *err);

/* Sets key of obj to a new reference, returning -ENOMEM when it cannot. */
int lmd_json_set(json_t *obj, const char *key, json_t *value, struct lm_error *err);

/* --- server.c --- */

struct MHD_Daemon;
/* Starts serving on the bound, listening socket fd. NULL after logging why. */
struct MHD_Daemon *lmd_server_start(int fd);
/* Stops accepting, waits for the requests in flight, stops the server. */
void lmd_server_stop(struct MHD_Daemon *daemon);

/* One request in flight: what the server and the streaming endpoints share. */
struct MHD_Connection;
struct lmd_upload;
struct lmd_request {
	struct MHD_Connection *conn;
	unsigned status;          /* of the reply queued, for the log line */
	struct lmd_upload *upload; /* ApplyDiff's worker, while it runs */
};

/* Queues a JSON reply with "Err" set from err (NULL or code 0: ""). Returns
 * an MHD_Result. */
int lmd_reply(struct lmd_request *rq, unsigned status, json_t *reply, const struct lm_error *err);
struct MHD_Response;
/* Queues resp (which it releases) with its content type and notes status
 * for the log line. Returns an MHD_Result. */
int lmd_queue(struct lmd_request *rq, unsigned status, struct MHD_Response *resp, const char *content_type);

/* --- stream.c: the raw tar endpoints, each with its own worker thread and
 * store handle, joined to the request through a pipe. --- */

/* GraphDriver.Diff: queues a response streaming the layer's changeset tar. */
int lmd_diff_respond(struct lmd_request *rq, struct lamina_store *store, json_t *req);
/* GraphDriver.ApplyDiff: start (on the first call: reads ?id=), feed (each
 * piece of the body), finish (the body is complete: queues {"Size"}). */
int lmd_apply_start(struct lmd_request *rq);
void lmd_apply_feed(struct lmd_upload *up, const char *data, size_t size);
int lmd_apply_finish(struct lmd_request *rq);
/* Ends an upload whose client went away, so that nothing is imported;
 * frees it. Takes NULL. */
void lmd_apply_abort(struct lmd_upload *up);

/* Checks Parent of a Diff/Changes/DiffSize request against the layer's own. */
int lmd_graph_check_parent(struct lamina_store *store, json_t *req, const char **ret_id, struct lm_error *err);

#endif
