// test_envelope - envelope seal/open, tampering, forwarding, receipts
// (proto/pl_envelope).
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_envelope.h"

#define A_ADDR "sn/agency"
#define B_ADDR "sn/hopital-fann"
#define C_ADDR "sn/other"
#define NOW    1700000000u

// ---- fixture: three nodes' keys

typedef struct {
    pl_keys_t *a, *b, *c; // sender, recipient, third party
} fixture_t;

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f || pl_keys_generate(&f->a) || pl_keys_generate(&f->b)
        || pl_keys_generate(&f->c))
        return -1;
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    pl_keys_destroy(&f->a);
    pl_keys_destroy(&f->b);
    pl_keys_destroy(&f->c);
    free(f);
    return 0;
}

// A sealed envelope with its own copies of the four fields.
typedef struct {
    pl_buf_t packet; // the encoded Packet
    uint8_t id[16];  // message id
    uint8_t *header; // copies, so tests can tamper with them
    size_t header_len;
    uint8_t nonce[PL_NONCE_BYTES];
    uint8_t *ct;
    size_t ct_len;
    uint8_t sig[PL_SIG_BYTES];
} sealed_t;

static void
s_sealed_free(sealed_t *s)
{
    pl_buf_free(&s->packet);
    free(s->header);
    free(s->ct);
    memset(s, 0, sizeof *s);
}

static void
s_view(const sealed_t *s, pl_envelope_t *v)
{
    v->header = s->header;
    v->header_len = s->header_len;
    v->nonce = s->nonce;
    v->ct = s->ct;
    v->ct_len = s->ct_len;
    v->sig = s->sig;
}

// Seals msg from 'from' (keys) to 'to' (box key), decodes the packet and
// copies its envelope fields into s.
static void
s_seal(const pl_keys_t *from, const char *from_addr, const char *to_addr,
       const uint8_t *to_box_pk, const uint8_t *msg, size_t len, sealed_t *s)
{
    memset(s, 0, sizeof *s);
    pl_seal_args_t args = {.sender = from,
                           .from = from_addr,
                           .to = to_addr,
                           .to_box_pk = to_box_pk,
                           .now = NOW};
    assert_int_equal(pl_envelope_seal(&args, msg, len, s->id, &s->packet),
                     PL_OK);
    pl_packet_t *pkt = NULL;
    assert_int_equal(pl_wire_decode(s->packet.data, s->packet.len, &pkt),
                     PL_OK);
    assert_int_equal(pkt->kind_case, PASSERELLE__V1__PACKET__KIND_ENVELOPE);
    pl_envelope_t v;
    pl_envelope_view(pkt->envelope, &v);
    assert_non_null(v.nonce);
    assert_non_null(v.sig);
    s->header_len = v.header_len;
    s->header = malloc(v.header_len);
    memcpy(s->header, v.header, v.header_len);
    memcpy(s->nonce, v.nonce, PL_NONCE_BYTES);
    s->ct_len = v.ct_len;
    s->ct = malloc(v.ct_len);
    memcpy(s->ct, v.ct, v.ct_len);
    memcpy(s->sig, v.sig, PL_SIG_BYTES);
    pl_wire_free(&pkt);
}

// Opens s as B; returns the code, checks nothing leaks out on failure.
static int
s_open_as(const sealed_t *s, const char *me, const pl_keys_t *me_keys,
          const uint8_t *sender_sign_pk, pl_buf_t *msg)
{
    pl_envelope_t v;
    s_view(s, &v);
    int rc = pl_envelope_open(&v, me, me_keys->pub.box, me_keys->sec->box,
                              sender_sign_pk, NULL, msg);
    if (rc != PL_OK)
        assert_int_equal(msg->len, 0);
    return rc;
}

static int
s_open_b(fixture_t *f, const sealed_t *s)
{
    pl_buf_t msg = {0};
    int rc = s_open_as(s, B_ADDR, f->b, f->a->pub.sign, &msg);
    pl_buf_wipe(&msg);
    return rc;
}

static uint8_t *
s_pattern(size_t len)
{
    uint8_t *m = malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        m[i] = (uint8_t) (i * 31 + 7);
    return m;
}

// ---- tests

static void
test_pad_bucket(void **state)
{
    (void) state;
    assert_int_equal(pl_pad_bucket(0), 1024);
    assert_int_equal(pl_pad_bucket(1023), 1024);
    assert_int_equal(pl_pad_bucket(1024), 4096);
    assert_int_equal(pl_pad_bucket(4095), 4096);
    assert_int_equal(pl_pad_bucket(4096), 16384);
    assert_int_equal(pl_pad_bucket(262143), 262144);
    assert_int_equal(pl_pad_bucket(262144), 1048576);
    assert_int_equal(pl_pad_bucket(1048575), 1048576);
    assert_int_equal(pl_pad_bucket(1048576), 0);
}

static void
test_roundtrip_sizes(void **state)
{
    fixture_t *f = *state;
    // plaintext = 4 + len + 64: each bucket edge from both sides
    const size_t sizes[] = {0,
                            1,
                            1000,
                            955,
                            956,
                            4027,
                            4028,
                            16315,
                            16316,
                            65467,
                            65468,
                            262075,
                            262076,
                            PL_MESSAGE_MAX - 1,
                            PL_MESSAGE_MAX};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t len = sizes[i];
        uint8_t *m = s_pattern(len);
        sealed_t s;
        s_seal(f->a, A_ADDR, B_ADDR, f->b->pub.box, m, len, &s);
        assert_true(s.packet.len <= PL_PACKET_MAX);
        // the ciphertext is exactly one bucket plus the AEAD tag
        assert_int_equal(s.ct_len, pl_pad_bucket(4 + len + 64) + 16);

        pl_buf_t msg = {0};
        pl_header_t h;
        pl_envelope_t v;
        s_view(&s, &v);
        assert_int_equal(pl_envelope_verify(&v, f->a->pub.sign), PL_OK);
        assert_int_equal(pl_envelope_open(&v, B_ADDR, f->b->pub.box,
                                          f->b->sec->box, f->a->pub.sign, &h,
                                          &msg),
                         PL_OK);
        assert_int_equal(msg.len, len);
        if (len)
            assert_memory_equal(msg.data, m, len);
        assert_memory_equal(h.id, s.id, 16);
        assert_string_equal(h.from, A_ADDR);
        assert_string_equal(h.to, B_ADDR);
        assert_int_equal(h.created_at, NOW);
        assert_int_equal(h.expires_at, NOW + PL_TTL_DEFAULT);
        uint8_t kid[8];
        pl_key_id(f->b->pub.box, kid);
        assert_memory_equal(h.key_id, kid, 8);
        pl_buf_wipe(&msg);
        s_sealed_free(&s);
        free(m);
    }
}

static void
test_padded_lengths(void **state)
{
    fixture_t *f = *state;
    const struct {
        size_t len, ct;
    } want[] = {{0, 1024 + 16},       {955, 1024 + 16},
                {956, 4096 + 16},     {3000, 4096 + 16},
                {4028, 16384 + 16},   {20000, 65536 + 16},
                {70000, 262144 + 16}, {300000, 1048576 + 16}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint8_t *m = s_pattern(want[i].len);
        sealed_t s;
        s_seal(f->a, A_ADDR, B_ADDR, f->b->pub.box, m, want[i].len, &s);
        assert_int_equal(s.ct_len, want[i].ct);
        s_sealed_free(&s);
        free(m);
    }
}

static void
test_seal_refuses(void **state)
{
    fixture_t *f = *state;
    pl_buf_t out = {0};
    uint8_t m[4] = {1, 2, 3, 4};
    pl_seal_args_t args = {.sender = f->a,
                           .from = A_ADDR,
                           .to = B_ADDR,
                           .to_box_pk = f->b->pub.box,
                           .now = NOW};
    uint8_t *big = calloc(1, PL_MESSAGE_MAX + 1);
    assert_int_equal(
        pl_envelope_seal(&args, big, PL_MESSAGE_MAX + 1, NULL, &out),
        PL_ETOOBIG);
    free(big);
    args.to = "hopital-fann"; // not a full address
    assert_int_equal(pl_envelope_seal(&args, m, 4, NULL, &out), PL_EINVAL);
    args.to = B_ADDR;
    args.from = "SN/Agency";
    assert_int_equal(pl_envelope_seal(&args, m, 4, NULL, &out), PL_EINVAL);
    args.from = A_ADDR;
    args.ttl = PL_TTL_MAX + 1;
    assert_int_equal(pl_envelope_seal(&args, m, 4, NULL, &out), PL_EINVAL);
    args.ttl = 0;
    // a low-order recipient key is refused by crypto_kx
    uint8_t zero[32] = {0};
    args.to_box_pk = zero;
    assert_int_equal(pl_envelope_seal(&args, m, 4, NULL, &out), PL_EAUTH);
    assert_int_equal(out.len, 0);

    // a given id and ttl are used as they are
    uint8_t id[16], got[16];
    memset(id, 0xab, sizeof id);
    args.to_box_pk = f->b->pub.box;
    args.id = id;
    args.ttl = 3600;
    assert_int_equal(pl_envelope_seal(&args, m, 4, got, &out), PL_OK);
    assert_memory_equal(got, id, 16);
    pl_packet_t *pkt = NULL;
    assert_int_equal(pl_wire_decode(out.data, out.len, &pkt), PL_OK);
    pl_header_t h;
    assert_int_equal(pl_header_decode(pkt->envelope->header.data,
                                      pkt->envelope->header.len, &h),
                     PL_OK);
    assert_memory_equal(h.id, id, 16);
    assert_int_equal(h.expires_at, NOW + 3600);
    pl_wire_free(&pkt);
    pl_buf_free(&out);
}

static void
test_every_byte_flip_fails(void **state)
{
    fixture_t *f = *state;
    sealed_t s;
    const uint8_t m[] = "referral: small";
    s_seal(f->a, A_ADDR, B_ADDR, f->b->pub.box, m, sizeof m, &s);
    assert_int_equal(s_open_b(f, &s), PL_OK);

    for (size_t i = 0; i < s.header_len; i++) {
        s.header[i] ^= 0x01;
        assert_int_not_equal(s_open_b(f, &s), PL_OK);
        s.header[i] ^= 0x81;
        assert_int_not_equal(s_open_b(f, &s), PL_OK);
        s.header[i] ^= 0x80;
    }
    for (size_t i = 0; i < PL_NONCE_BYTES; i++) {
        s.nonce[i] ^= 0x01;
        assert_int_not_equal(s_open_b(f, &s), PL_OK);
        s.nonce[i] ^= 0x01;
    }
    for (size_t i = 0; i < s.ct_len; i++) {
        s.ct[i] ^= 0x01;
        assert_int_not_equal(s_open_b(f, &s), PL_OK);
        s.ct[i] ^= 0x01;
    }
    for (size_t i = 0; i < PL_SIG_BYTES; i++) {
        s.sig[i] ^= 0x01;
        assert_int_not_equal(s_open_b(f, &s), PL_OK);
        s.sig[i] ^= 0x01;
    }
    // truncated or extended ciphertext and header
    s.ct_len--;
    assert_int_not_equal(s_open_b(f, &s), PL_OK);
    s.ct_len++;
    s.header_len--;
    assert_int_not_equal(s_open_b(f, &s), PL_OK);
    s.header_len++;
    assert_int_equal(s_open_b(f, &s), PL_OK); // all restored
    s_sealed_free(&s);
}

static void
test_big_envelope_sampled_flips(void **state)
{
    fixture_t *f = *state;
    size_t len = 200000;
    uint8_t *m = s_pattern(len);
    sealed_t s;
    s_seal(f->a, A_ADDR, B_ADDR, f->b->pub.box, m, len, &s);
    assert_int_equal(s_open_b(f, &s), PL_OK);
    // first and last bytes, and a spread in between
    for (size_t k = 0; k < 48; k++) {
        size_t i = k < 8    ? k
                   : k < 16 ? s.ct_len - 1 - (k - 8)
                            : (k * 2654435761u) % s.ct_len;
        s.ct[i] ^= 0x20;
        assert_int_not_equal(s_open_b(f, &s), PL_OK);
        s.ct[i] ^= 0x20;
    }
    assert_int_equal(s_open_b(f, &s), PL_OK);
    s_sealed_free(&s);
    free(m);
}

static void
test_third_party_cannot_open(void **state)
{
    fixture_t *f = *state;
    sealed_t s;
    const uint8_t m[] = "for B only";
    s_seal(f->a, A_ADDR, B_ADDR, f->b->pub.box, m, sizeof m, &s);
    pl_buf_t msg = {0};
    // C with its own keys, as itself or pretending to be B
    assert_int_equal(s_open_as(&s, C_ADDR, f->c, f->a->pub.sign, &msg),
                     PL_EINVAL);
    assert_int_equal(s_open_as(&s, B_ADDR, f->c, f->a->pub.sign, &msg),
                     PL_EINVAL);
    // B's address and public key id but C's secret: decryption fails
    pl_envelope_t v;
    s_view(&s, &v);
    assert_int_equal(pl_envelope_open(&v, B_ADDR, f->b->pub.box, f->c->sec->box,
                                      f->a->pub.sign, NULL, &msg),
                     PL_EAUTH);
    // the wrong sender key: outer signature fails
    assert_int_equal(s_open_as(&s, B_ADDR, f->b, f->c->pub.sign, &msg),
                     PL_EAUTH);
    assert_int_equal(pl_envelope_verify(&v, f->c->pub.sign), PL_EAUTH);
    assert_int_equal(msg.len, 0);
    s_sealed_free(&s);
}

static void
test_rewrapped_body_fails(void **state)
{
    fixture_t *f = *state;
    sealed_t s1, s2;
    const uint8_t m1[] = "first", m2[] = "second";
    s_seal(f->a, A_ADDR, B_ADDR, f->b->pub.box, m1, sizeof m1, &s1);
    s_seal(f->a, A_ADDR, B_ADDR, f->b->pub.box, m2, sizeof m2, &s2);
    // header of the second, nonce + ciphertext + signature of the first
    sealed_t mix = s1;
    mix.header = s2.header;
    mix.header_len = s2.header_len;
    assert_int_equal(s_open_b(f, &mix), PL_EAUTH);
    // and the outer signature of the second as well
    memcpy(mix.sig, s2.sig, PL_SIG_BYTES);
    assert_int_equal(s_open_b(f, &mix), PL_EAUTH);
    s_sealed_free(&s1);
    s_sealed_free(&s2);
}

// Re-encodes 'header' with 'to' changed, and the key id too if kid.
static size_t
s_header_with_to(const uint8_t *header, size_t len, const char *to,
                 const uint8_t *kid, uint8_t *out)
{
    Passerelle__V1__Header *h =
        passerelle__v1__header__unpack(NULL, len, header);
    assert_non_null(h);
    char *old = h->to;
    ProtobufCBinaryData old_kid = h->recipient_key_id;
    h->to = (char *) to;
    if (kid)
        h->recipient_key_id = (ProtobufCBinaryData){8, (uint8_t *) kid};
    size_t n = protobuf_c_message_pack(&h->base, out);
    h->to = old;
    h->recipient_key_id = old_kid;
    passerelle__v1__header__free_unpacked(h, NULL);
    return n;
}

static void
test_surreptitious_forwarding(void **state)
{
    fixture_t *f = *state;
    sealed_t s;
    const uint8_t m[] = "referral for B";
    s_seal(f->a, A_ADDR, B_ADDR, f->b->pub.box, m, sizeof m, &s);

    // C presents itself as the recipient: not for it
    pl_buf_t msg = {0};
    assert_int_equal(s_open_as(&s, C_ADDR, f->c, f->a->pub.sign, &msg),
                     PL_EINVAL);

    // 'to' changed to C in the header: the outer signature breaks
    uint8_t hdr[PL_HEADER_MAX];
    sealed_t fwd = s;
    fwd.header_len =
        s_header_with_to(s.header, s.header_len, C_ADDR, NULL, hdr);
    fwd.header = hdr;
    assert_int_equal(s_open_as(&fwd, C_ADDR, f->c, f->a->pub.sign, &msg),
                     PL_EINVAL); // key id is still B's
    assert_int_equal(s_open_as(&fwd, B_ADDR, f->b, f->a->pub.sign, &msg),
                     PL_EINVAL); // no longer to B
    // 'to' and key id both C's: C's box key cannot help, the header bytes
    // are not the ones A signed
    uint8_t kid[8];
    pl_key_id(f->c->pub.box, kid);
    fwd.header_len = s_header_with_to(s.header, s.header_len, C_ADDR, kid, hdr);
    assert_int_equal(s_open_as(&fwd, C_ADDR, f->c, f->a->pub.sign, &msg),
                     PL_EAUTH);
    assert_int_equal(msg.len, 0);
    s_sealed_free(&s);
}

// B opens A's message, then re-seals the same plaintext, with A's inner
// signature, to C under a fresh header ("from A", or "from B"), signing the
// outer layer itself. C must refuse both: the inner signature covers the
// header that named B.
static void
test_forwarded_inner_signature_fails(void **state)
{
    fixture_t *f = *state;
    sealed_t s;
    const uint8_t m[] = "referral for B";
    s_seal(f->a, A_ADDR, B_ADDR, f->b->pub.box, m, sizeof m, &s);
    // what B learns by opening: the plaintext and A's inner signature
    uint8_t rx[32], tx[32], plain[1024];
    unsigned long long plen = 0;
    pl_header_t h;
    assert_int_equal(pl_header_decode(s.header, s.header_len, &h), PL_OK);
    assert_int_equal(crypto_kx_server_session_keys(rx, tx, f->b->pub.box,
                                                   f->b->sec->box, h.eph_pk),
                     0);
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(
                         plain, &plen, NULL, s.ct, s.ct_len, s.header,
                         s.header_len, s.nonce, rx),
                     0);
    assert_int_equal(plen, 1024);

    const char *froms[] = {A_ADDR, "sn/hopital-fann"};
    for (int k = 0; k < 2; k++) {
        // B builds a header to C and encrypts the same padded plaintext
        uint8_t eph_pk[32], eph_sk[32], kid[8], id[16], nonce[24];
        crypto_kx_keypair(eph_pk, eph_sk);
        assert_int_equal(crypto_kx_client_session_keys(rx, tx, eph_pk, eph_sk,
                                                       f->c->pub.box),
                         0);
        pl_key_id(f->c->pub.box, kid);
        randombytes_buf(id, sizeof id);
        Passerelle__V1__Header hh = PASSERELLE__V1__HEADER__INIT;
        hh.version = 1;
        hh.suite = 1;
        hh.message_id = (ProtobufCBinaryData){16, id};
        hh.from = (char *) froms[k];
        hh.to = C_ADDR;
        hh.recipient_key_id = (ProtobufCBinaryData){8, kid};
        hh.created_at = NOW;
        hh.expires_at = NOW + 60;
        hh.ephemeral_pk = (ProtobufCBinaryData){32, eph_pk};
        uint8_t hdr[PL_HEADER_MAX], ct[1024 + 16], in[19 + PL_HEADER_MAX + 32];
        size_t hl = protobuf_c_message_pack(&hh.base, hdr);
        unsigned long long cl = 0;
        randombytes_buf(nonce, sizeof nonce);
        crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &cl, plain, plen, hdr,
                                                   hl, NULL, nonce, tx);
        // B signs the outer layer (it cannot sign as A)
        memcpy(in, "passerelle-outer-v1", 19);
        memcpy(in + 19, hdr, hl);
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, 32);
        crypto_generichash_update(&st, nonce, 24);
        crypto_generichash_update(&st, ct, cl);
        crypto_generichash_final(&st, in + 19 + hl, 32);
        sealed_t fwd = {0};
        fwd.header = hdr;
        fwd.header_len = hl;
        memcpy(fwd.nonce, nonce, 24);
        fwd.ct = ct;
        fwd.ct_len = (size_t) cl;
        crypto_sign_detached(fwd.sig, NULL, in, 19 + hl + 32, f->b->sec->sign);

        pl_buf_t msg = {0};
        // C believes the header's sender A: the outer signature is B's
        assert_int_equal(s_open_as(&fwd, C_ADDR, f->c, f->a->pub.sign, &msg),
                         PL_EAUTH);
        // C checks B's outer signature: fine, but the inner one is A's over
        // a header naming B: refused
        assert_int_equal(s_open_as(&fwd, C_ADDR, f->c, f->b->pub.sign, &msg),
                         PL_EAUTH);
        assert_int_equal(msg.len, 0);
        sodium_memzero(eph_sk, sizeof eph_sk);
    }
    sodium_memzero(plain, sizeof plain);
    sodium_memzero(rx, sizeof rx);
    sodium_memzero(tx, sizeof tx);
    s_sealed_free(&s);
}

static void
test_receipts(void **state)
{
    fixture_t *f = *state;
    sealed_t s;
    const uint8_t m[] = "x";
    s_seal(f->a, A_ADDR, B_ADDR, f->b->pub.box, m, sizeof m, &s);
    pl_envelope_t v;
    s_view(&s, &v);
    uint8_t d[32], want[32], sig[64];
    pl_envelope_digest(&v, d);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, s.header, s.header_len);
    crypto_generichash_update(&st, s.nonce, 24);
    crypto_generichash_update(&st, s.ct, s.ct_len);
    crypto_generichash_final(&st, want, 32);
    assert_memory_equal(d, want, 32);

    uint64_t at = NOW + 5;
    pl_receipt_sign(f->b, s.id, d, at, sig);
    assert_int_equal(pl_receipt_verify(f->b->pub.sign, s.id, d, at, sig),
                     PL_OK);
    // any change is refused
    assert_int_equal(pl_receipt_verify(f->a->pub.sign, s.id, d, at, sig),
                     PL_EAUTH);
    assert_int_equal(pl_receipt_verify(f->b->pub.sign, s.id, d, at + 1, sig),
                     PL_EAUTH);
    assert_int_equal(
        pl_receipt_verify(f->b->pub.sign, s.id, d, at ^ (1ull << 40), sig),
        PL_EAUTH);
    for (size_t i = 0; i < 16; i++) {
        s.id[i] ^= 1;
        assert_int_equal(pl_receipt_verify(f->b->pub.sign, s.id, d, at, sig),
                         PL_EAUTH);
        s.id[i] ^= 1;
    }
    for (size_t i = 0; i < 32; i++) {
        d[i] ^= 1;
        assert_int_equal(pl_receipt_verify(f->b->pub.sign, s.id, d, at, sig),
                         PL_EAUTH);
        d[i] ^= 1;
    }
    for (size_t i = 0; i < 64; i++) {
        sig[i] ^= 1;
        assert_int_equal(pl_receipt_verify(f->b->pub.sign, s.id, d, at, sig),
                         PL_EAUTH);
        sig[i] ^= 1;
    }
    assert_int_equal(pl_receipt_verify(f->b->pub.sign, s.id, d, at, sig),
                     PL_OK);
    // the digest changes with any byte of the envelope
    s.ct[0] ^= 1;
    s_view(&s, &v);
    pl_envelope_digest(&v, want);
    assert_memory_not_equal(d, want, 32);
    s_sealed_free(&s);
}

// Packs a Header with one field spoiled by 'spoil'.
static size_t
s_header(int spoil, uint8_t *out)
{
    uint8_t id[17] = {1}, kid[9] = {2}, eph[33] = {3};
    Passerelle__V1__Header h = PASSERELLE__V1__HEADER__INIT;
    h.version = spoil == 1 ? 2 : 1;
    h.suite = spoil == 2 ? 2 : 1;
    h.message_id = (ProtobufCBinaryData){spoil == 3 ? 15 : 16, id};
    h.from = spoil == 4 ? "agency" : A_ADDR;
    h.to = spoil == 5 ? "sn/B" : B_ADDR;
    h.recipient_key_id = (ProtobufCBinaryData){spoil == 6 ? 9 : 8, kid};
    h.created_at = NOW;
    h.expires_at = spoil == 7 ? NOW : NOW + 1;
    h.ephemeral_pk = (ProtobufCBinaryData){spoil == 8 ? 33 : 32, eph};
    return protobuf_c_message_pack(&h.base, out);
}

static void
test_header_decode_rejects(void **state)
{
    (void) state;
    uint8_t buf[PL_HEADER_MAX + 16];
    pl_header_t h;
    size_t n = s_header(0, buf);
    assert_int_equal(pl_header_decode(buf, n, &h), PL_OK);
    assert_string_equal(h.from, A_ADDR);
    for (int spoil = 1; spoil <= 8; spoil++) {
        size_t m = s_header(spoil, buf);
        assert_int_equal(pl_header_decode(buf, m, &h), PL_EPROTO);
    }
    // every truncation
    n = s_header(0, buf);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(pl_header_decode(buf, i, &h), PL_EPROTO);
    // empty, too long, NULL
    assert_int_equal(pl_header_decode(buf, 0, &h), PL_EPROTO);
    memset(buf, 0, sizeof buf);
    assert_int_equal(pl_header_decode(buf, PL_HEADER_MAX + 1, &h), PL_EPROTO);
    assert_int_equal(pl_header_decode(NULL, 10, &h), PL_EPROTO);
    // garbage, deterministic
    uint32_t x = 2463534242u;
    for (int round = 0; round < 2000; round++) {
        size_t len = 1 + round % 300;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = (uint8_t) x;
        }
        assert_int_equal(pl_header_decode(buf, len, &h), PL_EPROTO);
    }
}

static void
test_view_of_wrong_sizes(void **state)
{
    fixture_t *f = *state;
    sealed_t s;
    const uint8_t m[] = "x";
    s_seal(f->a, A_ADDR, B_ADDR, f->b->pub.box, m, sizeof m, &s);
    Passerelle__V1__Envelope env = PASSERELLE__V1__ENVELOPE__INIT;
    env.header = (ProtobufCBinaryData){s.header_len, s.header};
    env.nonce = (ProtobufCBinaryData){23, s.nonce};
    env.ciphertext = (ProtobufCBinaryData){s.ct_len, s.ct};
    env.signature = (ProtobufCBinaryData){64, s.sig};
    pl_envelope_t v;
    pl_envelope_view(&env, &v);
    assert_null(v.nonce);
    assert_int_equal(pl_envelope_verify(&v, f->a->pub.sign), PL_EPROTO);
    pl_buf_t msg = {0};
    assert_int_equal(pl_envelope_open(&v, B_ADDR, f->b->pub.box, f->b->sec->box,
                                      f->a->pub.sign, NULL, &msg),
                     PL_EPROTO);
    env.nonce.len = 24;
    env.signature.len = 63;
    pl_envelope_view(&env, &v);
    assert_null(v.sig);
    assert_int_equal(pl_envelope_verify(&v, f->a->pub.sign), PL_EPROTO);
    env.signature.len = 64;
    pl_envelope_view(&env, &v);
    assert_int_equal(pl_envelope_verify(&v, f->a->pub.sign), PL_OK);
    s_sealed_free(&s);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, s_setup, s_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pad_bucket),
        T(test_roundtrip_sizes),
        T(test_padded_lengths),
        T(test_seal_refuses),
        T(test_every_byte_flip_fails),
        T(test_big_envelope_sampled_flips),
        T(test_third_party_cannot_open),
        T(test_rewrapped_body_fails),
        T(test_surreptitious_forwarding),
        T(test_forwarded_inner_signature_fails),
        T(test_receipts),
        cmocka_unit_test(test_header_decode_rejects),
        T(test_view_of_wrong_sizes),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
