// pl_spool_seen - the broker's dedupe table `seen` (every id accepted,
// kept until its expiry + 1 day, also after `taken`) and the digests a
// resend is compared with. Layer: broker. Owns: nothing (a day index
// pl_spool embeds; the LMDB handle is the spool's).
//
// A record is 12 bytes of the message id and 4 of a digest, filed under
// its expiry day (DUPSORT, DUPFIXED), so that a sweep drops a whole day
// with one delete. The day keys are read once a pass into days[]: a lookup
// then costs one cursor operation a day. The functions return LMDB codes
// (0, MDB_*); pl_spool maps them.
#ifndef PL_SPOOL_SEEN_H
#define PL_SPOOL_SEEN_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_envelope.h"

#define PL_SEEN_ID       12 // id bytes kept in `seen`
#define PL_SEEN_DIG      4  // digest bytes kept in `seen`
#define PL_SEEN_REC      (PL_SEEN_ID + PL_SEEN_DIG) // one `seen` record
#define PL_SEEN_DAYS_MAX 512 // day keys tracked (92 live at most)

typedef struct {
    MDB_dbi dbi;                     // day -> id prefix | digest prefix
    uint32_t days[PL_SEEN_DAYS_MAX]; // the day keys, ascending
    size_t ndays;                    // days[] used
    bool ok;                         // days[] read in this pass
} pl_seen_t;

// The day of a 4-byte key of `seen` (expires_at / 86400, big-endian).
uint32_t pl_seen_day(const uint8_t key[4]);
// Records 'id' with the first PL_SEEN_DIG bytes of 'digest' under its
// expiry day; an existing record is kept (0).
int pl_seen_put(pl_seen_t *s, MDB_txn *txn, const uint8_t *id,
                const uint8_t *digest, uint64_t expires_at);
// Looks 'id' up in every live day (its own expiry day first: a resend of
// the same envelope is there): 0 with *found and 'prefix' filled when
// found, else 0 with *found false, or an LMDB error.
int pl_seen_find(pl_seen_t *s, MDB_txn *txn, const uint8_t *id,
                 uint64_t expires_at, bool *found, uint8_t prefix[PL_SEEN_DIG]);

// The dedupe digest of an envelope a node sent (BLAKE2b-256 of a tag, the
// header's length, the header and the outer signature; about 300 bytes
// hashed, not the whole packet: see pl_spool_put_signed).
void pl_seen_signed_digest(const pl_envelope_t *env, uint8_t out[32]);
// Whether the first 'n' bytes kept ('stored') are those of 'digest'; with
// 'legacy', also those of the digest of all of 'packet' (what stores
// written before pl_spool_put_signed kept; hashed only on this path).
bool pl_seen_same(const uint8_t *stored, const uint8_t digest[32], size_t n,
                  bool legacy, const uint8_t *packet, size_t len);

#endif
