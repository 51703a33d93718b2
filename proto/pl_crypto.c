// pl_crypto - the protocol library's libsodium wrappers (see pl_crypto.h).
#include "proto/pl_crypto.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_keys.h"

_Static_assert(sizeof(crypto_generichash_state)
                   <= sizeof(((pl_hash_state_t *) 0)->opaque),
               "hash state size");
_Static_assert(_Alignof(crypto_generichash_state) <= 64, "hash state align");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == PL_AEAD_KEY_BYTES,
               "aead key");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
                   == PL_AEAD_NONCE_BYTES,
               "aead nonce");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == PL_AEAD_MAC_BYTES,
               "aead mac");
_Static_assert(crypto_pwhash_SALTBYTES == PL_KDF_SALT_BYTES, "kdf salt");
_Static_assert(crypto_pwhash_OPSLIMIT_INTERACTIVE == PL_KDF_OPS_INTERACTIVE,
               "kdf ops");
_Static_assert(crypto_pwhash_MEMLIMIT_INTERACTIVE == PL_KDF_MEM_INTERACTIVE,
               "kdf mem");
_Static_assert(crypto_pwhash_OPSLIMIT_MIN == PL_KDF_OPS_MIN, "kdf ops min");
_Static_assert(crypto_pwhash_OPSLIMIT_MAX == PL_KDF_OPS_MAX, "kdf ops max");
_Static_assert(crypto_pwhash_MEMLIMIT_MIN == PL_KDF_MEM_MIN, "kdf mem min");
_Static_assert(crypto_pwhash_STRBYTES == PL_PWHASH_STR_BYTES, "pwhash str");
_Static_assert(crypto_sign_BYTES == PL_SIGNATURE_BYTES, "signature");
_Static_assert(crypto_generichash_BYTES_MIN == PL_HASH_MIN_BYTES, "hash min");
_Static_assert(crypto_generichash_BYTES_MAX == PL_HASH_MAX_BYTES, "hash max");
_Static_assert(crypto_generichash_KEYBYTES_MAX == PL_HASH_KEY_MAX, "hash key");

int
pl_crypto_init(void)
{
    // sodium_init is idempotent and thread safe: 0 first time, 1 after
    return sodium_init() < 0 ? PL_EIO : PL_OK;
}

// Randomness is never optional: without it every id and nonce would repeat.
static void
s_random_ready(void)
{
    if (pl_crypto_init() != PL_OK) {
        fputs("passerelle: libsodium cannot start: no random source\n", stderr);
        abort();
    }
}

void
pl_random(void *buf, size_t len)
{
    s_random_ready();
    randombytes_buf(buf, len);
}

uint32_t
pl_random_uniform(uint32_t upper)
{
    s_random_ready();
    return upper < 2 ? 0 : randombytes_uniform(upper);
}

void
pl_wipe(void *p, size_t len)
{
    if (p && len)
        sodium_memzero(p, len);
}

bool
pl_ct_equal(const void *a, const void *b, size_t len)
{
    return sodium_memcmp(a, b, len) == 0;
}

void
pl_hash(uint8_t *out, size_t outlen, const void *in, size_t inlen,
        const uint8_t *key, size_t keylen)
{
    if (outlen < PL_HASH_MIN_BYTES || outlen > PL_HASH_MAX_BYTES
        || keylen > PL_HASH_KEY_MAX || (keylen && !key))
        abort();
    crypto_generichash(out, outlen, in, inlen, keylen ? key : NULL, keylen);
}

void
pl_hash_init(pl_hash_state_t *st, size_t outlen)
{
    if (outlen < PL_HASH_MIN_BYTES || outlen > PL_HASH_MAX_BYTES)
        abort();
    st->outlen = outlen;
    crypto_generichash_init((crypto_generichash_state *) (void *) st->opaque,
                            NULL, 0, outlen);
}

void
pl_hash_update(pl_hash_state_t *st, const void *in, size_t len)
{
    crypto_generichash_update((crypto_generichash_state *) (void *) st->opaque,
                              in, len);
}

void
pl_hash_final(pl_hash_state_t *st, uint8_t *out)
{
    crypto_generichash_final((crypto_generichash_state *) (void *) st->opaque,
                             out, st->outlen);
    sodium_memzero(st->opaque, sizeof st->opaque);
}

void
pl_aead_seal(uint8_t *out, const void *pt, size_t ptlen, const void *ad,
             size_t adlen, const uint8_t key[PL_AEAD_KEY_BYTES])
{
    pl_random(out, PL_AEAD_NONCE_BYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out + PL_AEAD_NONCE_BYTES, &clen, pt, ptlen, ad, adlen, NULL, out, key);
}

int
pl_aead_open(uint8_t *pt, const uint8_t *in, size_t inlen, const void *ad,
             size_t adlen, const uint8_t key[PL_AEAD_KEY_BYTES])
{
    if (inlen < PL_AEAD_OVERHEAD)
        return PL_EAUTH;
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            pt, &mlen, NULL, in + PL_AEAD_NONCE_BYTES,
            inlen - PL_AEAD_NONCE_BYTES, ad, adlen, in, key)
        != 0) {
        pl_wipe(pt, inlen - PL_AEAD_OVERHEAD);
        return PL_EAUTH;
    }
    return PL_OK;
}

void *
pl_secure_alloc(size_t len)
{
    if (pl_crypto_init() != PL_OK)
        return NULL;
    return sodium_malloc(len);
}

void
pl_secure_free(void *p)
{
    sodium_free(p); // NULL-safe; wipes whatever the page protection
}

void
pl_secure_noaccess(void *p)
{
    sodium_mprotect_noaccess(p);
}

void
pl_secure_readonly(void *p)
{
    sodium_mprotect_readonly(p);
}

void
pl_secure_readwrite(void *p)
{
    sodium_mprotect_readwrite(p);
}

int
pl_kdf_argon2id(uint8_t *out, size_t outlen, const char *pass, size_t passlen,
                const uint8_t salt[PL_KDF_SALT_BYTES], uint64_t ops,
                uint64_t mem)
{
    if (ops < PL_KDF_OPS_MIN || ops > PL_KDF_OPS_MAX || mem < PL_KDF_MEM_MIN
        || mem > SIZE_MAX)
        return PL_EINVAL;
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    if (crypto_pwhash(out, outlen, pass, passlen, salt, ops, (size_t) mem,
                      crypto_pwhash_ALG_ARGON2ID13)
        != 0)
        return PL_ENOMEM;
    return PL_OK;
}

void
pl_sign(uint8_t sig[PL_SIGNATURE_BYTES], const void *m, size_t mlen,
        const struct pl_keys *keys)
{
    crypto_sign_detached(sig, NULL, m, mlen, keys->sec->sign);
}

int
pl_verify(const uint8_t sig[PL_SIGNATURE_BYTES], const void *m, size_t mlen,
          const uint8_t pk[32])
{
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    return crypto_sign_verify_detached(sig, m, mlen, pk) == 0 ? PL_OK
                                                              : PL_EAUTH;
}

int
pl_pwhash_str(char out[PL_PWHASH_STR_BYTES], const char *pass, size_t passlen)
{
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    // crypto_pwhash_str uses Argon2id (libsodium >= 1.0.15) and encodes the
    // salt and limits in the string (libsodium documentation, "Password
    // hashing": "Password storage")
    if (crypto_pwhash_str(out, pass, passlen,
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE)
        != 0)
        return PL_ENOMEM;
    return PL_OK;
}

int
pl_pwhash_verify(const char *str, const char *pass, size_t passlen)
{
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    char buf[PL_PWHASH_STR_BYTES];
    size_t n = strnlen(str, sizeof buf);
    if (n == sizeof buf)
        return PL_EAUTH;
    memcpy(buf, str, n + 1);
    int rc =
        crypto_pwhash_str_verify(buf, pass, passlen) == 0 ? PL_OK : PL_EAUTH;
    pl_wipe(buf, sizeof buf);
    return rc;
}
