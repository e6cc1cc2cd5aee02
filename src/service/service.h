/*
 * The service layer: one function per use case, called by the CLI and (from
 * a later issue) the HTTP server.  Each use case decides, then records,
 * then reads the store, opens values with the vault and masks them with the
 * model, in that order.  Nothing here prints: results come back as data
 * (jansson objects for views) and errors as rc + errmsg.
 */
#ifndef CU_SERVICE_H
#define CU_SERVICE_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "../common/common.h"
#include "../model/model.h"

struct vault;
struct store;
struct audit_log;
struct policy;

/* An open data folder. */
struct service {
    char *data_dir;
    char *store_url;
    char *default_country; /* calling code digits, "86" unless configured */
    char *master_key_path;
    char *audit_origin; /* checkpoint origin line: config "audit_origin" or derived */
    struct vault *vault;
    struct store *store;
    struct audit_log *audit;           /* the audit writer, opened on first use */
    struct policy *policy;             /* DIR/policy.json (the built-in default if absent) */
    int64_t case_ttl_s;                /* config "case_hours" (default SERVICE_CASE_HOURS) */
    char *webhook_url;                 /* config "notifier.webhook": NULL for the outbox only */
    char *webhook_token;               /* config "notifier.token": sent as a bearer token */
    struct service_detector *detector; /* insider detection (opened with the audit log) */
    int detector_off;                  /* config "detector": false: benchmarks of its cost only */
    int borrowed;                      /* a worker: vault and audit belong to the parent */
};

#define SERVICE_CASE_HOURS     8   /* a case's life unless configured */
#define SERVICE_CODE_SECONDS   600 /* a one-time code's life */
#define SERVICE_CODE_TRIES     5   /* codes a case accepts before refusing */
#define SERVICE_COSIGN_SECONDS 900 /* a supervisor's co-sign lasts this long */

/*
 * A handle for another thread (an HTTP worker): its own store connection,
 * sharing the parent's vault and audit writer (opened on the parent by
 * this call, so all appends share one group commit).  The parent must
 * outlive it; service_free() on it releases only what it owns.
 */
int service_worker_new(struct service *parent, struct service **out, char **errmsg) CU_WUR;

/*
 * Who is asking: every use case that touches customer data names its actor,
 * and the audit entry records it.  Borrowed strings; NULL when unknown.
 */
struct service_actor {
    const char *username; /* staff username, or "operator:<unix user>" */
    const char *role;     /* "clerk", ..., or "operator" for the CLI */
    const char *store;    /* the actor's store code */
    const char *client;   /* client address */
    const char *request_id;
};

/* The local operator running the CLI: "operator:<unix user>", role
 * "operator".  `name` is storage for the username (at least 80 bytes). */
void service_operator(struct service_actor *who, char *name, size_t len);

/*
 * Data folder layout:
 *   DIR/config.json        settings (store URL, default country)
 *   DIR/policy.json        who may see what (docs/policy.md), written by init
 *   DIR/keys/master.key    the master key (0600; or CUSTODIAN_MASTER_KEY_FILE)
 *   DIR/custodian.db       the SQLite store (+ -wal, -shm)
 *
 * service_init_data() creates DIR (0700) with a new master key (unless
 * CUSTODIAN_MASTER_KEY_FILE names an existing key), the config, the store
 * and the first KEK.  `store_url` NULL means the embedded SQLite file.
 * CU_ERR_CONFLICT when DIR is already initialised.
 */
int service_init_data(const char *data_dir, const char *store_url, char **errmsg) CU_WUR;

/* Opens an initialised data folder (and reads its policy: CU_ERR_INVALID
 * naming the file and the JSON path when it is wrong); the caller frees it
 * with service_free(). */
int service_open(struct service **out, const char *data_dir, char **errmsg) CU_WUR;
void service_free(struct service *svc);

/* Progress reporting for long operations: called about 4 times a second,
 * with done/total in the operation's unit (bytes for import, customers for
 * rotation) and `what` naming the phase. */
typedef void (*service_progress_fn)(void *ctx, const char *what, uint64_t done, uint64_t total,
                                    uint64_t items);

enum service_format { SERVICE_FORMAT_AUTO, SERVICE_FORMAT_CSV, SERVICE_FORMAT_JSONL };

struct service_import_opts {
    const char *path;
    enum service_format format; /* AUTO: by file extension, .jsonl/.ndjson/.json or CSV */
    int skip_invalid;           /* import the good customers, report the bad */
    const char *rejects_path;   /* with skip_invalid: where bad rows go, with reasons */
    FILE *errors;               /* where "FILE:LINE: field: reason" lines go (may be NULL) */
    unsigned max_errors_shown;  /* after that many, only a count */
    service_progress_fn progress;
    void *progress_ctx;
};

struct service_import_result {
    uint64_t rows;      /* data rows / lines read */
    uint64_t customers; /* customers written (inserted + updated) */
    uint64_t inserted;
    uint64_t updated;       /* existing customers replaced */
    uint64_t merged;        /* customers met again later in the same file, merged */
    uint64_t rejected;      /* customers rejected (skip_invalid) or found invalid */
    uint64_t rejected_rows; /* rows those customers spanned */
    double seconds;
};

/*
 * Imports a CSV or JSON Lines file (API.md formats).  Without skip_invalid
 * the whole file is validated first and nothing is written if any row is
 * bad (CU_ERR_INVALID; every bad row printed to opts->errors).  Customers
 * are committed in batches, so a killed import leaves a consistent store and
 * re-running the same file completes it; a customer imported again is
 * updated in place (a new data key; devices and fields replaced).  Rows of
 * one customer are expected together; a customer id met again later in the
 * same file is merged into what this import wrote for it.
 */
int service_import(struct service *svc, const struct service_import_opts *opts,
                   struct service_import_result *res, char **errmsg) CU_WUR;

/*
 * Asynchronous forms, for an event-driven caller (the HTTP server): the
 * use case decides, queues its audit entries and returns; `done` is then
 * called exactly once, from any thread, with what the synchronous form
 * returns (rc, *out, *why, *errmsg), and only after every audit entry is
 * durable.  `done` owns `out` and `errmsg`.  It may run before the call
 * returns (bad input, nothing to audit).  `who` is used only during the
 * call.
 */
typedef void (*service_done_fn)(void *ctx, int rc, json_t *out, const char *why, char *errmsg);

/*
 * Masked look-up by an identifier (kind: enum model_ident) or, with kind 0,
 * by customer_id, audited: one "lookup" entry per customer found (or one
 * with no subject when nobody matched), durable before the view is
 * returned.  On success *out is a new JSON object
 *   {"customers":[VIEW...]}
 * where VIEW is {"customer_id", "account", "name", "phones":[...], "email",
 * "address", "birth_date", "devices":[{"imei","serial","model",
 * "purchase_date","store"}...], "matched_device": index or absent} with every
 * personal value masked (model_mask_*).  CU_ERR_INVALID when the value is
 * not a valid identifier of that kind; an empty list when nobody matches.
 */
int service_lookup(struct service *svc, const struct service_actor *who, int kind,
                   const char *value, json_t **out, char **errmsg) CU_WUR;
void service_lookup_async(struct service *svc, const struct service_actor *who, int kind,
                          const char *value, service_done_fn done, void *ctx);

/*
 * Full reveal of some fields of the one customer an identifier finds (kind
 * as service_lookup), for an operator with a stated reason.  `fields` is a
 * comma-separated list of model field names (account, name, phone, email,
 * address, birth_date, devices).  Order: find and open the record, write
 * the "reveal" audit entry (actor, pseudonym, fields, reason) and wait until
 * it is durable, and only then build *out:
 *   {"customer_id", "fields":{name: value...}, "audit":{"leaf_index"}}.
 * Fails closed: if the audit write fails, nothing is returned
 * (CU_ERR_STORE).  CU_ERR_INVALID for an unknown field, an empty reason or
 * a reason that contains one of the customer's personal values (the reason
 * is kept in the audit log, which must hold none); CU_ERR_NOT_FOUND when
 * nobody matches; CU_ERR_CONFLICT when several customers do.
 */
int service_reveal(struct service *svc, const struct service_actor *who, int kind,
                   const char *value, const char *fields, const char *reason, json_t **out,
                   char **errmsg) CU_WUR;

/*
 * Records an operator event that touches no single customer (import, key
 * rotation, key retirement ...): one audit entry with `action` (enum
 * audit_action), decision allow or deny, and a non-personal `detail`, durable
 * when this returns.
 */
int service_audit_note(struct service *svc, const struct service_actor *who, int action,
                       int allowed, const char *detail, char **errmsg) CU_WUR;

/* Opens the audit writer if it is not open yet (service_free closes it). */
int service_audit_open(struct service *svc, char **errmsg) CU_WUR;

/*
 * Audit log queries (API.md shapes).  Entries render as
 *   {"index", "leaf_input" (base64), "time" (RFC 3339 UTC), "actor", "role",
 *    "store", "action", "decision", "case_id", "subject" (hex pseudonym),
 *    "fields":[...], "reasons":[...], "request_id", "client", "detail"}
 * with absent strings left out.
 */
int service_audit_entries(struct service *svc, uint64_t start, uint64_t end, json_t **out,
                          char **errmsg) CU_WUR;
/* By staff username (actor) or customer id (through its pseudonym), newest first. */
int service_audit_show(struct service *svc, const char *staff, const char *customer_id,
                       size_t limit, json_t **out, char **errmsg) CU_WUR;
/* Calls `line` with each entry as one JSON text, in index order (export). */
int service_audit_export(struct service *svc, int (*line)(void *ctx, const char *json), void *ctx,
                         char **errmsg) CU_WUR;
/* {"leaf_index","tree_size","audit_path":[base64...]} */
int service_audit_inclusion(struct service *svc, uint64_t index, uint64_t size, json_t **out,
                            char **errmsg) CU_WUR;
/* {"first","second","consistency":[base64...]} */
int service_audit_consistency(struct service *svc, uint64_t first, uint64_t second, json_t **out,
                              char **errmsg) CU_WUR;
/* The latest signed checkpoint, making one for the current size if needed. */
int service_audit_checkpoint(struct service *svc, char **note, char **errmsg) CU_WUR;
/* The checkpoint verifier key (C2SP vkey), a new string. */
char *service_audit_vkey(struct service *svc);
struct audit_verify_result;
int service_audit_verify(struct service *svc, struct audit_verify_result *res,
                         char **errmsg) CU_WUR;

/*
 * Opens one customer's record in full, for service code that is entitled
 * to it (reveal, export).  `m` must be initialised and empty; the caller
 * releases it.  CU_ERR_NOT_FOUND, CU_ERR_INTEGRITY, CU_ERR_KEY.
 */
int service_customer_open(struct service *svc, const char *customer_id, struct model_customer *m,
                          char **errmsg) CU_WUR;

/*
 * Key-encryption-key rotation.  service_keys_rotate() makes a new KEK
 * version active and re-wraps every customer's data key with it, in
 * batches; fields are not re-encrypted.  Killed half-way, running it again
 * resumes the same rotation (older versions keep opening the keys not yet
 * re-wrapped).  *new_version and *rewrapped report what was done.
 * service_keys_retire() deletes a KEK version that no data key uses any
 * more (CU_ERR_CONFLICT naming how many still do, or when it is active).
 */
int service_keys_rotate(struct service *svc, service_progress_fn progress, void *progress_ctx,
                        uint32_t *new_version, uint64_t *rewrapped, char **errmsg) CU_WUR;
int service_keys_retire(struct service *svc, uint32_t version, char **errmsg) CU_WUR;
/* {"keys":[{"version","state","customers","created_at"}...]} */
int service_keys_list(struct service *svc, json_t **out, char **errmsg) CU_WUR;

/*
 * Staff accounts.  add and reset create fresh credentials and return them
 * once, as {"username","password","totp_secret","otpauth_uri"}: a random
 * one-time password (Argon2id-hashed in the store; must be changed at the
 * first log-in) and a TOTP secret (sealed in the store).  Usernames are 2 to
 * 32 of [a-z0-9._-] starting with a letter or digit; roles are clerk, agent,
 * supervisor, security and admin; store codes 1 to 16 of [A-Z0-9-].  Every
 * change is audited as the actor.  CU_ERR_INVALID (bad name, role, store),
 * CU_ERR_CONFLICT (exists), CU_ERR_NOT_FOUND.
 */
int service_staff_add(struct service *svc, const struct service_actor *who, const char *username,
                      const char *role, const char *store, json_t **out, char **errmsg) CU_WUR;
int service_staff_reset(struct service *svc, const struct service_actor *who, const char *username,
                        json_t **out, char **errmsg) CU_WUR;
int service_staff_set_suspended(struct service *svc, const struct service_actor *who,
                                const char *username, int suspended, char **errmsg) CU_WUR;
/* Today's (UTC) use by a staff member, from the audit log:
 * {"lookups_today","reveals_today"}. */
int service_staff_usage(struct service *svc, const char *username, json_t **out,
                        char **errmsg) CU_WUR;
/* {"staff":[{"username","role","store","status","must_change_password","created_at"}]} */
int service_staff_list(struct service *svc, json_t **out, char **errmsg) CU_WUR;

/*
 * Staff log-in and sessions.
 *
 * service_login(): password (Argon2id) and a TOTP code (±1 step, each code
 * usable once) for `username`, from `client`.  On success *out is
 * {"token","expires_at","must_change_password"}: the token (shown once; the
 * store keeps its keyed hash) is valid until `expires_at` (12 hours) and
 * ends after 30 minutes without use.  Failures: CU_ERR_AUTH for any wrong
 * credential (the same message whether the account exists or not);
 * CU_ERR_SUSPENDED for a suspended account (only said once the credentials
 * are right); CU_ERR_LIMIT while the account (5 failures: 15 minutes) or
 * the client address (20 failures in 10 minutes: 15 minutes) is locked out.
 * Every attempt is audited ("login" or "login_failed" with a reason code).
 */
int service_login(struct service *svc, const char *username, const char *password, const char *totp,
                  const char *client, json_t **out, char **errmsg) CU_WUR;

/* Who a session belongs to; strings owned by the struct. */
struct service_session {
    char *username;
    char *role;
    char *store;
    int must_change_password;
    int64_t expires_at;
};
void service_session_release(struct service_session *ss);
/*
 * Checks a bearer token: CU_OK and *out filled, or CU_ERR_AUTH (unknown,
 * expired, idle too long) or CU_ERR_SUSPENDED (the account was suspended:
 * its sessions end at once).
 */
int service_session(struct service *svc, const char *token, struct service_session *out,
                    char **errmsg) CU_WUR;
/* Ends the session of `token` (unknown tokens are fine). */
int service_logout(struct service *svc, const char *token, char **errmsg) CU_WUR;
/*
 * Changes the password of the session's account: `old` must be right
 * (CU_ERR_AUTH), `new_password` 12 to 200 characters and different
 * (CU_ERR_INVALID).  Clears must_change_password; other sessions of the
 * account are ended.  Audited.
 */
int service_password_change(struct service *svc, const char *token, const char *old,
                            const char *new_password, char **errmsg) CU_WUR;

/*
 * Cases: the only way staff see full values.  A case binds its requester
 * (the owner) to one customer for one purpose, and the policy (src/policy)
 * decides, from the owner's role, the purpose and the case's state, which
 * fields may be revealed.
 *
 *   customer_support: opened by a role the policy allows; a 6-digit code
 *     goes to the customer's phone (or e-mail: send_to "email") through
 *     the outbox; the owner enters it (SERVICE_CODE_TRIES tries, valid
 *     SERVICE_CODE_SECONDS) and the case is "verified".
 *   fraud_investigation, legal_request: need a reason (3 to 500
 *     characters, holding none of the customer's personal values) and a
 *     supervisor's approval, never the requester's own: "approved".
 * A case expires case_ttl_s after it was opened; the owner may close it.
 *
 * Every call is audited, refusals too, and the audit entry is durable
 * before anything is answered or changed.  On a refusal the call returns
 * an error and sets *why to a stable reason code, which is also the audit
 * entry's reason and the API's problem slug:
 *   purpose-not-allowed (FORBIDDEN)   the role may not open such a case
 *   not-case-owner (FORBIDDEN)        someone else's case
 *   role-may-not-approve (FORBIDDEN), self-approval (FORBIDDEN)
 *   case-not-verified (FORBIDDEN)     reveal before the customer's code
 *   case-not-approved (FORBIDDEN)     reveal before a supervisor's approval
 *   field-not-allowed (FORBIDDEN)     a field the role may not see in full
 *   wrong-customer (FORBIDDEN)        another customer through this case
 *   case-expired (CONFLICT), case-closed (CONFLICT), case-state (CONFLICT)
 *   code-incorrect (FORBIDDEN), code-expired (CONFLICT),
 *   too-many-attempts (LIMIT)
 *   no-contact (CONFLICT)             no phone or e-mail to send a code to
 *   limit-reached (LIMIT)             the insider detector blocks (src/detect)
 *   step-up-required (FORBIDDEN)      near a limit: a supervisor's co-sign first
 * *why is NULL for other errors (bad input, unknown case or customer,
 * store or audit failure).  Views are
 *   {"case_id","purpose","customer_id","status","owner","store",
 *    "created_at","expires_at", "approved_by"?}
 * with status "expired" once past expires_at.
 */
int service_case_open(struct service *svc, const struct service_actor *who, const char *purpose,
                      const char *customer_id, const char *reason, const char *send_to,
                      json_t **out, const char **why, char **errmsg) CU_WUR;
/* {"status":"verified","expires_at"} */
int service_case_verify(struct service *svc, const struct service_actor *who, const char *case_id,
                        const char *code, json_t **out, const char **why, char **errmsg) CU_WUR;
/* {"status":"approved"} */
int service_case_approve(struct service *svc, const struct service_actor *who, const char *case_id,
                         json_t **out, const char **why, char **errmsg) CU_WUR;
/*
 * A supervisor's co-sign (not the requester's): for SERVICE_COSIGN_SECONDS
 * the case's reveals pass a step-up (a staff member near a limit).  Refused
 * (step-up-required, 403) without one.  {"case_id","cosigned_by","until"}
 */
int service_case_cosign(struct service *svc, const struct service_actor *who, const char *case_id,
                        json_t **out, const char **why, char **errmsg) CU_WUR;
/* {"status":"closed"} */
int service_case_close(struct service *svc, const struct service_actor *who, const char *case_id,
                       json_t **out, const char **why, char **errmsg) CU_WUR;
/* The case's view: its owner, or a role that may approve. */
int service_case_get(struct service *svc, const struct service_actor *who, const char *case_id,
                     json_t **out, const char **why, char **errmsg) CU_WUR;
/*
 * Reveals `fields` ("name,phone") of the case's customer in full:
 *   {"customer_id","fields":{...},"audit":{"leaf_index"}}
 * `customer_id`, when not NULL, must be the case's customer (a request for
 * anyone else is refused and audited).  Every field must be FULL for the
 * owner's role, the purpose and the state; otherwise nothing is revealed.
 */
int service_case_reveal(struct service *svc, const struct service_actor *who, const char *case_id,
                        const char *fields, const char *customer_id, json_t **out, const char **why,
                        char **errmsg) CU_WUR;
void service_case_reveal_async(struct service *svc, const struct service_actor *who,
                               const char *case_id, const char *fields, const char *customer_id,
                               service_done_fn done, void *ctx);

/*
 * The outbox: messages to customers.  service_notify() seals the recipient
 * and text into the store; with no webhook configured the built-in
 * notifier has "sent" it there (`custodian outbox` shows it), otherwise
 * service_outbox_deliver() posts it to the webhook, retrying with back-off
 * (notify_retry_delay) up to SERVICE_NOTIFY_ATTEMPTS times.
 */
#define SERVICE_NOTIFY_ATTEMPTS 10
int service_notify(struct service *svc, const char *customer_id, const char *case_id,
                   const char *channel, const char *to, const char *text, char **errmsg) CU_WUR;
/* {"messages":[{"id","created_at","channel","to","body","customer_id","case_id",
 * "status","attempts","last_error"}]} for messages with id > after_id. */
int service_outbox_list(struct service *svc, int64_t after_id, size_t limit, json_t **out,
                        char **errmsg) CU_WUR;
/* Delivers due messages to the webhook (at most `max`); *sent counts
 * successes.  CU_OK with nothing to do when no webhook is configured. */
int service_outbox_deliver(struct service *svc, size_t max, size_t *sent, char **errmsg) CU_WUR;

/*
 * Insider-risk alerts (raised by the detector, src/detect):
 *   {"alerts":[{"id","severity","rule","staff","detail","created_at","status",
 *               "audit_index"?,"acked_by"?,"acked_at"?}]}
 * newest first; `status` "open", "acked" or NULL for both.  Acknowledging
 * is audited as `who`; CU_ERR_NOT_FOUND when there is no such open alert.
 */
int service_alerts(struct service *svc, const char *status, size_t limit, json_t **out,
                   char **errmsg) CU_WUR;
int service_alert_ack(struct service *svc, const struct service_actor *who, int64_t id,
                      char **errmsg) CU_WUR;

/*
 * Plants `n` canary customers (synthetic, stored like any other, known as
 * canaries only through their keyed tag) and returns what an operator
 * watches for:
 *   {"canaries":[{"customer_id","name","account","email","phones":[...],
 *                 "imeis":[...]}]}
 * Audited without naming them.
 */
int service_canary_add(struct service *svc, const struct service_actor *who, unsigned n,
                       json_t **out, char **errmsg) CU_WUR;
/* Whether a customer is a canary. */
int service_is_canary(struct service *svc, const char *customer_id, int *yes, char **errmsg) CU_WUR;

/*
 * A staff member's use against their limits, from the detector's counters
 * (sliding windows):
 *   {"lookups_last_hour","lookups_last_day","reveals_last_hour",
 *    "reveals_last_day","limits":{"lookups_per_hour",...},
 *    "statutory":{"meter","alert_at","block_at","window_days"}}
 */
int service_detect_usage(struct service *svc, const char *staff, const char *role, json_t **out,
                         char **errmsg) CU_WUR;

/*
 * What the security team sees of a staff member:
 *   {"username","role","store","status","usage":{today's counts and the
 *    detector's usage},"recent":[their `recent` newest audit entries]}
 */
int service_staff_activity(struct service *svc, const char *username, size_t recent, json_t **out,
                           char **errmsg) CU_WUR;

#endif
