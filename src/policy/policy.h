/*
 * The access policy: which roles may look customers up, open which kinds
 * of case, approve investigations, and see which fields in full, masked or
 * not at all; and the limits the insider detector enforces (quotas, the
 * statutory meter, enumeration, store hours).  docs/policy.md describes the
 * file format and every key.
 *
 * Pure functions, no I/O: the caller reads the policy file and passes its
 * text to policy_parse().  A parsed `struct policy` is immutable, so one
 * policy can be shared by any number of threads.
 *
 * Deny by default: a permission the file does not grant is refused (a
 * missing field is "none", a missing role may do nothing).  Limits are never
 * implied: every limit must be written in the file, and a missing one is an
 * error.  Some rules are fixed and no file can change them:
 *   - a field is shown in full only while the case is in the state its
 *     purpose requires ("verified" for customer_support, "approved" for
 *     fraud_investigation and legal_request), and only to a role that may
 *     open cases of that purpose;
 *   - security and admin never look customers up, never open or approve
 *     cases and never see a customer value (separation of duties); the
 *     local operator ("operator", the CLI) sees values only through the
 *     CLI's explicit, audited operator reveal, never through this policy;
 *   - nobody approves a case they requested.
 * A file that tries to break a fixed rule is refused.
 */
#ifndef CU_POLICY_H
#define CU_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"
#include "../model/model.h"

enum policy_role {
    POLICY_ROLE_CLERK,
    POLICY_ROLE_AGENT,
    POLICY_ROLE_SUPERVISOR,
    POLICY_ROLE_SECURITY,
    POLICY_ROLE_ADMIN,
    POLICY_ROLE_OPERATOR, /* the local CLI; listed, granted no customer data */
    POLICY_ROLE__COUNT
};

enum policy_purpose {
    POLICY_PURPOSE_CUSTOMER_SUPPORT,
    POLICY_PURPOSE_FRAUD_INVESTIGATION,
    POLICY_PURPOSE_LEGAL_REQUEST,
    POLICY_PURPOSE__COUNT
};

/* The states of a case, named as the API's case "status". */
enum policy_case_state {
    POLICY_CASE_AWAITING_VERIFICATION,
    POLICY_CASE_PENDING_APPROVAL,
    POLICY_CASE_VERIFIED,
    POLICY_CASE_APPROVED,
    POLICY_CASE_CLOSED,
    POLICY_CASE_EXPIRED,
    POLICY_CASE__COUNT
};

/* How a field may be shown.  Ordered: NONE < MASKED < FULL. */
enum policy_view {
    POLICY_NONE = 0,
    POLICY_MASKED,
    POLICY_FULL,
};

/* Legal categories of personal information (2017 interpretation, art. 5). */
enum policy_category {
    POLICY_CAT_WHEREABOUTS,
    POLICY_CAT_COMMUNICATION_CONTENT,
    POLICY_CAT_CREDIT,
    POLICY_CAT_PROPERTY,
    POLICY_CAT_ACCOMMODATION,
    POLICY_CAT_COMMUNICATION_RECORDS,
    POLICY_CAT_HEALTH,
    POLICY_CAT_TRANSACTION,
    POLICY_CAT_OTHER,
    POLICY_CAT__COUNT
};

/*
 * Names, as written in the policy file and the API.  The *_name functions
 * return a static string, or NULL for an out-of-range value; the
 * *_from_name functions return the enum value, or -1 for an unknown (or
 * NULL) name.  Names are exact and lower case.
 *   roles:       "clerk", "agent", "supervisor", "security", "admin", "operator"
 *   purposes:    "customer_support", "fraud_investigation", "legal_request"
 *   case states: "awaiting_verification", "pending_approval", "verified",
 *                "approved", "closed", "expired"
 *   views:       "none", "masked", "full"
 *   categories:  "whereabouts", "communication_content", "credit", "property",
 *                "accommodation", "communication_records", "health",
 *                "transaction", "other"
 */
const char *policy_role_name(int role);
int policy_role_from_name(const char *name);
const char *policy_purpose_name(int purpose);
int policy_purpose_from_name(const char *name);
const char *policy_case_state_name(int state);
int policy_case_state_from_name(const char *name);
const char *policy_view_name(int view);
int policy_view_from_name(const char *name);
const char *policy_category_name(int category);
int policy_category_from_name(const char *name);

/*
 * The case state in which a case of this purpose shows full values:
 * POLICY_CASE_VERIFIED for customer_support (the customer proved presence
 * with a one-time code), POLICY_CASE_APPROVED for the others (a supervisor
 * approved it).  Fixed, not part of the file.  -1 for an unknown purpose.
 */
int policy_purpose_requires(enum policy_purpose purpose);

struct policy;

/*
 * Parses and validates a policy file's text (`len` bytes, no NUL needed).
 * On success returns CU_OK and a new policy in *out, which the caller
 * frees with policy_free().  On failure returns CU_ERR_INVALID, sets *out
 * to NULL and stores in *errmsg a message naming where the file is wrong:
 * the JSON path ("roles.clerk.customer_support.phone: expected full, masked
 * or none"), or the line and column for text that is not JSON.
 */
int policy_parse(const char *json, size_t len, struct policy **out, char **errmsg) CU_WUR;

/*
 * The built-in default policy (the text of src/policy/default_policy.json,
 * compiled in), parsed into a new policy the caller frees with
 * policy_free().  CU_ERR_INTERNAL only if the built-in text were invalid.
 */
int policy_default(struct policy **out, char **errmsg) CU_WUR;

/*
 * The built-in default policy's text, byte for byte the documented
 * default_policy.json (what `custodian init` writes).  Static storage; *len
 * (if not NULL) receives its length.
 */
const char *policy_default_text(size_t *len);

/* Frees a policy; NULL is a no-op. */
void policy_free(struct policy *p);

/* --- decisions --------------------------------------------------------- */

/*
 * How `field` of the case's customer may be shown to `role` under a case of
 * `purpose` in `state`:
 *   - in the state the purpose requires (policy_purpose_requires()): the
 *     file's value for role and purpose ("none" when it gives none);
 *   - in another open state (awaiting verification, pending approval):
 *     at most POLICY_MASKED, never POLICY_FULL;
 *   - closed or expired: POLICY_NONE.
 * POLICY_NONE as well when the role may not open cases of that purpose,
 * and for any out-of-range argument or NULL policy.
 */
enum policy_view policy_field_view(const struct policy *p, enum policy_role role,
                                   enum policy_purpose purpose, enum policy_case_state state,
                                   enum model_field field) CU_WUR;

/* Whether `role` may open a case of `purpose`.  0 for anything unknown. */
int policy_may_open(const struct policy *p, enum policy_role role,
                    enum policy_purpose purpose) CU_WUR;

/*
 * Whether `approver`, whose role is `role`, may approve a case requested by
 * `requester` (usernames).  Refused when the role may not approve, when
 * either username is NULL or empty, and when they name the same person
 * (compared without regard to ASCII case, so "Alice" cannot approve
 * "alice"'s case).  The caller checks that the case's purpose needs
 * approval (policy_purpose_requires() is POLICY_CASE_APPROVED).
 */
int policy_may_approve(const struct policy *p, enum policy_role role, const char *approver,
                       const char *requester) CU_WUR;

/* Whether `role` may look customers up (masked view).  Never security or
 * admin; 0 for anything unknown. */
int policy_may_lookup(const struct policy *p, enum policy_role role) CU_WUR;

/* --- limits (enforced by the detector, src/detect/) -------------------- */

/*
 * A role's quotas.  A look-up is one request for the masked view (a device
 * or a customer search); a reveal is one request that returns full values,
 * however many fields it names.  At step_up_fraction of a quota the next
 * request needs a supervisor's co-sign; at the quota it is blocked.
 * All zero for a role that may neither look up nor open cases.
 */
struct policy_quota {
    uint32_t lookups_per_hour;
    uint32_t lookups_per_day;
    uint32_t reveals_per_hour;
    uint32_t reveals_per_day;
    double step_up_fraction; /* in (0, 1] */
};

/*
 * The statutory meter.  Each revealed field counts as one piece of personal
 * information in field_category[field]; over window_days the meter is
 * sum over categories of count / staff_threshold[category].  At
 * alert_fraction it alerts, at block_fraction it blocks (so that the
 * request that would reach the line is never answered).
 */
struct policy_statutory {
    uint32_t window_days;
    uint32_t threshold[POLICY_CAT__COUNT];     /* the legal thresholds: 50, 500, 5000 */
    double duty_factor;                        /* 0.5: halved for staff, art. 5(8) */
    double staff_threshold[POLICY_CAT__COUNT]; /* threshold * duty_factor */
    double alert_fraction;                     /* 0 < alert <= block */
    double block_fraction;                     /* block <= 1 */
    enum policy_category field_category[MODEL_F__COUNT];
};

/*
 * Enumeration: two look-ups are neighbours when they are IMEIs with the
 * same TAC (first 8 digits) whose serial numbers (digits 9 to 14) differ by
 * at most imei_serial_distance, or E.164 phone numbers of the same length
 * and country code whose values differ by at most phone_distance.  After alert_after neighbouring
 * look-ups within window_hours the detector alerts, after block_after it blocks.
 */
struct policy_enumeration {
    uint32_t window_hours;
    uint32_t imei_serial_distance;
    uint32_t phone_distance;
    uint32_t alert_after;
    uint32_t block_after; /* >= alert_after */
};

/*
 * A store's opening hours in its own time zone, as minutes after local
 * midnight.  close_minute < open_minute means the store closes after
 * midnight; 0 to 1440 means always open.  Access outside them steps up.
 */
struct policy_hours {
    char timezone[64]; /* IANA name, e.g. "Asia/Shanghai" */
    int open_minute;   /* 0 .. 1439 */
    int close_minute;  /* 1 .. 1440, != open_minute */
};

/* The role's quotas (all zero for an unknown role or a NULL policy). */
const struct policy_quota *policy_quota(const struct policy *p, enum policy_role role);
/* The statutory meter's settings (p must not be NULL, nor below). */
const struct policy_statutory *policy_statutory(const struct policy *p);
/* The enumeration limits. */
const struct policy_enumeration *policy_enumeration(const struct policy *p);
/* The hours of `store` (the default hours when the file gives the store
 * none, or `store` is NULL).  Pointers into the policy: valid until
 * policy_free(). */
const struct policy_hours *policy_store_hours(const struct policy *p, const char *store);
/* Whether the store is open at `minute` (0 .. 1439 after local midnight). */
int policy_hours_open_at(const struct policy_hours *h, int minute) CU_WUR;

#endif
