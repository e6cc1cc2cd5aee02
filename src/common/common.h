/*
 * Common helpers used by every module: the error codes, allocation wrappers
 * that abort on out-of-memory, a growable byte buffer and error-message
 * formatting.
 *
 * Error convention: functions return an `int rc` that is CU_OK (0) on
 * success or one of `enum cu_err`.  Functions that can fail in a way a human
 * should read take a trailing `char **errmsg`; on failure they store a
 * malloc'd one-line message there (lower case, no final full stop) that the
 * caller frees.  `errmsg` may be NULL when the caller does not want the text.
 * A message never contains a personal value.
 */
#ifndef CU_COMMON_H
#define CU_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum cu_err {
    CU_OK = 0,
    CU_ERR_INVALID,   /* bad input: a field, a file, an argument */
    CU_ERR_NOT_FOUND, /* the thing asked for does not exist */
    CU_ERR_CONFLICT,  /* state conflict: exists already, in use, ... */
    CU_ERR_INTEGRITY, /* authentication failed: tampered or misplaced data */
    CU_ERR_KEY,       /* a key is missing, retired or unreadable */
    CU_ERR_IO,        /* file system or operating-system failure */
    CU_ERR_STORE,     /* the database failed */
    CU_ERR_INTERNAL,  /* a bug: an invariant did not hold */
    CU_ERR_AUTH,      /* not authenticated: bad credentials, no or expired session */
    CU_ERR_FORBIDDEN, /* authenticated, but policy says no */
    CU_ERR_SUSPENDED, /* the staff account is suspended */
    CU_ERR_LIMIT,     /* a limit was reached: throttled, locked out, quota */
};

#define CU_WUR          __attribute__((warn_unused_result))
#define CU_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CU_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Short stable name of an error code ("integrity", "not-found", ...). */
const char *cu_err_name(int rc);

/*
 * Formats a message into *errmsg (if errmsg is not NULL and *errmsg is NULL;
 * the first error wins) and returns rc, so that callers can write
 * `return cu_errf(errmsg, CU_ERR_INVALID, "...")`.
 */
int cu_errf(char **errmsg, int rc, const char *fmt, ...) CU_PRINTF(3, 4);

/* Prefixes an existing *errmsg with "prefix: " (no-op when errmsg is NULL). */
void cu_errprefix(char **errmsg, const char *fmt, ...) CU_PRINTF(2, 3);

/* Allocation: these never return NULL; out of memory aborts the process. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) CU_PRINTF(1, 2);
char *xvasprintf(const char *fmt, va_list ap) CU_PRINTF(1, 0);

/*
 * Growable byte buffer.  `data` is always NUL-terminated (the NUL is not
 * counted in `len`), so text can be used as a C string.  Initialise with
 * BUF_INIT or buf_init(); release with buf_release().
 */
struct buf {
    char *data;
    size_t len;
    size_t cap;
};
#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void buf_init(struct buf *b);
/* Frees the storage and leaves the buffer empty and reusable. */
void buf_release(struct buf *b);
/* Like buf_release, but wipes the bytes first: use for secrets and plaintexts. */
void buf_release_wipe(struct buf *b);
/* Empties the buffer, keeping its storage. */
void buf_reset(struct buf *b);
/* Makes room for at least n more bytes. */
void buf_grow(struct buf *b, size_t n);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_addstr(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) CU_PRINTF(2, 3);
/* Returns the data (the caller frees it) and leaves the buffer empty. */
char *buf_detach(struct buf *b, size_t *len);

/* Securely wipes n bytes (never optimised away). */
void cu_wipe(void *p, size_t n);

/* Opens `path` for writing a file that holds personal data: created or
 * truncated, mode 0600 even when it existed (a regular file: a device
 * such as /dev/stdout keeps its mode), never through a symbolic link.  A
 * descriptor, or -1 with errno set. */
int cu_open_private(const char *path);

/* Seconds since the epoch / monotonic seconds. */
int64_t cu_now(void);
int64_t cu_now_ms(void); /* milliseconds since the epoch */
/* Simulations only (bench/insider-sim): from now on cu_now() and
 * cu_now_ms() say `unix_ms` (0: the real clock again). */
void cu_clock_set(int64_t unix_ms);
double cu_monotonic(void);

/* Logging to stderr for operators; never pass a personal value. */
void cu_log(const char *fmt, ...) CU_PRINTF(1, 2);

#endif
