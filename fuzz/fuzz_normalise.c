/*
 * Fuzz target: the normalisers of src/model/normalise.c (IMEI, phone,
 * e-mail, account, serial, date, name, text, customer id) and the masks
 * shown without a case.  The first byte picks the default country for
 * phones; the rest is the value.  Checked for every normaliser: an
 * accepted value normalises to itself again (idempotence) and has the
 * documented form; a refused one leaves no output and names a field and a
 * reason; a mask never shows the whole value.
 */
#include "fuzz.h"

#include "model/model.h"

static const char *const countries[] = {"86", "1", "44", "39", "7", "852", "+86", "", "999", "8a"};

static int all_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int has_upper(const char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            return 1;
    return 0;
}

/* Whether `s` holds something a mask could hide: a character other than
 * '*' and white space (a value made of stars looks masked already). */
static int maskable(const char *s)
{
    for (; *s; s++)
        if (*s != '*' && *s != ' ')
            return 1;
    return 0;
}

static void check_mask(char *(*mask)(const char *), const char *value)
{
    char *m = mask(value);

    FUZZ_CHECK(m != NULL);
    if (maskable(value) && strchr(value, '*') == NULL)
        FUZZ_CHECK(strcmp(m, value) != 0);
    free(m);
}

typedef int (*norm_fn)(const char *in, char **out, struct model_error *err);

/* Runs one normaliser; returns its output (the caller frees it) or NULL. */
static char *run(norm_fn fn, const char *in)
{
    struct model_error err = {NULL, NULL};
    char *out = (char *)1, *again = (char *)1;
    int rc = fn(in, &out, &err);

    if (rc != CU_OK) {
        FUZZ_CHECK(rc == CU_ERR_INVALID && out == NULL);
        FUZZ_CHECK(err.field != NULL && err.reason != NULL);
        return NULL;
    }
    FUZZ_CHECK(out != NULL);
    FUZZ_CHECK(fn(out, &again, &err) == CU_OK);
    FUZZ_CHECK(strcmp(out, again) == 0);
    free(again);
    return out;
}

static char *run_phone(const char *in, const char *cc)
{
    struct model_error err = {NULL, NULL};
    char *out = (char *)1, *again = (char *)1;
    size_t n;
    int rc = model_norm_phone(in, cc, &out, &err);

    if (rc != CU_OK) {
        FUZZ_CHECK(rc == CU_ERR_INVALID && out == NULL);
        FUZZ_CHECK(err.field != NULL && err.reason != NULL);
        return NULL;
    }
    n = strlen(out);
    FUZZ_CHECK(out[0] == '+' && n >= 9 && n <= 16 && all_digits(out + 1, n - 1));
    /* E.164 is read the same whatever the default country. */
    FUZZ_CHECK(model_norm_phone(out, "44", &again, &err) == CU_OK);
    FUZZ_CHECK(strcmp(out, again) == 0);
    free(again);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model_customer c;
    struct model_error err;
    const char *cc;
    char *in, *v, *w;
    size_t n;
    int kind;

    if (size == 0)
        return 0;
    cc = countries[data[0] % CU_ARRAY_LEN(countries)];
    in = fuzz_strndup(data + 1, size - 1);

    if ((v = run(model_norm_imei, in)) != NULL) {
        FUZZ_CHECK(strlen(v) == MODEL_IMEI_LEN && all_digits(v, MODEL_IMEI_LEN));
        FUZZ_CHECK(model_luhn_ok(v, MODEL_IMEI_LEN));
        check_mask(model_mask_tail4, v);
        free(v);
    }
    if ((v = run_phone(in, cc)) != NULL) {
        check_mask(model_mask_phone, v);
        free(v);
    }
    if ((v = run(model_norm_email, in)) != NULL) {
        FUZZ_CHECK(strchr(v, '@') != NULL && strchr(v, '@') == strrchr(v, '@'));
        FUZZ_CHECK(!has_upper(v));
        check_mask(model_mask_email, v);
        w = run(model_norm_account, in);
        FUZZ_CHECK(w != NULL && strcmp(v, w) == 0); /* accounts have e-mail form */
        free(w);
        free(v);
    } else {
        FUZZ_CHECK(run(model_norm_account, in) == NULL);
    }
    if ((v = run(model_norm_serial, in)) != NULL) {
        n = strlen(v);
        FUZZ_CHECK(n >= 6 && n <= 20 && !strpbrk(v, "abcdefghijklmnopqrstuvwxyz"));
        check_mask(model_mask_tail4, v);
        free(v);
    }
    if ((v = run(model_norm_date, in)) != NULL) {
        FUZZ_CHECK(strlen(v) == 10 && v[4] == '-' && v[7] == '-');
        check_mask(model_mask_date, v);
        free(v);
    }
    if ((v = run(model_norm_name, in)) != NULL) {
        n = strlen(v);
        FUZZ_CHECK(n >= 1 && n <= 200);
        check_mask(model_mask_name, v);
        free(v);
    }
    if ((v = run(model_norm_text, in)) != NULL) {
        FUZZ_CHECK(strlen(v) <= 500);
        if (v[0] != '\0')
            check_mask(model_mask_address, v);
        free(v);
    }
    if ((v = run(model_norm_customer_id, in)) != NULL) {
        n = strlen(v);
        FUZZ_CHECK(n >= 1 && n <= 64);
        free(v);
    }
    /* The look-up form agrees with the field's normaliser. */
    for (kind = 0; kind <= MODEL_ID__MAX + 1; kind++) {
        v = (char *)1;
        if (model_norm_ident((enum model_ident)kind, in, cc, &v, &err) == CU_OK) {
            FUZZ_CHECK(kind >= 1 && kind <= MODEL_ID__MAX && v != NULL);
            free(v);
        } else {
            FUZZ_CHECK(v == NULL);
        }
    }
    /* The masks take any string, normalised or not. */
    free(model_mask_name(in));
    free(model_mask_phone(in));
    free(model_mask_email(in));
    free(model_mask_address(in));
    free(model_mask_tail4(in));
    /* A ';'-joined phone list splits and joins back to the same list. */
    model_customer_init(&c);
    if (model_phones_split(&c, in) == CU_OK) {
        struct model_customer c2;

        FUZZ_CHECK(c.nphones <= MODEL_MAX_PHONES);
        v = model_phones_join(&c);
        model_customer_init(&c2);
        FUZZ_CHECK(model_phones_split(&c2, v) == CU_OK && c2.nphones == c.nphones);
        w = model_phones_join(&c2);
        FUZZ_CHECK(strcmp(v, w) == 0);
        free(v);
        free(w);
        model_customer_release(&c2);
    }
    model_customer_release(&c);
    free(in);
    return 0;
}
