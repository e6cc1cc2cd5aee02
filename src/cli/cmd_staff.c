/* custodian staff add USER --role ROLE --store STORE | list | suspend | resume | reset USER */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/totp.h"

static const char usage[] =
    "usage: custodian staff add USER --role ROLE --store STORE\n"
    "       custodian staff list | suspend USER | resume USER | reset USER\n\n"
    "  add     create a staff account; prints a one-time password (to be changed at the\n"
    "          first log-in) and a TOTP secret with its otpauth:// URI (and a QR code on a\n"
    "          terminal). Roles: clerk, agent, supervisor, security, admin.\n"
    "  list    the accounts, their role, store and status\n"
    "  suspend stop an account from logging in\n"
    "  resume  let a suspended account log in again\n"
    "  reset   new one-time password and TOTP secret (a lost phone, a forgotten password)\n\n"
    "The credentials are shown once: the store keeps only a password hash and the sealed\n"
    "TOTP secret. Every change is recorded in the audit log.\n";

/* Shows fresh credentials once, with a QR code when stdout is a terminal. */
static void print_credentials(json_t *cred, const char *what)
{
    const char *uri = json_string_value(json_object_get(cred, "otpauth_uri"));
    struct buf qr = BUF_INIT;

    printf("%s '%s'\n", what, json_string_value(json_object_get(cred, "username")));
    printf("  one-time password  %s   (must be changed at the first log-in)\n",
           json_string_value(json_object_get(cred, "password")));
    printf("  TOTP secret        %s\n", json_string_value(json_object_get(cred, "totp_secret")));
    printf("  otpauth URI        %s\n", uri);
    if (isatty(STDOUT_FILENO) && qr_terminal(uri, &qr) == CU_OK)
        printf("\nscan with an authenticator app:\n%s\n", qr.data);
    buf_release_wipe(&qr);
}

int cmd_staff(struct cli *cli, int argc, char **argv)
{
    enum { O_ROLE = CLI_OPT__NEXT, O_STORE };
    static const struct option opts[] = {{"role", required_argument, NULL, O_ROLE},
                                         {"store", required_argument, NULL, O_STORE},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    const char *role = NULL, *store = NULL, *sub, *user = NULL;
    struct service_actor who;
    struct service *svc;
    json_t *out = NULL, *s;
    char name[96], *err = NULL;
    int opt, rc;
    size_t i;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == O_ROLE)
            role = optarg;
        else if (opt == O_STORE)
            store = optarg;
    }
    if (optind >= argc)
        return cli_usage_error(cli, "expected add, list, suspend, resume or reset");
    sub = argv[optind];
    if (strcmp(sub, "list") == 0) {
        if (argc - optind != 1)
            return cli_usage_error(cli, "list takes no argument");
    } else if (strcmp(sub, "add") == 0 || strcmp(sub, "suspend") == 0 ||
               strcmp(sub, "resume") == 0 || strcmp(sub, "reset") == 0) {
        if (argc - optind != 2)
            return cli_usage_error(cli, "%s takes one USER", sub);
        user = argv[optind + 1];
    } else {
        return cli_usage_error(cli, "unknown staff command '%s'", sub);
    }
    if (strcmp(sub, "add") == 0 && (role == NULL || store == NULL))
        return cli_usage_error(cli, "add needs --role ROLE and --store STORE");
    if (strcmp(sub, "add") != 0 && (role != NULL || store != NULL))
        return cli_usage_error(cli, "--role and --store go with add");

    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    service_operator(&who, name, sizeof(name));
    if (strcmp(sub, "add") == 0)
        rc = service_staff_add(svc, &who, user, role, store, &out, &err);
    else if (strcmp(sub, "reset") == 0)
        rc = service_staff_reset(svc, &who, user, &out, &err);
    else if (strcmp(sub, "list") == 0)
        rc = service_staff_list(svc, &out, &err);
    else
        rc = service_staff_set_suspended(svc, &who, user, strcmp(sub, "suspend") == 0, &err);
    service_free(svc);
    if (rc != CU_OK)
        return cli_fail_rc(rc, err);
    if (cli->json && out != NULL) {
        cli_print_json(out);
        return CLI_OK;
    }
    if (strcmp(sub, "list") == 0) {
        printf("%-20s %-11s %-8s %s\n", "username", "role", "store", "status");
        json_array_foreach(json_object_get(out, "staff"), i, s)
        {
            printf("%-20s %-11s %-8s %s%s\n", json_string_value(json_object_get(s, "username")),
                   json_string_value(json_object_get(s, "role")),
                   json_string_value(json_object_get(s, "store")),
                   json_string_value(json_object_get(s, "status")),
                   json_is_true(json_object_get(s, "must_change_password"))
                       ? " (first log-in pending)"
                       : "");
        }
    } else if (out != NULL) {
        print_credentials(out, strcmp(sub, "add") == 0 ? "created staff account"
                                                       : "new credentials for");
    } else {
        printf("staff account '%s' %s\n", user,
               strcmp(sub, "suspend") == 0 ? "suspended" : "resumed");
    }
    json_decref(out);
    return CLI_OK;
}
