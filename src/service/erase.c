/*
 * Erasure by crypto-shredding (docs/erasure.md).
 *
 * A customer's values are sealed under their own data key, which exists
 * only wrapped by a key-encryption key (KEK) in the store.  Erasing deletes
 * that wrapped key together with every sealed field, the blind-index
 * entries, and the outbox messages to them (sealed with a master-derived
 * key, so they must go too), in one store transaction, and leaves a
 * tombstone: the customer id and the time, nothing personal.  The audit
 * log keeps every entry about the customer, under their keyed pseudonym,
 * so it stays complete and verifiable.
 *
 * Order: decide, then record (the erase entry is durable before anything
 * is deleted: if it cannot be written, nothing is erased), then delete,
 * then push the deletion out of the store's log (store_scrub).
 *
 * Copies: the store zeroes deleted content in its pages and the scrub
 * truncates its log, so a copy of the store taken afterwards holds nothing
 * of the customer.  A copy taken before still holds the wrapped data key,
 * readable only with a keyring that still has the KEK version it is
 * wrapped by; retiring that version after a rotation (and letting older
 * copies of the keyring expire) makes such copies unreadable too.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../audit/audit.h"

#define REASON_MIN 3
#define REASON_MAX 200

/* "2024-05-01T12:00:00Z" into out (at least 32 bytes). */
static const char *utc_time(int64_t t, char *out, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "%lld", (long long)t);
    return out;
}

static int may_erase(const struct service_actor *who)
{
    return who->role != NULL &&
           (strcmp(who->role, "operator") == 0 || strcmp(who->role, "admin") == 0);
}

/* Records a refused erase (durable before the refusal is answered), then
 * returns rc with the refusal's message in *errmsg (unless the audit write
 * failed, whose error wins: fail closed). */
static int refuse(struct service *svc, const struct service_actor *who, const char *customer_id,
                  const char *code, int rc, char *msg, char **errmsg)
{
    struct service_access a = {
        .action = AUDIT_ERASE, .decision = AUDIT_DENY, .customer_id = customer_id, .reasons = code};
    int arc = service_audit_access(svc, who, &a, NULL, errmsg);

    if (arc != CU_OK) {
        free(msg);
        return arc;
    }
    cu_errf(errmsg, rc, "%s", msg);
    free(msg);
    return rc;
}

int service_customer_erased(struct service *svc, const char *customer_id, int64_t *erased_at,
                            char **errmsg)
{
    return store_erased_get(svc->store, customer_id, erased_at, errmsg);
}

int service_erase(struct service *svc, const struct service_actor *who, const char *customer_id,
                  const char *reason, json_t **out, char **errmsg)
{
    struct service_access a = {.action = AUDIT_ERASE, .decision = AUDIT_ALLOW};
    struct store_erase_result res = {0};
    struct model_error merr = {0};
    struct store_customer s;
    struct model_customer m;
    struct buf fields = BUF_INIT, detail = BUF_INIT;
    char *norm = NULL, *why = NULL, when[32];
    int64_t erased_at = 0, now;
    uint64_t index = 0;
    int rc, f, complete = 0;

    *out = NULL;
    store_customer_init(&s);
    model_customer_init(&m);
    if (customer_id == NULL || customer_id[0] == '\0') {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "a customer id is required");
        goto out;
    }
    rc = model_norm_customer_id(customer_id, &norm, &merr);
    if (rc != CU_OK) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "customer id: %s",
                     merr.reason ? merr.reason : "not valid");
        goto out;
    }
    if (reason != NULL && (strlen(reason) < REASON_MIN || strlen(reason) > REASON_MAX)) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "a reason has %d to %d characters", REASON_MIN,
                     REASON_MAX);
        goto out;
    }
    if (!may_erase(who)) {
        rc = refuse(svc, who, NULL, "role-not-allowed", CU_ERR_FORBIDDEN,
                    xasprintf("role %.20s may not erase customers", who->role ? who->role : "-"),
                    errmsg);
        goto out;
    }

    rc = store_customer_get(svc->store, norm, &s, &why);
    if (rc == CU_ERR_NOT_FOUND) {
        free(why);
        why = NULL;
        rc = store_erased_get(svc->store, norm, &erased_at, &why);
        if (rc != CU_OK && rc != CU_ERR_NOT_FOUND)
            cu_errf(errmsg, rc, "%s", why);
        if (rc == CU_OK) {
            /* Asked again (say, because the log was busy the first time):
             * the log is truncated now if it can be. */
            if (store_scrub(svc->store, &complete, NULL) != CU_OK)
                complete = 0;
            rc = refuse(svc, who, norm, "already-erased", CU_ERR_CONFLICT,
                        xasprintf("customer '%s' was already erased at %s", norm,
                                  utc_time(erased_at, when, sizeof(when))),
                        errmsg);
        } else if (rc == CU_ERR_NOT_FOUND) {
            /* the audit names no one who does not exist */
            rc = refuse(svc, who, NULL, "customer-not-found", CU_ERR_NOT_FOUND,
                        xasprintf("no customer '%s'", norm), errmsg);
        }
        goto out;
    }
    if (rc != CU_OK) {
        cu_errf(errmsg, rc, "%s", why);
        goto out;
    }
    /* The reason goes into the immutable audit log: it must hold none of
     * the customer's values, which takes opening the record.  An erase
     * must work even when the record no longer opens, but then without a
     * reason. */
    if (reason != NULL) {
        rc = service_unseal(svc, &s, SERVICE_FIELDS_ALL, &m, &why);
        if (rc != CU_OK) {
            rc = cu_errf(errmsg, CU_ERR_INVALID,
                         "the record does not open (%s), so the reason cannot be checked for "
                         "personal data: erase without a reason",
                         cu_err_name(rc));
            goto out;
        }
        if (service_mentions(reason, &m)) {
            rc = cu_errf(errmsg, CU_ERR_INVALID,
                         "the reason contains the customer's personal data; it is kept in the "
                         "audit log, which must not hold any: describe the request instead");
            goto out;
        }
    }

    /* What goes, by field name only. */
    for (f = 0; f < MODEL_F__COUNT; f++) {
        if (s.sealed[f].len == 0)
            continue;
        if (fields.len > 0)
            buf_addch(&fields, ',');
        buf_addstr(&fields, model_field_name(f));
    }
    buf_addf(&detail, "data key wrapped by key version %u", (unsigned)s.kek_version);
    if (reason != NULL)
        buf_addf(&detail, "; reason: %s", reason);
    a.customer_id = norm;
    a.fields = fields.len > 0 ? fields.data : NULL;
    a.detail = detail.data;
    /* Fail closed: nothing is erased unless this entry is durable. */
    rc = service_audit_access(svc, who, &a, &index, errmsg);
    if (rc != CU_OK)
        goto out;

    now = cu_now();
    rc = store_customer_erase(svc->store, norm, now, &res, errmsg);
    if (rc != CU_OK) {
        cu_errprefix(errmsg, "nothing was erased (run it again)");
        goto out;
    }
    /* The deletion is committed; a scrub that cannot finish now (busy
     * readers) is reported, and the log's next checkpoint does it. */
    if (store_scrub(svc->store, &complete, &why) != CU_OK) {
        cu_log("erase: the store's log was not truncated: %s", why ? why : "unknown error");
        complete = 0;
    }
    *out = json_pack("{s:s, s:I, s:i, s:s?, s:I, s:I, s:I, s:b, s:{s:I}}", "customer_id", norm,
                     "erased_at", (json_int_t)now, "kek_version", (int)s.kek_version, "fields",
                     a.fields, "blind_entries", (json_int_t)res.blind, "messages",
                     (json_int_t)res.messages, "cases_closed", (json_int_t)res.cases,
                     "log_truncated", complete, "audit", "leaf_index", (json_int_t)index);
out:
    model_customer_release(&m);
    store_customer_release(&s);
    buf_release(&fields);
    buf_release_wipe(&detail);
    free(norm);
    free(why);
    return rc;
}
