// fuzz_packet - libFuzzer target for the wire decoder and envelope open.
// Layer: tests (fuzz). Built with -fsanitize=fuzzer under PL_FUZZ=ON, and
// linked with replay.c into the ctest fuzz/packet_replay in every build.
//
// For one input it:
//   1. decodes it as a Packet; a success must re-encode, re-decode and
//      re-encode to the same bytes (abort otherwise); an envelope goes
//      through pl_header_decode, pl_envelope_verify and pl_envelope_open
//      with the fixed fuzz keys below, and an opened message is decoded
//      and round-tripped too;
//   2. reads the same bytes with pl_envelope_peek (the broker's in-place
//      reader) and aborts unless both decoders agree: what the peek takes,
//      the full decode takes as the same envelope (same header, nonce,
//      ciphertext and signature bytes); what the full decode refuses, the
//      peek does not take (and it says PL_ETOOBIG exactly when the full
//      decode does); and a packet that is its own canonical encoding,
//      without unknown fields, is taken by the peek (so the broker's fast path
//      is the usual one);
//   3. decodes the same bytes as an inner Message, with the same round trip.
// Any error other than the documented ones aborts, so it shows as a crash.
//
// Fixed keys: a sender (sign) and the recipient "sn/fuzz" (box), derived
// from constant seeds, so the committed seeds in corpus/packet can be real
// sealed envelopes that reach the decrypt path.
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_envelope.h"
#include "proto/pl_keys.h"
#include "proto/pl_peek.h"
#include "proto/pl_wire.h"

#define FUZZ_ME   "sn/fuzz"        // recipient of the seed envelopes
#define FUZZ_FROM "sn/fuzz-sender" // sender of the seed envelopes

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// One fixed identity: sign, box and curve key pairs from seeds 'tag'+0..2.
static pl_keys_t *
s_fixed_keys(uint8_t tag)
{
    uint8_t seed[32];
    pl_keys_t *k = calloc(1, sizeof *k);
    if (!k)
        abort();
    k->sec = sodium_malloc(sizeof *k->sec);
    if (!k->sec)
        abort();
    memset(seed, tag, sizeof seed);
    crypto_sign_seed_keypair(k->pub.sign, k->sec->sign, seed);
    memset(seed, tag + 1, sizeof seed);
    if (crypto_kx_seed_keypair(k->pub.box, k->sec->box, seed) != 0)
        abort();
    memset(seed, tag + 2, sizeof seed);
    if (crypto_kx_seed_keypair(k->pub.curve, k->sec->curve, seed) != 0)
        abort();
    return k;
}

// The sender's keys (index 0) and the recipient's (index 1), built once and
// kept for the life of the process (a fuzz target has no teardown).
static pl_keys_t *
s_keys(int which)
{
    static pl_keys_t *keys[2];
    if (!keys[0]) {
        if (sodium_init() < 0)
            abort();
        keys[0] = s_fixed_keys(0x10);
        keys[1] = s_fixed_keys(0x20);
    }
    return keys[which];
}

// A decode may only fail in the documented ways.
static void
s_expect_decode_error(int rc)
{
    if (rc != PL_EPROTO && rc != PL_ETOOBIG && rc != PL_ENOMEM) {
        fprintf(stderr, "unexpected decode error %d (%s)\n", rc,
                pl_strerror(rc));
        abort();
    }
}

// A decoded packet re-encodes, that encoding decodes, and encoding is a
// fixed point (same bytes the second time).
static void
s_roundtrip_packet(const pl_packet_t *pkt)
{
    pl_buf_t a = {0}, b = {0};
    pl_packet_t *again = NULL;
    if (pl_wire_encode(pkt, &a) != PL_OK)
        abort();
    if (pl_wire_decode(a.data, a.len, &again) != PL_OK)
        abort();
    if (again->kind_case != pkt->kind_case)
        abort();
    if (pl_wire_encode(again, &b) != PL_OK)
        abort();
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        abort();
    pl_wire_free(&again);
    pl_buf_free(&a);
    pl_buf_free(&b);
}

static void
s_roundtrip_message(const pl_message_t *msg)
{
    pl_buf_t a = {0}, b = {0};
    pl_message_t *again = NULL;
    if (pl_message_encode(msg, &a) != PL_OK)
        abort();
    if (pl_message_decode(a.data, a.len, &again) != PL_OK)
        abort();
    if (again->body_case != msg->body_case)
        abort();
    if (pl_message_encode(again, &b) != PL_OK)
        abort();
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
        abort();
    pl_message_free(&again);
    pl_buf_wipe(&a);
    pl_buf_wipe(&b);
}

static void
s_message(const uint8_t *data, size_t size)
{
    pl_message_t *msg = NULL;
    int rc = pl_message_decode(data, size, &msg);
    if (rc != PL_OK) {
        s_expect_decode_error(rc);
        return;
    }
    s_roundtrip_message(msg);
    pl_message_free(&msg);
}

// The recipient's path for an envelope: header, outer signature, open.
static void
s_envelope(const Passerelle__V1__Envelope *e)
{
    const pl_keys_t *from = s_keys(0), *me = s_keys(1);
    pl_envelope_t v;
    pl_header_t hdr;
    pl_envelope_view(e, &v);
    if (pl_header_decode(v.header, v.header_len, &hdr) != PL_OK)
        return;
    // verify alone (the broker's option), then the full open
    int vrc = pl_envelope_verify(&v, from->pub.sign);
    pl_buf_t plain = {0};
    int rc = pl_envelope_open(&v, FUZZ_ME, me->pub.box, me->sec->box,
                              from->pub.sign, &hdr, &plain);
    if (rc == PL_OK) {
        if (vrc != PL_OK)
            abort(); // opened although the outer signature is bad
        s_message(plain.data, plain.len);
    } else if (plain.len != 0) {
        abort(); // "nothing is appended on failure"
    }
    pl_buf_wipe(&plain);
}

static bool
s_same(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a && b && a_len == b_len && memcmp(a, b, a_len) == 0;
}

// Step 2: the in-place reader against the full decode ('rc', 'pkt').
static void
s_peek_agrees(const uint8_t *data, size_t size, int rc, const pl_packet_t *pkt)
{
    pl_envelope_t v;
    int prc = pl_envelope_peek(data, size, &v);
    if ((prc == PL_ETOOBIG) != (rc == PL_ETOOBIG))
        abort();
    if (prc != PL_OK && prc != PL_ENOTFOUND && prc != PL_ETOOBIG)
        abort();
    if (prc != PL_OK) {
        if (v.header || v.nonce || v.ct || v.sig)
            abort(); // zeroed unless PL_OK
        if (rc == PL_OK
            && pkt->kind_case == PASSERELLE__V1__PACKET__KIND_ENVELOPE
            && pkt->base.n_unknown_fields == 0
            && pkt->envelope->base.n_unknown_fields == 0) {
            // left to the full decode: only if not in the canonical layout
            // (protobuf-c keeps unknown fields and writes them back)
            pl_buf_t again = {0};
            if (pl_wire_encode(pkt, &again) != PL_OK)
                abort();
            if (s_same(again.data, again.len, data, size))
                abort();
            pl_buf_free(&again);
        }
        return;
    }
    if (rc != PL_OK || pkt->kind_case != PASSERELLE__V1__PACKET__KIND_ENVELOPE)
        abort(); // taken in place, refused (or another kind) in full
    const Passerelle__V1__Envelope *e = pkt->envelope;
    if (!s_same(v.header, v.header_len, e->header.data, e->header.len)
        || !s_same(v.nonce, PL_NONCE_BYTES, e->nonce.data, e->nonce.len)
        || !s_same(v.ct, v.ct_len, e->ciphertext.data, e->ciphertext.len)
        || !s_same(v.sig, PL_SIG_BYTES, e->signature.data, e->signature.len))
        abort();
    // in place means inside the input
    if (v.header < data || v.sig + PL_SIG_BYTES > data + size)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pl_packet_t *pkt = NULL;
    int rc = pl_wire_decode(data, size, &pkt);
    s_peek_agrees(data, size, rc, pkt);
    if (rc == PL_OK) {
        s_roundtrip_packet(pkt);
        if (pkt->kind_case == PASSERELLE__V1__PACKET__KIND_ENVELOPE)
            s_envelope(pkt->envelope);
        pl_wire_free(&pkt);
    } else {
        s_expect_decode_error(rc);
        if (pkt)
            abort(); // nothing half-built on failure
    }
    s_message(data, size);
    return 0;
}
