/*
 * The RFC 9162 Merkle tree: leaf and node hashes, the compact range that
 * the writer appends to, proofs built from stored complete-subtree hashes,
 * and the verifiers of RFC 9162 sections 2.1.3.2 and 2.1.4.2.
 *
 * Hashing goes through vault_sha256(): the vault is the only module that
 * calls libsodium's crypto.  Nothing here allocates.
 *
 * Tree shape (RFC 9162 2.1.1): MTH(D[n]) splits at k, the largest power of
 * two smaller than n, into MTH(D[0:k]) and MTH(D[k:n]).  Every node of the
 * tree is therefore a range [a, b) where a is a multiple of the smallest
 * power of two >= b - a; when b - a is a power of two the node is a
 * complete subtree, stored as (level, a >> level).  An incomplete node
 * (only on the right edge of the tree) is the right-to-left fold of its
 * complete parts, one per set bit of b - a, largest first, which is what
 * range_hash() computes.
 */
#include <string.h>

#include "audit.h"
#include "../vault/vault.h"

void audit_leaf_hash(const void *leaf, size_t len, unsigned char out[AUDIT_HASH_BYTES])
{
    static const unsigned char prefix = 0x00;

    vault_sha256(out, &prefix, 1, leaf, len, NULL, 0);
}

/* `out` may alias `left` or `right`: the inputs are read before it is written. */
void audit_node_hash(const unsigned char left[AUDIT_HASH_BYTES],
                     const unsigned char right[AUDIT_HASH_BYTES],
                     unsigned char out[AUDIT_HASH_BYTES])
{
    static const unsigned char prefix = 0x01;
    unsigned char both[2 * AUDIT_HASH_BYTES];

    memcpy(both, left, AUDIT_HASH_BYTES);
    memcpy(both + AUDIT_HASH_BYTES, right, AUDIT_HASH_BYTES);
    vault_sha256(out, &prefix, 1, both, sizeof(both), NULL, 0);
}

void audit_empty_root(unsigned char out[AUDIT_HASH_BYTES])
{
    vault_sha256(out, NULL, 0, NULL, 0, NULL, 0);
}

/* ---- compact range --------------------------------------------------------- */

void audit_range_init(struct audit_range *r)
{
    memset(r, 0, sizeof(*r));
}

/*
 * Invariant: hashes[0..nhashes) are the roots of the complete subtrees
 * making up [0, size), one per set bit of size, largest (highest bit)
 * first.  Appending leaf `size` merges the new leaf with the trailing
 * subtrees of equal height, exactly as binary addition carries: one merge
 * per trailing one bit of the old size, so amortised one hash per append.
 */
void audit_range_append_subtree(struct audit_range *r, unsigned level,
                                const unsigned char hash[AUDIT_HASH_BYTES], audit_subtree_fn done,
                                void *ctx)
{
    unsigned char h[AUDIT_HASH_BYTES];
    uint64_t index = r->size >> level; /* the new subtree's position at its level */

    r->size += (uint64_t)1 << level;
    memcpy(h, hash, AUDIT_HASH_BYTES);
    if (done != NULL)
        done(ctx, level, index, h);
    while (index & 1) {
        /* The last stored subtree has the same height: it is h's left sibling. */
        r->nhashes--;
        audit_node_hash(r->hashes[r->nhashes], h, h);
        index >>= 1;
        level++;
        if (done != NULL)
            done(ctx, level, index, h);
    }
    memcpy(r->hashes[r->nhashes], h, AUDIT_HASH_BYTES);
    r->nhashes++;
}

void audit_range_append(struct audit_range *r, const unsigned char leaf_hash[AUDIT_HASH_BYTES],
                        audit_subtree_fn done, void *ctx)
{
    audit_range_append_subtree(r, 0, leaf_hash, done, ctx);
}

void audit_range_root(const struct audit_range *r, unsigned char out[AUDIT_HASH_BYTES])
{
    unsigned char h[AUDIT_HASH_BYTES];

    if (r->nhashes == 0) {
        audit_empty_root(out);
        return;
    }
    memcpy(h, r->hashes[r->nhashes - 1], AUDIT_HASH_BYTES);
    for (unsigned i = r->nhashes - 1; i-- > 0;)
        audit_node_hash(r->hashes[i], h, h);
    memcpy(out, h, AUDIT_HASH_BYTES);
}

/* ---- proofs from stored hashes ------------------------------------------------ */

/* The largest power of two strictly smaller than n (n >= 2). */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;

    while (k < n - k) /* i.e. 2k < n, without overflow */
        k <<= 1;
    return k;
}

/*
 * MTH of the tree node [a, b) (a < b, a node of the RFC tree shape): the
 * complete parts are fetched right to left, the smallest (lowest set bit of
 * b - a) first, and folded as the MTH recursion would combine them.
 */
static int range_hash(uint64_t a, uint64_t b, audit_hash_fn get, void *ctx,
                      unsigned char out[AUDIT_HASH_BYTES])
{
    unsigned char part[AUDIT_HASH_BYTES];
    uint64_t n = b - a, end = b;
    int first = 1, rc;

    for (unsigned level = 0; level < 64; level++) {
        uint64_t width = (uint64_t)1 << level;

        if (!(n & width))
            continue;
        end -= width;
        if ((rc = get(ctx, level, end >> level, first ? out : part)) != CU_OK)
            return rc;
        if (!first)
            audit_node_hash(part, out, out);
        first = 0;
    }
    return CU_OK;
}

int audit_root_at(uint64_t size, audit_hash_fn get, void *ctx, unsigned char out[AUDIT_HASH_BYTES])
{
    if (size == 0)
        return CU_ERR_INVALID;
    return range_hash(0, size, get, ctx, out);
}

/* Reverses path[0..n): proofs are built root first and returned leaf first. */
static void reverse(unsigned char path[][AUDIT_HASH_BYTES], unsigned n)
{
    unsigned char t[AUDIT_HASH_BYTES];

    for (unsigned i = 0, j = n; i + 1 < j; i++, j--) {
        memcpy(t, path[i], AUDIT_HASH_BYTES);
        memcpy(path[i], path[j - 1], AUDIT_HASH_BYTES);
        memcpy(path[j - 1], t, AUDIT_HASH_BYTES);
    }
}

/*
 * RFC 9162 2.1.3.1, unrolled from the root down:
 *   PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])      for m < k
 *   PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])  for m >= k
 * The sibling found at each step is the last element of what remains, so
 * the path comes out root first and is reversed at the end.
 */
int audit_inclusion_proof(uint64_t index, uint64_t size, audit_hash_fn get, void *ctx,
                          unsigned char path[][AUDIT_HASH_BYTES], unsigned *n)
{
    uint64_t a = 0, b = size;
    unsigned count = 0;
    int rc = CU_OK;

    *n = 0;
    if (index >= size)
        return CU_ERR_INVALID;
    while (b - a > 1) {
        uint64_t k = split_point(b - a);

        if (count == AUDIT_MAX_PROOF) {
            rc = CU_ERR_INTERNAL; /* cannot happen: a tree of < 2^64 leaves is < 64 deep */
            goto out;
        }
        if (index - a < k) {
            rc = range_hash(a + k, b, get, ctx, path[count]);
            b = a + k;
        } else {
            rc = range_hash(a, a + k, get, ctx, path[count]);
            a += k;
        }
        if (rc != CU_OK)
            goto out;
        count++;
    }
    reverse(path, count);
    *n = count;
out:
    return rc;
}

/*
 * RFC 9162 2.1.4.1, unrolled from the root down:
 *   PROOF(m, D[n]) = SUBPROOF(m, D[n], true)
 *   SUBPROOF(m, D[m], true) = {}
 *   SUBPROOF(m, D[m], false) = {MTH(D[m])}
 *   SUBPROOF(m, D[n], b) = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])          for m <= k
 *   SUBPROOF(m, D[n], b) = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  for m > k
 * [a, b) is the current node and m the part of it the old tree covers.
 */
int audit_consistency_proof(uint64_t first, uint64_t second, audit_hash_fn get, void *ctx,
                            unsigned char proof[][AUDIT_HASH_BYTES], unsigned *n)
{
    uint64_t a = 0, b = second, m = first;
    unsigned count = 0;
    int whole = 1, rc = CU_OK;

    *n = 0;
    if (first == 0 || first > second)
        return CU_ERR_INVALID;
    while (!(m == b - a && whole)) {
        uint64_t k;

        if (count == AUDIT_MAX_PROOF) {
            /* 65 hashes are needed only in trees of more than 2^63 leaves */
            rc = CU_ERR_INVALID;
            goto out;
        }
        if (m == b - a) {
            /* SUBPROOF(m, D[m], false) = {MTH(D[m])}: the deepest element */
            if ((rc = range_hash(a, b, get, ctx, proof[count])) != CU_OK)
                goto out;
            count++;
            break;
        }
        k = split_point(b - a);
        if (m <= k) {
            rc = range_hash(a + k, b, get, ctx, proof[count]);
            b = a + k;
        } else {
            rc = range_hash(a, a + k, get, ctx, proof[count]);
            a += k;
            m -= k;
            whole = 0;
        }
        if (rc != CU_OK)
            goto out;
        count++;
    }
    reverse(proof, count);
    *n = count;
out:
    return rc;
}

/* ---- verification ---------------------------------------------------------------- */

static int hash_equal(const unsigned char a[AUDIT_HASH_BYTES],
                      const unsigned char b[AUDIT_HASH_BYTES])
{
    return memcmp(a, b, AUDIT_HASH_BYTES) == 0;
}

/* RFC 9162 2.1.3.2, step by step. */
int audit_verify_inclusion(uint64_t index, uint64_t size,
                           const unsigned char leaf_hash[AUDIT_HASH_BYTES],
                           const unsigned char path[][AUDIT_HASH_BYTES], unsigned n,
                           const unsigned char root[AUDIT_HASH_BYTES])
{
    unsigned char r[AUDIT_HASH_BYTES];
    uint64_t fn, sn;

    /* 1. leaf_index >= tree_size fails. */
    if (index >= size)
        return CU_ERR_INTEGRITY;
    /* 2. fn = leaf_index, sn = tree_size - 1.  3. r = hash. */
    fn = index;
    sn = size - 1;
    memcpy(r, leaf_hash, AUDIT_HASH_BYTES);
    /* 4. For each p in the path: */
    for (unsigned i = 0; i < n; i++) {
        /* a. sn == 0: the path is too long. */
        if (sn == 0)
            return CU_ERR_INTEGRITY;
        /* b. */
        if ((fn & 1) || fn == sn) {
            audit_node_hash(path[i], r, r);
            /* ii. If LSB(fn) is not set, shift until it is or fn is 0. */
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            audit_node_hash(r, path[i], r);
        }
        /* c. */
        fn >>= 1;
        sn >>= 1;
    }
    /* 5. sn must be 0 (the path was not too short) and r the root. */
    if (sn != 0 || !hash_equal(r, root))
        return CU_ERR_INTEGRITY;
    return CU_OK;
}

/*
 * RFC 9162 2.1.4.2, step by step.  The RFC covers 0 < first < second; a
 * tree is consistent with itself (first == second) exactly when the roots
 * are equal and the proof is empty, which is what 2.1.4.1 produces.
 */
int audit_verify_consistency(uint64_t first, uint64_t second,
                             const unsigned char first_root[AUDIT_HASH_BYTES],
                             const unsigned char second_root[AUDIT_HASH_BYTES],
                             const unsigned char proof[][AUDIT_HASH_BYTES], unsigned n)
{
    unsigned char fr[AUDIT_HASH_BYTES], sr[AUDIT_HASH_BYTES];
    const unsigned char *c;
    uint64_t fn, sn;
    unsigned i, start;

    if (first == 0 || first > second)
        return CU_ERR_INTEGRITY;
    if (first == second)
        return n == 0 && hash_equal(first_root, second_root) ? CU_OK : CU_ERR_INTEGRITY;
    /* 1. An empty path fails. */
    if (n == 0)
        return CU_ERR_INTEGRITY;
    /*
     * 2. If first is an exact power of 2, first_hash is prepended to the
     * path: element 0 of the extended path is first_root and element j >= 1
     * is proof[j - 1].  `start` is the index in proof[] of element 1.
     */
    start = (first & (first - 1)) == 0 ? 0 : 1;
    /* 3. */
    fn = first - 1;
    sn = second - 1;
    /* 4. */
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    /* 5. fr = sr = the first element of the (extended) path. */
    c = start == 0 ? first_root : proof[0];
    memcpy(fr, c, AUDIT_HASH_BYTES);
    memcpy(sr, c, AUDIT_HASH_BYTES);
    /* 6. For each subsequent element c: */
    for (i = start; i < n; i++) {
        c = proof[i];
        /* a. */
        if (sn == 0)
            return CU_ERR_INTEGRITY;
        /* b. */
        if ((fn & 1) || fn == sn) {
            audit_node_hash(c, fr, fr);
            audit_node_hash(c, sr, sr);
            /* ii. If LSB(fn) is not set, shift until it is or fn is 0. */
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            audit_node_hash(sr, c, sr);
        }
        /* c. */
        fn >>= 1;
        sn >>= 1;
    }
    /* 7. */
    if (!hash_equal(fr, first_root) || !hash_equal(sr, second_root) || sn != 0)
        return CU_ERR_INTEGRITY;
    return CU_OK;
}
