// pl_storever - store format versions: the backup taken before a migration
// and the refusal of a newer store. Layer: proto. Used by the node's store
// (nodes/pl_store.c, "format" in its settings database) and the broker's
// spool (broker/pl_spool.c, "format" in its meta database): each records
// the format it was written in, refuses a newer one and migrates an older
// one, copying it first.
#ifndef PL_STOREVER_H
#define PL_STOREVER_H

#include <lmdb.h>
#include <stddef.h>

#include "proto/pl_err.h"

// Copies the open environment 'env' (compacted: mdb_env_copyfd2 with
// MDB_CP_COMPACT, a consistent read snapshot) into a new folder
// "<store_dir>.bak-v<from>" (mode 0700; data.mdb mode 0600, fsynced, as is
// the folder), or "<store_dir>.bak-v<from>.N" if that exists. The folder's
// path goes to 'path'. PL_OK, or PL_EIO/PL_EFULL with nothing half made
// left as a backup.
PL_MUST_CHECK int pl_storever_backup(MDB_env *env, const char *store_dir,
                                     unsigned from, char *path, size_t n);

// The message for a store of format 'found' newer than 'known', the
// newest this build reads: what it is, that nothing was changed, what to do.
void pl_storever_newer(char *err, size_t n, const char *daemon,
                       const char *store_dir, unsigned found, unsigned known);

#endif
