/* custodian init [--store URL] */
#include "cli.h"

#include <stdlib.h>

static const char usage[] =
    "usage: custodian init [--data DIR] [--store URL]\n\n"
    "Creates the data folder: a new master key (DIR/keys/master.key, mode 0600, or the\n"
    "existing key named by CUSTODIAN_MASTER_KEY_FILE), the store and the config.\n\n"
    "  --store URL  where customer data is kept: sqlite:FILE (default: DIR/custodian.db)\n"
    "               or postgres://USER@HOST:PORT/DB (docs/postgres.md; the password from\n"
    "               ~/.pgpass or PGPASSFILE, not the URL)\n\n"
    "Keep the master key out of backups of the data folder: without it nothing in the\n"
    "store can be read, with it everything can.\n";

int cmd_init(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, NULL, 's'}, CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    const char *store = NULL;
    char *err = NULL;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == 's')
            store = optarg;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    rc = service_init_data(cli->data_dir, store, &err);
    if (rc != CU_OK)
        return cli_fail_rc(rc, err);
    if (cli->json)
        cli_print_json(json_pack("{s:s}", "data", cli->data_dir));
    else
        printf("initialised '%s'\n", cli->data_dir);
    return CLI_OK;
}
