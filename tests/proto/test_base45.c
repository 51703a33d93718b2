// test_base45 - the Base45 codec (proto/pl_base45.c) against the examples
// of RFC 9285 §4.3 and §4.4, and its refusals (§6: a value out of range,
// a lone character, characters outside the alphabet).
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <string.h>

#include "proto/pl_base45.h"

static void
s_enc(const char *in, const char *want)
{
    char out[64];
    size_t n = pl_base45_encode(out, (const uint8_t *) in, strlen(in));
    assert_string_equal(out, want);
    assert_int_equal(n, pl_base45_len(strlen(in)));
}

static void
s_dec(const char *in, const char *want)
{
    uint8_t out[64];
    size_t n;
    assert_int_equal(pl_base45_decode(out, sizeof out, &n, in, strlen(in)),
                     PL_OK);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}

static void
test_rfc_examples(void **state)
{
    (void) state;
    // RFC 9285 §4.3 (encoding) and §4.4 (decoding)
    s_enc("AB", "BB8");
    s_enc("Hello!!", "%69 VD92EX0");
    s_enc("base-45", "UJCLQE7W581");
    s_dec("QED8WEX0", "ietf!");
    s_dec("BB8", "AB");
    s_dec("%69 VD92EX0", "Hello!!");
    s_enc("", "");
}

static void
test_round_trip_all_bytes(void **state)
{
    (void) state;
    uint8_t in[256], back[256];
    char text[400];
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t) (255 - i);
    for (size_t n = 0; n <= sizeof in; n += 37) {
        pl_base45_encode(text, in, n);
        size_t m;
        assert_int_equal(
            pl_base45_decode(back, sizeof back, &m, text, strlen(text)), PL_OK);
        assert_int_equal(m, n);
        assert_memory_equal(back, in, n);
    }
}

static void
test_refusals(void **state)
{
    (void) state;
    uint8_t out[8];
    size_t n = 99;
    // "GGW" is 65535 + 1: out of range (RFC 9285 §6)
    assert_int_equal(pl_base45_decode(out, sizeof out, &n, "GGW", 3),
                     PL_EINVAL);
    assert_int_equal(n, 0);
    // a last pair over 255
    assert_int_equal(pl_base45_decode(out, sizeof out, &n, "::", 2), PL_EINVAL);
    // a lone character, a lower-case letter, a character not in the set
    assert_int_equal(pl_base45_decode(out, sizeof out, &n, "BB8A", 4),
                     PL_EINVAL);
    assert_int_equal(pl_base45_decode(out, sizeof out, &n, "bb8", 3),
                     PL_EINVAL);
    assert_int_equal(pl_base45_decode(out, sizeof out, &n, "B#8", 3),
                     PL_EINVAL);
    char nul[3] = {'B', 0, '8'};
    assert_int_equal(pl_base45_decode(out, sizeof out, &n, nul, 3), PL_EINVAL);
    // too small an output
    assert_int_equal(pl_base45_decode(out, 1, &n, "BB8", 3), PL_ETOOBIG);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_examples),
        cmocka_unit_test(test_round_trip_all_bytes),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
