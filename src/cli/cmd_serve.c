/* custodian serve [--listen ADDR:PORT] */
#include "cli.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"
#include "notify/notify.h"

#define DELIVER_EVERY_MS 500
#define DELIVER_BATCH    100

/* The courier, with its own store handle: every DELIVER_EVERY_MS it turns
 * pending access notices into outbox messages and, with a webhook
 * configured, delivers due messages to it. */
struct deliverer {
    struct service *svc;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
};

static void *deliver_main(void *arg)
{
    struct deliverer *d = arg;
    struct timespec until;
    size_t sent;
    char *err = NULL;

    pthread_mutex_lock(&d->lock);
    while (!d->stop) {
        pthread_mutex_unlock(&d->lock);
        if (service_notices_run(d->svc, &sent, &err) != CU_OK) {
            cu_log("notices: %s", err ? err : "cannot queue access notices");
            free(err);
            err = NULL;
        }
        if (d->svc->webhook_url != NULL &&
            service_outbox_deliver(d->svc, DELIVER_BATCH, &sent, &err) != CU_OK) {
            cu_log("outbox: %s", err ? err : "delivery failed");
            free(err);
            err = NULL;
        }
        pthread_mutex_lock(&d->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += DELIVER_EVERY_MS * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        if (!d->stop)
            pthread_cond_timedwait(&d->wake, &d->lock, &until);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static int deliverer_start(struct service *svc, struct deliverer **out, char **errmsg)
{
    struct deliverer *d;
    int rc;

    *out = NULL;
    d = xcalloc(1, sizeof(*d));
    rc = service_worker_new(svc, &d->svc, errmsg);
    if (rc != CU_OK) {
        free(d);
        return rc;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    if (pthread_create(&d->thread, NULL, deliver_main, d) != 0) {
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->wake);
        service_free(d->svc);
        free(d);
        return cu_errf(errmsg, CU_ERR_INTERNAL, "cannot start the outbox courier");
    }
    *out = d;
    return CU_OK;
}

static void deliverer_stop(struct deliverer *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    d->stop = 1;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->wake);
    service_free(d->svc);
    free(d);
}

static const char usage[] =
    "usage: custodian serve [--listen ADDR:PORT]\n\n"
    "Runs the HTTP API (../shared/API.md) on ADDR:PORT (default 127.0.0.1:8080) until\n"
    "SIGTERM or SIGINT; then stops taking connections, lets requests in flight finish and\n"
    "flushes the audit log.  /healthz and /metrics (Prometheus) are served too.  Every\n"
    "full reveal becomes an access notice to the customer in the outbox within a second\n"
    "(or a daily digest, as the customer chose).  With a webhook configured (config.json\n"
    "\"notifier\"), messages to customers are delivered to it from the outbox, with\n"
    "retries.\n";

int cli_serve(struct service *svc, const char *listen, void (*ready)(void *ctx, const char *url),
              void *ctx)
{
    struct http_config cfg = {0};
    struct http_server *srv = NULL;
    struct deliverer *deliver = NULL;
    struct api *api = NULL;
    char *err = NULL, url[160];
    sigset_t sigs;
    int sig, rc;

    /* Signals are taken with sigwait below; every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    rc = notify_global_init();
    if (rc == CU_OK)
        rc = service_audit_open(svc, &err);
    if (rc == CU_OK)
        rc = deliverer_start(svc, &deliver, &err);
    if (rc == CU_OK) {
        api = api_new(svc);
        cfg.listen = listen;
        cfg.routes = api_routes(&cfg.n_routes);
        cfg.app = api;
        cfg.collect = api_collect;
        rc = http_server_start(&cfg, &srv, &err);
    }
    if (rc != CU_OK) {
        deliverer_stop(deliver);
        api_free(api);
        return cli_fail_rc(rc, err);
    }
    snprintf(url, sizeof(url), "http://%.*s:%u", (int)(strrchr(listen, ':') - listen), listen,
             (unsigned)http_server_port(srv));
    printf("custodian: serving on %s\n", url);
    if (ready != NULL)
        ready(ctx, url);
    fflush(stdout);
    sigwait(&sigs, &sig);
    printf("custodian: %s: stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    http_server_stop(srv);
    deliverer_stop(deliver);
    api_free(api);
    return CLI_OK;
}

int cmd_serve(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'}, CLI_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    const char *listen = HTTP_DEFAULT_LISTEN;
    struct service *svc;
    int opt, ret;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == 'l')
            listen = optarg;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if (strrchr(listen, ':') == NULL)
        return cli_usage_error(cli, "--listen: ADDR:PORT, e.g. 127.0.0.1:8080");
    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    ret = cli_serve(svc, listen, NULL, NULL);
    service_free(svc); /* closes the audit writer: pending entries, final checkpoint */
    return ret;
}
