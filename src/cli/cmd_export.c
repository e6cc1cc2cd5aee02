/* custodian export --customer-id ID [--output FILE] */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: custodian export --customer-id ID [--output FILE]\n\n"
    "Exports one customer's data and access log as JSON: every field in full (account,\n"
    "name, phones, e-mail, address, birth date, devices) and every access to their record\n"
    "from the audit log (time, store, a staff reference instead of the name, purpose and\n"
    "case, fields, decision), each entry with its leaf_input and RFC 9162 inclusion proof\n"
    "against the signed checkpoint included, so the customer can verify them.\n\n"
    "The export is recorded in the audit log as operator:<your user name> first; nothing\n"
    "is written if it cannot be.\n\n"
    "  --customer-id ID  the customer (e.g. C00012345)\n"
    "  --output FILE     write the JSON to FILE (created with mode 0600) instead of\n"
    "                    standard output; it holds personal data: keep it as safe\n";

/* Writes `doc` (pretty) to `path`, mode 0600 even when it exists.  A
 * regular file is made durable, and removed when it could not be written
 * whole; a device (/dev/stdout) is only written to. */
static int write_file(const char *path, json_t *doc)
{
    int fd = cu_open_private(path);
    struct stat st;
    int ok, regular;

    if (fd < 0)
        return cli_fail("cannot create '%s': %s", path, strerror(errno));
    regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    ok = json_dumpfd(doc, fd, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 &&
         write(fd, "\n", 1) == 1 && (!regular || fsync(fd) == 0);
    if (close(fd) != 0)
        ok = 0;
    if (!ok) {
        int e = errno;

        if (regular)
            unlink(path);
        return cli_fail("cannot write '%s': %s", path, strerror(e));
    }
    return CLI_OK;
}

int cmd_export(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"customer-id", required_argument, NULL, 'c'},
                                         {"output", required_argument, NULL, 'o'},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    const char *id = NULL, *output = NULL;
    struct service_actor who;
    struct service *svc;
    json_t *out = NULL;
    char name[96], *err = NULL;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == 'c')
            id = optarg;
        else if (opt == 'o')
            output = optarg;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if (id == NULL)
        return cli_usage_error(cli, "which customer? (--customer-id ID)");
    if (output != NULL && output[0] == '\0')
        return cli_usage_error(cli, "--output needs a file name");
    svc = cli_open(cli);
    if (svc == NULL)
        return CLI_FAIL;
    service_operator(&who, name, sizeof(name));
    rc = service_customer_export(svc, &who, id, &out, &err);
    service_free(svc);
    if (rc != CU_OK)
        return cli_fail_rc(rc, err);
    if (output == NULL) {
        cli_print_json(out);
        return CLI_OK;
    }
    rc = write_file(output, out);
    if (rc == CLI_OK && !cli->json)
        printf("exported customer %s with %zu access-log entries to %s\n",
               json_string_value(json_object_get(out, "customer_id")),
               json_array_size(json_object_get(json_object_get(out, "access_log"), "entries")),
               output);
    json_decref(out);
    return rc;
}
