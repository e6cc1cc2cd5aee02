/* Unit tests for src/detect: the pure rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "detect/detect.h"

static struct policy *pol;

static int setup(void **state)
{
    (void)state;
    return policy_default(&pol, NULL) == CU_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    policy_free(pol);
    return 0;
}

static void judge(const struct detect_usage *u, enum detect_kind kind, int canary,
                  struct detect_verdict *v)
{
    struct detect_request r = {0};

    r.kind = kind;
    r.canary = canary;
    r.fields[MODEL_F_NAME] = r.fields[MODEL_F_PHONE] = kind == DETECT_REVEAL;
    detect_judge(pol, POLICY_ROLE_CLERK, u, &r, v);
}

/* The default clerk quota: 20 reveals an hour, step-up at 0.8. */
static void test_quota_edges(void **state)
{
    struct detect_usage u = {0};
    struct detect_verdict v;
    const struct policy_quota *q = policy_quota(pol, POLICY_ROLE_CLERK);

    (void)state;
    judge(&u, DETECT_REVEAL, 0, &v);
    assert_int_equal(v.action, DETECT_ALLOW);
    assert_false(v.alert);
    /* the request that reaches step_up_fraction of the quota steps up */
    u.reveals_hour = (uint32_t)(q->step_up_fraction * q->reveals_per_hour) - 1;
    judge(&u, DETECT_REVEAL, 0, &v);
    assert_int_equal(v.action, DETECT_STEP_UP);
    assert_string_equal(v.rule, "quota-reveals-hour");
    /* the last one within the quota is allowed (stepped up), the next blocked */
    u.reveals_hour = q->reveals_per_hour - 1;
    judge(&u, DETECT_REVEAL, 0, &v);
    assert_int_equal(v.action, DETECT_STEP_UP);
    u.reveals_hour = q->reveals_per_hour;
    judge(&u, DETECT_REVEAL, 0, &v);
    assert_int_equal(v.action, DETECT_BLOCK);
    assert_true(v.alert);
    assert_non_null(strstr(v.detail, "limit 20"));
    /* the day quota counts on its own */
    memset(&u, 0, sizeof(u));
    u.reveals_day = q->reveals_per_day;
    judge(&u, DETECT_REVEAL, 0, &v);
    assert_int_equal(v.action, DETECT_BLOCK);
    assert_string_equal(v.rule, "quota-reveals-day");
    /* look-ups have their own quotas; reveals do not count against them */
    judge(&u, DETECT_LOOKUP, 0, &v);
    assert_int_equal(v.action, DETECT_ALLOW);
    u.lookups_hour = q->lookups_per_hour;
    judge(&u, DETECT_LOOKUP, 0, &v);
    assert_int_equal(v.action, DETECT_BLOCK);
    assert_string_equal(v.rule, "quota-lookups-hour");
}

/* Name and phone are "other" (5,000, halved: 2,500 for staff). */
static void test_statutory_meter(void **state)
{
    const struct policy_statutory *st = policy_statutory(pol);
    struct detect_usage u = {0};
    struct detect_request r = {0};
    struct detect_verdict v;
    double per = 1.0 / st->staff_threshold[POLICY_CAT_OTHER];

    (void)state;
    r.kind = DETECT_REVEAL;
    r.fields[MODEL_F_NAME] = r.fields[MODEL_F_PHONE] = 1;
    assert_true(st->staff_threshold[POLICY_CAT_OTHER] == 2500);
    assert_true(detect_meter(pol, &u, &r) > 2 * per - 1e-12 &&
                detect_meter(pol, &u, &r) < 2 * per + 1e-12);
    /* categories combine in proportion: 250 accommodation pieces are 1.0 */
    u.category[POLICY_CAT_ACCOMMODATION] = 125;
    assert_true(detect_meter(pol, &u, NULL) > 0.5 - 1e-12);
    /* the request that would reach block_fraction is blocked */
    memset(&u, 0, sizeof(u));
    u.category[POLICY_CAT_OTHER] = (uint32_t)(st->block_fraction * 2500) - 2;
    detect_judge(pol, POLICY_ROLE_AGENT, &u, &r, &v);
    assert_int_equal(v.action, DETECT_BLOCK);
    assert_string_equal(v.rule, "statutory-meter");
    u.category[POLICY_CAT_OTHER] -= 1;
    detect_judge(pol, POLICY_ROLE_AGENT, &u, &r, &v);
    assert_int_equal(v.action, DETECT_ALLOW);
    /* crossing the alert line alerts once; being past it does not again */
    u.category[POLICY_CAT_OTHER] = (uint32_t)(st->alert_fraction * 2500) - 1;
    detect_judge(pol, POLICY_ROLE_AGENT, &u, &r, &v);
    assert_true(v.alert);
    u.category[POLICY_CAT_OTHER] += 2;
    detect_judge(pol, POLICY_ROLE_AGENT, &u, &r, &v);
    assert_false(v.alert);
    assert_int_equal(v.action, DETECT_ALLOW);
}

/* Default enumeration: alert at the 3rd neighbouring look-up, block at the 5th. */
static void test_enumeration(void **state)
{
    struct detect_usage u = {0};
    struct detect_request r = {0};
    struct detect_verdict v;

    (void)state;
    r.kind = DETECT_LOOKUP;
    r.neighbours = 1;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_int_equal(v.action, DETECT_ALLOW);
    assert_false(v.alert);
    r.neighbours = 2;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_int_equal(v.action, DETECT_ALLOW);
    assert_true(v.alert);
    assert_string_equal(v.rule, "enumeration");
    r.neighbours = 3;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_false(v.alert); /* alerted once already */
    r.neighbours = 4;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_int_equal(v.action, DETECT_BLOCK);
    assert_true(v.alert);
    assert_non_null(strstr(v.detail, "5 look-ups"));
}

/* A burst: more than a quarter of the hourly reveal quota in 10 minutes. */
static void test_burst(void **state)
{
    struct detect_usage u = {0};
    struct detect_verdict v;

    (void)state;
    u.reveals_10min = 4; /* clerk: 20 an hour, a burst is more than 5 */
    u.reveals_hour = 4;
    judge(&u, DETECT_REVEAL, 0, &v);
    assert_int_equal(v.action, DETECT_ALLOW);
    u.reveals_10min = u.reveals_hour = 5;
    judge(&u, DETECT_REVEAL, 0, &v);
    assert_int_equal(v.action, DETECT_BLOCK);
    assert_string_equal(v.rule, "burst");
    assert_true(v.suspend && v.alert);
    /* look-ups are not reveals */
    judge(&u, DETECT_LOOKUP, 0, &v);
    assert_int_equal(v.action, DETECT_ALLOW);
}

static void test_store_hours(void **state)
{
    struct detect_usage u = {0};
    struct detect_request r = {0};
    struct detect_verdict v;

    (void)state;
    r.kind = DETECT_REVEAL;
    r.fields[MODEL_F_NAME] = 1;
    r.outside_hours = 1;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_int_equal(v.action, DETECT_STEP_UP);
    assert_string_equal(v.rule, "store-hours");
    assert_true(v.alert);
    r.outside_hours = 0;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_int_equal(v.action, DETECT_ALLOW);
}

/* Clerk defaults: 20 reveals an hour, so alert at 10 unverified cases,
 * block at 20; verification blocked after 10 wrong codes in an hour. */
static void test_cases_and_codes(void **state)
{
    struct detect_usage u = {0};
    struct detect_request r = {0};
    struct detect_verdict v;

    (void)state;
    r.kind = DETECT_CASE_OPEN;
    u.cases_opened_day = 12;
    u.cases_verified_day = 3; /* 9 open: this one makes 10 */
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_int_equal(v.action, DETECT_ALLOW);
    assert_true(v.alert);
    assert_string_equal(v.rule, "unverified-cases");
    u.cases_opened_day = 23; /* 20 open */
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_int_equal(v.action, DETECT_BLOCK);
    u.cases_verified_day = 20; /* most verified: fine */
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_int_equal(v.action, DETECT_ALLOW);
    assert_false(v.alert);

    r.kind = DETECT_VERIFY;
    u.wrong_codes_hour = 9;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_int_equal(v.action, DETECT_ALLOW);
    u.wrong_codes_hour = 10;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_int_equal(v.action, DETECT_BLOCK);
    assert_string_equal(v.rule, "wrong-codes");
}

/* Peer baseline: z = (x - mean) / (stdev + 1) > 3, x at least 10. */
static void test_peer_baseline(void **state)
{
    struct detect_usage u = {0};
    struct detect_request r = {0};
    struct detect_verdict v;

    (void)state;
    r.kind = DETECT_REVEAL;
    r.fields[MODEL_F_NAME] = 1;
    r.peers = 5;
    r.peer_mean = 6;
    r.peer_stdev = 2;
    r.reveals_today = 14; /* x 15: z 3.0, not above 3 */
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_false(v.alert);
    r.reveals_today = 15; /* x 16: z 3.3 */
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_true(v.alert);
    assert_string_equal(v.rule, "peer-baseline");
    assert_int_equal(v.action, DETECT_ALLOW); /* an alert, not a block */
    /* too few peers to compare with */
    r.peers = 2;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_false(v.alert);
    /* below the floor, however quiet the peers */
    r.peers = 5;
    r.peer_mean = 0;
    r.peer_stdev = 0;
    r.reveals_today = 8;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_false(v.alert);
}

/* A supervisor (40 reveals a day: more than 10 approvals a day alert);
 * from the 5th approval in 30 days, 80% for one requester alerts. */
static void test_approvals(void **state)
{
    struct detect_usage u = {0};
    struct detect_request r = {0};
    struct detect_verdict v;

    (void)state;
    r.kind = DETECT_APPROVE;
    u.approvals_day = 9;
    u.approvals_30d = 30;
    detect_judge(pol, POLICY_ROLE_SUPERVISOR, &u, &r, &v);
    assert_false(v.alert);
    u.approvals_day = 10;
    detect_judge(pol, POLICY_ROLE_SUPERVISOR, &u, &r, &v);
    assert_true(v.alert);
    assert_string_equal(v.rule, "approvals-many");
    assert_int_equal(v.action, DETECT_ALLOW);
    u.approvals_day = 1;
    u.approvals_30d = 4;
    u.approvals_same_30d = 3; /* this one makes 4 of 5 */
    detect_judge(pol, POLICY_ROLE_SUPERVISOR, &u, &r, &v);
    assert_true(v.alert);
    assert_string_equal(v.rule, "approvals-one-requester");
    u.approvals_same_30d = 2; /* 3 of 5 */
    detect_judge(pol, POLICY_ROLE_SUPERVISOR, &u, &r, &v);
    assert_false(v.alert);
    u.approvals_30d = 2;
    u.approvals_same_30d = 2; /* 3 of 3: too few to say */
    detect_judge(pol, POLICY_ROLE_SUPERVISOR, &u, &r, &v);
    assert_false(v.alert);
}

/* Store baseline: today > mean + 3 (stdev + 1), at least 20, 7 days known. */
static void test_store_baseline(void **state)
{
    struct detect_usage u = {0};
    struct detect_request r = {0};
    struct detect_verdict v;

    (void)state;
    r.kind = DETECT_REVEAL;
    r.fields[MODEL_F_NAME] = 1;
    r.store_days = 10;
    r.store_mean = 40;
    r.store_stdev = 5;
    r.store_today = 57; /* 58 = 40 + 3 * 6: not above */
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_false(v.alert);
    r.store_today = 58;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_true(v.alert);
    assert_string_equal(v.rule, "store-baseline");
    r.store_days = 6; /* too little history */
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_false(v.alert);
    r.store_days = 10;
    r.store_mean = 1;
    r.store_stdev = 0;
    r.store_today = 10; /* a quiet store: below 20 */
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_false(v.alert);
}

/* Clerk: 300 look-ups a day, so from the 75th with under 1 in 20 verified. */
static void test_lookups_without_cases(void **state)
{
    struct detect_usage u = {0};
    struct detect_request r = {0};
    struct detect_verdict v;

    (void)state;
    r.kind = DETECT_LOOKUP;
    u.lookups_day = 73;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_false(v.alert);
    u.lookups_day = 74;
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_true(v.alert);
    assert_string_equal(v.rule, "lookups-without-cases");
    assert_int_equal(v.action, DETECT_ALLOW);
    u.cases_verified_day = 4; /* 4 of 75: more than 1 in 20 */
    detect_judge(pol, POLICY_ROLE_CLERK, &u, &r, &v);
    assert_false(v.alert);
}

static void test_canary_suspends(void **state)
{
    struct detect_usage u = {0};
    struct detect_verdict v;

    (void)state;
    judge(&u, DETECT_LOOKUP, 1, &v);
    assert_true(v.alert && v.critical && v.suspend);
    assert_string_equal(v.rule, "canary");
}

/* Security and admin have no quota: any look-up or reveal is blocked. */
static void test_no_quota_no_access(void **state)
{
    struct detect_usage u = {0};
    struct detect_request r = {0};
    struct detect_verdict v;

    (void)state;
    r.kind = DETECT_LOOKUP;
    detect_judge(pol, POLICY_ROLE_SECURITY, &u, &r, &v);
    assert_int_equal(v.action, DETECT_BLOCK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quota_edges),     cmocka_unit_test(test_statutory_meter),
        cmocka_unit_test(test_enumeration),     cmocka_unit_test(test_burst),
        cmocka_unit_test(test_store_hours),     cmocka_unit_test(test_cases_and_codes),
        cmocka_unit_test(test_peer_baseline),   cmocka_unit_test(test_approvals),
        cmocka_unit_test(test_store_baseline),  cmocka_unit_test(test_lookups_without_cases),
        cmocka_unit_test(test_canary_suspends), cmocka_unit_test(test_no_quota_no_access),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
