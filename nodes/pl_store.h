// pl_store - the node's durable store: one LMDB environment in DIR/store/
// with named databases, the node's master key, and at-rest encryption of
// records. Layer: nodes. Owns: <lmdb.h> (only this file includes it) and
// the at-rest cryptography (XChaCha20-Poly1305, Argon2id) of DESIGN.md §5.
//
// Durability: the environment is opened without MDB_NOSYNC, MDB_MAPASYNC
// or MDB_NOMETASYNC, so a successful pl_store_commit() of a top-level
// transaction has been fsynced; only then may anything it contains be
// acknowledged to a peer.
//
// Transactions: the daemon opens one write transaction per event-loop pass
// and one nested transaction (pl_store_begin with a parent) per packet or
// request, so one bad packet aborts only its own changes and one fsync
// covers the whole pass. LMDB allows one transaction per thread at a time
// (plus the nested chain of the write transaction): never open a read
// transaction while a write transaction is open in the same thread.
//
// Encryption: LMDB 0.9 neither encrypts nor wipes freed pages, so nothing
// personal is written in clear. A record is sealed with
// XChaCha20-Poly1305-IETF under a 32-byte key, random 24-byte nonce, and
// associated data "db name" || 0x00 || record key, so a sealed value moved
// to another key or database no longer opens. Data keys are random (never
// derived from the master key, so they can be destroyed: crypto-shredding)
// and stored wrapped by the master key in the "keys" database.
//
// Master key: either DIR/keys/master.secret (32 random bytes, Z85, 0600,
// created at the first start; refused when readable by group or others),
// or Argon2id (crypto_pwhash) of a passphrase with a salt and limits kept
// in the "settings" database. A check record sealed under the master key
// tells a wrong passphrase or a wrong key file from a good one.
#ifndef PL_STORE_H
#define PL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_err.h"
#include "proto/pl_log.h"
#include "proto/pl_util.h"

#define PL_STORE_MAP_DEFAULT ((size_t) 1 << 30) // 1 GiB
#define PL_STORE_FULL_PCT    90 // refuse new work at this map use
#define PL_DATAKEY_ID_BYTES  16 // id of a data key in the "keys" database
#define PL_DATAKEY_BYTES     32 // XChaCha20-Poly1305 key
#define PL_SEAL_OVERHEAD     (24 + 16) // nonce + MAC added by a seal

typedef struct pl_store pl_store_t;
typedef struct pl_txn pl_txn_t;

// The named databases (names are part of the associated data of sealed
// records: never rename one).
typedef enum {
    PL_DB_SETTINGS = 0, // "settings": name -> value (kdf, check, revlist)
    PL_DB_DIRECTORY,    // "directory": address -> certificate bytes
    PL_DB_OUTBOX,       // "outbox": message id -> outbox record
    PL_DB_INBOX,        // "inbox": message id -> inbox record
    PL_DB_SEEN,         // "seen": message id -> dedupe record
    PL_DB_KEYS,         // "keys": data key id -> wrapped data key
    PL_DB_REQUESTS,     // "requests": CLI request id -> sealed reply
    PL_DB_CASES,        // "cases": case id -> sealed case (pl_node_case.c)
    PL_DB_REFERRALS,    // "referrals": referral id -> sealed referral with
                        // its history; envelope id -> referral id
    PL_DB_AUDIT,        // "audit": seq -> audit entry (nodes/pl_audit.h)
    PL_DB_CONSENTS,     // "consents": consent id -> sealed consent record
    PL_DB_STAFF,        // "staff": account name -> account sealed under the
                        // master key (pl_staff.c)
    PL_DB_OVERRIDES,    // "overrides": override id -> sealed pending
                        // four-eyes override (pl_override.c)
    PL_DB_HANDOVERS,    // "handovers": handover records (pl_handover_cmd.c)
    PL_DB_TOKENS,       // "tokens": BLAKE2b-256(API token) -> record sealed
                        // under the master key (pl_token.c)
    PL_DB_REPORTS,      // "reports": node || 0 || period -> sealed aggregate
                        // report at a coordination node (pl_coord.c)
    PL_DB_DIRSET,       // "dirset": item name -> field || item, the
                        // broker's directory as last taken (pl_dir_delta.c)
    PL_DB_COUNT
} pl_db_t;

// Options of pl_store_open.
typedef struct {
    size_t map_bytes;        // LMDB map size; 0 = PL_STORE_MAP_DEFAULT
    const char *master_path; // master key file (used without passphrase)
    const char *passphrase;  // Argon2id passphrase, or NULL
    size_t passphrase_len;   // its length in bytes
    pl_log_t *log;           // borrowed; may be NULL
    bool read_only;          // open read-only (MDB_RDONLY): no master key
                             // is read, no database is created; for the
                             // CLI's audit verify/export and backups while
                             // no daemon runs (pl_store_open_readonly)
} pl_store_opts_t;

// Opens (creating if needed) the environment in 'dir' (created 0700) and
// obtains the master key. Runs mdb_reader_check. Errors: PL_EPERM (master
// key file readable by others), PL_EAUTH (wrong passphrase or key file),
// PL_ESTATE (key mode does not match the store: passphrase given for a
// key-file store or the reverse, or the key file is missing for an existing
// store), PL_EIO (LMDB). 'err' (may be NULL) gets a one-line reason.
// Caller releases with pl_store_close().
PL_MUST_CHECK int pl_store_open(const char *dir, const pl_store_opts_t *opts,
                                pl_store_t **out, char *err, size_t err_size);
// Closes the environment and wipes the master key. NULL-safe; no
// transaction may be open.
void pl_store_close(pl_store_t **self_p);

// Name of a database ("outbox", ...).
const char *pl_store_db_name(pl_db_t db);
// The LMDB environment flags (mdb_env_get_flags), for durability checks.
PL_MUST_CHECK int pl_store_flags(pl_store_t *self, unsigned *flags);
// Clears reader slots of dead processes; 'dead' (may be NULL) gets how many.
PL_MUST_CHECK int pl_store_reader_check(pl_store_t *self, int *dead);
// Map use in percent: (pages in use - free pages) / map pages. Needs no
// open transaction in this thread.
PL_MUST_CHECK int pl_store_usage(pl_store_t *self, unsigned *pct);

// ---- environment maintenance (issue 6). None of these may be called
// while a transaction of this process is open on the store.
// Writes a consistent copy of the environment into the existing, empty
// folder 'dir' (DIR/data.mdb); with 'compact' free pages are left out
// (mdb_env_copy2 with MDB_CP_COMPACT). Takes a read transaction of its own
// for the duration of the copy. PL_EIO with a log line on failure.
PL_MUST_CHECK int pl_store_copy(pl_store_t *self, const char *dir,
                                bool compact);
// Current map size in bytes.
size_t pl_store_map_size(pl_store_t *self);
// High-water mark of the data file in percent of the map: (last page used
// + 1) / map pages. A transaction that needs pages past the map fails
// with MDB_MAP_FULL even when the free list holds pages still in use by
// readers, so growth watches this figure too. Cheap (no transaction).
unsigned pl_store_highwater(pl_store_t *self);
// Sets the map size to 'bytes' (mdb_env_set_mapsize): grows the map of an
// open environment. No transaction may be open in this process.
PL_MUST_CHECK int pl_store_map_set(pl_store_t *self, size_t bytes);

// ---- transactions
// Begins a transaction. With 'parent' (a write transaction) it is nested
// and 'write' must be true. Caller ends it with commit or abort.
PL_MUST_CHECK int pl_store_begin(pl_store_t *self, pl_txn_t *parent, bool write,
                                 pl_txn_t **out);
// Commits and frees the transaction; *txn_p is NULL afterwards, also on
// failure (the transaction is then aborted). A top-level commit is durable
// (fsync) when it returns PL_OK. PL_EFULL when the map or the file system
// is full (ENOSPC, EDQUOT): nothing changed, a later commit may succeed.
// PL_EIO when the store failed for good (see pl_store_failed).
PL_MUST_CHECK int pl_store_commit(pl_txn_t **txn_p);
// 0 while the store is usable; else the LMDB or errno code of the failure
// that made it unusable for this process: a failed sync, data or meta-page
// write of a top-level commit (EIO, ...), or MDB_PANIC from a begin. Once
// set it stays set: nothing may be acknowledged any more, and the owner
// must stop and be restarted on a fresh environment (RELIABILITY.md).
int pl_store_failed(const pl_store_t *self);
// Text of such a code (mdb_strerror: LMDB codes and errno values).
const char *pl_store_strerror(int code);
// Aborts and frees; NULL-safe.
void pl_store_abort(pl_txn_t **txn_p);
// The store a transaction belongs to.
pl_store_t *pl_store_of(pl_txn_t *txn);

// ---- records (values borrowed from LMDB: valid until the next change in
// this transaction or its end)
PL_MUST_CHECK int pl_store_get(pl_txn_t *txn, pl_db_t db, const void *key,
                               size_t klen, const uint8_t **val, size_t *vlen);
// PL_EFULL when the map is full (the transaction must then be aborted).
PL_MUST_CHECK int pl_store_put(pl_txn_t *txn, pl_db_t db, const void *key,
                               size_t klen, const void *val, size_t vlen);
// PL_ENOTFOUND when absent.
PL_MUST_CHECK int pl_store_del(pl_txn_t *txn, pl_db_t db, const void *key,
                               size_t klen);
// Deletes every record of 'db' (write transactions only).
PL_MUST_CHECK int pl_store_clear(pl_txn_t *txn, pl_db_t db);
// Number of records in 'db'.
PL_MUST_CHECK int pl_store_count(pl_txn_t *txn, pl_db_t db, size_t *n);

// Callback of pl_store_each: return PL_STORE_NEXT, PL_STORE_STOP,
// PL_STORE_DELETE (delete this record, go on; write transactions only) or
// a negative PL_E* code (stops, returned by pl_store_each).
enum { PL_STORE_NEXT = 0, PL_STORE_STOP = 1, PL_STORE_DELETE = 2 };
typedef int (*pl_store_each_fn)(const uint8_t *key, size_t klen,
                                const uint8_t *val, size_t vlen, void *arg);
// Visits every record of 'db' in key order. Do not change 'db' from the
// callback other than by returning PL_STORE_DELETE.
PL_MUST_CHECK int pl_store_each(pl_txn_t *txn, pl_db_t db, pl_store_each_fn fn,
                                void *arg);

// ---- record encryption
// Seals 'pt' under 'key' for record ('db', 'rkey'): appends nonce || ct
// (ptlen + PL_SEAL_OVERHEAD bytes) to 'out'.
PL_MUST_CHECK int pl_store_seal(const uint8_t key[PL_DATAKEY_BYTES], pl_db_t db,
                                const void *rkey, size_t rklen, const void *pt,
                                size_t ptlen, pl_buf_t *out);
// Opens what pl_store_seal made for the same ('db', 'rkey'); appends the
// plaintext to 'out' (caller wipes it with pl_buf_wipe). PL_EAUTH if the
// value was altered, moved or sealed under another key.
PL_MUST_CHECK int pl_store_unseal(const uint8_t key[PL_DATAKEY_BYTES],
                                  pl_db_t db, const void *rkey, size_t rklen,
                                  const uint8_t *in, size_t inlen,
                                  pl_buf_t *out);
// Puts / gets a record sealed under the master key.
PL_MUST_CHECK int pl_store_put_secret(pl_txn_t *txn, pl_db_t db,
                                      const void *key, size_t klen,
                                      const void *pt, size_t ptlen);
PL_MUST_CHECK int pl_store_get_secret(pl_txn_t *txn, pl_db_t db,
                                      const void *key, size_t klen,
                                      pl_buf_t *out);

// ---- data keys (random, wrapped by the master key in "keys")
// Makes a fresh data key, stores it wrapped, returns its id and the key
// (caller wipes 'key' with sodium_memzero / pl_store_wipe after use).
PL_MUST_CHECK int pl_store_datakey_new(pl_txn_t *txn,
                                       uint8_t id[PL_DATAKEY_ID_BYTES],
                                       uint8_t key[PL_DATAKEY_BYTES]);
// Unwraps data key 'id'. PL_ENOTFOUND once destroyed.
PL_MUST_CHECK int pl_store_datakey_get(pl_txn_t *txn,
                                       const uint8_t id[PL_DATAKEY_ID_BYTES],
                                       uint8_t key[PL_DATAKEY_BYTES]);
// Destroys data key 'id': what it sealed can no longer be read.
PL_MUST_CHECK int
pl_store_datakey_destroy(pl_txn_t *txn, const uint8_t id[PL_DATAKEY_ID_BYTES]);
// Wipes 'len' bytes (sodium_memzero), for callers holding a data key.
void pl_store_wipe(void *p, size_t len);

// ---- CLI request ids: a state-changing command stores its reply under
// its request id, so a retry returns the stored reply without acting twice.
#define PL_REQUEST_ID_BYTES 16
#define PL_REQUEST_KEEP     (7 * 86400) // pruned after 7 days
// Gets the stored reply (JSON text, NUL terminated in 'reply').
// PL_ENOTFOUND when the request id is new.
PL_MUST_CHECK int pl_store_request_get(pl_txn_t *txn,
                                       const uint8_t id[PL_REQUEST_ID_BYTES],
                                       pl_buf_t *reply);
PL_MUST_CHECK int pl_store_request_put(pl_txn_t *txn,
                                       const uint8_t id[PL_REQUEST_ID_BYTES],
                                       uint64_t now, const char *reply,
                                       size_t len);
// Deletes replies stored before now - PL_REQUEST_KEEP; 'n' (may be NULL)
// gets how many.
PL_MUST_CHECK int pl_store_request_prune(pl_txn_t *txn, uint64_t now,
                                         size_t *n);

#endif
