/*
 * Unit tests of the access policy: the default policy gives exactly the
 * matrix of issue 4 (every role x purpose x case state x field), the
 * fixed rules hold, approval is never self-approval, malformed files are
 * refused with the JSON path named, missing permissions are denied, the
 * limits are exposed as written, and the compiled-in default is byte for
 * byte src/policy/default_policy.json.
 *
 * Malformed files are made by editing the default policy with jansson
 * (set or delete one member by its dotted path) so each case differs from
 * a valid file in exactly one place.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy/policy.h"

#define DEFAULT_JSON CU_TEST_DATA "/../../src/policy/default_policy.json"

/* ---- helpers ------------------------------------------------------------------ */

static struct policy *default_policy(void)
{
    struct policy *p = NULL;
    char *err = NULL;

    assert_int_equal(policy_default(&p, &err), CU_OK);
    assert_null(err);
    assert_non_null(p);
    return p;
}

static json_t *default_json(void)
{
    json_error_t jerr;
    size_t len;
    const char *text = policy_default_text(&len);
    json_t *root = json_loadb(text, len, 0, &jerr);

    assert_non_null(root);
    return root;
}

/*
 * Sets the member at dotted `path` of `root` to `v` (taking the reference),
 * or deletes it when `v` is NULL.  Intermediate objects must exist.
 */
static void json_path_set(json_t *root, const char *path, json_t *v)
{
    char *copy = strdup(path), *dot, *key = copy;
    json_t *obj = root;

    while ((dot = strchr(key, '.')) != NULL) {
        *dot = '\0';
        obj = json_object_get(obj, key);
        assert_non_null(obj);
        key = dot + 1;
    }
    if (v == NULL)
        assert_int_equal(json_object_del(obj, key), 0);
    else
        assert_int_equal(json_object_set_new(obj, key, v), 0);
    free(copy);
}

/* Parses the JSON document; the caller frees the policy (NULL on error) and *err. */
static int parse_json(json_t *root, struct policy **p, char **err)
{
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc;

    assert_non_null(text);
    *err = NULL;
    rc = policy_parse(text, strlen(text), p, err);
    free(text);
    return rc;
}

/* The default policy with one member changed (v NULL: deleted), parsed. */
static int parse_edited(const char *path, json_t *v, struct policy **p, char **err)
{
    json_t *root = default_json();
    int rc;

    json_path_set(root, path, v);
    rc = parse_json(root, p, err);
    json_decref(root);
    return rc;
}

static struct policy *parse_edited_ok(const char *path, json_t *v)
{
    struct policy *p = NULL;
    char *err = NULL;
    int rc = parse_edited(path, v, &p, &err);

    if (rc != CU_OK)
        fail_msg("edit of %s refused: %s", path, err ? err : "(no message)");
    assert_non_null(p);
    return p;
}

/* ---- names ---------------------------------------------------------------------- */

static void test_names(void **state)
{
    static const char *const roles[] = {"clerk",    "agent", "supervisor",
                                        "security", "admin", "operator"};
    static const char *const purposes[] = {"customer_support", "fraud_investigation",
                                           "legal_request"};
    static const char *const states[] = {
        "awaiting_verification", "pending_approval", "verified", "approved", "closed", "expired"};
    static const char *const cats[] = {
        "whereabouts", "communication_content", "credit",
        "property",    "accommodation",         "communication_records",
        "health",      "transaction",           "other"};
    size_t i;

    (void)state;
    assert_int_equal(CU_ARRAY_LEN(roles), POLICY_ROLE__COUNT);
    for (i = 0; i < CU_ARRAY_LEN(roles); i++) {
        assert_string_equal(policy_role_name((int)i), roles[i]);
        assert_int_equal(policy_role_from_name(roles[i]), (int)i);
    }
    assert_int_equal(CU_ARRAY_LEN(purposes), POLICY_PURPOSE__COUNT);
    for (i = 0; i < CU_ARRAY_LEN(purposes); i++) {
        assert_string_equal(policy_purpose_name((int)i), purposes[i]);
        assert_int_equal(policy_purpose_from_name(purposes[i]), (int)i);
    }
    assert_int_equal(CU_ARRAY_LEN(states), POLICY_CASE__COUNT);
    for (i = 0; i < CU_ARRAY_LEN(states); i++) {
        assert_string_equal(policy_case_state_name((int)i), states[i]);
        assert_int_equal(policy_case_state_from_name(states[i]), (int)i);
    }
    assert_int_equal(CU_ARRAY_LEN(cats), POLICY_CAT__COUNT);
    for (i = 0; i < CU_ARRAY_LEN(cats); i++) {
        assert_string_equal(policy_category_name((int)i), cats[i]);
        assert_int_equal(policy_category_from_name(cats[i]), (int)i);
    }
    assert_string_equal(policy_view_name(POLICY_NONE), "none");
    assert_string_equal(policy_view_name(POLICY_MASKED), "masked");
    assert_string_equal(policy_view_name(POLICY_FULL), "full");
    assert_int_equal(policy_view_from_name("full"), POLICY_FULL);

    assert_null(policy_role_name(-1));
    assert_null(policy_role_name(POLICY_ROLE__COUNT));
    assert_null(policy_purpose_name(POLICY_PURPOSE__COUNT));
    assert_null(policy_case_state_name(POLICY_CASE__COUNT));
    assert_null(policy_view_name(3));
    assert_null(policy_category_name(POLICY_CAT__COUNT));
    assert_int_equal(policy_role_from_name("Clerk"), -1);
    assert_int_equal(policy_role_from_name("root"), -1);
    assert_int_equal(policy_role_from_name(NULL), -1);
    assert_int_equal(policy_purpose_from_name("support"), -1);
    assert_int_equal(policy_view_from_name("FULL"), -1);

    assert_int_equal(policy_purpose_requires(POLICY_PURPOSE_CUSTOMER_SUPPORT),
                     POLICY_CASE_VERIFIED);
    assert_int_equal(policy_purpose_requires(POLICY_PURPOSE_FRAUD_INVESTIGATION),
                     POLICY_CASE_APPROVED);
    assert_int_equal(policy_purpose_requires(POLICY_PURPOSE_LEGAL_REQUEST), POLICY_CASE_APPROVED);
    assert_int_equal(policy_purpose_requires((enum policy_purpose)POLICY_PURPOSE__COUNT), -1);
}

/* ---- the default matrix ------------------------------------------------------------ */

/*
 * Issue 4's matrix, written out independently of the policy file: per role
 * and purpose, the view of account, name, phone, email, address,
 * birth_date, devices (F full, M masked, N none) in the state the purpose
 * requires.
 */
static const char *const expected_matrix[POLICY_ROLE__COUNT][POLICY_PURPOSE__COUNT] = {
    /*               support    fraud      legal */
    [POLICY_ROLE_CLERK] = {"FFFFMMF", "NNNNNNN", "NNNNNNN"},
    [POLICY_ROLE_AGENT] = {"FFFFFMF", "FFFFFFF", "FFFFFFF"},
    [POLICY_ROLE_SUPERVISOR] = {"NNNNNNN", "FFFFFFF", "FFFFFFF"},
    [POLICY_ROLE_SECURITY] = {"NNNNNNN", "NNNNNNN", "NNNNNNN"},
    [POLICY_ROLE_ADMIN] = {"NNNNNNN", "NNNNNNN", "NNNNNNN"},
    [POLICY_ROLE_OPERATOR] = {"NNNNNNN", "NNNNNNN", "NNNNNNN"},
};

/* Which roles may open which purposes, and look up, and approve. */
static const int expected_open[POLICY_ROLE__COUNT][POLICY_PURPOSE__COUNT] = {
    [POLICY_ROLE_CLERK] = {1, 0, 0},
    [POLICY_ROLE_AGENT] = {1, 1, 1},
    [POLICY_ROLE_SUPERVISOR] = {0, 1, 1},
};
static const int expected_lookup[POLICY_ROLE__COUNT] = {
    [POLICY_ROLE_CLERK] = 1,
    [POLICY_ROLE_AGENT] = 1,
    [POLICY_ROLE_OPERATOR] = 1,
};
static const int expected_approve[POLICY_ROLE__COUNT] = {
    [POLICY_ROLE_SUPERVISOR] = 1,
};

static enum policy_view letter_view(char c)
{
    switch (c) {
    case 'F':
        return POLICY_FULL;
    case 'M':
        return POLICY_MASKED;
    case 'N':
        return POLICY_NONE;
    }
    fail_msg("bad letter %c", c);
    return POLICY_NONE;
}

/* What the fixed state rule makes of the matrix value `v`. */
static enum policy_view expected_view(enum policy_view v, int purpose, int st)
{
    if (st == policy_purpose_requires(purpose))
        return v;
    if (st == POLICY_CASE_CLOSED || st == POLICY_CASE_EXPIRED)
        return POLICY_NONE;
    return v == POLICY_FULL ? POLICY_MASKED : v;
}

static void test_default_matrix(void **state)
{
    struct policy *p = default_policy();
    int role, purpose, st, field, nfull = 0, checked = 0;

    (void)state;
    for (role = 0; role < POLICY_ROLE__COUNT; role++)
        for (purpose = 0; purpose < POLICY_PURPOSE__COUNT; purpose++)
            for (st = 0; st < POLICY_CASE__COUNT; st++)
                for (field = 0; field < MODEL_F__COUNT; field++) {
                    enum policy_view want = expected_view(
                        letter_view(expected_matrix[role][purpose][field]), purpose, st);
                    enum policy_view got = policy_field_view(p, role, purpose, st, field);

                    if (got != want)
                        fail_msg("%s %s %s %s: got %s, want %s", policy_role_name(role),
                                 policy_purpose_name(purpose), policy_case_state_name(st),
                                 model_field_name(field), policy_view_name(got),
                                 policy_view_name(want));
                    /* Never FULL outside the required state. */
                    if (got == POLICY_FULL) {
                        assert_int_equal(st, policy_purpose_requires(purpose));
                        nfull++;
                    }
                    checked++;
                }
    assert_int_equal(checked, 6 * 3 * 6 * 7);
    /* clerk 5 + agent 6 + 7 + 7 + supervisor 7 + 7 */
    assert_int_equal(nfull, 39);

    /* Spot checks of issue 4's sentences, in its words. */
    assert_int_equal(policy_field_view(p, POLICY_ROLE_CLERK, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_VERIFIED, MODEL_F_ADDRESS),
                     POLICY_MASKED);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_VERIFIED, MODEL_F_ADDRESS),
                     POLICY_FULL);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_CLERK, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_AWAITING_VERIFICATION, MODEL_F_PHONE),
                     POLICY_MASKED);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_CLERK, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_EXPIRED, MODEL_F_PHONE),
                     POLICY_NONE);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, POLICY_PURPOSE_FRAUD_INVESTIGATION,
                                       POLICY_CASE_PENDING_APPROVAL, MODEL_F_NAME),
                     POLICY_MASKED);
    /* A support case is verified, never "approved": no full values then. */
    assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_APPROVED, MODEL_F_NAME),
                     POLICY_MASKED);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, POLICY_PURPOSE_LEGAL_REQUEST,
                                       POLICY_CASE_VERIFIED, MODEL_F_NAME),
                     POLICY_MASKED);
    policy_free(p);
}

static void test_default_permissions(void **state)
{
    struct policy *p = default_policy();
    int role, purpose;

    (void)state;
    for (role = 0; role < POLICY_ROLE__COUNT; role++) {
        for (purpose = 0; purpose < POLICY_PURPOSE__COUNT; purpose++)
            if (policy_may_open(p, role, purpose) != expected_open[role][purpose])
                fail_msg("%s may_open %s", policy_role_name(role), policy_purpose_name(purpose));
        if (policy_may_lookup(p, role) != expected_lookup[role])
            fail_msg("%s may_lookup", policy_role_name(role));
        if (policy_may_approve(p, role, "approver", "requester") != expected_approve[role])
            fail_msg("%s may_approve", policy_role_name(role));
    }
    policy_free(p);
}

static void test_approval_rules(void **state)
{
    struct policy *p = default_policy();

    (void)state;
    assert_true(policy_may_approve(p, POLICY_ROLE_SUPERVISOR, "sup1", "agent7"));
    /* Never one's own case, in any letter case. */
    assert_false(policy_may_approve(p, POLICY_ROLE_SUPERVISOR, "sup1", "sup1"));
    assert_false(policy_may_approve(p, POLICY_ROLE_SUPERVISOR, "Sup1", "sUP1"));
    /* Names that differ only after a common prefix are different people. */
    assert_true(policy_may_approve(p, POLICY_ROLE_SUPERVISOR, "sup1", "sup10"));
    assert_true(policy_may_approve(p, POLICY_ROLE_SUPERVISOR, "sup10", "sup1"));
    /* Unknown people approve nothing. */
    assert_false(policy_may_approve(p, POLICY_ROLE_SUPERVISOR, NULL, "agent7"));
    assert_false(policy_may_approve(p, POLICY_ROLE_SUPERVISOR, "sup1", NULL));
    assert_false(policy_may_approve(p, POLICY_ROLE_SUPERVISOR, "", "agent7"));
    assert_false(policy_may_approve(p, POLICY_ROLE_SUPERVISOR, "sup1", ""));
    /* Only supervisors. */
    assert_false(policy_may_approve(p, POLICY_ROLE_CLERK, "clerk1", "agent7"));
    assert_false(policy_may_approve(p, POLICY_ROLE_AGENT, "agent1", "agent7"));
    assert_false(policy_may_approve(p, POLICY_ROLE_SECURITY, "sec1", "agent7"));
    assert_false(policy_may_approve(p, POLICY_ROLE_ADMIN, "admin1", "agent7"));
    assert_false(policy_may_approve(p, POLICY_ROLE_OPERATOR, "operator:root", "agent7"));
    assert_false(policy_may_approve(p, (enum policy_role) - 1, "x", "y"));
    assert_false(policy_may_approve(NULL, POLICY_ROLE_SUPERVISOR, "sup1", "agent7"));
    policy_free(p);

    /* A file may let agents approve; self-approval stays refused. */
    p = parse_edited_ok("roles.agent.approve", json_true());
    assert_true(policy_may_approve(p, POLICY_ROLE_AGENT, "agent1", "agent7"));
    assert_false(policy_may_approve(p, POLICY_ROLE_AGENT, "agent7", "agent7"));
    policy_free(p);

    /* And may take approval away from supervisors. */
    p = parse_edited_ok("roles.supervisor.approve", json_false());
    assert_false(policy_may_approve(p, POLICY_ROLE_SUPERVISOR, "sup1", "agent7"));
    policy_free(p);
}

static void test_out_of_range(void **state)
{
    struct policy *p = default_policy();

    (void)state;
    assert_int_equal(policy_field_view(NULL, POLICY_ROLE_AGENT, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_VERIFIED, MODEL_F_NAME),
                     POLICY_NONE);
    assert_int_equal(policy_field_view(p, (enum policy_role) - 1, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_VERIFIED, MODEL_F_NAME),
                     POLICY_NONE);
    assert_int_equal(policy_field_view(p, (enum policy_role)POLICY_ROLE__COUNT,
                                       POLICY_PURPOSE_CUSTOMER_SUPPORT, POLICY_CASE_VERIFIED,
                                       MODEL_F_NAME),
                     POLICY_NONE);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, (enum policy_purpose) - 1,
                                       POLICY_CASE_VERIFIED, MODEL_F_NAME),
                     POLICY_NONE);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       (enum policy_case_state)POLICY_CASE__COUNT, MODEL_F_NAME),
                     POLICY_NONE);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_VERIFIED, MODEL_F__COUNT),
                     POLICY_NONE);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_VERIFIED, (enum model_field) - 1),
                     POLICY_NONE);
    assert_false(policy_may_open(p, (enum policy_role) - 1, POLICY_PURPOSE_CUSTOMER_SUPPORT));
    assert_false(policy_may_open(p, POLICY_ROLE_AGENT, (enum policy_purpose) - 1));
    assert_false(policy_may_open(NULL, POLICY_ROLE_AGENT, POLICY_PURPOSE_CUSTOMER_SUPPORT));
    assert_false(policy_may_lookup(p, (enum policy_role)POLICY_ROLE__COUNT));
    assert_false(policy_may_lookup(NULL, POLICY_ROLE_CLERK));
    assert_int_equal(policy_quota(p, (enum policy_role) - 1)->reveals_per_day, 0);
    assert_int_equal(policy_quota(NULL, POLICY_ROLE_CLERK)->lookups_per_day, 0);
    policy_free(p);
}

/* ---- limits ------------------------------------------------------------------------ */

static void test_default_limits(void **state)
{
    struct policy *p = default_policy();
    const struct policy_quota *q;
    const struct policy_statutory *s;
    const struct policy_enumeration *e;
    const struct policy_hours *h;
    static const uint32_t legal[POLICY_CAT__COUNT] = {50, 50, 50, 50, 500, 500, 500, 500, 5000};
    static const double staff[POLICY_CAT__COUNT] = {25, 25, 25, 25, 250, 250, 250, 250, 2500};
    static const enum policy_category cat[MODEL_F__COUNT] = {
        [MODEL_F_ACCOUNT] = POLICY_CAT_OTHER,         [MODEL_F_NAME] = POLICY_CAT_OTHER,
        [MODEL_F_PHONE] = POLICY_CAT_OTHER,           [MODEL_F_EMAIL] = POLICY_CAT_OTHER,
        [MODEL_F_ADDRESS] = POLICY_CAT_ACCOMMODATION, [MODEL_F_BIRTH_DATE] = POLICY_CAT_OTHER,
        [MODEL_F_DEVICES] = POLICY_CAT_TRANSACTION,
    };
    int c, f, role;

    (void)state;
    q = policy_quota(p, POLICY_ROLE_CLERK);
    assert_int_equal(q->lookups_per_hour, 60);
    assert_int_equal(q->lookups_per_day, 300);
    assert_int_equal(q->reveals_per_hour, 20);
    assert_int_equal(q->reveals_per_day, 100);
    assert_true(q->step_up_fraction == 0.8);
    q = policy_quota(p, POLICY_ROLE_AGENT);
    assert_int_equal(q->lookups_per_hour, 60);
    assert_int_equal(q->lookups_per_day, 400);
    assert_int_equal(q->reveals_per_hour, 30);
    assert_int_equal(q->reveals_per_day, 150);
    assert_true(q->step_up_fraction == 0.8);
    q = policy_quota(p, POLICY_ROLE_SUPERVISOR);
    assert_int_equal(q->lookups_per_day, 0);
    assert_int_equal(q->reveals_per_hour, 10);
    assert_int_equal(q->reveals_per_day, 40);
    for (role = POLICY_ROLE_SECURITY; role < POLICY_ROLE__COUNT; role++) {
        q = policy_quota(p, role);
        assert_int_equal(q->lookups_per_day + q->reveals_per_day, 0);
    }

    s = policy_statutory(p);
    assert_int_equal(s->window_days, 30);
    for (c = 0; c < POLICY_CAT__COUNT; c++) {
        assert_int_equal(s->threshold[c], legal[c]);
        assert_true(s->staff_threshold[c] == staff[c]);
    }
    assert_true(s->duty_factor == 0.5);
    assert_true(s->alert_fraction == 0.5);
    assert_true(s->block_fraction == 0.8);
    for (f = 0; f < MODEL_F__COUNT; f++)
        if (s->field_category[f] != cat[f])
            fail_msg("category of %s", model_field_name(f));

    e = policy_enumeration(p);
    assert_int_equal(e->window_hours, 24);
    assert_int_equal(e->imei_serial_distance, 100);
    assert_int_equal(e->phone_distance, 100);
    assert_int_equal(e->alert_after, 3);
    assert_int_equal(e->block_after, 5);

    h = policy_store_hours(p, NULL);
    assert_string_equal(h->timezone, "Asia/Shanghai");
    assert_int_equal(h->open_minute, 9 * 60);
    assert_int_equal(h->close_minute, 22 * 60);
    assert_ptr_equal(policy_store_hours(p, "SZ01"), h);
    assert_false(policy_hours_open_at(h, 9 * 60 - 1));
    assert_true(policy_hours_open_at(h, 9 * 60));
    assert_true(policy_hours_open_at(h, 22 * 60 - 1));
    assert_false(policy_hours_open_at(h, 22 * 60));
    assert_false(policy_hours_open_at(h, -1));
    assert_false(policy_hours_open_at(h, 24 * 60));
    assert_false(policy_hours_open_at(NULL, 600));
    policy_free(p);
}

static void test_limits_edited(void **state)
{
    struct policy *p;
    const struct policy_hours *h;
    json_t *stores;

    (void)state;
    p = parse_edited_ok("statutory.duty_factor", json_real(1.0));
    assert_true(policy_statutory(p)->staff_threshold[POLICY_CAT_WHEREABOUTS] == 50);
    policy_free(p);

    p = parse_edited_ok("roles.clerk.quotas.reveals_per_day", json_integer(25));
    assert_int_equal(policy_quota(p, POLICY_ROLE_CLERK)->reveals_per_day, 25);
    policy_free(p);

    p = parse_edited_ok("statutory.fields.address", json_string("whereabouts"));
    assert_int_equal(policy_statutory(p)->field_category[MODEL_F_ADDRESS], POLICY_CAT_WHEREABOUTS);
    policy_free(p);

    /* Per-store hours: one closing after midnight, one never closing. */
    stores = json_pack("{s:{s:s,s:s,s:s},s:{s:s,s:s,s:s}}", "BJ02", "timezone", "Asia/Shanghai",
                       "open", "18:00", "close", "02:00", "HK01", "timezone", "Asia/Hong_Kong",
                       "open", "00:00", "close", "24:00");
    assert_non_null(stores);
    p = parse_edited_ok("store_hours.stores", stores);
    h = policy_store_hours(p, "BJ02");
    assert_int_equal(h->open_minute, 18 * 60);
    assert_int_equal(h->close_minute, 2 * 60);
    assert_true(policy_hours_open_at(h, 23 * 60));
    assert_true(policy_hours_open_at(h, 0));
    assert_true(policy_hours_open_at(h, 2 * 60 - 1));
    assert_false(policy_hours_open_at(h, 2 * 60));
    assert_false(policy_hours_open_at(h, 12 * 60));
    h = policy_store_hours(p, "HK01");
    assert_string_equal(h->timezone, "Asia/Hong_Kong");
    assert_true(policy_hours_open_at(h, 0));
    assert_true(policy_hours_open_at(h, 24 * 60 - 1));
    /* Other stores keep the default; store codes are exact. */
    assert_int_equal(policy_store_hours(p, "hk01")->open_minute, 9 * 60);
    policy_free(p);

    /* "stores" may be left out. */
    p = parse_edited_ok("store_hours.stores", NULL);
    assert_int_equal(policy_store_hours(p, "HK01")->open_minute, 9 * 60);
    policy_free(p);
}

/* ---- deny by default ------------------------------------------------------------------ */

static void test_deny_by_default(void **state)
{
    struct policy *p;
    json_t *root;
    char *err = NULL;
    int role, purpose, field;

    (void)state;
    /* One missing matrix entry: that field is none, the rest unchanged. */
    p = parse_edited_ok("roles.clerk.customer_support.phone", NULL);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_CLERK, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_VERIFIED, MODEL_F_PHONE),
                     POLICY_NONE);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_CLERK, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_AWAITING_VERIFICATION, MODEL_F_PHONE),
                     POLICY_NONE);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_CLERK, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_VERIFIED, MODEL_F_NAME),
                     POLICY_FULL);
    policy_free(p);

    /* A missing purpose entry. */
    p = parse_edited_ok("roles.agent.legal_request", NULL);
    for (field = 0; field < MODEL_F__COUNT; field++)
        assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, POLICY_PURPOSE_LEGAL_REQUEST,
                                           POLICY_CASE_APPROVED, field),
                         POLICY_NONE);
    assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, POLICY_PURPOSE_FRAUD_INVESTIGATION,
                                       POLICY_CASE_APPROVED, MODEL_F_NAME),
                     POLICY_FULL);
    policy_free(p);

    /* A missing "lookup", "open" or "approve" grants nothing. */
    p = parse_edited_ok("roles.clerk.lookup", NULL);
    assert_false(policy_may_lookup(p, POLICY_ROLE_CLERK));
    assert_true(policy_may_open(p, POLICY_ROLE_CLERK, POLICY_PURPOSE_CUSTOMER_SUPPORT));
    policy_free(p);
    p = parse_edited_ok("roles.supervisor.approve", NULL);
    assert_false(policy_may_approve(p, POLICY_ROLE_SUPERVISOR, "sup1", "agent7"));
    policy_free(p);

    /* A role that may not open a purpose sees nothing under it, whatever
     * its matrix says. */
    p = parse_edited_ok("roles.agent.open", json_pack("[s]", "customer_support"));
    assert_false(policy_may_open(p, POLICY_ROLE_AGENT, POLICY_PURPOSE_FRAUD_INVESTIGATION));
    assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, POLICY_PURPOSE_FRAUD_INVESTIGATION,
                                       POLICY_CASE_APPROVED, MODEL_F_NAME),
                     POLICY_NONE);
    policy_free(p);

    /* A missing role may do nothing. */
    p = parse_edited_ok("roles.agent", NULL);
    assert_false(policy_may_lookup(p, POLICY_ROLE_AGENT));
    assert_int_equal(policy_quota(p, POLICY_ROLE_AGENT)->reveals_per_day, 0);
    for (purpose = 0; purpose < POLICY_PURPOSE__COUNT; purpose++) {
        assert_false(policy_may_open(p, POLICY_ROLE_AGENT, purpose));
        for (field = 0; field < MODEL_F__COUNT; field++)
            assert_int_equal(policy_field_view(p, POLICY_ROLE_AGENT, purpose,
                                               policy_purpose_requires(purpose), field),
                             POLICY_NONE);
    }
    policy_free(p);

    /* No roles at all: a valid file in which nobody may do anything. */
    root = default_json();
    json_path_set(root, "roles", json_object());
    assert_int_equal(parse_json(root, &p, &err), CU_OK);
    for (role = 0; role < POLICY_ROLE__COUNT; role++) {
        assert_false(policy_may_lookup(p, role));
        assert_false(policy_may_approve(p, role, "a", "b"));
        for (purpose = 0; purpose < POLICY_PURPOSE__COUNT; purpose++) {
            assert_false(policy_may_open(p, role, purpose));
            for (field = 0; field < MODEL_F__COUNT; field++)
                assert_int_equal(
                    policy_field_view(p, role, purpose, policy_purpose_requires(purpose), field),
                    POLICY_NONE);
        }
    }
    policy_free(p);
    json_decref(root);
}

/* ---- malformed files ---------------------------------------------------------------------- */

struct bad_edit {
    const char *path;
    const char *value; /* JSON text of the new value; NULL deletes the member */
    const char *error; /* the whole expected message */
};

static const struct bad_edit bad_edits[] = {
    /* unknown names */
    {"roles.janitor", "{}",
     "roles.janitor: unknown role (expected clerk, agent, supervisor, security, admin or "
     "operator)"},
    {"roles.clerk.customer_support.imei", "\"full\"",
     "roles.clerk.customer_support.imei: unknown field (expected account, name, phone, email, "
     "address, birth_date or devices)"},
    {"roles.clerk.sales", "{}",
     "roles.clerk.sales: unknown key (expected lookup, open, approve, quotas or a purpose: "
     "customer_support, fraud_investigation, legal_request)"},
    {"roles.clerk.open", "[\"customer_support\", \"sales\"]",
     "roles.clerk.open[1]: expected customer_support, fraud_investigation or legal_request"},
    {"roles.clerk.open", "[\"customer_support\", \"customer_support\"]",
     "roles.clerk.open[1]: customer_support listed twice"},
    {"rolez", "{}",
     "rolez: unknown key (expected version, roles, statutory, enumeration or store_hours)"},
    {"statutory.fields.imei", "\"other\"",
     "statutory.fields.imei: unknown key (expected account, name, phone, email, address, "
     "birth_date or devices)"},
    {"statutory.thresholds.gossip", "5",
     "statutory.thresholds.gossip: unknown key (expected a legal category: whereabouts, "
     "communication_content, credit, property, accommodation, communication_records, health, "
     "transaction or other)"},
    /* bad values */
    {"roles.clerk.customer_support.phone", "\"everything\"",
     "roles.clerk.customer_support.phone: expected full, masked or none"},
    {"roles.clerk.customer_support.phone", "true",
     "roles.clerk.customer_support.phone: expected full, masked or none"},
    {"roles.clerk.customer_support.phone", "\"Full\"",
     "roles.clerk.customer_support.phone: expected full, masked or none"},
    {"roles.clerk.customer_support", "[]",
     "roles.clerk.customer_support: expected an object mapping fields to full, masked or none"},
    {"roles.clerk.lookup", "\"yes\"", "roles.clerk.lookup: expected true or false"},
    {"roles.clerk.open", "\"customer_support\"", "roles.clerk.open: expected a list of purposes"},
    {"roles.clerk", "true", "roles.clerk: expected an object"},
    {"version", "2", "version: unsupported policy version (this custodian reads 1)"},
    {"version", "\"1\"", "version: unsupported policy version (this custodian reads 1)"},
    /* quotas */
    {"roles.clerk.quotas.reveals_per_day", "-1",
     "roles.clerk.quotas.reveals_per_day: expected a whole number from 0 to 1000000"},
    {"roles.clerk.quotas.reveals_per_day", "2.5",
     "roles.clerk.quotas.reveals_per_day: expected a whole number from 0 to 1000000"},
    {"roles.clerk.quotas.reveals_per_day", "\"100\"",
     "roles.clerk.quotas.reveals_per_day: expected a whole number from 0 to 1000000"},
    {"roles.clerk.quotas.lookups_per_hour", "1000001",
     "roles.clerk.quotas.lookups_per_hour: expected a whole number from 0 to 1000000"},
    {"roles.clerk.quotas.reveals_per_hour", "101",
     "roles.clerk.quotas.reveals_per_hour: more than reveals_per_day"},
    {"roles.clerk.quotas.step_up_fraction", "0",
     "roles.clerk.quotas.step_up_fraction: expected a number greater than 0 and at most 1"},
    {"roles.clerk.quotas.step_up_fraction", "1.5",
     "roles.clerk.quotas.step_up_fraction: expected a number greater than 0 and at most 1"},
    {"roles.clerk.quotas.reveals_per_day", NULL, "roles.clerk.quotas.reveals_per_day: missing"},
    {"roles.clerk.quotas.per_week", "5",
     "roles.clerk.quotas.per_week: unknown key (expected lookups_per_hour, lookups_per_day, "
     "reveals_per_hour, reveals_per_day or step_up_fraction)"},
    {"roles.clerk.quotas", NULL,
     "roles.clerk.quotas: missing (required for a role that may look customers up or open "
     "cases)"},
    /* fixed rules */
    {"roles.security.lookup", "true",
     "roles.security.lookup: security may never look customers up (fixed rule)"},
    {"roles.admin.lookup", "true",
     "roles.admin.lookup: admin may never look customers up (fixed rule)"},
    {"roles.security.customer_support", "{\"name\": \"masked\"}",
     "roles.security.customer_support.name: security may never see customer values (fixed "
     "rule)"},
    {"roles.admin.legal_request", "{\"phone\": \"full\"}",
     "roles.admin.legal_request.phone: admin may never see customer values (fixed rule)"},
    {"roles.operator.customer_support", "{\"name\": \"full\"}",
     "roles.operator.customer_support.name: operator may never see customer values (fixed "
     "rule)"},
    {"roles.admin.open", "[\"legal_request\"]",
     "roles.admin.open[0]: admin may never open cases (fixed rule)"},
    {"roles.operator.open", "[\"customer_support\"]",
     "roles.operator.open[0]: operator may never open cases (fixed rule)"},
    {"roles.security.approve", "true",
     "roles.security.approve: security may never approve cases (fixed rule)"},
    {"roles.operator.approve", "true",
     "roles.operator.approve: operator may never approve cases (fixed rule)"},
    {"roles.operator.quotas", "{}",
     "roles.operator.quotas: operator has no quotas: the local operator is not limited by the "
     "detector"},
    {"roles.security.quotas", "{}",
     "roles.security.quotas: security has no quotas: it may neither look up nor reveal"},
    /* statutory meter */
    {"statutory", NULL, "statutory: missing"},
    {"statutory.fields.devices", NULL, "statutory.fields.devices: missing"},
    {"statutory.fields.phone", "\"secret\"",
     "statutory.fields.phone: expected a legal category: whereabouts, communication_content, "
     "credit, property, accommodation, communication_records, health, transaction or other"},
    {"statutory.thresholds.other", "0",
     "statutory.thresholds.other: expected a whole number from 1 to 10000000"},
    {"statutory.thresholds.credit", NULL, "statutory.thresholds.credit: missing"},
    {"statutory.alert_fraction", "0.9", "statutory.alert_fraction: more than block_fraction"},
    {"statutory.block_fraction", "1.2",
     "statutory.block_fraction: expected a number greater than 0 and at most 1"},
    {"statutory.duty_factor", "-0.5",
     "statutory.duty_factor: expected a number greater than 0 and at most 1"},
    {"statutory.window_days", "0", "statutory.window_days: expected a whole number from 1 to 366"},
    /* enumeration */
    {"enumeration", NULL, "enumeration: missing"},
    {"enumeration.alert_after", "6", "enumeration.alert_after: more than block_after"},
    {"enumeration.imei_serial_distance", "0",
     "enumeration.imei_serial_distance: expected a whole number from 1 to 999999"},
    /* store hours */
    {"store_hours", NULL, "store_hours: missing"},
    {"store_hours.default.timezone", "\"../../etc/passwd\"",
     "store_hours.default.timezone: expected an IANA time zone name such as Asia/Shanghai"},
    {"store_hours.default.timezone", "\"/etc/localtime\"",
     "store_hours.default.timezone: expected an IANA time zone name such as Asia/Shanghai"},
    {"store_hours.default.timezone", "\"\"",
     "store_hours.default.timezone: expected an IANA time zone name such as Asia/Shanghai"},
    {"store_hours.default.open", "\"9:00\"",
     "store_hours.default.open: expected a time of day from 00:00 to 23:59"},
    {"store_hours.default.open", "\"24:00\"",
     "store_hours.default.open: expected a time of day from 00:00 to 23:59"},
    {"store_hours.default.close", "\"22:60\"",
     "store_hours.default.close: expected a time of day from 00:01 to 24:00"},
    {"store_hours.default.close", "\"24:01\"",
     "store_hours.default.close: expected a time of day from 00:01 to 24:00"},
    {"store_hours.default.close", "\"09:00\"",
     "store_hours.default.close: same as open (for a store that never closes, open 00:00 and "
     "close 24:00)"},
    {"store_hours.stores", "{\"SZ01\": {\"timezone\": \"Asia/Shanghai\", \"open\": \"09:00\"}}",
     "store_hours.stores.SZ01.close: missing"},
    {"store_hours.stores", "[]",
     "store_hours.stores: expected an object mapping store codes to hours"},
};

static void test_malformed_edits(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < CU_ARRAY_LEN(bad_edits); i++) {
        const struct bad_edit *b = &bad_edits[i];
        struct policy *p = (struct policy *)1;
        json_error_t jerr;
        json_t *v = NULL;
        char *err = NULL;
        int rc;

        if (b->value != NULL) {
            v = json_loads(b->value, JSON_DECODE_ANY, &jerr);
            assert_non_null(v);
        }
        rc = parse_edited(b->path, v, &p, &err);
        if (rc != CU_ERR_INVALID)
            fail_msg("edit %zu (%s): rc %d", i, b->path, rc);
        assert_null(p);
        if (err == NULL || strcmp(err, b->error) != 0)
            fail_msg("edit %zu (%s):\n got  %s\n want %s", i, b->path, err ? err : "(null)",
                     b->error);
        free(err);
    }
}

static void expect_text_error(const char *text, const char *prefix)
{
    struct policy *p = (struct policy *)1;
    char *err = NULL;

    assert_int_equal(policy_parse(text, strlen(text), &p, &err), CU_ERR_INVALID);
    assert_null(p);
    assert_non_null(err);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("got \"%s\", want a message starting \"%s\"", err, prefix);
    free(err);
}

static void test_malformed_text(void **state)
{
    const char *text;
    size_t len;
    char *big, *dup;

    (void)state;
    expect_text_error("", "line 1, column 0: ");
    expect_text_error("{\"version\": 1,, }", "line 1, column 15: ");
    expect_text_error("{\n  \"version\": 1,\n  \"roles\": {\n", "line 4, column 0: ");
    expect_text_error("[1, 2]", "the policy must be a JSON object");
    expect_text_error("{} trailing", "line 1, column ");
    expect_text_error("{}", "version: missing");

    /* A duplicated member could hide a grant: refused. */
    text = policy_default_text(&len);
    dup = malloc(len + 64);
    assert_non_null(dup);
    snprintf(dup, len + 64, "%.*s", (int)len, text);
    {
        char *at = strstr(dup, "\"phone\": \"full\",");
        assert_non_null(at);
        memmove(at + 16, at, strlen(at) + 1);
        memcpy(at, "\"phone\": \"none\",", 16);
    }
    expect_text_error(dup, "line ");
    free(dup);

    /* Text need not be NUL-terminated: only `len` bytes are read. */
    {
        struct policy *p = NULL;
        char *err = NULL;
        char *copy = malloc(len + 10);

        assert_non_null(copy);
        memcpy(copy, text, len);
        memcpy(copy + len, "garbage!!", 10);
        assert_int_equal(policy_parse(copy, len, &p, &err), CU_OK);
        policy_free(p);
        free(copy);
    }

    /* Oversized input is refused before parsing. */
    big = malloc(2 * 1024 * 1024 + 1);
    assert_non_null(big);
    memset(big, ' ', 2 * 1024 * 1024);
    big[2 * 1024 * 1024] = '\0';
    memcpy(big, "{}", 2);
    expect_text_error(big, "policy larger than");
    free(big);
}

/* Keys starting with '_' are comments, allowed anywhere. */
static void test_comments(void **state)
{
    struct policy *p;

    (void)state;
    p = parse_edited_ok("roles.clerk.customer_support._why", json_string("counter staff"));
    assert_int_equal(policy_field_view(p, POLICY_ROLE_CLERK, POLICY_PURPOSE_CUSTOMER_SUPPORT,
                                       POLICY_CASE_VERIFIED, MODEL_F_PHONE),
                     POLICY_FULL);
    policy_free(p);
    p = parse_edited_ok("statutory.thresholds._source", json_string("art. 5"));
    policy_free(p);
    p = parse_edited_ok("roles._note", json_object());
    policy_free(p);
}

/* ---- the embedded default ------------------------------------------------------------------ */

static void test_embedded_default_is_file(void **state)
{
    FILE *f = fopen(DEFAULT_JSON, "rb");
    char *file;
    long n;
    size_t len;
    const char *text = policy_default_text(&len);

    (void)state;
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    file = malloc((size_t)n);
    assert_non_null(file);
    assert_int_equal(fread(file, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    assert_int_equal(len, (size_t)n);
    assert_memory_equal(text, file, len);
    assert_int_equal(strlen(text), len);
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_default_matrix),
        cmocka_unit_test(test_default_permissions),
        cmocka_unit_test(test_approval_rules),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_default_limits),
        cmocka_unit_test(test_limits_edited),
        cmocka_unit_test(test_deny_by_default),
        cmocka_unit_test(test_malformed_edits),
        cmocka_unit_test(test_malformed_text),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_embedded_default_is_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
