// web_http - libmicrohttpd glue of passerelle-web: bounded bodies, the
// method, origin and CSRF checks, sessions, routing, the security headers
// of every answer and the one log line per request (method, route
// template, status, duration: never a path's values, a body or a cookie).
// Layer: adapters.
#include "adapters/web/web_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/cli/cli_control.h"
#include "adapters/web/web.h"
#include "proto/pl_crypto.h"

// Roles as bits of a route's mask.
enum {
    R_CM = 1,    // case-manager
    R_PROV = 2,  // provider
    R_SUP = 4,   // supervisor
    R_COORD = 8, // coordinator
    R_ADMIN = 16,
    R_ANY = 31,
    R_NONE = 0, // no login needed
};

typedef struct {
    const char *method;
    const char *tmpl; // "/referral/:id": ':' matches one path segment
    int roles;        // R_NONE: public
    web_handler_t fn;
} s_route_t;

static const s_route_t s_routes[] = {
    {"GET", "/login", R_NONE, web_pg_login},
    {"POST", "/login", R_NONE, web_pg_login_post},
    {"POST", "/logout", R_ANY, web_pg_logout},
    {"GET", "/", R_ANY, web_pg_home},
    {"GET", "/in", R_PROV, web_pg_incoming},
    {"GET", "/out", R_CM, web_pg_outgoing},
    {"GET", "/referral/:id", R_PROV | R_CM | R_SUP, web_pg_referral},
    {"POST", "/referral/:id", R_PROV | R_CM, web_pg_referral_act},
    {"GET", "/cases", R_CM, web_pg_cases},
    {"POST", "/cases/search", R_CM, web_pg_cases_search},
    {"POST", "/cases/new", R_CM, web_pg_case_new},
    {"GET", "/case/:id", R_CM, web_pg_case},
    {"POST", "/case/:id", R_CM, web_pg_case_post},
    {"GET", "/handovers", R_CM, web_pg_handovers}, // DESIGN.md §7.2, §12
    {"GET", "/handover/:id", R_CM, web_pg_handover},
    {"POST", "/handover/:id", R_CM, web_pg_handover_act},
    {"GET", "/case/:id/timeline", R_CM, web_pg_case_timeline},       // issue 17
    {"POST", "/case/:id/timeline", R_CM, web_pg_case_timeline_post}, // 20
    {"GET", "/overrides", R_SUP, web_pg_overrides},
    {"POST", "/overrides", R_SUP, web_pg_override_post},
    {"GET", "/audit", R_SUP, web_pg_audit},
    {"GET", "/notifications", R_CM | R_PROV, web_pg_notifications},
    {"GET", "/staff", R_ADMIN, web_pg_staff},
    {"POST", "/staff", R_ADMIN, web_pg_staff_post},
// the REST/JSON API (issue 16, web_api*.c): every /api/v1/ row takes a
// Bearer token or the session cookie (web_api_serve); a row declares
// method, path and roles, its handler the rest
#define API "/api/v1"
    {"GET", API "/openapi.json", R_ANY, web_api_openapi},
    {"GET", API "/whoami", R_ANY, web_api_core},
    {"GET", API "/directory", R_ANY, web_api_core},
    {"GET", API "/network", R_COORD, web_api_core},
    {"GET", API "/cases", R_CM, web_api_core},
    {"POST", API "/cases", R_CM, web_api_core},
    {"POST", API "/cases/search", R_CM, web_api_core},
    {"GET", API "/cases/:id", R_CM, web_api_core},
    {"POST", API "/cases/:id/close", R_CM, web_api_core},
    {"POST", API "/cases/:id/bia", R_CM, web_api_core},
    {"POST", API "/cases/:id/consent", R_CM, web_api_core},
    {"POST", API "/cases/:id/consent/withdraw", R_CM, web_api_core},
    {"POST", API "/cases/:id/refer", R_CM, web_api_core},
    {"POST", API "/cases/:id/erase", R_CM, web_api_core},
    {"GET", API "/referrals", R_CM | R_PROV | R_SUP, web_api_core},
    {"GET", API "/referrals/:id", R_CM | R_PROV | R_SUP, web_api_core},
    {"POST", API "/referrals/:id/accept", R_PROV, web_api_core},
    {"POST", API "/referrals/:id/reject", R_PROV, web_api_core},
    {"POST", API "/referrals/:id/start", R_PROV, web_api_core},
    {"POST", API "/referrals/:id/hold", R_PROV, web_api_core},
    {"POST", API "/referrals/:id/resume", R_PROV, web_api_core},
    {"POST", API "/referrals/:id/complete", R_PROV, web_api_core},
    {"POST", API "/referrals/:id/cancel", R_CM, web_api_core},
    {"GET", API "/notifications", R_CM | R_PROV, web_api_core},
    // handovers of a case (DESIGN.md §7.2, §12): a case manager's
    {"POST", API "/cases/:id/handover", R_CM, web_api_core},
    {"GET", API "/handovers", R_CM, web_api_core},
    {"GET", API "/handovers/:id", R_CM, web_api_core},
    {"POST", API "/handovers/:id/ack", R_CM, web_api_core},
    {"POST", API "/handovers/:id/accept", R_CM, web_api_core},
    {"POST", API "/handovers/:id/reject", R_CM, web_api_core},
    {"POST", API "/handovers/:id/arrived", R_CM, web_api_core},
    {"POST", API "/handovers/:id/no-show", R_CM, web_api_core},
    {"POST", API "/handovers/:id/withdraw", R_CM, web_api_core},
    {"POST", API "/handovers/:id/cp-ack", R_CM, web_api_core},
    // this node's service catalogue and the services it knows (issue 18)
    {"GET", API "/services", R_CM | R_PROV | R_SUP, web_api_core},
    {"POST", API "/services", R_SUP, web_api_core},
    {"POST", API "/services/:id/remove", R_SUP, web_api_core},
    // FHIR R4 and HSDS 3.0 (issue 16; adapters/web/openapi/fhir-hsds.json)
    {"GET", "/api/v1/fhir/Task", R_PROV | R_CM | R_SUP, web_api_fhir_tasks},
    {"GET", "/api/v1/fhir/Bundle/:id", R_PROV | R_CM | R_SUP,
     web_api_fhir_bundle},
    {"GET", "/api/v1/hsds/services", R_ANY, web_api_hsds_services},
#undef API
    // issue 15: the coordination dashboard, its exports, /metrics
    {"GET", "/coordination", R_COORD, web_pg_coord},
    {"GET", "/coordination.csv", R_COORD, web_pg_coord_csv},
    {"POST", "/coordination/request", R_COORD, web_pg_coord_request},
    {"GET", "/api/v1/coordination/figures", R_COORD, web_api_coord_figures},
    {"GET", "/api/v1/coordination/network", R_COORD, web_api_coord_network},
    {"GET", "/metrics", R_NONE, web_pg_metrics},
    {"GET", "/services", R_CM | R_PROV | R_SUP, web_pg_services}, // issue 18
    {"POST", "/services", R_PROV, web_pg_services_post},
    {"GET", "/services/new", R_SUP, web_pg_service_new},
    {"GET", "/services/edit/:code", R_SUP, web_pg_service_edit},
    {"POST", "/services/save", R_SUP, web_pg_service_save},
    {"POST", "/services/remove", R_SUP, web_pg_service_remove},
    {"GET", "/slip/:id", R_CM, web_pg_slip},
    {"GET", "/slip", R_CM | R_PROV, web_pg_slip_form},
    {"POST", "/slip", R_CM | R_PROV, web_pg_slip_check},
};

static bool
s_is_api(const char *url)
{
    return url && strncmp(url, "/api/v1/", 8) == 0;
}

void
web_http_list_routes(FILE *out)
{
    static const char *const names[] = {"case-manager", "provider",
                                        "supervisor", "coordinator", "admin"};
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        fprintf(out, "%s %s ", s_routes[i].method, s_routes[i].tmpl);
        if (s_routes[i].roles == R_NONE)
            fputs("public", out);
        for (int b = 0, n = 0; b < 5; b++)
            if (s_routes[i].roles & (1 << b))
                fprintf(out, "%s%s", n++ ? "," : "", names[b]);
        fputc('\n', out);
    }
}

const char *
web_query(web_req_t *r, const char *key)
{
    return r->conn ? MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND,
                                                 key)
                   : NULL;
}

static int
s_role_bit(const char *role)
{
    static const char *const names[] = {"case-manager", "provider",
                                        "supervisor", "coordinator", "admin"};
    for (int i = 0; i < 5; i++)
        if (!strcmp(role, names[i]))
            return 1 << i;
    return 0;
}

// Whether 'seg' (n bytes) may stand for a ':' segment: an id or a code
// (letters, digits, '-', '_', '.'), at most 64 bytes.
static bool
s_seg_ok(const char *seg, size_t n)
{
    if (!n || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = seg[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

// Matches 'path' against 'tmpl'; the ':' segment goes to 'arg'.
static bool
s_match(const char *tmpl, const char *path, char *arg, size_t arg_size)
{
    arg[0] = 0;
    while (*tmpl && *path) {
        if (*tmpl == ':') {
            const char *end = strchr(path, '/');
            size_t n = end ? (size_t) (end - path) : strlen(path);
            if (!s_seg_ok(path, n) || n >= arg_size)
                return false;
            memcpy(arg, path, n);
            arg[n] = 0;
            path += n;
            while (*tmpl && *tmpl != '/')
                tmpl++;
            continue;
        }
        if (*tmpl != *path)
            return false;
        tmpl++;
        path++;
    }
    return !*tmpl && !*path;
}

int
web_call(web_req_t *r, const char *cmd, json_t *args, bool changes,
         json_t **res, char *err, size_t err_size, char *code, size_t code_size)
{
    (void) changes; // every call carries a request id (cli_control)
    code[0] = 0;
    int rc = cli_control_session(
        CLI_PEER_NODE, r->w->home, r->api_rid[0] ? r->api_rid : NULL, cmd, args,
        NULL, r->has_session || r->api_token ? r->s.token : NULL,
        CLI_CONTROL_TIMEOUT_MS, res, err, err_size, code, code_size);
    if (rc == CLI_CONTROL_OK)
        return 0;
    if (!strcmp(code, "PL_EAUTH") && r->has_session) {
        web_sess_drop(r->w, r->s.id);
        r->has_session = false;
    }
    return -1;
}

json_t *
web_read(web_req_t *r, const char *title, const char *cmd, json_t *args,
         bool page)
{
    json_t *res = NULL;
    char err[512], code[32];
    int rc =
        web_call(r, cmd, args, false, &res, err, sizeof err, code, sizeof code);
    json_decref(args);
    if (rc == 0)
        return res;
    if (page) {
        web_page_begin(r, title);
        web_fail(r, err, code);
        web_page_end(r);
    }
    return NULL;
}

// ---- page frame

void
web_page_begin(web_req_t *r, const char *title)
{
    web_buf_t *b = &r->body;
    web_buf_addf(b,
                 "<!doctype html>\n<html lang=\"%s\"><head>"
                 "<meta charset=\"utf-8\">"
                 "<meta name=\"viewport\" content=\"width=device-width, "
                 "initial-scale=1\">"
                 "<title>",
                 !strcmp(r->lang, "fr") ? "fr" : "en");
    web_buf_esc(b, web_t(r->lang, title));
    web_buf_add(b, " - Passerelle</title>"
                   "<link rel=\"stylesheet\" href=\"/assets/style.css\">"
                   "</head><body><header><span class=\"brand\">Passerelle"
                   "</span>");
    if (r->has_session) {
        int bit = s_role_bit(r->s.role);
        web_buf_add(b, "<nav aria-label=\"");
        web_buf_esc(b, web_t(r->lang, "menu"));
        web_buf_add(b, "\"><ul>");
        static const struct {
            int roles;
            const char *href, *key;
        } items[] = {
            {R_PROV, "/in", "incoming"},
            {R_CM, "/cases", "cases"},
            {R_CM, "/out", "outgoing"},
            {R_CM, "/handovers", "handovers"},
            {R_SUP, "/overrides", "overrides"},
            {R_SUP, "/audit", "audit"},
            {R_CM | R_PROV, "/notifications", "notifications"},
            {R_ADMIN, "/staff", "staff"},
            {R_COORD, "/coordination", "coordination"},
            {R_CM | R_PROV | R_SUP, "/services", "services"},
            {R_CM | R_PROV, "/slip", "check-slip"},
        };
        for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
            if (!(items[i].roles & bit))
                continue;
            web_buf_addf(b, "<li><a href=\"%s\">", items[i].href);
            web_buf_esc(b, web_t(r->lang, items[i].key));
            web_buf_add(b, "</a></li>");
        }
        web_buf_add(b, "</ul></nav><div class=\"who\">");
        web_buf_esc(b, r->s.name);
        web_buf_add(b, " (");
        web_buf_esc(b, web_t(r->lang, r->s.role));
        web_buf_add(b, ")");
        web_form_begin(r, "/logout");
        web_buf_add(b, "<button type=\"submit\">");
        web_buf_esc(b, web_t(r->lang, "logout"));
        web_buf_add(b, "</button></form></div>");
    }
    web_buf_add(b, "</header><main><h1>");
    web_buf_esc(b, web_t(r->lang, title));
    web_buf_add(b, "</h1>");
}

void
web_page_end(web_req_t *r)
{
    web_buf_add(&r->body, "</main></body></html>\n");
}

void
web_form_begin(web_req_t *r, const char *action)
{
    web_buf_add(&r->body, "<form method=\"post\" action=\"");
    web_buf_esc(&r->body, action);
    web_buf_add(&r->body, "\">");
    if (r->has_session) {
        web_buf_add(&r->body, "<input type=\"hidden\" name=\"csrf\" value=\"");
        web_buf_esc(&r->body, r->s.csrf);
        web_buf_add(&r->body, "\">");
    }
}

void
web_error(web_req_t *r, int status, const char *msg)
{
    r->status = status;
    web_buf_add(&r->body, "<p class=\"error\" role=\"alert\">");
    web_buf_esc(&r->body, msg);
    web_buf_add(&r->body, "</p>");
}

// A paragraph with the link to the login page (a session ended or none).
static void
s_login_link(web_req_t *r)
{
    web_buf_add(&r->body, "<p><a href=\"/login\">");
    web_buf_esc(&r->body, web_t(r->lang, "login"));
    web_buf_add(&r->body, "</a></p>");
}

int
web_status_of(const char *code)
{
    static const struct {
        const char *code;
        int status;
    } map[] = {
        {"PL_EINVAL", 400},  {"PL_EPROTO", 400},    {"PL_EAUTH", 401},
        {"PL_EPERM", 403},   {"PL_ENOTFOUND", 404}, {"PL_EEXIST", 409},
        {"PL_ESTATE", 409},  {"PL_EEXPIRED", 409},  {"PL_EREVOKED", 409},
        {"PL_ETOOBIG", 413}, {"PL_EFULL", 503},     {"PL_ETIMEOUT", 504},
    };
    if (!code || !code[0])
        return 503;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(code, map[i].code))
            return map[i].status;
    return 500;
}

void
web_fail(web_req_t *r, const char *err, const char *code)
{
    int st = web_status_of(code);
    if (st != 401) {
        web_error(r, st, err);
        return;
    }
    web_error(r, 401, web_t(r->lang, "session-ended"));
    s_login_link(r);
}

void
web_redirect(web_req_t *r, const char *path)
{
    r->status = 303;
    snprintf(r->location, sizeof r->location, "%s", path);
}

// ---- one whole error page (no session frame needed)

static void
s_error_page(web_req_t *r, int status, const char *key)
{
    if (s_is_api(r->path)) {
        char detail[128];
        if (status == 413)
            snprintf(detail, sizeof detail, "a body is at most %d bytes",
                     WEB_BODY_MAX);
        else
            snprintf(detail, sizeof detail, "%s", web_t("en", key));
        web_api_problem(r, status, detail, status == 413 ? "PL_ETOOBIG" : NULL);
        return;
    }
    web_buf_free(&r->body);
    web_page_begin(r, key);
    r->status = status;
    if (status == 401 || status == 403)
        s_login_link(r);
    web_page_end(r);
}

// ---- the connection state and the MHD callbacks

typedef struct {
    web_buf_t body;
    bool too_big;
    struct timespec start;
} s_conn_t;

static double
s_ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double) (t1.tv_sec - t0->tv_sec) * 1e3
           + (double) (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void
s_log(const char *method, const char *route, int status, double ms)
{
    // the one log line: method, route template, status, duration
    fprintf(stderr, "passerelle-web: %s %s %d %.1f ms\n", method, route, status,
            ms);
}

static enum MHD_Result
s_send(struct MHD_Connection *c, web_req_t *r, bool asset)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r->body.len, r->body.data ? r->body.data : (char *) "",
        MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(
        resp, "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy",
                            "same-origin");
    MHD_add_response_header(resp, "Content-Type",
                            r->content_type ? r->content_type
                                            : "text/html; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control",
                            asset ? "public, max-age=3600" : "no-store");
    if (r->location[0])
        MHD_add_response_header(resp, "Location", r->location);
    if (r->set_cookie[0])
        MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    if (r->status == 405)
        MHD_add_response_header(resp, "Allow", "GET, POST");
    if (r->retry_after[0])
        MHD_add_response_header(resp, "Retry-After", r->retry_after);
    if (r->www_auth[0])
        MHD_add_response_header(resp, "WWW-Authenticate", r->www_auth);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned) r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

// Whether a POST comes from a page of this site. Sec-Fetch-Site (Fetch
// Metadata, sent by every current browser) must be "same-origin"; it is
// the reliable signal here, because under Referrer-Policy no-referrer a
// browser sends "Origin: null" even for its own forms (Fetch standard,
// "serializing a request origin"). Without Sec-Fetch-Site, an Origin
// header must name this server. Without either (not a browser: curl, a
// script), the CSRF token alone decides.
static bool
s_origin_ok(web_ctx_t *w, struct MHD_Connection *c)
{
    const char *origin =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *site =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (site)
        return strcmp(site, "same-origin") == 0;
    if (origin) {
        char want[320];
        snprintf(want, sizeof want, "%s://%s", w->tls ? "https" : "http",
                 host ? host : "");
        return host && strcmp(origin, want) == 0;
    }
    return true;
}

// The value of cookie 'name' in the request, or NULL.
static const char *
s_cookie(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_COOKIE_KIND, name);
}

// The stylesheet, read once at start (web_http_init).
static char *s_css;
static size_t s_css_len;

int
web_http_init(const char *assets_dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/style.css", assets_dir);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    s_css = malloc(64 * 1024);
    s_css_len = s_css ? fread(s_css, 1, 64 * 1024 - 1, f) : 0;
    fclose(f);
    return s_css && s_css_len ? 0 : -1;
}

static void
s_peer_ip(struct MHD_Connection *c, char *ip, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(ip, size, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, ip,
                  (socklen_t) size);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, ip,
                  (socklen_t) size);
}

static enum MHD_Result
s_handle(web_ctx_t *w, struct MHD_Connection *c, const char *url,
         const char *method, s_conn_t *cs)
{
    web_req_t r = {.w = w, .method = method, .path = url, .lang = "en"};
    r.status = 200;
    char ip[64], arg[72];
    s_peer_ip(c, ip, sizeof ip);
    r.ip = ip;
    const char *route = "(none)";
    bool post = !strcmp(method, "POST");

    // the session, if its cookie came and is known
    const char *cid = s_cookie(c, w->cookie);
    if (cid && web_sess_get(w, cid, &r.s)) {
        r.has_session = true;
        r.lang = r.s.lang;
    }
    r.q_sector =
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "sector");
    r.q_region =
        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "region");
    r.q_lang = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "lang");

    if (!strcmp(url, "/assets/style.css") && !post) {
        route = "/assets/style.css";
        r.content_type = "text/css; charset=utf-8";
        web_buf_addn(&r.body, s_css, s_css_len);
        enum MHD_Result ok = s_send(c, &r, true);
        s_log(method, route, r.status, s_ms_since(&cs->start));
        web_buf_free(&r.body);
        return ok;
    }

    if (w->broker) { // issue 15: the broker operator's read-only view
        route = r.path;
        if (!web_broker_route(&r)) {
            route = "(none)";
            s_error_page(&r, 404, "not-found");
        }
        goto out;
    }
    const s_route_t *hit = NULL;
    bool path_known = false;
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        if (!s_match(s_routes[i].tmpl, url, arg, sizeof arg))
            continue;
        path_known = true;
        if (!strcmp(s_routes[i].method, method)) {
            hit = &s_routes[i];
            break;
        }
    }
    if (!hit) {
        s_error_page(&r, path_known ? 405 : 404,
                     path_known ? "method-not-allowed" : "not-found");
        goto out;
    }
    route = hit->tmpl;
    r.route = hit->tmpl;
    r.conn = c;
    r.arg = arg[0] ? arg : NULL;
    if (cs->too_big) {
        s_error_page(&r, 413, "too-big");
        goto out;
    }
    if (s_is_api(url)) {
        web_api_serve(&r, hit->fn,
                      r.has_session && (hit->roles & s_role_bit(r.s.role)),
                      !post || s_origin_ok(w, c), cs->body.data, cs->body.len);
        goto out;
    }
    if (post) {
        if (!s_origin_ok(w, c)) {
            s_error_page(&r, 403, "bad-origin");
            goto out;
        }
        const char *ct =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
        if (!ct || strncmp(ct, "application/x-www-form-urlencoded", 33) != 0
            || web_form_parse(&r.form, cs->body.data ? cs->body.data : "",
                              cs->body.len)
                   != 0) {
            s_error_page(&r, 400, "bad-form");
            goto out;
        }
    }
    if (hit->roles != R_NONE) {
        if (!r.has_session) {
            if (post || strcmp(url, "/") != 0) {
                s_error_page(&r, 401, "need-login");
            } else {
                web_redirect(&r, "/login");
            }
            goto out;
        }
        if (!(hit->roles & s_role_bit(r.s.role))) {
            s_error_page(&r, 403, "forbidden");
            goto out;
        }
        if (post) {
            const char *tok = web_form_get(&r.form, "csrf");
            if (!tok || !web_same(tok, r.s.csrf)) {
                s_error_page(&r, 403, "bad-csrf");
                goto out;
            }
        }
    } else if (post) {
        // the login form: a double-submit token in a pre-session cookie
        char pre[80];
        snprintf(pre, sizeof pre, "%s_login", w->cookie);
        const char *want = s_cookie(c, pre);
        const char *tok = web_form_get(&r.form, "csrf");
        if (!want || !tok || !web_same(tok, want)) {
            s_error_page(&r, 403, "bad-csrf");
            goto out;
        }
    }
    hit->fn(&r);
    if (r.body.oom) {
        web_buf_free(&r.body);
        r.status = 500;
        web_buf_add(&r.body, "out of memory\n");
    }
out:;
    enum MHD_Result ok = s_send(c, &r, false);
    s_log(method, route, r.status, s_ms_since(&cs->start));
    web_form_free(&r.form);
    json_decref(r.api_body);
    pl_wipe(r.s.token, sizeof r.s.token);
    web_buf_free(&r.body);
    return ok;
}

static enum MHD_Result
s_access(void *cls, struct MHD_Connection *c, const char *url,
         const char *method, const char *version, const char *upload_data,
         size_t *upload_data_size, void **con_cls)
{
    (void) version;
    web_ctx_t *w = cls;
    s_conn_t *cs = *con_cls;
    if (!cs) {
        cs = calloc(1, sizeof *cs);
        if (!cs)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &cs->start);
        *con_cls = cs;
        if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
            web_req_t r = {.w = w, .lang = "en", .status = 405, .path = url};
            s_error_page(&r, 405, "method-not-allowed");
            enum MHD_Result ok = s_send(c, &r, false);
            s_log("OTHER", "(any)", 405, s_ms_since(&cs->start));
            web_buf_free(&r.body);
            return ok;
        }
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > WEB_BODY_MAX) {
            // refused before reading it
            web_req_t r = {.w = w, .lang = "en", .status = 413, .path = url};
            s_error_page(&r, 413, "too-big");
            enum MHD_Result ok = s_send(c, &r, false);
            s_log(method, "(any)", 413, s_ms_since(&cs->start));
            web_buf_free(&r.body);
            return ok;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (cs->body.len + *upload_data_size > WEB_BODY_MAX) {
            cs->too_big = true; // chunked and too long: stop reading
            web_buf_free(&cs->body);
            return MHD_NO;
        }
        web_buf_addn(&cs->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return cs->body.oom ? MHD_NO : MHD_YES;
    }
    return s_handle(w, c, url, method, cs);
}

static void
s_completed(void *cls, struct MHD_Connection *c, void **con_cls,
            enum MHD_RequestTerminationCode toe)
{
    (void) cls, (void) c, (void) toe;
    s_conn_t *cs = *con_cls;
    if (!cs)
        return;
    if (cs->body.data)
        pl_wipe(cs->body.data, cs->body.cap);
    web_buf_free(&cs->body);
    free(cs);
    *con_cls = NULL;
}

struct MHD_Daemon *
web_http_start(web_ctx_t *w, const web_http_opts_t *o)
{
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (o->tls_key)
        flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[16];
    int n = 0;
    opts[n++] =
        (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, (void *) o->addr};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                        (intptr_t) o->max_conns, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                        (intptr_t) o->per_ip, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                        (intptr_t) o->timeout_s, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                        (intptr_t) o->threads, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                        (intptr_t) (32 * 1024), NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
                                        (intptr_t) s_completed, NULL};
    if (o->tls_key) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0,
                                            (void *) o->tls_key};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
                                            (void *) o->tls_cert};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return MHD_start_daemon(flags, 0, NULL, NULL, s_access, w, MHD_OPTION_ARRAY,
                            opts, MHD_OPTION_END);
}
