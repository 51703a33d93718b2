// web_admin - the screens of the supervisor (overrides waiting for
// approval, the audit chain's status), of child protection (its
// notifications) and of the admin (staff accounts). Layer: adapters.
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

// A failed call inside a page.
static void
s_fail(web_req_t *r, const char *err, const char *code)
{
    web_fail(r, err, code);
}

// The scalar fields of 'o' as <dt>/<dd> pairs (keys translated when the
// table knows them), escaped.
static void
s_fields(web_req_t *r, json_t *o)
{
    const char *k;
    json_t *v;
    web_buf_add(&r->body, "<dl class=\"facts\">");
    json_object_foreach(o, k, v)
    {
        char num[32];
        const char *txt = NULL;
        if (json_is_string(v))
            txt = json_string_value(v);
        else if (json_is_integer(v)) {
            snprintf(num, sizeof num, "%lld",
                     (long long) json_integer_value(v));
            txt = num;
        } else if (json_is_boolean(v))
            txt = web_t(r->lang, json_is_true(v) ? "yes" : "no");
        if (!txt)
            continue;
        web_buf_add(&r->body, "<dt>");
        s_t(r, k);
        web_buf_add(&r->body, "</dt><dd>");
        web_buf_esc(&r->body, txt);
        web_buf_add(&r->body, "</dd>");
    }
    web_buf_add(&r->body, "</dl>");
}

// Calls 'cmd' (read-only) and renders its answer with 'fn'.
static void
s_read_page(web_req_t *r, const char *title, const char *cmd, json_t *args,
            void (*fn)(web_req_t *, json_t *), const char *notice)
{
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc =
        web_call(r, cmd, args, false, &res, err, sizeof err, code, sizeof code);
    web_buf_free(&r->body);
    web_page_begin(r, title);
    if (notice) {
        web_buf_add(&r->body, "<p class=\"notice\" role=\"status\">");
        web_buf_esc(&r->body, notice);
        web_buf_add(&r->body, "</p>");
    }
    if (rc != 0)
        s_fail(r, err, code);
    else
        fn(r, res);
    web_page_end(r);
    json_decref(res);
}

// ---- overrides (four eyes: the daemon refuses an approval by the account
// that asked)

static void
s_overrides(web_req_t *r, json_t *list)
{
    bool sup = !strcmp(r->s.role, "supervisor");
    if (!json_array_size(list)) {
        web_buf_add(&r->body, "<p>");
        s_t(r, "none");
        web_buf_add(&r->body, "</p>");
    }
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        web_buf_add(&r->body, "<section class=\"card\">");
        s_fields(r, e);
        s_fields(r, json_object_get(e, "args")); // what would be sent
        const char *st = web_s(e, "status");
        if (sup && (!*st || !strcmp(st, "pending"))) {
            for (int k = 0; k < 2; k++) {
                web_form_begin(r, "/overrides");
                web_buf_add(&r->body,
                            "<input type=\"hidden\" name=\"id\" value=\"");
                web_buf_esc(&r->body, web_s(e, "id"));
                web_buf_addf(&r->body,
                             "\"><input type=\"hidden\" name=\"do\" "
                             "value=\"%s\"><button type=\"submit\"%s>",
                             k ? "reject" : "approve",
                             k ? " class=\"danger\"" : "");
                s_t(r, k ? "reject-override" : "approve");
                web_buf_add(&r->body, "</button></form>");
            }
        }
        web_buf_add(&r->body, "</section>");
    }
}

void
web_pg_overrides(web_req_t *r)
{
    s_read_page(r, "overrides", "override.list", NULL, s_overrides, NULL);
}

void
web_pg_override_post(web_req_t *r)
{
    const char *id = web_form_get(&r->form, "id");
    const char *what = web_form_get(&r->form, "do");
    const char *cmd = !what                      ? NULL
                      : !strcmp(what, "approve") ? "override.approve"
                      : !strcmp(what, "reject")  ? "override.reject"
                                                 : NULL;
    if (!id || !*id || !cmd) {
        web_page_begin(r, "overrides");
        web_error(r, 400, web_t(r->lang, "bad-form"));
        web_page_end(r);
        return;
    }
    json_t *args = json_pack("{s:s}", "id", id);
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc =
        web_call(r, cmd, args, true, &res, err, sizeof err, code, sizeof code);
    json_decref(args);
    if (rc != 0) {
        web_page_begin(r, "overrides");
        s_fail(r, err, code);
        web_page_end(r);
        return;
    }
    json_decref(res);
    web_redirect(r, "/overrides");
}

// ---- audit chain status

static void
s_audit(web_req_t *r, json_t *res)
{
    s_fields(r, res);
}

void
web_pg_audit(web_req_t *r)
{
    s_read_page(r, "audit", "audit.verify", NULL, s_audit, NULL);
}

// ---- child-protection notifications (no name: DESIGN.md §6)

static void
s_notifications(web_req_t *r, json_t *list)
{
    if (!json_array_size(list)) {
        web_buf_add(&r->body, "<p>");
        s_t(r, "none");
        web_buf_add(&r->body, "</p>");
        return;
    }
    web_buf_add(&r->body, "<table class=\"list\"><thead><tr>");
    static const char *const cols[] = {"at",     "kind",     "from",
                                       "region", "referral", NULL};
    for (size_t i = 0; cols[i]; i++) {
        web_buf_add(&r->body, "<th>");
        s_t(r, cols[i]);
        web_buf_add(&r->body, "</th>");
    }
    web_buf_add(&r->body, "<th></th></tr></thead><tbody>");
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        web_buf_add(&r->body, "<tr>");
        for (size_t k = 0; cols[k]; k++) {
            web_buf_add(&r->body, "<td>");
            const char *v = web_s(e, cols[k]);
            web_buf_esc(&r->body,
                        !strcmp(cols[k], "kind") ? web_t(r->lang, v) : v);
            web_buf_add(&r->body, "</td>");
        }
        // a child's handover, at a child-protection node: its cp-ack
        // (DESIGN.md §7.2; the daemon refuses it anywhere else, and twice)
        web_buf_add(&r->body, "<td>");
        if (!strcmp(web_s(e, "kind"), "handover") && *web_s(e, "referral")
            && !strcmp(r->s.role, "case-manager")) {
            char action[96];
            snprintf(action, sizeof action, "/handover/%s",
                     web_s(e, "referral"));
            web_form_begin(r, action);
            web_buf_add(&r->body, "<input type=\"hidden\" name=\"event\" "
                                  "value=\"cp-ack\"><button type=\"submit\">");
            s_t(r, "ho-ev-cp-ack");
            web_buf_add(&r->body, "</button></form>");
        }
        web_buf_add(&r->body, "</td></tr>");
    }
    web_buf_add(&r->body, "</tbody></table>");
}

void
web_pg_notifications(web_req_t *r)
{
    s_read_page(r, "notifications", "notifications", NULL, s_notifications,
                NULL);
}

// ---- staff accounts

static const char *const s_roles[] = {"case-manager", "provider", "supervisor",
                                      "coordinator",  "admin",    NULL};

static void
s_staff(web_req_t *r, json_t *list)
{
    web_buf_t *b = &r->body;
    json_t *arr = json_is_array(list) ? list : json_object_get(list, "staff");
    web_buf_add(b, "<table class=\"list\"><thead><tr><th>");
    s_t(r, "account");
    web_buf_add(b, "</th><th>");
    s_t(r, "role");
    web_buf_add(b, "</th><th>");
    s_t(r, "state");
    web_buf_add(b, "</th><th>");
    s_t(r, "action");
    web_buf_add(b, "</th></tr></thead><tbody>");
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e)
    {
        bool off = json_is_true(json_object_get(e, "disabled"))
                   || !strcmp(web_s(e, "state"), "disabled");
        web_buf_add(b, "<tr><td>");
        web_buf_esc(b, web_s(e, "name"));
        web_buf_add(b, "</td><td>");
        s_t(r, web_s(e, "role"));
        web_buf_add(b, "</td><td>");
        s_t(r, off ? "disabled" : "active");
        web_buf_add(b, "</td><td>");
        web_form_begin(r, "/staff");
        web_buf_add(b, "<input type=\"hidden\" name=\"name\" value=\"");
        web_buf_esc(b, web_s(e, "name"));
        web_buf_addf(b,
                     "\"><input type=\"hidden\" name=\"do\" value=\"%s\">"
                     "<button type=\"submit\" class=\"secondary\">",
                     off ? "enable" : "disable");
        s_t(r, off ? "enable" : "disable");
        web_buf_add(b, "</button></form></td></tr>");
    }
    web_buf_add(b, "</tbody></table><section class=\"card\"><h2>");
    s_t(r, "add-account");
    web_buf_add(b, "</h2>");
    web_form_begin(r, "/staff");
    web_buf_add(b, "<input type=\"hidden\" name=\"do\" value=\"add\"><label>");
    s_t(r, "account");
    web_buf_add(b, " <input name=\"name\" required pattern=\"[a-z0-9._-]+\">"
                   "</label><label>");
    s_t(r, "role");
    web_buf_add(b, " <select name=\"role\">");
    for (size_t k = 0; s_roles[k]; k++) {
        web_buf_addf(b, "<option value=\"%s\">", s_roles[k]);
        s_t(r, s_roles[k]);
        web_buf_add(b, "</option>");
    }
    web_buf_add(b, "</select></label><label>");
    s_t(r, "language");
    web_buf_add(b, " <select name=\"lang\"><option value=\"en\">English"
                   "</option><option value=\"fr\">Français</option></select>"
                   "</label><label>");
    s_t(r, "password");
    web_buf_add(b, " <input name=\"password\" type=\"password\" "
                   "autocomplete=\"new-password\" required minlength=\"10\">"
                   "</label><button type=\"submit\">");
    s_t(r, "add-account");
    web_buf_add(b, "</button></form></section>");
}

void
web_pg_staff(web_req_t *r)
{
    s_read_page(r, "staff", "staff.list", NULL, s_staff, NULL);
}

void
web_pg_staff_post(web_req_t *r)
{
    const char *what = web_form_get(&r->form, "do");
    const char *name = web_form_get(&r->form, "name");
    const char *cmd = !what                      ? NULL
                      : !strcmp(what, "add")     ? "staff.add"
                      : !strcmp(what, "disable") ? "staff.disable"
                      : !strcmp(what, "enable")  ? "staff.enable"
                                                 : NULL;
    if (!cmd || !name || !*name) {
        web_page_begin(r, "staff");
        web_error(r, 400, web_t(r->lang, "bad-form"));
        web_page_end(r);
        return;
    }
    json_t *args = json_pack("{s:s}", "name", name);
    if (!strcmp(what, "add")) {
        static const char *const keys[] = {"role", "lang", "password", NULL};
        for (size_t i = 0; keys[i]; i++) {
            const char *v = web_form_get(&r->form, keys[i]);
            if (v && *v)
                json_object_set_new(args, keys[i], json_string(v));
        }
    }
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc =
        web_call(r, cmd, args, true, &res, err, sizeof err, code, sizeof code);
    web_json_wipe(args, "password");
    json_decref(args);
    if (rc != 0) {
        web_page_begin(r, "staff");
        s_fail(r, err, code);
        web_page_end(r);
        return;
    }
    json_decref(res);
    web_redirect(r, "/staff");
}
