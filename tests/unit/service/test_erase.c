/*
 * Unit tests for the keyring file (src/service/keyring.c), the move of
 * key-encryption keys out of the store, and erasure (src/service/erase.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "service/service_int.h"
#include "audit/audit.h"

static const struct service_actor operator_who = {"operator:test", "operator", NULL, "local", NULL};

struct fixture {
    char dir[64];
    char data[96];
    char ring[128];
    struct service *svc;
};

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* The whole file as a string ("" when missing); the caller frees it. */
static char *read_text(const char *path)
{
    struct buf b = BUF_INIT;
    FILE *fp = fopen(path, "rb");
    char chunk[4096];
    size_t n;

    buf_addstr(&b, "");
    if (fp != NULL) {
        while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
            buf_add(&b, chunk, n);
        fclose(fp);
    }
    return buf_detach(&b, NULL);
}

static int setup_dir(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));

    strcpy(f->dir, "/tmp/custodian-erase-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
    snprintf(f->ring, sizeof(f->ring), "%s/keys/keyring", f->data);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    struct fixture *f;
    char *err = NULL;

    setup_dir(state);
    f = *state;
    assert_int_equal(service_init_data(f->data, NULL, &err), CU_OK);
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_OK);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char *cmd = xasprintf("rm -rf '%s'", f->dir);

    service_free(f->svc);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", f->dir);
    free(cmd);
    free(f);
    return 0;
}

/* ---- the keyring file ---- */

static void fill(unsigned char *p, size_t n, unsigned char seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31 + i * 7);
}

static void test_keyring_round_trip(void **state)
{
    struct fixture *f = *state;
    struct service_keyring ring, back;
    unsigned char k1[VAULT_WRAPPED_KEY_BYTES], k2[VAULT_WRAPPED_KEY_BYTES],
        k3[VAULT_WRAPPED_KEY_BYTES];
    char *text, *tmp, *err = NULL;
    struct stat st;

    fill(k1, sizeof(k1), 1);
    fill(k2, sizeof(k2), 2);
    fill(k3, sizeof(k3), 3);
    /* a missing file is an empty keyring; the lock makes the folder */
    assert_int_equal(mkdir(f->data, 0700), 0);
    assert_int_equal(service_keyring_load(&ring, f->ring, 1, &err), CU_OK);
    assert_int_equal(ring.n, 0);
    service_keyring_put(&ring, 3, k3, sizeof(k3));
    service_keyring_put(&ring, 1, k2, sizeof(k2));
    service_keyring_put(&ring, 1, k1, sizeof(k1)); /* replaces */
    service_keyring_put(&ring, 2, k2, sizeof(k2));
    assert_int_equal(service_keyring_save(&ring, &err), CU_OK);
    service_keyring_release(&ring);

    assert_int_equal(stat(f->ring, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    tmp = xasprintf("%s.tmp", f->ring);
    assert_int_not_equal(access(tmp, F_OK), 0); /* no temporary left */
    text = read_text(f->ring);
    assert_true(text[0] == '#');
    /* in version order, one line each */
    assert_non_null(strstr(text, "\n1 "));
    assert_true(strstr(text, "\n1 ") < strstr(text, "\n2 "));
    assert_true(strstr(text, "\n2 ") < strstr(text, "\n3 "));
    free(text);

    assert_int_equal(service_keyring_load(&back, f->ring, 0, &err), CU_OK);
    assert_int_equal(back.n, 3);
    assert_memory_equal(service_keyring_get(&back, 1)->data, k1, sizeof(k1));
    assert_memory_equal(service_keyring_get(&back, 2)->data, k2, sizeof(k2));
    assert_memory_equal(service_keyring_get(&back, 3)->data, k3, sizeof(k3));
    assert_null(service_keyring_get(&back, 4));
    /* saving needs the lock */
    assert_int_equal(service_keyring_save(&back, &err), CU_ERR_INTERNAL);
    free(err);
    err = NULL;
    assert_int_equal(service_keyring_drop(&back, 2), 1);
    assert_int_equal(service_keyring_drop(&back, 2), 0);
    assert_int_equal(back.n, 2);
    assert_null(service_keyring_get(&back, 2));
    service_keyring_release(&back);
    free(tmp);
}

/* Writes `text` as the keyring and loads it: the rc, and the message. */
static int load_text(struct fixture *f, const char *text, char **err)
{
    struct service_keyring ring;
    int rc;

    write_text(f->ring, text);
    *err = NULL;
    rc = service_keyring_load(&ring, f->ring, 0, err);
    if (rc == CU_OK)
        service_keyring_release(&ring);
    return rc;
}

static void expect_bad(struct fixture *f, const char *text, const char *where, const char *what)
{
    char *err = NULL;

    assert_int_equal(load_text(f, text, &err), CU_ERR_INVALID);
    assert_non_null(err);
    assert_non_null(strstr(err, f->ring));
    assert_non_null(strstr(err, where));
    assert_non_null(strstr(err, what));
    free(err);
}

static void test_keyring_parse_errors(void **state)
{
    struct fixture *f = *state;
    unsigned char k[VAULT_WRAPPED_KEY_BYTES];
    char b64[200], good[300], text[800], *err = NULL;

    fill(k, sizeof(k), 9);
    assert_int_equal(mkdir(f->data, 0700), 0);
    {
        char *keys = xasprintf("%s/keys", f->data);

        assert_int_equal(mkdir(keys, 0700), 0);
        free(keys);
    }
    sodium_bin2base64(b64, sizeof(b64), k, sizeof(k), sodium_base64_VARIANT_ORIGINAL);
    snprintf(good, sizeof(good), "1 %s\n", b64);

    /* comments, blank lines and CRLF are fine */
    snprintf(text, sizeof(text), "# a comment\n\n1 %s\r\n", b64);
    assert_int_equal(load_text(f, text, &err), CU_OK);
    /* an empty file is an empty keyring */
    assert_int_equal(load_text(f, "", &err), CU_OK);

    expect_bad(f, "one two\n", ":1:", "expected 'VERSION BASE64'");
    snprintf(text, sizeof(text), "# c\n0 %s\n", b64);
    expect_bad(f, text, ":2:", "a version number from 1");
    snprintf(text, sizeof(text), "-1 %s\n", b64);
    expect_bad(f, text, ":1:", "expected 'VERSION BASE64'");
    snprintf(text, sizeof(text), "99999999999 %s\n", b64);
    expect_bad(f, text, ":1:", "expected 'VERSION BASE64'");
    snprintf(text, sizeof(text), "%s%s", good, good);
    expect_bad(f, text, ":2:", "version 1 is listed twice");
    snprintf(text, sizeof(text), "%s2 not*base64\n", good);
    expect_bad(f, text, ":2:", "not the base64 of a 72-byte wrapped key");
    expect_bad(f, "3 AAAA\n", ":1:", "not the base64 of a 72-byte wrapped key");
    expect_bad(f, "1\n", ":1:", "expected 'VERSION BASE64'");
    /* a binary file */
    {
        FILE *fp = fopen(f->ring, "wb");

        assert_non_null(fp);
        fwrite("1 \0\1\2", 1, 5, fp);
        fclose(fp);
        assert_int_equal(service_keyring_load(&(struct service_keyring){0}, f->ring, 0, &err),
                         CU_ERR_INVALID);
        assert_non_null(strstr(err, "not a keyring"));
        free(err);
        err = NULL;
    }
}

/* A save that fails leaves the keyring as it was; the lock excludes a
 * second writer. */
static void test_keyring_atomic_and_locked(void **state)
{
    struct fixture *f = *state;
    struct service_keyring ring;
    unsigned char k[VAULT_WRAPPED_KEY_BYTES];
    char *before, *after, *tmp, *err = NULL;
    pid_t pid;
    int status;

    fill(k, sizeof(k), 4);
    assert_int_equal(mkdir(f->data, 0700), 0);
    assert_int_equal(service_keyring_load(&ring, f->ring, 1, &err), CU_OK);
    service_keyring_put(&ring, 1, k, sizeof(k));
    assert_int_equal(service_keyring_save(&ring, &err), CU_OK);

    /* while held, another process cannot take the lock */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *dir = xasprintf("%s/keys", f->data);
        int fd = open(dir, O_RDONLY | O_DIRECTORY);

        _exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* the temporary cannot be created (a folder is in its place): the save
     * fails and the old keyring stays whole */
    before = read_text(f->ring);
    tmp = xasprintf("%s.tmp", f->ring);
    assert_int_equal(mkdir(tmp, 0700), 0);
    service_keyring_put(&ring, 2, k, sizeof(k));
    assert_int_equal(service_keyring_save(&ring, &err), CU_ERR_IO);
    assert_non_null(strstr(err, "keyring.tmp"));
    free(err);
    err = NULL;
    after = read_text(f->ring);
    assert_string_equal(before, after);
    assert_int_equal(rmdir(tmp), 0);
    service_keyring_release(&ring);

    /* released: the lock is free again */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *dir = xasprintf("%s/keys", f->data);
        int fd = open(dir, O_RDONLY | O_DIRECTORY);

        _exit(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(before);
    free(after);
    free(tmp);
}

/* ---- the key-encryption keys live in the keyring, not the store ---- */

#define HDR                                                                                        \
    "customer_id,account,name,phone,email,address,birth_date,imei,serial,model,purchase_date,"     \
    "store\n"
#define TWO                                                                                        \
    HDR "A1,amy@icloud.com,Amy Chan,+8613812345678,amy@qq.com,,,490154203237518,F2LX0000AAAA,"     \
        "iPhone 14,,\n"                                                                            \
        "A2,bob@icloud.com,Bob Li,+8613900001111,bob@qq.com,,,353328110000005,,,,\n"

static void import_text(struct fixture *f, const char *text)
{
    struct service_import_opts o = {0};
    struct service_import_result r;
    char *path = xasprintf("%s/in.csv", f->dir), *err = NULL;

    write_text(path, text);
    o.path = path;
    assert_int_equal(service_import(f->svc, &o, &r, &err), CU_OK);
    free(path);
}

static size_t lookup_count(struct fixture *f, int kind, const char *value)
{
    json_t *out = NULL;
    char *err = NULL;
    size_t n;

    assert_int_equal(service_lookup(f->svc, &operator_who, kind, value, &out, &err), CU_OK);
    n = json_array_size(json_object_get(out, "customers"));
    json_decref(out);
    return n;
}

/* Whether the raw store files hold the bytes. */
static int store_files_hold(struct fixture *f, const void *p, size_t len)
{
    static const char *const suffix[] = {"", "-wal"};
    struct buf b = BUF_INIT;
    char *path;
    size_t i;
    int hits = 0;

    for (i = 0; i < CU_ARRAY_LEN(suffix); i++) {
        FILE *fp;
        char chunk[65536];
        size_t n;

        path = xasprintf("%s/custodian.db%s", f->data, suffix[i]);
        fp = fopen(path, "rb");
        buf_reset(&b);
        if (fp != NULL) {
            while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
                buf_add(&b, chunk, n);
            fclose(fp);
        }
        if (b.len > 0 && memmem(b.data, b.len, p, len) != NULL)
            hits++;
        free(path);
    }
    buf_release(&b);
    return hits;
}

static void test_init_keeps_keks_out_of_the_store(void **state)
{
    struct fixture *f = *state;
    struct service_keyring ring;
    struct store_kek *keks = NULL;
    struct stat st;
    size_t n = 0;
    char *err = NULL;

    assert_int_equal(stat(f->ring, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(service_keyring_load(&ring, f->ring, 0, &err), CU_OK);
    assert_int_equal(ring.n, 1);
    assert_int_equal(ring.keys[0].version, 1);
    assert_int_equal(store_kek_list(f->svc->store, &keks, &n, &err), CU_OK);
    assert_int_equal(n, 1);
    assert_int_equal(keks[0].wrapped.len, 0);
    assert_int_equal(store_files_hold(f, ring.keys[0].wrapped.data, ring.keys[0].wrapped.len), 0);
    store_kek_list_free(keks, n);
    service_keyring_release(&ring);
}

static void test_rotate_and_retire_keep_the_keyring(void **state)
{
    struct fixture *f = *state;
    struct service_keyring ring;
    struct store_kek *keks = NULL;
    struct model_customer m;
    uint32_t v = 0;
    uint64_t rewrapped = 0;
    size_t n = 0, i;
    char *err = NULL;

    import_text(f, TWO);
    assert_int_equal(service_keys_rotate(f->svc, NULL, NULL, &v, &rewrapped, &err), CU_OK);
    assert_int_equal(v, 2);
    assert_int_equal(service_keyring_load(&ring, f->ring, 0, &err), CU_OK);
    assert_int_equal(ring.n, 2);
    service_keyring_release(&ring);
    assert_int_equal(store_kek_list(f->svc->store, &keks, &n, &err), CU_OK);
    for (i = 0; i < n; i++)
        assert_int_equal(keks[i].wrapped.len, 0);
    store_kek_list_free(keks, n);

    assert_int_equal(service_keys_retire(f->svc, 1, &err), CU_OK);
    assert_int_equal(service_keyring_load(&ring, f->ring, 0, &err), CU_OK);
    assert_int_equal(ring.n, 1);
    assert_null(service_keyring_get(&ring, 1));
    assert_non_null(service_keyring_get(&ring, 2));
    service_keyring_release(&ring);

    /* reopened from the keyring alone, everything opens */
    service_free(f->svc);
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_OK);
    model_customer_init(&m);
    assert_int_equal(service_customer_open(f->svc, "A2", SERVICE_FIELDS_ALL, &m, &err), CU_OK);
    assert_string_equal(m.name, "Bob Li");
    model_customer_release(&m);

    /* without the version the store needs, the folder does not open, and
     * says which version and where it was looked for */
    service_free(f->svc);
    f->svc = NULL;
    write_text(f->ring, "# empty\n");
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_ERR_KEY);
    assert_non_null(strstr(err, "version 2 is not in the keyring"));
    assert_non_null(strstr(err, f->ring));
    free(err);
}

/*
 * A data folder written before the keyring: its store holds the wrapped
 * KEKs (made here the way the old code did: the keyring's bytes put back
 * in the store, the keyring deleted; version 1 retired, version 2 active).
 * Opening it moves them to the keyring, wipes them from the store (and
 * from its files), and every customer opens; opening again changes
 * nothing.
 */
static void test_open_moves_keks_out_of_an_old_store(void **state)
{
    struct fixture *f = *state;
    struct service_keyring ring;
    struct store_kek *keks = NULL;
    struct model_customer m;
    struct buf wrapped = BUF_INIT;
    uint32_t v = 0;
    uint64_t rewrapped = 0;
    size_t n = 0, i;
    char *err = NULL, *first, *second;
    int complete = 0;

    import_text(f, TWO);
    assert_int_equal(service_keys_rotate(f->svc, NULL, NULL, &v, &rewrapped, &err), CU_OK);
    assert_int_equal(service_keys_retire(f->svc, 1, &err), CU_OK);
    /* back to the old layout */
    assert_int_equal(service_keyring_load(&ring, f->ring, 0, &err), CU_OK);
    buf_add(&wrapped, service_keyring_get(&ring, 2)->data, service_keyring_get(&ring, 2)->len);
    service_keyring_release(&ring);
    assert_int_equal(store_kek_list(f->svc->store, &keks, &n, &err), CU_OK);
    assert_int_equal(n, 2);
    buf_add(&keks[1].wrapped, wrapped.data, wrapped.len);
    assert_int_equal(store_kek_put(f->svc->store, &keks[1], &err), CU_OK);
    store_kek_list_free(keks, n);
    assert_int_equal(store_scrub(f->svc->store, &complete, &err), CU_OK);
    assert_int_equal(unlink(f->ring), 0);
    assert_true(store_files_hold(f, wrapped.data, wrapped.len) > 0);
    service_free(f->svc);

    /* open: moved */
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_OK);
    assert_int_equal(service_keyring_load(&ring, f->ring, 0, &err), CU_OK);
    assert_int_equal(ring.n, 1);
    assert_non_null(service_keyring_get(&ring, 2));
    assert_memory_equal(service_keyring_get(&ring, 2)->data, wrapped.data, wrapped.len);
    service_keyring_release(&ring);
    assert_int_equal(store_kek_list(f->svc->store, &keks, &n, &err), CU_OK);
    for (i = 0; i < n; i++)
        assert_int_equal(keks[i].wrapped.len, 0);
    store_kek_list_free(keks, n);
    assert_int_equal(store_files_hold(f, wrapped.data, wrapped.len), 0);
    model_customer_init(&m);
    assert_int_equal(service_customer_open(f->svc, "A1", SERVICE_FIELDS_ALL, &m, &err), CU_OK);
    assert_string_equal(m.name, "Amy Chan");
    model_customer_release(&m);
    assert_int_equal(lookup_count(f, MODEL_ID_PHONE, "+8613900001111"), 1);

    /* again: idempotent */
    first = read_text(f->ring);
    service_free(f->svc);
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_OK);
    second = read_text(f->ring);
    assert_string_equal(first, second);
    free(first);
    free(second);

    /* a retirement interrupted before the keyring was rewritten: the next
     * open finishes it */
    assert_int_equal(service_keys_rotate(f->svc, NULL, NULL, &v, &rewrapped, &err), CU_OK);
    assert_int_equal(store_kek_list(f->svc->store, &keks, &n, &err), CU_OK);
    keks[1].state = STORE_KEK_RETIRED; /* version 2, as retire's store step leaves it */
    assert_int_equal(store_kek_put(f->svc->store, &keks[1], &err), CU_OK);
    store_kek_list_free(keks, n);
    service_free(f->svc);
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_OK);
    assert_int_equal(service_keyring_load(&ring, f->ring, 0, &err), CU_OK);
    assert_null(service_keyring_get(&ring, 2));
    assert_non_null(service_keyring_get(&ring, 3));
    service_keyring_release(&ring);

    /* the store and the keyring disagree on a version: refused, nothing
     * wiped */
    assert_int_equal(store_kek_list(f->svc->store, &keks, &n, &err), CU_OK);
    buf_add(&keks[2].wrapped, wrapped.data, wrapped.len); /* version 2's bytes as version 3 */
    assert_int_equal(store_kek_put(f->svc->store, &keks[2], &err), CU_OK);
    store_kek_list_free(keks, n);
    service_free(f->svc);
    f->svc = NULL;
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_ERR_KEY);
    assert_non_null(strstr(err, "version 3 differs between the store and the keyring"));
    free(err);
    buf_release(&wrapped);
}

/* ---- erasure ---- */

static void test_erase(void **state)
{
    struct fixture *f = *state;
    const struct service_actor clerk = {"alice", "clerk", "SZ-014", "local", NULL};
    struct audit_verify_result vr = {0};
    struct model_customer m;
    struct store_customer s;
    json_t *out = NULL, *e;
    int64_t at = 0;
    char *err = NULL;
    size_t i;
    int erase_entries = 0;

    import_text(f, TWO);
    assert_int_equal(
        service_notify(f->svc, "A1", NULL, "sms", "+8613812345678", "code 402913", &err), CU_OK);
    assert_int_equal(
        service_notify(f->svc, "A2", NULL, "sms", "+8613900001111", "code 111111", &err), CU_OK);
    store_customer_init(&s);
    assert_int_equal(store_customer_get(f->svc->store, "A1", &s, &err), CU_OK);
    assert_true(store_files_hold(f, s.wrapped_dek.data, s.wrapped_dek.len) > 0);

    /* refused: bad input, a role that may not, a reason naming them */
    assert_int_equal(service_erase(f->svc, &operator_who, "", NULL, &out, &err), CU_ERR_INVALID);
    free(err);
    err = NULL;
    assert_int_equal(service_erase(f->svc, &operator_who, "A 1;", NULL, &out, &err),
                     CU_ERR_INVALID);
    assert_non_null(strstr(err, "customer id"));
    free(err);
    err = NULL;
    assert_int_equal(service_erase(f->svc, &clerk, "A1", NULL, &out, &err), CU_ERR_FORBIDDEN);
    free(err);
    err = NULL;
    assert_int_equal(service_erase(f->svc, &operator_who, "A1", "asked by amy@qq.com", &out, &err),
                     CU_ERR_INVALID);
    assert_non_null(strstr(err, "personal data"));
    assert_null(strstr(err, "amy@qq.com"));
    free(err);
    err = NULL;
    assert_int_equal(service_erase(f->svc, &operator_who, "A9", NULL, &out, &err),
                     CU_ERR_NOT_FOUND);
    free(err);
    err = NULL;
    assert_null(out);
    assert_int_equal(lookup_count(f, MODEL_ID_EMAIL, "amy@qq.com"), 1);

    /* erased */
    assert_int_equal(
        service_erase(f->svc, &operator_who, "A1", "customer's written request", &out, &err),
        CU_OK);
    assert_string_equal(json_string_value(json_object_get(out, "customer_id")), "A1");
    assert_int_equal(json_integer_value(json_object_get(out, "messages")), 1);
    assert_int_equal(json_integer_value(json_object_get(out, "blind_entries")), 5);
    assert_int_equal(json_integer_value(json_object_get(out, "kek_version")), 1);
    assert_true(json_is_true(json_object_get(out, "log_truncated")));
    json_decref(out);
    out = NULL;

    /* no look-up finds them, nothing opens, the tombstone says when */
    assert_int_equal(lookup_count(f, MODEL_ID_EMAIL, "amy@qq.com"), 0);
    assert_int_equal(lookup_count(f, MODEL_ID_ACCOUNT, "amy@icloud.com"), 0);
    assert_int_equal(lookup_count(f, MODEL_ID_PHONE, "+8613812345678"), 0);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "490154203237518"), 0);
    assert_int_equal(lookup_count(f, MODEL_ID_SERIAL, "F2LX0000AAAA"), 0);
    /* by id: an error that says the customer was erased */
    assert_int_equal(service_lookup(f->svc, &operator_who, 0, "A1", &out, &err), CU_ERR_NOT_FOUND);
    assert_null(out);
    assert_non_null(strstr(err, "was erased"));
    free(err);
    err = NULL;
    model_customer_init(&m);
    assert_int_equal(service_customer_open(f->svc, "A1", SERVICE_FIELDS_ALL, &m, &err),
                     CU_ERR_NOT_FOUND);
    free(err);
    err = NULL;
    assert_int_equal(service_customer_erased(f->svc, "A1", &at, &err), CU_OK);
    assert_true(at > 0);
    assert_int_equal(service_customer_erased(f->svc, "A2", &at, NULL), CU_ERR_NOT_FOUND);
    /* not even in the raw files: the wrapped data key, a sealed field */
    assert_int_equal(store_files_hold(f, s.wrapped_dek.data, s.wrapped_dek.len), 0);
    assert_int_equal(store_files_hold(f, s.sealed[MODEL_F_NAME].data, s.sealed[MODEL_F_NAME].len),
                     0);
    /* the other customer is whole */
    assert_int_equal(lookup_count(f, MODEL_ID_EMAIL, "bob@qq.com"), 1);
    assert_int_equal(service_customer_open(f->svc, "A2", SERVICE_FIELDS_ALL, &m, &err), CU_OK);
    assert_string_equal(m.name, "Bob Li");
    model_customer_release(&m);
    {
        json_t *msgs = NULL;

        assert_int_equal(service_outbox_list(f->svc, 0, 100, &msgs, &err), CU_OK);
        assert_int_equal(json_array_size(json_object_get(msgs, "messages")), 1);
        json_decref(msgs);
    }

    /* again: already erased */
    assert_int_equal(service_erase(f->svc, &operator_who, "A1", NULL, &out, &err), CU_ERR_CONFLICT);
    assert_non_null(strstr(err, "already erased"));
    free(err);
    err = NULL;

    /* the log verifies and holds the erase under the pseudonym */
    assert_int_equal(service_audit_verify(f->svc, &vr, &err), CU_OK);
    assert_true(vr.ok);
    free(vr.problem);
    assert_int_equal(service_audit_show(f->svc, NULL, "A1", 100, &out, &err), CU_OK);
    json_array_foreach(json_object_get(out, "entries"), i, e)
    {
        const char *action = json_string_value(json_object_get(e, "action"));
        const char *decision = json_string_value(json_object_get(e, "decision"));

        if (strcmp(action, "erase") == 0 && strcmp(decision, "allow") == 0) {
            erase_entries++;
            assert_non_null(strstr(json_string_value(json_object_get(e, "detail")),
                                   "customer's written request"));
            assert_non_null(
                strstr(json_string_value(json_object_get(e, "detail")), "key version 1"));
        }
    }
    assert_int_equal(erase_entries, 1);
    json_decref(out);
    store_customer_release(&s);
}

/* Fails closed: when the erase cannot be recorded, nothing is erased. */
static void test_erase_fails_closed(void **state)
{
    struct fixture *f = *state;
    json_t *out = NULL;
    char *err = NULL, *cmd;

    import_text(f, TWO);
    cmd = xasprintf("sqlite3 '%s/custodian.db' \"CREATE TRIGGER no_audit BEFORE INSERT ON "
                    "audit_entries BEGIN SELECT RAISE(ABORT, 'refused'); END\"",
                    f->data);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    assert_int_not_equal(service_erase(f->svc, &operator_who, "A1", NULL, &out, &err), CU_OK);
    assert_null(out);
    free(err);
    assert_int_equal(service_customer_erased(f->svc, "A1", &(int64_t){0}, NULL), CU_ERR_NOT_FOUND);
    {
        struct model_customer m;

        model_customer_init(&m);
        assert_int_equal(service_customer_open(f->svc, "A1", SERVICE_FIELDS_ALL, &m, NULL), CU_OK);
        model_customer_release(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keyring_round_trip, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_keyring_parse_errors, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_keyring_atomic_and_locked, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_init_keeps_keks_out_of_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_and_retire_keep_the_keyring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_moves_keks_out_of_an_old_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erase_fails_closed, setup, teardown),
    };

    if (vault_global_init() != CU_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
