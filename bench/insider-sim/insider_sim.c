/*
 * Insider-detection evaluation: simulated days of legitimate support work by
 * many staff, mixed with attackers, run through the real service (cases,
 * codes from the outbox, reveals, the detector with its counters in the
 * store, durable audit entries) on a simulated clock.
 *
 *   bench-insider-sim DATA_DIR CUSTOMERS SEED [--days D] [--staff N]
 *
 * DATA_DIR holds CUSTOMERS customers made by `custodian gen customers
 * CUSTOMERS --seed SEED` (the simulator regenerates them to know their
 * identifiers).  Reports, per attacker, the full records revealed, the
 * first block and the first alert, and the alerts raised on legitimate
 * staff per 1,000 staff-days.
 *
 * Attackers, each a staff account of its own (the worst case is assumed:
 * they can get every customer's one-time code):
 *   fast-harvester   reveals everything its role may see, as fast as it can
 *   slow-harvester   the same, 60 a day, spread over working hours, for weeks
 *   enumerator       walks IMEIs of one TAC serial by serial
 *   colluder-a/-b    split the slow harvester's work between two accounts
 *   off-hours        reveals at 02:00, a few a night
 *   fake-cases       opens cases that are never verified, 40 a day
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "service/service.h"
#include "store/store.h"
#include "synth/synth.h"
#include "vault/vault.h"

#define DAY_MS  86400000LL
#define HOUR_MS 3600000LL
#define START_MS                                                                                   \
    1767542400000LL /* Monday 2026-01-05 00:00 in Shanghai (16:00 UTC the day before) */

enum kind { LEGIT, FAST, SLOW, ENUMERATOR, COLLUDER, OFF_HOURS, FAKE_CASES };

struct staff {
    char name[24];
    const char *role;
    enum kind kind;
    uint64_t revealed;   /* full records answered */
    uint64_t refused;    /* reveals refused by the detector (block or step-up) */
    int64_t first_block; /* ms, 0: never */
    int64_t start;       /* ms of its first action */
    int suspended;
};

struct event {
    int64_t t;
    int staff;
};

struct sim {
    struct service *svc;
    uint64_t customers, seed, rng;
    int64_t last_msg;
    struct staff *staff;
    size_t nstaff;
};

static uint64_t rnd(struct sim *s, uint64_t n)
{
    return n ? synth_rand(&s->rng) % n : 0;
}

static void who_of(const struct staff *st, struct service_actor *who)
{
    memset(who, 0, sizeof(*who));
    who->username = st->name;
    who->role = st->role;
    who->store = "SZ-014";
    who->client = "10.0.0.1";
}

/* The code the outbox sent for `case_id` (the simulation's shortcut). */
static int code_for(struct sim *s, const char *case_id, char code[7])
{
    json_t *out = NULL, *m;
    size_t i;
    int found = 0;

    if (service_outbox_list(s->svc, s->last_msg, 100, &out, NULL) != CU_OK)
        return 0;
    json_array_foreach(json_object_get(out, "messages"), i, m)
    {
        const char *c = json_string_value(json_object_get(m, "case_id"));
        const char *body = json_string_value(json_object_get(m, "body"));

        s->last_msg = (int64_t)json_integer_value(json_object_get(m, "id"));
        if (c != NULL && strcmp(c, case_id) == 0 && body != NULL) {
            const char *p = strstr(body, "code is ");

            if (p != NULL) {
                memcpy(code, p + 8, 6);
                code[6] = '\0';
                found = 1;
            }
        }
    }
    json_decref(out);
    return found;
}

/* A look-up of customer `c` by IMEI, then (verify) a support case and a
 * reveal of `fields`.  Returns 1 when full values were answered. */
static int serve(struct sim *s, struct staff *st, uint64_t c, int verify, const char *fields)
{
    struct service_actor who;
    struct model_customer m;
    json_t *out = NULL;
    const char *why = NULL;
    char *err = NULL, case_id[64], code[7];
    int rc, ok = 0;

    who_of(st, &who);
    model_customer_init(&m);
    synth_customer(s->seed, c, &m);
    if (m.ndevices > 0) {
        rc = service_lookup(s->svc, &who, MODEL_ID_IMEI, m.devices[0].imei, &out, &err);
        json_decref(out);
        out = NULL;
        free(err);
        err = NULL;
    }
    if (fields == NULL)
        goto out;
    rc = service_case_open(s->svc, &who, "customer_support", m.customer_id, NULL, NULL, &out, &why,
                           &err);
    if (rc == CU_ERR_LIMIT && st->first_block == 0)
        st->first_block = cu_now_ms();
    if (rc != CU_OK)
        goto out;
    snprintf(case_id, sizeof(case_id), "%s", json_string_value(json_object_get(out, "case_id")));
    json_decref(out);
    out = NULL;
    if (!verify || !code_for(s, case_id, code))
        goto out;
    rc = service_case_verify(s->svc, &who, case_id, code, &out, &why, &err);
    json_decref(out);
    out = NULL;
    free(err);
    err = NULL;
    if (rc != CU_OK)
        goto out;
    rc = service_case_reveal(s->svc, &who, case_id, fields, NULL, &out, &why, &err);
    if (rc == CU_OK) {
        st->revealed++;
        ok = 1;
    } else if (rc == CU_ERR_LIMIT || rc == CU_ERR_FORBIDDEN) {
        st->refused++;
        if (st->first_block == 0 && rc == CU_ERR_LIMIT)
            st->first_block = cu_now_ms();
    }
out:
    json_decref(out);
    free(err);
    model_customer_release(&m);
    return ok;
}

/* A look-up of the IMEI with this TAC and serial (enumeration). */
static void walk(struct sim *s, struct staff *st, unsigned serial)
{
    struct service_actor who;
    char imei[16], *err = NULL;
    json_t *out = NULL;
    int sum = 0, i, d, rc;

    snprintf(imei, sizeof(imei), "35693803%06u", serial % 1000000);
    for (i = 0; i < 14; i++) {
        d = imei[i] - '0';
        if (i % 2 == 1 && (d *= 2) > 9)
            d -= 9;
        sum += d;
    }
    imei[14] = (char)('0' + (10 - sum % 10) % 10);
    imei[15] = '\0';
    who_of(st, &who);
    rc = service_lookup(s->svc, &who, MODEL_ID_IMEI, imei, &out, &err);
    if (rc == CU_ERR_LIMIT && st->first_block == 0)
        st->first_block = cu_now_ms();
    if (rc == CU_OK)
        st->revealed += json_array_size(json_object_get(out, "customers")); /* masked */
    json_decref(out);
    free(err);
}

/* Whether the account is suspended (the server's session check). */
static int suspended(struct sim *s, struct staff *st)
{
    struct store_staff row;
    int yes;

    if (st->suspended)
        return 1;
    store_staff_init(&row);
    yes = store_staff_get(s->svc->store, st->name, &row, NULL) == CU_OK && row.suspended;
    store_staff_release(&row);
    if (yes && st->first_block == 0)
        st->first_block = cu_now_ms();
    st->suspended = yes;
    return yes;
}

static int event_cmp(const void *a, const void *b)
{
    const struct event *x = a, *y = b;

    return (x->t > y->t) - (x->t < y->t);
}

/* A time during the working day (09:00-21:00 in Shanghai, the stores'
 * time zone) of day d. */
static int64_t work_time(struct sim *s, int d)
{
    return START_MS + d * DAY_MS + 9 * HOUR_MS + (int64_t)rnd(s, 12 * HOUR_MS);
}

int main(int argc, char **argv)
{
    struct sim s = {0};
    struct event *ev = NULL;
    size_t nev = 0, cap = 0, i;
    int days = 14, nlegit = 60, d, k;
    char *err = NULL;
    json_t *alerts = NULL, *a;
    uint64_t legit_alerts = 0;

    if (argc < 4) {
        fprintf(stderr,
                "usage: bench-insider-sim DATA_DIR CUSTOMERS SEED [--days D] [--staff N]\n");
        return 2;
    }
    s.customers = strtoull(argv[2], NULL, 10);
    s.seed = strtoull(argv[3], NULL, 10);
    s.rng = 12345;
    for (k = 4; k + 1 < argc; k += 2) {
        if (strcmp(argv[k], "--days") == 0)
            days = atoi(argv[k + 1]);
        else if (strcmp(argv[k], "--staff") == 0)
            nlegit = atoi(argv[k + 1]);
    }
    if (vault_global_init() != CU_OK || service_open(&s.svc, argv[1], &err) != CU_OK ||
        service_audit_open(s.svc, &err) != CU_OK) {
        fprintf(stderr, "bench-insider-sim: %s\n", err ? err : "cannot start");
        return 1;
    }
    cu_clock_set(START_MS);
    s.nstaff = (size_t)nlegit + 7;
    s.staff = xcalloc(s.nstaff, sizeof(*s.staff));
    for (i = 0; i < s.nstaff; i++) {
        static const char *const names[] = {"fast-harvester", "slow-harvester", "enumerator",
                                            "colluder-a",     "colluder-b",     "off-hours",
                                            "fake-cases"};
        static const enum kind kinds[] = {FAST,     SLOW,      ENUMERATOR, COLLUDER,
                                          COLLUDER, OFF_HOURS, FAKE_CASES};
        struct staff *st = &s.staff[i];
        struct service_actor op = {"operator:sim", "operator", NULL, "local", NULL};
        json_t *cred = NULL;

        if (i < (size_t)nlegit) {
            snprintf(st->name, sizeof(st->name), "staff%03u", (unsigned)i % 1000);
            st->kind = LEGIT;
            st->role = i % 4 == 3 ? "agent" : "clerk";
        } else {
            snprintf(st->name, sizeof(st->name), "%s", names[i - (size_t)nlegit]);
            st->kind = kinds[i - (size_t)nlegit];
            st->role = "clerk";
        }
        if (service_staff_add(s.svc, &op, st->name, st->role, "SZ-014", &cred, &err) != CU_OK) {
            fprintf(stderr, "bench-insider-sim: %s\n", err);
            return 1;
        }
        json_decref(cred);
    }

    for (d = 0; d < days; d++) {
        int weekday = d % 7 < 5;

        nev = 0;
        for (i = 0; i < s.nstaff; i++) {
            struct staff *st = &s.staff[i];
            int n = 0, j;

            switch (st->kind) {
            case LEGIT: /* 8 to 30 customers a working day, fewer at weekends */
                n = weekday ? 8 + (int)rnd(&s, 23) : (int)rnd(&s, 8);
                break;
            case FAST: /* day 2, from 10:00, one every 10 s for 2 hours */
                n = d == 2 ? 720 : 0;
                break;
            case SLOW:
                n = weekday ? 60 : 0;
                break;
            case COLLUDER:
                n = weekday ? 30 : 0;
                break;
            case ENUMERATOR:
                n = d == 3 ? 200 : 0;
                break;
            case OFF_HOURS:
                n = 6;
                break;
            case FAKE_CASES:
                n = weekday ? 40 : 0;
                break;
            }
            for (j = 0; j < n; j++) {
                if (nev == cap) {
                    cap = cap ? 2 * cap : 4096;
                    ev = xrealloc(ev, cap * sizeof(*ev));
                }
                ev[nev].staff = (int)i;
                if (st->kind == FAST || st->kind == ENUMERATOR)
                    ev[nev].t = START_MS + d * DAY_MS + 10 * HOUR_MS + j * 10000LL;
                else if (st->kind == OFF_HOURS)
                    ev[nev].t = START_MS + d * DAY_MS + 2 * HOUR_MS + j * 900000LL;
                else
                    ev[nev].t = work_time(&s, d);
                nev++;
            }
        }
        qsort(ev, nev, sizeof(*ev), event_cmp);
        for (i = 0; i < nev; i++) {
            struct staff *st = &s.staff[ev[i].staff];
            uint64_t c = rnd(&s, s.customers);

            cu_clock_set(ev[i].t);
            if (st->start == 0)
                st->start = ev[i].t;
            if (suspended(&s, st))
                continue; /* the server would refuse its session (423) */
            switch (st->kind) {
            case LEGIT: /* about a third of the customers need a verified case */
                serve(&s, st, c, 1,
                      rnd(&s, 3) == 0 ? (strcmp(st->role, "agent") == 0 && rnd(&s, 4) == 0
                                             ? "name,phone,address"
                                             : "name,phone")
                                      : NULL);
                break;
            case FAST:
            case SLOW:
            case COLLUDER:
            case OFF_HOURS:
                serve(&s, st, c, 1, "account,name,phone,email,devices");
                break;
            case ENUMERATOR:
                walk(&s, st, 1200 + (unsigned)(ev[i].t - st->start) / 10000);
                break;
            case FAKE_CASES:
                serve(&s, st, c, 0, "name,phone");
                break;
            }
        }
        fprintf(stderr, "day %d: %zu events\n", d + 1, nev);
    }

    if (service_alerts(s.svc, NULL, 100000, &alerts, &err) != CU_OK) {
        fprintf(stderr, "bench-insider-sim: %s\n", err);
        return 1;
    }
    printf("| attacker | full records revealed | reveals refused | first block | first alert | "
           "suspended |\n");
    printf("| --- | ---: | ---: | --- | --- | --- |\n");
    for (i = (size_t)nlegit; i < s.nstaff; i++) {
        struct staff *st = &s.staff[i];
        int64_t first_alert = 0;
        char blk[48] = "never", al[48] = "never";

        json_array_foreach(json_object_get(alerts, "alerts"), k, a)
        {
            int64_t t = (int64_t)json_integer_value(json_object_get(a, "created_at")) * 1000;

            if (strcmp(json_string_value(json_object_get(a, "staff")), st->name) == 0 &&
                (first_alert == 0 || t < first_alert))
                first_alert = t;
        }
        if (st->first_block)
            snprintf(blk, sizeof(blk), "after %.1f h",
                     (double)(st->first_block - st->start) / HOUR_MS);
        if (first_alert)
            snprintf(al, sizeof(al), "after %.1f h (day %lld)",
                     (double)(first_alert - st->start) / HOUR_MS,
                     (long long)((first_alert - START_MS) / DAY_MS + 1));
        printf("| %s | %llu%s | %llu | %s | %s | %s |\n", st->name,
               (unsigned long long)st->revealed, st->kind == ENUMERATOR ? " (masked)" : "",
               (unsigned long long)st->refused, blk, al, st->suspended ? "yes" : "no");
    }
    json_array_foreach(json_object_get(alerts, "alerts"), k, a)
    {
        const char *who = json_string_value(json_object_get(a, "staff"));

        legit_alerts += strncmp(who, "staff", 5) == 0;
    }
    {
        uint64_t legit_reveals = 0;

        for (i = 0; i < (size_t)nlegit; i++)
            legit_reveals += s.staff[i].revealed;
        printf("\nlegitimate staff: %d over %d days (%d staff-days), %llu full reveals, %llu "
               "alerts: %.2f per 1,000 staff-days\n",
               nlegit, days, nlegit * days, (unsigned long long)legit_reveals,
               (unsigned long long)legit_alerts,
               1000.0 * (double)legit_alerts / (double)(nlegit * days));
    }
    json_decref(alerts);
    free(ev);
    free(s.staff);
    cu_clock_set(0);
    service_free(s.svc);
    return 0;
}
