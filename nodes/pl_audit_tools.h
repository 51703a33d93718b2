// pl_audit_tools - reading the audit chain for people outside the node:
// the signed head, and an export of entries N..M that an auditor can check
// offline against the node's sign public key (issue 6). Layer: nodes.
// Built only on pl_audit.h's documented format and pl_store's public API.
//
// Export document (JSON):
//   {"format": "passerelle-audit-export-v1",
//    "node": address, "sign_public_key": Z85 (DIR/keys/sign.public),
//    "head": {"count", "hash" (hex), "signature" (hex)},
//    "from": N, "to": M,
//    "entries": [{"seq", "hash" (hex, this entry's chain hash),
//                 "text" (the stored entry bytes, exactly)} ...]}
// To check: for each entry in order, hash = BLAKE2b-256(
// "passerelle-audit-v1" || prev || text) where prev is the "prev" field of
// entry N (then the previous entry's hash); when M equals head.count the
// last hash must equal head.hash, and head.signature must be an Ed25519
// signature by sign_public_key over "passerelle-audit-head-v1" ||
// u64be(count) || hash.
#ifndef PL_AUDIT_TOOLS_H
#define PL_AUDIT_TOOLS_H

#include <jansson.h>
#include <stdint.h>

#include "nodes/pl_audit.h"
#include "nodes/pl_store.h"

#define PL_AUDIT_EXPORT_MAX 100000 // entries per export call

// Builds the export document of entries from..to (1-based, inclusive;
// 'to' 0 or past the end means up to the last entry). 'address' and
// 'sign_pk' name the node. *out is a new reference (json_decref it).
// PL_EINVAL when 'from' is 0, after 'to' or the range exceeds
// PL_AUDIT_EXPORT_MAX entries.
PL_MUST_CHECK int pl_audit_export(pl_txn_t *txn, const char *address,
                                  const uint8_t sign_pk[PL_SIGN_PK_BYTES],
                                  uint64_t from, uint64_t to, json_t **out);

// Checks an export document offline (what an auditor does): the chain of
// the entries given and, when they reach the head, the head and its
// signature by sign_public_key. PL_OK when it verifies; PL_EAUTH with
// 'report' naming the first bad entry; PL_EPROTO when malformed.
PL_MUST_CHECK int pl_audit_check_export(const json_t *doc,
                                        pl_audit_report_t *report);

// Counts of the store's databases as a JSON object {"inbox": n, ...}, and
// the head as {"count", "hash", "signature"} (for a backup manifest).
json_t *pl_audit_store_counts(pl_txn_t *txn);
json_t *pl_audit_head_json(pl_txn_t *txn);

#endif
