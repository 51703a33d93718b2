// web_service_form - a supervisor keeps this node's service catalogue from
// the staff application: add a service, change one, remove one. The
// daemon signs each new version of the catalogue, publishes it to the
// broker's directory and audits the change under the supervisor's name
// (service.add, service.remove). A refused form comes back as it was
// filled in, with the daemon's reason. No script (CSP), every value
// escaped; a catalogue holds no personal data. Layer: adapters.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/web/web.h"

#define S_ERR 512

// The fields of an entry (DOMAIN.md §4, nodes/pl_svc.c), in form order:
// the form's name is the entry's key.
typedef enum { F_TEXT, F_SLUG, F_AGE, F_DEGREES, F_LIST } s_kind_t;

static const struct {
    const char *key;   // form name and entry key
    const char *label; // message key
    s_kind_t kind;
} s_fields[] = {
    {"name_fr", "svc-name-fr", F_TEXT}, {"name_en", "svc-name-en", F_TEXT},
    {"region", "region", F_SLUG},       {"languages", "svc-languages", F_LIST},
    {"min_age", "svc-min-age", F_AGE},  {"max_age", "svc-max-age", F_AGE},
    {"cost", "svc-cost", F_TEXT},       {"hours", "svc-hours", F_TEXT},
    {"reach", "svc-reach", F_TEXT},     {"documents", "svc-documents", F_LIST},
    {"lat", "svc-lat", F_DEGREES},      {"lon", "svc-lon", F_DEGREES},
};
#define S_NFIELDS (sizeof s_fields / sizeof s_fields[0])

static const char *const s_sexes[] = {"any", "female", "male", NULL};
static const char *const s_states[] = {"active", "inactive", NULL};

static void
s_t(web_req_t *r, const char *key)
{
    web_buf_esc(&r->body, web_t(r->lang, key));
}

// The value of field 'key' to show: what was posted (a refused form), else
// the stored entry's, as text into 'buf'. "" when none.
static const char *
s_value(web_req_t *r, const json_t *e, const char *key, char *buf, size_t n)
{
    if (!strcmp(r->method, "POST")) {
        const char *v = web_form_get(&r->form, key);
        return v ? v : "";
    }
    const json_t *v = json_object_get(e, key);
    *buf = '\0';
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, n, "%lld", (long long) json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, n, "%.6f", json_real_value(v));
    else if (json_is_array(v)) {
        size_t i, used = 0;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            int k = snprintf(buf + used, n - used, "%s%s", i ? ", " : "",
                             json_string_value(x) ? json_string_value(x) : "");
            if (k < 0 || (size_t) k >= n - used)
                break;
            used += (size_t) k;
        }
    }
    return buf;
}

static void
s_select(web_req_t *r, const char *label, const char *name,
         const char *const *opts, const char *kept)
{
    web_buf_t *b = &r->body;
    web_buf_add(b, "<label>");
    s_t(r, label);
    web_buf_addf(b, " <select name=\"%s\" required>", name);
    for (size_t i = 0; opts[i]; i++) {
        web_buf_add(b, "<option value=\"");
        web_buf_esc(b, opts[i]);
        web_buf_addf(b, "\"%s>", !strcmp(kept, opts[i]) ? " selected" : "");
        s_t(r, opts[i]);
        web_buf_add(b, "</option>");
    }
    web_buf_add(b, "</select></label>");
}

// The form of a new service ('e' NULL) or of this node's service 'e'.
static void
s_form(web_req_t *r, const json_t *e, const char *code)
{
    web_buf_t *b = &r->body;
    char buf[1200];
    web_form_begin(r, "/services/save");
    web_buf_addf(b, "<input type=\"hidden\" name=\"mode\" value=\"%s\">",
                 code ? "edit" : "new");
    web_buf_add(b, "<label>");
    s_t(r, "svc-code");
    if (code) {
        web_buf_add(b, " <input name=\"code\" readonly value=\"");
        web_buf_esc(b, code);
    } else {
        web_buf_add(b, " <input name=\"code\" required maxlength=\"64\" "
                       "pattern=\"[a-z0-9-]+\" value=\"");
        web_buf_esc(b, s_value(r, e, "code", buf, sizeof buf));
    }
    web_buf_add(b, "\"></label>");
    const char *sector = s_value(r, e, "sector", buf, sizeof buf);
    s_select(r, "sector", "sector", web_sectors, sector);
    for (size_t i = 0; i < S_NFIELDS; i++) {
        web_buf_add(b, "<label>");
        s_t(r, s_fields[i].label);
        web_buf_addf(b, " <input name=\"%s\"", s_fields[i].key);
        switch (s_fields[i].kind) {
        case F_AGE:
            web_buf_add(b, " type=\"number\" min=\"0\" max=\"130\"");
            break;
        case F_DEGREES:
            web_buf_addf(b,
                         " type=\"number\" step=\"any\" min=\"-%d\" "
                         "max=\"%d\"",
                         !strcmp(s_fields[i].key, "lat") ? 90 : 180,
                         !strcmp(s_fields[i].key, "lat") ? 90 : 180);
            break;
        case F_SLUG:
            web_buf_add(b, " maxlength=\"64\" pattern=\"[a-z0-9-]*\"");
            break;
        case F_LIST:
            web_buf_add(b, " maxlength=\"1100\"");
            break;
        case F_TEXT:
            web_buf_add(b, " maxlength=\"200\"");
            break;
        }
        web_buf_add(b, " value=\"");
        web_buf_esc(b, s_value(r, e, s_fields[i].key, buf, sizeof buf));
        web_buf_add(b, "\"></label>");
    }
    const char *sex = s_value(r, e, "sex", buf, sizeof buf);
    s_select(r, "sex", "sex", s_sexes, *sex ? sex : "any");
    const char *st = s_value(r, e, "status", buf, sizeof buf);
    s_select(r, "status", "status", s_states, *st ? st : "active");
    web_buf_add(b, "<p class=\"help\">");
    s_t(r, "svc-help");
    web_buf_add(b, "</p><button type=\"submit\">");
    s_t(r, "save");
    web_buf_add(b, "</button></form>");
    if (!code)
        return;
    web_buf_add(b, "<section class=\"card danger\"><h3>");
    s_t(r, "svc-remove");
    web_buf_add(b, "</h3>");
    web_form_begin(r, "/services/remove");
    web_buf_add(b, "<input type=\"hidden\" name=\"code\" value=\"");
    web_buf_esc(b, code);
    web_buf_add(b, "\"><label class=\"check\"><input type=\"checkbox\" "
                   "name=\"confirm\" value=\"yes\" required> ");
    s_t(r, "svc-remove-confirm");
    web_buf_add(b, "</label><button type=\"submit\" class=\"danger\">");
    s_t(r, "svc-remove");
    web_buf_add(b, "</button></form></section>");
}

void
web_pg_service_new(web_req_t *r)
{
    web_page_begin(r, "svc-add");
    s_form(r, NULL, NULL);
    web_page_end(r);
}

// This node's own entry of service 'code' (new reference), or NULL.
static json_t *
s_own_entry(web_req_t *r, const char *code)
{
    json_t *res = web_read(r, "svc-edit", "service.list",
                           json_pack("{s:s}", "code", code), true);
    if (!res)
        return NULL;
    json_t *e = NULL, *o;
    size_t i;
    json_array_foreach(res, i, o) if (json_is_true(json_object_get(o, "own")))
    {
        e = json_incref(json_object_get(o, "entry"));
        break;
    }
    json_decref(res);
    if (!e) {
        web_page_begin(r, "svc-edit");
        web_error(r, 404, web_t(r->lang, "svc-not-ours"));
        web_page_end(r);
    }
    return e;
}

void
web_pg_service_edit(web_req_t *r)
{
    json_t *e = s_own_entry(r, r->arg);
    if (!e)
        return;
    web_page_begin(r, "svc-edit");
    s_form(r, e, r->arg);
    web_page_end(r);
    json_decref(e);
}

// "a, b,,c " into ["a", "b", "c"]; NULL when there is nothing.
static json_t *
s_list(const char *v)
{
    json_t *a = json_array();
    for (const char *p = v; p && *p;) {
        const char *c = strchr(p, ',');
        const char *end = c ? c : p + strlen(p);
        while (p < end && *p == ' ')
            p++;
        const char *q = end;
        while (q > p && q[-1] == ' ')
            q--;
        if (q > p)
            json_array_append_new(a, json_stringn(p, (size_t) (q - p)));
        p = c ? c + 1 : NULL;
    }
    if (json_array_size(a) == 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

// The entry the form describes (new reference), or NULL with 'why' set to
// a message key. The daemon checks the rest (pl_svc_entry_check).
static json_t *
s_entry(web_req_t *r, const char **why)
{
    json_t *e = json_object();
    static const char *const base[] = {"code", "sector", "sex", "status", NULL};
    for (const char *const *k = base; *k; k++) {
        const char *v = web_form_get(&r->form, *k);
        if (v && *v)
            json_object_set_new(e, *k, json_string(v));
    }
    for (size_t i = 0; i < S_NFIELDS; i++) {
        const char *v = web_form_get(&r->form, s_fields[i].key);
        if (!v || !*v)
            continue;
        char *end = NULL;
        json_t *x = NULL;
        switch (s_fields[i].kind) {
        case F_AGE: {
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 130) {
                *why = "svc-bad-age";
                json_decref(e);
                return NULL;
            }
            x = json_integer(n);
            break;
        }
        case F_DEGREES: {
            double d = strtod(v, &end);
            if (end == v || *end) {
                *why = "svc-bad-degrees";
                json_decref(e);
                return NULL;
            }
            x = json_real(d);
            break;
        }
        case F_LIST:
            x = s_list(v);
            break;
        case F_SLUG:
        case F_TEXT:
            x = json_string(v);
            break;
        }
        if (x)
            json_object_set_new(e, s_fields[i].key, x);
    }
    return e;
}

// A refused form: the page again, the reason above the values typed.
static void
s_refused(web_req_t *r, int status, const char *msg, const char *code)
{
    const char *mode = web_form_get(&r->form, "mode");
    bool edit = mode && !strcmp(mode, "edit") && code;
    web_page_begin(r, edit ? "svc-edit" : "svc-add");
    web_error(r, status, msg);
    s_form(r, NULL, edit ? code : NULL);
    web_page_end(r);
}

void
web_pg_service_save(web_req_t *r)
{
    const char *mode = web_form_get(&r->form, "mode");
    const char *code = web_form_get(&r->form, "code");
    if (!mode || (strcmp(mode, "new") && strcmp(mode, "edit"))) {
        web_page_begin(r, "svc-add");
        web_error(r, 400, web_t(r->lang, "bad-form"));
        web_page_end(r);
        return;
    }
    const char *why = NULL;
    json_t *e = s_entry(r, &why);
    if (!e) {
        s_refused(r, 400, web_t(r->lang, why), code);
        return;
    }
    // a new service never replaces one of the same code by surprise
    json_t *args =
        json_pack("{s:o, s:b}", "entry", e, "new", !strcmp(mode, "new"));
    json_t *res = NULL;
    char err[S_ERR], ecode[32];
    int rc = web_call(r, "service.add", args, true, &res, err, sizeof err,
                      ecode, sizeof ecode);
    json_decref(args);
    json_decref(res);
    if (rc != 0) {
        if (!strcmp(ecode, "PL_EAUTH")) {
            web_page_begin(r, "svc-add");
            web_fail(r, err, ecode);
            web_page_end(r);
            return;
        }
        s_refused(r, web_status_of(ecode), err, code);
        return;
    }
    web_redirect(r, "/services");
}

void
web_pg_service_remove(web_req_t *r)
{
    const char *code = web_form_get(&r->form, "code");
    const char *confirm = web_form_get(&r->form, "confirm");
    if (!code || !confirm || strcmp(confirm, "yes")) {
        web_page_begin(r, "svc-edit");
        web_error(r, 400, web_t(r->lang, "svc-remove-confirm"));
        web_page_end(r);
        return;
    }
    json_t *args = json_pack("{s:s}", "code", code), *res = NULL;
    char err[S_ERR], ecode[32];
    int rc = web_call(r, "service.remove", args, true, &res, err, sizeof err,
                      ecode, sizeof ecode);
    json_decref(args);
    json_decref(res);
    if (rc != 0) {
        web_page_begin(r, "svc-edit");
        web_fail(r, err, ecode);
        web_page_end(r);
        return;
    }
    web_redirect(r, "/services");
}
