/*
 * tlogcheck: an independent verifier of Custodian's audit log, a test tool
 * (not part of the product).  End-to-end tests use it as the outside party
 * that checks what the server publishes.  It is written from the public
 * specifications only, never from Custodian's own audit code:
 *
 *   - RFC 9162 section 2.1.1 (the Merkle Tree Hash), 2.1.3.2 (verifying an
 *     inclusion proof) and 2.1.4.2 (verifying a consistency proof), with
 *     SHA-256, leaf hash SHA-256(0x00 || leaf_input) and node hash
 *     SHA-256(0x01 || left || right);
 *   - C2SP signed-note (Ed25519 signatures, signature type 0x01) and C2SP
 *     tlog-checkpoint (the note text).
 *
 * Commands:
 *
 *   tlogcheck note VKEY NOTE_FILE
 *       VKEY is "<name>+<8 hex key id>+<base64(0x01 || Ed25519 public key)>";
 *       the key id must be SHA-256(name || 0x0A || 0x01 || key)[0:4].  The
 *       note must be well-formed (valid UTF-8, no control character but
 *       newline, text, a blank line, signature lines "— <name>
 *       <base64(key id || signature)>"), every signature line with the key's
 *       name and id must verify (Ed25519 over the text, through the newline
 *       that ends its last line) and there must be at least one; others are
 *       ignored.  Only then is the text read as a checkpoint: origin (non-
 *       empty; a warning on stderr if it differs from the key name, which the
 *       spec only recommends), tree size in decimal without leading zeros,
 *       base64 of a 32-byte root hash, then optional non-empty extension
 *       lines.  Prints "size=<N> root=<hex>".
 *
 *   tlogcheck inclusion ROOT_HEX SIZE INDEX LEAF_INPUT_B64 PROOF_JSON_FILE
 *       PROOF_JSON_FILE holds {"leaf_index":I,"tree_size":N,
 *       "audit_path":["base64",...]}; I and N must equal INDEX and SIZE.
 *
 *   tlogcheck consistency OLD_ROOT_HEX OLD_SIZE NEW_ROOT_HEX NEW_SIZE PROOF_JSON_FILE
 *       PROOF_JSON_FILE holds {"consistency":["base64",...]} (other members
 *       are ignored).  RFC 9162 2.1.4.2 covers 0 < OLD_SIZE < NEW_SIZE.
 *       Outside it: OLD_SIZE == NEW_SIZE verifies with an empty proof and
 *       equal roots (the proof 2.1.4.1 defines for it is empty); OLD_SIZE 0
 *       verifies with an empty proof when OLD_ROOT is SHA-256 of nothing
 *       (MTH({}), every tree extends the empty one); OLD_SIZE > NEW_SIZE
 *       fails.
 *
 *   tlogcheck root LEAVES_FILE
 *       LEAVES_FILE holds one base64 leaf_input a line (a last line may lack
 *       its newline; an empty line is an empty leaf_input).  Prints the
 *       RFC 9162 MTH of them all in hex, computed recursively from the
 *       definition in 2.1.1 (SHA-256 of nothing for no leaves).
 *
 *   tlogcheck sign-test-note NAME ORIGIN SIZE ROOT_HEX [SEED_HEX]
 *       FOR THE SELF-TEST ONLY (tests/tools/test_tlogcheck.sh): derives an
 *       Ed25519 key pair from a fixed, public seed (or from SEED_HEX, 32
 *       bytes), prints its vkey on the first line and then the note
 *       "ORIGIN\nSIZE\nbase64(ROOT)\n\n— NAME base64(key id || signature)\n".
 *       SIZE is copied as given, so that malformed checkpoints can be
 *       signed too.  The key is known to everyone: never trust it.
 *
 * Hex arguments are 64 hex digits (either case); sizes and indexes are
 * decimal.  Base64 is the standard alphabet with padding (RFC 4648 section
 * 4), decoded strictly: no white space, no non-zero padding bits.
 *
 * Exit status: 0 verified (or, for root and sign-test-note, done), 1
 * verification failed, with a one-line reason on stderr (this includes
 * malformed vkeys, notes and proof files, which come from the server), 2 a
 * usage error (a malformed command-line hash, size, index or leaf) or an
 * I/O error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#define HASH_BYTES  32
#define PK_BYTES    crypto_sign_PUBLICKEYBYTES /* 32 */
#define SIG_BYTES   crypto_sign_BYTES          /* 64 */
#define KEYID_BYTES 4
#define ALG_ED25519 0x01
/* Longer proofs cannot verify for any tree of fewer than 2^64 leaves. */
#define MAX_PROOF 64
/* signed-note: verifiers must accept at least 16 signatures. */
#define MAX_SIGNATURES 100
#define MAX_NOTE       (1u << 20)
#define MAX_JSON       (16u << 20)
#define MAX_LEAVES     (1u << 30)

enum { VERIFIED = 0, FAILED = 1, USAGE = 2 };

static const char em_dash[] = "\xe2\x80\x94"; /* U+2014 in UTF-8 */

/* The fixed seed of sign-test-note: public, for the self-test only. */
static const char test_seed_text[] = "tlogcheck sign-test-note: a public test key, never trust it";

/* --- messages -------------------------------------------------------------- */

static int vmessage(int status, const char *fmt, va_list ap)
{
    fputs("tlogcheck: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return status;
}

/* Prints the reason of a failed verification; returns FAILED. */
static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vmessage(FAILED, fmt, ap);
    va_end(ap);
    return rc;
}

/* Prints a usage or I/O error; returns USAGE. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vmessage(USAGE, fmt, ap);
    va_end(ap);
    return rc;
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("tlogcheck: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p) {
        fputs("tlogcheck: out of memory\n", stderr);
        exit(USAGE);
    }
    return p;
}

/* --- encodings ------------------------------------------------------------ */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes exactly 2 * n hex digits (all of s) into out; 0 or -1. */
static int hex_decode(const char *s, unsigned char *out, size_t n)
{
    size_t i;

    if (strlen(s) != 2 * n)
        return -1;
    for (i = 0; i < n; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static void hex_print(FILE *f, const unsigned char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

/*
 * Strict standard base64 (with padding) of the len bytes at s into out
 * (room for max bytes); *outlen gets the decoded length.  0, or -1 if s is
 * not canonical base64 of at most max bytes.
 */
static int b64_decode(const char *s, size_t len, unsigned char *out, size_t max, size_t *outlen)
{
    const char *end = NULL;

    if (sodium_base642bin(out, max, s, len, NULL, outlen, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        end != s + len)
        return -1;
    return 0;
}

/* Decodes base64 of exactly n bytes; 0 or -1. */
static int b64_decode_exact(const char *s, size_t len, unsigned char *out, size_t n)
{
    size_t got = 0;

    if (b64_decode(s, len, out, n, &got) != 0 || got != n)
        return -1;
    return 0;
}

/* Parses a decimal uint64 without sign, spaces or leading zeros; 0 or -1. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || (len > 1 && s[0] == '0'))
        return -1;
    for (i = 0; i < len; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return -1;
        d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/*
 * Decodes one UTF-8 sequence at p (n bytes left) into *cp; returns its
 * length, or 0 if it is not well-formed (overlong forms, surrogates and
 * code points past U+10FFFF are not).
 */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    uint32_t c;
    size_t len, i;

    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2;
        c = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3;
        c = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4;
        c = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/* The Unicode White_Space characters. */
static int is_unicode_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/*
 * signed-note: "Key names MUST be non-empty and MUST NOT contain any Unicode
 * spaces or plus (U+002B) characters" (and, as all of a note, be UTF-8
 * without control characters).
 */
static int valid_key_name(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n;
    uint32_t c;

    if (len == 0)
        return 0;
    while (i < len) {
        n = utf8_next(p + i, len - i, &c);
        if (n == 0 || c < 0x20 || c == '+' || is_unicode_space(c))
            return 0;
        i += n;
    }
    return 1;
}

/* --- hashing (RFC 9162 2.1.1) --------------------------------------------- */

static void leaf_hash(const unsigned char *leaf, size_t len, unsigned char out[HASH_BYTES])
{
    crypto_hash_sha256_state st;
    const unsigned char prefix = 0x00;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, leaf, len);
    crypto_hash_sha256_final(&st, out);
}

static void node_hash(const unsigned char left[HASH_BYTES], const unsigned char right[HASH_BYTES],
                      unsigned char out[HASH_BYTES])
{
    crypto_hash_sha256_state st;
    const unsigned char prefix = 0x01;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    crypto_hash_sha256_update(&st, left, HASH_BYTES);
    crypto_hash_sha256_update(&st, right, HASH_BYTES);
    crypto_hash_sha256_final(&st, out);
}

/*
 * MTH(D[n]) over the leaf hashes of D, n >= 1: for n > 1, with k the largest
 * power of two smaller than n, HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n])).
 */
static void mth(const unsigned char (*leaves)[HASH_BYTES], uint64_t n,
                unsigned char out[HASH_BYTES])
{
    unsigned char left[HASH_BYTES], right[HASH_BYTES];
    uint64_t k = 1;

    if (n == 1) {
        memcpy(out, leaves[0], HASH_BYTES);
        return;
    }
    while (k < n - k) /* k * 2 < n, without overflow */
        k <<= 1;
    mth(leaves, k, left);
    mth(leaves + k, n - k, right);
    node_hash(left, right, out);
}

/* --- files ------------------------------------------------------------------ */

/*
 * Reads all of path (at most max bytes) into a new NUL-terminated buffer
 * (*out, the caller frees it), *len its length.  0, or USAGE after saying
 * why.
 */
static int read_all(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 4096, n = 0, got;
    int rc = USAGE;

    if (!f)
        return usage_error("cannot open \"%s\": %s", path, strerror(errno));
    buf = xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            char *bigger;
            if (cap > max) {
                usage_error("\"%s\" is larger than %zu bytes", path, max);
                goto out;
            }
            cap *= 2;
            bigger = realloc(buf, cap + 1);
            if (!bigger) {
                fputs("tlogcheck: out of memory\n", stderr);
                exit(USAGE);
            }
            buf = bigger;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        usage_error("cannot read \"%s\"", path);
        goto out;
    }
    if (n > max) {
        usage_error("\"%s\" is larger than %zu bytes", path, max);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    fclose(f);
    return rc;
}

/* --- signed notes (C2SP signed-note, tlog-checkpoint) ------------------- */

struct vkey {
    const char *name; /* points into the argument */
    size_t name_len;
    unsigned char id[KEYID_BYTES];
    unsigned char pk[PK_BYTES];
};

static void key_id(const char *name, size_t name_len, const unsigned char pk[PK_BYTES],
                   unsigned char out[KEYID_BYTES])
{
    crypto_hash_sha256_state st;
    unsigned char sep[2] = {0x0a, ALG_ED25519}, h[HASH_BYTES];

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)name, name_len);
    crypto_hash_sha256_update(&st, sep, sizeof sep);
    crypto_hash_sha256_update(&st, pk, PK_BYTES);
    crypto_hash_sha256_final(&st, h);
    memcpy(out, h, KEYID_BYTES);
}

/* Parses "<name>+<8 hex>+<base64(0x01 || key)>"; VERIFIED or FAILED. */
static int vkey_parse(const char *s, struct vkey *k)
{
    const char *p1 = strchr(s, '+'), *p2, *b64;
    unsigned char raw[1 + PK_BYTES], want[KEYID_BYTES];
    char idhex[2 * KEYID_BYTES + 1];

    if (!p1 || !(p2 = strchr(p1 + 1, '+')))
        return fail("vkey: not of the form <name>+<key id>+<key>");
    b64 = p2 + 1;
    if (!valid_key_name(s, (size_t)(p1 - s)))
        return fail("vkey: the key name is empty or holds a space, a plus or a control "
                    "character, or is not UTF-8");
    if (p2 - p1 - 1 != 2 * KEYID_BYTES)
        return fail("vkey: the key id is not 8 hex digits");
    memcpy(idhex, p1 + 1, 2 * KEYID_BYTES);
    idhex[2 * KEYID_BYTES] = '\0';
    if (hex_decode(idhex, k->id, KEYID_BYTES) != 0)
        return fail("vkey: the key id is not 8 hex digits");
    if (b64_decode_exact(b64, strlen(b64), raw, sizeof raw) != 0)
        return fail("vkey: the key is not base64 of 33 bytes");
    if (raw[0] != ALG_ED25519)
        return fail("vkey: signature type 0x%02x is not Ed25519 (0x01)", raw[0]);
    k->name = s;
    k->name_len = (size_t)(p1 - s);
    memcpy(k->pk, raw + 1, PK_BYTES);
    key_id(k->name, k->name_len, k->pk, want);
    if (memcmp(want, k->id, KEYID_BYTES) != 0)
        return fail("vkey: key id %s is not SHA-256(name || 0x0A || 0x01 || key)[0:4]", idhex);
    return VERIFIED;
}

/*
 * Checks the note (len bytes, NUL-terminated) against the signed-note
 * format and the signatures by key k; *text_len gets the length of the
 * signed text.  VERIFIED or FAILED.
 */
static int note_verify(const char *note, size_t len, const struct vkey *k, size_t *text_len)
{
    const unsigned char *u = (const unsigned char *)note;
    size_t i, n, split, nsigs = 0, nverified = 0;
    uint32_t c;
    const char *line, *end;

    for (i = 0; i < len; i += n) {
        n = utf8_next(u + i, len - i, &c);
        if (n == 0)
            return fail("note: not valid UTF-8 at byte %zu", i);
        if (c < 0x20 && c != '\n')
            return fail("note: control character 0x%02x at byte %zu", (unsigned)c, i);
    }
    if (len == 0 || note[len - 1] != '\n')
        return fail("note: does not end with a newline");
    /* The text is separated from the signatures by the last empty line. */
    for (split = len - 1; split > 0; split--)
        if (note[split - 1] == '\n' && note[split] == '\n')
            break;
    if (split == 0)
        return fail("note: no blank line between the text and the signatures");
    *text_len = split;
    for (line = note + split + 1; line < note + len; line = end + 1) {
        const char *name, *sp, *b64;
        unsigned char *raw;
        size_t raw_len = 0, b64_len;
        int bad, ours, good = 0;

        end = memchr(line, '\n', (size_t)(note + len - line));
        if (++nsigs > MAX_SIGNATURES)
            return fail("note: more than %d signatures", MAX_SIGNATURES);
        if (end - line < 4 || memcmp(line, em_dash, 3) != 0 || line[3] != ' ')
            return fail("note: signature line %zu does not start with an em dash and a space",
                        nsigs);
        name = line + 4;
        sp = memchr(name, ' ', (size_t)(end - name));
        if (!sp || !valid_key_name(name, (size_t)(sp - name)))
            return fail("note: signature line %zu has no valid key name", nsigs);
        b64 = sp + 1;
        b64_len = (size_t)(end - b64);
        raw = xmalloc(b64_len);
        bad = b64_decode(b64, b64_len, raw, b64_len, &raw_len) != 0 || raw_len < KEYID_BYTES + 1;
        ours = !bad && (size_t)(sp - name) == k->name_len &&
               memcmp(name, k->name, k->name_len) == 0 && memcmp(raw, k->id, KEYID_BYTES) == 0;
        if (ours && raw_len == KEYID_BYTES + SIG_BYTES &&
            crypto_sign_verify_detached(raw + KEYID_BYTES, u, split, k->pk) == 0)
            good = 1;
        free(raw);
        if (bad)
            return fail("note: signature line %zu is not base64 of a key id and a signature",
                        nsigs);
        if (ours && raw_len != KEYID_BYTES + SIG_BYTES)
            return fail("note: the signature by key \"%.*s\" has %zu bytes, not %d",
                        (int)k->name_len, k->name, raw_len - KEYID_BYTES, SIG_BYTES);
        if (ours && !good)
            return fail("note: the signature by key \"%.*s\" does not verify", (int)k->name_len,
                        k->name);
        nverified += (size_t)good;
    }
    if (nsigs == 0)
        return fail("note: no signature lines");
    if (nverified == 0)
        return fail("note: no signature by key \"%.*s\"", (int)k->name_len, k->name);
    return VERIFIED;
}

/*
 * Reads the signed text as a C2SP tlog-checkpoint.  VERIFIED (*size and
 * root set) or FAILED.
 */
static int checkpoint_parse(const char *text, size_t len, const struct vkey *k, uint64_t *size,
                            unsigned char root[HASH_BYTES])
{
    const char *line[3], *p = text, *end = text + len, *nl;
    size_t line_len[3], nlines = 0;

    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == p)
            return fail("checkpoint: line %zu is empty", nlines + 1);
        if (nlines < 3) {
            line[nlines] = p;
            line_len[nlines] = (size_t)(nl - p);
        }
        nlines++;
        p = nl + 1;
    }
    if (nlines < 3)
        return fail("checkpoint: %zu lines, not at least 3 (origin, size, root)", nlines);
    if (parse_u64(line[1], line_len[1], size) != 0)
        return fail("checkpoint: the size line is not a decimal number without leading zeros");
    if (b64_decode_exact(line[2], line_len[2], root, HASH_BYTES) != 0)
        return fail("checkpoint: the root line is not base64 of 32 bytes");
    if (line_len[0] != k->name_len || memcmp(line[0], k->name, k->name_len) != 0)
        warn("origin \"%.*s\" differs from the key name \"%.*s\"", (int)line_len[0], line[0],
             (int)k->name_len, k->name);
    if (nlines > 3)
        warn("the checkpoint has %zu extension lines", nlines - 3);
    return VERIFIED;
}

static int cmd_note(int argc, char **argv)
{
    struct vkey k;
    char *note = NULL;
    size_t len = 0, text_len = 0;
    uint64_t size = 0;
    unsigned char root[HASH_BYTES];
    int rc;

    if (argc != 4)
        return usage_error("usage: tlogcheck note VKEY NOTE_FILE");
    rc = read_all(argv[3], MAX_NOTE, &note, &len);
    if (rc != 0)
        goto out;
    rc = vkey_parse(argv[2], &k);
    if (rc != 0)
        goto out;
    rc = note_verify(note, len, &k, &text_len);
    if (rc != 0)
        goto out;
    rc = checkpoint_parse(note, text_len, &k, &size, root);
    if (rc != 0)
        goto out;
    printf("size=%" PRIu64 " root=", size);
    hex_print(stdout, root, HASH_BYTES);
    putchar('\n');
out:
    free(note);
    return rc;
}

/* --- proofs (RFC 9162 2.1.3.2 and 2.1.4.2) -------------------------------- */

static int arg_hash(const char *what, const char *s, unsigned char out[HASH_BYTES])
{
    if (hex_decode(s, out, HASH_BYTES) != 0)
        return usage_error("%s is not 64 hex digits", what);
    return 0;
}

static int arg_u64(const char *what, const char *s, uint64_t *out)
{
    if (parse_u64(s, strlen(s), out) != 0)
        return usage_error("%s \"%s\" is not a decimal number", what, s);
    return 0;
}

/*
 * Loads the JSON object in path into *out (the caller frees it with
 * json_decref).  0, FAILED if it is not a JSON object, USAGE on I/O errors.
 */
static int json_read(const char *path, json_t **out)
{
    char *text = NULL;
    size_t len = 0;
    json_error_t err;
    json_t *j = NULL;
    int rc;

    rc = read_all(path, MAX_JSON, &text, &len);
    if (rc != 0)
        goto out;
    j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        rc = fail("proof: not JSON: %s (line %d)", err.text, err.line);
        goto out;
    }
    if (!json_is_object(j)) {
        rc = fail("proof: not a JSON object");
        goto out;
    }
    *out = j;
    j = NULL;
out:
    json_decref(j);
    free(text);
    return rc;
}

/*
 * Decodes the JSON array of base64 hashes `member` of obj into a new array
 * (*out, the caller frees it) of *n hashes.  VERIFIED or FAILED.
 */
static int json_hashes(json_t *obj, const char *member, unsigned char (**out)[HASH_BYTES],
                       size_t *n)
{
    json_t *arr = json_object_get(obj, member), *v;
    unsigned char(*h)[HASH_BYTES];
    size_t i;

    if (!json_is_array(arr))
        return fail("proof: \"%s\" is missing or not an array", member);
    if (json_array_size(arr) > MAX_PROOF)
        return fail("proof: \"%s\" has %zu hashes, more than %d", member, json_array_size(arr),
                    MAX_PROOF);
    h = xmalloc(json_array_size(arr) * HASH_BYTES);
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) ||
            b64_decode_exact(json_string_value(v), json_string_length(v), h[i], HASH_BYTES) != 0) {
            free(h);
            return fail("proof: \"%s\"[%zu] is not base64 of 32 bytes", member, i);
        }
    }
    *out = h;
    *n = json_array_size(arr);
    return VERIFIED;
}

static int json_u64(json_t *obj, const char *member, uint64_t *out)
{
    json_t *v = json_object_get(obj, member);

    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return fail("proof: \"%s\" is missing or not a non-negative integer", member);
    *out = (uint64_t)json_integer_value(v);
    return VERIFIED;
}

/* RFC 9162 2.1.3.2, step by step; VERIFIED or FAILED. */
static int verify_inclusion(uint64_t leaf_index, uint64_t tree_size,
                            const unsigned char hash[HASH_BYTES],
                            const unsigned char (*path)[HASH_BYTES], size_t n,
                            const unsigned char root_hash[HASH_BYTES])
{
    unsigned char r[HASH_BYTES];
    uint64_t fn, sn;
    size_t i;

    /* 1. leaf_index >= tree_size fails. */
    if (leaf_index >= tree_size)
        return fail("inclusion: leaf index %" PRIu64 " is not below tree size %" PRIu64, leaf_index,
                    tree_size);
    /* 2. */
    fn = leaf_index;
    sn = tree_size - 1;
    /* 3. */
    memcpy(r, hash, HASH_BYTES);
    /* 4. */
    for (i = 0; i < n; i++) {
        /* a. */
        if (sn == 0)
            return fail("inclusion: the audit path is too long (%zu hashes)", n);
        /* b. */
        if ((fn & 1) || fn == sn) {
            node_hash(path[i], r, r);
            /* ii. Until LSB(fn) is set or fn is 0. */
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            node_hash(r, path[i], r);
        }
        /* c. */
        fn >>= 1;
        sn >>= 1;
    }
    /* 5. */
    if (sn != 0)
        return fail("inclusion: the audit path is too short (%zu hashes)", n);
    if (sodium_memcmp(r, root_hash, HASH_BYTES) != 0)
        return fail("inclusion: the audit path does not lead to the root");
    return VERIFIED;
}

/* RFC 9162 2.1.4.2 for 0 < first < second; VERIFIED or FAILED. */
static int verify_consistency(uint64_t first, uint64_t second,
                              const unsigned char first_hash[HASH_BYTES],
                              const unsigned char second_hash[HASH_BYTES],
                              const unsigned char (*proof)[HASH_BYTES], size_t n)
{
    unsigned char(*path)[HASH_BYTES] = NULL;
    unsigned char fr[HASH_BYTES], sr[HASH_BYTES];
    uint64_t fn, sn;
    size_t i, m = n;
    int rc = FAILED;

    /* 1. */
    if (n == 0) {
        fail("consistency: the proof is empty");
        goto out;
    }
    /* 2. If first is an exact power of 2, prepend first_hash. */
    path = xmalloc((n + 1) * HASH_BYTES);
    if ((first & (first - 1)) == 0) {
        memcpy(path[0], first_hash, HASH_BYTES);
        memcpy(path + 1, proof, n * HASH_BYTES);
        m = n + 1;
    } else {
        memcpy(path, proof, n * HASH_BYTES);
    }
    /* 3. */
    fn = first - 1;
    sn = second - 1;
    /* 4. */
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    /* 5. */
    memcpy(fr, path[0], HASH_BYTES);
    memcpy(sr, path[0], HASH_BYTES);
    /* 6. */
    for (i = 1; i < m; i++) {
        /* a. */
        if (sn == 0) {
            fail("consistency: the proof is too long (%zu hashes)", n);
            goto out;
        }
        /* b. */
        if ((fn & 1) || fn == sn) {
            node_hash(path[i], fr, fr);
            node_hash(path[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            node_hash(sr, path[i], sr);
        }
        /* c. */
        fn >>= 1;
        sn >>= 1;
    }
    /* 7. */
    if (sn != 0) {
        fail("consistency: the proof is too short (%zu hashes)", n);
        goto out;
    }
    if (sodium_memcmp(fr, first_hash, HASH_BYTES) != 0) {
        fail("consistency: the proof does not lead to the old root");
        goto out;
    }
    if (sodium_memcmp(sr, second_hash, HASH_BYTES) != 0) {
        fail("consistency: the proof does not lead to the new root");
        goto out;
    }
    rc = VERIFIED;
out:
    free(path);
    return rc;
}

static int cmd_inclusion(int argc, char **argv)
{
    unsigned char root[HASH_BYTES], hash[HASH_BYTES], (*path)[HASH_BYTES] = NULL;
    unsigned char *leaf = NULL;
    uint64_t size, index, jindex, jsize;
    size_t leaf_len = 0, n = 0, b64len;
    json_t *j = NULL;
    int rc;

    if (argc != 7)
        return usage_error(
            "usage: tlogcheck inclusion ROOT_HEX SIZE INDEX LEAF_INPUT_B64 PROOF_JSON_FILE");
    if ((rc = arg_hash("ROOT_HEX", argv[2], root)) != 0 ||
        (rc = arg_u64("SIZE", argv[3], &size)) != 0 ||
        (rc = arg_u64("INDEX", argv[4], &index)) != 0)
        goto out;
    b64len = strlen(argv[5]);
    leaf = xmalloc(b64len / 4 * 3 + 3);
    if (b64_decode(argv[5], b64len, leaf, b64len / 4 * 3 + 3, &leaf_len) != 0) {
        rc = usage_error("LEAF_INPUT_B64 is not base64");
        goto out;
    }
    if ((rc = json_read(argv[6], &j)) != 0 || (rc = json_u64(j, "leaf_index", &jindex)) != 0 ||
        (rc = json_u64(j, "tree_size", &jsize)) != 0 ||
        (rc = json_hashes(j, "audit_path", &path, &n)) != 0)
        goto out;
    if (jindex != index) {
        rc = fail("inclusion: the proof is for leaf %" PRIu64 ", not %" PRIu64, jindex, index);
        goto out;
    }
    if (jsize != size) {
        rc = fail("inclusion: the proof is for tree size %" PRIu64 ", not %" PRIu64, jsize, size);
        goto out;
    }
    leaf_hash(leaf, leaf_len, hash);
    rc = verify_inclusion(index, size, hash, (const unsigned char(*)[HASH_BYTES])path, n, root);
out:
    json_decref(j);
    free(path);
    free(leaf);
    return rc;
}

static int cmd_consistency(int argc, char **argv)
{
    unsigned char old_root[HASH_BYTES], new_root[HASH_BYTES], empty[HASH_BYTES];
    unsigned char(*proof)[HASH_BYTES] = NULL;
    uint64_t old_size, new_size;
    size_t n = 0;
    json_t *j = NULL;
    int rc;

    if (argc != 7)
        return usage_error("usage: tlogcheck consistency OLD_ROOT_HEX OLD_SIZE NEW_ROOT_HEX "
                           "NEW_SIZE PROOF_JSON_FILE");
    if ((rc = arg_hash("OLD_ROOT_HEX", argv[2], old_root)) != 0 ||
        (rc = arg_u64("OLD_SIZE", argv[3], &old_size)) != 0 ||
        (rc = arg_hash("NEW_ROOT_HEX", argv[4], new_root)) != 0 ||
        (rc = arg_u64("NEW_SIZE", argv[5], &new_size)) != 0)
        goto out;
    if ((rc = json_read(argv[6], &j)) != 0 || (rc = json_hashes(j, "consistency", &proof, &n)) != 0)
        goto out;
    if (old_size > new_size) {
        rc = fail("consistency: old size %" PRIu64 " is above new size %" PRIu64, old_size,
                  new_size);
    } else if (old_size == new_size) {
        if (n != 0)
            rc = fail("consistency: equal sizes need an empty proof, not %zu hashes", n);
        else if (sodium_memcmp(old_root, new_root, HASH_BYTES) != 0)
            rc = fail("consistency: equal sizes but different roots");
        else
            rc = VERIFIED;
    } else if (old_size == 0) {
        crypto_hash_sha256(empty, NULL, 0);
        if (n != 0)
            rc = fail("consistency: old size 0 needs an empty proof, not %zu hashes", n);
        else if (sodium_memcmp(old_root, empty, HASH_BYTES) != 0)
            rc = fail("consistency: the old root is not the empty tree's (SHA-256 of nothing)");
        else
            rc = VERIFIED;
    } else {
        rc = verify_consistency(old_size, new_size, old_root, new_root,
                                (const unsigned char(*)[HASH_BYTES])proof, n);
    }
out:
    json_decref(j);
    free(proof);
    return rc;
}

static int cmd_root(int argc, char **argv)
{
    char *text = NULL, *p, *end, *nl;
    size_t len = 0, n = 0, cap = 0, lineno = 0;
    unsigned char(*hashes)[HASH_BYTES] = NULL, root[HASH_BYTES], *leaf = NULL;
    int rc;

    if (argc != 3)
        return usage_error("usage: tlogcheck root LEAVES_FILE");
    rc = read_all(argv[2], SIZE_MAX / 2, &text, &len);
    if (rc != 0)
        goto out;
    leaf = xmalloc(len / 4 * 3 + 3);
    for (p = text, end = text + len; p < end; p = nl + 1) {
        size_t leaf_len = 0;

        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        lineno++;
        if (b64_decode(p, (size_t)(nl - p), leaf, len / 4 * 3 + 3, &leaf_len) != 0) {
            rc = usage_error("\"%s\" line %zu is not base64", argv[2], lineno);
            goto out;
        }
        if (n == cap) {
            unsigned char(*bigger)[HASH_BYTES];
            if (n >= MAX_LEAVES) {
                rc = usage_error("\"%s\" has more than %u leaves", argv[2], MAX_LEAVES);
                goto out;
            }
            cap = cap ? cap * 2 : 1024;
            bigger = realloc(hashes, cap * HASH_BYTES);
            if (!bigger) {
                fputs("tlogcheck: out of memory\n", stderr);
                exit(USAGE);
            }
            hashes = bigger;
        }
        leaf_hash(leaf, leaf_len, hashes[n++]);
    }
    if (n == 0)
        crypto_hash_sha256(root, NULL, 0); /* MTH({}) = HASH() */
    else
        mth((const unsigned char(*)[HASH_BYTES])hashes, n, root);
    hex_print(stdout, root, HASH_BYTES);
    putchar('\n');
out:
    free(leaf);
    free(hashes);
    free(text);
    return rc;
}

/* FOR THE SELF-TEST ONLY: signs a checkpoint with a public, fixed key. */
static int cmd_sign_test_note(int argc, char **argv)
{
    unsigned char seed[crypto_sign_SEEDBYTES], pk[PK_BYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char root[HASH_BYTES], raw[KEYID_BYTES + SIG_BYTES], keyraw[1 + PK_BYTES];
    char root_b64[sodium_base64_ENCODED_LEN(HASH_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    char sig_b64[sodium_base64_ENCODED_LEN(sizeof raw, sodium_base64_VARIANT_ORIGINAL)];
    char key_b64[sodium_base64_ENCODED_LEN(sizeof keyraw, sodium_base64_VARIANT_ORIGINAL)];
    const char *name, *origin, *size;
    char *body;
    size_t body_len;

    if (argc != 6 && argc != 7)
        return usage_error("usage: tlogcheck sign-test-note NAME ORIGIN SIZE ROOT_HEX [SEED_HEX]");
    name = argv[2];
    origin = argv[3];
    size = argv[4];
    if (!valid_key_name(name, strlen(name)))
        return usage_error("NAME is not a valid key name");
    if (strchr(origin, '\n') || strchr(size, '\n'))
        return usage_error("ORIGIN and SIZE must be one line each");
    if (arg_hash("ROOT_HEX", argv[5], root) != 0)
        return USAGE;
    if (argc == 7) {
        if (hex_decode(argv[6], seed, sizeof seed) != 0)
            return usage_error("SEED_HEX is not 64 hex digits");
    } else {
        crypto_hash_sha256(seed, (const unsigned char *)test_seed_text, strlen(test_seed_text));
    }
    crypto_sign_seed_keypair(pk, sk, seed);
    keyraw[0] = ALG_ED25519;
    memcpy(keyraw + 1, pk, PK_BYTES);
    key_id(name, strlen(name), pk, raw);
    sodium_bin2base64(root_b64, sizeof root_b64, root, HASH_BYTES, sodium_base64_VARIANT_ORIGINAL);
    body_len = strlen(origin) + strlen(size) + strlen(root_b64) + 3;
    body = xmalloc(body_len + 1);
    snprintf(body, body_len + 1, "%s\n%s\n%s\n", origin, size, root_b64);
    crypto_sign_detached(raw + KEYID_BYTES, NULL, (const unsigned char *)body, body_len, sk);
    sodium_bin2base64(sig_b64, sizeof sig_b64, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(key_b64, sizeof key_b64, keyraw, sizeof keyraw,
                      sodium_base64_VARIANT_ORIGINAL);
    printf("%s+", name);
    hex_print(stdout, raw, KEYID_BYTES);
    printf("+%s\n%s\n%s %s %s\n", key_b64, body, em_dash, name, sig_b64);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(seed, sizeof seed);
    free(body);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    int rc;

    if (sodium_init() < 0)
        return usage_error("cannot initialise libsodium");
    if (strcmp(cmd, "note") == 0)
        rc = cmd_note(argc, argv);
    else if (strcmp(cmd, "inclusion") == 0)
        rc = cmd_inclusion(argc, argv);
    else if (strcmp(cmd, "consistency") == 0)
        rc = cmd_consistency(argc, argv);
    else if (strcmp(cmd, "root") == 0)
        rc = cmd_root(argc, argv);
    else if (strcmp(cmd, "sign-test-note") == 0)
        rc = cmd_sign_test_note(argc, argv);
    else
        rc = usage_error("usage: tlogcheck note|inclusion|consistency|root ... (see the source)");
    if (fflush(stdout) != 0 || ferror(stdout))
        rc = usage_error("cannot write the output");
    return rc;
}
