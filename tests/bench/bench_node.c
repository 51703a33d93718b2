// bench_node - end-to-end throughput of node-to-node delivery with
// receipts on loopback (one broker, two node daemons, 1 KiB payloads), the
// CPU time the three processes spend per message, and the same run's cost
// of the protocol library's cryptography for one message and its receipt
// (seal, verify+open, receipt sign, receipt seal, verify+open, receipt
// verify), printed as a ratio. Layer: tests (run by hand: make bench).
//
//   bench_node [messages]      default 4000
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/pl_envelope.h"
#include "tests/lib/pl_bench.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnode.h"

#define S_PAYLOAD 1024
#define S_BATCH   500

// Polls A's receipted count every 20 ms until it reaches 'want'.
static bool
s_wait_receipted(const char *home, long want, double timeout_s)
{
    double t0 = pl_bench_now();
    while (pl_bench_now() - t0 < timeout_s) {
        if (pl_testnode_stat(home, "outbox.receipted") >= want)
            return true;
        struct timespec d = {0, 20 * 1000 * 1000};
        nanosleep(&d, NULL);
    }
    return false;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 4000;
    if (n < S_BATCH)
        n = S_BATCH;
    n -= n % S_BATCH;
    const char *specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "bench", specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, 0, NULL, NULL);
    pl_testnode_start(&net, 1, NULL, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, 0),
                                  "directory_updated certs=2", 1, 20000));
    char payload[S_PAYLOAD + 1];
    memset(payload, 'p', S_PAYLOAD);
    payload[S_PAYLOAD] = 0;
    // warm-up
    PL_CHECK(pl_testnode_tool(NULL, NULL, net.home[0],
                              "send --to '%s' --payload '%s' --count 50",
                              net.address[1], payload)
             == 0);
    PL_CHECK(s_wait_receipted(net.home[0], 50, 60));

    pid_t pids[3] = {net.broker_pid, net.node_pid[0], net.node_pid[1]};
    double cpu0[3];
    for (int i = 0; i < 3; i++)
        cpu0[i] = pl_bench_proc_cpu(pids[i]);
    double t0 = pl_bench_now();
    for (long sent = 0; sent < n; sent += S_BATCH)
        PL_CHECK(pl_testnode_tool(NULL, NULL, net.home[0],
                                  "send --to '%s' --payload '%s' --count %d",
                                  net.address[1], payload, S_BATCH)
                 == 0);
    double t_sent = pl_bench_now() - t0;
    PL_CHECK(s_wait_receipted(net.home[0], 50 + n, 600));
    double wall = pl_bench_now() - t0;
    double cpu[3], total = 0;
    for (int i = 0; i < 3; i++) {
        cpu[i] = pl_bench_proc_cpu(pids[i]) - cpu0[i];
        total += cpu[i];
    }
    double proto = pl_bench_floor(S_PAYLOAD, 500, false);
    double per_msg = total / (double) n;
    printf("bench_node: %ld messages of %d bytes, A -> broker -> B, with "
           "receipts B -> broker -> A\n",
           n, S_PAYLOAD);
    printf("  committed to A's outbox in  %.2f s\n", t_sent);
    printf("  all receipted at A after    %.2f s: %.0f messages/s "
           "delivered and receipted\n",
           wall, (double) n / wall);
    printf("  CPU per message: %.1f us (broker %.1f, sender %.1f, "
           "recipient %.1f)\n",
           per_msg * 1e6, cpu[0] / (double) n * 1e6, cpu[1] / (double) n * 1e6,
           cpu[2] / (double) n * 1e6);
    printf("  protocol floor (same run): seal+verify+open+receipt "
           "sign+seal+verify+open+check = %.1f us per message\n",
           proto * 1e6);
    printf("  ratio CPU per message / protocol floor = %.2f\n",
           per_msg / proto);
    printf("  ratio wall per message / protocol floor = %.2f\n",
           wall / (double) n / proto);
    pl_test_net_destroy(&net);
    return 0;
}
