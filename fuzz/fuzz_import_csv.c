/*
 * Fuzz target: the CSV import (API.md import format) as `custodian import`
 * reads it: libcsv, the header, grouping rows into customers, phone lists,
 * normalisation and validation, and the --rejects file.  Entry:
 * service_import_validate() (service_int.h), the import's validation pass
 * without a store.
 */
#include "fuzz.h"

#include "service/service_int.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fopen("/dev/null", "w");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct service svc = {.default_country = (char *)"86"};
    struct service_import_opts opts = {0};
    struct service_import_result res;
    char *err = NULL;
    int rc;

    opts.path = fuzz_file(data, size);
    opts.format = SERVICE_FORMAT_CSV;
    opts.skip_invalid = 1;
    opts.rejects_path = "/dev/null";
    opts.errors = devnull;
    opts.max_errors_shown = 3;
    rc = service_import_validate(&svc, &opts, &res, &err);
    FUZZ_CHECK((rc == CU_OK) == (err == NULL));
    /* Every customer, valid or not, spans at least one data row. */
    FUZZ_CHECK(res.customers + res.rejected <= res.rows);
    FUZZ_CHECK(res.rejected <= res.rejected_rows && res.rejected_rows <= res.rows);
    free(err);
    return 0;
}
