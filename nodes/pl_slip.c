// pl_slip - the referral slip's token: layout, signature, Base45 text.
// Layer: nodes, domain.
#include "nodes/pl_slip.h"

#include <ctype.h>
#include <string.h>

#include "proto/pl_base45.h"
#include "proto/pl_crypto.h"

static const char s_tag[] = "passerelle-slip-v1"; // NUL included when signed

// The first 8 bytes of BLAKE2b-128 (libsodium's shortest output).
static void
s_hash8(const void *in, size_t n, uint8_t out[PL_SLIP_HASH])
{
    uint8_t h[PL_HASH_MIN_BYTES];
    pl_hash(h, sizeof h, in, n, NULL, 0);
    memcpy(out, h, PL_SLIP_HASH);
}

void
pl_slip_addr_hash(const char *address, uint8_t out[PL_SLIP_HASH])
{
    s_hash8(address, strlen(address), out);
}

void
pl_slip_key_id(const uint8_t pk[PL_SIGN_PK_BYTES], uint8_t out[PL_SLIP_HASH])
{
    s_hash8(pk, PL_SIGN_PK_BYTES, out);
}

static void
s_be32(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t) (v >> 24), p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8), p[3] = (uint8_t) v;
}

static uint64_t
s_get32(const uint8_t *p)
{
    return (uint64_t) p[0] << 24 | (uint64_t) p[1] << 16 | (uint64_t) p[2] << 8
           | p[3];
}

// The signed part of 's' into 'b' (PL_SLIP_SIGNED bytes).
static void
s_pack(const pl_slip_t *s, uint8_t b[PL_SLIP_SIGNED])
{
    b[0] = s->version;
    memcpy(b + 1, s->referral, PL_SLIP_ID_BYTES);
    memcpy(b + 17, s->to_hash, PL_SLIP_HASH);
    s_be32(b + 25, s->issued);
    s_be32(b + 29, s->expires);
    memcpy(b + 33, s->key_id, PL_SLIP_HASH);
}

// tag || NUL || the signed bytes, the message the signature covers.
static void
s_message(const uint8_t b[PL_SLIP_SIGNED],
          uint8_t m[sizeof s_tag + PL_SLIP_SIGNED])
{
    memcpy(m, s_tag, sizeof s_tag);
    memcpy(m + sizeof s_tag, b, PL_SLIP_SIGNED);
}

int
pl_slip_make(pl_slip_t *s, const pl_keys_t *keys, char text[PL_SLIP_TEXT])
{
    if (s->issued > UINT32_MAX || s->expires > UINT32_MAX
        || s->expires <= s->issued)
        return PL_EINVAL;
    s->version = PL_SLIP_VERSION;
    pl_slip_key_id(keys->pub.sign, s->key_id);
    uint8_t tok[PL_SLIP_BYTES], m[sizeof s_tag + PL_SLIP_SIGNED];
    s_pack(s, tok);
    s_message(tok, m);
    pl_sign(tok + PL_SLIP_SIGNED, m, sizeof m, keys);
    pl_base45_encode(text, tok, sizeof tok);
    return PL_OK;
}

// The token bytes of 'text' into 'tok'. The space is a Base45 digit (RFC
// 9285, value 36), and about one token in 45 begins with it: a page or a
// copy by hand easily loses it. So only line breaks and tabs are trimmed
// at the start; spaces before a text longer than a token's are dropped,
// and a text one character short gets its leading space back. At the end
// any whitespace goes: a token of odd length ends in a two-digit group
// whose last digit is at most 5 (byte / 45), never a space.
static int
s_decode(const char *text, uint8_t tok[PL_SLIP_BYTES])
{
    const size_t want = PL_SLIP_TEXT - 1;
    while (*text == '\t' || *text == '\n' || *text == '\r')
        text++;
    size_t n = strnlen(text, PL_SLIP_TEXT_MAX + 1);
    if (n > PL_SLIP_TEXT_MAX)
        return PL_EPROTO;
    while (n && isspace((unsigned char) text[n - 1]))
        n--;
    while (n > want && *text == ' ')
        text++, n--;
    char fixed[PL_SLIP_TEXT];
    if (n == want - 1) { // its leading space lost
        fixed[0] = ' ';
        memcpy(fixed + 1, text, n);
        text = fixed, n = want;
    }
    uint8_t buf[PL_SLIP_TEXT_MAX];
    size_t len;
    int rc = pl_base45_decode(buf, sizeof buf, &len, text, n);
    if (rc != PL_OK)
        return PL_EINVAL;
    if (len != PL_SLIP_BYTES || buf[0] != PL_SLIP_VERSION)
        return PL_EPROTO;
    memcpy(tok, buf, PL_SLIP_BYTES);
    return PL_OK;
}

int
pl_slip_parse(const char *text, pl_slip_t *s)
{
    uint8_t tok[PL_SLIP_BYTES];
    int rc = s_decode(text, tok);
    if (rc != PL_OK)
        return rc;
    s->version = tok[0];
    memcpy(s->referral, tok + 1, PL_SLIP_ID_BYTES);
    memcpy(s->to_hash, tok + 17, PL_SLIP_HASH);
    s->issued = s_get32(tok + 25);
    s->expires = s_get32(tok + 29);
    memcpy(s->key_id, tok + 33, PL_SLIP_HASH);
    return PL_OK;
}

int
pl_slip_verify(const char *text, const pl_cert_t *cert)
{
    uint8_t tok[PL_SLIP_BYTES], m[sizeof s_tag + PL_SLIP_SIGNED];
    uint8_t kid[PL_SLIP_HASH];
    int rc = s_decode(text, tok);
    if (rc != PL_OK)
        return rc;
    pl_slip_key_id(cert->keys.sign, kid);
    if (memcmp(kid, tok + 33, PL_SLIP_HASH) != 0)
        return PL_EAUTH;
    s_message(tok, m);
    return pl_verify(tok + PL_SLIP_SIGNED, m, sizeof m, cert->keys.sign);
}
