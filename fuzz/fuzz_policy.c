/*
 * Fuzz target: the policy file parser (src/policy/policy.c, DIR/policy.json).
 * A file that parses must keep the rules policy.h says no file can break:
 * full values only in the state the purpose requires and only to a role
 * that may open such cases, never to security, admin or operator; nobody
 * approves their own case; limits within their documented ranges.  Every
 * refusal must come with a message.
 */
#include "fuzz.h"

#include "policy/policy.h"

static void check_policy(const struct policy *p)
{
    static const char *const stores[] = {NULL, "", "S001", "SZ-01", "BJ-07", "x"};
    const struct policy_statutory *st = policy_statutory(p);
    const struct policy_enumeration *en = policy_enumeration(p);
    int role, purpose, state, field, cat, minute;
    size_t i;

    for (role = -1; role <= POLICY_ROLE__COUNT; role++) {
        const struct policy_quota *q = policy_quota(p, (enum policy_role)role);
        int separated = role == POLICY_ROLE_SECURITY || role == POLICY_ROLE_ADMIN ||
                        role == POLICY_ROLE_OPERATOR;

        FUZZ_CHECK(q != NULL);
        if (q->lookups_per_hour || q->lookups_per_day || q->reveals_per_hour || q->reveals_per_day)
            FUZZ_CHECK(q->step_up_fraction > 0 && q->step_up_fraction <= 1);
        if (separated || role < 0 || role >= POLICY_ROLE__COUNT)
            FUZZ_CHECK(!policy_may_approve(p, (enum policy_role)role, "alice", "bob"));
        /* The operator's masked look-ups are the CLI's; no one else's. */
        if (role == POLICY_ROLE_SECURITY || role == POLICY_ROLE_ADMIN || role < 0 ||
            role >= POLICY_ROLE__COUNT)
            FUZZ_CHECK(!policy_may_lookup(p, (enum policy_role)role));
        FUZZ_CHECK(!policy_may_approve(p, (enum policy_role)role, "alice", "alice"));
        FUZZ_CHECK(!policy_may_approve(p, (enum policy_role)role, "Alice", "alice"));
        FUZZ_CHECK(!policy_may_approve(p, (enum policy_role)role, "", ""));
        FUZZ_CHECK(!policy_may_approve(p, (enum policy_role)role, NULL, "bob"));
        for (purpose = -1; purpose <= POLICY_PURPOSE__COUNT; purpose++) {
            int may_open = policy_may_open(p, (enum policy_role)role, (enum policy_purpose)purpose);

            if (separated)
                FUZZ_CHECK(!may_open);
            for (state = -1; state <= POLICY_CASE__COUNT; state++) {
                for (field = -1; field <= MODEL_F__COUNT; field++) {
                    enum policy_view v =
                        policy_field_view(p, (enum policy_role)role, (enum policy_purpose)purpose,
                                          (enum policy_case_state)state, (enum model_field)field);

                    FUZZ_CHECK(v == POLICY_NONE || v == POLICY_MASKED || v == POLICY_FULL);
                    if (v == POLICY_FULL) {
                        FUZZ_CHECK(!separated && may_open);
                        FUZZ_CHECK(state == policy_purpose_requires((enum policy_purpose)purpose));
                    }
                    if (v != POLICY_NONE)
                        FUZZ_CHECK(state != POLICY_CASE_CLOSED && state != POLICY_CASE_EXPIRED &&
                                   field >= 0 && field < MODEL_F__COUNT && !separated);
                }
            }
        }
    }
    FUZZ_CHECK(st->window_days > 0);
    FUZZ_CHECK(st->alert_fraction > 0 && st->alert_fraction <= st->block_fraction &&
               st->block_fraction <= 1);
    for (cat = 0; cat < POLICY_CAT__COUNT; cat++)
        FUZZ_CHECK(st->staff_threshold[cat] >= 0);
    for (field = 0; field < MODEL_F__COUNT; field++)
        FUZZ_CHECK(st->field_category[field] >= 0 && st->field_category[field] < POLICY_CAT__COUNT);
    FUZZ_CHECK(en->block_after >= en->alert_after);
    for (i = 0; i < CU_ARRAY_LEN(stores); i++) {
        const struct policy_hours *h = policy_store_hours(p, stores[i]);

        FUZZ_CHECK(h != NULL);
        FUZZ_CHECK(memchr(h->timezone, '\0', sizeof(h->timezone)) != NULL);
        FUZZ_CHECK(h->open_minute >= 0 && h->open_minute <= 1439);
        FUZZ_CHECK(h->close_minute >= 1 && h->close_minute <= 1440 &&
                   h->close_minute != h->open_minute);
        for (minute = 0; minute < 1440; minute += 97)
            (void)policy_hours_open_at(h, minute);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy *p = (struct policy *)1;
    char *err = NULL;
    int rc;

    rc = policy_parse((const char *)data, size, &p, &err);
    if (rc == CU_OK) {
        FUZZ_CHECK(p != NULL && err == NULL);
        check_policy(p);
        policy_free(p);
    } else {
        FUZZ_CHECK(rc == CU_ERR_INVALID && p == NULL && err != NULL && err[0] != '\0');
        free(err);
    }
    return 0;
}
