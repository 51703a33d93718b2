// web_metrics - GET /metrics of passerelle-web (issue 15, DESIGN.md §8,
// §12): the transport figures in the Prometheus text exposition format
// (version 0.0.4), never a person-derived one. On a node: this node's
// counters (`stats`) and its broker's status (`network`), both asked as
// the Unix owner (the web process's own user), whatever session the
// request carries. Names follow the Prometheus conventions:
// passerelle_<what>_<unit>, counters end in _total, a # HELP and a # TYPE
// line before each family. Labels: node addresses and network codes only.
// Layer: adapters.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/web/web.h"

// "# HELP name help\n# TYPE name type\n"
static void
s_family(web_buf_t *b, const char *name, const char *type, const char *help)
{
    web_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

// A label value, escaped as the format wants (\\, \", \n).
static void
s_label(web_buf_t *b, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '"')
            web_buf_addn(b, "\\", 1);
        if (*v == '\n')
            web_buf_add(b, "\\n");
        else
            web_buf_addn(b, v, 1);
    }
}

static void
s_sample(web_buf_t *b, const char *name, const char *label, const char *value,
         double v)
{
    web_buf_add(b, name);
    if (label) {
        web_buf_addf(b, "{%s=\"", label);
        s_label(b, value);
        web_buf_add(b, "\"}");
    }
    web_buf_addf(b, " %.17g\n", v);
}

static double
s_num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_true(v) ? 1 : json_is_number(v) ? json_number_value(v) : 0;
}

// This node's own counters (`stats`).
static void
s_node(web_buf_t *b, const json_t *st)
{
    static const struct {
        const char *key, *name, *help;
    } c[] = {
        {"in_envelopes", "passerelle_node_envelopes_received_total",
         "Envelopes received from the broker."},
        {"in_stored", "passerelle_node_envelopes_stored_total",
         "Envelopes stored and receipted."},
        {"in_duplicates", "passerelle_node_envelopes_duplicate_total",
         "Envelopes received again (answered from the seen records)."},
        {"in_refused", "passerelle_node_envelopes_refused_total",
         "Envelopes refused."},
        {"sent", "passerelle_node_envelopes_sent_total",
         "Envelopes sent to the broker."},
        {"resent", "passerelle_node_envelopes_resent_total",
         "Envelopes sent again (no receipt yet)."},
        {"receipts_ok", "passerelle_node_receipts_total",
         "End-to-end receipts that settled an envelope."},
        {"commits", "passerelle_node_store_commits_total",
         "Store transactions committed."},
        {"commit_failures", "passerelle_node_store_commit_failures_total",
         "Store commits that failed."},
    };
    const json_t *n = json_object_get(st, "counters");
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        s_family(b, c[i].name, "counter", c[i].help);
        s_sample(b, c[i].name, NULL, NULL, s_num(n, c[i].key));
    }
    s_family(b, "passerelle_node_broker_up", "gauge",
             "1 when this node has a session with its broker.");
    s_sample(b, "passerelle_node_broker_up", NULL, NULL, s_num(st, "online"));
    s_family(b, "passerelle_node_resend_queue_envelopes", "gauge",
             "Envelopes waiting for a resend.");
    s_sample(b, "passerelle_node_resend_queue_envelopes", NULL, NULL,
             s_num(st, "resend_queue"));
    s_family(b, "passerelle_node_store_map_use_ratio", "gauge",
             "Share of the store's map in use (0..1).");
    s_sample(b, "passerelle_node_store_map_use_ratio", NULL, NULL,
             s_num(st, "map_use_pct") / 100.0);
}

void
web_metrics_broker(web_buf_t *b, const json_t *net)
{
    s_family(b, "passerelle_broker_uptime_seconds", "gauge",
             "Seconds since the broker started.");
    s_sample(b, "passerelle_broker_uptime_seconds", NULL, NULL,
             s_num(net, "uptime"));
    s_family(b, "passerelle_broker_routed_per_minute", "gauge",
             "Envelopes routed in the last minute.");
    s_sample(b, "passerelle_broker_routed_per_minute", NULL, NULL,
             s_num(net, "routed_per_minute"));
    static const struct {
        const char *key, *name, *type, *help;
        double scale;
    } f[] = {
        {"online", "passerelle_broker_node_up", "gauge",
         "1 when the node is connected.", 1},
        {"queued", "passerelle_broker_node_queued_envelopes", "gauge",
         "Envelopes queued for the node.", 1},
        {"oldest_queued_age",
         "passerelle_broker_node_oldest_queued_age_seconds", "gauge",
         "Age of the oldest envelope queued for the node.", 1},
        {"accepted", "passerelle_broker_node_accepted_total", "counter",
         "Envelopes accepted from the node.", 1},
        {"delivered", "passerelle_broker_node_delivered_total", "counter",
         "Envelopes delivered to the node.", 1},
        {"expired", "passerelle_broker_node_expired_total", "counter",
         "Envelopes for the node that expired.", 1},
        {"latency_p50_ms",
         "passerelle_broker_node_delivery_latency_p50_seconds", "gauge",
         "Median delivery latency to the node.", 0.001},
        {"latency_p95_ms",
         "passerelle_broker_node_delivery_latency_p95_seconds", "gauge",
         "95th percentile delivery latency to the node.", 0.001},
    };
    const json_t *nodes = json_object_get(net, "nodes");
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        s_family(b, f[i].name, f[i].type, f[i].help);
        size_t k;
        json_t *e;
        json_array_foreach(nodes, k, e)
            s_sample(b, f[i].name, "node", web_s(e, "address"),
                     s_num(e, f[i].key) * f[i].scale);
    }
    s_family(b, "passerelle_broker_federation_link_up", "gauge",
             "1 when the federation link to the network is up.");
    size_t k;
    json_t *e;
    json_array_foreach(json_object_get(net, "federation"), k, e)
        s_sample(b, "passerelle_broker_federation_link_up", "network",
                 web_s(e, "network"), s_num(e, "up"));
}

void
web_pg_metrics(web_req_t *r)
{
    web_req_t owner = *r; // the owner's own reads, not the session's
    owner.has_session = false;
    json_t *st = NULL, *net = NULL;
    char err[512], code[32];
    r->content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (web_call(&owner, "stats", NULL, false, &st, err, sizeof err, code,
                 sizeof code)
        != 0) {
        r->status = 503;
        web_buf_add(&r->body, "# the node daemon did not answer\n");
        return;
    }
    s_node(&r->body, st);
    json_decref(st);
    if (web_call(&owner, "network", NULL, false, &net, err, sizeof err, code,
                 sizeof code)
        == 0)
        web_metrics_broker(&r->body, net);
    json_decref(net);
}
