/*
 * Identifiers in a leaked data set, whatever its format.  Leaks are found
 * as they were sold: CSV with or without a header, JSON Lines, pasted text,
 * phone numbers written every way people write them.  Everything here
 * works on one line at a time and keeps nothing: each identifier goes to
 * the caller's callback, normalised by the model's own normalisers (so it
 * hashes to the same blind index as the stored value), and is wiped.
 */
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define RUN_MAX_GROUPS   24  /* digit groups in one run */
#define SPAN_MAX_DIGITS  20  /* a phone with prefixes, as model_norm_phone allows */
#define SPAN_MAX_TEXT    128 /* 20 digits, 2 separators between groups, a prefix */
#define SERIAL_MIN       8
#define SERIAL_MAX       20
#define HEADER_FIELD_MAX 40
#define STACK_LINE       1024 /* lines up to this long need no allocation */

static const char *const kind_names[TRACE_KIND__COUNT] = {
    [TRACE_CUSTOMER_ID] = "customer_id",
    [TRACE_IMEI] = "imei",
    [TRACE_SERIAL] = "serial",
    [TRACE_PHONE] = "phone",
    [TRACE_EMAIL] = "email",
};

const char *trace_kind_name(int kind)
{
    return kind >= 0 && kind < TRACE_KIND__COUNT ? kind_names[kind] : NULL;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(char c)
{
    return is_digit(c) || is_alpha(c);
}

/* What an address's local part is made of in practice (RFC 5322 allows
 * more, but quotes and slashes around an address in text are not part of it). */
static int email_local_char(char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static int domain_char(char c)
{
    return is_alnum(c) || c == '-' || c == '.';
}

/* Characters that join the digit groups of one number. */
static int joins_digits(char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')';
}

/* Hands a normalised value to the caller, then wipes and frees it. */
static void report(trace_found_fn found, void *ctx, int kind, char *value)
{
    size_t len = strlen(value);

    found(ctx, kind, value, len);
    cu_wipe(value, len);
    free(value);
}

/* --- e-mail addresses ------------------------------------------------------ */

static void find_emails(const char *s, size_t n, unsigned char *used, trace_found_fn found,
                        void *ctx)
{
    char tmp[256];
    size_t k, a, b;
    char *norm;

    for (k = 0; k < n; k++) {
        if (s[k] != '@')
            continue;
        a = k;
        while (a > 0 && !used[a - 1] && email_local_char(s[a - 1]))
            a--;
        while (a < k && s[a] == '.')
            a++;
        b = k + 1;
        while (b < n && domain_char(s[b]))
            b++;
        while (b > k + 1 && (s[b - 1] == '.' || s[b - 1] == '-'))
            b--;
        if (a == k || b == k + 1 || b - a >= sizeof(tmp))
            continue;
        memcpy(tmp, s + a, b - a);
        tmp[b - a] = '\0';
        if (model_norm_email(tmp, &norm, NULL) == CU_OK) {
            report(found, ctx, TRACE_EMAIL, norm);
            memset(used + a, 1, b - a);
            k = b - 1;
        }
        cu_wipe(tmp, sizeof(tmp));
    }
}

/* --- phone numbers and IMEIs ------------------------------------------------- */

struct group {
    size_t start, end;
};

/*
 * A phone number in `text` (NUL-terminated) whose `nd` digits are `digs`:
 * as written, or, for digits that start with the default country code but
 * no '+', with one.  A new normalised string, or NULL.
 */
static char *try_phone(const char *text, const char *digs, size_t nd, const char *cc)
{
    char plus[SPAN_MAX_TEXT + 2];
    size_t cclen;
    char *out = NULL;

    if (model_norm_phone(text, cc, &out, NULL) == CU_OK)
        return out;
    if (cc[0] == '+')
        cc++;
    cclen = strlen(cc);
    if (text[0] == '+' || text[0] == '(' || cclen == 0 || nd < cclen + 8 ||
        memcmp(digs, cc, cclen) != 0)
        return NULL;
    plus[0] = '+';
    memcpy(plus + 1, text, strlen(text) + 1);
    if (model_norm_phone(plus, cc, &out, NULL) != CU_OK)
        out = NULL;
    cu_wipe(plus, sizeof(plus));
    return out;
}

/*
 * The identifiers in one run of digit groups: from each group on, the
 * longest span that is a phone number and the longest that is an IMEI.
 * Every group is a start, not only those after a find: "2019-03-14
 * 13800138000" must not lose the phone to a span that took the date with
 * the first digits of the phone.
 */
static void find_in_run(const char *s, const unsigned char *used, const struct group *g, size_t ng,
                        const char *cc, trace_found_fn found, void *ctx)
{
    char digs[SPAN_MAX_DIGITS + 1], text[SPAN_MAX_TEXT + 1], last[SPAN_MAX_DIGITS + 2] = "";
    char pad[MODEL_IMEI_LEN];
    char *phone, *best_phone, *imei;
    size_t g0, g1, nd, len, tstart;

    for (g0 = 0; g0 < ng; g0++) {
        tstart = g[g0].start;
        /* A '+' or an opening bracket just before the first group belongs to it. */
        if (tstart > 0 && !used[tstart - 1] && (s[tstart - 1] == '+' || s[tstart - 1] == '(')) {
            tstart--;
            if (s[tstart] == '(' && tstart > 0 && !used[tstart - 1] && s[tstart - 1] == '+')
                tstart--;
        }
        nd = 0;
        best_phone = imei = NULL;
        for (g1 = g0; g1 < ng; g1++) {
            len = g[g1].end - g[g1].start;
            if (nd + len > SPAN_MAX_DIGITS || g[g1].end - tstart > SPAN_MAX_TEXT)
                break;
            memcpy(digs + nd, s + g[g1].start, len);
            nd += len;
            memcpy(text, s + tstart, g[g1].end - tstart);
            text[g[g1].end - tstart] = '\0';
            if (nd == MODEL_IMEI_LEN && s[tstart] != '+' && model_luhn_ok(digs, nd)) {
                if (imei != NULL) {
                    cu_wipe(imei, strlen(imei));
                    free(imei);
                }
                imei = xstrndup(digs, nd);
            } else if (nd == MODEL_IMEI_LEN - 1 && g1 == g0 && s[tstart] != '+' &&
                       s[tstart] != '(') {
                /* 14 digits in one group: an IMEI whose leading 0 a
                 * spreadsheet (or a JSON number) dropped? */
                pad[0] = '0';
                memcpy(pad + 1, digs, nd);
                if (model_luhn_ok(pad, MODEL_IMEI_LEN)) {
                    if (imei != NULL) {
                        cu_wipe(imei, strlen(imei));
                        free(imei);
                    }
                    imei = xstrndup(pad, MODEL_IMEI_LEN);
                }
            }
            phone = try_phone(text, digs, nd, cc);
            if (phone != NULL) {
                if (best_phone != NULL) {
                    cu_wipe(best_phone, strlen(best_phone));
                    free(best_phone);
                }
                best_phone = phone;
            }
        }
        if (imei != NULL)
            report(found, ctx, TRACE_IMEI, imei);
        /* "+86 138 0013 8000" gives the same number from "138" on: once is enough. */
        if (best_phone != NULL && strcmp(best_phone, last) == 0) {
            cu_wipe(best_phone, strlen(best_phone));
            free(best_phone);
        } else if (best_phone != NULL) {
            snprintf(last, sizeof(last), "%s", best_phone);
            report(found, ctx, TRACE_PHONE, best_phone);
        }
    }
    cu_wipe(digs, sizeof(digs));
    cu_wipe(text, sizeof(text));
    cu_wipe(last, sizeof(last));
    cu_wipe(pad, sizeof(pad));
}

static void find_numbers(const char *s, size_t n, const unsigned char *used, const char *cc,
                         trace_found_fn found, void *ctx)
{
    struct group g[RUN_MAX_GROUPS];
    size_t i = 0, j, k, gap, ng;

    while (i < n) {
        if (used[i] || !is_digit(s[i])) {
            i++;
            continue;
        }
        ng = 0;
        j = i;
        for (;;) {
            g[ng].start = j;
            while (j < n && !used[j] && is_digit(s[j]))
                j++;
            g[ng++].end = j;
            if (ng == RUN_MAX_GROUPS)
                break;
            for (k = j, gap = 0; k < n && gap < 2 && !used[k] && joins_digits(s[k]); k++)
                gap++;
            if (gap == 0 || k >= n || used[k] || !is_digit(s[k]))
                break;
            j = k;
        }
        find_in_run(s, used, g, ng, cc, found, ctx);
        i = g[ng - 1].end;
    }
}

/* --- serials ------------------------------------------------------------------ */

static void find_serials(const char *s, size_t n, const unsigned char *used, trace_found_fn found,
                         void *ctx)
{
    char tmp[SERIAL_MAX + 1];
    size_t i = 0, j, k, letters, digits;
    char *norm;

    while (i < n) {
        if (used[i] || !is_alnum(s[i])) {
            i++;
            continue;
        }
        letters = digits = 0;
        for (j = i; j < n && !used[j] && is_alnum(s[j]); j++) {
            if (is_digit(s[j]))
                digits++;
            else
                letters++;
        }
        k = j - i;
        if (k >= SERIAL_MIN && k <= SERIAL_MAX && letters >= 2 && digits >= 2) {
            memcpy(tmp, s + i, k);
            tmp[k] = '\0';
            if (model_norm_serial(tmp, &norm, NULL) == CU_OK)
                report(found, ctx, TRACE_SERIAL, norm);
            cu_wipe(tmp, sizeof(tmp));
        }
        i = j;
    }
}

void trace_extract_text(const char *text, size_t len, const char *default_cc, trace_found_fn found,
                        void *ctx)
{
    unsigned char stack[STACK_LINE], *used;
    const char *cc = default_cc != NULL && default_cc[0] != '\0' ? default_cc : "86";

    if (len == 0)
        return;
    used = len <= sizeof(stack) ? stack : xmalloc(len);
    memset(used, 0, len);
    find_emails(text, len, used, found, ctx);
    find_numbers(text, len, used, cc, found, ctx);
    find_serials(text, len, used, found, ctx);
    if (used != stack)
        free(used);
}

/* --- columns and keys ------------------------------------------------------------ */

enum trace_col {
    COL_UNKNOWN = -1, /* not a column name we know */
    COL_TEXT = 0,     /* a known column read as free text */
    COL_NAME,
    COL_CUSTOMER_ID,
};

static const struct {
    const char *name;
    int col;
} columns[] = {
    {"name", COL_NAME},
    {"full_name", COL_NAME},
    {"fullname", COL_NAME},
    {"customer_name", COL_NAME},
    {"owner", COL_NAME},
    {"owner_name", COL_NAME},
    {"first_name", COL_NAME},
    {"last_name", COL_NAME},
    {"surname", COL_NAME},
    {"姓名", COL_NAME},
    {"名字", COL_NAME},
    {"客户姓名", COL_NAME},
    {"customer_id", COL_CUSTOMER_ID},
    {"customerid", COL_CUSTOMER_ID},
    {"cust_id", COL_CUSTOMER_ID},
    {"customer_no", COL_CUSTOMER_ID},
    {"customer_number", COL_CUSTOMER_ID},
    {"客户编号", COL_CUSTOMER_ID},
    {"phone", COL_TEXT},
    {"phones", COL_TEXT},
    {"phone_number", COL_TEXT},
    {"mobile", COL_TEXT},
    {"mobile_phone", COL_TEXT},
    {"cell", COL_TEXT},
    {"tel", COL_TEXT},
    {"telephone", COL_TEXT},
    {"email", COL_TEXT},
    {"e_mail", COL_TEXT},
    {"mail", COL_TEXT},
    {"email_address", COL_TEXT},
    {"imei", COL_TEXT},
    {"imeis", COL_TEXT},
    {"serial", COL_TEXT},
    {"serial_number", COL_TEXT},
    {"account", COL_TEXT},
    {"apple_id", COL_TEXT},
    {"appleid", COL_TEXT},
    {"address", COL_TEXT},
    {"birth_date", COL_TEXT},
    {"dob", COL_TEXT},
    {"model", COL_TEXT},
    {"store", COL_TEXT},
    {"purchase_date", COL_TEXT},
    {"devices", COL_TEXT},
    {"手机", COL_TEXT},
    {"手机号", COL_TEXT},
    {"电话", COL_TEXT},
    {"邮箱", COL_TEXT},
    {"地址", COL_TEXT},
    {"序列号", COL_TEXT},
    {"账号", COL_TEXT},
};

/* The column a header field or JSON key names (trimmed, ASCII lower-cased,
 * spaces and '-' as '_'). */
static int column_of(const char *s, size_t n)
{
    char key[HEADER_FIELD_MAX + 1];
    size_t i;

    while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n > HEADER_FIELD_MAX)
        return COL_UNKNOWN;
    for (i = 0; i < n; i++) {
        char c = s[i];

        key[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c == ' ' || c == '-' ? '_' : c;
    }
    key[n] = '\0';
    for (i = 0; i < CU_ARRAY_LEN(columns); i++)
        if (strcmp(columns[i].name, key) == 0)
            return columns[i].col;
    return COL_UNKNOWN;
}

/* --- CSV fields ------------------------------------------------------------------- */

typedef void (*field_fn)(void *ctx, size_t index, const char *text, size_t len);

/* Splits a line on `delim`, honouring RFC 4180 quotes ("a, ""b""" is one
 * field), and calls fn with each unquoted field (held in `field`). */
static size_t csv_split(const char *s, size_t n, char delim, struct buf *field, field_fn fn,
                        void *ctx)
{
    size_t i = 0, index = 0;

    for (;;) {
        buf_reset(field);
        if (i < n && s[i] == '"') {
            for (i++; i < n; i++) {
                if (s[i] == '"') {
                    if (i + 1 < n && s[i + 1] == '"') {
                        buf_addch(field, '"');
                        i++;
                        continue;
                    }
                    i++;
                    break;
                }
                buf_addch(field, s[i]);
            }
        }
        while (i < n && s[i] != delim)
            buf_addch(field, s[i++]);
        if (fn != NULL)
            fn(ctx, index, field->data ? field->data : "", field->len);
        index++;
        if (i >= n)
            break;
        i++;
    }
    return index;
}

struct header_check {
    int *cols;
    size_t n;
    int known;
    int bad;
};

static void header_field(void *arg, size_t index, const char *text, size_t len)
{
    struct header_check *h = arg;
    size_t i, run = 0;
    int col;

    for (i = 0; i < len; i++) {
        run = is_digit(text[i]) ? run + 1 : 0;
        if (text[i] == '@' || run >= 5)
            h->bad = 1;
    }
    col = column_of(text, len);
    if (col == COL_UNKNOWN && (len == 0 || len > HEADER_FIELD_MAX))
        h->bad = 1;
    if (col != COL_UNKNOWN)
        h->known++;
    if (h->cols != NULL && index < h->n)
        h->cols[index] = col == COL_UNKNOWN ? COL_TEXT : col;
}

/* Is the line a CSV header?  Then remember its delimiter and columns. */
static int read_header(struct trace_reader *r, const char *s, size_t n)
{
    static const char delims[] = {',', '\t', ';', '|'};
    struct buf field = BUF_INIT;
    struct header_check h = {0};
    size_t i, count, best = 0;
    char delim = 0;

    for (i = 0; i < sizeof(delims); i++) {
        count = csv_split(s, n, delims[i], &field, NULL, NULL);
        if (count > best) {
            best = count;
            delim = delims[i];
        }
    }
    if (best >= 2) {
        csv_split(s, n, delim, &field, header_field, &h);
        if (!h.bad && h.known > 0) {
            h.cols = xcalloc(best, sizeof(int));
            h.n = best;
            csv_split(s, n, delim, &field, header_field, &h);
            r->delim = delim;
            r->cols = h.cols;
            r->ncols = best;
        }
    }
    buf_release_wipe(&field);
    return r->delim != 0;
}

/* --- lines ---------------------------------------------------------------------------- */

struct line_ctx {
    struct trace_reader *r;
    trace_found_fn found;
    void *ctx;
    int flags;
};

/* A customer id; anything else in that column is read as text. */
static void customer_id(struct line_ctx *l, const char *text, size_t len)
{
    char *norm;

    if (model_norm_customer_id(text, &norm, NULL) == CU_OK) {
        l->found(l->ctx, TRACE_CUSTOMER_ID, norm, strlen(norm));
        free(norm);
    } else {
        trace_extract_text(text, len, l->r->default_cc, l->found, l->ctx);
    }
}

/* A name has a letter in it (any non-ASCII character counts as one). */
static int has_letter(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (is_alpha(s[i]) || (unsigned char)s[i] >= 0x80)
            return 1;
    return 0;
}

/*
 * One value of a column (or key) of the given kind.  A name column is read
 * as text too: in a file that mixes formats, a line that is not a row of
 * the header's table may have anything in its first field.
 */
static void value(struct line_ctx *l, int col, const char *text, size_t len)
{
    if (col == COL_CUSTOMER_ID) {
        customer_id(l, text, len);
        return;
    }
    if (col == COL_NAME && has_letter(text, len))
        l->flags |= TRACE_LINE_NAME;
    trace_extract_text(text, len, l->r->default_cc, l->found, l->ctx);
}

static void csv_field(void *arg, size_t index, const char *text, size_t len)
{
    struct line_ctx *l = arg;

    value(l, index < l->r->ncols ? l->r->cols[index] : COL_TEXT, text, len);
}

static void walk_json(struct line_ctx *l, json_t *v, int col)
{
    const char *key;
    json_t *child;
    size_t i;
    char num[32];

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        json_object_foreach(v, key, child)
        {
            walk_json(l, child, column_of(key, strlen(key)));
        }
        break;
    case JSON_ARRAY:
        json_array_foreach(v, i, child)
        {
            walk_json(l, child, col);
        }
        break;
    case JSON_STRING:
        value(l, col, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        /* IMEIs and phone numbers are sometimes written as numbers. */
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        value(l, col, num, strlen(num));
        cu_wipe(num, sizeof(num));
        break;
    default:
        break;
    }
}

void trace_reader_init(struct trace_reader *r, const char *default_cc)
{
    memset(r, 0, sizeof(*r));
    r->default_cc = default_cc;
}

void trace_reader_release(struct trace_reader *r)
{
    free(r->cols);
    trace_reader_init(r, r->default_cc);
}

int trace_reader_line(struct trace_reader *r, const char *line, size_t len, trace_found_fn found,
                      void *ctx)
{
    struct line_ctx l = {r, found, ctx, 0};
    struct buf field = BUF_INIT;
    const char *s = line;
    size_t n = len;
    json_error_t jerr;
    json_t *doc;

    if (!r->seen_first && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
        s += 3; /* a UTF-8 byte-order mark */
        n -= 3;
    }
    while (n > 0 && (s[0] == ' ' || s[0] == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        n--;
    if (n == 0)
        return TRACE_LINE_BLANK;
    if (s[0] == '{') {
        doc = json_loadb(s, n, 0, &jerr);
        if (doc != NULL && json_is_object(doc)) {
            r->seen_first = 1;
            walk_json(&l, doc, COL_TEXT);
            json_decref(doc);
            return l.flags | TRACE_LINE_JSON;
        }
        json_decref(doc);
    }
    if (!r->seen_first) {
        r->seen_first = 1;
        if (read_header(r, s, n))
            return TRACE_LINE_HEADER;
    }
    if (r->delim != 0 && memchr(s, r->delim, n) != NULL)
        csv_split(s, n, r->delim, &field, csv_field, &l);
    else
        trace_extract_text(s, n, r->default_cc, found, ctx);
    buf_release_wipe(&field);
    return l.flags;
}
