/* custodian outbox [--follow] */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"

static const char usage[] =
    "usage: custodian outbox [--follow] [--after ID]\n\n"
    "Shows the messages sent to customers (one-time codes, access notices): the built-in\n"
    "notifier delivers them here; with a webhook configured (config.json \"notifier\") this\n"
    "shows what was handed to it, and each message's delivery status.\n\n"
    "  --follow     keep printing new messages as they arrive, until interrupted\n"
    "  --after ID   only messages after message ID\n\n"
    "Messages hold phone numbers, e-mail addresses and codes, so every viewing is recorded\n"
    "in the audit log.\n";

#define FOLLOW_POLL_MS 500
#define PAGE           500

static void print_text(json_t *m)
{
    time_t t = (time_t)json_integer_value(json_object_get(m, "created_at"));
    char when[32];
    struct tm tm;
    const char *case_id = json_string_value(json_object_get(m, "case_id"));

    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("#%lld  %s  %-5s %s  [%s]  %s%s%s\n",
           (long long)json_integer_value(json_object_get(m, "id")), when,
           json_string_value(json_object_get(m, "channel")),
           json_string_value(json_object_get(m, "to")),
           json_string_value(json_object_get(m, "status")),
           json_string_value(json_object_get(m, "customer_id")), case_id ? "  case " : "",
           case_id ? case_id : "");
    printf("    %s\n", json_string_value(json_object_get(m, "body")));
}

/* Prints the messages after *after and moves *after past them. */
static int show(struct cli *cli, struct service *svc, int64_t *after, json_t *all)
{
    json_t *out = NULL, *list, *m;
    char *err = NULL;
    size_t i;
    int rc;

    do {
        rc = service_outbox_list(svc, *after, PAGE, &out, &err);
        if (rc != CU_OK)
            return cli_fail_rc(rc, err);
        list = json_object_get(out, "messages");
        json_array_foreach(list, i, m)
        {
            *after = (int64_t)json_integer_value(json_object_get(m, "id"));
            if (all != NULL)
                json_array_append(all, m);
            else
                print_text(m);
        }
        i = json_array_size(list);
        json_decref(out);
    } while (i == PAGE);
    (void)cli;
    fflush(stdout);
    return CLI_OK;
}

int cmd_outbox(struct cli *cli, int argc, char **argv)
{
    enum { O_FOLLOW = CLI_OPT__NEXT, O_AFTER };
    static const struct option opts[] = {{"follow", no_argument, NULL, O_FOLLOW},
                                         {"after", required_argument, NULL, O_AFTER},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    struct service *svc;
    uint64_t after_arg = 0;
    int64_t after;
    int opt, follow = 0, rc = CU_OK, ret;
    json_t *all = NULL;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == O_FOLLOW)
            follow = 1;
        else if (opt == O_AFTER && cli_parse_u64(optarg, &after_arg) != 0)
            return cli_usage_error(cli, "--after: not a message id: '%s'", optarg);
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if (follow && cli->json)
        return cli_usage_error(cli, "--follow prints text; it cannot be combined with --json");
    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    /* Recorded before anything is shown: the messages are personal data. */
    cli_audit_note(svc, AUDIT_EXPORT, &rc, follow ? "outbox view (follow)" : "outbox view");
    if (rc != CU_OK) {
        service_free(svc);
        return CLI_FAIL;
    }
    after = (int64_t)after_arg;
    if (cli->json)
        all = json_array();
    ret = show(cli, svc, &after, all);
    while (ret == CLI_OK && follow) {
        usleep(FOLLOW_POLL_MS * 1000);
        ret = show(cli, svc, &after, NULL);
    }
    if (all != NULL) {
        if (ret == CLI_OK)
            cli_print_json(json_pack("{s:O}", "messages", all));
        json_decref(all);
    }
    service_free(svc);
    return ret;
}
