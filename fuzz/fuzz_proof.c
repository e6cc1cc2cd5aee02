/*
 * Fuzz target: RFC 9162 proof verification (audit_verify_inclusion,
 * audit_verify_consistency) and proof generation (audit_inclusion_proof,
 * audit_consistency_proof, audit_root_at) over a real tree of up to
 * TREE_MAX leaves.
 *
 * The first byte picks a mode:
 *   0, 1  raw: fuzzed sizes, hashes and paths straight into the verifiers;
 *   2     inclusion: the real proof for a fuzzed (index, size) must verify;
 *         then fuzzed edits (path bytes, path length, index, size) are
 *         applied, and if the edited claim still verifies against the real
 *         root of its size, it must be the real proof of that claim;
 *   3     consistency: the same for (first, second).
 * Roots computed by audit_root_at() must equal the compact range's.
 */
#include "fuzz.h"

#include "audit/audit.h"
#include "vault/vault.h"

#define TREE_MAX 4096
#define MAX_PATH (AUDIT_MAX_PROOF + 8)

/* levels[l][i]: the complete subtree of 2^l leaves starting at leaf i * 2^l. */
static unsigned char *levels[13];
static unsigned char roots[TREE_MAX + 1][AUDIT_HASH_BYTES]; /* roots[n]: first n leaves */
static unsigned char leaves[TREE_MAX][AUDIT_HASH_BYTES];

static void on_subtree(void *ctx, unsigned level, uint64_t index,
                       const unsigned char hash[AUDIT_HASH_BYTES])
{
    (void)ctx;
    FUZZ_CHECK(level < CU_ARRAY_LEN(levels) && (index << level) < TREE_MAX);
    memcpy(levels[level] + index * AUDIT_HASH_BYTES, hash, AUDIT_HASH_BYTES);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct audit_range r;
    uint64_t i;
    unsigned l;

    (void)argc;
    (void)argv;
    if (vault_global_init() != CU_OK)
        abort();
    for (l = 0; l < CU_ARRAY_LEN(levels); l++)
        levels[l] = xcalloc((TREE_MAX >> l) + 1, AUDIT_HASH_BYTES);
    audit_range_init(&r);
    audit_empty_root(roots[0]);
    for (i = 0; i < TREE_MAX; i++) {
        unsigned char leaf[9] = {1};

        memcpy(leaf + 1, &i, sizeof(i));
        audit_leaf_hash(leaf, sizeof(leaf), leaves[i]);
        audit_range_append(&r, leaves[i], on_subtree, NULL);
        audit_range_root(&r, roots[i + 1]);
    }
    return 0;
}

/* The stored-hash reader over the precomputed tree, for a tree of `size`. */
static int get_hash(void *ctx, unsigned level, uint64_t index, unsigned char out[AUDIT_HASH_BYTES])
{
    uint64_t size = *(const uint64_t *)ctx;

    /* The contract: only subtrees wholly inside the tree are asked for. */
    FUZZ_CHECK(level < CU_ARRAY_LEN(levels) && index < (TREE_MAX >> level));
    FUZZ_CHECK((index + 1) << level <= size);
    memcpy(out, levels[level] + index * AUDIT_HASH_BYTES, AUDIT_HASH_BYTES);
    return CU_OK;
}

/* Reads the input a few bytes at a time; zeros once it runs out. */
struct in {
    const uint8_t *p;
    size_t n;
};

static uint64_t take(struct in *in, size_t bytes)
{
    uint64_t v = 0;

    while (bytes-- > 0) {
        v = v << 8;
        if (in->n > 0) {
            v |= *in->p++;
            in->n--;
        }
    }
    return v;
}

static void take_hash(struct in *in, unsigned char h[AUDIT_HASH_BYTES])
{
    size_t i;

    for (i = 0; i < AUDIT_HASH_BYTES; i++)
        h[i] = (unsigned char)take(in, 1);
}

/* A size between 1 and TREE_MAX. */
static uint64_t take_size(struct in *in)
{
    return 1 + take(in, 2) % TREE_MAX;
}

static void raw(struct in *in, int consistency)
{
    unsigned char path[MAX_PATH][AUDIT_HASH_BYTES], a[AUDIT_HASH_BYTES], b[AUDIT_HASH_BYTES];
    uint64_t x = take(in, 8), y = take(in, 8);
    unsigned n = 0;
    int rc;

    take_hash(in, a);
    take_hash(in, b);
    while (in->n > 0 && n < MAX_PATH)
        take_hash(in, path[n++]);
    if (consistency)
        rc =
            audit_verify_consistency(x, y, a, b, (const unsigned char(*)[AUDIT_HASH_BYTES])path, n);
    else
        rc = audit_verify_inclusion(x, y, a, (const unsigned char(*)[AUDIT_HASH_BYTES])path, n, b);
    FUZZ_CHECK(rc == CU_OK || rc == CU_ERR_INTEGRITY);
}

static void check_root(uint64_t size)
{
    unsigned char root[AUDIT_HASH_BYTES];

    FUZZ_CHECK(audit_root_at(size, get_hash, &size, root) == CU_OK);
    FUZZ_CHECK(memcmp(root, roots[size], AUDIT_HASH_BYTES) == 0);
}

/* Applies the fuzzed edits to a claim (x, y, path[n]); returns how many. */
static unsigned edit(struct in *in, uint64_t *x, uint64_t *y,
                     unsigned char path[][AUDIT_HASH_BYTES], unsigned *n)
{
    unsigned edits = 0;

    while (in->n > 0 && edits < 8) {
        unsigned op = (unsigned)take(in, 1), arg = (unsigned)take(in, 2);

        edits++;
        switch (op % 6) {
        case 0: /* flip bits of one byte of one hash */
            if (*n > 0)
                path[arg % *n][(arg >> 8) % AUDIT_HASH_BYTES] ^= (unsigned char)(1 + (op >> 3));
            break;
        case 1: /* drop the last hash */
            if (*n > 0)
                (*n)--;
            break;
        case 2: /* append a hash: a real subtree or a leaf */
            if (*n < MAX_PATH)
                memcpy(path[(*n)++], arg & 1 ? leaves[arg % TREE_MAX] : levels[1 + arg % 11],
                       AUDIT_HASH_BYTES);
            break;
        case 3: /* move the first number */
            *x += (uint64_t)(arg % 33) - 16;
            break;
        case 4: /* move the second number */
            *y += (uint64_t)(arg % 33) - 16;
            break;
        case 5: /* swap two hashes */
            if (*n > 1) {
                unsigned char t[AUDIT_HASH_BYTES];
                unsigned i = arg % *n, j = (arg >> 8) % *n;

                memcpy(t, path[i], AUDIT_HASH_BYTES);
                memcpy(path[i], path[j], AUDIT_HASH_BYTES);
                memcpy(path[j], t, AUDIT_HASH_BYTES);
            }
            break;
        }
    }
    return edits;
}

static int same_path(const unsigned char a[][AUDIT_HASH_BYTES], unsigned na,
                     const unsigned char b[][AUDIT_HASH_BYTES], unsigned nb)
{
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * AUDIT_HASH_BYTES) == 0);
}

static void inclusion(struct in *in)
{
    unsigned char path[MAX_PATH][AUDIT_HASH_BYTES], real[MAX_PATH][AUDIT_HASH_BYTES];
    uint64_t size = take_size(in), index = take(in, 2) % size, leaf = index;
    unsigned n = 0, nreal = 0;

    check_root(size);
    FUZZ_CHECK(audit_inclusion_proof(index, size, get_hash, &size, path, &n) == CU_OK);
    FUZZ_CHECK(n <= AUDIT_MAX_PROOF);
    FUZZ_CHECK(audit_verify_inclusion(index, size, leaves[index],
                                      (const unsigned char(*)[AUDIT_HASH_BYTES])path, n,
                                      roots[size]) == CU_OK);
    if (edit(in, &index, &size, path, &n) == 0 || size == 0 || size > TREE_MAX)
        return;
    if (audit_verify_inclusion(index, size, leaves[leaf],
                               (const unsigned char(*)[AUDIT_HASH_BYTES])path, n,
                               roots[size]) != CU_OK)
        return;
    /* It verified: then it is a true claim, and its real proof. */
    FUZZ_CHECK(index == leaf && index < size);
    FUZZ_CHECK(audit_inclusion_proof(index, size, get_hash, &size, real, &nreal) == CU_OK);
    FUZZ_CHECK(same_path((const unsigned char(*)[AUDIT_HASH_BYTES])path, n,
                         (const unsigned char(*)[AUDIT_HASH_BYTES])real, nreal));
}

static void consistency(struct in *in)
{
    unsigned char path[MAX_PATH][AUDIT_HASH_BYTES], real[MAX_PATH][AUDIT_HASH_BYTES];
    uint64_t second = take_size(in), first = 1 + take(in, 2) % second;
    unsigned n = 0, nreal = 0;

    check_root(second);
    FUZZ_CHECK(audit_consistency_proof(first, second, get_hash, &second, path, &n) == CU_OK);
    FUZZ_CHECK(n <= AUDIT_MAX_PROOF);
    FUZZ_CHECK(audit_verify_consistency(first, second, roots[first], roots[second],
                                        (const unsigned char(*)[AUDIT_HASH_BYTES])path,
                                        n) == CU_OK);
    if (edit(in, &first, &second, path, &n) == 0 || first == 0 || first > second ||
        second > TREE_MAX)
        return;
    if (audit_verify_consistency(first, second, roots[first], roots[second],
                                 (const unsigned char(*)[AUDIT_HASH_BYTES])path, n) != CU_OK)
        return;
    FUZZ_CHECK(audit_consistency_proof(first, second, get_hash, &second, real, &nreal) == CU_OK);
    FUZZ_CHECK(same_path((const unsigned char(*)[AUDIT_HASH_BYTES])path, n,
                         (const unsigned char(*)[AUDIT_HASH_BYTES])real, nreal));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = {data, size};

    switch (take(&in, 1) % 4) {
    case 0:
        raw(&in, 0);
        break;
    case 1:
        raw(&in, 1);
        break;
    case 2:
        inclusion(&in);
        break;
    case 3:
        consistency(&in);
        break;
    }
    return 0;
}
