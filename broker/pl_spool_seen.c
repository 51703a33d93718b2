// pl_spool_seen - the dedupe table `seen` and its digests (see the
// header). Layer: broker.
#include "broker/pl_spool_seen.h"

#include <string.h>

#include "proto/pl_crypto.h"
#include "proto/pl_keys.h"
#include "proto/pl_util.h"

static void
s_day_key(uint8_t key[4], uint64_t expires_at)
{
    uint64_t day = expires_at / 86400;
    uint32_t d = day > UINT32_MAX ? UINT32_MAX : (uint32_t) day;
    key[0] = (uint8_t) (d >> 24);
    key[1] = (uint8_t) (d >> 16);
    key[2] = (uint8_t) (d >> 8);
    key[3] = (uint8_t) d;
}

uint32_t
pl_seen_day(const uint8_t key[4])
{
    return (uint32_t) key[0] << 24 | (uint32_t) key[1] << 16
           | (uint32_t) key[2] << 8 | key[3];
}

// notes day 'd' in days[] (kept sorted)
static void
s_days_add(pl_seen_t *s, uint32_t d)
{
    size_t i = 0;
    while (i < s->ndays && s->days[i] < d)
        i++;
    if (i < s->ndays && s->days[i] == d)
        return;
    if (s->ndays == PL_SEEN_DAYS_MAX) {
        s->ok = false; // more days than tracked: reload next time
        return;
    }
    memmove(&s->days[i + 1], &s->days[i], (s->ndays - i) * sizeof s->days[0]);
    s->days[i] = d;
    s->ndays++;
}

int
pl_seen_put(pl_seen_t *s, MDB_txn *txn, const uint8_t *id,
            const uint8_t *digest, uint64_t expires_at)
{
    uint8_t dk[4], rec[PL_SEEN_REC];
    s_day_key(dk, expires_at);
    memcpy(rec, id, PL_SEEN_ID);
    memcpy(rec + PL_SEEN_ID, digest, PL_SEEN_DIG);
    MDB_val k = {4, dk}, v = {PL_SEEN_REC, rec};
    int rc = mdb_put(txn, s->dbi, &k, &v, MDB_NODUPDATA);
    if (rc == 0 || rc == MDB_KEYEXIST)
        s_days_add(s, pl_seen_day(dk));
    return rc == MDB_KEYEXIST ? 0 : rc;
}

// Reads the day keys into days[] (once per pass, and after a sweep
// dropped some).
static int
s_days_load(pl_seen_t *s, MDB_txn *txn)
{
    s->ndays = 0;
    s->ok = false;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->dbi, &cur);
    if (rc != 0)
        return rc;
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && s->ndays < PL_SEEN_DAYS_MAX) {
        if (k.mv_size == 4)
            s->days[s->ndays++] = pl_seen_day(k.mv_data);
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    s->ok = true;
    return 0;
}

int
pl_seen_find(pl_seen_t *s, MDB_txn *txn, const uint8_t *id, uint64_t expires_at,
             bool *found, uint8_t prefix[PL_SEEN_DIG])
{
    *found = false;
    if (!s->ok || s->ndays == PL_SEEN_DAYS_MAX) {
        int r = s_days_load(s, txn);
        if (r != 0)
            return r;
    }
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->dbi, &cur);
    if (rc != 0)
        return rc;
    uint8_t own[4];
    s_day_key(own, expires_at);
    uint32_t own_day = pl_seen_day(own);
    rc = MDB_NOTFOUND;
    // i == -1: the envelope's own day; then every other tracked day
    for (long i = -1; i < (long) s->ndays && !*found; i++) {
        uint32_t d = i < 0 ? own_day : s->days[i];
        if (i >= 0 && d == own_day)
            continue;
        uint8_t dk[4] = {(uint8_t) (d >> 24), (uint8_t) (d >> 16),
                         (uint8_t) (d >> 8), (uint8_t) d};
        uint8_t probe[PL_SEEN_REC];
        memcpy(probe, id, PL_SEEN_ID);
        memset(probe + PL_SEEN_ID, 0, PL_SEEN_DIG);
        MDB_val k = {4, dk}, v = {PL_SEEN_REC, probe};
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
        if (rc == 0 && v.mv_size == PL_SEEN_REC
            && memcmp(v.mv_data, id, PL_SEEN_ID) == 0) {
            memcpy(prefix, (uint8_t *) v.mv_data + PL_SEEN_ID, PL_SEEN_DIG);
            *found = true;
        } else if (rc != 0 && rc != MDB_NOTFOUND) {
            break;
        }
        rc = 0;
    }
    mdb_cursor_close(cur);
    return *found || rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

void
pl_seen_signed_digest(const pl_envelope_t *env, uint8_t out[32])
{
    // ~300 bytes hashed instead of the whole packet (4,315 for a 4 KiB
    // bucket): the BLAKE2b of every packet was ~14 % of the broker's
    // main thread (docs/performance.md, fourth round)
    static const char tag[] = "passerelle/v1/broker-dedupe";
    uint8_t hlen[8]; // the header's length: header || sig is unambiguous
    pl_be64_put(hlen, env->header_len);
    pl_hash_state_t st;
    pl_hash_init(&st, 32);
    pl_hash_update(&st, tag, sizeof tag);
    pl_hash_update(&st, hlen, sizeof hlen);
    pl_hash_update(&st, env->header, env->header_len);
    pl_hash_update(&st, env->sig, PL_SIG_BYTES);
    pl_hash_final(&st, out);
}

bool
pl_seen_same(const uint8_t *stored, const uint8_t digest[32], size_t n,
             bool legacy, const uint8_t *packet, size_t len)
{
    if (pl_ct_equal(stored, digest, n))
        return true;
    if (!legacy)
        return false;
    uint8_t whole[32];
    pl_hash(whole, sizeof whole, packet, len, NULL, 0);
    return pl_ct_equal(stored, whole, n);
}
