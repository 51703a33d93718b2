// pl_broker - the broker: CurveZMQ door, enrolment checks on every packet,
// durable store-and-forward routing, presence and status. Layer: broker.
// Owns: the broker's ZeroMQ sockets.
//
// One thread, one zmq_poll loop: the ZAP handler socket, the ROUTER facing
// the nodes and the operator's control socket (ipc://HOME/control). Each
// loop pass drains every ready packet (up to a bound) inside one LMDB write
// transaction, each packet in its own nested transaction, commits once (one
// fsync) and only then sends the replies of that pass.
#ifndef PL_BROKER_H
#define PL_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_log.h"

typedef struct pl_broker pl_broker_t;

// A silent node's session ends after this by default: 2.5 idle ping
// intervals of a node's defaults (PL_NODE_HEARTBEAT_MS, 160 s), so one
// lost ping does not end it (issue 20).
#define PL_BROKER_SESSION_MS 400000

typedef struct {
    const char *home;       // broker home folder (resolved path)
    const char *listen;     // endpoint, e.g. tcp://127.0.0.1:7700
    size_t map_bytes;       // LMDB map size (default 1 GiB)
    size_t sender_quota;    // bytes queued from one sender (0: map / 4)
    size_t recipient_quota; // bytes queued for one recipient (0: map / 4)
    unsigned window;        // unconfirmed deliveries per node (default 256)
    unsigned redeliver_ms;  // redeliver unconfirmed after (default 30 s)
    unsigned session_ms;    // node lost after silence (PL_BROKER_SESSION_MS)
    bool verify_outer;      // also verify outer signatures (~38 µs each)
    const char *federation_listen; // federation port, or NULL (issue 13)
    unsigned fed_window;           // unconfirmed over a link (default 256)
    uint64_t fed_dir_max_age;      // seconds (default 86400)
#ifdef PL_TEST_BUILD
    bool no_zap; // test builds only (--test-no-zap): no ZAP handler
#endif
    pl_log_t *log; // borrowed
} pl_broker_config_t;

// Opens the store, loads the registry, starts the ZAP handler and binds
// (in that order: no handler means no entry). NULL on failure, reason
// logged.
pl_broker_t *pl_broker_new(const pl_broker_config_t *config);
// Runs the loop until SIGTERM or SIGINT arrives on 'signal_fd' (a
// non-blocking signalfd(2) of SIGTERM, SIGINT and SIGHUP, those signals
// blocked in every thread; SIGHUP reloads the registry) or an unrecoverable
// error; signal_fd -1: no signals. Returns PL_OK or a PL_E* code; PL_EIO with
// pl_broker_store_failed() true when the store failed for good (one
// `store_failed` line logged, nothing of that pass acknowledged): the
// process should exit 74 (EX_IOERR) and be restarted.
int pl_broker_run(pl_broker_t *self, int signal_fd);
// True once the store failed for good (see pl_broker_run).
bool pl_broker_store_failed(const pl_broker_t *self);
// Commits and closes everything; NULL-safe.
void pl_broker_destroy(pl_broker_t **self_p);

#endif
