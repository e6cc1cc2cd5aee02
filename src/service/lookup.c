/*
 * Masked look-ups: identifier -> blind index -> candidates -> open ->
 * confirm the identifier really matches (the blind index is truncated) ->
 * mask.  No personal value leaves this file unmasked.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>

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

static json_t *masked_view(const struct model_customer *m, int matched_device)
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

int service_customer_open(struct service *svc, const char *customer_id, struct model_customer *m,
                          char **errmsg)
{
    struct store_customer s;
    int rc;

    store_customer_init(&s);
    rc = store_customer_get(svc->store, customer_id, &s, errmsg);
    if (rc == CU_OK)
        rc = service_unseal(svc, &s, m, errmsg);
    store_customer_release(&s);
    return rc;
}

int service_lookup(struct service *svc, int kind, const char *value, json_t **out, char **errmsg)
{
    struct model_customer m;
    struct model_error merr = {0};
    struct store_customer s;
    json_t *list = json_array();
    int64_t ids[LOOKUP_MAX];
    size_t n = 0, i;
    char *norm = NULL;
    int rc, match;

    *out = NULL;
    model_customer_init(&m);
    store_customer_init(&s);
    if (kind == 0) {
        rc = model_norm_customer_id(value, &norm, &merr);
        if (rc == CU_OK) {
            char *why = NULL;

            rc = service_customer_open(svc, norm, &m, &why);
            if (rc == CU_OK)
                json_array_append_new(list, masked_view(&m, -1));
            else if (rc == CU_ERR_NOT_FOUND)
                rc = CU_OK; /* nobody: an empty list */
            else
                cu_errf(errmsg, rc, "%s", why);
            free(why);
        }
        goto out;
    }
    rc = model_norm_ident((enum model_ident)kind, value, svc->default_country, &norm, &merr);
    if (rc != CU_OK)
        goto out;
    rc = store_blind_find(svc->store, (uint8_t)kind,
                          vault_blind(svc->vault, kind, norm, strlen(norm)), ids, LOOKUP_MAX, &n,
                          errmsg);
    for (i = 0; rc == CU_OK && i < n; i++) {
        rc = store_customer_get_by_id(svc->store, ids[i], &s, errmsg);
        if (rc == CU_OK)
            rc = service_unseal(svc, &s, &m, errmsg);
        if (rc != CU_OK)
            break;
        match = record_matches(&m, kind, norm);
        if (match >= 0)
            json_array_append_new(
                list,
                masked_view(&m, kind == MODEL_ID_IMEI || kind == MODEL_ID_SERIAL ? match : -1));
        model_customer_release(&m);
    }
out:
    if (rc == CU_OK) {
        *out = json_pack("{s:o}", "customers", list);
    } else {
        if (merr.reason != NULL)
            cu_errf(errmsg, rc, "%s: %s", merr.field ? merr.field : model_ident_name(kind),
                    merr.reason);
        json_decref(list);
    }
    if (norm != NULL) {
        cu_wipe(norm, strlen(norm));
        free(norm);
    }
    model_customer_release(&m);
    store_customer_release(&s);
    return rc;
}
