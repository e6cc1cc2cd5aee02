/*
 * HTTP transport for `custodian serve`: a libmicrohttpd server (epoll, thread
 * pool sized to the cores) with a small route table, JSON request bodies
 * parsed with jansson, RFC 9457 problem+json errors, security headers on
 * every response, /healthz and /metrics built in, and a process-wide metrics
 * registry in Prometheus text format.
 *
 * The server knows nothing about the business: the caller registers routes
 * `{method, pattern, handler}` in `struct http_config` and the handlers call
 * the service layer.  A pattern is a literal path that may contain at most one
 * `{name}` segment matching one non-empty path segment ("/v1/cases/{id}/reveal").
 *
 * Threads: handlers run on the server's pool threads, several at once; `app`
 * is shared between them, so it must be thread-safe.
 *
 * Bodies are limited to the server's body_limit (64 KiB by default); a route
 * may name a larger limit, and must then authorise the caller from the
 * headers alone (http_route.authorize), before any of the body is read.
 * Large bodies in flight share a budget; server.c says how.
 */
#ifndef CU_HTTP_H
#define CU_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/common.h"

/* Base of every problem `type` URI; the slug is appended. */
#define HTTP_PROBLEM_BASE       "https://custodian.invalid/problems/"
#define HTTP_DEFAULT_LISTEN     "127.0.0.1:8080"
#define HTTP_DEFAULT_BODY_LIMIT ((size_t)64 * 1024)
#define HTTP_DEFAULT_TIMEOUT_S  30u
#define HTTP_DEFAULT_CONN_LIMIT 1024u
#define HTTP_DEFAULT_GRACE_S    10u
/* Retry-After (seconds) of a 503 server-busy: the large-body budget is spent. */
#define HTTP_LARGE_RETRY_AFTER "10"
/*
 * Each connection's memory: the request line and headers must fit in it, with
 * the answer's headers (a request whose headers do not fit gets 431).  It
 * holds the 8 KiB header line that common servers allow.  libmicrohttpd
 * zeroes the used part after every request of a kept-alive connection, so
 * its 32 KiB default cost a memset of that size per request.  Bodies do not
 * count: they are passed on in pieces and bounded by the body limit.
 */
#define HTTP_CONNECTION_MEMORY (16 * 1024)

struct MHD_Connection;
struct http_server;

/*
 * One request as a handler sees it.  Every pointer is borrowed and valid only
 * during the handler call.
 */
struct http_request {
    const char *method;          /* "GET", "POST", ... */
    const char *path;            /* percent-decoded path, without the query */
    const char *route;           /* the matched route pattern ("/v1/cases/{id}") */
    const char *param;           /* value of the {param} segment, or NULL */
    const char *client_addr;     /* numeric client address ("127.0.0.1", "::1") */
    const char *request_id;      /* 32 random hex digits, also sent as X-Request-Id */
    json_t *body;                /* parsed JSON body, or NULL when the body was empty */
    struct MHD_Connection *conn; /* internal */
    void *state;                 /* internal */
};

/* Extra response header; internal to the server, set with http_response_header. */
struct http_header {
    char *name;
    char *value;
};

/*
 * What a handler answers.  Handlers use the functions below rather than the
 * fields.  A handler that sets nothing and returns CU_OK answers 204; one
 * that returns an error code without setting a status answers 500
 * `internal` (the code is logged, never sent).
 */
struct http_response {
    int status;
    json_t *json; /* owned */
    char *text;   /* owned, used when json is NULL */
    size_t text_len;
    char *content_type;          /* owned */
    struct http_header *headers; /* owned */
    size_t n_headers;
};

/* Request handler: returns CU_OK or an enum cu_err (see struct http_response). */
typedef int (*http_handler_fn)(void *app, struct http_request *req, struct http_response *res);

/*
 * A route.  A body_limit above the server's makes the route take large
 * bodies, and then `authorize` is required: it is called on the first
 * access-handler call for the request, with the request line and headers
 * complete and no body read (req->body is NULL), on a server thread, and
 * must answer at once (no http_defer).  To refuse, it answers (http_problem:
 * 401, 403 ...) and returns CU_OK; that answer is sent and the body is never
 * read.  To let the request go on, it leaves the response unset and returns
 * CU_OK; the handler then runs as usual once the body has arrived (and should
 * check again: a session may end during a long upload).  An error code
 * without an answer is a 500.  http_config.finish runs after it.  Routes
 * with the server's limit may have one too.
 */
struct http_route {
    const char *method;  /* "GET", "POST", ... (exact match; GET routes also answer HEAD) */
    const char *pattern; /* "/v1/cases/{id}/verify" */
    http_handler_fn handler;
    size_t body_limit;         /* largest request body for this route; 0: the server's */
    http_handler_fn authorize; /* before the body; NULL: none (see above) */
};

/*
 * Server settings; zero fields take the defaults above.  `routes` is copied
 * by http_server_start, so the table may be temporary.  GET /healthz and
 * GET /metrics are always served and cannot be overridden.
 */
struct http_config {
    const char *listen;  /* "127.0.0.1:8080", "[::1]:8080", ":8080"; port 0 picks a free one */
    unsigned threads;    /* thread pool size; 0: sysconf(_SC_NPROCESSORS_ONLN) */
    unsigned timeout_s;  /* idle connection timeout */
    unsigned conn_limit; /* concurrent connections */
    unsigned grace_s;    /* how long http_server_stop waits for in-flight requests */
    size_t body_limit;   /* largest accepted request body in bytes (413 above) */
    /* Bytes of large bodies (routes with a limit above body_limit) that may
     * be in flight at once; a request that would exceed it gets 503
     * server-busy before its body is read.  0: twice the largest route
     * limit; less than that limit is refused. */
    size_t large_body_budget;
    /* HTTPS: the certificate chain and its private key, PEM text (both or
     * neither); every answer then carries Strict-Transport-Security. */
    const char *tls_cert;
    const char *tls_key;
    const struct http_route *routes;
    size_t n_routes;
    void *app; /* passed to every handler, not owned */
    /* Called (with app) before each GET /metrics renders, to bring
     * metrics kept elsewhere up to date; may be NULL. */
    void (*collect)(void *app);
    /* Called (with app) on the handler's thread after each handler
     * returns, to end per-request state; may be NULL. */
    void (*finish)(void *app);
};

/*
 * Starts the server and stores it in *out.  Fails with CU_ERR_INVALID on a
 * bad listen address or route table and CU_ERR_IO when the address cannot be
 * bound; *errmsg then says why.
 */
int http_server_start(const struct http_config *cfg, struct http_server **out,
                      char **errmsg) CU_WUR;

/* The bound TCP port (useful after listening on port 0). */
uint16_t http_server_port(const struct http_server *srv);

/*
 * Graceful stop: stops accepting connections, lets in-flight requests finish
 * (up to grace_s), then stops the threads and frees the server.  NULL is a
 * no-op.
 */
void http_server_stop(struct http_server *srv);

/*
 * Deferred answers.  A handler whose answer must wait for something that
 * completes on another thread (an audit entry becoming durable) calls
 * http_defer(), which gives it the response to fill later, starts that
 * work and returns CU_OK at once: the server thread is free for other
 * connections meanwhile.  Whoever completes the work fills *res (with
 * http_json, http_problem ...) and calls http_finish() exactly once, from
 * any thread; the server then sends it.  Until http_finish the handler's
 * thread must not touch *res, and after it nobody may.  Every deferred
 * request must be finished: a graceful stop waits for them.
 */
struct http_deferred;
struct http_deferred *http_defer(struct http_request *req, struct http_response **res);
void http_finish(struct http_deferred *d);

/* ---- requests ---------------------------------------------------------- */

/* Query parameter `name` (decoded), or NULL.  Borrowed. */
const char *http_query(const struct http_request *req, const char *name);

/* Request header `name` (case-insensitive), or NULL.  Borrowed. */
const char *http_header(const struct http_request *req, const char *name);

/*
 * The token of an `Authorization: Bearer TOKEN` header, or NULL when the
 * header is missing, uses another scheme or is empty.  Borrowed.  Never log
 * or echo it.
 */
const char *http_bearer_token(const struct http_request *req);

/* ---- responses --------------------------------------------------------- */

/* Answers `status` with a JSON body; takes ownership of json (NULL: no body). */
void http_json(struct http_response *res, int status, json_t *json);

/* Answers `status` with text bytes (copied) of the given content type. */
void http_text(struct http_response *res, int status, const char *content_type, const char *text,
               size_t len);

/* Adds a response header (both strings copied). */
void http_response_header(struct http_response *res, const char *name, const char *value);

/*
 * Answers an RFC 9457 application/problem+json error:
 * {"type": HTTP_PROBLEM_BASE slug, "title": from the slug table, "status",
 * "detail"}.  detail may be NULL; it must never hold a personal value, a
 * token or request content.  Known slugs: invalid-input, invalid-json,
 * unauthorized, forbidden, not-found, method-not-allowed, conflict,
 * payload-too-large, account-suspended, limit-reached, case-not-verified,
 * case-expired, case-closed, audit-unavailable, server-busy, internal.
 */
void http_problem(struct http_response *res, int status, const char *slug, const char *detail);

/* Title for a problem slug, or NULL when the slug is unknown. */
const char *http_problem_title(const char *slug);

/* ---- metrics (process-wide, thread-safe) -------------------------------- */

/*
 * A metric is a name plus a label set written the Prometheus way without
 * braces (`route="/v1/me",status="200"`, NULL for none; values must already
 * be escaped, see http_metric_escape).  The first use of a name fixes its
 * type; a use of another type for that name is ignored.
 */
void http_metric_inc(const char *name, const char *labels);               /* counter += 1 */
void http_metric_add(const char *name, const char *labels, double v);     /* counter += v */
void http_metric_set(const char *name, const char *labels, double v);     /* gauge = v */
void http_metric_observe(const char *name, const char *labels, double s); /* histogram */

/* Histogram buckets in seconds (le bounds, +Inf implied). */
extern const double http_metric_buckets[];
extern const size_t http_metric_n_buckets;

/* Current value (counter, gauge) or observation count (histogram); 0 if unknown. */
double http_metric_value(const char *name, const char *labels);

/* Appends every metric in Prometheus text format 0.0.4 to out. */
void http_metrics_render(struct buf *out);

/* Appends a label value escaped for Prometheus (\\, \", \n) to out. */
void http_metric_escape(struct buf *out, const char *value);

/* Forgets every metric (tests). */
void http_metrics_reset(void);

/*
 * A self-signed certificate for `host` (and 127.0.0.1, ::1), ECDSA P-256,
 * valid 30 days, and its private key, as new PEM strings (wipe the key
 * when done).  For demos: production serves the operator's certificate.
 */
int http_tls_self_signed(const char *host, char **cert_pem, char **key_pem, char **errmsg) CU_WUR;

#endif
