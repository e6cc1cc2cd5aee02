/* Insider detection: the pure rules (detect.h). */
#include "detect.h"

#include <stdio.h>
#include <string.h>

const char *detect_metric_name(int metric)
{
    static const char *const cats[POLICY_CAT__COUNT] = {
        "category:whereabouts", "category:communication_content", "category:credit",
        "category:property",    "category:accommodation",         "category:communication_records",
        "category:health",      "category:transaction",           "category:other"};

    if (metric == DETECT_LOOKUPS)
        return "lookups";
    if (metric == DETECT_REVEALS)
        return "reveals";
    if (metric >= DETECT_CATEGORY && metric < DETECT_CASES_OPENED)
        return cats[metric - DETECT_CATEGORY];
    if (metric == DETECT_CASES_OPENED)
        return "cases_opened";
    if (metric == DETECT_CASES_VERIFIED)
        return "cases_verified";
    if (metric == DETECT_WRONG_CODES)
        return "wrong_codes";
    if (metric == DETECT_APPROVALS)
        return "approvals";
    return NULL;
}

double detect_meter(const struct policy *p, const struct detect_usage *u,
                    const struct detect_request *r)
{
    const struct policy_statutory *st = policy_statutory(p);
    double add[POLICY_CAT__COUNT] = {0}, m = 0;
    int f, c;

    if (r != NULL && r->kind == DETECT_REVEAL)
        for (f = 0; f < MODEL_F__COUNT; f++)
            if (r->fields[f])
                add[st->field_category[f]] += 1;
    for (c = 0; c < POLICY_CAT__COUNT; c++)
        if (st->staff_threshold[c] > 0)
            m += ((double)u->category[c] + add[c]) / st->staff_threshold[c];
    return m;
}

/* Raises the verdict to `action` (never lowers it) with its rule. */
static void find(struct detect_verdict *v, enum detect_action action, const char *rule,
                 const char *detail)
{
    if (action < v->action || (action == v->action && v->rule != NULL))
        return;
    v->action = action;
    v->rule = rule;
    snprintf(v->detail, sizeof(v->detail), "%s", detail);
}

/* One quota: `have` before the request, the request makes it have + 1. */
static void quota(struct detect_verdict *v, uint32_t have, uint32_t limit, double step_up,
                  const char *rule, const char *what)
{
    char d[160];

    if ((uint64_t)have + 1 > limit) {
        snprintf(d, sizeof(d), "%s: %u done, limit %u", what, have, limit);
        find(v, DETECT_BLOCK, rule, d);
    } else if ((double)have + 1 >= step_up * (double)limit) {
        snprintf(d, sizeof(d), "%s: %u done, near the limit of %u", what, have, limit);
        find(v, DETECT_STEP_UP, rule, d);
    }
}

void detect_judge(const struct policy *p, enum policy_role role, const struct detect_usage *u,
                  const struct detect_request *r, struct detect_verdict *v)
{
    const struct policy_quota *q = policy_quota(p, role);
    const struct policy_statutory *st = policy_statutory(p);

    memset(v, 0, sizeof(*v));
    v->action = DETECT_ALLOW;
    if (r->canary) {
        /* Nobody has a reason to look a canary up: suspend, whatever else. */
        v->alert = v->critical = v->suspend = 1;
        v->rule = "canary";
        snprintf(v->detail, sizeof(v->detail), "a canary customer was %s",
                 r->kind == DETECT_REVEAL ? "revealed" : "looked up");
        return;
    }
    if (r->kind == DETECT_CASE_OPEN) {
        uint32_t open = u->cases_opened_day > u->cases_verified_day
                            ? u->cases_opened_day - u->cases_verified_day
                            : 0;
        uint32_t alert = q->reveals_per_hour / 2 > 5 ? q->reveals_per_hour / 2 : 5;
        uint32_t block = q->reveals_per_hour > 10 ? q->reveals_per_hour : 10;

        if (open + 1 > block) {
            v->action = DETECT_BLOCK;
            v->alert = 1;
            v->rule = "unverified-cases";
            snprintf(v->detail, sizeof(v->detail),
                     "%u cases opened today are not verified (block at %u)", open, block);
        } else if (open + 1 == alert) {
            v->alert = 1;
            v->rule = "unverified-cases";
            snprintf(v->detail, sizeof(v->detail),
                     "%u cases opened today are not verified (alert at %u)", open + 1, alert);
        }
        return;
    }
    if (r->kind == DETECT_APPROVE) {
        uint32_t many = q->reveals_per_day / 4 > 5 ? q->reveals_per_day / 4 : 5;
        uint32_t all = u->approvals_30d + 1, same = u->approvals_same_30d + 1;

        if (u->approvals_day + 1 > many) {
            v->alert = 1;
            v->rule = "approvals-many";
            snprintf(v->detail, sizeof(v->detail),
                     "%u investigations approved today (more than %u)", u->approvals_day + 1, many);
        } else if (all >= 5 && same * 5 >= all * 4) {
            v->alert = 1;
            v->rule = "approvals-one-requester";
            snprintf(v->detail, sizeof(v->detail),
                     "%u of %u approvals in 30 days for the same requester", same, all);
        }
        return;
    }
    if (r->kind == DETECT_VERIFY) {
        /* at least two cases' worth of tries: a customer who mistypes
         * their code five times does not stop the clerk */
        uint32_t limit = q->reveals_per_hour / 2 > 10 ? q->reveals_per_hour / 2 : 10;

        if (u->wrong_codes_hour >= limit) {
            v->action = DETECT_BLOCK;
            v->alert = 1;
            v->rule = "wrong-codes";
            snprintf(v->detail, sizeof(v->detail),
                     "%u wrong one-time codes in the last hour (at most %u)", u->wrong_codes_hour,
                     limit);
        }
        return;
    }
    if (r->kind == DETECT_LOOKUP) {
        quota(v, u->lookups_hour, q->lookups_per_hour, q->step_up_fraction, "quota-lookups-hour",
              "look-ups this hour");
        quota(v, u->lookups_day, q->lookups_per_day, q->step_up_fraction, "quota-lookups-day",
              "look-ups today");
        {
            /* many look-ups, few of them customers who proved they were there */
            uint32_t floor = q->lookups_per_day / 4 > 50 ? q->lookups_per_day / 4 : 50;
            uint32_t n = u->lookups_day + 1;

            if (n >= floor && (uint64_t)u->cases_verified_day * 20 < n && !v->alert &&
                v->action == DETECT_ALLOW) {
                v->alert = 1;
                v->rule = "lookups-without-cases";
                snprintf(v->detail, sizeof(v->detail),
                         "%u look-ups in a day and %u verified cases (under 1 in 20)", n,
                         u->cases_verified_day);
            }
        }
        if (r->neighbours > 0) {
            const struct policy_enumeration *en = policy_enumeration(p);
            uint32_t near = r->neighbours + 1; /* with this one */
            char d[160];

            snprintf(d, sizeof(d),
                     "%u look-ups of neighbouring identifiers in %u hours (alert at %u, block at "
                     "%u)",
                     near, en->window_hours, en->alert_after, en->block_after);
            if (near >= en->block_after) {
                v->action = DETECT_BLOCK;
                v->rule = "enumeration";
                snprintf(v->detail, sizeof(v->detail), "%s", d);
            } else if (near == en->alert_after) {
                v->alert = 1;
                if (v->action == DETECT_ALLOW) {
                    v->rule = "enumeration";
                    snprintf(v->detail, sizeof(v->detail), "%s", d);
                }
            }
        }
    } else {
        quota(v, u->reveals_hour, q->reveals_per_hour, q->step_up_fraction, "quota-reveals-hour",
              "reveals this hour");
        quota(v, u->reveals_day, q->reveals_per_day, q->step_up_fraction, "quota-reveals-day",
              "reveals today");
        {
            uint32_t burst = q->reveals_per_hour / 4 > 3 ? q->reveals_per_hour / 4 : 3;

            if (v->action != DETECT_BLOCK && (uint64_t)u->reveals_10min + 1 > burst) {
                v->action = DETECT_BLOCK;
                v->rule = "burst";
                v->suspend = 1;
                snprintf(v->detail, sizeof(v->detail),
                         "reveals in 10 minutes: %u done, at most %u (a quarter of the hourly "
                         "quota)",
                         u->reveals_10min, burst);
            }
        }
        if (r->peers >= 3) {
            double x = (double)r->reveals_today + 1;
            double z = (x - r->peer_mean) / (r->peer_stdev + 1);
            uint32_t floor = q->reveals_per_day / 10 > 10 ? q->reveals_per_day / 10 : 10;

            if (z > 3 && x >= floor && !v->alert && v->action == DETECT_ALLOW) {
                v->alert = 1;
                v->rule = "peer-baseline";
                snprintf(v->detail, sizeof(v->detail),
                         "%.0f reveals in a day against %u peers' %.1f (stdev %.1f): z %.1f", x,
                         r->peers, r->peer_mean, r->peer_stdev, z);
            }
        }
        if (r->store_days >= 7 && !v->alert && v->action == DETECT_ALLOW) {
            double today = (double)r->store_today + 1;

            if (today >= 20 && today > r->store_mean + 3 * (r->store_stdev + 1)) {
                v->alert = 1;
                v->rule = "store-baseline";
                snprintf(v->detail, sizeof(v->detail),
                         "the store's %.0f reveals today against %.1f a day (stdev %.1f) over "
                         "%u days",
                         today, r->store_mean, r->store_stdev, r->store_days);
            }
        }
        if (r->outside_hours && v->action == DETECT_ALLOW) {
            v->action = DETECT_STEP_UP;
            v->rule = "store-hours";
            v->alert = 1;
            snprintf(v->detail, sizeof(v->detail), "a reveal while the store is closed");
        }
        v->meter = detect_meter(p, u, r);
        if (v->meter >= st->block_fraction && v->action != DETECT_BLOCK) {
            v->action = DETECT_BLOCK;
            v->rule = "statutory-meter";
            v->alert = 1;
            snprintf(v->detail, sizeof(v->detail),
                     "statutory meter %.3f with this request, block at %.3f (%u-day window)",
                     v->meter, st->block_fraction, st->window_days);
        } else if (v->meter >= st->alert_fraction &&
                   detect_meter(p, u, NULL) < st->alert_fraction) {
            /* alert once, when the meter crosses the line */
            v->alert = 1;
            if (v->action == DETECT_ALLOW) {
                v->rule = "statutory-meter";
                snprintf(v->detail, sizeof(v->detail),
                         "statutory meter %.3f, alert at %.3f (%u-day window)", v->meter,
                         st->alert_fraction, st->window_days);
            }
        }
    }
    if (v->action == DETECT_BLOCK)
        v->alert = 1;
}
