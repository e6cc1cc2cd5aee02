/*
 * TOTP (RFC 6238) for staff log-in: secrets, their base32 and otpauth://
 * forms, code generation through liboath, and the one-time check.  The
 * invariants are listed in totp.h.
 */
#include "totp.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <liboath/oath.h>

#include "../vault/vault.h"

static const char b32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_init_rc = OATH_OK;

static void oath_init_once(void)
{
    oath_init_rc = oath_init();
}

void totp_secret_new(unsigned char secret[TOTP_SECRET_BYTES])
{
    vault_random(secret, TOTP_SECRET_BYTES);
}

char *totp_secret_base32(const unsigned char *secret, size_t len)
{
    char *text = xmalloc((len * 8 + 4) / 5 + 1);
    size_t i, n = 0;
    unsigned bits = 0, nbits = 0;

    for (i = 0; i < len; i++) {
        bits = (bits << 8) | secret[i];
        nbits += 8;
        while (nbits >= 5) {
            nbits -= 5;
            text[n++] = b32_alphabet[(bits >> nbits) & 31];
        }
    }
    if (nbits > 0)
        text[n++] = b32_alphabet[(bits << (5 - nbits)) & 31];
    text[n] = '\0';
    cu_wipe(&bits, sizeof(bits));
    return text;
}

/* The value of base32 character `c` (either case), or -1. */
static int b32_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= '2' && c <= '7')
        return c - '2' + 26;
    return -1;
}

int totp_secret_from_base32(const char *text, unsigned char *out, size_t *len)
{
    size_t room = *len, n = 0, nchars = 0;
    unsigned bits = 0, nbits = 0;
    int rc = CU_ERR_INVALID, v, padding = 0;
    const char *p;

    for (p = text; *p != '\0'; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (*p == '=') {
            padding = 1;
            continue;
        }
        v = b32_value(*p);
        if (v < 0 || padding)
            goto out;
        nchars++;
        bits = (bits << 5) | (unsigned)v;
        nbits += 5;
        if (nbits >= 8) {
            nbits -= 8;
            if (n == room)
                goto out;
            out[n++] = (unsigned char)(bits >> nbits);
        }
    }
    /* 1, 3 or 6 characters past a multiple of 8 leave a whole unused 5-bit group. */
    if (nchars % 8 == 1 || nchars % 8 == 3 || nchars % 8 == 6)
        goto out;
    if ((bits & ((1u << nbits) - 1)) != 0)
        goto out;
    *len = n;
    rc = CU_OK;
out:
    if (rc != CU_OK)
        cu_wipe(out, room);
    cu_wipe(&bits, sizeof(bits));
    return rc;
}

/* Appends `s` percent-encoded (everything but RFC 3986 unreserved characters). */
static void add_percent_encoded(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p != '\0'; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            buf_addch(b, (char)*p);
        } else {
            buf_addch(b, '%');
            buf_addch(b, hex[*p >> 4]);
            buf_addch(b, hex[*p & 15]);
        }
    }
}

char *totp_uri(const char *issuer, const char *account, const unsigned char *secret, size_t len)
{
    struct buf b = BUF_INIT;
    char *text = totp_secret_base32(secret, len);
    size_t text_len = strlen(text);

    buf_addstr(&b, "otpauth://totp/");
    add_percent_encoded(&b, issuer);
    buf_addch(&b, ':');
    add_percent_encoded(&b, account);
    /* Room for the rest now, so that the buffer holding the secret never moves. */
    buf_grow(&b, text_len + strlen(issuer) * 3 + 128);
    buf_addstr(&b, "?secret=");
    buf_addstr(&b, text);
    buf_addstr(&b, "&issuer=");
    add_percent_encoded(&b, issuer);
    buf_addf(&b, "&algorithm=SHA1&digits=%d&period=%d", TOTP_DIGITS, TOTP_PERIOD);
    cu_wipe(text, text_len);
    free(text);
    return buf_detach(&b, NULL);
}

/* The code of time step `step` (>= 0) into `out`. */
static int code_at_step(const unsigned char *secret, size_t len, int64_t step, char out[7])
{
    time_t t;

    if (len == 0 || step < 0 || step > INT64_MAX / TOTP_PERIOD)
        return CU_ERR_INVALID;
    t = (time_t)(step * TOTP_PERIOD);
    if ((int64_t)t != step * TOTP_PERIOD)
        return CU_ERR_INVALID;
    pthread_once(&oath_once, oath_init_once);
    if (oath_init_rc != OATH_OK)
        return CU_ERR_INTERNAL;
    if (oath_totp_generate((const char *)secret, len, t, TOTP_PERIOD, 0, TOTP_DIGITS, out) !=
        OATH_OK)
        return CU_ERR_INTERNAL;
    return CU_OK;
}

int totp_code(const unsigned char *secret, size_t len, int64_t unix_time, char out[7])
{
    if (unix_time < 0)
        return CU_ERR_INVALID;
    return code_at_step(secret, len, unix_time / TOTP_PERIOD, out);
}

/*
 * Copies the digits of `code` to `digits`, skipping spaces: CU_OK when
 * there are exactly TOTP_DIGITS of them and nothing else.
 */
static int code_normalise(const char *code, char digits[TOTP_DIGITS])
{
    size_t n = 0;

    if (code == NULL)
        return CU_ERR_INVALID;
    for (; *code != '\0'; code++) {
        if (*code == ' ')
            continue;
        if (*code < '0' || *code > '9' || n == TOTP_DIGITS)
            return CU_ERR_INVALID;
        digits[n++] = *code;
    }
    return n == TOTP_DIGITS ? CU_OK : CU_ERR_INVALID;
}

int totp_check(const unsigned char *secret, size_t len, const char *code, int64_t unix_time,
               int64_t last_used_step, int64_t *matched_step)
{
    char typed[TOTP_DIGITS], expected[7];
    int64_t step, s, mask, found = -1;
    int rc;

    rc = code_normalise(code, typed);
    if (rc != CU_OK)
        goto out;
    if (unix_time < 0 || len == 0) {
        rc = CU_ERR_INVALID;
        goto out;
    }
    step = unix_time / TOTP_PERIOD;
    /*
     * Every candidate is computed and compared, and the match is recorded
     * without a branch on it; the latest match wins.
     */
    for (s = step - 1; s <= step + 1; s++) {
        if (s < 0)
            continue;
        rc = code_at_step(secret, len, s, expected);
        if (rc != CU_OK)
            goto out;
        mask = -(int64_t)vault_equal(typed, expected, TOTP_DIGITS);
        found = (found & ~mask) | (s & mask);
    }
    if (found < 0)
        rc = CU_ERR_INTEGRITY;
    else if (found <= last_used_step)
        rc = CU_ERR_CONFLICT;
    else {
        *matched_step = found;
        rc = CU_OK;
    }
out:
    cu_wipe(typed, sizeof(typed));
    cu_wipe(expected, sizeof(expected));
    return rc;
}
