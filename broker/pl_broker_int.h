// pl_broker_int - the broker's state, shared by its files: pl_broker.c (the
// loop, sessions, routing, delivery, expiry, store failure), pl_zap.c (the
// ZAP handler), pl_broker_ctl.c (the operator surface: control socket,
// figures, status, directory, reload) and pl_broker_life.c (new, destroy).
// Layer: broker. Not a public header: nothing outside broker/pl_broker*.c
// and broker/pl_zap.c includes it.
#ifndef PL_BROKER_INT_H
#define PL_BROKER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "broker/pl_broker.h"
#include "broker/pl_door.h"
#include "broker/pl_index.h"
#include "broker/pl_registry.h"
#include "broker/pl_spool.h"
#include "proto/pl_cert.h"
#include "proto/pl_envelope.h"
#include "proto/pl_keys.h"
#include "proto/pl_wire.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 // draft option in libzmq 4.3.x headers
#endif

#define S_ZAP_DOMAIN  "passerelle"
#define S_PASS_MAX    256   // packets handled per loop pass
#define S_RID_MAX     64    // routing id bytes
#define S_LAT_SAMPLES 512   // latency samples kept per node
#define S_SWEEP_MS    5000  // expiry sweep period
#define S_CONTROL_MAX 65536 // bytes of one control request (ZMQ_MAXMSGSIZE)
#define S_NOTICES_MAX 32    // expired notices told per pass

typedef struct pl_fed pl_fed_t; // federation (broker/pl_fed.h)
typedef struct pl_dir pl_dir_t; // the directory, kept (pl_broker_dir.c)

// A connected node (one CurveZMQ connection that said something).
typedef struct {
    uint8_t rid[S_RID_MAX];           // ROUTER routing id
    size_t rid_len;                   // bytes of rid
    char address[PL_ADDRESS_MAX + 1]; // authenticated address
    uint64_t connected_since;         // Unix seconds
    uint64_t last_seen_ms;            // wall ms of the last packet
    uint64_t next_seq;                // deliver queue items with seq > this
    uint64_t oldest_inflight_ms;      // monotonic ms of the oldest delivery
    unsigned inflight;                // deliveries awaiting taken
    uint64_t early_next_seq;          // next_seq before the pass's early
    unsigned early_inflight;          // delivery, and inflight: put back
                                      // if the pass does not commit
    uint64_t marked_pass;             // pass_no when last put on 'marked'
    uint64_t welcome_pass;            // pass_no of its last welcome: no
                                      // early delivery, notices next pass
    bool blocked;                     // EAGAIN this pass: stop delivering
    bool due;          // its queue may hold what it has not been sent: scan it
    bool gone;         // EHOSTUNREACH: drop the session
    bool acks_notices; // its hello said so: notices kept until its taken
    bool tell;         // new connection: tell its notices (after welcome)
    bool dir_pages;    // its hello said it takes a directory in pages
    bool dir_deltas;   // its request said it takes a change as a delta
    bool dir_too_big_told; // logged: a paged directory it cannot take
    bool dir_sent_set;     // dir_sent holds what it was last sent
    uint8_t dir_sent[32];  // digest of the directory it was last sent
} pl_session_t;

// How many lines of one kind a source may write in a window: a node that
// sends a storm of bad packets must not fill the broker's disk with WARN
// lines (each refusal is still counted and answered).
#define S_REJECT_LOG_LINES  20    // "rejected" lines per source and window
#define S_REJECT_LOG_WINDOW 60000 // ms

// Transport figures per address (kept in memory since start).
typedef struct {
    char address[PL_ADDRESS_MAX + 1];                       // node address
    uint64_t last_seen;                                     // Unix seconds
    uint64_t accepted, delivered, taken, expired, rejected; // counters
    uint32_t lat[S_LAT_SAMPLES]; // accepted -> taken, ms (ring)
    size_t nlat;                 // samples written
    uint64_t quota_log_ms;       // monotonic ms of the last quota line
    uint64_t quota_quiet;        // quota refusals not logged since
    pl_log_budget_t reject_log;  // its "rejected" lines
    bool lost;                   // its session ended for silence
} pl_stats_t;

// A taken (or a recipient's refusal) of this pass, redone on its own when
// the pass could not commit for want of space: takens free space, so
// they must get through even when new envelopes cannot.
typedef struct {
    uint8_t id[PL_MSG_ID_BYTES]; // envelope id
    char by[PL_ADDRESS_MAX + 1]; // the recipient that took it
    pl_spool_state_t state;      // TAKEN or REFUSED
    int reason;                  // REFUSED: the recipient's reason code
} pl_take_t;

// A reply waiting for the pass's commit.
typedef struct {
    uint8_t rid[S_RID_MAX];      // to whom
    size_t rid_len;              // bytes of rid
    pl_buf_t packet;             // encoded Packet
    bool durable;                // sent only if the commit succeeded
    bool accepted;               // an `accepted` for id: store-full if the
                                 // commit found the map or the disk full
    uint8_t id[PL_MSG_ID_BYTES]; // the envelope id of an `accepted`
} pl_reply_t;

struct pl_broker {
    pl_broker_config_t cfg;           // copy; strings borrowed
    char home[4096];                  // broker home
    char address[PL_ADDRESS_MAX + 1]; // own address
    pl_cert_t own;                    // own certificate (listed by `nodes`)
    void *ctx;                        // ZeroMQ context
    void *zap;                        // ZAP handler (REP)
    void *router;                     // the door (ROUTER, CURVE server)
    void *control;                    // operator socket (REP, ipc)
    pl_registry_t *reg;               // enrolment registry
    pl_door_t *door;                  // descriptor budget of the door
    pl_spool_t *spool;                // durable queues
    pl_keys_t *keys;                  // own keys
    pl_session_t *sessions;           // connected nodes
    size_t nsessions, capsessions;    // used / allocated
    pl_index_t session_by_rid;        // sessions by routing id
    pl_index_t session_by_address;    // sessions by address
    pl_stats_t *stats;                // per address
    size_t nstats, capstats;          // used / allocated
    pl_index_t stats_by_address;      // stats by address
    pl_reply_t *replies;              // pending replies of this pass
    size_t nreplies, capreplies;      // used / allocated
    pl_take_t *takes;                 // takens of this pass
    size_t ntakes, captakes;          // used / allocated
    size_t *marked;                   // sessions made due in this pass
    size_t nmarked, capmarked;        // (indexes) / allocated
    bool marked_stale;                // not used in this pass (a session
                                      // moved, or the pass is doomed)
    uint64_t pass_no;                 // passes begun
    uint64_t started;                 // Unix seconds
    uint64_t last_sweep_ms;           // monotonic
    bool notices_due;                 // a refusal this pass: tell now
    bool notices_tell;                // a session's tell flag is set (the
                                      // loop runs a pass for it at once)
    uint64_t routed_minute[60];       // envelopes accepted per second slot
    uint64_t routed_slot;             // second of the last slot written
    uint64_t full_log_ms;             // monotonic ms of the last store_full
    uint64_t full_quiet;              // store-full refusals not logged since
    pl_log_budget_t reject_log;       // "rejected" lines of unknown senders
    bool store_failed;                // the store failed for good
    bool reload_failed;               // the last reload kept the registry
    pl_fed_t *fed;                    // federation (issue 13)
    struct pl_catalogs *cats;         // service catalogues (issue 18)
    pl_dir_t *dir;                    // the directory as last built
    size_t dir_npages_told;           // its pages, as last logged
    bool dir_hist_loaded;             // STORE/dirhist read (first build)
    size_t dir_cats_left_told;        // catalogues left out, as logged
    pl_log_t *log;                    // borrowed
};

// ------------------------------------------------------------ shared
// Defined in pl_broker.c.

// The transport figures of 'address', added (zeroed) when new; NULL when
// out of memory.
pl_stats_t *pl_broker_stats(pl_broker_t *self, const char *address);

// The connected session of 'address', or NULL.
pl_session_t *pl_broker_session_by_address(pl_broker_t *self,
                                           const char *address);

// The session of 'address' (if connected) has new envelopes queued: the
// next delivery round scans its queue. Rounds scan only such sessions
// (issue 20: thousands connected), and all of them at each sweep.
void pl_broker_due(pl_broker_t *self, const char *address);

// Logs node_offline for 's' with reason 'why' and removes it (the last
// session takes its slot: 's' is invalid after).
void pl_broker_session_drop(pl_broker_t *self, pl_session_t *s,
                            const char *why);

// Queues the encoded packet 'pkt' (taken: *pkt is zeroed) as a reply to
// rid; a 'durable' one goes out only after the pass commits.
void pl_broker_reply(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
                     pl_buf_t *pkt, bool durable);

// Sends one frame pair on the door now; returns 0, or errno (EAGAIN,
// EHOSTUNREACH).
int pl_broker_send(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
                   const uint8_t *data, size_t len);

// Defined in pl_zap.c.

// Answers one ZAP request waiting on self->zap.
void pl_broker_zap_handle(pl_broker_t *self);

// Defined in pl_broker_ctl.c.

// Queues (not durable) a StatusResponse with every node's figures for rid.
void pl_broker_status(pl_broker_t *self, const uint8_t *rid, size_t rid_len);

// Answers one message of the control socket; false when none was waiting.
bool pl_broker_control(pl_broker_t *self);

// Defined in pl_broker_dir.c.

// Sends s the directory now (not queued: it waits for no commit): the
// newest valid certificate of each address, of req's sector only when
// given, the revocation list, anchors, foreign directories, catalogues;
// in pages when larger than a packet (to a node whose hello takes them);
// only "unchanged" when req's digest is the current one. req may be NULL.
void pl_broker_directory(pl_broker_t *self, pl_session_t *s,
                         const Passerelle__V1__DirectoryRequest *req);

// Something in the directory changed: built again, and sent now to every
// connected node that was not last sent this very one.
void pl_broker_push_directory(pl_broker_t *self);

// Frees the kept directory.
void pl_broker_dir_destroy(pl_broker_t *self);

// Reloads certs/ and the revocation list, drops the sessions no longer
// valid and pushes the directory to every connected node; on a failed read
// sets self->reload_failed and keeps the registry.
void pl_broker_reload(pl_broker_t *self);

// zmq_setsockopt of one int option; 0 or -1 (errno).
static inline int
pl_broker_setopt_int(void *sock, int opt, int value)
{
    return zmq_setsockopt(sock, opt, &value, sizeof value);
}

#endif
