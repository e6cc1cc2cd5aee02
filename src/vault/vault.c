/*
 * The vault: key hierarchy, field sealing, blind indexes and pseudonyms.
 * This is the only file in Custodian that calls libsodium's crypto; the
 * hierarchy itself is described in vault.h.
 *
 * Invariants kept here:
 *  - Every key (master, derived, KEK) lives in sodium_malloc'd memory that
 *    is read-only once set up and wiped when freed (sodium_free).  Key
 *    temporaries on the stack are wiped with sodium_memzero before return.
 *  - The master key is held only while vault_new() derives the subkeys.
 *  - Every AEAD call binds its context in the associated data:
 *      KEK   "kek|<kek version>"                       under the KEK-wrapping key
 *      DEK   "dek|<customer id>|<kek version>"         under KEK <kek version>
 *      field "field|<customer id>|<field>|<dek version>" under the customer's DEK
 *    Versions are unsigned decimal without leading zeros.  A field name never
 *    contains '|' (checked), and the version is all digits, so each
 *    associated-data string splits into its parts in exactly one way.
 *  - A nonce or a fresh key is never handed out twice: random bytes come
 *    from a per-thread pool that is wiped as it is consumed and that a
 *    forked child never inherits (see rand_take()).
 *  - Error messages name files, customer ids, field names and versions,
 *    never key material or plaintext.
 */
#include "vault.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/*
 * crypto_kdf subkey ids under the master key, context "CUSTODN1".
 *
 * THESE IDS AND THE CONTEXT CAN NEVER CHANGE ONCE DATA EXISTS: stored KEKs,
 * blind indexes and audit pseudonyms depend on them (tests/unit/vault/kat.exp
 * pins them).  A new purpose takes a new, unassigned id; a retired id is
 * never reused.
 *
 *   id      purpose
 *   1       KEK-wrapping key: wraps the KEKs stored in the database
 *   2..7    unassigned
 *   8       pseudonym key: audit-log pseudonyms of customer ids
 *   9       audit checkpoint signing: the Ed25519 seed
 *   10      reserved: canary key
 *   11      reserved: staff reference key
 *   12      bearer-token hashing key (sessions are stored as keyed hashes)
 *   13      staff secrets key (TOTP secrets)
 *   14..16  unassigned
 *   17..31  blind-index key of identifier kind k = id - 16 (kinds 1..15,
 *           the MODEL_ID_* values: 17 = IMEI, 18 = serial, 19 = phone,
 *           20 = e-mail, 21 = account)
 */
#define KDF_CONTEXT       "CUSTODN1"
#define KDF_ID_KEK_WRAP   1
#define KDF_ID_PSEUDONYM  8
#define KDF_ID_AUDIT_SIGN 9
#define KDF_ID_TOKEN      12
#define KDF_ID_STAFF      13
#define KDF_ID_CANARY     14
#define KDF_ID_BLIND_BASE 16
#define BLIND_KINDS       15

#define MASTER_KEY_BYTES 32
#define BLIND_BYTES      8

/* All derived keys of a vault, in one sodium_malloc'd, read-only block. */
struct vault_subkeys {
    unsigned char kek_wrap[VAULT_KEY_BYTES];
    unsigned char pseudonym[VAULT_KEY_BYTES];
    unsigned char blind[BLIND_KINDS][VAULT_KEY_BYTES]; /* [k - 1] for kind k */
    unsigned char token[VAULT_KEY_BYTES];
    unsigned char staff[VAULT_KEY_BYTES];
    unsigned char canary[VAULT_KEY_BYTES];
    unsigned char audit_pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char audit_sk[crypto_sign_SECRETKEYBYTES];
};

/* One KEK version; `key` is sodium_malloc'd and read-only. */
struct vault_kek {
    uint32_t version;
    unsigned char *key;
};

/*
 * Thread safety: after vault_new(), vault_blind(), vault_pseudonym(),
 * vault_dek_wrap() and vault_dek_unwrap() only read the vault and may run
 * in any number of threads at once; the vault_kek_* functions that change
 * the ring must not run concurrently with anything else on the same vault.
 */
struct vault {
    struct vault_subkeys *sub; /* sodium_malloc'd, read-only */
    struct vault_kek *keks;    /* xmalloc'd array of nkeks */
    size_t nkeks;
    uint32_t active; /* 0: none */
};

/* ------------------------------------------------------------------ */
/* Random bytes                                                        */
/* ------------------------------------------------------------------ */

/*
 * randombytes_buf() is a getrandom() system call (~400 ns), and import
 * seals ~10 values per customer at 50,000+ customers per second, so nonces
 * and fresh keys come from a per-thread pool of RAND_POOL_BYTES refilled
 * with one randombytes_buf() call when it runs out.
 *
 * Invariants:
 *  - The bytes in front of `bytes + RAND_POOL_BYTES - avail` have been
 *    handed out and are zero; bytes are never handed out twice.
 *  - A forked child never hands out bytes its parent had: the pool lives in
 *    its own mapping marked MADV_WIPEONFORK, so the kernel gives the child
 *    a zeroed pool (avail == 0: refill), whichever way fork was called.  On
 *    a kernel without MADV_WIPEONFORK (before Linux 4.14) the pool records
 *    getpid() at each refill and is discarded when it differs.  (The
 *    getpid() check is not used everywhere because it is itself a ~200 ns
 *    system call per draw, half of what the pool saves.)
 *  - The mapping is also locked and left out of core dumps where possible,
 *    and it is wiped and unmapped when the thread exits.
 */
#define RAND_POOL_BYTES 4096
#define RAND_DIRECT_MIN 256 /* larger requests bypass the pool */

struct rand_pool {
    size_t avail;
    pid_t pid; /* only meaningful when rand_check_pid */
    unsigned char bytes[RAND_POOL_BYTES];
};

static _Thread_local struct rand_pool *rand_pool;
static _Thread_local size_t rand_map_len;
static _Thread_local int rand_check_pid;
static pthread_key_t rand_key;
static pthread_once_t rand_once = PTHREAD_ONCE_INIT;

/* Thread-exit destructor: wipes and unmaps the calling thread's pool. */
static void rand_pool_destroy(void *p)
{
    (void)p;
    if (rand_pool == NULL)
        return;
    sodium_memzero(rand_pool, sizeof(*rand_pool));
    munmap(rand_pool, rand_map_len);
    rand_pool = NULL;
}

static void rand_key_create(void)
{
    if (pthread_key_create(&rand_key, rand_pool_destroy) != 0) {
        cu_log("vault: cannot create the random pool's thread key");
        abort();
    }
}

/* Maps the calling thread's pool (empty). */
static void rand_pool_create(void)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t len = sizeof(struct rand_pool);
    void *p;

    if (page > 0)
        len = (len + (size_t)page - 1) / (size_t)page * (size_t)page;
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        cu_log("vault: cannot map the random pool: %s", strerror(errno));
        abort();
    }
#ifdef MADV_WIPEONFORK
    rand_check_pid = madvise(p, len, MADV_WIPEONFORK) != 0;
#else
    rand_check_pid = 1;
#endif
#ifdef MADV_DONTDUMP
    (void)madvise(p, len, MADV_DONTDUMP);
#endif
    (void)mlock(p, len);
    rand_pool = p; /* mmap'd memory is zero: avail == 0 */
    rand_map_len = len;
    pthread_once(&rand_once, rand_key_create);
    pthread_setspecific(rand_key, p);
}

/* Fills `out` with `n` fresh random bytes, never handed out before. */
static void rand_take(void *out, size_t n)
{
    struct rand_pool *p;
    unsigned char *src;

    if (n >= RAND_DIRECT_MIN) {
        randombytes_buf(out, n);
        return;
    }
    if (rand_pool == NULL)
        rand_pool_create();
    p = rand_pool;
    if (rand_check_pid && p->avail > 0 && p->pid != getpid())
        p->avail = 0;
    if (p->avail < n) {
        randombytes_buf(p->bytes, RAND_POOL_BYTES);
        p->avail = RAND_POOL_BYTES;
        if (rand_check_pid)
            p->pid = getpid();
    }
    src = p->bytes + (RAND_POOL_BYTES - p->avail);
    memcpy(out, src, n);
    sodium_memzero(src, n);
    p->avail -= n;
}

/* ------------------------------------------------------------------ */
/* Associated data                                                     */
/* ------------------------------------------------------------------ */

#define AD_STACK_BYTES 160 /* "field|" + 64-byte id + short field + version */

/* An associated-data string; `data` points into `stack` or to `heap`. */
struct ad {
    unsigned char stack[AD_STACK_BYTES];
    unsigned char *heap; /* xmalloc'd when the string does not fit `stack` */
    unsigned char *data;
    size_t len;
};

static size_t u32_decimal(char out[10], uint32_t v)
{
    char tmp[10];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/*
 * Builds "<tag>|<id>|<field>|<version>" into `a`; `id` and `field` are
 * skipped (with their '|') when NULL.  Release with ad_release().  A field
 * name containing '|' is a bug (it would make the string ambiguous): abort.
 */
static void ad_build(struct ad *a, const char *tag, const char *id, const char *field,
                     uint32_t version)
{
    size_t ltag = strlen(tag), lid = id ? strlen(id) : 0, lfield = field ? strlen(field) : 0;
    char digits[10];
    size_t ldig = u32_decimal(digits, version);
    size_t total = ltag + 1 + (id ? lid + 1 : 0) + (field ? lfield + 1 : 0) + ldig;
    unsigned char *p;

    if (field != NULL && memchr(field, '|', lfield) != NULL) {
        cu_log("vault: field name '%s' contains '|'", field);
        abort();
    }
    a->heap = NULL;
    a->data = a->stack;
    if (total > sizeof(a->stack))
        a->data = a->heap = xmalloc(total);
    p = a->data;
    memcpy(p, tag, ltag);
    p += ltag;
    *p++ = '|';
    if (id != NULL) {
        memcpy(p, id, lid);
        p += lid;
        *p++ = '|';
    }
    if (field != NULL) {
        memcpy(p, field, lfield);
        p += lfield;
        *p++ = '|';
    }
    memcpy(p, digits, ldig);
    a->len = total;
}

static void ad_release(struct ad *a)
{
    free(a->heap);
    a->heap = NULL;
}

/* ------------------------------------------------------------------ */
/* AEAD helpers: nonce (24) || ciphertext || tag (16)                  */
/* ------------------------------------------------------------------ */

/* Seals `len` bytes of `plain` under `key`, appending the blob to `out`. */
static void aead_seal(const unsigned char *key, const struct ad *ad, const void *plain, size_t len,
                      struct buf *out)
{
    unsigned char *dst;
    unsigned long long clen;

    buf_grow(out, len + VAULT_SEAL_OVERHEAD);
    dst = (unsigned char *)out->data + out->len;
    rand_take(dst, VAULT_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(dst + VAULT_NONCE_BYTES, &clen, plain, len, ad->data,
                                               ad->len, NULL, dst, key);
    out->len += VAULT_NONCE_BYTES + (size_t)clen;
    out->data[out->len] = '\0';
}

/*
 * Opens a blob into `plain` (len - VAULT_SEAL_OVERHEAD bytes of room).
 * Returns 0, or -1 with `plain` zeroed when the blob is too short, altered
 * or sealed with other associated data or another key.
 */
static int aead_open(const unsigned char *key, const struct ad *ad, const void *sealed, size_t len,
                     unsigned char *plain)
{
    const unsigned char *in = sealed;
    unsigned long long plen;

    if (len < VAULT_SEAL_OVERHEAD)
        return -1;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL, in + VAULT_NONCE_BYTES,
                                                   len - VAULT_NONCE_BYTES, ad->data, ad->len, in,
                                                   key) != 0) {
        sodium_memzero(plain, len - VAULT_SEAL_OVERHEAD);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Set-up                                                              */
/* ------------------------------------------------------------------ */

int vault_global_init(void)
{
    return sodium_init() < 0 ? CU_ERR_INTERNAL : CU_OK;
}

/* fsyncs the folder holding `path`, so that a new entry in it is durable. */
static int fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd, rc = -1, saved;

    if (slash == NULL)
        dir = xstrdup(".");
    else if (slash == path)
        dir = xstrdup("/");
    else
        dir = xstrndup(path, (size_t)(slash - path));
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        rc = fsync(fd);
        saved = errno;
        close(fd);
        errno = saved;
    }
    saved = errno;
    free(dir);
    errno = saved;
    return rc;
}

int vault_master_key_create(const char *path, char **errmsg)
{
    unsigned char *key = sodium_malloc(MASTER_KEY_BYTES);
    size_t done = 0;
    ssize_t n;
    int fd = -1, created = 0, rc;

    if (key == NULL) {
        cu_log("vault: out of secure memory");
        abort();
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            rc = cu_errf(errmsg, CU_ERR_CONFLICT, "master key file '%s' exists already", path);
        else
            rc = cu_errf(errmsg, CU_ERR_IO, "cannot create master key file '%s': %s", path,
                         strerror(errno));
        goto out;
    }
    created = 1;
    /* The umask may have cleared owner bits; group and other stay clear. */
    if (fchmod(fd, 0600) != 0)
        goto io_error;
    randombytes_buf(key, MASTER_KEY_BYTES);
    while (done < MASTER_KEY_BYTES) {
        n = write(fd, key + done, MASTER_KEY_BYTES - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto io_error;
        done += (size_t)n;
    }
    if (fsync(fd) != 0)
        goto io_error;
    if (close(fd) != 0) {
        fd = -1;
        goto io_error;
    }
    fd = -1;
    if (fsync_parent(path) != 0)
        goto io_error;
    rc = CU_OK;
    goto out;

io_error:
    rc = cu_errf(errmsg, CU_ERR_IO, "cannot write master key file '%s': %s", path, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc != CU_OK && created)
        unlink(path);
    sodium_free(key);
    return rc;
}

/* Reads the master key file into `key` (MASTER_KEY_BYTES), checking its mode and size. */
static int master_key_read(const char *path, unsigned char *key, char **errmsg)
{
    struct stat st;
    size_t done = 0;
    ssize_t n;
    int fd, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cu_errf(errmsg, CU_ERR_KEY, "cannot open master key file '%s': %s", path,
                       strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = cu_errf(errmsg, CU_ERR_KEY, "cannot stat master key file '%s': %s", path,
                     strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = cu_errf(errmsg, CU_ERR_KEY, "master key file '%s' is not a regular file", path);
        goto out;
    }
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        rc = cu_errf(errmsg, CU_ERR_KEY, "master key file '%s' must be mode 0600 (it is %04o)",
                     path, (unsigned)(st.st_mode & 07777));
        goto out;
    }
    if (st.st_size != MASTER_KEY_BYTES) {
        rc =
            cu_errf(errmsg, CU_ERR_KEY, "master key file '%s' must be exactly %d bytes (it is %jd)",
                    path, MASTER_KEY_BYTES, (intmax_t)st.st_size);
        goto out;
    }
    while (done < MASTER_KEY_BYTES) {
        n = read(fd, key + done, MASTER_KEY_BYTES - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = cu_errf(errmsg, CU_ERR_KEY, "cannot read master key file '%s': %s", path,
                         n < 0 ? strerror(errno) : "file shrank while reading");
            goto out;
        }
        done += (size_t)n;
    }
    rc = CU_OK;
out:
    close(fd);
    return rc;
}

static void derive(unsigned char *sub, uint64_t id, const unsigned char *master)
{
    if (crypto_kdf_derive_from_key(sub, VAULT_KEY_BYTES, id, KDF_CONTEXT, master) != 0) {
        cu_log("vault: key derivation failed");
        abort();
    }
}

int vault_new(struct vault **out, const char *master_key_path, char **errmsg)
{
    unsigned char *master = sodium_malloc(MASTER_KEY_BYTES);
    struct vault *v = NULL;
    int rc, k;

    *out = NULL;
    if (master == NULL) {
        cu_log("vault: out of secure memory");
        abort();
    }
    rc = master_key_read(master_key_path, master, errmsg);
    if (rc != CU_OK)
        goto out;
    v = xcalloc(1, sizeof(*v));
    v->sub = sodium_malloc(sizeof(*v->sub));
    if (v->sub == NULL) {
        cu_log("vault: out of secure memory");
        abort();
    }
    derive(v->sub->kek_wrap, KDF_ID_KEK_WRAP, master);
    derive(v->sub->pseudonym, KDF_ID_PSEUDONYM, master);
    derive(v->sub->token, KDF_ID_TOKEN, master);
    derive(v->sub->staff, KDF_ID_STAFF, master);
    derive(v->sub->canary, KDF_ID_CANARY, master);
    for (k = 1; k <= BLIND_KINDS; k++)
        derive(v->sub->blind[k - 1], KDF_ID_BLIND_BASE + (uint64_t)k, master);
    {
        unsigned char seed[crypto_sign_SEEDBYTES];

        derive(seed, KDF_ID_AUDIT_SIGN, master);
        crypto_sign_seed_keypair(v->sub->audit_pk, v->sub->audit_sk, seed);
        sodium_memzero(seed, sizeof(seed));
    }
    sodium_mprotect_readonly(v->sub);
    *out = v;
out:
    sodium_free(master);
    return rc;
}

void vault_free(struct vault *v)
{
    size_t i;

    if (v == NULL)
        return;
    for (i = 0; i < v->nkeks; i++)
        sodium_free(v->keks[i].key);
    free(v->keks);
    sodium_free(v->sub);
    free(v);
}

/* ------------------------------------------------------------------ */
/* KEKs                                                                */
/* ------------------------------------------------------------------ */

static struct vault_kek *kek_find(const struct vault *v, uint32_t version)
{
    size_t i;

    for (i = 0; i < v->nkeks; i++)
        if (v->keks[i].version == version)
            return &v->keks[i];
    return NULL;
}

/* Adds `key` (sodium_malloc'd; the ring takes it and makes it read-only). */
static void kek_add(struct vault *v, uint32_t version, unsigned char *key)
{
    sodium_mprotect_readonly(key);
    v->keks = xrealloc(v->keks, (v->nkeks + 1) * sizeof(*v->keks));
    v->keks[v->nkeks].version = version;
    v->keks[v->nkeks].key = key;
    v->nkeks++;
}

static int kek_check_new(const struct vault *v, uint32_t version, char **errmsg)
{
    if (version == 0)
        return cu_errf(errmsg, CU_ERR_INVALID, "key-encryption key version must not be 0");
    if (kek_find(v, version) != NULL)
        return cu_errf(errmsg, CU_ERR_CONFLICT, "key-encryption key version %u is already loaded",
                       (unsigned)version);
    return CU_OK;
}

static unsigned char *secure_key_alloc(void)
{
    unsigned char *key = sodium_malloc(VAULT_KEY_BYTES);

    if (key == NULL) {
        cu_log("vault: out of secure memory");
        abort();
    }
    return key;
}

int vault_kek_create(struct vault *v, uint32_t version, struct buf *wrapped, char **errmsg)
{
    unsigned char *key;
    struct ad ad;
    int rc;

    rc = kek_check_new(v, version, errmsg);
    if (rc != CU_OK)
        return rc;
    key = secure_key_alloc();
    rand_take(key, VAULT_KEY_BYTES);
    ad_build(&ad, "kek", NULL, NULL, version);
    aead_seal(v->sub->kek_wrap, &ad, key, VAULT_KEY_BYTES, wrapped);
    ad_release(&ad);
    kek_add(v, version, key);
    v->active = version;
    return CU_OK;
}

int vault_kek_load(struct vault *v, uint32_t version, const void *wrapped, size_t len,
                   char **errmsg)
{
    unsigned char *key;
    struct ad ad;
    int rc;

    rc = kek_check_new(v, version, errmsg);
    if (rc != CU_OK)
        return rc;
    if (len != VAULT_WRAPPED_KEY_BYTES)
        return cu_errf(errmsg, CU_ERR_INTEGRITY,
                       "wrapped key-encryption key version %u has %zu bytes, not %d",
                       (unsigned)version, len, VAULT_WRAPPED_KEY_BYTES);
    key = secure_key_alloc();
    ad_build(&ad, "kek", NULL, NULL, version);
    if (aead_open(v->sub->kek_wrap, &ad, wrapped, len, key) != 0) {
        sodium_free(key);
        rc = cu_errf(errmsg, CU_ERR_INTEGRITY,
                     "integrity check failed for key-encryption key version %u (altered, or "
                     "made with another master key)",
                     (unsigned)version);
        goto out;
    }
    kek_add(v, version, key);
out:
    ad_release(&ad);
    return rc;
}

int vault_kek_set_active(struct vault *v, uint32_t version, char **errmsg)
{
    if (kek_find(v, version) == NULL)
        return cu_errf(errmsg, CU_ERR_KEY, "key-encryption key version %u is not loaded",
                       (unsigned)version);
    v->active = version;
    return CU_OK;
}

void vault_kek_forget(struct vault *v, uint32_t version)
{
    struct vault_kek *k = kek_find(v, version);
    size_t i;

    if (k == NULL)
        return;
    i = (size_t)(k - v->keks);
    sodium_free(k->key);
    memmove(&v->keks[i], &v->keks[i + 1], (v->nkeks - i - 1) * sizeof(*v->keks));
    v->nkeks--;
    if (v->active == version)
        v->active = 0;
}

uint32_t vault_kek_active(const struct vault *v)
{
    return v->active;
}

/* ------------------------------------------------------------------ */
/* DEKs                                                                */
/* ------------------------------------------------------------------ */

void vault_dek_generate(struct vault_dek *dek)
{
    rand_take(dek->key, sizeof(dek->key));
}

void vault_dek_wipe(struct vault_dek *dek)
{
    sodium_memzero(dek->key, sizeof(dek->key));
}

int vault_dek_wrap(struct vault *v, const char *customer_id, const struct vault_dek *dek,
                   uint32_t *kek_version, struct buf *out, char **errmsg)
{
    struct vault_kek *k = v->active ? kek_find(v, v->active) : NULL;
    struct ad ad;

    if (k == NULL)
        return cu_errf(errmsg, CU_ERR_KEY, "no active key-encryption key");
    ad_build(&ad, "dek", customer_id, NULL, k->version);
    aead_seal(k->key, &ad, dek->key, sizeof(dek->key), out);
    ad_release(&ad);
    *kek_version = k->version;
    return CU_OK;
}

int vault_dek_unwrap(struct vault *v, const char *customer_id, uint32_t kek_version,
                     const void *wrapped, size_t len, struct vault_dek *dek, char **errmsg)
{
    struct vault_kek *k = kek_find(v, kek_version);
    struct ad ad;
    int rc = CU_OK;

    if (k == NULL)
        return cu_errf(errmsg, CU_ERR_KEY, "key-encryption key version %u is not loaded",
                       (unsigned)kek_version);
    ad_build(&ad, "dek", customer_id, NULL, kek_version);
    if (len != VAULT_WRAPPED_KEY_BYTES || aead_open(k->key, &ad, wrapped, len, dek->key) != 0) {
        vault_dek_wipe(dek);
        rc = cu_errf(errmsg, CU_ERR_INTEGRITY,
                     "integrity check failed for the data key of customer '%.64s'", customer_id);
    }
    ad_release(&ad);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Fields                                                              */
/* ------------------------------------------------------------------ */

void vault_field_seal(const struct vault_dek *dek, const char *customer_id, const char *field,
                      uint32_t dek_version, const void *plain, size_t len, struct buf *out)
{
    struct ad ad;

    ad_build(&ad, "field", customer_id, field, dek_version);
    aead_seal(dek->key, &ad, plain, len, out);
    ad_release(&ad);
}

int vault_field_open(const struct vault_dek *dek, const char *customer_id, const char *field,
                     uint32_t dek_version, const void *sealed, size_t len, struct buf *out,
                     char **errmsg)
{
    struct ad ad;
    int rc = CU_OK;

    ad_build(&ad, "field", customer_id, field, dek_version);
    if (len >= VAULT_SEAL_OVERHEAD)
        buf_grow(out, len - VAULT_SEAL_OVERHEAD);
    if (len < VAULT_SEAL_OVERHEAD ||
        aead_open(dek->key, &ad, sealed, len, (unsigned char *)out->data + out->len) != 0) {
        if (out->data != NULL)
            out->data[out->len] = '\0'; /* buf_grow may have left it unterminated */
        rc = cu_errf(errmsg, CU_ERR_INTEGRITY,
                     "integrity check failed for field '%s' of customer '%.64s'", field,
                     customer_id);
        goto out;
    }
    out->len += len - VAULT_SEAL_OVERHEAD;
    out->data[out->len] = '\0';
out:
    ad_release(&ad);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Blind indexes and pseudonyms                                        */
/* ------------------------------------------------------------------ */

/*
 * Stored format: BLAKE2b with an 8-byte output, keyed with the kind's
 * subkey, over the normalised value; the 8 output bytes are read as a
 * LITTLE-ENDIAN uint64 (byte 0 is the least significant), whatever the
 * host's byte order.  Changing any of this orphans every stored index.
 */
uint64_t vault_blind(const struct vault *v, int kind, const void *value, size_t len)
{
    unsigned char h[BLIND_BYTES];
    uint64_t x = 0;
    int i;

    if (kind < 1 || kind > BLIND_KINDS) {
        cu_log("vault: blind index of unknown identifier kind %d", kind);
        abort();
    }
    crypto_generichash(h, sizeof(h), value, len, v->sub->blind[kind - 1], VAULT_KEY_BYTES);
    for (i = BLIND_BYTES - 1; i >= 0; i--)
        x = (x << 8) | h[i];
    return x;
}

void vault_canary_tag(const struct vault *v, const char *customer_id,
                      unsigned char out[VAULT_PSEUDONYM_BYTES])
{
    crypto_generichash(out, VAULT_PSEUDONYM_BYTES, (const unsigned char *)customer_id,
                       strlen(customer_id), v->sub->canary, VAULT_KEY_BYTES);
}

void vault_pseudonym(const struct vault *v, const char *customer_id,
                     unsigned char out[VAULT_PSEUDONYM_BYTES])
{
    crypto_generichash(out, VAULT_PSEUDONYM_BYTES, (const unsigned char *)customer_id,
                       strlen(customer_id), v->sub->pseudonym, VAULT_KEY_BYTES);
}

/* ------------------------------------------------------------------ */
/* Audit log: hashing and checkpoint signatures                        */
/* ------------------------------------------------------------------ */

void vault_sha256(unsigned char out[32], const void *a, size_t alen, const void *b, size_t blen,
                  const void *c, size_t clen)
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    if (alen > 0)
        crypto_hash_sha256_update(&st, a, alen);
    if (blen > 0)
        crypto_hash_sha256_update(&st, b, blen);
    if (clen > 0)
        crypto_hash_sha256_update(&st, c, clen);
    crypto_hash_sha256_final(&st, out);
}

void vault_audit_public_key(const struct vault *v, unsigned char pk[32])
{
    memcpy(pk, v->sub->audit_pk, crypto_sign_PUBLICKEYBYTES);
}

void vault_audit_sign(const struct vault *v, const void *msg, size_t len, unsigned char sig[64])
{
    crypto_sign_detached(sig, NULL, msg, len, v->sub->audit_sk);
}

int vault_ed25519_verify(const unsigned char pk[32], const void *msg, size_t len,
                         const unsigned char sig[64])
{
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0 ? CU_OK : CU_ERR_INTEGRITY;
}

/* ------------------------------------------------------------------ */
/* Secrets for staff authentication                                    */
/* ------------------------------------------------------------------ */

void vault_random(void *out, size_t len)
{
    rand_take(out, len);
}

uint32_t vault_random_uniform(uint32_t upper)
{
    uint32_t r, min;

    if (upper < 2)
        return 0;
    /* Rejection sampling: drop the values that would bias the remainder. */
    min = (uint32_t)(-upper) % upper;
    do
        rand_take(&r, sizeof(r));
    while (r < min);
    return r % upper;
}

int vault_password_hash(const char *password, char out[VAULT_PASSWORD_HASH_BYTES], int strong)
{
    _Static_assert(VAULT_PASSWORD_HASH_BYTES >= crypto_pwhash_STRBYTES, "hash buffer");
    if (crypto_pwhash_str_alg(
            out, password, strlen(password),
            strong ? crypto_pwhash_OPSLIMIT_MODERATE : crypto_pwhash_OPSLIMIT_INTERACTIVE,
            strong ? crypto_pwhash_MEMLIMIT_MODERATE : crypto_pwhash_MEMLIMIT_INTERACTIVE,
            crypto_pwhash_ALG_ARGON2ID13) != 0)
        return CU_ERR_INTERNAL; /* out of memory for Argon2 */
    return CU_OK;
}

int vault_password_verify(const char *stored, const char *password)
{
    return crypto_pwhash_str_verify(stored, password, strlen(password)) == 0 ? CU_OK
                                                                             : CU_ERR_INTEGRITY;
}

int vault_password_needs_rehash(const char *stored)
{
    return crypto_pwhash_str_needs_rehash(stored, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}

void vault_token_hash(const struct vault *v, const void *token, size_t len, unsigned char out[32])
{
    crypto_generichash(out, 32, token, len, v->sub->token, sizeof(v->sub->token));
}

int vault_equal(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

void vault_secret_seal(const struct vault *v, const char *context, const void *plain, size_t len,
                       struct buf *out)
{
    unsigned char *p;
    unsigned long long clen;

    buf_grow(out, len + VAULT_SEAL_OVERHEAD);
    p = (unsigned char *)out->data + out->len;
    rand_take(p, VAULT_NONCE_BYTES);
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + VAULT_NONCE_BYTES, &clen, plain, len,
                                               (const unsigned char *)context, strlen(context),
                                               NULL, p, v->sub->staff);
    out->len += VAULT_NONCE_BYTES + (size_t)clen;
    out->data[out->len] = '\0';
}

int vault_secret_open(const struct vault *v, const char *context, const void *sealed, size_t len,
                      struct buf *out, char **errmsg)
{
    const unsigned char *s = sealed;
    unsigned long long plen;

    if (len < VAULT_SEAL_OVERHEAD)
        return cu_errf(errmsg, CU_ERR_INTEGRITY, "integrity check failed for secret '%.64s'",
                       context);
    buf_grow(out, len - VAULT_SEAL_OVERHEAD);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)out->data + out->len, &plen, NULL, s + VAULT_NONCE_BYTES,
            len - VAULT_NONCE_BYTES, (const unsigned char *)context, strlen(context), s,
            v->sub->staff) != 0)
        return cu_errf(errmsg, CU_ERR_INTEGRITY, "integrity check failed for secret '%.64s'",
                       context);
    out->len += (size_t)plen;
    out->data[out->len] = '\0';
    return CU_OK;
}
