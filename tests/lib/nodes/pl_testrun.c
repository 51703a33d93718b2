// pl_testrun - one control command on a fake handler context (tests).
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include "tests/lib/nodes/pl_testrun.h"

#include <stdlib.h>

#include "nodes/pl_node_ctl.h"

json_t *
pl_testrun(pl_node_ctx_t *ctx, const char *cmd, json_t *args, const char *as,
           int *rc)
{
    pl_txn_t *txn = NULL;
    assert_int_equal(pl_store_begin(ctx->store, NULL, true, &txn), PL_OK);
    const pl_ctl_cmd_t *row = pl_node_ctl_find(cmd);
    assert_non_null(row);
    *rc = -12345;
    char *text = pl_node_ctl_run(row, ctx, txn, args, as, rc);
    if (*rc == PL_OK)
        assert_int_equal(pl_store_commit(&txn), PL_OK);
    else
        pl_store_abort(&txn);
    json_decref(args);
    assert_non_null(text);
    json_t *reply = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(reply);
    return reply;
}
