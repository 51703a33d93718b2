// test_keys - key pairs, key files, Z85 and key ids (proto/pl_keys).
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/pl_keys.h"
#include "proto/pl_util.h"

// ---- a private temp folder per test, removed after

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st, (void) flag, (void) ftw;
    return remove(path);
}

static int
s_setup(void **state)
{
    char *dir = strdup("/tmp/pl-test-keys-XXXXXX");
    if (!dir || !mkdtemp(dir))
        return -1;
    *state = dir;
    return 0;
}

static int
s_teardown(void **state)
{
    char *dir = *state;
    nftw(dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
    return 0;
}

static void
s_key_path(char *out, const char *home, const char *name)
{
    snprintf(out, 4096, "%s/keys/%s", home, name);
}

static unsigned
s_mode(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned) (st.st_mode & 0777);
}

// Generates and saves a fresh key set in 'home'.
static pl_keys_t *
s_make(const char *home)
{
    pl_keys_t *keys = NULL;
    assert_int_equal(pl_keys_generate(&keys), PL_OK);
    assert_int_equal(pl_keys_save(keys, home), PL_OK);
    return keys;
}

// ---- tests

static void
test_roundtrip(void **state)
{
    const char *home = *state;
    assert_false(pl_keys_exist(home));
    pl_keys_t *keys = s_make(home);
    assert_true(pl_keys_exist(home));

    pl_keys_t *back = NULL;
    assert_int_equal(pl_keys_load(home, &back), PL_OK);
    assert_memory_equal(&back->pub, &keys->pub, sizeof keys->pub);
    assert_memory_equal(back->sec, keys->sec, sizeof *keys->sec);

    pl_pubkeys_t pub;
    assert_int_equal(pl_keys_load_public(home, &pub), PL_OK);
    assert_memory_equal(&pub, &keys->pub, sizeof pub);

    // three different key pairs, never one for two purposes
    assert_memory_not_equal(keys->pub.sign, keys->pub.box, 32);
    assert_memory_not_equal(keys->pub.box, keys->pub.curve, 32);

    // each file is one line of Z85
    char path[4096];
    pl_buf_t text = {0};
    s_key_path(path, home, "sign.public");
    assert_int_equal(pl_file_read(path, 1024, &text), PL_OK);
    assert_int_equal(text.len, 41);
    assert_int_equal(text.data[40], '\n');
    pl_buf_free(&text);
    s_key_path(path, home, "sign.secret");
    assert_int_equal(pl_file_read(path, 1024, &text), PL_OK);
    assert_int_equal(text.len, 81);
    pl_buf_wipe(&text);

    pl_keys_destroy(&back);
    pl_keys_destroy(&keys);
    assert_null(keys);
    pl_keys_destroy(&keys); // idempotent
    pl_keys_destroy(NULL);
}

static void
test_file_modes(void **state)
{
    const char *home = *state;
    pl_keys_t *keys = s_make(home);
    char path[4096];
    snprintf(path, sizeof path, "%s/keys", home);
    assert_int_equal(s_mode(path), 0700);
    const char *secrets[] = {"sign.secret", "box.secret", "curve.secret"};
    const char *publics[] = {"sign.public", "box.public", "curve.public"};
    for (int i = 0; i < 3; i++) {
        s_key_path(path, home, secrets[i]);
        assert_int_equal(s_mode(path), 0600);
        s_key_path(path, home, publics[i]);
        assert_int_equal(s_mode(path), 0644);
    }
    pl_keys_destroy(&keys);
}

static void
test_open_secret_refused(void **state)
{
    const char *home = *state;
    pl_keys_t *keys = s_make(home), *back = NULL;
    char path[4096];
    const char *secrets[] = {"sign.secret", "box.secret", "curve.secret"};
    const unsigned modes[] = {0644, 0640, 0604, 0660};
    for (int i = 0; i < 3; i++) {
        s_key_path(path, home, secrets[i]);
        for (int m = 0; m < 4; m++) {
            assert_int_equal(chmod(path, modes[m]), 0);
            assert_int_equal(pl_keys_load(home, &back), PL_EPERM);
            assert_null(back);
            uint8_t *k = sodium_malloc(64);
            assert_int_equal(pl_keyfile_read(path, k, i ? 32 : 64, true),
                             PL_EPERM);
            sodium_free(k);
        }
        assert_int_equal(chmod(path, 0600), 0);
    }
    // public files are not secret: any mode is fine there
    s_key_path(path, home, "sign.public");
    assert_int_equal(chmod(path, 0666), 0);
    assert_int_equal(pl_keys_load(home, &back), PL_OK);
    pl_keys_destroy(&back);
    pl_keys_destroy(&keys);
}

static void
test_mismatched_public_refused(void **state)
{
    const char *home = *state;
    pl_keys_t *keys = s_make(home), *other = NULL, *back = NULL;
    assert_int_equal(pl_keys_generate(&other), PL_OK);
    const char *publics[] = {"sign.public", "box.public", "curve.public"};
    const uint8_t *theirs[] = {other->pub.sign, other->pub.box,
                               other->pub.curve};
    const uint8_t *ours[] = {keys->pub.sign, keys->pub.box, keys->pub.curve};
    char path[4096];
    for (int i = 0; i < 3; i++) {
        s_key_path(path, home, publics[i]);
        assert_int_equal(pl_keyfile_write(path, theirs[i], 32, false, true),
                         PL_OK);
        assert_int_equal(pl_keys_load(home, &back), PL_EPROTO);
        assert_null(back);
        assert_int_equal(pl_keyfile_write(path, ours[i], 32, false, true),
                         PL_OK);
        assert_int_equal(pl_keys_load(home, &back), PL_OK);
        pl_keys_destroy(&back);
    }
    pl_keys_destroy(&other);
    pl_keys_destroy(&keys);
}

static void
test_missing_malformed_existing(void **state)
{
    const char *home = *state;
    pl_keys_t *back = NULL;
    pl_pubkeys_t pub;
    assert_int_equal(pl_keys_load(home, &back), PL_ENOTFOUND);
    assert_int_equal(pl_keys_load_public(home, &pub), PL_ENOTFOUND);

    pl_keys_t *keys = s_make(home);
    // never overwritten
    assert_int_equal(pl_keys_save(keys, home), PL_EEXIST);

    char path[4096];
    s_key_path(path, home, "box.public");
    const char *bad[] = {"",
                         "\n",
                         "short\n",
                         "0000000000000000000000000000000000000000000\n",
                         "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\n",
                         "HelloWorldHelloWorldHelloWorldHelloWorld x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(
            pl_file_write(path, bad[i], strlen(bad[i]), 0644, true), PL_OK);
        assert_int_equal(pl_keys_load_public(home, &pub), PL_EPROTO);
        assert_int_equal(pl_keys_load(home, &back), PL_EPROTO);
    }
    // a missing secret after the publics: not found
    assert_int_equal(pl_keyfile_write(path, keys->pub.box, 32, false, true),
                     PL_OK);
    s_key_path(path, home, "curve.secret");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(pl_keys_load(home, &back), PL_ENOTFOUND);
    pl_keys_destroy(&keys);
}

static void
test_z85(void **state)
{
    (void) state;
    // ZeroMQ RFC 32 test vector
    const uint8_t hello[8] = {0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B};
    char text[11];
    assert_int_equal(pl_z85_encode(text, sizeof text, hello, 8), PL_OK);
    assert_string_equal(text, "HelloWorld");
    assert_int_equal(pl_z85_encode(text, 10, hello, 8), PL_EINVAL);
    assert_int_equal(pl_z85_encode(text, sizeof text, hello, 7), PL_EINVAL);

    uint8_t out[8];
    assert_int_equal(pl_z85_decode(out, 8, "HelloWorld\n"), PL_OK);
    assert_memory_equal(out, hello, 8);
    assert_int_equal(pl_z85_decode(out, 8, "HelloWorld \r\n"), PL_OK);
    assert_int_equal(pl_z85_decode(out, 8, "HelloWorl"), PL_EPROTO);
    assert_int_equal(pl_z85_decode(out, 8, "HelloWorldHello"), PL_EPROTO);
    assert_int_equal(pl_z85_decode(out, 8, "Hello\"orld"), PL_EPROTO);
    assert_int_equal(pl_z85_decode(out, 4, "#####"), PL_EPROTO); // > 2^32

    // round trip of random 32- and 64-byte keys
    uint8_t k[64], back[64];
    char z[PL_Z85_64];
    for (int i = 0; i < 100; i++) {
        randombytes_buf(k, sizeof k);
        size_t n = (i & 1) ? 64 : 32;
        assert_int_equal(pl_z85_encode(z, sizeof z, k, n), PL_OK);
        assert_int_equal(strlen(z), n * 5 / 4);
        assert_int_equal(pl_z85_decode(back, n, z), PL_OK);
        assert_memory_equal(back, k, n);
    }
}

static void
test_key_id(void **state)
{
    (void) state;
    assert_int_equal(pl_crypto_init(), PL_OK);
    uint8_t pk[32], id[8], id2[8], want[8];
    randombytes_buf(pk, sizeof pk);
    pl_key_id(pk, id);
    pl_key_id(pk, id2);
    assert_memory_equal(id, id2, 8);
    // BLAKE2b-64 over the domain tag and the key
    uint8_t m[17 + 32];
    memcpy(m, "passerelle-kid-v1", 17);
    memcpy(m + 17, pk, 32);
    crypto_generichash(want, 8, m, sizeof m, NULL, 0);
    assert_memory_equal(id, want, 8);
    pk[31] ^= 1;
    pl_key_id(pk, id2);
    assert_memory_not_equal(id, id2, 8);

    char fp[17];
    pl_key_fingerprint(pk, fp);
    assert_int_equal(strlen(fp), 16);
    assert_int_equal(strspn(fp, "0123456789abcdef"), 16);
}

static void
test_rotate_box(void **state)
{
    const char *home = *state;
    pl_keys_t *keys = s_make(home), *back = NULL;
    uint8_t old_pk[32], id[8];
    memcpy(old_pk, keys->pub.box, 32);
    pl_key_id(old_pk, id);
    pl_pubkeys_t before = keys->pub;

    assert_int_equal(pl_keys_rotate_box(keys, home), PL_OK);
    assert_memory_not_equal(keys->pub.box, old_pk, 32);
    assert_memory_equal(keys->pub.sign, before.sign, 32); // others unchanged
    assert_memory_equal(keys->pub.curve, before.curve, 32);
    uint8_t pk[32];
    assert_int_equal(crypto_scalarmult_base(pk, keys->sec->box), 0);
    assert_memory_equal(pk, keys->pub.box, 32);

    assert_int_equal(pl_keys_load(home, &back), PL_OK);
    assert_memory_equal(&back->pub, &keys->pub, sizeof keys->pub);
    assert_memory_equal(back->sec, keys->sec, sizeof *keys->sec);
    pl_keys_destroy(&back);

    // the old pair is kept under box-old/<id>
    char hex[17], path[4096];
    pl_hex(hex, id, 8);
    snprintf(path, sizeof path, "%s/keys/box-old/%s.public", home, hex);
    assert_int_equal(pl_keyfile_read(path, pk, 32, false), PL_OK);
    assert_memory_equal(pk, old_pk, 32);
    snprintf(path, sizeof path, "%s/keys/box-old/%s.secret", home, hex);
    assert_int_equal(s_mode(path), 0600);
    uint8_t *sk = sodium_malloc(32);
    assert_int_equal(pl_keyfile_read(path, sk, 32, true), PL_OK);
    assert_int_equal(crypto_scalarmult_base(pk, sk), 0);
    assert_memory_equal(pk, old_pk, 32);
    sodium_free(sk);
    pl_keys_destroy(&keys);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_file_modes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_secret_refused, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_mismatched_public_refused, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_missing_malformed_existing,
                                        s_setup, s_teardown),
        cmocka_unit_test(test_z85),
        cmocka_unit_test(test_key_id),
        cmocka_unit_test_setup_teardown(test_rotate_box, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
