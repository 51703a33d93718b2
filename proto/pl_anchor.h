// pl_anchor - federation anchors (DESIGN.md §7.1). Layer: proto.
// Owns: the Anchor/AnchorBody wire types.
//
// A home authority federates its network with a foreign one by signing an
// anchor: the foreign network id, the foreign authority's public key, the
// foreign broker's certificate (signed by that foreign key), an optional
// endpoint (the side whose anchor has one connects), the sectors this side
// publishes, a validity window and a serial. The signature is Ed25519 by
// the home authority over "passerelle-anchor-v1" || body. A foreign
// certificate is trusted only through an anchor: signed by the anchor's
// foreign key and named under the anchor's foreign network prefix.
#ifndef PL_ANCHOR_H
#define PL_ANCHOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_cert.h"
#include "proto/pl_util.h"

#define PL_ANCHOR_MAX       16384 // bytes of one encoded anchor
#define PL_ENDPOINT_MAX     255   // tcp://host:port
#define PL_ANCHOR_PUBLISHED "agency,child-protection" // default sectors

// A decoded, verified anchor.
typedef struct {
    uint64_t serial;                             // home authority serial
    char network[PL_NAME_MAX + 1];               // home network
    char peer_network[PL_NAME_MAX + 1];          // foreign network
    uint8_t peer_authority_pk[PL_SIGN_PK_BYTES]; // foreign authority key
    pl_cert_t peer_broker;                       // foreign broker (verified)
    pl_buf_t peer_broker_raw;                    // its certificate bytes
    char endpoint[PL_ENDPOINT_MAX + 1];          // empty: the peer connects
    char publish[PL_SERVICES_MAX + 1];           // comma-joined sectors
    uint64_t not_before, not_after;              // validity
    uint8_t authority_pk[PL_SIGN_PK_BYTES];      // the home authority
} pl_anchor_t;

// What `passerelle authority federate` gives.
typedef struct {
    const char *peer_network;         // foreign network code
    const uint8_t *peer_authority_pk; // 32 bytes
    const uint8_t *peer_broker_cert;  // the foreign broker's node.cert bytes
    size_t peer_broker_cert_len;      // bytes
    const char *endpoint;             // NULL or "" : none
    const char *publish;              // NULL: PL_ANCHOR_PUBLISHED
    uint64_t not_after;               // expiry
} pl_anchor_args_t;

// Signs a new anchor with the authority (a fresh serial). 'out' gets the
// encoded Anchor; 'fields' (may be NULL) the decoded form. PL_EINVAL with
// a reason in err for bad arguments (foreign cert not signed by the
// foreign key, not a broker, wrong prefix, own network, bad sector, ...).
PL_MUST_CHECK int pl_anchor_issue(pl_authority_t *auth,
                                  const pl_anchor_args_t *args,
                                  pl_anchor_t *fields, pl_buf_t *out, char *err,
                                  size_t errlen);
// Decodes and verifies an anchor against the home authority key 'apk':
// signature, format, the foreign broker certificate (signed by the foreign
// key, sector broker, under the foreign prefix). Not time: see
// pl_anchor_check. PL_EAUTH (signature, other authority), PL_EPROTO.
// Free with pl_anchor_free.
PL_MUST_CHECK int pl_anchor_decode(const uint8_t *data, size_t len,
                                   const uint8_t apk[PL_SIGN_PK_BYTES],
                                   pl_anchor_t *out);
PL_MUST_CHECK int pl_anchor_load(const char *path,
                                 const uint8_t apk[PL_SIGN_PK_BYTES],
                                 pl_anchor_t *out, pl_buf_t *raw);
// PL_OK while valid at 'now', else PL_EEXPIRED.
PL_MUST_CHECK int pl_anchor_check(const pl_anchor_t *a, uint64_t now);
// Does this side publish 'sector' to the peer?
bool pl_anchor_publishes(const pl_anchor_t *a, const char *sector);
// A foreign certificate as this anchor admits it: signed by the foreign
// authority and under its prefix. PL_EPERM for another prefix (the name
// constraint), PL_EAUTH for another signer, PL_EPROTO if malformed.
PL_MUST_CHECK int pl_anchor_cert(const pl_anchor_t *a, const uint8_t *data,
                                 size_t len, pl_cert_t *out);
void pl_anchor_free(pl_anchor_t *a);

#endif
