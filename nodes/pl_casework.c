// pl_casework - the casework record of a case, its timeline, the
// follow-up list and overdue sweep, the closure rules and the report
// figures (see pl_casework.h). Layer: nodes, handlers.
#include "nodes/pl_casework.h"

#include <stdlib.h>
#include <string.h>

#include "nodes/pl_ctl_reply.h"
#include "proto/pl_log.h"
#include "proto/pl_util.h"

// ---- the record

static int
s_doc(pl_txn_t *txn, pl_cw_t *w)
{
    uint8_t k[1 + PL_CASE_ID], hdr[PL_CASE_HDR];
    pl_case_rkey(k, 'k', w->id);
    pl_hex(w->hex, w->id, PL_CASE_ID);
    json_t *doc = NULL;
    int rc = pl_sealed_get(txn, PL_DB_CASES, k, sizeof k, w->cs.s.dk, hdr, NULL,
                           &doc);
    if (rc == PL_ENOTFOUND) {
        w->found = false;
        w->doc = json_object();
        return w->doc ? PL_OK : PL_ENOMEM;
    }
    if (rc == PL_OK && !json_is_object(doc))
        rc = PL_EPROTO;
    if (rc != PL_OK) {
        json_decref(doc);
        return rc;
    }
    w->found = true;
    w->doc = doc;
    return PL_OK;
}

char *
pl_cw_open(pl_txn_t *txn, const char *text, pl_cw_t *w, int *rc)
{
    char *err = pl_case_rec_open(txn, text, w->id, &w->cs, rc);
    if (err)
        return err;
    *rc = s_doc(txn, w);
    if (*rc == PL_OK)
        return NULL;
    pl_cw_release(w);
    return pl_node_ctl_error(*rc, "cannot read the casework of the case: %s",
                             pl_strerror(*rc));
}

int
pl_cw_load(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], pl_cw_t *w)
{
    memcpy(w->id, id, PL_CASE_ID);
    int rc = pl_case_rec_load(txn, id, &w->cs);
    if (rc == PL_OK)
        rc = s_doc(txn, w);
    if (rc != PL_OK)
        pl_cw_release(w);
    return rc;
}

int
pl_cw_save(pl_txn_t *txn, pl_cw_t *w)
{
    uint8_t k[1 + PL_CASE_ID];
    pl_case_rkey(k, 'k', w->id);
    return pl_sealed_put(txn, PL_DB_CASES, k, sizeof k, w->cs.s.hdr, w->cs.s.dk,
                         w->doc);
}

void
pl_cw_release(pl_cw_t *w)
{
    if (!w)
        return;
    pl_case_rec_release(&w->cs);
    json_decref(w->doc);
    w->doc = NULL;
}

json_t *
pl_cw_array(json_t *doc, const char *key)
{
    json_t *a = json_object_get(doc, key);
    if (!json_is_array(a)) {
        a = json_array();
        if (!a || json_object_set_new(doc, key, a) != 0)
            return NULL;
    }
    return a;
}

// A programme setting (text) of db "settings": a copy, NULL when absent.
static char *
s_setting(pl_txn_t *txn, const char *name, int *rc)
{
    const uint8_t *v;
    size_t vl;
    *rc = pl_store_get(txn, PL_DB_SETTINGS, name, strlen(name), &v, &vl);
    if (*rc != PL_OK) {
        *rc = *rc == PL_ENOTFOUND ? PL_OK : *rc;
        return NULL;
    }
    char *s = malloc(vl + 1);
    if (!s) {
        *rc = PL_ENOMEM;
        return NULL;
    }
    memcpy(s, v, vl);
    s[vl] = 0;
    return s;
}

int
pl_cw_weights(pl_txn_t *txn, pl_rss_weights_t *w)
{
    int rc;
    char *text = s_setting(txn, "rss_weights", &rc);
    if (rc != PL_OK)
        return rc;
    json_error_t jerr;
    json_t *j = json_loads(text ? text : pl_rss_default_text(), 0, &jerr);
    free(text);
    char err[128];
    rc = j && pl_rss_weights_parse(j, w, err, sizeof err) == 0 ? PL_OK
                                                               : PL_EPROTO;
    json_decref(j);
    return rc;
}

int
pl_cw_months(pl_txn_t *txn, unsigned months[PL_FU_MAX], size_t *n)
{
    int rc;
    char *text = s_setting(txn, "followup_months", &rc);
    if (rc == PL_OK
        && pl_fu_months_parse(text ? text : PL_FU_DEFAULT, months, n) != 0)
        rc = PL_EPROTO;
    free(text);
    return rc;
}

size_t
pl_cw_schedule(const json_t *doc, pl_fu_entry_t *out)
{
    unsigned months[PL_FU_MAX];
    size_t n = 0, i;
    json_t *m, *f;
    json_array_foreach(json_object_get(doc, "months"), i, m)
    {
        if (n < PL_FU_MAX && json_integer_value(m) > 0)
            months[n++] = (unsigned) json_integer_value(m);
    }
    uint64_t ret = pl_case_u64(doc, "return_date");
    if (!ret)
        return 0;
    pl_fu_plan(ret, months, n, out);
    json_array_foreach(json_object_get(doc, "followups"), i, f)
    {
        for (size_t e = 0; e < n; e++)
            if (!out[e].done
                && (json_int_t) out[e].months
                       == json_integer_value(json_object_get(f, "months")))
                out[e].done = pl_case_u64(f, "done_at");
    }
    return n;
}

bool
pl_cw_child(const pl_case_rec_t *rec, uint64_t now)
{
    uint64_t b = 0;
    if (rec->uasc)
        return true;
    return rec->birth && pl_date_parse(rec->birth, &b) == PL_OK
           && pl_fu_add_months(b, 18 * 12) > now;
}

// ---- safeguarding

static const char *const s_sg_flags[] = {"violence", "exploitation", "abuse",
                                         "trafficking"};

// The safeguarding flags among 'flags' (a new array, maybe empty).
static json_t *
s_sg_of(const json_t *flags)
{
    json_t *out = json_array(), *f;
    size_t i;
    json_array_foreach(flags, i, f)
    {
        for (size_t k = 0; k < 4; k++)
            if (json_is_string(f)
                && strcmp(json_string_value(f), s_sg_flags[k]) == 0)
                json_array_append(out, f);
    }
    return out;
}

// the case's own referrals: [{id, sector, created}] into w->out
static int
s_ref_one(pl_case_rwalk_t *w, const uint8_t id[PL_CASE_ID],
          const pl_ref_rec_t *r)
{
    if (!r->case_hex || strcmp(r->case_hex, w->case_hex) != 0 || !r->dir
        || strcmp(r->dir, "out") != 0)
        return PL_STORE_NEXT;
    json_t *o = json_pack("{s:o, s:s, s:I}", "id", pl_node_json_hex(id, 16),
                          "sector", r->sector ? r->sector : "", "created",
                          (json_int_t) r->created);
    return o && json_array_append_new(w->out, o) == 0 ? PL_STORE_NEXT
                                                      : PL_ENOMEM;
}

// Is there a protection referral of the case made at or after 'at', or
// is 'named' (may be NULL) one of the case's protection referrals?
static bool
s_protected(const json_t *refs, uint64_t at, const char *named)
{
    size_t i;
    json_t *r;
    json_array_foreach(refs, i, r)
    {
        const char *s = pl_case_str(r, "sector");
        if (!s || (strcmp(s, "child-protection") && strcmp(s, "gbv")))
            continue;
        if (named ? !strcmp(named, pl_case_str(r, "id"))
                  : pl_case_u64(r, "created") >= at)
            return true;
    }
    return false;
}

static int
s_sg_item(json_t *out, const json_t *refs, const char *source,
          const json_t *rec, json_t *flags, uint64_t at)
{
    const char *reason = pl_case_str(rec, "safeguarding_reason");
    bool open =
        !reason
        && !s_protected(refs, at, pl_case_str(rec, "protection_referral"));
    json_t *o =
        json_pack("{s:s, s:s?, s:o, s:o, s:b, s:s?}", "source", source, "id",
                  pl_case_str(rec, "id"), "at", pl_node_json_time(at), "flags",
                  flags, "open", open, "reason", reason);
    return o && json_array_append_new(out, o) == 0 ? PL_OK : PL_ENOMEM;
}

json_t *
pl_cw_safeguarding(pl_txn_t *txn, const pl_cw_t *w)
{
    pl_case_rwalk_t rw = {.txn = txn, .fn = s_ref_one, .case_hex = w->hex};
    rw.out = json_array();
    json_t *out = json_array();
    size_t i;
    json_t *r;
    int rc = pl_store_each(txn, PL_DB_REFERRALS, pl_case_rwalk_one, &rw);
    json_array_foreach(json_object_get(w->doc, "assessments"), i, r)
    {
        json_t *f = s_sg_of(json_object_get(r, "flags"));
        if (rc == PL_OK && json_array_size(f))
            rc = s_sg_item(out, rw.out, "assessment", r, json_incref(f),
                           pl_case_u64(r, "recorded"));
        json_decref(f);
    }
    json_array_foreach(json_object_get(w->doc, "followups"), i, r)
    {
        if (rc == PL_OK
            && json_is_true(json_object_get(r, "safeguarding_concern")))
            rc = s_sg_item(out, rw.out, "followup", r,
                           json_pack("[s]", "safeguarding_concern"),
                           pl_case_u64(r, "done_at"));
    }
    json_decref(rw.out);
    if (rc != PL_OK) {
        json_decref(out);
        return NULL;
    }
    return out;
}

// ---- the timeline

// The schedule of 'doc' at 'now': [{months, due, state, done_at}].
static json_t *
s_schedule_json(const json_t *doc, uint64_t now)
{
    pl_fu_entry_t e[PL_FU_MAX];
    size_t n = pl_cw_schedule(doc, e);
    uint64_t closed = pl_case_u64(doc, "schedule_done");
    json_t *out = json_array();
    for (size_t i = 0; out && i < n; i++) {
        json_t *o =
            json_pack("{s:i, s:o, s:s}", "months", (int) e[i].months, "due",
                      pl_node_json_time(e[i].due), "state",
                      pl_fu_state_name(pl_fu_state(&e[i], now, closed)));
        if (o && e[i].done)
            json_object_set_new(o, "done_at", pl_node_json_time(e[i].done));
        json_array_append_new(out, o);
    }
    return out;
}

// Change from baseline: the latest valid survey after the first valid
// baseline, per dimension and composite (points per mille); NULL if none.
static json_t *
s_change(const json_t *rss)
{
    static const char *const keys[] = {"economic", "social", "psychosocial",
                                       "composite"};
    const json_t *base = NULL, *last = NULL, *r;
    size_t i;
    json_array_foreach(rss, i, r)
    {
        const char *tp = pl_case_str(r, "timepoint");
        if (!base && tp && !strcmp(tp, "baseline"))
            base = r;
        else if (base)
            last = r;
    }
    if (!base || !last)
        return NULL;
    json_t *o = json_pack("{s:s, s:s?}", "from", "baseline", "to",
                          pl_case_str(last, "timepoint"));
    for (size_t k = 0; o && k < 4; k++) {
        json_t *a = json_object_get(base, keys[k]),
               *b = json_object_get(last, keys[k]);
        json_object_set_new(
            o, keys[k],
            json_is_integer(a) && json_is_integer(b)
                ? json_integer(json_integer_value(b) - json_integer_value(a))
                : json_null());
    }
    return o;
}

// The referrals of the case as `case show` lists them.
static json_t *
s_referrals(pl_txn_t *txn, const char *hex, int *rc)
{
    pl_case_rwalk_t w = {.txn = txn, .now = pl_now(), .fn = pl_case_list_one};
    w.case_hex = hex;
    w.out = json_array();
    *rc = pl_store_each(txn, PL_DB_REFERRALS, pl_case_rwalk_one, &w);
    return w.out;
}

// The times of the records (Unix seconds in the store) as RFC 3339 text,
// in place: the timeline's copy of the document is never saved.
static void
s_text_times(json_t *doc)
{
    static const char *const arrays[] = {"assessments", "plans", "followups",
                                         "rss", NULL};
    static const char *const keys[] = {
        "date", "recorded", "done_at", "scheduled_for", "administered_at",
        "at",   NULL};
    json_t *skip = json_object_get(doc, "endline_skipped"), *r;
    size_t i;
    for (size_t a = 0; arrays[a]; a++)
        json_array_foreach(json_object_get(doc, arrays[a]), i, r)
        {
            for (size_t k = 0; keys[k]; k++)
                if (json_is_integer(json_object_get(r, keys[k])))
                    json_object_set_new(
                        r, keys[k], pl_node_json_time(pl_case_u64(r, keys[k])));
        }
    if (json_is_integer(json_object_get(skip, "at")))
        json_object_set_new(skip, "at",
                            pl_node_json_time(pl_case_u64(skip, "at")));
}

static json_t *
s_timeline(pl_txn_t *txn, pl_cw_t *w, int *rc)
{
    uint64_t now = pl_now();
    json_t *d = w->doc, *sg = pl_cw_safeguarding(txn, w), *it;
    size_t i, open = 0;
    json_array_foreach(sg, i, it) open +=
        json_is_true(json_object_get(it, "open"));
    json_t *sched = s_schedule_json(d, now),
           *chg = s_change(json_object_get(d, "rss")),
           *refs = s_referrals(txn, w->hex, rc);
    uint64_t ret = pl_case_u64(d, "return_date"),
             done = pl_case_u64(d, "schedule_done");
    s_text_times(d); // after everything that reads them as numbers
    json_t *plans = json_object_get(d, "plans");
    json_t *o = json_pack(
        "{s:s, s:s, s:b, s:O?, s:O?, s:O?, s:o?, s:o?, s:O?, s:O?, s:o?, s:o?, "
        "s:i, s:O?}",
        "id", w->hex, "status", w->cs.rec.closed ? "closed" : "open", "child",
        pl_cw_child(&w->cs.rec, now), "assessments",
        json_object_get(d, "assessments"), "plan",
        json_array_get(plans, json_array_size(plans) - 1), "plans", plans,
        "referrals", refs, "schedule", sched, "followups",
        json_object_get(d, "followups"), "rss", json_object_get(d, "rss"),
        "change", chg, "safeguarding", sg, "open_safeguarding", (int) open,
        "endline_skipped", json_object_get(d, "endline_skipped"));
    if (o && ret)
        json_object_set_new(o, "return_date", pl_node_json_time(ret));
    if (o && done)
        json_object_set_new(o, "schedule_done", pl_node_json_time(done));
    if (!sg && *rc == PL_OK)
        *rc = PL_ENOMEM;
    return o;
}

char *
pl_cw_timeline(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
               int *rc_out)
{
    (void) ctx;
    (void) as;
    pl_cw_t w = PL_CW_INIT;
    char *err = pl_cw_open(txn, pl_case_arg(args, "case"), &w, rc_out);
    if (err)
        return err;
    int rc = PL_OK;
    json_t *o = s_timeline(txn, &w, &rc);
    pl_cw_release(&w);
    if (!o || rc != PL_OK) {
        json_decref(o);
        *rc_out = rc != PL_OK ? rc : PL_ENOMEM;
        return pl_node_ctl_error(*rc_out, "cannot read the store: %s",
                                 pl_strerror(*rc_out));
    }
    return pl_node_ctl_ok(o);
}

// ---- every case with casework

typedef struct {
    uint8_t (*ids)[PL_CASE_ID];
    size_t n, cap;
} s_ids_t;

static int
s_ids_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v;
    (void) vl;
    s_ids_t *s = arg;
    if (kl != 1 + PL_CASE_ID || k[0] != 'k')
        return PL_STORE_NEXT;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        void *p = realloc(s->ids, cap * sizeof *s->ids);
        if (!p)
            return PL_ENOMEM;
        s->ids = p;
        s->cap = cap;
    }
    memcpy(s->ids[s->n++], k + 1, PL_CASE_ID);
    return PL_STORE_NEXT;
}

// Calls 'fn' on the casework of every case that has one (unreadable
// ones skipped). Stops at the first error 'fn' returns.
static int
s_each(pl_txn_t *txn, int (*fn)(pl_cw_t *w, void *arg), void *arg)
{
    s_ids_t s = {0};
    int rc = pl_store_each(txn, PL_DB_CASES, s_ids_one, &s);
    for (size_t i = 0; rc == PL_OK && i < s.n; i++) {
        pl_cw_t w = PL_CW_INIT;
        if (pl_cw_load(txn, s.ids[i], &w) != PL_OK)
            continue;
        rc = fn(&w, arg);
        pl_cw_release(&w);
    }
    free(s.ids);
    return rc;
}

// ---- the follow-up list and the overdue sweep

typedef struct {
    uint64_t now;
    bool overdue_only, unlogged; // list: --overdue; sweep: not yet logged
    json_t *out;                 // [{case, months, due, state}]
} s_due_t;

static bool
s_logged(const json_t *doc, unsigned months)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(doc, "overdue_logged"), i, m)
    {
        if (json_integer_value(m) == (json_int_t) months)
            return true;
    }
    return false;
}

static int
s_due_one(pl_cw_t *w, void *arg)
{
    s_due_t *d = arg;
    pl_fu_entry_t e[PL_FU_MAX];
    size_t n = pl_cw_schedule(w->doc, e);
    uint64_t closed = pl_case_u64(w->doc, "schedule_done");
    for (size_t i = 0; i < n; i++) {
        pl_fu_state_t st = pl_fu_state(&e[i], d->now, closed);
        if (st != PL_FU_OVERDUE && (st != PL_FU_DUE || d->overdue_only))
            continue;
        if (d->unlogged && s_logged(w->doc, e[i].months))
            continue;
        json_t *o =
            json_pack("{s:s, s:i, s:o, s:s, s:I}", "case", w->hex, "months",
                      (int) e[i].months, "due", pl_node_json_time(e[i].due),
                      "state", pl_fu_state_name(st), "since",
                      (json_int_t) (e[i].due + PL_FU_GRACE));
        if (!o || json_array_append_new(d->out, o) != 0)
            return PL_ENOMEM;
    }
    return PL_OK;
}

char *
pl_cw_followup_list(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                    const char *as, int *rc_out)
{
    (void) ctx;
    (void) as;
    s_due_t d = {.now = pl_now(), .out = json_array()};
    d.overdue_only = json_is_true(json_object_get(args, "overdue"));
    int rc = d.out ? s_each(txn, s_due_one, &d) : PL_ENOMEM;
    *rc_out = rc;
    if (rc != PL_OK) {
        json_decref(d.out);
        return pl_node_ctl_error(rc, "cannot read the store: %s",
                                 pl_strerror(rc));
    }
    size_t i;
    json_t *o;
    json_array_foreach(d.out, i, o) json_object_del(o, "since");
    return pl_node_ctl_ok(d.out);
}

static int
s_mark(pl_txn_t *txn, const json_t *o)
{
    uint8_t id[PL_CASE_ID];
    pl_cw_t w = PL_CW_INIT;
    if (pl_unhex(id, PL_CASE_ID, pl_case_str(o, "case")) != PL_OK)
        return PL_EPROTO;
    int rc = pl_cw_load(txn, id, &w);
    json_t *a = rc == PL_OK ? pl_cw_array(w.doc, "overdue_logged") : NULL;
    if (rc == PL_OK)
        rc = a && json_array_append(a, json_object_get(o, "months")) == 0
                 ? pl_cw_save(txn, &w)
                 : PL_ENOMEM;
    pl_cw_release(&w);
    return rc;
}

void
pl_casework_overdue_sweep(pl_node_ctx_t *ctx)
{
    pl_txn_t *txn = NULL;
    if (pl_store_begin(ctx->store, NULL, true, &txn) != PL_OK)
        return;
    s_due_t d = {.now = pl_now(), .overdue_only = true, .unlogged = true};
    d.out = json_array();
    int rc = d.out ? s_each(txn, s_due_one, &d) : PL_ENOMEM;
    size_t i;
    json_t *o;
    json_array_foreach(d.out, i, o)
    {
        if (rc == PL_OK)
            rc = s_mark(txn, o);
    }
    if (rc == PL_OK && json_array_size(d.out))
        rc = pl_store_commit(&txn);
    else
        pl_store_abort(&txn);
    // logged once the store remembers it, so a restart does not log again
    json_array_foreach(d.out, i, o)
    {
        char since[32];
        pl_time_fmt(since, pl_case_u64(o, "since"));
        if (rc == PL_OK)
            pl_log_warn(ctx->log, "followup_overdue case=%s months=%d since=%s",
                        pl_case_str(o, "case"),
                        (int) json_integer_value(json_object_get(o, "months")),
                        since);
    }
    json_decref(d.out);
}

// ---- closure

// The handbook's closure reasons (DOMAIN.md, case closure 2.7, and a
// lost contact); the coordination report counts these by name
// (nodes/pl_report.c) and any other code as "other".
static const char *const s_reasons[] = {
    "plan-completed",     "support-period-ended", "criteria-not-met",
    "client-withdrew",    "moved-away",           "re-migrated",
    "deceased",           "lost-contact",         "transferred",
    "funding-or-security"};

bool
pl_casework_reason_known(const char *reason)
{
    for (size_t i = 0; reason && i < sizeof s_reasons / sizeof s_reasons[0];
         i++)
        if (!strcmp(reason, s_reasons[i]))
            return true;
    return false;
}

static bool
s_has_endline(const json_t *doc)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "rss"), i, r)
    {
        const char *tp = pl_case_str(r, "timepoint");
        if (tp && !strcmp(tp, "endline"))
            return true;
    }
    return json_is_object(json_object_get(doc, "endline_skipped"));
}

char *
pl_casework_close_check(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                        const char *reason, int *rc)
{
    pl_cw_t w = PL_CW_INIT;
    *rc = pl_cw_load(txn, id, &w);
    if (*rc != PL_OK)
        return pl_node_ctl_error(*rc, "cannot read the casework: %s",
                                 pl_strerror(*rc));
    bool found = w.found, endline = s_has_endline(w.doc);
    bool known = pl_casework_reason_known(reason);
    pl_cw_release(&w);
    *rc = PL_EINVAL;
    if (found && !known)
        return pl_node_ctl_error(
            *rc, "a case with casework closes with a handbook reason: "
                 "plan-completed, support-period-ended, criteria-not-met, "
                 "client-withdrew, moved-away, re-migrated, deceased, "
                 "lost-contact, transferred, funding-or-security");
    *rc = PL_ESTATE;
    if (found && !endline)
        return pl_node_ctl_error(*rc, "the case has no endline survey: "
                                      "record one (rss add --timepoint "
                                      "endline) or the reason it is missing "
                                      "(rss skip --reason CODE); the case "
                                      "stays open");
    *rc = PL_OK;
    return NULL;
}

int
pl_casework_close_done(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], uint64_t at)
{
    pl_cw_t w = PL_CW_INIT;
    int rc = pl_cw_load(txn, id, &w);
    if (rc == PL_OK && w.found) {
        json_object_set_new(w.doc, "schedule_done",
                            json_integer((json_int_t) at));
        rc = pl_cw_save(txn, &w);
    }
    pl_cw_release(&w);
    return rc;
}

// ---- the report figures

static const char *const s_bins[] = {"0-199", "200-399", "400-599", "600-799",
                                     "800-1000"};
static const char *const s_scores[] = {"composite", "economic", "social",
                                       "psychosocial"};

// The latest survey of timepoint 'tp' in 'rss', or NULL.
static const json_t *
s_latest(const json_t *rss, const char *tp)
{
    const json_t *last = NULL, *r;
    size_t i;
    json_array_foreach(rss, i, r)
    {
        const char *t = pl_case_str(r, "timepoint");
        if (t && !strcmp(t, tp))
            last = r;
    }
    return last;
}

static int
s_fig_one(pl_cw_t *w, void *arg)
{
    json_t *out = arg;
    static const char *const tps[] = {"baseline", "endline"};
    for (size_t t = 0; t < 2; t++) {
        const json_t *r = s_latest(json_object_get(w->doc, "rss"), tps[t]);
        json_t *o = json_object_get(out, tps[t]);
        if (!r)
            continue;
        json_object_set_new(
            o, "n",
            json_integer(json_integer_value(json_object_get(o, "n")) + 1));
        for (size_t s = 0; s < 4; s++) {
            json_t *v = json_object_get(r, s_scores[s]);
            int b = json_is_integer(v) ? pl_rss_bin((int) json_integer_value(v))
                                       : -1;
            if (b < 0)
                continue;
            json_t *bins = json_object_get(o, s_scores[s]);
            json_object_set_new(
                bins, s_bins[b],
                json_integer(
                    json_integer_value(json_object_get(bins, s_bins[b])) + 1));
        }
    }
    return PL_OK;
}

int
pl_rss_report_figures(pl_txn_t *txn, json_t *out)
{
    static const char *const tps[] = {"baseline", "endline"};
    for (size_t t = 0; t < 2; t++) {
        json_t *o = json_pack("{s:i}", "n", 0);
        for (size_t s = 0; o && s < 4; s++) {
            json_t *bins = json_object();
            for (size_t b = 0; bins && b < 5; b++)
                json_object_set_new(bins, s_bins[b], json_integer(0));
            json_object_set_new(o, s_scores[s], bins);
        }
        if (!o || json_object_set_new(out, tps[t], o) != 0)
            return PL_ENOMEM;
    }
    return s_each(txn, s_fig_one, out);
}

int
pl_casework_lowest(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], char *out,
                   size_t n)
{
    out[0] = 0;
    pl_cw_t w = PL_CW_INIT;
    int rc = pl_cw_load(txn, id, &w);
    if (rc == PL_ENOTFOUND)
        return PL_OK;
    json_int_t best = -1;
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(w.doc, "rss"), i, o)
    {
        const char *low = json_string_value(json_object_get(o, "lowest"));
        json_int_t at =
            json_integer_value(json_object_get(o, "administered_at"));
        if (rc == PL_OK && low && at >= best) {
            best = at;
            snprintf(out, n, "%s", low);
        }
    }
    pl_cw_release(&w);
    return rc;
}
