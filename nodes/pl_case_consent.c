// pl_case_consent - the consent room: consent add and withdraw, the
// withdrawal fan-out to recipients, erasure confirmations, child-
// protection notifications (DESIGN.md §6; issue 8). Layer: nodes,
// handlers. The gate itself is pl_consent.c.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_records.h"
#include "proto/pl_crypto.h"

static int s_withdraw_referrals(pl_node_ctx_t *ctx, pl_txn_t *txn,
                                const uint8_t case_id[PL_CASE_ID],
                                pl_case_rec_t *cr, const char *as,
                                size_t *ncancelled, json_t *holders);

char *
pl_case_consent_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                    const char *as, int *rc_out)
{
    uint8_t case_id[PL_CASE_ID];
    pl_sealed_t cs = PL_SEALED_INIT; // the case: its key seals the consent
    char *err =
        pl_case_open(txn, pl_case_arg(args, "case"), case_id, &cs, rc_out);
    if (err)
        return err;
    *rc_out = PL_EINVAL;
    pl_consent_t rec;
    memset(&rec, 0, sizeof rec);
    char msg[PL_CONSENT_TEXT_MAX];
    const char *sectors = pl_case_arg(args, "sectors");
    const char *purpose = pl_case_arg(args, "purpose");
    const char *given_by = pl_case_arg(args, "given_by");
    const char *gname = pl_case_arg(args, "guardian_name");
    const char *views = pl_case_arg(args, "child_views");
    const char *expires = pl_case_arg(args, "expires");
    uint64_t now = pl_now();
    char *reply = NULL;
    if (!sectors || !given_by || !expires)
        reply = pl_node_ctl_error(PL_EINVAL, "consent: sectors, given_by and "
                                             "expires are required");
    else if (pl_consent_set_sectors(&rec, sectors, msg, sizeof msg) != PL_OK
             || pl_consent_set_purposes(&rec, purpose ? purpose : "services",
                                        msg, sizeof msg)
                    != PL_OK)
        reply = pl_node_ctl_error(PL_EINVAL, "%s", msg);
    else if (pl_consent_giver_parse(given_by, &rec.given_by) != PL_OK)
        reply = pl_node_ctl_error(PL_EINVAL,
                                  "consent: given-by must be returnee or "
                                  "guardian");
    else if (pl_consent_expiry_parse(expires, &rec.expires_at) != PL_OK)
        reply = pl_node_ctl_error(PL_EINVAL, "consent: expires must be a date "
                                             "YYYY-MM-DD");
    else if ((gname && strlen(gname) > PL_CONSENT_NAME_MAX)
             || (views && strlen(views) > PL_CONSENT_VIEWS_MAX))
        reply = pl_node_ctl_error(PL_EINVAL,
                                  "consent: guardian name or child views too "
                                  "long");
    if (!reply) {
        if (gname)
            snprintf(rec.guardian_name, sizeof rec.guardian_name, "%s", gname);
        if (views)
            snprintf(rec.child_views, sizeof rec.child_views, "%s", views);
        rec.created_at = now;
        if (pl_consent_validate(&rec, now, msg, sizeof msg) != PL_OK)
            reply = pl_node_ctl_error(PL_EINVAL, "%s", msg);
    }
    if (reply) {
        pl_sealed_release(&cs);
        return reply;
    }
    json_t *doc = pl_consent_rec_encode(&rec, pl_case_by(as));
    uint8_t id[PL_CASE_ID], chdr[PL_CASE_HDR];
    pl_random(id, sizeof id);
    chdr[0] = PL_CASE_VER;
    memcpy(chdr + 1, case_id, PL_CASE_ID);
    int rc =
        pl_sealed_put(txn, PL_DB_CONSENTS, id, PL_CASE_ID, chdr, cs.dk, doc);
    pl_sealed_release(&cs);
    pl_store_wipe(&rec, sizeof rec);
    json_decref(doc);
    if (rc == PL_OK)
        rc =
            pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "consent",
                          as, case_id, "consent-add", "applied", NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the consent: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(
        json_pack("{s:o}", "id", pl_node_json_hex(id, PL_CASE_ID)));
}

// consent.withdraw: records the withdrawal of every consent of the case;
// when one was still in force, cancels the open referrals made under
// consent and sends a consent-withdrawal to every node that received the
// case's data (each erases it and confirms; `case show` lists them).
char *
pl_case_consent_withdraw(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                         const char *as, int *rc_out)
{
    uint8_t case_id[PL_CASE_ID];
    pl_case_t cs = PL_CASE_INIT;
    char *err =
        pl_case_rec_open(txn, pl_case_arg(args, "case"), case_id, &cs, rc_out);
    if (err)
        return err;
    pl_case_consents_t c;
    int rc = pl_case_consents_load(txn, case_id, cs.s.dk, &c);
    uint64_t now = pl_now();
    size_t n = 0;
    for (size_t i = 0; rc == PL_OK && i < c.n; i++) {
        if (c.recs[i].withdrawn_at)
            continue;
        json_t *doc = json_deep_copy(json_array_get(c.docs, i));
        json_object_del(doc, "id");
        json_object_set_new(doc, "withdrawn", json_integer((json_int_t) now));
        uint8_t chdr[PL_CASE_HDR];
        chdr[0] = PL_CASE_VER;
        memcpy(chdr + 1, case_id, PL_CASE_ID);
        rc = pl_sealed_put(txn, PL_DB_CONSENTS, c.recs[i].id, PL_CASE_ID, chdr,
                           cs.s.dk, doc);
        json_decref(doc);
        n++;
    }
    pl_case_consents_free(&c);
    if (rc == PL_OK)
        rc =
            pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "consent",
                          as, case_id, "consent-withdraw", "applied", NULL);
    size_t ncancelled = 0;
    json_t *holders = json_array();
    if (rc == PL_OK && n) {
        rc = s_withdraw_referrals(ctx, txn, case_id, &cs.rec, as, &ncancelled,
                                  holders);
        if (rc == PL_OK)
            rc = pl_case_rec_save(txn, case_id, &cs);
    }
    pl_case_rec_release(&cs);
    *rc_out = rc;
    if (rc != PL_OK) {
        json_decref(holders);
        return pl_node_ctl_error(rc, "cannot withdraw: %s", pl_strerror(rc));
    }
    return pl_node_ctl_ok(
        json_pack("{s:I, s:I, s:o}", "withdrawn", (json_int_t) n, "cancelled",
                  (json_int_t) ncancelled, "holders", holders));
}

// ---- child protection (issue 8)

// The child-protection node of this node's region (certificate region),
// other than this node, valid in the directory: its address into 'out'.
// PL_ENOTFOUND when there is none (or this node's region is empty).
int
pl_case_cp_find(pl_node_ctx_t *ctx, char out[PL_ADDRESS_MAX + 1])
{
    if (!ctx->me->region[0])
        return PL_ENOTFOUND;
    for (size_t i = 0; i < ctx->ndir; i++) {
        const pl_cert_t *c = &ctx->dir[i];
        // of this node's own network: a foreign node of a region with the
        // same name (federation, issue 13) is not this region's
        if (strcmp(c->sector, "child-protection") != 0
            || strcmp(c->region, ctx->me->region) != 0
            || strcmp(c->network, ctx->me->network) != 0
            || strcmp(c->address, ctx->me->address) == 0)
            continue;
        char addr[PL_ADDRESS_MAX + 1];
        snprintf(addr, sizeof addr, "%s", c->address);
        if (pl_ctx_dir_find(ctx, addr, NULL)) { // valid, not revoked
            snprintf(out, PL_ADDRESS_MAX + 1, "%s", addr);
            return PL_OK;
        }
    }
    return PL_ENOTFOUND;
}

// Seals a cp-notification about referral 'rid' to 'cp' and audits it.
// It carries the minimum (kind, region, referral id, time; the sender is
// the envelope's sender): no name, birth date or pseudonym.
int
pl_case_cp_notify(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *cp,
                  const uint8_t rid[PL_CASE_ID], const char *kind, uint64_t at,
                  const char *as, uint8_t msgid[PL_MSG_ID_BYTES])
{
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__CpNotification n = PASSERELLE__V1__CP_NOTIFICATION__INIT;
    n.referral_id.data = (uint8_t *) rid;
    n.referral_id.len = PL_CASE_ID;
    n.kind = (char *) kind;
    n.region = (char *) ctx->me->region;
    n.at = at;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_CP_NOTIFICATION;
    m.cp_notification = &n;
    pl_buf_t enc = {0};
    uint8_t digest[PL_DIGEST_BYTES];
    int rc = pl_message_encode(&m, &enc);
    if (rc == PL_OK)
        rc = pl_ctx_outbox_add(ctx, txn, cp, S_KIND_CP, enc.data, enc.len, 0,
                               msgid);
    pl_buf_free(&enc);
    if (rc == PL_OK)
        rc = pl_case_out_digest(txn, msgid, digest);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_OUT, cp, msgid, digest,
                           "cp-notification", as, rid, "cp-notify", "applied",
                           kind);
    if (rc == PL_OK)
        pl_log_info(ctx->log, "cp_notification_sent to=%s kind=%s", cp, kind);
    return rc;
}

int
pl_case_crefs_push(pl_case_crefs_t *c, const uint8_t id[PL_CASE_ID],
                   const pl_ref_rec_t *r)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        pl_case_cref_t *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return PL_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    pl_case_cref_t *e = &c->v[c->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, PL_CASE_ID);
    snprintf(e->peer, sizeof e->peer, "%s", r->peer ? r->peer : "");
    e->has_msg = r->msg && pl_unhex(e->msg, sizeof e->msg, r->msg) == PL_OK;
    pl_referral_state_t st;
    e->open = r->status && pl_referral_state_parse(r->status, &st) == PL_OK
              && pl_referral_is_open(st);
    e->consent = r->legal_basis && strcmp(r->legal_basis, "consent") == 0;
    snprintf(e->priority, sizeof e->priority, "%s",
             r->priority ? r->priority : "");
    return PL_OK;
}

static int
s_collect_one(pl_case_rwalk_t *w, const uint8_t id[PL_CASE_ID],
              const pl_ref_rec_t *r)
{
    const char *dir = r->dir, *c = r->case_hex;
    if (!dir || strcmp(dir, "out") != 0 || !c || strcmp(c, w->case_hex) != 0)
        return PL_STORE_NEXT;
    return pl_case_crefs_push(w->user, id, r) == PL_OK ? PL_STORE_NEXT
                                                       : PL_ENOMEM;
}

int
pl_case_refs(pl_txn_t *txn, const uint8_t case_id[PL_CASE_ID],
             pl_case_crefs_t *out)
{
    char hex[2 * PL_CASE_ID + 1];
    pl_hex(hex, case_id, PL_CASE_ID);
    memset(out, 0, sizeof *out);
    pl_case_rwalk_t w = {.txn = txn, .now = pl_now(), .fn = s_collect_one};
    w.case_hex = hex;
    w.user = out;
    return pl_store_each(txn, PL_DB_REFERRALS, pl_case_rwalk_one, &w);
}

// ---- crypto-shredding of inbox copies

typedef struct {
    pl_txn_t *txn;
    const uint8_t *ids;                   // referral ids, PL_CASE_ID each
    size_t nids;                          // how many
    uint8_t (*kill)[PL_DATAKEY_ID_BYTES]; // data keys to destroy
    size_t nkill, cap;
} s_ishred_t;

static bool
s_id_in(const uint8_t *ids, size_t n, const uint8_t *id)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(ids + i * PL_CASE_ID, id, PL_CASE_ID) == 0)
            return true;
    return false;
}

static int
s_ishred_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
             void *arg)
{
    s_ishred_t *s = arg;
    pl_inrec_t in;
    if (kl != PL_MSG_ID_BYTES || pl_inrec_decode(v, vl, &in) != PL_OK
        || (in.kind != S_KIND_REFERRAL && in.kind != S_KIND_STATUS))
        return PL_STORE_NEXT;
    uint8_t dk[PL_DATAKEY_BYTES];
    if (pl_store_datakey_get(s->txn, in.dkid, dk) != PL_OK)
        return PL_STORE_NEXT; // already shredded
    pl_buf_t plain = {0};
    int rc = pl_store_unseal(dk, PL_DB_INBOX, k, kl, in.sealed, in.sealed_len,
                             &plain);
    pl_store_wipe(dk, sizeof dk);
    pl_message_t *m = NULL;
    if (rc == PL_OK)
        rc = pl_message_decode(plain.data, plain.len, &m);
    pl_buf_wipe(&plain);
    if (rc != PL_OK)
        return PL_STORE_NEXT;
    const ProtobufCBinaryData *rid = NULL;
    if (m->body_case == PASSERELLE__V1__MESSAGE__BODY_REFERRAL)
        rid = &m->referral->referral_id;
    else if (m->body_case == PASSERELLE__V1__MESSAGE__BODY_STATUS_UPDATE)
        rid = &m->status_update->referral_id;
    bool hit =
        rid && rid->len == PL_CASE_ID && s_id_in(s->ids, s->nids, rid->data);
    pl_message_free(&m);
    if (!hit)
        return PL_STORE_NEXT;
    if (s->nkill == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        void *p = realloc(s->kill, cap * PL_DATAKEY_ID_BYTES);
        if (!p)
            return PL_ENOMEM;
        s->kill = p;
        s->cap = cap;
    }
    memcpy(s->kill[s->nkill++], in.dkid, PL_DATAKEY_ID_BYTES);
    return PL_STORE_NEXT;
}

// Destroys the data keys of every inbox copy (referral or status update)
// about one of the referrals 'ids'; 'n' (may be NULL) gets how many.
int
pl_case_shred_inbox_refs(pl_txn_t *txn, const uint8_t *ids, size_t nids,
                         size_t *n)
{
    s_ishred_t s = {txn, ids, nids, NULL, 0, 0};
    int rc = nids ? pl_store_each(txn, PL_DB_INBOX, s_ishred_one, &s) : PL_OK;
    for (size_t i = 0; rc == PL_OK && i < s.nkill; i++) {
        rc = pl_store_datakey_destroy(txn, s.kill[i]);
        if (rc == PL_ENOTFOUND)
            rc = PL_OK;
    }
    if (n)
        *n = s.nkill;
    free(s.kill);
    return rc;
}

// ---- consent withdrawal (owner)

// Cancels open referral 'rid' (sender side) with 'reason'. PL_OK also
// when it can no longer be cancelled.
static int
s_cancel_one(pl_node_ctx_t *ctx, pl_txn_t *txn, const uint8_t rid[PL_CASE_ID],
             const char *as, const char *reason, bool *cancelled)
{
    pl_ref_t rs = PL_REF_INIT;
    pl_referral_track_t t;
    *cancelled = false;
    int rc = pl_case_refrec_open(txn, rid, &rs);
    if (rc == PL_OK)
        rc = pl_case_track_get(&rs.rec, &t);
    pl_referral_update_t u;
    if (rc != PL_OK
        || pl_referral_track_act(&t, PL_RE_CANCEL, PL_OUTCOME_NONE, &u)
               != PL_REF_APPLIED) {
        pl_case_refrec_release(&rs);
        return rc == PL_ENOMEM || rc == PL_EIO ? rc : PL_OK;
    }
    uint64_t now = pl_now();
    uint8_t msgid[PL_MSG_ID_BYTES], digest[PL_DIGEST_BYTES];
    rc = pl_case_send_status(ctx, txn, rs.rec.peer, rid, &u, reason, NULL,
                             pl_case_by(as), now, msgid);
    if (rc == PL_OK) {
        rc = pl_case_track_set(&rs.rec, &t);
        if (rc == PL_OK)
            rc = pl_case_history(&rs.rec, "cancelled", now, pl_case_by(as),
                                 reason, NULL, NULL, NULL);
        rs.rec.last_change = now;
        if (rc == PL_OK)
            rc = pl_case_out_digest(txn, msgid, digest);
    }
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_OUT, rs.rec.peer, msgid, digest,
                           "status-update", as, rid, "cancel", "applied",
                           reason);
    if (rc == PL_OK)
        rc = pl_case_refrec_save(txn, rid, &rs);
    pl_case_refrec_release(&rs);
    *cancelled = rc == PL_OK;
    return rc;
}

// After the consents of a case were withdrawn: cancels its open referrals
// made under consent (reason consent-withdrawn) and sends one
// consent-withdrawal to every node that received any of them. The
// withdrawal, with its holders as "pending", is added to 'cdoc' (the case
// document; the caller stores it). 'holders' gets their addresses.
static int
s_withdraw_referrals(pl_node_ctx_t *ctx, pl_txn_t *txn,
                     const uint8_t case_id[PL_CASE_ID], pl_case_rec_t *cr,
                     const char *as, size_t *ncancelled, json_t *holders)
{
    pl_case_crefs_t refs;
    int rc = pl_case_refs(txn, case_id, &refs);
    *ncancelled = 0;
    for (size_t i = 0; rc == PL_OK && i < refs.n; i++) {
        bool done = false;
        if (refs.v[i].consent && refs.v[i].open)
            rc = s_cancel_one(ctx, txn, refs.v[i].id, as, "consent-withdrawn",
                              &done);
        *ncancelled += done;
    }
    uint8_t wid[PL_CASE_ID];
    pl_random(wid, sizeof wid);
    uint64_t now = pl_now();
    json_t *hold = json_object();
    uint8_t *ids = malloc(refs.n ? refs.n * PL_CASE_ID : 1);
    ProtobufCBinaryData *bins = calloc(refs.n ? refs.n : 1, sizeof *bins);
    if (!ids || !bins)
        rc = rc == PL_OK ? PL_ENOMEM : rc;
    // one message per holder, listing its referrals of this case
    for (size_t i = 0; rc == PL_OK && i < refs.n; i++) {
        const char *peer = refs.v[i].peer;
        if (!refs.v[i].consent || json_object_get(hold, peer))
            continue;
        size_t nb = 0;
        for (size_t j = i; j < refs.n; j++)
            if (refs.v[j].consent && strcmp(refs.v[j].peer, peer) == 0) {
                memcpy(ids + nb * PL_CASE_ID, refs.v[j].id, PL_CASE_ID);
                bins[nb].data = ids + nb * PL_CASE_ID;
                bins[nb].len = PL_CASE_ID;
                nb++;
            }
        Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
        Passerelle__V1__ConsentWithdrawal cw =
            PASSERELLE__V1__CONSENT_WITHDRAWAL__INIT;
        cw.withdrawal_id.data = wid;
        cw.withdrawal_id.len = PL_CASE_ID;
        cw.n_referral_ids = nb;
        cw.referral_ids = bins;
        cw.withdrawn_at = now;
        m.body_case = PASSERELLE__V1__MESSAGE__BODY_CONSENT_WITHDRAWAL;
        m.consent_withdrawal = &cw;
        pl_buf_t enc = {0};
        uint8_t msgid[PL_MSG_ID_BYTES], digest[PL_DIGEST_BYTES];
        rc = pl_message_encode(&m, &enc);
        if (rc == PL_OK)
            rc = pl_ctx_outbox_add(ctx, txn, peer, S_KIND_WITHDRAWAL, enc.data,
                                   enc.len, 0, msgid);
        pl_buf_free(&enc);
        if (rc == PL_OK)
            rc = pl_case_out_digest(txn, msgid, digest);
        if (rc == PL_OK)
            rc = pl_case_audit(ctx, txn, PL_AUDIT_OUT, peer, msgid, digest,
                               "consent-withdrawal", as, case_id, "withdraw",
                               "applied", NULL);
        json_object_set_new(hold, peer,
                            json_pack("{s:s, s:I}", "status", "pending",
                                      "referrals", (json_int_t) nb));
        json_array_append_new(holders, json_string(peer));
        pl_log_info(ctx->log, "consent_withdrawal_sent to=%s referrals=%zu",
                    peer, nb);
    }
    free(bins);
    free(ids);
    free(refs.v);
    if (rc == PL_OK && json_object_size(hold)) {
        uint8_t wk[1 + PL_CASE_ID];
        pl_case_rkey(wk, 'w', wid);
        rc = pl_store_put(txn, PL_DB_REFERRALS, wk, sizeof wk, case_id,
                          PL_CASE_ID);
        if (!cr->withdrawals)
            cr->withdrawals = json_array();
        json_t *ws = cr->withdrawals;
        json_t *e = json_pack("{s:o, s:I, s:O}", "id",
                              pl_node_json_hex(wid, PL_CASE_ID), "at",
                              (json_int_t) now, "holders", hold);
        if (pl_case_by(as))
            json_object_set_new(e, "by", json_string(as));
        json_array_append_new(ws, e);
    }
    json_decref(hold);
    return rc;
}

// ---- inbound: cp-notification, consent-withdrawal, erasure-confirmation

static int
s_on_cp(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
        const uint8_t digest[32], const Passerelle__V1__CpNotification *n)
{
    const uint8_t *rid = n->referral_id.data;
    if (strcmp(ctx->me->sector, "child-protection") != 0) {
        pl_log_warn(ctx->log,
                    "cp_notification_refused from=%s reason=not-child-"
                    "protection",
                    h->from);
        int rc = pl_case_shred_inbox(txn, h->id);
        if (rc == PL_OK)
            rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                               "cp-notification", NULL, rid, "cp-notify",
                               "refused", "not-child-protection");
        return rc;
    }
    uint64_t now = pl_now();
    json_t *doc = json_pack(
        "{s:s, s:s, s:o, s:s, s:o, s:o}", "kind", n->kind, "from", h->from,
        "referral", pl_node_json_hex(rid, PL_CASE_ID), "region", n->region,
        "at", pl_node_json_time(n->at), "received", pl_node_json_time(now));
    char *text = doc ? pl_case_dump(doc) : NULL;
    json_decref(doc);
    if (!text)
        return PL_ENOMEM;
    uint8_t k[1 + PL_MSG_ID_BYTES];
    k[0] = 'n';
    memcpy(k + 1, h->id, PL_MSG_ID_BYTES);
    int rc = pl_store_put_secret(txn, PL_DB_REFERRALS, k, sizeof k, text,
                                 strlen(text));
    pl_case_wipe_free(text);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                           "cp-notification", NULL, rid, "cp-notify", "applied",
                           n->kind);
    pl_log_info(ctx->log, "cp_notification from=%s kind=%s region=%s", h->from,
                n->kind, n->region);
    return rc;
}

static int
s_on_withdrawal(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
                const uint8_t digest[32],
                const Passerelle__V1__ConsentWithdrawal *w)
{
    size_t n = w->n_referral_ids, nd = 0;
    uint8_t *ids = malloc(n ? n * PL_CASE_ID : 1);
    uint8_t *done = malloc(n ? n * PL_CASE_ID : 1);
    ProtobufCBinaryData *bins = calloc(n ? n : 1, sizeof *bins);
    int rc = ids && done && bins ? PL_OK : PL_ENOMEM;
    for (size_t i = 0; rc == PL_OK && i < n; i++) {
        const uint8_t *rid = w->referral_ids[i].data;
        memcpy(ids + i * PL_CASE_ID, rid, PL_CASE_ID);
        uint8_t hdr[PL_CASE_HDR], rk[1 + PL_CASE_ID], xk[1 + PL_CASE_ID];
        json_t *doc = NULL;
        pl_case_rkey(rk, 'r', rid);
        pl_case_rkey(xk, 'x', rid);
        int grc = pl_case_ref_get(txn, rid, hdr, NULL, &doc);
        if (grc == PL_ENOMEM || grc == PL_EIO) {
            rc = grc;
            break;
        }
        const char *peer = doc ? pl_case_str(doc, "peer") : NULL;
        const char *dir = doc ? pl_case_str(doc, "dir") : NULL;
        if (grc == PL_OK
            && (!peer || strcmp(peer, h->from) != 0 || !dir
                || strcmp(dir, "in") != 0)) {
            json_decref(doc); // not this sender's referral: left alone
            rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                               "consent-withdrawal", NULL, rid, "erase",
                               "refused", "wrong-peer");
            continue;
        }
        if (grc == PL_OK) {
            uint8_t msg[PL_MSG_ID_BYTES];
            const char *mh = pl_case_str(doc, "msg");
            if (mh && pl_unhex(msg, sizeof msg, mh) == PL_OK)
                rc = pl_case_shred_inbox(txn, msg);
            if (rc == PL_OK) {
                rc = pl_store_datakey_destroy(txn, hdr + 1);
                rc = rc == PL_ENOTFOUND ? PL_OK : rc;
            }
            if (rc == PL_OK)
                rc = pl_store_del(txn, PL_DB_REFERRALS, rk, sizeof rk);
            memcpy(done + nd * PL_CASE_ID, rid, PL_CASE_ID);
            bins[nd].data = done + nd * PL_CASE_ID;
            bins[nd].len = PL_CASE_ID;
            nd++;
        }
        json_decref(doc);
        // a tombstone: this referral, should it arrive later, is refused
        if (rc == PL_OK)
            rc = pl_store_put(txn, PL_DB_REFERRALS, xk, sizeof xk, h->from,
                              strlen(h->from));
    }
    size_t nshred = 0;
    if (rc == PL_OK)
        rc = pl_case_shred_inbox_refs(txn, ids, n, &nshred);
    uint64_t now = pl_now();
    uint8_t msgid[PL_MSG_ID_BYTES], odig[PL_DIGEST_BYTES];
    if (rc == PL_OK) {
        Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
        Passerelle__V1__ErasureConfirmation ec =
            PASSERELLE__V1__ERASURE_CONFIRMATION__INIT;
        ec.withdrawal_id = w->withdrawal_id;
        ec.n_referral_ids = nd;
        ec.referral_ids = bins;
        ec.erased_at = now;
        m.body_case = PASSERELLE__V1__MESSAGE__BODY_ERASURE_CONFIRMATION;
        m.erasure_confirmation = &ec;
        pl_buf_t enc = {0};
        rc = pl_message_encode(&m, &enc);
        if (rc == PL_OK)
            rc = pl_ctx_outbox_add(ctx, txn, h->from, S_KIND_ERASURE, enc.data,
                                   enc.len, 0, msgid);
        pl_buf_free(&enc);
    }
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                           "consent-withdrawal", NULL, w->withdrawal_id.data,
                           "erase", "applied", NULL);
    if (rc == PL_OK)
        rc = pl_case_out_digest(txn, msgid, odig);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_OUT, h->from, msgid, odig,
                           "erasure-confirmation", PL_CASE_SYSTEM,
                           w->withdrawal_id.data, "erase-confirm", "applied",
                           NULL);
    if (rc == PL_OK)
        pl_log_info(ctx->log,
                    "consent_withdrawal from=%s referrals=%zu erased=%zu "
                    "inbox_copies=%zu",
                    h->from, n, nd, nshred);
    free(bins);
    free(done);
    free(ids);
    return rc;
}

static int
s_on_erasure(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
             const uint8_t digest[32],
             const Passerelle__V1__ErasureConfirmation *e)
{
    const uint8_t *wid = e->withdrawal_id.data;
    uint8_t wk[1 + PL_CASE_ID], case_id[PL_CASE_ID];
    pl_case_t cs = PL_CASE_INIT;
    pl_case_rkey(wk, 'w', wid);
    const uint8_t *v;
    size_t vlen;
    int rc = pl_store_get(txn, PL_DB_REFERRALS, wk, sizeof wk, &v, &vlen);
    if (rc == PL_ENOMEM || rc == PL_EIO)
        return rc;
    const char *detail = NULL;
    if (rc != PL_OK || vlen != PL_CASE_ID) {
        detail = "unknown-withdrawal";
    } else {
        memcpy(case_id, v, PL_CASE_ID);
        rc = pl_case_rec_load(txn, case_id, &cs);
        if (rc == PL_ENOMEM || rc == PL_EIO)
            return rc;
        if (rc != PL_OK)
            detail = "case-erased";
    }
    json_t *holder = NULL;
    char whex[2 * PL_CASE_ID + 1];
    pl_hex(whex, wid, PL_CASE_ID);
    size_t i;
    json_t *we;
    json_array_foreach(cs.rec.withdrawals, i, we)
    {
        const char *id = pl_case_str(we, "id");
        if (id && strcmp(id, whex) == 0)
            holder = json_object_get(json_object_get(we, "holders"), h->from);
    }
    if (!detail && !holder)
        detail = "wrong-peer";
    rc = PL_OK;
    if (!detail) {
        json_object_set_new(holder, "status", json_string("confirmed"));
        json_object_set_new(holder, "confirmed",
                            json_integer((json_int_t) e->erased_at));
        json_object_set_new(holder, "erased",
                            json_integer((json_int_t) e->n_referral_ids));
        rc = pl_case_rec_save(txn, case_id, &cs);
    }
    pl_case_rec_release(&cs);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                           "erasure-confirmation", NULL, wid, "erase-confirmed",
                           detail ? "refused" : "applied", detail);
    pl_log_info(ctx->log, "erasure_confirmation from=%s result=%s", h->from,
                detail ? detail : "confirmed");
    return rc;
}

int
pl_case_on_other(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
                 const uint8_t digest[32], const pl_message_t *m)
{
    switch (m->body_case) {
    case PASSERELLE__V1__MESSAGE__BODY_CP_NOTIFICATION:
        return s_on_cp(ctx, txn, h, digest, m->cp_notification);
    case PASSERELLE__V1__MESSAGE__BODY_CONSENT_WITHDRAWAL:
        return s_on_withdrawal(ctx, txn, h, digest, m->consent_withdrawal);
    case PASSERELLE__V1__MESSAGE__BODY_ERASURE_CONFIRMATION:
        return s_on_erasure(ctx, txn, h, digest, m->erasure_confirmation);
    default:
        return PL_OK;
    }
}

// ---- notifications (child-protection node)

typedef struct {
    pl_txn_t *txn;
    json_t *out; // sorted by "at"
} s_nwalk_t;

static int
s_notif_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v;
    (void) vl;
    s_nwalk_t *w = arg;
    if (kl != 1 + PL_MSG_ID_BYTES || k[0] != 'n')
        return PL_STORE_NEXT;
    pl_buf_t b = {0};
    json_t *doc = NULL;
    json_error_t jerr;
    if (pl_store_get_secret(w->txn, PL_DB_REFERRALS, k, kl, &b) == PL_OK)
        doc = json_loadb((const char *) b.data, b.len, 0, &jerr);
    pl_buf_wipe(&b);
    if (!doc)
        return PL_STORE_NEXT;
    const char *at = pl_case_str(doc, "at");
    size_t i = 0;
    for (; i < json_array_size(w->out); i++) {
        const char *o = pl_case_str(json_array_get(w->out, i), "at");
        if (at && o && strcmp(o, at) > 0)
            break;
    }
    json_array_insert_new(w->out, i, doc);
    return PL_STORE_NEXT;
}

char *
pl_case_notifications(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                      const char *as, int *rc_out)
{
    (void) args;
    (void) as;
    (void) rc_out;
    (void) ctx;
    s_nwalk_t w = {txn, json_array()};
    int rc = pl_store_each(txn, PL_DB_REFERRALS, s_notif_one, &w);
    if (rc != PL_OK) {
        json_decref(w.out);
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(w.out);
}
