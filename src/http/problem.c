/* RFC 9457 problem details: the slug table and http_problem. */
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

struct problem_kind {
    const char *slug;
    const char *title;
};

/* Slugs are part of the public API (API.md): add freely, never rename. */
static const struct problem_kind problem_kinds[] = {
    {"invalid-input", "Invalid input"},
    {"invalid-json", "Request body is not valid JSON"},
    {"unauthorized", "Authentication required"},
    {"forbidden", "Not allowed by policy"},
    {"not-found", "Not found"},
    {"method-not-allowed", "Method not allowed"},
    {"conflict", "State conflict"},
    {"payload-too-large", "Request body too large"},
    {"account-suspended", "Staff account suspended"},
    {"limit-reached", "Limit reached"},
    {"case-not-verified", "Case not verified"},
    {"case-expired", "Case expired"},
    {"case-closed", "Case closed"},
    {"audit-unavailable", "Audit log unavailable"},
    {"server-busy", "Server busy"},
    {"internal", "Internal error"},
};

const char *http_problem_title(const char *slug)
{
    for (size_t i = 0; i < CU_ARRAY_LEN(problem_kinds); i++)
        if (strcmp(problem_kinds[i].slug, slug) == 0)
            return problem_kinds[i].title;
    return NULL;
}

/*
 * The detail as a JSON string.  json_string() refuses text that is not
 * UTF-8 (a message that cut a character in two with "%.32s", or echoes bytes
 * of a request path), which would drop the detail; then each byte that does
 * not start a valid sequence becomes U+FFFD.
 */
static json_t *detail_string(const char *detail)
{
    json_t *v = json_string(detail), *piece;
    struct buf b = BUF_INIT;
    size_t i = 0, n = strlen(detail), k;
    int ok;

    if (v != NULL)
        return v;
    while (i < n) {
        ok = 0;
        for (k = 1; k <= 4 && i + k <= n && !ok; k++) {
            piece = json_stringn(detail + i, k);
            ok = piece != NULL;
            json_decref(piece);
        }
        if (ok) {
            buf_add(&b, detail + i, k - 1);
            i += k - 1;
        } else {
            buf_addstr(&b, "\xef\xbf\xbd");
            i++;
        }
    }
    v = json_stringn(b.data != NULL ? b.data : "", b.len);
    buf_release(&b);
    return v;
}

void http_problem(struct http_response *res, int status, const char *slug, const char *detail)
{
    const char *title = http_problem_title(slug);
    char *type = xasprintf("%s%s", HTTP_PROBLEM_BASE, slug);
    json_t *doc = json_object();

    json_object_set_new(doc, "type", json_string(type));
    json_object_set_new(doc, "title", json_string(title != NULL ? title : "Error"));
    json_object_set_new(doc, "status", json_integer(status));
    if (detail != NULL)
        json_object_set_new(doc, "detail", detail_string(detail));
    free(type);
    http_json(res, status, doc);
    free(res->content_type);
    res->content_type = xstrdup("application/problem+json");
}
