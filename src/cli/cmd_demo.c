/* custodian demo: a demo vault with synthetic customers */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "synth/synth.h"

static const char usage[] =
    "usage: custodian demo [--data DIR] [--customers N] [--seed S]\n\n"
    "Makes a demo vault (unless DIR already holds one) with N synthetic customers\n"
    "(default 100,000) and prints example look-ups.\n";

/* Writes customers [0, n) of `seed` as CSV to `path`. */
static int write_demo_file(const char *path, uint64_t seed, uint64_t n)
{
    FILE *fp = fopen(path, "wb");
    int rc;

    if (fp == NULL)
        return -1;
    rc = cli_write_customers(fp, seed, 0, n, 0);
    return fclose(fp) == 0 ? rc : -1;
}

int cmd_demo(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"customers", required_argument, NULL, 'n'},
                                         {"seed", required_argument, NULL, 's'},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    struct service_import_opts io = {0};
    struct service_import_result res;
    struct cli_progress prog;
    struct service *svc = NULL;
    struct model_customer c;
    uint64_t n = 100000, seed = 20170601;
    char *err = NULL, *csv = NULL, *cfg, n1[32];
    int opt, rc = CU_OK;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == 'n' && (cli_parse_u64(optarg, &n) != 0 || n == 0 || n > 10000000))
            return cli_usage_error(cli, "--customers: a number from 1 to 10,000,000");
        if (opt == 's' && cli_parse_u64(optarg, &seed) != 0)
            return cli_usage_error(cli, "--seed: not a number: '%s'", optarg);
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);

    cfg = xasprintf("%s/config.json", cli->data_dir);
    if (access(cfg, F_OK) != 0) {
        printf("creating a demo vault in '%s' with %s synthetic customers\n", cli->data_dir,
               cli_thousands(n, n1));
        fflush(stdout);
        rc = service_init_data(cli->data_dir, NULL, &err);
        if (rc == CU_OK)
            rc = service_open(&svc, cli->data_dir, &err);
        if (rc == CU_OK) {
            csv = xasprintf("%s/demo-customers.csv", cli->data_dir);
            if (write_demo_file(csv, seed, n) != 0)
                rc = cu_errf(&err, CU_ERR_IO, "cannot write '%s'", csv);
        }
        if (rc == CU_OK) {
            io.path = csv;
            io.errors = stderr;
            io.max_errors_shown = 10;
            cli_progress_init(&prog, "customers");
            io.progress = cli_progress_cb;
            io.progress_ctx = &prog;
            rc = service_import(svc, &io, &res, &err);
            cli_progress_done(&prog);
            if (rc == CU_OK)
                printf("imported %s customers in %.1f s\n", cli_thousands(res.customers, n1),
                       res.seconds);
        }
        if (csv != NULL)
            unlink(csv); /* synthetic, but plaintext: do not leave it lying around */
        free(csv);
        service_free(svc);
    } else {
        printf("using the demo vault in '%s'\n", cli->data_dir);
    }
    free(cfg);
    if (rc != CU_OK)
        return cli_fail_rc(rc, err);

    /* Example look-ups on the first synthetic customer (demo data only). */
    model_customer_init(&c);
    synth_customer(seed, 0, &c);
    printf("\ntry (every look-up and reveal is recorded in the audit log):\n");
    if (c.ndevices > 0)
        printf("  custodian --data %s lookup --imei %s\n", cli->data_dir, c.devices[0].imei);
    if (c.nphones > 0)
        printf("  custodian --data %s lookup --phone %s\n", cli->data_dir, c.phones[0]);
    if (c.email != NULL)
        printf("  custodian --data %s lookup --email %s\n", cli->data_dir, c.email);
    printf("  custodian --data %s lookup --customer-id %s --json\n", cli->data_dir, c.customer_id);
    printf("  custodian --data %s lookup --customer-id %s --reveal name,phone --reason "
           "\"support call\"\n",
           cli->data_dir, c.customer_id);
    printf("  custodian --data %s audit show --customer-id %s\n", cli->data_dir, c.customer_id);
    printf("  custodian --data %s audit verify\n", cli->data_dir);
    printf("  custodian --data %s keys list\n", cli->data_dir);
    model_customer_release(&c);
    return CLI_OK;
}
