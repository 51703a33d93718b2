// pl_broker - the broker's event loop. Layer: broker.
#include "broker/pl_broker.h"

#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <zmq.h>

#include "broker/pl_door.h"
#include "broker/pl_registry.h"
#include "broker/pl_spool.h"
#include "proto/pl_cert.h"
#include "proto/pl_crypto.h"
#include "proto/pl_envelope.h"
#include "proto/pl_keys.h"
#include "proto/pl_wire.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93 // draft option in libzmq 4.3.x headers
#endif

#define S_ZAP_DOMAIN  "passerelle"
#define S_PASS_MAX    256  // packets handled per loop pass
#define S_RID_MAX     64   // routing id bytes
#define S_LAT_SAMPLES 512  // latency samples kept per node
#define S_SWEEP_MS    5000 // expiry sweep period
#define S_NOTICES_MAX 32   // expired notices told per pass

// A connected node (one CurveZMQ connection that said something).
typedef struct {
    uint8_t rid[S_RID_MAX];           // ROUTER routing id
    size_t rid_len;                   // bytes of rid
    char address[PL_ADDRESS_MAX + 1]; // authenticated address
    uint64_t connected_since;         // Unix seconds
    uint64_t last_seen_ms;            // wall ms of the last packet
    uint64_t next_seq;                // deliver queue items with seq > this
    uint64_t oldest_inflight_ms;      // monotonic ms of the oldest delivery
    unsigned inflight;                // deliveries awaiting taken
    bool blocked;                     // EAGAIN this pass: stop delivering
    bool gone;                        // EHOSTUNREACH: drop the session
} s_session_t;

// Transport figures per address (kept in memory since start).
typedef struct {
    char address[PL_ADDRESS_MAX + 1];                       // node address
    uint64_t last_seen;                                     // Unix seconds
    uint64_t accepted, delivered, taken, expired, rejected; // counters
    uint32_t lat[S_LAT_SAMPLES]; // accepted -> taken, ms (ring)
    size_t nlat;                 // samples written
    uint64_t quota_log_ms;       // monotonic ms of the last quota line
    uint64_t quota_quiet;        // quota refusals not logged since
} s_stats_t;

// A taken (or a recipient's refusal) of this pass, redone on its own when
// the pass could not commit for want of space: takens free space, so
// they must get through even when new envelopes cannot.
typedef struct {
    uint8_t id[PL_MSG_ID_BYTES]; // envelope id
    char by[PL_ADDRESS_MAX + 1]; // the recipient that took it
    pl_spool_state_t state;      // TAKEN or REFUSED
} s_take_t;

// A reply waiting for the pass's commit.
typedef struct {
    uint8_t rid[S_RID_MAX];      // to whom
    size_t rid_len;              // bytes of rid
    pl_buf_t packet;             // encoded Packet
    bool durable;                // sent only if the commit succeeded
    bool accepted;               // an `accepted` for id: store-full if the
                                 // commit found the map or the disk full
    uint8_t id[PL_MSG_ID_BYTES]; // the envelope id of an `accepted`
} s_reply_t;

struct pl_broker {
    pl_broker_config_t cfg;           // copy; strings borrowed
    char home[4096];                  // broker home
    char address[PL_ADDRESS_MAX + 1]; // own address
    pl_cert_t own;                    // own certificate (listed by `nodes`)
    void *ctx;                        // ZeroMQ context
    void *zap;                        // ZAP handler (REP)
    void *router;                     // the door (ROUTER, CURVE server)
    void *control;                    // operator socket (REP, ipc)
    pl_registry_t *reg;               // enrolment registry
    pl_door_t *door;                  // descriptor budget of the door
    pl_spool_t *spool;                // durable queues
    pl_keys_t *keys;                  // own keys
    s_session_t *sessions;            // connected nodes
    size_t nsessions, capsessions;    // used / allocated
    s_stats_t *stats;                 // per address
    size_t nstats, capstats;          // used / allocated
    s_reply_t *replies;               // pending replies of this pass
    size_t nreplies, capreplies;      // used / allocated
    s_take_t *takes;                  // takens of this pass
    size_t ntakes, captakes;          // used / allocated
    uint64_t started;                 // Unix seconds
    uint64_t last_sweep_ms;           // monotonic
    uint64_t routed_minute[60];       // envelopes accepted per second slot
    uint64_t routed_slot;             // second of the last slot written
    uint64_t full_log_ms;             // monotonic ms of the last store_full
    uint64_t full_quiet;              // store-full refusals not logged since
    bool store_failed;                // the store failed for good
    bool reload_failed;               // the last reload kept the registry
    pl_log_t *log;                    // borrowed
};

// ------------------------------------------------------------ helpers

static s_stats_t *
s_stats(pl_broker_t *self, const char *address)
{
    for (size_t i = 0; i < self->nstats; i++)
        if (strcmp(self->stats[i].address, address) == 0)
            return &self->stats[i];
    if (self->nstats == self->capstats) {
        size_t cap = self->capstats ? self->capstats * 2 : 16;
        s_stats_t *p = realloc(self->stats, cap * sizeof *p);
        if (!p)
            return NULL;
        self->stats = p;
        self->capstats = cap;
    }
    s_stats_t *st = &self->stats[self->nstats++];
    memset(st, 0, sizeof *st);
    snprintf(st->address, sizeof st->address, "%s", address);
    return st;
}

static s_session_t *
s_session_by_rid(pl_broker_t *self, const uint8_t *rid, size_t len)
{
    for (size_t i = 0; i < self->nsessions; i++)
        if (self->sessions[i].rid_len == len
            && memcmp(self->sessions[i].rid, rid, len) == 0)
            return &self->sessions[i];
    return NULL;
}

static s_session_t *
s_session_by_address(pl_broker_t *self, const char *address)
{
    for (size_t i = 0; i < self->nsessions; i++)
        if (strcmp(self->sessions[i].address, address) == 0)
            return &self->sessions[i];
    return NULL;
}

static void
s_session_drop(pl_broker_t *self, s_session_t *s, const char *why)
{
    pl_log_info(self->log, "node_offline address=%s reason=%s", s->address,
                why);
    size_t i = (size_t) (s - self->sessions);
    self->sessions[i] = self->sessions[--self->nsessions];
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
static void
s_reply(pl_broker_t *self, const uint8_t *rid, size_t rid_len, pl_buf_t *pkt,
        bool durable)
{
    if (self->nreplies == self->capreplies) {
        size_t cap = self->capreplies ? self->capreplies * 2 : 64;
        s_reply_t *p = realloc(self->replies, cap * sizeof *p);
        if (!p) {
            pl_buf_free(pkt);
            return;
        }
        self->replies = p;
        self->capreplies = cap;
    }
    s_reply_t *r = &self->replies[self->nreplies++];
    memcpy(r->rid, rid, rid_len);
    r->rid_len = rid_len;
    r->packet = *pkt;
    r->durable = durable;
    r->accepted = false;
    memset(pkt, 0, sizeof *pkt);
}

// sends one frame pair now; returns 0, or errno (EAGAIN, EHOSTUNREACH)
static int
s_send(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
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
    // store-full refusals have their own rate-limited lines (store_full,
    // quota_exceeded): a refusal storm must not become a log storm
    if (reason != PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL)
        pl_log_warn(self->log, "rejected from=%s id=%s reason=%s detail=\"%s\"",
                    from ? from : "-", hex, pl_wire_reason_name(reason),
                    detail ? detail : "");
    if (from) {
        s_stats_t *st = s_stats(self, from);
        if (st)
            st->rejected++;
    }
    pl_buf_t pkt = {0};
    if (pl_wire_rejected(id, reason, detail, &pkt) == PL_OK)
        s_reply(self, rid, rid_len, &pkt, false);
}

// ------------------------------------------------------------ ZAP

// Answers one ZAP request: admits a CURVE key only if it belongs to a
// valid, unrevoked certificate in the registry; User-Id = its address.
static void
s_zap_handle(pl_broker_t *self)
{
    zmq_msg_t frames[7];
    int n = 0, more = 1;
    while (more && n < 7) {
        zmq_msg_init(&frames[n]);
        if (zmq_msg_recv(&frames[n], self->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frames[n]);
            for (int i = 0; i < n; i++)
                zmq_msg_close(&frames[i]);
            return;
        }
        more = zmq_msg_more(&frames[n]);
        n++;
    }
    // drain anything beyond the frames we know
    while (more) {
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, self->zap, 0) < 0) {
            zmq_msg_close(&extra);
            break;
        }
        more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }
    const char *status = "400", *text = "refused";
    char user[PL_ADDRESS_MAX + 1] = "";
    char fpr[17] = "-";
    uint8_t meta[64 + 8 + 64];
    size_t meta_len = 0;
    if (n == 7 && zmq_msg_size(&frames[5]) == 5
        && memcmp(zmq_msg_data(&frames[5]), "CURVE", 5) == 0
        && zmq_msg_size(&frames[6]) == 32) {
        const uint8_t *key = zmq_msg_data(&frames[6]);
        pl_key_fingerprint(key, fpr);
        const pl_reg_entry_t *e = pl_registry_by_curve(self->reg, key);
        if (!e) {
            text = "unknown key";
        } else {
            int rc = pl_registry_check(self->reg, e, pl_now());
            if (rc == PL_EREVOKED)
                text = "revoked";
            else if (rc == PL_EEXPIRED)
                text = "expired or not yet valid";
            else if (rc == PL_OK) {
                status = "200";
                text = "OK";
                snprintf(user, sizeof user, "%s", e->cert.address);
                // metadata: the admitted curve key, so every packet can be
                // checked against the registry as it is now
                char hex[65];
                pl_hex(hex, key, 32);
                meta[0] = 7;
                memcpy(meta + 1, "X-Curve", 7);
                uint32_t vl = 64;
                meta[8] = (uint8_t) (vl >> 24);
                meta[9] = (uint8_t) (vl >> 16);
                meta[10] = (uint8_t) (vl >> 8);
                meta[11] = (uint8_t) vl;
                memcpy(meta + 12, hex, 64);
                meta_len = 76;
            }
        }
    } else {
        text = "unsupported mechanism";
    }
    if (status[0] == '2')
        pl_log_info(self->log, "door_admitted address=%s key=%s", user, fpr);
    else
        pl_log_warn(self->log, "door_refused key=%s reason=\"%s\"", fpr, text);
    // reply: version, request id, status code, status text, user id, meta
    zmq_send(self->zap, "1.0", 3, ZMQ_SNDMORE);
    if (n >= 2)
        zmq_send(self->zap, zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]),
                 ZMQ_SNDMORE);
    else
        zmq_send(self->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(self->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(self->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(self->zap, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(self->zap, meta, meta_len, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
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
s_welcome(pl_broker_t *self, s_session_t *s)
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
        s_reply(self, s->rid, s->rid_len, &out, false);
    else
        pl_buf_free(&out);
}

// Finds or creates the session of this connection. A packet from a
// connection without a session gets a welcome: "(re)synchronise".
static s_session_t *
s_session(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
          const char *address, bool *fresh)
{
    *fresh = false;
    s_session_t *s = s_session_by_rid(self, rid, rid_len);
    if (s)
        return s;
    // a new connection of a node replaces its old one (reconnect)
    s = s_session_by_address(self, address);
    if (!s) {
        if (self->nsessions == self->capsessions) {
            size_t cap = self->capsessions ? self->capsessions * 2 : 16;
            s_session_t *p = realloc(self->sessions, cap * sizeof *p);
            if (!p)
                return NULL;
            self->sessions = p;
            self->capsessions = cap;
        }
        s = &self->sessions[self->nsessions++];
    }
    memset(s, 0, sizeof *s);
    memcpy(s->rid, rid, rid_len);
    s->rid_len = rid_len;
    snprintf(s->address, sizeof s->address, "%s", address);
    s->connected_since = pl_now();
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
s_handle_envelope(pl_broker_t *self, s_session_t *s,
                  const Passerelle__V1__Envelope *env, const uint8_t *raw,
                  size_t raw_len)
{
    pl_envelope_t view;
    pl_envelope_view(env, &view);
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
    if (!to) {
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
    if (pl_spool_nest(self->spool) != PL_OK) {
        s_reject(self, s->rid, s->rid_len, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_STORE_ERROR,
                 "store busy", s->address);
        return;
    }
    bool dup = false;
    pl_spool_refusal_t why = PL_SPOOL_ROOM;
    int rc =
        pl_spool_put(self->spool, &hdr, raw, raw_len, pl_now_ms(), &dup, &why);
    if (rc == PL_OK)
        rc = pl_spool_nest_commit(self->spool);
    else
        pl_spool_nest_abort(self->spool);
    char hex[33];
    pl_hex(hex, hdr.id, PL_MSG_ID_BYTES);
    if (rc == PL_OK || (rc == PL_EEXIST && dup)) {
        if (rc == PL_OK) {
            s_stats_t *st = s_stats(self, s->address);
            if (st)
                st->accepted++;
            s_routed(self);
            pl_log_debug(self->log, "accepted id=%s from=%s to=%s bytes=%zu",
                         hex, hdr.from, hdr.to, raw_len);
        } else {
            pl_log_debug(self->log, "duplicate id=%s from=%s", hex, hdr.from);
        }
        pl_buf_t out = {0};
        if (pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_ACCEPTED, hdr.id,
                              &out)
            == PL_OK) {
            s_reply(self, s->rid, s->rid_len, &out, true);
            if (self->nreplies
                && self->replies[self->nreplies - 1].packet.data) {
                s_reply_t *r = &self->replies[self->nreplies - 1];
                r->accepted = true;
                memcpy(r->id, hdr.id, PL_MSG_ID_BYTES);
            }
        } else {
            pl_buf_free(&out);
        }
    } else if (rc == PL_EAUTH) {
        pl_log_error(self->log, "attack_same_id_other_bytes id=%s from=%s", hex,
                     hdr.from);
        s_reject(self, s->rid, s->rid_len, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_DUPLICATE_CONFLICT,
                 "same id, other bytes", s->address);
    } else if (rc == PL_EFULL && why != PL_SPOOL_MAP_FULL) {
        // one node over its share: refused, the rest of the network served
        const char *who = why == PL_SPOOL_SENDER_OVER ? hdr.from : hdr.to;
        s_stats_t *st = s_stats(self, who);
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

// taken (state TAKEN) or a recipient's refusal (state REFUSED)
static void
s_handle_take(pl_broker_t *self, s_session_t *s, const uint8_t *id,
              pl_spool_state_t state)
{
    if (pl_spool_nest(self->spool) != PL_OK)
        return;
    uint64_t latency = 0;
    uint64_t seq = 0;
    int rc = pl_spool_take(self->spool, id, s->address, state, pl_now_ms(),
                           &latency, &seq);
    if (rc == PL_OK)
        rc = pl_spool_nest_commit(self->spool);
    else
        pl_spool_nest_abort(self->spool);
    char hex[33];
    pl_hex(hex, id, PL_MSG_ID_BYTES);
    if (rc == PL_OK) {
        if (self->ntakes == self->captakes) {
            size_t cap = self->captakes ? self->captakes * 2 : 64;
            s_take_t *p = realloc(self->takes, cap * sizeof *p);
            if (p) {
                self->takes = p;
                self->captakes = cap;
            }
        }
        if (self->ntakes < self->captakes) {
            s_take_t *t = &self->takes[self->ntakes++];
            memcpy(t->id, id, PL_MSG_ID_BYTES);
            snprintf(t->by, sizeof t->by, "%s", s->address);
            t->state = state;
        }
        // only what this delivery round sent counts against the window: a
        // taken for a delivery from before a redelivery reset does not
        if (s->inflight && seq <= s->next_seq)
            s->inflight--;
        // progress: the redelivery timer means "no taken for redeliver_ms",
        // not "the window never emptied" (steady traffic never empties it)
        s->oldest_inflight_ms = pl_mono_ms();
        s_stats_t *st = s_stats(self, s->address);
        if (st && state == PL_SPOOL_TAKEN) {
            st->taken++;
            st->lat[st->nlat++ % S_LAT_SAMPLES] =
                latency > UINT32_MAX ? UINT32_MAX : (uint32_t) latency;
        }
        pl_log_debug(self->log, "%s id=%s by=%s latency_ms=%llu",
                     state == PL_SPOOL_TAKEN ? "taken" : "refused_by_recipient",
                     hex, s->address, (unsigned long long) latency);
    } else if (rc == PL_EPERM) {
        s_reject(self, s->rid, s->rid_len, id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_NOT_RECIPIENT,
                 "only the recipient may take an envelope", s->address);
    } else if (rc != PL_ENOTFOUND) {
        pl_log_error(self->log, "take_failed id=%s reason=\"%s\"", hex,
                     pl_strerror(rc));
    }
}

static void
s_directory(pl_broker_t *self, const uint8_t *rid, size_t rid_len,
            const char *sector)
{
    Passerelle__V1__DirectoryResponse d =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    size_t n = pl_registry_count(self->reg);
    Passerelle__V1__Certificate **certs = calloc(n + 1, sizeof *certs);
    ProtobufCMessage **owned = calloc(n + 1, sizeof *owned);
    ProtobufCMessage *rl = NULL;
    uint64_t now = pl_now();
    if (!certs || !owned)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const pl_reg_entry_t *e = pl_registry_at(self->reg, i);
        if (pl_registry_check(self->reg, e, now) != PL_OK)
            continue;
        // only the newest valid certificate of each address (a re-enrolled
        // node, e.g. after a box key rotation, has two in certs/)
        if (pl_registry_by_address(self->reg, e->cert.address, now) != e)
            continue;
        if (sector && *sector && strcmp(e->cert.sector, sector) != 0)
            continue;
        ProtobufCMessage *m = NULL;
        if (pl_wire_unpack(&passerelle__v1__certificate__descriptor,
                           e->raw.data, e->raw.len, &m)
            != PL_OK)
            continue;
        owned[d.n_certificates] = m;
        certs[d.n_certificates++] = (Passerelle__V1__Certificate *) m;
    }
    d.certificates = certs;
    const pl_revlist_t *list = pl_registry_revoked(self->reg);
    if (list->number > 0 && list->raw.len
        && pl_wire_unpack(&passerelle__v1__revocation_list__descriptor,
                          list->raw.data, list->raw.len, &rl)
               == PL_OK)
        d.revoked = (Passerelle__V1__RevocationList *) rl;
    Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE;
    p.directory_response = &d;
    pl_buf_t out = {0};
    if (pl_wire_encode(&p, &out) == PL_OK)
        s_reply(self, rid, rid_len, &out, false);
    else
        pl_buf_free(&out);
done:
    for (size_t i = 0; owned && i < d.n_certificates; i++)
        pl_wire_unpacked_free(owned[i]);
    if (rl)
        pl_wire_unpacked_free(rl);
    free(certs);
    free(owned);
}

static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

// median and p95 of a node's latency samples
static void
s_percentiles(const s_stats_t *st, uint64_t *p50, uint64_t *p95)
{
    size_t n = st->nlat < S_LAT_SAMPLES ? st->nlat : S_LAT_SAMPLES;
    *p50 = *p95 = 0;
    if (n == 0)
        return;
    uint32_t tmp[S_LAT_SAMPLES];
    memcpy(tmp, st->lat, n * sizeof tmp[0]);
    qsort(tmp, n, sizeof tmp[0], s_cmp_u32);
    *p50 = tmp[(n - 1) / 2];
    *p95 = tmp[(n * 95 + 99) / 100 - 1];
}

static uint64_t
s_routed_per_minute(pl_broker_t *self)
{
    uint64_t sec = pl_mono_ms() / 1000, sum = 0;
    if (sec >= self->routed_slot + 60)
        return 0;
    for (int i = 0; i < 60; i++) {
        uint64_t slot_sec = sec - (uint64_t) i;
        if (slot_sec <= self->routed_slot && slot_sec + 60 > sec)
            sum += self->routed_minute[slot_sec % 60];
    }
    return sum;
}

// Figures for every enrolled address (unique), as one JSON array or into a
// StatusResponse. Metadata only.
typedef struct {
    char address[PL_ADDRESS_MAX + 1];
    char sector[32];
    bool online;
    uint64_t connected_since, last_seen, queued, oldest_age;
    uint64_t accepted, delivered, taken, expired, rejected, p50, p95;
} s_figures_t;

static size_t
s_figures(pl_broker_t *self, s_figures_t **out)
{
    size_t n = pl_registry_count(self->reg), k = 0;
    s_figures_t *f = calloc(n + 1, sizeof *f);
    *out = f;
    if (!f)
        return 0;
    uint64_t now = pl_now(), now_ms = pl_now_ms();
    for (size_t i = 0; i < n; i++) {
        const pl_reg_entry_t *e = pl_registry_at(self->reg, i);
        if (strcmp(e->cert.sector, "broker") == 0)
            continue;
        bool seen = false;
        for (size_t j = 0; j < k; j++)
            seen = seen || strcmp(f[j].address, e->cert.address) == 0;
        if (seen)
            continue;
        s_figures_t *x = &f[k++];
        snprintf(x->address, sizeof x->address, "%s", e->cert.address);
        snprintf(x->sector, sizeof x->sector, "%s", e->cert.sector);
        s_session_t *s = s_session_by_address(self, x->address);
        x->online = s != NULL;
        if (s)
            x->connected_since = s->connected_since;
        uint64_t oldest = 0;
        if (pl_spool_depth(self->spool, x->address, &x->queued, &oldest)
                == PL_OK
            && x->queued)
            x->oldest_age = now_ms > oldest ? (now_ms - oldest) / 1000 : 0;
        s_stats_t *st = s_stats(self, x->address);
        if (st) {
            x->last_seen = st->last_seen;
            x->accepted = st->accepted;
            x->delivered = st->delivered;
            x->taken = st->taken;
            x->expired = st->expired;
            x->rejected = st->rejected;
            s_percentiles(st, &x->p50, &x->p95);
        }
    }
    (void) now;
    return k;
}

static void
s_status(pl_broker_t *self, const uint8_t *rid, size_t rid_len)
{
    s_figures_t *f = NULL;
    size_t n = s_figures(self, &f);
    Passerelle__V1__NodeStatus *ns = calloc(n + 1, sizeof *ns);
    Passerelle__V1__NodeStatus **nsp = calloc(n + 1, sizeof *nsp);
    if (!f || !ns || !nsp)
        goto done;
    for (size_t i = 0; i < n; i++) {
        Passerelle__V1__NodeStatus x = PASSERELLE__V1__NODE_STATUS__INIT;
        x.address = f[i].address;
        x.sector = f[i].sector;
        x.online = f[i].online;
#define S_SET(field, value)                                                    \
    do {                                                                       \
        x.has_##field = 1;                                                     \
        x.field = (value);                                                     \
    } while (0)
        if (f[i].online)
            S_SET(connected_since, f[i].connected_since);
        if (f[i].last_seen)
            S_SET(last_seen, f[i].last_seen);
        S_SET(queued, f[i].queued);
        S_SET(oldest_queued_age, f[i].oldest_age);
        S_SET(accepted, f[i].accepted);
        S_SET(delivered, f[i].delivered);
        S_SET(taken, f[i].taken);
        S_SET(expired, f[i].expired);
        S_SET(rejected, f[i].rejected);
        S_SET(latency_p50_ms, f[i].p50);
        S_SET(latency_p95_ms, f[i].p95);
#undef S_SET
        ns[i] = x;
        nsp[i] = &ns[i];
    }
    Passerelle__V1__StatusResponse r = PASSERELLE__V1__STATUS_RESPONSE__INIT;
    r.time = pl_now();
    r.uptime = r.time - self->started;
    r.n_nodes = n;
    r.nodes = nsp;
    r.has_store_bytes = 1;
    r.store_bytes = pl_spool_file_bytes(self->spool);
    r.has_map_use_pct = 1;
    r.map_use_pct = pl_spool_usage_pct(self->spool);
    r.has_routed_per_minute = 1;
    r.routed_per_minute = s_routed_per_minute(self);
    r.address = self->address;
    Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_STATUS_RESPONSE;
    p.status_response = &r;
    pl_buf_t out = {0};
    if (pl_wire_encode(&p, &out) == PL_OK)
        s_reply(self, rid, rid_len, &out, false);
    else
        pl_buf_free(&out);
done:
    free(f);
    free(ns);
    free(nsp);
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
        s_session_t *old = s_session_by_rid(self, rid, rid_len);
        if (old)
            s_session_drop(self, old, "certificate_no_longer_valid");
        return;
    }
    s_stats_t *st = s_stats(self, address);
    if (st)
        st->last_seen = pl_now();
    const uint8_t *data = zmq_msg_data(body);
    size_t len = zmq_msg_size(body);
    pl_packet_t *pkt = NULL;
    int rc = pl_wire_decode(data, len, &pkt);
    bool fresh = false;
    s_session_t *s = s_session(self, rid, rid_len, address, &fresh);
    if (!s)
        return;
    s->last_seen_ms = pl_now_ms();
    if (fresh
        && !(rc == PL_OK
             && pkt->kind_case == PASSERELLE__V1__PACKET__KIND_HELLO))
        s_welcome(self, s); // unknown session: tell the node to resync
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
        s_handle_envelope(self, s, pkt->envelope, data, len);
        break;
    case PASSERELLE__V1__PACKET__KIND_TAKEN:
        s_handle_take(self, s, pkt->taken->message_id.data, PL_SPOOL_TAKEN);
        break;
    case PASSERELLE__V1__PACKET__KIND_REJECTED:
        // a recipient refusing an envelope for good: drop it
        if (pkt->rejected->has_message_id)
            s_handle_take(self, s, pkt->rejected->message_id.data,
                          PL_SPOOL_REFUSED);
        break;
    case PASSERELLE__V1__PACKET__KIND_HELLO:
        pl_log_info(self->log, "hello address=%s clock_skew=%lld", address,
                    (long long) pkt->hello->time - (long long) pl_now());
        s->next_seq = 0; // a hello resets delivery: redeliver what is queued
        s->inflight = 0;
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
            s_reply(self, rid, rid_len, &out, false);
        else
            pl_buf_free(&out);
        break;
    }
    case PASSERELLE__V1__PACKET__KIND_DIRECTORY_REQUEST:
        s_directory(self, rid, rid_len, pkt->directory_request->sector);
        break;
    case PASSERELLE__V1__PACKET__KIND_STATUS_REQUEST:
        s_status(self, rid, rid_len);
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
    s_session_t *s;
    uint64_t now;
} s_deliver_ctx_t;

static bool
s_deliver_one(void *arg, const pl_spool_item_t *item)
{
    s_deliver_ctx_t *c = arg;
    s_session_t *s = c->s;
    if (s->inflight >= c->self->cfg.window)
        return false;
    if (item->expires_at <= c->now) {
        s->next_seq = item->seq; // the sweep will drop it
        return true;
    }
    int err =
        s_send(c->self, s->rid, s->rid_len, item->packet, item->packet_len);
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
    s_stats_t *st = s_stats(c->self, s->address);
    if (st)
        st->delivered++;
    return true;
}

static void
s_deliver(pl_broker_t *self)
{
    uint64_t mono = pl_mono_ms();
    for (size_t i = 0; i < self->nsessions; i++) {
        s_session_t *s = &self->sessions[i];
        s->blocked = false;
        // unconfirmed for too long: start again from the oldest queued
        if (s->inflight
            && mono - s->oldest_inflight_ms > self->cfg.redeliver_ms) {
            pl_log_info(self->log, "redeliver address=%s unconfirmed=%u",
                        s->address, s->inflight);
            s->inflight = 0;
            s->next_seq = 0;
        }
        if (s->inflight >= self->cfg.window)
            continue;
        s_deliver_ctx_t c = {self, s, pl_now()};
        pl_spool_scan(self->spool, s->address, s->next_seq,
                      self->cfg.window - s->inflight, s_deliver_one, &c);
    }
    for (size_t i = 0; i < self->nsessions;) {
        if (self->sessions[i].gone) {
            s_session_drop(self, &self->sessions[i], "unreachable");
            continue;
        }
        i++;
    }
}

static void
s_on_expired(void *arg, const char *to)
{
    pl_broker_t *self = arg;
    s_stats_t *st = s_stats(self, to);
    if (st)
        st->expired++;
}

// expired notices for connected senders, inside the pass
static void
s_tell_expired(pl_broker_t *self)
{
    uint8_t ids[S_NOTICES_MAX][PL_MSG_ID_BYTES];
    char tos[S_NOTICES_MAX][PL_ADDRESS_MAX + 1];
    for (size_t i = 0; i < self->nsessions; i++) {
        s_session_t *s = &self->sessions[i];
        int n = pl_spool_notices_pop(self->spool, s->address, S_NOTICES_MAX,
                                     ids, tos);
        for (int j = 0; j < n; j++) {
            Passerelle__V1__Expired e = PASSERELLE__V1__EXPIRED__INIT;
            e.message_id.data = ids[j];
            e.message_id.len = PL_MSG_ID_BYTES;
            e.to = tos[j];
            Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
            p.kind_case = PASSERELLE__V1__PACKET__KIND_EXPIRED;
            p.expired = &e;
            pl_buf_t out = {0};
            if (pl_wire_encode(&p, &out) == PL_OK)
                s_reply(self, s->rid, s->rid_len, &out, true);
            else
                pl_buf_free(&out);
        }
    }
}

// ------------------------------------------------------------ control

static json_t *
s_figures_json(pl_broker_t *self)
{
    s_figures_t *f = NULL;
    size_t n = s_figures(self, &f);
    json_t *arr = json_array();
    char t[32];
    for (size_t i = 0; f && i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "address", json_string(f[i].address));
        json_object_set_new(o, "sector", json_string(f[i].sector));
        json_object_set_new(o, "online", json_boolean(f[i].online));
        if (f[i].online) {
            pl_time_fmt(t, f[i].connected_since);
            json_object_set_new(o, "connected_since", json_string(t));
        } else {
            json_object_set_new(o, "connected_since", json_null());
        }
        if (f[i].last_seen) {
            pl_time_fmt(t, f[i].last_seen);
            json_object_set_new(o, "last_seen", json_string(t));
        } else {
            json_object_set_new(o, "last_seen", json_null());
        }
        json_object_set_new(o, "queued",
                            json_integer((json_int_t) f[i].queued));
        json_object_set_new(o, "oldest_queued_age",
                            json_integer((json_int_t) f[i].oldest_age));
        json_object_set_new(o, "accepted",
                            json_integer((json_int_t) f[i].accepted));
        json_object_set_new(o, "delivered",
                            json_integer((json_int_t) f[i].delivered));
        json_object_set_new(o, "taken", json_integer((json_int_t) f[i].taken));
        json_object_set_new(o, "expired",
                            json_integer((json_int_t) f[i].expired));
        json_object_set_new(o, "rejected",
                            json_integer((json_int_t) f[i].rejected));
        json_object_set_new(o, "latency_p50_ms",
                            json_integer((json_int_t) f[i].p50));
        json_object_set_new(o, "latency_p95_ms",
                            json_integer((json_int_t) f[i].p95));
        json_array_append_new(arr, o);
    }
    free(f);
    return arr;
}

// One certificate for the operator's `broker nodes` listing.
static json_t *
s_cert_json(pl_broker_t *self, const pl_cert_t *c, bool online, uint64_t now)
{
    const pl_revlist_t *rl = pl_registry_revoked(self->reg);
    char t[32], kid[17];
    json_t *o = json_object();
    json_object_set_new(o, "address", json_string(c->address));
    json_object_set_new(o, "display_name", json_string(c->display_name));
    json_object_set_new(o, "sector", json_string(c->sector));
    json_object_set_new(o, "region", json_string(c->region));
    json_object_set_new(o, "serial", json_integer((json_int_t) c->serial));
    pl_time_fmt(t, c->not_after);
    json_object_set_new(o, "valid_until", json_string(t));
    bool revoked = pl_revlist_contains(rl, c->serial);
    json_object_set_new(o, "revoked", json_boolean(revoked));
    int64_t left = (int64_t) c->not_after - (int64_t) now;
    json_object_set_new(o, "days_left",
                        json_integer((json_int_t) (left / 86400)));
    const char *status = "valid";
    if (revoked)
        status = "revoked";
    else if (now < c->not_before)
        status = "not-yet-valid";
    else if (left <= 0)
        status = "expired";
    else if (left < (int64_t) PL_CERT_WARN_DAYS * 86400)
        status = "expiring-soon";
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "expiring_soon",
                        json_boolean(strcmp(status, "expiring-soon") == 0));
    pl_hex(kid, c->box_key_id, PL_KEY_ID_BYTES);
    json_object_set_new(o, "box_key_id", json_string(kid));
    json_object_set_new(o, "online", json_boolean(online));
    return o;
}

// Every certificate the operator must watch: the broker's own first (its
// expiry stops the whole network, and DESIGN.md §9 does not put it in
// certs/), then the enrolled ones; no serial twice.
static json_t *
s_nodes_json(pl_broker_t *self)
{
    json_t *arr = json_array();
    uint64_t now = pl_now();
    bool own_listed = false;
    for (size_t i = 0; i < pl_registry_count(self->reg); i++)
        own_listed =
            own_listed
            || pl_registry_at(self->reg, i)->cert.serial == self->own.serial;
    if (!own_listed)
        json_array_append_new(arr, s_cert_json(self, &self->own, true, now));
    for (size_t i = 0; i < pl_registry_count(self->reg); i++) {
        const pl_cert_t *c = &pl_registry_at(self->reg, i)->cert;
        bool online = c->serial == self->own.serial
                      || s_session_by_address(self, c->address) != NULL;
        json_array_append_new(arr, s_cert_json(self, c, online, now));
    }
    return arr;
}

static void s_push_directory(pl_broker_t *self);

static void
s_reload(pl_broker_t *self)
{
    int n = pl_registry_reload(self->reg);
    if (n < 0) {
        // certs/ unreadable now: the registry stays as it was (logged)
        self->reload_failed = true;
        return;
    }
    self->reload_failed = false;
    pl_log_info(self->log, "reloaded certificates=%d", n);
    pl_door_check_registry(self->door, pl_registry_count(self->reg));
    // connected nodes whose certificate is no longer valid: refuse them now
    uint64_t now = pl_now();
    for (size_t i = 0; i < self->nsessions;) {
        s_session_t *s = &self->sessions[i];
        if (!pl_registry_by_address(self->reg, s->address, now)) {
            pl_buf_t out = {0};
            if (pl_wire_rejected(NULL,
                                 PASSERELLE__V1__REJECT_REASON__REJECT_REVOKED,
                                 "certificate revoked or expired", &out)
                == PL_OK)
                s_send(self, s->rid, s->rid_len, out.data, out.len);
            pl_buf_free(&out);
            s_session_drop(self, s, "certificate_no_longer_valid");
            continue;
        }
        i++;
    }
    s_push_directory(self);
}

static void
s_push_directory(pl_broker_t *self)
{
    // every connected node gets the current directory and revocation list;
    // sent now, and only these: replies of a pass (if any were pending)
    // still wait for their commit
    size_t mark = self->nreplies;
    for (size_t i = 0; i < self->nsessions; i++)
        s_directory(self, self->sessions[i].rid, self->sessions[i].rid_len,
                    NULL);
    for (size_t i = mark; i < self->nreplies; i++) {
        s_send(self, self->replies[i].rid, self->replies[i].rid_len,
               self->replies[i].packet.data, self->replies[i].packet.len);
        pl_buf_free(&self->replies[i].packet);
    }
    self->nreplies = mark;
}

#define S_CONTROL_MAX    65536 // bytes of one control request (ZMQ_MAXMSGSIZE)
#define S_CONTROL_FRAMES 8     // frames read of one control message at most

static void s_control_answer(pl_broker_t *self, const char *buf, size_t n,
                             json_t *rep);

// One message on the control ROUTER: [routing id][""][request] from a REQ
// peer. Anything else (no delimiter, several body frames, bytes that are
// not JSON) gets an error reply to its own peer only; a ROUTER routes each
// reply by the peer's id, so a bad peer can never take or lose another's.
// Returns false when no message was waiting.
static bool
s_control(pl_broker_t *self)
{
    zmq_msg_t fr[S_CONTROL_FRAMES];
    int n = 0, more = 1;
    while (more && n < S_CONTROL_FRAMES) {
        zmq_msg_init(&fr[n]);
        if (zmq_msg_recv(&fr[n], self->control, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&fr[n]);
            more = 0;
            break;
        }
        more = zmq_msg_more(&fr[n]);
        n++;
    }
    if (n == 0)
        return false;
    bool toolong = false;
    while (more) { // over the frame bound: drain the rest of the message
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        more = zmq_msg_recv(&extra, self->control, ZMQ_DONTWAIT) >= 0
               && zmq_msg_more(&extra);
        zmq_msg_close(&extra);
        toolong = true;
    }
    // n frames were received into fr[0..n) (n >= 1)
    bool delim = n >= 2 && zmq_msg_size(&fr[1]) == 0;
    json_t *rep = json_object();
    if (!delim || n != 3 || toolong) {
        json_object_set_new(rep, "ok", json_false());
        json_object_set_new(
            rep, "error",
            json_string("malformed request: one JSON frame after the "
                        "empty delimiter (a REQ socket) is expected"));
        s_control_answer(self, NULL, 0, rep);
    } else {
        s_control_answer(self, zmq_msg_data(&fr[2]), zmq_msg_size(&fr[2]), rep);
    }
    char *text = json_dumps(rep, JSON_COMPACT);
    json_decref(rep);
    zmq_send(self->control, zmq_msg_data(&fr[0]), zmq_msg_size(&fr[0]),
             ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (delim)
        zmq_send(self->control, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (text)
        zmq_send(self->control, text, strlen(text), ZMQ_DONTWAIT);
    else
        zmq_send(self->control, "{\"ok\":false}", 12, ZMQ_DONTWAIT);
    free(text);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&fr[i]);
    return true;
}

// Fills 'rep' for the request text buf[0..n) (NULL: already answered).
static void
s_control_answer(pl_broker_t *self, const char *buf, size_t n, json_t *rep)
{
    if (!buf)
        return;
    json_error_t jerr;
    json_t *req = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
    const char *cmd = json_is_object(req)
                          ? json_string_value(json_object_get(req, "cmd"))
                          : NULL;
    if (!req) {
        json_object_set_new(rep, "ok", json_false());
        json_object_set_new(rep, "error",
                            json_string("malformed request: not JSON"));
    } else if (!cmd) {
        json_object_set_new(rep, "ok", json_false());
        json_object_set_new(
            rep, "error",
            json_string("malformed request: an object with a string "
                        "\"cmd\" is expected"));
    } else if (strcmp(cmd, "status") == 0) {
        json_t *r = json_object();
        char t[32];
        pl_time_fmt(t, pl_now());
        json_object_set_new(r, "address", json_string(self->address));
        json_object_set_new(r, "time", json_string(t));
        json_object_set_new(
            r, "uptime_s",
            json_integer((json_int_t) (pl_now() - self->started)));
        json_object_set_new(
            r, "store_bytes",
            json_integer((json_int_t) pl_spool_file_bytes(self->spool)));
        json_object_set_new(
            r, "map_use_pct",
            json_integer((json_int_t) pl_spool_usage_pct(self->spool)));
        json_object_set_new(
            r, "routed_per_minute",
            json_integer((json_int_t) s_routed_per_minute(self)));
        json_object_set_new(r, "online",
                            json_integer((json_int_t) self->nsessions));
        json_object_set_new(
            r, "fd_limit",
            json_integer((json_int_t) pl_door_limit(self->door)));
        json_object_set_new(
            r, "open_fds",
            json_integer((json_int_t) pl_door_open_fds(self->door)));
        json_object_set_new(r, "door_closed",
                            json_boolean(pl_door_is_closed(self->door)));
        json_object_set_new(
            r, "revocation_number",
            json_integer((json_int_t) pl_registry_revoked(self->reg)->number));
        json_object_set_new(r, "nodes", s_figures_json(self));
        json_object_set_new(rep, "ok", json_true());
        json_object_set_new(rep, "result", r);
    } else if (strcmp(cmd, "nodes") == 0) {
        json_object_set_new(rep, "ok", json_true());
        json_object_set_new(rep, "result", s_nodes_json(self));
    } else if (strcmp(cmd, "reload") == 0) {
        s_reload(self);
        if (self->reload_failed) {
            json_object_set_new(rep, "ok", json_false());
            json_object_set_new(
                rep, "error",
                json_string("could not read certs/ now; the registry was "
                            "kept as it was (see the broker log)"));
        } else {
            json_t *r = json_object();
            json_object_set_new(
                r, "certificates",
                json_integer((json_int_t) pl_registry_count(self->reg)));
            json_object_set_new(
                r, "revocation_number",
                json_integer(
                    (json_int_t) pl_registry_revoked(self->reg)->number));
            json_object_set_new(rep, "ok", json_true());
            json_object_set_new(rep, "result", r);
        }
    } else {
        json_object_set_new(rep, "ok", json_false());
        json_object_set_new(rep, "error", json_string("unknown command"));
    }
    json_decref(req);
}

// ------------------------------------------------------------ lifecycle

static int
s_setopt_int(void *sock, int opt, int value)
{
    return zmq_setsockopt(sock, opt, &value, sizeof value);
}

pl_broker_t *
pl_broker_new(const pl_broker_config_t *config)
{
    if (pl_crypto_init() != PL_OK)
        return NULL;
    pl_broker_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *config;
    self->log = config->log;
    if (!self->cfg.map_bytes)
        self->cfg.map_bytes = (size_t) 1 << 30;
    if (!self->cfg.window)
        self->cfg.window = 64;
    if (!self->cfg.redeliver_ms)
        self->cfg.redeliver_ms = 30000;
    if (!self->cfg.session_ms)
        self->cfg.session_ms = 20000;
    snprintf(self->home, sizeof self->home, "%s", config->home);
    self->started = pl_now();
    pl_log_t *log = self->log;

    int rc = pl_keys_load(self->home, &self->keys);
    if (rc != PL_OK) {
        pl_log_error(log, "start_failed reason=\"keys: %s\" home=%s",
                     pl_strerror(rc), self->home);
        goto fail;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/authority.pub", self->home);
    uint8_t apk[32];
    pl_cert_t own;
    rc = pl_authority_pub_load(path, apk);
    if (rc == PL_OK) {
        snprintf(path, sizeof path, "%s/node.cert", self->home);
        rc = pl_cert_load(path, apk, &own, NULL);
    }
    if (rc != PL_OK) {
        pl_log_error(log, "start_failed reason=\"own certificate: %s\"",
                     pl_strerror(rc));
        goto fail;
    }
    if (!pl_ct_equal(own.keys.curve, self->keys->pub.curve, 32)) {
        pl_log_error(log, "start_failed reason=\"node.cert does not match "
                          "keys/curve.public\"");
        goto fail;
    }
    snprintf(self->address, sizeof self->address, "%s", own.address);
    self->own = own;
    self->reg = pl_registry_open(self->home, log);
    if (!self->reg)
        goto fail;
    snprintf(path, sizeof path, "%s/store", self->home);
    self->spool = pl_spool_open(path, self->cfg.map_bytes, log);
    if (!self->spool)
        goto fail;
    pl_spool_set_quotas(self->spool, self->cfg.sender_quota,
                        self->cfg.recipient_quota);

    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        goto fail;
    // the ZAP handler must exist before the door binds: with
    // ZMQ_ZAP_ENFORCE_DOMAIN a missing handler then refuses everyone
    bool zap = true;
#ifdef PL_TEST_BUILD
    zap = !self->cfg.no_zap; // --test-no-zap: test builds only
#endif
    if (zap) {
        self->zap = zmq_socket(self->ctx, ZMQ_REP);
        if (!self->zap || zmq_bind(self->zap, "inproc://zeromq.zap.01") != 0) {
            pl_log_error(log, "start_failed reason=\"zap: %s\"",
                         zmq_strerror(errno));
            goto fail;
        }
    }
    self->router = zmq_socket(self->ctx, ZMQ_ROUTER);
    if (!self->router)
        goto fail;
    int64_t maxsize = PL_PACKET_MAX;
    rc = 0;
    rc |= s_setopt_int(self->router, ZMQ_CURVE_SERVER, 1);
    rc |= zmq_setsockopt(self->router, ZMQ_CURVE_SECRETKEY,
                         self->keys->sec->curve, 32);
    rc |= zmq_setsockopt(self->router, ZMQ_ZAP_DOMAIN, S_ZAP_DOMAIN,
                         strlen(S_ZAP_DOMAIN));
    rc |= s_setopt_int(self->router, ZMQ_ZAP_ENFORCE_DOMAIN, 1);
    rc |= s_setopt_int(self->router, ZMQ_ROUTER_MANDATORY, 1);
    rc |=
        zmq_setsockopt(self->router, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
    rc |= s_setopt_int(self->router, ZMQ_LINGER, 2000);
    rc |= s_setopt_int(self->router, ZMQ_HANDSHAKE_IVL, 10000);
    // No ZMTP heartbeats on the door (ZMQ_HEARTBEAT_IVL/TIMEOUT/TTL): in
    // libzmq 4.3.4 the heartbeat timer writes to a connection whose input
    // was stopped (our receive side behind) and then dropped by its peer,
    // and aborts the process ('Assertion failed: !_io_error',
    // src/stream_engine_base.cpp:331; zeromq/libzmq #4364, #4767, #3937,
    // test_flood_then_vanish). Liveness is the application's: nodes send
    // heartbeat packets and a silent session ends after --session-ms;
    // dead TCP peers are closed by the kernel's keepalive.
    rc |= s_setopt_int(self->router, ZMQ_TCP_KEEPALIVE, 1);
    rc |= s_setopt_int(self->router, ZMQ_TCP_KEEPALIVE_IDLE, 30);
    rc |= s_setopt_int(self->router, ZMQ_TCP_KEEPALIVE_INTVL, 10);
    rc |= s_setopt_int(self->router, ZMQ_TCP_KEEPALIVE_CNT, 3);
    rc |= s_setopt_int(self->router, ZMQ_SNDHWM, 10000);
    rc |= s_setopt_int(self->router, ZMQ_RCVHWM, 10000);
    if (rc != 0) {
        pl_log_error(log, "start_failed reason=\"socket options: %s\"",
                     zmq_strerror(errno));
        goto fail;
    }
    // the door: bound through pl_door, which keeps TCP peers from using
    // up the descriptors the control socket, LMDB and reloads need
    self->door = pl_door_open(self->ctx, self->router, config->listen,
                              pl_registry_count(self->reg), log);
    if (!self->door)
        goto fail;
    // operator control socket; the folder is the broker home (0700)
    // a ROUTER (the CLI's REQ talks to it as to a REP): replies are routed
    // by peer, so a bad peer cannot disturb another's exchange; requests
    // over S_CONTROL_MAX drop their connection before any allocation
    self->control = zmq_socket(self->ctx, ZMQ_ROUTER);
    char ep[4200];
    snprintf(ep, sizeof ep, "ipc://%s/control", self->home);
    int64_t ctl_max = S_CONTROL_MAX;
    if (self->control) {
        s_setopt_int(self->control, ZMQ_LINGER, 0);
        zmq_setsockopt(self->control, ZMQ_MAXMSGSIZE, &ctl_max, sizeof ctl_max);
    }
    if (!self->control || zmq_bind(self->control, ep) != 0) {
        pl_log_error(log, "start_failed reason=\"control %s: %s\"", ep,
                     zmq_strerror(errno));
        goto fail;
    }
    pl_log_info(log,
                "broker_started address=%s listen=%s certificates=%zu "
                "verify_outer=%d",
                self->address, config->listen, pl_registry_count(self->reg),
                self->cfg.verify_outer);
    return self;
fail:
    pl_broker_destroy(&self);
    return NULL;
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
            s_reload(self);
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
        s_session_t *s = &self->sessions[i];
        if (now - s->last_seen_ms > self->cfg.session_ms) {
            s_session_drop(self, s, "silent");
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
        s_take_t *t = &self->takes[i];
        // each in its own nested transaction: one that finds no page
        // leaves the others (and the pass) committable
        if (pl_spool_nest(self->spool) != PL_OK)
            break;
        int r = pl_spool_take(self->spool, t->id, t->by, t->state, pl_now_ms(),
                              NULL, NULL);
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
    s_setopt_int(self->router, ZMQ_LINGER, 0);
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
    zmq_pollitem_t items[5];
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
    for (;;) {
        int rc = zmq_poll(items, nitems, 500);
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
                s_zap_handle(self);
        }
        if (items[1].revents & ZMQ_POLLIN)
            for (int k = 0; k < 32 && s_control(self); k++)
                ;

        uint64_t mono = pl_mono_ms();
        bool sweep = mono - self->last_sweep_ms >= S_SWEEP_MS;
        if (!(items[0].revents & ZMQ_POLLIN) && !sweep) {
            s_session_timeouts(self);
            s_deliver(self);
            // a read that found the environment broken (MDB_PANIC)
            if (pl_spool_fatal(self->spool))
                return s_store_failed(self, "read");
            continue;
        }
        // ---- one pass: one write transaction, one commit, then replies
        if (pl_spool_begin(self->spool) != PL_OK)
            return s_store_failed(self, "begin");
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
        if (sweep) {
            self->last_sweep_ms = mono;
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
            if (pl_spool_nest(self->spool) == PL_OK) {
                s_tell_expired(self);
                if (pl_spool_nest_commit(self->spool) != PL_OK)
                    pl_spool_nest_abort(self->spool);
            }
        }
        int crc = pl_spool_commit(self->spool);
        if (crc != PL_OK && crc != PL_EFULL)
            return s_store_failed(self, "commit");
        if (pl_spool_fatal(self->spool))
            return s_store_failed(self, "pass");
        bool durable = crc == PL_OK;
        if (!durable) {
            s_store_full_log(self, "commit");
            if (s_retake(self) != PL_OK)
                return s_store_failed(self, "commit");
        }
        self->ntakes = 0;
        for (size_t i = 0; i < self->nreplies; i++) {
            s_reply_t *r = &self->replies[i];
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
                int err = s_send(self, r->rid, r->rid_len, r->packet.data,
                                 r->packet.len);
                if (err == EHOSTUNREACH) {
                    s_session_t *s = s_session_by_rid(self, r->rid, r->rid_len);
                    if (s)
                        s_session_drop(self, s, "unreachable");
                }
            }
            pl_buf_free(&r->packet);
        }
        self->nreplies = 0;
        s_session_timeouts(self);
        s_deliver(self);
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

void
pl_broker_destroy(pl_broker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pl_broker_t *self = *self_p;
    for (size_t i = 0; i < self->nreplies; i++)
        pl_buf_free(&self->replies[i].packet);
    free(self->replies);
    free(self->takes);
    if (self->control)
        zmq_close(self->control);
    pl_door_close(&self->door);
    if (self->router)
        zmq_close(self->router);
    if (self->zap)
        zmq_close(self->zap);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    pl_spool_close(&self->spool);
    pl_registry_close(&self->reg);
    pl_keys_destroy(&self->keys);
    free(self->sessions);
    free(self->stats);
    if (self->log)
        pl_log_info(self->log, "broker_stopped");
    free(self);
    *self_p = NULL;
}
