/*
 * Fuzz target: the JSON Lines import (API.md import format).  Each line goes
 * through model_jsonl_read() and model_customer_normalise() as the import
 * does, and a record that passes must survive the way out and back in
 * unchanged (model_jsonl_write, model_devices_encode); the whole input also
 * goes through the import's validation pass (service_import_validate(),
 * with a --rejects file).
 */
#include "fuzz.h"

#include "model/model.h"
#include "service/service_int.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fopen("/dev/null", "w");
    return 0;
}

static int record_empty(const struct model_customer *c)
{
    return c->customer_id == NULL && c->account == NULL && c->name == NULL && c->nphones == 0 &&
           c->email == NULL && c->address == NULL && c->birth_date == NULL && c->ndevices == 0;
}

/* Reads `text` as one JSON Lines record and normalises it. */
static int read_normalised(const char *text, size_t len, struct model_customer *c)
{
    struct model_error err = {NULL, NULL};
    int bad = -1, rc;

    rc = model_jsonl_read(text, len, c, &err);
    if (rc != CU_OK) {
        FUZZ_CHECK(rc == CU_ERR_INVALID && err.field != NULL && err.reason != NULL);
        FUZZ_CHECK(record_empty(c));
        return rc;
    }
    rc = model_customer_normalise(c, "86", &err, &bad);
    if (rc != CU_OK)
        FUZZ_CHECK(rc == CU_ERR_INVALID && err.field != NULL && err.reason != NULL);
    return rc;
}

static void one_line(void *ctx, const char *line, size_t len)
{
    struct model_customer c, again;
    struct buf out = BUF_INIT, out2 = BUF_INIT, dev = BUF_INIT, dev2 = BUF_INIT;

    (void)ctx;
    model_customer_init(&c);
    model_customer_init(&again);
    if (read_normalised(line, len, &c) != CU_OK)
        goto out;
    /* Written and read back, a normalised record is the same record. */
    model_jsonl_write(&c, &out);
    FUZZ_CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
    FUZZ_CHECK(read_normalised(out.data, out.len - 1, &again) == CU_OK);
    model_jsonl_write(&again, &out2);
    FUZZ_CHECK(out.len == out2.len && memcmp(out.data, out2.data, out.len) == 0);
    /* So are its devices, through the sealed field's encoding. */
    model_devices_encode(&c, &dev);
    model_customer_release(&again);
    model_customer_init(&again);
    FUZZ_CHECK(model_devices_decode(&again, dev.data, dev.len) == CU_OK);
    FUZZ_CHECK(again.ndevices == c.ndevices);
    model_devices_encode(&again, &dev2);
    FUZZ_CHECK(dev.len == dev2.len && memcmp(dev.data, dev2.data, dev.len) == 0);
    buf_reset(&out);
    model_csv_write(&c, &out);
    FUZZ_CHECK(out.len >= 2 && memcmp(out.data + out.len - 2, "\r\n", 2) == 0);
out:
    model_customer_release(&c);
    model_customer_release(&again);
    buf_release(&out);
    buf_release(&out2);
    buf_release(&dev);
    buf_release(&dev2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct service svc = {.default_country = (char *)"86"};
    struct service_import_opts opts = {0};
    struct service_import_result res;
    char *err = NULL;
    int rc;

    fuzz_lines(data, size, one_line, NULL);

    opts.path = fuzz_file(data, size);
    opts.format = SERVICE_FORMAT_JSONL;
    opts.skip_invalid = 1;
    opts.rejects_path = "/dev/null";
    opts.errors = devnull;
    opts.max_errors_shown = 3;
    rc = service_import_validate(&svc, &opts, &res, &err);
    FUZZ_CHECK((rc == CU_OK) == (err == NULL));
    FUZZ_CHECK(res.customers + res.rejected == res.rows || rc != CU_OK);
    free(err);
    return 0;
}
