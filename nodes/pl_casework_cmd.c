// pl_casework_cmd - the commands that add to a case's casework (issue
// 17): assess.add, plan.set, followup.schedule, followup.add,
// followup.months, rss.add, rss.skip, rss.weights(.load), and the table
// of the casework rows. Layer: nodes, handlers. Every personal or
// sensitive field arrives in args "record" (the CLI's --stdin document)
// and is sealed under the case key (pl_casework.c).
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_casework.h"
#include "nodes/pl_ctl_reply.h"
#include "nodes/pl_roles.h"
#include "proto/pl_crypto.h"
#include "proto/pl_util.h"

#define S_ITEMS 64 // most plan items, flags, codes in one list

static const char *const s_dims[] = {"economic", "social", "psychosocial",
                                     NULL};

static bool
s_in(const char *v, const char *const *set)
{
    for (size_t i = 0; v && set[i]; i++)
        if (strcmp(v, set[i]) == 0)
            return true;
    return false;
}

// ---- checks of a record: each returns NULL or the error text (static)

static const char *
s_keys(const json_t *rec, const char *const *keys)
{
    static char err[96];
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) rec, k, v)
    {
        if (!s_in(k, keys)) {
            snprintf(err, sizeof err, "unknown key \"%.40s\" in the record", k);
            return err;
        }
    }
    return NULL;
}

// An optional text of at most PL_CASE_TEXT bytes ('need': required).
static bool
s_text_ok(const json_t *rec, const char *key, bool need)
{
    json_t *v = json_object_get(rec, key);
    if (!v)
        return !need;
    return json_is_string(v) && json_string_length(v) > 0
           && json_string_length(v) <= PL_CASE_TEXT;
}

// An optional enum value of 'set'.
static bool
s_enum_ok(const json_t *rec, const char *key, const char *const *set, bool need)
{
    json_t *v = json_object_get(rec, key);
    return v ? s_in(json_string_value(v), set) : !need;
}

// A referral id: 32 hex digits.
static bool
s_hexid(const char *s)
{
    uint8_t id[PL_CASE_ID];
    return s && strlen(s) == 2 * PL_CASE_ID
           && pl_unhex(id, PL_CASE_ID, s) == PL_OK;
}

// An optional array of codes (slugs), or of 32-hex ids when 'ids'.
static bool
s_codes_ok(const json_t *rec, const char *key, bool ids)
{
    json_t *a = json_object_get(rec, key), *v;
    size_t i;
    if (!a)
        return true;
    if (!json_is_array(a) || json_array_size(a) > S_ITEMS)
        return false;
    json_array_foreach(a, i, v)
    {
        const char *s = json_string_value(v);
        if (!s || (ids ? !s_hexid(s) : !pl_slug_valid(s)))
            return false;
    }
    return true;
}

// An optional date YYYY-MM-DD not in the future into *t (absent: 'dflt').
static bool
s_date_ok(const json_t *v, uint64_t dflt, uint64_t *t)
{
    *t = dflt;
    if (!v)
        return true;
    return json_is_string(v) && pl_date_parse(json_string_value(v), t) == PL_OK
           && *t <= pl_now();
}

static json_t *
s_new_id(void)
{
    uint8_t id[8];
    pl_random(id, sizeof id);
    return pl_node_json_hex(id, sizeof id);
}

// ---- the common steps of a change

// Opens the case of args "case" (open, not closed) and the record of args
// "record" (an object, default {}, keys among 'keys'). On failure: the
// reply, with w released.
static char *
s_begin(pl_txn_t *txn, json_t *args, const char *const *keys, pl_cw_t *w,
        json_t **rec, int *rc)
{
    char *err = pl_cw_open(txn, pl_case_arg(args, "case"), w, rc);
    if (err)
        return err;
    json_t *r = json_object_get(args, "record");
    const char *bad = NULL;
    if (w->cs.rec.closed)
        bad = "the case is closed";
    else if (r && !json_is_object(r))
        bad = "the record must be a JSON object";
    else if (r)
        bad = s_keys(r, keys);
    if (bad) {
        *rc = w->cs.rec.closed ? PL_ESTATE : PL_EINVAL;
        pl_cw_release(w);
        return pl_node_ctl_error(*rc, "%s", bad);
    }
    *rec = r ? json_deep_copy(r) : json_object();
    return NULL;
}

static char *
s_refuse(pl_cw_t *w, json_t *rec, int *rc, const char *msg)
{
    pl_cw_release(w);
    json_decref(rec);
    *rc = PL_EINVAL;
    return pl_node_ctl_error(PL_EINVAL, "%s", msg);
}

// Saves the casework, audits 'event' (no detail: nothing personal) and
// replies 'res' (stolen).
static char *
s_finish(pl_node_ctx_t *ctx, pl_txn_t *txn, pl_cw_t *w, const char *as,
         const char *event, json_t *res, int *rc_out)
{
    int rc = res ? pl_cw_save(txn, w) : PL_ENOMEM;
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case",
                           as, w->id, event, "applied", NULL);
    if (rc == PL_OK)
        json_object_set_new(res, "case", json_string(w->hex));
    pl_cw_release(w);
    *rc_out = rc;
    if (rc != PL_OK) {
        json_decref(res);
        return pl_node_ctl_error(rc, "cannot store it: %s", pl_strerror(rc));
    }
    return pl_node_ctl_ok(res);
}

// Appends 'rec' (borrowed) to array 'key' of the casework with its id,
// the staff member and the time recorded; the reply {id}, NULL: no memory.
static json_t *
s_append(pl_cw_t *w, const char *key, json_t *rec, const char *as)
{
    json_t *a = pl_cw_array(w->doc, key), *id = s_new_id();
    json_object_set(rec, "id", id);
    json_object_set_new(rec, "recorded", json_integer((json_int_t) pl_now()));
    if (pl_case_by(as))
        json_object_set_new(rec, "by", json_string(as));
    if (!a || json_array_append(a, rec) != 0) {
        json_decref(id);
        return NULL;
    }
    return json_pack("{s:o}", "id", id);
}

// What a change command does once its case and record are open (s_begin):
// checks the record 'rec' (borrowed) and changes w->doc; NULL with *res
// the reply, or the refusal's text (nothing is kept).
typedef const char *(*s_apply_fn)(pl_txn_t *txn, json_t *args, pl_cw_t *w,
                                  json_t *rec, const char *as, json_t **res);

// A change command: open, apply, save and audit 'event', reply.
static char *
s_change(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out, const char *const *keys, const char *event,
         s_apply_fn apply)
{
    pl_cw_t w = PL_CW_INIT;
    json_t *rec = NULL, *res = NULL;
    char *err = s_begin(txn, args, keys, &w, &rec, rc_out);
    if (err)
        return err;
    const char *bad = apply(txn, args, &w, rec, as, &res);
    if (bad) {
        json_decref(res);
        return s_refuse(&w, rec, rc_out, bad);
    }
    json_decref(rec);
    return s_finish(ctx, txn, &w, as, event, res, rc_out);
}

// ---- assess.add

static const char *const s_assess_keys[] = {"outcome",
                                            "level",
                                            "flags",
                                            "notes",
                                            "family_tracing",
                                            "safeguarding_reason",
                                            "protection_referral",
                                            "revises",
                                            NULL};
static const char *const s_assess_types[] = {
    "rapid_vuln", "health", "mhpss", "risk", "family", "skills", NULL};
static const char *const s_levels[] = {"low", "medium", "high", NULL};

static bool
s_has_id(const json_t *arr, const char *id, const char *type)
{
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        if (id && !strcmp(id, pl_case_str(r, "id") ? pl_case_str(r, "id") : "")
            && (!type || !strcmp(type, pl_case_str(r, "type"))))
            return true;
    }
    return false;
}

static const char *
s_assess_bad(const pl_cw_t *w, const char *type, const json_t *rec)
{
    if (!s_in(type, s_assess_types))
        return "assess add needs --type rapid_vuln, health, mhpss, risk, "
               "family or skills";
    if (!s_enum_ok(rec, "level", s_levels, !strcmp(type, "risk")))
        return "a risk assessment needs \"level\": low, medium or high";
    if (!s_text_ok(rec, "outcome", false) || !s_text_ok(rec, "notes", false)
        || !s_text_ok(rec, "safeguarding_reason", false))
        return "outcome, notes and safeguarding_reason are texts of 1 to "
               "2000 bytes";
    if (!s_codes_ok(rec, "flags", false))
        return "flags are codes (a-z, 0-9, -), at most 64";
    if (!s_text_ok(rec, "family_tracing",
                   !strcmp(type, "family")
                       && pl_cw_child(&w->cs.rec, pl_now())))
        return "a family assessment of a child needs \"family_tracing\" "
               "(what the tracing found or its state)";
    if (json_object_get(rec, "protection_referral")
        && !s_hexid(pl_case_str(rec, "protection_referral")))
        return "protection_referral is a referral id (32 hex digits)";
    if (json_object_get(rec, "revises")
        && !s_has_id(json_object_get(w->doc, "assessments"),
                     pl_case_str(rec, "revises"), type))
        return "revises names no earlier assessment of this type";
    return NULL;
}

static const char *
s_assess_apply(pl_txn_t *txn, json_t *args, pl_cw_t *w, json_t *rec,
               const char *as, json_t **res)
{
    (void) txn;
    const char *type = pl_case_arg(args, "type");
    uint64_t date;
    const char *bad = s_assess_bad(w, type, rec);
    if (!bad && !s_date_ok(json_object_get(args, "date"), pl_now(), &date))
        bad = "--date is YYYY-MM-DD, not in the future";
    if (bad)
        return bad;
    json_object_set_new(rec, "type", json_string(type));
    json_object_set_new(rec, "date", json_integer((json_int_t) date));
    *res = s_append(w, "assessments", rec, as);
    return NULL;
}

static char *
s_assess_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
             int *rc_out)
{
    return s_change(ctx, txn, args, as, rc_out, s_assess_keys, "assess-add",
                    s_assess_apply);
}

// ---- plan.set

static const char *const s_plan_keys[] = {
    "goals",         "own_goals", "items", "child_participation",
    "bia_revisited", NULL};
static const char *const s_item_keys[] = {"dimension",   "kind",   "referral",
                                          "assistance",  "amount", "currency",
                                          "description", "status", NULL};
static const char *const s_kinds[] = {"referral", "direct", NULL};
static const char *const s_assist[] = {"cash", "in_kind", NULL};
static const char *const s_istatus[] = {"planned", "in_progress", "done",
                                        "dropped", NULL};

static bool
s_currency_ok(const char *c)
{
    if (!c || strlen(c) != 3)
        return false;
    for (size_t i = 0; i < 3; i++)
        if (c[i] < 'A' || c[i] > 'Z')
            return false;
    return true;
}

// One plan item; 'refs' the case's referrals ([{id, ...}]).
static const char *
s_item_bad(json_t *it, const json_t *refs)
{
    if (!json_is_object(it) || s_keys(it, s_item_keys))
        return "a plan item is an object with dimension, kind, referral, "
               "assistance, amount, currency, description, status";
    if (!s_enum_ok(it, "dimension", s_dims, true)
        || !s_enum_ok(it, "kind", s_kinds, true)
        || !s_enum_ok(it, "status", s_istatus, false)
        || !s_text_ok(it, "description", false))
        return "a plan item needs dimension (economic, social, psychosocial), "
               "kind (referral, direct), and status planned, in_progress, "
               "done or dropped";
    if (!json_object_get(it, "status"))
        json_object_set_new(it, "status", json_string("planned"));
    if (!strcmp(pl_case_str(it, "kind"), "referral"))
        return s_has_id(refs, pl_case_str(it, "referral"), NULL)
                   ? NULL
                   : "a referral item names one of the case's referrals "
                     "(\"referral\": its id)";
    json_t *amt = json_object_get(it, "amount");
    if (!s_enum_ok(it, "assistance", s_assist, true) || !json_is_integer(amt)
        || json_integer_value(amt) < 0
        || !s_currency_ok(pl_case_str(it, "currency")))
        return "a direct item needs assistance (cash, in_kind), amount "
               "(integer, minor units) and currency (ISO 4217, e.g. XOF)";
    return NULL;
}

// The ids of the case's own referrals: [{id}] (new), NULL on failure.
static json_t *
s_case_refs(pl_txn_t *txn, const pl_cw_t *w)
{
    pl_case_crefs_t c;
    if (pl_case_refs(txn, w->id, &c) != PL_OK)
        return NULL;
    json_t *out = json_array();
    for (size_t i = 0; out && i < c.n; i++)
        json_array_append_new(
            out, json_pack("{s:o}", "id", pl_node_json_hex(c.v[i].id, 16)));
    free(c.v);
    return out;
}

static const char *
s_plan_bad(pl_txn_t *txn, const pl_cw_t *w, json_t *rec)
{
    json_t *goals = json_object_get(rec, "goals"),
           *items = json_object_get(rec, "items"), *it;
    size_t i;
    if (goals && (!json_is_object(goals) || s_keys(goals, s_dims)))
        return "goals is an object with keys economic, social, psychosocial";
    for (size_t d = 0; goals && s_dims[d]; d++)
        if (!s_text_ok(goals, s_dims[d], false))
            return "each goal is a text of 1 to 2000 bytes";
    if (!s_text_ok(rec, "own_goals", false))
        return "own_goals (the returnee's own words) is a text of 1 to 2000 "
               "bytes";
    if (!json_object_size(goals) && !json_array_size(items))
        return "a plan needs goals or items";
    if (items && (!json_is_array(items) || json_array_size(items) > S_ITEMS))
        return "items is an array of at most 64 plan items";
    json_t *refs = json_array_size(items) ? s_case_refs(txn, w) : NULL;
    const char *bad = json_array_size(items) && !refs ? "cannot read the "
                                                        "referrals"
                                                      : NULL;
    json_array_foreach(items, i, it)
    {
        if (!bad)
            bad = s_item_bad(it, refs);
    }
    json_decref(refs);
    if (bad)
        return bad;
    uint64_t t;
    bool child = pl_cw_child(&w->cs.rec, pl_now());
    if (!s_text_ok(rec, "child_participation", child)
        || (child && !json_object_get(rec, "bia_revisited"))
        || !s_date_ok(json_object_get(rec, "bia_revisited"), 0, &t))
        return "the plan of a child records child_participation (how the "
               "child took part) and bia_revisited (YYYY-MM-DD, when the "
               "best-interests assessment was revisited)";
    return NULL;
}

static const char *
s_plan_apply(pl_txn_t *txn, json_t *args, pl_cw_t *w, json_t *rec,
             const char *as, json_t **res)
{
    (void) args;
    const char *bad = s_plan_bad(txn, w, rec);
    if (bad)
        return bad;
    json_t *plans = pl_cw_array(w->doc, "plans");
    int version = (int) json_array_size(plans) + 1;
    json_object_set_new(rec, "version", json_integer(version));
    *res = plans ? s_append(w, "plans", rec, as) : NULL;
    if (*res)
        json_object_set_new(*res, "version", json_integer(version));
    return NULL;
}

static char *
s_plan_set(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
           int *rc_out)
{
    return s_change(ctx, txn, args, as, rc_out, s_plan_keys, "plan-set",
                    s_plan_apply);
}

// ---- followup.months (the programme), followup.schedule, followup.add

static char *
s_fu_months(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
            int *rc_out)
{
    (void) ctx;
    (void) as;
    unsigned m[PL_FU_MAX];
    size_t n;
    const char *text = pl_case_arg(args, "months");
    if (pl_fu_months_parse(text, m, &n) != 0) {
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL,
                                 "followup months needs MONTHS: increasing "
                                 "numbers 1-60, comma-separated, at most 24 "
                                 "(default " PL_FU_DEFAULT ")");
    }
    int rc = pl_store_put(txn, PL_DB_SETTINGS, "followup_months", 15, text,
                          strlen(text));
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store it: %s", pl_strerror(rc));
    return pl_node_ctl_ok(json_pack("{s:s}", "months", text));
}

static const char *const s_none[] = {NULL}; // no record

static const char *
s_sched_apply(pl_txn_t *txn, json_t *args, pl_cw_t *w, json_t *rec,
              const char *as, json_t **res)
{
    (void) rec;
    (void) as;
    unsigned m[PL_FU_MAX];
    size_t n = 0;
    uint64_t ret = 0;
    const char *text = pl_case_arg(args, "months");
    int rc = text ? (pl_fu_months_parse(text, m, &n) ? PL_EINVAL : PL_OK)
                  : pl_cw_months(txn, m, &n);
    if (rc != PL_OK || !pl_case_arg(args, "return_date")
        || pl_date_parse(pl_case_arg(args, "return_date"), &ret) != PL_OK)
        return "followup schedule needs --return-date YYYY-MM-DD and, if "
               "given, --months like " PL_FU_DEFAULT;
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer(m[i]));
    json_object_set_new(w->doc, "months", a);
    json_object_set_new(w->doc, "return_date", json_integer((json_int_t) ret));
    pl_fu_entry_t e[PL_FU_MAX];
    size_t ne = pl_cw_schedule(w->doc, e);
    *res = json_pack("{s:[]}", "due");
    for (size_t i = 0; *res && i < ne; i++)
        json_array_append_new(json_object_get(*res, "due"),
                              pl_node_json_time(e[i].due));
    return NULL;
}

static char *
s_fu_schedule(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
              int *rc_out)
{
    return s_change(ctx, txn, args, as, rc_out, s_none, "followup-schedule",
                    s_sched_apply);
}

static const char *const s_fu_keys[] = {"date",
                                        "months",
                                        "mode",
                                        "contact_made",
                                        "plan_item_progress",
                                        "services_received",
                                        "referral_ids",
                                        "satisfaction",
                                        "new_needs",
                                        "safeguarding_concern",
                                        "safeguarding_reason",
                                        "protection_referral",
                                        "notes",
                                        NULL};
static const char *const s_modes[] = {"home_visit", "office",      "phone",
                                      "remote",     "third_party", NULL};
static const char *const s_progress[] = {"not_started", "in_progress",
                                         "achieved", "dropped", NULL};

static const char *
s_progress_bad(const json_t *rec)
{
    json_t *a = json_object_get(rec, "plan_item_progress"), *p;
    size_t i;
    if (a && (!json_is_array(a) || json_array_size(a) > S_ITEMS))
        return "plan_item_progress is an array";
    json_array_foreach(a, i, p)
    {
        if (!json_is_integer(json_object_get(p, "item"))
            || !s_enum_ok(p, "status", s_progress, true))
            return "plan_item_progress: [{\"item\": N (plan item, from 0), "
                   "\"status\": not_started|in_progress|achieved|dropped}]";
    }
    return NULL;
}

static const char *
s_fu_bad(const json_t *rec)
{
    json_t *sat = json_object_get(rec, "satisfaction"),
           *sg = json_object_get(rec, "safeguarding_concern");
    if (!s_enum_ok(rec, "mode", s_modes, true)
        || !json_is_boolean(json_object_get(rec, "contact_made")))
        return "a follow-up needs \"mode\" (home_visit, office, phone, "
               "remote, third_party) and \"contact_made\" (true/false)";
    if (sat
        && (!json_is_integer(sat) || json_integer_value(sat) < 1
            || json_integer_value(sat) > 5))
        return "satisfaction is 1 to 5";
    if ((sg && !json_is_boolean(sg)) || !s_text_ok(rec, "notes", false)
        || !s_text_ok(rec, "safeguarding_reason", false))
        return "safeguarding_concern is true/false; notes and "
               "safeguarding_reason texts of 1 to 2000 bytes";
    if (!s_codes_ok(rec, "services_received", false)
        || !s_codes_ok(rec, "new_needs", false)
        || !s_codes_ok(rec, "referral_ids", true)
        || (json_object_get(rec, "protection_referral")
            && !s_hexid(pl_case_str(rec, "protection_referral"))))
        return "services_received and new_needs are codes; referral_ids and "
               "protection_referral referral ids";
    return s_progress_bad(rec);
}

// The schedule entry a follow-up answers: "months" if given, else the
// first one not done. NULL when there is none.
static const pl_fu_entry_t *
s_fu_entry(const json_t *rec, const pl_fu_entry_t *e, size_t n)
{
    json_t *m = json_object_get(rec, "months");
    for (size_t i = 0; i < n; i++)
        if (m ? json_integer_value(m) == (json_int_t) e[i].months : !e[i].done)
            return m && e[i].done ? NULL : &e[i];
    return NULL;
}

static const char *
s_fu_apply(pl_txn_t *txn, json_t *args, pl_cw_t *w, json_t *rec, const char *as,
           json_t **res)
{
    (void) txn;
    (void) args;
    pl_fu_entry_t e[PL_FU_MAX];
    size_t n = pl_cw_schedule(w->doc, e);
    const pl_fu_entry_t *at = s_fu_entry(rec, e, n);
    uint64_t done;
    const char *bad = s_fu_bad(rec);
    if (!bad && !n)
        bad = "the case has no follow-up schedule: followup schedule "
              "--case CASE --return-date YYYY-MM-DD first";
    if (!bad && !at)
        bad = "no follow-up of the schedule is left to record (or "
              "\"months\" names none, or one already done)";
    if (!bad && !s_date_ok(json_object_get(rec, "date"), pl_now(), &done))
        bad = "date is YYYY-MM-DD, not in the future";
    if (bad)
        return bad;
    json_object_del(rec, "date");
    json_object_set_new(rec, "months", json_integer(at->months));
    json_object_set_new(rec, "scheduled_for",
                        json_integer((json_int_t) at->due));
    json_object_set_new(rec, "done_at", json_integer((json_int_t) done));
    *res = s_append(w, "followups", rec, as);
    if (*res)
        json_object_set_new(*res, "months", json_integer(at->months));
    return NULL;
}

static char *
s_fu_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
         int *rc_out)
{
    return s_change(ctx, txn, args, as, rc_out, s_fu_keys, "followup-add",
                    s_fu_apply);
}

// ---- rss.add, rss.skip, rss.weights

static const char *const s_rss_keys[] = {"answers", "respondent", "mode",
                                         "date", NULL};
static const char *const s_tps[] = {"baseline", "midline", "endline", "ad-hoc",
                                    NULL};
static const char *const s_resp[] = {"self", "proxy", NULL};
static const char *const s_rss_modes[] = {"in_person", "phone", "remote", NULL};

static json_t *
s_pm(int v)
{
    return v == PL_RSS_NONE ? json_null() : json_integer(v);
}

// The scores of 's' into 'o' (and the reply).
static void
s_scores(json_t *o, const pl_rss_score_t *s, const pl_rss_weights_t *wt)
{
    for (int d = 0; d < PL_RSS_DIMS; d++)
        json_object_set_new(o, pl_rss_dim_name(d), s_pm(s->dim[d]));
    json_object_set_new(o, "composite", s_pm(s->composite));
    json_object_set_new(o, "items_missing", json_integer(s->missing));
    json_object_set_new(o, "valid", json_boolean(s->valid));
    json_object_set_new(o, "weights_version", json_string(wt->version));
    json_object_set_new(o, "instrument_version", json_string(wt->instrument));
    json_object_set_new(o, "placeholder_weights",
                        json_boolean(wt->placeholder));
    if (s->lowest >= 0) {
        json_object_set_new(o, "lowest",
                            json_string(pl_rss_dim_name(s->lowest)));
        json_object_set_new(o, "suggested_sector",
                            json_string(pl_rss_sector(s->lowest)));
    }
}

// The survey's checks and scores; NULL or why it is refused (static).
static const char *
s_rss_check(pl_txn_t *txn, const char *tp, const json_t *rec,
            pl_rss_weights_t *wt, pl_rss_score_t *sc, uint64_t *at)
{
    static char why[160];
    why[0] = 0;
    if (!s_in(tp, s_tps))
        return "rss add needs --timepoint baseline, midline, endline or "
               "ad-hoc";
    if (pl_cw_weights(txn, wt) != PL_OK)
        return "the loaded weights table does not parse";
    if (!s_enum_ok(rec, "respondent", s_resp, false)
        || !s_enum_ok(rec, "mode", s_rss_modes, false))
        return "respondent is self or proxy; mode in_person, phone or remote";
    if (!s_date_ok(json_object_get(rec, "date"), pl_now(), at))
        return "date is YYYY-MM-DD, not in the future";
    if (pl_rss_score(wt, json_object_get(rec, "answers"), sc, why, sizeof why)
        != 0)
        return why;
    return NULL;
}

static const char *
s_rss_apply(pl_txn_t *txn, json_t *args, pl_cw_t *w, json_t *rec,
            const char *as, json_t **res)
{
    const char *tp = pl_case_arg(args, "timepoint");
    pl_rss_weights_t wt;
    pl_rss_score_t sc;
    uint64_t at = 0;
    const char *bad = s_rss_check(txn, tp, rec, &wt, &sc, &at);
    if (bad)
        return bad;
    uint64_t ret = pl_case_u64(w->doc, "return_date");
    json_object_set(rec, "responses", json_object_get(rec, "answers"));
    json_object_del(rec, "answers");
    json_object_del(rec, "date");
    json_object_set_new(rec, "timepoint", json_string(tp));
    json_object_set_new(rec, "administered_at", json_integer((json_int_t) at));
    if (ret && at >= ret) // average Gregorian months
        json_object_set_new(rec, "months_since_return",
                            json_integer((json_int_t) ((at - ret) / 2629746)));
    s_scores(rec, &sc, &wt);
    json_t *id = s_append(w, "rss", rec, as);
    *res = id ? json_object() : NULL;
    if (*res) {
        s_scores(*res, &sc, &wt);
        json_object_update(*res, id);
    }
    json_decref(id);
    return NULL;
}

static char *
s_rss_add(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
          int *rc_out)
{
    return s_change(ctx, txn, args, as, rc_out, s_rss_keys, "rss-add",
                    s_rss_apply);
}

static const char *
s_skip_apply(pl_txn_t *txn, json_t *args, pl_cw_t *w, json_t *rec,
             const char *as, json_t **res)
{
    (void) txn;
    (void) rec;
    const char *reason = pl_case_arg(args, "reason");
    if (!reason || !pl_slug_valid(reason))
        return "rss skip needs --reason CODE (a-z, 0-9, -), e.g. "
               "lost-contact";
    json_t *o =
        json_pack("{s:s, s:I}", "reason", reason, "at", (json_int_t) pl_now());
    if (o && pl_case_by(as))
        json_object_set_new(o, "by", json_string(as));
    json_object_set_new(w->doc, "endline_skipped", o);
    *res = json_pack("{s:s}", "endline_skipped", reason);
    return NULL;
}

static char *
s_rss_skip(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
           int *rc_out)
{
    return s_change(ctx, txn, args, as, rc_out, s_none, "rss-skip",
                    s_skip_apply);
}

static json_t *
s_weights_json(const pl_rss_weights_t *w)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:i, s:i}", "weights_version",
                          w->version, "instrument_version", w->instrument,
                          "placeholder", w->placeholder, "missing_max_permille",
                          (int) w->missing_max, "items", (int) w->n);
    json_t *q = json_array(); // the items, for a form (passerelle-web)
    for (size_t i = 0; q && i < w->n; i++)
        json_array_append_new(q, json_pack("{s:s, s:s, s:i}", "code",
                                           w->items[i].code, "dimension",
                                           pl_rss_dim_name(w->items[i].dim),
                                           "scale", (int) w->items[i].scale));
    if (o)
        json_object_set_new(o, "questions", q);
    else
        json_decref(q);
    if (o && w->placeholder)
        json_object_set_new(o, "warning",
                            json_string("placeholder equal weights: not "
                                        "IOM's Annex 4 method"));
    return o;
}

static char *
s_rss_weights(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args, const char *as,
              int *rc_out)
{
    (void) ctx;
    (void) as;
    (void) args;
    pl_rss_weights_t w;
    int rc = pl_cw_weights(txn, &w);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot read the weights: %s",
                                 pl_strerror(rc));
    return pl_node_ctl_ok(s_weights_json(&w));
}

static char *
s_rss_weights_load(pl_node_ctx_t *ctx, pl_txn_t *txn, json_t *args,
                   const char *as, int *rc_out)
{
    pl_rss_weights_t w;
    char why[160];
    json_t *t = json_object_get(args, "table");
    if (!t || pl_rss_weights_parse(t, &w, why, sizeof why) != 0) {
        *rc_out = PL_EINVAL;
        return pl_node_ctl_error(PL_EINVAL, "%s",
                                 t ? why : "rss weights --load FILE: no table");
    }
    char *text = json_dumps(t, JSON_COMPACT);
    int rc = text ? pl_store_put(txn, PL_DB_SETTINGS, "rss_weights", 11, text,
                                 strlen(text))
                  : PL_ENOMEM;
    free(text);
    if (rc == PL_OK)
        rc = pl_case_audit(ctx, txn, PL_AUDIT_LOCAL, NULL, NULL, NULL, "case",
                           as, NULL, "rss-weights-load", "applied", w.version);
    *rc_out = rc;
    if (rc != PL_OK)
        return pl_node_ctl_error(rc, "cannot store it: %s", pl_strerror(rc));
    return pl_node_ctl_ok(s_weights_json(&w));
}

// ---- the rows (s_tables of pl_node_ctl.c); a staff session needs the
// case-manager role (the weights and the programme's months: supervisor)

#define S_CM  (PL_CTL_STAFF | PL_CTL_ROLES(PL_ROLE_CASE_MANAGER))
#define S_SUP (PL_CTL_STAFF | PL_CTL_ROLES(PL_ROLE_SUPERVISOR))

// ---- a handover (pl_handover_cmd.c; DESIGN.md §7.2)

// A copy of 'rec' with the keys of 'keys' only (NULL: no memory).
static json_t *
s_only(const json_t *rec, const char *const *keys)
{
    json_t *c = json_object();
    for (size_t i = 0; c && keys[i]; i++) {
        json_t *v = json_object_get(rec, keys[i]);
        if (v && json_object_set_new(c, keys[i], json_deep_copy(v)) != 0) {
            json_decref(c);
            return NULL;
        }
    }
    return c;
}

json_t *
pl_casework_handover_out(pl_txn_t *txn, const uint8_t id[PL_CASE_ID], int *rc)
{
    pl_cw_t w = PL_CW_INIT;
    *rc = pl_cw_load(txn, id, &w);
    if (*rc != PL_OK)
        return NULL;
    json_t *as = json_object_get(w.doc, "assessments"),
           *plans = json_object_get(w.doc, "plans"), *e;
    json_t *plan = json_array_get(plans, json_array_size(plans) - 1);
    json_t *out = NULL;
    if (json_array_size(as) || plan) {
        out = json_pack("{s:[]}", "assessments");
        json_t *a = json_object_get(out, "assessments");
        size_t i;
        json_array_foreach(as, i, e)
        {
            // the host's staff and its own referral ids stay at the host
            json_t *c = json_deep_copy(e);
            json_object_del(c, "by");
            json_object_del(c, "protection_referral");
            if (!c || json_array_append_new(a, c) != 0)
                *rc = PL_ENOMEM;
        }
        json_t *c = plan ? json_deep_copy(plan) : NULL;
        json_object_del(c, "by");
        if (plan && (!c || json_object_set_new(out, "plan", c) != 0))
            *rc = PL_ENOMEM;
        if (!out)
            *rc = PL_ENOMEM;
    }
    pl_cw_release(&w);
    if (*rc != PL_OK) {
        json_decref(out);
        return NULL;
    }
    return out;
}

// A record id from the other side: the 16 hex digits of s_new_id.
static bool
s_rec_id_ok(const char *s)
{
    uint8_t b[8];
    return s && strlen(s) == 16 && pl_unhex(b, sizeof b, s) == PL_OK;
}

// Marks 'rec' (returned) received with a handover 'from' ({from,
// handover}): recorded when the other side recorded 'src', else now.
static json_t *
s_received(json_t *rec, const json_t *src, const json_t *from)
{
    json_t *rt = json_object_get(src, "recorded");
    json_object_set_new(rec, "recorded",
                        json_is_integer(rt)
                            ? json_copy(rt)
                            : json_integer((json_int_t) pl_now()));
    json_object_set(rec, "received", (json_t *) from);
    return rec;
}

// A received assessment, checked as `assess add` checks one (against the
// records already taken in); NULL when it is not one.
static json_t *
s_assess_received(pl_cw_t *w, const json_t *e, const json_t *from)
{
    const char *type = pl_case_str(e, "type");
    json_t *date = json_object_get(e, "date");
    if (!json_is_object(e) || !s_in(type, s_assess_types)
        || !json_is_integer(date) || json_integer_value(date) < 0
        || !s_rec_id_ok(pl_case_str(e, "id"))
        || s_has_id(json_object_get(w->doc, "assessments"),
                    pl_case_str(e, "id"), NULL))
        return NULL;
    json_t *rec = s_only(e, s_assess_keys);
    json_object_del(rec, "protection_referral"); // an id of the other side
    if (!rec || s_assess_bad(w, type, rec)) {
        json_decref(rec);
        return NULL;
    }
    json_object_set_new(rec, "id", json_string(pl_case_str(e, "id")));
    json_object_set_new(rec, "type", json_string(type));
    json_object_set(rec, "date", date);
    return s_received(rec, e, from);
}

// A received plan item: its own keys, checked as `plan set` checks them,
// a referral item's id (a referral of the other side) kept apart as
// "sending_referral"; NULL when it is not one.
static json_t *
s_item_received(const json_t *e)
{
    if (!json_is_object(e))
        return NULL;
    json_t *it = s_only(e, s_item_keys);
    if (!it)
        return NULL;
    const char *kind = pl_case_str(it, "kind"); // NULL: checked below
    bool referral = kind && !strcmp(kind, "referral");
    const char *ref = pl_case_str(it, "referral");
    char keep[2 * PL_CASE_ID + 1] = "";
    if (referral && s_hexid(ref))
        snprintf(keep, sizeof keep, "%s", ref);
    json_object_del(it, "referral");
    json_t *none = json_array(); // referral items: none of ours to name
    const char *bad = referral ? NULL : s_item_bad(it, none);
    json_decref(none);
    if (referral
        && (!s_enum_ok(it, "dimension", s_dims, true)
            || !s_enum_ok(it, "status", s_istatus, false)
            || !s_text_ok(it, "description", false)))
        bad = "bad item";
    if (bad) {
        json_decref(it);
        return NULL;
    }
    if (!json_object_get(it, "status"))
        json_object_set_new(it, "status", json_string("planned"));
    if (*keep)
        json_object_set_new(it, "sending_referral", json_string(keep));
    return it;
}

// The received plan, version 1 of the new case's plan (a draft its
// agency revises with `plan set`); NULL when it holds nothing usable.
static json_t *
s_plan_received(const json_t *p, const json_t *from)
{
    if (!json_is_object(p))
        return NULL;
    json_t *rec = s_only(p, s_plan_keys),
           *goals = json_object_get(rec, "goals");
    if (!rec)
        return NULL;
    bool goals_ok = json_is_object(goals) && !s_keys(goals, s_dims);
    for (size_t d = 0; goals_ok && s_dims[d]; d++)
        goals_ok = s_text_ok(goals, s_dims[d], false);
    if (!goals_ok)
        json_object_del(rec, "goals");
    static const char *const texts[] = {"own_goals", "child_participation",
                                        NULL};
    for (size_t i = 0; texts[i]; i++)
        if (!s_text_ok(rec, texts[i], false))
            json_object_del(rec, texts[i]);
    uint64_t t;
    if (!s_date_ok(json_object_get(rec, "bia_revisited"), 0, &t))
        json_object_del(rec, "bia_revisited");
    json_t *items = json_object_get(p, "items"), *e, *kept = json_array();
    size_t i;
    json_array_foreach(items, i, e)
    {
        json_t *it = i < S_ITEMS ? s_item_received(e) : NULL;
        if (it)
            json_array_append_new(kept, it);
    }
    json_object_set_new(rec, "items", kept);
    if (!kept
        || (!json_object_size(json_object_get(rec, "goals"))
            && !json_array_size(kept))) {
        json_decref(rec);
        return NULL;
    }
    const char *pid = pl_case_str(p, "id");
    json_object_set_new(rec, "id",
                        s_rec_id_ok(pid) ? json_string(pid) : s_new_id());
    json_object_set_new(rec, "version", json_integer(1));
    return s_received(rec, p, from);
}

int
pl_casework_handover_in(pl_txn_t *txn, const uint8_t id[PL_CASE_ID],
                        const json_t *cw, const char *peer, const char *hid,
                        size_t *dropped)
{
    *dropped = 0;
    if (!json_is_object(cw))
        return PL_OK;
    pl_cw_t w = PL_CW_INIT;
    int rc = pl_cw_load(txn, id, &w);
    if (rc != PL_OK)
        return rc;
    json_t *from = json_pack("{s:s, s:s}", "from", peer, "handover", hid);
    json_t *as = json_object_get(cw, "assessments"), *e;
    size_t i, added = 0;
    json_array_foreach(as, i, e)
    {
        json_t *rec = from ? s_assess_received(&w, e, from) : NULL;
        json_t *a = rec ? pl_cw_array(w.doc, "assessments") : NULL;
        if (a && json_array_append_new(a, rec) == 0)
            added++;
        else {
            json_decref(rec);
            ++*dropped;
        }
    }
    json_t *p = json_object_get(cw, "plan");
    if (p) {
        json_t *rec = from ? s_plan_received(p, from) : NULL;
        json_t *a = rec ? pl_cw_array(w.doc, "plans") : NULL;
        if (a && json_array_append_new(a, rec) == 0)
            added++;
        else {
            json_decref(rec);
            ++*dropped;
        }
    }
    json_decref(from);
    rc = !from ? PL_ENOMEM : added ? pl_cw_save(txn, &w) : PL_OK;
    pl_cw_release(&w);
    return rc;
}

const pl_ctl_cmd_t pl_casework_cmds[] = {
    {"assess.add", PL_CTL_CHANGES | S_CM, s_assess_add},
    {"plan.set", PL_CTL_CHANGES | S_CM, s_plan_set},
    {"followup.schedule", PL_CTL_CHANGES | S_CM, s_fu_schedule},
    {"followup.add", PL_CTL_CHANGES | S_CM, s_fu_add},
    {"followup.list", S_CM, pl_cw_followup_list},
    {"followup.months", PL_CTL_CHANGES | S_SUP, s_fu_months},
    {"rss.add", PL_CTL_CHANGES | S_CM, s_rss_add},
    {"rss.skip", PL_CTL_CHANGES | S_CM, s_rss_skip},
    {"rss.weights", S_CM | S_SUP, s_rss_weights},
    {"rss.weights.load", PL_CTL_CHANGES | S_SUP, s_rss_weights_load},
    {"case.timeline", S_CM, pl_cw_timeline},
    {NULL, 0, NULL},
};
