// pl_node - the node daemon (passerelle-node): its link to the broker, the
// durable two-way delivery of envelopes, and the control socket of the CLI.
// Layer: nodes. Owns: <zmq.h> for the node (the DEALER to the broker and
// the REP control socket).
//
// One thread, one zmq_poll loop. Each pass of the loop drains every packet
// that is ready (up to a bound) and at most one control request, handles
// each in its own nested LMDB transaction under the pass's write
// transaction, commits once (one fsync), and only then sends what depends
// on that commit (taken, rejected, receipts, new envelopes, the control
// reply). A failed commit acknowledges nothing. Timers (heartbeat,
// liveness, resends, directory refresh, reader check, pruning) run between
// passes; nothing busy-waits.
//
// Broker protocol (DESIGN.md §3-4): hello -> welcome (the broker's time and
// our address; a welcome at any moment means "resynchronise": resend every
// pending outbox envelope and refresh the directory); heartbeats both ways;
// envelope -> accepted | rejected; delivery of an envelope to us -> taken
// (after our commit) | rejected (refused for good); expired; directory and
// status requests.
#ifndef PL_NODE_H
#define PL_NODE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_err.h"
#include "proto/pl_home.h" // PL_HOME_IPC_MAX: the one ipc length limit
#include "proto/pl_log.h"

// Idle pings (nodes/pl_link_state.h): a ping after this long without
// traffic one way; one unanswered for the wait means a dead link (the
// wait's default: 2 x the interval, at most PL_NODE_HB_WAIT_MS). The
// defaults keep an idle node under 150 KB a day (IP/TCP headers counted)
// and notice a dead link within 176 s (issue 20, docs/performance.md).
#define PL_NODE_HEARTBEAT_MS 160000 // default idle ping interval
#define PL_NODE_HB_WAIT_MS   15000  // default (and cap of the) ping wait

typedef struct pl_node pl_node_t;

// Options of a node daemon.
typedef struct {
    const char *home;       // --home DIR as given (resolved with realpath)
    const char *broker;     // --broker ENDPOINT, e.g. tcp://127.0.0.1:7700
    int heartbeat_ms;       // 0 = PL_NODE_HEARTBEAT_MS
    int hb_wait_ms;         // 0 = min(2 x heartbeat_ms, PL_NODE_HB_WAIT_MS)
    size_t map_bytes;       // store map size; 0 = 1 GiB
    const char *passphrase; // store passphrase (Argon2id) or NULL: key file
    size_t passphrase_len;  // its length
    pl_log_t *log;          // borrowed; must outlive the node
    int box_grace_days;     // days old box secrets are kept: 0 = default
                            // (14), -1 = none (deleted once uncertified)
    size_t map_max_bytes;   // map growth limit; 0 = max(map, 8 GiB)

    // staff sessions (issue 14, pl_session.h); 0: 15 min idle, 12 h in all
    uint64_t session_idle_s, session_max_s;
    int handover_keep_days; // days a handed-over case is kept after its
                            // acceptance: 0 = default (90), -1 = none
    int report_hours;       // aggregate reports every N hours (issue 15): 0 =
                            // default (24), -1 = never by itself
} pl_node_opts_t;

#define PL_NODE_BOX_GRACE_DAYS     14                 // default grace period
#define PL_NODE_HANDOVER_KEEP_DAYS 90                 // DESIGN.md §7.2
#define PL_NODE_MAP_MAX_DEFAULT    ((size_t) 8 << 30) // default growth limit

// Prepares a node: resolves the home, checks the control path length,
// takes DIR/daemon.lock (PL_EEXIST when another daemon holds it), refuses
// secret files readable by others (PL_EPERM), loads keys, certificates and
// the store, binds ipc://DIR/control and connects to the broker.
// On failure 'err' gets one clear line and nothing is left open.
PL_MUST_CHECK int pl_node_new(const pl_node_opts_t *opts, pl_node_t **out,
                              char *err, size_t err_size);
// Runs the loop until *stop becomes non-zero. 'wake_fd' (or -1) is the
// read end of a self-pipe a signal handler writes to; *reload non-zero asks
// for DIR/revoked to be read again (SIGHUP). Returns PL_OK on a clean stop,
// PL_EIO when the store failed for good (pl_store_failed: a failed sync,
// data or meta-page write, MDB_PANIC): nothing more was acknowledged, one
// "store_failed" line was logged, and the process should exit with
// PL_NODE_EXIT_STORE so that a supervisor restarts it on a clean
// environment (a restart loses nothing that was acknowledged).
#define PL_NODE_EXIT_STORE 74 // EX_IOERR of sysexits.h
PL_MUST_CHECK int pl_node_run(pl_node_t *self, int wake_fd,
                              volatile sig_atomic_t *stop,
                              volatile sig_atomic_t *reload);
// true once the store failed for good (see pl_node_run).
bool pl_node_store_failed(const pl_node_t *self);
// Closes sockets and the store, releases the lock. NULL-safe.
void pl_node_destroy(pl_node_t **self_p);

// The control endpoint of a resolved home, "ipc://DIR/control".
// PL_ETOOBIG when longer than PL_HOME_IPC_MAX bytes (proto/pl_home.h).
PL_MUST_CHECK int pl_node_control_endpoint(const char *home, char *out,
                                           size_t size);

#endif
