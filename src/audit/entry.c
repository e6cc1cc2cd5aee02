/*
 * Audit entries: the names of actions and decisions, and the canonical
 * encoding of one event (the leaf_input of the Merkle tree).
 *
 * Invariant kept here: the encoding is canonical.  audit_entry_encode()
 * writes exactly one byte string per entry, and audit_entry_decode()
 * accepts exactly the strings that audit_entry_encode() can write (no NUL
 * inside a string, a subject of 0 or 16 bytes, action and decision in
 * range, nothing after the last field), so decoding and re-encoding any
 * accepted leaf gives back the same bytes.
 */
#include <string.h>

#include "audit.h"

#define ENTRY_VERSION 1

/* Indexed by enum audit_action; entry 0 is unused. */
static const char *const action_names[AUDIT_ACTION__MAX] = {
    [AUDIT_LOOKUP] = "lookup",
    [AUDIT_REVEAL] = "reveal",
    [AUDIT_CASE_OPEN] = "case_open",
    [AUDIT_CASE_VERIFY] = "case_verify",
    [AUDIT_CASE_APPROVE] = "case_approve",
    [AUDIT_CASE_CLOSE] = "case_close",
    [AUDIT_LOGIN] = "login",
    [AUDIT_LOGIN_FAILED] = "login_failed",
    [AUDIT_LOGOUT] = "logout",
    [AUDIT_PASSWORD_CHANGE] = "password_change",
    [AUDIT_STAFF_ADD] = "staff_add",
    [AUDIT_STAFF_SUSPEND] = "staff_suspend",
    [AUDIT_STAFF_RESUME] = "staff_resume",
    [AUDIT_STAFF_RESET] = "staff_reset",
    [AUDIT_ALERT] = "alert",
    [AUDIT_EXPORT] = "export",
    [AUDIT_ERASE] = "erase",
    [AUDIT_KEY_ROTATE] = "key_rotate",
    [AUDIT_IMPORT] = "import",
    [AUDIT_SUBJECT_LOGIN] = "subject_login",
    [AUDIT_SUBJECT_ACCESS] = "subject_access",
    [AUDIT_ACCESS_DENIED] = "access_denied",
    [AUDIT_CASE_COSIGN] = "case_cosign",
};

/* Indexed by enum audit_decision; entry 0 is unused. */
static const char *const decision_names[] = {
    [AUDIT_ALLOW] = "allow",
    [AUDIT_DENY] = "deny",
    [AUDIT_STEP_UP] = "step_up",
    [AUDIT_BLOCK] = "block",
};

#define DECISION_MAX ((int)CU_ARRAY_LEN(decision_names)) /* one past the last */

static int action_valid(int action)
{
    return action >= AUDIT_LOOKUP && action < AUDIT_ACTION__MAX;
}

static int decision_valid(int decision)
{
    return decision >= AUDIT_ALLOW && decision < DECISION_MAX;
}

const char *audit_action_name(int action)
{
    return action_valid(action) ? action_names[action] : NULL;
}

int audit_action_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = AUDIT_LOOKUP; i < AUDIT_ACTION__MAX; i++)
        if (strcmp(action_names[i], name) == 0)
            return i;
    return -1;
}

const char *audit_decision_name(int decision)
{
    return decision_valid(decision) ? decision_names[decision] : NULL;
}

int audit_decision_from_name(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = AUDIT_ALLOW; i < DECISION_MAX; i++)
        if (strcmp(decision_names[i], name) == 0)
            return i;
    return -1;
}

/* ---- encoding ------------------------------------------------------------ */

/*
 * The string fields in wire order, with the size of their length prefix
 * (1 byte for <0..255>, 2 bytes for <0..65535>).  The subject sits between
 * case_id and fields and is handled apart.
 */
enum {
    FIELD_ACTOR,
    FIELD_ROLE,
    FIELD_STORE,
    FIELD_CASE_ID, /* then the subject */
    FIELD_FIELDS,
    FIELD_REASONS,
    FIELD_REQUEST_ID,
    FIELD_CLIENT,
    FIELD_DETAIL,
    NFIELDS
};

static const unsigned char field_prefix[NFIELDS] = {1, 1, 1, 1, 2, 2, 1, 1, 2};

/* Points strs[] at the entry's strings, in wire order. */
static void entry_strings(const struct audit_entry *e, const char *strs[NFIELDS])
{
    strs[FIELD_ACTOR] = e->actor;
    strs[FIELD_ROLE] = e->role;
    strs[FIELD_STORE] = e->store;
    strs[FIELD_CASE_ID] = e->case_id;
    strs[FIELD_FIELDS] = e->fields;
    strs[FIELD_REASONS] = e->reasons;
    strs[FIELD_REQUEST_ID] = e->request_id;
    strs[FIELD_CLIENT] = e->client;
    strs[FIELD_DETAIL] = e->detail;
}

static void put_u8(struct buf *out, unsigned v)
{
    unsigned char b = (unsigned char)v;

    buf_add(out, &b, 1);
}

/* Appends one opaque<..> field: a big-endian length of `prefix` bytes, then the bytes. */
static void put_opaque(struct buf *out, unsigned prefix, const void *p, size_t n)
{
    unsigned char len[2] = {(unsigned char)(n >> 8), (unsigned char)n};

    if (prefix == 2)
        buf_add(out, len, 2);
    else
        buf_add(out, len + 1, 1);
    buf_add(out, p, n);
}

int audit_entry_encode(const struct audit_entry *e, struct buf *out)
{
    const char *strs[NFIELDS];
    size_t lens[NFIELDS];
    unsigned char t[8];
    uint64_t time = (uint64_t)e->time_ms;

    if (!action_valid(e->action) || !decision_valid(e->decision))
        return CU_ERR_INVALID;
    entry_strings(e, strs);
    /* Check every length before appending anything. */
    for (int i = 0; i < NFIELDS; i++) {
        lens[i] = strs[i] != NULL ? strlen(strs[i]) : 0;
        if (lens[i] > (field_prefix[i] == 2 ? 65535u : 255u))
            return CU_ERR_INVALID;
    }

    put_u8(out, ENTRY_VERSION);
    for (int i = 0; i < 8; i++)
        t[i] = (unsigned char)(time >> (56 - 8 * i));
    buf_add(out, t, sizeof(t));
    put_u8(out, (unsigned)e->action);
    put_u8(out, (unsigned)e->decision);
    for (int i = 0; i < NFIELDS; i++) {
        if (i == FIELD_FIELDS)
            put_opaque(out, 1, e->subject, e->has_subject ? AUDIT_PSEUDONYM_BYTES : 0);
        put_opaque(out, field_prefix[i], strs[i], lens[i]);
    }
    return CU_OK;
}

/* ---- decoding ------------------------------------------------------------ */

/* A read cursor over untrusted bytes; every read is bounds-checked. */
struct reader {
    const unsigned char *p;
    size_t left;
};

static int get_bytes(struct reader *r, size_t n, const unsigned char **out)
{
    if (n > r->left)
        return CU_ERR_INVALID;
    *out = r->p;
    r->p += n;
    r->left -= n;
    return CU_OK;
}

/* Reads a big-endian unsigned integer of n <= 8 bytes. */
static int get_uint(struct reader *r, size_t n, uint64_t *v)
{
    const unsigned char *b;
    int rc = get_bytes(r, n, &b);

    if (rc != CU_OK)
        return rc;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = (*v << 8) | b[i];
    return CU_OK;
}

/* Reads an opaque<..> field with a length prefix of `prefix` bytes. */
static int get_opaque(struct reader *r, unsigned prefix, const unsigned char **p, size_t *n)
{
    uint64_t len;
    int rc = get_uint(r, prefix, &len);

    if (rc != CU_OK)
        return rc;
    *n = (size_t)len;
    return get_bytes(r, *n, p);
}

int audit_entry_decode(const void *leaf, size_t len, struct audit_entry *e, struct buf *scratch)
{
    struct reader r = {leaf, len};
    struct audit_entry d;
    size_t offs[NFIELDS];
    const unsigned char *p;
    size_t n;
    uint64_t v;
    int rc;

    memset(&d, 0, sizeof(d));
    buf_reset(scratch);
    if ((rc = get_uint(&r, 1, &v)) != CU_OK)
        goto out;
    if (v != ENTRY_VERSION) {
        rc = CU_ERR_INVALID;
        goto out;
    }
    if ((rc = get_uint(&r, 8, &v)) != CU_OK)
        goto out;
    d.time_ms = (int64_t)v;
    if ((rc = get_uint(&r, 1, &v)) != CU_OK)
        goto out;
    d.action = (int)v;
    if ((rc = get_uint(&r, 1, &v)) != CU_OK)
        goto out;
    d.decision = (int)v;
    if (!action_valid(d.action) || !decision_valid(d.decision)) {
        rc = CU_ERR_INVALID;
        goto out;
    }

    for (int i = 0; i < NFIELDS; i++) {
        if (i == FIELD_FIELDS) {
            if ((rc = get_opaque(&r, 1, &p, &n)) != CU_OK)
                goto out;
            if (n != 0 && n != AUDIT_PSEUDONYM_BYTES) {
                rc = CU_ERR_INVALID;
                goto out;
            }
            d.has_subject = n != 0;
            memcpy(d.subject, p, n);
        }
        if ((rc = get_opaque(&r, field_prefix[i], &p, &n)) != CU_OK)
            goto out;
        /* A NUL would end the C string early: the entry would not re-encode to this leaf. */
        if (memchr(p, '\0', n) != NULL) {
            rc = CU_ERR_INVALID;
            goto out;
        }
        /* Offsets, not pointers: scratch may move while it grows. */
        offs[i] = scratch->len;
        buf_add(scratch, p, n);
        buf_addch(scratch, '\0');
    }
    if (r.left != 0) {
        rc = CU_ERR_INVALID;
        goto out;
    }

    d.actor = scratch->data + offs[FIELD_ACTOR];
    d.role = scratch->data + offs[FIELD_ROLE];
    d.store = scratch->data + offs[FIELD_STORE];
    d.case_id = scratch->data + offs[FIELD_CASE_ID];
    d.fields = scratch->data + offs[FIELD_FIELDS];
    d.reasons = scratch->data + offs[FIELD_REASONS];
    d.request_id = scratch->data + offs[FIELD_REQUEST_ID];
    d.client = scratch->data + offs[FIELD_CLIENT];
    d.detail = scratch->data + offs[FIELD_DETAIL];
    *e = d;
    rc = CU_OK;
out:
    if (rc != CU_OK)
        buf_reset(scratch);
    return rc;
}
