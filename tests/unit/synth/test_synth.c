/*
 * Unit tests of the synthetic customer generator: determinism and random
 * access, the shape of every field (checked with the test's own rules, not
 * the generator's), that generated records are already normalised, and the
 * statistics of a 20,000-customer run (share of +86 phones, devices per
 * customer, unique customer ids and IMEIs).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth/synth.h"

#define BULK_N    20000
#define BULK_SEED 20170601ULL

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static bool str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* True when every field of the two records is equal. */
static bool customer_eq(const struct model_customer *a, const struct model_customer *b)
{
    size_t i;

    if (!str_eq(a->customer_id, b->customer_id) || !str_eq(a->account, b->account) ||
        !str_eq(a->name, b->name) || !str_eq(a->email, b->email) ||
        !str_eq(a->address, b->address) || !str_eq(a->birth_date, b->birth_date) ||
        a->nphones != b->nphones || a->ndevices != b->ndevices)
        return false;
    for (i = 0; i < a->nphones; i++)
        if (!str_eq(a->phones[i], b->phones[i]))
            return false;
    for (i = 0; i < a->ndevices; i++) {
        const struct model_device *x = &a->devices[i], *y = &b->devices[i];

        if (!str_eq(x->imei, y->imei) || !str_eq(x->serial, y->serial) ||
            !str_eq(x->model, y->model) || !str_eq(x->purchase_date, y->purchase_date) ||
            !str_eq(x->store, y->store))
            return false;
    }
    return true;
}

static void gen(uint64_t seed, uint64_t index, struct model_customer *c)
{
    model_customer_init(c);
    synth_customer(seed, index, c);
}

/* The test's own Luhn check of a 15-digit IMEI. */
static bool imei_ok(const char *s)
{
    unsigned sum = 0;
    size_t i;

    if (s == NULL || strlen(s) != 15)
        return false;
    for (i = 0; i < 15; i++) {
        unsigned v;

        if (s[i] < '0' || s[i] > '9')
            return false;
        v = (unsigned)(s[i] - '0');
        if (i % 2 == 1) { /* every second digit from the left = from the right of the body */
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static bool all_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return s[n] == '\0';
}

/* A real Chinese operator prefix (the test's own list). */
static bool cn_prefix_ok(const char *p3)
{
    static const char *const ok[] = {
        "134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158",
        "159", "172", "178", "182", "183", "184", "187", "188", "195", "197", "198", "130",
        "131", "132", "145", "155", "156", "166", "175", "176", "185", "186", "196", "133",
        "149", "153", "173", "177", "180", "181", "189", "190", "191", "193", "199",
    };
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strncmp(p3, ok[i], 3) == 0)
            return true;
    return false;
}

/* E.164 mobile number of one of the supported countries, with a right length. */
static bool phone_ok(const char *p)
{
    size_t n = strlen(p);

    if (strncmp(p, "+86", 3) == 0)
        return n == 14 && cn_prefix_ok(p + 3) && all_digits(p + 3, 11);
    if (strncmp(p, "+852", 4) == 0)
        return n == 12 && strchr("569", p[4]) != NULL && all_digits(p + 4, 8);
    if (strncmp(p, "+886", 4) == 0)
        return n == 13 && p[4] == '9' && all_digits(p + 4, 9);
    if (strncmp(p, "+81", 3) == 0)
        return n == 13 && strchr("789", p[3]) != NULL && p[4] == '0' && all_digits(p + 3, 10);
    if (strncmp(p, "+82", 3) == 0)
        return n == 13 && strncmp(p + 3, "10", 2) == 0 && all_digits(p + 3, 10);
    if (strncmp(p, "+65", 3) == 0)
        return n == 11 && (p[3] == '8' || p[3] == '9') && all_digits(p + 3, 8);
    if (strncmp(p, "+1", 2) == 0)
        return n == 12 && p[2] >= '2' && p[5] >= '2' && all_digits(p + 2, 10);
    if (strncmp(p, "+44", 3) == 0)
        return n == 13 && p[3] == '7' && all_digits(p + 3, 10);
    if (strncmp(p, "+49", 3) == 0)
        return (n == 13 || n == 14) && p[3] == '1' && strchr("567", p[4]) != NULL &&
               all_digits(p + 3, n - 3);
    return false;
}

/* A lower-case address with one '@', a local part and a dotted domain. */
static bool email_ok(const char *e)
{
    const char *at = strchr(e, '@');
    const char *p;

    if (at == NULL || at == e || strchr(at + 1, '@') != NULL || strchr(at, '.') == NULL)
        return false;
    for (p = e; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
              *p == '-' || *p == '@'))
            return false;
    return true;
}

/* YYYY-MM-DD within [lo, hi] (string comparison works for this form). */
static bool date_in(const char *d, const char *lo, const char *hi)
{
    return d != NULL && strlen(d) == 10 && d[4] == '-' && d[7] == '-' && strcmp(d, lo) >= 0 &&
           strcmp(d, hi) <= 0;
}

static bool serial_ok(const char *s)
{
    static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    size_t i;

    if (s == NULL || strlen(s) != 12 || strchr("FGCD", s[0]) == NULL)
        return false;
    for (i = 0; i < 12; i++)
        if (strchr(alphabet, s[i]) == NULL)
            return false;
    return true;
}

/* "SZ-014" style or "ONLINE". */
static bool store_ok(const char *s)
{
    if (str_eq(s, "ONLINE"))
        return true;
    return s != NULL && strlen(s) == 6 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' &&
           s[1] <= 'Z' && s[2] == '-' && all_digits(s + 3, 3) && strcmp(s + 3, "000") != 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                    */
/* ------------------------------------------------------------------------ */

/* splitmix64 from state 0: the published first outputs. */
static void test_rand_known_answers(void **state)
{
    uint64_t s = 0;

    (void)state;
    assert_true(synth_rand(&s) == 0xE220A8397B1DCDAFULL);
    assert_true(synth_rand(&s) == 0x6E789E6AA1B965F4ULL);
    assert_true(synth_rand(&s) == 0x06C45D188009454FULL);
}

static void test_same_seed_same_record(void **state)
{
    struct model_customer a, b;
    uint64_t i;

    (void)state;
    for (i = 0; i < 200; i++) {
        gen(42, i * 7919, &a);
        gen(42, i * 7919, &b);
        assert_true(customer_eq(&a, &b));
        model_customer_release(&a);
        model_customer_release(&b);
    }
}

static void test_other_seed_other_record(void **state)
{
    struct model_customer a, b;
    uint64_t i;
    int same_name = 0;

    (void)state;
    for (i = 0; i < 200; i++) {
        gen(1, i, &a);
        gen(2, i, &b);
        assert_string_equal(a.customer_id, b.customer_id);
        assert_false(customer_eq(&a, &b));
        assert_string_not_equal(a.phones[0], b.phones[0]);
        assert_string_not_equal(a.devices[0].imei, b.devices[0].imei);
        same_name += str_eq(a.name, b.name);
        model_customer_release(&a);
        model_customer_release(&b);
    }
    assert_true(same_name < 20); /* common names may repeat, not the stream */
}

/* Record 5 alone equals the 6th of a sequential run, in any order. */
static void test_random_access(void **state)
{
    struct model_customer seq[10], alone;
    uint64_t i;

    (void)state;
    for (i = 0; i < 10; i++)
        gen(777, i, &seq[i]);
    gen(777, 5, &alone);
    assert_true(customer_eq(&alone, &seq[5]));
    assert_false(customer_eq(&alone, &seq[4]));
    model_customer_release(&alone);
    for (i = 10; i-- > 0;) { /* backwards */
        gen(777, i, &alone);
        assert_true(customer_eq(&alone, &seq[i]));
        model_customer_release(&alone);
    }
    for (i = 0; i < 10; i++)
        model_customer_release(&seq[i]);
}

static void test_customer_ids(void **state)
{
    static const struct {
        uint64_t index;
        const char *id;
    } cases[] = {
        {0, "C00000001"},
        {12344, "C00012345"},
        {99999998, "C99999999"},
        {99999999, "C100000000"},
    };
    struct model_customer c;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        gen(9, cases[i].index, &c);
        assert_string_equal(c.customer_id, cases[i].id);
        model_customer_release(&c);
    }
}

/* The test's Luhn helper agrees with a published valid IMEI. */
static void test_luhn_helper(void **state)
{
    (void)state;
    assert_true(imei_ok("490154203237518"));
    assert_false(imei_ok("490154203237519"));
    assert_false(imei_ok("49015420323751"));
}

/* Counts over the bulk run. */
struct bulk_stats {
    size_t cn_phones, phones, two_phones, no_birth;
    size_t ndev[4];
    size_t cn_names, intl_names, same_account, icloud_account;
    size_t devices;
};

/* Checks one record's fields with the rules above. */
static void check_fields(const struct model_customer *c, struct bulk_stats *st)
{
    size_t i;
    bool cn = strncmp(c->phones[0], "+86", 3) == 0;

    assert_non_null(c->name);
    assert_true(c->nphones == 1 || c->nphones == 2);
    st->two_phones += c->nphones == 2;
    for (i = 0; i < c->nphones; i++) {
        if (!phone_ok(c->phones[i]))
            fail_msg("bad phone in %s", c->customer_id);
        st->phones++;
        st->cn_phones += strncmp(c->phones[i], "+86", 3) == 0;
    }
    if (cn) {
        /* Chinese: 2-4 CJK characters (3 bytes each); address city and 号. */
        size_t n = strlen(c->name);

        assert_true(n >= 6 && n <= 12 && n % 3 == 0);
        assert_true((unsigned char)c->name[0] >= 0xE4);
        assert_non_null(strstr(c->address, "市"));
        assert_non_null(strstr(c->address, "号"));
        st->cn_names++;
    } else {
        /* Latin script "First Last"; "street, city[, country]". */
        assert_non_null(strchr(c->name, ' '));
        assert_true((unsigned char)c->name[0] >= 'A' && (unsigned char)c->name[0] <= 'Z');
        assert_non_null(strchr(c->address, ','));
        st->intl_names++;
    }
    if (!email_ok(c->email) || !email_ok(c->account))
        fail_msg("bad e-mail or account in %s", c->customer_id);
    st->same_account += str_eq(c->email, c->account);
    st->icloud_account += strstr(c->account, "@icloud.com") != NULL;
    if (c->birth_date == NULL)
        st->no_birth++;
    else
        assert_true(date_in(c->birth_date, "1950-01-01", "2008-12-31"));

    assert_true(c->ndevices >= 1 && c->ndevices <= 3);
    st->ndev[c->ndevices]++;
    for (i = 0; i < c->ndevices; i++) {
        const struct model_device *d = &c->devices[i];

        if (!imei_ok(d->imei))
            fail_msg("bad IMEI in %s", c->customer_id);
        assert_true(strncmp(d->imei, "35", 2) == 0 || strncmp(d->imei, "01", 2) == 0);
        if (!serial_ok(d->serial))
            fail_msg("bad serial in %s", c->customer_id);
        assert_true(strncmp(d->model, "iPhone", 6) == 0 || strncmp(d->model, "iPad", 4) == 0 ||
                    strncmp(d->model, "Apple Watch", 11) == 0 ||
                    strncmp(d->model, "MacBook", 7) == 0);
        if (i == 0)
            assert_true(strncmp(d->model, "iPhone", 6) == 0);
        assert_true(date_in(d->purchase_date, "2016-01-01", "2026-10-31"));
        if (c->birth_date != NULL)
            assert_true(strcmp(d->purchase_date, c->birth_date) > 0);
        if (!store_ok(d->store))
            fail_msg("bad store in %s", c->customer_id);
        st->devices++;
    }
}

/*
 * Normalises a copy of the record with the model module and checks that
 * nothing changed (the generator produces normalised values).
 */
static void check_normalised(const struct model_customer *c, uint64_t index)
{
    struct model_customer copy;
    struct model_error err = {NULL, NULL};
    int bad = -1, rc;

    gen(BULK_SEED, index, &copy);
    rc = model_customer_normalise(&copy, "86", &err, &bad);
    if (rc != CU_OK)
        fail_msg("%s rejected: %s %s (device %d)", c->customer_id, err.field ? err.field : "?",
                 err.reason ? err.reason : "?", bad);
    if (!customer_eq(c, &copy))
        fail_msg("%s changed by normalisation", c->customer_id);
    model_customer_release(&copy);
}

static void test_bulk(void **state)
{
    struct bulk_stats st;
    char **ids = xcalloc(BULK_N, sizeof(char *));
    char **imeis = xcalloc(BULK_N * 3, sizeof(char *));
    char **serials = xcalloc(BULK_N * 3, sizeof(char *));
    size_t nimei = 0, i, j;
    double cn_share;

    (void)state;
    memset(&st, 0, sizeof(st));
    for (i = 0; i < BULK_N; i++) {
        struct model_customer c;

        gen(BULK_SEED, i, &c);
        check_fields(&c, &st);
        check_normalised(&c, i);
        ids[i] = xstrdup(c.customer_id);
        for (j = 0; j < c.ndevices; j++) {
            imeis[nimei] = xstrdup(c.devices[j].imei);
            serials[nimei++] = xstrdup(c.devices[j].serial);
        }
        model_customer_release(&c);
    }

    /* Unique customer ids, IMEIs and serials. */
    qsort(ids, BULK_N, sizeof(char *), cmp_str);
    for (i = 1; i < BULK_N; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
    qsort(imeis, nimei, sizeof(char *), cmp_str);
    qsort(serials, nimei, sizeof(char *), cmp_str);
    for (i = 1; i < nimei; i++) {
        if (strcmp(imeis[i - 1], imeis[i]) == 0)
            fail_msg("duplicate IMEI");
        if (strcmp(serials[i - 1], serials[i]) == 0)
            fail_msg("duplicate serial");
    }

    /* Proportions: about 88% +86, 10% two phones, 10% no birth date, 60/30/10 devices. */
    cn_share = (double)st.cn_phones / (double)st.phones;
    print_message("# +86 phones %.1f%%, two phones %.1f%%, no birth date %.1f%%, "
                  "devices %.1f/%.1f/%.1f%%, account = e-mail %.1f%%\n",
                  100.0 * cn_share, 100.0 * st.two_phones / BULK_N, 100.0 * st.no_birth / BULK_N,
                  100.0 * st.ndev[1] / BULK_N, 100.0 * st.ndev[2] / BULK_N,
                  100.0 * st.ndev[3] / BULK_N, 100.0 * st.same_account / BULK_N);
    assert_true(cn_share >= 0.85 && cn_share <= 0.91);
    assert_true(st.cn_names > 0.85 * BULK_N && st.intl_names > 0.09 * BULK_N);
    assert_true(st.two_phones > 0.08 * BULK_N && st.two_phones < 0.12 * BULK_N);
    assert_true(st.no_birth > 0.08 * BULK_N && st.no_birth < 0.12 * BULK_N);
    assert_true(st.ndev[1] > 0.56 * BULK_N && st.ndev[1] < 0.64 * BULK_N);
    assert_true(st.ndev[2] > 0.27 * BULK_N && st.ndev[2] < 0.33 * BULK_N);
    assert_true(st.ndev[3] > 0.08 * BULK_N && st.ndev[3] < 0.12 * BULK_N);
    assert_true(st.same_account > 0.6 * BULK_N && st.same_account < 0.95 * BULK_N);
    assert_true(st.icloud_account > st.same_account / 10);

    for (i = 0; i < BULK_N; i++)
        free(ids[i]);
    for (i = 0; i < nimei; i++) {
        free(imeis[i]);
        free(serials[i]);
    }
    free(ids);
    free(imeis);
    free(serials);
}

/* Far indexes and extreme seeds still give well-formed records. */
static void test_extreme_inputs(void **state)
{
    static const uint64_t seeds[] = {0, 1, UINT64_MAX, 0x8000000000000000ULL};
    static const uint64_t idx[] = {0, 1, 123456789, UINT64_MAX - 1};
    struct bulk_stats st;
    struct model_customer c;
    size_t i, j;

    (void)state;
    memset(&st, 0, sizeof(st));
    for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        for (j = 0; j < sizeof(idx) / sizeof(idx[0]); j++) {
            gen(seeds[i], idx[j], &c);
            check_fields(&c, &st);
            model_customer_release(&c);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rand_known_answers),
        cmocka_unit_test(test_same_seed_same_record),
        cmocka_unit_test(test_other_seed_other_record),
        cmocka_unit_test(test_random_access),
        cmocka_unit_test(test_customer_ids),
        cmocka_unit_test(test_luhn_helper),
        cmocka_unit_test(test_bulk),
        cmocka_unit_test(test_extreme_inputs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
