/*
 * The audit log writer: group commit.
 *
 * Callers (any number of threads) encode their entry and queue it, with a
 * completion to call (audit_log_submit), or queue it and sleep until then
 * (audit_log_append).  One writer thread takes everything queued, and in
 * ONE store transaction appends the entries, stores every tile hash the
 * batch completed or extended, and, when the last checkpoint is a second
 * old or more, a new signed checkpoint; then commits (one fsync) and calls
 * the completions with the leaf indexes.  A completion runs only after the
 * commit, so an answered entry survives any crash.  If the transaction fails, the
 * in-memory tree is restored to what the store holds and every caller of
 * the batch gets the error (fail closed).
 *
 * Invariants: `range` and `tiles` always describe exactly the entries
 * committed to the store; only the writer thread touches them (and the
 * store connection) once the thread runs.
 */
#include "audit.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/store.h"
#include "../vault/vault.h"

#define CHECKPOINT_INTERVAL 1.0 /* seconds between checkpoints, at most about one a second */
/*
 * Group-commit gathering: when fewer requests are queued than the last batch
 * had, the writer waits up to this long for the rest of the callers it just
 * answered to come back, so batches stay large under load.  A lone caller
 * (last batch of one) never waits.
 */
#define GATHER_NS 150000
/*
 * The look-up index (by staff, by customer) is built behind the log by a
 * thread of its own on a store connection of its own, in sorted chunks
 * (store_audit_index, which never holds the log's write lock): a chunk of
 * INDEX_CHUNK whenever that many entries wait for it, and whatever waits
 * once the log has been quiet for a tick.  Appends never wait for it
 * (indexing on the writer's thread, even in slices, stalled every caller
 * for milliseconds to 190 ms: the p99 of bench/serve).
 */
#define INDEX_CHUNK   65536
#define INDEX_TICK_NS 100000000
#define TILE_LEVELS   8 /* tile levels 0..7 cover 2^64 leaves */
/*
 * When another writer (a second server, a CLI command) has appended since
 * our last batch, the writer catches up by reading those entries and
 * hashing them into its tree state: one read, where rebuilding the state
 * from the stored tiles takes one per tile level and more, all while the
 * log's lock is held (on PostgreSQL, every server waits on it).  Beyond
 * this many entries the state is rebuilt from the tiles instead.
 */
#define CATCH_UP_MAX 4096

/* A queued entry; owned by the queue, freed by the writer after `done`. */
struct request {
    struct buf leaf;
    unsigned char hash[AUDIT_HASH_BYTES]; /* leaf hash, computed by the caller */
    int64_t time_ms;
    char *actor;
    int action;
    int decision;
    char *fields;
    char *reasons;
    struct buf side;
    int has_subject;
    unsigned char subject[AUDIT_PSEUDONYM_BYTES];
    uint64_t index;
    audit_done_fn done;
    void *ctx;
    struct request *next;
};

/* The right-most (partial) tile of each level, as stored. */
struct tile_state {
    uint64_t index; /* tile index */
    unsigned n;     /* hashes in it */
    unsigned char h[AUDIT_TILE_WIDTH][AUDIT_HASH_BYTES];
    int dirty;
};

struct audit_log {
    struct store *store;
    struct vault *vault;
    char *origin;
    unsigned char key_id[4];

    struct audit_range range;
    struct tile_state tiles[TILE_LEVELS];
    struct buf full; /* tiles the batch filled, to store: (level, index, hashes) records */
    uint64_t checkpoint_size;
    double checkpoint_time;
    audit_commit_fn hook; /* set before the first append */
    void *hook_ctx;
    /* the indexer: its own thread and store connection */
    struct store *index_store;
    pthread_t indexer;
    pthread_cond_t index_work;
    uint64_t indexed; /* first entry not in the look-up index (indexer's) */

    pthread_mutex_t lock;
    pthread_cond_t work; /* the writer waits for requests */
    pthread_cond_t idle; /* audit_log_checkpoint waits for the writer to be idle */
    struct request *head, *tail;
    size_t queued;     /* requests in the queue */
    size_t last_batch; /* size of the last batch */
    struct audit_log_stats stats;
    int replaying;      /* catch_up(): tiles are stored already, write none */
    uint64_t caught_up; /* entries of other writers hashed in (writer's) */
    uint64_t reloads;   /* tree states rebuilt from the tiles (writer's) */
    int busy;           /* the writer has a batch (and the store connection) */
    int stopping;
    int force_checkpoint;
    pthread_t thread;
};

/* --- tree state -------------------------------------------------------- */

static void subtree_done(void *ctx, unsigned level, uint64_t index,
                         const unsigned char hash[AUDIT_HASH_BYTES])
{
    struct audit_log *log = ctx;
    struct tile_state *t;
    unsigned tl;

    if (level % AUDIT_TILE_HEIGHT != 0)
        return;
    tl = level / AUDIT_TILE_HEIGHT;
    t = &log->tiles[tl];
    if (index / AUDIT_TILE_WIDTH != t->index) { /* the previous tile was full and written */
        t->index = index / AUDIT_TILE_WIDTH;
        t->n = 0;
    }
    memcpy(t->h[index % AUDIT_TILE_WIDTH], hash, AUDIT_HASH_BYTES);
    t->n = (unsigned)(index % AUDIT_TILE_WIDTH) + 1;
    if (log->replaying)
        return;
    t->dirty = 1;
    if (t->n == AUDIT_TILE_WIDTH) {
        /* Full: keep it for write_tiles(), which must store it even if the
         * next tile of this level starts within the same batch. */
        uint64_t rec[2] = {tl, t->index};

        buf_add(&log->full, rec, sizeof(rec));
        buf_add(&log->full, t->h, sizeof(t->h));
        t->dirty = 0;
    }
}

/* Rebuilds the range and the partial tiles for the stored log size. */
static int load_state(struct audit_log *log, char **errmsg)
{
    struct audit_reader rd;
    uint64_t size = 0, pos = 0;
    struct buf tile = BUF_INIT;
    char *note = NULL;
    unsigned l;
    int bit, rc;

    rc = store_audit_size(log->store, &size, errmsg);
    if (rc != CU_OK)
        return rc;
    audit_range_init(&log->range);
    audit_reader_init(&rd, log->store);
    /* The compact range: one complete subtree per set bit, largest first. */
    for (bit = 63; bit >= 0 && rc == CU_OK; bit--) {
        if (!(size >> bit & 1))
            continue;
        rc =
            audit_reader_get(&rd, (unsigned)bit, pos >> bit, log->range.hashes[log->range.nhashes]);
        log->range.nhashes++;
        pos += (uint64_t)1 << bit;
    }
    log->range.size = size;
    if (rc == CU_ERR_STORE) {
        rc =
            cu_errf(errmsg, CU_ERR_STORE, "audit: cannot read the log's hash tiles from the store");
        goto out;
    }
    if (rc != CU_OK) {
        rc = cu_errf(errmsg, CU_ERR_INTEGRITY,
                     "audit: the stored tiles do not cover the %llu entries (run 'custodian audit "
                     "verify')",
                     (unsigned long long)size);
        goto out;
    }
    for (l = 0; l < TILE_LEVELS; l++) {
        uint64_t hashes = size >> (AUDIT_TILE_HEIGHT * l); /* complete subtrees at this level */
        struct tile_state *t = &log->tiles[l];

        t->index = hashes / AUDIT_TILE_WIDTH;
        t->n = (unsigned)(hashes % AUDIT_TILE_WIDTH);
        t->dirty = 0;
        if (t->n == 0)
            continue;
        rc = store_tile_get(log->store, l, t->index, &tile, errmsg);
        if (rc != CU_OK || tile.len < (size_t)t->n * AUDIT_HASH_BYTES) {
            rc = cu_errf(errmsg, CU_ERR_INTEGRITY, "audit: tile %u/%llu is missing or short", l,
                         (unsigned long long)t->index);
            goto out;
        }
        memcpy(t->h, tile.data, (size_t)t->n * AUDIT_HASH_BYTES);
    }
    rc = store_checkpoint_latest(log->store, &log->checkpoint_size, &note, errmsg);
    if (rc == CU_ERR_NOT_FOUND) {
        if (errmsg != NULL) {
            free(*errmsg);
            *errmsg = NULL;
        }
        log->checkpoint_size = 0;
        rc = CU_OK;
    }
out:
    free(note);
    buf_release(&tile);
    audit_reader_release(&rd);
    return rc;
}

struct catch_up {
    struct audit_log *log;
    uint64_t first; /* our size before */
    uint64_t next;  /* the index the next row must have */
};

static int catch_up_row(void *ctx, const struct store_audit_row *row)
{
    struct catch_up *c = ctx;
    unsigned char hash[AUDIT_HASH_BYTES];

    if (row->index != c->next)
        return CU_ERR_INTEGRITY;
    audit_leaf_hash(row->leaf, row->len, hash);
    audit_range_append(&c->log->range, hash, subtree_done, c->log);
    c->next++;
    return CU_OK;
}

/*
 * Brings the tree state from our size to `size`, the store's, inside the
 * writer's transaction (so nobody appends meanwhile): by hashing the
 * entries appended since, or, for a long way or anything unexpected, by
 * rebuilding it from the stored tiles.  Each writer stores the tiles of its
 * own entries, so catching up stores none.
 */
static int catch_up(struct audit_log *log, uint64_t size, char **errmsg)
{
    struct catch_up c = {.log = log, .first = log->range.size, .next = log->range.size};
    int rc;

    if (size < log->range.size || size - log->range.size > CATCH_UP_MAX) {
        log->reloads++;
        return load_state(log, errmsg);
    }
    log->replaying = 1;
    rc = store_audit_scan(log->store, log->range.size, size, catch_up_row, &c, errmsg);
    log->replaying = 0;
    if (rc == CU_OK && c.next == size) {
        log->caught_up += c.next - c.first;
        return CU_OK;
    }
    if (rc == CU_ERR_STORE)
        return rc;
    if (errmsg != NULL) {
        free(*errmsg);
        *errmsg = NULL;
    }
    log->reloads++;
    return load_state(log, errmsg);
}

static int write_tiles(struct audit_log *log, char **errmsg)
{
    const size_t rec = 2 * sizeof(uint64_t) + sizeof(log->tiles[0].h);
    size_t off;
    unsigned l;
    int rc;

    for (off = 0; off + rec <= log->full.len; off += rec) {
        uint64_t hdr[2];

        memcpy(hdr, log->full.data + off, sizeof(hdr));
        rc = store_tile_put(log->store, (unsigned)hdr[0], hdr[1],
                            log->full.data + off + sizeof(hdr), sizeof(log->tiles[0].h), errmsg);
        if (rc != CU_OK)
            return rc;
    }
    buf_reset(&log->full);

    for (l = 0; l < TILE_LEVELS; l++) {
        struct tile_state *t = &log->tiles[l];

        if (!t->dirty)
            continue;
        rc = store_tile_put(log->store, l, t->index, t->h, (size_t)t->n * AUDIT_HASH_BYTES, errmsg);
        if (rc != CU_OK)
            return rc;
        t->dirty = 0;
    }
    return CU_OK;
}

/* The tree state before a write transaction, put back if it fails. */
struct saved_state {
    struct audit_range range;
    struct tile_state *tiles; /* TILE_LEVELS of them (66 KiB: on the heap) */
    uint64_t checkpoint_size;
};

/*
 * Called first inside each write transaction of the log's store (a batch,
 * a checkpoint): saves the tree state in *saved, then reads the stored
 * size, which on PostgreSQL takes the log's lock until the transaction
 * ends, so nobody appends meanwhile, and catches up with what other
 * writers (a second server, a CLI command) appended since our last
 * transaction.  Afterwards `range` and `tiles` describe every stored entry,
 * so what the transaction numbers or signs follows the newest entry.  If
 * this or anything later in the transaction fails, the caller rolls back
 * and calls state_restore(); in every case it calls state_release().
 */
static int state_sync(struct audit_log *log, struct saved_state *saved, char **errmsg)
{
    uint64_t stored = 0;
    int rc;

    saved->range = log->range;
    saved->tiles = xmalloc(sizeof(log->tiles));
    memcpy(saved->tiles, log->tiles, sizeof(log->tiles));
    saved->checkpoint_size = log->checkpoint_size;
    rc = store_audit_size(log->store, &stored, errmsg);
    if (rc == CU_OK && stored != log->range.size)
        rc = catch_up(log, stored, errmsg);
    return rc;
}

/* Publishes the writer's own counts to the stats (under log->lock). */
static void stats_publish(struct audit_log *log)
{
    log->stats.size = log->range.size;
    log->stats.caught_up = log->caught_up;
    log->stats.reloads = log->reloads;
}

/* Puts back the tree state state_sync() saved (after a rollback). */
static void state_restore(struct audit_log *log, const struct saved_state *saved)
{
    log->range = saved->range;
    memcpy(log->tiles, saved->tiles, sizeof(log->tiles));
    log->checkpoint_size = saved->checkpoint_size;
    buf_reset(&log->full);
}

static void state_release(struct saved_state *saved)
{
    free(saved->tiles);
    saved->tiles = NULL;
}

/* Signs and stores a checkpoint for the current size (inside the caller's
 * transaction).  *note may be NULL. */
static int write_checkpoint(struct audit_log *log, char **note, char **errmsg)
{
    unsigned char root[AUDIT_HASH_BYTES], sig[64];
    struct buf text = BUF_INIT;
    size_t body;
    int rc;

    if (log->range.size == 0)
        audit_empty_root(root);
    else
        audit_range_root(&log->range, root);
    audit_checkpoint_body(log->origin, log->range.size, root, &text);
    body = text.len;
    vault_audit_sign(log->vault, text.data, body, sig);
    buf_addch(&text, '\n');
    audit_signature_line(log->origin, log->key_id, sig, &text);
    rc = store_checkpoint_put(log->store, log->range.size, text.data, errmsg);
    if (rc == CU_OK && note != NULL)
        *note = buf_detach(&text, NULL);
    buf_release(&text);
    return rc;
}

/* --- the writer thread -------------------------------------------------- */

static double now_mono(void)
{
    return cu_monotonic();
}

/* Runs the commit hook over the batch (numbered already). */
static int run_hook(struct audit_log *log, struct request *batch, char **errmsg)
{
    struct audit_committed *e;
    struct request *r;
    size_t n = 0;
    int rc;

    for (r = batch; r != NULL; r = r->next)
        n++;
    e = xcalloc(n, sizeof(*e));
    for (n = 0, r = batch; r != NULL; r = r->next, n++) {
        e[n].index = r->index;
        e[n].time_ms = r->time_ms;
        e[n].actor = r->actor;
        e[n].action = r->action;
        e[n].decision = r->decision;
        e[n].fields = r->fields;
        e[n].reasons = r->reasons;
        e[n].side = r->side.len ? r->side.data : NULL;
        e[n].side_len = r->side.len;
    }
    rc = log->hook(log->hook_ctx, log->store, e, n, errmsg);
    free(e);
    return rc;
}

/* Commits one batch; on failure restores the tree state. */
static int commit_batch(struct audit_log *log, struct request *batch, char **errmsg)
{
    struct store_audit_row rows[256];
    struct saved_state saved;
    struct request *r, *chunk;
    size_t n;
    int rc, checkpoint;

    rc = store_begin(log->store, errmsg);
    if (rc != CU_OK)
        return rc;
    /* Another process may have appended since our last batch: catch up
     * with what the store holds before numbering our entries. */
    rc = state_sync(log, &saved, errmsg);
    for (chunk = batch; rc == CU_OK && chunk != NULL;) {
        for (n = 0, r = chunk; r != NULL && n < CU_ARRAY_LEN(rows); r = r->next, n++) {
            r->index = log->range.size;
            rows[n].index = r->index;
            rows[n].time_ms = r->time_ms;
            rows[n].actor = r->actor;
            rows[n].subject = r->has_subject ? r->subject : NULL;
            rows[n].subject_len = r->has_subject ? AUDIT_PSEUDONYM_BYTES : 0;
            rows[n].leaf = r->leaf.data;
            rows[n].len = r->leaf.len;
            audit_range_append(&log->range, r->hash, subtree_done, log);
        }
        rc = store_audit_append(log->store, rows, n, errmsg);
        chunk = r;
    }
    if (rc == CU_OK && log->hook != NULL)
        rc = run_hook(log, batch, errmsg);
    if (rc == CU_OK)
        rc = write_tiles(log, errmsg);
    checkpoint = log->force_checkpoint || now_mono() - log->checkpoint_time >= CHECKPOINT_INTERVAL;
    if (rc == CU_OK && checkpoint)
        rc = write_checkpoint(log, NULL, errmsg);
    if (rc == CU_OK)
        rc = store_commit(log->store, errmsg);
    if (rc != CU_OK) {
        store_rollback(log->store);
        state_restore(log, &saved);
    } else if (checkpoint) {
        log->checkpoint_size = log->range.size;
        log->checkpoint_time = now_mono();
        log->force_checkpoint = 0;
    }
    state_release(&saved);
    return rc;
}

static void *writer_main(void *arg)
{
    struct audit_log *log = arg;
    struct request *batch, *r, *next;
    char *err;
    int rc;

    pthread_mutex_lock(&log->lock);
    for (;;) {
        while (log->head == NULL && !log->stopping)
            pthread_cond_wait(&log->work, &log->lock);
        if (log->head == NULL && log->stopping)
            break;
        if (log->queued < log->last_batch && !log->stopping) {
            struct timespec until;

            clock_gettime(CLOCK_MONOTONIC, &until);
            until.tv_nsec += GATHER_NS;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (log->queued < log->last_batch && !log->stopping &&
                   pthread_cond_timedwait(&log->work, &log->lock, &until) == 0)
                ;
        }
        batch = log->head;
        log->last_batch = log->queued;
        log->head = log->tail = NULL;
        log->queued = 0;
        log->busy = 1;
        pthread_mutex_unlock(&log->lock);

        err = NULL;
        rc = commit_batch(log, batch, &err);
        /* Counted before anyone is answered, so that what a caller sees
         * after its answer includes its entry. */
        pthread_mutex_lock(&log->lock);
        if (rc == CU_OK) {
            log->stats.entries += log->last_batch;
            log->stats.batches++;
        } else {
            log->stats.failures++;
        }
        stats_publish(log);
        pthread_mutex_unlock(&log->lock);

        /* Answer the callers without the lock (a completion never calls
         * into the log). */
        for (r = batch; r != NULL; r = next) {
            next = r->next;
            r->done(r->ctx, rc, r->index,
                    rc == CU_OK ? NULL
                    : err       ? err
                                : "the log cannot be written");
            buf_release(&r->leaf);
            free(r->actor);
            free(r->fields);
            free(r->reasons);
            buf_release(&r->side);
            free(r);
        }
        free(err);
        pthread_mutex_lock(&log->lock);
        log->busy = 0;
        pthread_cond_broadcast(&log->idle);
    }
    pthread_mutex_unlock(&log->lock);
    return NULL;
}

/* Indexes up to `max` entries on the indexer's connection (without the
 * lock); a failure loses nothing: the next chunk redoes it. */
static void index_chunk(struct audit_log *log, size_t max)
{
    uint64_t mark = 0;
    char *err = NULL;

    pthread_mutex_unlock(&log->lock);
    if (store_audit_index(log->index_store, max, &mark, &err) != CU_OK) {
        cu_log("audit: the look-up index is behind (will retry): %s", err ? err : "");
        free(err);
        mark = 0;
    }
    pthread_mutex_lock(&log->lock);
    if (mark > log->indexed)
        log->indexed = mark;
}

/* The write-ahead log back into the database, off the writer's path: a
 * checkpoint that a commit ran would hold every answer waiting on it. */
static void checkpoint(struct audit_log *log)
{
    char *err = NULL;

    pthread_mutex_unlock(&log->lock);
    if (store_checkpoint(log->index_store, &err) != CU_OK) {
        cu_log("audit: checkpoint of the write-ahead log (will retry): %s", err ? err : "");
        free(err);
    }
    pthread_mutex_lock(&log->lock);
}

/*
 * The indexer: wakes every INDEX_TICK_NS; indexes a chunk whenever
 * INDEX_CHUNK entries wait, and whatever waits once a tick passed without
 * new entries; checkpoints the store's write-ahead log after a tick with
 * new entries.
 */
static void *indexer_main(void *arg)
{
    struct audit_log *log = arg;
    struct timespec until;
    uint64_t seen;

    pthread_mutex_lock(&log->lock);
    index_chunk(log, 0); /* where the index stands */
    seen = log->stats.size;
    while (!log->stopping) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += INDEX_TICK_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!log->stopping && pthread_cond_timedwait(&log->index_work, &log->lock, &until) == 0)
            ;
        if (log->stopping)
            break;
        if (log->stats.size - log->indexed >= INDEX_CHUNK ||
            (log->stats.size == seen && log->stats.size > log->indexed))
            index_chunk(log, INDEX_CHUNK);
        if (log->stats.size != seen)
            checkpoint(log);
        seen = log->stats.size;
    }
    pthread_mutex_unlock(&log->lock);
    return NULL;
}

/* --- public ------------------------------------------------------------- */

int audit_log_open(struct audit_log **out, const char *store_url, struct vault *v,
                   const char *origin, char **errmsg)
{
    struct audit_log *log = xcalloc(1, sizeof(*log));
    unsigned char pk[32];
    int rc;

    *out = NULL;
    log->vault = v;
    log->origin = xstrdup(origin);
    buf_init(&log->full);
    vault_audit_public_key(v, pk);
    audit_key_id(origin, pk, log->key_id);
    rc = store_open(&log->store, store_url, errmsg);
    if (rc == CU_OK)
        rc = store_open(&log->index_store, store_url, errmsg);
    if (rc == CU_OK)
        rc = load_state(log, errmsg);
    if (rc != CU_OK) {
        if (log->store != NULL)
            store_free(log->store);
        if (log->index_store != NULL)
            store_free(log->index_store);
        free(log->origin);
        free(log);
        return rc;
    }
    log->checkpoint_time = now_mono() - CHECKPOINT_INTERVAL; /* the first batch signs one */
    log->stats.size = log->range.size;
    pthread_mutex_init(&log->lock, NULL);
    {
        pthread_condattr_t attr;

        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&log->work, &attr);
        pthread_condattr_destroy(&attr);
    }
    pthread_cond_init(&log->idle, NULL);
    {
        pthread_condattr_t attr;

        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&log->index_work, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (pthread_create(&log->thread, NULL, writer_main, log) != 0 ||
        pthread_create(&log->indexer, NULL, indexer_main, log) != 0) {
        cu_log("audit: cannot start the writer threads");
        abort();
    }
    /* Named for top -H and perf; a name that does not take is harmless. */
    pthread_setname_np(log->thread, "cu-audit");
    pthread_setname_np(log->indexer, "cu-audit-index");
    *out = log;
    return CU_OK;
}

int audit_log_submit(struct audit_log *log, const struct audit_entry *e, audit_done_fn done,
                     void *ctx, char **errmsg)
{
    struct request *r = xcalloc(1, sizeof(*r));
    int rc;

    buf_init(&r->leaf);
    rc = audit_entry_encode(e, &r->leaf);
    if (rc != CU_OK) {
        buf_release(&r->leaf);
        free(r);
        return cu_errf(errmsg, rc, "audit: entry cannot be encoded (a field is too long)");
    }
    /* Hashed here, on the caller's thread: the writer is the serial part. */
    audit_leaf_hash(r->leaf.data, r->leaf.len, r->hash);
    r->time_ms = e->time_ms;
    r->actor = e->actor != NULL ? xstrdup(e->actor) : NULL;
    r->action = e->action;
    r->decision = e->decision;
    r->fields = e->fields != NULL && e->fields[0] != '\0' ? xstrdup(e->fields) : NULL;
    r->reasons = e->reasons != NULL && e->reasons[0] != '\0' ? xstrdup(e->reasons) : NULL;
    buf_init(&r->side);
    if (e->side != NULL && e->side_len > 0)
        buf_add(&r->side, e->side, e->side_len);
    r->has_subject = e->has_subject;
    if (e->has_subject)
        memcpy(r->subject, e->subject, AUDIT_PSEUDONYM_BYTES);
    r->done = done;
    r->ctx = ctx;

    pthread_mutex_lock(&log->lock);
    if (log->tail != NULL)
        log->tail->next = r;
    else
        log->head = r;
    log->tail = r;
    log->queued++;
    pthread_cond_signal(&log->work);
    pthread_mutex_unlock(&log->lock);
    return CU_OK;
}

/* audit_log_append's completion: wakes the caller on its own semaphore. */
struct waiter {
    sem_t sem;
    int rc;
    uint64_t index;
    char *err;
};

static void wake(void *ctx, int rc, uint64_t index, const char *err)
{
    struct waiter *w = ctx;

    w->rc = rc;
    w->index = index;
    w->err = err != NULL ? xstrdup(err) : NULL;
    sem_post(&w->sem); /* the last touch: the waiter may return at once */
}

int audit_log_append(struct audit_log *log, const struct audit_entry *e, uint64_t *index,
                     char **errmsg)
{
    struct waiter w = {.rc = CU_OK};
    int rc;

    sem_init(&w.sem, 0, 0);
    rc = audit_log_submit(log, e, wake, &w, errmsg);
    if (rc == CU_OK) {
        while (sem_wait(&w.sem) != 0 && errno == EINTR)
            ;
        rc = w.rc;
        if (rc == CU_OK)
            *index = w.index;
        else
            cu_errf(errmsg, rc, "audit: %s", w.err);
        free(w.err);
    }
    sem_destroy(&w.sem);
    return rc;
}

void audit_log_set_commit_hook(struct audit_log *log, audit_commit_fn fn, void *ctx)
{
    pthread_mutex_lock(&log->lock);
    log->hook = fn;
    log->hook_ctx = ctx;
    pthread_mutex_unlock(&log->lock);
}

void audit_log_stats(struct audit_log *log, struct audit_log_stats *out)
{
    pthread_mutex_lock(&log->lock);
    *out = log->stats;
    pthread_mutex_unlock(&log->lock);
}

int audit_log_checkpoint(struct audit_log *log, char **note, char **errmsg)
{
    struct saved_state saved;
    uint64_t size = 0;
    int rc;

    /* Runs on the caller's thread, holding the lock while the writer is
     * idle: the writer touches the store and the tree only while busy. */
    pthread_mutex_lock(&log->lock);
    while (log->head != NULL || log->busy)
        pthread_cond_wait(&log->idle, &log->lock);
    rc = store_begin(log->store, errmsg);
    if (rc != CU_OK)
        goto out;
    /* The log's size is the store's, not this process's: other writers
     * may have appended since our last batch, and a checkpoint signed at
     * our own size would be older than theirs (the tree would seem to
     * shrink to whoever asks for the newest checkpoint). */
    rc = state_sync(log, &saved, errmsg);
    if (rc != CU_OK) {
        store_rollback(log->store);
        state_restore(log, &saved);
    } else if (log->checkpoint_size == log->range.size && log->checkpoint_size > 0) {
        /* Signed already (by us, or found when the state was reloaded). */
        store_rollback(log->store);
        rc = store_checkpoint_latest(log->store, &size, note, errmsg);
    } else {
        rc = write_checkpoint(log, note, errmsg);
        if (rc == CU_OK)
            rc = store_commit(log->store, errmsg);
        if (rc != CU_OK) {
            store_rollback(log->store);
            state_restore(log, &saved);
        } else {
            log->checkpoint_size = log->range.size;
        }
    }
    state_release(&saved);
    stats_publish(log);
out:
    pthread_mutex_unlock(&log->lock);
    return rc;
}

void audit_log_close(struct audit_log *log)
{
    char *note = NULL, *err = NULL;

    if (log == NULL)
        return;
    pthread_mutex_lock(&log->lock);
    log->stopping = 1;
    pthread_cond_signal(&log->work);
    pthread_cond_signal(&log->index_work);
    pthread_mutex_unlock(&log->lock);
    pthread_join(log->thread, NULL);
    pthread_join(log->indexer, NULL);
    /* What this process appended is indexed before it goes (one chunk at
     * most: a long backlog is left to a server's indexer; look-ups stay
     * complete meanwhile by scanning it). */
    pthread_mutex_lock(&log->lock);
    if (log->stats.size > log->indexed)
        index_chunk(log, INDEX_CHUNK);
    pthread_mutex_unlock(&log->lock);
    if (log->range.size > log->checkpoint_size && audit_log_checkpoint(log, &note, &err) != CU_OK)
        cu_log("%s", err ? err : "audit: cannot sign the final checkpoint");
    free(note);
    free(err);
    pthread_mutex_destroy(&log->lock);
    pthread_cond_destroy(&log->work);
    pthread_cond_destroy(&log->idle);
    pthread_cond_destroy(&log->index_work);
    store_free(log->store);
    store_free(log->index_store);
    buf_release(&log->full);
    free(log->origin);
    free(log);
}
