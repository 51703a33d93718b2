// pl_envelope - envelope seal/open (suite 1) and receipts. Layer: proto.
// Owns: the libsodium calls of DESIGN.md §3.
//
// Seal (sender A -> recipient B):
//   header   = serialized Header (exact bytes, never re-encoded)
//   inner    = Ed25519_A("passerelle-inner-v1" || header || message)
//   plain    = sodium_pad(u32be(len) || message || inner) to the smallest
//              bucket of 1, 4, 16, 64, 256, 1024 KiB strictly greater
//   tx       = crypto_kx_client_session_keys(eph_pk, eph_sk, B.box_pk).tx
//   ct       = XChaCha20-Poly1305(plain, ad = header, nonce random, key tx)
//   outer    = Ed25519_A("passerelle-outer-v1" || header ||
//                        BLAKE2b-256(nonce || ct))
// Open checks in this order: header sanity and recipient (to == me, key id
// ours), outer signature, decrypt, unpad, inner signature by the same signer.
// The broker sees only the Header; it may check the outer signature.
#ifndef PL_ENVELOPE_H
#define PL_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/pl_keys.h"
#include "proto/pl_util.h"
#include "proto/pl_wire.h"

#define PL_PROTO_VERSION 1
#define PL_SUITE_SODIUM  1
#define PL_DIGEST_BYTES  32                  // BLAKE2b-256
#define PL_MESSAGE_MAX   (1024 * 1024 - 128) // largest inner message
#define PL_TTL_DEFAULT   (30 * 86400)        // 30 days
#define PL_TTL_MAX       (90 * 86400)        // broker maximum

// The decoded header of an envelope.
typedef struct {
    uint32_t version;                // PL_PROTO_VERSION
    uint32_t suite;                  // PL_SUITE_SODIUM
    uint8_t id[PL_MSG_ID_BYTES];     // message id
    char from[PL_ADDRESS_MAX + 1];   // sender address
    char to[PL_ADDRESS_MAX + 1];     // recipient address
    uint8_t key_id[PL_KEY_ID_BYTES]; // recipient box key id
    uint64_t created_at;             // when sealed
    uint64_t expires_at;             // not delivered after
    uint8_t eph_pk[PL_BOX_PK_BYTES]; // ephemeral X25519 key
} pl_header_t;

// A borrowed view of a sealed envelope (e.g. pointing into a decoded
// Packet, valid as long as that packet is).
typedef struct {
    const uint8_t *header; // serialized Header
    size_t header_len;
    const uint8_t *nonce; // PL_NONCE_BYTES
    const uint8_t *ct;    // ciphertext
    size_t ct_len;
    const uint8_t *sig; // PL_SIG_BYTES
} pl_envelope_t;

// Parameters of a seal.
typedef struct {
    const pl_keys_t *sender;  // sender's keys (sign secret used)
    const char *from;         // sender address
    const char *to;           // recipient address
    const uint8_t *to_box_pk; // recipient's box key (32 bytes)
    const uint8_t *id;        // message id; NULL = random
    uint64_t now;             // created_at
    uint64_t ttl;             // seconds; 0 = PL_TTL_DEFAULT
} pl_seal_args_t;

// Seals 'msg' (an encoded pl_message_t) into an encoded Packet holding the
// Envelope, appended to 'packet'. 'id_out' (may be NULL) gets the id.
// PL_ETOOBIG if msg_len > PL_MESSAGE_MAX, PL_EAUTH if the recipient key is
// refused by crypto_kx, PL_EINVAL for bad addresses.
PL_MUST_CHECK int pl_envelope_seal(const pl_seal_args_t *args,
                                   const uint8_t *msg, size_t msg_len,
                                   uint8_t id_out[PL_MSG_ID_BYTES],
                                   pl_buf_t *packet);

// View of the envelope inside a decoded packet (pkt must hold one).
void pl_envelope_view(const Passerelle__V1__Envelope *env, pl_envelope_t *v);

// Decodes and validates a serialized Header.
PL_MUST_CHECK int pl_header_decode(const uint8_t *data, size_t len,
                                   pl_header_t *out);

// Checks the outer signature against the sender's signing key. PL_EAUTH.
PL_MUST_CHECK int pl_envelope_verify(const pl_envelope_t *env,
                                     const uint8_t sender_sign_pk[32]);

// Opens an envelope meant for 'me' with the box key pair whose id the
// header names (the caller looks it up with pl_header_decode first).
// Appends the inner message to 'msg' (caller wipes it with pl_buf_wipe).
// 'hdr' (may be NULL) gets the header. PL_EPROTO for a malformed header or
// padding, PL_EINVAL when not for 'me' or not for this key, PL_EAUTH for
// any signature or decryption failure. Nothing is appended on failure.
PL_MUST_CHECK int pl_envelope_open(const pl_envelope_t *env, const char *me,
                                   const uint8_t my_box_pk[32],
                                   const uint8_t my_box_sk[32],
                                   const uint8_t sender_sign_pk[32],
                                   pl_header_t *hdr, pl_buf_t *msg);

// BLAKE2b-256(header || nonce || ciphertext): what a receipt covers.
void pl_envelope_digest(const pl_envelope_t *env, uint8_t out[PL_DIGEST_BYTES]);

// Receipt signature: Ed25519 over "passerelle-receipt-v1" || id || digest
// || u64be(received_at), by the recipient's sign key.
void pl_receipt_sign(const pl_keys_t *recipient,
                     const uint8_t id[PL_MSG_ID_BYTES],
                     const uint8_t digest[PL_DIGEST_BYTES],
                     uint64_t received_at, uint8_t sig[PL_SIG_BYTES]);
PL_MUST_CHECK int pl_receipt_verify(const uint8_t recipient_sign_pk[32],
                                    const uint8_t id[PL_MSG_ID_BYTES],
                                    const uint8_t digest[PL_DIGEST_BYTES],
                                    uint64_t received_at,
                                    const uint8_t sig[PL_SIG_BYTES]);

// The bucket (block size) sodium_pad uses for 'len' plaintext bytes:
// the smallest of 1, 4, 16, 64, 256, 1024 KiB strictly greater than len;
// 0 when len does not fit.
size_t pl_pad_bucket(size_t len);

#endif
