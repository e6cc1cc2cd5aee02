/* The web console's files (static.h). */
#include "http/static.h"

#include <stdlib.h>
#include <string.h>

int http_static_path(const char *path)
{
    return strcmp(path, "/v1") != 0 && strncmp(path, "/v1/", 4) != 0;
}

/* The asset at `path`, or NULL (binary search: the table is sorted). */
static const struct http_asset *asset_find(const char *path)
{
    size_t lo = 0, hi = http_n_assets;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(path, http_assets[mid].path);

        if (c == 0)
            return &http_assets[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* Whether an If-None-Match header value names `etag` ("*" names any). */
static int etag_matches(const char *header, const char *etag)
{
    size_t n = strlen(etag);
    const char *p = header;

    if (header == NULL)
        return 0;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p == '*' || (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ')))
            return 1;
        p += strcspn(p, ",");
    }
    return 0;
}

void http_static_serve(struct http_request *req, struct http_response *res)
{
    const char *path = req->path;
    const struct http_asset *a = asset_find(strcmp(path, "/") == 0 ? "/index.html" : path);

    if (a == NULL) {
        const char *last = strrchr(path, '/');

        /* a console route ("/me", "/security/alerts"), not a missing file */
        if (last != NULL && strchr(last, '.') == NULL)
            a = asset_find("/index.html");
    }
    if (a == NULL) {
        http_problem(res, 404, "not-found", "no such file");
        return;
    }
    /* Cache-Control stays the server's no-store: a console at a shop
     * counter leaves nothing behind; the ETag serves conditional requests */
    http_response_header(res, "ETag", a->etag);
    if (etag_matches(http_header(req, "If-None-Match"), a->etag)) {
        res->status = 304;
        return;
    }
    http_text(res, 200, a->content_type, (const char *)a->data, a->len);
}
