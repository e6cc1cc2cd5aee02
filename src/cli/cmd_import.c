/* custodian import FILE [--format csv|jsonl] [--skip-invalid --rejects FILE] */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

static const char usage[] =
    "usage: custodian import FILE [--format csv|jsonl] [--skip-invalid --rejects FILE]\n\n"
    "Imports customers: CSV with a header row (one row per device; the rows of one customer\n"
    "share its customer_id; several phones joined with ';') or JSON Lines (one customer a\n"
    "line, devices as an array).  Columns: " MODEL_CSV_COLUMNS ".\n\n"
    "Every row is validated first; a file with a bad row imports nothing and each bad row is\n"
    "printed as FILE:LINE: field: reason.  A customer imported again is updated.\n\n"
    "  --format FORMAT   csv or jsonl (default: from the file name, .jsonl/.ndjson is JSON Lines)\n"
    "  --skip-invalid    import the valid customers and skip the invalid ones\n"
    "  --rejects FILE    with --skip-invalid: write the skipped rows there, with the reason\n"
    "  --max-errors N    print at most N bad rows (default 50), then a count\n";

int cmd_import(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"skip-invalid", no_argument, NULL, 's'},
                                         {"rejects", required_argument, NULL, 'r'},
                                         {"max-errors", required_argument, NULL, 'm'},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    struct service_import_opts io = {0};
    struct service_import_result res;
    struct cli_progress prog;
    struct service *svc;
    uint64_t max_errors = 50;
    char *err = NULL, n1[32], n2[32], n3[32], detail[200];
    int opt, rc;

    io.errors = stderr;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        switch (opt) {
        case 'f':
            if (strcmp(optarg, "csv") == 0)
                io.format = SERVICE_FORMAT_CSV;
            else if (strcmp(optarg, "jsonl") == 0)
                io.format = SERVICE_FORMAT_JSONL;
            else
                return cli_usage_error(cli, "--format: expected csv or jsonl, not '%s'", optarg);
            break;
        case 's':
            io.skip_invalid = 1;
            break;
        case 'r':
            io.rejects_path = optarg;
            break;
        case 'm':
            if (cli_parse_u64(optarg, &max_errors) != 0)
                return cli_usage_error(cli, "--max-errors: not a number: '%s'", optarg);
            break;
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, "expected one FILE");
    if (io.rejects_path != NULL && !io.skip_invalid)
        return cli_usage_error(cli, "--rejects goes with --skip-invalid");
    io.path = argv[optind];
    io.max_errors_shown = (unsigned)max_errors;
    cli_progress_init(&prog, "customers");
    io.progress = cli_progress_cb;
    io.progress_ctx = &prog;

    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    rc = service_import(svc, &io, &res, &err);
    cli_progress_done(&prog);
    /* Operator events are audited too (counts only, never values). */
    snprintf(detail, sizeof(detail), "%s: %llu new, %llu updated, %llu merged, %llu rejected",
             rc == CU_OK ? "imported" : "import failed", (unsigned long long)res.inserted,
             (unsigned long long)res.updated, (unsigned long long)res.merged,
             (unsigned long long)res.rejected);
    cli_audit_note(svc, AUDIT_IMPORT, &rc, detail);
    service_free(svc);
    if (rc != CU_OK)
        return cli_fail_rc(rc, err);
    if (cli->json) {
        cli_print_json(json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "rows",
                                 (json_int_t)res.rows, "customers", (json_int_t)res.customers,
                                 "inserted", (json_int_t)res.inserted, "updated",
                                 (json_int_t)res.updated, "merged", (json_int_t)res.merged,
                                 "rejected", (json_int_t)res.rejected, "rejected_rows",
                                 (json_int_t)res.rejected_rows, "seconds", res.seconds));
    } else {
        printf("imported %s customers (%s rows) in %.1f s, %s customers/s: %llu new, %llu "
               "updated, %llu merged, %llu rejected\n",
               cli_thousands(res.customers, n1), cli_thousands(res.rows, n2), res.seconds,
               cli_thousands(res.seconds > 0 ? (uint64_t)((double)res.customers / res.seconds)
                                             : res.customers,
                             n3),
               (unsigned long long)res.inserted, (unsigned long long)res.updated,
               (unsigned long long)res.merged, (unsigned long long)res.rejected);
        if (res.rejected > 0 && io.rejects_path != NULL)
            printf("rejected rows written to '%s'\n", io.rejects_path);
    }
    return CLI_OK;
}
