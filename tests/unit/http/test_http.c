/*
 * Unit tests for src/http: a real server on a free loopback port, spoken to
 * with plain sockets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "http/http.h"

#define TEST_BODY_LIMIT 1024

struct reply {
    int status;
    char *head; /* status line and headers */
    char *body;
};

static void reply_release(struct reply *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Value of header `name` in r (copied into a static buffer), or NULL. */
static const char *reply_header(const struct reply *r, const char *name)
{
    static char value[512];
    size_t n = strlen(name);

    for (const char *line = strstr(r->head, "\r\n"); line != NULL;
         line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;

        if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
            const char *v = l + n + 1, *end = strstr(v, "\r\n");

            while (*v == ' ')
                v++;
            snprintf(value, sizeof(value), "%.*s", (int)(end - v), v);
            return value;
        }
    }
    return NULL;
}

static int connect_port(uint16_t port)
{
    struct sockaddr_in sa = {0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void send_all(int fd, const char *raw, size_t raw_len)
{
    ssize_t n;

    for (size_t off = 0; off < raw_len; off += (size_t)n) {
        n = send(fd, raw + off, raw_len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
    }
}

/* Reads the rest of an answer (what came already is in `in`, released
 * here) until the server closes, then closes fd; returns 0 or -1. */
static int read_reply_rest(int fd, struct buf *in, struct reply *r)
{
    char chunk[4096];
    ssize_t n;
    char *sep;

    while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
        buf_add(in, chunk, (size_t)n);
    close(fd);
    if (in->data == NULL || (sep = strstr(in->data, "\r\n\r\n")) == NULL) {
        buf_release(in);
        return -1;
    }
    r->head = xstrndup(in->data, (size_t)(sep - in->data) + 2);
    r->body = xstrdup(sep + 4);
    r->status = atoi(in->data + 9);
    buf_release(in);
    return 0;
}

/* Reads an answer until the server closes, then closes fd; returns 0 or -1. */
static int read_reply(int fd, struct reply *r)
{
    struct buf in = BUF_INIT;

    return read_reply_rest(fd, &in, r);
}

/* Sends raw bytes, reads until the server closes; returns 0 or -1. */
static int exchange(uint16_t port, const char *raw, size_t raw_len, struct reply *r)
{
    int fd = connect_port(port);

    memset(r, 0, sizeof(*r));
    if (fd < 0)
        return -1;
    send_all(fd, raw, raw_len);
    return read_reply(fd, r);
}

/* One request with Connection: close. */
static void request(uint16_t port, const char *method, const char *target, const char *extra,
                    const char *body, struct reply *r)
{
    char *raw = xasprintf("%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n%s"
                          "Content-Length: %zu\r\n\r\n%s",
                          method, target, extra != NULL ? extra : "",
                          body != NULL ? strlen(body) : 0, body != NULL ? body : "");

    assert_int_equal(exchange(port, raw, strlen(raw), r), 0);
    free(raw);
}

/* ---- test routes ---------------------------------------------------------- */

static int echo_handler(void *app, struct http_request *req, struct http_response *res)
{
    json_t *out = json_object();
    const char *q = http_query(req, "phone");
    const char *tok = http_bearer_token(req);

    assert_ptr_equal(app, (void *)0x1234);
    json_object_set_new(out, "id", json_string(req->param));
    json_object_set_new(out, "route", json_string(req->route));
    json_object_set_new(out, "client", json_string(req->client_addr));
    json_object_set(out, "body", req->body != NULL ? req->body : json_null());
    if (q != NULL)
        json_object_set_new(out, "phone", json_string(q));
    if (tok != NULL)
        json_object_set_new(out, "token_len", json_integer((json_int_t)strlen(tok)));
    http_json(res, 200, out);
    return CU_OK;
}

static int fail_handler(void *app, struct http_request *req, struct http_response *res)
{
    (void)app;
    (void)req;
    (void)res;
    return CU_ERR_STORE;
}

static int gone_handler(void *app, struct http_request *req, struct http_response *res)
{
    (void)app;
    (void)req;
    http_problem(res, 409, "case-not-verified", "the case is awaiting verification");
    return CU_OK;
}

static int slow_handler(void *app, struct http_request *req, struct http_response *res)
{
    struct timespec ts = {0, 300 * 1000 * 1000};

    (void)app;
    (void)req;
    nanosleep(&ts, NULL);
    http_text(res, 200, "text/plain", "done", 4);
    return CU_OK;
}

/* Deferred answers: /v1/later/now finishes before the handler returns;
 * /v1/later/gate waits until the test opens the gate. */
#define GATE_MAX 8
static struct {
    pthread_mutex_t lock;
    struct http_deferred *d[GATE_MAX];
    struct http_response *res[GATE_MAX];
    int n;
} gate = {PTHREAD_MUTEX_INITIALIZER, {0}, {0}, 0};

static int later_handler(void *app, struct http_request *req, struct http_response *res)
{
    struct http_response *later;
    struct http_deferred *d = http_defer(req, &later);

    (void)app;
    (void)res;
    if (strcmp(req->param, "now") == 0) {
        http_json(later, 200, json_pack("{s:s}", "later", "now"));
        http_finish(d);
        return CU_OK;
    }
    pthread_mutex_lock(&gate.lock);
    assert_true(gate.n < GATE_MAX);
    gate.d[gate.n] = d;
    gate.res[gate.n++] = later;
    pthread_mutex_unlock(&gate.lock);
    return CU_OK;
}

static int gate_waiting(void)
{
    int n;

    pthread_mutex_lock(&gate.lock);
    n = gate.n;
    pthread_mutex_unlock(&gate.lock);
    return n;
}

static void gate_open(void)
{
    pthread_mutex_lock(&gate.lock);
    for (int i = 0; i < gate.n; i++) {
        http_json(gate.res[i], 200, json_pack("{s:i}", "later", i));
        http_finish(gate.d[i]);
    }
    gate.n = 0;
    pthread_mutex_unlock(&gate.lock);
}

/* A route that takes large bodies: "Bearer ok" may use it, but not for
 * /v1/big/denied; authorize_calls counts the calls. */
#define TEST_BIG_LIMIT (4 * TEST_BODY_LIMIT)
static int authorize_calls;

static int big_authorize(void *app, struct http_request *req, struct http_response *res)
{
    const char *tok = http_bearer_token(req);

    assert_ptr_equal(app, (void *)0x1234);
    assert_null(req->body);
    assert_string_equal(req->route, "/v1/big/{id}");
    __atomic_add_fetch(&authorize_calls, 1, __ATOMIC_SEQ_CST);
    if (tok == NULL || strcmp(tok, "ok") != 0)
        http_problem(res, 401, "unauthorized", "no session");
    else if (strcmp(req->param, "denied") == 0)
        http_problem(res, 403, "forbidden", NULL);
    return CU_OK;
}

static const struct http_route test_routes[] = {
    {"GET", "/v1/later/{id}", later_handler},
    {"POST", "/v1/echo/{id}", echo_handler},
    {"PUT", "/v1/echo/{id}", echo_handler},
    {"GET", "/v1/fail", fail_handler},
    {"POST", "/v1/cases/{id}/verify", gone_handler},
    {"GET", "/v1/slow", slow_handler},
    {"POST", "/v1/big/{id}", echo_handler, TEST_BIG_LIMIT, big_authorize},
};

static int start_server(struct http_server **srv)
{
    struct http_config cfg = {0};
    char *err = NULL;
    int rc;

    cfg.listen = "127.0.0.1:0";
    cfg.threads = 2;
    cfg.body_limit = TEST_BODY_LIMIT;
    cfg.routes = test_routes;
    cfg.n_routes = CU_ARRAY_LEN(test_routes);
    cfg.app = (void *)0x1234;
    rc = http_server_start(&cfg, srv, &err);
    if (rc != CU_OK)
        fprintf(stderr, "# start: %s\n", err);
    free(err);
    return rc;
}

static int group_setup(void **state)
{
    struct http_server *srv = NULL;

    http_metrics_reset();
    if (start_server(&srv) != CU_OK)
        return -1;
    *state = srv;
    return 0;
}

static int group_teardown(void **state)
{
    http_server_stop(*state);
    http_metrics_reset();
    return 0;
}

static uint16_t port_of(void **state)
{
    return http_server_port(*state);
}

/* Checks r is a problem+json with the given status and slug; returns the document. */
static json_t *assert_problem(const struct reply *r, int status, const char *slug)
{
    json_t *doc;
    char *type = xasprintf("%s%s", HTTP_PROBLEM_BASE, slug);

    assert_int_equal(r->status, status);
    assert_non_null(reply_header(r, "Content-Type"));
    assert_string_equal(reply_header(r, "Content-Type"), "application/problem+json");
    doc = json_loads(r->body, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "type")), type);
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), status);
    assert_string_equal(json_string_value(json_object_get(doc, "title")), http_problem_title(slug));
    free(type);
    return doc;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_echo_json_param_query(void **state)
{
    struct reply r;
    json_t *doc;

    request(port_of(state), "POST", "/v1/echo/ab%2D12?phone=%2B8613800000000&x=1",
            "Authorization: Bearer s3cret-token\r\nContent-Type: application/json\r\n",
            "{\"a\":[1,2]}", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(reply_header(&r, "Content-Type"), "application/json");
    doc = json_loads(r.body, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "id")), "ab-12");
    assert_string_equal(json_string_value(json_object_get(doc, "route")), "/v1/echo/{id}");
    assert_string_equal(json_string_value(json_object_get(doc, "phone")), "+8613800000000");
    assert_string_equal(json_string_value(json_object_get(doc, "client")), "127.0.0.1");
    assert_int_equal(json_integer_value(json_object_get(doc, "token_len")), 12);
    assert_int_equal(
        json_integer_value(json_array_get(json_object_get(json_object_get(doc, "body"), "a"), 1)),
        2);
    json_decref(doc);
    reply_release(&r);
}

static void test_empty_body_is_null(void **state)
{
    struct reply r;
    json_t *doc;

    request(port_of(state), "PUT", "/v1/echo/x", "Authorization: Basic abc\r\n", NULL, &r);
    assert_int_equal(r.status, 200);
    doc = json_loads(r.body, 0, NULL);
    assert_true(json_is_null(json_object_get(doc, "body")));
    assert_null(json_object_get(doc, "token_len")); /* not a bearer token */
    assert_null(json_object_get(doc, "phone"));
    json_decref(doc);
    reply_release(&r);
}

static void test_not_found(void **state)
{
    struct reply r;
    json_t *doc;

    request(port_of(state), "GET", "/v1/nowhere", NULL, NULL, &r);
    doc = assert_problem(&r, 404, "not-found");
    json_decref(doc);
    reply_release(&r);
    /* A {param} never matches an empty or multi-segment value. */
    request(port_of(state), "POST", "/v1/echo/", NULL, NULL, &r);
    json_decref(assert_problem(&r, 404, "not-found"));
    reply_release(&r);
    request(port_of(state), "POST", "/v1/echo/a/b", NULL, NULL, &r);
    json_decref(assert_problem(&r, 404, "not-found"));
    reply_release(&r);
}

static void test_method_not_allowed(void **state)
{
    struct reply r;

    request(port_of(state), "DELETE", "/v1/echo/1", NULL, NULL, &r);
    json_decref(assert_problem(&r, 405, "method-not-allowed"));
    assert_non_null(reply_header(&r, "Allow"));
    assert_string_equal(reply_header(&r, "Allow"), "POST, PUT");
    reply_release(&r);
}

static void test_payload_too_large(void **state)
{
    struct reply r;
    char *big = xmalloc(TEST_BODY_LIMIT + 200);
    char *raw;

    /* Announced by Content-Length: refused before the body is read. */
    memset(big, ' ', TEST_BODY_LIMIT + 199);
    big[0] = '[';
    big[TEST_BODY_LIMIT + 198] = ']';
    big[TEST_BODY_LIMIT + 199] = '\0';
    request(port_of(state), "POST", "/v1/echo/1", NULL, big, &r);
    json_decref(assert_problem(&r, 413, "payload-too-large"));
    reply_release(&r);

    /* Chunked, so only counting the bytes can tell. */
    raw = xasprintf("POST /v1/echo/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
                    strlen(big), big);
    assert_int_equal(exchange(port_of(state), raw, strlen(raw), &r), 0);
    json_decref(assert_problem(&r, 413, "payload-too-large"));
    reply_release(&r);
    free(raw);

    /* Refused early on a keep-alive connection: the unread body must not be
     * taken for a next request (the server closes the connection). */
    raw = xasprintf("POST /v1/echo/1 HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s"
                    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                    strlen(big), big);
    assert_int_equal(exchange(port_of(state), raw, strlen(raw), &r), 0);
    json_decref(assert_problem(&r, 413, "payload-too-large"));
    assert_null(strstr(r.body, "HTTP/1.1"));
    reply_release(&r);
    free(raw);

    /* Just under the limit is fine. */
    big[TEST_BODY_LIMIT - 1] = ']';
    big[TEST_BODY_LIMIT] = '\0';
    request(port_of(state), "POST", "/v1/echo/1", NULL, big, &r);
    assert_int_equal(r.status, 200);
    reply_release(&r);
    free(big);
}

/* A JSON body of exactly n bytes (n >= 2), new string. */
static char *json_of_size(size_t n)
{
    char *b = xmalloc(n + 1);

    memset(b, ' ', n);
    b[0] = '[';
    b[n - 1] = ']';
    b[n] = '\0';
    return b;
}

/*
 * Regression: a route with a large body limit read and parsed the whole
 * body before its handler checked the caller, so anyone could make the
 * server hold that much per connection.  Its authorize callback now answers
 * from the headers: the body is never sent here, and the refusal comes
 * anyway (a server waiting for the body would hang until the alarm).
 */
static void test_large_body_authorized_first(void **state)
{
    struct reply r;
    char *raw, *big = json_of_size(TEST_BIG_LIMIT);
    int calls = __atomic_load_n(&authorize_calls, __ATOMIC_SEQ_CST);

    alarm(20);
    raw = xasprintf("POST /v1/big/1 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n",
                    TEST_BIG_LIMIT);
    assert_int_equal(exchange(port_of(state), raw, strlen(raw), &r), 0);
    json_decref(assert_problem(&r, 401, "unauthorized"));
    reply_release(&r);
    free(raw);
    raw = xasprintf("POST /v1/big/denied HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ok\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n");
    assert_int_equal(exchange(port_of(state), raw, strlen(raw), &r), 0);
    json_decref(assert_problem(&r, 403, "forbidden"));
    reply_release(&r);
    free(raw);
    /* Refused on a keep-alive connection with the body sent: the unread body
     * is never taken for a next request (the server closes the connection). */
    raw = xasprintf("POST /v1/big/1 HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s"
                    "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                    strlen(big), big);
    assert_int_equal(exchange(port_of(state), raw, strlen(raw), &r), 0);
    json_decref(assert_problem(&r, 401, "unauthorized"));
    assert_null(strstr(r.body, "HTTP/1.1"));
    reply_release(&r);
    free(raw);
    alarm(0);
    assert_int_equal(__atomic_load_n(&authorize_calls, __ATOMIC_SEQ_CST) - calls, 3);

    /* Authorised: the route's limit, not the server's. */
    request(port_of(state), "POST", "/v1/big/1", "Authorization: Bearer ok\r\n", big, &r);
    assert_int_equal(r.status, 200);
    reply_release(&r);
    free(big);
    big = json_of_size(TEST_BIG_LIMIT + 1);
    request(port_of(state), "POST", "/v1/big/1", "Authorization: Bearer ok\r\n", big, &r);
    json_decref(assert_problem(&r, 413, "payload-too-large"));
    reply_release(&r);
    free(big);
    /* Other routes keep the server's limit and are not asked. */
    calls = __atomic_load_n(&authorize_calls, __ATOMIC_SEQ_CST);
    big = json_of_size(TEST_BODY_LIMIT + 1);
    request(port_of(state), "POST", "/v1/echo/1", "Authorization: Bearer ok\r\n", big, &r);
    json_decref(assert_problem(&r, 413, "payload-too-large"));
    reply_release(&r);
    free(big);
    assert_int_equal(__atomic_load_n(&authorize_calls, __ATOMIC_SEQ_CST), calls);
}

/*
 * Starts an authorised upload of `len` bytes to /v1/big/1 with Expect:
 * 100-continue and waits for the server's interim 100: it has accepted
 * the headers and holds the body's reservation.  Returns the connection,
 * or -1 with the server's final answer in *early.
 */
static int upload_begin(uint16_t port, size_t len, struct reply *early)
{
    struct buf in = BUF_INIT;
    int fd = connect_port(port);
    char *raw = xasprintf("POST /v1/big/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          "Authorization: Bearer ok\r\nExpect: 100-continue\r\n"
                          "Content-Length: %zu\r\n\r\n",
                          len);
    char c;

    memset(early, 0, sizeof(*early));
    assert_true(fd >= 0);
    send_all(fd, raw, strlen(raw));
    free(raw);
    /* Byte by byte up to the end of the first head: nothing after it. */
    while ((in.len < 4 || strcmp(in.data + in.len - 4, "\r\n\r\n") != 0) && recv(fd, &c, 1, 0) == 1)
        buf_addch(&in, c);
    if (in.len > 12 && strncmp(in.data, "HTTP/1.1 100", 12) == 0) {
        buf_release(&in);
        return fd;
    }
    assert_int_equal(read_reply_rest(fd, &in, early), 0);
    return -1;
}

/*
 * Large bodies in flight share a budget (by default twice the largest
 * route limit): past it, 503 server-busy with Retry-After before the body
 * is read; a completed request gives its share back.
 */
static void test_large_body_budget(void **state)
{
    struct reply r, early;
    struct timespec ts = {0, 10 * 1000 * 1000};
    char *body = json_of_size(TEST_BIG_LIMIT);
    int a, b, c, tries;

    alarm(20);
    a = upload_begin(port_of(state), TEST_BIG_LIMIT, &early);
    assert_true(a >= 0);
    b = upload_begin(port_of(state), TEST_BIG_LIMIT, &early);
    assert_true(b >= 0);
    c = upload_begin(port_of(state), 2, &early);
    assert_int_equal(c, -1);
    json_decref(assert_problem(&early, 503, "server-busy"));
    assert_string_equal(reply_header(&early, "Retry-After"), HTTP_LARGE_RETRY_AFTER);
    reply_release(&early);

    send_all(a, body, TEST_BIG_LIMIT);
    assert_int_equal(read_reply(a, &r), 0);
    assert_int_equal(r.status, 200);
    reply_release(&r);
    /* a's share is back once the server has completed it */
    for (tries = 0; (c = upload_begin(port_of(state), TEST_BIG_LIMIT, &early)) < 0 && tries < 100;
         tries++) {
        assert_int_equal(early.status, 503);
        reply_release(&early);
        nanosleep(&ts, NULL);
    }
    assert_true(c >= 0);
    send_all(b, body, TEST_BIG_LIMIT);
    assert_int_equal(read_reply(b, &r), 0);
    assert_int_equal(r.status, 200);
    reply_release(&r);
    send_all(c, body, TEST_BIG_LIMIT);
    assert_int_equal(read_reply(c, &r), 0);
    assert_int_equal(r.status, 200);
    reply_release(&r);
    alarm(0);
    free(body);
}

/* Headers up to a common server's 8 KiB line are served; headers larger
 * than the connection's memory get 431, not a dropped connection. */
static void test_header_size(void **state)
{
    struct reply r;
    size_t n = HTTP_CONNECTION_MEMORY * 2;
    char *pad = xmalloc(n + 1), *extra;

    memset(pad, 'a', n);
    pad[8000] = '\0';
    extra = xasprintf("X-Pad: %s\r\n", pad);
    request(port_of(state), "GET", "/healthz", extra, NULL, &r);
    assert_int_equal(r.status, 200);
    reply_release(&r);
    free(extra);

    pad[8000] = 'a';
    pad[n] = '\0';
    extra = xasprintf("X-Pad: %s\r\n", pad);
    request(port_of(state), "GET", "/healthz", extra, NULL, &r);
    assert_int_equal(r.status, 431);
    reply_release(&r);
    free(extra);
    free(pad);
}

static void test_invalid_json(void **state)
{
    struct reply r;
    json_t *doc;

    request(port_of(state), "POST", "/v1/echo/1", NULL, "{\"secret\":\"13800001111\"", &r);
    doc = assert_problem(&r, 400, "invalid-json");
    assert_non_null(json_string_value(json_object_get(doc, "detail")));
    /* Never echo the body. */
    assert_null(strstr(r.body, "13800001111"));
    assert_null(strstr(r.body, "secret"));
    json_decref(doc);
    reply_release(&r);

    /* Duplicate keys are refused too. */
    request(port_of(state), "POST", "/v1/echo/1", NULL, "{\"a\":1,\"a\":2}", &r);
    json_decref(assert_problem(&r, 400, "invalid-json"));
    reply_release(&r);
}

static void assert_security_headers(const struct reply *r)
{
    const char *csp;

    assert_string_equal(reply_header(r, "Cache-Control"), "no-store");
    assert_string_equal(reply_header(r, "X-Content-Type-Options"), "nosniff");
    assert_string_equal(reply_header(r, "X-Frame-Options"), "DENY");
    assert_string_equal(reply_header(r, "Referrer-Policy"), "no-referrer");
    csp = reply_header(r, "Content-Security-Policy");
    assert_non_null(csp);
    assert_non_null(strstr(csp, "default-src 'self'"));
    assert_non_null(strstr(csp, "frame-ancestors 'none'"));
    assert_null(strstr(csp, "unsafe-inline"));
}

static void test_security_headers_everywhere(void **state)
{
    struct reply r;

    request(port_of(state), "GET", "/healthz", NULL, NULL, &r);
    assert_security_headers(&r);
    reply_release(&r);
    request(port_of(state), "GET", "/nope", NULL, NULL, &r);
    assert_security_headers(&r);
    reply_release(&r);
    request(port_of(state), "POST", "/v1/echo/1", NULL, "{", &r);
    assert_security_headers(&r);
    reply_release(&r);
}

static void test_request_id(void **state)
{
    struct reply r;
    char first[64];

    request(port_of(state), "GET", "/healthz", NULL, NULL, &r);
    assert_non_null(reply_header(&r, "X-Request-Id"));
    snprintf(first, sizeof(first), "%s", reply_header(&r, "X-Request-Id"));
    assert_int_equal(strlen(first), 32);
    assert_int_equal(strspn(first, "0123456789abcdef"), 32);
    reply_release(&r);
    request(port_of(state), "GET", "/healthz", NULL, NULL, &r);
    assert_string_not_equal(reply_header(&r, "X-Request-Id"), first);
    reply_release(&r);
}

static void test_healthz(void **state)
{
    struct reply r;

    request(port_of(state), "HEAD", "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "");
    reply_release(&r);

    request(port_of(state), "GET", "/healthz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(reply_header(&r, "Content-Type"), "application/json");
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    reply_release(&r);
}

static void test_handler_error_is_internal(void **state)
{
    struct reply r;
    json_t *doc;

    request(port_of(state), "GET", "/v1/fail", NULL, NULL, &r);
    doc = assert_problem(&r, 500, "internal");
    assert_null(json_object_get(doc, "detail"));
    json_decref(doc);
    reply_release(&r);

    request(port_of(state), "POST", "/v1/cases/c1/verify", NULL, NULL, &r);
    doc = assert_problem(&r, 409, "case-not-verified");
    assert_string_equal(json_string_value(json_object_get(doc, "detail")),
                        "the case is awaiting verification");
    json_decref(doc);
    reply_release(&r);
}

static void test_metrics_count_requests(void **state)
{
    const char *labels = "method=\"POST\",route=\"/v1/echo/{id}\",status=\"200\"";
    double before = http_metric_value("http_requests_total", labels);
    double hist_before = http_metric_value("http_request_duration_seconds",
                                           "method=\"POST\",route=\"/v1/echo/{id}\"");
    struct reply r;
    char *line;

    for (int i = 0; i < 3; i++) {
        request(port_of(state), "POST", "/v1/echo/m", NULL, "{}", &r);
        assert_int_equal(r.status, 200);
        reply_release(&r);
    }
    request(port_of(state), "GET", "/nope/123", NULL, NULL, &r);
    reply_release(&r);
    assert_int_equal((int)(http_metric_value("http_requests_total", labels) - before), 3);
    assert_int_equal((int)(http_metric_value("http_request_duration_seconds",
                                             "method=\"POST\",route=\"/v1/echo/{id}\"") -
                           hist_before),
                     3);

    request(port_of(state), "GET", "/metrics", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(reply_header(&r, "Content-Type"), "text/plain"));
    line = xasprintf("http_requests_total{%s} %d\n", labels, (int)before + 3);
    assert_non_null(strstr(r.body, line));
    free(line);
    assert_non_null(strstr(r.body, "# TYPE http_requests_total counter\n"));
    assert_non_null(strstr(r.body, "# TYPE http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(r.body, "http_request_duration_seconds_bucket{method=\"POST\","
                                   "route=\"/v1/echo/{id}\",le=\"0.0005\"}"));
    assert_non_null(strstr(r.body, "le=\"+Inf\"}"));
    assert_non_null(strstr(r.body, "route=\"unmatched\",status=\"404\"} "));
    /* The raw path is never a label (it may hold an IMEI). */
    assert_null(strstr(r.body, "/nope/123"));
    reply_release(&r);
}

static void test_metric_api(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    http_metric_inc("custodian_reveals_total", "role=\"clerk\"");
    http_metric_add("custodian_reveals_total", "role=\"clerk\"", 2);
    http_metric_set("custodian_audit_batch_size", NULL, 17);
    http_metric_set("custodian_audit_batch_size", NULL, 5);
    http_metric_observe("custodian_reveals_total", "role=\"clerk\"", 1); /* wrong type: ignored */
    http_metric_observe("custodian_t_seconds", NULL, 0.003);
    http_metric_observe("custodian_t_seconds", NULL, 2.0);
    assert_true(http_metric_value("custodian_reveals_total", "role=\"clerk\"") == 3);
    assert_true(http_metric_value("custodian_audit_batch_size", NULL) == 5);
    http_metrics_render(&b);
    assert_non_null(strstr(b.data, "# TYPE custodian_audit_batch_size gauge\n"
                                   "custodian_audit_batch_size 5\n"));
    assert_non_null(strstr(b.data, "custodian_reveals_total{role=\"clerk\"} 3\n"));
    assert_non_null(strstr(b.data, "custodian_t_seconds_bucket{le=\"0.0025\"} 0\n"
                                   "custodian_t_seconds_bucket{le=\"0.005\"} 1\n"));
    assert_non_null(strstr(b.data, "custodian_t_seconds_bucket{le=\"1\"} 1\n"
                                   "custodian_t_seconds_bucket{le=\"+Inf\"} 2\n"
                                   "custodian_t_seconds_sum 2.003\n"
                                   "custodian_t_seconds_count 2\n"));
    buf_reset(&b);
    http_metric_escape(&b, "a\"b\\c\nd");
    assert_string_equal(b.data, "a\\\"b\\\\c\\nd");
    buf_release(&b);
}

static void test_problem_shape(void **state)
{
    struct http_response res = {0};

    (void)state;
    http_problem(&res, 429, "limit-reached", NULL);
    assert_int_equal(res.status, 429);
    assert_string_equal(res.content_type, "application/problem+json");
    assert_string_equal(json_string_value(json_object_get(res.json, "type")),
                        "https://custodian.invalid/problems/limit-reached");
    assert_string_equal(json_string_value(json_object_get(res.json, "title")), "Limit reached");
    assert_null(json_object_get(res.json, "detail"));
    assert_null(http_problem_title("no-such-slug"));
    assert_non_null(http_problem_title("account-suspended"));
    assert_non_null(http_problem_title("audit-unavailable"));
    json_decref(res.json);
    free(res.content_type);
}

/* Regression (fuzz_api_body): a detail that is not UTF-8 ("%.32s" cutting a
 * character in two) was dropped from the problem: json_string() refused it. */
static void test_problem_detail_not_utf8(void **state)
{
    struct http_response res = {0};

    (void)state;
    /* "unknown field '名字" cut after the first byte of "字" */
    http_problem(&res, 400, "invalid-input", "unknown field '\xe5\x90\x8d\xe5'");
    assert_string_equal(json_string_value(json_object_get(res.json, "detail")),
                        "unknown field '\xe5\x90\x8d\xef\xbf\xbd'");
    json_decref(res.json);
    free(res.content_type);
    memset(&res, 0, sizeof(res));
    http_problem(&res, 400, "invalid-input", "\xff\xc0\xafok\xed\xa0\x80");
    assert_string_equal(
        json_string_value(json_object_get(res.json, "detail")),
        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdok\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(res.json);
    free(res.content_type);
}

static void test_bad_config(void **state)
{
    static const struct http_route two_params[] = {{"GET", "/v1/{a}/{b}", echo_handler}};
    static const struct http_route partial[] = {{"GET", "/v1/x{a}", echo_handler}};
    const char *bad[] = {"127.0.0.1",      "[::1:80",         "::1:80",
                         "127.0.0.1:http", "127.0.0.1:70000", "no-such-host.invalid:80"};
    struct http_config cfg = {0};
    struct http_server *srv = NULL;
    char *err = NULL;

    (void)state;
    for (size_t i = 0; i < CU_ARRAY_LEN(bad); i++) {
        cfg.listen = bad[i];
        assert_int_equal(http_server_start(&cfg, &srv, &err), CU_ERR_INVALID);
        assert_null(srv);
        assert_non_null(err);
        free(err);
        err = NULL;
    }
    cfg.listen = "127.0.0.1:0";
    cfg.routes = two_params;
    cfg.n_routes = 1;
    assert_int_equal(http_server_start(&cfg, &srv, &err), CU_ERR_INVALID);
    free(err);
    err = NULL;
    cfg.routes = partial;
    assert_int_equal(http_server_start(&cfg, &srv, &err), CU_ERR_INVALID);
    free(err);
    err = NULL;
    /* A route above the server's body limit must authorise before the body. */
    {
        static const struct http_route unguarded[] = {
            {"POST", "/v1/big", echo_handler, 2 * HTTP_DEFAULT_BODY_LIMIT}};
        static const struct http_route guarded[] = {
            {"POST", "/v1/big", echo_handler, 2 * HTTP_DEFAULT_BODY_LIMIT, big_authorize}};

        cfg.routes = unguarded;
        assert_int_equal(http_server_start(&cfg, &srv, &err), CU_ERR_INVALID);
        assert_non_null(strstr(err, "authorize"));
        free(err);
        err = NULL;
        cfg.routes = guarded;
        assert_int_equal(http_server_start(&cfg, &srv, &err), CU_OK);
        http_server_stop(srv);
        srv = NULL;
        /* and the large-body budget must hold one such body */
        cfg.large_body_budget = HTTP_DEFAULT_BODY_LIMIT;
        assert_int_equal(http_server_start(&cfg, &srv, &err), CU_ERR_INVALID);
        assert_null(srv);
        free(err);
    }
}

static void test_ipv6_listen(void **state)
{
    struct http_config cfg = {0};
    struct http_server *srv = NULL;
    struct sockaddr_in6 sa = {0};
    char *err = NULL;
    char buf[256];
    ssize_t n;
    int fd;
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    (void)state;
    cfg.listen = "[::1]:0";
    cfg.threads = 1;
    if (http_server_start(&cfg, &srv, &err) != CU_OK) {
        free(err);
        skip(); /* no IPv6 loopback here */
    }
    fd = socket(AF_INET6, SOCK_STREAM, 0);
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(http_server_port(srv));
    sa.sin6_addr = in6addr_loopback;
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
    n = recv(fd, buf, sizeof(buf) - 1, MSG_WAITALL);
    assert_true(n > 12);
    buf[n] = '\0';
    assert_memory_equal(buf, "HTTP/1.1 200", 12);
    close(fd);
    http_server_stop(srv);
}

struct slow_call {
    uint16_t port;
    const char *path;
    struct reply r;
    int rc;
};

static void *slow_thread(void *arg)
{
    struct slow_call *c = arg;
    char *raw = xasprintf("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                          c->path ? c->path : "/v1/slow");

    c->rc = exchange(c->port, raw, strlen(raw), &c->r);
    free(raw);
    return NULL;
}

/* A deferred answer finished before its handler returned is still sent. */
static void test_deferred_finished_at_once(void **state)
{
    struct reply r;

    request(port_of(state), "GET", "/v1/later/now", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"later\":\"now\"}");
    assert_non_null(reply_header(&r, "X-Request-Id"));
    reply_release(&r);
}

/*
 * Deferred requests hold no server thread: with more of them waiting than
 * the server has threads (2), another request is still answered; once
 * finished, each waiting request gets its own answer.
 */
static void test_deferred_frees_the_thread(void **state)
{
    struct slow_call calls[4] = {0};
    struct timespec ts = {0, 10 * 1000 * 1000};
    pthread_t th[4];
    struct reply r;
    int i, waited;

    for (i = 0; i < 4; i++) {
        calls[i].port = port_of(state);
        calls[i].path = "/v1/later/gate";
        assert_int_equal(pthread_create(&th[i], NULL, slow_thread, &calls[i]), 0);
    }
    for (waited = 0; gate_waiting() < 4 && waited < 500; waited++)
        nanosleep(&ts, NULL);
    assert_int_equal(gate_waiting(), 4);
    alarm(20); /* a server blocked by the waiting requests would hang here */
    request(port_of(state), "GET", "/healthz", NULL, NULL, &r);
    alarm(0);
    assert_int_equal(r.status, 200);
    reply_release(&r);
    gate_open();
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(calls[i].rc, 0);
        assert_int_equal(calls[i].r.status, 200);
        assert_non_null(strstr(calls[i].r.body, "\"later\":"));
        reply_release(&calls[i].r);
    }
}

static void test_graceful_stop(void **state)
{
    struct http_server *srv = NULL;
    struct slow_call call = {0};
    struct timespec ts = {0, 100 * 1000 * 1000};
    pthread_t th;
    uint16_t port;

    (void)state;
    assert_int_equal(start_server(&srv), CU_OK);
    port = http_server_port(srv);
    call.port = port;
    assert_int_equal(pthread_create(&th, NULL, slow_thread, &call), 0);
    nanosleep(&ts, NULL); /* the request is now inside slow_handler */
    http_server_stop(srv);
    pthread_join(th, NULL);
    assert_int_equal(call.rc, 0);
    assert_int_equal(call.r.status, 200);
    assert_string_equal(call.r.body, "done");
    reply_release(&call.r);
    /* Nothing listens any more. */
    assert_int_equal(connect_port(port), -1);
}

int main(void)
{
    const struct CMUnitTest server_tests[] = {
        cmocka_unit_test(test_echo_json_param_query),
        cmocka_unit_test(test_empty_body_is_null),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_payload_too_large),
        cmocka_unit_test(test_large_body_authorized_first),
        cmocka_unit_test(test_large_body_budget),
        cmocka_unit_test(test_header_size),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_security_headers_everywhere),
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_healthz),
        cmocka_unit_test(test_handler_error_is_internal),
        cmocka_unit_test(test_metrics_count_requests),
        cmocka_unit_test(test_deferred_finished_at_once),
        cmocka_unit_test(test_deferred_frees_the_thread),
    };
    const struct CMUnitTest other_tests[] = {
        cmocka_unit_test(test_metric_api),
        cmocka_unit_test(test_problem_shape),
        cmocka_unit_test(test_problem_detail_not_utf8),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_ipv6_listen),
        cmocka_unit_test(test_graceful_stop),
    };
    int failed =
        cmocka_run_group_tests_name("http server", server_tests, group_setup, group_teardown);

    failed += cmocka_run_group_tests_name("http other", other_tests, NULL, NULL);
    http_metrics_reset();
    return failed;
}
