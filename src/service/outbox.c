/*
 * The outbox: messages to customers, sealed in the store (recipient and
 * text are personal or secret), "sent" there by the built-in notifier or
 * delivered to the configured webhook with retries.
 */
#include "service_int.h"

#include <stdlib.h>
#include <string.h>

#include "../notify/notify.h"

#define WEBHOOK_TIMEOUT_S 10

/* The associated data that binds a sealed message to its row's facts. */
static char *seal_context(const struct store_message *m)
{
    return xasprintf("outbox|%s|%s|%s|%lld", m->customer_id, m->case_id ? m->case_id : "",
                     m->channel, (long long)m->created_at);
}

int service_notify(struct service *svc, const char *customer_id, const char *case_id,
                   const char *channel, const char *to, const char *text, char **errmsg)
{
    struct store_message m;
    json_t *plain = json_pack("{s:s, s:s}", "to", to, "body", text);
    char *json = json_dumps(plain, JSON_COMPACT), *ctx;
    int64_t id = 0;
    int rc;

    store_message_init(&m);
    m.customer_id = xstrdup(customer_id);
    m.case_id = case_id ? xstrdup(case_id) : NULL;
    m.channel = xstrdup(channel);
    m.created_at = m.next_attempt_at = cu_now();
    m.status = xstrdup(svc->webhook_url ? "pending" : "sent");
    m.delivered_at = svc->webhook_url ? 0 : m.created_at;
    ctx = seal_context(&m);
    vault_secret_seal(svc->vault, ctx, json, strlen(json), &m.sealed);
    rc = store_outbox_add(svc->store, &m, &id, errmsg);
    cu_wipe(json, strlen(json));
    free(json);
    free(ctx);
    json_decref(plain);
    store_message_release(&m);
    return rc;
}

/* Opens a message's sealed part: {"to","body"}. */
static int unseal(struct service *svc, const struct store_message *m, json_t **out, char **errmsg)
{
    struct buf plain = BUF_INIT;
    char *ctx = seal_context(m);
    int rc;

    *out = NULL;
    rc = vault_secret_open(svc->vault, ctx, m->sealed.data, m->sealed.len, &plain, errmsg);
    if (rc == CU_OK) {
        *out = json_loadb(plain.data, plain.len, 0, NULL);
        if (*out == NULL)
            rc = cu_errf(errmsg, CU_ERR_INTEGRITY, "outbox message %lld is damaged",
                         (long long)m->id);
    } else {
        cu_errprefix(errmsg, "outbox message %lld", (long long)m->id);
    }
    buf_release_wipe(&plain);
    free(ctx);
    return rc;
}

struct list_ctx {
    struct service *svc;
    json_t *messages;
    char **errmsg;
};

static int list_one(void *arg, const struct store_message *m)
{
    struct list_ctx *ctx = arg;
    json_t *open = NULL, *v;
    int rc = unseal(ctx->svc, m, &open, ctx->errmsg);

    if (rc != CU_OK)
        return rc;
    v = json_pack("{s:I, s:I, s:s, s:O, s:O, s:s, s:s, s:i}", "id", (json_int_t)m->id, "created_at",
                  (json_int_t)m->created_at, "channel", m->channel, "to",
                  json_object_get(open, "to"), "body", json_object_get(open, "body"), "customer_id",
                  m->customer_id, "status", m->status, "attempts", m->attempts);
    json_object_set_new(v, "case_id", m->case_id ? json_string(m->case_id) : json_null());
    if (m->last_error != NULL)
        json_object_set_new(v, "last_error", json_string(m->last_error));
    json_array_append_new(ctx->messages, v);
    json_decref(open);
    return CU_OK;
}

int service_outbox_list(struct service *svc, int64_t after_id, size_t limit, json_t **out,
                        char **errmsg)
{
    struct list_ctx ctx = {svc, json_array(), errmsg};
    int rc = store_outbox_scan(svc->store, after_id, 0, limit, list_one, &ctx, errmsg);

    *out = NULL;
    if (rc == CU_OK)
        *out = json_pack("{s:o}", "messages", ctx.messages);
    else
        json_decref(ctx.messages);
    return rc;
}

struct deliver_ctx {
    struct service *svc;
    size_t sent;
};

/* One delivery attempt; the outcome is recorded on the message, so one
 * failing message never stops the others. */
static int deliver_one(void *arg, const struct store_message *m)
{
    struct deliver_ctx *ctx = arg;
    struct service *svc = ctx->svc;
    struct store_message next = *m;
    json_t *open = NULL, *msg;
    char *json = NULL, *err = NULL;
    int rc;

    rc = unseal(svc, m, &open, &err);
    if (rc == CU_OK) {
        msg = json_pack("{s:I, s:s, s:O, s:O}", "id", (json_int_t)m->id, "channel", m->channel,
                        "to", json_object_get(open, "to"), "body", json_object_get(open, "body"));
        json = json_dumps(msg, JSON_COMPACT);
        json_decref(msg);
        rc = notify_webhook_post(svc->webhook_url, json, svc->webhook_token, WEBHOOK_TIMEOUT_S,
                                 &err);
        cu_wipe(json, strlen(json));
        free(json);
    }
    json_decref(open);
    next.attempts = m->attempts + 1;
    next.last_error = err;
    if (rc == CU_OK) {
        next.status = "sent";
        next.delivered_at = cu_now();
        ctx->sent++;
    } else if (rc == CU_ERR_IO && next.attempts < SERVICE_NOTIFY_ATTEMPTS) {
        next.next_attempt_at = cu_now() + notify_retry_delay((unsigned)next.attempts);
    } else {
        next.status = "failed";
        cu_log("outbox: message %lld failed for good: %s", (long long)m->id, err ? err : "");
    }
    rc = store_outbox_mark(svc->store, &next, NULL);
    free(err);
    return rc;
}

int service_outbox_deliver(struct service *svc, size_t max, size_t *sent, char **errmsg)
{
    struct deliver_ctx ctx = {svc, 0};
    int rc = CU_OK;

    if (svc->webhook_url != NULL)
        rc = store_outbox_scan(svc->store, 0, cu_now(), max, deliver_one, &ctx, errmsg);
    *sent = ctx.sent;
    return rc;
}

int service_outbox_expire(struct service *svc, size_t max, size_t *deleted, char **errmsg)
{
    int64_t before = cu_now() - svc->outbox_keep_s;
    size_t want, n;
    int rc;

    *deleted = 0;
    while (*deleted < max) {
        want = max - *deleted < SERVICE_OUTBOX_EXPIRE_CHUNK ? max - *deleted
                                                            : SERVICE_OUTBOX_EXPIRE_CHUNK;
        rc = store_outbox_expire(svc->store, before, want, &n, errmsg);
        if (rc != CU_OK)
            return rc;
        *deleted += n;
        if (n < want) /* none left to delete */
            break;
    }
    return CU_OK;
}
