/*
 * `custodian audit verify`: recompute the whole log from its entries.
 *
 * One pass in index order: each entry must decode and follow the previous
 * one without a gap; its leaf hash is appended to a compact range, and every
 * complete subtree the append finishes at a tile level is compared with the
 * stored tile (so an altered, dropped or moved entry is named by index);
 * whenever the range reaches the size of a stored checkpoint, the
 * checkpoint's signature, origin and root are checked against the
 * recomputed root.  Checkpoints beyond the last entry mean entries were
 * removed from the end.
 */
#include "audit.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "../vault/vault.h"

struct checkpoint {
    uint64_t size;
    char *note;
};

struct verify {
    struct store *store;
    const unsigned char *pk;
    const char *origin;
    unsigned char key_id[4];
    struct audit_verify_result *res;

    struct checkpoint *cps;
    size_t ncps, cap, next_cp;
    uint64_t last_good_cp; /* size of the last checkpoint that matched */

    struct audit_range range;
    struct audit_entry entry;
    struct buf scratch;
    /* the tile being compared, per level */
    struct buf tile[8];
    uint64_t tile_index[8];
    int tile_loaded[8];
    int failed;
};

static int collect_checkpoint(void *ctx, uint64_t size, const char *note)
{
    struct verify *v = ctx;

    if (v->ncps == v->cap) {
        v->cap = v->cap ? 2 * v->cap : 16;
        v->cps = xrealloc(v->cps, v->cap * sizeof(*v->cps));
    }
    v->cps[v->ncps].size = size;
    v->cps[v->ncps].note = xstrdup(note);
    v->ncps++;
    return 0;
}

static void fail(struct verify *v, uint64_t index, const char *fmt, ...) CU_PRINTF(3, 4);
static void fail(struct verify *v, uint64_t index, const char *fmt, ...)
{
    va_list ap;

    if (v->failed)
        return;
    v->failed = 1;
    v->res->ok = 0;
    v->res->bad_index = index;
    va_start(ap, fmt);
    v->res->problem = xvasprintf(fmt, ap);
    va_end(ap);
}

/* Compares a recomputed complete subtree with the stored tiles. */
static void check_subtree(void *ctx, unsigned level, uint64_t index,
                          const unsigned char hash[AUDIT_HASH_BYTES])
{
    struct verify *v = ctx;
    unsigned tl = level / AUDIT_TILE_HEIGHT;
    uint64_t ti = index / AUDIT_TILE_WIDTH, first = index << level;
    size_t off = (size_t)(index % AUDIT_TILE_WIDTH) * AUDIT_HASH_BYTES;

    if (v->failed || level % AUDIT_TILE_HEIGHT != 0 || tl >= 8)
        return;
    if (!v->tile_loaded[tl] || v->tile_index[tl] != ti) {
        v->tile_loaded[tl] = 0;
        if (store_tile_get(v->store, tl, ti, &v->tile[tl], NULL) != CU_OK) {
            fail(v, first, "the stored hashes (tile %u/%llu) are missing", tl,
                 (unsigned long long)ti);
            return;
        }
        v->tile_index[tl] = ti;
        v->tile_loaded[tl] = 1;
    }
    if (off + AUDIT_HASH_BYTES > v->tile[tl].len ||
        memcmp(v->tile[tl].data + off, hash, AUDIT_HASH_BYTES) != 0) {
        if (level == 0)
            fail(v, index,
                 "entry %llu does not match its stored hash (altered, moved or "
                 "replaced)",
                 (unsigned long long)index);
        else
            fail(v, first, "the stored hash of entries %llu..%llu does not match them",
                 (unsigned long long)first,
                 (unsigned long long)(first + ((uint64_t)1 << level) - 1));
    }
}

/* Checks checkpoint `cp` against the recomputed tree of its size. */
static void check_checkpoint(struct verify *v, const struct checkpoint *cp)
{
    unsigned char root[AUDIT_HASH_BYTES], want[AUDIT_HASH_BYTES], sig[64];
    char *origin = NULL;
    uint64_t size = 0;
    size_t body = 0;
    int rc;

    if (cp->size == 0)
        audit_empty_root(root);
    else
        audit_range_root(&v->range, root);
    rc = audit_checkpoint_parse(cp->note, strlen(cp->note), v->origin, v->key_id, &origin, &size,
                                want, sig, &body);
    if (rc != CU_OK || size != cp->size || strcmp(origin, v->origin) != 0) {
        fail(v, cp->size ? cp->size - 1 : 0,
             "the checkpoint at size %llu is malformed or not "
             "signed by this log's key",
             (unsigned long long)cp->size);
    } else if (vault_ed25519_verify(v->pk, cp->note, body, sig) != CU_OK) {
        fail(v, cp->size ? cp->size - 1 : 0, "the checkpoint at size %llu has a bad signature",
             (unsigned long long)cp->size);
    } else if (memcmp(root, want, AUDIT_HASH_BYTES) != 0) {
        fail(v, v->last_good_cp,
             "the entries before index %llu do not match the signed checkpoint at that size "
             "(the first change is at or after index %llu)",
             (unsigned long long)cp->size, (unsigned long long)v->last_good_cp);
    } else {
        v->last_good_cp = cp->size;
    }
    v->res->checkpoints++;
    free(origin);
}

static int on_entry(void *ctx, const struct store_audit_row *row)
{
    struct verify *v = ctx;
    unsigned char lh[AUDIT_HASH_BYTES];
    uint64_t want = v->range.size;

    if (row->index != want) {
        fail(v, want, row->index > want ? "entry %llu is missing" : "entry %llu appears twice",
             (unsigned long long)want);
        return 1;
    }
    if (audit_entry_decode(row->leaf, row->len, &v->entry, &v->scratch) != CU_OK) {
        fail(v, want, "entry %llu is malformed", (unsigned long long)want);
        return 1;
    }
    audit_leaf_hash(row->leaf, row->len, lh);
    audit_range_append(&v->range, lh, check_subtree, v);
    v->res->entries++;
    while (!v->failed && v->next_cp < v->ncps && v->cps[v->next_cp].size == v->range.size)
        check_checkpoint(v, &v->cps[v->next_cp++]);
    return v->failed ? 1 : 0;
}

int audit_verify(struct store *s, const unsigned char pk[32], const char *origin,
                 struct audit_verify_result *res, char **errmsg)
{
    struct verify *v = xcalloc(1, sizeof(*v));
    double start = cu_monotonic();
    uint64_t size = 0;
    size_t i;
    int rc;

    memset(res, 0, sizeof(*res));
    res->ok = 1;
    v->store = s;
    v->pk = pk;
    v->origin = origin;
    v->res = res;
    audit_key_id(origin, pk, v->key_id);
    audit_range_init(&v->range);
    buf_init(&v->scratch);
    for (i = 0; i < 8; i++)
        buf_init(&v->tile[i]);

    rc = store_checkpoint_scan(s, collect_checkpoint, v, errmsg);
    if (rc == CU_OK)
        rc = store_audit_size(s, &size, errmsg);
    /* A checkpoint of size 0 (an empty log) is checked before any entry. */
    while (rc == CU_OK && v->next_cp < v->ncps && v->cps[v->next_cp].size == 0)
        check_checkpoint(v, &v->cps[v->next_cp++]);
    if (rc == CU_OK && !v->failed) {
        rc = store_audit_scan(s, 0, UINT64_MAX, on_entry, v, errmsg);
        if (rc == 1)
            rc = CU_OK; /* stopped at the first problem */
    }
    if (rc == CU_OK && !v->failed && v->next_cp < v->ncps)
        fail(v, v->range.size,
             "the log ends at %llu entries but a checkpoint was signed at size %llu: entries "
             "from index %llu were removed",
             (unsigned long long)v->range.size, (unsigned long long)v->cps[v->next_cp].size,
             (unsigned long long)v->range.size);
    if (rc == CU_OK && !v->failed && v->ncps == 0 && v->range.size > 0)
        fail(v, 0, "no signed checkpoint: the log cannot be checked against anything");
    res->seconds = cu_monotonic() - start;

    for (i = 0; i < v->ncps; i++)
        free(v->cps[i].note);
    free(v->cps);
    for (i = 0; i < 8; i++)
        buf_release(&v->tile[i]);
    buf_release(&v->scratch);
    free(v);
    return rc;
}
