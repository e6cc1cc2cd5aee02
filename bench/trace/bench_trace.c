/*
 * Leak tracing benchmark and accuracy experiment (bench/trace/run.sh).
 *
 *   bench-trace history DATA --customers N [--staff S] [--reveals R] [--seed X]
 *                        --leak FILE [--lines L] [--ids FILE]
 *       Writes R realistic reveals (and the look-ups and refusals around
 *       them) by S staff over 90 days into the audit log of DATA, whose
 *       customers are `custodian gen customers N --seed 1`.  One clerk,
 *       the leaker, also harvests extra customers of their store.  Then
 *       writes FILE: L lines of a leak in mixed formats (a CSV header,
 *       CSV rows, JSON Lines, free text, tab-separated, IMEIs in groups),
 *       30% from the leaker's customers, 25% from other staff's, 25% from
 *       anyone, 10% identifiers of nobody in the vault, 10% junk.  Prints
 *       the leaker's name and counts as JSON on stderr.  --ids writes the
 *       customer ids of the leak's customers (for `compare`).
 *
 *   bench-trace compare DATA IDS
 *       The audit log read two ways for the reveals of the customers in
 *       IDS: one sequential pass (what service_trace does) and one index
 *       query per customer (store_audit_find).  Prints both times.
 *
 *   bench-trace accuracy WORK [--vaults V] [--runs R] [--customers N]
 *                        [--staff S] [--reveals K]
 *       V fresh vaults (N customers, S staff, K reveals each, other
 *       seeds), and in each R simulated leaks per scenario traced through
 *       service_trace: one leaker, two colluders, a leak mixed with public
 *       data, a tiny leak.  Prints a markdown table.
 *
 * Audit entries are real entries (the customer's keyed pseudonym as
 * subject), appended through the audit writer with 1,024 in flight, as
 * bench-audit --in-flight does.  Run with "detector": false in the data
 * folder's config: the history is in the past, and the detector's
 * counters are not what is measured.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "audit/audit.h"
#include "service/service.h"
#include "store/store.h"
#include "synth/synth.h"
#include "vault/vault.h"

#define DAY_MS        86400000LL
#define IN_FLIGHT     1024
#define RING          4096
#define CUSTOMER_SEED 1

/* --- randomness ------------------------------------------------------------------ */

static uint64_t rnd(uint64_t *s, uint64_t n)
{
    return n ? synth_rand(s) % n : 0;
}

static double unif(uint64_t *s)
{
    return (double)(synth_rand(s) >> 11) * 0x1.0p-53;
}

/* --- lines of a leak -------------------------------------------------------------- */

static void add_phone(struct buf *b, const char *p, uint64_t *rs)
{
    /* +86 mobiles: the ways they are written in China */
    if (strncmp(p, "+86", 3) == 0 && strlen(p) == 14) {
        const char *n = p + 3;

        switch (rnd(rs, 10)) {
        case 0:
            buf_addf(b, "+86 %.3s-%.4s-%.4s", n, n + 3, n + 7);
            break;
        case 1:
            buf_addf(b, "%.3s %.4s %.4s", n, n + 3, n + 7);
            break;
        case 2:
            buf_addstr(b, n);
            break;
        case 3:
            buf_addf(b, "(0)%.3s %.4s %.4s", n, n + 3, n + 7);
            break;
        case 4:
            buf_addf(b, "0086 %.3s %.4s %.4s", n, n + 3, n + 7);
            break;
        case 5:
            buf_addf(b, "+86 (0)%.3s %.4s %.4s", n, n + 3, n + 7);
            break;
        case 6:
            buf_addf(b, "%.3s-%.4s-%.4s", n, n + 3, n + 7);
            break;
        case 7:
            buf_addf(b, "86 %s", n);
            break;
        case 8:
            buf_addstr(b, p);
            break;
        default:
            buf_addf(b, "%.3s.%.4s.%.4s", n, n + 3, n + 7);
            break;
        }
        return;
    }
    if (rnd(rs, 2))
        buf_addstr(b, p);
    else
        buf_addf(b, "00%s", p + 1);
}

static void add_imei(struct buf *b, const char *i, uint64_t *rs)
{
    switch (rnd(rs, 4)) {
    case 0:
        buf_addf(b, "%.2s-%.6s-%.6s-%.1s", i, i + 2, i + 8, i + 14);
        break;
    case 1:
        buf_addf(b, "%.2s %.6s %.6s %.1s", i, i + 2, i + 8, i + 14);
        break;
    case 2:
        buf_addf(b, "IMEI:%s", i);
        break;
    default:
        buf_addstr(b, i);
        break;
    }
}

static void add_email(struct buf *b, const char *e, uint64_t *rs)
{
    size_t i;

    switch (rnd(rs, 4)) {
    case 0:
        buf_addf(b, "<%s>", e);
        break;
    case 1:
        buf_addf(b, "mailto:%s", e);
        break;
    case 2:
        for (i = 0; e[i]; i++)
            buf_addch(b, i == 0 && e[i] >= 'a' && e[i] <= 'z' ? (char)(e[i] - 32) : e[i]);
        break;
    default:
        buf_addstr(b, e);
        break;
    }
}

/* One customer's line, in one of five formats, with one to three of their identifiers. */
static void leak_line(struct buf *b, const struct model_customer *c, uint64_t *rs)
{
    const char *phone = c->nphones ? c->phones[rnd(rs, c->nphones)] : NULL;
    const char *email = c->email ? c->email : c->account;
    const char *imei = c->ndevices ? c->devices[rnd(rs, c->ndevices)].imei : NULL;
    int want = (int)rnd(rs, 7) + 1; /* bits: phone, e-mail, IMEI */
    struct buf tmp = BUF_INIT;
    json_t *o;
    char *text;

    if (phone == NULL)
        want &= ~1;
    if (email == NULL)
        want &= ~2;
    if (imei == NULL)
        want &= ~4;
    if (want == 0)
        want = phone ? 1 : email ? 2 : 4;
    switch (rnd(rs, 5)) {
    case 0: /* a CSV row under the header: name,phone,email,imei,note */
        buf_addf(b, "\"%s\",", c->name);
        if (want & 1) {
            buf_addch(b, '"');
            add_phone(b, phone, rs);
            buf_addch(b, '"');
        }
        buf_addch(b, ',');
        if (want & 2)
            add_email(b, email, rs);
        buf_addch(b, ',');
        if (want & 4)
            add_imei(b, imei, rs);
        buf_addstr(b, ",\"paid, 120 RMB\"");
        break;
    case 1: /* JSON Lines */
        o = json_pack("{s:s}", "name", c->name);
        if (want & 1) {
            add_phone(&tmp, phone, rs);
            json_object_set_new(o, "mobile", json_string(tmp.data));
        }
        if (want & 2)
            json_object_set_new(o, "email", json_string(email));
        if (want & 4)
            json_object_set_new(o, "devices",
                                json_pack("[{s:I}]", "imei", (json_int_t)strtoll(imei, NULL, 10)));
        text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII * (int)rnd(rs, 2));
        buf_addstr(b, text);
        free(text);
        json_decref(o);
        break;
    case 2: /* free text */
        buf_addf(b, "客户 %s", c->name);
        if (want & 1) {
            buf_addstr(b, " 手机 ");
            add_phone(b, phone, rs);
        }
        if (want & 2) {
            buf_addstr(b, " 邮箱 ");
            add_email(b, email, rs);
        }
        if (want & 4) {
            buf_addstr(b, " 串号 ");
            add_imei(b, imei, rs);
        }
        buf_addstr(b, " 已核实");
        break;
    case 3: /* tab-separated */
        buf_addstr(b, c->name);
        if (want & 1) {
            buf_addch(b, '\t');
            add_phone(b, phone, rs);
        }
        if (want & 2) {
            buf_addch(b, '\t');
            add_email(b, email, rs);
        }
        if (want & 4) {
            buf_addch(b, '\t');
            add_imei(b, imei, rs);
        }
        break;
    default: /* a device dealer's list */
        if (want & 4) {
            add_imei(b, imei, rs);
            buf_addstr(b, " owner ");
        }
        buf_addstr(b, c->name);
        if (want & 1) {
            buf_addstr(b, " tel ");
            add_phone(b, phone, rs);
        }
        if (want & 2) {
            buf_addstr(b, " / ");
            add_email(b, email, rs);
        }
        break;
    }
    buf_addch(b, '\n');
    buf_release(&tmp);
}

/* Identifiers of nobody in the vault. */
static void stranger_line(struct buf *b, uint64_t *rs)
{
    buf_addf(b, "陌生人 tel 1%02u %04u %04u, mail stranger%06u@example.org\n",
             (unsigned)(30 + rnd(rs, 60)), (unsigned)rnd(rs, 10000), (unsigned)rnd(rs, 10000),
             (unsigned)rnd(rs, 1000000));
}

static void junk_line(struct buf *b, uint64_t *rs)
{
    static const char *const junk[] = {
        "订单 2019-03-14 金额 180 元",
        "----------------------------------------",
        "page 3 of 17",
        "广东省深圳市南山区科技园 10 栋",
        "price: 3.14, qty 12, total 37.68",
        "aaa,bbb,ccc,ddd",
        "# exported 2017-05-03 10:22:31",
        "",
    };

    buf_addf(b, "%s\n", junk[rnd(rs, CU_ARRAY_LEN(junk))]);
}

/* --- a world of staff and their reveals --------------------------------------------- */

struct staff {
    char name[32];
    char store[16];
    const char *role;
    unsigned store_no; /* clerks: their store; agents serve everyone */
    int agent;
    uint32_t *revealed; /* customers revealed (allowed), with repeats */
    size_t nrevealed, cap;
};

struct window {
    pthread_mutex_t lock;
    pthread_cond_t room;
    uint64_t in_flight, done, failed;
};

struct world {
    struct service *svc;
    uint64_t customers;
    unsigned nstores;
    size_t nstaff;
    struct staff *staff;
    double *cum;            /* cumulative activity weights */
    uint32_t *ring[64 + 1]; /* recently served customers, per store and (last) for agents */
    size_t ring_n[64 + 1];
    uint64_t next[64]; /* each store's next first-time customer (a permutation) */
    uint64_t mult;     /* ... coprime with the store's number of customers */
    uint64_t rs;
    struct window win;
    uint64_t entries, reveals;
};

static void window_done(void *ctx, int rc, uint64_t index, const char *err)
{
    struct window *w = ctx;

    (void)index;
    pthread_mutex_lock(&w->lock);
    if (rc != CU_OK && w->failed++ == 0)
        fprintf(stderr, "bench-trace: %s\n", err ? err : "audit append failed");
    w->in_flight--;
    w->done++;
    pthread_cond_signal(&w->room);
    pthread_mutex_unlock(&w->lock);
}

static int submit(struct world *w, const struct audit_entry *e)
{
    char *err = NULL;

    pthread_mutex_lock(&w->win.lock);
    while (w->win.in_flight >= IN_FLIGHT)
        pthread_cond_wait(&w->win.room, &w->win.lock);
    w->win.in_flight++;
    pthread_mutex_unlock(&w->win.lock);
    if (audit_log_submit(w->svc->audit, e, window_done, &w->win, &err) != CU_OK) {
        fprintf(stderr, "bench-trace: %s\n", err);
        free(err);
        return -1;
    }
    w->entries++;
    return 0;
}

static int drain(struct world *w)
{
    pthread_mutex_lock(&w->win.lock);
    while (w->win.in_flight > 0)
        pthread_cond_wait(&w->win.room, &w->win.lock);
    pthread_mutex_unlock(&w->win.lock);
    return w->win.failed ? -1 : 0;
}

static void world_init(struct world *w, struct service *svc, uint64_t customers, size_t nstaff,
                       uint64_t seed)
{
    size_t i, nagents = nstaff / 5;
    double total = 0;

    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->win.lock, NULL);
    pthread_cond_init(&w->win.room, NULL);
    w->svc = svc;
    w->customers = customers;
    w->rs = seed * 0x9E3779B97F4A7C15ULL + 12345;
    w->nstaff = nstaff;
    /* four or five clerks a store, up to 64 stores; a fifth of staff are agents */
    w->nstores = (unsigned)((nstaff - nagents + 4) / 5);
    if (w->nstores < 1)
        w->nstores = 1;
    if (w->nstores > 64)
        w->nstores = 64;
    w->staff = xcalloc(nstaff, sizeof(*w->staff));
    w->cum = xcalloc(nstaff, sizeof(*w->cum));
    for (i = 0; i < nstaff; i++) {
        struct staff *s = &w->staff[i];

        s->agent = i >= nstaff - nagents;
        if (s->agent) {
            snprintf(s->name, sizeof(s->name), "agent-%03zu", i - (nstaff - nagents) + 1);
            snprintf(s->store, sizeof(s->store), "CC-%02zu", i % 3 + 1);
            s->role = "agent";
        } else {
            s->store_no = (unsigned)(i % w->nstores);
            snprintf(s->name, sizeof(s->name), "clerk-%03zu", i + 1);
            snprintf(s->store, sizeof(s->store), "ST-%03u", s->store_no + 1);
            s->role = "clerk";
        }
        total += 0.5 + unif(&w->rs); /* some staff serve more than others */
        w->cum[i] = total;
    }
    for (i = 0; i <= 64; i++)
        w->ring[i] = xcalloc(RING, sizeof(uint32_t));
}

static void world_free(struct world *w)
{
    size_t i;

    for (i = 0; i < w->nstaff; i++)
        free(w->staff[i].revealed);
    for (i = 0; i <= 64; i++)
        free(w->ring[i]);
    free(w->staff);
    free(w->cum);
}

static size_t pick_staff(struct world *w)
{
    double r = unif(&w->rs) * w->cum[w->nstaff - 1];
    size_t lo = 0, hi = w->nstaff - 1, mid;

    while (lo < hi) {
        mid = (lo + hi) / 2;
        if (w->cum[mid] < r)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;

        a = b;
        b = t;
    }
    return a;
}

/*
 * A customer of the store (customers belong to store index % nstores), or
 * for an agent anyone.  A share of them come back (someone at the store
 * served them before); the others come for the first time in the period,
 * in a random order of the store's customers.
 */
static uint32_t pick_customer(struct world *w, const struct staff *s, int fresh_only)
{
    unsigned ring = s->agent ? 64 : s->store_no;
    uint64_t per = w->customers / w->nstores;
    uint32_t c;

    if (!fresh_only && w->ring_n[ring] > 0 && unif(&w->rs) < (s->agent ? 0.2 : 0.3))
        return w->ring[ring][rnd(&w->rs, w->ring_n[ring] < RING ? w->ring_n[ring] : RING)];
    if (s->agent) {
        c = (uint32_t)rnd(&w->rs, w->customers);
    } else {
        if (w->mult == 0)
            for (w->mult = per / 2 + 7919; gcd(w->mult, per) != 1; w->mult++)
                ;
        c = (uint32_t)(s->store_no +
                       w->nstores * ((w->next[s->store_no]++ * w->mult + s->store_no * 977) % per));
    }
    w->ring[ring][w->ring_n[ring]++ % RING] = c;
    return c;
}

/* One service event: perhaps a masked look-up first, then a reveal (or,
 * now and then, a refused one). */
static int serve(struct world *w, size_t si, uint32_t c, int64_t t_ms, uint64_t ev)
{
    struct staff *s = &w->staff[si];
    struct audit_entry e = {0};
    char cid[16], case_id[24], client[32];
    uint64_t h = ev * 0x9E3779B97F4A7C15ULL;

    snprintf(cid, sizeof(cid), "C%08u", c + 1);
    snprintf(case_id, sizeof(case_id), "K-%016llx", (unsigned long long)(h ^ (h >> 29)));
    snprintf(client, sizeof(client), "10.%u.%u.%u", (unsigned)(si % 200), (unsigned)(si / 200),
             (unsigned)(ev % 250 + 1));
    e.actor = s->name;
    e.role = s->role;
    e.store = s->store;
    e.client = client;
    e.has_subject = 1;
    vault_pseudonym(w->svc->vault, cid, e.subject);
    if (rnd(&w->rs, 4) == 0) {
        e.time_ms = t_ms - 60000;
        e.action = AUDIT_LOOKUP;
        e.decision = AUDIT_ALLOW;
        e.detail = rnd(&w->rs, 2) ? "by imei" : "by phone";
        if (submit(w, &e) != 0)
            return -1;
    }
    e.time_ms = t_ms;
    e.action = AUDIT_REVEAL;
    e.case_id = case_id;
    e.detail = NULL;
    if (rnd(&w->rs, 50) == 0) {
        e.decision = AUDIT_DENY;
        e.fields = "address";
        e.reasons = "field-not-allowed";
        return submit(w, &e);
    }
    e.decision = AUDIT_ALLOW;
    e.fields = rnd(&w->rs, 5) == 0 ? "name,phone,email" : "name,phone";
    if (s->nrevealed == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->revealed = xrealloc(s->revealed, s->cap * sizeof(uint32_t));
    }
    s->revealed[s->nrevealed++] = c;
    w->reveals++;
    return submit(w, &e);
}

/*
 * `reveals` service events over `days` days up to now; the staff member
 * `leaker` (if not SIZE_MAX) also reveals `extra` fresh customers of their
 * store, spread over the same days.
 */
static int history(struct world *w, uint64_t reveals, int days, size_t leaker, uint64_t extra)
{
    int64_t span = days * DAY_MS, start = cu_now_ms() - span - DAY_MS;
    uint64_t total = reveals + extra, ev, every = extra ? total / extra : 0;
    int64_t step = span / (int64_t)(total ? total : 1);
    size_t si;
    uint32_t c;

    for (ev = 0; ev < total; ev++) {
        if (extra && ev % every == every / 2) {
            si = leaker;
            c = pick_customer(w, &w->staff[si], 1);
        } else {
            si = pick_staff(w);
            c = pick_customer(w, &w->staff[si], 0);
        }
        if (serve(w, si, c, start + (int64_t)ev * step + (int64_t)rnd(&w->rs, (uint64_t)step),
                  ev) != 0)
            return -1;
    }
    return drain(w);
}

static void customer_of(uint64_t seed, uint32_t c, struct model_customer *m)
{
    model_customer_init(m);
    synth_customer(seed, c, m);
}

/* --- history: the big benchmark's vault ---------------------------------------------- */

static int parse_opt(int argc, char **argv, const char *name, uint64_t *v)
{
    int i;

    for (i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0) {
            *v = strtoull(argv[i + 1], NULL, 10);
            return 1;
        }
    return 0;
}

static const char *parse_str(int argc, char **argv, const char *name)
{
    int i;

    for (i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return NULL;
}

static struct service *open_data(const char *dir)
{
    struct service *svc = NULL;
    char *err = NULL;

    if (service_open(&svc, dir, &err) != CU_OK || service_audit_open(svc, &err) != CU_OK) {
        fprintf(stderr, "bench-trace: %s\n", err ? err : "cannot open");
        free(err);
        service_free(svc);
        return NULL;
    }
    return svc;
}

/* Picks a customer revealed by someone other than `leaker`. */
static uint32_t other_revealed(struct world *w, size_t leaker)
{
    size_t si;

    for (;;) {
        si = rnd(&w->rs, w->nstaff);
        if (si != leaker && w->staff[si].nrevealed > 0)
            return w->staff[si].revealed[rnd(&w->rs, w->staff[si].nrevealed)];
    }
}

static int cmd_history(int argc, char **argv)
{
    uint64_t customers = 0, nstaff = 200, reveals = 1000000, seed = 1, lines = 100000, i;
    const char *leak = parse_str(argc, argv, "--leak"), *ids_path = parse_str(argc, argv, "--ids");
    struct world w;
    struct service *svc;
    struct model_customer m;
    struct buf b = BUF_INIT;
    uint32_t c, *used = NULL;
    size_t nused = 0, leaker, k;
    FILE *fp, *ids;
    double t0;
    int r;

    parse_opt(argc, argv, "--customers", &customers);
    parse_opt(argc, argv, "--staff", &nstaff);
    parse_opt(argc, argv, "--reveals", &reveals);
    parse_opt(argc, argv, "--seed", &seed);
    parse_opt(argc, argv, "--lines", &lines);
    if (argc < 1 || customers < 1000 || nstaff < 10 || leak == NULL) {
        fprintf(stderr, "usage: bench-trace history DATA --customers N --leak FILE [...]\n");
        return 2;
    }
    svc = open_data(argv[0]);
    if (svc == NULL)
        return 1;
    world_init(&w, svc, customers, (size_t)nstaff, seed);
    leaker = 16; /* clerk-017 */
    t0 = cu_monotonic();
    if (history(&w, reveals, 90, leaker, reveals / 60) != 0)
        return 1;
    fprintf(stderr,
            "{\"entries\": %llu, \"reveals\": %llu, \"seconds\": %.1f, \"leaker\": \"%s\", "
            "\"leaker_reveals\": %zu}\n",
            (unsigned long long)w.entries, (unsigned long long)w.reveals, cu_monotonic() - t0,
            w.staff[leaker].name, w.staff[leaker].nrevealed);

    fp = fopen(leak, "w");
    ids = ids_path ? fopen(ids_path, "w") : NULL;
    if (fp == NULL || (ids_path && ids == NULL)) {
        fprintf(stderr, "bench-trace: cannot write the leak\n");
        return 1;
    }
    used = xcalloc(lines, sizeof(*used));
    buf_addstr(&b, "name,phone,email,imei,note\n");
    for (i = 1; i < lines; i++) {
        r = (int)rnd(&w.rs, 100);
        if (r < 10) {
            junk_line(&b, &w.rs);
        } else if (r < 20) {
            stranger_line(&b, &w.rs);
        } else {
            if (r < 50)
                c = w.staff[leaker].revealed[rnd(&w.rs, w.staff[leaker].nrevealed)];
            else if (r < 75)
                c = other_revealed(&w, leaker);
            else
                c = (uint32_t)rnd(&w.rs, customers);
            customer_of(CUSTOMER_SEED, c, &m);
            leak_line(&b, &m, &w.rs);
            model_customer_release(&m);
            used[nused++] = c;
        }
        if (b.len > (1 << 16)) {
            fwrite(b.data, 1, b.len, fp);
            buf_reset(&b);
        }
    }
    fwrite(b.data, 1, b.len, fp);
    fclose(fp);
    if (ids != NULL) {
        for (k = 0; k < nused; k++)
            fprintf(ids, "C%08u\n", used[k] + 1);
        fclose(ids);
    }
    free(used);
    buf_release(&b);
    world_free(&w);
    service_free(svc);
    return 0;
}

/* --- compare: one pass against one index query per customer -------------------------- */

struct cmp_ctx {
    unsigned char (*pseudo)[VAULT_PSEUDONYM_BYTES];
    uint32_t *slots;
    size_t nslots;
    struct buf scratch;
    uint64_t reveals, rows;
};

static int cmp_has(const struct cmp_ctx *x, const unsigned char *p)
{
    uint64_t h;
    size_t i;

    memcpy(&h, p, 8);
    for (i = h & (x->nslots - 1); x->slots[i]; i = (i + 1) & (x->nslots - 1))
        if (memcmp(x->pseudo[x->slots[i] - 1], p, VAULT_PSEUDONYM_BYTES) == 0)
            return 1;
    return 0;
}

static int cmp_reveal(struct cmp_ctx *x, const struct store_audit_row *row)
{
    struct audit_entry e;

    if (audit_entry_decode(row->leaf, row->len, &e, &x->scratch) == CU_OK &&
        e.action == AUDIT_REVEAL && e.decision == AUDIT_ALLOW)
        x->reveals++;
    return 0;
}

static int cmp_scan(void *arg, const struct store_audit_row *row)
{
    struct cmp_ctx *x = arg;

    x->rows++;
    if (row->subject == NULL || row->subject_len != VAULT_PSEUDONYM_BYTES ||
        !cmp_has(x, row->subject))
        return 0;
    return cmp_reveal(x, row);
}

static int cmp_find(void *arg, const struct store_audit_row *row)
{
    struct cmp_ctx *x = arg;

    x->rows++;
    return cmp_reveal(x, row);
}

static int cmd_compare(int argc, char **argv)
{
    struct cmp_ctx x = {0};
    struct service *svc;
    char line[64], *err = NULL;
    size_t n = 0, cap = 1024, i, k;
    uint64_t size = 0, wm = 0, h, scan_reveals;
    double t0, t_scan, t_find, t_index;
    FILE *fp;

    if (argc < 2 || (svc = open_data(argv[0])) == NULL || (fp = fopen(argv[1], "r")) == NULL) {
        fprintf(stderr, "usage: bench-trace compare DATA IDS\n");
        return 2;
    }
    x.pseudo = xmalloc(cap * sizeof(*x.pseudo));
    while (fgets(line, sizeof(line), fp)) {
        line[strcspn(line, "\n")] = '\0';
        if (n == cap)
            x.pseudo = xrealloc(x.pseudo, (cap *= 2) * sizeof(*x.pseudo));
        vault_pseudonym(svc->vault, line, x.pseudo[n++]);
    }
    fclose(fp);
    /* distinct pseudonyms, in a hash set */
    for (x.nslots = 1024; x.nslots < 2 * n;)
        x.nslots *= 2;
    x.slots = xcalloc(x.nslots, sizeof(*x.slots));
    for (i = 0, k = 0; i < n; i++) {
        if (cmp_has(&x, x.pseudo[i]))
            continue;
        memmove(x.pseudo[k], x.pseudo[i], VAULT_PSEUDONYM_BYTES);
        memcpy(&h, x.pseudo[k], 8);
        for (h &= x.nslots - 1; x.slots[h]; h = (h + 1) & (x.nslots - 1))
            ;
        x.slots[h] = (uint32_t)++k;
    }
    n = k;
    if (store_audit_size(svc->store, &size, &err) != CU_OK)
        goto fail;
    /* The look-up index is built behind the log: complete it first (not timed in either). */
    t0 = cu_monotonic();
    do {
        if (store_audit_index(svc->store, 1 << 20, &wm, &err) != CU_OK)
            goto fail;
    } while (wm < size);
    t_index = cu_monotonic() - t0;
    t0 = cu_monotonic();
    if (store_audit_scan(svc->store, 0, size, cmp_scan, &x, &err) != CU_OK)
        goto fail;
    t_scan = cu_monotonic() - t0;
    scan_reveals = x.reveals;
    x.reveals = x.rows = 0;
    t0 = cu_monotonic();
    for (i = 0; i < n; i++)
        if (store_audit_find(svc->store, NULL, x.pseudo[i], VAULT_PSEUDONYM_BYTES, 1000000,
                             cmp_find, &x, &err) != CU_OK)
            goto fail;
    t_find = cu_monotonic() - t0;
    fprintf(stderr,
            "{\"entries\": %llu, \"customers\": %zu, \"scan_seconds\": %.2f, \"scan_reveals\": "
            "%llu, \"index_queries_seconds\": %.2f, \"index_reveals\": %llu, "
            "\"index_catch_up_seconds\": %.1f}\n",
            (unsigned long long)size, n, t_scan, (unsigned long long)scan_reveals, t_find,
            (unsigned long long)x.reveals, t_index);
    free(x.pseudo);
    free(x.slots);
    buf_release(&x.scratch);
    service_free(svc);
    return 0;
fail:
    fprintf(stderr, "bench-trace: %s\n", err ? err : "failed");
    return 1;
}

/* --- accuracy ----------------------------------------------------------------------- */

enum scenario { SC_ONE, SC_TWO, SC_MIXED, SC_TINY, SC__COUNT };

static const char *const scenario_names[SC__COUNT] = {
    "one leaker (20-200 of their customers)",
    "two colluders (20-150 each)",
    "one leaker mixed with public data",
    "tiny leak (5 of one leaker's customers)",
};

struct tally {
    unsigned runs, first, top2, rank_sum;
    uint64_t leaked, matched; /* customers in the leaks, and found by the trace */
    double seconds;
};

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* `k` distinct customers of staff member si (all of them if fewer). */
static size_t sample(struct world *w, size_t si, size_t k, uint32_t *out)
{
    const struct staff *s = &w->staff[si];
    uint32_t *d = xmalloc((s->nrevealed ? s->nrevealed : 1) * sizeof(*d));
    size_t n = 0, i, j;
    uint32_t t;

    for (i = 0; i < s->nrevealed; i++)
        d[i] = s->revealed[i];
    qsort(d, s->nrevealed, sizeof(*d), u32_cmp);
    for (i = 0; i < s->nrevealed; i++)
        if (n == 0 || d[n - 1] != d[i])
            d[n++] = d[i];
    for (i = 0; i < k && i < n; i++) { /* partial Fisher-Yates */
        j = i + rnd(&w->rs, n - i);
        t = d[i];
        d[i] = d[j];
        d[j] = t;
        out[i] = d[i];
    }
    free(d);
    return i;
}

/* How many distinct staff revealed each customer. */
static uint16_t *revealers(struct world *w)
{
    uint16_t *cnt = xcalloc(w->customers, sizeof(*cnt));
    uint32_t *d;
    size_t si, i, n;

    for (si = 0; si < w->nstaff; si++) {
        const struct staff *s = &w->staff[si];

        d = xmalloc((s->nrevealed ? s->nrevealed : 1) * sizeof(*d));
        memcpy(d, s->revealed, s->nrevealed * sizeof(*d));
        qsort(d, s->nrevealed, sizeof(*d), u32_cmp);
        for (i = 0, n = 0; i < s->nrevealed; i++)
            if (i == 0 || d[i] != d[i - 1]) {
                cnt[d[i]]++;
                n++;
            }
        free(d);
    }
    return cnt;
}

static size_t rank_of(json_t *out, const char *name)
{
    json_t *s;
    size_t i;

    json_array_foreach(json_object_get(out, "suspects"), i, s)
    {
        if (strcmp(json_string_value(json_object_get(s, "staff")), name) == 0)
            return i + 1;
    }
    return 999;
}

static int one_run(struct world *w, enum scenario sc, const uint16_t *cnt, const char *leak_path,
                   uint64_t seed, struct tally *t)
{
    uint32_t *leaked = xmalloc(4000 * sizeof(*leaked));
    size_t n = 0, a, b = SIZE_MAX, k, i, ra, rb, tries;
    struct service_trace_opts opts = {0};
    struct service_actor who;
    struct model_customer m;
    struct buf text = BUF_INIT;
    json_t *out = NULL;
    char name[96], *err = NULL;
    uint32_t c;
    FILE *fp;
    double t0;

    do
        a = rnd(&w->rs, w->nstaff);
    while (w->staff[a].nrevealed < 20);
    switch (sc) {
    case SC_ONE:
        n = sample(w, a, 20 + rnd(&w->rs, 181), leaked);
        break;
    case SC_TWO:
        do
            b = rnd(&w->rs, w->nstaff);
        while (b == a || w->staff[b].nrevealed < 20);
        n = sample(w, a, 20 + rnd(&w->rs, 131), leaked);
        n += sample(w, b, 20 + rnd(&w->rs, 131), leaked + n);
        break;
    case SC_MIXED:
        n = sample(w, a, 20 + rnd(&w->rs, 181), leaked);
        /* public data: as many to three times as many customers nobody
         * revealed, and half as many to as many revealed by 3 or more */
        k = n + rnd(&w->rs, 2 * n + 1);
        for (i = 0, tries = 0; i < k && tries < 1000000; tries++)
            if (cnt[c = (uint32_t)rnd(&w->rs, w->customers)] == 0)
                leaked[n + i++] = c;
        n += i;
        k = n / 8 + rnd(&w->rs, n / 8 + 1);
        for (i = 0, tries = 0; i < k && tries < 1000000; tries++)
            if (cnt[c = (uint32_t)rnd(&w->rs, w->customers)] >= 3)
                leaked[n + i++] = c;
        n += i;
        break;
    default:
        n = sample(w, a, 5, leaked);
        break;
    }
    /* distinct customers, shuffled, in mixed formats, with junk */
    qsort(leaked, n, sizeof(*leaked), u32_cmp);
    for (i = 0, k = 0; i < n; i++)
        if (k == 0 || leaked[k - 1] != leaked[i])
            leaked[k++] = leaked[i];
    n = k;
    for (i = n; i > 1; i--) {
        k = rnd(&w->rs, i);
        c = leaked[i - 1];
        leaked[i - 1] = leaked[k];
        leaked[k] = c;
    }
    buf_addstr(&text, "name,phone,email,imei,note\n");
    for (i = 0; i < n; i++) {
        customer_of(seed, leaked[i], &m);
        leak_line(&text, &m, &w->rs);
        model_customer_release(&m);
        if (rnd(&w->rs, 10) == 0)
            junk_line(&text, &w->rs);
    }
    fp = fopen(leak_path, "w");
    if (fp == NULL || fwrite(text.data, 1, text.len, fp) != text.len || fclose(fp) != 0) {
        fprintf(stderr, "bench-trace: cannot write %s\n", leak_path);
        return -1;
    }
    opts.path = leak_path;
    service_operator(&who, name, sizeof(name));
    t0 = cu_monotonic();
    if (service_trace(w->svc, &who, &opts, &out, &err) != CU_OK) {
        fprintf(stderr, "bench-trace: %s\n", err);
        return -1;
    }
    t->seconds += cu_monotonic() - t0;
    t->runs++;
    t->leaked += n;
    t->matched +=
        (uint64_t)json_integer_value(json_object_get(json_object_get(out, "customers"), "matched"));
    ra = rank_of(out, w->staff[a].name);
    rb = b == SIZE_MAX ? 0 : rank_of(out, w->staff[b].name);
    t->first += ra == 1 || rb == 1;
    t->top2 += b == SIZE_MAX ? ra == 1 : ra <= 2 && rb <= 2;
    t->rank_sum += (unsigned)(b == SIZE_MAX ? ra : (ra > rb ? ra : rb));
    json_decref(out);
    buf_release(&text);
    free(leaked);
    return 0;
}

/* Customers [0, n) of `seed` as CSV, as `custodian gen` writes them. */
static int write_customers(FILE *fp, uint64_t seed, uint64_t n)
{
    struct model_customer m;
    struct buf b = BUF_INIT;
    uint64_t i;
    int ok = 1;

    model_csv_header(&b);
    for (i = 0; i < n && ok; i++) {
        customer_of(seed, (uint32_t)i, &m);
        model_csv_write(&m, &b);
        model_customer_release(&m);
        if (b.len > (1 << 16)) {
            ok = fwrite(b.data, 1, b.len, fp) == b.len;
            buf_reset(&b);
        }
    }
    ok = ok && fwrite(b.data, 1, b.len, fp) == b.len;
    buf_release(&b);
    return ok ? 0 : -1;
}

static int cmd_accuracy(int argc, char **argv)
{
    uint64_t vaults = 5, runs = 40, customers = 20000, nstaff = 100, reveals = 20000, v, r;
    struct service_import_opts io = {0};
    struct service_import_result res;
    struct tally t[SC__COUNT] = {{0}};
    struct world w;
    struct service *svc;
    char dir[512], path[600], leak[600], *err = NULL;
    uint16_t *cnt;
    FILE *fp;
    int sc;
    json_t *cfg;

    parse_opt(argc, argv, "--vaults", &vaults);
    parse_opt(argc, argv, "--runs", &runs);
    parse_opt(argc, argv, "--customers", &customers);
    parse_opt(argc, argv, "--staff", &nstaff);
    parse_opt(argc, argv, "--reveals", &reveals);
    if (argc < 1 || nstaff < 10 || customers < 1000) {
        fprintf(stderr, "usage: bench-trace accuracy WORK [--vaults V] [--runs R] ...\n");
        return 2;
    }
    mkdir(argv[0], 0700);
    for (v = 1; v <= vaults; v++) {
        snprintf(dir, sizeof(dir), "%s/vault-%llu", argv[0], (unsigned long long)v);
        if (service_init_data(dir, NULL, &err) != CU_OK)
            goto fail;
        /* the history is simulated: the detector is not what is measured */
        snprintf(path, sizeof(path), "%s/config.json", dir);
        cfg = json_load_file(path, 0, NULL);
        json_object_set_new(cfg, "detector", json_false());
        json_dump_file(cfg, path, JSON_INDENT(2));
        json_decref(cfg);
        snprintf(path, sizeof(path), "%s/customers.csv", dir);
        fp = fopen(path, "w");
        if (fp == NULL || write_customers(fp, 100 + v, customers) != 0)
            goto fail;
        fclose(fp);
        svc = open_data(dir);
        if (svc == NULL)
            return 1;
        io.path = path;
        if (service_import(svc, &io, &res, &err) != CU_OK)
            goto fail;
        world_init(&w, svc, customers, (size_t)nstaff, v);
        if (history(&w, reveals, 60, SIZE_MAX, 0) != 0)
            return 1;
        cnt = revealers(&w);
        snprintf(leak, sizeof(leak), "%s/leak.txt", dir);
        for (r = 0; r < runs; r++)
            for (sc = 0; sc < SC__COUNT; sc++)
                if (one_run(&w, (enum scenario)sc, cnt, leak, 100 + v, &t[sc]) != 0)
                    return 1;
        free(cnt);
        world_free(&w);
        service_free(svc);
        fprintf(stderr, "vault %llu of %llu done\n", (unsigned long long)v,
                (unsigned long long)vaults);
    }
    printf("%llu vaults of %llu customers, %llu staff, %llu reveals over 60 days each; %llu "
           "leaks per scenario per vault; p = %.1f\n\n",
           (unsigned long long)vaults, (unsigned long long)customers, (unsigned long long)nstaff,
           (unsigned long long)reveals, (unsigned long long)runs, SERVICE_TRACE_P);
    printf("| scenario | runs | true leaker ranked first | colluders both in the top 2 | "
           "mean rank of the (lower) true leaker | leaked customers found | mean trace time "
           "|\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (sc = 0; sc < SC__COUNT; sc++) {
        char both[32] = "-";

        if (sc == SC_TWO)
            snprintf(both, sizeof(both), "%.1f%%", 100.0 * t[sc].top2 / t[sc].runs);
        printf("| %s | %u | %.1f%% | %s | %.2f | %.2f%% | %.0f ms |\n", scenario_names[sc],
               t[sc].runs, 100.0 * t[sc].first / t[sc].runs, both,
               (double)t[sc].rank_sum / t[sc].runs, 100.0 * t[sc].matched / t[sc].leaked,
               1000 * t[sc].seconds / t[sc].runs);
    }
    return 0;
fail:
    fprintf(stderr, "bench-trace: %s\n", err ? err : "failed");
    return 1;
}

int main(int argc, char **argv)
{
    if (vault_global_init() != CU_OK)
        return 1;
    if (argc >= 3 && strcmp(argv[1], "history") == 0)
        return cmd_history(argc - 2, argv + 2);
    if (argc >= 4 && strcmp(argv[1], "compare") == 0)
        return cmd_compare(argc - 2, argv + 2);
    if (argc >= 3 && strcmp(argv[1], "accuracy") == 0)
        return cmd_accuracy(argc - 2, argv + 2);
    fprintf(stderr, "usage: bench-trace history DATA --customers N --leak FILE [...]\n"
                    "       bench-trace compare DATA IDS\n"
                    "       bench-trace accuracy WORK [--vaults V] [--runs R] [--customers N]\n"
                    "                                 [--staff S] [--reveals K]\n");
    return 2;
}
