// pl_testrun - runs one control command row on a handler context, as the
// daemon's control dispatch does: the row found by the one walker
// (pl_node_ctl_find, pl_node_ctl_run) in a write transaction of
// ctx->store that is committed when the handler succeeds and aborted
// otherwise. Layer: tests (nodes).
#ifndef PL_TESTRUN_H
#define PL_TESTRUN_H
#include <jansson.h>

#include "nodes/pl_node_ctx.h"

// Runs 'cmd' with 'args' (stolen) as 'as'; returns the parsed reply (new
// reference) and '*rc' the handler's code. Fails the test when the row
// does not exist or the store does not open a transaction.
json_t *pl_testrun(pl_node_ctx_t *ctx, const char *cmd, json_t *args,
                   const char *as, int *rc);

#endif
