/*
 * Masked look-ups: identifier -> blind index -> candidates -> open ->
 * confirm the identifier really matches (the blind index is truncated) ->
 * mask.  No personal value leaves this file unmasked.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>

#include "../audit/audit.h"
#include "../detect/detect.h"

#define LOOKUP_MAX 64

/* Adds key -> masked value (or null when absent). */
static void set_masked(json_t *obj, const char *key, const char *value, char *(*mask)(const char *))
{
    char *m;

    if (value == NULL || value[0] == '\0') {
        json_object_set_new(obj, key, json_null());
        return;
    }
    m = mask(value);
    json_object_set_new(obj, key, json_string(m));
    free(m);
}

json_t *service_masked_view(const struct model_customer *m, int matched_device)
{
    json_t *view = json_object(), *phones = json_array(), *devices = json_array();
    size_t i;

    json_object_set_new(view, "customer_id", json_string(m->customer_id));
    set_masked(view, "account", m->account, model_mask_email);
    set_masked(view, "name", m->name, model_mask_name);
    for (i = 0; i < m->nphones; i++) {
        char *p = model_mask_phone(m->phones[i]);

        json_array_append_new(phones, json_string(p));
        free(p);
    }
    json_object_set_new(view, "phones", phones);
    set_masked(view, "email", m->email, model_mask_email);
    set_masked(view, "address", m->address, model_mask_address);
    set_masked(view, "birth_date", m->birth_date, model_mask_date);
    for (i = 0; i < m->ndevices; i++) {
        const struct model_device *d = &m->devices[i];
        json_t *dev = json_object();

        set_masked(dev, "imei", d->imei, model_mask_tail4);
        set_masked(dev, "serial", d->serial, model_mask_tail4);
        /* Model, purchase date and store describe the product, not the
         * person, and are what the clerk needs to serve the device. */
        json_object_set_new(dev, "model", d->model ? json_string(d->model) : json_null());
        json_object_set_new(dev, "purchase_date",
                            d->purchase_date ? json_string(d->purchase_date) : json_null());
        json_object_set_new(dev, "store", d->store ? json_string(d->store) : json_null());
        json_array_append_new(devices, dev);
    }
    json_object_set_new(view, "devices", devices);
    if (matched_device >= 0)
        json_object_set_new(view, "matched_device", json_integer(matched_device));
    return view;
}

static int str_eq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Does the opened record really carry the identifier?  Returns the device
 * index for device identifiers, 0 for others, -1 for no match. */
static int record_matches(const struct model_customer *m, int kind, const char *value)
{
    size_t i;

    switch (kind) {
    case MODEL_ID_IMEI:
    case MODEL_ID_SERIAL:
        for (i = 0; i < m->ndevices; i++) {
            const char *v = kind == MODEL_ID_IMEI ? m->devices[i].imei : m->devices[i].serial;

            if (str_eq(v, value))
                return (int)i;
        }
        return -1;
    case MODEL_ID_PHONE:
        for (i = 0; i < m->nphones; i++)
            if (str_eq(m->phones[i], value))
                return 0;
        return -1;
    case MODEL_ID_EMAIL:
        return str_eq(m->email, value) ? 0 : -1;
    case MODEL_ID_ACCOUNT:
        return str_eq(m->account, value) ? 0 : -1;
    default:
        return -1;
    }
}

int service_customer_open(struct service *svc, const char *customer_id, unsigned fields,
                          struct model_customer *m, char **errmsg)
{
    struct store_customer s;
    int rc;

    store_customer_init(&s);
    rc = store_customer_get(svc->store, customer_id, &s, errmsg);
    if (rc == CU_OK)
        rc = service_unseal(svc, &s, fields, m, errmsg);
    store_customer_release(&s);
    return rc;
}

void service_audit_entry(struct service *svc, const struct service_actor *who,
                         const struct service_access *a, struct audit_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->time_ms = cu_now_ms();
    e->actor = who->username;
    e->role = who->role;
    e->store = who->store;
    e->client = who->client;
    e->request_id = who->request_id;
    e->action = a->action;
    e->decision = a->decision;
    if (a->customer_id != NULL) {
        e->has_subject = 1;
        vault_pseudonym(svc->vault, a->customer_id, e->subject);
    }
    e->case_id = a->case_id;
    e->fields = a->fields;
    e->reasons = a->reasons;
    e->detail = a->detail;
    e->side = a->side;
    e->side_len = a->side_len;
    /* An allowed reveal hands its customer to the commit hook, which
     * queues the customer's access notice in the same commit. */
    if (a->action == AUDIT_REVEAL && a->decision == AUDIT_ALLOW && a->side == NULL &&
        a->customer_id != NULL) {
        e->side = a->customer_id;
        e->side_len = strlen(a->customer_id);
    }
}

int service_audit_access(struct service *svc, const struct service_actor *who,
                         const struct service_access *a, uint64_t *index, char **errmsg)
{
    struct audit_entry e;
    uint64_t ignored;
    int rc;

    rc = service_audit_open(svc, errmsg);
    if (rc != CU_OK)
        return rc;
    service_audit_entry(svc, who, a, &e);
    /* The writer commits on its own connection, and what the caller reads
     * next must include it (the entry, the checkpoint over it): no older
     * snapshot of grouped reads (store_reads_begin) may outlive this. */
    store_reads_end(svc->store);
    return audit_log_append(svc->audit, &e, index ? index : &ignored, errmsg);
}

int service_audit_note(struct service *svc, const struct service_actor *who, int action,
                       int allowed, const char *detail, char **errmsg)
{
    struct service_access a = {
        .action = action, .decision = allowed ? AUDIT_ALLOW : AUDIT_DENY, .detail = detail};

    return service_audit_access(svc, who, &a, NULL, errmsg);
}

int service_find(struct service *svc, int kind, const char *value,
                 int (*found)(void *ctx, const struct model_customer *m, int device), void *ctx,
                 size_t *n, char **errmsg)
{
    struct model_customer m;
    struct model_error merr = {0};
    struct store_customer s;
    int64_t ids[LOOKUP_MAX];
    size_t nids = 0, i;
    char *norm = NULL, *why = NULL;
    int rc, match;

    *n = 0;
    model_customer_init(&m);
    store_customer_init(&s);
    if (kind == 0) {
        rc = model_norm_customer_id(value, &norm, &merr);
        if (rc == CU_OK) {
            rc = service_customer_open(svc, norm, SERVICE_FIELDS_ALL, &m, &why);
            if (rc == CU_OK) {
                (*n)++;
                rc = found(ctx, &m, -1);
            } else if (rc == CU_ERR_NOT_FOUND) {
                int64_t erased_at = 0;

                rc = CU_OK; /* nobody */
                if (service_customer_erased(svc, norm, &erased_at, NULL) == CU_OK)
                    rc = cu_errf(errmsg, CU_ERR_NOT_FOUND,
                                 "customer '%s' was erased (crypto-shredded): nothing of it "
                                 "can be read",
                                 norm);
            } else {
                cu_errf(errmsg, rc, "%s", why);
            }
        }
        goto out;
    }
    rc = model_norm_ident((enum model_ident)kind, value, svc->default_country, &norm, &merr);
    if (rc != CU_OK)
        goto out;
    rc = store_blind_find(svc->store, (uint8_t)kind,
                          vault_blind(svc->vault, kind, norm, strlen(norm)), ids, LOOKUP_MAX, &nids,
                          errmsg);
    for (i = 0; rc == CU_OK && i < nids; i++) {
        rc = store_customer_get_by_id(svc->store, ids[i], &s, errmsg);
        if (rc == CU_OK)
            rc = service_unseal(svc, &s, SERVICE_FIELDS_ALL, &m, errmsg);
        if (rc != CU_OK)
            break;
        /* The blind index is truncated: confirm on the opened record. */
        match = record_matches(&m, kind, norm);
        if (match >= 0) {
            (*n)++;
            rc = found(ctx, &m, kind == MODEL_ID_IMEI || kind == MODEL_ID_SERIAL ? match : -1);
        }
        model_customer_release(&m);
    }
out:
    if (rc != CU_OK && merr.reason != NULL)
        cu_errf(errmsg, rc, "%s: %s", merr.field ? merr.field : model_ident_name(kind),
                merr.reason);
    if (norm != NULL) {
        cu_wipe(norm, strlen(norm));
        free(norm);
    }
    free(why);
    model_customer_release(&m);
    store_customer_release(&s);
    return rc;
}

struct lookup_ctx {
    json_t *views;
    json_t *ids;
};

static int lookup_found(void *arg, const struct model_customer *m, int device)
{
    struct lookup_ctx *ctx = arg;

    json_array_append_new(ctx->views, service_masked_view(m, device));
    json_array_append_new(ctx->ids, json_string(m->customer_id));
    return CU_OK;
}

static const char *kind_label(int kind)
{
    return kind == 0 ? "customer_id" : model_ident_name(kind);
}

void service_lookup_async(struct service *svc, const struct service_actor *who, int kind,
                          const char *value, service_done_fn done, void *ctx)
{
    struct lookup_ctx found = {json_array(), json_array()};
    char detail[64];
    struct service_access a = {.action = AUDIT_LOOKUP, .decision = AUDIT_ALLOW, .detail = detail};
    struct detect_verdict v;
    struct service_held *h;
    json_t *id;
    size_t n = 0, i;
    char *err = NULL;
    struct service_near near;
    unsigned char side[32];
    int rc, canary = 0, has_near, role = policy_role_from_name(who->role);

    /* The policy's "lookup" grant, for staff (an operator's CLI is not a
     * policy role); refused before anything is read, and audited. */
    if (role >= 0 && !policy_may_lookup(svc->policy, (enum policy_role)role)) {
        json_decref(found.views);
        json_decref(found.ids);
        snprintf(detail, sizeof(detail), "by %s", kind_label(kind));
        a.decision = AUDIT_DENY;
        a.reasons = "role-not-allowed";
        h = service_hold(done, ctx);
        service_held_answer(
            h, CU_ERR_FORBIDDEN, NULL, "role-not-allowed",
            xasprintf("the policy does not let role %s look customers up", who->role));
        service_held_entry(svc, h, who, &a, 0);
        service_held_release(h);
        return;
    }
    rc = service_find(svc, kind, value, lookup_found, &found, &n, &err);
    json_array_foreach(found.ids, i, id)
    {
        int yes = 0;

        if (rc == CU_OK)
            rc = service_is_canary(svc, json_string_value(id), &yes, &err);
        canary |= yes;
    }
    /* The detector judges before anything is answered. */
    has_near = svc->detector != NULL && service_neighbourhood(svc, kind, value, &near);
    if (has_near) {
        memcpy(side, near.bucket[1], sizeof(near.bucket[1]));
        memcpy(side + sizeof(near.bucket[1]), near.exact, sizeof(near.exact));
    }
    /* Look-ups are masked: a step-up does not stop them. */
    if (rc == CU_OK)
        rc = service_detect_check(svc, who, DETECT_LOOKUP, NULL, canary, has_near ? &near : NULL, 1,
                                  &v, &err);
    if (rc == CU_OK)
        rc = service_detect_act(svc, who, &v, &err);
    if (rc != CU_OK) {
        json_decref(found.views);
        json_decref(found.ids);
        done(ctx, rc, NULL, NULL, err);
        return;
    }
    /* Held until one entry per customer shown (or one saying nobody
     * matched) is durable. */
    snprintf(detail, sizeof(detail), "by %s%s", kind_label(kind), n == 0 ? ", no match" : "");
    h = service_hold(done, ctx);
    if (v.action == DETECT_BLOCK) {
        /* No data: one entry records the blocked request. */
        json_decref(found.views);
        json_decref(found.ids);
        a.decision = AUDIT_BLOCK;
        a.reasons = v.rule;
        service_held_answer(h, CU_ERR_LIMIT, NULL, "limit-reached",
                            xasprintf("limit reached (%s): %s", v.rule, v.detail));
        service_held_entry(svc, h, who, &a, 0);
        service_held_release(h);
        return;
    }
    service_held_answer(h, CU_OK, json_pack("{s:o}", "customers", found.views), NULL, NULL);
    /* The first entry carries the look-up's neighbourhood to the detector's
     * counters (one per look-up, however many customers it shows). */
    if (has_near) {
        a.side = side;
        a.side_len = sizeof(side);
    }
    if (n == 0)
        service_held_entry(svc, h, who, &a, 0);
    json_array_foreach(found.ids, i, id)
    {
        a.customer_id = json_string_value(id);
        service_held_entry(svc, h, who, &a, 0);
        a.side = NULL;
        a.side_len = 0;
    }
    json_decref(found.ids);
    service_held_release(h);
}

int service_lookup(struct service *svc, const struct service_actor *who, int kind,
                   const char *value, json_t **out, char **errmsg)
{
    struct service_wait w;

    service_wait_init(&w);
    service_lookup_async(svc, who, kind, value, service_wait_done, &w);
    return service_wait(&w, out, NULL, errmsg);
}

/* --- reveal --------------------------------------------------------------- */

struct reveal_ctx {
    struct model_customer m;
    int device;
};

static int reveal_found(void *arg, const struct model_customer *m, int device)
{
    struct reveal_ctx *ctx = arg;
    size_t i;

    if (ctx->m.customer_id != NULL)
        return CU_OK; /* the count says there were several */
    ctx->device = device;
    ctx->m.customer_id = xstrdup(m->customer_id);
    ctx->m.account = m->account ? xstrdup(m->account) : NULL;
    ctx->m.name = m->name ? xstrdup(m->name) : NULL;
    ctx->m.email = m->email ? xstrdup(m->email) : NULL;
    ctx->m.address = m->address ? xstrdup(m->address) : NULL;
    ctx->m.birth_date = m->birth_date ? xstrdup(m->birth_date) : NULL;
    for (i = 0; i < m->nphones; i++)
        ctx->m.phones[ctx->m.nphones++] = xstrdup(m->phones[i]);
    for (i = 0; i < m->ndevices; i++) {
        struct model_device *d = model_customer_add_device(&ctx->m);
        const struct model_device *s = &m->devices[i];

        d->imei = s->imei ? xstrdup(s->imei) : NULL;
        d->serial = s->serial ? xstrdup(s->serial) : NULL;
        d->model = s->model ? xstrdup(s->model) : NULL;
        d->purchase_date = s->purchase_date ? xstrdup(s->purchase_date) : NULL;
        d->store = s->store ? xstrdup(s->store) : NULL;
    }
    return CU_OK;
}

/* Does `text` contain (case-insensitively) a personal value of `m`? */
int service_mentions(const char *text, const struct model_customer *m)
{
    const char *values[4 + MODEL_MAX_PHONES + 2 * MODEL_MAX_DEVICES];
    size_t n = 0, i;

    values[n++] = m->name;
    values[n++] = m->email;
    values[n++] = m->account;
    values[n++] = m->address;
    for (i = 0; i < m->nphones; i++) {
        values[n++] = m->phones[i];
        values[n++] = m->phones[i] + (strlen(m->phones[i]) > 7 ? 3 : 0); /* national part */
    }
    for (i = 0; i < m->ndevices && n + 2 <= CU_ARRAY_LEN(values); i++) {
        values[n++] = m->devices[i].imei;
        values[n++] = m->devices[i].serial;
    }
    for (i = 0; i < n; i++)
        if (values[i] != NULL && strlen(values[i]) >= 2 && strcasestr(text, values[i]) != NULL)
            return 1;
    return 0;
}

static json_t *device_json(const struct model_device *d)
{
    json_t *o = json_object();

    json_object_set_new(o, "imei", d->imei ? json_string(d->imei) : json_null());
    json_object_set_new(o, "serial", d->serial ? json_string(d->serial) : json_null());
    json_object_set_new(o, "model", d->model ? json_string(d->model) : json_null());
    json_object_set_new(o, "purchase_date",
                        d->purchase_date ? json_string(d->purchase_date) : json_null());
    json_object_set_new(o, "store", d->store ? json_string(d->store) : json_null());
    return o;
}

/* The value of one field of `m` in full, as JSON. */
json_t *service_field_json(const struct model_customer *m, int f)
{
    json_t *a;
    size_t i;

    switch (f) {
    case MODEL_F_ACCOUNT:
        return m->account ? json_string(m->account) : json_null();
    case MODEL_F_NAME:
        return m->name ? json_string(m->name) : json_null();
    case MODEL_F_PHONE:
        a = json_array();
        for (i = 0; i < m->nphones; i++)
            json_array_append_new(a, json_string(m->phones[i]));
        return a;
    case MODEL_F_EMAIL:
        return m->email ? json_string(m->email) : json_null();
    case MODEL_F_ADDRESS:
        return m->address ? json_string(m->address) : json_null();
    case MODEL_F_BIRTH_DATE:
        return m->birth_date ? json_string(m->birth_date) : json_null();
    default:
        a = json_array();
        for (i = 0; i < m->ndevices; i++)
            json_array_append_new(a, device_json(&m->devices[i]));
        return a;
    }
}

/* Parses "name,phone" into a set of fields and their canonical list. */
int service_parse_fields(const char *fields, int want[MODEL_F__COUNT], struct buf *canon,
                         char **errmsg)
{
    char *copy = xstrdup(fields ? fields : ""), *tok, *save = NULL;
    int f, rc = CU_OK, any = 0;

    memset(want, 0, sizeof(int) * MODEL_F__COUNT);
    for (tok = strtok_r(copy, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        f = model_field_from_name(tok);
        if (f < 0) {
            rc = cu_errf(errmsg, CU_ERR_INVALID,
                         "unknown field '%.32s' (fields: account, name, phone, email, address, "
                         "birth_date, devices)",
                         tok);
            break;
        }
        want[f] = any = 1;
    }
    if (rc == CU_OK && !any)
        rc = cu_errf(errmsg, CU_ERR_INVALID, "name the fields to reveal");
    for (f = 0; rc == CU_OK && f < MODEL_F__COUNT; f++) {
        if (!want[f])
            continue;
        if (canon->len > 0)
            buf_addch(canon, ',');
        buf_addstr(canon, model_field_name(f));
    }
    free(copy);
    return rc;
}

int service_reveal(struct service *svc, const struct service_actor *who, int kind,
                   const char *value, const char *fields, const char *reason, json_t **out,
                   char **errmsg)
{
    struct reveal_ctx ctx;
    struct service_access a = {.action = AUDIT_REVEAL, .decision = AUDIT_ALLOW};
    struct buf canon = BUF_INIT, detail = BUF_INIT;
    int want[MODEL_F__COUNT], f, rc;
    uint64_t index = 0;
    size_t n = 0;
    json_t *vals;

    *out = NULL;
    model_customer_init(&ctx.m);
    ctx.device = -1;
    rc = service_parse_fields(fields, want, &canon, errmsg);
    if (rc != CU_OK)
        goto out;
    if (reason == NULL || strlen(reason) < 3 || strlen(reason) > 200) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "a reason of 3 to 200 characters is required");
        goto out;
    }
    rc = service_find(svc, kind, value, reveal_found, &ctx, &n, errmsg);
    if (rc != CU_OK)
        goto out;
    if (n == 0) {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no customer found");
        goto out;
    }
    if (n > 1) {
        rc = cu_errf(errmsg, CU_ERR_CONFLICT,
                     "%zu customers match; reveal by --customer-id instead", n);
        goto out;
    }
    if (service_mentions(reason, &ctx.m)) {
        rc = cu_errf(errmsg, CU_ERR_INVALID,
                     "the reason contains the customer's personal data; it is kept in the audit "
                     "log, which must not hold any: describe the purpose instead");
        goto out;
    }
    /* The audit entry first; nothing is built until it is durable. */
    buf_addf(&detail, "reason: %s", reason);
    a.customer_id = ctx.m.customer_id;
    a.fields = canon.data;
    a.detail = detail.data;
    rc = service_audit_access(svc, who, &a, &index, errmsg);
    if (rc != CU_OK)
        goto out;
    vals = json_object();
    for (f = 0; f < MODEL_F__COUNT; f++)
        if (want[f])
            json_object_set_new(vals, model_field_name(f), service_field_json(&ctx.m, f));
    *out = json_pack("{s:s, s:o, s:{s:I}}", "customer_id", ctx.m.customer_id, "fields", vals,
                     "audit", "leaf_index", (json_int_t)index);
out:
    model_customer_release(&ctx.m);
    buf_release(&canon);
    buf_release_wipe(&detail);
    return rc;
}
