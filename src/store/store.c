/*
 * The store dispatcher: parses the store URL, picks the back end, and
 * forwards every public call to the back end's `struct store_ops`.  Also the
 * helpers that do not depend on a back end: the customer struct's lifecycle,
 * the KEK list's release and the blind-list encoding.
 */
#include "store_int.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * Fault injection for tests: with CUSTODIAN_FAULT_STORE=N in the
 * environment ("count": print how many calls were made, at exit), the Nth call through this
 * interface in the process (every call that can fail counts, on any handle and thread, store_open
 * included) fails with CU_ERR_STORE as a back end failing at that moment
 * would.  tests/e2e/faults.sh runs a reveal, an import and a key rotation
 * failing at every N.  Off (one atomic load per call) otherwise.
 */
static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static long fault_at; /* 0: off */
static atomic_long fault_calls;

static void fault_count_report(void)
{
    fprintf(stderr, "custodian: store calls: %ld\n", atomic_load(&fault_calls));
}

static void fault_init(void)
{
    const char *e = getenv("CUSTODIAN_FAULT_STORE");

    fault_at = e != NULL ? strtol(e, NULL, 10) : 0;
    if (e != NULL && strcmp(e, "count") == 0) {
        fault_at = LONG_MAX; /* never reached: counts, and says how many at exit */
        atexit(fault_count_report);
    }
}

static int fault(char **errmsg)
{
    pthread_once(&fault_once, fault_init);
    if (fault_at <= 0 || atomic_fetch_add(&fault_calls, 1) + 1 != fault_at)
        return 0;
    cu_errf(errmsg, CU_ERR_STORE, "store: injected fault (call %ld)", fault_at);
    return 1;
}

/*
 * Length of the URL scheme at the start of `url` ("postgres" for
 * "postgres://..."), or 0 when `url` does not start with one (a plain path).
 * A scheme is a letter followed by letters, digits, '+', '-' or '.', then
 * ':' (RFC 3986); single letters are not taken as schemes so that "C:\..."
 * stays a path.
 */
static size_t url_scheme_len(const char *url)
{
    size_t i;

    if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')))
        return 0;
    for (i = 1; url[i] != '\0' && url[i] != ':'; i++) {
        char ch = url[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '+' || ch == '-' || ch == '.'))
            return 0;
    }
    if (url[i] != ':' || i < 2)
        return 0;
    return i;
}

static int scheme_is(const char *url, size_t len, const char *name)
{
    return strlen(name) == len && strncasecmp(url, name, len) == 0;
}

int store_open(struct store **out, const char *url, char **errmsg)
{
    const char *path;
    size_t slen;

    *out = NULL;
    if (url == NULL || *url == '\0')
        return cu_errf(errmsg, CU_ERR_INVALID, "store: empty store url");
    if (fault(errmsg))
        return CU_ERR_STORE;
    slen = url_scheme_len(url);
    if (slen == 0)
        return store_sqlite_open(out, url, errmsg);
    if (scheme_is(url, slen, "sqlite")) {
        /* "sqlite:PATH", and "sqlite://PATH" for those used to it
         * ("sqlite:///abs/file.db" names "/abs/file.db"). */
        path = url + slen + 1;
        if (strncmp(path, "//", 2) == 0)
            path += 2;
        if (*path == '\0')
            return cu_errf(errmsg, CU_ERR_INVALID, "store: \"sqlite:\" url without a path");
        return store_sqlite_open(out, path, errmsg);
    }
    /* Never echo the rest of the URL: it may hold a password. */
    if (scheme_is(url, slen, "postgres") || scheme_is(url, slen, "postgresql")) {
#ifdef CU_STORE_PG
        return store_pg_open(out, url, errmsg);
#else
        return cu_errf(errmsg, CU_ERR_INVALID, "store: postgresql support is not built in");
#endif
    }
    return cu_errf(errmsg, CU_ERR_INVALID,
                   "store: unknown store url scheme \"%.*s\" (expected \"sqlite:\" or "
                   "\"postgres://\")",
                   (int)(slen > 32 ? 32 : slen), url);
}

void store_free(struct store *s)
{
    if (s != NULL)
        s->ops->free(s);
}

int store_schema_version(struct store *s)
{
    return s->ops->schema_version(s);
}

int store_begin(struct store *s, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->begin(s, errmsg);
}

int store_commit(struct store *s, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->commit(s, errmsg);
}

void store_rollback(struct store *s)
{
    s->ops->rollback(s);
}

void store_reads_begin(struct store *s)
{
    if (s->ops->reads_begin != NULL)
        s->ops->reads_begin(s);
}

void store_reads_end(struct store *s)
{
    if (s->ops->reads_end != NULL)
        s->ops->reads_end(s);
}

int store_commits_relaxed(struct store *s, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->commits_relaxed(s, errmsg);
}

int store_checkpoint(struct store *s, char **errmsg)
{
    if (fault(errmsg))
        return CU_ERR_STORE;
    return s->ops->checkpoint != NULL ? s->ops->checkpoint(s, errmsg) : CU_OK;
}

int store_meta_get(struct store *s, const char *key, char **value, char **errmsg)
{
    *value = NULL;
    return fault(errmsg) ? CU_ERR_STORE : s->ops->meta_get(s, key, value, errmsg);
}

int store_meta_set(struct store *s, const char *key, const char *value, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->meta_set(s, key, value, errmsg);
}

int store_kek_list(struct store *s, struct store_kek **out, size_t *n, char **errmsg)
{
    *out = NULL;
    *n = 0;
    return fault(errmsg) ? CU_ERR_STORE : s->ops->kek_list(s, out, n, errmsg);
}

void store_kek_list_free(struct store_kek *list, size_t n)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; i < n; i++)
        buf_release_wipe(&list[i].wrapped);
    free(list);
}

int store_kek_put(struct store *s, const struct store_kek *k, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->kek_put(s, k, errmsg);
}

int store_customer_insert(struct store *s, struct store_customer *c, char **errmsg)
{
    if (c->customer_id == NULL || *c->customer_id == '\0')
        return cu_errf(errmsg, CU_ERR_INVALID, "store: insert customer: no customer id");
    return fault(errmsg) ? CU_ERR_STORE : s->ops->customer_insert(s, c, errmsg);
}

int store_customer_replace(struct store *s, struct store_customer *c, char **errmsg)
{
    if (c->customer_id == NULL || *c->customer_id == '\0')
        return cu_errf(errmsg, CU_ERR_INVALID, "store: replace customer: no customer id");
    return fault(errmsg) ? CU_ERR_STORE : s->ops->customer_replace(s, c, errmsg);
}

int store_customer_get(struct store *s, const char *customer_id, struct store_customer *c,
                       char **errmsg)
{
    store_customer_reset(c);
    if (customer_id == NULL)
        return cu_errf(errmsg, CU_ERR_INVALID, "store: get customer: no customer id");
    return fault(errmsg) ? CU_ERR_STORE : s->ops->customer_get(s, customer_id, 0, c, errmsg);
}

int store_customer_get_by_id(struct store *s, int64_t id, struct store_customer *c, char **errmsg)
{
    store_customer_reset(c);
    return fault(errmsg) ? CU_ERR_STORE : s->ops->customer_get(s, NULL, id, c, errmsg);
}

int store_customer_count(struct store *s, int64_t *n, char **errmsg)
{
    *n = 0;
    return fault(errmsg) ? CU_ERR_STORE : s->ops->customer_count(s, n, errmsg);
}

int store_blind_find(struct store *s, uint8_t kind, uint64_t hash, int64_t *ids, size_t max,
                     size_t *n, char **errmsg)
{
    *n = 0;
    if (max == 0)
        return CU_OK;
    return fault(errmsg) ? CU_ERR_STORE : s->ops->blind_find(s, kind, hash, ids, max, n, errmsg);
}

int store_dek_scan(struct store *s, uint32_t kek_version, int64_t after_id, size_t limit,
                   store_dek_cb cb, void *ctx, char **errmsg)
{
    if (limit == 0)
        return CU_OK;
    return fault(errmsg) ? CU_ERR_STORE
                         : s->ops->dek_scan(s, kek_version, after_id, limit, cb, ctx, errmsg);
}

int store_dek_update(struct store *s, int64_t id, uint32_t kek_version, const void *wrapped,
                     size_t len, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE
                         : s->ops->dek_update(s, id, kek_version, wrapped, len, errmsg);
}

int store_kek_hold(struct store *s, uint32_t *active, char **errmsg)
{
    *active = 0;
    return fault(errmsg) ? CU_ERR_STORE : s->ops->kek_hold(s, active, errmsg);
}

int store_kek_usage(struct store *s, uint32_t kek_version, int64_t *n, char **errmsg)
{
    *n = 0;
    return fault(errmsg) ? CU_ERR_STORE : s->ops->kek_usage(s, kek_version, n, errmsg);
}

/* ---- audit log ---- */

int store_audit_append(struct store *s, const struct store_audit_row *rows, size_t n, char **errmsg)
{
    if (n == 0)
        return CU_OK;
    return fault(errmsg) ? CU_ERR_STORE : s->ops->audit_append(s, rows, n, errmsg);
}

int store_audit_size(struct store *s, uint64_t *size, char **errmsg)
{
    *size = 0;
    return fault(errmsg) ? CU_ERR_STORE : s->ops->audit_size(s, size, errmsg);
}

int store_audit_scan(struct store *s, uint64_t start, uint64_t end, store_audit_cb cb, void *ctx,
                     char **errmsg)
{
    if (start >= end)
        return CU_OK;
    return fault(errmsg) ? CU_ERR_STORE : s->ops->audit_scan(s, start, end, cb, ctx, errmsg);
}

int store_audit_index(struct store *s, size_t max, uint64_t *watermark, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->audit_index(s, max, watermark, errmsg);
}

int store_audit_find(struct store *s, const char *actor, const unsigned char *subject,
                     size_t subject_len, size_t limit, store_audit_cb cb, void *ctx, char **errmsg)
{
    if (limit == 0)
        return CU_OK;
    return fault(errmsg)
               ? CU_ERR_STORE
               : s->ops->audit_find(s, actor, subject, subject_len, limit, cb, ctx, errmsg);
}

int store_tile_put(struct store *s, unsigned level, uint64_t index, const void *hashes, size_t len,
                   char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->tile_put(s, level, index, hashes, len, errmsg);
}

int store_tile_get(struct store *s, unsigned level, uint64_t index, struct buf *out, char **errmsg)
{
    buf_reset(out);
    return fault(errmsg) ? CU_ERR_STORE : s->ops->tile_get(s, level, index, out, errmsg);
}

int store_checkpoint_put(struct store *s, uint64_t size, const char *note, char **errmsg)
{
    if (note == NULL)
        return cu_errf(errmsg, CU_ERR_INVALID, "store: write checkpoint: no note");
    return fault(errmsg) ? CU_ERR_STORE : s->ops->checkpoint_put(s, size, note, errmsg);
}

int store_checkpoint_latest(struct store *s, uint64_t *size, char **note, char **errmsg)
{
    *size = 0;
    *note = NULL;
    return fault(errmsg) ? CU_ERR_STORE : s->ops->checkpoint_latest(s, size, note, errmsg);
}

int store_checkpoint_scan(struct store *s, store_checkpoint_cb cb, void *ctx, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->checkpoint_scan(s, cb, ctx, errmsg);
}

/* ---- struct store_customer ---- */

void store_customer_init(struct store_customer *c)
{
    size_t i;

    c->id = 0;
    c->customer_id = NULL;
    c->kek_version = 0;
    c->dek_version = 0;
    buf_init(&c->wrapped_dek);
    for (i = 0; i < MODEL_F__COUNT; i++)
        buf_init(&c->sealed[i]);
    c->blind = NULL;
    c->nblind = 0;
    c->blind_cap = 0;
    c->import_run = 0;
    c->created_at = 0;
    c->updated_at = 0;
}

void store_customer_reset(struct store_customer *c)
{
    size_t i;

    c->id = 0;
    free(c->customer_id);
    c->customer_id = NULL;
    c->kek_version = 0;
    c->dek_version = 0;
    buf_reset(&c->wrapped_dek);
    for (i = 0; i < MODEL_F__COUNT; i++)
        buf_reset(&c->sealed[i]);
    c->nblind = 0;
    c->import_run = 0;
    c->created_at = 0;
    c->updated_at = 0;
}

void store_customer_release(struct store_customer *c)
{
    size_t i;

    free(c->customer_id);
    buf_release(&c->wrapped_dek);
    for (i = 0; i < MODEL_F__COUNT; i++)
        buf_release(&c->sealed[i]);
    free(c->blind);
    store_customer_init(c);
}

void store_customer_add_blind(struct store_customer *c, uint8_t kind, uint64_t hash)
{
    if (c->nblind == c->blind_cap) {
        c->blind_cap = c->blind_cap ? c->blind_cap * 2 : 8;
        c->blind = xrealloc(c->blind, c->blind_cap * sizeof(*c->blind));
    }
    c->blind[c->nblind].kind = kind;
    c->blind[c->nblind].hash = hash;
    c->nblind++;
}

/* ---- blind-list encoding ---- */

#define BLIND_ENTRY_LEN 9

void store_blind_encode(const struct store_customer *c, struct buf *out)
{
    unsigned char *p;
    size_t i;
    int k;

    buf_reset(out);
    buf_grow(out, c->nblind * BLIND_ENTRY_LEN);
    p = (unsigned char *)out->data;
    for (i = 0; i < c->nblind; i++) {
        uint64_t h = c->blind[i].hash;

        *p++ = c->blind[i].kind;
        for (k = 7; k >= 0; k--)
            *p++ = (unsigned char)(h >> (8 * k));
    }
    out->len = c->nblind * BLIND_ENTRY_LEN;
    out->data[out->len] = '\0';
}

int store_blind_decode(struct store_customer *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    size_t i;
    int k;

    c->nblind = 0;
    if (len % BLIND_ENTRY_LEN != 0)
        return CU_ERR_INVALID;
    for (i = 0; i < len; i += BLIND_ENTRY_LEN) {
        uint64_t h = 0;

        for (k = 1; k <= 8; k++)
            h = (h << 8) | p[i + (size_t)k];
        store_customer_add_blind(c, p[i], h);
    }
    return CU_OK;
}

void store_staff_init(struct store_staff *st)
{
    memset(st, 0, sizeof(*st));
    buf_init(&st->totp_sealed);
    st->totp_last_step = -1;
}

void store_staff_release(struct store_staff *st)
{
    free(st->username);
    free(st->role);
    free(st->store);
    if (st->password_hash != NULL)
        cu_wipe(st->password_hash, strlen(st->password_hash));
    free(st->password_hash);
    buf_release_wipe(&st->totp_sealed);
    store_staff_init(st);
}

int store_staff_put(struct store *s, const struct store_staff *st, int create, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->staff_put(s, st, create, errmsg);
}

int store_staff_get(struct store *s, const char *username, struct store_staff *out, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->staff_get(s, username, out, errmsg);
}

int store_staff_lock(struct store *s, const char *username, struct store_staff *out, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->staff_lock(s, username, out, errmsg);
}

int store_staff_list(struct store *s, store_staff_cb cb, void *ctx, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->staff_list(s, cb, ctx, errmsg);
}

void store_session_release(struct store_session *ss)
{
    free(ss->username);
    memset(ss, 0, sizeof(*ss));
}

int store_session_put(struct store *s, const struct store_session *ss, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->session_put(s, ss, errmsg);
}

int store_session_get(struct store *s, const unsigned char token_hash[32],
                      struct store_session *out, struct store_staff *staff, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->session_get(s, token_hash, out, staff, errmsg);
}

int store_session_touch(struct store *s, const unsigned char token_hash[32], int64_t last_seen,
                        char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->session_touch(s, token_hash, last_seen, errmsg);
}

int store_session_delete(struct store *s, const unsigned char token_hash[32], char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->session_delete(s, token_hash, errmsg);
}

int store_session_delete_user(struct store *s, const char *username, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->session_delete_user(s, username, errmsg);
}

int store_throttle_get(struct store *s, const char *client, int64_t *failures,
                       int64_t *window_start, int64_t *locked_until, char **errmsg)
{
    return fault(errmsg)
               ? CU_ERR_STORE
               : s->ops->throttle_get(s, client, failures, window_start, locked_until, errmsg);
}

int store_throttle_put(struct store *s, const char *client, int64_t failures, int64_t window_start,
                       int64_t locked_until, char **errmsg)
{
    return fault(errmsg)
               ? CU_ERR_STORE
               : s->ops->throttle_put(s, client, failures, window_start, locked_until, errmsg);
}

void store_case_init(struct store_case *c)
{
    memset(c, 0, sizeof(*c));
}

void store_case_release(struct store_case *c)
{
    free(c->id);
    free(c->purpose);
    free(c->customer_id);
    free(c->requester);
    free(c->requester_role);
    free(c->store);
    free(c->status);
    free(c->reason);
    free(c->approver);
    free(c->cosigned_by);
    cu_wipe(c->code_hash, sizeof(c->code_hash));
    store_case_init(c);
}

int store_case_put(struct store *s, const struct store_case *c, int create, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->case_put(s, c, create, errmsg);
}

int store_case_get(struct store *s, const char *id, struct store_case *out, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->case_get(s, id, out, errmsg);
}

int store_case_take_try(struct store *s, const char *id, int max, int *tries, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->case_take_try(s, id, max, tries, errmsg);
}

void store_message_init(struct store_message *m)
{
    memset(m, 0, sizeof(*m));
    buf_init(&m->sealed);
}

void store_message_release(struct store_message *m)
{
    free(m->customer_id);
    free(m->case_id);
    free(m->channel);
    buf_release(&m->sealed);
    free(m->status);
    free(m->last_error);
    store_message_init(m);
}

int store_outbox_add(struct store *s, const struct store_message *m, int64_t *id, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->outbox_add(s, m, id, errmsg);
}

int store_outbox_scan(struct store *s, int64_t after_id, int64_t due, size_t limit,
                      store_message_cb cb, void *ctx, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE
                         : s->ops->outbox_scan(s, after_id, due, limit, cb, ctx, errmsg);
}

int store_outbox_mark(struct store *s, const struct store_message *m, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->outbox_mark(s, m, errmsg);
}

int store_outbox_expire(struct store *s, int64_t before, size_t limit, size_t *deleted,
                        char **errmsg)
{
    *deleted = 0;
    return fault(errmsg) ? CU_ERR_STORE : s->ops->outbox_expire(s, before, limit, deleted, errmsg);
}

int store_detect_add(struct store *s, const struct store_count *c, size_t n, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->detect_add(s, c, n, errmsg);
}

int store_detect_rows(struct store *s, const char *staff, store_count_cb cb, void *ctx,
                      char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->detect_rows(s, staff, cb, ctx, errmsg);
}

int store_detect_prune(struct store *s, const char *staff, const int64_t first_kept[3],
                       char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->detect_prune(s, staff, first_kept, errmsg);
}

int store_alert_add(struct store *s, const struct store_alert *a, int64_t *id, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->alert_add(s, a, id, errmsg);
}

int store_alert_list(struct store *s, const char *status, size_t limit, store_alert_cb cb,
                     void *ctx, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->alert_list(s, status, limit, cb, ctx, errmsg);
}

int store_alert_ack(struct store *s, int64_t id, const char *by, int64_t at, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->alert_ack(s, id, by, at, errmsg);
}

int store_canary_add(struct store *s, const unsigned char tag[16], char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->canary(s, tag, 1, NULL, errmsg);
}

int store_canary_has(struct store *s, const unsigned char tag[16], int *has, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->canary(s, tag, 0, has, errmsg);
}

int store_recent_add(struct store *s, const struct store_recent *r, size_t n, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->recent_add(s, r, n, errmsg);
}

int store_recent_rows(struct store *s, const char *staff, int64_t after, int64_t since,
                      size_t limit, store_recent_cb cb, void *ctx, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE
                         : s->ops->recent_rows(s, staff, after, since, limit, cb, ctx, errmsg);
}

int store_recent_prune(struct store *s, const char *staff, int64_t before, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->recent_prune(s, staff, before, errmsg);
}

int store_detect_peers(struct store *s, const char *role, const char *store, int metric,
                       int64_t bucket, store_count_cb cb, void *ctx, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE
                         : s->ops->detect_peers(s, role, store, metric, bucket, cb, ctx, errmsg);
}

int store_detect_store_days(struct store *s, const char *store, int metric, int64_t from,
                            store_count_cb cb, void *ctx, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE
                         : s->ops->detect_store_days(s, store, metric, from, cb, ctx, errmsg);
}

/* ---- erasure ---- */

int store_customer_erase(struct store *s, const char *customer_id, int64_t erased_at,
                         struct store_erase_result *res, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE
                         : s->ops->customer_erase(s, customer_id, erased_at, res, errmsg);
}

int store_erased_get(struct store *s, const char *customer_id, int64_t *erased_at, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->erased_get(s, customer_id, erased_at, errmsg);
}

int store_scrub(struct store *s, int *complete, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->scrub(s, complete, errmsg);
}

/* ---- the customer portal ---- */

int store_subject_code_put(struct store *s, const char *customer_id, const unsigned char hash[32],
                           int64_t sent_at, int64_t expires_at, char **errmsg)
{
    return fault(errmsg)
               ? CU_ERR_STORE
               : s->ops->subject_code_put(s, customer_id, hash, sent_at, expires_at, errmsg);
}

int store_subject_code_get(struct store *s, const char *customer_id, struct store_subject_code *c,
                           char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->subject_code_get(s, customer_id, c, errmsg);
}

int store_subject_code_take(struct store *s, const char *customer_id, int max,
                            struct store_subject_code *c, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->subject_code_take(s, customer_id, max, c, errmsg);
}

int store_subject_code_delete(struct store *s, const char *customer_id, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->subject_code_delete(s, customer_id, errmsg);
}

int store_subject_session_put(struct store *s, const unsigned char token_hash[32],
                              const char *customer_id, int64_t created_at, int64_t expires_at,
                              char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE
                         : s->ops->subject_session_put(s, token_hash, customer_id, created_at,
                                                       expires_at, errmsg);
}

int store_subject_session_get(struct store *s, const unsigned char token_hash[32],
                              char **customer_id, int64_t *expires_at, char **errmsg)
{
    return fault(errmsg)
               ? CU_ERR_STORE
               : s->ops->subject_session_get(s, token_hash, customer_id, expires_at, errmsg);
}

int store_subject_session_delete(struct store *s, const unsigned char token_hash[32], char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->subject_session_delete(s, token_hash, errmsg);
}

int store_subject_digest_get(struct store *s, const char *customer_id, int *daily, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->subject_digest_get(s, customer_id, daily, errmsg);
}

int store_subject_digest_put(struct store *s, const char *customer_id, int daily, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->subject_digest_put(s, customer_id, daily, errmsg);
}

int store_notice_add(struct store *s, const struct store_notice *notices, size_t n, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->notice_add(s, notices, n, errmsg);
}

int store_notice_scan(struct store *s, const char *customer_id, uint64_t from, size_t limit,
                      store_notice_cb cb, void *ctx, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE
                         : s->ops->notice_scan(s, customer_id, from, limit, cb, ctx, errmsg);
}

int store_notice_delete(struct store *s, uint64_t audit_index, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->notice_delete(s, audit_index, errmsg);
}

int store_erasure_put(struct store *s, const struct store_erasure *r, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->erasure_put(s, r, errmsg);
}

int store_erasure_list(struct store *s, const char *id, const char *status, const char *customer_id,
                       store_erasure_cb cb, void *ctx, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE
                         : s->ops->erasure_list(s, id, status, customer_id, cb, ctx, errmsg);
}

int store_erased_scan(struct store *s, store_erased_cb cb, void *ctx, char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->erased_scan(s, cb, ctx, errmsg);
}

int store_case_list(struct store *s, const char *status, size_t limit, store_case_cb cb, void *ctx,
                    char **errmsg)
{
    return fault(errmsg) ? CU_ERR_STORE : s->ops->case_list(s, status, limit, cb, ctx, errmsg);
}
