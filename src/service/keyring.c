/*
 * The keyring: the key-encryption keys (KEKs), wrapped by the master key,
 * in a file of their own (DIR/keys/keyring, or CUSTODIAN_KEYRING_FILE) and
 * never in the store.  The store keeps only each version's state and age.
 *
 * Why a file: a copy of the store (a backup, a replica, a dump) then holds
 * no KEK, so it can be read only with a keyring that still has the KEK
 * versions its data keys are wrapped by.  Retiring a version removes it
 * from this file; once no kept copy of the keyring has it, every copy of
 * the store that needs it is unreadable, and so is every customer erased
 * before (docs/erasure.md).
 *
 * Format (text, one key a line, in version order):
 *
 *   # custodian keyring: key-encryption keys wrapped by the master key
 *   1 <base64 of the VAULT_WRAPPED_KEY_BYTES bytes vault_kek_create() made>
 *   2 <...>
 *
 * Lines starting with '#' and empty lines are ignored.
 *
 * Invariants: the file is replaced atomically and durably (temporary file
 * with mode 0600, fsync, rename, fsync of the folder), so a crash leaves
 * the old or the new keyring, never a mix; a read-modify-write holds an
 * exclusive flock on the folder, so two processes changing the keyring at
 * once do not lose each other's keys.  Lock order: a caller that also
 * holds a store transaction takes the store first, then the keyring.
 */
#include "service_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define KEYRING_FILE   "keys/keyring"
#define KEYRING_HEADER "# custodian keyring: key-encryption keys wrapped by the master key\n"
#define KEYRING_MAX    (1 << 20) /* bytes: far more than any real keyring */

char *service_keyring_path(const char *data_dir)
{
    const char *env = getenv("CUSTODIAN_KEYRING_FILE");

    if (env != NULL && env[0] != '\0')
        return xstrdup(env);
    return xasprintf("%s/%s", data_dir, KEYRING_FILE);
}

/* The folder part of `path` ("." when there is none), a new string. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

static int key_index(const struct service_keyring *ring, uint32_t version)
{
    size_t i;

    for (i = 0; i < ring->n; i++)
        if (ring->keys[i].version == version)
            return (int)i;
    return -1;
}

/* Parses one "VERSION BASE64" line (NUL-terminated, no newline). */
static int parse_line(struct service_keyring *ring, char *line, unsigned lineno, char **errmsg)
{
    unsigned char bin[VAULT_WRAPPED_KEY_BYTES + 1];
    char *end, *b64;
    size_t len = 0;
    unsigned long v;

    errno = 0;
    v = strtoul(line, &end, 10);
    if (end == line || line[0] < '0' || line[0] > '9' || *end != ' ' || errno != 0 || v == 0 ||
        v > UINT32_MAX)
        return cu_errf(errmsg, CU_ERR_INVALID,
                       "%s:%u: expected 'VERSION BASE64' (a version number from 1)", ring->path,
                       lineno);
    b64 = end + 1;
    if (key_index(ring, (uint32_t)v) >= 0)
        return cu_errf(errmsg, CU_ERR_INVALID, "%s:%u: version %lu is listed twice", ring->path,
                       lineno, v);
    if (sodium_base642bin(bin, sizeof(bin), b64, strlen(b64), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len != VAULT_WRAPPED_KEY_BYTES) {
        sodium_memzero(bin, sizeof(bin));
        return cu_errf(errmsg, CU_ERR_INVALID,
                       "%s:%u: version %lu: not the base64 of a %d-byte wrapped key", ring->path,
                       lineno, v, VAULT_WRAPPED_KEY_BYTES);
    }
    service_keyring_put(ring, (uint32_t)v, bin, len);
    sodium_memzero(bin, sizeof(bin));
    return CU_OK;
}

/* Reads the file into `text`; a missing file leaves it empty. */
static int read_text(const char *path, struct buf *text, char **errmsg)
{
    char chunk[4096];
    ssize_t n;
    int fd, rc = CU_OK;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return CU_OK;
        return cu_errf(errmsg, CU_ERR_KEY, "cannot open keyring '%s': %s", path, strerror(errno));
    }
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
        if (text->len + (size_t)n > KEYRING_MAX) {
            rc = cu_errf(errmsg, CU_ERR_INVALID, "%s: too large for a keyring", path);
            break;
        }
        buf_add(text, chunk, (size_t)n);
    }
    if (n < 0)
        rc = cu_errf(errmsg, CU_ERR_KEY, "cannot read keyring '%s': %s", path, strerror(errno));
    close(fd);
    return rc;
}

int service_keyring_load(struct service_keyring *ring, const char *path, int lock, char **errmsg)
{
    struct buf text = BUF_INIT;
    char *dir = NULL, *line, *next;
    unsigned lineno = 0;
    int rc = CU_OK;

    memset(ring, 0, sizeof(*ring));
    ring->path = xstrdup(path);
    ring->dir_fd = -1;
    if (lock) {
        dir = dir_of(path);
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            rc = cu_errf(errmsg, CU_ERR_IO, "cannot create '%s': %s", dir, strerror(errno));
            goto out;
        }
        ring->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (ring->dir_fd < 0 || flock(ring->dir_fd, LOCK_EX) != 0) {
            rc = cu_errf(errmsg, CU_ERR_IO, "cannot lock '%s': %s", dir, strerror(errno));
            goto out;
        }
    }
    rc = read_text(path, &text, errmsg);
    if (rc != CU_OK || text.len == 0)
        goto out;
    if (memchr(text.data, '\0', text.len) != NULL) {
        rc = cu_errf(errmsg, CU_ERR_INVALID, "%s: not a keyring (binary content)", path);
        goto out;
    }
    for (line = text.data; rc == CU_OK && line != NULL && *line != '\0'; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (next != NULL && next - line >= 2 && next[-2] == '\r')
            next[-2] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        rc = parse_line(ring, line, lineno, errmsg);
    }
out:
    buf_release_wipe(&text);
    free(dir);
    if (rc != CU_OK)
        service_keyring_release(ring);
    return rc;
}

void service_keyring_release(struct service_keyring *ring)
{
    size_t i;

    for (i = 0; i < ring->n; i++)
        buf_release_wipe(&ring->keys[i].wrapped);
    free(ring->keys);
    if (ring->dir_fd >= 0)
        close(ring->dir_fd); /* releases the flock */
    free(ring->path);
    memset(ring, 0, sizeof(*ring));
    ring->dir_fd = -1;
}

const struct buf *service_keyring_get(const struct service_keyring *ring, uint32_t version)
{
    int i = key_index(ring, version);

    return i < 0 ? NULL : &ring->keys[i].wrapped;
}

void service_keyring_put(struct service_keyring *ring, uint32_t version, const void *wrapped,
                         size_t len)
{
    int i = key_index(ring, version);
    size_t at;

    if (i >= 0) {
        buf_release_wipe(&ring->keys[i].wrapped);
        buf_add(&ring->keys[i].wrapped, wrapped, len);
        return;
    }
    if (ring->n == ring->cap) {
        ring->cap = ring->cap ? ring->cap * 2 : 8;
        ring->keys = xrealloc(ring->keys, ring->cap * sizeof(*ring->keys));
    }
    /* kept in version order */
    for (at = ring->n; at > 0 && ring->keys[at - 1].version > version; at--)
        ring->keys[at] = ring->keys[at - 1];
    ring->keys[at].version = version;
    buf_init(&ring->keys[at].wrapped);
    buf_add(&ring->keys[at].wrapped, wrapped, len);
    ring->n++;
}

int service_keyring_drop(struct service_keyring *ring, uint32_t version)
{
    int i = key_index(ring, version);

    if (i < 0)
        return 0;
    buf_release_wipe(&ring->keys[i].wrapped);
    memmove(&ring->keys[i], &ring->keys[i + 1], (ring->n - (size_t)i - 1) * sizeof(*ring->keys));
    ring->n--;
    return 1;
}

int service_keyring_save(struct service_keyring *ring, char **errmsg)
{
    struct buf text = BUF_INIT;
    char *tmp = NULL, *b64 = NULL;
    size_t i, b64_len = sodium_base64_ENCODED_LEN(VAULT_WRAPPED_KEY_BYTES,
                                                  sodium_base64_VARIANT_ORIGINAL);
    ssize_t w;
    int fd = -1, rc = CU_OK;

    if (ring->dir_fd < 0)
        return cu_errf(errmsg, CU_ERR_INTERNAL, "keyring: saved without its lock");
    b64 = xmalloc(b64_len);
    buf_addstr(&text, KEYRING_HEADER);
    for (i = 0; i < ring->n; i++) {
        const struct buf *k = &ring->keys[i].wrapped;

        if (k->len != VAULT_WRAPPED_KEY_BYTES) {
            rc = cu_errf(errmsg, CU_ERR_INTERNAL, "keyring: version %u has %zu bytes",
                         (unsigned)ring->keys[i].version, k->len);
            goto out;
        }
        sodium_bin2base64(b64, b64_len, (const unsigned char *)k->data, k->len,
                          sodium_base64_VARIANT_ORIGINAL);
        buf_addf(&text, "%u %s\n", (unsigned)ring->keys[i].version, b64);
    }

    tmp = xasprintf("%s.tmp", ring->path);
    (void)unlink(tmp); /* a leftover of a crash: recreated with our mode */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot create '%s': %s", tmp, strerror(errno));
        goto out;
    }
    w = write(fd, text.data, text.len);
    if (w != (ssize_t)text.len || fsync(fd) != 0) {
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot write '%s': %s", tmp,
                     w < 0 || w == (ssize_t)text.len ? strerror(errno) : "short write");
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, ring->path) != 0) {
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot rename '%s': %s", tmp, strerror(errno));
        goto out;
    }
    /* The rename itself is durable only once the folder is. */
    if (fsync(ring->dir_fd) != 0)
        rc = cu_errf(errmsg, CU_ERR_IO, "cannot sync the folder of '%s': %s", ring->path,
                     strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc != CU_OK && tmp != NULL)
        (void)unlink(tmp);
    free(tmp);
    if (b64 != NULL)
        sodium_memzero(b64, b64_len);
    free(b64);
    buf_release_wipe(&text);
    return rc;
}

int service_keyring_add(struct service *svc, uint32_t version, const void *wrapped, size_t len,
                        char **errmsg)
{
    struct service_keyring ring;
    char *path = service_keyring_path(svc->data_dir);
    int rc;

    rc = service_keyring_load(&ring, path, 1, errmsg);
    if (rc == CU_OK) {
        service_keyring_put(&ring, version, wrapped, len);
        rc = service_keyring_save(&ring, errmsg);
        service_keyring_release(&ring);
    }
    free(path);
    return rc;
}

int service_keyring_remove(struct service *svc, const uint32_t *versions, size_t n, char **errmsg)
{
    struct service_keyring ring;
    char *path = service_keyring_path(svc->data_dir);
    size_t i;
    int rc, changed = 0;

    rc = service_keyring_load(&ring, path, 1, errmsg);
    if (rc == CU_OK) {
        for (i = 0; i < n; i++)
            changed |= service_keyring_drop(&ring, versions[i]);
        if (changed)
            rc = service_keyring_save(&ring, errmsg);
        service_keyring_release(&ring);
    }
    free(path);
    return rc;
}
