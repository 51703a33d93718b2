// pl_crypto - every cryptographic primitive used above proto/. Layer: proto.
// Owns: the libsodium calls of broker/, nodes/ and adapters/ (none of them
// includes <sodium.h>): random bytes, wiping, constant-time compare, BLAKE2b,
// record AEAD (XChaCha20-Poly1305 IETF), guarded memory, Argon2id, and
// Ed25519 sign/verify with a pl_keys_t.
//
// Randomness never fails silently: if libsodium cannot start, pl_random*
// abort the process (there is no fallback to weaker or zero bytes).
#ifndef PL_CRYPTO_H
#define PL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_err.h"

struct pl_keys;

// Initialises libsodium once; PL_EIO if it cannot. Idempotent and thread
// safe. Every entry point of the protocol library calls it.
PL_MUST_CHECK int pl_crypto_init(void);

// ---- random, wipe, compare

// 'len' random bytes; aborts if the random source cannot start.
void pl_random(void *buf, size_t len);
// A uniform random number in 0..upper-1 (0 when upper < 2); aborts like
// pl_random.
uint32_t pl_random_uniform(uint32_t upper);
// Zeroes 'len' bytes in a way the compiler cannot drop.
void pl_wipe(void *p, size_t len);
// true when the 'len' bytes at a and b are equal; time independent of the
// contents.
bool pl_ct_equal(const void *a, const void *b, size_t len);

// ---- BLAKE2b (libsodium crypto_generichash)

#define PL_HASH_MIN_BYTES 16
#define PL_HASH_MAX_BYTES 64
#define PL_HASH_KEY_MAX   64

// BLAKE2b of 'in' into 'outlen' bytes (PL_HASH_MIN..MAX_BYTES), keyed when
// keylen > 0 (key up to PL_HASH_KEY_MAX bytes). A length out of range is a
// bug of the caller: the process aborts.
void pl_hash(uint8_t *out, size_t outlen, const void *in, size_t inlen,
             const uint8_t *key, size_t keylen);

// Incremental BLAKE2b (unkeyed). The state is opaque; its size and
// alignment are checked against libsodium's at compile time.
typedef struct {
    _Alignas(64) unsigned char opaque[384];
    size_t outlen;
} pl_hash_state_t;

void pl_hash_init(pl_hash_state_t *st, size_t outlen);
void pl_hash_update(pl_hash_state_t *st, const void *in, size_t len);
// Writes st->outlen bytes and wipes the state.
void pl_hash_final(pl_hash_state_t *st, uint8_t *out);

// ---- record AEAD: XChaCha20-Poly1305 IETF with associated data

#define PL_AEAD_KEY_BYTES   32
#define PL_AEAD_NONCE_BYTES 24
#define PL_AEAD_MAC_BYTES   16
#define PL_AEAD_OVERHEAD    (PL_AEAD_NONCE_BYTES + PL_AEAD_MAC_BYTES)

// Seals 'pt' into out = nonce || ciphertext || MAC (ptlen+PL_AEAD_OVERHEAD
// bytes) with a fresh random nonce; 'out' may not overlap 'pt'.
void pl_aead_seal(uint8_t *out, const void *pt, size_t ptlen, const void *ad,
                  size_t adlen, const uint8_t key[PL_AEAD_KEY_BYTES]);
// Opens what pl_aead_seal wrote: 'pt' receives inlen-PL_AEAD_OVERHEAD
// bytes. PL_EAUTH (and 'pt' wiped) if the input is short, forged, or the
// associated data or key differ.
PL_MUST_CHECK int pl_aead_open(uint8_t *pt, const uint8_t *in, size_t inlen,
                               const void *ad, size_t adlen,
                               const uint8_t key[PL_AEAD_KEY_BYTES]);

// ---- guarded memory (sodium_malloc: guard pages, locked, wiped on free)

void *pl_secure_alloc(size_t len);
// Wipes and frees; NULL-safe.
void pl_secure_free(void *p);
void pl_secure_noaccess(void *p);
void pl_secure_readonly(void *p);
void pl_secure_readwrite(void *p);

// ---- Argon2id (crypto_pwhash), for a store's passphrase

#define PL_KDF_SALT_BYTES      16
#define PL_KDF_OPS_INTERACTIVE 2ULL
#define PL_KDF_MEM_INTERACTIVE 67108864ULL
#define PL_KDF_OPS_MIN         1ULL
#define PL_KDF_OPS_MAX         4294967295ULL
#define PL_KDF_MEM_MIN         8192ULL

// Derives 'outlen' bytes from the passphrase; PL_ENOMEM if Argon2id fails
// (out of memory), PL_EINVAL if the limits are out of libsodium's range.
PL_MUST_CHECK int pl_kdf_argon2id(uint8_t *out, size_t outlen, const char *pass,
                                  size_t passlen,
                                  const uint8_t salt[PL_KDF_SALT_BYTES],
                                  uint64_t ops, uint64_t mem);

// ---- Argon2id password strings (crypto_pwhash_str), for staff accounts

#define PL_PWHASH_STR_BYTES 128 // crypto_pwhash_STRBYTES, NUL included

// Writes the encoded Argon2id hash of 'pass' (salt and limits inside, NUL
// terminated) to 'out', with OPSLIMIT_INTERACTIVE / MEMLIMIT_INTERACTIVE
// (about 0.1 s and 64 MiB). PL_ENOMEM if Argon2id fails.
PL_MUST_CHECK int pl_pwhash_str(char out[PL_PWHASH_STR_BYTES], const char *pass,
                                size_t passlen);
// PL_OK when 'pass' matches 'str' (from pl_pwhash_str), PL_EAUTH otherwise
// (also for a malformed 'str'). Costs what the hash did.
PL_MUST_CHECK int pl_pwhash_verify(const char *str, const char *pass,
                                   size_t passlen);

// ---- Ed25519 with a node's keys (proto/pl_keys.h)

#define PL_SIGNATURE_BYTES 64

// Detached signature of 'm' by keys->sec->sign.
void pl_sign(uint8_t sig[PL_SIGNATURE_BYTES], const void *m, size_t mlen,
             const struct pl_keys *keys);
// PL_OK when 'sig' is a valid signature of 'm' by the Ed25519 public key
// 'pk' (32 bytes), PL_EAUTH otherwise.
PL_MUST_CHECK int pl_verify(const uint8_t sig[PL_SIGNATURE_BYTES],
                            const void *m, size_t mlen, const uint8_t pk[32]);

#endif
