// pl_spool - durable store-and-forward queues on LMDB. Layer: broker.
#include "broker/pl_spool.h"

#include <errno.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_QUEUE_HDR (8 + 8 + PL_MSG_ID_BYTES) // accepted_ms, expires, id
#define S_KEEP_IDS  86400                     // seen ids kept past expiry
#define S_FULL_PCT  90                        // refuse new envelopes above

// Value of the ids database (fixed size, native endianness: local file).
typedef struct {
    uint8_t state;                 // pl_spool_state_t
    uint8_t pad[7];                // zero
    uint64_t expires_at;           // from the header
    uint64_t seq;                  // queue position while queued
    uint64_t accepted_ms;          // when accepted
    uint8_t digest[32];            // BLAKE2b of the packet bytes
    char to[PL_ADDRESS_MAX + 1];   // recipient
    char from[PL_ADDRESS_MAX + 1]; // sender
} s_idrec_t;

struct pl_spool {
    MDB_env *env;    // one environment
    MDB_dbi queue;   // recipient NUL seq -> item
    MDB_dbi ids;     // id -> s_idrec_t
    MDB_dbi notices; // sender NUL id -> recipient
    MDB_dbi meta;    // "seq" -> u64
    MDB_txn *pass;   // the pass transaction, or NULL
    MDB_txn *nest;   // the current nested transaction, or NULL
    char path[4096]; // store folder
    pl_log_t *log;   // borrowed
};

static int
s_err(pl_spool_t *self, const char *what, int rc)
{
    pl_log_error(self->log, "store_error op=%s reason=\"%s\"", what,
                 mdb_strerror(rc));
    if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL)
        return PL_EFULL;
    return PL_EIO;
}

pl_spool_t *
pl_spool_open(const char *dir, size_t map_bytes, pl_log_t *log)
{
    pl_spool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->log = log;
    snprintf(self->path, sizeof self->path, "%s", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        pl_log_error(log, "store_open_failed path=%s reason=\"%s\"", dir,
                     strerror(errno));
        free(self);
        return NULL;
    }
    int rc = mdb_env_create(&self->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(self->env, 8);
    if (rc == 0)
        rc = mdb_env_set_mapsize(self->env, map_bytes);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(self->env, 126);
    // flags: none of NOSYNC / MAPASYNC / NOMETASYNC, ever (DESIGN.md §4)
    if (rc == 0)
        rc = mdb_env_open(self->env, dir, MDB_NOTLS, 0600);
    if (rc != 0) {
        pl_log_error(log, "store_open_failed path=%s reason=\"%s\"", dir,
                     mdb_strerror(rc));
        mdb_env_close(self->env);
        free(self);
        return NULL;
    }
    int dead = 0;
    mdb_reader_check(self->env, &dead);
    if (dead)
        pl_log_warn(log, "store_stale_readers_cleared count=%d", dead);
    MDB_txn *txn;
    rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "queue", MDB_CREATE, &self->queue);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "ids", MDB_CREATE, &self->ids);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "notices", MDB_CREATE, &self->notices);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &self->meta);
    if (rc == 0)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (rc != 0) {
        pl_log_error(log, "store_open_failed path=%s reason=\"%s\"", dir,
                     mdb_strerror(rc));
        mdb_env_close(self->env);
        free(self);
        return NULL;
    }
    return self;
}

void
pl_spool_close(pl_spool_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pl_spool_t *self = *self_p;
    if (self->pass)
        pl_spool_abort(self);
    mdb_env_close(self->env);
    free(self);
    *self_p = NULL;
}

unsigned
pl_spool_env_flags(pl_spool_t *self)
{
    unsigned flags = 0;
    mdb_env_get_flags(self->env, &flags);
    return flags;
}

unsigned
pl_spool_usage_pct(pl_spool_t *self)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(self->env, &info) != 0 || mdb_env_stat(self->env, &st))
        return 100;
    size_t pages = info.me_mapsize / st.ms_psize;
    if (pages == 0)
        return 100;
    return (unsigned) ((info.me_last_pgno + 1) * 100 / pages);
}

uint64_t
pl_spool_file_bytes(pl_spool_t *self)
{
    char file[4200];
    snprintf(file, sizeof file, "%s/data.mdb", self->path);
    struct stat st;
    return stat(file, &st) == 0 ? (uint64_t) st.st_size : 0;
}

int
pl_spool_reader_check(pl_spool_t *self)
{
    int dead = 0;
    mdb_reader_check(self->env, &dead);
    return dead;
}

int
pl_spool_begin(pl_spool_t *self)
{
    if (self->pass)
        return PL_ESTATE;
    int rc = mdb_txn_begin(self->env, NULL, 0, &self->pass);
    if (rc != 0) {
        self->pass = NULL;
        return s_err(self, "begin", rc);
    }
    return PL_OK;
}

int
pl_spool_commit(pl_spool_t *self)
{
    if (!self->pass)
        return PL_ESTATE;
    if (self->nest)
        pl_spool_nest_abort(self);
    int rc = mdb_txn_commit(self->pass); // the pass's one fsync
    self->pass = NULL;
    return rc == 0 ? PL_OK : s_err(self, "commit", rc);
}

void
pl_spool_abort(pl_spool_t *self)
{
    if (self->nest)
        pl_spool_nest_abort(self);
    if (self->pass)
        mdb_txn_abort(self->pass);
    self->pass = NULL;
}

bool
pl_spool_in_pass(const pl_spool_t *self)
{
    return self->pass != NULL;
}

int
pl_spool_nest(pl_spool_t *self)
{
    if (!self->pass || self->nest)
        return PL_ESTATE;
    int rc = mdb_txn_begin(self->env, self->pass, 0, &self->nest);
    if (rc != 0) {
        self->nest = NULL;
        return s_err(self, "nest", rc);
    }
    return PL_OK;
}

int
pl_spool_nest_commit(pl_spool_t *self)
{
    if (!self->nest)
        return PL_ESTATE;
    int rc = mdb_txn_commit(self->nest);
    self->nest = NULL;
    return rc == 0 ? PL_OK : s_err(self, "nest_commit", rc);
}

void
pl_spool_nest_abort(pl_spool_t *self)
{
    if (self->nest)
        mdb_txn_abort(self->nest);
    self->nest = NULL;
}

// the transaction operations run in: the nested one, else the pass
static MDB_txn *
s_txn(pl_spool_t *self)
{
    return self->nest ? self->nest : self->pass;
}

static size_t
s_qkey(uint8_t *key, const char *to, uint64_t seq)
{
    size_t n = strlen(to);
    memcpy(key, to, n);
    key[n] = 0;
    pl_be64_put(key + n + 1, seq);
    return n + 9;
}

static uint64_t
s_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

int
pl_spool_put(pl_spool_t *self, const pl_header_t *hdr, const uint8_t *packet,
             size_t len, uint64_t now_ms, bool *dup)
{
    MDB_txn *txn = s_txn(self);
    if (!txn)
        return PL_ESTATE;
    *dup = false;
    uint8_t digest[32];
    crypto_generichash(digest, sizeof digest, packet, len, NULL, 0);

    MDB_val k = {PL_MSG_ID_BYTES, (void *) hdr->id}, v;
    int rc = mdb_get(txn, self->ids, &k, &v);
    if (rc == 0) {
        if (v.mv_size != sizeof(s_idrec_t))
            return PL_EIO;
        s_idrec_t old;
        memcpy(&old, v.mv_data, sizeof old);
        if (sodium_memcmp(old.digest, digest, 32) != 0)
            return PL_EAUTH; // same id, other bytes
        *dup = true;
        return PL_EEXIST;
    }
    if (rc != MDB_NOTFOUND)
        return s_err(self, "get_id", rc);
    if (pl_spool_usage_pct(self) >= S_FULL_PCT)
        return PL_EFULL;

    uint64_t seq = 1;
    MDB_val mk = {3, "seq"}, mv;
    rc = mdb_get(txn, self->meta, &mk, &mv);
    if (rc == 0 && mv.mv_size == 8)
        seq = s_u64(mv.mv_data);
    else if (rc != MDB_NOTFOUND && rc != 0)
        return s_err(self, "get_seq", rc);
    uint64_t next = seq + 1;
    mv.mv_size = 8;
    mv.mv_data = &next;
    rc = mdb_put(txn, self->meta, &mk, &mv, 0);
    if (rc != 0)
        return s_err(self, "put_seq", rc);

    uint8_t key[PL_ADDRESS_MAX + 10];
    MDB_val qk = {s_qkey(key, hdr->to, seq), key};
    MDB_val qv = {S_QUEUE_HDR + len, NULL};
    rc = mdb_put(txn, self->queue, &qk, &qv, MDB_RESERVE | MDB_NOOVERWRITE);
    if (rc != 0)
        return s_err(self, "put_queue", rc);
    uint8_t *p = qv.mv_data;
    memcpy(p, &now_ms, 8);
    memcpy(p + 8, &hdr->expires_at, 8);
    memcpy(p + 16, hdr->id, PL_MSG_ID_BYTES);
    memcpy(p + S_QUEUE_HDR, packet, len);

    s_idrec_t rec;
    memset(&rec, 0, sizeof rec);
    rec.state = PL_SPOOL_QUEUED;
    rec.expires_at = hdr->expires_at;
    rec.seq = seq;
    rec.accepted_ms = now_ms;
    memcpy(rec.digest, digest, 32);
    snprintf(rec.to, sizeof rec.to, "%s", hdr->to);
    snprintf(rec.from, sizeof rec.from, "%s", hdr->from);
    v.mv_size = sizeof rec;
    v.mv_data = &rec;
    rc = mdb_put(txn, self->ids, &k, &v, 0);
    if (rc != 0)
        return s_err(self, "put_id", rc);
    return PL_OK;
}

int
pl_spool_take(pl_spool_t *self, const uint8_t *id, const char *by,
              pl_spool_state_t state, uint64_t now_ms, uint64_t *latency_ms,
              uint64_t *seq)
{
    MDB_txn *txn = s_txn(self);
    if (!txn)
        return PL_ESTATE;
    MDB_val k = {PL_MSG_ID_BYTES, (void *) id}, v;
    int rc = mdb_get(txn, self->ids, &k, &v);
    if (rc == MDB_NOTFOUND)
        return PL_ENOTFOUND;
    if (rc != 0)
        return s_err(self, "get_id", rc);
    if (v.mv_size != sizeof(s_idrec_t))
        return PL_EIO;
    s_idrec_t rec;
    memcpy(&rec, v.mv_data, sizeof rec);
    if (strcmp(rec.to, by) != 0)
        return PL_EPERM; // only the recipient may take it
    if (rec.state != PL_SPOOL_QUEUED)
        return PL_ENOTFOUND;
    uint8_t key[PL_ADDRESS_MAX + 10];
    MDB_val qk = {s_qkey(key, rec.to, rec.seq), key};
    rc = mdb_del(txn, self->queue, &qk, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return s_err(self, "del_queue", rc);
    rec.state = (uint8_t) state;
    v.mv_size = sizeof rec;
    v.mv_data = &rec;
    rc = mdb_put(txn, self->ids, &k, &v, 0);
    if (rc != 0)
        return s_err(self, "put_id", rc);
    if (latency_ms)
        *latency_ms = now_ms > rec.accepted_ms ? now_ms - rec.accepted_ms : 0;
    if (seq)
        *seq = rec.seq;
    return PL_OK;
}

int
pl_spool_sweep(pl_spool_t *self, uint64_t now,
               void (*on_expired)(void *arg, const char *to), void *arg)
{
    MDB_txn *txn = s_txn(self);
    if (!txn)
        return PL_ESTATE;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->ids, &cur);
    if (rc != 0)
        return s_err(self, "cursor", rc);
    int expired = 0;
    // ids to forget, deleted after the walk (bounded per sweep)
    uint8_t(*forget)[PL_MSG_ID_BYTES] = malloc(4096 * PL_MSG_ID_BYTES);
    size_t nforget = 0;
    if (!forget) {
        mdb_cursor_close(cur);
        return PL_ENOMEM;
    }
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        s_idrec_t rec;
        if (v.mv_size != sizeof rec) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        memcpy(&rec, v.mv_data, sizeof rec);
        if (rec.state == PL_SPOOL_QUEUED && rec.expires_at <= now) {
            uint8_t key[PL_ADDRESS_MAX + 10];
            MDB_val qk = {s_qkey(key, rec.to, rec.seq), key};
            int r = mdb_del(txn, self->queue, &qk, NULL);
            if (r != 0 && r != MDB_NOTFOUND) {
                mdb_cursor_close(cur);
                free(forget);
                return s_err(self, "del_queue", r);
            }
            // a notice for the sender, told when it is next connected
            uint8_t nk[PL_ADDRESS_MAX + 1 + PL_MSG_ID_BYTES];
            size_t fl = strlen(rec.from);
            memcpy(nk, rec.from, fl);
            nk[fl] = 0;
            memcpy(nk + fl + 1, k.mv_data, PL_MSG_ID_BYTES);
            MDB_val nkv = {fl + 1 + PL_MSG_ID_BYTES, nk};
            MDB_val nvv = {strlen(rec.to) + 1, rec.to};
            r = mdb_put(txn, self->notices, &nkv, &nvv, 0);
            if (r != 0) {
                mdb_cursor_close(cur);
                free(forget);
                return s_err(self, "put_notice", r);
            }
            if (on_expired)
                on_expired(arg, rec.to);
            rec.state = PL_SPOOL_EXPIRED;
            MDB_val nv = {sizeof rec, &rec};
            r = mdb_cursor_put(cur, &k, &nv, MDB_CURRENT);
            if (r != 0) {
                mdb_cursor_close(cur);
                free(forget);
                return s_err(self, "put_id", r);
            }
            expired++;
        } else if (rec.state != PL_SPOOL_QUEUED
                   && rec.expires_at + S_KEEP_IDS <= now && nforget < 4096) {
            memcpy(forget[nforget++], k.mv_data, PL_MSG_ID_BYTES);
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        free(forget);
        return s_err(self, "sweep", rc);
    }
    for (size_t i = 0; i < nforget; i++) {
        MDB_val fk = {PL_MSG_ID_BYTES, forget[i]};
        int r = mdb_del(txn, self->ids, &fk, NULL);
        if (r != 0 && r != MDB_NOTFOUND) {
            free(forget);
            return s_err(self, "del_id", r);
        }
    }
    free(forget);
    return expired;
}

int
pl_spool_scan(pl_spool_t *self, const char *to, uint64_t after, size_t max,
              bool (*fn)(void *arg, const pl_spool_item_t *), void *arg)
{
    MDB_txn *txn = s_txn(self), *own = NULL;
    if (!txn) {
        int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &own);
        if (rc != 0)
            return s_err(self, "read_begin", rc);
        txn = own;
    }
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->queue, &cur);
    if (rc != 0) {
        if (own)
            mdb_txn_abort(own);
        return s_err(self, "cursor", rc);
    }
    uint8_t key[PL_ADDRESS_MAX + 10];
    size_t plen = strlen(to) + 1;
    MDB_val k = {s_qkey(key, to, after + 1), key}, v;
    int seen = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && (size_t) seen < max) {
        if (k.mv_size != plen + 8 || memcmp(k.mv_data, key, plen) != 0)
            break; // past this recipient's prefix
        if (v.mv_size < S_QUEUE_HDR) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        const uint8_t *kp = k.mv_data, *vp = v.mv_data;
        pl_spool_item_t item;
        item.seq = pl_be64_get(kp + plen);
        item.accepted_ms = s_u64(vp);
        item.expires_at = s_u64(vp + 8);
        memcpy(item.id, vp + 16, PL_MSG_ID_BYTES);
        item.packet = vp + S_QUEUE_HDR;
        item.packet_len = v.mv_size - S_QUEUE_HDR;
        seen++;
        if (!fn(arg, &item))
            break;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (own)
        mdb_txn_abort(own);
    return seen;
}

static bool
s_count(void *arg, const pl_spool_item_t *item)
{
    uint64_t *acc = arg; // [count, oldest]
    if (acc[0] == 0 || item->accepted_ms < acc[1])
        acc[1] = item->accepted_ms;
    acc[0]++;
    return true;
}

int
pl_spool_depth(pl_spool_t *self, const char *to, uint64_t *count,
               uint64_t *oldest_ms)
{
    uint64_t acc[2] = {0, 0};
    int rc = pl_spool_scan(self, to, 0, SIZE_MAX, s_count, acc);
    if (rc < 0)
        return rc;
    *count = acc[0];
    *oldest_ms = acc[1];
    return PL_OK;
}

int
pl_spool_notices_pop(pl_spool_t *self, const char *sender, size_t max,
                     uint8_t (*ids)[PL_MSG_ID_BYTES],
                     char (*tos)[PL_ADDRESS_MAX + 1])
{
    MDB_txn *txn = s_txn(self);
    if (!txn)
        return PL_ESTATE;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->notices, &cur);
    if (rc != 0)
        return s_err(self, "cursor", rc);
    size_t plen = strlen(sender) + 1;
    MDB_val k = {plen, (void *) sender}, v;
    size_t n = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && n < max) {
        if (k.mv_size != plen + PL_MSG_ID_BYTES
            || memcmp(k.mv_data, sender, plen) != 0)
            break;
        memcpy(ids[n], (uint8_t *) k.mv_data + plen, PL_MSG_ID_BYTES);
        size_t tl = v.mv_size < PL_ADDRESS_MAX ? v.mv_size : PL_ADDRESS_MAX;
        memcpy(tos[n], v.mv_data, tl);
        tos[n][tl] = 0;
        n++;
        if (mdb_cursor_del(cur, 0) != 0)
            break;
        // re-seek rather than rely on the cursor position after a delete
        k.mv_size = plen;
        k.mv_data = (void *) sender;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    mdb_cursor_close(cur);
    return (int) n;
}
