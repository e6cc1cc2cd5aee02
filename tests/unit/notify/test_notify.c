/*
 * Unit tests for src/notify: the webhook transport against a real local
 * HTTP server (libmicrohttpd on 127.0.0.1, a port the kernel picks) that
 * records what it received and answers with the status a test sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "notify/notify.h"

#define BODY_MARK   "SECRET-BODY-MARK"
#define BEARER_MARK "SECRET-BEARER-MARK"
#define ANSWER_MARK "ANSWER-MARK "

/* One test server.  The test sets the fields under "answer" before a
 * request; the handler fills those under "recorded" (under `lock`). */
struct srv {
    struct MHD_Daemon *daemon;
    unsigned port;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    /* answer */
    unsigned status;
    const char *location; /* Location header, or NULL */
    size_t answer_len;    /* bytes of answer body */
    int hold;             /* wait until `released` before answering */
    int released;
    /* recorded: the last request */
    int nreq;
    char *method, *path, *ctype, *auth, *agent;
    struct buf body;
};

static void srv_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                          enum MHD_RequestTerminationCode toe)
{
    struct buf *body = *req_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (body != NULL) {
        buf_release(body);
        free(body);
        *req_cls = NULL;
    }
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

static void srv_record(struct srv *s, struct MHD_Connection *c, const char *url, const char *method,
                       struct buf *body)
{
    free(s->method);
    free(s->path);
    free(s->ctype);
    free(s->auth);
    free(s->agent);
    s->method = xstrdup(method);
    s->path = xstrdup(url);
    s->ctype = dup_or_null(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type"));
    s->auth = dup_or_null(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"));
    s->agent = dup_or_null(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent"));
    buf_reset(&s->body);
    buf_add(&s->body, body->data != NULL ? body->data : "", body->len);
    s->nreq++;
}

static enum MHD_Result srv_handle(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **req_cls)
{
    struct srv *s = cls;
    struct buf *body = *req_cls;
    struct MHD_Response *resp;
    struct timespec until;
    enum MHD_Result ret;
    unsigned status;
    char *answer;
    size_t i;

    (void)version;
    if (body == NULL) {
        body = xcalloc(1, sizeof(*body));
        *req_cls = body;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        buf_add(body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }

    pthread_mutex_lock(&s->lock);
    srv_record(s, c, url, method, body);
    if (s->hold) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10; /* safety net: the test releases us well before */
        while (!s->released)
            if (pthread_cond_timedwait(&s->cond, &s->lock, &until) != 0)
                break;
    }
    status = s->status;
    answer = xmalloc(s->answer_len + 1);
    for (i = 0; i < s->answer_len; i++)
        answer[i] = ANSWER_MARK[i % (sizeof(ANSWER_MARK) - 1)];
    resp = MHD_create_response_from_buffer(s->answer_len, answer, MHD_RESPMEM_MUST_FREE);
    if (s->location != NULL)
        MHD_add_response_header(resp, "Location", s->location);
    pthread_mutex_unlock(&s->lock);
    ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static struct srv *srv_start(void)
{
    struct srv *s = xcalloc(1, sizeof(*s));
    const union MHD_DaemonInfo *info;
    struct sockaddr_in sa;

    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    buf_init(&s->body);
    s->status = 200;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, srv_handle, s,
                                 MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
                                 srv_completed, s, MHD_OPTION_END);
    assert_non_null(s->daemon);
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    s->port = info->port;
    assert_int_not_equal(s->port, 0);
    return s;
}

static void srv_release(struct srv *s)
{
    pthread_mutex_lock(&s->lock);
    s->released = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void srv_stop(struct srv *s)
{
    srv_release(s);
    MHD_stop_daemon(s->daemon);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    free(s->method);
    free(s->path);
    free(s->ctype);
    free(s->auth);
    free(s->agent);
    buf_release(&s->body);
    free(s);
}

static int srv_nreq(struct srv *s)
{
    int n;

    pthread_mutex_lock(&s->lock);
    n = s->nreq;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static int setup(void **state)
{
    *state = srv_start();
    return 0;
}

static int teardown(void **state)
{
    srv_stop(*state);
    return 0;
}

/* The server's URL with `path`; the caller frees it. */
static char *srv_url(struct srv *s, const char *path)
{
    return xasprintf("http://127.0.0.1:%u%s", s->port, path);
}

/* Posts a message holding BODY_MARK with BEARER_MARK to `s`, expecting `want`;
 * checks the message leaks neither mark. */
static void post_expect(struct srv *s, unsigned status, int want)
{
    char *url = srv_url(s, "/hook"), *err = NULL;
    int rc;

    s->status = status;
    rc = notify_webhook_post(url, "{\"to\":\"" BODY_MARK "\"}", BEARER_MARK, 5, &err);
    assert_int_equal(rc, want);
    if (want == CU_OK) {
        assert_null(err);
    } else {
        char code[8];

        assert_non_null(err);
        snprintf(code, sizeof(code), "%u", status);
        assert_non_null(strstr(err, code));
        assert_null(strstr(err, BODY_MARK));
        assert_null(strstr(err, BEARER_MARK));
        assert_null(strstr(err, "ANSWER-MARK"));
    }
    assert_int_equal(srv_nreq(s), 1);
    free(err);
    free(url);
}

static void test_post_2xx_sends_body_and_headers(void **state)
{
    struct srv *s = *state;
    const char *json = "{\"to\":\"+4915112345678\",\"text\":\"code 123456\"}";
    char *url = srv_url(s, "/hook/sms"), *err = NULL;
    unsigned statuses[] = {200, 204};
    size_t i;

    for (i = 0; i < CU_ARRAY_LEN(statuses); i++) {
        s->status = statuses[i];
        assert_int_equal(notify_webhook_post(url, json, "tok-abc.def", 5, &err), CU_OK);
        assert_null(err);
        assert_int_equal(srv_nreq(s), (int)i + 1);
        assert_string_equal(s->method, "POST");
        assert_string_equal(s->path, "/hook/sms");
        assert_string_equal(s->ctype, "application/json");
        assert_non_null(s->auth);
        assert_string_equal(s->auth, "Bearer tok-abc.def");
        assert_string_equal(s->agent, "custodian-notify/1");
        assert_int_equal(s->body.len, strlen(json));
        assert_memory_equal(s->body.data, json, strlen(json));
    }
    free(url);
}

static void test_post_without_bearer_sends_no_authorization(void **state)
{
    struct srv *s = *state;
    char *url = srv_url(s, "/"), *err = NULL;

    assert_int_equal(notify_webhook_post(url, "{}", NULL, 5, &err), CU_OK);
    assert_null(err);
    assert_int_equal(srv_nreq(s), 1);
    assert_null(s->auth);
    assert_string_equal(s->body.data, "{}");
    free(url);
}

/* A body over curl's Expect: 100-continue threshold and a large answer. */
static void test_post_large_body_and_answer(void **state)
{
    struct srv *s = *state;
    char *url = srv_url(s, "/"), *err = NULL, *json;
    size_t n = 200000;

    json = xmalloc(n + 1);
    memset(json, 'a', n);
    json[0] = '"';
    json[n - 1] = '"';
    json[n] = '\0';
    s->answer_len = 1 << 20;
    assert_int_equal(notify_webhook_post(url, json, NULL, 5, &err), CU_OK);
    assert_null(err);
    assert_int_equal(s->body.len, n);
    assert_memory_equal(s->body.data, json, n);
    free(json);
    free(url);
}

static void test_post_retryable_statuses_are_io(void **state)
{
    struct srv *s = *state;

    s->answer_len = 100; /* the answer's body must not reach the message */
    post_expect(s, 503, CU_ERR_IO);
    s->nreq = 0;
    post_expect(s, 500, CU_ERR_IO);
    s->nreq = 0;
    post_expect(s, 429, CU_ERR_IO);
}

static void test_post_other_4xx_are_invalid(void **state)
{
    struct srv *s = *state;

    s->answer_len = 100;
    post_expect(s, 400, CU_ERR_INVALID);
    s->nreq = 0;
    post_expect(s, 404, CU_ERR_INVALID);
}

static void test_post_redirect_not_followed(void **state)
{
    struct srv *s = *state, *target = srv_start();
    char *loc = srv_url(target, "/target"), *url = srv_url(s, "/"), *err = NULL;

    s->status = 302;
    s->location = loc;
    assert_int_equal(notify_webhook_post(url, "{}", BEARER_MARK, 5, &err), CU_ERR_INVALID);
    assert_non_null(err);
    assert_non_null(strstr(err, "302"));
    assert_int_equal(srv_nreq(s), 1);
    assert_int_equal(srv_nreq(target), 0);
    srv_stop(target);
    free(err);
    free(loc);
    free(url);
}

static void test_post_closed_port_is_io(void **state)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    char *url, *err = NULL;
    int fd;

    (void)state;
    /* A port that was free a moment ago and has nobody listening now. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    url = xasprintf("http://127.0.0.1:%u/", (unsigned)ntohs(sa.sin_port));
    assert_int_equal(notify_webhook_post(url, "{\"x\":\"" BODY_MARK "\"}", BEARER_MARK, 2, &err),
                     CU_ERR_IO);
    assert_non_null(err);
    assert_non_null(strstr(err, "webhook: connect failed: "));
    assert_null(strstr(err, BODY_MARK));
    assert_null(strstr(err, BEARER_MARK));
    free(err);
    free(url);
}

static void test_post_slow_server_times_out(void **state)
{
    struct srv *s = *state;
    char *url = srv_url(s, "/"), *err = NULL;
    double t0, elapsed;
    int rc;

    s->hold = 1;
    t0 = cu_monotonic();
    rc = notify_webhook_post(url, "{}", NULL, 1, &err);
    elapsed = cu_monotonic() - t0;
    srv_release(s);
    assert_int_equal(rc, CU_ERR_IO);
    assert_true(elapsed >= 0.9);
    assert_true(elapsed < 3.0);
    assert_int_equal(srv_nreq(s), 1); /* the request arrived; the answer did not */
    assert_non_null(err);
    free(err);
    free(url);
}

static void test_post_other_schemes_rejected_without_connection(void **state)
{
    struct srv *s = *state;
    char *ftp = xasprintf("ftp://127.0.0.1:%u/x", s->port);
    char *gopher = xasprintf("gopher://127.0.0.1:%u/x", s->port);
    const char *urls[] = {ftp, gopher, "file:///etc/passwd", "127.0.0.1/no-scheme", ""};
    char *err;
    size_t i;

    for (i = 0; i < CU_ARRAY_LEN(urls); i++) {
        err = NULL;
        assert_int_equal(notify_webhook_post(urls[i], "{}", NULL, 1, &err), CU_ERR_INVALID);
        assert_non_null(err);
        free(err);
    }
    assert_int_equal(srv_nreq(s), 0);
    free(ftp);
    free(gopher);
}

/* https passes the protocol filter: against a plain HTTP server the TLS
 * handshake fails, which is a transport error, not a rejected URL. */
static void test_post_https_allowed(void **state)
{
    struct srv *s = *state;
    char *url = xasprintf("HTTPS://127.0.0.1:%u/", s->port), *err = NULL;

    assert_int_equal(notify_webhook_post(url, "{}", NULL, 2, &err), CU_ERR_IO);
    assert_non_null(err);
    free(err);
    free(url);
}

static void test_post_bad_arguments_rejected(void **state)
{
    struct srv *s = *state;
    char *url = srv_url(s, "/"), *err = NULL;

    assert_int_equal(notify_webhook_post(url, "{}", BEARER_MARK "\r\nX-Evil: 1", 5, &err),
                     CU_ERR_INVALID);
    assert_non_null(err);
    assert_null(strstr(err, BEARER_MARK));
    free(err);
    err = NULL;
    assert_int_equal(notify_webhook_post(url, "{}", NULL, 0, &err), CU_ERR_INVALID);
    free(err);
    assert_int_equal(notify_webhook_post(NULL, "{}", NULL, 5, NULL), CU_ERR_INVALID);
    assert_int_equal(notify_webhook_post(url, NULL, NULL, 5, NULL), CU_ERR_INVALID);
    assert_int_equal(srv_nreq(s), 0);
    free(url);
}

/* Several threads posting at once (one curl handle each). */
struct poster {
    const char *url;
    int ok;
};

static void *poster_run(void *arg)
{
    struct poster *p = arg;
    int i;

    for (i = 0; i < 5; i++)
        p->ok += notify_webhook_post(p->url, "{}", NULL, 5, NULL) == CU_OK;
    return NULL;
}

static void test_post_from_threads(void **state)
{
    struct srv *s = *state;
    char *url = srv_url(s, "/");
    struct poster p[4];
    pthread_t t[4];
    int i;

    for (i = 0; i < 4; i++) {
        p[i].url = url;
        p[i].ok = 0;
        assert_int_equal(pthread_create(&t[i], NULL, poster_run, &p[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(p[i].ok, 5);
    }
    assert_int_equal(srv_nreq(s), 20);
    free(url);
}

static void test_retry_delay_backoff(void **state)
{
    int64_t base = 5, d;
    unsigned a;

    (void)state;
    for (a = 1; a <= 30; a++) {
        d = notify_retry_delay(a);
        assert_true(d >= base);
        assert_true(d <= base + base / 5);
        base = base * 2 > 600 ? 600 : base * 2;
    }
    d = notify_retry_delay(1);
    assert_true(d >= 5 && d <= 6);
    assert_true(notify_retry_delay(3) > notify_retry_delay(1));
    d = notify_retry_delay(30);
    assert_true(d >= 600 && d <= 720);
    d = notify_retry_delay(~0u);
    assert_true(d >= 600 && d <= 720);
    d = notify_retry_delay(0);
    assert_true(d >= 5 && d <= 6);
}

static void test_retry_delay_has_jitter(void **state)
{
    int64_t first = notify_retry_delay(10), d;
    int differs = 0, i;

    (void)state;
    for (i = 0; i < 200; i++) {
        d = notify_retry_delay(10);
        differs |= d != first;
    }
    assert_true(differs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_post_2xx_sends_body_and_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_without_bearer_sends_no_authorization, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_post_large_body_and_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_retryable_statuses_are_io, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_other_4xx_are_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_redirect_not_followed, setup, teardown),
        cmocka_unit_test(test_post_closed_port_is_io),
        cmocka_unit_test_setup_teardown(test_post_slow_server_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_other_schemes_rejected_without_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_post_https_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_bad_arguments_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_from_threads, setup, teardown),
        cmocka_unit_test(test_retry_delay_backoff),
        cmocka_unit_test(test_retry_delay_has_jitter),
    };
    const char *proxy_vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                "ALL_PROXY"};
    size_t i;

    /* The test servers are local: no proxy from the environment. */
    for (i = 0; i < CU_ARRAY_LEN(proxy_vars); i++)
        unsetenv(proxy_vars[i]);
    if (notify_global_init() != CU_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
