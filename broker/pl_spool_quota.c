// pl_spool_quota - the quota figures of one spool pass. Layer: broker.
#include "broker/pl_spool_quota.h"

#include <string.h>

pl_qent_t *
pl_qcache_get(pl_qcache_t *c, MDB_txn *txn, MDB_dbi dbi, const uint8_t *key,
              size_t klen)
{
    if (klen > sizeof c->q[0].key)
        return NULL;
    for (size_t i = 0; i < c->n; i++)
        if (c->q[i].klen == klen && memcmp(c->q[i].key, key, klen) == 0)
            return &c->q[i];
    if (c->n == PL_QCACHE_MAX)
        return NULL;
    MDB_val k = {klen, (void *) key}, v;
    uint64_t val = 0;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        memcpy(&val, v.mv_data, 8);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return NULL;
    pl_qent_t *e = &c->q[c->n++];
    memcpy(e->key, key, klen);
    e->klen = klen;
    e->stored = e->base = e->cur = val;
    return e;
}

void
pl_qcache_nest_end(pl_qcache_t *c, bool keep)
{
    for (size_t i = 0; i < c->n; i++) {
        if (keep)
            c->q[i].base = c->q[i].cur;
        else
            c->q[i].cur = c->q[i].base;
    }
}

int
pl_qcache_flush(pl_qcache_t *c, MDB_txn *txn, MDB_dbi dbi)
{
    int rc = 0;
    for (size_t i = 0; i < c->n && rc == 0; i++) {
        pl_qent_t *e = &c->q[i];
        if (e->base == e->stored)
            continue;
        MDB_val k = {e->klen, e->key}, v = {8, &e->base};
        if (e->base == 0) {
            rc = mdb_del(txn, dbi, &k, NULL);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        } else {
            rc = mdb_put(txn, dbi, &k, &v, 0);
        }
    }
    c->n = 0;
    return rc;
}
