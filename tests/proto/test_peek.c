// test_peek - pl_envelope_peek, the broker's in-place envelope reader,
// against pl_wire_decode. Layer: tests.
//
// What the peek takes, the full decode takes as the same envelope; what
// the full decode refuses (malformed, oversized, wrong sizes, wrong wire
// types, truncated), the peek does not take; a valid envelope in another
// layout is left to the full decode (PL_ENOTFOUND), never refused.
// cmocka.h needs these first, in this order
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <stdlib.h>
#include <string.h>

#include "proto/pl_peek.h"
#include "proto/pl_wire.h"
#include "tests/lib/pl_test.h"

// An encoded envelope packet with fields of the given sizes, byte values
// 1 (header), 2 (nonce), 3 (ciphertext), 4 (signature).
static void
s_envelope(pl_buf_t *out, size_t header, size_t nonce, size_t ct, size_t sig)
{
    uint8_t *b = malloc(header + nonce + ct + sig + 1);
    assert_non_null(b);
    memset(b, 1, header);
    memset(b + header, 2, nonce);
    memset(b + header + nonce, 3, ct);
    memset(b + header + nonce + ct, 4, sig);
    Passerelle__V1__Envelope e = PASSERELLE__V1__ENVELOPE__INIT;
    e.header = (ProtobufCBinaryData){header, b};
    e.nonce = (ProtobufCBinaryData){nonce, b + header};
    e.ciphertext = (ProtobufCBinaryData){ct, b + header + nonce};
    e.signature = (ProtobufCBinaryData){sig, b + header + nonce + ct};
    pl_packet_t p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_ENVELOPE;
    p.envelope = &e;
    // protobuf-c encodes what the full decode would refuse, too
    size_t n = protobuf_c_message_get_packed_size(&p.base);
    assert_int_equal(pl_buf_reserve(out, n), PL_OK);
    out->len = protobuf_c_message_pack(&p.base, out->data);
    free(b);
}

static bool
s_is(const uint8_t *a, size_t len, uint8_t byte)
{
    for (size_t i = 0; i < len; i++)
        if (a[i] != byte)
            return false;
    return true;
}

// Both decoders on 'data': the peek never takes what the full decode
// refuses, and what it takes is the full decode's envelope. Returns the
// peek's code.
static int
s_both(const uint8_t *data, size_t len)
{
    pl_envelope_t v;
    int prc = pl_envelope_peek(data, len, &v);
    pl_packet_t *pkt = NULL;
    int rc = pl_wire_decode(data, len, &pkt);
    if (prc == PL_OK) {
        assert_int_equal(rc, PL_OK);
        assert_int_equal(pkt->kind_case, PASSERELLE__V1__PACKET__KIND_ENVELOPE);
        const Passerelle__V1__Envelope *e = pkt->envelope;
        assert_int_equal(v.header_len, e->header.len);
        assert_memory_equal(v.header, e->header.data, v.header_len);
        assert_int_equal(e->nonce.len, PL_NONCE_BYTES);
        assert_memory_equal(v.nonce, e->nonce.data, PL_NONCE_BYTES);
        assert_int_equal(v.ct_len, e->ciphertext.len);
        assert_memory_equal(v.ct, e->ciphertext.data, v.ct_len);
        assert_int_equal(e->signature.len, PL_SIG_BYTES);
        assert_memory_equal(v.sig, e->signature.data, PL_SIG_BYTES);
        // in place: pointers into the input, no copy
        assert_true(v.header > data && v.sig + PL_SIG_BYTES <= data + len);
    } else {
        assert_true(prc == PL_ENOTFOUND || prc == PL_ETOOBIG);
        assert_null(v.header);
        assert_null(v.ct);
    }
    assert_int_equal(prc == PL_ETOOBIG, rc == PL_ETOOBIG);
    pl_wire_free(&pkt);
    return prc;
}

static void
test_canonical_taken_in_place(void **state)
{
    (void) state;
    // the smallest, the bench's 4 KiB bucket, a 1 MiB bucket, the limits
    const size_t cts[] = {16, 127, 128, 4168, 16383, 16384, 1024 * 1024 + 40};
    for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++) {
        pl_buf_t b = {0};
        s_envelope(&b, 103, PL_NONCE_BYTES, cts[i], PL_SIG_BYTES);
        assert_int_equal(s_both(b.data, b.len), PL_OK);
        pl_envelope_t v;
        assert_int_equal(pl_envelope_peek(b.data, b.len, &v), PL_OK);
        assert_true(s_is(v.header, v.header_len, 1) && v.header_len == 103);
        assert_true(s_is(v.nonce, PL_NONCE_BYTES, 2));
        assert_true(s_is(v.ct, v.ct_len, 3) && v.ct_len == cts[i]);
        assert_true(s_is(v.sig, PL_SIG_BYTES, 4));
        pl_buf_free(&b);
    }
    // header of 1 and of PL_HEADER_MAX bytes
    pl_buf_t b = {0};
    s_envelope(&b, 1, PL_NONCE_BYTES, 16, PL_SIG_BYTES);
    assert_int_equal(s_both(b.data, b.len), PL_OK);
    pl_buf_free(&b);
    s_envelope(&b, PL_HEADER_MAX, PL_NONCE_BYTES, 16, PL_SIG_BYTES);
    assert_int_equal(s_both(b.data, b.len), PL_OK);
    pl_buf_free(&b);
}

static void
test_wrong_sizes_refused_by_both(void **state)
{
    (void) state;
    const size_t bad[][4] = {
        {0, PL_NONCE_BYTES, 16, PL_SIG_BYTES},
        {PL_HEADER_MAX + 1, PL_NONCE_BYTES, 16, PL_SIG_BYTES},
        {10, PL_NONCE_BYTES - 1, 16, PL_SIG_BYTES},
        {10, PL_NONCE_BYTES + 1, 16, PL_SIG_BYTES},
        {10, 0, 16, PL_SIG_BYTES},
        {10, PL_NONCE_BYTES, 15, PL_SIG_BYTES},
        {10, PL_NONCE_BYTES, 0, PL_SIG_BYTES},
        {10, PL_NONCE_BYTES, 16, PL_SIG_BYTES - 1},
        {10, PL_NONCE_BYTES, 16, PL_SIG_BYTES + 1},
        {10, PL_NONCE_BYTES, 16, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pl_buf_t b = {0};
        s_envelope(&b, bad[i][0], bad[i][1], bad[i][2], bad[i][3]);
        pl_packet_t *pkt = NULL;
        assert_int_not_equal(pl_wire_decode(b.data, b.len, &pkt), PL_OK);
        assert_int_equal(s_both(b.data, b.len), PL_ENOTFOUND);
        pl_buf_free(&b);
    }
}

static void
test_truncated_and_oversized(void **state)
{
    (void) state;
    pl_buf_t b = {0};
    s_envelope(&b, 103, PL_NONCE_BYTES, 4168, PL_SIG_BYTES);
    // every strict prefix, and the packet with a byte more
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(s_both(b.data, n), PL_ENOTFOUND);
    assert_int_equal(pl_buf_append(&b, "", 1), PL_OK);
    assert_int_not_equal(pl_envelope_peek(b.data, b.len, &(pl_envelope_t){0}),
                         PL_OK);
    (void) s_both(b.data, b.len);
    pl_buf_free(&b);
    size_t n = PL_PACKET_MAX + 1;
    uint8_t *big = calloc(1, n);
    assert_non_null(big);
    assert_int_equal(s_both(big, n), PL_ETOOBIG);
    free(big);
}

// Hand-built: wire-type changes, other layouts, other kinds.
static void
test_other_layouts_left_to_the_full_decode(void **state)
{
    (void) state;
    pl_buf_t b = {0};
    s_envelope(&b, 3, PL_NONCE_BYTES, 16, PL_SIG_BYTES);
    // 0a LEN | 0a 03 h h h | 12 18 n*24 | 1a 10 c*16 | 22 40 s*64
    const size_t env_at = 2, nonce_at = env_at + 5, ct_at = nonce_at + 26;
    assert_int_equal(b.data[env_at], 0x0a);
    assert_int_equal(b.data[nonce_at], 0x12);
    assert_int_equal(b.data[ct_at], 0x1a);
    struct {
        size_t at;
        uint8_t byte;
    } flips[] = {
        {0, 0x08},           // packet field 1 as a varint: wrong wire type
        {0, 0x12},           // packet field 2 (hello) holding the bytes
        {env_at, 0x08},      // header as a varint
        {env_at, 0x0d},      // header as fixed32
        {nonce_at, 0x11},    // nonce as fixed64
        {nonce_at, 0x1a},    // field 3 where the nonce is (order, sizes)
        {ct_at, 0x2a},       // field 5 (unknown) for the ciphertext
        {ct_at + 1, 0x0f},   // ciphertext length one short
        {ct_at + 1, 0x90},   // ciphertext length: an unfinished varint
        {b.len - 66, 0x23},  // signature key: wire type 3 (a group)
        {1, (uint8_t) 0x80}, // packet length: an unfinished varint
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        uint8_t *c = malloc(b.len);
        assert_non_null(c);
        memcpy(c, b.data, b.len);
        c[flips[i].at] = flips[i].byte;
        assert_int_equal(s_both(c, b.len), PL_ENOTFOUND);
        free(c);
    }
    // a valid envelope in another layout: a padded length (protobuf-c
    // reads it), an unknown field, fields out of order: not taken in
    // place, decoded in full
    pl_buf_t o = {0};
    const uint8_t pad_env[] = {0x0a, 0x03, 'h', 'h', 'h', 0x12, 0x98, 0x00};
    assert_int_equal(pl_buf_append(&o, pad_env, sizeof pad_env), PL_OK);
    assert_int_equal(
        pl_buf_append(&o, b.data + nonce_at + 2, b.len - nonce_at - 2), PL_OK);
    pl_buf_t p = {0};
    const uint8_t key = 0x0a;
    uint8_t len = (uint8_t) o.len;
    assert_true(o.len < 128);
    assert_int_equal(pl_buf_append(&p, &key, 1), PL_OK);
    assert_int_equal(pl_buf_append(&p, &len, 1), PL_OK);
    assert_int_equal(pl_buf_append(&p, o.data, o.len), PL_OK);
    pl_packet_t *pkt = NULL;
    assert_int_equal(pl_wire_decode(p.data, p.len, &pkt), PL_OK);
    pl_wire_free(&pkt);
    assert_int_equal(s_both(p.data, p.len), PL_ENOTFOUND);
    pl_buf_free(&p);
    pl_buf_free(&o);
    // the same packet twice in one frame (protobuf-c merges them)
    pl_buf_t twice = {0};
    assert_int_equal(pl_buf_append(&twice, b.data, b.len), PL_OK);
    assert_int_equal(pl_buf_append(&twice, b.data, b.len), PL_OK);
    assert_int_equal(s_both(twice.data, twice.len), PL_ENOTFOUND);
    pl_buf_free(&twice);
    pl_buf_free(&b);
    // other kinds
    const uint8_t id[PL_MSG_ID_BYTES] = {7};
    pl_buf_t t = {0};
    assert_int_equal(
        pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_TAKEN, id, &t), PL_OK);
    assert_int_equal(s_both(t.data, t.len), PL_ENOTFOUND);
    pl_buf_free(&t);
}

// Random single-byte changes of a valid packet: never taken in place
// unless the full decode takes the same envelope.
static void
test_mutations_agree(void **state)
{
    (void) state;
    uint64_t seed = pl_test_seed();
    pl_buf_t b = {0};
    s_envelope(&b, 103, PL_NONCE_BYTES, 200, PL_SIG_BYTES);
    uint8_t *c = malloc(b.len);
    assert_non_null(c);
    int taken = 0;
    for (int i = 0; i < 20000; i++) {
        memcpy(c, b.data, b.len);
        size_t at = (size_t) (pl_test_rand(&seed) % b.len);
        c[at] = (uint8_t) pl_test_rand(&seed);
        size_t len = b.len - (size_t) (pl_test_rand(&seed) % 3);
        taken += s_both(c, len) == PL_OK;
    }
    assert_true(taken > 0); // changes inside the fields' bytes keep it valid
    free(c);
    pl_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_taken_in_place),
        cmocka_unit_test(test_wrong_sizes_refused_by_both),
        cmocka_unit_test(test_truncated_and_oversized),
        cmocka_unit_test(test_other_layouts_left_to_the_full_decode),
        cmocka_unit_test(test_mutations_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
