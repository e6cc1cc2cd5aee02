/*
 * Fuzz target: leak-file parsing for `custodian trace` (src/trace/): the
 * reader that takes a leaked file line by line (CSV with a header, JSON
 * objects, free text) and the identifier extraction under it, then
 * trace_parse_time() (--as-of) on each line and the guilt model on pairs
 * drawn from the input.  Checked: every identifier reported is
 * NUL-terminated at `len`, of a known kind, and in the normalised form its
 * normaliser gives (so the blind-index look-up can find it); guilt
 * probabilities lie in [0, 1] and come in the documented order.
 */
#include "fuzz.h"

#include "model/model.h"
#include "trace/trace.h"

static void found(void *ctx, int kind, const char *value, size_t len)
{
    struct model_error err;
    char *again = NULL;
    int rc = CU_ERR_INVALID;
    size_t i, letters = 0, digits = 0;

    (void)ctx;
    FUZZ_CHECK(value != NULL && strlen(value) == len && len > 0);
    FUZZ_CHECK(trace_kind_name(kind) != NULL);
    switch (kind) {
    case TRACE_CUSTOMER_ID:
        rc = model_norm_customer_id(value, &again, &err);
        break;
    case TRACE_IMEI:
        rc = model_norm_imei(value, &again, &err);
        break;
    case TRACE_SERIAL:
        rc = model_norm_serial(value, &again, &err);
        for (i = 0; i < len; i++) {
            letters += value[i] >= 'A' && value[i] <= 'Z';
            digits += value[i] >= '0' && value[i] <= '9';
        }
        FUZZ_CHECK(len >= 8 && len <= 20 && letters >= 2 && digits >= 2);
        break;
    case TRACE_PHONE:
        rc = model_norm_phone(value, "44", &again, &err);
        FUZZ_CHECK(value[0] == '+');
        break;
    case TRACE_EMAIL:
        rc = model_norm_email(value, &again, &err);
        break;
    }
    FUZZ_CHECK(rc == CU_OK && strcmp(again, value) == 0);
    free(again);
}

static void one_line(void *ctx, const char *line, size_t len)
{
    struct trace_reader *r = ctx;
    char *text = fuzz_strndup(line, len);
    int64_t ms;
    int rc;

    (void)trace_reader_line(r, line, len, found, NULL);
    rc = trace_parse_time(text, &ms);
    FUZZ_CHECK(rc == CU_OK || rc == CU_ERR_INVALID);
    free(text);
}

static void guilt(const uint8_t *data, size_t size)
{
    static const char *const names[8] = {"ann", "bo", "cy", "di", "ed", "fay", "gus", "hu"};
    struct trace_pair pairs[64];
    struct trace_suspect *s = NULL;
    size_t n = 0, nout = 0, i;
    double p;

    if (size < 2)
        return;
    p = (double)data[0] / 256.0;
    for (i = 1; i + 1 < size && n < CU_ARRAY_LEN(pairs); i += 2, n++) {
        pairs[n].record = data[i] % 16;
        pairs[n].staff = data[i + 1] % 8;
    }
    FUZZ_CHECK(trace_guilt(pairs, &n, names, 8, p, &s, &nout) == CU_OK);
    for (i = 0; i < nout; i++) {
        FUZZ_CHECK(s[i].probability >= 0 && s[i].probability <= 1);
        FUZZ_CHECK(s[i].sole <= s[i].records && s[i].records > 0);
        if (i > 0)
            FUZZ_CHECK(s[i - 1].probability >= s[i].probability - 1e-6);
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct trace_reader r;

    trace_reader_init(&r, "86");
    fuzz_lines(data, size, one_line, &r);
    trace_reader_release(&r);
    trace_extract_text((const char *)data, size, "86", found, NULL);
    guilt(data, size);
    return 0;
}
