// web_coord - the coordination dashboard of passerelle-web (issue 15,
// DESIGN.md §8, §12), for the `coordinator` role: network health (the
// broker's transport status, through `network`), the figures of the
// aggregate reports (through `coordination`: the daemon has suppressed
// them already; this process never holds a raw small count), with
// server-rendered SVG bar charts (no script: the CSP), and their export as
// CSV and JSON (/api/v1/coordination/figures, .../network). Layer: adapters.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/web/web.h"

#define S_ERR 512

static void
s_t(web_req_t *r, const char *key)
{
    web_buf_esc(&r->body, web_t(r->lang, key));
}

// A figure as text: a count, "<5" or "*".
static const char *
s_fig(const json_t *v, char *buf, size_t n)
{
    if (json_is_string(v))
        return json_string_value(v);
    snprintf(buf, n, "%lld", (long long) json_integer_value(v));
    return buf;
}

static void
s_date(char *out, size_t n, json_int_t t)
{
    time_t tt = (time_t) t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M", &tm);
}

// One call; on failure an error line in the page, NULL.
static json_t *
s_get(web_req_t *r, const char *cmd)
{
    json_t *res = NULL;
    char err[S_ERR], code[32];
    if (web_call(r, cmd, NULL, false, &res, err, sizeof err, code, sizeof code)
        == 0)
        return res;
    web_buf_add(&r->body, "<p class=\"error\" role=\"alert\">");
    web_buf_esc(&r->body, err);
    web_buf_add(&r->body, "</p>");
    return NULL;
}

// ---- network health

const char *const web_health_cols[] = {
    "node",           "online", "last_seen", "queued", "oldest_queued_age",
    "latency_p50_ms", NULL};

// a region of its own that scrolls sideways on a phone (focusable, so
// that a keyboard can scroll it), named by the translated 'label'
static void
s_wide_open(web_req_t *r, const char *label)
{
    web_buf_add(&r->body, "<div class=\"wide\" role=\"region\" tabindex=\"0\" "
                          "aria-label=\"");
    s_t(r, label);
    web_buf_add(&r->body, "\">");
}

void
web_table_head(web_req_t *r, const char *label, const char *const *keys)
{
    s_wide_open(r, label);
    web_buf_add(&r->body, "<table class=\"list\"><thead><tr>");
    for (size_t i = 0; keys[i]; i++) {
        web_buf_add(&r->body, "<th>");
        s_t(r, keys[i]);
        web_buf_add(&r->body, "</th>");
    }
    web_buf_add(&r->body, "</tr></thead><tbody>");
}

void
web_table_end(web_req_t *r)
{
    web_buf_add(&r->body, "</tbody></table></div>");
}

static void
s_health(web_req_t *r, json_t *net)
{
    web_buf_add(&r->body, "<h2>");
    s_t(r, "network-health");
    web_buf_add(&r->body, "</h2>");
    if (!net)
        return;
    web_table_head(r, "network-health", web_health_cols);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(net, "nodes"), i, e)
    {
        char num[32];
        web_buf_add(&r->body, "<tr><td>");
        web_buf_esc(&r->body, web_s(e, "address"));
        web_buf_add(&r->body, "</td><td>");
        s_t(r, json_is_true(json_object_get(e, "online")) ? "yes" : "no");
        web_buf_add(&r->body, "</td><td>");
        web_buf_esc(&r->body, web_s(e, "last_seen"));
        for (size_t k = 3; web_health_cols[k]; k++) {
            json_t *v = json_object_get(e, web_health_cols[k]);
            web_buf_add(&r->body, "</td><td>");
            if (v)
                web_buf_esc(&r->body, s_fig(v, num, sizeof num));
        }
        web_buf_add(&r->body, "</td></tr>");
    }
    web_table_end(r);
    json_array_foreach(json_object_get(net, "federation"), i, e)
    {
        web_buf_add(&r->body, "<p>");
        s_t(r, "federation");
        web_buf_add(&r->body, " ");
        web_buf_esc(&r->body, web_s(e, "network"));
        web_buf_add(&r->body, ": ");
        s_t(r, json_is_true(json_object_get(e, "up")) ? "up" : "down");
        web_buf_add(&r->body, "</p>");
    }
}

// ---- the reports

static void
s_reporters(web_req_t *r, json_t *fig)
{
    web_buf_add(&r->body, "<h2>");
    s_t(r, "reports");
    web_buf_add(&r->body, "</h2>");
    s_wide_open(r, "reports");
    web_buf_add(&r->body, "<table class=\"list\"><thead><tr><th>");
    s_t(r, "node");
    web_buf_add(&r->body, "</th><th>");
    s_t(r, "region");
    web_buf_add(&r->body, "</th><th>");
    s_t(r, "last-report");
    web_buf_add(&r->body, "</th><th>");
    s_t(r, "age-days");
    web_buf_add(&r->body, "</th></tr></thead><tbody>");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(fig, "nodes"), i, e)
    {
        char day[32];
        json_int_t age = json_integer_value(json_object_get(e, "age_days"));
        s_date(day, sizeof day,
               json_integer_value(json_object_get(e, "last_report")));
        web_buf_addf(&r->body, "<tr%s><td>",
                     age >= 2 ? " class=\"overdue\"" : "");
        web_buf_esc(&r->body, web_s(e, "node"));
        web_buf_add(&r->body, "</td><td>");
        web_buf_esc(&r->body, web_s(e, "region"));
        web_buf_add(&r->body, "</td><td>");
        web_buf_esc(&r->body, day);
        web_buf_addf(&r->body, "</td><td>%lld</td></tr>", (long long) age);
    }
    web_table_end(r);
}

// A horizontal bar chart of a table's column totals, as inline SVG
// (presentation attributes only: no style, no script). A hidden figure
// is drawn as a short grey bar labelled with its text.
static void
s_chart(web_req_t *r, const char *name, const json_t *t)
{
    const json_t *cols = json_object_get(t, "cols");
    const json_t *tot = json_object_get(t, "col_totals");
    size_t n = json_array_size(cols);
    json_int_t max = 1;
    for (size_t j = 0; j < n; j++)
        if (json_integer_value(json_array_get(tot, j)) > max)
            max = json_integer_value(json_array_get(tot, j));
    web_buf_addf(&r->body,
                 "<svg class=\"chart\" role=\"img\" width=\"420\" "
                 "height=\"%zu\" viewBox=\"0 0 420 %zu\" aria-label=\"",
                 n * 22 + 4, n * 22 + 4);
    s_t(r, name);
    web_buf_add(&r->body, "\"><title>");
    s_t(r, name);
    web_buf_add(&r->body, "</title>");
    for (size_t j = 0; j < n; j++) {
        const json_t *v = json_array_get(tot, j);
        char num[32];
        bool hidden = json_is_string(v);
        long w = hidden ? 8 : (long) (json_integer_value(v) * 220 / max);
        size_t y = j * 22 + 2;
        web_buf_addf(&r->body, "<text x=\"0\" y=\"%zu\" font-size=\"12\">",
                     y + 14);
        web_buf_esc(&r->body,
                    web_t(r->lang, json_string_value(json_array_get(cols, j))));
        web_buf_addf(&r->body,
                     "</text><rect x=\"140\" y=\"%zu\" width=\"%ld\" "
                     "height=\"16\" fill=\"%s\"/><text x=\"%ld\" y=\"%zu\" "
                     "font-size=\"12\">",
                     y, w, hidden ? "#999" : "#2a6f97", 146 + w, y + 14);
        web_buf_esc(&r->body, s_fig(v, num, sizeof num));
        web_buf_add(&r->body, "</text>");
    }
    web_buf_add(&r->body, "</svg>");
}

static void
s_table(web_req_t *r, const char *name, const json_t *t)
{
    web_buf_add(&r->body, "<h2>");
    s_t(r, name);
    web_buf_add(&r->body, "</h2>");
    if (!json_array_size(json_object_get(t, "rows"))) {
        web_buf_add(&r->body, "<p>");
        s_t(r, "none");
        web_buf_add(&r->body, "</p>");
        return;
    }
    s_chart(r, name, t);
    s_wide_open(r, name);
    web_buf_add(&r->body, "<table class=\"list figures\"><thead><tr><th></th>");
    size_t i, j;
    json_t *e;
    json_array_foreach(json_object_get(t, "cols"), j, e)
    {
        web_buf_add(&r->body, "<th>");
        s_t(r, json_string_value(e));
        web_buf_add(&r->body, "</th>");
    }
    web_buf_add(&r->body, "<th>");
    s_t(r, "total");
    web_buf_add(&r->body, "</th></tr></thead><tbody>");
    char num[32];
    json_array_foreach(json_object_get(t, "rows"), i, e)
    {
        web_buf_add(&r->body, "<tr><th>");
        web_buf_esc(&r->body, json_string_value(e));
        web_buf_add(&r->body, "</th>");
        json_t *row = json_array_get(json_object_get(t, "cells"), i);
        json_t *v;
        json_array_foreach(row, j, v)
        {
            web_buf_add(&r->body, "<td>");
            web_buf_esc(&r->body, s_fig(v, num, sizeof num));
            web_buf_add(&r->body, "</td>");
        }
        web_buf_add(&r->body, "<td>");
        web_buf_esc(&r->body,
                    s_fig(json_array_get(json_object_get(t, "row_totals"), i),
                          num, sizeof num));
        web_buf_add(&r->body, "</td></tr>");
    }
    web_buf_add(&r->body, "<tr><th>");
    s_t(r, "total");
    web_buf_add(&r->body, "</th>");
    json_array_foreach(json_object_get(t, "col_totals"), j, e)
    {
        web_buf_add(&r->body, "<td>");
        web_buf_esc(&r->body, s_fig(e, num, sizeof num));
        web_buf_add(&r->body, "</td>");
    }
    web_buf_add(&r->body, "<td>");
    web_buf_esc(&r->body, s_fig(json_object_get(t, "total"), num, sizeof num));
    web_buf_add(&r->body, "</td></tr></tbody></table></div>");
}

static void
s_summary(web_req_t *r, json_t *fig)
{
    const json_t *lc = json_object_get(fig, "loop_closure");
    const json_t *rate = json_object_get(lc, "rate");
    char a[32], b[32];
    web_buf_add(&r->body, "<h2>");
    s_t(r, "loop-closure");
    web_buf_add(&r->body, "</h2><p class=\"figure\">");
    web_buf_esc(&r->body, s_fig(json_object_get(lc, "closed"), a, sizeof a));
    web_buf_add(&r->body, " / ");
    web_buf_esc(&r->body, s_fig(json_object_get(lc, "sent"), b, sizeof b));
    if (json_is_real(rate))
        web_buf_addf(&r->body, " (%.0f %%)", 100.0 * json_real_value(rate));
    web_buf_add(&r->body, "</p><h2>");
    s_t(r, "medians");
    web_buf_add(&r->body, "</h2><dl class=\"facts\">");
    const char *k;
    json_t *m;
    json_object_foreach(json_object_get(fig, "medians_s"), k, m)
    {
        json_int_t s = json_integer_value(json_object_get(m, "median"));
        web_buf_add(&r->body, "<dt>");
        s_t(r, k);
        web_buf_addf(&r->body, "</dt><dd>%lld h %02lld min</dd>",
                     (long long) (s / 3600), (long long) (s % 3600 / 60));
    }
    web_buf_add(&r->body, "</dl>");
}

void
web_pg_coord(web_req_t *r)
{
    web_page_begin(r, "coordination");
    web_buf_add(&r->body, "<p class=\"export\"><a href=\"/coordination.csv\">");
    s_t(r, "export-csv");
    web_buf_add(&r->body, "</a> · <a href=\"/api/v1/coordination/figures\">");
    s_t(r, "export-json");
    web_buf_add(&r->body, "</a></p>");
    web_form_begin(r, "/coordination/request");
    web_buf_add(&r->body, "<button type=\"submit\">");
    s_t(r, "ask-reports");
    web_buf_add(&r->body, "</button></form>");
    json_t *net = s_get(r, "network");
    s_health(r, net);
    json_decref(net);
    json_t *fig = s_get(r, "coordination");
    if (fig) {
        s_reporters(r, fig);
        s_summary(r, fig);
        static const char *const order[] = {
            "status",      "region",       "sector", "dimension", "priority",
            "node_status", "node_overdue", "cases",  "closure",   "rss",
            NULL};
        for (size_t i = 0; order[i]; i++)
            s_table(r, order[i],
                    json_object_get(json_object_get(fig, "tables"), order[i]));
        web_buf_add(&r->body, "<p class=\"note\">");
        s_t(r, "suppression-note");
        web_buf_add(&r->body, "</p>");
    }
    json_decref(fig);
    web_page_end(r);
}

// POST /coordination/request: report.request, then back to the page.
void
web_pg_coord_request(web_req_t *r)
{
    json_t *res = NULL;
    char err[S_ERR], code[32];
    if (web_call(r, "report.request", NULL, true, &res, err, sizeof err, code,
                 sizeof code)
        != 0) {
        web_page_begin(r, "coordination");
        web_fail(r, err, code);
        web_page_end(r);
        return;
    }
    json_decref(res);
    web_redirect(r, "/coordination");
}

// ---- exports

// A CSV field: figures and codes only, quoted when they hold a comma.
static void
s_csv(web_buf_t *b, const char *s)
{
    if (strpbrk(s, ",\"\n")) {
        web_buf_add(b, "\"");
        for (; *s; s++)
            web_buf_addn(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
        web_buf_add(b, "\"");
    } else {
        web_buf_add(b, s);
    }
}

static void
s_csv_row(web_buf_t *b, const char *table, const char *row, const char *col,
          const json_t *v)
{
    char num[32];
    s_csv(b, table);
    web_buf_add(b, ",");
    s_csv(b, row);
    web_buf_add(b, ",");
    s_csv(b, col);
    web_buf_add(b, ",");
    s_csv(b, s_fig(v, num, sizeof num));
    web_buf_add(b, "\r\n");
}

void
web_pg_coord_csv(web_req_t *r)
{
    json_t *res = NULL;
    char err[S_ERR], code[32];
    if (web_call(r, "coordination", NULL, false, &res, err, sizeof err, code,
                 sizeof code)
        != 0) {
        r->status = web_status_of(code);
        r->content_type = "text/plain; charset=utf-8";
        web_buf_add(&r->body, err);
        return;
    }
    r->content_type = "text/csv; charset=utf-8";
    web_buf_t *b = &r->body;
    web_buf_add(b, "table,row,column,value\r\n");
    const char *name;
    json_t *t;
    json_object_foreach(json_object_get(res, "tables"), name, t)
    {
        const json_t *cols = json_object_get(t, "cols");
        size_t i, j;
        json_t *row;
        json_array_foreach(json_object_get(t, "rows"), i, row)
        {
            const char *rn = json_string_value(row);
            json_t *cells = json_array_get(json_object_get(t, "cells"), i), *v;
            json_array_foreach(cells, j, v) s_csv_row(
                b, name, rn, json_string_value(json_array_get(cols, j)), v);
            s_csv_row(b, name, rn, "total",
                      json_array_get(json_object_get(t, "row_totals"), i));
        }
        json_t *v;
        json_array_foreach(json_object_get(t, "col_totals"), j, v) s_csv_row(
            b, name, "total", json_string_value(json_array_get(cols, j)), v);
        s_csv_row(b, name, "total", "total", json_object_get(t, "total"));
    }
    json_decref(res);
}

// GET /api/v1/coordination/figures and .../network: the daemon's JSON, its
// errors as RFC 7807 problems (web_api_reply, like every /api/v1/ route).
static void
s_api(web_req_t *r, const char *cmd)
{
    web_api_reply(r, cmd, NULL);
}

void
web_api_coord_figures(web_req_t *r)
{
    s_api(r, "coordination");
}

void
web_api_coord_network(web_req_t *r)
{
    s_api(r, "network");
}
