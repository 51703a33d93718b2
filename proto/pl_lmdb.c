// pl_lmdb - the one LMDB/errno map (see pl_lmdb.h).
#include "proto/pl_lmdb.h"

#include <errno.h>
#include <lmdb.h>
#include <stddef.h>
#include <sys/statvfs.h>

bool
pl_lmdb_is_full(int rc)
{
    switch (rc) {
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_READERS_FULL:
    case MDB_DBS_FULL:
    case ENOSPC: // the file system is full: not fatal, space may come back
    case EDQUOT:
        return true;
    default:
        return false;
    }
}

int
pl_lmdb_err(int rc)
{
    if (rc == MDB_SUCCESS)
        return PL_OK;
    if (rc == MDB_NOTFOUND)
        return PL_ENOTFOUND;
    if (pl_lmdb_is_full(rc))
        return PL_EFULL;
    if (rc == ENOMEM)
        return PL_ENOMEM;
    return PL_EIO;
}

bool
pl_lmdb_commit_fatal(int rc)
{
    if (rc == MDB_SUCCESS || rc == MDB_BAD_TXN || rc == ENOMEM)
        return false;
    return !pl_lmdb_is_full(rc);
}

bool
pl_lmdb_disk_full(const char *path, uint64_t need)
{
    struct statvfs vfs;
    if (!path || statvfs(path, &vfs) != 0)
        return false;
    return (uint64_t) vfs.f_bavail * vfs.f_frsize < need;
}

int
pl_lmdb_commit_rc(int rc, const char *path, uint64_t need)
{
    if (rc == EIO && pl_lmdb_disk_full(path, need))
        return ENOSPC; // a short page write on a full disk, not a bad disk
    return rc;
}
