/*
 * Unit tests of TOTP and the enrolment QR codes: RFC 6238 and RFC 4648
 * known answers, the otpauth:// URI, the one-time check window, and QR
 * renderings decoded back to the symbol libqrencode made.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "auth/totp.h"
#include "vault/vault.h"

/* The RFC 6238 appendix B key for HMAC-SHA1. */
static const unsigned char rfc_secret[] = "12345678901234567890";
#define RFC_SECRET_LEN 20

/* RFC 6238 appendix B, SHA1 rows: time and the 8-digit TOTP. */
static const struct {
    int64_t time;
    const char *code8;
} rfc6238[] = {
    {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
    {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
};

/* RFC 4648 section 10 test vectors, base32 without padding. */
static const struct {
    const char *plain;
    const char *base32;
    const char *padded;
} rfc4648[] = {
    {"", "", ""},
    {"f", "MY", "MY======"},
    {"fo", "MZXQ", "MZXQ===="},
    {"foo", "MZXW6", "MZXW6==="},
    {"foob", "MZXW6YQ", "MZXW6YQ="},
    {"fooba", "MZXW6YTB", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI", "MZXW6YTBOI======"},
};

/* A time inside step 37037037 (1111111110 .. 1111111139). */
#define T_NOW  1111111111
#define T_STEP (T_NOW / TOTP_PERIOD)

static int group_setup(void **state)
{
    (void)state;
    return vault_global_init() == CU_OK ? 0 : -1;
}

/* The code of `step` for the RFC key, into `out`. */
static void rfc_code_at_step(int64_t step, char out[7])
{
    assert_int_equal(totp_code(rfc_secret, RFC_SECRET_LEN, step * TOTP_PERIOD, out), CU_OK);
}

static void *thread_codes(void *arg)
{
    char code[7];
    size_t i, r;
    int *ok = arg;

    *ok = 1;
    for (r = 0; r < 20; r++)
        for (i = 0; i < CU_ARRAY_LEN(rfc6238); i++)
            if (totp_code(rfc_secret, RFC_SECRET_LEN, rfc6238[i].time, code) != CU_OK ||
                strcmp(code, rfc6238[i].code8 + 2) != 0)
                *ok = 0;
    return NULL;
}

/* First test of the run: liboath's one-time initialisation raced by threads. */
static void test_first_use_from_threads(void **state)
{
    pthread_t th[8];
    int ok[8];
    size_t i;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(th); i++)
        assert_int_equal(pthread_create(&th[i], NULL, thread_codes, &ok[i]), 0);
    for (i = 0; i < CU_ARRAY_LEN(th); i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(ok[i], 1);
    }
}

static void test_rfc6238_vectors(void **state)
{
    char code[7];
    size_t i;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(rfc6238); i++) {
        memset(code, 'x', sizeof(code));
        assert_int_equal(totp_code(rfc_secret, RFC_SECRET_LEN, rfc6238[i].time, code), CU_OK);
        /* The 6-digit code is the last 6 digits of the 8-digit one. */
        assert_string_equal(code, rfc6238[i].code8 + 2);
    }
    /* Every second of a step gives the same code, the next step another. */
    assert_int_equal(totp_code(rfc_secret, RFC_SECRET_LEN, 1111111110, code), CU_OK);
    assert_string_equal(code, "050471");
    assert_int_equal(totp_code(rfc_secret, RFC_SECRET_LEN, 1111111139, code), CU_OK);
    assert_string_equal(code, "050471");
    assert_int_equal(totp_code(rfc_secret, RFC_SECRET_LEN, 1111111140, code), CU_OK);
    assert_string_not_equal(code, "050471");
}

static void test_code_bad_input(void **state)
{
    char code[7];

    (void)state;
    assert_int_equal(totp_code(rfc_secret, 0, T_NOW, code), CU_ERR_INVALID);
    assert_int_equal(totp_code(rfc_secret, RFC_SECRET_LEN, -1, code), CU_ERR_INVALID);
}

static void test_base32_rfc4648_vectors(void **state)
{
    unsigned char out[16];
    size_t i, len;
    char *text;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(rfc4648); i++) {
        const char *plain = rfc4648[i].plain;

        text = totp_secret_base32((const unsigned char *)plain, strlen(plain));
        assert_string_equal(text, rfc4648[i].base32);
        free(text);

        len = sizeof(out);
        assert_int_equal(totp_secret_from_base32(rfc4648[i].base32, out, &len), CU_OK);
        assert_int_equal(len, strlen(plain));
        assert_memory_equal(out, plain, len);

        len = sizeof(out);
        assert_int_equal(totp_secret_from_base32(rfc4648[i].padded, out, &len), CU_OK);
        assert_int_equal(len, strlen(plain));
        assert_memory_equal(out, plain, len);
    }
    /* As an app or a person might type it: lower case, grouped. */
    len = sizeof(out);
    assert_int_equal(totp_secret_from_base32("mzxw 6ytb-oi======", out, &len), CU_OK);
    assert_int_equal(len, 6);
    assert_memory_equal(out, "foobar", 6);

    text = totp_secret_base32(rfc_secret, RFC_SECRET_LEN);
    assert_string_equal(text, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    free(text);
}

static void test_base32_round_trip(void **state)
{
    unsigned char secret[41], back[41];
    size_t n, len;
    char *text;

    (void)state;
    for (n = 0; n <= sizeof(secret); n++) {
        vault_random(secret, sizeof(secret));
        text = totp_secret_base32(secret, n);
        assert_int_equal(strlen(text), (n * 8 + 4) / 5);
        len = sizeof(back);
        assert_int_equal(totp_secret_from_base32(text, back, &len), CU_OK);
        assert_int_equal(len, n);
        assert_memory_equal(back, secret, n);
        free(text);
    }
}

static void test_base32_refused(void **state)
{
    static const char *const bad[] = {
        "M",          /* 1 character: 5 bits, no byte */
        "MZX",        /* 3 characters */
        "MZXW6Y",     /* 6 characters */
        "MZ",         /* "f" with non-zero pad bits (MY is canonical) */
        "MZXW1",      /* '1' is not in the alphabet */
        "MZXW0",      /* nor is '0' */
        "MZ=XW",      /* padding before the end */
        "MZXW6YT\n",  /* control character */
        "MZXW6YT\xc3" /* a non-ASCII byte */
    };
    unsigned char out[16];
    size_t i, len;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(bad); i++) {
        len = sizeof(out);
        assert_int_equal(totp_secret_from_base32(bad[i], out, &len), CU_ERR_INVALID);
        assert_int_equal(len, sizeof(out));
    }
    /* Too long for the room given: refused, and the partial output wiped. */
    memset(out, 0xaa, sizeof(out));
    len = 5;
    assert_int_equal(totp_secret_from_base32("MZXW6YTBOI", out, &len), CU_ERR_INVALID);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[4], 0);
    assert_int_equal(out[5], 0xaa);
    len = 6;
    assert_int_equal(totp_secret_from_base32("MZXW6YTBOI", out, &len), CU_OK);
}

static void test_secret_new(void **state)
{
    unsigned char a[TOTP_SECRET_BYTES + 1], b[TOTP_SECRET_BYTES];
    static const unsigned char zero[TOTP_SECRET_BYTES];
    char *text;

    (void)state;
    a[TOTP_SECRET_BYTES] = 0x5a;
    totp_secret_new(a);
    totp_secret_new(b);
    assert_int_equal(a[TOTP_SECRET_BYTES], 0x5a); /* writes exactly 20 bytes */
    assert_memory_not_equal(a, b, TOTP_SECRET_BYTES);
    assert_memory_not_equal(a, zero, TOTP_SECRET_BYTES);
    text = totp_secret_base32(a, TOTP_SECRET_BYTES);
    assert_int_equal(strlen(text), TOTP_SECRET_BASE32_LEN);
    free(text);
}

static void test_uri(void **state)
{
    char *uri;

    (void)state;
    uri = totp_uri("Custodian Demo", "jo doe@store-1", rfc_secret, RFC_SECRET_LEN);
    assert_string_equal(uri, "otpauth://totp/Custodian%20Demo:jo%20doe%40store-1"
                             "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
                             "&issuer=Custodian%20Demo&algorithm=SHA1&digits=6&period=30");
    free(uri);

    /* Reserved characters and UTF-8 bytes; unreserved ones kept as they are. */
    uri = totp_uri("A:B/C?&=#+", "\xc3\xbcser_1.x~y", rfc_secret, 5);
    assert_string_equal(uri, "otpauth://totp/A%3AB%2FC%3F%26%3D%23%2B:%C3%BCser_1.x~y"
                             "?secret=GEZDGNBV"
                             "&issuer=A%3AB%2FC%3F%26%3D%23%2B&algorithm=SHA1&digits=6&period=30");
    free(uri);
}

static void test_check_window(void **state)
{
    char prev[7], cur[7], next[7];
    int64_t matched;

    (void)state;
    rfc_code_at_step(T_STEP - 1, prev);
    rfc_code_at_step(T_STEP, cur);
    rfc_code_at_step(T_STEP + 1, next);
    assert_string_equal(cur, "050471");

    matched = 0;
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, cur, T_NOW, -1, &matched), CU_OK);
    assert_int_equal(matched, T_STEP);
    matched = 0;
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, prev, T_NOW, -1, &matched), CU_OK);
    assert_int_equal(matched, T_STEP - 1);
    matched = 0;
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, next, T_NOW, -1, &matched), CU_OK);
    assert_int_equal(matched, T_STEP + 1);

    /* At the first and last second of the step the window is the same. */
    matched = 0;
    assert_int_equal(
        totp_check(rfc_secret, RFC_SECRET_LEN, prev, T_STEP * TOTP_PERIOD, -1, &matched), CU_OK);
    assert_int_equal(matched, T_STEP - 1);
    matched = 0;
    assert_int_equal(
        totp_check(rfc_secret, RFC_SECRET_LEN, next, T_STEP * TOTP_PERIOD + 29, -1, &matched),
        CU_OK);
    assert_int_equal(matched, T_STEP + 1);

    /* Spaces are skipped: "050 471" as an app shows it. */
    matched = 0;
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, " 050 471 ", T_NOW, -1, &matched),
                     CU_OK);
    assert_int_equal(matched, T_STEP);

    /* Near the epoch there is no step -1. */
    rfc_code_at_step(0, cur);
    matched = -5;
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, cur, 10, -1, &matched), CU_OK);
    assert_int_equal(matched, 0);
}

static void test_check_refuses_far_steps(void **state)
{
    char code[7], window[3][7];
    int64_t matched = 42;
    int64_t far[] = {T_STEP - 2, T_STEP + 2, T_STEP - 100, T_STEP + 3};
    size_t i, j;

    (void)state;
    for (j = 0; j < 3; j++)
        rfc_code_at_step(T_STEP - 1 + (int64_t)j, window[j]);
    for (i = 0; i < CU_ARRAY_LEN(far); i++) {
        rfc_code_at_step(far[i], code);
        for (j = 0; j < 3; j++) /* no accidental collision with the window */
            assert_string_not_equal(code, window[j]);
        assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, code, T_NOW, -1, &matched),
                         CU_ERR_INTEGRITY);
    }
    /* A right code under another secret is wrong. */
    rfc_code_at_step(T_STEP, code);
    assert_int_equal(totp_check((const unsigned char *)"another secret 20 by", RFC_SECRET_LEN, code,
                                T_NOW, -1, &matched),
                     CU_ERR_INTEGRITY);
    /* One digit off. */
    code[5] = code[5] == '9' ? '0' : (char)(code[5] + 1);
    for (j = 0; j < 3; j++)
        assert_string_not_equal(code, window[j]);
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, code, T_NOW, -1, &matched),
                     CU_ERR_INTEGRITY);
    assert_int_equal(matched, 42);
}

static void test_check_refuses_reuse(void **state)
{
    char prev[7], cur[7], next[7];
    int64_t matched = 0, last;

    (void)state;
    rfc_code_at_step(T_STEP - 1, prev);
    rfc_code_at_step(T_STEP, cur);
    rfc_code_at_step(T_STEP + 1, next);

    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, cur, T_NOW, -1, &matched), CU_OK);
    last = matched;
    /* The same code again, in the same step or the next. */
    matched = 7;
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, cur, T_NOW, last, &matched),
                     CU_ERR_CONFLICT);
    assert_int_equal(
        totp_check(rfc_secret, RFC_SECRET_LEN, cur, T_NOW + TOTP_PERIOD, last, &matched),
        CU_ERR_CONFLICT);
    /* An older code than the last one used, still inside the window. */
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, prev, T_NOW, last, &matched),
                     CU_ERR_CONFLICT);
    assert_int_equal(matched, 7);
    /* A later code is still fine, and then the current one is superseded. */
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, next, T_NOW, last, &matched), CU_OK);
    assert_int_equal(matched, T_STEP + 1);
    last = matched;
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, cur, T_NOW, last, &matched),
                     CU_ERR_CONFLICT);
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, next, T_NOW, last, &matched),
                     CU_ERR_CONFLICT);
}

/*
 * Steps 37079356 and 37079357 share the code 186519 under the RFC key (found
 * by search).  The later step must be the one taken, else the same code
 * would be accepted a second time for the later step.
 */
static void test_check_colliding_steps(void **state)
{
    const int64_t s = 37079356;
    char a[7], b[7];
    int64_t matched = 0;

    (void)state;
    rfc_code_at_step(s, a);
    rfc_code_at_step(s + 1, b);
    assert_string_equal(a, "186519");
    assert_string_equal(b, "186519");
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, a, s * TOTP_PERIOD + 5, -1, &matched),
                     CU_OK);
    assert_int_equal(matched, s + 1);
    assert_int_equal(
        totp_check(rfc_secret, RFC_SECRET_LEN, a, s * TOTP_PERIOD + 5, matched, &matched),
        CU_ERR_CONFLICT);
    assert_int_equal(
        totp_check(rfc_secret, RFC_SECRET_LEN, a, (s + 1) * TOTP_PERIOD, matched, &matched),
        CU_ERR_CONFLICT);
}

static void test_check_refuses_malformed(void **state)
{
    static const char *const bad[] = {
        "",
        "05047",    /* too short */
        "0504711",  /* too long */
        "050471 1", /* too long after spaces */
        "05o471",   /* a letter */
        "-50471",   /* a sign */
        "050\t471", /* only spaces are skipped */
        "\xef\xbc\x90"
        "50471",    /* a full-width digit */
        "050471\n", /* a trailing newline */
        "      ",   /* only spaces */
    };
    int64_t matched = 42;
    size_t i;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(bad); i++)
        assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, bad[i], T_NOW, -1, &matched),
                         CU_ERR_INVALID);
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, NULL, T_NOW, -1, &matched),
                     CU_ERR_INVALID);
    assert_int_equal(totp_check(rfc_secret, RFC_SECRET_LEN, "050471", -1, -1, &matched),
                     CU_ERR_INVALID);
    assert_int_equal(totp_check(rfc_secret, 0, "050471", T_NOW, -1, &matched), CU_ERR_INVALID);
    assert_int_equal(matched, 42);
}

/*
 * Decodes a qr_terminal() rendering back to a matrix of dark modules
 * (size x size, quiet zone included); the caller frees it.
 */
static unsigned char *terminal_decode(const char *text, int *size_out)
{
    const char *p = text, *nl;
    unsigned char *m;
    int size, rows = 0, x, y, top, bottom;

    nl = strchr(p, '\n');
    assert_non_null(nl);
    /* Count characters on the first line: a space or a 3-byte glyph each. */
    for (size = 0, p = text; p < nl; size++)
        p += *p == ' ' ? 1 : 3;
    m = calloc((size_t)size * (size_t)size + (size_t)size, 1);
    assert_non_null(m);
    for (p = text, y = 0; *p != '\0'; y += 2, rows++) {
        for (x = 0; *p != '\n'; x++) {
            assert_true(x < size);
            if (*p == ' ') {
                top = bottom = 0;
                p++;
            } else if (strncmp(p, "\xe2\x96\x88", 3) == 0) {
                top = bottom = 1;
                p += 3;
            } else if (strncmp(p, "\xe2\x96\x80", 3) == 0) {
                top = 1, bottom = 0;
                p += 3;
            } else if (strncmp(p, "\xe2\x96\x84", 3) == 0) {
                top = 0, bottom = 1;
                p += 3;
            } else {
                top = bottom = 0;
                fail_msg("unexpected byte 0x%02x in the terminal rendering", (unsigned char)*p);
            }
            /* Glyphs are light modules. */
            m[y * size + x] = (unsigned char)!top;
            if (y + 1 < size)
                m[(y + 1) * size + x] = (unsigned char)!bottom;
            else
                assert_int_equal(bottom, 0); /* below the symbol: background */
        }
        assert_int_equal(x, size);
        p++;
    }
    assert_int_equal(rows, (size + 1) / 2);
    *size_out = size;
    return m;
}

/* Asserts that matrix `m` (with quiet zone) is exactly the symbol `qr`. */
static void assert_matrix_is(const unsigned char *m, int size, const QRcode *qr)
{
    int x, y, dark;

    assert_int_equal(size, qr->width + 2 * QR_QUIET_ZONE);
    for (y = 0; y < size; y++)
        for (x = 0; x < size; x++) {
            int qx = x - QR_QUIET_ZONE, qy = y - QR_QUIET_ZONE;

            dark = qx >= 0 && qy >= 0 && qx < qr->width && qy < qr->width
                       ? qr->data[qy * qr->width + qx] & 1
                       : 0;
            assert_int_equal(m[y * size + x], dark);
        }
}

static void test_qr_terminal(void **state)
{
    struct buf out = BUF_INIT;
    unsigned char *m;
    QRcode *qr;
    int size;
    char *uri;

    (void)state;
    /* 11 alphanumeric characters fit version 1-M: 21 modules, 29 with the quiet zone. */
    assert_int_equal(qr_terminal("HELLO WORLD", &out), CU_OK);
    m = terminal_decode(out.data, &size);
    assert_int_equal(size, 21 + 2 * QR_QUIET_ZONE);
    qr = QRcode_encodeString("HELLO WORLD", 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    assert_int_equal(qr->version, 1);
    assert_matrix_is(m, size, qr);
    /* The three finder patterns' dark corners, as a sanity check of the reading. */
    assert_int_equal(m[QR_QUIET_ZONE * size + QR_QUIET_ZONE], 1);
    assert_int_equal(m[QR_QUIET_ZONE * size + size - QR_QUIET_ZONE - 1], 1);
    assert_int_equal(m[(size - QR_QUIET_ZONE - 1) * size + QR_QUIET_ZONE], 1);
    QRcode_free(qr);
    free(m);

    /* A real enrolment URI needs a larger version; appended to what is there. */
    buf_reset(&out);
    buf_addstr(&out, "scan this:\n");
    uri = totp_uri("Custodian", "clerk@store-1", rfc_secret, RFC_SECRET_LEN);
    assert_int_equal(qr_terminal(uri, &out), CU_OK);
    assert_memory_equal(out.data, "scan this:\n", 11);
    m = terminal_decode(out.data + 11, &size);
    qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    assert_true(qr->version > 1);
    assert_matrix_is(m, size, qr);
    QRcode_free(qr);
    free(m);
    free(uri);
    buf_release(&out);
}

static void test_qr_svg(void **state)
{
    struct buf out = BUF_INIT;
    QRcode *qr;
    const char *p, *d;
    int x, y, w, n, size, dark = 0, area = 0;
    char expect[128];

    (void)state;
    assert_int_equal(qr_svg("HELLO WORLD", &out), CU_OK);
    size = 21 + 2 * QR_QUIET_ZONE;
    assert_true(strncmp(out.data, "<svg", 4) == 0);
    snprintf(expect, sizeof(expect), "viewBox=\"0 0 %d %d\"", size, size);
    assert_non_null(strstr(out.data, expect));
    assert_non_null(strstr(out.data, "xmlns=\"http://www.w3.org/2000/svg\""));
    assert_string_equal(out.data + out.len - 7, "</svg>\n");
    /* One path, one closing tag, and tags balanced. */
    p = strstr(out.data, "<path");
    assert_non_null(p);
    assert_null(strstr(p + 1, "<path"));
    assert_null(strstr(strstr(out.data, "</svg>") + 1, "<svg"));
    assert_null(strchr(out.data, '&'));

    /* Every subpath is a run inside the symbol, and the runs cover exactly the dark modules. */
    qr = QRcode_encodeString("HELLO WORLD", 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    assert_non_null(qr);
    for (n = 0; n < qr->width * qr->width; n++)
        dark += qr->data[n] & 1;
    d = strstr(p, " d=\"");
    assert_non_null(d);
    for (d += 4; *d == 'M'; d += n) {
        int w2;

        assert_int_equal(sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &w, &w2, &n), 4);
        assert_int_equal(w, w2);
        assert_true(x >= QR_QUIET_ZONE && y >= QR_QUIET_ZONE);
        assert_true(x + w <= size - QR_QUIET_ZONE && y < size - QR_QUIET_ZONE);
        for (int i = 0; i < w; i++)
            assert_int_equal(qr->data[(y - QR_QUIET_ZONE) * qr->width + x - QR_QUIET_ZONE + i] & 1,
                             1);
        area += w;
    }
    assert_string_equal(d, "\"/></svg>\n");
    assert_int_equal(area, dark);
    QRcode_free(qr);
    buf_release(&out);
}

static void test_qr_too_long(void **state)
{
    struct buf out = BUF_INIT;
    char *big = malloc(4001);

    (void)state;
    assert_non_null(big);
    memset(big, 'x', 4000);
    big[4000] = '\0';
    assert_int_equal(qr_terminal(big, &out), CU_ERR_INVALID);
    assert_int_equal(qr_svg(big, &out), CU_ERR_INVALID);
    assert_int_equal(out.len, 0);
    assert_int_equal(qr_terminal("", &out), CU_ERR_INVALID);
    free(big);
    buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_use_from_threads),
        cmocka_unit_test(test_rfc6238_vectors),
        cmocka_unit_test(test_code_bad_input),
        cmocka_unit_test(test_base32_rfc4648_vectors),
        cmocka_unit_test(test_base32_round_trip),
        cmocka_unit_test(test_base32_refused),
        cmocka_unit_test(test_secret_new),
        cmocka_unit_test(test_uri),
        cmocka_unit_test(test_check_window),
        cmocka_unit_test(test_check_refuses_far_steps),
        cmocka_unit_test(test_check_refuses_reuse),
        cmocka_unit_test(test_check_colliding_steps),
        cmocka_unit_test(test_check_refuses_malformed),
        cmocka_unit_test(test_qr_terminal),
        cmocka_unit_test(test_qr_svg),
        cmocka_unit_test(test_qr_too_long),
    };

    return cmocka_run_group_tests(tests, group_setup, NULL);
}
