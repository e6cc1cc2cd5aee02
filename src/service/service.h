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
    int64_t outbox_keep_s;             /* config "outbox_days" (default SERVICE_OUTBOX_DAYS) */
    char *webhook_url;                 /* config "notifier.webhook": NULL for the outbox only */
    char *webhook_token;               /* config "notifier.token": sent as a bearer token */
    struct service_detector *detector; /* insider detection (opened with the audit log) */
    int detector_off;                  /* config "detector": false: benchmarks of its cost only */
    int borrowed;                      /* a worker: vault and audit belong to the parent */
};

#define SERVICE_CASE_HOURS      8  /* a case's life unless configured */
#define SERVICE_OUTBOX_DAYS     30 /* how long a sent or failed message is kept */
#define SERVICE_OUTBOX_DAYS_MAX 3660
#define SERVICE_CODE_SECONDS    600 /* a one-time code's life */
#define SERVICE_CODE_TRIES      5   /* codes a case accepts before refusing */
#define SERVICE_COSIGN_SECONDS  900 /* a supervisor's co-sign lasts this long */

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

/* A set of fields (enum model_field) for service_customer_open. */
#define SERVICE_FIELD(f)       (1u << (f))
#define SERVICE_FIELDS_ALL     ((1u << MODEL_F__COUNT) - 1)
#define SERVICE_FIELDS_CONTACT (SERVICE_FIELD(MODEL_F_PHONE) | SERVICE_FIELD(MODEL_F_EMAIL))

/*
 * Opens one customer's record, for service code that is entitled to it
 * (reveal, export): the fields in the set `fields` (the others stay sealed
 * and absent from `m`; SERVICE_FIELDS_ALL for all).  `m` must be
 * initialised and empty; the caller releases it.  CU_ERR_NOT_FOUND,
 * CU_ERR_INTEGRITY, CU_ERR_KEY.
 */
int service_customer_open(struct service *svc, const char *customer_id, unsigned fields,
                          struct model_customer *m, char **errmsg) CU_WUR;

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
 * Re-enrolling the staff member's authenticator (the secret `staff add`
 * printed is known to whoever added the account).  enrol:
 * {"totp_secret" (base32),"otpauth_uri","qr_svg","enrolment","expires_at"}
 * for a new secret that is not stored anywhere yet; confirm with the
 * enrolment token and a current code from the new secret (within 10
 * minutes) makes it the account's secret, ends the other sessions and is
 * audited.  CU_ERR_AUTH (no session, wrong code), CU_ERR_INVALID (not this
 * account's enrolment), CU_ERR_CONFLICT (expired).
 */
int service_totp_enrol(struct service *svc, const char *token, json_t **out, char **errmsg) CU_WUR;
int service_totp_confirm(struct service *svc, const char *token, const char *enrolment,
                         const char *code, char **errmsg) CU_WUR;

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
/* A supervisor (not the requester) refuses an investigation pending
 * approval: audited (case_approve, deny, approval-refused), the case
 * closes.  {"status":"closed"} */
int service_case_refuse(struct service *svc, const struct service_actor *who, const char *case_id,
                        json_t **out, const char **why, char **errmsg) CU_WUR;
/* The investigations waiting for approval, oldest first:
 * {"cases":[case views, with "reason"]} */
int service_cases_pending(struct service *svc, json_t **out, char **errmsg) CU_WUR;
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
/* Retention: deletes up to `max` messages created more than outbox_keep_s
 * ago that are sent or failed (pending ones stay), oldest first, in short
 * transactions of SERVICE_OUTBOX_EXPIRE_CHUNK so that the audit writer
 * never waits long for the write lock; *deleted counts them.  The courier
 * of `serve` runs it on every pass. */
#define SERVICE_OUTBOX_EXPIRE_CHUNK 256
int service_outbox_expire(struct service *svc, size_t max, size_t *deleted, char **errmsg) CU_WUR;

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
 * (allowed look-ups and reveals; today is the UTC day, the rest sliding
 * windows):
 *   {"lookups_today","reveals_today","lookups_last_hour","lookups_last_day",
 *    "reveals_last_hour","reveals_last_day","limits":{"lookups_per_hour",...},
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

/* --- customer access log and export --- */

/* The role a customer's own requests are audited with (the subject API,
 * e.g. their own export): such entries are not part of their access log. */
#define SERVICE_ROLE_CUSTOMER "customer"

/*
 * A stable reference to a staff member that is not their name: "S-" and 8
 * base32 characters (RFC 4648 alphabet, 40 bits) of a keyed hash of the
 * username (vault_token_hash over "staff-ref|" USERNAME).  The same
 * username gives the same reference across restarts (it depends only on
 * the master key); the name cannot be recovered from it without that key.
 * A new string the caller frees; NULL for a NULL or empty username.
 */
char *service_staff_ref(struct service *svc, const char *username);

/*
 * A customer's access log (API.md GET /v1/subject/access-log): every audit
 * entry whose subject is the customer's keyed pseudonym, oldest first,
 * except the customer's own doings: actions subject_login and
 * subject_access, and any entry by role SERVICE_ROLE_CUSTOMER (such as
 * their own export).  Everything the company did is listed, refusals too,
 * and an operator's export of their data.  On success *out is
 *   {"entries":[{"time" (RFC 3339 UTC), "store", "staff_ref", "role",
 *                "purpose", "case_id", "action", "fields":[...],
 *                "decision", "reasons":[...], "leaf_index",
 *                "leaf_input" (base64 of the entry's canonical bytes),
 *                "audit_path":[base64...]}...],
 *    "checkpoint": the signed checkpoint note, "tree_size": its size}
 * with null for absent strings; purpose is the case's (null without a
 * case).  Staff appear only as service_staff_ref().  The checkpoint is
 * taken first: every audit_path is the RFC 9162 inclusion proof of its
 * leaf in the tree of `tree_size`, and entries appended after it are left
 * out.  No personal value: the leaf_input holds the customer only as the
 * pseudonym (it does hold the staff member's username and client address,
 * which are the log's own content).  The customer need not exist (an
 * erased customer's log stays readable).  CU_ERR_INVALID for an empty id;
 * CU_ERR_STORE, CU_ERR_INTEGRITY from the audit log.
 */
int service_subject_access_log(struct service *svc, const char *customer_id, json_t **out,
                               char **errmsg) CU_WUR;

/*
 * Exports one customer's data and access log for `who` (the operator, or
 * the customer with role SERVICE_ROLE_CUSTOMER):
 *   {"customer_id", "customer":{"customer_id", "account", "name", "phone":[...],
 *    "email", "address", "birth_date", "devices":[...]} (every value in
 *    full, null when absent), "access_log": service_subject_access_log(),
 *    "exported_at" (RFC 3339 UTC), "audit":{"leaf_index"}}
 * The "export" audit entry (who, the customer's pseudonym, every field) is
 * written and durable before anything is built, and is itself in the
 * access log when `who` is not the customer.  Fails closed: if the audit
 * write fails nothing is returned (CU_ERR_STORE).  CU_ERR_INVALID for a
 * malformed customer id, CU_ERR_NOT_FOUND for an unknown one (neither is
 * audited), CU_ERR_KEY / CU_ERR_INTEGRITY when the record cannot be opened.
 */
int service_customer_export(struct service *svc, const struct service_actor *who,
                            const char *customer_id, json_t **out, char **errmsg) CU_WUR;

/* --- erasure --- */

/*
 * Erases a customer by crypto-shredding (docs/erasure.md).  `who` must be
 * the local operator or an admin (approving a customer's request); others
 * are refused (CU_ERR_FORBIDDEN).  Order: the "erase" audit entry (who, the
 * customer's pseudonym, the fields that go, the KEK version of the data
 * key, the reason) is written and durable first (fails closed: nothing is
 * erased if it cannot be), then one store transaction deletes the wrapped
 * data key, every sealed field and device, the blind-index entries (no
 * look-up finds them any more) and every outbox message to them, closes
 * their cases and leaves a tombstone (id and time); then the store's log
 * is truncated so that a copy of the store taken afterwards holds none of
 * it.  `reason` (NULL, or 3 to 200 characters) is kept in the audit log,
 * so it must hold none of the customer's values (checked: CU_ERR_INVALID).
 * On success *out is
 *   {"customer_id","erased_at","kek_version","fields","blind_entries",
 *    "messages","cases_closed","log_truncated","audit":{"leaf_index"}}
 * with log_truncated false when other connections kept the log busy (the
 * next checkpoint finishes it).  CU_ERR_INVALID for a malformed id,
 * CU_ERR_NOT_FOUND for an unknown customer, CU_ERR_CONFLICT for one
 * already erased; refusals are audited (reason codes role-not-allowed,
 * customer-not-found, already-erased) before they are answered.
 */
int service_erase(struct service *svc, const struct service_actor *who, const char *customer_id,
                  const char *reason, json_t **out, char **errmsg) CU_WUR;
/*
 * Whether `customer_id` (normalised) was erased: CU_OK and *erased_at
 * (Unix seconds), or CU_ERR_NOT_FOUND when it never was.  For the look-up,
 * reveal and case paths, to answer "erased" rather than "not found".
 */
int service_customer_erased(struct service *svc, const char *customer_id, int64_t *erased_at,
                            char **errmsg) CU_WUR;

/* --- the customer portal: sign-in, sessions, access notices (portal.c) --- */

/*
 * Sends a one-time code to the phone (else the e-mail) on file of the
 * customer whose account number is `account`, so that they can sign in.
 * The same answer (CU_OK) whether the account exists or not, and nothing
 * is sent while a code sent less than a minute ago stands; unknown
 * accounts count against the client address.  Audited (role "customer")
 * before the code leaves.  CU_ERR_INVALID (no account), CU_ERR_LIMIT (the
 * client address is locked out).
 */
int service_subject_code(struct service *svc, const char *account, const char *client,
                         const char *request_id, char **errmsg) CU_WUR;
/*
 * Signs a customer in with their account and code: {"token","expires_at"}
 * (an hour).  A code signs in once and takes at most SERVICE_CODE_TRIES
 * tries; 5 wrong codes lock the account for 15 minutes, failures count
 * against the client address as for staff.  Every attempt is audited.
 * CU_ERR_AUTH (one message for every wrong account, code or expiry),
 * CU_ERR_LIMIT, CU_ERR_INVALID.
 */
int service_subject_login(struct service *svc, const char *account, const char *code,
                          const char *client, const char *request_id, json_t **out,
                          char **errmsg) CU_WUR;
/* The customer id of a customer's session token (*customer_id a new
 * string), CU_ERR_AUTH when there is none or it expired. */
int service_subject_session(struct service *svc, const char *token, char **customer_id,
                            char **errmsg) CU_WUR;
int service_subject_logout(struct service *svc, const char *token, char **errmsg) CU_WUR;
/* A customer's notice setting: *daily 0 (a notice for each reveal, the
 * default) or 1 (a daily digest); set writes *daily, else it is read. */
int service_subject_notices(struct service *svc, const char *customer_id, int set, int *daily,
                            char **errmsg) CU_WUR;
/*
 * Turns pending access notices (one per allowed reveal, queued in the
 * reveal's audit commit) into outbox messages: one per reveal, or for
 * customers who chose the digest, one for all their views once the oldest
 * is a day old.  Each message and the removal of its notices commit
 * together.  *sent counts messages.  `custodian serve` runs it every
 * second.
 */
int service_notices_run(struct service *svc, size_t *sent, char **errmsg) CU_WUR;
/* A customer reading their own access log (service_subject_access_log()),
 * audited first as `who` (role "customer"). */
int service_subject_read_log(struct service *svc, const struct service_actor *who,
                             const char *customer_id, json_t **out, char **errmsg) CU_WUR;
/*
 * Erasure requests.  A customer asks (`who` the customer, role
 * "customer"; audited; CU_ERR_CONFLICT while one of theirs is pending):
 *   {"request_id","customer_id","status":"pending","requested_at"}.
 * list: {"requests":[...]} with `status` ("pending", "erased", "refused")
 * or all for NULL, oldest first.  decide: an admin approves (the erase
 * itself, service_erase(), as the admin; the answer adds its result as
 * "erase") or refuses (audited); CU_ERR_NOT_FOUND, CU_ERR_CONFLICT when
 * decided already, CU_ERR_FORBIDDEN for anyone but an admin.
 */
int service_erasure_request(struct service *svc, const struct service_actor *who,
                            const char *customer_id, json_t **out, char **errmsg) CU_WUR;
int service_erasure_list(struct service *svc, const char *status, json_t **out,
                         char **errmsg) CU_WUR;
int service_erasure_decide(struct service *svc, const struct service_actor *who, const char *id,
                           int approve, json_t **out, char **errmsg) CU_WUR;
/* service_audit_inclusion() for a customer: only for an entry about them
 * (CU_ERR_FORBIDDEN otherwise). */
int service_subject_inclusion(struct service *svc, const char *customer_id, uint64_t index,
                              uint64_t size, json_t **out, char **errmsg) CU_WUR;

/* --- leak tracing --- */

#define SERVICE_TRACE_P        0.2 /* default chance a leaked record came from elsewhere */
#define SERVICE_TRACE_TOP      20  /* suspects listed unless asked otherwise */
#define SERVICE_TRACE_EXAMPLES 3   /* example audit entries per suspect */

struct service_trace_opts {
    const char *path;             /* the leaked file, as found: CSV, JSON Lines or text */
    const char *data;             /* or the leaked data itself (path NULL; an upload) */
    size_t len;                   /* its length in bytes */
    int64_t as_of_ms;             /* when the leak was found: later reveals do not count; 0: now */
    double p;                     /* the guilt model's p (0 <= p < 1), when p_set */
    int p_set;                    /* otherwise SERVICE_TRACE_P */
    size_t top;                   /* suspects listed (0: SERVICE_TRACE_TOP) */
    size_t examples;              /* example entries per suspect (0: SERVICE_TRACE_EXAMPLES) */
    int proofs;                   /* give each example's inclusion proof */
    service_progress_fn progress; /* phases "reading" (bytes), "matching", "customers",
                                   * "scanning" (audit entries); may be NULL */
    void *progress_ctx;
};

/*
 * Traces a leaked data set back to the staff whose reveals could have
 * produced it (docs/trace.md).  Reads opts->path line by line in any
 * format (src/trace/trace.h: CSV, JSON Lines, free text; phones, e-mails,
 * IMEIs, serials, customer ids), maps each identifier to customers through
 * the blind indexes (keeping only keyed hashes; no record is opened), and
 * reads the audit log in one pass for the allowed reveals of those
 * customers before as_of.  Staff are ranked by the guilt model of
 * Papadimitriou and Garcia-Molina (trace_guilt()).  The trace is audited
 * as `who` (action export, a detail with the counts and no customer) and
 * the entry is durable before anything is returned.  On success *out is
 *   {"as_of", "p",
 *    "lines":{"read","blank","header","json","with_identifiers","matched","unmatched"},
 *    "identifiers":{"found","matched","unmatched","ambiguous",
 *                   "by_kind":{KIND:{"found","matched"}}},
 *    "names" (lines with a name field: counted, never matched),
 *    "customers":{"matched","revealed","not_revealed","canaries"},
 *    "canaries":[{"customer_id","revealed_by":[staff...],"leaf_indexes":[...]}],
 *    "staff_considered",
 *    "suspects":[{"rank","staff","probability","log10_innocence" (log10(1 -
 *                 probability), null when certain),"records","sole_records",
 *                 "certain_records","canaries","cases":{"count","ids":[...]},
 *                 "examples":[{"leaf_index","customer_id","case_id","time",
 *                              "revealed_by" (|V_t|),"proof"?}]}],
 *    "audit":{"entries_scanned","reveals_matched","reveals_after_as_of",
 *             "trace_leaf_index","tree_size","checkpoint"},
 *    "seconds":{"read","match","scan","rank","total"}}
 * with every proof an RFC 9162 inclusion proof in the tree of `tree_size`,
 * the size of `checkpoint` (signed, and covering the trace's own entry).
 * No personal value: customers appear by customer id, staff by username.
 * CU_ERR_IO / CU_ERR_INVALID naming the file when it cannot be read, is
 * empty, a folder or binary; CU_ERR_INVALID for p out of range;
 * CU_ERR_STORE from the store or the audit log.
 */
int service_trace(struct service *svc, const struct service_actor *who,
                  const struct service_trace_opts *opts, json_t **out, char **errmsg) CU_WUR;

#endif
