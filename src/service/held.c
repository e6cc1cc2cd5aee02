/*
 * Held answers: what a use case will answer, kept until every audit entry
 * it queued is durable.  The only way an asynchronous use case answers, so
 * no answer can overtake its audit entries: if any of them fails, the
 * answer is dropped and the caller gets the audit error (fail closed).
 */
#include "service_int.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>

#include "../audit/audit.h"

struct service_held {
    pthread_mutex_t lock;
    unsigned refs; /* queued entries not yet durable, + 1 until released */
    json_t *out;
    int rc;
    const char *why;
    char *errmsg;
    int audit_rc; /* the first audit failure */
    char *audit_err;
    service_done_fn done;
    void *ctx;
};

struct service_held *service_hold(service_done_fn done, void *ctx)
{
    struct service_held *h = xcalloc(1, sizeof(*h));

    pthread_mutex_init(&h->lock, NULL);
    h->refs = 1;
    h->done = done;
    h->ctx = ctx;
    return h;
}

void service_held_answer(struct service_held *h, int rc, json_t *out, const char *why, char *errmsg)
{
    json_decref(h->out);
    free(h->errmsg);
    h->rc = rc;
    h->out = out;
    h->why = why;
    h->errmsg = errmsg;
}

/* Drops one reference; the last one delivers and frees. */
static void unref(struct service_held *h)
{
    unsigned left;

    pthread_mutex_lock(&h->lock);
    left = --h->refs;
    pthread_mutex_unlock(&h->lock);
    if (left > 0)
        return;
    if (h->audit_rc != CU_OK) {
        json_decref(h->out);
        free(h->errmsg);
        h->done(h->ctx, h->audit_rc, NULL, NULL,
                xasprintf("audit: %s", h->audit_err ? h->audit_err : "the log cannot be written"));
    } else {
        h->done(h->ctx, h->rc, h->out, h->why, h->errmsg);
    }
    free(h->audit_err);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* A queued entry of a held answer. */
struct held_entry {
    struct service_held *h;
    int index_into_out;
};

static void entry_done(void *ctx, int rc, uint64_t index, const char *errmsg)
{
    struct held_entry *e = ctx;
    struct service_held *h = e->h;

    pthread_mutex_lock(&h->lock);
    if (rc != CU_OK && h->audit_rc == CU_OK) {
        h->audit_rc = rc;
        h->audit_err = xstrdup(errmsg ? errmsg : "");
    } else if (rc == CU_OK && e->index_into_out && h->out != NULL) {
        json_object_set_new(h->out, "audit", json_pack("{s:I}", "leaf_index", (json_int_t)index));
    }
    pthread_mutex_unlock(&h->lock);
    free(e);
    unref(h);
}

void service_held_entry(struct service *svc, struct service_held *h,
                        const struct service_actor *who, const struct service_access *a,
                        int index_into_out)
{
    struct held_entry *e = xcalloc(1, sizeof(*e));
    struct audit_entry ae;
    char *err = NULL;
    int rc;

    e->h = h;
    e->index_into_out = index_into_out;
    pthread_mutex_lock(&h->lock);
    h->refs++;
    pthread_mutex_unlock(&h->lock);
    rc = service_audit_open(svc, &err);
    if (rc == CU_OK) {
        service_audit_entry(svc, who, a, &ae);
        rc = audit_log_submit(svc->audit, &ae, entry_done, e, &err);
    }
    if (rc != CU_OK) {
        entry_done(e, rc, 0, err);
        free(err);
    }
}

void service_held_release(struct service_held *h)
{
    unref(h);
}

/* --- waiting for an answer (the synchronous forms) ------------------------ */

void service_wait_init(struct service_wait *w)
{
    memset(w, 0, sizeof(*w));
    sem_init(&w->sem, 0, 0);
}

void service_wait_done(void *ctx, int rc, json_t *out, const char *why, char *errmsg)
{
    struct service_wait *w = ctx;

    w->rc = rc;
    w->out = out;
    w->why = why;
    w->errmsg = errmsg;
    sem_post(&w->sem);
}

int service_wait(struct service_wait *w, json_t **out, const char **why, char **errmsg)
{
    while (sem_wait(&w->sem) != 0 && errno == EINTR)
        ;
    sem_destroy(&w->sem);
    *out = w->out;
    if (why != NULL)
        *why = w->why;
    if (w->errmsg != NULL) {
        if (errmsg != NULL) {
            free(*errmsg);
            *errmsg = w->errmsg;
        } else {
            free(w->errmsg);
        }
    }
    return w->rc;
}
