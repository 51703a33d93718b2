// web_api_core - the core routes of the REST/JSON API (issue 16): each
// row maps one route of the route table (web_http.c) to the daemon's
// control command that does the work; the command's JSON reply is the
// answer. Layer: adapters. What a row may take from the request:
//   - the path's :id, as args[id_key];
//   - a fixed event (referral.act's "accept", ...);
//   - query values named in 'query' (never personal: a name search is a
//     POST body, not a URL); "true"/"false" become booleans;
//   - a POST's JSON body, whose members become the command's arguments.
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/web/web.h"

typedef struct {
    const char *method; // the route row it serves
    const char *tmpl;
    const char *cmd;    // the daemon's command
    const char *id_key; // args key of :id, or NULL
    const char *event;  // args.event, or NULL
    const char *query;  // query keys taken, comma-separated, or NULL
} s_bind_t;

#define A "/api/v1"

// clang-format off
static const s_bind_t s_binds[] = {
    {"GET", A "/whoami", "whoami", NULL, NULL, NULL},
    {"GET", A "/directory", "directory", NULL, NULL, "sector,region,service"},
    {"GET", A "/network", "network", NULL, NULL, NULL},
    {"GET", A "/cases", "case.list", NULL, NULL, NULL},
    {"POST", A "/cases", "case.add", NULL, NULL, NULL},
    {"POST", A "/cases/search", "case.list", NULL, NULL, NULL},
    {"GET", A "/cases/:id", "case.show", "id", NULL, NULL},
    {"POST", A "/cases/:id/close", "case.close", "id", NULL, NULL},
    {"POST", A "/cases/:id/bia", "case.bia", "case", NULL, NULL},
    {"POST", A "/cases/:id/consent", "consent.add", "case", NULL, NULL},
    {"POST", A "/cases/:id/consent/withdraw", "consent.withdraw", "case", NULL,
     NULL},
    {"POST", A "/cases/:id/refer", "refer", "case", NULL, NULL},
    {"POST", A "/cases/:id/erase", "erase", "case", NULL, NULL},
    {"GET", A "/referrals", "referrals", NULL, NULL,
     "direction,status,overdue"},
    {"GET", A "/referrals/:id", "referral.show", "id", NULL, NULL},
    {"POST", A "/referrals/:id/accept", "referral.act", "id", "accept", NULL},
    {"POST", A "/referrals/:id/reject", "referral.act", "id", "reject", NULL},
    {"POST", A "/referrals/:id/start", "referral.act", "id", "start", NULL},
    {"POST", A "/referrals/:id/hold", "referral.act", "id", "hold", NULL},
    {"POST", A "/referrals/:id/resume", "referral.act", "id", "resume", NULL},
    {"POST", A "/referrals/:id/complete", "referral.act", "id", "complete",
     NULL},
    {"POST", A "/referrals/:id/cancel", "referral.act", "id", "cancel", NULL},
    {"GET", A "/notifications", "notifications", NULL, NULL, NULL},
    {"POST", A "/cases/:id/handover", "handover", "case", NULL, NULL},
    {"GET", A "/handovers", "handovers", NULL, NULL, "direction,status"},
    {"GET", A "/handovers/:id", "handover.show", "id", NULL, NULL},
    {"POST", A "/handovers/:id/ack", "handover.act", "id", "ack", NULL},
    {"POST", A "/handovers/:id/accept", "handover.act", "id", "accept", NULL},
    {"POST", A "/handovers/:id/reject", "handover.act", "id", "reject", NULL},
    {"POST", A "/handovers/:id/arrived", "handover.act", "id", "arrived", NULL},
    {"POST", A "/handovers/:id/no-show", "handover.act", "id", "no-show", NULL},
    {"POST", A "/handovers/:id/withdraw", "handover.act", "id", "withdraw", NULL},
    {"POST", A "/handovers/:id/cp-ack", "handover.cp-ack", "id", NULL, NULL},
    {"GET", A "/services", "service.list", NULL, NULL,
     "sector,dimension,region,code,address,capacity"},
    {"POST", A "/services", "service.add", NULL, NULL, NULL},
    {"POST", A "/services/:id/remove", "service.remove", "code", NULL, NULL},
};
// clang-format on

// Copies the query values named in 'keys' into 'args'.
static void
s_query(web_req_t *r, const char *keys, json_t *args)
{
    char name[32];
    while (keys && *keys) {
        size_t n = strcspn(keys, ",");
        snprintf(name, sizeof name, "%.*s", (int) n, keys);
        keys += n + (keys[n] == ',');
        const char *v =
            MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
        if (!v)
            continue;
        json_object_set_new(args, name,
                            !strcmp(v, "true")    ? json_true()
                            : !strcmp(v, "false") ? json_false()
                                                  : json_string(v));
    }
}

void
web_api_core(web_req_t *r)
{
    const s_bind_t *b = NULL;
    for (size_t i = 0; i < sizeof s_binds / sizeof s_binds[0] && !b; i++)
        if (!strcmp(s_binds[i].tmpl, r->route)
            && !strcmp(s_binds[i].method, r->method))
            b = &s_binds[i];
    if (!b) {
        web_api_problem(r, 404, "this route has no command", NULL);
        return;
    }
    json_t *args = r->api_body ? json_deep_copy(r->api_body) : json_object();
    if (!args) {
        web_api_problem(r, 500, "out of memory", NULL);
        return;
    }
    s_query(r, b->query, args);
    if (b->id_key && r->arg)
        json_object_set_new(args, b->id_key, json_string(r->arg));
    if (b->event)
        json_object_set_new(args, "event", json_string(b->event));
    web_api_reply(r, b->cmd, args);
}

void
web_api_openapi(web_req_t *r)
{
    // the credential is checked like any command's: whoami is everyone's
    json_t *res = NULL;
    char err[512], code[32];
    if (web_call(r, "whoami", NULL, false, &res, err, sizeof err, code,
                 sizeof code)
        != 0) {
        web_api_problem(r, web_status_of(code), err, code);
        return;
    }
    json_decref(res);
    const char *doc = web_api_doc_text();
    if (!doc) {
        web_api_problem(r, 503, "no OpenAPI document was loaded", NULL);
        return;
    }
    r->status = 200;
    r->content_type = "application/json";
    web_buf_add(&r->body, doc);
}
