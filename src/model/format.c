/*
 * Import/export formats: CSV (RFC 4180) rows and JSON Lines records.
 *
 * Reading CSV is the importer's job (it maps columns by header name); this
 * file writes CSV, and writes and reads JSON Lines with jansson.  The JSON
 * trees hold personal values, so their strings are wiped before the tree is
 * freed.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "model.h"
#include "model_int.h"

/* ---- CSV ---- */

void model_csv_header(struct buf *out)
{
    buf_addstr(out, MODEL_CSV_COLUMNS "\r\n");
}

/* Appends one field, quoted when it holds a comma, a quote, CR or LF. */
static void csv_field(struct buf *out, const char *v, int first)
{
    const char *p;

    if (!first)
        buf_addch(out, ',');
    if (v == NULL)
        return;
    if (strpbrk(v, ",\"\r\n") == NULL) {
        buf_addstr(out, v);
        return;
    }
    buf_addch(out, '"');
    for (p = v; *p != '\0'; p++) {
        if (*p == '"')
            buf_addch(out, '"');
        buf_addch(out, *p);
    }
    buf_addch(out, '"');
}

static void csv_row(const struct model_customer *c, const char *phones,
                    const struct model_device *d, struct buf *out)
{
    csv_field(out, c->customer_id, 1);
    csv_field(out, c->account, 0);
    csv_field(out, c->name, 0);
    csv_field(out, phones, 0);
    csv_field(out, c->email, 0);
    csv_field(out, c->address, 0);
    csv_field(out, c->birth_date, 0);
    csv_field(out, d != NULL ? d->imei : NULL, 0);
    csv_field(out, d != NULL ? d->serial : NULL, 0);
    csv_field(out, d != NULL ? d->model : NULL, 0);
    csv_field(out, d != NULL ? d->purchase_date : NULL, 0);
    csv_field(out, d != NULL ? d->store : NULL, 0);
    buf_addstr(out, "\r\n");
}

void model_csv_write(const struct model_customer *c, struct buf *out)
{
    char *phones = model_phones_join(c);
    size_t i;

    if (c->ndevices == 0)
        csv_row(c, phones, NULL, out);
    for (i = 0; i < c->ndevices; i++)
        csv_row(c, phones, &c->devices[i], out);
    model_str_free(phones);
}

/* ---- JSON Lines ---- */

/* Wipes every string value in the tree, then drops the reference. */
static void json_wipe_decref(json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;

    if (j == NULL)
        return;
    if (json_is_string(j)) {
        /* The value is jansson's own heap copy: wiping it in place is safe. */
        cu_wipe((char *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        json_object_foreach(j, key, v)
        {
            json_wipe_decref(json_incref(v));
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            json_wipe_decref(json_incref(v));
        }
    }
    json_decref(j);
}

/*
 * A JSON string for `s`.  jansson refuses invalid UTF-8, which a normalised
 * record never holds; anything else is written with U+FFFD in place of each
 * invalid byte rather than dropped.
 */
static json_t *json_str(const char *s)
{
    size_t n = strlen(s), i = 0, j;
    struct buf b = BUF_INIT;
    json_t *v;

    v = json_stringn(s, n);
    if (v != NULL)
        return v;
    while (i < n) {
        j = i;
        if (model_utf8_next(s, n, &j) < 0) {
            buf_addstr(&b, "\xef\xbf\xbd");
            i++;
        } else {
            buf_add(&b, s + i, j - i);
            i = j;
        }
    }
    v = json_stringn(b.data, b.len);
    buf_release_wipe(&b);
    return v;
}

static void json_put(json_t *obj, const char *key, const char *s)
{
    if (s != NULL)
        json_object_set_new(obj, key, json_str(s));
}

void model_jsonl_write(const struct model_customer *c, struct buf *out)
{
    const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER;
    json_t *root = json_object(), *phones, *devices, *d;
    size_t i, need;

    json_put(root, "customer_id", c->customer_id);
    json_put(root, "account", c->account);
    json_put(root, "name", c->name);
    if (c->nphones > 0) {
        phones = json_array();
        for (i = 0; i < c->nphones && i < MODEL_MAX_PHONES; i++)
            if (c->phones[i] != NULL)
                json_array_append_new(phones, json_str(c->phones[i]));
        json_object_set_new(root, "phone", phones);
    }
    json_put(root, "email", c->email);
    json_put(root, "address", c->address);
    json_put(root, "birth_date", c->birth_date);
    if (c->ndevices > 0) {
        devices = json_array();
        for (i = 0; i < c->ndevices; i++) {
            d = json_object();
            json_put(d, "imei", c->devices[i].imei);
            json_put(d, "serial", c->devices[i].serial);
            json_put(d, "model", c->devices[i].model);
            json_put(d, "purchase_date", c->devices[i].purchase_date);
            json_put(d, "store", c->devices[i].store);
            json_array_append_new(devices, d);
        }
        json_object_set_new(root, "devices", devices);
    }
    /* Dump straight into `out`: no intermediate copy of the values. */
    need = json_dumpb(root, NULL, 0, flags);
    buf_grow(out, need + 1);
    out->len += json_dumpb(root, out->data + out->len, need, flags);
    out->data[out->len] = '\0';
    buf_addch(out, '\n');
    json_wipe_decref(root);
}

/* Reads member `key` of obj into *slot: absent or null leaves it NULL. */
static int json_get_str(json_t *obj, const char *key, char **slot, struct model_error *err)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v))
        return CU_OK;
    if (!json_is_string(v)) {
        err->field = key;
        err->reason = "must be a string";
        return CU_ERR_INVALID;
    }
    *slot = xstrndup(json_string_value(v), json_string_length(v));
    return CU_OK;
}

static int json_get_phones(json_t *root, struct model_customer *c, struct model_error *err)
{
    json_t *v = json_object_get(root, "phone"), *e;
    const char *s;
    size_t i, n;

    err->field = "phone";
    if (v == NULL || json_is_null(v))
        return CU_OK;
    if (json_is_string(v)) {
        if (model_phones_split(c, json_string_value(v)) != CU_OK) {
            err->reason = "too many phones (at most 8)";
            return CU_ERR_INVALID;
        }
        return CU_OK;
    }
    if (!json_is_array(v)) {
        err->reason = "must be a string or an array of strings";
        return CU_ERR_INVALID;
    }
    if (json_array_size(v) > MODEL_MAX_PHONES) {
        err->reason = "too many phones (at most 8)";
        return CU_ERR_INVALID;
    }
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e)) {
            err->reason = "must be a string or an array of strings";
            return CU_ERR_INVALID;
        }
        s = json_string_value(e);
        n = json_string_length(e);
        model_trim(&s, &n);
        if (n > 0)
            c->phones[c->nphones++] = xstrndup(s, n);
    }
    return CU_OK;
}

static int json_get_devices(json_t *root, struct model_customer *c, struct model_error *err)
{
    json_t *v = json_object_get(root, "devices"), *e;
    struct model_device *d;
    size_t i;
    int rc;

    if (v == NULL || json_is_null(v))
        return CU_OK;
    err->field = "devices";
    if (!json_is_array(v)) {
        err->reason = "must be an array of objects";
        return CU_ERR_INVALID;
    }
    if (json_array_size(v) > MODEL_MAX_DEVICES) {
        err->reason = "too many devices (at most 32)";
        return CU_ERR_INVALID;
    }
    json_array_foreach(v, i, e)
    {
        if (!json_is_object(e)) {
            err->reason = "must be an array of objects";
            return CU_ERR_INVALID;
        }
        d = model_customer_add_device(c);
        if ((rc = json_get_str(e, "imei", &d->imei, err)) != CU_OK ||
            (rc = json_get_str(e, "serial", &d->serial, err)) != CU_OK ||
            (rc = json_get_str(e, "model", &d->model, err)) != CU_OK ||
            (rc = json_get_str(e, "purchase_date", &d->purchase_date, err)) != CU_OK ||
            (rc = json_get_str(e, "store", &d->store, err)) != CU_OK)
            return rc;
    }
    return CU_OK;
}

int model_jsonl_read(const char *line, size_t len, struct model_customer *c,
                     struct model_error *err)
{
    struct model_error dummy;
    json_error_t jerr;
    json_t *root;
    int rc = CU_ERR_INVALID;

    if (err == NULL)
        err = &dummy;
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        err->field = "json";
        err->reason = "not valid JSON";
        goto out;
    }
    if (!json_is_object(root)) {
        err->field = "json";
        err->reason = "not a JSON object";
        goto out;
    }
    if ((rc = json_get_str(root, "customer_id", &c->customer_id, err)) != CU_OK ||
        (rc = json_get_str(root, "account", &c->account, err)) != CU_OK ||
        (rc = json_get_str(root, "name", &c->name, err)) != CU_OK ||
        (rc = json_get_phones(root, c, err)) != CU_OK ||
        (rc = json_get_str(root, "email", &c->email, err)) != CU_OK ||
        (rc = json_get_str(root, "address", &c->address, err)) != CU_OK ||
        (rc = json_get_str(root, "birth_date", &c->birth_date, err)) != CU_OK ||
        (rc = json_get_devices(root, c, err)) != CU_OK)
        goto out;
    rc = CU_OK;
out:
    if (rc != CU_OK)
        model_customer_release(c);
    json_wipe_decref(root);
    return rc;
}
