/* custodian keys rotate | list | retire VERSION */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"

static const char usage[] =
    "usage: custodian keys rotate | list | retire VERSION\n\n"
    "  rotate          make a new key-encryption key version and re-wrap every customer's\n"
    "                  data key with it (fields are not re-encrypted); if killed, run it\n"
    "                  again to resume\n"
    "  list            key versions, their state and how many customer keys each wraps\n"
    "  retire VERSION  delete an old version once no customer key uses it\n";

int cmd_keys(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    struct service *svc;
    struct cli_progress prog;
    json_t *doc = NULL, *k;
    uint64_t version = 0, rewrapped = 0;
    uint32_t newv = 0;
    const char *sub;
    char *err = NULL, n1[32];
    int opt, rc;
    size_t i;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        cli_common_option(cli, opt, usage);
    if (optind >= argc)
        return cli_usage_error(cli, "expected rotate, list or retire");
    sub = argv[optind];
    if (strcmp(sub, "retire") == 0) {
        if (argc - optind != 2 || cli_parse_u64(argv[optind + 1], &version) != 0 || version == 0 ||
            version > UINT32_MAX)
            return cli_usage_error(cli, "retire takes a key version number");
    } else if ((strcmp(sub, "rotate") != 0 && strcmp(sub, "list") != 0) || argc - optind != 1) {
        return cli_usage_error(cli, "expected rotate, list or retire VERSION");
    }
    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    if (strcmp(sub, "rotate") == 0) {
        cli_progress_init(&prog, "keys");
        rc = service_keys_rotate(svc, cli_progress_cb, &prog, &newv, &rewrapped, &err);
        cli_progress_done(&prog);
        if (rc == CU_OK) {
            if (cli->json)
                cli_print_json(json_pack("{s:i, s:I}", "version", (int)newv, "rewrapped",
                                         (json_int_t)rewrapped));
            else
                printf("key version %u is active; re-wrapped %s customer keys\n", (unsigned)newv,
                       cli_thousands(rewrapped, n1));
        }
    } else if (strcmp(sub, "retire") == 0) {
        rc = service_keys_retire(svc, (uint32_t)version, &err);
        if (rc == CU_OK)
            printf("key version %llu retired\n", (unsigned long long)version);
    } else {
        rc = service_keys_list(svc, &doc, &err);
        if (rc == CU_OK && cli->json) {
            cli_print_json(doc);
        } else if (rc == CU_OK) {
            printf("%-8s %-9s %s\n", "version", "state", "customer keys");
            json_array_foreach(json_object_get(doc, "keys"), i, k)
            {
                printf("%-8lld %-9s %s\n",
                       (long long)json_integer_value(json_object_get(k, "version")),
                       json_string_value(json_object_get(k, "state")),
                       cli_thousands((uint64_t)json_integer_value(json_object_get(k, "customers")),
                                     n1));
            }
            json_decref(doc);
        }
    }
    if (strcmp(sub, "list") != 0) {
        char detail[120];

        if (strcmp(sub, "rotate") == 0)
            snprintf(detail, sizeof(detail), "rotate: version %u active, %llu keys re-wrapped%s",
                     (unsigned)newv, (unsigned long long)rewrapped, rc == CU_OK ? "" : ", failed");
        else
            snprintf(detail, sizeof(detail), "retire: version %llu%s", (unsigned long long)version,
                     rc == CU_OK ? "" : ", refused");
        cli_audit_note(svc, AUDIT_KEY_ROTATE, &rc, detail);
    }
    service_free(svc);
    if (rc != CU_OK)
        return cli_fail_rc(rc, err);
    return CLI_OK;
}
