// bench_coord - run by hand (make bench), issue 15: the size of a daily
// aggregate report (its JSON, the Message, the sealed envelope and the
// receipt that comes back) and the bytes per day it adds per node; then
// the time to build the coordination view's figures (pl_coord_figures,
// every table suppressed) from NODES nodes' daily reports over DAYS days,
// kept as a coordination node keeps them (the latest per node and month),
// in a real LMDB store. Layer: tests.
//
//   bench_coord [NODES [DAYS]]     (default 1000 90)
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodes/pl_coord.h"
#include "nodes/pl_report.h"
#include "nodes/pl_sealed.h"
#include "nodes/pl_store.h"
#include "proto/pl_envelope.h"
#include "proto/pl_keys.h"
#include "tests/lib/pl_bench.h"
#include "tests/lib/pl_test.h"

static const char *const s_states[] = {"requested", "received",    "accepted",
                                       "rejected",  "in-progress", "on-hold",
                                       "completed", "cancelled"};
static const char *const s_sectors[] = {"health", "mhpss",   "education",
                                        "tvet",   "housing", "livelihood",
                                        "legal",  "gbv"};
static const char *const s_regions[] = {"dakar",      "thies",       "kolda",
                                        "ziguinchor", "saint-louis", "kaolack"};

static json_t *
s_counts(const char *const *keys, size_t n, unsigned seed)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, keys[i],
                            json_integer((json_int_t) ((seed + i * 7) % 40)));
    return o;
}

// A busy node's report: every status, sector, dimension, priority and
// median present, both directions.
static json_t *
s_report(const char *node, const char *period, uint64_t as_of, unsigned seed)
{
    static const char *const dims[] = {"economic", "social", "psychosocial",
                                       "protection"};
    static const char *const prios[] = {"emergency", "urgent", "normal"};
    static const char *const steps[] = {"received", "accepted", "completed"};
    static const char *const reasons[] = {"plan-completed", "moved-away",
                                          "client-withdrew", "transferred",
                                          "other"};
    json_t *refs = json_object();
    for (int d = 0; d < 2; d++) {
        json_t *x = json_object();
        json_object_set_new(x, "total", json_integer(120 + seed % 50));
        json_object_set_new(x, "overdue", json_integer(seed % 9));
        json_object_set_new(x, "status", s_counts(s_states, 8, seed + d));
        json_object_set_new(x, "sector", s_counts(s_sectors, 8, seed + 3));
        json_object_set_new(x, "dimension", s_counts(dims, 4, seed + 5));
        json_object_set_new(x, "priority", s_counts(prios, 3, seed + 1));
        json_t *m = json_object();
        for (int k = 0; k < 3; k++)
            json_object_set_new(m, steps[k],
                                json_integer(3600 * (k + 1) * (seed % 30 + 1)));
        json_object_set_new(x, "median_s", m);
        json_object_set_new(refs, d ? "in" : "out", x);
    }
    json_t *cases = json_object();
    json_object_set_new(cases, "opened", json_integer(40 + seed % 20));
    json_object_set_new(cases, "closed", json_integer(20 + seed % 10));
    json_object_set_new(cases, "closed_by_reason", s_counts(reasons, 5, seed));
    return json_pack("{s:i, s:s, s:s, s:I, s:o, s:o}", "schema",
                     PL_REPORT_SCHEMA, "node", node, "period", period, "as_of",
                     (json_int_t) as_of, "referrals", refs, "cases", cases);
}

// The sealed envelope of 'msg' from a to b: its bytes.
static size_t
s_sealed(const pl_keys_t *a, const pl_keys_t *b, const uint8_t *msg, size_t n)
{
    pl_seal_args_t sa = {a,    "sn/agency", "sn/coord", b->pub.box,
                         NULL, pl_now(),    0};
    pl_buf_t pkt = {0};
    PL_CHECK(pl_envelope_seal(&sa, msg, n, NULL, &pkt) == PL_OK);
    size_t len = pkt.len;
    pl_buf_free(&pkt);
    return len;
}

static void
s_sizes(void)
{
    pl_keys_t *a = NULL, *b = NULL;
    PL_CHECK(pl_keys_generate(&a) == PL_OK && pl_keys_generate(&b) == PL_OK);
    json_t *doc =
        s_report("sn/hopital-regional-de-ziguinchor", "2026-11", pl_now(), 17);
    char err[160];
    PL_CHECK(pl_report_check(doc, err, sizeof err) == PL_OK);
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    Passerelle__V1__AggregateReport ar = PASSERELLE__V1__AGGREGATE_REPORT__INIT;
    ar.version = 1;
    ar.report.data = (uint8_t *) text;
    ar.report.len = strlen(text);
    Passerelle__V1__Message m = PASSERELLE__V1__MESSAGE__INIT;
    m.body_case = PASSERELLE__V1__MESSAGE__BODY_AGGREGATE_REPORT;
    m.aggregate_report = &ar;
    pl_buf_t enc = {0};
    PL_CHECK(pl_message_encode(&m, &enc) == PL_OK);
    size_t env = s_sealed(a, b, enc.data, enc.len);
    // the receipt that comes back: id, digest, time, signature
    uint8_t id[16] = {1}, dg[32] = {2}, sig[64] = {3};
    Passerelle__V1__Receipt rc = PASSERELLE__V1__RECEIPT__INIT;
    rc.message_id = (ProtobufCBinaryData){16, id};
    rc.digest = (ProtobufCBinaryData){32, dg};
    rc.received_at = pl_now();
    rc.signature = (ProtobufCBinaryData){64, sig};
    Passerelle__V1__Message rm = PASSERELLE__V1__MESSAGE__INIT;
    rm.body_case = PASSERELLE__V1__MESSAGE__BODY_RECEIPT;
    rm.receipt = &rc;
    pl_buf_t renc = {0};
    PL_CHECK(pl_message_encode(&rm, &renc) == PL_OK);
    size_t rcp = s_sealed(b, a, renc.data, renc.len);
    printf("report (a busy node, every field): JSON %zu bytes, Message %zu, "
           "sealed envelope %zu; its receipt %zu\n",
           strlen(text), enc.len, env, rcp);
    printf("per node and coordination node, daily (2 reports: this month "
           "and the last): %zu bytes up, %zu down, %zu in all per day\n",
           2 * env, 2 * rcp, 2 * (env + rcp));
    free(text);
    json_decref(doc);
    pl_buf_free(&enc);
    pl_buf_free(&renc);
    pl_keys_destroy(&a);
    pl_keys_destroy(&b);
}

// Keeps 'doc' as pl_coord.c does: node || 0 || period -> sealed wrapper.
static void
s_keep(pl_txn_t *t, const char *node, const char *period, json_t *doc,
       const char *region)
{
    uint8_t k[128];
    size_t a = strlen(node), p = strlen(period);
    memcpy(k, node, a);
    k[a] = 0;
    memcpy(k + a + 1, period, p);
    uint8_t hdr[PL_SEALED_HDR], dk[PL_DATAKEY_BYTES];
    hdr[0] = PL_SEALED_VER;
    PL_CHECK(pl_store_datakey_new(t, hdr + 1, dk) == PL_OK);
    json_t *w =
        json_pack("{s:O, s:I, s:s, s:s}", "report", doc, "received",
                  (json_int_t) pl_now(), "region", region, "sector", "health");
    PL_CHECK(pl_sealed_put(t, PL_DB_REPORTS, k, a + 1 + p, hdr, dk, w)
             == PL_OK);
    sodium_memzero(dk, sizeof dk);
    json_decref(w);
}

int
main(int argc, char **argv)
{
    long nodes = argc > 1 ? atol(argv[1]) : 1000;
    long days = argc > 2 ? atol(argv[2]) : 90;
    PL_CHECK(sodium_init() >= 0);
    s_sizes();
    char *dir = pl_test_tmpdir("bench-coord");
    char store[600], master[600];
    snprintf(store, sizeof store, "%s/store", dir);
    snprintf(master, sizeof master, "%s/master.secret", dir);
    pl_store_opts_t o = {.map_bytes = (size_t) 4 << 30, .master_path = master};
    pl_store_t *s = NULL;
    char err[256];
    PL_CHECK(pl_store_open(store, &o, &s, err, sizeof err) == PL_OK);
    uint64_t day0 = pl_now() - (uint64_t) days * 86400;
    double t0 = pl_bench_now();
    size_t kept = 0;
    for (long d = 0; d < days; d++) {
        // a day's reports: each node's this month (+ last month on the 1st)
        pl_txn_t *t = NULL;
        PL_CHECK(pl_store_begin(s, NULL, true, &t) == PL_OK);
        char period[8];
        pl_report_period_of(day0 + (uint64_t) d * 86400, period);
        for (long n = 0; n < nodes; n++) {
            char node[64];
            snprintf(node, sizeof node, "sn/node-%04ld", n);
            json_t *doc = s_report(node, period, day0 + (uint64_t) d * 86400,
                                   (unsigned) (n * 31 + d));
            s_keep(t, node, period, doc, s_regions[n % 6]);
            json_decref(doc);
            kept++;
        }
        PL_CHECK(pl_store_commit(&t) == PL_OK);
    }
    double ingest_s = pl_bench_now() - t0;
    pl_txn_t *t = NULL;
    PL_CHECK(pl_store_begin(s, NULL, false, &t) == PL_OK);
    double f0 = pl_bench_now();
    json_t *fig = NULL;
    PL_CHECK(pl_coord_figures(t, pl_now(), &fig) == PL_OK);
    double fig_s = pl_bench_now() - f0;
    char *text = json_dumps(fig, JSON_COMPACT);
    printf("%ld nodes x %ld days: %zu daily reports kept as %lld "
           "(node, month) records in %.2f s (%.1f us each)\n",
           nodes, days, kept,
           (long long) json_integer_value(json_object_get(fig, "reports")),
           ingest_s, 1e6 * ingest_s / (double) kept);
    printf("dashboard figures (every table suppressed): %.3f s, %zu bytes "
           "of JSON\n",
           fig_s, text ? strlen(text) : 0);
    free(text);
    json_decref(fig);
    pl_store_abort(&t);
    pl_store_close(&s);
    pl_test_rmrf(dir);
    free(dir);
    return 0;
}
