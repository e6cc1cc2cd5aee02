/*
 * The store: one interface, two back ends: SQLite (embedded, the default)
 * and PostgreSQL (store_pg.c, built when libpq is found; several servers on
 * one database, docs/postgres.md).  Nothing above this header knows which database it talks to: no
 * SQL, no handles, no back-end error codes leak out.  A back end implements
 * `struct store_ops` (store_int.h); store.c dispatches.
 *
 * The store never sees a personal value: it keeps sealed blobs, wrapped
 * keys, blind-index hashes and non-personal ids only.
 *
 * A `struct store` is used by one thread at a time.  Errors: CU_ERR_STORE
 * for database failures (with a message naming the operation),
 * CU_ERR_NOT_FOUND, CU_ERR_CONFLICT as documented per function.
 */
#ifndef CU_STORE_H
#define CU_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"
#include "../model/model.h"

struct store;

/*
 * Opens (creating if needed, and migrating the schema to the current
 * version) the store at `url`: "sqlite:PATH" (or "sqlite://PATH") or a plain
 * file path for SQLite; ":memory:" gives a private in-memory SQLite store.
 * Returns CU_ERR_INVALID for an unknown scheme (and, until PostgreSQL
 * support is built in, for "postgres://" and "postgresql://"), CU_ERR_STORE
 * for a file that is not a custodian store or whose schema is newer than
 * this program, CU_ERR_IO when the file cannot be created.  A new SQLite
 * file is created with mode 0600.  Messages never repeat the URL beyond its
 * scheme (it may hold a password).  The caller frees the store with
 * store_free().
 */
int store_open(struct store **out, const char *url, char **errmsg) CU_WUR;
void store_free(struct store *s);

/* Schema version the store is at (after migration). */
int store_schema_version(struct store *s);
/* Bounds the page cache of each SQLite handle opened after the call to
 * `bytes` (64 MiB by default, for bulk work); a long-running server with a
 * handle per thread sets less.  PostgreSQL handles keep no cache (results
 * are freed after each call).  SQLite's own memory statistics are off: they
 * cost a process-wide mutex on every allocation. */
void store_cache_limit(int64_t bytes);

/* Transactions.  Not nested (begin inside a transaction, or commit outside
 * one, is CU_ERR_INTERNAL); every write below runs inside the caller's
 * transaction if one is open, or in its own otherwise, and a write that
 * fails leaves nothing of itself behind.  After a failed commit call
 * store_rollback(), which is harmless when no transaction is open. */
int store_begin(struct store *s, char **errmsg) CU_WUR;
int store_commit(struct store *s, char **errmsg) CU_WUR;
void store_rollback(struct store *s);

/* Groups the reads that follow, up to store_reads_end(), for speed only.
 * On SQLite they share one read transaction: one lock and one refill of
 * the page cache (which every other connection's commit empties) instead
 * of one per statement, and one snapshot.  On PostgreSQL it does nothing.
 * Writes may come in between: the first write, or store_begin(), ends the
 * grouping and the reads after it run on their own.  Nothing inside a
 * transaction; ending no grouping is harmless.  Hold it for a request, not
 * longer: an open read transaction holds back the WAL's checkpoint. */
void store_reads_begin(struct store *s);
void store_reads_end(struct store *s);

/* From now on, this handle's commits return before they are on disk
 * (SQLite: synchronous=NORMAL; PostgreSQL: synchronous_commit off).  A
 * crash of the machine may then undo the last of them, whole and in order,
 * never half; the next durable commit of any handle makes them durable
 * too.  Only for work that is redone when undone (the outbox courier:
 * an undone claim is claimed and sent again, at least once). */
int store_commits_relaxed(struct store *s, char **errmsg) CU_WUR;

/* SQLite: copies the write-ahead log back into the database as far as open
 * reads allow, without blocking any reader or writer (a passive
 * checkpoint), so that no commit has to do it on its own time.
 * PostgreSQL: nothing (its checkpointer does this). */
int store_checkpoint(struct store *s, char **errmsg) CU_WUR;

/* Small named settings (e.g. "import_run").  get: CU_ERR_NOT_FOUND if unset;
 * *value is a new string the caller frees. */
int store_meta_get(struct store *s, const char *key, char **value, char **errmsg) CU_WUR;
int store_meta_set(struct store *s, const char *key, const char *value, char **errmsg) CU_WUR;

/* Key-encryption keys: version, state and age.  The wrapped keys
 * themselves live outside the store, in the keyring file (src/service/
 * keyring.c), so that no copy of the store holds one; `wrapped` is empty
 * except in stores written before the keyring, which the service moves
 * out at open. */
enum store_kek_state {
    STORE_KEK_ACTIVE = 1, /* new data keys are wrapped with it (one at a time) */
    STORE_KEK_DRAINING,   /* still opens data keys; rotation moves them away */
    STORE_KEK_RETIRED,    /* wrapped key deleted; kept as a record only */
};
struct store_kek {
    uint32_t version;
    enum store_kek_state state;
    struct buf wrapped; /* empty (see above) */
    int64_t created_at;
};
/* Lists every KEK, oldest first, into a new array (*out, *n) that the
 * caller frees with store_kek_list_free(). */
int store_kek_list(struct store *s, struct store_kek **out, size_t *n, char **errmsg) CU_WUR;
void store_kek_list_free(struct store_kek *list, size_t n);
/* Inserts or updates (state and wrapped key) the KEK with k->version; an
 * update keeps the stored created_at.  created_at 0 means now. */
int store_kek_put(struct store *s, const struct store_kek *k, char **errmsg) CU_WUR;

/* One blind-index entry: identifier kind (enum model_ident) and hash. */
struct store_blind {
    uint8_t kind;
    uint64_t hash;
};

/*
 * A customer as stored.  Buffers are owned by the struct; reuse one struct
 * across many calls with store_customer_reset() to avoid allocations.
 */
struct store_customer {
    int64_t id; /* the store's internal id, set by insert and get */
    char *customer_id;
    uint32_t kek_version;
    uint32_t dek_version;
    struct buf wrapped_dek;
    struct buf sealed[MODEL_F__COUNT]; /* len 0: field absent */
    struct store_blind *blind;
    size_t nblind;
    size_t blind_cap;
    int64_t import_run; /* the import that last wrote it, 0 if none */
    int64_t created_at;
    int64_t updated_at;
};
void store_customer_init(struct store_customer *c);
void store_customer_reset(struct store_customer *c);
void store_customer_release(struct store_customer *c);
void store_customer_add_blind(struct store_customer *c, uint8_t kind, uint64_t hash);

/*
 * Inserts a new customer with its blind-index entries; sets c->id.
 * CU_ERR_CONFLICT (and nothing written) when c->customer_id exists, and
 * CU_ERR_INVALID when it was erased (store_customer_erase): the tombstone
 * is checked in the insert itself, so an import that read the erased ids
 * before an erasure cannot bring the customer back.  created_at 0 means
 * now and updated_at 0 means created_at; both are written back to c.
 * Duplicate blind entries are stored once.
 */
int store_customer_insert(struct store *s, struct store_customer *c, char **errmsg) CU_WUR;
/*
 * Replaces the stored customer with the same customer_id (keeping its id
 * and created_at): every column and the blind-index entries (old entries
 * removed, new ones added).  CU_ERR_NOT_FOUND when it does not exist.
 * Sets c->id and c->created_at to the stored ones; updated_at 0 means now.
 */
int store_customer_replace(struct store *s, struct store_customer *c, char **errmsg) CU_WUR;
/* Reads a customer by customer_id / by internal id into `c` (reset first).
 * CU_ERR_NOT_FOUND when there is none (c is left reset). */
int store_customer_get(struct store *s, const char *customer_id, struct store_customer *c,
                       char **errmsg) CU_WUR;
int store_customer_get_by_id(struct store *s, int64_t id, struct store_customer *c,
                             char **errmsg) CU_WUR;
/* Number of customers. */
int store_customer_count(struct store *s, int64_t *n, char **errmsg) CU_WUR;

/*
 * Blind-index look-up: the internal ids of the customers with an entry
 * (kind, hash), at most `max` of them (the lowest ids), in increasing
 * order, into ids[]; *n is how many.
 */
int store_blind_find(struct store *s, uint8_t kind, uint64_t hash, int64_t *ids, size_t max,
                     size_t *n, char **errmsg) CU_WUR;

/*
 * Data-key rotation support.  store_dek_scan() calls `cb` for up to `limit`
 * customers whose kek_version differs from `kek_version` and whose id is
 * greater than `after_id`, in id order; a non-zero return from cb stops the
 * scan and is returned.  store_dek_update() stores a re-wrapped data key.
 * store_kek_usage() counts the customers whose data key is wrapped by
 * `kek_version`.  The callback may call store_dek_update() on the same
 * store (the page is read before the first call); `customer_id` and
 * `wrapped` are valid during the call only.  store_dek_update() returns
 * CU_ERR_NOT_FOUND for an unknown id and leaves dek_version and updated_at
 * alone.
 */
typedef int (*store_dek_cb)(void *ctx, int64_t id, const char *customer_id, uint32_t kek_version,
                            const void *wrapped, size_t len);
int store_dek_scan(struct store *s, uint32_t kek_version, int64_t after_id, size_t limit,
                   store_dek_cb cb, void *ctx, char **errmsg) CU_WUR;
int store_dek_update(struct store *s, int64_t id, uint32_t kek_version, const void *wrapped,
                     size_t len, char **errmsg) CU_WUR;
int store_kek_usage(struct store *s, uint32_t kek_version, int64_t *n, char **errmsg) CU_WUR;
/*
 * Inside a transaction that writes new data keys: the version of the
 * ACTIVE KEK (0: none), held active until the transaction ends, so that a
 * rotation (which makes it DRAINING) waits for the keys this transaction
 * wraps with it, and a retirement counts them.  PostgreSQL: FOR SHARE on
 * its row; SQLite: the write transaction already excludes every other.
 */
int store_kek_hold(struct store *s, uint32_t *active, char **errmsg) CU_WUR;

/*
 * --- Audit log storage -------------------------------------------------
 *
 * The store keeps what src/audit computes: entries (leaf_input plus the
 * columns needed to find them), hash tiles and signed checkpoints.  It
 * checks nothing about hashes; src/audit does.  A `struct store` used for
 * the audit writer is its own connection (one per thread).
 */
struct store_audit_row {
    uint64_t index;
    int64_t time_ms;
    const char *actor;            /* staff username or "operator:<user>" */
    const unsigned char *subject; /* customer pseudonym, or NULL */
    size_t subject_len;
    const void *leaf; /* the leaf_input */
    size_t len;
};
/*
 * Appends n rows with consecutive indexes, the first equal to the current
 * log size (CU_ERR_CONFLICT otherwise, and nothing written).
 */
int store_audit_append(struct store *s, const struct store_audit_row *rows, size_t n,
                       char **errmsg) CU_WUR;
/* Number of entries (the next index). */
int store_audit_size(struct store *s, uint64_t *size, char **errmsg) CU_WUR;
/*
 * Calls cb for each entry with start <= index < end, in index order; the
 * row's pointers are valid during the call only.  A non-zero return from cb
 * stops the scan and is returned.  The callback may use the same store
 * (this applies to every scan below too).
 */
typedef int (*store_audit_cb)(void *ctx, const struct store_audit_row *row);
int store_audit_scan(struct store *s, uint64_t start, uint64_t end, store_audit_cb cb, void *ctx,
                     char **errmsg) CU_WUR;
/*
 * Entries by actor (if not NULL) and/or subject (if not NULL), newest
 * first, at most `limit`; with neither, the newest entries.  Rows and
 * callback as for store_audit_scan().
 */
int store_audit_find(struct store *s, const char *actor, const unsigned char *subject,
                     size_t subject_len, size_t limit, store_audit_cb cb, void *ctx,
                     char **errmsg) CU_WUR;

/*
 * The look-up index behind store_audit_find() is maintained behind the log,
 * not on every append (random index keys would slow the durable path):
 * store_audit_index() adds the next `max` entries not yet indexed, in
 * sorted order, in a transaction of its own, and sets *watermark to the
 * first entry still not indexed (max 0: just reads it).  It must not be
 * called inside a transaction of `s`, and it never holds the log's write
 * lock: a back end may keep the index apart (SQLite: a file of its own),
 * so that indexing and appending proceed side by side.  The index is
 * derived data, rebuilt from the entries when it is lost or foreign.
 * store_audit_find() is always complete: it also scans the entries not
 * indexed yet.
 */
int store_audit_index(struct store *s, size_t max, uint64_t *watermark, char **errmsg) CU_WUR;

/*
 * Hash tiles (C2SP tlog-tiles layout, see audit.h): tile (level, index)
 * holds up to 256 consecutive 32-byte hashes.  put inserts or replaces (a
 * partial tile grows as the log does); get replaces `out`'s content,
 * CU_ERR_NOT_FOUND when absent.
 */
int store_tile_put(struct store *s, unsigned level, uint64_t index, const void *hashes, size_t len,
                   char **errmsg) CU_WUR;
int store_tile_get(struct store *s, unsigned level, uint64_t index, struct buf *out,
                   char **errmsg) CU_WUR;

/*
 * Signed checkpoints, one per tree size.  put: CU_ERR_CONFLICT if a
 * different note is stored for that size.  latest: the largest size;
 * CU_ERR_NOT_FOUND when there is none; *note is a new string.  scan: every
 * checkpoint in size order.
 */
int store_checkpoint_put(struct store *s, uint64_t size, const char *note, char **errmsg) CU_WUR;
int store_checkpoint_latest(struct store *s, uint64_t *size, char **note, char **errmsg) CU_WUR;
typedef int (*store_checkpoint_cb)(void *ctx, uint64_t size, const char *note);
int store_checkpoint_scan(struct store *s, store_checkpoint_cb cb, void *ctx, char **errmsg) CU_WUR;

/*
 * --- Staff accounts ------------------------------------------------------
 *
 * The password is an Argon2id hash string (vault_password_hash); the TOTP
 * secret is sealed by the vault (vault_secret_seal).  Strings and buffers
 * are owned by the struct.
 */
struct store_staff {
    char *username;
    char *role;
    char *store;
    char *password_hash;
    struct buf totp_sealed;
    int64_t totp_last_step; /* -1: no code used yet */
    int must_change_password;
    int suspended;
    int failed_logins;
    int64_t locked_until;
    int64_t created_at;
    int64_t updated_at;
};
void store_staff_init(struct store_staff *st);
void store_staff_release(struct store_staff *st);
/* create: insert, CU_ERR_CONFLICT if the username exists; otherwise update
 * every column of the existing account, CU_ERR_NOT_FOUND if there is none. */
int store_staff_put(struct store *s, const struct store_staff *st, int create,
                    char **errmsg) CU_WUR;
/* Reads an account into `out` (released first); CU_ERR_NOT_FOUND.
 * store_staff_lock() reads it inside a transaction and keeps other writers
 * of the account waiting until the transaction ends (PostgreSQL: FOR
 * UPDATE; SQLite: the write transaction excludes every other). */
int store_staff_get(struct store *s, const char *username, struct store_staff *out,
                    char **errmsg) CU_WUR;
int store_staff_lock(struct store *s, const char *username, struct store_staff *out,
                     char **errmsg) CU_WUR;
/* Calls cb for every account in username order; a non-zero return stops. */
typedef int (*store_staff_cb)(void *ctx, const struct store_staff *st);
int store_staff_list(struct store *s, store_staff_cb cb, void *ctx, char **errmsg) CU_WUR;

/*
 * --- Sessions and log-in throttling ---------------------------------------
 *
 * A session is stored under the keyed hash of its bearer token (the token
 * itself is never stored).  Times are Unix seconds.
 */
struct store_session {
    unsigned char token_hash[32];
    char *username;
    int64_t created_at;
    int64_t last_seen;
    int64_t expires_at; /* absolute expiry */
};
void store_session_release(struct store_session *ss);
int store_session_put(struct store *s, const struct store_session *ss, char **errmsg) CU_WUR;
/* The session and its account, read together (every authenticated request
 * needs both); CU_ERR_NOT_FOUND when there is no such session or account.
 * `out` and `staff` are released first. */
int store_session_get(struct store *s, const unsigned char token_hash[32],
                      struct store_session *out, struct store_staff *staff, char **errmsg) CU_WUR;
int store_session_touch(struct store *s, const unsigned char token_hash[32], int64_t last_seen,
                        char **errmsg) CU_WUR;
int store_session_delete(struct store *s, const unsigned char token_hash[32], char **errmsg) CU_WUR;
/* Revokes every session of a staff member (suspension, credential reset). */
int store_session_delete_user(struct store *s, const char *username, char **errmsg) CU_WUR;

/* Failed log-ins per client address: count in the current window and a
 * lock-out end.  get: zeros when unknown. */
int store_throttle_get(struct store *s, const char *client, int64_t *failures,
                       int64_t *window_start, int64_t *locked_until, char **errmsg) CU_WUR;
int store_throttle_put(struct store *s, const char *client, int64_t failures, int64_t window_start,
                       int64_t locked_until, char **errmsg) CU_WUR;

/*
 * --- Cases ----------------------------------------------------------------
 *
 * A case binds one staff member (the requester) to one customer for one
 * purpose.  `status` is a stored state name (policy_case_state_name():
 * awaiting_verification, pending_approval, verified, approved, closed);
 * expiry is not stored as a state but read from expires_at.  The one-time
 * code is kept only as a keyed hash.  Strings owned by the struct.
 */
struct store_case {
    char *id;
    char *purpose;
    char *customer_id;
    char *requester;
    char *requester_role;
    char *store;
    char *status;
    char *reason;   /* investigations: why (never a personal value); may be NULL */
    char *approver; /* who approved, or NULL */
    int has_code;
    unsigned char code_hash[32];
    int64_t code_expires_at;
    int code_tries; /* wrong or right codes tried so far */
    int64_t created_at;
    int64_t updated_at;
    int64_t expires_at;
    char *cosigned_by;    /* the supervisor whose co-sign allows step-ups, or NULL */
    int64_t cosign_until; /* ... until then */
};
void store_case_init(struct store_case *c);
void store_case_release(struct store_case *c);
/* create: insert (CU_ERR_CONFLICT if the id exists); otherwise update every
 * mutable column (status, approver, code, tries, updated_at). */
int store_case_put(struct store *s, const struct store_case *c, int create, char **errmsg) CU_WUR;
/* CU_ERR_NOT_FOUND when there is no such case; `out` is released first. */
int store_case_get(struct store *s, const char *id, struct store_case *out, char **errmsg) CU_WUR;
/*
 * Takes one code try atomically (two requests at once cannot both take the
 * last): adds 1 to code_tries if it is below `max` and stores the new count
 * in *tries.  CU_ERR_LIMIT (tries left as they were) when none is left.
 */
int store_case_take_try(struct store *s, const char *id, int max, int *tries, char **errmsg) CU_WUR;
/* The cases with stored `status`, oldest first, at most `limit`; the case
 * is valid during the call only; a non-zero return from cb stops. */
typedef int (*store_case_cb)(void *ctx, const struct store_case *c);
int store_case_list(struct store *s, const char *status, size_t limit, store_case_cb cb, void *ctx,
                    char **errmsg) CU_WUR;

/*
 * --- Outbox ----------------------------------------------------------------
 *
 * Messages to customers.  `sealed` holds the recipient and the text,
 * sealed by the vault (vault_secret_seal); the rest is not personal.
 * `status`: "pending" (a transport will deliver it), "sent", "failed".
 */
struct store_message {
    int64_t id;
    char *customer_id;
    char *case_id; /* or NULL */
    char *channel; /* "sms" or "email" */
    struct buf sealed;
    char *status;
    int attempts;
    int64_t next_attempt_at;
    char *last_error; /* or NULL */
    int64_t created_at;
    int64_t delivered_at; /* 0 until sent */
};
void store_message_init(struct store_message *m);
void store_message_release(struct store_message *m);
/* Adds a message; its new id goes to *id. */
int store_outbox_add(struct store *s, const struct store_message *m, int64_t *id,
                     char **errmsg) CU_WUR;
typedef int (*store_message_cb)(void *ctx, const struct store_message *m);
/* Messages with id > after_id in id order, at most `limit`; with `due` > 0,
 * only pending ones whose next_attempt_at <= due.  A non-zero return from
 * cb stops. */
int store_outbox_scan(struct store *s, int64_t after_id, int64_t due, size_t limit,
                      store_message_cb cb, void *ctx, char **errmsg) CU_WUR;
/* Records a delivery attempt's outcome: status, attempts, next_attempt_at,
 * last_error (NULL clears) and delivered_at. */
int store_outbox_mark(struct store *s, const struct store_message *m, char **errmsg) CU_WUR;
/* Retention: deletes up to `limit` messages created before `before` that
 * are no longer pending (sent or failed), oldest first; *deleted gets how
 * many.  Pending messages stay until delivered or given up. */
int store_outbox_expire(struct store *s, int64_t before, size_t limit, size_t *deleted,
                        char **errmsg) CU_WUR;

/*
 * --- Insider detection -------------------------------------------------------
 *
 * Counters per staff member, metric and time bucket: `metric` is the
 * detector's metric times 4 plus the bucket size (0 minute, 1 hour, 2 day),
 * `bucket` the Unix time divided by that size.  store_detect_add() adds to
 * them (creating rows) and is called inside the audit commit that records
 * what they count; store_detect_rows() reads a staff member's rows;
 * store_detect_prune() deletes their rows older than first_kept[size].
 * Alerts are stored for the security team ("open", then "acked").
 */
struct store_count {
    const char *staff;
    int metric;
    int64_t bucket;
    int64_t n;
};
int store_detect_add(struct store *s, const struct store_count *c, size_t n, char **errmsg) CU_WUR;
typedef int (*store_count_cb)(void *ctx, const struct store_count *c);
int store_detect_rows(struct store *s, const char *staff, store_count_cb cb, void *ctx,
                      char **errmsg) CU_WUR;
int store_detect_prune(struct store *s, const char *staff, const int64_t first_kept[3],
                       char **errmsg) CU_WUR;

struct store_alert {
    int64_t id;
    int64_t created_at;
    const char *staff;
    const char *rule;
    const char *severity; /* "warning", "high", "critical" */
    const char *detail;   /* the evidence; never a personal value */
    int64_t audit_index;  /* the audit entry that raised it, or -1 */
    const char *status;   /* "open", "acked" */
    const char *acked_by; /* or NULL */
    int64_t acked_at;
    const char *evidence; /* the audit indexes involved, as a JSON array; or NULL */
};
/* Adds an open alert (status, acked_* ignored); its id goes to *id. */
int store_alert_add(struct store *s, const struct store_alert *a, int64_t *id,
                    char **errmsg) CU_WUR;
/* Newest first, only `status` unless NULL; strings valid during the call. */
typedef int (*store_alert_cb)(void *ctx, const struct store_alert *a);
int store_alert_list(struct store *s, const char *status, size_t limit, store_alert_cb cb,
                     void *ctx, char **errmsg) CU_WUR;
/* CU_ERR_NOT_FOUND when there is no such open alert. */
int store_alert_ack(struct store *s, int64_t id, const char *by, int64_t at, char **errmsg) CU_WUR;

/* Canary customers, known by their keyed tag only (vault_canary_tag). */
int store_canary_add(struct store *s, const unsigned char tag[16], char **errmsg) CU_WUR;
int store_canary_has(struct store *s, const unsigned char tag[16], int *has, char **errmsg) CU_WUR;

/* The detector's recent look-up neighbourhoods (keyed hashes, never an
 * identifier): added in the audit commit, each with an id that grows in
 * commit order (so a reader can ask for only the rows after the last it
 * read); read: those after id `after` (0: all) from time `since`, the
 * newest `limit` of them, in id order; pruned before `before`. */
struct store_recent {
    const char *staff;
    int64_t t;
    const void *key;
    size_t len;
};
int store_recent_add(struct store *s, const struct store_recent *r, size_t n, char **errmsg) CU_WUR;
typedef int (*store_recent_cb)(void *ctx, int64_t id, int64_t t, const void *key, size_t len);
int store_recent_rows(struct store *s, const char *staff, int64_t after, int64_t since,
                      size_t limit, store_recent_cb cb, void *ctx, char **errmsg) CU_WUR;
int store_recent_prune(struct store *s, const char *staff, int64_t before, char **errmsg) CU_WUR;

/* Every active staff account with `role` at `store`, with its counter
 * `metric` in `bucket` (n 0 when it has none): the peer baseline. */
int store_detect_peers(struct store *s, const char *role, const char *store, int metric,
                       int64_t bucket, store_count_cb cb, void *ctx, char **errmsg) CU_WUR;

/* A store's total of counter `metric` per bucket, from bucket `from` on
 * (all its staff's rows): the store baseline. */
int store_detect_store_days(struct store *s, const char *store, int metric, int64_t from,
                            store_count_cb cb, void *ctx, char **errmsg) CU_WUR;

/*
 * --- Erasure ---------------------------------------------------------------
 *
 * store_customer_erase() deletes everything the store keeps of one
 * customer, all or nothing (in the caller's transaction if one is open, or
 * in its own): the customer row (wrapped data key, every sealed field, the
 * devices), its blind-index entries, and every outbox message to them
 * (sealed with a master-derived key, not theirs, so they must go too).  It
 * closes their cases that are not closed yet and records a tombstone: the
 * customer id and erased_at (0: now), nothing personal.  *res counts what
 * went.  CU_ERR_NOT_FOUND when there is no such customer (an erased one
 * included: store_erased_get() tells them apart).  Deleted content is
 * overwritten in the database's pages (SQLite: secure_delete); older
 * copies may remain in the back end's log until store_scrub().
 */
struct store_erase_result {
    int64_t blind;    /* blind-index entries deleted */
    int64_t messages; /* outbox messages deleted */
    int64_t cases;    /* cases closed */
};
int store_customer_erase(struct store *s, const char *customer_id, int64_t erased_at,
                         struct store_erase_result *res, char **errmsg) CU_WUR;
/* When `customer_id` was erased: CU_OK and *erased_at, or CU_ERR_NOT_FOUND
 * when it never was. */
int store_erased_get(struct store *s, const char *customer_id, int64_t *erased_at,
                     char **errmsg) CU_WUR;
/*
 * Makes deletions reach the files so that a copy of them taken afterwards
 * holds nothing deleted.  SQLite: a TRUNCATE checkpoint (every frame of
 * the write-ahead log copied into the database file, the log cut to zero
 * bytes).  *complete is 0 when other connections kept part of the log in
 * use past the busy timeout (run it again later).  Not inside a
 * transaction (CU_ERR_INTERNAL).
 */
int store_scrub(struct store *s, int *complete, char **errmsg) CU_WUR;

/*
 * --- The customer portal -------------------------------------------------
 *
 * Sign-in codes (one per customer, as a keyed hash), customer sessions
 * (under the keyed hash of the token), the notice setting (daily digest or
 * not) and pending access notices.
 *
 * subject_code_put replaces the customer's code (tries back to 0);
 * get: CU_ERR_NOT_FOUND when there is none; take: takes one try
 * atomically (two requests at once cannot both take the last) and returns
 * the code with the new count, CU_ERR_NOT_FOUND when there is no code,
 * CU_ERR_LIMIT when `max` tries are taken already.
 * subject_session_get: *customer_id a new string; CU_ERR_NOT_FOUND.
 * subject_digest_get: 0 unless set.
 * notice_add: `n` pending notices, each for the allowed reveal at its
 * audit_index (an add for an index already pending is ignored), in one
 * statement; written by the audit commit hook, under the audit lock.
 * notice_scan: pending notices with audit_index >= from, of one customer
 * (or all with NULL), in index order, at most `limit`; a non-zero return
 * from cb stops; cb may use the store.  notice_delete: CU_ERR_NOT_FOUND
 * when there is no such notice (another server sent it: deleting first is
 * how a sender claims a notice).
 */
struct store_subject_code {
    unsigned char hash[32];
    int64_t sent_at;
    int64_t expires_at;
    int tries;
};
int store_subject_code_put(struct store *s, const char *customer_id, const unsigned char hash[32],
                           int64_t sent_at, int64_t expires_at, char **errmsg) CU_WUR;
int store_subject_code_get(struct store *s, const char *customer_id, struct store_subject_code *c,
                           char **errmsg) CU_WUR;
int store_subject_code_take(struct store *s, const char *customer_id, int max,
                            struct store_subject_code *c, char **errmsg) CU_WUR;
int store_subject_code_delete(struct store *s, const char *customer_id, char **errmsg) CU_WUR;
int store_subject_session_put(struct store *s, const unsigned char token_hash[32],
                              const char *customer_id, int64_t created_at, int64_t expires_at,
                              char **errmsg) CU_WUR;
int store_subject_session_get(struct store *s, const unsigned char token_hash[32],
                              char **customer_id, int64_t *expires_at, char **errmsg) CU_WUR;
int store_subject_session_delete(struct store *s, const unsigned char token_hash[32],
                                 char **errmsg) CU_WUR;
int store_subject_digest_get(struct store *s, const char *customer_id, int *daily,
                             char **errmsg) CU_WUR;
int store_subject_digest_put(struct store *s, const char *customer_id, int daily,
                             char **errmsg) CU_WUR;
struct store_notice {
    uint64_t audit_index;
    const char *customer_id;
    int64_t created_at;
};
int store_notice_add(struct store *s, const struct store_notice *notices, size_t n,
                     char **errmsg) CU_WUR;
typedef int (*store_notice_cb)(void *ctx, uint64_t audit_index, const char *customer_id,
                               int64_t created_at);
int store_notice_scan(struct store *s, const char *customer_id, uint64_t from, size_t limit,
                      store_notice_cb cb, void *ctx, char **errmsg) CU_WUR;
int store_notice_delete(struct store *s, uint64_t audit_index, char **errmsg) CU_WUR;

/*
 * Customers' erasure requests ("E-" ids): status "pending", then "erased"
 * or "refused" with who decided and when.  put inserts or updates status
 * and decision; list calls cb with the requests that match every non-NULL
 * filter (id, status, customer), oldest first (strings valid during the
 * call only; a non-zero return stops).
 */
struct store_erasure {
    const char *id;
    const char *customer_id;
    const char *status;
    int64_t requested_at;
    const char *decided_by; /* or NULL */
    int64_t decided_at;     /* 0 while pending */
};
int store_erasure_put(struct store *s, const struct store_erasure *r, char **errmsg) CU_WUR;
/* Every erased customer id (the tombstones), in id order; a non-zero
 * return from cb stops. */
typedef int (*store_erased_cb)(void *ctx, const char *customer_id);
int store_erased_scan(struct store *s, store_erased_cb cb, void *ctx, char **errmsg) CU_WUR;
typedef int (*store_erasure_cb)(void *ctx, const struct store_erasure *r);
int store_erasure_list(struct store *s, const char *id, const char *status, const char *customer_id,
                       store_erasure_cb cb, void *ctx, char **errmsg) CU_WUR;

#endif
