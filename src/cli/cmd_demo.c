/* custodian demo: a demo vault with synthetic customers */
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http.h"
#include "synth/synth.h"

static const char usage[] =
    "usage: custodian demo [--data DIR] [--customers N] [--seed S] [--listen ADDR:PORT]\n"
    "                      [--no-serve] [--tls]\n\n"
    "Makes a demo vault (unless DIR already holds one) with N synthetic customers\n"
    "(default 100,000) and a staff account for every role, then serves the HTTP API on\n"
    "ADDR:PORT (default 127.0.0.1:8080) until interrupted.  Each start gives the demo\n"
    "accounts fresh credentials and prints them, TOTP secrets included: demo only.\n\n"
    "  --no-serve   prepare the vault and the accounts, print them, and exit\n"
    "  --tls        serve HTTPS with a fresh self-signed certificate for localhost\n"
    "               (written to DIR/demo-tls.crt for curl --cacert or a browser)\n";

/*
 * The demo's stores are always open, so that the walk-through works at any
 * hour wherever it is tried (the default hours are 09:00-22:00 in
 * Shanghai, and a reveal outside them needs a supervisor's co-sign).
 */
static int demo_policy(const char *dir, char **errmsg)
{
    char *path = xasprintf("%s/policy.json", dir), *text = NULL, *at;
    FILE *fp = fopen(path, "r+");
    long len;
    int rc = CU_OK;

    if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 0) {
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot read '%s'", path);
        goto out;
    }
    text = xmalloc((size_t)len + 1);
    rewind(fp);
    if (fread(text, 1, (size_t)len, fp) != (size_t)len) {
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot read '%s'", path);
        goto out;
    }
    text[len] = '\0';
    at = strstr(text, "\"open\": \"09:00\",\n      \"close\": \"22:00\"");
    if (at != NULL) {
        /* same length: 09:00 -> 00:00, 22:00 -> 24:00 */
        memcpy(at + strlen("\"open\": \""), "00:00", 5);
        memcpy(strstr(at, "\"close\": \"") + strlen("\"close\": \""), "24:00", 5);
        rewind(fp);
        if (fwrite(text, 1, (size_t)len, fp) != (size_t)len)
            rc = cu_errf(errmsg, CU_ERR_IO, "cannot write '%s'", path);
    }
out:
    if (fp != NULL && fclose(fp) != 0 && rc == CU_OK)
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot write '%s'", path);
    free(text);
    free(path);
    return rc;
}

/* The demo's staff: one account per role. */
static const struct {
    const char *username, *role, *store;
} demo_staff[] = {
    {"demo-clerk", "clerk", "SZ-014"},
    {"demo-agent", "agent", "CC-01"},
    {"demo-supervisor", "supervisor", "SZ-014"},
    {"demo-security", "security", "HQ"},
    {"demo-admin", "admin", "HQ"},
};

/* Adds the demo accounts, or gives existing ones fresh credentials, and
 * returns them as a JSON array (the only time the passwords are seen). */
static int demo_accounts(struct service *svc, json_t **out, char **errmsg)
{
    struct service_actor who;
    char name[96];
    json_t *cred;
    size_t i;
    int rc = CU_OK;

    service_operator(&who, name, sizeof(name));
    *out = json_array();
    for (i = 0; rc == CU_OK && i < CU_ARRAY_LEN(demo_staff); i++) {
        free(*errmsg);
        *errmsg = NULL;
        cred = NULL;
        rc = service_staff_add(svc, &who, demo_staff[i].username, demo_staff[i].role,
                               demo_staff[i].store, &cred, errmsg);
        if (rc == CU_ERR_CONFLICT) {
            free(*errmsg);
            *errmsg = NULL;
            rc = service_staff_reset(svc, &who, demo_staff[i].username, &cred, errmsg);
        }
        if (rc == CU_OK) {
            json_object_set_new(cred, "role", json_string(demo_staff[i].role));
            json_array_append_new(*out, cred);
        }
    }
    return rc;
}

struct demo_ctx {
    const char *exe; /* this program, as the printed commands run it */
    const char *data_dir;
    json_t *accounts;
    struct model_customer *c;
};

/* Prints how to use the served demo, once the server listens. */
static void demo_ready(void *arg, const char *url)
{
    struct demo_ctx *d = arg;
    json_t *a, *clerk = json_array_get(d->accounts, 0);
    size_t i;

    printf("\ndemo log-ins (demo only: each start makes new ones; the password must be changed "
           "at the first log-in):\n");
    printf("  %-11s %-16s %-26s %s\n", "role", "username", "one-time password", "TOTP secret");
    json_array_foreach(d->accounts, i, a)
        printf("  %-11s %-16s %-26s %s\n", json_string_value(json_object_get(a, "role")),
               json_string_value(json_object_get(a, "username")),
               json_string_value(json_object_get(a, "password")),
               json_string_value(json_object_get(a, "totp_secret")));
    printf("\nTOTP codes: add the secret to an authenticator app, or run oathtool --totp -b "
           "SECRET\n");
    printf("\na clerk's walk-through (every step is recorded in the audit log):\n");
    printf("  T=$(curl -s %s/v1/login -d '{\"username\":\"demo-clerk\",\"password\":\"%s\","
           "\"totp\":\"'$(oathtool --totp -b %s)'\"}' | sed "
           "'s/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\n",
           url, json_string_value(json_object_get(clerk, "password")),
           json_string_value(json_object_get(clerk, "totp_secret")));
    printf("  curl -s %s/v1/password -H \"Authorization: Bearer $T\" -d '{\"old\":\"%s\","
           "\"new\":\"my-own-long-password\"}'\n",
           url, json_string_value(json_object_get(clerk, "password")));
    if (d->c->ndevices > 0)
        printf("  curl -s %s/v1/devices/%s -H \"Authorization: Bearer $T\"\n", url,
               d->c->devices[0].imei);
    printf("  curl -s %s/v1/cases -H \"Authorization: Bearer $T\" -d "
           "'{\"purpose\":\"customer_support\",\"customer_id\":\"%s\"}'\n",
           url, d->c->customer_id);
    printf("  %s --data %s outbox   # the code the customer received\n", d->exe, d->data_dir);
    printf("  curl -s %s/v1/cases/CASE/verify -H \"Authorization: Bearer $T\" -d "
           "'{\"code\":\"CODE\"}'\n",
           url);
    printf("  curl -s %s/v1/cases/CASE/reveal -H \"Authorization: Bearer $T\" -d "
           "'{\"fields\":[\"name\",\"phone\"]}'\n",
           url);
    printf("\nstop with Ctrl-C\n");
}

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

/* A self-signed certificate for the demo, written to DIR/demo-tls.crt (the
 * key stays in memory only), so that a browser or curl --cacert can trust
 * it. */
static int demo_tls(const char *dir, struct cli_tls *tls, char **errmsg)
{
    char *path;
    FILE *fp;
    int rc = http_tls_self_signed("localhost", &tls->cert, &tls->key, errmsg);

    if (rc != CU_OK)
        return rc;
    path = xasprintf("%s/demo-tls.crt", dir);
    fp = fopen(path, "w");
    if (fp == NULL || fputs(tls->cert, fp) < 0 || fclose(fp) != 0)
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot write '%s'", path);
    else
        printf("\nTLS: a self-signed certificate for localhost, valid 30 days: %s\n"
               "  (curl --cacert %s https://localhost:PORT/healthz)\n",
               path, path);
    free(path);
    return rc;
}

int cmd_demo(struct cli *cli, int argc, char **argv)
{
    enum { O_LISTEN = CLI_OPT__NEXT, O_NO_SERVE, O_TLS };
    static const struct option opts[] = {{"customers", required_argument, NULL, 'n'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"listen", required_argument, NULL, O_LISTEN},
                                         {"no-serve", no_argument, NULL, O_NO_SERVE},
                                         {"tls", no_argument, NULL, O_TLS},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    struct service_import_opts io = {0};
    struct service_import_result res;
    struct cli_progress prog;
    struct service *svc = NULL;
    struct model_customer c;
    uint64_t n = 100000, seed = 20170601;
    const char *listen = HTTP_DEFAULT_LISTEN;
    char exe[PATH_MAX];
    struct demo_ctx ctx = {exe, cli->data_dir, NULL, &c};
    char *err = NULL, *csv = NULL, *cfg, n1[32];
    struct cli_tls tls = {NULL, NULL, 0};
    int opt, rc = CU_OK, serve = 1, ret = CLI_OK, want_tls = 0;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == 'n' && (cli_parse_u64(optarg, &n) != 0 || n == 0 || n > 10000000))
            return cli_usage_error(cli, "--customers: a number from 1 to 10,000,000");
        if (opt == 's' && cli_parse_u64(optarg, &seed) != 0)
            return cli_usage_error(cli, "--seed: not a number: '%s'", optarg);
        if (opt == O_LISTEN)
            listen = optarg;
        if (opt == O_NO_SERVE)
            serve = 0;
        if (opt == O_TLS)
            want_tls = 1;
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
            rc = demo_policy(cli->data_dir, &err);
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
    } else {
        printf("using the demo vault in '%s'\n", cli->data_dir);
        rc = service_open(&svc, cli->data_dir, &err);
    }
    free(cfg);
    if (rc == CU_OK)
        rc = demo_accounts(svc, &ctx.accounts, &err);
    if (rc != CU_OK) {
        json_decref(ctx.accounts);
        service_free(svc);
        return cli_fail_rc(rc, err);
    }

    /* The printed commands name this very program, so they work as pasted. */
    if (realpath("/proc/self/exe", exe) == NULL)
        snprintf(exe, sizeof(exe), "custodian");
    /* Example look-ups on the first synthetic customer (demo data only). */
    model_customer_init(&c);
    synth_customer(seed, 0, &c);
    printf("\ntry (every look-up and reveal is recorded in the audit log):\n");
    if (c.ndevices > 0)
        printf("  %s --data %s lookup --imei %s\n", exe, cli->data_dir, c.devices[0].imei);
    if (c.nphones > 0)
        printf("  %s --data %s lookup --phone %s\n", exe, cli->data_dir, c.phones[0]);
    if (c.email != NULL)
        printf("  %s --data %s lookup --email %s\n", exe, cli->data_dir, c.email);
    printf("  %s --data %s lookup --customer-id %s --json\n", exe, cli->data_dir, c.customer_id);
    printf("  %s --data %s lookup --customer-id %s --reveal name,phone --reason "
           "\"support call\"\n",
           exe, cli->data_dir, c.customer_id);
    printf("  %s --data %s audit show --customer-id %s\n", exe, cli->data_dir, c.customer_id);
    printf("  %s --data %s audit verify\n", exe, cli->data_dir);
    printf("  %s --data %s keys list\n", exe, cli->data_dir);
    if (rc == CU_OK && want_tls)
        rc = demo_tls(cli->data_dir, &tls, &err);
    if (rc != CU_OK) {
        ret = cli_fail_rc(rc, err);
    } else if (serve) {
        ret = cli_serve(svc, listen, &tls, demo_ready, &ctx);
    } else {
        char *url = xasprintf("%s://%s", want_tls ? "https" : "http", listen);

        demo_ready(&ctx, url);
        free(url);
    }
    json_decref(ctx.accounts);
    service_free(svc);
    model_customer_release(&c);
    free(tls.cert);
    if (tls.key != NULL) {
        cu_wipe(tls.key, strlen(tls.key));
        free(tls.key);
    }
    return ret;
}
