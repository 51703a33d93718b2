// pl_ctl_cmd - one row of the node's control-command table, in the manner
// of nginx's ngx_command_t: each handler file exports its rows (a NULL name
// ends a table) and the dispatcher (pl_node_ctl.c) walks them. Adding a
// command is one row and one function. Layer: domain (types only).
#ifndef PL_CTL_CMD_H
#define PL_CTL_CMD_H

#include <jansson.h>

#include "nodes/pl_store.h"

typedef struct pl_node_ctx pl_node_ctx_t;

// Runs a command with 'args' (may be NULL) as staff member 'as' (may be
// NULL) inside the request's nested transaction 'txn' (NULL for deferred
// commands). Returns the reply (malloc'd JSON text; NULL only for a request
// parked until an answer arrives). *rc_out is PL_OK when the transaction
// must be kept (the reply is then stored under the request id), or the
// error code when nothing may be kept.
typedef char *(*pl_ctl_fn)(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                           const char *as, int *rc_out);

#define PL_CTL_CHANGES  1 // changes state: needs a request id, reply stored
#define PL_CTL_TEST     2 // test.*: compiled only with PL_TEST_BUILD
#define PL_CTL_DEFERRED 4 // runs between passes, no transaction open

typedef struct {
    const char *name; // "case.add"
    unsigned flags;   // PL_CTL_*
    pl_ctl_fn fn;     // handler
} pl_ctl_cmd_t;

#endif
