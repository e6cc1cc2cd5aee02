/*
 * API handlers.  Each worker thread of the server gets its own service
 * handle (its own store connection; the vault and the audit writer are
 * shared, so all threads' audit entries share group commits).
 */
#include "api.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../model/model.h"
#include "../policy/policy.h"

struct api {
    struct service *root;
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
static int fail(struct http_response *res, int rc, char *err)
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
    http_problem(res, status, slug, status == 500 ? "internal error" : err);
    free(err);
    return CU_OK;
}

static const char *body_str(const struct http_request *req, const char *key)
{
    return json_string_value(json_object_get(req->body, key));
}

/*
 * The start of every handler: this thread's service handle and, when `ss`
 * is not NULL, the caller's session.  NULL when the request is already
 * answered (503 without a store, 401/423 without a valid session).
 */
static struct service *begin(void *app, struct http_request *req, struct http_response *res,
                             struct service_session *ss)
{
    struct service *svc;
    char *err = NULL;
    int rc;

    svc = worker(app, &err);
    if (svc == NULL) {
        fail(res, CU_ERR_STORE, err ? err : xstrdup("the store is unavailable"));
        return NULL;
    }
    free(err);
    err = NULL;
    if (ss == NULL)
        return svc;
    rc = service_session(svc, http_bearer_token(req), ss, &err);
    fail(res, rc, err);
    return rc == CU_OK ? svc : NULL;
}

static int h_login(void *app, struct http_request *req, struct http_response *res)
{
    struct service *svc = begin(app, req, res, NULL);
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
    struct service_session ss = {0};
    struct service *svc = begin(app, req, res, &ss);
    char *err = NULL;
    int rc;

    if (svc == NULL)
        return CU_OK;
    service_session_release(&ss);
    rc = service_logout(svc, http_bearer_token(req), &err);
    return fail(res, rc, err);
}

static int h_password(void *app, struct http_request *req, struct http_response *res)
{
    struct service *svc = begin(app, req, res, NULL);
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

static int h_me(void *app, struct http_request *req, struct http_response *res)
{
    struct service_session ss = {0};
    struct service *svc = begin(app, req, res, &ss);
    json_t *usage = NULL;
    char *err = NULL;
    int rc;

    if (svc == NULL)
        return CU_OK;
    rc = service_staff_usage(svc, ss.username, &usage, &err);
    if (rc == CU_OK)
        http_json(res, 200,
                  json_pack("{s:s, s:s, s:s, s:b, s:o}", "username", ss.username, "role", ss.role,
                            "store", ss.store, "must_change_password", ss.must_change_password,
                            "usage", usage));
    service_session_release(&ss);
    return fail(res, rc, err);
}

/* GET /v1/devices/{imei or serial}: the masked view of the device's owner. */
static int h_device(void *app, struct http_request *req, struct http_response *res)
{
    struct service_session ss = {0};
    struct service *svc = begin(app, req, res, &ss);
    struct service_actor who = {0};
    const char *id = req->param;
    json_t *out = NULL, *list, *v, *dev, *phones;
    char *err = NULL;
    int rc, kind;

    if (svc == NULL)
        return CU_OK;
    if (ss.must_change_password) {
        rc = fail(res, CU_ERR_FORBIDDEN, xstrdup("change the one-time password first"));
        goto out;
    }
    if (policy_role_from_name(ss.role) < 0 ||
        !policy_may_lookup(svc->policy, (enum policy_role)policy_role_from_name(ss.role))) {
        rc = fail(res, CU_ERR_FORBIDDEN, xstrdup("this role may not look customers up"));
        goto out;
    }
    who.username = ss.username;
    who.role = ss.role;
    who.store = ss.store;
    who.client = req->client_addr;
    who.request_id = req->request_id;
    kind = strlen(id) >= 14 && strspn(id, "0123456789 -") == strlen(id) ? MODEL_ID_IMEI
                                                                        : MODEL_ID_SERIAL;
    rc = service_lookup(svc, &who, kind, id, &out, &err);
    if (rc != CU_OK) {
        rc = fail(res, rc, err);
        goto out;
    }
    free(err);
    list = json_object_get(out, "customers");
    if (json_array_size(list) == 0) {
        rc = fail(res, CU_ERR_NOT_FOUND, xstrdup("no device with that identifier"));
        goto out;
    }
    v = json_array_get(list, 0);
    dev = json_array_get(json_object_get(v, "devices"),
                         (size_t)json_integer_value(json_object_get(v, "matched_device")));
    phones = json_object_get(v, "phones");
    http_json(res, 200,
              json_pack("{s:O, s:O, s:{s:O, s:O}}", "customer_id",
                        json_object_get(v, "customer_id"), "device", dev, "owner", "name",
                        json_object_get(v, "name"), "phone",
                        json_array_size(phones) ? json_array_get(phones, 0) : json_null()));
    rc = CU_OK;
out:
    json_decref(out);
    service_session_release(&ss);
    return rc;
}

static const struct http_route routes[] = {
    {"POST", "/v1/login", h_login},        {"POST", "/v1/logout", h_logout},
    {"POST", "/v1/password", h_password},  {"GET", "/v1/me", h_me},
    {"GET", "/v1/devices/{id}", h_device},
};

const struct http_route *api_routes(size_t *n)
{
    *n = CU_ARRAY_LEN(routes);
    return routes;
}
