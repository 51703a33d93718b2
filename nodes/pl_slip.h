// pl_slip - the returnee's referral slip (issue 18): a signed token with no
// personal data, carried as Base45 text (RFC 9285) in a QR code and printed
// under it, that a provider checks offline. Layer: nodes, domain (no
// daemon state).
//
// Token v1, 105 bytes, big-endian:
//   0        version (1)
//   1..16    referral id
//   17..24   recipient address hash: BLAKE2b-128 of the address text,
//            first 8 bytes
//   25..28   issued, Unix seconds (uint32)
//   29..32   expires, Unix seconds (uint32)
//   33..40   sender key id: BLAKE2b-128 of the sender's Ed25519 public
//            key, first 8 bytes
//   41..104  Ed25519 signature by the sender over
//            "passerelle-slip-v1" 0x00 || bytes 0..40
// Base45 makes 158 characters: QR version 7 at level M holds 178.
#ifndef PL_SLIP_H
#define PL_SLIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_cert.h"
#include "proto/pl_keys.h"

#define PL_SLIP_VERSION  1
#define PL_SLIP_ID_BYTES 16
#define PL_SLIP_HASH     8
#define PL_SLIP_SIGNED   41
#define PL_SLIP_BYTES    (PL_SLIP_SIGNED + PL_SIG_BYTES) // 105
#define PL_SLIP_TEXT     (PL_SLIP_BYTES / 2 * 3 + 2 + 1) // Base45 + NUL
#define PL_SLIP_TEXT_MAX 512 // longest text slip check reads

// What a token says.
typedef struct {
    uint8_t version;
    uint8_t referral[PL_SLIP_ID_BYTES];
    uint8_t to_hash[PL_SLIP_HASH]; // pl_slip_addr_hash of the recipient
    uint64_t issued, expires;
    uint8_t key_id[PL_SLIP_HASH]; // pl_slip_key_id of the sender's key
} pl_slip_t;

// The 8-byte hash of an address text / of an Ed25519 public key.
void pl_slip_addr_hash(const char *address, uint8_t out[PL_SLIP_HASH]);
void pl_slip_key_id(const uint8_t pk[PL_SIGN_PK_BYTES],
                    uint8_t out[PL_SLIP_HASH]);

// Makes the token of 's' (key_id is set from 'keys'), signed by 'keys',
// as Base45 text into 'text' (PL_SLIP_TEXT bytes). PL_EINVAL when a time
// does not fit 32 bits or expires is not after issued.
PL_MUST_CHECK int pl_slip_make(pl_slip_t *s, const pl_keys_t *keys,
                               char text[PL_SLIP_TEXT]);

// Reads the text of a slip into 's' without checking the signature (so
// that the key id can be looked up). Line breaks and tabs at either end
// are ignored, and so are spaces where they cannot be the token's (a
// leading space the token needs is restored when it was lost).
// PL_EINVAL: not Base45, PL_EPROTO: wrong length or version.
PL_MUST_CHECK int pl_slip_parse(const char *text, pl_slip_t *s);

// Checks the signature of the slip 'text' against 'cert' (the sender's
// certificate, found by the key id). PL_EAUTH when it does not verify or
// the key id is not cert's; PL_EINVAL / PL_EPROTO as pl_slip_parse.
PL_MUST_CHECK int pl_slip_verify(const char *text, const pl_cert_t *cert);

#endif
