// web_casework - the case manager's timeline of one case (issue 17):
// assessments, the plan in force, referrals, the follow-up schedule and
// records, survey scores with the change from baseline, and the
// safeguarding items, on one page (GET /case/:id/timeline), with the
// entry forms of web_casework_forms.c next to each part (issue 20). It
// reads the daemon's case.timeline; no script (CSP), every value escaped.
// Layer: adapters.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/web/web.h"

#define S_ERR 512

static void
s_t(web_req_t *r, const char *key)
{
    web_buf_esc(&r->body, web_t(r->lang, key));
}

static void
s_h2(web_req_t *r, const char *key)
{
    web_buf_add(&r->body, "<h2>");
    s_t(r, key);
    web_buf_add(&r->body, "</h2>");
}

// <th>s of message keys.
static void
s_head(web_req_t *r, const char *const *keys)
{
    web_buf_add(&r->body, "<table><thead><tr>");
    for (size_t i = 0; keys[i]; i++) {
        web_buf_add(&r->body, "<th scope=\"col\">");
        s_t(r, keys[i]);
        web_buf_add(&r->body, "</th>");
    }
    web_buf_add(&r->body, "</tr></thead><tbody>");
}

// A cell: the string 'key' of 'o' (a code translated when 'tr').
static void
s_td(web_req_t *r, json_t *o, const char *key, bool tr)
{
    const char *v = web_s(o, key);
    web_buf_add(&r->body, "<td>");
    web_buf_esc(&r->body, tr && *v ? web_t(r->lang, v) : v);
    web_buf_add(&r->body, "</td>");
}

// A cell: a number of 'o', or "-".
static void
s_td_num(web_req_t *r, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        web_buf_addf(&r->body, "<td>%lld</td>",
                     (long long) json_integer_value(v));
    else
        web_buf_add(&r->body, "<td>-</td>");
}

static void
s_empty(web_req_t *r, json_t *a)
{
    if (!json_array_size(a)) {
        web_buf_add(&r->body, "<p>");
        s_t(r, "none");
        web_buf_add(&r->body, "</p>");
    }
}

static void
s_assessments(web_req_t *r, json_t *t)
{
    static const char *const h[] = {"kind",     "date", "cw-level",
                                    "cw-flags", "by",   NULL};
    json_t *a = json_object_get(t, "assessments"), *e;
    size_t i;
    s_h2(r, "cw-assessments");
    s_empty(r, a);
    if (!json_array_size(a))
        return;
    s_head(r, h);
    json_array_foreach(a, i, e)
    {
        web_buf_add(&r->body, "<tr><td>");
        web_buf_esc(&r->body, web_t_ns(r->lang, "cw-type", web_s(e, "type")));
        web_buf_addf(&r->body, "</td><td>%.10s</td>", web_s(e, "date"));
        s_td(r, e, "level", false);
        char *flags = json_dumps(json_object_get(e, "flags"), JSON_COMPACT);
        web_buf_add(&r->body, "<td>");
        web_buf_esc(&r->body, flags ? flags : "");
        web_buf_add(&r->body, "</td>");
        free(flags);
        // received with a handover: the sending node, not a staff member
        json_t *got = json_object_get(e, "received");
        s_td(r, got ? got : e, got ? "from" : "by", false);
        web_buf_add(&r->body, "</tr>");
    }
    web_buf_add(&r->body, "</tbody></table>");
}

static void
s_plan(web_req_t *r, json_t *t)
{
    static const char *const dims[] = {"economic", "social", "psychosocial"};
    static const char *const h[] = {"cw-dimension", "kind", "cw-amount",
                                    "status", NULL};
    json_t *p = json_object_get(t, "plan"), *e;
    size_t i;
    s_h2(r, "cw-plan");
    if (!json_is_object(p)) { // none yet (the timeline says null)
        s_empty(r, NULL);
        return;
    }
    web_buf_addf(&r->body, "<p>v%lld",
                 (long long) json_integer_value(json_object_get(p, "version")));
    json_t *got = json_object_get(p, "received");
    if (got) { // the draft a handover brought
        web_buf_add(&r->body, " &middot; ");
        web_buf_esc(&r->body, web_s(got, "from"));
    }
    web_buf_add(&r->body, "</p><dl>");
    for (size_t d = 0; d < 3; d++) {
        const char *g = web_s(json_object_get(p, "goals"), dims[d]);
        if (!*g)
            continue;
        web_buf_add(&r->body, "<dt>");
        s_t(r, dims[d]);
        web_buf_add(&r->body, "</dt><dd>");
        web_buf_esc(&r->body, g);
        web_buf_add(&r->body, "</dd>");
    }
    web_buf_add(&r->body, "<dt>");
    s_t(r, "cw-own-goals");
    web_buf_add(&r->body, "</dt><dd>");
    web_buf_esc(&r->body, web_s(p, "own_goals"));
    web_buf_add(&r->body, "</dd></dl>");
    s_head(r, h);
    json_array_foreach(json_object_get(p, "items"), i, e)
    {
        web_buf_add(&r->body, "<tr>");
        s_td(r, e, "dimension", true);
        s_td(r, e,
             !strcmp(web_s(e, "kind"), "referral") ? "referral" : "assistance",
             false);
        web_buf_add(&r->body, "<td>");
        if (json_is_integer(json_object_get(e, "amount")))
            web_buf_addf(
                &r->body, "%lld ",
                (long long) json_integer_value(json_object_get(e, "amount")));
        web_buf_esc(&r->body, web_s(e, "currency"));
        web_buf_add(&r->body, "</td>");
        s_td(r, e, "status", false);
        web_buf_add(&r->body, "</tr>");
    }
    web_buf_add(&r->body, "</tbody></table>");
}

static void
s_referrals(web_req_t *r, json_t *t)
{
    static const char *const h[] = {"id", "status", "sector", NULL};
    json_t *a = json_object_get(t, "referrals"), *e;
    size_t i;
    s_h2(r, "referrals");
    s_empty(r, a);
    if (!json_array_size(a))
        return;
    s_head(r, h);
    json_array_foreach(a, i, e)
    {
        web_buf_add(&r->body, "<tr><td><a href=\"/referral/");
        web_buf_esc(&r->body, web_s(e, "id"));
        web_buf_add(&r->body, "\">");
        web_buf_esc(&r->body, web_s(e, "id"));
        web_buf_add(&r->body, "</a></td>");
        s_td(r, e, "status", true);
        s_td(r, e, "sector", true);
        web_buf_add(&r->body, "</tr>");
    }
    web_buf_add(&r->body, "</tbody></table>");
}

static void
s_schedule(web_req_t *r, json_t *t)
{
    static const char *const h[] = {"cw-month", "due", "state", NULL};
    json_t *a = json_object_get(t, "schedule"), *e;
    size_t i;
    s_h2(r, "cw-followup");
    s_empty(r, a);
    if (!json_array_size(a))
        return;
    s_head(r, h);
    json_array_foreach(a, i, e)
    {
        const char *st = web_s(e, "state");
        web_buf_addf(&r->body, "<tr%s>",
                     !strcmp(st, "overdue") ? " class=\"overdue\"" : "");
        s_td_num(r, e, "months");
        web_buf_addf(&r->body, "<td>%.10s</td>", web_s(e, "due"));
        web_buf_add(&r->body, "<td>");
        s_t(r, !strcmp(st, "due") ? "cw-due-now" : st);
        web_buf_add(&r->body, "</td></tr>");
    }
    web_buf_add(&r->body, "</tbody></table>");
}

static void
s_scores(web_req_t *r, json_t *t)
{
    static const char *const h[] = {
        "cw-timepoint", "economic",  "social", "psychosocial",
        "cw-composite", "cw-lowest", NULL};
    json_t *a = json_object_get(t, "rss"), *e,
           *c = json_object_get(t, "change");
    size_t i;
    bool placeholder = false;
    s_h2(r, "cw-scores");
    s_empty(r, a);
    if (!json_array_size(a))
        return;
    s_head(r, h);
    json_array_foreach(a, i, e)
    {
        placeholder |= json_is_true(json_object_get(e, "placeholder_weights"));
        web_buf_add(&r->body, "<tr>");
        s_td(r, e, "timepoint", false);
        s_td_num(r, e, "economic");
        s_td_num(r, e, "social");
        s_td_num(r, e, "psychosocial");
        s_td_num(r, e, "composite");
        s_td(r, e, "suggested_sector", true);
        web_buf_add(&r->body, "</tr>");
    }
    if (json_is_object(c)) {
        web_buf_add(&r->body, "<tr><th scope=\"row\">");
        s_t(r, "cw-change");
        web_buf_add(&r->body, "</th>");
        s_td_num(r, c, "economic");
        s_td_num(r, c, "social");
        s_td_num(r, c, "psychosocial");
        s_td_num(r, c, "composite");
        web_buf_add(&r->body, "<td></td></tr>");
    }
    web_buf_add(&r->body, "</tbody></table>");
    if (placeholder) {
        web_buf_add(&r->body, "<p class=\"notice\">");
        s_t(r, "cw-placeholder");
        web_buf_add(&r->body, "</p>");
    }
}

static void
s_safeguarding(web_req_t *r, json_t *t)
{
    json_t *a = json_object_get(t, "safeguarding"), *e;
    size_t i;
    s_h2(r, "cw-safeguarding");
    s_empty(r, a);
    json_array_foreach(a, i, e)
    {
        bool open = json_is_true(json_object_get(e, "open"));
        web_buf_addf(&r->body, "<p%s>", open ? " class=\"error\"" : "");
        s_t(r, open ? "cw-sg-open" : "cw-sg-closed");
        web_buf_add(&r->body, " — ");
        web_buf_esc(&r->body, web_s(e, "source"));
        web_buf_addf(&r->body, " %.10s</p>", web_s(e, "at"));
    }
}

// The follow-up records: month answered, when, how, contact made.
static void
s_followups(web_req_t *r, json_t *t)
{
    static const char *const h[] = {
        "cw-month",     "date", "cw-mode", "cw-contact-made",
        "cw-satisfied", "by",   NULL};
    json_t *a = json_object_get(t, "followups"), *e;
    size_t i;
    if (!json_array_size(a))
        return;
    web_buf_add(&r->body, "<h3>");
    s_t(r, "cw-followups");
    web_buf_add(&r->body, "</h3>");
    s_head(r, h);
    json_array_foreach(a, i, e)
    {
        web_buf_add(&r->body, "<tr>");
        s_td_num(r, e, "months");
        web_buf_addf(&r->body, "<td>%.10s</td>", web_s(e, "done_at"));
        s_td(r, e, "mode", true);
        web_buf_add(&r->body, "<td>");
        s_t(r, json_is_true(json_object_get(e, "contact_made")) ? "yes" : "no");
        web_buf_add(&r->body, "</td>");
        s_td_num(r, e, "satisfaction");
        s_td(r, e, "by", false);
        web_buf_add(&r->body, "</tr>");
    }
    web_buf_add(&r->body, "</tbody></table>");
}

// Why there is no endline survey, when recorded.
static void
s_skipped(web_req_t *r, json_t *t)
{
    json_t *k = json_object_get(t, "endline_skipped");
    if (!json_is_object(k))
        return;
    web_buf_add(&r->body, "<p>");
    s_t(r, "cw-endline-skipped");
    web_buf_add(&r->body, ": ");
    s_t(r, web_s(k, "reason"));
    web_buf_addf(&r->body, " (%.10s)</p>", web_s(k, "at"));
}

// The forms this page has (web_casework_forms.c).
static const char *const s_forms[] = {
    "assess", "plan", "schedule", "followup", "rss", "rss-skip", "close", NULL};

void
web_cw_page(web_req_t *r, const char *error, int status)
{
    json_t *args = json_pack("{s:s}", "case", r->arg), *t = NULL;
    char err[S_ERR], code[32];
    int rc = web_call(r, "case.timeline", args, false, &t, err, sizeof err,
                      code, sizeof code);
    json_decref(args);
    web_buf_free(&r->body);
    web_page_begin(r, "cw-timeline");
    if (rc != 0) {
        web_fail(r, err, code);
        web_page_end(r);
        return;
    }
    // an error no form of the page can show: above everything
    const char *what = web_form_get(&r->form, "do");
    bool shown = false;
    for (size_t i = 0; what && s_forms[i]; i++)
        shown |= !strcmp(what, s_forms[i]);
    if (error && (!shown || strcmp(web_s(t, "status"), "open") != 0)) {
        web_error(r, status, error);
        error = NULL;
    }
    web_buf_add(&r->body, "<p><a href=\"/case/");
    web_buf_esc(&r->body, web_s(t, "id"));
    web_buf_add(&r->body, "\">");
    s_t(r, "case");
    web_buf_add(&r->body, "</a> — <span class=\"case-status\">");
    s_t(r, web_s(t, "status"));
    web_buf_add(&r->body, "</span></p>");
    s_safeguarding(r, t);
    s_assessments(r, t);
    web_cw_form(r, t, "assess", error, status);
    s_plan(r, t);
    web_cw_form(r, t, "plan", error, status);
    s_referrals(r, t);
    s_schedule(r, t);
    web_cw_form(r, t, "schedule", error, status);
    s_followups(r, t);
    web_cw_form(r, t, "followup", error, status);
    s_scores(r, t);
    s_skipped(r, t);
    web_cw_form(r, t, "rss", error, status);
    web_cw_form(r, t, "rss-skip", error, status);
    web_cw_form(r, t, "close", error, status);
    web_page_end(r);
    json_decref(t);
}

void
web_pg_case_timeline(web_req_t *r)
{
    web_cw_page(r, NULL, 200);
}
