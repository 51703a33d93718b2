// pl_fed - federated brokers: anchors, the federation port, the links,
// custody hop by hop, the transit wrap, the directory across the border
// (DESIGN.md §7.1; see pl_fed.h). Layer: broker.
#include "broker/pl_fed.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pl_anchor.h"
#include "proto/pl_crypto.h"

#define S_FED_ZAP      "passerelle-fed"
#define S_QPREFIX      "~fed/" // spool queue of a peer: ~fed/NETWORK
#define S_HELLO_MS     1000    // hello while down, at most this often
#define S_BEAT_MS      1000    // heartbeat while up
#define S_DEAD_MS      5000    // silent this long: the link is down
#define S_REDELIVER_MS 10000   // unconfirmed this long: resend from oldest
#define S_PRUNE_MS     60000   // fedmap pruning period
#define S_PEERS_MAX    PL_FED_POLL_MAX
#define S_NOTICES      32   // expired notices sent to a peer per pass
#define S_KEEP_MAX     4096 // expired notices waiting for a link, in memory
#define S_DRAIN_MAX    256  // link packets handled per pass

typedef struct {
    pl_anchor_t a;                  // the verified anchor
    pl_buf_t raw;                   // its bytes, served to our nodes
    char queue[PL_ADDRESS_MAX + 1]; // spool queue ~fed/NETWORK
    void *dealer;                   // we connect (anchor endpoint), or NULL
    uint8_t rid[S_RID_MAX];         // the peer's connection to our port
    size_t rid_len;                 // 0: none yet
    bool up;                        // a packet within S_DEAD_MS
    uint64_t since;                 // Unix seconds of the last change
    uint64_t last_rx_ms, last_tx_ms, last_hello_ms; // monotonic
    uint64_t next_seq;  // send queue items with seq > this
    unsigned inflight;  // sent, awaiting the peer's accepted
    uint64_t oldest_ms; // monotonic ms of the oldest of those
    uint64_t sent, accepted, received, expired_back, refused; // counters
    uint64_t ups;             // times the link came up
    pl_cert_t *certs;         // the peer's published certificates
    pl_buf_t *raws;           // their bytes
    size_t ncerts;            // how many
    pl_revlist_t revoked;     // the foreign authority's list
    uint64_t dir_at;          // Unix seconds of its last directory
    uint64_t fresh_at;        // ... or of a packet after it: a live link pushes
                              // every change, so the copy is current while up
    uint64_t dir_sent_ms;     // monotonic ms of our last push
    uint64_t peer_revocation; // the number its hello said
    bool push_dir;            // push ours at the next tick
} s_peer_t;

typedef struct {
    pl_buf_t pkt; // encoded packet
    bool durable; // only after the commit
    bool keep;    // an expired notice (popped from the store): kept in
                  // memory and sent again until the link takes it
    bool done;    // its pass committed (a kept one waits for the link)
    char net[PL_NAME_MAX + 1]; // the peer's network (peers move on reload)
} s_answer_t;

struct pl_fed {
    s_peer_t peers[S_PEERS_MAX]; // one per foreign network
    size_t npeers;               // used
    void *router;                // the federation port, or NULL
    s_answer_t *ans;             // answers of this pass
    size_t nans, capans;         // used / allocated
    uint64_t last_prune_ms;      // monotonic
};

static uint64_t
s_window(pl_broker_t *b)
{
    return b->cfg.fed_window ? b->cfg.fed_window : 256;
}

static uint64_t
s_max_age(pl_broker_t *b)
{
    return b->cfg.fed_dir_max_age ? b->cfg.fed_dir_max_age : 86400;
}

bool
pl_fed_is_zap_domain(const void *domain, size_t len)
{
    return len == sizeof S_FED_ZAP - 1 && memcmp(domain, S_FED_ZAP, len) == 0;
}

static s_peer_t *
s_peer_by_network(pl_broker_t *b, const char *network)
{
    pl_fed_t *f = b->fed;
    for (size_t i = 0; f && i < f->npeers; i++)
        if (strcmp(f->peers[i].a.peer_network, network) == 0)
            return &f->peers[i];
    return NULL;
}

static s_peer_t *
s_peer_by_broker(pl_broker_t *b, const char *address)
{
    pl_fed_t *f = b->fed;
    for (size_t i = 0; f && i < f->npeers; i++)
        if (strcmp(f->peers[i].a.peer_broker.address, address) == 0)
            return &f->peers[i];
    return NULL;
}

// the network part of an address ("gn" of "gn/agency"), into out
static void
s_network_of(const char *address, char out[PL_NAME_MAX + 1])
{
    const char *slash = strchr(address, '/');
    size_t n = slash ? (size_t) (slash - address) : 0;
    if (n > PL_NAME_MAX)
        n = 0;
    memcpy(out, address, n);
    out[n] = 0;
}

// ------------------------------------------------------------ sockets

static void
s_dealer_close(s_peer_t *p)
{
    if (p->dealer)
        zmq_close(p->dealer);
    p->dealer = NULL;
}

static int
s_dealer_open(pl_broker_t *b, s_peer_t *p)
{
    void *d = zmq_socket(b->ctx, ZMQ_DEALER);
    if (!d)
        return PL_EIO;
    int64_t maxsize = PL_PACKET_MAX;
    int rc = 0;
    rc |=
        zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, p->a.peer_broker.keys.curve, 32);
    rc |= zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, b->keys->pub.curve, 32);
    rc |= zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, b->keys->sec->curve, 32);
    // nothing queues towards a peer that is not connected: the LMDB queue
    // is the buffer (DESIGN.md §4)
    rc |= pl_broker_setopt_int(d, ZMQ_IMMEDIATE, 1);
    rc |= pl_broker_setopt_int(d, ZMQ_LINGER, 0);
    rc |= zmq_setsockopt(d, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
    rc |= pl_broker_setopt_int(d, ZMQ_HANDSHAKE_IVL, 10000);
    // reconnect for ever, backing off from 200 ms to 5 s (libzmq doubles
    // the interval up to ZMQ_RECONNECT_IVL_MAX, zmq_setsockopt(3))
    rc |= pl_broker_setopt_int(d, ZMQ_RECONNECT_IVL, 200);
    rc |= pl_broker_setopt_int(d, ZMQ_RECONNECT_IVL_MAX, 5000);
    rc |= pl_broker_setopt_int(d, ZMQ_TCP_KEEPALIVE, 1);
    rc |= pl_broker_setopt_int(d, ZMQ_TCP_KEEPALIVE_IDLE, 30);
    rc |= pl_broker_setopt_int(d, ZMQ_SNDHWM, 10000);
    rc |= pl_broker_setopt_int(d, ZMQ_RCVHWM, 10000);
    if (rc != 0 || zmq_connect(d, p->a.endpoint) != 0) {
        pl_log_error(b->log, "link_failed network=%s endpoint=%s reason=\"%s\"",
                     p->a.peer_network, p->a.endpoint, zmq_strerror(errno));
        zmq_close(d);
        return PL_EIO;
    }
    p->dealer = d;
    pl_log_info(b->log, "link_connecting network=%s endpoint=%s",
                p->a.peer_network, p->a.endpoint);
    return PL_OK;
}

static int
s_router_open(pl_broker_t *b, const char *endpoint)
{
    void *r = zmq_socket(b->ctx, ZMQ_ROUTER);
    if (!r)
        return PL_EIO;
    int64_t maxsize = PL_PACKET_MAX;
    int rc = 0;
    rc |= pl_broker_setopt_int(r, ZMQ_CURVE_SERVER, 1);
    rc |= zmq_setsockopt(r, ZMQ_CURVE_SECRETKEY, b->keys->sec->curve, 32);
    // its own ZAP domain: only brokers named in valid anchors come in
    rc |= zmq_setsockopt(r, ZMQ_ZAP_DOMAIN, S_FED_ZAP, strlen(S_FED_ZAP));
    rc |= pl_broker_setopt_int(r, ZMQ_ZAP_ENFORCE_DOMAIN, 1);
    rc |= pl_broker_setopt_int(r, ZMQ_ROUTER_MANDATORY, 1);
    rc |= zmq_setsockopt(r, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
    rc |= pl_broker_setopt_int(r, ZMQ_LINGER, 0);
    rc |= pl_broker_setopt_int(r, ZMQ_HANDSHAKE_IVL, 10000);
    rc |= pl_broker_setopt_int(r, ZMQ_TCP_KEEPALIVE, 1);
    rc |= pl_broker_setopt_int(r, ZMQ_TCP_KEEPALIVE_IDLE, 30);
    rc |= pl_broker_setopt_int(r, ZMQ_SNDHWM, 10000);
    rc |= pl_broker_setopt_int(r, ZMQ_RCVHWM, 10000);
    if (rc != 0 || zmq_bind(r, endpoint) != 0) {
        pl_log_error(b->log, "start_failed reason=\"federation port %s: %s\"",
                     endpoint, zmq_strerror(errno));
        zmq_close(r);
        return PL_EIO;
    }
    b->fed->router = r;
    pl_log_info(b->log, "federation_listening endpoint=%s", endpoint);
    return PL_OK;
}

// Sends one packet to a peer now: 0 or an errno.
static int
s_send(pl_broker_t *b, s_peer_t *p, const uint8_t *data, size_t len)
{
    int err = ENOTCONN;
    if (p->dealer) {
        err = zmq_send(p->dealer, data, len, ZMQ_DONTWAIT) < 0 ? errno : 0;
    } else if (p->rid_len && b->fed->router) {
        if (zmq_send(b->fed->router, p->rid, p->rid_len,
                     ZMQ_SNDMORE | ZMQ_DONTWAIT)
            < 0)
            err = errno;
        else
            err = zmq_send(b->fed->router, data, len, ZMQ_DONTWAIT) < 0 ? errno
                                                                        : 0;
        if (err == EHOSTUNREACH)
            p->rid_len = 0; // that connection is gone
    }
    if (err == 0)
        p->last_tx_ms = pl_mono_ms();
    return err;
}

static void
s_send_packet(pl_broker_t *b, s_peer_t *p, const pl_packet_t *pkt)
{
    pl_buf_t out = {0};
    if (pl_wire_encode(pkt, &out) == PL_OK)
        (void) s_send(b, p, out.data, out.len);
    pl_buf_free(&out);
}

static void
s_answer(pl_broker_t *b, s_peer_t *p, pl_buf_t *pkt, bool durable)
{
    pl_fed_t *f = b->fed;
    if (f->nans == f->capans) {
        size_t cap = f->capans ? f->capans * 2 : 64;
        s_answer_t *n = realloc(f->ans, cap * sizeof *n);
        if (!n) {
            pl_buf_free(pkt);
            return;
        }
        f->ans = n;
        f->capans = cap;
    }
    s_answer_t *a = &f->ans[f->nans++];
    a->pkt = *pkt;
    a->durable = durable;
    a->keep = false;
    a->done = false;
    snprintf(a->net, sizeof a->net, "%s", p->a.peer_network);
    memset(pkt, 0, sizeof *pkt);
}

static void
s_hello(pl_broker_t *b, s_peer_t *p)
{
    Passerelle__V1__LinkHello h = PASSERELLE__V1__LINK_HELLO__INIT;
    h.version = PL_PROTO_VERSION;
    h.network = b->own.network;
    h.peer_network = p->a.peer_network;
    h.has_revocation_number = 1;
    h.revocation_number = pl_registry_revoked(b->reg)->number;
    h.time = pl_now();
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_LINK_HELLO;
    pkt.link_hello = &h;
    s_send_packet(b, p, &pkt);
    p->last_hello_ms = pl_mono_ms();
}

// Our published certificates (the anchor's sectors, newest valid per
// address) and our revocation list, to the peer.
static void
s_push_dir(pl_broker_t *b, s_peer_t *p)
{
    Passerelle__V1__DirectoryResponse d =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    size_t n = pl_registry_count(b->reg);
    Passerelle__V1__Certificate **certs = calloc(n + 1, sizeof *certs);
    ProtobufCMessage *rl = NULL;
    uint64_t now = pl_now();
    if (!certs)
        return;
    for (size_t i = 0; i < n; i++) {
        const pl_reg_entry_t *e = pl_registry_at(b->reg, i);
        if (pl_registry_by_address(b->reg, e->cert.address, now) != e
            || !pl_anchor_publishes(&p->a, e->cert.sector))
            continue;
        ProtobufCMessage *m = NULL;
        if (pl_wire_unpack(&passerelle__v1__certificate__descriptor,
                           e->raw.data, e->raw.len, &m)
            == PL_OK)
            certs[d.n_certificates++] = (Passerelle__V1__Certificate *) m;
    }
    d.certificates = certs;
    const pl_revlist_t *list = pl_registry_revoked(b->reg);
    if (list->number > 0 && list->raw.len
        && pl_wire_unpack(&passerelle__v1__revocation_list__descriptor,
                          list->raw.data, list->raw.len, &rl)
               == PL_OK)
        d.revoked = (Passerelle__V1__RevocationList *) rl;
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE;
    pkt.directory_response = &d;
    pl_buf_t out = {0};
    int rc = pl_wire_encode(&pkt, &out);
    if (rc == PL_OK)
        (void) s_send(b, p, out.data, out.len);
    else // the link carries one packet: more than 3,000 published nodes
        pl_log_error(b->log, "directory_not_sent network=%s certs=%zu err=%s",
                     p->a.peer_network, d.n_certificates, pl_strerror(rc));
    pl_buf_free(&out);
    for (size_t i = 0; i < d.n_certificates; i++)
        pl_wire_unpacked_free((ProtobufCMessage *) certs[i]);
    if (rl)
        pl_wire_unpacked_free(rl);
    free(certs);
    p->dir_sent_ms = pl_mono_ms();
    if (p->push_dir) // the periodic refreshes are not worth a line each
        pl_log_info(b->log,
                    "directory_sent network=%s certs=%zu revocation=%llu",
                    p->a.peer_network, d.n_certificates,
                    (unsigned long long) list->number);
    p->push_dir = false;
}

// ------------------------------------------------------------ anchors

static void
s_peer_free(s_peer_t *p)
{
    s_dealer_close(p);
    pl_anchor_free(&p->a);
    pl_buf_free(&p->raw);
    for (size_t i = 0; i < p->ncerts; i++)
        pl_buf_free(&p->raws[i]);
    free(p->certs);
    free(p->raws);
    pl_revlist_free(&p->revoked);
    memset(p, 0, sizeof *p);
}

static void
s_link_down(pl_broker_t *b, s_peer_t *p, const char *why)
{
    if (!p->up)
        return;
    p->up = false;
    p->since = pl_now();
    p->inflight = 0;
    p->next_seq = 0;
    pl_log_warn(b->log, "link_down network=%s reason=%s", p->a.peer_network,
                why);
}

// Reads federation/*.anchor into 'out' (at most S_PEERS_MAX): every
// refused anchor is logged with its reason. Returns how many.
static size_t
s_load(pl_broker_t *b, s_peer_t *out)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/federation", b->home);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *de;
    uint64_t now = pl_now();
    const uint8_t *apk = pl_registry_authority(b->reg);
    // bounded: a folder of anchors, at most S_PEERS_MAX kept
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 8 || strcmp(de->d_name + l - 7, ".anchor") != 0)
            continue;
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        s_peer_t p;
        memset(&p, 0, sizeof p);
        int rc = pl_anchor_load(path, apk, &p.a, &p.raw);
        const char *why = NULL;
        if (rc == PL_EAUTH)
            why = "not signed by this network's authority";
        else if (rc != PL_OK)
            why = rc == PL_ENOTFOUND ? "unreadable" : "malformed";
        else if (pl_anchor_check(&p.a, now) != PL_OK)
            why = "expired or not yet valid";
        else if (strcmp(p.a.network, b->own.network) != 0)
            why = "made for another network";
        if (!why && n == S_PEERS_MAX)
            why = "too many anchors";
        for (size_t i = 0; !why && i < n; i++)
            if (strcmp(out[i].a.peer_network, p.a.peer_network) == 0)
                why = "a second anchor for the same network";
        if (why) {
            pl_log_warn(b->log, "anchor_refused path=%s reason=\"%s\"", path,
                        why);
            s_peer_free(&p);
            continue;
        }
        snprintf(p.queue, sizeof p.queue, S_QPREFIX "%s", p.a.peer_network);
        pl_log_info(b->log,
                    "anchor_loaded network=%s peer_broker=%s serial=%llu "
                    "endpoint=%s publish=%s",
                    p.a.peer_network, p.a.peer_broker.address,
                    (unsigned long long) p.a.serial,
                    p.a.endpoint[0] ? p.a.endpoint : "-", p.a.publish);
        out[n++] = p;
    }
    closedir(d);
    return n;
}

// Replaces the peers with a fresh load; a peer whose network and broker
// key stay keeps its link, counters and foreign directory.
static void
s_apply(pl_broker_t *b, s_peer_t *fresh, size_t n)
{
    pl_fed_t *f = b->fed;
    for (size_t i = 0; i < n; i++) {
        s_peer_t *old = s_peer_by_network(b, fresh[i].a.peer_network);
        if (old
            && pl_ct_equal(old->a.peer_broker.keys.curve,
                           fresh[i].a.peer_broker.keys.curve, 32)
            && strcmp(old->a.endpoint, fresh[i].a.endpoint) == 0) {
            // keep the state, take the new anchor
            pl_anchor_t a = fresh[i].a;
            pl_buf_t raw = fresh[i].raw;
            fresh[i] = *old;
            pl_anchor_free(&fresh[i].a);
            pl_buf_free(&fresh[i].raw);
            fresh[i].a = a;
            fresh[i].raw = raw;
            fresh[i].push_dir = true;
            memset(old, 0, sizeof *old); // moved
            old->a.peer_network[0] = 0;
        }
    }
    for (size_t i = 0; i < f->npeers; i++) {
        if (f->peers[i].a.peer_network[0])
            pl_log_info(b->log, "federation_ended network=%s",
                        f->peers[i].a.peer_network);
        s_peer_free(&f->peers[i]);
    }
    memcpy(f->peers, fresh, n * sizeof *fresh);
    f->npeers = n;
    for (size_t i = 0; i < n; i++)
        if (f->peers[i].a.endpoint[0] && !f->peers[i].dealer)
            (void) s_dealer_open(b, &f->peers[i]);
}

int
pl_fed_open(pl_broker_t *b)
{
    b->fed = calloc(1, sizeof *b->fed);
    if (!b->fed)
        return PL_ENOMEM;
    s_peer_t *fresh = calloc(S_PEERS_MAX, sizeof *fresh);
    if (!fresh)
        return PL_ENOMEM;
    size_t n = s_load(b, fresh);
    s_apply(b, fresh, n);
    free(fresh);
    if (b->cfg.federation_listen)
        return s_router_open(b, b->cfg.federation_listen);
    return PL_OK;
}

void
pl_fed_close(pl_broker_t *b)
{
    pl_fed_t *f = b->fed;
    if (!f)
        return;
    for (size_t i = 0; i < f->npeers; i++)
        s_peer_free(&f->peers[i]);
    for (size_t i = 0; i < f->nans; i++)
        pl_buf_free(&f->ans[i].pkt);
    free(f->ans);
    if (f->router)
        zmq_close(f->router);
    free(f);
    b->fed = NULL;
}

void
pl_fed_reload(pl_broker_t *b)
{
    if (!b->fed)
        return;
    s_peer_t *fresh = calloc(S_PEERS_MAX, sizeof *fresh);
    if (!fresh)
        return;
    size_t n = s_load(b, fresh);
    s_apply(b, fresh, n);
    free(fresh);
    pl_log_info(b->log, "federation_reloaded anchors=%zu", n);
}

int
pl_fed_pollitems(pl_broker_t *b, zmq_pollitem_t *items, int max)
{
    pl_fed_t *f = b->fed;
    int n = 0;
    if (!f)
        return 0;
    if (f->router && n < max)
        items[n++] = (zmq_pollitem_t){f->router, 0, ZMQ_POLLIN, 0};
    for (size_t i = 0; i < f->npeers && n < max; i++)
        if (f->peers[i].dealer)
            items[n++] = (zmq_pollitem_t){f->peers[i].dealer, 0, ZMQ_POLLIN, 0};
    return n;
}

bool
pl_fed_zap(pl_broker_t *b, const uint8_t key[32], char *user, size_t n,
           const char **why)
{
    pl_fed_t *f = b->fed;
    *why = "not a broker named in a federation anchor";
    for (size_t i = 0; f && i < f->npeers; i++) {
        s_peer_t *p = &f->peers[i];
        if (!pl_ct_equal(p->a.peer_broker.keys.curve, key, 32))
            continue;
        if (pl_anchor_check(&p->a, pl_now()) != PL_OK) {
            *why = "its anchor expired";
            return false;
        }
        if (p->revoked.number
            && pl_revlist_contains(&p->revoked, p->a.peer_broker.serial)) {
            *why = "revoked by its authority";
            return false;
        }
        snprintf(user, n, "%s", p->a.peer_broker.address);
        return true;
    }
    return false;
}

// ------------------------------------------------------------ routing

// The valid foreign certificate of 'address' at peer 'p', or NULL.
static const pl_cert_t *
s_foreign(const s_peer_t *p, const char *address, uint64_t now)
{
    const pl_cert_t *best = NULL;
    for (size_t i = 0; i < p->ncerts; i++) {
        const pl_cert_t *c = &p->certs[i];
        if (strcmp(c->address, address) != 0
            || pl_cert_check(c, now, &p->revoked) != PL_OK)
            continue;
        if (!best || c->serial > best->serial)
            best = c;
    }
    return best;
}

int
pl_fed_route(pl_broker_t *b, const pl_header_t *hdr, const char **detail)
{
    char net[PL_NAME_MAX + 1];
    s_network_of(hdr->to, net);
    s_peer_t *p = s_peer_by_network(b, net);
    if (!p)
        return PL_ENOTFOUND;
    uint64_t now = pl_now();
    if (pl_anchor_check(&p->a, now) != PL_OK) {
        *detail = "the federation anchor of that network expired";
        return PL_EEXPIRED;
    }
    if (!p->dir_at) {
        *detail = "no directory from that network yet (link not up since "
                  "this broker started); retry later";
        return PL_ESTATE;
    }
    if (now > p->fresh_at + s_max_age(b)) {
        *detail = "the directory of that network is stale (link down too "
                  "long): new cross-border sends are refused until it is "
                  "fresh; retry later";
        return PL_ESTATE;
    }
    if (!s_foreign(p, hdr->to, now)) {
        *detail = "recipient not published by that network, or revoked";
        return PL_EREVOKED;
    }
    return PL_OK;
}

int
pl_fed_put(pl_broker_t *b, const pl_header_t *hdr, const uint8_t *raw,
           size_t len, bool *dup, pl_spool_refusal_t *why)
{
    char net[PL_NAME_MAX + 1];
    s_network_of(hdr->to, net);
    s_peer_t *p = s_peer_by_network(b, net);
    uint64_t now = pl_now();
    const pl_cert_t *to = p ? s_foreign(p, hdr->to, now) : NULL;
    if (!to)
        return PL_ENOTFOUND;
    // the wrap: the original packet, sealed by this broker to the
    // recipient, under the same id and expiry
    Passerelle__V1__Transit t = PASSERELLE__V1__TRANSIT__INIT;
    t.packet.data = (uint8_t *) raw;
    t.packet.len = len;
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_TRANSIT;
    m.transit = &t;
    pl_buf_t msg = {0}, wrap = {0};
    int rc = pl_message_encode(&m, &msg);
    if (rc == PL_OK) {
        pl_seal_args_t sa = {
            b->keys, b->address,           hdr->to, to->keys.box, hdr->id,
            now,     hdr->expires_at - now};
        rc = pl_envelope_seal(&sa, msg.data, msg.len, NULL, &wrap);
    }
    pl_buf_free(&msg);
    if (rc != PL_OK) {
        pl_buf_free(&wrap);
        return rc == PL_ETOOBIG ? PL_ETOOBIG : rc;
    }
    // queued for the peer; the sender's quota counts it, the peer's queue
    // is bounded by the recipient quota (a cut link fills only its share)
    pl_header_t q = *hdr;
    snprintf(q.to, sizeof q.to, "%s", p->queue);
    rc = pl_spool_put_as(b->spool, &q, wrap.data, wrap.len, raw, len,
                         pl_now_ms(), dup, why);
    if (rc == PL_OK)
        rc = pl_spool_fed_note(b->spool, hdr->id, hdr->from, hdr->to,
                               hdr->expires_at);
    pl_buf_free(&wrap);
    return rc;
}

// ------------------------------------------------------------ link packets

static void
s_reject(pl_broker_t *b, s_peer_t *p, const uint8_t *id,
         Passerelle__V1__RejectReason reason, const char *detail)
{
    char hex[33] = "-";
    if (id)
        pl_hex(hex, id, PL_MSG_ID_BYTES);
    pl_log_warn(b->log,
                "link_rejected network=%s id=%s reason=%s detail=\"%s\"",
                p->a.peer_network, hex, pl_wire_reason_name(reason), detail);
    pl_buf_t out = {0};
    if (pl_wire_rejected(id, reason, detail, &out) == PL_OK)
        s_answer(b, p, &out, false);
    else
        pl_buf_free(&out);
}

// A wrap from the peer, for one of our nodes: committed to its queue,
// then (after the pass commit) `accepted` over the link.
static void
s_on_wrap(pl_broker_t *b, s_peer_t *p, const Passerelle__V1__Envelope *env,
          const uint8_t *raw, size_t len)
{
    pl_envelope_t view;
    pl_envelope_view(env, &view);
    pl_header_t hdr;
    if (pl_header_decode(view.header, view.header_len, &hdr) != PL_OK) {
        s_reject(b, p, NULL, PASSERELLE__V1__REJECT_REASON__REJECT_MALFORMED,
                 "bad header");
        return;
    }
    char net[PL_NAME_MAX + 1];
    s_network_of(hdr.to, net);
    uint64_t now = pl_now();
    if (strcmp(hdr.from, p->a.peer_broker.address) != 0) {
        s_reject(b, p, hdr.id, PASSERELLE__V1__REJECT_REASON__REJECT_SPOOFED,
                 "a link carries only its broker's wraps");
        return;
    }
    if (strcmp(net, b->own.network) != 0) {
        // no transit: what came over one link never goes onto another
        s_reject(b, p, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN_RECIPIENT,
                 "no transit through this network");
        return;
    }
    if (hdr.expires_at <= now || hdr.expires_at > now + PL_TTL_MAX + 300) {
        s_reject(b, p, hdr.id, PASSERELLE__V1__REJECT_REASON__REJECT_EXPIRED,
                 "expired or ttl over 90 days");
        return;
    }
    if (!pl_registry_by_address(b->reg, hdr.to, now)) {
        s_reject(b, p, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_UNKNOWN_RECIPIENT,
                 "recipient not enrolled or not valid");
        return;
    }
    if (pl_envelope_verify(&view, p->a.peer_broker.keys.sign) != PL_OK) {
        s_reject(b, p, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_BAD_SIGNATURE,
                 "wrap signature");
        return;
    }
    if (pl_spool_nest(b->spool) != PL_OK) {
        s_reject(b, p, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_STORE_ERROR,
                 "store busy");
        return;
    }
    bool dup = false;
    pl_spool_refusal_t why = PL_SPOOL_ROOM;
    int rc = pl_spool_put(b->spool, &hdr, raw, len, pl_now_ms(), &dup, &why);
    if (rc == PL_OK)
        rc = pl_spool_nest_commit(b->spool);
    else
        pl_spool_nest_abort(b->spool);
    if (rc == PL_OK || (rc == PL_EEXIST && dup)) {
        if (rc == PL_OK) {
            p->received++;
            pl_broker_due(b, hdr.to);
        }
        pl_log_debug(b->log, "link_committed network=%s dup=%d",
                     p->a.peer_network, rc != PL_OK);
        pl_buf_t out = {0};
        if (pl_wire_id_packet(PASSERELLE__V1__PACKET__KIND_ACCEPTED, hdr.id,
                              &out)
            == PL_OK)
            s_answer(b, p, &out, true);
        else
            pl_buf_free(&out);
    } else if (rc == PL_EAUTH) {
        char hex[33];
        pl_hex(hex, hdr.id, PL_MSG_ID_BYTES);
        pl_log_error(b->log, "attack_same_id_other_bytes id=%s network=%s", hex,
                     p->a.peer_network);
        s_reject(b, p, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_DUPLICATE_CONFLICT,
                 "same id, other bytes");
    } else if (rc == PL_EFULL) {
        s_reject(b, p, hdr.id, PASSERELLE__V1__REJECT_REASON__REJECT_STORE_FULL,
                 "broker store full; retry later");
    } else {
        s_reject(b, p, hdr.id,
                 PASSERELLE__V1__REJECT_REASON__REJECT_STORE_ERROR,
                 pl_strerror(rc));
    }
}

// The peer committed one of our wraps: our copy goes.
static void
s_on_accepted(pl_broker_t *b, s_peer_t *p, const uint8_t *id)
{
    if (pl_spool_nest(b->spool) != PL_OK)
        return;
    int rc = pl_spool_take(b->spool, id, p->queue, PL_SPOOL_TAKEN, pl_now_ms(),
                           NULL, NULL);
    if (rc == PL_OK && pl_spool_nest_commit(b->spool) == PL_OK) {
        p->accepted++;
        if (p->inflight)
            p->inflight--;
        pl_log_debug(b->log, "link_accepted network=%s inflight=%u",
                     p->a.peer_network, p->inflight);
    } else if (rc != PL_OK) {
        pl_spool_nest_abort(b->spool); // already taken: a duplicate answer
    }
}

// The peer will never deliver it (expired in its queue, or refused for
// good): the original sender is told `expired`, with the refusal code
// 'reason' when it was refused (-1: expired). 'queued': our copy of the
// wrap is still here (the peer's broker refused it on the link).
static void
s_on_gone(pl_broker_t *b, s_peer_t *p, const uint8_t *id, bool queued,
          int reason)
{
    if (pl_spool_nest(b->spool) != PL_OK)
        return;
    int rc = PL_OK;
    if (queued) {
        rc = pl_spool_take(b->spool, id, p->queue, PL_SPOOL_REFUSED,
                           pl_now_ms(), NULL, NULL);
        if (rc == PL_ENOTFOUND)
            rc = PL_OK;
    }
    if (rc == PL_OK) {
        rc = pl_spool_fed_notice(b->spool, id, reason);
        if (rc == PL_ENOTFOUND)
            rc = PL_OK; // told already
    }
    char hex[33];
    pl_hex(hex, id, PL_MSG_ID_BYTES);
    if (rc == PL_OK && pl_spool_nest_commit(b->spool) == PL_OK) {
        p->expired_back++;
        pl_log_info(b->log, "link_%s network=%s id=%s",
                    reason >= 0 ? "refused" : "expired", p->a.peer_network,
                    hex);
    } else if (rc != PL_OK) {
        pl_spool_nest_abort(b->spool);
    }
}

// A digest of the peer's directory (serials and revocation number): a
// change is pushed to our nodes at once.
static uint64_t
s_dir_sum(const s_peer_t *p)
{
    uint64_t h = p->revoked.number * 1000003u + p->ncerts;
    for (size_t i = 0; i < p->ncerts; i++)
        h = h * 31 + p->certs[i].serial;
    return h;
}

static int
s_pack(const ProtobufCMessage *m, pl_buf_t *out)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    int rc = pl_buf_reserve(out, n + 1);
    if (rc == PL_OK)
        out->len = protobuf_c_message_pack(m, out->data);
    return rc;
}

static void
s_on_directory(pl_broker_t *b, s_peer_t *p,
               const Passerelle__V1__DirectoryResponse *d)
{
    uint64_t now = pl_now(), before = s_dir_sum(p);
    if (d->revoked) {
        pl_buf_t raw = {0};
        pl_revlist_t cand;
        if (s_pack(&d->revoked->base, &raw) == PL_OK
            && pl_revlist_decode(raw.data, raw.len, p->a.peer_authority_pk,
                                 &cand)
                   == PL_OK) {
            if (strcmp(cand.network, p->a.peer_network) != 0
                || pl_revlist_replace(&p->revoked, &cand) != PL_OK)
                pl_revlist_free(&cand);
        } else {
            pl_log_warn(b->log,
                        "foreign_revocation_refused network=%s reason=\"not "
                        "signed by the anchor's authority key\"",
                        p->a.peer_network);
        }
        pl_buf_free(&raw);
    }
    size_t n = d->n_certificates, k = 0, refused = 0;
    pl_cert_t *certs = calloc(n + 1, sizeof *certs);
    pl_buf_t *raws = calloc(n + 1, sizeof *raws);
    if (!certs || !raws) {
        free(certs);
        free(raws);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        pl_buf_t raw = {0};
        int rc = s_pack(&d->certificates[i]->base, &raw);
        if (rc == PL_OK)
            rc = pl_anchor_cert(&p->a, raw.data, raw.len, &certs[k]);
        if (rc == PL_OK)
            rc = pl_cert_check(&certs[k], now, &p->revoked);
        if (rc != PL_OK) {
            // never the address: a foreign node's name stays out of logs
            pl_log_warn(b->log,
                        "foreign_cert_refused network=%s serial=%llu "
                        "reason=%s",
                        p->a.peer_network, (unsigned long long) certs[k].serial,
                        rc == PL_EPERM   ? "name_constraint"
                        : rc == PL_EAUTH ? "not_signed_by_the_anchor_key"
                                         : pl_strerror(rc));
            refused++;
            pl_buf_free(&raw);
            continue;
        }
        raws[k++] = raw;
    }
    for (size_t i = 0; i < p->ncerts; i++)
        pl_buf_free(&p->raws[i]);
    free(p->certs);
    free(p->raws);
    p->certs = certs;
    p->raws = raws;
    p->ncerts = k;
    p->dir_at = now;
    p->fresh_at = now;
    pl_log_info(b->log,
                "foreign_directory network=%s certs=%zu refused=%zu "
                "revocation=%llu",
                p->a.peer_network, k, refused,
                (unsigned long long) p->revoked.number);
    if (s_dir_sum(p) != before)
        pl_broker_push_directory(b); // a revocation takes effect at once
}

static void
s_link_up(pl_broker_t *b, s_peer_t *p, bool hello)
{
    if (!p->up) {
        p->up = true;
        p->since = pl_now();
        p->ups++;
        pl_log_info(b->log, "link_up network=%s peer=%s", p->a.peer_network,
                    p->a.peer_broker.address);
        if (!p->dealer)
            s_hello(b, p); // tell the peer we (re)started
    }
    if (hello) {
        // the peer (re)started its side: resend what it has not accepted
        p->next_seq = 0;
        p->inflight = 0;
        p->push_dir = true;
    }
}

static void
s_on_packet(pl_broker_t *b, s_peer_t *p, const uint8_t *data, size_t len)
{
    pl_packet_t *pkt = NULL;
    if (pl_wire_decode(data, len, &pkt) != PL_OK) {
        pl_log_warn(b->log, "link_packet_refused network=%s reason=malformed",
                    p->a.peer_network);
        return;
    }
    p->last_rx_ms = pl_mono_ms();
    if (p->dir_at)
        p->fresh_at = pl_now();
    bool hello = pkt->kind_case == PASSERELLE__V1__PACKET__KIND_LINK_HELLO;
    if (hello) {
        const Passerelle__V1__LinkHello *h = pkt->link_hello;
        if (strcmp(h->network, p->a.peer_network) != 0
            || strcmp(h->peer_network, b->own.network) != 0) {
            pl_log_warn(b->log,
                        "link_refused network=%s reason=network_mismatch",
                        p->a.peer_network);
            pl_wire_free(&pkt);
            return;
        }
        p->peer_revocation = h->revocation_number;
        if (!p->dealer && p->up)
            s_hello(b, p); // answer a reconnecting peer
    }
    s_link_up(b, p, hello);
    switch (pkt->kind_case) {
    case PASSERELLE__V1__PACKET__KIND_ENVELOPE:
        s_on_wrap(b, p, pkt->envelope, data, len);
        break;
    case PASSERELLE__V1__PACKET__KIND_ACCEPTED:
        s_on_accepted(b, p, pkt->accepted->message_id.data);
        break;
    case PASSERELLE__V1__PACKET__KIND_EXPIRED:
        // refused by the recipient's node over there: the code travels on
        s_on_gone(b, p, pkt->expired->message_id.data, false,
                  pkt->expired->has_refused ? (int) pkt->expired->refused : -1);
        break;
    case PASSERELLE__V1__PACKET__KIND_REJECTED: {
        const Passerelle__V1__Rejected *r = pkt->rejected;
        if (!r->has_message_id)
            break;
        // full or busy: our copy stays and goes again; anything else is
        // final and its sender is told
        if (pl_wire_reason_temporary(r->reason))
            break;
        p->refused++;
        pl_log_warn(b->log, "link_refused_by_peer network=%s reason=%s",
                    p->a.peer_network, pl_wire_reason_name(r->reason));
        s_on_gone(b, p, r->message_id.data, true, -1);
        break;
    }
    case PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE:
        s_on_directory(b, p, pkt->directory_response);
        break;
    case PASSERELLE__V1__PACKET__KIND_LINK_HELLO:
    case PASSERELLE__V1__PACKET__KIND_HEARTBEAT:
        break;
    default:
        pl_log_warn(b->log, "link_packet_unexpected network=%s kind=%s",
                    p->a.peer_network, pl_wire_kind_name(pkt->kind_case));
        break;
    }
    pl_wire_free(&pkt);
}

// Expired notices owed to a peer (its wraps that expired in our queues).
static void
s_notices(pl_broker_t *b, s_peer_t *p)
{
    uint8_t ids[S_NOTICES][PL_MSG_ID_BYTES];
    char tos[S_NOTICES][PL_ADDRESS_MAX + 1];
    int why[S_NOTICES];
    if (pl_spool_nest(b->spool) != PL_OK)
        return;
    int n = pl_spool_notices(b->spool, p->a.peer_broker.address, S_NOTICES,
                             false, ids, tos, why);
    if (n <= 0 || pl_spool_nest_commit(b->spool) != PL_OK) {
        pl_spool_nest_abort(b->spool);
        return;
    }
    for (int j = 0; j < n; j++) {
        pl_buf_t out = {0};
        if (pl_wire_expired(ids[j], tos[j], why[j], &out) == PL_OK) {
            size_t before = b->fed->nans;
            s_answer(b, p, &out, true);
            if (b->fed->nans > before)
                b->fed->ans[before].keep = true;
        } else {
            pl_buf_free(&out);
        }
    }
}

void
pl_fed_drain(pl_broker_t *b)
{
    pl_fed_t *f = b->fed;
    if (!f)
        return;
    for (int k = 0; f->router && k < S_DRAIN_MAX; k++) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, f->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            break;
        }
        zmq_msg_init(&body);
        int got = zmq_msg_more(&rid)
                      ? zmq_msg_recv(&body, f->router, ZMQ_DONTWAIT)
                      : -1;
        bool extra = false;
        while (got >= 0 && zmq_msg_more(&body)) { // one frame per packet
            extra = true;
            zmq_msg_close(&body);
            zmq_msg_init(&body);
            got = zmq_msg_recv(&body, f->router, ZMQ_DONTWAIT);
        }
        const char *user = got >= 0 ? zmq_msg_gets(&body, "User-Id") : NULL;
        s_peer_t *p = user ? s_peer_by_broker(b, user) : NULL;
        if (p && !extra && zmq_msg_size(&rid) <= S_RID_MAX) {
            memcpy(p->rid, zmq_msg_data(&rid), zmq_msg_size(&rid));
            p->rid_len = zmq_msg_size(&rid);
            s_on_packet(b, p, zmq_msg_data(&body), zmq_msg_size(&body));
        }
        zmq_msg_close(&body);
        zmq_msg_close(&rid);
    }
    for (size_t i = 0; i < f->npeers; i++) {
        s_peer_t *p = &f->peers[i];
        for (int k = 0; p->dealer && k < S_DRAIN_MAX; k++) {
            zmq_msg_t body;
            zmq_msg_init(&body);
            if (zmq_msg_recv(&body, p->dealer, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&body);
                break;
            }
            if (!zmq_msg_more(&body))
                s_on_packet(b, p, zmq_msg_data(&body), zmq_msg_size(&body));
            zmq_msg_close(&body);
        }
        if (p->up)
            s_notices(b, p);
    }
    uint64_t mono = pl_mono_ms();
    if (mono - f->last_prune_ms > S_PRUNE_MS) {
        f->last_prune_ms = mono;
        if (pl_spool_nest(b->spool) == PL_OK) {
            int n = pl_spool_fed_prune(b->spool, pl_now(), 4096);
            if (n < 0 || pl_spool_nest_commit(b->spool) != PL_OK)
                pl_spool_nest_abort(b->spool);
        }
    }
}

void
pl_fed_flush(pl_broker_t *b, bool durable)
{
    pl_fed_t *f = b->fed;
    if (!f)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < f->nans; i++) {
        s_answer_t *a = &f->ans[i];
        bool go = durable || !a->durable || a->done;
        s_peer_t *p = s_peer_by_network(b, a->net);
        int err = ENOTCONN;
        if (go && p)
            err = s_send(b, p, a->pkt.data, a->pkt.len);
        if (err != 0 && go && a->keep && p && kept < S_KEEP_MAX) {
            // the link did not take an expired notice whose store record
            // is gone: it goes again with the next pass
            a->done = true;
            f->ans[kept++] = *a;
            continue;
        }
        if (err != 0 && go && a->keep)
            pl_log_warn(b->log, "link_notice_dropped reason=too_many_waiting");
        pl_buf_free(&a->pkt);
    }
    f->nans = kept;
}

// ------------------------------------------------------------ the tick

typedef struct {
    pl_broker_t *b;
    s_peer_t *p;
    uint64_t now;
    bool blocked;
} s_send_ctx_t;

static bool
s_send_one(void *arg, const pl_spool_item_t *item)
{
    s_send_ctx_t *c = arg;
    s_peer_t *p = c->p;
    if (p->inflight >= s_window(c->b))
        return false;
    if (item->expires_at <= c->now) {
        p->next_seq = item->seq; // the sweep drops it and tells the sender
        return true;
    }
    int err = s_send(c->b, p, item->packet, item->packet_len);
    if (err != 0) {
        c->blocked = true; // the LMDB queue keeps it
        return false;
    }
    if (p->inflight == 0)
        p->oldest_ms = pl_mono_ms();
    p->inflight++;
    p->next_seq = item->seq;
    p->sent++;
    return true;
}

void
pl_fed_tick(pl_broker_t *b)
{
    pl_fed_t *f = b->fed;
    if (!f)
        return;
    uint64_t mono = pl_mono_ms();
    for (size_t i = 0; i < f->npeers; i++) {
        s_peer_t *p = &f->peers[i];
        if (p->up && mono - p->last_rx_ms > S_DEAD_MS)
            s_link_down(b, p, "silent");
        if (!p->up) {
            if (p->dealer && mono - p->last_hello_ms >= S_HELLO_MS)
                s_hello(b, p);
            continue;
        }
        if (mono - p->last_tx_ms >= S_BEAT_MS) {
            Passerelle__V1__Heartbeat h = PASSERELLE__V1__HEARTBEAT__INIT;
            h.time = pl_now();
            Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
            pkt.kind_case = PASSERELLE__V1__PACKET__KIND_HEARTBEAT;
            pkt.heartbeat = &h;
            s_send_packet(b, p, &pkt);
        }
        // our directory: on (re)connect, on change, and well within the
        // peer's max age so that a healthy link never goes stale
        uint64_t refresh = s_max_age(b) * 1000 / 4;
        if (p->push_dir || mono - p->dir_sent_ms > refresh)
            s_push_dir(b, p);
        if (p->inflight && mono - p->oldest_ms > S_REDELIVER_MS) {
            pl_log_info(b->log, "link_resend network=%s unconfirmed=%u",
                        p->a.peer_network, p->inflight);
            p->inflight = 0;
            p->next_seq = 0;
        }
        if (p->inflight >= s_window(b))
            continue;
        s_send_ctx_t c = {b, p, pl_now(), false};
        (void) pl_spool_scan(b->spool, p->queue, p->next_seq,
                             s_window(b) - p->inflight, s_send_one, &c);
    }
}

void
pl_fed_push_all(pl_broker_t *b)
{
    pl_fed_t *f = b->fed;
    for (size_t i = 0; f && i < f->npeers; i++)
        f->peers[i].push_dir = true;
}

// ------------------------------------------------------------ views

void
pl_fed_directory(pl_broker_t *b, Passerelle__V1__DirectoryResponse *d,
                 ProtobufCMessage ***owned, size_t *nowned, void **arrays)
{
    pl_fed_t *f = b->fed;
    *owned = NULL;
    *nowned = 0;
    arrays[0] = arrays[1] = arrays[2] = NULL;
    if (!f || f->npeers == 0)
        return;
    size_t total = 0;
    for (size_t i = 0; i < f->npeers; i++)
        total += 2 + f->peers[i].ncerts;
    ProtobufCMessage **own = calloc(total, sizeof *own);
    Passerelle__V1__Anchor **an = calloc(f->npeers, sizeof *an);
    Passerelle__V1__Certificate **fc = calloc(total, sizeof *fc);
    Passerelle__V1__RevocationList **fr = calloc(f->npeers, sizeof *fr);
    if (!own || !an || !fc || !fr) {
        free(own);
        free(an);
        free(fc);
        free(fr);
        return;
    }
    size_t no = 0;
    uint64_t now = pl_now();
    for (size_t i = 0; i < f->npeers; i++) {
        s_peer_t *p = &f->peers[i];
        ProtobufCMessage *m = NULL;
        if (pl_wire_unpack(&passerelle__v1__anchor__descriptor, p->raw.data,
                           p->raw.len, &m)
            == PL_OK) {
            own[no++] = m;
            an[d->n_anchors++] = (Passerelle__V1__Anchor *) m;
        }
        // served even when stale: the broker refuses new sends with the
        // reason (pl_fed_route), and replies to what arrived still seal
        for (size_t j = 0; j < p->ncerts; j++) {
            if (pl_cert_check(&p->certs[j], now, &p->revoked) != PL_OK)
                continue;
            m = NULL;
            if (pl_wire_unpack(&passerelle__v1__certificate__descriptor,
                               p->raws[j].data, p->raws[j].len, &m)
                == PL_OK) {
                own[no++] = m;
                fc[d->n_foreign++] = (Passerelle__V1__Certificate *) m;
            }
        }
        m = NULL;
        if (p->revoked.number && p->revoked.raw.len
            && pl_wire_unpack(&passerelle__v1__revocation_list__descriptor,
                              p->revoked.raw.data, p->revoked.raw.len, &m)
                   == PL_OK) {
            own[no++] = m;
            fr[d->n_foreign_revoked++] = (Passerelle__V1__RevocationList *) m;
        }
    }
    d->anchors = an;
    d->foreign = fc;
    d->foreign_revoked = fr;
    *owned = own;
    *nowned = no;
    arrays[0] = an;
    arrays[1] = fc;
    arrays[2] = fr;
}

json_t *
pl_fed_json(pl_broker_t *b)
{
    pl_fed_t *f = b->fed;
    json_t *r = json_object();
    json_object_set_new(r, "listen",
                        b->cfg.federation_listen
                            ? json_string(b->cfg.federation_listen)
                            : json_null());
    json_t *arr = json_array();
    uint64_t now = pl_now(), now_ms = pl_now_ms();
    for (size_t i = 0; f && i < f->npeers; i++) {
        s_peer_t *p = &f->peers[i];
        uint64_t queued = 0, oldest = 0;
        (void) pl_spool_depth(b->spool, p->queue, &queued, &oldest);
        char since[32] = "", until[32], dir_at[32] = "";
        if (p->since)
            pl_time_fmt(since, p->since);
        pl_time_fmt(until, p->a.not_after);
        if (p->dir_at)
            pl_time_fmt(dir_at, p->dir_at);
        bool stale = !p->dir_at || now > p->fresh_at + s_max_age(b);
        json_t *o = json_object();
        json_object_set_new(o, "network", json_string(p->a.peer_network));
        json_object_set_new(o, "peer_broker",
                            json_string(p->a.peer_broker.address));
        json_object_set_new(o, "role",
                            json_string(p->dealer ? "connect" : "listen"));
        json_object_set_new(o, "endpoint", json_string(p->a.endpoint));
        json_object_set_new(o, "state", json_string(p->up ? "up" : "down"));
        json_object_set_new(o, "since",
                            p->since ? json_string(since) : json_null());
        json_object_set_new(o, "queued", json_integer((json_int_t) queued));
        json_object_set_new(
            o, "oldest_queued_age_s",
            json_integer(oldest && now_ms > oldest
                             ? (json_int_t) ((now_ms - oldest) / 1000)
                             : 0));
        json_object_set_new(o, "inflight", json_integer(p->inflight));
        json_object_set_new(o, "sent", json_integer((json_int_t) p->sent));
        json_object_set_new(o, "accepted",
                            json_integer((json_int_t) p->accepted));
        json_object_set_new(o, "delivered_from_peer",
                            json_integer((json_int_t) p->received));
        json_object_set_new(o, "expired_back",
                            json_integer((json_int_t) p->expired_back));
        json_object_set_new(o, "refused_by_peer",
                            json_integer((json_int_t) p->refused));
        json_object_set_new(o, "link_ups", json_integer((json_int_t) p->ups));
        json_object_set_new(o, "directory_certs",
                            json_integer((json_int_t) p->ncerts));
        json_object_set_new(o, "directory_at",
                            p->dir_at ? json_string(dir_at) : json_null());
        json_object_set_new(o, "directory_stale", json_boolean(stale));
        json_object_set_new(o, "revocation_number",
                            json_integer((json_int_t) p->revoked.number));
        json_object_set_new(o, "peer_revocation_number",
                            json_integer((json_int_t) p->peer_revocation));
        json_object_set_new(o, "anchor_serial",
                            json_integer((json_int_t) p->a.serial));
        json_object_set_new(o, "anchor_not_after", json_string(until));
        json_object_set_new(o, "publish", json_string(p->a.publish));
        json_array_append_new(arr, o);
    }
    json_object_set_new(r, "peers", arr);
    return r;
}

void
pl_fed_links(pl_broker_t *b, Passerelle__V1__StatusResponse *r, void **arrays)
{
    pl_fed_t *f = b->fed;
    arrays[0] = arrays[1] = NULL;
    if (!f || !f->npeers)
        return;
    Passerelle__V1__FederationLink *l = calloc(f->npeers, sizeof *l);
    Passerelle__V1__FederationLink **lp = calloc(f->npeers, sizeof *lp);
    if (!l || !lp) {
        free(l);
        free(lp);
        return;
    }
    for (size_t i = 0; i < f->npeers; i++) {
        s_peer_t *p = &f->peers[i];
        Passerelle__V1__FederationLink x =
            PASSERELLE__V1__FEDERATION_LINK__INIT;
        x.network = p->a.peer_network;
        x.up = p->up;
        x.has_since = p->since != 0;
        x.since = p->since;
        uint64_t q = 0, oldest = 0;
        (void) pl_spool_depth(b->spool, p->queue, &q, &oldest);
        x.has_queued = 1;
        x.queued = q;
        l[i] = x;
        lp[i] = &l[i];
    }
    r->n_links = f->npeers;
    r->links = lp;
    arrays[0] = l;
    arrays[1] = lp;
}
