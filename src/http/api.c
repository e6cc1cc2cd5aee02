/*
 * API handlers.  Each worker thread of the server gets its own service
 * handle (its own store connection; the vault and the audit writer are
 * shared, so all threads' audit entries share group commits).
 */
#include "api.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../model/model.h"
#include "../audit/audit.h"
#include "../policy/policy.h"
#include "../store/store.h"

struct api {
    struct service *root;
    struct audit_log_stats seen; /* what collect() has counted so far */
    pthread_key_t key;
    pthread_mutex_t lock;
    struct service **workers;
    size_t n, cap;
};

struct api *api_new(struct service *svc)
{
    struct api *api = xcalloc(1, sizeof(*api));

    api->root = svc;
    pthread_key_create(&api->key, NULL);
    pthread_mutex_init(&api->lock, NULL);
    return api;
}

void api_free(struct api *api)
{
    size_t i;

    if (api == NULL)
        return;
    for (i = 0; i < api->n; i++)
        service_free(api->workers[i]);
    free(api->workers);
    pthread_key_delete(api->key);
    pthread_mutex_destroy(&api->lock);
    free(api);
}

/* This process's resident memory (/proc/self/statm), 0 if unknown. */
static long long resident_bytes(void)
{
    long long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%lld %lld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

void api_collect(void *app)
{
    struct api *api = app;
    struct audit_log_stats now;

    if (api->root->audit == NULL)
        return;
    audit_log_stats(api->root->audit, &now);
    pthread_mutex_lock(&api->lock);
    http_metric_add("custodian_audit_entries_total", NULL,
                    (double)(now.entries - api->seen.entries));
    http_metric_add("custodian_audit_batches_total", NULL,
                    (double)(now.batches - api->seen.batches));
    http_metric_add("custodian_audit_failures_total", NULL,
                    (double)(now.failures - api->seen.failures));
    http_metric_add("custodian_audit_caught_up_total", NULL,
                    (double)(now.caught_up - api->seen.caught_up));
    http_metric_add("custodian_audit_reloads_total", NULL,
                    (double)(now.reloads - api->seen.reloads));
    http_metric_set("custodian_audit_log_size", NULL, (double)now.size);
    http_metric_set("process_resident_memory_bytes", NULL, (double)resident_bytes());
    api->seen = now;
    pthread_mutex_unlock(&api->lock);
}

/* This thread's service handle, made on first use. */
static struct service *worker(struct api *api, char **errmsg)
{
    struct service *svc = pthread_getspecific(api->key);

    if (svc != NULL)
        return svc;
    pthread_mutex_lock(&api->lock);
    if (service_worker_new(api->root, &svc, errmsg) == CU_OK) {
        if (api->n == api->cap) {
            api->cap = api->cap ? 2 * api->cap : 8;
            api->workers = xrealloc(api->workers, api->cap * sizeof(*api->workers));
        }
        api->workers[api->n++] = svc;
        pthread_setspecific(api->key, svc);
    }
    pthread_mutex_unlock(&api->lock);
    return svc;
}

/*
 * Finishes a handler: a service error becomes problem+json (the detail never
 * holds a secret); CU_OK leaves the response as the handler set it.  Frees
 * `err` either way.
 */
static int fail_why(struct http_response *res, int rc, const char *why, char *err)
{
    int status = 500;
    const char *slug = "internal";

    if (rc == CU_OK) {
        free(err);
        return CU_OK;
    }
    switch (rc) {
    case CU_ERR_INVALID:
        status = 400, slug = "invalid-input";
        break;
    case CU_ERR_AUTH:
        status = 401, slug = "unauthorized";
        break;
    case CU_ERR_FORBIDDEN:
        status = 403, slug = "forbidden";
        break;
    case CU_ERR_NOT_FOUND:
        status = 404, slug = "not-found";
        break;
    case CU_ERR_CONFLICT:
        status = 409, slug = "conflict";
        break;
    case CU_ERR_SUSPENDED:
        status = 423, slug = "account-suspended";
        break;
    case CU_ERR_LIMIT:
        status = 429, slug = "limit-reached";
        break;
    case CU_ERR_STORE:
        status = 503, slug = "audit-unavailable";
        break;
    }
    if (why != NULL) {
        char labels[96];

        slug = why;
        snprintf(labels, sizeof(labels), "reason=\"%s\"", why);
        http_metric_inc("custodian_denials_total", labels);
    }
    http_problem(res, status, slug, status == 500 ? "internal error" : err);
    free(err);
    return CU_OK;
}

static int fail(struct http_response *res, int rc, char *err)
{
    return fail_why(res, rc, NULL, err);
}

/* Answers a service call: `status` with its view, or the problem (with its
 * reason slug when there is one). */
static int answer(struct http_response *res, int rc, int status, json_t *out, const char *why,
                  char *err)
{
    if (rc == CU_OK)
        http_json(res, status, out);
    return fail_why(res, rc, why, err);
}

static const char *body_str(const struct http_request *req, const char *key)
{
    return json_string_value(json_object_get(req->body, key));
}

/*
 * Who may call a route.  Every route names its roles in the table at the
 * end of this file; begin() enforces them before the handler does
 * anything, so a route cannot forget to.  tests/unit/api checks every
 * route against every role.
 */
enum {
    R_CLERK = 1 << POLICY_ROLE_CLERK,
    R_AGENT = 1 << POLICY_ROLE_AGENT,
    R_SUPERVISOR = 1 << POLICY_ROLE_SUPERVISOR,
    R_SECURITY = 1 << POLICY_ROLE_SECURITY,
    R_ADMIN = 1 << POLICY_ROLE_ADMIN,
    R_STAFF = R_CLERK | R_AGENT | R_SUPERVISOR | R_SECURITY | R_ADMIN,
    R_FRONT = R_CLERK | R_AGENT,                /* front-line: look-ups and cases */
    R_CASES = R_CLERK | R_AGENT | R_SUPERVISOR, /* case work, as the policy allows */
};

/* A staff request in progress: the session and the actor it makes. */
struct call {
    struct service *svc;
    struct service_session ss;
    struct service_actor who;
};

static void call_end(struct call *c)
{
    service_session_release(&c->ss);
}

void api_finish(void *app)
{
    struct api *api = app;
    struct service *svc = pthread_getspecific(api->key);

    if (svc != NULL)
        store_reads_end(svc->store);
}

/* This thread's service handle, or NULL with 503 answered.  The request's
 * reads are grouped from here to api_finish(). */
static struct service *begin_anon(void *app, struct http_response *res)
{
    char *err = NULL;
    struct service *svc = worker(app, &err);

    if (svc == NULL) {
        fail(res, CU_ERR_STORE, err ? err : xstrdup("the store is unavailable"));
        return NULL;
    }
    free(err);
    store_reads_begin(svc->store);
    return svc;
}

/*
 * The start of every staff handler: the service handle, the session (401,
 * 423 when there is none or the account is suspended), the role check
 * against `roles` (403 role-not-allowed, audited) and, for `data` routes,
 * the first log-in's password change (403 password-change-required).
 * 0 when the request is answered already; call_end() in every case.
 */
static int begin(void *app, struct http_request *req, struct http_response *res, struct call *c,
                 unsigned roles, int data)
{
    char *err = NULL;
    int rc, role;

    memset(c, 0, sizeof(*c));
    c->svc = begin_anon(app, res);
    if (c->svc == NULL)
        return 0;
    rc = service_session(c->svc, http_bearer_token(req), &c->ss, &err);
    if (rc != CU_OK) {
        fail(res, rc, err);
        return 0;
    }
    free(err);
    err = NULL;
    c->who.username = c->ss.username;
    c->who.role = c->ss.role;
    c->who.store = c->ss.store;
    c->who.client = req->client_addr;
    c->who.request_id = req->request_id;
    role = policy_role_from_name(c->ss.role);
    if (role < 0 || !(roles & (1u << role))) {
        char detail[160];

        snprintf(detail, sizeof(detail), "%s %s", req->method, req->route);
        rc = service_audit_note(c->svc, &c->who, AUDIT_ACCESS_DENIED, 0, detail, &err);
        if (rc == CU_OK)
            rc = fail_why(res, CU_ERR_FORBIDDEN, "role-not-allowed",
                          xasprintf("role %s may not use %s", c->ss.role, req->route));
        else
            fail(res, rc, err);
        return 0;
    }
    if (data && c->ss.must_change_password) {
        fail_why(res, CU_ERR_FORBIDDEN, "password-change-required",
                 xstrdup("change the one-time password first"));
        return 0;
    }
    return 1;
}

/*
 * The authorize callback (http_route.authorize) of a route that takes large
 * bodies: begin()'s checks, on the headers alone, before the server reads
 * the body.  A request without a valid session gets its 401 (423), a role
 * not in `roles` its audited 403, exactly as from the handler, and the
 * body is never read.  The handler calls begin() again once the body is
 * in: the session may have ended meanwhile.
 */
static int gate(void *app, struct http_request *req, struct http_response *res, unsigned roles,
                int data)
{
    struct call c;

    begin(app, req, res, &c, roles, data);
    call_end(&c);
    return CU_OK;
}

static int h_login(void *app, struct http_request *req, struct http_response *res)
{
    struct service *svc = begin_anon(app, res);
    const char *u = body_str(req, "username"), *p = body_str(req, "password"),
               *t = body_str(req, "totp");
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (svc == NULL)
        return CU_OK;
    if (u == NULL || p == NULL || t == NULL)
        return fail(res, CU_ERR_INVALID, xstrdup("username, password and totp are required"));
    rc = service_login(svc, u, p, t, req->client_addr, &out, &err);
    if (rc == CU_OK)
        http_json(res, 200, out);
    return fail(res, rc, err);
}

static int h_logout(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    char *err = NULL;
    int rc = CU_OK;

    if (begin(app, req, res, &c, R_STAFF, 0)) {
        rc = service_logout(c.svc, http_bearer_token(req), &err);
        rc = fail(res, rc, err);
    }
    call_end(&c);
    return rc;
}

static int h_password(void *app, struct http_request *req, struct http_response *res)
{
    struct service *svc = begin_anon(app, res);
    const char *old = body_str(req, "old"), *new_password = body_str(req, "new");
    char *err = NULL;
    int rc;

    if (svc == NULL)
        return CU_OK;
    if (old == NULL || new_password == NULL)
        return fail(res, CU_ERR_INVALID, xstrdup("old and new are required"));
    rc = service_password_change(svc, http_bearer_token(req), old, new_password, &err);
    return fail(res, rc, err);
}

/* POST /v1/totp/enrol, /v1/totp/confirm {"enrolment","code"} (any staff) */
static int h_totp_enrol(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, R_STAFF, 0)) {
        rc = service_totp_enrol(c.svc, http_bearer_token(req), &out, &err);
        answer(res, rc, 200, out, NULL, err);
    }
    call_end(&c);
    return CU_OK;
}

static int h_totp_confirm(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    char *err = NULL;

    if (begin(app, req, res, &c, R_STAFF, 0)) {
        /* rc first: the arguments of fail() are evaluated in any order */
        int rc = service_totp_confirm(c.svc, http_bearer_token(req), body_str(req, "enrolment"),
                                      body_str(req, "code"), &err);

        fail(res, rc, err);
    }
    call_end(&c);
    return CU_OK;
}

static int h_me(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    json_t *usage = NULL;
    char *err = NULL;
    int rc = CU_OK;

    if (begin(app, req, res, &c, R_STAFF, 0)) {
        rc = service_detect_usage(c.svc, c.ss.username, c.ss.role, &usage, &err);
        if (rc == CU_OK)
            http_json(res, 200,
                      json_pack("{s:s, s:s, s:s, s:b, s:o}", "username", c.ss.username, "role",
                                c.ss.role, "store", c.ss.store, "must_change_password",
                                c.ss.must_change_password, "usage", usage));
        rc = fail(res, rc, err);
    }
    call_end(&c);
    return rc;
}

/* One customer of a look-up answer: {"customer_id", "device" (the matched
 * one) or "devices", "owner":{masked name, masked phone}}. */
static json_t *owner_view(json_t *v)
{
    json_t *phones = json_object_get(v, "phones"), *devices = json_object_get(v, "devices");
    json_t *out = json_pack("{s:O, s:{s:O, s:O}}", "customer_id", json_object_get(v, "customer_id"),
                            "owner", "name", json_object_get(v, "name"), "phone",
                            json_array_size(phones) ? json_array_get(phones, 0) : json_null());
    json_t *matched = json_object_get(v, "matched_device");

    if (matched != NULL)
        json_object_set(out, "device",
                        json_array_get(devices, (size_t)json_integer_value(matched)));
    else
        json_object_set(out, "devices", devices);
    return out;
}

/*
 * A deferred answer (the hot paths: look-ups and reveals).  The service
 * decides and queues its audit entries; the server thread goes back to
 * other connections; once the entries are durable, the service's `done`
 * (on the audit writer's thread) shapes the answer and the server sends it.
 */
struct later {
    struct http_deferred *d;
    struct http_response *res;
    /* Sets the response from the service's answer (borrowed); NULL: 200
     * with the answer as it is. */
    void (*shape)(struct http_response *res, json_t *out);
    const char *metric; /* counter to increment on success, or NULL */
};

static void later_done(void *ctx, int rc, json_t *out, const char *why, char *err)
{
    struct later *l = ctx;

    if (rc == CU_OK) {
        if (l->shape != NULL)
            l->shape(l->res, out);
        else
            http_json(l->res, 200, json_incref(out));
        if (l->metric != NULL)
            http_metric_inc(l->metric, NULL);
        free(err);
    } else {
        fail_why(l->res, rc, why, err);
    }
    json_decref(out);
    http_finish(l->d);
    free(l);
}

static struct later *defer(struct http_request *req,
                           void (*shape)(struct http_response *res, json_t *out),
                           const char *metric)
{
    struct later *l = xcalloc(1, sizeof(*l));

    l->d = http_defer(req, &l->res);
    l->shape = shape;
    l->metric = metric;
    return l;
}

/* The device answer: the first customer's owner view, or 404. */
static void device_shape(struct http_response *res, json_t *out)
{
    json_t *list = json_object_get(out, "customers");

    if (json_array_size(list) == 0)
        fail(res, CU_ERR_NOT_FOUND, xstrdup("no device with that identifier"));
    else
        http_json(res, 200, owner_view(json_array_get(list, 0)));
}

static void customers_shape(struct http_response *res, json_t *out)
{
    json_t *list = json_array(), *v;
    size_t i;

    json_array_foreach(json_object_get(out, "customers"), i, v)
        json_array_append_new(list, owner_view(v));
    http_json(res, 200, json_pack("{s:o}", "customers", list));
}

/* GET /v1/devices/{imei or serial}: the masked view of the device's owner. */
static int h_device(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    const char *id = req->param;
    int kind;

    if (begin(app, req, res, &c, R_FRONT, 1)) {
        kind = strlen(id) >= 14 && strspn(id, "0123456789 -") == strlen(id) ? MODEL_ID_IMEI
                                                                            : MODEL_ID_SERIAL;
        service_lookup_async(c.svc, &c.who, kind, id, later_done, defer(req, device_shape, NULL));
    }
    call_end(&c);
    return CU_OK;
}

/* GET /v1/customers?phone=|email=|account=: masked views of the matches. */
static int h_customers(void *app, struct http_request *req, struct http_response *res)
{
    static const struct {
        const char *param;
        int kind;
    } by[] = {{"phone", MODEL_ID_PHONE}, {"email", MODEL_ID_EMAIL}, {"account", MODEL_ID_ACCOUNT}};
    struct call c;
    const char *value = NULL;
    size_t i, given = 0;
    int kind = 0;

    if (!begin(app, req, res, &c, R_FRONT, 1))
        goto out;
    for (i = 0; i < CU_ARRAY_LEN(by); i++) {
        const char *q = http_query(req, by[i].param);

        if (q != NULL) {
            value = q;
            kind = by[i].kind;
            given++;
        }
    }
    if (given != 1)
        fail(res, CU_ERR_INVALID, xstrdup("give exactly one of phone, email or account"));
    else
        service_lookup_async(c.svc, &c.who, kind, value, later_done,
                             defer(req, customers_shape, NULL));
out:
    call_end(&c);
    return CU_OK;
}

static int h_case_open(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    json_t *out = NULL;
    const char *why = NULL;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, R_CASES, 1)) {
        rc =
            service_case_open(c.svc, &c.who, body_str(req, "purpose"), body_str(req, "customer_id"),
                              body_str(req, "reason"), body_str(req, "send_to"), &out, &why, &err);
        answer(res, rc, 201, out, why, err);
    }
    call_end(&c);
    return CU_OK;
}

/* A step on an existing case: one service call on {id}, answered as a
 * case answer (the view, or the problem with its reason). */
typedef int (*case_step_fn)(struct service *svc, const struct service_actor *who,
                            const char *case_id, json_t **out, const char **why, char **errmsg);

static int case_step(void *app, struct http_request *req, struct http_response *res,
                     case_step_fn step)
{
    struct call c;
    json_t *out = NULL;
    const char *why = NULL;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, R_CASES, 1)) {
        rc = step(c.svc, &c.who, req->param, &out, &why, &err);
        answer(res, rc, 200, out, why, err);
    }
    call_end(&c);
    return CU_OK;
}

static int h_case_get(void *app, struct http_request *req, struct http_response *res)
{
    return case_step(app, req, res, service_case_get);
}

static int h_case_approve(void *app, struct http_request *req, struct http_response *res)
{
    return case_step(app, req, res, service_case_approve);
}

static int h_case_refuse(void *app, struct http_request *req, struct http_response *res)
{
    return case_step(app, req, res, service_case_refuse);
}

/* GET /v1/cases?status=pending_approval (supervisor): the approval queue */
static int h_cases(void *app, struct http_request *req, struct http_response *res)
{
    const char *status = http_query(req, "status");
    struct call c;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, R_SUPERVISOR, 1)) {
        if (status == NULL || strcmp(status, "pending_approval") != 0)
            rc = cu_errf(&err, CU_ERR_INVALID, "status=pending_approval is the list there is");
        else
            rc = service_cases_pending(c.svc, &out, &err);
        answer(res, rc, 200, out, NULL, err);
    }
    call_end(&c);
    return CU_OK;
}

static int h_case_cosign(void *app, struct http_request *req, struct http_response *res)
{
    return case_step(app, req, res, service_case_cosign);
}

static int h_case_close(void *app, struct http_request *req, struct http_response *res)
{
    return case_step(app, req, res, service_case_close);
}

static int h_case_verify(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    json_t *out = NULL;
    const char *why = NULL;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, R_CASES, 1)) {
        rc =
            service_case_verify(c.svc, &c.who, req->param, body_str(req, "code"), &out, &why, &err);
        answer(res, rc, 200, out, why, err);
    }
    call_end(&c);
    return CU_OK;
}

/* POST /v1/cases/{id}/reveal {"fields":[...], "customer_id"?} */
static int h_case_reveal(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    struct buf fields = BUF_INIT;
    json_t *list = json_object_get(req->body, "fields"), *f;
    size_t i;

    if (!begin(app, req, res, &c, R_CASES, 1))
        goto out;
    if (!json_is_array(list) || json_array_size(list) == 0) {
        fail(res, CU_ERR_INVALID, xstrdup("fields: a list of field names is required"));
        goto out;
    }
    json_array_foreach(list, i, f)
    {
        const char *name = json_string_value(f);

        if (name == NULL || strpbrk(name, ", ") != NULL) {
            fail(res, CU_ERR_INVALID, xstrdup("fields: each entry is one field name"));
            goto out;
        }
        buf_addf(&fields, "%s%s", i ? "," : "", name);
    }
    service_case_reveal_async(c.svc, &c.who, req->param, fields.data, body_str(req, "customer_id"),
                              later_done, defer(req, NULL, "custodian_reveals_total"));
out:
    buf_release(&fields);
    call_end(&c);
    return CU_OK;
}

/* GET /v1/alerts?status=open|acked (all without status) */
static int h_alerts(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, R_SECURITY, 0)) {
        rc = service_alerts(c.svc, http_query(req, "status"), 1000, &out, &err);
        answer(res, rc, 200, out, NULL, err);
    }
    call_end(&c);
    return CU_OK;
}

static int h_alert_ack(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    char *end = NULL, *err = NULL;
    long long id;

    if (begin(app, req, res, &c, R_SECURITY, 0)) {
        id = strtoll(req->param, &end, 10);
        if (end == req->param || *end != '\0' || id <= 0)
            fail(res, CU_ERR_INVALID, xstrdup("not an alert id"));
        else {
            int rc = service_alert_ack(c.svc, &c.who, (int64_t)id, &err);

            fail(res, rc, err);
        }
    }
    call_end(&c);
    return CU_OK;
}

/* GET /v1/staff/{username}/activity (security, supervisor) */
static int h_staff_activity(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, R_SECURITY | R_SUPERVISOR, 0)) {
        rc = service_staff_activity(c.svc, req->param, 50, &out, &err);
        answer(res, rc, 200, out, NULL, err);
    }
    call_end(&c);
    return CU_OK;
}

/* POST /v1/staff/{username}/suspend and /resume (security) */
static int staff_set(void *app, struct http_request *req, struct http_response *res, int suspend)
{
    struct call c;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, R_SECURITY, 0)) {
        rc = service_staff_set_suspended(c.svc, &c.who, req->param, suspend, &err);
        fail(res, rc, err);
    }
    call_end(&c);
    return CU_OK;
}

static int h_staff_suspend(void *app, struct http_request *req, struct http_response *res)
{
    return staff_set(app, req, res, 1);
}

static int h_staff_resume(void *app, struct http_request *req, struct http_response *res)
{
    return staff_set(app, req, res, 0);
}

/* ---- the customer portal and the public audit log ---- */

/* A customer's request in progress: their session's customer id and the
 * actor their own requests are audited as. */
struct subject_call {
    struct service *svc;
    char *customer_id;
    struct service_actor who;
};

/* The start of every customer handler (401 without a customer session):
 * 0 when the request is answered already; free customer_id in every case. */
static int begin_subject(void *app, struct http_request *req, struct http_response *res,
                         struct subject_call *c)
{
    char *err = NULL;
    int rc;

    memset(c, 0, sizeof(*c));
    c->svc = begin_anon(app, res);
    if (c->svc == NULL)
        return 0;
    rc = service_subject_session(c->svc, http_bearer_token(req), &c->customer_id, &err);
    if (rc != CU_OK) {
        fail(res, rc, err);
        return 0;
    }
    free(err);
    c->who.username = "customer";
    c->who.role = SERVICE_ROLE_CUSTOMER;
    c->who.client = req->client_addr;
    c->who.request_id = req->request_id;
    return 1;
}

/* POST /v1/subject/code {"account"}: 202 whether the account exists or not */
static int h_subject_code(void *app, struct http_request *req, struct http_response *res)
{
    struct service *svc = begin_anon(app, res);
    char *err = NULL;
    int rc;

    if (svc == NULL)
        return CU_OK;
    rc = service_subject_code(svc, body_str(req, "account"), req->client_addr, req->request_id,
                              &err);
    return answer(res, rc, 202,
                  rc != CU_OK ? NULL
                              : json_pack("{s:s, s:s}", "status", "sent", "detail",
                                          "if the account exists, a code was sent to the phone "
                                          "or e-mail on file"),
                  NULL, err);
}

/* POST /v1/subject/login {"account","code"} */
static int h_subject_login(void *app, struct http_request *req, struct http_response *res)
{
    struct service *svc = begin_anon(app, res);
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (svc == NULL)
        return CU_OK;
    rc = service_subject_login(svc, body_str(req, "account"), body_str(req, "code"),
                               req->client_addr, req->request_id, &out, &err);
    return answer(res, rc, 200, out, NULL, err);
}

static int h_subject_logout(void *app, struct http_request *req, struct http_response *res)
{
    struct subject_call c;
    char *err = NULL;

    if (begin_subject(app, req, res, &c)) {
        int rc = service_subject_logout(c.svc, http_bearer_token(req), &err);

        fail(res, rc, err);
    }
    free(c.customer_id);
    return CU_OK;
}

/* GET /v1/subject/access-log */
static int h_subject_access_log(void *app, struct http_request *req, struct http_response *res)
{
    struct subject_call c;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (begin_subject(app, req, res, &c)) {
        rc = service_subject_read_log(c.svc, &c.who, c.customer_id, &out, &err);
        answer(res, rc, 200, out, NULL, err);
    }
    free(c.customer_id);
    return CU_OK;
}

/* GET /v1/subject/export (audited by the export itself) */
static int h_subject_export(void *app, struct http_request *req, struct http_response *res)
{
    struct subject_call c;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (begin_subject(app, req, res, &c)) {
        rc = service_customer_export(c.svc, &c.who, c.customer_id, &out, &err);
        answer(res, rc, 200, out, NULL, err);
    }
    free(c.customer_id);
    return CU_OK;
}

/* GET /v1/subject/notices; POST /v1/subject/notices {"digest":"daily"|"each"} */
static int h_subject_notices(void *app, struct http_request *req, struct http_response *res)
{
    struct subject_call c;
    char *err = NULL;
    int rc = CU_OK, daily = 0;

    if (begin_subject(app, req, res, &c)) {
        if (strcmp(req->method, "POST") == 0) {
            const char *d = body_str(req, "digest");

            if (d == NULL || (strcmp(d, "daily") != 0 && strcmp(d, "each") != 0))
                rc = cu_errf(&err, CU_ERR_INVALID, "digest must be \"daily\" or \"each\"");
            daily = d != NULL && strcmp(d, "daily") == 0;
        }
        if (rc == CU_OK)
            rc = service_subject_notices(c.svc, c.customer_id, strcmp(req->method, "POST") == 0,
                                         &daily, &err);
        answer(res, rc, 200,
               rc != CU_OK ? NULL : json_pack("{s:s}", "digest", daily ? "daily" : "each"), NULL,
               err);
    }
    free(c.customer_id);
    return CU_OK;
}

/* POST /v1/subject/erasure: the customer asks to be erased */
static int h_subject_erasure(void *app, struct http_request *req, struct http_response *res)
{
    struct subject_call c;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (begin_subject(app, req, res, &c)) {
        rc = service_erasure_request(c.svc, &c.who, c.customer_id, &out, &err);
        answer(res, rc, 202, out, NULL, err);
    }
    free(c.customer_id);
    return CU_OK;
}

/* GET /v1/erasures?status=pending (admin) */
static int h_erasures(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, R_ADMIN, 0)) {
        rc = service_erasure_list(c.svc, http_query(req, "status"), &out, &err);
        answer(res, rc, 200, out, NULL, err);
    }
    call_end(&c);
    return CU_OK;
}

/* POST /v1/erasures/{id}/approve and /refuse (admin) */
static int erasure_decide(void *app, struct http_request *req, struct http_response *res,
                          int approve)
{
    struct call c;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, R_ADMIN, 1)) {
        rc = service_erasure_decide(c.svc, &c.who, req->param, approve, &out, &err);
        answer(res, rc, 200, out, NULL, err);
    }
    call_end(&c);
    return CU_OK;
}

static int h_erasure_approve(void *app, struct http_request *req, struct http_response *res)
{
    return erasure_decide(app, req, res, 1);
}

static int h_erasure_refuse(void *app, struct http_request *req, struct http_response *res)
{
    return erasure_decide(app, req, res, 0);
}

/*
 * POST /v1/trace (security): {"data": the leaked data set as text,
 * "as_of"?: Unix ms, "p"?} -> the answer of `custodian trace --json`.
 * The body may be large (see the route table), so g_trace checks the
 * caller before the server reads it.
 */
#define TRACE_ROLES R_SECURITY

static int g_trace(void *app, struct http_request *req, struct http_response *res)
{
    return gate(app, req, res, TRACE_ROLES, 0);
}

static int h_trace(void *app, struct http_request *req, struct http_response *res)
{
    struct service_trace_opts o = {0};
    struct call c;
    json_t *data = json_object_get(req->body, "data"), *p = json_object_get(req->body, "p");
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, TRACE_ROLES, 0)) {
        if (!json_is_string(data)) {
            fail(res, CU_ERR_INVALID, xstrdup("data (the leaked data set, as text) is required"));
        } else if (p != NULL && !json_is_number(p)) {
            fail(res, CU_ERR_INVALID, xstrdup("p must be a number"));
        } else {
            o.data = json_string_value(data);
            o.len = json_string_length(data);
            o.as_of_ms = json_integer_value(json_object_get(req->body, "as_of"));
            o.p_set = p != NULL;
            o.p = p != NULL ? json_number_value(p) : 0;
            o.proofs = 1;
            rc = service_trace(c.svc, &c.who, &o, &out, &err);
            answer(res, rc, 200, out, NULL, err);
        }
    }
    call_end(&c);
    return CU_OK;
}

/* A query parameter as an unsigned number; 0 with 400 answered when it is
 * missing or malformed. */
static int query_u64(struct http_request *req, struct http_response *res, const char *name,
                     uint64_t *v)
{
    const char *q = http_query(req, name);
    char *end = NULL;

    if (q != NULL && q[0] >= '0' && q[0] <= '9') {
        *v = strtoull(q, &end, 10);
        if (*end == '\0')
            return 1;
    }
    fail(res, CU_ERR_INVALID, xasprintf("query parameter %s: a number is required", name));
    return 0;
}

/* GET /v1/audit/checkpoint (public): the latest signed checkpoint */
static int h_audit_checkpoint(void *app, struct http_request *req, struct http_response *res)
{
    struct service *svc = begin_anon(app, res);
    char *note = NULL, *err = NULL;
    int rc;

    (void)req;
    if (svc == NULL)
        return CU_OK;
    rc = service_audit_checkpoint(svc, &note, &err);
    if (rc == CU_OK)
        http_text(res, 200, "text/plain; charset=utf-8", note, strlen(note));
    free(note);
    return fail(res, rc, err);
}

/* GET /v1/audit/proof/consistency?first=M&second=N (public) */
static int h_audit_consistency(void *app, struct http_request *req, struct http_response *res)
{
    struct service *svc = begin_anon(app, res);
    uint64_t first, second;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (svc == NULL || !query_u64(req, res, "first", &first) ||
        !query_u64(req, res, "second", &second))
        return CU_OK;
    rc = service_audit_consistency(svc, first, second, &out, &err);
    return answer(res, rc, 200, out, NULL, err);
}

/* GET /v1/audit/proof/inclusion?index=I&tree_size=N: security, or a
 * customer for an entry about them */
static int h_audit_inclusion(void *app, struct http_request *req, struct http_response *res)
{
    uint64_t index, size;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (!query_u64(req, res, "index", &index) || !query_u64(req, res, "tree_size", &size))
        return CU_OK;
    if (http_bearer_token(req) != NULL) {
        struct service *svc = begin_anon(app, res);
        char *cid = NULL;

        if (svc == NULL)
            return CU_OK;
        if (service_subject_session(svc, http_bearer_token(req), &cid, &err) == CU_OK) {
            rc = service_subject_inclusion(svc, cid, index, size, &out, &err);
            free(cid);
            return answer(res, rc, 200, out, NULL, err);
        }
        free(err);
        err = NULL;
    }
    {
        struct call c;

        if (begin(app, req, res, &c, R_SECURITY, 0)) {
            rc = service_audit_inclusion(c.svc, index, size, &out, &err);
            answer(res, rc, 200, out, NULL, err);
        }
        call_end(&c);
    }
    return CU_OK;
}

/* GET /v1/audit/entries?start=I&end=J (security) */
static int h_audit_entries(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    uint64_t start, end;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (!query_u64(req, res, "start", &start) || !query_u64(req, res, "end", &end))
        return CU_OK;
    if (begin(app, req, res, &c, R_SECURITY, 0)) {
        rc = service_audit_entries(c.svc, start, end, &out, &err);
        answer(res, rc, 200, out, NULL, err);
    }
    call_end(&c);
    return CU_OK;
}

/* ---- for the web console (issue 7) ---- */

/* GET /v1/audit/key (public): the checkpoint verifier key, C2SP vkey form */
static int h_audit_key(void *app, struct http_request *req, struct http_response *res)
{
    struct service *svc = begin_anon(app, res);
    char *vkey, *text;

    (void)req;
    if (svc == NULL)
        return CU_OK;
    vkey = service_audit_vkey(svc);
    if (vkey == NULL)
        return fail(res, CU_ERR_STORE, xstrdup("the verifier key is unavailable"));
    text = xasprintf("%s\n", vkey);
    http_text(res, 200, "text/plain; charset=utf-8", text, strlen(text));
    free(text);
    free(vkey);
    return CU_OK;
}

/* GET /v1/audit/search?staff=U|customer_id=C[&limit=N] (security): the
 * entries of a staff member or about a customer, newest first */
static int h_audit_search(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    const char *staff = http_query(req, "staff"), *cid = http_query(req, "customer_id");
    const char *lim = http_query(req, "limit");
    json_t *out = NULL;
    char *err = NULL;
    long limit = lim != NULL ? strtol(lim, NULL, 10) : 100;
    int rc;

    if (begin(app, req, res, &c, R_SECURITY, 0)) {
        if ((staff == NULL) == (cid == NULL) || (staff != NULL && staff[0] == '\0') ||
            (cid != NULL && cid[0] == '\0'))
            fail(res, CU_ERR_INVALID, xstrdup("give exactly one of staff or customer_id"));
        else if (limit < 1 || limit > 1000)
            fail(res, CU_ERR_INVALID, xstrdup("limit: 1 to 1000"));
        else {
            rc = service_audit_show(c.svc, staff, cid, (size_t)limit, &out, &err);
            answer(res, rc, 200, out, NULL, err);
        }
    }
    call_end(&c);
    return CU_OK;
}

/* GET /v1/staff (security, supervisor): every staff account, no secret */
static int h_staff_list(void *app, struct http_request *req, struct http_response *res)
{
    struct call c;
    json_t *out = NULL;
    char *err = NULL;
    int rc;

    if (begin(app, req, res, &c, R_SECURITY | R_SUPERVISOR, 0)) {
        rc = service_staff_list(c.svc, &out, &err);
        answer(res, rc, 200, out, NULL, err);
    }
    call_end(&c);
    return CU_OK;
}

/* ---- end of the web console's block ---- */

static const struct http_route routes[] = {
    {"POST", "/v1/login", h_login},
    {"POST", "/v1/logout", h_logout},
    {"POST", "/v1/password", h_password},
    {"GET", "/v1/me", h_me},
    {"POST", "/v1/totp/enrol", h_totp_enrol},
    {"POST", "/v1/totp/confirm", h_totp_confirm},
    {"GET", "/v1/devices/{id}", h_device},
    {"GET", "/v1/customers", h_customers},
    {"POST", "/v1/cases", h_case_open},
    {"GET", "/v1/cases/{id}", h_case_get},
    {"POST", "/v1/cases/{id}/verify", h_case_verify},
    {"POST", "/v1/cases/{id}/approve", h_case_approve},
    {"POST", "/v1/cases/{id}/refuse", h_case_refuse},
    {"GET", "/v1/cases", h_cases},
    {"POST", "/v1/cases/{id}/cosign", h_case_cosign},
    {"POST", "/v1/cases/{id}/close", h_case_close},
    {"POST", "/v1/cases/{id}/reveal", h_case_reveal},
    {"GET", "/v1/alerts", h_alerts},
    {"POST", "/v1/alerts/{id}/ack", h_alert_ack},
    {"GET", "/v1/staff/{username}/activity", h_staff_activity},
    {"POST", "/v1/staff/{username}/suspend", h_staff_suspend},
    {"POST", "/v1/staff/{username}/resume", h_staff_resume},
    {"POST", "/v1/subject/code", h_subject_code},
    {"POST", "/v1/subject/login", h_subject_login},
    {"POST", "/v1/subject/logout", h_subject_logout},
    {"GET", "/v1/subject/access-log", h_subject_access_log},
    {"GET", "/v1/subject/export", h_subject_export},
    {"GET", "/v1/subject/notices", h_subject_notices},
    {"POST", "/v1/subject/notices", h_subject_notices},
    /* a leaked file: up to 64 MiB, so the caller is checked before the body
     * is read (http_route.authorize) */
    {"POST", "/v1/trace", h_trace, (size_t)64 << 20, g_trace},
    {"POST", "/v1/subject/erasure", h_subject_erasure},
    {"GET", "/v1/erasures", h_erasures},
    {"POST", "/v1/erasures/{id}/approve", h_erasure_approve},
    {"POST", "/v1/erasures/{id}/refuse", h_erasure_refuse},
    {"GET", "/v1/audit/checkpoint", h_audit_checkpoint},
    {"GET", "/v1/audit/entries", h_audit_entries},
    {"GET", "/v1/audit/proof/inclusion", h_audit_inclusion},
    {"GET", "/v1/audit/proof/consistency", h_audit_consistency},
    /* the web console (issue 7) */
    {"GET", "/v1/audit/key", h_audit_key},
    {"GET", "/v1/audit/search", h_audit_search},
    {"GET", "/v1/staff", h_staff_list},
};

const struct http_route *api_routes(size_t *n)
{
    *n = CU_ARRAY_LEN(routes);
    return routes;
}
