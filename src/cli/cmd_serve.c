/* custodian serve [--listen ADDR:PORT] */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"

static const char usage[] =
    "usage: custodian serve [--listen ADDR:PORT]\n\n"
    "Runs the HTTP API (../shared/API.md) on ADDR:PORT (default 127.0.0.1:8080) until\n"
    "SIGTERM or SIGINT; then stops taking connections, lets requests in flight finish and\n"
    "flushes the audit log.  /healthz and /metrics (Prometheus) are served too.\n";

int cmd_serve(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'}, CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    struct http_config cfg = {0};
    struct http_server *srv = NULL;
    struct service *svc;
    struct api *api;
    const char *listen = "127.0.0.1:8080";
    char *err = NULL;
    sigset_t sigs;
    int opt, sig, rc;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == 'l')
            listen = optarg;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    /* Signals are taken with sigwait below; every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    rc = service_audit_open(svc, &err);
    if (rc != CU_OK) {
        service_free(svc);
        return cli_fail_rc(rc, err);
    }
    api = api_new(svc);
    cfg.listen = listen;
    cfg.routes = api_routes(&cfg.n_routes);
    cfg.app = api;
    rc = http_server_start(&cfg, &srv, &err);
    if (rc != CU_OK) {
        api_free(api);
        service_free(svc);
        return cli_fail_rc(rc, err);
    }
    printf("custodian: serving on http://%s (port %u)\n", listen, (unsigned)http_server_port(srv));
    fflush(stdout);
    sigwait(&sigs, &sig);
    printf("custodian: %s: stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    http_server_stop(srv);
    api_free(api);
    service_free(svc); /* closes the audit writer: pending entries, final checkpoint */
    return CLI_OK;
}
