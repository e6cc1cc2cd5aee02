/*
 * Private interface between store.c (the dispatcher) and the back ends.
 * Each back end provides one `struct store_ops` and embeds `struct store`
 * as the first member of its own handle.  Every op has the meaning of the
 * public function of the same name in store.h.
 */
#ifndef CU_STORE_INT_H
#define CU_STORE_INT_H

#include "store.h"

/* store_customer_insert of an erased id (CU_ERR_INVALID), in both back ends. */
#define ERASED_AGAIN "the customer was erased, and an erased id is never stored again"

struct store_ops {
    const char *name;
    void (*free)(struct store *s);
    int (*schema_version)(struct store *s);
    int (*begin)(struct store *s, char **errmsg);
    int (*commit)(struct store *s, char **errmsg);
    void (*rollback)(struct store *s);
    void (*reads_begin)(struct store *s); /* NULL: reads are not grouped */
    void (*reads_end)(struct store *s);
    int (*commits_relaxed)(struct store *s, char **errmsg);
    int (*checkpoint)(struct store *s, char **errmsg); /* NULL: nothing to do */
    int (*meta_get)(struct store *s, const char *key, char **value, char **errmsg);
    int (*meta_set)(struct store *s, const char *key, const char *value, char **errmsg);
    int (*kek_list)(struct store *s, struct store_kek **out, size_t *n, char **errmsg);
    int (*kek_put)(struct store *s, const struct store_kek *k, char **errmsg);
    int (*customer_insert)(struct store *s, struct store_customer *c, char **errmsg);
    int (*customer_replace)(struct store *s, struct store_customer *c, char **errmsg);
    int (*customer_get)(struct store *s, const char *customer_id, int64_t id,
                        struct store_customer *c, char **errmsg);
    int (*customer_count)(struct store *s, int64_t *n, char **errmsg);
    int (*blind_find)(struct store *s, uint8_t kind, uint64_t hash, int64_t *ids, size_t max,
                      size_t *n, char **errmsg);
    int (*dek_scan)(struct store *s, uint32_t kek_version, int64_t after_id, size_t limit,
                    store_dek_cb cb, void *ctx, char **errmsg);
    int (*dek_update)(struct store *s, int64_t id, uint32_t kek_version, const void *wrapped,
                      size_t len, char **errmsg);
    int (*kek_usage)(struct store *s, uint32_t kek_version, int64_t *n, char **errmsg);
    int (*kek_hold)(struct store *s, uint32_t *active, char **errmsg);
    int (*audit_append)(struct store *s, const struct store_audit_row *rows, size_t n,
                        char **errmsg);
    int (*audit_size)(struct store *s, uint64_t *size, char **errmsg);
    int (*audit_scan)(struct store *s, uint64_t start, uint64_t end, store_audit_cb cb, void *ctx,
                      char **errmsg);
    int (*audit_find)(struct store *s, const char *actor, const unsigned char *subject,
                      size_t subject_len, size_t limit, store_audit_cb cb, void *ctx,
                      char **errmsg);
    int (*audit_index)(struct store *s, size_t max, uint64_t *watermark, char **errmsg);
    int (*tile_put)(struct store *s, unsigned level, uint64_t index, const void *hashes, size_t len,
                    char **errmsg);
    int (*tile_get)(struct store *s, unsigned level, uint64_t index, struct buf *out,
                    char **errmsg);
    int (*checkpoint_put)(struct store *s, uint64_t size, const char *note, char **errmsg);
    int (*checkpoint_latest)(struct store *s, uint64_t *size, char **note, char **errmsg);
    int (*checkpoint_scan)(struct store *s, store_checkpoint_cb cb, void *ctx, char **errmsg);
    int (*staff_put)(struct store *s, const struct store_staff *st, int create, char **errmsg);
    int (*staff_get)(struct store *s, const char *username, struct store_staff *out, char **errmsg);
    int (*staff_lock)(struct store *s, const char *username, struct store_staff *out,
                      char **errmsg);
    int (*staff_list)(struct store *s, store_staff_cb cb, void *ctx, char **errmsg);
    int (*session_put)(struct store *s, const struct store_session *ss, char **errmsg);
    int (*session_get)(struct store *s, const unsigned char token_hash[32],
                       struct store_session *out, struct store_staff *staff, char **errmsg);
    int (*session_touch)(struct store *s, const unsigned char token_hash[32], int64_t last_seen,
                         char **errmsg);
    int (*session_delete)(struct store *s, const unsigned char token_hash[32], char **errmsg);
    int (*session_delete_user)(struct store *s, const char *username, char **errmsg);
    int (*throttle_get)(struct store *s, const char *client, int64_t *failures,
                        int64_t *window_start, int64_t *locked_until, char **errmsg);
    int (*throttle_put)(struct store *s, const char *client, int64_t failures, int64_t window_start,
                        int64_t locked_until, char **errmsg);
    int (*case_put)(struct store *s, const struct store_case *c, int create, char **errmsg);
    int (*case_get)(struct store *s, const char *id, struct store_case *out, char **errmsg);
    int (*case_take_try)(struct store *s, const char *id, int max, int *tries, char **errmsg);
    int (*case_list)(struct store *s, const char *status, size_t limit, store_case_cb cb, void *ctx,
                     char **errmsg);
    int (*outbox_add)(struct store *s, const struct store_message *m, int64_t *id, char **errmsg);
    int (*outbox_scan)(struct store *s, int64_t after_id, int64_t due, size_t limit,
                       store_message_cb cb, void *ctx, char **errmsg);
    int (*outbox_mark)(struct store *s, const struct store_message *m, char **errmsg);
    int (*outbox_expire)(struct store *s, int64_t before, size_t limit, size_t *deleted,
                         char **errmsg);
    int (*detect_add)(struct store *s, const struct store_count *c, size_t n, char **errmsg);
    int (*detect_rows)(struct store *s, const char *staff, store_count_cb cb, void *ctx,
                       char **errmsg);
    int (*detect_prune)(struct store *s, const char *staff, const int64_t first_kept[3],
                        char **errmsg);
    int (*alert_add)(struct store *s, const struct store_alert *a, int64_t *id, char **errmsg);
    int (*alert_list)(struct store *s, const char *status, size_t limit, store_alert_cb cb,
                      void *ctx, char **errmsg);
    int (*alert_ack)(struct store *s, int64_t id, const char *by, int64_t at, char **errmsg);
    int (*canary)(struct store *s, const unsigned char tag[16], int add, int *has, char **errmsg);
    int (*recent_add)(struct store *s, const struct store_recent *r, size_t n, char **errmsg);
    int (*recent_rows)(struct store *s, const char *staff, int64_t after, int64_t since,
                       size_t limit, store_recent_cb cb, void *ctx, char **errmsg);
    int (*recent_prune)(struct store *s, const char *staff, int64_t before, char **errmsg);
    int (*detect_peers)(struct store *s, const char *role, const char *store, int metric,
                        int64_t bucket, store_count_cb cb, void *ctx, char **errmsg);
    int (*detect_store_days)(struct store *s, const char *store, int metric, int64_t from,
                             store_count_cb cb, void *ctx, char **errmsg);
    /* erasure */
    int (*customer_erase)(struct store *s, const char *customer_id, int64_t erased_at,
                          struct store_erase_result *res, char **errmsg);
    int (*erased_get)(struct store *s, const char *customer_id, int64_t *erased_at, char **errmsg);
    int (*scrub)(struct store *s, int *complete, char **errmsg);
    /* the customer portal */
    int (*subject_code_put)(struct store *s, const char *customer_id, const unsigned char hash[32],
                            int64_t sent_at, int64_t expires_at, char **errmsg);
    int (*subject_code_get)(struct store *s, const char *customer_id, struct store_subject_code *c,
                            char **errmsg);
    int (*subject_code_take)(struct store *s, const char *customer_id, int max,
                             struct store_subject_code *c, char **errmsg);
    int (*subject_code_delete)(struct store *s, const char *customer_id, char **errmsg);
    int (*subject_session_put)(struct store *s, const unsigned char token_hash[32],
                               const char *customer_id, int64_t created_at, int64_t expires_at,
                               char **errmsg);
    int (*subject_session_get)(struct store *s, const unsigned char token_hash[32],
                               char **customer_id, int64_t *expires_at, char **errmsg);
    int (*subject_session_delete)(struct store *s, const unsigned char token_hash[32],
                                  char **errmsg);
    int (*subject_digest_get)(struct store *s, const char *customer_id, int *daily, char **errmsg);
    int (*subject_digest_put)(struct store *s, const char *customer_id, int daily, char **errmsg);
    int (*notice_add)(struct store *s, const struct store_notice *notices, size_t n, char **errmsg);
    int (*notice_scan)(struct store *s, const char *customer_id, uint64_t from, size_t limit,
                       store_notice_cb cb, void *ctx, char **errmsg);
    int (*notice_delete)(struct store *s, uint64_t audit_index, char **errmsg);
    int (*erasure_put)(struct store *s, const struct store_erasure *r, char **errmsg);
    int (*erased_scan)(struct store *s, store_erased_cb cb, void *ctx, char **errmsg);
    int (*erasure_list)(struct store *s, const char *id, const char *status,
                        const char *customer_id, store_erasure_cb cb, void *ctx, char **errmsg);
};

struct store {
    const struct store_ops *ops;
};

/* SQLite back end: opens PATH (not a URL). */
int store_sqlite_open(struct store **out, const char *path, char **errmsg);
/* PostgreSQL back end (built when libpq is found: CU_STORE_PG): opens a
 * "postgres://" or "postgresql://" URL (store_pg.c). */
int store_pg_open(struct store **out, const char *url, char **errmsg);

/* Encoding of the blind list kept with each customer (so that replacing a
 * customer removes exactly its old entries): 9 bytes per entry, kind then
 * the hash big-endian.  Shared by all back ends.  encode replaces the
 * content of `out`; decode replaces c's blind list (its storage is reused)
 * and returns CU_ERR_INVALID when len is not a multiple of 9. */
void store_blind_encode(const struct store_customer *c, struct buf *out);
int store_blind_decode(struct store_customer *c, const void *data, size_t len);

#endif
