/*
 * Delivery of messages to customers (one-time codes, access notices).
 *
 * The messages themselves live in the store's outbox, sealed (they hold a
 * phone number or an e-mail address and, for codes, a secret), and the
 * service layer decides what to send and when to retry.  This module is
 * only the transport to the outside: a webhook, an HTTP POST of one JSON
 * message to a URL the operator configures (an SMS or e-mail gateway, or
 * a small adapter in front of one).  The built-in "outbox" notifier needs
 * no transport: `custodian outbox` shows what it sent.
 *
 * Thread-safe once notify_global_init() has run.
 */
#ifndef CU_NOTIFY_H
#define CU_NOTIFY_H

#include <stdint.h>

#include "../common/common.h"

/* Once per process, before any other thread starts (libcurl's global
 * set-up).  CU_ERR_INTERNAL if libcurl cannot start. */
int notify_global_init(void) CU_WUR;

/*
 * POSTs `json` (a complete JSON document, sent as application/json) to
 * `url` (http:// or https:// only), giving up after `timeout_s` seconds.
 * When `bearer` is not NULL it is sent as "Authorization: Bearer BEARER".
 * Redirects are not followed.
 *
 * CU_OK for a 2xx answer.  CU_ERR_IO for a failure worth retrying later:
 * no connection, a timeout, a 5xx or a 429 answer.  CU_ERR_INVALID for one
 * that retrying will not fix: a URL that is not http(s), or another 4xx
 * answer.  *errmsg then says what happened (the status code or the
 * transport error), never the body sent, which holds personal data.
 *
 * Since redirects are not followed, a 3xx answer counts as permanent
 * (CU_ERR_INVALID): the operator must configure the final URL.  So do any
 * other non-2xx status and a `timeout_s` of 0, and a `bearer` holding a
 * control character (it would break the header).  The connection itself
 * must be made within min(`timeout_s`, 10) seconds.  The answer's body is
 * read and dropped.  Proxy settings from the environment (http_proxy,
 * https_proxy, no_proxy) apply, as libcurl reads them.
 */
int notify_webhook_post(const char *url, const char *json, const char *bearer, unsigned timeout_s,
                        char **errmsg) CU_WUR;

/*
 * Seconds to wait before delivery attempt number `attempt` + 1, after
 * `attempt` failed attempts (1, 2, ...): exponential back-off from 5 s,
 * doubling, capped at 10 minutes, with up to 20% random jitter so that a
 * gateway coming back is not hit by every message at once.
 */
int64_t notify_retry_delay(unsigned attempt);

#endif
