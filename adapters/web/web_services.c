// web_services - the service screens of passerelle-web (issue 18): the
// directory of services with filters and capacity, the suggestions on the
// refer screen, the returnee's slip of a referral (print-friendly), and
// the form a provider checks a slip with. Layer: adapters.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli.h"
#include "adapters/cli/cli_qr.h"
#include "adapters/web/web.h"

#define S_ERR 256

static void
s_t(web_req_t *r, const char *key)
{
    web_buf_esc(&r->body, web_t(r->lang, key));
}

// "full, 3 free · 5 h" for a capacity object and its age.
static void
s_capacity(web_req_t *r, const json_t *c, json_int_t age)
{
    web_buf_t *b = &r->body;
    const char *st = json_string_value(json_object_get(c, "state"));
    if (!st) {
        s_t(r, "capacity-unknown");
        return;
    }
    web_buf_addf(b, "<span class=\"badge cap-%s\">",
                 !strcmp(st, "full")      ? "full"
                 : !strcmp(st, "limited") ? "limited"
                                          : "open");
    s_t(r, st);
    web_buf_add(b, "</span>");
    const json_t *f = json_object_get(c, "free");
    if (f)
        web_buf_addf(b, " %lld ", (long long) json_integer_value(f));
    if (f)
        s_t(r, "free-places");
    web_buf_addf(b, " · %lld %s",
                 (long long) (age >= 7200 ? age / 3600 : age / 60),
                 age >= 7200 ? "h" : "min");
}

// A provider's form to set the capacity of its own service 'code'.
static void
s_capacity_form(web_req_t *r, const char *code)
{
    web_buf_t *b = &r->body;
    web_form_begin(r, "/services");
    web_buf_add(b, "<input type=\"hidden\" name=\"code\" value=\"");
    web_buf_esc(b, code);
    web_buf_add(b, "\"><label>");
    s_t(r, "capacity");
    web_buf_add(b, " <select name=\"state\">");
    static const char *const st[] = {"open", "limited", "full", NULL};
    for (size_t i = 0; st[i]; i++) {
        web_buf_addf(b, "<option value=\"%s\">", st[i]);
        s_t(r, st[i]);
        web_buf_add(b, "</option>");
    }
    web_buf_add(b, "</select></label><label>");
    s_t(r, "free-places");
    web_buf_add(b, " <input name=\"free\" type=\"number\" min=\"0\" "
                   "max=\"100000\"></label><label>");
    s_t(r, "until");
    web_buf_add(b, " <input name=\"until\" type=\"date\"></label>"
                   "<button type=\"submit\">");
    s_t(r, "save");
    web_buf_add(b, "</button></form>");
}

void
web_pg_services_post(web_req_t *r)
{
    const char *code = web_form_get(&r->form, "code");
    const char *state = web_form_get(&r->form, "state");
    const char *free_s = web_form_get(&r->form, "free");
    const char *until = web_form_get(&r->form, "until");
    char *end = NULL;
    long n = free_s && *free_s ? strtol(free_s, &end, 10) : -1;
    if (!code || !state || (end && (*end || n < 0))) {
        web_page_begin(r, "services");
        web_error(r, 400, web_t(r->lang, "bad-form"));
        web_page_end(r);
        return;
    }
    json_t *args = json_pack("{s:s, s:s}", "code", code, "state", state);
    if (n >= 0)
        json_object_set_new(args, "free", json_integer(n));
    if (until && *until)
        json_object_set_new(args, "until", json_string(until));
    json_t *res = NULL;
    char err[S_ERR], ecode[32];
    int rc = web_call(r, "service.capacity", args, true, &res, err, sizeof err,
                      ecode, sizeof ecode);
    json_decref(args);
    json_decref(res);
    if (rc != 0) {
        web_page_begin(r, "services");
        web_fail(r, err, ecode);
        web_page_end(r);
        return;
    }
    web_redirect(r, "/services");
}

// The filter form and the table's head of the services page.
static void
s_filters(web_req_t *r)
{
    web_buf_t *b = &r->body;
    web_buf_add(b, "<form method=\"get\" action=\"/services\" class=\"inline\">"
                   "<label>");
    s_t(r, "sector");
    web_buf_add(b, " <input name=\"sector\" pattern=\"[a-z-]*\" value=\"");
    web_buf_esc(b, r->q_sector ? r->q_sector : "");
    web_buf_add(b, "\"></label><label>");
    s_t(r, "region");
    web_buf_add(b, " <input name=\"region\" pattern=\"[a-z0-9-]*\" value=\"");
    web_buf_esc(b, r->q_region ? r->q_region : "");
    web_buf_add(b, "\"></label><button type=\"submit\" class=\"secondary\">");
    s_t(r, "filter");
    web_buf_add(b, "</button></form><table class=\"list\"><thead><tr><th>");
    static const char *const cols[] = {"service", "provider", "sector",
                                       "region",  "capacity", NULL};
    for (size_t i = 0; cols[i]; i++) {
        if (i)
            web_buf_add(b, "</th><th>");
        s_t(r, cols[i]);
    }
    web_buf_add(b, "</th></tr></thead><tbody>");
}

void
web_pg_services(web_req_t *r)
{
    json_t *args = json_object();
    if (r->q_sector && *r->q_sector)
        json_object_set_new(args, "sector", json_string(r->q_sector));
    if (r->q_region && *r->q_region)
        json_object_set_new(args, "region", json_string(r->q_region));
    json_t *res = web_read(r, "services", "service.list", args, true);
    if (!res)
        return;
    web_buf_t *b = &r->body;
    web_page_begin(r, "services");
    s_filters(r);
    size_t i;
    json_t *o;
    bool fr = !strcmp(r->lang, "fr");
    bool prov = !strcmp(r->s.role, "provider");
    bool sup = !strcmp(r->s.role, "supervisor");
    if (sup) {
        web_buf_add(b, "<p><a class=\"button\" href=\"/services/new\">");
        s_t(r, "svc-add");
        web_buf_add(b, "</a></p>");
    }
    json_array_foreach(res, i, o)
    {
        json_t *e = json_object_get(o, "entry");
        const char *name = web_s(e, fr ? "name_fr" : "name_en");
        web_buf_add(b, "<tr><td>");
        web_buf_esc(b, *name ? name : web_s(e, fr ? "name_en" : "name_fr"));
        web_buf_add(b, " <code>");
        web_buf_esc(b, web_s(e, "code"));
        web_buf_add(b, "</code>");
        if (sup && json_is_true(json_object_get(o, "own"))) {
            web_buf_add(b, "<br><a href=\"/services/edit/");
            web_buf_esc(b, web_s(e, "code"));
            web_buf_add(b, "\">");
            s_t(r, "change");
            web_buf_add(b, "</a>");
        }
        web_buf_add(b, "</td><td>");
        web_buf_esc(b, web_s(o, "address"));
        web_buf_add(b, "</td><td>");
        s_t(r, web_s(e, "sector"));
        web_buf_add(b, "</td><td>");
        web_buf_esc(b, web_s(e, "region"));
        web_buf_add(b, "</td><td>");
        s_capacity(r, json_object_get(e, "capacity"),
                   json_integer_value(json_object_get(o, "capacity_age_s")));
        if (prov && json_is_true(json_object_get(o, "own")))
            s_capacity_form(r, web_s(e, "code"));

        web_buf_add(b, "</td></tr>");
    }
    if (i == 0) {
        web_buf_add(b, "<tr><td colspan=\"5\">");
        s_t(r, "no-services");
        web_buf_add(b, "</td></tr>");
    }
    web_buf_add(b, "</tbody></table>");
    json_decref(res);
    web_page_end(r);
}

void
web_svc_suggest(web_req_t *r, const char *case_id)
{
    json_t *args = json_pack("{s:s}", "case", case_id);
    json_t *grid = cli_grid_installed();
    if (grid)
        json_object_set_new(args, "grid", grid);
    json_t *res = web_read(r, "refer", "service.match", args, false);
    if (!res)
        return;
    web_buf_t *b = &r->body;
    web_buf_add(b, "<h3>");
    s_t(r, "suggestions");
    web_buf_add(b, "</h3><ol class=\"suggestions\">");
    size_t i, j;
    json_t *o, *why;
    json_array_foreach(json_object_get(res, "suggestions"), i, o)
    {
        if (i == 5)
            break;
        web_buf_add(b, "<li><strong>");
        web_buf_esc(b, web_s(o, "code"));
        web_buf_add(b, "</strong> · ");
        web_buf_esc(b, web_s(o, "address"));
        web_buf_addf(
            b, " (%lld)<ul>",
            (long long) json_integer_value(json_object_get(o, "score")));
        json_array_foreach(json_object_get(o, "reasons"), j, why)
        {
            web_buf_add(b, "<li>");
            web_buf_esc(b, json_string_value(why));
            web_buf_add(b, "</li>");
        }
        web_buf_add(b, "</ul></li>");
    }
    web_buf_add(b, "</ol>");
    if (i == 0) {
        web_buf_add(b, "<p>");
        s_t(r, "no-suggestions");
        web_buf_add(b, "</p>");
    }
    json_decref(res);
}

// The QR code of 'code' as inline SVG markup (no script, so the CSP holds).
static void
s_qr(web_req_t *r, const char *code)
{
    char *svg = NULL;
    size_t n = 0;
    int version = 0;
    FILE *f = open_memstream(&svg, &n);
    if (!f)
        return;
    int rc = cli_qr_svg(code, f, &version);
    fclose(f);
    if (rc == 0 && svg && !strncmp(svg, "<svg", 4))
        web_buf_addn(&r->body, svg, n);
    free(svg);
}

void
web_pg_slip(web_req_t *r)
{
    json_t *res = web_read(r, "slip", "slip.make",
                           json_pack("{s:s}", "id", r->arg), true);
    if (!res)
        return;
    web_buf_t *b = &r->body;
    web_page_begin(r, "slip");
    web_buf_add(b, "<section class=\"slip\"><div class=\"qr\">");
    s_qr(r, web_s(res, "code"));
    web_buf_add(b, "</div><p class=\"slip-code\">");
    web_buf_esc(b, web_s(res, "code"));
    web_buf_add(b, "</p><dl class=\"facts\"><dt>");
    s_t(r, "to");
    web_buf_add(b, "</dt><dd>");
    web_buf_esc(b, web_s(res, "to"));
    web_buf_add(b, "</dd><dt>");
    s_t(r, "expires");
    web_buf_add(b, "</dt><dd>");
    web_buf_esc(b, web_s(res, "expires"));
    web_buf_add(b, "</dd></dl><p class=\"slip-help\">");
    s_t(r, "slip-help");
    web_buf_add(b, "</p></section>");
    json_decref(res);
    web_page_end(r);
}

static void
s_check_form(web_req_t *r)
{
    web_buf_t *b = &r->body;
    web_form_begin(r, "/slip");
    web_buf_add(b, "<label>");
    s_t(r, "slip-code");
    web_buf_add(b, " <textarea name=\"code\" rows=\"3\" maxlength=\"512\" "
                   "autocapitalize=\"characters\" required></textarea></label>"
                   "<button type=\"submit\">");
    s_t(r, "check");
    web_buf_add(b, "</button></form>");
}

void
web_pg_slip_form(web_req_t *r)
{
    web_page_begin(r, "check-slip");
    s_check_form(r);
    web_page_end(r);
}

void
web_pg_slip_check(web_req_t *r)
{
    const char *code = web_form_get(&r->form, "code");
    json_t *res = NULL, *args = code ? json_pack("{s:s}", "code", code) : NULL;
    char err[S_ERR] = "", ecode[32];
    int rc = args ? web_call(r, "slip.check", args, false, &res, err,
                             sizeof err, ecode, sizeof ecode)
                  : -1;
    json_decref(args);
    web_buf_t *b = &r->body;
    web_page_begin(r, "check-slip");
    if (rc != 0) {
        web_error(r, 400, *err ? err : web_t(r->lang, "slip-code"));
    } else {
        bool valid = json_is_true(json_object_get(res, "valid"));
        web_buf_addf(b, "<p class=\"big %s\">", valid ? "ok" : "bad");
        s_t(r, valid ? "slip-valid" : "slip-not-valid");
        web_buf_add(b, "</p><dl class=\"facts\">");
        static const char *const k[] = {"referral", "sender",  "sender_name",
                                        "issued",   "expires", "status",
                                        NULL};
        for (size_t i = 0; k[i]; i++) {
            web_buf_add(b, "<dt>");
            s_t(r, k[i]);
            web_buf_add(b, "</dt><dd>");
            web_buf_esc(b, web_s(res, k[i]));
            web_buf_add(b, "</dd>");
        }
        web_buf_add(b, "</dl>");
        if (json_is_true(json_object_get(res, "expired")))
            web_buf_add(b, "<p class=\"bad\">"), s_t(r, "slip-expired"),
                web_buf_add(b, "</p>");
        if (json_is_true(json_object_get(res, "cancelled")))
            web_buf_add(b, "<p class=\"bad\">"), s_t(r, "slip-cancelled"),
                web_buf_add(b, "</p>");
        json_decref(res);
    }
    s_check_form(r);
    web_page_end(r);
}
