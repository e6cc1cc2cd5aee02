/*
 * The customer portal (API.md /v1/subject/...): customers sign in with
 * their account and a one-time code sent to the phone or e-mail on file,
 * and are told of every full reveal of their data (access notices), at
 * once or as a daily digest.  What they may then read (their access log,
 * their export) is subject.c.
 *
 * Sign-in is throttled like the staff log-in: 20 failures from one client
 * address in 10 minutes lock it for 15; 5 wrong codes for one account lock
 * the account for 15 minutes; a code lives 10 minutes and takes at most 5
 * tries; a new code is sent at most once a minute.  An unknown account gets
 * the same answer as a known one.  Codes and tokens are stored only as
 * keyed hashes.
 *
 * Notices: the audit writer's commit hook (service_notices_committed)
 * records one pending notice per allowed reveal in the reveal's own audit
 * commit, so none is lost or doubled by a crash; service_notices_run()
 * turns pending notices into outbox messages later, off the reveal's path
 * (the outbox then delivers them at least once, with retries).
 */
#include "service_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../audit/audit.h"

#define SUBJECT_TTL      3600 /* a customer's session */
#define SUBJECT_RESEND   60   /* at most one code a minute per account */
#define ACCOUNT_FAILURES 5
#define ACCOUNT_LOCK     (15 * 60)
#define DIGEST_SECONDS   86400
#define NOTICE_BATCH     256
#define NOTICE_LINES     20 /* a digest lists this many views, then counts the rest */
#define TOKEN_BYTES      32

/* The actor of a customer's own requests (audited as role "customer"). */
static void customer_actor(struct service_actor *who, const char *client, const char *request_id)
{
    memset(who, 0, sizeof(*who));
    who->username = "customer";
    who->role = SERVICE_ROLE_CUSTOMER;
    who->client = client ? client : "unknown";
    who->request_id = request_id;
}

static void code_hash(const struct service *svc, const char *customer_id, const char *code,
                      unsigned char out[32])
{
    char msg[128];
    int n = snprintf(msg, sizeof(msg), "subject-code|%s|%s", customer_id, code);

    vault_token_hash(svc->vault, msg, (size_t)n, out);
    cu_wipe(msg, sizeof(msg));
}

/* Per-account throttling rides on the log-in throttle, under its own key. */
static char *account_key(const char *customer_id)
{
    return xasprintf("subject-account|%s", customer_id);
}

static char *client_key(const char *client)
{
    return xasprintf("subject|%s", client ? client : "unknown");
}

/* The one customer an account names: its id and where a code goes. */
struct account {
    size_t n;
    char *customer_id;
    char *channel;
    char *to;
};

static int account_found(void *arg, const struct model_customer *m, int device)
{
    struct account *a = arg;
    const char *channel, *to;

    (void)device;
    if (++a->n > 1 || !service_contact(m, NULL, &channel, &to))
        return CU_OK;
    a->customer_id = xstrdup(m->customer_id);
    a->channel = xstrdup(channel);
    a->to = xstrdup(to);
    return CU_OK;
}

static void account_release(struct account *a)
{
    free(a->customer_id);
    if (a->to != NULL) {
        cu_wipe(a->to, strlen(a->to));
        free(a->to);
    }
    free(a->channel);
    memset(a, 0, sizeof(*a));
}

/* Finds the account: CU_OK with a->customer_id set only for exactly one
 * customer with a phone or e-mail on file (a malformed account is an
 * unknown one). */
static int find_account(struct service *svc, const char *account, struct account *a, char **errmsg)
{
    size_t n = 0;
    int rc;

    memset(a, 0, sizeof(*a));
    rc = service_find(svc, MODEL_ID_ACCOUNT, account, account_found, a, &n, errmsg);
    if (rc == CU_ERR_INVALID) {
        /* not an account number: answered as an unknown account */
        free(*errmsg);
        *errmsg = NULL;
        rc = CU_OK;
    }
    if (rc == CU_OK && a->n != 1)
        account_release(a);
    return rc;
}

/* A refusal of a customer's sign-in step, audited before it is answered. */
static int refuse(struct service *svc, const struct service_actor *who, const char *customer_id,
                  const char *reason, const char *detail, int rc, const char *msg, char **errmsg)
{
    struct service_access a = {.action = AUDIT_SUBJECT_LOGIN,
                               .decision = AUDIT_DENY,
                               .customer_id = customer_id,
                               .reasons = reason,
                               .detail = detail};
    int arc = service_audit_access(svc, who, &a, NULL, errmsg);

    if (arc != CU_OK)
        return arc;
    return cu_errf(errmsg, rc, "%s", msg);
}

int service_subject_code(struct service *svc, const char *account, const char *client,
                         const char *request_id, char **errmsg)
{
    struct service_actor who;
    struct service_access a = {.action = AUDIT_SUBJECT_LOGIN, .decision = AUDIT_ALLOW};
    struct store_subject_code old;
    struct account acc;
    unsigned char h[32];
    char code[8], text[200], *ckey = client_key(client), *akey = NULL;
    int64_t now = cu_now(), until = 0;
    int rc;

    customer_actor(&who, client, request_id);
    memset(&acc, 0, sizeof(acc));
    if (account == NULL || account[0] == '\0' || strlen(account) > 254) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "account is required");
        goto out;
    }
    rc = service_throttle_check(svc, ckey, now, &until, errmsg);
    if (rc == CU_OK && until > now)
        rc = cu_errf(errmsg, CU_ERR_LIMIT,
                     "too many attempts from this address; try again in %lld minutes",
                     (long long)((until - now + 59) / 60));
    if (rc == CU_OK)
        rc = find_account(svc, account, &acc, errmsg);
    if (rc != CU_OK)
        goto out;
    if (acc.customer_id == NULL) {
        /* The same answer as for a known account; the attempt counts
         * against the client address, so accounts cannot be enumerated. */
        service_throttle_fail(svc, ckey, now);
        rc = service_audit_note(svc, &who, AUDIT_SUBJECT_LOGIN, 0, "code: unknown account", errmsg);
        goto out;
    }
    akey = account_key(acc.customer_id);
    rc = service_throttle_check(svc, akey, now, &until, errmsg);
    if (rc != CU_OK)
        goto out;
    if (until > now) {
        struct service_access d = {.action = AUDIT_SUBJECT_LOGIN,
                                   .decision = AUDIT_DENY,
                                   .customer_id = acc.customer_id,
                                   .reasons = "account-locked",
                                   .detail = "code"};

        rc = service_audit_access(svc, &who, &d, NULL, errmsg);
        goto out;
    }
    rc = store_subject_code_get(svc->store, acc.customer_id, &old, errmsg);
    if (rc == CU_OK && now - old.sent_at < SUBJECT_RESEND)
        goto out; /* the code sent a moment ago stands */
    if (rc == CU_ERR_NOT_FOUND) {
        free(*errmsg);
        *errmsg = NULL;
        rc = CU_OK;
    }
    if (rc != CU_OK)
        goto out;
    snprintf(code, sizeof(code), "%06u", vault_random_uniform(1000000));
    code_hash(svc, acc.customer_id, code, h);
    snprintf(text, sizeof(text),
             "Your code to see who accessed your data is %s. It expires in %d minutes. Never "
             "give it to anyone, staff included.",
             code, SERVICE_CODE_SECONDS / 60);
    /* Recorded before the code leaves. */
    a.customer_id = acc.customer_id;
    a.fields = strcmp(acc.channel, "sms") == 0 ? "phone" : "email";
    a.detail = "code sent";
    rc = service_audit_access(svc, &who, &a, NULL, errmsg);
    if (rc == CU_OK)
        rc = store_subject_code_put(svc->store, acc.customer_id, h, now, now + SERVICE_CODE_SECONDS,
                                    errmsg);
    if (rc == CU_OK)
        rc = service_notify(svc, acc.customer_id, NULL, acc.channel, acc.to, text, errmsg);
out:
    cu_wipe(code, sizeof(code));
    cu_wipe(text, sizeof(text));
    free(ckey);
    free(akey);
    account_release(&acc);
    return rc;
}

int service_subject_login(struct service *svc, const char *account, const char *code,
                          const char *client, const char *request_id, json_t **out, char **errmsg)
{
    static const char wrong[] =
        "wrong account or code (or the code has expired: ask for a new one)";
    struct service_actor who;
    struct store_subject_code c;
    struct account acc;
    unsigned char h[32], token[TOKEN_BYTES], th[32];
    char text[sodium_base64_ENCODED_LEN(TOKEN_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    char *ckey = client_key(client), *akey = NULL;
    const char *reason = NULL;
    int64_t now = cu_now(), until = 0;
    int rc;

    *out = NULL;
    customer_actor(&who, client, request_id);
    memset(&acc, 0, sizeof(acc));
    if (account == NULL || account[0] == '\0' || code == NULL || strlen(code) != 6 ||
        strspn(code, "0123456789") != 6) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "account and a 6-digit code are required");
        goto out;
    }
    rc = service_throttle_check(svc, ckey, now, &until, errmsg);
    if (rc == CU_OK && until > now) {
        rc = refuse(svc, &who, NULL, "client-locked", "login", CU_ERR_LIMIT,
                    "too many attempts from this address; try again later", errmsg);
        goto out;
    }
    if (rc == CU_OK)
        rc = find_account(svc, account, &acc, errmsg);
    if (rc != CU_OK)
        goto out;
    if (acc.customer_id == NULL) {
        reason = "unknown-account";
        goto failed;
    }
    akey = account_key(acc.customer_id);
    rc = service_throttle_check(svc, akey, now, &until, errmsg);
    if (rc != CU_OK)
        goto out;
    if (until > now) {
        rc = refuse(svc, &who, acc.customer_id, "account-locked", "login", CU_ERR_LIMIT,
                    "too many wrong codes for this account; try again later", errmsg);
        goto out;
    }
    /* The try is taken before the code is compared, atomically. */
    rc = store_subject_code_take(svc->store, acc.customer_id, SERVICE_CODE_TRIES, &c, errmsg);
    if (rc == CU_ERR_NOT_FOUND || rc == CU_ERR_LIMIT) {
        free(*errmsg);
        *errmsg = NULL;
        reason = rc == CU_ERR_LIMIT ? "too-many-attempts" : "no-code";
        rc = CU_OK;
        goto failed;
    }
    if (rc != CU_OK)
        goto out;
    if (now > c.expires_at) {
        reason = "code-expired";
        goto failed;
    }
    code_hash(svc, acc.customer_id, code, h);
    if (!vault_equal(h, c.hash, sizeof(h))) {
        reason = "code-incorrect";
        service_throttle_fail_n(svc, akey, now, ACCOUNT_FAILURES, ACCOUNT_LOCK, ACCOUNT_LOCK);
        goto failed;
    }
    rc = store_subject_code_delete(svc->store, acc.customer_id, errmsg); /* a code signs in once */
    if (rc != CU_OK)
        goto out;
    vault_random(token, sizeof(token));
    sodium_bin2base64(text, sizeof(text), token, sizeof(token),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    vault_token_hash(svc->vault, text, strlen(text), th);
    rc = store_subject_session_put(svc->store, th, acc.customer_id, now, now + SUBJECT_TTL, errmsg);
    if (rc == CU_OK) {
        /* Recorded before the token is handed out. */
        struct service_access a = {.action = AUDIT_SUBJECT_LOGIN,
                                   .decision = AUDIT_ALLOW,
                                   .customer_id = acc.customer_id,
                                   .detail = "login"};

        rc = service_audit_access(svc, &who, &a, NULL, errmsg);
    }
    if (rc == CU_OK)
        *out =
            json_pack("{s:s, s:I}", "token", text, "expires_at", (json_int_t)(now + SUBJECT_TTL));
    cu_wipe(text, sizeof(text));
    cu_wipe(token, sizeof(token));
    goto out;
failed:
    service_throttle_fail(svc, ckey, now);
    rc = refuse(svc, &who, acc.customer_id, reason, "login", CU_ERR_AUTH, wrong, errmsg);
out:
    free(ckey);
    free(akey);
    account_release(&acc);
    return rc;
}

static void token_hash(struct service *svc, const char *token, unsigned char out[32])
{
    vault_token_hash(svc->vault, token, strlen(token), out);
}

int service_subject_session(struct service *svc, const char *token, char **customer_id,
                            char **errmsg)
{
    unsigned char th[32];
    int64_t expires_at = 0;
    int rc;

    *customer_id = NULL;
    if (token == NULL || token[0] == '\0' || strlen(token) > 128)
        return cu_errf(errmsg, CU_ERR_AUTH, "no session");
    token_hash(svc, token, th);
    rc = store_subject_session_get(svc->store, th, customer_id, &expires_at, NULL);
    if (rc == CU_ERR_NOT_FOUND)
        return cu_errf(errmsg, CU_ERR_AUTH, "no session (sign in again)");
    if (rc != CU_OK)
        return cu_errf(errmsg, rc, "cannot read the session");
    if (expires_at <= cu_now()) {
        free(*customer_id);
        *customer_id = NULL;
        if (store_subject_session_delete(svc->store, th, NULL) != CU_OK)
            cu_log("subject: cannot delete an expired session");
        return cu_errf(errmsg, CU_ERR_AUTH, "the session has expired (sign in again)");
    }
    return CU_OK;
}

int service_subject_logout(struct service *svc, const char *token, char **errmsg)
{
    unsigned char th[32];

    if (token == NULL || token[0] == '\0' || strlen(token) > 128)
        return cu_errf(errmsg, CU_ERR_AUTH, "no session");
    token_hash(svc, token, th);
    return store_subject_session_delete(svc->store, th, errmsg);
}

int service_subject_notices(struct service *svc, const char *customer_id, int set, int *daily,
                            char **errmsg)
{
    if (set)
        return store_subject_digest_put(svc->store, customer_id, *daily != 0, errmsg);
    return store_subject_digest_get(svc->store, customer_id, daily, errmsg);
}

int service_subject_read_log(struct service *svc, const struct service_actor *who,
                             const char *customer_id, json_t **out, char **errmsg)
{
    struct service_access a = {.action = AUDIT_SUBJECT_ACCESS,
                               .decision = AUDIT_ALLOW,
                               .customer_id = customer_id,
                               .detail = "access log"};
    int rc = service_audit_access(svc, who, &a, NULL, errmsg);

    *out = NULL;
    return rc == CU_OK ? service_subject_access_log(svc, customer_id, out, errmsg) : rc;
}

struct about_ctx {
    unsigned char pseudonym[AUDIT_PSEUDONYM_BYTES];
    int about;
};

static int entry_about(void *arg, const struct store_audit_row *row)
{
    struct about_ctx *ctx = arg;

    ctx->about = row->subject != NULL && row->subject_len == sizeof(ctx->pseudonym) &&
                 memcmp(row->subject, ctx->pseudonym, sizeof(ctx->pseudonym)) == 0;
    return 0;
}

int service_subject_inclusion(struct service *svc, const char *customer_id, uint64_t index,
                              uint64_t size, json_t **out, char **errmsg)
{
    struct about_ctx ctx = {{0}, 0};
    int rc;

    *out = NULL;
    vault_pseudonym(svc->vault, customer_id, ctx.pseudonym);
    rc = store_audit_scan(svc->store, index, index + 1, entry_about, &ctx, errmsg);
    if (rc != CU_OK)
        return rc;
    if (!ctx.about)
        return cu_errf(errmsg, CU_ERR_FORBIDDEN, "entry %llu is not about you",
                       (unsigned long long)index);
    return service_audit_inclusion(svc, index, size, out, errmsg);
}

/* ---- access notices -------------------------------------------------- */

#define NOTICE_ID_MAX  80 /* a customer id in side data, with its NUL */
#define NOTICE_ADD_MAX 64 /* notices a store_notice_add call takes */

int service_notices_committed(struct store *s, const struct audit_committed *e, size_t n,
                              char **errmsg)
{
    struct store_notice notices[NOTICE_ADD_MAX];
    char ids[NOTICE_ADD_MAX][NOTICE_ID_MAX];
    size_t i, k = 0;
    int rc = CU_OK;

    for (i = 0; rc == CU_OK && i < n; i++) {
        /* An allowed reveal carries its customer's id as side data
         * (service_audit_entry). */
        if (e[i].action != AUDIT_REVEAL || e[i].decision != AUDIT_ALLOW || e[i].side_len == 0 ||
            e[i].side_len >= NOTICE_ID_MAX)
            continue;
        memcpy(ids[k], e[i].side, e[i].side_len);
        ids[k][e[i].side_len] = '\0';
        notices[k] = (struct store_notice){e[i].index, ids[k], e[i].time_ms / 1000};
        if (++k == NOTICE_ADD_MAX) {
            rc = store_notice_add(s, notices, k, errmsg);
            k = 0;
        }
    }
    if (rc == CU_OK && k > 0)
        rc = store_notice_add(s, notices, k, errmsg);
    return rc;
}

struct pending {
    uint64_t index;
    char *customer_id;
    int64_t created_at;
};

struct pending_list {
    struct pending *p;
    size_t n, cap;
};

static int pending_add(void *arg, uint64_t index, const char *customer_id, int64_t created_at)
{
    struct pending_list *l = arg;

    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->p = xrealloc(l->p, l->cap * sizeof(*l->p));
    }
    l->p[l->n].index = index;
    l->p[l->n].customer_id = xstrdup(customer_id);
    l->p[l->n].created_at = created_at;
    l->n++;
    return 0;
}

static void pending_release(struct pending_list *l)
{
    size_t i;

    for (i = 0; i < l->n; i++)
        free(l->p[i].customer_id);
    free(l->p);
    memset(l, 0, sizeof(*l));
}

/* One line about one reveal: "2026-11-24 10:32 UTC, store S001: name and
 * phone (customer support, case K-...)". */
struct line_ctx {
    struct service *svc;
    struct buf *text;
    char *case_id; /* the first line's case */
};

static const char *purpose_words(const char *purpose)
{
    if (purpose == NULL)
        return "an operator's request";
    if (strcmp(purpose, "customer_support") == 0)
        return "your support case";
    if (strcmp(purpose, "fraud_investigation") == 0)
        return "a fraud investigation";
    if (strcmp(purpose, "legal_request") == 0)
        return "a legal request";
    return purpose;
}

static int notice_line(void *arg, const struct store_audit_row *row)
{
    struct line_ctx *ctx = arg;
    struct audit_entry e;
    struct buf scratch = BUF_INIT;
    struct store_case c;
    char when[32], fields[256];
    time_t t;
    struct tm tm;
    size_t i, j = 0;
    int have_case = 0;

    store_case_init(&c);
    if (audit_entry_decode(row->leaf, row->len, &e, &scratch) != CU_OK) {
        buf_release(&scratch);
        return 0; /* cannot happen for a verified log: skip rather than stall */
    }
    t = (time_t)(e.time_ms / 1000);
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
    /* "name,phone" -> "name, phone" */
    for (i = 0; e.fields != NULL && e.fields[i] != '\0' && j + 3 < sizeof(fields); i++) {
        fields[j++] = e.fields[i];
        if (e.fields[i] == ',')
            fields[j++] = ' ';
    }
    fields[j] = '\0';
    if (e.case_id != NULL && e.case_id[0] != '\0' &&
        store_case_get(ctx->svc->store, e.case_id, &c, NULL) == CU_OK)
        have_case = 1;
    if (have_case && ctx->case_id == NULL)
        ctx->case_id = xstrdup(c.id);
    buf_addf(ctx->text, "%s%s at store %s, for %s%s%s: %s", ctx->text->len ? "\n" : "", when,
             e.store && e.store[0] ? e.store : "(none)",
             purpose_words(have_case ? c.purpose : NULL), have_case ? " " : "",
             have_case ? c.id : "", fields[0] ? fields : "(no field)");
    store_case_release(&c);
    buf_release(&scratch);
    return 0;
}

/*
 * A message for the pending notices idx[0..n) of one customer, built
 * outside any transaction (notice_build) and queued in one with others
 * (notices_flush).  Queuing deletes the notices first: that is the claim.
 * With several servers on one store, two couriers may pick the same
 * notice, and the second finds it gone (store_notice_delete says
 * CU_ERR_NOT_FOUND, after waiting for the first one's transaction) and
 * sends nothing.
 */
struct notice_msg {
    char *customer_id;
    uint64_t *idx;
    size_t n;
    char *case_id;       /* the reveal's case, for a single notice */
    const char *channel; /* NULL: erased, or nowhere to write to (only forgotten) */
    char *to;            /* personal: wiped */
    struct buf text;     /* personal: wiped */
};

#define NOTICE_TX 32 /* messages queued per transaction */

static void notice_release(struct notice_msg *m)
{
    free(m->customer_id);
    free(m->idx);
    free(m->case_id);
    if (m->to != NULL)
        cu_wipe(m->to, strlen(m->to));
    free(m->to);
    buf_release_wipe(&m->text);
    memset(m, 0, sizeof(*m));
}

static int notice_build(struct service *svc, const char *customer_id, const uint64_t *idx, size_t n,
                        struct notice_msg *msg, char **errmsg)
{
    struct model_customer m;
    struct buf lines = BUF_INIT;
    struct line_ctx lc = {svc, &lines, NULL};
    const char *channel, *to;
    size_t i;
    int rc = CU_OK;

    memset(msg, 0, sizeof(*msg));
    msg->customer_id = xstrdup(customer_id);
    msg->idx = xmalloc(n * sizeof(*idx));
    memcpy(msg->idx, idx, n * sizeof(*idx));
    msg->n = n;
    model_customer_init(&m);
    for (i = 0; rc == CU_OK && i < n && i < NOTICE_LINES; i++)
        rc = store_audit_scan(svc->store, idx[i], idx[i] + 1, notice_line, &lc, errmsg);
    if (rc == CU_OK)
        rc = service_customer_open(svc, customer_id, SERVICE_FIELDS_CONTACT, &m, errmsg);
    if (rc == CU_OK && service_contact(&m, NULL, &channel, &to)) {
        msg->channel = channel;
        msg->to = xstrdup(to);
    } else if (rc == CU_ERR_NOT_FOUND) { /* erased */
        free(*errmsg);
        *errmsg = NULL;
        rc = CU_OK;
    }
    if (n > NOTICE_LINES)
        buf_addf(&lines, "\n... and %zu more", n - NOTICE_LINES);
    if (n == 1)
        buf_addf(&msg->text,
                 "Custodian: your data was viewed in full: %.*s. If you did not ask "
                 "for this, tell us.",
                 (int)lines.len, (const char *)lines.data);
    else
        buf_addf(&msg->text,
                 "Custodian: your data was viewed in full %zu times:\n%.*s\nIf you did "
                 "not ask for this, tell us.",
                 n, (int)lines.len, (const char *)lines.data);
    buf_add(&msg->text, "", 1);
    msg->case_id = n == 1 ? lc.case_id : NULL;
    if (n != 1)
        free(lc.case_id);
    model_customer_release(&m);
    buf_release(&lines);
    return rc;
}

/*
 * Queues msgs[0..n) in one transaction and releases them; *sent counts the
 * messages queued.  If another courier claimed one of the notices first
 * (store_notice_delete says CU_ERR_NOT_FOUND), nothing is queued: the
 * transaction is rolled back whole and *claimed is cleared, so that the
 * caller ends its pass; the next pass reads what is still pending afresh.
 */
static int notices_flush(struct service *svc, struct notice_msg *msgs, size_t n, size_t *sent,
                         int *claimed, char **errmsg)
{
    size_t i, j, queued = 0;
    int rc;

    rc = store_begin(svc->store, errmsg);
    for (i = 0; rc == CU_OK && i < n; i++) {
        for (j = 0; rc == CU_OK && j < msgs[i].n; j++)
            rc = store_notice_delete(svc->store, msgs[i].idx[j], errmsg);
        if (rc == CU_OK && msgs[i].channel != NULL) {
            rc = service_notify(svc, msgs[i].customer_id, msgs[i].case_id, msgs[i].channel,
                                msgs[i].to, (const char *)msgs[i].text.data, errmsg);
            queued++;
        }
    }
    if (rc == CU_OK)
        rc = store_commit(svc->store, errmsg);
    else
        store_rollback(svc->store);
    if (rc == CU_OK)
        *sent += queued;
    if (rc == CU_ERR_NOT_FOUND) {
        free(*errmsg);
        *errmsg = NULL;
        *claimed = 0;
        rc = CU_OK;
    }
    for (i = 0; i < n; i++)
        notice_release(&msgs[i]);
    return rc;
}

/*
 * One message per customer per batch: the views of one customer that are
 * pending together (a clerk who revealed twice in a second) go as one
 * message listing each.  A customer who chose the daily digest gets all
 * their views at once (at their first notice in the pass), once the oldest
 * is a day old.
 */
int service_notices_run(struct service *svc, size_t *sent, char **errmsg)
{
    struct pending_list batch = {0}, mine = {0};
    struct notice_msg msgs[NOTICE_TX];
    uint64_t after = 0, *idx = NULL;
    int64_t now = cu_now();
    size_t i, j, k, nmsgs = 0;
    int rc = CU_OK, daily, more = 1, claimed = 1;
    bool taken[NOTICE_BATCH];

    *sent = 0;
    /* In index order, batch by batch. */
    while (rc == CU_OK && more && claimed) {
        pending_release(&batch);
        rc = store_notice_scan(svc->store, NULL, after, NOTICE_BATCH, pending_add, &batch, errmsg);
        more = batch.n == NOTICE_BATCH;
        memset(taken, 0, sizeof(taken));
        for (i = 0; rc == CU_OK && claimed && i < batch.n; i++) {
            const struct pending *p = &batch.p[i];

            after = p->index + 1;
            if (taken[i])
                continue;
            idx = xrealloc(idx, (batch.n - i) * sizeof(*idx));
            for (j = i, k = 0; j < batch.n; j++)
                if (!taken[j] && strcmp(batch.p[j].customer_id, p->customer_id) == 0) {
                    taken[j] = true;
                    idx[k++] = batch.p[j].index;
                }
            /* The reads that build messages share a snapshot until the
             * next flush writes (a no-op while grouped). */
            store_reads_begin(svc->store);
            rc = store_subject_digest_get(svc->store, p->customer_id, &daily, errmsg);
            if (rc != CU_OK)
                break;
            if (daily) {
                if (now - p->created_at < DIGEST_SECONDS)
                    continue;
                pending_release(&mine);
                rc = store_notice_scan(svc->store, p->customer_id, 0, SIZE_MAX, pending_add, &mine,
                                       errmsg);
                if (rc != CU_OK || mine.n == 0)
                    continue;
                idx = xrealloc(idx, mine.n * sizeof(*idx));
                for (k = 0; k < mine.n; k++)
                    idx[k] = mine.p[k].index;
            }
            rc = notice_build(svc, p->customer_id, idx, k, &msgs[nmsgs++], errmsg);
            /* A digest goes at once: it took notices past this batch, which
             * the next batch must not find again. */
            if (rc == CU_OK && (nmsgs == NOTICE_TX || daily)) {
                rc = notices_flush(svc, msgs, nmsgs, sent, &claimed, errmsg);
                nmsgs = 0;
            }
        }
        /* At most one batch's claims per transaction: the audit writer
         * waits for the write lock while the courier holds it. */
        if (rc == CU_OK && claimed && nmsgs > 0) {
            rc = notices_flush(svc, msgs, nmsgs, sent, &claimed, errmsg);
            nmsgs = 0;
        }
    }
    for (i = 0; i < nmsgs; i++)
        notice_release(&msgs[i]);
    store_reads_end(svc->store);
    pending_release(&batch);
    pending_release(&mine);
    free(idx);
    return rc;
}

/* ---- erasure requests --------------------------------------------------- */

static json_t *erasure_json(const struct store_erasure *r)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I}", "request_id", r->id, "customer_id", r->customer_id,
                  "status", r->status, "requested_at", (json_int_t)r->requested_at);

    if (r->decided_by != NULL)
        json_object_set_new(o, "decided_by", json_string(r->decided_by));
    if (r->decided_at != 0)
        json_object_set_new(o, "decided_at", json_integer(r->decided_at));
    return o;
}

static int erasure_collect(void *ctx, const struct store_erasure *r)
{
    json_array_append_new((json_t *)ctx, erasure_json(r));
    return 0;
}

int service_erasure_request(struct service *svc, const struct service_actor *who,
                            const char *customer_id, json_t **out, char **errmsg)
{
    json_t *pending = json_array();
    unsigned char raw[12];
    char id[2 + 2 * sizeof(raw) + 1], detail[64];
    struct store_erasure r = {0};
    struct service_access a = {.action = AUDIT_SUBJECT_ACCESS,
                               .decision = AUDIT_ALLOW,
                               .customer_id = customer_id,
                               .detail = detail};
    size_t i;
    int rc;

    *out = NULL;
    rc = store_erasure_list(svc->store, NULL, "pending", customer_id, erasure_collect, pending,
                            errmsg);
    if (rc == CU_OK && json_array_size(pending) > 0)
        rc = cu_errf(errmsg, CU_ERR_CONFLICT, "an erasure request (%s) is waiting for a decision",
                     json_string_value(json_object_get(json_array_get(pending, 0), "request_id")));
    if (rc != CU_OK)
        goto out;
    vault_random(raw, sizeof(raw));
    id[0] = 'E', id[1] = '-';
    for (i = 0; i < sizeof(raw); i++)
        snprintf(id + 2 + 2 * i, 3, "%02x", raw[i]);
    snprintf(detail, sizeof(detail), "erasure requested: %s", id);
    r.id = id;
    r.customer_id = customer_id;
    r.status = "pending";
    r.requested_at = cu_now();
    rc = service_audit_access(svc, who, &a, NULL, errmsg);
    if (rc == CU_OK)
        rc = store_erasure_put(svc->store, &r, errmsg);
    if (rc == CU_OK)
        *out = erasure_json(&r);
out:
    json_decref(pending);
    return rc;
}

int service_erasure_list(struct service *svc, const char *status, json_t **out, char **errmsg)
{
    json_t *list = json_array();
    int rc = store_erasure_list(svc->store, NULL, status, NULL, erasure_collect, list, errmsg);

    *out = NULL;
    if (rc == CU_OK)
        *out = json_pack("{s:o}", "requests", list);
    else
        json_decref(list);
    return rc;
}

int service_erasure_decide(struct service *svc, const struct service_actor *who, const char *id,
                           int approve, json_t **out, char **errmsg)
{
    json_t *found = json_array(), *req, *erased = NULL;
    struct store_erasure r = {0};
    char reason[64];
    int rc;

    *out = NULL;
    rc = store_erasure_list(svc->store, id ? id : "", NULL, NULL, erasure_collect, found, errmsg);
    if (rc != CU_OK)
        goto out;
    req = json_array_get(found, 0);
    if (req == NULL) {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no erasure request '%s'", id ? id : "");
        goto out;
    }
    r.id = json_string_value(json_object_get(req, "request_id"));
    r.customer_id = json_string_value(json_object_get(req, "customer_id"));
    r.requested_at = json_integer_value(json_object_get(req, "requested_at"));
    if (strcmp(json_string_value(json_object_get(req, "status")), "pending") != 0) {
        rc = cu_errf(errmsg, CU_ERR_CONFLICT, "erasure request %s is %s already", r.id,
                     json_string_value(json_object_get(req, "status")));
        goto out;
    }
    snprintf(reason, sizeof(reason), "customer request %s", r.id);
    if (approve) {
        /* service_erase checks the role and audits (fail closed) */
        rc = service_erase(svc, who, r.customer_id, reason, &erased, errmsg);
    } else {
        struct service_access a = {.action = AUDIT_ERASE,
                                   .decision = AUDIT_DENY,
                                   .customer_id = r.customer_id,
                                   .reasons = "request-refused",
                                   .detail = reason};

        if (who->role == NULL || strcmp(who->role, "admin") != 0)
            rc = cu_errf(errmsg, CU_ERR_FORBIDDEN, "only an admin decides erasure requests");
        else
            rc = service_audit_access(svc, who, &a, NULL, errmsg);
    }
    if (rc != CU_OK)
        goto out;
    r.status = approve ? "erased" : "refused";
    r.decided_by = who->username;
    r.decided_at = cu_now();
    rc = store_erasure_put(svc->store, &r, errmsg);
    if (rc == CU_OK) {
        *out = erasure_json(&r);
        if (erased != NULL)
            json_object_set(*out, "erase", erased);
    }
out:
    json_decref(erased);
    json_decref(found);
    return rc;
}
