// pl_rawclient - a bare CurveZMQ DEALER speaking Packets to a broker, for
// tests that need to send what a well-behaved node never would (spoofed
// headers, garbage, oversized frames) or to measure the broker alone.
// Layer: tests.
#ifndef PL_RAWCLIENT_H
#define PL_RAWCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pl_cert.h"
#include "proto/pl_envelope.h"
#include "proto/pl_keys.h"
#include "proto/pl_peek.h"
#include "proto/pl_wire.h"

typedef struct pl_rawclient pl_rawclient_t;

// Connects with the keys of node home 'home' to the broker whose
// certificate is home/broker.cert. NULL on failure.
pl_rawclient_t *pl_rawclient_open(const char *home, const char *endpoint);
// Connects with explicit CURVE keys (a random key, say); server_pk is the
// broker's curve key. 'client_pk'/'client_sk' NULL: the NULL mechanism.
pl_rawclient_t *pl_rawclient_open_keys(const char *endpoint,
                                       const uint8_t *server_pk,
                                       const uint8_t *client_pk,
                                       const uint8_t *client_sk);
void pl_rawclient_close(pl_rawclient_t **self_p);
// Sends raw bytes as one frame. 0 or -1.
int pl_rawclient_send(pl_rawclient_t *self, const void *data, size_t len);
// Receives one packet within timeout_ms: PL_OK (decoded; free with
// pl_wire_free), PL_ETIMEOUT, or a decode error.
int pl_rawclient_recv(pl_rawclient_t *self, pl_packet_t **out, int timeout_ms);
// The same, lean (the benchmark's recipient): an envelope in the usual
// layout is read in place (pl_envelope_peek), PL_OK with 'env' pointing
// into the frame, valid until the next call or the close; *other NULL.
// Any other packet is decoded in full: PL_OK with *other set (free it
// with pl_wire_free) and 'env' zeroed. PL_ETIMEOUT, or a decode error.
int pl_rawclient_recv_peek(pl_rawclient_t *self, pl_envelope_t *env,
                           pl_packet_t **other, int timeout_ms);
// What its hellos say of Expired notices: true, it answers each with a
// taken (as a node does), so the broker keeps them until then; false (the
// default), the broker tells each once.
void pl_rawclient_acks_notices(pl_rawclient_t *self, bool on);
// What its hellos say of a directory in pages: true, it takes one (as a
// node does); false (the default), a directory larger than a packet is
// not sent to it.
void pl_rawclient_dir_pages(pl_rawclient_t *self, bool on);
// Sends a hello (not waiting for anything). PL_OK or PL_EINVAL.
int pl_rawclient_send_hello(pl_rawclient_t *self);
// Sends a hello and waits for the welcome. PL_OK or PL_ETIMEOUT.
int pl_rawclient_hello(pl_rawclient_t *self, int timeout_ms);
// How many packets the last pl_rawclient_hello dropped because they came
// before the welcome.
unsigned pl_rawclient_before_welcome(const pl_rawclient_t *self);
// The node's keys and certificate (loaded by pl_rawclient_open).
const pl_keys_t *pl_rawclient_keys(const pl_rawclient_t *self);
const pl_cert_t *pl_rawclient_cert(const pl_rawclient_t *self);
// Seals a TestMessage with 'payload' from this client to the node whose
// home is 'to_home' (its node.cert gives address and box key). 'from'
// overrides the sender address in the header (NULL: own address); 'ttl'
// 0 = default. Appends the packet to 'out'.
int pl_rawclient_seal(pl_rawclient_t *self, const char *to_home,
                      const char *from, const void *payload, size_t len,
                      uint64_t ttl, uint8_t id[PL_MSG_ID_BYTES], pl_buf_t *out);

#endif
