// pl_base45 - the Base45 text encoding of RFC 9285 (issue 18): bytes as
// characters of the QR code's alphanumeric set, so that a scanner returns
// the referral slip's token as text and a person can type it. Layer: proto.
// No third-party library.
#ifndef PL_BASE45_H
#define PL_BASE45_H

#include <stddef.h>
#include <stdint.h>

#include "proto/pl_err.h"

// Characters needed for 'n' bytes, without the NUL.
size_t pl_base45_len(size_t n);

// Encodes 'n' bytes of 'in' into 'out' (at least pl_base45_len(n) + 1
// bytes), NUL-terminated. Returns the length of the text.
size_t pl_base45_encode(char *out, const uint8_t *in, size_t n);

// Decodes the text 'in' of 'n' characters into 'out' (room for 'cap'
// bytes); '*out_len' gets the byte count. PL_EINVAL when a character is
// outside the alphabet, a group is over its range (RFC 9285 §4.2: "GGW" is
// 65535 + 1) or the length leaves a lone character; PL_ETOOBIG when 'cap'
// is too small. Lower-case letters are refused: the alphabet has none.
PL_MUST_CHECK int pl_base45_decode(uint8_t *out, size_t cap, size_t *out_len,
                                   const char *in, size_t n);

#endif
