// pl_envelope - envelope seal/open (suite 1) and receipts. Layer: proto.
// Owns: the libsodium calls of DESIGN.md §3.
//
// Buffer trick used by seal and open: the inner signature covers
// tag || header || message, and the plaintext is u32be(len) || message ||
// sig. One work buffer holds tag || header || message contiguously, and the
// plaintext starts 4 bytes before the message, overwriting the last 4 bytes
// of the header copy with the length. So a 1 MiB message is never copied
// twice, and there is one plaintext buffer to wipe.
#include "proto/pl_envelope.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_AEAD_ABYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

static const char s_inner_tag[] = "passerelle-inner-v1";
static const char s_outer_tag[] = "passerelle-outer-v1";
static const char s_receipt_tag[] = "passerelle-receipt-v1";
#define S_TAG_LEN (sizeof s_inner_tag - 1) // all three envelope tags: 19

_Static_assert(sizeof s_inner_tag == sizeof s_outer_tag, "tag lengths");
_Static_assert(PL_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "nonce size");
_Static_assert(PL_SIG_BYTES == crypto_sign_BYTES, "signature size");
_Static_assert(PL_DIGEST_BYTES == crypto_generichash_BYTES, "digest size");
_Static_assert(PL_BOX_PK_BYTES == crypto_kx_PUBLICKEYBYTES, "kx key size");
_Static_assert(S_TAG_LEN >= 4, "length prefix overlays the header copy");

size_t
pl_pad_bucket(size_t len)
{
    for (size_t b = 1024; b <= 1024 * 1024; b *= 4)
        if (len < b)
            return b;
    return 0;
}

static void
s_put_u32be(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static uint32_t
s_get_u32be(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8
           | (uint32_t) p[3];
}

// BLAKE2b-256 of nonce || ct: what the outer signature covers.
static void
s_body_hash(const uint8_t *nonce, const uint8_t *ct, size_t ct_len,
            uint8_t out[PL_DIGEST_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, PL_DIGEST_BYTES);
    crypto_generichash_update(&st, nonce, PL_NONCE_BYTES);
    crypto_generichash_update(&st, ct, ct_len);
    crypto_generichash_final(&st, out, PL_DIGEST_BYTES);
}

// Builds "passerelle-outer-v1" || header || BLAKE2b-256(nonce || ct) into
// m (at least S_TAG_LEN + PL_HEADER_MAX + PL_DIGEST_BYTES bytes).
static size_t
s_outer_input(uint8_t *m, const uint8_t *header, size_t header_len,
              const uint8_t *nonce, const uint8_t *ct, size_t ct_len)
{
    memcpy(m, s_outer_tag, S_TAG_LEN);
    memcpy(m + S_TAG_LEN, header, header_len);
    s_body_hash(nonce, ct, ct_len, m + S_TAG_LEN + header_len);
    return S_TAG_LEN + header_len + PL_DIGEST_BYTES;
}

// ---- seal

// Packs the Header for 'args' into hdr (PL_HEADER_MAX bytes).
static int
s_header_pack(const pl_seal_args_t *args, const uint8_t id[PL_MSG_ID_BYTES],
              const uint8_t key_id[PL_KEY_ID_BYTES], uint64_t ttl,
              const uint8_t eph_pk[PL_BOX_PK_BYTES], uint8_t *hdr,
              size_t *hdr_len)
{
    Passerelle__V1__Header h = PASSERELLE__V1__HEADER__INIT;
    h.version = PL_PROTO_VERSION;
    h.suite = PL_SUITE_SODIUM;
    h.message_id = (ProtobufCBinaryData){PL_MSG_ID_BYTES, (uint8_t *) id};
    h.from = (char *) args->from;
    h.to = (char *) args->to;
    h.recipient_key_id =
        (ProtobufCBinaryData){PL_KEY_ID_BYTES, (uint8_t *) key_id};
    h.created_at = args->now;
    h.expires_at = args->now + ttl;
    h.ephemeral_pk = (ProtobufCBinaryData){PL_BOX_PK_BYTES, (uint8_t *) eph_pk};
    size_t n = protobuf_c_message_get_packed_size(&h.base);
    if (n > PL_HEADER_MAX)
        return PL_EINVAL;
    *hdr_len = protobuf_c_message_pack(&h.base, hdr);
    return PL_OK;
}

int
pl_envelope_seal(const pl_seal_args_t *args, const uint8_t *msg, size_t msg_len,
                 uint8_t id_out[PL_MSG_ID_BYTES], pl_buf_t *packet)
{
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    if (msg_len > PL_MESSAGE_MAX)
        return PL_ETOOBIG;
    if (!args->sender || !args->sender->sec || !args->to_box_pk
        || !pl_address_valid(args->from) || !pl_address_valid(args->to))
        return PL_EINVAL;
    uint64_t ttl = args->ttl ? args->ttl : PL_TTL_DEFAULT;
    if (ttl > PL_TTL_MAX || args->now > UINT64_MAX - ttl)
        return PL_EINVAL;

    uint8_t id[PL_MSG_ID_BYTES], key_id[PL_KEY_ID_BYTES];
    uint8_t eph_pk[crypto_kx_PUBLICKEYBYTES], eph_sk[crypto_kx_SECRETKEYBYTES];
    uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    uint8_t hdr[PL_HEADER_MAX], nonce[PL_NONCE_BYTES], sig[PL_SIG_BYTES];
    uint8_t outer_in[S_TAG_LEN + PL_HEADER_MAX + PL_DIGEST_BYTES];
    size_t hdr_len = 0;
    if (args->id)
        memcpy(id, args->id, sizeof id);
    else
        randombytes_buf(id, sizeof id);
    pl_key_id(args->to_box_pk, key_id);

    // ephemeral key, session keys; the secret and rx die at once
    crypto_kx_keypair(eph_pk, eph_sk);
    int kx =
        crypto_kx_client_session_keys(rx, tx, eph_pk, eph_sk, args->to_box_pk);
    sodium_memzero(eph_sk, sizeof eph_sk);
    sodium_memzero(rx, sizeof rx);
    if (kx != 0) {
        sodium_memzero(tx, sizeof tx);
        return PL_EAUTH;
    }
    int rc = s_header_pack(args, id, key_id, ttl, eph_pk, hdr, &hdr_len);
    if (rc != PL_OK) {
        sodium_memzero(tx, sizeof tx);
        return rc;
    }

    // work = tag || header || message || sig || padding (see banner)
    size_t plain_len = 4 + msg_len + PL_SIG_BYTES;
    size_t bucket = pl_pad_bucket(plain_len);
    size_t off = S_TAG_LEN + hdr_len - 4; // plaintext start in work
    uint8_t *work = bucket ? malloc(off + bucket) : NULL;
    uint8_t *ct = work ? malloc(bucket + S_AEAD_ABYTES) : NULL;
    if (!work || !ct) {
        free(work);
        sodium_memzero(tx, sizeof tx);
        return bucket ? PL_ENOMEM : PL_ETOOBIG;
    }
    uint8_t *plain = work + off;
    memcpy(work, s_inner_tag, S_TAG_LEN);
    memcpy(work + S_TAG_LEN, hdr, hdr_len);
    if (msg_len)
        memcpy(plain + 4, msg, msg_len);
    crypto_sign_detached(sig, NULL, work, off + 4 + msg_len,
                         args->sender->sec->sign);
    s_put_u32be(plain, (uint32_t) msg_len);
    memcpy(plain + 4 + msg_len, sig, PL_SIG_BYTES);
    size_t padded = 0;
    if (sodium_pad(&padded, plain, plain_len, bucket, bucket) != 0
        || padded != bucket)
        rc = PL_EINVAL; // cannot happen: bucket > plain_len
    unsigned long long ct_len = 0;
    randombytes_buf(nonce, sizeof nonce);
    if (rc == PL_OK)
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            ct, &ct_len, plain, padded, hdr, hdr_len, NULL, nonce, tx);
    sodium_memzero(tx, sizeof tx);
    sodium_memzero(work, off + bucket);
    free(work);

    if (rc == PL_OK) {
        size_t n =
            s_outer_input(outer_in, hdr, hdr_len, nonce, ct, (size_t) ct_len);
        crypto_sign_detached(sig, NULL, outer_in, n, args->sender->sec->sign);
        Passerelle__V1__Envelope env = PASSERELLE__V1__ENVELOPE__INIT;
        env.header = (ProtobufCBinaryData){hdr_len, hdr};
        env.nonce = (ProtobufCBinaryData){sizeof nonce, nonce};
        env.ciphertext = (ProtobufCBinaryData){(size_t) ct_len, ct};
        env.signature = (ProtobufCBinaryData){sizeof sig, sig};
        pl_packet_t pkt = PASSERELLE__V1__PACKET__INIT;
        pkt.kind_case = PASSERELLE__V1__PACKET__KIND_ENVELOPE;
        pkt.envelope = &env;
        rc = pl_wire_encode(&pkt, packet);
    }
    free(ct);
    if (rc == PL_OK && id_out)
        memcpy(id_out, id, PL_MSG_ID_BYTES);
    return rc;
}

// ---- view, header, verify

void
pl_envelope_view(const Passerelle__V1__Envelope *env, pl_envelope_t *v)
{
    memset(v, 0, sizeof *v);
    v->header = env->header.data;
    v->header_len = env->header.len;
    v->ct = env->ciphertext.data;
    v->ct_len = env->ciphertext.len;
    // fixed-size fields of the wrong size are left NULL: verify and open
    // then refuse the envelope instead of reading past them
    if (env->nonce.len == PL_NONCE_BYTES)
        v->nonce = env->nonce.data;
    if (env->signature.len == PL_SIG_BYTES)
        v->sig = env->signature.data;
}

int
pl_header_decode(const uint8_t *data, size_t len, pl_header_t *out)
{
    memset(out, 0, sizeof *out);
    if (!data || len == 0 || len > PL_HEADER_MAX)
        return PL_EPROTO;
    ProtobufCMessage *m = NULL;
    if (pl_wire_unpack(&passerelle__v1__header__descriptor, data, len, &m)
        != PL_OK)
        return PL_EPROTO;
    const Passerelle__V1__Header *h = (const Passerelle__V1__Header *) m;
    int rc = PL_OK;
    if (h->version != PL_PROTO_VERSION || h->suite != PL_SUITE_SODIUM
        || h->message_id.len != PL_MSG_ID_BYTES || !pl_address_valid(h->from)
        || !pl_address_valid(h->to)
        || h->recipient_key_id.len != PL_KEY_ID_BYTES
        || h->ephemeral_pk.len != PL_BOX_PK_BYTES
        || h->expires_at <= h->created_at)
        rc = PL_EPROTO;
    if (rc == PL_OK) {
        out->version = h->version;
        out->suite = h->suite;
        memcpy(out->id, h->message_id.data, PL_MSG_ID_BYTES);
        // lengths bounded by pl_address_valid
        memcpy(out->from, h->from, strlen(h->from) + 1);
        memcpy(out->to, h->to, strlen(h->to) + 1);
        memcpy(out->key_id, h->recipient_key_id.data, PL_KEY_ID_BYTES);
        out->created_at = h->created_at;
        out->expires_at = h->expires_at;
        memcpy(out->eph_pk, h->ephemeral_pk.data, PL_BOX_PK_BYTES);
    }
    pl_wire_unpacked_free(m);
    return rc;
}

// The shape every envelope must have before any crypto runs.
static bool
s_view_ok(const pl_envelope_t *env)
{
    return env->header && env->header_len > 0
           && env->header_len <= PL_HEADER_MAX && env->nonce && env->sig
           && env->ct && env->ct_len >= S_AEAD_ABYTES;
}

int
pl_envelope_verify(const pl_envelope_t *env, const uint8_t sender_sign_pk[32])
{
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    if (!s_view_ok(env))
        return PL_EPROTO;
    uint8_t m[S_TAG_LEN + PL_HEADER_MAX + PL_DIGEST_BYTES];
    size_t n = s_outer_input(m, env->header, env->header_len, env->nonce,
                             env->ct, env->ct_len);
    return crypto_sign_verify_detached(env->sig, m, n, sender_sign_pk) == 0
               ? PL_OK
               : PL_EAUTH;
}

// ---- open

int
pl_envelope_open(const pl_envelope_t *env, const char *me,
                 const uint8_t my_box_pk[32], const uint8_t my_box_sk[32],
                 const uint8_t sender_sign_pk[32], pl_header_t *hdr,
                 pl_buf_t *msg)
{
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    if (!s_view_ok(env))
        return PL_EPROTO;
    pl_header_t h;
    int rc = pl_header_decode(env->header, env->header_len, &h);
    if (rc != PL_OK)
        return rc;
    // 1. meant for me, under this key
    uint8_t kid[PL_KEY_ID_BYTES];
    pl_key_id(my_box_pk, kid);
    if (!me || strcmp(h.to, me) != 0
        || sodium_memcmp(h.key_id, kid, sizeof kid) != 0)
        return PL_EINVAL;
    // 2. outer signature: the cheap reject before any decryption
    rc = pl_envelope_verify(env, sender_sign_pk);
    if (rc != PL_OK)
        return rc;
    // 3. the ciphertext must be exactly one bucket plus the tag
    size_t bucket = env->ct_len - S_AEAD_ABYTES;
    if (bucket < 1024 || pl_pad_bucket(bucket - 1) != bucket)
        return PL_EPROTO;

    uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
    int kx =
        crypto_kx_server_session_keys(rx, tx, my_box_pk, my_box_sk, h.eph_pk);
    sodium_memzero(tx, sizeof tx);
    if (kx != 0) {
        sodium_memzero(rx, sizeof rx);
        return PL_EAUTH;
    }
    size_t off = S_TAG_LEN + env->header_len - 4; // see banner
    uint8_t *work = malloc(off + bucket);
    if (!work) {
        sodium_memzero(rx, sizeof rx);
        return PL_ENOMEM;
    }
    uint8_t *plain = work + off;
    unsigned long long plain_len = 0;
    rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
             plain, &plain_len, NULL, env->ct, env->ct_len, env->header,
             env->header_len, env->nonce,
             rx) == 0
             ? PL_OK
             : PL_EAUTH;
    sodium_memzero(rx, sizeof rx);
    size_t unpadded = 0, len = 0;
    if (rc == PL_OK
        && sodium_unpad(&unpadded, plain, (size_t) plain_len, bucket) != 0)
        rc = PL_EPROTO;
    if (rc == PL_OK) {
        len = s_get_u32be(plain);
        // exactly len || message || sig, in the smallest bucket
        if (unpadded < 4 + PL_SIG_BYTES || len != unpadded - 4 - PL_SIG_BYTES
            || len > PL_MESSAGE_MAX || pl_pad_bucket(unpadded) != bucket)
            rc = PL_EPROTO;
    }
    if (rc == PL_OK) {
        // 4. inner signature by the same signer, over tag || header || msg
        uint8_t sig[PL_SIG_BYTES];
        memcpy(sig, plain + 4 + len, PL_SIG_BYTES);
        memcpy(work, s_inner_tag, S_TAG_LEN);
        memcpy(work + S_TAG_LEN, env->header, env->header_len);
        if (crypto_sign_verify_detached(sig, work, off + 4 + len,
                                        sender_sign_pk)
            != 0)
            rc = PL_EAUTH;
    }
    if (rc == PL_OK)
        rc = pl_buf_append(msg, plain + 4, len);
    if (rc == PL_OK && hdr)
        *hdr = h;
    sodium_memzero(work, off + bucket);
    free(work);
    return rc;
}

// ---- receipts

void
pl_envelope_digest(const pl_envelope_t *env, uint8_t out[PL_DIGEST_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, PL_DIGEST_BYTES);
    crypto_generichash_update(&st, env->header, env->header_len);
    if (env->nonce)
        crypto_generichash_update(&st, env->nonce, PL_NONCE_BYTES);
    crypto_generichash_update(&st, env->ct, env->ct_len);
    crypto_generichash_final(&st, out, PL_DIGEST_BYTES);
}

// "passerelle-receipt-v1" || id || digest || u64be(received_at)
#define S_RECEIPT_LEN                                                          \
    (sizeof s_receipt_tag - 1 + PL_MSG_ID_BYTES + PL_DIGEST_BYTES + 8)

static void
s_receipt_input(uint8_t m[S_RECEIPT_LEN], const uint8_t *id,
                const uint8_t *digest, uint64_t received_at)
{
    size_t o = sizeof s_receipt_tag - 1;
    memcpy(m, s_receipt_tag, o);
    memcpy(m + o, id, PL_MSG_ID_BYTES);
    o += PL_MSG_ID_BYTES;
    memcpy(m + o, digest, PL_DIGEST_BYTES);
    o += PL_DIGEST_BYTES;
    s_put_u32be(m + o, (uint32_t) (received_at >> 32));
    s_put_u32be(m + o + 4, (uint32_t) received_at);
}

void
pl_receipt_sign(const pl_keys_t *recipient, const uint8_t id[PL_MSG_ID_BYTES],
                const uint8_t digest[PL_DIGEST_BYTES], uint64_t received_at,
                uint8_t sig[PL_SIG_BYTES])
{
    uint8_t m[S_RECEIPT_LEN];
    s_receipt_input(m, id, digest, received_at);
    crypto_sign_detached(sig, NULL, m, sizeof m, recipient->sec->sign);
}

int
pl_receipt_verify(const uint8_t recipient_sign_pk[32],
                  const uint8_t id[PL_MSG_ID_BYTES],
                  const uint8_t digest[PL_DIGEST_BYTES], uint64_t received_at,
                  const uint8_t sig[PL_SIG_BYTES])
{
    if (pl_crypto_init() != PL_OK)
        return PL_EIO;
    uint8_t m[S_RECEIPT_LEN];
    s_receipt_input(m, id, digest, received_at);
    return crypto_sign_verify_detached(sig, m, sizeof m, recipient_sign_pk) == 0
               ? PL_OK
               : PL_EAUTH;
}
