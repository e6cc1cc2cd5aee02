/*
 * Staff log-in, sessions, password change.
 *
 * Tokens are 32 random bytes, base64url; only their keyed hash is stored,
 * so a copy of the database holds no usable session.  Failed log-ins lock
 * the account (5 in a row: 15 minutes) and the client address (20 in 10
 * minutes: 15 minutes).  An unknown username costs the same Argon2id work
 * as a known one and gets the same answer.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../audit/audit.h"
#include "../auth/totp.h"

#define SESSION_TTL      (12 * 3600)
#define SESSION_IDLE     (30 * 60)
#define TOUCH_EVERY      60
#define ACCOUNT_FAILURES 5
#define ACCOUNT_LOCK     (15 * 60)
#define CLIENT_FAILURES  20
#define CLIENT_WINDOW    (10 * 60)
#define CLIENT_LOCK      (15 * 60)
#define TOKEN_BYTES      32
#define MIN_PASSWORD     12
#define MAX_PASSWORD     200

/* An Argon2id hash of a random password, verified against when the account
 * does not exist, so that the time taken does not say whether it does. */
static const char *dummy_hash(void)
{
    static char hash[VAULT_PASSWORD_HASH_BYTES];
    static int ready;

    if (!ready) {
        char pw[24];

        vault_random(pw, sizeof(pw) - 1);
        pw[sizeof(pw) - 1] = '\0';
        if (vault_password_hash(pw, hash, 0) != CU_OK)
            strcpy(hash, "$argon2id$invalid");
        ready = 1;
    }
    return hash;
}

static int audit_login(struct service *svc, const char *username, const char *role,
                       const char *store, const char *client, int ok, const char *reason)
{
    struct service_actor who = {username, role, store, client, NULL};
    char detail[64];

    snprintf(detail, sizeof(detail), "%s", reason ? reason : "");
    return service_audit_note(svc, &who, ok ? AUDIT_LOGIN : AUDIT_LOGIN_FAILED, ok,
                              reason ? detail : NULL, NULL);
}

int service_throttle_check(struct service *svc, const char *key, int64_t now, int64_t *until,
                           char **errmsg)
{
    int64_t failures = 0, start = 0;

    (void)now;
    *until = 0;
    return store_throttle_get(svc->store, key, &failures, &start, until, errmsg);
}

void service_throttle_fail_n(struct service *svc, const char *key, int64_t now, int max,
                             int64_t window, int64_t lock)
{
    int64_t failures = 0, start = 0, locked = 0;

    if (store_throttle_get(svc->store, key, &failures, &start, &locked, NULL) != CU_OK)
        return;
    if (now - start > window) {
        failures = 0;
        start = now;
    }
    failures++;
    if (failures >= max)
        locked = now + lock;
    if (store_throttle_put(svc->store, key, failures, start, locked, NULL) != CU_OK)
        cu_log("login: cannot record a failed log-in");
}

void service_throttle_fail(struct service *svc, const char *key, int64_t now)
{
    service_throttle_fail_n(svc, key, now, CLIENT_FAILURES, CLIENT_WINDOW, CLIENT_LOCK);
}

/* Checks the TOTP code against the account's sealed secret. */
static int check_totp(struct service *svc, struct store_staff *st, const char *code, int64_t now,
                      int64_t *step)
{
    struct buf secret = BUF_INIT;
    char *ctx = xasprintf("totp|%s", st->username);
    int rc;

    rc = vault_secret_open(svc->vault, ctx, st->totp_sealed.data, st->totp_sealed.len, &secret,
                           NULL);
    if (rc == CU_OK)
        rc = totp_check((const unsigned char *)secret.data, secret.len, code, now,
                        st->totp_last_step, step);
    buf_release_wipe(&secret);
    free(ctx);
    return rc;
}

/* A failed log-in (or a wrong current password) on the account as stored
 * now: counted, and the account locked after ACCOUNT_FAILURES in a row. */
static int failure_edit(struct service *svc, struct store_staff *st, void *ctx, char **errmsg)
{
    int64_t now = *(int64_t *)ctx;

    (void)svc;
    (void)errmsg;
    st->failed_logins++;
    if (st->failed_logins >= ACCOUNT_FAILURES) {
        st->locked_until = now + ACCOUNT_LOCK;
        st->failed_logins = 0;
    }
    return CU_OK;
}

static void record_failure(struct service *svc, const char *username, int64_t now)
{
    if (service_staff_edit(svc, username, failure_edit, &now, NULL) != CU_OK)
        cu_log("login: cannot record a failed log-in");
}

/* A log-in that passed on the account as read before Argon2id: checked
 * again on the account as stored now (suspended, locked, password changed
 * or the code used meanwhile), then the code's step is used and the
 * session stored. */
struct login_ctx {
    const char *password_hash; /* as verified */
    int64_t step, now;
    struct store_session *ss;
    const char *reason; /* out: why refused */
};

static int login_edit(struct service *svc, struct store_staff *st, void *ctx, char **errmsg)
{
    struct login_ctx *c = ctx;

    if (st->suspended) {
        c->reason = "suspended";
        return cu_errf(errmsg, CU_ERR_SUSPENDED, "account '%s' is suspended", st->username);
    }
    if (st->locked_until > c->now) {
        c->reason = "account_locked";
        return cu_errf(errmsg, CU_ERR_LIMIT, "too many failed log-ins for this account");
    }
    if (st->totp_last_step >= c->step || strcmp(st->password_hash, c->password_hash) != 0) {
        c->reason = st->totp_last_step >= c->step ? "totp_reused" : "bad_password";
        return cu_errf(errmsg, CU_ERR_AUTH, "wrong username, password or code");
    }
    st->totp_last_step = c->step;
    st->failed_logins = 0;
    return store_session_put(svc->store, c->ss, errmsg);
}

int service_login(struct service *svc, const char *username, const char *password, const char *totp,
                  const char *client, json_t **out, char **errmsg)
{
    struct store_staff st;
    struct store_session ss = {0};
    struct login_ctx lc;
    unsigned char token[TOKEN_BYTES];
    char text[sodium_base64_ENCODED_LEN(TOKEN_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    int64_t now = cu_now(), locked = 0, step = -1;
    const char *reason = NULL;
    int rc, exists = 0;

    *out = NULL;
    store_staff_init(&st);
    if (client == NULL)
        client = "unknown";
    rc = service_throttle_check(svc, client, now, &locked, errmsg);
    if (rc != CU_OK)
        goto out;
    if (locked > now) {
        rc = cu_errf(errmsg, CU_ERR_LIMIT,
                     "too many failed log-ins from this address; try again in %lld minutes",
                     (long long)((locked - now + 59) / 60));
        reason = "client_locked";
        goto failed_quietly;
    }
    rc = store_staff_get(svc->store, username ? username : "", &st, NULL);
    exists = rc == CU_OK;
    if (rc != CU_OK && rc != CU_ERR_NOT_FOUND)
        goto out;
    if (exists && st.locked_until > now) {
        rc = cu_errf(errmsg, CU_ERR_LIMIT,
                     "too many failed log-ins for this account; try again in %lld minutes",
                     (long long)((st.locked_until - now + 59) / 60));
        reason = "account_locked";
        goto failed_quietly;
    }
    /* Argon2id always runs, known account or not. */
    rc = vault_password_verify(exists ? st.password_hash : dummy_hash(), password ? password : "");
    if (rc != CU_OK || !exists) {
        reason = exists ? "bad_password" : "unknown_account";
        goto failed;
    }
    rc = check_totp(svc, &st, totp ? totp : "", now, &step);
    if (rc != CU_OK) {
        reason = rc == CU_ERR_CONFLICT ? "totp_reused" : "bad_totp";
        goto failed;
    }
    /* Suspension and the rest are checked on the account as stored now
     * (login_edit), not on the copy read before Argon2id. */
    vault_random(token, sizeof(token));
    sodium_bin2base64(text, sizeof(text), token, sizeof(token),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    vault_token_hash(svc->vault, text, strlen(text), ss.token_hash);
    ss.username = st.username;
    ss.created_at = ss.last_seen = now;
    ss.expires_at = now + SESSION_TTL;
    lc = (struct login_ctx){st.password_hash, step, now, &ss, NULL};
    rc = service_staff_edit(svc, st.username, login_edit, &lc, errmsg);
    if (rc != CU_OK) {
        cu_wipe(text, sizeof(text));
        cu_wipe(token, sizeof(token));
        if (lc.reason == NULL)
            goto out;
        reason = lc.reason;
        if (rc == CU_ERR_AUTH)
            goto failed;
        goto failed_quietly;
    }
    /* The log-in is recorded before the token is handed out. */
    rc = audit_login(svc, st.username, st.role, st.store, client, 1, NULL);
    if (rc == CU_OK)
        *out = json_pack("{s:s, s:I, s:b}", "token", text, "expires_at", (json_int_t)ss.expires_at,
                         "must_change_password", st.must_change_password);
    else
        cu_errf(errmsg, rc, "cannot record the log-in in the audit log");
    cu_wipe(text, sizeof(text));
    cu_wipe(token, sizeof(token));
    goto out;

failed:
    rc = cu_errf(errmsg, CU_ERR_AUTH, "wrong username, password or code");
    service_throttle_fail(svc, client, now);
    if (exists)
        record_failure(svc, st.username, now);
failed_quietly:
    if (audit_login(svc, exists ? st.username : "(unknown)", exists ? st.role : NULL,
                    exists ? st.store : NULL, client, 0, reason) != CU_OK)
        cu_log("login: cannot record a refused log-in in the audit log");
out:
    store_staff_release(&st);
    return rc;
}

void service_session_release(struct service_session *ss)
{
    free(ss->username);
    free(ss->role);
    free(ss->store);
    memset(ss, 0, sizeof(*ss));
}

/* Finds the session of `token` and its account. */
static int lookup_session(struct service *svc, const char *token, struct store_session *ss,
                          struct store_staff *st, char **errmsg)
{
    unsigned char hash[32];
    int64_t now = cu_now();
    int rc;

    if (token == NULL || token[0] == '\0' || strlen(token) > 128)
        return cu_errf(errmsg, CU_ERR_AUTH, "no session");
    vault_token_hash(svc->vault, token, strlen(token), hash);
    rc = store_session_get(svc->store, hash, ss, st, NULL);
    if (rc == CU_ERR_NOT_FOUND)
        return cu_errf(errmsg, CU_ERR_AUTH, "no session (log in again)");
    if (rc != CU_OK)
        return cu_errf(errmsg, rc, "cannot read the session");
    if (ss->expires_at <= now || now - ss->last_seen > SESSION_IDLE) {
        if (store_session_delete(svc->store, hash, NULL) != CU_OK)
            cu_log("session: cannot delete an expired session");
        return cu_errf(errmsg, CU_ERR_AUTH, "the session has expired (log in again)");
    }
    if (st->suspended) {
        if (store_session_delete_user(svc->store, st->username, NULL) != CU_OK)
            cu_log("session: cannot revoke the sessions of a suspended account");
        return cu_errf(errmsg, CU_ERR_SUSPENDED, "account '%s' is suspended", st->username);
    }
    if (now - ss->last_seen >= TOUCH_EVERY &&
        store_session_touch(svc->store, hash, now, NULL) != CU_OK)
        cu_log("session: cannot record activity");
    return CU_OK;
}

int service_session(struct service *svc, const char *token, struct service_session *out,
                    char **errmsg)
{
    struct store_session ss = {0};
    struct store_staff st;
    int rc;

    store_staff_init(&st);
    rc = lookup_session(svc, token, &ss, &st, errmsg);
    if (rc == CU_OK) {
        out->username = xstrdup(st.username);
        out->role = xstrdup(st.role);
        out->store = xstrdup(st.store);
        out->must_change_password = st.must_change_password;
        out->expires_at = ss.expires_at;
    }
    store_session_release(&ss);
    store_staff_release(&st);
    return rc;
}

int service_logout(struct service *svc, const char *token, char **errmsg)
{
    unsigned char hash[32];

    if (token == NULL || token[0] == '\0')
        return CU_OK;
    vault_token_hash(svc->vault, token, strlen(token), hash);
    return store_session_delete(svc->store, hash, errmsg);
}

/* A change of credentials (password, authenticator) by the account's own
 * session, on the account as stored now: refused when it was suspended or
 * its password changed meanwhile; the other sessions end, this one goes
 * on. */
struct change_ctx {
    const char *password_hash; /* as verified */
    char *new_hash;            /* the new password's, or NULL */
    const struct buf *totp_sealed;
    int64_t step;
    struct store_session *ss;
};

static int change_edit(struct service *svc, struct store_staff *st, void *ctx, char **errmsg)
{
    struct change_ctx *c = ctx;
    int rc;

    if (st->suspended)
        return cu_errf(errmsg, CU_ERR_SUSPENDED, "account '%s' is suspended", st->username);
    if (strcmp(st->password_hash, c->password_hash) != 0)
        return cu_errf(errmsg, CU_ERR_CONFLICT, "the password was changed meanwhile; log in again");
    if (c->new_hash != NULL) {
        free(st->password_hash);
        st->password_hash = xstrdup(c->new_hash);
        st->must_change_password = 0;
    }
    if (c->totp_sealed != NULL) {
        buf_reset(&st->totp_sealed);
        buf_add(&st->totp_sealed, c->totp_sealed->data, c->totp_sealed->len);
        if (c->step > st->totp_last_step)
            st->totp_last_step = c->step; /* that code is used */
    }
    rc = store_session_delete_user(svc->store, st->username, errmsg);
    if (rc == CU_OK) {
        c->ss->last_seen = cu_now();
        rc = store_session_put(svc->store, c->ss, errmsg);
    }
    return rc;
}

int service_password_change(struct service *svc, const char *token, const char *old,
                            const char *new_password, char **errmsg)
{
    struct store_session ss = {0};
    struct store_staff st;
    struct service_actor who = {0};
    struct change_ctx cc;
    char hash[VAULT_PASSWORD_HASH_BYTES];
    size_t n = new_password ? strlen(new_password) : 0;
    int rc;

    store_staff_init(&st);
    rc = lookup_session(svc, token, &ss, &st, errmsg);
    if (rc != CU_OK)
        goto out;
    if (st.locked_until > cu_now()) {
        rc = cu_errf(errmsg, CU_ERR_LIMIT,
                     "too many wrong passwords for this account; try again in %lld minutes",
                     (long long)((st.locked_until - cu_now() + 59) / 60));
        goto out;
    }
    if (vault_password_verify(st.password_hash, old ? old : "") != CU_OK) {
        /* counted as a failed log-in: a stolen session cannot try
         * passwords without limit */
        record_failure(svc, st.username, cu_now());
        rc = cu_errf(errmsg, CU_ERR_AUTH, "the current password is wrong");
        goto out;
    }
    if (n < MIN_PASSWORD || n > MAX_PASSWORD || strcmp(new_password, old) == 0) {
        rc = cu_errf(errmsg, CU_ERR_INVALID,
                     "the new password must be %d to %d characters and differ from the old one",
                     MIN_PASSWORD, MAX_PASSWORD);
        goto out;
    }
    rc = vault_password_hash(new_password, hash, 0);
    if (rc != CU_OK) {
        rc = cu_errf(errmsg, rc, "cannot hash the password");
        goto out;
    }
    cc = (struct change_ctx){.password_hash = st.password_hash, .new_hash = hash, .ss = &ss};
    rc = service_staff_edit(svc, st.username, change_edit, &cc, errmsg);
    cu_wipe(hash, sizeof(hash));
    who.username = st.username;
    who.role = st.role;
    who.store = st.store;
    if (rc == CU_OK)
        rc = service_audit_note(svc, &who, AUDIT_PASSWORD_CHANGE, 1, NULL, errmsg);
out:
    store_session_release(&ss);
    store_staff_release(&st);
    return rc;
}

/*
 * Re-enrolment of the authenticator: the secret `staff add` printed is
 * known to whoever added the account, so staff replace it with one only
 * they see.  Stateless: the new secret travels to the client inside an
 * enrolment token sealed by the vault (bound to the username, expiring in
 * ENROL_SECONDS), and becomes the account's secret only when a code from
 * it comes back with the token.
 */
#define ENROL_SECONDS 600

static char *enrol_context(const char *username)
{
    return xasprintf("totp-enrol|%s", username);
}

int service_totp_enrol(struct service *svc, const char *token, json_t **out, char **errmsg)
{
    struct store_session ss = {0};
    struct store_staff st;
    unsigned char plain[8 + TOTP_SECRET_BYTES];
    struct buf sealed = BUF_INIT, svg = BUF_INIT;
    char *ctx = NULL, *b32 = NULL, *uri = NULL, *text = NULL;
    int64_t expires = cu_now() + ENROL_SECONDS;
    size_t tlen;
    int rc, i;

    *out = NULL;
    store_staff_init(&st);
    rc = lookup_session(svc, token, &ss, &st, errmsg);
    if (rc != CU_OK)
        goto out;
    for (i = 0; i < 8; i++)
        plain[i] = (unsigned char)((uint64_t)expires >> (56 - 8 * i));
    totp_secret_new(plain + 8);
    ctx = enrol_context(st.username);
    vault_secret_seal(svc->vault, ctx, plain, sizeof(plain), &sealed);
    tlen = sodium_base64_ENCODED_LEN(sealed.len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    text = xmalloc(tlen);
    sodium_bin2base64(text, tlen, (const unsigned char *)sealed.data, sealed.len,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    b32 = totp_secret_base32(plain + 8, TOTP_SECRET_BYTES);
    uri = totp_uri("Custodian", st.username, plain + 8, TOTP_SECRET_BYTES);
    rc = qr_svg(uri, &svg);
    if (rc != CU_OK) {
        rc = cu_errf(errmsg, rc, "cannot draw the QR code");
        goto out;
    }
    buf_addch(&svg, '\0');
    *out = json_pack("{s:s, s:s, s:s, s:s, s:I}", "totp_secret", b32, "otpauth_uri", uri, "qr_svg",
                     (const char *)svg.data, "enrolment", text, "expires_at", (json_int_t)expires);
out:
    cu_wipe(plain, sizeof(plain));
    if (b32 != NULL) {
        cu_wipe(b32, strlen(b32));
        free(b32);
    }
    if (uri != NULL) {
        cu_wipe(uri, strlen(uri));
        free(uri);
    }
    buf_release_wipe(&svg);
    buf_release(&sealed);
    free(text);
    free(ctx);
    store_session_release(&ss);
    store_staff_release(&st);
    return rc;
}

int service_totp_confirm(struct service *svc, const char *token, const char *enrolment,
                         const char *code, char **errmsg)
{
    struct store_session ss = {0};
    struct store_staff st;
    struct service_actor who = {0};
    struct change_ctx cc;
    struct buf plain = BUF_INIT, sealed = BUF_INIT;
    unsigned char raw[512];
    size_t rawlen = 0;
    char *ctx = NULL, *tctx = NULL;
    int64_t expires = 0, step = -1;
    int rc, i;

    store_staff_init(&st);
    rc = lookup_session(svc, token, &ss, &st, errmsg);
    if (rc != CU_OK)
        goto out;
    if (enrolment == NULL || code == NULL ||
        sodium_base642bin(raw, sizeof(raw), enrolment, strlen(enrolment), NULL, &rawlen, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "enrolment and code are required");
        goto out;
    }
    ctx = enrol_context(st.username);
    if (vault_secret_open(svc->vault, ctx, raw, rawlen, &plain, NULL) != CU_OK ||
        plain.len != 8 + TOTP_SECRET_BYTES) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "not an enrolment of this account");
        goto out;
    }
    for (i = 0; i < 8; i++)
        expires = (int64_t)((uint64_t)expires << 8 | ((unsigned char *)plain.data)[i]);
    if (cu_now() > expires) {
        rc = cu_errf(errmsg, CU_ERR_CONFLICT, "the enrolment expired; start again");
        goto out;
    }
    if (totp_check((unsigned char *)plain.data + 8, TOTP_SECRET_BYTES, code, cu_now(), -1, &step) !=
        CU_OK) {
        rc = cu_errf(errmsg, CU_ERR_AUTH, "wrong code from the new authenticator");
        goto out;
    }
    tctx = xasprintf("totp|%s", st.username);
    vault_secret_seal(svc->vault, tctx, (unsigned char *)plain.data + 8, TOTP_SECRET_BYTES,
                      &sealed);
    cc = (struct change_ctx){
        .password_hash = st.password_hash, .totp_sealed = &sealed, .step = step, .ss = &ss};
    rc = service_staff_edit(svc, st.username, change_edit, &cc, errmsg);
    who.username = st.username;
    who.role = st.role;
    who.store = st.store;
    if (rc == CU_OK)
        rc = service_audit_note(svc, &who, AUDIT_PASSWORD_CHANGE, 1, "authenticator re-enrolled",
                                errmsg);
out:
    buf_release_wipe(&plain);
    buf_release(&sealed);
    cu_wipe(raw, sizeof(raw));
    free(ctx);
    free(tctx);
    store_session_release(&ss);
    store_staff_release(&st);
    return rc;
}
