/* custodian erase --customer-id ID [--reason TEXT] */
#include "cli.h"

#include <string.h>

static const char usage[] =
    "usage: custodian erase --customer-id ID [--reason TEXT]\n\n"
    "Erases a customer by crypto-shredding: their data key, every sealed field and\n"
    "device, their blind-index entries (no look-up finds them any more) and the\n"
    "messages to them are deleted in one transaction; a tombstone (id and time) stays.\n"
    "The audit log keeps every entry about them under their keyed pseudonym and stays\n"
    "verifiable; the erase itself is recorded first, and nothing is erased if it cannot\n"
    "be.\n\n"
    "A copy of the store taken afterwards holds nothing of the customer. Backups taken\n"
    "before still hold their wrapped data key: they become unreadable once the key\n"
    "version it names is retired (custodian keys rotate, then keys retire VERSION) and\n"
    "older copies of the keys folder have expired; see docs/erasure.md.\n\n"
    "  --customer-id ID  the customer to erase\n"
    "  --reason TEXT     why (3 to 200 characters; kept in the audit log, so no personal\n"
    "                    data)\n";

int cmd_erase(struct cli *cli, int argc, char **argv)
{
    enum { OPT_ID = CLI_OPT__NEXT, OPT_REASON };
    static const struct option opts[] = {{"customer-id", required_argument, NULL, OPT_ID},
                                         {"reason", required_argument, NULL, OPT_REASON},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    const char *id = NULL, *reason = NULL;
    struct service_actor who;
    struct service *svc;
    json_t *out = NULL;
    char name[96], *err = NULL, n1[32];
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == OPT_ID)
            id = optarg;
        else if (opt == OPT_REASON)
            reason = optarg;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if (id == NULL)
        return cli_usage_error(cli, "which customer? (--customer-id ID)");
    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    service_operator(&who, name, sizeof(name));
    rc = service_erase(svc, &who, id, reason, &out, &err);
    service_free(svc);
    if (rc != CU_OK)
        return cli_fail_rc(rc, err);
    if (!json_is_true(json_object_get(out, "log_truncated")))
        fprintf(stderr, "custodian: warning: the store's write-ahead log was busy and still holds "
                        "the erased pages until its next checkpoint\n");
    if (cli->json) {
        cli_print_json(out);
        return CLI_OK;
    }
    printf(
        "erased customer %s (audit entry %lld): data key, fields %s, %s blind-index "
        "entries, %lld messages; %lld cases closed\n",
        json_string_value(json_object_get(out, "customer_id")),
        (long long)json_integer_value(json_object_get(json_object_get(out, "audit"), "leaf_index")),
        json_string_value(json_object_get(out, "fields"))
            ? json_string_value(json_object_get(out, "fields"))
            : "(none)",
        cli_thousands((uint64_t)json_integer_value(json_object_get(out, "blind_entries")), n1),
        (long long)json_integer_value(json_object_get(out, "messages")),
        (long long)json_integer_value(json_object_get(out, "cases_closed")));
    printf("backups of the store taken before now stay readable until key version %lld is "
           "retired (keys rotate, then keys retire %lld) and older copies of the keys folder "
           "have expired (docs/erasure.md)\n",
           (long long)json_integer_value(json_object_get(out, "kek_version")),
           (long long)json_integer_value(json_object_get(out, "kek_version")));
    json_decref(out);
    return CLI_OK;
}
