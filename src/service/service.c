#include "service_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pwd.h>
#include <unistd.h>

#include "../audit/audit.h"
#include "../policy/policy.h"

#define CONFIG_FILE     "config.json"
#define POLICY_FILE     "policy.json"
#define DB_FILE         "custodian.db"
#define KEY_DIR         "keys"
#define MASTER_KEY_FILE "keys/master.key"

/* Writes `text` to `path` atomically (temp file, fsync, rename), mode 0600. */
static int write_file_atomic(const char *path, const char *text, char **errmsg)
{
    char *tmp = xasprintf("%s.tmp", path);
    size_t len = strlen(text);
    int fd, rc = CU_OK;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot rename '%s': %s", tmp, strerror(errno));
        unlink(tmp);
    }
out:
    free(tmp);
    return rc;
}

static char *master_key_path(const char *data_dir)
{
    const char *env = getenv("CUSTODIAN_MASTER_KEY_FILE");

    if (env != NULL && env[0] != '\0')
        return xstrdup(env);
    return xasprintf("%s/%s", data_dir, MASTER_KEY_FILE);
}

static char *default_store_url(const char *data_dir)
{
    return xasprintf("sqlite:%s/%s", data_dir, DB_FILE);
}

/*
 * Moves a store written before the keyring to it, and finishes a
 * retirement that was interrupted: under the keyring's lock, every wrapped
 * KEK the store still holds (checked to open with this master key) is
 * added to the keyring, and every version the store marks RETIRED is
 * dropped from it; the keyring is saved (durably) before the store's
 * copies are wiped, and the wipe is then pushed out of the store's log.
 * Idempotent: interrupted anywhere, the next open does the rest.  `ring`
 * is left loaded (unlocked) with the new content.
 */
static int keyring_migrate(struct service *svc, const char *path, struct store_kek *keks, size_t n,
                           struct service_keyring *ring, char **errmsg)
{
    const struct buf *have;
    size_t i, moved = 0;
    int rc, changed = 0, complete = 0;

    rc = service_keyring_load(ring, path, 1, errmsg);
    for (i = 0; rc == CU_OK && i < n; i++) {
        struct store_kek *k = &keks[i];

        if (k->state == STORE_KEK_RETIRED) {
            changed |= service_keyring_drop(ring, k->version);
            continue;
        }
        if (k->wrapped.len == 0)
            continue;
        have = service_keyring_get(ring, k->version);
        if (have != NULL &&
            (have->len != k->wrapped.len || memcmp(have->data, k->wrapped.data, have->len) != 0)) {
            rc = cu_errf(errmsg, CU_ERR_KEY,
                         "key-encryption key version %u differs between the store and the "
                         "keyring '%s'",
                         (unsigned)k->version, path);
            break;
        }
        if (have == NULL) {
            /* Only a key that opens goes in (nothing is wiped otherwise). */
            rc = vault_kek_load(svc->vault, k->version, k->wrapped.data, k->wrapped.len, errmsg);
            if (rc != CU_OK) {
                cu_errprefix(errmsg, "key-encryption key version %u", (unsigned)k->version);
                break;
            }
            vault_kek_forget(svc->vault, k->version);
            service_keyring_put(ring, k->version, k->wrapped.data, k->wrapped.len);
            changed = 1;
        }
        moved++;
    }
    if (rc == CU_OK && changed)
        rc = service_keyring_save(ring, errmsg);
    /* Unlocked before the store is written (lock order: store, then keyring). */
    if (ring->dir_fd >= 0) {
        close(ring->dir_fd);
        ring->dir_fd = -1;
    }
    if (rc != CU_OK || moved == 0)
        return rc;
    rc = store_begin(svc->store, errmsg);
    for (i = 0; rc == CU_OK && i < n; i++) {
        if (keks[i].state == STORE_KEK_RETIRED || keks[i].wrapped.len == 0)
            continue;
        cu_wipe(keks[i].wrapped.data, keks[i].wrapped.len);
        buf_reset(&keks[i].wrapped);
        rc = store_kek_put(svc->store, &keks[i], errmsg);
    }
    if (rc == CU_OK)
        rc = store_commit(svc->store, errmsg);
    if (rc != CU_OK) {
        store_rollback(svc->store);
        return rc;
    }
    rc = store_scrub(svc->store, &complete, errmsg);
    if (rc == CU_OK)
        cu_log("moved %zu key-encryption keys from the store to the keyring '%s'%s", moved, path,
               complete ? "" : " (the store's log still holds them until its next checkpoint)");
    return rc;
}

/*
 * Loads every usable KEK from the keyring into the vault and selects the
 * active one.  Invariants: exactly one KEK is ACTIVE once a store is
 * initialised, and every version the store does not mark RETIRED is in
 * the keyring (a missing one is CU_ERR_KEY: the store and the keyring do
 * not belong together).
 */
static int load_keks(struct service *svc, char **errmsg)
{
    struct store_kek *keks = NULL;
    struct service_keyring ring = {.dir_fd = -1};
    char *path = service_keyring_path(svc->data_dir);
    const struct buf *w;
    size_t n = 0, i;
    uint32_t active = 0;
    int rc, migrate = 0;

    rc = store_kek_list(svc->store, &keks, &n, errmsg);
    if (rc == CU_OK)
        rc = service_keyring_load(&ring, path, 0, errmsg);
    if (rc != CU_OK)
        goto out;
    for (i = 0; i < n; i++) {
        if (keks[i].state == STORE_KEK_RETIRED)
            migrate |= service_keyring_get(&ring, keks[i].version) != NULL;
        else
            migrate |= keks[i].wrapped.len > 0;
    }
    if (migrate) {
        service_keyring_release(&ring);
        rc = keyring_migrate(svc, path, keks, n, &ring, errmsg);
        if (rc != CU_OK)
            goto out;
    }
    for (i = 0; i < n; i++) {
        if (keks[i].state == STORE_KEK_RETIRED)
            continue;
        w = service_keyring_get(&ring, keks[i].version);
        if (w == NULL) {
            rc = cu_errf(errmsg, CU_ERR_KEY,
                         "key-encryption key version %u is not in the keyring '%s' (restore the "
                         "keys folder that goes with this store)",
                         (unsigned)keks[i].version, path);
            goto out;
        }
        rc = vault_kek_load(svc->vault, keks[i].version, w->data, w->len, errmsg);
        if (rc != CU_OK) {
            cu_errprefix(errmsg, "key-encryption key version %u", (unsigned)keks[i].version);
            goto out;
        }
        if (keks[i].state == STORE_KEK_ACTIVE)
            active = keks[i].version;
    }
    if (active == 0) {
        rc = cu_errf(errmsg, CU_ERR_KEY, "the store has no active key-encryption key");
        goto out;
    }
    rc = vault_kek_set_active(svc->vault, active, errmsg);
out:
    service_keyring_release(&ring);
    store_kek_list_free(keks, n);
    free(path);
    return rc;
}

/* Writes the first KEK to a new keyring; refuses to replace a version a
 * keyring already holds (it may open another store's data keys). */
static int keyring_first(struct service *svc, const struct store_kek *kek, char **errmsg)
{
    struct service_keyring ring;
    char *path = service_keyring_path(svc->data_dir);
    int rc;

    rc = service_keyring_load(&ring, path, 1, errmsg);
    if (rc == CU_OK && service_keyring_get(&ring, kek->version) != NULL)
        rc = cu_errf(errmsg, CU_ERR_CONFLICT,
                     "the keyring '%s' already holds key-encryption key version %u: move it "
                     "away first",
                     path, (unsigned)kek->version);
    if (rc == CU_OK) {
        service_keyring_put(&ring, kek->version, kek->wrapped.data, kek->wrapped.len);
        rc = service_keyring_save(&ring, errmsg);
    }
    if (ring.path != NULL)
        service_keyring_release(&ring);
    free(path);
    return rc;
}

int service_init_data(const char *data_dir, const char *store_url, char **errmsg)
{
    char *config_path = xasprintf("%s/%s", data_dir, CONFIG_FILE);
    char *key_dir = xasprintf("%s/%s", data_dir, KEY_DIR);
    char *key_path = master_key_path(data_dir);
    char *url = store_url ? xstrdup(store_url) : default_store_url(data_dir);
    char *text = NULL;
    struct service *svc = NULL;
    struct store_kek kek = {0}, *existing = NULL;
    size_t nexisting = 0;
    json_t *config = NULL;
    int rc;

    if (access(config_path, F_OK) == 0) {
        rc = cu_errf(errmsg, CU_ERR_CONFLICT, "data folder '%s' is already initialised", data_dir);
        goto out;
    }
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot create '%s': %s", data_dir, strerror(errno));
        goto out;
    }
    if (getenv("CUSTODIAN_MASTER_KEY_FILE") == NULL || access(key_path, F_OK) != 0) {
        if (mkdir(key_dir, 0700) != 0 && errno != EEXIST) {
            rc = cu_errf(errmsg, CU_ERR_IO, "cannot create '%s': %s", key_dir, strerror(errno));
            goto out;
        }
        rc = vault_master_key_create(key_path, errmsg);
        if (rc != CU_OK)
            goto out;
    }

    svc = xcalloc(1, sizeof(*svc));
    svc->data_dir = xstrdup(data_dir);
    rc = vault_new(&svc->vault, key_path, errmsg);
    if (rc != CU_OK)
        goto out;
    rc = store_open(&svc->store, url, errmsg);
    if (rc != CU_OK)
        goto out;

    /* The first KEK, in the keyring (durably) before the store names it;
     * a store shared with other data folders keeps its own (copy their
     * keyring here). */
    rc = store_kek_list(svc->store, &existing, &nexisting, errmsg);
    if (rc != CU_OK)
        goto out;
    if (nexisting == 0) {
        kek.version = 1;
        kek.state = STORE_KEK_ACTIVE;
        kek.created_at = cu_now();
        buf_init(&kek.wrapped);
        rc = vault_kek_create(svc->vault, kek.version, &kek.wrapped, errmsg);
        if (rc == CU_OK)
            rc = keyring_first(svc, &kek, errmsg);
        buf_release_wipe(&kek.wrapped);
        if (rc == CU_OK)
            rc = store_kek_put(svc->store, &kek, errmsg);
    }
    store_kek_list_free(existing, nexisting);
    if (rc != CU_OK)
        goto out;

    /* The policy, to be edited by the security team (docs/policy.md). */
    {
        char *policy_path = xasprintf("%s/%s", data_dir, POLICY_FILE);
        size_t plen;
        const char *ptext = policy_default_text(&plen);

        rc = access(policy_path, F_OK) == 0 ? CU_OK : write_file_atomic(policy_path, ptext, errmsg);
        free(policy_path);
        if (rc != CU_OK)
            goto out;
    }

    /* The config is written last: its presence marks a complete init. */
    config = json_pack("{s:i, s:s, s:s}", "version", 1, "store",
                       store_url ? store_url : "sqlite:" DB_FILE, "default_country", "86");
    text = json_dumps(config, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    rc = write_file_atomic(config_path, text, errmsg);
out:
    free(text);
    json_decref(config);
    service_free(svc);
    free(url);
    free(key_path);
    free(key_dir);
    free(config_path);
    return rc;
}

/* Resolves a store URL from the config: "sqlite:FILE" relative to the
 * data folder. */
static char *resolve_store_url(const char *data_dir, const char *url)
{
    if (strncmp(url, "sqlite:", 7) == 0 && url[7] != '/')
        return xasprintf("sqlite:%s/%s", data_dir, url + 7);
    return xstrdup(url);
}

/* Reads DIR/policy.json, or takes the built-in default when there is none
 * at all (a data folder made before the file existed).  A file that is
 * there but cannot be read (permissions, a dangling link) stops the open:
 * falling back to the default would quietly replace the policy in force. */
static int load_policy(struct service *svc, char **errmsg)
{
    char *path = xasprintf("%s/%s", svc->data_dir, POLICY_FILE);
    FILE *fp = fopen(path, "rb");
    struct buf text = BUF_INIT;
    char chunk[4096];
    size_t n;
    int rc;

    if (fp == NULL) {
        struct stat st;
        int e = errno;

        if (e == ENOENT && lstat(path, &st) != 0) {
            cu_log("no %s in the data folder: the built-in default policy is in force",
                   POLICY_FILE);
            rc = policy_default(&svc->policy, errmsg);
        } else {
            rc = cu_errf(errmsg, CU_ERR_IO, "cannot read the policy '%s': %s", path, strerror(e));
        }
        goto out;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 && text.len < (1 << 20))
        buf_add(&text, chunk, n);
    fclose(fp);
    rc = policy_parse(text.data ? text.data : "", text.len, &svc->policy, errmsg);
    if (rc != CU_OK)
        cu_errprefix(errmsg, "%s", path);
out:
    buf_release(&text);
    free(path);
    return rc;
}

int service_open(struct service **out, const char *data_dir, char **errmsg)
{
    char *config_path = xasprintf("%s/%s", data_dir, CONFIG_FILE);
    struct service *svc = xcalloc(1, sizeof(*svc));
    const char *store = NULL, *cc = NULL, *origin = NULL, *env, *hook = NULL, *token = NULL;
    json_int_t case_hours = SERVICE_CASE_HOURS, outbox_days = SERVICE_OUTBOX_DAYS;
    int detector = 1;
    unsigned char pk[32];
    json_error_t jerr;
    json_t *config = NULL;
    int rc;

    *out = NULL;
    svc->data_dir = xstrdup(data_dir);
    config = json_load_file(config_path, JSON_REJECT_DUPLICATES, &jerr);
    if (config == NULL) {
        if (access(config_path, F_OK) != 0)
            rc = cu_errf(errmsg, CU_ERR_NOT_FOUND,
                         "no data folder at '%s' (run 'custodian init' first)", data_dir);
        else
            rc = cu_errf(errmsg, CU_ERR_INVALID, "%s:%d: %s", config_path, jerr.line, jerr.text);
        goto out;
    }
    if (json_unpack_ex(config, &jerr, 0, "{s?s, s?s, s?s, s?I, s?I, s?{s?s, s?s}, s?b}", "store",
                       &store, "default_country", &cc, "audit_origin", &origin, "case_hours",
                       &case_hours, "outbox_days", &outbox_days, "notifier", "webhook", &hook,
                       "token", &token, "detector", &detector) != 0) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "%s: %s", config_path, jerr.text);
        goto out;
    }
    if (case_hours < 1 || case_hours > 72) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "%s: case_hours: must be 1 to 72", config_path);
        goto out;
    }
    if (outbox_days < 1 || outbox_days > SERVICE_OUTBOX_DAYS_MAX) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "%s: outbox_days: must be 1 to %d", config_path,
                     SERVICE_OUTBOX_DAYS_MAX);
        goto out;
    }
    if (hook != NULL && strncmp(hook, "http://", 7) != 0 && strncmp(hook, "https://", 8) != 0) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "%s: notifier.webhook: must be an http(s) URL",
                     config_path);
        goto out;
    }
    svc->case_ttl_s = (int64_t)case_hours * 3600;
    svc->outbox_keep_s = (int64_t)outbox_days * 86400;
    svc->detector_off = !detector;
    svc->webhook_url = hook ? xstrdup(hook) : NULL;
    svc->webhook_token = token ? xstrdup(token) : NULL;
    env = getenv("CUSTODIAN_STORE");
    if (env != NULL && env[0] != '\0')
        store = env;
    svc->store_url = store ? resolve_store_url(data_dir, store) : default_store_url(data_dir);
    svc->default_country = xstrdup(cc ? cc : "86");
    if (strspn(svc->default_country, "0123456789") != strlen(svc->default_country) ||
        strlen(svc->default_country) < 1 || strlen(svc->default_country) > 3) {
        rc = cu_errf(errmsg, CU_ERR_INVALID,
                     "%s: default_country: must be a calling code such as \"86\"", config_path);
        goto out;
    }
    svc->master_key_path = master_key_path(data_dir);
    rc = vault_new(&svc->vault, svc->master_key_path, errmsg);
    if (rc != CU_OK)
        goto out;
    vault_audit_public_key(svc->vault, pk);
    svc->audit_origin = origin ? xstrdup(origin) : audit_default_origin(pk);
    rc = load_policy(svc, errmsg);
    if (rc != CU_OK)
        goto out;
    rc = store_open(&svc->store, svc->store_url, errmsg);
    if (rc != CU_OK)
        goto out;
    rc = load_keks(svc, errmsg);
out:
    json_decref(config);
    free(config_path);
    if (rc != CU_OK)
        service_free(svc);
    else
        *out = svc;
    return rc;
}

void service_free(struct service *svc)
{
    if (svc == NULL)
        return;
    if (!svc->borrowed) {
        audit_log_close(svc->audit);
        service_detect_free(svc->detector);
        policy_free(svc->policy);
        if (svc->vault != NULL)
            vault_free(svc->vault);
    }
    if (svc->store != NULL)
        store_free(svc->store);
    free(svc->data_dir);
    free(svc->store_url);
    free(svc->default_country);
    free(svc->master_key_path);
    free(svc->audit_origin);
    free(svc->webhook_url);
    if (svc->webhook_token != NULL)
        cu_wipe(svc->webhook_token, strlen(svc->webhook_token));
    free(svc->webhook_token);
    free(svc);
}

int service_worker_new(struct service *parent, struct service **out, char **errmsg)
{
    struct service *w;
    int rc;

    *out = NULL;
    rc = service_audit_open(parent, errmsg);
    if (rc != CU_OK)
        return rc;
    w = xcalloc(1, sizeof(*w));
    w->borrowed = 1;
    w->data_dir = xstrdup(parent->data_dir);
    w->store_url = xstrdup(parent->store_url);
    w->default_country = xstrdup(parent->default_country);
    w->master_key_path = xstrdup(parent->master_key_path);
    w->audit_origin = xstrdup(parent->audit_origin);
    w->case_ttl_s = parent->case_ttl_s;
    w->outbox_keep_s = parent->outbox_keep_s;
    w->webhook_url = parent->webhook_url ? xstrdup(parent->webhook_url) : NULL;
    w->webhook_token = parent->webhook_token ? xstrdup(parent->webhook_token) : NULL;
    w->vault = parent->vault;
    w->audit = parent->audit;
    w->detector = parent->detector;
    w->policy = parent->policy;
    rc = store_open(&w->store, w->store_url, errmsg);
    if (rc != CU_OK) {
        service_free(w);
        return rc;
    }
    *out = w;
    return CU_OK;
}

/* The audit commit hook: what must commit with the entries that record
 * it (the detector's counters, the access notices). */
static int commit_hook(void *ctx, struct store *s, const struct audit_committed *e, size_t n,
                       char **errmsg)
{
    struct service *svc = ctx;
    int rc = CU_OK;

    if (svc->detector != NULL)
        rc = service_detect_committed(svc->detector, s, e, n, errmsg);
    if (rc == CU_OK)
        rc = service_notices_committed(s, e, n, errmsg);
    return rc;
}

int service_audit_open(struct service *svc, char **errmsg)
{
    int rc;

    if (svc->audit != NULL)
        return CU_OK;
    rc = audit_log_open(&svc->audit, svc->store_url, svc->vault, svc->audit_origin, errmsg);
    if (rc == CU_OK)
        rc = service_detect_open(svc, errmsg);
    if (rc == CU_OK)
        audit_log_set_commit_hook(svc->audit, commit_hook, svc);
    return rc;
}

void service_operator(struct service_actor *who, char *name, size_t len)
{
    struct passwd *pw = getpwuid(getuid());

    memset(who, 0, sizeof(*who));
    snprintf(name, len, "operator:%s", pw && pw->pw_name ? pw->pw_name : "unknown");
    who->username = name;
    who->role = "operator";
    who->client = "local";
}

/* Adds the blind-index entry of one identifier value. */
static void add_blind(struct service *svc, struct store_customer *out, int kind, const char *value)
{
    if (value != NULL && value[0] != '\0')
        store_customer_add_blind(out, (uint8_t)kind,
                                 vault_blind(svc->vault, kind, value, strlen(value)));
}

int service_seal(struct service *svc, const struct model_customer *m, uint32_t dek_version,
                 struct store_customer *out, char **errmsg)
{
    const char *plain[MODEL_F__COUNT] = {NULL};
    struct vault_dek dek;
    struct buf devices = BUF_INIT;
    char *phones = NULL;
    size_t i;
    int rc, f;

    store_customer_reset(out);
    out->customer_id = xstrdup(m->customer_id);
    out->dek_version = dek_version;
    vault_dek_generate(&dek);
    rc = vault_dek_wrap(svc->vault, m->customer_id, &dek, &out->kek_version, &out->wrapped_dek,
                        errmsg);
    if (rc != CU_OK)
        goto out;

    phones = m->nphones > 0 ? model_phones_join(m) : NULL;
    if (m->ndevices > 0)
        model_devices_encode(m, &devices);
    plain[MODEL_F_ACCOUNT] = m->account;
    plain[MODEL_F_NAME] = m->name;
    plain[MODEL_F_PHONE] = phones;
    plain[MODEL_F_EMAIL] = m->email;
    plain[MODEL_F_ADDRESS] = m->address;
    plain[MODEL_F_BIRTH_DATE] = m->birth_date;
    for (f = 0; f < MODEL_F__COUNT; f++) {
        const void *p = plain[f];
        size_t len = p ? strlen(p) : 0;

        if (f == MODEL_F_DEVICES) {
            p = devices.data;
            len = devices.len;
        }
        if (p == NULL || len == 0)
            continue;
        vault_field_seal(&dek, m->customer_id, model_field_name(f), dek_version, p, len,
                         &out->sealed[f]);
    }

    add_blind(svc, out, MODEL_ID_ACCOUNT, m->account);
    add_blind(svc, out, MODEL_ID_EMAIL, m->email);
    for (i = 0; i < m->nphones; i++)
        add_blind(svc, out, MODEL_ID_PHONE, m->phones[i]);
    for (i = 0; i < m->ndevices; i++) {
        add_blind(svc, out, MODEL_ID_IMEI, m->devices[i].imei);
        add_blind(svc, out, MODEL_ID_SERIAL, m->devices[i].serial);
    }
out:
    vault_dek_wipe(&dek);
    buf_release_wipe(&devices);
    if (phones != NULL) {
        cu_wipe(phones, strlen(phones));
        free(phones);
    }
    return rc;
}

int service_unseal(struct service *svc, const struct store_customer *s, unsigned fields,
                   struct model_customer *m, char **errmsg)
{
    struct vault_dek dek;
    struct buf plain = BUF_INIT;
    int rc, f;

    rc = vault_dek_unwrap(svc->vault, s->customer_id, s->kek_version, s->wrapped_dek.data,
                          s->wrapped_dek.len, &dek, errmsg);
    if (rc != CU_OK)
        return rc;
    m->customer_id = xstrdup(s->customer_id);
    for (f = 0; f < MODEL_F__COUNT && rc == CU_OK; f++) {
        if (s->sealed[f].len == 0 || !(fields & SERVICE_FIELD(f)))
            continue;
        buf_reset(&plain);
        rc = vault_field_open(&dek, s->customer_id, model_field_name(f), s->dek_version,
                              s->sealed[f].data, s->sealed[f].len, &plain, errmsg);
        if (rc != CU_OK)
            break;
        switch (f) {
        case MODEL_F_ACCOUNT:
            m->account = xstrndup(plain.data, plain.len);
            break;
        case MODEL_F_NAME:
            m->name = xstrndup(plain.data, plain.len);
            break;
        case MODEL_F_PHONE:
            rc = model_phones_split(m, plain.data);
            break;
        case MODEL_F_EMAIL:
            m->email = xstrndup(plain.data, plain.len);
            break;
        case MODEL_F_ADDRESS:
            m->address = xstrndup(plain.data, plain.len);
            break;
        case MODEL_F_BIRTH_DATE:
            m->birth_date = xstrndup(plain.data, plain.len);
            break;
        case MODEL_F_DEVICES:
            rc = model_devices_decode(m, plain.data, plain.len);
            break;
        }
        if (rc != CU_OK)
            cu_errf(errmsg, CU_ERR_INTEGRITY, "field '%s' of customer '%s' is malformed",
                    model_field_name(f), s->customer_id);
    }
    vault_dek_wipe(&dek);
    buf_release_wipe(&plain);
    if (rc != CU_OK)
        model_customer_release(m);
    return rc;
}
