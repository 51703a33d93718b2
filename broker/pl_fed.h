// pl_fed - federated brokers (DESIGN.md §7.1, issue 13): the anchors in
// BROKERDIR/federation/*.anchor, the federation port and its ZAP domain,
// the link to each peer broker (hello, heartbeats, a bounded window,
// reconnect with backoff for ever), custody hop by hop through a per-peer
// queue of the spool, the transit wrap, and the directory exchanged across
// the border. Layer: broker.
//
// Custody: an envelope for a foreign network is wrapped (a new envelope
// from this broker to the foreign recipient, sealed to its box key,
// holding the original packet, under the same message id) and committed
// to the spool queue "~fed/NETWORK" in the nested transaction of its
// packet, before `accepted` goes to the sender; duplicates are recognised
// by the original bytes (pl_spool_put_as). The link sends the stored wrap
// (byte-identical on every resend); the peer commits it to the
// recipient's queue and only then answers `accepted`, which deletes our
// copy. Who sent each id is kept until expiry + 1 day (spool `fedmap`) so
// that an `expired` from the peer reaches the sender.
#ifndef PL_FED_H
#define PL_FED_H

#include <jansson.h>
#include <stdbool.h>
#include <zmq.h>

#include "broker/pl_broker_int.h"

#define PL_FED_POLL_MAX 16 // sockets the federation adds to the loop

// Loads the anchors and opens the federation port (cfg.federation_listen)
// and a connection to each peer whose anchor has an endpoint. Called by
// pl_broker_new once the ZAP handler runs. PL_OK, or an error (logged).
int pl_fed_open(pl_broker_t *b);
void pl_fed_close(pl_broker_t *b);
// Re-reads federation/*.anchor (SIGHUP, `broker reload`): a refused
// anchor is logged with its reason and ignored.
void pl_fed_reload(pl_broker_t *b);
// The federation sockets to poll (ZMQ_POLLIN); returns how many.
int pl_fed_pollitems(pl_broker_t *b, zmq_pollitem_t *items, int max);
// ZAP for the federation domain: admits 'key' only if it is the CURVE key
// of a broker named in a valid anchor; 'user' gets that broker's address.
bool pl_fed_zap(pl_broker_t *b, const uint8_t key[32], char *user, size_t n,
                const char **why);
bool pl_fed_is_zap_domain(const void *domain, size_t len);
// May an envelope for hdr->to cross a link? PL_ENOTFOUND: not a federated
// network (the caller's "unknown recipient"); PL_OK; otherwise a refusal
// with its reason in *detail (stale foreign directory, recipient unknown
// or revoked there).
int pl_fed_route(pl_broker_t *b, const pl_header_t *hdr, const char **detail);
// Wraps and queues (inside the packet's nested transaction), as
// pl_spool_put answers; PL_ETOOBIG when the wrap would not fit a packet.
int pl_fed_put(pl_broker_t *b, const pl_header_t *hdr, const uint8_t *raw,
               size_t len, bool *dup, pl_spool_refusal_t *why);
// Inside the pass: reads what the links brought (each packet in its own
// nested transaction) and the expired notices owed to peers.
void pl_fed_drain(pl_broker_t *b);
// After the pass commit: sends the link answers of the pass ('durable':
// the commit succeeded; otherwise acknowledgements are dropped).
void pl_fed_flush(pl_broker_t *b, bool durable);
// Outside the pass: hellos, heartbeats, link state, delivery window.
void pl_fed_tick(pl_broker_t *b);
// Our directory goes to every peer at the next tick (after a reload).
void pl_fed_push_all(pl_broker_t *b);
// Adds the anchors and the foreign directories to a node's directory
// response; what it allocates goes into owned[] (free with
// pl_wire_unpacked_free) and the arrays into *arrays (free()).
void pl_fed_directory(pl_broker_t *b, Passerelle__V1__DirectoryResponse *d,
                      ProtobufCMessage ***owned, size_t *nowned, void **arrays);
// The operator view (`passerelle broker federation`).
json_t *pl_fed_json(pl_broker_t *b);
// The links as nodes see them (StatusResponse.links): arrays to free().
void pl_fed_links(pl_broker_t *b, Passerelle__V1__StatusResponse *r,
                  void **arrays);

#endif
