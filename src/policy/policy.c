/*
 * The access policy: parsing and validating the policy file, and the pure
 * decisions over it.  See policy.h for the rules and docs/policy.md for
 * the file format.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "policy.h"

/* A policy file larger than this is refused before parsing. */
#define POLICY_MAX_TEXT  (1024 * 1024)
#define POLICY_MAX_COUNT 1000000u  /* quotas, distances, counts */
#define POLICY_MAX_LEGAL 10000000u /* statutory thresholds */
#define PATH_LEN         256

/* ---- names ------------------------------------------------------------ */

static const char *const role_names[POLICY_ROLE__COUNT] = {
    "clerk", "agent", "supervisor", "security", "admin", "operator",
};

static const char *const purpose_names[POLICY_PURPOSE__COUNT] = {
    "customer_support",
    "fraud_investigation",
    "legal_request",
};

static const char *const state_names[POLICY_CASE__COUNT] = {
    "awaiting_verification", "pending_approval", "verified", "approved", "closed", "expired",
};

static const char *const view_names[] = {"none", "masked", "full"};

static const char *const category_names[POLICY_CAT__COUNT] = {
    "whereabouts", "communication_content", "credit",
    "property",    "accommodation",         "communication_records",
    "health",      "transaction",           "other",
};

static const char *name_of(const char *const *names, size_t n, int v)
{
    if (v < 0 || (size_t)v >= n)
        return NULL;
    return names[v];
}

static int index_of(const char *const *names, size_t n, const char *name)
{
    size_t i;

    if (name == NULL)
        return -1;
    for (i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *policy_role_name(int role)
{
    return name_of(role_names, CU_ARRAY_LEN(role_names), role);
}

int policy_role_from_name(const char *name)
{
    return index_of(role_names, CU_ARRAY_LEN(role_names), name);
}

const char *policy_purpose_name(int purpose)
{
    return name_of(purpose_names, CU_ARRAY_LEN(purpose_names), purpose);
}

int policy_purpose_from_name(const char *name)
{
    return index_of(purpose_names, CU_ARRAY_LEN(purpose_names), name);
}

const char *policy_case_state_name(int state)
{
    return name_of(state_names, CU_ARRAY_LEN(state_names), state);
}

int policy_case_state_from_name(const char *name)
{
    return index_of(state_names, CU_ARRAY_LEN(state_names), name);
}

const char *policy_view_name(int view)
{
    return name_of(view_names, CU_ARRAY_LEN(view_names), view);
}

int policy_view_from_name(const char *name)
{
    return index_of(view_names, CU_ARRAY_LEN(view_names), name);
}

const char *policy_category_name(int category)
{
    return name_of(category_names, CU_ARRAY_LEN(category_names), category);
}

int policy_category_from_name(const char *name)
{
    return index_of(category_names, CU_ARRAY_LEN(category_names), name);
}

int policy_purpose_requires(enum policy_purpose purpose)
{
    switch (purpose) {
    case POLICY_PURPOSE_CUSTOMER_SUPPORT:
        return POLICY_CASE_VERIFIED;
    case POLICY_PURPOSE_FRAUD_INVESTIGATION:
    case POLICY_PURPOSE_LEGAL_REQUEST:
        return POLICY_CASE_APPROVED;
    default:
        return -1;
    }
}

/*
 * Roles bound by separation of duties: they never see customer values
 * through the policy, never open or approve cases.  Security and admin may
 * not look customers up either; the operator's look-ups are the file's to
 * allow.
 */
static int role_is_fixed(int role)
{
    return role == POLICY_ROLE_SECURITY || role == POLICY_ROLE_ADMIN ||
           role == POLICY_ROLE_OPERATOR;
}

/* ---- the built-in default ---------------------------------------------- */

/*
 * src/policy/default_policy.json, byte for byte (a unit test compares the
 * two).  Regenerate this literal by hand when the file changes.
 */
static const char default_text[] =
    "{\n"
    "  \"_comment\": \"Custodian access policy, version 1. docs/policy.md explains every key. Deny "
    "by default: a field not listed is none, a role not listed may do nothing. Every limit must be "
    "written out.\",\n"
    "  \"version\": 1,\n"
    "  \"roles\": {\n"
    "    \"clerk\": {\n"
    "      \"_comment\": \"Store staff serving the customer at the counter.\",\n"
    "      \"lookup\": true,\n"
    "      \"open\": [\"customer_support\"],\n"
    "      \"approve\": false,\n"
    "      \"customer_support\": {\n"
    "        \"account\": \"full\",\n"
    "        \"name\": \"full\",\n"
    "        \"phone\": \"full\",\n"
    "        \"email\": \"full\",\n"
    "        \"address\": \"masked\",\n"
    "        \"birth_date\": \"masked\",\n"
    "        \"devices\": \"full\"\n"
    "      },\n"
    "      \"quotas\": {\n"
    "        \"lookups_per_hour\": 60,\n"
    "        \"lookups_per_day\": 300,\n"
    "        \"reveals_per_hour\": 20,\n"
    "        \"reveals_per_day\": 100,\n"
    "        \"step_up_fraction\": 0.8\n"
    "      }\n"
    "    },\n"
    "    \"agent\": {\n"
    "      \"_comment\": \"Support centre staff; may also open investigations, which a supervisor "
    "approves.\",\n"
    "      \"lookup\": true,\n"
    "      \"open\": [\"customer_support\", \"fraud_investigation\", \"legal_request\"],\n"
    "      \"approve\": false,\n"
    "      \"customer_support\": {\n"
    "        \"account\": \"full\",\n"
    "        \"name\": \"full\",\n"
    "        \"phone\": \"full\",\n"
    "        \"email\": \"full\",\n"
    "        \"address\": \"full\",\n"
    "        \"birth_date\": \"masked\",\n"
    "        \"devices\": \"full\"\n"
    "      },\n"
    "      \"fraud_investigation\": {\n"
    "        \"account\": \"full\",\n"
    "        \"name\": \"full\",\n"
    "        \"phone\": \"full\",\n"
    "        \"email\": \"full\",\n"
    "        \"address\": \"full\",\n"
    "        \"birth_date\": \"full\",\n"
    "        \"devices\": \"full\"\n"
    "      },\n"
    "      \"legal_request\": {\n"
    "        \"account\": \"full\",\n"
    "        \"name\": \"full\",\n"
    "        \"phone\": \"full\",\n"
    "        \"email\": \"full\",\n"
    "        \"address\": \"full\",\n"
    "        \"birth_date\": \"full\",\n"
    "        \"devices\": \"full\"\n"
    "      },\n"
    "      \"quotas\": {\n"
    "        \"lookups_per_hour\": 60,\n"
    "        \"lookups_per_day\": 400,\n"
    "        \"reveals_per_hour\": 30,\n"
    "        \"reveals_per_day\": 150,\n"
    "        \"step_up_fraction\": 0.8\n"
    "      }\n"
    "    },\n"
    "    \"supervisor\": {\n"
    "      \"_comment\": \"Approves investigations (never their own) and may hold them.\",\n"
    "      \"lookup\": false,\n"
    "      \"open\": [\"fraud_investigation\", \"legal_request\"],\n"
    "      \"approve\": true,\n"
    "      \"fraud_investigation\": {\n"
    "        \"account\": \"full\",\n"
    "        \"name\": \"full\",\n"
    "        \"phone\": \"full\",\n"
    "        \"email\": \"full\",\n"
    "        \"address\": \"full\",\n"
    "        \"birth_date\": \"full\",\n"
    "        \"devices\": \"full\"\n"
    "      },\n"
    "      \"legal_request\": {\n"
    "        \"account\": \"full\",\n"
    "        \"name\": \"full\",\n"
    "        \"phone\": \"full\",\n"
    "        \"email\": \"full\",\n"
    "        \"address\": \"full\",\n"
    "        \"birth_date\": \"full\",\n"
    "        \"devices\": \"full\"\n"
    "      },\n"
    "      \"quotas\": {\n"
    "        \"lookups_per_hour\": 0,\n"
    "        \"lookups_per_day\": 0,\n"
    "        \"reveals_per_hour\": 10,\n"
    "        \"reveals_per_day\": 40,\n"
    "        \"step_up_fraction\": 0.8\n"
    "      }\n"
    "    },\n"
    "    \"security\": {\n"
    "      \"_comment\": \"Reads alerts and the audit log. Never sees customer values (fixed "
    "rule).\",\n"
    "      \"lookup\": false\n"
    "    },\n"
    "    \"admin\": {\n"
    "      \"_comment\": \"Manages staff accounts. Never sees customer values (fixed rule).\",\n"
    "      \"lookup\": false\n"
    "    },\n"
    "    \"operator\": {\n"
    "      \"_comment\": \"The local command line. Sees values only through the explicit, audited "
    "custodian lookup --reveal.\",\n"
    "      \"lookup\": true\n"
    "    }\n"
    "  },\n"
    "  \"statutory\": {\n"
    "    \"_comment\": \"2017 SPC/SPP interpretation on infringing citizens' personal information, "
    "art. 5: 50 / 500 / 5000 pieces, halved for information obtained through one's duties, "
    "categories combined in proportion.\",\n"
    "    \"window_days\": 30,\n"
    "    \"thresholds\": {\n"
    "      \"whereabouts\": 50,\n"
    "      \"communication_content\": 50,\n"
    "      \"credit\": 50,\n"
    "      \"property\": 50,\n"
    "      \"accommodation\": 500,\n"
    "      \"communication_records\": 500,\n"
    "      \"health\": 500,\n"
    "      \"transaction\": 500,\n"
    "      \"other\": 5000\n"
    "    },\n"
    "    \"duty_factor\": 0.5,\n"
    "    \"alert_fraction\": 0.5,\n"
    "    \"block_fraction\": 0.8,\n"
    "    \"fields\": {\n"
    "      \"account\": \"other\",\n"
    "      \"name\": \"other\",\n"
    "      \"phone\": \"other\",\n"
    "      \"email\": \"other\",\n"
    "      \"address\": \"accommodation\",\n"
    "      \"birth_date\": \"other\",\n"
    "      \"devices\": \"transaction\"\n"
    "    }\n"
    "  },\n"
    "  \"enumeration\": {\n"
    "    \"window_hours\": 24,\n"
    "    \"imei_serial_distance\": 100,\n"
    "    \"phone_distance\": 100,\n"
    "    \"alert_after\": 3,\n"
    "    \"block_after\": 5\n"
    "  },\n"
    "  \"store_hours\": {\n"
    "    \"default\": {\n"
    "      \"timezone\": \"Asia/Shanghai\",\n"
    "      \"open\": \"09:00\",\n"
    "      \"close\": \"22:00\"\n"
    "    },\n"
    "    \"stores\": {}\n"
    "  }\n"
    "}\n";

const char *policy_default_text(size_t *len)
{
    if (len != NULL)
        *len = sizeof(default_text) - 1;
    return default_text;
}

/* ---- the parsed policy -------------------------------------------------- */

struct store_hours {
    char *store; /* owned */
    struct policy_hours hours;
};

struct policy {
    unsigned char view[POLICY_ROLE__COUNT][POLICY_PURPOSE__COUNT][MODEL_F__COUNT];
    unsigned char open[POLICY_ROLE__COUNT][POLICY_PURPOSE__COUNT];
    unsigned char lookup[POLICY_ROLE__COUNT];
    unsigned char approve[POLICY_ROLE__COUNT];
    struct policy_quota quota[POLICY_ROLE__COUNT];
    struct policy_statutory statutory;
    struct policy_enumeration enumeration;
    struct policy_hours hours;  /* the default store hours */
    struct store_hours *stores; /* per-store overrides, owned */
    size_t nstores;
};

void policy_free(struct policy *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->nstores; i++)
        free(p->stores[i].store);
    free(p->stores);
    free(p);
}

/* ---- parsing helpers ------------------------------------------------------ */

/* Stores "path: message" in *errmsg and returns CU_ERR_INVALID. */
static int bad(char **errmsg, const char *path, const char *fmt, ...) CU_PRINTF(3, 4);

static int bad(char **errmsg, const char *path, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    int rc;

    va_start(ap, fmt);
    msg = xvasprintf(fmt, ap);
    va_end(ap);
    rc = cu_errf(errmsg, CU_ERR_INVALID, "%s: %s", path, msg);
    free(msg);
    return rc;
}

/*
 * Writes "parent.key" (or "key" at the top) into dst.  A key from the file
 * is shown with anything but printable ASCII as '?' and cut at 64 bytes, so
 * a message stays one short line.
 */
static void path_key(char *dst, size_t n, const char *parent, const char *key)
{
    char safe[72];
    size_t i, j = 0;

    for (i = 0; key[i] != '\0' && j < 64; i++)
        safe[j++] = (key[i] >= 0x20 && key[i] < 0x7f) ? key[i] : '?';
    if (key[i] != '\0') {
        memcpy(safe + j, "...", 3);
        j += 3;
    }
    safe[j] = '\0';
    if (parent[0] == '\0')
        snprintf(dst, n, "%s", safe);
    else
        snprintf(dst, n, "%s.%s", parent, safe);
}

static void path_index(char *dst, size_t n, const char *parent, size_t i)
{
    /* A path too long for dst is cut short (checking the result keeps GCC's
     * truncation warning quiet: cutting is what we want). */
    if (snprintf(dst, n, "%s[%zu]", parent, i) < 0)
        dst[0] = '\0';
}

/* Members whose name starts with '_' are comments and ignored. */
static int is_comment(const char *key)
{
    return key[0] == '_';
}

/*
 * Checks that `obj` (at `path`) is an object whose members are exactly the
 * `n` required `keys` (plus comments): an unknown member is reported first,
 * in file order, then the first missing one.
 */
static int check_keys(const char *path, json_t *obj, const char *const *keys, size_t n,
                      const char *expected, char **errmsg)
{
    char sub[PATH_LEN];
    const char *key;
    json_t *v;
    size_t i;

    if (!json_is_object(obj))
        return bad(errmsg, path, "expected an object");
    json_object_foreach(obj, key, v)
    {
        if (is_comment(key) || index_of(keys, n, key) >= 0)
            continue;
        path_key(sub, sizeof(sub), path, key);
        return bad(errmsg, sub, "unknown key (expected %s)", expected);
    }
    for (i = 0; i < n; i++) {
        if (json_object_get(obj, keys[i]) == NULL) {
            path_key(sub, sizeof(sub), path, keys[i]);
            return bad(errmsg, sub, "missing");
        }
    }
    return CU_OK;
}

/* Reads the required member `key` of `obj` as a whole number in [min, max]. */
static int get_count(const char *path, json_t *obj, const char *key, uint32_t min, uint32_t max,
                     uint32_t *out, char **errmsg)
{
    char sub[PATH_LEN];
    json_t *v = json_object_get(obj, key);
    json_int_t x;

    path_key(sub, sizeof(sub), path, key);
    if (v == NULL)
        return bad(errmsg, sub, "missing");
    if (!json_is_integer(v))
        return bad(errmsg, sub, "expected a whole number from %u to %u", min, max);
    x = json_integer_value(v);
    if (x < (json_int_t)min || x > (json_int_t)max)
        return bad(errmsg, sub, "expected a whole number from %u to %u", min, max);
    *out = (uint32_t)x;
    return CU_OK;
}

/* Reads the required member `key` of `obj` as a fraction in (0, 1]. */
static int get_fraction(const char *path, json_t *obj, const char *key, double *out, char **errmsg)
{
    char sub[PATH_LEN];
    json_t *v = json_object_get(obj, key);
    double x;

    path_key(sub, sizeof(sub), path, key);
    if (v == NULL)
        return bad(errmsg, sub, "missing");
    if (!json_is_number(v))
        return bad(errmsg, sub, "expected a number greater than 0 and at most 1");
    x = json_number_value(v);
    if (!(x > 0.0 && x <= 1.0))
        return bad(errmsg, sub, "expected a number greater than 0 and at most 1");
    *out = x;
    return CU_OK;
}

/* ---- roles ------------------------------------------------------------------ */

static int parse_matrix(const char *path, int role, int purpose, json_t *obj, struct policy *p,
                        char **errmsg)
{
    char sub[PATH_LEN];
    const char *key;
    json_t *v;
    int field, view;

    if (!json_is_object(obj))
        return bad(errmsg, path, "expected an object mapping fields to full, masked or none");
    json_object_foreach(obj, key, v)
    {
        if (is_comment(key))
            continue;
        path_key(sub, sizeof(sub), path, key);
        field = model_field_from_name(key);
        if (field < 0 || field >= MODEL_F__COUNT)
            return bad(errmsg, sub,
                       "unknown field (expected account, name, phone, email, address, "
                       "birth_date or devices)");
        view = json_is_string(v) ? policy_view_from_name(json_string_value(v)) : -1;
        if (view < 0)
            return bad(errmsg, sub, "expected full, masked or none");
        if (view != POLICY_NONE && role_is_fixed(role))
            return bad(errmsg, sub, "%s may never see customer values (fixed rule)",
                       role_names[role]);
        p->view[role][purpose][field] = (unsigned char)view;
    }
    return CU_OK;
}

static const char *const quota_keys[] = {
    "lookups_per_hour", "lookups_per_day",  "reveals_per_hour",
    "reveals_per_day",  "step_up_fraction",
};

static int parse_quotas(const char *path, json_t *obj, struct policy_quota *q, char **errmsg)
{
    char sub[PATH_LEN];
    int rc;

    rc = check_keys(path, obj, quota_keys, CU_ARRAY_LEN(quota_keys),
                    "lookups_per_hour, lookups_per_day, reveals_per_hour, reveals_per_day "
                    "or step_up_fraction",
                    errmsg);
    if (rc != CU_OK)
        return rc;
    if ((rc = get_count(path, obj, "lookups_per_hour", 0, POLICY_MAX_COUNT, &q->lookups_per_hour,
                        errmsg)) != CU_OK ||
        (rc = get_count(path, obj, "lookups_per_day", 0, POLICY_MAX_COUNT, &q->lookups_per_day,
                        errmsg)) != CU_OK ||
        (rc = get_count(path, obj, "reveals_per_hour", 0, POLICY_MAX_COUNT, &q->reveals_per_hour,
                        errmsg)) != CU_OK ||
        (rc = get_count(path, obj, "reveals_per_day", 0, POLICY_MAX_COUNT, &q->reveals_per_day,
                        errmsg)) != CU_OK ||
        (rc = get_fraction(path, obj, "step_up_fraction", &q->step_up_fraction, errmsg)) != CU_OK)
        return rc;
    if (q->lookups_per_hour > q->lookups_per_day) {
        path_key(sub, sizeof(sub), path, "lookups_per_hour");
        return bad(errmsg, sub, "more than lookups_per_day");
    }
    if (q->reveals_per_hour > q->reveals_per_day) {
        path_key(sub, sizeof(sub), path, "reveals_per_hour");
        return bad(errmsg, sub, "more than reveals_per_day");
    }
    return CU_OK;
}

static int parse_open(const char *path, int role, json_t *arr, struct policy *p, char **errmsg)
{
    char sub[PATH_LEN];
    size_t i;
    json_t *v;
    int purpose;

    if (!json_is_array(arr))
        return bad(errmsg, path, "expected a list of purposes");
    json_array_foreach(arr, i, v)
    {
        path_index(sub, sizeof(sub), path, i);
        purpose = json_is_string(v) ? policy_purpose_from_name(json_string_value(v)) : -1;
        if (purpose < 0)
            return bad(errmsg, sub,
                       "expected customer_support, fraud_investigation or legal_request");
        if (role_is_fixed(role))
            return bad(errmsg, sub, "%s may never open cases (fixed rule)", role_names[role]);
        if (p->open[role][purpose])
            return bad(errmsg, sub, "%s listed twice", purpose_names[purpose]);
        p->open[role][purpose] = 1;
    }
    return CU_OK;
}

static int parse_role(const char *path, int role, json_t *obj, struct policy *p, char **errmsg)
{
    char sub[PATH_LEN];
    json_t *v, *quotas = NULL;
    const char *key;
    int purpose, rc, i, any_open = 0;

    if (!json_is_object(obj))
        return bad(errmsg, path, "expected an object");
    json_object_foreach(obj, key, v)
    {
        if (is_comment(key))
            continue;
        path_key(sub, sizeof(sub), path, key);
        if (strcmp(key, "lookup") == 0) {
            if (!json_is_boolean(v))
                return bad(errmsg, sub, "expected true or false");
            if (json_is_true(v) && (role == POLICY_ROLE_SECURITY || role == POLICY_ROLE_ADMIN))
                return bad(errmsg, sub, "%s may never look customers up (fixed rule)",
                           role_names[role]);
            p->lookup[role] = json_is_true(v);
        } else if (strcmp(key, "open") == 0) {
            if ((rc = parse_open(sub, role, v, p, errmsg)) != CU_OK)
                return rc;
        } else if (strcmp(key, "approve") == 0) {
            if (!json_is_boolean(v))
                return bad(errmsg, sub, "expected true or false");
            if (json_is_true(v) && role_is_fixed(role))
                return bad(errmsg, sub, "%s may never approve cases (fixed rule)",
                           role_names[role]);
            p->approve[role] = json_is_true(v);
        } else if (strcmp(key, "quotas") == 0) {
            if (role_is_fixed(role))
                return bad(errmsg, sub, "%s has no quotas: %s", role_names[role],
                           role == POLICY_ROLE_OPERATOR
                               ? "the local operator is not limited by the detector"
                               : "it may neither look up nor reveal");
            if ((rc = parse_quotas(sub, v, &p->quota[role], errmsg)) != CU_OK)
                return rc;
            quotas = v;
        } else if ((purpose = policy_purpose_from_name(key)) >= 0) {
            if ((rc = parse_matrix(sub, role, purpose, v, p, errmsg)) != CU_OK)
                return rc;
        } else {
            return bad(errmsg, sub,
                       "unknown key (expected lookup, open, approve, quotas or a purpose: "
                       "customer_support, fraud_investigation, legal_request)");
        }
    }
    for (i = 0; i < POLICY_PURPOSE__COUNT; i++)
        any_open |= p->open[role][i];
    if (quotas == NULL && !role_is_fixed(role) && (p->lookup[role] || any_open)) {
        path_key(sub, sizeof(sub), path, "quotas");
        return bad(errmsg, sub,
                   "missing (required for a role that may look customers up or open cases)");
    }
    return CU_OK;
}

static int parse_roles(json_t *obj, struct policy *p, char **errmsg)
{
    char sub[PATH_LEN];
    const char *key;
    json_t *v;
    int role, rc;

    if (!json_is_object(obj))
        return bad(errmsg, "roles", "expected an object");
    json_object_foreach(obj, key, v)
    {
        if (is_comment(key))
            continue;
        path_key(sub, sizeof(sub), "roles", key);
        role = policy_role_from_name(key);
        if (role < 0)
            return bad(errmsg, sub,
                       "unknown role (expected clerk, agent, supervisor, security, admin or "
                       "operator)");
        if ((rc = parse_role(sub, role, v, p, errmsg)) != CU_OK)
            return rc;
    }
    return CU_OK;
}

/* ---- limits -------------------------------------------------------------------- */

static const char *const statutory_keys[] = {
    "window_days", "thresholds", "duty_factor", "alert_fraction", "block_fraction", "fields",
};

static int parse_statutory(json_t *obj, struct policy_statutory *s, char **errmsg)
{
    static const char *const field_names[MODEL_F__COUNT] = {
        "account", "name", "phone", "email", "address", "birth_date", "devices",
    };
    const char *path = "statutory";
    char sub[PATH_LEN], sub2[PATH_LEN];
    json_t *th, *fields, *v;
    int rc, c, f;

    rc = check_keys(path, obj, statutory_keys, CU_ARRAY_LEN(statutory_keys),
                    "window_days, thresholds, duty_factor, alert_fraction, block_fraction or "
                    "fields",
                    errmsg);
    if (rc != CU_OK)
        return rc;
    if ((rc = get_count(path, obj, "window_days", 1, 366, &s->window_days, errmsg)) != CU_OK)
        return rc;

    th = json_object_get(obj, "thresholds");
    path_key(sub, sizeof(sub), path, "thresholds");
    rc = check_keys(sub, th, category_names, POLICY_CAT__COUNT,
                    "a legal category: whereabouts, communication_content, credit, property, "
                    "accommodation, communication_records, health, transaction or other",
                    errmsg);
    if (rc != CU_OK)
        return rc;
    for (c = 0; c < POLICY_CAT__COUNT; c++) {
        rc = get_count(sub, th, category_names[c], 1, POLICY_MAX_LEGAL, &s->threshold[c], errmsg);
        if (rc != CU_OK)
            return rc;
    }

    if ((rc = get_fraction(path, obj, "duty_factor", &s->duty_factor, errmsg)) != CU_OK ||
        (rc = get_fraction(path, obj, "alert_fraction", &s->alert_fraction, errmsg)) != CU_OK ||
        (rc = get_fraction(path, obj, "block_fraction", &s->block_fraction, errmsg)) != CU_OK)
        return rc;
    if (s->alert_fraction > s->block_fraction)
        return bad(errmsg, "statutory.alert_fraction", "more than block_fraction");
    for (c = 0; c < POLICY_CAT__COUNT; c++)
        s->staff_threshold[c] = (double)s->threshold[c] * s->duty_factor;

    fields = json_object_get(obj, "fields");
    path_key(sub, sizeof(sub), path, "fields");
    rc = check_keys(sub, fields, field_names, MODEL_F__COUNT,
                    "account, name, phone, email, address, birth_date or devices", errmsg);
    if (rc != CU_OK)
        return rc;
    for (f = 0; f < MODEL_F__COUNT; f++) {
        v = json_object_get(fields, field_names[f]);
        c = json_is_string(v) ? policy_category_from_name(json_string_value(v)) : -1;
        if (c < 0) {
            path_key(sub2, sizeof(sub2), sub, field_names[f]);
            return bad(errmsg, sub2,
                       "expected a legal category: whereabouts, communication_content, credit, "
                       "property, accommodation, communication_records, health, transaction or "
                       "other");
        }
        s->field_category[f] = (enum policy_category)c;
    }
    return CU_OK;
}

static const char *const enumeration_keys[] = {
    "window_hours", "imei_serial_distance", "phone_distance", "alert_after", "block_after",
};

static int parse_enumeration(json_t *obj, struct policy_enumeration *e, char **errmsg)
{
    const char *path = "enumeration";
    int rc;

    rc = check_keys(path, obj, enumeration_keys, CU_ARRAY_LEN(enumeration_keys),
                    "window_hours, imei_serial_distance, phone_distance, alert_after or "
                    "block_after",
                    errmsg);
    if (rc != CU_OK)
        return rc;
    if ((rc = get_count(path, obj, "window_hours", 1, 24 * 31, &e->window_hours, errmsg)) !=
            CU_OK ||
        (rc = get_count(path, obj, "imei_serial_distance", 1, 999999, &e->imei_serial_distance,
                        errmsg)) != CU_OK ||
        (rc = get_count(path, obj, "phone_distance", 1, POLICY_MAX_COUNT, &e->phone_distance,
                        errmsg)) != CU_OK ||
        (rc = get_count(path, obj, "alert_after", 1, POLICY_MAX_COUNT, &e->alert_after, errmsg)) !=
            CU_OK ||
        (rc = get_count(path, obj, "block_after", 1, POLICY_MAX_COUNT, &e->block_after, errmsg)) !=
            CU_OK)
        return rc;
    if (e->alert_after > e->block_after)
        return bad(errmsg, "enumeration.alert_after", "more than block_after");
    return CU_OK;
}

/* "HH:MM", 00:00 to 23:59, or 24:00 when `end` (a closing time). */
static int parse_clock(const char *s, int end)
{
    int h, m;

    if (strlen(s) != 5 || s[2] != ':')
        return -1;
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[3] < '0' || s[3] > '5' ||
        s[4] < '0' || s[4] > '9')
        return -1;
    h = (s[0] - '0') * 10 + (s[1] - '0');
    m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h < 24 || (end && h == 24 && m == 0))
        return h * 60 + m;
    return -1;
}

/*
 * An IANA time zone name: letters, digits, '_', '+', '-' and '/', not
 * starting with '/' (the name becomes a path under the zoneinfo folder, so
 * nothing may climb out of it: '.' is not allowed at all).
 */
static int timezone_ok(const char *s)
{
    size_t i, n = strlen(s);

    if (n == 0 || n >= sizeof(((struct policy_hours *)0)->timezone) || s[0] == '/')
        return 0;
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '/'))
            return 0;
    }
    return 1;
}

static const char *const hours_keys[] = {"timezone", "open", "close"};

static int parse_hours(const char *path, json_t *obj, struct policy_hours *h, char **errmsg)
{
    char sub[PATH_LEN];
    json_t *v;
    int rc;

    rc = check_keys(path, obj, hours_keys, CU_ARRAY_LEN(hours_keys), "timezone, open or close",
                    errmsg);
    if (rc != CU_OK)
        return rc;
    v = json_object_get(obj, "timezone");
    if (!json_is_string(v) || !timezone_ok(json_string_value(v))) {
        path_key(sub, sizeof(sub), path, "timezone");
        return bad(errmsg, sub, "expected an IANA time zone name such as Asia/Shanghai");
    }
    snprintf(h->timezone, sizeof(h->timezone), "%s", json_string_value(v));
    v = json_object_get(obj, "open");
    h->open_minute = json_is_string(v) ? parse_clock(json_string_value(v), 0) : -1;
    if (h->open_minute < 0) {
        path_key(sub, sizeof(sub), path, "open");
        return bad(errmsg, sub, "expected a time of day from 00:00 to 23:59");
    }
    v = json_object_get(obj, "close");
    h->close_minute = json_is_string(v) ? parse_clock(json_string_value(v), 1) : -1;
    if (h->close_minute <= 0) {
        path_key(sub, sizeof(sub), path, "close");
        return bad(errmsg, sub, "expected a time of day from 00:01 to 24:00");
    }
    if (h->close_minute == h->open_minute) {
        path_key(sub, sizeof(sub), path, "close");
        return bad(errmsg, sub,
                   "same as open (for a store that never closes, open 00:00 and "
                   "close 24:00)");
    }
    return CU_OK;
}

static const char *const store_hours_keys[] = {"default", "stores"};

static int parse_store_hours(json_t *obj, struct policy *p, char **errmsg)
{
    const char *path = "store_hours";
    char sub[PATH_LEN], sub2[PATH_LEN];
    json_t *stores, *v;
    const char *key;
    int rc;

    /* "stores" is optional: check_keys wants every key, so check by hand. */
    if (json_is_object(obj) && json_object_get(obj, "stores") == NULL)
        rc = check_keys(path, obj, store_hours_keys, 1, "default or stores", errmsg);
    else
        rc = check_keys(path, obj, store_hours_keys, CU_ARRAY_LEN(store_hours_keys),
                        "default or stores", errmsg);
    if (rc != CU_OK)
        return rc;
    if ((rc = parse_hours("store_hours.default", json_object_get(obj, "default"), &p->hours,
                          errmsg)) != CU_OK)
        return rc;
    stores = json_object_get(obj, "stores");
    if (stores == NULL)
        return CU_OK;
    path_key(sub, sizeof(sub), path, "stores");
    if (!json_is_object(stores))
        return bad(errmsg, sub, "expected an object mapping store codes to hours");
    p->stores = xcalloc(json_object_size(stores) + 1, sizeof(*p->stores));
    json_object_foreach(stores, key, v)
    {
        struct store_hours *sh;

        if (is_comment(key))
            continue;
        path_key(sub2, sizeof(sub2), sub, key);
        if (key[0] == '\0')
            return bad(errmsg, sub2, "empty store code");
        sh = &p->stores[p->nstores];
        if ((rc = parse_hours(sub2, v, &sh->hours, errmsg)) != CU_OK)
            return rc;
        sh->store = xstrdup(key);
        p->nstores++;
    }
    return CU_OK;
}

/* ---- the whole file -------------------------------------------------------------- */

static const char *const top_keys[] = {
    "version", "roles", "statutory", "enumeration", "store_hours",
};

static int parse_root(json_t *root, struct policy *p, char **errmsg)
{
    json_t *v;
    int rc;

    if (!json_is_object(root))
        return cu_errf(errmsg, CU_ERR_INVALID, "the policy must be a JSON object");
    rc = check_keys("", root, top_keys, CU_ARRAY_LEN(top_keys),
                    "version, roles, statutory, enumeration or store_hours", errmsg);
    if (rc != CU_OK)
        return rc;
    v = json_object_get(root, "version");
    if (!json_is_integer(v) || json_integer_value(v) != 1)
        return bad(errmsg, "version", "unsupported policy version (this custodian reads 1)");
    if ((rc = parse_roles(json_object_get(root, "roles"), p, errmsg)) != CU_OK ||
        (rc = parse_statutory(json_object_get(root, "statutory"), &p->statutory, errmsg)) !=
            CU_OK ||
        (rc = parse_enumeration(json_object_get(root, "enumeration"), &p->enumeration, errmsg)) !=
            CU_OK ||
        (rc = parse_store_hours(json_object_get(root, "store_hours"), p, errmsg)) != CU_OK)
        return rc;
    return CU_OK;
}

int policy_parse(const char *json, size_t len, struct policy **out, char **errmsg)
{
    struct policy *p = NULL;
    json_error_t jerr;
    json_t *root = NULL;
    int rc;

    *out = NULL;
    if (len > POLICY_MAX_TEXT) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "policy larger than %d bytes", POLICY_MAX_TEXT);
        goto out;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "line %d, column %d: %s", jerr.line, jerr.column,
                     jerr.text);
        goto out;
    }
    p = xcalloc(1, sizeof(*p));
    if ((rc = parse_root(root, p, errmsg)) != CU_OK)
        goto out;
    *out = p;
    p = NULL;
out:
    policy_free(p);
    json_decref(root);
    return rc;
}

int policy_default(struct policy **out, char **errmsg)
{
    int rc;

    rc = policy_parse(default_text, sizeof(default_text) - 1, out, errmsg);
    if (rc != CU_OK) {
        cu_errprefix(errmsg, "built-in default policy");
        rc = CU_ERR_INTERNAL;
    }
    return rc;
}

/* ---- decisions -------------------------------------------------------------------- */

static int in_range(int v, int n)
{
    return v >= 0 && v < n;
}

enum policy_view policy_field_view(const struct policy *p, enum policy_role role,
                                   enum policy_purpose purpose, enum policy_case_state state,
                                   enum model_field field)
{
    enum policy_view v;

    if (p == NULL || !in_range((int)role, POLICY_ROLE__COUNT) ||
        !in_range((int)purpose, POLICY_PURPOSE__COUNT) ||
        !in_range((int)state, POLICY_CASE__COUNT) || !in_range((int)field, MODEL_F__COUNT))
        return POLICY_NONE;
    if (role_is_fixed(role) || !p->open[role][purpose])
        return POLICY_NONE;
    v = (enum policy_view)p->view[role][purpose][field];
    if ((int)state == policy_purpose_requires(purpose))
        return v;
    if (state == POLICY_CASE_CLOSED || state == POLICY_CASE_EXPIRED)
        return POLICY_NONE;
    return v > POLICY_MASKED ? POLICY_MASKED : v;
}

int policy_may_open(const struct policy *p, enum policy_role role, enum policy_purpose purpose)
{
    if (p == NULL || !in_range((int)role, POLICY_ROLE__COUNT) ||
        !in_range((int)purpose, POLICY_PURPOSE__COUNT) || role_is_fixed(role))
        return 0;
    return p->open[role][purpose] != 0;
}

/* ASCII case-insensitive equality, independent of the locale. */
static int same_user(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a, y = *b;

        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (char)(y - 'A' + 'a');
        if (x != y)
            return 0;
        if (x == '\0')
            return 1;
    }
}

int policy_may_approve(const struct policy *p, enum policy_role role, const char *approver,
                       const char *requester)
{
    if (p == NULL || !in_range((int)role, POLICY_ROLE__COUNT) || role_is_fixed(role))
        return 0;
    if (approver == NULL || requester == NULL || approver[0] == '\0' || requester[0] == '\0')
        return 0;
    if (same_user(approver, requester))
        return 0;
    return p->approve[role] != 0;
}

int policy_may_lookup(const struct policy *p, enum policy_role role)
{
    if (p == NULL || !in_range((int)role, POLICY_ROLE__COUNT) || role == POLICY_ROLE_SECURITY ||
        role == POLICY_ROLE_ADMIN)
        return 0;
    return p->lookup[role] != 0;
}

/* ---- limits ------------------------------------------------------------------------ */

const struct policy_quota *policy_quota(const struct policy *p, enum policy_role role)
{
    static const struct policy_quota none;

    if (p == NULL || !in_range((int)role, POLICY_ROLE__COUNT))
        return &none;
    return &p->quota[role];
}

const struct policy_statutory *policy_statutory(const struct policy *p)
{
    return &p->statutory;
}

const struct policy_enumeration *policy_enumeration(const struct policy *p)
{
    return &p->enumeration;
}

const struct policy_hours *policy_store_hours(const struct policy *p, const char *store)
{
    size_t i;

    if (store != NULL)
        for (i = 0; i < p->nstores; i++)
            if (strcmp(p->stores[i].store, store) == 0)
                return &p->stores[i].hours;
    return &p->hours;
}

int policy_hours_open_at(const struct policy_hours *h, int minute)
{
    if (h == NULL || minute < 0 || minute >= 24 * 60)
        return 0;
    if (h->open_minute < h->close_minute)
        return minute >= h->open_minute && minute < h->close_minute;
    /* Closes after midnight. */
    return minute >= h->open_minute || minute < h->close_minute;
}
