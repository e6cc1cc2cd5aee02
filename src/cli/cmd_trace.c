/* custodian trace FILE [--as-of TIME] [--p P] [--top N] [--examples N] */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "trace/trace.h"

static const char usage[] =
    "usage: custodian trace FILE [--as-of TIME] [--p P] [--top N] [--examples N] [--json]\n\n"
    "Ranks the staff whose reveals could have produced a leaked data set. FILE is the leak\n"
    "as found: CSV (with or without a header), JSON Lines or free text, with phone numbers\n"
    "in any common format, e-mail addresses, IMEIs, serials, customer ids. Identifiers are\n"
    "matched to customers through the blind indexes (no record is opened), and the audit\n"
    "log is read for the reveals of those customers before the leak. Each staff member is\n"
    "scored with the guilt model of Papadimitriou and Garcia-Molina (IEEE TKDE, 2011):\n\n"
    "  Pr{leaked} = 1 - product over the leaked customers they revealed of\n"
    "               (1 - (1 - p) / number of staff who revealed that customer)\n\n"
    "Canary customers found in the leak are listed first. The trace is recorded in the\n"
    "audit log. Nothing personal is printed: customers by id, staff by username.\n\n"
    "  --as-of TIME    when the leak was found: later reveals do not count (default now;\n"
    "                  2026-11-24, 2026-11-24T10:30:00+08:00 or Unix seconds)\n"
    "  --p P           the chance that a leaked record was obtained some other way\n"
    "                  (0 <= P < 1, default 0.2)\n"
    "  --top N         suspects to list (default 20)\n"
    "  --examples N    example audit entries per suspect (default 3)\n"
    "  --json          everything as JSON, with an inclusion proof for every example\n\n"
    "See docs/trace.md for what the numbers mean.\n";

static uint64_t num(json_t *o, const char *a, const char *b)
{
    json_t *v = json_object_get(o, a);

    if (b != NULL)
        v = json_object_get(v, b);
    return (uint64_t)json_integer_value(v);
}

static void print_text(json_t *out, const char *path)
{
    static const char *const kinds[] = {"phone", "email", "imei", "serial", "customer_id"};
    json_t *s, *v, *ex, *by = json_object_get(json_object_get(out, "identifiers"), "by_kind");
    char n1[32], n2[32], n3[32];
    size_t i, j, k;

    printf("%s: %s lines read", path, cli_thousands(num(out, "lines", "read"), n1));
    if (json_is_true(json_object_get(json_object_get(out, "lines"), "header")))
        printf(" (a CSV header)");
    printf("; %s identifiers found, %s matched, %s unmatched\n",
           cli_thousands(num(out, "identifiers", "found"), n1),
           cli_thousands(num(out, "identifiers", "matched"), n2),
           cli_thousands(num(out, "identifiers", "unmatched"), n3));
    printf("  ");
    for (k = 0; k < CU_ARRAY_LEN(kinds); k++)
        printf("%s%s %s (%s matched)", k ? ", " : "", kinds[k],
               cli_thousands(num(by, kinds[k], "found"), n1),
               cli_thousands(num(by, kinds[k], "matched"), n2));
    printf("\n");
    if (num(out, "names", NULL) > 0)
        printf("  %s lines with a name (names are counted, never matched)\n",
               cli_thousands(num(out, "names", NULL), n1));
    printf("lines: %s matched a customer, %s did not\n",
           cli_thousands(num(out, "lines", "matched"), n1),
           cli_thousands(num(out, "lines", "unmatched"), n2));
    printf("customers: %s matched; %s revealed by staff before %s, %s by nobody\n",
           cli_thousands(num(out, "customers", "matched"), n1),
           cli_thousands(num(out, "customers", "revealed"), n2),
           json_string_value(json_object_get(out, "as_of")),
           cli_thousands(num(out, "customers", "not_revealed"), n3));

    v = json_object_get(out, "canaries");
    if (json_array_size(v) > 0) {
        printf("\nCANARY customers in the leak: %zu (planted records no real customer has: the "
               "leak came from this system)\n",
               json_array_size(v));
        json_array_foreach(v, i, s)
        {
            json_t *names = json_object_get(s, "revealed_by"), *idx;

            printf("  %s  ", json_string_value(json_object_get(s, "customer_id")));
            if (json_array_size(names) == 0)
                printf("revealed by no staff member (a copy of the data, not a reveal)\n");
            else {
                printf("revealed by");
                json_array_foreach(names, j, ex) printf(" %s", json_string_value(ex));
                printf(" (audit");
                json_array_foreach(json_object_get(s, "leaf_indexes"), j, idx)
                {
                    if (j < 5)
                        printf(" %lld", (long long)json_integer_value(idx));
                }
                printf(")\n");
            }
        }
    }

    v = json_object_get(out, "suspects");
    printf("\nsuspects (guilt model, p = %g; %s staff revealed leaked customers):\n",
           json_real_value(json_object_get(out, "p")),
           cli_thousands(num(out, "staff_considered", NULL), n1));
    if (json_array_size(v) == 0)
        printf("  none: no staff member revealed a leaked customer before %s\n",
               json_string_value(json_object_get(out, "as_of")));
    else
        printf("  %4s  %-16s %-11s %11s %8s %8s %6s  %s\n", "rank", "staff", "Pr(leaked)",
               "log10(1-Pr)", "records", "only", "cases", "example audit entries");
    json_array_foreach(v, i, s)
    {
        json_t *li = json_object_get(s, "log10_innocence");
        char lbuf[32];

        if (json_is_null(li))
            snprintf(lbuf, sizeof(lbuf), "-inf");
        else
            snprintf(lbuf, sizeof(lbuf), "%.2f", json_real_value(li));
        printf("  %4lld  %-16s %-11.6f %11s %8s %8s %6s  ",
               (long long)json_integer_value(json_object_get(s, "rank")),
               json_string_value(json_object_get(s, "staff")),
               json_real_value(json_object_get(s, "probability")), lbuf,
               cli_thousands(num(s, "records", NULL), n1),
               cli_thousands(num(s, "sole_records", NULL), n2),
               cli_thousands(num(s, "cases", "count"), n3));
        json_array_foreach(json_object_get(s, "examples"), j, ex)
            printf("%s%lld", j ? ", " : "",
                   (long long)json_integer_value(json_object_get(ex, "leaf_index")));
        if (num(s, "canaries", NULL) > 0)
            printf("  [revealed %llu canar%s]", (unsigned long long)num(s, "canaries", NULL),
                   num(s, "canaries", NULL) == 1 ? "y" : "ies");
        printf("\n");
    }
    printf("\naudit entry %llu records this trace; %s audit entries scanned; %.1f s\n",
           (unsigned long long)num(out, "audit", "trace_leaf_index"),
           cli_thousands(num(out, "audit", "entries_scanned"), n1),
           json_real_value(json_object_get(json_object_get(out, "seconds"), "total")));
}

int cmd_trace(struct cli *cli, int argc, char **argv)
{
    enum { O_AS_OF = CLI_OPT__NEXT, O_P, O_TOP, O_EXAMPLES };
    static const struct option opts[] = {{"as-of", required_argument, NULL, O_AS_OF},
                                         {"p", required_argument, NULL, O_P},
                                         {"top", required_argument, NULL, O_TOP},
                                         {"examples", required_argument, NULL, O_EXAMPLES},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    struct service_trace_opts to = {0};
    struct service_actor who;
    struct cli_progress prog;
    struct service *svc;
    json_t *out = NULL;
    char name[96], *err = NULL, *end;
    uint64_t n;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        switch (opt) {
        case O_AS_OF:
            if (trace_parse_time(optarg, &to.as_of_ms) != CU_OK || to.as_of_ms <= 0)
                return cli_usage_error(cli,
                                       "--as-of: not a time: '%s' (2026-11-24, "
                                       "2026-11-24T10:30:00Z or Unix seconds)",
                                       optarg);
            break;
        case O_P:
            to.p = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(to.p >= 0.0 && to.p < 1.0))
                return cli_usage_error(cli, "--p: a number at least 0 and below 1, not '%s'",
                                       optarg);
            to.p_set = 1;
            break;
        case O_TOP:
        case O_EXAMPLES:
            if (cli_parse_u64(optarg, &n) != 0 || n < 1 || n > 10000)
                return cli_usage_error(cli, "--%s: a number from 1 to 10,000, not '%s'",
                                       opt == O_TOP ? "top" : "examples", optarg);
            if (opt == O_TOP)
                to.top = (size_t)n;
            else
                to.examples = (size_t)n;
            break;
        }
    }
    if (optind >= argc)
        return cli_usage_error(cli, "name the leaked file");
    if (optind + 1 != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind + 1]);
    to.path = argv[optind];
    to.proofs = cli->json;
    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    cli_progress_init(&prog, "items");
    to.progress = cli_progress_cb;
    to.progress_ctx = &prog;
    service_operator(&who, name, sizeof(name));
    rc = service_trace(svc, &who, &to, &out, &err);
    cli_progress_done(&prog);
    if (rc == CU_OK && cli->json) {
        cli_print_json(out);
        out = NULL;
    } else if (rc == CU_OK) {
        print_text(out, to.path);
    }
    json_decref(out);
    service_free(svc);
    return rc == CU_OK ? CLI_OK : cli_fail_rc(rc, err);
}
