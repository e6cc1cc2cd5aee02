/*
 * Canary customers: synthetic customers planted among the real ones.  No
 * one serving a real customer has a reason to look one up, so any look-up
 * or reveal of one is a critical alert and suspends the account
 * (src/detect).  They are stored like every customer; only their keyed tag
 * (vault_canary_tag) marks them, so which customers are canaries is known
 * only through the master key, not from the database or the audit log.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>

#include "../audit/audit.h"
#include "../synth/synth.h"

#define CANARY_MAX 10000

/* A customer id of the real ones' form that nobody has. */
static int free_customer_id(struct service *svc, char out[16], char **errmsg)
{
    struct store_customer s;
    int rc, tries;

    store_customer_init(&s);
    for (tries = 0; tries < 100; tries++) {
        snprintf(out, 16, "C%08u", 1 + vault_random_uniform(99999999u));
        rc = store_customer_get(svc->store, out, &s, NULL);
        if (rc == CU_ERR_NOT_FOUND) {
            int64_t at;

            /* nor an erased one's: it is never stored again */
            rc = store_erased_get(svc->store, out, &at, NULL);
            if (rc == CU_OK)
                continue;
            if (rc != CU_ERR_NOT_FOUND)
                break;
            store_customer_release(&s);
            return CU_OK;
        }
        if (rc != CU_OK)
            break;
    }
    store_customer_release(&s);
    return cu_errf(errmsg, CU_ERR_STORE, "cannot find a free customer id for a canary");
}

static json_t *planted(const struct model_customer *m)
{
    json_t *phones = json_array(), *imeis = json_array();
    size_t i;

    for (i = 0; i < m->nphones; i++)
        json_array_append_new(phones, json_string(m->phones[i]));
    for (i = 0; i < m->ndevices; i++)
        json_array_append_new(imeis, json_string(m->devices[i].imei));
    return json_pack("{s:s, s:s?, s:s?, s:s?, s:o, s:o}", "customer_id", m->customer_id, "name",
                     m->name, "account", m->account, "email", m->email, "phones", phones, "imeis",
                     imeis);
}

int service_canary_add(struct service *svc, const struct service_actor *who, unsigned n,
                       json_t **out, char **errmsg)
{
    struct model_customer m;
    struct store_customer s;
    unsigned char tag[AUDIT_PSEUDONYM_BYTES];
    json_t *list = json_array();
    char id[16], detail[64];
    uint64_t seed;
    unsigned i;
    int rc;

    *out = NULL;
    if (n < 1 || n > CANARY_MAX) {
        json_decref(list);
        return cu_errf(errmsg, CU_ERR_INVALID, "plant 1 to %d canaries at a time", CANARY_MAX);
    }
    model_customer_init(&m);
    store_customer_init(&s);
    vault_random(&seed, sizeof(seed));
    /* Recorded first, without saying which customers: the audit log is
     * read by staff, and a canary must look like anyone else. */
    snprintf(detail, sizeof(detail), "planted %u canary customers", n);
    rc = service_audit_note(svc, who, AUDIT_IMPORT, 1, detail, errmsg);
    if (rc == CU_OK)
        rc = store_begin(svc->store, errmsg);
    if (rc == CU_OK)
        rc = service_kek_hold(svc, errmsg);
    for (i = 0; rc == CU_OK && i < n; i++) {
        synth_customer(seed, i, &m);
        rc = free_customer_id(svc, id, errmsg);
        if (rc != CU_OK)
            break;
        free(m.customer_id);
        m.customer_id = xstrdup(id);
        rc = service_seal(svc, &m, 1, &s, errmsg);
        if (rc == CU_OK)
            rc = store_customer_insert(svc->store, &s, errmsg);
        vault_canary_tag(svc->vault, id, tag);
        if (rc == CU_OK)
            rc = store_canary_add(svc->store, tag, errmsg);
        if (rc == CU_OK)
            json_array_append_new(list, planted(&m));
        model_customer_release(&m);
    }
    if (rc == CU_OK)
        rc = store_commit(svc->store, errmsg);
    else
        store_rollback(svc->store);
    if (rc == CU_OK)
        *out = json_pack("{s:o}", "canaries", list);
    else
        json_decref(list);
    store_customer_release(&s);
    return rc;
}

int service_is_canary(struct service *svc, const char *customer_id, int *yes, char **errmsg)
{
    unsigned char tag[AUDIT_PSEUDONYM_BYTES];

    vault_canary_tag(svc->vault, customer_id, tag);
    return store_canary_has(svc->store, tag, yes, errmsg);
}
