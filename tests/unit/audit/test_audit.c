/*
 * Unit tests of the pure parts of the audit log: action and decision
 * names, the canonical entry encoding, the RFC 9162 Merkle tree (compact
 * range, proofs from stored subtree hashes, verifiers) and C2SP
 * checkpoints and signed-note lines.
 *
 * The Merkle references here are independent of src/audit/merkle.c: the
 * test hashes with libsodium directly, computes MTH, PATH and SUBPROOF
 * recursively from their RFC 9162 definitions, and has its own verifiers
 * written from the numbered steps of RFC 9162 2.1.3.2 and 2.1.4.2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

#include <sodium.h>
#include <sqlite3.h>

#include "audit/audit.h"
#include "store/store.h"
#include "vault/vault.h"

#define HB AUDIT_HASH_BYTES

/* ---- helpers ------------------------------------------------------------------ */

static void unhex(const char *hex, unsigned char *out, size_t n)
{
    size_t got = 0;

    assert_int_equal(strlen(hex), 2 * n);
    assert_int_equal(sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, NULL), 0);
    assert_int_equal(got, n);
}

static void unbase64(const char *b64, unsigned char *out, size_t max, size_t *n)
{
    assert_int_equal(sodium_base642bin(out, max, b64, strlen(b64), NULL, n, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
}

/* The test's own RFC 9162 hashes, straight from libsodium. */
static void t_leaf_hash(const void *d, size_t n, unsigned char out[HB])
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)"\x00", 1);
    crypto_hash_sha256_update(&st, d, n);
    crypto_hash_sha256_final(&st, out);
}

static void t_node_hash(const unsigned char *l, const unsigned char *r, unsigned char out[HB])
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const unsigned char *)"\x01", 1);
    crypto_hash_sha256_update(&st, l, HB);
    crypto_hash_sha256_update(&st, r, HB);
    crypto_hash_sha256_final(&st, out);
}

/* Deterministic PRNG (xorshift64*) so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- names ------------------------------------------------------------------- */

static void test_action_names(void **state)
{
    static const char *const want[] = {
        "lookup",         "reveal",        "case_open",    "case_verify", "case_approve",
        "case_close",     "login",         "login_failed", "logout",      "password_change",
        "staff_add",      "staff_suspend", "staff_resume", "staff_reset", "alert",
        "export",         "erase",         "key_rotate",   "import",      "subject_login",
        "subject_access", "access_denied", "case_cosign",
    };

    (void)state;
    assert_int_equal(CU_ARRAY_LEN(want), AUDIT_ACTION__MAX - 1);
    for (int a = AUDIT_LOOKUP; a < AUDIT_ACTION__MAX; a++) {
        assert_non_null(audit_action_name(a));
        assert_string_equal(audit_action_name(a), want[a - 1]);
        assert_int_equal(audit_action_from_name(want[a - 1]), a);
    }
    assert_int_equal(audit_action_from_name("subject_access"), AUDIT_SUBJECT_ACCESS);
    assert_null(audit_action_name(0));
    assert_null(audit_action_name(-1));
    assert_null(audit_action_name(AUDIT_ACTION__MAX));
    assert_int_equal(audit_action_from_name("LOOKUP"), -1);
    assert_int_equal(audit_action_from_name("look"), -1);
    assert_int_equal(audit_action_from_name(""), -1);
    assert_int_equal(audit_action_from_name(NULL), -1);
}

static void test_decision_names(void **state)
{
    static const char *const want[] = {"allow", "deny", "step_up", "block"};

    (void)state;
    for (int d = AUDIT_ALLOW; d <= AUDIT_BLOCK; d++) {
        assert_string_equal(audit_decision_name(d), want[d - 1]);
        assert_int_equal(audit_decision_from_name(want[d - 1]), d);
    }
    assert_null(audit_decision_name(0));
    assert_null(audit_decision_name(AUDIT_BLOCK + 1));
    assert_int_equal(audit_decision_from_name("allowed"), -1);
    assert_int_equal(audit_decision_from_name(NULL), -1);
}

/* ---- entries ----------------------------------------------------------------- */

/* An entry with every field set; strings are static. */
static struct audit_entry full_entry(void)
{
    struct audit_entry e;

    memset(&e, 0, sizeof(e));
    e.time_ms = 1700000000123;
    e.action = AUDIT_REVEAL;
    e.decision = AUDIT_STEP_UP;
    e.actor = "ann.lee";
    e.role = "clerk";
    e.store = "SH-0042";
    e.case_id = "c_9f2a";
    e.has_subject = 1;
    for (int i = 0; i < AUDIT_PSEUDONYM_BYTES; i++)
        e.subject[i] = (unsigned char)(0xc0 + i);
    e.fields = "name,phone,email";
    e.reasons = "quota_near,after_hours";
    e.request_id = "req-000123";
    e.client = "192.0.2.7";
    e.detail = "kek=3 count=1";
    return e;
}

static void assert_str_or_empty(const char *got, const char *want)
{
    assert_non_null(got);
    assert_string_equal(got, want != NULL ? want : "");
}

static void assert_entry_equal(const struct audit_entry *got, const struct audit_entry *want)
{
    assert_int_equal(got->time_ms, want->time_ms);
    assert_int_equal(got->action, want->action);
    assert_int_equal(got->decision, want->decision);
    assert_str_or_empty(got->actor, want->actor);
    assert_str_or_empty(got->role, want->role);
    assert_str_or_empty(got->store, want->store);
    assert_str_or_empty(got->case_id, want->case_id);
    assert_int_equal(got->has_subject, !!want->has_subject);
    if (want->has_subject)
        assert_memory_equal(got->subject, want->subject, AUDIT_PSEUDONYM_BYTES);
    assert_str_or_empty(got->fields, want->fields);
    assert_str_or_empty(got->reasons, want->reasons);
    assert_str_or_empty(got->request_id, want->request_id);
    assert_str_or_empty(got->client, want->client);
    assert_str_or_empty(got->detail, want->detail);
}

static void test_entry_round_trip(void **state)
{
    struct audit_entry e = full_entry(), d, empty;
    struct buf enc = BUF_INIT, again = BUF_INIT, scratch = BUF_INIT;

    (void)state;
    assert_int_equal(audit_entry_encode(&e, &enc), CU_OK);
    assert_int_equal(audit_entry_decode(enc.data, enc.len, &d, &scratch), CU_OK);
    assert_entry_equal(&d, &e);
    /* One encoding per entry: the decoded entry encodes to the same bytes. */
    assert_int_equal(audit_entry_encode(&d, &again), CU_OK);
    assert_int_equal(again.len, enc.len);
    assert_memory_equal(again.data, enc.data, enc.len);

    /* Negative and extreme times survive the uint64 wire form. */
    for (int i = 0; i < 3; i++) {
        static const int64_t times[] = {-1, INT64_MIN, INT64_MAX};

        e.time_ms = times[i];
        buf_reset(&enc);
        assert_int_equal(audit_entry_encode(&e, &enc), CU_OK);
        assert_int_equal(audit_entry_decode(enc.data, enc.len, &d, &scratch), CU_OK);
        assert_true(d.time_ms == times[i]);
    }

    /* NULL strings and no subject: decoded as empty strings; 11 header and 13 length bytes. */
    memset(&empty, 0, sizeof(empty));
    empty.action = AUDIT_LOGIN;
    empty.decision = AUDIT_ALLOW;
    buf_reset(&enc);
    assert_int_equal(audit_entry_encode(&empty, &enc), CU_OK);
    assert_int_equal(enc.len, 1 + 8 + 1 + 1 + 4 + 1 + 2 + 2 + 1 + 1 + 2);
    assert_int_equal(audit_entry_decode(enc.data, enc.len, &d, &scratch), CU_OK);
    assert_entry_equal(&d, &empty);
    assert_int_equal(d.has_subject, 0);

    /* Encoding appends. */
    buf_reset(&enc);
    buf_addstr(&enc, "prefix");
    assert_int_equal(audit_entry_encode(&empty, &enc), CU_OK);
    assert_memory_equal(enc.data, "prefix\x01", 7);

    buf_release(&enc);
    buf_release(&again);
    buf_release(&scratch);
}

static void test_entry_limits(void **state)
{
    struct audit_entry e = full_entry(), d;
    struct buf enc = BUF_INIT, scratch = BUF_INIT;
    char *s255 = malloc(256), *s256 = malloc(257), *s65535 = malloc(65536), *s65536 = malloc(65537);

    (void)state;
    memset(s255, 'a', 255), s255[255] = '\0';
    memset(s256, 'a', 256), s256[256] = '\0';
    memset(s65535, 'f', 65535), s65535[65535] = '\0';
    memset(s65536, 'f', 65536), s65536[65536] = '\0';

    /* The largest values fit and round-trip. */
    e.actor = e.role = e.store = e.case_id = e.request_id = e.client = s255;
    e.fields = e.reasons = e.detail = s65535;
    assert_int_equal(audit_entry_encode(&e, &enc), CU_OK);
    assert_int_equal(enc.len, 1 + 8 + 2 + 6 * 256 + 17 + 3 * (65535 + 2));
    assert_int_equal(audit_entry_decode(enc.data, enc.len, &d, &scratch), CU_OK);
    assert_entry_equal(&d, &e);

    /* One byte more in any field is refused, and nothing is appended. */
    buf_reset(&enc);
    buf_addstr(&enc, "keep");
    for (int i = 0; i < 9; i++) {
        struct audit_entry bad = full_entry();
        const char **f[] = {&bad.actor,   &bad.role,       &bad.store,  &bad.case_id, &bad.fields,
                            &bad.reasons, &bad.request_id, &bad.client, &bad.detail};
        int wide = f[i] == &bad.fields || f[i] == &bad.reasons || f[i] == &bad.detail;

        *f[i] = wide ? s65536 : s256;
        assert_int_equal(audit_entry_encode(&bad, &enc), CU_ERR_INVALID);
        assert_int_equal(enc.len, 4);
        assert_string_equal(enc.data, "keep");
    }
    /* So is an action or decision out of range (decode would refuse it). */
    e = full_entry();
    e.action = 0;
    assert_int_equal(audit_entry_encode(&e, &enc), CU_ERR_INVALID);
    e.action = AUDIT_ACTION__MAX;
    assert_int_equal(audit_entry_encode(&e, &enc), CU_ERR_INVALID);
    e = full_entry();
    e.decision = AUDIT_BLOCK + 1;
    assert_int_equal(audit_entry_encode(&e, &enc), CU_ERR_INVALID);
    assert_int_equal(enc.len, 4);

    free(s255);
    free(s256);
    free(s65535);
    free(s65536);
    buf_release(&enc);
    buf_release(&scratch);
}

/*
 * The exact bytes of one small entry, written out by hand from the format
 * in audit.h; this pins the leaf_input format.
 */
static const unsigned char small_entry_bytes[] = {
    0x01,                                                 /* version */
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,       /* time_ms 1700000000000 */
    0x02,                                                 /* action reveal */
    0x02,                                                 /* decision deny */
    0x03, 'a',  'n',  'n',                                /* actor */
    0x05, 'c',  'l',  'e',  'r',  'k',                    /* role */
    0x03, 'S',  '0',  '1',                                /* store */
    0x00,                                                 /* case_id (NULL) */
    0x10, 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, /* subject */
    0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0x00, 0x0a,
    'n',  'a',  'm',  'e',  ',',  'p',  'h',  'o',  'n',  'e', /* fields */
    0x00, 0x00,                                                /* reasons */
    0x02, 'r',  '1',                                           /* request_id */
    0x00,                                                      /* client */
    0x00, 0x01, 'x',                                           /* detail */
};

static struct audit_entry small_entry(void)
{
    struct audit_entry e;

    memset(&e, 0, sizeof(e));
    e.time_ms = 1700000000000;
    e.action = AUDIT_REVEAL;
    e.decision = AUDIT_DENY;
    e.actor = "ann";
    e.role = "clerk";
    e.store = "S01";
    e.has_subject = 1;
    for (int i = 0; i < 16; i++)
        e.subject[i] = (unsigned char)(0xa0 + i);
    e.fields = "name,phone";
    e.request_id = "r1";
    e.detail = "x";
    return e;
}

static void test_entry_exact_bytes(void **state)
{
    struct audit_entry e = small_entry(), d;
    struct buf enc = BUF_INIT, scratch = BUF_INIT;

    (void)state;
    assert_int_equal(audit_entry_encode(&e, &enc), CU_OK);
    assert_int_equal(enc.len, sizeof(small_entry_bytes));
    assert_memory_equal(enc.data, small_entry_bytes, sizeof(small_entry_bytes));
    assert_int_equal(audit_entry_decode(small_entry_bytes, sizeof(small_entry_bytes), &d, &scratch),
                     CU_OK);
    assert_entry_equal(&d, &e);
    buf_release(&enc);
    buf_release(&scratch);
}

/* Decodes a modified copy of small_entry_bytes: byte `at` set to `v`. */
static int decode_patched(size_t at, unsigned char v)
{
    unsigned char b[sizeof(small_entry_bytes)];
    struct buf scratch = BUF_INIT;
    struct audit_entry d;
    int rc;

    memcpy(b, small_entry_bytes, sizeof(b));
    b[at] = v;
    rc = audit_entry_decode(b, sizeof(b), &d, &scratch);
    buf_release(&scratch);
    return rc;
}

static void test_entry_decode_rejects(void **state)
{
    struct audit_entry e = full_entry(), d, sentinel;
    struct buf enc = BUF_INIT, scratch = BUF_INIT, b = BUF_INIT;
    unsigned char sub[64];

    (void)state;
    assert_int_equal(audit_entry_encode(&e, &enc), CU_OK);

    /* Every truncation, including the empty input, is refused and writes nothing. */
    memset(&sentinel, 0x5a, sizeof(sentinel));
    for (size_t len = 0; len < enc.len; len++) {
        d = sentinel;
        assert_int_equal(audit_entry_decode(enc.data, len, &d, &scratch), CU_ERR_INVALID);
        assert_memory_equal(&d, &sentinel, sizeof(d));
    }
    assert_int_equal(audit_entry_decode(NULL, 0, &d, &scratch), CU_ERR_INVALID);

    /* Trailing bytes. */
    buf_add(&b, enc.data, enc.len);
    buf_addch(&b, '\0');
    assert_int_equal(audit_entry_decode(b.data, b.len, &d, &scratch), CU_ERR_INVALID);
    buf_reset(&b);
    buf_add(&b, enc.data, enc.len);
    buf_add(&b, enc.data, enc.len);
    assert_int_equal(audit_entry_decode(b.data, b.len, &d, &scratch), CU_ERR_INVALID);

    /* Offsets in small_entry_bytes: 0 version, 9 action, 10 decision, 25 case_id
     * length, 26 subject length, 43 fields length (2 bytes). */
    assert_int_equal(decode_patched(0, 1), CU_OK);
    assert_int_equal(decode_patched(0, 0), CU_ERR_INVALID);
    assert_int_equal(decode_patched(0, 2), CU_ERR_INVALID);
    assert_int_equal(decode_patched(0, 0xff), CU_ERR_INVALID);
    assert_int_equal(decode_patched(9, 0), CU_ERR_INVALID);
    assert_int_equal(decode_patched(9, AUDIT_ACTION__MAX), CU_ERR_INVALID);
    assert_int_equal(decode_patched(9, 0xff), CU_ERR_INVALID);
    assert_int_equal(decode_patched(9, AUDIT_ACTION__MAX - 1), CU_OK);
    assert_int_equal(decode_patched(10, 0), CU_ERR_INVALID);
    assert_int_equal(decode_patched(10, AUDIT_BLOCK + 1), CU_ERR_INVALID);
    assert_int_equal(decode_patched(10, AUDIT_BLOCK), CU_OK);
    /* A length that runs past the end. */
    assert_int_equal(decode_patched(25, 0xff), CU_ERR_INVALID);
    assert_int_equal(decode_patched(43, 0xff), CU_ERR_INVALID);
    /* A NUL inside a string would not re-encode to the same leaf. */
    assert_int_equal(decode_patched(12, '\0'), CU_ERR_INVALID);
    assert_int_equal(decode_patched(47, '\0'), CU_ERR_INVALID);

    /* Subjects of any length but 0 and 16, with the rest of the entry intact. */
    for (unsigned n = 0; n <= 40; n++) {
        buf_reset(&b);
        buf_add(&b, small_entry_bytes, 26);
        buf_addch(&b, (char)n);
        memset(sub, 0xee, n);
        buf_add(&b, sub, n);
        buf_add(&b, small_entry_bytes + 43, sizeof(small_entry_bytes) - 43);
        assert_int_equal(audit_entry_decode(b.data, b.len, &d, &scratch),
                         n == 0 || n == 16 ? CU_OK : CU_ERR_INVALID);
        if (n == 0)
            assert_int_equal(d.has_subject, 0);
    }

    buf_release(&enc);
    buf_release(&scratch);
    buf_release(&b);
}

/*
 * Random mutations of a valid leaf (byte changes, truncation, insertion):
 * decode never reads out of bounds (the sanitizer build checks) and any
 * leaf it accepts re-encodes to exactly the same bytes.
 */
static void test_entry_decode_mutations(void **state)
{
    struct audit_entry e = full_entry(), d;
    struct buf enc = BUF_INIT, m = BUF_INIT, again = BUF_INIT, scratch = BUF_INIT;
    int accepted = 0, refused = 0;

    (void)state;
    assert_int_equal(audit_entry_encode(&e, &enc), CU_OK);
    for (int iter = 0; iter < 20000; iter++) {
        int edits = 1 + (int)(rng() % 3);

        buf_reset(&m);
        buf_add(&m, enc.data, enc.len);
        for (int k = 0; k < edits && m.len > 0; k++) {
            size_t at = rng() % m.len;

            switch (rng() % 4) {
            case 0:
                m.data[at] = (char)rng();
                break;
            case 1:
                m.data[at] = (char)(rng() % 24); /* small values: plausible lengths and enums */
                break;
            case 2:
                m.len = at;
                break;
            default:
                buf_addch(&m, 0);
                memmove(m.data + at + 1, m.data + at, m.len - at - 1);
                m.data[at] = (char)rng();
                break;
            }
        }
        if (audit_entry_decode(m.data, m.len, &d, &scratch) != CU_OK) {
            refused++;
            continue;
        }
        accepted++;
        buf_reset(&again);
        assert_int_equal(audit_entry_encode(&d, &again), CU_OK);
        assert_int_equal(again.len, m.len);
        assert_memory_equal(again.data, m.data, m.len);
    }
    assert_true(accepted > 100);
    assert_true(refused > 100);
    buf_release(&enc);
    buf_release(&m);
    buf_release(&again);
    buf_release(&scratch);
}

/* ---- Merkle tree: stored subtrees ------------------------------------------------------ */

#define TMAX   301 /* leaves: trees of 1..300 and one more for the "size + 1" checks */
#define LEVELS 9   /* 2^8 <= 300 < 2^9 */

/*
 * The hash store the proof functions read: every complete subtree reported
 * by audit_range_append().  `size` is the current tree size; asking for a
 * subtree outside it fails the test.
 */
struct tstore {
    uint64_t size;
    unsigned long gets, reports;
    int fail_with; /* when not CU_OK, get() returns it */
    unsigned char set[LEVELS][TMAX];
    unsigned char h[LEVELS][TMAX][HB];
};

static struct tstore *ts;
static unsigned char leaf_data[TMAX][12];
static size_t leaf_len[TMAX];
static unsigned char leaves[TMAX][HB];         /* leaf hashes */
static unsigned char naive_root[TMAX + 1][HB]; /* naive_root[n] = MTH of the first n */
static unsigned char (*memo)[HB];              /* MTH(D[a:b]) at a * (TMAX + 1) + b */
static unsigned char *memo_set;

static uint64_t largest_pow2_below(uint64_t n)
{
    uint64_t k = 1;

    while (2 * k < n)
        k *= 2;
    return k;
}

/* MTH(D[a:b]) computed naively from the definition (RFC 9162 2.1.1). */
static void naive_mth(uint64_t a, uint64_t b, unsigned char out[HB])
{
    unsigned char l[HB], r[HB];
    uint64_t k;

    if (b - a == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    if (b - a == 1) {
        memcpy(out, leaves[a], HB);
        return;
    }
    k = largest_pow2_below(b - a);
    naive_mth(a, a + k, l);
    naive_mth(a + k, b, r);
    t_node_hash(l, r, out);
}

/* The same, memoised, for the reference proofs. */
static const unsigned char *mth(uint64_t a, uint64_t b)
{
    size_t at = a * (TMAX + 1) + b;

    if (!memo_set[at]) {
        if (b - a == 1) {
            memcpy(memo[at], leaves[a], HB);
        } else {
            uint64_t k = largest_pow2_below(b - a);

            t_node_hash(mth(a, a + k), mth(a + k, b), memo[at]);
        }
        memo_set[at] = 1;
    }
    return memo[at];
}

/* RFC 9162 2.1.3.1 PATH(m, D[a:b]), recursively. */
static void ref_path(uint64_t m, uint64_t a, uint64_t b, unsigned char out[][HB], unsigned *n)
{
    uint64_t k;

    if (b - a <= 1)
        return;
    k = largest_pow2_below(b - a);
    if (m < k) {
        ref_path(m, a, a + k, out, n);
        memcpy(out[(*n)++], mth(a + k, b), HB);
    } else {
        ref_path(m - k, a + k, b, out, n);
        memcpy(out[(*n)++], mth(a, a + k), HB);
    }
}

/* RFC 9162 2.1.4.1 SUBPROOF(m, D[a:b], whole), recursively. */
static void ref_subproof(uint64_t m, uint64_t a, uint64_t b, int whole, unsigned char out[][HB],
                         unsigned *n)
{
    uint64_t k;

    if (m == b - a) {
        if (!whole)
            memcpy(out[(*n)++], mth(a, b), HB);
        return;
    }
    k = largest_pow2_below(b - a);
    if (m <= k) {
        ref_subproof(m, a, a + k, whole, out, n);
        memcpy(out[(*n)++], mth(a + k, b), HB);
    } else {
        ref_subproof(m - k, a + k, b, 0, out, n);
        memcpy(out[(*n)++], mth(a, a + k), HB);
    }
}

static void store_done(void *ctx, unsigned level, uint64_t index, const unsigned char hash[HB])
{
    struct tstore *s = ctx;
    uint64_t a = index << level, b = (index + 1) << level;

    assert_true(level < LEVELS);
    assert_true(index < TMAX);
    /* A stored subtree hash is never rewritten. */
    assert_false(s->set[level][index]);
    /* The subtree is complete in the tree just grown (which has size + 1 leaves). */
    assert_true(b <= s->size + 1);
    assert_memory_equal(hash, mth(a, b), HB);
    memcpy(s->h[level][index], hash, HB);
    s->set[level][index] = 1;
    s->reports++;
}

static int store_get(void *ctx, unsigned level, uint64_t index, unsigned char out[HB])
{
    struct tstore *s = ctx;

    if (s->fail_with != CU_OK)
        return s->fail_with;
    assert_true(level < LEVELS);
    /* Only subtrees wholly inside the tree may be asked for. */
    assert_true(((index + 1) << level) <= s->size);
    assert_true(s->set[level][index]);
    memcpy(out, s->h[level][index], HB);
    s->gets++;
    return CU_OK;
}

static int merkle_setup(void **state)
{
    (void)state;
    ts = calloc(1, sizeof(*ts));
    memo = calloc((size_t)(TMAX + 1) * (TMAX + 1), HB);
    memo_set = calloc((size_t)(TMAX + 1) * (TMAX + 1), 1);
    if (ts == NULL || memo == NULL || memo_set == NULL)
        return -1;
    /* Leaves of varying length, all different. */
    for (int i = 0; i < TMAX; i++) {
        leaf_len[i] = 1 + (size_t)i % 12;
        for (size_t j = 0; j < leaf_len[i]; j++)
            leaf_data[i][j] = (unsigned char)(i * 31 + j * 7 + (i >> 8));
        leaf_data[i][0] = (unsigned char)i;
        leaf_data[i][leaf_len[i] - 1] ^= (unsigned char)(i >> 8);
        t_leaf_hash(leaf_data[i], leaf_len[i], leaves[i]);
    }
    for (int n = 0; n <= TMAX; n++)
        naive_mth(0, (uint64_t)n, naive_root[n]);
    return 0;
}

static int merkle_teardown(void **state)
{
    (void)state;
    free(ts);
    free(memo);
    free(memo_set);
    return 0;
}

/* Resets the store and appends the first n leaves to a fresh range. */
static void build(struct audit_range *r, uint64_t n)
{
    memset(ts, 0, sizeof(*ts));
    audit_range_init(r);
    for (uint64_t i = 0; i < n; i++) {
        ts->size = i;
        audit_range_append(r, leaves[i], store_done, ts);
        ts->size = i + 1;
    }
}

/* ---- the independent verifiers, written from RFC 9162's numbered steps ------------------- */

/* RFC 9162 2.1.3.2.  Returns 1 when the proof verifies. */
static int rfc_verify_inclusion(uint64_t leaf_index, uint64_t tree_size, const unsigned char *hash,
                                const unsigned char (*inclusion_path)[HB], size_t path_len,
                                const unsigned char *root_hash)
{
    unsigned char r[HB];
    uint64_t fn, sn;

    /* 1. Compare leaf_index against tree_size; fail if leaf_index >= tree_size. */
    if (leaf_index >= tree_size)
        return 0;
    /* 2. Set fn to leaf_index and sn to tree_size - 1. */
    fn = leaf_index;
    sn = tree_size - 1;
    /* 3. Set r to hash. */
    memcpy(r, hash, HB);
    /* 4. For each value p in the inclusion_path array: */
    for (size_t k = 0; k < path_len; k++) {
        const unsigned char *p = inclusion_path[k];

        /* a. If sn is 0, then stop the iteration and fail the proof verification. */
        if (sn == 0)
            return 0;
        /* b. If LSB(fn) is set, or if fn is equal to sn, then: */
        if ((fn & 1) == 1 || fn == sn) {
            /* i. Set r to HASH(0x01 || p || r). */
            t_node_hash(p, r, r);
            /* ii. If LSB(fn) is not set, then right-shift both fn and sn equally
             * until either LSB(fn) is set or fn is 0. (fn == sn != 0 here.) */
            if ((fn & 1) == 0) {
                do {
                    fn >>= 1;
                    sn >>= 1;
                } while ((fn & 1) == 0 && fn != 0);
            }
        } else {
            /* Otherwise: i. Set r to HASH(0x01 || r || p). */
            t_node_hash(r, p, r);
        }
        /* c. Finally, right-shift both fn and sn one time. */
        fn >>= 1;
        sn >>= 1;
    }
    /* 5. Compare sn to 0 and r against root_hash. */
    return sn == 0 && memcmp(r, root_hash, HB) == 0;
}

/*
 * RFC 9162 2.1.4.2 (for 0 < first < second).  For first == second the
 * proof of 2.1.4.1 is empty and the trees must have the same root.
 */
static int rfc_verify_consistency(uint64_t first, uint64_t second, const unsigned char *first_hash,
                                  const unsigned char *second_hash,
                                  const unsigned char (*proof)[HB], size_t proof_len)
{
    unsigned char consistency_path[AUDIT_MAX_PROOF + 2][HB], fr[HB], sr[HB];
    size_t path_len = 0;
    uint64_t fn, sn;

    if (first == 0 || first > second)
        return 0;
    if (first == second)
        return proof_len == 0 && memcmp(first_hash, second_hash, HB) == 0;
    if (proof_len > AUDIT_MAX_PROOF + 1)
        return 0;
    /* 1. If consistency_path is an empty array, stop and fail the proof verification. */
    if (proof_len == 0)
        return 0;
    /* 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array. */
    if ((first & (first - 1)) == 0)
        memcpy(consistency_path[path_len++], first_hash, HB);
    for (size_t k = 0; k < proof_len; k++)
        memcpy(consistency_path[path_len++], proof[k], HB);
    /* 3. Set fn to first - 1 and sn to second - 1. */
    fn = first - 1;
    sn = second - 1;
    /* 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set. */
    while ((fn & 1) == 1) {
        fn >>= 1;
        sn >>= 1;
    }
    /* 5. Set both fr and sr to the first value in the consistency_path array. */
    memcpy(fr, consistency_path[0], HB);
    memcpy(sr, consistency_path[0], HB);
    /* 6. For each subsequent value c in the consistency_path array: */
    for (size_t k = 1; k < path_len; k++) {
        const unsigned char *c = consistency_path[k];

        /* a. If sn is 0, then stop the iteration and fail the proof verification. */
        if (sn == 0)
            return 0;
        /* b. If LSB(fn) is set, or if fn is equal to sn, then: */
        if ((fn & 1) == 1 || fn == sn) {
            /* i. Set fr to HASH(0x01 || c || fr).  Set sr to HASH(0x01 || c || sr). */
            t_node_hash(c, fr, fr);
            t_node_hash(c, sr, sr);
            /* ii. If LSB(fn) is not set, then right-shift both fn and sn equally
             * until either LSB(fn) is set or fn is 0. */
            if ((fn & 1) == 0) {
                do {
                    fn >>= 1;
                    sn >>= 1;
                } while ((fn & 1) == 0 && fn != 0);
            }
        } else {
            /* Otherwise: i. Set sr to HASH(0x01 || sr || c). */
            t_node_hash(sr, c, sr);
        }
        /* c. Finally, right-shift both fn and sn one time. */
        fn >>= 1;
        sn >>= 1;
    }
    /* 7. fr must equal first_hash, sr second_hash, and sn must be 0. */
    return memcmp(fr, first_hash, HB) == 0 && memcmp(sr, second_hash, HB) == 0 && sn == 0;
}

/* Both verifiers must agree; returns 1 when both accept (fails the test if they disagree). */
static int both_inclusion(uint64_t index, uint64_t size, const unsigned char *leaf,
                          const unsigned char (*path)[HB], unsigned n, const unsigned char *root)
{
    int prod = audit_verify_inclusion(index, size, leaf, path, n, root);
    int ref = rfc_verify_inclusion(index, size, leaf, path, n, root);

    assert_true(prod == CU_OK || prod == CU_ERR_INTEGRITY);
    assert_int_equal(prod == CU_OK, ref);
    return ref;
}

static int both_consistency(uint64_t first, uint64_t second, const unsigned char *r1,
                            const unsigned char *r2, const unsigned char (*proof)[HB], unsigned n)
{
    int prod = audit_verify_consistency(first, second, r1, r2, proof, n);
    int ref = rfc_verify_consistency(first, second, r1, r2, proof, n);

    assert_true(prod == CU_OK || prod == CU_ERR_INTEGRITY);
    assert_int_equal(prod == CU_OK, ref);
    return ref;
}

/* ---- Merkle tree tests ----------------------------------------------------------------- */

static void test_hash_primitives(void **state)
{
    unsigned char a[HB], b[HB], l[HB], r[HB];

    (void)state;
    audit_empty_root(a);
    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", b, HB);
    assert_memory_equal(a, b, HB);
    /* Leaf hash of the empty leaf: SHA-256(0x00). */
    audit_leaf_hash("", 0, a);
    unhex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", b, HB);
    assert_memory_equal(a, b, HB);
    for (int i = 0; i < 20; i++) {
        audit_leaf_hash(leaf_data[i], leaf_len[i], a);
        assert_memory_equal(a, leaves[i], HB);
    }
    /* Node hash, also when the output aliases an input. */
    memcpy(l, leaves[0], HB);
    memcpy(r, leaves[1], HB);
    t_node_hash(l, r, b);
    audit_node_hash(l, r, a);
    assert_memory_equal(a, b, HB);
    audit_node_hash(l, r, l);
    assert_memory_equal(l, b, HB);
    memcpy(l, leaves[0], HB);
    audit_node_hash(l, r, r);
    assert_memory_equal(r, b, HB);
    /* An empty range has the empty root. */
    {
        struct audit_range rg;

        audit_range_init(&rg);
        audit_range_root(&rg, a);
        assert_memory_equal(a, naive_root[0], HB);
    }
}

/*
 * The canonical 8-entry Certificate Transparency test tree, with the roots,
 * inclusion and consistency proofs published in transparency-dev/merkle
 * (proof/verify_test.go) and the CT C++ and Go code before it.
 */
static const char *const ct_leaves[] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

static const char *const ct_roots[] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct ct_proof {
    uint64_t a, b; /* inclusion: index, size; consistency: first, second */
    unsigned n;
    const char *h[3];
};

static const struct ct_proof ct_inclusion[] = {
    {0,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     3,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     3,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {0, 1, 0, {NULL}},
};

static const struct ct_proof ct_consistency[] = {
    {1,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     2,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {1, 1, 0, {NULL}},
};

/* A store over the CT leaves (not the big test tree). */
struct ct_store {
    uint64_t size;
    unsigned char h[4][8][HB];
};

static void ct_done(void *ctx, unsigned level, uint64_t index, const unsigned char hash[HB])
{
    struct ct_store *s = ctx;

    assert_true(level < 4 && index < 8);
    memcpy(s->h[level][index], hash, HB);
}

static int ct_get(void *ctx, unsigned level, uint64_t index, unsigned char out[HB])
{
    struct ct_store *s = ctx;

    assert_true(((index + 1) << level) <= s->size);
    memcpy(out, s->h[level][index], HB);
    return CU_OK;
}

static void test_ct_vectors(void **state)
{
    struct ct_store s;
    struct audit_range r;
    unsigned char data[16], lh[8][HB], root[HB], want[HB], roots[8][HB];
    unsigned char path[AUDIT_MAX_PROOF][HB], proof[AUDIT_MAX_PROOF][HB];
    unsigned n;

    (void)state;
    memset(&s, 0, sizeof(s));
    audit_range_init(&r);
    for (int i = 0; i < 8; i++) {
        size_t len = strlen(ct_leaves[i]) / 2;

        unhex(ct_leaves[i], data, len);
        audit_leaf_hash(data, len, lh[i]);
        audit_range_append(&r, lh[i], ct_done, &s);
        s.size = (uint64_t)i + 1;
        unhex(ct_roots[i], roots[i], HB);
        audit_range_root(&r, root);
        assert_memory_equal(root, roots[i], HB);
        assert_int_equal(audit_root_at(s.size, ct_get, &s, root), CU_OK);
        assert_memory_equal(root, roots[i], HB);
    }
    for (size_t t = 0; t < CU_ARRAY_LEN(ct_inclusion); t++) {
        const struct ct_proof *p = &ct_inclusion[t];

        s.size = p->b;
        assert_int_equal(audit_inclusion_proof(p->a, p->b, ct_get, &s, path, &n), CU_OK);
        assert_int_equal(n, p->n);
        for (unsigned i = 0; i < n; i++) {
            unhex(p->h[i], want, HB);
            assert_memory_equal(path[i], want, HB);
        }
        assert_true(both_inclusion(p->a, p->b, lh[p->a], path, n, roots[p->b - 1]));
    }
    for (size_t t = 0; t < CU_ARRAY_LEN(ct_consistency); t++) {
        const struct ct_proof *p = &ct_consistency[t];

        s.size = p->b;
        assert_int_equal(audit_consistency_proof(p->a, p->b, ct_get, &s, proof, &n), CU_OK);
        assert_int_equal(n, p->n);
        for (unsigned i = 0; i < n; i++) {
            unhex(p->h[i], want, HB);
            assert_memory_equal(proof[i], want, HB);
        }
        assert_true(both_consistency(p->a, p->b, roots[p->a - 1], roots[p->b - 1], proof, n));
    }
}

/* The compact range holds one subtree per set bit of the size, largest first. */
static void test_range_layout(void **state)
{
    struct audit_range r;
    unsigned long reports = 0;

    (void)state;
    memset(ts, 0, sizeof(*ts));
    audit_range_init(&r);
    for (uint64_t n = 1; n < TMAX; n++) {
        unsigned long before = ts->reports;
        uint64_t old = n - 1, start = 0;
        unsigned trailing = 0, k = 0;

        ts->size = old;
        audit_range_append(&r, leaves[old], store_done, ts);
        ts->size = n;
        /* One report for the leaf, one per subtree the carry completes. */
        while ((old >> trailing) & 1)
            trailing++;
        assert_int_equal(ts->reports - before, 1 + trailing);
        reports = ts->reports;

        assert_int_equal(r.size, n);
        assert_int_equal(r.nhashes, __builtin_popcountll(n));
        for (int level = 63; level >= 0; level--) {
            if (!((n >> level) & 1))
                continue;
            assert_memory_equal(r.hashes[k], mth(start, start + ((uint64_t)1 << level)), HB);
            start += (uint64_t)1 << level;
            k++;
        }
    }
    /* Every complete subtree at every level was reported, and nothing else. */
    for (unsigned level = 0; level < LEVELS; level++)
        for (uint64_t i = 0; i < TMAX; i++)
            assert_int_equal(ts->set[level][i], ((i + 1) << level) <= TMAX - 1);
    {
        unsigned long want = 0;

        for (unsigned level = 0; level < LEVELS; level++)
            want += (TMAX - 1) >> level;
        assert_int_equal(reports, want);
    }
}

static unsigned ceil_log2(uint64_t n)
{
    unsigned d = 0;

    while (d < 64 && ((uint64_t)1 << d) < n)
        d++;
    return d;
}

/*
 * For every tree of 1..300 leaves: the root from the range and from the
 * stored subtrees equals the naive MTH; for every index the inclusion proof
 * and for every smaller size the consistency proof equal the recursive RFC
 * definitions, verify with both verifiers, read O(log n) stored hashes, and
 * fail once a bit is flipped, the index is wrong, or a size is wrong.
 */
static void test_exhaustive_1_to_300(void **state)
{
    struct audit_range r;
    unsigned char root[HB], bad[AUDIT_MAX_PROOF + 1][HB];
    unsigned char path[AUDIT_MAX_PROOF][HB], ref[AUDIT_MAX_PROOF][HB];
    unsigned n, nref;
    unsigned long inclusion = 0, consistency = 0;
    double t0 = now_s();

    (void)state;
    memset(ts, 0, sizeof(*ts));
    audit_range_init(&r);
    for (uint64_t size = 1; size < TMAX; size++) {
        unsigned bound = 2 * ceil_log2(size) + 1;
        const unsigned char *sroot = naive_root[size];

        ts->size = size - 1;
        audit_range_append(&r, leaves[size - 1], store_done, ts);
        ts->size = size;

        audit_range_root(&r, root);
        assert_memory_equal(root, sroot, HB);
        assert_memory_equal(mth(0, size), sroot, HB);
        ts->gets = 0;
        assert_int_equal(audit_root_at(size, store_get, ts, root), CU_OK);
        assert_memory_equal(root, sroot, HB);
        assert_int_equal(ts->gets, __builtin_popcountll(size));

        for (uint64_t i = 0; i < size; i++) {
            uint64_t wrong_index = (i + 1) % size;
            uint64_t wrong_size = (i % 2 == 0 || i + 1 >= size - 1) ? size + 1 : size - 1;

            ts->gets = 0;
            assert_int_equal(audit_inclusion_proof(i, size, store_get, ts, path, &n), CU_OK);
            assert_true(ts->gets <= bound);
            nref = 0;
            ref_path(i, 0, size, ref, &nref);
            assert_int_equal(n, nref);
            if (n > 0)
                assert_memory_equal(path, ref, n * HB);
            assert_true(both_inclusion(i, size, leaves[i], path, n, sroot));
            inclusion++;

            if (n > 0) {
                memcpy(bad, path, n * HB);
                bad[i % n][(i * 7) % HB] ^= (unsigned char)(1u << (i % 8));
                assert_false(both_inclusion(i, size, leaves[i], bad, n, sroot));
            }
            if (size > 1)
                assert_false(both_inclusion(wrong_index, size, leaves[i], path, n, sroot));
            /* A wrong size, with the root of that size (a real checkpoint of it). */
            if (wrong_size > i)
                assert_false(
                    both_inclusion(i, wrong_size, leaves[i], path, n, naive_root[wrong_size]));
        }

        for (uint64_t m = 1; m <= size; m++) {
            const unsigned char *mroot = naive_root[m];
            uint64_t wrong_first = m + 1 <= size ? m + 1 : m - 1;

            ts->gets = 0;
            assert_int_equal(audit_consistency_proof(m, size, store_get, ts, path, &n), CU_OK);
            assert_true(ts->gets <= bound + 1);
            nref = 0;
            ref_subproof(m, 0, size, 1, ref, &nref);
            assert_int_equal(n, nref);
            if (n > 0)
                assert_memory_equal(path, ref, n * HB);
            assert_int_equal(n == 0, m == size);
            assert_true(both_consistency(m, size, mroot, sroot, path, n));
            consistency++;

            if (n > 0) {
                memcpy(bad, path, n * HB);
                bad[m % n][(m * 5) % HB] ^= (unsigned char)(1u << (m % 8));
                assert_false(both_consistency(m, size, mroot, sroot, bad, n));
            }
            if (wrong_first >= 1)
                assert_false(
                    both_consistency(wrong_first, size, naive_root[wrong_first], sroot, path, n));
            assert_false(both_consistency(m, size + 1, mroot, naive_root[size + 1], path, n));
        }
    }
    assert_int_equal(inclusion, 300 * 301 / 2);
    assert_int_equal(consistency, 300 * 301 / 2);
    print_message("# exhaustive 1..300: %lu inclusion and %lu consistency proofs in %.2f s\n",
                  inclusion, consistency, now_s() - t0);
}

/*
 * The edge cases of the RFC 9162 verifiers, on trees up to 64 leaves: index
 * >= size, first == second, first an exact power of two, a proof one hash
 * too long or too short, wrong leaf, wrong roots, swapped roots.
 */
static void test_verifier_edge_cases(void **state)
{
    struct audit_range r;
    unsigned char path[AUDIT_MAX_PROOF][HB], bad[AUDIT_MAX_PROOF + 1][HB];
    unsigned n, pow2_checked = 0;
    const unsigned char *zero = naive_root[0];

    (void)state;
    build(&r, 64);
    for (uint64_t size = 1; size <= 64; size++) {
        const unsigned char *sroot = naive_root[size];

        ts->size = size;
        /* index >= size never verifies, whatever the path. */
        assert_false(both_inclusion(size, size, leaves[0], path, 0, sroot));
        assert_false(both_inclusion(size + 5, size, leaves[0], path, 0, sroot));
        assert_false(both_inclusion(0, 0, leaves[0], path, 0, sroot));
        assert_int_equal(audit_inclusion_proof(size, size, store_get, ts, path, &n),
                         CU_ERR_INVALID);

        for (uint64_t i = 0; i < size; i++) {
            assert_int_equal(audit_inclusion_proof(i, size, store_get, ts, path, &n), CU_OK);
            /* Too long: an extra hash at the end or the front. */
            memcpy(bad, path, n * HB);
            memcpy(bad[n], sroot, HB);
            assert_false(both_inclusion(i, size, leaves[i], bad, n + 1, sroot));
            memcpy(bad[0], leaves[i], HB);
            memcpy(bad[1], path, n * HB);
            assert_false(both_inclusion(i, size, leaves[i], bad, n + 1, sroot));
            /* Too short. */
            if (n > 0) {
                assert_false(both_inclusion(i, size, leaves[i], path, n - 1, sroot));
                assert_false(both_inclusion(i, size, leaves[i], path + 1, n - 1, sroot));
            }
            /* Wrong leaf, wrong root. */
            assert_false(both_inclusion(i, size, leaves[(i + 1) % TMAX], path, n, sroot));
            assert_false(both_inclusion(i, size, leaves[i], path, n, zero));
            /* Size doubled or halved against the true root. */
            assert_false(both_inclusion(i, size * 2, leaves[i], path, n, sroot));
        }

        /* first == second: only the empty proof between equal roots. */
        assert_true(both_consistency(size, size, sroot, sroot, path, 0));
        assert_false(both_consistency(size, size, sroot, zero, path, 0));
        memcpy(bad[0], sroot, HB);
        assert_false(both_consistency(size, size, sroot, sroot, bad, 1));
        assert_int_equal(audit_consistency_proof(size, size, store_get, ts, path, &n), CU_OK);
        assert_int_equal(n, 0);
        /* first == 0 and first > second are refused. */
        assert_false(both_consistency(0, size, zero, sroot, path, 0));
        assert_false(both_consistency(size + 1, size, naive_root[size + 1], sroot, path, 0));
        assert_int_equal(audit_consistency_proof(0, size, store_get, ts, path, &n), CU_ERR_INVALID);
        assert_int_equal(audit_consistency_proof(size + 1, size, store_get, ts, path, &n),
                         CU_ERR_INVALID);

        for (uint64_t m = 1; m < size; m++) {
            const unsigned char *mroot = naive_root[m];

            assert_int_equal(audit_consistency_proof(m, size, store_get, ts, path, &n), CU_OK);
            assert_true(n > 0);
            if ((m & (m - 1)) == 0) {
                /* A power of two: first_hash is implied, so sending it is too long. */
                memcpy(bad[0], mroot, HB);
                memcpy(bad[1], path, n * HB);
                assert_false(both_consistency(m, size, mroot, sroot, bad, n + 1));
                pow2_checked++;
            }
            /* Empty, too long, too short. */
            assert_false(both_consistency(m, size, mroot, sroot, path, 0));
            memcpy(bad, path, n * HB);
            memcpy(bad[n], sroot, HB);
            assert_false(both_consistency(m, size, mroot, sroot, bad, n + 1));
            memcpy(bad[n], path[0], HB);
            assert_false(both_consistency(m, size, mroot, sroot, bad, n + 1));
            if (n > 1) {
                assert_false(both_consistency(m, size, mroot, sroot, path, n - 1));
                assert_false(both_consistency(m, size, mroot, sroot, path + 1, n - 1));
            }
            /* Wrong or swapped roots. */
            assert_false(both_consistency(m, size, zero, sroot, path, n));
            assert_false(both_consistency(m, size, mroot, zero, path, n));
            assert_false(both_consistency(m, size, sroot, mroot, path, n));
        }
    }
    assert_true(pow2_checked > 50);
}

/* A failing hash store makes the proof functions fail with its error, writing no proof. */
static void test_proof_store_errors(void **state)
{
    struct audit_range r;
    unsigned char path[AUDIT_MAX_PROOF][HB], root[HB];
    unsigned n = 99;

    (void)state;
    build(&r, 20);
    ts->fail_with = CU_ERR_STORE;
    assert_int_equal(audit_root_at(20, store_get, ts, root), CU_ERR_STORE);
    assert_int_equal(audit_inclusion_proof(3, 20, store_get, ts, path, &n), CU_ERR_STORE);
    assert_int_equal(n, 0);
    n = 99;
    assert_int_equal(audit_consistency_proof(3, 20, store_get, ts, path, &n), CU_ERR_STORE);
    assert_int_equal(n, 0);
    ts->fail_with = CU_OK;
    assert_int_equal(audit_root_at(0, store_get, ts, root), CU_ERR_INVALID);
}

/*
 * Large sizes: proofs never need more than AUDIT_MAX_PROOF hashes and huge
 * indexes and sizes work without overflow.  The big tree is real but
 * cheap: every leaf is the same except a few special ones, so a complete
 * subtree without a special leaf has a hash that depends only on its level,
 * and the others are computed down the special leaves' paths.
 */
struct big_tree {
    uint64_t size;
    uint64_t special[4];
    unsigned char uniform[64][HB]; /* hash of a complete subtree of plain leaves, per level */
};

static void big_leaf(uint64_t j, unsigned char out[HB])
{
    unsigned char in[8];

    for (int i = 0; i < 8; i++)
        in[i] = (unsigned char)(j >> (56 - 8 * i));
    t_leaf_hash(in, sizeof(in), out);
}

static void big_subtree(const struct big_tree *t, unsigned level, uint64_t index,
                        unsigned char out[HB])
{
    uint64_t a = index << level, last = a + (((uint64_t)1 << level) - 1);
    unsigned char l[HB], r[HB];
    int special = -1;

    for (int i = 0; i < 4; i++)
        if (t->special[i] >= a && t->special[i] <= last)
            special = i;
    if (special < 0) {
        memcpy(out, t->uniform[level], HB);
    } else if (level == 0) {
        big_leaf(a, out);
    } else {
        big_subtree(t, level - 1, 2 * index, l);
        big_subtree(t, level - 1, 2 * index + 1, r);
        t_node_hash(l, r, out);
    }
}

static int big_get(void *ctx, unsigned level, uint64_t index, unsigned char out[HB])
{
    const struct big_tree *t = ctx;

    assert_true(level < 64);
    assert_true(index < (t->size >> level)); /* wholly inside the tree */
    big_subtree(t, level, index, out);
    return CU_OK;
}

static void test_large_trees(void **state)
{
    static const uint64_t sizes[] = {
        ((uint64_t)1 << 40) + 12345, ((uint64_t)1 << 62) - 1,    UINT64_MAX / 3,
        (uint64_t)1 << 63,           UINT64_MAX / 2 + 1 + 12345,
    };
    unsigned char path[AUDIT_MAX_PROOF][HB], root[HB], leaf[HB], root1[HB];
    struct big_tree t;
    unsigned n;

    (void)state;
    t_leaf_hash("plain", 5, t.uniform[0]);
    for (int l = 1; l < 64; l++)
        t_node_hash(t.uniform[l - 1], t.uniform[l - 1], t.uniform[l]);
    for (size_t s = 0; s < CU_ARRAY_LEN(sizes); s++) {
        uint64_t size = sizes[s], first = size / 2 + 7;

        t.size = size;
        t.special[0] = 0;
        t.special[1] = size / 2 + 1;
        t.special[2] = size - 1;
        t.special[3] = first - 1;
        assert_int_equal(audit_root_at(size, big_get, &t, root), CU_OK);
        for (size_t j = 0; j < 4; j++) {
            uint64_t i = t.special[j];

            assert_int_equal(audit_inclusion_proof(i, size, big_get, &t, path, &n), CU_OK);
            assert_true(n <= AUDIT_MAX_PROOF);
            if (i == 0)
                assert_int_equal(n, ceil_log2(size));
            big_leaf(i, leaf);
            assert_true(both_inclusion(i, size, leaf, path, n, root));
            assert_false(both_inclusion(i ^ 1, size, leaf, path, n, root));
            path[n / 2][0] ^= 1;
            assert_false(both_inclusion(i, size, leaf, path, n, root));
        }
        /* Consistency with a large first size. */
        t.size = first;
        assert_int_equal(audit_root_at(first, big_get, &t, root1), CU_OK);
        t.size = size;
        if (size > (uint64_t)1 << 63) {
            /* This proof would need 65 hashes: refused (only past 2^63 leaves). */
            assert_int_equal(audit_consistency_proof(first, size, big_get, &t, path, &n),
                             CU_ERR_INVALID);
            continue;
        }
        assert_int_equal(audit_consistency_proof(first, size, big_get, &t, path, &n), CU_OK);
        assert_true(n <= AUDIT_MAX_PROOF);
        assert_true(both_consistency(first, size, root1, root, path, n));
        assert_false(both_consistency(first + 1, size, root1, root, path, n));
        path[n - 1][HB - 1] ^= 0x80;
        assert_false(both_consistency(first, size, root1, root, path, n));
    }
}

/* ---- checkpoints ------------------------------------------------------------------------ */

/* Independently computed (Python 3 hashlib/base64, see the comment in test_key_id_vkey). */
static const char our_name[] = "custodian.example/audit";
static const char our_key_id_hex[] = "38fa1815";
static const char our_vkey[] =
    "custodian.example/audit+38fa1815+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";

static void test_key_id_vkey(void **state)
{
    unsigned char pk[32], id[4], want[4], seed[33], sk[64], pk2[32], blob[68], sig[64];
    const char *text = "If you think cryptography is the answer to your problem,\n"
                       "then you don't know what your problem is.\n";
    char *vkey;
    size_t n;
    struct buf line = BUF_INIT;

    (void)state;
    /*
     * pk = bytes 0..31.  Expected values computed with Python 3:
     *   kid = hashlib.sha256(b"custodian.example/audit\n\x01" + bytes(range(32))).digest()[:4]
     *   vkey = name + "+" + kid.hex() + "+" + base64.b64encode(b"\x01" + bytes(range(32)))
     */
    for (int i = 0; i < 32; i++)
        pk[i] = (unsigned char)i;
    audit_key_id(our_name, pk, id);
    unhex(our_key_id_hex, want, 4);
    assert_memory_equal(id, want, 4);
    vkey = audit_vkey(our_name, pk);
    assert_string_equal(vkey, our_vkey);
    free(vkey);

    /*
     * golang.org/x/mod/sumdb/note's documented example: the key
     * PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW and
     * its private key ...+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz sign
     * the text above to the signature line below (Ed25519 is deterministic).
     */
    unbase64("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", seed, sizeof(seed), &n);
    assert_int_equal(n, 33);
    memcpy(pk, seed + 1, 32);
    audit_key_id("PeterNeumann", pk, id);
    unhex("c74f20a3", want, 4);
    assert_memory_equal(id, want, 4);
    vkey = audit_vkey("PeterNeumann", pk);
    assert_string_equal(vkey, "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
    free(vkey);

    unbase64("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz", seed, sizeof(seed), &n);
    assert_int_equal(n, 33);
    assert_int_equal(crypto_sign_seed_keypair(pk2, sk, seed + 1), 0);
    assert_memory_equal(pk2, pk, 32);
    crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), sk);
    audit_signature_line("PeterNeumann", id, sig, &line);
    assert_string_equal(line.data,
                        "\xe2\x80\x94 PeterNeumann x08go/ZJkuBS9UG/"
                        "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6"
                        "RyyBwJnAM=\n");
    unbase64("x08go/ZJkuBS9UG/"
             "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
             blob, sizeof(blob), &n);
    assert_int_equal(n, 68);
    assert_memory_equal(blob, id, 4);
    assert_int_equal(
        crypto_sign_verify_detached(blob + 4, (const unsigned char *)text, strlen(text), pk), 0);
    sodium_memzero(sk, sizeof(sk));
    buf_release(&line);
}

static void test_checkpoint_body(void **state)
{
    unsigned char root[HB];
    char b64[sodium_base64_ENCODED_LEN(HB, sodium_base64_VARIANT_ORIGINAL)];
    struct buf body = BUF_INIT;
    size_t n;

    (void)state;
    /* The example of c2sp.org/tlog-checkpoint. */
    unbase64("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=", root, sizeof(root), &n);
    assert_int_equal(n, HB);
    audit_checkpoint_body("example.com/behind-the-sofa", 20852163, root, &body);
    assert_string_equal(body.data, "example.com/behind-the-sofa\n20852163\n"
                                   "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n");
    /* Every root encodes like libsodium's standard padded base64; sizes in decimal. */
    for (int t = 0; t < 50; t++) {
        uint64_t size = t == 0 ? 0 : t == 1 ? UINT64_MAX : (uint64_t)t * 1000003;
        char want[256];

        for (int i = 0; i < HB; i++)
            root[i] = (unsigned char)rng();
        sodium_bin2base64(b64, sizeof(b64), root, HB, sodium_base64_VARIANT_ORIGINAL);
        buf_reset(&body);
        audit_checkpoint_body("log", size, root, &body);
        snprintf(want, sizeof(want), "log\n%llu\n%s\n", (unsigned long long)size, b64);
        assert_string_equal(body.data, want);
    }
    assert_memory_equal(body.data, "log\n49000147\n", 13); /* t = 49 */
    buf_release(&body);
}

struct keypair {
    unsigned char pk[32], sk[64], id[4];
};

static void keypair_new(struct keypair *k, const char *name)
{
    assert_int_equal(crypto_sign_keypair(k->pk, k->sk), 0);
    audit_key_id(name, k->pk, k->id);
}

/* body + blank line + one signature line per signer (name, key), in order. */
static void sign_note(struct buf *note, const char *body, size_t nsigners, const char *const *names,
                      const struct keypair *const *keys)
{
    unsigned char sig[64];

    buf_reset(note);
    buf_addstr(note, body);
    buf_addch(note, '\n');
    for (size_t i = 0; i < nsigners; i++) {
        crypto_sign_detached(sig, NULL, (const unsigned char *)body, strlen(body), keys[i]->sk);
        audit_signature_line(names[i], keys[i]->id, sig, note);
    }
}

static int parse(const struct buf *note, const char *name, const struct keypair *k, char **origin,
                 uint64_t *size, unsigned char root[HB], unsigned char sig[64], size_t *body_len)
{
    return audit_checkpoint_parse(note->data, note->len, name, k->id, origin, size, root, sig,
                                  body_len);
}

static void test_checkpoint_round_trip(void **state)
{
    struct keypair ours, other, same_name;
    struct buf body = BUF_INIT, note = BUF_INIT, mod = BUF_INIT;
    unsigned char root[HB], got_root[HB], sig[64];
    char *origin = NULL;
    uint64_t size = 0;
    size_t body_len = 0;
    int verify_failures = 0;

    (void)state;
    keypair_new(&ours, our_name);
    keypair_new(&other, "witness.example/w1");
    keypair_new(&same_name, our_name);
    for (int i = 0; i < HB; i++)
        root[i] = (unsigned char)(i * 9 + 1);
    audit_checkpoint_body(our_name, 123456, root, &body);

    {
        const char *names[] = {our_name};
        const struct keypair *keys[] = {&ours};

        sign_note(&note, body.data, 1, names, keys);
    }
    assert_int_equal(parse(&note, our_name, &ours, &origin, &size, got_root, sig, &body_len),
                     CU_OK);
    assert_string_equal(origin, our_name);
    assert_int_equal(size, 123456);
    assert_memory_equal(got_root, root, HB);
    assert_int_equal(body_len, body.len);
    assert_int_equal(
        crypto_sign_verify_detached(sig, (const unsigned char *)note.data, body_len, ours.pk), 0);
    free(origin);
    origin = NULL;

    /* Changing any one character of the note never leaves a verifying signature by our key. */
    for (size_t at = 0; at < note.len; at++) {
        static const char repl[] = "A0+/ \n-";

        for (const char *c = repl; *c; c++) {
            int rc;

            if (note.data[at] == *c)
                continue;
            buf_reset(&mod);
            buf_add(&mod, note.data, note.len);
            mod.data[at] = *c;
            rc = parse(&mod, our_name, &ours, &origin, &size, got_root, sig, &body_len);
            if (rc == CU_OK) {
                assert_int_not_equal(crypto_sign_verify_detached(
                                         sig, (const unsigned char *)mod.data, body_len, ours.pk),
                                     0);
                verify_failures++;
                free(origin);
                origin = NULL;
            } else {
                assert_true(rc == CU_ERR_INVALID || rc == CU_ERR_NOT_FOUND);
            }
        }
    }
    /* Many changes parse fine and are caught by the signature alone. */
    assert_true(verify_failures > 100);

    /* Several signatures: the one by our key is found wherever it is. */
    {
        const char *names[] = {"witness.example/w1", our_name, our_name};
        const struct keypair *keys[] = {&other, &same_name, &ours};

        sign_note(&note, body.data, 3, names, keys);
        assert_int_equal(parse(&note, our_name, &ours, &origin, &size, got_root, sig, &body_len),
                         CU_OK);
        assert_int_equal(
            crypto_sign_verify_detached(sig, (const unsigned char *)note.data, body_len, ours.pk),
            0);
        free(origin);
        origin = NULL;
        /* No line by our key (a key with our name but another id does not count). */
        sign_note(&note, body.data, 2, names, keys);
        assert_int_equal(parse(&note, our_name, &ours, &origin, &size, got_root, sig, &body_len),
                         CU_ERR_NOT_FOUND);
        assert_null(origin);
        assert_int_equal(
            parse(&note, "witness.example/w1", &other, &origin, &size, got_root, sig, &body_len),
            CU_OK);
        free(origin);
        origin = NULL;
    }

    /* Extension lines are part of the signed text. */
    buf_reset(&body);
    audit_checkpoint_body(our_name, 0, root, &body);
    buf_addstr(&body, "ext one\nsecond extension\n");
    {
        const char *names[] = {our_name};
        const struct keypair *keys[] = {&ours};

        sign_note(&note, body.data, 1, names, keys);
        assert_int_equal(parse(&note, our_name, &ours, &origin, &size, got_root, sig, &body_len),
                         CU_OK);
        assert_int_equal(size, 0);
        assert_int_equal(body_len, body.len);
        assert_int_equal(
            crypto_sign_verify_detached(sig, (const unsigned char *)note.data, body_len, ours.pk),
            0);
        free(origin);
    }

    sodium_memzero(&ours, sizeof(ours));
    buf_release(&body);
    buf_release(&note);
    buf_release(&mod);
}

static void test_checkpoint_parse_rejects(void **state)
{
    struct keypair k;
    unsigned char root[HB], sig[64], blob[4 + 64 + 1];
    char *origin = NULL, b64[200];
    uint64_t size = 7;
    size_t body_len = 0;
    struct buf good = BUF_INIT, note = BUF_INIT, line = BUF_INIT;
    static const char *const bad_bodies[] = {
        "",                                                        /* nothing */
        "\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",     /* empty origin */
        "a b\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",  /* space */
        "a\tb\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", /* tab */
        "a\xc2\xa0"
        "b\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", /* no-break space */
        "a\x7f"
        "b\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",             /* DEL */
        "a\xc3\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",         /* bad UTF-8 */
        "a\xed\xa0\x80\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", /* surrogate */
        "a\xc0\xaf\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",     /* overlong */
        "log\n05\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",          /* leading zero */
        "log\n-5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "log\n+5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "log\n 5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "log\n\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "log\n18446744073709551616\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", /* 2^64 */
        "log\n99999999999999999999\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",     /* non-canonical bits */
        "log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",      /* no padding */
        "log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n",     /* 31 bytes */
        "log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", /* 34 bytes */
        "log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-_\n",     /* URL alphabet */
        "log\n5\n\n",
        "log\n5\n",
        "log\n",
        "log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nextension after empty line\n",
        "log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n",
    };

    (void)state;
    keypair_new(&k, "log");
    /* A valid note to mutate. */
    memset(root, 0, sizeof(root));
    audit_checkpoint_body("log", 5, root, &good);
    assert_string_equal(good.data, "log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    {
        const char *names[] = {"log"};
        const struct keypair *keys[] = {&k};

        sign_note(&note, good.data, 1, names, keys);
    }
    assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len), CU_OK);
    free(origin);
    origin = NULL;
    /* The largest size parses. */
    buf_reset(&good);
    buf_addstr(&good, "log\n18446744073709551615\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n");
    {
        const char *names[] = {"log"};
        const struct keypair *keys[] = {&k};

        sign_note(&note, good.data, 1, names, keys);
        assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len), CU_OK);
        assert_true(size == UINT64_MAX);
        free(origin);
        origin = NULL;

        for (size_t t = 0; t < CU_ARRAY_LEN(bad_bodies); t++) {
            size = 7;
            body_len = 0;
            sign_note(&note, bad_bodies[t], 1, names, keys);
            assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len),
                             CU_ERR_INVALID);
            /* Nothing is written on failure. */
            assert_null(origin);
            assert_int_equal(size, 7);
            assert_int_equal(body_len, 0);
        }
    }

    /* Broken envelopes around a good body. */
    buf_reset(&good);
    audit_checkpoint_body("log", 5, root, &good);
    {
        unsigned char s[64];

        crypto_sign_detached(s, NULL, (const unsigned char *)good.data, good.len, k.sk);
        audit_signature_line("log", k.id, s, &line);
    }
    {
        struct {
            const char *before, *sigline, *after;
        } cases[] = {
            {"", NULL, ""},                 /* no blank line, no signature */
            {"\n", NULL, ""},               /* blank line, no signature */
            {"", "", ""},                   /* signature right after the body */
            {"\n", "", "\n"},               /* blank line at the end */
            {"\n", "", "junk\n"},           /* a line that is not a signature */
            {"\n", "", "\xe2\x80\x94 x\n"}, /* no signature field */
            {"\n\n", "", ""},               /* two blank lines: the body ends with an empty line */
        };

        for (size_t t = 0; t < CU_ARRAY_LEN(cases); t++) {
            buf_reset(&note);
            buf_addstr(&note, good.data);
            buf_addstr(&note, cases[t].before);
            if (cases[t].sigline != NULL)
                buf_addstr(&note, line.data);
            buf_addstr(&note, cases[t].after);
            assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len),
                             CU_ERR_INVALID);
        }
        /* Missing final newline. */
        buf_reset(&note);
        buf_addstr(&note, good.data);
        buf_addch(&note, '\n');
        buf_add(&note, line.data, line.len - 1);
        assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len),
                         CU_ERR_INVALID);
        /* An ASCII hyphen instead of the em dash. */
        buf_reset(&note);
        buf_addstr(&note, good.data);
        buf_addstr(&note, "\n- ");
        buf_addstr(&note, line.data + 4);
        assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len),
                         CU_ERR_INVALID);
        /* A carriage return anywhere. */
        buf_reset(&note);
        buf_addstr(&note, good.data);
        buf_addch(&note, '\n');
        buf_add(&note, line.data, line.len - 1);
        buf_addstr(&note, "\r\n");
        assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len),
                         CU_ERR_INVALID);
    }

    /* Signature lines: names with '+' or spaces, short or malformed base64, wrong length. */
    {
        static const char *const lines[] = {
            "\xe2\x80\x94 lo+g AAAAAAA=\n", "\xe2\x80\x94  AAAAAAA=\n",
            "\xe2\x80\x94 log AAAA\n",     /* 3 bytes: no room for the key id and a signature */
            "\xe2\x80\x94 log AAAAAAA\n",  /* unpadded */
            "\xe2\x80\x94 log AAAAAA=B\n", /* padding inside */
            "\xe2\x80\x94 log AAAAAAB=\n", /* non-canonical */
            "\xe2\x80\x94 log AAAAAAA= \n",
        };

        for (size_t t = 0; t < CU_ARRAY_LEN(lines); t++) {
            buf_reset(&note);
            buf_addstr(&note, good.data);
            buf_addch(&note, '\n');
            buf_addstr(&note, line.data);
            buf_addstr(&note, lines[t]);
            assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len),
                             CU_ERR_INVALID);
        }
        /* Our key id with a signature of the wrong length: the note is refused. */
        memcpy(blob, k.id, 4);
        memset(blob + 4, 0x11, sizeof(blob) - 4);
        static const size_t bad_lens[] = {5, 36, 67, 69};

        for (size_t t = 0; t < CU_ARRAY_LEN(bad_lens); t++) {
            size_t len = bad_lens[t];

            sodium_bin2base64(b64, sizeof(b64), blob, len, sodium_base64_VARIANT_ORIGINAL);
            buf_reset(&note);
            buf_addstr(&note, good.data);
            buf_addstr(&note, "\n\xe2\x80\x94 log ");
            buf_addstr(&note, b64);
            buf_addch(&note, '\n');
            buf_addstr(&note, line.data);
            assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len),
                             CU_ERR_INVALID);
        }
        /* Another key's short signature (same name, other id) is ignored. */
        blob[0] ^= 0xff;
        sodium_bin2base64(b64, sizeof(b64), blob, 5, sodium_base64_VARIANT_ORIGINAL);
        buf_reset(&note);
        buf_addstr(&note, good.data);
        buf_addstr(&note, "\n\xe2\x80\x94 log ");
        buf_addstr(&note, b64);
        buf_addch(&note, '\n');
        buf_addstr(&note, line.data);
        assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len), CU_OK);
        free(origin);
        origin = NULL;
    }

    /* Too many signature lines. */
    buf_reset(&note);
    buf_addstr(&note, good.data);
    buf_addch(&note, '\n');
    for (int i = 0; i < 200; i++)
        buf_addstr(&note, "\xe2\x80\x94 other AAAAAAA=\n");
    buf_addstr(&note, line.data);
    assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len), CU_ERR_INVALID);
    /* ... while 16 are fine. */
    buf_reset(&note);
    buf_addstr(&note, good.data);
    buf_addch(&note, '\n');
    for (int i = 0; i < 16; i++)
        buf_addstr(&note, "\xe2\x80\x94 other AAAAAAA=\n");
    buf_addstr(&note, line.data);
    assert_int_equal(parse(&note, "log", &k, &origin, &size, root, sig, &body_len), CU_OK);
    free(origin);

    buf_release(&good);
    buf_release(&note);
    buf_release(&line);
}

/* Random garbage and random edits of a good note never crash the parser. */
static void test_checkpoint_parse_garbage(void **state)
{
    struct keypair k;
    struct buf good = BUF_INIT, note = BUF_INIT;
    unsigned char root[HB], sig[64];
    char *origin;
    uint64_t size;
    size_t body_len;
    int ok = 0;

    (void)state;
    keypair_new(&k, "log");
    memset(root, 0x42, sizeof(root));
    audit_checkpoint_body("log", 99, root, &good);
    {
        const char *names[] = {"log"};
        const struct keypair *keys[] = {&k};

        sign_note(&note, good.data, 1, names, keys);
    }
    buf_reset(&good);
    buf_add(&good, note.data, note.len);
    for (int iter = 0; iter < 20000; iter++) {
        int rc;

        buf_reset(&note);
        buf_add(&note, good.data, good.len);
        for (int e = 0; e < 1 + (int)(rng() % 3); e++) {
            size_t at = rng() % note.len;

            if (rng() % 3 == 0)
                note.len = at + 1;
            else
                note.data[at] = rng() % 2 ? (char)rng() : "\n \xe2\x80\x94=+A0"[rng() % 9];
        }
        origin = NULL;
        rc = audit_checkpoint_parse(note.data, note.len, "log", k.id, &origin, &size, root, sig,
                                    &body_len);
        if (rc == CU_OK) {
            assert_true(body_len < note.len);
            free(origin);
            ok++;
        } else {
            assert_true(rc == CU_ERR_INVALID || rc == CU_ERR_NOT_FOUND);
            assert_null(origin);
        }
    }
    assert_true(ok > 0);
    buf_release(&good);
    buf_release(&note);
}

/* Appending a complete subtree equals appending its leaves one by one. */
static void test_range_append_subtree(void **state)
{
    struct audit_range a, b;
    unsigned char leaf[AUDIT_HASH_BYTES], sub[8][AUDIT_HASH_BYTES], ra[AUDIT_HASH_BYTES],
        rb[AUDIT_HASH_BYTES];
    unsigned i, j;

    (void)state;
    audit_range_init(&a);
    audit_range_init(&b);
    /* 3 single leaves, then a 1-leaf "subtree", then subtrees of 4 and 8 at
     * aligned positions (size 4 -> 8 -> 16), checking roots as we go */
    for (i = 0; i < 16; i++) {
        memset(leaf, (int)i + 1, sizeof(leaf));
        audit_range_append(&a, leaf, NULL, NULL);
    }
    for (i = 0; i < 4; i++) {
        memset(leaf, (int)i + 1, sizeof(leaf));
        audit_range_append_subtree(&b, 0, leaf, NULL, NULL);
    }
    for (j = 0; j < 4; j++)
        memset(sub[j], (int)(j + 5), AUDIT_HASH_BYTES);
    audit_node_hash(sub[0], sub[1], sub[4]);
    audit_node_hash(sub[2], sub[3], sub[5]);
    audit_node_hash(sub[4], sub[5], sub[6]);
    audit_range_append_subtree(&b, 2, sub[6], NULL, NULL);
    assert_int_equal(b.size, 8);
    for (j = 0; j < 8; j++)
        memset(sub[j], (int)(j + 9), AUDIT_HASH_BYTES);
    for (j = 0; j < 4; j++)
        audit_node_hash(sub[2 * j], sub[2 * j + 1], sub[j]);
    audit_node_hash(sub[0], sub[1], sub[0]);
    audit_node_hash(sub[2], sub[3], sub[1]);
    audit_node_hash(sub[0], sub[1], sub[0]);
    audit_range_append_subtree(&b, 3, sub[0], NULL, NULL);
    assert_int_equal(b.size, 16);
    assert_int_equal(b.nhashes, a.nhashes);
    audit_range_root(&a, ra);
    audit_range_root(&b, rb);
    assert_memory_equal(ra, rb, AUDIT_HASH_BYTES);
}

/* --- the writer: asynchronous submission ---------------------------------- */

#define SUBMITS 20000

struct submitted {
    pthread_mutex_t lock;
    pthread_cond_t all;
    size_t total; /* entries the test will submit */
    size_t sent, done, failed;
    unsigned char *seen; /* per leaf index */
};

static void on_done(void *ctx, int rc, uint64_t index, const char *err)
{
    struct submitted *s = ctx;

    (void)err;
    pthread_mutex_lock(&s->lock);
    if (rc != CU_OK || index >= s->total)
        s->failed++;
    else
        s->seen[index]++;
    if (++s->done == s->sent)
        pthread_cond_signal(&s->all);
    pthread_mutex_unlock(&s->lock);
}

/* Submits `n` look-up entries to `log` and waits until all are answered. */
static void submit_and_wait(struct audit_log *log, struct submitted *s, size_t n)
{
    struct audit_entry e = {.action = AUDIT_LOOKUP, .decision = AUDIT_ALLOW, .actor = "alice"};
    char *err = NULL;
    size_t i;

    pthread_mutex_lock(&s->lock);
    s->sent += n;
    pthread_mutex_unlock(&s->lock);
    for (i = 0; i < n; i++) {
        e.time_ms = (int64_t)i;
        e.has_subject = 1;
        memset(e.subject, (int)(i & 0xff), sizeof(e.subject));
        assert_int_equal(audit_log_submit(log, &e, on_done, s, &err), CU_OK);
    }
    pthread_mutex_lock(&s->lock);
    while (s->done < s->sent)
        pthread_cond_wait(&s->all, &s->lock);
    pthread_mutex_unlock(&s->lock);
}

/*
 * A writer's test: a folder with a master key and a log store, and the
 * entries submitted to its writers.
 */
struct writer_test {
    char dir[32];
    char url[128];
    struct vault *v;
    struct submitted s;
};

static void writer_test_start(struct writer_test *t, size_t total)
{
    char key[96], *err = NULL;

    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/custodian-audit-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(key, sizeof(key), "%s/master.key", t->dir);
    snprintf(t->url, sizeof(t->url), "sqlite:%s/audit.db", t->dir);
    assert_int_equal(vault_master_key_create(key, &err), CU_OK);
    assert_int_equal(vault_new(&t->v, key, &err), CU_OK);
    t->s.total = total;
    t->s.seen = xcalloc(total, 1);
    pthread_mutex_init(&t->s.lock, NULL);
    pthread_cond_init(&t->s.all, NULL);
}

/* After the writers are closed: every entry was answered once, with an
 * index of its own, and the stored log verifies (every tile and signed
 * checkpoint recomputed from the entries); removes the folder.  Returns
 * the number of checkpoints checked. */
static uint64_t writer_test_finish(struct writer_test *t)
{
    struct audit_verify_result vr = {0};
    struct store *store = NULL;
    unsigned char pk[32];
    char *cmd, *err = NULL;
    size_t i;

    assert_int_equal(t->s.failed, 0);
    for (i = 0; i < t->s.total; i++)
        assert_int_equal(t->s.seen[i], 1);
    vault_audit_public_key(t->v, pk);
    assert_int_equal(store_open(&store, t->url, &err), CU_OK);
    assert_int_equal(audit_verify(store, pk, "test.invalid/log", &vr, &err), CU_OK);
    assert_true(vr.ok);
    assert_int_equal(vr.entries, t->s.total);
    free(vr.problem);
    store_free(store);
    vault_free(t->v);
    pthread_mutex_destroy(&t->s.lock);
    pthread_cond_destroy(&t->s.all);
    free(t->s.seen);
    cmd = xasprintf("rm -rf '%s'", t->dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    return vr.checkpoints;
}

/*
 * Many entries submitted from one thread without waiting: each completion
 * comes once with its own index, the writer commits them in batches far
 * larger than one, and the log verifies afterwards.
 */
static void test_log_submit_async(void **state)
{
    struct writer_test t;
    struct audit_log_stats st;
    struct audit_log *log = NULL;
    char *err = NULL;

    (void)state;
    writer_test_start(&t, SUBMITS);
    assert_int_equal(audit_log_open(&log, t.url, t.v, "test.invalid/log", &err), CU_OK);
    submit_and_wait(log, &t.s, SUBMITS);
    audit_log_stats(log, &st);
    assert_int_equal(st.entries, SUBMITS);
    assert_int_equal(st.size, SUBMITS);
    assert_true(st.batches < SUBMITS / 10); /* group commit: big batches */
    audit_log_close(log);
    writer_test_finish(&t);
}

/*
 * Two writers on one store, as two servers on one database, in turns: each
 * catches up with the other's entries before numbering its own, by hashing
 * them (up to a few thousand) or else by rebuilding its state from the
 * stored tiles.  The interleaved log verifies, with the tiles and the
 * signed checkpoints of both writers.
 */
static void test_log_two_writers(void **state)
{
    /* Turns alternate between the writers; they cross tile boundaries, and
     * the 4,500 are more than a writer hashes to catch up. */
    static const size_t turns[] = {1, 3, 255, 1, 256, 300, 2, 4500, 7, 1, 513, 40};
    struct writer_test t;
    struct audit_log_stats st[2];
    struct audit_log *log[2] = {NULL, NULL};
    char *err = NULL;
    size_t i, total = 0;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(turns); i++)
        total += turns[i];
    writer_test_start(&t, total);
    for (i = 0; i < 2; i++)
        assert_int_equal(audit_log_open(&log[i], t.url, t.v, "test.invalid/log", &err), CU_OK);
    for (i = 0; i < CU_ARRAY_LEN(turns); i++)
        submit_and_wait(log[i % 2], &t.s, turns[i]);
    for (i = 0; i < 2; i++)
        audit_log_stats(log[i], &st[i]);
    /* The first writer hashed 3 + 1 + 300 + 1 of the second's entries and
     * rebuilt its state once, after the 4,500; the second hashed all the
     * first's turns that came before one of its own. */
    assert_int_equal(st[0].caught_up, 3 + 1 + 300 + 1);
    assert_int_equal(st[0].reloads, 1);
    assert_int_equal(st[1].caught_up, 1 + 255 + 256 + 2 + 7 + 513);
    assert_int_equal(st[1].reloads, 0);
    assert_int_equal(st[1].size, total);
    for (i = 0; i < 2; i++)
        audit_log_close(log[i]);
    assert_true(writer_test_finish(&t) >= 2);
}

/* The tree size of a signed checkpoint of the test log. */
static uint64_t checkpoint_size(struct writer_test *t, const char *note)
{
    unsigned char pk[32], key_id[4], root[AUDIT_HASH_BYTES], sig[64];
    char *origin = NULL;
    uint64_t size = 0;
    size_t body = 0;

    vault_audit_public_key(t->v, pk);
    audit_key_id("test.invalid/log", pk, key_id);
    assert_int_equal(audit_checkpoint_parse(note, strlen(note), "test.invalid/log", key_id, &origin,
                                            &size, root, sig, &body),
                     CU_OK);
    assert_int_equal(vault_ed25519_verify(pk, note, body, sig), CU_OK);
    free(origin);
    return size;
}

/*
 * Regression: audit_log_checkpoint() signed (or returned) a checkpoint at
 * the size its own process had seen, without catching up with another
 * writer's entries, so a poller saw the tree shrink.  Writer A appends and
 * checkpoints; writer B appends in two batches (its first signs a
 * checkpoint, the second, within the second, does not); A's next
 * checkpoint must be at the log's whole size, and again after A's own
 * entries and more of B's.
 */
static void test_log_checkpoint_after_other_writer(void **state)
{
    struct writer_test t;
    struct audit_log_stats st;
    struct audit_log *a = NULL, *b = NULL;
    char *note = NULL, *err = NULL;

    (void)state;
    writer_test_start(&t, 5 + 3 + 4 + 2 + 6);
    assert_int_equal(audit_log_open(&a, t.url, t.v, "test.invalid/log", &err), CU_OK);
    submit_and_wait(a, &t.s, 5);
    assert_int_equal(audit_log_checkpoint(a, &note, &err), CU_OK);
    assert_int_equal(checkpoint_size(&t, note), 5);
    free(note);
    note = NULL;

    assert_int_equal(audit_log_open(&b, t.url, t.v, "test.invalid/log", &err), CU_OK);
    submit_and_wait(b, &t.s, 3);
    submit_and_wait(b, &t.s, 4);

    assert_int_equal(audit_log_checkpoint(a, &note, &err), CU_OK);
    assert_int_equal(checkpoint_size(&t, note), 5 + 3 + 4);
    free(note);
    note = NULL;
    audit_log_stats(a, &st);
    assert_int_equal(st.size, 5 + 3 + 4);

    /* Again, with entries of A's own not signed yet: A signed at its own
     * size, under B's newer entries. */
    submit_and_wait(a, &t.s, 2);
    submit_and_wait(b, &t.s, 6);
    assert_int_equal(audit_log_checkpoint(a, &note, &err), CU_OK);
    assert_int_equal(checkpoint_size(&t, note), 5 + 3 + 4 + 2 + 6);
    free(note);
    audit_log_close(b);
    audit_log_close(a);
    writer_test_finish(&t);
}

/* Runs SQL on the test log's SQLite file, as someone with write access to
 * the database would. */
static void writer_test_sql(struct writer_test *t, const char *sql)
{
    sqlite3 *db;
    char *path = xasprintf("%s/audit.db", t->dir), *err = NULL;

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
    free(path);
}

/* Tampers with the test log (SQL), checks that verify names `bad`, and
 * undoes the tampering from the copy of the columns in table `clean`. */
static void verify_names(struct writer_test *t, const char *sql, uint64_t bad)
{
    struct audit_verify_result vr = {0};
    struct store *store = NULL;
    unsigned char pk[32];
    char *err = NULL;

    writer_test_sql(t, sql);
    vault_audit_public_key(t->v, pk);
    assert_int_equal(store_open(&store, t->url, &err), CU_OK);
    assert_int_equal(audit_verify(store, pk, "test.invalid/log", &vr, &err), CU_OK);
    store_free(store);
    if (vr.ok || vr.bad_index != bad)
        fail_msg("%s: verify says %s at %llu (%s), not index %llu", sql, vr.ok ? "ok" : "bad",
                 (unsigned long long)vr.bad_index, vr.problem ? vr.problem : "",
                 (unsigned long long)bad);
    assert_non_null(strstr(vr.problem, "columns do not match"));
    free(vr.problem);
    writer_test_sql(t,
                    "UPDATE audit_entries SET"
                    " actor = (SELECT actor FROM clean WHERE clean.idx = audit_entries.idx),"
                    " subject = (SELECT subject FROM clean WHERE clean.idx = audit_entries.idx)");
}

/*
 * Regression: verify recomputed the tree from each entry's leaf but never
 * looked at the row's actor and subject columns, which the look-ups by
 * staff and by customer (audit show, the customer's access log) select
 * by.  Someone with write access to the database could clear an entry's
 * subject, or change its actor, and hide the access from the customer
 * while verify still passed.  Verify now names the first such row.
 */
static void test_verify_row_columns(void **state)
{
    struct audit_entry e = {.action = AUDIT_LOGIN_FAILED, .decision = AUDIT_DENY};
    struct writer_test t;
    struct audit_log *log = NULL;
    uint64_t index = 0;
    char *err = NULL;

    (void)state;
    writer_test_start(&t, 21);
    assert_int_equal(audit_log_open(&log, t.url, t.v, "test.invalid/log", &err), CU_OK);
    submit_and_wait(log, &t.s, 20); /* actor "alice", a subject each */
    /* No actor (a NULL column, "" in the leaf) and no subject. */
    assert_int_equal(audit_log_append(log, &e, &index, &err), CU_OK);
    assert_int_equal(index, 20);
    t.s.seen[index] = 1;
    audit_log_close(log);
    writer_test_sql(&t, "CREATE TABLE clean AS SELECT idx, actor, subject FROM audit_entries");

    verify_names(&t, "UPDATE audit_entries SET subject = NULL WHERE idx = 7", 7);
    verify_names(&t, "UPDATE audit_entries SET actor = 'someone-else' WHERE idx = 4", 4);
    verify_names(&t, "UPDATE audit_entries SET actor = NULL WHERE idx = 3", 3);
    verify_names(&t, "UPDATE audit_entries SET actor = 'alice ' WHERE idx = 0", 0);
    /* another customer's pseudonym, and one byte short */
    verify_names(&t,
                 "UPDATE audit_entries SET subject = (SELECT subject FROM audit_entries"
                 " WHERE idx = 2) WHERE idx = 9",
                 9);
    verify_names(&t, "UPDATE audit_entries SET subject = substr(subject, 1, 15) WHERE idx = 12",
                 12);
    /* a subject or an actor given to the entry that has neither */
    verify_names(&t,
                 "UPDATE audit_entries SET subject = x'0102030405060708090a0b0c0d0e0f10'"
                 " WHERE idx = 20",
                 20);
    verify_names(&t, "UPDATE audit_entries SET actor = 'alice' WHERE idx = 20", 20);
    /* the first of two is named */
    verify_names(&t,
                 "UPDATE audit_entries SET subject = NULL WHERE idx = 15;"
                 " UPDATE audit_entries SET actor = 'bob' WHERE idx = 11",
                 11);
    /* undone: verifies again (the NULL actor of entry 20 included) */
    writer_test_finish(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_names),
        cmocka_unit_test(test_decision_names),
        cmocka_unit_test(test_entry_round_trip),
        cmocka_unit_test(test_entry_limits),
        cmocka_unit_test(test_entry_exact_bytes),
        cmocka_unit_test(test_entry_decode_rejects),
        cmocka_unit_test(test_entry_decode_mutations),
        cmocka_unit_test(test_hash_primitives),
        cmocka_unit_test(test_ct_vectors),
        cmocka_unit_test(test_range_layout),
        cmocka_unit_test(test_range_append_subtree),
        cmocka_unit_test(test_exhaustive_1_to_300),
        cmocka_unit_test(test_verifier_edge_cases),
        cmocka_unit_test(test_proof_store_errors),
        cmocka_unit_test(test_large_trees),
        cmocka_unit_test(test_key_id_vkey),
        cmocka_unit_test(test_checkpoint_body),
        cmocka_unit_test(test_checkpoint_round_trip),
        cmocka_unit_test(test_checkpoint_parse_rejects),
        cmocka_unit_test(test_checkpoint_parse_garbage),
        cmocka_unit_test(test_log_submit_async),
        cmocka_unit_test(test_log_two_writers),
        cmocka_unit_test(test_log_checkpoint_after_other_writer),
        cmocka_unit_test(test_verify_row_columns),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, merkle_setup, merkle_teardown);
}
