// bench_dir - what the directory costs a node on the wire (issue 20): a
// real broker with N certificates enrolled (default 1,000, then 10,000)
// and one real node on 127.0.0.1. The kernel's counters of the node's TCP
// connection (`ss -tin`: bytes_sent + bytes_received are TCP payload;
// IP+TCP headers added per segment, 52 bytes with timestamps, as
// bench_idle.sh) are read once its first session has settled (CURVE
// handshake, hello, welcome, the whole directory, in pages when it is
// larger than a packet), and again on the new connection after a broker
// restart, when the node, holding the directory, is told "unchanged".
// Before this change every new session carried the whole directory (and a
// directory larger than one packet was never sent). Also printed: the
// time from the broker's start to the node holding the directory, and
// what a broker restart sends to 5,000 connected nodes either way. Layer:
// tests (run by hand: `make bench`; prints figures, asserts none).
// Usage: bench_dir [enrolled ...]     default 1000 10000
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/pl_crypto.h"
#include "tests/lib/pl_bench.h"
#include "tests/lib/pl_test.h"
#include "tests/lib/pl_testnet.h"
#include "tests/lib/pl_testnode.h"

#define S_FLEET 5000 // nodes a national broker has connected (item 3)

static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};

// bytes on the node's connection to 'port' so far, IP+TCP headers counted;
// -1 when ss shows none
static long
s_wire_bytes(int port)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd,
             "ss -tinH state established '( dport = :%d )' 2>/dev/null", port);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, p);
    pclose(p);
    buf[n] = 0;
    const char *keys[] = {
        "bytes_sent:", "bytes_received:", "segs_out:", "segs_in:"};
    long v[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        const char *at = strstr(buf, keys[i]);
        if (!at)
            return -1;
        v[i] = strtol(at + strlen(keys[i]), NULL, 10);
    }
    long hdr = 40;
    FILE *ts = fopen("/proc/sys/net/ipv4/tcp_timestamps", "r");
    if (ts) {
        if (fgetc(ts) != '0')
            hdr = 52;
        fclose(ts);
    }
    return v[0] + v[1] + (v[2] + v[3]) * hdr;
}

static void
s_run(long enrolled)
{
    const char *const specs[] = {"agency:agency", "clinic:health"};
    pl_test_net_t net;
    pl_test_net_init(&net, "benchdir", specs, 2);
    if (enrolled > 2)
        pl_testnet_issue(&net, enrolled - 2, 0, NULL, NULL);
    double t0 = pl_bench_now();
    pl_testnet_start_broker(&net, NULL, NULL);
    pl_testnode_start(&net, 0, s_fast, NULL);
    const char *log = pl_testnode_log(&net, 0);
    if (!pl_testnode_wait_log(log, "directory_updated", 1, 60000)) {
        printf("directory of %ld: never arrived\n", enrolled);
        pl_test_net_destroy(&net);
        return;
    }
    double took = pl_bench_now() - t0;
    sleep(1); // settled: nothing more than a ping after the directory
    long first = s_wire_bytes(net.port);
    pl_test_net_stop_broker(&net, false);
    pl_testnet_start_broker(&net, NULL, NULL);
    long again = -1;
    if (pl_testnode_wait_log(log, "directory_unchanged", 1, 60000)) {
        sleep(1);
        again = s_wire_bytes(net.port);
    }
    long pages = pl_testnode_count_in_file(log, "directory_pages pages=");
    // a certificate leaves (as much to send as one that comes): what the
    // connected node is sent for it
    long changed = -1;
    double cpu0 = pl_bench_proc_cpu(net.node_pid[0]), cpu = -1;
    char path[700];
    snprintf(path, sizeof path, "%s/certs/n0.cert", net.broker);
    long taken = pl_testnode_count_in_file(log, "directory_updated");
    if (again >= 0 && remove(path) == 0 && kill(net.broker_pid, SIGHUP) == 0
        && pl_testnode_wait_log(log, "directory_updated", taken + 1, 60000)) {
        sleep(1);
        changed = s_wire_bytes(net.port) - again;
        cpu = pl_bench_proc_cpu(net.node_pid[0]) - cpu0;
    }
    // the node restarts (a laptop switched off for the night): its first
    // session again
    long restarted = -1;
    long unch = pl_testnode_count_in_file(log, "directory_unchanged");
    taken = pl_testnode_count_in_file(log, "directory_updated");
    pl_test_net_stop_node(&net, 0, false);
    pl_testnode_start(&net, 0, s_fast, NULL);
    for (int i = 0; i < 600 && restarted < 0; i++) {
        if (pl_testnode_count_in_file(log, "directory_unchanged") > unch
            || pl_testnode_count_in_file(log, "directory_updated") > taken) {
            sleep(1);
            restarted = s_wire_bytes(net.port);
        } else {
            usleep(100 * 1000);
        }
    }
    // a certificate leaves while the broker is down (an upgrade, a
    // reboot): what the node is sent on its new connection
    long down = -1;
    taken = pl_testnode_count_in_file(log, "directory_updated");
    pl_test_net_stop_broker(&net, false);
    snprintf(path, sizeof path, "%s/certs/n1.cert", net.broker);
    if (restarted >= 0 && remove(path) == 0) {
        pl_testnet_start_broker(&net, NULL, NULL);
        if (pl_testnode_wait_log(log, "directory_updated", taken + 1, 60000)) {
            sleep(1);
            down = s_wire_bytes(net.port);
        }
    }
    printf("directory of %5ld nodes, first session: %9ld B (%s), taken %.2f s "
           "after the broker's start\n",
           enrolled, first, pages ? "in pages" : "one packet", took);
    if (again < 0) {
        printf("directory of %5ld nodes, after a broker restart: no "
               "\"unchanged\" seen\n",
               enrolled);
    } else {
        printf("directory of %5ld nodes, after a broker restart "
               "(\"unchanged\"): %ld B, %.4f of the first; before: %s\n",
               enrolled, again,
               first > 0 ? (double) again / (double) first : 0.0,
               pages ? "no directory at all (larger than one packet: "
                       "never sent)"
                     : "the whole directory again");
        if (pages)
            printf("  a broker restart with %d such nodes connected sends "
                   "them %.1f MB (\"unchanged\"); a first session of each "
                   "would be %.1f MB\n",
                   S_FLEET, (double) again * S_FLEET / 1e6,
                   (double) first * S_FLEET / 1e6);
        else
            printf("  a broker restart with %d such nodes connected sends "
                   "them %.1f MB now, %.1f MB before\n",
                   S_FLEET, (double) again * S_FLEET / 1e6,
                   (double) first * S_FLEET / 1e6);
    }
    if (changed >= 0)
        printf("directory of %5ld nodes, one certificate changed: %ld B sent "
               "to each connected node, %.4f of the first session; %.1f MB "
               "to %d connected\n",
               enrolled, changed,
               first > 0 ? (double) changed / (double) first : 0.0,
               (double) changed * S_FLEET / 1e6, S_FLEET);
    if (changed >= 0)
        printf("directory of %5ld nodes, one certificate changed: the node "
               "spent %.0f ms of CPU taking it (and 1 s idle after)\n",
               enrolled, cpu * 1000);
    else
        printf("directory of %5ld nodes, one certificate changed: the node "
               "never took the new directory\n",
               enrolled);
    if (restarted >= 0)
        printf("directory of %5ld nodes, the node restarted: %ld B for its "
               "new session, %.4f of the first\n",
               enrolled, restarted,
               first > 0 ? (double) restarted / (double) first : 0.0);
    else
        printf("directory of %5ld nodes, the node restarted: no directory "
               "seen\n",
               enrolled);
    if (down >= 0)
        printf("directory of %5ld nodes, one certificate changed while the "
               "broker was down: %ld B for the node's new session, %.4f of "
               "the first; %.1f MB to %d connected\n",
               enrolled, down, first > 0 ? (double) down / (double) first : 0.0,
               (double) down * S_FLEET / 1e6, S_FLEET);
    else
        printf("directory of %5ld nodes, one certificate changed while the "
               "broker was down: the node never took it\n",
               enrolled);
    pl_test_net_destroy(&net);
}

int
main(int argc, char **argv)
{
    PL_CHECK(pl_crypto_init() == 0);
    printf("the directory on the wire, node side, IP+TCP headers counted:\n");
    if (argc < 2) {
        s_run(1000);
        s_run(10000);
    }
    for (int i = 1; i < argc; i++)
        s_run(strtol(argv[i], NULL, 10));
    return 0;
}
