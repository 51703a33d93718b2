// pl_audit - the node's append-only audit chain (DESIGN.md §5). Layer:
// nodes.
//
// Each entry is one compact JSON object (keys sorted, so its bytes are
// fixed) stored under its sequence number (8 bytes, big-endian) in the
// "audit" database:
//   {"seq", "at", "dir": in|out|local, "peer", "msg" (envelope id hex),
//    "kind", "digest" (envelope digest hex), "by" (staff), "ref" (random id
//    of the referral or case), "event", "result", "prev" (hash hex)}
// Only ids, codes, addresses, times and staff names: never a person's data
// nor a hash of a low-entropy personal field.
//
// hash(entry n) = BLAKE2b-256("passerelle-audit-v1" || hash(n-1) || bytes);
// hash(entry 0's predecessor) is 32 zero bytes. After each append the head
// (count, hash of the last entry) is signed with the node's sign key
// (Ed25519 over "passerelle-audit-head-v1" || u64be(count) || hash) and
// stored in "settings" under "audit.head", in the same transaction as the
// entry, so removing or changing the last entry is detected too.
#ifndef PL_AUDIT_H
#define PL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "nodes/pl_store.h"
#include "proto/pl_err.h"
#include "proto/pl_keys.h"

#define PL_AUDIT_HASH_BYTES 32
// The signed head: settings key PL_AUDIT_HEAD_KEY holds u64be(count) ||
// hash of the last entry || Ed25519 over PL_AUDIT_HEAD_TAG || u64be(count)
// || hash. Shared with pl_audit_tools.c (export, offline check).
#define PL_AUDIT_HEAD_TAG   "passerelle-audit-head-v1"
#define PL_AUDIT_HEAD_KEY   "audit.head"
#define PL_AUDIT_HEAD_BYTES (8 + PL_AUDIT_HASH_BYTES + PL_SIG_BYTES)
// bytes the head signature covers: tag || u64be(count) || hash
#define PL_AUDIT_HEAD_INPUT_BYTES                                              \
    (sizeof PL_AUDIT_HEAD_TAG - 1 + 8 + PL_AUDIT_HASH_BYTES)

typedef enum {
    PL_AUDIT_IN = 0,    // "in": an envelope received
    PL_AUDIT_OUT = 1,   // "out": an envelope sent (committed to the outbox)
    PL_AUDIT_LOCAL = 2, // "local": a local action or refusal
} pl_audit_dir_t;

// One entry as the caller gives it; every pointer may be NULL (left out).
typedef struct {
    pl_audit_dir_t dir;    // direction
    const char *peer;      // other node's address
    const uint8_t *msg_id; // envelope id (16 bytes)
    const char *kind;      // "referral", "status-update", "case", "consent"
    const uint8_t *digest; // envelope digest (32 bytes)
    const char *by;        // staff member (--as) or "system"
    const uint8_t *ref;    // referral / case id (16 bytes)
    const char *event;     // "refer", "accept", "received", ...
    const char *result;    // "applied", "refused-state", ...
    const char *detail;    // a code (e.g. "no-consent"), never free text
} pl_audit_entry_t;

// Appends 'e' at time 'now' inside 'txn' and re-signs the head with
// 'keys' (sign key). 'seq' (may be NULL) gets the entry's number (from 1).
PL_MUST_CHECK int pl_audit_append(pl_txn_t *txn, const pl_keys_t *keys,
                                  const pl_audit_entry_t *e, uint64_t now,
                                  uint64_t *seq);

// The result of a verification.
typedef struct {
    uint64_t count;   // entries checked
    uint64_t bad_seq; // first bad entry (0: none)
    char error[160];  // what failed, "" when the chain verifies
} pl_audit_report_t;

// The node's one audit verifier (the daemon's ops handler, `audit
// verify`, backups): recomputes the whole chain in 'txn' and checks the
// signed head against 'sign_pk', naming the first entry that may have been
// changed: a broken link from entry k to entry k+1 names k (entries before
// it are proven by their links); a head whose signature fails names the
// last signed entry; a missing last entry or entries appended after the
// signed head are named too. PL_OK when it verifies; PL_EAUTH
// (report->error and report->bad_seq say what and where) when an entry,
// the chain or the head does not; other codes for store errors.
PL_MUST_CHECK int pl_audit_verify(pl_txn_t *txn,
                                  const uint8_t sign_pk[PL_SIGN_PK_BYTES],
                                  pl_audit_report_t *report);

// The entry check the verifier and the export check share: 'bytes' must
// be an entry object whose "seq" is 'seq' and whose "prev" is a hash (put
// in 'prev'). PL_OK, or PL_EPROTO when malformed.
PL_MUST_CHECK int pl_audit_entry_link(const uint8_t *bytes, size_t len,
                                      uint64_t seq,
                                      uint8_t prev[PL_AUDIT_HASH_BYTES]);

// hash(entry) = BLAKE2b-256("passerelle-audit-v1" || prev || bytes): the
// chaining rule, for tools that recompute the chain outside this module.
void pl_audit_chain_hash(const uint8_t prev[PL_AUDIT_HASH_BYTES],
                         const uint8_t *bytes, size_t len,
                         uint8_t out[PL_AUDIT_HASH_BYTES]);

// Reads the head: count, hash of the last entry and its signature ('sig'
// may be NULL); zeros for an empty chain. PL_EPROTO if malformed.
PL_MUST_CHECK int pl_audit_head(pl_txn_t *txn, uint64_t *count,
                                uint8_t hash[PL_AUDIT_HASH_BYTES],
                                uint8_t *sig);
// The bytes the head signature covers.
void pl_audit_head_input(uint8_t m[PL_AUDIT_HEAD_INPUT_BYTES], uint64_t count,
                         const uint8_t hash[PL_AUDIT_HASH_BYTES]);

#endif
