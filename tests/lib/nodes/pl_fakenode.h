// pl_fakenode - the node daemon's state (struct pl_node, nodes/
// pl_node_int.h) built by hand for unit tests of the services and the
// dispatch (pl_outbox.c, pl_inbound.c) without a running daemon: fresh
// keys, its own certificate, a temp store, a directory of one peer, and
// for the DEALER to the broker one end of an inproc PAIR whose other end
// the test reads (no network, no broker). Layer: tests (nodes).
#ifndef PL_FAKENODE_H
#define PL_FAKENODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodes/pl_node_int.h"
#include "tests/lib/nodes/pl_teststore.h"

typedef struct {
    pl_teststore_t ts;    // home folder and store (node->store)
    pl_node_t *node;      // the daemon state: node->me is "sn/agency"
    pl_keys_t *peer_keys; // a health clinic, "sn/clinic", in the directory
    pl_cert_t peer;       // its certificate
    void *zctx;           // ZeroMQ context (node->zctx)
    void *broker;         // the broker's end of node->dealer
} pl_fakenode_t;

// Builds it; 'map_bytes' is the store's map. Aborts the test on failure.
void pl_fakenode_init(pl_fakenode_t *f, const char *tag, size_t map_bytes);
// Frees everything (pl_node_destroy) and removes the folder.
void pl_fakenode_fini(pl_fakenode_t *f);
// cmocka setup and teardown: *state becomes a pl_fakenode_t with an 8 MiB
// map, and is freed.
int pl_fakenode_setup(void **state);
int pl_fakenode_teardown(void **state);
// Records in 'db'; whether 'db' holds 'key' (16 bytes).
size_t pl_fakenode_count(pl_fakenode_t *f, pl_db_t db);
bool pl_fakenode_has(pl_fakenode_t *f, pl_db_t db,
                     const uint8_t key[PL_MSG_ID_BYTES]);
// An encoded Message holding a TestMessage with 'payload', into 'out'.
void pl_fakenode_test_msg(pl_buf_t *out, const char *payload);
// pl_node_outbox_add of a TestMessage to 'to' in a pass of its own, as
// the loop runs one: committed when the add succeeded (aborted otherwise),
// then the after-commit sends and the resend settling. The add's result.
int pl_fakenode_outbox_add(pl_fakenode_t *f, const char *to,
                           uint8_t id[PL_MSG_ID_BYTES]);
// The next packet the node sent to the "broker" within 'ms', or NULL
// (free with pl_wire_free).
pl_packet_t *pl_fakenode_sent(pl_fakenode_t *f, int ms);
// Drops whatever the node sent so far; returns how many packets.
int pl_fakenode_drain(pl_fakenode_t *f);
// An envelope from the peer to the node holding 'msg' (an encoded Message,
// or any bytes), as the broker delivers it (an encoded Packet, appended
// to 'packet'); 'id' gets its id. pl_fakenode_seal_msg encodes 'm' first.
void pl_fakenode_seal_in(pl_fakenode_t *f, const uint8_t *msg, size_t len,
                         uint8_t id[PL_MSG_ID_BYTES], pl_buf_t *packet);
void pl_fakenode_seal_msg(pl_fakenode_t *f, const pl_message_t *m,
                          uint8_t id[PL_MSG_ID_BYTES], pl_buf_t *packet);
// Hands a raw packet to the inbound dispatch (pl_node_on_packet) in a pass
// transaction of its own, commits it and runs the after-commit sends as
// the loop does; returns the commit's result.
int pl_fakenode_pass(pl_fakenode_t *f, const uint8_t *data, size_t len);

#endif
