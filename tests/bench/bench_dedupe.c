// bench_dedupe - the size of the broker's dedupe records. Layer: tests (run
// by hand: `make bench`; prints figures, asserts none).
//
// Puts N envelopes through pl_spool (queued, then taken by their
// recipient, as in steady traffic) with expiry times spread over the 31
// days of a month, so what stays behind is the dedupe record of each;
// then prints the live bytes per record (LMDB pages in use, free list
// subtracted, minus the empty store) and the projected size of a month at
// 10 envelopes/s (26.8 M records kept until expires + 1 day) against the
// default 1 GiB map. For comparison, the same is measured for the layout
// of format 1 (a 320-byte record per id in `ids`, written directly with
// LMDB into a scratch store), for a tenth as many records.
// Usage: bench_dedupe [N] (default 1000000).
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker/pl_spool.h"
#include "tests/lib/pl_bench.h"
#include "tests/lib/pl_test.h"

#define S_MONTH (26.8e6)           // 10/s x 31 days
#define S_MAP   ((size_t) 1 << 30) // the broker's default map
#define S_BATCH 1000               // envelopes per pass

// live bytes of an environment (as pl_spool_usage_pct counts them)
static double
s_live(MDB_env *env)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(env, &info);
    mdb_env_stat(env, &st);
    MDB_txn *txn;
    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    MDB_cursor *cur;
    size_t free_pages = 0;
    if (mdb_cursor_open(txn, 0, &cur) == 0) {
        MDB_val k, v;
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
            if (v.mv_size >= sizeof(size_t)) {
                size_t n;
                memcpy(&n, v.mv_data, sizeof n);
                free_pages += n;
            }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return (double) (info.me_last_pgno + 1 - free_pages) * st.ms_psize;
}

static void
s_report(const char *what, double per_record, long n)
{
    double month = per_record * S_MONTH;
    printf("%-9s %8ld records  %6.1f bytes/record  month at 10/s: %7.1f MiB "
           "= %5.1f %% of the default 1 GiB map\n",
           what, n, per_record, month / (1 << 20), month * 100.0 / S_MAP);
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (n < S_BATCH)
        n = S_BATCH;
    if (pl_crypto_init() != PL_OK)
        return 1;
    char *dir = pl_test_tmpdir("bench-dedupe");
    pl_spool_t *sp = pl_spool_open(dir, S_MAP, NULL);
    if (!sp)
        return 1;
    // the live size of the empty store, from usage in whole percent is too
    // coarse: read it through a second environment handle on the same files
    MDB_env *peek;
    mdb_env_create(&peek);
    mdb_env_set_maxdbs(peek, 8);
    mdb_env_set_mapsize(peek, S_MAP);
    if (mdb_env_open(peek, dir, MDB_NOTLS | MDB_RDONLY, 0600) != 0)
        return 1;
    double empty = s_live(peek);

    uint64_t now = (uint64_t) time(NULL);
    uint8_t packet[64];
    randombytes_buf(packet, sizeof packet);
    pl_header_t h;
    memset(&h, 0, sizeof h);
    snprintf(h.from, sizeof h.from, "sn/agency");
    snprintf(h.to, sizeof h.to, "sn/clinic");
    double t0 = pl_bench_now();
    uint8_t(*ids)[PL_MSG_ID_BYTES] = malloc(S_BATCH * PL_MSG_ID_BYTES);
    for (long done = 0; done < n; done += S_BATCH) {
        if (pl_spool_begin(sp) != PL_OK)
            return 1;
        for (int i = 0; i < S_BATCH; i++) {
            randombytes_buf(ids[i], PL_MSG_ID_BYTES);
            memcpy(h.id, ids[i], PL_MSG_ID_BYTES);
            // expiries spread over a month, as a month of traffic leaves
            h.expires_at = now + 86400 + randombytes_uniform(31 * 86400);
            packet[0] = (uint8_t) i; // other bytes per envelope
            bool dup = false;
            pl_spool_refusal_t why;
            if (pl_spool_put(sp, &h, packet, sizeof packet, now * 1000, &dup,
                             &why)
                != PL_OK)
                return 1;
        }
        for (int i = 0; i < S_BATCH; i++)
            if (pl_spool_take(sp, ids[i], h.to, PL_SPOOL_TAKEN, now * 1000,
                              NULL, NULL)
                != PL_OK)
                return 1;
        if (pl_spool_commit(sp) != PL_OK)
            return 1;
    }
    double secs = pl_bench_now() - t0;
    double per = (s_live(peek) - empty) / (double) n;
    printf("dedupe records: %ld envelopes queued and taken in %.1f s "
           "(%.1f µs each, lookups included)\n",
           n, secs, secs * 1e6 / (double) n);
    s_report("format 2", per, n);
    free(ids);
    mdb_env_close(peek);
    pl_spool_close(&sp);
    pl_test_rmrf(dir);
    free(dir);

    // format 1, for comparison: key = id, value = the 320-byte record
    long n1 = n / 10;
    dir = pl_test_tmpdir("bench-dedupe1");
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 8);
    mdb_env_set_mapsize(env, S_MAP);
    if (mdb_env_open(env, dir, MDB_NOTLS, 0600) != 0)
        return 1;
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, "ids", MDB_CREATE, &dbi);
    mdb_txn_commit(txn);
    empty = s_live(env);
    uint8_t rec[8 + 8 + 8 + 8 + 32 + 2 * (PL_ADDRESS_MAX + 1)];
    memset(rec, 0, sizeof rec);
    for (long done = 0; done < n1; done += S_BATCH) {
        mdb_txn_begin(env, NULL, 0, &txn);
        for (int i = 0; i < S_BATCH; i++) {
            uint8_t id[PL_MSG_ID_BYTES];
            randombytes_buf(id, sizeof id);
            MDB_val k = {sizeof id, id}, v = {sizeof rec, rec};
            if (mdb_put(txn, dbi, &k, &v, 0) != 0)
                return 1;
        }
        if (mdb_txn_commit(txn) != 0)
            return 1;
    }
    s_report("format 1", (s_live(env) - empty) / (double) n1, n1);
    mdb_env_close(env);
    pl_test_rmrf(dir);
    free(dir);
    return 0;
}
