/*
 * scan-plaintext: a test tool (not part of the product) for security
 * invariant 1 of DESIGN.md, "no personal value is stored in plaintext, in
 * any encoding".
 *
 *   scan-plaintext [--min N] VALUES_FILE PATH...
 *
 * VALUES_FILE holds one personal value a line (UTF-8; blank lines are
 * ignored, white space around a value is dropped).  Every regular file
 * under each PATH (directories are recursed, symbolic links are never
 * followed) is scanned as raw bytes for each value in every encoding a
 * careless implementation might leave behind:
 *
 *   - the raw UTF-8 bytes, its ASCII lower-case and upper-case forms;
 *   - UTF-16LE, UTF-16BE and UTF-32LE;
 *   - hex of the UTF-8 bytes (lower and upper case);
 *   - base64 and base64url of the UTF-8 bytes at the three alignments: the
 *     value preceded by k = 0, 1, 2 filler bytes is encoded and only the
 *     output characters that depend on the value's bytes alone are kept;
 *   - JSON \uXXXX escapes of the non-ASCII characters (lower and upper
 *     hex), ASCII kept as is;
 *   - the reversed byte string;
 *   - URL percent-encoding (and form encoding, space as '+');
 *   - every encoding above but upper-case also for the lower-case form;
 *   - for a value of '+' and digits (a phone): the digits alone and, for a
 *     +86 number, the national part without 86;
 *   - for a string of digits (IMEI, a phone's digits, its national part):
 *     packed BCD (right-aligned with a 0 nibble, left-aligned, and shifted
 *     by half a byte), TBCD as in GSM (nibble-swapped, 0xF filler, and
 *     shifted by half a byte), and the number as a 64-bit little-endian and
 *     big-endian integer when it fits.
 *
 * A needle shorter than --min bytes (default 6) would match random
 * ciphertext and is skipped; an integer needle counts as its significant
 * bytes plus one, since its zero bytes say little.
 *
 * The scan does not search each needle: needles are kept in a hash table
 * keyed on their first --min bytes, a rolling hash slides over each
 * (mmapped) file, and the candidates of each window are verified in full.
 * A hit that lies inside another hit of the same value in the same file is
 * not reported again (the digits of a raw phone number, say).
 *
 * Output: one line a hit, "PATH: offset N: value #K (line K of
 * VALUES_FILE) as ENCODING" (never the value itself), at most 50 of them,
 * then a count; a one-line summary on stderr.  Exit status: 0 when nothing
 * was found, 1 when something was, 2 on a usage or I/O error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_SHOWN   50
#define DEFAULT_MIN 6
#define MAX_MIN     4096
#define NO_NEEDLE   UINT32_MAX
#define HASH_BASE   UINT64_C(0x100000001b3)

/* A growable byte string; data is owned by the struct. */
struct bytes {
    unsigned char *data;
    size_t len;
    size_t cap;
};

/* One encoded form of one value. */
struct needle {
    size_t off;        /* of its bytes in scan.pool */
    size_t len;        /* in bytes, at least scan.min */
    uint32_t value;    /* index into scan.lines */
    uint32_t next;     /* next needle of the same hash bucket, or NO_NEEDLE */
    const char *label; /* the encoding's name; owned by scan.labels */
};

/* A candidate needle while one value's encodings are generated. */
struct cand {
    const char *label;
    size_t off; /* in scan.work */
    size_t len;
    size_t weight; /* length that counts for --min */
};

struct scan {
    size_t min;
    const char *values_path;
    struct bytes pool; /* the bytes of every needle */
    struct needle *needles;
    size_t n_needles;
    size_t needles_cap;
    uint32_t *lines; /* line number of each value */
    size_t n_values;
    size_t lines_cap;
    size_t n_skipped;
    char **labels; /* interned encoding names */
    size_t n_labels;
    size_t labels_cap;
    /* Candidates of the value being encoded. */
    struct bytes work;
    struct cand *cands;
    size_t n_cands;
    size_t cands_cap;
    /* The hash table: bucket heads, 2^bits of them. */
    uint32_t *heads;
    unsigned bits;
    uint64_t base_pow; /* HASH_BASE^min */
    /* Where the last reported hit of each value ended, in file number. */
    size_t *last_end;
    uint32_t *last_file;
    uint32_t file_no;
    /* Results. */
    uint64_t n_files;
    uint64_t n_bytes;
    uint64_t n_hits;
    uint64_t n_vanished; /* listed, then gone before they could be read */
    int errors;
};

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fatal(const char *fmt, ...)
{
    va_list ap;

    fputs("scan-plaintext: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void warn(const char *fmt, ...)
{
    va_list ap;

    fputs("scan-plaintext: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Returns n bytes the caller frees; out of memory is fatal. */
static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL)
        fatal("out of memory");
    return p;
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL)
        fatal("out of memory");
    return p;
}

/*
 * Returns p (room for *cap elements of size, used of them in use) grown to
 * hold n more; the old p is no longer valid.
 */
static void *grow(void *p, size_t *cap, size_t used, size_t n, size_t size)
{
    size_t want = used + n;

    if (want <= *cap)
        return p;
    if (*cap == 0)
        *cap = 16;
    while (*cap < want)
        *cap *= 2;
    return xrealloc(p, *cap * size);
}

static void bytes_add(struct bytes *b, const void *p, size_t n)
{
    b->data = grow(b->data, &b->cap, b->len, n, 1);
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void bytes_addc(struct bytes *b, unsigned char c)
{
    bytes_add(b, &c, 1);
}

static void bytes_addstr(struct bytes *b, const char *s)
{
    bytes_add(b, s, strlen(s));
}

/* Returns the interned copy of "NAME" or "NAME of FORM"; scan owns it. */
static const char *scan_label(struct scan *sc, const char *name, const char *form)
{
    size_t n = strlen(name) + (form ? strlen(form) + 4 : 0) + 1;
    char *s = xrealloc(NULL, n);
    size_t i;

    snprintf(s, n, "%s%s%s", name, form ? " of " : "", form ? form : "");
    for (i = 0; i < sc->n_labels; i++) {
        if (strcmp(sc->labels[i], s) == 0) {
            free(s);
            return sc->labels[i];
        }
    }
    sc->labels = grow(sc->labels, &sc->labels_cap, sc->n_labels, 1, sizeof(*sc->labels));
    sc->labels[sc->n_labels++] = s;
    return s;
}

/*
 * Candidate building: cand_begin() opens a candidate at the end of
 * scan.work, the encoder appends to scan.work, cand_end() closes it.
 */
static size_t cand_begin(struct scan *sc)
{
    return sc->work.len;
}

static void cand_end(struct scan *sc, size_t start, const char *name, const char *form,
                     size_t weight)
{
    struct cand *c;

    sc->cands = grow(sc->cands, &sc->cands_cap, sc->n_cands, 1, sizeof(*sc->cands));
    c = &sc->cands[sc->n_cands++];
    c->label = scan_label(sc, name, form);
    c->off = start;
    c->len = sc->work.len - start;
    c->weight = weight ? weight : c->len;
}

static void cand_add(struct scan *sc, const char *name, const char *form, const void *p, size_t n)
{
    size_t start = cand_begin(sc);

    bytes_add(&sc->work, p, n);
    cand_end(sc, start, name, form, 0);
}

/*
 * Decodes UTF-8 s[0..n) into code points; returns their count, or -1 (and
 * nothing in *out) when s is not valid UTF-8.  *out is owned by the caller.
 */
static long utf8_decode(const unsigned char *s, size_t n, uint32_t **out)
{
    uint32_t *cp = xrealloc(NULL, (n + 1) * sizeof(*cp));
    size_t i = 0, k = 0;

    while (i < n) {
        unsigned char c = s[i];
        size_t len, j;
        uint32_t v, lo;

        if (c < 0x80) {
            cp[k++] = c;
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, v = c & 0x1f, lo = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, v = c & 0x0f, lo = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, v = c & 0x07, lo = 0x10000;
        } else {
            goto bad;
        }
        if (i + len > n)
            goto bad;
        for (j = 1; j < len; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                goto bad;
            v = v << 6 | (s[i + j] & 0x3f);
        }
        if (v < lo || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
            goto bad;
        cp[k++] = v;
        i += len;
    }
    *out = cp;
    return (long)k;
bad:
    free(cp);
    *out = NULL;
    return -1;
}

/* Appends code point v as UTF-16 (a surrogate pair above the BMP). */
static void put_utf16(struct bytes *b, uint32_t v, int big_endian)
{
    uint16_t u[2];
    int n = 1, i;

    if (v >= 0x10000) {
        v -= 0x10000;
        u[0] = (uint16_t)(0xd800 | v >> 10);
        u[1] = (uint16_t)(0xdc00 | (v & 0x3ff));
        n = 2;
    } else {
        u[0] = (uint16_t)v;
    }
    for (i = 0; i < n; i++) {
        if (big_endian) {
            bytes_addc(b, (unsigned char)(u[i] >> 8));
            bytes_addc(b, (unsigned char)u[i]);
        } else {
            bytes_addc(b, (unsigned char)u[i]);
            bytes_addc(b, (unsigned char)(u[i] >> 8));
        }
    }
}

static void add_unicode(struct scan *sc, const uint32_t *cp, size_t n, const char *form)
{
    static const char *const hexdig[2] = {"0123456789abcdef", "0123456789ABCDEF"};
    size_t i, start;
    int upper, nonascii = 0;

    start = cand_begin(sc);
    for (i = 0; i < n; i++)
        put_utf16(&sc->work, cp[i], 0);
    cand_end(sc, start, "utf-16le", form, 0);
    start = cand_begin(sc);
    for (i = 0; i < n; i++)
        put_utf16(&sc->work, cp[i], 1);
    cand_end(sc, start, "utf-16be", form, 0);
    start = cand_begin(sc);
    for (i = 0; i < n; i++) {
        bytes_addc(&sc->work, (unsigned char)cp[i]);
        bytes_addc(&sc->work, (unsigned char)(cp[i] >> 8));
        bytes_addc(&sc->work, (unsigned char)(cp[i] >> 16));
        bytes_addc(&sc->work, 0);
    }
    cand_end(sc, start, "utf-32le", form, 0);

    for (i = 0; i < n; i++)
        nonascii |= cp[i] >= 0x80;
    if (!nonascii)
        return;
    for (upper = 0; upper < 2; upper++) {
        start = cand_begin(sc);
        for (i = 0; i < n; i++) {
            struct bytes u = {0};
            size_t j;

            if (cp[i] < 0x80) {
                bytes_addc(&sc->work, (unsigned char)cp[i]);
                continue;
            }
            put_utf16(&u, cp[i], 1);
            for (j = 0; j < u.len; j += 2) {
                unsigned v = (unsigned)u.data[j] << 8 | u.data[j + 1];

                bytes_addstr(&sc->work, "\\u");
                bytes_addc(&sc->work, (unsigned char)hexdig[upper][v >> 12]);
                bytes_addc(&sc->work, (unsigned char)hexdig[upper][v >> 8 & 15]);
                bytes_addc(&sc->work, (unsigned char)hexdig[upper][v >> 4 & 15]);
                bytes_addc(&sc->work, (unsigned char)hexdig[upper][v & 15]);
            }
            free(u.data);
        }
        cand_end(sc, start, upper ? "json-escaped (upper)" : "json-escaped", form, 0);
    }
}

/* Bit i (from the most significant bit of s[0]) of k zero bytes then s. */
static unsigned bit_at(const unsigned char *s, size_t k, size_t i)
{
    if (i < 8 * k)
        return 0;
    i -= 8 * k;
    return s[i / 8] >> (7 - i % 8) & 1;
}

static void add_base64(struct scan *sc, const unsigned char *s, size_t n, const char *form)
{
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char *const names[2][3] = {
        {"base64 (offset 0)", "base64 (offset 1)", "base64 (offset 2)"},
        {"base64url (offset 0)", "base64url (offset 1)", "base64url (offset 2)"},
    };
    size_t k, i, b;
    int url;

    for (url = 0; url < 2; url++) {
        for (k = 0; k < 3; k++) {
            size_t start = cand_begin(sc);

            /* Output character i covers input bits [6i, 6i + 6). */
            for (i = (8 * k + 5) / 6; 6 * i + 6 <= 8 * (k + n); i++) {
                unsigned v = 0;
                char c;

                for (b = 0; b < 6; b++)
                    v = v << 1 | bit_at(s, k, 6 * i + b);
                c = std[v];
                if (url && c == '+')
                    c = '-';
                else if (url && c == '/')
                    c = '_';
                bytes_addc(&sc->work, (unsigned char)c);
            }
            cand_end(sc, start, names[url][k], form, 0);
        }
    }
}

/* Every encoding of the byte string s[0..n) (a value, or its lower case). */
static void add_byte_forms(struct scan *sc, const unsigned char *s, size_t n, const char *form)
{
    static const char *const hexdig[2] = {"0123456789abcdef", "0123456789ABCDEF"};
    uint32_t *cp;
    long ncp;
    size_t i, start;
    int upper, space = 0;

    cand_add(sc, form ? form : "raw", NULL, s, n);
    ncp = utf8_decode(s, n, &cp);
    if (ncp >= 0)
        add_unicode(sc, cp, (size_t)ncp, form);
    free(cp);
    for (upper = 0; upper < 2; upper++) {
        start = cand_begin(sc);
        for (i = 0; i < n; i++) {
            bytes_addc(&sc->work, (unsigned char)hexdig[upper][s[i] >> 4]);
            bytes_addc(&sc->work, (unsigned char)hexdig[upper][s[i] & 15]);
        }
        cand_end(sc, start, upper ? "hex (upper)" : "hex", form, 0);
    }
    add_base64(sc, s, n, form);
    start = cand_begin(sc);
    for (i = n; i > 0; i--)
        bytes_addc(&sc->work, s[i - 1]);
    cand_end(sc, start, "reversed", form, 0);

    for (upper = 1; upper >= 0; upper--) {
        start = cand_begin(sc);
        for (i = 0; i < n; i++) {
            unsigned char c = s[i];

            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~') {
                bytes_addc(&sc->work, c);
            } else {
                space |= c == ' ';
                bytes_addc(&sc->work, '%');
                bytes_addc(&sc->work, (unsigned char)hexdig[upper][c >> 4]);
                bytes_addc(&sc->work, (unsigned char)hexdig[upper][c & 15]);
            }
        }
        cand_end(sc, start, upper ? "url-encoded" : "url-encoded (lower)", form, 0);
    }
    if (space) {
        start = cand_begin(sc);
        for (i = 0; i < n; i++) {
            unsigned char c = s[i];

            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '*') {
                bytes_addc(&sc->work, c);
            } else if (c == ' ') {
                bytes_addc(&sc->work, '+');
            } else {
                bytes_addc(&sc->work, '%');
                bytes_addc(&sc->work, (unsigned char)hexdig[1][c >> 4]);
                bytes_addc(&sc->work, (unsigned char)hexdig[1][c & 15]);
            }
        }
        cand_end(sc, start, "form-encoded", form, 0);
    }
}

/* Packs digits d[0..n) two a byte; swap puts the first digit low (TBCD). */
static void pack_digits(struct scan *sc, const char *d, size_t n, int swap)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2) {
        unsigned hi = (unsigned)(d[i] - '0'), lo = (unsigned)(d[i + 1] - '0');

        bytes_addc(&sc->work, (unsigned char)(swap ? lo << 4 | hi : hi << 4 | lo));
    }
}

/* BCD, TBCD and integer forms of the digit string d[0..n). */
static void add_digit_forms(struct scan *sc, const char *d, size_t n, const char *form)
{
    size_t start, i, sig;
    uint64_t v = 0;
    int fits = n <= 20;

    if (n < 2)
        return;
    /* Right-aligned packed BCD: a 0 nibble first when n is odd. */
    start = cand_begin(sc);
    if (n % 2)
        bytes_addc(&sc->work, (unsigned char)(d[0] - '0'));
    pack_digits(sc, d + n % 2, n - n % 2, 0);
    cand_end(sc, start, "bcd", form, 0);
    /* Left-aligned (any filler nibble after an odd count). */
    start = cand_begin(sc);
    pack_digits(sc, d, n, 0);
    cand_end(sc, start, "bcd (left-aligned)", form, 0);
    /* Starting in the low nibble of a byte. */
    start = cand_begin(sc);
    pack_digits(sc, d + 1, n - 1, 0);
    cand_end(sc, start, "bcd (half-byte shifted)", form, 0);
    /* TBCD as in GSM: first digit in the low nibble, 0xF filler. */
    start = cand_begin(sc);
    pack_digits(sc, d, n, 1);
    if (n % 2)
        bytes_addc(&sc->work, (unsigned char)(0xf0 | (unsigned)(d[n - 1] - '0')));
    cand_end(sc, start, "tbcd", form, 0);
    /* TBCD after a type nibble (the IMEI layout of 3GPP TS 24.008). */
    start = cand_begin(sc);
    pack_digits(sc, d + 1, n - 1, 1);
    cand_end(sc, start, "tbcd (half-byte shifted)", form, 0);

    for (i = 0; i < n && fits; i++) {
        unsigned dig = (unsigned)(d[i] - '0');

        if (v > (UINT64_MAX - dig) / 10)
            fits = 0;
        else
            v = v * 10 + dig;
    }
    if (!fits)
        return;
    for (sig = 8; sig > 0 && (v >> (8 * (sig - 1))) == 0; sig--)
        ;
    start = cand_begin(sc);
    for (i = 0; i < 8; i++)
        bytes_addc(&sc->work, (unsigned char)(v >> (8 * i)));
    cand_end(sc, start, "int64 le", form, sig + 1);
    start = cand_begin(sc);
    for (i = 8; i > 0; i--)
        bytes_addc(&sc->work, (unsigned char)(v >> (8 * (i - 1))));
    cand_end(sc, start, "int64 be", form, sig + 1);
}

/* Generates every needle of value s[0..n), the next value of sc. */
static void scan_add_value(struct scan *sc, const unsigned char *s, size_t n)
{
    unsigned char *lower = xrealloc(NULL, n), *upper = xrealloc(NULL, n);
    char *digits = xrealloc(NULL, n + 1);
    size_t i, j, nd = 0;
    int phone = n > 0, all_digits = n > 0, plus = 0;
    uint32_t value = (uint32_t)sc->n_values;

    sc->work.len = 0;
    sc->n_cands = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = s[i];

        lower[i] = c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
        upper[i] = c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
        if (c >= '0' && c <= '9') {
            digits[nd++] = (char)c;
        } else {
            all_digits = 0;
            if (c == '+')
                plus = 1;
            else
                phone = 0;
        }
    }
    digits[nd] = '\0';

    add_byte_forms(sc, s, n, NULL);
    if (memcmp(lower, s, n) != 0)
        add_byte_forms(sc, lower, n, "lower-case");
    cand_add(sc, "upper-case", NULL, upper, n);
    if (all_digits) {
        add_digit_forms(sc, digits, nd, NULL);
    } else if (phone && plus && nd > 0) {
        cand_add(sc, "digits only", NULL, digits, nd);
        add_digit_forms(sc, digits, nd, "digits only");
        if (s[0] == '+' && nd > 2 && digits[0] == '8' && digits[1] == '6') {
            cand_add(sc, "national (without 86)", NULL, digits + 2, nd - 2);
            add_digit_forms(sc, digits + 2, nd - 2, "national (without 86)");
        }
    }

    /* Keep the first of identical candidates, long enough ones only. */
    for (i = 0; i < sc->n_cands; i++) {
        struct cand *c = &sc->cands[i];
        const unsigned char *p = sc->work.data + c->off;
        struct needle *nd_;
        int dup = 0;

        for (j = 0; j < i && !dup; j++)
            dup = sc->cands[j].len == c->len &&
                  memcmp(sc->work.data + sc->cands[j].off, p, c->len) == 0;
        if (dup)
            continue;
        if (c->weight < sc->min || c->len < sc->min) {
            sc->n_skipped++;
            continue;
        }
        sc->needles = grow(sc->needles, &sc->needles_cap, sc->n_needles, 1, sizeof(*sc->needles));
        nd_ = &sc->needles[sc->n_needles++];
        nd_->off = sc->pool.len;
        nd_->len = c->len;
        nd_->value = value;
        nd_->next = NO_NEEDLE;
        nd_->label = c->label;
        bytes_add(&sc->pool, p, c->len);
    }
    free(lower);
    free(upper);
    free(digits);
}

/* Reads the values file; every failure is fatal (exit 2). */
static void scan_read_values(struct scan *sc, const char *path)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint32_t lineno = 0, *cp;

    if (f == NULL)
        fatal("cannot open '%s': %s", path, strerror(errno));
    while ((got = getline(&line, &cap, f)) >= 0) {
        size_t a = 0, b = (size_t)got;

        lineno++;
        while (a < b && strchr(" \t\r\n\v\f", line[a]) != NULL)
            a++;
        while (b > a && strchr(" \t\r\n\v\f", line[b - 1]) != NULL)
            b--;
        if (a == b)
            continue;
        sc->lines = grow(sc->lines, &sc->lines_cap, sc->n_values, 1, sizeof(*sc->lines));
        cp = NULL;
        if (utf8_decode((const unsigned char *)line + a, b - a, &cp) < 0)
            warn("line %" PRIu32 " of '%s' is not UTF-8: no UTF-16, UTF-32 or JSON needles", lineno,
                 path);
        free(cp);
        scan_add_value(sc, (const unsigned char *)line + a, b - a);
        sc->lines[sc->n_values++] = lineno;
    }
    if (ferror(f))
        fatal("cannot read '%s': %s", path, strerror(errno));
    fclose(f);
    free(line);
    if (sc->n_values == 0)
        fatal("no values in '%s'", path);
}

static uint64_t hash_window(const unsigned char *p, size_t n)
{
    uint64_t h = 0;
    size_t i;

    for (i = 0; i < n; i++)
        h = h * HASH_BASE + p[i];
    return h;
}

static uint32_t bucket_of(const struct scan *sc, uint64_t h)
{
    h ^= h >> 29;
    return (uint32_t)((h * UINT64_C(0x9e3779b97f4a7c15)) >> (64 - sc->bits));
}

static int by_length(const void *a, const void *b)
{
    const struct needle *x = a, *y = b;

    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->value < y->value ? -1 : x->value > y->value;
}

/* Builds the hash table; each bucket's chain runs from longest to shortest. */
static void scan_build(struct scan *sc)
{
    size_t i;

    sc->bits = 10;
    while (sc->bits < 30 && ((size_t)1 << sc->bits) < 4 * sc->n_needles)
        sc->bits++;
    sc->heads = xrealloc(NULL, ((size_t)1 << sc->bits) * sizeof(*sc->heads));
    memset(sc->heads, 0xff, ((size_t)1 << sc->bits) * sizeof(*sc->heads));
    sc->base_pow = 1;
    for (i = 0; i < sc->min; i++)
        sc->base_pow *= HASH_BASE;
    qsort(sc->needles, sc->n_needles, sizeof(*sc->needles), by_length);
    for (i = 0; i < sc->n_needles; i++) {
        uint32_t b = bucket_of(sc, hash_window(sc->pool.data + sc->needles[i].off, sc->min));

        sc->needles[i].next = sc->heads[b];
        sc->heads[b] = (uint32_t)i;
    }
    sc->last_end = xcalloc(sc->n_values, sizeof(*sc->last_end));
    sc->last_file = xcalloc(sc->n_values, sizeof(*sc->last_file));
}

/* Verifies the needles of chain e against offset pos of p[0..n), reports hits. */
static void scan_check(struct scan *sc, const char *path, const unsigned char *p, size_t n,
                       size_t pos, uint32_t e)
{
    for (; e != NO_NEEDLE; e = sc->needles[e].next) {
        const struct needle *nd = &sc->needles[e];
        uint32_t v = nd->value;

        if (nd->len > n - pos || memcmp(p + pos, sc->pool.data + nd->off, nd->len) != 0)
            continue;
        /* Inside a hit of the same value already reported for this file. */
        if (sc->last_file[v] == sc->file_no && pos + nd->len <= sc->last_end[v])
            continue;
        sc->last_file[v] = sc->file_no;
        sc->last_end[v] = pos + nd->len;
        if (sc->n_hits < MAX_SHOWN)
            printf("%s: offset %zu: value #%" PRIu32 " (line %" PRIu32 " of %s) as %s\n", path, pos,
                   sc->lines[v], sc->lines[v], sc->values_path, nd->label);
        sc->n_hits++;
    }
}

static void scan_bytes(struct scan *sc, const char *path, const unsigned char *p, size_t n)
{
    const size_t m = sc->min;
    const uint64_t pw = sc->base_pow;
    const uint32_t *heads = sc->heads;
    uint64_t h;
    size_t pos;

    if (n < m)
        return;
    h = hash_window(p, m);
    for (pos = 0;; pos++) {
        uint32_t e = heads[bucket_of(sc, h)];

        if (e != NO_NEEDLE)
            scan_check(sc, path, p, n, pos, e);
        if (pos + m >= n)
            break;
        h = h * HASH_BASE + p[pos + m] - p[pos] * pw;
    }
}

/*
 * A file found in a directory may be gone when it is opened: a database
 * server running beside the scan replaces its own files (PostgreSQL's
 * pg_internal.init).  A file that no longer exists holds nothing to find,
 * so it is counted, not an error; a path given on the command line must
 * exist.
 */
static int vanished(struct scan *sc, int top)
{
    if (top || errno != ENOENT)
        return 0;
    sc->n_vanished++;
    return 1;
}

static void scan_file(struct scan *sc, const char *path, int top)
{
    struct stat st;
    void *map = MAP_FAILED;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0 && vanished(sc, top))
        goto out;
    if (fd < 0) {
        warn("cannot open '%s': %s", path, strerror(errno));
        sc->errors++;
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        warn("cannot stat '%s': %s", path, strerror(errno));
        sc->errors++;
        goto out;
    }
    if (!S_ISREG(st.st_mode))
        goto out;
    sc->n_files++;
    sc->file_no++;
    if (st.st_size == 0)
        goto out;
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        warn("cannot map '%s': %s", path, strerror(errno));
        sc->errors++;
        goto out;
    }
    scan_bytes(sc, path, map, (size_t)st.st_size);
    sc->n_bytes += (uint64_t)st.st_size;
out:
    if (map != MAP_FAILED)
        munmap(map, (size_t)st.st_size);
    if (fd >= 0)
        close(fd);
}

/* Scans path: a directory is recursed, symbolic links are not followed. */
static void scan_path(struct scan *sc, const char *path, int top)
{
    struct stat st;
    struct dirent **list = NULL;
    int n, i;

    if (lstat(path, &st) != 0) {
        if (vanished(sc, top))
            return;
        warn("cannot stat '%s': %s", path, strerror(errno));
        sc->errors++;
        return;
    }
    if (S_ISREG(st.st_mode)) {
        scan_file(sc, path, top);
        return;
    }
    if (S_ISLNK(st.st_mode) && top)
        warn("not following symbolic link '%s'", path);
    if (!S_ISDIR(st.st_mode))
        return;
    n = scandir(path, &list, NULL, alphasort);
    if (n < 0) {
        warn("cannot read directory '%s': %s", path, strerror(errno));
        sc->errors++;
        return;
    }
    for (i = 0; i < n; i++) {
        const char *name = list[i]->d_name;

        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            size_t len = strlen(path) + strlen(name) + 2;
            char *child = xrealloc(NULL, len);
            int slash = path[0] != '\0' && path[strlen(path) - 1] != '/';

            snprintf(child, len, "%s%s%s", path, slash ? "/" : "", name);
            scan_path(sc, child, 0);
            free(child);
        }
        free(list[i]);
    }
    free(list);
}

static void scan_release(struct scan *sc)
{
    size_t i;

    for (i = 0; i < sc->n_labels; i++)
        free(sc->labels[i]);
    free(sc->labels);
    free(sc->pool.data);
    free(sc->work.data);
    free(sc->cands);
    free(sc->needles);
    free(sc->lines);
    free(sc->heads);
    free(sc->last_end);
    free(sc->last_file);
}

static void usage(void)
{
    fputs("usage: scan-plaintext [--min N] VALUES_FILE PATH...\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    struct scan sc = {0};
    int i = 1, rc;

    sc.min = DEFAULT_MIN;
    while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
        const char *arg = argv[i++], *num = NULL;
        char *end;
        unsigned long v;

        if (strcmp(arg, "--") == 0)
            break;
        if (strcmp(arg, "--min") == 0 && i < argc)
            num = argv[i++];
        else if (strncmp(arg, "--min=", 6) == 0)
            num = arg + 6;
        else
            usage();
        errno = 0;
        v = strtoul(num, &end, 10);
        if (errno != 0 || end == num || *end != '\0' || v < 1 || v > MAX_MIN)
            fatal("--min must be a number from 1 to %d", MAX_MIN);
        sc.min = v;
    }
    if (argc - i < 2)
        usage();
    sc.values_path = argv[i++];
    scan_read_values(&sc, sc.values_path);
    if (sc.n_skipped > 0)
        fprintf(stderr,
                "scan-plaintext: skipped %zu needles shorter than %zu bytes "
                "(integers: significant bytes + 1)\n",
                sc.n_skipped, sc.min);
    scan_build(&sc);
    for (; i < argc; i++)
        scan_path(&sc, argv[i], 1);
    if (sc.n_hits > MAX_SHOWN)
        printf("... and %" PRIu64 " more hits\n", sc.n_hits - MAX_SHOWN);
    if (sc.n_hits > 0)
        printf("%" PRIu64 " hits\n", sc.n_hits);
    fflush(stdout);
    if (sc.n_vanished > 0)
        fprintf(stderr, "scan-plaintext: %" PRIu64 " files were gone before they could be read\n",
                sc.n_vanished);
    fprintf(stderr,
            "scanned %" PRIu64 " files, %" PRIu64 " bytes, %zu values, %zu needles: %" PRIu64
            " hits\n",
            sc.n_files, sc.n_bytes, sc.n_values, sc.n_needles, sc.n_hits);
    rc = sc.errors ? 2 : sc.n_hits ? 1 : 0;
    scan_release(&sc);
    return rc;
}
