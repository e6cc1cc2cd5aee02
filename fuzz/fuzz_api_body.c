/*
 * Fuzz target: the JSON request bodies of the HTTP API (API.md).  The body
 * is parsed exactly as src/http/server.c does (json_loadb with
 * JSON_REJECT_DUPLICATES), then every member any handler of
 * src/http/api.c reads is taken the way that handler takes it and put
 * through the checks the service applies before it touches the store:
 *   POST /v1/login            username, password, totp (totp_check)
 *   POST /v1/password         old, new (only lengths are checked)
 *   POST /v1/cases            purpose (policy names), customer_id
 *                             (model_norm_customer_id), reason (length,
 *                             service_mentions), send_to
 *   POST /v1/cases/{id}/verify code (a length and strspn)
 *   POST /v1/cases/{id}/reveal fields (api.c's list to "a,b" then
 *                             service_parse_fields), customer_id
 *   POST /v1/subject/code     account (model_norm_account)
 *   POST /v1/subject/login    account, code (a length and strspn)
 *   POST /v1/subject/notices  digest (strcmp)
 * Checked: a parsed body prints and parses back equal; the field list's
 * canonical form parses to the same set; a refusal's message survives as
 * the problem's detail (http_problem).  The handlers themselves need a
 * data folder and a live server; tests/unit/api drives them.
 */
#include "fuzz.h"

#include <jansson.h>

#include "auth/totp.h"
#include "http/http.h"
#include "model/model.h"
#include "policy/policy.h"
#include "service/service_int.h"

static struct model_customer customer; /* whose values a reason must not mention */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct model_device *d;

    (void)argc;
    (void)argv;
    model_customer_init(&customer);
    customer.customer_id = xstrdup("C00012345");
    customer.name = xstrdup("Zhang Wei");
    customer.email = xstrdup("zhang.wei@example.com");
    customer.account = xstrdup("zw@example.cn");
    customer.address = xstrdup("88 Keyuan Road, Nanshan, Shenzhen");
    customer.phones[customer.nphones++] = xstrdup("+8613812345678");
    d = model_customer_add_device(&customer);
    d->imei = xstrdup("490154203237518");
    d->serial = xstrdup("F2LXK0ABCD12");
    return 0;
}

/* body_str() of api.c: the member as a string, or NULL. */
static const char *body_str(json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

static void login(json_t *body)
{
    static const unsigned char secret[TOTP_SECRET_BYTES] = "12345678901234567890";
    const char *u = body_str(body, "username"), *p = body_str(body, "password"),
               *t = body_str(body, "totp");
    int64_t step = -1;
    int rc;

    if (u == NULL || p == NULL || t == NULL)
        return;
    rc = totp_check(secret, sizeof(secret), t, 1700000000, -1, &step);
    FUZZ_CHECK(rc == CU_OK || rc == CU_ERR_INVALID || rc == CU_ERR_INTEGRITY ||
               rc == CU_ERR_CONFLICT);
    if (rc == CU_OK)
        FUZZ_CHECK(step >= 1700000000 / TOTP_PERIOD - 1 && step <= 1700000000 / TOTP_PERIOD + 1);
}

static void case_open(json_t *body)
{
    const char *purpose = body_str(body, "purpose"), *cid = body_str(body, "customer_id");
    const char *reason = body_str(body, "reason");
    struct model_error err = {NULL, NULL};
    char *norm = NULL;
    int p = policy_purpose_from_name(purpose);

    if (p >= 0)
        FUZZ_CHECK(strcmp(policy_purpose_name(p), purpose) == 0);
    if (cid != NULL && model_norm_customer_id(cid, &norm, &err) == CU_OK)
        FUZZ_CHECK(norm != NULL && strlen(norm) <= 64);
    free(norm);
    /* A reason naming the customer's values never reaches the log. */
    if (reason != NULL && strstr(reason, "13812345678") != NULL)
        FUZZ_CHECK(service_mentions(reason, &customer));
}

/* h_case_reveal's field list, then service_parse_fields(). */
static void reveal(json_t *body)
{
    json_t *list = json_object_get(body, "fields"), *f;
    struct buf fields = BUF_INIT, canon = BUF_INIT, canon2 = BUF_INIT;
    int want[MODEL_F__COUNT], want2[MODEL_F__COUNT];
    char *err = NULL;
    size_t i;

    if (!json_is_array(list) || json_array_size(list) == 0)
        return;
    json_array_foreach(list, i, f)
    {
        const char *name = json_string_value(f);

        if (name == NULL || strpbrk(name, ", ") != NULL)
            goto out;
        buf_addf(&fields, "%s%s", i ? "," : "", name);
    }
    if (service_parse_fields(fields.data, want, &canon, &err) == CU_OK) {
        FUZZ_CHECK(err == NULL && canon.len > 0);
        FUZZ_CHECK(service_parse_fields(canon.data, want2, &canon2, NULL) == CU_OK);
        FUZZ_CHECK(memcmp(want, want2, sizeof(want)) == 0);
        FUZZ_CHECK(canon.len == canon2.len && memcmp(canon.data, canon2.data, canon.len) == 0);
    } else {
        struct http_response res = {0};

        /* The message becomes the 400 problem's "detail", whatever its bytes. */
        FUZZ_CHECK(err != NULL);
        http_problem(&res, 400, "invalid-input", err);
        FUZZ_CHECK(json_string_value(json_object_get(res.json, "detail")) != NULL);
        json_decref(res.json);
        free(res.content_type);
    }
out:
    free(err);
    buf_release(&fields);
    buf_release(&canon);
    buf_release(&canon2);
}

static void subject(json_t *body)
{
    const char *account = body_str(body, "account");
    struct model_error err = {NULL, NULL};
    char *norm = NULL;

    if (account != NULL && strlen(account) <= 254 &&
        model_norm_account(account, &norm, &err) == CU_OK)
        FUZZ_CHECK(strchr(norm, '@') != NULL);
    free(norm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *body, *again;
    char *text, detail[96];

    body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL) {
        /* The server's invalid-json detail: a position, never the body. */
        snprintf(detail, sizeof(detail), "invalid JSON at line %d column %d", jerr.line,
                 jerr.column);
        return 0;
    }
    text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    FUZZ_CHECK(text != NULL);
    again = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    FUZZ_CHECK(again != NULL && json_equal(body, again));
    json_decref(again);
    free(text);

    login(body);
    case_open(body);
    reveal(body);
    subject(body);
    json_decref(body);
    return 0;
}
