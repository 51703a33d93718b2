// pl_node_ctx - what a handler sees of the node daemon (issue 12): the
// log, the keys, this node's certificate, the store, the directory cache
// and three services (outbox, directory lookup, directory refresh).
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
} pl_node_svc_t;

typedef struct pl_node_ctx {
    pl_log_t *log;            // borrowed
    pl_keys_t *keys;          // this node's keys (audit signatures)
    const pl_cert_t *me;      // this node's certificate
    pl_store_t *store;        // the node's store (sweeps open their txn)
    const pl_cert_t *dir;     // directory cache, sorted by address
    size_t ndir;              // its entries
    const pl_node_svc_t *svc; // services (never NULL)
    void *svc_arg;            // their first argument
    struct pl_node *node;     // the daemon, for the info/ops/test handlers
                              // not yet on this narrow view (NULL in a fake)
} pl_node_ctx_t;

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

#endif
