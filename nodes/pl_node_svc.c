// pl_node_svc - the service catalogue commands (issue 18): this node's own
// catalogue (add, remove, capacity, export), the peers' (import, list),
// matching a case's needs to services, and the referral slip (make,
// check). Store: "settings" keys "svc/own" (this node's signed catalogue)
// and "svc/peer/ADDRESS" (a peer's, as it signed it). Nothing personal is
// kept there. Layer: nodes, handlers.
#include "nodes/pl_node_svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_casework.h"
#include "nodes/pl_roles.h"
#include "nodes/pl_slip.h"
#include "nodes/pl_svc.h"
#include "nodes/pl_svc_store.h"

#define S_OWN  PL_SVC_OWN
#define S_PEER PL_SVC_PEER

// ---- stored catalogues

// This node's catalogue document (new reference): the stored one, checked
// against our own certificate, or an empty one.
static json_t *
s_own(pl_node_ctx_t *ctx, pl_txn_t *txn)
{
    json_t *s = pl_svc_get(txn, S_OWN), *doc = NULL;
    const char *why;
    if (s && pl_svc_verify(s, ctx->me, &doc, &why) != PL_OK)
        doc = NULL;
    json_decref(s);
    if (!doc)
        doc = json_pack("{s:i, s:s, s:i, s:i, s:[]}", "v", 1, "address",
                        ctx->me->address, "version", 0, "signed_at", 0,
                        "services");
    return doc;
}

// Signs 'doc' as its next version and stores it. An error reply or NULL.
static char *
s_own_save(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *doc, int *rc_out)
{
    // the version grows, and is at least the signing time: a version sent
    // to the broker by a pass whose commit then failed is never reused
    json_int_t v = json_integer_value(json_object_get(doc, "version"));
    json_int_t now = (json_int_t) pl_now();
    v = v + 1 > now ? v + 1 : now;
    json_object_set_new(doc, "version", json_integer(v));
    json_object_set_new(doc, "signed_at", json_integer(now));
    json_t *s = pl_svc_sign(doc, ctx->keys);
    int rc = s ? pl_svc_put(txn, S_OWN, s) : PL_ENOMEM;
    char *text = rc == PL_OK ? json_dumps(s, JSON_COMPACT) : NULL;
    if (text) // to the broker's directory (nodes/pl_node_catalog.c)
        pl_ctx_publish(ctx, (const uint8_t *) text, strlen(text), (uint64_t) v);
    free(text);
    json_decref(s);
    *rc_out = rc;
    return rc == PL_OK ? NULL
                       : pl_node_ctl_error(rc, "cannot store the catalogue: %s",
                                           pl_strerror(rc));
}

// The index of service 'code' in 'doc', or -1.
static long
s_find(const json_t *doc, const char *code)
{
    const json_t *a = json_object_get(doc, "services"), *e;
    size_t i;
    json_array_foreach(
        a, i, e) if (code
                     && !strcmp(json_string_value(json_object_get(e, "code")),
                                code)) return (long) i;
    return -1;
}

static char *
s_reply_entry(json_t *doc, long i)
{
    json_t *o = json_pack(
        "{s:O, s:O}", "version", json_object_get(doc, "version"), "entry",
        json_array_get(json_object_get(doc, "services"), (size_t) i));
    json_decref(doc);
    return pl_node_ctl_ok(o);
}

// Audits a change of this node's catalogue by 'as' (NULL: the Unix
// owner): kind "catalogue", the service's code as detail (a code, never
// personal data). PL_OK or the store's error.
static int
s_audit(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *as, const char *event,
        const char *code)
{
    char detail[96];
    snprintf(detail, sizeof detail, "code=%s", code ? code : "");
    return pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL,
                         "catalogue", as ? as : "owner", NULL, event, "ok",
                         detail);
}

// Saves 'doc' (its next version) and replies with its entry 'i'.
static char *
s_save_reply(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *doc, long i,
             int *rc_out)
{
    char *err = s_own_save(ctx, txn, doc, rc_out);
    if (err) {
        json_decref(doc);
        return err;
    }
    return s_reply_entry(doc, i);
}

static char *
s_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
      int *rc_out)
{
    json_t *e = json_deep_copy(json_object_get(args, "entry"));
    const char *why = pl_svc_entry_check(e);
    if (why) {
        json_decref(e);
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL, "%s", why);
    }
    json_t *doc = s_own(ctx, txn), *a = json_object_get(doc, "services");
    long i = s_find(doc, json_string_value(json_object_get(e, "code")));
    if (i >= 0 && !json_object_get(e, "capacity")) {
        json_t *c = json_object_get(json_array_get(a, (size_t) i), "capacity");
        if (c)
            json_object_set(e, "capacity", c);
    }
    if (i >= 0 && json_is_true(json_object_get(args, "new"))) {
        json_decref(e), json_decref(doc);
        *rc_out = PL_EEXIST;
        return pl_node_ctl_error(PL_EEXIST,
                                 "a service with this code exists: change it");
    }
    if (i < 0 && json_array_size(a) >= PL_SVC_MAX) {
        json_decref(e), json_decref(doc);
        *rc_out = PL_EFULL;
        return pl_node_ctl_error(PL_EFULL, "at most %d services", PL_SVC_MAX);
    }
    int rc = s_audit(ctx, txn, as, i >= 0 ? "service-change" : "service-add",
                     json_string_value(json_object_get(e, "code")));
    if (rc != PL_OK) {
        json_decref(e), json_decref(doc);
        *rc_out = rc;
        return pl_node_ctl_error(rc, "cannot audit: %s", pl_strerror(rc));
    }
    if (i >= 0)
        json_array_set_new(a, (size_t) i, e);
    else
        json_array_append_new(a, e);
    i = i >= 0 ? i : (long) json_array_size(a) - 1;
    return s_save_reply(ctx, txn, doc, i, rc_out);
}

static char *
s_remove(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    json_t *doc = s_own(ctx, txn);
    long i = s_find(doc, pl_case_arg(args, "code"));
    if (i < 0) {
        json_decref(doc);
        *rc_out = PL_ENOTFOUND;
        return pl_node_ctl_error(PL_ENOTFOUND, "no service with that code");
    }
    int rc = s_audit(ctx, txn, as, "service-remove", pl_case_arg(args, "code"));
    if (rc != PL_OK) {
        json_decref(doc);
        *rc_out = rc;
        return pl_node_ctl_error(rc, "cannot audit: %s", pl_strerror(rc));
    }
    json_array_remove(json_object_get(doc, "services"), (size_t) i);
    char *err = s_own_save(ctx, txn, doc, rc_out);
    json_t *v = json_object_get(doc, "version");
    char *ok =
        err ? err
            : pl_node_ctl_ok(json_pack("{s:O, s:s}", "version", v, "removed",
                                       pl_case_arg(args, "code")));
    json_decref(doc);
    return ok;
}

static char *
s_capacity(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
           int *rc_out)
{
    (void) as;
    uint64_t until = 0;
    const char *u = pl_case_arg(args, "until");
    if (u && pl_date_parse(u, &until) != PL_OK) {
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL, "until is a date YYYY-MM-DD");
    }
    const json_t *fj = json_object_get(args, "free");
    long long free_n = json_is_integer(fj) ? json_integer_value(fj) : -1;
    json_t *doc = s_own(ctx, txn);
    long i = s_find(doc, pl_case_arg(args, "code"));
    const char *why =
        i < 0 ? "no service with that code"
              : pl_svc_capacity(
                  json_array_get(json_object_get(doc, "services"), (size_t) i),
                  pl_case_arg(args, "state"), free_n, until, pl_now());
    if (why) {
        json_decref(doc);
        *rc_out = i < 0 ? PL_ENOTFOUND : PL_EINVAL;
        return pl_node_ctl_error(*rc_out, "%s", why);
    }
    return s_save_reply(ctx, txn, doc, i, rc_out);
}

static char *
s_export(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    (void) ctx, (void) args, (void) as, (void) rc_out;
    json_t *s = pl_svc_get(txn, S_OWN);
    if (!s) {
        *rc_out = PL_ENOTFOUND;
        return pl_node_ctl_error(PL_ENOTFOUND,
                                 "no catalogue yet: add a service first");
    }
    return pl_node_ctl_ok(s);
}

// ---- peers' catalogues

static char *
s_import(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    (void) as;
    json_t *doc = NULL;
    const char *why = NULL;
    const json_t *cat = json_object_get(args, "catalogue");
    char addr[PL_ADDRESS_MAX + 1] = "";
    const pl_cert_t *cert =
        pl_svc_claimed(cat, addr) ? pl_ctx_dir_find(ctx, addr, NULL) : NULL;
    int rc = pl_svc_peer_take(txn, cert, ctx->me->address, cat, &doc, &why);
    *rc_out = rc;
    if (rc != PL_OK) {
        pl_log_warn(ctx->log, "catalogue_refused reason=%s", pl_strerror(rc));
        return pl_node_ctl_error(rc, "catalogue refused: %s", why);
    }
    json_t *o = json_pack(
        "{s:O, s:O, s:I}", "address", json_object_get(doc, "address"),
        "version", json_object_get(doc, "version"), "services",
        (json_int_t) json_array_size(json_object_get(doc, "services")));
    json_decref(doc);
    return pl_node_ctl_ok(o);
}

// Appends the entries of catalogue 'doc' from 'cert' to 'out'.
static void
s_append(json_t *out, const json_t *doc, const pl_cert_t *cert, uint64_t now,
         bool own)
{
    const json_t *e;
    size_t i;
    json_array_foreach(json_object_get(doc, "services"), i, e)
    {
        const json_t *at =
            json_object_get(json_object_get(e, "capacity"), "set_at");
        json_t *o = json_pack("{s:s, s:s, s:s, s:O, s:O}", "address",
                              cert->address, "organisation", cert->display_name,
                              "node_region", cert->region, "version",
                              json_object_get(doc, "version"), "entry", e);
        if (own)
            json_object_set_new(o, "own", json_true());
        if (at)
            json_object_set_new(
                o, "capacity_age_s",
                json_integer(
                    (json_int_t) (now - (uint64_t) json_integer_value(at))));
        json_array_append_new(out, o);
    }
}

typedef struct {
    pl_node_ctx_t *ctx;
    json_t *out;
    uint64_t now;
} s_walk_t;

static int
s_walk_peer(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    s_walk_t *w = arg;
    size_t pl = sizeof S_PEER - 1;
    if (kl <= pl || kl > pl + PL_ADDRESS_MAX || memcmp(k, S_PEER, pl) != 0)
        return PL_STORE_NEXT;
    char addr[PL_ADDRESS_MAX + 1];
    memcpy(addr, k + pl, kl - pl);
    addr[kl - pl] = 0;
    // the certificate decides now: a revoked or expired node's services
    // are not offered, and nothing it did not sign is
    const pl_cert_t *cert = pl_ctx_dir_find(w->ctx, addr, NULL);
    json_t *s = json_loadb((const char *) v, vl, 0, NULL), *doc = NULL;
    const char *why;
    if (cert && s && pl_svc_verify(s, cert, &doc, &why) == PL_OK)
        s_append(w->out, doc, cert, w->now, false);
    json_decref(s), json_decref(doc);
    return PL_STORE_NEXT;
}

json_t *
pl_svc_catalogue(pl_node_ctx_t *ctx, pl_txn_t *txn)
{
    s_walk_t w = {.ctx = ctx, .out = json_array(), .now = pl_now()};
    json_t *own = s_own(ctx, txn);
    s_append(w.out, own, ctx->me, w.now, true);
    json_decref(own);
    if (pl_store_each(txn, PL_DB_SETTINGS, s_walk_peer, &w) != PL_OK) {
        json_decref(w.out);
        return NULL;
    }
    return w.out;
}

// Does entry 'o' of the catalogue pass the list filters of 'args'?
static bool
s_keep(const json_t *o, const json_t *args)
{
    static const char *const keys[] = {"sector", "dimension", "region", "code",
                                       NULL};
    const json_t *e = json_object_get(o, "entry");
    for (const char *const *k = keys; *k; k++) {
        const char *want = pl_case_arg(args, *k);
        const char *have = json_string_value(json_object_get(e, *k));
        if (want && (!have || strcmp(want, have)))
            return false;
    }
    const char *addr = pl_case_arg(args, "address");
    const char *state = pl_case_arg(args, "capacity");
    const char *cap = json_string_value(
        json_object_get(json_object_get(e, "capacity"), "state"));
    return (!addr
            || !strcmp(addr, json_string_value(json_object_get(o, "address"))))
           && (!state || (cap && !strcmp(state, cap)));
}

static char *
s_list(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
       int *rc_out)
{
    (void) as;
    json_t *all = pl_svc_catalogue(ctx, txn), *out = json_array(), *o;
    size_t i;
    if (!all) {
        json_decref(out);
        *rc_out = PL_EIO;
        return pl_node_ctl_error(PL_EIO, "cannot read the store");
    }
    json_array_foreach(all, i, o) if (s_keep(o, args))
        json_array_append(out, o);
    json_decref(all);
    return pl_node_ctl_ok(out);
}

// ---- matching

// Whole years from 'birth' (YYYY-MM-DD) to 'now', or -1.
static int
s_age(const char *birth, uint64_t now)
{
    uint64_t b;
    if (!birth || pl_date_parse(birth, &b) != PL_OK || b > now)
        return -1;
    char nb[21];
    pl_time_fmt(nb, now);
    int y = atoi(nb), m = atoi(nb + 5), d = atoi(nb + 8);
    int by = atoi(birth), bm = atoi(birth + 5), bd = atoi(birth + 8);
    return y - by - ((m < bm || (m == bm && d < bd)) ? 1 : 0);
}

static char *
s_match(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
        int *rc_out)
{
    (void) as;
    uint8_t id[PL_CASE_ID];
    pl_case_t cs = PL_CASE_INIT;
    char *err =
        pl_case_rec_open(txn, pl_case_arg(args, "case"), id, &cs, rc_out);
    if (err)
        return err;
    uint64_t now = pl_now();
    char sex[16] = "", lang[16] = "", low[16] = "";
    const char *lowest = pl_case_arg(args, "lowest");
    if (!lowest && pl_casework_lowest(txn, id, low, sizeof low) == PL_OK
        && *low)
        lowest = low; // the latest survey's (issue 17)
    snprintf(sex, sizeof sex, "%s", cs.rec.sex ? cs.rec.sex : "");
    snprintf(lang, sizeof lang, "%s", cs.rec.language ? cs.rec.language : "");
    pl_svc_person_t p = {
        .needs = cs.rec.needs ? json_deep_copy(cs.rec.needs) : json_array(),
        .lowest = lowest,
        .region = pl_case_arg(args, "region") ? pl_case_arg(args, "region")
                                              : ctx->me->region,
        .age = s_age(cs.rec.birth, now),
        .sex = *sex ? sex : NULL,
        .language = *lang ? lang : NULL,
    };
    p.child = p.age >= 0 && p.age < 18;
    pl_case_rec_release(&cs);
    json_t *all = pl_svc_catalogue(ctx, txn);
    json_t *r =
        all ? pl_svc_match(all, &p, json_object_get(args, "grid"), now) : NULL;
    json_decref(all);
    json_decref(p.needs);
    pl_wipe(sex, sizeof sex), pl_wipe(lang, sizeof lang);
    if (!r) {
        *rc_out = PL_EIO;
        return pl_node_ctl_error(PL_EIO, "cannot read the store");
    }
    return pl_node_ctl_ok(r);
}

char *
pl_svc_refer_check(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *to,
                   const char *code, bool confirm, int *rc_out)
{
    if (confirm || !to || !code)
        return NULL;
    json_t *all = pl_svc_catalogue(ctx, txn), *o;
    size_t i;
    char *reply = NULL;
    json_array_foreach(all, i, o)
    {
        const json_t *e = json_object_get(o, "entry"),
                     *c = json_object_get(e, "capacity");
        const char *addr = json_string_value(json_object_get(o, "address"));
        const char *st = json_string_value(json_object_get(c, "state"));
        if (reply || !st || strcmp(st, "full")
            || strcmp(json_string_value(json_object_get(e, "code")), code))
            continue;
        if (strcmp(addr, to)
            && !(strchr(addr, '/') && !strcmp(strchr(addr, '/') + 1, to)))
            continue;
        json_int_t age =
            json_integer_value(json_object_get(o, "capacity_age_s"));
        *rc_out = PL_ESTATE;
        reply = pl_node_ctl_error(
            PL_ESTATE,
            "%s of %s is full (signal %lld %s old); the provider may still "
            "take an emergency: give --confirm-full to refer anyway",
            code, addr, (long long) (age >= 7200 ? age / 3600 : age / 60),
            age >= 7200 ? "h" : "min");
    }
    json_decref(all);
    return reply;
}

// ---- the referral slip

// The status of referral 'id' in this node's store (a new string) or NULL.
static char *
s_ref_status(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], char dir[4])
{
    uint8_t hdr[PL_CASE_HDR];
    json_t *doc = NULL;
    if (pl_case_ref_get(txn, id, hdr, NULL, &doc) != PL_OK)
        return NULL;
    const char *st = json_string_value(json_object_get(doc, "status"));
    const char *d = json_string_value(json_object_get(doc, "dir"));
    char *out = st ? strdup(st) : NULL;
    if (dir)
        snprintf(dir, 4, "%s", d ? d : "");
    json_decref(doc);
    return out;
}

static char *
s_slip_make(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
            int *rc_out)
{
    (void) as;
    uint8_t id[PL_CASE_ID], hdr[PL_CASE_HDR];
    char *err = pl_case_resolve(txn, PL_DB_REFERRALS, 'r', "referral",
                                pl_case_arg(args, "id"), id, rc_out);
    if (err)
        return err;
    json_t *doc = NULL;
    int rc = pl_case_ref_get(txn, id, hdr, NULL, &doc);
    const char *st = json_string_value(json_object_get(doc, "status"));
    const char *dir = json_string_value(json_object_get(doc, "dir"));
    const char *peer = json_string_value(json_object_get(doc, "peer"));
    const char *why =
        rc != PL_OK ? "cannot read the referral"
        : !dir || strcmp(dir, "out") || !peer
            ? "a slip is made by the node that referred"
        : st
                && (!strcmp(st, "cancelled") || !strcmp(st, "completed")
                    || !strcmp(st, "rejected"))
            ? "the referral is closed"
            : NULL;
    json_int_t days = json_integer_value(json_object_get(args, "days"));
    pl_slip_t s = {.issued = pl_now()};
    memcpy(s.referral, id, PL_CASE_ID);
    s.expires =
        s.issued + (uint64_t) (days > 0 && days <= 365 ? days : 30) * 86400;
    char text[PL_SLIP_TEXT];
    if (!why) {
        pl_slip_addr_hash(peer, s.to_hash);
        if (pl_slip_make(&s, ctx->keys, text) != PL_OK)
            why = "the clock is outside the slip's range";
    }
    json_t *o =
        why ? NULL
            : json_pack("{s:s, s:o, s:s, s:o, s:o, s:i}", "code", text,
                        "referral", pl_node_json_hex(id, PL_CASE_ID), "to",
                        peer, "issued", pl_node_json_time(s.issued), "expires",
                        pl_node_json_time(s.expires), "bytes", PL_SLIP_BYTES);
    json_decref(doc);
    if (why) {
        *rc_out = rc != PL_OK ? rc : PL_ESTATE;
        return pl_node_ctl_error(*rc_out, "%s", why);
    }
    return pl_node_ctl_ok(o);
}

// The certificate whose sign key has 'kid': this node's or one in the
// directory (any state: its validity is judged by the caller).
static const pl_cert_t *
s_signer(pl_node_ctx_t *ctx, const uint8_t kid[PL_SLIP_HASH])
{
    uint8_t k[PL_SLIP_HASH];
    pl_slip_key_id(ctx->me->keys.sign, k);
    if (!memcmp(k, kid, PL_SLIP_HASH))
        return ctx->me;
    for (size_t i = 0; i < ctx->ndir; i++) {
        pl_slip_key_id(ctx->dir[i].keys.sign, k);
        if (!memcmp(k, kid, PL_SLIP_HASH))
            return &ctx->dir[i];
    }
    return NULL;
}

// The verdict on slip 's' signed by 'cert': a new object.
static json_t *
s_verdict(pl_node_ctx_t *ctx, pl_txn_t *txn, const pl_slip_t *s,
          const pl_cert_t *cert)
{
    uint64_t now = pl_now();
    uint8_t me[PL_SLIP_HASH];
    pl_slip_addr_hash(ctx->me->address, me);
    char *st = s_ref_status(txn, s->referral, NULL);
    bool expired = now >= s->expires,
         cancelled = st && !strcmp(st, "cancelled");
    json_t *o = json_pack(
        "{s:b, s:o, s:s, s:s, s:o, s:o, s:b, s:b, s:b}", "valid",
        !expired && !cancelled, "referral",
        pl_node_json_hex(s->referral, PL_CASE_ID), "sender", cert->address,
        "sender_name", cert->display_name, "issued",
        pl_node_json_time(s->issued), "expires", pl_node_json_time(s->expires),
        "expired", expired, "for_this_node",
        !memcmp(me, s->to_hash, PL_SLIP_HASH), "cancelled", cancelled);
    json_object_set_new(o, "status", st ? json_string(st) : json_null());
    free(st);
    return o;
}

static char *
s_slip_check(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    (void) as;
    const char *code = pl_case_arg(args, "code");
    pl_slip_t s;
    int rc = code ? pl_slip_parse(code, &s) : PL_EINVAL;
    if (rc != PL_OK) {
        *rc_out = rc;
        return pl_node_ctl_error(rc, "not a Passerelle slip (%s)",
                                 rc == PL_EINVAL ? "not Base45 text"
                                                 : "wrong length or version");
    }
    const pl_cert_t *cert = s_signer(ctx, s.key_id);
    int why = PL_OK;
    if (cert && cert != ctx->me && !pl_ctx_dir_find(ctx, cert->address, &why))
        cert = NULL;
    if (!cert) {
        *rc_out = why != PL_OK ? why : PL_ENOTFOUND;
        return pl_node_ctl_error(*rc_out, "signed by %s",
                                 why == PL_EREVOKED ? "a revoked node"
                                 : why == PL_EEXPIRED
                                     ? "a node whose certificate expired"
                                     : "a key unknown to this node");
    }
    if ((rc = pl_slip_verify(code, cert)) != PL_OK) {
        *rc_out = rc;
        return pl_node_ctl_error(rc,
                                 "the slip's signature does not verify: "
                                 "it was changed or not made by %s",
                                 cert->address);
    }
    return pl_node_ctl_ok(s_verdict(ctx, txn, &s, cert));
}

// clang-format off
const pl_ctl_cmd_t pl_svc_cmds[] = {
    // a supervisor keeps the node's catalogue from the staff application
    {"service.add", PL_CTL_CHANGES | PL_CTL_STAFF | PL_CTL_ROLES(PL_ROLE_SUPERVISOR), s_add},
    {"service.remove", PL_CTL_CHANGES | PL_CTL_STAFF | PL_CTL_ROLES(PL_ROLE_SUPERVISOR), s_remove},
    {"service.capacity", PL_CTL_CHANGES | PL_CTL_ROLES(PL_ROLE_PROVIDER), s_capacity},
    {"service.export", 0, s_export},
    {"service.import", PL_CTL_CHANGES, s_import},
    {"service.list", PL_CTL_ROLES(PL_ROLE_CASE_MANAGER | PL_ROLE_PROVIDER | PL_ROLE_SUPERVISOR), s_list},
    {"service.match", PL_CTL_STAFF | PL_CTL_ROLES(PL_ROLE_CASE_MANAGER), s_match},
    {"slip.make", PL_CTL_STAFF | PL_CTL_ROLES(PL_ROLE_CASE_MANAGER), s_slip_make},
    {"slip.check", PL_CTL_STAFF | PL_CTL_ROLES(PL_ROLE_CASE_MANAGER | PL_ROLE_PROVIDER), s_slip_check},
    {NULL, 0, NULL},
};
// clang-format on
