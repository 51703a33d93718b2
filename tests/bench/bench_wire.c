// bench_wire - what one referral's closed loop costs on the wire and on a
// small machine (issue 20 items 2 and 6). Layer: tests (run by hand:
// `make bench`; prints figures, asserts none).
//
// A real broker and two real node daemons (agency, clinic = health) on
// 127.0.0.1. A closed loop is refer (agency) -> received -> accept
// (clinic) -> accepted -> start (clinic) -> in-progress -> complete
// (clinic) -> completed, each status seen at the agency and every
// envelope of the step receipted before the next step. Around each step
// the kernel's counters of the two nodes' TCP connections to the broker
// (`ss -tin`: bytes_sent, bytes_received, segs_out, segs_in) are read;
// IP+TCP headers are 52 bytes a segment (20 + 20 + 12 of timestamps).
// Printed per step (the envelope kinds it carries) and per loop: bytes
// each way, segments, envelopes and receipts (the nodes' outbox counts).
// Then item 6: the CPU of the agency (sender) and of the clinic
// (recipient) per loop, against the protocol floor measured in the same
// run (the library's seal, verify, open and receipt per envelope, plus
// the LMDB commits a node cannot avoid: one on each side per envelope,
// measured on a scratch LMDB store with the same flags), and the nodes'
// RSS idle and after R more referrals (refer only, each received).
// Usage: bench_wire [loops] [referrals]      default 30 10000
#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapters/cli/cli_control.h"
#include "proto/pl_crypto.h"
#include "tests/lib/pl_bench.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"
#include "tests/lib/pl_testnode.h"

enum { AG = 0, CL = 1 };
#define S_HDR     52 // IP + TCP header bytes per segment (timestamps on)
#define S_PAYLOAD 512
#define S_STEPS   4

typedef struct {
    double up, down;  // payload bytes node -> broker, broker -> node
    double segs;      // segments both ways
    double env, rcpt; // envelopes and receipts committed
} s_wire_t;

static const char *const s_step_name[S_STEPS] = {
    "refer -> received", "accept -> accepted", "start -> in-progress",
    "complete -> completed"};

// sums the counters of every TCP connection to 127.0.0.1:port (the nodes'
// ends)
static void
s_ss(int port, s_wire_t *w)
{
    char *o = NULL;
    PL_CHECK(
        pl_test_sh(&o, "ss -tinH state established '( dport = :%d )'", port)
        == 0);
    memset(w, 0, sizeof *w);
    for (char *p = o; p && *p; p++) {
        double v;
        if (sscanf(p, "bytes_sent:%lf", &v) == 1 && p[-1] == ' ')
            w->up += v;
        else if (sscanf(p, "bytes_received:%lf", &v) == 1 && p[-1] == ' ')
            w->down += v;
        else if ((sscanf(p, "segs_out:%lf", &v) == 1
                  || sscanf(p, "segs_in:%lf", &v) == 1)
                 && p[-1] == ' ')
            w->segs += v;
    }
    free(o);
}

static json_t *
s_call(const char *home, const char *cmd, json_t *args)
{
    json_t *res = NULL;
    char err[640];
    int rc = cli_control_call(home, cmd, args, "bench", 30000, &res, err,
                              sizeof err);
    if (rc != CLI_CONTROL_OK)
        fprintf(stderr, "bench_wire: %s: %s\n", cmd, err);
    json_decref(args);
    PL_CHECK(rc == CLI_CONTROL_OK);
    return res;
}

// envelopes and receipts node 'home' has committed to its outbox, and
// whether none waits for the broker or a receipt
static bool
s_outbox(const char *home, double *env, double *rcpt)
{
    json_t *st = s_call(home, "stats", json_object());
    const char *k;
    json_t *v;
    long e = 0, r = 0;
    json_object_foreach(json_object_get(st, "outbox"), k, v) e +=
        (long) json_integer_value(v);
    json_object_foreach(json_object_get(st, "receipts_out"), k, v) r +=
        (long) json_integer_value(v);
    json_t *o = json_object_get(st, "outbox");
    bool settled = json_integer_value(json_object_get(o, "pending")) == 0
                   && json_integer_value(json_object_get(o, "accepted")) == 0;
    json_decref(st);
    *env += (double) e;
    *rcpt += (double) r;
    return settled;
}

// waits until both nodes are settled; reads the wire and outbox counters
static void
s_mark(const pl_test_net_t *net, s_wire_t *w)
{
    for (int k = 0; k < 3000; k++) {
        double e = 0, r = 0;
        if (s_outbox(net->home[AG], &e, &r) && s_outbox(net->home[CL], &e, &r))
            break;
        usleep(2000);
    }
    s_ss(net->port, w);
    w->env = w->rcpt = 0;
    s_outbox(net->home[AG], &w->env, &w->rcpt);
    s_outbox(net->home[CL], &w->env, &w->rcpt);
}

static long s_polls; // referral.show requests made while waiting

static void
s_wait_status(const pl_test_net_t *net, const char *id, const char *want)
{
    long us = 500;
    double t0 = pl_bench_now();
    while (pl_bench_now() - t0 < 600) {
        json_t *d = s_call(net->home[AG], "referral.show",
                           json_pack("{s:s}", "id", id));
        const char *s = json_string_value(json_object_get(d, "status"));
        bool ok = s && strcmp(s, want) == 0;
        json_decref(d);
        s_polls++;
        if (ok)
            return;
        usleep((useconds_t) us);
        us = us * 3 / 2 < 20000 ? us * 3 / 2 : 20000;
    }
    fprintf(stderr, "bench_wire: %s never became %s\n", id, want);
    PL_CHECK(false);
}

// refer; returns the referral id in 'id' (33 bytes)
static void
s_refer(const pl_test_net_t *net, const char *case_id, char *id)
{
    json_t *r = s_call(net->home[AG], "refer",
                       json_pack("{s:s, s:s, s:s}", "case", case_id, "to",
                                 net->address[CL], "service", "primary-care"));
    snprintf(id, 33, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
}

static void
s_act(const pl_test_net_t *net, const char *id, const char *event)
{
    json_t *a = json_pack("{s:s, s:s}", "id", id, "event", event);
    if (strcmp(event, "complete") == 0)
        json_object_set_new(a, "outcome", json_string("successful"));
    json_decref(s_call(net->home[CL], "referral.act", a));
}

static void
s_add_delta(s_wire_t *sum, const s_wire_t *a, const s_wire_t *b)
{
    sum->up += b->up - a->up;
    sum->down += b->down - a->down;
    sum->segs += b->segs - a->segs;
    sum->env += b->env - a->env;
    sum->rcpt += b->rcpt - a->rcpt;
}

// one closed loop, step by step; adds each step's traffic to step[]
static void
s_loop(const pl_test_net_t *net, const char *case_id, s_wire_t step[S_STEPS])
{
    static const char *const ev[S_STEPS] = {NULL, "accept", "start",
                                            "complete"};
    static const char *const want[S_STEPS] = {"received", "accepted",
                                              "in-progress", "completed"};
    char id[33];
    s_wire_t a, b;
    s_mark(net, &a);
    for (int k = 0; k < S_STEPS; k++) {
        if (k == 0)
            s_refer(net, case_id, id);
        else
            s_act(net, id, ev[k]);
        s_wait_status(net, id, want[k]);
        s_mark(net, &b);
        s_add_delta(&step[k], &a, &b);
        a = b;
    }
}

// one closed loop, only the statuses waited for (no counters read)
static void
s_loop_bare(const pl_test_net_t *net, const char *case_id)
{
    char id[33];
    s_refer(net, case_id, id);
    s_wait_status(net, id, "received");
    s_act(net, id, "accept");
    s_wait_status(net, id, "accepted");
    s_act(net, id, "start");
    s_wait_status(net, id, "in-progress");
    s_act(net, id, "complete");
    s_wait_status(net, id, "completed");
}

// the agency's CPU for one referral.show (the bench's polls), to take
// out of its figure
static double
s_poll_cost(const pl_test_net_t *net, const char *case_id)
{
    char id[33];
    s_refer(net, case_id, id);
    s_wait_status(net, id, "received");
    double c0 = pl_bench_proc_cpu(net->node_pid[AG]);
    for (int i = 0; i < 300; i++)
        json_decref(s_call(net->home[AG], "referral.show",
                           json_pack("{s:s}", "id", id)));
    return (pl_bench_proc_cpu(net->node_pid[AG]) - c0) / 300;
}

// CPU seconds of this thread
static double
s_cpu(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

// the LMDB floor: CPU of one write transaction putting a 4 KiB record
// (an envelope in its bucket) and committing with the nodes' sync
static double
s_lmdb_floor(int iters)
{
    char *dir = pl_test_tmpdir("bench-wire-lmdb");
    MDB_env *env = NULL;
    MDB_dbi dbi;
    PL_CHECK(mdb_env_create(&env) == 0);
    PL_CHECK(mdb_env_set_mapsize(env, (size_t) 256 << 20) == 0);
    PL_CHECK(mdb_env_open(env, dir, 0, 0600) == 0);
    static char val[4096];
    double t0 = s_cpu();
    for (int i = 0; i < iters; i++) {
        MDB_txn *txn = NULL;
        PL_CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0);
        PL_CHECK(mdb_dbi_open(txn, NULL, 0, &dbi) == 0);
        MDB_val k = {sizeof i, &i}, v = {sizeof val, val};
        PL_CHECK(mdb_put(txn, dbi, &k, &v, 0) == 0);
        PL_CHECK(mdb_txn_commit(txn) == 0);
    }
    double s = (s_cpu() - t0) / iters;
    mdb_env_close(env);
    pl_test_rmrf(dir);
    free(dir);
    return s;
}

// a field of /proc/PID/status in MiB: VmRSS, or its anonymous part
// (heap and stacks; the rest is the store's mapped pages)
static double
s_rss_field(pid_t pid, const char *field)
{
    return (double) pl_bench_proc_kib(pid, field) / 1024;
}

static void
s_print_wire(const char *label, const s_wire_t *w, long n)
{
    double up = w->up / n, down = w->down / n, segs = w->segs / n;
    printf("  %-24s %6.0f B up %6.0f B down  %5.1f segments  %7.0f B with "
           "headers  (%.1f envelopes + %.1f receipts)\n",
           label, up, down, segs, up + down + segs * S_HDR, w->env / n,
           w->rcpt / n);
}

// the envelope sizes the broker accepted (packet bytes, before CurveZMQ)
static void
s_sizes(const pl_test_net_t *net)
{
    char *o = NULL;
    PL_CHECK(pl_test_sh(&o,
                        "grep -o ' accepted id=.* bytes=[0-9]*' '%s/broker.log'"
                        " | sed 's/.*bytes=//' | sort -n | uniq -c | "
                        "tr -s ' \\n' ' '",
                        net->root)
             == 0);
    printf("envelope packets accepted by the broker (count, bytes): %s\n",
           o ? o : "");
    free(o);
}

// the case every referral is made from (consent for health)
static void
s_case(const pl_test_net_t *net, char *case_id, size_t cap)
{
    json_t *res =
        s_call(net->home[AG], "case.add",
               json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "given", "Aminata",
                         "family", "Diallo", "birth", "1988-04-12", "sex",
                         "female", "phone", "+221770001122", "language", "wo"));
    snprintf(case_id, cap, "%s", json_string_value(json_object_get(res, "id")));
    json_decref(res);
    char *o = NULL;
    int rc = pl_test_sh(&o,
                        "'%s' --home '%s' consent add --case %s --sectors "
                        "health --given-by returnee --expires 2099-12-31 2>&1",
                        pl_test_bin("passerelle"), net->home[AG], case_id);
    if (rc != 0)
        fprintf(stderr, "consent add: %s\n", o ? o : "");
    PL_CHECK(rc == 0);
    free(o);
}

// 'n' referrals (refer only), the last one received
static double
s_referrals(const pl_test_net_t *net, const char *case_id, long n)
{
    char id[33] = "";
    double t0 = pl_bench_now();
    for (long i = 0; i < n; i++)
        s_refer(net, case_id, id);
    if (n > 0)
        s_wait_status(net, id, "received");
    s_wire_t w;
    s_mark(net, &w);
    return pl_bench_now() - t0;
}

int
main(int argc, char **argv)
{
    long loops = argc > 1 ? strtol(argv[1], NULL, 10) : 30;
    long refs = argc > 2 ? strtol(argv[2], NULL, 10) : 10000;
    if (loops < 1 || refs < 0 || pl_crypto_init() != PL_OK)
        return 1;
    const char *const specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "benchwire", specs, 2);
    // debug: its `accepted ... bytes=N` lines give each envelope's size
    const char *const dbg[] = {"--log-level", "debug", NULL};
    pl_testnet_start_broker(&net, dbg, NULL);
    pl_testnode_start(&net, AG, NULL, NULL);
    pl_testnode_start(&net, CL, NULL, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, AG),
                                  "directory_updated certs=2", 1, 20000));
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, CL),
                                  "directory_updated certs=2", 1, 20000));
    char case_id[64];
    s_case(&net, case_id, sizeof case_id);
    sleep(2); // settled after the start
    double rss0[4] = {s_rss_field(net.node_pid[AG], "VmRSS:"),
                      s_rss_field(net.node_pid[CL], "VmRSS:"),
                      s_rss_field(net.node_pid[AG], "RssAnon:"),
                      s_rss_field(net.node_pid[CL], "RssAnon:")};
    s_wire_t warm[S_STEPS] = {{0}}, step[S_STEPS] = {{0}};
    s_loop(&net, case_id, warm);
    for (long i = 0; i < loops; i++)
        s_loop(&net, case_id, step);
    // CPU: loops with nothing read but the statuses; the agency's share of
    // answering those polls measured apart and taken out
    long cloops = 4 * loops;
    s_wire_t settle;
    s_mark(&net, &settle);
    s_polls = 0;
    double c0[2] = {pl_bench_proc_cpu(net.node_pid[AG]),
                    pl_bench_proc_cpu(net.node_pid[CL])};
    for (long i = 0; i < cloops; i++)
        s_loop_bare(&net, case_id);
    s_mark(&net, &settle);
    double c1[2] = {pl_bench_proc_cpu(net.node_pid[AG]),
                    pl_bench_proc_cpu(net.node_pid[CL])};
    long polls = s_polls;
    double poll = s_poll_cost(&net, case_id);
    double cpu[2] = {(c1[0] - c0[0] - (double) polls * poll) / (double) cloops,
                     (c1[1] - c0[1]) / (double) cloops};
    s_wire_t total = {0};
    for (int k = 0; k < S_STEPS; k++)
        s_add_delta(&total, &(s_wire_t){0}, &step[k]);
    printf("bench_wire: one closed loop agency -> broker -> clinic on "
           "127.0.0.1, %ld loops, both nodes' connections to the broker, "
           "IP+TCP headers %d B a segment\n",
           loops, S_HDR);
    for (int k = 0; k < S_STEPS; k++)
        s_print_wire(s_step_name[k], &step[k], loops);
    s_print_wire("closed loop", &total, loops);
    s_sizes(&net);
    double crypto = pl_bench_floor(S_PAYLOAD, 300, true);
    double lmdb = s_lmdb_floor(300);
    double per_env = total.env / (double) loops;
    // per envelope: its crypto and one commit at the sender, one at the
    // recipient; split half and half between the two nodes
    double floor_side = per_env * (crypto / 2 + lmdb);
    printf("protocol floor (same run): crypto %.1f us per envelope and its "
           "receipt, LMDB commit %.1f us; %.1f envelopes per loop: %.2f ms "
           "per node per loop\n",
           crypto * 1e6, lmdb * 1e6, per_env, floor_side * 1e3);
    printf("CPU per closed loop (%ld loops): agency (sender) %.2f ms = %.1f x "
           "floor, clinic (recipient) %.2f ms = %.1f x floor (the agency's "
           "%.1f status polls per loop, %.0f us each, taken out)\n",
           cloops, cpu[0] * 1e3, cpu[0] / floor_side, cpu[1] * 1e3,
           cpu[1] / floor_side, (double) polls / (double) cloops, poll * 1e6);
    double took = s_referrals(&net, case_id, refs);
    sleep(2);
    for (int i = 0; i < 2; i++)
        printf("node RSS, %s: %.1f MiB idle (%.1f anonymous), %.1f MiB after "
               "%ld more referrals in %.0f s (%.1f anonymous; the rest is "
               "the store's mapped pages)\n",
               i == AG ? "agency" : "clinic", rss0[i], rss0[2 + i],
               s_rss_field(net.node_pid[i], "VmRSS:"), refs, took,
               s_rss_field(net.node_pid[i], "RssAnon:"));
    pl_test_net_destroy(&net);
    return 0;
}
