/*
 * Private helpers shared by the service's use-case files.
 */
#ifndef CU_SERVICE_INT_H
#define CU_SERVICE_INT_H

#include "service.h"
#include "../store/store.h"
#include "../vault/vault.h"

/*
 * Seals a normalised record for storage: a fresh data key wrapped under the
 * active KEK, every present personal field sealed with dek_version, and the
 * blind-index entries of every identifier.  `out` is reset first.
 */
int service_seal(struct service *svc, const struct model_customer *m, uint32_t dek_version,
                 struct store_customer *out, char **errmsg) CU_WUR;

/*
 * Opens a stored record into `m` (initialised, empty): unwraps the data key
 * and opens the sealed fields in the set `fields` (SERVICE_FIELD; the
 * others are left out).  Fails closed: any integrity error leaves `m`
 * empty.
 */
int service_unseal(struct service *svc, const struct store_customer *s, unsigned fields,
                   struct model_customer *m, char **errmsg) CU_WUR;

/* One audited event about customer data (or a refusal); NULL strings are
 * left out of the entry.  `customer_id` becomes the keyed pseudonym. */
struct service_access {
    int action;   /* enum audit_action */
    int decision; /* enum audit_decision */
    const char *customer_id;
    const char *case_id;
    const char *fields;  /* "name,phone" */
    const char *reasons; /* reason codes, e.g. "case-not-verified" */
    const char *detail;
    const void *side; /* for the commit hook, not the entry (struct audit_entry) */
    size_t side_len;
};
/* Writes the entry as `who` and waits until it is durable; its index goes
 * to *index when not NULL. */
int service_audit_access(struct service *svc, const struct service_actor *who,
                         const struct service_access *a, uint64_t *index, char **errmsg) CU_WUR;
/* The audit entry for `a` done by `who` now (borrowing their strings). */
struct audit_entry;
void service_audit_entry(struct service *svc, const struct service_actor *who,
                         const struct service_access *a, struct audit_entry *e);

/*
 * Held answers (held.c): an asynchronous use case's answer, delivered to
 * `done` only once every audit entry queued for it is durable, or replaced
 * by the audit error if one fails.
 *   h = service_hold(done, ctx);
 *   service_held_answer(h, rc, out, why, errmsg);               (takes them)
 *   service_held_entry(svc, h, who, &access, index_into_out);  (any number)
 *   service_held_release(h);   (then `done` runs when the entries are durable)
 * in that order: the answer is set before any entry can complete.
 * With index_into_out, the entry's leaf index is set in out as
 * "audit":{"leaf_index"} before delivery.
 */
struct service_held;
struct service_held *service_hold(service_done_fn done, void *ctx);
void service_held_entry(struct service *svc, struct service_held *h,
                        const struct service_actor *who, const struct service_access *a,
                        int index_into_out);
void service_held_answer(struct service_held *h, int rc, json_t *out, const char *why,
                         char *errmsg);
void service_held_release(struct service_held *h);

/* Waiting for a `done` (the synchronous forms of asynchronous use cases). */
#include <semaphore.h>
struct service_wait {
    sem_t sem;
    int rc;
    json_t *out;
    const char *why;
    char *errmsg;
};
void service_wait_init(struct service_wait *w);
void service_wait_done(void *ctx, int rc, json_t *out, const char *why, char *errmsg);
/* Waits, then hands over the answer (an old *errmsg is freed). */
int service_wait(struct service_wait *w, json_t **out, const char **why, char **errmsg);

/* Whether `text` contains (ignoring case) one of the personal values of
 * `m`: such text (a reason) must not reach the audit log. */
int service_mentions(const char *text, const struct model_customer *m);
/* The value of field `f` (enum model_field) of `m` in full, as new JSON. */
json_t *service_field_json(const struct model_customer *m, int f);
/* The masked view of a customer (service_lookup's VIEW), as new JSON. */
json_t *service_masked_view(const struct model_customer *m, int matched_device);
/* Parses "name,phone" (commas or spaces) into want[] and the canonical
 * list in field order ("name,phone") appended to `canon`.  CU_ERR_INVALID
 * for an unknown field or an empty list. */
int service_parse_fields(const char *fields, int want[MODEL_F__COUNT], struct buf *canon,
                         char **errmsg) CU_WUR;

/*
 * The insider detector (detect.c).  service_detect_open() starts it with
 * the audit log (its counters are written by the log's commit hook).
 * service_detect_check() judges a request by `who` (kind: enum
 * detect_kind; fields for reveals; canary when a canary customer is in the
 * answer) against the counters, and counts it at once unless it is
 * blocked, or stepped up without `stepped_up` (a co-sign: then the caller
 * refuses it); service_detect_act() raises the verdict's alert (stored and
 * audited) and suspends the account when the verdict says so.  The local
 * operator is not judged.
 */
struct detect_verdict;
struct service_detector;
int service_detect_open(struct service *svc, char **errmsg) CU_WUR;
void service_detect_free(struct service_detector *d);
/*
 * The keyed neighbourhood of a look-up by IMEI or phone, for the
 * enumeration rule: bucket[1] the key of its own bucket of nearby values,
 * bucket[0] and bucket[2] the adjacent buckets', `exact` the key of the
 * value itself (a repeat is not a neighbour).  Keyed hashes only.
 * service_neighbourhood() returns 0 for other identifiers or bad values.
 */
struct service_near {
    unsigned char bucket[3][16];
    unsigned char exact[16];
};
int service_neighbourhood(struct service *svc, int kind, const char *value,
                          struct service_near *near);
int service_detect_check(struct service *svc, const struct service_actor *who, int kind,
                         const int fields[MODEL_F__COUNT], int canary,
                         const struct service_near *near, int stepped_up, struct detect_verdict *v,
                         char **errmsg) CU_WUR;
/* Judges a supervisor's approval of `requester`'s case (an alert, never a
 * block) and counts it at once. */
int service_detect_approval(struct service *svc, const struct service_actor *who,
                            const char *requester, struct detect_verdict *v, char **errmsg) CU_WUR;
/* Counts a wrong one-time code at once (the store counts it in the commit
 * of its audit entry; this is the server's own copy). */
void service_detect_wrong_code(struct service *svc, const struct service_actor *who);
int service_detect_act(struct service *svc, const struct service_actor *who,
                       const struct detect_verdict *v, char **errmsg) CU_WUR;

/*
 * --- keyring and erasure ---
 *
 * The keyring (keyring.c): the wrapped key-encryption keys, in a file
 * outside the store (service_keyring_path(): DIR/keys/keyring, or
 * CUSTODIAN_KEYRING_FILE), so that no copy of the store holds one.
 * service_keyring_load() initialises `ring` and reads the file (a missing
 * file is an empty keyring); CU_ERR_INVALID "PATH:LINE: reason" for a
 * malformed line, CU_ERR_KEY when it cannot be read.  With `lock`, it
 * first takes an exclusive lock on the file's folder (creating the folder,
 * 0700, if needed), held until service_keyring_release(): take it for a
 * read-modify-write, and only then may service_keyring_save() replace the
 * file (atomically and durably: temporary file 0600, fsync, rename, fsync
 * of the folder).  get: the wrapped key of a version, or NULL (borrowed).
 * put: adds or replaces (copied).  drop: 1 if the version was there.
 * release: wipes, frees, unlocks.  The path is a new string.
 */
struct service_keyring_key {
    uint32_t version;
    struct buf wrapped;
};
struct service_keyring {
    char *path;
    int dir_fd;                       /* the locked folder, or -1 */
    struct service_keyring_key *keys; /* in version order */
    size_t n;
    size_t cap;
};
char *service_keyring_path(const char *data_dir);
int service_keyring_load(struct service_keyring *ring, const char *path, int lock,
                         char **errmsg) CU_WUR;
void service_keyring_release(struct service_keyring *ring);
const struct buf *service_keyring_get(const struct service_keyring *ring, uint32_t version);
void service_keyring_put(struct service_keyring *ring, uint32_t version, const void *wrapped,
                         size_t len);
int service_keyring_drop(struct service_keyring *ring, uint32_t version);
int service_keyring_save(struct service_keyring *ring, char **errmsg) CU_WUR;
/* Adds (or replaces) one version in the keyring file, under its lock. */
int service_keyring_add(struct service *svc, uint32_t version, const void *wrapped, size_t len,
                        char **errmsg) CU_WUR;
/* Removes versions from the keyring file, under its lock. */
int service_keyring_remove(struct service *svc, const uint32_t *versions, size_t n,
                           char **errmsg) CU_WUR;
/*
 * Changes a staff account in one transaction, on the row as stored now,
 * locked against other writers until the commit (store_staff_lock): `edit`
 * checks and changes it, and may write more in the same transaction (the
 * account's sessions); the row is stored when it returns CU_OK, nothing
 * when it returns an error, which is returned.  A request that spent time
 * on Argon2id thus never writes a stale copy back over what another
 * changed meanwhile: a suspension, a used TOTP step, a failure count.
 */
typedef int (*service_staff_edit_fn)(struct service *svc, struct store_staff *st, void *ctx,
                                     char **errmsg);
int service_staff_edit(struct service *svc, const char *username, service_staff_edit_fn edit,
                       void *ctx, char **errmsg) CU_WUR;

/* Inside a transaction that stores new data keys (service_seal): holds the
 * store's active KEK (store_kek_hold) and checks that it is the one this
 * process wraps with; CU_ERR_CONFLICT when a rotation ran since the
 * process opened the store (the caller rolls back: nothing is written). */
int service_kek_hold(struct service *svc, char **errmsg) CU_WUR;

/*
 * --- shared by the use cases (lookup.c, cases.c, session.c, portal.c) ---
 *
 * service_find(): finds the customers an identifier of `kind` names (kind
 * 0: a customer id) and opens them: calls `found` for each (with the
 * opened record and the matching device or -1); *n says how many.
 * service_contact(): where a message to the customer goes: the first phone
 * ("sms") unless `send_to` is "email" or there is none, then the e-mail;
 * 0 when there is neither.
 * Throttling of sign-in attempts under a key (a client address, or a
 * prefixed key of the portal's): check sets *until to the end of a
 * lock-out (0 or past when there is none); fail records one failure:
 * `max` in `window` seconds lock the key for `lock` seconds (fail: the
 * staff log-in's limits for a client address, 20 in 10 minutes: 15).
 */
int service_find(struct service *svc, int kind, const char *value,
                 int (*found)(void *ctx, const struct model_customer *m, int device), void *ctx,
                 size_t *n, char **errmsg) CU_WUR;
int service_contact(const struct model_customer *m, const char *send_to, const char **channel,
                    const char **to);
int service_throttle_check(struct service *svc, const char *key, int64_t now, int64_t *until,
                           char **errmsg) CU_WUR;
void service_throttle_fail(struct service *svc, const char *key, int64_t now);
void service_throttle_fail_n(struct service *svc, const char *key, int64_t now, int max,
                             int64_t window, int64_t lock);

/* A comma-separated list ("name,phone") as a JSON array of strings. */
json_t *service_json_list(const char *list);

/* The audit commit hooks (run in the audit batch's transaction): the
 * detector's counters (detect.c) and the access notices (portal.c). */
struct audit_committed;
int service_detect_committed(struct service_detector *d, struct store *s,
                             const struct audit_committed *e, size_t n, char **errmsg) CU_WUR;
int service_notices_committed(struct store *s, const struct audit_committed *e, size_t n,
                              char **errmsg) CU_WUR;

/*
 * --- import: reading and validation alone (import.c; for fuzz/) ---
 *
 * The validation pass of service_import() on its own, with no store and
 * no thread: reads opts->path (opts->format, AUTO by extension), groups
 * and normalises its rows and counts them in *res (rows, customers valid,
 * rejected and rejected_rows), printing bad customers to opts->errors and,
 * when opts->rejects_path is set, writing them there as --rejects does.
 * Uses only svc->default_country.  CU_ERR_INVALID (or CU_ERR_IO) for a
 * file that cannot be read as the format at all.
 */
int service_import_validate(struct service *svc, const struct service_import_opts *opts,
                            struct service_import_result *res, char **errmsg) CU_WUR;

#endif
