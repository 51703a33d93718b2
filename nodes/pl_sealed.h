// pl_sealed - one sealed JSON record of the node's store (issue 12): open
// it, use it, release it. Layer: nodes, domain. The one place that knows
// the sealed-record format of the cases, consents and referrals
// databases (DESIGN.md §5):
//   value = version (1) || data key id (16) || seal(JSON text)
// sealed with pl_store_seal under the data key, associated data
// "db name" || 0 || record key, so a record cannot be moved to another
// key. The plaintext text is wiped after each seal or open.
//
// A pl_sealed_t holds the record's header, its data key and its decoded
// document. pl_sealed_release wipes the key and frees the document; it is
// idempotent, so a handler releases once on its way out, on every path,
// and never wipes a key by hand.
#ifndef PL_SEALED_H
#define PL_SEALED_H

#include <jansson.h>
#include <stdint.h>

#include "nodes/pl_store.h"

#define PL_SEALED_VER 1                         // record version
#define PL_SEALED_HDR (1 + PL_DATAKEY_ID_BYTES) // version || key id

typedef struct {
    uint8_t hdr[PL_SEALED_HDR];   // version || data key id
    uint8_t dk[PL_DATAKEY_BYTES]; // the data key (wiped by release)
    json_t *doc;                  // the document (owned; NULL once released)
} pl_sealed_t;

#define PL_SEALED_INIT                                                         \
    {                                                                          \
        {0}, {0}, NULL                                                         \
    }

// Opens record 'key' of 'db' into 's' (the caller releases it; on failure
// 's' is left released). The data key is the one its header names, unless
// 'dk_in' (may be NULL) is given. Errors: PL_ENOTFOUND, PL_EPROTO (not a sealed
// record of this version, or not JSON), PL_EAUTH (does not open), store
// errors.
PL_MUST_CHECK int pl_sealed_open(pl_sealed_t *s, pl_txn_t *txn, pl_db_t db,
                                 const uint8_t *key, size_t klen,
                                 const uint8_t *dk_in);
// Writes s->doc to 'key' of 'db' under s->hdr and s->dk.
PL_MUST_CHECK int pl_sealed_save(const pl_sealed_t *s, pl_txn_t *txn,
                                 pl_db_t db, const uint8_t *key, size_t klen);
// Wipes the key, frees the document; the header stays (it names the data
// key). NULL-safe, idempotent.
void pl_sealed_release(pl_sealed_t *s);
// Wipes the key and hands the document over (the caller owns it).
json_t *pl_sealed_take(pl_sealed_t *s);

// The two steps underneath, for callers that keep the key elsewhere.
// Writes key -> hdr || seal(doc) under 'dk'.
PL_MUST_CHECK int pl_sealed_put(pl_txn_t *txn, pl_db_t db, const uint8_t *key,
                                size_t klen, const uint8_t hdr[PL_SEALED_HDR],
                                const uint8_t dk[PL_DATAKEY_BYTES],
                                const json_t *doc);
// Reads a sealed record: hdr gets its header; the data key is the one
// named in the header unless 'dk_in' is given; 'dk_out' (may be NULL) gets
// it (the caller wipes it). *doc is new (NULL on failure).
PL_MUST_CHECK int pl_sealed_get(pl_txn_t *txn, pl_db_t db, const uint8_t *key,
                                size_t klen, const uint8_t *dk_in,
                                uint8_t hdr[PL_SEALED_HDR],
                                uint8_t dk_out[PL_DATAKEY_BYTES], json_t **doc);

#endif
