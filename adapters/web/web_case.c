// web_case - the case manager's page of one case: the person, consents,
// best-interests assessment, referrals, and the forms to record consent,
// refer (recipient from the directory by sector and region), withdraw
// consent and erase. Layer: adapters.
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

// The referral sectors (codes; message keys too); the casework forms
// use them as well.
const char *const web_sectors[] = {"health",      "mhpss",
                                   "education",   "tvet",
                                   "housing",     "child-protection",
                                   "gbv",         "legal",
                                   "livelihood",  "social-protection",
                                   "basic-needs", "family-tracing",
                                   NULL};

static void
s_label_input(web_req_t *r, const char *key, const char *name, const char *type,
              bool required)
{
    web_buf_add(&r->body, "<label>");
    s_t(r, key);
    web_buf_addf(&r->body, " <input name=\"%s\" type=\"%s\"%s></label>", name,
                 type, required ? " required" : "");
}

static void
s_label_select(web_req_t *r, const char *key, const char *name,
               const char *const *opts)
{
    web_buf_add(&r->body, "<label>");
    s_t(r, key);
    web_buf_addf(&r->body, " <select name=\"%s\">", name);
    for (size_t i = 0; opts[i]; i++) {
        web_buf_add(&r->body, "<option value=\"");
        web_buf_esc(&r->body, opts[i]);
        web_buf_add(&r->body, "\">");
        web_buf_esc(&r->body, web_t(r->lang, opts[i]));
        web_buf_add(&r->body, "</option>");
    }
    web_buf_add(&r->body, "</select></label>");
}

static void
s_submit(web_req_t *r, const char *key, const char *cls)
{
    web_buf_addf(&r->body, "<button type=\"submit\"%s%s%s>",
                 cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
    s_t(r, key);
    web_buf_add(&r->body, "</button>");
}

static void
s_hidden_do(web_req_t *r, const char *what)
{
    web_buf_addf(&r->body, "<input type=\"hidden\" name=\"do\" value=\"%s\">",
                 what);
}

// The directory, filtered by the query's sector and region (codes, not
// personal), as <option>s of recipients.
static void
s_recipients(web_req_t *r)
{
    json_t *args = json_object();
    if (r->q_sector && *r->q_sector)
        json_object_set_new(args, "sector", json_string(r->q_sector));
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc = web_call(r, "directory", args, false, &res, err, sizeof err, code,
                      sizeof code);
    json_decref(args);
    if (rc != 0) {
        web_fail(r, err, code);
        return;
    }
    web_buf_add(&r->body, "<label>");
    s_t(r, "recipient");
    web_buf_add(&r->body, " <select name=\"to\" required>");
    size_t i, shown = 0;
    json_t *e;
    json_array_foreach(res, i, e)
    {
        const char *sector = web_s(e, "sector");
        if (!strcmp(sector, "agency") || !strcmp(sector, "coordination")
            || !strcmp(sector, "broker"))
            continue;
        if (r->q_region && *r->q_region
            && strcmp(web_s(e, "region"), r->q_region) != 0)
            continue;
        web_buf_add(&r->body, "<option value=\"");
        web_buf_esc(&r->body, web_s(e, "address"));
        web_buf_add(&r->body, "\">");
        const char *dn = web_s(e, "display_name");
        web_buf_esc(&r->body, *dn ? dn : web_s(e, "address"));
        web_buf_add(&r->body, " — ");
        web_buf_esc(&r->body, web_t(r->lang, sector));
        web_buf_add(&r->body, " — ");
        web_buf_esc(&r->body, web_s(e, "region"));
        web_buf_add(&r->body, "</option>");
        shown++;
    }
    web_buf_add(&r->body, "</select></label>");
    if (!shown) {
        web_buf_add(&r->body, "<p class=\"error\">");
        s_t(r, "no-recipient");
        web_buf_add(&r->body, "</p>");
    }
    json_decref(res);
}

static void
s_person(web_req_t *r, json_t *c)
{
    web_buf_t *b = &r->body;
    web_buf_add(b, "<dl class=\"facts\">");
    static const char *const keys[] = {"given", "family",   "birth", "sex",
                                       "phone", "language", "uasc",  NULL};
    for (size_t i = 0; keys[i]; i++) {
        const char *v = web_s(c, keys[i]);
        if (!*v)
            continue;
        web_buf_add(b, "<dt>");
        s_t(r, keys[i]);
        web_buf_add(b, "</dt><dd>");
        web_buf_esc(b, !strcmp(keys[i], "uasc") || !strcmp(keys[i], "sex")
                           ? web_t(r->lang, v)
                           : v);
        web_buf_add(b, "</dd>");
    }
    web_buf_add(b, "<dt>");
    s_t(r, "status");
    web_buf_add(b, "</dt><dd>");
    s_t(r, web_s(c, "status"));
    web_buf_add(b, "</dd></dl>");
}

static void
s_consents(web_req_t *r, json_t *c)
{
    web_buf_t *b = &r->body;
    web_buf_add(b, "<h2>");
    s_t(r, "consents");
    web_buf_add(b, "</h2>");
    json_t *list = json_object_get(c, "consents");
    if (!json_array_size(list)) {
        web_buf_add(b, "<p>");
        s_t(r, "no-consent");
        web_buf_add(b, "</p>");
    }
    web_buf_add(b, "<ul class=\"plain\">");
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        web_buf_add(b, "<li>");
        s_t(r,
            json_is_true(json_object_get(e, "valid")) ? "valid" : "not-valid");
        web_buf_add(b, ": ");
        json_t *sec = json_object_get(e, "sectors");
        if (json_is_string(sec)) {
            web_buf_esc(b, json_string_value(sec));
        } else {
            size_t k;
            json_t *s;
            json_array_foreach(sec, k, s)
            {
                if (k)
                    web_buf_add(b, ", ");
                web_buf_esc(b, web_t(r->lang, json_string_value(s)));
            }
        }
        web_buf_add(b, " · ");
        s_t(r, "given-by");
        web_buf_add(b, " ");
        s_t(r, web_s(e, "given_by"));
        web_buf_add(b, " · ");
        s_t(r, "expires");
        web_buf_add(b, " ");
        web_buf_esc(b, web_s(e, "expires"));
        web_buf_add(b, "</li>");
    }
    web_buf_add(b, "</ul>");
    json_t *bia = json_object_get(c, "bia");
    if (bia) {
        web_buf_add(b, "<p>");
        s_t(r, "bia");
        web_buf_add(b, ": ");
        web_buf_esc(b, web_s(bia, "ref"));
        web_buf_add(b, " (");
        web_buf_esc(b, web_s(bia, "date"));
        web_buf_add(b, ")</p>");
    }
    json_array_foreach(json_object_get(c, "withdrawals"), i, e)
    {
        web_buf_add(b, "<p>");
        s_t(r, "withdrawn");
        web_buf_add(b, " ");
        web_buf_esc(b, web_s(e, "at"));
        web_buf_add(b, "</p><ul class=\"plain\">");
        const char *hk;
        json_t *hv;
        json_object_foreach(json_object_get(e, "holders"), hk, hv)
        {
            web_buf_add(b, "<li>");
            web_buf_esc(b, hk);
            web_buf_add(b, ": ");
            const char *conf = web_s(hv, "confirmed");
            if (*conf) {
                s_t(r, "erasure-confirmed");
                web_buf_add(b, " ");
                web_buf_esc(b, conf);
            } else {
                s_t(r, "erasure-waiting");
            }
            web_buf_add(b, "</li>");
        }
        web_buf_add(b, "</ul>");
    }
}

static void
s_case_referrals(web_req_t *r, json_t *c)
{
    web_buf_t *b = &r->body;
    web_buf_add(b, "<h2>");
    s_t(r, "referrals");
    web_buf_add(b, "</h2><ul class=\"plain\">");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(c, "referrals"), i, e)
    {
        web_buf_add(b, "<li><a href=\"/referral/");
        web_buf_esc(b, web_s(e, "id"));
        web_buf_add(b, "\">");
        web_buf_esc(b, web_s(e, "service"));
        web_buf_add(b, " → ");
        web_buf_esc(b, web_s(e, "peer"));
        web_buf_add(b, "</a> ");
        web_status_badge(r, e);
        web_buf_add(b, "</li>");
    }
    web_buf_add(b, "</ul>");
}

static const char *const s_givers[] = {"returnee", "guardian", NULL};
static const char *const s_purposes[] = {"services", NULL};
static const char *const s_priorities[] = {"normal", "urgent", "emergency",
                                           NULL};

static void
s_case_forms(web_req_t *r, const char *id, json_t *c)
{
    web_buf_t *b = &r->body;
    char action[128];
    snprintf(action, sizeof action, "/case/%s", id);
    bool open = !strcmp(web_s(c, "status"), "open");
    if (!open)
        return;

    // consent
    web_buf_add(b, "<section class=\"card\"><h2>");
    s_t(r, "record-consent");
    web_buf_add(b, "</h2>");
    web_form_begin(r, action);
    s_hidden_do(r, "consent");
    web_buf_add(b, "<fieldset><legend>");
    s_t(r, "sectors");
    web_buf_add(b, "</legend>");
    for (size_t i = 0; web_sectors[i]; i++) {
        web_buf_addf(b,
                     "<label class=\"check\"><input type=\"checkbox\" "
                     "name=\"sectors\" value=\"%s\"> ",
                     web_sectors[i]);
        s_t(r, web_sectors[i]);
        web_buf_add(b, "</label>");
    }
    web_buf_add(b, "</fieldset>");
    s_label_select(r, "purpose", "purpose", s_purposes);
    s_label_select(r, "given-by", "given_by", s_givers);
    s_label_input(r, "guardian-name", "guardian_name", "text", false);
    web_buf_add(b, "<label>");
    s_t(r, "child-views");
    web_buf_add(b, " <textarea name=\"child_views\" rows=\"2\" "
                   "maxlength=\"2000\"></textarea></label>");
    s_label_input(r, "expires", "expires", "date", true);
    s_submit(r, "record-consent", NULL);
    web_buf_add(b, "</form></section>");

    // best-interests assessment, for an unaccompanied or separated child
    if (*web_s(c, "uasc")) {
        web_buf_add(b, "<section class=\"card\"><h2>");
        s_t(r, "bia");
        web_buf_add(b, "</h2>");
        web_form_begin(r, action);
        s_hidden_do(r, "bia");
        s_label_input(r, "bia-ref", "ref", "text", true);
        s_label_input(r, "date", "date", "date", true);
        s_submit(r, "save", NULL);
        web_buf_add(b, "</form></section>");
    }

    // refer: the recipient list, filtered by sector and region (GET)
    web_buf_add(b, "<section class=\"card\"><h2>");
    s_t(r, "refer");
    web_buf_add(b, "</h2><form method=\"get\" action=\"");
    web_buf_esc(b, action);
    web_buf_add(b, "\" class=\"inline\"><label>");
    s_t(r, "sector");
    web_buf_add(b, " <select name=\"sector\"><option value=\"\">");
    s_t(r, "all");
    web_buf_add(b, "</option>");
    for (size_t i = 0; web_sectors[i]; i++) {
        bool sel = r->q_sector && !strcmp(r->q_sector, web_sectors[i]);
        web_buf_addf(b, "<option value=\"%s\"%s>", web_sectors[i],
                     sel ? " selected" : "");
        s_t(r, web_sectors[i]);
        web_buf_add(b, "</option>");
    }
    web_buf_add(b, "</select></label><label>");
    s_t(r, "region");
    web_buf_add(b, " <input name=\"region\" value=\"");
    web_buf_esc(b, r->q_region ? r->q_region : "");
    web_buf_add(b, "\" pattern=\"[a-z0-9-]*\"></label>");
    s_submit(r, "filter", "secondary");
    web_buf_add(b, "</form>");
    web_svc_suggest(r, id); // issue 18: ranked services
    web_form_begin(r, action);
    s_hidden_do(r, "refer");
    s_recipients(r);
    s_label_input(r, "service", "service", "text", true);
    s_label_select(r, "purpose", "purpose", s_purposes);
    s_label_select(r, "priority", "priority", s_priorities);
    s_label_input(r, "due", "due", "date", false);
    web_buf_add(b, "<label>");
    s_t(r, "note");
    web_buf_add(b, " <textarea name=\"note\" rows=\"3\" maxlength=\"2000\">"
                   "</textarea></label><details><summary>");
    s_t(r, "override");
    web_buf_add(b, "</summary><p>");
    s_t(r, "override-help");
    web_buf_add(b, "</p><label>");
    s_t(r, "justification");
    web_buf_add(b, " <textarea name=\"override_justification\" rows=\"2\" "
                   "maxlength=\"2000\"></textarea></label></details>");
    s_submit(r, "refer", NULL);
    web_buf_add(b, "</form></section>");

    // the handover to the country of origin (DESIGN.md §7.2), unless one
    // is under way (linked above); the daemon refuses a child's without
    // the determination, a second one, a recipient that is not an agency
    if (!*web_s(c, "handover")) {
        web_buf_add(b, "<section class=\"card\"><h2>");
        s_t(r, "hand-over");
        web_buf_add(b, "</h2>");
        web_form_begin(r, action);
        s_hidden_do(r, "handover");
        web_buf_add(b, "<label>");
        s_t(r, "ho-to");
        web_buf_add(
            b, " <input name=\"to\" required pattern=\"[a-z0-9-]+/[a-z0-9-]+\">"
               "</label>");
        s_label_input(r, "arrival", "arrival", "date", true);
        s_label_input(r, "escort", "escort", "text", false);
        web_buf_add(b, "<label>");
        s_t(r, "note");
        web_buf_add(b, " <textarea name=\"note\" rows=\"2\" maxlength=\"2000\">"
                       "</textarea></label><details><summary>");
        s_t(r, "ho-child");
        web_buf_add(b, "</summary>");
        s_label_input(r, "ho-bid-ref", "bid_ref", "text", false);
        s_label_input(r, "bid-date", "bid_date", "date", false);
        static const char *const outcomes[] = {"return", "reunification", NULL};
        s_label_select(r, "bid-outcome", "bid_outcome", outcomes);
        web_buf_add(b,
                    "</details><label class=\"check\"><input type=\"checkbox\" "
                    "name=\"consent_transfer\" value=\"yes\" required> ");
        s_t(r, "consent-transfer");
        web_buf_add(b, "</label>");
        s_submit(r, "send-handover", NULL);
        web_buf_add(b, "</form></section>");
    }

    // withdrawal and erasure
    web_buf_add(b, "<section class=\"card danger\"><h2>");
    s_t(r, "withdraw-erase");
    web_buf_add(b, "</h2>");
    web_form_begin(r, action);
    s_hidden_do(r, "withdraw");
    web_buf_add(b, "<p>");
    s_t(r, "withdraw-help");
    web_buf_add(b, "</p>");
    s_submit(r, "withdraw", "danger");
    web_buf_add(b, "</form>");
    web_form_begin(r, action);
    s_hidden_do(r, "erase");
    web_buf_add(b, "<p>");
    s_t(r, "erase-help");
    web_buf_add(b, "</p><label class=\"check\"><input type=\"checkbox\" "
                   "name=\"confirm\" value=\"yes\" required> ");
    s_t(r, "erase-confirm");
    web_buf_add(b, "</label>");
    s_submit(r, "erase", "danger");
    web_buf_add(b, "</form></section>");
}

// The case page, with 'notice' (a message key) or 'error' (text) above.
static void
s_case_page(web_req_t *r, const char *notice, const char *error, int status)
{
    json_t *args = json_pack("{s:s}", "id", r->arg);
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc = web_call(r, "case.show", args, false, &res, err, sizeof err, code,
                      sizeof code);
    json_decref(args);
    web_buf_free(&r->body);
    web_page_begin(r, "case");
    if (error)
        web_error(r, status, error);
    if (notice) {
        web_buf_add(&r->body, "<p class=\"notice\" role=\"status\">");
        web_buf_esc(&r->body, notice);
        web_buf_add(&r->body, "</p>");
    }
    if (rc != 0) {
        web_fail(r, err, code);
        web_page_end(r);
        return;
    }
    if (*web_s(res, "erased_by") || json_object_get(res, "erased")) {
        web_buf_add(&r->body, "<p>");
        s_t(r, "erased");
        web_buf_add(&r->body, "</p>");
    } else {
        s_person(r, res);
        web_buf_add(&r->body, "<p><a href=\"/case/"); // issue 17
        web_buf_esc(&r->body, r->arg);
        web_buf_add(&r->body, "/timeline\">");
        s_t(r, "cw-timeline");
        web_buf_add(&r->body, "</a></p>");
        // its handover: sent from here, or the one it came with
        const char *ho = web_s(res, "handover");
        json_t *from = json_object_get(res, "handed_over");
        if (!*ho)
            ho = web_s(from, "id");
        if (*ho) {
            web_buf_add(&r->body, "<p><a href=\"/handover/");
            web_buf_esc(&r->body, ho);
            web_buf_add(&r->body, "\">");
            s_t(r, "handover");
            web_buf_add(&r->body, "</a>");
            if (from) {
                web_buf_add(&r->body, " (");
                web_buf_esc(&r->body, web_s(from, "from"));
                web_buf_add(&r->body, ")");
            }
            web_buf_add(&r->body, "</p>");
        }
        s_consents(r, res);
        s_case_referrals(r, res);
        s_case_forms(r, r->arg, res);
    }
    web_page_end(r);
    json_decref(res);
}

void
web_pg_case(web_req_t *r)
{
    s_case_page(r, NULL, NULL, 200);
}

static void
s_arg(json_t *args, web_req_t *r, const char *key)
{
    const char *v = web_form_get(&r->form, key);
    if (v && *v)
        json_object_set_new(args, key, json_string(v));
}

void
web_pg_case_post(web_req_t *r)
{
    const char *what = web_form_get(&r->form, "do");
    what = what ? what : "";
    json_t *args = json_pack("{s:s}", "case", r->arg);
    const char *cmd = NULL;
    if (!strcmp(what, "consent")) {
        char sectors[512];
        web_form_join(&r->form, "sectors", sectors, sizeof sectors);
        if (*sectors)
            json_object_set_new(args, "sectors", json_string(sectors));
        static const char *const keys[] = {"purpose",       "given_by",
                                           "guardian_name", "child_views",
                                           "expires",       NULL};
        for (size_t i = 0; keys[i]; i++)
            s_arg(args, r, keys[i]);
        cmd = "consent.add";
    } else if (!strcmp(what, "bia")) {
        s_arg(args, r, "ref");
        s_arg(args, r, "date");
        cmd = "case.bia";
    } else if (!strcmp(what, "refer")) {
        static const char *const keys[] = {"to",
                                           "service",
                                           "purpose",
                                           "priority",
                                           "due",
                                           "note",
                                           "override_justification",
                                           NULL};
        for (size_t i = 0; keys[i]; i++)
            s_arg(args, r, keys[i]);
        cmd = json_object_get(args, "override_justification")
                  ? "override.request"
                  : "refer";
    } else if (!strcmp(what, "handover")) {
        static const char *const keys[] = {
            "to",      "arrival",  "escort",           "note",
            "bid_ref", "bid_date", "consent_transfer", NULL};
        for (size_t i = 0; keys[i]; i++)
            s_arg(args, r, keys[i]);
        if (json_object_get(args, "bid_ref"))
            s_arg(args, r, "bid_outcome"); // the select always sends one
        cmd = "handover";
    } else if (!strcmp(what, "withdraw")) {
        cmd = "consent.withdraw";
    } else if (!strcmp(what, "erase")) {
        const char *ok = web_form_get(&r->form, "confirm");
        if (!ok || strcmp(ok, "yes") != 0) {
            json_decref(args);
            s_case_page(r, NULL, web_t(r->lang, "erase-confirm"), 400);
            return;
        }
        cmd = "erase";
    }
    if (!cmd) {
        json_decref(args);
        s_case_page(r, NULL, web_t(r->lang, "bad-form"), 400);
        return;
    }
    json_t *res = NULL;
    char err[S_ERR], code[32];
    int rc =
        web_call(r, cmd, args, true, &res, err, sizeof err, code, sizeof code);
    json_decref(args);
    if (rc != 0) {
        int st = web_status_of(code);
        if (!strncmp(err, "consent", 7)) {
            // a refusal of the consent gate, in a case worker's words
            char msg[S_ERR + 256];
            snprintf(msg, sizeof msg, "%s (%s)",
                     web_t(r->lang, "consent-refused"), err);
            s_case_page(r, NULL, msg, st);
        } else {
            s_case_page(r, NULL, err, st);
        }
        return;
    }
    char to[160];
    if (!strcmp(cmd, "refer")) {
        snprintf(to, sizeof to, "/referral/%s", web_s(res, "id"));
        web_redirect(r, to);
    } else if (!strcmp(cmd, "handover")) {
        snprintf(to, sizeof to, "/handover/%s", web_s(res, "id"));
        web_redirect(r, to);
    } else if (!strcmp(cmd, "erase")) {
        web_redirect(r, "/cases");
    } else if (!strcmp(cmd, "override.request")) {
        json_decref(res);
        s_case_page(r, web_t(r->lang, "override-requested"), NULL, 200);
        return;
    } else {
        snprintf(to, sizeof to, "/case/%s", r->arg);
        web_redirect(r, to);
    }
    json_decref(res);
}
