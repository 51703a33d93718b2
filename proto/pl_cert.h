// pl_cert - the network authority, certificates and revocation lists.
// Layer: proto. Owns: the Certificate/RevocationList wire types.
//
// The authority (one Ed25519 key pair per network, kept offline) signs a
// certificate per node from the node's public keys only. A certificate is
// the exact CertificateBody bytes plus an Ed25519 signature over
// "passerelle-cert-v1" || body. A revocation list carries a number that only
// grows; an older list never replaces a newer one.
//
// Authority home layout (written by pl_authority_create):
//   A/keys/authority.secret   Ed25519 secret, Z85, 0600
//   A/authority.pub           Ed25519 public, Z85
//   A/network                 network code, one line
//   A/serial                  last serial issued, decimal
//   A/issued/<serial>.cert    every certificate issued
//   A/revoked                 current signed revocation list
#ifndef PL_CERT_H
#define PL_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_keys.h"
#include "proto/pl_util.h"

#define PL_CERT_MAX       8192 // bytes of one encoded certificate
#define PL_CERT_DAYS      365  // default validity
#define PL_CERT_WARN_DAYS 30   // warn this long before expiry
#define PL_REVLIST_MAX    (1024 * 1024)
#define PL_TEXT_MAX       127 // display name, organisation, region, ...
#define PL_SERVICES_MAX   255 // comma-joined service codes

// The fields of a certificate, decoded.
typedef struct {
    uint64_t serial;                        // unique per authority
    char network[PL_NAME_MAX + 1];          // e.g. "sn"
    char name[PL_NAME_MAX + 1];             // e.g. "hopital-fann"
    char address[PL_ADDRESS_MAX + 1];       // network/name (derived)
    char display_name[PL_TEXT_MAX + 1];     // human name
    char organisation[PL_TEXT_MAX + 1];     // may be empty
    char sector[32];                        // contract sector code
    char country[3];                        // ISO 3166-1 alpha-2
    char region[PL_NAME_MAX + 1];           // region slug, may be empty
    char services[PL_SERVICES_MAX + 1];     // comma-joined, may be empty
    pl_pubkeys_t keys;                      // the node's public keys
    uint8_t box_key_id[PL_KEY_ID_BYTES];    // pl_key_id(keys.box) (derived)
    char home_broker[PL_ADDRESS_MAX + 1];   // may be empty
    uint64_t not_before;                    // validity start
    uint64_t not_after;                     // validity end
    uint8_t authority_pk[PL_SIGN_PK_BYTES]; // who signed it
} pl_cert_t;

// A decoded revocation list. 'serials' is malloc'd; free with
// pl_revlist_free(). 'raw' keeps the exact signed bytes for forwarding.
typedef struct {
    uint64_t number;               // only grows
    uint64_t issued_at;            // when signed
    char network[PL_NAME_MAX + 1]; // network code
    size_t count;                  // number of serials
    uint64_t *serials;             // sorted ascending
    pl_buf_t raw;                  // encoded RevocationList
} pl_revlist_t;

typedef struct pl_authority pl_authority_t;

// ---- sectors (contract codes, DESIGN.md §2)
bool pl_sector_valid(const char *sector);
// "economic", "social", "psychosocial", "protection" or "coordination".
const char *pl_sector_dimension(const char *sector);
// Comma-joined list of every sector code, for help texts.
const char *pl_sector_list(void);

// ---- authority
// Creates a new authority in 'home' for 'network'. PL_EEXIST if one exists.
PL_MUST_CHECK int pl_authority_create(const char *home, const char *network);
// Opens an existing authority (checks the secret file's mode).
PL_MUST_CHECK int pl_authority_open(const char *home, pl_authority_t **out);
void pl_authority_close(pl_authority_t **self_p);
const char *pl_authority_network(const pl_authority_t *self);
const uint8_t *pl_authority_pk(const pl_authority_t *self);
// Reserves the next serial (persisted before it is returned).
PL_MUST_CHECK int pl_authority_next_serial(pl_authority_t *self,
                                           uint64_t *serial);
// Signs 'fields' (serial, names, sector, keys, validity must be set;
// address, box_key_id and authority_pk are filled in) into an encoded
// Certificate. Also stores a copy under A/issued/.
PL_MUST_CHECK int pl_authority_issue(pl_authority_t *self, pl_cert_t *fields,
                                     pl_buf_t *out);
// Adds 'serial' to the authority's list, bumps the number, signs it and
// writes A/revoked. The encoded list is returned in 'out' when not NULL.
PL_MUST_CHECK int pl_authority_revoke(pl_authority_t *self, uint64_t serial,
                                      pl_buf_t *out);
// Ed25519 signature by the authority over tag || body (other signed
// formats of the authority, e.g. federation anchors: proto/pl_anchor.c).
PL_MUST_CHECK int pl_authority_sign(const pl_authority_t *self, const char *tag,
                                    const uint8_t *body, size_t len,
                                    uint8_t sig[64]);
// Reads an authority.pub file (Z85 Ed25519 public key).
PL_MUST_CHECK int pl_authority_pub_load(const char *path,
                                        uint8_t pk[PL_SIGN_PK_BYTES]);

// ---- certificates
// Decodes and checks the signature against 'authority_pk' and the format
// (lengths, sector, address). Does not check time or revocation.
// PL_EAUTH on a bad signature or another authority, PL_EPROTO if malformed.
PL_MUST_CHECK int pl_cert_decode(const uint8_t *data, size_t len,
                                 const uint8_t authority_pk[PL_SIGN_PK_BYTES],
                                 pl_cert_t *out);
// A memo of certificates whose signature verified: the BLAKE2b-256 of the
// authority key and the certificate's bytes, sorted once finished (issue
// 20: a node takes its whole directory again at every change, and checking
// 10,000 Ed25519 signatures each time was 85 % of its CPU).
#define PL_CERT_MEMO_HASH 32
typedef struct {
    uint8_t (*h)[PL_CERT_MEMO_HASH];
    size_t n, cap;
} pl_cert_memo_t;
// As pl_cert_decode, without the signature check when these very bytes
// under this very key are in 'seen' (finished; may be NULL); every
// certificate decoded is added to 'next' (may be NULL). The format and
// the authority named in the body are checked every time.
PL_MUST_CHECK int
pl_cert_decode_memo(const uint8_t *data, size_t len,
                    const uint8_t authority_pk[PL_SIGN_PK_BYTES],
                    const pl_cert_memo_t *seen, pl_cert_memo_t *next,
                    pl_cert_t *out);
void pl_cert_memo_finish(pl_cert_memo_t *m); // sorts it, for 'seen'
void pl_cert_memo_free(pl_cert_memo_t *m);
// Validity at 'now' and against 'revoked' (may be NULL):
// PL_EEXPIRED (expired or not yet valid), PL_EREVOKED, or PL_OK.
PL_MUST_CHECK int pl_cert_check(const pl_cert_t *cert, uint64_t now,
                                const pl_revlist_t *revoked);
// Reads a .cert file and decodes it; 'raw' (may be NULL) gets its bytes.
PL_MUST_CHECK int pl_cert_load(const char *path,
                               const uint8_t authority_pk[PL_SIGN_PK_BYTES],
                               pl_cert_t *out, pl_buf_t *raw);

// ---- revocation lists
PL_MUST_CHECK int
pl_revlist_decode(const uint8_t *data, size_t len,
                  const uint8_t authority_pk[PL_SIGN_PK_BYTES],
                  pl_revlist_t *out);
PL_MUST_CHECK int pl_revlist_load(const char *path,
                                  const uint8_t authority_pk[PL_SIGN_PK_BYTES],
                                  pl_revlist_t *out);
bool pl_revlist_contains(const pl_revlist_t *list, uint64_t serial);
// Moves 'candidate' into 'current' only if its number is strictly greater
// (or 'current' is empty): PL_OK; otherwise PL_ESTATE and both unchanged.
PL_MUST_CHECK int pl_revlist_replace(pl_revlist_t *current,
                                     pl_revlist_t *candidate);
void pl_revlist_free(pl_revlist_t *list);

#endif
