// pl_refer - the referral room: refer, lifecycle actions (referral.act),
// inbound referral, status update and receipt, the overdue sweep
// (DESIGN.md §6; issues 7, 8). Layer: nodes, handlers. The lifecycle
// rules are pl_referral.c's state table; this file stores, seals, sends
// and audits what it decides.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_node_svc.h"
#include "proto/pl_crypto.h"

char *
pl_case_referrals(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                  const char *as, int *rc_out)
{
    (void) as;
    (void) rc_out;
    (void) ctx;
    pl_case_rwalk_t w = {.txn = txn, .now = pl_now(), .fn = pl_case_list_one};
    w.status = pl_case_arg(args, "status");
    w.direction = pl_case_arg(args, "direction");
    w.overdue = json_is_true(json_object_get(args, "overdue"));
    pl_referral_state_t st;
    if (w.status && pl_referral_state_parse(w.status, &st) != PL_OK)
        return pl_node_ctl_error(PL_EINVAL,
                                 "'%s' is not a status (requested, received, "
                                 "accepted, rejected, in-progress, on-hold, "
                                 "completed, cancelled)",
                                 w.status);
    if (w.direction && strcmp(w.direction, "in") && strcmp(w.direction, "out"))
        return pl_node_ctl_error(PL_EINVAL, "direction is in or out");
    w.out = json_array();
    int rc = pl_store_each(txn, PL_DB_REFERRALS, pl_case_rwalk_one, &w);
    if (rc != PL_OK) {
        json_decref(w.out);
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(w.out);
}

char *
pl_case_referral_show(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                      const char *as, int *rc_out)
{
    (void) as;
    (void) rc_out;
    (void) ctx;
    uint8_t id[PL_CASE_ID], hdr[PL_CASE_HDR];
    int rc;
    char *err = pl_case_resolve(txn, PL_DB_REFERRALS, 'r', "referral",
                                pl_case_arg(args, "id"), id, &rc);
    if (err)
        return err;
    json_t *doc = NULL;
    pl_ref_rec_t r;
    rc = pl_case_ref_get(txn, id, hdr, NULL, &doc);
    if (rc == PL_OK && (rc = pl_ref_rec_decode(doc, &r)) != PL_OK)
        json_decref(doc);
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot read the referral: %s",
                                 pl_strerror(rc));
    uint64_t now = pl_now(), since = 0;
    json_t *o = pl_case_summary(id, &r, now);
    bool late = pl_case_overdue(&r, now, &since);
    pl_ref_rec_free(&r);
    if (since)
        json_object_set_new(o, late ? "overdue_since" : "next_step_due",
                            pl_node_json_time(since));
    static const char *const copy[] = {
        "person",  "pseudonym", "purpose",     "note",
        "history", "consent",   "legal_basis", "override",
        "needs",   "uasc",      "child",       "referred_by"};
    for (size_t i = 0; i < sizeof copy / sizeof *copy; i++) {
        json_t *v = json_object_get(doc, copy[i]);
        if (v)
            json_object_set(o, copy[i], v);
    }
    if (!json_object_get(o, "person"))
        json_object_set_new(o, "person", json_object());
    json_decref(doc);
    return pl_node_ctl_ok(o);
}

// ---- refer (sender), in steps: arguments, consent gate, child
// protection, the message (with minimisation), outbox, record and audit

// What the steps of a referral share. Released by s_refer_free.
typedef struct {
    uint8_t case_id[PL_CASE_ID];      // the case
    pl_case_t cs;                     // its record (typed) and key
    pl_case_consents_t c;             // its consents
    const char *service, *purpose;    // arguments (borrowed from args)
    const char *note, *oj, *ab;       // note, override justification, approver
    const char *uasc;                 // the case's uasc (borrowed from cs.rec)
    pl_referral_priority_t pr;        // priority
    uint64_t due, now;                // due date (0: none), now
    char addr[PL_ADDRESS_MAX + 1];    // the recipient
    const pl_cert_t *cert;            // its certificate (borrowed)
    pl_consent_person_t person;       // the gate's view of the person
    pl_consent_verdict_t v;           // the gate's verdict
    uint8_t rid[PL_CASE_ID];          // the new referral's id
    bool notify_cp;                   // a cp-notification goes out
    char cp_addr[PL_ADDRESS_MAX + 1]; // to this child-protection node
    char pseudonym[16];               // "P-" and 10 hex digits
    json_t *sent;                     // the person fields sent (minimum)
    uint8_t msgid[PL_MSG_ID_BYTES];   // the referral envelope's id
} s_refer_t;

static void
s_refer_free(s_refer_t *st)
{
    pl_case_consents_free(&st->c);
    pl_case_rec_release(&st->cs);
    json_decref(st->sent);
    st->sent = NULL;
}

// Argument checks, the recipient in the directory, the consents loaded.
// NULL, or the reply of a refusal (nothing kept).
static char *
s_refer_args(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, s_refer_t *st,
             int *rc_out)
{
    const char *to = pl_case_arg(args, "to");
    const char *prio = pl_case_arg(args, "priority"),
               *due_s = pl_case_arg(args, "due");
    st->service = pl_case_arg(args, "service");
    st->purpose = pl_case_arg(args, "purpose");
    st->note = pl_case_arg(args, "note");
    st->oj = pl_case_arg(args, "override_justification");
    st->ab = pl_case_arg(args, "approved_by");
    st->purpose = st->purpose ? st->purpose : "services";
    prio = prio ? prio : "normal";
    if (to && !strchr(to, '/'))
        snprintf(st->addr, sizeof st->addr, "%s/%s", ctx->me->network, to);
    else if (to)
        snprintf(st->addr, sizeof st->addr, "%s", to);
    int why = PL_ENOTFOUND;
    char *reply = NULL;
    *rc_out = PL_EINVAL;
    if (!to || !pl_address_valid(st->addr))
        reply = pl_node_ctl_error(PL_EINVAL,
                                  "refer needs --to ADDRESS (network/name)");
    else if (!st->service || !pl_slug_valid(st->service))
        reply = pl_node_ctl_error(PL_EINVAL,
                                  "refer needs --service CODE (a-z, 0-9, -)");
    else if (!pl_slug_valid(st->purpose))
        reply = pl_node_ctl_error(PL_EINVAL, "purpose must be a code");
    else if (pl_referral_priority_parse(prio, &st->pr) != PL_OK)
        reply = pl_node_ctl_error(PL_EINVAL,
                                  "priority is emergency, urgent or normal");
    else if (due_s && pl_referral_due_parse(due_s, &st->due) != PL_OK)
        reply = pl_node_ctl_error(PL_EINVAL, "due must be a date YYYY-MM-DD");
    else if (st->note && strlen(st->note) > PL_CASE_TEXT)
        reply = pl_node_ctl_error(PL_EINVAL, "the note is too long");
    else if (st->cs.rec.closed)
        reply = pl_node_ctl_error(PL_ESTATE, "the case is closed");
    else if (strcmp(st->addr, ctx->me->address) == 0)
        reply = pl_node_ctl_error(PL_EINVAL, "a node cannot refer to itself");
    else if (pl_ctx_me_revoked(ctx))
        reply = pl_node_ctl_error(PL_EREVOKED,
                                  "this node's certificate is revoked: enrol "
                                  "again");
    else if (!(st->cert = pl_ctx_dir_find(ctx, st->addr, &why)))
        reply = pl_case_outbox_error(ctx, why, st->addr);
    else if ((*rc_out =
                  pl_case_consents_load(txn, st->case_id, st->cs.s.dk, &st->c))
             != PL_OK)
        reply = pl_node_ctl_error(*rc_out, "cannot read the consents");
    if (reply && *rc_out == PL_OK)
        *rc_out = PL_EINVAL;
    return reply;
}

// The consent gate, before anything is sealed. NULL, or the reply of a
// refusal (audited: *rc_out PL_OK keeps the audit entry).
static char *
s_refer_gate(pl_node_ctx_t *ctx, pl_txn_t *txn, s_refer_t *st, const char *as,
             int *rc_out)
{
    const char *sector = st->cert->sector;
    const pl_case_rec_t *cr = &st->cs.rec;
    st->person = (pl_consent_person_t){cr->birth, PL_UASC_NONE,
                                       cr->has_bia ? cr->bia.ref : NULL,
                                       cr->has_bia ? cr->bia.date : 0};
    st->uasc = cr->uasc;
    if (st->uasc)
        PL_IGNORE(pl_uasc_parse(st->uasc, &st->person.uasc));
    pl_consent_override_t ov = {st->oj, st->ab};
    pl_consent_request_t req = {st->c.recs,
                                st->c.n,
                                sector,
                                st->purpose,
                                pl_sector_data_categories(sector),
                                &st->person,
                                (st->oj || st->ab) ? &ov : NULL,
                                st->now};
    pl_random(st->rid, sizeof st->rid);
    if (pl_consent_gate(&req, &st->v) == PL_CONSENT_OK)
        return NULL;
    *rc_out = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, st->addr, NULL, NULL,
                            "referral", as, st->rid, "refer", "refused",
                            pl_consent_reason_name(st->v.reason));
    pl_log_info(ctx->log, "refer_refused to=%s reason=%s", st->addr,
                pl_consent_reason_name(st->v.reason));
    return pl_node_ctl_error(pl_consent_reason_err(st->v.reason), "%s",
                             st->v.text);
}

// An unaccompanied or separated child: the child-protection node of this
// node's region must be notified, or the referral is refused (audited).
static char *
s_refer_cp(pl_node_ctx_t *ctx, pl_txn_t *txn, s_refer_t *st, const char *as,
           int *rc_out)
{
    st->notify_cp = st->v.child && st->person.uasc != PL_UASC_NONE
                    && strcmp(ctx->me->sector, "child-protection") != 0;
    if (!st->notify_cp || pl_case_cp_find(ctx, st->cp_addr) == PL_OK)
        return NULL;
    *rc_out = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, st->addr, NULL, NULL,
                            "referral", as, st->rid, "refer", "refused",
                            "no-cp-node");
    pl_log_info(ctx->log, "refer_refused to=%s reason=no-cp-node region=%s",
                st->addr, ctx->me->region);
    pl_ctx_ask_directory(ctx, false);
    return pl_node_ctl_error(
        PL_ENOTFOUND,
        "child protection: no child-protection node of region '%s' is in "
        "this node's directory; every referral of an unaccompanied or "
        "separated child is notified to one, so this referral is refused "
        "(the case is unchanged)",
        ctx->me->region[0] ? ctx->me->region : "(none)");
}

// The protobuf Referral and the storage its pointers use.
typedef struct {
    Passerelle__V1__Message m;
    Passerelle__V1__Referral r;
    Passerelle__V1__Person p;
    Passerelle__V1__ConsentRef cr;
    Passerelle__V1__ConsentOverride co;
    Passerelle__V1__Guardian g;
    char *needv[8];
    char *csect[PL_CONSENT_SECTORS_MAX];
} s_refer_msg_t;

// Minimisation: only the sector table's fields of the person go out;
// st->sent gets them (for the sender's record).
static void
s_refer_minimise(s_refer_t *st, s_refer_msg_t *b)
{
    uint32_t fields = pl_sector_data_fields(st->cert->sector);
    st->sent = json_object();
    char **slot[] = {&b->p.given, &b->p.family,   &b->p.birth,
                     &b->p.sex,   &b->p.language, &b->p.phone};
    static const uint32_t bits[] = {PL_FIELD_GIVEN,    PL_FIELD_FAMILY,
                                    PL_FIELD_BIRTH,    PL_FIELD_SEX,
                                    PL_FIELD_LANGUAGE, PL_FIELD_PHONE};
    const pl_case_rec_t *cr = &st->cs.rec;
    const char *vals[] = {cr->given, cr->family,   cr->birth,
                          cr->sex,   cr->language, cr->phone};
    for (size_t k = 0; k < 6; k++) {
        const char *name = pl_sector_data_field_name(bits[k]);
        const char *val = vals[k];
        if ((fields & bits[k]) && val) {
            *slot[k] = (char *) val;
            json_object_set_new(st->sent, name, json_string(val));
        }
    }
    if (fields)
        b->r.person = &b->p;
}

// The message: the minimum of the person, a referral-scoped pseudonym,
// the consent reference (or the override).
// The legal basis of the referral in 'b': the consent reference (and, for
// a child, the guardian) of the verdict's record, or the override.
static void
s_refer_basis(const s_refer_t *st, s_refer_msg_t *b)
{
    const pl_consent_verdict_t *v = &st->v;
    Passerelle__V1__Referral *r = &b->r;
    if (v->record) {
        for (size_t k = 0; k < v->record->nsectors; k++)
            b->csect[k] = (char *) v->record->sectors[k];
        b->cr.consent_id.data = (uint8_t *) v->record->id;
        b->cr.consent_id.len = PL_CASE_ID;
        b->cr.given_by = (char *) pl_consent_giver_name(v->record->given_by);
        b->cr.n_sectors = v->record->nsectors;
        b->cr.sectors = b->csect;
        b->cr.purpose = (char *) st->purpose;
        b->cr.expires_at = v->record->expires_at;
        if (v->record->guardian_name[0])
            b->cr.guardian_name = (char *) v->record->guardian_name;
        if (v->child && v->record->child_views[0])
            b->cr.child_views = (char *) v->record->child_views;
        r->consent = &b->cr;
        if (v->child && v->record->guardian_name[0]) {
            b->g.name = (char *) v->record->guardian_name;
            r->guardian = &b->g;
        }
    }
    if (v->override) {
        b->co.justification = (char *) st->oj;
        b->co.approved_by = (char *) st->ab;
        r->override = &b->co;
    }
}

static void
s_refer_message(s_refer_t *st, json_t *args, const char *as, s_refer_msg_t *b)
{
    *b = (s_refer_msg_t){
        .m = PASSERELLE__V1__MESSAGE__INIT,
        .r = PASSERELLE__V1__REFERRAL__INIT,
        .p = PASSERELLE__V1__PERSON__INIT,
        .cr = PASSERELLE__V1__CONSENT_REF__INIT,
        .co = PASSERELLE__V1__CONSENT_OVERRIDE__INIT,
        .g = PASSERELLE__V1__GUARDIAN__INIT,
    };
    uint8_t ps[5];
    pl_random(ps, sizeof ps);
    pl_hex(st->pseudonym + 2, ps, sizeof ps);
    st->pseudonym[0] = 'P';
    st->pseudonym[1] = '-';
    const pl_consent_verdict_t *v = &st->v;
    Passerelle__V1__Referral *r = &b->r;
    r->referral_id.data = st->rid;
    r->referral_id.len = PL_CASE_ID;
    r->pseudonym = st->pseudonym;
    r->legal_basis = v->override ? "override" : "consent";
    r->purpose = (char *) st->purpose;
    r->sector = (char *) st->cert->sector;
    r->service = (char *) st->service;
    r->priority = (char *) pl_referral_priority_name(st->pr);
    r->has_due = st->due != 0;
    r->due = st->due;
    r->note = (char *) st->note;
    r->created_at = st->now;
    r->by = (char *) pl_case_by(as);
    r->has_child = true;
    r->child = v->child;
    r->uasc = (char *) st->uasc;
    if (v->child && st->person.uasc != PL_UASC_NONE)
        r->bia_ref = (char *) st->person.bia_ref; // the gate required it
    size_t nn = 0, i;
    json_t *e;
    json_array_foreach(st->cs.rec.needs, i, e)
    {
        if (nn < 8 && json_is_string(e))
            b->needv[nn++] = (char *) json_string_value(e);
    }
    r->n_needs = nn;
    r->needs = b->needv;
    s_refer_minimise(st, b);
    s_refer_basis(st, b);
    // test-only: send without the consent reference, to prove that the
    // recipient refuses it (test builds, PASSERELLE_TEST_HOOKS=1 in the
    // daemon's environment)
    if (json_is_true(json_object_get(args, "test_omit_consent"))
        && pl_case_test_hooks())
        r->consent = NULL;
    b->m.body_case = PASSERELLE__V1__MESSAGE__BODY_REFERRAL;
    b->m.referral = r;
}

// The referral and (for a child) the cp-notification into the outbox.
static int
s_refer_outbox(pl_node_ctx_t *ctx, pl_txn_t *txn, s_refer_t *st,
               const s_refer_msg_t *b, const char *as)
{
    pl_buf_t enc = {0};
    int rc = pl_message_encode(&b->m, &enc);
    if (rc == PL_OK)
        rc = pl_ctx_outbox_add(ctx, txn, st->addr, S_KIND_REFERRAL, enc.data,
                               enc.len, 0, st->msgid);
    pl_buf_wipe(&enc);
    uint8_t cp_msg[PL_MSG_ID_BYTES];
    if (rc == PL_OK && st->notify_cp)
        rc = pl_case_cp_notify(ctx, txn, st->cp_addr, st->rid, st->uasc,
                               st->now, as, cp_msg);
    return rc;
}

// The sender's record, sealed under the case key.
static json_t *
s_refer_doc(s_refer_t *st, const char *as)
{
    const pl_consent_verdict_t *v = &st->v;
    char case_hex[2 * PL_CASE_ID + 1], msg[2 * PL_MSG_ID_BYTES + 1];
    pl_hex(case_hex, st->case_id, PL_CASE_ID);
    pl_hex(msg, st->msgid, PL_MSG_ID_BYTES);
    pl_ref_rec_t r = {0};
    const char *uasc = v->child ? st->uasc : NULL;
    const struct {
        char **field;
        const char *v;
    } strs[] = {
        {&r.dir, "out"},
        {&r.peer, st->addr},
        {&r.case_hex, case_hex},
        {&r.pseudonym, st->pseudonym},
        {&r.sector, st->cert->sector},
        {&r.service, st->service},
        {&r.purpose, st->purpose},
        {&r.priority, pl_referral_priority_name(st->pr)},
        {&r.note, st->note},
        {&r.referred_by, pl_case_by(as)},
        {&r.legal_basis, v->override ? "override" : "consent"},
        {&r.uasc, uasc},
        {&r.cp_notified, st->notify_cp ? st->cp_addr : NULL},
        {&r.msg, msg},
    };
    int rc = PL_OK;
    for (size_t i = 0; rc == PL_OK && i < sizeof strs / sizeof *strs; i++)
        rc = pl_case_rec_set(strs[i].field, strs[i].v);
    r.due = st->due;
    r.created = r.last_change = st->now;
    if (v->record) {
        r.consent = json_object();
        json_object_set_new(r.consent, "id",
                            pl_node_json_hex(v->record->id, PL_CASE_ID));
        json_object_set_new(
            r.consent, "given_by",
            json_string(pl_consent_giver_name(v->record->given_by)));
        json_object_set_new(r.consent, "expires",
                            pl_node_json_time(v->record->expires_at));
    }
    if (v->override)
        r.override = json_pack("{s:s, s:s, s:s}", "justification", st->oj,
                               "approved_by", st->ab, "overrode",
                               pl_consent_reason_name(v->overridden));
    r.person = st->sent;
    st->sent = NULL;
    r.has_child = true;
    r.child = v->child;
    pl_referral_track_t t;
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    if (rc == PL_OK)
        rc = pl_case_track_set(&r, &t);
    if (rc == PL_OK)
        rc = pl_case_history(&r, "requested", st->now, pl_case_by(as), NULL,
                             NULL, NULL, NULL);
    json_t *doc = rc == PL_OK ? pl_ref_rec_encode(&r) : NULL;
    pl_ref_rec_free(&r);
    return doc;
}

// Stores the sender's record and the envelope index, audits the send
// (and an override).
static int
s_refer_record(pl_node_ctx_t *ctx, pl_txn_t *txn, s_refer_t *st, const char *as)
{
    pl_sealed_t rs = {.hdr = {PL_CASE_VER}, .doc = s_refer_doc(st, as)};
    memcpy(rs.hdr + 1, st->cs.s.hdr + 1, PL_DATAKEY_ID_BYTES); // case key
    memcpy(rs.dk, st->cs.s.dk, sizeof rs.dk);
    int rc = pl_case_ref_save(txn, st->rid, &rs);
    pl_sealed_release(&rs);
    uint8_t mk[1 + PL_CASE_ID], digest[PL_DIGEST_BYTES];
    pl_case_rkey(mk, 'm', st->msgid);
    if (rc == PL_OK)
        rc = pl_store_put(txn, PL_DB_REFERRALS, mk, sizeof mk, st->rid,
                          PL_CASE_ID);
    if (rc == PL_OK)
        rc = pl_case_out_digest(txn, st->msgid, digest);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_OUT, st->addr, st->msgid, digest,
                           "referral", as, st->rid, "refer", "applied",
                           st->v.override ? "override" : NULL);
    if (rc == PL_OK && st->v.override)
        rc =
            pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, st->addr, NULL, NULL,
                          "consent", st->ab, st->rid, "consent-override",
                          "approved", pl_consent_reason_name(st->v.overridden));
    return rc;
}

// ---- a referral from a draft (issue 16: a FHIR import's "drafts" in the
// case record)

// The draft 'did' of the open case 'cs', or NULL.
static json_t *
s_draft_find(const pl_case_t *cs, const char *did)
{
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(cs->rec.extra, "drafts"), i, d)
    {
        const char *id = json_string_value(json_object_get(d, "id"));
        if (id && did && !strcmp(id, did))
            return d;
    }
    return NULL;
}

// With "draft" in 'args': its values fill what the call did not give (to,
// service, purpose, priority, due, note). NULL, or the error reply.
static char *
s_draft_args(const pl_case_t *cs, json_t *args, int *rc_out)
{
    const char *did = pl_case_arg(args, "draft");
    if (!did)
        return NULL;
    const json_t *d = s_draft_find(cs, did);
    *rc_out = d ? PL_OK : PL_ENOTFOUND;
    if (!d)
        return pl_node_ctl_error(PL_ENOTFOUND, "the case has no draft %s", did);
    const char *done = json_string_value(json_object_get(d, "referral"));
    if (done) {
        *rc_out = PL_ESTATE;
        return pl_node_ctl_error(
            PL_ESTATE, "draft %s was already referred as %s", did, done);
    }
    static const char *const keys[] = {"to",  "service", "purpose", "priority",
                                       "due", "note",    NULL};
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(d, keys[i]);
        if (v && !json_object_get(args, keys[i]))
            json_object_set(args, keys[i], v);
    }
    return NULL;
}

// After the referral 'rid' went out: draft 'did' of case 'case_id' is
// marked used, so that it is not referred twice.
static int
s_draft_used(pl_txn_t *txn, const uint8_t case_id[PL_CASE_ID], const char *did,
             const uint8_t rid[PL_CASE_ID])
{
    pl_case_t cs = PL_CASE_INIT;
    char hex[2 * PL_CASE_ID + 1];
    pl_hex(hex, case_id, PL_CASE_ID);
    uint8_t id[PL_CASE_ID];
    int rc;
    char *err = pl_case_rec_open(txn, hex, id, &cs, &rc);
    if (err) {
        free(err);
        return rc;
    }
    json_t *d = s_draft_find(&cs, did);
    pl_hex(hex, rid, PL_CASE_ID);
    rc = d && json_object_set_new(d, "referral", json_string(hex)) == 0
             ? pl_case_rec_save(txn, id, &cs)
             : PL_OK;
    pl_case_rec_release(&cs);
    return rc;
}

char *
pl_case_refer(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
              int *rc_out)
{
    s_refer_t st = {.cs = PL_CASE_INIT, .now = pl_now()};
    char *reply = pl_case_rec_open(txn, pl_case_arg(args, "case"), st.case_id,
                                   &st.cs, rc_out);
    if (!reply)
        reply = s_draft_args(&st.cs, args, rc_out);
    if (!reply)
        reply = s_refer_args(ctx, txn, args, &st, rc_out);
    if (!reply) // issue 18: a full service warns (nodes/pl_node_svc.c)
        reply = pl_svc_refer_check(
            ctx, txn, st.addr, st.service,
            json_is_true(json_object_get(args, "confirm_full")), rc_out);
    if (!reply)
        reply = s_refer_gate(ctx, txn, &st, as, rc_out);
    if (!reply)
        reply = s_refer_cp(ctx, txn, &st, as, rc_out);
    if (reply) {
        s_refer_free(&st);
        return reply;
    }
    s_refer_msg_t b;
    s_refer_message(&st, args, as, &b);
    int rc = s_refer_outbox(ctx, txn, &st, &b, as);
    if (rc != PL_OK) {
        *rc_out = rc;
        s_refer_free(&st);
        return pl_case_outbox_error(ctx, rc, st.addr);
    }
    rc = s_refer_record(ctx, txn, &st, as);
    s_refer_free(&st);
    if (rc == PL_OK && pl_case_arg(args, "draft"))
        rc = s_draft_used(txn, st.case_id, pl_case_arg(args, "draft"), st.rid);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the referral: %s",
                                 pl_strerror(rc));
    pl_log_info(ctx->log, "referral_sent to=%s sector=%s", st.addr,
                st.cert->sector);
    return pl_node_ctl_ok(json_pack(
        "{s:o, s:s, s:s, s:s}", "id", pl_node_json_hex(st.rid, PL_CASE_ID),
        "to", st.addr, "status", "requested", "pseudonym", st.pseudonym));
}

// ---- status updates made here (accept, ..., cancel)

// Seals a StatusUpdate to 'peer'; 'msgid' gets its id.
int
pl_case_send_status(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *peer,
                    const uint8_t rid[PL_CASE_ID],
                    const pl_referral_update_t *u, const char *reason,
                    const char *note, const char *by, uint64_t at,
                    uint8_t msgid[PL_MSG_ID_BYTES])
{
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__StatusUpdate su = PASSERELLE__V1__STATUS_UPDATE__INIT;
    su.referral_id.data = (uint8_t *) rid;
    su.referral_id.len = PL_CASE_ID;
    su.seq = u->seq;
    su.status = (char *) pl_referral_state_name(u->to);
    su.reason = (char *) reason;
    su.note = (char *) note;
    if (u->outcome != PL_OUTCOME_NONE)
        su.outcome = (char *) pl_referral_outcome_name(u->outcome);
    su.at = at;
    su.by = (char *) by;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_STATUS_UPDATE;
    m.status_update = &su;
    pl_buf_t enc = {0};
    int rc = pl_message_encode(&m, &enc);
    if (rc == PL_OK)
        rc = pl_ctx_outbox_add(ctx, txn, peer, S_KIND_STATUS, enc.data, enc.len,
                               0, msgid);
    pl_buf_wipe(&enc);
    return rc;
}

// The arguments of referral.act: event, reason, note, outcome.
typedef struct {
    const char *evs, *reason, *note, *outs; // as given (may be NULL)
    pl_referral_event_t ev;
    pl_referral_outcome_t oc;
} s_act_args_t;

// Reads and checks them; NULL, or the error reply (PL_EINVAL).
static char *
s_act_args(const json_t *args, s_act_args_t *a)
{
    a->evs = pl_case_arg(args, "event");
    a->reason = pl_case_arg(args, "reason");
    a->note = pl_case_arg(args, "note");
    a->outs = pl_case_arg(args, "outcome");
    a->oc = PL_OUTCOME_NONE;
    if (!a->evs || pl_referral_event_parse(a->evs, &a->ev) != PL_OK
        || a->ev == PL_RE_RECEIVE)
        return pl_node_ctl_error(PL_EINVAL,
                                 "event is accept, reject, start, hold, "
                                 "resume, complete or cancel");
    if (pl_referral_event_needs_reason(a->ev) && !a->reason)
        return pl_node_ctl_error(PL_EINVAL, "%s needs --reason CODE", a->evs);
    if (a->reason && !pl_slug_valid(a->reason))
        return pl_node_ctl_error(PL_EINVAL,
                                 "the reason is a code (a-z, 0-9, -), e.g. "
                                 "no-capacity; free text goes in --note");
    if (a->note && strlen(a->note) > PL_CASE_TEXT)
        return pl_node_ctl_error(PL_EINVAL, "the note is too long");
    if (a->ev == PL_RE_COMPLETE
        && (!a->outs || pl_referral_outcome_parse(a->outs, &a->oc) != PL_OK))
        return pl_node_ctl_error(PL_EINVAL, "complete needs --outcome "
                                            "successful|not-successful");
    if (a->ev != PL_RE_COMPLETE && a->outs)
        return pl_node_ctl_error(PL_EINVAL, "only complete takes --outcome");
    return NULL;
}

char *
pl_case_act(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
            int *rc_out)
{
    *rc_out = PL_EINVAL;
    s_act_args_t aa;
    char *bad = s_act_args(args, &aa);
    if (bad)
        return bad;
    const char *evs = aa.evs, *reason = aa.reason, *note = aa.note;
    pl_referral_event_t ev = aa.ev;
    pl_referral_outcome_t oc = aa.oc;
    uint8_t rid[PL_CASE_ID];
    pl_ref_t rs = PL_REF_INIT;
    char *err = pl_case_resolve(txn, PL_DB_REFERRALS, 'r', "referral",
                                pl_case_arg(args, "id"), rid, rc_out);
    if (err)
        return err;
    pl_referral_track_t t;
    int rc = pl_case_refrec_open(txn, rid, &rs);
    if (rc == PL_OK)
        rc = pl_case_track_get(&rs.rec, &t);
    if (rc != PL_OK) {
        *rc_out = rc;
        pl_case_refrec_release(&rs);
        return pl_node_ctl_error(rc, "cannot read the referral: %s",
                                 pl_strerror(rc));
    }
    pl_referral_update_t u;
    pl_referral_result_t res = pl_referral_track_act(&t, ev, oc, &u);
    const char *peer = rs.rec.peer;
    if (res != PL_REF_APPLIED) {
        char text[256];
        pl_referral_refusal_text(text, sizeof text, res,
                                 pl_referral_track_state(&t), ev, t.me);
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, peer, NULL, NULL,
                           "referral", as, rid, evs,
                           pl_referral_result_name(res), NULL);
        pl_case_refrec_release(&rs);
        *rc_out = rc; // the refusal is audited
        return pl_node_ctl_error(pl_referral_result_err(res), "%s", text);
    }
    uint64_t now = pl_now();
    uint8_t msgid[PL_MSG_ID_BYTES], digest[PL_DIGEST_BYTES];
    rc = pl_case_send_status(ctx, txn, peer, rid, &u, reason, note,
                             pl_case_by(as), now, msgid);
    if (rc != PL_OK) {
        char peer_copy[PL_ADDRESS_MAX + 1];
        snprintf(peer_copy, sizeof peer_copy, "%s", peer ? peer : "?");
        pl_case_refrec_release(&rs);
        *rc_out = rc;
        return pl_case_outbox_error(ctx, rc, peer_copy);
    }
    rc = pl_case_track_set(&rs.rec, &t);
    if (rc == PL_OK)
        rc = pl_case_history(&rs.rec, pl_referral_state_name(u.to), now,
                             pl_case_by(as), reason, note,
                             oc ? pl_referral_outcome_name(oc) : NULL, NULL);
    rs.rec.last_change = now;
    if (rc == PL_OK)
        rc = pl_case_out_digest(txn, msgid, digest);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_OUT, peer, msgid, digest,
                           "status-update", as, rid, evs, "applied", reason);
    if (rc == PL_OK)
        rc = pl_case_refrec_save(txn, rid, &rs);
    const char *status = pl_referral_state_name(pl_referral_track_state(&t));
    pl_case_refrec_release(&rs);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the update: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:o, s:s, s:I}", "id",
                                    pl_node_json_hex(rid, PL_CASE_ID), "status",
                                    status, "seq", (json_int_t) u.seq));
}

// ---- inbound (recipient of a referral, or sender receiving updates)

// Re-checks the consent a referral carries against this node's sector.
// Returns NULL when it may be stored, else the refusal code; 'why' gets
// the line for the log.
static const char *
s_recheck(pl_node_ctx_t *ctx, const Passerelle__V1__Referral *r, uint64_t now,
          bool *override, char *why, size_t why_size)
{
    *override = false;
    if (strcmp(r->sector, ctx->me->sector) != 0) {
        snprintf(why, why_size, "referral for sector '%s', this node is '%s'",
                 r->sector, ctx->me->sector);
        return "wrong-sector";
    }
    const Passerelle__V1__ConsentRef *cr = r->consent;
    if (cr) {
        pl_consent_t rec;
        memset(&rec, 0, sizeof rec);
        for (size_t i = 0; i < cr->n_sectors && i < PL_CONSENT_SECTORS_MAX; i++)
            snprintf(rec.sectors[rec.nsectors++], PL_CONSENT_CODE_MAX + 1, "%s",
                     cr->sectors[i]);
        snprintf(rec.purposes[0], PL_CONSENT_CODE_MAX + 1, "%s", cr->purpose);
        rec.npurposes = 1;
        if (pl_consent_giver_parse(cr->given_by, &rec.given_by) != PL_OK) {
            snprintf(why, why_size, "consent: unknown giver '%s'",
                     cr->given_by);
            return "no-consent";
        }
        rec.expires_at = cr->expires_at;
        pl_consent_reason_t cre = pl_consent_covers(
            &rec, ctx->me->sector, r->purpose,
            pl_sector_data_categories(ctx->me->sector), now, why, why_size);
        bool child = r->has_child && r->child;
        if (cre == PL_CONSENT_OK && child && r->uasc && r->uasc[0]) {
            // unaccompanied or separated: a best-interests assessment
            if (!r->bia_ref || !r->bia_ref[0]) {
                snprintf(why, why_size,
                         "consent: an unaccompanied or separated child's "
                         "referral without a best-interests assessment");
                cre = PL_CONSENT_BIA;
            }
        } else if (cre == PL_CONSENT_OK && child
                   && (rec.given_by != PL_GIVEN_BY_GUARDIAN
                       || !cr->guardian_name || !cr->child_views)) {
            snprintf(why, why_size,
                     "consent: a child's referral without a guardian's "
                     "consent and the child's views");
            cre = PL_CONSENT_CHILD_GIVER;
        }
        pl_store_wipe(&rec, sizeof rec);
        if (cre == PL_CONSENT_OK)
            return NULL;
        if (cre == PL_CONSENT_EXPIRED)
            return "consent-expired";
    } else {
        snprintf(why, why_size,
                 "consent: the referral carries no consent "
                 "reference");
    }
    const Passerelle__V1__ConsentOverride *ov = r->override;
    if (ov && ov->justification[0] && ov->approved_by[0]) {
        *override = true;
        return NULL;
    }
    return "no-consent";
}

// Destroys the data key of our inbox copy of envelope 'id' (used when a
// referral is refused: none of its personal data is kept).
int
pl_case_shred_inbox(pl_txn_t *txn, const uint8_t id[PL_MSG_ID_BYTES])
{
    const uint8_t *v;
    size_t vlen;
    pl_inrec_t in;
    int rc = pl_store_get(txn, PL_DB_INBOX, id, PL_MSG_ID_BYTES, &v, &vlen);
    if (rc == PL_ENOTFOUND)
        return PL_OK;
    if (rc == PL_OK)
        rc = pl_inrec_decode(v, vlen, &in);
    if (rc != PL_OK)
        return rc == PL_EPROTO ? PL_OK : rc;
    uint8_t dkid[PL_DATAKEY_ID_BYTES];
    memcpy(dkid, in.dkid, sizeof dkid);
    rc = pl_store_datakey_destroy(txn, dkid);
    return rc == PL_ENOTFOUND ? PL_OK : rc;
}

// An inbound referral whose id is taken, or whose consent was withdrawn
// before it arrived: refused and audited (*done). Else PL_OK, !*done.
static int
s_in_taken(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
           const uint8_t digest[32], const uint8_t *rid, bool *done)
{
    uint8_t rk[1 + PL_CASE_ID];
    pl_case_rkey(rk, 'r', rid);
    const uint8_t *v;
    size_t vlen;
    *done = true;
    int rc = pl_store_get(txn, PL_DB_REFERRALS, rk, sizeof rk, &v, &vlen);
    if (rc == PL_OK) {
        pl_log_error(ctx->log,
                     "referral_refused from=%s reason=referral_id_in_use",
                     h->from);
        return pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                             "referral", NULL, rid, "receive", "refused",
                             "duplicate-id");
    }
    if (rc != PL_ENOTFOUND)
        return rc;
    pl_case_rkey(rk, 'x', rid); // its consent was withdrawn before it arrived
    rc = pl_store_get(txn, PL_DB_REFERRALS, rk, sizeof rk, &v, &vlen);
    if (rc == PL_OK) {
        pl_log_warn(ctx->log, "referral_refused from=%s reason=withdrawn",
                    h->from);
        rc = pl_case_shred_inbox(txn, h->id);
        if (rc == PL_OK)
            rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                               "referral", NULL, rid, "receive", "refused",
                               "consent-withdrawn");
        return rc;
    }
    if (rc != PL_ENOTFOUND)
        return rc;
    *done = false;
    return PL_OK;
}

// The recipient's record of an inbound referral, before it is accepted
// or refused.
static int
s_in_doc(pl_node_ctx_t *ctx, const pl_header_t *h,
         const Passerelle__V1__Referral *r, uint64_t now, pl_ref_rec_t *d)
{
    pl_referral_priority_t pr;
    if (pl_referral_priority_parse(r->priority, &pr) != PL_OK)
        pr = PL_PRIORITY_NORMAL;
    char msg[2 * PL_MSG_ID_BYTES + 1];
    pl_hex(msg, h->id, PL_MSG_ID_BYTES);
    const struct {
        char **field;
        const char *v;
    } strs[] = {
        {&d->dir, "in"},
        {&d->peer, h->from},
        {&d->pseudonym, r->pseudonym},
        {&d->sector, r->sector},
        {&d->service, r->service},
        {&d->purpose, r->purpose},
        {&d->priority, pl_referral_priority_name(pr)},
        {&d->referred_by, r->by},
        {&d->legal_basis, r->legal_basis},
        {&d->msg, msg},
    };
    int rc = PL_OK;
    for (size_t i = 0; rc == PL_OK && i < sizeof strs / sizeof *strs; i++)
        rc = pl_case_rec_set(strs[i].field, strs[i].v);
    d->due = r->has_due ? r->due : 0;
    d->created = r->created_at ? r->created_at : now;
    d->last_change = now;
    d->has_child = true;
    d->child = r->has_child && r->child;
    if (rc == PL_OK)
        rc = pl_case_history(d, "requested", d->created, r->by, NULL, NULL,
                             NULL, NULL);
    if (rc == PL_OK)
        rc = pl_case_history(d, "received", now, ctx->me->address, NULL, NULL,
                             NULL, NULL);
    return rc;
}

// Accepted: what this node may see (the sector table's fields, no more)
// goes into 'doc'; audited.
static int
s_in_accept(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
            const uint8_t digest[32], const Passerelle__V1__Referral *r,
            bool override, pl_ref_rec_t *d)
{
    uint32_t fields = pl_sector_data_fields(ctx->me->sector);
    json_t *pj = json_object();
    const Passerelle__V1__Person *p = r->person;
    const char *vals[] = {p ? p->given : NULL,    p ? p->family : NULL,
                          p ? p->birth : NULL,    p ? p->sex : NULL,
                          p ? p->language : NULL, p ? p->phone : NULL};
    static const uint32_t bits[] = {PL_FIELD_GIVEN,    PL_FIELD_FAMILY,
                                    PL_FIELD_BIRTH,    PL_FIELD_SEX,
                                    PL_FIELD_LANGUAGE, PL_FIELD_PHONE};
    for (size_t k = 0; k < 6; k++)
        if ((fields & bits[k]) && vals[k])
            json_object_set_new(pj, pl_sector_data_field_name(bits[k]),
                                json_string(vals[k]));
    d->person = pj;
    int rc = pl_case_rec_set(&d->note, r->note);
    if (rc == PL_OK)
        rc = pl_case_rec_set(&d->uasc, r->uasc);
    if (rc != PL_OK)
        return rc;
    json_t *needs = json_array();
    for (size_t k = 0; k < r->n_needs; k++)
        json_array_append_new(needs, json_string(r->needs[k]));
    d->needs = needs;
    if (r->consent) {
        json_t *cj = json_object();
        json_object_set_new(cj, "given_by", json_string(r->consent->given_by));
        json_object_set_new(cj, "expires",
                            pl_node_json_time(r->consent->expires_at));
        if (r->consent->guardian_name)
            json_object_set_new(cj, "guardian_name",
                                json_string(r->consent->guardian_name));
        if (r->consent->child_views)
            json_object_set_new(cj, "child_views",
                                json_string(r->consent->child_views));
        d->consent = cj;
    }
    if (override)
        d->override = (json_pack("{s:s, s:s}", "justification",
                                 r->override->justification, "approved_by",
                                 r->override->approved_by));
    rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                       "referral", r->by, r->referral_id.data, "receive",
                       "applied", override ? "override" : NULL);
    pl_log_info(ctx->log, "referral_received from=%s", h->from);
    return rc;
}

// Refused: answered at once with `rejected`, nothing personal kept (the
// inbox copy is shredded); audited both ways.
static int
s_in_refuse(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
            const uint8_t digest[32], const Passerelle__V1__Referral *r,
            const char *refusal, const char *why, uint64_t now,
            pl_referral_track_t *t, pl_ref_rec_t *d)
{
    const uint8_t *rid = r->referral_id.data;
    uint8_t msgid[PL_MSG_ID_BYTES], odig[PL_DIGEST_BYTES];
    pl_referral_update_t u;
    PL_IGNORE(pl_referral_track_act(t, PL_RE_REJECT, PL_OUTCOME_NONE, &u));
    d->person = json_object();
    int rc = pl_case_rec_set(&d->refused, why);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                           "referral", r->by, rid, "receive", "refused",
                           refusal);
    if (rc == PL_OK)
        rc = pl_case_send_status(ctx, txn, d->peer, rid, &u, refusal, NULL,
                                 PL_CASE_SYSTEM, now, msgid);
    if (rc == PL_OK)
        rc = pl_case_out_digest(txn, msgid, odig);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_OUT, h->from, msgid, odig,
                           "status-update", PL_CASE_SYSTEM, rid, "reject",
                           "applied", refusal);
    if (rc == PL_OK)
        rc = pl_case_shred_inbox(txn, h->id);
    if (rc == PL_OK)
        rc = pl_case_history(d, "rejected", now, PL_CASE_SYSTEM, refusal, NULL,
                             NULL, NULL);
    pl_log_warn(ctx->log, "referral_refused from=%s reason=%s (%s)", h->from,
                refusal, why);
    return rc;
}

int
pl_case_on_referral(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
                    const uint8_t digest[32], const Passerelle__V1__Referral *r)
{
    if (r->referral_id.len != PL_CASE_ID) {
        pl_log_warn(ctx->log, "referral_refused from=%s reason=malformed",
                    h->from);
        return pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                             "referral", NULL, NULL, "receive", "refused",
                             "malformed");
    }
    const uint8_t *rid = r->referral_id.data;
    bool done;
    int rc = s_in_taken(ctx, txn, h, digest, rid, &done);
    if (done)
        return rc;
    uint64_t now = pl_now();
    bool override = false;
    char why[PL_CONSENT_TEXT_MAX] = "";
    const char *refusal = s_recheck(ctx, r, now, &override, why, sizeof why);
    pl_ref_t rs = {.s = {.hdr = {PL_CASE_VER}}};
    // the referral's own key
    rc = pl_store_datakey_new(txn, rs.s.hdr + 1, rs.s.dk);
    if (rc == PL_OK)
        rc = s_in_doc(ctx, h, r, now, &rs.rec);
    pl_referral_track_t t;
    pl_referral_track_init(&t, PL_SIDE_RECIPIENT);
    PL_IGNORE(pl_referral_track_received(&t, NULL));
    if (rc == PL_OK && !refusal)
        rc = s_in_accept(ctx, txn, h, digest, r, override, &rs.rec);
    else if (rc == PL_OK)
        rc =
            s_in_refuse(ctx, txn, h, digest, r, refusal, why, now, &t, &rs.rec);
    if (rc == PL_OK)
        rc = pl_case_track_set(&rs.rec, &t);
    if (rc == PL_OK)
        rc = pl_case_refrec_save(txn, rid, &rs);
    pl_case_refrec_release(&rs);
    return rc;
}

// Details of an update kept while it waits in the track's pending list.
static void
s_pending_key(char out[24], pl_referral_side_t side, uint32_t seq)
{
    snprintf(out, 24, "%d:%u", (int) side, seq);
}

// The details of status update 'su' (envelope h->id, 'digest'), for the
// history now or, kept under "pending", when its turn comes.
static json_t *
s_status_detail(const pl_header_t *h, const uint8_t digest[32],
                const Passerelle__V1__StatusUpdate *su)
{
    json_t *det = json_object();
    json_object_set_new(det, "at", json_integer((json_int_t) su->at));
    if (su->by)
        json_object_set_new(det, "by", json_string(su->by));
    if (su->reason)
        json_object_set_new(det, "reason", json_string(su->reason));
    if (su->note)
        json_object_set_new(det, "note", json_string(su->note));
    if (su->outcome)
        json_object_set_new(det, "outcome", json_string(su->outcome));
    json_object_set_new(det, "msg", pl_node_json_hex(h->id, PL_MSG_ID_BYTES));
    json_object_set_new(det, "digest", pl_node_json_hex(digest, 32));
    return det;
}

// Opens the referral that 'su' names into 'rs' and checks that it comes
// from its peer. PL_OK: open, *peer set. Otherwise 'rs' is released and
// *done tells whether the refusal was audited (its rc returned) or the
// store failed.
static int
s_status_open(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
              const uint8_t digest[32], const Passerelle__V1__StatusUpdate *su,
              pl_ref_t *rs, const char **peer, bool *done)
{
    const uint8_t *rid =
        su->referral_id.len == PL_CASE_ID ? su->referral_id.data : NULL;
    int rc = rid ? pl_case_refrec_open(txn, rid, rs) : PL_EPROTO;
    *done = true;
    if (rc == PL_ENOMEM || rc == PL_EIO)
        return rc;
    *peer = rc == PL_OK ? rs->rec.peer : NULL;
    if (rc == PL_OK && *peer && strcmp(*peer, h->from) == 0) {
        *done = false;
        return PL_OK;
    }
    const char *detail = rc == PL_ENOTFOUND ? "unknown-referral"
                         : rc != PL_OK      ? "unreadable-referral"
                                            : "wrong-peer";
    pl_log_warn(ctx->log, "status_refused from=%s reason=%s", h->from, detail);
    pl_case_refrec_release(rs);
    return pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                         "status-update", su->by, rid, su->status, "refused",
                         detail);
}

// One processed update 'st' of referral 'rid' (document 'doc', from
// 'peer'): its history line, last_change, its audit entry; its details
// from "pending" (then removed), or those of 'su' when it is this
// envelope's own.
static int
s_status_step(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
              const uint8_t digest[32], const Passerelle__V1__StatusUpdate *su,
              pl_ref_rec_t *doc, const char *peer, const pl_referral_step_t *st,
              uint64_t now)
{
    const uint8_t *rid = su->referral_id.data;
    json_t *pend = doc->pending;
    pl_referral_side_t by = st->update.by;
    uint32_t seq = (uint32_t) (st->update.cookie & 0xffffffffu);
    char k[24];
    s_pending_key(k, by, seq);
    json_t *d = json_object_get(pend, k);
    json_t *d_own = NULL;
    if (!d)
        d = d_own = s_status_detail(h, digest, su); // this envelope's own
    uint64_t at = pl_case_u64(d, "at") ? pl_case_u64(d, "at") : now;
    const char *sby = pl_case_str(d, "by");
    uint8_t dm[PL_MSG_ID_BYTES], dd[PL_DIGEST_BYTES];
    bool have_m = pl_case_str(d, "msg")
                  && pl_unhex(dm, sizeof dm, pl_case_str(d, "msg")) == PL_OK;
    bool have_d = pl_case_str(d, "digest")
                  && pl_unhex(dd, sizeof dd, pl_case_str(d, "digest")) == PL_OK;
    int rc = PL_OK;
    if (st->implied_received)
        rc = pl_case_history(doc, "received", at, peer, NULL, NULL, NULL,
                             "implied");
    bool kept = st->result == PL_REF_APPLIED
                || st->result == PL_REF_AFTER_CANCEL
                || st->result == PL_REF_CANCEL_TOO_LATE;
    if (kept) {
        if (rc == PL_OK)
            rc = pl_case_history(doc, pl_referral_state_name(st->update.to), at,
                                 sby, pl_case_str(d, "reason"),
                                 pl_case_str(d, "note"),
                                 pl_case_str(d, "outcome"),
                                 st->result == PL_REF_APPLIED
                                     ? NULL
                                     : pl_referral_result_name(st->result));
        doc->last_change = now;
    } else {
        pl_log_warn(ctx->log,
                    "status_refused from=%s seq=%u status=%s result=%s",
                    h->from, seq, pl_referral_state_name(st->update.to),
                    pl_referral_result_name(st->result));
    }
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, have_m ? dm : NULL,
                           have_d ? dd : NULL, "status-update", sby, rid,
                           pl_referral_event_name(st->event),
                           pl_referral_result_name(st->result),
                           pl_case_str(d, "reason"));
    json_decref(d_own);
    json_object_del(pend, k);
    return rc;
}

// Applies 'su' to the track 't' of the open referral 'rs': *res gets the
// result, 'steps' the updates now processed; a buffered update's details
// are kept under "pending". false when the update does not parse.
static bool
s_status_apply(const pl_header_t *h, const uint8_t digest[32],
               const Passerelle__V1__StatusUpdate *su, pl_ref_t *rs,
               pl_referral_track_t *t, pl_referral_result_t *res,
               pl_referral_steps_t *steps)
{
    pl_referral_update_t u = {0};
    int rc = pl_case_track_get(&rs->rec, t);
    u.by = t->me == PL_SIDE_SENDER ? PL_SIDE_RECIPIENT : PL_SIDE_SENDER;
    u.seq = su->seq;
    u.cookie = ((uint64_t) u.by << 32) | su->seq;
    bool valid =
        rc == PL_OK && pl_referral_state_parse(su->status, &u.to) == PL_OK
        && (!su->outcome
            || pl_referral_outcome_parse(su->outcome, &u.outcome) == PL_OK);
    *res =
        valid ? pl_referral_track_apply(t, &u, steps) : PL_REF_REFUSED_INVALID;
    if (!rs->rec.pending)
        rs->rec.pending = json_object();
    json_t *pend = rs->rec.pending;
    if (*res == PL_REF_BUFFERED) {
        char pk[24];
        s_pending_key(pk, u.by, u.seq);
        json_object_set_new(pend, pk, s_status_detail(h, digest, su));
    }
    return valid;
}

int
pl_case_on_status(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
                  const uint8_t digest[32],
                  const Passerelle__V1__StatusUpdate *su)
{
    pl_ref_t rs = PL_REF_INIT;
    const char *peer = NULL;
    bool done;
    int rc = s_status_open(ctx, txn, h, digest, su, &rs, &peer, &done);
    if (done)
        return rc;
    const uint8_t *rid = su->referral_id.data;
    pl_referral_track_t t;
    pl_referral_result_t res;
    pl_referral_steps_t *steps = calloc(1, sizeof *steps);
    if (!steps) {
        pl_case_refrec_release(&rs);
        return PL_ENOMEM;
    }
    bool valid = s_status_apply(h, digest, su, &rs, &t, &res, steps);
    if (res == PL_REF_BUFFERED || res == PL_REF_DUPLICATE || !valid
        || res == PL_REF_REFUSED_INVALID || res == PL_REF_REFUSED_TOO_EARLY) {
        pl_log_info(ctx->log, "status_update from=%s seq=%u result=%s", h->from,
                    su->seq, pl_referral_result_name(res));
        rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                           "status-update", su->by, rid, su->status,
                           pl_referral_result_name(res), NULL);
        if (rc == PL_OK && res == PL_REF_BUFFERED) {
            // the track holds it until its turn
            rc = pl_case_track_set(&rs.rec, &t);
            if (rc == PL_OK)
                rc = pl_case_refrec_save(txn, rid, &rs);
        }
        free(steps);
        pl_case_refrec_release(&rs);
        return rc;
    }
    // every update processed, in order (this one and released ones)
    uint64_t now = pl_now();
    rc = PL_OK;
    for (size_t i = 0; rc == PL_OK && i < steps->count; i++)
        rc = s_status_step(ctx, txn, h, digest, su, &rs.rec, peer,
                           &steps->step[i], now);
    int trc = pl_case_track_set(&rs.rec, &t);
    pl_log_info(ctx->log, "status_update from=%s seq=%u status=%s now=%s",
                h->from, su->seq, su->status, rs.rec.status);
    if (rc == PL_OK)
        rc = trc;
    if (rc == PL_OK)
        rc = pl_case_refrec_save(txn, rid, &rs);
    free(steps);
    pl_case_refrec_release(&rs);
    return rc;
}

int
pl_case_on_receipt(pl_node_ctx_t *ctx, pl_txn_t *txn, const uint8_t msg_id[16],
                   const char *from, uint64_t received_at)
{
    uint8_t rid[PL_CASE_ID];
    int rc = pl_case_ref_of_msg(txn, msg_id, rid);
    if (rc != PL_OK)
        return rc == PL_ENOTFOUND ? PL_OK : rc; // not a referral of ours
    pl_ref_t rs = PL_REF_INIT;
    pl_referral_track_t t;
    rc = pl_case_refrec_open(txn, rid, &rs);
    if (rc == PL_OK)
        rc = pl_case_track_get(&rs.rec, &t);
    if (rc != PL_OK) {
        pl_case_refrec_release(&rs);
        return rc == PL_ENOMEM || rc == PL_EIO ? rc : PL_OK;
    }
    pl_referral_step_t step;
    pl_referral_result_t res = pl_referral_track_received(&t, &step);
    rc = PL_OK;
    if (res == PL_REF_APPLIED || res == PL_REF_AFTER_CANCEL) {
        rc = pl_case_history(&rs.rec, "received", received_at, from, NULL, NULL,
                             NULL,
                             res == PL_REF_APPLIED ? NULL : "after-cancel");
        rs.rec.last_change = pl_now();
    }
    if (rc == PL_OK)
        rc = pl_case_track_set(&rs.rec, &t);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_IN, from, msg_id, NULL, "receipt",
                           NULL, rid, "receive", pl_referral_result_name(res),
                           NULL);
    if (rc == PL_OK)
        rc = pl_case_refrec_save(txn, rid, &rs);
    pl_case_refrec_release(&rs);
    return rc;
}

// ---- overdue follow-up (sender)

static int
s_overdue_one(pl_case_rwalk_t *w, const uint8_t id[PL_CASE_ID],
              const pl_ref_rec_t *r)
{
    uint64_t since = 0;
    if (!r->dir || strcmp(r->dir, "out") != 0
        || !pl_case_overdue(r, w->now, &since) || r->overdue_logged == since)
        return PL_STORE_NEXT;
    pl_case_crefs_t *c = w->user;
    if (pl_case_crefs_push(c, id, r) != PL_OK)
        return PL_ENOMEM;
    c->v[c->n - 1].since = since;
    return PL_STORE_NEXT;
}

void
pl_case_overdue_sweep(pl_node_ctx_t *ctx)
{
    pl_txn_t *txn = NULL;
    if (pl_store_begin(ctx->store, NULL, true, &txn) != PL_OK)
        return;
    pl_case_crefs_t c = {0};
    pl_case_rwalk_t w = {.txn = txn, .now = pl_now(), .fn = s_overdue_one};
    w.user = &c;
    int rc = pl_store_each(txn, PL_DB_REFERRALS, pl_case_rwalk_one, &w);
    for (size_t i = 0; rc == PL_OK && i < c.n; i++) {
        pl_ref_t rr = PL_REF_INIT;
        rc = pl_case_refrec_open(txn, c.v[i].id, &rr);
        if (rc == PL_OK) {
            rr.rec.overdue_logged = c.v[i].since;
            rc = pl_case_refrec_save(txn, c.v[i].id, &rr);
        }
        pl_case_refrec_release(&rr);
    }
    if (rc == PL_OK && c.n)
        rc = pl_store_commit(&txn);
    else
        pl_store_abort(&txn);
    // logged once the store remembers it, so a restart does not log again
    for (size_t i = 0; rc == PL_OK && i < c.n; i++) {
        char hex[2 * PL_CASE_ID + 1], since[32];
        pl_hex(hex, c.v[i].id, PL_CASE_ID);
        pl_time_fmt(since, c.v[i].since);
        pl_log_warn(ctx->log, "referral_overdue id=%s priority=%s since=%s",
                    hex, c.v[i].priority, since);
    }
    free(c.v);
}
