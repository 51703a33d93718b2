// test_dirset - a directory as a set of named items (proto/pl_dirset.h,
// issue 20): the digest does not depend on the order of the items, a
// duplicate counts once, any item added, removed or changed changes it,
// the items unpacked again give the same set, and what is not a
// directory's item is refused. Layer: tests.
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <string.h>

#include "proto/pl_crypto.h"
#include "proto/pl_dirset.h"

static uint8_t s_body[4][40], s_sig[4][64];
static Passerelle__V1__Certificate s_c[4];

static void
s_certs(void)
{
    for (int i = 0; i < 4; i++) {
        memset(s_body[i], 'a' + i, 40);
        memset(s_sig[i], i, 64);
        passerelle__v1__certificate__init(&s_c[i]);
        s_c[i].body = (ProtobufCBinaryData){40, s_body[i]};
        s_c[i].signature = (ProtobufCBinaryData){64, s_sig[i]};
    }
}

// the digest of a response holding certificates 'idx' (n of them) and,
// when 'cat', one catalogue
static void
s_digest(const int *idx, size_t n, bool cat, uint8_t d[32])
{
    Passerelle__V1__Certificate *v[8];
    for (size_t i = 0; i < n; i++)
        v[i] = &s_c[idx[i]];
    Passerelle__V1__Catalogue c = PASSERELLE__V1__CATALOGUE__INIT;
    Passerelle__V1__Catalogue *cv[1] = {&c};
    uint8_t signed_[3] = {1, 2, 3};
    c.address = "sn/clinic";
    c.version = 7;
    c.signed_ = (ProtobufCBinaryData){3, signed_};
    Passerelle__V1__DirectoryResponse r =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    r.n_certificates = n;
    r.certificates = v;
    if (cat) {
        r.n_catalogues = 1;
        r.catalogues = cv;
    }
    pl_dirset_t s;
    assert_int_equal(pl_dirset_from_response(&r, &s), PL_OK);
    pl_dirset_digest(&s, d);
    // unpacked again into a response: the same set
    Passerelle__V1__DirectoryResponse back =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    assert_int_equal(pl_dirset_response(&s, NULL, &back), PL_OK);
    pl_dirset_t again;
    assert_int_equal(pl_dirset_from_response(&back, &again), PL_OK);
    uint8_t d2[32];
    pl_dirset_digest(&again, d2);
    assert_memory_equal(d, d2, 32);
    assert_int_equal(back.n_catalogues, cat ? 1 : 0);
    pl_dirset_response_free(&back);
    pl_dirset_free(&again);
    pl_dirset_free(&s);
}

static void
test_digest(void **state)
{
    (void) state;
    s_certs();
    uint8_t a[32], b[32], c[32], e[32];
    s_digest((int[]){0, 1, 2}, 3, false, a);
    s_digest((int[]){2, 0, 1}, 3, false, b);
    assert_memory_equal(a, b, 32); // order
    s_digest((int[]){2, 0, 1, 0}, 4, false, b);
    assert_memory_equal(a, b, 32); // a duplicate
    s_digest((int[]){0, 1}, 2, false, c);
    assert_memory_not_equal(a, c, 32); // one removed
    s_digest((int[]){0, 1, 2, 3}, 4, false, c);
    assert_memory_not_equal(a, c, 32); // one added
    s_digest((int[]){0, 1, 2}, 3, true, c);
    assert_memory_not_equal(a, c, 32); // a catalogue
    s_digest(NULL, 0, false, e);
    assert_memory_not_equal(a, e, 32); // none
    s_body[2][5] ^= 1;                 // one changed
    s_digest((int[]){0, 1, 2}, 3, false, c);
    assert_memory_not_equal(a, c, 32);
}

static void
test_refused(void **state)
{
    (void) state;
    pl_dirset_t s = {0};
    uint8_t x[4] = {1, 2, 3, 4};
    assert_int_equal(pl_dirset_add(&s, 0, x, 4), PL_EINVAL);
    assert_int_equal(pl_dirset_add(&s, 7, x, 4), PL_EINVAL);
    // the same bytes in two fields are two items
    assert_int_equal(pl_dirset_add(&s, 1, x, 4), PL_OK);
    assert_int_equal(pl_dirset_add(&s, 4, x, 4), PL_OK);
    pl_dirset_finish(&s);
    assert_int_equal(s.n, 2);
    // they do not unpack as certificates
    Passerelle__V1__DirectoryResponse r =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    assert_int_equal(pl_dirset_response(&s, NULL, &r), PL_EPROTO);
    assert_null(r.certificates);
    pl_dirset_free(&s);
    // two revocation lists of our own are no directory
    assert_int_equal(pl_dirset_add(&s, 2, x, 4), PL_OK);
    assert_int_equal(pl_dirset_add(&s, 2, x, 3), PL_OK);
    pl_dirset_finish(&s);
    assert_int_equal(pl_dirset_response(&s, NULL, &r), PL_EPROTO);
    // marked gone: dropped by finish, not found after
    uint8_t name[16];
    memcpy(name, s.v[0].name, 16);
    pl_dirset_find(&s, name)->gone = true;
    pl_dirset_finish(&s);
    assert_int_equal(s.n, 1);
    assert_null(pl_dirset_find(&s, name));
    pl_dirset_free(&s);
}

int
main(void)
{
    if (pl_crypto_init() != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digest),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
