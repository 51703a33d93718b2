// pl_coord_fig - the figures of the coordination view from the reports a
// coordination node keeps (pl_coord.h): every count goes through
// pl_suppress_table before it is put in the reply. Layer: nodes, handlers.
//
// Reply of `coordination`:
//   {"as_of": T, "reports": N,
//    "nodes": [{"node", "region", "sector", "last_report" (its as_of),
//               "received", "age_days"}],
//    "tables": {NAME: TABLE}, "loop_closure": {...}, "medians_s": {...}}
// TABLE: {"rows": [labels], "cols": [labels], "cells": [[F]],
//         "row_totals": [F], "col_totals": [F], "total": F}
// where F is a count, "<5" or "*" (pl_suppress.h). The tables: status,
// sector, dimension, priority (month x ..., referrals sent), region
// (region x status), cases (month x opened), closure (month x
// reason: its row total is the cases closed), node_status (node x status, both
// directions) and node_overdue (node x overdue).
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_coord.h"
#include "nodes/pl_referral.h"
#include "nodes/pl_sealed.h"
#include "nodes/pl_suppress.h"

static const char *const s_states[] = {"requested", "received",    "accepted",
                                       "rejected",  "in-progress", "on-hold",
                                       "completed", "cancelled",   NULL};
static const char *const s_dims[] = {
    "economic", "social", "psychosocial", "protection", "coordination", NULL};
static const char *const s_prios[] = {"emergency", "urgent", "normal", NULL};
static const char *const s_case_cols[] = {"opened", NULL};
static const char *const s_overdue[] = {"overdue", NULL};
static const char *const s_rss_bins[] = {"0-199",   "200-399",  "400-599",
                                         "600-799", "800-1000", NULL};
static const char *const s_steps[] = {"received", "accepted", "completed",
                                      NULL};

// The accumulators: NAME -> {row: {col: n}}.
typedef struct {
    json_t *acc;           // tables being summed
    json_t *nodes;         // address -> node entry
    json_t *medians;       // step -> [node medians]
    json_t *rss;           // node -> {as_of, rss}: its latest report's
    uint64_t closed, sent; // loop closure (referrals sent)
    size_t reports;
} s_fig_t;

static void
s_add(s_fig_t *f, const char *table, const char *row, const char *col,
      json_int_t n)
{
    if (!row || !col || n <= 0)
        return;
    json_t *t = json_object_get(f->acc, table);
    if (!t)
        json_object_set_new(f->acc, table, t = json_object());
    json_t *r = json_object_get(t, row);
    if (!r)
        json_object_set_new(t, row, r = json_object());
    json_t *v = json_object_get(r, col);
    json_object_set_new(r, col,
                        json_integer((v ? json_integer_value(v) : 0) + n));
}

// Adds every {col: n} of 'counts' to row 'row' of 'table'.
static void
s_add_all(s_fig_t *f, const char *table, const char *row, const json_t *counts)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) counts, k, v)
        s_add(f, table, row, k, json_integer_value(v));
}

static void
s_node(s_fig_t *f, const char *addr, const json_t *w, const json_t *r)
{
    json_int_t as_of = json_integer_value(json_object_get(r, "as_of"));
    json_t *e = json_object_get(f->nodes, addr);
    if (e && json_integer_value(json_object_get(e, "last_report")) >= as_of)
        return;
    e = json_object();
    json_object_set_new(e, "node", json_string(addr));
    json_object_set(e, "region", json_object_get(w, "region"));
    json_object_set(e, "sector", json_object_get(w, "sector"));
    json_object_set_new(e, "last_report", json_integer(as_of));
    json_object_set(e, "received", json_object_get(w, "received"));
    json_object_set_new(f->nodes, addr, e);
}

// The score distribution is cumulative (not of a period): only each node's
// latest report counts, summed by s_rss_sum into rows "TIMEPOINT DIM".
static void
s_rss_keep(s_fig_t *f, const char *addr, const json_t *r)
{
    json_t *rss = json_object_get(r, "rss");
    json_int_t as_of = json_integer_value(json_object_get(r, "as_of"));
    const json_t *prev = json_object_get(f->rss, addr);
    if (rss
        && (!prev
            || json_integer_value(json_object_get(prev, "as_of")) < as_of))
        json_object_set_new(
            f->rss, addr,
            json_pack("{s:I, s:O}", "as_of", (json_int_t) as_of, "rss", rss));
}

static void
s_rss_sum(s_fig_t *f)
{
    const char *addr, *tp, *dim;
    json_t *e, *dims, *a;
    json_object_foreach(f->rss, addr, e)
    {
        json_object_foreach(json_object_get(e, "rss"), tp, dims)
        {
            json_object_foreach(dims, dim, a)
            {
                char row[48];
                snprintf(row, sizeof row, "%s %s", tp, dim);
                for (size_t b = 0; s_rss_bins[b]; b++)
                    s_add(f, "rss", row, s_rss_bins[b],
                          json_integer_value(json_array_get(a, b)));
            }
        }
    }
}

static void
s_one_report(s_fig_t *f, const json_t *w)
{
    const json_t *r = json_object_get(w, "report");
    const char *addr = json_string_value(json_object_get(r, "node"));
    const char *month = json_string_value(json_object_get(r, "period"));
    const char *region = json_string_value(json_object_get(w, "region"));
    const json_t *out = json_object_get(json_object_get(r, "referrals"), "out");
    const json_t *in = json_object_get(json_object_get(r, "referrals"), "in");
    if (!addr || !month)
        return;
    f->reports++;
    s_node(f, addr, w, r);
    s_add_all(f, "status", month, json_object_get(out, "status"));
    s_add_all(f, "sector", month, json_object_get(out, "sector"));
    s_add_all(f, "dimension", month, json_object_get(out, "dimension"));
    s_add_all(f, "priority", month, json_object_get(out, "priority"));
    s_add_all(f, "region", region ? region : "(none)",
              json_object_get(out, "status"));
    s_add_all(f, "node_status", addr, json_object_get(out, "status"));
    s_add_all(f, "node_status", addr, json_object_get(in, "status"));
    s_add(f, "node_overdue", addr, "overdue",
          json_integer_value(json_object_get(out, "overdue"))
              + json_integer_value(json_object_get(in, "overdue")));
    const json_t *c = json_object_get(r, "cases");
    for (int i = 0; s_case_cols[i]; i++)
        s_add(f, "cases", month, s_case_cols[i],
              json_integer_value(json_object_get(c, s_case_cols[i])));
    s_add_all(f, "closure", month, json_object_get(c, "closed_by_reason"));
    const json_t *st = json_object_get(out, "status");
    f->sent += (uint64_t) json_integer_value(json_object_get(out, "total"));
    f->closed +=
        (uint64_t) (json_integer_value(json_object_get(st, "completed"))
                    + json_integer_value(json_object_get(st, "rejected"))
                    + json_integer_value(json_object_get(st, "cancelled")));
    s_rss_keep(f, addr, r);
    const json_t *med = json_object_get(out, "median_s");
    for (int k = 0; s_steps[k]; k++) {
        json_t *v = json_object_get(med, s_steps[k]);
        if (v)
            json_array_append(json_object_get(f->medians, s_steps[k]), v);
    }
}

static int
s_walk_one(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, void *arg)
{
    (void) v, (void) vl;
    void **a = arg;
    uint8_t hdr[PL_SEALED_HDR];
    json_t *doc = NULL;
    if (pl_sealed_get(a[0], PL_DB_REPORTS, k, kl, NULL, hdr, NULL, &doc)
        != PL_OK)
        return PL_STORE_NEXT; // unreadable: not counted
    s_one_report(a[1], doc);
    json_decref(doc);
    return PL_STORE_NEXT;
}

// Columns of 'acc' when no fixed list is given: its keys, sorted.
static json_t *
s_keys(const json_t *acc, bool inner)
{
    json_t *a = json_array();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *) acc, k, v)
    {
        if (!inner) {
            json_array_append_new(a, json_string(k));
            continue;
        }
        const char *c;
        json_t *x;
        json_object_foreach(v, c, x)
        {
            size_t i;
            json_t *e;
            bool seen = false;
            json_array_foreach(a, i, e) seen |=
                strcmp(json_string_value(e), c) == 0;
            if (!seen)
                json_array_append_new(a, json_string(c));
        }
    }
    return a;
}

static int
s_cmp_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *) a),
                  json_string_value(*(json_t *const *) b));
}

static void
s_sort(json_t *a)
{
    size_t n = json_array_size(a);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = json_incref(json_array_get(a, i));
    if (v)
        qsort(v, n, sizeof *v, s_cmp_str);
    json_array_clear(a);
    for (size_t i = 0; v && i < n; i++)
        json_array_append_new(a, v[i]);
    free(v);
}

static json_t *
s_list(const char *const *l)
{
    json_t *a = json_array();
    for (; *l; l++)
        json_array_append_new(a, json_string(*l));
    return a;
}

// The suppressed TABLE of accumulator 'acc' with columns 'cols' (owned).
static json_t *
s_table(const json_t *acc, json_t *cols)
{
    json_t *rows = s_keys(acc, false);
    s_sort(rows);
    size_t nr = json_array_size(rows), nc = json_array_size(cols);
    size_t w = nc + 1, all = (nr + 1) * w;
    uint64_t *v = calloc(all, sizeof *v);
    pl_sup_t *mark = calloc(all, sizeof *mark);
    json_t *t = json_object();
    if (!v || !mark) {
        free(v), free(mark);
        json_decref(rows), json_decref(cols);
        return t;
    }
    for (size_t i = 0; i < nr; i++) {
        const json_t *r =
            json_object_get(acc, json_string_value(json_array_get(rows, i)));
        for (size_t j = 0; j < nc; j++)
            v[i * w + j] = (uint64_t) json_integer_value(
                json_object_get(r, json_string_value(json_array_get(cols, j))));
    }
    pl_suppress_totals(v, nr, nc);
    pl_suppress_table(v, nr, nc, mark);
    json_t *cells = json_array(), *rt = json_array(), *ct = json_array();
    for (size_t i = 0; i < nr; i++) {
        json_t *row = json_array();
        for (size_t j = 0; j < nc; j++)
            json_array_append_new(
                row, pl_suppress_json(v[i * w + j], mark[i * w + j]));
        json_array_append_new(cells, row);
        json_array_append_new(
            rt, pl_suppress_json(v[i * w + nc], mark[i * w + nc]));
    }
    for (size_t j = 0; j < nc; j++)
        json_array_append_new(
            ct, pl_suppress_json(v[nr * w + j], mark[nr * w + j]));
    json_object_set_new(t, "rows", rows);
    json_object_set_new(t, "cols", cols);
    json_object_set_new(t, "cells", cells);
    json_object_set_new(t, "row_totals", rt);
    json_object_set_new(t, "col_totals", ct);
    json_object_set_new(t, "total",
                        pl_suppress_json(v[nr * w + nc], mark[nr * w + nc]));
    free(v);
    free(mark);
    return t;
}

static json_t *
s_tables(const s_fig_t *f)
{
    static const struct {
        const char *name;
        const char *const *cols; // NULL: the sectors, reasons found
    } defs[] = {
        {"status", s_states},        {"sector", NULL},
        {"dimension", s_dims},       {"priority", s_prios},
        {"region", s_states},        {"cases", s_case_cols},
        {"closure", NULL},           {"node_status", s_states},
        {"node_overdue", s_overdue}, {"rss", s_rss_bins},
    };
    json_t *o = json_object();
    json_t *empty = json_object();
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++) {
        const json_t *acc = json_object_get(f->acc, defs[i].name);
        if (!acc)
            acc = empty;
        json_t *cols = defs[i].cols ? s_list(defs[i].cols) : s_keys(acc, true);
        if (!defs[i].cols)
            s_sort(cols);
        json_object_set_new(o, defs[i].name, s_table(acc, cols));
    }
    json_decref(empty);
    return o;
}

static int
s_cmp_i(const void *a, const void *b)
{
    json_int_t x = *(const json_int_t *) a, y = *(const json_int_t *) b;
    return x < y ? -1 : x > y;
}

// The median of the nodes' medians of each step (each one over >= 5
// referrals at its node, pl_report.c), with how many nodes gave one.
static json_t *
s_medians(const json_t *m)
{
    json_t *o = json_object();
    for (int k = 0; s_steps[k]; k++) {
        const json_t *a = json_object_get(m, s_steps[k]);
        size_t n = json_array_size(a);
        json_int_t *v = calloc(n ? n : 1, sizeof *v);
        for (size_t i = 0; v && i < n; i++)
            v[i] = json_integer_value(json_array_get(a, i));
        if (v && n) {
            qsort(v, n, sizeof *v, s_cmp_i);
            json_t *e = json_object();
            json_object_set_new(e, "median", json_integer(v[n / 2]));
            json_object_set_new(e, "nodes", json_integer((json_int_t) n));
            json_object_set_new(o, s_steps[k], e);
        }
        free(v);
    }
    return o;
}

static json_t *
s_closure(const s_fig_t *f)
{
    // one row of two cells (closed, still open) and its total (sent)
    uint64_t closed = f->closed <= f->sent ? f->closed : f->sent;
    uint64_t v[2 * 3] = {closed, f->sent - closed};
    pl_sup_t mark[2 * 3];
    pl_suppress_totals(v, 1, 2);
    pl_suppress_table(v, 1, 2, mark);
    json_t *o = json_object();
    json_object_set_new(o, "closed", pl_suppress_json(v[0], mark[0]));
    json_object_set_new(o, "sent", pl_suppress_json(v[2], mark[2]));
    json_object_set_new(o, "rate",
                        pl_suppress_rate_ok(v[0], mark[0], v[2], mark[2])
                            ? json_real((double) v[0] / (double) v[2])
                            : json_null());
    return o;
}

int
pl_coord_figures(pl_txn_t *txn, uint64_t now, json_t **out)
{
    s_fig_t f = {.acc = json_object(),
                 .nodes = json_object(),
                 .medians = json_object(),
                 .rss = json_object()};
    for (int k = 0; s_steps[k]; k++)
        json_object_set_new(f.medians, s_steps[k], json_array());
    void *arg[2] = {txn, &f};
    int rc = pl_store_each(txn, PL_DB_REPORTS, s_walk_one, arg);
    s_rss_sum(&f);
    json_t *o = json_object();
    json_object_set_new(o, "as_of", json_integer((json_int_t) now));
    json_object_set_new(o, "reports", json_integer((json_int_t) f.reports));
    json_t *nodes = json_array();
    const char *k;
    json_t *e;
    json_object_foreach(f.nodes, k, e)
    {
        json_int_t last = json_integer_value(json_object_get(e, "last_report"));
        json_object_set_new(e, "age_days",
                            json_integer(((json_int_t) now - last) / 86400));
        json_array_append(nodes, e);
    }
    json_object_set_new(o, "nodes", nodes);
    json_object_set_new(o, "tables", s_tables(&f));
    json_object_set_new(o, "loop_closure", s_closure(&f));
    json_object_set_new(o, "medians_s", s_medians(f.medians));
    json_decref(f.acc);
    json_decref(f.nodes);
    json_decref(f.medians);
    json_decref(f.rss);
    if (rc != PL_OK) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return PL_OK;
}
