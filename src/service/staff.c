/*
 * Staff accounts: creation, credential reset, suspension, listing.  The
 * credentials are shown once, to whoever created them; the store keeps only
 * the Argon2id hash of the password and the sealed TOTP secret.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>

#include "../audit/audit.h"
#include "../auth/totp.h"
#include "../policy/policy.h"

#define PASSWORD_LEN 16
#define TOTP_ISSUER  "Custodian"

/* Unambiguous characters for one-time passwords (no 0/O, 1/l/I). */
static const char password_chars[] = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

static int valid_username(const char *u)
{
    size_t n = strlen(u), i;

    if (n < 2 || n > 32 || !((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= '0' && u[0] <= '9')))
        return 0;
    for (i = 0; i < n; i++)
        if (!((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= '0' && u[i] <= '9') || u[i] == '.' ||
              u[i] == '_' || u[i] == '-'))
            return 0;
    return 1;
}

static int valid_store(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= 16 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

static char *totp_context(const char *username)
{
    return xasprintf("totp|%s", username);
}

/*
 * Fresh credentials into `st` (password hash, sealed TOTP secret, state
 * reset) and their one-time display into *out.
 */
static int new_credentials(struct service *svc, struct store_staff *st, json_t **out, char **errmsg)
{
    unsigned char secret[TOTP_SECRET_BYTES];
    char password[PASSWORD_LEN + 1], hash[VAULT_PASSWORD_HASH_BYTES];
    char *b32 = NULL, *uri = NULL, *ctx;
    size_t i;
    int rc;

    for (i = 0; i < PASSWORD_LEN; i++)
        password[i] = password_chars[vault_random_uniform(sizeof(password_chars) - 1)];
    password[PASSWORD_LEN] = '\0';
    rc = vault_password_hash(password, hash, 0);
    if (rc != CU_OK) {
        rc = cu_errf(errmsg, rc, "cannot hash the password (out of memory for Argon2id)");
        goto out;
    }
    totp_secret_new(secret);
    ctx = totp_context(st->username);
    buf_reset(&st->totp_sealed);
    vault_secret_seal(svc->vault, ctx, secret, sizeof(secret), &st->totp_sealed);
    free(ctx);
    free(st->password_hash);
    st->password_hash = xstrdup(hash);
    st->totp_last_step = -1;
    st->must_change_password = 1;
    st->failed_logins = 0;
    st->locked_until = 0;
    b32 = totp_secret_base32(secret, sizeof(secret));
    uri = totp_uri(TOTP_ISSUER, st->username, secret, sizeof(secret));
    *out = json_pack("{s:s, s:s, s:s, s:s}", "username", st->username, "password", password,
                     "totp_secret", b32, "otpauth_uri", uri);
out:
    cu_wipe(password, sizeof(password));
    cu_wipe(hash, sizeof(hash));
    cu_wipe(secret, sizeof(secret));
    if (b32 != NULL) {
        cu_wipe(b32, strlen(b32));
        free(b32);
    }
    if (uri != NULL) {
        cu_wipe(uri, strlen(uri));
        free(uri);
    }
    return rc;
}

/* Audits a staff change; `detail` names the account (staff, not customers). */
static int audit_staff(struct service *svc, const struct service_actor *who, int action, int ok,
                       const char *username, const char *extra, char **errmsg)
{
    char detail[160];

    snprintf(detail, sizeof(detail), "staff %s%s%s", username, extra ? " " : "",
             extra ? extra : "");
    return service_audit_note(svc, who, action, ok, detail, errmsg);
}

int service_staff_add(struct service *svc, const struct service_actor *who, const char *username,
                      const char *role, const char *store, json_t **out, char **errmsg)
{
    struct store_staff st;
    char extra[64];
    int r, rc;

    *out = NULL;
    if (!valid_username(username))
        return cu_errf(errmsg, CU_ERR_INVALID,
                       "username '%.40s': 2 to 32 of a-z, 0-9, '.', '_', '-', starting with a "
                       "letter or digit",
                       username);
    r = policy_role_from_name(role);
    if (r < 0 || r == POLICY_ROLE_OPERATOR)
        return cu_errf(errmsg, CU_ERR_INVALID,
                       "role '%.20s': expected clerk, agent, supervisor, security or admin", role);
    if (!valid_store(store))
        return cu_errf(errmsg, CU_ERR_INVALID, "store '%.20s': 1 to 16 of A-Z, 0-9 and '-'", store);
    store_staff_init(&st);
    st.username = xstrdup(username);
    st.role = xstrdup(role);
    st.store = xstrdup(store);
    rc = new_credentials(svc, &st, out, errmsg);
    if (rc == CU_OK)
        rc = store_staff_put(svc->store, &st, 1, errmsg);
    snprintf(extra, sizeof(extra), "role %s store %s", role, store);
    /* Audited before the credentials are handed out; refusals too. */
    r = audit_staff(svc, who, AUDIT_STAFF_ADD, rc == CU_OK, username, extra,
                    rc == CU_OK ? errmsg : NULL);
    if (rc == CU_OK)
        rc = r;
    if (rc != CU_OK) {
        json_decref(*out);
        *out = NULL;
    }
    store_staff_release(&st);
    return rc;
}

int service_staff_edit(struct service *svc, const char *username, service_staff_edit_fn edit,
                       void *ctx, char **errmsg)
{
    struct store_staff st;
    int rc;

    store_staff_init(&st);
    rc = store_begin(svc->store, errmsg);
    if (rc != CU_OK)
        goto out;
    rc = store_staff_lock(svc->store, username, &st, errmsg);
    if (rc == CU_OK)
        rc = edit(svc, &st, ctx, errmsg);
    if (rc == CU_OK)
        rc = store_staff_put(svc->store, &st, 0, errmsg);
    if (rc == CU_OK)
        rc = store_commit(svc->store, errmsg);
    else
        store_rollback(svc->store);
out:
    store_staff_release(&st);
    return rc;
}

/* A reset's edit: the account takes the credentials new_credentials()
 * made beforehand (Argon2id runs outside the transaction), and its old
 * sessions end. */
static int reset_edit(struct service *svc, struct store_staff *st, void *ctx, char **errmsg)
{
    struct store_staff *fresh = ctx;
    char *hash = st->password_hash;
    struct buf sealed = st->totp_sealed;

    st->password_hash = fresh->password_hash;
    fresh->password_hash = hash;
    st->totp_sealed = fresh->totp_sealed;
    fresh->totp_sealed = sealed;
    st->totp_last_step = fresh->totp_last_step;
    st->must_change_password = fresh->must_change_password;
    st->failed_logins = fresh->failed_logins;
    st->locked_until = fresh->locked_until;
    return store_session_delete_user(svc->store, st->username, errmsg);
}

static int suspend_edit(struct service *svc, struct store_staff *st, void *ctx, char **errmsg)
{
    int suspended = *(int *)ctx;

    st->suspended = suspended;
    if (!suspended) {
        st->failed_logins = 0;
        st->locked_until = 0;
    }
    /* A suspension ends every live session at once. */
    return suspended ? store_session_delete_user(svc->store, st->username, errmsg) : CU_OK;
}

int service_staff_reset(struct service *svc, const struct service_actor *who, const char *username,
                        json_t **out, char **errmsg)
{
    struct store_staff fresh;
    int r, rc;

    *out = NULL;
    store_staff_init(&fresh);
    fresh.username = xstrdup(username);
    rc = new_credentials(svc, &fresh, out, errmsg);
    if (rc == CU_OK)
        rc = service_staff_edit(svc, username, reset_edit, &fresh, errmsg);
    store_staff_release(&fresh);
    r = audit_staff(svc, who, AUDIT_STAFF_RESET, rc == CU_OK, username, NULL,
                    rc == CU_OK ? errmsg : NULL);
    if (rc == CU_OK)
        rc = r;
    if (rc != CU_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

int service_staff_set_suspended(struct service *svc, const struct service_actor *who,
                                const char *username, int suspended, char **errmsg)
{
    int r, rc;

    rc = service_staff_edit(svc, username, suspend_edit, &suspended, errmsg);
    r = audit_staff(svc, who, suspended ? AUDIT_STAFF_SUSPEND : AUDIT_STAFF_RESUME, rc == CU_OK,
                    username, NULL, rc == CU_OK ? errmsg : NULL);
    if (rc == CU_OK)
        rc = r;
    return rc;
}

static int list_one(void *ctx, const struct store_staff *st)
{
    json_array_append_new((json_t *)ctx,
                          json_pack("{s:s, s:s, s:s, s:s, s:b, s:I}", "username", st->username,
                                    "role", st->role, "store", st->store, "status",
                                    st->suspended ? "suspended" : "active", "must_change_password",
                                    st->must_change_password, "created_at",
                                    (json_int_t)st->created_at));
    return 0;
}

int service_staff_list(struct service *svc, json_t **out, char **errmsg)
{
    json_t *list = json_array();
    int rc = store_staff_list(svc->store, list_one, list, errmsg);

    *out = NULL;
    if (rc != CU_OK) {
        json_decref(list);
        return rc;
    }
    *out = json_pack("{s:o}", "staff", list);
    return CU_OK;
}

int service_staff_activity(struct service *svc, const char *username, size_t recent, json_t **out,
                           char **errmsg)
{
    struct store_staff st;
    json_t *usage = NULL, *entries = NULL;
    int rc;

    *out = NULL;
    store_staff_init(&st);
    rc = store_staff_get(svc->store, username, &st, errmsg);
    if (rc == CU_OK)
        rc = service_detect_usage(svc, st.username, st.role, &usage, errmsg);
    if (rc == CU_OK)
        rc = service_audit_show(svc, st.username, NULL, recent, &entries, errmsg);
    if (rc == CU_OK) {
        *out = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O}", "username", st.username, "role", st.role,
                         "store", st.store, "status", st.suspended ? "suspended" : "active",
                         "usage", usage, "recent", json_object_get(entries, "entries"));
    }
    json_decref(usage);
    json_decref(entries);
    store_staff_release(&st);
    return rc;
}
