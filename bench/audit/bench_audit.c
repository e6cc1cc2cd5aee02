/*
 * Durable audit appends per second with group commit, at a given number of
 * concurrent writers; also the crash test's load generator.
 *
 *   bench-audit DATA_DIR THREADS COUNT [--print]
 *   bench-audit DATA_DIR --in-flight K COUNT
 *   bench-audit DATA_DIR --proofs N
 *
 * THREADS threads append COUNT entries in all (reveal-like entries: actor,
 * role, store, a customer pseudonym, fields, a reason), each waiting for its
 * entry to be durable, as a server's request threads would.  With --print,
 * every answered leaf index is printed on stdout as soon as it is answered
 * (the crash test kills the process and checks that each printed index
 * survived).  --in-flight: one thread keeps K entries in flight with
 * audit_log_submit (a new one as soon as one is durable), as an
 * event-driven server does with K requests waiting for their audit entry.
 * Prints a JSON summary on stderr.  --proofs times N inclusion
 * and N consistency proofs against the whole log, served from the tiles.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "service/service.h"
#include "store/store.h"
#include "vault/vault.h"

struct worker {
    struct service *svc;
    int id;
    uint64_t count;
    int print;
    int failed;
};

static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static void *work(void *arg)
{
    struct worker *w = arg;
    struct audit_entry e = {0};
    char actor[32], cid[32], *err = NULL;
    uint64_t i, index;

    snprintf(actor, sizeof(actor), "bench-%02d", w->id);
    e.action = AUDIT_REVEAL;
    e.decision = AUDIT_ALLOW;
    e.actor = actor;
    e.role = "clerk";
    e.store = "SZ-014";
    e.fields = "name,phone";
    e.detail = "reason: benchmark";
    e.client = "127.0.0.1";
    e.has_subject = 1;
    for (i = 0; i < w->count; i++) {
        snprintf(cid, sizeof(cid), "C%08llu",
                 (unsigned long long)(i * 7919 + (uint64_t)w->id) % 1000000);
        vault_pseudonym(w->svc->vault, cid, e.subject);
        e.time_ms = cu_now_ms();
        if (audit_log_append(w->svc->audit, &e, &index, &err) != CU_OK) {
            fprintf(stderr, "bench-audit: %s\n", err);
            free(err);
            w->failed = 1;
            return NULL;
        }
        if (w->print) {
            pthread_mutex_lock(&print_lock);
            printf("%llu\n", (unsigned long long)index);
            fflush(stdout);
            pthread_mutex_unlock(&print_lock);
        }
    }
    return NULL;
}

/* --in-flight: the window of entries submitted and not yet durable. */
struct window {
    pthread_mutex_t lock;
    pthread_cond_t room;
    uint64_t in_flight, done, failed;
};

static void window_done(void *ctx, int rc, uint64_t index, const char *err)
{
    struct window *w = ctx;

    (void)index, (void)err;
    pthread_mutex_lock(&w->lock);
    w->in_flight--;
    w->done++;
    w->failed += rc != CU_OK;
    pthread_cond_signal(&w->room);
    pthread_mutex_unlock(&w->lock);
}

static int bench_in_flight(struct service *svc, uint64_t k, uint64_t count)
{
    struct window w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    struct audit_entry e = {0};
    char cid[32], *err = NULL;
    uint64_t i;
    double t0, secs;

    e.action = AUDIT_REVEAL;
    e.decision = AUDIT_ALLOW;
    e.actor = "bench-async";
    e.role = "clerk";
    e.store = "SZ-014";
    e.fields = "name,phone";
    e.detail = "reason: benchmark";
    e.client = "127.0.0.1";
    e.has_subject = 1;
    t0 = cu_monotonic();
    for (i = 0; i < count; i++) {
        snprintf(cid, sizeof(cid), "C%08llu", (unsigned long long)(i * 7919) % 1000000);
        vault_pseudonym(svc->vault, cid, e.subject);
        e.time_ms = cu_now_ms();
        pthread_mutex_lock(&w.lock);
        while (w.in_flight >= k)
            pthread_cond_wait(&w.room, &w.lock);
        w.in_flight++;
        pthread_mutex_unlock(&w.lock);
        if (audit_log_submit(svc->audit, &e, window_done, &w, &err) != CU_OK) {
            fprintf(stderr, "bench-audit: %s\n", err);
            free(err);
            return 1;
        }
    }
    pthread_mutex_lock(&w.lock);
    while (w.done < count)
        pthread_cond_wait(&w.room, &w.lock);
    pthread_mutex_unlock(&w.lock);
    secs = cu_monotonic() - t0;
    fprintf(stderr,
            "{\"in_flight\": %llu, \"appends\": %llu, \"seconds\": %.3f, \"per_second\": %.0f}\n",
            (unsigned long long)k, (unsigned long long)count, secs, (double)count / secs);
    return w.failed != 0;
}

static int bench_proofs(struct service *svc, uint64_t n)
{
    uint64_t size = 0, i, state = 7;
    json_t *out;
    char *err = NULL;
    double t0, ti, tc;

    if (store_audit_size(svc->store, &size, &err) != CU_OK || size < 2) {
        fprintf(stderr, "bench-audit: the log needs entries\n");
        return 1;
    }
    t0 = cu_monotonic();
    for (i = 0; i < n; i++) {
        if (service_audit_inclusion(svc, (state = state * 6364136223846793005ULL + 1) % size, size,
                                    &out, &err) != CU_OK)
            goto fail;
        json_decref(out);
    }
    ti = cu_monotonic() - t0;
    t0 = cu_monotonic();
    for (i = 0; i < n; i++) {
        if (service_audit_consistency(svc,
                                      1 + (state = state * 6364136223846793005ULL + 1) % (size - 1),
                                      size, &out, &err) != CU_OK)
            goto fail;
        json_decref(out);
    }
    tc = cu_monotonic() - t0;
    fprintf(stderr, "{\"tree_size\": %llu, \"inclusion_us\": %.1f, \"consistency_us\": %.1f}\n",
            (unsigned long long)size, ti * 1e6 / (double)n, tc * 1e6 / (double)n);
    return 0;
fail:
    fprintf(stderr, "bench-audit: %s\n", err);
    free(err);
    return 1;
}

int main(int argc, char **argv)
{
    struct service *svc = NULL;
    struct worker *w;
    pthread_t *t;
    uint64_t count;
    int threads, i, print, failed = 0;
    char *err = NULL;
    double t0, secs;

    if (argc < 4) {
        fprintf(stderr, "usage: bench-audit DATA_DIR THREADS COUNT [--print]\n"
                        "       bench-audit DATA_DIR --in-flight K COUNT\n"
                        "       bench-audit DATA_DIR --proofs N\n");
        return 2;
    }
    if (strcmp(argv[2], "--in-flight") == 0 && argc == 5) {
        if (vault_global_init() != CU_OK || service_open(&svc, argv[1], &err) != CU_OK ||
            service_audit_open(svc, &err) != CU_OK) {
            fprintf(stderr, "bench-audit: %s\n", err ? err : "cannot start");
            return 1;
        }
        i = bench_in_flight(svc, strtoull(argv[3], NULL, 10), strtoull(argv[4], NULL, 10));
        service_free(svc);
        return i;
    }
    if (strcmp(argv[2], "--proofs") == 0) {
        if (vault_global_init() != CU_OK || service_open(&svc, argv[1], &err) != CU_OK) {
            fprintf(stderr, "bench-audit: %s\n", err ? err : "cannot start");
            return 1;
        }
        i = bench_proofs(svc, strtoull(argv[3], NULL, 10));
        service_free(svc);
        return i;
    }
    threads = atoi(argv[2]);
    count = strtoull(argv[3], NULL, 10);
    print = argc > 4 && strcmp(argv[4], "--print") == 0;
    if (threads < 1 || threads > 1024 || count < (uint64_t)threads) {
        fprintf(stderr, "bench-audit: THREADS 1..1024, COUNT >= THREADS\n");
        return 2;
    }
    if (vault_global_init() != CU_OK || service_open(&svc, argv[1], &err) != CU_OK ||
        service_audit_open(svc, &err) != CU_OK) {
        fprintf(stderr, "bench-audit: %s\n", err ? err : "cannot start");
        return 1;
    }
    w = xcalloc((size_t)threads, sizeof(*w));
    t = xcalloc((size_t)threads, sizeof(*t));
    t0 = cu_monotonic();
    for (i = 0; i < threads; i++) {
        w[i].svc = svc;
        w[i].id = i;
        w[i].count = count / (uint64_t)threads + (i < (int)(count % (uint64_t)threads));
        w[i].print = print;
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failed |= w[i].failed;
    }
    secs = cu_monotonic() - t0;
    fprintf(stderr,
            "{\"threads\": %d, \"appends\": %llu, \"seconds\": %.3f, \"per_second\": %.0f}\n",
            threads, (unsigned long long)count, secs, (double)count / secs);
    service_free(svc);
    free(w);
    free(t);
    return failed;
}
