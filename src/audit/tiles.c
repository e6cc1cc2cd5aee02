/*
 * Complete-subtree hashes from stored tiles (C2SP tlog-tiles layout).
 *
 * Tile (L, t) holds the hashes of the complete subtrees of height 8L with
 * indexes 256t .. 256t + 255 (a partial tile fewer).  Every complete subtree
 * of height h = 8L + r lies under 2^r consecutive, aligned entries of one
 * level-L tile, so its hash is rebuilt from them with r levels of node
 * hashing: at most 127 hashes, no matter how large the log.
 */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store.h"
#include "../vault/vault.h"

void audit_reader_init(struct audit_reader *r, struct store *s)
{
    memset(r, 0, sizeof(*r));
    r->store = s;
    buf_init(&r->tile);
}

void audit_reader_release(struct audit_reader *r)
{
    buf_release(&r->tile);
    r->cached = 0;
}

static int load_tile(struct audit_reader *r, unsigned level, uint64_t index)
{
    int rc;

    if (r->cached && r->level == level && r->index == index)
        return CU_OK;
    r->cached = 0;
    rc = store_tile_get(r->store, level, index, &r->tile, NULL);
    if (rc != CU_OK)
        return rc;
    if (r->tile.len % AUDIT_HASH_BYTES != 0 || r->tile.len > AUDIT_TILE_WIDTH * AUDIT_HASH_BYTES)
        return CU_ERR_INTEGRITY;
    r->level = level;
    r->index = index;
    r->cached = 1;
    return CU_OK;
}

int audit_reader_get(void *ctx, unsigned level, uint64_t index, unsigned char out[AUDIT_HASH_BYTES])
{
    struct audit_reader *r = ctx;
    unsigned tl = level / AUDIT_TILE_HEIGHT, rest = level % AUDIT_TILE_HEIGHT, width, i, j;
    uint64_t first = index << rest; /* first level-tl hash under the subtree */
    unsigned char work[128][AUDIT_HASH_BYTES];
    size_t off;
    int rc;

    rc = load_tile(r, tl, first / AUDIT_TILE_WIDTH);
    if (rc != CU_OK)
        return rc;
    width = 1u << rest;
    off = (size_t)(first % AUDIT_TILE_WIDTH) * AUDIT_HASH_BYTES;
    if (off + (size_t)width * AUDIT_HASH_BYTES > r->tile.len)
        return CU_ERR_NOT_FOUND;
    if (width == 1) {
        memcpy(out, r->tile.data + off, AUDIT_HASH_BYTES);
        return CU_OK;
    }
    /* Hash pairs up `rest` levels; the first round reads the tile directly. */
    for (i = 0; i < width / 2; i++)
        audit_node_hash((const unsigned char *)r->tile.data + off + 2 * i * AUDIT_HASH_BYTES,
                        (const unsigned char *)r->tile.data + off + (2 * i + 1) * AUDIT_HASH_BYTES,
                        work[i]);
    for (width /= 2; width > 1; width /= 2)
        for (j = 0; j < width / 2; j++)
            audit_node_hash(work[2 * j], work[2 * j + 1], work[j]);
    memcpy(out, work[0], AUDIT_HASH_BYTES);
    return CU_OK;
}

char *audit_default_origin(const unsigned char pk[32])
{
    unsigned char h[32];

    vault_sha256(h, pk, 32, NULL, 0, NULL, 0);
    return xasprintf("custodian/%02x%02x%02x%02x", h[0], h[1], h[2], h[3]);
}
