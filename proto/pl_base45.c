// pl_base45 - Base45 (RFC 9285). Two bytes [a, b] make n = a * 256 + b,
// written as c + d * 45 + e * 45 * 45, emitted c d e; a last lone byte
// makes two characters c d. Decoding reverses it and refuses values out of
// range. Written from the RFC's text (§4, §6), no code taken from elsewhere.
// Layer: proto.
#include "proto/pl_base45.h"

#include <string.h>

static const char s_alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

size_t
pl_base45_len(size_t n)
{
    return n / 2 * 3 + (n % 2) * 2;
}

size_t
pl_base45_encode(char *out, const uint8_t *in, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        unsigned v = (unsigned) in[i] * 256u + in[i + 1];
        out[o++] = s_alpha[v % 45];
        out[o++] = s_alpha[v / 45 % 45];
        out[o++] = s_alpha[v / 2025];
    }
    if (n % 2) {
        unsigned v = in[n - 1];
        out[o++] = s_alpha[v % 45];
        out[o++] = s_alpha[v / 45];
    }
    out[o] = 0;
    return o;
}

// The value of one character, or -1.
static int
s_val(char c)
{
    if (c == 0)
        return -1;
    const char *p = strchr(s_alpha, c);
    return p ? (int) (p - s_alpha) : -1;
}

int
pl_base45_decode(uint8_t *out, size_t cap, size_t *out_len, const char *in,
                 size_t n)
{
    *out_len = 0;
    if (n % 3 == 1)
        return PL_EINVAL;
    size_t need = n / 3 * 2 + (n % 3 ? 1 : 0);
    if (need > cap)
        return PL_ETOOBIG;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t k = n - i >= 3 ? 3 : 2;
        unsigned v = 0, mul = 1;
        for (size_t j = 0; j < k; j++, mul *= 45) {
            int d = s_val(in[i + j]);
            if (d < 0)
                return PL_EINVAL;
            v += (unsigned) d * mul;
        }
        if (k == 3) {
            if (v > 0xffff)
                return PL_EINVAL;
            out[o++] = (uint8_t) (v >> 8);
            out[o++] = (uint8_t) v;
        } else {
            if (v > 0xff)
                return PL_EINVAL;
            out[o++] = (uint8_t) v;
        }
    }
    *out_len = o;
    return PL_OK;
}
