// pl_node_info - the node-information commands: whoami, directory,
// network (parked until the broker's status response), outbox, stats.
// Layer: handlers. Read-only: none changes state.
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_node_int.h"
#include "nodes/pl_sector_data.h"

// Splits a comma-joined list into a JSON array.
static json_t *
s_list(const char *csv)
{
    json_t *a = json_array();
    const char *p = csv;
    while (a && p && *p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t) (c - p) : strlen(p);
        if (n)
            json_array_append_new(a, json_stringn(p, n));
        p = c ? c + 1 : NULL;
    }
    return a;
}

// One directory entry as JSON (contract fields of `directory --json`).
static json_t *
s_cert_json(const pl_cert_t *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "address", json_string(c->address));
    json_object_set_new(o, "display_name", json_string(c->display_name));
    json_object_set_new(o, "organisation", json_string(c->organisation));
    json_object_set_new(o, "sector", json_string(c->sector));
    const char *dim = pl_sector_dimension(c->sector);
    json_object_set_new(o, "dimension", dim ? json_string(dim) : json_null());
    json_object_set_new(o, "country", json_string(c->country));
    json_object_set_new(o, "region", json_string(c->region));
    json_object_set_new(o, "services", s_list(c->services));
    json_object_set_new(o, "serial", json_integer((json_int_t) c->serial));
    json_object_set_new(o, "not_after", pl_node_json_time(c->not_after));
    json_object_set_new(o, "box_key_id",
                        pl_node_json_hex(c->box_key_id, PL_KEY_ID_BYTES));
    return o;
}

static char *
s_whoami(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    (void) txn, (void) args, (void) as, (void) rc_out;
    pl_node_state_t st;
    pl_ctx_state(ctx, &st);
    char fp[17];
    json_t *o = s_cert_json(ctx->me);
    json_object_set_new(o, "home", json_string(ctx->home));
    json_object_set_new(o, "broker", json_string(st.broker_ep));
    json_object_set_new(o, "broker_address", json_string(st.broker_address));
    json_object_set_new(o, "online", json_boolean(st.online));
    json_object_set_new(o, "clock_skew_s", json_integer(st.skew));
    json_object_set_new(o, "clock_ok", json_boolean(!st.skewed));
    json_object_set_new(o, "revoked", json_boolean(pl_ctx_me_revoked(ctx)));
    pl_key_fingerprint(ctx->keys->pub.sign, fp);
    json_object_set_new(o, "sign_key", json_string(fp));
    json_object_set_new(
        o, "revocation_number",
        json_integer((json_int_t) (ctx->revoked ? ctx->revoked->number : 0)));
    return pl_node_ctl_ok(o);
}

static char *
s_directory(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
            int *rc_out)
{
    (void) txn, (void) as, (void) rc_out;
    const char *sector = json_string_value(json_object_get(args, "sector"));
    json_t *a = json_array();
    uint64_t now = pl_now();
    for (size_t i = 0; a && i < ctx->ndir; i++) {
        const pl_cert_t *c = &ctx->dir[i];
        if (sector && strcmp(sector, c->sector) != 0)
            continue;
        if (pl_cert_check(c, now, ctx->revoked) != PL_OK)
            continue;
        json_array_append_new(a, s_cert_json(c));
    }
    return pl_node_ctl_ok(a);
}

static char *
s_network(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
          int *rc_out)
{
    (void) txn, (void) args, (void) as, (void) rc_out;
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    Passerelle__V1__StatusRequest req = PASSERELLE__V1__STATUS_REQUEST__INIT;
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_STATUS_REQUEST;
    pkt.status_request = &req;
    pl_buf_t buf = {0};
    int rc = pl_wire_encode(&pkt, &buf);
    if (rc == PL_OK)
        rc = pl_ctx_send_now(ctx, buf.data, buf.len);
    pl_buf_free(&buf);
    if (rc != PL_OK) {
        pl_node_state_t st;
        pl_ctx_state(ctx, &st);
        return pl_node_ctl_error(PL_ETIMEOUT,
                                 "the broker %s is not connected: no status",
                                 st.broker_ep ? st.broker_ep : "?");
    }
    // answered when the status response arrives or the deadline passes;
    // the loop goes on meanwhile
    pl_ctx_park(ctx, pl_mono_ms() + S_NETWORK_WAIT_MS);
    return NULL;
}

#define S_OPT_U64(o, name, msg, field)                                         \
    do {                                                                       \
        if ((msg)->has_##field)                                                \
            json_object_set_new((o), (name),                                   \
                                json_integer((json_int_t) (msg)->field));      \
    } while (0)

void
pl_node_ctl_status(pl_node_t *self, const Passerelle__V1__StatusResponse *resp)
{
    if (!self->ctl_parked)
        return;
    self->ctl_parked = false;
    free(self->ctl_reply);
    if (!resp) {
        self->ctl_reply =
            pl_node_ctl_error(PL_ETIMEOUT,
                              "the broker did not answer the status request "
                              "within %d s",
                              S_NETWORK_WAIT_MS / 1000);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "time", pl_node_json_time(resp->time));
    json_object_set_new(o, "uptime", json_integer((json_int_t) resp->uptime));
    if (resp->address)
        json_object_set_new(o, "address", json_string(resp->address));
    S_OPT_U64(o, "store_bytes", resp, store_bytes);
    S_OPT_U64(o, "map_use_pct", resp, map_use_pct);
    S_OPT_U64(o, "routed_per_minute", resp, routed_per_minute);
    json_t *nodes = json_array();
    for (size_t i = 0; i < resp->n_nodes; i++) {
        const Passerelle__V1__NodeStatus *n = resp->nodes[i];
        json_t *e = json_object();
        json_object_set_new(e, "address", json_string(n->address));
        json_object_set_new(e, "online", json_boolean(n->online));
        if (n->sector)
            json_object_set_new(e, "sector", json_string(n->sector));
        if (n->has_connected_since)
            json_object_set_new(e, "connected_since",
                                pl_node_json_time(n->connected_since));
        if (n->has_last_seen)
            json_object_set_new(e, "last_seen",
                                pl_node_json_time(n->last_seen));
        S_OPT_U64(e, "queued", n, queued);
        S_OPT_U64(e, "oldest_queued_age", n, oldest_queued_age);
        S_OPT_U64(e, "accepted", n, accepted);
        S_OPT_U64(e, "delivered", n, delivered);
        S_OPT_U64(e, "taken", n, taken);
        S_OPT_U64(e, "expired", n, expired);
        S_OPT_U64(e, "rejected", n, rejected);
        S_OPT_U64(e, "latency_p50_ms", n, latency_p50_ms);
        S_OPT_U64(e, "latency_p95_ms", n, latency_p95_ms);
        json_array_append_new(nodes, e);
    }
    json_object_set_new(o, "nodes", nodes);
    // issue 13: the home broker's federation links
    json_t *links = json_array();
    for (size_t i = 0; i < resp->n_links; i++) {
        const Passerelle__V1__FederationLink *l = resp->links[i];
        json_t *e = json_object();
        json_object_set_new(e, "network", json_string(l->network));
        json_object_set_new(e, "up", json_boolean(l->up));
        if (l->has_since)
            json_object_set_new(e, "since", pl_node_json_time(l->since));
        S_OPT_U64(e, "queued", l, queued);
        json_array_append_new(links, e);
    }
    json_object_set_new(o, "federation", links);
    self->ctl_reply = pl_node_ctl_ok(o);
}

typedef struct {
    pl_txn_t *txn;            // read in this transaction
    json_t *out;              // array being filled
    const char *kind, *state; // filters (NULL: all)
    size_t counts[2][6];      // [receipt?][state] for stats
} s_walk_t;

static int
s_outbox_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
             void *arg)
{
    s_walk_t *w = arg;
    pl_outrec_t r;
    if (kl != PL_MSG_ID_BYTES || pl_outrec_decode(v, vl, &r) != PL_OK)
        return PL_STORE_NEXT;
    const char *kind = pl_kind_name(r.kind);
    const char *state = pl_outrec_state_name(r.state);
    if (w->kind && strcmp(w->kind, kind) != 0)
        return PL_STORE_NEXT;
    if (w->state && strcmp(w->state, state) != 0)
        return PL_STORE_NEXT;
    json_t *o = json_object();
    json_object_set_new(o, "id", pl_node_json_hex(k, kl));
    json_object_set_new(o, "to", json_string(r.to));
    json_object_set_new(o, "kind", json_string(kind));
    json_object_set_new(o, "state", json_string(state));
    json_object_set_new(o, "created", pl_node_json_time(r.created_at));
    json_object_set_new(o, "updated", pl_node_json_time(r.updated_at));
    json_object_set_new(o, "expires", pl_node_json_time(r.expires_at));
    if (r.state == S_OUT_RECEIPTED)
        json_object_set_new(o, "received_at", pl_node_json_time(r.receipt_at));
    if (r.state == S_OUT_REJECTED)
        json_object_set_new(o, "reason",
                            json_string(pl_wire_reason_name(
                                (Passerelle__V1__RejectReason) r.reason)));
    json_array_append_new(w->out, o);
    return PL_STORE_NEXT;
}

static int
s_count_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) k;
    (void) kl;
    s_walk_t *w = arg;
    pl_outrec_t r;
    if (pl_outrec_decode(v, vl, &r) != PL_OK || r.state > 5)
        return PL_STORE_NEXT;
    w->counts[r.kind == S_KIND_RECEIPT][r.state]++;
    return PL_STORE_NEXT;
}

static char *
s_walk(pl_txn_t *txn, pl_db_t db, pl_store_each_fn fn, json_t *args)
{
    s_walk_t w = {txn, json_array(), NULL, NULL, {{0}}};
    w.kind = json_string_value(json_object_get(args, "kind"));
    w.state = json_string_value(json_object_get(args, "state"));
    int rc = pl_store_each(txn, db, fn, &w);
    if (rc != PL_OK) {
        json_decref(w.out);
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(w.out);
}

static json_t *
s_state_counts(const size_t *c)
{
    json_t *o = json_object();
    for (int s = S_OUT_PENDING; s <= S_OUT_EXPIRED; s++)
        json_object_set_new(o, pl_outrec_state_name(s),
                            json_integer((json_int_t) c[s]));
    return o;
}

static char *
s_stats(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
        int *rc_out)
{
    (void) args, (void) as, (void) rc_out;
    pl_node_state_t st;
    pl_ctx_state(ctx, &st);
    s_walk_t w = {txn, NULL, NULL, NULL, {{0}}};
    int rc = pl_store_each(txn, PL_DB_OUTBOX, s_count_one, &w);
    size_t inbox = 0, seen = 0, dir = 0, reqs = 0;
    if (rc == PL_OK)
        rc = pl_store_count(txn, PL_DB_INBOX, &inbox);
    if (rc == PL_OK)
        rc = pl_store_count(txn, PL_DB_SEEN, &seen);
    if (rc == PL_OK)
        rc = pl_store_count(txn, PL_DB_DIRECTORY, &dir);
    if (rc == PL_OK)
        rc = pl_store_count(txn, PL_DB_REQUESTS, &reqs);
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    json_t *o = json_object();
    json_object_set_new(o, "outbox", s_state_counts(w.counts[0]));
    json_object_set_new(o, "receipts_out", s_state_counts(w.counts[1]));
    json_object_set_new(o, "inbox", json_integer((json_int_t) inbox));
    json_object_set_new(o, "seen", json_integer((json_int_t) seen));
    json_object_set_new(o, "directory", json_integer((json_int_t) dir));
    json_object_set_new(o, "requests", json_integer((json_int_t) reqs));
    json_object_set_new(o, "online", json_boolean(st.online));
    json_object_set_new(o, "clock_ok", json_boolean(!st.skewed));
    json_object_set_new(o, "revoked", json_boolean(pl_ctx_me_revoked(ctx)));
    json_object_set_new(o, "map_use_pct", json_integer(st.usage_pct));
    json_object_set_new(o, "resend_queue",
                        json_integer((json_int_t) st.resend_queue));
    json_object_set_new(o, "parked", json_integer((json_int_t) st.parked));
    json_t *n = json_object();
    const pl_ctx_counters_t *c = &st.n;
#define S_C(f) json_object_set_new(n, #f, json_integer((json_int_t) c->f))
    S_C(in_envelopes);
    S_C(in_stored);
    S_C(in_duplicates);
    S_C(in_refused);
    S_C(in_deferred);
    S_C(receipts_ok);
    S_C(sent);
    S_C(resent);
    S_C(commits);
    S_C(commit_failures);
#undef S_C
    json_object_set_new(o, "counters", n);
    return pl_node_ctl_ok(o);
}

static char *
s_outbox(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    (void) as, (void) rc_out;
    (void) ctx;
    return s_walk(txn, PL_DB_OUTBOX, s_outbox_one, args);
}

const pl_ctl_cmd_t pl_node_info_cmds[] = {
    {"whoami", 0, s_whoami},   {"directory", 0, s_directory},
    {"network", 0, s_network}, {"outbox", 0, s_outbox},
    {"stats", 0, s_stats},     {NULL, 0, NULL},
};
