// test_diskfull_node - a receiving node whose store sits on a full disk: a
// 6 MiB tmpfs mounted on B/store, while A streams messages to B. Required
// (the conventions of issue 11): B never says `taken` for what it could
// not commit (nothing is lost), a full disk is not fatal (B stays up: it is
// ENOSPC, not EIO) and says so a bounded number of times, and once the disk has
// room again (the tmpfs is remounted at 64 MiB) B receives the rest by itself:
// every message A sent ends up in B's store exactly once and receipted at A.
// Needs root (mount); otherwise it says so and is skipped (exit 77).
// Layer: tests (faults).
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/faults/pl_faults.h"
#include "tests/lib/pl_testnode.h"

static const char *const s_specs[] = {"agency:agency", "clinic:health"};
static const char *const s_fast[] = {"--heartbeat-ms", "1000", NULL};
static char s_mnt[700];

static void
s_umount(void)
{
    if (s_mnt[0]) {
        if (pl_test_sh(NULL, "umount -l '%s' 2>/dev/null", s_mnt) != 0)
            fprintf(stderr, "diskfull_node: could not unmount %s\n", s_mnt);
        s_mnt[0] = 0;
    }
}

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (geteuid() != 0) {
        printf("test_diskfull_node: skipped (needs root to mount a tmpfs)\n");
        return 77;
    }
    pl_test_net_t net;
    pl_test_net_init(&net, "dfnode", s_specs, 2);
    pl_test_net_start_broker(&net, NULL);
    pl_testnode_start(&net, 0, s_fast, NULL);
    // B's store on a small tmpfs (its current content copied in first)
    pl_testnode_start(&net, 1, s_fast, NULL);
    pl_test_net_stop_node(&net, 1, false);
    snprintf(s_mnt, sizeof s_mnt, "%s/store", net.home[1]);
    if (pl_test_sh(NULL,
                   "mv '%s' '%s.orig' && mkdir -m 0700 '%s' && mount -t tmpfs "
                   "-o size=6m,mode=0700 tmpfs '%s' 2>&1 && cp -a '%s.orig/.' "
                   "'%s/'",
                   s_mnt, s_mnt, s_mnt, s_mnt, s_mnt, s_mnt)
        != 0) {
        s_umount();
        printf("test_diskfull_node: skipped (mount of a tmpfs refused)\n");
        pl_test_net_destroy(&net);
        return 77;
    }
    atexit(s_umount);
    pl_testnode_start(&net, 1, s_fast, NULL);
    PL_CHECK(pl_testnode_wait_log(pl_testnode_log(&net, 0),
                                  "directory_updated certs=2", 1, 20000));
    char payload[3001];
    memset(payload, 'd', 3000);
    payload[3000] = 0;
    json_t *ids = json_array();
    char err[700];
    snprintf(err, sizeof err, "%s/tool.log", net.root);
    for (int b = 0; b < 15; b++) {
        json_t *out = NULL;
        PL_CHECK(pl_testnode_tool(&out, err, net.home[0],
                                  "send --to '%s' --payload %s --count 100 "
                                  "--json",
                                  net.address[1], payload)
                 == 0);
        json_array_extend(ids, json_object_get(out, "ids"));
        json_decref(out);
    }
    long total = (long) json_array_size(ids);
    // the disk fills; B keeps running and stops taking
    long last = -1, stable = 0;
    for (int t = 0; t < 60 && stable < 5; t++) {
        pl_faults_sleep_ms(1000);
        long n = pl_testnode_stat(net.home[1], "inbox");
        stable = n == last ? stable + 1 : 0;
        last = n;
    }
    bool alive = pl_test_alive(net.node_pid[1]);
    int failures = 0;
    fprintf(stderr,
            "diskfull_node: %ld sent, B holds %ld with a full disk, "
            "alive=%d\n",
            total, last, alive);
    PL_CHECK(last < total); // the disk really was too small
    long lines = pl_faults_lines(pl_testnode_log(&net, 1));
    fprintf(stderr, "diskfull_node: B's log has %ld lines\n", lines);
    if (lines > 1000)
        failures++; // a full disk logged in a loop
    if (!alive) {
        failures++;
        net.node_pid[1] = 0;
    }
    // room again
    PL_CHECK(pl_test_sh(NULL, "mount -o remount,size=64m '%s'", s_mnt) == 0);
    if (!alive)
        pl_testnode_start(&net, 1, s_fast, NULL);
    long lost = 0, dups = 0;
    pl_faults_node_settle(&net, ids, 30000, &lost, &dups);
    long rcv =
        pl_testnode_wait_stat(net.home[0], "outbox.receipted", total, 30000);
    fprintf(stderr,
            "diskfull_node: after the remount lost=%ld duplicated=%ld "
            "receipted=%ld of %ld\n",
            lost, dups, rcv, total);
    pl_faults_result("node-disk-full", 1, total, lost, dups, -1,
                     failures + (lost || dups || rcv != total));
    json_decref(ids);
    pl_test_net_stop_node(&net, 1, false);
    s_umount();
    pl_test_net_destroy(&net);
    PL_CHECK(failures == 0 && lost == 0 && dups == 0 && rcv == total);
    printf("test_diskfull_node: ok\n");
    return 0;
}
