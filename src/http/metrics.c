/*
 * Process-wide metrics registry, rendered in Prometheus text format.
 *
 * One mutex guards a chained hash table of series keyed by (name, labels).
 * Every update is a few hundred nanoseconds under the lock, far below the
 * cost of a request.  Series are never removed except by http_metrics_reset.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

enum metric_type {
    METRIC_COUNTER,
    METRIC_GAUGE,
    METRIC_HISTOGRAM,
};

const double http_metric_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,   0.1,   0.25,   0.5,   1.0};
const size_t http_metric_n_buckets = CU_ARRAY_LEN(http_metric_buckets);

#define N_BUCKETS CU_ARRAY_LEN(http_metric_buckets)
#define N_SLOTS   256

struct series {
    struct series *next;
    char *name;
    char *labels; /* "" when none */
    enum metric_type type;
    double value;                /* counter, gauge; histogram sum */
    uint64_t count;              /* histogram */
    uint64_t buckets[N_BUCKETS]; /* histogram, not cumulative */
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct series *slots[N_SLOTS];

static uint32_t hash_key(const char *name, const char *labels)
{
    uint32_t h = 2166136261u;

    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
    for (const char *p = labels; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

/* Returns the series for (name, labels), creating it with `type`; call locked. */
static struct series *series_get(const char *name, const char *labels, enum metric_type type)
{
    uint32_t slot = hash_key(name, labels) % N_SLOTS;
    struct series *s;

    for (s = slots[slot]; s != NULL; s = s->next)
        if (strcmp(s->name, name) == 0 && strcmp(s->labels, labels) == 0)
            return s->type == type ? s : NULL;
    /* The first use of a name fixes its type for every label set. */
    for (size_t i = 0; i < N_SLOTS; i++)
        for (struct series *o = slots[i]; o != NULL; o = o->next)
            if (strcmp(o->name, name) == 0 && o->type != type)
                return NULL;
    s = xcalloc(1, sizeof(*s));
    s->name = xstrdup(name);
    s->labels = xstrdup(labels);
    s->type = type;
    s->next = slots[slot];
    slots[slot] = s;
    return s;
}

static void metric_update(const char *name, const char *labels, enum metric_type type, double v)
{
    struct series *s;

    pthread_mutex_lock(&metrics_lock);
    s = series_get(name, labels != NULL ? labels : "", type);
    if (s == NULL)
        goto out;
    switch (type) {
    case METRIC_COUNTER:
        if (v > 0)
            s->value += v;
        break;
    case METRIC_GAUGE:
        s->value = v;
        break;
    case METRIC_HISTOGRAM:
        s->value += v;
        s->count++;
        for (size_t i = 0; i < N_BUCKETS; i++) {
            if (v <= http_metric_buckets[i]) {
                s->buckets[i]++;
                break;
            }
        }
        break;
    }
out:
    pthread_mutex_unlock(&metrics_lock);
}

void http_metric_inc(const char *name, const char *labels)
{
    metric_update(name, labels, METRIC_COUNTER, 1);
}

void http_metric_add(const char *name, const char *labels, double v)
{
    metric_update(name, labels, METRIC_COUNTER, v);
}

void http_metric_set(const char *name, const char *labels, double v)
{
    metric_update(name, labels, METRIC_GAUGE, v);
}

void http_metric_observe(const char *name, const char *labels, double s)
{
    metric_update(name, labels, METRIC_HISTOGRAM, s);
}

double http_metric_value(const char *name, const char *labels)
{
    const char *l = labels != NULL ? labels : "";
    double v = 0;

    pthread_mutex_lock(&metrics_lock);
    for (struct series *s = slots[hash_key(name, l) % N_SLOTS]; s != NULL; s = s->next) {
        if (strcmp(s->name, name) == 0 && strcmp(s->labels, l) == 0) {
            v = s->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
            break;
        }
    }
    pthread_mutex_unlock(&metrics_lock);
    return v;
}

void http_metric_escape(struct buf *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            buf_addstr(out, "\\\\");
        else if (*p == '"')
            buf_addstr(out, "\\\"");
        else if (*p == '\n')
            buf_addstr(out, "\\n");
        else
            buf_addch(out, *p);
    }
}

static int series_cmp(const void *a, const void *b)
{
    const struct series *x = *(struct series *const *)a;
    const struct series *y = *(struct series *const *)b;
    int c = strcmp(x->name, y->name);

    return c != 0 ? c : strcmp(x->labels, y->labels);
}

/* Appends `name{labels[,extra]}` (no braces when both are empty). */
static void add_series_name(struct buf *out, const char *name, const char *suffix,
                            const char *labels, const char *extra)
{
    buf_addf(out, "%s%s", name, suffix);
    if (*labels == '\0' && extra == NULL)
        return;
    buf_addf(out, "{%s%s%s}", labels, *labels != '\0' && extra != NULL ? "," : "",
             extra != NULL ? extra : "");
}

/* Appends " value\n" with the shortest decimal form that reads back exactly. */
static void add_value(struct buf *out, double v)
{
    char text[40];

    snprintf(text, sizeof(text), "%.15g", v);
    if (strtod(text, NULL) != v)
        snprintf(text, sizeof(text), "%.17g", v);
    buf_addf(out, " %s\n", text);
}

static const char *const type_names[] = {"counter", "gauge", "histogram"};

void http_metrics_render(struct buf *out)
{
    struct series **all = NULL;
    size_t n = 0, cap = 0;

    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; i < N_SLOTS; i++) {
        for (struct series *s = slots[i]; s != NULL; s = s->next) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                all = xrealloc(all, cap * sizeof(*all));
            }
            all[n++] = s;
        }
    }
    if (n > 0)
        qsort(all, n, sizeof(*all), series_cmp);
    for (size_t i = 0; i < n; i++) {
        struct series *s = all[i];

        if (i == 0 || strcmp(all[i - 1]->name, s->name) != 0)
            buf_addf(out, "# TYPE %s %s\n", s->name, type_names[s->type]);
        if (s->type != METRIC_HISTOGRAM) {
            add_series_name(out, s->name, "", s->labels, NULL);
            add_value(out, s->value);
            continue;
        }
        uint64_t cum = 0;
        for (size_t b = 0; b < N_BUCKETS; b++) {
            char le[48];

            cum += s->buckets[b];
            snprintf(le, sizeof(le), "le=\"%g\"", http_metric_buckets[b]);
            add_series_name(out, s->name, "_bucket", s->labels, le);
            buf_addf(out, " %llu\n", (unsigned long long)cum);
        }
        add_series_name(out, s->name, "_bucket", s->labels, "le=\"+Inf\"");
        buf_addf(out, " %llu\n", (unsigned long long)s->count);
        add_series_name(out, s->name, "_sum", s->labels, NULL);
        add_value(out, s->value);
        add_series_name(out, s->name, "_count", s->labels, NULL);
        buf_addf(out, " %llu\n", (unsigned long long)s->count);
    }
    pthread_mutex_unlock(&metrics_lock);
    free(all);
}

void http_metrics_reset(void)
{
    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; i < N_SLOTS; i++) {
        struct series *s = slots[i], *next;

        for (; s != NULL; s = next) {
            next = s->next;
            free(s->name);
            free(s->labels);
            free(s);
        }
        slots[i] = NULL;
    }
    pthread_mutex_unlock(&metrics_lock);
}
