// test_lmdb - the one LMDB/errno map (proto/pl_lmdb) that the node's store
// and the broker's spool share.
// cmocka.h needs these first, in this order
// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on

#include <errno.h>
#include <lmdb.h>

#include "proto/pl_lmdb.h"

static void
test_err_map(void **state)
{
    (void) state;
    assert_int_equal(pl_lmdb_err(MDB_SUCCESS), PL_OK);
    assert_int_equal(pl_lmdb_err(MDB_NOTFOUND), PL_ENOTFOUND);
    const int full[] = {MDB_MAP_FULL, MDB_TXN_FULL, MDB_READERS_FULL,
                        MDB_DBS_FULL, ENOSPC,       EDQUOT};
    for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
        assert_int_equal(pl_lmdb_err(full[i]), PL_EFULL);
        assert_true(pl_lmdb_is_full(full[i]));
        assert_false(pl_lmdb_commit_fatal(full[i]));
    }
    assert_int_equal(pl_lmdb_err(ENOMEM), PL_ENOMEM);
    const int broken[] = {EIO, MDB_PANIC, MDB_CORRUPTED, EROFS, MDB_INVALID};
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        assert_int_equal(pl_lmdb_err(broken[i]), PL_EIO);
        assert_false(pl_lmdb_is_full(broken[i]));
        assert_true(pl_lmdb_commit_fatal(broken[i]));
    }
    // a commit that leaves the environment as it was
    assert_false(pl_lmdb_commit_fatal(MDB_SUCCESS));
    assert_false(pl_lmdb_commit_fatal(ENOMEM));
    assert_false(pl_lmdb_commit_fatal(MDB_BAD_TXN));
}

static void
test_disk_full(void **state)
{
    (void) state;
    // /tmp has some room, never 2^64 bytes
    assert_false(pl_lmdb_disk_full("/tmp", 0));
    assert_true(pl_lmdb_disk_full("/tmp", UINT64_MAX));
    // a file system that cannot be asked is not "full"
    assert_false(pl_lmdb_disk_full("/nonexistent/pl-lmdb", UINT64_MAX));
    assert_false(pl_lmdb_disk_full(NULL, UINT64_MAX));
    // EIO on a full disk is ENOSPC; on a disk with room it stays EIO
    assert_int_equal(pl_lmdb_commit_rc(EIO, "/tmp", UINT64_MAX), ENOSPC);
    assert_int_equal(pl_lmdb_commit_rc(EIO, "/tmp", 0), EIO);
    assert_int_equal(pl_lmdb_commit_rc(MDB_PANIC, "/tmp", UINT64_MAX),
                     MDB_PANIC);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_map),
        cmocka_unit_test(test_disk_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
