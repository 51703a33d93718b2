// pl_node_ctl - the node's control socket commands (DESIGN.md §9).
// Layer: nodes. Every request and reply is built and read with jansson.
//
// Request: {"req": "<32 hex request id>", "cmd": "...", "args": {...},
//           "as": "staff name" | null}
// Reply:   {"ok": true, "result": ...}
//        | {"ok": false, "error": "clear text", "code": "PL_E..."}
//
// A state-changing command stores its reply under its request id in the
// same nested transaction as its effect; a retry with the same id gets the
// stored reply and changes nothing.
#include "nodes/pl_node_ctl.h"

#include <assert.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_node_case.h"
#include "nodes/pl_node_int.h"

// Names of the error codes, for the "code" field.
static const char *
s_code_name(int code)
{
    switch (code) {
    case PL_ENOMEM:
        return "PL_ENOMEM";
    case PL_EINVAL:
        return "PL_EINVAL";
    case PL_ENOTFOUND:
        return "PL_ENOTFOUND";
    case PL_EFULL:
        return "PL_EFULL";
    case PL_EAUTH:
        return "PL_EAUTH";
    case PL_EPROTO:
        return "PL_EPROTO";
    case PL_EIO:
        return "PL_EIO";
    case PL_EPERM:
        return "PL_EPERM";
    case PL_EEXPIRED:
        return "PL_EEXPIRED";
    case PL_EREVOKED:
        return "PL_EREVOKED";
    case PL_EEXIST:
        return "PL_EEXIST";
    case PL_ESTATE:
        return "PL_ESTATE";
    case PL_ETIMEOUT:
        return "PL_ETIMEOUT";
    case PL_ETOOBIG:
        return "PL_ETOOBIG";
    default:
        return "PL_EUNKNOWN";
    }
}

char *
pl_node_ctl_error(int code, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_t *r = json_pack("{s:b, s:s, s:s}", "ok", 0, "error", text, "code",
                          s_code_name(code));
    char *out = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    return out ? out : strdup("{\"ok\":false,\"error\":\"out of memory\"}");
}

char *
pl_node_ctl_ok(json_t *result)
{
    if (!result)
        return pl_node_ctl_error(PL_ENOMEM, "out of memory");
    json_t *r = json_pack("{s:b, s:o}", "ok", 1, "result", result);
    char *out = r ? json_dumps(r, JSON_COMPACT) : NULL;
    json_decref(r);
    return out ? out : pl_node_ctl_error(PL_ENOMEM, "out of memory");
}

json_t *
pl_node_json_time(uint64_t t)
{
    char buf[32];
    pl_time_fmt(buf, t);
    return json_string(buf);
}

json_t *
pl_node_json_hex(const uint8_t *id, size_t n)
{
    char hex[2 * 64 + 1];
    assert(n <= 64); // ids and keys only
    pl_hex(hex, id, n);
    return json_string(hex);
}

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

// ---- commands

static char *
s_whoami(pl_node_t *self)
{
    char fp[17];
    json_t *o = s_cert_json(&self->me);
    json_object_set_new(o, "home", json_string(self->home));
    json_object_set_new(o, "broker", json_string(self->broker_ep));
    json_object_set_new(o, "broker_address", json_string(self->broker.address));
    json_object_set_new(o, "online", json_boolean(self->session));
    json_object_set_new(o, "clock_skew_s", json_integer(self->skew));
    json_object_set_new(o, "clock_ok", json_boolean(!self->skewed));
    pl_key_fingerprint(self->keys->pub.sign, fp);
    json_object_set_new(o, "sign_key", json_string(fp));
    json_object_set_new(o, "revocation_number",
                        json_integer((json_int_t) self->revoked.number));
    return pl_node_ctl_ok(o);
}

static char *
s_directory(pl_node_t *self, json_t *args)
{
    const char *sector = json_string_value(json_object_get(args, "sector"));
    json_t *a = json_array();
    uint64_t now = pl_now();
    for (size_t i = 0; a && i < self->ndir; i++) {
        const pl_cert_t *c = &self->dir[i];
        if (sector && strcmp(sector, c->sector) != 0)
            continue;
        if (pl_cert_check(c, now, &self->revoked) != PL_OK)
            continue;
        json_array_append_new(a, s_cert_json(c));
    }
    return pl_node_ctl_ok(a);
}

static char *
s_network(pl_node_t *self)
{
    Passerelle__V1__Packet pkt = PASSERELLE__V1__PACKET__INIT;
    Passerelle__V1__StatusRequest req = PASSERELLE__V1__STATUS_REQUEST__INIT;
    pkt.kind_case = PASSERELLE__V1__PACKET__KIND_STATUS_REQUEST;
    pkt.status_request = &req;
    pl_buf_t buf = {0};
    int rc = pl_wire_encode(&pkt, &buf);
    if (rc == PL_OK)
        rc = pl_node_send_now(self, buf.data, buf.len);
    pl_buf_free(&buf);
    if (rc != PL_OK)
        return pl_node_ctl_error(PL_ETIMEOUT,
                                 "the broker %s is not connected: no status",
                                 self->broker_ep);
    // answered when the status response arrives or the deadline passes;
    // the loop goes on meanwhile
    self->ctl_parked = true;
    self->ctl_deadline_ms = pl_mono_ms() + S_NETWORK_WAIT_MS;
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
    self->ctl_reply = pl_node_ctl_ok(o);
}

// test.send: seals Message{test{payload}} 'count' times to 'to'.
static char *
s_test_send(pl_node_t *self, pl_txn_t *txn, json_t *args, int *rc_out)
{
    const char *to = json_string_value(json_object_get(args, "to"));
    json_t *jp = json_object_get(args, "payload");
    json_t *jc = json_object_get(args, "count");
    json_t *jt = json_object_get(args, "ttl");
    *rc_out = PL_EINVAL;
    if (!to || !json_is_string(jp))
        return pl_node_ctl_error(PL_EINVAL,
                                 "test.send needs args.to and args.payload");
    if (jc
        && (!json_is_integer(jc) || json_integer_value(jc) < 1
            || json_integer_value(jc) > S_SEND_COUNT_MAX))
        return pl_node_ctl_error(PL_EINVAL, "args.count must be 1..%d",
                                 S_SEND_COUNT_MAX);
    if (jt
        && (!json_is_integer(jt) || json_integer_value(jt) < 1
            || json_integer_value(jt) > PL_TTL_MAX))
        return pl_node_ctl_error(PL_EINVAL, "args.ttl must be 1..%d seconds",
                                 PL_TTL_MAX);
    if (!pl_address_valid(to))
        return pl_node_ctl_error(PL_EINVAL,
                                 "'%s' is not an address (network/name)", to);
    int count = jc ? (int) json_integer_value(jc) : 1;
    uint64_t ttl = jt ? (uint64_t) json_integer_value(jt) : 0;
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__TestMessage tm = PASSERELLE__V1__TEST_MESSAGE__INIT;
    tm.payload.data = (uint8_t *) json_string_value(jp);
    tm.payload.len = json_string_length(jp);
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_TEST;
    m.test = &tm;
    pl_buf_t enc = {0};
    int rc = pl_message_encode(&m, &enc);
    if (rc != PL_OK) {
        *rc_out = rc;
        return pl_node_ctl_error(rc, "cannot encode the message: %s",
                                 rc == PL_ETOOBIG ? "payload too large"
                                                  : pl_strerror(rc));
    }
    json_t *ids = json_array();
    for (int i = 0; rc == PL_OK && i < count; i++) {
        uint8_t id[PL_MSG_ID_BYTES];
        rc = pl_node_outbox_add(self, txn, to, S_KIND_TEST, enc.data, enc.len,
                                ttl, id);
        if (rc == PL_OK)
            json_array_append_new(ids, pl_node_json_hex(id, PL_MSG_ID_BYTES));
    }
    pl_buf_wipe(&enc);
    *rc_out = rc;
    if (rc != PL_OK) {
        json_decref(ids);
        switch (rc) {
        case PL_ENOTFOUND:
            pl_node_ask_directory(self, false);
            return pl_node_ctl_error(rc,
                                     "%s is not in this node's directory "
                                     "(unknown recipient; the directory is "
                                     "being refreshed)",
                                     to);
        case PL_EREVOKED:
            return pl_node_ctl_error(rc, "%s's certificate is revoked", to);
        case PL_EEXPIRED:
            return pl_node_ctl_error(rc,
                                     "%s's certificate has expired or is "
                                     "not yet valid",
                                     to);
        case PL_ESTATE:
            return pl_node_ctl_error(
                rc,
                "this machine's clock is off by %lld s from the broker's "
                "(more than %d s): fix the clock; nothing is sealed until "
                "then",
                (long long) -self->skew, S_CLOCK_SKEW_MAX);
        case PL_EFULL:
            return pl_node_ctl_error(rc,
                                     "the node's store is full (map use "
                                     "%u%%, new work stops at %d%%): new "
                                     "messages are refused until space is "
                                     "freed",
                                     self->usage_pct, PL_STORE_FULL_PCT);
        case PL_ETOOBIG:
            return pl_node_ctl_error(rc, "the payload is too large");
        default:
            return pl_node_ctl_error(rc, "cannot send: %s", pl_strerror(rc));
        }
    }
    return pl_node_ctl_ok(json_pack("{s:o}", "ids", ids));
}

typedef struct {
    pl_node_t *node;          // owner
    pl_txn_t *txn;            // read in this transaction
    json_t *out;              // array being filled
    const char *kind, *state; // filters (NULL: all)
    size_t counts[2][6];      // [receipt?][state] for stats
} s_walk_t;

static int
s_test_list_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                void *arg)
{
    s_walk_t *w = arg;
    pl_inrec_t r;
    if (kl != PL_MSG_ID_BYTES || pl_inrec_decode(v, vl, &r) != PL_OK
        || r.kind != S_KIND_TEST)
        return PL_STORE_NEXT;
    uint8_t dk[PL_DATAKEY_BYTES];
    pl_buf_t plain = {0};
    pl_header_t h;
    int rc = pl_header_decode(r.header, r.header_len, &h);
    if (rc == PL_OK)
        rc = pl_store_datakey_get(w->txn, r.dkid, dk);
    if (rc == PL_OK)
        rc = pl_store_unseal(dk, PL_DB_INBOX, k, kl, r.sealed, r.sealed_len,
                             &plain);
    pl_store_wipe(dk, sizeof dk);
    pl_message_t *m = NULL;
    if (rc == PL_OK)
        rc = pl_message_decode(plain.data, plain.len, &m);
    json_t *o = json_object();
    json_object_set_new(o, "id", pl_node_json_hex(k, kl));
    json_object_set_new(o, "from", json_string(rc == PL_OK ? h.from : "?"));
    json_object_set_new(o, "received_at", pl_node_json_time(r.received_at));
    if (rc == PL_OK && m->body_case == PASSERELLE__V1__MESSAGE__BODY_TEST) {
        const ProtobufCBinaryData *p = &m->test->payload;
        json_t *s = json_stringn((const char *) p->data, p->len);
        if (s) {
            json_object_set_new(o, "payload", s);
        } else {
            // not UTF-8 text: give it as hex
            char *hex = malloc(2 * p->len + 1);
            if (hex) {
                pl_hex(hex, p->data, p->len);
                json_object_set_new(o, "payload_hex", json_string(hex));
                free(hex);
            }
        }
    } else {
        json_object_set_new(o, "error", json_string(pl_strerror(rc)));
    }
    pl_message_free(&m);
    pl_buf_wipe(&plain);
    json_array_append_new(w->out, o);
    return PL_STORE_NEXT;
}

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
s_walk(pl_node_t *self, pl_txn_t *txn, pl_db_t db, pl_store_each_fn fn,
       json_t *args)
{
    s_walk_t w = {self, txn, json_array(), NULL, NULL, {{0}}};
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
s_stats(pl_node_t *self, pl_txn_t *txn)
{
    s_walk_t w = {self, txn, NULL, NULL, NULL, {{0}}};
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
    json_object_set_new(o, "online", json_boolean(self->session));
    json_object_set_new(o, "clock_ok", json_boolean(!self->skewed));
    json_object_set_new(o, "map_use_pct", json_integer(self->usage_pct));
    json_object_set_new(o, "resend_queue",
                        json_integer((json_int_t) self->nrs));
    json_object_set_new(o, "parked", json_integer((json_int_t) self->npark));
    json_t *n = json_object();
    const pl_node_counters_t *c = &self->n;
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

// ---- dispatch

// Commands that change state: they need a request id and store replies.
static bool
s_changes_state(const char *cmd)
{
    return strcmp(cmd, "test.send") == 0 || pl_node_case_changes_state(cmd);
}

int
pl_node_ctl_parse(const char *text, size_t len,
                  bool (*changes)(const char *cmd), pl_ctl_req_t *out,
                  char **reply)
{
    memset(out, 0, sizeof *out);
    *reply = NULL;
    json_error_t jerr;
    json_t *req = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *jcmd = json_object_get(req, "cmd");
    json_t *jrid = json_object_get(req, "req");
    json_t *args = json_object_get(req, "args");
    json_t *as = json_object_get(req, "as");
    if (!json_is_object(req) || !json_is_string(jcmd)
        || (jrid && !json_is_string(jrid) && !json_is_null(jrid))
        || (args && !json_is_object(args) && !json_is_null(args))
        || (as && !json_is_string(as) && !json_is_null(as))) {
        *reply = pl_node_ctl_error(
            PL_EPROTO, "a request is {\"req\", \"cmd\", \"args\", \"as\"}");
        json_decref(req);
        return -1;
    }
    const char *cmd = json_string_value(jcmd);
    if (json_string_length(jcmd) == 0
        || json_string_length(jcmd) > PL_CTL_CMD_MAX) {
        *reply = pl_node_ctl_error(PL_EPROTO,
                                   "the command name is 1 to %d "
                                   "bytes",
                                   PL_CTL_CMD_MAX);
        json_decref(req);
        return -1;
    }
    if (json_is_string(as) && json_string_length(as) > PL_CTL_AS_MAX) {
        *reply = pl_node_ctl_error(PL_EINVAL,
                                   "the staff name (as) is longer than %d "
                                   "bytes",
                                   PL_CTL_AS_MAX);
        json_decref(req);
        return -1;
    }
    const char *rid_hex = json_string_value(jrid);
    if (rid_hex
        && (json_string_length(jrid) != 2 * PL_CTL_RID_BYTES
            || pl_unhex(out->rid_bin, sizeof out->rid_bin, rid_hex) != PL_OK)) {
        *reply = pl_node_ctl_error(PL_EINVAL,
                                   "the request id must be 32 hex digits");
        json_decref(req);
        memset(out, 0, sizeof *out);
        return -1;
    }
    bool ch = changes && changes(cmd);
    if (ch && !rid_hex) {
        *reply = pl_node_ctl_error(
            PL_EINVAL, "'%s' changes state: it needs a request id", cmd);
        json_decref(req);
        return -1;
    }
    out->doc = req;
    out->cmd = cmd;
    out->rid = rid_hex;
    out->args = json_is_object(args) ? args : NULL;
    out->as = json_string_value(as);
    out->changes = ch;
    return 0;
}

void
pl_node_ctl_req_free(pl_ctl_req_t *req)
{
    json_decref(req->doc);
    memset(req, 0, sizeof *req);
}

void
pl_node_ctl_request(pl_node_t *self, pl_txn_t *pass, const char *text,
                    size_t len)
{
    pl_ctl_req_t pr;
    if (pl_node_ctl_parse(text, len, s_changes_state, &pr, &self->ctl_reply)
        != 0)
        return;
    json_t *req = pr.doc;
    const char *cmd = pr.cmd;
    const char *rid_hex = pr.rid;
    json_t *args = pr.args;
    const char *as_name = pr.as;
    if (pl_node_ops_deferred(cmd)) {
        // backup, rotate-box-key, audit.export: run after this pass commits,
        // with no transaction open (pl_node_ops.c)
        free(self->ctl_deferred);
        self->ctl_deferred = strndup(text, len);
        if (!self->ctl_deferred)
            self->ctl_reply = pl_node_ctl_error(PL_ENOMEM, "out of memory");
        json_decref(req);
        return;
    }
    const uint8_t *rid = pr.rid_bin;
    bool changes = pr.changes;
    pl_txn_t *c = NULL;
    size_t mark = pl_node_after_mark(self);
    int rc = pl_store_begin(self->store, pass, true, &c);
    if (rc != PL_OK) {
        self->ctl_reply = pl_node_ctl_error(rc, "the store is unavailable");
        json_decref(req);
        return;
    }
    char *reply = NULL;
    int arc = PL_OK; // whether the action's changes are kept
    if (changes) {
        pl_buf_t stored = {0};
        rc = pl_store_request_get(c, rid, &stored);
        if (rc == PL_OK) {
            // a retry: the first attempt's reply, and nothing done again
            pl_log_info(self->log, "request_replayed cmd=%s req=%s", cmd,
                        rid_hex);
            reply = strdup((const char *) stored.data);
            pl_buf_free(&stored);
            pl_store_abort(&c);
            self->ctl_reply =
                reply ? reply : pl_node_ctl_error(PL_ENOMEM, "no memory");
            json_decref(req);
            return;
        }
        pl_buf_free(&stored);
    }
    if (strcmp(cmd, "whoami") == 0)
        reply = s_whoami(self);
    else if (strcmp(cmd, "directory") == 0)
        reply = s_directory(self, args);
    else if (strcmp(cmd, "network") == 0)
        reply = s_network(self);
    else if (strcmp(cmd, "test.send") == 0)
        reply = s_test_send(self, c, args, &arc);
    else if (strcmp(cmd, "test.list") == 0)
        reply = s_walk(self, c, PL_DB_INBOX, s_test_list_one, args);
    else if (strcmp(cmd, "outbox") == 0)
        reply = s_walk(self, c, PL_DB_OUTBOX, s_outbox_one, args);
    else if (strcmp(cmd, "stats") == 0)
        reply = s_stats(self, c);
    else if (pl_node_case_handles(cmd)) // cases, consent, referrals
        reply = pl_node_case_ctl(self, c, cmd, args, as_name, &arc);
    else
        reply = pl_node_ctl_error(PL_EINVAL, "unknown command '%s'", cmd);

    if (changes && arc == PL_OK && reply) {
        arc = pl_store_request_put(c, rid, pl_now(), reply, strlen(reply));
        if (arc != PL_OK) {
            free(reply);
            reply = pl_node_ctl_error(arc,
                                      "the node could not record the request "
                                      "(%s); nothing was done",
                                      pl_strerror(arc));
        }
    }
    if (changes && arc == PL_OK) {
        rc = pl_store_commit(&c);
        if (rc != PL_OK) {
            pl_node_after_truncate(self, mark);
            free(reply);
            reply = pl_node_ctl_error(rc,
                                      "the node could not commit (%s); "
                                      "nothing was done",
                                      pl_strerror(rc));
        }
    } else {
        // read commands change nothing; a failed action leaves no trace
        pl_store_abort(&c);
        pl_node_after_truncate(self, mark);
    }
    if (changes)
        pl_log_info(self->log, "request cmd=%s req=%s ok=%d", cmd, rid_hex,
                    arc == PL_OK);
    if (!reply && !self->ctl_parked)
        reply = pl_node_ctl_error(PL_ENOMEM, "out of memory");
    self->ctl_reply = reply;
    json_decref(req);
}
