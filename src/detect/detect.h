/*
 * Inline insider detection: pure decisions over a staff member's recent
 * use, made before any data of a request is sent.  No I/O: the service
 * reads the counters (the store keeps them, updated in the same commit as
 * the audit entries they count) and passes them in; this module decides.
 *
 * Rules implemented here, with thresholds from the policy file
 * (docs/policy.md):
 *   - role quotas: look-ups and reveals per hour and per day; a request
 *     that would reach step_up_fraction of a quota steps up, one that
 *     would exceed the quota is blocked;
 *   - the statutory meter: revealed fields weighted by their legal
 *     category's (staff) threshold over the window; alert at
 *     alert_fraction, block a request that would reach block_fraction;
 *   - bursts: reveals faster than anyone serving customers can (more than a
 *     quarter of the hourly quota, at least 3, within 10 minutes): block
 *     and suspend (a harvester at full speed gets a handful of records);
 *   - enumeration: a look-up near earlier ones (IMEIs of one TAC with
 *     close serial numbers, phone numbers close in value) counts with
 *     them; alert at alert_after such look-ups in the window, block at
 *     block_after;
 *   - look-ups without cases: a day's look-ups reaching a quarter of the
 *     daily look-up quota (at least 50) with under 1 in 20 of them
 *     matched by a verified case alerts;
 *   - cases that are never verified: a customer_support case opened while
 *     half the hourly reveal quota (at least 5) of the day's cases are
 *     still unverified alerts; with the whole quota (at least 10), opening
 *     is blocked (look-ups that never lead to a customer who proves they
 *     are there);
 *   - wrong codes: half the hourly reveal quota (at least 10: two cases'
 *     tries) of wrong one-time codes within an hour alerts and blocks
 *     further verification for the hour (guessing);
 *   - peer baseline: a staff member whose reveals today stand out from
 *     their peers' today (same role and store, at least 3 of
 *     them): z = (x - mean) / (stdev + 1) > 3 with x at least a tenth of
 *     the daily quota (at least 10) alerts;
 *   - store baseline: a store's reveals today against its own earlier
 *     days (at least 7 of them): today > mean + 3 (stdev + 1) and at least
 *     20 alerts (a whole store harvesting, or one account of it);
 *   - approvals: a supervisor approving more investigations in a day than
 *     a quarter of their daily reveal quota (at least 5), or, from the
 *     5th approval in 30 days, 80% or more of them for one requester,
 *     alerts;
 *   - store hours: a reveal while the staff member's store is closed steps
 *     up (a supervisor's co-sign) and alerts;
 *   - canaries: a canary customer looked up or revealed is a critical
 *     alert and suspends the account.
 * A request is judged with itself counted, so the request that would cross
 * a line is the one refused.
 */
#ifndef CU_DETECT_H
#define CU_DETECT_H

#include <stdint.h>

#include "../model/model.h"
#include "../policy/policy.h"

/* What is counted, per staff member.  Look-ups and reveals are counted in
 * minute, hour and day buckets; revealed fields per legal category in day
 * buckets (the statutory window is in days). */
enum detect_metric {
    DETECT_LOOKUPS,
    DETECT_REVEALS,
    DETECT_CATEGORY,                                           /* + enum policy_category */
    DETECT_CASES_OPENED = DETECT_CATEGORY + POLICY_CAT__COUNT, /* customer_support */
    DETECT_CASES_VERIFIED,
    DETECT_WRONG_CODES,
    DETECT_APPROVALS, /* a supervisor's; and per supervisor>requester pair */
    DETECT_METRIC__COUNT
};

/* A staff member's use before this request, from the counters. */
struct detect_usage {
    uint32_t lookups_hour, lookups_day;
    uint32_t reveals_hour, reveals_day;
    uint32_t reveals_10min;                        /* the burst window */
    uint32_t category[POLICY_CAT__COUNT];          /* fields revealed over the statutory window */
    uint32_t cases_opened_day, cases_verified_day; /* customer_support cases */
    uint32_t wrong_codes_hour;
    uint32_t approvals_day, approvals_30d; /* a supervisor's approvals */
    uint32_t approvals_same_30d;           /* ... of this requester's cases */
};

enum detect_kind { DETECT_LOOKUP, DETECT_REVEAL, DETECT_CASE_OPEN, DETECT_VERIFY, DETECT_APPROVE };

/* The request being judged. */
struct detect_request {
    enum detect_kind kind;
    int fields[MODEL_F__COUNT]; /* reveals: the fields asked for */
    int canary;                 /* a canary customer is in the answer */
    uint32_t neighbours;        /* look-ups: earlier look-ups near this one in the window */
    int outside_hours;          /* the staff member's store is closed now */
    /* reveals: the peers (same role and store) and their reveals today,
     * and this staff member's (calendar days, in the store's buckets) */
    uint32_t peers;
    double peer_mean, peer_stdev;
    uint32_t reveals_today;
    /* reveals: the staff member's store today, and its earlier days */
    uint32_t store_today;
    uint32_t store_days; /* earlier days with any reveal, at most 30 */
    double store_mean, store_stdev;
};

enum detect_action { DETECT_ALLOW, DETECT_STEP_UP, DETECT_BLOCK };

struct detect_verdict {
    enum detect_action action;
    int alert;        /* raise an alert (rule and detail below) */
    int critical;     /* ... of critical severity */
    int suspend;      /* suspend the account now */
    const char *rule; /* "quota-reveals-hour", "statutory-meter", "canary" ... or NULL */
    double meter;     /* the statutory meter with this request, 0..1+ */
    char detail[192]; /* the evidence: counts against limits (no personal value) */
};

/*
 * Judges `r` by a staff member of `role` whose use so far is `u`.  The
 * most severe finding wins (block over step-up over allow); an alert may
 * come with any action.
 */
void detect_judge(const struct policy *p, enum policy_role role, const struct detect_usage *u,
                  const struct detect_request *r, struct detect_verdict *v);

/* The statutory meter of `u` plus the fields of `r`. */
double detect_meter(const struct policy *p, const struct detect_usage *u,
                    const struct detect_request *r);

/* Names of the metrics, for messages and the store ("lookups", "reveals",
 * "category:whereabouts" ...); static strings. */
const char *detect_metric_name(int metric);

#endif
