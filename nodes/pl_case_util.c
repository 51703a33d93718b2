// pl_case_util - the helpers the case, consent and referral rooms share
// (see pl_case_int.h): arguments, sealed JSON records, id lookup, audit,
// consent and referral record walks. Layer: nodes, domain helpers of the
// handlers. No daemon state: everything goes through pl_node_ctx_t.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_records.h"
#include "proto/pl_crypto.h"

// ---- small helpers

const char *
pl_case_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

// A non-empty string argument, or NULL.
const char *
pl_case_arg(const json_t *args, const char *key)
{
    const char *s = pl_case_str(args, key);
    return s && *s ? s : NULL;
}

uint64_t
pl_case_u64(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t) v : 0;
}

const char *
pl_case_by(const char *as)
{
    return as && *as ? as : NULL;
}

// Splits "a,b,c" (or takes a JSON array) into a JSON array of strings.
json_t *
pl_case_list_arg(const json_t *v)
{
    json_t *a = json_array();
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i,
                           e) if (json_is_string(e) && json_string_length(e))
            json_array_append(a, e);
        return a;
    }
    const char *p = json_string_value(v);
    while (a && p && *p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t) (c - p) : strlen(p);
        if (n)
            json_array_append_new(a, json_stringn(p, n));
        p = c ? c + 1 : NULL;
    }
    return a;
}

char *
pl_case_dump(const json_t *o)
{
    return json_dumps(o, JSON_COMPACT);
}

void
pl_case_wipe_free(char *text)
{
    if (text) {
        pl_store_wipe(text, strlen(text));
        free(text);
    }
}

// Test builds only: PASSERELLE_TEST_HOOKS=1 in the daemon's environment
// turns on the test.* commands and test-only arguments. Release builds
// have neither (issue 12).
bool
pl_case_test_hooks(void)
{
#ifdef PL_TEST_BUILD
    const char *v = getenv("PASSERELLE_TEST_HOOKS");
    return v && strcmp(v, "1") == 0;
#else
    return false;
#endif
}

// A case: *doc, its header (data key id at hdr+1) and its key.
int
pl_case_get(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
            uint8_t hdr[PL_CASE_HDR], uint8_t dk[PL_DATAKEY_BYTES],
            json_t **doc)
{
    return pl_sealed_get(txn, PL_DB_CASES, id, PL_CASE_ID, NULL, hdr, dk, doc);
}

void
pl_case_rkey(uint8_t out[1 + PL_CASE_ID], char tag,
             const uint8_t id[PL_CASE_ID])
{
    out[0] = (uint8_t) tag;
    memcpy(out + 1, id, PL_CASE_ID);
}

int
pl_case_ref_get(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                uint8_t hdr[PL_CASE_HDR], uint8_t dk[PL_DATAKEY_BYTES],
                json_t **doc)
{
    uint8_t k[1 + PL_CASE_ID];
    pl_case_rkey(k, 'r', id);
    return pl_sealed_get(txn, PL_DB_REFERRALS, k, sizeof k, NULL, hdr, dk, doc);
}

int
pl_case_ref_put(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                const uint8_t hdr[PL_CASE_HDR],
                const uint8_t dk[PL_DATAKEY_BYTES], const json_t *doc)
{
    uint8_t k[1 + PL_CASE_ID];
    pl_case_rkey(k, 'r', id);
    return pl_sealed_put(txn, PL_DB_REFERRALS, k, sizeof k, hdr, dk, doc);
}

// ---- id lookup: a full id or a unique prefix (at least 6 hex digits)

typedef struct {
    const char *prefix;     // lower-case hex
    size_t plen;            // its length
    char tag;               // key tag byte, or 0 for untagged 16-byte keys
    int found;              // matches
    uint8_t id[PL_CASE_ID]; // the (last) match
} s_find_t;

static int
s_find_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v;
    (void) vl;
    s_find_t *f = arg;
    const uint8_t *id = k;
    if (f->tag) {
        if (kl != 1 + PL_CASE_ID || k[0] != (uint8_t) f->tag)
            return PL_STORE_NEXT;
        id = k + 1;
    } else if (kl != PL_CASE_ID) {
        return PL_STORE_NEXT;
    }
    char hex[2 * PL_CASE_ID + 1];
    pl_hex(hex, id, PL_CASE_ID);
    if (strncmp(hex, f->prefix, f->plen) == 0) {
        f->found++;
        memcpy(f->id, id, PL_CASE_ID);
    }
    return PL_STORE_NEXT;
}

// Resolves 'text' to an id of 'db'. On failure returns an error reply.
char *
pl_case_resolve(pl_txn_t *txn, pl_db_t db, char tag, const char *what,
                const char *text, uint8_t id[PL_CASE_ID], int *rc)
{
    char low[2 * PL_CASE_ID + 1];
    size_t n = text ? strlen(text) : 0;
    *rc = PL_EINVAL;
    if (n < 6 || n > 2 * PL_CASE_ID)
        return pl_node_ctl_error(PL_EINVAL,
                                 "'%s' is not a %s id (6 to 32 hex digits)",
                                 text ? text : "", what);
    for (size_t i = 0; i <= n; i++) {
        char c = text[i];
        if (c >= 'A' && c <= 'F')
            c = (char) (c - 'A' + 'a');
        if (c && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return pl_node_ctl_error(PL_EINVAL, "'%s' is not a %s id", text,
                                     what);
        low[i] = c;
    }
    s_find_t f = {low, n, tag, 0, {0}};
    int src = pl_store_each(txn, db, s_find_one, &f);
    if (src != PL_OK) {
        *rc = src;
        return pl_node_ctl_error(src, "cannot read the store: %s",
                                 pl_strerror(src));
    }
    if (f.found == 0) {
        *rc = PL_ENOTFOUND;
        return pl_node_ctl_error(PL_ENOTFOUND, "no %s '%s' on this node", what,
                                 text);
    }
    if (f.found > 1) {
        *rc = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL,
                                 "'%s' names %d %ss: give more digits", text,
                                 f.found, what);
    }
    memcpy(id, f.id, PL_CASE_ID);
    *rc = PL_OK;
    return NULL;
}

// ---- audit

int
pl_case_audit(pl_node_ctx_t *ctx, pl_txn_t *txn, pl_audit_dir_t dir,
              const char *peer, const uint8_t *msg, const uint8_t *digest,
              const char *kind, const char *by, const uint8_t *ref,
              const char *event, const char *result, const char *detail)
{
    pl_audit_entry_t e = {dir, peer, msg,   kind,   digest,
                          by,  ref,  event, result, detail};
    return pl_audit_append(txn, ctx->keys, &e, pl_now(), NULL);
}

int
pl_case_ref_of_msg(pl_txn_t *txn, const uint8_t msg_id[PL_MSG_ID_BYTES],
                   uint8_t rid[PL_CASE_ID])
{
    uint8_t mk[1 + PL_CASE_ID];
    pl_case_rkey(mk, 'm', msg_id);
    const uint8_t *v;
    size_t vlen;
    int rc = pl_store_get(txn, PL_DB_REFERRALS, mk, sizeof mk, &v, &vlen);
    if (rc == PL_OK && vlen != PL_CASE_ID)
        rc = PL_ENOTFOUND;
    if (rc == PL_OK)
        memcpy(rid, v, PL_CASE_ID);
    return rc;
}

// Digest of an envelope we committed to the outbox.
int
pl_case_out_digest(pl_txn_t *txn, const uint8_t id[PL_MSG_ID_BYTES],
                   uint8_t digest[PL_DIGEST_BYTES])
{
    const uint8_t *v;
    size_t vlen;
    pl_outrec_t r;
    int rc = pl_store_get(txn, PL_DB_OUTBOX, id, PL_MSG_ID_BYTES, &v, &vlen);
    if (rc == PL_OK)
        rc = pl_outrec_decode(v, vlen, &r);
    if (rc == PL_OK)
        memcpy(digest, r.digest, PL_DIGEST_BYTES);
    return rc;
}

// The reply for a failed pl_node_outbox_add.
char *
pl_case_outbox_error(pl_node_ctx_t *ctx, int rc, const char *to)
{
    switch (rc) {
    case PL_ENOTFOUND:
        pl_ctx_ask_directory(ctx, false);
        return pl_node_ctl_error(rc,
                                 "%s is not in this node's directory (unknown "
                                 "recipient; the directory is being "
                                 "refreshed)",
                                 to);
    case PL_EREVOKED:
        return pl_node_ctl_error(rc, "%s's certificate is revoked", to);
    case PL_EEXPIRED:
        return pl_node_ctl_error(
            rc,
            "%s's certificate has expired or is not valid yet (if it was just "
            "issued, this node's clock is behind)",
            to);
    case PL_ESTATE:
        return pl_node_ctl_error(rc,
                                 "this machine's clock is off from the "
                                 "broker's: fix the clock; nothing is sealed "
                                 "until then");
    case PL_EFULL:
        return pl_node_ctl_error(rc, "the node's store is full");
    default:
        return pl_node_ctl_error(rc, "cannot send to %s: %s", to,
                                 pl_strerror(rc));
    }
}

static int
s_consent_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
              void *arg)
{
    pl_case_consents_t *c = arg;
    if (kl != PL_CASE_ID || vl < PL_CASE_HDR
        || memcmp(v + 1, c->case_id, PL_CASE_ID) != 0)
        return PL_STORE_NEXT;
    uint8_t hdr[PL_CASE_HDR];
    json_t *doc = NULL;
    // the value pointer stays valid: only reads happen in this walk
    int rc =
        pl_sealed_get(c->txn, PL_DB_CONSENTS, k, kl, c->dk, hdr, NULL, &doc);
    if (rc != PL_OK) {
        c->err = rc;
        return PL_STORE_NEXT; // an unreadable record covers nothing
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 4;
        pl_consent_t *r = realloc(c->recs, cap * sizeof *r);
        if (!r) {
            json_decref(doc);
            return PL_ENOMEM;
        }
        c->recs = r;
        c->cap = cap;
    }
    pl_consent_rec_decode(doc, k, c->case_id, &c->recs[c->n++]);
    json_object_set_new(doc, "id", pl_node_json_hex(k, PL_CASE_ID));
    json_array_append_new(c->docs, doc);
    return PL_STORE_NEXT;
}

int
pl_case_consents_load(pl_txn_t *txn, const uint8_t case_id[PL_CASE_ID],
                      const uint8_t dk[PL_DATAKEY_BYTES], pl_case_consents_t *c)
{
    memset(c, 0, sizeof *c);
    c->txn = txn;
    c->case_id = case_id;
    c->dk = dk;
    c->docs = json_array();
    return c->docs ? pl_store_each(txn, PL_DB_CONSENTS, s_consent_one, c)
                   : PL_ENOMEM;
}

void
pl_case_consents_free(pl_case_consents_t *c)
{
    if (c->recs)
        pl_store_wipe(c->recs, c->cap * sizeof *c->recs);
    free(c->recs);
    json_decref(c->docs);
    memset(c, 0, sizeof *c);
}

// Loads a case by id text; on failure returns the reply.
char *
pl_case_load(pl_txn_t *txn, const char *text, uint8_t id[PL_CASE_ID],
             uint8_t hdr[PL_CASE_HDR], uint8_t dk[PL_DATAKEY_BYTES],
             json_t **doc, int *rc)
{
    char *err = pl_case_resolve(txn, PL_DB_CASES, 0, "case", text, id, rc);
    if (err)
        return err;
    *rc = pl_case_get(txn, id, hdr, dk, doc);
    if (*rc != PL_OK)
        return pl_node_ctl_error(*rc, "cannot read case %s: %s", text,
                                 pl_strerror(*rc));
    return NULL;
}

// Opens a case by id text into 'c' (the caller releases it); on failure
// 'c' is left released and the reply is returned.
char *
pl_case_open(pl_txn_t *txn, const char *text, uint8_t id[PL_CASE_ID],
             pl_sealed_t *c, int *rc)
{
    pl_sealed_release(c);
    char *err = pl_case_load(txn, text, id, c->hdr, c->dk, &c->doc, rc);
    if (err)
        pl_sealed_release(c);
    return err;
}

// ---- typed case records (pl_records.h) in their sealed record

char *
pl_case_rec_open(pl_txn_t *txn, const char *text, uint8_t id[PL_CASE_ID],
                 pl_case_t *c, int *rc)
{
    pl_case_rec_release(c);
    char *err = pl_case_open(txn, text, id, &c->s, rc);
    if (err)
        return err;
    *rc = pl_case_rec_decode(c->s.doc, &c->rec);
    if (*rc != PL_OK) {
        pl_case_rec_release(c);
        return pl_node_ctl_error(*rc, "cannot read case %s: %s", text,
                                 pl_strerror(*rc));
    }
    return NULL;
}

int
pl_case_rec_load(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], pl_case_t *c)
{
    pl_case_rec_release(c);
    int rc = pl_sealed_open(&c->s, txn, PL_DB_CASES, id, PL_CASE_ID, NULL);
    if (rc == PL_OK)
        rc = pl_case_rec_decode(c->s.doc, &c->rec);
    if (rc != PL_OK)
        pl_case_rec_release(c);
    return rc;
}

int
pl_case_rec_save(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], pl_case_t *c)
{
    json_t *doc = pl_case_rec_encode(&c->rec);
    if (!doc)
        return PL_ENOMEM;
    json_decref(c->s.doc);
    c->s.doc = doc;
    return pl_sealed_save(&c->s, txn, PL_DB_CASES, id, PL_CASE_ID);
}

void
pl_case_rec_release(pl_case_t *c)
{
    if (!c)
        return;
    pl_sealed_release(&c->s);
    pl_case_rec_free(&c->rec);
}

int
pl_case_refrec_open(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], pl_ref_t *r)
{
    pl_case_refrec_release(r);
    int rc = pl_case_ref_open(txn, id, &r->s);
    if (rc == PL_OK)
        rc = pl_ref_rec_decode(r->s.doc, &r->rec);
    if (rc != PL_OK)
        pl_case_refrec_release(r);
    return rc;
}

int
pl_case_refrec_save(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], pl_ref_t *r)
{
    json_t *doc = pl_ref_rec_encode(&r->rec);
    if (!doc)
        return PL_ENOMEM;
    json_decref(r->s.doc);
    r->s.doc = doc;
    return pl_case_ref_save(txn, id, &r->s);
}

void
pl_case_refrec_release(pl_ref_t *r)
{
    if (!r)
        return;
    pl_sealed_release(&r->s);
    pl_ref_rec_free(&r->rec);
}

// Referral record 'id' ('r' || id) into 's' / from 's'.
int
pl_case_ref_open(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], pl_sealed_t *s)
{
    uint8_t k[1 + PL_CASE_ID];
    pl_case_rkey(k, 'r', id);
    return pl_sealed_open(s, txn, PL_DB_REFERRALS, k, sizeof k, NULL);
}

int
pl_case_ref_save(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                 const pl_sealed_t *s)
{
    uint8_t k[1 + PL_CASE_ID];
    pl_case_rkey(k, 'r', id);
    return pl_sealed_save(s, txn, PL_DB_REFERRALS, k, sizeof k);
}

// ---- referral records

// The track stored in a referral document.
int
pl_case_track_get(const pl_ref_rec_t *r, pl_referral_track_t *t)
{
    const char *hex = r->track;
    uint8_t buf[PL_REFERRAL_TRACK_PACKED_MAX];
    size_t n = hex ? strlen(hex) : 0;
    if (!n || n % 2 || n / 2 > sizeof buf || pl_unhex(buf, n / 2, hex) != PL_OK)
        return PL_EPROTO;
    return pl_referral_track_unpack(t, buf, n / 2);
}

int
pl_case_track_set(pl_ref_rec_t *r, const pl_referral_track_t *t)
{
    uint8_t buf[PL_REFERRAL_TRACK_PACKED_MAX];
    char hex[2 * PL_REFERRAL_TRACK_PACKED_MAX + 1];
    size_t n;
    pl_referral_track_pack(t, buf, &n);
    pl_hex(hex, buf, n);
    int rc = pl_case_rec_set(&r->track, hex);
    if (rc == PL_OK)
        rc = pl_case_rec_set(
            &r->status, pl_referral_state_name(pl_referral_track_state(t)));
    return rc;
}

// Appends {status, at, by, ...} to the document's history.
int
pl_case_history(pl_ref_rec_t *r, const char *status, uint64_t at,
                const char *by, const char *reason, const char *note,
                const char *outcome, const char *result)
{
    if (!r->history && !(r->history = json_array()))
        return PL_ENOMEM;
    json_t *h = r->history;
    json_t *e = json_object();
    json_object_set_new(e, "status", json_string(status));
    json_object_set_new(e, "at", pl_node_json_time(at));
    json_object_set_new(e, "by", by ? json_string(by) : json_null());
    if (reason)
        json_object_set_new(e, "reason", json_string(reason));
    if (note)
        json_object_set_new(e, "note", json_string(note));
    if (outcome)
        json_object_set_new(e, "outcome", json_string(outcome));
    if (result)
        json_object_set_new(e, "result", json_string(result));
    r->updated = at;
    return e && json_array_append_new(h, e) == 0 ? PL_OK : PL_ENOMEM;
}

bool
pl_case_overdue(const pl_ref_rec_t *r, uint64_t now, uint64_t *since)
{
    pl_referral_state_t st;
    pl_referral_priority_t pr;
    if (!r->status || !r->priority
        || pl_referral_state_parse(r->status, &st) != PL_OK
        || pl_referral_priority_parse(r->priority, &pr) != PL_OK)
        return false;
    return pl_referral_overdue(st, pr, r->created, r->last_change, r->due, now,
                               since);
}

// The summary object of DESIGN.md §9 (id, status, overdue, direction,
// peer, priority, created, updated) plus service and sector.
json_t *
pl_case_summary(const uint8_t id[PL_CASE_ID], const pl_ref_rec_t *r,
                uint64_t now)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", pl_node_json_hex(id, PL_CASE_ID));
    json_object_set_new(o, "status", json_string(r->status));
    json_object_set_new(o, "overdue",
                        json_boolean(pl_case_overdue(r, now, NULL)));
    json_object_set_new(o, "direction", json_string(r->dir));
    json_object_set_new(o, "peer", json_string(r->peer));
    json_object_set_new(o, "priority", json_string(r->priority));
    json_object_set_new(o, "created", pl_node_json_time(r->created));
    json_object_set_new(o, "updated", pl_node_json_time(r->updated));
    json_object_set_new(o, "service", json_string(r->service));
    json_object_set_new(o, "sector", json_string(r->sector));
    if (r->due)
        json_object_set_new(o, "due", pl_node_json_time(r->due));
    if (r->case_hex)
        json_object_set_new(o, "case", json_string(r->case_hex));
    if (r->delivery) { // a delivery problem: the envelope will never arrive
        json_object_set_new(o, "delivery", json_string(r->delivery));
        json_object_set_new(o, "delivery_reason",
                            json_string(r->delivery_reason));
    }
    return o;
}

int
pl_case_rwalk_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                  void *arg)
{
    (void) v;
    (void) vl;
    pl_case_rwalk_t *w = arg;
    if (kl != 1 + PL_CASE_ID || k[0] != 'r')
        return PL_STORE_NEXT;
    uint8_t hdr[PL_CASE_HDR];
    json_t *doc = NULL;
    if (pl_sealed_get(w->txn, PL_DB_REFERRALS, k, kl, NULL, hdr, NULL, &doc)
        != PL_OK)
        return PL_STORE_NEXT; // unreadable (e.g. erased): not listed
    pl_ref_rec_t r;
    int rc = pl_ref_rec_decode(doc, &r);
    json_decref(doc);
    if (rc == PL_ENOMEM)
        return rc;
    if (rc != PL_OK)
        return PL_STORE_NEXT; // not a referral document: not listed
    rc = w->fn(w, k + 1, &r);
    pl_ref_rec_free(&r);
    return rc;
}

int
pl_case_list_one(pl_case_rwalk_t *w, const uint8_t id[PL_CASE_ID],
                 const pl_ref_rec_t *r)
{
    if (w->status && (!r->status || strcmp(w->status, r->status) != 0))
        return PL_STORE_NEXT;
    if (w->direction && (!r->dir || strcmp(w->direction, r->dir) != 0))
        return PL_STORE_NEXT;
    if (w->case_hex && (!r->case_hex || strcmp(w->case_hex, r->case_hex)))
        return PL_STORE_NEXT;
    if (w->overdue && !pl_case_overdue(r, w->now, NULL))
        return PL_STORE_NEXT;
    pl_referral_state_t st;
    if (r->status && pl_referral_state_parse(r->status, &st) == PL_OK
        && pl_referral_is_open(st))
        w->open++;
    if (w->out)
        json_array_append_new(w->out, pl_case_summary(id, r, w->now));
    return PL_STORE_NEXT;
}
