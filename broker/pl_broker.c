// pl_broker - the broker's event loop: sessions, routing, delivery, expiry
// and store failure. The ZAP handler is in pl_zap.c, the operator surface
// in pl_broker_ctl.c, new/destroy in pl_broker_life.c; the state they share
// in pl_broker_int.h. Layer: broker.
#include "broker/pl_broker.h"

#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <zmq.h>

#include "broker/pl_broker_int.h"
#include "broker/pl_catalog.h"
#include "broker/pl_door.h"
#include "broker/pl_fed.h"
#include "broker/pl_registry.h"
#include "broker/pl_spool.h"
#include "proto/pl_cert.h"
#include "proto/pl_envelope.h"
#include "proto/pl_keys.h"
#include "proto/pl_peek.h"
#include "proto/pl_wire.h"

// ------------------------------------------------------------ helpers

// eq of the indexes: entry i of the array has this key
static bool
s_stats_eq(const void *arg, size_t i, const void *key, size_t len)
{
    const pl_broker_t *self = arg;
    return strlen(self->stats[i].address) == len
           && memcmp(self->stats[i].address, key, len) == 0;
}

static bool
s_session_addr_eq(const void *arg, size_t i, const void *key, size_t len)
{
    const pl_broker_t *self = arg;
    return strlen(self->sessions[i].address) == len
           && memcmp(self->sessions[i].address, key, len) == 0;
}

static bool
s_session_rid_eq(const void *arg, size_t i, const void *key, size_t len)
{
    const pl_broker_t *self = arg;
    return self->sessions[i].rid_len == len
           && memcmp(self->sessions[i].rid, key, len) == 0;
}

pl_stats_t *
pl_broker_stats(pl_broker_t *self, const char *address)
{
    size_t alen = strlen(address);
    size_t i =
        pl_index_find(&self->stats_by_address, address, alen, s_stats_eq, self);
    if (i != PL_INDEX_NONE)
        return &self->stats[i];
    if (self->nstats == self->capstats) {
        size_t cap = self->capstats ? self->capstats * 2 : 16;
        pl_stats_t *p = realloc(self->stats, cap * sizeof *p);
        if (!p)
            return NULL;
        self->stats = p;
        self->capstats = cap;
    }
    if (pl_index_put(&self->stats_by_address, address, alen, self->nstats) != 0)
        return NULL;
    pl_stats_t *st = &self->stats[self->nstats++];
    memset(st, 0, sizeof *st);
    snprintf(st->address, sizeof st->address, "%s", address);
    return st;
}

static pl_session_t *
s_session_by_rid(pl_broker_t *self, const uint8_t *rid, size_t len)
{
    size_t i =
        pl_index_find(&self->session_by_rid, rid, len, s_session_rid_eq, self);
    return i == PL_INDEX_NONE ? NULL : &self->sessions[i];
}

pl_session_t *
pl_broker_session_by_address(pl_broker_t *self, const char *address)
{
    size_t i = pl_index_find(&self->session_by_address, address,
                             strlen(address), s_session_addr_eq, self);
    return i == PL_INDEX_NONE ? NULL : &self->sessions[i];
}

// 's' may have something new to deliver; noted for the pass's early
// delivery, so that it visits these sessions only, not every connected one
static void
s_mark_due(pl_broker_t *self, pl_session_t *s)
{
    s->due = true;
    if (s->marked_pass == self->pass_no)
        return;
    s->marked_pass = self->pass_no;
    if (self->nmarked == self->capmarked) {
        size_t cap = self->capmarked ? self->capmarked * 2 : 64;
        size_t *p = realloc(self->marked, cap * sizeof *p);
        if (!p) {
            self->marked_stale = true; // delivered after the commit
            return;
        }
        self->marked = p;
        self->capmarked = cap;
    }
    self->marked[self->nmarked++] = (size_t) (s - self->sessions);
}

void
pl_broker_due(pl_broker_t *self, const char *address)
{
    pl_session_t *s = pl_broker_session_by_address(self, address);
    if (s)
        s_mark_due(self, s);
}

void
pl_broker_session_drop(pl_broker_t *self, pl_session_t *s, const char *why)
{
    pl_log_info(self->log, "node_offline address=%s reason=%s", s->address,
                why);
    size_t i = (size_t) (s - self->sessions), last = self->nsessions - 1;
    self->marked_stale = true; // the pass's early delivery is skipped
    pl_index_del(&self->session_by_rid, s->rid, s->rid_len, i);
    pl_index_del(&self->session_by_address, s->address, strlen(s->address), i);
    if (i != last) { // the last session takes the slot
        pl_session_t *m = &self->sessions[last];
        pl_index_renumber(&self->session_by_rid, m->rid, m->rid_len, last, i);
        pl_index_renumber(&self->session_by_address, m->address,
                          strlen(m->address), last, i);
        self->sessions[i] = *m;
    }
    self->nsessions--;
}

static void
s_routed(pl_broker_t *self)
{
    uint64_t sec = pl_mono_ms() / 1000;
    if (sec != self->routed_slot) {
        // clear the slots skipped since the last write
        for (uint64_t s = self->routed_slot + 1;
             s <= sec && s <= self->routed_slot + 60; s++)
            self->routed_minute[s % 60] = 0;
        self->routed_slot = sec;
    }
    self->routed_minute[sec % 60]++;
}

// queues a reply; 'durable' ones go out only after the pass commits
void
pl_broker_reply(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
                pl_buf_t *pkt, bool durable)
{
    if (self->nreplies == self->capreplies) {
        size_t cap = self->capreplies ? self->capreplies * 2 : 64;
        pl_reply_t *p = realloc(self->replies, cap * sizeof *p);
        if (!p) {
            pl_buf_free(pkt);
            return;
        }
        self->replies = p;
        self->capreplies = cap;
    }
    pl_reply_t *r = &self->replies[self->nreplies++];
    memcpy(r->rid, rid, rid_len);
    r->rid_len = rid_len;
    r->packet = *pkt;
    r->durable = durable;
    r->accepted = false;
    memset(pkt, 0, sizeof *pkt);
}

// sends one frame pair now; returns 0, or errno (EAGAIN, EHOSTUNREACH)
int
pl_broker_send(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
               const uint8_t *data, size_t len)
{
    if (zmq_send(self->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno;
    if (zmq_send(self->router, data, len, ZMQ_DONTWAIT) < 0)
        return errno;
    return 0;
}

static void
s_reject(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
         const uint8_t *id, Passerelle__V1__RejectReason reason,
         const char *detail, const char *from)
{
    char hex[2 * PL_MSG_ID_BYTES + 1] = "-";
    if (id)
        pl_hex(hex, id, PL_MSG_ID_BYTES);
    pl_stats_t *st = from ? pl_broker_stats(self, from) : NULL;
    if (st)
        st->rejected++;
    uint64_t quiet = 0;
    bool last = false;
    // store-full refusals have their own rate-limited lines (store_full,
    // quota_exceeded); the others have a budget per sender: a refusal
    // storm must not become a log storm
    if (reason != PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL
        && pl_log_budget(st ? &st->reject_log : &self->reject_log, pl_mono_ms(),
                         S_REJECT_LOG_LINES, S_REJECT_LOG_WINDOW, &quiet,
                         &last)) {
        char more[48] = "";
        if (quiet)
            snprintf(more, sizeof more, " left_out_before=%llu",
                     (unsigned long long) quiet);
        pl_log_warn(self->log,
                    "rejected from=%s id=%s reason=%s detail=\"%s\"%s",
                    from ? from : "-", hex, pl_wire_reason_name(reason),
                    detail ? detail : "", more);
        if (last)
            pl_log_warn(self->log,
                        "rejected_quiet from=%s lines=%d window_s=%d: its "
                        "next refusals in this window are counted, not logged",
                        from ? from : "-", S_REJECT_LOG_LINES,
                        S_REJECT_LOG_WINDOW / 1000);
    }
    pl_buf_t pkt = {0};
    if (pl_wire_rejected(id, reason, detail, &pkt) == PL_OK)
        pl_broker_reply(self, rid, rid_len, &pkt, false);
}

// ------------------------------------------------------------ packets

// Checks the connection's identity against the registry as it is now.
// Returns the address (into 'address') or a reject reason.
static Passerelle__V1__RejectReason
s_identity(pl_broker_t *self, zmq_msg_t *body, char *address)
{
    const char *user = zmq_msg_gets(body, "User-Id");
    const char *curve = zmq_msg_gets(body, "X-Curve");
    uint8_t key[32];
    if (!user || !curve || pl_unhex(key, 32, curve) != PL_OK)
        return PASSERELLE__V1__REJECT_REASON__REJECT_NOT_ENROLLED;
    const pl_reg_entry_t *e = pl_registry_by_curve(self->reg, key);
    if (!e || strcmp(e->cert.address, user) != 0)
        return PASSERELLE__V1__REJECT_REASON__REJECT_NOT_ENROLLED;
    int rc = pl_registry_check(self->reg, e, pl_now());
    if (rc == PL_EREVOKED)
        return PASSERELLE__V1__REJECT_REASON__REJECT_REVOKED;
    if (rc != PL_OK)
        return PASSERELLE__V1__REJECT_REASON__REJECT_EXPIRED;
    snprintf(address, PL_ADDRESS_MAX + 1, "%s", user);
    return PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN;
}

static void
s_welcome(pl_broker_t *self, pl_session_t *s)
{
    Passerelle__V1__Welcome w = PASSERELLE__V1__WELCOME__INIT;
    w.time = pl_now();
    w.address = s->address;
    const pl_revlist_t *rl = pl_registry_revoked(self->reg);
    w.has_revocation_number = rl->number > 0;
    w.revocation_number = rl->number;
    Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_WELCOME;
    p.welcome = &w;
    pl_buf_t out = {0};
    if (pl_wire_encode(&p, &out) == PL_OK)
        pl_broker_reply(self, s->rid, s->rid_len, &out, false);
    else
        pl_buf_free(&out);
    s->welcome_pass = self->pass_no; // nothing goes out before it
}

// a new slot at the end of the sessions, filed under rid and address in
// the indexes; NULL when out of memory (nothing changed)
static pl_session_t *
s_session_add(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
              const char *address)
{
    if (self->nsessions == self->capsessions) {
        size_t cap = self->capsessions ? self->capsessions * 2 : 16;
        pl_session_t *p = realloc(self->sessions, cap * sizeof *p);
        if (!p)
            return NULL;
        self->sessions = p;
        self->capsessions = cap;
    }
    size_t i = self->nsessions, alen = strlen(address);
    if (pl_index_put(&self->session_by_rid, rid, rid_len, i) != 0)
        return NULL;
    if (pl_index_put(&self->session_by_address, address, alen, i) != 0) {
        pl_index_del(&self->session_by_rid, rid, rid_len, i);
        return NULL;
    }
    self->nsessions++;
    return &self->sessions[i];
}

// Finds or creates the session of this connection. A packet from a
// connection without a session gets a welcome: "(re)synchronise".
static pl_session_t *
s_session(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
          const char *address, bool *fresh)
{
    *fresh = false;
    pl_session_t *s = s_session_by_rid(self, rid, rid_len);
    if (s)
        return s;
    // a new connection of a node replaces its old one (reconnect)
    s = pl_broker_session_by_address(self, address);
    if (s) {
        size_t i = (size_t) (s - self->sessions);
        if (pl_index_put(&self->session_by_rid, rid, rid_len, i) != 0)
            return NULL;
        pl_index_del(&self->session_by_rid, s->rid, s->rid_len, i);
    } else if (!(s = s_session_add(self, rid, rid_len, address)))
        return NULL;
    memset(s, 0, sizeof *s);
    memcpy(s->rid, rid, rid_len);
    s->rid_len = rid_len;
    snprintf(s->address, sizeof s->address, "%s", address);
    s->connected_since = pl_now();
    s->due = true; // what was queued while it was away
    *fresh = true;
    pl_log_info(self->log, "node_online address=%s", address);
    return s;
}

// store_full at most once per 10 s, with how many refusals it stands for
static void
s_store_full_log(pl_broker_t *self, const char *why)
{
    uint64_t mono = pl_mono_ms();
    if (self->full_log_ms && mono - self->full_log_ms < 10000) {
        self->full_quiet++;
        return;
    }
    pl_log_warn(self->log,
                "store_full reason=%s map_use_pct=%u refused_since_last=%llu",
                why, pl_spool_usage_pct(self->spool),
                (unsigned long long) self->full_quiet);
    self->full_log_ms = mono;
    self->full_quiet = 0;
}

static void
s_handle_envelope(pl_broker_t *self, pl_session_t *s, const pl_envelope_t *env,
                  const uint8_t *raw, size_t raw_len)
{
    const pl_envelope_t view = *env;
    pl_header_t hdr;
    if (pl_header_decode(view.header, view.header_len, &hdr) != PL_OK) {
        s_reject(self, s->rid, s->rid_len, NULL,
                 PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED, "bad header",
                 s->address);
        return;
    }
    if (strcmp(hdr.from, s->address) != 0) {
        s_reject(self, s->rid, s->rid_len, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_SPOOFED,
                 "header from differs from the connection", s->address);
        return;
    }
    uint64_t now = pl_now();
    if (hdr.expires_at <= now || hdr.expires_at > now + PL_TTL_MAX + 300) {
        s_reject(self, s->rid, s->rid_len, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_EXPIRED,
                 "expired or ttl over 90 days", s->address);
        return;
    }
    const pl_reg_entry_t *to = pl_registry_by_address(self->reg, hdr.to, now);
    // issue 13: a recipient of a federated network goes to its link
    const char *fed_why = NULL;
    int fed = to ? PL_ENOTFOUND : pl_fed_route(self, &hdr, &fed_why);
    if (!to && fed != PL_ENOTFOUND && fed != PL_OK) {
        // no or a stale foreign directory: "retry later" (nothing lost,
        // the sender keeps it); an unknown or revoked recipient: final
        s_reject(self, s->rid, s->rid_len, hdr.id,
                 fed == PL_ESTATE
                     ? PASSERELLE__V1__REJECT_REASON__REJECT_FOREIGN_UNAVAILABLE
                     : PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN_RECIPIENT,
                 fed_why, s->address);
        return;
    }
    if (!to && fed != PL_OK) {
        s_reject(self, s->rid, s->rid_len, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN_RECIPIENT,
                 "recipient not enrolled or not valid", s->address);
        return;
    }
    if (self->cfg.verify_outer) {
        const pl_reg_entry_t *from =
            pl_registry_by_address(self->reg, hdr.from, now);
        if (!from || pl_envelope_verify(&view, from->cert.keys.sign) != PL_OK) {
            s_reject(self, s->rid, s->rid_len, hdr.id,
                     PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE,
                     "outer signature", s->address);
            return;
        }
    }
    int nrc = pl_spool_nest_fast(self->spool);
    if (nrc != PL_OK) {
        // PL_EFULL: this pass already failed half-way and will commit
        // nothing (pl_spool_nest_fast): the sender retries
        s_reject(
            self, s->rid, s->rid_len, hdr.id,
            nrc == PL_EFULL ? PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL
                            : PASSERELLE__V1__REJECT_REASON__REJECT_STORE_ERROR,
            nrc == PL_EFULL ? "broker store full; retry later" : "store busy",
            s->address);
        return;
    }
    bool dup = false;
    pl_spool_refusal_t why = PL_SPOOL_ROOM;
    int rc = fed == PL_OK
                 ? pl_fed_put(self, &hdr, raw, raw_len, &dup, &why)
                 : pl_spool_put_signed(self->spool, &hdr, &view, raw, raw_len,
                                       pl_now_ms(), &dup, &why);
    if (rc == PL_OK)
        rc = pl_spool_nest_commit(self->spool);
    else
        pl_spool_nest_abort(self->spool);
    char hex[33];
    pl_hex(hex, hdr.id, PL_MSG_ID_BYTES);
    if (rc == PL_OK || (rc == PL_EEXIST && dup)) {
        if (rc == PL_OK) {
            pl_stats_t *st = pl_broker_stats(self, s->address);
            if (st)
                st->accepted++;
            s_routed(self);
            pl_broker_due(self, hdr.to);
            pl_log_debug(self->log, "accepted id=%s from=%s to=%s bytes=%zu",
                         hex, hdr.from, hdr.to, raw_len);
        } else {
            pl_log_debug(self->log, "duplicate id=%s from=%s", hex, hdr.from);
        }
        pl_buf_t out = {0};
        if (pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_ACCEPTED, hdr.id,
                              &out)
            == PL_OK) {
            pl_broker_reply(self, s->rid, s->rid_len, &out, true);
            if (self->nreplies
                && self->replies[self->nreplies - 1].packet.data) {
                pl_reply_t *r = &self->replies[self->nreplies - 1];
                r->accepted = true;
                memcpy(r->id, hdr.id, PL_MSG_ID_BYTES);
            }
        } else {
            pl_buf_free(&out);
        }
    } else if (rc == PL_ETOOBIG) {
        s_reject(self, s->rid, s->rid_len, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_TOO_LARGE,
                 "too large to cross the border (the transit wrap)",
                 s->address);
    } else if (rc == PL_EAUTH) {
        pl_log_error(self->log, "attack_same_id_other_bytes id=%s from=%s", hex,
                     hdr.from);
        s_reject(self, s->rid, s->rid_len, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_DUPLICATE_CONFLICT,
                 "same id, other bytes", s->address);
    } else if (rc == PL_EFULL && why != PL_SPOOL_MAP_FULL) {
        // one node over its share: refused, the rest of the network served
        const char *who = why == PL_SPOOL_SENDER_OVER ? hdr.from : hdr.to;
        pl_stats_t *st = pl_broker_stats(self, who);
        uint64_t mono = pl_mono_ms();
        if (st && (st->quota_log_ms == 0 || mono - st->quota_log_ms >= 10000)) {
            uint64_t from_b = 0, to_b = 0;
            (void) pl_spool_quota_get(self->spool, who, &from_b, &to_b);
            pl_log_warn(
                self->log,
                "quota_exceeded address=%s role=%s queued_bytes=%llu "
                "refused_since_last=%llu",
                who, why == PL_SPOOL_SENDER_OVER ? "sender" : "recipient",
                (unsigned long long) (why == PL_SPOOL_SENDER_OVER ? from_b
                                                                  : to_b),
                (unsigned long long) st->quota_quiet);
            st->quota_log_ms = mono;
            st->quota_quiet = 0;
        } else if (st) {
            st->quota_quiet++;
        }
        s_reject(self, s->rid, s->rid_len, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL,
                 why == PL_SPOOL_SENDER_OVER
                     ? "sender over its broker quota; retry later"
                     : "recipient over its broker quota; retry later",
                 s->address);
    } else if (rc == PL_EFULL) {
        s_store_full_log(self, "map_threshold");
        s_reject(self, s->rid, s->rid_len, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL,
                 "broker store full; retry later", s->address);
    } else {
        s_reject(self, s->rid, s->rid_len, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_STORE_ERROR,
                 pl_strerror(rc), s->address);
    }
}

static int
s_take_or_refuse(pl_broker_t *self, const uint8_t *id, const char *by,
                 pl_spool_state_t state, int reason, uint64_t *latency,
                 uint64_t *seq)
{
    if (state == PL_SPOOL_REFUSED)
        return pl_spool_refuse(self->spool, id, by, reason, pl_now_ms(),
                               latency, seq);
    return pl_spool_take(self->spool, id, by, state, pl_now_ms(), latency, seq);
}

// taken (state TAKEN) or a recipient's refusal for good (state REFUSED,
// 'reason' its code: a notice for the sender, told like an expiry)
static void
s_handle_take(pl_broker_t *self, pl_session_t *s, const uint8_t *id,
              pl_spool_state_t state, int reason)
{
    if (pl_spool_nest_fast(self->spool) != PL_OK)
        return; // a failed pass: the envelope is delivered again
    if (state == PL_SPOOL_TAKEN && s->acks_notices) {
        // the sender's taken of a notice it committed: forget the notice
        int nrc = pl_spool_notice_ack(self->spool, s->address, id);
        if (nrc == PL_OK && pl_spool_nest_commit(self->spool) == PL_OK)
            return;
        if (nrc != PL_ENOTFOUND) {
            pl_spool_nest_abort(self->spool); // told again at the next sweep
            return;
        }
    }
    uint64_t latency = 0;
    uint64_t seq = 0;
    int rc =
        s_take_or_refuse(self, id, s->address, state, reason, &latency, &seq);
    if (rc == PL_OK)
        rc = pl_spool_nest_commit(self->spool);
    else
        pl_spool_nest_abort(self->spool);
    char hex[33];
    pl_hex(hex, id, PL_MSG_ID_BYTES);
    if (rc == PL_OK) {
        if (self->ntakes == self->captakes) {
            size_t cap = self->captakes ? self->captakes * 2 : 64;
            pl_take_t *p = realloc(self->takes, cap * sizeof *p);
            if (p) {
                self->takes = p;
                self->captakes = cap;
            }
        }
        if (self->ntakes < self->captakes) {
            pl_take_t *t = &self->takes[self->ntakes++];
            memcpy(t->id, id, PL_MSG_ID_BYTES);
            snprintf(t->by, sizeof t->by, "%s", s->address);
            t->state = state;
            t->reason = reason;
        }
        // only what this delivery round sent counts against the window: a
        // taken for a delivery from before a redelivery reset does not
        if (s->inflight && seq <= s->next_seq)
            s->inflight--;
        s_mark_due(self, s); // the window has room again
        // progress: the redelivery timer means "no taken for redeliver_ms",
        // not "the window never emptied" (steady traffic never empties it)
        s->oldest_inflight_ms = pl_mono_ms();
        pl_stats_t *st = pl_broker_stats(self, s->address);
        if (st && state == PL_SPOOL_TAKEN) {
            st->taken++;
            st->lat[st->nlat++ % S_LAT_SAMPLES] =
                latency > UINT32_MAX ? UINT32_MAX : (uint32_t) latency;
        }
        if (state == PL_SPOOL_TAKEN)
            pl_log_debug(self->log, "taken id=%s by=%s latency_ms=%llu", hex,
                         s->address, (unsigned long long) latency);
        else {
            self->notices_due = true; // its sender is told in this pass
            pl_log_info(
                self->log,
                "refused_by_recipient id=%s by=%s reason=%s "
                "(the sender is told)",
                hex, s->address,
                pl_wire_reason_name((Passerelle__V1__RejectReason) reason));
        }
    } else if (rc == PL_EPERM) {
        s_reject(self, s->rid, s->rid_len, id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_NOT_RECIPIENT,
                 "only the recipient may take an envelope", s->address);
    } else if (rc != PL_ENOTFOUND) {
        pl_log_error(self->log, "take_failed id=%s reason=\"%s\"", hex,
                     pl_strerror(rc));
    }
}

// Handles one received frame pair inside the pass.
static void
s_handle_packet(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
                zmq_msg_t *body)
{
    char address[PL_ADDRESS_MAX + 1];
    Passerelle__V1__RejectReason why = s_identity(self, body, address);
    if (why != PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN) {
        // refused now: revoked or expired after the handshake
        const char *user = zmq_msg_gets(body, "User-Id");
        s_reject(self, rid, rid_len, NULL, why,
                 why == PASSERELLE__V1__REJECT_REASON__REJECT_REVOKED
                     ? "certificate revoked"
                     : "certificate not valid",
                 user);
        pl_session_t *old = s_session_by_rid(self, rid, rid_len);
        if (old)
            pl_broker_session_drop(self, old, "certificate_no_longer_valid");
        return;
    }
    pl_stats_t *st = pl_broker_stats(self, address);
    if (st) {
        st->last_seen = pl_now();
        st->lost = false;
    }
    const uint8_t *data = zmq_msg_data(body);
    size_t len = zmq_msg_size(body);
    // an envelope as nodes encode it is read in place (pl_peek.h: no
    // unpack, no copy of its body); any other packet is decoded in full
    pl_envelope_t env;
    int peek = pl_envelope_peek(data, len, &env);
    pl_packet_t *pkt = NULL;
    int rc = peek == PL_ENOTFOUND ? pl_wire_decode(data, len, &pkt) : peek;
    bool fresh = false;
    pl_session_t *s = s_session(self, rid, rid_len, address, &fresh);
    if (!s) {
        pl_wire_free(&pkt);
        return;
    }
    s->last_seen_ms = pl_now_ms();
    if (fresh
        && !(rc == PL_OK && pkt
             && pkt->kind_case == PASSERELLE__V1__PACKET__KIND_HELLO))
        s_welcome(self, s); // unknown session: tell the node to resync
    if (peek == PL_OK) {
        s_handle_envelope(self, s, &env, data, len);
        return;
    }
    if (rc != PL_OK) {
        s_reject(self, rid, rid_len, NULL,
                 rc == PL_ETOOBIG
                     ? PASSERELLE__V1__REJECT_REASON__REJECT_TOO_LARGE
                     : PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED,
                 pl_strerror(rc), address);
        return;
    }
    switch (pkt->kind_case) {
    case PASSERELLE__V1__PACKET__KIND_ENVELOPE:
        pl_envelope_view(pkt->envelope, &env);
        s_handle_envelope(self, s, &env, data, len);
        break;
    case PASSERELLE__V1__PACKET__KIND_TAKEN:
        s_handle_take(self, s, pkt->taken->message_id.data, PL_SPOOL_TAKEN, 0);
        break;
    case PASSERELLE__V1__PACKET__KIND_REJECTED:
        // a recipient refusing an envelope for good: dropped, its sender
        // told (the code only); a temporary refusal leaves it queued for
        // the next delivery round
        if (pkt->rejected->has_message_id
            && !pl_wire_reason_temporary(pkt->rejected->reason))
            s_handle_take(self, s, pkt->rejected->message_id.data,
                          PL_SPOOL_REFUSED, pkt->rejected->reason);
        break;
    case PASSERELLE__V1__PACKET__KIND_HELLO:
        pl_log_info(self->log, "hello address=%s clock_skew=%lld", address,
                    (long long) pkt->hello->time - (long long) pl_now());
        s->next_seq = 0; // a hello resets delivery: redeliver what is queued
        s->inflight = 0;
        s->acks_notices =
            pkt->hello->has_acks_notices && pkt->hello->acks_notices;
        s->dir_pages =
            pkt->hello->has_directory_pages && pkt->hello->directory_pages;
        s->dir_sent_set = false; // a restarted node may hold none
        s->dir_too_big_told = false;
        s->tell = true; // what it has not acknowledged, again
        self->notices_tell = true;
        s_welcome(self, s);
        break;
    case PASSERELLE__V1__PACKET__KIND_HEARTBEAT: {
        Passerelle__V1__Heartbeat h = PASSERELLE__V1__HEARTBEAT__INIT;
        h.time = pl_now();
        Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
        p.kind_case = PASSERELLE__V1__PACKET__KIND_HEARTBEAT;
        p.heartbeat = &h;
        pl_buf_t out = {0};
        if (pl_wire_encode(&p, &out) == PL_OK)
            pl_broker_reply(self, rid, rid_len, &out, false);
        else
            pl_buf_free(&out);
        break;
    }
    case PASSERELLE__V1__PACKET__KIND_DIRECTORY_REQUEST:
        pl_broker_directory(self, s, pkt->directory_request);
        break;
    case PASSERELLE__V1__PACKET__KIND_STATUS_REQUEST:
        pl_broker_status(self, rid, rid_len);
        break;
    case PASSERELLE__V1__PACKET__KIND_CATALOGUE: // issue 18
        if (pl_catalogs_take(self, address, pkt->catalogue))
            pl_broker_push_directory(self);
        break;
    default:
        s_reject(self, rid, rid_len, NULL,
                 PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED,
                 "not a packet a node sends", address);
        break;
    }
    pl_wire_free(&pkt);
}

// ------------------------------------------------------------ delivery

typedef struct {
    pl_broker_t *self;
    pl_session_t *s;
    uint64_t now;
} s_deliver_ctx_t;

static bool
s_deliver_one(void *arg, const pl_spool_item_t *item)
{
    s_deliver_ctx_t *c = arg;
    pl_session_t *s = c->s;
    if (s->inflight >= c->self->cfg.window)
        return false;
    if (item->expires_at <= c->now) {
        s->next_seq = item->seq; // the sweep will drop it
        return true;
    }
    int err = pl_broker_send(c->self, s->rid, s->rid_len, item->packet,
                             item->packet_len);
    if (err == EAGAIN) {
        s->blocked = true; // the LMDB queue keeps it; try next pass
        return false;
    }
    if (err != 0) {
        s->blocked = true;
        s->gone = err == EHOSTUNREACH; // the connection is gone
        return false;
    }
    if (s->inflight == 0)
        s->oldest_inflight_ms = pl_mono_ms();
    s->inflight++;
    s->next_seq = item->seq;
    pl_stats_t *st = pl_broker_stats(c->self, s->address);
    if (st)
        st->delivered++;
    return true;
}

// One session's delivery round: what its window has room for.
static void
s_deliver_session(pl_broker_t *self, pl_session_t *s, uint64_t mono)
{
    s->blocked = false;
    // unconfirmed for too long: start again from the oldest queued
    if (s->inflight && mono - s->oldest_inflight_ms > self->cfg.redeliver_ms) {
        pl_log_info(self->log, "redeliver address=%s unconfirmed=%u",
                    s->address, s->inflight);
        s->inflight = 0;
        s->next_seq = 0;
        s->due = true;
    }
    if (!s->due || s->inflight >= self->cfg.window)
        return;
    s_deliver_ctx_t c = {self, s, pl_now()};
    pl_spool_scan(self->spool, s->address, s->next_seq,
                  self->cfg.window - s->inflight, s_deliver_one, &c);
    // sent what there was, or the window is full (a taken sets it
    // again); blocked: the next round tries again
    s->due = s->blocked;
}

static void
s_deliver(pl_broker_t *self)
{
    uint64_t mono = pl_mono_ms();
    for (size_t i = 0; i < self->nsessions; i++)
        s_deliver_session(self, &self->sessions[i], mono);
    for (size_t i = 0; i < self->nsessions;) {
        if (self->sessions[i].gone) {
            pl_broker_session_drop(self, &self->sessions[i], "unreachable");
            continue;
        }
        i++;
    }
}

// Inside the pass, before its commit: the sessions this pass made due,
// from the pass's own transaction (see the pass below). Their positions
// are kept so that s_early_undo can put them back; a session whose
// connection is gone is dropped by the s_deliver after the commit.
static void
s_deliver_early(pl_broker_t *self)
{
    if (pl_spool_doomed(self->spool))
        self->marked_stale = true; // the pass will not commit: send nothing
    if (self->marked_stale)
        return; // (or a session moved): after the commit only
    uint64_t mono = pl_mono_ms();
    for (size_t k = 0; k < self->nmarked; k++) {
        if (self->marked[k] >= self->nsessions)
            continue;
        pl_session_t *s = &self->sessions[self->marked[k]];
        s->early_next_seq = s->next_seq;
        s->early_inflight = s->inflight;
        // a session welcomed in this pass: after its welcome (a reply,
        // sent after the commit), which a node must see first
        if (s->welcome_pass != self->pass_no && !s->gone)
            s_deliver_session(self, s, mono);
    }
}

// After a pass that did not commit: the queue positions sent early may be
// given again, so each marked session goes back to where it was (a
// session not sent to gets the position it already has).
static void
s_early_undo(pl_broker_t *self)
{
    if (self->marked_stale)
        return; // nothing was sent early
    for (size_t k = 0; k < self->nmarked; k++) {
        if (self->marked[k] >= self->nsessions)
            continue;
        pl_session_t *s = &self->sessions[self->marked[k]];
        s->next_seq = s->early_next_seq;
        s->inflight = s->early_inflight;
        s->due = true;
    }
}

static void
s_on_expired(void *arg, const char *to)
{
    pl_broker_t *self = arg;
    pl_stats_t *st = pl_broker_stats(self, to);
    if (st)
        st->expired++;
}

// Sends the notice that envelope 'id' for 'to' will never be delivered
// ('why' -1: expired, else the recipient's refusal code); 0 or errno.
static int
s_notice_send(pl_broker_t *self, const pl_session_t *s, const uint8_t *id,
              const char *to, int why)
{
    pl_buf_t out = {0};
    int err = pl_wire_expired(id, to, why, &out) == PL_OK
                  ? pl_broker_send(self, s->rid, s->rid_len, out.data, out.len)
                  : ENOMEM;
    pl_buf_free(&out);
    return err;
}

// Notices for connected senders, inside the pass (a node ignores a
// repeated notice). A node whose hello says acks_notices answers each with
// a taken once committed: its notices stay in the store until then and
// are told again at every sweep and on its next connection, so that a
// notice sent into a connection that was already dead (ZeroMQ accepts
// the send; the broker has not yet seen the disconnect) is not lost.
// For an older node they are popped when every one reached its session
// (its own nested transaction): a session whose connection is known to be
// gone keeps them for its next connection. A session welcomed in this
// pass is told in the next one: the welcome is a reply, sent after the
// commit, and a node drops what comes before its welcome. True when such
// a session waits (the loop then runs the next pass at once).
static bool
s_tell_expired(pl_broker_t *self, bool all)
{
    uint8_t ids[S_NOTICES_MAX][PL_MSG_ID_BYTES];
    char tos[S_NOTICES_MAX][PL_ADDRESS_MAX + 1];
    int why[S_NOTICES_MAX];
    bool later = false;
    for (size_t i = 0; i < self->nsessions; i++) {
        pl_session_t *s = &self->sessions[i];
        bool tell = all || s->tell;
        s->tell = tell && s->welcome_pass == self->pass_no;
        later = later || s->tell;
        if (!tell || s->tell || s->gone || pl_spool_nest(self->spool) != PL_OK)
            continue;
        int n = pl_spool_notices(self->spool, s->address, S_NOTICES_MAX,
                                 s->acks_notices, ids, tos, why);
        int err = 0;
        for (int j = 0; j < n && !err; j++)
            err = s_notice_send(self, s, ids[j], tos[j], why[j]);
        if (n > 0 && !err && pl_spool_nest_commit(self->spool) == PL_OK)
            continue;
        pl_spool_nest_abort(self->spool);
        s->gone = err == EHOSTUNREACH; // dropped after delivery (s_deliver)
    }
    return later;
}

// Reads every pending signal of the signalfd 'fd' (SIGHUP: reload now).
// True when SIGTERM or SIGINT came: the loop stops.
static bool
s_signals(pl_broker_t *self, int fd)
{
    bool stop = false;
    struct signalfd_siginfo si;
    // bounded: the fd is non-blocking and holds one entry per pending signal
    for (int k = 0; k < 64; k++) {
        ssize_t n = read(fd, &si, sizeof si);
        if (n != (ssize_t) sizeof si)
            break; // EAGAIN: drained (EINTR cannot happen: all blocked)
        if (si.ssi_signo == SIGHUP)
            pl_broker_reload(self);
        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
            stop = true;
    }
    return stop;
}

static void
s_session_timeouts(pl_broker_t *self)
{
    uint64_t now = pl_now_ms();
    for (size_t i = 0; i < self->nsessions;) {
        pl_session_t *s = &self->sessions[i];
        if (now - s->last_seen_ms > self->cfg.session_ms) {
            pl_stats_t *st = pl_broker_stats(self, s->address);
            if (st)
                st->lost = true; // presence "lost", not a clean "offline"
            pl_broker_session_drop(self, s, "silent");
            continue;
        }
        i++;
    }
}

// The pass could not commit for want of space: its takens again, alone
// (they free space). PL_OK, or PL_EIO when the store failed for good.
static int
s_retake(pl_broker_t *self)
{
    if (self->ntakes == 0)
        return PL_OK;
    if (pl_spool_begin(self->spool) != PL_OK)
        return PL_EIO;
    for (size_t i = 0; i < self->ntakes; i++) {
        pl_take_t *t = &self->takes[i];
        // each in its own nested transaction: one that finds no page
        // leaves the others (and the pass) committable
        if (pl_spool_nest(self->spool) != PL_OK)
            break;
        int r = s_take_or_refuse(self, t->id, t->by, t->state, t->reason, NULL,
                                 NULL);
        if (r == PL_OK)
            r = pl_spool_nest_commit(self->spool);
        else
            pl_spool_nest_abort(self->spool);
        (void) r; // not found or not the recipient: nothing to redo
    }
    int rc = pl_spool_commit(self->spool);
    if (rc == PL_EFULL)
        s_store_full_log(self, "takens_alone");
    else if (rc == PL_OK)
        pl_log_debug(self->log, "takens_committed_alone count=%zu",
                     self->ntakes);
    self->ntakes = 0;
    return rc == PL_EFULL ? PL_OK : rc;
}

// The store failed for good (a failed begin, sync or commit, MDB_PANIC):
// nothing of this pass is acknowledged (every pending reply dropped), one
// line is logged, and the loop ends so that the process exits 74 and a
// supervisor restarts it on a clean environment. The last committed state
// is intact on disk: a restart loses nothing acknowledged.
static int
s_store_failed(pl_broker_t *self, const char *op)
{
    int code = pl_spool_fatal(self->spool);
    for (size_t i = 0; i < self->nreplies; i++)
        pl_buf_free(&self->replies[i].packet);
    pl_log_error(self->log,
                 "store_failed op=%s code=%d reason=\"%s\" "
                 "replies_dropped=%zu exit=74",
                 op, code, code ? mdb_strerror(code) : "unknown",
                 self->nreplies);
    self->nreplies = 0;
    self->store_failed = true;
    // nothing queued for sending may go out: drop it on close
    pl_broker_setopt_int(self->router, ZMQ_LINGER, 0);
    return PL_EIO;
}

bool
pl_broker_store_failed(const pl_broker_t *self)
{
    return self->store_failed;
}

int
pl_broker_run(pl_broker_t *self, int signal_fd)
{
    zmq_pollitem_t items[5 + PL_FED_POLL_MAX];
    int nitems = 0;
    items[nitems++] = (zmq_pollitem_t){self->router, 0, ZMQ_POLLIN, 0};
    items[nitems++] = (zmq_pollitem_t){self->control, 0, ZMQ_POLLIN, 0};
    int zap_at = -1;
    if (self->zap) {
        zap_at = nitems;
        items[nitems++] = (zmq_pollitem_t){self->zap, 0, ZMQ_POLLIN, 0};
    }
    void *mon = pl_door_monitor(self->door);
    if (mon) // wakes the loop as connections come: pl_door_tick reads it
        items[nitems++] = (zmq_pollitem_t){mon, 0, ZMQ_POLLIN, 0};
    int sig_at = -1;
    if (signal_fd >= 0) {
        sig_at = nitems;
        items[nitems++] = (zmq_pollitem_t){NULL, signal_fd, ZMQ_POLLIN, 0};
    }
    uint64_t last_reader_check = pl_mono_ms();
    int base = nitems;
    for (;;) {
        // the federation sockets (they change on reload)
        nitems = base + pl_fed_pollitems(self, items + base, PL_FED_POLL_MAX);
        int rc = zmq_poll(items, nitems, self->notices_tell ? 0 : 500);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            pl_log_error(self->log, "poll_failed reason=\"%s\"",
                         zmq_strerror(errno));
            return PL_EIO;
        }
        // signals first: a stop ends the loop before another pass starts
        if (sig_at >= 0 && (items[sig_at].revents & ZMQ_POLLIN)
            && s_signals(self, signal_fd))
            break;
        // descriptors first: close the door before a flood takes the
        // ones the control socket and the store need
        pl_door_tick(self->door);
        if (self->zap) {
            // answer every pending ZAP request before anything else
            while (zmq_poll(&items[zap_at], 1, 0) > 0
                   && (items[zap_at].revents & ZMQ_POLLIN))
                pl_broker_zap_handle(self);
        }
        if (items[1].revents & ZMQ_POLLIN)
            for (int k = 0; k < 32 && pl_broker_control(self); k++)
                ;

        uint64_t mono = pl_mono_ms();
        bool sweep = mono - self->last_sweep_ms >= S_SWEEP_MS;
        bool fed_in = false;
        for (int i = base; i < nitems; i++)
            fed_in = fed_in || (items[i].revents & ZMQ_POLLIN);
        if (!(items[0].revents & ZMQ_POLLIN) && !sweep && !fed_in
            && !self->notices_tell) {
            s_session_timeouts(self);
            s_deliver(self);
            pl_fed_tick(self);
            // a read that found the environment broken (MDB_PANIC)
            if (pl_spool_fatal(self->spool))
                return s_store_failed(self, "read");
            continue;
        }
        // ---- one pass: one write transaction, one commit, then replies
        if (pl_spool_begin(self->spool) != PL_OK)
            return s_store_failed(self, "begin");
        self->pass_no++;
        self->nmarked = 0; // the sessions this pass makes due
        self->marked_stale = false;
        for (int k = 0; k < S_PASS_MAX; k++) {
            zmq_msg_t rid, body;
            zmq_msg_init(&rid);
            if (zmq_msg_recv(&rid, self->router, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&rid);
                break;
            }
            zmq_msg_init(&body);
            int got = zmq_msg_more(&rid)
                          ? zmq_msg_recv(&body, self->router, ZMQ_DONTWAIT)
                          : -1;
            bool extra = got >= 0 && zmq_msg_more(&body);
            while (got >= 0 && zmq_msg_more(&body)) {
                // one packet = one frame: drain and refuse the rest
                zmq_msg_close(&body);
                zmq_msg_init(&body);
                got = zmq_msg_recv(&body, self->router, ZMQ_DONTWAIT);
            }
            if (got >= 0 && !extra && zmq_msg_size(&rid) <= S_RID_MAX)
                s_handle_packet(self, zmq_msg_data(&rid), zmq_msg_size(&rid),
                                &body);
            else if (got >= 0 && zmq_msg_size(&rid) <= S_RID_MAX)
                s_reject(self, zmq_msg_data(&rid), zmq_msg_size(&rid), NULL,
                         PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED,
                         "one frame per packet",
                         zmq_msg_gets(&body, "User-Id"));
            zmq_msg_close(&body);
            zmq_msg_close(&rid);
        }
        pl_fed_drain(self); // what the federation links brought
        if (sweep) {
            self->last_sweep_ms = mono;
            // the safety net: every queue is scanned once a sweep
            for (size_t i = 0; i < self->nsessions; i++)
                self->sessions[i].due = true;
            if (pl_spool_nest(self->spool) == PL_OK) {
                int n =
                    pl_spool_sweep(self->spool, pl_now(), s_on_expired, self);
                if (n >= 0 && pl_spool_nest_commit(self->spool) == PL_OK) {
                    if (n > 0)
                        pl_log_info(self->log, "expired count=%d", n);
                } else {
                    pl_spool_nest_abort(self->spool);
                }
            }
        }
        // expired notices at each sweep; a recipient's refusal at once
        // and a new connection's at once (it may have missed them)
        if (sweep || self->notices_due || self->notices_tell) {
            self->notices_tell =
                s_tell_expired(self, sweep || self->notices_due);
            self->notices_due = false;
        }
        // Deliver what the pass queued before its commit, so that CURVE,
        // the wire and the recipient's own work run while this thread
        // waits for the fsync. Deliveries are not acknowledgements: an
        // envelope whose pass then fails is sent again (the sender had
        // no accepted, the recipient dedupes by id).
        s_deliver_early(self);
        int crc = pl_spool_commit(self->spool);
        if (crc != PL_OK && crc != PL_EFULL)
            return s_store_failed(self, "commit");
        if (pl_spool_fatal(self->spool))
            return s_store_failed(self, "pass");
        bool durable = crc == PL_OK;
        if (!durable) {
            s_early_undo(self);
            s_store_full_log(self, "commit");
            if (s_retake(self) != PL_OK)
                return s_store_failed(self, "commit");
        }
        self->ntakes = 0;
        for (size_t i = 0; i < self->nreplies; i++) {
            pl_reply_t *r = &self->replies[i];
            if (!durable && r->accepted) {
                // the map or the disk was full at commit: nothing of the
                // pass is stored, its senders are told to retry later
                pl_buf_t out = {0};
                pl_buf_free(&r->packet);
                if (pl_wire_rejected(
                        r->id, PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL,
                        "broker store full; retry later", &out)
                    == PL_OK)
                    r->packet = out;
                else
                    pl_buf_free(&out);
                r->durable = false;
            }
            if ((durable || !r->durable) && r->packet.data) {
                int err = pl_broker_send(self, r->rid, r->rid_len,
                                         r->packet.data, r->packet.len);
                pl_session_t *s =
                    err == EHOSTUNREACH
                        ? s_session_by_rid(self, r->rid, r->rid_len)
                        : NULL;
                if (s)
                    pl_broker_session_drop(self, s, "unreachable");
            }
            pl_buf_free(&r->packet);
        }
        self->nreplies = 0;
        pl_fed_flush(self, durable);
        s_session_timeouts(self);
        s_deliver(self);
        pl_fed_tick(self);
        if (mono - last_reader_check > 3600 * 1000) {
            last_reader_check = mono;
            int dead = pl_spool_reader_check(self->spool);
            if (dead)
                pl_log_warn(self->log, "store_stale_readers_cleared count=%d",
                            dead);
        }
    }
    return PL_OK;
}
