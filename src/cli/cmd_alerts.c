/* custodian alerts [list [--all]] | ack ID */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
    "usage: custodian alerts [list [--all]]\n"
    "       custodian alerts ack ID\n\n"
    "Insider-risk alerts raised by the detector (quotas, the statutory meter, canaries ...):\n"
    "  list   the open alerts, newest first (--all: acknowledged ones too)\n"
    "  ack    acknowledge an alert (recorded in the audit log)\n";

int cmd_alerts(struct cli *cli, int argc, char **argv)
{
    enum { O_ALL = CLI_OPT__NEXT };
    static const struct option opts[] = {
        {"all", no_argument, NULL, O_ALL}, CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    const char *sub = "list";
    struct service_actor who;
    struct service *svc;
    json_t *out = NULL, *a;
    char name[96], when[32], *err = NULL;
    uint64_t id = 0;
    int opt, all = 0, rc;
    size_t i;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == O_ALL)
            all = 1;
    }
    if (optind < argc)
        sub = argv[optind++];
    if (strcmp(sub, "ack") == 0) {
        if (optind >= argc || cli_parse_u64(argv[optind], &id) != 0 || id == 0)
            return cli_usage_error(cli, "alerts ack: name the alert's id");
        optind++;
    } else if (strcmp(sub, "list") != 0) {
        return cli_usage_error(cli, "unknown alerts command '%s'", sub);
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    if (strcmp(sub, "ack") == 0) {
        service_operator(&who, name, sizeof(name));
        rc = service_alert_ack(svc, &who, (int64_t)id, &err);
        if (rc == CU_OK && !cli->json)
            printf("alert %llu acknowledged\n", (unsigned long long)id);
        else if (rc == CU_OK)
            cli_print_json(json_pack("{s:I, s:s}", "id", (json_int_t)id, "status", "acked"));
    } else {
        rc = service_alerts(svc, all ? NULL : "open", 1000, &out, &err);
        if (rc == CU_OK && cli->json) {
            cli_print_json(out);
            out = NULL;
        } else if (rc == CU_OK) {
            json_array_foreach(json_object_get(out, "alerts"), i, a)
            {
                time_t t = (time_t)json_integer_value(json_object_get(a, "created_at"));
                struct tm tm;

                gmtime_r(&t, &tm);
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
                printf("#%lld  %s  %-8s %-18s %-12s %s%s\n",
                       (long long)json_integer_value(json_object_get(a, "id")), when,
                       json_string_value(json_object_get(a, "severity")),
                       json_string_value(json_object_get(a, "rule")),
                       json_string_value(json_object_get(a, "staff")),
                       json_string_value(json_object_get(a, "detail")),
                       strcmp(json_string_value(json_object_get(a, "status")), "open") == 0
                           ? ""
                           : "  [acked]");
            }
            if (json_array_size(json_object_get(out, "alerts")) == 0)
                printf("no %salerts\n", all ? "" : "open ");
        }
        json_decref(out);
    }
    service_free(svc);
    return rc == CU_OK ? CLI_OK : cli_fail_rc(rc, err);
}
