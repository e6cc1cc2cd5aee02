/*
 * The audit log: an append-only RFC 9162 Merkle log of every access to
 * customer data (and every refusal), with C2SP signed checkpoints and
 * inclusion and consistency proofs.
 *
 * Pieces:
 *   - entries: the canonical byte encoding of one event (the `leaf_input`);
 *   - the Merkle tree (RFC 9162 section 2.1, SHA-256): leaf hash
 *     SHA-256(0x00 || leaf_input), node hash SHA-256(0x01 || left || right);
 *     proofs as sections 2.1.3 (inclusion) and 2.1.4 (consistency);
 *   - hash storage in tiles (C2SP tlog-tiles layout: tile height 8, a tile
 *     at level L holds up to 256 hashes of the complete subtrees of height
 *     8L), so proofs read O(log n) stored hashes and never rehash the log;
 *   - checkpoints: C2SP tlog-checkpoint bodies signed as C2SP signed notes
 *     with Ed25519;
 *   - the writer (audit_log): one thread that group-commits entries from all
 *     callers, one transaction and one fsync per batch; a caller's append
 *     returns only once its entry is durable.
 *
 * Invariants kept here: entries are numbered 0, 1, 2 ... without gaps; a
 * stored entry, leaf hash or complete-subtree hash is never rewritten; every
 * stored checkpoint's root equals the root of the first `size` entries; a
 * leaf_input never holds a personal value (customers appear only as the
 * vault's keyed pseudonym).
 */
#ifndef CU_AUDIT_H
#define CU_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"

#define AUDIT_HASH_BYTES      32
#define AUDIT_TILE_HEIGHT     8
#define AUDIT_TILE_WIDTH      256
#define AUDIT_PSEUDONYM_BYTES 16
#define AUDIT_MAX_PROOF       64

/* --- entries ----------------------------------------------------------- */

enum audit_action {
    AUDIT_LOOKUP = 1,
    AUDIT_REVEAL,
    AUDIT_CASE_OPEN,
    AUDIT_CASE_VERIFY,
    AUDIT_CASE_APPROVE,
    AUDIT_CASE_CLOSE,
    AUDIT_LOGIN,
    AUDIT_LOGIN_FAILED,
    AUDIT_LOGOUT,
    AUDIT_PASSWORD_CHANGE,
    AUDIT_STAFF_ADD,
    AUDIT_STAFF_SUSPEND,
    AUDIT_STAFF_RESUME,
    AUDIT_STAFF_RESET,
    AUDIT_ALERT,
    AUDIT_EXPORT,
    AUDIT_ERASE,
    AUDIT_KEY_ROTATE,
    AUDIT_IMPORT,
    AUDIT_SUBJECT_LOGIN,
    AUDIT_SUBJECT_ACCESS,
    AUDIT_ACCESS_DENIED, /* a role called an endpoint it may not use */
    AUDIT_CASE_COSIGN,   /* a supervisor's co-sign for step-ups */
    AUDIT_ACTION__MAX
};

enum audit_decision {
    AUDIT_ALLOW = 1,
    AUDIT_DENY,
    AUDIT_STEP_UP,
    AUDIT_BLOCK,
};

/* "lookup", "reveal", "case_open", ...; NULL when out of range. */
const char *audit_action_name(int action);
int audit_action_from_name(const char *name); /* -1 if unknown */
/* "allow", "deny", "step_up", "block"; NULL when out of range. */
const char *audit_decision_name(int decision);
int audit_decision_from_name(const char *name);

/*
 * One event.  Strings are borrowed (the caller owns them) and may be NULL
 * (encoded as empty).  None may hold a personal value: a customer appears
 * only as `subject`, the vault's keyed pseudonym of their customer id.
 */
struct audit_entry {
    int64_t time_ms;   /* Unix time, milliseconds */
    int action;        /* enum audit_action */
    int decision;      /* enum audit_decision */
    const char *actor; /* staff username, or "operator:<unix user>" */
    const char *role;  /* actor's role ("operator" for the CLI) */
    const char *store; /* actor's store code */
    const char *case_id;
    int has_subject;
    unsigned char subject[AUDIT_PSEUDONYM_BYTES];
    const char *fields;  /* comma-separated field names, e.g. "name,phone" */
    const char *reasons; /* comma-separated reason codes */
    const char *request_id;
    const char *client; /* client address */
    const char *detail; /* short non-personal note (counts, key versions) */
    /* Not part of the entry (nor of its leaf): bytes handed with it to the
     * commit hook (audit_log_set_commit_hook), e.g. the detector's keyed
     * neighbourhood of a look-up.  Copied by append/submit. */
    const void *side;
    size_t side_len;
};

/*
 * Canonical encoding (the leaf_input), in the style of the TLS presentation
 * language (RFC 8446 section 3), all integers big-endian:
 *
 *   uint8  version = 1;
 *   uint64 time_ms;
 *   uint8  action;
 *   uint8  decision;
 *   opaque actor<0..255>;  opaque role<0..255>;  opaque store<0..255>;
 *   opaque case_id<0..255>;
 *   opaque subject<0..255>;        (empty, or the 16-byte pseudonym)
 *   opaque fields<0..65535>;   opaque reasons<0..65535>;
 *   opaque request_id<0..255>; opaque client<0..255>;
 *   opaque detail<0..65535>;
 *
 * <0..255> is a 1-byte length then the bytes; <0..65535> a 2-byte length.
 * Exactly one encoding per entry, so equal entries have equal leaves.
 * Appends to `out`; CU_ERR_INVALID if a string is too long for its field
 * (nothing appended then).
 */
int audit_entry_encode(const struct audit_entry *e, struct buf *out) CU_WUR;

/*
 * Decodes a leaf_input.  String members point into `scratch` (reset and
 * filled by the call), so they live as long as it does.  CU_ERR_INVALID on
 * any malformed input (wrong version, truncated, trailing bytes); a fuzz
 * target.
 */
int audit_entry_decode(const void *leaf, size_t len, struct audit_entry *e,
                       struct buf *scratch) CU_WUR;

/* --- Merkle tree (RFC 9162) ----------------------------------------------- */

void audit_leaf_hash(const void *leaf, size_t len, unsigned char out[AUDIT_HASH_BYTES]);
void audit_node_hash(const unsigned char left[AUDIT_HASH_BYTES],
                     const unsigned char right[AUDIT_HASH_BYTES],
                     unsigned char out[AUDIT_HASH_BYTES]);
/* SHA-256 of the empty string: the root of the empty tree. */
void audit_empty_root(unsigned char out[AUDIT_HASH_BYTES]);

/*
 * The compact range [0, size): the roots of the complete subtrees that
 * make up a tree of `size` leaves, largest first (one per set bit of size).
 * Appending a leaf hash is amortised O(1); the root is O(log n).
 */
struct audit_range {
    uint64_t size;
    unsigned nhashes;
    unsigned char hashes[64][AUDIT_HASH_BYTES];
};
void audit_range_init(struct audit_range *r);
/*
 * Appends one leaf hash.  If `done` is not NULL, it is called for each
 * complete subtree the append finishes: (level, index, hash), level 0 being
 * the leaf itself, index the subtree's position within its level.
 */
typedef void (*audit_subtree_fn)(void *ctx, unsigned level, uint64_t index,
                                 const unsigned char hash[AUDIT_HASH_BYTES]);
void audit_range_append(struct audit_range *r, const unsigned char leaf_hash[AUDIT_HASH_BYTES],
                        audit_subtree_fn done, void *ctx);
/*
 * Appends a complete subtree of 2^level leaves with the given hash; the
 * range's size must be a multiple of 2^level.  `done` is called as above,
 * from `level` up (the caller reports the subtree's own inner subtrees).
 */
void audit_range_append_subtree(struct audit_range *r, unsigned level,
                                const unsigned char hash[AUDIT_HASH_BYTES], audit_subtree_fn done,
                                void *ctx);
void audit_range_root(const struct audit_range *r, unsigned char out[AUDIT_HASH_BYTES]);

/*
 * Proofs from stored hashes.  `get` returns the hash of the complete
 * subtree at (level, index), i.e. covering leaves [index * 2^level,
 * (index + 1) * 2^level); it must only be asked for subtrees wholly inside
 * the tree, and returns CU_OK or an error that is passed up.  The proof
 * functions ask for O(log n) such hashes (an incomplete right edge is built
 * from its complete parts).
 */
typedef int (*audit_hash_fn)(void *ctx, unsigned level, uint64_t index,
                             unsigned char out[AUDIT_HASH_BYTES]);
/* The root of the first `size` leaves (size >= 1). */
int audit_root_at(uint64_t size, audit_hash_fn get, void *ctx,
                  unsigned char out[AUDIT_HASH_BYTES]) CU_WUR;
/* RFC 9162 2.1.3.1: inclusion proof of leaf `index` in the tree of `size`.
 * path[*n] receives the audit path, *n <= AUDIT_MAX_PROOF. */
int audit_inclusion_proof(uint64_t index, uint64_t size, audit_hash_fn get, void *ctx,
                          unsigned char path[][AUDIT_HASH_BYTES], unsigned *n) CU_WUR;
/* RFC 9162 2.1.4.1: consistency proof from `first` to `second` (0 < first <= second). */
int audit_consistency_proof(uint64_t first, uint64_t second, audit_hash_fn get, void *ctx,
                            unsigned char proof[][AUDIT_HASH_BYTES], unsigned *n) CU_WUR;

/* RFC 9162 2.1.3.2 and 2.1.4.2 verification: CU_OK or CU_ERR_INTEGRITY. */
int audit_verify_inclusion(uint64_t index, uint64_t size,
                           const unsigned char leaf_hash[AUDIT_HASH_BYTES],
                           const unsigned char path[][AUDIT_HASH_BYTES], unsigned n,
                           const unsigned char root[AUDIT_HASH_BYTES]) CU_WUR;
int audit_verify_consistency(uint64_t first, uint64_t second,
                             const unsigned char first_root[AUDIT_HASH_BYTES],
                             const unsigned char second_root[AUDIT_HASH_BYTES],
                             const unsigned char proof[][AUDIT_HASH_BYTES], unsigned n) CU_WUR;

/* --- checkpoints (C2SP tlog-checkpoint + signed-note, Ed25519) ------------ */

/*
 * The checkpoint body:
 *   <origin>\n<size in decimal>\n<base64 root hash>\n
 * audit_checkpoint_body() appends it to `out`.
 */
void audit_checkpoint_body(const char *origin, uint64_t size,
                           const unsigned char root[AUDIT_HASH_BYTES], struct buf *out);

/*
 * Parses a signed note holding a checkpoint: the body, a blank line, and
 * signature lines "— <name> <base64(key id || signature)>".  On success
 * fills origin (a new string), size and root, and the first signature made
 * by the key with `key_name` and `key_id` into sig (64 bytes) with *body_len
 * the number of signed bytes (the body with its final newline).
 * CU_ERR_INVALID on malformed text; CU_ERR_NOT_FOUND when no signature line
 * is by that key.
 */
int audit_checkpoint_parse(const char *note, size_t len, const char *key_name,
                           const unsigned char key_id[4], char **origin, uint64_t *size,
                           unsigned char root[AUDIT_HASH_BYTES], unsigned char sig[64],
                           size_t *body_len) CU_WUR;

/*
 * The C2SP signed-note key id of an Ed25519 key:
 * SHA-256(name || 0x0A || 0x01 || public key)[0:4].
 */
void audit_key_id(const char *name, const unsigned char pk[32], unsigned char out[4]);
/* The verifier key "<name>+<8 hex of key id>+<base64(0x01 || public key)>". */
char *audit_vkey(const char *name, const unsigned char pk[32]);
/* Appends the signature line "— <name> <base64(key id || sig)>\n". */
void audit_signature_line(const char *name, const unsigned char key_id[4],
                          const unsigned char sig[64], struct buf *out);

/* --- stored hashes (tiles.c) ---------------------------------------------- */

struct store;
struct vault;

/*
 * Reads complete-subtree hashes from the stored tiles: an audit_hash_fn
 * (pass the reader as ctx).  A subtree of height 8L is one entry of a
 * level-L tile; a subtree of height 8L + r (0 < r < 8) is hashed from the
 * 2^r level-L entries under it, all in one tile.  The last tile read is
 * cached.  CU_ERR_NOT_FOUND if a needed tile or entry is missing.
 */
struct audit_reader {
    struct store *store;
    struct buf tile;
    unsigned level;
    uint64_t index;
    int cached;
};
void audit_reader_init(struct audit_reader *r, struct store *s);
void audit_reader_release(struct audit_reader *r);
int audit_reader_get(void *ctx, unsigned level, uint64_t index,
                     unsigned char out[AUDIT_HASH_BYTES]) CU_WUR;

/* The default origin line of a log signed by `pk`: "custodian/<8 hex of SHA-256(pk)>". */
char *audit_default_origin(const unsigned char pk[32]);

/* --- the writer (log.c) ----------------------------------------------------- */

struct audit_log;

/*
 * Opens the log writer on its own store connection to `store_url`, loads
 * the tree's right edge from the stored tiles, and starts the group-commit
 * thread.  Checkpoints are signed with the vault's audit key under
 * `origin`.  The caller frees it with audit_log_close().
 */
int audit_log_open(struct audit_log **out, const char *store_url, struct vault *v,
                   const char *origin, char **errmsg) CU_WUR;
/* Waits for pending appends, signs a checkpoint if the last one is older
 * than the log, stops the thread and frees the log. */
void audit_log_close(struct audit_log *log);

/*
 * Queues one entry without waiting.  CU_OK: `done` will be called exactly
 * once, from the writer thread, when the entry is durable (rc CU_OK and its
 * leaf index) or has failed (rc and a message, borrowed for the call); the
 * data the entry records may be released only from a successful `done`.
 * `done` must be quick and must not call into the log.  Any other return:
 * the entry could not be queued and `done` is never called.  The entry's
 * strings are copied; `e` may go away when this returns.
 */
typedef void (*audit_done_fn)(void *ctx, int rc, uint64_t index, const char *errmsg);
int audit_log_submit(struct audit_log *log, const struct audit_entry *e, audit_done_fn done,
                     void *ctx, char **errmsg) CU_WUR;

/*
 * Appends one entry and returns once it is durable (committed with its
 * tiles, and a checkpoint if one was due), with its leaf index in *index.
 * Many threads may call it at once; their entries share transactions.
 * Fails closed: on any error (CU_ERR_STORE, CU_ERR_INVALID for an entry
 * that cannot be encoded) the entry is not in the log and the caller must
 * not release the data it was recording.
 */
int audit_log_append(struct audit_log *log, const struct audit_entry *e, uint64_t *index,
                     char **errmsg) CU_WUR;

/*
 * A hook run inside each batch's transaction, after its entries are
 * appended and before the commit, with what the batch's entries record:
 * for state that must change in the same commit as the entries that
 * record it (the insider detector's counters), so that no crash, restart
 * or second process can separate them.  An error rolls the whole batch
 * back and its callers get it (fail closed).  Runs on the writer's thread
 * with the writer's store connection `s`.
 */
struct audit_committed {
    uint64_t index;
    int64_t time_ms;
    const char *actor;
    int action;
    int decision;
    const char *fields;  /* "name,phone" or NULL */
    const char *reasons; /* reason codes or NULL */
    const void *side;    /* the entry's side bytes (struct audit_entry), or NULL */
    size_t side_len;
};
struct store;
typedef int (*audit_commit_fn)(void *ctx, struct store *s, const struct audit_committed *e,
                               size_t n, char **errmsg);
/* Sets the hook; call before the first append. */
void audit_log_set_commit_hook(struct audit_log *log, audit_commit_fn fn, void *ctx);

/* What the writer has done since it opened (for /metrics). */
struct audit_log_stats {
    uint64_t entries;   /* appended and durable */
    uint64_t batches;   /* transactions committed (one fsync each) */
    uint64_t failures;  /* batches that failed (their callers were refused) */
    uint64_t size;      /* the log's size */
    uint64_t caught_up; /* other writers' entries hashed into the tree state */
    uint64_t reloads;   /* tree states rebuilt from the stored tiles instead */
};
void audit_log_stats(struct audit_log *log, struct audit_log_stats *out);

/*
 * Makes sure a signed checkpoint exists for the log's current size and
 * returns it (*note, a new string).  The size is the store's, read inside
 * the checkpoint's transaction (under the log's lock on PostgreSQL): it
 * includes what other writers (another server, a CLI command) appended, so
 * the returned checkpoint is never older than one they stored before the
 * call.  On failure the writer's state is left as the store holds it.
 */
int audit_log_checkpoint(struct audit_log *log, char **note, char **errmsg) CU_WUR;

/* --- verification (verify.c) ------------------------------------------------ */

struct audit_verify_result {
    uint64_t entries;     /* entries read */
    uint64_t checkpoints; /* checkpoints checked */
    int ok;
    uint64_t bad_index; /* the first bad entry index when !ok */
    char *problem;      /* what is wrong, when !ok (a new string) */
    double seconds;
};

/*
 * Recomputes the whole log from the stored entries: every entry decodes, the
 * indexes have no gap, each row's actor and subject columns (which look-ups
 * search by) are the ones its leaf holds, every stored tile hash equals the
 * recomputed one, and
 * every stored checkpoint is signed by `pk` for `origin` and has the
 * recomputed root at its size.  *res says what was checked and the first bad
 * index.  Returns CU_OK when the verification ran (look at res->ok), or an
 * error when the store could not be read.  The caller frees res->problem.
 */
int audit_verify(struct store *s, const unsigned char pk[32], const char *origin,
                 struct audit_verify_result *res, char **errmsg) CU_WUR;

#endif
