// web_pages - the screens of passerelle-web: login, the provider's
// incoming referrals and a referral's page with its actions, the case
// manager's cases, consent, referring and outgoing referrals. Every value
// goes out through web_buf_esc; no personal data goes into a URL (search
// is a POST). Layer: adapters.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/web/web.h"

#define S_ERR 512

const char *
web_s(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

// Escaped message text.
static void
s_t(web_req_t *r, const char *key)
{
    web_buf_esc(&r->body, web_t(r->lang, key));
}

// A failed daemon call as a whole page.
static void
s_fail_page(web_req_t *r, const char *title, const char *err, const char *code)
{
    web_buf_free(&r->body);
    web_page_begin(r, title);
    web_fail(r, err, code);
    web_page_end(r);
}

// <label>TEXT <input name=NAME type=TYPE></label>
static void
s_input(web_req_t *r, const char *key, const char *name, const char *type,
        bool required)
{
    web_buf_add(&r->body, "<label>");
    s_t(r, key);
    web_buf_addf(&r->body, " <input name=\"%s\" type=\"%s\"%s></label>", name,
                 type, required ? " required" : "");
}

// <label>TEXT <select name=NAME> with 'opts' (codes, shown translated).
static void
s_select(web_req_t *r, const char *key, const char *name,
         const char *const *opts)
{
    web_buf_add(&r->body, "<label>");
    s_t(r, key);
    web_buf_addf(&r->body, " <select name=\"%s\">", name);
    for (size_t i = 0; opts[i]; i++) {
        web_buf_add(&r->body, "<option value=\"");
        web_buf_esc(&r->body, opts[i]);
        web_buf_add(&r->body, "\">");
        web_buf_esc(&r->body, opts[i][0] ? web_t(r->lang, opts[i]) : "-");
        web_buf_add(&r->body, "</option>");
    }
    web_buf_add(&r->body, "</select></label>");
}

static void
s_textarea(web_req_t *r, const char *key, const char *name)
{
    web_buf_add(&r->body, "<label>");
    s_t(r, key);
    web_buf_addf(&r->body,
                 " <textarea name=\"%s\" rows=\"2\" maxlength=\"2000\">"
                 "</textarea></label>",
                 name);
}

static void
s_button(web_req_t *r, const char *key, const char *cls)
{
    web_buf_addf(&r->body, "<button type=\"submit\"%s%s%s>",
                 cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
    s_t(r, key);
    web_buf_add(&r->body, "</button>");
}

// Sets args[key] from the form field 'field' when not empty.
static void
s_arg(json_t *args, web_req_t *r, const char *key, const char *field)
{
    const char *v = web_form_get(&r->form, field);
    if (v && *v)
        json_object_set_new(args, key, json_string(v));
}

void
web_status_badge(web_req_t *r, json_t *ref)
{
    const char *st = web_s(ref, "status");
    web_buf_add(&r->body, "<span class=\"st st-");
    web_buf_esc(&r->body, st);
    web_buf_add(&r->body, "\">");
    s_t(r, st);
    web_buf_add(&r->body, "</span>");
    if (json_is_true(json_object_get(ref, "overdue"))) {
        web_buf_add(&r->body, " <strong class=\"overdue\">");
        s_t(r, "overdue");
        web_buf_add(&r->body, "</strong>");
    }
    // its envelope will never arrive (refused for good, expired): the
    // case manager refers again or calls the provider
    if (json_object_get(ref, "delivery")) {
        web_buf_add(&r->body, " <strong class=\"overdue\">");
        s_t(r, "undelivered");
        web_buf_add(&r->body, " (");
        s_t(r, web_s(ref, "delivery"));
        web_buf_add(&r->body, ": ");
        web_buf_esc(&r->body, web_s(ref, "delivery_reason"));
        web_buf_add(&r->body, ")</strong>");
    }
}

// For a page that needs nothing else from the daemon: whether the session
// is still alive there (disabled account, expiry); a failure page if not.
static bool
s_session_alive(web_req_t *r, const char *title)
{
    json_t *res = NULL;
    char err[S_ERR], code[32];
    if (web_call(r, "session.check", NULL, false, &res, err, sizeof err, code,
                 sizeof code)
        != 0) {
        s_fail_page(r, title, err, code);
        return false;
    }
    json_decref(res);
    return true;
}

// ---- login, logout, home

static void
s_cookie_attrs(web_req_t *r, char *out, size_t size, const char *name,
               const char *value, bool clear)
{
    snprintf(out, size, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", name,
             value, r->w->tls ? "; Secure" : "", clear ? "; Max-Age=0" : "");
}

static void
s_login_form(web_req_t *r, const char *error, int status)
{
    char pre[WEB_TOKEN_HEX + 1], name[80];
    web_random_hex(pre, WEB_TOKEN_HEX / 2);
    snprintf(name, sizeof name, "%s_login", r->w->cookie);
    s_cookie_attrs(r, r->set_cookie, sizeof r->set_cookie, name, pre, false);
    web_buf_free(&r->body);
    r->has_session = false;
    web_page_begin(r, "login");
    if (error)
        web_error(r, status, error);
    web_buf_add(&r->body, "<form method=\"post\" action=\"/login\" "
                          "class=\"card narrow\">");
    web_buf_addf(&r->body, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
                 pre);
    web_buf_add(&r->body, "<label>");
    s_t(r, "account");
    web_buf_add(&r->body, " <input name=\"name\" autocomplete=\"username\" "
                          "required></label><label>");
    s_t(r, "password");
    web_buf_add(&r->body,
                " <input name=\"password\" type=\"password\" "
                "autocomplete=\"current-password\" required></label>");
    s_button(r, "login", NULL);
    web_buf_add(&r->body,
                "</form><p class=\"langs\"><a href=\"/login?lang=en\" "
                "lang=\"en\">English</a> · <a href=\"/login?lang=fr\" "
                "lang=\"fr\">Français</a></p>");
    web_page_end(r);
}

void
web_pg_login(web_req_t *r)
{
    if (r->q_lang && !strcmp(r->q_lang, "fr"))
        r->lang = "fr";
    s_login_form(r, NULL, 200);
}

void
web_pg_login_post(web_req_t *r)
{
    if (!web_rate_ok(r->w, r->ip)) {
        s_login_form(r, web_t(r->lang, "rate-limited"), 429);
        return;
    }
    const char *name = web_form_get(&r->form, "name");
    const char *pw = web_form_get(&r->form, "password");
    if (!name || !*name || !pw || !*pw) {
        s_login_form(r, web_t(r->lang, "bad-login"), 400);
        return;
    }
    json_t *args = json_pack("{s:s, s:s}", "name", name, "password", pw);
    json_t *res = NULL;
    char err[S_ERR], code[32];
    r->has_session = false;
    int rc = web_call(r, "session.login", args, true, &res, err, sizeof err,
                      code, sizeof code);
    web_json_wipe(args, "password"); // jansson's copy of the password
    json_decref(args);
    if (rc != 0) {
        web_rate_fail(r->w, r->ip);
        bool locked = strstr(err, "lock") != NULL;
        s_login_form(r,
                     !strcmp(code, "PL_EAUTH") || !strcmp(code, "PL_EPERM")
                         ? web_t(r->lang, locked ? "locked" : "bad-login")
                         : err,
                     strcmp(code, "PL_EAUTH") && strcmp(code, "PL_EPERM")
                         ? web_status_of(code)
                         : 401);
        return;
    }
    web_session_t s;
    if (web_sess_new(r->w, web_s(res, "token"), web_s(res, "name"),
                     web_s(res, "role"), web_s(res, "lang"), &s)
        != 0) {
        json_decref(res);
        s_login_form(r, web_t(r->lang, "busy"), 503);
        return;
    }
    json_decref(res);
    s_cookie_attrs(r, r->set_cookie, sizeof r->set_cookie, r->w->cookie, s.id,
                   false);
    web_redirect(r, "/");
}

void
web_pg_logout(web_req_t *r)
{
    json_t *res = NULL;
    char err[S_ERR], code[32];
    if (web_call(r, "session.logout", NULL, true, &res, err, sizeof err, code,
                 sizeof code)
        == 0)
        json_decref(res);
    web_sess_drop(r->w, r->s.id);
    r->has_session = false;
    s_cookie_attrs(r, r->set_cookie, sizeof r->set_cookie, r->w->cookie, "",
                   true);
    web_redirect(r, "/login");
}

void
web_pg_home(web_req_t *r)
{
    const char *role = r->s.role;
    if (!s_session_alive(r, "home"))
        return;
    if (!strcmp(role, "provider"))
        web_redirect(r, "/in");
    else if (!strcmp(role, "case-manager"))
        web_redirect(r, "/cases");
    else if (!strcmp(role, "supervisor"))
        web_redirect(r, "/overrides");
    else if (!strcmp(role, "admin"))
        web_redirect(r, "/staff");
    else if (!strcmp(role, "coordinator"))
        web_redirect(r, "/coordination");
    else {
        web_page_begin(r, "home");
        web_buf_add(&r->body, "<p>");
        s_t(r, "no-screen");
        web_buf_add(&r->body, "</p>");
        web_page_end(r);
    }
}

// ---- referral lists

// Order of a referral in the incoming list: new (received, requested)
// first, then open ones, then closed; newest first inside each group.
static int
s_rank(json_t *e)
{
    const char *st = web_s(e, "status");
    if (!strcmp(st, "received") || !strcmp(st, "requested"))
        return 0;
    if (!strcmp(st, "completed") || !strcmp(st, "rejected")
        || !strcmp(st, "cancelled"))
        return 2;
    return 1;
}

static int
s_cmp_ref(const void *a, const void *b)
{
    json_t *x = *(json_t *const *) a, *y = *(json_t *const *) b;
    int d = s_rank(x) - s_rank(y);
    if (d)
        return d;
    if (json_is_true(json_object_get(x, "overdue"))
        != json_is_true(json_object_get(y, "overdue")))
        return json_is_true(json_object_get(x, "overdue")) ? -1 : 1;
    return strcmp(web_s(y, "created"), web_s(x, "created"));
}

static void
s_ref_table(web_req_t *r, json_t *list)
{
    size_t n = json_array_size(list);
    if (!n) {
        web_buf_add(&r->body, "<p>");
        s_t(r, "none");
        web_buf_add(&r->body, "</p>");
        return;
    }
    json_t **v = calloc(n, sizeof *v);
    if (!v) {
        r->body.oom = true;
        return;
    }
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(list, i);
    qsort(v, n, sizeof *v, s_cmp_ref);
    web_buf_add(&r->body, "<table class=\"list\"><thead><tr><th>");
    s_t(r, "status");
    web_buf_add(&r->body, "</th><th>");
    s_t(r, "priority");
    web_buf_add(&r->body, "</th><th>");
    s_t(r, "service");
    web_buf_add(&r->body, "</th><th>");
    s_t(r, "peer");
    web_buf_add(&r->body, "</th><th>");
    s_t(r, "updated");
    web_buf_add(&r->body, "</th></tr></thead><tbody>");
    for (size_t i = 0; i < n; i++) {
        json_t *e = v[i];
        web_buf_add(&r->body, "<tr><td><a href=\"/referral/");
        web_buf_esc(&r->body, web_s(e, "id"));
        web_buf_add(&r->body, "\">");
        web_status_badge(r, e);
        web_buf_add(&r->body, "</a></td><td>");
        s_t(r, web_s(e, "priority"));
        web_buf_add(&r->body, "</td><td>");
        web_buf_esc(&r->body, web_s(e, "service"));
        web_buf_add(&r->body, "</td><td>");
        web_buf_esc(&r->body, web_s(e, "peer"));
        web_buf_add(&r->body, "</td><td>");
        web_buf_esc(&r->body, web_s(e, "updated"));
        web_buf_add(&r->body, "</td></tr>");
    }
    web_buf_add(&r->body, "</tbody></table>");
    free(v);
}

static void
s_list_page(web_req_t *r, const char *dir, const char *title)
{
    json_t *args = json_pack("{s:s}", "direction", dir);
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc = web_call(r, "referrals", args, false, &res, err, sizeof err, code,
                      sizeof code);
    json_decref(args);
    if (rc != 0) {
        s_fail_page(r, title, err, code);
        return;
    }
    web_page_begin(r, title);
    s_ref_table(r, res);
    web_page_end(r);
    json_decref(res);
}

void
web_pg_incoming(web_req_t *r)
{
    s_list_page(r, "in", "incoming");
}

void
web_pg_outgoing(web_req_t *r)
{
    s_list_page(r, "out", "outgoing");
}

// ---- a referral's page and its actions

static const char *const s_reject_reasons[] = {
    "not-eligible", "no-capacity", "out-of-area", "service-unavailable",
    "duplicate",    "other",       NULL};
static const char *const s_hold_reasons[] = {"waiting-for-client",
                                             "waiting-for-documents",
                                             "no-capacity", "other", NULL};
static const char *const s_fail_reasons[] = {"",
                                             "unable-to-contact-client",
                                             "client-refused-services",
                                             "services-no-longer-needed",
                                             "lack-of-capacity",
                                             "other",
                                             NULL};
static const char *const s_cancel_reasons[] = {
    "no-longer-needed", "client-withdrew", "duplicate",
    "wrong-recipient",  "other",           NULL};
static const char *const s_outcomes[] = {"successful", "not-successful", NULL};

// One action form on a referral's page.
static void
s_act_form(web_req_t *r, const char *id, const char *event,
           const char *const *reasons, bool outcome)
{
    char action[128];
    snprintf(action, sizeof action, "/referral/%s", id);
    web_buf_add(&r->body, "<div class=\"card act\">");
    web_form_begin(r, action);
    web_buf_addf(&r->body,
                 "<input type=\"hidden\" name=\"event\" value=\"%s\">", event);
    web_buf_add(&r->body, "<h3>");
    s_t(r, event);
    web_buf_add(&r->body, "</h3>");
    if (outcome)
        s_select(r, "outcome", "outcome", s_outcomes);
    if (reasons)
        s_select(r, "reason", "reason", reasons);
    s_textarea(r, "note", "note");
    s_button(r, event, NULL);
    web_buf_add(&r->body, "</form></div>");
}

static bool
s_is(const char *st, const char *a)
{
    return !strcmp(st, a);
}

void
web_pg_referral(web_req_t *r)
{
    json_t *args = json_pack("{s:s}", "id", r->arg);
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc = web_call(r, "referral.show", args, false, &res, err, sizeof err,
                      code, sizeof code);
    json_decref(args);
    if (rc != 0) {
        s_fail_page(r, "referral", err, code);
        return;
    }
    web_buf_t *b = &r->body;
    web_page_begin(r, "referral");
    bool in = !strcmp(web_s(res, "direction"), "in");
    web_buf_add(b, "<p class=\"big\">");
    web_status_badge(r, res);
    web_buf_add(b, "</p><dl class=\"facts\">");
    json_t *p = json_object_get(res, "person");
    static const char *const person[] = {"given",    "family", "birth", "sex",
                                         "language", "phone",  NULL};
    for (size_t i = 0; person[i]; i++) {
        const char *v = web_s(p, person[i]);
        if (!*v)
            continue;
        web_buf_add(b, "<dt>");
        s_t(r, person[i]);
        web_buf_add(b, "</dt><dd>");
        web_buf_esc(b, v);
        web_buf_add(b, "</dd>");
    }
    static const char *const facts[] = {"service", "sector", "priority", "due",
                                        "peer",    "note",   NULL};
    for (size_t i = 0; facts[i]; i++) {
        const char *v = web_s(res, facts[i]);
        if (!*v)
            continue;
        web_buf_add(b, "<dt>");
        s_t(r, !strcmp(facts[i], "peer") ? (in ? "from" : "to") : facts[i]);
        web_buf_add(b, "</dt><dd>");
        web_buf_esc(b, !strcmp(facts[i], "priority") ? web_t(r->lang, v) : v);
        web_buf_add(b, "</dd>");
    }
    web_buf_add(b, "</dl><h2>");
    s_t(r, "history");
    web_buf_add(b, "</h2><ol class=\"history\">");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(res, "history"), i, e)
    {
        web_buf_add(b, "<li><time>");
        web_buf_esc(b, web_s(e, "at"));
        web_buf_add(b, "</time> ");
        s_t(r, web_s(e, "status"));
        if (*web_s(e, "by")) {
            web_buf_add(b, " · ");
            web_buf_esc(b, web_s(e, "by"));
        }
        static const char *const extra[] = {"outcome", "reason", "note", NULL};
        for (size_t k = 0; extra[k]; k++) {
            if (!*web_s(e, extra[k]))
                continue;
            web_buf_add(b, " · ");
            web_buf_esc(b, web_s(e, extra[k]));
        }
        web_buf_add(b, "</li>");
    }
    web_buf_add(b, "</ol>");

    const char *st = web_s(res, "status");
    const char *id = web_s(res, "id");
    bool prov = !strcmp(r->s.role, "provider");
    bool cm = !strcmp(r->s.role, "case-manager");
    web_buf_add(b, "<div class=\"actions\">");
    if (!in && cm && !s_is(st, "cancelled") && !s_is(st, "completed")
        && !s_is(st, "rejected")) { // issue 18: the returnee's slip
        web_buf_add(b, "<a class=\"button\" href=\"/slip/");
        web_buf_esc(b, id);
        web_buf_add(b, "\">");
        s_t(r, "print-slip");
        web_buf_add(b, "</a>");
    }
    if (in && prov) {
        if (s_is(st, "received") || s_is(st, "requested")) {
            s_act_form(r, id, "accept", NULL, false);
            s_act_form(r, id, "reject", s_reject_reasons, false);
        }
        if (s_is(st, "accepted"))
            s_act_form(r, id, "start", NULL, false);
        if (s_is(st, "in-progress"))
            s_act_form(r, id, "hold", s_hold_reasons, false);
        if (s_is(st, "on-hold"))
            s_act_form(r, id, "resume", NULL, false);
        if (s_is(st, "accepted") || s_is(st, "in-progress"))
            s_act_form(r, id, "complete", s_fail_reasons, true);
    }
    if (!in && cm
        && (s_is(st, "requested") || s_is(st, "received")
            || s_is(st, "accepted") || s_is(st, "in-progress")
            || s_is(st, "on-hold")))
        s_act_form(r, id, "cancel", s_cancel_reasons, false);
    web_buf_add(b, "</div>");
    web_page_end(r);
    json_decref(res);
}

void
web_pg_referral_act(web_req_t *r)
{
    static const char *const events[] = {"accept", "reject",   "start",  "hold",
                                         "resume", "complete", "cancel", NULL};
    const char *ev = web_form_get(&r->form, "event");
    bool known = false;
    for (size_t i = 0; ev && events[i]; i++)
        known = known || !strcmp(ev, events[i]);
    if (!known) {
        web_page_begin(r, "referral");
        web_error(r, 400, web_t(r->lang, "bad-form"));
        web_page_end(r);
        return;
    }
    json_t *args = json_pack("{s:s, s:s}", "id", r->arg, "event", ev);
    s_arg(args, r, "reason", "reason");
    s_arg(args, r, "note", "note");
    if (!strcmp(ev, "complete"))
        s_arg(args, r, "outcome", "outcome");
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc = web_call(r, "referral.act", args, true, &res, err, sizeof err,
                      code, sizeof code);
    json_decref(args);
    if (rc != 0) {
        s_fail_page(r, "referral", err, code);
        return;
    }
    json_decref(res);
    char to[128];
    snprintf(to, sizeof to, "/referral/%s", r->arg);
    web_redirect(r, to);
}

// ---- cases (case manager)

static const char *const s_sexes[] = {"", "female", "male", "other", NULL};
static const char *const s_uasc[] = {"", "unaccompanied", "separated", NULL};

static void
s_cases_forms(web_req_t *r)
{
    web_buf_t *b = &r->body;
    web_buf_add(b, "<section class=\"card\"><h2>");
    s_t(r, "find-case");
    web_buf_add(b, "</h2>");
    web_form_begin(r, "/cases/search");
    s_input(r, "search-text", "q", "search", false);
    s_button(r, "search", NULL);
    web_buf_add(b, "</form></section><section class=\"card\"><h2>");
    s_t(r, "new-case");
    web_buf_add(b, "</h2>");
    web_form_begin(r, "/cases/new");
    s_input(r, "given", "given", "text", true);
    s_input(r, "family", "family", "text", true);
    s_input(r, "birth", "birth", "date", true);
    s_select(r, "sex", "sex", s_sexes);
    s_input(r, "phone", "phone", "tel", false);
    s_input(r, "language", "language", "text", false);
    s_select(r, "uasc", "uasc", s_uasc);
    web_buf_add(b, "<fieldset><legend>");
    s_t(r, "needs");
    web_buf_add(b, "</legend>");
    static const char *const dims[] = {"economic", "social", "psychosocial",
                                       NULL};
    for (size_t i = 0; dims[i]; i++) {
        web_buf_addf(b,
                     "<label class=\"check\"><input type=\"checkbox\" "
                     "name=\"needs\" value=\"%s\"> ",
                     dims[i]);
        s_t(r, dims[i]);
        web_buf_add(b, "</label>");
    }
    web_buf_add(b, "</fieldset>");
    s_button(r, "register", NULL);
    web_buf_add(b, "</form></section>");
}

void
web_pg_cases(web_req_t *r)
{
    if (!s_session_alive(r, "cases"))
        return;
    web_page_begin(r, "cases");
    web_ho_waiting(r); // a case coming from abroad (DESIGN.md §7.2)
    s_cases_forms(r);
    web_page_end(r);
}

void
web_pg_cases_search(web_req_t *r)
{
    const char *q = web_form_get(&r->form, "q");
    json_t *args = json_object();
    if (q && *q)
        json_object_set_new(args, "search", json_string(q));
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc = web_call(r, "case.list", args, false, &res, err, sizeof err, code,
                      sizeof code);
    json_decref(args);
    if (rc != 0) {
        s_fail_page(r, "cases", err, code);
        return;
    }
    web_buf_t *b = &r->body;
    web_page_begin(r, "cases");
    web_buf_add(b, "<h2>");
    s_t(r, "results");
    web_buf_addf(b, " (%zu)</h2>", json_array_size(res));
    if (json_array_size(res)) {
        web_buf_add(b, "<table class=\"list\"><thead><tr><th>");
        s_t(r, "name");
        web_buf_add(b, "</th><th>");
        s_t(r, "birth");
        web_buf_add(b, "</th><th>");
        s_t(r, "status");
        web_buf_add(b, "</th></tr></thead><tbody>");
        size_t i;
        json_t *e;
        json_array_foreach(res, i, e)
        {
            web_buf_add(b, "<tr><td><a href=\"/case/");
            web_buf_esc(b, web_s(e, "id"));
            web_buf_add(b, "\">");
            web_buf_esc(b, web_s(e, "given"));
            web_buf_add(b, " ");
            web_buf_esc(b, web_s(e, "family"));
            web_buf_add(b, "</a></td><td>");
            web_buf_esc(b, web_s(e, "birth"));
            web_buf_add(b, "</td><td>");
            s_t(r, web_s(e, "status"));
            web_buf_add(b, "</td></tr>");
        }
        web_buf_add(b, "</tbody></table>");
    }
    s_cases_forms(r);
    web_page_end(r);
    json_decref(res);
}

void
web_pg_case_new(web_req_t *r)
{
    json_t *args = json_object();
    static const char *const keys[] = {"given",    "family", "birth", "sex",
                                       "language", "phone",  "uasc",  NULL};
    for (size_t i = 0; keys[i]; i++)
        s_arg(args, r, keys[i], keys[i]);
    char needs[128];
    web_form_join(&r->form, "needs", needs, sizeof needs);
    if (*needs)
        json_object_set_new(args, "needs", json_string(needs));
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc = web_call(r, "case.add", args, true, &res, err, sizeof err, code,
                      sizeof code);
    json_decref(args);
    if (rc != 0) {
        s_fail_page(r, "new-case", err, code);
        return;
    }
    char to[128];
    snprintf(to, sizeof to, "/case/%s", web_s(res, "id"));
    json_decref(res);
    web_redirect(r, to);
}
