// pl_broker_ctl - the broker's operator surface: the control socket and its
// JSON (status, nodes, reload), the per-node figures (percentiles, routed
// per minute) also sent as a StatusResponse, the reload. Layer: broker.
// (The directory and its push: pl_broker_dir.c.)
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "broker/pl_broker_int.h"
#include "broker/pl_catalog.h"
#include "broker/pl_fed.h"

static int
s_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return x < y ? -1 : x > y;
}

// median and p95 of a node's latency samples
static void
s_percentiles(const pl_stats_t *st, uint64_t *p50, uint64_t *p95)
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

// Presence, honest about its granularity (issue 20): an idle node sends
// nothing but a ping every few minutes (160 s by default), so "last_seen"
// of a connected node may be that old and says nothing more.
//   active   connected, a packet in the last S_ACTIVE_S seconds
//   quiet    connected, idle: its last packet older than that (normal)
//   lost     its session ended because it fell silent for --session-ms
//   offline  not connected (never since start, or it left cleanly)
#define S_ACTIVE_S 60

static const char *
s_presence(bool online, const pl_stats_t *st, uint64_t now)
{
    if (online)
        return st && st->last_seen + S_ACTIVE_S >= now ? "active" : "quiet";
    return st && st->lost ? "lost" : "offline";
}

// Figures for every enrolled address (unique), as one JSON array or into a
// StatusResponse. Metadata only.
typedef struct {
    char address[PL_ADDRESS_MAX + 1];
    char sector[32];
    bool online;
    const char *presence; // see s_presence
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
        pl_session_t *s = pl_broker_session_by_address(self, x->address);
        x->online = s != NULL;
        if (s)
            x->connected_since = s->connected_since;
        uint64_t oldest = 0;
        if (pl_spool_depth(self->spool, x->address, &x->queued, &oldest)
                == PL_OK
            && x->queued)
            x->oldest_age = now_ms > oldest ? (now_ms - oldest) / 1000 : 0;
        pl_stats_t *st = pl_broker_stats(self, x->address);
        if (st) {
            x->last_seen = st->last_seen;
            x->accepted = st->accepted;
            x->delivered = st->delivered;
            x->taken = st->taken;
            x->expired = st->expired;
            x->rejected = st->rejected;
            s_percentiles(st, &x->p50, &x->p95);
        }
        x->presence = s_presence(x->online, st, now);
    }
    return k;
}

void
pl_broker_status(pl_broker_t *self, const uint8_t *rid, size_t rid_len)
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
    void *larr[2] = {NULL, NULL};
    pl_fed_links(self, &r, larr); // issue 13: federation links
    Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_STATUS_RESPONSE;
    p.status_response = &r;
    pl_buf_t out = {0};
    if (pl_wire_encode(&p, &out) == PL_OK)
        pl_broker_reply(self, rid, rid_len, &out, false);
    else
        pl_buf_free(&out);
    free(larr[0]);
    free(larr[1]);
done:
    free(f);
    free(ns);
    free(nsp);
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
        json_object_set_new(o, "presence", json_string(f[i].presence));
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
                      || pl_broker_session_by_address(self, c->address) != NULL;
        json_array_append_new(arr, s_cert_json(self, c, online, now));
    }
    return arr;
}

// Sends the revocation list alone (a directory response with no
// certificate) to a session about to be dropped: a node revoked while
// connected learns it from the authority's own signed list and closes the
// loop of what it still holds (nodes/pl_inbound.c, pl_node_self_revoked);
// the door would refuse it every time it reconnected, telling it nothing.
// Nothing in it is new to the node: every node receives the list.
static void
s_send_revoked_list(pl_broker_t *self, const pl_session_t *s)
{
    const pl_revlist_t *list = pl_registry_revoked(self->reg);
    ProtobufCMessage *rl = NULL;
    if (list->number == 0 || !list->raw.len
        || pl_wire_unpack(&passerelle__v1__revocation_list__descriptor,
                          list->raw.data, list->raw.len, &rl)
               != PL_OK)
        return;
    Passerelle__V1__DirectoryResponse d =
        PASSERELLE__V1__DIRECTORY_RESPONSE__INIT;
    d.revoked = (Passerelle__V1__RevocationList *) rl;
    Passerelle__V1__Packet p = PASSERELLE__V1__PACKET__INIT;
    p.kind_case = PASSERELLE__V1__PACKET__KIND_DIRECTORY_RESPONSE;
    p.directory_response = &d;
    pl_buf_t out = {0};
    if (pl_wire_encode(&p, &out) == PL_OK)
        pl_broker_send(self, s->rid, s->rid_len, out.data, out.len);
    pl_buf_free(&out);
    pl_wire_unpacked_free(rl);
}

void
pl_broker_reload(pl_broker_t *self)
{
    int n = pl_registry_reload(self->reg);
    if (n < 0) {
        // certs/ unreadable now: the registry stays as it was (logged)
        self->reload_failed = true;
        return;
    }
    self->reload_failed = false;
    pl_log_info(self->log, "reloaded certificates=%d", n);
    pl_fed_reload(self);   // issue 13: federation/*.anchor
    pl_fed_push_all(self); // our directory to the peers
    pl_door_check_registry(self->door, pl_registry_count(self->reg));
    // connected nodes whose certificate is no longer valid: refuse them now
    uint64_t now = pl_now();
    for (size_t i = 0; i < self->nsessions;) {
        pl_session_t *s = &self->sessions[i];
        if (!pl_registry_by_address(self->reg, s->address, now)) {
            s_send_revoked_list(self, s);
            pl_buf_t out = {0};
            if (pl_wire_rejected(NULL,
                                 PASSERELLE__V1__REJECT_REASON__REJECT_REVOKED,
                                 "certificate revoked or expired", &out)
                == PL_OK)
                pl_broker_send(self, s->rid, s->rid_len, out.data, out.len);
            pl_buf_free(&out);
            pl_broker_session_drop(self, s, "certificate_no_longer_valid");
            continue;
        }
        i++;
    }
    pl_broker_push_directory(self);
}

#define S_CONTROL_FRAMES 8 // frames read of one control message at most

static void s_control_answer(pl_broker_t *self, const char *buf, size_t n,
                             json_t *rep);

// One message on the control ROUTER: [routing id][""][request] from a REQ
// peer. Anything else (no delimiter, several body frames, bytes that are
// not JSON) gets an error reply to its own peer only; a ROUTER routes each
// reply by the peer's id, so a bad peer can never take or lose another's.
// Returns false when no message was waiting.
bool
pl_broker_control(pl_broker_t *self)
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
            r, "session_timeout_s",
            json_integer((json_int_t) (self->cfg.session_ms / 1000)));
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
    } else if (strcmp(cmd, "federation") == 0) {
        json_object_set_new(rep, "ok", json_true());
        json_object_set_new(rep, "result", pl_fed_json(self));
    } else if (strcmp(cmd, "nodes") == 0) {
        json_object_set_new(rep, "ok", json_true());
        json_object_set_new(rep, "result", s_nodes_json(self));
    } else if (strcmp(cmd, "reload") == 0) {
        pl_broker_reload(self);
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
