// pl_spool - the broker's durable store-and-forward queues. Layer: broker.
// Owns: LMDB for the broker.
//
// One LMDB environment in BROKERDIR/store with these databases:
//   queue    recipient NUL seq(u64 BE) -> accepted_ms, expires, id, packet
//   ids      message id -> state, expiry, seq, digest, recipient, sender
//            (the live index: only ids still queued)
//   seen     expiry day (u32 BE) -> { id[0..12) | BLAKE2b(packet)[0..4) }
//            (dedupe, MDB_DUPSORT|MDB_DUPFIXED: 16 bytes a record, kept
//            until expires + 1 day; the sweep drops a whole day at once)
//   quota    'f' address / 't' address -> bytes queued from / for it
//            (kept in the same transactions as the queue)
//   notices  sender NUL id -> recipient NUL [reason + 1] (notices not yet
//            told: expired, or refused by the recipient with that reason)
//   meta     "seq" -> next queue sequence number, "format" -> 2
// A store of format 1 (every id kept in `ids` with its full record, no
// `seen`, no `quota`) is migrated in place when opened: taken, expired and
// refused ids move to `seen`, the quota figures are counted from the
// queue; nothing queued changes.
// Writes happen inside one write transaction per event-loop pass (group
// commit: one fsync per pass), each packet in its own nested transaction
// (a light one far from full: see pl_spool_nest_fast).
// The environment never uses MDB_NOSYNC, MDB_MAPASYNC or MDB_NOMETASYNC:
// an `accepted` is sent only after pl_spool_commit() returned PL_OK.
#ifndef PL_SPOOL_H
#define PL_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_envelope.h"
#include "proto/pl_log.h"

typedef struct pl_spool pl_spool_t;

// State of a message id in the dedupe table.
typedef enum {
    PL_SPOOL_QUEUED = 1,  // waiting for its recipient's taken
    PL_SPOOL_TAKEN = 2,   // delivered and committed by the recipient
    PL_SPOOL_EXPIRED = 3, // expired in the queue
    PL_SPOOL_REFUSED = 4, // the recipient refused it for good
} pl_spool_state_t;

// One queued envelope, as read for delivery.
typedef struct {
    uint64_t seq;                // position in the recipient's queue
    uint64_t accepted_ms;        // when it was committed
    uint64_t expires_at;         // from its header
    uint8_t id[PL_MSG_ID_BYTES]; // message id
    const uint8_t *packet;       // borrowed: valid until the txn ends
    size_t packet_len;           // bytes
} pl_spool_item_t;

// Opens or creates the store in 'dir' with a map of 'map_bytes'. Runs
// mdb_reader_check. NULL on failure, reason logged.
pl_spool_t *pl_spool_open(const char *dir, size_t map_bytes, pl_log_t *log);
void pl_spool_close(pl_spool_t **self_p);
// The environment's flags (tests check no no-sync flag is set).
unsigned pl_spool_env_flags(pl_spool_t *self);
// Percent of the map in use: live pages (high-water page minus the pages
// on LMDB's free list) / map pages, so it falls again when queues drain.
unsigned pl_spool_usage_pct(pl_spool_t *self);
// Most bytes one sender / one recipient may have queued (0: a quarter of
// the map each).
void pl_spool_set_quotas(pl_spool_t *self, uint64_t sender_bytes,
                         uint64_t recipient_bytes);
// Bytes queued from 'address' (sender) and for it (recipient).
int pl_spool_quota_get(pl_spool_t *self, const char *address, uint64_t *from,
                       uint64_t *to);
// Non-zero (the LMDB or errno code) once the store failed for good: a
// failed sync, an I/O error on commit, MDB_PANIC. Nothing may be
// acknowledged any more; the process must exit and be restarted.
int pl_spool_fatal(const pl_spool_t *self);
// true when the open pass can no longer commit (poisoned half-way: LMDB
// has marked its transaction broken, reads in it fail)
bool pl_spool_doomed(const pl_spool_t *self);
// Bytes of the data file on disk.
uint64_t pl_spool_file_bytes(pl_spool_t *self);
// Clears readers left by dead processes; returns how many.
int pl_spool_reader_check(pl_spool_t *self);

// ---- the pass transaction (one per event-loop pass)
PL_MUST_CHECK int pl_spool_begin(pl_spool_t *self);
// Commits the pass: one fsync. On failure nothing of the pass is durable
// and nothing may be acknowledged. The pass is over either way. PL_EFULL:
// the map or the disk is full (ENOSPC, MDB_MAP_FULL), not fatal; PL_EIO
// with pl_spool_fatal() set: the store can no longer be trusted.
PL_MUST_CHECK int pl_spool_commit(pl_spool_t *self);
void pl_spool_abort(pl_spool_t *self);
bool pl_spool_in_pass(const pl_spool_t *self);
// Nested transaction for one packet, inside the pass.
PL_MUST_CHECK int pl_spool_nest(pl_spool_t *self);
PL_MUST_CHECK int pl_spool_nest_commit(pl_spool_t *self);
void pl_spool_nest_abort(pl_spool_t *self);
// As pl_spool_nest for one put or take (or a federation put and its note):
// a light nest (no LMDB child transaction) while the map is below 75 %
// used, a real one above. pl_spool_nest_commit / _abort close either. An
// abort of a light nest that had written (an LMDB error half-way) poisons
// the pass: every nest after fails with PL_EFULL and pl_spool_commit
// drops the whole pass (PL_EFULL, nothing of it written). Refusals (a
// duplicate, a quota, the map threshold, not found) write nothing and
// leave the pass intact.
PL_MUST_CHECK int pl_spool_nest_fast(pl_spool_t *self);
// true while a light nest is open (tests)
bool pl_spool_nest_is_light(const pl_spool_t *self);

// Why pl_spool_put refused with PL_EFULL.
typedef enum {
    PL_SPOOL_ROOM = 0,       // not refused
    PL_SPOOL_MAP_FULL,       // the map is at its threshold (or disk full)
    PL_SPOOL_SENDER_OVER,    // its sender has its quota queued
    PL_SPOOL_RECIPIENT_OVER, // its recipient has its quota queued
} pl_spool_refusal_t;

// Envelopes up to this size (receipts, takens' kin) may use a reserve:
// the map up to 95 % instead of 90 %, quotas plus an eighth.
#define PL_SPOOL_SMALL 4096

// ---- operations (inside a nested transaction of the pass)
// Queues an envelope for hdr->to. PL_OK: stored. PL_EEXIST with *dup set:
// the same id with the same bytes is known already (answer accepted again,
// store nothing). PL_EAUTH: the same id with other bytes (an attack).
// PL_EFULL: the map is at its threshold or a quota is reached (*why says
// which). PL_EIO on LMDB errors.
PL_MUST_CHECK int pl_spool_put(pl_spool_t *self, const pl_header_t *hdr,
                               const uint8_t *packet, size_t len,
                               uint64_t now_ms, bool *dup,
                               pl_spool_refusal_t *why);
// As pl_spool_put for an envelope a node sent on its own connection ('env'
// its view of 'packet'), with less hashing: the digest kept for dedupe
// covers its header and outer signature, not all its bytes. While the id
// is queued a resend is compared in full with the queued bytes. Once it is
// taken, its `seen` record holds 4 bytes of that digest: a resend under
// the same header and signature is a duplicate. (The signature covers the
// header and BLAKE2b(nonce || ciphertext), DESIGN.md section 3: only the
// sender itself, forging a signature its recipient refuses, can send
// other bytes under them; a re-seal has another signature and is refused.)
// Ids from stores written before, seen under the digest of all their
// bytes, are still duplicates of the same bytes.
PL_MUST_CHECK int pl_spool_put_signed(pl_spool_t *self, const pl_header_t *hdr,
                                      const pl_envelope_t *env,
                                      const uint8_t *packet, size_t len,
                                      uint64_t now_ms, bool *dup,
                                      pl_spool_refusal_t *why);
// As pl_spool_put, but duplicates are recognised by the bytes 'dedupe'
// (not the stored packet): a transit wrap is stored under the id of the
// envelope it wraps, and a resend of that envelope is the same message.
PL_MUST_CHECK int pl_spool_put_as(pl_spool_t *self, const pl_header_t *hdr,
                                  const uint8_t *packet, size_t len,
                                  const uint8_t *dedupe, size_t dedupe_len,
                                  uint64_t now_ms, bool *dup,
                                  pl_spool_refusal_t *why);
// Federation (db fedmap: id -> expiry, sender, recipient): notes who sent
// an envelope that crosses a link, kept until expiry + 1 day, so that an
// `expired` from the peer reaches the sender; pl_spool_fed_notice turns
// the note into a notice for that sender (PL_ENOTFOUND when none);
// pl_spool_fed_prune drops notes past expiry + 1 day (at most 'max' seen).
PL_MUST_CHECK int pl_spool_fed_note(pl_spool_t *self, const uint8_t *id,
                                    const char *from, const char *to,
                                    uint64_t expires_at);
// 'reason': the recipient's refusal code, or -1 (expired).
PL_MUST_CHECK int pl_spool_fed_notice(pl_spool_t *self, const uint8_t *id,
                                      int reason);
int pl_spool_fed_prune(pl_spool_t *self, uint64_t now, size_t max);
// Removes id's envelope from the queue because its recipient 'by' took it
// (state TAKEN) or refused it (state REFUSED). PL_ENOTFOUND if not queued
// (already taken: harmless), PL_EPERM if 'by' is not its recipient.
// *latency_ms gets now - accepted and *seq its queue position (either
// may be NULL).
PL_MUST_CHECK int pl_spool_take(pl_spool_t *self, const uint8_t *id,
                                const char *by, pl_spool_state_t state,
                                uint64_t now_ms, uint64_t *latency_ms,
                                uint64_t *seq);
// As pl_spool_take with state REFUSED, and leaves a notice for the
// envelope's sender (told like an expired one) with the recipient's
// refusal code 'reason' (0..254; PL_EINVAL otherwise).
PL_MUST_CHECK int pl_spool_refuse(pl_spool_t *self, const uint8_t *id,
                                  const char *by, int reason, uint64_t now_ms,
                                  uint64_t *latency_ms, uint64_t *seq);
// Drops envelopes whose expiry has passed (adding a notice for each
// sender) and forgets the seen ids of every day past expires + 1 day.
// 'on_expired' (may be NULL) is called per expired envelope with its recipient.
// Returns the number expired, or a negative PL_E*.
int pl_spool_sweep(pl_spool_t *self, uint64_t now,
                   void (*on_expired)(void *arg, const char *to), void *arg);

// ---- reads (inside the pass or in their own read transaction)
// Calls 'fn' for each queued envelope of 'to' with seq > after, oldest
// first, until fn returns false or 'max' were seen. Returns how many were
// passed to fn, or a negative PL_E*.
int pl_spool_scan(pl_spool_t *self, const char *to, uint64_t after, size_t max,
                  bool (*fn)(void *arg, const pl_spool_item_t *), void *arg);
// Number of envelopes queued for 'to' and the accepted time of the oldest
// (0 if none).
int pl_spool_depth(pl_spool_t *self, const char *to, uint64_t *count,
                   uint64_t *oldest_ms);
// Reads up to 'max' notices for 'sender' into ids/tos (tos entries of
// PL_ADDRESS_MAX+1 bytes) and reasons (may be NULL: -1 expired, else the
// recipient's refusal code), oldest id first; deletes them unless 'keep'
// (then pl_spool_notice_ack does, when the sender says it has them).
// Inside the pass. Returns how many.
int pl_spool_notices(pl_spool_t *self, const char *sender, size_t max,
                     bool keep, uint8_t (*ids)[PL_MSG_ID_BYTES],
                     char (*tos)[PL_ADDRESS_MAX + 1], int *reasons);
// Forgets the notice of envelope 'id' for 'sender' (its taken of the
// notice). Inside the pass. PL_OK, PL_ENOTFOUND (no such notice), or an
// error.
int pl_spool_notice_ack(pl_spool_t *self, const char *sender,
                        const uint8_t *id);

#endif
