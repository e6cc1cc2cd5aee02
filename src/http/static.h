/*
 * The web console: the files of web/, compiled into the binary by
 * scripts/web2c.py (a generated web_assets.c defines http_assets), served
 * by the transport for every GET or HEAD that matches no route and is not
 * under /v1 (server.c).
 */
#ifndef CU_HTTP_STATIC_H
#define CU_HTTP_STATIC_H

#include <stddef.h>

#include "http/http.h"

/* One compiled-in file. */
struct http_asset {
    const char *path;         /* URL path, "/js/main.js" */
    const char *content_type; /* "text/javascript; charset=utf-8" */
    const unsigned char *data;
    size_t len;
    const char *etag; /* strong ETag, quoted: a hash of the bytes */
};

/* Sorted by path (generated). */
extern const struct http_asset http_assets[];
extern const size_t http_n_assets;

/* Whether `path` is the console's: anything but /v1 and what lies under it. */
int http_static_path(const char *path);

/*
 * Answers a GET or HEAD for a console path: the file at `req->path` ("/"
 * and "/me" are /index.html; so is any other path whose last segment has no
 * dot, for the console's own routes), with its content type and its ETag
 * (Cache-Control stays no-store, as on every answer); 304 without a body
 * when If-None-Match names the ETag; 404 problem+json for a file that does
 * not exist.
 */
void http_static_serve(struct http_request *req, struct http_response *res);

#endif
