/*
 * `custodian audit verify`: recompute the whole log from its entries.
 *
 * One pass in index order: each entry must decode and follow the previous
 * one without a gap, and its row's actor and subject columns must be the
 * ones its leaf holds; its leaf hash is appended to a compact range, and every
 * complete subtree the append finishes at a tile level is compared with the
 * stored tile (so an altered, dropped or moved entry is named by index);
 * whenever the range reaches the size of a stored checkpoint, the
 * checkpoint's signature, origin and root are checked against the
 * recomputed root.  Checkpoints beyond the last entry mean entries were
 * removed from the end.
 *
 * The columns matter because the look-ups by staff member and by customer
 * (store_audit_find: `audit show --staff/--customer-id`, the customer's
 * access log) select entries by them, not by the leaf: a row whose subject
 * was cleared, or whose actor was changed, would drop out of the
 * customer's view while the tree still verified.  The look-up index
 * (audit_index) is not checked: it is derived data, built behind the log
 * from these same columns (store_audit_index) and rebuilt from them when
 * emptied (docs/audit.md says how).  A verify that passes vouches for the
 * columns; an index suspected of tampering is rebuilt, not trusted.
 * Checking it here would need a store operation that reads the index
 * rows below its watermark in one snapshot with that watermark, in both
 * back ends, while the indexer moves it.
 *
 * Leaf hashing (SHA-256 of every entry) is most of the work, so it runs on
 * a second thread: the main thread reads and decodes a chunk of entries
 * while the hasher hashes the previous chunk, then folds the hashes into
 * the tree in index order.  A problem found while reading (a gap, a
 * malformed entry) is reported only after every earlier entry has been
 * checked, so the first bad index is always the one named.
 */
#include "audit.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "../vault/vault.h"

struct checkpoint {
    uint64_t size;
    char *note;
};

#define CHUNK_LEVEL 12
#define CHUNK       (1 << CHUNK_LEVEL) /* entries; chunks start at multiples of CHUNK */

/* Entries read but not yet in the tree: leaves copied out of the store. */
struct chunk {
    size_t n;
    struct buf leaves;
    size_t off[CHUNK + 1];
    unsigned char hash[CHUNK][AUDIT_HASH_BYTES];
    /* a full chunk is one complete subtree: the hasher also gives its root
     * and the hashes at tile level 1 (height 8) under it */
    unsigned char level8[CHUNK >> AUDIT_TILE_HEIGHT][AUDIT_HASH_BYTES];
    unsigned char root[AUDIT_HASH_BYTES];
    int submitted; /* handed to the hasher, not yet folded in */
    int hashed;
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

    /* the hashing pipeline */
    struct chunk chunks[2];
    int filling;      /* the chunk being filled */
    uint64_t read;    /* entries read so far (next index expected) */
    int read_problem; /* at index `read`: 1 a gap, 2 a malformed entry, 3 its columns */
    int read_missing; /* ... and which */
    pthread_t hasher;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct chunk *todo; /* for the hasher */
    int stop;
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

/* The inner tree of a full chunk, from its leaf hashes. */
static void hash_chunk(struct chunk *c)
{
    static _Thread_local unsigned char work[CHUNK / 2][AUDIT_HASH_BYTES];
    size_t width = CHUNK, i;
    unsigned level = 0;

    for (i = 0; i < width / 2; i++)
        audit_node_hash(c->hash[2 * i], c->hash[2 * i + 1], work[i]);
    for (width /= 2, level = 1; width > 1; width /= 2, level++) {
        if (level == AUDIT_TILE_HEIGHT)
            memcpy(c->level8, work, width * AUDIT_HASH_BYTES);
        for (i = 0; i < width / 2; i++)
            audit_node_hash(work[2 * i], work[2 * i + 1], work[i]);
    }
    memcpy(c->root, work[0], AUDIT_HASH_BYTES);
}

static void *hasher_main(void *arg)
{
    struct verify *v = arg;
    struct chunk *c;
    size_t i;

    pthread_mutex_lock(&v->lock);
    for (;;) {
        while (v->todo == NULL && !v->stop)
            pthread_cond_wait(&v->cond, &v->lock);
        if (v->todo == NULL)
            break;
        c = v->todo;
        pthread_mutex_unlock(&v->lock);
        for (i = 0; i < c->n; i++)
            audit_leaf_hash(c->leaves.data + c->off[i], c->off[i + 1] - c->off[i], c->hash[i]);
        if (c->n == CHUNK)
            hash_chunk(c);
        pthread_mutex_lock(&v->lock);
        c->hashed = 1;
        v->todo = NULL;
        pthread_cond_broadcast(&v->cond);
    }
    pthread_mutex_unlock(&v->lock);
    return NULL;
}

/* Waits for a submitted chunk's hashes and folds them into the tree. */
static void fold(struct verify *v, struct chunk *c)
{
    size_t i;

    if (!c->submitted)
        return;
    pthread_mutex_lock(&v->lock);
    while (!c->hashed)
        pthread_cond_wait(&v->cond, &v->lock);
    pthread_mutex_unlock(&v->lock);
    if (c->n == CHUNK &&
        (v->next_cp >= v->ncps || v->cps[v->next_cp].size >= v->range.size + CHUNK)) {
        /* No checkpoint inside: the chunk goes in as one subtree, after its
         * stored leaf and height-8 hashes are compared. */
        uint64_t first = v->range.size;

        for (i = 0; i < CHUNK && !v->failed; i++)
            check_subtree(v, 0, first + i, c->hash[i]);
        for (i = 0; i < (CHUNK >> AUDIT_TILE_HEIGHT) && !v->failed; i++)
            check_subtree(v, AUDIT_TILE_HEIGHT, (first >> AUDIT_TILE_HEIGHT) + i, c->level8[i]);
        if (!v->failed) {
            audit_range_append_subtree(&v->range, CHUNK_LEVEL, c->root, check_subtree, v);
            v->res->entries += CHUNK;
        }
        while (!v->failed && v->next_cp < v->ncps && v->cps[v->next_cp].size == v->range.size)
            check_checkpoint(v, &v->cps[v->next_cp++]);
        i = c->n;
    } else {
        i = 0;
    }
    for (; i < c->n && !v->failed; i++) {
        audit_range_append(&v->range, c->hash[i], check_subtree, v);
        v->res->entries++;
        while (!v->failed && v->next_cp < v->ncps && v->cps[v->next_cp].size == v->range.size)
            check_checkpoint(v, &v->cps[v->next_cp++]);
    }
    c->submitted = c->hashed = 0;
    c->n = 0;
    buf_reset(&c->leaves);
}

/* Hands the filling chunk to the hasher (which is idle: the other chunk
 * was folded first) and starts filling the other one. */
static void submit(struct verify *v)
{
    struct chunk *c = &v->chunks[v->filling], *other = &v->chunks[v->filling ^ 1];

    fold(v, other);
    if (c->n == 0)
        return;
    pthread_mutex_lock(&v->lock);
    c->submitted = 1;
    v->todo = c;
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->lock);
    v->filling ^= 1;
}

/*
 * Whether the row's actor and subject columns are the ones its leaf
 * holds.  They are written from the entry (log.c, commit_batch): actor as
 * given (NULL when the entry had none, which the leaf holds as ""),
 * subject as the 16-byte pseudonym, NULL when there is none.  Look-ups by
 * staff and by customer (store_audit_find) use these columns and the
 * index built from them, not the leaf, so a column changed alone would
 * hide an entry from the customer's access log.
 */
static int columns_match(const struct store_audit_row *row, const struct audit_entry *e)
{
    if (e->actor[0] == '\0') {
        if (row->actor != NULL && row->actor[0] != '\0')
            return 0;
    } else if (row->actor == NULL || strcmp(row->actor, e->actor) != 0) {
        return 0;
    }
    if (!e->has_subject)
        return row->subject == NULL || row->subject_len == 0;
    return row->subject != NULL && row->subject_len == AUDIT_PSEUDONYM_BYTES &&
           memcmp(row->subject, e->subject, AUDIT_PSEUDONYM_BYTES) == 0;
}

static int on_entry(void *ctx, const struct store_audit_row *row)
{
    struct verify *v = ctx;
    struct chunk *c = &v->chunks[v->filling];

    if (row->index != v->read) {
        v->read_problem = 1;
        v->read_missing = row->index > v->read;
        return 1;
    }
    if (audit_entry_decode(row->leaf, row->len, &v->entry, &v->scratch) != CU_OK) {
        v->read_problem = 2;
        return 1;
    }
    if (!columns_match(row, &v->entry)) {
        v->read_problem = 3;
        return 1;
    }
    c->off[c->n] = c->leaves.len;
    buf_add(&c->leaves, row->leaf, row->len);
    c->off[++c->n] = c->leaves.len;
    v->read++;
    if (c->n == CHUNK) {
        submit(v);
        if (v->failed)
            return 1;
    }
    return 0;
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
    pthread_mutex_init(&v->lock, NULL);
    pthread_cond_init(&v->cond, NULL);
    for (i = 0; i < 2; i++)
        buf_init(&v->chunks[i].leaves);
    if (pthread_create(&v->hasher, NULL, hasher_main, v) != 0) {
        cu_log("audit: cannot start the hashing thread");
        abort();
    }
    if (rc == CU_OK && !v->failed) {
        rc = store_audit_scan(s, 0, UINT64_MAX, on_entry, v, errmsg);
        if (rc == 1)
            rc = CU_OK; /* stopped at the first problem */
    }
    /* Fold what was read, in order, then report a reading problem. */
    if (rc == CU_OK && !v->failed)
        submit(v);
    fold(v, &v->chunks[0]);
    fold(v, &v->chunks[1]);
    if (rc == CU_OK && !v->failed && v->read_problem == 1)
        fail(v, v->read, v->read_missing ? "entry %llu is missing" : "entry %llu appears twice",
             (unsigned long long)v->read);
    else if (rc == CU_OK && !v->failed && v->read_problem == 2)
        fail(v, v->read, "entry %llu is malformed", (unsigned long long)v->read);
    else if (rc == CU_OK && !v->failed && v->read_problem == 3)
        fail(v, v->read,
             "entry %llu: its actor/subject columns do not match its leaf (the look-ups by "
             "staff and by customer would miss or misplace it)",
             (unsigned long long)v->read);
    pthread_mutex_lock(&v->lock);
    v->stop = 1;
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->lock);
    pthread_join(v->hasher, NULL);
    pthread_mutex_destroy(&v->lock);
    pthread_cond_destroy(&v->cond);
    for (i = 0; i < 2; i++)
        buf_release(&v->chunks[i].leaves);
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
