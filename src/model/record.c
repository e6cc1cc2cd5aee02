/*
 * Customer records: life cycle, phone lists and the binary device-list
 * encoding kept inside the sealed "devices" field.
 *
 * Device list encoding, version 1:
 *
 *     0x01                      version
 *     varint count              number of devices, at most MODEL_MAX_DEVICES
 *     count times, five times:  varint length, then that many bytes
 *                               (imei, serial, model, purchase_date, store;
 *                               length 0 means the field is absent)
 *
 * A varint is unsigned LEB128 in its shortest form, at most 32 bits.  The
 * decoder treats its input as hostile (it is a fuzz target): every length
 * is checked against what is left, strings may not contain NUL, nothing may
 * follow the last device, and a failed decode leaves the record as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_int.h"

#define DEVICES_VERSION 1

void model_str_free(char *s)
{
    if (s == NULL)
        return;
    cu_wipe(s, strlen(s));
    free(s);
}

void model_customer_init(struct model_customer *c)
{
    memset(c, 0, sizeof(*c));
}

void model_customer_release(struct model_customer *c)
{
    size_t i;

    model_str_free(c->customer_id);
    model_str_free(c->account);
    model_str_free(c->name);
    for (i = 0; i < c->nphones && i < MODEL_MAX_PHONES; i++)
        model_str_free(c->phones[i]);
    model_str_free(c->email);
    model_str_free(c->address);
    model_str_free(c->birth_date);
    for (i = 0; i < c->ndevices; i++)
        model_device_release(&c->devices[i]);
    free(c->devices);
    model_customer_init(c);
}

struct model_device *model_customer_add_device(struct model_customer *c)
{
    struct model_device *d;

    if (c->ndevices == c->devices_cap) {
        c->devices_cap = c->devices_cap != 0 ? c->devices_cap * 2 : 4;
        c->devices = xrealloc(c->devices, c->devices_cap * sizeof(*c->devices));
    }
    d = &c->devices[c->ndevices++];
    memset(d, 0, sizeof(*d));
    return d;
}

void model_device_release(struct model_device *d)
{
    model_str_free(d->imei);
    model_str_free(d->serial);
    model_str_free(d->model);
    model_str_free(d->purchase_date);
    model_str_free(d->store);
    memset(d, 0, sizeof(*d));
}

/* ---- phones ---- */

char *model_phones_join(const struct model_customer *c)
{
    size_t i, len = 0, n = c->nphones < MODEL_MAX_PHONES ? c->nphones : MODEL_MAX_PHONES;
    char *s, *p;

    for (i = 0; i < n; i++)
        if (c->phones[i] != NULL)
            len += strlen(c->phones[i]) + 1;
    p = s = xmalloc(len + 1);
    for (i = 0; i < n; i++) {
        size_t l;

        if (c->phones[i] == NULL)
            continue;
        if (p != s)
            *p++ = ';';
        l = strlen(c->phones[i]);
        memcpy(p, c->phones[i], l);
        p += l;
    }
    *p = '\0';
    return s;
}

int model_phones_split(struct model_customer *c, const char *joined)
{
    const char *p, *end, *part;
    size_t count = 0, n;

    if (joined == NULL)
        return CU_OK;
    /* Two passes: count first, so that an error leaves the record as it was. */
    for (p = joined;; p = end + 1) {
        end = strchr(p, ';');
        if (end == NULL)
            end = p + strlen(p);
        part = p;
        n = (size_t)(end - p);
        model_trim(&part, &n);
        if (n > 0)
            count++;
        if (*end == '\0')
            break;
    }
    if (c->nphones + count > MODEL_MAX_PHONES)
        return CU_ERR_INVALID;
    for (p = joined;; p = end + 1) {
        end = strchr(p, ';');
        if (end == NULL)
            end = p + strlen(p);
        part = p;
        n = (size_t)(end - p);
        model_trim(&part, &n);
        if (n > 0)
            c->phones[c->nphones++] = xstrndup(part, n);
        if (*end == '\0')
            break;
    }
    return CU_OK;
}

/* ---- device list encoding ---- */

static void put_varint(struct buf *out, uint32_t v)
{
    unsigned char b[5];
    size_t n = 0;

    do {
        b[n] = v & 0x7f;
        v >>= 7;
        if (v != 0)
            b[n] |= 0x80;
        n++;
    } while (v != 0);
    buf_add(out, b, n);
}

static void put_string(struct buf *out, const char *s)
{
    size_t len = s != NULL ? strlen(s) : 0;

    /* Record strings are bounded by normalisation far below 4 GiB. */
    if (len > UINT32_MAX)
        len = 0;
    put_varint(out, (uint32_t)len);
    buf_add(out, s, len);
}

void model_devices_encode(const struct model_customer *c, struct buf *out)
{
    size_t i;

    buf_addch(out, DEVICES_VERSION);
    put_varint(out, (uint32_t)c->ndevices);
    for (i = 0; i < c->ndevices; i++) {
        const struct model_device *d = &c->devices[i];

        put_string(out, d->imei);
        put_string(out, d->serial);
        put_string(out, d->model);
        put_string(out, d->purchase_date);
        put_string(out, d->store);
    }
}

/* Reads a shortest-form LEB128 varint of at most 32 bits at *pos. */
static int get_varint(const unsigned char *p, size_t len, size_t *pos, uint32_t *v)
{
    uint64_t x = 0;
    unsigned shift = 0;
    unsigned char b;

    do {
        if (*pos >= len || shift > 28)
            return 0;
        b = p[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (x > UINT32_MAX || (b == 0 && shift > 7))
        return 0; /* too large, or padded with a zero group */
    *v = (uint32_t)x;
    return 1;
}

int model_devices_decode(struct model_customer *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t pos = 0, first = c->ndevices, i, f;
    uint32_t count, l;
    int rc = CU_ERR_INVALID;

    if (p == NULL || len < 2 || p[pos++] != DEVICES_VERSION)
        goto out;
    if (!get_varint(p, len, &pos, &count) || count > MODEL_MAX_DEVICES ||
        c->ndevices + count > MODEL_MAX_DEVICES)
        goto out;
    /* Each device takes at least five bytes: reject impossible counts early. */
    if (count > (len - pos) / 5)
        goto out;
    for (i = 0; i < count; i++) {
        struct model_device *d = model_customer_add_device(c);
        char **fields[5] = {&d->imei, &d->serial, &d->model, &d->purchase_date, &d->store};

        for (f = 0; f < 5; f++) {
            if (!get_varint(p, len, &pos, &l) || l > len - pos)
                goto out;
            if (l == 0)
                continue;
            if (memchr(p + pos, '\0', l) != NULL)
                goto out;
            *fields[f] = xstrndup((const char *)p + pos, l);
            pos += l;
        }
    }
    if (pos != len)
        goto out;
    rc = CU_OK;
out:
    if (rc != CU_OK)
        while (c->ndevices > first)
            model_device_release(&c->devices[--c->ndevices]);
    return rc;
}
