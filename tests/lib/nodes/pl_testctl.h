// pl_testctl - runs a control command row on a fake handler context as
// the daemon's control dispatch does (issue 16; for tests/nodes/*): the
// row found and run by the one walker (pl_node_ctl_find, pl_node_ctl_run)
// in a nested transaction of 'store', kept when the handler says so.
// Layer: tests (nodes), in the library pl_testnodes.
#ifndef PL_TESTCTL_H
#define PL_TESTCTL_H
#include <jansson.h>

#include "nodes/pl_node_ctx.h"
#include "nodes/pl_store.h"

// Runs 'cmd' with 'args' (stolen, may be NULL) as 'as' (may be NULL).
// Returns the parsed reply (json_decref it); *rc (may be NULL) gets the
// handler's rc_out. An unknown command fails the test.
json_t *pl_testctl_run(pl_store_t *store, pl_node_ctx_t *ctx, const char *cmd,
                       json_t *args, const char *as, int *rc);
// A reply's text (malloc'd, freed here) parsed (json_decref it); a NULL
// or unparsable text fails the test.
json_t *pl_testctl_reply(char *text);
#endif
