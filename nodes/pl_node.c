// pl_node - the node daemon: lifecycle, event loop, link to the broker.
// Layer: nodes. Owns: <zmq.h> for the node.
#include "nodes/pl_node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "nodes/pl_coord.h"
#include "nodes/pl_handover_cmd.h"
#include "nodes/pl_link_state.h"
#include "nodes/pl_node_case.h"
#include "nodes/pl_node_int.h"
#include "proto/pl_crypto.h"
#include "proto/pl_home.h"
#include "proto/pl_util.h"

int
pl_node_control_endpoint(const char *home, char *out, size_t size)
{
    return pl_home_control_endpoint(home, out, size); // one owner (pl_home)
}

bool
pl_node_store_failed(const pl_node_t *self)
{
    return self && pl_store_failed(self->store) != 0;
}

static int
s_send_hello(pl_node_t *self)
{
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    Passerelle__V1__Hello hello = PASSERELLE__V1__HELLO__INIT;
    hello.version = PL_PROTO_VERSION;
    hello.time = pl_now();
    hello.agent = "passerelle-node/" PL_VERSION;
    hello.has_acks_notices = true; // s_on_expired answers a taken
    hello.acks_notices = true;
    hello.has_directory_pages = true; // pl_dir_pages.c
    hello.directory_pages = true;
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_HELLO;
    pkt.hello = &hello;
    pl_buf_t buf = {0};
    int rc = pl_wire_encode(&pkt, &buf);
    if (rc == PL_OK)
        rc = pl_node_send_now(self, buf.data, buf.len);
    pl_buf_free(&buf);
    pl_log_debug(self->log, "hello_sent rc=%d", rc);
    return rc;
}

static void
s_send_heartbeat(pl_node_t *self)
{
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    Passerelle__V1__Heartbeat hb = PASSERELLE__V1__HEARTBEAT__INIT;
    hb.time = pl_now();
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_HEARTBEAT;
    pkt.heartbeat = &hb;
    pl_node_send_packet(self, &pkt);
}

// ---- clock

// Checks the broker's clock against ours; loud when it goes bad, on every
// welcome while bad, and once a minute in between.
static void
s_clock(pl_node_t *self, uint64_t broker_time, bool welcome)
{
    int64_t skew = (int64_t) broker_time - (int64_t) pl_now();
    bool bad = skew > S_CLOCK_SKEW_MAX || skew < -S_CLOCK_SKEW_MAX;
    uint64_t now = pl_mono_ms();
    self->skew = skew;
    bool say =
        bad
        && (!self->skewed || welcome || now - self->skew_logged_ms >= 60000);
    if (say)
        self->skew_logged_ms = now;
    if (say)
        pl_log_error(self->log,
                     "clock_skew skew_s=%lld max_s=%d: this machine's clock "
                     "is off; sealing new envelopes is refused until it is "
                     "fixed",
                     (long long) skew, S_CLOCK_SKEW_MAX);
    else if (self->skewed && !bad)
        pl_log_warn(self->log, "clock_ok skew_s=%lld: sealing resumes",
                    (long long) skew);
    self->skewed = bad;
}

// ---- the session (the table of pl_link_state.h)

static void s_relink(pl_node_t *self, const char *reason, uint64_t now);

// Does what 'ev' does in the current state: 'broker_time' is the time in
// a welcome or heartbeat (0 for the timer events), 'now' monotonic.
static void
s_link_event(pl_node_t *self, pl_link_event_t ev, uint64_t broker_time,
             uint64_t now)
{
    pl_link_state_t st = self->session ? PL_LINK_SESSION : PL_LINK_OFFLINE;
    pl_link_step_t step = pl_link_step(st, ev);
    self->session = step.next == PL_LINK_SESSION;
    if (step.actions & PL_LINK_A_RESYNC) {
        self->welcomed = true;
        self->hello_backoff_ms = 0;
        self->ping_ms = 0; // a new session: no ping outstanding
    }
    if (step.actions & PL_LINK_A_CLOCK)
        s_clock(self, broker_time, ev == PL_LINK_EV_WELCOME);
    if (step.actions & PL_LINK_A_RESYNC) {
        self->resync = true; // after this pass: resend everything pending
        pl_node_ask_directory(self, true);
        // what the broker delivers before the answer waits for it: the
        // revocation list may have grown while we were away (pl_inbound.c)
        self->dir_gate_ms = now + S_DIR_GATE_MS;
    }
    if (step.actions & PL_LINK_A_HELLO) {
        self->hello_next_ms = now;
        self->hello_backoff_ms = 0;
    }
    if (step.actions & PL_LINK_A_RELINK)
        s_relink(self, pl_link_event_name(ev), now);
}

// ---- packets that need no transaction

// Handles the link-level kinds; returns true when 'pkt' was one of them.
static bool
s_on_link_packet(pl_node_t *self, const pl_packet_t *pkt)
{
    switch (pkt->kind_case) {
    case PASSERELLE__V1__PACKET__KIND_WELCOME: {
        const Passerelle__V1__Welcome *w = pkt->welcome;
        if (strcmp(w->address, self->me.address) != 0)
            pl_log_error(self->log,
                         "welcome_address_mismatch broker_says=%s we_are=%s",
                         w->address, self->me.address);
        bool was = self->session;
        s_link_event(self, PL_LINK_EV_WELCOME, w->time, pl_mono_ms());
        // the broker's list is no newer than ours: what was held for the
        // directory response goes on now (pl_inbound.c)
        if (self->dir_gate_ms
            && !(w->has_revocation_number
                 && w->revocation_number > self->revoked.number)) {
            self->dir_gate_ms = 0;
            if (self->npark)
                self->park_replay = true;
        }
        pl_log_info(self->log,
                    "session_up broker=%s skew_s=%lld revocation=%llu "
                    "resumed=%d",
                    self->broker.address, (long long) self->skew,
                    (unsigned long long) (w->has_revocation_number
                                              ? w->revocation_number
                                              : 0),
                    was ? 1 : 0);
        return true;
    }
    case PASSERELLE__V1__PACKET__KIND_HEARTBEAT:
        s_link_event(self, PL_LINK_EV_HEARTBEAT, pkt->heartbeat->time,
                     pl_mono_ms());
        return true;
    case PASSERELLE__V1__PACKET__KIND_STATUS_RESPONSE:
        if (self->ctl_parked)
            pl_node_ctl_status(self, pkt->status_response);
        return true;
    case PASSERELLE__V1__PACKET__KIND_HELLO:
    case PASSERELLE__V1__PACKET__KIND_TAKEN:
    case PASSERELLE__V1__PACKET__KIND_DIRECTORY_REQUEST:
    case PASSERELLE__V1__PACKET__KIND_STATUS_REQUEST:
        pl_log_warn(self->log, "packet_unexpected kind=%s",
                    pl_wire_kind_name(pkt->kind_case));
        return true;
    default:
        return false;
    }
}

// ---- the pass

// Begins the pass transaction on first need.
static pl_txn_t *
s_pass_txn(pl_node_t *self, pl_txn_t **pass)
{
    if (!*pass && pl_store_begin(self->store, NULL, true, pass) != PL_OK)
        *pass = NULL;
    return *pass;
}

// One packet of a pass, kept in memory until the pass committed: a pass
// the map has no room for is run again from these, in smaller passes.
typedef struct {
    const uint8_t *data; // a received frame or a parked packet
    size_t len;
    bool replayed; // a parked envelope, the directory refreshed since
    bool once;     // a link packet or one that does not decode: handled
} s_item_t;

// What one pass handles: the parked envelopes, then the broker's frames.
typedef struct {
    s_item_t item[S_PARK_MAX + S_PASS_MAX];
    size_t n;
    pl_parked_t held[S_PARK_MAX]; // the park, taken out for this pass
    size_t nheld;
    zmq_msg_t msg[S_PASS_MAX]; // the frames, closed after the pass
    size_t nmsg;
} s_batch_t;

// Handles one packet from the broker: PL_EFULL when the map had no room
// for it (pl_node_on_packet). A link packet, or one that does not decode,
// is marked 'once' (it needs no transaction and is not handled again).
static int
s_handle(pl_node_t *self, pl_txn_t **pass, s_item_t *it)
{
    pl_packet_t *pkt = NULL;
    int rc = pl_wire_decode(it->data, it->len, &pkt);
    if (rc != PL_OK) {
        pl_log_warn(self->log, "packet_dropped bytes=%zu reason=%s", it->len,
                    pl_strerror(rc));
        it->once = true;
        return PL_OK;
    }
    if (s_on_link_packet(self, pkt)) {
        pl_wire_free(&pkt);
        it->once = true;
        return PL_OK;
    }
    rc = PL_OK;
    if (s_pass_txn(self, pass))
        rc = pl_node_on_packet(self, *pass, pkt, it->data, it->len,
                               it->replayed);
    else if (!pl_store_failed(self->store))
        // nothing is acknowledged: the broker redelivers, and "accepted"
        // comes again for a resent envelope (a failed store is said once,
        // by pl_node_run)
        pl_log_error(self->log, "packet_deferred reason=store_unavailable");
    pl_wire_free(&pkt);
    return rc;
}

// Receives one control request if there is one and handles it.
static void
s_ctl_recv(pl_node_t *self, pl_txn_t **pass)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, self->ctl, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return;
    }
    // a request is one frame; drain any further ones
    bool multi = zmq_msg_more(&m);
    while (zmq_msg_more(&m)) {
        zmq_msg_t x;
        zmq_msg_init(&x);
        zmq_msg_recv(&x, self->ctl, 0);
        bool more = zmq_msg_more(&x);
        zmq_msg_close(&x);
        if (!more)
            break;
    }
    if (multi) {
        self->ctl_reply =
            pl_node_ctl_error(PL_EPROTO, "a request is one JSON frame");
    } else if (!s_pass_txn(self, pass)) {
        self->ctl_reply = pl_node_ctl_error(
            PL_EIO, "the node's store cannot begin a transaction");
    } else {
        pl_node_ctl_request(self, *pass, zmq_msg_data(&m), zmq_msg_size(&m));
    }
    // a request may carry a password (session.login, staff.add): gone now
    pl_wipe(zmq_msg_data(&m), zmq_msg_size(&m));
    zmq_msg_close(&m);
}

// Sends the pending control reply, if any.
static void
s_ctl_reply_send(pl_node_t *self)
{
    if (!self->ctl_reply)
        return;
    if (zmq_send(self->ctl, self->ctl_reply, strlen(self->ctl_reply), 0) < 0)
        pl_log_warn(self->log, "control_reply_failed err=\"%s\"",
                    zmq_strerror(errno));
    free(self->ctl_reply);
    self->ctl_reply = NULL;
}

// A pass that did not commit: the request it held did nothing.
static void
s_ctl_undone(pl_node_t *self, int rc, const char *why)
{
    if (!self->ctl_reply)
        return; // none, or parked (it changed nothing: it keeps waiting)
    free(self->ctl_reply);
    self->ctl_reply = pl_node_ctl_error(rc, "%s (%s); nothing was done", why,
                                        pl_strerror(rc));
}

#define S_FULL_WHY                                                             \
    "the node's store is full (no space on the disk or in the map); retry "    \
    "once space is freed"

// Commits the pass: then sends what depends on it. A failed commit
// acknowledges nothing and answers nothing good (a parked status request
// changed nothing: it keeps waiting). *rc the commit's result. false when
// the store failed for good (the CLI was told at once; the pass goes no
// further).
static bool
s_pass_commit(pl_node_t *self, pl_txn_t **pass, int *rc_out)
{
    int rc = pl_store_commit(pass);
    *rc_out = rc;
    if (rc == PL_OK) {
        self->n.commits++;
        pl_node_after_flush(self, true);
        pl_node_resend_settle(self, true);
        return true;
    }
    pl_node_resend_settle(self, false);
    self->n.commit_failures++;
    pl_node_after_flush(self, false);
    const char *why;
    if (pl_store_failed(self->store)) {
        why = "the node's store failed (an I/O error); the daemon "
              "stops and must be restarted";
    } else if (rc == PL_EFULL) {
        pl_node_full_log(self, "commit");
        why = S_FULL_WHY;
    } else {
        pl_log_error(self->log, "pass_commit_failed err=%s", pl_strerror(rc));
        why = "the node could not commit to its store";
    }
    s_ctl_undone(self, rc, why);
    if (pl_store_failed(self->store)) {
        s_ctl_reply_send(self); // the CLI is told at once; no more
        return false;
    }
    return true;
}

// The parked envelopes (taken out of the park: one that is still waiting
// parks itself again) and up to S_PASS_MAX frames from the broker.
static void
s_batch_take(pl_node_t *self, s_batch_t *b, bool dealer_in)
{
    b->n = b->nheld = b->nmsg = 0;
    if (self->park_replay) {
        self->park_replay = false;
        b->nheld = self->npark;
        memcpy(b->held, self->park, b->nheld * sizeof *b->held);
        self->npark = 0;
        for (size_t i = 0; i < b->nheld; i++)
            b->item[b->n++] =
                (s_item_t){b->held[i].packet.data, b->held[i].packet.len,
                           b->held[i].dir_gen < self->dir_gen, false};
    }
    while (dealer_in && b->nmsg < S_PASS_MAX) {
        zmq_msg_t *m = &b->msg[b->nmsg];
        zmq_msg_init(m);
        if (zmq_msg_recv(m, self->dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            break;
        }
        self->last_rx_ms = pl_mono_ms();
        if (zmq_msg_more(m)) {
            // each ZeroMQ message is exactly one frame: drop the rest
            pl_log_warn(self->log, "packet_dropped reason=multipart");
            while (zmq_msg_more(m)) {
                zmq_msg_close(m);
                zmq_msg_init(m);
                if (zmq_msg_recv(m, self->dealer, 0) < 0)
                    break;
            }
            zmq_msg_close(m);
            continue;
        }
        b->item[b->n++] =
            (s_item_t){zmq_msg_data(m), zmq_msg_size(m), false, false};
        b->nmsg++;
    }
}

static void
s_batch_free(s_batch_t *b)
{
    for (size_t i = 0; i < b->nheld; i++)
        pl_buf_free(&b->held[i].packet);
    for (size_t i = 0; i < b->nmsg; i++)
        zmq_msg_close(&b->msg[i]);
    b->n = b->nheld = b->nmsg = 0;
}

// The inbound counters as they were before an aborted pass that is run
// again (its packets would be counted twice).
static void
s_counters_back(pl_node_t *self, const pl_node_counters_t *was)
{
    self->n.in_envelopes = was->in_envelopes;
    self->n.in_stored = was->in_stored;
    self->n.in_duplicates = was->in_duplicates;
    self->n.in_refused = was->in_refused;
    self->n.in_deferred = was->in_deferred;
    self->n.receipts_ok = was->receipts_ok;
}

// Items [lo, hi) of a batch.
typedef struct {
    size_t lo, hi;
} s_range_t;

// Runs the batch, and the control request ('ctl') after the packets of
// the first pass not already being split. A pass whose packets the map
// has no room for (a packet or the commit failed with PL_EFULL) is
// aborted: nothing of it stays, nothing of it is sent (a request in it
// is answered "store full", as for any failed commit). It is run again whole
// once the map grew, else split in halves, down to one packet a pass, so that
// what fits is stored and acknowledged and only a packet that does not fit
// alone is deferred (the broker keeps it). Bounded: at most 2n - 1 passes and
// one per map growth. false when the store failed for good.
static bool
s_batch_run(pl_node_t *self, s_batch_t *b, bool ctl)
{
    s_range_t todo[64]; // halves, depth first: log2(n) + 1 at most
    size_t ntodo = 0, passes = 0, splits = 0, deferred = 0;
    todo[ntodo++] = (s_range_t){0, b->n};
    while (ntodo > 0 || ctl) {
        s_range_t r = ntodo > 0 ? todo[--ntodo] : (s_range_t){0, 0};
        size_t lo = r.lo, hi = r.hi;
        pl_node_counters_t was = self->n;
        pl_txn_t *pass = NULL;
        bool full = false;
        for (size_t i = lo; i < hi && !(full && hi - lo > 1); i++)
            if (!b->item[i].once)
                full |= s_handle(self, &pass, &b->item[i]) == PL_EFULL;
        // the request goes in the first pass that is not split already: it
        // is not run twice, and packets that do not fit do not undo it
        if (ctl && !(full && hi - lo > 1)) {
            s_ctl_recv(self, &pass);
            ctl = false;
        }
        passes++;
        int rc = PL_OK;
        if (!pass) {
            pl_node_after_flush(self, true); // nothing waits on a commit
            continue;
        }
        if (full && hi - lo > 1) {
            pl_store_abort(&pass);
            pl_node_resend_settle(self, false);
            pl_node_after_flush(self, false);
            pl_node_full_log(self, "pass");
        } else if (!s_pass_commit(self, &pass, &rc)) {
            return false;
        } else if (rc == PL_EFULL && hi - lo > 1) {
            full = true;
        } else {
            deferred += full || rc == PL_EFULL;
            continue;
        }
        s_counters_back(self, &was);
        if (pl_node_map_grow(self)) {
            todo[ntodo++] = (s_range_t){lo, hi}; // whole again
            continue;
        }
        size_t mid = lo + (hi - lo) / 2; // the first half first: in order
        todo[ntodo++] = (s_range_t){mid, hi};
        todo[ntodo++] = (s_range_t){lo, mid};
        splits++;
    }
    if (splits)
        pl_log_warn(self->log,
                    "pass_split packets=%zu passes=%zu splits=%zu "
                    "deferred=%zu: the map (at its maximum) had no room for "
                    "them in one pass",
                    b->n, passes, splits, deferred);
    return true;
}

// One pass: drain the broker socket (bounded), replay parked envelopes,
// take one control request, commit once, then send what depends on it (a
// pass that does not fit in the map is split: s_batch_run).
static void
s_pass(pl_node_t *self, bool dealer_in, bool ctl_in)
{
    // a request may add work: measure the map first (no transaction may be
    // open for this), so that "full" is decided on a fresh figure
    if (ctl_in && !self->ctl_parked) {
        unsigned pct;
        if (pl_store_usage(self->store, &pct) == PL_OK)
            self->usage_pct = pct;
    }
    s_batch_t batch; // 43 KB
    s_batch_take(self, &batch, dealer_in);
    bool ok = s_batch_run(self, &batch,
                          ctl_in && !self->ctl_parked && !self->ctl_reply);
    s_batch_free(&batch);
    if (!ok)
        return;
    pl_node_ctl_run_deferred(self); // backup, rotation: no txn open now
    s_ctl_reply_send(self);
    if (self->resync) {
        self->resync = false;
        pl_node_resync(self);
    }
}

// ---- the link

static int s_dealer_setup(void *s, const pl_node_t *self);

// Drops the DEALER and connects a fresh one. The dead link is detected
// here, from our own heartbeats going unanswered, rather than by ZMTP
// heartbeat timeouts: with libzmq 4.3.4 a ZMTP heartbeat timeout that
// resets a connection whose receiver is behind can abort the process
// (Assertion failed: !_io_error, src/stream_engine_base.cpp:331; zeromq/
// libzmq issues #4364, #4767, #3937), so the node leaves them off. What
// the old socket still held is dropped: envelopes are resent from the
// outbox, and the broker redelivers what we did not confirm.
static void
s_relink(pl_node_t *self, const char *reason, uint64_t now)
{
    void *d = zmq_socket(self->zctx, ZMQ_DEALER);
    if (!d || s_dealer_setup(d, self) != PL_OK
        || zmq_connect(d, self->broker_ep) != 0) {
        pl_log_error(self->log, "link_reset_failed err=\"%s\"",
                     zmq_strerror(errno));
        if (d)
            zmq_close(d);
        self->link_since_ms = now; // the old socket stays; try again later
        return;
    }
    zmq_close(self->dealer);
    self->dealer = d;
    self->link_since_ms = now;
    self->dir_gate_ms = now + S_DIR_GATE_MS; // a new connection (pl_inbound.c)
    self->relinks++;
    self->hello_next_ms = now;
    self->hello_backoff_ms = 0;
    pl_log_warn(self->log, "link_reset reason=%s silence_ms=%llu resets=%llu",
                reason, (unsigned long long) (now - self->last_rx_ms),
                (unsigned long long) self->relinks);
}

// How long hellos may go unanswered (offline) before the DEALER is
// re-created: twice the ping timeout, at least S_RELINK_MIN_MS, so a broker
// that is down is not re-dialled in a tight loop.
static uint64_t
s_relink_after(const pl_node_t *self)
{
    uint64_t t = (uint64_t) self->hb_wait_ms * 2;
    return t > S_RELINK_MIN_MS ? t : S_RELINK_MIN_MS;
}

// The idle-ping timing of this node (pl_link_state.h).
static void
s_idle(const pl_node_t *self, pl_link_idle_cfg_t *cfg, pl_link_clock_t *clk)
{
    cfg->idle_ms = (uint64_t) self->heartbeat_ms;
    cfg->timeout_ms = (uint64_t) self->hb_wait_ms;
    clk->last_rx_ms = self->last_rx_ms;
    clk->last_tx_ms = self->last_tx_ms;
    clk->ping_ms = self->ping_ms;
}

// ---- timers

// Our own certificate revoked (a verified list names its serial): no
// session can ever come with it, and every hello, every new link and each
// of ZeroMQ's reconnects would cost the link's data and a line in the
// broker's log for nothing. The node stops dialling (the connection is
// closed once) until it is started again with a new certificate; its
// control socket, the web and its sweeps go on. True while so.
static bool
s_undialled(pl_node_t *self)
{
    if (!pl_revlist_contains(&self->revoked, self->me.serial))
        return false;
    if (!self->undialled) {
        self->undialled = true;
        self->session = false;
        if (zmq_disconnect(self->dealer, self->broker_ep) != 0)
            pl_log_debug(self->log, "link_disconnect err=\"%s\"",
                         zmq_strerror(errno));
        pl_log_warn(self->log,
                    "link_closed reason=revoked: this node no longer dials "
                    "its broker; enrol it again and restart it");
    }
    return true;
}

static void
s_timers(pl_node_t *self)
{
    uint64_t now = pl_mono_ms();
    bool dial = !s_undialled(self);
    pl_link_idle_cfg_t icfg;
    pl_link_clock_t iclk;
    s_idle(self, &icfg, &iclk);
    pl_link_idle_t idle = self->session && dial
                              ? pl_link_idle(&icfg, &iclk, now)
                              : PL_LINK_IDLE_NOTHING;
    if (idle == PL_LINK_IDLE_SILENT) {
        pl_log_warn(self->log, "session_down silence_ms=%llu ping_ms_ago=%llu",
                    (unsigned long long) (now - self->last_rx_ms),
                    (unsigned long long) (now - self->ping_ms));
        s_link_event(self, PL_LINK_EV_SILENT, 0, now);
    } else if (!self->session && dial
               && now - self->link_since_ms > s_relink_after(self)
               && now - self->last_rx_ms > s_relink_after(self)) {
        s_link_event(self, PL_LINK_EV_NO_WELCOME, 0, now);
    }
    if (!self->session && dial && now >= self->hello_next_ms) {
        if (s_send_hello(self) == PL_EFULL) {
            // no connection yet (ZMQ_IMMEDIATE): try again shortly; ZeroMQ
            // itself reconnects with its own backoff
            self->hello_next_ms = now + 100;
        } else {
            uint32_t b =
                self->hello_backoff_ms ? self->hello_backoff_ms * 2 : 1000;
            self->hello_backoff_ms = b > S_HELLO_MAX_MS ? S_HELLO_MAX_MS : b;
            self->hello_next_ms = now + self->hello_backoff_ms;
        }
    }
    if (idle == PL_LINK_IDLE_PING) {
        // an unsent ping (no pipe) counts as unanswered: the link is
        // re-created after the timeout, as for a silent broker
        s_send_heartbeat(self);
        self->ping_ms = now;
        pl_log_debug(self->log, "ping_sent quiet_ms=%llu",
                     (unsigned long long) (now - self->last_rx_ms));
    }
    if (self->session && now >= self->dir_next_ms)
        pl_node_ask_directory(self, true);
    if (self->session && now >= self->rs_next_ms) {
        // bounded: a batch per pass, the broker socket is read in between
        bool more = pl_node_resend_due(self);
        self->rs_next_ms = more ? now : now + 500;
    }
    if (self->ctl_parked && now >= self->ctl_deadline_ms) {
        pl_node_ctl_status(self, NULL);
        s_ctl_reply_send(self);
    }
    if (now >= self->usage_next_ms) {
        unsigned pct;
        if (pl_store_usage(self->store, &pct) == PL_OK) {
            if (pct >= PL_STORE_FULL_PCT && self->usage_pct < PL_STORE_FULL_PCT)
                pl_log_error(self->log,
                             "store_near_full use_pct=%u: new messages are "
                             "refused until space is freed",
                             pct);
            self->usage_pct = pct;
        }
        self->usage_next_ms = now + S_USAGE_MS;
    }
    if (now >= self->reader_next_ms) {
        PL_IGNORE(pl_store_reader_check(self->store, NULL));
        self->reader_next_ms = now + S_READER_CHECK_MS;
    }
    if (now >= self->prune_next_ms) {
        pl_node_prune(self);
        self->prune_next_ms = now + S_PRUNE_MS;
    }
    if (self->npark)
        pl_node_park_expire(self);
    pl_node_ops_timers(self); // old box keys, map growth
    if (now >= self->overdue_next_ms) {
        pl_node_case_overdue_sweep(self); // issue 8: log newly overdue
        pl_node_handover_sweep(self);     // issue 13: purge handed-over cases
        self->overdue_next_ms = now + S_OVERDUE_MS;
    }
    if (now >= self->report_next_ms && self->session) {
        pl_node_coord_tick(self); // issue 15: the daily aggregate reports
        self->report_next_ms = now + S_OVERDUE_MS;
    }
}

// Milliseconds until the next timer, capped at one second.
static long
s_poll_timeout(const pl_node_t *self)
{
    uint64_t now = pl_mono_ms();
    uint64_t next = now + 1000;
#define S_MIN(t)                                                               \
    do {                                                                       \
        if ((t) < next)                                                        \
            next = (t);                                                        \
    } while (0)
    if (self->session) {
        pl_link_idle_cfg_t icfg;
        pl_link_clock_t iclk;
        s_idle(self, &icfg, &iclk);
        S_MIN(pl_link_idle_next(&icfg, &iclk));
        S_MIN(self->rs_next_ms);
    } else {
        S_MIN(self->hello_next_ms);
    }
    if (self->ctl_parked)
        S_MIN(self->ctl_deadline_ms);
    if (self->park_replay)
        next = now;
#undef S_MIN
    return next > now ? (long) (next - now) : 0;
}

// The store failed for good (pl_store_failed): says so once and tells the
// loop to stop. Nothing of the failed commit was acknowledged, and nothing
// is from now on: the process exits (PL_NODE_EXIT_STORE) so that a
// supervisor restarts it on a clean environment.
static bool
s_failed(pl_node_t *self)
{
    int code = pl_store_failed(self->store);
    if (!code)
        return false;
    pl_log_error(self->log,
                 "store_failed code=%d err=\"%s\": the store cannot be "
                 "trusted after this error; nothing more is acknowledged; "
                 "exiting with status %d (restart the node: what was "
                 "acknowledged is on disk)",
                 code, pl_store_strerror(code), PL_NODE_EXIT_STORE);
    return true;
}

static void s_revoked_pass(pl_node_t *self);

int
pl_node_run(pl_node_t *self, int wake_fd, volatile sig_atomic_t *stop,
            volatile sig_atomic_t *reload)
{
    self->hello_next_ms = pl_mono_ms();
    self->dir_gate_ms = self->hello_next_ms + S_DIR_GATE_MS;
    pl_log_info(self->log,
                "node_started home=%s address=%s broker=%s heartbeat_ms=%d "
                "heartbeat_timeout_ms=%d",
                self->home, self->me.address, self->broker_ep,
                self->heartbeat_ms, self->hb_wait_ms);
    while (!*stop) {
        s_timers(self);
        if (s_failed(self))
            return PL_EIO;
        zmq_pollitem_t items[3] = {
            {self->dealer, 0, ZMQ_POLLIN, 0},
            {self->ctl, 0, ZMQ_POLLIN, 0},
            {NULL, wake_fd, ZMQ_POLLIN, 0},
        };
        int nitems = wake_fd >= 0 ? 3 : 2;
        // a parked control request must be answered before the next one
        // is read (REP): do not poll the control socket meanwhile
        if (self->ctl_parked)
            items[1].events = 0;
        int r = zmq_poll(items, nitems, s_poll_timeout(self));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            pl_log_error(self->log, "poll_failed err=\"%s\"",
                         zmq_strerror(errno));
            return PL_EIO;
        }
        if (nitems == 3 && (items[2].revents & ZMQ_POLLIN)) {
            char drain[64];
            while (read(wake_fd, drain, sizeof drain) > 0) {
            }
        }
        if (*reload) {
            *reload = 0;
            s_revoked_pass(self);
            // what SIGHUP reloads, and what it found (other settings take
            // a restart)
            pl_log_info(
                self->log, "reloaded what=revoked number=%llu serials=%zu",
                (unsigned long long) self->revoked.number, self->revoked.count);
        }
        bool din = items[0].revents & ZMQ_POLLIN;
        bool cin = items[1].revents & ZMQ_POLLIN;
        if (din || cin || self->park_replay)
            s_pass(self, din, cin);
        if (s_failed(self))
            return PL_EIO;
    }
    pl_log_info(self->log, "node_stopping");
    return PL_OK;
}

// ---- lifecycle

// Refuses to go on if any DIR/keys/**/*.secret is readable by others, or
// any file or folder under DIR/keys can be changed by another user.
static int
s_check_secrets(const char *dir, char *err, size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return PL_OK; // missing keys are reported by pl_keys_load
    int rc = PL_OK;
    struct dirent *e;
    while (rc == PL_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        rc = pl_home_check_path(path, err, n);
        if (rc != PL_OK)
            break;
        if (S_ISDIR(st.st_mode)) {
            rc = s_check_secrets(path, err, n);
            continue;
        }
        size_t len = strlen(e->d_name);
        if (len > 7 && strcmp(e->d_name + len - 7, ".secret") == 0
            && (st.st_mode & 077)) {
            pl_errf(err, n,
                    "%s is readable by group or others (mode %04o): refusing "
                    "to start; run chmod 600 on it",
                    path, (unsigned) (st.st_mode & 07777));
            rc = PL_EPERM;
        }
    }
    closedir(d);
    return rc;
}

// Sets a DEALER's options: CURVE client, limits, backoff. No ZMTP
// heartbeats (ZMQ_HEARTBEAT_IVL 0 arms no heartbeat timeout): the link's
// liveness is ours (s_relink). ZMQ_CONNECT_TIMEOUT bounds one connect
// attempt, so that a connect started during a long cut does not wait out
// the kernel's SYN backoff (about 2 min) once the link is back; with the
// reconnect interval capped at 2 s a reconnect follows within seconds.
static int
s_dealer_setup(void *s, const pl_node_t *self)
{
    int linger = 1000, hwm = 10000, immediate = 1;
    int hb_ivl = 0, handshake = 5000, connect_timeout = 2000;
    int reconnect = 100, reconnect_max = 2000;
    int64_t maxmsg = PL_PACKET_MAX;
    int rc = 0;
    rc |= zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, self->broker.keys.curve, 32);
    rc |= zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, self->keys->pub.curve, 32);
    rc |= zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, self->keys->sec->curve, 32);
    rc |= zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    rc |= zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    rc |= zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    // no pipe until connected: while offline a send fails (EAGAIN) rather
    // than piling stale packets in memory; the outbox is the buffer
    rc |= zmq_setsockopt(s, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    rc |= zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    rc |= zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl);
    rc |= zmq_setsockopt(s, ZMQ_HANDSHAKE_IVL, &handshake, sizeof handshake);
    rc |= zmq_setsockopt(s, ZMQ_CONNECT_TIMEOUT, &connect_timeout,
                         sizeof connect_timeout);
    rc |= zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    rc |= zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &reconnect_max,
                         sizeof reconnect_max);
    return rc == 0 ? PL_OK : PL_EIO;
}

static int
s_control_setup(pl_node_t *self)
{
    int linger = 0, maxmsg_i = 0;
    int64_t maxmsg = 1024 * 1024; // a request is small JSON
    (void) maxmsg_i;
    int rc = 0;
    rc |= zmq_setsockopt(self->ctl, ZMQ_LINGER, &linger, sizeof linger);
    rc |= zmq_setsockopt(self->ctl, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (rc != 0)
        return PL_EIO;
    // a control socket file left by a killed daemon: we hold the lock, so
    // it cannot belong to a live one
    unlink(self->ctl_path);
    // the socket file is created 0600-ish by our umask; the CLI runs as
    // the same user
    mode_t old = umask(077);
    rc = zmq_bind(self->ctl, self->ctl_ep);
    umask(old);
    return rc == 0 ? PL_OK : PL_EIO;
}

// Reads the certificates: ours, the broker's, the authority's key.
static int
s_load_certs(pl_node_t *self, char *err, size_t n)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/authority.pub", self->home);
    int rc = pl_authority_pub_load(path, self->authority_pk);
    if (rc != PL_OK) {
        pl_errf(err, n, "cannot read %s: %s (enrol this node first)", path,
                pl_strerror(rc));
        return rc;
    }
    snprintf(path, sizeof path, "%s/node.cert", self->home);
    rc = pl_cert_load(path, self->authority_pk, &self->me, NULL);
    if (rc != PL_OK) {
        pl_errf(err, n, "cannot load %s: %s (enrol this node first)", path,
                pl_strerror(rc));
        return rc;
    }
    if (memcmp(self->me.keys.sign, self->keys->pub.sign, 32) != 0
        || memcmp(self->me.keys.curve, self->keys->pub.curve, 32) != 0) {
        pl_errf(err, n,
                "%s does not match the keys in %s/keys: re-enrol this node",
                path, self->home);
        return PL_EAUTH;
    }
    if (memcmp(self->me.keys.box, self->keys->pub.box, 32) != 0)
        pl_log_warn(self->log,
                    "box_key_not_certified: the box key was rotated; senders "
                    "use the certified one until the node is re-enrolled");
    int crc = pl_cert_check(&self->me, pl_now(), NULL);
    if (crc != PL_OK)
        pl_log_error(self->log, "own_certificate_invalid reason=%s",
                     pl_strerror(crc));
    else if (self->me.not_after < pl_now() + PL_CERT_WARN_DAYS * 86400ULL)
        pl_log_warn(self->log, "own_certificate_expires_soon not_after=%llu",
                    (unsigned long long) self->me.not_after);
    snprintf(path, sizeof path, "%s/broker.cert", self->home);
    rc = pl_cert_load(path, self->authority_pk, &self->broker, NULL);
    if (rc != PL_OK) {
        pl_errf(err, n, "cannot load %s: %s (copy the broker's node.cert here)",
                path, pl_strerror(rc));
        return rc;
    }
    return PL_OK;
}

// DIR/revoked and what the list we hold then says of this node, in one
// transaction: a revoked node's waiting envelopes are refused with it,
// all or nothing.
static void
s_revoked_pass(pl_node_t *self)
{
    pl_txn_t *t = NULL;
    if (pl_store_begin(self->store, NULL, true, &t) != PL_OK)
        return;
    int rc = pl_node_reload_revoked(self, t);
    if (rc == PL_OK)
        rc = pl_node_self_revoked(self, t);
    if (rc == PL_OK)
        rc = pl_store_commit(&t);
    else
        pl_store_abort(&t);
    pl_node_resend_settle(self, rc == PL_OK); // what it refused: not resent
    if (rc != PL_OK)
        pl_log_error(self->log, "revoked_pass_failed err=%s", pl_strerror(rc));
}

// Loads the newest revocation list: the store's, then DIR/revoked.
static void
s_load_revoked(pl_node_t *self)
{
    pl_txn_t *t = NULL;
    if (pl_store_begin(self->store, NULL, false, &t) == PL_OK) {
        const uint8_t *v;
        size_t vlen;
        if (pl_store_get(t, PL_DB_SETTINGS, "revlist", 7, &v, &vlen) == PL_OK) {
            pl_revlist_t cand;
            if (pl_revlist_decode(v, vlen, self->authority_pk, &cand) == PL_OK)
                PL_IGNORE(pl_revlist_replace(&self->revoked, &cand));
            pl_revlist_free(&cand);
        }
        pl_store_abort(&t);
    }
    s_revoked_pass(self);
}

// The home: resolved, its control endpoint within the ipc limit, safe
// (pl_home_check), the broker endpoint kept, and DIR/daemon.lock taken.
static int
s_open_home(pl_node_t *self, const pl_node_opts_t *opts, char *err,
            size_t err_size)
{
    if (!realpath(opts->home, self->home)) {
        pl_errf(err, err_size, "cannot resolve the home folder %s: %s",
                opts->home, strerror(errno));
        return PL_ENOTFOUND;
    }
    if (pl_node_control_endpoint(self->home, self->ctl_ep, sizeof self->ctl_ep)
        != PL_OK) {
        pl_errf(err, err_size,
                "the home folder path is too long: ipc://%s/control would be "
                "%zu bytes, the limit for an ipc socket is %d; use a shorter "
                "path",
                self->home, strlen(self->home) + 14, PL_HOME_IPC_MAX);
        return PL_ETOOBIG;
    }
    int rc = pl_home_check(self->home, err, err_size); // one check (pl_home)
    if (rc != PL_OK)
        return rc;
    snprintf(self->ctl_path, sizeof self->ctl_path, "%s/control", self->home);
    if (snprintf(self->broker_ep, sizeof self->broker_ep, "%s", opts->broker)
        >= (int) sizeof self->broker_ep) {
        pl_errf(err, err_size, "the broker endpoint is too long");
        return PL_EINVAL;
    }
    // one lock take for node, broker and CLI (pl_home)
    rc = pl_home_lock_take(self->home, &self->lock_fd, err, err_size);
    if (rc == PL_EEXIST && errno == EWOULDBLOCK)
        pl_errf(err, err_size,
                "another passerelle-node is already running on %s (it "
                "holds %s/daemon.lock)",
                self->home, self->home);
    if (rc != PL_OK)
        return rc;
    // the holder's pid, so that a CLI waiting for an answer can tell that
    // the daemon it asked has been replaced by another one
    if (pl_home_lock_write_pid(self->lock_fd) != PL_OK)
        pl_log_warn(self->log, "lock_pid_not_written");
    return PL_OK;
}

// The keys (secret files checked first) and the certificates.
static int
s_open_keys(pl_node_t *self, char *err, size_t err_size)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/keys", self->home);
    int rc = s_check_secrets(path, err, err_size);
    if (rc != PL_OK)
        return rc;
    rc = pl_keys_load(self->home, &self->keys);
    if (rc != PL_OK) {
        pl_errf(err, err_size, "cannot load the keys in %s/keys: %s%s",
                self->home, pl_strerror(rc),
                rc == PL_ENOTFOUND ? " (run passerelle init first)" : "");
        return rc;
    }
    return s_load_certs(self, err, err_size);
}

// The store, and what the node keeps in it: revocation list, directory,
// the map's use.
static int
s_open_store(pl_node_t *self, const pl_node_opts_t *opts, char *err,
             size_t err_size)
{
    char store_dir[PATH_MAX + 32], master[PATH_MAX + 32], serr[512];
    snprintf(store_dir, sizeof store_dir, "%s/store", self->home);
    snprintf(master, sizeof master, "%s/keys/master.secret", self->home);
    pl_store_opts_t so = {
        .map_bytes = opts->map_bytes,
        .master_path = master,
        .passphrase = opts->passphrase,
        .passphrase_len = opts->passphrase_len,
        .log = self->log,
    };
    int rc = pl_store_open(store_dir, &so, &self->store, serr, sizeof serr);
    if (rc != PL_OK) {
        pl_errf(err, err_size, "cannot open the store: %s", serr);
        return rc;
    }
    s_load_revoked(self);
    pl_node_cat_load(self); // issue 18
    rc = pl_node_dir_load(self);
    if (rc != PL_OK) {
        pl_errf(err, err_size, "cannot read the directory from the store: %s",
                pl_strerror(rc));
        return rc;
    }
    pl_node_dirset_open(self); // issue 20: what to name in the request
    PL_IGNORE(pl_store_usage(self->store, &self->usage_pct));
    return PL_OK;
}

// ZeroMQ: the DEALER to the broker, then the control socket (its file
// appearing means "ready").
static int
s_open_sockets(pl_node_t *self, char *err, size_t err_size)
{
    self->zctx = zmq_ctx_new();
    if (!self->zctx) {
        pl_errf(err, err_size, "cannot start ZeroMQ");
        return PL_EIO;
    }
    self->dealer = zmq_socket(self->zctx, ZMQ_DEALER);
    self->ctl = zmq_socket(self->zctx, ZMQ_REP);
    if (!self->dealer || !self->ctl
        || s_dealer_setup(self->dealer, self) != PL_OK) {
        pl_errf(err, err_size, "cannot set up the broker socket: %s",
                zmq_strerror(errno));
        return PL_EIO;
    }
    if (zmq_connect(self->dealer, self->broker_ep) != 0) {
        pl_errf(err, err_size, "bad broker endpoint %s: %s", self->broker_ep,
                zmq_strerror(errno));
        return PL_EINVAL;
    }
    // the control socket last: its file appearing means "ready"
    if (s_control_setup(self) != PL_OK) {
        pl_errf(err, err_size, "cannot bind %s: %s", self->ctl_ep,
                zmq_strerror(errno));
        return PL_EIO;
    }
    return PL_OK;
}

// Operations settings (box key grace, map growth) and the first timers.
static void
s_start(pl_node_t *self, const pl_node_opts_t *opts)
{
    self->box_grace_days = opts->box_grace_days < 0 ? 0
                           : opts->box_grace_days == 0
                               ? PL_NODE_BOX_GRACE_DAYS
                               : (uint32_t) opts->box_grace_days;
    self->handover_keep_days = opts->handover_keep_days < 0 ? 0
                               : opts->handover_keep_days == 0
                                   ? PL_NODE_HANDOVER_KEEP_DAYS
                                   : (uint32_t) opts->handover_keep_days;
    self->report_hours = opts->report_hours < 0 ? 0
                         : opts->report_hours == 0
                             ? PL_COORD_REPORT_HOURS
                             : (unsigned) opts->report_hours;
    self->map_max_bytes =
        opts->map_max_bytes ? opts->map_max_bytes : PL_NODE_MAP_MAX_DEFAULT;
    if (self->map_max_bytes < pl_store_map_size(self->store))
        self->map_max_bytes = pl_store_map_size(self->store);
    pl_node_ops_start(self);
    uint64_t now = pl_mono_ms();
    self->link_since_ms = now;
    self->reader_next_ms = now + S_READER_CHECK_MS;
    self->usage_next_ms = now + S_USAGE_MS;
    self->prune_next_ms = now + 5000; // soon after start, then periodically
}

int
pl_node_new(const pl_node_opts_t *opts, pl_node_t **out, char *err,
            size_t err_size)
{
    *out = NULL;
    pl_errf(err, err_size, "unknown error");
    pl_node_t *self = calloc(1, sizeof *self);
    if (!self) {
        pl_errf(err, err_size, "out of memory");
        return PL_ENOMEM;
    }
    self->lock_fd = -1;
    self->log = opts->log;
    self->heartbeat_ms =
        opts->heartbeat_ms > 0 ? opts->heartbeat_ms : PL_NODE_HEARTBEAT_MS;
    self->hb_wait_ms = opts->hb_wait_ms > 0 ? opts->hb_wait_ms
                       : self->heartbeat_ms < PL_NODE_HB_WAIT_MS / 2
                           ? self->heartbeat_ms * 2
                           : PL_NODE_HB_WAIT_MS;
    self->started_ms = pl_mono_ms();
    int rc = s_open_home(self, opts, err, err_size);
    if (rc == PL_OK)
        rc = s_open_keys(self, err, err_size);
    if (rc == PL_OK)
        rc = s_open_store(self, opts, err, err_size);
    if (rc == PL_OK)
        rc = s_open_sockets(self, err, err_size);
    if (rc != PL_OK) {
        pl_node_destroy(&self);
        return rc;
    }
    self->sessions = pl_sessions_new(opts->session_idle_s, opts->session_max_s);
    if (!self->sessions) {
        pl_errf(err, err_size, "out of memory");
        pl_node_destroy(&self);
        return PL_ENOMEM;
    }
    s_start(self, opts);
    *out = self;
    return PL_OK;
}

void
pl_node_destroy(pl_node_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pl_node_t *self = *self_p;
    if (self->ctl_parked) {
        pl_node_ctl_status(self, NULL);
        s_ctl_reply_send(self);
    }
    free(self->ctl_reply);
    free(self->ctl_deferred);
    pl_sessions_destroy(&self->sessions);
    pl_node_after_flush(self, false);
    free(self->after);
    for (size_t i = 0; i < self->npark; i++)
        pl_buf_free(&self->park[i].packet);
    free(self->rs);
    pl_buf_free(&self->settled);
    if (self->ctl) {
        zmq_close(self->ctl);
        unlink(self->ctl_path);
    }
    if (self->dealer)
        zmq_close(self->dealer);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    pl_store_close(&self->store);
    pl_keys_destroy(&self->keys);
    pl_revlist_free(&self->revoked);
    free(self->dir);
    free(self->gone);
    pl_cert_memo_free(&self->dir_memo);
    pl_node_dir_pages_free(self);
    pl_buf_free(&self->cat);
    if (self->lock_fd >= 0)
        pl_home_lock_release(&self->lock_fd);
    free(self);
    *self_p = NULL;
}
