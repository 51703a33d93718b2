// pl_spool - durable store-and-forward queues on LMDB. Layer: broker.
#include "broker/pl_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "broker/pl_spool_quota.h"
#include "broker/pl_spool_seen.h"
#include "proto/pl_crypto.h"
#include "proto/pl_lmdb.h"
#include "proto/pl_storever.h"

#define S_QUEUE_HDR (8 + 8 + PL_MSG_ID_BYTES) // accepted_ms, expires, id
#define S_KEEP_IDS  86400                     // seen ids kept past expiry
#define S_FULL_PCT  90                        // refuse new envelopes above
#define S_SMALL_PCT 95                        // ... small ones above this
#define S_FORMAT    2                         // store layout (see header)
#define S_DISK_KEEP ((uint64_t) 2 << 20)      // disk left free by new envelopes
#define S_REC_SLACK 256 // tree bytes per put on top of its value (estimate)

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
    MDB_env *env;             // one environment
    MDB_dbi queue;            // recipient NUL seq -> item
    MDB_dbi ids;              // id -> s_idrec_t (queued ids only)
    MDB_dbi quota;            // 'f'/'t' address -> u64 bytes queued
    MDB_dbi notices;          // sender NUL id -> recipient
    MDB_dbi meta;             // "seq" -> u64, "format" -> u32
    MDB_dbi fedmap;           // id -> expires | sender NUL recipient NUL
    MDB_txn *pass;            // the pass transaction, or NULL
    MDB_txn *nest;            // the current nested transaction, or NULL
    bool light;               // a light nest is open (see pl_spool_nest_fast)
    bool light_dirty;         // ... and it wrote to the pass (or failed)
    int poison;               // the pass cannot commit: LMDB code, or 0
    pl_qcache_t qc;           // quota figures of this pass
    uint64_t pass_seq;        // next queue seq in this pass (0: not read)
    uint64_t seq_stored;      // the "seq" meta holds in this pass
    uint64_t map_bytes;       // map size
    uint64_t live_bytes;      // live pages x page size at the pass start
    uint64_t pass_bytes;      // estimated bytes added by this pass
    uint64_t nest_bytes;      // ... by the open nested transaction
    uint64_t file_bytes;      // data.mdb size at the pass start
    uint64_t disk_avail;      // free bytes of its file system then
    uint64_t quota_sender;    // bytes one sender may have queued
    uint64_t quota_recipient; // bytes one recipient may have queued
    pl_seen_t seen;           // `seen` (dedupe) and its day index
    int fatal;                // LMDB/errno code once failed for good
    int data_fd;              // data.mdb, for preallocation only
    char path[4096];          // store folder
    pl_log_t *log;            // borrowed
};

// Maps an LMDB/errno code to PL_E* (pl_lmdb_err, the map the node's store
// uses too). MDB_PANIC (the environment is marked broken after a failed
// meta-page write) is fatal wherever it shows up; full is never fatal. The
// caller decides what else is fatal (a failed begin or commit of the pass).
static int
s_err(pl_spool_t *self, const char *what, int rc)
{
    int code = pl_lmdb_err(rc);
    if (self->light)
        self->light_dirty = true; // LMDB marks the pass txn broken
    if (code == PL_EFULL)
        return PL_EFULL;
    if (rc == MDB_PANIC) {
        if (!self->fatal)
            self->fatal = rc;
        return PL_EIO;
    }
    if (!self->fatal)
        pl_log_error(self->log, "store_error op=%s code=%d reason=\"%s\"", what,
                     rc, mdb_strerror(rc));
    return code;
}

static uint64_t
s_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

// records id/digest as seen (pl_spool_seen), LMDB codes mapped
static int
s_seen_put(pl_spool_t *self, MDB_txn *txn, const uint8_t *id,
           const uint8_t *digest, uint64_t expires_at)
{
    int rc = pl_seen_put(&self->seen, txn, id, digest, expires_at);
    return rc == 0 ? PL_OK : s_err(self, "put_seen", rc);
}

// adds 'delta' (may be negative) to the quota figure 'kind' of 'address'
static int
s_quota_add_db(pl_spool_t *self, MDB_txn *txn, char kind, const char *address,
               int64_t delta)
{
    uint8_t key[PL_ADDRESS_MAX + 2];
    size_t n = strnlen(address, PL_ADDRESS_MAX);
    key[0] = (uint8_t) kind;
    memcpy(key + 1, address, n);
    MDB_val k = {n + 1, key}, v;
    uint64_t cur = 0;
    int rc = mdb_get(txn, self->quota, &k, &v);
    if (rc == 0 && v.mv_size == 8)
        cur = s_u64(v.mv_data);
    else if (rc != 0 && rc != MDB_NOTFOUND)
        return s_err(self, "get_quota", rc);
    if (delta < 0)
        cur = cur > (uint64_t) -delta ? cur - (uint64_t) -delta : 0;
    else
        cur += (uint64_t) delta;
    if (cur == 0) {
        rc = mdb_del(txn, self->quota, &k, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    } else {
        v.mv_size = 8;
        v.mv_data = &cur;
        rc = mdb_put(txn, self->quota, &k, &v, 0);
    }
    return rc == 0 ? PL_OK : s_err(self, "put_quota", rc);
}

static uint64_t
s_quota_read_db(pl_spool_t *self, MDB_txn *txn, char kind, const char *address)
{
    uint8_t key[PL_ADDRESS_MAX + 2];
    size_t n = strnlen(address, PL_ADDRESS_MAX);
    key[0] = (uint8_t) kind;
    memcpy(key + 1, address, n);
    MDB_val k = {n + 1, key}, v;
    if (mdb_get(txn, self->quota, &k, &v) == 0 && v.mv_size == 8)
        return s_u64(v.mv_data);
    return 0;
}

// The pass's in-memory figure of 'kind' 'address' (pl_spool_quota.h), or
// NULL outside a pass or when the cache is full: then the figure is read
// and written in LMDB directly, as before.
static pl_qent_t *
s_qent(pl_spool_t *self, MDB_txn *txn, char kind, const char *address)
{
    if (!self->pass || (txn != self->pass && txn != self->nest))
        return NULL;
    uint8_t key[PL_ADDRESS_MAX + 2];
    size_t n = strnlen(address, PL_ADDRESS_MAX);
    key[0] = (uint8_t) kind;
    memcpy(key + 1, address, n);
    return pl_qcache_get(&self->qc, txn, self->quota, key, n + 1);
}

static uint64_t
s_quota_read(pl_spool_t *self, MDB_txn *txn, char kind, const char *address)
{
    pl_qent_t *e = s_qent(self, txn, kind, address);
    return e ? e->cur : s_quota_read_db(self, txn, kind, address);
}

static int
s_quota_add(pl_spool_t *self, MDB_txn *txn, char kind, const char *address,
            int64_t delta)
{
    pl_qent_t *e = s_qent(self, txn, kind, address);
    if (!e)
        return s_quota_add_db(self, txn, kind, address, delta);
    if (delta < 0)
        e->cur = e->cur > (uint64_t) -delta ? e->cur - (uint64_t) -delta : 0;
    else
        e->cur += (uint64_t) delta;
    return PL_OK;
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

// Format 1 -> 2 (see the header): inside the opening transaction.
static int
s_migrate(pl_spool_t *self, MDB_txn *txn)
{
    MDB_val fk = {6, "format"}, fv;
    int rc = mdb_get(txn, self->meta, &fk, &fv);
    if (rc == 0 && fv.mv_size == 4) {
        uint32_t f;
        memcpy(&f, fv.mv_data, 4);
        if (f == S_FORMAT)
            return 0;
        pl_log_error(self->log,
                     "store_open_failed reason=\"unknown format "
                     "%u\"",
                     f);
        return MDB_INCOMPATIBLE;
    }
    if (rc != MDB_NOTFOUND)
        return rc;
    size_t moved = 0, kept = 0;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, self->ids, &cur);
    if (rc != 0)
        return rc;
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        s_idrec_t rec;
        if (k.mv_size != PL_MSG_ID_BYTES || v.mv_size != sizeof rec) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        memcpy(&rec, v.mv_data, sizeof rec);
        int r = s_seen_put(self, txn, k.mv_data, rec.digest, rec.expires_at);
        if (r != PL_OK) {
            mdb_cursor_close(cur);
            return EIO;
        }
        if (rec.state != PL_SPOOL_QUEUED) {
            uint8_t idk[PL_MSG_ID_BYTES];
            memcpy(idk, k.mv_data, sizeof idk);
            r = mdb_cursor_del(cur, 0);
            if (r != 0) {
                mdb_cursor_close(cur);
                return r;
            }
            moved++;
            // re-seek rather than rely on the cursor position after a delete
            k.mv_size = sizeof idk;
            k.mv_data = idk;
            rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
            continue;
        }
        kept++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    // the quota figures, from what is queued
    rc = mdb_drop(txn, self->quota, 0);
    if (rc != 0)
        return rc;
    rc = mdb_cursor_open(txn, self->queue, &cur);
    if (rc != 0)
        return rc;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (v.mv_size >= S_QUEUE_HDR && k.mv_size > 9) {
            MDB_val ik = {PL_MSG_ID_BYTES, (uint8_t *) v.mv_data + 16}, iv;
            char to[PL_ADDRESS_MAX + 1];
            size_t tl =
                k.mv_size - 9 < PL_ADDRESS_MAX ? k.mv_size - 9 : PL_ADDRESS_MAX;
            memcpy(to, k.mv_data, tl);
            to[tl] = 0;
            int64_t bytes = (int64_t) v.mv_size;
            int r = s_quota_add(self, txn, 't', to, bytes);
            if (r == PL_OK && mdb_get(txn, self->ids, &ik, &iv) == 0
                && iv.mv_size == sizeof(s_idrec_t)) {
                s_idrec_t rec;
                memcpy(&rec, iv.mv_data, sizeof rec);
                rec.from[PL_ADDRESS_MAX] = 0;
                r = s_quota_add(self, txn, 'f', rec.from, bytes);
            }
            if (r != PL_OK) {
                mdb_cursor_close(cur);
                return EIO;
            }
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    uint32_t f = S_FORMAT;
    fv.mv_size = 4;
    fv.mv_data = &f;
    rc = mdb_put(txn, self->meta, &fk, &fv, 0);
    if (rc == 0 && (moved || kept))
        pl_log_info(self->log,
                    "store_migrated format=%d ids_to_seen=%zu "
                    "queued_kept=%zu",
                    S_FORMAT, moved, kept);
    return rc;
}

// Before the opening transaction (issue 19): a store of a newer format
// than S_FORMAT is refused untouched; one that s_migrate will change (an
// older format: no "format" record, but queued or known ids) is first
// copied to <dir>.bak-vN (proto/pl_storever.h). 0 to go on.
static int
s_format_peek(pl_spool_t *self, const char *dir)
{
    MDB_txn *txn;
    MDB_dbi meta, ids;
    if (mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0; // the opening transaction reports it
    unsigned found = 0;
    bool data = false;
    if (mdb_dbi_open(txn, "meta", 0, &meta) == 0) {
        MDB_val fk = {6, "format"}, fv;
        if (mdb_get(txn, meta, &fk, &fv) == 0 && fv.mv_size == 4) {
            uint32_t f;
            memcpy(&f, fv.mv_data, 4);
            found = f;
        }
    }
    MDB_stat st;
    if (mdb_dbi_open(txn, "ids", 0, &ids) == 0 && mdb_stat(txn, ids, &st) == 0)
        data = st.ms_entries > 0;
    mdb_txn_abort(txn);
    char msg[4608];
    if (found > S_FORMAT) {
        pl_storever_newer(msg, sizeof msg, "passerelle-broker", dir, found,
                          S_FORMAT);
        pl_log_error(self->log, "store_open_failed reason=\"%s\"", msg);
        return -1;
    }
    if (found == S_FORMAT || !data)
        return 0; // this format, or nothing to migrate
    unsigned from = found ? found : 1;
    char bak[4200];
    int rc = pl_storever_backup(self->env, dir, from, bak, sizeof bak);
    if (rc != PL_OK) {
        pl_log_error(self->log,
                     "store_open_failed reason=\"format %u needs a migration "
                     "and its backup failed: %s; nothing was changed\"",
                     from, pl_strerror(rc));
        return -1;
    }
    pl_log_info(self->log, "store_backup from=%u path=%s", from, bak);
    return 0;
}

pl_spool_t *
pl_spool_open(const char *dir, size_t map_bytes, pl_log_t *log)
{
    pl_spool_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->log = log;
    self->map_bytes = map_bytes;
    self->data_fd = -1;
    pl_spool_set_quotas(self, 0, 0);
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
    if (s_format_peek(self, dir) != 0) { // newer: refused; older: backed up
        mdb_env_close(self->env);
        free(self);
        return NULL;
    }
    MDB_txn *txn;
    rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "queue", MDB_CREATE, &self->queue);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "ids", MDB_CREATE, &self->ids);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "seen", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED,
                          &self->seen.dbi);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "quota", MDB_CREATE, &self->quota);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "notices", MDB_CREATE, &self->notices);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &self->meta);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "fedmap", MDB_CREATE, &self->fedmap);
    if (rc == 0)
        rc = s_migrate(self, txn);
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
    char file[4200];
    snprintf(file, sizeof file, "%s/data.mdb", dir);
    self->data_fd = open(file, O_WRONLY | O_CLOEXEC);
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
    if (self->data_fd >= 0)
        close(self->data_fd);
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

// live bytes of the last committed state: (high-water page + 1 - pages on
// the free list) x page size; the free list is dbi 0, each record an IDL
// whose first word is its count of page numbers (as `mdb_stat -f` counts)
static int
s_live_bytes(pl_spool_t *self, uint64_t *live, uint64_t *map)
{
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(self->env, &info);
    if (rc == 0)
        rc = mdb_env_stat(self->env, &st);
    if (rc != 0)
        return rc;
    MDB_txn *txn;
    rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        return rc;
    uint64_t free_pages = 0;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn, 0, &cur);
    if (rc == 0) {
        MDB_val k, v;
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
            if (v.mv_size >= sizeof(size_t)) {
                size_t cnt;
                memcpy(&cnt, v.mv_data, sizeof cnt);
                free_pages += cnt;
            }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    uint64_t used = (uint64_t) info.me_last_pgno + 1;
    used = used > free_pages ? used - free_pages : 0;
    *live = used * st.ms_psize;
    *map = info.me_mapsize;
    return rc;
}

unsigned
pl_spool_usage_pct(pl_spool_t *self)
{
    uint64_t live = 0, map = 0;
    if (s_live_bytes(self, &live, &map) != 0 || map == 0)
        return 100;
    return (unsigned) (live * 100 / map);
}

void
pl_spool_set_quotas(pl_spool_t *self, uint64_t sender_bytes,
                    uint64_t recipient_bytes)
{
    self->quota_sender = sender_bytes ? sender_bytes : self->map_bytes / 4;
    self->quota_recipient =
        recipient_bytes ? recipient_bytes : self->map_bytes / 4;
}

int
pl_spool_quota_get(pl_spool_t *self, const char *address, uint64_t *from,
                   uint64_t *to)
{
    MDB_txn *txn = self->nest ? self->nest : self->pass, *own = NULL;
    if (!txn) {
        int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &own);
        if (rc != 0)
            return s_err(self, "read_begin", rc);
        txn = own;
    }
    *from = s_quota_read(self, txn, 'f', address);
    *to = s_quota_read(self, txn, 't', address);
    if (own)
        mdb_txn_abort(own);
    return PL_OK;
}

int
pl_spool_fatal(const pl_spool_t *self)
{
    return self->fatal;
}

bool
pl_spool_doomed(const pl_spool_t *self)
{
    return self->pass && self->poison;
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

// Allocates real blocks up to the high-water page + S_DISK_KEEP (within
// the map); best effort: on ENOSPC the store-full logic refuses anyway.
// The next queue sequence number. Read from meta once a pass and counted
// in memory; pl_spool_commit writes it back once (one meta put a pass, not
// one an envelope). A nested transaction that aborts leaves a gap: the
// queue is read by "seq greater than", gaps are harmless.
static int
s_next_seq(pl_spool_t *self, MDB_txn *txn, uint64_t *seq)
{
    if (!self->pass_seq) {
        MDB_val mk = {3, "seq"}, mv;
        int rc = mdb_get(txn, self->meta, &mk, &mv);
        if (rc == 0 && mv.mv_size == 8)
            self->pass_seq = s_u64(mv.mv_data);
        else if (rc != MDB_NOTFOUND && rc != 0)
            return s_err(self, "get_seq", rc);
        else
            self->pass_seq = 1;
        self->seq_stored = self->pass_seq;
    }
    *seq = self->pass_seq++;
    return PL_OK;
}

// Writes the pass's next sequence number to meta (in the pass itself).
static int
s_seq_flush(pl_spool_t *self)
{
    if (!self->pass_seq || self->pass_seq == self->seq_stored)
        return 0;
    MDB_val mk = {3, "seq"}, mv = {8, &self->pass_seq};
    return mdb_put(self->pass, self->meta, &mk, &mv, 0);
}

static void
s_prealloc(pl_spool_t *self)
{
    MDB_envinfo info;
    MDB_stat st;
    if (self->data_fd < 0 || mdb_env_info(self->env, &info) != 0
        || mdb_env_stat(self->env, &st) != 0)
        return;
    uint64_t high = ((uint64_t) info.me_last_pgno + 1) * st.ms_psize;
    uint64_t want = high + S_DISK_KEEP;
    if (want > self->map_bytes)
        want = self->map_bytes;
    struct stat fs;
    if (fstat(self->data_fd, &fs) != 0 || (uint64_t) fs.st_size >= want)
        return;
    // never over LMDB's own pages: only the region past its end
    (void) posix_fallocate(self->data_fd, fs.st_size,
                           (off_t) (want - (uint64_t) fs.st_size));
}

int
pl_spool_begin(pl_spool_t *self)
{
    if (self->pass)
        return PL_ESTATE;
    if (self->fatal)
        return PL_EIO;
    // the usage the pass starts from; its own puts are added as it goes
    uint64_t map = 0;
    int rc = s_live_bytes(self, &self->live_bytes, &map);
    if (rc == 0)
        rc = mdb_txn_begin(self->env, NULL, 0, &self->pass);
    if (rc != 0) {
        // a write transaction that cannot even start (MDB_PANIC, a bad
        // lock file, no memory): nothing can be acknowledged from here
        self->pass = NULL;
        if (!self->fatal)
            self->fatal = rc;
        return PL_EIO;
    }
    self->pass_bytes = 0;
    self->qc.n = 0;
    self->seen.ok = false; // days[] is read again inside this pass
    // takens must commit even on a full disk: keep S_DISK_KEEP of real
    // blocks allocated in data.mdb past its high-water page, so a commit
    // that finds no reusable page (LMDB reuses freed pages two commits
    // later) writes into the file, never past its end
    s_prealloc(self);
    // the file system's room, for envelopes that would grow the file
    struct statvfs vfs;
    self->file_bytes = pl_spool_file_bytes(self);
    self->disk_avail = statvfs(self->path, &vfs) == 0
                           ? (uint64_t) vfs.f_bavail * vfs.f_frsize
                           : UINT64_MAX;
    return PL_OK;
}

int
pl_spool_commit(pl_spool_t *self)
{
    if (!self->pass)
        return PL_ESTATE;
    if (self->nest || self->light)
        pl_spool_nest_abort(self);
    int poison = self->poison;
    int rc = poison ? poison : s_seq_flush(self);
    if (rc == 0)
        rc = pl_qcache_flush(&self->qc, self->pass, self->quota);
    self->qc.n = 0;
    if (rc == 0)
        rc = mdb_txn_commit(self->pass); // the pass's one fsync
    else
        mdb_txn_abort(self->pass);
    self->pass = NULL;
    self->pass_seq = 0;
    self->poison = 0;
    uint64_t pass_bytes = self->pass_bytes;
    self->pass_bytes = 0;
    if (rc == 0)
        return PL_OK;
    // a light nest failed half-way: the pass is dropped whole, nothing of
    // it was written; full unless the store itself failed (MDB_PANIC)
    if (poison)
        return self->fatal ? PL_EIO : PL_EFULL;
    // a short page write (EIO) while the file system has no room for the
    // pass (plus a MiB of slack) is "full", not a broken disk (pl_lmdb.h)
    rc = pl_lmdb_commit_rc(rc, self->path, pass_bytes + ((uint64_t) 1 << 20));
    if (pl_lmdb_is_full(rc))
        return PL_EFULL; // nothing written for good; space may come back
    // a failed write, sync or meta-page write (EIO, ...): LMDB may have
    // marked the environment broken, and the page cache may have dropped
    // what the failed sync could not write: never trust it again. The
    // broker cannot redo a pass, so it also ends on the commit failures
    // that leave the environment usable (pl_lmdb_commit_fatal false:
    // ENOMEM, MDB_BAD_TXN), as it always did.
    if (!self->fatal)
        self->fatal = rc;
    return PL_EIO;
}

void
pl_spool_abort(pl_spool_t *self)
{
    if (self->nest || self->light)
        pl_spool_nest_abort(self);
    if (self->pass)
        mdb_txn_abort(self->pass);
    self->pass = NULL;
    self->pass_seq = 0;
    self->poison = 0;
    self->qc.n = 0;
}

bool
pl_spool_in_pass(const pl_spool_t *self)
{
    return self->pass != NULL;
}

int
pl_spool_nest(pl_spool_t *self)
{
    if (!self->pass || self->nest || self->light)
        return PL_ESTATE;
    if (self->poison)
        return PL_EFULL; // the pass will not commit: nothing more in it
    int rc = mdb_txn_begin(self->env, self->pass, 0, &self->nest);
    if (rc != 0) {
        self->nest = NULL;
        return s_err(self, "nest", rc);
    }
    self->nest_bytes = 0;
    return PL_OK;
}

// A light nest: no LMDB child transaction (whose page copies and merges
// cost more than the packet's own puts), the operations run in the pass.
// Sound because a put or a take checks every refusal before its first
// write; what can still fail half-way (an LMDB error: MDB_MAP_FULL before
// the threshold, ENOMEM, ...) poisons the pass, which then commits nothing
// (PL_EFULL: every reply of it becomes "retry later", the takens are redone
// alone). Near the map's threshold, where that could happen, it is a real
// nested transaction.
#define S_LIGHT_PCT 75 // a light nest below this use of the map
int
pl_spool_nest_fast(pl_spool_t *self)
{
    if (!self->pass || self->nest || self->light)
        return PL_ESTATE;
    if (self->poison)
        return PL_EFULL;
    uint64_t est = self->live_bytes + self->pass_bytes;
    if (self->map_bytes == 0 || est * 100 >= self->map_bytes * S_LIGHT_PCT)
        return pl_spool_nest(self);
    self->light = true;
    self->light_dirty = false;
    self->nest_bytes = 0;
    return PL_OK;
}

bool
pl_spool_nest_is_light(const pl_spool_t *self)
{
    return self->light;
}

// the pass transaction for a write: in a light nest, from here on an
// abort cannot undo what the nest did, so it poisons the pass
static MDB_txn *
s_touch(pl_spool_t *self, MDB_txn *txn)
{
    if (self->light)
        self->light_dirty = true;
    return txn;
}

int
pl_spool_nest_commit(pl_spool_t *self)
{
    if (self->light) {
        self->light = false;
        self->light_dirty = false;
        pl_qcache_nest_end(&self->qc, true);
        self->pass_bytes += self->nest_bytes;
        self->nest_bytes = 0;
        return PL_OK;
    }
    if (!self->nest)
        return PL_ESTATE;
    int rc = mdb_txn_commit(self->nest);
    self->nest = NULL;
    pl_qcache_nest_end(&self->qc, rc == 0);
    if (rc == 0)
        self->pass_bytes += self->nest_bytes;
    self->nest_bytes = 0;
    return rc == 0 ? PL_OK : s_err(self, "nest_commit", rc);
}

void
pl_spool_nest_abort(pl_spool_t *self)
{
    if (self->light && self->light_dirty && !self->poison)
        self->poison = MDB_BAD_TXN; // half a packet in the pass: drop it all
    self->light = false;
    self->light_dirty = false;
    pl_qcache_nest_end(&self->qc, false);
    if (self->nest)
        mdb_txn_abort(self->nest);
    self->nest = NULL;
    self->nest_bytes = 0;
}

// the transaction operations run in: the nested one, else the pass
static MDB_txn *
s_txn(pl_spool_t *self)
{
    return self->nest ? self->nest : self->pass;
}

static int s_put(pl_spool_t *self, const pl_header_t *hdr,
                 const uint8_t *packet, size_t len, const uint8_t digest[32],
                 bool legacy, uint64_t now_ms, bool *dup,
                 pl_spool_refusal_t *why);

int
pl_spool_put(pl_spool_t *self, const pl_header_t *hdr, const uint8_t *packet,
             size_t len, uint64_t now_ms, bool *dup, pl_spool_refusal_t *why)
{
    uint8_t digest[32];
    pl_hash(digest, sizeof digest, packet, len, NULL, 0);
    return s_put(self, hdr, packet, len, digest, false, now_ms, dup, why);
}

int
pl_spool_put_signed(pl_spool_t *self, const pl_header_t *hdr,
                    const pl_envelope_t *env, const uint8_t *packet, size_t len,
                    uint64_t now_ms, bool *dup, pl_spool_refusal_t *why)
{
    uint8_t digest[32];
    pl_seen_signed_digest(env, digest);
    return s_put(self, hdr, packet, len, digest, true, now_ms, dup, why);
}

int
pl_spool_put_as(pl_spool_t *self, const pl_header_t *hdr, const uint8_t *packet,
                size_t len, const uint8_t *dedupe, size_t dedupe_len,
                uint64_t now_ms, bool *dup, pl_spool_refusal_t *why)
{
    uint8_t digest[32];
    pl_hash(digest, sizeof digest, dedupe, dedupe_len, NULL, 0);
    return s_put(self, hdr, packet, len, digest, false, now_ms, dup, why);
}

// A node's envelope whose id is still queued (live record 'rec'): the
// same bytes as the queued ones, compared in full (no digest can be
// wrong here); 'digest' decides only if the queue item cannot be read.
static bool
s_same_queued(pl_spool_t *self, MDB_txn *txn, const s_idrec_t *rec,
              const uint8_t digest[32], const uint8_t *packet, size_t len)
{
    uint8_t key[PL_ADDRESS_MAX + 10];
    char to[PL_ADDRESS_MAX + 1];
    snprintf(to, sizeof to, "%.*s", PL_ADDRESS_MAX, rec->to);
    MDB_val qk = {s_qkey(key, to, rec->seq), key}, qv;
    if (mdb_get(txn, self->queue, &qk, &qv) != 0)
        return pl_seen_same(rec->digest, digest, 32, true, packet, len);
    return qv.mv_size == S_QUEUE_HDR + len
           && memcmp((const uint8_t *) qv.mv_data + S_QUEUE_HDR, packet, len)
                  == 0;
}

static int
s_put(pl_spool_t *self, const pl_header_t *hdr, const uint8_t *packet,
      size_t len, const uint8_t digest[32], bool legacy, uint64_t now_ms,
      bool *dup, pl_spool_refusal_t *why)
{
    MDB_txn *txn = s_txn(self);
    if (!txn)
        return PL_ESTATE;
    *dup = false;
    *why = PL_SPOOL_ROOM;

    // still queued: the live record has the whole digest
    MDB_val k = {PL_MSG_ID_BYTES, (void *) hdr->id}, v;
    int rc = mdb_get(txn, self->ids, &k, &v);
    if (rc == 0) {
        if (v.mv_size != sizeof(s_idrec_t))
            return PL_EIO;
        s_idrec_t old;
        memcpy(&old, v.mv_data, sizeof old);
        if (legacy ? !s_same_queued(self, txn, &old, digest, packet, len)
                   : !pl_ct_equal(old.digest, digest, 32))
            return PL_EAUTH; // same id, other bytes
        *dup = true;
        return PL_EEXIST;
    }
    if (rc != MDB_NOTFOUND)
        return s_err(self, "get_id", rc);
    // taken, refused or expired: the seen prefix (12 id bytes: a false
    // match among 27 M ids a month is ~1e-14 likely)
    bool found = false;
    uint8_t dp[PL_SEEN_DIG];
    rc = pl_seen_find(&self->seen, txn, hdr->id, hdr->expires_at, &found, dp);
    if (rc != 0)
        return s_err(self, "get_seen", rc);
    if (found) {
        if (!pl_seen_same(dp, digest, PL_SEEN_DIG, legacy, packet, len))
            return PL_EAUTH;
        *dup = true;
        return PL_EEXIST;
    }

    // room: the whole map, then the sender's and the recipient's share
    uint64_t bytes = S_QUEUE_HDR + len;
    bool small = len <= PL_SPOOL_SMALL;
    uint64_t est = self->live_bytes + self->pass_bytes + self->nest_bytes
                   + bytes + S_REC_SLACK;
    uint64_t limit_pct = small ? S_SMALL_PCT : S_FULL_PCT;
    if (self->map_bytes == 0 || est * 100 >= self->map_bytes * limit_pct) {
        *why = PL_SPOOL_MAP_FULL;
        return PL_EFULL;
    }
    // a full disk: what data.mdb holds plus what its file system has left
    // must keep S_DISK_KEEP (half for small ones) for takens, which free
    // space (the preallocated tail of data.mdb is that reserve)
    uint64_t keep = small ? S_DISK_KEEP / 2 : S_DISK_KEEP;
    uint64_t room = self->disk_avail == UINT64_MAX
                        ? UINT64_MAX
                        : self->file_bytes + self->disk_avail;
    if (room != UINT64_MAX && est + keep > room) {
        *why = PL_SPOOL_MAP_FULL;
        return PL_EFULL;
    }
    uint64_t qs = self->quota_sender + (small ? self->quota_sender / 8 : 0);
    uint64_t qr =
        self->quota_recipient + (small ? self->quota_recipient / 8 : 0);
    if (s_quota_read(self, txn, 'f', hdr->from) + bytes > qs) {
        *why = PL_SPOOL_SENDER_OVER;
        return PL_EFULL;
    }
    if (s_quota_read(self, txn, 't', hdr->to) + bytes > qr) {
        *why = PL_SPOOL_RECIPIENT_OVER;
        return PL_EFULL;
    }

    uint64_t seq = 0;
    rc = s_next_seq(self, txn, &seq);
    if (rc != PL_OK)
        return rc;

    uint8_t key[PL_ADDRESS_MAX + 10];
    MDB_val qk = {s_qkey(key, hdr->to, seq), key};
    MDB_val qv = {bytes, NULL};
    rc = mdb_put(s_touch(self, txn), self->queue, &qk, &qv,
                 MDB_RESERVE | MDB_NOOVERWRITE);
    if (rc != 0)
        goto lmdb_fail;
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
        goto lmdb_fail;
    int r = s_seen_put(self, txn, hdr->id, digest, hdr->expires_at);
    if (r == PL_OK)
        r = s_quota_add(self, txn, 'f', hdr->from, (int64_t) bytes);
    if (r == PL_OK)
        r = s_quota_add(self, txn, 't', hdr->to, (int64_t) bytes);
    if (r != PL_OK) {
        if (r == PL_EFULL)
            *why = PL_SPOOL_MAP_FULL;
        return r;
    }
    self->nest_bytes += bytes + S_REC_SLACK;
    return PL_OK;
lmdb_fail:
    r = s_err(self, "put", rc);
    if (r == PL_EFULL)
        *why = PL_SPOOL_MAP_FULL; // MDB_MAP_FULL before the threshold
    return r;
}

// Drops the queued envelope of live record 'rec' (id 'id'): its queue item,
// its quota bytes and the live record itself.
static int
s_unqueue(pl_spool_t *self, MDB_txn *txn, const uint8_t *id,
          const s_idrec_t *rec)
{
    uint8_t key[PL_ADDRESS_MAX + 10];
    char to[PL_ADDRESS_MAX + 1], from[PL_ADDRESS_MAX + 1];
    snprintf(to, sizeof to, "%.*s", PL_ADDRESS_MAX, rec->to);
    snprintf(from, sizeof from, "%.*s", PL_ADDRESS_MAX, rec->from);
    MDB_val qk = {s_qkey(key, to, rec->seq), key}, qv;
    int rc = mdb_get(txn, self->queue, &qk, &qv);
    int64_t bytes = rc == 0 ? (int64_t) qv.mv_size : 0;
    if (rc == 0)
        rc = mdb_del(txn, self->queue, &qk, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return s_err(self, "del_queue", rc);
    int r = PL_OK;
    if (bytes) {
        r = s_quota_add(self, txn, 'f', from, -bytes);
        if (r == PL_OK)
            r = s_quota_add(self, txn, 't', to, -bytes);
    }
    if (r != PL_OK)
        return r;
    MDB_val k = {PL_MSG_ID_BYTES, (void *) id};
    rc = mdb_del(txn, self->ids, &k, NULL);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return s_err(self, "del_id", rc);
    return PL_OK;
}

// A notice for 'from' that envelope 'id' for 'to' will never be delivered:
// key sender NUL id, value recipient NUL [reason + 1] (no reason byte:
// expired; a record of before the byte reads as expired). Told when the
// sender is next connected.
static int
s_notice_put(pl_spool_t *self, MDB_txn *txn, const char *from,
             const uint8_t *id, const char *to, int reason)
{
    uint8_t nk[PL_ADDRESS_MAX + 1 + PL_MSG_ID_BYTES];
    uint8_t nv[PL_ADDRESS_MAX + 2];
    size_t fl = strlen(from), tl = strlen(to);
    if (fl > PL_ADDRESS_MAX || tl > PL_ADDRESS_MAX)
        return PL_EINVAL;
    memcpy(nk, from, fl + 1);
    memcpy(nk + fl + 1, id, PL_MSG_ID_BYTES);
    memcpy(nv, to, tl + 1);
    size_t vl = tl + 1;
    if (reason >= 0 && reason < 255)
        nv[vl++] = (uint8_t) (reason + 1);
    MDB_val nkv = {fl + 1 + PL_MSG_ID_BYTES, nk}, nvv = {vl, nv};
    int rc = mdb_put(txn, self->notices, &nkv, &nvv, 0);
    return rc == 0 ? PL_OK : s_err(self, "put_notice", rc);
}

static int
s_take(pl_spool_t *self, const uint8_t *id, const char *by,
       pl_spool_state_t state, int reason, uint64_t now_ms,
       uint64_t *latency_ms, uint64_t *seq)
{
    MDB_txn *txn = s_txn(self);
    if (!txn)
        return PL_ESTATE;
    // taken or refused: either way it leaves the queue; the seen record
    // keeps answering duplicates; a refusal with a reason leaves a notice
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
    rec.to[PL_ADDRESS_MAX] = 0;
    rec.from[PL_ADDRESS_MAX] = 0;
    if (strcmp(rec.to, by) != 0)
        return PL_EPERM; // only the recipient may take it
    if (rec.state != PL_SPOOL_QUEUED)
        return PL_ENOTFOUND;
    rc = s_unqueue(self, s_touch(self, txn), id, &rec);
    if (rc == PL_OK && state == PL_SPOOL_REFUSED && reason >= 0)
        rc = s_notice_put(self, txn, rec.from, id, rec.to, reason);
    if (rc != PL_OK)
        return rc;
    if (latency_ms)
        *latency_ms = now_ms > rec.accepted_ms ? now_ms - rec.accepted_ms : 0;
    if (seq)
        *seq = rec.seq;
    return PL_OK;
}

int
pl_spool_take(pl_spool_t *self, const uint8_t *id, const char *by,
              pl_spool_state_t state, uint64_t now_ms, uint64_t *latency_ms,
              uint64_t *seq)
{
    return s_take(self, id, by, state, -1, now_ms, latency_ms, seq);
}

int
pl_spool_refuse(pl_spool_t *self, const uint8_t *id, const char *by, int reason,
                uint64_t now_ms, uint64_t *latency_ms, uint64_t *seq)
{
    if (reason < 0 || reason >= 255)
        return PL_EINVAL;
    return s_take(self, id, by, PL_SPOOL_REFUSED, reason, now_ms, latency_ms,
                  seq);
}

#define S_SWEEP_BATCH 4096 // expired envelopes handled per sweep

int
pl_spool_sweep(pl_spool_t *self, uint64_t now,
               void (*on_expired)(void *arg, const char *to), void *arg)
{
    MDB_txn *txn = s_touch(self, s_txn(self));
    if (!txn)
        return PL_ESTATE;
    // 1. seen days past expires + 1 day: one delete per day
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->seen.dbi, &cur);
    if (rc != 0)
        return s_err(self, "cursor", rc);
    MDB_val k, v;
    for (int days = 0; days < 64; days++) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        if (rc != 0 || k.mv_size != 4)
            break;
        uint64_t day = pl_seen_day(k.mv_data);
        // every record of the day expires before (day + 1) * 86400
        if ((day + 1) * 86400 + S_KEEP_IDS > now)
            break;
        rc = mdb_cursor_del(cur, MDB_NODUPDATA);
        if (rc != 0)
            break;
        self->seen.ok = false;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return s_err(self, "sweep_seen", rc);

    // 2. queued envelopes past their expiry: collected, then dropped
    rc = mdb_cursor_open(txn, self->ids, &cur);
    if (rc != 0)
        return s_err(self, "cursor", rc);
    uint8_t(*gone)[PL_MSG_ID_BYTES] = malloc(S_SWEEP_BATCH * PL_MSG_ID_BYTES);
    size_t ngone = 0;
    if (!gone) {
        mdb_cursor_close(cur);
        return PL_ENOMEM;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && ngone < S_SWEEP_BATCH) {
        s_idrec_t rec;
        if (k.mv_size == PL_MSG_ID_BYTES && v.mv_size == sizeof rec) {
            memcpy(&rec, v.mv_data, sizeof rec);
            if (rec.expires_at <= now)
                memcpy(gone[ngone++], k.mv_data, PL_MSG_ID_BYTES);
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        free(gone);
        return s_err(self, "sweep", rc);
    }
    int expired = 0;
    for (size_t i = 0; i < ngone; i++) {
        MDB_val ik = {PL_MSG_ID_BYTES, gone[i]}, iv;
        if (mdb_get(txn, self->ids, &ik, &iv) != 0
            || iv.mv_size != sizeof(s_idrec_t))
            continue;
        s_idrec_t rec;
        memcpy(&rec, iv.mv_data, sizeof rec);
        rec.to[PL_ADDRESS_MAX] = 0;
        rec.from[PL_ADDRESS_MAX] = 0;
        int r = s_unqueue(self, txn, gone[i], &rec);
        if (r != PL_OK) {
            free(gone);
            return r;
        }
        // a notice for the sender, told when it is next connected
        r = s_notice_put(self, txn, rec.from, gone[i], rec.to, -1);
        if (r != PL_OK) {
            free(gone);
            return r;
        }
        if (on_expired)
            on_expired(arg, rec.to);
        expired++;
    }
    free(gone);
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
pl_spool_notices(pl_spool_t *self, const char *sender, size_t max, bool keep,
                 uint8_t (*ids)[PL_MSG_ID_BYTES],
                 char (*tos)[PL_ADDRESS_MAX + 1], int *reasons)
{
    MDB_txn *txn = s_touch(self, s_txn(self));
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
        size_t sl = strnlen(v.mv_data, v.mv_size);
        if (reasons)
            reasons[n] = sl + 2 == v.mv_size
                             ? ((const uint8_t *) v.mv_data)[sl + 1] - 1
                             : -1;
        n++;
        if (keep) { // kept until the sender's taken (pl_spool_notice_ack)
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
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

int
pl_spool_notice_ack(pl_spool_t *self, const char *sender, const uint8_t *id)
{
    MDB_txn *txn = s_txn(self);
    if (!txn)
        return PL_ESTATE;
    uint8_t nk[PL_ADDRESS_MAX + 1 + PL_MSG_ID_BYTES];
    size_t fl = strlen(sender);
    if (fl > PL_ADDRESS_MAX)
        return PL_EINVAL;
    memcpy(nk, sender, fl + 1);
    memcpy(nk + fl + 1, id, PL_MSG_ID_BYTES);
    MDB_val k = {fl + 1 + PL_MSG_ID_BYTES, nk}, v;
    // looked up first: a taken that is not a notice's (nearly all) writes
    // nothing, so a light nest stays clean (pl_spool_nest_fast)
    int rc = mdb_get(txn, self->notices, &k, &v);
    if (rc == MDB_NOTFOUND)
        return PL_ENOTFOUND;
    if (rc == 0)
        rc = mdb_del(s_touch(self, txn), self->notices, &k, NULL);
    return rc == 0 ? PL_OK : s_err(self, "del_notice", rc);
}

// ---- federation (issue 13): who sent what crossed a link

int
pl_spool_fed_note(pl_spool_t *self, const uint8_t *id, const char *from,
                  const char *to, uint64_t expires_at)
{
    MDB_txn *txn = s_touch(self, s_txn(self));
    if (!txn)
        return PL_ESTATE;
    uint8_t v[8 + 2 * (PL_ADDRESS_MAX + 1)];
    size_t fl = strlen(from), tl = strlen(to);
    if (fl > PL_ADDRESS_MAX || tl > PL_ADDRESS_MAX)
        return PL_EINVAL;
    memcpy(v, &expires_at, 8);
    memcpy(v + 8, from, fl + 1);
    memcpy(v + 8 + fl + 1, to, tl + 1);
    MDB_val k = {PL_MSG_ID_BYTES, (void *) id}, vv = {8 + fl + tl + 2, v};
    int rc = mdb_put(txn, self->fedmap, &k, &vv, 0);
    return rc == 0 ? PL_OK : s_err(self, "put_fedmap", rc);
}

int
pl_spool_fed_notice(pl_spool_t *self, const uint8_t *id, int reason)
{
    MDB_txn *txn = s_touch(self, s_txn(self));
    if (!txn)
        return PL_ESTATE;
    MDB_val k = {PL_MSG_ID_BYTES, (void *) id}, v;
    int rc = mdb_get(txn, self->fedmap, &k, &v);
    if (rc == MDB_NOTFOUND)
        return PL_ENOTFOUND;
    if (rc != 0)
        return s_err(self, "get_fedmap", rc);
    char rec[8 + 2 * (PL_ADDRESS_MAX + 1)];
    if (v.mv_size < 12 || v.mv_size > sizeof rec)
        return PL_EIO;
    memcpy(rec, v.mv_data, v.mv_size);
    rec[v.mv_size - 1] = 0;
    const char *from = rec + 8;
    size_t fl = strnlen(from, v.mv_size - 8);
    if (8 + fl + 1 >= v.mv_size)
        return PL_EIO;
    const char *to = from + fl + 1;
    rc = s_notice_put(self, txn, from, id, to, reason);
    if (rc != PL_OK)
        return rc;
    rc = mdb_del(txn, self->fedmap, &k, NULL);
    return rc == 0 ? PL_OK : s_err(self, "fed_notice", rc);
}

int
pl_spool_fed_prune(pl_spool_t *self, uint64_t now, size_t max)
{
    MDB_txn *txn = s_touch(self, s_txn(self));
    if (!txn)
        return PL_ESTATE;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->fedmap, &cur);
    if (rc != 0)
        return s_err(self, "cursor", rc);
    MDB_val k, v;
    int n = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    for (size_t seen = 0; rc == 0 && seen < max; seen++) {
        uint64_t exp = 0;
        if (v.mv_size >= 8)
            memcpy(&exp, v.mv_data, 8);
        if (exp + 86400 < now) { // kept until expiry + 1 day
            if (mdb_cursor_del(cur, 0) != 0)
                break;
            n++;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return n;
}
