// pl_spool_quota - the quota figures of one spool pass, kept in memory.
// Layer: broker. Owns: nothing (a cache pl_spool embeds).
//
// A figure ('f'/'t' address -> bytes queued) is read from the `quota`
// database once a pass, counted in memory, and written back once just
// before the pass's commit, inside it (not a get and a put, each with its
// page copy in a nested transaction, per envelope). A nested transaction
// that commits keeps its changes (base = cur), one that aborts drops them
// (cur = base); an aborted pass writes nothing (the cache is emptied).
#ifndef PL_SPOOL_QUOTA_H
#define PL_SPOOL_QUOTA_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_envelope.h"

#define PL_QCACHE_MAX 64 // figures kept; more go to LMDB directly

typedef struct {
    uint8_t key[PL_ADDRESS_MAX + 2]; // 'f'/'t' address
    size_t klen;                     // bytes of key
    uint64_t stored;                 // what `quota` holds
    uint64_t base;                   // with the pass's committed nests
    uint64_t cur;                    // ... and the open nest
} pl_qent_t;

typedef struct {
    pl_qent_t q[PL_QCACHE_MAX];
    size_t n; // q[] used; 0 empties the cache
} pl_qcache_t;

// The figure of 'key', read through 'txn' from 'dbi' on first use. NULL
// when the cache is full or the read failed (the caller goes to LMDB).
pl_qent_t *pl_qcache_get(pl_qcache_t *c, MDB_txn *txn, MDB_dbi dbi,
                         const uint8_t *key, size_t klen);
// A nested transaction ended: its changes kept ('keep') or dropped.
void pl_qcache_nest_end(pl_qcache_t *c, bool keep);
// Writes the changed figures (a zero one is deleted) into 'txn' and
// empties the cache. 0 or the LMDB code.
int pl_qcache_flush(pl_qcache_t *c, MDB_txn *txn, MDB_dbi dbi);

#endif
