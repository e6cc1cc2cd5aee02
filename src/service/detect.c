/*
 * The insider detector's state and actions (the rules are src/detect).
 *
 * State: counters per staff member in minute, hour and day buckets.  The
 * store holds them, written by the audit writer's commit hook in the same
 * transaction as the entries they count (so a crash, a restart or a second
 * server cannot separate them).  Decisions read a per-process copy of a
 * staff member's buckets: loaded from the store on first use and again
 * after REFRESH_S (so another process's counts arrive within that), and
 * raised at once by every request allowed here (a reservation: requests
 * in flight count before their entries commit, so a burst of parallel
 * requests cannot all pass under the same count).
 *
 * Several servers on one store (PostgreSQL, docs/postgres.md): every
 * decision reloads the staff member's counts from the store, so that what
 * the other servers committed counts at once (a harvester alternating
 * between servers is stopped at the same count as on one), and this
 * process's reservations whose entries have not committed yet are kept
 * aside (`pending`) and added on top of each reload; the commit hook drops
 * them as their entries commit, and one that never commits (a refused or
 * failed request) lapses after REFRESH_S.
 */
#include "service_int.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../audit/audit.h"
#include "../detect/detect.h"
#include "../policy/policy.h"

#define REFRESH_S     10
#define MINUTES       60  /* minute buckets: the hour window */
#define HOURS         24  /* hour buckets: the day window */
#define DAYS_MAX      366 /* day buckets: the statutory window, at most */
#define CACHE_SIZE    1024
#define RECENT_MAX    512  /* neighbourhoods of look-ups kept per staff member */
#define ALERT_QUIET_S 3600 /* one alert an hour per staff member and rule */
#define EVIDENCE_MAX  50   /* audit indexes an alert lists */
#define NEAR_BYTES    16   /* a bucket key; the side data is bucket then exact key */
#define PENDING_MAX   32   /* reservations not committed yet, per staff member */

enum { SIZE_MINUTE, SIZE_HOUR, SIZE_DAY };
static const int64_t bucket_seconds[3] = {60, 3600, 86400};

/* A ring of buckets: slot = bucket % n, tagged with its bucket. */
struct ring {
    int32_t tag; /* minute buckets fit until 6053, day buckets for ever */
    uint32_t n;
};

/*
 * A staff member's state, under its own lock: decisions about different
 * staff members proceed at once (on PostgreSQL each one waits on the
 * network to reload the counts), while the check and the reservation of
 * one staff member's requests stay one step.  Lock order: a staff member's
 * state, then a pair's ("supervisor>requester", approvals), then the
 * detector's lock (which is never held while taking a state's).
 */
struct staff_state {
    pthread_mutex_t lock;
    char name[72];           /* a staff member, or "supervisor>requester" */
    int64_t pruned_minute;   /* the commit hook pruned this staff member's old rows then */
    struct pending *pending; /* reservations not committed yet, or NULL */
    /* the last alert per rule: one alert an hour per rule is enough */
    struct {
        const char *rule; /* the rule's static name */
        int64_t t;
    } alerted[8];
    struct staff_state *next; /* in the detector's table (under the detector's lock) */
    /*
     * The neighbourhoods of recent look-ups, oldest overwritten first: the
     * store's rows up to id recent_after, read a little at a time (only
     * newer rows on each reload), and this process's look-ups (`local`)
     * until their own rows arrive.
     */
    struct {
        int64_t t;
        unsigned char key[NEAR_BYTES];   /* the bucket */
        unsigned char exact[NEAR_BYTES]; /* the value */
        unsigned char local;             /* reserved here; its row not read yet */
    } recent[RECENT_MAX];
    size_t nrecent;
    int64_t recent_after, recent_loaded_at;
    int64_t loaded_at;
    /* The counts, from here to the end: reset and read again on a reload. */
    struct ring lookups_min[MINUTES], reveals_min[MINUTES];
    struct ring lookups_hour[HOURS], reveals_hour[HOURS];
    struct ring cat_day[POLICY_CAT__COUNT][DAYS_MAX];
    struct ring opened_hour[HOURS], verified_hour[HOURS];       /* customer_support cases */
    struct ring wrong_min[MINUTES];                             /* wrong one-time codes */
    struct ring approvals_hour[HOURS], approvals_day[DAYS_MAX]; /* investigations approved */
};

/* The reveals today of a role's staff at a store (the peer baseline),
 * read from the store at most every PEERS_S. */
#define PEERS_S   60
#define PEERS_MAX 16
struct peer_group {
    char role[16], store[24];
    int64_t read_at;
    size_t n;
    struct {
        char staff[40];
        uint32_t reveals;
    } * member;
};

/* A store's reveals per day over the last 30 (the store baseline), read at
 * most every PEERS_S. */
struct store_days {
    char store[24];
    int64_t read_at, today;
    uint32_t total_today, days;
    double mean, stdev;
};

/* This process's reservations of one staff member whose audit entries have
 * not committed yet (a ring: the oldest goes when it is full). */
struct pending {
    size_t n, head;
    struct {
        int64_t t;
        int kind; /* DETECT_LOOKUP, DETECT_REVEAL or COUNT_CASE_OPENED */
        unsigned char ninc;
        struct {
            int metric;
            int64_t bucket;
        } inc[3 + MODEL_F__COUNT];
    } r[PENDING_MAX];
};

struct service_detector {
    pthread_mutex_t lock;               /* the table of staff states, peers and stores */
    int64_t refresh_s;                  /* counts are reloaded from the store after this long */
    struct peer_group peers[PEERS_MAX]; /* least recently read replaced first */
    struct store_days stores[PEERS_MAX];
    const struct policy *policy;
    struct staff_state *bucket[CACHE_SIZE];
};

static unsigned name_hash(const char *s)
{
    unsigned h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % CACHE_SIZE;
}

static void ring_add(struct ring *r, size_t n, int64_t bucket, uint32_t k)
{
    struct ring *slot = &r[(uint64_t)bucket % n];

    if (slot->tag != (int32_t)bucket) {
        if (slot->tag > (int32_t)bucket)
            return; /* older than the ring holds */
        slot->tag = (int32_t)bucket;
        slot->n = 0;
    }
    slot->n += k;
}

/* The sum of buckets (now - window, now]: one slot read per bucket of the
 * window (window <= n). */
static uint32_t ring_sum(const struct ring *r, size_t n, int64_t now, size_t window)
{
    uint64_t sum = 0;
    int64_t b;

    for (b = now - (int64_t)window + 1; b <= now; b++) {
        const struct ring *slot = &r[(uint64_t)b % n];

        if (slot->tag == (int32_t)b)
            sum += slot->n;
    }
    return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* The stored metric id of a detector metric at a bucket size. */
static int metric_id(int metric, int size)
{
    return metric * 4 + size;
}

static void state_add(struct staff_state *st, int metric, int size, int64_t bucket, uint32_t k)
{
    if (metric == DETECT_LOOKUPS && size == SIZE_MINUTE)
        ring_add(st->lookups_min, MINUTES, bucket, k);
    else if (metric == DETECT_REVEALS && size == SIZE_MINUTE)
        ring_add(st->reveals_min, MINUTES, bucket, k);
    else if (metric == DETECT_LOOKUPS && size == SIZE_HOUR)
        ring_add(st->lookups_hour, HOURS, bucket, k);
    else if (metric == DETECT_REVEALS && size == SIZE_HOUR)
        ring_add(st->reveals_hour, HOURS, bucket, k);
    else if (metric >= DETECT_CATEGORY && metric < DETECT_CASES_OPENED && size == SIZE_DAY)
        ring_add(st->cat_day[metric - DETECT_CATEGORY], DAYS_MAX, bucket, k);
    else if (metric == DETECT_CASES_OPENED && size == SIZE_HOUR)
        ring_add(st->opened_hour, HOURS, bucket, k);
    else if (metric == DETECT_CASES_VERIFIED && size == SIZE_HOUR)
        ring_add(st->verified_hour, HOURS, bucket, k);
    else if (metric == DETECT_WRONG_CODES && size == SIZE_MINUTE)
        ring_add(st->wrong_min, MINUTES, bucket, k);
    else if (metric == DETECT_APPROVALS && size == SIZE_HOUR)
        ring_add(st->approvals_hour, HOURS, bucket, k);
    else if (metric == DETECT_APPROVALS && size == SIZE_DAY)
        ring_add(st->approvals_day, DAYS_MAX, bucket, k);
}

static int load_row(void *ctx, const struct store_count *c)
{
    state_add(ctx, c->metric / 4, c->metric % 4, c->bucket,
              c->n > UINT32_MAX ? UINT32_MAX : (uint32_t)c->n);
    return 0;
}

/* side: bucket key then exact key (2 * NEAR_BYTES). */
static void recent_add(struct staff_state *st, int64_t t, const unsigned char *side, int local)
{
    size_t i = st->nrecent++ % RECENT_MAX;

    st->recent[i].t = t;
    memcpy(st->recent[i].key, side, NEAR_BYTES);
    memcpy(st->recent[i].exact, side + NEAR_BYTES, NEAR_BYTES);
    st->recent[i].local = (unsigned char)local;
}

/* A row of the store: this process's own look-up (then it is there
 * already, as `local`) or another's. */
static int load_recent(void *ctx, int64_t id, int64_t t, const void *key, size_t len)
{
    struct staff_state *st = ctx;
    size_t i, n = st->nrecent < RECENT_MAX ? st->nrecent : RECENT_MAX;

    if (id > st->recent_after)
        st->recent_after = id;
    if (len != 2 * NEAR_BYTES)
        return 0;
    for (i = 0; i < n; i++)
        if (st->recent[i].local &&
            memcmp(st->recent[i].exact, (const unsigned char *)key + NEAR_BYTES, NEAR_BYTES) == 0) {
            st->recent[i].local = 0;
            return 0;
        }
    recent_add(st, t, key, 0);
    return 0;
}

/*
 * Distinct values looked up in the window, other than this one, whose
 * bucket is this one's or adjacent.
 */
static uint32_t neighbours(const struct staff_state *st, const struct service_near *near,
                           int64_t since)
{
    size_t i, k, n = st->nrecent < RECENT_MAX ? st->nrecent : RECENT_MAX;
    uint32_t count = 0;
    int j, near_bucket, seen;

    for (i = 0; i < n; i++) {
        if (st->recent[i].t < since || memcmp(st->recent[i].exact, near->exact, NEAR_BYTES) == 0)
            continue;
        for (near_bucket = 0, j = 0; j < 3 && !near_bucket; j++)
            near_bucket = memcmp(st->recent[i].key, near->bucket[j], NEAR_BYTES) == 0;
        for (seen = 0, k = 0; near_bucket && k < i && !seen; k++)
            seen = st->recent[k].t >= since &&
                   memcmp(st->recent[k].exact, st->recent[i].exact, NEAR_BYTES) == 0;
        count += near_bucket && !seen;
    }
    return count;
}

/* Adds this process's reservations not committed yet to freshly loaded
 * counts; those older than REFRESH_S lapse (their request failed, or
 * their entry committed unseen). */
static void pending_apply(struct staff_state *st, int64_t now)
{
    struct pending *p = st->pending;
    size_t i, j, k;

    if (p == NULL)
        return;
    for (i = 0, k = 0; i < p->n; i++) {
        j = (p->head + i) % PENDING_MAX;
        if (p->r[j].t <= now - REFRESH_S)
            continue;
        if (k != i)
            p->r[(p->head + k) % PENDING_MAX] = p->r[j];
        j = (p->head + k++) % PENDING_MAX;
        for (size_t m = 0; m < p->r[j].ninc; m++)
            state_add(st, p->r[j].inc[m].metric / 4, p->r[j].inc[m].metric % 4,
                      p->r[j].inc[m].bucket, 1);
    }
    p->n = k;
}

/* The state of `staff`, created on first use (when `create`), or NULL;
 * not locked. */
static struct staff_state *staff_find(struct service_detector *d, const char *staff, int create)
{
    struct staff_state *st, **head = &d->bucket[name_hash(staff)];

    pthread_mutex_lock(&d->lock);
    for (st = *head; st != NULL && strcmp(st->name, staff) != 0; st = st->next)
        ;
    if (st == NULL && create) {
        st = xcalloc(1, sizeof(*st));
        pthread_mutex_init(&st->lock, NULL);
        snprintf(st->name, sizeof(st->name), "%s", staff);
        st->next = *head;
        *head = st;
    }
    pthread_mutex_unlock(&d->lock);
    return st;
}

/* The state of `staff`, locked, its counts (re)loaded from the store when
 * stale; unlock it with pthread_mutex_unlock(&(*out)->lock). */
static int state_of(struct service *svc, struct service_detector *d, const char *staff, int64_t now,
                    struct staff_state **out, char **errmsg)
{
    struct staff_state *st = staff_find(d, staff, 1);
    int rc;

    pthread_mutex_lock(&st->lock);
    if (now - st->loaded_at >= d->refresh_s) {
        /* the counts come again from the store; the rest stays */
        memset(&st->loaded_at, 0, sizeof(*st) - offsetof(struct staff_state, loaded_at));
        rc = store_detect_rows(svc->store, staff, load_row, st, errmsg);
        if (rc != CU_OK) {
            st->loaded_at = 0;
            pthread_mutex_unlock(&st->lock);
            return rc;
        }
        pending_apply(st, now);
        st->loaded_at = now;
    }
    *out = st;
    return CU_OK;
}

/* The look-up neighbourhoods of a locked state, with the store's newer rows
 * when stale (only look-ups need them). */
static int recent_of(struct service *svc, struct service_detector *d, struct staff_state *st,
                     int64_t now, char **errmsg)
{
    int rc;

    if (st->recent_loaded_at != 0 && now - st->recent_loaded_at < d->refresh_s)
        return CU_OK;
    rc = store_recent_rows(svc->store, st->name, st->recent_after,
                           now - 3600 * (int64_t)policy_enumeration(d->policy)->window_hours,
                           RECENT_MAX, load_recent, st, errmsg);
    if (rc == CU_OK)
        st->recent_loaded_at = now;
    return rc;
}

static void usage_of(const struct policy *p, const struct staff_state *st, int64_t now,
                     struct detect_usage *u)
{
    const struct policy_statutory *stat = policy_statutory(p);
    size_t window = stat->window_days < DAYS_MAX ? stat->window_days : DAYS_MAX;
    int c;

    memset(u, 0, sizeof(*u));
    u->lookups_hour = ring_sum(st->lookups_min, MINUTES, now / 60, MINUTES);
    u->reveals_hour = ring_sum(st->reveals_min, MINUTES, now / 60, MINUTES);
    u->reveals_10min = ring_sum(st->reveals_min, MINUTES, now / 60, 10);
    u->lookups_day = ring_sum(st->lookups_hour, HOURS, now / 3600, HOURS);
    u->reveals_day = ring_sum(st->reveals_hour, HOURS, now / 3600, HOURS);
    for (c = 0; c < POLICY_CAT__COUNT; c++)
        u->category[c] = ring_sum(st->cat_day[c], DAYS_MAX, now / 86400, window);
    u->cases_opened_day = ring_sum(st->opened_hour, HOURS, now / 3600, HOURS);
    u->cases_verified_day = ring_sum(st->verified_hour, HOURS, now / 3600, HOURS);
    u->wrong_codes_hour = ring_sum(st->wrong_min, MINUTES, now / 60, MINUTES);
    u->approvals_day = ring_sum(st->approvals_hour, HOURS, now / 3600, HOURS);
    u->approvals_30d = ring_sum(st->approvals_day, DAYS_MAX, now / 86400, 30);
}

/* What is counted: look-ups and reveals (enum detect_kind's first two),
 * then the case events. */
enum {
    COUNT_CASE_OPENED = DETECT_REVEAL + 1,
    COUNT_CASE_VERIFIED,
    COUNT_WRONG_CODE,
    COUNT_APPROVAL /* a supervisor's: hour and day buckets */
};

/* What one event adds: the same for the reservation and for the commit
 * hook, so the two always agree. */
static size_t increments(const struct policy *p, int kind, const int fields[MODEL_F__COUNT],
                         int64_t t, const char *staff, struct store_count *out)
{
    const struct policy_statutory *st = policy_statutory(p);
    int metric = kind == DETECT_LOOKUP ? DETECT_LOOKUPS : DETECT_REVEALS, size, f;
    size_t n = 0;

    if (kind == COUNT_APPROVAL) {
        for (size = SIZE_HOUR; size <= SIZE_DAY; size++) {
            out[n].staff = staff;
            out[n].metric = metric_id(DETECT_APPROVALS, size);
            out[n].bucket = t / bucket_seconds[size];
            out[n++].n = 1;
        }
        return n;
    }
    if (kind >= COUNT_CASE_OPENED) {
        /* one count, in the bucket size its window uses */
        out[0].staff = staff;
        out[0].metric = kind == COUNT_CASE_OPENED     ? metric_id(DETECT_CASES_OPENED, SIZE_HOUR)
                        : kind == COUNT_CASE_VERIFIED ? metric_id(DETECT_CASES_VERIFIED, SIZE_HOUR)
                                                      : metric_id(DETECT_WRONG_CODES, SIZE_MINUTE);
        out[0].bucket = t / bucket_seconds[out[0].metric % 4];
        out[0].n = 1;
        return 1;
    }
    for (size = SIZE_MINUTE; size <= SIZE_DAY; size++) {
        out[n].staff = staff;
        out[n].metric = metric_id(metric, size);
        out[n].bucket = t / bucket_seconds[size];
        out[n++].n = 1;
    }
    if (kind == DETECT_REVEAL)
        for (f = 0; f < MODEL_F__COUNT; f++)
            if (fields[f]) {
                out[n].staff = staff;
                out[n].metric = metric_id(DETECT_CATEGORY + st->field_category[f], SIZE_DAY);
                out[n].bucket = t / 86400;
                out[n++].n = 1;
            }
    return n;
}

/* Keeps a reservation aside until its entry commits (a full ring drops the
 * oldest).  Lock held. */
static void pending_push(struct staff_state *st, int kind, int64_t t, const struct store_count *c,
                         size_t k)
{
    struct pending *p;
    size_t i, j;

    if (kind != DETECT_LOOKUP && kind != DETECT_REVEAL && kind != COUNT_CASE_OPENED)
        return;
    if (st->pending == NULL)
        st->pending = xcalloc(1, sizeof(*st->pending));
    p = st->pending;
    if (p->n == PENDING_MAX) {
        p->head = (p->head + 1) % PENDING_MAX;
        p->n--;
    }
    j = (p->head + p->n++) % PENDING_MAX;
    p->r[j].t = t;
    p->r[j].kind = kind;
    p->r[j].ninc = (unsigned char)(k < CU_ARRAY_LEN(p->r[j].inc) ? k : CU_ARRAY_LEN(p->r[j].inc));
    for (i = 0; i < p->r[j].ninc; i++) {
        p->r[j].inc[i].metric = c[i].metric;
        p->r[j].inc[i].bucket = c[i].bucket;
    }
}

/* An entry of `staff` of `kind` committed: its reservation (the oldest of
 * that kind) is in the store's counts now. */
static void pending_take(struct service_detector *d, const char *staff, int kind)
{
    struct staff_state *st;
    struct pending *p;
    size_t i, j;

    st = staff_find(d, staff, 0);
    if (st == NULL)
        return;
    pthread_mutex_lock(&st->lock);
    p = st->pending;
    for (i = 0; p != NULL && i < p->n; i++) {
        j = (p->head + i) % PENDING_MAX;
        if (p->r[j].kind != kind)
            continue;
        for (; i > 0; i--) /* close the gap: the older ones move up one */
            p->r[(p->head + i) % PENDING_MAX] = p->r[(p->head + i - 1) % PENDING_MAX];
        p->head = (p->head + 1) % PENDING_MAX;
        p->n--;
        break;
    }
    pthread_mutex_unlock(&st->lock);
}

/* Whether an actor is subject to the detector: staff, not the local
 * operator (who holds the master key and answers to the audit log). */
static int watched(const char *actor)
{
    return actor != NULL && strncmp(actor, "operator:", 9) != 0;
}

/* Whether `staff`'s old rows are due for pruning in `minute` (and notes
 * that they are pruned now).  Staff the server has not judged yet are
 * pruned when it has. */
static int due_for_pruning(struct service_detector *d, const char *staff, int64_t minute)
{
    struct staff_state *st;
    int due = 0;

    st = staff_find(d, staff, 0);
    if (st == NULL)
        return 0;
    pthread_mutex_lock(&st->lock);
    if (st->pruned_minute != minute) {
        st->pruned_minute = minute;
        due = 1;
    }
    pthread_mutex_unlock(&st->lock);
    return due;
}

/* Adds counts to `acc`, merging equal (staff, metric, bucket) keys: a batch
 * of one busy clerk's entries writes a few rows, not four per entry. */
static void merge_counts(struct store_count **acc, size_t *n, size_t *cap,
                         const struct store_count *c, size_t k)
{
    size_t i, j;

    for (i = 0; i < k; i++) {
        for (j = 0; j < *n; j++)
            if ((*acc)[j].metric == c[i].metric && (*acc)[j].bucket == c[i].bucket &&
                strcmp((*acc)[j].staff, c[i].staff) == 0)
                break;
        if (j < *n) {
            (*acc)[j].n += c[i].n;
            continue;
        }
        if (*n == *cap) {
            *cap = *cap ? 2 * *cap : 64;
            *acc = xrealloc(*acc, *cap * sizeof(**acc));
        }
        (*acc)[(*n)++] = c[i];
    }
}

/* The detector's part of the audit commit hook: counts the batch's
 * look-ups, reveals and case events, in the batch's own transaction. */
int service_detect_committed(struct service_detector *d, struct store *s,
                             const struct audit_committed *e, size_t n, char **errmsg)
{
    struct store_count c[3 + MODEL_F__COUNT], *acc = NULL;
    struct store_recent *recent = NULL; /* one statement for the batch's */
    int fields[MODEL_F__COUNT];
    size_t i, k, nacc = 0, cap = 0, nrecent = 0, caprecent = 0;
    int rc = CU_OK, kind;

    for (i = 0; rc == CU_OK && i < n; i++) {
        if (!watched(e[i].actor))
            continue;
        if (e[i].action == AUDIT_CASE_OPEN && e[i].decision == AUDIT_ALLOW &&
            e[i].side_len == strlen("customer_support") &&
            memcmp(e[i].side, "customer_support", e[i].side_len) == 0)
            kind = COUNT_CASE_OPENED;
        else if (e[i].action == AUDIT_CASE_VERIFY && e[i].decision == AUDIT_ALLOW)
            kind = COUNT_CASE_VERIFIED;
        else if (e[i].action == AUDIT_CASE_APPROVE && e[i].decision == AUDIT_ALLOW)
            kind = COUNT_APPROVAL;
        else if (e[i].action == AUDIT_CASE_VERIFY && e[i].reasons != NULL &&
                 strstr(e[i].reasons, "code-incorrect") != NULL)
            kind = COUNT_WRONG_CODE;
        else if (e[i].decision == AUDIT_ALLOW &&
                 (e[i].action == AUDIT_LOOKUP || e[i].action == AUDIT_REVEAL))
            kind = e[i].action == AUDIT_LOOKUP ? DETECT_LOOKUP : DETECT_REVEAL;
        else
            continue;
        memset(fields, 0, sizeof(fields));
        if (kind == DETECT_REVEAL && e[i].fields != NULL) {
            struct buf canon = BUF_INIT;

            if (service_parse_fields(e[i].fields, fields, &canon, NULL) != CU_OK)
                memset(fields, 0, sizeof(fields));
            buf_release(&canon);
        }
        k = increments(d->policy, kind, fields, e[i].time_ms / 1000, e[i].actor, c);
        merge_counts(&acc, &nacc, &cap, c, k);
        if (kind == DETECT_LOOKUP || kind == DETECT_REVEAL || kind == COUNT_CASE_OPENED)
            pending_take(d, e[i].actor, kind);
        if (kind == COUNT_APPROVAL && e[i].side_len > 0 && e[i].side_len < 40) {
            /* and the pair, under "supervisor>requester" (the requester
             * rides as side data): its day bucket */
            char *pair =
                xasprintf("%s>%.*s", e[i].actor, (int)e[i].side_len, (const char *)e[i].side);
            struct store_count pc = {pair, metric_id(DETECT_APPROVALS, SIZE_DAY),
                                     e[i].time_ms / 1000 / 86400, 1};

            rc = store_detect_add(s, &pc, 1, errmsg);
            free(pair);
        }
        if (kind == DETECT_LOOKUP && e[i].side_len == 2 * NEAR_BYTES) {
            if (nrecent == caprecent) {
                caprecent = caprecent ? 2 * caprecent : 64;
                recent = xrealloc(recent, caprecent * sizeof(*recent));
            }
            recent[nrecent++] =
                (struct store_recent){e[i].actor, e[i].time_ms / 1000, e[i].side, 2 * NEAR_BYTES};
        }
        /* Old buckets go as their owner works, once a minute at most. */
        if (rc == CU_OK && due_for_pruning(d, e[i].actor, e[i].time_ms / 60000)) {
            const struct policy_statutory *st = policy_statutory(d->policy);
            int64_t t = e[i].time_ms / 1000;
            int64_t kept[3] = {t / 60 - MINUTES, t / 3600 - HOURS,
                               t / 86400 - (int64_t)st->window_days};

            rc = store_detect_prune(s, e[i].actor, kept, errmsg);
            if (rc == CU_OK)
                rc = store_recent_prune(
                    s, e[i].actor, t - 3600 * (int64_t)policy_enumeration(d->policy)->window_hours,
                    errmsg);
        }
    }
    if (rc == CU_OK && nacc > 0)
        rc = store_detect_add(s, acc, nacc, errmsg);
    if (rc == CU_OK && nrecent > 0)
        rc = store_recent_add(s, recent, nrecent, errmsg);
    free(acc);
    free(recent);
    return rc;
}

int service_neighbourhood(struct service *svc, int kind, const char *value,
                          struct service_near *near)
{
    const struct policy_enumeration *en = policy_enumeration(svc->policy);
    struct model_error merr = {0};
    char *norm = NULL, prefix[40], text[96];
    unsigned long long number, distance, b;
    size_t len;
    int j, ok = 0;

    if (kind != MODEL_ID_IMEI && kind != MODEL_ID_PHONE)
        return 0;
    if (model_norm_ident((enum model_ident)kind, value, svc->default_country, &norm, &merr) !=
        CU_OK)
        goto out;
    len = strlen(norm);
    if (kind == MODEL_ID_IMEI && len == 15) {
        char serial[7];

        /* the TAC (a model, not a person) and the serial's bucket */
        snprintf(prefix, sizeof(prefix), "imei:%.8s", norm);
        memcpy(serial, norm + 8, 6); /* digits 9 to 14; the 15th checks */
        serial[6] = '\0';
        number = strtoull(serial, NULL, 10);
        distance = en->imei_serial_distance;
    } else if (kind == MODEL_ID_PHONE && len > 8) {
        /* country code and length, and the number's bucket */
        snprintf(prefix, sizeof(prefix), "tel:%.4s:%zu", norm, len);
        number = strtoull(norm + 4, NULL, 10);
        distance = en->phone_distance;
    } else {
        goto out;
    }
    if (distance == 0)
        distance = 1;
    b = number / distance;
    /* Two numbers within `distance` fall in the same or adjacent buckets;
     * only keyed hashes of buckets are kept, never an identifier. */
    for (j = 0; j < 3; j++) {
        snprintf(text, sizeof(text), "enumeration|%s|%llu", prefix, b + (unsigned long long)j - 1);
        vault_pseudonym(svc->vault, text, near->bucket[j]);
        cu_wipe(text, sizeof(text));
    }
    snprintf(text, sizeof(text), "enumeration|%s|=%llu", prefix, number);
    vault_pseudonym(svc->vault, text, near->exact);
    cu_wipe(text, sizeof(text));
    ok = 1;
out:
    if (norm != NULL) {
        cu_wipe(norm, strlen(norm));
        free(norm);
    }
    return ok;
}

int service_detect_open(struct service *svc, char **errmsg)
{
    struct service_detector *d;

    (void)errmsg;
    if (svc->detector != NULL || svc->borrowed)
        return CU_OK;
    if (svc->detector_off) {
        cu_log("insider detection is OFF (config.json \"detector\": false): for measuring its "
               "cost only");
        return CU_OK;
    }
    d = xcalloc(1, sizeof(*d));
    pthread_mutex_init(&d->lock, NULL);
    d->policy = svc->policy;
    /* A PostgreSQL store is shared by servers: their counts, at once. */
    d->refresh_s = strncmp(svc->store_url, "postgres", 8) == 0 ? 0 : REFRESH_S;
    svc->detector = d;
    return CU_OK;
}

void service_detect_free(struct service_detector *d)
{
    size_t i;

    if (d == NULL)
        return;
    for (i = 0; i < PEERS_MAX; i++)
        free(d->peers[i].member);
    for (i = 0; i < CACHE_SIZE; i++)
        while (d->bucket[i] != NULL) {
            struct staff_state *next = d->bucket[i]->next;

            free(d->bucket[i]->pending);
            pthread_mutex_destroy(&d->bucket[i]->lock);
            free(d->bucket[i]);
            d->bucket[i] = next;
        }
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/*
 * The minute of the day (0..1439) in time zone `tz` at `now`.  The C
 * library converts to local time only for the process's zone (TZ), so the
 * zone's offset is found under a lock by switching TZ, and cached for a
 * few minutes (offsets change only at daylight-saving transitions).
 */
static int local_minute(const char *tz, int64_t now)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static char cached_tz[64];
    static int64_t cached_until, cached_offset;
    int64_t offset;

    pthread_mutex_lock(&lock);
    if (strcmp(tz, cached_tz) != 0 || now >= cached_until) {
        char *old = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
        time_t t = (time_t)now;
        struct tm tm;

        setenv("TZ", tz, 1);
        tzset();
        localtime_r(&t, &tm);
        cached_offset = tm.tm_gmtoff;
        if (old != NULL)
            setenv("TZ", old, 1);
        else
            unsetenv("TZ");
        tzset();
        free(old);
        snprintf(cached_tz, sizeof(cached_tz), "%s", tz);
        cached_until = now + 300;
    }
    offset = cached_offset;
    pthread_mutex_unlock(&lock);
    return (int)((((now + offset) % 86400) + 86400) % 86400 / 60);
}

static int add_peer(void *ctx, const struct store_count *c)
{
    struct peer_group *g = ctx;

    g->member = xrealloc(g->member, (g->n + 1) * sizeof(*g->member));
    snprintf(g->member[g->n].staff, sizeof(g->member[0].staff), "%s", c->staff);
    g->member[g->n++].reveals = c->n > UINT32_MAX ? UINT32_MAX : (uint32_t)c->n;
    return 0;
}

/* The peers of `who` (same role and store, not themselves) and the mean and
 * standard deviation of their reveals today.  The detector's lock held. */
static void peers_of(struct service *svc, struct service_detector *d,
                     const struct service_actor *who, int64_t now, struct detect_request *r)
{
    struct peer_group *g = NULL;
    double sum = 0, sq = 0;
    size_t i, oldest = 0, n = 0;

    if (who->role == NULL || who->store == NULL)
        return;
    for (i = 0; i < PEERS_MAX; i++) {
        if (strcmp(d->peers[i].role, who->role) == 0 && strcmp(d->peers[i].store, who->store) == 0)
            g = &d->peers[i];
        if (d->peers[i].read_at < d->peers[oldest].read_at)
            oldest = i;
    }
    if (g == NULL) {
        g = &d->peers[oldest];
        snprintf(g->role, sizeof(g->role), "%s", who->role);
        snprintf(g->store, sizeof(g->store), "%s", who->store);
        g->read_at = 0;
    }
    if (now - g->read_at >= PEERS_S) {
        g->n = 0;
        if (store_detect_peers(svc->store, g->role, g->store, metric_id(DETECT_REVEALS, SIZE_DAY),
                               now / 86400, add_peer, g, NULL) != CU_OK)
            g->n = 0;
        g->read_at = now;
    }
    for (i = 0; i < g->n; i++) {
        if (strcmp(g->member[i].staff, who->username) == 0) {
            r->reveals_today = g->member[i].reveals;
            continue;
        }
        sum += g->member[i].reveals;
        sq += (double)g->member[i].reveals * g->member[i].reveals;
        n++;
    }
    r->peers = (uint32_t)n;
    if (n > 0) {
        r->peer_mean = sum / (double)n;
        r->peer_stdev = sqrt(sq / (double)n - r->peer_mean * r->peer_mean > 0
                                 ? sq / (double)n - r->peer_mean * r->peer_mean
                                 : 0);
    }
}

struct day_sums {
    int64_t today;
    uint32_t total_today, days;
    double sum, sq;
};

static int add_day(void *ctx, const struct store_count *c)
{
    struct day_sums *a = ctx;

    if (c->bucket == a->today) {
        a->total_today = c->n > UINT32_MAX ? UINT32_MAX : (uint32_t)c->n;
    } else if (c->bucket < a->today) {
        a->days++;
        a->sum += (double)c->n;
        a->sq += (double)c->n * (double)c->n;
    }
    return 0;
}

/* The store baseline of `who`'s store.  The detector's lock held. */
static void store_days_of(struct service *svc, struct service_detector *d,
                          const struct service_actor *who, int64_t now, struct detect_request *r)
{
    struct store_days *g = NULL;
    size_t i, oldest = 0;

    if (who->store == NULL)
        return;
    for (i = 0; i < PEERS_MAX; i++) {
        if (strcmp(d->stores[i].store, who->store) == 0)
            g = &d->stores[i];
        if (d->stores[i].read_at < d->stores[oldest].read_at)
            oldest = i;
    }
    if (g == NULL) {
        g = &d->stores[oldest];
        snprintf(g->store, sizeof(g->store), "%s", who->store);
        g->read_at = 0;
    }
    if (now - g->read_at >= PEERS_S || g->today != now / 86400) {
        struct day_sums a = {now / 86400, 0, 0, 0, 0};

        if (store_detect_store_days(svc->store, g->store, metric_id(DETECT_REVEALS, SIZE_DAY),
                                    a.today - 30, add_day, &a, NULL) != CU_OK)
            memset(&a, 0, sizeof(a));
        g->today = now / 86400;
        g->total_today = a.total_today;
        g->days = a.days;
        g->mean = a.days ? a.sum / a.days : 0;
        g->stdev = a.days && a.sq / a.days > g->mean * g->mean
                       ? sqrt(a.sq / a.days - g->mean * g->mean)
                       : 0;
        g->read_at = now;
    }
    r->store_today = g->total_today;
    r->store_days = g->days;
    r->store_mean = g->mean;
    r->store_stdev = g->stdev;
}

int service_detect_check(struct service *svc, const struct service_actor *who, int kind,
                         const int fields[MODEL_F__COUNT], int canary,
                         const struct service_near *near, int stepped_up, struct detect_verdict *v,
                         char **errmsg)
{
    struct service_detector *d = svc->detector;
    struct detect_request r = {0};
    struct detect_usage u;
    struct staff_state *st;
    struct store_count c[3 + MODEL_F__COUNT];
    int64_t now = cu_now();
    size_t i, k;
    int rc, role = policy_role_from_name(who->role);

    memset(v, 0, sizeof(*v));
    v->action = DETECT_ALLOW;
    if (d == NULL || !watched(who->username) || role < 0)
        return CU_OK;
    r.kind = (enum detect_kind)kind;
    if (fields != NULL)
        memcpy(r.fields, fields, sizeof(r.fields));
    r.canary = canary;
    {
        const struct policy_hours *hours = policy_store_hours(d->policy, who->store);

        r.outside_hours = !policy_hours_open_at(hours, local_minute(hours->timezone, now));
    }
    rc = state_of(svc, d, who->username, now, &st, errmsg);
    if (rc == CU_OK && near != NULL && (rc = recent_of(svc, d, st, now, errmsg)) != CU_OK)
        pthread_mutex_unlock(&st->lock);
    if (rc == CU_OK) {
        usage_of(d->policy, st, now, &u);
        if (kind == DETECT_REVEAL) {
            pthread_mutex_lock(&d->lock);
            peers_of(svc, d, who, now, &r);
            store_days_of(svc, d, who, now, &r);
            pthread_mutex_unlock(&d->lock);
        }
        if (near != NULL)
            r.neighbours = neighbours(
                st, near, now - 3600 * (int64_t)policy_enumeration(d->policy)->window_hours);
        detect_judge(d->policy, (enum policy_role)role, &u, &r, v);
        if (kind != DETECT_VERIFY &&
            (v->action == DETECT_ALLOW || (v->action == DETECT_STEP_UP && stepped_up))) {
            /* reserve: this request counts from now on (a verification
             * counts once its outcome is known, in the commit hook) */
            k = increments(d->policy, kind == DETECT_CASE_OPEN ? COUNT_CASE_OPENED : kind, r.fields,
                           now, who->username, c);
            unsigned char side[2 * NEAR_BYTES];

            for (i = 0; i < k; i++)
                state_add(st, c[i].metric / 4, c[i].metric % 4, c[i].bucket, 1);
            if (near != NULL) {
                memcpy(side, near->bucket[1], NEAR_BYTES);
                memcpy(side + NEAR_BYTES, near->exact, NEAR_BYTES);
                recent_add(st, now, side, 1);
            }
            pending_push(st, kind == DETECT_CASE_OPEN ? COUNT_CASE_OPENED : kind, now, c, k);
        }
        pthread_mutex_unlock(&st->lock);
    }
    return rc;
}

static int add_index(void *ctx, const struct store_audit_row *row)
{
    json_array_append_new(ctx, json_integer((json_int_t)row->index));
    return 0;
}

/*
 * An alert's evidence: the audit indexes of the staff member's most recent
 * entries (newest first, the alert's own included), which hold what the
 * counts were made of.  A new JSON text in *out.
 */
static int evidence(struct service *svc, const char *staff, const char **out, char **errmsg)
{
    json_t *list = json_array();
    int rc = store_audit_find(svc->store, staff, NULL, 0, EVIDENCE_MAX, add_index, list, errmsg);

    *out = rc == CU_OK ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    return rc;
}

/* Whether `rule` has not alerted on `who` within ALERT_QUIET_S (and
 * notes that it does now). */
static int fresh_alert(struct service *svc, const struct service_actor *who, const char *rule)
{
    struct service_detector *d = svc->detector;
    struct staff_state *st;
    int64_t now = cu_now();
    size_t i, oldest = 0;
    int fresh = 1;

    st = staff_find(d, who->username, 0);
    if (st != NULL) {
        pthread_mutex_lock(&st->lock);
        for (i = 0; i < CU_ARRAY_LEN(st->alerted); i++) {
            if (st->alerted[i].rule == rule && now - st->alerted[i].t < ALERT_QUIET_S) {
                fresh = 0;
                break;
            }
            if (st->alerted[i].t < st->alerted[oldest].t)
                oldest = i;
        }
        if (fresh) {
            for (i = 0; i < CU_ARRAY_LEN(st->alerted) && st->alerted[i].rule != rule; i++)
                ;
            i = i < CU_ARRAY_LEN(st->alerted) ? i : oldest;
            st->alerted[i].rule = rule;
            st->alerted[i].t = now;
        }
        pthread_mutex_unlock(&st->lock);
    }
    return fresh;
}

int service_detect_act(struct service *svc, const struct service_actor *who,
                       const struct detect_verdict *v, char **errmsg)
{
    struct store_alert a = {0};
    struct service_access note = {.action = AUDIT_ALERT, .decision = AUDIT_ALLOW};
    struct service_actor system = *who;
    uint64_t index = 0;
    int64_t id = 0;
    char detail[320];
    int rc = CU_OK;

    if (!v->alert && !v->suspend)
        return CU_OK;
    if (v->alert && !v->critical && svc->detector != NULL && !fresh_alert(svc, who, v->rule))
        return CU_OK; /* alerted on this rule within the hour; the audit has every block */
    snprintf(detail, sizeof(detail), "%s: %s", v->rule ? v->rule : "alert", v->detail);
    note.reasons = v->rule;
    note.detail = detail;
    if (v->alert) {
        rc = service_audit_access(svc, &system, &note, &index, errmsg);
        a.created_at = cu_now();
        a.staff = who->username;
        a.rule = v->rule ? v->rule : "alert";
        a.severity = v->critical ? "critical" : v->action == DETECT_BLOCK ? "high" : "warning";
        a.detail = v->detail;
        a.audit_index = (int64_t)index;
        if (rc == CU_OK)
            rc = evidence(svc, who->username, &a.evidence, errmsg);
        if (rc == CU_OK)
            rc = store_alert_add(svc->store, &a, &id, errmsg);
        free((char *)a.evidence);
        if (rc == CU_OK) {
            char *text = xasprintf("alert %lld (%s) on %s: %s", (long long)id, a.severity,
                                   who->username, detail);

            cu_log("%s", text);
            /* to the security team's webhook, through the outbox (its
             * retries); no personal value is in an alert */
            rc = service_notify(svc, "", NULL, "alert", "security", text, errmsg);
            free(text);
        }
    }
    if (rc == CU_OK && v->suspend) {
        struct service_actor detector = {"detector", "system", NULL, who->client, who->request_id};

        rc = service_staff_set_suspended(svc, &detector, who->username, 1, errmsg);
    }
    return rc;
}

struct alert_list {
    json_t *alerts;
};

static int alert_json(void *ctx, const struct store_alert *a)
{
    struct alert_list *l = ctx;
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:s}", "id", (json_int_t)a->id,
                          "severity", a->severity, "rule", a->rule, "staff", a->staff, "detail",
                          a->detail, "created_at", (json_int_t)a->created_at, "status", a->status);

    if (a->audit_index >= 0)
        json_object_set_new(o, "audit_index", json_integer(a->audit_index));
    if (a->evidence != NULL) {
        json_t *ev = json_loads(a->evidence, 0, NULL);

        if (ev != NULL)
            json_object_set_new(o, "audit_indexes", ev);
    }
    if (a->acked_by != NULL) {
        json_object_set_new(o, "acked_by", json_string(a->acked_by));
        json_object_set_new(o, "acked_at", json_integer(a->acked_at));
    }
    json_array_append_new(l->alerts, o);
    return 0;
}

int service_alerts(struct service *svc, const char *status, size_t limit, json_t **out,
                   char **errmsg)
{
    struct alert_list l = {json_array()};
    int rc;

    *out = NULL;
    if (status != NULL && strcmp(status, "open") != 0 && strcmp(status, "acked") != 0) {
        json_decref(l.alerts);
        return cu_errf(errmsg, CU_ERR_INVALID, "status must be open or acked");
    }
    rc = store_alert_list(svc->store, status, limit, alert_json, &l, errmsg);
    if (rc == CU_OK)
        *out = json_pack("{s:o}", "alerts", l.alerts);
    else
        json_decref(l.alerts);
    return rc;
}

int service_alert_ack(struct service *svc, const struct service_actor *who, int64_t id,
                      char **errmsg)
{
    char detail[64];
    int rc;

    snprintf(detail, sizeof(detail), "acknowledged alert %lld", (long long)id);
    rc = store_alert_ack(svc->store, id, who->username, cu_now(), errmsg);
    if (rc == CU_OK)
        rc = service_audit_note(svc, who, AUDIT_ALERT, 1, detail, errmsg);
    return rc;
}

int service_detect_usage(struct service *svc, const char *staff, const char *role, json_t **out,
                         char **errmsg)
{
    struct service_detector *d = svc->detector;
    int r = policy_role_from_name(role);
    const struct policy_quota *q = policy_quota(svc->policy, r < 0 ? POLICY_ROLE__COUNT : r);
    const struct policy_statutory *st = policy_statutory(svc->policy);
    struct staff_state *s;
    struct detect_usage u = {0};
    int64_t now = cu_now();
    size_t hours_today = (size_t)(now % 86400 / 3600) + 1; /* the UTC day's hour buckets */
    uint32_t lookups_today, reveals_today;
    int rc;

    *out = NULL;
    if (d != NULL) {
        rc = state_of(svc, d, staff, now, &s, errmsg);
    } else {
        s = xcalloc(1, sizeof(*s));
        rc = store_detect_rows(svc->store, staff, load_row, s, errmsg);
    }
    if (rc == CU_OK) {
        usage_of(svc->policy, s, now, &u);
        lookups_today = ring_sum(s->lookups_hour, HOURS, now / 3600, hours_today);
        reveals_today = ring_sum(s->reveals_hour, HOURS, now / 3600, hours_today);
    }
    if (d != NULL && rc == CU_OK)
        pthread_mutex_unlock(&s->lock);
    if (d == NULL)
        free(s);
    if (rc != CU_OK)
        return rc;
    *out = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:{s:i, s:i, s:i, s:i},"
                     " s:{s:f, s:f, s:f, s:i}}",
                     "lookups_today", lookups_today, "reveals_today", reveals_today,
                     "lookups_last_hour", u.lookups_hour, "lookups_last_day", u.lookups_day,
                     "reveals_last_hour", u.reveals_hour, "reveals_last_day", u.reveals_day,
                     "limits", "lookups_per_hour", q->lookups_per_hour, "lookups_per_day",
                     q->lookups_per_day, "reveals_per_hour", q->reveals_per_hour, "reveals_per_day",
                     q->reveals_per_day, "statutory", "meter", detect_meter(svc->policy, &u, NULL),
                     "alert_at", st->alert_fraction, "block_at", st->block_fraction, "window_days",
                     st->window_days);
    return CU_OK;
}

void service_detect_wrong_code(struct service *svc, const struct service_actor *who)
{
    struct service_detector *d = svc->detector;
    struct staff_state *st;
    struct store_count c[1];
    int64_t now = cu_now();

    if (d == NULL || !watched(who->username))
        return;
    if (state_of(svc, d, who->username, now, &st, NULL) != CU_OK)
        return;
    if (increments(d->policy, COUNT_WRONG_CODE, NULL, now, who->username, c) == 1)
        state_add(st, c[0].metric / 4, c[0].metric % 4, c[0].bucket, 1);
    pthread_mutex_unlock(&st->lock);
}

int service_detect_approval(struct service *svc, const struct service_actor *who,
                            const char *requester, struct detect_verdict *v, char **errmsg)
{
    struct service_detector *d = svc->detector;
    struct detect_request r = {0};
    struct detect_usage u, pu;
    struct staff_state *st, *pair;
    struct store_count c[2];
    int64_t now = cu_now();
    char *pair_name;
    size_t i, k;
    int rc, role = policy_role_from_name(who->role);

    memset(v, 0, sizeof(*v));
    v->action = DETECT_ALLOW;
    if (d == NULL || !watched(who->username) || role < 0)
        return CU_OK;
    r.kind = DETECT_APPROVE;
    pair_name = xasprintf("%s>%s", who->username, requester);
    rc = state_of(svc, d, who->username, now, &st, errmsg);
    if (rc == CU_OK) {
        rc = state_of(svc, d, pair_name, now, &pair, errmsg);
        if (rc != CU_OK)
            pthread_mutex_unlock(&st->lock);
    }
    if (rc == CU_OK) {
        usage_of(d->policy, st, now, &u);
        usage_of(d->policy, pair, now, &pu);
        u.approvals_same_30d = pu.approvals_30d;
        detect_judge(d->policy, (enum policy_role)role, &u, &r, v);
        /* counted at once, here; the store counts it in the audit commit */
        k = increments(d->policy, COUNT_APPROVAL, NULL, now, who->username, c);
        for (i = 0; i < k; i++)
            state_add(st, c[i].metric / 4, c[i].metric % 4, c[i].bucket, 1);
        state_add(pair, DETECT_APPROVALS, SIZE_DAY, now / 86400, 1);
        pthread_mutex_unlock(&pair->lock);
        pthread_mutex_unlock(&st->lock);
    }
    free(pair_name);
    return rc;
}
