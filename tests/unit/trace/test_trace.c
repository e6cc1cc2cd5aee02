/* Unit tests for src/trace: identifiers in messy leaks, and the guilt model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trace/trace.h"

/* What the extractor reported: "kind=value" lines, in order. */
struct seen {
    struct buf text;
    int n;
};

static void collect(void *arg, int kind, const char *value, size_t len)
{
    struct seen *s = arg;

    assert_int_equal(strlen(value), len);
    buf_addf(&s->text, "%s=%s\n", trace_kind_name(kind), value);
    s->n++;
}

/* Extracts from free text; returns the report (the caller frees it). */
static char *extract(const char *text)
{
    struct seen s = {BUF_INIT, 0};

    buf_addstr(&s.text, "");
    trace_extract_text(text, strlen(text), "86", collect, &s);
    return buf_detach(&s.text, NULL);
}

static void assert_has(const char *report, const char *want)
{
    if (strstr(report, want) == NULL)
        fail_msg("expected '%s' in:\n%s", want, report);
}

static void assert_lacks(const char *report, const char *unwanted)
{
    if (strstr(report, unwanted) != NULL)
        fail_msg("did not expect '%s' in:\n%s", unwanted, report);
}

static void test_phones_every_way(void **state)
{
    static const char *const ways[] = {
        "+86 138-0013-8000",     "(0)138 0013 8000",   "138 0013 8000",
        "13800138000",           "0086 138 0013 8000", "86 13800138000",
        "+86 (0)138 0013 8000",  "tel:13800138000.",   "138.0013.8000",
        "手机：138-0013-8000，", "+8613800138000",     "call 138 0013 8000 after 6pm",
    };
    size_t i;
    char *r;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(ways); i++) {
        r = extract(ways[i]);
        assert_has(r, "phone=+8613800138000\n");
        free(r);
    }
    r = extract("office +44 (0)20 7946 0958 or +1 (415) 555-2671");
    assert_has(r, "phone=+442079460958\n");
    assert_has(r, "phone=+14155552671\n");
    free(r);
    /* two numbers joined by a slash, and a date just before a number */
    r = extract("13800138000/13900139000");
    assert_has(r, "phone=+8613800138000\n");
    assert_has(r, "phone=+8613900139000\n");
    free(r);
    r = extract("2019-03-14 13800138000");
    assert_has(r, "phone=+8613800138000\n");
    free(r);
}

static void test_emails_in_text(void **state)
{
    char *r;

    (void)state;
    r = extract("write to Zhang.Wei@Example.COM, or <li.na+shop@qq.com>; mailto:x_y@mail.cn.");
    assert_has(r, "email=zhang.wei@example.com\n");
    assert_has(r, "email=li.na+shop@qq.com\n");
    assert_has(r, "email=x_y@mail.cn\n");
    assert_lacks(r, "mailto");
    free(r);
    /* the digits of a QQ address are not a phone number */
    r = extract("13800138000@qq.com");
    assert_string_equal(r, "email=13800138000@qq.com\n");
    free(r);
    r = extract("no address @ here, nor user@localhost");
    assert_string_equal(r, "");
    free(r);
}

static void test_imeis(void **state)
{
    static const char *const ways[] = {
        "358902267804990",      "35-890226-780499-0",    "35 890226 780499 0",
        "IMEI:358902267804990", "imei 35890226 7804990",
    };
    size_t i;
    char *r;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(ways); i++) {
        r = extract(ways[i]);
        assert_has(r, "imei=358902267804990\n");
        free(r);
    }
    /* the leading 0 a spreadsheet dropped is put back */
    r = extract("{\"imei\": 14546006064048}");
    assert_has(r, "imei=014546006064048\n");
    free(r);
    /* a wrong check digit is no IMEI */
    r = extract("358902267804991");
    assert_lacks(r, "imei=");
    free(r);
    /* an IMEI and a phone on one line, one space apart */
    r = extract("358902267804990 13800138000");
    assert_has(r, "imei=358902267804990\n");
    assert_has(r, "phone=+8613800138000\n");
    free(r);
}

static void test_serials_and_junk(void **state)
{
    char *r;

    (void)state;
    r = extract("serial f2lxk0abhg7f, model iPhone 8");
    assert_has(r, "serial=F2LXK0ABHG7F\n");
    assert_lacks(r, "IPHONE");
    free(r);
    r = extract("hello world 12 34, price 3.14 on 2017 at SZ-014");
    assert_string_equal(r, "");
    free(r);
    r = extract("");
    assert_string_equal(r, "");
    free(r);
}

/* Reads lines through one reader; returns the report and ORs the flags. */
static char *read_lines(const char *const *lines, size_t n, int *flags)
{
    struct seen s = {BUF_INIT, 0};
    struct trace_reader r;
    size_t i;

    buf_addstr(&s.text, "");
    trace_reader_init(&r, "86");
    for (i = 0; i < n; i++) {
        flags[i] = trace_reader_line(&r, lines[i], strlen(lines[i]), collect, &s);
        buf_addf(&s.text, "--\n");
    }
    trace_reader_release(&r);
    return buf_detach(&s.text, NULL);
}

static void test_csv_with_quotes(void **state)
{
    static const char *const lines[] = {
        "\xef\xbb\xbfName,Phone,E-mail,IMEI,Customer ID",
        "\"Zhang, Wei\",\"+86 138-0013-8000\",zhang.wei@example.com,\"35 890226 780499 0\","
        "C00000001",
        "\"Li \"\"Na\"\"\",139 0013 9000,,,",
        "",
        "12345 13700137000,,,,",
    };
    int flags[5];
    char *r = read_lines(lines, 5, flags);

    (void)state;
    assert_int_equal(flags[0], TRACE_LINE_HEADER);
    assert_true(flags[1] & TRACE_LINE_NAME);
    assert_true(flags[2] & TRACE_LINE_NAME);
    assert_int_equal(flags[3], TRACE_LINE_BLANK);
    /* digits in the name column are no name, but are read */
    assert_int_equal(flags[4], 0);
    /* the header gives nothing; the rows give everything but the names */
    assert_true(strncmp(r, "--\n", 3) == 0);
    assert_has(r, "phone=+8613800138000\nemail=zhang.wei@example.com\nimei=358902267804990\n"
                  "customer_id=C00000001\n--\n");
    assert_has(r, "phone=+8613900139000\n--\n");
    assert_has(r, "--\nphone=+8613700137000\n--\n");
    assert_lacks(r, "WEI");
    free(r);
}

static void test_first_line_is_data(void **state)
{
    static const char *const lines[] = {
        "Zhang Wei, 13800138000, zhang.wei@example.com",
        "Li Na\t139 0013 9000",
    };
    int flags[2];
    char *r = read_lines(lines, 2, flags);

    (void)state;
    assert_false(flags[0] & TRACE_LINE_HEADER);
    assert_has(r, "phone=+8613800138000\n");
    assert_has(r, "email=zhang.wei@example.com\n");
    assert_has(r, "--\nphone=+8613900139000\n--\n");
    free(r);
}

static void test_json_lines(void **state)
{
    static const char *const lines[] = {
        "{\"customer_id\":\"C00000007\",\"name\":\"\xe5\xbc\xa0\xe4\xbc\x9f\","
        "\"phone\":[\"+86 139 0013 9000\"],\"devices\":[{\"imei\":358902267804990,"
        "\"serial\":\"F2LXK0ABHG7F\"}],\"email\":\"A@B.CN\"}",
        "{\"note\": \"broken json 13800138000",
        "[1, 2]",
    };
    int flags[3];
    char *r = read_lines(lines, 3, flags);

    (void)state;
    assert_true(flags[0] & TRACE_LINE_JSON);
    assert_true(flags[0] & TRACE_LINE_NAME);
    assert_has(r, "customer_id=C00000007\n");
    assert_has(r, "phone=+8613900139000\n");
    assert_has(r, "imei=358902267804990\n");
    assert_has(r, "serial=F2LXK0ABHG7F\n");
    assert_has(r, "email=a@b.cn\n");
    /* a line that is not JSON is still read as text */
    assert_false(flags[1] & TRACE_LINE_JSON);
    assert_has(r, "phone=+8613800138000\n");
    free(r);
}

/* --- the guilt model ---------------------------------------------------------- */

static const char *const staff_names[] = {"alice", "bob", "carol", "dave", "erin"};

static const struct trace_suspect *find(const struct trace_suspect *s, size_t n, uint32_t staff)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i].staff == staff)
            return &s[i];
    fail_msg("staff %u not ranked", staff);
    return NULL;
}

/*
 * Records 0..2: record 0 revealed by alice only, record 1 by alice and bob,
 * record 2 by bob, carol and dave.  With p = 0.2 (1 - p = 0.8):
 *   alice: 1 - (1 - 0.8)(1 - 0.8/2)   = 1 - 0.2 * 0.6    = 0.88
 *   bob:   1 - (1 - 0.8/2)(1 - 0.8/3) = 1 - 0.6 * 0.7333 = 0.56
 *   carol, dave: 0.8/3 = 0.26667, tied: by name.
 */
static void test_guilt_hand_computed(void **state)
{
    struct trace_pair pairs[] = {
        {2, 3}, {1, 1}, {0, 0}, {2, 2}, {1, 0}, {2, 1}, {0, 0}, {1, 1}, /* repeats */
    };
    struct trace_suspect *s;
    size_t n = CU_ARRAY_LEN(pairs), ns = 0;

    (void)state;
    assert_int_equal(trace_guilt(pairs, &n, staff_names, 5, 0.2, &s, &ns), CU_OK);
    assert_int_equal(n, 6); /* the repeats dropped */
    assert_int_equal(pairs[0].record, 0);
    assert_int_equal(pairs[5].record, 2);
    assert_int_equal(ns, 4);
    assert_int_equal(s[0].staff, 0);
    assert_int_equal(s[1].staff, 1);
    assert_int_equal(s[2].staff, 2); /* carol before dave: a tie, by name */
    assert_int_equal(s[3].staff, 3);
    assert_true(fabs(s[0].probability - 0.88) < 1e-12);
    assert_true(fabs(s[1].probability - 0.56) < 1e-12);
    assert_true(fabs(s[2].probability - 0.8 / 3) < 1e-12);
    assert_true(fabs(s[3].probability - 0.8 / 3) < 1e-12);
    assert_true(fabs(s[0].log_innocence - log(0.12)) < 1e-12);
    assert_int_equal(s[0].records, 2);
    assert_int_equal(s[0].sole, 1);
    assert_int_equal(s[1].records, 2);
    assert_int_equal(s[1].sole, 0);
    assert_int_equal(find(s, ns, 3)->records, 1);
    free(s);
}

static void test_guilt_p_bounds(void **state)
{
    struct trace_pair pairs[] = {{0, 0}, {1, 0}, {1, 1}};
    struct trace_suspect *s;
    size_t n = 3, ns;

    (void)state;
    assert_int_equal(trace_guilt(pairs, &n, staff_names, 5, 1.0, &s, &ns), CU_ERR_INVALID);
    assert_int_equal(trace_guilt(pairs, &n, staff_names, 5, -0.1, &s, &ns), CU_ERR_INVALID);
    assert_int_equal(trace_guilt(pairs, &n, staff_names, 5, NAN, &s, &ns), CU_ERR_INVALID);
    assert_int_equal(trace_guilt(pairs, &n, staff_names, 1, 0.2, &s, &ns), CU_ERR_INVALID);
    /* p = 0: the sole revealer of a leaked record is certain */
    assert_int_equal(trace_guilt(pairs, &n, staff_names, 5, 0.0, &s, &ns), CU_OK);
    assert_int_equal(ns, 2);
    assert_int_equal(s[0].staff, 0);
    assert_true(s[0].probability == 1.0);
    assert_int_equal(s[0].certain, 1);
    assert_true(fabs(s[1].probability - 0.5) < 1e-12);
    free(s);
    /* nothing revealed: nobody ranked */
    n = 0;
    assert_int_equal(trace_guilt(pairs, &n, staff_names, 5, 0.2, &s, &ns), CU_OK);
    assert_int_equal(ns, 0);
    free(s);
}

/* Both round to probability 1.0; the sums of logarithms still order them. */
static void test_guilt_near_one(void **state)
{
    size_t cap = 3000, n = 0, ns, i;
    struct trace_pair *pairs = xcalloc(cap, sizeof(*pairs));
    struct trace_suspect *s;

    (void)state;
    for (i = 0; i < 1000; i++)
        pairs[n++] = (struct trace_pair){(uint32_t)i, 4}; /* erin: 1,000 sole */
    for (i = 1000; i < 3000; i++)
        pairs[n++] = (struct trace_pair){(uint32_t)i, 1}; /* bob: 2,000 sole */
    assert_int_equal(trace_guilt(pairs, &n, staff_names, 5, 0.2, &s, &ns), CU_OK);
    assert_int_equal(ns, 2);
    assert_true(s[0].probability == 1.0 && s[1].probability == 1.0);
    assert_int_equal(s[0].staff, 1);
    assert_true(fabs(s[0].log_innocence - 2000 * log(0.2)) < 1e-6);
    free(s);
    free(pairs);
}

/* The same reveals in any order give the same ranking. */
static void test_guilt_deterministic(void **state)
{
    struct trace_pair base[] = {{0, 0}, {0, 1}, {1, 2}, {1, 3}, {2, 4}, {2, 0}, {3, 1}, {3, 2}};
    struct trace_pair pairs[CU_ARRAY_LEN(base)];
    struct trace_suspect *first = NULL, *s;
    size_t n, ns, ns0 = 0, i, k;
    uint64_t rnd = 7;

    (void)state;
    for (k = 0; k < 50; k++) {
        memcpy(pairs, base, sizeof(base));
        for (i = CU_ARRAY_LEN(pairs) - 1; i > 0; i--) {
            size_t j;
            struct trace_pair t;

            rnd = rnd * 6364136223846793005ULL + 1442695040888963407ULL;
            j = (size_t)(rnd >> 33) % (i + 1);
            t = pairs[i];
            pairs[i] = pairs[j];
            pairs[j] = t;
        }
        n = CU_ARRAY_LEN(pairs);
        assert_int_equal(trace_guilt(pairs, &n, staff_names, 5, 0.2, &s, &ns), CU_OK);
        if (first == NULL) {
            first = s;
            ns0 = ns;
            continue;
        }
        assert_int_equal(ns, ns0);
        for (i = 0; i < ns; i++)
            assert_int_equal(s[i].staff, first[i].staff);
        free(s);
    }
    /* alice, bob, carol each have two records of |V| = 2: a tie, by name */
    assert_int_equal(first[0].staff, 0);
    assert_int_equal(first[1].staff, 1);
    assert_int_equal(first[2].staff, 2);
    free(first);
}

static void test_parse_time(void **state)
{
    int64_t t;

    (void)state;
    assert_int_equal(trace_parse_time("2026-11-24", &t), CU_OK);
    assert_true(t == 1795478400000LL);
    assert_int_equal(trace_parse_time("2026-11-24T10:30:15Z", &t), CU_OK);
    assert_true(t == 1795516215000LL);
    assert_int_equal(trace_parse_time("2026-11-24 18:30:15.250+08:00", &t), CU_OK);
    assert_true(t == 1795516215250LL);
    assert_int_equal(trace_parse_time("2024-02-29T02:30:15", &t), CU_OK);
    assert_true(t == 1709173815000LL);
    assert_int_equal(trace_parse_time("1795478400", &t), CU_OK);
    assert_true(t == 1795478400000LL);
    assert_int_equal(trace_parse_time("2026-02-29", &t), CU_ERR_INVALID);
    assert_int_equal(trace_parse_time("2026-11-24T25:00", &t), CU_ERR_INVALID);
    assert_int_equal(trace_parse_time("yesterday", &t), CU_ERR_INVALID);
    assert_int_equal(trace_parse_time("2026-11-24Tx", &t), CU_ERR_INVALID);
    assert_int_equal(trace_parse_time("", &t), CU_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phones_every_way),
        cmocka_unit_test(test_emails_in_text),
        cmocka_unit_test(test_imeis),
        cmocka_unit_test(test_serials_and_junk),
        cmocka_unit_test(test_csv_with_quotes),
        cmocka_unit_test(test_first_line_is_data),
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_guilt_hand_computed),
        cmocka_unit_test(test_guilt_p_bounds),
        cmocka_unit_test(test_guilt_near_one),
        cmocka_unit_test(test_guilt_deterministic),
        cmocka_unit_test(test_parse_time),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
