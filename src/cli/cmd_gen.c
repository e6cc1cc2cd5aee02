/* custodian gen customers N [--seed S] [--format csv|jsonl] */
#include "cli.h"

#include <string.h>

#include "synth/synth.h"

static const char usage[] =
    "usage: custodian gen customers N [--seed S] [--format csv|jsonl] [--start I]\n\n"
    "Prints N synthetic customers on stdout: Chinese and international names, mobile\n"
    "numbers with real prefixes, valid IMEIs on Apple TACs, 1-3 devices each.  The same\n"
    "seed gives the same output.\n\n"
    "  --seed S          seed (default 1)\n"
    "  --format FORMAT   csv (default, one row per device) or jsonl (one customer a line)\n"
    "  --start I         first customer number (default 0): C%08d is I+1\n";

int cmd_gen(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"seed", required_argument, NULL, 's'},
                                         {"format", required_argument, NULL, 'f'},
                                         {"start", required_argument, NULL, 'i'},
                                         CLI_COMMON_OPTIONS,
                                         {NULL, 0, NULL, 0}};
    uint64_t seed = 1, n = 0, start = 0;
    int opt, jsonl = 0;

    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_common_option(cli, opt, usage))
            continue;
        if (opt == 's' && cli_parse_u64(optarg, &seed) != 0)
            return cli_usage_error(cli, "--seed: not a number: '%s'", optarg);
        if (opt == 'i' && cli_parse_u64(optarg, &start) != 0)
            return cli_usage_error(cli, "--start: not a number: '%s'", optarg);
        if (opt == 'f') {
            if (strcmp(optarg, "jsonl") == 0)
                jsonl = 1;
            else if (strcmp(optarg, "csv") != 0)
                return cli_usage_error(cli, "--format: expected csv or jsonl, not '%s'", optarg);
        }
    }
    if (argc - optind != 2 || strcmp(argv[optind], "customers") != 0)
        return cli_usage_error(cli, "expected 'customers N'");
    if (cli_parse_u64(argv[optind + 1], &n) != 0 || n > 99999999 || start + n > 99999999)
        return cli_usage_error(cli, "N must be a number up to 99,999,999, not '%s'",
                               argv[optind + 1]);

    if (cli_write_customers(stdout, seed, start, n, jsonl) != 0)
        return cli_fail("cannot write to standard output");
    return CLI_OK;
}

int cli_write_customers(FILE *fp, uint64_t seed, uint64_t start, uint64_t n, int jsonl)
{
    struct model_customer c;
    struct buf out = BUF_INIT;
    uint64_t i;
    int ok = 1;

    if (!jsonl)
        model_csv_header(&out);
    for (i = 0; i < n && ok; i++) {
        model_customer_init(&c);
        synth_customer(seed, start + i, &c);
        if (jsonl)
            model_jsonl_write(&c, &out);
        else
            model_csv_write(&c, &out);
        model_customer_release(&c);
        if (out.len >= (1 << 16)) {
            ok = fwrite(out.data, 1, out.len, fp) == out.len;
            buf_reset(&out);
        }
    }
    if (ok)
        ok = fwrite(out.data, 1, out.len, fp) == out.len;
    buf_release(&out);
    return ok && fflush(fp) == 0 && !ferror(fp) ? 0 : -1;
}
