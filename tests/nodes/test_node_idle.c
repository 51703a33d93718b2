// test_node_idle - the idle link (issue 20 item 1) with real processes on
// 127.0.0.1 and the test's short intervals (--heartbeat-ms 2000,
// --heartbeat-timeout-ms 2000: the stated bound for noticing a dead link
// is interval + timeout + 1 s = 5 s):
//   - an active link sends no ping: while envelopes and receipts flow, the
//     sender logs at most one ping_sent (the old heartbeat went every
//     interval: 3 or more in the 6 s);
//   - an idle link pings: at least 2 in 8 s of quiet, and stays up;
//   - a broker that stops answering (SIGSTOP: its TCP stack still ACKs,
//     so only the application's ping can tell) is noticed: session_down
//     within the bound (checked with a generous margin for a loaded
//     machine), and the session comes back after SIGCONT.
// Layer: tests.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

enum { AG = 0, CL = 1 };

#define S_IVL_MS   2000
#define S_WAIT_MS  2000
#define S_BOUND_MS (S_IVL_MS + S_WAIT_MS + 1000)

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

int
main(void)
{
    static const char *const fast[] = {"--heartbeat-ms",
                                       "2000",
                                       "--heartbeat-timeout-ms",
                                       "2000",
                                       "--log-level",
                                       "debug",
                                       NULL};
    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "idle", specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, AG, fast, NULL);
    pl_testnode_start(&net, CL, fast, NULL);
    const char *alog = pl_testnode_log(&net, AG);
    PL_CHECK(pl_testnode_wait_log(alog, "directory_updated", 1, 30000));
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, CL),
                                  "directory_updated", 1, 30000));

    // active: an envelope every ~200 ms for 6 s (each brings its accepted
    // and, from the clinic, a receipt)
    long pings0 = pl_testnode_count_in_file(alog, "ping_sent");
    double t0 = s_now();
    int sent = 0;
    while (s_now() - t0 < 6.0) {
        PL_CHECK(pl_testnode_tool(NULL, NULL, net.home[AG],
                                  "send --to '%s' --payload idle%d --json",
                                  net.address[CL], sent)
                 == 0);
        sent++;
        usleep(200 * 1000);
    }
    long active_pings = pl_testnode_count_in_file(alog, "ping_sent") - pings0;
    fprintf(stderr, "active: %d envelopes in 6 s, %ld pings\n", sent,
            active_pings);
    PL_CHECK(sent >= 5);
    PL_CHECK(active_pings <= 1);
    PL_CHECK(
        pl_testnode_wait_stat(net.home[AG], "outbox.receipted", sent, 30000)
        == sent);

    // idle: pings, and the session stays
    long downs0 = pl_testnode_count_in_file(alog, "session_down");
    pings0 = pl_testnode_count_in_file(alog, "ping_sent");
    sleep(8);
    long idle_pings = pl_testnode_count_in_file(alog, "ping_sent") - pings0;
    fprintf(stderr, "idle: %ld pings in 8 s\n", idle_pings);
    PL_CHECK(idle_pings >= 2);
    PL_CHECK(pl_testnode_count_in_file(alog, "session_down") == downs0);

    // a silent broker
    long ups = pl_testnode_count_in_file(alog, "session_up");
    PL_CHECK(kill(net.broker_pid, SIGSTOP) == 0);
    t0 = s_now();
    bool down = pl_testnode_wait_log(alog, "session_down", downs0 + 1,
                                     S_BOUND_MS + 10000);
    double took = s_now() - t0;
    fprintf(stderr, "silent broker noticed after %.1f s (bound %.1f s)\n", took,
            S_BOUND_MS / 1000.0);
    PL_CHECK(kill(net.broker_pid, SIGCONT) == 0);
    PL_CHECK(down);
    // generous: the bound plus 3 s of scheduling on a loaded machine
    PL_CHECK(took <= S_BOUND_MS / 1000.0 + 3.0);
    PL_CHECK(pl_testnode_wait_log(alog, "session_up", ups + 1, 30000));
    pl_test_net_destroy(&net);
    fprintf(stderr, "test_node_idle: ok\n");
    return 0;
}
