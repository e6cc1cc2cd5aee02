/* Unit tests for src/service: data folder, import, look-up, rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "service/service_int.h"
#include "auth/totp.h"
#include "policy/policy.h"
#include "synth/synth.h"

static const struct service_actor test_who = {"operator:test", "operator", NULL, "local", NULL};

struct fixture {
    char dir[64];
    char data[96];
    struct service *svc;
};

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    char *err = NULL;

    strcpy(f->dir, "/tmp/custodian-svc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->data, sizeof(f->data), "%s/data", f->dir);
    assert_int_equal(service_init_data(f->data, NULL, &err), CU_OK);
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_OK);
    *state = f;
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

static int import_text(struct fixture *f, const char *name, const char *text,
                       struct service_import_result *res, int skip)
{
    struct service_import_opts o = {0};
    char *path = xasprintf("%s/%s", f->dir, name), *err = NULL;
    int rc;

    write_text(path, text);
    o.path = path;
    o.skip_invalid = skip;
    o.max_errors_shown = 0;
    rc = service_import(f->svc, &o, res, &err);
    free(err);
    free(path);
    return rc;
}

static size_t lookup_count(struct fixture *f, int kind, const char *value, const char *want_id)
{
    json_t *out = NULL, *list;
    char *err = NULL;
    size_t n;

    assert_int_equal(service_lookup(f->svc, &test_who, kind, value, &out, &err), CU_OK);
    list = json_object_get(out, "customers");
    n = json_array_size(list);
    if (want_id != NULL && n > 0)
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(list, 0), "customer_id")), want_id);
    json_decref(out);
    return n;
}

#define HDR                                                                                        \
    "customer_id,account,name,phone,email,address,birth_date,imei,serial,model,purchase_date,"     \
    "store\n"

static void test_init_twice_conflicts(void **state)
{
    struct fixture *f = *state;
    char *err = NULL;

    assert_int_equal(service_init_data(f->data, NULL, &err), CU_ERR_CONFLICT);
    assert_non_null(strstr(err, "already initialised"));
    free(err);
}

static void test_seal_unseal_round_trip(void **state)
{
    struct fixture *f = *state;
    struct model_customer m, back;
    struct store_customer s;
    struct model_error me;
    char *err = NULL;

    model_customer_init(&m);
    model_customer_init(&back);
    store_customer_init(&s);
    synth_customer(9, 3, &m);
    assert_int_equal(model_customer_normalise(&m, "86", &me, NULL), CU_OK);
    assert_int_equal(service_seal(f->svc, &m, 1, &s, &err), CU_OK);
    /* one blind entry per identifier value */
    assert_int_equal(s.nblind, (m.account ? 1 : 0) + (m.email ? 1 : 0) + m.nphones + m.ndevices +
                                   (m.devices[0].serial ? m.ndevices : 0));
    assert_int_equal(service_unseal(f->svc, &s, SERVICE_FIELDS_ALL, &back, &err), CU_OK);
    assert_string_equal(back.name, m.name);
    assert_string_equal(back.phones[0], m.phones[0]);
    assert_int_equal(back.ndevices, m.ndevices);
    assert_string_equal(back.devices[0].imei, m.devices[0].imei);
    /* the sealed name is not the plaintext */
    assert_null(
        memmem(s.sealed[MODEL_F_NAME].data, s.sealed[MODEL_F_NAME].len, m.name, strlen(m.name)));
    /* a sealed field moved to another field fails closed and leaves nothing */
    model_customer_release(&back);
    buf_reset(&s.sealed[MODEL_F_EMAIL]);
    buf_add(&s.sealed[MODEL_F_EMAIL], s.sealed[MODEL_F_NAME].data, s.sealed[MODEL_F_NAME].len);
    assert_int_equal(service_unseal(f->svc, &s, SERVICE_FIELDS_ALL, &back, &err), CU_ERR_INTEGRITY);
    assert_null(back.name);
    assert_non_null(strstr(err, "'email'"));
    free(err);
    err = NULL;
    /* only the fields asked for are opened (a reveal of name and phone,
     * the courier's contact): the damaged e-mail is not even touched */
    assert_int_equal(service_unseal(f->svc, &s,
                                    SERVICE_FIELD(MODEL_F_NAME) | SERVICE_FIELD(MODEL_F_PHONE),
                                    &back, &err),
                     CU_OK);
    assert_string_equal(back.name, m.name);
    assert_string_equal(back.phones[0], m.phones[0]);
    assert_null(back.email);
    assert_null(back.account);
    assert_null(back.address);
    assert_int_equal(back.ndevices, 0);
    model_customer_release(&back);
    model_customer_release(&m);
    store_customer_release(&s);
}

static void test_import_and_lookup_each_identifier(void **state)
{
    struct fixture *f = *state;
    struct service_import_result r;

    assert_int_equal(import_text(f, "a.csv",
                                 HDR "A1,amy@icloud.com,Amy Chan,+8613812345678;+85291234567,"
                                     "amy@qq.com,,,490154203237518,F2LX0000AAAA,iPhone 14,,\n"
                                     "A1,amy@icloud.com,Amy Chan,+8613812345678;+85291234567,"
                                     "amy@qq.com,,,356938035643809,,iPad,,\n"
                                     "A2,bob@icloud.com,Bob Li,+8613900001111,bob@qq.com,,,"
                                     "353328110000005,,,,\n",
                                 &r, 0),
                     CU_OK);
    assert_int_equal(r.inserted, 2);
    assert_int_equal(r.rows, 3);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "49-015420-323751-8", "A1"), 1);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "356938035643809", "A1"), 1);
    assert_int_equal(lookup_count(f, MODEL_ID_SERIAL, "f2lx0000aaaa", "A1"), 1);
    assert_int_equal(lookup_count(f, MODEL_ID_PHONE, "138 1234 5678", "A1"), 1);
    assert_int_equal(lookup_count(f, MODEL_ID_PHONE, "+852 9123 4567", "A1"), 1);
    assert_int_equal(lookup_count(f, MODEL_ID_EMAIL, " AMY@qq.com ", "A1"), 1);
    assert_int_equal(lookup_count(f, MODEL_ID_ACCOUNT, "bob@icloud.com", "A2"), 1);
    assert_int_equal(lookup_count(f, 0, "A2", "A2"), 1);
    assert_int_equal(lookup_count(f, MODEL_ID_EMAIL, "amy@icloud.com", NULL), 0);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "353328110000005", "A2"), 1);
    assert_int_equal(lookup_count(f, 0, "A3", NULL), 0);
}

static void test_lookup_view_is_masked(void **state)
{
    struct fixture *f = *state;
    struct service_import_result r;
    json_t *out = NULL, *view;
    char *err = NULL, *text;

    assert_int_equal(import_text(f, "m.csv",
                                 HDR "M1,jane@example.com,Jane Doe,+8613812345678,"
                                     "jane@example.com,\"1 Main St, Springfield, USA\","
                                     "1990-05-06,356938035643809,F2LX0000BBBB,iPhone 15,"
                                     "2024-01-02,SZ-014\n",
                                 &r, 0),
                     CU_OK);
    assert_int_equal(
        service_lookup(f->svc, &test_who, MODEL_ID_IMEI, "356938035643809", &out, &err), CU_OK);
    view = json_array_get(json_object_get(out, "customers"), 0);
    assert_string_equal(json_string_value(json_object_get(view, "name")), "J*** D**");
    assert_string_equal(json_string_value(json_array_get(json_object_get(view, "phones"), 0)),
                        "+86 138****5678");
    assert_string_equal(json_string_value(json_object_get(view, "email")), "j***@example.com");
    assert_int_equal(json_integer_value(json_object_get(view, "matched_device")), 0);
    text = json_dumps(out, 0);
    assert_null(strstr(text, "356938035643809"));
    assert_null(strstr(text, "Jane"));
    assert_null(strstr(text, "1990-05-06"));
    assert_null(strstr(text, "Main St"));
    free(text);
    json_decref(out);
}

/* Regression (fuzz/corpus/import_jsonl/regress-rejects-non-utf8.jsonl): a
 * JSON Lines row that is not UTF-8 went to the rejects file as a NULL
 * object and crashed the import. */
static void test_rejects_non_utf8_line(void **state)
{
    struct fixture *f = *state;
    struct service_import_opts o = {0};
    struct service_import_result r;
    char *path = xasprintf("%s/bad.jsonl", f->dir), *rej = xasprintf("%s/rejects.jsonl", f->dir);
    char *err = NULL, text[512] = {0};
    struct stat st;
    FILE *fp;

    write_text(path, "{\"customer_id\":\"C1\",\"name\":\"A\",\"email\":\"a@b.co\"}\n"
                     "{\"customer_id\":\"C2\",\"name\":\"\x83\"\n");
    o.path = path;
    o.skip_invalid = 1;
    o.rejects_path = rej;
    assert_int_equal(service_import(f->svc, &o, &r, &err), CU_OK);
    assert_int_equal(r.inserted, 1);
    assert_int_equal(r.rejected, 1);
    fp = fopen(rej, "r");
    assert_non_null(fp);
    assert_true(fread(text, 1, sizeof(text) - 1, fp) > 0);
    fclose(fp);
    assert_non_null(strstr(text, "\"_error\""));
    /* the rejected rows are personal data: only the owner may read them */
    assert_int_equal(stat(rej, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(err);
    free(path);
    free(rej);
}

static void test_invalid_file_imports_nothing(void **state)
{
    struct fixture *f = *state;
    struct service_import_result r;
    int64_t n = -1;
    char *err = NULL;

    assert_int_equal(import_text(f, "bad.csv",
                                 HDR "G1,g@x.com,Good,+8613812345678,g@x.com,,,"
                                     "490154203237518,,,,\n"
                                     "B1,b@x.com,Bad,+8613812345679,b@x.com,,,"
                                     "490154203237519,,,,\n",
                                 &r, 0),
                     CU_ERR_INVALID);
    assert_int_equal(r.rejected, 1);
    assert_int_equal(store_customer_count(f->svc->store, &n, &err), CU_OK);
    assert_int_equal(n, 0);
    /* skip-invalid keeps the good one */
    assert_int_equal(import_text(f, "bad.csv",
                                 HDR "G1,g@x.com,Good,+8613812345678,g@x.com,,,"
                                     "490154203237518,,,,\n"
                                     "B1,b@x.com,Bad,+8613812345679,b@x.com,,,"
                                     "490154203237519,,,,\n",
                                 &r, 1),
                     CU_OK);
    assert_int_equal(r.inserted, 1);
    assert_int_equal(r.rejected, 1);
}

static void test_reimport_replaces_and_merges(void **state)
{
    struct fixture *f = *state;
    struct service_import_result r;
    struct store_customer s;
    uint32_t before;
    char *err = NULL;

    store_customer_init(&s);
    assert_int_equal(import_text(f, "r.csv",
                                 HDR "R1,r@x.com,Rita,+8613812345678,r@x.com,,,"
                                     "490154203237518,,,,\n",
                                 &r, 0),
                     CU_OK);
    /* re-import with another device: replaced, the old IMEI no longer found */
    assert_int_equal(import_text(f, "r2.csv",
                                 HDR "R1,r@x.com,Rita,+8613812345678,r@x.com,,,"
                                     "356938035643809,,,,\n",
                                 &r, 0),
                     CU_OK);
    assert_int_equal(r.updated, 1);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "490154203237518", NULL), 0);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "356938035643809", "R1"), 1);
    assert_int_equal(store_customer_get(f->svc->store, "R1", &s, &err), CU_OK);
    assert_int_equal(s.dek_version, 2);
    /* the same customer twice in one file, not together: merged */
    assert_int_equal(import_text(f, "r3.csv",
                                 HDR "R1,r@x.com,Rita,+8613812345678,r@x.com,,,"
                                     "490154203237518,,,,\n"
                                     "Z9,z@x.com,Zed,+8613812345670,z@x.com,,,,,,,\n"
                                     "R1,r@x.com,Rita,+8613812345678,r@x.com,,,"
                                     "353328110000005,,,,\n",
                                 &r, 0),
                     CU_OK);
    assert_int_equal(r.merged, 1);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "490154203237518", "R1"), 1);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "353328110000005", "R1"), 1);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "356938035643809", NULL), 0);
    /* not together and disagreeing: refused, and nothing of it written */
    assert_int_equal(store_customer_get(f->svc->store, "R1", &s, &err), CU_OK);
    before = s.dek_version;
    assert_int_equal(import_text(f, "r4.csv",
                                 HDR "R1,r@x.com,Rita,+8613812345678,r@x.com,,,"
                                     "490154203237518,,,,\n"
                                     "Z9,z@x.com,Zed,+8613812345670,z@x.com,,,,,,,\n"
                                     "R1,r@x.com,Rosa,+8613812345678,r@x.com,,,"
                                     "353328110000005,,,,\n",
                                 &r, 0),
                     CU_ERR_INVALID);
    assert_int_equal(store_customer_get(f->svc->store, "R1", &s, &err), CU_OK);
    assert_int_equal(s.dek_version, before);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "353328110000005", "R1"), 1);
    store_customer_release(&s);
}

/* Two rows of one customer whose phone cells differ only in the spaces
 * around ';' are one customer. */
static void test_phone_list_spaces(void **state)
{
    struct fixture *f = *state;
    struct service_import_result r;

    assert_int_equal(import_text(f, "p.csv",
                                 HDR "P1,p@x.com,Pat,+8613812345678; +8613912345678,p@x.com,,,"
                                     "490154203237518,,,,\n"
                                     "P1,p@x.com,Pat,+8613812345678;+8613912345678 ,p@x.com,,,"
                                     "353328110000005,,,,\n",
                                 &r, 0),
                     CU_OK);
    assert_int_equal(r.inserted, 1);
    assert_int_equal(lookup_count(f, MODEL_ID_PHONE, "+8613912345678", "P1"), 1);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "353328110000005", "P1"), 1);
    /* a different list is still refused */
    assert_int_equal(import_text(f, "p2.csv",
                                 HDR "P2,q@x.com,Pat,+8613812345678; +8613912345678,q@x.com,,,"
                                     "356938035643809,,,,\n"
                                     "P2,q@x.com,Pat,+8613812345678,q@x.com,,,"
                                     "352099001761481,,,,\n",
                                 &r, 0),
                     CU_ERR_INVALID);
}

static void test_rotation_rewraps_and_retires(void **state)
{
    struct fixture *f = *state;
    struct service_import_result r;
    uint32_t v = 0;
    uint64_t n = 0;
    int64_t users = -1;
    char *err = NULL;
    struct model_customer m;

    assert_int_equal(import_text(f, "k.csv",
                                 HDR "K1,k@x.com,Kim,+8613812345678,k@x.com,,,,,,,\n"
                                     "K2,l@x.com,Lee,+8613812345679,l@x.com,,,,,,,\n",
                                 &r, 0),
                     CU_OK);
    assert_int_equal(service_keys_retire(f->svc, 1, &err), CU_ERR_CONFLICT); /* active */
    free(err);
    err = NULL;
    assert_int_equal(service_keys_rotate(f->svc, NULL, NULL, &v, &n, &err), CU_OK);
    assert_int_equal(v, 2);
    assert_int_equal(n, 2);
    assert_int_equal(store_kek_usage(f->svc->store, 1, &users, &err), CU_OK);
    assert_int_equal(users, 0);
    assert_int_equal(service_keys_retire(f->svc, 1, &err), CU_OK);
    /* a fresh service (no key 1 in memory at all) opens every customer */
    service_free(f->svc);
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_OK);
    model_customer_init(&m);
    assert_int_equal(service_customer_open(f->svc, "K2", SERVICE_FIELDS_ALL, &m, &err), CU_OK);
    assert_string_equal(m.name, "Lee");
    model_customer_release(&m);
    /* a second rotation works too */
    assert_int_equal(service_keys_rotate(f->svc, NULL, NULL, &v, &n, &err), CU_OK);
    assert_int_equal(v, 3);
}

/* A process that opened the store before a rotation (a long import, a
 * canary command) must not wrap new data keys with the old KEK: once
 * retired, nothing could open them. */
static void test_stale_writer_after_rotation(void **state)
{
    struct fixture *f = *state;
    struct service *b = NULL;
    struct service_import_result r;
    json_t *out = NULL;
    int64_t n = -1;
    uint64_t done = 0;
    uint32_t v = 0;
    char *err = NULL;

    assert_int_equal(service_open(&b, f->data, &err), CU_OK); /* the operator's */
    assert_int_equal(service_keys_rotate(b, NULL, NULL, &v, &done, &err), CU_OK);
    assert_int_equal(service_keys_retire(b, 1, &err), CU_OK);
    service_free(b);

    assert_int_equal(import_text(f, "s.csv",
                                 HDR "S1,s@x.com,Sam,+8613812345678,s@x.com,,,"
                                     "490154203237518,,,,\n",
                                 &r, 0),
                     CU_ERR_CONFLICT);
    assert_int_equal(service_canary_add(f->svc, &test_who, 1, &out, &err), CU_ERR_CONFLICT);
    assert_non_null(strstr(err, "rotated"));
    assert_null(out);
    free(err);
    err = NULL;
    assert_int_equal(store_customer_count(f->svc->store, &n, &err), CU_OK);
    assert_int_equal(n, 0);

    /* opened again, it wraps with the new key */
    service_free(f->svc);
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_OK);
    assert_int_equal(import_text(f, "s.csv",
                                 HDR "S1,s@x.com,Sam,+8613812345678,s@x.com,,,"
                                     "490154203237518,,,,\n",
                                 &r, 0),
                     CU_OK);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "490154203237518", "S1"), 1);
}

/* A staff account for the log-in tests: its password and TOTP secret. */
static void make_staff(struct fixture *f, const char *user, const char *role, char *password,
                       unsigned char *secret, size_t *secret_len)
{
    json_t *cred = NULL;
    char *err = NULL;

    assert_int_equal(service_staff_add(f->svc, &test_who, user, role, "SZ-014", &cred, &err),
                     CU_OK);
    strcpy(password, json_string_value(json_object_get(cred, "password")));
    *secret_len = 20;
    assert_int_equal(
        totp_secret_from_base32(json_string_value(json_object_get(cred, "totp_secret")), secret,
                                secret_len),
        CU_OK);
    json_decref(cred);
}

static char *login(struct fixture *f, const char *user, const char *password,
                   const unsigned char *secret, size_t len, int64_t when, int *rc)
{
    char code[7], *err = NULL, *token = NULL;
    json_t *out = NULL;

    assert_int_equal(totp_code(secret, len, when, code), CU_OK);
    *rc = service_login(f->svc, user, password, code, "127.0.0.1", &out, &err);
    if (*rc == CU_OK)
        token = xstrdup(json_string_value(json_object_get(out, "token")));
    json_decref(out);
    free(err);
    return token;
}

static void test_login_sessions(void **state)
{
    struct fixture *f = *state;
    unsigned char secret[20];
    size_t len;
    char pw[64], *token, *token2, *err = NULL;
    struct service_session ss = {0};
    int64_t now = cu_now();
    int rc;

    make_staff(f, "alice", "clerk", pw, secret, &len);
    /* right password and code: a session */
    token = login(f, "alice", pw, secret, len, now, &rc);
    assert_int_equal(rc, CU_OK);
    assert_non_null(token);
    assert_int_equal(service_session(f->svc, token, &ss, NULL), CU_OK);
    assert_string_equal(ss.username, "alice");
    assert_string_equal(ss.role, "clerk");
    assert_int_equal(ss.must_change_password, 1);
    service_session_release(&ss);
    /* the same code again is refused (each code once) */
    assert_null(login(f, "alice", pw, secret, len, now, &rc));
    assert_int_equal(rc, CU_ERR_AUTH);
    /* wrong password, unknown account: the same answer */
    assert_null(login(f, "alice", "wrong-password", secret, len, now + 30, &rc));
    assert_int_equal(rc, CU_ERR_AUTH);
    assert_null(login(f, "nobody", pw, secret, len, now + 30, &rc));
    assert_int_equal(rc, CU_ERR_AUTH);
    /* a forged token is no session */
    assert_int_equal(
        service_session(f->svc, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &ss, NULL),
        CU_ERR_AUTH);
    /* password change: wrong old, too short, then right */
    assert_int_equal(service_password_change(f->svc, token, "nope", "a-long-new-password", NULL),
                     CU_ERR_AUTH);
    assert_int_equal(service_password_change(f->svc, token, pw, "short", NULL), CU_ERR_INVALID);
    assert_int_equal(service_password_change(f->svc, token, pw, "a-long-new-password", &err),
                     CU_OK);
    assert_int_equal(service_session(f->svc, token, &ss, NULL), CU_OK);
    assert_int_equal(ss.must_change_password, 0);
    service_session_release(&ss);
    /* the next step's code with the new password works once more */
    token2 = login(f, "alice", "a-long-new-password", secret, len, now + 30, &rc);
    assert_int_equal(rc, CU_OK);
    /* suspension ends both live sessions at once */
    assert_int_equal(service_staff_set_suspended(f->svc, &test_who, "alice", 1, NULL), CU_OK);
    assert_int_equal(service_session(f->svc, token, &ss, NULL), CU_ERR_AUTH);
    assert_int_equal(service_session(f->svc, token2, &ss, NULL), CU_ERR_AUTH);
    /* logout ends a session */
    assert_int_equal(service_staff_set_suspended(f->svc, &test_who, "alice", 0, NULL), CU_OK);
    free(token);
    free(token2);
    make_staff(f, "carol", "agent", pw, secret, &len);
    token = login(f, "carol", pw, secret, len, now, &rc);
    assert_int_equal(rc, CU_OK);
    assert_int_equal(service_logout(f->svc, token, NULL), CU_OK);
    assert_int_equal(service_session(f->svc, token, &ss, NULL), CU_ERR_AUTH);
    free(token);
    free(err);
}

static void test_login_lockout_and_suspension(void **state)
{
    struct fixture *f = *state;
    unsigned char secret[20];
    size_t len;
    char pw[64], *token;
    int64_t now = cu_now();
    int rc, i;

    make_staff(f, "bob", "agent", pw, secret, &len);
    /* a suspended account with the right credentials is told so */
    assert_int_equal(service_staff_set_suspended(f->svc, &test_who, "bob", 1, NULL), CU_OK);
    assert_null(login(f, "bob", pw, secret, len, now, &rc));
    assert_int_equal(rc, CU_ERR_SUSPENDED);
    assert_int_equal(service_staff_set_suspended(f->svc, &test_who, "bob", 0, NULL), CU_OK);
    /* five wrong passwords lock the account, even against the right ones */
    for (i = 0; i < 5; i++) {
        assert_null(login(f, "bob", "wrong", secret, len, now, &rc));
        assert_int_equal(rc, CU_ERR_AUTH);
    }
    token = login(f, "bob", pw, secret, len, now + 30, &rc);
    assert_null(token);
    assert_int_equal(rc, CU_ERR_LIMIT);
}

/* The detector runs unless config.json says "detector": false (for
 * measuring its cost). */
static void test_detector_switch(void **state)
{
    struct fixture *f = *state;
    char *path = xasprintf("%s/config.json", f->data), *err = NULL;
    struct service *svc = NULL;
    json_t *cfg;

    assert_int_equal(service_audit_open(f->svc, &err), CU_OK);
    assert_non_null(f->svc->detector);
    cfg = json_load_file(path, 0, NULL);
    json_object_set_new(cfg, "detector", json_false());
    assert_int_equal(json_dump_file(cfg, path, 0), 0);
    json_decref(cfg);
    service_free(f->svc);
    f->svc = NULL;
    assert_int_equal(service_open(&svc, f->data, &err), CU_OK);
    assert_int_equal(service_audit_open(svc, &err), CU_OK);
    assert_null(svc->detector);
    f->svc = svc;
    free(path);
}

/* init writes policy.json; open reads it, and refuses a broken one. */
static void test_policy_file(void **state)
{
    struct fixture *f = *state;
    char *path = xasprintf("%s/policy.json", f->data), *err = NULL, *cmd;
    const struct service_actor clerk = {"cleo", "clerk", "SZ-014", "127.0.0.1", NULL},
                               agent = {"ada", "agent", "SZ-014", "127.0.0.1", NULL};
    struct service *svc = NULL;
    uint64_t before = 0, after = 0;
    json_t *out = NULL;

    assert_int_equal(access(path, F_OK), 0);
    assert_true(policy_may_lookup(f->svc->policy, POLICY_ROLE_CLERK));
    /* clerks may no longer look up: the edit takes effect at the next open */
    cmd = xasprintf("sed -i '0,/\"lookup\": true/s//\"lookup\": false/' '%s'", path);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    assert_int_equal(service_open(&svc, f->data, &err), CU_OK);
    assert_false(policy_may_lookup(svc->policy, POLICY_ROLE_CLERK));
    assert_true(policy_may_lookup(svc->policy, POLICY_ROLE_AGENT));
    /* and look-ups obey it: the clerk is refused, and that is audited */
    assert_int_equal(store_audit_size(svc->store, &before, &err), CU_OK);
    assert_int_equal(service_lookup(svc, &clerk, MODEL_ID_PHONE, "+8613812345678", &out, &err),
                     CU_ERR_FORBIDDEN);
    assert_null(out);
    assert_non_null(strstr(err, "clerk"));
    free(err);
    err = NULL;
    assert_int_equal(store_audit_size(svc->store, &after, &err), CU_OK);
    assert_int_equal(after, before + 1);
    assert_int_equal(service_lookup(svc, &agent, MODEL_ID_PHONE, "+8613812345678", &out, &err),
                     CU_OK);
    json_decref(out);
    service_free(svc);
    /* a broken file stops the service from opening, naming the file */
    write_text(path, "{\"roles\": 7}");
    assert_int_equal(service_open(&svc, f->data, &err), CU_ERR_INVALID);
    assert_null(svc);
    assert_non_null(strstr(err, "policy.json"));
    free(err);
    err = NULL;
    /* one that cannot be read is not replaced by the default either */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/nonexistent/policy.json", path), 0);
    assert_int_equal(service_open(&svc, f->data, &err), CU_ERR_IO);
    assert_null(svc);
    assert_non_null(strstr(err, "policy.json"));
    free(err);
    err = NULL;
    /* none at all (a data folder older than the file): the default */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(service_open(&svc, f->data, &err), CU_OK);
    assert_true(policy_may_lookup(svc->policy, POLICY_ROLE_CLERK));
    service_free(svc);
    free(path);
}

/* --- the outbox and its webhook ------------------------------------------ */

/* A webhook receiver: answers `status` and keeps the last body. */
struct hook {
    struct MHD_Daemon *d;
    uint16_t port;
    unsigned status;
    int calls;
    char body[1024];
    size_t len;
};

static enum MHD_Result hook_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_size, void **con_cls)
{
    struct hook *h = cls;
    struct MHD_Response *r;
    enum MHD_Result ret;

    (void)url, (void)method, (void)version;
    if (*con_cls == NULL) {
        *con_cls = h;
        h->len = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size < sizeof(h->body) - 1 - h->len ? *upload_size
                                                               : sizeof(h->body) - 1 - h->len;

        memcpy(h->body + h->len, upload, n);
        h->len += n;
        h->body[h->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    h->calls++;
    r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    ret = MHD_queue_response(c, h->status, r);
    MHD_destroy_response(r);
    return ret;
}

static void hook_start(struct hook *h)
{
    memset(h, 0, sizeof(*h));
    h->status = 200;
    h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, hook_handler, h,
                            MHD_OPTION_SOCK_ADDR, NULL, MHD_OPTION_END);
    assert_non_null(h->d);
    h->port = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT)->port;
}

/* Reopens the fixture's service with a webhook in its config. */
static void use_webhook(struct fixture *f, uint16_t port)
{
    char *path = xasprintf("%s/config.json", f->data), *err = NULL, url[64];
    json_t *cfg = json_load_file(path, 0, NULL);

    assert_non_null(cfg);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/send", (unsigned)port);
    json_object_set_new(cfg, "notifier",
                        json_pack("{s:s, s:s}", "webhook", url, "token", "hook-secret"));
    assert_int_equal(json_dump_file(cfg, path, 0), 0);
    json_decref(cfg);
    service_free(f->svc);
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_OK);
    free(path);
}

static json_t *outbox_message(struct fixture *f, size_t i)
{
    json_t *out = NULL, *m;

    assert_int_equal(service_outbox_list(f->svc, 0, 100, &out, NULL), CU_OK);
    m = json_incref(json_array_get(json_object_get(out, "messages"), i));
    json_decref(out);
    assert_non_null(m);
    return m;
}

static void test_outbox_builtin_sealed(void **state)
{
    struct fixture *f = *state;
    size_t sent = 9;
    json_t *m;
    char *cmd;

    assert_int_equal(service_notify(f->svc, "C00000001", "K-1", "sms", "+8613812345678",
                                    "Your verification code is 402913.", NULL),
                     CU_OK);
    m = outbox_message(f, 0);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "sent");
    assert_string_equal(json_string_value(json_object_get(m, "to")), "+8613812345678");
    assert_string_equal(json_string_value(json_object_get(m, "case_id")), "K-1");
    json_decref(m);
    /* nothing to deliver without a webhook */
    assert_int_equal(service_outbox_deliver(f->svc, 10, &sent, NULL), CU_OK);
    assert_int_equal(sent, 0);
    /* neither the number nor the code is in the data folder in clear */
    cmd = xasprintf("! grep -rqa -e 13812345678 -e 402913 '%s'", f->data);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    /* a sealed message moved to another customer does not open */
    cmd = xasprintf("sqlite3 '%s/custodian.db' \"UPDATE outbox SET customer_id = 'C00000002'\"",
                    f->data);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    {
        json_t *out = NULL;
        char *err = NULL;

        assert_int_equal(service_outbox_list(f->svc, 0, 100, &out, &err), CU_ERR_INTEGRITY);
        assert_null(out);
        free(err);
    }
}

static void test_outbox_webhook_delivery(void **state)
{
    struct fixture *f = *state;
    struct hook h;
    size_t sent = 0;
    json_t *m, *got;

    hook_start(&h);
    use_webhook(f, h.port);
    assert_int_equal(service_notify(f->svc, "C00000001", "K-1", "sms", "+8613812345678",
                                    "Your verification code is 402913.", NULL),
                     CU_OK);
    m = outbox_message(f, 0);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "pending");
    json_decref(m);

    /* the gateway is down: kept pending, retried later */
    h.status = 503;
    assert_int_equal(service_outbox_deliver(f->svc, 10, &sent, NULL), CU_OK);
    assert_int_equal(sent, 0);
    assert_int_equal(h.calls, 1);
    m = outbox_message(f, 0);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "pending");
    assert_int_equal(json_integer_value(json_object_get(m, "attempts")), 1);
    assert_non_null(strstr(json_string_value(json_object_get(m, "last_error")), "503"));
    json_decref(m);
    /* not due again yet: no second call */
    h.status = 200;
    assert_int_equal(service_outbox_deliver(f->svc, 10, &sent, NULL), CU_OK);
    assert_int_equal(h.calls, 1);
    /* once due, delivered with the recipient and the text */
    {
        char *cmd = xasprintf("sqlite3 '%s/custodian.db' \"UPDATE outbox SET next_attempt_at = 0\"",
                              f->data);

        assert_int_equal(system(cmd), 0);
        free(cmd);
    }
    assert_int_equal(service_outbox_deliver(f->svc, 10, &sent, NULL), CU_OK);
    assert_int_equal(sent, 1);
    assert_int_equal(h.calls, 2);
    got = json_loads(h.body, 0, NULL);
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "to")), "+8613812345678");
    assert_string_equal(json_string_value(json_object_get(got, "channel")), "sms");
    assert_non_null(strstr(json_string_value(json_object_get(got, "body")), "402913"));
    json_decref(got);
    m = outbox_message(f, 0);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "sent");
    json_decref(m);

    /* a permanent refusal (400) fails the message for good */
    h.status = 400;
    assert_int_equal(service_notify(f->svc, "C00000001", NULL, "email", "a@example.com",
                                    "Someone looked at your data.", NULL),
                     CU_OK);
    assert_int_equal(service_outbox_deliver(f->svc, 10, &sent, NULL), CU_OK);
    assert_int_equal(sent, 0);
    m = outbox_message(f, 1);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "failed");
    json_decref(m);
    MHD_stop_daemon(h.d);
}

/* Messages are kept for config "outbox_days" after they were made, then
 * deleted, at most `max` a call; a bad setting stops the service opening. */
static void test_outbox_retention(void **state)
{
    struct fixture *f = *state;
    char *path = xasprintf("%s/config.json", f->data), *err = NULL, *cmd;
    json_t *cfg = json_load_file(path, 0, NULL), *m, *out = NULL;
    struct service *svc = NULL;
    size_t i, n = 0;

    json_object_set_new(cfg, "outbox_days", json_integer(0));
    assert_int_equal(json_dump_file(cfg, path, 0), 0);
    assert_int_equal(service_open(&svc, f->data, &err), CU_ERR_INVALID);
    assert_non_null(strstr(err, "outbox_days"));
    free(err);
    json_object_set_new(cfg, "outbox_days", json_integer(2));
    assert_int_equal(json_dump_file(cfg, path, 0), 0);
    json_decref(cfg);
    service_free(f->svc);
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_OK);

    assert_int_equal(store_begin(f->svc->store, NULL), CU_OK);
    for (i = 0; i < 300; i++)
        assert_int_equal(service_notify(f->svc, "C00000001", NULL, "sms", "+8613812345678",
                                        "An old message.", NULL),
                         CU_OK);
    assert_int_equal(store_commit(f->svc->store, NULL), CU_OK);
    /* nothing is two days old yet */
    assert_int_equal(service_outbox_expire(f->svc, 1000, &n, NULL), CU_OK);
    assert_int_equal(n, 0);
    /* three days pass for these 300 */
    cmd = xasprintf(
        "sqlite3 '%s/custodian.db' \"UPDATE outbox SET created_at = created_at - 259200\"",
        f->data);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    assert_int_equal(
        service_notify(f->svc, "C00000001", NULL, "sms", "+8613812345678", "A new message.", NULL),
        CU_OK);
    assert_int_equal(service_outbox_expire(f->svc, 200, &n, NULL), CU_OK);
    assert_int_equal(n, 200);
    assert_int_equal(service_outbox_expire(f->svc, 1000, &n, NULL), CU_OK);
    assert_int_equal(n, 100);
    assert_int_equal(service_outbox_list(f->svc, 0, 1000, &out, NULL), CU_OK);
    assert_int_equal(json_array_size(json_object_get(out, "messages")), 1);
    m = json_array_get(json_object_get(out, "messages"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "body")), "A new message.");
    json_decref(out);
    free(path);
}

/* --- customer access log and export --- */

#include <sodium.h>

#include "audit/audit.h"

static void test_staff_ref_stable_and_distinct(void **state)
{
    struct fixture *f = *state;
    char *a = service_staff_ref(f->svc, "alice"), *a2, *b = service_staff_ref(f->svc, "bob");
    char *err = NULL;
    size_t i;

    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(strlen(a), 10);
    assert_memory_equal(a, "S-", 2);
    for (i = 2; i < 10; i++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", a[i]));
    assert_null(strstr(a, "alice"));
    assert_string_not_equal(a, b);
    assert_null(service_staff_ref(f->svc, NULL));
    assert_null(service_staff_ref(f->svc, ""));
    /* The same reference after a restart (a new service on the same folder). */
    service_free(f->svc);
    assert_int_equal(service_open(&f->svc, f->data, &err), CU_OK);
    a2 = service_staff_ref(f->svc, "alice");
    assert_string_equal(a, a2);
    free(a);
    free(a2);
    free(b);
}

/* Appends an entry about `customer_id` as `who` (the customer's own). */
static void audit_as(struct fixture *f, const struct service_actor *who, int action,
                     const char *customer_id)
{
    struct service_access a = {.action = action, .decision = AUDIT_ALLOW};
    char *err = NULL;

    a.customer_id = customer_id;
    assert_int_equal(service_audit_access(f->svc, who, &a, NULL, &err), CU_OK);
}

/* The root of a checkpoint note (its third line). */
static void note_root(const char *note, unsigned char root[AUDIT_HASH_BYTES])
{
    const char *p = strchr(strchr(note, '\n') + 1, '\n') + 1;
    size_t len = 0;

    assert_int_equal(sodium_base642bin(root, AUDIT_HASH_BYTES, p, strcspn(p, "\n"), NULL, &len,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(len, AUDIT_HASH_BYTES);
}

static void test_access_log_shape_and_scope(void **state)
{
    struct fixture *f = *state;
    static const struct service_actor customer = {"subject", SERVICE_ROLE_CUSTOMER, NULL, NULL,
                                                  NULL};
    static const struct service_actor clerk = {"alice", "clerk", "SZ-014", "10.0.0.1", NULL};
    unsigned char root[AUDIT_HASH_BYTES], leaf[512], path[AUDIT_MAX_PROOF][AUDIT_HASH_BYTES];
    unsigned char lh[AUDIT_HASH_BYTES];
    struct service_import_result r;
    json_t *out = NULL, *entries, *e, *h, *kase = NULL;
    const char *why = NULL;
    char *err = NULL, *text, *ref;
    size_t i, j, leaf_len, n;
    uint64_t size, prev = 0;

    assert_int_equal(import_text(f, "x.csv",
                                 HDR "X1,amy@icloud.com,Amy Chan,+8613812345678,amy@qq.com,,,"
                                     "490154203237518,,,,\n"
                                     "X2,bob@icloud.com,Bob Li,+8613900001111,bob@qq.com,,,"
                                     "353328110000005,,,,\n",
                                 &r, 0),
                     CU_OK);
    assert_int_equal(lookup_count(f, 0, "X1", "X1"), 1);
    assert_int_equal(service_reveal(f->svc, &test_who, 0, "X1", "name", "support call", &out, &err),
                     CU_OK);
    json_decref(out);
    assert_int_equal(lookup_count(f, MODEL_ID_IMEI, "353328110000005", "X2"), 1);
    /* The customer's own doings are not in their log. */
    audit_as(f, &customer, AUDIT_SUBJECT_LOGIN, "X1");
    audit_as(f, &customer, AUDIT_SUBJECT_ACCESS, "X1");
    audit_as(f, &customer, AUDIT_EXPORT, "X1");
    /* A clerk's case: its purpose is shown. */
    assert_int_equal(
        service_case_open(f->svc, &clerk, "customer_support", "X1", NULL, NULL, &kase, &why, &err),
        CU_OK);

    assert_int_equal(service_subject_access_log(f->svc, "X1", &out, &err), CU_OK);
    entries = json_object_get(out, "entries");
    assert_int_equal(json_array_size(entries), 3);
    size = (uint64_t)json_integer_value(json_object_get(out, "tree_size"));
    assert_true(size > 0);
    note_root(json_string_value(json_object_get(out, "checkpoint")), root);
    assert_int_equal(
        strtoull(strchr(json_string_value(json_object_get(out, "checkpoint")), '\n') + 1, NULL, 10),
        size);
    ref = service_staff_ref(f->svc, "operator:test");
    json_array_foreach(entries, i, e)
    {
        static const char *const keys[] = {"time",    "store",      "staff_ref", "purpose",
                                           "action",  "fields",     "decision",  "leaf_index",
                                           "case_id", "leaf_input", "audit_path"};
        uint64_t index = (uint64_t)json_integer_value(json_object_get(e, "leaf_index"));

        for (j = 0; j < CU_ARRAY_LEN(keys); j++)
            assert_non_null(json_object_get(e, keys[j]));
        assert_true(i == 0 || index > prev); /* oldest first */
        prev = index;
        /* Each proof verifies against the returned checkpoint's root. */
        assert_int_equal(
            sodium_base642bin(leaf, sizeof(leaf),
                              json_string_value(json_object_get(e, "leaf_input")),
                              strlen(json_string_value(json_object_get(e, "leaf_input"))), NULL,
                              &leaf_len, NULL, sodium_base64_VARIANT_ORIGINAL),
            0);
        audit_leaf_hash(leaf, leaf_len, lh);
        n = 0;
        json_array_foreach(json_object_get(e, "audit_path"), j, h)
        {
            size_t len = 0;

            assert_int_equal(sodium_base642bin(path[n++], AUDIT_HASH_BYTES, json_string_value(h),
                                               strlen(json_string_value(h)), NULL, &len, NULL,
                                               sodium_base64_VARIANT_ORIGINAL),
                             0);
        }
        assert_int_equal(audit_verify_inclusion(index, size, lh, path, (unsigned)n, root), CU_OK);
        /* A flipped leaf byte does not. */
        leaf[leaf_len - 1] ^= 1;
        audit_leaf_hash(leaf, leaf_len, lh);
        assert_int_not_equal(audit_verify_inclusion(index, size, lh, path, (unsigned)n, root),
                             CU_OK);
    }
    e = json_array_get(entries, 0);
    assert_string_equal(json_string_value(json_object_get(e, "action")), "lookup");
    assert_string_equal(json_string_value(json_object_get(e, "staff_ref")), ref);
    assert_true(json_is_null(json_object_get(e, "purpose")));
    e = json_array_get(entries, 1);
    assert_string_equal(json_string_value(json_object_get(e, "action")), "reveal");
    assert_string_equal(json_string_value(json_array_get(json_object_get(e, "fields"), 0)), "name");
    assert_string_equal(json_string_value(json_object_get(e, "decision")), "allow");
    e = json_array_get(entries, 2);
    assert_string_equal(json_string_value(json_object_get(e, "action")), "case_open");
    assert_string_equal(json_string_value(json_object_get(e, "purpose")), "customer_support");
    assert_string_equal(json_string_value(json_object_get(e, "case_id")),
                        json_string_value(json_object_get(kase, "case_id")));
    assert_string_equal(json_string_value(json_object_get(e, "store")), "SZ-014");
    assert_string_not_equal(json_string_value(json_object_get(e, "staff_ref")), ref);
    /* Whole values: the base64 of leaves and proofs holds any short word
     * now and then ("Amy" failed one run in sixty). */
    text = json_dumps(out, 0);
    assert_null(strstr(text, "Amy Chan"));
    assert_null(strstr(text, "alice"));
    assert_null(strstr(text, "13812345678"));
    assert_null(strstr(text, "operator:test"));
    free(text);
    json_decref(out);

    /* The other customer's log has only their own look-up. */
    assert_int_equal(service_subject_access_log(f->svc, "X2", &out, &err), CU_OK);
    entries = json_object_get(out, "entries");
    assert_int_equal(json_array_size(entries), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(entries, 0), "action")),
                        "lookup");
    json_decref(out);
    assert_int_equal(service_subject_access_log(f->svc, "", &out, &err), CU_ERR_INVALID);
    free(err);
    free(ref);
    json_decref(kase);
}

static void test_customer_export(void **state)
{
    struct fixture *f = *state;
    struct service_import_result r;
    json_t *out = NULL, *c, *entries;
    char *err = NULL;
    uint64_t before = 0, after = 0;

    assert_int_equal(import_text(f, "y.csv",
                                 HDR "Y1,amy@icloud.com,Amy Chan,+8613812345678,amy@qq.com,,"
                                     "1990-05-06,490154203237518,F2LX0000AAAA,iPhone 14,,\n",
                                 &r, 0),
                     CU_OK);
    assert_int_equal(store_audit_size(f->svc->store, &before, &err), CU_OK);
    assert_int_equal(service_customer_export(f->svc, &test_who, "Y9", &out, &err),
                     CU_ERR_NOT_FOUND);
    assert_non_null(strstr(err, "Y9"));
    free(err);
    err = NULL;
    assert_int_equal(service_customer_export(f->svc, &test_who, "Y 1;", &out, &err),
                     CU_ERR_INVALID);
    free(err);
    err = NULL;
    assert_null(out);
    assert_int_equal(store_audit_size(f->svc->store, &after, &err), CU_OK);
    assert_int_equal(after, before); /* refusals of bad input write nothing */

    assert_int_equal(service_customer_export(f->svc, &test_who, " Y1 ", &out, &err), CU_OK);
    assert_string_equal(json_string_value(json_object_get(out, "customer_id")), "Y1");
    c = json_object_get(out, "customer");
    assert_string_equal(json_string_value(json_object_get(c, "name")), "Amy Chan");
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "phone"), 0)),
                        "+8613812345678");
    assert_string_equal(json_string_value(json_object_get(c, "birth_date")), "1990-05-06");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(c, "devices"), 0), "imei")),
                        "490154203237518");
    assert_non_null(json_string_value(json_object_get(out, "exported_at")));
    /* The export was audited first: it is in its own access log. */
    entries = json_object_get(json_object_get(out, "access_log"), "entries");
    assert_int_equal(json_array_size(entries), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(entries, 0), "action")),
                        "export");
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(entries, 0), "leaf_index")),
        json_integer_value(json_object_get(json_object_get(out, "audit"), "leaf_index")));
    json_decref(out);
}

/* --- access notices (portal.c) --- */

static size_t outbox_size(struct fixture *f)
{
    json_t *out = NULL;
    size_t n;

    assert_int_equal(service_outbox_list(f->svc, 0, 1000, &out, NULL), CU_OK);
    n = json_array_size(json_object_get(out, "messages"));
    json_decref(out);
    return n;
}

static void reveal_entry(struct fixture *f, const char *customer_id, int decision)
{
    struct service_access a = {.action = AUDIT_REVEAL,
                               .decision = decision,
                               .customer_id = customer_id,
                               .fields = "name,phone"};

    assert_int_equal(service_audit_access(f->svc, &test_who, &a, NULL, NULL), CU_OK);
}

static void test_access_notices(void **state)
{
    struct fixture *f = *state;
    struct service_import_result res;
    size_t sent = 0;
    int daily = 1;
    const char *body;
    json_t *m;

    assert_int_equal(import_text(f, "n.csv",
                                 HDR "C1,c1@icloud.com,Li Wei,+8613812345678,li@example.com,,,"
                                     "490154203237518,,,,\n"
                                     "C2,c2@icloud.com,Wang Fang,+8613912345678,,,,,,,,\n",
                                 &res, 0),
                     CU_OK);
    /* one notice per allowed reveal, queued in its audit commit */
    reveal_entry(f, "C1", AUDIT_ALLOW);
    reveal_entry(f, "C1", AUDIT_DENY); /* a refusal reveals nothing */
    reveal_entry(f, "C2", AUDIT_ALLOW);
    assert_int_equal(outbox_size(f), 0);
    assert_int_equal(service_notices_run(f->svc, &sent, NULL), CU_OK);
    assert_int_equal(sent, 2);
    assert_int_equal(outbox_size(f), 2);
    m = outbox_message(f, 0);
    assert_string_equal(json_string_value(json_object_get(m, "customer_id")), "C1");
    assert_string_equal(json_string_value(json_object_get(m, "to")), "+8613812345678");
    assert_non_null(strstr(json_string_value(json_object_get(m, "body")), "name, phone"));
    json_decref(m);
    /* exactly once */
    assert_int_equal(service_notices_run(f->svc, &sent, NULL), CU_OK);
    assert_int_equal(sent, 0);
    assert_int_equal(outbox_size(f), 2);

    /* views pending together go as one message per customer, each listed */
    reveal_entry(f, "C1", AUDIT_ALLOW);
    reveal_entry(f, "C2", AUDIT_ALLOW);
    reveal_entry(f, "C1", AUDIT_ALLOW);
    assert_int_equal(service_notices_run(f->svc, &sent, NULL), CU_OK);
    assert_int_equal(sent, 2);
    assert_int_equal(outbox_size(f), 4);
    m = outbox_message(f, 2);
    assert_string_equal(json_string_value(json_object_get(m, "customer_id")), "C1");
    body = json_string_value(json_object_get(m, "body"));
    assert_non_null(strstr(body, "viewed in full 2 times"));
    assert_non_null(strstr(strstr(body, "name, phone") + 1, "name, phone"));
    json_decref(m);
    m = outbox_message(f, 3);
    assert_string_equal(json_string_value(json_object_get(m, "customer_id")), "C2");
    assert_non_null(strstr(json_string_value(json_object_get(m, "body")), "viewed in full: "));
    json_decref(m);

    /* a daily digest: nothing until the oldest view is a day old, then one
     * message for all of them */
    assert_int_equal(service_subject_notices(f->svc, "C1", 1, &daily, NULL), CU_OK);
    daily = 0;
    assert_int_equal(service_subject_notices(f->svc, "C1", 0, &daily, NULL), CU_OK);
    assert_int_equal(daily, 1);
    reveal_entry(f, "C1", AUDIT_ALLOW);
    reveal_entry(f, "C1", AUDIT_ALLOW);
    reveal_entry(f, "C2", AUDIT_ALLOW);
    assert_int_equal(service_notices_run(f->svc, &sent, NULL), CU_OK);
    assert_int_equal(sent, 1); /* C00000002's, at once */
    cu_clock_set(cu_now_ms() + 86400 * 1000LL + 1000);
    assert_int_equal(service_notices_run(f->svc, &sent, NULL), CU_OK);
    cu_clock_set(0);
    assert_int_equal(sent, 1);
    assert_int_equal(outbox_size(f), 6);
    m = outbox_message(f, 5);
    assert_string_equal(json_string_value(json_object_get(m, "customer_id")), "C1");
    assert_non_null(strstr(json_string_value(json_object_get(m, "body")), "2 times"));
    json_decref(m);
    assert_int_equal(service_notices_run(f->svc, &sent, NULL), CU_OK);
    assert_int_equal(sent, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_twice_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_unseal_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_and_lookup_each_identifier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_view_is_masked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_file_imports_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reimport_replaces_and_merges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_rewraps_and_retires, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_login_lockout_and_suspension, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_detector_switch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_builtin_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_webhook_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_staff_ref_stable_and_distinct, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_log_shape_and_scope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_customer_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_phone_list_spaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_writer_after_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_notices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejects_non_utf8_line, setup, teardown),
    };

    if (vault_global_init() != CU_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
