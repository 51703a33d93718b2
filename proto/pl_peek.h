// pl_peek - the envelope of a packet read in place, without unpacking it.
// Layer: proto.
//
// The broker never needs the sealed body of an envelope except as the
// bytes it received (it stores and forwards those): pl_envelope_peek finds
// the header, nonce, ciphertext and signature inside the packet's own
// bytes, with no allocation and no copy (issue 20 item 4, third round).
//
// It is deliberately narrow: it takes only the layout pl_wire_encode (and
// so every node) writes, a Packet whose one field is the Envelope, whose
// four fields come once each, in field order, with minimal length
// prefixes and no unknown field, each of the sizes pl_wire_decode demands.
// Everything else, including every packet pl_wire_decode refuses, is left
// to pl_wire_decode (PL_ENOTFOUND), which then accepts or refuses it as
// before. So what this accepts, pl_wire_decode accepts too, as the same
// envelope (tests/fuzz/fuzz_packet.c checks both ways on its corpus).
#ifndef PL_PEEK_H
#define PL_PEEK_H

#include <stddef.h>
#include <stdint.h>

#include "proto/pl_envelope.h"
#include "proto/pl_err.h"

// Reads the envelope of the 'len'-byte packet 'data' in place: PL_OK and
// 'v' points into 'data' (valid as long as it is); PL_ETOOBIG over
// PL_PACKET_MAX (as pl_wire_decode); PL_ENOTFOUND for anything else (not
// an envelope, or not in the layout above): decode it with pl_wire_decode.
// 'v' is zeroed unless PL_OK.
PL_MUST_CHECK int pl_envelope_peek(const uint8_t *data, size_t len,
                                   pl_envelope_t *v);

#endif
