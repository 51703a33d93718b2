// web_fhir - the FHIR R4 and HSDS 3.0 read routes of passerelle-web
// (issue 16), authenticated by the staff session like the pages:
//   GET /api/v1/fhir/Task[?status=CODE&_count=N]  searchset Bundle of Tasks
//   GET /api/v1/fhir/Bundle/:id                   a referral's Bundle
//   GET /api/v1/hsds/services[?page=N&per_page=M] an HSDS 3.0 page
// Layer: adapters. The documents come from the daemon (fhir.tasks,
// fhir.bundle, hsds.services), which checks the session's role; query
// values are codes and numbers only (never personal data).
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/web/web.h"

// 'v' is 1..max bytes of [a-z0-9-] (a code) or, when 'digits', of [0-9].
static bool
s_word_ok(const char *v, size_t max, bool digits)
{
    size_t n = v ? strlen(v) : 0;
    if (!n || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        bool d = c >= '0' && c <= '9';
        if (!(d || (!digits && ((c >= 'a' && c <= 'z') || c == '-'))))
            return false;
    }
    return true;
}

// The answer: 'doc' (stolen) as JSON of 'type'.
static void
s_json(web_req_t *r, int status, const char *type, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    r->status = text ? status : 500;
    r->content_type = type;
    r->personal = true;
    web_buf_add(&r->body, text ? text : "{}");
    web_buf_add(&r->body, "\n");
    free(text);
}

// An error as a FHIR OperationOutcome (or, for HSDS, {"error": ...}).
static void
s_fail(web_req_t *r, bool fhir, const char *err, const char *code)
{
    int st = web_status_of(code);
    if (st == 401 || st == 403) { // who may call: the API's answer
        web_api_problem(r, st, err, code);
        if (st == 401) // RFC 6750, as web_api_reply answers
            snprintf(r->www_auth, sizeof r->www_auth,
                     "Bearer error=\"invalid_token\"");
        return;
    }
    if (!fhir) {
        s_json(r, st, "application/json", json_pack("{s:s}", "error", err));
        return;
    }
    s_json(r, st, "application/fhir+json",
           json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "resourceType",
                     "OperationOutcome", "issue", "severity", "error", "code",
                     st == 404   ? "not-found"
                     : st == 400 ? "invalid"
                     : st == 403 ? "forbidden"
                                 : "exception",
                     "diagnostics", err));
}

// Calls 'cmd' with 'args' (stolen) and answers its result.
static void
s_call(web_req_t *r, const char *cmd, json_t *args, bool fhir)
{
    json_t *res = NULL;
    char err[256], code[32];
    int rc =
        web_call(r, cmd, args, false, &res, err, sizeof err, code, sizeof code);
    json_decref(args);
    if (rc != 0) {
        s_fail(r, fhir, err, code);
        return;
    }
    s_json(r, 200, fhir ? "application/fhir+json" : "application/json", res);
}

void
web_api_fhir_tasks(web_req_t *r)
{
    const char *st = web_query(r, "status"), *n = web_query(r, "_count");
    if ((st && !s_word_ok(st, 32, false)) || (n && !s_word_ok(n, 3, true))) {
        s_fail(r, true, "status is a Task.status code, _count a number",
               "PL_EINVAL");
        return;
    }
    json_t *args = json_object();
    if (st)
        json_object_set_new(args, "status", json_string(st));
    if (n)
        json_object_set_new(args, "count", json_integer(atoi(n)));
    s_call(r, "fhir.tasks", args, true);
}

void
web_api_fhir_bundle(web_req_t *r)
{
    s_call(r, "fhir.bundle", json_pack("{s:s}", "id", r->arg ? r->arg : ""),
           true);
}

void
web_api_hsds_services(web_req_t *r)
{
    const char *p = web_query(r, "page"), *n = web_query(r, "per_page");
    if ((p && !s_word_ok(p, 7, true)) || (n && !s_word_ok(n, 3, true))) {
        s_fail(r, false, "page and per_page are numbers", "PL_EINVAL");
        return;
    }
    s_call(r, "hsds.services",
           json_pack("{s:i, s:i}", "page", p ? atoi(p) : 1, "per_page",
                     n ? atoi(n) : 50),
           false);
}
