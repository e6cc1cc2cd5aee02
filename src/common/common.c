#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *cu_err_name(int rc)
{
    switch (rc) {
    case CU_OK:
        return "ok";
    case CU_ERR_INVALID:
        return "invalid";
    case CU_ERR_NOT_FOUND:
        return "not-found";
    case CU_ERR_CONFLICT:
        return "conflict";
    case CU_ERR_INTEGRITY:
        return "integrity";
    case CU_ERR_KEY:
        return "key";
    case CU_ERR_IO:
        return "io";
    case CU_ERR_STORE:
        return "store";
    case CU_ERR_AUTH:
        return "unauthorized";
    case CU_ERR_FORBIDDEN:
        return "forbidden";
    case CU_ERR_SUSPENDED:
        return "account-suspended";
    case CU_ERR_LIMIT:
        return "limit-reached";
    default:
        return "internal";
    }
}

int cu_errf(char **errmsg, int rc, const char *fmt, ...)
{
    va_list ap;

    if (errmsg != NULL && *errmsg == NULL) {
        va_start(ap, fmt);
        *errmsg = xvasprintf(fmt, ap);
        va_end(ap);
    }
    return rc;
}

void cu_errprefix(char **errmsg, const char *fmt, ...)
{
    va_list ap;
    char *prefix, *joined;

    if (errmsg == NULL || *errmsg == NULL)
        return;
    va_start(ap, fmt);
    prefix = xvasprintf(fmt, ap);
    va_end(ap);
    joined = xasprintf("%s: %s", prefix, *errmsg);
    free(prefix);
    free(*errmsg);
    *errmsg = joined;
}

static void oom(size_t n)
{
    fprintf(stderr, "custodian: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        oom(n);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (p == NULL)
        oom(nmemb * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xvasprintf(const char *fmt, va_list ap)
{
    char *s;

    if (vasprintf(&s, fmt, ap) < 0)
        oom(strlen(fmt));
    return s;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

void buf_init(struct buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_release(struct buf *b)
{
    free(b->data);
    buf_init(b);
}

void buf_release_wipe(struct buf *b)
{
    if (b->data != NULL)
        cu_wipe(b->data, b->cap);
    buf_release(b);
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

void buf_grow(struct buf *b, size_t n)
{
    size_t need = b->len + n + 1;

    if (need <= b->cap)
        return;
    if (b->cap == 0)
        b->cap = 64;
    while (b->cap < need)
        b->cap *= 2;
    b->data = xrealloc(b->data, b->cap);
    b->data[b->len] = '\0';
}

void buf_add(struct buf *b, const void *p, size_t n)
{
    buf_grow(b, n);
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_addstr(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

void buf_addch(struct buf *b, char c)
{
    buf_add(b, &c, 1);
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    buf_grow(b, 64);
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if ((size_t)n >= b->cap - b->len) {
        buf_grow(b, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

char *buf_detach(struct buf *b, size_t *len)
{
    char *p;

    if (b->data == NULL)
        buf_grow(b, 0);
    p = b->data;
    if (len != NULL)
        *len = b->len;
    buf_init(b);
    return p;
}

void cu_wipe(void *p, size_t n)
{
    explicit_bzero(p, n);
}

int cu_open_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;

    /* a device (/dev/stdout, /dev/null) is written to, never chmod'ed */
    if (fd >= 0 && (fstat(fd, &st) != 0 || (S_ISREG(st.st_mode) && fchmod(fd, 0600) != 0))) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A simulated clock (cu_clock_set); 0: the real one. */
static _Atomic int64_t clock_ms;

void cu_clock_set(int64_t unix_ms)
{
    clock_ms = unix_ms;
}

int64_t cu_now(void)
{
    return cu_now_ms() / 1000;
}

int64_t cu_now_ms(void)
{
    struct timespec ts;
    int64_t sim = clock_ms;

    if (sim != 0)
        return sim;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double cu_monotonic(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cu_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("custodian: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
