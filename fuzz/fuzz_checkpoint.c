/*
 * Fuzz target: audit_checkpoint_parse(), the C2SP signed-note checkpoint
 * reader used by `custodian audit verify` on stored checkpoints (and by
 * anyone checking a published one).  A note that parses must start with
 * exactly the body audit_checkpoint_body() writes for what was parsed, its
 * signed part must be within the note, and its signature is then checked
 * as the verifier does (Ed25519 under a fixed test key, which the seed
 * corpus's notes are signed with).
 */
#include "fuzz.h"

#include <sodium.h>

#include "audit/audit.h"
#include "vault/vault.h"

#define KEY_NAME "custodian/fuzz"

/* The test key: Ed25519 from the seed "custodian fuzz checkpoint key...". */
static unsigned char pk[32];
static unsigned char key_id[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char seed[32] = "custodian fuzz checkpoint key..";
    unsigned char sk[64];

    (void)argc;
    (void)argv;
    if (vault_global_init() != CU_OK)
        abort();
    crypto_sign_seed_keypair(pk, sk, (const unsigned char *)seed);
    audit_key_id(KEY_NAME, pk, key_id);
    cu_wipe(sk, sizeof(sk));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char root[AUDIT_HASH_BYTES], sig[64];
    char *origin = NULL;
    uint64_t tree_size = 0;
    size_t body_len = 0;
    struct buf body = BUF_INIT;
    int rc;

    rc = audit_checkpoint_parse((const char *)data, size, KEY_NAME, key_id, &origin, &tree_size,
                                root, sig, &body_len);
    if (rc == CU_OK) {
        FUZZ_CHECK(origin != NULL && origin[0] != '\0' && strchr(origin, '\n') == NULL);
        FUZZ_CHECK(body_len > 0 && body_len < size && data[body_len - 1] == '\n');
        audit_checkpoint_body(origin, tree_size, root, &body);
        FUZZ_CHECK(body.len <= body_len && memcmp(body.data, data, body.len) == 0);
        rc = vault_ed25519_verify(pk, data, body_len, sig);
        FUZZ_CHECK(rc == CU_OK || rc == CU_ERR_INTEGRITY);
    } else {
        FUZZ_CHECK(rc == CU_ERR_INVALID || rc == CU_ERR_NOT_FOUND);
        FUZZ_CHECK(origin == NULL);
    }
    free(origin);
    buf_release(&body);
    return 0;
}
