// pl_handover_cmd - the handover room (see pl_handover_cmd.h): sending the
// package, the steps of both sides, the child rules, ownership moving on
// acceptance, and the host node's purge. Layer: nodes, handlers.
#include "nodes/pl_handover_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_casework.h"
#include "nodes/pl_handover.h"
#include "proto/pl_crypto.h"

#define S_ID      PL_CASE_ID
#define S_PENDING 8 // updates kept while an earlier one is missing
#define S_DAY     86400u

// ---- small helpers

static void
s_key(uint8_t k[1 + S_ID], char tag, const uint8_t id[S_ID])
{
    pl_case_rkey(k, tag, id);
}

static PL_MUST_CHECK int
s_open(pl_txn_t *txn, const uint8_t id[S_ID], pl_sealed_t *s)
{
    uint8_t k[1 + S_ID];
    s_key(k, 'h', id);
    return pl_sealed_open(s, txn, PL_DB_HANDOVERS, k, sizeof k, NULL);
}

static PL_MUST_CHECK int
s_save(pl_txn_t *txn, const uint8_t id[S_ID], const pl_sealed_t *s)
{
    uint8_t k[1 + S_ID];
    s_key(k, 'h', id);
    return pl_sealed_save(s, txn, PL_DB_HANDOVERS, k, sizeof k);
}

// Saves the record under a fresh data key and destroys the old one: what
// the record held before (personal data that left it) no longer opens,
// also in older pages of the store and in backups.
static PL_MUST_CHECK int
s_rekey(pl_txn_t *txn, const uint8_t id[S_ID], pl_sealed_t *s)
{
    uint8_t old[PL_DATAKEY_ID_BYTES];
    memcpy(old, s->hdr + 1, sizeof old);
    pl_store_wipe(s->dk, sizeof s->dk);
    int rc = pl_store_datakey_new(txn, s->hdr + 1, s->dk);
    if (rc == PL_OK)
        rc = s_save(txn, id, s);
    if (rc == PL_OK) {
        rc = pl_store_datakey_destroy(txn, old);
        rc = rc == PL_ENOTFOUND ? PL_OK : rc;
    }
    return rc;
}

static bool
s_is(const json_t *doc, const char *key, const char *want)
{
    const char *v = pl_case_str(doc, key);
    return v && strcmp(v, want) == 0;
}

static void
s_set_u64(json_t *doc, const char *key, uint64_t v)
{
    json_object_set_new(doc, key, json_integer((json_int_t) v));
}

// The track kept in a record.
static PL_MUST_CHECK int
s_track_get(const json_t *doc, pl_handover_track_t *t)
{
    pl_handover_state_t rs;
    if (pl_handover_state_parse(pl_case_str(doc, "rstate"), &rs) != PL_OK)
        return PL_EPROTO;
    pl_handover_track_init(t, s_is(doc, "dir", "out") ? PL_HSIDE_SENDER
                                                      : PL_HSIDE_RECIPIENT);
    t->rstate = rs;
    t->withdrawn = json_is_true(json_object_get(doc, "withdrawn"));
    t->late = json_is_true(json_object_get(doc, "late"));
    return PL_OK;
}

static void
s_track_set(json_t *doc, const pl_handover_track_t *t)
{
    json_object_set_new(doc, "rstate",
                        json_string(pl_handover_state_name(t->rstate)));
    json_object_set_new(doc, "withdrawn", json_boolean(t->withdrawn));
    json_object_set_new(doc, "late", json_boolean(t->late));
    json_object_set_new(
        doc, "status",
        json_string(pl_handover_state_name(pl_handover_track_state(t))));
}

// Under 18 at 'now', from a YYYY-MM-DD birth date (calendar arithmetic).
static bool
s_minor(const char *birth, uint64_t now)
{
    int y, m, d;
    if (!birth || sscanf(birth, "%4d-%2d-%2d", &y, &m, &d) != 3)
        return false;
    time_t t = (time_t) now;
    struct tm tm;
    gmtime_r(&t, &tm);
    int age = tm.tm_year + 1900 - y;
    if (tm.tm_mon + 1 < m || (tm.tm_mon + 1 == m && tm.tm_mday < d))
        age--;
    return age < 18;
}

static int
s_audit(pl_node_ctx_t *ctx, pl_txn_t *txn, pl_audit_dir_t dir, const char *peer,
        const uint8_t *msg, const uint8_t *digest, const char *by,
        const uint8_t hid[S_ID], const char *event, const char *result,
        const char *detail)
{
    return pl_case_audit(ctx, txn, dir, peer, msg, digest, "handover", by, hid,
                         event, result, detail);
}

// Seals a Handover body to 'to' (one of package, update, cp_ack set by
// the caller in 'hm') and audits it as sent.
static int
s_send(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *to,
       Passerelle__V1__Handover *hm, const char *event, const char *detail,
       uint8_t msgid[PL_MSG_ID_BYTES])
{
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_HANDOVER;
    m.handover = hm;
    pl_buf_t enc = {0};
    uint8_t digest[PL_DIGEST_BYTES];
    int rc = pl_message_encode(&m, &enc);
    if (rc == PL_OK)
        rc = pl_ctx_outbox_add(ctx, txn, to, S_KIND_HANDOVER, enc.data, enc.len,
                               0, msgid);
    pl_buf_wipe(&enc); // a package holds personal data
    if (rc == PL_OK)
        rc = pl_case_out_digest(txn, msgid, digest);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_OUT, to, msgid, digest, hm->by,
                     hm->handover_id.data, event, "applied", detail);
    return rc;
}

// Sends this node's next update of the handover in 'doc'.
static int
s_send_update(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *doc,
              const uint8_t hid[S_ID], pl_handover_state_t to,
              const char *reason, const char *note, const char *by, uint64_t at)
{
    uint32_t seq = (uint32_t) pl_case_u64(doc, "myseq") + 1;
    Passerelle__V1__Handover hm = PASSERELLE__V1__HANDOVER__INIT;
    Passerelle__V1__HandoverUpdate u = PASSERELLE__V1__HANDOVER_UPDATE__INIT;
    hm.handover_id.data = (uint8_t *) hid;
    hm.handover_id.len = S_ID;
    hm.at = at;
    hm.by = (char *) by;
    hm.what_case = PASSERELLE__V1__HANDOVER__WHAT_UPDATE;
    hm.update = &u;
    u.seq = seq;
    u.status = (char *) pl_handover_state_name(to);
    u.reason = (char *) reason;
    u.note = (char *) note;
    uint8_t msgid[PL_MSG_ID_BYTES];
    int rc = s_send(ctx, txn, pl_case_str(doc, "peer"), &hm, u.status, reason,
                    msgid);
    if (rc == PL_OK)
        s_set_u64(doc, "myseq", seq);
    return rc;
}

// Notifies the child-protection node of this node's region of a child's
// handover (the existing cp-notification, kind "handover"), once.
static int
s_cp_notify(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *doc,
            const uint8_t hid[S_ID])
{
    if (!json_is_true(json_object_get(doc, "child")) || pl_case_str(doc, "cp"))
        return PL_OK;
    char cp[PL_ADDRESS_MAX + 1];
    if (pl_case_cp_find(ctx, cp) != PL_OK) {
        pl_log_warn(ctx->log,
                    "handover_cp_missing region=%s: no child-protection node "
                    "in the directory; the handover cannot be accepted yet",
                    ctx->me->region[0] ? ctx->me->region : "-");
        return PL_OK;
    }
    uint8_t msgid[PL_MSG_ID_BYTES];
    uint64_t now = pl_now();
    int rc = pl_case_cp_notify(ctx, txn, cp, hid, "handover", now, NULL, msgid);
    if (rc == PL_OK) {
        json_object_set_new(doc, "cp", json_string(cp));
        s_set_u64(doc, "cp_notified", now);
    }
    return rc;
}

// ---- ownership

// Host side, on acceptance: the case is closed as transferred and is
// erased after the keep period.
static int
s_owner_moved(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *doc)
{
    if (pl_case_u64(doc, "accepted_at"))
        return PL_OK;
    uint64_t now = pl_now();
    // the daemon's --handover-keep-days (a fake context: the default)
    uint32_t keep = ctx->handover_keep_days ? *ctx->handover_keep_days
                                            : PL_NODE_HANDOVER_KEEP_DAYS;
    uint64_t after = now + (uint64_t) keep * S_DAY;
    s_set_u64(doc, "accepted_at", now);
    s_set_u64(doc, "purge_after", after);
    uint8_t cid[S_ID];
    pl_sealed_t cs = PL_SEALED_INIT;
    int rc;
    char *err = pl_case_open(txn, pl_case_str(doc, "case"), cid, &cs, &rc);
    if (err) { // erased meanwhile by hand: nothing left to close
        free(err);
        return rc == PL_ENOTFOUND ? PL_OK : rc;
    }
    s_set_u64(cs.doc, "closed", now);
    json_object_set_new(cs.doc, "close_reason", json_string("transferred"));
    json_object_set_new(cs.doc, "transferred_to",
                        json_string(pl_case_str(doc, "peer")));
    json_object_set_new(cs.doc, "closed_by", json_string("handover"));
    rc = pl_sealed_save(&cs, txn, PL_DB_CASES, cid, S_ID);
    pl_sealed_release(&cs);
    return rc;
}

// Host side, when the handover ends without moving ownership (rejected,
// withdrawn): the case is the host's again.
static int
s_owner_stays(pl_txn_t *txn, json_t *doc)
{
    uint8_t cid[S_ID];
    pl_sealed_t cs = PL_SEALED_INIT;
    int rc;
    json_object_del(doc, "purge_after");
    char *err = pl_case_open(txn, pl_case_str(doc, "case"), cid, &cs, &rc);
    if (err) {
        free(err);
        return rc == PL_ENOTFOUND ? PL_OK : rc;
    }
    json_object_del(cs.doc, "handover");
    if (s_is(cs.doc, "close_reason", "transferred")) {
        json_object_del(cs.doc, "closed");
        json_object_del(cs.doc, "close_reason");
        json_object_del(cs.doc, "transferred_to");
        json_object_del(cs.doc, "closed_by");
    }
    rc = pl_sealed_save(&cs, txn, PL_DB_CASES, cid, S_ID);
    pl_sealed_release(&cs);
    return rc;
}

// Receiving side, on acceptance: a case of its own (new id, new key) with
// the data it was sent; the package leaves the handover record.
static int
s_case_from_package(pl_node_ctx_t *ctx, pl_txn_t *txn, pl_sealed_t *hs,
                    const uint8_t hid[S_ID], const char *as, char out[33])
{
    json_t *pkg = json_object_get(hs->doc, "package");
    json_t *cd = json_object_get(pkg, "case");
    json_t *doc = json_is_object(cd) ? json_deep_copy(cd) : json_object();
    if (!doc)
        return PL_ENOMEM;
    static const char *const drop[] = {
        "closed",      "close_reason", "handover",       "by",
        "withdrawals", "created",      "transferred_to", "casework"};
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        json_object_del(doc, drop[i]);
    uint64_t now = pl_now();
    s_set_u64(doc, "created", now);
    if (pl_case_by(as))
        json_object_set_new(doc, "by", json_string(as));
    json_t *from =
        json_pack("{s:o, s:s, s:I}", "id", pl_node_json_hex(hid, S_ID), "from",
                  pl_case_str(hs->doc, "peer"), "accepted", (json_int_t) now);
    json_object_set_new(doc, "handed_over", from);
    static const char *const keep[] = {"arrival", "escort", "bid", "note"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        if (json_object_get(pkg, keep[i]))
            json_object_set(from, keep[i], json_object_get(pkg, keep[i]));
    uint8_t cid[S_ID];
    pl_random(cid, sizeof cid);
    pl_sealed_t cs = {.hdr = {PL_CASE_VER}, .doc = doc};
    int rc = pl_store_datakey_new(txn, cs.hdr + 1, cs.dk);
    if (rc == PL_OK)
        rc = pl_sealed_save(&cs, txn, PL_DB_CASES, cid, S_ID);
    pl_sealed_release(&cs);
    pl_hex(out, cid, S_ID);
    // its assessments and draft plan, into the new case's casework
    size_t dropped = 0;
    char hhex[2 * S_ID + 1];
    pl_hex(hhex, hid, S_ID);
    if (rc == PL_OK)
        rc = pl_casework_handover_in(txn, cid, json_object_get(cd, "casework"),
                                     pl_case_str(hs->doc, "peer"), hhex,
                                     &dropped);
    if (rc == PL_OK && dropped)
        pl_log_warn(ctx->log,
                    "handover_casework_dropped id=%s count=%zu (records that "
                    "fail this node's checks)",
                    hhex, dropped);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case",
                           as, cid, "case-add", "applied", "handover");
    if (rc == PL_OK) {
        json_object_set_new(hs->doc, "case", json_string(out));
        json_object_del(hs->doc, "package");
    }
    return rc;
}

// Erases a case through the case room (crypto-shredding, tombstone,
// audit). PL_ESTATE when it still has open referrals (nothing erased).
static int
s_erase_case(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *hex)
{
    json_t *args = json_pack("{s:s}", "case", hex);
    int rc = PL_OK;
    char *reply =
        args ? pl_case_erase(ctx, txn, args, PL_CASE_SYSTEM, &rc) : NULL;
    json_decref(args);
    free(reply);
    return args ? rc : PL_ENOMEM;
}

// ---- handover --case C --to ADDRESS (the host node)

static char *
s_refuse_child(pl_node_ctx_t *ctx, pl_txn_t *txn, const uint8_t cid[S_ID],
               const char *to, const char *as, const char *what, int *rc_out)
{
    *rc_out = s_audit(ctx, txn, PL_AUDIT_LOCAL, to, NULL, NULL, as, cid,
                      "handover-send", "refused", "child-rules");
    return pl_node_ctl_error(
        PL_EINVAL,
        "handover of a child: %s; a child is handed over only after a "
        "completed best-interests determination recommending return or "
        "reunification (--bid-ref REF --bid-date YYYY-MM-DD --bid-outcome "
        "return|reunification); nothing was sent",
        what);
}

// Appends {status, at, by, ...} to the handover document's history and
// sets its 'updated' (the referral record's history has its typed form in
// pl_records.h; a handover record is a JSON document of its own).
static void
s_history(json_t *doc, const char *status, uint64_t at, const char *by,
          const char *reason, const char *note, const char *outcome,
          const char *result)
{
    json_t *h = json_object_get(doc, "history");
    if (!h) {
        h = json_array();
        json_object_set_new(doc, "history", h);
    }
    json_t *e = json_object();
    json_object_set_new(e, "status", json_string(status));
    json_object_set_new(e, "at", pl_node_json_time(at));
    json_object_set_new(e, "by", by ? json_string(by) : json_null());
    const char *const kv[][2] = {{"reason", reason},
                                 {"note", note},
                                 {"outcome", outcome},
                                 {"result", result}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (kv[i][1])
            json_object_set_new(e, kv[i][0], json_string(kv[i][1]));
    json_array_append_new(h, e);
    json_object_set_new(doc, "updated", json_integer((json_int_t) at));
}

// The case as it travels: the case document without what is the host's
// own (its staff, its closing), plus the open referrals and the casework
// a handover carries (pl_casework_handover_out). NULL on failure, *rc
// saying which: a store error reading the case's referrals or casework
// sends nothing (a package without its pending referrals would hand the
// case over incomplete), PL_ENOMEM.
static json_t *
s_case_data(pl_txn_t *txn, const uint8_t cid[S_ID], const json_t *cdoc, int *rc)
{
    json_t *d = json_deep_copy(cdoc), *pend = json_array();
    pl_case_crefs_t refs = {0};
    *rc = d && pend ? pl_case_refs(txn, cid, &refs) : PL_ENOMEM;
    for (size_t i = 0; *rc == PL_OK && i < refs.n; i++)
        if (refs.v[i].open
            && json_array_append_new(
                   pend,
                   json_pack("{s:o, s:s, s:s}", "id",
                             pl_node_json_hex(refs.v[i].id, S_ID), "peer",
                             refs.v[i].peer, "priority", refs.v[i].priority))
                   != 0)
            *rc = PL_ENOMEM;
    free(refs.v);
    if (*rc != PL_OK) {
        json_decref(pend);
        json_decref(d);
        return NULL;
    }
    json_object_del(d, "by");
    json_object_del(d, "handover");
    json_object_del(d, "withdrawals");
    json_object_set_new(d, "sending_case", pl_node_json_hex(cid, S_ID));
    json_object_set_new(d, "pending_referrals", pend);
    // the assessments and the draft plan (DESIGN.md §7.2)
    json_t *cw = pl_casework_handover_out(txn, cid, rc);
    if (cw)
        json_object_set_new(d, "casework", cw);
    if (*rc != PL_OK) {
        json_decref(d);
        return NULL;
    }
    return d;
}

static char *
s_cmd_send(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
           int *rc_out)
{
    const char *to = pl_case_arg(args, "to"),
               *arrival = pl_case_arg(args, "arrival"),
               *consent = pl_case_arg(args, "consent_transfer"),
               *escort = pl_case_arg(args, "escort"),
               *note = pl_case_arg(args, "note"),
               *bid_ref = pl_case_arg(args, "bid_ref"),
               *bid_date = pl_case_arg(args, "bid_date"),
               *bid_out = pl_case_arg(args, "bid_outcome");
    uint64_t now = pl_now(), t_arr = 0, t_bid = 0;
    *rc_out = PL_EINVAL;
    if (!to || !pl_address_valid(to))
        return pl_node_ctl_error(PL_EINVAL, "handover needs --to ADDRESS");
    if (!consent || strcmp(consent, "yes") != 0)
        return pl_node_ctl_error(
            PL_EINVAL, "handover needs --consent-transfer yes: the recorded, "
                       "explicit consent (of the returnee, or the guardian "
                       "for a child) to transfer the case across the border");
    if (!arrival || pl_date_parse(arrival, &t_arr) != PL_OK
        || t_arr + S_DAY <= now)
        return pl_node_ctl_error(PL_EINVAL,
                                 "handover needs --arrival YYYY-MM-DD, today "
                                 "or later");
    if ((escort && strlen(escort) > 200)
        || (note && strlen(note) > PL_CASE_TEXT)
        || (bid_ref && strlen(bid_ref) > 128))
        return pl_node_ctl_error(PL_EINVAL, "a value is too long");
    uint8_t cid[S_ID];
    pl_sealed_t cs = PL_SEALED_INIT;
    char *reply =
        pl_case_open(txn, pl_case_arg(args, "case"), cid, &cs, rc_out);
    if (reply)
        return reply;
    int code = PL_ESTATE;
    const pl_cert_t *peer = NULL;
    int why = PL_ENOTFOUND;
    if (pl_case_u64(cs.doc, "closed"))
        reply = pl_node_ctl_error(code, "the case is closed");
    else if (pl_case_str(cs.doc, "handover"))
        reply = pl_node_ctl_error(code,
                                  "the case is already being handed over "
                                  "(handover %s)",
                                  pl_case_str(cs.doc, "handover"));
    else if (strcmp(to, ctx->me->address) == 0)
        reply = pl_node_ctl_error(code = PL_EINVAL,
                                  "a case is handed over to another node");
    else if (!(peer = pl_ctx_dir_find(ctx, to, &why)))
        reply = pl_case_outbox_error(ctx, code = why, to);
    else if (strcmp(peer->sector, "agency") != 0)
        reply = pl_node_ctl_error(code = PL_EINVAL,
                                  "%s is a %s node: a case is handed over to "
                                  "an agency node",
                                  to, peer->sector);
    if (reply) {
        *rc_out = code;
        pl_sealed_release(&cs);
        return reply;
    }
    bool child = pl_case_str(cs.doc, "uasc")
                 || s_minor(pl_case_str(cs.doc, "birth"), now);
    if (child) {
        const char *what = NULL;
        if (!bid_ref || !bid_date)
            what = "no best-interests determination given";
        else if (pl_date_parse(bid_date, &t_bid) != PL_OK || t_bid > now)
            what = "the determination's date must be a past date";
        else if (!bid_out
                 || (strcmp(bid_out, "return") != 0
                     && strcmp(bid_out, "reunification") != 0))
            what = "the determination must recommend return or "
                   "reunification";
        if (what) {
            pl_sealed_release(&cs);
            return s_refuse_child(ctx, txn, cid, to, as, what, rc_out);
        }
    }
    uint8_t hid[S_ID], msgid[PL_MSG_ID_BYTES];
    pl_random(hid, sizeof hid);
    int cd_rc;
    json_t *cd = s_case_data(txn, cid, cs.doc, &cd_rc);
    char *cd_text = cd ? pl_case_dump(cd) : NULL;
    json_decref(cd);
    if (cd && !cd_text)
        cd_rc = PL_ENOMEM;
    Passerelle__V1__Handover hm = PASSERELLE__V1__HANDOVER__INIT;
    Passerelle__V1__HandoverPackage p = PASSERELLE__V1__HANDOVER_PACKAGE__INIT;
    hm.handover_id.data = hid;
    hm.handover_id.len = S_ID;
    hm.at = now;
    hm.by = (char *) pl_case_by(as);
    hm.what_case = PASSERELLE__V1__HANDOVER__WHAT_PACKAGE;
    hm.package = &p;
    p.case_data.data = (uint8_t *) cd_text;
    p.case_data.len = cd_text ? strlen(cd_text) : 0;
    p.consent_transfer = true;
    p.legal_basis = "consent";
    p.arrival = (char *) arrival;
    p.escort = (char *) escort;
    p.note = (char *) note;
    p.has_child = true;
    p.child = child;
    p.uasc = (char *) pl_case_str(cs.doc, "uasc");
    if (child) {
        p.bid_ref = (char *) bid_ref;
        p.bid_date = (char *) bid_date;
        p.bid_outcome = (char *) bid_out;
    }
    p.sending_country = (char *) ctx->me->country;
    if (!cd_text) {
        pl_sealed_release(&cs);
        *rc_out = cd_rc;
        return pl_node_ctl_error(cd_rc,
                                 "cannot read the case's referrals or "
                                 "casework for the package: %s; nothing was "
                                 "sent",
                                 pl_strerror(cd_rc));
    }
    int rc = s_send(ctx, txn, to, &hm, "handover-send", child ? "child" : NULL,
                    msgid);
    pl_case_wipe_free(cd_text);
    if (rc != PL_OK) {
        pl_sealed_release(&cs);
        *rc_out = rc;
        return pl_case_outbox_error(ctx, rc, to);
    }
    // the host's record: sealed under a key of its own
    char chex[2 * S_ID + 1], hhex[2 * S_ID + 1];
    pl_hex(chex, cid, S_ID);
    pl_hex(hhex, hid, S_ID);
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:I, s:s, s:b, s:I}", "dir", "out", "peer",
                  to, "case", chex, "created", (json_int_t) now, "arrival",
                  arrival, "child", child, "myseq", (json_int_t) 0);
    if (escort)
        json_object_set_new(doc, "escort", json_string(escort));
    if (child)
        json_object_set_new(doc, "bid",
                            json_pack("{s:s, s:s, s:s}", "ref", bid_ref, "date",
                                      bid_date, "outcome", bid_out));
    pl_handover_track_t t;
    pl_handover_track_init(&t, PL_HSIDE_SENDER);
    s_track_set(doc, &t);
    s_history(doc, "sent", now, pl_case_by(as), NULL, note, NULL, NULL);
    pl_sealed_t hs = {.hdr = {PL_SEALED_VER}, .doc = doc};
    rc = pl_store_datakey_new(txn, hs.hdr + 1, hs.dk);
    if (rc == PL_OK)
        rc = s_save(txn, hid, &hs);
    pl_sealed_release(&hs);
    json_object_set_new(cs.doc, "handover", json_string(hhex));
    if (rc == PL_OK)
        rc = pl_sealed_save(&cs, txn, PL_DB_CASES, cid, S_ID);
    pl_sealed_release(&cs);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the handover: %s",
                                 pl_strerror(rc));
    pl_log_info(ctx->log, "handover_sent id=%s to=%s child=%s", hhex, to,
                child ? "yes" : "no");
    return pl_node_ctl_ok(
        json_pack("{s:s, s:s, s:s}", "id", hhex, "status", "sent", "to", to));
}

// ---- steps made here: handover ack|accept|reject|arrived|no-show|withdraw

static char *
s_cmd_act(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
          int *rc_out)
{
    const char *evs = pl_case_arg(args, "event"),
               *reason = pl_case_arg(args, "reason"),
               *note = pl_case_arg(args, "note");
    pl_handover_event_t ev;
    *rc_out = PL_EINVAL;
    if (pl_handover_event_parse(evs, &ev) != PL_OK)
        return pl_node_ctl_error(PL_EINVAL,
                                 "handover: unknown step '%s' (ack, accept, "
                                 "reject, arrived, no-show, withdraw)",
                                 evs ? evs : "");
    if (pl_handover_event_needs_reason(ev)
        && (!reason || !pl_slug_valid(reason)))
        return pl_node_ctl_error(PL_EINVAL,
                                 "handover %s needs --reason CODE (a-z, 0-9, "
                                 "-)",
                                 evs);
    if (!pl_handover_event_needs_reason(ev))
        reason = NULL;
    if (note && strlen(note) > PL_CASE_TEXT)
        return pl_node_ctl_error(PL_EINVAL, "the note is too long");
    uint8_t hid[S_ID];
    char *reply = pl_case_resolve(txn, PL_DB_HANDOVERS, 'h', "handover",
                                  pl_case_arg(args, "id"), hid, rc_out);
    if (reply)
        return reply;
    pl_sealed_t hs = PL_SEALED_INIT;
    pl_handover_track_t t;
    int rc = s_open(txn, hid, &hs);
    if (rc == PL_OK)
        rc = s_track_get(hs.doc, &t);
    if (rc != PL_OK) {
        pl_sealed_release(&hs);
        *rc_out = rc;
        return pl_node_ctl_error(rc, "cannot read the handover: %s",
                                 pl_strerror(rc));
    }
    char hhex[2 * S_ID + 1], peer[PL_ADDRESS_MAX + 1];
    pl_hex(hhex, hid, S_ID);
    snprintf(peer, sizeof peer, "%s", pl_case_str(hs.doc, "peer"));
    pl_handover_state_t before = pl_handover_track_state(&t);
    pl_handover_result_t res = pl_handover_track_act(&t, ev);
    char text[320] = "";
    if (res != PL_HO_APPLIED)
        pl_handover_refusal_text(text, sizeof text, res, before, ev, t.me);
    else if (ev == PL_HE_ACCEPT
             && json_is_true(json_object_get(hs.doc, "child"))
             && !pl_case_u64(hs.doc, "cp_ack")) {
        // DESIGN.md §7.2: not before the region's child protection has
        // acknowledged the case
        const char *cp = pl_case_str(hs.doc, "cp");
        snprintf(text, sizeof text,
                 "handover: a child's handover cannot be accepted before the "
                 "child-protection node of the region (%s) has acknowledged "
                 "it (cp-ack)%s",
                 cp ? cp : ctx->me->region,
                 cp ? "" : "; none was found in the directory yet");
        res = PL_HO_REFUSED_STATE;
    }
    if (text[0]) {
        rc = s_audit(ctx, txn, PL_AUDIT_LOCAL, peer, NULL, NULL, as, hid, evs,
                     res == PL_HO_APPLIED ? "refused-cp-ack"
                                          : pl_handover_result_name(res),
                     reason);
        pl_sealed_release(&hs);
        *rc_out = rc; // the refusal is audited
        return pl_node_ctl_error(
            res == PL_HO_APPLIED ? PL_ESTATE : pl_handover_result_err(res),
            "%s", text);
    }
    uint64_t now = pl_now();
    pl_handover_state_t to = pl_handover_event_target(ev);
    rc = s_send_update(ctx, txn, hs.doc, hid, to, reason, note, pl_case_by(as),
                       now);
    if (rc != PL_OK) {
        pl_sealed_release(&hs);
        *rc_out = rc;
        return pl_case_outbox_error(ctx, rc, peer);
    }
    s_track_set(hs.doc, &t);
    s_history(hs.doc, pl_handover_state_name(to), now, pl_case_by(as), reason,
              note, NULL, NULL);
    char newcase[2 * S_ID + 1] = "";
    bool rekey = false;
    switch (ev) {
    case PL_HE_ACK:
        rc = s_cp_notify(ctx, txn, hs.doc, hid); // if it failed at arrival
        break;
    case PL_HE_ACCEPT:
        rc = s_case_from_package(ctx, txn, &hs, hid, as, newcase);
        rekey = true;
        break;
    case PL_HE_REJECT:
        json_object_del(hs.doc, "package");
        rekey = true;
        break;
    case PL_HE_WITHDRAW:
        rc = s_owner_stays(txn, hs.doc);
        break;
    default:
        break;
    }
    if (rc == PL_OK)
        rc = rekey ? s_rekey(txn, hid, &hs) : s_save(txn, hid, &hs);
    const char *status = pl_handover_state_name(pl_handover_track_state(&t));
    pl_sealed_release(&hs);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the step: %s",
                                 pl_strerror(rc));
    pl_log_info(ctx->log, "handover_step id=%s step=%s status=%s", hhex, evs,
                status);
    json_t *o = json_pack("{s:s, s:s}", "id", hhex, "status", status);
    if (newcase[0])
        json_object_set_new(o, "case", json_string(newcase));
    return pl_node_ctl_ok(o);
}

// ---- handover cp-ack H (the origin's child-protection node)

typedef struct {
    pl_txn_t *txn;
    const char *prefix; // lower-case hex
    size_t plen;
    int found;
    char id[2 * S_ID + 1];
    char from[PL_ADDRESS_MAX + 1];
} s_nfind_t;

static int
s_nfind_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v, (void) vl;
    s_nfind_t *f = arg;
    if (kl != 1 + PL_MSG_ID_BYTES || k[0] != 'n')
        return PL_STORE_NEXT;
    pl_buf_t b = {0};
    json_t *doc = NULL;
    json_error_t jerr;
    if (pl_store_get_secret(f->txn, PL_DB_REFERRALS, k, kl, &b) == PL_OK)
        doc = json_loadb((const char *) b.data, b.len, 0, &jerr);
    pl_buf_wipe(&b);
    const char *id = pl_case_str(doc, "referral");
    if (doc && s_is(doc, "kind", "handover") && id && strlen(id) == 2 * S_ID
        && strncmp(id, f->prefix, f->plen) == 0 && pl_case_str(doc, "from")) {
        if (!f->found || strcmp(f->id, id) != 0)
            f->found++;
        snprintf(f->id, sizeof f->id, "%s", id);
        snprintf(f->from, sizeof f->from, "%s", pl_case_str(doc, "from"));
    }
    json_decref(doc);
    return PL_STORE_NEXT;
}

static char *
s_cmd_cp_ack(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    *rc_out = PL_EINVAL;
    if (strcmp(ctx->me->sector, "child-protection") != 0) {
        *rc_out = PL_EPERM;
        return pl_node_ctl_error(PL_EPERM,
                                 "handover cp-ack is made at a "
                                 "child-protection node (this is a %s node)",
                                 ctx->me->sector);
    }
    const char *text = pl_case_arg(args, "id");
    char low[2 * S_ID + 1];
    size_t n = text ? strlen(text) : 0;
    if (n < 6 || n > 2 * S_ID)
        return pl_node_ctl_error(PL_EINVAL,
                                 "'%s' is not a handover id (6 to 32 hex "
                                 "digits)",
                                 text ? text : "");
    for (size_t i = 0; i <= n; i++)
        low[i] =
            (char) (text[i] >= 'A' && text[i] <= 'F' ? text[i] + 32 : text[i]);
    s_nfind_t f = {.txn = txn, .prefix = low, .plen = n};
    int rc = pl_store_each(txn, PL_DB_REFERRALS, s_nfind_one, &f);
    if (rc != PL_OK || f.found != 1) {
        *rc_out = rc != PL_OK ? rc : f.found ? PL_EINVAL : PL_ENOTFOUND;
        return pl_node_ctl_error(*rc_out,
                                 f.found > 1
                                     ? "'%s' names several handovers: give "
                                       "more digits"
                                     : "no handover notification '%s' on this "
                                       "node (see notifications)",
                                 text);
    }
    uint8_t hid[S_ID], ck[1 + S_ID];
    if (pl_unhex(hid, S_ID, f.id) != PL_OK)
        return pl_node_ctl_error(PL_EINVAL, "bad handover id");
    s_key(ck, 'c', hid);
    pl_buf_t b = {0};
    rc = pl_store_get_secret(txn, PL_DB_HANDOVERS, ck, sizeof ck, &b);
    pl_buf_wipe(&b);
    if (rc == PL_OK) {
        *rc_out = PL_ESTATE;
        return pl_node_ctl_error(PL_ESTATE,
                                 "handover %s is already acknowledged", f.id);
    }
    uint64_t now = pl_now();
    Passerelle__V1__Handover hm = PASSERELLE__V1__HANDOVER__INIT;
    Passerelle__V1__HandoverCpAck a = PASSERELLE__V1__HANDOVER_CP_ACK__INIT;
    hm.handover_id.data = hid;
    hm.handover_id.len = S_ID;
    hm.at = now;
    hm.by = (char *) pl_case_by(as);
    hm.what_case = PASSERELLE__V1__HANDOVER__WHAT_CP_ACK;
    hm.cp_ack = &a;
    a.region = (char *) ctx->me->region;
    uint8_t msgid[PL_MSG_ID_BYTES];
    rc = s_send(ctx, txn, f.from, &hm, "cp-ack", NULL, msgid);
    if (rc != PL_OK) {
        *rc_out = rc;
        return pl_case_outbox_error(ctx, rc, f.from);
    }
    json_t *rec = json_pack("{s:s, s:I}", "to", f.from, "at", (json_int_t) now);
    char *rtext = rec ? pl_case_dump(rec) : NULL;
    json_decref(rec);
    rc = rtext ? pl_store_put_secret(txn, PL_DB_HANDOVERS, ck, sizeof ck, rtext,
                                     strlen(rtext))
               : PL_ENOMEM;
    free(rtext);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store: %s", pl_strerror(rc));
    pl_log_info(ctx->log, "handover_cp_ack id=%s to=%s", f.id, f.from);
    return pl_node_ctl_ok(json_pack("{s:s, s:s, s:s}", "id", f.id, "status",
                                    "cp-acknowledged", "to", f.from));
}

// ---- handovers, handover show

static json_t *
s_summary(const uint8_t hid[S_ID], const json_t *doc)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", pl_node_json_hex(hid, S_ID));
    json_object_set_new(o, "direction",
                        json_string(s_is(doc, "dir", "out") ? "out" : "in"));
    json_object_set_new(o, "peer", json_string(pl_case_str(doc, "peer")));
    json_object_set_new(o, "status", json_string(pl_case_str(doc, "status")));
    json_object_set_new(
        o, "child", json_boolean(json_is_true(json_object_get(doc, "child"))));
    if (pl_case_str(doc, "arrival"))
        json_object_set_new(o, "arrival",
                            json_string(pl_case_str(doc, "arrival")));
    json_object_set_new(o, "created",
                        pl_node_json_time(pl_case_u64(doc, "created")));
    json_object_set_new(o, "updated",
                        pl_node_json_time(pl_case_u64(doc, "updated")));
    if (pl_case_str(doc, "case"))
        json_object_set_new(o, "case", json_string(pl_case_str(doc, "case")));
    static const char *const times[] = {"accepted_at", "purge_after", "purged",
                                        "cp_notified", "cp_ack"};
    for (size_t i = 0; i < sizeof times / sizeof *times; i++)
        if (pl_case_u64(doc, times[i]))
            json_object_set_new(o, times[i],
                                pl_node_json_time(pl_case_u64(doc, times[i])));
    if (pl_case_str(doc, "cp"))
        json_object_set_new(o, "cp", json_string(pl_case_str(doc, "cp")));
    return o;
}

typedef struct {
    pl_txn_t *txn;
    const char *direction, *status;
    json_t *out;
} s_walk_t;

static int
s_list_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v, (void) vl;
    s_walk_t *w = arg;
    if (kl != 1 + S_ID || k[0] != 'h')
        return PL_STORE_NEXT;
    pl_sealed_t s = PL_SEALED_INIT;
    if (pl_sealed_open(&s, w->txn, PL_DB_HANDOVERS, k, kl, NULL) != PL_OK)
        return PL_STORE_NEXT;
    json_t *o = s_summary(k + 1, s.doc);
    pl_sealed_release(&s);
    if ((w->direction && strcmp(w->direction, pl_case_str(o, "direction")) != 0)
        || (w->status && strcmp(w->status, pl_case_str(o, "status")) != 0))
        json_decref(o);
    else
        json_array_append_new(w->out, o);
    return PL_STORE_NEXT;
}

static char *
s_cmd_list(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
           int *rc_out)
{
    (void) ctx, (void) as, (void) rc_out;
    s_walk_t w = {txn, pl_case_arg(args, "direction"),
                  pl_case_arg(args, "status"), json_array()};
    pl_handover_state_t st;
    if (w.status && pl_handover_state_parse(w.status, &st) != PL_OK) {
        json_decref(w.out);
        return pl_node_ctl_error(PL_EINVAL, "unknown handover status '%s'",
                                 w.status);
    }
    int rc = pl_store_each(txn, PL_DB_HANDOVERS, s_list_one, &w);
    if (rc != PL_OK) {
        json_decref(w.out);
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(w.out);
}

static char *
s_cmd_show(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
           int *rc_out)
{
    (void) ctx, (void) as;
    uint8_t hid[S_ID];
    char *reply = pl_case_resolve(txn, PL_DB_HANDOVERS, 'h', "handover",
                                  pl_case_arg(args, "id"), hid, rc_out);
    if (reply)
        return reply;
    pl_sealed_t s = PL_SEALED_INIT;
    int rc = s_open(txn, hid, &s);
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot read the handover: %s",
                                 pl_strerror(rc));
    json_t *o = s_summary(hid, s.doc);
    json_object_set(o, "history", json_object_get(s.doc, "history"));
    static const char *const extra[] = {"escort", "bid"};
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
        if (json_object_get(s.doc, extra[i]))
            json_object_set(o, extra[i], json_object_get(s.doc, extra[i]));
    json_t *pkg = json_object_get(s.doc, "package");
    if (pkg) { // the receiving side, until it decides: what it was sent
        json_t *cd = json_object_get(pkg, "case");
        json_t *person = json_object();
        static const char *const pk[] = {"given", "family", "birth",
                                         "sex",   "phone",  "language"};
        for (size_t i = 0; i < sizeof pk / sizeof *pk; i++)
            if (json_object_get(cd, pk[i]))
                json_object_set(person, pk[i], json_object_get(cd, pk[i]));
        json_object_set_new(o, "person", person);
        static const char *const ck[] = {
            "uasc", "needs", "flags", "bia", "pending_referrals", "casework"};
        for (size_t i = 0; i < sizeof ck / sizeof *ck; i++)
            if (json_object_get(cd, ck[i]))
                json_object_set(o, ck[i], json_object_get(cd, ck[i]));
        static const char *const pkk[] = {"escort", "bid", "note",
                                          "sending_country", "legal_basis"};
        for (size_t i = 0; i < sizeof pkk / sizeof *pkk; i++)
            if (json_object_get(pkg, pkk[i]))
                json_object_set(o, pkk[i], json_object_get(pkg, pkk[i]));
        json_object_set_new(o, "consent_transfer", json_true());
    }
    pl_sealed_release(&s);
    return pl_node_ctl_ok(o);
}

// ---- inbound

// The package, at the receiving agency's node.
static int
s_on_package(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
             const uint8_t digest[PL_DIGEST_BYTES],
             const Passerelle__V1__Handover *hm)
{
    const uint8_t *hid = hm->handover_id.data;
    const Passerelle__V1__HandoverPackage *p = hm->package;
    pl_sealed_t hs = PL_SEALED_INIT;
    int rc = s_open(txn, hid, &hs);
    pl_sealed_release(&hs);
    if (rc != PL_ENOTFOUND) { // the same handover id twice
        if (rc == PL_OK)
            rc = pl_case_shred_inbox(txn, h->id);
        return rc == PL_OK
                   ? s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                             NULL, hid, "handover-receive", "duplicate", NULL)
                   : rc;
    }
    // the recipient re-checks (DESIGN.md §6, as for referrals)
    json_error_t jerr;
    json_t *cd = json_loadb((const char *) p->case_data.data, p->case_data.len,
                            0, &jerr);
    uint64_t t;
    const char *why = NULL;
    if (strcmp(ctx->me->sector, "agency") != 0)
        why = "not-an-agency";
    else if (!json_is_object(cd))
        why = "malformed-package";
    else if (!p->consent_transfer)
        why = "no-consent-to-transfer";
    else if (pl_date_parse(p->arrival, &t) != PL_OK)
        why = "malformed-package";
    else if (p->has_child && p->child
             && (!p->bid_ref || !p->bid_date || !p->bid_outcome
                 || pl_date_parse(p->bid_date, &t) != PL_OK
                 || (strcmp(p->bid_outcome, "return") != 0
                     && strcmp(p->bid_outcome, "reunification") != 0)))
        why = "child-rules";
    uint64_t now = pl_now();
    json_t *doc =
        json_pack("{s:s, s:s, s:I, s:s, s:b, s:I, s:I}", "dir", "in", "peer",
                  h->from, "created", (json_int_t) now, "arrival", p->arrival,
                  "child", p->has_child && p->child, "myseq", (json_int_t) 0,
                  "rseq", (json_int_t) 0);
    if (!doc) {
        json_decref(cd);
        return PL_ENOMEM;
    }
    pl_handover_track_t tr;
    pl_handover_track_init(&tr, PL_HSIDE_RECIPIENT);
    s_track_set(doc, &tr);
    s_history(doc, "sent", hm->at, hm->by, NULL, NULL, NULL, NULL);
    if (!why) {
        json_t *pkg = json_pack("{s:o, s:s, s:s}", "case", cd, "arrival",
                                p->arrival, "legal_basis", p->legal_basis);
        cd = NULL;
        if (p->escort)
            json_object_set_new(pkg, "escort", json_string(p->escort));
        if (p->note)
            json_object_set_new(pkg, "note", json_string(p->note));
        if (p->sending_country)
            json_object_set_new(pkg, "sending_country",
                                json_string(p->sending_country));
        if (p->bid_ref)
            json_object_set_new(pkg, "bid",
                                json_pack("{s:s, s:s, s:s}", "ref", p->bid_ref,
                                          "date", p->bid_date, "outcome",
                                          p->bid_outcome));
        json_object_set_new(doc, "package", pkg);
        if (p->escort)
            json_object_set_new(doc, "escort", json_string(p->escort));
    }
    json_decref(cd);
    pl_sealed_t s = {.hdr = {PL_SEALED_VER}, .doc = doc};
    rc = pl_store_datakey_new(txn, s.hdr + 1, s.dk);
    // the package now lives in the record only: the inbox copy is shredded
    if (rc == PL_OK)
        rc = pl_case_shred_inbox(txn, h->id);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest, hm->by, hid,
                     "handover-receive", why ? "refused" : "applied", why);
    if (rc == PL_OK && !why)
        rc = s_cp_notify(ctx, txn, s.doc, hid);
    if (rc == PL_OK && why) { // refused: acknowledged and rejected at once,
                              // so that the sender's loop closes
        pl_handover_track_act(&tr, PL_HE_ACK);
        pl_handover_track_act(&tr, PL_HE_REJECT);
        rc = s_send_update(ctx, txn, s.doc, hid, PL_HS_ACKNOWLEDGED, NULL, NULL,
                           PL_CASE_SYSTEM, now);
        if (rc == PL_OK)
            rc = s_send_update(ctx, txn, s.doc, hid, PL_HS_REJECTED, why, NULL,
                               PL_CASE_SYSTEM, now);
        s_track_set(s.doc, &tr);
        s_history(s.doc, "rejected", now, PL_CASE_SYSTEM, why, NULL, NULL,
                  NULL);
    }
    if (rc == PL_OK)
        rc = s_save(txn, hid, &s);
    pl_sealed_release(&s);
    char hex[2 * S_ID + 1];
    pl_hex(hex, hid, S_ID);
    if (rc == PL_OK)
        pl_log_info(ctx->log, "handover_received id=%s from=%s result=%s", hex,
                    h->from, why ? why : "applied");
    return rc;
}

// Drops the free text (notes) from a record's history.
static void
s_strip_notes(json_t *doc)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "history"), i, e)
        json_object_del(e, "note");
}

// Effects of a step of the other side that was taken.
static int
s_remote_effect(pl_node_ctx_t *ctx, pl_txn_t *txn, pl_sealed_t *hs,
                const uint8_t hid[S_ID], pl_handover_event_t ev,
                pl_handover_result_t res, const pl_handover_track_t *t,
                bool *rekey)
{
    if (t->me == PL_HSIDE_SENDER) {
        bool moved = (ev == PL_HE_ACCEPT && res == PL_HO_APPLIED)
                     || (res == PL_HO_WITHDRAW_TOO_LATE
                         && (ev == PL_HE_ARRIVED || ev == PL_HE_NO_SHOW));
        if (moved)
            return s_owner_moved(ctx, txn, hs->doc);
        if (ev == PL_HE_REJECT && res == PL_HO_APPLIED)
            return s_owner_stays(txn, hs->doc);
        return PL_OK;
    }
    if (ev != PL_HE_WITHDRAW || res != PL_HO_APPLIED)
        return PL_OK;
    // the sender withdrew: what this node holds of the case goes
    *rekey = true;
    json_object_del(hs->doc, "package");
    json_object_del(hs->doc, "escort");
    s_strip_notes(hs->doc);
    const char *c = pl_case_str(hs->doc, "case");
    if (!c)
        return PL_OK;
    char hex[2 * S_ID + 1];
    snprintf(hex, sizeof hex, "%s", c);
    int rc = s_erase_case(ctx, txn, hex);
    if (rc == PL_ESTATE) { // it has open referrals of its own: kept
        char hh[2 * S_ID + 1];
        pl_hex(hh, hid, S_ID);
        pl_log_warn(ctx->log,
                    "handover_withdrawn_case_kept id=%s case=%s "
                    "reason=open-referrals",
                    hh, hex);
        return PL_OK;
    }
    return rc;
}

// One update of the other side, in its author's order.
static int
s_apply_one(pl_node_ctx_t *ctx, pl_txn_t *txn, pl_sealed_t *hs,
            const uint8_t hid[S_ID], pl_handover_track_t *t, const json_t *u,
            const uint8_t *msgid, const uint8_t *digest, bool *rekey)
{
    pl_handover_state_t to;
    pl_handover_event_t ev;
    const char *status = pl_case_str(u, "status"),
               *reason = pl_case_str(u, "reason"),
               *note = pl_case_str(u, "note"), *by = pl_case_str(u, "by");
    const char *peer = pl_case_str(hs->doc, "peer");
    pl_handover_result_t res = PL_HO_REFUSED_STATE;
    if (pl_handover_state_parse(status, &to) == PL_OK
        && pl_handover_event_of(to, &ev) == PL_OK)
        res = pl_handover_track_apply(
            t, ev,
            t->me == PL_HSIDE_SENDER ? PL_HSIDE_RECIPIENT : PL_HSIDE_SENDER);
    s_set_u64(hs->doc, "rseq", pl_case_u64(u, "seq"));
    int rc =
        s_audit(ctx, txn, PL_AUDIT_IN, peer, msgid, digest, by, hid,
                status ? status : "?", pl_handover_result_name(res), reason);
    if (rc != PL_OK || pl_handover_result_refused(res)) {
        pl_log_warn(ctx->log, "handover_update_refused status=%s result=%s",
                    status ? status : "?", pl_handover_result_name(res));
        return rc;
    }
    s_history(hs->doc, status, pl_case_u64(u, "at"), by, reason, note, NULL,
              res == PL_HO_APPLIED ? NULL : pl_handover_result_name(res));
    s_track_set(hs->doc, t);
    return s_remote_effect(ctx, txn, hs, hid, ev, res, t, rekey);
}

static json_t *
s_update_doc(const Passerelle__V1__Handover *hm)
{
    const Passerelle__V1__HandoverUpdate *u = hm->update;
    json_t *o = json_pack("{s:I, s:s, s:I}", "seq", (json_int_t) u->seq,
                          "status", u->status, "at", (json_int_t) hm->at);
    if (o && u->reason)
        json_object_set_new(o, "reason", json_string(u->reason));
    if (o && u->note)
        json_object_set_new(o, "note", json_string(u->note));
    if (o && hm->by)
        json_object_set_new(o, "by", json_string(hm->by));
    return o;
}

static int
s_on_update(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
            const uint8_t digest[PL_DIGEST_BYTES],
            const Passerelle__V1__Handover *hm, pl_sealed_t *hs)
{
    const uint8_t *hid = hm->handover_id.data;
    pl_handover_track_t t;
    int rc = s_track_get(hs->doc, &t);
    if (rc != PL_OK)
        return rc;
    // its note now lives in the record only: the inbox copy is shredded
    rc = pl_case_shred_inbox(txn, h->id);
    if (rc != PL_OK)
        return rc;
    uint64_t rseq = pl_case_u64(hs->doc, "rseq");
    json_t *u = s_update_doc(hm);
    if (!u)
        return PL_ENOMEM;
    json_t *pend = json_object_get(hs->doc, "pending");
    if (hm->update->seq <= rseq) {
        json_decref(u);
        return s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest, hm->by,
                       hid, hm->update->status, "duplicate", NULL);
    }
    bool rekey = false;
    if (hm->update->seq > rseq + 1) { // an earlier one is still on its way
        if (!pend) {
            pend = json_array();
            json_object_set_new(hs->doc, "pending", pend);
        }
        if (json_array_size(pend) >= S_PENDING) {
            json_decref(u);
            return s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                           hm->by, hid, hm->update->status, "refused-too-early",
                           NULL);
        }
        json_array_append_new(pend, u);
        rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest, hm->by, hid,
                     hm->update->status, "buffered", NULL);
        return rc == PL_OK ? s_save(txn, hid, hs) : rc;
    }
    rc = s_apply_one(ctx, txn, hs, hid, &t, u, h->id, digest, &rekey);
    json_decref(u);
    // then every buffered update whose turn came
    for (bool more = true; rc == PL_OK && more && pend;) {
        more = false;
        size_t i;
        json_t *e;
        json_array_foreach(pend, i, e)
        {
            if (pl_case_u64(e, "seq") != pl_case_u64(hs->doc, "rseq") + 1)
                continue;
            json_incref(e);
            json_array_remove(pend, i);
            rc = s_apply_one(ctx, txn, hs, hid, &t, e, NULL, NULL, &rekey);
            json_decref(e);
            more = true;
            break;
        }
    }
    if (rc == PL_OK)
        rc = rekey ? s_rekey(txn, hid, hs) : s_save(txn, hid, hs);
    return rc;
}

static int
s_on_cp_ack(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
            const uint8_t digest[PL_DIGEST_BYTES],
            const Passerelle__V1__Handover *hm, pl_sealed_t *hs)
{
    const uint8_t *hid = hm->handover_id.data;
    const char *why = NULL;
    if (!s_is(hs->doc, "dir", "in") || !pl_case_str(hs->doc, "cp"))
        why = "not-notified";
    else if (strcmp(pl_case_str(hs->doc, "cp"), h->from) != 0)
        why = "not-the-notified-node";
    else if (pl_case_u64(hs->doc, "cp_ack"))
        why = "duplicate";
    int rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest, hm->by, hid,
                     "cp-ack", why ? "refused" : "applied", why);
    if (rc != PL_OK || why)
        return rc;
    s_set_u64(hs->doc, "cp_ack", hm->at ? hm->at : pl_now());
    s_history(hs->doc, "cp-ack", hm->at, hm->by, NULL, NULL, NULL, NULL);
    json_object_set_new(hs->doc, "cp_ack_by", json_string(h->from));
    // pl_case_history moved "updated"; the status stays
    pl_log_info(ctx->log, "handover_cp_ack_received from=%s", h->from);
    return s_save(txn, hid, hs);
}

int
pl_handover_on_msg(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
                   const uint8_t digest[PL_DIGEST_BYTES],
                   const Passerelle__V1__Handover *m)
{
    if (m->handover_id.len != S_ID
        || (m->what_case == PASSERELLE__V1__HANDOVER__WHAT_PACKAGE
            && !m->package)) {
        pl_log_warn(ctx->log, "handover_refused from=%s reason=malformed",
                    h->from);
        return pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                             "handover", NULL, NULL, "handover", "refused",
                             "malformed");
    }
    if (m->what_case == PASSERELLE__V1__HANDOVER__WHAT_PACKAGE)
        return s_on_package(ctx, txn, h, digest, m);
    const uint8_t *hid = m->handover_id.data;
    pl_sealed_t hs = PL_SEALED_INIT;
    int rc = s_open(txn, hid, &hs);
    if (rc == PL_ENOTFOUND
        || (rc == PL_OK && m->what_case == PASSERELLE__V1__HANDOVER__WHAT_UPDATE
            && strcmp(pl_case_str(hs.doc, "peer"), h->from) != 0)) {
        pl_sealed_release(&hs);
        if (rc == PL_OK)
            pl_log_error(ctx->log,
                         "attack reason=handover_update_from_wrong_node "
                         "from=%s",
                         h->from);
        return s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest, m->by,
                       hid, "handover-update", "refused",
                       rc == PL_OK ? "wrong-peer" : "unknown-handover");
    }
    if (rc == PL_OK) {
        if (m->what_case == PASSERELLE__V1__HANDOVER__WHAT_UPDATE && m->update)
            rc = s_on_update(ctx, txn, h, digest, m, &hs);
        else if (m->what_case == PASSERELLE__V1__HANDOVER__WHAT_CP_ACK)
            rc = s_on_cp_ack(ctx, txn, h, digest, m, &hs);
        else
            rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest, m->by,
                         hid, "handover", "refused", "malformed");
    }
    pl_sealed_release(&hs);
    return rc;
}

// ---- the purge (host node), after --handover-keep-days

typedef struct {
    pl_txn_t *txn;
    uint64_t now;
    uint8_t (*ids)[S_ID];
    size_t n, cap;
} s_due_t;

static int
s_due_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v, (void) vl;
    s_due_t *d = arg;
    if (kl != 1 + S_ID || k[0] != 'h')
        return PL_STORE_NEXT;
    pl_sealed_t s = PL_SEALED_INIT;
    if (pl_sealed_open(&s, d->txn, PL_DB_HANDOVERS, k, kl, NULL) != PL_OK)
        return PL_STORE_NEXT;
    uint64_t after = pl_case_u64(s.doc, "purge_after");
    bool due = s_is(s.doc, "dir", "out") && after && after <= d->now
               && !pl_case_u64(s.doc, "purged")
               && !s_is(s.doc, "status", "withdrawn");
    pl_sealed_release(&s);
    if (!due)
        return PL_STORE_NEXT;
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 8;
        void *p = realloc(d->ids, cap * sizeof *d->ids);
        if (!p)
            return PL_ENOMEM;
        d->ids = p;
        d->cap = cap;
    }
    memcpy(d->ids[d->n++], k + 1, S_ID);
    return PL_STORE_NEXT;
}

// The minimal record the host keeps: handover id (the key), peer, dates,
// states (DESIGN.md §7.2). No case id, no note, no staff name.
static json_t *
s_minimal(const json_t *doc, uint64_t now)
{
    json_t *m = json_object();
    static const char *const keep[] = {
        "dir",         "peer",      "created",    "updated", "status",
        "rstate",      "withdrawn", "late",       "myseq",   "rseq",
        "accepted_at", "arrival",   "purge_after"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        if (json_object_get(doc, keep[i]))
            json_object_set(m, keep[i], json_object_get(doc, keep[i]));
    json_t *h = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "history"), i, e)
    {
        json_t *x =
            json_pack("{s:O, s:O}", "status", json_object_get(e, "status"),
                      "at", json_object_get(e, "at"));
        if (x && json_object_get(e, "result"))
            json_object_set(x, "result", json_object_get(e, "result"));
        json_array_append_new(h, x);
    }
    json_object_set_new(m, "history", h);
    s_set_u64(m, "purged", now);
    return m;
}

static int
s_purge_one(pl_node_ctx_t *ctx, pl_txn_t *txn, const uint8_t hid[S_ID],
            uint64_t now)
{
    pl_sealed_t hs = PL_SEALED_INIT;
    int rc = s_open(txn, hid, &hs);
    if (rc != PL_OK)
        return rc;
    const char *c = pl_case_str(hs.doc, "case");
    char hex[2 * S_ID + 1] = "";
    if (c)
        snprintf(hex, sizeof hex, "%s", c);
    uint8_t cid[S_ID];
    pl_sealed_t cs = PL_SEALED_INIT;
    int crc;
    char *err = hex[0] ? pl_case_open(txn, hex, cid, &cs, &crc) : NULL;
    pl_sealed_release(&cs);
    free(err);
    if (hex[0] && !err) {
        rc = s_erase_case(ctx, txn, hex);
        if (rc == PL_ESTATE) { // the host still has duties (open referrals)
            if (!json_is_true(json_object_get(hs.doc, "purge_blocked"))) {
                pl_log_warn(ctx->log,
                            "handover_purge_postponed reason=open-referrals "
                            "case=%s",
                            hex);
                json_object_set_new(hs.doc, "purge_blocked", json_true());
                rc = s_save(txn, hid, &hs);
            } else {
                rc = PL_OK;
            }
            pl_sealed_release(&hs);
            return rc;
        }
    }
    if (rc == PL_OK) {
        json_t *m = s_minimal(hs.doc, now);
        json_decref(hs.doc);
        hs.doc = m;
        rc = s_rekey(txn, hid, &hs);
    }
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_LOCAL, pl_case_str(hs.doc, "peer"),
                     NULL, NULL, PL_CASE_SYSTEM, hid, "handover-purge",
                     "applied", NULL);
    pl_sealed_release(&hs);
    if (rc == PL_OK) {
        char hh[2 * S_ID + 1];
        pl_hex(hh, hid, S_ID);
        pl_log_info(ctx->log, "handover_purged id=%s", hh);
    }
    return rc;
}

void
pl_handover_sweep(pl_node_ctx_t *ctx)
{
    pl_txn_t *txn = NULL;
    if (pl_store_begin(ctx->store, NULL, true, &txn) != PL_OK)
        return;
    s_due_t d = {.txn = txn, .now = pl_now()};
    int rc = pl_store_each(txn, PL_DB_HANDOVERS, s_due_one, &d);
    for (size_t i = 0; rc == PL_OK && i < d.n; i++) {
        pl_txn_t *c = NULL;
        rc = pl_store_begin(ctx->store, txn, true, &c);
        if (rc != PL_OK)
            break;
        int prc = s_purge_one(ctx, c, d.ids[i], d.now);
        if (prc == PL_OK)
            rc = pl_store_commit(&c);
        else
            pl_store_abort(&c);
    }
    free(d.ids);
    if (rc == PL_OK && d.n)
        rc = pl_store_commit(&txn);
    else
        pl_store_abort(&txn);
    if (rc != PL_OK)
        pl_log_warn(ctx->log, "handover_sweep_failed err=%s", pl_strerror(rc));
}

// ---- the rows and the daemon adapters

const pl_ctl_cmd_t pl_handover_cmds[] = {
    {"handover", PL_CTL_CHANGES, s_cmd_send},
    {"handovers", 0, s_cmd_list},
    {"handover.show", 0, s_cmd_show},
    {"handover.act", PL_CTL_CHANGES, s_cmd_act},
    {"handover.cp-ack", PL_CTL_CHANGES, s_cmd_cp_ack},
    {NULL, 0, NULL},
};

int
pl_node_handover_on_msg(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
                        const pl_cert_t *cert,
                        const uint8_t digest[PL_DIGEST_BYTES],
                        const pl_message_t *m, bool *refused)
{
    (void) cert, (void) refused;
    pl_node_ctx_t ctx = pl_node_ctx(self);
    return pl_handover_on_msg(&ctx, txn, h, digest, m->handover);
}

void
pl_node_handover_sweep(pl_node_t *self)
{
    pl_node_ctx_t ctx = pl_node_ctx(self);
    pl_handover_sweep(&ctx);
}
