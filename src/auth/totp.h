/*
 * Time-based one-time passwords for staff log-in (RFC 6238 over liboath)
 * and QR codes to enrol them in an authenticator app (libqrencode).
 *
 * These are pure functions: nothing here reads or writes the store.  The
 * caller keeps, per staff account, the secret (sealed) and the last time
 * step a code was accepted for, and passes both to totp_check().
 *
 * Parameters are those every authenticator app assumes: HMAC-SHA1,
 * 6 digits, 30-second steps counted from the Unix epoch, secrets of
 * 20 bytes (160 bits, as RFC 4226 recommends).
 *
 * Invariants kept in totp.c:
 *  - A code is accepted for the current step or one step either side, and
 *    only for a step later than the last one accepted, so each code works
 *    at most once and an older code never works after a newer one.
 *  - The typed code is compared with every candidate in constant time
 *    (vault_equal), all candidates each time.
 *  - liboath is initialised once per process (pthread_once) and never
 *    released.
 */
#ifndef CU_AUTH_TOTP_H
#define CU_AUTH_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"

#define TOTP_SECRET_BYTES 20
#define TOTP_DIGITS       6
#define TOTP_PERIOD       30
/* Characters of the base32 text of a TOTP_SECRET_BYTES secret (no padding). */
#define TOTP_SECRET_BASE32_LEN 32
/* Modules of light border around a QR code, as ISO/IEC 18004 requires. */
#define QR_QUIET_ZONE 4

/*
 * Fills `secret` with TOTP_SECRET_BYTES fresh random bytes (vault_random;
 * vault_global_init() must have run).  The caller wipes it after use.
 */
void totp_secret_new(unsigned char secret[TOTP_SECRET_BYTES]);

/*
 * Encodes `len` bytes of `secret` as RFC 4648 base32 (upper case, no "="
 * padding), the form authenticator apps accept typed in.  Returns a new
 * NUL-terminated string that the caller frees; it is the secret in
 * another form, so wipe it (cu_wipe) before freeing.
 */
char *totp_secret_base32(const unsigned char *secret, size_t len);

/*
 * Decodes base32 `text` into `out`.  On entry *len is the room in `out`;
 * on success it is the number of bytes decoded.  Lower case is accepted,
 * spaces and hyphens (grouping) are skipped, and "=" padding is allowed
 * at the end only.  Returns CU_ERR_INVALID, with `out` wiped, for a
 * character outside the alphabet, a length no encoder produces, non-zero
 * pad bits (so that every secret has one text), or a result larger than
 * *len.
 */
int totp_secret_from_base32(const char *text, unsigned char *out, size_t *len) CU_WUR;

/*
 * The key URI an authenticator app reads from a QR code:
 *
 *   otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER
 *     &algorithm=SHA1&digits=6&period=30
 *
 * ISSUER and ACCOUNT are percent-encoded as UTF-8 bytes: every byte but
 * the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) becomes %XX,
 * so a space is %20, "@" is %40 and ":" is %3A.  Returns a new string that
 * the caller frees; it holds the secret, so wipe it before freeing.
 */
char *totp_uri(const char *issuer, const char *account, const unsigned char *secret, size_t len);

/*
 * Writes the 6-digit code of `unix_time`'s 30-second step to `out`
 * (NUL-terminated).  Returns CU_ERR_INVALID for an empty secret or a
 * negative time, CU_ERR_INTERNAL if liboath fails.
 */
int totp_code(const unsigned char *secret, size_t len, int64_t unix_time, char out[7]) CU_WUR;

/*
 * Checks a code typed by a user at `unix_time`.  Spaces in `code` are
 * skipped; what is left must be exactly 6 ASCII digits, else
 * CU_ERR_INVALID (count it as a failed attempt too).  The code is compared
 * with those of the current step and of one step either side.  When it
 * matches a step later than `last_used_step` (pass -1 when the account has
 * never used a code), returns CU_OK and stores that step in *matched_step:
 * the caller must store it as the new last_used_step before it grants
 * anything, so the code cannot be used again.  If the code matches more
 * than one step (a one-in-a-million chance), the latest is taken.
 * Returns CU_ERR_CONFLICT when the code is right but its step is not later
 * than `last_used_step` (a reused or superseded code), CU_ERR_INTEGRITY
 * when it is wrong; *matched_step is left alone then.
 */
int totp_check(const unsigned char *secret, size_t len, const char *code, int64_t unix_time,
               int64_t last_used_step, int64_t *matched_step) CU_WUR;

/*
 * Renders `text` as a QR code (error correction level M, the smallest
 * version that holds it) for a terminal, appended to `out` as UTF-8 text:
 * one line per two rows of modules, using the half blocks U+2580, U+2584
 * and the full block U+2588, with a QR_QUIET_ZONE border; each line is
 * (width + 2 * QR_QUIET_ZONE) characters wide and ends with "\n".  The
 * glyphs draw the LIGHT modules and spaces are the dark ones, as for
 * `qrencode -t UTF8`: it scans on a terminal with a dark background and
 * light text, the common default.  Returns CU_ERR_INVALID if `text` is too
 * long for any QR code (about 2,300 bytes at level M), CU_ERR_INTERNAL if
 * libqrencode fails otherwise; nothing is appended then.
 */
int qr_terminal(const char *text, struct buf *out) CU_WUR;

/*
 * Renders `text` as a QR code (level M) in SVG, appended to `out`: one
 * `<svg>` element (no XML declaration, so it can be inlined in HTML) with
 * a viewBox in module units including the quiet zone, a white background
 * rect and a single black `<path>` made of one rectangle per horizontal
 * run of dark modules.  Same errors as qr_terminal().
 */
int qr_svg(const char *text, struct buf *out) CU_WUR;

#endif
