// web_broker - `passerelle-web --broker-home B` (issue 15, DESIGN.md
// §12): the broker operator's read-only status page (GET /) and /metrics,
// from the broker's control socket ({"cmd": "status"} and "federation",
// as `passerelle broker status|federation` ask). No login, no form, no
// other route: nothing here changes the broker, and nothing in it is
// person-derived (transport figures only). Layer: adapters.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/cli/cli_control.h"
#include "adapters/web/web.h"

// The broker's answer to 'cmd', or NULL with 'err'.
static json_t *
s_ask(web_req_t *r, const char *cmd, char *err, size_t n)
{
    json_t *res = NULL;
    char code[32];
    if (cli_control_session(CLI_PEER_BROKER, r->w->home, NULL, cmd, NULL, NULL,
                            NULL, CLI_CONTROL_TIMEOUT_MS, &res, err, n, code,
                            sizeof code)
        != CLI_CONTROL_OK)
        return NULL;
    return res;
}

// The federation links of the broker's "federation" answer, in the shape
// of a node's `network` reply ({"network", "up"}).
static json_t *
s_links(json_t *fed)
{
    json_t *a = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(fed, "peers"), i, p)
    {
        const char *st = web_s(p, "state");
        json_array_append_new(a, json_pack("{s:s, s:b}", "network",
                                           web_s(p, "network"), "up",
                                           st && !strcmp(st, "up")));
    }
    return a;
}

static void
s_metrics(web_req_t *r)
{
    char err[512];
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    json_t *st = s_ask(r, "status", err, sizeof err);
    if (!st) {
        r->status = 503;
        web_buf_add(&r->body, "# the broker did not answer\n");
        return;
    }
    json_t *fed = s_ask(r, "federation", err, sizeof err);
    json_object_set_new(st, "federation", s_links(fed));
    json_decref(fed);
    if (!json_object_get(st, "uptime"))
        json_object_set(st, "uptime", json_object_get(st, "uptime_s"));
    web_metrics_broker(&r->body, st);
    json_decref(st);
}

static void
s_status(web_req_t *r)
{
    char err[512];
    web_page_begin(r, "broker-status");
    json_t *st = s_ask(r, "status", err, sizeof err);
    if (!st) {
        web_error(r, 503, err);
        web_page_end(r);
        return;
    }
    web_buf_add(&r->body, "<p>");
    web_buf_esc(&r->body, web_s(st, "address"));
    web_buf_addf(
        &r->body, " · %lld s · %lld/min</p>",
        (long long) json_integer_value(json_object_get(st, "uptime_s")),
        (long long) json_integer_value(
            json_object_get(st, "routed_per_minute")));
    web_table_head(r, "network-health", web_health_cols);
    static const char *const keys[] = {
        "address",           "online",         "last_seen", "queued",
        "oldest_queued_age", "latency_p50_ms", NULL};
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(st, "nodes"), i, e)
    {
        web_buf_add(&r->body, "<tr>");
        for (size_t k = 0; keys[k]; k++) {
            json_t *v = json_object_get(e, keys[k]);
            web_buf_add(&r->body, "<td>");
            if (json_is_string(v))
                web_buf_esc(&r->body, json_string_value(v));
            else if (json_is_boolean(v))
                web_buf_esc(&r->body,
                            web_t(r->lang, json_is_true(v) ? "yes" : "no"));
            else if (json_is_integer(v))
                web_buf_addf(&r->body, "%lld",
                             (long long) json_integer_value(v));
            web_buf_add(&r->body, "</td>");
        }
        web_buf_add(&r->body, "</tr>");
    }
    web_table_end(r);
    web_buf_add(&r->body, "<p><a href=\"/metrics\">/metrics</a></p>");
    json_decref(st);
    web_page_end(r);
}

bool
web_broker_route(web_req_t *r)
{
    if (strcmp(r->method, "GET") != 0) {
        r->status = 405;
        web_buf_add(&r->body, "read-only\n");
        r->content_type = "text/plain; charset=utf-8";
        return true;
    }
    if (!strcmp(r->path, "/metrics"))
        s_metrics(r);
    else if (!strcmp(r->path, "/"))
        s_status(r);
    else
        return false;
    return true;
}
