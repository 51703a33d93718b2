// pl_testctl - a control command run on a fake handler context (see
// pl_testctl.h). Layer: tests (nodes).
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include "tests/lib/nodes/pl_testctl.h"

#include <stdlib.h>

#include "nodes/pl_node_ctl.h"

json_t *
pl_testctl_run(pl_store_t *store, pl_node_ctx_t *ctx, const char *cmd,
               json_t *args, const char *as, int *rc)
{
    pl_txn_t *txn = NULL;
    assert_int_equal(pl_store_begin(store, NULL, true, &txn), PL_OK);
    int out = -1;
    const pl_ctl_cmd_t *row = pl_node_ctl_find(cmd);
    assert_non_null(row);
    char *text = pl_node_ctl_run(row, ctx, txn, args, as, &out);
    if (out == PL_OK)
        assert_int_equal(pl_store_commit(&txn), PL_OK);
    else
        pl_store_abort(&txn);
    json_decref(args);
    json_t *reply = pl_testctl_reply(text);
    if (rc)
        *rc = out;
    return reply;
}

json_t *
pl_testctl_reply(char *text)
{
    assert_non_null(text);
    json_error_t jerr;
    json_t *reply = json_loads(text, 0, &jerr);
    free(text);
    assert_non_null(reply);
    return reply;
}
