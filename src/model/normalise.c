/*
 * Field names and normalisation/validation of customer and device values.
 *
 * These run on every row of an import (millions of rows), so they make a
 * single pass over the input, use no regular expressions and allocate only
 * the output string.  Error reasons are static strings and never contain the
 * input value.
 */
#include <string.h>

#include "model.h"
#include "model_int.h"

static const char *const field_names[MODEL_F__COUNT] = {
    [MODEL_F_ACCOUNT] = "account", [MODEL_F_NAME] = "name",
    [MODEL_F_PHONE] = "phone",     [MODEL_F_EMAIL] = "email",
    [MODEL_F_ADDRESS] = "address", [MODEL_F_BIRTH_DATE] = "birth_date",
    [MODEL_F_DEVICES] = "devices",
};

static const char *const ident_names[MODEL_ID__MAX + 1] = {
    [MODEL_ID_IMEI] = "imei",   [MODEL_ID_SERIAL] = "serial",   [MODEL_ID_PHONE] = "phone",
    [MODEL_ID_EMAIL] = "email", [MODEL_ID_ACCOUNT] = "account",
};

const char *model_field_name(enum model_field f)
{
    if ((int)f < 0 || (int)f >= MODEL_F__COUNT)
        return NULL;
    return field_names[f];
}

int model_field_from_name(const char *name)
{
    int f;

    if (name == NULL)
        return -1;
    for (f = 0; f < MODEL_F__COUNT; f++)
        if (strcmp(field_names[f], name) == 0)
            return f;
    return -1;
}

const char *model_ident_name(enum model_ident id)
{
    if ((int)id < 1 || (int)id > MODEL_ID__MAX)
        return NULL;
    return ident_names[id];
}

int model_ident_from_name(const char *name)
{
    int id;

    if (name == NULL)
        return -1;
    for (id = 1; id <= MODEL_ID__MAX; id++)
        if (strcmp(ident_names[id], name) == 0)
            return id;
    return -1;
}

/* ---- character helpers shared with mask.c, record.c and format.c ---- */

int32_t model_utf8_next(const char *s, size_t len, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = len - *i, n, k;
    uint32_t cp;

    if (*i >= len)
        return -1;
    if (p[0] < 0x80) {
        *i += 1;
        return p[0];
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
        cp = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        cp = p[0] & 0x07;
    } else {
        return -1;
    }
    if (left < n)
        return -1;
    for (k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        return -1;
    if (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
        return -1;
    *i += n;
    return (int32_t)cp;
}

int model_is_space(int32_t cp)
{
    return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0xa0 || cp == 0x3000;
}

void model_trim(const char **s, size_t *n)
{
    const char *p = *s;
    size_t b = 0, e = *n, i, k;
    int32_t cp;

    while (b < e) {
        i = b;
        cp = model_utf8_next(p, e, &i);
        if (cp < 0 || !model_is_space(cp))
            break;
        b = i;
    }
    while (e > b) {
        /* Step back to the lead byte of the last character. */
        k = e - 1;
        while (k > b && e - k < 4 && ((unsigned char)p[k] & 0xc0) == 0x80)
            k--;
        i = k;
        cp = model_utf8_next(p, e, &i);
        if (cp < 0 || i != e || !model_is_space(cp))
            break;
        e = k;
    }
    *s = p + b;
    *n = e - b;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char to_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static char to_upper(char c)
{
    return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Records the error (err may be NULL) and returns CU_ERR_INVALID. */
static int fail(struct model_error *err, const char *field, const char *reason)
{
    if (err != NULL) {
        err->field = field;
        err->reason = reason;
    }
    return CU_ERR_INVALID;
}

/* The trimmed span of `in` (a NULL input is an empty span). */
static void span(const char *in, const char **s, size_t *n)
{
    *s = in != NULL ? in : "";
    *n = strlen(*s);
    model_trim(s, n);
}

/* ---- IMEI ---- */

int model_luhn_ok(const char *digits, size_t len)
{
    unsigned sum = 0, v;
    size_t i;

    if (digits == NULL || len < 2)
        return 0;
    /* From the check digit leftwards, every second digit is doubled. */
    for (i = 0; i < len; i++) {
        char c = digits[len - 1 - i];

        if (!is_digit(c))
            return 0;
        v = (unsigned)(c - '0');
        if (i & 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static int norm_imei(const char *field, const char *in, char **out, struct model_error *err)
{
    char d[MODEL_IMEI_LEN];
    const char *s;
    size_t n, i, nd = 0;

    *out = NULL;
    span(in, &s, &n);
    if (n == 0)
        return fail(err, field, "missing");
    for (i = 0; i < n; i++) {
        if (is_digit(s[i])) {
            if (nd == MODEL_IMEI_LEN)
                return fail(err, field, "must be 15 digits");
            d[nd++] = s[i];
        } else if (s[i] != ' ' && s[i] != '-' && s[i] != '/') {
            return fail(err, field, "must contain digits only");
        }
    }
    if (nd != MODEL_IMEI_LEN)
        return fail(err, field, "must be 15 digits");
    if (!model_luhn_ok(d, nd))
        return fail(err, field, "check digit does not match");
    *out = xstrndup(d, nd);
    return CU_OK;
}

int model_norm_imei(const char *in, char **out, struct model_error *err)
{
    return norm_imei("imei", in, out, err);
}

/* ---- phone ---- */

/* E.164 allows 15 digits; leave room for an international or trunk prefix. */
#define PHONE_MAX_INPUT_DIGITS 20
#define PHONE_MIN_DIGITS       8
#define PHONE_MAX_DIGITS       15

/*
 * Country-specific checks on the national number `nat` (`n` digits) of
 * country code `cc`.  Returns NULL when it is acceptable, else a reason.
 */
static const char *phone_check_national(const char *cc, size_t cclen, const char *nat, size_t n)
{
    if (cclen == 2 && cc[0] == '8' && cc[1] == '6') {
        if (nat[0] == '0')
            return "not a Chinese phone number";
        if (nat[0] == '1') {
            if (nat[1] == '0') /* Beijing, area code 10 */
                return n == 10 ? NULL : "not a Chinese phone number";
            if (nat[1] < '3')
                return "not a Chinese phone number";
            return n == 11 ? NULL : "Chinese mobile numbers have 11 digits";
        }
        /* Landlines: area code of 2 or 3 digits, then 7 or 8 digits. */
        return n >= 9 && n <= 11 ? NULL : "not a Chinese phone number";
    }
    if (cclen == 1 && cc[0] == '1') {
        /* North American Numbering Plan: NPA-NXX-XXXX. */
        if (n != 10 || nat[0] < '2' || nat[3] < '2')
            return "North American numbers have 10 digits";
    }
    return NULL;
}

int model_norm_phone(const char *in, const char *default_cc, char **out, struct model_error *err)
{
    char d[PHONE_MAX_INPUT_DIGITS];
    const char *s, *digits, *cc = NULL, *nat = NULL, *reason;
    size_t n, i, nd = 0, len, cclen = 0, natlen = 0;
    int intl = 0;
    char *p;

    *out = NULL;
    span(in, &s, &n);
    if (n == 0)
        return fail(err, "phone", "missing");
    i = 0;
    if (s[0] == '+') {
        intl = 1;
        i = 1;
    }
    for (; i < n; i++) {
        char c = s[i];

        if (is_digit(c)) {
            if (nd == sizeof(d))
                return fail(err, "phone", "too long");
            d[nd++] = c;
        } else if (intl && c == '(' && i + 2 < n && s[i + 1] == '0' && s[i + 2] == ')') {
            i += 2; /* "+44 (0)20 ...": the bracketed trunk prefix is not dialled */
        } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')' && c != '/') {
            return fail(err, "phone", "not a phone number");
        }
    }
    if (nd == 0)
        return fail(err, "phone", "not a phone number");

    digits = d;
    len = nd;
    if (!intl) {
        const char *dcc = default_cc != NULL && default_cc[0] != '\0' ? default_cc : "86";
        size_t dlen;

        if (dcc[0] == '+')
            dcc++;
        dlen = strlen(dcc);
        if (len >= 2 && digits[0] == '0' && digits[1] == '0') {
            intl = 1; /* "00" international prefix */
            digits += 2;
            len -= 2;
        } else if (dlen == 1 && dcc[0] == '1' && len >= 3 && memcmp(digits, "011", 3) == 0) {
            intl = 1; /* NANP international prefix */
            digits += 3;
            len -= 3;
        } else {
            for (i = 0; i < dlen; i++)
                if (!is_digit(dcc[i]))
                    return fail(err, "phone", "unknown default country code");
            if (dlen == 0 || dlen > 3 || model_cc_len(dcc, dlen) != dlen)
                return fail(err, "phone", "unknown default country code");
            cc = dcc;
            cclen = dlen;
            nat = digits;
            natlen = len;
            /* Drop the national trunk prefix ('0'; '1' in North America;
             * Italy keeps its leading 0 in international form). */
            if (natlen > 1 && nat[0] == '0' && strcmp(dcc, "39") != 0) {
                nat++;
                natlen--;
            } else if (strcmp(dcc, "1") == 0 && natlen == 11 && nat[0] == '1') {
                nat++;
                natlen--;
            }
        }
    }
    if (intl) {
        cclen = model_cc_len(digits, len);
        if (cclen == 0)
            return fail(err, "phone", "unknown country code");
        cc = digits;
        nat = digits + cclen;
        natlen = len - cclen;
    }
    if (cclen + natlen > PHONE_MAX_DIGITS)
        return fail(err, "phone", "too long");
    if (cclen + natlen < PHONE_MIN_DIGITS || natlen == 0)
        return fail(err, "phone", "too short");
    reason = phone_check_national(cc, cclen, nat, natlen);
    if (reason != NULL)
        return fail(err, "phone", reason);

    p = xmalloc(1 + cclen + natlen + 1);
    p[0] = '+';
    memcpy(p + 1, cc, cclen);
    memcpy(p + 1 + cclen, nat, natlen);
    p[1 + cclen + natlen] = '\0';
    *out = p;
    return CU_OK;
}

/* ---- e-mail, account ---- */

static int email_local_char(char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL);
}

static int norm_email(const char *field, const char *in, char **out, struct model_error *err)
{
    const char *s, *at = NULL;
    size_t n, i, local, label = 0, dots = 0;
    char *p;

    *out = NULL;
    span(in, &s, &n);
    if (n == 0)
        return fail(err, field, "missing");
    if (n > 254)
        return fail(err, field, "too long");
    for (i = 0; i < n; i++) {
        if (s[i] == '@') {
            if (at != NULL)
                return fail(err, field, "not an e-mail address");
            at = s + i;
        }
    }
    if (at == NULL)
        return fail(err, field, "not an e-mail address");
    local = (size_t)(at - s);
    if (local == 0 || local > 64)
        return fail(err, field, "not an e-mail address");
    /* Local part: RFC 5322 atext and dots, or non-ASCII UTF-8 (RFC 6531). */
    for (i = 0; i < local;) {
        if ((unsigned char)s[i] < 0x80) {
            if (!email_local_char(s[i]))
                return fail(err, field, "not an e-mail address");
            i++;
        } else {
            int32_t cp = model_utf8_next(s, local, &i);

            if (cp < 0 || cp <= 0x9f || model_is_space(cp))
                return fail(err, field, "not an e-mail address");
        }
    }
    /* Domain: dot-separated labels of letters, digits and inner hyphens. */
    for (i = local + 1; i <= n; i++) {
        char c = i < n ? s[i] : '.';

        if (c == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return fail(err, field, "not an e-mail address");
            label = 0;
            dots++;
        } else if (is_alpha(c) || is_digit(c) || (c == '-' && label > 0)) {
            label++;
        } else {
            return fail(err, field, "not an e-mail address");
        }
    }
    if (dots < 2) /* the sentinel dot at the end counts as one */
        return fail(err, field, "not an e-mail address");

    p = xmalloc(n + 1);
    for (i = 0; i < n; i++)
        p[i] = to_lower(s[i]);
    p[n] = '\0';
    *out = p;
    return CU_OK;
}

int model_norm_email(const char *in, char **out, struct model_error *err)
{
    return norm_email("email", in, out, err);
}

int model_norm_account(const char *in, char **out, struct model_error *err)
{
    return norm_email("account", in, out, err);
}

/* ---- serial ---- */

static int norm_serial(const char *field, const char *in, char **out, struct model_error *err)
{
    const char *s;
    size_t n, i;
    char *p;

    *out = NULL;
    span(in, &s, &n);
    if (n == 0)
        return fail(err, field, "missing");
    if (n < 6 || n > 20)
        return fail(err, field, "must be 6 to 20 letters and digits");
    for (i = 0; i < n; i++)
        if (!is_alpha(s[i]) && !is_digit(s[i]))
            return fail(err, field, "must contain letters and digits only");
    p = xmalloc(n + 1);
    for (i = 0; i < n; i++)
        p[i] = to_upper(s[i]);
    p[n] = '\0';
    *out = p;
    return CU_OK;
}

int model_norm_serial(const char *in, char **out, struct model_error *err)
{
    return norm_serial("serial", in, out, err);
}

/* ---- date ---- */

static int norm_date(const char *field, const char *in, char **out, struct model_error *err)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *s;
    size_t n, i;
    int y, m, d, dim;

    *out = NULL;
    span(in, &s, &n);
    if (n == 0)
        return fail(err, field, "missing");
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return fail(err, field, "not a date (YYYY-MM-DD)");
    for (i = 0; i < n; i++)
        if (i != 4 && i != 7 && !is_digit(s[i]))
            return fail(err, field, "not a date (YYYY-MM-DD)");
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (m < 1 || m > 12 || d < 1)
        return fail(err, field, "not a date (YYYY-MM-DD)");
    dim = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        dim = 29;
    if (d > dim)
        return fail(err, field, "not a calendar date");
    if (y < 1900 || y > 2100)
        return fail(err, field, "must be between 1900 and 2100");
    *out = xstrndup(s, n);
    return CU_OK;
}

int model_norm_date(const char *in, char **out, struct model_error *err)
{
    return norm_date("date", in, out, err);
}

/* ---- name, free text ---- */

/* Control and invisible direction-changing characters, refused in text. */
static int is_control(int32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static int norm_utf8(const char *field, const char *in, size_t min, size_t max, char **out,
                     struct model_error *err)
{
    const char *s;
    size_t n, i;

    *out = NULL;
    span(in, &s, &n);
    if (n < min)
        return fail(err, field, "missing");
    if (n > max)
        return fail(err, field,
                    max == 200 ? "too long (at most 200 bytes)" : "too long (at most 500 bytes)");
    for (i = 0; i < n;) {
        int32_t cp = model_utf8_next(s, n, &i);

        if (cp < 0)
            return fail(err, field, "not valid UTF-8");
        if (is_control(cp))
            return fail(err, field, "contains control characters");
    }
    *out = xstrndup(s, n);
    return CU_OK;
}

#define NAME_MAX_BYTES 200
#define TEXT_MAX_BYTES 500

int model_norm_name(const char *in, char **out, struct model_error *err)
{
    return norm_utf8("name", in, 1, NAME_MAX_BYTES, out, err);
}

int model_norm_text(const char *in, char **out, struct model_error *err)
{
    return norm_utf8("text", in, 0, TEXT_MAX_BYTES, out, err);
}

/* ---- customer id ---- */

int model_norm_customer_id(const char *in, char **out, struct model_error *err)
{
    const char *s;
    size_t n, i;

    *out = NULL;
    span(in, &s, &n);
    if (n == 0)
        return fail(err, "customer_id", "missing");
    if (n > 64)
        return fail(err, "customer_id", "too long (at most 64)");
    for (i = 0; i < n; i++)
        if (!is_alpha(s[i]) && !is_digit(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return fail(err, "customer_id", "must contain letters, digits, '_', '.' or '-' only");
    *out = xstrndup(s, n);
    return CU_OK;
}

/* ---- look-up identifiers ---- */

int model_norm_ident(enum model_ident kind, const char *in, const char *default_cc, char **out,
                     struct model_error *err)
{
    switch (kind) {
    case MODEL_ID_IMEI:
        return model_norm_imei(in, out, err);
    case MODEL_ID_SERIAL:
        return model_norm_serial(in, out, err);
    case MODEL_ID_PHONE:
        return model_norm_phone(in, default_cc, out, err);
    case MODEL_ID_EMAIL:
        return model_norm_email(in, out, err);
    case MODEL_ID_ACCOUNT:
        return model_norm_account(in, out, err);
    }
    *out = NULL;
    return fail(err, "identifier", "unknown identifier kind");
}

/* ---- whole record ---- */

static int is_blank(const char *v)
{
    const char *s;
    size_t n;

    span(v, &s, &n);
    return n == 0;
}

/*
 * Replaces *slot by its normalised form.  A blank value becomes NULL
 * (absent); an absent required value is an error.
 */
static int norm_slot(char **slot, const char *field, int required,
                     int (*norm)(const char *field, const char *in, char **out,
                                 struct model_error *err),
                     struct model_error *err)
{
    char *v = NULL;
    int rc;

    if (*slot != NULL && is_blank(*slot)) {
        model_str_free(*slot);
        *slot = NULL;
    }
    if (*slot == NULL)
        return required ? fail(err, field, "missing") : CU_OK;
    rc = norm(field, *slot, &v, err);
    if (rc != CU_OK)
        return rc;
    model_str_free(*slot);
    *slot = v;
    return CU_OK;
}

static int slot_customer_id(const char *field, const char *in, char **out, struct model_error *err)
{
    (void)field;
    return model_norm_customer_id(in, out, err);
}

static int slot_name(const char *field, const char *in, char **out, struct model_error *err)
{
    return norm_utf8(field, in, 1, NAME_MAX_BYTES, out, err);
}

static int slot_text(const char *field, const char *in, char **out, struct model_error *err)
{
    return norm_utf8(field, in, 0, TEXT_MAX_BYTES, out, err);
}

static int norm_phones(struct model_customer *c, const char *default_cc, struct model_error *err)
{
    size_t i, j, k = 0;
    char *v;
    int rc;

    if (c->nphones > MODEL_MAX_PHONES)
        return fail(err, "phone", "too many phones (at most 8)");
    for (i = 0; i < c->nphones; i++) {
        if (c->phones[i] == NULL || is_blank(c->phones[i])) {
            model_str_free(c->phones[i]);
            c->phones[i] = NULL;
            continue;
        }
        rc = model_norm_phone(c->phones[i], default_cc, &v, err);
        if (rc != CU_OK) {
            /* Keep the list dense: move the phones not yet seen down. */
            for (j = i; j < c->nphones; j++) {
                c->phones[k++] = c->phones[j];
                if (k - 1 != j)
                    c->phones[j] = NULL;
            }
            c->nphones = k;
            return rc;
        }
        model_str_free(c->phones[i]);
        c->phones[i] = NULL;
        for (j = 0; j < k; j++)
            if (strcmp(c->phones[j], v) == 0)
                break;
        if (j < k) /* the same number written twice */
            model_str_free(v);
        else
            c->phones[k++] = v;
    }
    c->nphones = k;
    return CU_OK;
}

static int norm_device(struct model_device *d, struct model_error *err)
{
    int rc;

    if ((rc = norm_slot(&d->imei, "imei", 1, norm_imei, err)) != CU_OK ||
        (rc = norm_slot(&d->serial, "serial", 0, norm_serial, err)) != CU_OK ||
        (rc = norm_slot(&d->model, "model", 0, slot_text, err)) != CU_OK ||
        (rc = norm_slot(&d->purchase_date, "purchase_date", 0, norm_date, err)) != CU_OK ||
        (rc = norm_slot(&d->store, "store", 0, slot_text, err)) != CU_OK)
        return rc;
    return CU_OK;
}

int model_customer_normalise(struct model_customer *c, const char *default_cc,
                             struct model_error *err, int *bad_device)
{
    size_t i, j;
    int rc;

    if (bad_device != NULL)
        *bad_device = -1;
    if ((rc = norm_slot(&c->customer_id, "customer_id", 1, slot_customer_id, err)) != CU_OK ||
        (rc = norm_slot(&c->account, "account", 0, norm_email, err)) != CU_OK ||
        (rc = norm_slot(&c->name, "name", 1, slot_name, err)) != CU_OK ||
        (rc = norm_phones(c, default_cc, err)) != CU_OK ||
        (rc = norm_slot(&c->email, "email", 0, norm_email, err)) != CU_OK)
        return rc;
    if (c->nphones == 0 && c->email == NULL && c->account == NULL)
        return fail(err, "phone", "missing (a phone, e-mail or account is required)");
    if ((rc = norm_slot(&c->address, "address", 0, slot_text, err)) != CU_OK ||
        (rc = norm_slot(&c->birth_date, "birth_date", 0, norm_date, err)) != CU_OK)
        return rc;
    if (c->ndevices > MODEL_MAX_DEVICES)
        return fail(err, "devices", "too many devices (at most 32)");
    for (i = 0; i < c->ndevices; i++) {
        rc = norm_device(&c->devices[i], err);
        for (j = 0; rc == CU_OK && j < i; j++)
            if (strcmp(c->devices[j].imei, c->devices[i].imei) == 0)
                rc = fail(err, "imei", "device listed twice");
        if (rc != CU_OK) {
            if (bad_device != NULL)
                *bad_device = (int)i;
            return rc;
        }
    }
    return CU_OK;
}
