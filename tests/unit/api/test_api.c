/*
 * The authorization table: every route of the API against every role (and
 * no session at all), on a real server over loopback.  A route that is not
 * in the table fails the test, so a new endpoint cannot slip in unlisted;
 * a row without a route fails too.
 *
 * Each row's request is chosen so that a role that gets past the role
 * check sees an answer about the data (404 for a case or device that does
 * not exist, 400 for a body that is incomplete), and a role that does not
 * sees 403 role-not-allowed: the table tests who may call what, not the
 * use cases behind it (tests/e2e covers those).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "auth/totp.h"
#include "http/api.h"
#include "vault/vault.h"

enum { NONE, CLERK, AGENT, SUPERVISOR, SECURITY, ADMIN, CUSTOMER, NCOLS };
static const char *const col_names[NCOLS] = {"no session", "clerk", "agent",   "supervisor",
                                             "security",   "admin", "customer"};

struct row {
    const char *method;
    const char *pattern; /* as in the route table */
    const char *path;    /* what is requested */
    const char *body;    /* JSON, or NULL */
    int status[NCOLS];
};

/* 403 from the role check must say so: R marks those cells. */
#define R 1403

static const struct row table[] = {
    /* method, pattern, path, body: none clerk agent supervisor security admin customer */
    {"POST", "/v1/login", "/v1/login", "{}", {400, 400, 400, 400, 400, 400, 400}},
    {"POST", "/v1/password", "/v1/password", "{}", {400, 400, 400, 400, 400, 400, 400}},
    {"GET", "/v1/me", "/v1/me", NULL, {401, 200, 200, 200, 200, 200, 401}},
    {"POST", "/v1/totp/enrol", "/v1/totp/enrol", NULL, {401, 200, 200, 200, 200, 200, 401}},
    {"POST", "/v1/totp/confirm", "/v1/totp/confirm", "{}", {401, 400, 400, 400, 400, 400, 401}},
    {"GET", "/v1/devices/{id}", "/v1/devices/490154203237518", NULL, {401, 404, 404, R, R, R, 401}},
    {"GET",
     "/v1/customers",
     "/v1/customers?phone=%2B8613000000000",
     NULL,
     {401, 200, 200, R, R, R, 401}},
    /* a customer that does not exist: 404 once the role may open cases */
    {"POST",
     "/v1/cases",
     "/v1/cases",
     "{\"purpose\":\"customer_support\",\"customer_id\":\"C09999999\"}",
     {401, 404, 404, 403, R, R, 401}},
    {"GET", "/v1/cases/{id}", "/v1/cases/K-none", NULL, {401, 404, 404, 404, R, R, 401}},
    {"GET", "/v1/cases", "/v1/cases?status=pending_approval", NULL, {401, R, R, 200, R, R, 401}},
    {"POST",
     "/v1/cases/{id}/refuse",
     "/v1/cases/K-none/refuse",
     NULL,
     {401, 404, 404, 404, R, R, 401}},
    {"POST",
     "/v1/cases/{id}/verify",
     "/v1/cases/K-none/verify",
     "{\"code\":\"123456\"}",
     {401, 404, 404, 404, R, R, 401}},
    {"POST",
     "/v1/cases/{id}/approve",
     "/v1/cases/K-none/approve",
     NULL,
     {401, 404, 404, 404, R, R, 401}},
    {"POST",
     "/v1/cases/{id}/close",
     "/v1/cases/K-none/close",
     NULL,
     {401, 404, 404, 404, R, R, 401}},
    {"POST",
     "/v1/cases/{id}/cosign",
     "/v1/cases/K-none/cosign",
     NULL,
     {401, 404, 404, 404, R, R, 401}},
    {"POST",
     "/v1/cases/{id}/reveal",
     "/v1/cases/K-none/reveal",
     "{\"fields\":[\"name\"]}",
     {401, 404, 404, 404, R, R, 401}},
    {"GET", "/v1/alerts", "/v1/alerts?status=open", NULL, {401, R, R, R, 200, R, 401}},
    {"POST", "/v1/alerts/{id}/ack", "/v1/alerts/999/ack", NULL, {401, R, R, R, 404, R, 401}},
    {"GET",
     "/v1/staff/{username}/activity",
     "/v1/staff/nobody/activity",
     NULL,
     {401, R, R, 404, 404, R, 401}},
    {"POST",
     "/v1/staff/{username}/suspend",
     "/v1/staff/nobody/suspend",
     NULL,
     {401, R, R, R, 404, R, 401}},
    {"POST",
     "/v1/staff/{username}/resume",
     "/v1/staff/nobody/resume",
     NULL,
     {401, R, R, R, 404, R, 401}},
    /* the customer portal: anonymous steps answer 400 to an empty body */
    {"POST", "/v1/subject/code", "/v1/subject/code", "{}", {400, 400, 400, 400, 400, 400, 400}},
    {"POST", "/v1/subject/login", "/v1/subject/login", "{}", {400, 400, 400, 400, 400, 400, 400}},
    {"GET",
     "/v1/subject/access-log",
     "/v1/subject/access-log",
     NULL,
     {401, 401, 401, 401, 401, 401, 200}},
    {"GET", "/v1/subject/export", "/v1/subject/export", NULL, {401, 401, 401, 401, 401, 401, 200}},
    {"GET",
     "/v1/subject/notices",
     "/v1/subject/notices",
     NULL,
     {401, 401, 401, 401, 401, 401, 200}},
    {"POST",
     "/v1/subject/notices",
     "/v1/subject/notices",
     "{\"digest\":\"weekly\"}",
     {401, 401, 401, 401, 401, 401, 400}},
    {"GET", "/v1/erasures", "/v1/erasures?status=pending", NULL, {401, R, R, R, R, 200, 401}},
    {"POST", "/v1/trace", "/v1/trace", "{}", {401, R, R, R, 400, R, 401}},
    {"POST",
     "/v1/erasures/{id}/approve",
     "/v1/erasures/E-none/approve",
     NULL,
     {401, R, R, R, R, 404, 401}},
    {"POST",
     "/v1/erasures/{id}/refuse",
     "/v1/erasures/E-none/refuse",
     NULL,
     {401, R, R, R, R, 404, 401}},
    /* the audit log: checkpoints and consistency proofs are public */
    {"GET",
     "/v1/audit/checkpoint",
     "/v1/audit/checkpoint",
     NULL,
     {200, 200, 200, 200, 200, 200, 200}},
    {"GET",
     "/v1/audit/proof/consistency",
     "/v1/audit/proof/consistency?first=1&second=1",
     NULL,
     {200, 200, 200, 200, 200, 200, 200}},
    {"GET",
     "/v1/audit/entries",
     "/v1/audit/entries?start=0&end=1",
     NULL,
     {401, R, R, R, 200, R, 401}},
    /* a customer only for entries about them (entry 0 is not) */
    {"GET",
     "/v1/audit/proof/inclusion",
     "/v1/audit/proof/inclusion?index=0&tree_size=1",
     NULL,
     {401, R, R, R, 200, R, 403}},
    /* the customer asks to be erased (202); last but the log-outs */
    {"POST",
     "/v1/subject/erasure",
     "/v1/subject/erasure",
     NULL,
     {401, 401, 401, 401, 401, 401, 202}},
    /* the web console (issue 7): the verifier key is public; the audit
     * search and the staff list are security's (and the list supervisors') */
    {"GET", "/v1/audit/key", "/v1/audit/key", NULL, {200, 200, 200, 200, 200, 200, 200}},
    {"GET", "/v1/audit/search", "/v1/audit/search?staff=nobody", NULL, {401, R, R, R, 200, R, 401}},
    {"GET", "/v1/staff", "/v1/staff", NULL, {401, R, R, 200, 200, R, 401}},
    /* last: they end the sessions */
    {"POST", "/v1/subject/logout", "/v1/subject/logout", NULL, {401, 401, 401, 401, 401, 401, 204}},
    {"POST", "/v1/logout", "/v1/logout", NULL, {401, 204, 204, 204, 204, 204, 401}},
};

struct fixture {
    char dir[64];
    struct service *svc;
    struct api *api;
    struct http_server *srv;
    uint16_t port;
    char *token[NCOLS];
};

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
    buf_add(ctx, p, size * n);
    return size * n;
}

/* Makes one request; returns the status and the body in `body`. */
static long request(struct fixture *f, const char *method, const char *path, const char *json,
                    const char *token, struct buf *body)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[256], auth[256];
    long status = 0;

    assert_non_null(c);
    buf_reset(body);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)f->port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (json != NULL) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
    }
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    buf_addch(body, '\0');
    body->len--;
    return status;
}

/* A staff member of `role` with a session whose password is changed. */
static char *staff_session(struct fixture *f, const char *user, const char *role)
{
    static const struct service_actor op = {"operator:test", "operator", NULL, "local", NULL};
    unsigned char secret[64];
    size_t len = sizeof(secret);
    json_t *cred = NULL, *out = NULL;
    char code[7], *token, *err = NULL;

    assert_int_equal(service_staff_add(f->svc, &op, user, role, "SZ-014", &cred, &err), CU_OK);
    assert_int_equal(totp_secret_from_base32(
                         json_string_value(json_object_get(cred, "totp_secret")), secret, &len),
                     CU_OK);
    assert_int_equal(totp_code(secret, len, cu_now(), code), CU_OK);
    assert_int_equal(service_login(f->svc, user,
                                   json_string_value(json_object_get(cred, "password")), code,
                                   "127.0.0.1", &out, &err),
                     CU_OK);
    token = xstrdup(json_string_value(json_object_get(out, "token")));
    assert_int_equal(service_password_change(f->svc, token,
                                             json_string_value(json_object_get(cred, "password")),
                                             "a-long-enough-password", &err),
                     CU_OK);
    json_decref(cred);
    json_decref(out);
    return token;
}

/* A customer signed in with a code from the outbox. */
static char *customer_session(struct fixture *f, const char *dir)
{
    struct service_import_opts o = {0};
    struct service_import_result r;
    json_t *out = NULL;
    const char *body;
    char *path = xasprintf("%s/c.csv", dir), *err = NULL, code[7] = {0}, *token;
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs("customer_id,account,name,phone,email,address,birth_date,imei,serial,model,"
          "purchase_date,store\nC1,c1@icloud.com,Li Wei,+8613812345678,,,,,,,,\n",
          fp);
    fclose(fp);
    o.path = path;
    assert_int_equal(service_import(f->svc, &o, &r, &err), CU_OK);
    assert_int_equal(service_subject_code(f->svc, "c1@icloud.com", "127.0.0.1", NULL, &err), CU_OK);
    assert_int_equal(service_outbox_list(f->svc, 0, 100, &out, &err), CU_OK);
    body = json_string_value(
        json_object_get(json_array_get(json_object_get(out, "messages"), 0), "body"));
    assert_non_null(body);
    body += strcspn(body, "0123456789");
    memcpy(code, body, 6);
    json_decref(out);
    assert_int_equal(
        service_subject_login(f->svc, "c1@icloud.com", code, "127.0.0.1", NULL, &out, &err), CU_OK);
    token = xstrdup(json_string_value(json_object_get(out, "token")));
    json_decref(out);
    free(path);
    return token;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    struct http_config cfg = {0};
    char data[96], *err = NULL;
    int i;

    strcpy(f->dir, "/tmp/custodian-api-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(data, sizeof(data), "%s/data", f->dir);
    assert_int_equal(service_init_data(data, NULL, &err), CU_OK);
    assert_int_equal(service_open(&f->svc, data, &err), CU_OK);
    assert_int_equal(service_audit_open(f->svc, &err), CU_OK);
    for (i = CLERK; i < CUSTOMER; i++)
        f->token[i] = staff_session(f, col_names[i], col_names[i]);
    f->token[CUSTOMER] = customer_session(f, f->dir);
    f->api = api_new(f->svc);
    cfg.listen = "127.0.0.1:0";
    cfg.threads = 2;
    cfg.routes = api_routes(&cfg.n_routes);
    cfg.app = f->api;
    assert_int_equal(http_server_start(&cfg, &f->srv, &err), CU_OK);
    f->port = http_server_port(f->srv);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char *cmd = xasprintf("rm -rf '%s'", f->dir);
    int i;

    http_server_stop(f->srv);
    api_free(f->api);
    service_free(f->svc);
    for (i = 0; i < NCOLS; i++)
        free(f->token[i]);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
    free(cmd);
    free(f);
    return 0;
}

static const struct row *row_for(const struct http_route *r)
{
    size_t i;

    for (i = 0; i < CU_ARRAY_LEN(table); i++)
        if (strcmp(table[i].method, r->method) == 0 && strcmp(table[i].pattern, r->pattern) == 0)
            return &table[i];
    return NULL;
}

/* Every route has a row and every row a route. */
static void test_table_covers_every_route(void **state)
{
    const struct http_route *routes;
    size_t n, i, j, found;

    (void)state;
    routes = api_routes(&n);
    for (i = 0; i < n; i++) {
        if (row_for(&routes[i]) == NULL)
            fail_msg("route %s %s is not in the authorization table", routes[i].method,
                     routes[i].pattern);
    }
    for (j = 0; j < CU_ARRAY_LEN(table); j++) {
        for (found = 0, i = 0; i < n; i++)
            found += strcmp(table[j].method, routes[i].method) == 0 &&
                     strcmp(table[j].pattern, routes[i].pattern) == 0;
        if (found != 1)
            fail_msg("table row %s %s matches %zu routes", table[j].method, table[j].pattern,
                     found);
    }
}

static void test_every_route_every_role(void **state)
{
    struct fixture *f = *state;
    struct buf body = BUF_INIT;
    size_t i;
    long got;
    int col, want, failures = 0;

    for (i = 0; i < CU_ARRAY_LEN(table); i++) {
        const struct row *r = &table[i];

        for (col = 0; col < NCOLS; col++) {
            want = r->status[col] == R ? 403 : r->status[col];
            got = request(f, r->method, r->path, r->body, f->token[col], &body);
            if (got != want) {
                print_error("%s %s as %s: %ld, expected %d (%s)\n", r->method, r->path,
                            col_names[col], got, want, body.data);
                failures++;
            } else if (r->status[col] == R && strstr(body.data, "/role-not-allowed\"") == NULL) {
                print_error("%s %s as %s: 403 but not role-not-allowed (%s)\n", r->method, r->path,
                            col_names[col], body.data);
                failures++;
            }
        }
    }
    buf_release(&body);
    assert_int_equal(failures, 0);
}

/* A refused role leaves an audit entry naming the role and the route. */
static void test_role_refusals_are_audited(void **state)
{
    struct fixture *f = *state;
    json_t *out = NULL;
    char *err = NULL, *text;

    assert_int_equal(service_audit_show(f->svc, "security", NULL, 100, &out, &err), CU_OK);
    text = json_dumps(out, JSON_COMPACT);
    assert_non_null(strstr(text, "\"action\":\"access_denied\""));
    assert_non_null(strstr(text, "POST /v1/cases/{id}/reveal"));
    free(text);
    json_decref(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_covers_every_route),
        cmocka_unit_test(test_every_route_every_role),
        cmocka_unit_test(test_role_refusals_are_audited),
    };

    if (vault_global_init() != CU_OK || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}
