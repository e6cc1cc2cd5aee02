/*
 * Key-encryption-key rotation.
 *
 * Invariants: exactly one KEK is ACTIVE; every customer's data key is
 * wrapped by a KEK that is ACTIVE or DRAINING (never RETIRED); a KEK is
 * retired only when no data key uses it; every KEK that is not RETIRED is
 * in the keyring file (keyring.c), and a RETIRED one is removed from it.
 * Rotation state is the store's meta "rotation_target": while it is set
 * (not empty), a rotation to that version is unfinished and `keys rotate`
 * resumes it instead of starting another.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>

#define ROTATE_BATCH  2000
#define META_ROTATION "rotation_target"

struct rewrap_ctx {
    struct service *svc;
    uint32_t target;
    int64_t last_id;
    uint64_t done;
    struct buf wrapped;
    char **errmsg;
};

static int rewrap_one(void *arg, int64_t id, const char *customer_id, uint32_t kek_version,
                      const void *wrapped, size_t len)
{
    struct rewrap_ctx *ctx = arg;
    struct vault_dek dek;
    uint32_t used = 0;
    int rc;

    ctx->last_id = id;
    rc = vault_dek_unwrap(ctx->svc->vault, customer_id, kek_version, wrapped, len, &dek,
                          ctx->errmsg);
    if (rc != CU_OK)
        return rc;
    buf_reset(&ctx->wrapped);
    rc = vault_dek_wrap(ctx->svc->vault, customer_id, &dek, &used, &ctx->wrapped, ctx->errmsg);
    vault_dek_wipe(&dek);
    if (rc != CU_OK)
        return rc;
    if (used != ctx->target)
        return cu_errf(ctx->errmsg, CU_ERR_INTERNAL, "rotation wrapped with version %u, not %u",
                       (unsigned)used, (unsigned)ctx->target);
    rc = store_dek_update(ctx->svc->store, id, used, ctx->wrapped.data, ctx->wrapped.len,
                          ctx->errmsg);
    if (rc == CU_OK)
        ctx->done++;
    return rc;
}

int service_kek_hold(struct service *svc, char **errmsg)
{
    uint32_t active = 0, mine = vault_kek_active(svc->vault);
    int rc = store_kek_hold(svc->store, &active, errmsg);

    if (rc == CU_OK && active != mine)
        rc = cu_errf(errmsg, CU_ERR_CONFLICT,
                     "the key-encryption key was rotated while this ran (this process wraps "
                     "data keys with version %u, no longer the store's active one): nothing "
                     "more was written; run the command again",
                     (unsigned)mine);
    return rc;
}

static int find_kek(struct store_kek *keks, size_t n, uint32_t version)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (keks[i].version == version)
            return (int)i;
    return -1;
}

/* Starts a rotation: a new KEK version becomes ACTIVE, the old active one
 * DRAINING, and the target is recorded; all in one transaction. */
static int rotation_start(struct service *svc, uint32_t *target, char **errmsg)
{
    struct store_kek *keks = NULL, fresh = {0};
    size_t n = 0, i;
    uint32_t next = 1;
    char num[16];
    int rc;

    rc = store_begin(svc->store, errmsg);
    if (rc != CU_OK)
        return rc;
    rc = store_kek_list(svc->store, &keks, &n, errmsg);
    if (rc != CU_OK)
        goto out;
    for (i = 0; i < n; i++) {
        if (keks[i].version >= next)
            next = keks[i].version + 1;
        if (keks[i].state == STORE_KEK_ACTIVE) {
            keks[i].state = STORE_KEK_DRAINING;
            rc = store_kek_put(svc->store, &keks[i], errmsg);
            if (rc != CU_OK)
                goto out;
        }
    }
    fresh.version = next;
    fresh.state = STORE_KEK_ACTIVE;
    fresh.created_at = cu_now();
    buf_init(&fresh.wrapped);
    rc = vault_kek_create(svc->vault, next, &fresh.wrapped, errmsg);
    /* In the keyring (durably) before the store names it.  If the store's
     * commit then fails, the keyring keeps a version nobody uses, which
     * the next rotation replaces. */
    if (rc == CU_OK)
        rc = service_keyring_add(svc, next, fresh.wrapped.data, fresh.wrapped.len, errmsg);
    buf_release_wipe(&fresh.wrapped);
    if (rc == CU_OK)
        rc = store_kek_put(svc->store, &fresh, errmsg);
    if (rc != CU_OK)
        goto out;
    snprintf(num, sizeof(num), "%u", (unsigned)next);
    rc = store_meta_set(svc->store, META_ROTATION, num, errmsg);
    if (rc == CU_OK)
        rc = store_commit(svc->store, errmsg);
    if (rc == CU_OK)
        *target = next;
out:
    if (rc != CU_OK) {
        store_rollback(svc->store);
        /* The vault may hold the uncommitted version: the store does not. */
        vault_kek_forget(svc->vault, next);
    }
    store_kek_list_free(keks, n);
    return rc;
}

int service_keys_rotate(struct service *svc, service_progress_fn progress, void *progress_ctx,
                        uint32_t *new_version, uint64_t *rewrapped, char **errmsg)
{
    struct rewrap_ctx ctx = {0};
    char *value = NULL;
    int64_t total = 0;
    uint64_t before;
    int rc;

    *new_version = 0;
    *rewrapped = 0;
    rc = store_meta_get(svc->store, META_ROTATION, &value, errmsg);
    if (rc == CU_OK && value[0] != '\0') {
        ctx.target = (uint32_t)strtoul(value, NULL, 10);
    } else if (rc == CU_OK || rc == CU_ERR_NOT_FOUND) {
        if (errmsg != NULL) {
            free(*errmsg);
            *errmsg = NULL;
        }
        rc = rotation_start(svc, &ctx.target, errmsg);
    }
    free(value);
    if (rc != CU_OK)
        return rc;
    rc = vault_kek_set_active(svc->vault, ctx.target, errmsg);
    if (rc != CU_OK)
        return rc;
    rc = store_customer_count(svc->store, &total, errmsg);
    if (rc != CU_OK)
        return rc;

    ctx.svc = svc;
    ctx.errmsg = errmsg;
    buf_init(&ctx.wrapped);
    for (;;) {
        before = ctx.done;
        rc = store_begin(svc->store, errmsg);
        if (rc != CU_OK)
            break;
        rc = store_dek_scan(svc->store, ctx.target, ctx.last_id, ROTATE_BATCH, rewrap_one, &ctx,
                            errmsg);
        if (rc == CU_OK)
            rc = store_commit(svc->store, errmsg);
        if (rc != CU_OK) {
            store_rollback(svc->store);
            break;
        }
        if (progress != NULL)
            progress(progress_ctx, "re-wrapping data keys", ctx.done, (uint64_t)total, ctx.done);
        if (ctx.done == before)
            break;
    }
    buf_release_wipe(&ctx.wrapped);
    if (rc == CU_OK)
        rc = store_meta_set(svc->store, META_ROTATION, "", errmsg);
    *new_version = ctx.target;
    *rewrapped = ctx.done;
    return rc;
}

int service_keys_retire(struct service *svc, uint32_t version, char **errmsg)
{
    struct store_kek *keks = NULL;
    size_t n = 0;
    int64_t users = 0;
    int rc, i;

    rc = store_begin(svc->store, errmsg);
    if (rc != CU_OK)
        return rc;
    rc = store_kek_list(svc->store, &keks, &n, errmsg);
    if (rc != CU_OK)
        goto out;
    i = find_kek(keks, n, version);
    if (i < 0) {
        rc = cu_errf(errmsg, CU_ERR_NOT_FOUND, "no key-encryption key version %u",
                     (unsigned)version);
        goto out;
    }
    if (keks[i].state == STORE_KEK_ACTIVE) {
        rc = cu_errf(errmsg, CU_ERR_CONFLICT,
                     "key version %u is the active one; rotate first (custodian keys rotate)",
                     (unsigned)version);
        goto out;
    }
    if (keks[i].state == STORE_KEK_RETIRED) {
        rc = cu_errf(errmsg, CU_ERR_CONFLICT, "key version %u is already retired",
                     (unsigned)version);
        goto out;
    }
    rc = store_kek_usage(svc->store, version, &users, errmsg);
    if (rc != CU_OK)
        goto out;
    if (users > 0) {
        rc = cu_errf(errmsg, CU_ERR_CONFLICT,
                     "key version %u still wraps %lld customer keys; finish the rotation first "
                     "(custodian keys rotate)",
                     (unsigned)version, (long long)users);
        goto out;
    }
    keks[i].state = STORE_KEK_RETIRED;
    cu_wipe(keks[i].wrapped.data, keks[i].wrapped.len);
    buf_reset(&keks[i].wrapped);
    rc = store_kek_put(svc->store, &keks[i], errmsg);
    if (rc == CU_OK)
        rc = store_commit(svc->store, errmsg);
out:
    if (rc != CU_OK)
        store_rollback(svc->store);
    store_kek_list_free(keks, n);
    if (rc != CU_OK)
        return rc;
    vault_kek_forget(svc->vault, version);
    /* Then out of the keyring: the store says retired first, so that a
     * crash in between leaves a version the next open removes
     * (load_keks), never a store naming a key the keyring lacks. */
    rc = service_keyring_remove(svc, &version, 1, errmsg);
    if (rc != CU_OK)
        cu_errprefix(errmsg,
                     "key version %u is retired but still in the keyring (the next "
                     "open removes it)",
                     (unsigned)version);
    return rc;
}

static const char *kek_state_name(enum store_kek_state s)
{
    switch (s) {
    case STORE_KEK_ACTIVE:
        return "active";
    case STORE_KEK_DRAINING:
        return "draining";
    case STORE_KEK_RETIRED:
        return "retired";
    }
    return "unknown";
}

int service_keys_list(struct service *svc, json_t **out, char **errmsg)
{
    struct store_kek *keks = NULL;
    json_t *list = json_array();
    size_t n = 0, i;
    int64_t users;
    int rc;

    *out = NULL;
    rc = store_kek_list(svc->store, &keks, &n, errmsg);
    for (i = 0; rc == CU_OK && i < n; i++) {
        users = 0;
        rc = store_kek_usage(svc->store, keks[i].version, &users, errmsg);
        json_array_append_new(
            list, json_pack("{s:i, s:s, s:I, s:I}", "version", (int)keks[i].version, "state",
                            kek_state_name(keks[i].state), "customers", (json_int_t)users,
                            "created_at", (json_int_t)keks[i].created_at));
    }
    store_kek_list_free(keks, n);
    if (rc != CU_OK) {
        json_decref(list);
        return rc;
    }
    *out = json_pack("{s:o}", "keys", list);
    return CU_OK;
}
