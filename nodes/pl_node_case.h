// pl_node_case - cases, consent records and referrals inside the node
// daemon (DESIGN.md §5, §6; issue 7). Layer: nodes. Internal to the
// daemon: included by pl_node_ctl.c (control commands) and pl_node_msg.c
// (inbound referral, status update and receipt hooks) only.
//
// Store layout (every personal value sealed, DESIGN.md §5):
//   cases      case id (16 random bytes) -> 0x01 || data key id || seal(
//              case JSON) under the case's own data key
//   consents   consent id (16) -> 0x01 || case id || seal(consent JSON)
//              under the case's data key
//   referrals  'r' || referral id (16) -> 0x01 || data key id || seal(
//              referral JSON: view, track, pending update details, history)
//              under the case's key (sender) or the referral's own key
//              (recipient, which has no case)
//              'm' || envelope id (16) -> referral id (to settle a receipt)
//   audit      see pl_audit.h; one entry per state change and per referral
//              envelope sent or received, in the same transaction
// The associated data of each seal is "db name" || 0 || record key, so a
// record cannot be moved to another key. Index keys are random ids only.
#ifndef PL_NODE_CASE_H
#define PL_NODE_CASE_H

#include <jansson.h>
#include <stdbool.h>

#include "nodes/pl_ctl_cmd.h"
#include "nodes/pl_node_ctx.h"
#include "nodes/pl_node_int.h"

// The control commands of the case, consent and referral handlers, ended
// by a row whose name is NULL (issue 12): one of the tables the control
// dispatch walks (s_tables of pl_node_ctl.c). Every row is PL_CTL_STAFF.
extern const pl_ctl_cmd_t pl_case_cmds[];

// Test builds only: PASSERELLE_TEST_HOOKS=1 in the daemon's environment
// turns on the PL_CTL_HOOKS rows and test-only arguments. Release builds
// have neither (issue 12). Defined in pl_case_util.c.
bool pl_case_test_hooks(void);

// Inbound hooks, called by pl_node_msg.c in the nested transaction that
// stores the envelope (after its inbox record and receipt are written).
// They return PL_OK for every business outcome (a refused referral is
// answered with a `rejected` status update and audited) and an error only
// when the store fails, so that the envelope is retried then.
PL_MUST_CHECK int pl_node_case_on_referral(pl_node_t *self, pl_txn_t *txn,
                                           const pl_header_t *h,
                                           const uint8_t digest[32],
                                           const Passerelle__V1__Referral *r);
PL_MUST_CHECK int pl_node_case_on_status(pl_node_t *self, pl_txn_t *txn,
                                         const pl_header_t *h,
                                         const uint8_t digest[32],
                                         const Passerelle__V1__StatusUpdate *u);
// A verified receipt for our envelope 'msg_id' from 'from', received at
// 'received_at': when it is a referral, the referral becomes `received`.
PL_MUST_CHECK int pl_node_case_on_receipt(pl_node_t *self, pl_txn_t *txn,
                                          const uint8_t msg_id[16],
                                          const char *from,
                                          uint64_t received_at);
// Our envelope 'msg_id' to 'to' will never be delivered (reason -1:
// expired; else the recipient node's refusal code, or the broker's with
// PL_CASE_BY_BROKER or'ed in): when it is a referral, the referral shows
// the delivery problem (pl_case_undelivered).
#define PL_CASE_BY_BROKER 0x100 // the broker refused it for good when sent
PL_MUST_CHECK int pl_node_case_on_undelivered(pl_node_t *self, pl_txn_t *txn,
                                              const uint8_t msg_id[16],
                                              const char *to, int reason);

// issue 8: a consent-withdrawal (erase what this node holds of the named
// referrals, confirm), an erasure-confirmation (the owner records it) or a
// cp-notification (a child-protection node lists it), in the nested
// transaction that stores the envelope. Other bodies: PL_OK, nothing done.
PL_MUST_CHECK int pl_node_case_on_other(pl_node_t *self, pl_txn_t *txn,
                                        const pl_header_t *h,
                                        const uint8_t digest[32],
                                        const pl_message_t *m);
// Logs each newly overdue referral sent by this node once
// (`referral_overdue id=... priority=... since=...`) and remembers it in
// the referral record, so a restart does not log it again. Own
// transaction: none may be open.
void pl_node_case_overdue_sweep(pl_node_t *self);

// The same entry points on a handler context (pl_node_ctx.h) instead of
// the daemon: the pl_node_case_* functions above build the context from
// pl_node_t and call these; unit tests call them (and the rows of
// pl_case_cmds) with a fake context.
PL_MUST_CHECK int pl_case_on_referral(pl_node_ctx_t *ctx, pl_txn_t *txn,
                                      const pl_header_t *h,
                                      const uint8_t digest[32],
                                      const Passerelle__V1__Referral *r);
PL_MUST_CHECK int pl_case_on_status(pl_node_ctx_t *ctx, pl_txn_t *txn,
                                    const pl_header_t *h,
                                    const uint8_t digest[32],
                                    const Passerelle__V1__StatusUpdate *u);
PL_MUST_CHECK int pl_case_on_receipt(pl_node_ctx_t *ctx, pl_txn_t *txn,
                                     const uint8_t msg_id[16], const char *from,
                                     uint64_t received_at);
PL_MUST_CHECK int pl_case_on_other(pl_node_ctx_t *ctx, pl_txn_t *txn,
                                   const pl_header_t *h,
                                   const uint8_t digest[32],
                                   const pl_message_t *m);
void pl_case_overdue_sweep(pl_node_ctx_t *ctx);

#endif
