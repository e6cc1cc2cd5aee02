/* custodian serve [--listen ADDR:PORT] */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"
#include "notify/notify.h"
#include "store/store.h"

#define DELIVER_EVERY_MS  500
#define SERVE_STORE_CACHE (16LL << 20)
#define DELIVER_BATCH     100
#define EXPIRE_PER_PASS   (64 * SERVICE_OUTBOX_EXPIRE_CHUNK)

/* The courier, with its own store handle: every DELIVER_EVERY_MS it turns
 * pending access notices into outbox messages, with a webhook configured
 * delivers due messages to it, and deletes messages past their retention
 * (config "outbox_days"). */
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
        if (service_outbox_expire(d->svc, EXPIRE_PER_PASS, &sent, &err) != CU_OK) {
            cu_log("outbox: %s", err ? err : "cannot delete expired messages");
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
    /* Its work is redone when a crash undoes it: a notice whose claim is
     * undone is sent again (at least once), so its commits need not wait
     * for the disk. */
    if (rc == CU_OK)
        rc = store_commits_relaxed(d->svc->store, errmsg);
    if (rc != CU_OK) {
        service_free(d->svc);
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
    pthread_setname_np(d->thread, "cu-courier");
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
    "usage: custodian serve [--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE]\n"
    "                       [--insecure-http]\n\n"
    "Runs the HTTP API (../shared/API.md) on ADDR:PORT (default 127.0.0.1:8080) until\n"
    "SIGTERM or SIGINT; then stops taking connections, lets requests in flight finish and\n"
    "flushes the audit log.  /healthz and /metrics (Prometheus) are served too.  Every\n"
    "full reveal becomes an access notice to the customer in the outbox within a second\n"
    "(or a daily digest, as the customer chose).  With a webhook configured (config.json\n"
    "\"notifier\"), messages to customers are delivered to it from the outbox, with\n"
    "retries.  Sent messages are deleted after 30 days (config.json \"outbox_days\").\n\n"
    "  --tls-cert FILE  serve HTTPS with this PEM certificate (chain), with --tls-key\n"
    "  --tls-key FILE   its PEM private key; answers then carry Strict-Transport-Security\n"
    "  --insecure-http  allow plain HTTP on a non-loopback address (only behind a proxy\n"
    "                   that terminates TLS); without it such a --listen is refused\n";

/* Whether ADDR:PORT names a loopback address (127.0.0.0/8, ::1, localhost). */
static int loopback(const char *listen)
{
    const char *colon = strrchr(listen, ':');
    char host[64];
    unsigned char a[16];
    size_t n = colon != NULL ? (size_t)(colon - listen) : 0;

    if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']')
        listen++, n -= 2;
    if (n == 0 || n >= sizeof(host))
        return 0;
    memcpy(host, listen, n);
    host[n] = '\0';
    if (strcmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1)
        return IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a);
    return 0;
}

/* Reads a PEM file (at most 1 MiB) into a new string. */
static char *read_pem(const char *path, const char *what, char **errmsg)
{
    FILE *fp = fopen(path, "r");
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;

    if (fp == NULL) {
        cu_errf(errmsg, CU_ERR_IO, "%s '%s': %s", what, path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && b.len < (1u << 20))
        buf_add(&b, chunk, n);
    cu_wipe(chunk, sizeof(chunk));
    fclose(fp);
    buf_addch(&b, '\0');
    if (b.len < 2 || strstr((char *)b.data, "-----BEGIN ") == NULL) {
        buf_release_wipe(&b);
        cu_errf(errmsg, CU_ERR_INVALID, "%s '%s' is not PEM", what, path);
        return NULL;
    }
    return buf_detach(&b, NULL);
}

int cli_serve(struct service *svc, const char *listen, const struct cli_tls *tls,
              void (*ready)(void *ctx, const char *url), void *ctx)
{
    struct http_config cfg = {0};
    struct http_server *srv = NULL;
    struct deliverer *deliver = NULL;
    struct api *api = NULL;
    char *err = NULL, url[160];
    sigset_t sigs;
    int sig, rc;

    if (tls->cert == NULL && !tls->insecure && !loopback(listen))
        return cli_fail_rc(CU_ERR_INVALID,
                           xasprintf("refusing plain HTTP on '%s', which is not a loopback "
                                     "address: staff passwords and customer data would cross "
                                     "the network in clear; give --tls-cert and --tls-key (or "
                                     "--insecure-http behind a TLS-terminating proxy)",
                                     listen));
    /* A long-running process holding keys and decrypted records: no core
     * dump (it would write them to disk), and not ptrace-able or readable
     * through /proc by other processes of the same user. */
    {
        struct rlimit none = {0, 0};

        if (setrlimit(RLIMIT_CORE, &none) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
            cu_log("serve: cannot disable core dumps: %s", strerror(errno));
    }
    /* Signals are taken with sigwait below; every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    /* The store connections opened from here (the audit writer's, the
     * courier's, one per worker thread) keep page caches of at most
     * SERVE_STORE_CACHE each, whatever the store's size.  A reader gains
     * little from more: every other connection's commit empties it. */
    store_cache_limit(SERVE_STORE_CACHE);
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
        cfg.finish = api_finish;
        cfg.tls_cert = tls->cert;
        cfg.tls_key = tls->key;
        rc = http_server_start(&cfg, &srv, &err);
    }
    if (rc != CU_OK) {
        deliverer_stop(deliver);
        api_free(api);
        return cli_fail_rc(rc, err);
    }
    snprintf(url, sizeof(url), "%s://%.*s:%u", tls->cert != NULL ? "https" : "http",
             (int)(strrchr(listen, ':') - listen), listen, (unsigned)http_server_port(srv));
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
    enum { O_CERT = CLI_OPT__NEXT, O_KEY, O_INSECURE };
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"tls-cert", required_argument, NULL, O_CERT},
                                         {"tls-key", required_argument, NULL, O_KEY},
                                         {"insecure-http", no_argument, NULL, O_INSECURE},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    const char *listen = HTTP_DEFAULT_LISTEN, *cert = NULL, *key = NULL;
    struct cli_tls tls = {NULL, NULL, 0};
    struct service *svc;
    char *err = NULL;
    int opt, ret;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == 'l')
            listen = optarg;
        else if (opt == O_CERT)
            cert = optarg;
        else if (opt == O_KEY)
            key = optarg;
        else if (opt == O_INSECURE)
            tls.insecure = 1;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if (strrchr(listen, ':') == NULL)
        return cli_usage_error(cli, "--listen: ADDR:PORT, e.g. 127.0.0.1:8080");
    if ((cert == NULL) != (key == NULL))
        return cli_usage_error(cli, "--tls-cert and --tls-key go together");
    if (cert != NULL) {
        tls.cert = read_pem(cert, "--tls-cert", &err);
        if (tls.cert != NULL)
            tls.key = read_pem(key, "--tls-key", &err);
        if (tls.key == NULL) {
            free(tls.cert);
            return cli_fail_rc(CU_ERR_INVALID, err);
        }
    }
    svc = cli_open(cli);
    ret = svc != NULL ? cli_serve(svc, listen, &tls, NULL, NULL) : CLI_FAIL;
    service_free(svc); /* closes the audit writer: pending entries, final checkpoint */
    free(tls.cert);
    if (tls.key != NULL) {
        cu_wipe(tls.key, strlen(tls.key));
        free(tls.key);
    }
    return ret;
}
