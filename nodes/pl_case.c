// pl_case - the case room: case add, show, list, close, bia and erase
// (DESIGN.md §5; issues 7, 8). Layer: nodes, handlers. Commands in
// pl_case_cmds (pl_node_case.c); the helpers in pl_case_int.h.
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_casework.h"
#include "proto/pl_crypto.h"

// ---- cases

// The person fields of case.add: argument name and field of the record.
static const struct {
    const char *key;
    size_t off; // of the char * in pl_case_rec_t
} s_person_keys[] = {
    {"given", offsetof(pl_case_rec_t, given)},
    {"family", offsetof(pl_case_rec_t, family)},
    {"birth", offsetof(pl_case_rec_t, birth)},
    {"sex", offsetof(pl_case_rec_t, sex)},
    {"phone", offsetof(pl_case_rec_t, phone)},
    {"language", offsetof(pl_case_rec_t, language)},
};

// The record of a new case from the arguments of case.add; NULL or the
// error reply (PL_EINVAL, or *rc another code).
static char *
s_case_new(const json_t *args, const char *as, pl_case_rec_t *rec, int *rc)
{
    const char *given = pl_case_arg(args, "given"),
               *family = pl_case_arg(args, "family");
    const char *birth = pl_case_arg(args, "birth"),
               *uasc = pl_case_arg(args, "uasc");
    uint64_t t;
    *rc = PL_EINVAL;
    if (!given || !family || !birth)
        return pl_node_ctl_error(PL_EINVAL,
                                 "a case needs given, family and birth");
    if (pl_date_parse(birth, &t) != PL_OK || t > pl_now())
        return pl_node_ctl_error(PL_EINVAL,
                                 "birth must be a past date YYYY-MM-DD");
    pl_uasc_t u;
    if (uasc && pl_uasc_parse(uasc, &u) != PL_OK)
        return pl_node_ctl_error(PL_EINVAL,
                                 "uasc must be unaccompanied or separated");
    memset(rec, 0, sizeof *rec);
    int r = PL_OK;
    for (size_t i = 0; i < sizeof s_person_keys / sizeof *s_person_keys; i++) {
        const char *v = pl_case_arg(args, s_person_keys[i].key);
        if (v && strlen(v) > 200) {
            pl_case_rec_free(rec);
            return pl_node_ctl_error(PL_EINVAL, "%s is too long",
                                     s_person_keys[i].key);
        }
        char **field = (char **) (void *) ((char *) rec + s_person_keys[i].off);
        if (r == PL_OK)
            r = pl_case_rec_set(field, v);
    }
    if (r == PL_OK)
        r = pl_case_rec_set(&rec->uasc, uasc);
    rec->needs = pl_case_list_arg(json_object_get(args, "needs"));
    rec->flags = pl_case_list_arg(json_object_get(args, "flags"));
    rec->created = pl_now();
    if (r == PL_OK)
        r = pl_case_rec_set(&rec->by, pl_case_by(as));
    if (r != PL_OK || !rec->needs || !rec->flags) {
        pl_case_rec_free(rec);
        *rc = PL_ENOMEM;
        return pl_node_ctl_error(PL_ENOMEM, "out of memory");
    }
    return NULL;
}

char *
pl_case_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
            int *rc_out)
{
    pl_case_t cs = PL_CASE_INIT;
    char *err = s_case_new(args, as, &cs.rec, rc_out);
    if (err)
        return err;
    uint8_t id[PL_CASE_ID];
    pl_random(id, sizeof id);
    cs.s.hdr[0] = PL_CASE_VER;
    int rc = pl_store_datakey_new(txn, cs.s.hdr + 1, cs.s.dk);
    if (rc == PL_OK)
        rc = pl_case_rec_save(txn, id, &cs);
    pl_case_rec_release(&cs);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case",
                           as, id, "case-add", "applied", NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the case: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(
        json_pack("{s:o}", "id", pl_node_json_hex(id, PL_CASE_ID)));
}

// ---- case show / list / close

// `case show` of an erased case: the tombstone, or NULL (not erased).
static char *
s_case_erased(pl_txn_t *txn, const char *text)
{
    uint8_t id[PL_CASE_ID];
    int rc;
    char *err = pl_case_resolve(txn, PL_DB_CASES, 'e', "case", text, id, &rc);
    if (err) {
        free(err);
        return NULL;
    }
    uint8_t ek[1 + PL_CASE_ID];
    pl_case_rkey(ek, 'e', id);
    pl_buf_t b = {0};
    json_error_t jerr;
    json_t *t = NULL;
    if (pl_store_get_secret(txn, PL_DB_CASES, ek, sizeof ek, &b) == PL_OK)
        t = json_loadb((const char *) b.data, b.len, 0, &jerr);
    pl_buf_wipe(&b);
    if (!t)
        return NULL;
    json_t *o = json_pack(
        "{s:o, s:s, s:o}", "id", pl_node_json_hex(id, PL_CASE_ID), "status",
        "erased", "erased", pl_node_json_time(pl_case_u64(t, "erased")));
    if (pl_case_str(t, "by"))
        json_object_set_new(o, "erased_by", json_string(pl_case_str(t, "by")));
    json_decref(t);
    return pl_node_ctl_ok(o);
}

char *
pl_case_show(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    (void) as;
    (void) rc_out;
    (void) ctx;
    uint8_t id[PL_CASE_ID];
    pl_case_t cs = PL_CASE_INIT;
    int rc;
    char *err = pl_case_rec_open(txn, pl_case_arg(args, "id"), id, &cs, &rc);
    if (err && rc == PL_ENOTFOUND) {
        char *erased = s_case_erased(txn, pl_case_arg(args, "id"));
        if (erased) {
            free(err);
            return erased;
        }
    }
    if (err)
        return err;
    pl_case_consents_t c;
    rc = pl_case_consents_load(txn, id, cs.s.dk, &c);
    char hex[2 * PL_CASE_ID + 1];
    pl_hex(hex, id, PL_CASE_ID);
    pl_case_rwalk_t w = {.txn = txn, .now = pl_now(), .fn = pl_case_list_one};
    w.case_hex = hex;
    w.out = json_array();
    if (rc == PL_OK)
        rc = pl_store_each(txn, PL_DB_REFERRALS, pl_case_rwalk_one, &w);
    if (rc != PL_OK) {
        pl_case_consents_free(&c);
        pl_case_rec_release(&cs);
        json_decref(w.out);
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    uint64_t now = pl_now();
    size_t i;
    json_t *e;
    json_array_foreach(c.docs, i, e)
    {
        const pl_consent_t *r = &c.recs[i];
        json_object_set_new(
            e, "valid", json_boolean(!r->withdrawn_at && r->expires_at > now));
        json_object_set_new(e, "expires", pl_node_json_time(r->expires_at));
        json_object_set_new(e, "created", pl_node_json_time(r->created_at));
        if (r->withdrawn_at)
            json_object_set_new(e, "withdrawn",
                                pl_node_json_time(r->withdrawn_at));
    }
    // the reply: the record's document, times as text, and what is joined
    json_t *o = pl_case_rec_encode(&cs.rec);
    json_object_set_new(o, "id", json_string(hex));
    json_object_set_new(o, "created", pl_node_json_time(cs.rec.created));
    if (cs.rec.closed)
        json_object_set_new(o, "closed", pl_node_json_time(cs.rec.closed));
    json_object_set_new(o, "status",
                        json_string(cs.rec.closed ? "closed" : "open"));
    json_object_set(o, "consents", c.docs);
    json_object_set_new(o, "referrals", w.out);
    json_t *bia = json_object_get(o, "bia");
    if (bia) {
        json_object_set_new(bia, "date", pl_node_json_time(cs.rec.bia.date));
        json_object_set_new(bia, "recorded",
                            pl_node_json_time(cs.rec.bia.recorded));
    }
    json_array_foreach(json_object_get(o, "withdrawals"), i, e)
    {
        json_object_set_new(e, "at", pl_node_json_time(pl_case_u64(e, "at")));
        const char *hk;
        json_t *hv;
        json_object_foreach(json_object_get(e, "holders"), hk, hv)
        {
            if (pl_case_u64(hv, "confirmed"))
                json_object_set_new(
                    hv, "confirmed",
                    pl_node_json_time(pl_case_u64(hv, "confirmed")));
        }
    }
    pl_case_consents_free(&c);
    pl_case_rec_release(&cs);
    return o ? pl_node_ctl_ok(o) : pl_node_ctl_error(PL_ENOMEM, "no memory");
}

typedef struct {
    pl_txn_t *txn;
    const char *search; // lower-case needle, or NULL
    json_t *out;
} s_cwalk_t;

// Case-insensitive substring test (ASCII folding; UTF-8 bytes compare as
// they are).
static bool
s_contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

static int
s_case_list_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                void *arg)
{
    (void) v;
    (void) vl;
    s_cwalk_t *w = arg;
    if (kl != PL_CASE_ID)
        return PL_STORE_NEXT;
    uint8_t hdr[PL_CASE_HDR];
    json_t *doc = NULL;
    if (pl_case_get(w->txn, k, hdr, NULL, &doc) != PL_OK)
        return PL_STORE_NEXT;
    const char *g = pl_case_str(doc, "given"), *f = pl_case_str(doc, "family");
    if (!w->search || s_contains(g, w->search) || s_contains(f, w->search)) {
        json_t *o = json_object();
        json_object_set_new(o, "id", pl_node_json_hex(k, PL_CASE_ID));
        json_object_set_new(o, "given", json_string(g ? g : ""));
        json_object_set_new(o, "family", json_string(f ? f : ""));
        const char *b = pl_case_str(doc, "birth");
        json_object_set_new(o, "birth", json_string(b ? b : ""));
        json_object_set_new(o, "created",
                            pl_node_json_time(pl_case_u64(doc, "created")));
        json_object_set_new(
            o, "status",
            json_string(pl_case_u64(doc, "closed") ? "closed" : "open"));
        json_array_append_new(w->out, o);
    }
    json_decref(doc);
    return PL_STORE_NEXT;
}

char *
pl_case_list(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    (void) as;
    (void) rc_out;
    (void) ctx;
    s_cwalk_t w = {txn, pl_case_arg(args, "search"), json_array()};
    int rc = pl_store_each(txn, PL_DB_CASES, s_case_list_one, &w);
    if (rc != PL_OK) {
        json_decref(w.out);
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(w.out);
}

char *
pl_case_close(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
              int *rc_out)
{
    uint8_t id[PL_CASE_ID];
    pl_case_t cs = PL_CASE_INIT;
    const char *reason = pl_case_arg(args, "reason");
    char *err = pl_case_rec_open(txn, pl_case_arg(args, "id"), id, &cs, rc_out);
    if (err)
        return err;
    char hex[2 * PL_CASE_ID + 1];
    pl_hex(hex, id, PL_CASE_ID);
    pl_case_rwalk_t w = {.txn = txn, .now = pl_now(), .fn = pl_case_list_one};
    w.case_hex = hex;
    int rc = pl_store_each(txn, PL_DB_REFERRALS, pl_case_rwalk_one, &w);
    char *reply = NULL;
    int code = rc; // a refusal: the code of its reply (issue 12)
    if (rc != PL_OK)
        reply = pl_node_ctl_error(rc, "cannot read the store");
    else if (!reason || !pl_slug_valid(reason))
        reply = pl_node_ctl_error(code = PL_EINVAL,
                                  "case close needs --reason CODE "
                                  "(a-z, 0-9, -)");
    else if (cs.rec.closed)
        reply = pl_node_ctl_error(code = PL_ESTATE, "case %s is already closed",
                                  hex);
    else if (w.open)
        reply = pl_node_ctl_error(code = PL_ESTATE,
                                  "case %s has %zu open referral%s: cancel "
                                  "or complete them before closing it",
                                  hex, w.open, w.open == 1 ? "" : "s");
    if (!reply) // issue 17: endline survey or its reason, handbook reason
        reply = pl_casework_close_check(txn, id, reason, &code);
    if (reply) {
        *rc_out = code;
        pl_case_rec_release(&cs);
        return reply;
    }
    cs.rec.closed = pl_now();
    rc = pl_casework_close_done(txn, id, cs.rec.closed);
    if (rc == PL_OK)
        rc = pl_case_rec_set(&cs.rec.close_reason, reason);
    if (rc == PL_OK)
        rc = pl_case_rec_set(&cs.rec.closed_by, pl_case_by(as));
    if (rc == PL_OK)
        rc = pl_case_rec_save(txn, id, &cs);
    pl_case_rec_release(&cs);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case",
                           as, id, "case-close", "applied", reason);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot close: %s", pl_strerror(rc));
    return pl_node_ctl_ok(
        json_pack("{s:o, s:s}", "id", json_string(hex), "status", "closed"));
}

// ---- issue 8: best-interests assessments, notifications, withdrawal,
// erasure, overdue follow-up

// case.bia: records a best-interests assessment (reference and date) in
// the case, sealed under the case key like the rest of it.
char *
pl_case_bia(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
            int *rc_out)
{
    uint8_t id[PL_CASE_ID];
    pl_case_t cs = PL_CASE_INIT;
    char *reply =
        pl_case_rec_open(txn, pl_case_arg(args, "case"), id, &cs, rc_out);
    if (reply)
        return reply;
    const char *ref = pl_case_arg(args, "ref"),
               *date = pl_case_arg(args, "date");
    uint64_t t = 0, now = pl_now();
    int code = PL_EINVAL; // a refusal: the code of its reply (issue 12)
    if (!ref || strlen(ref) > 128)
        reply = pl_node_ctl_error(code, "case bia needs --ref REF (at "
                                        "most 128 bytes)");
    else if (!date || pl_date_parse(date, &t) != PL_OK || t > now)
        reply =
            pl_node_ctl_error(code, "case bia needs --date YYYY-MM-DD, not in "
                                    "the future");
    else if (cs.rec.closed)
        reply = pl_node_ctl_error(code = PL_ESTATE, "the case is closed");
    if (reply) {
        *rc_out = code;
        pl_case_rec_release(&cs);
        return reply;
    }
    // a new assessment replaces the last one, with all its keys
    json_decref(cs.rec.bia.extra);
    cs.rec.bia.extra = NULL;
    cs.rec.has_bia = true;
    cs.rec.bia.date = t;
    cs.rec.bia.recorded = now;
    int rc = pl_case_rec_set(&cs.rec.bia.ref, ref);
    if (rc == PL_OK)
        rc = pl_case_rec_set(&cs.rec.bia.by, pl_case_by(as));
    if (rc == PL_OK)
        rc = pl_case_rec_save(txn, id, &cs);
    pl_case_rec_release(&cs);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case",
                           as, id, "case-bia", "applied", NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the assessment: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:o, s:o}", "id",
                                    pl_node_json_hex(id, PL_CASE_ID), "date",
                                    pl_node_json_time(t)));
}

// ---- erase (owner)

typedef struct {
    const uint8_t *case_id; // match
    uint8_t tag;            // key tag ('w' in referrals) or 0 (consents)
    uint8_t (*keys)[1 + PL_CASE_ID];
    size_t n, cap;
} s_keys_t;

static int
s_keys_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    s_keys_t *s = arg;
    if (s->tag) {
        if (kl != 1 + PL_CASE_ID || k[0] != s->tag || vl != PL_CASE_ID
            || memcmp(v, s->case_id, PL_CASE_ID) != 0)
            return PL_STORE_NEXT;
    } else if (kl != PL_CASE_ID || vl < PL_CASE_HDR
               || memcmp(v + 1, s->case_id, PL_CASE_ID) != 0) {
        return PL_STORE_NEXT;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 8;
        void *p = realloc(s->keys, cap * sizeof *s->keys);
        if (!p)
            return PL_ENOMEM;
        s->keys = p;
        s->cap = cap;
    }
    memcpy(s->keys[s->n++], k, kl);
    return PL_STORE_NEXT;
}

// Deletes the records of 'db' that belong to the case (see s_keys_one).
static int
s_del_case_keys(pl_txn_t *txn, pl_db_t db, uint8_t tag,
                const uint8_t case_id[PL_CASE_ID])
{
    s_keys_t s = {case_id, tag, NULL, 0, 0};
    int rc = pl_store_each(txn, db, s_keys_one, &s);
    size_t kl = tag ? 1 + PL_CASE_ID : PL_CASE_ID;
    for (size_t i = 0; rc == PL_OK && i < s.n; i++)
        rc = pl_store_del(txn, db, s.keys[i], kl);
    free(s.keys);
    return rc;
}

char *
pl_case_erase(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
              int *rc_out)
{
    uint8_t id[PL_CASE_ID];
    pl_sealed_t cs = PL_SEALED_INIT;
    char *reply = pl_case_open(txn, pl_case_arg(args, "case"), id, &cs, rc_out);
    if (reply)
        return reply;
    pl_sealed_release(&cs); // the key itself is not needed
    char hex[2 * PL_CASE_ID + 1];
    pl_hex(hex, id, PL_CASE_ID);
    pl_case_crefs_t refs;
    int rc = pl_case_refs(txn, id, &refs);
    size_t open = 0;
    for (size_t i = 0; rc == PL_OK && i < refs.n; i++)
        open += refs.v[i].open;
    if (rc != PL_OK || open) {
        free(refs.v);
        *rc_out = rc != PL_OK ? rc : PL_ESTATE;
        if (rc != PL_OK)
            return pl_node_ctl_error(rc, "cannot read the store: %s",
                                     pl_strerror(rc));
        return pl_node_ctl_error(PL_ESTATE,
                                 "case %s has %zu open referral%s: cancel "
                                 "them (or wait until they are completed) "
                                 "before erasing it; nothing was erased",
                                 hex, open, open == 1 ? "" : "s");
    }
    uint8_t *ids = malloc(refs.n ? refs.n * PL_CASE_ID : 1);
    if (!ids)
        rc = PL_ENOMEM;
    for (size_t i = 0; rc == PL_OK && i < refs.n; i++) {
        uint8_t rk[1 + PL_CASE_ID];
        memcpy(ids + i * PL_CASE_ID, refs.v[i].id, PL_CASE_ID);
        pl_case_rkey(rk, 'r', refs.v[i].id);
        rc = pl_store_del(txn, PL_DB_REFERRALS, rk, sizeof rk);
        if (rc == PL_OK && refs.v[i].has_msg) {
            pl_case_rkey(rk, 'm', refs.v[i].msg);
            rc = pl_store_del(txn, PL_DB_REFERRALS, rk, sizeof rk);
            rc = rc == PL_ENOTFOUND ? PL_OK : rc;
        }
    }
    size_t nshred = 0;
    if (rc == PL_OK) // status updates received about them
        rc = pl_case_shred_inbox_refs(txn, ids, refs.n, &nshred);
    if (rc == PL_OK)
        rc = s_del_case_keys(txn, PL_DB_CONSENTS, 0, id);
    if (rc == PL_OK)
        rc = s_del_case_keys(txn, PL_DB_REFERRALS, 'w', id);
    if (rc == PL_OK) { // its casework (issue 17)
        uint8_t kk[1 + PL_CASE_ID];
        pl_case_rkey(kk, 'k', id);
        rc = pl_store_del(txn, PL_DB_CASES, kk, sizeof kk);
        rc = rc == PL_ENOTFOUND ? PL_OK : rc;
    }
    if (rc == PL_OK) { // crypto-shredding: the case key
        rc = pl_store_datakey_destroy(txn, cs.hdr + 1);
        rc = rc == PL_ENOTFOUND ? PL_OK : rc;
    }
    if (rc == PL_OK)
        rc = pl_store_del(txn, PL_DB_CASES, id, PL_CASE_ID);
    uint64_t now = pl_now();
    if (rc == PL_OK) { // what `case show` says afterwards
        json_t *t = json_pack("{s:I}", "erased", (json_int_t) now);
        if (pl_case_by(as))
            json_object_set_new(t, "by", json_string(as));
        char *text = pl_case_dump(t);
        json_decref(t);
        uint8_t ek[1 + PL_CASE_ID];
        pl_case_rkey(ek, 'e', id);
        rc = text ? pl_store_put_secret(txn, PL_DB_CASES, ek, sizeof ek, text,
                                        strlen(text))
                  : PL_ENOMEM;
        free(text);
    }
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case",
                           as, id, "case-erase", "applied", NULL);
    size_t nrefs = refs.n;
    free(ids);
    free(refs.v);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot erase: %s", pl_strerror(rc));
    pl_log_info(ctx->log, "case_erased referrals=%zu inbox_copies=%zu", nrefs,
                nshred);
    return pl_node_ctl_ok(json_pack("{s:s, s:s, s:o, s:I}", "id", hex, "status",
                                    "erased", "erased", pl_node_json_time(now),
                                    "referrals", (json_int_t) nrefs));
}
