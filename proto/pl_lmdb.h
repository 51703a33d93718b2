// pl_lmdb - one map of LMDB/errno results for every LMDB store (the node's
// pl_store, the broker's pl_spool). Layer: proto. Owns: the meaning of an
// LMDB code: an error, "full" (space may come back), or "the environment
// can no longer be trusted". Each store keeps its own policy on top (the
// broker ends on any failed pass commit; see pl_spool.c).
#ifndef PL_LMDB_H
#define PL_LMDB_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/pl_err.h"

// PL_E* of an LMDB or errno result: MDB_SUCCESS -> PL_OK, MDB_NOTFOUND ->
// PL_ENOTFOUND; MDB_MAP_FULL, MDB_TXN_FULL, MDB_READERS_FULL, MDB_DBS_FULL,
// ENOSPC, EDQUOT -> PL_EFULL (never fatal: space may come back); ENOMEM ->
// PL_ENOMEM; anything else (EIO, MDB_PANIC, MDB_CORRUPTED, ...) -> PL_EIO.
int pl_lmdb_err(int rc);
// true for the codes pl_lmdb_err maps to PL_EFULL.
bool pl_lmdb_is_full(int rc);
// Is 'rc', returned by the commit of a top-level write transaction, a
// failure after which the environment cannot be trusted? A commit writes
// the dirty pages, syncs the data file, then writes the meta page (LMDB
// 0.9 mdb_txn_commit). A failed sync or meta write leaves pages in the page
// cache that the disk may not hold, and a later sync can succeed without
// them (Linux clears a writeback error once reported: "fsyncgate"); a
// failed meta write also sets MDB_FATAL_ERROR, so every later begin returns
// MDB_PANIC. Only "full" (as pl_lmdb_is_full), ENOMEM and MDB_BAD_TXN (an
// earlier operation of the transaction failed) leave the environment as it
// was: the transaction is aborted, the previous meta page still current.
bool pl_lmdb_commit_fatal(int rc);
// true when the file system holding 'path' has less than 'need' bytes free
// for an unprivileged writer; false also when it cannot be asked.
bool pl_lmdb_disk_full(const char *path, uint64_t need);
// The result of a failed top-level commit, told apart: LMDB reports a
// short page write as EIO (mdb_page_flush: a write that wrote less than
// asked), which is what a full file system gives. An EIO while 'path' has
// less than 'need' bytes free is returned as ENOSPC (nothing was written
// for good: the meta page comes last); any other code is returned as is.
int pl_lmdb_commit_rc(int rc, const char *path, uint64_t need);

#endif
