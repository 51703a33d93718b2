// pl_ctl_cmd - one row of the node's table of control commands (issue 12),
// in the manner of nginx's ngx_command_t. Layer: nodes, shared by the
// handlers (which export their rows) and the control dispatch (which walks
// them). Adding a command is one row and one function.
#ifndef PL_CTL_CMD_H
#define PL_CTL_CMD_H

#include <jansson.h>

#include "nodes/pl_node_ctx.h"
#include "nodes/pl_store.h"

// Flags of a row.
enum {
    PL_CTL_CHANGES = 1,  // changes state: needs a request id, reply stored
    PL_CTL_TEST = 2,     // test builds only (PL_TEST_BUILD), and only with
                         // PASSERELLE_TEST_HOOKS=1
    PL_CTL_DEFERRED = 4, // run between passes, no transaction open
    PL_CTL_COMMITS = 8,  // keeps its changes (like PL_CTL_CHANGES) but its
                         // reply holds a secret (a session token): it is
                         // never stored under a request id, and the
                         // command needs none (session.login)
};
// The roles (PL_ROLE_*, pl_roles.h) that may run a row's command through a
// staff session ride in its flags, above the PL_CTL_* bits, so that a row
// without them keeps its three-field form: {"x", PL_CTL_CHANGES |
// PL_CTL_ROLES(PL_ROLE_ADMIN), s_x}. No roles (the default): the Unix owner
// only, unless pl_roles.c's matrix names the command.
#define PL_CTL_ROLE_SHIFT      8
#define PL_CTL_ROLES(mask)     ((unsigned) (mask) << PL_CTL_ROLE_SHIFT)
#define PL_CTL_ROLES_OF(flags) ((unsigned) (flags) >> PL_CTL_ROLE_SHIFT)

// A handler: runs with 'args' (may be NULL) as staff member 'as' (may be
// NULL, at most 127 bytes: the walker checks) inside the request's nested
// transaction 'txn'. Returns the reply (malloc'd JSON text). *rc_out is
// PL_OK when the transaction must be kept (the action happened, or a
// refusal was audited and its reply is stored under the request id too),
// or the error code of the reply when nothing may be kept. The walker sets
// *rc_out to PL_OK before the call.
typedef char *(*pl_ctl_fn)(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                           const char *as, int *rc_out);

typedef struct {
    const char *name; // "case.add"
    unsigned flags;   // PL_CTL_*
    pl_ctl_fn fn;     // the handler
} pl_ctl_cmd_t;

#endif
