// pl_node_case - cases, consent and referrals in the node daemon (see
// pl_node_case.h). Layer: nodes.
//
// The lifecycle rules are not here: pl_referral.c holds the one state
// table and the tracker (sequence numbers, buffering, crossing), pl_consent.c
// the gate, pl_sector_data.c the minimum-data table. This file stores,
// seals, sends and audits what they decide.
//
// Records are JSON documents (jansson) sealed under a data key; the
// plaintext text is wiped after each seal or open.
#include "nodes/pl_node_case.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nodes/pl_audit.h"
#include "nodes/pl_consent.h"
#include "nodes/pl_referral.h"
#include "nodes/pl_sector_data.h"

#define S_ID     16 // case, consent, referral ids
#define S_VER    1  // record version
#define S_HDR    (1 + S_ID)
#define S_TEXT   2000 // longest free text accepted (notes, reasons, views)
#define S_SYSTEM "system"

// ---- small helpers

static const char *
s_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

// A non-empty string argument, or NULL.
static const char *
s_arg(const json_t *args, const char *key)
{
    const char *s = s_str(args, key);
    return s && *s ? s : NULL;
}

static uint64_t
s_u64(const json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t) v : 0;
}

static const char *
s_by(const char *as)
{
    return as && *as ? as : NULL;
}

// Splits "a,b,c" (or takes a JSON array) into a JSON array of strings.
static json_t *
s_list_arg(const json_t *v)
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

static char *
s_dump(const json_t *o)
{
    return json_dumps(o, JSON_COMPACT);
}

static void
s_wipe_free(char *text)
{
    if (text) {
        pl_store_wipe(text, strlen(text));
        free(text);
    }
}

// Test builds only: PASSERELLE_TEST_HOOKS=1 in the daemon's environment
// turns on the test.* commands and test-only arguments. Release builds
// have neither (issue 12).
static bool
s_test_hooks(void)
{
#ifdef PL_TEST_BUILD
    const char *v = getenv("PASSERELLE_TEST_HOOKS");
    return v && strcmp(v, "1") == 0;
#else
    return false;
#endif
}

// ---- sealed JSON records

// Writes key -> hdr || seal(json) under 'dk', AD = db || key.
static int
s_put_sealed(pl_txn_t *txn, pl_db_t db, const uint8_t *key, size_t klen,
             const uint8_t hdr[S_HDR], const uint8_t dk[PL_DATAKEY_BYTES],
             const json_t *doc)
{
    char *text = s_dump(doc);
    if (!text)
        return PL_ENOMEM;
    pl_buf_t v = {0};
    int rc = pl_buf_append(&v, hdr, S_HDR);
    if (rc == PL_OK)
        rc = pl_store_seal(dk, db, key, klen, text, strlen(text), &v);
    s_wipe_free(text);
    if (rc == PL_OK)
        rc = pl_store_put(txn, db, key, klen, v.data, v.len);
    pl_buf_free(&v);
    return rc;
}

// Reads a sealed record: hdr gets its header; the data key is the one
// named in the header (hdr + 1) unless 'dk_in' is given. *doc is new.
static int
s_get_sealed(pl_txn_t *txn, pl_db_t db, const uint8_t *key, size_t klen,
             const uint8_t *dk_in, uint8_t hdr[S_HDR],
             uint8_t dk_out[PL_DATAKEY_BYTES], json_t **doc)
{
    const uint8_t *v;
    size_t vlen;
    *doc = NULL;
    int rc = pl_store_get(txn, db, key, klen, &v, &vlen);
    if (rc != PL_OK)
        return rc;
    if (vlen < S_HDR + PL_SEAL_OVERHEAD || v[0] != S_VER)
        return PL_EPROTO;
    memcpy(hdr, v, S_HDR);
    uint8_t dk[PL_DATAKEY_BYTES];
    if (dk_in)
        memcpy(dk, dk_in, sizeof dk);
    else if ((rc = pl_store_datakey_get(txn, hdr + 1, dk)) != PL_OK)
        return rc;
    pl_buf_t plain = {0};
    rc = pl_store_unseal(dk, db, key, klen, v + S_HDR, vlen - S_HDR, &plain);
    if (rc == PL_OK && dk_out)
        memcpy(dk_out, dk, sizeof dk);
    pl_store_wipe(dk, sizeof dk);
    if (rc != PL_OK) {
        pl_buf_wipe(&plain);
        return rc;
    }
    json_error_t jerr;
    *doc = json_loadb((const char *) plain.data, plain.len, 0, &jerr);
    pl_buf_wipe(&plain);
    return *doc ? PL_OK : PL_EPROTO;
}

// A case: *doc, its header (data key id at hdr+1) and its key.
static int
s_case_get(pl_txn_t *txn, const uint8_t id[S_ID], uint8_t hdr[S_HDR],
           uint8_t dk[PL_DATAKEY_BYTES], json_t **doc)
{
    return s_get_sealed(txn, PL_DB_CASES, id, S_ID, NULL, hdr, dk, doc);
}

static void
s_rkey(uint8_t out[1 + S_ID], char tag, const uint8_t id[S_ID])
{
    out[0] = (uint8_t) tag;
    memcpy(out + 1, id, S_ID);
}

static int
s_ref_get(pl_txn_t *txn, const uint8_t id[S_ID], uint8_t hdr[S_HDR],
          uint8_t dk[PL_DATAKEY_BYTES], json_t **doc)
{
    uint8_t k[1 + S_ID];
    s_rkey(k, 'r', id);
    return s_get_sealed(txn, PL_DB_REFERRALS, k, sizeof k, NULL, hdr, dk, doc);
}

static int
s_ref_put(pl_txn_t *txn, const uint8_t id[S_ID], const uint8_t hdr[S_HDR],
          const uint8_t dk[PL_DATAKEY_BYTES], const json_t *doc)
{
    uint8_t k[1 + S_ID];
    s_rkey(k, 'r', id);
    return s_put_sealed(txn, PL_DB_REFERRALS, k, sizeof k, hdr, dk, doc);
}

// ---- id lookup: a full id or a unique prefix (at least 6 hex digits)

typedef struct {
    const char *prefix; // lower-case hex
    size_t plen;        // its length
    char tag;           // key tag byte, or 0 for untagged 16-byte keys
    int found;          // matches
    uint8_t id[S_ID];   // the (last) match
} s_find_t;

static int
s_find_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v;
    (void) vl;
    s_find_t *f = arg;
    const uint8_t *id = k;
    if (f->tag) {
        if (kl != 1 + S_ID || k[0] != (uint8_t) f->tag)
            return PL_STORE_NEXT;
        id = k + 1;
    } else if (kl != S_ID) {
        return PL_STORE_NEXT;
    }
    char hex[2 * S_ID + 1];
    pl_hex(hex, id, S_ID);
    if (strncmp(hex, f->prefix, f->plen) == 0) {
        f->found++;
        memcpy(f->id, id, S_ID);
    }
    return PL_STORE_NEXT;
}

// Resolves 'text' to an id of 'db'. On failure returns an error reply.
static char *
s_resolve(pl_txn_t *txn, pl_db_t db, char tag, const char *what,
          const char *text, uint8_t id[S_ID], int *rc)
{
    char low[2 * S_ID + 1];
    size_t n = text ? strlen(text) : 0;
    *rc = PL_EINVAL;
    if (n < 6 || n > 2 * S_ID)
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
    memcpy(id, f.id, S_ID);
    *rc = PL_OK;
    return NULL;
}

// ---- audit

static int
s_audit(pl_node_ctx_t *ctx, pl_txn_t *txn, pl_audit_dir_t dir, const char *peer,
        const uint8_t *msg, const uint8_t *digest, const char *kind,
        const char *by, const uint8_t *ref, const char *event,
        const char *result, const char *detail)
{
    pl_audit_entry_t e = {dir, peer, msg,   kind,   digest,
                          by,  ref,  event, result, detail};
    return pl_audit_append(txn, ctx->keys, &e, pl_now(), NULL);
}

// Digest of an envelope we committed to the outbox.
static int
s_out_digest(pl_txn_t *txn, const uint8_t id[PL_MSG_ID_BYTES],
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
static char *
s_outbox_error(pl_node_ctx_t *ctx, int rc, const char *to)
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

// ---- cases

static const char *const s_person_keys[] = {"given", "family", "birth",
                                            "sex",   "phone",  "language"};

static char *
s_case_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
           int *rc_out)
{
    *rc_out = PL_EINVAL;
    const char *given = s_arg(args, "given"), *family = s_arg(args, "family");
    const char *birth = s_arg(args, "birth"), *uasc = s_arg(args, "uasc");
    uint64_t t;
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
    json_t *doc = json_object();
    for (size_t i = 0; i < sizeof s_person_keys / sizeof *s_person_keys; i++) {
        const char *v = s_arg(args, s_person_keys[i]);
        if (v && strlen(v) > 200) {
            json_decref(doc);
            return pl_node_ctl_error(PL_EINVAL, "%s is too long",
                                     s_person_keys[i]);
        }
        if (v)
            json_object_set_new(doc, s_person_keys[i], json_string(v));
    }
    if (uasc)
        json_object_set_new(doc, "uasc", json_string(uasc));
    json_object_set_new(doc, "needs",
                        s_list_arg(json_object_get(args, "needs")));
    json_object_set_new(doc, "flags",
                        s_list_arg(json_object_get(args, "flags")));
    uint64_t now = pl_now();
    json_object_set_new(doc, "created", json_integer((json_int_t) now));
    if (s_by(as))
        json_object_set_new(doc, "by", json_string(as));
    uint8_t id[S_ID], hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    randombytes_buf(id, sizeof id);
    hdr[0] = S_VER;
    int rc = pl_store_datakey_new(txn, hdr + 1, dk);
    if (rc == PL_OK)
        rc = s_put_sealed(txn, PL_DB_CASES, id, S_ID, hdr, dk, doc);
    pl_store_wipe(dk, sizeof dk);
    json_decref(doc);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case", as, id,
                     "case-add", "applied", NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the case: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:o}", "id", pl_node_json_hex(id, S_ID)));
}

// Every consent record of a case, decoded, with its JSON.
typedef struct {
    pl_txn_t *txn;
    const uint8_t *case_id;
    const uint8_t *dk;  // case key
    pl_consent_t *recs; // grown array
    json_t *docs;       // JSON array, same order
    size_t n, cap;
    int err;
} s_consents_t;

static void
s_consent_from_json(const uint8_t id[S_ID], const uint8_t case_id[S_ID],
                    const json_t *j, pl_consent_t *rec)
{
    memset(rec, 0, sizeof *rec);
    memcpy(rec->id, id, S_ID);
    memcpy(rec->case_id, case_id, S_ID);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "sectors"), i, e)
    {
        if (rec->nsectors < PL_CONSENT_SECTORS_MAX && json_is_string(e))
            snprintf(rec->sectors[rec->nsectors++], PL_CONSENT_CODE_MAX + 1,
                     "%s", json_string_value(e));
    }
    json_array_foreach(json_object_get(j, "purposes"), i, e)
    {
        if (rec->npurposes < PL_CONSENT_PURPOSES_MAX && json_is_string(e))
            snprintf(rec->purposes[rec->npurposes++], PL_CONSENT_CODE_MAX + 1,
                     "%s", json_string_value(e));
    }
    const char *gb = s_str(j, "given_by");
    if (!gb || pl_consent_giver_parse(gb, &rec->given_by) != PL_OK)
        rec->given_by = PL_GIVEN_BY_RETURNEE;
    const char *gn = s_str(j, "guardian_name"), *cv = s_str(j, "child_views");
    if (gn)
        snprintf(rec->guardian_name, sizeof rec->guardian_name, "%s", gn);
    if (cv)
        snprintf(rec->child_views, sizeof rec->child_views, "%s", cv);
    rec->created_at = s_u64(j, "created");
    rec->expires_at = s_u64(j, "expires");
    rec->withdrawn_at = s_u64(j, "withdrawn");
}

static int
s_consent_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
              void *arg)
{
    s_consents_t *c = arg;
    if (kl != S_ID || vl < S_HDR || memcmp(v + 1, c->case_id, S_ID) != 0)
        return PL_STORE_NEXT;
    uint8_t hdr[S_HDR];
    json_t *doc = NULL;
    // the value pointer stays valid: only reads happen in this walk
    int rc =
        s_get_sealed(c->txn, PL_DB_CONSENTS, k, kl, c->dk, hdr, NULL, &doc);
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
    s_consent_from_json(k, c->case_id, doc, &c->recs[c->n++]);
    json_object_set_new(doc, "id", pl_node_json_hex(k, S_ID));
    json_array_append_new(c->docs, doc);
    return PL_STORE_NEXT;
}

static int
s_consents_load(pl_txn_t *txn, const uint8_t case_id[S_ID],
                const uint8_t dk[PL_DATAKEY_BYTES], s_consents_t *c)
{
    memset(c, 0, sizeof *c);
    c->txn = txn;
    c->case_id = case_id;
    c->dk = dk;
    c->docs = json_array();
    return c->docs ? pl_store_each(txn, PL_DB_CONSENTS, s_consent_one, c)
                   : PL_ENOMEM;
}

static void
s_consents_free(s_consents_t *c)
{
    if (c->recs)
        pl_store_wipe(c->recs, c->cap * sizeof *c->recs);
    free(c->recs);
    json_decref(c->docs);
    memset(c, 0, sizeof *c);
}

// Loads a case by id text; on failure returns the reply.
static char *
s_case_load(pl_txn_t *txn, const char *text, uint8_t id[S_ID],
            uint8_t hdr[S_HDR], uint8_t dk[PL_DATAKEY_BYTES], json_t **doc,
            int *rc)
{
    char *err = s_resolve(txn, PL_DB_CASES, 0, "case", text, id, rc);
    if (err)
        return err;
    *rc = s_case_get(txn, id, hdr, dk, doc);
    if (*rc != PL_OK)
        return pl_node_ctl_error(*rc, "cannot read case %s: %s", text,
                                 pl_strerror(*rc));
    return NULL;
}

static char *
s_consent_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
              int *rc_out)
{
    uint8_t case_id[S_ID], hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    json_t *cdoc = NULL;
    char *err =
        s_case_load(txn, s_arg(args, "case"), case_id, hdr, dk, &cdoc, rc_out);
    if (err)
        return err;
    json_decref(cdoc);
    *rc_out = PL_EINVAL;
    pl_consent_t rec;
    memset(&rec, 0, sizeof rec);
    char msg[PL_CONSENT_TEXT_MAX];
    const char *sectors = s_arg(args, "sectors");
    const char *purpose = s_arg(args, "purpose");
    const char *given_by = s_arg(args, "given_by");
    const char *gname = s_arg(args, "guardian_name");
    const char *views = s_arg(args, "child_views");
    const char *expires = s_arg(args, "expires");
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
        pl_store_wipe(dk, sizeof dk);
        return reply;
    }
    json_t *doc = json_object();
    json_t *sa = json_array(), *pa = json_array();
    for (size_t i = 0; i < rec.nsectors; i++)
        json_array_append_new(sa, json_string(rec.sectors[i]));
    for (size_t i = 0; i < rec.npurposes; i++)
        json_array_append_new(pa, json_string(rec.purposes[i]));
    json_object_set_new(doc, "sectors", sa);
    json_object_set_new(doc, "purposes", pa);
    json_object_set_new(doc, "given_by",
                        json_string(pl_consent_giver_name(rec.given_by)));
    if (gname)
        json_object_set_new(doc, "guardian_name", json_string(gname));
    if (views)
        json_object_set_new(doc, "child_views", json_string(views));
    json_object_set_new(doc, "created", json_integer((json_int_t) now));
    json_object_set_new(doc, "expires",
                        json_integer((json_int_t) rec.expires_at));
    if (s_by(as))
        json_object_set_new(doc, "by", json_string(as));
    uint8_t id[S_ID], chdr[S_HDR];
    randombytes_buf(id, sizeof id);
    chdr[0] = S_VER;
    memcpy(chdr + 1, case_id, S_ID);
    int rc = s_put_sealed(txn, PL_DB_CONSENTS, id, S_ID, chdr, dk, doc);
    pl_store_wipe(dk, sizeof dk);
    pl_store_wipe(&rec, sizeof rec);
    json_decref(doc);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "consent", as,
                     case_id, "consent-add", "applied", NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the consent: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:o}", "id", pl_node_json_hex(id, S_ID)));
}

static int s_withdraw_referrals(pl_node_ctx_t *ctx, pl_txn_t *txn,
                                const uint8_t case_id[S_ID], json_t *cdoc,
                                const char *as, size_t *ncancelled,
                                json_t *holders);
static char *s_case_erased(pl_txn_t *txn, const char *text);

// consent.withdraw: records the withdrawal of every consent of the case;
// when one was still in force, cancels the open referrals made under
// consent and sends a consent-withdrawal to every node that received the
// case's data (each erases it and confirms; `case show` lists them).
static char *
s_consent_withdraw(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                   const char *as, int *rc_out)
{
    uint8_t case_id[S_ID], hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    json_t *cdoc = NULL;
    char *err =
        s_case_load(txn, s_arg(args, "case"), case_id, hdr, dk, &cdoc, rc_out);
    if (err)
        return err;
    s_consents_t c;
    int rc = s_consents_load(txn, case_id, dk, &c);
    uint64_t now = pl_now();
    size_t n = 0;
    for (size_t i = 0; rc == PL_OK && i < c.n; i++) {
        if (c.recs[i].withdrawn_at)
            continue;
        json_t *doc = json_deep_copy(json_array_get(c.docs, i));
        json_object_del(doc, "id");
        json_object_set_new(doc, "withdrawn", json_integer((json_int_t) now));
        uint8_t chdr[S_HDR];
        chdr[0] = S_VER;
        memcpy(chdr + 1, case_id, S_ID);
        rc = s_put_sealed(txn, PL_DB_CONSENTS, c.recs[i].id, S_ID, chdr, dk,
                          doc);
        json_decref(doc);
        n++;
    }
    s_consents_free(&c);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "consent", as,
                     case_id, "consent-withdraw", "applied", NULL);
    size_t ncancelled = 0;
    json_t *holders = json_array();
    if (rc == PL_OK && n) {
        rc = s_withdraw_referrals(ctx, txn, case_id, cdoc, as, &ncancelled,
                                  holders);
        if (rc == PL_OK)
            rc = s_put_sealed(txn, PL_DB_CASES, case_id, S_ID, hdr, dk, cdoc);
    }
    pl_store_wipe(dk, sizeof dk);
    json_decref(cdoc);
    *rc_out = rc;
    if (rc != PL_OK) {
        json_decref(holders);
        return pl_node_ctl_error(rc, "cannot withdraw: %s", pl_strerror(rc));
    }
    return pl_node_ctl_ok(
        json_pack("{s:I, s:I, s:o}", "withdrawn", (json_int_t) n, "cancelled",
                  (json_int_t) ncancelled, "holders", holders));
}

// ---- referral records

// The track stored in a referral document.
static int
s_track_get(const json_t *doc, pl_referral_track_t *t)
{
    const char *hex = s_str(doc, "track");
    uint8_t buf[PL_REFERRAL_TRACK_PACKED_MAX];
    size_t n = hex ? strlen(hex) : 0;
    if (!n || n % 2 || n / 2 > sizeof buf || pl_unhex(buf, n / 2, hex) != PL_OK)
        return PL_EPROTO;
    return pl_referral_track_unpack(t, buf, n / 2);
}

static void
s_track_set(json_t *doc, const pl_referral_track_t *t)
{
    uint8_t buf[PL_REFERRAL_TRACK_PACKED_MAX];
    char hex[2 * PL_REFERRAL_TRACK_PACKED_MAX + 1];
    size_t n;
    pl_referral_track_pack(t, buf, &n);
    pl_hex(hex, buf, n);
    json_object_set_new(doc, "track", json_string(hex));
    json_object_set_new(
        doc, "status",
        json_string(pl_referral_state_name(pl_referral_track_state(t))));
}

// Appends {status, at, by, ...} to the document's history.
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
    if (reason)
        json_object_set_new(e, "reason", json_string(reason));
    if (note)
        json_object_set_new(e, "note", json_string(note));
    if (outcome)
        json_object_set_new(e, "outcome", json_string(outcome));
    if (result)
        json_object_set_new(e, "result", json_string(result));
    json_array_append_new(h, e);
    json_object_set_new(doc, "updated", json_integer((json_int_t) at));
}

static bool
s_overdue(const json_t *doc, uint64_t now, uint64_t *since)
{
    pl_referral_state_t st;
    pl_referral_priority_t pr;
    if (pl_referral_state_parse(s_str(doc, "status"), &st) != PL_OK
        || pl_referral_priority_parse(s_str(doc, "priority"), &pr) != PL_OK)
        return false;
    return pl_referral_overdue(st, pr, s_u64(doc, "created"),
                               s_u64(doc, "last_change"), s_u64(doc, "due"),
                               now, since);
}

// The summary object of DESIGN.md §9 (id, status, overdue, direction,
// peer, priority, created, updated) plus service and sector.
static json_t *
s_summary(const uint8_t id[S_ID], const json_t *doc, uint64_t now)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", pl_node_json_hex(id, S_ID));
    json_object_set_new(o, "status", json_string(s_str(doc, "status")));
    json_object_set_new(o, "overdue", json_boolean(s_overdue(doc, now, NULL)));
    json_object_set_new(o, "direction", json_string(s_str(doc, "dir")));
    json_object_set_new(o, "peer", json_string(s_str(doc, "peer")));
    json_object_set_new(o, "priority", json_string(s_str(doc, "priority")));
    json_object_set_new(o, "created", pl_node_json_time(s_u64(doc, "created")));
    json_object_set_new(o, "updated", pl_node_json_time(s_u64(doc, "updated")));
    json_object_set_new(o, "service", json_string(s_str(doc, "service")));
    json_object_set_new(o, "sector", json_string(s_str(doc, "sector")));
    if (s_u64(doc, "due"))
        json_object_set_new(o, "due", pl_node_json_time(s_u64(doc, "due")));
    if (s_str(doc, "case"))
        json_object_set_new(o, "case", json_string(s_str(doc, "case")));
    return o;
}

// Walk over every referral record (decrypted), calling 'fn'.
typedef struct s_rwalk s_rwalk_t;
struct s_rwalk {
    pl_txn_t *txn;
    uint64_t now;
    int (*fn)(s_rwalk_t *w, const uint8_t id[S_ID], json_t *doc);
    // filters and outputs of the callers
    const char *status, *direction, *case_hex;
    bool overdue;
    json_t *out;
    size_t open;
    void *user; // issue 8 walks: their own accumulator
};

static int
s_rwalk_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v;
    (void) vl;
    s_rwalk_t *w = arg;
    if (kl != 1 + S_ID || k[0] != 'r')
        return PL_STORE_NEXT;
    uint8_t hdr[S_HDR];
    json_t *doc = NULL;
    if (s_get_sealed(w->txn, PL_DB_REFERRALS, k, kl, NULL, hdr, NULL, &doc)
        != PL_OK)
        return PL_STORE_NEXT; // unreadable (e.g. erased): not listed
    int rc = w->fn(w, k + 1, doc);
    json_decref(doc);
    return rc;
}

static int
s_list_one(s_rwalk_t *w, const uint8_t id[S_ID], json_t *doc)
{
    if (w->status && strcmp(w->status, s_str(doc, "status")) != 0)
        return PL_STORE_NEXT;
    if (w->direction && strcmp(w->direction, s_str(doc, "dir")) != 0)
        return PL_STORE_NEXT;
    if (w->case_hex
        && (!s_str(doc, "case") || strcmp(w->case_hex, s_str(doc, "case"))))
        return PL_STORE_NEXT;
    if (w->overdue && !s_overdue(doc, w->now, NULL))
        return PL_STORE_NEXT;
    pl_referral_state_t st;
    if (pl_referral_state_parse(s_str(doc, "status"), &st) == PL_OK
        && pl_referral_is_open(st))
        w->open++;
    if (w->out)
        json_array_append_new(w->out, s_summary(id, doc, w->now));
    return PL_STORE_NEXT;
}

static char *
s_referrals(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
            int *rc_out)
{
    (void) as;
    (void) rc_out;
    (void) ctx;
    s_rwalk_t w = {.txn = txn, .now = pl_now(), .fn = s_list_one};
    w.status = s_arg(args, "status");
    w.direction = s_arg(args, "direction");
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
    int rc = pl_store_each(txn, PL_DB_REFERRALS, s_rwalk_one, &w);
    if (rc != PL_OK) {
        json_decref(w.out);
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(w.out);
}

static char *
s_referral_show(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
                int *rc_out)
{
    (void) as;
    (void) rc_out;
    (void) ctx;
    uint8_t id[S_ID], hdr[S_HDR];
    int rc;
    char *err = s_resolve(txn, PL_DB_REFERRALS, 'r', "referral",
                          s_arg(args, "id"), id, &rc);
    if (err)
        return err;
    json_t *doc = NULL;
    rc = s_ref_get(txn, id, hdr, NULL, &doc);
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot read the referral: %s",
                                 pl_strerror(rc));
    uint64_t now = pl_now(), since = 0;
    json_t *o = s_summary(id, doc, now);
    bool late = s_overdue(doc, now, &since);
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

// ---- case show / list / close

static char *
s_case_show(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
            int *rc_out)
{
    (void) as;
    (void) rc_out;
    (void) ctx;
    uint8_t id[S_ID], hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    json_t *doc = NULL;
    int rc;
    char *err = s_case_load(txn, s_arg(args, "id"), id, hdr, dk, &doc, &rc);
    if (err && rc == PL_ENOTFOUND) {
        char *erased = s_case_erased(txn, s_arg(args, "id"));
        if (erased) {
            free(err);
            return erased;
        }
    }
    if (err)
        return err;
    s_consents_t c;
    rc = s_consents_load(txn, id, dk, &c);
    pl_store_wipe(dk, sizeof dk);
    char hex[2 * S_ID + 1];
    pl_hex(hex, id, S_ID);
    s_rwalk_t w = {.txn = txn, .now = pl_now(), .fn = s_list_one};
    w.case_hex = hex;
    w.out = json_array();
    if (rc == PL_OK)
        rc = pl_store_each(txn, PL_DB_REFERRALS, s_rwalk_one, &w);
    if (rc != PL_OK) {
        s_consents_free(&c);
        json_decref(doc);
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
    json_object_set_new(doc, "id", json_string(hex));
    json_object_set_new(doc, "created",
                        pl_node_json_time(s_u64(doc, "created")));
    if (s_u64(doc, "closed"))
        json_object_set_new(doc, "closed",
                            pl_node_json_time(s_u64(doc, "closed")));
    json_object_set_new(doc, "status",
                        json_string(s_u64(doc, "closed") ? "closed" : "open"));
    json_object_set(doc, "consents", c.docs);
    json_object_set_new(doc, "referrals", w.out);
    json_t *bia = json_object_get(doc, "bia");
    if (bia) {
        json_object_set_new(bia, "date", pl_node_json_time(s_u64(bia, "date")));
        json_object_set_new(bia, "recorded",
                            pl_node_json_time(s_u64(bia, "recorded")));
    }
    json_array_foreach(json_object_get(doc, "withdrawals"), i, e)
    {
        json_object_set_new(e, "at", pl_node_json_time(s_u64(e, "at")));
        const char *hk;
        json_t *hv;
        json_object_foreach(json_object_get(e, "holders"), hk, hv)
        {
            if (s_u64(hv, "confirmed"))
                json_object_set_new(hv, "confirmed",
                                    pl_node_json_time(s_u64(hv, "confirmed")));
        }
    }
    s_consents_free(&c);
    return pl_node_ctl_ok(doc);
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
    if (kl != S_ID)
        return PL_STORE_NEXT;
    uint8_t hdr[S_HDR];
    json_t *doc = NULL;
    if (s_case_get(w->txn, k, hdr, NULL, &doc) != PL_OK)
        return PL_STORE_NEXT;
    const char *g = s_str(doc, "given"), *f = s_str(doc, "family");
    if (!w->search || s_contains(g, w->search) || s_contains(f, w->search)) {
        json_t *o = json_object();
        json_object_set_new(o, "id", pl_node_json_hex(k, S_ID));
        json_object_set_new(o, "given", json_string(g ? g : ""));
        json_object_set_new(o, "family", json_string(f ? f : ""));
        const char *b = s_str(doc, "birth");
        json_object_set_new(o, "birth", json_string(b ? b : ""));
        json_object_set_new(o, "created",
                            pl_node_json_time(s_u64(doc, "created")));
        json_object_set_new(
            o, "status", json_string(s_u64(doc, "closed") ? "closed" : "open"));
        json_array_append_new(w->out, o);
    }
    json_decref(doc);
    return PL_STORE_NEXT;
}

static char *
s_case_list(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
            int *rc_out)
{
    (void) as;
    (void) rc_out;
    (void) ctx;
    s_cwalk_t w = {txn, s_arg(args, "search"), json_array()};
    int rc = pl_store_each(txn, PL_DB_CASES, s_case_list_one, &w);
    if (rc != PL_OK) {
        json_decref(w.out);
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    return pl_node_ctl_ok(w.out);
}

static char *
s_case_close(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    uint8_t id[S_ID], hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    json_t *doc = NULL;
    const char *reason = s_arg(args, "reason");
    char *err = s_case_load(txn, s_arg(args, "id"), id, hdr, dk, &doc, rc_out);
    if (err)
        return err;
    char hex[2 * S_ID + 1];
    pl_hex(hex, id, S_ID);
    s_rwalk_t w = {.txn = txn, .now = pl_now(), .fn = s_list_one};
    w.case_hex = hex;
    int rc = pl_store_each(txn, PL_DB_REFERRALS, s_rwalk_one, &w);
    char *reply = NULL;
    int code = rc; // a refusal: the code of its reply (issue 12)
    if (rc != PL_OK)
        reply = pl_node_ctl_error(rc, "cannot read the store");
    else if (!reason || !pl_slug_valid(reason))
        reply = pl_node_ctl_error(code = PL_EINVAL,
                                  "case close needs --reason CODE "
                                  "(a-z, 0-9, -)");
    else if (s_u64(doc, "closed"))
        reply = pl_node_ctl_error(code = PL_ESTATE, "case %s is already closed",
                                  hex);
    else if (w.open)
        reply = pl_node_ctl_error(code = PL_ESTATE,
                                  "case %s has %zu open referral%s: cancel "
                                  "or complete them before closing it",
                                  hex, w.open, w.open == 1 ? "" : "s");
    if (reply) {
        *rc_out = code;
        pl_store_wipe(dk, sizeof dk);
        json_decref(doc);
        return reply;
    }
    uint64_t now = pl_now();
    json_object_set_new(doc, "closed", json_integer((json_int_t) now));
    json_object_set_new(doc, "close_reason", json_string(reason));
    if (s_by(as))
        json_object_set_new(doc, "closed_by", json_string(as));
    rc = s_put_sealed(txn, PL_DB_CASES, id, S_ID, hdr, dk, doc);
    pl_store_wipe(dk, sizeof dk);
    json_decref(doc);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case", as, id,
                     "case-close", "applied", reason);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot close: %s", pl_strerror(rc));
    return pl_node_ctl_ok(
        json_pack("{s:o, s:s}", "id", json_string(hex), "status", "closed"));
}

// ---- child protection (issue 8)

// The child-protection node of this node's region (certificate region),
// other than this node, valid in the directory: its address into 'out'.
// PL_ENOTFOUND when there is none (or this node's region is empty).
static int
s_cp_find(pl_node_ctx_t *ctx, char out[PL_ADDRESS_MAX + 1])
{
    if (!ctx->me->region[0])
        return PL_ENOTFOUND;
    for (size_t i = 0; i < ctx->ndir; i++) {
        const pl_cert_t *c = &ctx->dir[i];
        if (strcmp(c->sector, "child-protection") != 0
            || strcmp(c->region, ctx->me->region) != 0
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
static int
s_cp_notify(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *cp,
            const uint8_t rid[S_ID], const char *kind, uint64_t at,
            const char *as, uint8_t msgid[PL_MSG_ID_BYTES])
{
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__CpNotification n = PASSERELLE__V1__CP_NOTIFICATION__INIT;
    n.referral_id.data = (uint8_t *) rid;
    n.referral_id.len = S_ID;
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
        rc = s_out_digest(txn, msgid, digest);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_OUT, cp, msgid, digest,
                     "cp-notification", as, rid, "cp-notify", "applied", kind);
    if (rc == PL_OK)
        pl_log_info(ctx->log, "cp_notification_sent to=%s kind=%s", cp, kind);
    return rc;
}

// ---- refer (sender)

static char *
s_refer(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
        int *rc_out)
{
    uint8_t case_id[S_ID], chdr[S_HDR], dk[PL_DATAKEY_BYTES];
    json_t *cdoc = NULL;
    char *reply =
        s_case_load(txn, s_arg(args, "case"), case_id, chdr, dk, &cdoc, rc_out);
    if (reply)
        return reply;
    *rc_out = PL_EINVAL;
    const char *to = s_arg(args, "to"), *service = s_arg(args, "service");
    const char *purpose = s_arg(args, "purpose");
    const char *prio = s_arg(args, "priority"), *due_s = s_arg(args, "due");
    const char *note = s_arg(args, "note");
    const char *oj = s_arg(args, "override_justification");
    const char *ab = s_arg(args, "approved_by");
    purpose = purpose ? purpose : "services";
    prio = prio ? prio : "normal";
    char addr[PL_ADDRESS_MAX + 1] = "";
    if (to && !strchr(to, '/'))
        snprintf(addr, sizeof addr, "%s/%s", ctx->me->network, to);
    else if (to)
        snprintf(addr, sizeof addr, "%s", to);
    pl_referral_priority_t pr;
    uint64_t due = 0, now = pl_now();
    int why = PL_ENOTFOUND;
    const pl_cert_t *cert = NULL;
    s_consents_t c;
    memset(&c, 0, sizeof c);
    if (!to || !pl_address_valid(addr))
        reply = pl_node_ctl_error(PL_EINVAL,
                                  "refer needs --to ADDRESS (network/name)");
    else if (!service || !pl_slug_valid(service))
        reply = pl_node_ctl_error(PL_EINVAL,
                                  "refer needs --service CODE (a-z, 0-9, -)");
    else if (!pl_slug_valid(purpose))
        reply = pl_node_ctl_error(PL_EINVAL, "purpose must be a code");
    else if (pl_referral_priority_parse(prio, &pr) != PL_OK)
        reply = pl_node_ctl_error(PL_EINVAL,
                                  "priority is emergency, urgent or normal");
    else if (due_s && pl_referral_due_parse(due_s, &due) != PL_OK)
        reply = pl_node_ctl_error(PL_EINVAL, "due must be a date YYYY-MM-DD");
    else if (note && strlen(note) > S_TEXT)
        reply = pl_node_ctl_error(PL_EINVAL, "the note is too long");
    else if (s_u64(cdoc, "closed"))
        reply = pl_node_ctl_error(PL_ESTATE, "the case is closed");
    else if (strcmp(addr, ctx->me->address) == 0)
        reply = pl_node_ctl_error(PL_EINVAL, "a node cannot refer to itself");
    else if (!(cert = pl_ctx_dir_find(ctx, addr, &why)))
        reply = s_outbox_error(ctx, why, addr);
    else if ((*rc_out = s_consents_load(txn, case_id, dk, &c)) != PL_OK)
        reply = pl_node_ctl_error(*rc_out, "cannot read the consents");
    if (reply) {
        if (*rc_out == PL_OK)
            *rc_out = PL_EINVAL;
        s_consents_free(&c);
        pl_store_wipe(dk, sizeof dk);
        json_decref(cdoc);
        return reply;
    }
    // the consent gate: before anything is sealed
    const char *sector = cert->sector;
    const json_t *bia = json_object_get(cdoc, "bia");
    pl_consent_person_t person = {s_str(cdoc, "birth"), PL_UASC_NONE,
                                  s_str(bia, "ref"), s_u64(bia, "date")};
    const char *uasc = s_str(cdoc, "uasc");
    if (uasc)
        PL_IGNORE(pl_uasc_parse(uasc, &person.uasc));
    pl_consent_override_t ov = {oj, ab};
    pl_consent_request_t req = {c.recs,
                                c.n,
                                sector,
                                purpose,
                                pl_sector_data_categories(sector),
                                &person,
                                (oj || ab) ? &ov : NULL,
                                now};
    pl_consent_verdict_t v;
    uint8_t rid[S_ID];
    randombytes_buf(rid, sizeof rid);
    if (pl_consent_gate(&req, &v) != PL_CONSENT_OK) {
        int rc =
            s_audit(ctx, txn, PL_AUDIT_LOCAL, addr, NULL, NULL, "referral", as,
                    rid, "refer", "refused", pl_consent_reason_name(v.reason));
        *rc_out = rc; // keep the audit entry of the refusal
        pl_log_info(ctx->log, "refer_refused to=%s reason=%s", addr,
                    pl_consent_reason_name(v.reason));
        s_consents_free(&c);
        pl_store_wipe(dk, sizeof dk);
        json_decref(cdoc);
        return pl_node_ctl_error(pl_consent_reason_err(v.reason), "%s", v.text);
    }
    // an unaccompanied or separated child: the child-protection node of
    // this node's region must be notified, or the referral is refused
    char cp_addr[PL_ADDRESS_MAX + 1] = "";
    bool notify_cp = v.child && person.uasc != PL_UASC_NONE
                     && strcmp(ctx->me->sector, "child-protection") != 0;
    if (notify_cp && s_cp_find(ctx, cp_addr) != PL_OK) {
        int rc = s_audit(ctx, txn, PL_AUDIT_LOCAL, addr, NULL, NULL, "referral",
                         as, rid, "refer", "refused", "no-cp-node");
        *rc_out = rc; // keep the audit entry of the refusal
        pl_log_info(ctx->log, "refer_refused to=%s reason=no-cp-node region=%s",
                    addr, ctx->me->region);
        s_consents_free(&c);
        pl_store_wipe(dk, sizeof dk);
        json_decref(cdoc);
        pl_ctx_ask_directory(ctx, false);
        return pl_node_ctl_error(
            PL_ENOTFOUND,
            "child protection: no child-protection node of region '%s' is in "
            "this node's directory; every referral of an unaccompanied or "
            "separated child is notified to one, so this referral is refused "
            "(the case is unchanged)",
            ctx->me->region[0] ? ctx->me->region : "(none)");
    }
    // the message: only the sector table's fields, a referral-scoped
    // pseudonym, the consent reference
    uint8_t ps[5];
    char pseudonym[16];
    randombytes_buf(ps, sizeof ps);
    pl_hex(pseudonym + 2, ps, sizeof ps);
    pseudonym[0] = 'P';
    pseudonym[1] = '-';
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__Referral r = PASSERELLE__V1__REFERRAL__INIT;
    Passerelle__V1__Person p = PASSERELLE__V1__PERSON__INIT;
    Passerelle__V1__ConsentRef cr = PASSERELLE__V1__CONSENT_REF__INIT;
    Passerelle__V1__ConsentOverride co = PASSERELLE__V1__CONSENT_OVERRIDE__INIT;
    Passerelle__V1__Guardian g = PASSERELLE__V1__GUARDIAN__INIT;
    r.referral_id.data = rid;
    r.referral_id.len = S_ID;
    r.pseudonym = pseudonym;
    r.legal_basis = v.override ? "override" : "consent";
    r.purpose = (char *) purpose;
    r.sector = (char *) sector;
    r.service = (char *) service;
    r.priority = (char *) pl_referral_priority_name(pr);
    r.has_due = due != 0;
    r.due = due;
    r.note = (char *) note;
    r.created_at = now;
    r.by = (char *) s_by(as);
    r.has_child = true;
    r.child = v.child;
    r.uasc = (char *) uasc;
    if (v.child && person.uasc != PL_UASC_NONE)
        r.bia_ref = (char *) person.bia_ref; // the gate required it
    json_t *needs = json_object_get(cdoc, "needs");
    char *needv[8];
    size_t nn = 0, i;
    json_t *e;
    json_array_foreach(needs, i, e) if (nn < 8 && json_is_string(e))
        needv[nn++] = (char *) json_string_value(e);
    r.n_needs = nn;
    r.needs = needv;
    uint32_t fields = pl_sector_data_fields(sector);
    json_t *sent = json_object();
    char **slot[] = {&p.given, &p.family,   &p.birth,
                     &p.sex,   &p.language, &p.phone};
    static const uint32_t bits[] = {PL_FIELD_GIVEN,    PL_FIELD_FAMILY,
                                    PL_FIELD_BIRTH,    PL_FIELD_SEX,
                                    PL_FIELD_LANGUAGE, PL_FIELD_PHONE};
    for (size_t k = 0; k < 6; k++) {
        const char *name = pl_sector_data_field_name(bits[k]);
        const char *val = s_str(cdoc, name);
        if ((fields & bits[k]) && val) {
            *slot[k] = (char *) val;
            json_object_set_new(sent, name, json_string(val));
        }
    }
    if (fields)
        r.person = &p;
    char *csect[PL_CONSENT_SECTORS_MAX];
    if (v.record) {
        for (size_t k = 0; k < v.record->nsectors; k++)
            csect[k] = (char *) v.record->sectors[k];
        cr.consent_id.data = (uint8_t *) v.record->id;
        cr.consent_id.len = S_ID;
        cr.given_by = (char *) pl_consent_giver_name(v.record->given_by);
        cr.n_sectors = v.record->nsectors;
        cr.sectors = csect;
        cr.purpose = (char *) purpose;
        cr.expires_at = v.record->expires_at;
        if (v.record->guardian_name[0])
            cr.guardian_name = (char *) v.record->guardian_name;
        if (v.child && v.record->child_views[0])
            cr.child_views = (char *) v.record->child_views;
        r.consent = &cr;
        if (v.child && v.record->guardian_name[0]) {
            g.name = (char *) v.record->guardian_name;
            r.guardian = &g;
        }
    }
    if (v.override) {
        co.justification = (char *) oj;
        co.approved_by = (char *) ab;
        r.override = &co;
    }
    // test-only: send without the consent reference, to prove that the
    // recipient refuses it (honoured only with PASSERELLE_TEST_HOOKS=1 in
    // the daemon's environment)
    if (json_is_true(json_object_get(args, "test_omit_consent"))
        && s_test_hooks())
        r.consent = NULL;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_REFERRAL;
    m.referral = &r;
    pl_buf_t enc = {0};
    uint8_t msgid[PL_MSG_ID_BYTES], digest[PL_DIGEST_BYTES];
    int rc = pl_message_encode(&m, &enc);
    if (rc == PL_OK)
        rc = pl_ctx_outbox_add(ctx, txn, addr, S_KIND_REFERRAL, enc.data,
                               enc.len, 0, msgid);
    pl_buf_wipe(&enc);
    uint8_t cp_msg[PL_MSG_ID_BYTES];
    if (rc == PL_OK && notify_cp)
        rc = s_cp_notify(ctx, txn, cp_addr, rid, uasc, now, as, cp_msg);
    if (rc != PL_OK) {
        *rc_out = rc;
        json_decref(sent);
        s_consents_free(&c);
        pl_store_wipe(dk, sizeof dk);
        json_decref(cdoc);
        return s_outbox_error(ctx, rc, addr);
    }
    // the sender's record, sealed under the case key
    char case_hex[2 * S_ID + 1];
    pl_hex(case_hex, case_id, S_ID);
    json_t *doc = json_object();
    json_object_set_new(doc, "dir", json_string("out"));
    json_object_set_new(doc, "peer", json_string(addr));
    json_object_set_new(doc, "case", json_string(case_hex));
    json_object_set_new(doc, "pseudonym", json_string(pseudonym));
    json_object_set_new(doc, "sector", json_string(sector));
    json_object_set_new(doc, "service", json_string(service));
    json_object_set_new(doc, "purpose", json_string(purpose));
    json_object_set_new(doc, "priority",
                        json_string(pl_referral_priority_name(pr)));
    json_object_set_new(doc, "due", json_integer((json_int_t) due));
    if (note)
        json_object_set_new(doc, "note", json_string(note));
    json_object_set_new(doc, "created", json_integer((json_int_t) now));
    json_object_set_new(doc, "last_change", json_integer((json_int_t) now));
    if (s_by(as))
        json_object_set_new(doc, "referred_by", json_string(as));
    json_object_set_new(doc, "legal_basis", json_string(r.legal_basis));
    if (v.record) {
        json_t *cj = json_object();
        json_object_set_new(cj, "id", pl_node_json_hex(v.record->id, S_ID));
        json_object_set_new(cj, "given_by", json_string(cr.given_by));
        json_object_set_new(cj, "expires", pl_node_json_time(cr.expires_at));
        json_object_set_new(doc, "consent", cj);
    }
    if (v.override)
        json_object_set_new(doc, "override",
                            json_pack("{s:s, s:s, s:s}", "justification", oj,
                                      "approved_by", ab, "overrode",
                                      pl_consent_reason_name(v.overridden)));
    json_object_set_new(doc, "person", sent);
    json_object_set_new(doc, "child", json_boolean(v.child));
    if (v.child && uasc)
        json_object_set_new(doc, "uasc", json_string(uasc));
    if (notify_cp)
        json_object_set_new(doc, "cp_notified", json_string(cp_addr));
    json_object_set_new(doc, "msg", pl_node_json_hex(msgid, PL_MSG_ID_BYTES));
    pl_referral_track_t t;
    pl_referral_track_init(&t, PL_SIDE_SENDER);
    s_track_set(doc, &t);
    s_history(doc, "requested", now, s_by(as), NULL, note ? NULL : NULL, NULL,
              NULL);
    uint8_t rhdr[S_HDR];
    rhdr[0] = S_VER;
    memcpy(rhdr + 1, chdr + 1, PL_DATAKEY_ID_BYTES); // the case key
    rc = s_ref_put(txn, rid, rhdr, dk, doc);
    json_decref(doc);
    s_consents_free(&c);
    pl_store_wipe(dk, sizeof dk);
    json_decref(cdoc);
    uint8_t mk[1 + S_ID];
    s_rkey(mk, 'm', msgid);
    if (rc == PL_OK)
        rc = pl_store_put(txn, PL_DB_REFERRALS, mk, sizeof mk, rid, S_ID);
    if (rc == PL_OK)
        rc = s_out_digest(txn, msgid, digest);
    if (rc == PL_OK)
        rc =
            s_audit(ctx, txn, PL_AUDIT_OUT, addr, msgid, digest, "referral", as,
                    rid, "refer", "applied", v.override ? "override" : NULL);
    if (rc == PL_OK && v.override)
        rc = s_audit(ctx, txn, PL_AUDIT_LOCAL, addr, NULL, NULL, "consent", ab,
                     rid, "consent-override", "approved",
                     pl_consent_reason_name(v.overridden));
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the referral: %s",
                                 pl_strerror(rc));
    pl_log_info(ctx->log, "referral_sent to=%s sector=%s", addr, sector);
    return pl_node_ctl_ok(
        json_pack("{s:o, s:s, s:s, s:s}", "id", pl_node_json_hex(rid, S_ID),
                  "to", addr, "status", "requested", "pseudonym", pseudonym));
}

// ---- status updates made here (accept, ..., cancel)

// Seals a StatusUpdate to the peer of 'doc'; 'msgid' gets its id.
static int
s_send_status(pl_node_ctx_t *ctx, pl_txn_t *txn, const json_t *doc,
              const uint8_t rid[S_ID], const pl_referral_update_t *u,
              const char *reason, const char *note, const char *by, uint64_t at,
              uint8_t msgid[PL_MSG_ID_BYTES])
{
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    Passerelle__V1__StatusUpdate su = PASSERELLE__V1__STATUS_UPDATE__INIT;
    su.referral_id.data = (uint8_t *) rid;
    su.referral_id.len = S_ID;
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
        rc = pl_ctx_outbox_add(ctx, txn, s_str(doc, "peer"), S_KIND_STATUS,
                               enc.data, enc.len, 0, msgid);
    pl_buf_wipe(&enc);
    return rc;
}

static char *
s_act(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
      int *rc_out)
{
    *rc_out = PL_EINVAL;
    const char *evs = s_arg(args, "event"), *reason = s_arg(args, "reason");
    const char *note = s_arg(args, "note"), *outs = s_arg(args, "outcome");
    pl_referral_event_t ev;
    pl_referral_outcome_t oc = PL_OUTCOME_NONE;
    if (!evs || pl_referral_event_parse(evs, &ev) != PL_OK
        || ev == PL_RE_RECEIVE)
        return pl_node_ctl_error(PL_EINVAL,
                                 "event is accept, reject, start, hold, "
                                 "resume, complete or cancel");
    if (pl_referral_event_needs_reason(ev) && !reason)
        return pl_node_ctl_error(PL_EINVAL, "%s needs --reason CODE", evs);
    if (reason && !pl_slug_valid(reason))
        return pl_node_ctl_error(PL_EINVAL,
                                 "the reason is a code (a-z, 0-9, -), e.g. "
                                 "no-capacity; free text goes in --note");
    if (note && strlen(note) > S_TEXT)
        return pl_node_ctl_error(PL_EINVAL, "the note is too long");
    if (ev == PL_RE_COMPLETE
        && (!outs || pl_referral_outcome_parse(outs, &oc) != PL_OK))
        return pl_node_ctl_error(PL_EINVAL, "complete needs --outcome "
                                            "successful|not-successful");
    if (ev != PL_RE_COMPLETE && outs)
        return pl_node_ctl_error(PL_EINVAL, "only complete takes --outcome");
    uint8_t rid[S_ID], hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    char *err = s_resolve(txn, PL_DB_REFERRALS, 'r', "referral",
                          s_arg(args, "id"), rid, rc_out);
    if (err)
        return err;
    json_t *doc = NULL;
    pl_referral_track_t t;
    int rc = s_ref_get(txn, rid, hdr, dk, &doc);
    if (rc == PL_OK)
        rc = s_track_get(doc, &t);
    if (rc != PL_OK) {
        *rc_out = rc;
        json_decref(doc);
        pl_store_wipe(dk, sizeof dk);
        return pl_node_ctl_error(rc, "cannot read the referral: %s",
                                 pl_strerror(rc));
    }
    pl_referral_update_t u;
    pl_referral_result_t res = pl_referral_track_act(&t, ev, oc, &u);
    const char *peer = s_str(doc, "peer");
    if (res != PL_REF_APPLIED) {
        char text[256];
        pl_referral_refusal_text(text, sizeof text, res,
                                 pl_referral_track_state(&t), ev, t.me);
        rc = s_audit(ctx, txn, PL_AUDIT_LOCAL, peer, NULL, NULL, "referral", as,
                     rid, evs, pl_referral_result_name(res), NULL);
        json_decref(doc);
        pl_store_wipe(dk, sizeof dk);
        *rc_out = rc; // the refusal is audited
        return pl_node_ctl_error(pl_referral_result_err(res), "%s", text);
    }
    uint64_t now = pl_now();
    uint8_t msgid[PL_MSG_ID_BYTES], digest[PL_DIGEST_BYTES];
    rc = s_send_status(ctx, txn, doc, rid, &u, reason, note, s_by(as), now,
                       msgid);
    if (rc != PL_OK) {
        char peer_copy[PL_ADDRESS_MAX + 1];
        snprintf(peer_copy, sizeof peer_copy, "%s", peer ? peer : "?");
        json_decref(doc);
        pl_store_wipe(dk, sizeof dk);
        *rc_out = rc;
        return s_outbox_error(ctx, rc, peer_copy);
    }
    s_track_set(doc, &t);
    s_history(doc, pl_referral_state_name(u.to), now, s_by(as), reason, note,
              oc ? pl_referral_outcome_name(oc) : NULL, NULL);
    json_object_set_new(doc, "last_change", json_integer((json_int_t) now));
    rc = s_out_digest(txn, msgid, digest);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_OUT, peer, msgid, digest,
                     "status-update", as, rid, evs, "applied", reason);
    if (rc == PL_OK)
        rc = s_ref_put(txn, rid, hdr, dk, doc);
    const char *status = pl_referral_state_name(pl_referral_track_state(&t));
    json_decref(doc);
    pl_store_wipe(dk, sizeof dk);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the update: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:o, s:s, s:I}", "id",
                                    pl_node_json_hex(rid, S_ID), "status",
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
static int
s_shred_inbox(pl_txn_t *txn, const uint8_t id[PL_MSG_ID_BYTES])
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

int
pl_case_on_referral(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
                    const uint8_t digest[32], const Passerelle__V1__Referral *r)
{
    if (r->referral_id.len != S_ID) {
        pl_log_warn(ctx->log, "referral_refused from=%s reason=malformed",
                    h->from);
        return s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                       "referral", NULL, NULL, "receive", "refused",
                       "malformed");
    }
    const uint8_t *rid = r->referral_id.data;
    uint8_t rk[1 + S_ID];
    s_rkey(rk, 'r', rid);
    const uint8_t *v;
    size_t vlen;
    int rc = pl_store_get(txn, PL_DB_REFERRALS, rk, sizeof rk, &v, &vlen);
    if (rc == PL_OK) {
        pl_log_error(ctx->log,
                     "referral_refused from=%s reason=referral_id_in_use",
                     h->from);
        return s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                       "referral", NULL, rid, "receive", "refused",
                       "duplicate-id");
    }
    if (rc != PL_ENOTFOUND)
        return rc;
    s_rkey(rk, 'x', rid); // its consent was withdrawn before it arrived
    rc = pl_store_get(txn, PL_DB_REFERRALS, rk, sizeof rk, &v, &vlen);
    if (rc == PL_OK) {
        pl_log_warn(ctx->log, "referral_refused from=%s reason=withdrawn",
                    h->from);
        rc = s_shred_inbox(txn, h->id);
        if (rc == PL_OK)
            rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                         "referral", NULL, rid, "receive", "refused",
                         "consent-withdrawn");
        return rc;
    }
    if (rc != PL_ENOTFOUND)
        return rc;
    uint64_t now = pl_now();
    bool override = false;
    char why[PL_CONSENT_TEXT_MAX] = "";
    const char *refusal = s_recheck(ctx, r, now, &override, why, sizeof why);
    pl_referral_priority_t pr;
    if (pl_referral_priority_parse(r->priority, &pr) != PL_OK)
        pr = PL_PRIORITY_NORMAL;
    uint8_t hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    hdr[0] = S_VER;
    rc = pl_store_datakey_new(txn, hdr + 1, dk); // the referral's own key
    if (rc != PL_OK)
        return rc;
    json_t *doc = json_object();
    json_object_set_new(doc, "dir", json_string("in"));
    json_object_set_new(doc, "peer", json_string(h->from));
    json_object_set_new(doc, "pseudonym", json_string(r->pseudonym));
    json_object_set_new(doc, "sector", json_string(r->sector));
    json_object_set_new(doc, "service", json_string(r->service));
    json_object_set_new(doc, "purpose", json_string(r->purpose));
    json_object_set_new(doc, "priority",
                        json_string(pl_referral_priority_name(pr)));
    json_object_set_new(doc, "due",
                        json_integer((json_int_t) (r->has_due ? r->due : 0)));
    uint64_t created = r->created_at ? r->created_at : now;
    json_object_set_new(doc, "created", json_integer((json_int_t) created));
    json_object_set_new(doc, "last_change", json_integer((json_int_t) now));
    if (r->by)
        json_object_set_new(doc, "referred_by", json_string(r->by));
    json_object_set_new(doc, "legal_basis", json_string(r->legal_basis));
    json_object_set_new(doc, "msg", pl_node_json_hex(h->id, PL_MSG_ID_BYTES));
    json_object_set_new(doc, "child", json_boolean(r->has_child && r->child));
    pl_referral_track_t t;
    pl_referral_track_init(&t, PL_SIDE_RECIPIENT);
    PL_IGNORE(pl_referral_track_received(&t, NULL));
    s_history(doc, "requested", created, r->by, NULL, NULL, NULL, NULL);
    s_history(doc, "received", now, ctx->me->address, NULL, NULL, NULL, NULL);
    uint8_t msgid[PL_MSG_ID_BYTES], odig[PL_DIGEST_BYTES];
    if (!refusal) {
        // what this node may see: the sector table's fields, no more
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
        json_object_set_new(doc, "person", pj);
        if (r->note)
            json_object_set_new(doc, "note", json_string(r->note));
        if (r->uasc)
            json_object_set_new(doc, "uasc", json_string(r->uasc));
        json_t *needs = json_array();
        for (size_t k = 0; k < r->n_needs; k++)
            json_array_append_new(needs, json_string(r->needs[k]));
        json_object_set_new(doc, "needs", needs);
        if (r->consent) {
            json_t *cj = json_object();
            json_object_set_new(cj, "given_by",
                                json_string(r->consent->given_by));
            json_object_set_new(cj, "expires",
                                pl_node_json_time(r->consent->expires_at));
            if (r->consent->guardian_name)
                json_object_set_new(cj, "guardian_name",
                                    json_string(r->consent->guardian_name));
            if (r->consent->child_views)
                json_object_set_new(cj, "child_views",
                                    json_string(r->consent->child_views));
            json_object_set_new(doc, "consent", cj);
        }
        if (override)
            json_object_set_new(doc, "override",
                                json_pack("{s:s, s:s}", "justification",
                                          r->override->justification,
                                          "approved_by",
                                          r->override->approved_by));
        rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest, "referral",
                     r->by, rid, "receive", "applied",
                     override ? "override" : NULL);
        pl_log_info(ctx->log, "referral_received from=%s", h->from);
    } else {
        // refused: answered at once with `rejected`, nothing personal kept
        pl_referral_update_t u;
        PL_IGNORE(pl_referral_track_act(&t, PL_RE_REJECT, PL_OUTCOME_NONE, &u));
        json_object_set_new(doc, "person", json_object());
        json_object_set_new(doc, "refused", json_string(why));
        rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest, "referral",
                     r->by, rid, "receive", "refused", refusal);
        if (rc == PL_OK)
            rc = s_send_status(ctx, txn, doc, rid, &u, refusal, NULL, S_SYSTEM,
                               now, msgid);
        if (rc == PL_OK)
            rc = s_out_digest(txn, msgid, odig);
        if (rc == PL_OK)
            rc = s_audit(ctx, txn, PL_AUDIT_OUT, h->from, msgid, odig,
                         "status-update", S_SYSTEM, rid, "reject", "applied",
                         refusal);
        if (rc == PL_OK)
            rc = s_shred_inbox(txn, h->id);
        s_history(doc, "rejected", now, S_SYSTEM, refusal, NULL, NULL, NULL);
        pl_log_warn(ctx->log, "referral_refused from=%s reason=%s (%s)",
                    h->from, refusal, why);
    }
    s_track_set(doc, &t);
    if (rc == PL_OK)
        rc = s_ref_put(txn, rid, hdr, dk, doc);
    pl_store_wipe(dk, sizeof dk);
    json_decref(doc);
    return rc;
}

// Details of an update kept while it waits in the track's pending list.
static void
s_pending_key(char out[24], pl_referral_side_t side, uint32_t seq)
{
    snprintf(out, 24, "%d:%u", (int) side, seq);
}

int
pl_case_on_status(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_header_t *h,
                  const uint8_t digest[32],
                  const Passerelle__V1__StatusUpdate *su)
{
    const uint8_t *rid =
        su->referral_id.len == S_ID ? su->referral_id.data : NULL;
    uint8_t hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    json_t *doc = NULL;
    int rc = rid ? s_ref_get(txn, rid, hdr, dk, &doc) : PL_EPROTO;
    if (rc == PL_ENOMEM || rc == PL_EIO) {
        return rc;
    }
    const char *peer = doc ? s_str(doc, "peer") : NULL;
    if (rc != PL_OK || !peer || strcmp(peer, h->from) != 0) {
        const char *detail = rc == PL_ENOTFOUND ? "unknown-referral"
                             : rc != PL_OK      ? "unreadable-referral"
                                                : "wrong-peer";
        pl_log_warn(ctx->log, "status_refused from=%s reason=%s", h->from,
                    detail);
        json_decref(doc);
        pl_store_wipe(dk, sizeof dk);
        return s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                       "status-update", su->by, rid, su->status, "refused",
                       detail);
    }
    pl_referral_track_t t;
    pl_referral_update_t u = {0};
    pl_referral_result_t res = PL_REF_REFUSED_INVALID;
    pl_referral_steps_t *steps = calloc(1, sizeof *steps);
    if (!steps) {
        json_decref(doc);
        pl_store_wipe(dk, sizeof dk);
        return PL_ENOMEM;
    }
    rc = s_track_get(doc, &t);
    u.by = t.me == PL_SIDE_SENDER ? PL_SIDE_RECIPIENT : PL_SIDE_SENDER;
    u.seq = su->seq;
    u.cookie = ((uint64_t) u.by << 32) | su->seq;
    bool valid =
        rc == PL_OK && pl_referral_state_parse(su->status, &u.to) == PL_OK
        && (!su->outcome
            || pl_referral_outcome_parse(su->outcome, &u.outcome) == PL_OK);
    if (valid)
        res = pl_referral_track_apply(&t, &u, steps);
    // this update's details, for the history now or when its turn comes
    json_t *pend = json_object_get(doc, "pending");
    if (!pend) {
        pend = json_object();
        json_object_set_new(doc, "pending", pend);
    }
    char pk[24];
    s_pending_key(pk, u.by, u.seq);
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
    if (res == PL_REF_BUFFERED)
        json_object_set_new(pend, pk, det);
    else
        json_decref(det);
    if (res == PL_REF_BUFFERED || res == PL_REF_DUPLICATE || !valid
        || res == PL_REF_REFUSED_INVALID || res == PL_REF_REFUSED_TOO_EARLY) {
        pl_log_info(ctx->log, "status_update from=%s seq=%u result=%s", h->from,
                    su->seq, pl_referral_result_name(res));
        rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                     "status-update", su->by, rid, su->status,
                     pl_referral_result_name(res), NULL);
        if (rc == PL_OK && res == PL_REF_BUFFERED) {
            s_track_set(doc, &t); // the track holds it until its turn
            rc = s_ref_put(txn, rid, hdr, dk, doc);
        }
        free(steps);
        json_decref(doc);
        pl_store_wipe(dk, sizeof dk);
        return rc;
    }
    // every update processed, in order (this one and released ones)
    uint64_t now = pl_now();
    rc = PL_OK;
    for (size_t i = 0; rc == PL_OK && i < steps->count; i++) {
        const pl_referral_step_t *st = &steps->step[i];
        pl_referral_side_t by = st->update.by;
        uint32_t seq = (uint32_t) (st->update.cookie & 0xffffffffu);
        char k[24];
        s_pending_key(k, by, seq);
        json_t *d = json_object_get(pend, k);
        json_t *d_own = NULL;
        if (!d) {
            // this envelope's own update
            d_own = json_object();
            json_object_set_new(d_own, "at", json_integer((json_int_t) su->at));
            if (su->by)
                json_object_set_new(d_own, "by", json_string(su->by));
            if (su->reason)
                json_object_set_new(d_own, "reason", json_string(su->reason));
            if (su->note)
                json_object_set_new(d_own, "note", json_string(su->note));
            if (su->outcome)
                json_object_set_new(d_own, "outcome", json_string(su->outcome));
            json_object_set_new(d_own, "msg",
                                pl_node_json_hex(h->id, PL_MSG_ID_BYTES));
            json_object_set_new(d_own, "digest", pl_node_json_hex(digest, 32));
            d = d_own;
        }
        uint64_t at = s_u64(d, "at") ? s_u64(d, "at") : now;
        const char *sby = s_str(d, "by");
        uint8_t dm[PL_MSG_ID_BYTES], dd[PL_DIGEST_BYTES];
        bool have_m = s_str(d, "msg")
                      && pl_unhex(dm, sizeof dm, s_str(d, "msg")) == PL_OK;
        bool have_d = s_str(d, "digest")
                      && pl_unhex(dd, sizeof dd, s_str(d, "digest")) == PL_OK;
        if (st->implied_received)
            s_history(doc, "received", at, peer, NULL, NULL, NULL, "implied");
        bool kept = st->result == PL_REF_APPLIED
                    || st->result == PL_REF_AFTER_CANCEL
                    || st->result == PL_REF_CANCEL_TOO_LATE;
        if (kept) {
            s_history(doc, pl_referral_state_name(st->update.to), at, sby,
                      s_str(d, "reason"), s_str(d, "note"), s_str(d, "outcome"),
                      st->result == PL_REF_APPLIED
                          ? NULL
                          : pl_referral_result_name(st->result));
            json_object_set_new(doc, "last_change",
                                json_integer((json_int_t) now));
        } else {
            pl_log_warn(ctx->log,
                        "status_refused from=%s seq=%u status=%s result=%s",
                        h->from, seq, pl_referral_state_name(st->update.to),
                        pl_referral_result_name(st->result));
        }
        rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, have_m ? dm : NULL,
                     have_d ? dd : NULL, "status-update", sby, rid,
                     pl_referral_event_name(st->event),
                     pl_referral_result_name(st->result), s_str(d, "reason"));
        json_decref(d_own);
        json_object_del(pend, k);
    }
    s_track_set(doc, &t);
    pl_log_info(ctx->log, "status_update from=%s seq=%u status=%s now=%s",
                h->from, su->seq, su->status, s_str(doc, "status"));
    if (rc == PL_OK)
        rc = s_ref_put(txn, rid, hdr, dk, doc);
    free(steps);
    json_decref(doc);
    pl_store_wipe(dk, sizeof dk);
    return rc;
}

int
pl_case_on_receipt(pl_node_ctx_t *ctx, pl_txn_t *txn, const uint8_t msg_id[16],
                   const char *from, uint64_t received_at)
{
    uint8_t mk[1 + S_ID];
    s_rkey(mk, 'm', msg_id);
    const uint8_t *v;
    size_t vlen;
    int rc = pl_store_get(txn, PL_DB_REFERRALS, mk, sizeof mk, &v, &vlen);
    if (rc == PL_ENOTFOUND || (rc == PL_OK && vlen != S_ID))
        return PL_OK; // not a referral of ours
    if (rc != PL_OK)
        return rc;
    uint8_t rid[S_ID], hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    memcpy(rid, v, S_ID);
    json_t *doc = NULL;
    pl_referral_track_t t;
    rc = s_ref_get(txn, rid, hdr, dk, &doc);
    if (rc == PL_OK)
        rc = s_track_get(doc, &t);
    if (rc != PL_OK) {
        json_decref(doc);
        pl_store_wipe(dk, sizeof dk);
        return rc == PL_ENOMEM || rc == PL_EIO ? rc : PL_OK;
    }
    pl_referral_step_t step;
    pl_referral_result_t res = pl_referral_track_received(&t, &step);
    if (res == PL_REF_APPLIED || res == PL_REF_AFTER_CANCEL) {
        s_history(doc, "received", received_at, from, NULL, NULL, NULL,
                  res == PL_REF_APPLIED ? NULL : "after-cancel");
        json_object_set_new(doc, "last_change",
                            json_integer((json_int_t) pl_now()));
    }
    s_track_set(doc, &t);
    rc = s_audit(ctx, txn, PL_AUDIT_IN, from, msg_id, NULL, "receipt", NULL,
                 rid, "receive", pl_referral_result_name(res), NULL);
    if (rc == PL_OK)
        rc = s_ref_put(txn, rid, hdr, dk, doc);
    json_decref(doc);
    pl_store_wipe(dk, sizeof dk);
    return rc;
}

// ---- issue 8: best-interests assessments, notifications, withdrawal,
// erasure, overdue follow-up

// case.bia: records a best-interests assessment (reference and date) in
// the case, sealed under the case key like the rest of it.
static char *
s_case_bia(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
           int *rc_out)
{
    uint8_t id[S_ID], hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    json_t *doc = NULL;
    char *reply =
        s_case_load(txn, s_arg(args, "case"), id, hdr, dk, &doc, rc_out);
    if (reply)
        return reply;
    const char *ref = s_arg(args, "ref"), *date = s_arg(args, "date");
    uint64_t t = 0, now = pl_now();
    int code = PL_EINVAL; // a refusal: the code of its reply (issue 12)
    if (!ref || strlen(ref) > 128)
        reply = pl_node_ctl_error(code, "case bia needs --ref REF (at "
                                        "most 128 bytes)");
    else if (!date || pl_date_parse(date, &t) != PL_OK || t > now)
        reply =
            pl_node_ctl_error(code, "case bia needs --date YYYY-MM-DD, not in "
                                    "the future");
    else if (s_u64(doc, "closed"))
        reply = pl_node_ctl_error(code = PL_ESTATE, "the case is closed");
    if (reply) {
        *rc_out = code;
        pl_store_wipe(dk, sizeof dk);
        json_decref(doc);
        return reply;
    }
    json_t *b = json_pack("{s:s, s:I, s:I}", "ref", ref, "date", (json_int_t) t,
                          "recorded", (json_int_t) now);
    if (b && s_by(as))
        json_object_set_new(b, "by", json_string(as));
    json_object_set_new(doc, "bia", b);
    int rc = s_put_sealed(txn, PL_DB_CASES, id, S_ID, hdr, dk, doc);
    pl_store_wipe(dk, sizeof dk);
    json_decref(doc);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case", as, id,
                     "case-bia", "applied", NULL);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store the assessment: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:o, s:o}", "id",
                                    pl_node_json_hex(id, S_ID), "date",
                                    pl_node_json_time(t)));
}

// ---- the referrals of one case (sender side)

typedef struct {
    uint8_t id[S_ID];              // referral id
    char peer[PL_ADDRESS_MAX + 1]; // recipient
    uint8_t msg[PL_MSG_ID_BYTES];  // the referral envelope's id
    bool has_msg;                  // msg is set
    bool open;                     // not terminal
    bool consent;                  // legal basis: consent (no override)
    char priority[16];             // emergency | urgent | normal
    uint64_t since;                // overdue walk: the deadline
} s_cref_t;

typedef struct {
    s_cref_t *v;   // grown array
    size_t n, cap; // used, allocated
} s_crefs_t;

static int
s_crefs_push(s_crefs_t *c, const uint8_t id[S_ID], const json_t *doc)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 8;
        s_cref_t *v = realloc(c->v, cap * sizeof *v);
        if (!v)
            return PL_ENOMEM;
        c->v = v;
        c->cap = cap;
    }
    s_cref_t *e = &c->v[c->n++];
    memset(e, 0, sizeof *e);
    memcpy(e->id, id, S_ID);
    const char *peer = s_str(doc, "peer"), *msg = s_str(doc, "msg");
    snprintf(e->peer, sizeof e->peer, "%s", peer ? peer : "");
    e->has_msg = msg && pl_unhex(e->msg, sizeof e->msg, msg) == PL_OK;
    pl_referral_state_t st;
    e->open = pl_referral_state_parse(s_str(doc, "status"), &st) == PL_OK
              && pl_referral_is_open(st);
    const char *lb = s_str(doc, "legal_basis");
    e->consent = lb && strcmp(lb, "consent") == 0;
    const char *pr = s_str(doc, "priority");
    snprintf(e->priority, sizeof e->priority, "%s", pr ? pr : "");
    return PL_OK;
}

static int
s_collect_one(s_rwalk_t *w, const uint8_t id[S_ID], json_t *doc)
{
    const char *dir = s_str(doc, "dir"), *c = s_str(doc, "case");
    if (!dir || strcmp(dir, "out") != 0 || !c || strcmp(c, w->case_hex) != 0)
        return PL_STORE_NEXT;
    return s_crefs_push(w->user, id, doc) == PL_OK ? PL_STORE_NEXT : PL_ENOMEM;
}

static int
s_case_refs(pl_txn_t *txn, const uint8_t case_id[S_ID], s_crefs_t *out)
{
    char hex[2 * S_ID + 1];
    pl_hex(hex, case_id, S_ID);
    memset(out, 0, sizeof *out);
    s_rwalk_t w = {.txn = txn, .now = pl_now(), .fn = s_collect_one};
    w.case_hex = hex;
    w.user = out;
    return pl_store_each(txn, PL_DB_REFERRALS, s_rwalk_one, &w);
}

// ---- crypto-shredding of inbox copies

typedef struct {
    pl_txn_t *txn;
    const uint8_t *ids;                   // referral ids, S_ID each
    size_t nids;                          // how many
    uint8_t (*kill)[PL_DATAKEY_ID_BYTES]; // data keys to destroy
    size_t nkill, cap;
} s_ishred_t;

static bool
s_id_in(const uint8_t *ids, size_t n, const uint8_t *id)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(ids + i * S_ID, id, S_ID) == 0)
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
    bool hit = rid && rid->len == S_ID && s_id_in(s->ids, s->nids, rid->data);
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
static int
s_shred_inbox_refs(pl_txn_t *txn, const uint8_t *ids, size_t nids, size_t *n)
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
s_cancel_one(pl_node_ctx_t *ctx, pl_txn_t *txn, const uint8_t rid[S_ID],
             const char *as, const char *reason, bool *cancelled)
{
    uint8_t hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    json_t *doc = NULL;
    pl_referral_track_t t;
    *cancelled = false;
    int rc = s_ref_get(txn, rid, hdr, dk, &doc);
    if (rc == PL_OK)
        rc = s_track_get(doc, &t);
    pl_referral_update_t u;
    if (rc != PL_OK
        || pl_referral_track_act(&t, PL_RE_CANCEL, PL_OUTCOME_NONE, &u)
               != PL_REF_APPLIED) {
        json_decref(doc);
        pl_store_wipe(dk, sizeof dk);
        return rc == PL_ENOMEM || rc == PL_EIO ? rc : PL_OK;
    }
    uint64_t now = pl_now();
    uint8_t msgid[PL_MSG_ID_BYTES], digest[PL_DIGEST_BYTES];
    rc = s_send_status(ctx, txn, doc, rid, &u, reason, NULL, s_by(as), now,
                       msgid);
    if (rc == PL_OK) {
        s_track_set(doc, &t);
        s_history(doc, "cancelled", now, s_by(as), reason, NULL, NULL, NULL);
        json_object_set_new(doc, "last_change", json_integer((json_int_t) now));
        rc = s_out_digest(txn, msgid, digest);
    }
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_OUT, s_str(doc, "peer"), msgid, digest,
                     "status-update", as, rid, "cancel", "applied", reason);
    if (rc == PL_OK)
        rc = s_ref_put(txn, rid, hdr, dk, doc);
    json_decref(doc);
    pl_store_wipe(dk, sizeof dk);
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
                     const uint8_t case_id[S_ID], json_t *cdoc, const char *as,
                     size_t *ncancelled, json_t *holders)
{
    s_crefs_t refs;
    int rc = s_case_refs(txn, case_id, &refs);
    *ncancelled = 0;
    for (size_t i = 0; rc == PL_OK && i < refs.n; i++) {
        bool done = false;
        if (refs.v[i].consent && refs.v[i].open)
            rc = s_cancel_one(ctx, txn, refs.v[i].id, as, "consent-withdrawn",
                              &done);
        *ncancelled += done;
    }
    uint8_t wid[S_ID];
    randombytes_buf(wid, sizeof wid);
    uint64_t now = pl_now();
    json_t *hold = json_object();
    uint8_t *ids = malloc(refs.n ? refs.n * S_ID : 1);
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
                memcpy(ids + nb * S_ID, refs.v[j].id, S_ID);
                bins[nb].data = ids + nb * S_ID;
                bins[nb].len = S_ID;
                nb++;
            }
        Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
        Passerelle__V1__ConsentWithdrawal cw =
            PASSERELLE__V1__CONSENT_WITHDRAWAL__INIT;
        cw.withdrawal_id.data = wid;
        cw.withdrawal_id.len = S_ID;
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
            rc = s_out_digest(txn, msgid, digest);
        if (rc == PL_OK)
            rc = s_audit(ctx, txn, PL_AUDIT_OUT, peer, msgid, digest,
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
        uint8_t wk[1 + S_ID];
        s_rkey(wk, 'w', wid);
        rc = pl_store_put(txn, PL_DB_REFERRALS, wk, sizeof wk, case_id, S_ID);
        json_t *ws = json_object_get(cdoc, "withdrawals");
        if (!ws) {
            ws = json_array();
            json_object_set_new(cdoc, "withdrawals", ws);
        }
        json_t *e =
            json_pack("{s:o, s:I, s:O}", "id", pl_node_json_hex(wid, S_ID),
                      "at", (json_int_t) now, "holders", hold);
        if (s_by(as))
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
        int rc = s_shred_inbox(txn, h->id);
        if (rc == PL_OK)
            rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                         "cp-notification", NULL, rid, "cp-notify", "refused",
                         "not-child-protection");
        return rc;
    }
    uint64_t now = pl_now();
    json_t *doc = json_pack(
        "{s:s, s:s, s:o, s:s, s:o, s:o}", "kind", n->kind, "from", h->from,
        "referral", pl_node_json_hex(rid, S_ID), "region", n->region, "at",
        pl_node_json_time(n->at), "received", pl_node_json_time(now));
    char *text = doc ? s_dump(doc) : NULL;
    json_decref(doc);
    if (!text)
        return PL_ENOMEM;
    uint8_t k[1 + PL_MSG_ID_BYTES];
    k[0] = 'n';
    memcpy(k + 1, h->id, PL_MSG_ID_BYTES);
    int rc = pl_store_put_secret(txn, PL_DB_REFERRALS, k, sizeof k, text,
                                 strlen(text));
    s_wipe_free(text);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
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
    uint8_t *ids = malloc(n ? n * S_ID : 1);
    uint8_t *done = malloc(n ? n * S_ID : 1);
    ProtobufCBinaryData *bins = calloc(n ? n : 1, sizeof *bins);
    int rc = ids && done && bins ? PL_OK : PL_ENOMEM;
    for (size_t i = 0; rc == PL_OK && i < n; i++) {
        const uint8_t *rid = w->referral_ids[i].data;
        memcpy(ids + i * S_ID, rid, S_ID);
        uint8_t hdr[S_HDR], rk[1 + S_ID], xk[1 + S_ID];
        json_t *doc = NULL;
        s_rkey(rk, 'r', rid);
        s_rkey(xk, 'x', rid);
        int grc = s_ref_get(txn, rid, hdr, NULL, &doc);
        if (grc == PL_ENOMEM || grc == PL_EIO) {
            rc = grc;
            break;
        }
        const char *peer = doc ? s_str(doc, "peer") : NULL;
        const char *dir = doc ? s_str(doc, "dir") : NULL;
        if (grc == PL_OK
            && (!peer || strcmp(peer, h->from) != 0 || !dir
                || strcmp(dir, "in") != 0)) {
            json_decref(doc); // not this sender's referral: left alone
            rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                         "consent-withdrawal", NULL, rid, "erase", "refused",
                         "wrong-peer");
            continue;
        }
        if (grc == PL_OK) {
            uint8_t msg[PL_MSG_ID_BYTES];
            const char *mh = s_str(doc, "msg");
            if (mh && pl_unhex(msg, sizeof msg, mh) == PL_OK)
                rc = s_shred_inbox(txn, msg);
            if (rc == PL_OK) {
                rc = pl_store_datakey_destroy(txn, hdr + 1);
                rc = rc == PL_ENOTFOUND ? PL_OK : rc;
            }
            if (rc == PL_OK)
                rc = pl_store_del(txn, PL_DB_REFERRALS, rk, sizeof rk);
            memcpy(done + nd * S_ID, rid, S_ID);
            bins[nd].data = done + nd * S_ID;
            bins[nd].len = S_ID;
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
        rc = s_shred_inbox_refs(txn, ids, n, &nshred);
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
        rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
                     "consent-withdrawal", NULL, w->withdrawal_id.data, "erase",
                     "applied", NULL);
    if (rc == PL_OK)
        rc = s_out_digest(txn, msgid, odig);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_OUT, h->from, msgid, odig,
                     "erasure-confirmation", S_SYSTEM, w->withdrawal_id.data,
                     "erase-confirm", "applied", NULL);
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
    uint8_t wk[1 + S_ID], case_id[S_ID], hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    s_rkey(wk, 'w', wid);
    const uint8_t *v;
    size_t vlen;
    int rc = pl_store_get(txn, PL_DB_REFERRALS, wk, sizeof wk, &v, &vlen);
    if (rc == PL_ENOMEM || rc == PL_EIO)
        return rc;
    const char *detail = NULL;
    json_t *doc = NULL;
    if (rc != PL_OK || vlen != S_ID) {
        detail = "unknown-withdrawal";
    } else {
        memcpy(case_id, v, S_ID);
        rc = s_case_get(txn, case_id, hdr, dk, &doc);
        if (rc == PL_ENOMEM || rc == PL_EIO)
            return rc;
        if (rc != PL_OK)
            detail = "case-erased";
    }
    json_t *holder = NULL;
    char whex[2 * S_ID + 1];
    pl_hex(whex, wid, S_ID);
    size_t i;
    json_t *we;
    json_array_foreach(json_object_get(doc, "withdrawals"), i, we)
    {
        const char *id = s_str(we, "id");
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
        rc = s_put_sealed(txn, PL_DB_CASES, case_id, S_ID, hdr, dk, doc);
    }
    pl_store_wipe(dk, sizeof dk);
    json_decref(doc);
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_IN, h->from, h->id, digest,
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
    const char *at = s_str(doc, "at");
    size_t i = 0;
    for (; i < json_array_size(w->out); i++) {
        const char *o = s_str(json_array_get(w->out, i), "at");
        if (at && o && strcmp(o, at) > 0)
            break;
    }
    json_array_insert_new(w->out, i, doc);
    return PL_STORE_NEXT;
}

static char *
s_notifications(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
                int *rc_out)
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

// ---- erase (owner)

typedef struct {
    const uint8_t *case_id; // match
    uint8_t tag;            // key tag ('w' in referrals) or 0 (consents)
    uint8_t (*keys)[1 + S_ID];
    size_t n, cap;
} s_keys_t;

static int
s_keys_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    s_keys_t *s = arg;
    if (s->tag) {
        if (kl != 1 + S_ID || k[0] != s->tag || vl != S_ID
            || memcmp(v, s->case_id, S_ID) != 0)
            return PL_STORE_NEXT;
    } else if (kl != S_ID || vl < S_HDR
               || memcmp(v + 1, s->case_id, S_ID) != 0) {
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
                const uint8_t case_id[S_ID])
{
    s_keys_t s = {case_id, tag, NULL, 0, 0};
    int rc = pl_store_each(txn, db, s_keys_one, &s);
    size_t kl = tag ? 1 + S_ID : S_ID;
    for (size_t i = 0; rc == PL_OK && i < s.n; i++)
        rc = pl_store_del(txn, db, s.keys[i], kl);
    free(s.keys);
    return rc;
}

static char *
s_erase(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
        int *rc_out)
{
    uint8_t id[S_ID], hdr[S_HDR], dk[PL_DATAKEY_BYTES];
    json_t *doc = NULL;
    char *reply =
        s_case_load(txn, s_arg(args, "case"), id, hdr, dk, &doc, rc_out);
    if (reply)
        return reply;
    pl_store_wipe(dk, sizeof dk); // the key itself is not needed
    json_decref(doc);
    char hex[2 * S_ID + 1];
    pl_hex(hex, id, S_ID);
    s_crefs_t refs;
    int rc = s_case_refs(txn, id, &refs);
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
    uint8_t *ids = malloc(refs.n ? refs.n * S_ID : 1);
    if (!ids)
        rc = PL_ENOMEM;
    for (size_t i = 0; rc == PL_OK && i < refs.n; i++) {
        uint8_t rk[1 + S_ID];
        memcpy(ids + i * S_ID, refs.v[i].id, S_ID);
        s_rkey(rk, 'r', refs.v[i].id);
        rc = pl_store_del(txn, PL_DB_REFERRALS, rk, sizeof rk);
        if (rc == PL_OK && refs.v[i].has_msg) {
            s_rkey(rk, 'm', refs.v[i].msg);
            rc = pl_store_del(txn, PL_DB_REFERRALS, rk, sizeof rk);
            rc = rc == PL_ENOTFOUND ? PL_OK : rc;
        }
    }
    size_t nshred = 0;
    if (rc == PL_OK) // status updates received about them
        rc = s_shred_inbox_refs(txn, ids, refs.n, &nshred);
    if (rc == PL_OK)
        rc = s_del_case_keys(txn, PL_DB_CONSENTS, 0, id);
    if (rc == PL_OK)
        rc = s_del_case_keys(txn, PL_DB_REFERRALS, 'w', id);
    if (rc == PL_OK) { // crypto-shredding: the case key
        rc = pl_store_datakey_destroy(txn, hdr + 1);
        rc = rc == PL_ENOTFOUND ? PL_OK : rc;
    }
    if (rc == PL_OK)
        rc = pl_store_del(txn, PL_DB_CASES, id, S_ID);
    uint64_t now = pl_now();
    if (rc == PL_OK) { // what `case show` says afterwards
        json_t *t = json_pack("{s:I}", "erased", (json_int_t) now);
        if (s_by(as))
            json_object_set_new(t, "by", json_string(as));
        char *text = s_dump(t);
        json_decref(t);
        uint8_t ek[1 + S_ID];
        s_rkey(ek, 'e', id);
        rc = text ? pl_store_put_secret(txn, PL_DB_CASES, ek, sizeof ek, text,
                                        strlen(text))
                  : PL_ENOMEM;
        free(text);
    }
    if (rc == PL_OK)
        rc = s_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case", as, id,
                     "case-erase", "applied", NULL);
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

// `case show` of an erased case: the tombstone, or NULL (not erased).
static char *
s_case_erased(pl_txn_t *txn, const char *text)
{
    uint8_t id[S_ID];
    int rc;
    char *err = s_resolve(txn, PL_DB_CASES, 'e', "case", text, id, &rc);
    if (err) {
        free(err);
        return NULL;
    }
    uint8_t ek[1 + S_ID];
    s_rkey(ek, 'e', id);
    pl_buf_t b = {0};
    json_error_t jerr;
    json_t *t = NULL;
    if (pl_store_get_secret(txn, PL_DB_CASES, ek, sizeof ek, &b) == PL_OK)
        t = json_loadb((const char *) b.data, b.len, 0, &jerr);
    pl_buf_wipe(&b);
    if (!t)
        return NULL;
    json_t *o =
        json_pack("{s:o, s:s, s:o}", "id", pl_node_json_hex(id, S_ID), "status",
                  "erased", "erased", pl_node_json_time(s_u64(t, "erased")));
    if (s_str(t, "by"))
        json_object_set_new(o, "erased_by", json_string(s_str(t, "by")));
    json_decref(t);
    return pl_node_ctl_ok(o);
}

// ---- overdue follow-up (sender)

static int
s_overdue_one(s_rwalk_t *w, const uint8_t id[S_ID], json_t *doc)
{
    uint64_t since = 0;
    const char *dir = s_str(doc, "dir");
    if (!dir || strcmp(dir, "out") != 0 || !s_overdue(doc, w->now, &since)
        || s_u64(doc, "overdue_logged") == since)
        return PL_STORE_NEXT;
    s_crefs_t *c = w->user;
    if (s_crefs_push(c, id, doc) != PL_OK)
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
    s_crefs_t c = {0};
    s_rwalk_t w = {.txn = txn, .now = pl_now(), .fn = s_overdue_one};
    w.user = &c;
    int rc = pl_store_each(txn, PL_DB_REFERRALS, s_rwalk_one, &w);
    for (size_t i = 0; rc == PL_OK && i < c.n; i++) {
        uint8_t hdr[S_HDR], dk[PL_DATAKEY_BYTES];
        json_t *doc = NULL;
        rc = s_ref_get(txn, c.v[i].id, hdr, dk, &doc);
        if (rc == PL_OK) {
            json_object_set_new(doc, "overdue_logged",
                                json_integer((json_int_t) c.v[i].since));
            rc = s_ref_put(txn, c.v[i].id, hdr, dk, doc);
        }
        json_decref(doc);
        pl_store_wipe(dk, sizeof dk);
    }
    if (rc == PL_OK && c.n)
        rc = pl_store_commit(&txn);
    else
        pl_store_abort(&txn);
    // logged once the store remembers it, so a restart does not log again
    for (size_t i = 0; rc == PL_OK && i < c.n; i++) {
        char hex[2 * S_ID + 1], since[32];
        pl_hex(hex, c.v[i].id, S_ID);
        pl_time_fmt(since, c.v[i].since);
        pl_log_warn(ctx->log, "referral_overdue id=%s priority=%s since=%s",
                    hex, c.v[i].priority, since);
    }
    free(c.v);
}

#ifdef PL_TEST_BUILD
// ---- test hook: which sealed records still open (PASSERELLE_TEST_HOOKS=1)

typedef struct {
    pl_txn_t *txn;
    uint8_t (*keys)[PL_DATAKEY_BYTES]; // every data key still in the store
    size_t nkeys, cap;
    pl_db_t db;            // the database walked
    const json_t *needles; // strings searched in what opens
    size_t records, opened, matches;
} s_probe_t;

static int
s_probe_key(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v;
    (void) vl;
    s_probe_t *p = arg;
    if (kl != PL_DATAKEY_ID_BYTES)
        return PL_STORE_NEXT;
    if (p->nkeys == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        void *n = realloc(p->keys, cap * PL_DATAKEY_BYTES);
        if (!n)
            return PL_ENOMEM;
        p->keys = n;
        p->cap = cap;
    }
    if (pl_store_datakey_get(p->txn, k, p->keys[p->nkeys]) == PL_OK)
        p->nkeys++;
    return PL_STORE_NEXT;
}

static void
s_probe_plain(s_probe_t *p, const pl_buf_t *b)
{
    p->opened++;
    size_t i;
    json_t *e;
    json_array_foreach(p->needles, i, e)
    {
        const char *s = json_string_value(e);
        if (s && *s && memmem(b->data, b->len, s, strlen(s)))
            p->matches++;
    }
}

static int
s_probe_rec(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    s_probe_t *p = arg;
    p->records++;
    const uint8_t *sealed = NULL;
    size_t slen = 0;
    pl_inrec_t in;
    if (p->db == PL_DB_INBOX && pl_inrec_decode(v, vl, &in) == PL_OK) {
        sealed = in.sealed;
        slen = in.sealed_len;
    } else if (vl > S_HDR + PL_SEAL_OVERHEAD) {
        sealed = v + S_HDR;
        slen = vl - S_HDR;
    }
    for (size_t i = 0; sealed && i < p->nkeys; i++) {
        pl_buf_t b = {0};
        if (pl_store_unseal(p->keys[i], p->db, k, kl, sealed, slen, &b)
            == PL_OK)
            s_probe_plain(p, &b);
        pl_buf_wipe(&b);
    }
    pl_buf_t b = {0};
    if (p->db == PL_DB_REQUESTS && kl == PL_REQUEST_ID_BYTES) {
        if (pl_store_request_get(p->txn, k, &b) == PL_OK)
            s_probe_plain(p, &b);
    } else if (pl_store_get_secret(p->txn, p->db, k, kl, &b) == PL_OK) {
        s_probe_plain(p, &b);
    }
    pl_buf_wipe(&b);
    return PL_STORE_NEXT;
}

static char *
s_test_probe(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    (void) as;
    (void) rc_out;
    (void) ctx;
    s_probe_t p = {.txn = txn, .needles = json_object_get(args, "needles")};
    int rc = pl_store_each(txn, PL_DB_KEYS, s_probe_key, &p);
    static const pl_db_t dbs[] = {PL_DB_CASES, PL_DB_CONSENTS, PL_DB_REFERRALS,
                                  PL_DB_INBOX, PL_DB_REQUESTS};
    for (size_t i = 0; rc == PL_OK && i < sizeof dbs / sizeof *dbs; i++) {
        p.db = dbs[i];
        rc = pl_store_each(txn, dbs[i], s_probe_rec, &p);
    }
    if (p.keys)
        pl_store_wipe(p.keys, p.cap * PL_DATAKEY_BYTES);
    free(p.keys);
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "probe: %s", pl_strerror(rc));
    return pl_node_ctl_ok(
        json_pack("{s:I, s:I, s:I, s:I}", "keys", (json_int_t) p.nkeys,
                  "records", (json_int_t) p.records, "opened",
                  (json_int_t) p.opened, "matches", (json_int_t) p.matches));
}

#endif // PL_TEST_BUILD

// ---- the command rows

const pl_ctl_cmd_t pl_case_cmds[] = {
    {"case.add", PL_CTL_CHANGES, s_case_add},
    {"case.show", 0, s_case_show},
    {"case.list", 0, s_case_list},
    {"case.close", PL_CTL_CHANGES, s_case_close},
    {"consent.add", PL_CTL_CHANGES, s_consent_add},
    {"consent.withdraw", PL_CTL_CHANGES, s_consent_withdraw},
    {"refer", PL_CTL_CHANGES, s_refer},
    {"referrals", 0, s_referrals},
    {"referral.show", 0, s_referral_show},
    {"referral.act", PL_CTL_CHANGES, s_act},
    {"case.bia", PL_CTL_CHANGES, s_case_bia},
    {"erase", PL_CTL_CHANGES, s_erase},
    {"notifications", 0, s_notifications},
#ifdef PL_TEST_BUILD
    {"test.probe", PL_CTL_TEST, s_test_probe},
#endif
    {NULL, 0, NULL},
};

// ---- the adapter: pl_node_t -> pl_node_ctx_t

static int
s_svc_outbox_add(void *arg, pl_txn_t *txn, const char *to, int kind,
                 const uint8_t *msg, size_t msg_len, uint64_t ttl,
                 uint8_t id[PL_MSG_ID_BYTES])
{
    return pl_node_outbox_add(arg, txn, to, kind, msg, msg_len, ttl, id);
}

static const pl_cert_t *
s_svc_dir_find(void *arg, const char *address, int *why)
{
    return pl_node_dir_find(arg, address, why);
}

static void
s_svc_ask_directory(void *arg, bool force)
{
    pl_node_ask_directory(arg, force);
}

static const pl_node_svc_t s_svc = {s_svc_outbox_add, s_svc_dir_find,
                                    s_svc_ask_directory};

static pl_node_ctx_t
s_ctx(pl_node_t *self)
{
    pl_node_ctx_t ctx = {self->log, self->keys, &self->me, self->store,
                         self->dir, self->ndir, &s_svc,    self};
    return ctx;
}

// The row of 'cmd', or NULL (test rows only with PASSERELLE_TEST_HOOKS=1).
static const pl_ctl_cmd_t *
s_row(const char *cmd)
{
    for (const pl_ctl_cmd_t *c = pl_case_cmds; c->name; c++)
        if (strcmp(cmd, c->name) == 0)
            return (c->flags & PL_CTL_TEST) && !s_test_hooks() ? NULL : c;
    return NULL;
}

bool
pl_node_case_handles(const char *cmd)
{
    for (const pl_ctl_cmd_t *c = pl_case_cmds; c->name; c++)
        if (strcmp(cmd, c->name) == 0)
            return true;
    return false;
}

bool
pl_node_case_changes_state(const char *cmd)
{
    const pl_ctl_cmd_t *c = s_row(cmd);
    return c && (c->flags & PL_CTL_CHANGES);
}

char *
pl_case_ctl(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *cmd, json_t *args,
            const char *as, int *rc_out)
{
    *rc_out = PL_OK;
    if (as && strlen(as) > 127) {
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL, "--as is too long");
    }
    const pl_ctl_cmd_t *c = s_row(cmd);
    if (c)
        return c->fn(ctx, txn, args, as, rc_out);
    *rc_out = PL_EINVAL;
    return pl_node_ctl_error(PL_EINVAL, "unknown command '%s'", cmd);
}

char *
pl_node_case_ctl(pl_node_t *self, pl_txn_t *txn, const char *cmd, json_t *args,
                 const char *as, int *rc_out)
{
    pl_node_ctx_t ctx = s_ctx(self);
    return pl_case_ctl(&ctx, txn, cmd, args, as, rc_out);
}

int
pl_node_case_on_referral(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
                         const uint8_t digest[32],
                         const Passerelle__V1__Referral *r)
{
    pl_node_ctx_t ctx = s_ctx(self);
    return pl_case_on_referral(&ctx, txn, h, digest, r);
}

int
pl_node_case_on_status(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
                       const uint8_t digest[32],
                       const Passerelle__V1__StatusUpdate *u)
{
    pl_node_ctx_t ctx = s_ctx(self);
    return pl_case_on_status(&ctx, txn, h, digest, u);
}

int
pl_node_case_on_receipt(pl_node_t *self, pl_txn_t *txn,
                        const uint8_t msg_id[16], const char *from,
                        uint64_t received_at)
{
    pl_node_ctx_t ctx = s_ctx(self);
    return pl_case_on_receipt(&ctx, txn, msg_id, from, received_at);
}

int
pl_node_case_on_other(pl_node_t *self, pl_txn_t *txn, const pl_header_t *h,
                      const uint8_t digest[32], const pl_message_t *m)
{
    pl_node_ctx_t ctx = s_ctx(self);
    return pl_case_on_other(&ctx, txn, h, digest, m);
}

void
pl_node_case_overdue_sweep(pl_node_t *self)
{
    pl_node_ctx_t ctx = s_ctx(self);
    pl_case_overdue_sweep(&ctx);
}
