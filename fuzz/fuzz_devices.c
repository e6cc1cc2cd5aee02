/*
 * Fuzz target: model_devices_decode(), the binary device list inside a
 * customer's sealed "devices" field (read back on every reveal, export and
 * re-seal).  The encoding is canonical: a buffer that decodes encodes back
 * to the same bytes; one that does not leaves the record as it was.
 */
#include "fuzz.h"

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model_customer c;
    struct model_device *d;
    struct buf out = BUF_INIT;
    int rc;

    model_customer_init(&c);
    /* A device already there, as when a decode appends to a record. */
    d = model_customer_add_device(&c);
    d->imei = xstrdup("490154203237518");
    rc = model_devices_decode(&c, data, size);
    if (rc == CU_OK) {
        FUZZ_CHECK(c.ndevices >= 1 && c.ndevices <= MODEL_MAX_DEVICES);
        /* Drop the device we put there, then re-encode what was decoded. */
        model_device_release(&c.devices[0]);
        memmove(&c.devices[0], &c.devices[1], (c.ndevices - 1) * sizeof(c.devices[0]));
        c.ndevices--;
        model_devices_encode(&c, &out);
        FUZZ_CHECK(out.len == size && memcmp(out.data, data, size) == 0);
    } else {
        FUZZ_CHECK(rc == CU_ERR_INVALID && c.ndevices == 1);
        FUZZ_CHECK(strcmp(c.devices[0].imei, "490154203237518") == 0);
    }
    model_customer_release(&c);
    buf_release(&out);
    return 0;
}
