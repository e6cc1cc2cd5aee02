/*
 * Unit tests of the vault: key files, the KEK ring, DEK wrapping, field
 * sealing, blind indexes, pseudonyms, the random pool, and known answers
 * (kat.exp) that pin the stored formats.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vault/vault.h"

/* A temporary folder for the whole run, removed at the end. */
static char tmpdir[64];
static int file_seq;

/* Returns a new path in tmpdir (the caller frees it); the file does not exist. */
static char *tmp_path(const char *stem)
{
    return xasprintf("%s/%s-%d", tmpdir, stem, file_seq++);
}

/* Writes `len` bytes to a new file at `path` with `mode`. */
static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

/* Creates a fresh master key file and opens a vault on it; the caller frees both. */
static struct vault *new_vault(char **key_path)
{
    struct vault *v = NULL;
    char *path = tmp_path("master");

    assert_int_equal(vault_master_key_create(path, NULL), CU_OK);
    assert_int_equal(vault_new(&v, path, NULL), CU_OK);
    if (key_path != NULL)
        *key_path = path;
    else
        free(path);
    return v;
}

static int group_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_vault.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    return vault_global_init() == CU_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    int rc;

    (void)state;
    rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

/* ---- master key file ---- */

static void test_master_key_created_0600(void **state)
{
    /* Whatever the umask, the file ends up exactly 0600. */
    static const mode_t umasks[] = {0, 022, 0377};
    struct vault *v = NULL;
    struct stat st;
    mode_t old;
    char *path;
    size_t i;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(umasks); i++) {
        path = tmp_path("master");
        old = umask(umasks[i]);
        assert_int_equal(vault_master_key_create(path, NULL), CU_OK);
        umask(old);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_size, VAULT_KEY_BYTES);
        assert_int_equal(vault_new(&v, path, NULL), CU_OK);
        assert_non_null(v);
        vault_free(v);
        v = NULL;
        free(path);
    }
}

static void test_master_key_create_refuses_overwrite(void **state)
{
    char *path = tmp_path("master");
    unsigned char before[VAULT_KEY_BYTES], after[VAULT_KEY_BYTES];
    char *err = NULL;
    int fd;

    (void)state;
    assert_int_equal(vault_master_key_create(path, NULL), CU_OK);
    fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, before, sizeof(before)), (ssize_t)sizeof(before));
    close(fd);

    assert_int_equal(vault_master_key_create(path, &err), CU_ERR_CONFLICT);
    assert_non_null(strstr(err, path));
    fd = open(path, O_RDONLY);
    assert_int_equal(read(fd, after, sizeof(after)), (ssize_t)sizeof(after));
    close(fd);
    assert_memory_equal(before, after, sizeof(before));
    free(err);
    free(path);
}

static void test_master_key_refused_when_readable_by_others(void **state)
{
    static const mode_t modes[] = {0644, 0640, 0604, 0610, 0601};
    char *path;
    struct vault *v = NULL;
    char *err = NULL;
    size_t i;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(modes); i++) {
        path = tmp_path("master");
        assert_int_equal(vault_master_key_create(path, NULL), CU_OK);
        assert_int_equal(chmod(path, modes[i]), 0); /* a valid key file, made readable */
        assert_int_equal(vault_new(&v, path, &err), CU_ERR_KEY);
        assert_null(v);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "must be mode 0600"));
        free(err);
        err = NULL;
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(vault_new(&v, path, NULL), CU_OK);
        vault_free(v);
        v = NULL;
        free(path);
    }
}

static void test_master_key_wrong_size(void **state)
{
    unsigned char key[VAULT_KEY_BYTES + 1] = {0};
    size_t sizes[] = {VAULT_KEY_BYTES - 1, VAULT_KEY_BYTES + 1, 0};
    struct vault *v = NULL;
    char *path, *err = NULL;
    size_t i;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(sizes); i++) {
        path = tmp_path("short");
        write_file(path, key, sizes[i], 0600);
        assert_int_equal(vault_new(&v, path, &err), CU_ERR_KEY);
        assert_null(v);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "32 bytes"));
        free(err);
        err = NULL;
        free(path);
    }
    path = tmp_path("missing");
    assert_int_equal(vault_new(&v, path, &err), CU_ERR_KEY);
    assert_null(v);
    free(err);
    free(path);
}

/* ---- field sealing ---- */

static void test_seal_open_round_trip(void **state)
{
    struct vault_dek dek;
    struct buf sealed = BUF_INIT, plain = BUF_INIT;
    size_t sizes[] = {0, 1, 20, 4096, 1 << 20};
    unsigned char *value = xmalloc(1 << 20);
    size_t i, j;

    (void)state;
    for (j = 0; j < (1 << 20); j++)
        value[j] = (unsigned char)(j * 131 + 7);
    vault_dek_generate(&dek);
    for (i = 0; i < CU_ARRAY_LEN(sizes); i++) {
        buf_reset(&sealed);
        buf_reset(&plain);
        buf_addstr(&sealed, "pre");
        buf_addstr(&plain, "keep:");
        vault_field_seal(&dek, "C00000001", "name", 1, value, sizes[i], &sealed);
        assert_int_equal(sealed.len, 3 + sizes[i] + VAULT_SEAL_OVERHEAD);
        assert_memory_equal(sealed.data, "pre", 3);
        if (sizes[i] >= 16) /* the ciphertext is not the plaintext */
            assert_memory_not_equal(sealed.data + 3 + VAULT_NONCE_BYTES, value, 16);
        assert_int_equal(vault_field_open(&dek, "C00000001", "name", 1, sealed.data + 3,
                                          sealed.len - 3, &plain, NULL),
                         CU_OK);
        assert_int_equal(plain.len, 5 + sizes[i]);
        assert_memory_equal(plain.data, "keep:", 5);
        assert_memory_equal(plain.data + 5, value, sizes[i]);
        assert_int_equal(plain.data[plain.len], '\0');
    }
    vault_dek_wipe(&dek);
    buf_release(&sealed);
    buf_release_wipe(&plain);
    free(value);
}

/* Expects opening to fail with CU_ERR_INTEGRITY, the standard message and nothing appended. */
static void expect_open_fails(const struct vault_dek *dek, const char *cid, const char *field,
                              uint32_t ver, const void *blob, size_t len)
{
    struct buf out = BUF_INIT;
    char *err = NULL, *want;

    buf_addstr(&out, "untouched");
    assert_int_equal(vault_field_open(dek, cid, field, ver, blob, len, &out, &err),
                     CU_ERR_INTEGRITY);
    assert_int_equal(out.len, 9);
    assert_string_equal(out.data, "untouched");
    want = xasprintf("integrity check failed for field '%s' of customer '%s'", field, cid);
    assert_string_equal(err, want);
    free(want);
    free(err);
    buf_release(&out);
}

static void test_open_rejects_moved_or_altered(void **state)
{
    const char secret[] = "Zhang Wei";
    struct vault_dek dek, other;
    struct buf sealed = BUF_INIT, empty = BUF_INIT, plain = BUF_INIT;
    unsigned char *copy;
    size_t i, bit;

    (void)state;
    vault_dek_generate(&dek);
    vault_dek_generate(&other);
    vault_field_seal(&dek, "C00000001", "name", 3, secret, strlen(secret), &sealed);
    /* It opens in place ... */
    assert_int_equal(
        vault_field_open(&dek, "C00000001", "name", 3, sealed.data, sealed.len, &plain, NULL),
        CU_OK);
    assert_string_equal(plain.data, secret);

    /* ... and nowhere else. */
    expect_open_fails(&dek, "C00000002", "name", 3, sealed.data, sealed.len);
    expect_open_fails(&dek, "C0000000", "name", 3, sealed.data, sealed.len);
    expect_open_fails(&dek, "C00000001", "address", 3, sealed.data, sealed.len);
    expect_open_fails(&dek, "C00000001", "name", 2, sealed.data, sealed.len);
    expect_open_fails(&dek, "C00000001", "name", 4, sealed.data, sealed.len);
    expect_open_fails(&other, "C00000001", "name", 3, sealed.data, sealed.len);

    /* Every flipped bit (nonce, ciphertext, tag) is caught. */
    copy = xmalloc(sealed.len);
    for (i = 0; i < sealed.len; i++) {
        for (bit = 0; bit < 8; bit += 3) {
            memcpy(copy, sealed.data, sealed.len);
            copy[i] ^= (unsigned char)(1u << bit);
            expect_open_fails(&dek, "C00000001", "name", 3, copy, sealed.len);
        }
    }
    /* Truncated anywhere, and too short to hold a nonce and tag. */
    for (i = 0; i < sealed.len; i++)
        expect_open_fails(&dek, "C00000001", "name", 3, sealed.data, i);
    /* An empty value sealed is still authenticated, and failure leaves a fresh buffer
     * NUL-terminated. */
    vault_field_seal(&dek, "C00000001", "name", 3, "", 0, &empty);
    expect_open_fails(&dek, "C00000001", "address", 3, empty.data, empty.len);
    {
        struct buf fresh = BUF_INIT;

        assert_int_equal(
            vault_field_open(&dek, "C00000001", "email", 3, empty.data, empty.len, &fresh, NULL),
            CU_ERR_INTEGRITY);
        assert_int_equal(fresh.len, 0);
        assert_true(fresh.data == NULL || fresh.data[0] == '\0');
        buf_release(&fresh);
    }
    free(copy);
    vault_dek_wipe(&dek);
    vault_dek_wipe(&other);
    buf_release(&sealed);
    buf_release(&empty);
    buf_release_wipe(&plain);
}

static void test_seal_nonces_differ(void **state)
{
    struct vault_dek dek;
    struct buf a = BUF_INIT, b = BUF_INIT;

    (void)state;
    vault_dek_generate(&dek);
    vault_field_seal(&dek, "C00000001", "phone", 1, "+8613812345678", 14, &a);
    vault_field_seal(&dek, "C00000001", "phone", 1, "+8613812345678", 14, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_not_equal(a.data, b.data, VAULT_NONCE_BYTES);
    assert_memory_not_equal(a.data + VAULT_NONCE_BYTES, b.data + VAULT_NONCE_BYTES,
                            a.len - VAULT_NONCE_BYTES);
    vault_dek_wipe(&dek);
    buf_release(&a);
    buf_release(&b);
}

static int cmp_nonce(const void *a, const void *b)
{
    return memcmp(a, b, VAULT_NONCE_BYTES);
}

/*
 * The per-thread random pool never hands out the same bytes twice, across
 * many refills: 4000 nonces (96,000 bytes, ~24 pool refills) are distinct,
 * and so are the DEKs drawn between them.
 */
static void test_random_pool_never_repeats(void **state)
{
    enum { N = 4000 };
    unsigned char(*nonces)[VAULT_NONCE_BYTES] = xmalloc(N * VAULT_NONCE_BYTES);
    struct vault_dek dek, d1, d2;
    struct buf s = BUF_INIT;
    size_t i;

    (void)state;
    vault_dek_generate(&dek);
    for (i = 0; i < N; i++) {
        buf_reset(&s);
        vault_field_seal(&dek, "C1", "name", 1, "x", 1, &s);
        memcpy(nonces[i], s.data, VAULT_NONCE_BYTES);
        if (i % 7 == 0) { /* odd-sized draws in between shift the alignment */
            vault_dek_generate(&d1);
            vault_dek_generate(&d2);
            assert_memory_not_equal(d1.key, d2.key, VAULT_KEY_BYTES);
            assert_memory_not_equal(d1.key, nonces[i], VAULT_NONCE_BYTES);
        }
    }
    qsort(nonces, N, VAULT_NONCE_BYTES, cmp_nonce);
    for (i = 1; i < N; i++)
        assert_memory_not_equal(nonces[i - 1], nonces[i], VAULT_NONCE_BYTES);
    vault_dek_wipe(&dek);
    vault_dek_wipe(&d1);
    vault_dek_wipe(&d2);
    buf_release(&s);
    free(nonces);
}

/* A forked child must not reuse the random bytes its parent has still pooled. */
static void test_random_pool_fork_safe(void **state)
{
    struct vault_dek dek;
    struct buf parent = BUF_INIT, child = BUF_INIT;
    unsigned char got[VAULT_NONCE_BYTES + 64];
    int fds[2], status;
    ssize_t n;
    pid_t pid;

    (void)state;
    vault_dek_generate(&dek); /* the pool is now filled, with bytes left */
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        vault_field_seal(&dek, "C1", "name", 1, "x", 1, &child);
        _exit(write(fds[1], child.data, child.len) == (ssize_t)child.len ? 0 : 1);
    }
    close(fds[1]);
    vault_field_seal(&dek, "C1", "name", 1, "x", 1, &parent);
    n = read(fds[0], got, sizeof(got));
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(n, (ssize_t)parent.len);
    assert_memory_not_equal(got, parent.data, VAULT_NONCE_BYTES);
    vault_dek_wipe(&dek);
    buf_release(&parent);
    buf_release(&child);
}

/* ---- DEKs and KEKs ---- */

static void test_dek_wrap_unwrap(void **state)
{
    struct vault *v = new_vault(NULL);
    struct vault_dek dek, back, zero;
    struct buf w = BUF_INIT, k = BUF_INIT;
    uint32_t ver = 0;
    char *err = NULL;

    (void)state;
    memset(&zero, 0, sizeof(zero));
    vault_dek_generate(&dek);
    assert_memory_not_equal(dek.key, zero.key, VAULT_KEY_BYTES);

    /* No KEK yet. */
    assert_int_equal(vault_kek_active(v), 0);
    assert_int_equal(vault_dek_wrap(v, "C00000001", &dek, &ver, &w, &err), CU_ERR_KEY);
    assert_int_equal(w.len, 0);
    free(err);
    err = NULL;

    assert_int_equal(vault_kek_create(v, 1, &k, NULL), CU_OK);
    assert_int_equal(k.len, VAULT_WRAPPED_KEY_BYTES);
    assert_int_equal(vault_kek_active(v), 1);
    assert_int_equal(vault_dek_wrap(v, "C00000001", &dek, &ver, &w, NULL), CU_OK);
    assert_int_equal(ver, 1);
    assert_int_equal(w.len, VAULT_WRAPPED_KEY_BYTES);
    assert_int_equal(vault_dek_unwrap(v, "C00000001", 1, w.data, w.len, &back, NULL), CU_OK);
    assert_memory_equal(back.key, dek.key, VAULT_KEY_BYTES);

    /* Another customer's id: integrity error, and the output is wiped. */
    memset(back.key, 0xaa, sizeof(back.key));
    assert_int_equal(vault_dek_unwrap(v, "C00000002", 1, w.data, w.len, &back, &err),
                     CU_ERR_INTEGRITY);
    assert_string_equal(err, "integrity check failed for the data key of customer 'C00000002'");
    assert_memory_equal(back.key, zero.key, VAULT_KEY_BYTES);
    free(err);
    err = NULL;
    /* Unknown KEK version. */
    assert_int_equal(vault_dek_unwrap(v, "C00000001", 2, w.data, w.len, &back, &err), CU_ERR_KEY);
    assert_non_null(strstr(err, "version 2"));
    free(err);
    err = NULL;
    /* Truncated or altered. */
    assert_int_equal(vault_dek_unwrap(v, "C00000001", 1, w.data, w.len - 1, &back, NULL),
                     CU_ERR_INTEGRITY);
    w.data[30] ^= 1;
    assert_int_equal(vault_dek_unwrap(v, "C00000001", 1, w.data, w.len, &back, NULL),
                     CU_ERR_INTEGRITY);

    /* Two wraps of the same DEK differ (fresh nonce). */
    buf_reset(&w);
    assert_int_equal(vault_dek_wrap(v, "C00000001", &dek, &ver, &w, NULL), CU_OK);
    assert_int_equal(vault_dek_wrap(v, "C00000001", &dek, &ver, &w, NULL), CU_OK);
    assert_memory_not_equal(w.data, w.data + VAULT_WRAPPED_KEY_BYTES, VAULT_WRAPPED_KEY_BYTES);

    /* Wiping clears the key. */
    vault_dek_wipe(&dek);
    assert_memory_equal(dek.key, zero.key, VAULT_KEY_BYTES);
    vault_dek_wipe(&back);
    buf_release(&w);
    buf_release(&k);
    vault_free(v);
}

static void test_kek_create_load_across_vaults(void **state)
{
    char *path;
    struct vault *a = new_vault(&path), *b = NULL;
    struct buf kek = BUF_INIT, w = BUF_INIT;
    struct vault_dek dek, back;
    uint32_t ver;
    char *err = NULL;

    (void)state;
    assert_int_equal(vault_kek_create(a, 7, &kek, NULL), CU_OK);
    vault_dek_generate(&dek);
    assert_int_equal(vault_dek_wrap(a, "C00000042", &dek, &ver, &w, NULL), CU_OK);
    assert_int_equal(ver, 7);
    vault_free(a);

    /* A second vault from the same master key file loads the stored KEK. */
    assert_int_equal(vault_new(&b, path, NULL), CU_OK);
    assert_int_equal(vault_kek_load(b, 7, kek.data, kek.len, NULL), CU_OK);
    assert_int_equal(vault_kek_active(b), 0); /* loading does not activate */
    assert_int_equal(vault_dek_unwrap(b, "C00000042", 7, w.data, w.len, &back, NULL), CU_OK);
    assert_memory_equal(back.key, dek.key, VAULT_KEY_BYTES);
    /* Loading it again, or creating that version, is a conflict. */
    assert_int_equal(vault_kek_load(b, 7, kek.data, kek.len, &err), CU_ERR_CONFLICT);
    free(err);
    err = NULL;
    assert_int_equal(vault_kek_create(b, 7, &w, NULL), CU_ERR_CONFLICT);
    assert_int_equal(vault_kek_create(b, 0, &w, NULL), CU_ERR_INVALID);
    /* The wrapped KEK is bound to its version number. */
    assert_int_equal(vault_kek_load(b, 8, kek.data, kek.len, NULL), CU_ERR_INTEGRITY);
    assert_int_equal(vault_kek_load(b, 9, kek.data, kek.len - 1, NULL), CU_ERR_INTEGRITY);
    assert_int_equal(vault_kek_set_active(b, 8, NULL), CU_ERR_KEY);
    assert_int_equal(vault_kek_set_active(b, 7, NULL), CU_OK);
    assert_int_equal(vault_kek_active(b), 7);

    vault_dek_wipe(&dek);
    vault_dek_wipe(&back);
    buf_release(&kek);
    buf_release(&w);
    vault_free(b);
    free(path);
}

static void test_kek_load_other_master_key_fails(void **state)
{
    struct vault *a = new_vault(NULL), *b = new_vault(NULL);
    struct buf kek = BUF_INIT;
    char *err = NULL;

    (void)state;
    assert_int_equal(vault_kek_create(a, 1, &kek, NULL), CU_OK);
    assert_int_equal(vault_kek_load(b, 1, kek.data, kek.len, &err), CU_ERR_INTEGRITY);
    assert_non_null(strstr(err, "version 1"));
    assert_int_equal(vault_kek_active(b), 0);
    assert_int_equal(vault_kek_set_active(b, 1, NULL), CU_ERR_KEY); /* nothing was added */
    free(err);
    buf_release(&kek);
    vault_free(a);
    vault_free(b);
}

/* Rotation: DEKs wrapped under KEK 1 stay readable after KEK 2 becomes active. */
static void test_kek_rotation(void **state)
{
    struct vault *v = new_vault(NULL);
    struct buf k1 = BUF_INIT, k2 = BUF_INIT, w1 = BUF_INIT, w2 = BUF_INIT, w3 = BUF_INIT;
    struct vault_dek d1, d2, back;
    uint32_t ver1, ver2, ver3;

    (void)state;
    vault_dek_generate(&d1);
    vault_dek_generate(&d2);
    assert_int_equal(vault_kek_create(v, 1, &k1, NULL), CU_OK);
    assert_int_equal(vault_dek_wrap(v, "C1", &d1, &ver1, &w1, NULL), CU_OK);
    assert_int_equal(vault_kek_create(v, 2, &k2, NULL), CU_OK);
    assert_int_equal(vault_kek_active(v), 2);
    assert_int_equal(vault_dek_wrap(v, "C2", &d2, &ver2, &w2, NULL), CU_OK);
    assert_int_equal(ver1, 1);
    assert_int_equal(ver2, 2);
    assert_memory_not_equal(k1.data, k2.data, VAULT_WRAPPED_KEY_BYTES);

    /* Both versions unwrap their own DEKs, and not each other's. */
    assert_int_equal(vault_dek_unwrap(v, "C1", 1, w1.data, w1.len, &back, NULL), CU_OK);
    assert_memory_equal(back.key, d1.key, VAULT_KEY_BYTES);
    assert_int_equal(vault_dek_unwrap(v, "C2", 2, w2.data, w2.len, &back, NULL), CU_OK);
    assert_memory_equal(back.key, d2.key, VAULT_KEY_BYTES);
    assert_int_equal(vault_dek_unwrap(v, "C1", 2, w1.data, w1.len, &back, NULL), CU_ERR_INTEGRITY);

    /* Switching back and forth picks the version used for new wraps. */
    assert_int_equal(vault_kek_set_active(v, 1, NULL), CU_OK);
    assert_int_equal(vault_dek_wrap(v, "C3", &d2, &ver3, &w3, NULL), CU_OK);
    assert_int_equal(ver3, 1);
    assert_int_equal(vault_kek_set_active(v, 2, NULL), CU_OK);

    /* Re-wrap C1 under version 2, then retire version 1. */
    assert_int_equal(vault_dek_unwrap(v, "C1", 1, w1.data, w1.len, &back, NULL), CU_OK);
    buf_reset(&w1);
    assert_int_equal(vault_dek_wrap(v, "C1", &back, &ver1, &w1, NULL), CU_OK);
    assert_int_equal(ver1, 2);
    vault_kek_forget(v, 1);
    assert_int_equal(vault_kek_active(v), 2);
    assert_int_equal(vault_dek_unwrap(v, "C3", 1, w3.data, w3.len, &back, NULL), CU_ERR_KEY);
    assert_int_equal(vault_dek_unwrap(v, "C1", 2, w1.data, w1.len, &back, NULL), CU_OK);
    assert_memory_equal(back.key, d1.key, VAULT_KEY_BYTES);
    /* Forgetting the active version leaves none active. */
    vault_kek_forget(v, 2);
    assert_int_equal(vault_kek_active(v), 0);
    assert_int_equal(vault_dek_wrap(v, "C1", &d1, &ver1, &w1, NULL), CU_ERR_KEY);

    vault_dek_wipe(&d1);
    vault_dek_wipe(&d2);
    vault_dek_wipe(&back);
    buf_release(&k1);
    buf_release(&k2);
    buf_release(&w1);
    buf_release(&w2);
    buf_release(&w3);
    vault_free(v);
}

/* ---- blind indexes and pseudonyms ---- */

static void test_blind_index(void **state)
{
    char *path;
    struct vault *a = new_vault(&path), *a2 = NULL, *b = new_vault(NULL);
    const char *imei = "356938035643809";
    uint64_t x = vault_blind(a, 1, imei, 15);
    int kind;

    (void)state;
    assert_int_equal(vault_new(&a2, path, NULL), CU_OK);
    assert_true(x == vault_blind(a, 1, imei, 15));  /* deterministic */
    assert_true(x == vault_blind(a2, 1, imei, 15)); /* same master key, same index */
    assert_true(x != vault_blind(b, 1, imei, 15));  /* another master key */
    assert_true(x != vault_blind(a, 1, "356938035643817", 15));
    assert_true(x != vault_blind(a, 1, imei, 14));
    for (kind = 2; kind <= 15; kind++) /* another kind, another key */
        assert_true(x != vault_blind(a, kind, imei, 15));
    vault_free(a);
    vault_free(a2);
    vault_free(b);
    free(path);
}

static void test_pseudonym(void **state)
{
    char *path;
    struct vault *a = new_vault(&path), *a2 = NULL, *b = new_vault(NULL);
    unsigned char p1[VAULT_PSEUDONYM_BYTES], p2[VAULT_PSEUDONYM_BYTES];

    (void)state;
    assert_int_equal(vault_new(&a2, path, NULL), CU_OK);
    vault_pseudonym(a, "C00000001", p1);
    vault_pseudonym(a2, "C00000001", p2);
    assert_memory_equal(p1, p2, sizeof(p1));
    vault_pseudonym(b, "C00000001", p2);
    assert_memory_not_equal(p1, p2, sizeof(p1));
    vault_pseudonym(a, "C00000002", p2);
    assert_memory_not_equal(p1, p2, sizeof(p1));
    /* canary tags: deterministic per master key, unlinkable to pseudonyms */
    vault_canary_tag(a, "C00000001", p2);
    assert_memory_not_equal(p1, p2, sizeof(p1));
    vault_canary_tag(a2, "C00000001", p1);
    assert_memory_equal(p1, p2, sizeof(p1));
    vault_canary_tag(b, "C00000001", p1);
    assert_memory_not_equal(p1, p2, sizeof(p1));
    vault_free(a);
    vault_free(a2);
    vault_free(b);
    free(path);
}

/*
 * Known answers.  The expected values in kat.exp were computed OUTSIDE
 * libsodium, with Python's hashlib.blake2b (the script is in the file), from
 * the master key 00 01 .. 1f.  They pin the KDF context and subkey ids, the
 * blind index's truncation and byte order, and the pseudonym: stored blind
 * indexes and audit pseudonyms depend on them, so they must never change.
 */
static void test_known_answers(void **state)
{
    unsigned char master[VAULT_KEY_BYTES], pseud[VAULT_PSEUDONYM_BYTES];
    char line[256], a[64], b[64], c[64], hex[2 * VAULT_PSEUDONYM_BYTES + 1];
    char *path = tmp_path("kat");
    struct vault *v = NULL;
    int blinds = 0, pseuds = 0, kind;
    FILE *f;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(master); i++)
        master[i] = (unsigned char)i;
    write_file(path, master, sizeof(master), 0600);
    assert_int_equal(vault_new(&v, path, NULL), CU_OK);

    f = fopen(CU_TEST_DATA "/vault/kat.exp", "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "blind %63s %63s %63s", a, b, c) == 3) {
            kind = atoi(a);
            snprintf(hex, sizeof(hex), "%016llx",
                     (unsigned long long)vault_blind(v, kind, b, strlen(b)));
            assert_string_equal(hex, c);
            blinds++;
        } else if (sscanf(line, "pseudonym %63s %63s", a, b) == 2) {
            vault_pseudonym(v, a, pseud);
            for (i = 0; i < sizeof(pseud); i++)
                snprintf(hex + 2 * i, 3, "%02x", pseud[i]);
            assert_string_equal(hex, b);
            pseuds++;
        } else {
            fail_msg("bad line in kat.exp: %s", line);
        }
    }
    fclose(f);
    assert_int_equal(blinds, 2);
    assert_int_equal(pseuds, 1);
    vault_free(v);
    free(path);
}

static void test_passwords(void **state)
{
    char hash[VAULT_PASSWORD_HASH_BYTES], hash2[VAULT_PASSWORD_HASH_BYTES];

    (void)state;
    assert_int_equal(vault_password_hash("correct horse battery", hash, 0), CU_OK);
    assert_non_null(strstr(hash, "$argon2id$"));
    assert_null(strstr(hash, "correct horse"));
    assert_int_equal(vault_password_verify(hash, "correct horse battery"), CU_OK);
    assert_int_equal(vault_password_verify(hash, "correct horse batterY"), CU_ERR_INTEGRITY);
    assert_int_equal(vault_password_verify(hash, ""), CU_ERR_INTEGRITY);
    assert_int_equal(vault_password_verify("not a hash", "x"), CU_ERR_INTEGRITY);
    assert_false(vault_password_needs_rehash(hash));
    /* salted: the same password hashes differently */
    assert_int_equal(vault_password_hash("correct horse battery", hash2, 0), CU_OK);
    assert_string_not_equal(hash, hash2);
}

static void test_tokens_and_random(void **state)
{
    struct vault *v1, *v2;
    unsigned char a[32], b[32], c[32], tok[32];
    unsigned counts[10] = {0}, i;

    (void)state;
    v1 = new_vault(NULL);
    v2 = new_vault(NULL);
    vault_random(tok, sizeof(tok));
    vault_token_hash(v1, tok, sizeof(tok), a);
    vault_token_hash(v1, tok, sizeof(tok), b);
    vault_token_hash(v2, tok, sizeof(tok), c);
    assert_true(vault_equal(a, b, 32));
    assert_false(vault_equal(a, c, 32)); /* keyed by the master key */
    assert_false(vault_equal(a, tok, 32));
    tok[0] ^= 1;
    vault_token_hash(v1, tok, sizeof(tok), b);
    assert_false(vault_equal(a, b, 32));
    for (i = 0; i < 10000; i++) {
        uint32_t r = vault_random_uniform(10);

        assert_true(r < 10);
        counts[r]++;
    }
    for (i = 0; i < 10; i++) /* 1,000 expected each; far outside is a broken generator */
        assert_true(counts[i] > 800 && counts[i] < 1200);
    assert_int_equal(vault_random_uniform(1), 0);
    vault_free(v1);
    vault_free(v2);
}

static void test_staff_secrets(void **state)
{
    struct vault *v = new_vault(NULL), *w = new_vault(NULL);
    struct buf sealed = BUF_INIT, plain = BUF_INIT;
    char *err = NULL;

    (void)state;
    vault_secret_seal(v, "totp|alice", "0123456789abcdefghij", 20, &sealed);
    assert_int_equal(sealed.len, 20 + VAULT_SEAL_OVERHEAD);
    assert_null(memmem(sealed.data, sealed.len, "0123456789", 10));
    assert_int_equal(vault_secret_open(v, "totp|alice", sealed.data, sealed.len, &plain, NULL),
                     CU_OK);
    assert_int_equal(plain.len, 20);
    assert_memory_equal(plain.data, "0123456789abcdefghij", 20);
    buf_reset(&plain);
    /* another account, another master key, a flipped byte: all refused */
    assert_int_equal(vault_secret_open(v, "totp|bob", sealed.data, sealed.len, &plain, &err),
                     CU_ERR_INTEGRITY);
    assert_non_null(strstr(err, "totp|bob"));
    free(err);
    assert_int_equal(vault_secret_open(w, "totp|alice", sealed.data, sealed.len, &plain, NULL),
                     CU_ERR_INTEGRITY);
    sealed.data[30] ^= 1;
    assert_int_equal(vault_secret_open(v, "totp|alice", sealed.data, sealed.len, &plain, NULL),
                     CU_ERR_INTEGRITY);
    assert_int_equal(plain.len, 0);
    buf_release(&sealed);
    buf_release(&plain);
    vault_free(v);
    vault_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_master_key_created_0600),
        cmocka_unit_test(test_master_key_create_refuses_overwrite),
        cmocka_unit_test(test_master_key_refused_when_readable_by_others),
        cmocka_unit_test(test_master_key_wrong_size),
        cmocka_unit_test(test_seal_open_round_trip),
        cmocka_unit_test(test_open_rejects_moved_or_altered),
        cmocka_unit_test(test_seal_nonces_differ),
        cmocka_unit_test(test_random_pool_never_repeats),
        cmocka_unit_test(test_random_pool_fork_safe),
        cmocka_unit_test(test_dek_wrap_unwrap),
        cmocka_unit_test(test_kek_create_load_across_vaults),
        cmocka_unit_test(test_kek_load_other_master_key_fails),
        cmocka_unit_test(test_kek_rotation),
        cmocka_unit_test(test_blind_index),
        cmocka_unit_test(test_pseudonym),
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_tokens_and_random),
        cmocka_unit_test(test_staff_secrets),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
