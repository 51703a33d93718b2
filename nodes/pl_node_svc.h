// pl_node_svc - the service catalogue, matching and slip commands of the
// node (issue 18): service.*, slip.*. Layer: nodes, handlers.
#ifndef PL_NODE_SVC_H
#define PL_NODE_SVC_H
#include "nodes/pl_ctl_cmd.h"

extern const pl_ctl_cmd_t pl_svc_cmds[];

// The refer gate's capacity check: NULL when 'code' of 'to' is not known
// full, or 'confirm' is set; else the error reply (a warning that names
// the signal's age and asks for --confirm-full).
char *pl_svc_refer_check(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *to,
                         const char *code, bool confirm, int *rc_out);

// Every service this node knows (its own and the peers' it verified), as
// an array of {address, organisation, node_region, version, entry,
// capacity_age_s, own (this node's: true)}:
// the one entry point for an export (HSDS, issue 14). New reference.
json_t *pl_svc_catalogue(pl_node_ctx_t *ctx, pl_txn_t *txn);

#endif
