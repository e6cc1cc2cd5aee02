/*
 * libmicrohttpd glue: listening, routing, per-request state, body limits,
 * security headers, metrics and graceful stop.
 *
 * Per-request state (struct req_state) hangs off MHD's req_cls: it is made on
 * the first access-handler call for a request and freed in the
 * MHD_OPTION_NOTIFY_COMPLETED callback, whatever happened to the request.
 *
 * Bodies.  A request's body is buffered whole, then parsed, then handed to
 * the handler; it may be as large as its route's limit (the server's,
 * 64 KiB by default, unless the route names another).  A body larger than
 * the limit gets 413 payload-too-large: at once when Content-Length says
 * so, else once the bytes have been counted (and dropped).
 *
 * Large bodies.  A route whose limit is above the server's takes a large
 * body (POST /v1/trace: a leaked file, up to 64 MiB), and two rules keep
 * that from being a way to exhaust memory:
 *
 *  - Authorised before the body.  Such a route must have an `authorize`
 *    callback (http_server_start refuses it otherwise).  It runs on the
 *    first access-handler call, when the request line and the headers are
 *    complete and no byte of the body has been read; if it answers (401,
 *    403 ...), that answer goes out at once and the body is never read (MHD
 *    closes the connection after it; a client that sent `Expect:
 *    100-continue` never sends the body).  So a caller without a session,
 *    or whose role may not use the route, can make the server hold at most
 *    the server's limit, like any other request.
 *  - A budget for what is in flight.  Once authorised, a large request
 *    reserves its Content-Length (or, chunked, its route's whole limit)
 *    from the server's large-body budget (http_config.large_body_budget;
 *    by default twice the largest route limit, 128 MiB for the API) before
 *    its body is read, and gives it back when the request completes.  When
 *    the reservation does not fit, the request gets 503 server-busy with
 *    Retry-After before its body is read: the caller may try again shortly,
 *    the request itself is not wrong.  The reservation counts body bytes;
 *    the request's memory is a small multiple of that (the raw body until it
 *    is parsed, then the parsed JSON and the handler's work).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/http.h"
#include "http/static.h"

/* A strict policy: same-origin only, no inline script, no framing. */
#define CSP_POLICY                                                                                 \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "                 \
    "frame-ancestors 'none'"

struct route {
    char *method;
    char *pattern;
    http_handler_fn handler; /* NULL: built-in, see builtin */
    int builtin;
    char *labels;              /* metric labels, `method="..",route=".."` */
    size_t body_limit;         /* 0: the server's */
    http_handler_fn authorize; /* NULL: none; see http_route */
};

enum builtin_route {
    BUILTIN_NONE,
    BUILTIN_HEALTHZ,
    BUILTIN_METRICS,
    BUILTIN_CONSOLE, /* the web console (static.c): GET and HEAD matching no route */
};

/* The route of console requests (never freed: not in a server's table). */
static const struct route console_route = {
    .method = (char *)"GET",
    .pattern = (char *)"/",
    .builtin = BUILTIN_CONSOLE,
    .labels = (char *)"method=\"GET\",route=\"console\"",
};

struct http_server {
    struct MHD_Daemon *daemon;
    struct route *routes; /* owned */
    size_t n_routes;
    void *app;
    void (*collect)(void *app);
    void (*finish)(void *app);
    size_t body_limit;
    size_t large_budget;          /* bytes of large bodies allowed in flight */
    atomic_size_t large_reserved; /* bytes reserved by large requests now */
    unsigned grace_s;
    uint16_t port;
    bool tls;            /* HTTPS: answers carry HSTS */
    atomic_int inflight; /* requests between first call and completion */
    atomic_bool stopping;
};

/* Per-request state, owned by MHD's req_cls until request completion. */
/* A deferred answer's progress (struct req_state.defer). */
enum defer_state {
    DEFER_NONE,      /* answered by the handler, as usual */
    DEFER_PENDING,   /* deferred; neither finished nor suspended yet */
    DEFER_SUSPENDED, /* the connection is suspended, waiting for http_finish */
    DEFER_FINISHED,  /* http_finish came first: answer without suspending */
    DEFER_RESUMED,   /* resumed: the next call to on_access answers */
};

struct req_state {
    struct http_request req;
    struct http_response res;
    _Atomic int defer;         /* enum defer_state */
    const struct route *route; /* NULL: unmatched */
    char *param;
    struct buf body;
    size_t reserved; /* bytes of the large-body budget this request holds */
    bool too_big;
    bool answered;
    double start;
    char client[INET6_ADDRSTRLEN];
    char request_id[33];
};

/* ---- responses ---------------------------------------------------------- */

static void response_release(struct http_response *res)
{
    json_decref(res->json);
    free(res->text);
    free(res->content_type);
    for (size_t i = 0; i < res->n_headers; i++) {
        free(res->headers[i].name);
        free(res->headers[i].value);
    }
    free(res->headers);
    memset(res, 0, sizeof(*res));
}

void http_json(struct http_response *res, int status, json_t *json)
{
    json_decref(res->json);
    free(res->text);
    free(res->content_type);
    res->status = status;
    res->json = json;
    res->text = NULL;
    res->text_len = 0;
    res->content_type = json != NULL ? xstrdup("application/json") : NULL;
}

void http_text(struct http_response *res, int status, const char *content_type, const char *text,
               size_t len)
{
    json_decref(res->json);
    free(res->text);
    free(res->content_type);
    res->status = status;
    res->json = NULL;
    res->text = xmalloc(len + 1);
    memcpy(res->text, text, len);
    res->text[len] = '\0';
    res->text_len = len;
    res->content_type = xstrdup(content_type);
}

void http_response_header(struct http_response *res, const char *name, const char *value)
{
    res->headers = xrealloc(res->headers, (res->n_headers + 1) * sizeof(*res->headers));
    res->headers[res->n_headers].name = xstrdup(name);
    res->headers[res->n_headers].value = xstrdup(value);
    res->n_headers++;
}

/* ---- requests ----------------------------------------------------------- */

const char *http_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_bearer_token(const struct http_request *req)
{
    const char *v = http_header(req, "Authorization");

    if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
        return NULL;
    v += 7;
    while (*v == ' ')
        v++;
    return *v != '\0' ? v : NULL;
}

/* ---- routing ------------------------------------------------------------ */

/*
 * Matches path against pattern; on a match with a {param} segment stores a
 * malloc'd copy of its value in *param (the caller frees).
 */
static bool route_match(const char *pattern, const char *path, char **param)
{
    const char *p = pattern, *s = path;

    *param = NULL;
    while (*p != '\0') {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t n = strcspn(s, "/");

            if (close == NULL || n == 0 || *param != NULL)
                goto fail;
            *param = xstrndup(s, n);
            p = close + 1;
            s += n;
            continue;
        }
        if (*p != *s)
            goto fail;
        p++;
        s++;
    }
    if (*s == '\0')
        return true;
fail:
    free(*param);
    *param = NULL;
    return false;
}

static bool pattern_valid(const char *pattern)
{
    const char *open = strchr(pattern, '{');

    if (pattern[0] != '/')
        return false;
    if (open == NULL)
        return strchr(pattern, '}') == NULL;
    const char *close = strchr(open, '}');
    /* One {param}, a whole segment. */
    return close != NULL && close > open + 1 && open[-1] == '/' &&
           (close[1] == '\0' || close[1] == '/') && strchr(close + 1, '{') == NULL &&
           strchr(close + 1, '}') == NULL && memchr(open + 1, '/', close - open - 1) == NULL;
}

static void route_init(struct route *r, const char *method, const char *pattern,
                       http_handler_fn handler, int builtin)
{
    struct buf b = BUF_INIT;

    r->method = xstrdup(method);
    r->pattern = xstrdup(pattern);
    r->handler = handler;
    r->builtin = builtin;
    buf_addstr(&b, "method=\"");
    http_metric_escape(&b, method);
    buf_addstr(&b, "\",route=\"");
    http_metric_escape(&b, pattern);
    buf_addstr(&b, "\"");
    r->labels = buf_detach(&b, NULL);
}

/* ---- answering ---------------------------------------------------------- */

static void add_standard_headers(struct http_server *srv, struct req_state *st,
                                 struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Content-Security-Policy", CSP_POLICY);
    MHD_add_response_header(resp, "X-Request-Id", st->request_id);
    if (srv->tls)
        MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
    if (atomic_load(&srv->stopping))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* Sends st->res on the connection and records the request's metrics. */
static enum MHD_Result answer(struct http_server *srv, struct MHD_Connection *conn,
                              struct req_state *st)
{
    struct http_response *res = &st->res;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char *body = NULL;
    size_t len = 0;

    if (res->status == 0)
        res->status = MHD_HTTP_NO_CONTENT;
    if (res->json != NULL) {
        body = json_dumps(res->json, JSON_COMPACT);
        if (body == NULL) {
            http_problem(res, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL);
            body = json_dumps(res->json, JSON_COMPACT);
        }
        len = strlen(body);
    } else if (res->text != NULL) {
        body = xmalloc(res->text_len + 1);
        memcpy(body, res->text, res->text_len + 1);
        len = res->text_len;
    }
    /* MHD frees body with free(): jansson and xmalloc both allocate with malloc. */
    resp = MHD_create_response_from_buffer(len, body != NULL ? body : (char *)"",
                                           body != NULL ? MHD_RESPMEM_MUST_FREE
                                                        : MHD_RESPMEM_PERSISTENT);
    if (res->content_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, res->content_type);
    add_standard_headers(srv, st, resp);
    for (size_t i = 0; i < res->n_headers; i++)
        MHD_add_response_header(resp, res->headers[i].name, res->headers[i].value);
    ret = MHD_queue_response(conn, (unsigned)res->status, resp);
    MHD_destroy_response(resp);
    st->answered = true;

    /* Metrics: by route pattern (never the raw path: it may hold an IMEI). */
    {
        const char *labels =
            st->route != NULL ? st->route->labels : "method=\"other\",route=\"unmatched\"";
        char *with_status = xasprintf("%s,status=\"%d\"", labels, res->status);

        http_metric_inc("http_requests_total", with_status);
        http_metric_observe("http_request_duration_seconds", labels, cu_monotonic() - st->start);
        free(with_status);
    }
    return ret;
}

static void serve_builtin(struct http_server *srv, struct req_state *st)
{
    if (st->route->builtin == BUILTIN_HEALTHZ) {
        http_json(&st->res, MHD_HTTP_OK, json_pack("{s:s}", "status", "ok"));
    } else if (st->route->builtin == BUILTIN_CONSOLE) {
        http_static_serve(&st->req, &st->res);
    } else {
        struct buf b = BUF_INIT;

        if (srv->collect != NULL)
            srv->collect(srv->app);
        http_metrics_render(&b);
        http_text(&st->res, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                  b.data != NULL ? b.data : "", b.len);
        buf_release(&b);
    }
}

/* Finds the route; on none answers 404, or 405 with Allow when the path exists. */
static bool route_request(struct http_server *srv, struct req_state *st, const char *path,
                          const char *method)
{
    struct buf allow = BUF_INIT;
    bool ok = false;

    for (size_t i = 0; i < srv->n_routes; i++) {
        const struct route *r = &srv->routes[i];
        char *param = NULL;

        if (!route_match(r->pattern, path, &param))
            continue;
        /* HEAD is GET without the body (MHD drops the body). */
        if (strcmp(r->method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            st->route = r;
            st->param = param;
            ok = true;
            goto out;
        }
        free(param);
        if (allow.len > 0)
            buf_addstr(&allow, ", ");
        buf_addstr(&allow, r->method);
    }
    if (allow.len == 0 && http_static_path(path) &&
        (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)) {
        st->route = &console_route;
        ok = true;
        goto out;
    }
    if (allow.len > 0) {
        http_problem(&st->res, MHD_HTTP_METHOD_NOT_ALLOWED, "method-not-allowed",
                     "this path does not accept that method");
        http_response_header(&st->res, "Allow", allow.data);
    } else {
        http_problem(&st->res, MHD_HTTP_NOT_FOUND, "not-found", "no such endpoint");
    }
out:
    buf_release(&allow);
    return ok;
}

static void request_id_new(char out[33])
{
    unsigned char rnd[16];
    static const char hex[] = "0123456789abcdef";
    size_t got = 0;

    while (got < sizeof(rnd)) {
        ssize_t n = getrandom(rnd + got, sizeof(rnd) - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            abort(); /* the kernel's random source cannot fail after boot */
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(rnd); i++) {
        out[2 * i] = hex[rnd[i] >> 4];
        out[2 * i + 1] = hex[rnd[i] & 15];
    }
    out[32] = '\0';
}

static struct req_state *req_state_new(struct MHD_Connection *conn, const char *url,
                                       const char *method)
{
    struct req_state *st = xcalloc(1, sizeof(*st));
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

    st->start = cu_monotonic();
    request_id_new(st->request_id);
    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;

        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                      st->client, sizeof(st->client));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                      st->client, sizeof(st->client));
    }
    st->req.method = method;
    st->req.state = st;
    st->req.path = url;
    st->req.client_addr = st->client;
    st->req.request_id = st->request_id;
    st->req.conn = conn;
    return st;
}

static void req_state_free(struct req_state *st)
{
    response_release(&st->res);
    json_decref(st->req.body);
    buf_release_wipe(&st->body);
    free(st->param);
    free(st);
}

/* Runs the matched route once the whole body has arrived. */
static void dispatch(struct http_server *srv, struct req_state *st)
{
    int rc;

    if (st->too_big) {
        http_problem(&st->res, MHD_HTTP_CONTENT_TOO_LARGE, "payload-too-large",
                     "the request body exceeds the size limit");
        return;
    }
    if (st->route->builtin != BUILTIN_NONE) {
        serve_builtin(srv, st);
        return;
    }
    if (st->body.len > 0) {
        json_error_t jerr;

        st->req.body = json_loadb(st->body.data, st->body.len, JSON_REJECT_DUPLICATES, &jerr);
        if (st->req.body == NULL) {
            char detail[96];

            /* Position only: never echo the body. */
            snprintf(detail, sizeof(detail), "invalid JSON at line %d column %d", jerr.line,
                     jerr.column);
            http_problem(&st->res, MHD_HTTP_BAD_REQUEST, "invalid-json", detail);
            return;
        }
        /* Parsed: the handler never sees the raw bytes, so they need not
         * stay in memory beside the JSON while it runs. */
        buf_release_wipe(&st->body);
    }
    rc = st->route->handler(srv->app, &st->req, &st->res);
    if (srv->finish != NULL)
        srv->finish(srv->app);
    if (rc != CU_OK && st->res.status == 0) {
        cu_log("http: %s %s failed: %s (request %s)", st->route->method, st->route->pattern,
               cu_err_name(rc), st->request_id);
        http_problem(&st->res, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL);
    }
}

/* The request's body limit: its route's, else the server's. */
static size_t body_limit(const struct http_server *srv, const struct req_state *st)
{
    return st->route != NULL && st->route->body_limit != 0 ? st->route->body_limit
                                                           : srv->body_limit;
}

/* Whether a route takes bodies larger than the server's limit. */
static bool route_large(const struct http_server *srv, const struct route *r)
{
    return r->body_limit > srv->body_limit;
}

/*
 * Runs the route's authorize callback on the request line and headers
 * alone.  True when it answered (a refusal, in st->res), false when the
 * request may go on.
 */
static bool authorize(struct http_server *srv, struct req_state *st)
{
    int rc = st->route->authorize(srv->app, &st->req, &st->res);

    if (srv->finish != NULL)
        srv->finish(srv->app);
    if (rc != CU_OK && st->res.status == 0) {
        cu_log("http: %s %s authorization failed: %s (request %s)", st->route->method,
               st->route->pattern, cu_err_name(rc), st->request_id);
        http_problem(&st->res, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", NULL);
    }
    return st->res.status != 0;
}

/* Takes n bytes of the large-body budget; false when they do not fit. */
static bool large_reserve(struct http_server *srv, size_t n)
{
    size_t cur = atomic_load(&srv->large_reserved);

    do {
        if (n > srv->large_budget - cur) /* cur never exceeds the budget */
            return false;
    } while (!atomic_compare_exchange_weak(&srv->large_reserved, &cur, cur + n));
    return true;
}

/*
 * Before a large body is read: reserves what it may take (its
 * Content-Length, or chunked, its route's limit), and makes room for all
 * of it at once when the length is known (no copy as the buffer grows).
 * False with 503 server-busy answered when the budget is spent.
 */
static bool large_begin(struct http_server *srv, struct req_state *st, bool known, size_t length)
{
    size_t want = known ? length : body_limit(srv, st);

    if (!large_reserve(srv, want)) {
        cu_log("http: %s %s refused: large request bodies in flight would exceed %zu bytes "
               "(request %s)",
               st->route->method, st->route->pattern, srv->large_budget, st->request_id);
        http_problem(&st->res, MHD_HTTP_SERVICE_UNAVAILABLE, "server-busy",
                     "too many large uploads at once; try again shortly");
        http_response_header(&st->res, MHD_HTTP_HEADER_RETRY_AFTER, HTTP_LARGE_RETRY_AFTER);
        return false;
    }
    st->reserved = want;
    if (known && want > 0)
        buf_grow(&st->body, want);
    return true;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    struct http_server *srv = cls;
    struct req_state *st = *req_cls;

    (void)version;
    if (st == NULL) {
        const char *cl;
        unsigned long long length;

        st = req_state_new(conn, url, method);
        *req_cls = st;
        atomic_fetch_add(&srv->inflight, 1);
        if (!route_request(srv, st, url, method))
            return answer(srv, conn, st);
        st->req.route = st->route->pattern;
        st->req.param = st->param;
        /* Answers given here go out before the body is read; MHD closes
         * the connection afterwards. */
        if (st->route->authorize != NULL && authorize(srv, st))
            return answer(srv, conn, st);
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        length = cl != NULL ? strtoull(cl, NULL, 10) : 0;
        if (length > body_limit(srv, st)) {
            st->too_big = true;
            dispatch(srv, st);
            return answer(srv, conn, st);
        }
        if (route_large(srv, st->route) && !large_begin(srv, st, cl != NULL, (size_t)length))
            return answer(srv, conn, st);
        return MHD_YES;
    }
    if (st->answered) {
        *upload_data_size = 0; /* answered early: drop what still arrives */
        return MHD_YES;
    }
    if (atomic_load(&st->defer) == DEFER_RESUMED)
        return answer(srv, conn, st);
    if (*upload_data_size > 0) {
        if (!st->too_big && st->body.len + *upload_data_size > body_limit(srv, st)) {
            st->too_big = true;
            buf_release_wipe(&st->body);
        }
        if (!st->too_big)
            buf_add(&st->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    dispatch(srv, st);
    if (atomic_load(&st->defer) == DEFER_PENDING) {
        int expect = DEFER_PENDING;

        /* Suspend unless http_finish came first (then answer now). */
        MHD_suspend_connection(conn);
        if (atomic_compare_exchange_strong(&st->defer, &expect, DEFER_SUSPENDED))
            return MHD_YES;
        atomic_store(&st->defer, DEFER_RESUMED);
        MHD_resume_connection(conn);
        return MHD_YES;
    }
    return answer(srv, conn, st);
}

struct http_deferred *http_defer(struct http_request *req, struct http_response **res)
{
    struct req_state *st = req->state;

    atomic_store(&st->defer, DEFER_PENDING);
    *res = &st->res;
    return (struct http_deferred *)st;
}

void http_finish(struct http_deferred *d)
{
    struct req_state *st = (struct req_state *)d;
    int expect = DEFER_PENDING;

    if (atomic_compare_exchange_strong(&st->defer, &expect, DEFER_FINISHED))
        return; /* the handler has not returned yet: on_access answers */
    /* DEFER_SUSPENDED: wake the connection; on_access answers */
    atomic_store(&st->defer, DEFER_RESUMED);
    MHD_resume_connection(st->req.conn);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct req_state *st = *req_cls;

    (void)conn;
    (void)toe;
    if (st == NULL)
        return;
    if (st->reserved > 0)
        atomic_fetch_sub(&srv->large_reserved, st->reserved);
    req_state_free(st);
    *req_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char *msg = xvasprintf(fmt, ap);
    size_t n = strlen(msg);

    (void)cls;
    while (n > 0 && msg[n - 1] == '\n')
        msg[--n] = '\0';
    cu_log("http: %s", msg);
    free(msg);
}

/* ---- listening ---------------------------------------------------------- */

/* Parses "host:port", "[v6]:port" or ":port" into *ss. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, char **errmsg)
{
    char *host = NULL;
    const char *port_s;
    char *end;
    unsigned long port;
    int rc = CU_OK;

    memset(ss, 0, sizeof(*ss));
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');

        if (close == NULL || close[1] != ':') {
            rc = cu_errf(errmsg, CU_ERR_INVALID, "bad listen address \"%s\"", listen);
            goto out;
        }
        host = xstrndup(listen + 1, (size_t)(close - listen - 1));
        port_s = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');

        if (colon == NULL || memchr(listen, ':', (size_t)(colon - listen)) != NULL) {
            rc = cu_errf(errmsg, CU_ERR_INVALID,
                         "bad listen address \"%s\" (want HOST:PORT or [IPV6]:PORT)", listen);
            goto out;
        }
        host = xstrndup(listen, (size_t)(colon - listen));
        port_s = colon + 1;
    }
    errno = 0;
    port = strtoul(port_s, &end, 10);
    if (*port_s < '0' || *port_s > '9' || *end != '\0' || errno != 0 || port > 65535) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "bad port in listen address \"%s\"", listen);
        goto out;
    }
    if (host[0] == '\0') {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;

        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_ANY);
        in->sin_port = htons((uint16_t)port);
    } else {
        struct addrinfo hints = {0}, *ai = NULL;
        int gai;

        hints.ai_family = listen[0] == '[' ? AF_INET6 : AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        gai = getaddrinfo(host, NULL, &hints, &ai);
        if (gai != 0 || ai == NULL) {
            rc = cu_errf(errmsg, CU_ERR_INVALID, "cannot resolve listen host \"%s\": %s", host,
                         gai_strerror(gai));
            goto out;
        }
        memcpy(ss, ai->ai_addr, ai->ai_addrlen);
        freeaddrinfo(ai);
        if (ss->ss_family == AF_INET6)
            ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    }
out:
    free(host);
    return rc;
}

int http_server_start(const struct http_config *cfg, struct http_server **out, char **errmsg)
{
    struct http_server *srv = NULL;
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *di;
    unsigned flags =
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    unsigned threads = cfg->threads, conn_limit, timeout;
    size_t largest = 0; /* the largest body limit above the server's */
    const char *listen = cfg->listen != NULL ? cfg->listen : HTTP_DEFAULT_LISTEN;
    int rc;

    *out = NULL;
    rc = parse_listen(listen, &ss, errmsg);
    if (rc != CU_OK)
        goto out;
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        threads = n > 0 ? (unsigned)n : 1;
    }
    conn_limit = cfg->conn_limit != 0 ? cfg->conn_limit : HTTP_DEFAULT_CONN_LIMIT;
    if (conn_limit < threads)
        conn_limit = threads;
    timeout = cfg->timeout_s != 0 ? cfg->timeout_s : HTTP_DEFAULT_TIMEOUT_S;

    srv = xcalloc(1, sizeof(*srv));
    srv->app = cfg->app;
    srv->collect = cfg->collect;
    srv->finish = cfg->finish;
    srv->body_limit = cfg->body_limit != 0 ? cfg->body_limit : HTTP_DEFAULT_BODY_LIMIT;
    srv->grace_s = cfg->grace_s != 0 ? cfg->grace_s : HTTP_DEFAULT_GRACE_S;
    srv->routes = xcalloc(cfg->n_routes + 2, sizeof(*srv->routes));
    route_init(&srv->routes[srv->n_routes++], "GET", "/healthz", NULL, BUILTIN_HEALTHZ);
    route_init(&srv->routes[srv->n_routes++], "GET", "/metrics", NULL, BUILTIN_METRICS);
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct http_route *r = &cfg->routes[i];

        if (r->method == NULL || r->pattern == NULL || r->handler == NULL ||
            !pattern_valid(r->pattern)) {
            rc = cu_errf(errmsg, CU_ERR_INVALID, "bad route \"%s\"",
                         r->pattern != NULL ? r->pattern : "(null)");
            goto out;
        }
        route_init(&srv->routes[srv->n_routes], r->method, r->pattern, r->handler, BUILTIN_NONE);
        srv->routes[srv->n_routes].body_limit = r->body_limit;
        srv->routes[srv->n_routes].authorize = r->authorize;
        if (route_large(srv, &srv->routes[srv->n_routes])) {
            /* Nobody may make the server hold a large body unauthorised. */
            if (r->authorize == NULL) {
                srv->n_routes++;
                rc = cu_errf(errmsg, CU_ERR_INVALID,
                             "route \"%s\" takes bodies over %zu bytes but has no authorize "
                             "callback",
                             r->pattern, srv->body_limit);
                goto out;
            }
            if (r->body_limit > largest)
                largest = r->body_limit;
        }
        srv->n_routes++;
    }
    srv->large_budget = cfg->large_body_budget != 0 ? cfg->large_body_budget : 2 * largest;
    if (srv->large_budget < largest) {
        rc = cu_errf(errmsg, CU_ERR_INVALID,
                     "the large-body budget (%zu bytes) is smaller than a route's body limit "
                     "(%zu bytes)",
                     srv->large_budget, largest);
        goto out;
    }
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "TLS needs both a certificate and its key");
        goto out;
    }
    if (cfg->tls_cert != NULL) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            rc = cu_errf(errmsg, CU_ERR_INVALID, "this libmicrohttpd was built without TLS");
            goto out;
        }
        flags |= MHD_USE_TLS;
        srv->tls = true;
    }
    {
        /* The logger goes first so that MHD reports option errors through it. */
        struct MHD_OptionItem o[10] = {
            {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL},
            {MHD_OPTION_SOCK_ADDR, 0, &ss},
            {MHD_OPTION_CONNECTION_TIMEOUT, timeout, NULL},
            {MHD_OPTION_CONNECTION_LIMIT, conn_limit, NULL},
            {MHD_OPTION_CONNECTION_MEMORY_LIMIT, HTTP_CONNECTION_MEMORY, NULL},
            {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, srv},
        };
        size_t n = 6;

        if (threads > 1)
            o[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
        if (srv->tls) {
            o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert};
            o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key};
        }
        o[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        srv->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_ARRAY, o,
                                       MHD_OPTION_END);
    }
    if (srv->daemon == NULL) {
        rc = cu_errf(errmsg, CU_ERR_IO,
                     srv->tls ? "cannot listen on \"%s\" with TLS (is the key the "
                                "certificate's, both PEM?)"
                              : "cannot listen on \"%s\"",
                     listen);
        goto out;
    }
    di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di != NULL ? di->port : 0;
    *out = srv;
    srv = NULL;
out:
    if (srv != NULL) {
        for (size_t i = 0; i < srv->n_routes; i++) {
            free(srv->routes[i].method);
            free(srv->routes[i].pattern);
            free(srv->routes[i].labels);
        }
        free(srv->routes);
        free(srv);
    }
    return rc;
}

uint16_t http_server_port(const struct http_server *srv)
{
    return srv->port;
}

void http_server_stop(struct http_server *srv)
{
    MHD_socket fd;
    double deadline;

    if (srv == NULL)
        return;
    atomic_store(&srv->stopping, true);
    fd = MHD_quiesce_daemon(srv->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    deadline = cu_monotonic() + srv->grace_s;
    while (atomic_load(&srv->inflight) > 0 && cu_monotonic() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};

        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(srv->daemon);
    for (size_t i = 0; i < srv->n_routes; i++) {
        free(srv->routes[i].method);
        free(srv->routes[i].pattern);
        free(srv->routes[i].labels);
    }
    free(srv->routes);
    free(srv);
}
