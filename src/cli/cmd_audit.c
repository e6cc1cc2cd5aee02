/* custodian audit verify | checkpoint | proof | entries | export | key | show */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

static const char usage[] =
    "usage: custodian audit COMMAND\n\n"
    "  verify                          recompute the whole log and check every signed\n"
    "                                  checkpoint; exit 1 naming the first bad index\n"
    "  checkpoint                      the latest signed checkpoint (C2SP signed note)\n"
    "  key                             the checkpoint verifier key (C2SP vkey)\n"
    "  proof --index I --size N        inclusion proof of entry I in the tree of size N\n"
    "  proof --first M --second N      consistency proof between tree sizes M and N\n"
    "  entries --start I --end J       entries I <= index < J as JSON\n"
    "  export [--format jsonl]         every entry, one JSON object a line (for a SIEM)\n"
    "  show --staff USER | --customer-id ID [--limit N]\n"
    "                                  a staff member's or a customer's entries, newest first\n";

static int print_line(void *ctx, const char *json)
{
    (void)ctx;
    return puts(json) < 0 ? 1 : 0;
}

int cmd_audit(struct cli *cli, int argc, char **argv)
{
    enum {
        O_INDEX = CLI_OPT__NEXT,
        O_SIZE,
        O_FIRST,
        O_SECOND,
        O_START,
        O_END,
        O_FORMAT,
        O_STAFF,
        O_CUSTOMER,
        O_LIMIT
    };
    static const struct option opts[] = {{"index", required_argument, NULL, O_INDEX},
                                         {"size", required_argument, NULL, O_SIZE},
                                         {"first", required_argument, NULL, O_FIRST},
                                         {"second", required_argument, NULL, O_SECOND},
                                         {"start", required_argument, NULL, O_START},
                                         {"end", required_argument, NULL, O_END},
                                         {"format", required_argument, NULL, O_FORMAT},
                                         {"staff", required_argument, NULL, O_STAFF},
                                         {"customer-id", required_argument, NULL, O_CUSTOMER},
                                         {"limit", required_argument, NULL, O_LIMIT},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    uint64_t v[O_LIMIT + 1 - O_INDEX] = {0}, limit = 100;
    int have[O_LIMIT + 1 - O_INDEX] = {0};
    const char *staff = NULL, *customer = NULL, *sub;
    struct audit_verify_result res;
    struct service *svc;
    json_t *out = NULL;
    char *err = NULL, *note = NULL, *vkey;
    int opt, rc = CU_OK;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        switch (opt) {
        case O_FORMAT:
            if (strcmp(optarg, "jsonl") != 0)
                return cli_usage_error(cli, "--format: only jsonl is supported");
            break;
        case O_STAFF:
            staff = optarg;
            break;
        case O_CUSTOMER:
            customer = optarg;
            break;
        case O_LIMIT:
            if (cli_parse_u64(optarg, &limit) != 0 || limit == 0)
                return cli_usage_error(cli, "--limit: a positive number");
            break;
        default:
            if (opt >= O_INDEX && opt <= O_END) {
                if (cli_parse_u64(optarg, &v[opt - O_INDEX]) != 0)
                    return cli_usage_error(cli, "--%s: not a number: '%s'",
                                           opts[opt - O_INDEX].name, optarg);
                have[opt - O_INDEX] = 1;
            }
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, "expected one of verify, checkpoint, key, proof, entries, "
                                    "export, show");
    sub = argv[optind];
    if (strcmp(sub, "proof") == 0 && !((have[O_INDEX - O_INDEX] && have[O_SIZE - O_INDEX]) ||
                                       (have[O_FIRST - O_INDEX] && have[O_SECOND - O_INDEX])))
        return cli_usage_error(cli, "proof takes --index I --size N or --first M --second N");
    if (strcmp(sub, "entries") == 0 && !(have[O_START - O_INDEX] && have[O_END - O_INDEX]))
        return cli_usage_error(cli, "entries takes --start I --end J");
    if (strcmp(sub, "show") == 0 && (staff == NULL) == (customer == NULL))
        return cli_usage_error(cli, "show takes --staff USER or --customer-id ID");
    if (strcmp(sub, "verify") && strcmp(sub, "checkpoint") && strcmp(sub, "key") &&
        strcmp(sub, "proof") && strcmp(sub, "entries") && strcmp(sub, "export") &&
        strcmp(sub, "show"))
        return cli_usage_error(cli, "unknown audit command '%s'", sub);

    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    if (strcmp(sub, "verify") == 0) {
        rc = service_audit_verify(svc, &res, &err);
        if (rc == CU_OK && cli->json) {
            out =
                json_pack("{s:b, s:I, s:I, s:f}", "ok", res.ok, "entries", (json_int_t)res.entries,
                          "checkpoints", (json_int_t)res.checkpoints, "seconds", res.seconds);
            if (!res.ok) {
                json_object_set_new(out, "bad_index", json_integer((json_int_t)res.bad_index));
                json_object_set_new(out, "problem", json_string(res.problem));
            }
            cli_print_json(out);
            out = NULL;
        } else if (rc == CU_OK && res.ok) {
            printf("ok: %llu entries and %llu signed checkpoints verified in %.2f s\n",
                   (unsigned long long)res.entries, (unsigned long long)res.checkpoints,
                   res.seconds);
        } else if (rc == CU_OK) {
            fprintf(stderr, "custodian: audit log check failed at index %llu: %s\n",
                    (unsigned long long)res.bad_index, res.problem);
        }
        if (rc == CU_OK && !res.ok)
            rc = CU_ERR_INTEGRITY, err = NULL;
        free(res.problem);
        if (rc == CU_ERR_INTEGRITY && err == NULL) {
            service_free(svc);
            return CLI_FAIL;
        }
    } else if (strcmp(sub, "checkpoint") == 0) {
        rc = service_audit_checkpoint(svc, &note, &err);
        if (rc == CU_OK)
            fputs(note, stdout);
        free(note);
    } else if (strcmp(sub, "key") == 0) {
        vkey = service_audit_vkey(svc);
        printf("%s\n", vkey);
        free(vkey);
    } else if (strcmp(sub, "proof") == 0) {
        if (have[O_INDEX - O_INDEX])
            rc =
                service_audit_inclusion(svc, v[O_INDEX - O_INDEX], v[O_SIZE - O_INDEX], &out, &err);
        else
            rc = service_audit_consistency(svc, v[O_FIRST - O_INDEX], v[O_SECOND - O_INDEX], &out,
                                           &err);
    } else if (strcmp(sub, "entries") == 0) {
        rc = service_audit_entries(svc, v[O_START - O_INDEX], v[O_END - O_INDEX], &out, &err);
    } else if (strcmp(sub, "export") == 0) {
        rc = service_audit_export(svc, print_line, NULL, &err);
    } else {
        rc = service_audit_show(svc, staff, customer, (size_t)limit, &out, &err);
    }
    service_free(svc);
    if (rc != CU_OK)
        return cli_fail_rc(rc, err);
    if (out != NULL)
        cli_print_json(out);
    return fflush(stdout) == 0 ? CLI_OK : cli_fail("cannot write to standard output");
}
