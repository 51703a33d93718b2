// pl_link - the node's sending side of the broker link: one packet now
// (ZMQ_DONTWAIT), and the after-commit queue: packets that depend on the
// pass's commit (taken, rejected, receipts, new envelopes) are queued while
// the pass runs and sent only once it committed, or dropped when it did
// not. Layer: services. The DEALER itself and the hello/heartbeat session
// are the loop's (pl_node.c).
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "nodes/pl_node_int.h"

int
pl_node_send_now(pl_node_t *self, const uint8_t *data, size_t len)
{
    if (zmq_send(self->dealer, data, len, ZMQ_DONTWAIT) >= 0) {
        self->last_tx_ms = pl_mono_ms(); // traffic: no idle ping needed
        return PL_OK;
    }
    if (errno == EAGAIN)
        return PL_EFULL; // not connected, or the pipe is full
    pl_log_warn(self->log, "send_failed err=\"%s\"", zmq_strerror(errno));
    return PL_EIO;
}

int
pl_node_send_after(pl_node_t *self, const uint8_t *data, size_t len)
{
    if (self->nafter == self->capafter) {
        size_t cap = self->capafter ? self->capafter * 2 : 64;
        pl_buf_t *p = realloc(self->after, cap * sizeof *p);
        if (!p)
            return PL_ENOMEM;
        self->after = p;
        self->capafter = cap;
    }
    pl_buf_t *b = &self->after[self->nafter];
    memset(b, 0, sizeof *b);
    int rc = pl_buf_append(b, data, len);
    if (rc != PL_OK)
        return rc;
    self->nafter++;
    return PL_OK;
}

size_t
pl_node_after_mark(const pl_node_t *self)
{
    return self->nafter;
}

void
pl_node_after_truncate(pl_node_t *self, size_t from)
{
    while (self->nafter > from)
        pl_buf_free(&self->after[--self->nafter]);
}

void
pl_node_after_flush(pl_node_t *self, bool send)
{
    for (size_t i = 0; i < self->nafter; i++) {
        if (send) {
            int rc =
                pl_node_send_now(self, self->after[i].data, self->after[i].len);
            // an unsent acknowledgement or envelope is not lost: the broker
            // redelivers, and the outbox is resent on the next welcome
            if (rc != PL_OK)
                pl_log_debug(self->log, "send_deferred err=%s",
                             pl_strerror(rc));
        }
        pl_buf_free(&self->after[i]);
    }
    self->nafter = 0;
}

// Encodes and sends a control packet now.
void
pl_node_send_packet(pl_node_t *self, const pl_packet_t *pkt)
{
    pl_buf_t buf = {0};
    if (pl_wire_encode(pkt, &buf) == PL_OK)
        PL_IGNORE(pl_node_send_now(self, buf.data, buf.len));
    pl_buf_free(&buf);
}
