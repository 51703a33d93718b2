// pl_report - build and check aggregate reports (see pl_report.h).
// Layer: nodes, domain. Reads the sealed case and referral records in the
// caller's transaction; what leaves is counts and medians only.
#include "nodes/pl_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodes/pl_case_int.h"
#include "nodes/pl_casework.h"
#include "nodes/pl_suppress.h"

static const char *const s_dims[] = {
    "economic", "social", "psychosocial", "protection", "coordination", NULL};
static const char *const s_rss_dims[] = {"economic", "social", "psychosocial",
                                         "composite", NULL};
static const char *const s_steps[] = {"received", "accepted", "completed",
                                      NULL};

// ---- periods

void
pl_report_period_of(uint64_t t, char out[8])
{
    time_t tt = (time_t) t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    snprintf(out, 8, "%04u-%02u", (unsigned) (tm.tm_year + 1900) % 10000u,
             (unsigned) (tm.tm_mon + 1) % 100u);
}

int
pl_report_period_parse(const char *period, uint64_t *start, uint64_t *end)
{
    int y, m;
    char tail;
    if (!period || strlen(period) != 7 || period[4] != '-'
        || sscanf(period, "%4d-%2d%c", &y, &m, &tail) != 2 || y < 1970 || m < 1
        || m > 12)
        return PL_EINVAL;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = 1};
    *start = (uint64_t) timegm(&tm);
    tm = (struct tm){
        .tm_year = y - 1900 + (m == 12), .tm_mon = m % 12, .tm_mday = 1};
    *end = (uint64_t) timegm(&tm);
    return PL_OK;
}

void
pl_report_period_prev(const char *period, char out[8])
{
    int y = atoi(period), m = atoi(period + 5);
    if (--m < 1) {
        m = 12;
        y--;
    }
    snprintf(out, 8, "%04u-%02u", (unsigned) y % 10000u, (unsigned) m % 100u);
}

unsigned
pl_report_rss_bin(unsigned permille)
{
    unsigned b = permille / 200;
    return b > 4 ? 4 : b;
}

// ---- building

static bool
s_in_list(const char *const *list, const char *v)
{
    for (; v && *list; list++)
        if (strcmp(*list, v) == 0)
            return true;
    return false;
}

// o[key] += 1
static void
s_bump(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    json_object_set_new(o, key,
                        json_integer(v ? json_integer_value(v) + 1 : 1));
}

static json_t *
s_sub(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        v = json_object();
        json_object_set_new(o, key, v);
    }
    return v;
}

// RFC 3339 "YYYY-MM-DDTHH:MM:SSZ" (pl_time_fmt), 0 when not that.
static uint64_t
s_time_parse(const char *s)
{
    struct tm tm = {0};
    char z = 0;
    if (!s
        || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z)
               != 7
        || z != 'Z')
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    return t < 0 ? 0 : (uint64_t) t;
}

// Durations to each step, per direction.
typedef struct {
    uint64_t *v;
    size_t n, cap;
} s_times_t;

typedef struct {
    pl_node_ctx_t *ctx;
    uint64_t start, end;
    json_t *dir[2];        // "out", "in" accumulators
    s_times_t times[2][3]; // [dir][step]
    int err;
} s_build_t;

static int
s_times_push(s_times_t *t, uint64_t v)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        uint64_t *p = realloc(t->v, cap * sizeof *p);
        if (!p)
            return PL_ENOMEM;
        t->v = p;
        t->cap = cap;
    }
    t->v[t->n++] = v;
    return PL_OK;
}

static int
s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

// The sector of the referral's peer: the recipient's for "out", the
// sender's (from the directory) for "in"; NULL when unknown.
static const char *
s_peer_sector(s_build_t *b, const pl_ref_rec_t *r, bool out)
{
    if (out)
        return r->sector;
    const pl_cert_t *c =
        r->peer ? pl_ctx_dir_find(b->ctx, r->peer, NULL) : NULL;
    return c ? c->sector : NULL;
}

// The first time the history reached each step (0: not reached).
static void
s_steps_of(const pl_ref_rec_t *r, uint64_t at[3])
{
    at[0] = at[1] = at[2] = 0;
    size_t i;
    json_t *e;
    json_array_foreach(r->history, i, e)
    {
        const char *st = json_string_value(json_object_get(e, "status"));
        uint64_t t = s_time_parse(json_string_value(json_object_get(e, "at")));
        for (int k = 0; st && k < 3; k++)
            if (!at[k] && strcmp(st, s_steps[k]) == 0)
                at[k] = t;
    }
}

static int
s_ref_one(pl_case_rwalk_t *w, const uint8_t id[PL_CASE_ID],
          const pl_ref_rec_t *r)
{
    (void) id;
    s_build_t *b = w->user;
    if (r->created < b->start || r->created >= b->end || !r->dir)
        return PL_STORE_NEXT;
    bool out = strcmp(r->dir, "out") == 0;
    json_t *d = b->dir[out ? 0 : 1];
    s_bump(d, "total");
    if (pl_case_overdue(r, w->now, NULL))
        s_bump(d, "overdue");
    pl_referral_state_t st;
    if (r->status && pl_referral_state_parse(r->status, &st) == PL_OK)
        s_bump(s_sub(d, "status"), pl_referral_state_name(st));
    const char *sector = s_peer_sector(b, r, out);
    if (sector && pl_sector_valid(sector)) {
        s_bump(s_sub(d, "sector"), sector);
        s_bump(s_sub(d, "dimension"), pl_sector_dimension(sector));
    }
    pl_referral_priority_t pr;
    if (r->priority && pl_referral_priority_parse(r->priority, &pr) == PL_OK)
        s_bump(s_sub(d, "priority"), pl_referral_priority_name(pr));
    uint64_t at[3];
    s_steps_of(r, at);
    for (int k = 0; k < 3; k++)
        if (at[k] >= r->created && at[k]
            && s_times_push(&b->times[out ? 0 : 1][k], at[k] - r->created)
                   != PL_OK)
            return PL_ENOMEM;
    return PL_STORE_NEXT;
}

// The medians of one direction, over >= PL_SUPPRESS_MIN referrals each.
static void
s_medians(json_t *d, s_times_t t[3])
{
    json_t *m = json_object();
    for (int k = 0; k < 3; k++) {
        if (pl_suppress_median_ok(t[k].n)) {
            qsort(t[k].v, t[k].n, sizeof *t[k].v, s_cmp_u64);
            uint64_t med =
                t[k].n % 2 ? t[k].v[t[k].n / 2]
                           : (t[k].v[t[k].n / 2 - 1] + t[k].v[t[k].n / 2]) / 2;
            json_object_set_new(m, s_steps[k], json_integer((json_int_t) med));
        }
        free(t[k].v);
        t[k] = (s_times_t){0};
    }
    if (json_object_size(m))
        json_object_set_new(d, "median_s", m);
    else
        json_decref(m);
}

typedef struct {
    pl_txn_t *txn;
    uint64_t start, end;
    json_t *cases;
} s_cwalk_t;

static int
s_case_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v, (void) vl;
    s_cwalk_t *w = arg;
    uint8_t hdr[PL_CASE_HDR];
    json_t *doc = NULL;
    if (kl != PL_CASE_ID || pl_case_get(w->txn, k, hdr, NULL, &doc) != PL_OK)
        return PL_STORE_NEXT;
    uint64_t created = pl_case_u64(doc, "created");
    uint64_t closed = pl_case_u64(doc, "closed");
    if (created >= w->start && created < w->end)
        s_bump(w->cases, "opened");
    if (closed && closed >= w->start && closed < w->end) {
        s_bump(w->cases, "closed");
        const char *why = pl_case_str(doc, "close_reason");
        s_bump(s_sub(w->cases, "closed_by_reason"),
               pl_casework_reason_known(why) ? why : "other");
    }
    json_decref(doc);
    return PL_STORE_NEXT;
}

// The sustainability-score distribution of this node's cases (issue 17,
// pl_rss_report_figures) as the schema's "rss": {"baseline"|"endline":
// {DIM: [5 counts]}}. It is cumulative, not of the period (each case's
// latest survey of the timepoint); absent while no case has a score.
static int
s_rss(pl_txn_t *txn, json_t *doc)
{
    static const char *const bins[] = {"0-199", "200-399", "400-599", "600-799",
                                       "800-1000"};
    json_t *fig = json_object(), *rss = json_object();
    int rc = fig && rss ? pl_rss_report_figures(txn, fig) : PL_ENOMEM;
    const char *tp;
    json_t *o;
    json_object_foreach(fig, tp, o)
    {
        if (rc != PL_OK || json_integer_value(json_object_get(o, "n")) <= 0)
            continue;
        json_t *t = json_object();
        for (int d = 0; s_rss_dims[d]; d++) {
            const json_t *src = json_object_get(o, s_rss_dims[d]);
            json_t *a = json_array();
            for (int b = 0; b < 5; b++)
                json_array_append_new(a, json_integer(json_integer_value(
                                             json_object_get(src, bins[b]))));
            json_object_set_new(t, s_rss_dims[d], a);
        }
        json_object_set_new(rss, tp, t);
    }
    if (rc == PL_OK && json_object_size(rss))
        json_object_set(doc, "rss", rss);
    json_decref(fig);
    json_decref(rss);
    return rc;
}

int
pl_report_build(pl_node_ctx_t *ctx, pl_txn_t *txn, const char *period,
                uint64_t now, json_t **out)
{
    *out = NULL;
    s_build_t b = {.ctx = ctx};
    if (pl_report_period_parse(period, &b.start, &b.end) != PL_OK)
        return PL_EINVAL;
    b.dir[0] = json_object();
    b.dir[1] = json_object();
    pl_case_rwalk_t w = {.txn = txn, .now = now, .fn = s_ref_one, .user = &b};
    int rc = pl_store_each(txn, PL_DB_REFERRALS, pl_case_rwalk_one, &w);
    for (int d = 0; d < 2; d++)
        s_medians(b.dir[d], b.times[d]);
    s_cwalk_t cw = {txn, b.start, b.end, json_object()};
    if (rc == PL_OK)
        rc = pl_store_each(txn, PL_DB_CASES, s_case_one, &cw);
    json_t *doc = json_object();
    json_object_set_new(doc, "schema", json_integer(PL_REPORT_SCHEMA));
    json_object_set_new(doc, "node", json_string(ctx->me->address));
    json_object_set_new(doc, "period", json_string(period));
    json_object_set_new(doc, "as_of", json_integer((json_int_t) now));
    json_t *refs = json_object();
    json_object_set_new(refs, "out", b.dir[0]);
    json_object_set_new(refs, "in", b.dir[1]);
    json_object_set_new(doc, "referrals", refs);
    json_object_set_new(doc, "cases", cw.cases);
    if (rc == PL_OK)
        rc = s_rss(txn, doc);
    if (rc != PL_OK) {
        json_decref(doc);
        return rc;
    }
    *out = doc;
    return PL_OK;
}

// ---- checking

#define S_COUNT_MAX 1000000000LL // a count or seconds value at most

static bool
s_count_ok(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0
           && json_integer_value(v) <= S_COUNT_MAX;
}

// Every key of 'o' is in the list (or passes 'key_ok'); with 'counts',
// every value is a count too.
static int
s_check_keys(const json_t *o, const char *const *list,
             bool (*key_ok)(const char *), bool counts, const char *what,
             char *err, size_t n)
{
    if (!json_is_object(o)) {
        pl_errf(err, n, "%s is not an object", what);
        return PL_EPROTO;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) o, k, v)
    {
        if (list ? !s_in_list(list, k) : !key_ok(k)) {
            pl_errf(err, n, "%s has a field outside the schema", what);
            return PL_EPROTO;
        }
        if (counts && !s_count_ok(v)) {
            pl_errf(err, n, "%s.%s is not a count", what, k);
            return PL_EPROTO;
        }
    }
    return PL_OK;
}

static int
s_check_counts(const json_t *o, const char *const *list,
               bool (*key_ok)(const char *), const char *what, char *err,
               size_t n)
{
    return s_check_keys(o, list, key_ok, true, what, err, n);
}

// Keys of 'o' are only the allowed ones.
static int
s_keys_only(const json_t *o, const char *const *allowed, const char *what,
            char *err, size_t n)
{
    return s_check_keys(o, allowed, NULL, false, what, err, n);
}

static bool
s_state_ok(const char *k)
{
    pl_referral_state_t st;
    return pl_referral_state_parse(k, &st) == PL_OK;
}

static bool
s_priority_ok(const char *k)
{
    pl_referral_priority_t p;
    return pl_referral_priority_parse(k, &p) == PL_OK;
}

static int
s_check_dir(const json_t *d, const char *what, char *err, size_t n)
{
    static const char *const keys[] = {"total",    "overdue",   "status",
                                       "sector",   "dimension", "priority",
                                       "median_s", NULL};
    int rc = s_keys_only(d, keys, what, err, n);
    const json_t *v;
    for (int i = 0; rc == PL_OK && i < 2; i++)
        if ((v = json_object_get(d, keys[i])) && !s_count_ok(v)) {
            pl_errf(err, n, "%s.%s is not a count", what, keys[i]);
            rc = PL_EPROTO;
        }
    if (rc == PL_OK && (v = json_object_get(d, "status")))
        rc = s_check_counts(v, NULL, s_state_ok, "status", err, n);
    if (rc == PL_OK && (v = json_object_get(d, "sector")))
        rc = s_check_counts(v, NULL, pl_sector_valid, "sector", err, n);
    if (rc == PL_OK && (v = json_object_get(d, "dimension")))
        rc = s_check_counts(v, s_dims, NULL, "dimension", err, n);
    if (rc == PL_OK && (v = json_object_get(d, "priority")))
        rc = s_check_counts(v, NULL, s_priority_ok, "priority", err, n);
    if (rc == PL_OK && (v = json_object_get(d, "median_s")))
        rc = s_check_counts(v, s_steps, NULL, "median_s", err, n);
    return rc;
}

// "rss": {"baseline"|"endline": {DIM: [5 counts]}}
static int
s_check_rss(const json_t *r, char *err, size_t n)
{
    static const char *const keys[] = {"baseline", "endline", NULL};
    int rc = s_keys_only(r, keys, "rss", err, n);
    for (int i = 0; rc == PL_OK && keys[i]; i++) {
        const json_t *b = json_object_get(r, keys[i]);
        if (!b)
            continue;
        rc = s_keys_only(b, s_rss_dims, "rss distribution", err, n);
        const char *k;
        json_t *bins;
        json_object_foreach((json_t *) b, k, bins)
        {
            bool ok = rc == PL_OK && json_is_array(bins)
                      && json_array_size(bins) == 5;
            for (size_t j = 0; ok && j < 5; j++)
                ok = s_count_ok(json_array_get(bins, j));
            if (rc == PL_OK && !ok) {
                pl_errf(err, n, "rss.%s.%s is not 5 counts", keys[i], k);
                rc = PL_EPROTO;
            }
        }
    }
    return rc;
}

// A closure reason key: the handbook's (pl_casework_reason_known) or "other".
static bool
s_reason_ok(const char *k)
{
    return pl_casework_reason_known(k) || !strcmp(k, "other");
}

static int
s_check_cases(const json_t *c, char *err, size_t n)
{
    static const char *const keys[] = {"opened", "closed", "closed_by_reason",
                                       NULL};
    int rc = s_keys_only(c, keys, "cases", err, n);
    const json_t *v;
    for (int i = 0; rc == PL_OK && i < 2; i++)
        if ((v = json_object_get(c, keys[i])) && !s_count_ok(v)) {
            pl_errf(err, n, "cases.%s is not a count", keys[i]);
            rc = PL_EPROTO;
        }
    if (rc == PL_OK && (v = json_object_get(c, "closed_by_reason")))
        rc = s_check_counts(v, NULL, s_reason_ok, "closed_by_reason", err, n);
    return rc;
}

int
pl_report_check(const json_t *doc, char *err, size_t n)
{
    static const char *const keys[] = {"schema",    "node",  "period", "as_of",
                                       "referrals", "cases", "rss",    NULL};
    int rc = s_keys_only(doc, keys, "the report", err, n);
    if (rc != PL_OK)
        return rc;
    const json_t *s = json_object_get(doc, "schema");
    const char *node = json_string_value(json_object_get(doc, "node"));
    const char *period = json_string_value(json_object_get(doc, "period"));
    uint64_t a, b;
    if (!json_is_integer(s) || json_integer_value(s) != PL_REPORT_SCHEMA) {
        pl_errf(err, n, "not a report of schema %d", PL_REPORT_SCHEMA);
        return PL_EPROTO;
    }
    if (!node || !pl_address_valid(node) || !period
        || pl_report_period_parse(period, &a, &b) != PL_OK
        || !json_is_integer(json_object_get(doc, "as_of"))
        || json_integer_value(json_object_get(doc, "as_of")) < 0) {
        pl_errf(err, n, "node, period (YYYY-MM) or as_of missing or bad");
        return PL_EPROTO;
    }
    static const char *const dirs[] = {"out", "in", NULL};
    const json_t *refs = json_object_get(doc, "referrals");
    rc = s_keys_only(refs, dirs, "referrals", err, n);
    for (int i = 0; rc == PL_OK && i < 2; i++) {
        const json_t *d = json_object_get(refs, dirs[i]);
        if (d)
            rc = s_check_dir(d, dirs[i], err, n);
    }
    const json_t *v;
    if (rc == PL_OK && (v = json_object_get(doc, "cases")))
        rc = s_check_cases(v, err, n);
    if (rc == PL_OK && (v = json_object_get(doc, "rss")))
        rc = s_check_rss(v, err, n);
    return rc;
}
