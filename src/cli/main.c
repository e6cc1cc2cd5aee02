/*
 * custodian: entry point and subcommand dispatch.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vault/vault.h"

static const struct command {
    const char *name;
    int (*fn)(struct cli *, int, char **);
    const char *summary;
} commands[] = {
    {"init", cmd_init, "create a data folder: keys, store, config"},
    {"gen", cmd_gen, "print synthetic customers (CSV or JSON Lines)"},
    {"import", cmd_import, "import customers from CSV or JSON Lines"},
    {"lookup", cmd_lookup, "look a customer up by an identifier (masked view)"},
    {"keys", cmd_keys, "rotate, list and retire key-encryption keys"},
    {"serve", cmd_serve, "run the HTTP API"},
    {"staff", cmd_staff, "add, list, suspend, resume and reset staff accounts"},
    {"audit", cmd_audit, "verify the audit log, checkpoints, proofs, entries, export"},
    {"outbox", cmd_outbox, "show the messages sent to customers (codes, notices)"},
    {"alerts", cmd_alerts, "list and acknowledge insider-risk alerts"},
    {"canary", cmd_canary, "plant canary customers that raise an alert when touched"},
    {"trace", cmd_trace, "rank the staff whose reveals could have produced a leaked data set"},
    {"erase", cmd_erase, "crypto-shred a customer: their values become unreadable everywhere"},
    {"export", cmd_export, "a customer's data and access log as JSON"},
    {"demo", cmd_demo, "serve a demo vault: synthetic customers, an account per role"},
};

static void usage(FILE *out)
{
    size_t i;

    fprintf(out, "usage: custodian [--data DIR] [--json] COMMAND [ARGS]\n\n"
                 "Custodian keeps customer registration data encrypted and lets staff look it\n"
                 "up under audit.\n\ncommands:\n");
    for (i = 0; i < CU_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\noptions (also accepted after the command):\n"
                 "  --data DIR  data folder (default $CUSTODIAN_DATA or ./custodian-data)\n"
                 "  --json      print one JSON document on stdout\n"
                 "  --help      this text; 'custodian COMMAND --help' for a command\n");
}

int cli_common_option(struct cli *cli, int opt, const char *usage_text)
{
    switch (opt) {
    case CLI_OPT_DATA:
        cli->data_dir = optarg;
        return 1;
    case CLI_OPT_JSON:
        cli->json = 1;
        return 1;
    case 'h':
        fputs(usage_text, stdout);
        exit(CLI_OK);
    case '?':
    case ':':
        fprintf(stderr, "try '%s --help'\n", cli->prog);
        exit(CLI_USAGE);
    }
    return 0;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("custodian: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAIL;
}

int cli_usage_error(const struct cli *cli, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fprintf(stderr, "%s: ", cli->prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\ntry '%s --help'\n", cli->prog);
    va_end(ap);
    return CLI_USAGE;
}

int cli_fail_rc(int rc, char *errmsg)
{
    cli_fail("%s", errmsg ? errmsg : cu_err_name(rc));
    free(errmsg);
    return CLI_FAIL;
}

void cli_audit_note(struct service *svc, int action, int *rc, const char *detail)
{
    struct service_actor who;
    char name[96], *err = NULL;

    service_operator(&who, name, sizeof(name));
    if (service_audit_note(svc, &who, action, *rc == CU_OK, detail, &err) != CU_OK) {
        cli_fail("cannot record this in the audit log: %s", err ? err : "unknown error");
        if (*rc == CU_OK)
            *rc = CU_ERR_STORE;
    }
    free(err);
}

struct service *cli_open(const struct cli *cli)
{
    struct service *svc = NULL;
    char *err = NULL;
    int rc;

    rc = service_open(&svc, cli->data_dir, &err);
    if (rc != CU_OK) {
        cli_fail_rc(rc, err);
        return NULL;
    }
    return svc;
}

void cli_print_json(json_t *doc)
{
    json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(doc);
}

void cli_progress_init(struct cli_progress *p, const char *unit)
{
    p->enabled = isatty(STDERR_FILENO);
    p->start = cu_monotonic();
    p->unit = unit;
}

void cli_progress_cb(void *ctx, const char *what, uint64_t done, uint64_t total, uint64_t items)
{
    struct cli_progress *p = ctx;
    double elapsed = cu_monotonic() - p->start, frac = total ? (double)done / (double)total : 0;
    char bar[31], n1[32], n2[32];
    int i, fill = (int)(frac * 30), eta;

    if (!p->enabled)
        return;
    for (i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    eta = frac > 0.001 ? (int)(elapsed / frac - elapsed) : 0;
    fprintf(stderr, "\r%-11s [%s] %3d%%  %s %s  %s/s  ETA %d:%02d ", what, bar, (int)(frac * 100),
            cli_thousands(items, n1), p->unit,
            cli_thousands(elapsed > 0 ? (uint64_t)((double)items / elapsed) : 0, n2), eta / 60,
            eta % 60);
    fflush(stderr);
}

void cli_progress_done(struct cli_progress *p)
{
    if (p->enabled)
        fprintf(stderr, "\r\033[K");
}

int cli_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

const char *cli_thousands(uint64_t n, char *buf)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n), i, j = 0;

    for (i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = tmp[i];
    }
    buf[j] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    struct cli cli = {0};
    const char *env = getenv("CUSTODIAN_DATA");
    char prog[64];
    int i = 1;
    size_t c;

    cli.data_dir = env && env[0] ? env : "./custodian-data";
    /* Global options before the command. */
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            cli.data_dir = argv[i + 1];
            i += 2;
        } else if (strncmp(argv[i], "--data=", 7) == 0) {
            cli.data_dir = argv[i] + 7;
            i++;
        } else if (strcmp(argv[i], "--json") == 0) {
            cli.json = 1;
            i++;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("custodian 0.1.0\n");
            return CLI_OK;
        } else {
            fprintf(stderr, "custodian: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (vault_global_init() != CU_OK)
        return cli_fail("cannot initialise libsodium");
    for (c = 0; c < CU_ARRAY_LEN(commands); c++) {
        if (strcmp(argv[i], commands[c].name) == 0) {
            snprintf(prog, sizeof(prog), "custodian %s", commands[c].name);
            cli.prog = prog;
            return commands[c].fn(&cli, argc - i, argv + i);
        }
    }
    fprintf(stderr, "custodian: unknown command '%s'\n", argv[i]);
    usage(stderr);
    return CLI_USAGE;
}
