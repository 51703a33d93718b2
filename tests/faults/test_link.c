// test_link - link faults between the nodes and the broker without tc
// netem: both nodes reach the broker through pl-tcpproxy, which slows,
// stalls (cable pulled: silent, new SYNs dropped), refuses (reset) and
// takes the link down (reset, then SYNs dropped) while messages are sent.
// Every message whose send returned must arrive exactly once, and after a
// long outage the nodes must be back within a few seconds of the link
// returning (measured and printed; bound 10 s — issue 11 measured 31 s
// after a 45 s cut, because a connect started during the cut waits out
// the kernel's SYN backoff without ZMQ_CONNECT_TIMEOUT).
// Short form: a 22 s outage; long form (PL_FAULTS_LONG=1): 45 s, plus a
// 45 s stall. Layer: tests (faults).
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/faults/pl_faults.h"
#include "tests/lib/pl_testnode.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health"};
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

static char s_ctl[700];

static void
s_mode(const char *mode)
{
    char tmp[720];
    snprintf(tmp, sizeof tmp, "%s.tmp", s_ctl);
    FILE *f = fopen(tmp, "w");
    PL_CHECK(f != NULL);
    fprintf(f, "%s\n", mode);
    fclose(f);
    PL_CHECK(rename(tmp, s_ctl) == 0);
    pl_faults_sleep_ms(150); // the proxy reads it every 50 ms
}

// Sends batches for 'ms' milliseconds (one every 300 ms).
static void
s_send_for(pl_test_net_t *net, json_t *ids, long ms)
{
    uint64_t until = pl_mono_ms() + (uint64_t) ms;
    while (pl_mono_ms() < until) {
        PL_CHECK(pl_faults_node_send(net, ids, 5));
        pl_faults_sleep_ms(300);
    }
}

// After the link returns: ms until both nodes have a session and node 0
// has nothing left unaccepted; -1 if not within 60 s.
static long
s_reconnect_ms(pl_test_net_t *net)
{
    uint64_t t0 = pl_mono_ms();
    while (pl_mono_ms() - t0 < 60000) {
        json_t *a = pl_testnode_stats(net->home[0]);
        json_t *b = pl_testnode_stats(net->home[1]);
        bool ok = a && b && json_is_true(json_object_get(a, "online"))
                  && json_is_true(json_object_get(b, "online"))
                  && json_integer_value(json_object_get(
                         json_object_get(a, "outbox"), "pending"))
                         == 0;
        json_decref(a);
        json_decref(b);
        if (ok)
            return (long) (pl_mono_ms() - t0);
        pl_faults_sleep_ms(100);
    }
    return -1;
}

// One outage of 'ms' in 'mode' ("down" or "stall") with sends during it;
// returns the reconnect time.
static long
s_outage(pl_test_net_t *net, json_t *ids, const char *mode, long ms)
{
    s_mode(mode);
    s_send_for(net, ids, ms);
    PL_CHECK(pl_faults_node_send(net, ids, 5)); // sent during the outage
    s_mode("pass");
    long r = s_reconnect_ms(net);
    fprintf(stderr, "link: %s for %ld s -> back after %ld ms\n", mode,
            ms / 1000, r);
    return r;
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    bool lng = pl_faults_long();
    pl_test_net_t net;
    pl_test_net_init(&net, "link", s_specs, 2);
    pl_test_net_start_broker(&net, NULL);
    int pport = pl_test_free_port();
    snprintf(s_ctl, sizeof s_ctl, "%s/proxy.mode", net.root);
    char plog[700], bin[1024], lp[16], tp[16];
    snprintf(plog, sizeof plog, "%s/proxy.log", net.root);
    snprintf(bin, sizeof bin, "%s", pl_test_bin("pl-tcpproxy"));
    snprintf(lp, sizeof lp, "%d", pport);
    snprintf(tp, sizeof tp, "%d", net.port);
    const char *argv[] = {bin,   "--listen",  lp,    "--to",
                          tp,    "--control", s_ctl, "--max-seconds",
                          "900", NULL};
    pid_t proxy = pl_test_spawn(argv, plog, NULL);
    PL_CHECK(pl_testnode_wait_log(plog, "mode=pass", 1, 10000));
    // the nodes talk to the broker only through the proxy
    snprintf(net.endpoint, sizeof net.endpoint, "tcp://127.0.0.1:%d", pport);
    pl_testnode_start(&net, 0, s_fast, NULL);
    pl_testnode_start(&net, 1, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, 0),
                                  "directory_updated certs=2", 1, 20000));
    json_t *ids = json_array();
    s_send_for(&net, ids, 1500);
    s_mode("slow 4000");
    s_send_for(&net, ids, 3000);
    s_mode("pass");
    s_outage(&net, ids, "stall", 4000);
    s_mode("refuse");
    s_send_for(&net, ids, 3000);
    s_mode("pass");
    s_send_for(&net, ids, 1000);
    long down = s_outage(&net, ids, "down", lng ? 45000 : 22000);
    long stall = lng ? s_outage(&net, ids, "stall", 45000) : 0;
    s_send_for(&net, ids, 1000);
    long lost = 0, dups = 0;
    pl_faults_node_settle(&net, ids, 30000, &lost, &dups);
    long sent = (long) json_array_size(ids);
    long rcv =
        pl_testnode_wait_stat(net.home[0], "outbox.receipted", sent, 30000);
    fprintf(stderr,
            "link: sent=%ld lost=%ld duplicated=%ld receipted=%ld; "
            "reconnect after down %ld ms, after stall %ld ms\n",
            sent, lost, dups, rcv, down, stall);
    int failed = (lost || dups || rcv != sent) + (down < 0 || down >= 10000)
                 + (lng && (stall < 0 || stall >= 10000));
    pl_faults_result("link-cut-stall-slow", lng ? 5 : 4, sent, lost, dups, -1,
                     failed);
    pl_faults_note("fault=link-reconnect down_s=%d reconnect_ms=%ld",
                   lng ? 45 : 22, down);
    if (lng)
        pl_faults_note("fault=link-reconnect stall_s=45 reconnect_ms=%ld",
                       stall);
    json_decref(ids);
    pl_test_stop(proxy, SIGTERM, 5000);
    pl_test_net_destroy(&net);
    PL_CHECK(lost == 0 && dups == 0 && rcv == sent);
    PL_CHECK(down >= 0 && down < 10000);
    PL_CHECK(!lng || (stall >= 0 && stall < 10000));
    printf("test_link: ok\n");
    return 0;
}
