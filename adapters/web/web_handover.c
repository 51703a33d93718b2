// web_handover - the handover screens of passerelle-web (DESIGN.md §7.2,
// §12: a case manager's, on both sides of the border): the list of
// handovers in and out, one handover with what was sent (before the
// receiving agency decides), its history and the steps its side may take,
// and those steps. The form that sends a case is on the case page
// (web_case.c). Every step is the daemon's `handover.act`, which checks
// the state and the side; a refusal is shown in its words. Layer: adapters.
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

// The text of a handover status ("ho-st-" keys: "withdrawn" alone is the
// consent's word).
static const char *
s_st(web_req_t *r, const char *status)
{
    char key[48];
    snprintf(key, sizeof key, "ho-st-%s", status);
    const char *t = web_t(r->lang, key);
    return strcmp(t, key) ? t : status;
}

// A <dt>/<dd> pair of text 'v' (nothing when empty).
static void
s_dd(web_req_t *r, const char *key, const char *v)
{
    if (!v || !*v)
        return;
    web_buf_add(&r->body, "<dt>");
    s_t(r, key);
    web_buf_add(&r->body, "</dt><dd>");
    web_buf_esc(&r->body, v);
    web_buf_add(&r->body, "</dd>");
}

// The strings of array 'a' joined with ", " as one <dd> (codes: translated).
static void
s_dd_list(web_req_t *r, const char *key, json_t *a)
{
    if (!json_array_size(a))
        return;
    web_buf_add(&r->body, "<dt>");
    s_t(r, key);
    web_buf_add(&r->body, "</dt><dd>");
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (i)
            web_buf_add(&r->body, ", ");
        if (json_is_string(v))
            s_t(r, json_string_value(v));
    }
    web_buf_add(&r->body, "</dd>");
}

// ---- GET /handovers

void
web_pg_handovers(web_req_t *r)
{
    json_t *res = web_read(r, "handovers", "handovers", json_object(), true);
    if (!res)
        return;
    static const char *const cols[] = {
        "direction", "peer", "status", "arrival", "child", "updated", NULL};
    web_page_begin(r, "handovers");
    web_buf_t *b = &r->body;
    web_table_head(r, "handovers", cols);
    size_t i;
    json_t *h;
    json_array_foreach(res, i, h)
    {
        web_buf_add(b, "<tr><td><a href=\"/handover/");
        web_buf_esc(b, web_s(h, "id"));
        web_buf_add(b, "\">");
        s_t(r, !strcmp(web_s(h, "direction"), "in") ? "ho-in" : "ho-out");
        web_buf_add(b, "</a></td><td>");
        web_buf_esc(b, web_s(h, "peer"));
        web_buf_add(b, "</td><td>");
        web_buf_esc(b, s_st(r, web_s(h, "status")));
        web_buf_add(b, "</td><td>");
        web_buf_esc(b, web_s(h, "arrival"));
        web_buf_add(b, "</td><td>");
        s_t(r, json_is_true(json_object_get(h, "child")) ? "yes" : "no");
        web_buf_addf(b, "</td><td>%.16s</td></tr>", web_s(h, "updated"));
    }
    if (i == 0) {
        web_buf_add(b, "<tr><td colspan=\"6\">");
        s_t(r, "no-handovers");
        web_buf_add(b, "</td></tr>");
    }
    web_table_end(r);
    json_decref(res);
    web_page_end(r);
}

// ---- what waits for this agency (the case manager's landing page)

void
web_ho_waiting(web_req_t *r)
{
    json_t *res = NULL;
    char err[S_ERR], code[32];
    json_t *args = json_pack("{s:s}", "direction", "in");
    int rc = web_call(r, "handovers", args, false, &res, err, sizeof err, code,
                      sizeof code);
    json_decref(args);
    size_t i, n = 0;
    json_t *h;
    json_array_foreach(rc == 0 ? res : NULL, i, h)
    {
        const char *st = web_s(h, "status");
        n += !strcmp(st, "sent") || !strcmp(st, "acknowledged");
    }
    json_decref(res);
    if (!n)
        return; // none, or the list cannot be read: the page goes on
    web_buf_addf(&r->body,
                 "<p class=\"notice\" role=\"status\"><a href=\"/handovers\">"
                 "%zu ",
                 n);
    s_t(r, "ho-waiting");
    web_buf_add(&r->body, "</a></p>");
}

// ---- GET /handover/:id

// What was sent, while the receiving agency has not decided (the package
// leaves the record on acceptance or refusal).
static void
s_package(web_req_t *r, json_t *h)
{
    web_buf_t *b = &r->body;
    json_t *p = json_object_get(h, "person");
    web_buf_add(b, "<section class=\"card\"><h2>");
    s_t(r, "ho-sent");
    web_buf_add(b, "</h2><dl class=\"facts\">");
    static const char *const pk[][2] = {{"given", "given"},
                                        {"family", "family"},
                                        {"birth", "birth"},
                                        {"sex", "sex"},
                                        {"language", "language"}};
    for (size_t i = 0; i < sizeof pk / sizeof *pk; i++)
        s_dd(r, pk[i][0], web_s(p, pk[i][1]));
    s_dd(r, "uasc", web_s(h, "uasc"));
    s_dd_list(r, "needs", json_object_get(h, "needs"));
    s_dd_list(r, "flags", json_object_get(h, "flags"));
    s_dd(r, "sending-country", web_s(h, "sending_country"));
    s_dd(r, "note", web_s(h, "note"));
    web_buf_add(b, "</dl>");
    json_t *pend = json_object_get(h, "pending_referrals"), *e;
    size_t i;
    if (json_array_size(pend)) {
        web_buf_add(b, "<h3>");
        s_t(r, "ho-pending");
        web_buf_add(b, "</h3><ul>");
        json_array_foreach(pend, i, e)
        {
            web_buf_add(b, "<li>");
            web_buf_esc(b, web_s(e, "peer"));
            web_buf_add(b, " (");
            s_t(r, web_s(e, "priority"));
            web_buf_add(b, ")</li>");
        }
        web_buf_add(b, "</ul>");
    }
    // the casework the host sent: assessments and its latest plan
    json_t *cw = json_object_get(h, "casework");
    json_t *as = json_object_get(cw, "assessments");
    if (json_array_size(as)) {
        web_buf_add(b, "<h3>");
        s_t(r, "cw-assessments");
        web_buf_add(b, "</h3><ul>");
        json_array_foreach(as, i, e)
        {
            web_buf_add(b, "<li>");
            web_buf_esc(b, web_t_ns(r->lang, "cw-type", web_s(e, "type")));
            if (*web_s(e, "level")) {
                web_buf_add(b, " &middot; ");
                s_t(r, web_s(e, "level"));
            }
            if (*web_s(e, "outcome")) {
                web_buf_add(b, ": ");
                web_buf_esc(b, web_s(e, "outcome"));
            }
            web_buf_add(b, "</li>");
        }
        web_buf_add(b, "</ul>");
    }
    json_t *goals = json_object_get(json_object_get(cw, "plan"), "goals");
    if (json_object_size(goals)) {
        web_buf_add(b, "<h3>");
        s_t(r, "cw-plan");
        web_buf_add(b, "</h3><dl class=\"facts\">");
        static const char *const dims[] = {"economic", "social",
                                           "psychosocial"};
        for (size_t d = 0; d < 3; d++)
            s_dd(r, dims[d], web_s(goals, dims[d]));
        web_buf_add(b, "</dl>");
    }
    web_buf_add(b, "</section>");
}

static void
s_history(web_req_t *r, json_t *h)
{
    static const char *const cols[] = {"status", "when", "by",
                                       "reason", "note", NULL};
    web_buf_add(&r->body, "<h2>");
    s_t(r, "history");
    web_buf_add(&r->body, "</h2>");
    web_table_head(r, "history", cols);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(h, "history"), i, e)
    {
        web_buf_add(&r->body, "<tr><td>");
        web_buf_esc(&r->body, s_st(r, web_s(e, "status")));
        web_buf_addf(&r->body, "</td><td>%.16s</td><td>", web_s(e, "at"));
        web_buf_esc(&r->body, web_s(e, "by"));
        web_buf_add(&r->body, "</td><td>");
        web_buf_esc(&r->body, web_s(e, "reason"));
        web_buf_add(&r->body, "</td><td>");
        web_buf_esc(&r->body, web_s(e, "note"));
        web_buf_add(&r->body, "</td></tr>");
    }
    web_table_end(r);
}

// One step's form: POST /handover/ID with "event" (and a reason and a
// note when 'reasoned').
static void
s_step(web_req_t *r, const char *id, const char *event, bool reasoned,
       const char *cls)
{
    web_buf_t *b = &r->body;
    char action[96], key[48];
    snprintf(action, sizeof action, "/handover/%s", id);
    snprintf(key, sizeof key, "ho-ev-%s", event);
    if (reasoned) { // folded: its fields are not mistaken for another's
        web_buf_add(b, "<details><summary>");
        s_t(r, key);
        web_buf_add(b, "</summary>");
    }
    web_form_begin(r, action);
    web_buf_addf(b, "<input type=\"hidden\" name=\"event\" value=\"%s\">",
                 event);
    if (reasoned) {
        web_buf_add(b, "<label>");
        s_t(r, "reason-code");
        web_buf_add(b, " <input name=\"reason\" required "
                       "pattern=\"[a-z0-9][a-z0-9-]{0,63}\"></label><label>");
        s_t(r, "note");
        web_buf_add(b, " <textarea name=\"note\" rows=\"2\" maxlength=\"2000\">"
                       "</textarea></label>");
    }
    web_buf_addf(b, "<button type=\"submit\"%s%s%s>", cls ? " class=\"" : "",
                 cls ? cls : "", cls ? "\"" : "");
    s_t(r, key);
    web_buf_add(b, "</button></form>");
    if (reasoned)
        web_buf_add(b, "</details>");
}

// The steps this side may take in this state (the daemon checks again).
static void
s_steps(web_req_t *r, const char *id, json_t *h)
{
    const char *st = web_s(h, "status");
    bool in = !strcmp(web_s(h, "direction"), "in");
    bool sent = !strcmp(st, "sent"), ackd = !strcmp(st, "acknowledged"),
         acc = !strcmp(st, "accepted");
    if (!(sent || ackd || acc))
        return; // final: rejected, arrived, no-show, withdrawn
    web_buf_add(&r->body, "<section class=\"card\"><h2>");
    s_t(r, "ho-steps");
    web_buf_add(&r->body, "</h2>");
    if (in && sent)
        s_step(r, id, "ack", false, NULL);
    if (in && ackd) {
        if (json_is_true(json_object_get(h, "child")) && !*web_s(h, "cp_ack")) {
            web_buf_add(&r->body, "<p>");
            s_t(r, "ho-wait-cp");
            web_buf_add(&r->body, "</p>");
        }
        s_step(r, id, "accept", false, NULL);
    }
    if (in && (sent || ackd))
        s_step(r, id, "reject", true, "danger");
    if (in && acc) {
        s_step(r, id, "arrived", false, NULL);
        s_step(r, id, "no-show", false, "secondary");
    }
    if (!in)
        s_step(r, id, "withdraw", true, "danger");
    web_buf_add(&r->body, "</section>");
}

// The page of handover r->arg, with 'error' (text) above when a step was
// refused.
static void
s_page(web_req_t *r, const char *error, int status)
{
    json_t *res = NULL;
    char err[S_ERR], code[32];
    json_t *args = json_pack("{s:s}", "id", r->arg);
    int rc = web_call(r, "handover.show", args, false, &res, err, sizeof err,
                      code, sizeof code);
    json_decref(args);
    web_buf_free(&r->body);
    web_page_begin(r, "handover");
    if (error)
        web_error(r, status, error);
    if (rc != 0) {
        web_fail(r, err, code);
        web_page_end(r);
        return;
    }
    web_buf_t *b = &r->body;
    bool in = !strcmp(web_s(res, "direction"), "in");
    web_buf_add(b, "<dl class=\"facts\">");
    s_dd(r, "direction", web_t(r->lang, in ? "ho-in" : "ho-out"));
    s_dd(r, "peer", web_s(res, "peer"));
    s_dd(r, "status", s_st(r, web_s(res, "status")));
    s_dd(r, "arrival", web_s(res, "arrival"));
    s_dd(r, "escort", web_s(res, "escort"));
    if (json_is_true(json_object_get(res, "child")))
        s_dd(r, "child", web_t(r->lang, "yes"));
    json_t *bid = json_object_get(res, "bid");
    s_dd(r, "ho-bid-ref", web_s(bid, "ref"));
    s_dd(r, "bid-outcome",
         *web_s(bid, "outcome") ? web_t(r->lang, web_s(bid, "outcome")) : NULL);
    s_dd(r, "purge-after", web_s(res, "purge_after"));
    web_buf_add(b, "</dl>");
    const char *c = web_s(res, "case");
    if (*c) { // the case: the host's own, or the new case on acceptance
        web_buf_add(b, "<p><a href=\"/case/");
        web_buf_esc(b, c);
        web_buf_add(b, "\">");
        s_t(r, "open-case");
        web_buf_add(b, "</a></p>");
    }
    if (json_object_get(res, "person"))
        s_package(r, res);
    s_steps(r, r->arg, res);
    s_history(r, res);
    json_decref(res);
    web_page_end(r);
}

void
web_pg_handover(web_req_t *r)
{
    s_page(r, NULL, 200);
}

// ---- POST /handover/:id: one step

void
web_pg_handover_act(web_req_t *r)
{
    static const char *const events[] = {"ack",     "accept",  "reject",
                                         "arrived", "no-show", "withdraw",
                                         "cp-ack",  NULL};
    const char *ev = web_form_get(&r->form, "event");
    bool known = false;
    for (size_t i = 0; ev && events[i]; i++)
        known = known || !strcmp(ev, events[i]);
    if (!known) {
        s_page(r, web_t(r->lang, "bad-form"), 400);
        return;
    }
    if (!strcmp(ev, "cp-ack")) { // a child-protection node: no record here
        json_t *res = NULL;
        char err[S_ERR], code[32];
        json_t *a = json_pack("{s:s}", "id", r->arg);
        int rc = web_call(r, "handover.cp-ack", a, true, &res, err, sizeof err,
                          code, sizeof code);
        json_decref(a);
        json_decref(res);
        if (rc != 0) {
            web_page_begin(r, "notifications");
            web_error(r, web_status_of(code), err);
            web_page_end(r);
            return;
        }
        web_redirect(r, "/notifications");
        return;
    }
    json_t *args = json_pack("{s:s, s:s}", "id", r->arg, "event", ev);
    static const char *const keys[] = {"reason", "note"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = web_form_get(&r->form, keys[i]);
        if (v && *v)
            json_object_set_new(args, keys[i], json_string(v));
    }
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc = web_call(r, "handover.act", args, true, &res, err, sizeof err,
                      code, sizeof code);
    json_decref(args);
    json_decref(res);
    if (rc != 0) {
        s_page(r, err, web_status_of(code));
        return;
    }
    char to[96];
    snprintf(to, sizeof to, "/handover/%s", r->arg);
    web_redirect(r, to);
}
