/* custodian lookup --imei|--serial|--phone|--email|--account|--customer-id VALUE */
#include "cli.h"

#include <string.h>

static const char usage[] =
    "usage: custodian lookup (--imei|--serial|--phone|--email|--account|--customer-id) VALUE\n"
    "                        [--reveal F1,F2 --reason TEXT]\n\n"
    "Finds customers by an identifier and prints the masked view: customer_id in clear,\n"
    "personal fields masked, devices (the matching one marked with '*').\n"
    "Phones without '+' are read in the configured default country (+86 unless set).\n"
    "Every look-up is recorded in the audit log as operator:<your user name>.\n\n"
    "  --reveal FIELDS  show these fields in full (account, name, phone, email, address,\n"
    "                   birth_date, devices) of the one customer found; the audit entry is\n"
    "                   written first and nothing is shown if it cannot be\n"
    "  --reason TEXT    why (required with --reveal; kept in the audit log, so it must not\n"
    "                   contain personal data)\n";

static const char *str(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s ? s : "-";
}

static void print_view(json_t *view)
{
    json_t *phones = json_object_get(view, "phones"), *devices = json_object_get(view, "devices");
    json_t *matched = json_object_get(view, "matched_device"), *v;
    size_t i;

    printf("customer %s\n", str(view, "customer_id"));
    printf("  name        %s\n", str(view, "name"));
    printf("  account     %s\n", str(view, "account"));
    printf("  phone       ");
    json_array_foreach(phones, i, v) printf("%s%s", i ? ", " : "", json_string_value(v));
    printf("%s\n", json_array_size(phones) ? "" : "-");
    printf("  email       %s\n", str(view, "email"));
    printf("  address     %s\n", str(view, "address"));
    printf("  birth date  %s\n", str(view, "birth_date"));
    printf("  devices     %zu\n", json_array_size(devices));
    json_array_foreach(devices, i, v)
    {
        int mark = matched && (size_t)json_integer_value(matched) == i;

        printf("   %c %-22s IMEI %s  serial %s  bought %s at %s\n", mark ? '*' : '-',
               str(v, "model"), str(v, "imei"), str(v, "serial"), str(v, "purchase_date"),
               str(v, "store"));
    }
}

static void print_revealed(json_t *out)
{
    json_t *fields = json_object_get(out, "fields"), *v, *e;
    const char *key;
    size_t i;

    printf("customer %s (audit entry %lld)\n", str(out, "customer_id"),
           (long long)json_integer_value(
               json_object_get(json_object_get(out, "audit"), "leaf_index")));
    json_object_foreach(fields, key, v)
    {
        if (json_is_string(v)) {
            printf("  %-11s %s\n", key, json_string_value(v));
        } else if (json_is_array(v) && strcmp(key, "devices") != 0) {
            printf("  %-11s ", key);
            json_array_foreach(v, i, e) printf("%s%s", i ? ", " : "", json_string_value(e));
            printf("\n");
        } else if (json_is_array(v)) {
            json_array_foreach(v, i, e)
            {
                printf("  %-11s %s IMEI %s serial %s\n", i ? "" : key, str(e, "model"),
                       str(e, "imei"), str(e, "serial"));
            }
        } else {
            printf("  %-11s -\n", key);
        }
    }
}

int cmd_lookup(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"imei", required_argument, NULL, MODEL_ID_IMEI},
                                         {"serial", required_argument, NULL, MODEL_ID_SERIAL},
                                         {"phone", required_argument, NULL, MODEL_ID_PHONE},
                                         {"email", required_argument, NULL, MODEL_ID_EMAIL},
                                         {"account", required_argument, NULL, MODEL_ID_ACCOUNT},
                                         {"customer-id", required_argument, NULL, 'c'},
                                         {"reveal", required_argument, NULL, 'r'},
                                         {"reason", required_argument, NULL, 'y'},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    const char *value = NULL, *reveal = NULL, *reason = NULL;
    struct service_actor who;
    char name[96];
    struct service *svc;
    json_t *out = NULL, *list, *view;
    char *err = NULL;
    int opt, kind = -1, rc;
    size_t i;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == 'r') {
            reveal = optarg;
            continue;
        }
        if (opt == 'y') {
            reason = optarg;
            continue;
        }
        if (kind != -1)
            return cli_usage_error(cli, "give one identifier only");
        kind = opt == 'c' ? 0 : opt;
        value = optarg;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if (kind == -1)
        return cli_usage_error(cli, "which identifier? (--imei, --phone, ...)");
    if (reason != NULL && reveal == NULL)
        return cli_usage_error(cli, "--reason goes with --reveal");
    if (reveal != NULL && reason == NULL)
        return cli_usage_error(cli, "--reveal needs --reason TEXT");
    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    service_operator(&who, name, sizeof(name));
    if (reveal != NULL)
        rc = service_reveal(svc, &who, kind, value, reveal, reason, &out, &err);
    else
        rc = service_lookup(svc, &who, kind, value, &out, &err);
    service_free(svc);
    if (rc != CU_OK)
        return cli_fail_rc(rc, err);
    if (reveal != NULL) {
        if (cli->json) {
            cli_print_json(out);
            return CLI_OK;
        }
        print_revealed(out);
        json_decref(out);
        return CLI_OK;
    }
    list = json_object_get(out, "customers");
    if (cli->json) {
        cli_print_json(out);
        return CLI_OK;
    }
    if (json_array_size(list) == 0)
        printf("no customer found\n");
    json_array_foreach(list, i, view)
    {
        if (i > 0)
            printf("\n");
        print_view(view);
    }
    json_decref(out);
    return CLI_OK;
}
