/*
 * Helpers shared by the libFuzzer targets in this folder (not product
 * code).  Each target defines LLVMFuzzerTestOneInput(); a broken invariant
 * aborts through FUZZ_CHECK, so libFuzzer reports it like a crash and keeps
 * the input.
 */
#ifndef CU_FUZZ_H
#define CU_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts, naming the invariant, when `cond` is false. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated copy of `size` bytes; the caller frees it. */
static inline char *fuzz_strndup(const void *data, size_t size)
{
    char *s = xmalloc(size + 1);

    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/*
 * The path of a regular file holding exactly the input, for code that
 * reads a file by name: one memory file per process, rewritten on each
 * call.  Borrowed; valid until the next call.
 */
static inline const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    size_t off = 0;
    ssize_t n;

    if (fd < 0) {
        fd = memfd_create("fuzz-input", 0);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0)
        abort();
    while (off < size) {
        n = pwrite(fd, data + off, size - off, (off_t)off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    return path;
}

/*
 * Splits the input into lines (without their "\n") and calls fn for each
 * with a copy of exactly the line's bytes (no NUL after them), so that
 * AddressSanitizer catches a read past the end of the line.
 */
static inline void fuzz_lines(const uint8_t *data, size_t size,
                              void (*fn)(void *ctx, const char *line, size_t len), void *ctx)
{
    const char *p = (const char *)data, *end = p + size, *nl;
    char *copy;
    size_t len;

    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            nl = end;
        len = (size_t)(nl - p);
        copy = xmalloc(len > 0 ? len : 1);
        memcpy(copy, p, len);
        fn(ctx, copy, len);
        free(copy);
        p = nl + 1;
    }
}

#endif
