/*
 * Leak tracing, the pure part: finding identifiers in a leaked data set as
 * it was found (CSV, JSON Lines, free text), and the guilt model that ranks
 * the staff whose reveals could have produced it.  No I/O and no crypto:
 * src/service/trace.c maps what is found here to customers through the
 * vault's blind indexes and reads the audit log.
 *
 * The guilt model is that of P. Papadimitriou and H. Garcia-Molina, "Data
 * Leakage Detection", IEEE TKDE 23(1), 2011: with S the set of leaked
 * records, V_t the set of staff who revealed record t, and p the chance
 * that a leaked record was obtained some other way (guessed, bought, public),
 *
 *   Pr{staff i leaked | S} = 1 - prod over t in S with i in V_t of
 *                                (1 - (1 - p) / |V_t|).
 *
 * Records nobody revealed weigh on nobody.
 */
#ifndef CU_TRACE_H
#define CU_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"
#include "../model/model.h"

/*
 * What an identifier found in the leak is.  The values of the blind-index
 * kinds are those of enum model_ident; an e-mail address may be a
 * customer's e-mail or their account (which has e-mail form), so the
 * caller looks it up as both.
 */
enum trace_kind {
    TRACE_CUSTOMER_ID = 0, /* only from a column or key named like customer_id */
    TRACE_IMEI = MODEL_ID_IMEI,
    TRACE_SERIAL = MODEL_ID_SERIAL,
    TRACE_PHONE = MODEL_ID_PHONE,
    TRACE_EMAIL = MODEL_ID_EMAIL,
};
#define TRACE_KIND__COUNT 5 /* kinds 0 .. MODEL_ID_EMAIL */

/* "customer_id", "imei", "serial", "phone", "email"; NULL otherwise. */
const char *trace_kind_name(int kind);

/*
 * Called for each identifier found, with its kind and its normalised value
 * (as the model's normalisers give it: E.164 phone, 15-digit IMEI,
 * lower-case e-mail, upper-case serial), NUL-terminated, `len` bytes.  The
 * value is a personal value: it is borrowed for the call only and wiped
 * afterwards; keep a keyed hash of it, never the value.  The same value may
 * be reported more than once for one line.
 */
typedef void (*trace_found_fn)(void *ctx, int kind, const char *value, size_t len);

/*
 * Finds the identifiers in free text (one line, or one field of a CSV row
 * or a JSON value), `len` bytes, not necessarily NUL-terminated.
 *
 *  e-mail:  letters, digits and ._%+- before an '@', a domain of letters,
 *           digits, '-' and '.' after it; model_norm_email() must accept it.
 *  phone and IMEI: runs of digit groups joined by at most two of " -./()"
 *           (so "+86 138-0013-8000", "(0)138 0013 8000", "35 890226 780499 0"),
 *           with a '+' or '(' just before the first group kept.  From each
 *           group of the run on, the longest span of groups (at most 20
 *           digits) that is an IMEI (15 digits, Luhn check digit) and the
 *           longest that is a phone number (model_norm_phone() with
 *           `default_cc`; digits that start with the default country code
 *           are also tried with a '+') are reported.  A single group of
 *           14 digits that is an IMEI once a leading 0 is put back (as a
 *           spreadsheet or a JSON number drops it) is reported as that IMEI.
 *  serial:  a token of 8 to 20 letters and digits with at least two of
 *           each (model_norm_serial()).
 * Digits inside an e-mail address are not read again as a phone number.
 * Well-formed is all that is checked: whether such an identifier belongs
 * to anyone is for the blind indexes to say.
 */
void trace_extract_text(const char *text, size_t len, const char *default_cc, trace_found_fn found,
                        void *ctx);

/*
 * Reads a leaked file line by line, whatever its format, keeping what the
 * first line said about the columns.  Initialise with trace_reader_init(),
 * feed each line (without its line ending) to trace_reader_line(), release
 * with trace_reader_release().  `default_cc` is borrowed and must outlive
 * the reader.
 *
 *  - The first non-blank line is a CSV header when it splits on ',', '\t',
 *    ';' or '|' into at least two short fields without identifiers, one of
 *    them a known column name (name, phone, mobile, email, imei, serial,
 *    account, customer_id, ...; also 姓名, 手机, 电话, 邮箱).  Then each
 *    later line is split on that delimiter (RFC 4180 quotes), a column
 *    named like customer_id gives customer ids, a column named like name
 *    counts as a name (when it holds a letter), and every field (but a
 *    valid customer id) is read as free text.
 *  - A line starting with '{' that parses as a JSON object is walked: keys
 *    named like customer_id and name as above, every other string and
 *    integer read as free text.  A line that does not parse is free text.
 *  - Every other line is free text (trace_extract_text()).
 * Names are counted, never matched: there is no index of names, by design
 * (names are neither unique nor hard to guess).
 */
struct trace_reader {
    const char *default_cc;
    int seen_first; /* a non-blank line was read */
    char delim;     /* the header's delimiter, 0 without a header */
    int *cols;      /* per header column: enum trace_col */
    size_t ncols;
};

/* What trace_reader_line() saw on the line (flags). */
enum trace_line_flags {
    TRACE_LINE_BLANK = 1 << 0,  /* nothing but white space */
    TRACE_LINE_HEADER = 1 << 1, /* the CSV header */
    TRACE_LINE_NAME = 1 << 2,   /* a non-empty name field or key */
    TRACE_LINE_JSON = 1 << 3,   /* parsed as a JSON object */
};

void trace_reader_init(struct trace_reader *r, const char *default_cc);
void trace_reader_release(struct trace_reader *r);
/* Reads one line; calls `found` for each identifier; returns enum trace_line_flags. */
int trace_reader_line(struct trace_reader *r, const char *line, size_t len, trace_found_fn found,
                      void *ctx);

/* --- the guilt model (guilt.c) -------------------------------------------- */

/* One (leaked record, staff member) pair: the staff member revealed the record. */
struct trace_pair {
    uint32_t record;
    uint32_t staff;
};

struct trace_suspect {
    uint32_t staff;       /* the pairs' staff number */
    uint32_t records;     /* leaked records they revealed */
    uint32_t sole;        /* ... of which nobody else revealed */
    double probability;   /* Pr{staff leaked | S} */
    double log_innocence; /* ln(1 - probability), finite terms only: it still
                           * orders suspects whose probability rounds to 1 */
    uint32_t certain;     /* terms equal to 1 (p = 0 and a sole revealer) */
};

/*
 * Ranks the staff of `pairs` by the guilt model with parameter p
 * (0 <= p < 1; CU_ERR_INVALID otherwise).  `pairs` may hold repeats (a
 * record revealed twice by the same staff member counts once) in any
 * order: it is sorted by (record, staff) in place and its repeats dropped,
 * and *npairs becomes the number left, so that the caller can read |V_t|
 * as the length of each record's run.  Staff numbers must be below
 * `nstaff`; `names[staff]` breaks ties.
 *
 * Order, deterministic: higher probability first (compared as
 * log_innocence rounded to 1e-9, so that sums of the same terms added in
 * another order tie), then more records, then the name, then the number.
 * On success *out is a new array (the caller frees it) of *nout suspects,
 * every staff member with at least one pair.
 */
int trace_guilt(struct trace_pair *pairs, size_t *npairs, const char *const *names, size_t nstaff,
                double p, struct trace_suspect **out, size_t *nout) CU_WUR;

/*
 * Parses a point in time for --as-of: "2026-11-24" (00:00 UTC that day),
 * "2026-11-24T10:30[:15][.250]" with "Z" or "+08:00" or no zone (UTC), a
 * space instead of 'T', or Unix seconds ("1795000000").  CU_ERR_INVALID
 * for anything else.
 */
int trace_parse_time(const char *text, int64_t *unix_ms) CU_WUR;

#endif
