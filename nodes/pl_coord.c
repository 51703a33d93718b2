// pl_coord - the coordination room (see pl_coord.h). Layer: nodes,
// handlers.
#include "nodes/pl_coord.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_msg_kind.h"
#include "nodes/pl_report.h"
#include "nodes/pl_roles.h"
#include "nodes/pl_suppress.h"

static const char s_last_key[] = "report.last";

// ---- sending

static bool
s_is_coordination(const pl_cert_t *c, const pl_cert_t *me)
{
    return strcmp(c->sector, "coordination") == 0
           && strcmp(c->network, me->network) == 0
           && strcmp(c->address, me->address) != 0;
}

// One report of 'period' to 'to'; appends {to, period, id, bytes} to 'sent'.
static int
s_send_one(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *to,
           const char *period, uint64_t now, json_t *sent)
{
    json_t *doc = NULL;
    int rc = pl_report_build(ctx, txn, period, now, &doc);
    if (rc != PL_OK)
        return rc;
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (!text)
        return PL_ENOMEM;
    size_t len = strlen(text);
    Passerelle__V1__AggregateReport ar = PASSERELLE__V1__AGGREGATE_REPORT__INIT;
    ar.version = PL_REPORT_SCHEMA;
    ar.report.data = (uint8_t *) text;
    ar.report.len = len;
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_AGGREGATE_REPORT;
    m.aggregate_report = &ar;
    pl_buf_t enc = {0};
    uint8_t id[PL_MSG_ID_BYTES];
    rc = len > PL_REPORT_MAX_BYTES ? PL_ETOOBIG : pl_message_encode(&m, &enc);
    free(text);
    if (rc == PL_OK)
        rc = pl_ctx_outbox_add(ctx, txn, to, S_KIND_REPORT, enc.data, enc.len,
                               0, id);
    pl_buf_free(&enc);
    if (rc != PL_OK)
        return rc;
    json_t *e = json_object();
    json_object_set_new(e, "to", json_string(to));
    json_object_set_new(e, "period", json_string(period));
    json_object_set_new(e, "id", pl_node_json_hex(id, PL_MSG_ID_BYTES));
    json_object_set_new(e, "bytes", json_integer((json_int_t) len));
    json_array_append_new(sent, e);
    return PL_OK;
}

// Sends the reports of this month and the one before to every
// coordination node; *sent gets what went out. A coordination node that
// cannot be sealed to (revoked, expired) is skipped.
static int
s_send_all(pl_node_ctx_t *ctx, pl_txn_t *txn, uint64_t now, json_t **sent)
{
    char cur[8], prev[8];
    pl_report_period_of(now, cur);
    pl_report_period_prev(cur, prev);
    const char *periods[] = {prev, cur};
    *sent = json_array();
    int rc = PL_OK;
    for (size_t i = 0; rc == PL_OK && i < ctx->ndir; i++) {
        const pl_cert_t *c = &ctx->dir[i];
        if (!s_is_coordination(c, ctx->me)
            || !pl_ctx_dir_find(ctx, c->address, NULL))
            continue;
        for (int p = 0; rc == PL_OK && p < 2; p++)
            rc = s_send_one(ctx, txn, c->address, periods[p], now, *sent);
    }
    uint8_t last[8];
    pl_be64_put(last, now);
    if (rc == PL_OK)
        rc = pl_store_put(txn, PL_DB_SETTINGS, s_last_key,
                          sizeof s_last_key - 1, last, sizeof last);
    if (rc != PL_OK) {
        json_decref(*sent);
        *sent = NULL;
    }
    return rc;
}

static char *
s_cmd_send(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
           int *rc_out)
{
    (void) args, (void) as;
    json_t *sent = NULL;
    int rc = s_send_all(ctx, txn, pl_now(), &sent);
    if (rc != PL_OK) {
        *rc_out = rc;
        return pl_node_ctl_error(rc, "cannot send the reports: %s",
                                 pl_strerror(rc));
    }
    if (!json_array_size(sent))
        pl_log_warn(ctx->log, "report_send coordination_nodes=0");
    return pl_node_ctl_ok(sent);
}

static char *
s_cmd_show(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
           int *rc_out)
{
    (void) as;
    uint64_t now = pl_now();
    char cur[8];
    pl_report_period_of(now, cur);
    const char *period = pl_case_arg(args, "period");
    json_t *doc = NULL;
    int rc = pl_report_build(ctx, txn, period ? period : cur, now, &doc);
    if (rc == PL_EINVAL) {
        *rc_out = rc;
        return pl_node_ctl_error(rc, "--period is YYYY-MM, not '%.16s'",
                                 period);
    }
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(doc);
}

// Whether --report-hours have passed since the last send (a read
// transaction: the timer's check takes no write lock).
static bool
s_due(pl_node_ctx_t *ctx, unsigned hours, uint64_t now)
{
    pl_txn_t *txn = NULL;
    if (pl_store_begin(ctx->store, NULL, false, &txn) != PL_OK)
        return false;
    const uint8_t *v;
    size_t vl;
    uint64_t last = 0;
    if (pl_store_get(txn, PL_DB_SETTINGS, s_last_key, sizeof s_last_key - 1, &v,
                     &vl)
            == PL_OK
        && vl == 8)
        last = pl_be64_get(v);
    pl_store_abort(&txn);
    return !last || last > now || now - last >= (uint64_t) hours * 3600;
}

void
pl_coord_tick(pl_node_ctx_t *ctx, unsigned hours)
{
    uint64_t now = pl_now();
    if (!hours || !s_due(ctx, hours, now))
        return;
    pl_txn_t *txn = NULL;
    if (pl_store_begin(ctx->store, NULL, true, &txn) != PL_OK)
        return;
    json_t *sent = NULL;
    int rc = s_send_all(ctx, txn, now, &sent);
    if (rc == PL_OK)
        rc = pl_store_commit(&txn);
    else
        pl_store_abort(&txn);
    if (rc == PL_OK)
        pl_log_info(ctx->log, "report_sent envelopes=%zu",
                    json_array_size(sent));
    else
        pl_log_warn(ctx->log, "report_send_failed err=\"%s\"", pl_strerror(rc));
    json_decref(sent);
}

// report.request (at a coordination node): asks every other node of its
// network in the directory for its reports now.
static char *
s_cmd_request(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
              int *rc_out)
{
    (void) args, (void) as;
    if (strcmp(ctx->me->sector, "coordination") != 0) {
        *rc_out = PL_ESTATE;
        return pl_node_ctl_error(PL_ESTATE,
                                 "only a coordination node asks for reports");
    }
    Passerelle__V1__AggregateReport ar = PASSERELLE__V1__AGGREGATE_REPORT__INIT;
    ar.version = PL_REPORT_SCHEMA;
    ar.report.data = (uint8_t *) "{}";
    ar.report.len = 2;
    ar.has_request = true;
    ar.request = true;
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_AGGREGATE_REPORT;
    m.aggregate_report = &ar;
    pl_buf_t enc = {0};
    int rc = pl_message_encode(&m, &enc);
    json_t *asked = json_array();
    for (size_t i = 0; rc == PL_OK && i < ctx->ndir; i++) {
        const pl_cert_t *c = &ctx->dir[i];
        uint8_t id[PL_MSG_ID_BYTES];
        if (strcmp(c->network, ctx->me->network) != 0
            || strcmp(c->address, ctx->me->address) == 0
            || !strcmp(c->sector, "coordination")
            || !strcmp(c->sector, "broker")
            || !pl_ctx_dir_find(ctx, c->address, NULL))
            continue;
        rc = pl_ctx_outbox_add(ctx, txn, c->address, S_KIND_REPORT, enc.data,
                               enc.len, 0, id);
        if (rc == PL_OK)
            json_array_append_new(asked, json_string(c->address));
    }
    pl_buf_free(&enc);
    if (rc != PL_OK) {
        json_decref(asked);
        *rc_out = rc;
        return pl_node_ctl_error(rc, "cannot ask for the reports: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(asked);
}

// ---- keeping

static size_t
s_key(uint8_t *k, size_t n, const char *node, const char *period)
{
    size_t a = strlen(node), b = strlen(period);
    if (a + 1 + b > n)
        return 0;
    memcpy(k, node, a);
    k[a] = 0;
    memcpy(k + a + 1, period, b);
    return a + 1 + b;
}

// Keeps 'doc' (checked) unless a later report of the same (node, period)
// is kept already.
static int
s_keep(pl_txn_t *txn, const pl_cert_t *cert, json_t *doc)
{
    uint8_t k[PL_ADDRESS_MAX + 16];
    size_t kl = s_key(k, sizeof k, cert->address,
                      json_string_value(json_object_get(doc, "period")));
    if (!kl)
        return PL_EPROTO;
    json_int_t as_of = json_integer_value(json_object_get(doc, "as_of"));
    uint8_t hdr[PL_SEALED_HDR];
    json_t *old = NULL;
    if (pl_sealed_get(txn, PL_DB_REPORTS, k, kl, NULL, hdr, NULL, &old)
        == PL_OK) {
        json_t *r = json_object_get(old, "report");
        bool newer = json_integer_value(json_object_get(r, "as_of")) > as_of;
        json_decref(old);
        if (newer)
            return PL_OK;
    }
    uint8_t dk[PL_DATAKEY_BYTES];
    hdr[0] = PL_SEALED_VER;
    int rc = pl_store_datakey_new(txn, hdr + 1, dk);
    json_t *w = json_object();
    json_object_set(w, "report", doc);
    json_object_set_new(w, "received", json_integer((json_int_t) pl_now()));
    json_object_set_new(w, "region", json_string(cert->region));
    json_object_set_new(w, "sector", json_string(cert->sector));
    if (rc == PL_OK)
        rc = pl_sealed_put(txn, PL_DB_REPORTS, k, kl, hdr, dk, w);
    pl_store_wipe(dk, sizeof dk);
    json_decref(w);
    return rc;
}

// A coordination node of this network asks for the reports now: they go
// out in the same transaction.
static int
s_on_request(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
             const pl_cert_t *cert, const uint8_t digest[PL_DIGEST_BYTES])
{
    json_t *sent = NULL;
    bool ok = s_is_coordination(cert, ctx->me);
    int rc = ok ? s_send_all(ctx, txn, pl_now(), &sent) : PL_OK;
    json_decref(sent);
    if (rc != PL_OK)
        return rc;
    if (!ok)
        pl_log_warn(ctx->log,
                    "report_request_refused from=%s reason=\"not a "
                    "coordination node of this network\"",
                    h->from);
    return pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                         "aggregate-report", NULL, NULL, "report-request",
                         ok ? "ok" : "refused", NULL);
}

static int
s_on_report(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
            const pl_cert_t *cert, const uint8_t digest[PL_DIGEST_BYTES],
            const Passerelle__V1__AggregateReport *ar)
{
    if (ar->has_request && ar->request)
        return s_on_request(ctx, txn, h, cert, digest);
    char why[160] = "";
    json_error_t je;
    json_t *doc = NULL;
    int rc = PL_EPROTO;
    if (strcmp(ctx->me->sector, "coordination") != 0)
        snprintf(why, sizeof why, "this node is not a coordination node");
    else if (!(doc = json_loadb((const char *) ar->report.data, ar->report.len,
                                JSON_REJECT_DUPLICATES, &je)))
        snprintf(why, sizeof why, "not JSON");
    else if (pl_report_check(doc, why, sizeof why) != PL_OK)
        ;
    else if (strcmp(json_string_value(json_object_get(doc, "node")), h->from)
             != 0)
        snprintf(why, sizeof why, "the report names another node");
    else
        rc = s_keep(txn, cert, doc);
    json_decref(doc);
    if (rc == PL_OK)
        return pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                             "aggregate-report", NULL, NULL, "kept", "ok",
                             NULL);
    if (!why[0])
        return rc; // the store failed
    pl_log_warn(ctx->log, "report_refused from=%s reason=\"%s\"", h->from, why);
    return pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                         "aggregate-report", NULL, NULL, "refused", "refused",
                         why);
}

int
pl_node_coord_on_msg(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
                     const pl_cert_t *cert,
                     const uint8_t digest[PL_DIGEST_BYTES],
                     const pl_message_t *m, bool *refused)
{
    (void) refused;
    pl_node_ctx_t ctx = pl_node_ctx(self);
    return s_on_report(&ctx, txn, h, cert, digest, m->aggregate_report);
}

void
pl_node_coord_tick(pl_node_t *self)
{
    pl_node_ctx_t ctx = pl_node_ctx(self);
    pl_coord_tick(&ctx, self->report_hours);
}

// ---- figures

static char *
s_cmd_coordination(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                   const char *as, int *rc_out)
{
    (void) ctx, (void) args, (void) as;
    json_t *out = NULL;
    int rc = pl_coord_figures(txn, pl_now(), &out);
    if (rc != PL_OK) {
        *rc_out = rc;
        return pl_node_ctl_error(rc, "cannot read the reports: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(out);
}

const pl_ctl_cmd_t pl_coord_cmds[] = {
    {"report.show", 0, s_cmd_show},
    {"report.send", PL_CTL_CHANGES, s_cmd_send},
    {"report.request", PL_CTL_CHANGES | PL_CTL_ROLES(PL_ROLE_COORDINATOR),
     s_cmd_request},
    {"coordination", PL_CTL_ROLES(PL_ROLE_COORDINATOR), s_cmd_coordination},
    {NULL, 0, NULL},
};
