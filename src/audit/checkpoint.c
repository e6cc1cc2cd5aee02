/*
 * Checkpoints: C2SP tlog-checkpoint bodies inside C2SP signed notes, with
 * Ed25519 signatures (signature type 0x01).
 *
 *   <origin>\n<size>\n<base64 root>\n[<extension line>\n ...]
 *   \n
 *   — <key name> <base64(key id || signature)>\n   (one or more)
 *
 * The signed message is the note text: everything up to and including the
 * newline before the blank line.  Base64 is RFC 4648 section 4 (standard
 * alphabet, with padding); decoding is strict (canonical padding bits, no
 * whitespace) so that each value has one textual form.  The signature
 * itself is made and checked by the vault; this file only formats and
 * parses.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "../vault/vault.h"

#define ED25519_TYPE  0x01
#define SIG_BYTES     64
#define MAX_SIG_LINES 128 /* signed-note asks verifiers to accept at least 16 */

static const char em_dash_space[] = "\xe2\x80\x94 "; /* U+2014, U+0020 */

/* ---- base64 ------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const unsigned char *in, size_t n, struct buf *out)
{
    char q[4];

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;

        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        q[0] = b64_alphabet[(v >> 18) & 63];
        q[1] = b64_alphabet[(v >> 12) & 63];
        q[2] = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? b64_alphabet[v & 63] : '=';
        buf_add(out, q, 4);
    }
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Decodes n characters of canonical padded base64.  Stores the length in
 * *outlen and, when `out` is not NULL, the bytes (at most `max`; more is an
 * error).  CU_ERR_INVALID on anything but the one canonical form.
 */
static int b64_decode(const char *in, size_t n, unsigned char *out, size_t max, size_t *outlen)
{
    size_t pad = 0, len;

    if (n == 0 || n % 4 != 0)
        return CU_ERR_INVALID;
    if (in[n - 1] == '=')
        pad = in[n - 2] == '=' ? 2 : 1;
    len = n / 4 * 3 - pad;
    if (out != NULL && len > max)
        return CU_ERR_INVALID;
    for (size_t i = 0, o = 0; i < n; i += 4) {
        uint32_t v = 0;
        size_t chars = i + 4 < n ? 4 : 4 - pad; /* data characters in this quantum */

        for (size_t j = 0; j < 4; j++) {
            int d = j < chars ? b64_value((unsigned char)in[i + j]) : 0;

            if (d < 0)
                return CU_ERR_INVALID;
            v = v << 6 | (uint32_t)d;
        }
        /* The bits the padding leaves unused must be zero. */
        if ((pad == 1 && i + 4 == n && (v & 0xff)) || (pad == 2 && i + 4 == n && (v & 0xffff)))
            return CU_ERR_INVALID;
        for (size_t j = 0; j < 3 && o < len; j++, o++)
            if (out != NULL)
                out[o] = (unsigned char)(v >> (16 - 8 * j));
    }
    *outlen = len;
    return CU_OK;
}

/* ---- text checks ------------------------------------------------------------ */

/*
 * Decodes one UTF-8 code point from s[0..n) into *cp and returns its length,
 * or 0 if the bytes are not valid UTF-8 (overlong forms, surrogates and
 * values above U+10FFFF are invalid).
 */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t v, min;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, v = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, v = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, v = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

/* Unicode White_Space (what Go's unicode.IsSpace reports). */
static int is_space(uint32_t cp)
{
    return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000;
}

static int is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/*
 * A key name (signed-note) or, with allow_plus, an origin line
 * (tlog-checkpoint): non-empty valid UTF-8 without spaces or control
 * characters; a key name may not hold '+' either.
 */
static int name_valid(const char *s, size_t n, int allow_plus)
{
    uint32_t cp;
    size_t k;

    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i += k) {
        k = utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (k == 0 || is_space(cp) || is_control(cp) || (cp == '+' && !allow_plus))
            return 0;
    }
    return 1;
}

/* The whole note: valid UTF-8, and no control character but newline. */
static int note_text_valid(const char *s, size_t n)
{
    uint32_t cp;
    size_t k;

    for (size_t i = 0; i < n; i += k) {
        k = utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (k == 0 || (cp < 0x20 && cp != '\n'))
            return 0;
    }
    return 1;
}

/* ---- formatting ------------------------------------------------------------ */

void audit_checkpoint_body(const char *origin, uint64_t size,
                           const unsigned char root[AUDIT_HASH_BYTES], struct buf *out)
{
    buf_addf(out, "%s\n%" PRIu64 "\n", origin, size);
    b64_encode(root, AUDIT_HASH_BYTES, out);
    buf_addch(out, '\n');
}

void audit_key_id(const char *name, const unsigned char pk[32], unsigned char out[4])
{
    static const unsigned char sep[2] = {'\n', ED25519_TYPE};
    unsigned char h[32];

    vault_sha256(h, name, strlen(name), sep, sizeof(sep), pk, 32);
    memcpy(out, h, 4);
}

char *audit_vkey(const char *name, const unsigned char pk[32])
{
    struct buf b = BUF_INIT;
    unsigned char id[4], typed[33];

    audit_key_id(name, pk, id);
    typed[0] = ED25519_TYPE;
    memcpy(typed + 1, pk, 32);
    buf_addf(&b, "%s+%02x%02x%02x%02x+", name, id[0], id[1], id[2], id[3]);
    b64_encode(typed, sizeof(typed), &b);
    return buf_detach(&b, NULL);
}

void audit_signature_line(const char *name, const unsigned char key_id[4],
                          const unsigned char sig[64], struct buf *out)
{
    unsigned char blob[4 + SIG_BYTES];

    memcpy(blob, key_id, 4);
    memcpy(blob + 4, sig, SIG_BYTES);
    buf_addstr(out, em_dash_space);
    buf_addstr(out, name);
    buf_addch(out, ' ');
    b64_encode(blob, sizeof(blob), out);
    buf_addch(out, '\n');
}

/* ---- parsing ------------------------------------------------------------------ */

/* Splits off the line starting at *pos (which must end in '\n' before end). */
static int next_line(const char *s, size_t end, size_t *pos, const char **line, size_t *n)
{
    const char *nl;

    if (*pos >= end)
        return CU_ERR_INVALID;
    nl = memchr(s + *pos, '\n', end - *pos);
    if (nl == NULL)
        return CU_ERR_INVALID;
    *line = s + *pos;
    *n = (size_t)(nl - *line);
    *pos += *n + 1;
    return CU_OK;
}

/* ASCII decimal, no sign, no leading zero (except "0"), within uint64_t. */
static int parse_size(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;

    if (n == 0 || n > 20 || (s[0] == '0' && n > 1))
        return CU_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';

        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return CU_ERR_INVALID;
        v = v * 10 + d;
    }
    *out = v;
    return CU_OK;
}

int audit_checkpoint_parse(const char *note, size_t len, const char *key_name,
                           const unsigned char key_id[4], char **origin, uint64_t *size,
                           unsigned char root[AUDIT_HASH_BYTES], unsigned char sig[64],
                           size_t *body_len)
{
    const size_t dash_len = sizeof(em_dash_space) - 1;
    const char *line, *origin_line = NULL;
    size_t n, origin_len = 0, text_end = 0, pos, got, nsigs = 0;
    uint64_t sz = 0;
    unsigned char hash[AUDIT_HASH_BYTES], found[4 + SIG_BYTES];
    int have_sig = 0, rc;

    if (len < 2 || note[len - 1] != '\n' || !note_text_valid(note, len))
        return CU_ERR_INVALID;
    /* The text ends at the last blank line: signature lines are never empty. */
    for (size_t i = len - 1; i-- > 0;) {
        if (note[i] == '\n' && note[i + 1] == '\n') {
            text_end = i + 1;
            break;
        }
    }
    if (text_end == 0)
        return CU_ERR_INVALID;

    /* The checkpoint body: origin, size, root hash, then extension lines. */
    pos = 0;
    if ((rc = next_line(note, text_end, &pos, &origin_line, &origin_len)) != CU_OK)
        return rc;
    if (!name_valid(origin_line, origin_len, 1))
        return CU_ERR_INVALID;
    if ((rc = next_line(note, text_end, &pos, &line, &n)) != CU_OK ||
        (rc = parse_size(line, n, &sz)) != CU_OK)
        return CU_ERR_INVALID;
    if ((rc = next_line(note, text_end, &pos, &line, &n)) != CU_OK ||
        (rc = b64_decode(line, n, hash, sizeof(hash), &got)) != CU_OK || got != sizeof(hash))
        return CU_ERR_INVALID;
    while (pos < text_end) {
        if ((rc = next_line(note, text_end, &pos, &line, &n)) != CU_OK || n == 0)
            return CU_ERR_INVALID;
    }

    /* Signature lines: "— <name> <base64(key id || signature)>". */
    pos = text_end + 1;
    if (pos >= len)
        return CU_ERR_INVALID;
    while (pos < len) {
        const char *name, *b64, *sp;
        size_t name_len, b64_len;

        if (++nsigs > MAX_SIG_LINES)
            return CU_ERR_INVALID;
        if ((rc = next_line(note, len, &pos, &line, &n)) != CU_OK)
            return rc;
        if (n < dash_len || memcmp(line, em_dash_space, dash_len) != 0)
            return CU_ERR_INVALID;
        name = line + dash_len;
        sp = memchr(name, ' ', n - dash_len);
        if (sp == NULL)
            return CU_ERR_INVALID;
        name_len = (size_t)(sp - name);
        b64 = sp + 1;
        b64_len = n - dash_len - name_len - 1;
        if (!name_valid(name, name_len, 0))
            return CU_ERR_INVALID;
        /* Validate every line; keep the first by the wanted key. */
        if ((rc = b64_decode(b64, b64_len, NULL, 0, &got)) != CU_OK || got < 5)
            return CU_ERR_INVALID;
        if (have_sig || name_len != strlen(key_name) || memcmp(name, key_name, name_len) != 0)
            continue;
        if (got != sizeof(found)) {
            /*
             * Not an Ed25519 signature: ignored if by another key with the
             * same name, malformed if by ours.  The first 8 characters (all
             * there, as got >= 5) decode to at least the 4-byte key id.
             */
            unsigned char head[6];

            if (b64_decode(b64, 8, head, sizeof(head), &got) != CU_OK)
                return CU_ERR_INVALID;
            if (memcmp(head, key_id, 4) == 0)
                return CU_ERR_INVALID;
            continue;
        }
        if ((rc = b64_decode(b64, b64_len, found, sizeof(found), &got)) != CU_OK)
            return rc;
        if (memcmp(found, key_id, 4) != 0)
            continue; /* same name, another key: ignored, as signed-note requires */
        have_sig = 1;
    }
    if (!have_sig)
        return CU_ERR_NOT_FOUND;

    *origin = xstrndup(origin_line, origin_len);
    *size = sz;
    memcpy(root, hash, AUDIT_HASH_BYTES);
    memcpy(sig, found + 4, SIG_BYTES);
    *body_len = text_end;
    return CU_OK;
}
