/*
 * The `custodian` command: shared option handling, output and exit codes.
 * One file per subcommand (cmd_*.c), each exporting one cmd_* function.
 *
 * Exit status: 0 success, 1 a failure the user can fix (one line on stderr
 * naming the file, line and field where there is one), 2 bad usage.
 */
#ifndef CU_CLI_H
#define CU_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "service/service.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli {
    const char *data_dir; /* --data, CUSTODIAN_DATA, or ./custodian-data */
    int json;             /* --json: one JSON document on stdout */
    const char *prog;     /* "custodian init", for messages */
};

/* Options every subcommand accepts; append to a subcommand's table with
 * CLI_COMMON_OPTIONS and handle them with cli_common_option(). */
enum { CLI_OPT_DATA = 1000, CLI_OPT_JSON, CLI_OPT_HELP, CLI_OPT__NEXT };
#define CLI_COMMON_OPTIONS                                                                         \
    {"data", required_argument, NULL, CLI_OPT_DATA}, {"json", no_argument, NULL, CLI_OPT_JSON},    \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

/*
 * Handles a common option (returns 1), or returns 0 for one the caller must
 * handle.  For 'h' it prints `usage` to stdout and exits 0; for '?' it
 * prints a hint to stderr and exits 2.
 */
int cli_common_option(struct cli *cli, int opt, const char *usage);

/* Prints "custodian: MSG" to stderr and returns CLI_FAIL. */
int cli_fail(const char *fmt, ...) CU_PRINTF(1, 2);
/* Prints the message and the usage hint to stderr and returns CLI_USAGE. */
int cli_usage_error(const struct cli *cli, const char *fmt, ...) CU_PRINTF(2, 3);
/* Prints an error from a service call (errmsg, or the code's name) and frees errmsg. */
int cli_fail_rc(int rc, char *errmsg);

/*
 * Records an operator event in the audit log (service_audit_note) as the
 * local operator.  If that fails it says so and turns a success in *rc into
 * CU_ERR_STORE: an event that cannot be recorded is not reported done.
 */
void cli_audit_note(struct service *svc, int action, int *rc, const char *detail);

/* Opens the data folder; on failure prints why and returns NULL. */
struct service *cli_open(const struct cli *cli);

/* Prints a JSON document (pretty) on stdout and releases it. */
void cli_print_json(json_t *doc);

/* A progress bar on stderr when stderr is a terminal (service_progress_fn). */
struct cli_progress {
    int enabled;
    double start;
    const char *unit; /* "customers" */
};
void cli_progress_init(struct cli_progress *p, const char *unit);
void cli_progress_cb(void *ctx, const char *what, uint64_t done, uint64_t total, uint64_t items);
/* Clears the bar line. */
void cli_progress_done(struct cli_progress *p);

/*
 * Writes synthetic customers [start, start + n) of `seed` to `fp` as CSV
 * (with the header) or JSON Lines.  Returns 0, or -1 when writing failed.
 * Does not close `fp`.
 */
int cli_write_customers(FILE *fp, uint64_t seed, uint64_t start, uint64_t n, int jsonl);

/* Parses a non-negative integer; returns 0 on success. */
int cli_parse_u64(const char *s, uint64_t *out);

/* Formats 1234567 as "1,234,567" into buf (at least 32 bytes). */
const char *cli_thousands(uint64_t n, char *buf);

/* TLS for cli_serve: PEM texts (NULL: plain HTTP, on loopback only unless
 * `insecure`). */
struct cli_tls {
    char *cert;
    char *key;
    int insecure; /* --insecure-http: plain HTTP on any address */
};
/*
 * Serves the HTTP API on `listen` ("ADDR:PORT") until SIGTERM or SIGINT,
 * then stops gracefully; over HTTPS with `tls->cert`, and refusing plain
 * HTTP on a non-loopback address unless `tls->insecure`.  `ready`, when
 * not NULL, is called with the server's URL once it listens.  Returns
 * CLI_OK or prints why it could not start and returns CLI_FAIL.  The
 * caller frees `svc` afterwards.
 */
int cli_serve(struct service *svc, const char *listen, const struct cli_tls *tls,
              void (*ready)(void *ctx, const char *url), void *ctx);

int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_gen(struct cli *cli, int argc, char **argv);
int cmd_import(struct cli *cli, int argc, char **argv);
int cmd_lookup(struct cli *cli, int argc, char **argv);
int cmd_keys(struct cli *cli, int argc, char **argv);
int cmd_demo(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_staff(struct cli *cli, int argc, char **argv);
int cmd_serve(struct cli *cli, int argc, char **argv);
int cmd_outbox(struct cli *cli, int argc, char **argv);
int cmd_alerts(struct cli *cli, int argc, char **argv);
int cmd_canary(struct cli *cli, int argc, char **argv);
int cmd_trace(struct cli *cli, int argc, char **argv);
int cmd_erase(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);

#endif
