/*
 * Leak tracing: from a leaked file to the staff whose reveals could have
 * produced it (service.h, service_trace).
 *
 *   1. read: every line, any format (src/trace finds the identifiers);
 *      each identifier is kept only as its blind-index hash, never as a
 *      value;
 *   2. match: the distinct hashes, sorted, through the blind index, then
 *      the distinct customers' ids, pseudonyms and canary tags.  No
 *      customer record is ever opened (the blind index is 64 bits wide:
 *      a false match is about one in 2^64 / customers);
 *   3. scan: one sequential pass over the audit log, keeping the allowed
 *      reveals whose subject is the pseudonym of a leaked customer and
 *      that happened before the leak;
 *   4. rank: the guilt model (src/trace/guilt.c), the evidence behind each
 *      suspect, the trace's own audit entry, and inclusion proofs of the
 *      example entries against a signed checkpoint that covers them.
 */
#include "service_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../audit/audit.h"
#include "../trace/trace.h"

#define TRACE_BLIND_MAX   64 /* customers one identifier may name */
#define TRACE_BINARY_SCAN (64 * 1024)
#define TRACE_CASES_SHOWN 10

/* --- small tables ------------------------------------------------------------ */

static uint64_t fnv1a(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;

    while (n--)
        h = (h ^ *s++) * 1099511628211ULL;
    return h;
}

/* Strings interned to dense numbers (staff usernames, case ids). */
struct intern {
    char **names;
    size_t n, cap;
    uint32_t *slots; /* number + 1, 0 for empty; power-of-two size */
    size_t nslots;
};

static void intern_release(struct intern *t)
{
    size_t i;

    for (i = 0; i < t->n; i++)
        free(t->names[i]);
    free(t->names);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static uint32_t intern_get(struct intern *t, const char *s)
{
    size_t len = strlen(s), i, mask;
    uint32_t *old;
    size_t oldn, k;

    if (2 * (t->n + 1) > t->nslots) {
        old = t->slots;
        oldn = t->nslots;
        t->nslots = oldn ? 2 * oldn : 256;
        t->slots = xcalloc(t->nslots, sizeof(*t->slots));
        for (k = 0; k < oldn; k++) {
            if (old[k] == 0)
                continue;
            const char *name = t->names[old[k] - 1];

            for (i = fnv1a(name, strlen(name)) & (t->nslots - 1); t->slots[i] != 0;
                 i = (i + 1) & (t->nslots - 1))
                ;
            t->slots[i] = old[k];
        }
        free(old);
    }
    mask = t->nslots - 1;
    for (i = fnv1a(s, len) & mask; t->slots[i] != 0; i = (i + 1) & mask)
        if (strcmp(t->names[t->slots[i] - 1], s) == 0)
            return t->slots[i] - 1;
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->names = xrealloc(t->names, t->cap * sizeof(*t->names));
    }
    t->names[t->n] = xstrdup(s);
    t->slots[i] = (uint32_t)++t->n;
    return (uint32_t)(t->n - 1);
}

/* --- the state of one trace ---------------------------------------------------- */

/* One distinct identifier found in the leak: its keyed hash only. */
struct ident {
    uint8_t kind; /* enum trace_kind */
    uint8_t matched;
    uint8_t customers; /* how many customers it names (capped) */
    uint64_t hash;     /* vault_blind() of the value; FNV-1a of a customer id */
    uint64_t hash2;    /* e-mail: the blind index as an account */
    char *customer_id; /* TRACE_CUSTOMER_ID only (not personal) */
};

/* One blind-index look-up to make. */
struct lookup {
    uint8_t kind; /* enum model_ident */
    uint64_t hash;
    uint32_t ident;
};

/* An identifier that names a customer (by the store's internal id). */
struct match {
    int64_t id;
    uint32_t ident;
};

struct customer {
    int64_t id;
    char *customer_id;
    unsigned char pseudonym[VAULT_PSEUDONYM_BYTES];
    int canary;
    uint32_t revealers; /* |V_t| */
};

/* An allowed reveal of a leaked customer before the leak. */
struct reveal {
    uint32_t customer;
    uint32_t staff;
    uint32_t case_ref; /* case number + 1, 0 without a case */
    uint64_t index;
    int64_t time_ms;
};

struct trace {
    struct service *svc;
    const struct service_trace_opts *opts;
    int64_t as_of_ms;
    double p;
    /* read */
    struct ident *idents;
    size_t nidents, cap_idents;
    uint32_t *ident_slots; /* ident + 1 by (kind, hash); power-of-two size */
    size_t nslots;
    uint32_t *refs; /* the identifiers of each line that has any, line after line */
    size_t nrefs, cap_refs;
    uint32_t *line_ends; /* end of each such line's refs */
    size_t nlines_ids, cap_lines;
    size_t line_first; /* refs of the line being read start here */
    uint64_t lines, blank, names, json_lines, bytes, total_bytes;
    int header;
    /* match */
    struct customer *customers;
    size_t ncustomers;
    uint32_t *pseudo_slots; /* customer + 1 by pseudonym; power-of-two size */
    size_t npseudo;
    uint64_t ambiguous;
    /* scan */
    struct intern staff, cases;
    struct reveal *reveals;
    size_t nreveals, cap_reveals;
    uint64_t scanned, after, tree_size;
    struct buf scratch;
    /* progress */
    double last_progress;
    double t0, t_read, t_match, t_scan;
};

static void progress(struct trace *t, const char *what, uint64_t done, uint64_t total,
                     uint64_t items, int force)
{
    double now;

    if (t->opts->progress == NULL)
        return;
    now = cu_monotonic();
    if (!force && now - t->last_progress < 0.25)
        return;
    t->last_progress = now;
    t->opts->progress(t->opts->progress_ctx, what, done, total, items);
}

/* --- 1. read --------------------------------------------------------------------- */

static uint32_t ident_find_or_add(struct trace *t, int kind, uint64_t hash, uint64_t hash2,
                                  const char *customer_id)
{
    size_t i, k, mask;
    uint64_t h;

    if (2 * (t->nidents + 1) > t->nslots) {
        free(t->ident_slots);
        t->nslots = t->nslots ? 2 * t->nslots : 4096;
        t->ident_slots = xcalloc(t->nslots, sizeof(*t->ident_slots));
        mask = t->nslots - 1;
        for (k = 0; k < t->nidents; k++) {
            h = (t->idents[k].hash ^ (uint64_t)t->idents[k].kind * 0x9e3779b97f4a7c15ULL);
            for (i = h & mask; t->ident_slots[i] != 0; i = (i + 1) & mask)
                ;
            t->ident_slots[i] = (uint32_t)k + 1;
        }
    }
    mask = t->nslots - 1;
    h = hash ^ (uint64_t)kind * 0x9e3779b97f4a7c15ULL;
    for (i = h & mask; t->ident_slots[i] != 0; i = (i + 1) & mask) {
        struct ident *d = &t->idents[t->ident_slots[i] - 1];

        if (d->kind == kind && d->hash == hash &&
            (kind != TRACE_CUSTOMER_ID || strcmp(d->customer_id, customer_id) == 0))
            return t->ident_slots[i] - 1;
    }
    if (t->nidents == t->cap_idents) {
        t->cap_idents = t->cap_idents ? 2 * t->cap_idents : 4096;
        t->idents = xrealloc(t->idents, t->cap_idents * sizeof(*t->idents));
    }
    memset(&t->idents[t->nidents], 0, sizeof(struct ident));
    t->idents[t->nidents].kind = (uint8_t)kind;
    t->idents[t->nidents].hash = hash;
    t->idents[t->nidents].hash2 = hash2;
    if (kind == TRACE_CUSTOMER_ID)
        t->idents[t->nidents].customer_id = xstrdup(customer_id);
    t->ident_slots[i] = (uint32_t)++t->nidents;
    return (uint32_t)(t->nidents - 1);
}

/* trace_found_fn: keeps the keyed hash of the value, never the value. */
static void found(void *arg, int kind, const char *value, size_t len)
{
    struct trace *t = arg;
    struct vault *v = t->svc->vault;
    uint64_t hash, hash2 = 0;
    uint32_t id;
    size_t i;

    if (kind == TRACE_CUSTOMER_ID) {
        hash = fnv1a(value, len);
    } else {
        hash = vault_blind(v, kind, value, len);
        if (kind == TRACE_EMAIL)
            hash2 = vault_blind(v, MODEL_ID_ACCOUNT, value, len);
    }
    id = ident_find_or_add(t, kind, hash, hash2, value);
    for (i = t->line_first; i < t->nrefs; i++)
        if (t->refs[i] == id)
            return;
    if (t->nrefs == t->cap_refs) {
        t->cap_refs = t->cap_refs ? 2 * t->cap_refs : 4096;
        t->refs = xrealloc(t->refs, t->cap_refs * sizeof(*t->refs));
    }
    t->refs[t->nrefs++] = id;
}

static int read_file(struct trace *t, char **errmsg)
{
    const char *path = t->opts->data != NULL ? "the upload" : t->opts->path;
    struct trace_reader rd;
    struct stat st;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    FILE *fp;
    int rc = CU_OK, flags;

    if (t->opts->data != NULL) {
        if (t->opts->len == 0)
            return cu_errf(errmsg, CU_ERR_INVALID, "the upload is empty");
        fp = fmemopen((void *)t->opts->data, t->opts->len, "r");
        if (fp == NULL)
            return cu_errf(errmsg, CU_ERR_IO, "cannot read the upload: %s", strerror(errno));
        t->total_bytes = (uint64_t)t->opts->len;
    } else {
        fp = fopen(path, "r");
        if (fp == NULL)
            return cu_errf(errmsg, CU_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
        if (fstat(fileno(fp), &st) != 0 || S_ISDIR(st.st_mode)) {
            fclose(fp);
            return cu_errf(errmsg, CU_ERR_INVALID, "'%s' is a folder, not a file", path);
        }
        t->total_bytes = (uint64_t)st.st_size;
    }
    trace_reader_init(&rd, t->svc->default_country);
    errno = 0;
    while ((len = getline(&line, &cap, fp)) > 0) {
        t->bytes += (uint64_t)len;
        if (t->bytes <= TRACE_BINARY_SCAN && memchr(line, '\0', (size_t)len) != NULL) {
            rc = cu_errf(errmsg, CU_ERR_INVALID,
                         "'%s' looks like a binary file (compressed, or a spreadsheet?): save it "
                         "as text first (CSV, JSON Lines or plain text)",
                         path);
            break;
        }
        if (line[len - 1] == '\n')
            len--;
        t->lines++;
        t->line_first = t->nrefs;
        flags = trace_reader_line(&rd, line, (size_t)len, found, t);
        t->blank += (flags & TRACE_LINE_BLANK) != 0;
        t->names += (flags & TRACE_LINE_NAME) != 0;
        t->json_lines += (flags & TRACE_LINE_JSON) != 0;
        t->header |= (flags & TRACE_LINE_HEADER) != 0;
        if (t->nrefs > t->line_first) {
            if (t->nlines_ids == t->cap_lines) {
                t->cap_lines = t->cap_lines ? 2 * t->cap_lines : 4096;
                t->line_ends = xrealloc(t->line_ends, t->cap_lines * sizeof(*t->line_ends));
            }
            t->line_ends[t->nlines_ids++] = (uint32_t)t->nrefs;
        }
        if ((t->lines & 1023) == 0)
            progress(t, "reading", t->bytes, t->total_bytes, t->lines, 0);
    }
    if (rc == CU_OK && ferror(fp))
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    if (rc == CU_OK && t->bytes == 0)
        rc = cu_errf(errmsg, CU_ERR_INVALID, "'%s' is empty", path);
    if (line != NULL) {
        cu_wipe(line, cap);
        free(line);
    }
    trace_reader_release(&rd);
    fclose(fp);
    progress(t, "reading", t->bytes, t->total_bytes, t->lines, 1);
    return rc;
}

/* --- 2. match ------------------------------------------------------------------- */

static int lookup_cmp(const void *a, const void *b)
{
    const struct lookup *x = a, *y = b;

    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    /* the store keeps the hash as a signed 64-bit integer: its key order */
    if ((int64_t)x->hash != (int64_t)y->hash)
        return (int64_t)x->hash < (int64_t)y->hash ? -1 : 1;
    return 0;
}

static int match_cmp(const void *a, const void *b)
{
    const struct match *x = a, *y = b;

    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->ident < y->ident ? -1 : x->ident > y->ident;
}

static void add_match(struct match **m, size_t *n, size_t *cap, int64_t id, uint32_t ident)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 4096;
        *m = xrealloc(*m, *cap * sizeof(**m));
    }
    (*m)[*n].id = id;
    (*m)[(*n)++].ident = ident;
}

static int pseudo_index(const struct trace *t, const unsigned char *p)
{
    uint64_t h;
    size_t i, mask = t->npseudo - 1;

    memcpy(&h, p, sizeof(h));
    for (i = h & mask; t->pseudo_slots[i] != 0; i = (i + 1) & mask)
        if (memcmp(t->customers[t->pseudo_slots[i] - 1].pseudonym, p, VAULT_PSEUDONYM_BYTES) == 0)
            return (int)(t->pseudo_slots[i] - 1);
    return -1;
}

static int match_customers(struct trace *t, char **errmsg)
{
    struct service *svc = t->svc;
    struct lookup *lk = xmalloc((2 * t->nidents + 1) * sizeof(*lk));
    struct match *m = NULL;
    struct store_customer s;
    int64_t ids[TRACE_BLIND_MAX];
    size_t nlk = 0, nm = 0, cap = 0, nids, i, j, k;
    uint64_t h;
    int rc = CU_OK;

    store_customer_init(&s);
    for (i = 0; i < t->nidents; i++) {
        struct ident *d = &t->idents[i];

        if (d->kind == TRACE_CUSTOMER_ID)
            continue;
        lk[nlk++] = (struct lookup){d->kind, d->hash, (uint32_t)i};
        if (d->kind == TRACE_EMAIL)
            lk[nlk++] = (struct lookup){MODEL_ID_ACCOUNT, d->hash2, (uint32_t)i};
    }
    /* In the index's key order: neighbouring look-ups share its pages. */
    qsort(lk, nlk, sizeof(*lk), lookup_cmp);
    for (i = 0; rc == CU_OK && i < nlk; i++) {
        rc = store_blind_find(svc->store, lk[i].kind, lk[i].hash, ids, TRACE_BLIND_MAX, &nids,
                              errmsg);
        for (j = 0; rc == CU_OK && j < nids; j++)
            add_match(&m, &nm, &cap, ids[j], lk[i].ident);
        if ((i & 1023) == 0)
            progress(t, "matching", i, nlk, i, 0);
    }
    for (i = 0; rc == CU_OK && i < t->nidents; i++) {
        if (t->idents[i].kind != TRACE_CUSTOMER_ID)
            continue;
        rc = store_customer_get(svc->store, t->idents[i].customer_id, &s, errmsg);
        if (rc == CU_OK)
            add_match(&m, &nm, &cap, s.id, (uint32_t)i);
        else if (rc == CU_ERR_NOT_FOUND)
            rc = CU_OK;
    }
    if (rc != CU_OK)
        goto out;
    /* The distinct customers, in internal id order. */
    qsort(m, nm, sizeof(*m), match_cmp);
    t->customers = xcalloc(nm ? nm : 1, sizeof(*t->customers));
    for (i = 0; i < nm; i++) {
        struct ident *d = &t->idents[m[i].ident];

        /* an e-mail that is both a customer's e-mail and account: once */
        if (i > 0 && match_cmp(&m[i], &m[i - 1]) == 0)
            continue;
        d->matched = 1;
        if (d->customers < 255)
            d->customers++;
        if (i > 0 && m[i].id == m[i - 1].id)
            continue;
        t->customers[t->ncustomers++].id = m[i].id;
    }
    for (i = 0; i < t->nidents; i++)
        t->ambiguous += t->idents[i].customers > 1;
    for (i = 0; rc == CU_OK && i < t->ncustomers; i++) {
        struct customer *c = &t->customers[i];

        rc = store_customer_get_by_id(svc->store, c->id, &s, errmsg);
        if (rc == CU_ERR_NOT_FOUND) {
            rc = CU_OK; /* erased meanwhile: its entries still name its pseudonym */
            c->customer_id = NULL;
            continue;
        }
        if (rc != CU_OK)
            break;
        c->customer_id = xstrdup(s.customer_id);
        vault_pseudonym(svc->vault, c->customer_id, c->pseudonym);
        rc = service_is_canary(svc, c->customer_id, &c->canary, errmsg);
        if ((i & 1023) == 0)
            progress(t, "customers", i, t->ncustomers, i, 0);
    }
    if (rc != CU_OK)
        goto out;
    /* Drop the customers that went away, then index the rest by pseudonym. */
    for (i = 0, j = 0; i < t->ncustomers; i++)
        if (t->customers[i].customer_id != NULL)
            t->customers[j++] = t->customers[i];
    t->ncustomers = j;
    for (t->npseudo = 1024; t->npseudo < 2 * t->ncustomers;)
        t->npseudo *= 2;
    t->pseudo_slots = xcalloc(t->npseudo, sizeof(*t->pseudo_slots));
    for (i = 0; i < t->ncustomers; i++) {
        memcpy(&h, t->customers[i].pseudonym, sizeof(h));
        for (k = h & (t->npseudo - 1); t->pseudo_slots[k] != 0; k = (k + 1) & (t->npseudo - 1))
            ;
        t->pseudo_slots[k] = (uint32_t)i + 1;
    }
    progress(t, "customers", t->ncustomers, t->ncustomers, t->ncustomers, 1);
out:
    store_customer_release(&s);
    free(lk);
    free(m);
    return rc;
}

/* --- 3. scan ---------------------------------------------------------------------- */

static int scan_row(void *arg, const struct store_audit_row *row)
{
    struct trace *t = arg;
    struct audit_entry e;
    struct reveal *r;
    int c;

    t->scanned++;
    if ((t->scanned & 0xffff) == 0)
        progress(t, "scanning", row->index, t->tree_size, t->scanned, 0);
    if (row->subject == NULL || row->subject_len != VAULT_PSEUDONYM_BYTES)
        return 0;
    c = pseudo_index(t, row->subject);
    if (c < 0)
        return 0;
    if (audit_entry_decode(row->leaf, row->len, &e, &t->scratch) != CU_OK)
        return 0; /* `audit verify` names it; it proves nothing here */
    /* What released full values: reveals, and exports (every field) other
     * than a customer's of their own data */
    if (e.decision != AUDIT_ALLOW ||
        !(e.action == AUDIT_REVEAL ||
          (e.action == AUDIT_EXPORT && !(e.role && strcmp(e.role, SERVICE_ROLE_CUSTOMER) == 0))))
        return 0;
    if (e.time_ms >= t->as_of_ms) {
        t->after++;
        return 0;
    }
    if (t->nreveals == t->cap_reveals) {
        t->cap_reveals = t->cap_reveals ? 2 * t->cap_reveals : 4096;
        t->reveals = xrealloc(t->reveals, t->cap_reveals * sizeof(*t->reveals));
    }
    r = &t->reveals[t->nreveals++];
    r->customer = (uint32_t)c;
    r->staff = intern_get(&t->staff, e.actor && e.actor[0] ? e.actor : "(unknown)");
    r->case_ref = e.case_id && e.case_id[0] ? intern_get(&t->cases, e.case_id) + 1 : 0;
    r->index = row->index;
    r->time_ms = e.time_ms;
    return 0;
}

static int scan_log(struct trace *t, char **errmsg)
{
    int rc = store_audit_size(t->svc->store, &t->tree_size, errmsg);

    if (rc == CU_OK && t->ncustomers > 0)
        rc = store_audit_scan(t->svc->store, 0, t->tree_size, scan_row, t, errmsg);
    progress(t, "scanning", t->tree_size, t->tree_size, t->scanned, 1);
    return rc;
}

/* --- 4. rank and report -------------------------------------------------------------- */

static void rfc3339(int64_t ms, char out[64])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&secs, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Reveals by staff, the most telling first (records the fewest others
 * revealed), each customer's together, oldest first. */
static int reveal_cmp(const void *a, const void *b, void *arg)
{
    const struct reveal *x = a, *y = b;
    const struct trace *t = arg;
    uint32_t vx, vy;

    if (x->staff != y->staff)
        return x->staff < y->staff ? -1 : 1;
    vx = t->customers[x->customer].revealers;
    vy = t->customers[y->customer].revealers;
    if (vx != vy)
        return vx < vy ? -1 : 1;
    if (x->customer != y->customer)
        return x->customer < y->customer ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* The evidence behind one suspect: cases, examples, canaries. */
static json_t *suspect_json(struct trace *t, const struct trace_suspect *s, size_t rank,
                            const struct reveal *rv, size_t nrv, uint64_t proof_size, char **errmsg,
                            int *rc)
{
    json_t *o, *examples = json_array(), *case_ids = json_array(), *proof;
    uint32_t *cases = xmalloc((nrv ? nrv : 1) * sizeof(*cases));
    size_t ncases = 0, i, shown = 0, canaries = 0, want, distinct;
    uint32_t last_customer = UINT32_MAX;
    char when[64];

    want = t->opts->examples ? t->opts->examples : SERVICE_TRACE_EXAMPLES;
    for (i = 0; i < nrv; i++) {
        const struct reveal *r = &rv[i];
        const struct customer *c = &t->customers[r->customer];
        json_t *ex;

        if (r->case_ref)
            cases[ncases++] = r->case_ref;
        if (r->customer == last_customer || shown >= want)
            continue;
        last_customer = r->customer;
        rfc3339(r->time_ms, when);
        ex = json_pack("{s:I, s:s, s:s?, s:s, s:i}", "leaf_index", (json_int_t)r->index,
                       "customer_id", c->customer_id, "case_id",
                       r->case_ref ? t->cases.names[r->case_ref - 1] : NULL, "time", when,
                       "revealed_by", (int)c->revealers);
        if (proof_size > 0 && *rc == CU_OK) {
            *rc = service_audit_inclusion(t->svc, r->index, proof_size, &proof, errmsg);
            if (*rc == CU_OK)
                json_object_set_new(ex, "proof", proof);
        }
        json_array_append_new(examples, ex);
        shown++;
    }
    /* Canaries among their records (each record once: a customer's reveals are together). */
    for (i = 0; i < nrv; i++)
        if (t->customers[rv[i].customer].canary && (i == 0 || rv[i].customer != rv[i - 1].customer))
            canaries++;
    qsort(cases, ncases, sizeof(*cases), u32_cmp);
    for (i = 0, distinct = 0; i < ncases; i++) {
        if (i > 0 && cases[i] == cases[i - 1])
            continue;
        if (distinct++ < TRACE_CASES_SHOWN)
            json_array_append_new(case_ids, json_string(t->cases.names[cases[i] - 1]));
    }
    free(cases);
    o = json_pack(
        "{s:i, s:s, s:f, s:o, s:i, s:i, s:i, s:i, s:{s:i, s:o}, s:o}", "rank", (int)rank, "staff",
        t->staff.names[s->staff], "probability", s->probability, "log10_innocence",
        s->certain ? json_null() : json_real(s->log_innocence / M_LN10), "records", (int)s->records,
        "sole_records", (int)s->sole, "certain_records", (int)s->certain, "canaries", (int)canaries,
        "cases", "count", (int)distinct, "ids", case_ids, "examples", examples);
    return o;
}

/* Sorts the reveals by (staff, customer's |V_t|, index) and finds each
 * staff member's run. */
static void staff_runs(struct trace *t, size_t *first, size_t *count)
{
    size_t i;

    qsort_r(t->reveals, t->nreveals, sizeof(*t->reveals), reveal_cmp, t);
    for (i = 0; i < t->staff.n; i++)
        first[i] = count[i] = 0;
    for (i = 0; i < t->nreveals; i++) {
        if (count[t->reveals[i].staff]++ == 0)
            first[t->reveals[i].staff] = i;
    }
}

static json_t *canaries_json(struct trace *t)
{
    json_t *list = json_array(), *o;
    size_t i, j;

    for (i = 0; i < t->ncustomers; i++) {
        json_t *by = json_array(), *idx = json_array();

        if (!t->customers[i].canary) {
            json_decref(by);
            json_decref(idx);
            continue;
        }
        for (j = 0; j < t->nreveals; j++) {
            if (t->reveals[j].customer != i)
                continue;
            json_array_append_new(idx, json_integer((json_int_t)t->reveals[j].index));
            if (json_array_size(by) == 0 ||
                strcmp(json_string_value(json_array_get(by, json_array_size(by) - 1)),
                       t->staff.names[t->reveals[j].staff]) != 0)
                json_array_append_new(by, json_string(t->staff.names[t->reveals[j].staff]));
        }
        o = json_pack("{s:s, s:o, s:o}", "customer_id", t->customers[i].customer_id, "revealed_by",
                      by, "leaf_indexes", idx);
        json_array_append_new(list, o);
    }
    return list;
}

static void trace_release(struct trace *t)
{
    size_t i;

    for (i = 0; i < t->nidents; i++)
        free(t->idents[i].customer_id);
    free(t->idents);
    free(t->ident_slots);
    free(t->refs);
    free(t->line_ends);
    for (i = 0; i < t->ncustomers; i++)
        free(t->customers[i].customer_id);
    free(t->customers);
    free(t->pseudo_slots);
    intern_release(&t->staff);
    intern_release(&t->cases);
    free(t->reveals);
    buf_release(&t->scratch);
}

int service_trace(struct service *svc, const struct service_actor *who,
                  const struct service_trace_opts *opts, json_t **out, char **errmsg)
{
    struct trace t;
    struct trace_pair *pairs = NULL;
    struct trace_suspect *sus = NULL;
    size_t npairs = 0, nsus = 0, i, j, top, *first = NULL, *count = NULL, revealed = 0;
    uint64_t found_kind[TRACE_KIND__COUNT] = {0}, matched_kind[TRACE_KIND__COUNT] = {0};
    uint64_t matched = 0, lines_matched = 0, canaries = 0, proof_size = 0, note_index = 0;
    unsigned long long size = 0;
    json_t *suspects = NULL, *kinds, *doc;
    char when[64], detail[256], *note = NULL;
    const char *nl;
    int rc;

    *out = NULL;
    memset(&t, 0, sizeof(t));
    t.svc = svc;
    t.opts = opts;
    t.t0 = cu_monotonic();
    t.as_of_ms = opts->as_of_ms > 0 ? opts->as_of_ms : cu_now_ms();
    t.p = opts->p_set ? opts->p : SERVICE_TRACE_P;
    if (!(t.p >= 0.0 && t.p < 1.0)) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "p must be at least 0 and below 1");
        goto out;
    }
    if (opts->data == NULL && (opts->path == NULL || opts->path[0] == '\0')) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "name the leaked file");
        goto out;
    }
    rc = read_file(&t, errmsg);
    t.t_read = cu_monotonic();
    if (rc == CU_OK)
        rc = match_customers(&t, errmsg);
    t.t_match = cu_monotonic();
    if (rc == CU_OK)
        rc = scan_log(&t, errmsg);
    t.t_scan = cu_monotonic();
    if (rc != CU_OK)
        goto out;

    /* The guilt model over (leaked customer, staff who revealed it). */
    pairs = xmalloc((t.nreveals ? t.nreveals : 1) * sizeof(*pairs));
    for (i = 0; i < t.nreveals; i++)
        pairs[i] = (struct trace_pair){t.reveals[i].customer, t.reveals[i].staff};
    npairs = t.nreveals;
    rc = trace_guilt(pairs, &npairs, (const char *const *)t.staff.names, t.staff.n, t.p, &sus,
                     &nsus);
    if (rc != CU_OK) {
        rc = cu_errf(errmsg, rc, "trace: the guilt model refused its input");
        goto out;
    }
    for (i = 0; i < npairs; i = j) {
        for (j = i; j < npairs && pairs[j].record == pairs[i].record; j++)
            ;
        t.customers[pairs[i].record].revealers = (uint32_t)(j - i);
        revealed++;
    }
    for (i = 0; i < t.nidents; i++) {
        found_kind[t.idents[i].kind]++;
        matched_kind[t.idents[i].kind] += t.idents[i].matched;
        matched += t.idents[i].matched;
    }
    for (i = 0, j = 0; i < t.nlines_ids; i++) {
        int any = 0;

        for (; j < t.line_ends[i]; j++)
            any |= t.idents[t.refs[j]].matched;
        lines_matched += any;
    }
    for (i = 0; i < t.ncustomers; i++)
        canaries += t.customers[i].canary != 0;

    /* Recorded before anything is answered (it names no customer). */
    snprintf(detail, sizeof(detail),
             "leak trace: %llu lines, %zu identifiers, %zu customers matched, %llu canaries, "
             "%zu suspects%s%s",
             (unsigned long long)t.lines, t.nidents, t.ncustomers, (unsigned long long)canaries,
             nsus, nsus ? ", first " : "", nsus ? t.staff.names[sus[0].staff] : "");
    rc = service_audit_open(svc, errmsg);
    if (rc == CU_OK) {
        struct service_access a = {
            .action = AUDIT_EXPORT, .decision = AUDIT_ALLOW, .detail = detail};

        rc = service_audit_access(svc, who, &a, &note_index, errmsg);
    }
    if (rc == CU_OK)
        rc = service_audit_checkpoint(svc, &note, errmsg);
    if (rc != CU_OK)
        goto out;
    nl = strchr(note, '\n');
    if (nl == NULL || sscanf(nl + 1, "%llu", &size) != 1) {
        rc = cu_errf(errmsg, CU_ERR_INTERNAL, "audit: unreadable checkpoint");
        goto out;
    }
    proof_size = size;

    first = xcalloc(t.staff.n ? t.staff.n : 1, sizeof(*first));
    count = xcalloc(t.staff.n ? t.staff.n : 1, sizeof(*count));
    staff_runs(&t, first, count);
    top = opts->top ? opts->top : SERVICE_TRACE_TOP;
    suspects = json_array();
    for (i = 0; i < nsus && i < top && rc == CU_OK; i++) {
        uint32_t st = sus[i].staff;
        struct reveal *rv = t.reveals + first[st];

        json_array_append_new(suspects, suspect_json(&t, &sus[i], i + 1, rv, count[st],
                                                     opts->proofs ? proof_size : 0, errmsg, &rc));
    }
    if (rc != CU_OK)
        goto out;

    kinds = json_object();
    for (i = 0; i < TRACE_KIND__COUNT; i++)
        json_object_set_new(kinds, trace_kind_name((int)i),
                            json_pack("{s:I, s:I}", "found", (json_int_t)found_kind[i], "matched",
                                      (json_int_t)matched_kind[i]));
    rfc3339(t.as_of_ms, when);
    doc = json_object();
    json_object_set_new(doc, "as_of", json_string(when));
    json_object_set_new(doc, "p", json_real(t.p));
    json_object_set_new(
        doc, "lines",
        json_pack("{s:I, s:I, s:b, s:I, s:I, s:I, s:I}", "read", (json_int_t)t.lines, "blank",
                  (json_int_t)t.blank, "header", t.header, "json", (json_int_t)t.json_lines,
                  "with_identifiers", (json_int_t)t.nlines_ids, "matched",
                  (json_int_t)lines_matched, "unmatched",
                  (json_int_t)(t.lines - t.blank - (uint64_t)t.header - lines_matched)));
    json_object_set_new(doc, "identifiers",
                        json_pack("{s:I, s:I, s:I, s:I, s:o}", "found", (json_int_t)t.nidents,
                                  "matched", (json_int_t)matched, "unmatched",
                                  (json_int_t)(t.nidents - matched), "ambiguous",
                                  (json_int_t)t.ambiguous, "by_kind", kinds));
    json_object_set_new(doc, "names", json_integer((json_int_t)t.names));
    json_object_set_new(doc, "customers",
                        json_pack("{s:I, s:I, s:I, s:I}", "matched", (json_int_t)t.ncustomers,
                                  "revealed", (json_int_t)revealed, "not_revealed",
                                  (json_int_t)(t.ncustomers - revealed), "canaries",
                                  (json_int_t)canaries));
    /* Canaries first: one in the leak proves where it came from. */
    json_object_set_new(doc, "canaries", canaries_json(&t));
    json_object_set_new(doc, "staff_considered", json_integer((json_int_t)nsus));
    json_object_set_new(doc, "suspects", suspects);
    suspects = NULL;
    json_object_set_new(doc, "audit",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:s}", "entries_scanned",
                                  (json_int_t)t.scanned, "reveals_matched", (json_int_t)t.nreveals,
                                  "reveals_after_as_of", (json_int_t)t.after, "trace_leaf_index",
                                  (json_int_t)note_index, "tree_size", (json_int_t)proof_size,
                                  "checkpoint", note));
    json_object_set_new(doc, "seconds",
                        json_pack("{s:f, s:f, s:f, s:f, s:f}", "read", t.t_read - t.t0, "match",
                                  t.t_match - t.t_read, "scan", t.t_scan - t.t_match, "rank",
                                  cu_monotonic() - t.t_scan, "total", cu_monotonic() - t.t0));
    *out = doc;
out:
    json_decref(suspects);
    free(note);
    free(first);
    free(count);
    free(pairs);
    free(sus);
    trace_release(&t);
    return rc;
}
