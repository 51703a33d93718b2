// pl_handover_cmd - the handover room (DESIGN.md §7.2, DOMAIN.md §a6,
// issue 13): the control rows of `handover`, `handovers`, `handover show`,
// `handover ack|accept|reject|arrived|no-show|withdraw` and `handover
// cp-ack`, the inbound Handover body, and the purge of handed-over cases
// after --handover-keep-days. Layer: nodes, handlers. The state table is
// nodes/pl_handover.c.
//
// Store ("handovers" database, every personal value sealed, DESIGN.md §5):
//   'h' || handover id (16) -> version || data key id || seal(JSON record)
//        under the handover's own random data key (never the case key, so
//        that the minimal record outlives the case). The record holds the
//        direction, the peer, the track and its history, the sender's case
//        id (host side) or the package until it is accepted, rejected or
//        withdrawn (receiving side: then only the new case's id). Each time
//        personal data leaves the record it is sealed under a fresh key and
//        the old key is destroyed, so older pages no longer open.
//   'c' || handover id -> sealed under the master key: at a child-
//        protection node, its cp-ack (to whom, when).
// Envelopes: one body kind, S_KIND_HANDOVER (Message.handover): the
// package, an update (per-author seq, applied in order), or a cp-ack. The
// child-protection notification is the existing cp-notification (kind
// "handover", its referral id field carrying the handover id).
#ifndef PL_HANDOVER_CMD_H
#define PL_HANDOVER_CMD_H

#include <stdbool.h>
#include <stdint.h>

#include "nodes/pl_ctl_cmd.h"
#include "nodes/pl_node_ctx.h"
#include "nodes/pl_node_int.h"

// The control rows (a NULL name ends them), in s_tables of pl_node_ctl.c.
extern const pl_ctl_cmd_t pl_handover_cmds[];

// An inbound Handover body, in the nested transaction that stored and
// receipted its envelope. PL_OK for every business outcome (refusals are
// audited); an error only when the store fails.
PL_MUST_CHECK int pl_handover_on_msg(pl_node_ctx_t *ctx, pl_txn_t *txn,
                                     const pl_header_t *h,
                                     const uint8_t digest[PL_DIGEST_BYTES],
                                     const Passerelle__V1__Handover *m);
// Erases the cases handed over whose keep period has passed (own
// transaction: none may be open).
void pl_handover_sweep(pl_node_ctx_t *ctx);

// The same on the daemon (pl_inbound.c's kinds table, pl_node.c's timer).
PL_MUST_CHECK int pl_node_handover_on_msg(pl_node_t *self, pl_txn_t *txn,
                                          const pl_header_t *h,
                                          const pl_cert_t *cert,
                                          const uint8_t digest[PL_DIGEST_BYTES],
                                          const pl_message_t *m, bool *refused);
void pl_node_handover_sweep(pl_node_t *self);

#endif
