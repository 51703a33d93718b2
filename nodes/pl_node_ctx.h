// pl_node_ctx - what a handler sees of the node daemon (issue 12): the
// log, the keys, this node's certificate, the store, the directory cache
// and revocation list, the home folder, and services (outbox, directory
// lookup and refresh, a state snapshot, send now, park the request).
// Layer: nodes, handlers. Handlers take a pl_node_ctx_t, never the daemon
// struct (pl_node_t), so that a test can run them with a fake context: a
// temp store, test keys, and service functions of its own.
#ifndef PL_NODE_CTX_H
#define PL_NODE_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodes/pl_store.h"
#include "proto/pl_cert.h"
#include "proto/pl_keys.h"
#include "proto/pl_log.h"
#include "proto/pl_util.h"
#include "proto/pl_wire.h"

typedef struct pl_sessions pl_sessions_t; // staff sessions (pl_session.h)

// The daemon's per-process counters (pl_node_counters_t of pl_node_int.h).
typedef struct {
    uint64_t in_envelopes, in_stored, in_duplicates, in_refused, in_deferred,
        receipts_ok, sent, resent, commits, commit_failures;
} pl_ctx_counters_t;

// What the info commands show of the daemon's state: a snapshot, filled
// by the state service. Strings are borrowed until the handler returns.
typedef struct {
    const char *broker_ep;      // the broker's endpoint
    const char *broker_address; // its address (certificate)
    bool online;                // a session with the broker
    int64_t skew;               // broker time - our time, seconds
    bool skewed;                // the skew is too large: nothing is sealed
    unsigned usage_pct;         // store map use
    size_t resend_queue;        // envelopes waiting for a resend
    size_t parked;              // envelopes of unknown senders parked
    pl_ctx_counters_t n;        // the per-process counters
} pl_node_state_t;

// The services a handler calls back into the daemon for. 'arg' is the
// context's svc_arg (the daemon, or a test's fake).
typedef struct {
    // Seals 'msg' (an encoded Message of 'kind', S_KIND_*) to 'to' and
    // commits it to the outbox in 'txn'; the send happens after the pass
    // commits. 'id' gets the message id. Errors as pl_node_outbox_add:
    // PL_ENOTFOUND, PL_EREVOKED, PL_EEXPIRED, PL_ESTATE (clock skew),
    // PL_EFULL.
    int (*outbox_add)(void *arg, pl_txn_t *txn, const char *to, int kind,
                      const uint8_t *msg, size_t msg_len, uint64_t ttl,
                      uint8_t id[PL_MSG_ID_BYTES]);
    // The valid certificate of 'address' (borrowed) or NULL; 'why' (may be
    // NULL) gets PL_ENOTFOUND, PL_EREVOKED or PL_EEXPIRED.
    const pl_cert_t *(*dir_find)(void *arg, const char *address, int *why);
    // Asks the broker for the directory (rate limited unless 'force').
    void (*ask_directory)(void *arg, bool force);
    // The daemon's state now, into 'out' (may be NULL in a fake: zeroes).
    void (*state)(void *arg, pl_node_state_t *out);
    // Sends an encoded packet to the broker now; an error when there is no
    // session (may be NULL in a fake: PL_ESTATE).
    int (*send_now)(void *arg, const uint8_t *data, size_t len);
    // Parks the control request being run: its reply is given later (the
    // broker's answer), or at 'deadline_ms' (monotonic). May be NULL.
    void (*park)(void *arg, uint64_t deadline_ms);
    // Issue 18: this node's signed service catalogue changed ('len' bytes,
    // its 'version'): the daemon keeps a copy, sends it to the broker now
    // and again whenever its session comes up. May be NULL in a fake.
    void (*publish)(void *arg, const uint8_t *blob, size_t len,
                    uint64_t version);
} pl_node_svc_t;

typedef struct pl_node_ctx {
    pl_log_t *log;               // borrowed
    pl_keys_t *keys;             // this node's keys (audit signatures)
    const pl_cert_t *me;         // this node's certificate
    pl_store_t *store;           // the node's store (sweeps open their txn)
    const pl_cert_t *dir;        // directory cache, sorted by address
    size_t ndir;                 // its entries
    const pl_node_svc_t *svc;    // services (never NULL)
    void *svc_arg;               // their first argument
    const pl_revlist_t *revoked; // newest revocation list (may be NULL)
    const char *home;            // the node's home folder (may be NULL)
    unsigned box_grace_days;     // old box keys kept this long (rotate)
    const char *rid; // request id (32 hex) of the deferred request being
                     // run (PL_CTL_DEFERRED rows), else NULL
    pl_sessions_t *sessions; // the staff session table (may be NULL)
    const char *session;     // "session" token of the request, or NULL
    const uint32_t *handover_keep_days; // --handover-keep-days (NULL in a
                                        // fake: the default)
} pl_node_ctx_t;

// This node's own certificate is in the newest revocation list: the
// broker refuses it, nothing it seals can be delivered (enrol again).
static inline bool
pl_ctx_me_revoked(const pl_node_ctx_t *ctx)
{
    return ctx->revoked && ctx->me
           && pl_revlist_contains(ctx->revoked, ctx->me->serial);
}

static inline PL_MUST_CHECK int
pl_ctx_outbox_add(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *to, int kind,
                  const uint8_t *msg, size_t msg_len, uint64_t ttl,
                  uint8_t id[PL_MSG_ID_BYTES])
{
    return ctx->svc->outbox_add(ctx->svc_arg, txn, to, kind, msg, msg_len, ttl,
                                id);
}

static inline const pl_cert_t *
pl_ctx_dir_find(pl_node_ctx_t *ctx, const char *address, int *why)
{
    return ctx->svc->dir_find(ctx->svc_arg, address, why);
}

static inline void
pl_ctx_ask_directory(pl_node_ctx_t *ctx, bool force)
{
    ctx->svc->ask_directory(ctx->svc_arg, force);
}

static inline void
pl_ctx_state(pl_node_ctx_t *ctx, pl_node_state_t *out)
{
    *out = (pl_node_state_t){0};
    if (ctx->svc->state)
        ctx->svc->state(ctx->svc_arg, out);
}

static inline PL_MUST_CHECK int
pl_ctx_send_now(pl_node_ctx_t *ctx, const uint8_t *data, size_t len)
{
    return ctx->svc->send_now ? ctx->svc->send_now(ctx->svc_arg, data, len)
                              : PL_ESTATE;
}

static inline void
pl_ctx_publish(pl_node_ctx_t *ctx, const uint8_t *blob, size_t len,
               uint64_t version)
{
    if (ctx->svc->publish)
        ctx->svc->publish(ctx->svc_arg, blob, len, version);
}

static inline void
pl_ctx_park(pl_node_ctx_t *ctx, uint64_t deadline_ms)
{
    if (ctx->svc->park)
        ctx->svc->park(ctx->svc_arg, deadline_ms);
}

#endif
