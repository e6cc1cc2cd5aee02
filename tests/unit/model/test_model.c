/*
 * Unit tests of the model module: normalisation and validation, masking,
 * record helpers, the device-list encoding and the CSV / JSON Lines formats.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"
#include "model/model_int.h"

/* ---- helpers ---- */

/* Runs a normaliser expected to succeed and checks its output. */
#define NORM_OK(call, want)                                                                        \
    do {                                                                                           \
        char *out_ = (char *)1;                                                                    \
        struct model_error e_ = {NULL, NULL};                                                      \
        assert_int_equal((call), CU_OK);                                                           \
        assert_non_null(out_);                                                                     \
        assert_string_equal(out_, (want));                                                         \
        free(out_);                                                                                \
    } while (0)

/* Runs a normaliser expected to fail with that field and reason. */
#define NORM_BAD(call, want_field, want_reason)                                                    \
    do {                                                                                           \
        char *out_ = (char *)1;                                                                    \
        struct model_error e_ = {NULL, NULL};                                                      \
        assert_int_equal((call), CU_ERR_INVALID);                                                  \
        assert_null(out_);                                                                         \
        assert_non_null(e_.field);                                                                 \
        assert_string_equal(e_.field, (want_field));                                               \
        assert_non_null(e_.reason);                                                                \
        assert_string_equal(e_.reason, (want_reason));                                             \
    } while (0)

#define IMEI_A "490154203237518"
#define IMEI_B "356938035643809"

static void check_mask(char *(*mask)(const char *), const char *in, const char *want)
{
    char *m = mask(in);

    assert_non_null(m);
    assert_string_equal(m, want);
    free(m);
}

/* A customer that passes normalisation, with two devices. */
static void fill_customer(struct model_customer *c)
{
    struct model_device *d;

    model_customer_init(c);
    c->customer_id = strdup(" C00012345 ");
    c->account = strdup("Zhang.San@iCloud.com");
    c->name = strdup(" 张三丰 ");
    c->phones[c->nphones++] = strdup("+86 138 1234 5678");
    c->phones[c->nphones++] = strdup("13812345678"); /* the same number again */
    c->phones[c->nphones++] = strdup("+44 20 7946 0958");
    c->email = strdup(" ZS@Example.com ");
    c->address = strdup("广东省深圳市南山区科技园路1号");
    c->birth_date = strdup("1990-05-17");
    d = model_customer_add_device(c);
    d->imei = strdup("49-015420-323751-8");
    d->serial = strdup("c02xl0gjjgh5");
    d->model = strdup("iPhone 15 Pro");
    d->purchase_date = strdup("2024-02-29");
    d->store = strdup("R320");
    d = model_customer_add_device(c);
    d->imei = strdup(IMEI_B);
}

/* ---- names tables ---- */

static void test_field_names(void **state)
{
    int f;

    (void)state;
    assert_string_equal(model_field_name(MODEL_F_ACCOUNT), "account");
    assert_string_equal(model_field_name(MODEL_F_BIRTH_DATE), "birth_date");
    assert_string_equal(model_field_name(MODEL_F_DEVICES), "devices");
    assert_null(model_field_name(MODEL_F__COUNT));
    assert_null(model_field_name((enum model_field) - 1));
    for (f = 0; f < MODEL_F__COUNT; f++)
        assert_int_equal(model_field_from_name(model_field_name((enum model_field)f)), f);
    assert_int_equal(model_field_from_name("imei"), -1);
    assert_int_equal(model_field_from_name(NULL), -1);
}

static void test_ident_names(void **state)
{
    int id;

    (void)state;
    assert_string_equal(model_ident_name(MODEL_ID_IMEI), "imei");
    assert_string_equal(model_ident_name(MODEL_ID_ACCOUNT), "account");
    assert_null(model_ident_name((enum model_ident)0));
    assert_null(model_ident_name((enum model_ident)(MODEL_ID__MAX + 1)));
    for (id = 1; id <= MODEL_ID__MAX; id++)
        assert_int_equal(model_ident_from_name(model_ident_name((enum model_ident)id)), id);
    assert_int_equal(model_ident_from_name("name"), -1);
    assert_int_equal(model_ident_from_name(NULL), -1);
}

/* ---- IMEI ---- */

static void test_luhn(void **state)
{
    (void)state;
    assert_true(model_luhn_ok(IMEI_A, 15));
    assert_true(model_luhn_ok(IMEI_B, 15));
    assert_false(model_luhn_ok("490154203237519", 15));
    assert_false(model_luhn_ok("356938035643808", 15));
    /* one transposition of neighbouring digits is caught */
    assert_false(model_luhn_ok("940154203237518", 15));
    assert_false(model_luhn_ok("49015420323751a", 15));
    assert_false(model_luhn_ok("", 0));
    assert_false(model_luhn_ok(NULL, 15));
}

static void test_norm_imei(void **state)
{
    (void)state;
    NORM_OK(model_norm_imei(IMEI_A, &out_, &e_), IMEI_A);
    NORM_OK(model_norm_imei("  " IMEI_B "\t", &out_, &e_), IMEI_B);
    NORM_OK(model_norm_imei("35-693803-564380-9", &out_, &e_), IMEI_B);
    NORM_OK(model_norm_imei("35 693803 564380 9", &out_, &e_), IMEI_B);
    NORM_OK(model_norm_imei("356938/03/564380/9", &out_, &e_), IMEI_B);
    NORM_BAD(model_norm_imei("490154203237519", &out_, &e_), "imei", "check digit does not match");
    NORM_BAD(model_norm_imei("35693803564380", &out_, &e_), "imei", "must be 15 digits");
    NORM_BAD(model_norm_imei("3569380356438090", &out_, &e_), "imei", "must be 15 digits");
    NORM_BAD(model_norm_imei("35693803564380A", &out_, &e_), "imei", "must contain digits only");
    NORM_BAD(model_norm_imei("356938.035643809", &out_, &e_), "imei", "must contain digits only");
    NORM_BAD(model_norm_imei("  ", &out_, &e_), "imei", "missing");
    NORM_BAD(model_norm_imei(NULL, &out_, &e_), "imei", "missing");
}

/* ---- phone ---- */

static void test_cc_table(void **state)
{
    static const char *const assigned[] = {
        "1",   "7",   "20",  "27",  "30",  "44",  "86",  "98",  "211", "262", "299", "352", "383",
        "423", "599", "670", "692", "800", "852", "853", "880", "886", "960", "979", "998"};
    static const char *const spare[] = {"0",   "210", "259", "280", "384", "422",
                                        "671", "684", "801", "969", "990", "999"};
    size_t i;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(assigned); i++) {
        char num[32];

        snprintf(num, sizeof(num), "%s12345678", assigned[i]);
        assert_int_equal(model_cc_len(num, strlen(num)), strlen(assigned[i]));
    }
    for (i = 0; i < CU_ARRAY_LEN(spare); i++)
        assert_int_equal(model_cc_len(spare[i], strlen(spare[i])), 0);
    assert_int_equal(model_cc_len("8", 1), 0);
    assert_int_equal(model_cc_len("", 0), 0);
    /* "85" is spare, "852" Hong Kong: longest match */
    assert_int_equal(model_cc_len("85291234567", 11), 3);
    assert_int_equal(model_cc_len("8613812345678", 13), 2);
}

static void test_norm_phone_ok(void **state)
{
    (void)state;
    NORM_OK(model_norm_phone("+86 138 1234 5678", "86", &out_, &e_), "+8613812345678");
    NORM_OK(model_norm_phone("13812345678", "86", &out_, &e_), "+8613812345678");
    NORM_OK(model_norm_phone("138-1234-5678", NULL, &out_, &e_), "+8613812345678");
    NORM_OK(model_norm_phone("008613812345678", "86", &out_, &e_), "+8613812345678");
    NORM_OK(model_norm_phone("0086 138 1234 5678", "44", &out_, &e_), "+8613812345678");
    NORM_OK(model_norm_phone("+1 (415) 555-2671", "86", &out_, &e_), "+14155552671");
    NORM_OK(model_norm_phone("+44 20 7946 0958", "86", &out_, &e_), "+442079460958");
    NORM_OK(model_norm_phone("+44 (0)20 7946 0958", "86", &out_, &e_), "+442079460958");
    NORM_OK(model_norm_phone("020 7946 0958", "44", &out_, &e_), "+442079460958");
    NORM_OK(model_norm_phone("0755 1234 5678", "86", &out_, &e_), "+8675512345678");
    NORM_OK(model_norm_phone("+86 10 1234 5678", "86", &out_, &e_), "+861012345678");
    NORM_OK(model_norm_phone("+852 9123 4567", "86", &out_, &e_), "+85291234567");
    NORM_OK(model_norm_phone("+886 912 345 678", "86", &out_, &e_), "+886912345678");
    NORM_OK(model_norm_phone("+7 912 345-67-89", "86", &out_, &e_), "+79123456789");
    NORM_OK(model_norm_phone("(415) 555-2671", "1", &out_, &e_), "+14155552671");
    NORM_OK(model_norm_phone("1 415 555 2671", "1", &out_, &e_), "+14155552671");
    NORM_OK(model_norm_phone("011 44 20 7946 0958", "1", &out_, &e_), "+442079460958");
    NORM_OK(model_norm_phone("06 1234 5678", "39", &out_, &e_), "+390612345678");
    NORM_OK(model_norm_phone("\xe3\x80\x80+8613812345678 ", "86", &out_, &e_), "+8613812345678");
    /* already normalised: unchanged */
    NORM_OK(model_norm_phone("+8613812345678", "44", &out_, &e_), "+8613812345678");
}

static void test_norm_phone_bad(void **state)
{
    (void)state;
    NORM_BAD(model_norm_phone("+86 138 1234 567", "86", &out_, &e_), "phone",
             "Chinese mobile numbers have 11 digits");
    NORM_BAD(model_norm_phone("1381234567", "86", &out_, &e_), "phone",
             "Chinese mobile numbers have 11 digits");
    NORM_BAD(model_norm_phone("+86 12 1234 5678", "86", &out_, &e_), "phone",
             "not a Chinese phone number");
    NORM_BAD(model_norm_phone("+999 1234 5678", "86", &out_, &e_), "phone", "unknown country code");
    NORM_BAD(model_norm_phone("+0 1234 5678", "86", &out_, &e_), "phone", "unknown country code");
    NORM_BAD(model_norm_phone("00999 1234 5678", "86", &out_, &e_), "phone",
             "unknown country code");
    NORM_BAD(model_norm_phone("+44 20 7946 0958 1234", "86", &out_, &e_), "phone", "too long");
    NORM_BAD(model_norm_phone("+86 138 1234 5678 1234 5678 9012", "86", &out_, &e_), "phone",
             "too long");
    NORM_BAD(model_norm_phone("+44 1234", "86", &out_, &e_), "phone", "too short");
    NORM_BAD(model_norm_phone("+1 415 555 267", "86", &out_, &e_), "phone",
             "North American numbers have 10 digits");
    NORM_BAD(model_norm_phone("+1 015 555 2671", "86", &out_, &e_), "phone",
             "North American numbers have 10 digits");
    NORM_BAD(model_norm_phone("138-1234-abcd", "86", &out_, &e_), "phone", "not a phone number");
    NORM_BAD(model_norm_phone("+86+13812345678", "86", &out_, &e_), "phone", "not a phone number");
    NORM_BAD(model_norm_phone("+", "86", &out_, &e_), "phone", "not a phone number");
    NORM_BAD(model_norm_phone(" ", "86", &out_, &e_), "phone", "missing");
    NORM_BAD(model_norm_phone("13812345678", "999", &out_, &e_), "phone",
             "unknown default country code");
    NORM_BAD(model_norm_phone("13812345678", "8x", &out_, &e_), "phone",
             "unknown default country code");
}

/* ---- e-mail, account ---- */

static void test_norm_email(void **state)
{
    (void)state;
    NORM_OK(model_norm_email("jane.doe@example.com", &out_, &e_), "jane.doe@example.com");
    NORM_OK(model_norm_email("  Jane.Doe@Example.COM \n", &out_, &e_), "jane.doe@example.com");
    NORM_OK(model_norm_email("a+tag@mail.example.co.uk", &out_, &e_), "a+tag@mail.example.co.uk");
    NORM_OK(model_norm_email("x@my-domain.cn", &out_, &e_), "x@my-domain.cn");
    NORM_OK(model_norm_email("张三@example.com", &out_, &e_), "张三@example.com");
    NORM_BAD(model_norm_email("jane.doe.example.com", &out_, &e_), "email",
             "not an e-mail address");
    NORM_BAD(model_norm_email("jane@doe@example.com", &out_, &e_), "email",
             "not an e-mail address");
    NORM_BAD(model_norm_email("jane@localhost", &out_, &e_), "email", "not an e-mail address");
    NORM_BAD(model_norm_email("jane doe@example.com", &out_, &e_), "email",
             "not an e-mail address");
    NORM_BAD(model_norm_email("jane@exa mple.com", &out_, &e_), "email", "not an e-mail address");
    NORM_BAD(model_norm_email("@example.com", &out_, &e_), "email", "not an e-mail address");
    NORM_BAD(model_norm_email("jane@", &out_, &e_), "email", "not an e-mail address");
    NORM_BAD(model_norm_email("jane@.example.com", &out_, &e_), "email", "not an e-mail address");
    NORM_BAD(model_norm_email("jane@example..com", &out_, &e_), "email", "not an e-mail address");
    NORM_BAD(model_norm_email("jane@example.com.", &out_, &e_), "email", "not an e-mail address");
    NORM_BAD(model_norm_email("jane@-example.com", &out_, &e_), "email", "not an e-mail address");
    NORM_BAD(model_norm_email("jane@example-.com", &out_, &e_), "email", "not an e-mail address");
    NORM_BAD(model_norm_email("jane@exam_ple.com", &out_, &e_), "email", "not an e-mail address");
    NORM_BAD(model_norm_email("ja\"ne@example.com", &out_, &e_), "email", "not an e-mail address");
    NORM_BAD(model_norm_email("", &out_, &e_), "email", "missing");
    NORM_OK(model_norm_account("  Zhang.San@iCloud.com", &out_, &e_), "zhang.san@icloud.com");
    NORM_BAD(model_norm_account("zhang.san", &out_, &e_), "account", "not an e-mail address");
}

static void test_norm_email_lengths(void **state)
{
    char addr[300];

    (void)state;
    /* local part of 64 is fine, 65 is not */
    memset(addr, 'a', 64);
    strcpy(addr + 64, "@example.com");
    NORM_OK(model_norm_email(addr, &out_, &e_), addr);
    memset(addr, 'a', 65);
    strcpy(addr + 65, "@example.com");
    NORM_BAD(model_norm_email(addr, &out_, &e_), "email", "not an e-mail address");
    memset(addr, 'a', 260);
    addr[20] = '@';
    memcpy(addr + 256, ".com", 5);
    NORM_BAD(model_norm_email(addr, &out_, &e_), "email", "too long");
}

/* ---- serial ---- */

static void test_norm_serial(void **state)
{
    (void)state;
    NORM_OK(model_norm_serial(" c02xl0gjjgh5 ", &out_, &e_), "C02XL0GJJGH5");
    NORM_OK(model_norm_serial("ABC123", &out_, &e_), "ABC123");
    NORM_OK(model_norm_serial("abcdefghij0123456789", &out_, &e_), "ABCDEFGHIJ0123456789");
    NORM_BAD(model_norm_serial("ABC12", &out_, &e_), "serial",
             "must be 6 to 20 letters and digits");
    NORM_BAD(model_norm_serial("ABCDEFGHIJ0123456789X", &out_, &e_), "serial",
             "must be 6 to 20 letters and digits");
    NORM_BAD(model_norm_serial("C02-XL0GJ", &out_, &e_), "serial",
             "must contain letters and digits only");
    NORM_BAD(model_norm_serial("C02XL0 GJJGH5", &out_, &e_), "serial",
             "must contain letters and digits only");
    NORM_BAD(model_norm_serial("C02XL\xc3\xa9GJJ", &out_, &e_), "serial",
             "must contain letters and digits only");
    NORM_BAD(model_norm_serial("", &out_, &e_), "serial", "missing");
}

/* ---- date ---- */

static void test_norm_date(void **state)
{
    (void)state;
    NORM_OK(model_norm_date("2024-02-29", &out_, &e_), "2024-02-29");
    NORM_OK(model_norm_date(" 2000-02-29 ", &out_, &e_), "2000-02-29");
    NORM_OK(model_norm_date("1900-01-01", &out_, &e_), "1900-01-01");
    NORM_OK(model_norm_date("2100-12-31", &out_, &e_), "2100-12-31");
    NORM_BAD(model_norm_date("2023-02-29", &out_, &e_), "date", "not a calendar date");
    NORM_BAD(model_norm_date("1900-02-29", &out_, &e_), "date", "not a calendar date");
    NORM_BAD(model_norm_date("2024-04-31", &out_, &e_), "date", "not a calendar date");
    NORM_BAD(model_norm_date("2024-13-01", &out_, &e_), "date", "not a date (YYYY-MM-DD)");
    NORM_BAD(model_norm_date("2024-00-10", &out_, &e_), "date", "not a date (YYYY-MM-DD)");
    NORM_BAD(model_norm_date("2024-01-00", &out_, &e_), "date", "not a date (YYYY-MM-DD)");
    NORM_BAD(model_norm_date("2024/01/01", &out_, &e_), "date", "not a date (YYYY-MM-DD)");
    NORM_BAD(model_norm_date("2024-1-01", &out_, &e_), "date", "not a date (YYYY-MM-DD)");
    NORM_BAD(model_norm_date("24-01-01", &out_, &e_), "date", "not a date (YYYY-MM-DD)");
    NORM_BAD(model_norm_date("2024-01-0x", &out_, &e_), "date", "not a date (YYYY-MM-DD)");
    NORM_BAD(model_norm_date("1899-12-31", &out_, &e_), "date", "must be between 1900 and 2100");
    NORM_BAD(model_norm_date("2101-01-01", &out_, &e_), "date", "must be between 1900 and 2100");
    NORM_BAD(model_norm_date("", &out_, &e_), "date", "missing");
}

/* ---- name, text, customer id ---- */

static void test_norm_name(void **state)
{
    char big[300];

    (void)state;
    NORM_OK(model_norm_name(" 张三丰 ", &out_, &e_), "张三丰");
    NORM_OK(model_norm_name("\xe3\x80\x80张三\xc2\xa0", &out_, &e_), "张三");
    NORM_OK(model_norm_name("John  Doe", &out_, &e_), "John  Doe");
    NORM_OK(model_norm_name("José Núñez", &out_, &e_), "José Núñez");
    NORM_OK(model_norm_name("\xf0\x9f\x98\x80", &out_, &e_), "\xf0\x9f\x98\x80");
    NORM_BAD(model_norm_name("John\tDoe", &out_, &e_), "name", "contains control characters");
    NORM_BAD(model_norm_name("John\x01", &out_, &e_), "name", "contains control characters");
    NORM_BAD(model_norm_name("John\x7f", &out_, &e_), "name", "contains control characters");
    NORM_BAD(model_norm_name("John\xc2\x85x", &out_, &e_), "name", "contains control characters");
    NORM_BAD(model_norm_name("abc\xe2\x80\xae", &out_, &e_), "name", "contains control characters");
    NORM_BAD(model_norm_name("John\xff", &out_, &e_), "name", "not valid UTF-8");
    NORM_BAD(model_norm_name("\xc0\xafx", &out_, &e_), "name", "not valid UTF-8");
    NORM_BAD(model_norm_name("x\xed\xa0\x80", &out_, &e_), "name", "not valid UTF-8");
    NORM_BAD(model_norm_name("x\xe5\xbc", &out_, &e_), "name", "not valid UTF-8");
    NORM_BAD(model_norm_name("x\xf4\x90\x80\x80", &out_, &e_), "name", "not valid UTF-8");
    NORM_BAD(model_norm_name("  ", &out_, &e_), "name", "missing");
    memset(big, 'a', 200);
    big[200] = '\0';
    NORM_OK(model_norm_name(big, &out_, &e_), big);
    big[200] = 'a';
    big[201] = '\0';
    NORM_BAD(model_norm_name(big, &out_, &e_), "name", "too long (at most 200 bytes)");
}

static void test_norm_text(void **state)
{
    char big[600];

    (void)state;
    NORM_OK(model_norm_text("  ", &out_, &e_), "");
    NORM_OK(model_norm_text(" iPhone 15 Pro ", &out_, &e_), "iPhone 15 Pro");
    memset(big, 'a', 500);
    big[500] = '\0';
    NORM_OK(model_norm_text(big, &out_, &e_), big);
    big[500] = 'a';
    big[501] = '\0';
    NORM_BAD(model_norm_text(big, &out_, &e_), "text", "too long (at most 500 bytes)");
    NORM_BAD(model_norm_text("line\nbreak", &out_, &e_), "text", "contains control characters");
    NORM_BAD(model_norm_text("\xfe", &out_, &e_), "text", "not valid UTF-8");
}

static void test_norm_customer_id(void **state)
{
    char big[80];

    (void)state;
    NORM_OK(model_norm_customer_id(" C00012345 ", &out_, &e_), "C00012345");
    NORM_OK(model_norm_customer_id("acme_1.x-2", &out_, &e_), "acme_1.x-2");
    NORM_BAD(model_norm_customer_id("C 1", &out_, &e_), "customer_id",
             "must contain letters, digits, '_', '.' or '-' only");
    NORM_BAD(model_norm_customer_id("C1;", &out_, &e_), "customer_id",
             "must contain letters, digits, '_', '.' or '-' only");
    NORM_BAD(model_norm_customer_id("", &out_, &e_), "customer_id", "missing");
    memset(big, 'C', 64);
    big[64] = '\0';
    NORM_OK(model_norm_customer_id(big, &out_, &e_), big);
    big[64] = 'C';
    big[65] = '\0';
    NORM_BAD(model_norm_customer_id(big, &out_, &e_), "customer_id", "too long (at most 64)");
}

static void test_norm_ident(void **state)
{
    (void)state;
    NORM_OK(model_norm_ident(MODEL_ID_IMEI, "35-693803-564380-9", "86", &out_, &e_), IMEI_B);
    NORM_OK(model_norm_ident(MODEL_ID_SERIAL, "c02xl0gjjgh5", "86", &out_, &e_), "C02XL0GJJGH5");
    NORM_OK(model_norm_ident(MODEL_ID_PHONE, "138 1234 5678", "86", &out_, &e_), "+8613812345678");
    NORM_OK(model_norm_ident(MODEL_ID_PHONE, "020 7946 0958", "44", &out_, &e_), "+442079460958");
    NORM_OK(model_norm_ident(MODEL_ID_EMAIL, "A@B.CN", "86", &out_, &e_), "a@b.cn");
    NORM_OK(model_norm_ident(MODEL_ID_ACCOUNT, "A@B.CN", "86", &out_, &e_), "a@b.cn");
    NORM_BAD(model_norm_ident(MODEL_ID_ACCOUNT, "nope", "86", &out_, &e_), "account",
             "not an e-mail address");
    NORM_BAD(model_norm_ident((enum model_ident)0, "x", "86", &out_, &e_), "identifier",
             "unknown identifier kind");
    NORM_BAD(model_norm_ident((enum model_ident)99, "x", "86", &out_, &e_), "identifier",
             "unknown identifier kind");
}

/* Error reasons are static text: never the input value. */
static void test_reasons_never_echo_input(void **state)
{
    static const char *const bad[] = {"490154203237519",      "13812345",   "+99912345678",
                                      "jane@doe@example.com", "2023-02-29", "John\x01"};
    struct model_error e = {NULL, NULL};
    char *out = NULL;
    size_t i;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(bad); i++) {
        assert_int_equal(model_norm_imei(bad[i], &out, &e), CU_ERR_INVALID);
        assert_null(strstr(e.reason, bad[i]));
        assert_int_equal(model_norm_phone(bad[i], "86", &out, &e), CU_ERR_INVALID);
        assert_null(strstr(e.reason, bad[i]));
        assert_int_equal(model_norm_date(bad[i], &out, &e), CU_ERR_INVALID);
        assert_null(strstr(e.reason, bad[i]));
    }
    assert_null(out);
}

/* ---- whole record ---- */

static void test_customer_normalise(void **state)
{
    struct model_customer c;
    struct model_error e = {NULL, NULL};
    int bad = 99;

    (void)state;
    fill_customer(&c);
    free(c.address);
    c.address = strdup("   ");
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_OK);
    assert_int_equal(bad, -1);
    assert_string_equal(c.customer_id, "C00012345");
    assert_string_equal(c.account, "zhang.san@icloud.com");
    assert_string_equal(c.name, "张三丰");
    assert_int_equal(c.nphones, 2); /* the duplicate is dropped */
    assert_string_equal(c.phones[0], "+8613812345678");
    assert_string_equal(c.phones[1], "+442079460958");
    assert_null(c.phones[2]);
    assert_string_equal(c.email, "zs@example.com");
    assert_null(c.address); /* blank is absent */
    assert_string_equal(c.birth_date, "1990-05-17");
    assert_int_equal(c.ndevices, 2);
    assert_string_equal(c.devices[0].imei, IMEI_A);
    assert_string_equal(c.devices[0].serial, "C02XL0GJJGH5");
    assert_string_equal(c.devices[0].model, "iPhone 15 Pro");
    assert_string_equal(c.devices[0].purchase_date, "2024-02-29");
    assert_string_equal(c.devices[0].store, "R320");
    assert_string_equal(c.devices[1].imei, IMEI_B);
    assert_null(c.devices[1].serial);
    /* normalising a normalised record changes nothing */
    assert_int_equal(model_customer_normalise(&c, "44", &e, &bad), CU_OK);
    assert_string_equal(c.phones[0], "+8613812345678");
    assert_int_equal(c.nphones, 2);
    model_customer_release(&c);
    assert_null(c.name);
    assert_null(c.devices);
    assert_int_equal(c.ndevices, 0);
}

static void test_customer_normalise_bad_device(void **state)
{
    struct model_customer c;
    struct model_error e = {NULL, NULL};
    int bad = 99;

    (void)state;
    fill_customer(&c);
    free(c.devices[1].imei);
    c.devices[1].imei = strdup("356938035643808");
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "imei");
    assert_string_equal(e.reason, "check digit does not match");
    assert_int_equal(bad, 1);
    model_customer_release(&c);

    fill_customer(&c);
    free(c.devices[0].serial);
    c.devices[0].serial = strdup("C0-2");
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "serial");
    assert_int_equal(bad, 0);
    model_customer_release(&c);

    fill_customer(&c);
    free(c.devices[0].purchase_date);
    c.devices[0].purchase_date = strdup("2023-02-29");
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "purchase_date");
    assert_int_equal(bad, 0);
    model_customer_release(&c);

    fill_customer(&c);
    free(c.devices[1].imei);
    c.devices[1].imei = NULL;
    c.devices[1].model = strdup("iPad");
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "imei");
    assert_string_equal(e.reason, "missing");
    assert_int_equal(bad, 1);
    model_customer_release(&c);

    fill_customer(&c);
    free(c.devices[1].imei);
    c.devices[1].imei = strdup("49 015420 323751 8"); /* device 0 again */
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "imei");
    assert_string_equal(e.reason, "device listed twice");
    assert_int_equal(bad, 1);
    model_customer_release(&c);

    /* bad_device may be NULL */
    fill_customer(&c);
    free(c.devices[0].store);
    c.devices[0].store = strdup("R\x01");
    assert_int_equal(model_customer_normalise(&c, "86", &e, NULL), CU_ERR_INVALID);
    assert_string_equal(e.field, "store");
    model_customer_release(&c);
}

static void test_customer_normalise_required(void **state)
{
    struct model_customer c;
    struct model_error e = {NULL, NULL};
    int bad = 99;
    size_t i;

    (void)state;
    fill_customer(&c);
    free(c.name);
    c.name = NULL;
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "name");
    assert_string_equal(e.reason, "missing");
    assert_int_equal(bad, -1);
    model_customer_release(&c);

    fill_customer(&c);
    free(c.customer_id);
    c.customer_id = strdup(" ");
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "customer_id");
    assert_string_equal(e.reason, "missing");
    model_customer_release(&c);

    /* no phone, e-mail or account */
    fill_customer(&c);
    for (i = 0; i < c.nphones; i++) {
        free(c.phones[i]);
        c.phones[i] = NULL;
    }
    c.nphones = 0;
    free(c.email);
    c.email = NULL;
    free(c.account);
    c.account = strdup("");
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "phone");
    assert_non_null(strstr(e.reason, "missing"));
    /* one e-mail is enough */
    c.email = strdup("a@b.cn");
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_OK);
    assert_null(c.account);
    model_customer_release(&c);

    /* blank phones are dropped; a bad one names the phone field */
    fill_customer(&c);
    free(c.phones[1]);
    c.phones[1] = strdup("  ");
    free(c.phones[2]);
    c.phones[2] = strdup("+86 138 1234 567");
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "phone");
    assert_string_equal(e.reason, "Chinese mobile numbers have 11 digits");
    assert_int_equal(c.nphones, 2); /* the list stays dense */
    assert_non_null(c.phones[0]);
    assert_non_null(c.phones[1]);
    model_customer_release(&c);

    fill_customer(&c);
    free(c.birth_date);
    c.birth_date = strdup("1990-02-30");
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "birth_date");
    model_customer_release(&c);

    fill_customer(&c);
    free(c.email);
    c.email = strdup("no-at-sign");
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "email");
    model_customer_release(&c);

    fill_customer(&c);
    while (c.ndevices <= MODEL_MAX_DEVICES)
        model_customer_add_device(&c)->imei = strdup(IMEI_B);
    assert_int_equal(model_customer_normalise(&c, "86", &e, &bad), CU_ERR_INVALID);
    assert_string_equal(e.field, "devices");
    model_customer_release(&c);
}

/* ---- masking ---- */

static void test_mask_name(void **state)
{
    (void)state;
    check_mask(model_mask_name, "张三丰", "张**");
    check_mask(model_mask_name, "欧阳娜娜", "欧***");
    check_mask(model_mask_name, "John Doe", "J*** D**");
    check_mask(model_mask_name, "Jean-Luc Picard", "J******* P*****");
    check_mask(model_mask_name, "José Núñez", "J*** N****");
    check_mask(model_mask_name, "John A Smith", "J*** A S****");
    check_mask(model_mask_name, "张三", "张*");
    /* one character only: never shown whole */
    check_mask(model_mask_name, "张", "*");
    check_mask(model_mask_name, "A B", "* *");
    check_mask(model_mask_name, "", "");
    assert_null(model_mask_name(NULL));
}

static void test_mask_phone(void **state)
{
    (void)state;
    check_mask(model_mask_phone, "+8613812345678", "+86 138****5678");
    check_mask(model_mask_phone, "+861012345678", "+86 101***5678");
    check_mask(model_mask_phone, "+14155552671", "+1 415***2671");
    check_mask(model_mask_phone, "+442079460958", "+44 207***0958");
    check_mask(model_mask_phone, "+85291234567", "+852 9***4567");
    check_mask(model_mask_phone, "+3541234567", "+354 ***4567");
    check_mask(model_mask_phone, "+88612345678", "+886 1***5678");
    /* not E.164: only the end is shown */
    check_mask(model_mask_phone, "13812345678", "*******5678");
    check_mask(model_mask_phone, "+99912345678", "********5678");
    check_mask(model_mask_phone, "+86", "***");
    assert_null(model_mask_phone(NULL));
}

static void test_mask_email(void **state)
{
    (void)state;
    check_mask(model_mask_email, "jane.doe@example.com", "j***@example.com");
    check_mask(model_mask_email, "jd@example.com", "j***@example.com");
    check_mask(model_mask_email, "张三@example.com", "张***@example.com");
    /* a one-character local part is hidden entirely */
    check_mask(model_mask_email, "j@example.com", "***@example.com");
    check_mask(model_mask_email, "no-at-sign", "***");
    assert_null(model_mask_email(NULL));
}

static void test_mask_address(void **state)
{
    (void)state;
    check_mask(model_mask_address, "广东省深圳市南山区科技园路1号", "深圳市***");
    check_mask(model_mask_address, "北京市朝阳区建国路88号", "北京市***");
    check_mask(model_mask_address, "上海市浦东新区世纪大道100号", "上海市***");
    check_mask(model_mask_address, "新疆维吾尔自治区乌鲁木齐市天山区", "乌鲁木齐市***");
    check_mask(model_mask_address, "浙江省 杭州市西湖区", "杭州市***");
    check_mask(model_mask_address, "12 Baker Street, London, United Kingdom", "***, London");
    check_mask(model_mask_address, "12 Baker Street, London", "***, London");
    check_mask(model_mask_address, "221B Baker Street, London NW1 6XE, United Kingdom",
               "***, London");
    check_mask(model_mask_address, "1 Infinite Loop, Cupertino, CA 95014, USA", "***, CA");
    check_mask(model_mask_address, "1 Rue de Rivoli, , Paris, France,", "***, Paris");
    /* no comma and no 市: nothing is shown */
    check_mask(model_mask_address, "12 Baker Street London", "***");
    check_mask(model_mask_address, "广东省某某县某某镇", "***");
    check_mask(model_mask_address, "Flat 2, 10001", "***");
    /* only 市, or far too much before it */
    check_mask(model_mask_address, "市", "***");
    check_mask(model_mask_address, "南山区科技园路一号大院东门对面的超市", "***");
    /* the first 市 is a word's (城市, 超市), after a street and a number */
    check_mask(model_mask_address, "人民路5号城市花园3栋2单元", "***");
    check_mask(model_mask_address, "中山北路88号超市楼上302室", "***");
    check_mask(model_mask_address, "中山北路超市楼上", "***");
    check_mask(model_mask_address, "朝阳区城市花园", "***");
    check_mask(model_mask_address, "江苏省苏州市昆山市玉山镇", "苏州市***");
    check_mask(model_mask_address, "", "***");
    assert_null(model_mask_address(NULL));
}

static void test_mask_tail4_date(void **state)
{
    (void)state;
    check_mask(model_mask_tail4, "356938035643809", "***********3809");
    check_mask(model_mask_tail4, "C02XL0GJJGH5", "********JGH5");
    check_mask(model_mask_tail4, "ABCDEFGH", "****EFGH");
    check_mask(model_mask_tail4, "ABCDEF", "****EF");
    check_mask(model_mask_tail4, "ABC", "***");
    check_mask(model_mask_tail4, "", "");
    assert_null(model_mask_tail4(NULL));
    check_mask(model_mask_date, "1990-05-17", "****-**-**");
    assert_null(model_mask_date(NULL));
}

/* ---- phones join/split ---- */

static void test_phones_join_split(void **state)
{
    struct model_customer c;
    char *s;
    size_t i;

    (void)state;
    model_customer_init(&c);
    s = model_phones_join(&c);
    assert_string_equal(s, "");
    free(s);

    assert_int_equal(model_phones_split(&c, "+8613812345678; +442079460958 ;;  ;"), CU_OK);
    assert_int_equal(c.nphones, 2);
    assert_string_equal(c.phones[0], "+8613812345678");
    assert_string_equal(c.phones[1], "+442079460958");
    s = model_phones_join(&c);
    assert_string_equal(s, "+8613812345678;+442079460958");
    free(s);

    /* appends */
    assert_int_equal(model_phones_split(&c, "+14155552671"), CU_OK);
    assert_int_equal(c.nphones, 3);
    assert_string_equal(c.phones[2], "+14155552671");
    assert_int_equal(model_phones_split(&c, ""), CU_OK);
    assert_int_equal(model_phones_split(&c, NULL), CU_OK);
    assert_int_equal(c.nphones, 3);

    /* too many: nothing changes */
    assert_int_equal(model_phones_split(&c, "1;2;3;4;5;6"), CU_ERR_INVALID);
    assert_int_equal(c.nphones, 3);
    assert_int_equal(model_phones_split(&c, "1;2;3;4;5"), CU_OK);
    assert_int_equal(c.nphones, MODEL_MAX_PHONES);
    for (i = 3; i < MODEL_MAX_PHONES; i++)
        assert_non_null(c.phones[i]);
    assert_int_equal(model_phones_split(&c, "9"), CU_ERR_INVALID);
    model_customer_release(&c);
    assert_int_equal(c.nphones, 0);
}

/* ---- device list encoding ---- */

static void assert_same_devices(const struct model_customer *a, const struct model_customer *b)
{
    size_t i;

    assert_int_equal(a->ndevices, b->ndevices);
    for (i = 0; i < a->ndevices; i++) {
        const struct model_device *x = &a->devices[i], *y = &b->devices[i];
        const char *xs[5] = {x->imei, x->serial, x->model, x->purchase_date, x->store};
        const char *ys[5] = {y->imei, y->serial, y->model, y->purchase_date, y->store};
        int f;

        for (f = 0; f < 5; f++) {
            if (xs[f] == NULL)
                assert_null(ys[f]);
            else
                assert_string_equal(xs[f], ys[f]);
        }
    }
}

static void test_devices_roundtrip(void **state)
{
    struct model_customer c, d;
    struct model_device *dev;
    struct buf b = BUF_INIT;
    char big[400];

    (void)state;
    fill_customer(&c);
    dev = model_customer_add_device(&c);
    dev->imei = strdup(IMEI_A);
    memset(big, 'm', sizeof(big) - 1); /* a length needing a two-byte varint */
    big[sizeof(big) - 1] = '\0';
    dev->model = strdup(big);
    dev->store = strdup("上海南京东路");
    model_devices_encode(&c, &b);
    model_customer_init(&d);
    assert_int_equal(model_devices_decode(&d, b.data, b.len), CU_OK);
    assert_same_devices(&c, &d);
    /* decode appends */
    assert_int_equal(model_devices_decode(&d, b.data, b.len), CU_OK);
    assert_int_equal(d.ndevices, 6);
    assert_string_equal(d.devices[5].store, "上海南京东路");
    model_customer_release(&d);
    buf_release(&b);

    /* no devices at all */
    model_customer_release(&c);
    model_devices_encode(&c, &b);
    assert_int_equal(b.len, 2);
    assert_int_equal(model_devices_decode(&c, b.data, b.len), CU_OK);
    assert_int_equal(c.ndevices, 0);
    buf_release(&b);
}

static void test_devices_exact_bytes(void **state)
{
    static const char want[] = "\x01\x01\x0f" IMEI_B "\x00\x00\x00\x04R320";
    struct model_customer c;
    struct buf b = BUF_INIT;

    (void)state;
    model_customer_init(&c);
    model_customer_add_device(&c)->imei = strdup(IMEI_B);
    c.devices[0].store = strdup("R320");
    model_devices_encode(&c, &b);
    assert_int_equal(b.len, sizeof(want) - 1);
    assert_memory_equal(b.data, want, sizeof(want) - 1);
    model_customer_release(&c);
    buf_release(&b);
}

static void test_devices_decode_malformed(void **state)
{
    static const char *const bad[] = {
        "",             /* empty */
        "\x01",         /* no count */
        "\x02\x00",     /* unknown version */
        "\x01\x00\x00", /* trailing byte */
        "\x01\x21",     /* 33 devices */
        "\x01\x01\x09"
        "abc\x00\x00\x00\x00", /* length past the end */
        "\x01\x01\x03"
        "a\x00"
        "b\x00\x00\x00\x00",                /* NUL inside a string */
        "\x01\x81\x00",                     /* padded varint */
        "\x01\x01\xff\xff\xff\xff\x0f",     /* huge length */
        "\x01\x01\xff\xff\xff\xff\xff\x01", /* varint too long */
        "\x01\x02\x00\x00\x00\x00\x00",     /* second device missing */
    };
    static const size_t lens[] = {0, 1, 2, 3, 2, 10, 10, 3, 7, 8, 7};
    struct model_customer c;
    struct buf b = BUF_INIT;
    size_t i, n;

    (void)state;
    model_customer_init(&c);
    for (i = 0; i < CU_ARRAY_LEN(bad); i++)
        assert_int_equal(model_devices_decode(&c, bad[i], lens[i]), CU_ERR_INVALID);
    assert_int_equal(model_devices_decode(&c, NULL, 0), CU_ERR_INVALID);
    assert_int_equal(c.ndevices, 0);
    model_customer_release(&c);

    /* every truncation of a valid buffer is rejected, leaving the record as it was */
    fill_customer(&c);
    model_devices_encode(&c, &b);
    for (n = 0; n < b.len; n++) {
        assert_int_equal(model_devices_decode(&c, b.data, n), CU_ERR_INVALID);
        assert_int_equal(c.ndevices, 2);
    }
    /* would go past MODEL_MAX_DEVICES */
    while (c.ndevices < MODEL_MAX_DEVICES - 1)
        model_customer_add_device(&c);
    assert_int_equal(model_devices_decode(&c, b.data, b.len), CU_ERR_INVALID);
    assert_int_equal(c.ndevices, MODEL_MAX_DEVICES - 1);
    model_customer_release(&c);
    buf_release(&b);
}

/* Random corruption never crashes or leaks (run under the sanitizers). */
static void test_devices_decode_garbled(void **state)
{
    struct model_customer c, d;
    struct buf b = BUF_INIT;
    uint64_t x = 0x9e3779b97f4a7c15u;
    size_t round, k, ok = 0;
    char *copy;

    (void)state;
    fill_customer(&c);
    model_devices_encode(&c, &b);
    copy = malloc(b.len);
    for (round = 0; round < 20000; round++) {
        memcpy(copy, b.data, b.len);
        for (k = 0; k < 1 + round % 4; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            copy[x % b.len] = (char)(x >> 32);
        }
        model_customer_init(&d);
        if (model_devices_decode(&d, copy, (size_t)(x >> 40) % (b.len + 1)) == CU_OK) {
            ok++;
            assert_true(d.ndevices <= MODEL_MAX_DEVICES);
        } else {
            assert_int_equal(d.ndevices, 0);
        }
        model_customer_release(&d);
    }
    assert_true(ok < 20000);
    free(copy);
    model_customer_release(&c);
    buf_release(&b);
}

/* ---- CSV ---- */

static void test_csv(void **state)
{
    struct model_customer c;
    struct model_device *d;
    struct buf b = BUF_INIT;

    (void)state;
    model_csv_header(&b);
    assert_string_equal(b.data, "customer_id,account,name,phone,email,address,birth_date,imei,"
                                "serial,model,purchase_date,store\r\n");
    buf_reset(&b);

    model_customer_init(&c);
    c.customer_id = strdup("C1");
    c.name = strdup("Doe, \"Jim\"");
    c.phones[c.nphones++] = strdup("+8613812345678");
    c.phones[c.nphones++] = strdup("+442079460958");
    c.address = strdup("line 1\nline 2");
    model_csv_write(&c, &b);
    assert_string_equal(b.data, "C1,,\"Doe, \"\"Jim\"\"\",+8613812345678;+442079460958,,"
                                "\"line 1\nline 2\",,,,,,\r\n");
    buf_reset(&b);

    d = model_customer_add_device(&c);
    d->imei = strdup(IMEI_A);
    d->model = strdup("iPhone 15");
    d = model_customer_add_device(&c);
    d->imei = strdup(IMEI_B);
    d->store = strdup("R\r1");
    model_csv_write(&c, &b);
    assert_string_equal(b.data, "C1,,\"Doe, \"\"Jim\"\"\",+8613812345678;+442079460958,,"
                                "\"line 1\nline 2\",," IMEI_A ",,iPhone 15,,\r\n"
                                "C1,,\"Doe, \"\"Jim\"\"\",+8613812345678;+442079460958,,"
                                "\"line 1\nline 2\",," IMEI_B ",,,,\"R\r1\"\r\n");
    model_customer_release(&c);
    buf_release(&b);
}

/* ---- JSON Lines ---- */

static void assert_same_customer(const struct model_customer *a, const struct model_customer *b)
{
    const char *as[] = {a->customer_id, a->account, a->name, a->email, a->address, a->birth_date};
    const char *bs[] = {b->customer_id, b->account, b->name, b->email, b->address, b->birth_date};
    size_t i;

    for (i = 0; i < CU_ARRAY_LEN(as); i++) {
        if (as[i] == NULL)
            assert_null(bs[i]);
        else
            assert_string_equal(as[i], bs[i]);
    }
    assert_int_equal(a->nphones, b->nphones);
    for (i = 0; i < a->nphones; i++)
        assert_string_equal(a->phones[i], b->phones[i]);
    assert_same_devices(a, b);
}

static void test_jsonl_roundtrip(void **state)
{
    struct model_customer c, r;
    struct model_error e = {NULL, NULL};
    struct buf b = BUF_INIT;

    (void)state;
    fill_customer(&c);
    free(c.address);
    c.address = strdup("Line \"1\", \\ 2\n\t张");
    model_jsonl_write(&c, &b);
    assert_int_equal(b.data[b.len - 1], '\n');
    assert_null(memchr(b.data, '\n', b.len - 1)); /* one line */
    model_customer_init(&r);
    assert_int_equal(model_jsonl_read(b.data, b.len, &r, &e), CU_OK);
    assert_same_customer(&c, &r);
    model_customer_release(&r);
    model_customer_release(&c);
    buf_release(&b);
}

static void test_jsonl_write_exact(void **state)
{
    struct model_customer c;
    struct buf b = BUF_INIT;

    (void)state;
    model_customer_init(&c);
    c.customer_id = strdup("C1");
    c.name = strdup("张三");
    c.phones[c.nphones++] = strdup("+8613812345678");
    model_customer_add_device(&c)->imei = strdup(IMEI_B);
    buf_addstr(&b, "x");
    model_jsonl_write(&c, &b);
    assert_string_equal(b.data, "x{\"customer_id\":\"C1\",\"name\":\"张三\","
                                "\"phone\":[\"+8613812345678\"],"
                                "\"devices\":[{\"imei\":\"" IMEI_B "\"}]}\n");
    model_customer_release(&c);
    buf_release(&b);
}

static void test_jsonl_read_forms(void **state)
{
    static const char line[] =
        "{\"customer_id\":\"C9\",\"name\":\"Jane\",\"phone\":\"+8613812345678; 13912345678\","
        "\"email\":null,\"address\":null,\"extra\":{\"a\":[1,2]},"
        "\"devices\":[{\"imei\":\"" IMEI_A "\",\"serial\":null,\"unknown\":1},{}]}\r\n";
    struct model_customer c;
    struct model_error e = {NULL, NULL};

    (void)state;
    model_customer_init(&c);
    assert_int_equal(model_jsonl_read(line, strlen(line), &c, &e), CU_OK);
    assert_string_equal(c.customer_id, "C9");
    assert_int_equal(c.nphones, 2);
    assert_string_equal(c.phones[1], "13912345678");
    assert_null(c.email);
    assert_null(c.address);
    assert_int_equal(c.ndevices, 2);
    assert_string_equal(c.devices[0].imei, IMEI_A);
    assert_null(c.devices[0].serial);
    assert_null(c.devices[1].imei);
    model_customer_release(&c);

    /* not NUL-terminated: only `len` bytes are read */
    assert_int_equal(model_jsonl_read("{\"name\":\"A\"}garbage", 12, &c, &e), CU_OK);
    assert_string_equal(c.name, "A");
    model_customer_release(&c);
}

/* Reads `line`, expecting failure naming `field`, and an empty record after. */
static void jsonl_bad(const char *line, const char *field)
{
    struct model_customer c;
    struct model_error e = {NULL, NULL};

    model_customer_init(&c);
    assert_int_equal(model_jsonl_read(line, strlen(line), &c, &e), CU_ERR_INVALID);
    assert_non_null(e.field);
    assert_string_equal(e.field, field);
    assert_non_null(e.reason);
    assert_null(c.customer_id);
    assert_null(c.name);
    assert_int_equal(c.nphones, 0);
    assert_int_equal(c.ndevices, 0);
    model_customer_release(&c);
}

static void test_jsonl_errors(void **state)
{
    (void)state;
    jsonl_bad("not json", "json");
    jsonl_bad("", "json");
    jsonl_bad("{\"name\":\"A\"", "json");
    jsonl_bad("{\"name\":\"A\"} {}", "json");
    jsonl_bad("[1,2]", "json");
    jsonl_bad("{\"name\":\"A\",\"name\":\"B\"}", "json");
    jsonl_bad("{\"name\":\"a\\u0000b\"}", "json");
    jsonl_bad("{\"name\":\"\xff\"}", "json");
    jsonl_bad("{\"name\":\"A\",\"phone\":13812345678}", "phone");
    jsonl_bad("{\"name\":\"A\",\"phone\":[\"+8613812345678\",1]}", "phone");
    jsonl_bad("{\"name\":\"A\",\"phone\":\"1;2;3;4;5;6;7;8;9\"}", "phone");
    jsonl_bad("{\"name\":\"A\",\"phone\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}",
              "phone");
    jsonl_bad("{\"name\":\"A\",\"devices\":\"" IMEI_A "\"}", "devices");
    jsonl_bad("{\"name\":\"A\",\"devices\":{\"imei\":\"" IMEI_A "\"}}", "devices");
    jsonl_bad("{\"name\":\"A\",\"devices\":[1]}", "devices");
    jsonl_bad("{\"name\":\"A\",\"devices\":[{\"imei\":356938035643809}]}", "imei");
    jsonl_bad("{\"name\":\"A\",\"devices\":[{\"imei\":\"1\",\"store\":true}]}", "store");
    jsonl_bad("{\"customer_id\":\"C1\",\"name\":42}", "name");
    jsonl_bad("{\"customer_id\":12345}", "customer_id");
    jsonl_bad("{\"birth_date\":[\"1990-01-01\"]}", "birth_date");
}

static void test_jsonl_too_many_devices(void **state)
{
    struct buf b = BUF_INIT;
    int i;

    (void)state;
    buf_addstr(&b, "{\"name\":\"A\",\"devices\":[");
    for (i = 0; i <= MODEL_MAX_DEVICES; i++)
        buf_addstr(&b, i ? ",{}" : "{}");
    buf_addstr(&b, "]}");
    jsonl_bad(b.data, "devices");
    buf_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_ident_names),
        cmocka_unit_test(test_luhn),
        cmocka_unit_test(test_norm_imei),
        cmocka_unit_test(test_cc_table),
        cmocka_unit_test(test_norm_phone_ok),
        cmocka_unit_test(test_norm_phone_bad),
        cmocka_unit_test(test_norm_email),
        cmocka_unit_test(test_norm_email_lengths),
        cmocka_unit_test(test_norm_serial),
        cmocka_unit_test(test_norm_date),
        cmocka_unit_test(test_norm_name),
        cmocka_unit_test(test_norm_text),
        cmocka_unit_test(test_norm_customer_id),
        cmocka_unit_test(test_norm_ident),
        cmocka_unit_test(test_reasons_never_echo_input),
        cmocka_unit_test(test_customer_normalise),
        cmocka_unit_test(test_customer_normalise_bad_device),
        cmocka_unit_test(test_customer_normalise_required),
        cmocka_unit_test(test_mask_name),
        cmocka_unit_test(test_mask_phone),
        cmocka_unit_test(test_mask_email),
        cmocka_unit_test(test_mask_address),
        cmocka_unit_test(test_mask_tail4_date),
        cmocka_unit_test(test_phones_join_split),
        cmocka_unit_test(test_devices_roundtrip),
        cmocka_unit_test(test_devices_exact_bytes),
        cmocka_unit_test(test_devices_decode_malformed),
        cmocka_unit_test(test_devices_decode_garbled),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_jsonl_roundtrip),
        cmocka_unit_test(test_jsonl_write_exact),
        cmocka_unit_test(test_jsonl_read_forms),
        cmocka_unit_test(test_jsonl_errors),
        cmocka_unit_test(test_jsonl_too_many_devices),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
