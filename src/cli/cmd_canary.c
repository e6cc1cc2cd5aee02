/* custodian canary add N */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: custodian canary add N\n\n"
    "Plants N canary customers: synthetic customers that look like real ones (realistic\n"
    "names, mobile numbers, e-mails and devices across the usual TACs). Nobody serving a\n"
    "real customer has a reason to look one up: a look-up or reveal of a canary raises a\n"
    "critical alert and suspends the staff account at once.\n\n"
    "Prints the planted identifiers (with --json for scripts) so that they can be watched\n"
    "outside too: a call or e-mail to one of them means a list has leaked. Which customers\n"
    "are canaries is kept only as keyed tags; keep this output as safe as the master key.\n";

int cmd_canary(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    struct service_actor who;
    struct service *svc;
    json_t *out = NULL, *c, *v;
    char name[96], *err = NULL;
    uint64_t n = 0;
    size_t i, j;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        cli_common_option(cli, opt, usage);
    if (optind >= argc || strcmp(argv[optind], "add") != 0)
        return cli_usage_error(cli, "canary: the command is 'canary add N'");
    if (optind + 2 != argc || cli_parse_u64(argv[optind + 1], &n) != 0 || n < 1 || n > 10000)
        return cli_usage_error(cli, "canary add: N is a number from 1 to 10,000");
    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    service_operator(&who, name, sizeof(name));
    rc = service_canary_add(svc, &who, (unsigned)n, &out, &err);
    if (rc == CU_OK && cli->json) {
        cli_print_json(out);
        out = NULL;
    } else if (rc == CU_OK) {
        printf("planted %llu canary customers; watch these identifiers:\n", (unsigned long long)n);
        json_array_foreach(json_object_get(out, "canaries"), i, c)
        {
            printf("  %s  %s  %s", json_string_value(json_object_get(c, "customer_id")),
                   json_string_value(json_object_get(c, "name")),
                   json_string_value(json_object_get(c, "email")));
            json_array_foreach(json_object_get(c, "phones"), j, v)
                printf("  %s", json_string_value(v));
            json_array_foreach(json_object_get(c, "imeis"), j, v)
                printf("  IMEI %s", json_string_value(v));
            printf("\n");
        }
    }
    json_decref(out);
    service_free(svc);
    return rc == CU_OK ? CLI_OK : cli_fail_rc(rc, err);
}
