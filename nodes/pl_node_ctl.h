// pl_node_ctl - the first step of every control request: parse and check
// the request document, before any store or socket is touched (DESIGN.md
// §9). Layer: nodes. Callable without a running daemon: the fuzz target
// tests/fuzz/fuzz_ctl_request.c drives it.
#ifndef PL_NODE_CTL_H
#define PL_NODE_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodes/pl_ctl_cmd.h"

#define PL_CTL_RID_BYTES 16  // request id: 32 hex digits
#define PL_CTL_CMD_MAX   64  // longest command name
#define PL_CTL_AS_MAX    200 // longest staff name in "as"

// A parsed request; every pointer borrows from 'doc'.
typedef struct {
    json_t *doc;     // the whole request (owned: pl_node_ctl_req_free)
    const char *cmd; // "cmd"
    const char *rid; // "req" as given (32 hex digits), NULL when absent
    uint8_t rid_bin[PL_CTL_RID_BYTES]; // "req" decoded (when rid)
    json_t *args;        // "args" object, NULL when absent or null
    const char *as;      // "as", NULL when absent or null
    const char *session; // "session" (64 hex digits), NULL when absent
    bool changes;        // the command changes state (it needs "req")
} pl_ctl_req_t;

// Parses 'text' (len bytes, not NUL-terminated) as
//   {"req": "<32 hex>", "cmd": "...", "args": {...} | null,
//    "as": "staff name" | null, "session": "<64 hex>" | null}
// Returns 0 with 'out' filled, or -1 with *reply a complete error reply
// (malloc'd JSON text {"ok": false, ...}) and 'out' zeroed. 'changes' is
// called with the command name to tell whether it changes state (NULL:
// none does).
int pl_node_ctl_parse(const char *text, size_t len,
                      bool (*changes)(const char *cmd), pl_ctl_req_t *out,
                      char **reply);
// Frees what pl_node_ctl_parse kept; safe on a zeroed request.
void pl_node_ctl_req_free(pl_ctl_req_t *req);

// The command table (pl_ctl_cmd.h): the row of 'cmd' or NULL (the case,
// consent and referral commands are not rows yet: see pl_node_ctl_known).
const pl_ctl_cmd_t *pl_node_ctl_find(const char *cmd);
// 'cmd' changes state (it needs "req"): the 'changes' of pl_node_ctl_parse.
bool pl_node_ctl_changes(const char *cmd);
// 'cmd' is a command of this daemon (a row, or a case command).
bool pl_node_ctl_known(const char *cmd);

#endif
