// pl_store - the node's LMDB store, master key and record encryption.
// Layer: nodes. Owns: <lmdb.h>; the at-rest record format (associated data,
// master key handling); the primitives (XChaCha20-Poly1305, Argon2id) come
// from proto/pl_crypto.h.
#include "nodes/pl_store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/pl_crypto.h"
#include "proto/pl_keys.h"
#include "proto/pl_lmdb.h"
#include "proto/pl_storever.h"
#include "proto/pl_util.h"

#define S_MASTER_BYTES 32
#define S_NONCE_BYTES  PL_AEAD_NONCE_BYTES
#define S_MAC_BYTES    PL_AEAD_MAC_BYTES
#define S_AD_MAX       (16 + 1 + 512) // db name, separator, record key
#define S_SALT_BYTES   PL_KDF_SALT_BYTES
#define S_KDF_BYTES    (S_SALT_BYTES + 8 + 8) // salt || ops || mem

_Static_assert(S_NONCE_BYTES + S_MAC_BYTES == PL_SEAL_OVERHEAD,
               "seal overhead");
_Static_assert(PL_AEAD_KEY_BYTES == PL_DATAKEY_BYTES, "data key size");

// Names of the databases; part of every sealed record's associated data.
static const char *const s_db_names[PL_DB_COUNT] = {
    [PL_DB_SETTINGS] = "settings",   [PL_DB_DIRECTORY] = "directory",
    [PL_DB_OUTBOX] = "outbox",       [PL_DB_INBOX] = "inbox",
    [PL_DB_SEEN] = "seen",           [PL_DB_KEYS] = "keys",
    [PL_DB_REQUESTS] = "requests",   [PL_DB_CASES] = "cases",
    [PL_DB_REFERRALS] = "referrals", [PL_DB_AUDIT] = "audit",
    [PL_DB_CONSENTS] = "consents",   [PL_DB_STAFF] = "staff",
    [PL_DB_OVERRIDES] = "overrides", [PL_DB_HANDOVERS] = "handovers",
    [PL_DB_TOKENS] = "tokens",       [PL_DB_REPORTS] = "reports",
    [PL_DB_DIRSET] = "dirset",
};

// Settings keys.
static const char s_set_check[] = "master_check"; // sealed known text
static const char s_set_kdf[] = "kdf";            // salt || ops || mem
static const char s_check_text[] = "passerelle-master-check-v1";

struct pl_store {
    MDB_env *env;             // the environment of DIR/store/
    MDB_dbi dbi[PL_DB_COUNT]; // named databases
    uint8_t *master;          // pl_secure_alloc'd, read-only when idle
    pl_log_t *log;            // borrowed
    int failed;               // 0, or the code that made the store unusable
};

struct pl_txn {
    pl_store_t *store; // owner
    MDB_txn *txn;      // LMDB transaction
    bool write;        // a write (or nested) transaction
    bool nested;       // has a parent: its commit does no I/O
};

// LMDB reports a short page write as EIO; a commit that failed with EIO
// while less than S_DISK_SLACK is free is taken as "full" (pl_lmdb.h).
// Nothing was written for good then (the meta page comes last), so the
// store stays usable.
#define S_DISK_SLACK ((uint64_t) 4 << 20)

const char *
pl_store_db_name(pl_db_t db)
{
    assert((int) db >= 0 && db < PL_DB_COUNT);
    return s_db_names[db];
}

void
pl_store_wipe(void *p, size_t len)
{
    pl_wipe(p, len);
}

// ---- record encryption

// Associated data of a record: db name || 0x00 || record key. The
// separator keeps ("ab", "c...") and ("a", "bc...") apart.
static int
s_ad(uint8_t *ad, size_t *adlen, pl_db_t db, const void *rkey, size_t rklen)
{
    const char *name = pl_store_db_name(db);
    size_t n = strlen(name);
    if (n + 1 + rklen > S_AD_MAX)
        return PL_ETOOBIG;
    memcpy(ad, name, n);
    ad[n] = 0;
    if (rklen)
        memcpy(ad + n + 1, rkey, rklen);
    *adlen = n + 1 + rklen;
    return PL_OK;
}

int
pl_store_seal(const uint8_t key[PL_DATAKEY_BYTES], pl_db_t db, const void *rkey,
              size_t rklen, const void *pt, size_t ptlen, pl_buf_t *out)
{
    uint8_t ad[S_AD_MAX];
    size_t adlen;
    int rc = s_ad(ad, &adlen, db, rkey, rklen);
    if (rc != PL_OK)
        return rc;
    size_t start = out->len;
    rc = pl_buf_reserve(out, start + PL_SEAL_OVERHEAD + ptlen + 1);
    if (rc != PL_OK)
        return rc;
    pl_aead_seal(out->data + start, pt, ptlen, ad, adlen, key);
    out->len = start + PL_SEAL_OVERHEAD + ptlen;
    out->data[out->len] = 0;
    return PL_OK;
}

int
pl_store_unseal(const uint8_t key[PL_DATAKEY_BYTES], pl_db_t db,
                const void *rkey, size_t rklen, const uint8_t *in, size_t inlen,
                pl_buf_t *out)
{
    if (inlen < PL_SEAL_OVERHEAD)
        return PL_EAUTH;
    uint8_t ad[S_AD_MAX];
    size_t adlen;
    int rc = s_ad(ad, &adlen, db, rkey, rklen);
    if (rc != PL_OK)
        return rc;
    size_t start = out->len;
    size_t ptmax = inlen - PL_SEAL_OVERHEAD;
    rc = pl_buf_reserve(out, start + ptmax + 1);
    if (rc != PL_OK)
        return rc;
    if (pl_aead_open(out->data + start, in, inlen, ad, adlen, key) != PL_OK)
        return PL_EAUTH; // pl_aead_open wiped what it wrote
    out->len = start + ptmax;
    out->data[out->len] = 0;
    return PL_OK;
}

// Runs 'fn' with the master key readable, then locks it again.
static int
s_seal_master(pl_store_t *self, pl_db_t db, const void *rkey, size_t rklen,
              const void *pt, size_t ptlen, pl_buf_t *out)
{
    pl_secure_readonly(self->master);
    int rc = pl_store_seal(self->master, db, rkey, rklen, pt, ptlen, out);
    pl_secure_noaccess(self->master);
    return rc;
}

static int
s_unseal_master(pl_store_t *self, pl_db_t db, const void *rkey, size_t rklen,
                const uint8_t *in, size_t inlen, pl_buf_t *out)
{
    pl_secure_readonly(self->master);
    int rc = pl_store_unseal(self->master, db, rkey, rklen, in, inlen, out);
    pl_secure_noaccess(self->master);
    return rc;
}

// ---- transactions and records

int
pl_store_begin(pl_store_t *self, pl_txn_t *parent, bool write, pl_txn_t **out)
{
    *out = NULL;
    assert(self);
    assert(!parent || (parent->write && write));
    pl_txn_t *t = calloc(1, sizeof *t);
    if (!t)
        return PL_ENOMEM;
    int mrc = mdb_txn_begin(self->env, parent ? parent->txn : NULL,
                            write ? 0 : MDB_RDONLY, &t->txn);
    if (mrc != MDB_SUCCESS) {
        free(t);
        if (mrc == MDB_PANIC) {
            // a failed meta-page write or sync marked the environment
            // unusable (MDB_FATAL_ERROR): said once, by the owner
            if (!self->failed)
                self->failed = mrc;
            return PL_EIO;
        }
        pl_log_error(self->log, "store_txn_begin_failed err=\"%s\"",
                     mdb_strerror(mrc));
        return pl_lmdb_err(mrc);
    }
    t->store = self;
    t->write = write;
    t->nested = parent != NULL;
    *out = t;
    return PL_OK;
}

int
pl_store_commit(pl_txn_t **txn_p)
{
    assert(txn_p && *txn_p);
    pl_txn_t *t = *txn_p;
    *txn_p = NULL;
    bool top = !t->nested;
    int mrc = mdb_txn_commit(t->txn); // frees the txn also on failure
    pl_store_t *store = t->store;
    free(t);
    if (mrc == MDB_SUCCESS)
        return PL_OK;
    if (top) { // a short page write on a full disk is "full", not broken
        const char *path = NULL;
        if (mdb_env_get_path(store->env, &path) == 0)
            mrc = pl_lmdb_commit_rc(mrc, path, S_DISK_SLACK);
    }
    if ((top && pl_lmdb_commit_fatal(mrc)) || mrc == MDB_PANIC) {
        // the one place that decides: the owner polls pl_store_failed,
        // logs one line and stops
        if (!store->failed)
            store->failed = mrc;
        return PL_EIO;
    }
    int rc = pl_lmdb_err(mrc);
    if (rc != PL_EFULL) // "full" is reported by the caller, rate limited
        pl_log_error(store->log, "store_commit_failed err=\"%s\"",
                     mdb_strerror(mrc));
    return rc;
}

void
pl_store_abort(pl_txn_t **txn_p)
{
    if (!txn_p || !*txn_p)
        return;
    mdb_txn_abort((*txn_p)->txn);
    free(*txn_p);
    *txn_p = NULL;
}

pl_store_t *
pl_store_of(pl_txn_t *txn)
{
    return txn->store;
}

int
pl_store_get(pl_txn_t *txn, pl_db_t db, const void *key, size_t klen,
             const uint8_t **val, size_t *vlen)
{
    MDB_val k = {klen, (void *) key}, v;
    int mrc = mdb_get(txn->txn, txn->store->dbi[db], &k, &v);
    if (mrc != MDB_SUCCESS) {
        int rc = pl_lmdb_err(mrc);
        return rc != PL_OK ? rc : PL_EIO; // never PL_OK: tells the compiler
    }
    *val = v.mv_data;
    *vlen = v.mv_size;
    return PL_OK;
}

int
pl_store_put(pl_txn_t *txn, pl_db_t db, const void *key, size_t klen,
             const void *val, size_t vlen)
{
    assert(txn->write);
    MDB_val k = {klen, (void *) key}, v = {vlen, (void *) val};
    int mrc = mdb_put(txn->txn, txn->store->dbi[db], &k, &v, 0);
    if (mrc != MDB_SUCCESS && mrc != MDB_MAP_FULL)
        pl_log_error(txn->store->log, "store_put_failed db=%s err=\"%s\"",
                     s_db_names[db], mdb_strerror(mrc));
    return pl_lmdb_err(mrc);
}

int
pl_store_del(pl_txn_t *txn, pl_db_t db, const void *key, size_t klen)
{
    assert(txn->write);
    MDB_val k = {klen, (void *) key};
    return pl_lmdb_err(mdb_del(txn->txn, txn->store->dbi[db], &k, NULL));
}

int
pl_store_clear(pl_txn_t *txn, pl_db_t db)
{
    assert(txn->write);
    return pl_lmdb_err(mdb_drop(txn->txn, txn->store->dbi[db], 0));
}

int
pl_store_count(pl_txn_t *txn, pl_db_t db, size_t *n)
{
    MDB_stat st;
    int mrc = mdb_stat(txn->txn, txn->store->dbi[db], &st);
    if (mrc != MDB_SUCCESS)
        return pl_lmdb_err(mrc);
    *n = st.ms_entries;
    return PL_OK;
}

int
pl_store_each(pl_txn_t *txn, pl_db_t db, pl_store_each_fn fn, void *arg)
{
    MDB_cursor *cur;
    int mrc = mdb_cursor_open(txn->txn, txn->store->dbi[db], &cur);
    if (mrc != MDB_SUCCESS)
        return pl_lmdb_err(mrc);
    MDB_val k, v;
    int rc = PL_OK;
    mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (mrc == MDB_SUCCESS) {
        int r = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
        if (r < 0) {
            rc = r;
            break;
        }
        if (r == PL_STORE_STOP)
            break;
        if (r == PL_STORE_DELETE) {
            assert(txn->write);
            mrc = mdb_cursor_del(cur, 0);
            if (mrc != MDB_SUCCESS)
                break;
            // after a delete the cursor already stands on the next record
            // (LMDB marks it deleted), and MDB_NEXT returns that record
        }
        mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == PL_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND)
        rc = pl_lmdb_err(mrc);
    mdb_cursor_close(cur);
    return rc;
}

int
pl_store_put_secret(pl_txn_t *txn, pl_db_t db, const void *key, size_t klen,
                    const void *pt, size_t ptlen)
{
    pl_buf_t sealed = {0};
    int rc = s_seal_master(txn->store, db, key, klen, pt, ptlen, &sealed);
    if (rc == PL_OK)
        rc = pl_store_put(txn, db, key, klen, sealed.data, sealed.len);
    pl_buf_free(&sealed);
    return rc;
}

int
pl_store_get_secret(pl_txn_t *txn, pl_db_t db, const void *key, size_t klen,
                    pl_buf_t *out)
{
    const uint8_t *v;
    size_t vlen;
    int rc = pl_store_get(txn, db, key, klen, &v, &vlen);
    if (rc != PL_OK)
        return rc;
    return s_unseal_master(txn->store, db, key, klen, v, vlen, out);
}

// ---- data keys

int
pl_store_datakey_new(pl_txn_t *txn, uint8_t id[PL_DATAKEY_ID_BYTES],
                     uint8_t key[PL_DATAKEY_BYTES])
{
    pl_random(id, PL_DATAKEY_ID_BYTES);
    pl_random(key, PL_DATAKEY_BYTES);
    int rc = pl_store_put_secret(txn, PL_DB_KEYS, id, PL_DATAKEY_ID_BYTES, key,
                                 PL_DATAKEY_BYTES);
    if (rc != PL_OK)
        pl_wipe(key, PL_DATAKEY_BYTES);
    return rc;
}

int
pl_store_datakey_get(pl_txn_t *txn, const uint8_t id[PL_DATAKEY_ID_BYTES],
                     uint8_t key[PL_DATAKEY_BYTES])
{
    pl_buf_t k = {0};
    int rc = pl_store_get_secret(txn, PL_DB_KEYS, id, PL_DATAKEY_ID_BYTES, &k);
    if (rc == PL_OK && k.len != PL_DATAKEY_BYTES)
        rc = PL_EPROTO;
    if (rc == PL_OK)
        memcpy(key, k.data, PL_DATAKEY_BYTES);
    pl_buf_wipe(&k);
    return rc;
}

int
pl_store_datakey_destroy(pl_txn_t *txn, const uint8_t id[PL_DATAKEY_ID_BYTES])
{
    return pl_store_del(txn, PL_DB_KEYS, id, PL_DATAKEY_ID_BYTES);
}

// ---- request ids

int
pl_store_request_get(pl_txn_t *txn, const uint8_t id[PL_REQUEST_ID_BYTES],
                     pl_buf_t *reply)
{
    const uint8_t *v;
    size_t vlen;
    int rc =
        pl_store_get(txn, PL_DB_REQUESTS, id, PL_REQUEST_ID_BYTES, &v, &vlen);
    if (rc != PL_OK)
        return rc;
    if (vlen < 8 + PL_SEAL_OVERHEAD)
        return PL_EPROTO;
    // value: u64 stored_at (clear, so pruning needs no key) || sealed reply
    return s_unseal_master(txn->store, PL_DB_REQUESTS, id, PL_REQUEST_ID_BYTES,
                           v + 8, vlen - 8, reply);
}

int
pl_store_request_put(pl_txn_t *txn, const uint8_t id[PL_REQUEST_ID_BYTES],
                     uint64_t now, const char *reply, size_t len)
{
    pl_buf_t v = {0};
    int rc = pl_buf_append(&v, &now, 8);
    if (rc == PL_OK)
        rc = s_seal_master(txn->store, PL_DB_REQUESTS, id, PL_REQUEST_ID_BYTES,
                           reply, len, &v);
    if (rc == PL_OK)
        rc = pl_store_put(txn, PL_DB_REQUESTS, id, PL_REQUEST_ID_BYTES, v.data,
                          v.len);
    pl_buf_free(&v);
    return rc;
}

typedef struct {
    uint64_t before; // delete replies stored before this
    size_t n;        // deleted so far
} s_prune_t;

static int
s_prune_request(const uint8_t *key, size_t klen, const uint8_t *val,
                size_t vlen, void *arg)
{
    (void) key;
    (void) klen;
    s_prune_t *p = arg;
    uint64_t at = 0;
    if (vlen >= 8)
        memcpy(&at, val, 8);
    if (vlen < 8 || at < p->before) {
        p->n++;
        return PL_STORE_DELETE;
    }
    return PL_STORE_NEXT;
}

int
pl_store_request_prune(pl_txn_t *txn, uint64_t now, size_t *n)
{
    s_prune_t p = {now > PL_REQUEST_KEEP ? now - PL_REQUEST_KEEP : 0, 0};
    int rc = pl_store_each(txn, PL_DB_REQUESTS, s_prune_request, &p);
    if (n)
        *n = p.n;
    return rc;
}

// ---- environment

int
pl_store_flags(pl_store_t *self, unsigned *flags)
{
    return pl_lmdb_err(mdb_env_get_flags(self->env, flags));
}

int
pl_store_reader_check(pl_store_t *self, int *dead)
{
    int d = 0;
    int mrc = mdb_reader_check(self->env, &d);
    if (mrc == MDB_SUCCESS && d > 0)
        pl_log_warn(self->log, "store_stale_readers cleared=%d", d);
    if (dead)
        *dead = d;
    return pl_lmdb_err(mrc);
}

int
pl_store_failed(const pl_store_t *self)
{
    return self ? self->failed : 0;
}

const char *
pl_store_strerror(int code)
{
    return mdb_strerror(code);
}

int
pl_store_usage(pl_store_t *self, unsigned *pct)
{
    MDB_envinfo info;
    MDB_stat st;
    int mrc = mdb_env_info(self->env, &info);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_stat(self->env, &st);
    if (mrc != MDB_SUCCESS)
        return pl_lmdb_err(mrc);
    // pages in use = high-water mark minus pages on the free list (as
    // mdb_stat -f counts them), so deletions bring the figure down again
    MDB_txn *txn;
    mrc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (mrc != MDB_SUCCESS)
        return pl_lmdb_err(mrc);
    size_t free_pages = 0;
    MDB_cursor *cur;
    mrc = mdb_cursor_open(txn, 0, &cur); // dbi 0 is the free list
    if (mrc == MDB_SUCCESS) {
        MDB_val k, v;
        while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == MDB_SUCCESS) {
            if (v.mv_size >= sizeof(size_t)) {
                size_t cnt;
                memcpy(&cnt, v.mv_data, sizeof cnt); // IDL: count first
                free_pages += cnt;
            }
        }
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    size_t map_pages = info.me_mapsize / st.ms_psize;
    size_t used = info.me_last_pgno + 1;
    used = used > free_pages ? used - free_pages : 0;
    *pct = map_pages ? (unsigned) (used * 100 / map_pages) : 100;
    return PL_OK;
}

// Derives the master key from a passphrase with the stored (or new) salt.
static int
s_master_from_passphrase(pl_store_t *self, MDB_txn *txn,
                         const pl_store_opts_t *opts, bool fresh, char *err,
                         size_t n)
{
    MDB_val k = {sizeof s_set_kdf - 1, (void *) s_set_kdf}, v;
    uint8_t kdf[S_KDF_BYTES];
    int mrc = mdb_get(txn, self->dbi[PL_DB_SETTINGS], &k, &v);
    if (mrc == MDB_NOTFOUND) {
        if (!fresh) {
            pl_errf(err, n,
                    "this store was created with a key file "
                    "(keys/master.secret), not a passphrase");
            return PL_ESTATE;
        }
        uint64_t ops = PL_KDF_OPS_INTERACTIVE;
        uint64_t mem = PL_KDF_MEM_INTERACTIVE;
        pl_random(kdf, S_SALT_BYTES);
        memcpy(kdf + S_SALT_BYTES, &ops, 8);
        memcpy(kdf + S_SALT_BYTES + 8, &mem, 8);
        v.mv_size = sizeof kdf;
        v.mv_data = kdf;
        mrc = mdb_put(txn, self->dbi[PL_DB_SETTINGS], &k, &v, 0);
        if (mrc != MDB_SUCCESS) {
            pl_errf(err, n, "cannot write the store: %s", mdb_strerror(mrc));
            return pl_lmdb_err(mrc);
        }
    } else if (mrc != MDB_SUCCESS || v.mv_size != S_KDF_BYTES) {
        pl_errf(err, n, "the store's key derivation settings are unreadable");
        return PL_EPROTO;
    } else {
        memcpy(kdf, v.mv_data, sizeof kdf);
    }
    uint64_t ops, mem;
    memcpy(&ops, kdf + S_SALT_BYTES, 8);
    memcpy(&mem, kdf + S_SALT_BYTES + 8, 8);
    if (ops < PL_KDF_OPS_MIN || ops > PL_KDF_OPS_MAX || mem < PL_KDF_MEM_MIN
        || mem > ((uint64_t) 1 << 32)) {
        pl_errf(err, n, "the store's key derivation settings are invalid");
        return PL_EPROTO;
    }
    if (pl_kdf_argon2id(self->master, S_MASTER_BYTES, opts->passphrase,
                        opts->passphrase_len, kdf, ops, mem)
        != PL_OK) {
        pl_errf(err, n, "Argon2id failed (out of memory?)");
        return PL_ENOMEM;
    }
    return PL_OK;
}

// Reads (or, for a fresh store, creates) the master key file.
static int
s_master_from_file(pl_store_t *self, MDB_txn *txn, const pl_store_opts_t *opts,
                   bool fresh, char *err, size_t n)
{
    MDB_val k = {sizeof s_set_kdf - 1, (void *) s_set_kdf}, v;
    if (mdb_get(txn, self->dbi[PL_DB_SETTINGS], &k, &v) == MDB_SUCCESS) {
        pl_errf(err, n,
                "this store is protected by a passphrase: give it with "
                "--passphrase-fd N or PASSERELLE_PASSPHRASE");
        return PL_ESTATE;
    }
    if (!opts->master_path) {
        pl_errf(err, n, "no master key file and no passphrase");
        return PL_EINVAL;
    }
    int rc =
        pl_keyfile_read(opts->master_path, self->master, S_MASTER_BYTES, true);
    if (rc == PL_ENOTFOUND && fresh) {
        pl_random(self->master, S_MASTER_BYTES);
        rc = pl_keyfile_write(opts->master_path, self->master, S_MASTER_BYTES,
                              true, false);
        if (rc != PL_OK) {
            pl_errf(err, n, "cannot write %s: %s", opts->master_path,
                    pl_strerror(rc));
            return rc;
        }
        pl_log_info(self->log, "master_key_created path=%s", opts->master_path);
        return PL_OK;
    }
    if (rc == PL_ENOTFOUND) {
        pl_errf(err, n,
                "%s is missing: the store cannot be read without its master "
                "key",
                opts->master_path);
        return PL_ESTATE;
    }
    if (rc == PL_EPERM) {
        pl_errf(err, n,
                "%s is readable by group or others (or unreadable): "
                "chmod 600 it",
                opts->master_path);
        return PL_EPERM;
    }
    if (rc != PL_OK) {
        pl_errf(err, n, "cannot read %s: %s", opts->master_path,
                pl_strerror(rc));
        return rc;
    }
    return PL_OK;
}

// Obtains the master key and checks it against (or writes) the check
// record, in one write transaction.
static int
s_master_setup(pl_store_t *self, const pl_store_opts_t *opts, char *err,
               size_t n)
{
    MDB_txn *txn;
    int mrc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (mrc != MDB_SUCCESS) {
        pl_errf(err, n, "cannot begin a store transaction: %s",
                mdb_strerror(mrc));
        return pl_lmdb_err(mrc);
    }
    MDB_val k = {sizeof s_set_check - 1, (void *) s_set_check}, v;
    mrc = mdb_get(txn, self->dbi[PL_DB_SETTINGS], &k, &v);
    bool fresh = mrc == MDB_NOTFOUND;
    int rc = PL_OK;
    pl_secure_readwrite(self->master);
    if (opts->passphrase)
        rc = s_master_from_passphrase(self, txn, opts, fresh, err, n);
    else
        rc = s_master_from_file(self, txn, opts, fresh, err, n);
    pl_secure_noaccess(self->master);
    pl_buf_t buf = {0};
    if (rc == PL_OK && fresh) {
        rc = s_seal_master(self, PL_DB_SETTINGS, s_set_check,
                           sizeof s_set_check - 1, s_check_text,
                           sizeof s_check_text - 1, &buf);
        if (rc == PL_OK) {
            v.mv_size = buf.len;
            v.mv_data = buf.data;
            mrc = mdb_put(txn, self->dbi[PL_DB_SETTINGS], &k, &v, 0);
            rc = pl_lmdb_err(mrc);
            if (rc != PL_OK)
                pl_errf(err, n, "cannot write the store: %s",
                        mdb_strerror(mrc));
        }
    } else if (rc == PL_OK) {
        rc =
            s_unseal_master(self, PL_DB_SETTINGS, s_set_check,
                            sizeof s_set_check - 1, v.mv_data, v.mv_size, &buf);
        if (rc != PL_OK || buf.len != sizeof s_check_text - 1
            || memcmp(buf.data, s_check_text, buf.len) != 0) {
            pl_errf(err, n,
                    opts->passphrase
                        ? "wrong passphrase: the store's check record does "
                          "not open"
                        : "wrong master key: the store's check record does "
                          "not open with keys/master.secret");
            rc = PL_EAUTH;
        }
    }
    pl_buf_free(&buf);
    if (rc != PL_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    mrc = mdb_txn_commit(txn);
    if (mrc != MDB_SUCCESS) {
        pl_errf(err, n, "cannot commit to the store: %s", mdb_strerror(mrc));
        return pl_lmdb_err(mrc);
    }
    return PL_OK;
}

// Read-only open: no database is created, the master key is not read
// (records sealed under it cannot be opened; the audit chain, counts and
// copies need no key). A missing database is an error: the store was not
// made by this version.
static int
s_open_readonly(pl_store_t *self, const char *dir, size_t map, char *err,
                size_t err_size)
{
    int mrc = mdb_env_create(&self->env);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_set_maxdbs(self->env, PL_DB_COUNT + 4);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_set_mapsize(self->env, map);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_open(self->env, dir, MDB_NOTLS | MDB_RDONLY, 0600);
    if (mrc != MDB_SUCCESS) {
        pl_errf(err, err_size, "cannot open the store in %s: %s", dir,
                mdb_strerror(mrc));
        return pl_lmdb_err(mrc);
    }
    MDB_txn *txn;
    mrc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    for (int i = 0; mrc == MDB_SUCCESS && i < PL_DB_COUNT; i++) {
        mrc = mdb_dbi_open(txn, s_db_names[i], 0, &self->dbi[i]);
        if (mrc == MDB_NOTFOUND && i >= PL_DB_HANDOVERS) {
            // added by issues 13, 15, 20: a store last written by an older
            // daemon has none yet, and a read-only reader never needs it
            self->dbi[i] = 0;
            mrc = MDB_SUCCESS;
        }
        if (mrc != MDB_SUCCESS)
            pl_errf(err, err_size, "the store in %s has no '%s' database: %s",
                    dir, s_db_names[i], mdb_strerror(mrc));
    }
    if (mrc == MDB_SUCCESS)
        mrc = mdb_txn_commit(txn); // keeps the dbi handles
    else
        mdb_txn_abort(txn);
    if (mrc != MDB_SUCCESS)
        return pl_lmdb_err(mrc);
    pl_errf(err, err_size, "ok");
    return PL_OK;
}

int
pl_store_copy(pl_store_t *self, const char *dir, bool compact)
{
    // the file is made here, 0600 from the start (mdb_env_copy2 creates it
    // 0666 less the umask: 0644, readable by every user), and synced
    // before the copy counts as done
    char path[PATH_MAX + 16];
    if (snprintf(path, sizeof path, "%s/data.mdb", dir) >= (int) sizeof path)
        return PL_ETOOBIG;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int mrc = fd < 0 ? errno : MDB_SUCCESS;
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_copyfd2(self->env, fd, compact ? MDB_CP_COMPACT : 0);
    if (mrc == MDB_SUCCESS && fsync(fd) != 0)
        mrc = errno;
    if (fd >= 0 && close(fd) != 0 && mrc == MDB_SUCCESS)
        mrc = errno;
    if (fd >= 0 && mrc != MDB_SUCCESS)
        unlink(path); // no half copy left behind
    if (mrc == MDB_SUCCESS) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            if (fsync(dfd) != 0)
                mrc = errno;
            close(dfd);
        }
    }
    if (mrc != MDB_SUCCESS) {
        pl_log_error(self->log, "store_copy_failed dir=%s err=\"%s\"", dir,
                     mdb_strerror(mrc));
        return mrc == ENOENT ? PL_ENOTFOUND : PL_EIO;
    }
    return PL_OK;
}

size_t
pl_store_map_size(pl_store_t *self)
{
    MDB_envinfo info;
    if (mdb_env_info(self->env, &info) != MDB_SUCCESS)
        return 0;
    return info.me_mapsize;
}

unsigned
pl_store_highwater(pl_store_t *self)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(self->env, &info) != MDB_SUCCESS
        || mdb_env_stat(self->env, &st) != MDB_SUCCESS || st.ms_psize == 0)
        return 100;
    size_t pages = info.me_mapsize / st.ms_psize;
    return pages ? (unsigned) ((info.me_last_pgno + 1) * 100 / pages) : 100;
}

int
pl_store_map_set(pl_store_t *self, size_t bytes)
{
    int mrc = mdb_env_set_mapsize(self->env, bytes);
    if (mrc != MDB_SUCCESS)
        pl_log_error(self->log, "store_map_set_failed bytes=%zu err=\"%s\"",
                     bytes, mdb_strerror(mrc));
    return pl_lmdb_err(mrc);
}

// ---- store format version (issue 19): settings "format" -> u32 little
// endian. 1: the stores written before the record existed (no record);
// 2: the record. A newer store is refused untouched; an older one is
// copied to <dir>.bak-vN first, then each step below runs in one write
// transaction that also records the new version.
#define S_FORMAT 2

typedef int (*s_migrate_fn)(pl_store_t *self, MDB_txn *txn);
// s_migrations[i] takes a store from format i + 1 to i + 2 (NULL: only
// the version record changes)
static const s_migrate_fn s_migrations[S_FORMAT - 1] = {NULL};

static int
s_format_check(pl_store_t *self, const char *dir, bool read_only, char *err,
               size_t err_size)
{
    MDB_txn *txn;
    int mrc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (mrc != MDB_SUCCESS)
        return pl_lmdb_err(mrc);
    MDB_val k = {6, "format"}, v = {0, NULL};
    unsigned found = 1;
    bool recorded = false;
    mrc = mdb_get(txn, self->dbi[PL_DB_SETTINGS], &k, &v);
    if (mrc == MDB_SUCCESS && v.mv_size == 4) {
        const uint8_t *b = v.mv_data;
        found = b[0] | (unsigned) b[1] << 8 | (unsigned) b[2] << 16
                | (unsigned) b[3] << 24;
        recorded = true;
    } else if (mrc == MDB_SUCCESS) {
        found = 0; // a record of the wrong size
    } else if (mrc == MDB_NOTFOUND) {
        MDB_stat st;
        // an empty settings database: a new store, of this format
        if (mdb_stat(txn, self->dbi[PL_DB_SETTINGS], &st) == MDB_SUCCESS
            && st.ms_entries == 0)
            found = S_FORMAT;
        mrc = MDB_SUCCESS;
    }
    mdb_txn_abort(txn);
    if (mrc != MDB_SUCCESS || found == 0) {
        pl_errf(err, err_size, "the store in %s has a bad format record", dir);
        return PL_EPROTO;
    }
    if (found > S_FORMAT) {
        pl_storever_newer(err, err_size, "passerelle-node", dir, found,
                          S_FORMAT);
        return PL_ESTATE;
    }
    if (read_only || (found == S_FORMAT && recorded))
        return PL_OK; // read-only opens read an older format as it is
    char bak[4200] = "";
    if (found < S_FORMAT) {
        int rc = pl_storever_backup(self->env, dir, found, bak, sizeof bak);
        if (rc != PL_OK) {
            pl_errf(err, err_size,
                    "the store in %s (format %u) needs a migration, and its "
                    "backup could not be made in %s: %s; nothing was changed",
                    dir, found, bak, pl_strerror(rc));
            return rc;
        }
    }
    txn = NULL;
    mrc = mdb_txn_begin(self->env, NULL, 0, &txn);
    for (unsigned f = found; mrc == MDB_SUCCESS && f < S_FORMAT; f++)
        if (s_migrations[f - 1])
            mrc = s_migrations[f - 1](self, txn) == PL_OK ? MDB_SUCCESS : EIO;
    uint8_t b[4] = {S_FORMAT & 0xff, (S_FORMAT >> 8) & 0xff,
                    (S_FORMAT >> 16) & 0xff, (unsigned) S_FORMAT >> 24};
    MDB_val fv = {4, b};
    if (mrc == MDB_SUCCESS)
        mrc = mdb_put(txn, self->dbi[PL_DB_SETTINGS], &k, &fv, 0);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_txn_commit(txn);
    else if (txn)
        mdb_txn_abort(txn);
    if (mrc != MDB_SUCCESS) {
        pl_errf(err, err_size, "the store in %s could not be migrated: %s", dir,
                mdb_strerror(mrc));
        return pl_lmdb_err(mrc);
    }
    if (found < S_FORMAT)
        pl_log_info(self->log, "store_migrated from=%u to=%d backup=%s", found,
                    S_FORMAT, bak);
    return PL_OK;
}

int
pl_store_open(const char *dir, const pl_store_opts_t *opts, pl_store_t **out,
              char *err, size_t err_size)
{
    *out = NULL;
    pl_errf(err, err_size, "unknown error");
    if (pl_crypto_init() != PL_OK) {
        pl_errf(err, err_size, "libsodium cannot start");
        return PL_EIO;
    }
    if (!opts->read_only && pl_mkdirs(dir, 0700) != PL_OK) {
        pl_errf(err, err_size, "cannot create %s: %s", dir, strerror(errno));
        return PL_EIO;
    }
    pl_store_t *self = calloc(1, sizeof *self);
    if (!self)
        return PL_ENOMEM;
    self->log = opts->log;
    self->master = pl_secure_alloc(S_MASTER_BYTES);
    if (!self->master) {
        free(self);
        return PL_ENOMEM;
    }
    pl_wipe(self->master, S_MASTER_BYTES);
    pl_secure_noaccess(self->master);

    size_t map = opts->map_bytes ? opts->map_bytes : PL_STORE_MAP_DEFAULT;
    if (opts->read_only) {
        int rrc = s_open_readonly(self, dir, map, err, err_size);
        if (rrc == PL_OK)
            rrc = s_format_check(self, dir, true, err, err_size);
        if (rrc != PL_OK) {
            pl_store_close(&self);
            return rrc;
        }
        *out = self;
        return PL_OK;
    }
    int mrc = mdb_env_create(&self->env);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_set_maxdbs(self->env, PL_DB_COUNT + 4);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_set_mapsize(self->env, map);
    // Flags: MDB_NOTLS only (reader slots belong to transactions, not
    // threads). Never MDB_NOSYNC, MDB_MAPASYNC or MDB_NOMETASYNC: every
    // commit is fsynced before anything is acknowledged.
    if (mrc == MDB_SUCCESS)
        mrc = mdb_env_open(self->env, dir, MDB_NOTLS, 0600);
    if (mrc != MDB_SUCCESS) {
        pl_errf(err, err_size, "cannot open the store in %s: %s", dir,
                mdb_strerror(mrc));
        pl_store_close(&self);
        return pl_lmdb_err(mrc);
    }
    int dead = 0;
    mdb_reader_check(self->env, &dead);
    if (dead > 0)
        pl_log_warn(self->log, "store_stale_readers cleared=%d", dead);

    MDB_txn *txn;
    mrc = mdb_txn_begin(self->env, NULL, 0, &txn);
    for (int i = 0; mrc == MDB_SUCCESS && i < PL_DB_COUNT; i++)
        mrc = mdb_dbi_open(txn, s_db_names[i], MDB_CREATE, &self->dbi[i]);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    if (mrc != MDB_SUCCESS) {
        pl_errf(err, err_size, "cannot open the store's databases: %s",
                mdb_strerror(mrc));
        pl_store_close(&self);
        return pl_lmdb_err(mrc);
    }
    int rc = s_format_check(self, dir, false, err, err_size);
    if (rc == PL_OK)
        rc = s_master_setup(self, opts, err, err_size);
    if (rc != PL_OK) {
        pl_store_close(&self);
        return rc;
    }
    pl_errf(err, err_size, "ok");
    *out = self;
    return PL_OK;
}

void
pl_store_close(pl_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pl_store_t *self = *self_p;
    if (self->env)
        mdb_env_close(self->env);
    pl_secure_free(self->master); // wipes whatever the page protection
    free(self);
    *self_p = NULL;
}
