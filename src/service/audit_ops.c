/*
 * Audit log use cases: entries, proofs, checkpoints, verification, export.
 * Reads go through the service's own store connection; only appends and
 * checkpoints go through the writer.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../audit/audit.h"

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

static void set_str(json_t *o, const char *key, const char *value)
{
    if (value != NULL && value[0] != '\0')
        json_object_set_new(o, key, json_string(value));
}

json_t *service_json_list(const char *list)
{
    json_t *a = json_array();
    const char *p = list, *comma;

    while (p != NULL && *p != '\0') {
        comma = strchr(p, ',');
        json_array_append_new(a, json_stringn(p, comma ? (size_t)(comma - p) : strlen(p)));
        p = comma ? comma + 1 : NULL;
    }
    return a;
}

/* One stored entry as JSON (decoded fields next to the raw leaf_input). */
static json_t *entry_json(const struct store_audit_row *row)
{
    struct audit_entry e;
    struct buf scratch = BUF_INIT;
    json_t *o = json_object();
    char when[64], hex[2 * AUDIT_PSEUDONYM_BYTES + 1];
    time_t secs;
    struct tm tm;

    json_object_set_new(o, "index", json_integer((json_int_t)row->index));
    json_object_set_new(o, "leaf_input", b64(row->leaf, row->len));
    if (audit_entry_decode(row->leaf, row->len, &e, &scratch) != CU_OK) {
        json_object_set_new(o, "malformed", json_true());
        buf_release(&scratch);
        return o;
    }
    secs = (time_t)(e.time_ms / 1000);
    gmtime_r(&secs, &tm);
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(e.time_ms % 1000));
    json_object_set_new(o, "time", json_string(when));
    set_str(o, "actor", e.actor);
    set_str(o, "role", e.role);
    set_str(o, "store", e.store);
    set_str(o, "action", audit_action_name(e.action));
    set_str(o, "decision", audit_decision_name(e.decision));
    set_str(o, "case_id", e.case_id);
    if (e.has_subject) {
        sodium_bin2hex(hex, sizeof(hex), e.subject, AUDIT_PSEUDONYM_BYTES);
        json_object_set_new(o, "subject", json_string(hex));
    }
    json_object_set_new(o, "fields", service_json_list(e.fields));
    json_object_set_new(o, "reasons", service_json_list(e.reasons));
    set_str(o, "request_id", e.request_id);
    set_str(o, "client", e.client);
    set_str(o, "detail", e.detail);
    buf_release(&scratch);
    return o;
}

static int collect(void *ctx, const struct store_audit_row *row)
{
    json_array_append_new((json_t *)ctx, entry_json(row));
    return 0;
}

int service_audit_entries(struct service *svc, uint64_t start, uint64_t end, json_t **out,
                          char **errmsg)
{
    json_t *list = json_array();
    int rc;

    *out = NULL;
    if (end < start || end - start > 100000) {
        json_decref(list);
        return cu_errf(errmsg, CU_ERR_INVALID, "ask for at most 100,000 entries (start <= end)");
    }
    rc = store_audit_scan(svc->store, start, end, collect, list, errmsg);
    if (rc != CU_OK) {
        json_decref(list);
        return rc;
    }
    *out = json_pack("{s:o}", "entries", list);
    return CU_OK;
}

int service_audit_show(struct service *svc, const char *staff, const char *customer_id,
                       size_t limit, json_t **out, char **errmsg)
{
    unsigned char pseudo[AUDIT_PSEUDONYM_BYTES];
    json_t *list = json_array();
    int rc;

    *out = NULL;
    if (customer_id != NULL)
        vault_pseudonym(svc->vault, customer_id, pseudo);
    rc = store_audit_find(svc->store, staff, customer_id ? pseudo : NULL,
                          customer_id ? sizeof(pseudo) : 0, limit, collect, list, errmsg);
    if (rc != CU_OK) {
        json_decref(list);
        return rc;
    }
    *out = json_pack("{s:o}", "entries", list);
    return CU_OK;
}

struct export_ctx {
    int (*line)(void *ctx, const char *json);
    void *ctx;
};

static int export_one(void *arg, const struct store_audit_row *row)
{
    struct export_ctx *x = arg;
    json_t *o = entry_json(row);
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int rc = x->line(x->ctx, text);

    free(text);
    json_decref(o);
    return rc;
}

int service_audit_export(struct service *svc, int (*line)(void *ctx, const char *json), void *ctx,
                         char **errmsg)
{
    struct export_ctx x = {line, ctx};

    return store_audit_scan(svc->store, 0, UINT64_MAX, export_one, &x, errmsg);
}

/* Proofs are served for sizes that a signed checkpoint covers or the
 * current size; the hashes come from the stored tiles. */
static int check_size(struct service *svc, uint64_t size, char **errmsg)
{
    uint64_t have = 0;
    int rc = store_audit_size(svc->store, &have, errmsg);

    if (rc == CU_OK && (size == 0 || size > have))
        rc = cu_errf(errmsg, CU_ERR_INVALID, "tree size %llu is out of range (the log has %llu)",
                     (unsigned long long)size, (unsigned long long)have);
    return rc;
}

static json_t *hash_list(unsigned char (*h)[AUDIT_HASH_BYTES], unsigned n)
{
    json_t *a = json_array();
    unsigned i;

    for (i = 0; i < n; i++)
        json_array_append_new(a, b64(h[i], AUDIT_HASH_BYTES));
    return a;
}

int service_audit_inclusion(struct service *svc, uint64_t index, uint64_t size, json_t **out,
                            char **errmsg)
{
    unsigned char path[AUDIT_MAX_PROOF][AUDIT_HASH_BYTES];
    struct audit_reader rd;
    unsigned n = 0;
    int rc;

    *out = NULL;
    rc = check_size(svc, size, errmsg);
    if (rc == CU_OK && index >= size)
        rc = cu_errf(errmsg, CU_ERR_INVALID, "index %llu is not below tree size %llu",
                     (unsigned long long)index, (unsigned long long)size);
    if (rc != CU_OK)
        return rc;
    audit_reader_init(&rd, svc->store);
    rc = audit_inclusion_proof(index, size, audit_reader_get, &rd, path, &n);
    audit_reader_release(&rd);
    if (rc != CU_OK)
        return cu_errf(errmsg, rc, "audit: the stored hashes cannot give this proof");
    *out = json_pack("{s:I, s:I, s:o}", "leaf_index", (json_int_t)index, "tree_size",
                     (json_int_t)size, "audit_path", hash_list(path, n));
    return CU_OK;
}

int service_audit_consistency(struct service *svc, uint64_t first, uint64_t second, json_t **out,
                              char **errmsg)
{
    unsigned char proof[AUDIT_MAX_PROOF][AUDIT_HASH_BYTES];
    struct audit_reader rd;
    unsigned n = 0;
    int rc;

    *out = NULL;
    rc = check_size(svc, second, errmsg);
    if (rc == CU_OK && (first == 0 || first > second))
        rc = cu_errf(errmsg, CU_ERR_INVALID, "need 0 < first <= second");
    if (rc != CU_OK)
        return rc;
    audit_reader_init(&rd, svc->store);
    rc = audit_consistency_proof(first, second, audit_reader_get, &rd, proof, &n);
    audit_reader_release(&rd);
    if (rc != CU_OK)
        return cu_errf(errmsg, rc, "audit: the stored hashes cannot give this proof");
    *out = json_pack("{s:I, s:I, s:o}", "first", (json_int_t)first, "second", (json_int_t)second,
                     "consistency", hash_list(proof, n));
    return CU_OK;
}

int service_audit_checkpoint(struct service *svc, char **note, char **errmsg)
{
    int rc = service_audit_open(svc, errmsg);

    return rc == CU_OK ? audit_log_checkpoint(svc->audit, note, errmsg) : rc;
}

char *service_audit_vkey(struct service *svc)
{
    unsigned char pk[32];

    vault_audit_public_key(svc->vault, pk);
    return audit_vkey(svc->audit_origin, pk);
}

int service_audit_verify(struct service *svc, struct audit_verify_result *res, char **errmsg)
{
    unsigned char pk[32];

    vault_audit_public_key(svc->vault, pk);
    return audit_verify(svc->store, pk, svc->audit_origin, res, errmsg);
}
