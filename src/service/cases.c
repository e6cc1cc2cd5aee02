/*
 * Cases: open, verify (the customer's one-time code), approve, close, and
 * the purpose-bound reveal.  Each call decides from the stored case and
 * the policy (a refusal is recorded with refuse()), then writes the audit
 * entry of its decision, allowed or refused, and only once that is durable
 * changes the case (settle(), synchronous) or answers (the reveal: a held
 * answer, asynchronous).
 */
#include "service_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../audit/audit.h"
#include "../detect/detect.h"
#include "../policy/policy.h"

#define CASE_ID_BYTES 12
#define REASON_MIN    3
#define REASON_MAX    500
#define CODE_DIGITS   6
#define CODE_SPACE    1000000u

/* What one call knows while it decides: the case, who asks, and the
 * refusal if it has decided one. */
struct case_call {
    struct service *svc;
    const struct service_actor *who;
    struct store_case c;
    int action;         /* enum audit_action */
    int refused;        /* the refusal's error code, 0 while allowed */
    int blocked;        /* the refusal is the detector's: 1 block, 2 step-up ... */
    const char *reason; /* ... by this rule (the audit reason) */
    const char *side;   /* for the detector's commit hook (a case's purpose) */
    const char *slug;
    const char *fields;
    char msg[256];
};

/* Decides a refusal: `slug` is its reason code (and the API's problem
 * slug); nothing is answered until it is audited.  Returns `rc`. */
static int refuse(struct case_call *k, int rc, const char *slug, const char *fields,
                  const char *fmt, ...) CU_PRINTF(5, 6);

static int refuse(struct case_call *k, int rc, const char *slug, const char *fields,
                  const char *fmt, ...)
{
    va_list ap;

    k->refused = rc;
    k->slug = slug;
    k->fields = fields;
    va_start(ap, fmt);
    vsnprintf(k->msg, sizeof(k->msg), fmt, ap);
    va_end(ap);
    return rc;
}

/* The audit record of the call's decision. */
static void decision(const struct case_call *k, const char *fields, const char *detail,
                     struct service_access *a)
{
    memset(a, 0, sizeof(*a));
    a->action = k->action;
    a->decision = k->blocked == 1 ? AUDIT_BLOCK
                  : k->blocked    ? AUDIT_STEP_UP
                  : k->refused    ? AUDIT_DENY
                                  : AUDIT_ALLOW;
    a->reasons = k->blocked ? k->reason : k->refused ? k->slug : NULL;
    a->fields = k->refused ? k->fields : fields;
    a->detail = k->refused ? NULL : detail;
    a->customer_id = k->c.customer_id;
    a->case_id = k->c.id;
    a->side = k->side;
    a->side_len = k->side ? strlen(k->side) : 0;
}

/*
 * The synchronous end of a decision.  `rc` is what the checks returned: an
 * error that is not a refusal (bad input, the store) is returned as it is,
 * unaudited.  Otherwise the decision is audited and durable before this
 * returns CU_OK (allowed: the caller may now act) or the refusal's code
 * with *why and *errmsg.  An audit failure is returned instead (fail
 * closed).
 */
static int settle(struct case_call *k, int rc, const char *fields, const char *detail,
                  const char **why, char **errmsg)
{
    struct service_access a;

    if (rc != CU_OK && !k->refused)
        return rc;
    decision(k, fields, detail, &a);
    rc = service_audit_access(k->svc, k->who, &a, NULL, errmsg);
    if (rc != CU_OK)
        return rc;
    if (!k->refused)
        return CU_OK;
    *why = k->slug;
    return cu_errf(errmsg, k->refused, "%s", k->msg);
}

/*
 * The insider detector's say on a case step: acts on its verdict (alert,
 * suspension) and turns a block, or a step-up on a case no supervisor has
 * co-signed, into the call's refusal.  `fields` are a reveal's (else NULL),
 * `canary` whether a canary customer is concerned.  CU_OK to go on.
 */
static int detect_gate(struct case_call *k, int kind, const int *fields, int canary,
                       const char *canon, char **errmsg)
{
    struct detect_verdict v;
    int cosigned = kind != DETECT_REVEAL || k->c.cosign_until > cu_now();
    int rc = service_detect_check(k->svc, k->who, kind, fields, canary, NULL, cosigned, &v, errmsg);

    if (rc == CU_OK)
        rc = service_detect_act(k->svc, k->who, &v, errmsg);
    if (rc == CU_OK && v.action == DETECT_BLOCK) {
        rc = refuse(k, CU_ERR_LIMIT, "limit-reached", canon, "limit reached (%s): %s", v.rule,
                    v.detail);
        k->blocked = 1;
        k->reason = v.rule;
    } else if (rc == CU_OK && v.action == DETECT_STEP_UP && !cosigned) {
        /* Near a limit: a supervisor must co-sign the case first. */
        rc = refuse(k, CU_ERR_FORBIDDEN, "step-up-required", canon,
                    "%s: a supervisor must co-sign case %s (POST /v1/cases/%s/cosign)", v.detail,
                    k->c.id, k->c.id);
        k->blocked = 2;
        k->reason = v.rule;
    }
    return rc;
}

/* Moves the case to `state` now and stores it (with any other change the
 * caller made to k->c). */
static int set_status(struct case_call *k, int state, int64_t now, char **errmsg)
{
    free(k->c.status);
    k->c.status = xstrdup(policy_case_state_name(state));
    k->c.updated_at = now;
    return store_case_put(k->svc->store, &k->c, 0, errmsg);
}

static int role_of(const struct service_actor *who)
{
    return policy_role_from_name(who->role);
}

/* The case's state now: expiry is read from the clock, not stored. */
static int case_state(const struct store_case *c, int64_t now)
{
    int st = policy_case_state_from_name(c->status);

    if (st != POLICY_CASE_CLOSED && now >= c->expires_at)
        return POLICY_CASE_EXPIRED;
    return st;
}

static json_t *case_view(const struct store_case *c, int64_t now)
{
    json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "case_id", c->id, "purpose",
                          c->purpose, "customer_id", c->customer_id, "status",
                          policy_case_state_name(case_state(c, now)), "owner", c->requester,
                          "store", c->store, "created_at", (json_int_t)c->created_at, "expires_at",
                          (json_int_t)c->expires_at);

    if (c->approver != NULL)
        json_object_set_new(v, "approved_by", json_string(c->approver));
    /* an investigation's reason (checked to name none of the customer's
     * values when the case was opened) */
    if (c->reason != NULL)
        json_object_set_new(v, "reason", json_string(c->reason));
    return v;
}

/* Who may act on a case: its owner, a supervisor who may approve it (never
 * the requester), or either (reading it). */
enum case_who { CASE_OWNER, CASE_APPROVER, CASE_OWNER_OR_APPROVER };

/*
 * Loads the case and checks what every call on an existing case checks, in
 * this order: that it exists (an unknown id is audited with no subject),
 * that `who` may act on it, and that it is neither closed nor expired.
 */
static int load(struct case_call *k, const char *case_id, enum case_who may, char **errmsg)
{
    const char *me = k->who->username;
    int rc, st, owner, approver;

    if (case_id == NULL || case_id[0] == '\0' || strlen(case_id) > 64)
        return cu_errf(errmsg, CU_ERR_INVALID, "a case id is required");
    rc = store_case_get(k->svc->store, case_id, &k->c, errmsg);
    if (rc == CU_ERR_NOT_FOUND) {
        free(*errmsg);
        *errmsg = NULL;
        return refuse(k, CU_ERR_NOT_FOUND, "case-not-found", NULL, "no such case");
    }
    if (rc != CU_OK)
        return rc;
    owner = strcmp(k->c.requester, me) == 0;
    approver =
        policy_may_approve(k->svc->policy, (enum policy_role)role_of(k->who), me, k->c.requester);
    if (may == CASE_APPROVER && !approver) {
        if (strcasecmp(k->c.requester, me) == 0)
            return refuse(k, CU_ERR_FORBIDDEN, "self-approval", NULL,
                          "nobody approves a case they requested");
        return refuse(k, CU_ERR_FORBIDDEN, "role-may-not-approve", NULL,
                      "role %s may not approve cases", k->who->role);
    }
    if ((may == CASE_OWNER && !owner) || (may == CASE_OWNER_OR_APPROVER && !owner && !approver))
        return refuse(k, CU_ERR_FORBIDDEN, "not-case-owner", NULL,
                      "case %s belongs to another staff member", k->c.id);
    st = case_state(&k->c, cu_now());
    if (st == POLICY_CASE_CLOSED)
        return refuse(k, CU_ERR_CONFLICT, "case-closed", NULL, "case %s is closed", k->c.id);
    if (st == POLICY_CASE_EXPIRED)
        return refuse(k, CU_ERR_CONFLICT, "case-expired", NULL,
                      "case %s has expired; open a new one", k->c.id);
    return CU_OK;
}

static void case_call_init(struct case_call *k, struct service *svc,
                           const struct service_actor *who, int action)
{
    memset(k, 0, sizeof(*k));
    k->svc = svc;
    k->who = who;
    k->action = action;
    store_case_init(&k->c);
}

static void code_hash(const struct service *svc, const char *case_id, const char *code,
                      unsigned char out[32])
{
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "case-code|%s|%s", case_id, code);

    vault_token_hash(svc->vault, msg, (size_t)n, out);
    cu_wipe(msg, sizeof(msg));
}

/* Picks where the code goes: the first phone unless `send_to` is "email". */
int service_contact(const struct model_customer *m, const char *send_to, const char **channel,
                    const char **to)
{
    int email = send_to != NULL && strcmp(send_to, "email") == 0;

    if (!email && m->nphones > 0) {
        *channel = "sms";
        *to = m->phones[0];
        return 1;
    }
    if (m->email != NULL && m->email[0] != '\0') {
        *channel = "email";
        *to = m->email;
        return 1;
    }
    return 0;
}

int service_case_open(struct service *svc, const struct service_actor *who, const char *purpose,
                      const char *customer_id, const char *reason, const char *send_to,
                      json_t **out, const char **why, char **errmsg)
{
    struct case_call k;
    struct model_customer m;
    struct model_error merr = {0};
    unsigned char raw[CASE_ID_BYTES];
    char id[2 * CASE_ID_BYTES + 3], code[CODE_DIGITS + 1] = "", text[256] = "";
    char detail[REASON_MAX + 32], *norm = NULL, *masked = NULL;
    const char *channel = NULL, *to = NULL;
    int p, support = 0, canary = 0, rc;
    int64_t now = cu_now();
    size_t i;

    *out = NULL;
    *why = NULL;
    case_call_init(&k, svc, who, AUDIT_CASE_OPEN);
    model_customer_init(&m);
    p = policy_purpose_from_name(purpose);
    if (p < 0) {
        rc = cu_errf(errmsg, CU_ERR_INVALID,
                     "purpose must be customer_support, fraud_investigation or legal_request");
        goto out;
    }
    support = p == POLICY_PURPOSE_CUSTOMER_SUPPORT;
    if (customer_id == NULL || model_norm_customer_id(customer_id, &norm, &merr) != CU_OK) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "customer_id: %s",
                     merr.reason ? merr.reason : "required");
        goto out;
    }
    if (!support &&
        (reason == NULL || strlen(reason) < REASON_MIN || strlen(reason) > REASON_MAX)) {
        rc = cu_errf(errmsg, CU_ERR_INVALID,
                     "an investigation needs a reason of %d to %d characters", REASON_MIN,
                     REASON_MAX);
        goto out;
    }
    if (send_to != NULL && strcmp(send_to, "phone") != 0 && strcmp(send_to, "email") != 0) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "send_to must be phone or email");
        goto out;
    }
    vault_random(raw, sizeof(raw));
    id[0] = 'K', id[1] = '-';
    for (i = 0; i < sizeof(raw); i++)
        snprintf(id + 2 + 2 * i, 3, "%02x", raw[i]);
    k.c.id = xstrdup(id);
    k.c.purpose = xstrdup(policy_purpose_name(p));
    k.c.customer_id = xstrdup(norm);
    k.c.requester = xstrdup(who->username);
    k.c.requester_role = xstrdup(who->role);
    k.c.store = xstrdup(who->store ? who->store : "");
    if (!policy_may_open(svc->policy, (enum policy_role)role_of(who), (enum policy_purpose)p)) {
        rc = refuse(&k, CU_ERR_FORBIDDEN, "purpose-not-allowed", NULL,
                    "role %s may not open %s cases", who->role, k.c.purpose);
        goto decided;
    }
    /* A support case needs only where to send the code; another case's
     * reason is checked against every value. */
    rc = service_customer_open(svc, norm, support ? SERVICE_FIELDS_CONTACT : SERVICE_FIELDS_ALL, &m,
                               errmsg);
    if (rc == CU_ERR_NOT_FOUND) {
        int64_t erased_at = 0;
        int erased = service_customer_erased(svc, norm, &erased_at, NULL) == CU_OK;

        free(*errmsg);
        *errmsg = NULL;
        if (!erased) {
            free(k.c.customer_id);
            k.c.customer_id = NULL; /* the audit names no one who does not exist */
        }
        rc = refuse(&k, CU_ERR_NOT_FOUND, erased ? "customer-erased" : "customer-not-found", NULL,
                    erased ? "the customer was erased" : "no such customer");
        goto decided;
    }
    if (rc != CU_OK)
        goto out;
    if (!support && service_mentions(reason, &m)) {
        rc = cu_errf(errmsg, CU_ERR_INVALID,
                     "the reason contains the customer's personal data; it is kept in the audit "
                     "log, which must not hold any: describe the purpose instead");
        goto out;
    }
    if (support && !service_contact(&m, send_to, &channel, &to))
        rc = refuse(&k, CU_ERR_CONFLICT, "no-contact", NULL,
                    "the customer has no phone or e-mail on file to send a code to");
    /* A canary's case, of any purpose, is judged as its look-up would be:
     * critical alert and suspension, the request itself answered. */
    if (rc == CU_OK)
        rc = service_is_canary(svc, norm, &canary, errmsg);
    if (rc == CU_OK && (support || canary))
        rc = detect_gate(&k, DETECT_CASE_OPEN, NULL, canary, NULL, errmsg);
decided:
    k.side = support ? "customer_support" : NULL;
    snprintf(detail, sizeof(detail), "%s%s%s", k.c.purpose,
             support ? "" : ": reason: ", support ? "" : reason);
    rc = settle(&k, rc, NULL, detail, why, errmsg);
    if (rc != CU_OK)
        goto out;
    k.c.reason = support ? NULL : xstrdup(reason);
    k.c.status = xstrdup(policy_case_state_name(support ? POLICY_CASE_AWAITING_VERIFICATION
                                                        : POLICY_CASE_PENDING_APPROVAL));
    k.c.created_at = k.c.updated_at = now;
    k.c.expires_at = now + svc->case_ttl_s;
    if (support) {
        snprintf(code, sizeof(code), "%06u", vault_random_uniform(CODE_SPACE));
        code_hash(svc, k.c.id, code, k.c.code_hash);
        k.c.has_code = 1;
        k.c.code_expires_at = now + SERVICE_CODE_SECONDS;
        snprintf(text, sizeof(text),
                 "Your verification code is %s. Give it only to the staff member serving you "
                 "now (store %s). It expires in %d minutes.",
                 code, k.c.store, SERVICE_CODE_SECONDS / 60);
    }
    rc = store_case_put(svc->store, &k.c, 1, errmsg);
    if (rc == CU_OK && support)
        rc = service_notify(svc, k.c.customer_id, k.c.id, channel, to, text, errmsg);
    if (rc != CU_OK)
        goto out;
    *out = case_view(&k.c, now);
    if (support) {
        masked = strcmp(channel, "sms") == 0 ? model_mask_phone(to) : model_mask_email(to);
        json_object_set_new(*out, "code_sent_to", json_string(masked));
    }
out:
    cu_wipe(code, sizeof(code));
    cu_wipe(text, sizeof(text));
    free(masked);
    free(norm);
    model_customer_release(&m);
    store_case_release(&k.c);
    return rc;
}

int service_case_verify(struct service *svc, const struct service_actor *who, const char *case_id,
                        const char *code, json_t **out, const char **why, char **errmsg)
{
    struct case_call k;
    unsigned char h[32];
    int64_t now = cu_now();
    int rc, tries = 0;

    *out = NULL;
    *why = NULL;
    case_call_init(&k, svc, who, AUDIT_CASE_VERIFY);
    if (code == NULL || strlen(code) != CODE_DIGITS || strspn(code, "0123456789") != CODE_DIGITS) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "the code is %d digits", CODE_DIGITS);
        goto out;
    }
    rc = load(&k, case_id, CASE_OWNER, errmsg);
    if (rc == CU_OK)
        rc = detect_gate(&k, DETECT_VERIFY, NULL, 0, NULL, errmsg);
    if (rc == CU_OK &&
        (case_state(&k.c, now) != POLICY_CASE_AWAITING_VERIFICATION || !k.c.has_code))
        rc = refuse(&k, CU_ERR_CONFLICT, "case-state", NULL,
                    "case %s is %s, not awaiting verification", k.c.id, k.c.status);
    if (rc == CU_OK) {
        /* The try is taken before the code is compared, atomically, so that
         * requests in parallel cannot get more than SERVICE_CODE_TRIES. */
        rc = store_case_take_try(svc->store, k.c.id, SERVICE_CODE_TRIES, &tries, errmsg);
        if (rc == CU_ERR_LIMIT) {
            free(*errmsg);
            *errmsg = NULL;
            rc = refuse(&k, CU_ERR_LIMIT, "too-many-attempts", NULL,
                        "%d wrong codes: this case cannot be verified; open a new one",
                        SERVICE_CODE_TRIES);
        }
    }
    if (rc == CU_OK && now > k.c.code_expires_at)
        rc = refuse(&k, CU_ERR_CONFLICT, "code-expired", NULL,
                    "the code has expired; open a new case to send another");
    if (rc == CU_OK) {
        code_hash(svc, k.c.id, code, h);
        if (!vault_equal(h, k.c.code_hash, sizeof(h))) {
            service_detect_wrong_code(svc, who);
            rc = refuse(&k, CU_ERR_FORBIDDEN, "code-incorrect", NULL,
                        "wrong code (%d of %d tries left)", SERVICE_CODE_TRIES - tries,
                        SERVICE_CODE_TRIES);
        }
    }
    rc = settle(&k, rc, NULL, NULL, why, errmsg);
    if (rc != CU_OK)
        goto out;
    k.c.has_code = 0; /* a code verifies once */
    k.c.code_tries = tries;
    rc = set_status(&k, POLICY_CASE_VERIFIED, now, errmsg);
    if (rc == CU_OK)
        *out =
            json_pack("{s:s, s:I}", "status", k.c.status, "expires_at", (json_int_t)k.c.expires_at);
out:
    store_case_release(&k.c);
    return rc;
}

int service_case_approve(struct service *svc, const struct service_actor *who, const char *case_id,
                         json_t **out, const char **why, char **errmsg)
{
    struct case_call k;
    int rc;

    *out = NULL;
    *why = NULL;
    case_call_init(&k, svc, who, AUDIT_CASE_APPROVE);
    rc = load(&k, case_id, CASE_APPROVER, errmsg);
    if (rc == CU_OK &&
        strcmp(k.c.status, policy_case_state_name(POLICY_CASE_PENDING_APPROVAL)) != 0) {
        rc = refuse(&k, CU_ERR_CONFLICT, "case-state", NULL, "case %s is %s, not pending approval",
                    k.c.id, k.c.status);
    } else if (rc == CU_OK) {
        struct detect_verdict v;

        rc = service_detect_approval(svc, who, k.c.requester, &v, errmsg);
        if (rc == CU_OK)
            rc = service_detect_act(svc, who, &v, errmsg);
        k.side = k.c.requester; /* to the detector's commit hook */
    }
    rc = settle(&k, rc, NULL, NULL, why, errmsg);
    if (rc != CU_OK)
        goto out;
    k.c.approver = xstrdup(who->username);
    rc = set_status(&k, POLICY_CASE_APPROVED, cu_now(), errmsg);
    if (rc == CU_OK)
        *out = json_pack("{s:s}", "status", k.c.status);
out:
    store_case_release(&k.c);
    return rc;
}

int service_case_refuse(struct service *svc, const struct service_actor *who, const char *case_id,
                        json_t **out, const char **why, char **errmsg)
{
    struct case_call k;
    struct service_access a;
    int rc;

    *out = NULL;
    *why = NULL;
    case_call_init(&k, svc, who, AUDIT_CASE_APPROVE);
    rc = load(&k, case_id, CASE_APPROVER, errmsg);
    if (rc == CU_OK &&
        strcmp(k.c.status, policy_case_state_name(POLICY_CASE_PENDING_APPROVAL)) != 0)
        rc = refuse(&k, CU_ERR_CONFLICT, "case-state", NULL, "case %s is %s, not pending approval",
                    k.c.id, k.c.status);
    if (rc != CU_OK) {
        rc = settle(&k, rc, NULL, NULL, why, errmsg);
        goto out;
    }
    /* The refusal of an approval is the supervisor's decision: audited as
     * an approval denied, then the case closes. */
    decision(&k, NULL, "approval refused", &a);
    a.decision = AUDIT_DENY;
    a.reasons = "approval-refused";
    rc = service_audit_access(svc, who, &a, NULL, errmsg);
    if (rc == CU_OK) {
        k.c.approver = xstrdup(who->username);
        rc = set_status(&k, POLICY_CASE_CLOSED, cu_now(), errmsg);
    }
    if (rc == CU_OK)
        *out = json_pack("{s:s}", "status", k.c.status);
out:
    store_case_release(&k.c);
    return rc;
}

struct pending_ctx {
    json_t *list;
    int64_t now;
};

static int pending_add(void *arg, const struct store_case *c)
{
    struct pending_ctx *p = arg;

    if (case_state(c, p->now) == POLICY_CASE_PENDING_APPROVAL)
        json_array_append_new(p->list, case_view(c, p->now));
    return 0;
}

int service_cases_pending(struct service *svc, json_t **out, char **errmsg)
{
    struct pending_ctx p = {json_array(), cu_now()};
    int rc = store_case_list(svc->store, policy_case_state_name(POLICY_CASE_PENDING_APPROVAL), 1000,
                             pending_add, &p, errmsg);

    *out = NULL;
    if (rc != CU_OK) {
        json_decref(p.list);
        return rc;
    }
    *out = json_pack("{s:o}", "cases", p.list);
    return CU_OK;
}

int service_case_cosign(struct service *svc, const struct service_actor *who, const char *case_id,
                        json_t **out, const char **why, char **errmsg)
{
    struct case_call k;
    int64_t now = cu_now();
    int rc;

    *out = NULL;
    *why = NULL;
    case_call_init(&k, svc, who, AUDIT_CASE_COSIGN);
    rc = load(&k, case_id, CASE_APPROVER, errmsg);
    if (rc == CU_OK &&
        case_state(&k.c, now) !=
            policy_purpose_requires((enum policy_purpose)policy_purpose_from_name(k.c.purpose)))
        rc = refuse(&k, CU_ERR_CONFLICT, "case-state", NULL,
                    "case %s is %s: only a case that may reveal needs a co-sign", k.c.id,
                    k.c.status);
    rc = settle(&k, rc, NULL, NULL, why, errmsg);
    if (rc != CU_OK)
        goto out;
    free(k.c.cosigned_by);
    k.c.cosigned_by = xstrdup(who->username);
    k.c.cosign_until = now + SERVICE_COSIGN_SECONDS;
    if (k.c.cosign_until > k.c.expires_at)
        k.c.cosign_until = k.c.expires_at;
    k.c.updated_at = now;
    rc = store_case_put(svc->store, &k.c, 0, errmsg);
    if (rc == CU_OK)
        *out = json_pack("{s:s, s:s, s:I}", "case_id", k.c.id, "cosigned_by", who->username,
                         "until", (json_int_t)k.c.cosign_until);
out:
    store_case_release(&k.c);
    return rc;
}

int service_case_close(struct service *svc, const struct service_actor *who, const char *case_id,
                       json_t **out, const char **why, char **errmsg)
{
    struct case_call k;
    int rc;

    *out = NULL;
    *why = NULL;
    case_call_init(&k, svc, who, AUDIT_CASE_CLOSE);
    rc = load(&k, case_id, CASE_OWNER, errmsg);
    rc = settle(&k, rc, NULL, NULL, why, errmsg);
    if (rc != CU_OK)
        goto out;
    k.c.has_code = 0;
    rc = set_status(&k, POLICY_CASE_CLOSED, cu_now(), errmsg);
    if (rc == CU_OK)
        *out = json_pack("{s:s}", "status", k.c.status);
out:
    store_case_release(&k.c);
    return rc;
}

int service_case_get(struct service *svc, const struct service_actor *who, const char *case_id,
                     json_t **out, const char **why, char **errmsg)
{
    struct store_case c;
    int rc;

    *out = NULL;
    *why = NULL;
    store_case_init(&c);
    rc = store_case_get(svc->store, case_id ? case_id : "", &c, errmsg);
    if (rc == CU_OK && strcmp(c.requester, who->username) != 0 &&
        !policy_may_approve(svc->policy, (enum policy_role)role_of(who), who->username,
                            c.requester)) {
        /* not theirs to see: the same answer as no case at all */
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no case '%.64s'", case_id);
    }
    if (rc == CU_OK)
        *out = case_view(&c, cu_now());
    store_case_release(&c);
    return rc;
}

/* The reveal's checks, once the case is loaded: CU_OK or a refusal. */
static int reveal_allowed(struct case_call *k, const int want[MODEL_F__COUNT], const char *canon,
                          const char *customer_id)
{
    const struct service_actor *who = k->who;
    int f, p, st, need;

    if (customer_id != NULL && strcmp(customer_id, k->c.customer_id) != 0)
        return refuse(k, CU_ERR_FORBIDDEN, "wrong-customer", canon,
                      "case %s is about another customer", k->c.id);
    p = policy_purpose_from_name(k->c.purpose);
    st = case_state(&k->c, cu_now());
    need = policy_purpose_requires((enum policy_purpose)p);
    if (st != need)
        return refuse(k, CU_ERR_FORBIDDEN,
                      need == POLICY_CASE_VERIFIED ? "case-not-verified" : "case-not-approved",
                      canon, "case %s is %s: %s first", k->c.id, k->c.status,
                      need == POLICY_CASE_VERIFIED ? "verify the customer's code"
                                                   : "a supervisor must approve it");
    /* The policy of the owner's role now (not of when the case opened). */
    for (f = 0; f < MODEL_F__COUNT; f++)
        if (want[f] && policy_field_view(k->svc->policy, (enum policy_role)role_of(who),
                                         (enum policy_purpose)p, (enum policy_case_state)st,
                                         (enum model_field)f) != POLICY_FULL)
            return refuse(k, CU_ERR_FORBIDDEN, "field-not-allowed", canon,
                          "role %s may not see %s in full under %s", who->role, model_field_name(f),
                          k->c.purpose);
    return CU_OK;
}

void service_case_reveal_async(struct service *svc, const struct service_actor *who,
                               const char *case_id, const char *fields, const char *customer_id,
                               service_done_fn done, void *ctx)
{
    struct case_call k;
    struct model_customer m;
    struct buf canon = BUF_INIT;
    struct service_access a;
    struct service_held *h;
    int want[MODEL_F__COUNT], f, rc, canary = 0;
    unsigned wanted = 0;
    json_t *vals, *out = NULL;
    char *err = NULL;

    case_call_init(&k, svc, who, AUDIT_REVEAL);
    model_customer_init(&m);
    rc = service_parse_fields(fields, want, &canon, &err);
    if (rc == CU_OK)
        rc = load(&k, case_id, CASE_OWNER, &err);
    if (rc == CU_OK)
        rc = reveal_allowed(&k, want, canon.data, customer_id);
    for (f = 0; rc == CU_OK && f < MODEL_F__COUNT; f++)
        if (want[f])
            wanted |= SERVICE_FIELD(f);
    /* only the fields asked for are opened */
    if (rc == CU_OK)
        rc = service_customer_open(svc, k.c.customer_id, wanted, &m, &err);
    /* The detector judges before anything is answered. */
    if (rc == CU_OK)
        rc = service_is_canary(svc, k.c.customer_id, &canary, &err);
    if (rc == CU_OK)
        rc = detect_gate(&k, DETECT_REVEAL, want, canary, canon.data, &err);
    if (rc != CU_OK && !k.refused) {
        done(ctx, rc, NULL, NULL, err);
        goto out;
    }
    if (rc == CU_OK) {
        vals = json_object();
        for (f = 0; f < MODEL_F__COUNT; f++)
            if (want[f])
                json_object_set_new(vals, model_field_name(f), service_field_json(&m, f));
        out = json_pack("{s:s, s:s, s:o}", "customer_id", k.c.customer_id, "case_id", k.c.id,
                        "fields", vals);
    }
    /* Answered only once the entry (allowed or refused) is durable; the
     * allowed answer carries its leaf index. */
    h = service_hold(done, ctx);
    service_held_answer(h, k.refused, out, k.refused ? k.slug : NULL,
                        k.refused ? xstrdup(k.msg) : NULL);
    decision(&k, canon.data, NULL, &a);
    service_held_entry(svc, h, who, &a, !k.refused);
    service_held_release(h);
out:
    model_customer_release(&m);
    buf_release(&canon);
    store_case_release(&k.c);
}

int service_case_reveal(struct service *svc, const struct service_actor *who, const char *case_id,
                        const char *fields, const char *customer_id, json_t **out, const char **why,
                        char **errmsg)
{
    struct service_wait w;

    service_wait_init(&w);
    service_case_reveal_async(svc, who, case_id, fields, customer_id, service_wait_done, &w);
    return service_wait(&w, out, why, errmsg);
}
