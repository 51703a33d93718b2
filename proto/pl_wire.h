// pl_wire - Packet and Message encode/decode with limits. Layer: proto.
// Owns: the protoc-c generated code (passerelle.pb-c.h).
//
// Decoding never trusts its input: the size is checked before unpacking,
// protobuf-c unpacks through a byte-budget allocator (it records each
// allocation's size itself, since protobuf-c 1.4.1 passes none to free),
// protobuf_c_message_check() runs, then every field is validated (versions,
// lengths of keys, ids and nonces, required oneof). Any failure is a typed
// error and nothing half-built is returned.
//
// The generated types are used directly by the broker and the node (a
// departure from STYLE.md P7, to keep one schema and no hand-written
// mirror of it); they are only ever obtained from and released through this
// module.
#ifndef PL_WIRE_H
#define PL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/passerelle.pb-c.h"
#include "proto/pl_err.h"
#include "proto/pl_util.h"

#define PL_PACKET_MAX       (1024 * 1024 + 4096) // contract: one packet
#define PL_REPORT_MAX_BYTES (16 * 1024) // an aggregate report's JSON (issue 15)
#define PL_MSG_ID_BYTES     16          // envelope / referral ids
#define PL_NONCE_BYTES      24          // XChaCha20-Poly1305
#define PL_HEADER_MAX       1024        // encoded Header
#define PL_DECODE_BUDGET    (4 * 1024 * 1024) // heap bytes one decode may use
#define PL_DIR_PAGES_MAX    64 // pages of one directory (DirectoryResponse)

// One signed service catalogue (issue 18, nodes/pl_svc.h).
#define PL_CATALOGUE_MAX 16384

typedef Passerelle__V1__Packet pl_packet_t;
typedef Passerelle__V1__Message pl_message_t;

// Decodes and validates one packet of 'len' bytes.
// PL_ETOOBIG over PL_PACKET_MAX, PL_EPROTO if malformed or invalid,
// PL_ENOMEM if the decode budget is exceeded. Free with pl_wire_free().
PL_MUST_CHECK int pl_wire_decode(const uint8_t *data, size_t len,
                                 pl_packet_t **out);
void pl_wire_free(pl_packet_t **pkt_p);
// Encodes 'pkt' (built by the caller on the stack, with INIT macros) into
// 'out' (appended). PL_ETOOBIG over PL_PACKET_MAX.
PL_MUST_CHECK int pl_wire_encode(const pl_packet_t *pkt, pl_buf_t *out);

// Same trio for the inner Message (plaintext of an envelope).
PL_MUST_CHECK int pl_message_decode(const uint8_t *data, size_t len,
                                    pl_message_t **out);
void pl_message_free(pl_message_t **msg_p);
PL_MUST_CHECK int pl_message_encode(const pl_message_t *msg, pl_buf_t *out);

// Helpers that build and encode one control packet into 'out'.
PL_MUST_CHECK int pl_wire_id_packet(Passerelle__V1__Packet__KindCase kind,
                                    const uint8_t id[PL_MSG_ID_BYTES],
                                    pl_buf_t *out); // accepted / taken
PL_MUST_CHECK int pl_wire_rejected(const uint8_t *id /* may be NULL */,
                                   Passerelle__V1__RejectReason reason,
                                   const char *detail, pl_buf_t *out);
// An encoded `expired` packet: envelope 'id' (16 bytes) for 'to' will never
// be delivered; 'refused' >= 0: the recipient's node refused it for good
// with that code (-1: it expired). Appended to 'out'.
PL_MUST_CHECK int pl_wire_expired(const uint8_t *id, const char *to,
                                  int refused, pl_buf_t *out);
// Short name of a packet kind and of a reject reason, for logs.
const char *pl_wire_kind_name(Passerelle__V1__Packet__KindCase kind);
const char *pl_wire_reason_name(Passerelle__V1__RejectReason reason);
// True for a refusal that may pass later (store full, store error, a
// foreign directory not here now, or a code this build does not know):
// the envelope stays queued and is tried again; false: final.
bool pl_wire_reason_temporary(int reason);

// Low level, for other proto modules: unpack any message type with the
// budget allocator and protobuf_c_message_check(); free with
// pl_wire_unpacked_free().
PL_MUST_CHECK int pl_wire_unpack(const ProtobufCMessageDescriptor *desc,
                                 const uint8_t *data, size_t len,
                                 ProtobufCMessage **out);
void pl_wire_unpacked_free(ProtobufCMessage *msg);

#endif
