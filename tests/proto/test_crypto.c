// test_crypto - the protocol library's crypto wrappers (proto/pl_crypto).
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdio.h>
#include <string.h>

#include "proto/pl_crypto.h"
#include "proto/pl_keys.h"

static void
s_hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

// BLAKE2b-512("abc") is RFC 7693 appendix A; the keyed value was computed
// with Python's hashlib.blake2b(b"abc", digest_size=32, key=b"k" * 32).
static void
test_hash_vectors(void **state)
{
    (void) state;
    uint8_t out[64];
    char hex[129];
    pl_hash(out, 64, "abc", 3, NULL, 0);
    s_hex(out, 64, hex);
    assert_string_equal(hex, "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b7"
                             "4b12bb6fdbffa2d17d87c5392aab792dc252d5de4533cc95"
                             "18d38aa8dbf1925ab92386edd4009923");
    uint8_t key[32];
    memset(key, 'k', sizeof key);
    pl_hash(out, 32, "abc", 3, key, sizeof key);
    s_hex(out, 32, hex);
    assert_string_equal(
        hex,
        "0a9b1f4f633832a535f3e4539d906998c3814fbcd4cc136e57e8ea742ac36b61");

    // incremental = one shot
    uint8_t one[32], inc[32];
    pl_hash(one, 32, "abcdef", 6, NULL, 0);
    pl_hash_state_t st;
    pl_hash_init(&st, 32);
    pl_hash_update(&st, "abc", 3);
    pl_hash_update(&st, "def", 3);
    pl_hash_final(&st, inc);
    assert_memory_equal(one, inc, 32);
}

static void
test_random_wipe_compare(void **state)
{
    (void) state;
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    pl_random(a, sizeof a);
    pl_random(b, sizeof b);
    assert_memory_not_equal(a, zero, 32); // 2^-256 to fail by chance
    assert_false(pl_ct_equal(a, b, 32));
    memcpy(b, a, 32);
    assert_true(pl_ct_equal(a, b, 32));
    pl_wipe(a, sizeof a);
    assert_memory_equal(a, zero, 32);
    for (int i = 0; i < 1000; i++)
        assert_true(pl_random_uniform(7) < 7);
    assert_int_equal(pl_random_uniform(1), 0);
}

static void
test_aead(void **state)
{
    (void) state;
    uint8_t key[PL_AEAD_KEY_BYTES], other[PL_AEAD_KEY_BYTES];
    pl_random(key, sizeof key);
    pl_random(other, sizeof other);
    const char pt[] = "a record";
    uint8_t sealed[sizeof pt + PL_AEAD_OVERHEAD], sealed2[sizeof sealed];
    uint8_t back[sizeof pt];
    pl_aead_seal(sealed, pt, sizeof pt, "ad", 2, key);
    pl_aead_seal(sealed2, pt, sizeof pt, "ad", 2, key);
    assert_memory_not_equal(sealed, sealed2, sizeof sealed); // fresh nonce
    assert_int_equal(pl_aead_open(back, sealed, sizeof sealed, "ad", 2, key),
                     PL_OK);
    assert_memory_equal(back, pt, sizeof pt);
    assert_int_equal(pl_aead_open(back, sealed, sizeof sealed, "aD", 2, key),
                     PL_EAUTH);
    assert_int_equal(pl_aead_open(back, sealed, sizeof sealed, "ad", 2, other),
                     PL_EAUTH);
    sealed[PL_AEAD_NONCE_BYTES] ^= 1;
    assert_int_equal(pl_aead_open(back, sealed, sizeof sealed, "ad", 2, key),
                     PL_EAUTH);
    assert_int_equal(
        pl_aead_open(back, sealed, PL_AEAD_OVERHEAD - 1, "ad", 2, key),
        PL_EAUTH);
}

static void
test_sign_verify_kdf_secure(void **state)
{
    (void) state;
    pl_keys_t *k = NULL;
    assert_int_equal(pl_keys_generate(&k), PL_OK);
    uint8_t sig[PL_SIGNATURE_BYTES];
    pl_sign(sig, "m", 1, k);
    assert_int_equal(pl_verify(sig, "m", 1, k->pub.sign), PL_OK);
    assert_int_equal(pl_verify(sig, "n", 1, k->pub.sign), PL_EAUTH);
    pl_keys_destroy(&k);

    uint8_t salt[PL_KDF_SALT_BYTES] = {1}, o1[32], o2[32];
    assert_int_equal(pl_kdf_argon2id(o1, 32, "pw", 2, salt, 1, 8192), PL_OK);
    assert_int_equal(pl_kdf_argon2id(o2, 32, "pw", 2, salt, 1, 8192), PL_OK);
    assert_memory_equal(o1, o2, 32);
    assert_int_equal(pl_kdf_argon2id(o2, 32, "pW", 2, salt, 1, 8192), PL_OK);
    assert_memory_not_equal(o1, o2, 32);
    assert_int_equal(pl_kdf_argon2id(o2, 32, "pw", 2, salt, 0, 8192),
                     PL_EINVAL);

    uint8_t *p = pl_secure_alloc(32);
    assert_non_null(p);
    memset(p, 7, 32);
    pl_secure_readonly(p);
    assert_int_equal(p[31], 7);
    pl_secure_readwrite(p);
    p[0] = 1;
    pl_secure_free(p);
    pl_secure_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_random_wipe_compare),
        cmocka_unit_test(test_aead),
        cmocka_unit_test(test_sign_verify_kdf_secure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
