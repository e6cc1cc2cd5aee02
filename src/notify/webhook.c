/*
 * The webhook transport: one HTTP POST of a JSON message with libcurl's
 * easy interface.  Each call makes, uses and frees its own handle, so calls
 * on several threads never share curl state; the only shared state is
 * libcurl's global set-up, done once by notify_global_init().
 *
 * The body sent holds personal data and the bearer token is a secret:
 * neither ever goes into a message.  The answer's body is read and
 * dropped.
 */
#include "notify.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#define WEBHOOK_USER_AGENT "custodian-notify/1"
/* Longest wait for the TCP (and TLS) connection, within the total timeout. */
#define WEBHOOK_CONNECT_TIMEOUT_S 10u

#define RETRY_BASE_S 5
#define RETRY_CAP_S  600

int notify_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CU_ERR_INTERNAL;
    return CU_OK;
}

/* Write callback: counts the answer's bytes into *userdata and keeps none. */
static size_t webhook_discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    size_t *count = userdata;

    (void)ptr;
    *count += size * nmemb;
    return size * nmemb;
}

/* True when `url` starts with http:// or https:// (any letter case). */
static int webhook_scheme_ok(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* True when `s` holds a byte that would break or split an HTTP header line. */
static int webhook_has_ctl(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* Wipes the strings of a header list (the bearer token is in one) and frees it. */
static void webhook_headers_free(struct curl_slist *headers)
{
    struct curl_slist *h;

    for (h = headers; h != NULL; h = h->next)
        cu_wipe(h->data, strlen(h->data));
    curl_slist_free_all(headers);
}

/* Maps a transport error (the request got no HTTP answer) to an rc and message. */
static int webhook_curl_error(CURLcode cc, unsigned timeout_s, char **errmsg)
{
    switch (cc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
        return cu_errf(errmsg, CU_ERR_INVALID, "webhook: url scheme is not http or https");
    case CURLE_URL_MALFORMAT:
        return cu_errf(errmsg, CU_ERR_INVALID, "webhook: malformed url");
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return cu_errf(errmsg, CU_ERR_IO, "webhook: connect failed: %s", curl_easy_strerror(cc));
    case CURLE_OPERATION_TIMEDOUT:
        return cu_errf(errmsg, CU_ERR_IO, "webhook: no answer within %u s", timeout_s);
    default:
        return cu_errf(errmsg, CU_ERR_IO, "webhook: %s", curl_easy_strerror(cc));
    }
}

/* Maps the status of an HTTP answer to an rc (and a message unless 2xx). */
static int webhook_status(long status, char **errmsg)
{
    if (status >= 200 && status <= 299)
        return CU_OK;
    if (status == 429 || (status >= 500 && status <= 599))
        return cu_errf(errmsg, CU_ERR_IO, "webhook: HTTP %ld", status);
    if (status >= 300 && status <= 399)
        return cu_errf(errmsg, CU_ERR_INVALID, "webhook: HTTP %ld (redirects are not followed)",
                       status);
    return cu_errf(errmsg, CU_ERR_INVALID, "webhook: HTTP %ld", status);
}

int notify_webhook_post(const char *url, const char *json, const char *bearer, unsigned timeout_s,
                        char **errmsg)
{
    CURL *curl = NULL;
    struct curl_slist *headers = NULL, *h;
    char *auth = NULL;
    size_t received = 0;
    unsigned connect_s;
    long status = 0;
    CURLcode cc;
    int bad = 0, rc;

    if (url == NULL || json == NULL) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "webhook: no url or no message");
        goto out;
    }
    /* Checked here so that no other scheme ever reaches libcurl; the
     * protocol restriction below is the second line. */
    if (!webhook_scheme_ok(url)) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "webhook: url scheme is not http or https");
        goto out;
    }
    if (timeout_s == 0) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "webhook: timeout must be at least 1 s");
        goto out;
    }
    if (bearer != NULL && webhook_has_ctl(bearer)) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "webhook: bearer token holds a control character");
        goto out;
    }

    curl = curl_easy_init();
    if (curl == NULL) {
        rc = cu_errf(errmsg, CU_ERR_INTERNAL, "webhook: cannot create a curl handle");
        goto out;
    }

    /* curl_slist_append copies each string; NULL means out of memory. */
    h = curl_slist_append(headers, "Content-Type: application/json");
    if (h != NULL)
        headers = h;
    bad |= h == NULL;
    /* No "Expect: 100-continue" round trip for larger messages. */
    h = curl_slist_append(headers, "Expect:");
    if (h != NULL)
        headers = h;
    bad |= h == NULL;
    if (bearer != NULL) {
        auth = xasprintf("Authorization: Bearer %s", bearer);
        h = curl_slist_append(headers, auth);
        if (h != NULL)
            headers = h;
        bad |= h == NULL;
    }

    connect_s = timeout_s < WEBHOOK_CONNECT_TIMEOUT_S ? timeout_s : WEBHOOK_CONNECT_TIMEOUT_S;
    bad |= curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    bad |= curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
    bad |= curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") != CURLE_OK;
#else
    bad |= curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
           CURLE_OK;
    bad |= curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS,
                            (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK;
#endif
    bad |= curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(curl, CURLOPT_FAILONERROR, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)timeout_s) != CURLE_OK;
    bad |= curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)connect_s) != CURLE_OK;
    bad |= curl_easy_setopt(curl, CURLOPT_USERAGENT, WEBHOOK_USER_AGENT) != CURLE_OK;
    bad |= curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK;
    /* POSTFIELDS does not copy: `json` outlives curl_easy_perform. */
    bad |=
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json)) != CURLE_OK;
    bad |= curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json) != CURLE_OK;
    bad |= curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, webhook_discard) != CURLE_OK;
    bad |= curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received) != CURLE_OK;
    if (bad) {
        rc = cu_errf(errmsg, CU_ERR_INTERNAL, "webhook: cannot set up the curl handle");
        goto out;
    }

    cc = curl_easy_perform(curl);
    if (cc != CURLE_OK) {
        rc = webhook_curl_error(cc, timeout_s, errmsg);
        goto out;
    }
    if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK) {
        rc = cu_errf(errmsg, CU_ERR_INTERNAL, "webhook: no status code from curl");
        goto out;
    }
    rc = webhook_status(status, errmsg);

out:
    if (curl != NULL)
        curl_easy_cleanup(curl);
    webhook_headers_free(headers);
    if (auth != NULL) {
        cu_wipe(auth, strlen(auth));
        free(auth);
    }
    return rc;
}

/* xorshift64* step; `*s` must not be 0. */
static uint64_t retry_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dULL;
}

int64_t notify_retry_delay(unsigned attempt)
{
    /* Jitter only, not a secret: a per-thread generator seeded from the
     * clock and the address of the thread's own state. */
    static _Thread_local uint64_t state;
    struct timespec ts;
    int64_t base;
    unsigned i;

    if (state == 0) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
                (uint64_t)(uintptr_t)&state;
        if (state == 0)
            state = 0x9e3779b97f4a7c15ULL;
    }
    base = RETRY_BASE_S;
    for (i = 1; i < attempt && base < RETRY_CAP_S; i++)
        base *= 2;
    if (base > RETRY_CAP_S)
        base = RETRY_CAP_S;
    return base + (int64_t)(retry_next(&state) % (uint64_t)(base / 5 + 1));
}
