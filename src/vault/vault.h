/*
 * The vault: the key hierarchy, field sealing, blind indexes and
 * pseudonyms.  This is the only module that calls libsodium's crypto.
 *
 * Key hierarchy (invariants kept in vault.c):
 *
 *   master key (32 random bytes, file mode 0600, never stored in the database)
 *     -> crypto_kdf subkeys, one per purpose: the KEK-wrapping key, one
 *        blind-index key per identifier kind, the pseudonym key, ...
 *     -> key-encryption keys (KEKs): random, versioned 1, 2, ...; stored in
 *        the database wrapped (XChaCha20-Poly1305) by the KEK-wrapping key,
 *        with the version as associated data.
 *          -> one random data key (DEK) per customer, stored wrapped by one
 *             KEK version, with "dek|<customer_id>|<kek version>" as
 *             associated data; rotation re-wraps DEKs, never the fields.
 *               -> each personal field sealed (XChaCha20-Poly1305, random
 *                  192-bit nonce) under the customer's DEK with associated
 *                  data binding customer id, field name and DEK version:
 *                  a ciphertext moved to another customer, field or key
 *                  version fails to open.
 *
 * Key material lives in sodium_malloc'd, mlock'd memory and is wiped on free.
 * Sealed blob format: nonce (24 bytes) || ciphertext || tag (16 bytes).
 */
#ifndef CU_VAULT_H
#define CU_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"

#define VAULT_KEY_BYTES         32
#define VAULT_NONCE_BYTES       24
#define VAULT_TAG_BYTES         16
#define VAULT_SEAL_OVERHEAD     (VAULT_NONCE_BYTES + VAULT_TAG_BYTES)
#define VAULT_WRAPPED_KEY_BYTES (VAULT_KEY_BYTES + VAULT_SEAL_OVERHEAD)
#define VAULT_PSEUDONYM_BYTES   16

struct vault;

/* Initialises libsodium; call once at start-up.  Returns CU_ERR_INTERNAL on failure. */
int vault_global_init(void) CU_WUR;

/*
 * Creates a new random master key file at `path` with mode 0600.  Refuses
 * (CU_ERR_CONFLICT) to overwrite an existing file.
 */
int vault_master_key_create(const char *path, char **errmsg) CU_WUR;

/*
 * Opens a vault from the master key file at `path` (exactly 32 bytes; a
 * file readable by group or others is refused with CU_ERR_KEY).  The new
 * vault has no KEK yet: add them with vault_kek_load()/vault_kek_create().
 * The caller frees the vault with vault_free().
 */
int vault_new(struct vault **out, const char *master_key_path, char **errmsg) CU_WUR;
void vault_free(struct vault *v);

/*
 * KEKs.  vault_kek_create() makes a random KEK with the given version, adds
 * it to the vault, makes it the active version (the one new DEKs are wrapped
 * with), and returns its wrapped form in `wrapped` (VAULT_WRAPPED_KEY_BYTES,
 * appended) for the caller to store.  vault_kek_load() unwraps a stored KEK
 * (CU_ERR_INTEGRITY if it was not made with this master key or was altered)
 * and adds it.  vault_kek_set_active() selects the version used for
 * wrapping; vault_kek_forget() drops a version from memory.
 */
int vault_kek_create(struct vault *v, uint32_t version, struct buf *wrapped, char **errmsg) CU_WUR;
int vault_kek_load(struct vault *v, uint32_t version, const void *wrapped, size_t len,
                   char **errmsg) CU_WUR;
int vault_kek_set_active(struct vault *v, uint32_t version, char **errmsg) CU_WUR;
void vault_kek_forget(struct vault *v, uint32_t version);
/* The active KEK version, 0 when there is none. */
uint32_t vault_kek_active(const struct vault *v);

/*
 * A customer's data key, held by the caller (on the stack is fine); always
 * end its life with vault_dek_wipe().
 */
struct vault_dek {
    unsigned char key[VAULT_KEY_BYTES];
};

/* Fills `dek` with a fresh random key. */
void vault_dek_generate(struct vault_dek *dek);
void vault_dek_wipe(struct vault_dek *dek);

/*
 * Wraps `dek` for `customer_id` under the active KEK; appends
 * VAULT_WRAPPED_KEY_BYTES to `out` and stores the KEK version used in
 * *kek_version.  CU_ERR_KEY when no KEK is active.
 */
int vault_dek_wrap(struct vault *v, const char *customer_id, const struct vault_dek *dek,
                   uint32_t *kek_version, struct buf *out, char **errmsg) CU_WUR;
/*
 * Unwraps a stored DEK.  CU_ERR_KEY if `kek_version` is not loaded,
 * CU_ERR_INTEGRITY if the blob was altered or belongs to another customer.
 */
int vault_dek_unwrap(struct vault *v, const char *customer_id, uint32_t kek_version,
                     const void *wrapped, size_t len, struct vault_dek *dek, char **errmsg) CU_WUR;

/*
 * Seals `len` bytes of `plain` under `dek`; associated data binds
 * customer_id, field name and dek_version.  Appends the sealed blob
 * (len + VAULT_SEAL_OVERHEAD bytes) to `out`.
 */
void vault_field_seal(const struct vault_dek *dek, const char *customer_id, const char *field,
                      uint32_t dek_version, const void *plain, size_t len, struct buf *out);
/*
 * Opens a sealed blob, appending the plaintext to `out`.  Returns
 * CU_ERR_INTEGRITY ("integrity check failed for field 'F' of customer 'C'")
 * when it was altered, or moved from another customer, field or key
 * version; nothing is appended then.
 */
int vault_field_open(const struct vault_dek *dek, const char *customer_id, const char *field,
                     uint32_t dek_version, const void *sealed, size_t len, struct buf *out,
                     char **errmsg) CU_WUR;

/*
 * Blind index of a normalised identifier: keyed BLAKE2b (a separate derived
 * key per kind, 1..15), truncated to 64 bits.  Truncation is deliberate:
 * a look-up confirms each candidate against the decrypted value, so a rare
 * collision costs one extra decryption, and a short index tells an attacker
 * with the database less.
 */
uint64_t vault_blind(const struct vault *v, int kind, const void *value, size_t len);

/*
 * Canary tag of a customer id (BLAKE2b under its own derived key, subkey
 * id 14): the store keeps the tags of canary customers, so which customers
 * are canaries is known only through the master key.
 */
void vault_canary_tag(const struct vault *v, const char *customer_id,
                      unsigned char out[VAULT_PSEUDONYM_BYTES]);

/*
 * Keyed pseudonym of a customer id for the audit log (BLAKE2b, own derived
 * key, VAULT_PSEUDONYM_BYTES bytes into `out`).
 */
void vault_pseudonym(const struct vault *v, const char *customer_id,
                     unsigned char out[VAULT_PSEUDONYM_BYTES]);

/*
 * SHA-256 over the concatenation a || b || c (any part may be NULL with
 * length 0).  For the audit log's Merkle tree and key ids.
 */
void vault_sha256(unsigned char out[32], const void *a, size_t alen, const void *b, size_t blen,
                  const void *c, size_t clen);

/*
 * The audit log's Ed25519 checkpoint-signing key, derived from the master
 * key (subkey id 9, used as the Ed25519 seed), so every server holding the
 * master key signs with the same key and nothing more is stored.
 */
void vault_audit_public_key(const struct vault *v, unsigned char pk[32]);
/* Signs `len` bytes of `msg` (detached signature, 64 bytes). */
void vault_audit_sign(const struct vault *v, const void *msg, size_t len, unsigned char sig[64]);
/* Verifies a detached Ed25519 signature: CU_OK or CU_ERR_INTEGRITY. */
int vault_ed25519_verify(const unsigned char pk[32], const void *msg, size_t len,
                         const unsigned char sig[64]) CU_WUR;

/*
 * Random bytes for secrets that are not keys of the hierarchy (session
 * tokens, one-time codes, TOTP secrets, initial passwords): from the same
 * per-thread pool as nonces.
 */
void vault_random(void *out, size_t len);
/* A uniformly random number in [0, upper) (upper > 0), for one-time codes. */
uint32_t vault_random_uniform(uint32_t upper);

/*
 * Staff passwords: Argon2id (crypto_pwhash_str, libsodium's interactive
 * limits unless `strong`), the result a self-describing string that the
 * caller stores.  vault_password_verify() is constant-time in the hash
 * comparison: CU_OK or CU_ERR_INTEGRITY.  vault_password_needs_rehash()
 * is true when the stored hash uses weaker parameters than today's.
 */
#define VAULT_PASSWORD_HASH_BYTES 128
int vault_password_hash(const char *password, char out[VAULT_PASSWORD_HASH_BYTES],
                        int strong) CU_WUR;
int vault_password_verify(const char *stored, const char *password) CU_WUR;
int vault_password_needs_rehash(const char *stored);

/*
 * Keyed hash of a bearer token for storage (BLAKE2b-256 under a key derived
 * from the master key, subkey id 12): a stolen database holds no usable
 * token.  Compare stored hashes with vault_equal().
 */
void vault_token_hash(const struct vault *v, const void *token, size_t len, unsigned char out[32]);
/* Constant-time comparison of two byte strings of length len: 1 if equal. */
int vault_equal(const void *a, const void *b, size_t len);

/*
 * Secrets that belong to no customer (staff TOTP secrets): sealed with
 * XChaCha20-Poly1305 under a master-derived key (subkey id 13), with
 * `context` (e.g. "totp|alice") as associated data, so a secret moved to
 * another account fails to open.  Same blob format and errors as fields.
 */
void vault_secret_seal(const struct vault *v, const char *context, const void *plain, size_t len,
                       struct buf *out);
int vault_secret_open(const struct vault *v, const char *context, const void *sealed, size_t len,
                      struct buf *out, char **errmsg) CU_WUR;

#endif
