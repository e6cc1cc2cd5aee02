/*
 * What a customer may see about themselves: the access log (every audit
 * entry about them, each with its inclusion proof against one signed
 * checkpoint) and the export of their data with that log.
 *
 * The access log is read from the audit log through the customer's keyed
 * pseudonym; it never holds a personal value (the leaf_input holds only
 * the pseudonym) nor a staff member's name outside the leaf_input: staff
 * appear as service_staff_ref(), a keyed reference.
 *
 * Consistency: the checkpoint is taken first and every entry is proved at
 * its size; entries appended after it (index >= size) are left out, so the
 * answer is one snapshot that verifies as a whole.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../audit/audit.h"

#define STAFF_REF_CONTEXT "staff-ref|"
#define STAFF_REF_CHARS   8 /* base32 characters: 40 bits of the keyed hash */

char *service_staff_ref(struct service *svc, const char *username)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    struct buf in = BUF_INIT;
    unsigned char h[32];
    char ref[2 + STAFF_REF_CHARS + 1];
    uint64_t bits = 0;
    int i;

    if (username == NULL || username[0] == '\0')
        return NULL;
    buf_addstr(&in, STAFF_REF_CONTEXT);
    buf_addstr(&in, username);
    vault_token_hash(svc->vault, in.data, in.len, h);
    buf_release(&in);
    for (i = 0; i < 5; i++)
        bits = bits << 8 | h[i];
    ref[0] = 'S';
    ref[1] = '-';
    for (i = 0; i < STAFF_REF_CHARS; i++)
        ref[2 + i] = alphabet[(bits >> (35 - 5 * i)) & 31];
    ref[2 + STAFF_REF_CHARS] = '\0';
    sodium_memzero(h, sizeof(h));
    return xstrdup(ref);
}

/* --- the access log --------------------------------------------------------- */

/* One audit entry about the customer, copied out of a store scan. */
struct found {
    uint64_t index;
    struct buf leaf;
};

struct find_ctx {
    uint64_t size; /* the checkpoint's: later entries are left out */
    struct found *list;
    size_t n, cap;
};

static int find_one(void *arg, const struct store_audit_row *row)
{
    struct find_ctx *ctx = arg;
    struct found *f;

    if (row->index >= ctx->size)
        return 0;
    if (ctx->n == ctx->cap) {
        ctx->cap = ctx->cap ? 2 * ctx->cap : 16;
        ctx->list = xrealloc(ctx->list, ctx->cap * sizeof(*ctx->list));
    }
    f = &ctx->list[ctx->n++];
    f->index = row->index;
    buf_init(&f->leaf);
    buf_add(&f->leaf, row->leaf, row->len);
    return 0;
}

static json_t *b64(const void *data, size_t len)
{
    size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
    char *text = xmalloc(cap);
    json_t *s;

    sodium_bin2base64(text, cap, data, len, sodium_base64_VARIANT_ORIGINAL);
    s = json_string(text);
    free(text);
    return s;
}

/* A string member, JSON null when absent or empty. */
static json_t *str_or_null(const char *s)
{
    return s != NULL && s[0] != '\0' ? json_string(s) : json_null();
}

/* RFC 3339 UTC with milliseconds, as the audit views write it. */
static void rfc3339(int64_t ms, char out[64])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* The tree size of a signed checkpoint note (its second line). */
static int checkpoint_size(const char *note, uint64_t *size, char **errmsg)
{
    const char *p = strchr(note, '\n');
    char *end = NULL;

    if (p != NULL && p[1] >= '0' && p[1] <= '9') {
        *size = strtoull(p + 1, &end, 10);
        if (*end == '\n')
            return CU_OK;
    }
    return cu_errf(errmsg, CU_ERR_INTEGRITY, "audit: the checkpoint has no tree size");
}

/* Whether an entry is the customer's own doing (not an access by the
 * company): their log-in and reading of their own log, and anything done
 * in the customer role, such as their own export. */
static int own_action(const struct audit_entry *e)
{
    return e->action == AUDIT_SUBJECT_LOGIN || e->action == AUDIT_SUBJECT_ACCESS ||
           (e->role != NULL && strcmp(e->role, SERVICE_ROLE_CUSTOMER) == 0);
}

/* The purpose of case `id` (new JSON: a string, or null for an unknown
 * case), remembered in `cache` (case id -> purpose). */
static int case_purpose(struct service *svc, json_t *cache, const char *id, json_t **out,
                        char **errmsg)
{
    struct store_case c;
    json_t *p = json_object_get(cache, id);
    char *err = NULL;
    int rc;

    if (p != NULL) {
        *out = json_incref(p);
        return CU_OK;
    }
    store_case_init(&c);
    rc = store_case_get(svc->store, id, &c, &err);
    if (rc == CU_OK)
        p = str_or_null(c.purpose);
    else if (rc == CU_ERR_NOT_FOUND)
        p = json_null(); /* an entry may name a case that does not exist */
    else
        cu_errf(errmsg, rc, "%s", err ? err : "store: cannot read a case");
    store_case_release(&c);
    free(err);
    if (p == NULL)
        return rc;
    json_object_set(cache, id, p);
    *out = p;
    return CU_OK;
}

/* One entry of the log, with its proof at `size` (read through `rd`). */
static int log_entry(struct service *svc, const struct found *f, const struct audit_entry *e,
                     uint64_t size, struct audit_reader *rd, json_t *purposes, json_t **out,
                     char **errmsg)
{
    unsigned char path[AUDIT_MAX_PROOF][AUDIT_HASH_BYTES];
    json_t *o, *proof, *purpose = NULL;
    char when[64], *ref;
    unsigned n = 0, i;
    int rc;

    *out = NULL;
    rc = audit_inclusion_proof(f->index, size, audit_reader_get, rd, path, &n);
    if (rc != CU_OK)
        return cu_errf(errmsg, rc, "audit: the stored hashes cannot prove entry %llu",
                       (unsigned long long)f->index);
    if (e->case_id != NULL && e->case_id[0] != '\0') {
        rc = case_purpose(svc, purposes, e->case_id, &purpose, errmsg);
        if (rc != CU_OK)
            return rc;
    }
    proof = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(proof, b64(path[i], AUDIT_HASH_BYTES));
    rfc3339(e->time_ms, when);
    ref = service_staff_ref(svc, e->actor);
    o = json_object();
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "store", str_or_null(e->store));
    json_object_set_new(o, "staff_ref", str_or_null(ref));
    json_object_set_new(o, "role", str_or_null(e->role));
    json_object_set_new(o, "purpose", purpose ? purpose : json_null());
    json_object_set_new(o, "case_id", str_or_null(e->case_id));
    json_object_set_new(o, "action", str_or_null(audit_action_name(e->action)));
    json_object_set_new(o, "fields", service_json_list(e->fields));
    json_object_set_new(o, "decision", str_or_null(audit_decision_name(e->decision)));
    json_object_set_new(o, "reasons", service_json_list(e->reasons));
    json_object_set_new(o, "leaf_index", json_integer((json_int_t)f->index));
    json_object_set_new(o, "leaf_input", b64(f->leaf.data, f->leaf.len));
    json_object_set_new(o, "audit_path", proof);
    free(ref);
    *out = o;
    return CU_OK;
}

int service_subject_access_log(struct service *svc, const char *customer_id, json_t **out,
                               char **errmsg)
{
    unsigned char pseudo[VAULT_PSEUDONYM_BYTES];
    struct find_ctx ctx = {0};
    struct audit_reader rd;
    struct buf scratch = BUF_INIT;
    struct audit_entry e;
    json_t *entries = json_array(), *purposes = json_object(), *one;
    char *note = NULL;
    uint64_t size = 0;
    size_t i;
    int rc;

    *out = NULL;
    audit_reader_init(&rd, svc->store);
    if (customer_id == NULL || customer_id[0] == '\0') {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "name the customer");
        goto out;
    }
    /* The checkpoint first: every entry is proved against it. */
    rc = service_audit_checkpoint(svc, &note, errmsg);
    if (rc == CU_OK)
        rc = checkpoint_size(note, &size, errmsg);
    if (rc != CU_OK)
        goto out;
    ctx.size = size;
    vault_pseudonym(svc->vault, customer_id, pseudo);
    rc = store_audit_find(svc->store, NULL, pseudo, sizeof(pseudo), SIZE_MAX, find_one, &ctx,
                          errmsg);
    /* Newest first from the store: the log is oldest first. */
    for (i = ctx.n; rc == CU_OK && i-- > 0;) {
        const struct found *f = &ctx.list[i];

        if (audit_entry_decode(f->leaf.data, f->leaf.len, &e, &scratch) != CU_OK) {
            rc = cu_errf(errmsg, CU_ERR_INTEGRITY, "audit: entry %llu is malformed",
                         (unsigned long long)f->index);
            break;
        }
        if (own_action(&e))
            continue;
        rc = log_entry(svc, f, &e, size, &rd, purposes, &one, errmsg);
        if (rc == CU_OK)
            json_array_append_new(entries, one);
    }
    if (rc != CU_OK)
        goto out;
    *out = json_pack("{s:o, s:s, s:I}", "entries", entries, "checkpoint", note, "tree_size",
                     (json_int_t)size);
    entries = NULL;
out:
    for (i = 0; i < ctx.n; i++)
        buf_release(&ctx.list[i].leaf);
    free(ctx.list);
    audit_reader_release(&rd);
    buf_release(&scratch);
    json_decref(entries);
    json_decref(purposes);
    free(note);
    return rc;
}

/* --- the export ----------------------------------------------------------- */

int service_customer_export(struct service *svc, const struct service_actor *who,
                            const char *customer_id, json_t **out, char **errmsg)
{
    struct service_access a = {.action = AUDIT_EXPORT, .decision = AUDIT_ALLOW};
    struct model_customer m;
    struct model_error me = {0};
    struct buf fields = BUF_INIT;
    json_t *log = NULL, *data;
    char *id = NULL, *err = NULL, when[64];
    uint64_t index = 0;
    int f, rc;

    *out = NULL;
    model_customer_init(&m);
    if (customer_id == NULL || model_norm_customer_id(customer_id, &id, &me) != CU_OK) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "not a customer id: %s",
                     me.reason ? me.reason : "none given");
        goto out;
    }
    rc = service_customer_open(svc, id, SERVICE_FIELDS_ALL, &m, &err);
    if (rc == CU_ERR_NOT_FOUND)
        rc = cu_errf(errmsg, rc, "no customer '%s'", id);
    else if (rc != CU_OK)
        rc = cu_errf(errmsg, rc, "%s", err ? err : "cannot open the customer's record");
    free(err);
    if (rc != CU_OK)
        goto out;
    /* The audit entry first: nothing is built until it is durable. */
    for (f = 0; f < MODEL_F__COUNT; f++) {
        if (fields.len > 0)
            buf_addch(&fields, ',');
        buf_addstr(&fields, model_field_name(f));
    }
    a.customer_id = id;
    a.fields = fields.data;
    a.detail = "data and access log";
    rc = service_audit_access(svc, who, &a, &index, errmsg);
    if (rc != CU_OK)
        goto out;
    rc = service_subject_access_log(svc, id, &log, errmsg);
    if (rc != CU_OK)
        goto out;
    data = json_object();
    json_object_set_new(data, "customer_id", json_string(id));
    for (f = 0; f < MODEL_F__COUNT; f++)
        json_object_set_new(data, model_field_name(f), service_field_json(&m, f));
    rfc3339(cu_now_ms(), when);
    *out =
        json_pack("{s:s, s:o, s:o, s:s, s:{s:I}}", "customer_id", id, "customer", data,
                  "access_log", log, "exported_at", when, "audit", "leaf_index", (json_int_t)index);
    log = NULL;
out:
    json_decref(log);
    model_customer_release(&m);
    buf_release(&fields);
    free(id);
    return rc;
}
