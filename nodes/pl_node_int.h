// pl_node_int - the node daemon's state and its services, shared by the
// files of the daemon: the loop (pl_node.c), the services (pl_outbox.c,
// pl_directory.c), the dispatch (pl_node_ctl.c, pl_inbound.c) and the
// handlers (pl_node_info.c, pl_node_ops.c, pl_node_test.c, pl_node_case.c).
// Layer: services (scripts/check-layers.sh). Not a public header: nothing
// outside nodes/ includes it.
#ifndef PL_NODE_INT_H
#define PL_NODE_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "nodes/pl_audit.h"
#include "nodes/pl_ctl_cmd.h"
#include "nodes/pl_ctl_reply.h"
#include "nodes/pl_msg_kind.h"
#include "nodes/pl_node.h"
#include "nodes/pl_outbox_state.h"
#include "nodes/pl_session.h"
#include "nodes/pl_store.h"
#include "proto/pl_cert.h"
#include "proto/pl_envelope.h"
#include "proto/pl_keys.h"
#include "proto/pl_util.h"
#include "proto/pl_wire.h"

// Stored record layouts (pl_outbox.c, pl_inbound.c)
#define S_OUTREC_FIXED 144 // bytes before 'to' in an outbox record
#define S_INREC_FIXED  128 // bytes before the header in an inbox record
#define S_SEEN_BYTES   64  // a seen record
#define S_REC_VERSION  1

// Native byte order (the store never leaves the host) / hex of an id.
static inline void
pl_node_put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static inline uint64_t
pl_node_get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static inline bool
pl_node_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}
static inline void
pl_node_hexid(char out[2 * PL_MSG_ID_BYTES + 1], const uint8_t *id)
{
    pl_hex(out, id, PL_MSG_ID_BYTES);
}

// Drops a must-check result on purpose (a cast to void does not, in gcc).
#define PL_IGNORE(expr)                                                        \
    do {                                                                       \
        if (expr) {                                                            \
        }                                                                      \
    } while (0)

#define S_PASS_MAX          256          // packets handled per loop pass
#define S_CLOCK_SKEW_MAX    300          // seconds of skew tolerated
#define S_RESEND_FIRST_MS   10000        // first resend after this
#define S_RESEND_MAX_MS     120000       // resend backoff ceiling
#define S_RETRY_FULL_MS     5000         // broker store full: retry after
#define S_RETRY_FULL_MAX_MS 30000        // ... backoff ceiling while full
#define S_RESEND_BATCH      64           // resends per loop pass at most
#define S_LOG_GAP_MS        10000        // a repeated condition: one line per
#define S_HELLO_MAX_MS      10000        // hello backoff ceiling
#define S_RELINK_MIN_MS     10000        // offline: re-create the link after
#define S_DIR_REFRESH_MS    86400000     // 1 day: safety net (reload pushes)
#define S_DIR_MIN_GAP_MS    3000         // at most one request this often
#define S_READER_CHECK_MS   60000        // mdb_reader_check period
#define S_PRUNE_MS          (10 * 60000) // pruning period
#define S_USAGE_MS          2000         // map use recomputed this often
#define S_NETWORK_WAIT_MS   5000         // status request deadline
#define S_PARK_MAX          256          // envelopes from unknown senders
#define S_PARK_MS           60000        // dropped from the park after
#define S_SEEN_GRACE        86400        // seen ids kept past expires_at
#define S_OUTBOX_KEEP       (30 * 86400) // final outbox records kept
#define S_SEND_COUNT_MAX    10000        // test.send count limit
#define S_OVERDUE_MS        10000        // overdue sweep period
#define S_DIR_GATE_MS       10000        // longest wait for a fresh list

// A decoded outbox record. 'packet' is borrowed from LMDB (or NULL).
typedef struct {
    uint8_t state;                     // S_OUT_*
    uint8_t kind;                      // S_KIND_*
    uint8_t reason;                    // reject reason when rejected
    uint64_t created_at;               // when sealed
    uint64_t updated_at;               // last state change
    uint64_t expires_at;               // envelope expiry
    uint32_t attempts;                 // sends so far (informative)
    uint8_t digest[PL_DIGEST_BYTES];   // pl_envelope_digest of the envelope
    uint64_t receipt_at;               // the recipient's received_at
    uint8_t receipt_sig[PL_SIG_BYTES]; // the recipient's receipt signature
    char to[PL_ADDRESS_MAX + 1];       // recipient address
    const uint8_t *packet;             // encoded Packet, until receipted
    size_t packet_len;                 // its length
} pl_outrec_t;

// One entry of the in-memory resend schedule (outbox ids not yet
// accepted): one per id. Ids that leave "pending" are dropped once their
// pass commits, or when they come due.
typedef struct {
    uint8_t id[PL_MSG_ID_BYTES]; // outbox id
    uint64_t due_ms;             // monotonic time of the next send
    uint32_t backoff_ms;         // current backoff
    bool dead;                   // settled: dropped by the next compaction
} pl_resend_t;

// An envelope from a sender not (yet) in the directory, held in memory
// until the next directory response (the broker redelivers anyway).
typedef struct {
    uint8_t id[PL_MSG_ID_BYTES]; // envelope id
    pl_buf_t packet;             // the encoded packet as received
    uint64_t since_ms;           // when parked
    uint64_t dir_gen;            // directory generation when parked
} pl_parked_t;

// Per-process counters, for stats and logs.
typedef struct {
    uint64_t in_envelopes;    // envelopes received from the broker
    uint64_t in_stored;       // new messages committed to the inbox
    uint64_t in_duplicates;   // duplicates answered with the stored receipt
    uint64_t in_refused;      // envelopes refused for good
    uint64_t in_deferred;     // not answered (retry later)
    uint64_t receipts_ok;     // receipts verified
    uint64_t sent;            // envelope sends (incl. resends)
    uint64_t resent;          // resends
    uint64_t commits;         // pass commits
    uint64_t commit_failures; // failed pass commits
} pl_node_counters_t;

struct pl_node {
    pl_log_t *log;                    // borrowed
    char home[PATH_MAX];              // resolved home
    char broker_ep[256];              // broker endpoint
    char ctl_ep[PL_HOME_IPC_MAX + 1]; // ipc://DIR/control
    char ctl_path[PATH_MAX + 16];     // DIR/control
    int lock_fd;                      // DIR/daemon.lock, flock'd
    int heartbeat_ms;                 // idle ping interval
    int hb_wait_ms;                   // an unanswered ping: dead link

    pl_keys_t *keys;                        // this node's keys
    pl_cert_t me;                           // this node's certificate
    uint8_t authority_pk[PL_SIGN_PK_BYTES]; // network authority
    pl_cert_t broker;                       // home broker's certificate
    pl_store_t *store;                      // DIR/store
    pl_revlist_t revoked;                   // newest revocation list
    bool revoked_told; // node_revoked logged (our own serial is listed)

    pl_cert_t *dir;          // directory cache, sorted by address
    pl_cert_memo_t dir_memo; // certificates whose signature verified
    size_t ndir;             // entries
    // addresses of our network whose certificate a directory response
    // dropped as revoked (the broker lists no revoked certificate): an
    // envelope from one is refused as revoked, not as not enrolled
    char (*gone)[PL_ADDRESS_MAX + 1];
    size_t ngone;
    uint64_t dir_gen;           // directory responses handled
    uint64_t dir_next_ms;       // next periodic refresh
    uint64_t dir_asked_ms;      // last request sent
    bool dir_digest_set;        // dir_digest is the digest of the
    uint8_t dir_digest[32];     // directory last taken (DIRSET's at start)
    bool dir_taken;             // self->dir is from a directory taken since
                                // the start (not only DIRECTORY's records)
    pl_buf_t *dirpg;            // pages of a directory being received
    size_t dirpg_got, dirpg_of; // kept, expected
    uint8_t dirpg_digest[32];   // their directory's digest
    pl_buf_t cat;         // this node's signed service catalogue (issue 18)
    uint64_t cat_version; // its version

    void *zctx;              // ZeroMQ context
    void *dealer;            // to the broker (CURVE client)
    void *ctl;               // REP, ipc://DIR/control
    uint64_t link_since_ms;  // when the DEALER was (re)created
    uint64_t relinks;        // DEALERs re-created after a silent link
    uint64_t full_logged_ms; // last "store_full" line (own store)
    uint64_t full_n;         // full commits/refusals since that line

    bool session;               // a welcome was seen and the broker is alive
    bool welcomed;              // at least one welcome since start
    bool undialled;             // own certificate revoked: link closed
    uint64_t last_rx_ms;        // last packet from the broker
    uint64_t last_tx_ms;        // last packet sent (pl_node_send_now)
    uint64_t ping_ms;           // last idle ping (0: none this session)
    uint64_t hello_next_ms;     // next hello while offline
    uint32_t hello_backoff_ms;  // current hello backoff
    int64_t skew;               // broker time - our time, seconds
    bool skewed;                // |skew| > S_CLOCK_SKEW_MAX: no sealing
    pl_log_budget_t refuse_log; // envelope_refused lines (pl_inbound.c)
    pl_log_budget_t defer_log;  // envelope_deferred lines
    uint64_t skew_logged_ms;    // last clock_skew error line
    bool resync;                // resend all pending after this pass
    uint64_t dir_gate_ms;       // until then (monotonic; 0: open) envelopes
                                // wait for the session's directory response

    pl_resend_t *rs;            // resend schedule (pl_outbox.c)
    size_t nrs, caprs;          // used, allocated
    size_t rs_sorted;           // rs[0..rs_sorted) is sorted by id
    uint64_t rs_next_ms;        // next resend scan
    pl_buf_t settled;           // ids that left "pending" in this pass
    uint64_t refused_n;         // "retry later" answers since the last line
    uint64_t refused_logged_ms; // when that line was written

    pl_buf_t *after;         // packets to send after the pass commits
    size_t nafter, capafter; // used, allocated

    pl_parked_t park[S_PARK_MAX]; // envelopes from unknown senders
    size_t npark;                 // used
    bool park_replay;             // replay the park in the next pass

    char *ctl_reply;          // reply to send after this pass (malloc'd)
    bool ctl_parked;          // a request waits for a status response
    uint64_t ctl_deadline_ms; // when the parked request gives up

    unsigned usage_pct;      // store map use
    uint64_t usage_next_ms;  // next recomputation
    uint64_t reader_next_ms; // next reader check
    uint64_t prune_next_ms;  // next pruning
    uint64_t started_ms;     // monotonic start time
    pl_node_counters_t n;    // counters

    // ---- pl_node_ops.c (issue 6): keys, backups, map growth
    char *ctl_deferred;      // a request run between passes (malloc'd)
    uint32_t box_grace_days; // old box secrets kept this long
    size_t map_max_bytes;    // the map grows up to this
    uint64_t ops_next_ms;    // next hourly sweep (old box keys)
    uint64_t ops_failures;   // commit_failures seen by the last check
    bool map_at_max_logged;  // "at its maximum" said once

    uint64_t overdue_next_ms; // next overdue sweep (issue 8; 0: at start)
    const char *ctl_rid;      // request id of the deferred request being run

    // ---- staff sessions (issue 14, pl_staff.c)
    pl_sessions_t *sessions;     // the session table (pl_session.h)
    const char *ctl_session;     // "session" of the request being run, or NULL
    uint32_t handover_keep_days; // --handover-keep-days (issue 13)
    unsigned report_hours;       // --report-hours (issue 15; 0: never)
    uint64_t report_next_ms;     // next check of the report timer
};

// The context of the handlers (pl_node_ctx.h), filled from 'self'
// (pl_node_case.c, with the services the handler rooms call back into).
pl_node_ctx_t pl_node_ctx(pl_node_t *self);

// Command rows exported by the handler files (a NULL name ends each).
extern const pl_ctl_cmd_t pl_node_info_cmds[]; // pl_node_info.c
extern const pl_ctl_cmd_t pl_node_ops_cmds[];  // pl_node_ops.c
extern const pl_ctl_cmd_t pl_node_test_cmds[]; // pl_node_test.c (test builds)

// ---- pl_link.c: sending, and the after-commit queue
// Sends one packet to the broker now (ZMQ_DONTWAIT). PL_EFULL on EAGAIN
// (not connected or queue full), PL_EIO otherwise.
PL_MUST_CHECK int pl_node_send_now(pl_node_t *self, const uint8_t *data,
                                   size_t len);
// Queues a copy of a packet to be sent once the current pass commits.
PL_MUST_CHECK int pl_node_send_after(pl_node_t *self, const uint8_t *data,
                                     size_t len);
// Number of queued after-commit sends: a nested transaction notes it
// before it starts and truncates back to it when it aborts.
size_t pl_node_after_mark(const pl_node_t *self);
void pl_node_after_truncate(pl_node_t *self, size_t mark);
// Sends the queued packets ('send': the pass committed) or drops them.
void pl_node_after_flush(pl_node_t *self, bool send);
// Encodes and sends a control packet now (a failure is not reported: the
// link-level packets are repeated by their timers).
void pl_node_send_packet(pl_node_t *self, const pl_packet_t *pkt);

// ---- pl_node_catalog.c: this node's service catalogue and the peers'
// through the broker's directory (issue 18)
// Keeps a copy of the signed catalogue and sends it to the broker now.
void pl_node_cat_publish(pl_node_t *self, const uint8_t *blob, size_t len,
                         uint64_t version);
// Sends the copy (when there is one): at every session up.
void pl_node_cat_send(pl_node_t *self);
// Loads the copy from the store at start.
void pl_node_cat_load(pl_node_t *self);
// Takes the peers' catalogues of a directory response, each checked
// against its node's certificate; a refused one is logged and skipped.
PL_MUST_CHECK int pl_node_cat_take(pl_node_t *self, pl_txn_t *txn,
                                   const Passerelle__V1__DirectoryResponse *r);
// ---- pl_inbound.c: the inbound dispatch
// Handles one decoded packet from the broker ('data' its raw bytes) inside
// the pass transaction 'pass' (each in a nested transaction of its own).
// 'replayed' marks a parked envelope handled again after a directory
// refresh. Returns what the packet's nested transaction ended with:
// PL_OK (also for every refusal), PL_EFULL when the map had no room for
// it (nothing of it stays in the pass, nothing of it is sent), or another
// store error.
int pl_node_on_packet(pl_node_t *self, pl_txn_t *pass, const pl_packet_t *pkt,
                      const uint8_t *data, size_t len, bool replayed);
// When the revocation list we hold lists this node's own certificate (the
// broker refuses it at the door from then on, so no answer will ever
// come): logs node_revoked once per process, audits it once per
// certificate (the store remembers), and refuses every pending outbox
// entry in 'txn' as the broker's refusal would (rejected, reason revoked;
// a referral shows refused-by-broker). A second call changes nothing.
// PL_OK when the node is not revoked; else a store error or PL_OK.
PL_MUST_CHECK int pl_node_self_revoked(pl_node_t *self, pl_txn_t *txn);
// ---- pl_outbox.c: the outbox
// Map use is at or above PL_STORE_FULL_PCT.
bool pl_node_store_full(const pl_node_t *self);
// The store has no room for 'what' ("commit", "envelope"): one
// "store_full" line per S_LOG_GAP_MS at most, with the count in between.
void pl_node_full_log(pl_node_t *self, const char *what);
// Seals 'msg' (an encoded Message of 'kind') to 'to' and commits it to the
// outbox in 'txn'; the send happens after the pass commits. 'id' gets the
// message id. Errors: PL_ENOTFOUND (unknown recipient), PL_EREVOKED,
// PL_EEXPIRED, PL_ESTATE (clock skew), PL_EFULL (store full).
PL_MUST_CHECK int pl_node_outbox_add(pl_node_t *self, pl_txn_t *txn,
                                     const char *to, int kind,
                                     const uint8_t *msg, size_t msg_len,
                                     uint64_t ttl, uint8_t id[PL_MSG_ID_BYTES]);
// Resends every pending outbox entry (after a welcome) and rebuilds the
// resend schedule. No transaction may be open.
void pl_node_resync(pl_node_t *self);
// Resends what is due, S_RESEND_BATCH at most; true when more is due (the
// caller comes back after reading its sockets). No transaction may be open.
bool pl_node_resend_due(pl_node_t *self);
// Schedules an id for a resend after 'delay_ms' (its backoff starts there).
// One entry per id: an id already scheduled has its entry replaced.
void pl_node_resend_add(pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES],
                        uint32_t delay_ms);
// Ids that left "pending" in this pass leave the schedule when the pass
// committed ('committed'), else they stay.
void pl_node_resend_settle(pl_node_t *self, bool committed);
// Entries in the resend schedule (at most one per pending outbox id).
size_t pl_node_resend_count(const pl_node_t *self);
// Seals 'msg' to 'cert' (already checked) and writes it to the outbox in
// 'txn', queued to be sent after the pass commits; test and receipt
// envelopes are audited here.
PL_MUST_CHECK int pl_node_outbox_seal(pl_node_t *self, pl_txn_t *txn,
                                      const pl_cert_t *cert, int kind,
                                      const uint8_t *msg, size_t msg_len,
                                      uint64_t ttl,
                                      uint8_t id[PL_MSG_ID_BYTES]);
// A broker answer (packet kind accepted, expired or rejected with
// 'reason' and 'detail') for outbox entry 'id', in 'txn': the entry moves
// as pl_outbox_state.h says; "retry later" moves its resend. An expired
// one is audited (a referral's by its room, see pl_inbound.c).
PL_MUST_CHECK int pl_node_outbox_answer(pl_node_t *self, pl_txn_t *txn,
                                        const uint8_t *id, int kind, int reason,
                                        const char *detail);
// The broker's `expired` with a refusal code: the recipient's node refused
// 'id' for good ('reason'): the entry becomes rejected with that code and
// is audited (a referral's by its room, see pl_inbound.c).
PL_MUST_CHECK int pl_node_outbox_refused(pl_node_t *self, pl_txn_t *txn,
                                         const uint8_t *id, int reason);
// Writes outbox record 'rec' under 'id'.
PL_MUST_CHECK int pl_node_outrec_put(pl_txn_t *txn,
                                     const uint8_t id[PL_MSG_ID_BYTES],
                                     const pl_outrec_t *rec);
// An id left "pending" in this pass (see pl_node_resend_settle).
void pl_node_resend_settled(pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES]);
// Audits an envelope sent or received ('event': "sent", "received",
// "receipted") in 'txn'.
PL_MUST_CHECK int pl_node_audit_env(pl_node_t *self, pl_txn_t *txn,
                                    pl_audit_dir_t dir, const char *peer,
                                    const uint8_t id[PL_MSG_ID_BYTES], int kind,
                                    const uint8_t digest[PL_DIGEST_BYTES],
                                    const char *event);

// ---- pl_directory.c: directory, revocation, park
// Sends a directory request (rate limited unless 'force').
void pl_node_ask_directory(pl_node_t *self, bool force);
// Loads the directory cache from the store. No transaction may be open.
PL_MUST_CHECK int pl_node_dir_load(pl_node_t *self);
// The valid certificate of 'address' (borrowed from the cache) or NULL;
// 'why' (may be NULL) gets PL_ENOTFOUND, PL_EREVOKED or PL_EEXPIRED.
const pl_cert_t *pl_node_dir_find(pl_node_t *self, const char *address,
                                  int *why);
// Whether our directory holds a node certificate (not a broker's) of the
// network of 'address' ("gn" of "gn/agency"); always true for our own.
bool pl_node_dir_has_network(const pl_node_t *self, const char *address);
// Prunes seen ids, old outbox records and request replies (own commit).
void pl_node_prune(pl_node_t *self);
// Reads DIR/revoked (SIGHUP, start): a newer verified list is taken and
// stored in 'txn'. An error only when the store fails.
PL_MUST_CHECK int pl_node_reload_revoked(pl_node_t *self, pl_txn_t *txn);
// Drops parked envelopes older than S_PARK_MS.
void pl_node_park_expire(pl_node_t *self);
// Parks an envelope from a sender not in the directory (a copy of 'data').
void pl_node_park_add(pl_node_t *self, const uint8_t id[PL_MSG_ID_BYTES],
                      const uint8_t *data, size_t len);
// A directory response, in 'txn': the cache, the store copy and the
// revocation list are replaced.
PL_MUST_CHECK int
pl_node_dir_on_response(pl_node_t *self, pl_txn_t *txn,
                        const Passerelle__V1__DirectoryResponse *resp);
// A DirectoryResponse packet ('data', 'len': its bytes), in 'txn':
// "unchanged" keeps ours; a page is kept until the last, then all are
// taken as one response (pl_node_dir_on_response); one response is taken
// at once (pl_dir_pages.c).
PL_MUST_CHECK int
pl_node_dir_on_packet(pl_node_t *self, pl_txn_t *txn,
                      const Passerelle__V1__DirectoryResponse *r,
                      const uint8_t *data, size_t len);
// Frees the pages kept of a directory being received.
void pl_node_dir_pages_free(pl_node_t *self);
// DIRSET (pl_dir_delta.c): the broker's directory as last taken. At the
// start: its digest, for the first request. Keep: r (just taken) becomes
// DIRSET and its digest ours. Take: after a restart, DIRSET taken as the
// directory (nothing when one was taken since). On delta: r applied to
// DIRSET, checked against r's digest, taken; refused (logged, the whole
// asked for) when it does not fit.
void pl_node_dirset_open(pl_node_t *self);
PL_MUST_CHECK int
pl_node_dirset_keep(pl_node_t *self, pl_txn_t *txn,
                    const Passerelle__V1__DirectoryResponse *r);
PL_MUST_CHECK int pl_node_dirset_take(pl_node_t *self, pl_txn_t *txn);
PL_MUST_CHECK int
pl_node_dir_on_delta(pl_node_t *self, pl_txn_t *txn,
                     const Passerelle__V1__DirectoryResponse *r);

// Outbox record codec.
PL_MUST_CHECK int pl_outrec_decode(const uint8_t *v, size_t len,
                                   pl_outrec_t *out);
PL_MUST_CHECK int pl_outrec_encode(const pl_outrec_t *rec, pl_buf_t *out);
// Inbox record: decoded view.
typedef struct {
    uint8_t kind;                      // S_KIND_*
    uint64_t received_at;              // when committed
    const uint8_t *header;             // header bytes (borrowed)
    size_t header_len;                 // their length
    uint8_t dkid[PL_DATAKEY_ID_BYTES]; // data key of the content
    const uint8_t *sealed;             // sealed content (borrowed)
    size_t sealed_len;                 // its length
} pl_inrec_t;
PL_MUST_CHECK int pl_inrec_decode(const uint8_t *v, size_t len,
                                  pl_inrec_t *out);

// ---- pl_node_ops.c: maintenance (issue 6)
// Its control rows (pl_node_ops_cmds) are PL_CTL_DEFERRED: run between
// passes, with no transaction open: "backup" (mdb_env_copy2 takes a read
// transaction of its own), "rotate-box-key" (writes key files, then audits
// in a transaction of its own) and "audit.export", "audit.verify" (naming
// the first bad entry, see pl_audit_tools.h).
// At start and from the timers (no transaction open): deletes old box
// secrets past their grace period, grows the map when it nears full.
void pl_node_ops_start(pl_node_t *self);
void pl_node_ops_timers(pl_node_t *self);
// Grows the map now if it nears full and may still grow (no transaction
// open): true when it grew. A pass that found the map full is run again
// whole after a growth, and split only when the map is at its maximum.
bool pl_node_map_grow(pl_node_t *self);

// ---- pl_node_ctl.c: control requests
// Handles one control request (JSON text) inside 'pass'. Sets
// self->ctl_reply, or parks the request (self->ctl_parked).
void pl_node_ctl_request(pl_node_t *self, pl_txn_t *pass, const char *text,
                         size_t len);
// Runs self->ctl_deferred (if any) and sets self->ctl_reply. No
// transaction may be open.
void pl_node_ctl_run_deferred(pl_node_t *self);
// ---- pl_node_info.c
// A status response arrived (or NULL: the deadline passed): answers the
// parked request.
void pl_node_ctl_status(pl_node_t *self,
                        const Passerelle__V1__StatusResponse *resp);
#endif
