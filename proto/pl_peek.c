// pl_peek - the envelope of a packet read in place. Layer: proto.
//
// Protobuf wire format (protobuf.dev/programming-guides/encoding): a field
// is a varint key (field number << 3 | wire type) and, for wire type 2, a
// varint length and that many bytes. Every field read here is of wire type
// 2 and has a field number below 16, so its key is one byte.
#include "proto/pl_peek.h"

#include <stdbool.h>
#include <string.h>

#define S_KEY(field) ((uint8_t) ((field) << 3 | 2)) // length-delimited
#define S_LEN_BYTES  3  // varint bytes of a length: PL_PACKET_MAX < 2^21
#define S_AEAD_TAG   16 // smallest ciphertext, as pl_wire_decode demands

// A minimal varint of at most S_LEN_BYTES bytes at 'p' ('avail' readable):
// true with its value and size. A longer or padded form (which protobuf-c
// would read) is refused here and left to the full decoder.
static bool
s_varint(const uint8_t *p, size_t avail, size_t *value, size_t *used)
{
    size_t v = 0;
    for (size_t i = 0; i < S_LEN_BYTES && i < avail; i++) {
        v |= (size_t) (p[i] & 0x7f) << (7 * i);
        if (p[i] & 0x80)
            continue;
        if (i > 0 && p[i] == 0)
            return false; // padded: 0x80 0x00 for 0
        *value = v;
        *used = i + 1;
        return true;
    }
    return false;
}

// The field at *pos of d[0..end): key 'key', length in [min, max]; true
// with its bytes, *pos moved past it.
static bool
s_field(const uint8_t *d, size_t end, size_t *pos, uint8_t key, size_t min,
        size_t max, const uint8_t **val, size_t *val_len)
{
    if (*pos >= end || d[*pos] != key)
        return false;
    size_t n = 0, used = 0;
    if (!s_varint(d + *pos + 1, end - *pos - 1, &n, &used))
        return false;
    size_t start = *pos + 1 + used;
    if (n > end - start || n < min || n > max)
        return false;
    *val = d + start;
    *val_len = n;
    *pos = start + n;
    return true;
}

int
pl_envelope_peek(const uint8_t *data, size_t len, pl_envelope_t *v)
{
    memset(v, 0, sizeof *v);
    if (len > PL_PACKET_MAX)
        return PL_ETOOBIG;
    // Packet: field 1 (envelope) and nothing else
    const uint8_t *env = NULL;
    size_t env_len = 0, pos = 0;
    if (!s_field(data, len, &pos, S_KEY(1), 1, len, &env, &env_len)
        || pos != len)
        return PL_ENOTFOUND;
    // Envelope: header 1, nonce 2, ciphertext 3, signature 4, in order
    pl_envelope_t e = {0};
    const uint8_t *nonce = NULL, *sig = NULL;
    size_t nonce_len = 0, sig_len = 0, at = 0;
    if (!s_field(env, env_len, &at, S_KEY(1), 1, PL_HEADER_MAX, &e.header,
                 &e.header_len)
        || !s_field(env, env_len, &at, S_KEY(2), PL_NONCE_BYTES, PL_NONCE_BYTES,
                    &nonce, &nonce_len)
        || !s_field(env, env_len, &at, S_KEY(3), S_AEAD_TAG, PL_PACKET_MAX,
                    &e.ct, &e.ct_len)
        || !s_field(env, env_len, &at, S_KEY(4), PL_SIG_BYTES, PL_SIG_BYTES,
                    &sig, &sig_len)
        || at != env_len)
        return PL_ENOTFOUND;
    e.nonce = nonce;
    e.sig = sig;
    *v = e;
    return PL_OK;
}
